#!/usr/bin/env python3
"""airlock-repo end to end: bundles made by airlock-mirror from a signed sample
upstream are imported, published, promoted and rolled back, served over real
HTTP to a real apt-get with its own private state, and every refusal leaves
the store exactly as it was.

    repo_test.py AIRLOCK_MIRROR AIRLOCK_REPO AIRLOCK_VERIFY MAKE_SAMPLE_UPSTREAM
"""
import base64
import hashlib
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hosts import high_side, low_side, AptClient, Server, run  # noqa: E402
from upstream_server import UpstreamServer  # noqa: E402
from schema_check import check_schema  # noqa: E402

MIRROR, REPO, VERIFY, MAKE_SAMPLE = sys.argv[1:5]
del sys.argv[1:5]
W = None  # the shared world: sample upstream, low side, bundles


def store_state(home):
    out = {}
    for p in sorted((pathlib.Path(home) / "store").rglob("*")):
        if p.is_file() and p.name != "lock.mdb":
            out[str(p.relative_to(home))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


class World:
    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-repo-test-"))
        subprocess.run([MAKE_SAMPLE, self.dir / "upstream"], check=True, capture_output=True)
        self.upstream = UpstreamServer(self.dir / "upstream/day1", idle_timeout=600).start()
        self.low = self.dir / "low"
        low_side(MIRROR, self.low, self.upstream.url, self.dir / "upstream/keyring.gpg")
        run(MIRROR, "keygen", "mallory", home=self.low)
        self.media = self.dir / "media"
        run(MIRROR, "sync", home=self.low)
        run(MIRROR, "export", "--mkdir", "--stream", "sample", "--out", self.media, "--key", "alice", home=self.low)
        self.upstream.set_root(self.dir / "upstream/day2")
        run(MIRROR, "sync", home=self.low)
        run(MIRROR, "export", "--mkdir", "--stream", "sample", "--out", self.media, "--key", "alice", home=self.low)
        self.b1 = self.media / "airlock-sample-000001"
        self.b2 = self.media / "airlock-sample-000002"
        self.upstream.stop()

    def resign(self, bundle, manifest_text, key="alice"):
        """Writes manifest_text into bundle and signs it with key (openssl pkeyutl)."""
        (bundle / "manifest.json").write_text(manifest_text)
        keyfile = self.low / "keys" / f"{key}.key"
        sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", keyfile, "-in",
                              bundle / "manifest.json"], capture_output=True, check=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-in", self.low / "keys" / f"{key}.pub", "-outform",
                              "DER"], capture_output=True, check=True).stdout
        keyid = hashlib.sha256(der[-32:]).hexdigest()
        (bundle / "manifest.sig.json").write_text(json.dumps(
            {"signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}]}))


def received(sink):
    """Every datagram waiting on the socket, decoded."""
    sink.setblocking(False)
    messages = []
    while True:
        try:
            messages.append(sink.recv(1 << 20).decode())
        except BlockingIOError:
            return messages


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.dir, ignore_errors=True)


class RepoTest(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="airlock-high-"))
        self.home = self.tmp / "high"
        high_side(REPO, self.home, W.low)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self):
        s = Server(REPO, self.home)
        self.servers.append(s)
        return s

    def repo(self, *args, expect=0):
        return run(REPO, *args, home=self.home, expect=expect)

    def log(self, event=None):
        lines = self.repo("log", "show", "--json").stdout.splitlines()
        recs = [json.loads(x) for x in lines]
        return [r for r in recs if event is None or r["event"] == event]

    def test_serve_forwards_every_record_to_syslog_as_rfc5424(self):
        sock_path = self.tmp / "syslog.sock"
        sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sink.close)
        sink.bind(str(sock_path))
        self.repo("import", W.b1, "--publish", "test", "--create")
        server = Server(REPO, self.home, args=["--syslog-socket", sock_path])
        self.servers.append(server)
        with urllib.request.urlopen(server.url + "/test/sample/dists/bookworm/InRelease", timeout=30) as r:
            r.read()
        # An import by another command while serving reaches syslog when the server next writes.
        self.repo("import", W.b2, "--publish", "test")
        with urllib.request.urlopen(server.url + "/test/sample/dists/bookworm/InRelease", timeout=30) as r:
            r.read()
        code, _, _ = server.stop()
        self.assertEqual(code, 0)
        messages = received(sink)
        log_lines = (self.home / "log/transfer-000001.jsonl").read_text().splitlines()
        forwarded = []
        for m in messages:
            parts = re.fullmatch(r"<134>1 (\S+Z) (\S+) airlock-repo (\d+) (\S+) - (.*)", m, re.S)
            self.assertIsNotNone(parts, m)
            record = json.loads(parts.group(5))
            self.assertEqual(parts.group(4), record["event"])
            self.assertIn(parts.group(5), log_lines)  # the exact bytes of a log record
            forwarded.append(record)
        events = [r["event"] for r in forwarded]
        self.assertEqual(events.count("pull"), 2)
        self.assertIn("checkpoint", events)
        imported = [r for r in forwarded if r["event"] == "import"]
        self.assertEqual([r["bundle"] for r in imported], ["airlock-sample-000002"])
        # In the order of the log, with nothing skipped from the first forwarded on.
        ns = [r["n"] for r in forwarded]
        self.assertEqual(ns, list(range(ns[0], ns[0] + len(ns))))

    def test_repo_toml_turns_syslog_forwarding_on(self):
        sock_path = self.tmp / "settings-syslog.sock"
        sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sink.close)
        sink.bind(str(sock_path))
        (self.home / "repo.toml").write_text(f'[log]\nsyslog = true\nsyslog_socket = "{sock_path}"\n')
        self.repo("import", W.b1, "--publish", "test", "--create")
        server = Server(REPO, self.home)
        self.servers.append(server)
        with urllib.request.urlopen(server.url + "/test/sample/dists/bookworm/InRelease", timeout=30) as r:
            r.read()
        code, _, _ = server.stop()
        self.assertEqual(code, 0)
        events = [json.loads(m.split(" - ", 1)[1])["event"] for m in received(sink)]
        self.assertIn("pull", events)
        # A wrong setting is named, and nothing is served or logged.
        before = (self.home / "log/transfer-000001.jsonl").read_bytes()
        (self.home / "repo.toml").write_text("[log]\nsyslog = 1\n")
        p = subprocess.run([REPO, "--home", self.home, "serve", "--listen", "127.0.0.1:0"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.strip(), f"airlock-repo: {self.home}/repo.toml: log.syslog must be true or false")
        self.assertEqual((self.home / "log/transfer-000001.jsonl").read_bytes(), before)

    def test_serve_refuses_a_syslog_socket_that_is_not_there(self):
        p = subprocess.run([REPO, "--home", self.home, "serve", "--listen", "127.0.0.1:0", "--syslog-socket",
                            self.tmp / "nowhere.sock"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr.strip(), r"^airlock-repo: connect to the syslog socket .*nowhere\.sock: No such file "
                                           r"or directory$")

    # --- the whole pipeline with a real apt client ------------------------------------

    def test_pipeline_with_a_real_apt_client(self):
        out = json.loads(self.repo("import", W.b1, "--publish", "test", "--create", "--operator", "olga",
                                   "--media-label", "USB-7", "--json").stdout)
        self.assertTrue(out["ok"])
        self.assertEqual(out["published"], "test")
        server = self.serve()
        test_host = AptClient(self.tmp / "host-test", server.url, "test", W.dir / "upstream/keyring.gpg")
        test_host.apt("apt-get", "update")
        self.assertEqual(test_host.candidate("hello-airlock"), "1.0-1")
        self.assertIn("hello-airlock_1.0-1_amd64.deb", test_host.download("hello-airlock"))

        self.repo("promote", "test", "prod", "--create", "--reason", "tested", "--change-ref", "CHG-1")
        prod = AptClient(self.tmp / "host-prod", server.url, "prod", W.dir / "upstream/keyring.gpg")
        prod.apt("apt-get", "update")
        self.assertEqual(prod.candidate("hello-airlock"), "1.0-1")

        # Patch day: the next bundle, into test, then prod; the host upgrades.
        self.repo("import", W.b2, "--publish", "test")
        self.repo("promote", "test", "prod")
        prod.apt("apt-get", "update")
        self.assertEqual(prod.candidate("hello-airlock"), "1.1-1")
        self.assertIn("hello-airlock_1.1-1_amd64.deb", prod.download("hello-airlock"))
        self.assertEqual(prod.candidate("airlock-extra"), "0.9-1")

        # Rollback: the host sees the old version again, without a server restart.
        self.repo("rollback", "prod", "--reason", "regression", "--change-ref", "INC-9")
        prod.apt("apt-get", "update")
        self.assertEqual(prod.candidate("hello-airlock"), "1.1-1")  # apt keeps the newer signed Release
        prod.forget_lists()
        prod.apt("apt-get", "update")
        self.assertEqual(prod.candidate("hello-airlock"), "1.0-1")
        self.assertEqual(prod.candidate("airlock-extra"), "(none)")

        code, _, _ = server.stop()
        self.assertEqual(code, 0)
        self.repo("log", "verify")
        v = run(VERIFY, "log", self.home / "log/transfer-000001.jsonl", "--key", self.home / "keys/log.pub")
        self.assertIn("OK", v.stdout)
        pulls = self.log("pull")
        debs = [p for p in pulls if p["path"].endswith("hello-airlock_1.1-1_amd64.deb")]
        self.assertEqual(len(debs), 1)
        self.assertEqual(debs[0]["client"], "127.0.0.1")
        self.assertEqual(debs[0]["status"], 200)
        self.assertEqual(debs[0]["bytes"], (W.dir / "upstream/day2/pool/main/h/hello-airlock/"
                                            "hello-airlock_1.1-1_amd64.deb").stat().st_size)
        self.assertRegex(debs[0]["object"], "^[0-9a-f]{64}$")
        imports = [r for r in self.log("import") if r["result"] == "imported"]
        self.assertEqual(imports[0]["operator"], "olga")
        self.assertEqual(imports[0]["media_label"], "USB-7")
        self.assertTrue(any(r["record"]["event"] == "sync" for r in self.log("custody")))
        rb = self.log("rollback")[0]
        self.assertEqual((rb["reason"], rb["change_ref"]), ("regression", "INC-9"))
        # The graceful stop wrote a final checkpoint after the last pull.
        last = self.log()[-1]
        self.assertEqual(last["event"], "checkpoint")

    def test_import_again_is_a_no_op(self):
        self.repo("import", W.b1)
        before = store_state(self.home)
        p = self.repo("import", W.b1)
        self.assertIn("already imported, nothing changed", p.stdout)
        self.assertEqual(store_state(self.home), before)

    # --- refusals: exit 3, one line, the store exactly as before, a logged refusal -----

    def assert_refused(self, bundle, fragment, *extra):
        before = store_state(self.home)
        channels = self.repo("channels").stdout
        p = self.repo("import", bundle, *extra, expect=3)
        self.assertIn(fragment, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(store_state(self.home), before)
        self.assertEqual(self.repo("channels").stdout, channels)
        refusal = self.log("import")[-1]
        self.assertIn(refusal["result"], ("refused", "incomplete"))
        self.assertIn(fragment.split(" (")[0][:40], refusal["reason"] if "reason" in refusal else "incomplete")
        return p

    def copy(self, bundle):
        dst = self.tmp / "copies" / bundle.name
        shutil.copytree(bundle, dst)
        return dst

    def test_tampered_volume(self):
        b = self.copy(W.b1)
        data = bytearray((b / "data.000").read_bytes())
        data[len(data) // 2] ^= 0x01
        (b / "data.000").write_bytes(data)
        self.assert_refused(b, "volume data.000 is corrupt: expected sha256")

    def test_replayed_bundle(self):
        self.repo("import", W.b1)
        self.repo("import", W.b2)
        self.assert_refused(W.b1, "is already at sequence 2 (replayed or rolled back)")

    def test_out_of_order_bundle(self):
        self.assert_refused(W.b2, "skips sequence 1 of stream 'sample'")

    def test_untrusted_signer(self):
        b = self.copy(W.b1)
        W.resign(b, (b / "manifest.json").read_text(), key="mallory")
        alice = json.loads(self.repo("trust", "list", "--json").stdout)["keys"][0]["keyid"]
        mallory = json.loads((b / "manifest.sig.json").read_text())["signatures"][0]["keyid"]
        self.assert_refused(b, f"bundle signatures: 0 valid signatures of 1 required: alice (key "
                               f"{alice[:16]}): no signature; key {mallory[:16]} signed but is not "
                               "trusted here")

    def test_trust_add_and_remove_name_the_key(self):
        out = self.repo("trust", "add", W.low / "keys/mallory.pub", "--name", "mallory").stdout
        keyid = json.loads(self.repo("trust", "list", "--json").stdout)["keys"][1]["keyid"]
        self.assertEqual(out, f"trust add: mallory, key {keyid}; done (threshold 1, 2 key(s))\n")
        out = json.loads(self.repo("trust", "remove", keyid, "--json").stdout)
        self.assertEqual(out["key"], {"name": "mallory", "keyid": keyid})

    def test_edited_manifest(self):
        b = self.copy(W.b1)
        text = (b / "manifest.json").read_text().replace('"producer": "airlock-mirror', '"producer": "airlock-mirrox')
        (b / "manifest.json").write_text(text)
        alice = json.loads(self.repo("trust", "list", "--json").stdout)["keys"][0]["keyid"]
        self.assert_refused(b, f"0 valid signatures of 1 required: alice (key {alice[:16]}): "
                               "signature does not verify")

    def test_expired_bundle(self):
        b = self.copy(W.b1)
        m = json.loads((b / "manifest.json").read_text())
        m["created"], m["expires"] = "2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z"
        W.resign(b, json.dumps(m, indent=2))
        self.assert_refused(b, "expired at 2020-02-01T00:00:00Z")

    def test_bundle_created_in_the_future_or_valid_too_long(self):
        b = self.copy(W.b1)
        m = json.loads((b / "manifest.json").read_text())
        now = time.time()

        def at(offset):
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + offset))

        m["created"], m["expires"] = at(3600), at(2 * 86400)
        W.resign(b, json.dumps(m, indent=2))
        self.assert_refused(b, f"was created at {m['created']}, in the future (now ")
        m["created"], m["expires"] = at(-3600), "2326-01-01T00:00:00Z"
        W.resign(b, json.dumps(m, indent=2))
        self.assert_refused(b, "longer than the trust policy's maximum of 90 days")
        # The maximum is the trust policy's, changed by a logged command.
        m["expires"] = at(60 * 86400)
        W.resign(b, json.dumps(m, indent=2))
        self.repo("trust", "max-validity", "30")
        self.assertEqual(self.log("trust")[-1]["max_validity_days"], 30)
        self.assertIn("validity   at most 30 days", self.repo("trust", "list").stdout)
        self.assert_refused(b, "longer than the trust policy's maximum of 30 days")
        self.refused("trust", "max-validity", "0", expect=2,
                     says="the maximum validity must be from 1 to 3650 days")
        self.repo("trust", "max-validity", "61")
        self.repo("import", b)

    def test_a_fifo_in_place_of_a_bundle_file_is_refused_without_hanging(self):
        # Opening a FIFO for reading blocks until a writer comes: the timeout is
        # what detects a hang, and the refusal must name the file.
        for name in ("manifest.json", "manifest.sig.json", "data.000"):
            b = self.tmp / "fifo" / name / W.b1.name
            shutil.copytree(W.b1, b)
            (b / name).unlink()
            os.mkfifo(b / name)
            said = f"{b / name} is a FIFO, not a regular file"
            p = run(VERIFY, "bundle", b, "--key", W.low / "keys/alice.pub", expect=3, timeout=20)
            self.assertIn(said, p.stderr)
            before = self.state()
            p = run(REPO, "import", b, home=self.home, expect=3, timeout=20)
            self.assertIn(said, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            store, channels, _, access = self.state()  # the refusal itself is logged
            self.assertEqual((store, channels, access), (before[0], before[1], before[3]))
            self.assertEqual(self.log("import")[-1]["result"], "refused")
            self.assertIn(said, self.log("import")[-1]["reason"])

    def test_what_exists_already_is_operational_not_a_refusal(self):
        # Exit 3 is only for verification; "already" and "nothing to undo" are 1.
        self.refused("trust", "add", W.low / "keys/alice.pub", "--name", "alice2", expect=1,
                     says="is already trusted as 'alice'")
        self.refused("trust", "add", W.low / "keys/mallory.pub", "--name", "alice", expect=1,
                     says="a key named 'alice' is already trusted")

    def test_threshold_two_needs_two_signers(self):
        self.repo("trust", "threshold", "2")
        self.assert_refused(W.b1, "bundle signatures: 1 valid signature of 2 required")

    def test_scan_command_can_refuse(self):
        self.assert_refused(W.b1, "the scan refused object", "--scan-cmd", "false {}")
        self.repo("import", W.b1, "--scan-cmd", "true {}")

    def test_volumes_from_two_discs_over_two_calls(self):
        b = self.copy(W.b1)
        m = json.loads((b / "manifest.json").read_text())
        if len(m["volumes"]) < 2:
            # Re-split into two discs is the mirror's job; here one disc is missing its only volume.
            disc = self.tmp / "disc2"
            disc.mkdir()
            shutil.move(str(b / "data.000"), disc / "data.000")
            p = self.repo("import", b, expect=3)
            self.assertIn("is incomplete: volume(s) data.000 missing", p.stderr)
            self.repo("import", b, disc)
            self.assertIn("sample", self.repo("snapshots").stdout)

    # --- HTTP behaviour, checked with a raw client ----------------------------------

    def http(self, server, path, method="GET", headers=None):
        req = urllib.request.Request(server.url + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def raw(self, server, request):
        host, port = server.addr.split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data

    def test_http_semantics_and_path_strictness(self):
        self.repo("import", W.b1, "--publish", "prod", "--create")
        server = self.serve()
        inrelease = "/prod/sample/dists/bookworm/InRelease"
        full = (W.dir / "upstream/day1/dists/bookworm/InRelease").read_bytes()
        status, headers, body = self.http(server, inrelease)
        self.assertEqual((status, body), (200, full))
        etag = headers["ETag"]
        self.assertEqual(etag, '"' + hashlib.sha256(full).hexdigest() + '"')
        self.assertEqual(int(headers["Content-Length"]), len(full))
        # Range, HEAD, conditional requests.
        status, headers, body = self.http(server, inrelease, headers={"Range": "bytes=10-19"})
        self.assertEqual((status, body), (206, full[10:20]))
        self.assertEqual(headers["Content-Range"], f"bytes 10-19/{len(full)}")
        status, headers, body = self.http(server, inrelease, headers={"Range": "bytes=-5"})
        self.assertEqual((status, body), (206, full[-5:]))
        status, headers, _ = self.http(server, inrelease, headers={"Range": f"bytes={len(full)}-"})
        self.assertEqual(status, 416)
        self.assertEqual(headers["Content-Range"], f"bytes */{len(full)}")
        status, headers, body = self.http(server, inrelease, method="HEAD")
        self.assertEqual((status, body, int(headers["Content-Length"])), (200, b"", len(full)))
        status, _, body = self.http(server, inrelease, headers={"If-None-Match": etag})
        self.assertEqual((status, body), (304, b""))
        status, _, _ = self.http(server, inrelease, headers={"If-Modified-Since": headers["Last-Modified"]})
        self.assertEqual(status, 304)
        status, headers, _ = self.http(server, inrelease, method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET, HEAD")
        # Not found, and never out of the snapshot.
        for path in ("/prod/sample/dists/bookworm/Nope", "/test/sample/dists/bookworm/InRelease",
                     "/prod/other/dists/bookworm/InRelease", "/prod/sample/", "/", "/prod"):
            self.assertEqual(self.http(server, path)[0], 404, path)
        for raw_path, want in ((b"/prod/sample/../../../etc/passwd", 404), (b"/prod/sample/%2e%2e/%2e%2e/x", 404),
                               (b"/prod/sample/dists%2fbookworm/InRelease", 400),
                               (b"/prod/sample/dists/bookworm/In%00Release", 400),
                               (b"/prod/sample/dists/bookworm/%zz", 400),
                               (b"/prod/sample/" + b"a" * 5000, 414)):
            resp = self.raw(server, b"GET " + raw_path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertTrue(resp.startswith(b"HTTP/1.1 %d" % want), (raw_path[:60], resp[:60]))
        # Keep-alive with pipelining: two requests in one write, two answers in order.
        resp = self.raw(server, (b"GET " + inrelease.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n") +
                        (b"HEAD " + inrelease.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        self.assertEqual(resp.count(b"HTTP/1.1 200 OK"), 2)
        # Oversized headers are refused.
        resp = self.raw(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 20000 + b"\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.1 431"), resp[:40])
        health = json.loads(self.http(server, "/-/health")[2])
        self.assertEqual(health["status"], "ok")
        self.assertGreater(health["log"]["size"], 0)

    def test_requests_refused_while_parsing_keep_their_request_line_and_every_pull_its_user_agent(self):
        server = self.serve()
        big = b"GET /prod/x?" + b"q" * 3000 + b"\xff\x1b HTTP/1.1\r\nUser-Agent: probe/1\r\nX-Big: " + b"y" * 20000
        requests = [
            (b"GET /prod/a HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8 \xfe\r\nContent-Length: 5\r\n\r\nhello", 413),
            (b"BREW /pot\x01 HTTP/1.1\r\nUser-Agent: agent\r\nBad Header\r\n\r\n", 400),
            (big + b"\r\n\r\n", 431),
        ]
        for request, want in requests:
            resp = self.raw(server, request)
            self.assertTrue(resp.startswith(b"HTTP/1.1 %d" % want), resp[:40])
        ua = "Debian APT-HTTP/1.3 (2.6.1) " + "z" * 400
        self.assertEqual(self.http(server, "/-/health", headers={"User-Agent": ua})[0], 200)
        self.assertEqual(self.raw(server, b"GET /-/health HTTP/1.1\r\nConnection: close\r\n\r\n")[:12],
                         b"HTTP/1.1 200")
        server.stop()
        pulls = self.log("pull")
        by_status = {r["status"]: r for r in pulls}
        r413 = by_status[413]
        self.assertEqual((r413["method"], r413["path"], r413["user_agent"]), ("GET", "/prod/a", "curl/8 \\xfe"))
        self.assertEqual(r413["request"], "GET /prod/a HTTP/1.1")
        r400 = by_status[400]
        self.assertEqual((r400["method"], r400["path"]), ("BREW", "/pot\x01"))
        self.assertEqual(r400["request"], "BREW /pot\x01 HTTP/1.1")
        r431 = by_status[431]
        self.assertEqual(r431["method"], "?")
        self.assertEqual(r431["path"], "")
        self.assertEqual(r431["request"], big[:1024].decode())
        # The two health probes, in whichever order their records were written.
        healthy = sorted((r for r in pulls if r["status"] == 200), key=lambda r: r["user_agent"] == "")
        self.assertEqual(len(healthy), 2)
        self.assertEqual(healthy[0]["user_agent"], ua[:256])
        self.assertNotIn("request", healthy[0])
        self.assertEqual(healthy[1]["user_agent"], "")
        # Control characters reach neither the terminal nor a CSV cell raw.
        self.assertNotIn("\x01", self.repo("log", "show", "--event", "pull").stdout)
        csv = self.repo("log", "export", "--format", "csv").stdout.splitlines()
        header = csv[0].split(",")
        self.assertEqual(header[header.index("incomplete") + 1:header.index("incomplete") + 4],
                         ["request", "user_agent", "dropped"])

    def test_client_disconnecting_mid_body_is_logged_with_bytes_sent(self):
        self.repo("import", W.b1, "--publish", "prod", "--create")
        server = self.serve()
        deb = "/prod/sample/pool/main/l/libairlock-demo/libairlock-demo_1.0-1_amd64.deb"
        host, port = server.addr.split(":")
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((host, int(port)))
        s.sendall(b"GET " + deb.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        got = s.recv(20000)
        self.assertTrue(got.startswith(b"HTTP/1.1 200"))
        s.close()
        # The server notices the closed connection and logs the cut-off pull.
        deadline = time.monotonic() + 60
        while not [r for r in self.log("pull") if r["path"] == deb and r.get("incomplete")]:
            self.assertLess(time.monotonic(), deadline, "the cut-off pull was never logged")
            time.sleep(0.05)
        server.stop()
        rec = [r for r in self.log("pull") if r["path"] == deb][-1]
        size = (W.dir / "upstream/day1" / deb[len("/prod/sample/"):]).stat().st_size
        self.assertTrue(rec.get("incomplete"), rec)
        self.assertLess(rec["bytes"], size)

    def test_server_answers_503_rather_than_serve_unlogged(self):
        self.repo("import", W.b1, "--publish", "prod", "--create")
        log = self.home / "log/transfer-000001.jsonl"
        # The log may grow by a few records only: as if the disk were full.
        server = Server(REPO, self.home, file_size_limit=log.stat().st_size + 2500)
        self.servers.append(server)
        path = "/prod/sample/dists/bookworm/InRelease"
        statuses = []
        for _ in range(200):
            statuses.append(self.http(server, path)[0])
            if statuses[-1] == 503:
                break
            time.sleep(0.05)
        self.assertEqual(statuses[0], 200)
        self.assertEqual(statuses[-1], 503, statuses)
        status, headers, body = self.http(server, path)
        self.assertEqual(status, 503)
        self.assertIn(b"not serving unlogged", body)
        server.stop()
        # Whatever was written is whole and still verifies.
        self.repo("log", "verify")

    def test_a_corrupt_object_is_a_500_logged_with_its_reason_and_found_by_scrub(self):
        self.repo("import", W.b1, "--publish", "prod", "--create")
        deb = "/prod/sample/pool/main/l/libairlock-demo/libairlock-demo_1.0-1_amd64.deb"
        good = (W.dir / "upstream/day1" / deb[len("/prod/sample/"):]).read_bytes()
        want = hashlib.sha256(good).hexdigest()
        obj = self.home / "store/objects" / want[:2] / want
        obj.chmod(0o644)
        bad = bytes([good[0] ^ 1]) + good[1:]
        obj.write_bytes(bad)
        actual = hashlib.sha256(bad).hexdigest()
        server = self.serve()
        release = "/prod/sample/dists/bookworm/InRelease"
        for path in (deb, deb):  # not remembered as good after failing
            status, headers, body = self.http(server, path)
            self.assertEqual(status, 500)
            self.assertNotIn("ETag", headers)
            self.assertEqual(body, b"object unavailable\n")
        self.assertEqual(self.http(server, release)[0], 200)
        server.stop()
        pulls = self.log("pull")
        failed = [r for r in pulls if r["path"] == deb]
        self.assertEqual(len(failed), 2)
        for r in failed:
            self.assertEqual(r["status"], 500)
            self.assertEqual(r["object"], want)
            self.assertEqual(r["reason"], f"expected sha256 {want}, actual {actual}")
        self.assertNotIn("reason", [r for r in pulls if r["path"] == release][0])
        scrub = self.repo("scrub", expect=3).stdout
        self.assertIn(f"corrupt  {obj}: expected sha256 {want} ({len(good)} bytes), actual {actual}", scrub)

    def connect_idle(self, server, n):
        """n connections to server that send nothing."""
        host, port = server.addr.split(":")
        return [socket.create_connection((host, int(port)), timeout=10) for _ in range(n)]

    def wait_for_status(self, server, path, status, seconds=30):
        deadline = time.monotonic() + seconds
        while True:
            got = self.http(server, path)
            if got[0] == status or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def test_idle_connections_beyond_the_cap_do_not_starve_a_server_short_of_descriptors(self):
        # 128 descriptors: the default cap is (128 - 64) / 2 = 32 connections. 200 idle clients
        # take them all and more descriptors than are left; a health probe is still answered.
        server = Server(REPO, self.home, open_files=128)
        self.servers.append(server)
        idle = self.connect_idle(server, 200)
        try:
            # A probe that lands on a connection the server had to give up may be reset;
            # the next one must be answered.
            deadline = time.monotonic() + 60
            while True:
                try:
                    status, headers, body = self.http(server, "/-/health")
                    break
                except ConnectionResetError:
                    self.assertLess(time.monotonic(), deadline, "every probe was reset")
            self.assertEqual(status, 503)
            self.assertEqual(body, b"too many connections\n")
            self.assertEqual(headers["Retry-After"], "1")
        finally:
            for s in idle:
                s.close()
        self.assertEqual(self.wait_for_status(server, "/-/health", 200)[0], 200)
        server.stop()
        refused = [r for r in self.log("pull") if r["status"] == 503]
        self.assertTrue(refused)
        self.assertTrue(all(r["path"] == "/-/health" for r in refused), refused)

    def test_repo_toml_caps_connections(self):
        (self.home / "repo.toml").write_text("[serve]\nmax_connections = 2\n")
        server = self.serve()
        idle = self.connect_idle(server, 2)
        self.assertEqual(self.wait_for_status(server, "/-/health", 503)[0], 503)
        idle.pop().close()
        self.assertEqual(self.wait_for_status(server, "/-/health", 200)[0], 200)
        for s in idle:
            s.close()

    def test_channel_change_by_another_process_takes_effect_without_restart(self):
        self.repo("import", W.b1, "--publish", "test", "--create")
        server = self.serve()
        path = "/prod/sample/dists/bookworm/InRelease"
        self.assertEqual(self.http(server, path)[0], 404)
        self.repo("promote", "test", "prod", "--create")
        self.assertEqual(self.http(server, path)[0], 200)

    # --- looking inside, and the channel rules ----------------------------------------

    def json_of(self, *args):
        return json.loads(self.repo(*args, "--json").stdout)

    def state(self):
        """What a refusal must leave as it was: the store, the channels, the log, the access policy."""
        log = {str(p): p.read_bytes() for p in sorted((self.home / "log").rglob("*")) if p.is_file()}
        access = self.home / "access.toml"
        return (store_state(self.home), self.repo("channels", "--json").stdout, log,
                access.read_bytes() if access.exists() else None)

    def refused(self, *args, expect, says):
        """Runs a command that must fail with exit code expect, saying says, and change nothing."""
        before = self.state()
        p = self.repo(*args, expect=expect)
        # One line (a usage error adds where to find help).
        self.assertIn(says, p.stderr.splitlines()[0], args)
        self.assertLessEqual(len(p.stderr.splitlines()), 1 if expect != 2 else 2, p.stderr)
        self.assertEqual(self.state(), before, args)
        return p

    # --- who may read what: access.toml ----------------------------------------------------

    def make_certificate(self, name):
        """A self-signed certificate (as a CA's would be) and its SHA-256 as openssl computes it."""
        pem = self.tmp / f"{name}.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "2",
                        "-subj", f"/CN={name}", "-keyout", self.tmp / f"{name}.key", "-out", pem],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER"], check=True,
                             capture_output=True).stdout
        return pem, hashlib.sha256(der).hexdigest()

    def test_access_rules_are_added_listed_removed_and_logged(self):
        self.assertEqual(self.repo("access", "list").stdout,
                         "no access rules: every client may read every channel\n")
        ca, ca_fp = self.make_certificate("site-ca")
        out = self.repo("access", "add", "--name", "web servers", "--channel", "prod", "--channel", "test",
                        "--repo", "sample", "--cn", "web-*", "--ou", "servers", "--ca", ca,
                        "--address", "10.0.0.0/8", "--address", "fd00::/8", "--reason", "hosts").stdout
        self.assertEqual(out, "access add: rule 'web servers'; done (1 rule(s))\n")
        host_fp = hashlib.sha256(b"host").hexdigest()
        openssl_form = ":".join(host_fp[i:i + 2] for i in range(0, 64, 2)).upper()
        self.repo("access", "add", "--name", "lab", "--channel", "*", "--fingerprint", openssl_form)
        web = {"name": "web servers", "channels": ["prod", "test"], "repos": ["sample"], "cn": "web-*",
               "ou": "servers", "ca": ca_fp, "addresses": ["10.0.0.0/8", "fd00::/8"]}
        lab = {"name": "lab", "channels": ["*"], "repos": ["*"], "fingerprint": host_fp}
        self.assertEqual(self.json_of("access", "list"), {"rules": [web, lab]})
        # The file holds what list shows, and nothing was left beside it.
        with open(self.home / "access.toml", "rb") as f:
            self.assertEqual(tomllib.load(f), {"rule": [web, lab]})
        self.assertEqual(sorted(p.name for p in self.home.iterdir() if p.name.startswith("access")),
                         ["access.toml"])
        self.assertIn("web servers  channels prod,test  repos sample  cn web-*  ou servers  ca " + ca_fp +
                      "  addresses 10.0.0.0/8,fd00::/8", self.repo("access", "list").stdout)
        out = self.repo("access", "remove", "lab", "--operator", "olga").stdout
        self.assertEqual(out, "access remove: rule 'lab'; done (1 rule(s))\n")
        self.assertEqual(self.json_of("access", "list"), {"rules": [web]})
        records = self.log("access")
        self.assertEqual([(r["action"], r["rule"]) for r in records],
                         [("add", web), ("add", lab), ("remove", lab)])
        self.assertEqual(records[0]["reason"], "hosts")
        self.assertEqual(records[2]["operator"], "olga")
        for r in records:
            check_schema(r, "log-record.schema.json")
        out = self.json_of("access", "remove", "web servers")
        self.assertEqual((out["action"], out["rules"]), ("remove", []))
        self.assertIn("every client may read every channel", self.repo("access", "list").stdout)

    def test_access_refusals_change_nothing(self):
        self.repo("access", "add", "--name", "web", "--channel", "prod", "--cn", "web-*")
        add = ("access", "add", "--name", "w2", "--channel", "prod")
        self.refused("access", "add", "--name", "web", "--channel", "test", "--cn", "x", expect=1,
                     says="an access rule named 'web' exists already")
        self.refused("access", "remove", "nope", expect=1, says="no access rule named 'nope' (rules: 'web')")
        self.refused(*add, expect=2, says="access rule 'w2': the rule states no condition (cn, ou, "
                                          "fingerprint, ca or addresses)")
        self.refused(*add, "--address", "10.0.0.0/33", expect=2,
                     says="access rule 'w2': --address: '10.0.0.0/33': expected an IPv4 or IPv6 address or "
                          "CIDR range")
        self.refused(*add, "--address", "10.0.0.1/8", expect=2,
                     says="--address: '10.0.0.1/8' has bits set after the prefix (did you mean 10.0.0.0/8?)")
        self.refused("access", "add", "--name", "w2", "--channel", "Prod!", "--cn", "a", expect=2,
                     says="access rule 'w2': --channel: channel name 'Prod!' must be 1-32 characters of a-z 0-9 - _, "
                          "starting with a letter")
        self.refused(*add, "--repo", "a/b", "--cn", "a", expect=2,
                     says="--repo: repository name 'a/b' must be 1-128 characters")
        self.refused(*add, "--cn", "web[", expect=2, says="access rule 'w2': --cn: 'web[': '[' at 4 is not closed")
        self.refused(*add, "--fingerprint", "abc", expect=2,
                     says="--fingerprint: 'abc' is not a SHA-256 fingerprint (64 hex digits)")
        self.refused(*add, "--ca", self.tmp / "missing.pem", expect=1, says="--ca: ")
        self.refused(*add, "--ca", W.low / "keys/alice.pub", expect=2,
                     says="not a PEM certificate (expected a -----BEGIN CERTIFICATE----- block)")
        self.refused("access", "add", "--channel", "prod", "--cn", "a", expect=2,
                     says="add needs --name NAME and --channel CH")
        self.refused("access", "add", "--name", "w2", "--cn", "a", expect=2,
                     says="add needs --name NAME and --channel CH")
        self.refused("access", "remove", expect=2, says="remove: missing NAME")
        self.refused("access", "grant", expect=2, says="add, remove or list?")
        # A policy file that does not read is named, and left as it is.
        (self.home / "access.toml").write_text('[[rule]]\nname = "x"\nchannels = ["prod"]\ncolour = 1\n')
        msg = f"{self.home / 'access.toml'}: rule 'x': key 'colour': unknown key"
        self.refused(*add, "--cn", "a", expect=2, says=msg)
        self.refused("access", "remove", "x", expect=2, says=msg)
        self.refused("access", "list", expect=2, says=msg)

    def test_snapshot_show_and_diff(self):
        self.repo("import", W.b1)
        self.repo("import", W.b2)
        s1, s2 = (s["id"] for s in self.json_of("snapshots"))
        show = self.json_of("snapshots", "show", s1[:8])
        self.assertEqual(show["id"], s1)
        self.assertEqual((show["repo"], show["kind"], show["filtered"]), ("sample", "apt", False))
        self.assertEqual(set(show), {"id", "repo", "kind", "upstream", "synced_at", "files", "bytes", "release",
                                     "filtered", "packages", "advisories"})
        self.assertEqual(show["advisories"], [])  # only rpm repositories publish advisories
        self.assertIsInstance(show["release"], dict)
        hello = [p for p in show["packages"] if p["name"] == "hello-airlock"]
        self.assertEqual([(p["version"], p["architecture"]) for p in hello], [("1.0-1", "amd64")])
        self.assertGreater(hello[0]["size"], 0)
        self.assertIn("source", hello[0])
        text = self.repo("snapshots", "show", s1).stdout
        self.assertIn("snapshot   " + s1 + "\n", text)
        self.assertRegex(text, r"\n  hello-airlock +1\.0-1 +amd64 ")
        diff = self.json_of("diff", s1[:8], s2[:10])
        self.assertEqual((diff["from"]["id"], diff["to"]["id"]), (s1, s2))
        [sample] = diff["changes"]
        self.assertEqual(sample["repo"], "sample")
        changes = {(c["change"], c["name"], c["old"], c["new"]) for c in sample["packages"]}
        self.assertIn(("upgraded", "hello-airlock", "1.0-1", "1.1-1"), changes)
        self.assertIn(("added", "airlock-extra", "", "0.9-1"), changes)
        self.assertEqual(sample["upgraded"], sum(c["change"] == "upgraded" for c in sample["packages"]))
        # The same lines as the bundle that carried the change, from the same renderer.
        text = self.repo("diff", s1[:8], s2[:8]).stdout
        carried = run(VERIFY, "bundle", W.b2, "--key", W.low / "keys/alice.pub", "--list").stdout
        self.assertRegex(text, r"\nsample: \d+ added \([^)]*\), \d+ upgraded")
        self.assertIn("  upgraded   hello-airlock (amd64) 1.0-1 -> 1.1-1  ", text)
        self.assertIn(text[text.index("\nsample:") + 1:], carried)
        # Ids: a unique prefix of 8 or more hex digits, everywhere one is taken.
        for args in (("snapshots", "show", s1[:7]), ("diff", s1[:7], s2), ("diff", s1, s2[:7]),
                     ("publish", "sample", s1[:7], "--channel", "test", "--create")):
            self.refused(*args, expect=2, says=f"'{s1[:7] if s1[:7] in args else s2[:7]}' is too short to name a "
                                                "snapshot: give 8 or more hex digits of its id")
        absent = "00000000" if not (s1 + s2).startswith("00000000") else "11111111"
        self.refused("snapshots", "show", absent, expect=1, says=f"no snapshot '{absent}'")
        self.refused("diff", absent, s2, expect=1, says=f"no snapshot '{absent}'")
        self.refused("publish", "sample", absent, "--channel", "test", "--create", expect=1,
                     says=f"no snapshot '{absent}'")
        self.refused("snapshots", "list", expect=2, says="'list': show ID?")
        self.refused("snapshots", "show", expect=2, says="show: missing ID")
        self.refused("diff", s1, expect=2, says="needs A and B")

    def test_a_new_channel_takes_create_and_a_missing_one_is_named(self):
        self.refused("import", W.b1, "--publish", "test", expect=1,
                     says="no channel 'test' (there are no channels yet; pass --create to make a new one)")
        self.assertEqual(self.json_of("snapshots"), [])  # refused before anything was imported
        self.refused("import", W.b1, "--create", expect=2, says="--create goes with --publish CH")
        self.refused("import", W.b1, "--publish", "Test", "--create", expect=2,
                     says="--publish: not a valid channel name")
        self.repo("import", W.b1, "--publish", "test", "--create", "--reason", "first bundle")
        self.repo("import", W.b2)
        s1, s2 = (s["id"] for s in self.json_of("snapshots"))
        self.refused("import", W.b2, "--publish", "tset", expect=1,
                     says="no channel 'tset'; did you mean 'test'? (channels: test; pass --create to make a new one)")
        self.refused("publish", "sample", s2[:8], "--channel", "tset", expect=1,
                     says="no channel 'tset'; did you mean 'test'? (channels: test; pass --create to make a new one)")
        self.refused("publish", "sample", s2[:8], "--channel", "Prod", "--create", expect=2,
                     says="channel name 'Prod' must be 1-32 characters of a-z 0-9 - _, starting with a letter")
        self.refused("promote", "test", "prod", expect=1,
                     says="no channel 'prod' (channels: test; pass --create to make a new one)")
        for create in ((), ("--create",)):  # the missing source is named, not "channel is empty"
            self.refused("promote", "tset", "prod", *create, expect=1,
                         says="no channel 'tset'; did you mean 'test'? (channels: test)")
        self.repo("publish", "sample", s2[:8], "--channel", "test", "--change-ref", "CHG-2")
        self.repo("promote", "test", "prod", "--create")
        self.repo("promote", "test", "prod")  # exists now: no --create needed
        missing = "no channel 'prdo'; did you mean 'prod'? (channels: prod, test)"
        for args in (("promote", "prdo", "test"), ("rollback", "prdo"), ("channel", "delete", "prdo"),
                     ("channels", "--history", "prdo")):
            self.refused(*args, expect=1, says=missing)
        self.refused("rollback", "prod", "other", expect=1, says="channel 'prod' has no repository 'other'")
        self.refused("channels", "--history", "Prod", expect=2, says="channel name 'Prod' must be")
        self.assertEqual(len(self.log("publish")), 2)  # import --publish and publish
        self.assertEqual(len(self.log("promote")), 2)

    def test_channel_history_and_delete(self):
        self.repo("import", W.b1, "--publish", "test", "--create", "--reason", "first bundle")
        self.repo("import", W.b2)
        s1, s2 = (s["id"] for s in self.json_of("snapshots"))
        self.repo("publish", "sample", s2[:8], "--channel", "test", "--operator", "olga", "--change-ref", "CHG-2")
        self.repo("promote", "test", "prod", "--create", "--reason", "tested")
        history = self.json_of("channels", "--history", "test")
        self.assertEqual([h["action"] for h in history], ["import", "publish"])
        self.assertEqual(set(history[0]), {"time", "channel", "repo", "action", "operator", "reason", "change_ref",
                                           "from", "bundle", "before", "after", "changes"})
        self.assertEqual((history[0]["bundle"], history[0]["before"], history[0]["after"]),
                         ("airlock-sample-000001", None, s1))
        self.assertEqual(history[0]["reason"], "first bundle")
        self.assertEqual((history[1]["operator"], history[1]["before"], history[1]["after"],
                          history[1]["change_ref"]), ("olga", s1, s2, "CHG-2"))
        [sample] = history[1]["changes"]
        self.assertIn("hello-airlock", [c["name"] for c in sample["packages"] if c["change"] == "upgraded"])
        self.assertEqual(history[1]["changes"], self.json_of("diff", s1, s2)["changes"])
        text = self.repo("channels", "--history").stdout
        self.assertIn("  test/sample  import --publish of airlock-sample-000001\n", text)
        self.assertIn("  prod/sample  promote from test\n", text)
        self.assertIn("\n    upgraded   hello-airlock (amd64) 1.0-1 -> 1.1-1  ", text)
        # Delete: logged, the server stops serving it, its history stays.
        server = self.serve()
        path = "/prod/sample/dists/bookworm/InRelease"
        self.assertEqual(self.http(server, path)[0], 200)
        deleted = self.json_of("channel", "delete", "prod", "--reason", "retired")
        self.assertEqual(deleted, [{"channel": "prod", "repo": "sample", "snapshot": s2}])
        self.assertEqual(self.http(server, path)[0], 404)
        server.stop()  # its pull records are logged: none may arrive while a refusal is checked
        self.assertEqual([c["channel"] for c in self.json_of("channels")], ["test"])
        gone = self.json_of("channels", "--history", "prod")
        self.assertEqual([(h["action"], h["before"], h["after"]) for h in gone],
                         [("promote", None, s2), ("delete", s2, None)])
        self.assertEqual({c["change"] for c in gone[1]["changes"][0]["packages"]}, {"removed"})
        self.assertEqual(len(self.json_of("channels", "--history")), 4)
        rec = self.log("delete")[0]
        self.assertEqual((rec["channel"], rec["snapshot"], rec["previous"], rec["reason"]),
                         ("prod", None, s2, "retired"))
        self.refused("channel", "delete", "prod", expect=1, says="no channel 'prod' (channels: test)")
        self.refused("rollback", "prod", expect=1, says="no channel 'prod' (channels: test)")
        self.refused("channels", "test", expect=2, says="CH goes with --history")
        self.refused("channel", "remove", "test", expect=2, says="delete CH?")
        self.refused("channel", "delete", expect=2, says="delete: missing CH")
        # Made again, it starts afresh: nothing to roll back to.
        self.refused("publish", "sample", s1, "--channel", "prod", expect=1, says="no channel 'prod'")
        self.repo("publish", "sample", s1, "--channel", "prod", "--create")
        self.refused("rollback", "prod", expect=1, says="has no earlier snapshot of 'sample'")
        self.repo("log", "verify")

    def test_help_and_status(self):
        self.assertIn("examples:", run(REPO, "--help").stdout)
        for cmd in ("init", "trust", "access", "import", "snapshots", "diff", "channels", "channel", "publish", "promote",
                    "rollback", "serve", "log", "scrub", "status"):
            self.assertIn("example", self.repo(cmd, "--help").stdout, cmd)
        self.repo("import", W.b1, "--publish", "test", "--create")
        st = json.loads(self.repo("status", "--json").stdout)
        self.assertEqual(st["streams"][0]["sequence"], 1)
        self.assertEqual(st["channels"][0]["channel"], "test")
        self.assertIn("OK", self.repo("scrub").stdout)
        csv = self.repo("log", "export", "--format", "csv").stdout.splitlines()
        self.assertTrue(csv[0].startswith("n,time,event"))
        proof = self.repo("log", "prove", "0").stdout
        (self.tmp / "p.json").write_text(proof)
        run(VERIFY, "proof", self.tmp / "p.json", "--key", self.home / "keys/log.pub")

    def test_a_home_on_read_only_media_can_be_read(self):
        """An auditor's copy of a home on read-only media: the commands that only read work on it.

        The copy is made read-only by a read-only bind mount of it onto itself inside a private mount
        namespace (unshare --map-root-user --mount), so the kernel refuses every write with EROFS even
        to root, the same as a read-only disc; the mount disappears with the command. The LMDB lock
        file is removed from the copy first: nothing may need to be created."""
        self.repo("import", W.b1, "--publish", "prod", "--create")
        audit = self.tmp / "audit"
        shutil.copytree(self.home, audit)
        (audit / "store/index/lock.mdb").unlink(missing_ok=True)
        probe = subprocess.run(["unshare", "--map-root-user", "--mount", "true"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("no private mount namespace here: " + probe.stderr.decode().strip())

        def read_only(*args, expect=0):
            script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
            cmd = ["unshare", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(audit), REPO,
                   "--home", str(audit)] + [str(a) for a in args]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, expect, f"{args}: {p.stdout}{p.stderr}")
            return p

        def files():
            return {str(p.relative_to(audit)): p.read_bytes() for p in sorted(audit.rglob("*")) if p.is_file()}

        before = files()
        # The mount is really read-only.
        self.assertIn("Read-only file system", read_only("publish", "sample", "1", "--channel", "x", "--create",
                                                         expect=1).stderr)
        for args in (("status", "--json"), ("channels", "--json"), ("channels", "--history", "--json"),
                     ("snapshots", "--json"), ("trust", "list", "--json"), ("log", "show", "--json"),
                     ("log", "export", "--format", "csv"), ("log", "checkpoint")):
            self.assertEqual(read_only(*args).stdout, self.repo(*args).stdout, args)
        self.assertIn("records", read_only("log", "verify").stdout)
        self.assertEqual(files(), before)

    def test_untrusted_bytes_are_logged_escaped_and_a_broken_record_stops_show(self):
        bad = os.fsdecode(b"olga\xff\x1b[31m")
        self.repo("import", W.b1, "--operator", bad, "--media-label", os.fsdecode(b"USB\xfe"), "--publish", "test",
                  "--create")
        rec = [r for r in self.log("import") if r.get("result") == "imported"][0]
        self.assertEqual(rec["operator"], "olga\\xff\x1b[31m")
        self.assertEqual(rec["media_label"], "USB\\xfe")
        shown = self.repo("log", "show", "--event", "import").stdout
        self.assertIn("operator=olga\\xff\\x1b[31m", shown)  # no raw escape reaches the terminal
        self.assertNotIn("\x1b", shown)
        # A last record that keeps the framing but is not JSON: show and export stop, naming it.
        n = int(self.repo("status", "--json").stdout and json.loads(self.repo("status", "--json").stdout)["log"]["records"])
        root = json.loads(self.repo("status", "--json").stdout)["log"]["root"]
        with open(self.home / "log/transfer-000001.jsonl", "a") as f:
            f.write('{"n":%d,not json,"prev_root":"%s"}\n' % (n, root))
        for args in (("log", "show"), ("log", "export", "--format", "csv")):
            p = self.repo(*args, expect=3)
            self.assertIn(f"record {n} is not a JSON object", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
