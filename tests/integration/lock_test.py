#!/usr/bin/env python3
"""Two commands changing one home: the second says who holds the home and
waits for it, or with --no-wait stops at once, naming the holder and changing
nothing. The holder is a real import kept inside its change by a scan command
that waits on a FIFO.

    lock_test.py AIRLOCK_MIRROR AIRLOCK_REPO MAKE_SAMPLE_UPSTREAM
"""
import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hosts import low_side, run  # noqa: E402
from upstream_server import UpstreamServer  # noqa: E402

MIRROR, REPO, MAKE_SAMPLE = sys.argv[1:4]
del sys.argv[1:4]
DEADLINE = 120  # seconds any one step may take before the test fails


def read_line(stream, what):
    """The next line of a child's pipe, or a failure after DEADLINE seconds."""
    ready, _, _ = select.select([stream], [], [], DEADLINE)
    if not ready:
        raise AssertionError(f"no line from {what} within {DEADLINE} s")
    return stream.readline()


class LockTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-lock-test-"))
        subprocess.run([MAKE_SAMPLE, cls.dir / "upstream"], check=True, capture_output=True)
        upstream = UpstreamServer(cls.dir / "upstream/day1", idle_timeout=600).start()
        low = cls.dir / "low"
        try:
            low_side(MIRROR, low, upstream.url, cls.dir / "upstream/keyring.gpg")
            run(MIRROR, "sync", home=low)
            run(MIRROR, "export", "--mkdir", "--stream", "sample", "--out", cls.dir / "media", "--key",
                "alice", home=low)
        finally:
            upstream.stop()
        cls.bundle = cls.dir / "media/airlock-sample-000001"
        cls.home = cls.dir / "high"
        run(REPO, "init", home=cls.home)
        run(REPO, "trust", "add", low / "keys/alice.pub", "--name", "alice", home=cls.home)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_a_second_change_names_the_holder_and_waits_or_stops(self):
        started, go, done = self.dir / "started", self.dir / "go", self.dir / "done"
        os.mkfifo(started)
        os.mkfifo(go)
        # The first object's scan tells the test it runs, then waits for "go".
        scan = f"[ -e '{done}' ] && exit 0; echo {{}} > '{started}'; cat '{go}' > /dev/null; touch '{done}'"
        holder = subprocess.Popen([REPO, "--home", self.home, "import", self.bundle, "--operator", "olga",
                                   "--scan-cmd", scan], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        waiting = None
        try:
            fd = os.open(started, os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(fd) as f:
                os.set_blocking(fd, True)
                self.assertTrue(read_line(f, "the scan").startswith("/"))
            # The import is inside its change now.
            trust_before = (self.home / "trust.json").read_bytes()
            log_before = (self.home / "log/transfer-000001.jsonl").read_bytes()
            p = run(REPO, "--no-wait", "trust", "threshold", "1", home=self.home, expect=1)
            self.assertRegex(
                p.stderr.strip(),
                rf"^airlock-repo: the home is busy: pid {holder.pid}, airlock-repo import by olga, "
                r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ is changing it \(run again when it is done, or "
                r"without --no-wait to wait for it\)$")
            self.assertEqual((self.home / "trust.json").read_bytes(), trust_before)
            self.assertEqual((self.home / "log/transfer-000001.jsonl").read_bytes(), log_before)
            # --no-wait after the command means the same.
            run(REPO, "trust", "threshold", "1", "--no-wait", home=self.home, expect=1)

            waiting = subprocess.Popen([REPO, "--home", self.home, "trust", "threshold", "1",
                                        "--operator", "piotr"], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            line = read_line(waiting.stderr, "the waiting command")
            self.assertRegex(line.strip(), rf"^airlock-repo: waiting for the home: pid {holder.pid}, "
                                           r"airlock-repo import by olga, since \S+ is changing it "
                                           r"\(--no-wait to stop instead\)$")
            self.assertIsNone(waiting.poll())
        finally:
            with open(go, "w"):
                pass
            out, err = holder.communicate(timeout=DEADLINE)
        self.assertEqual(holder.returncode, 0, err)
        out, err = waiting.communicate(timeout=DEADLINE)
        self.assertEqual(waiting.returncode, 0, err)
        records = [json.loads(x) for x in (self.home / "log/transfer-000001.jsonl").read_text().splitlines()]
        changes = [x["event"] for x in records if x["event"] in ("import", "trust")]
        self.assertEqual(changes[-2:], ["import", "trust"])  # the waiting change came second
        self.assertEqual(records[-1]["event"], "checkpoint")


if __name__ == "__main__":
    unittest.main()
