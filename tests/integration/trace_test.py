#!/usr/bin/env python3
"""The chain of custody of one file, end to end: airlock-mirror syncs the signed
sample upstream and exports a bundle, airlock-repo imports it (with an operator
and a media label) and publishes it, a real apt-get downloads hello-airlock, and
`airlock-repo trace` follows the downloaded .deb back to the bundle, the
operator, the media and the vendor key that signed the upstream's InRelease;
`airlock-verify trace` checks the written proof without the log and refuses it
after one byte of a record changes.

    trace_test.py AIRLOCK_MIRROR AIRLOCK_REPO AIRLOCK_VERIFY MAKE_SAMPLE_UPSTREAM
"""
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hosts import low_side, AptClient, Server, run  # noqa: E402
from schema_check import check_schema  # noqa: E402
from upstream_server import UpstreamServer  # noqa: E402

MIRROR, REPO, VERIFY, MAKE_SAMPLE = sys.argv[1:5]
del sys.argv[1:5]
W = None
DEB = "hello-airlock_1.0-1_amd64.deb"


def vendor_fingerprint(keyring, gnupghome):
    """The primary key fingerprint of the sample keyring, as gpg lists it."""
    out = subprocess.run(["gpg", "--homedir", str(gnupghome), "--batch", "--with-colons", "--show-keys",
                          str(keyring)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("pub:"):
            return next(x.split(":")[9] for x in lines[i + 1:] if x.startswith("fpr:"))
    raise AssertionError("no public key in " + str(keyring))


class World:
    """Sync and export on the low side; import, publish, serve and one real
    apt-get download on the high side."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-trace-test-"))
        subprocess.run([MAKE_SAMPLE, self.dir / "upstream"], check=True, capture_output=True)
        self.keyring = self.dir / "upstream/keyring.gpg"
        upstream = UpstreamServer(self.dir / "upstream/day1", idle_timeout=600).start()
        self.low = self.dir / "low"
        low_side(MIRROR, self.low, upstream.url, self.keyring)
        run(MIRROR, "sync", home=self.low)
        upstream.stop()
        self.media = self.dir / "media"
        run(MIRROR, "export", "--mkdir", "--stream", "sample", "--out", self.media, "--key", "alice", home=self.low)
        self.bundle = self.media / "airlock-sample-000001"
        self.home = self.dir / "high"
        run(REPO, "init", home=self.home)
        run(REPO, "trust", "add", self.low / "keys/alice.pub", "--name", "alice", home=self.home)
        run(REPO, "import", self.bundle, "--publish", "test", "--create", "--operator", "olga",
            "--media-label", "USB-7", home=self.home)
        server = Server(REPO, self.home)
        try:
            host = AptClient(self.dir / "host", server.url, "test", self.keyring)
            host.apt("apt-get", "update")
            self.assert_in(DEB, host.download("hello-airlock"))
        finally:
            code, _, err = server.stop()
            assert code == 0, err
        self.deb = self.dir / "host/var/cache/apt/archives" / DEB
        self.sha256 = hashlib.sha256(self.deb.read_bytes()).hexdigest()
        (self.dir / "gnupg").mkdir(mode=0o700)
        self.fingerprint = vendor_fingerprint(self.keyring, self.dir / "gnupg")

    @staticmethod
    def assert_in(item, items):
        assert item in items, f"{item} not in {items}"


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.dir, ignore_errors=True)


class TraceTest(unittest.TestCase):
    def repo(self, *args, expect=0):
        return run(REPO, *args, home=W.home, expect=expect)

    def trace(self, query):
        return json.loads(self.repo("trace", query, "--json").stdout)

    def link(self, trace, kind):
        links = [x for x in trace["links"] if x["link"] == kind]
        self.assertTrue(links, f"no {kind} link in {trace['links']}")
        return links

    def check_chain(self, trace):
        self.assertEqual(trace["objects"], [W.sha256])
        self.assertEqual([p["name"] + "=" + p["version"] for p in trace["packages"]], ["hello-airlock=1.0-1"])
        pulls = self.link(trace, "pull")
        self.assertTrue(any(p["path"].endswith("/test/sample/pool/main/h/hello-airlock/" + DEB) for p in pulls))
        self.assertTrue(all(p["object"] == W.sha256 for p in pulls))
        [snapshot] = self.link(trace, "snapshot")
        self.assertEqual(trace["snapshots"], [snapshot["snapshot"]])
        [publish] = self.link(trace, "publish")
        self.assertEqual((publish["channel"], publish["snapshot"]), ("test", snapshot["snapshot"]))
        [imp] = self.link(trace, "import")
        self.assertEqual(imp["bundle"], "airlock-sample-000001")
        self.assertEqual((imp["operator"], imp["media_label"], imp["signers"]), ("olga", "USB-7", ["alice"]))
        self.assertEqual((imp["stream"], imp["sequence"]), ("sample", 1))
        self.assertEqual(imp["manifest"], hashlib.sha256((W.bundle / "manifest.json").read_bytes()).hexdigest())
        [sync] = self.link(trace, "sync")
        self.assertEqual(sync["carried_in"], "airlock-sample-000001")
        self.assertEqual(sync["snapshot"], snapshot["snapshot"])
        [suite] = sync["suites"]
        self.assertEqual(suite["suite"], "bookworm")
        self.assertEqual(suite["signed_by"], W.fingerprint)
        self.assertTrue(suite["date"])
        [checkpoint] = self.link(trace, "checkpoint")
        self.assertEqual(trace["checkpoint"], checkpoint["n"])
        numbered = [x["n"] for x in trace["links"] if x["link"] != "checkpoint"]
        self.assertTrue(all(n < checkpoint["n"] for n in numbered))
        log = [json.loads(x) for x in self.repo("log", "show", "--json").stdout.splitlines()]
        self.assertEqual(log[imp["n"]]["event"], "import")
        self.assertEqual(log[sync["n"]]["event"], "custody")
        self.assertEqual(log[pulls[0]["n"]]["event"], "pull")

    def test_the_pulled_file_by_file_by_sha256_and_by_name_and_version(self):
        for query in (W.deb, W.sha256, "hello-airlock=1.0-1"):
            with self.subTest(query=str(query)):
                self.check_chain(self.trace(query))

    def test_text_is_one_line_a_link(self):
        out = self.repo("trace", W.deb).stdout
        lines = out.splitlines()
        self.assertEqual(lines[0], "file       " + W.sha256)
        imports = [x for x in lines if x.split()[1:2] == ["import"]]
        self.assertEqual(len(imports), 1)
        self.assertIn("bundle=airlock-sample-000001", imports[0])
        self.assertIn("operator=olga", imports[0])
        self.assertIn("media_label=USB-7", imports[0])
        self.assertIn(W.fingerprint, out)

    def test_verify_trace_passes_and_refuses_one_changed_byte(self):
        proof = W.dir / "hello.trace.json"
        self.repo("trace", "hello-airlock=1.0-1", "--proof", proof)
        key = W.home / "keys/log.pub"
        ok = run(VERIFY, "trace", proof, "--key", key)
        self.assertTrue(ok.stdout.endswith("OK\n"), ok.stdout)
        checked = json.loads(run(VERIFY, "trace", proof, "--key", key, "--json").stdout)
        self.assertTrue(checked["ok"])
        self.assertEqual({x["link"] for x in checked["links"]}, {"pull", "publish", "import", "sync"})
        doc = json.loads(proof.read_text())
        check_schema(doc, "trace-proof.schema.json")
        for i, entry in enumerate(doc["links"]):
            bad = json.loads(json.dumps(doc))
            record = bad["links"][i]["proof"]["record"]
            at = record.index('"time":"') + 10
            bad["links"][i]["proof"]["record"] = record[:at] + chr(ord(record[at]) ^ 1) + record[at + 1:]
            tampered = W.dir / f"tampered-{i}.json"
            tampered.write_text(json.dumps(bad))
            p = run(VERIFY, "trace", tampered, "--key", key, expect=3)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn(f"{entry['link']} record {entry['proof']['n']}", p.stderr)

    def test_verify_trace_refuses_records_that_do_not_link_up(self):
        proof = W.dir / "links.trace.json"
        self.repo("trace", W.sha256, "--proof", proof)
        key = W.home / "keys/log.pub"
        doc = json.loads(proof.read_text())
        cases = {
            "another file": lambda d: d.update(objects=["0" * 64]),
            "a relabelled record": lambda d: next(x for x in d["links"] if x["link"] == "sync").update(link="pull"),
            "a snapshot no import brings": lambda d: d["snapshots"].append("1" * 64),
        }
        for name, change in cases.items():
            with self.subTest(name):
                bad = json.loads(json.dumps(doc))
                change(bad)
                path = W.dir / "links-bad.json"
                path.write_text(json.dumps(bad))
                p = run(VERIFY, "trace", path, "--key", key, expect=3)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                self.assertIn("trace proof: ", p.stderr)

    def test_nothing_found_and_bad_arguments(self):
        p = self.repo("trace", "0" * 64, expect=1)
        self.assertIn("no snapshot holds " + "0" * 64, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        self.repo("trace", "hello-airlock=9.9", expect=1)
        self.repo("trace", W.dir / "no-such.deb", expect=1)
        self.repo("trace", "=1.0", expect=2)
        self.repo("trace", expect=2)
        self.assertIn("examples:", self.repo("trace", "--help").stdout)
        self.assertIn("examples:", run(VERIFY, "trace", "--help").stdout)


if __name__ == "__main__":
    unittest.main()
