#!/usr/bin/env python3
"""airlock-repo serve under a Type=notify supervisor: with NOTIFY_SOCKET set to
a Unix datagram socket this test binds (as systemd does), serve sends READY=1
once every address it listens on takes connections, RELOADING=1 then READY=1
around a SIGHUP reload, and STOPPING=1 on SIGTERM, before it exits 0.

    notify_test.py AIRLOCK_REPO MAKE_SAMPLE_UPSTREAM
"""
import http.client
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hosts import run  # noqa: E402

REPO = sys.argv[1]
del sys.argv[1:3]


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-notify-test-"))
        self.home = self.dir / "high"
        run(REPO, "init", home=self.home)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.dir / "notify.sock"))
        self.sock.settimeout(60)  # a deadline for a message that should come, not a pause
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve(self, *args):
        env = dict(os.environ, NOTIFY_SOCKET=str(self.dir / "notify.sock"))
        self.proc = subprocess.Popen([REPO, "--home", str(self.home), "serve", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def message(self):
        """The next notification, as {field: value}."""
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.splitlines() if line)

    def serving_on(self, count):
        """The addresses of the first count 'serving on' lines (printed before READY=1)."""
        lines = [self.proc.stdout.readline() for _ in range(count)]
        return [re.search(r"(https?)://([0-9.]+):([0-9]+)/", line).groups() for line in lines]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        stopping = self.message()
        self.assertEqual((stopping.get("STOPPING"), stopping.get("STATUS")),
                         ("1", "draining the connections"), stopping)
        out, err = self.proc.communicate(timeout=60)
        self.assertEqual(self.proc.returncode, 0, err)
        self.assertIn("stopped", out)

    def test_ready_after_listening_reloading_then_ready_on_sighup_stopping_on_sigterm(self):
        self.serve("--listen", "127.0.0.1:0")
        ready = self.message()
        self.assertEqual(ready.get("READY"), "1", ready)
        [(_, host, port)] = self.serving_on(1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", "/-/health")  # taken at once: the port was listening before READY=1
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

        self.proc.send_signal(signal.SIGHUP)
        reloading = self.message()
        self.assertEqual(reloading.get("RELOADING"), "1", reloading)
        self.assertEqual(reloading.get("STATUS"), "reloading", reloading)
        self.assertRegex(reloading.get("MONOTONIC_USEC", ""), r"^[0-9]+$")
        self.assertEqual(self.message().get("READY"), "1")
        self.assertIn("reloaded", self.proc.stdout.readline())
        self.stop()

    def test_ready_once_when_both_http_and_https_listen(self):
        run(REPO, "ca", "init", home=self.home)
        run(REPO, "ca", "issue", "127.0.0.1", home=self.home)
        srv = self.home / "ca/hosts/127.0.0.1"
        self.serve("--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0",
                   "--tls-cert", srv / "127.0.0.1.crt", "--tls-key", srv / "127.0.0.1.key")
        self.assertEqual(self.message().get("READY"), "1")
        self.assertEqual(sorted(s for s, _, _ in self.serving_on(2)), ["http", "https"])
        self.stop()  # the next message is STOPPING=1: READY=1 came once

    def test_a_failed_start_sends_no_ready(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        try:
            self.serve("--listen", "127.0.0.1:%d" % busy.getsockname()[1])
            _, err = self.proc.communicate(timeout=60)
        finally:
            busy.close()
        self.assertEqual(self.proc.returncode, 1, err)
        self.assertEqual(self.message(), {"STOPPING": "1"})


if __name__ == "__main__":
    unittest.main()
