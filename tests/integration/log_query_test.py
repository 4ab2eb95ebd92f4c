#!/usr/bin/env python3
"""`log show` filters, `log export --format csv`, `log checkpoint --out` and
`log verify --checkpoint` on a real isolated side: a bundle made by
airlock-mirror is refused once and then imported, `airlock-repo serve`
answers real HTTP requests (urllib and curl), and the log is queried.

    log_query_test.py AIRLOCK_MIRROR AIRLOCK_REPO MAKE_SAMPLE_UPSTREAM
"""
import csv
import hashlib
import http.client
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hosts import low_side, Server, run  # noqa: E402
from upstream_server import UpstreamServer  # noqa: E402

MIRROR, REPO, MAKE_SAMPLE = sys.argv[1:4]
del sys.argv[1:4]

FORMULA = "=cmd|' /C calc'!A0"
OPENSSL = "openssl_3.0.22-1~deb12u2_amd64.deb"
W = None


class World:
    """A high side with one refused and one imported bundle, and pulls logged."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-log-query-"))
        subprocess.run([MAKE_SAMPLE, self.dir / "upstream"], check=True, capture_output=True)
        upstream = UpstreamServer(self.dir / "upstream/day1", idle_timeout=600).start()
        low = self.dir / "low"
        low_side(MIRROR, low, upstream.url, self.dir / "upstream/keyring.gpg")
        run(MIRROR, "sync", home=low)
        run(MIRROR, "export", "--mkdir", "--stream", "sample", "--out", self.dir / "media", "--key", "alice", home=low)
        upstream.stop()
        bundle = self.dir / "media/airlock-sample-000001"
        self.home = self.dir / "high"
        self.repo("init")
        self.repo("trust", "add", low / "keys/alice.pub", "--name", "alice")
        self.repo("trust", "threshold", "2")
        self.repo("import", bundle, expect=3)  # refused: one signature of two
        self.repo("trust", "threshold", "1")
        self.repo("import", bundle, "--publish", "test", "--create", "--reason", FORMULA,
                  "--media-label", "USB\x1b[2J")
        deb = next((self.dir / "upstream/day1").rglob("hello-airlock_1.0-1_amd64.deb"))
        self.deb_path = "/test/sample/" + str(deb.relative_to(self.dir / "upstream/day1"))
        self.deb_sha = hashlib.sha256(deb.read_bytes()).hexdigest()
        server = Server(REPO, self.home)
        try:
            with urllib.request.urlopen(server.url + self.deb_path) as r:
                r.read()
            for target in ["/test/sample/pool/main/o/openssl/openssl_3.0.22-1%7edeb12u2_amd64.deb",
                           "/%3dcmd%7c%27%20/C%20calc%27%21A0",
                           "/test/x%1b[31m%e2%80%aeevil"]:
                conn = http.client.HTTPConnection(server.addr)
                conn.request("GET", target)
                conn.getresponse().read()
                conn.close()
            subprocess.run(["curl", "-s", "-o", "/dev/null", server.url + "/test/sample/curl%7etest"], check=True)
        finally:
            server.stop()

    def repo(self, *args, expect=0):
        return run(REPO, *args, home=self.home, expect=expect)


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.dir, ignore_errors=True)


class LogQueryTest(unittest.TestCase):
    def show(self, *args, expect=0):
        return W.repo("log", "show", *args, expect=expect).stdout

    def records(self, *args):
        return [json.loads(x) for x in self.show("--json", *args).splitlines()]

    def test_new_pull_records_hold_the_decoded_path(self):
        pulls = self.records("--event", "pull")
        paths = [p["path"] for p in pulls]
        self.assertIn("/test/sample/pool/main/o/openssl/" + OPENSSL, paths)
        self.assertIn("/" + FORMULA, paths)
        self.assertIn("/test/sample/curl~test", paths)
        openssl = next(p for p in pulls if p["path"].endswith(OPENSSL))
        self.assertEqual(openssl["target"], "/test/sample/pool/main/o/openssl/openssl_3.0.22-1%7edeb12u2_amd64.deb")
        plain = next(p for p in pulls if p["path"] == W.deb_path)
        self.assertNotIn("target", plain)  # nothing to decode: stored once
        self.assertEqual(plain["object"], W.deb_sha)

    def test_package_and_path_find_the_decoded_deb(self):
        for args in (["--package", "openssl"], ["--package", "openssl=3.0.22-1~deb12u2"],
                     ["--path", "*~deb12u2_*.deb"], ["--path", "*/openssl_*"]):
            recs = self.records(*args)
            self.assertEqual([r["path"].rsplit("/", 1)[1] for r in recs], [OPENSSL], args)
        self.assertEqual(self.records("--package", "openssl=3.0.22-1"), [])
        hello = self.records("--package", "hello-airlock=1.0-1", "--object", W.deb_sha)
        self.assertEqual([r["path"] for r in hello], [W.deb_path])
        text = self.show("--package", "openssl")
        self.assertIn(OPENSSL, text)

    def test_filters_combine(self):
        pulls = self.records("--event", "pull")
        self.assertEqual(len(pulls), 5)
        self.assertEqual(len(self.records("--client", "127.0.0.1")), 5)
        self.assertEqual(self.records("--client", "10.9.9.9"), [])
        self.assertEqual(self.records("--client", "127.0.0.1", "--event", "import"), [])
        refused = self.records("--result", "refused")
        self.assertEqual([r["event"] for r in refused], ["import"])
        imported = self.records("--result", "imported", "--event", "import")
        self.assertEqual(len(imported), 1)
        self.assertEqual(imported[0]["reason"], FORMULA)
        first = self.records()[0]["time"]
        self.assertEqual(len(self.records("--since", first)), len(self.records()))
        self.assertEqual(self.records("--since", "2999-01-01T00:00:00Z"), [])
        self.assertEqual(self.records("--until", "2000-01-01T00:00:00+02:00"), [])
        # The JSON lines are the stored bytes, filtered.
        stored = (W.home / "log/transfer-000001.jsonl").read_text().splitlines()
        self.assertTrue(set(self.show("--json", "--event", "pull").splitlines()) <= set(stored))

    def test_show_escapes_control_and_bidi_characters(self):
        text = self.show()
        self.assertNotIn("\x1b", text)
        self.assertNotIn("\u202e", text)
        self.assertIn("x\\x1b[31m\\u{202e}evil", text)
        self.assertIn("USB\\x1b[2J", text)

    def test_csv_carries_every_field_and_round_trips(self):
        out = W.dir / "log.csv"
        W.repo("log", "export", "--format", "csv", "--out", out)
        text = out.read_text()
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        stored = [json.loads(x) for x in (W.home / "log/transfer-000001.jsonl").read_text().splitlines()]
        self.assertEqual(len(rows), len(stored))
        readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
        header = text.splitlines()[0]
        self.assertIn("`" + header + "`", readme.replace("\n", ""))  # the documented column list
        for rec, row in zip(stored, rows):
            self.assertEqual(int(row["n"]), rec["n"])
            other = json.loads(row["other"]) if row["other"] else {}
            for key, value in rec.items():
                self.assertTrue(key in row or key in other, key)
            for cell in row.values():
                self.assertFalse(cell[:1] in ("=", "+", "-", "@", "\t", "\r"), cell)
                self.assertNotIn("\x1b", cell)
        imp = next(r for r in rows if r["event"] == "import" and r["result"] == "imported")
        self.assertEqual(imp["reason"], "'" + FORMULA)
        self.assertEqual(imp["media_label"], "USB\\x1b[2J")
        stored_import = next(r for r in stored if r["n"] == int(imp["n"]))
        self.assertEqual(json.loads(imp["signers"]), stored_import["signers"])  # compact JSON
        pull = next(r for r in rows if r["path"] == "/" + FORMULA)
        self.assertEqual(pull["event"], "pull")
        self.assertEqual(pull["target"], "/%3dcmd%7c%27%20/C%20calc%27%21A0")
        custody = [r for r in rows if r["event"] == "custody"]
        self.assertTrue(custody)
        for r in custody:
            self.assertEqual(json.loads(r["record"])["event"], r["record_event"])
        self.assertTrue(any(r["path"].endswith(OPENSSL) for r in rows))

    def test_checkpoint_out_and_verify_against_it(self):
        cp = W.dir / "checkpoint.txt"
        W.repo("log", "checkpoint", "--out", cp)
        self.assertTrue(cp.read_text().startswith("airlock/"))
        out = W.repo("log", "verify", "--checkpoint", cp).stdout
        self.assertIn("OK", out)
        self.assertIn("and is the log's last record.", out)
        # A copy of the home with records cut from the end fails against the checkpoint.
        cut = W.dir / "cut"
        shutil.copytree(W.home, cut)
        log = cut / "log/transfer-000001.jsonl"
        lines = log.read_text().splitlines(keepends=True)
        log.write_text("".join(lines[:-4]))
        # The tree state kept with the newest checkpoint names a record that is gone.
        p = run(REPO, "log", "verify", home=cut, expect=3)
        self.assertRegex(p.stderr, r"state\.json does not match the log: it names checkpoint record "
                                   r"\d+, but the log has \d+ records")
        # Cut with the state and tiles as well: the saved checkpoint still tells.
        (cut / "log/state.json").unlink()
        shutil.rmtree(cut / "log/tiles")
        # Without the saved checkpoint the cut still shows: records follow the newest checkpoint.
        kept = [json.loads(x) for x in lines[:-4]]
        newest = max(x["n"] for x in kept if x["event"] == "checkpoint")
        unsigned = len(kept) - newest - 1
        self.assertGreater(unsigned, 0)
        out = run(REPO, "log", "verify", home=cut).stdout
        self.assertIn(f"The newest checkpoint (record {newest}) signs the first {newest} records; "
                      f"{unsigned} record{'s' if unsigned > 1 else ''} after it "
                      f"{'are' if unsigned > 1 else 'is'} not signed yet.", out)
        self.assertEqual(json.loads(run(REPO, "log", "verify", "--json", home=cut).stdout)["uncovered"],
                         unsigned)
        p = run(REPO, "log", "verify", "--checkpoint", cp, home=cut, expect=3)
        self.assertIn("records were removed from the end", p.stderr)
        # A checkpoint by another log key is refused.
        other = W.dir / "other"
        run(REPO, "init", home=other)
        run(REPO, "log", "checkpoint", "--out", W.dir / "other.cp", home=other, expect=None)
        if (W.dir / "other.cp").exists():
            W.repo("log", "verify", "--checkpoint", W.dir / "other.cp", expect=3)
        p = W.repo("log", "verify", "--checkpoint", W.dir / "missing.cp", expect=1)
        self.assertIn("missing.cp", p.stderr)

    def test_a_record_edited_before_a_checkpoint_signs_it_stops_every_change(self):
        home = W.dir / "edited"
        shutil.copytree(W.home, home)
        log = home / "log/transfer-000001.jsonl"
        lines = log.read_text().splitlines(keepends=True)
        last = json.loads(lines[-1])
        self.assertEqual(last["event"], "checkpoint")  # the state starts from it
        # The record's own root field: its signed note and chain still hold.
        lines[-1] = lines[-1].replace('"root":"' + last["root"], '"root":"' + "0" * 64, 1)
        log.write_text("".join(lines))
        n = last["n"]
        before = {p.relative_to(home): p.read_bytes() for p in (home / "log").rglob("*") if p.is_file()}
        channels = run(REPO, "channels", "--json", home=home).stdout
        p = run(REPO, "trust", "max-validity", "30", home=home, expect=3)
        self.assertEqual(
            p.stderr.strip(),
            f"airlock-repo: the home takes no changes until its transfer log is restored: "
            f"{home}/log/tiles/0 entry {n} (the hash of record {n}) does not match the records: "
            f"the record or the tile was altered")
        after = {p.relative_to(home): p.read_bytes() for p in (home / "log").rglob("*") if p.is_file()}
        self.assertEqual(after, before)
        self.assertEqual(run(REPO, "channels", "--json", home=home).stdout, channels)
        # Reading commands still run; verify names the record.
        run(REPO, "status", home=home)
        p = run(REPO, "log", "verify", home=home, expect=3)
        self.assertIn(f"(the hash of record {n}) does not match the records", p.stderr)

    def test_export_of_a_range_is_those_records_exactly(self):
        stored = (W.home / "log/transfer-000001.jsonl").read_bytes().splitlines(keepends=True)
        out = W.dir / "range.jsonl"
        W.repo("log", "export", "--from", "3", "--to", "9", "--out", out)
        self.assertEqual(out.read_bytes(), b"".join(stored[3:9]))
        shown = W.repo("log", "show", "--json", "--from", "4", "--to", "6", "--event", "pull").stdout
        self.assertEqual([json.loads(x)["n"] for x in shown.splitlines()],
                         [json.loads(x)["n"] for x in stored[4:6] if json.loads(x)["event"] == "pull"])
        W.repo("log", "export", "--from", str(len(stored) - 2), "--out", out)
        self.assertEqual(out.read_bytes(), b"".join(stored[-2:]))

    def test_usage_errors(self):
        cases = [
            (["show", "--since", "yesterday"], "--since wants an RFC 3339 time"),
            (["show", "--until", "2026-13-01T00:00:00Z"], "--until wants an RFC 3339 time"),
            (["show", "--result", "maybe"], "--result is imported or refused"),
            (["show", "--object", "ABC"], "--object wants a SHA-256"),
            (["show", "--package", "=1.0"], "--package wants NAME or NAME=VERSION"),
            (["export", "--package", "openssl="], "--package wants NAME or NAME=VERSION"),
            (["verify", "--since", "2026-01-01T00:00:00Z"], "--since is for show and export"),
            (["show", "--checkpoint", "x"], "--checkpoint is for verify"),
            (["verify", "--out", "x"], "--out is for show, export and checkpoint"),
            (["export", "--format", "xml"], "--format is jsonl, csv or text"),
            (["list"], "show, export, verify, prove or checkpoint?"),
            (["export", "--from", "5", "--to", "3"], "--from must be less than --to"),
            (["verify", "--from", "5"], "--from is for show and export"),
        ]
        for args, message in cases:
            p = W.repo("log", *args, expect=2)
            self.assertIn(message, p.stderr, args)
        helptext = W.repo("log", "--help").stdout
        for option in ("--since", "--until", "--client", "--package", "--object", "--path", "--result",
                       "--checkpoint", "checkpoint --out", "show --package openssl="):
            self.assertIn(option, helptext)


if __name__ == "__main__":
    unittest.main(verbosity=2)
