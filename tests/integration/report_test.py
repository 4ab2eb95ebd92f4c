#!/usr/bin/env python3
"""The compliance report end to end: two bundles synced and exported on the
low side, imported and published on the isolated side with a promote and a
rollback, two refused imports (a bundle directory named `=1+1` with a changed
byte, and a signature whose key id holds ESC, BEL and a newline), pulls from
two hosts (a real apt-get from 127.0.0.1, an HTTP client from 127.0.0.2 that
also asks for `=cmd|' /C calc'!A0`). `airlock-repo report` is then checked
field by field against what the test did, as JSON (and against its schema),
as HTML in headless Chromium (no console error, no request, every section,
the stale host) and as CSV read back with Python's csv module.

    report_test.py AIRLOCK_MIRROR AIRLOCK_REPO AIRLOCK_VERIFY MAKE_SAMPLE_UPSTREAM
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
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import open_page  # noqa: E402
from hosts import AptClient, Server, low_side, run  # noqa: E402
from schema_check import check_schema  # noqa: E402
from upstream_server import UpstreamServer  # noqa: E402

MIRROR, REPO, VERIFY, MAKE_SAMPLE = sys.argv[1:5]
del sys.argv[1:5]
W = None
FORMULA = "=cmd|' /C calc'!A0"
FORMULA_TARGET = "=cmd|'%20/C%20calc'!A0"
HOSTILE_KEYID = "\x1b[31m\x07\n" + "a" * 57  # 64 characters, three of them control
HOST_A, HOST_B = "127.0.0.1", "127.0.0.2"


def get_from(addr, source, target):
    """One GET of target (sent as it is) from the source address; returns (status, body)."""
    host, port = addr.split(":")
    conn = http.client.HTTPConnection(host, int(port), source_address=(source, 0), timeout=30)
    try:
        conn.request("GET", target)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class World:
    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-report-test-"))
        subprocess.run([MAKE_SAMPLE, self.dir / "upstream"], check=True, capture_output=True)
        self.keyring = self.dir / "upstream/keyring.gpg"
        self.low_side()
        self.home = self.dir / "high"
        self.repo("init")
        self.repo("trust", "add", self.low / "keys/alice.pub", "--name", "alice")
        self.alice = json.loads(self.repo("trust", "list", "--json").stdout)["keys"][0]["keyid"]
        self.import_(1, "olga", "USB-7", "patch day 1", "CHG-1", "--create")
        self.repo("promote", "test", "prod", "--create", "--operator", "olga", "--reason", "tested",
                  "--change-ref", "CHG-2")
        self.refused_imports()
        server = Server(REPO, self.home)
        try:
            self.host_a = AptClient(self.dir / "host-a", server.url, "prod", self.keyring)
            self.host_a.apt("apt-get", "update")
            assert "hello-airlock_1.0-1_amd64.deb" in self.host_a.download("hello-airlock")
            self.index_path = "/test/sample/dists/bookworm/InRelease"
            self.deb_path = "/test/sample/" + str(self.deb.relative_to(self.dir / "upstream/day1"))
            assert get_from(server.addr, HOST_B, self.index_path)[0] == 200
            assert get_from(server.addr, HOST_B, self.deb_path)[0] == 200
            self.formula_status = get_from(server.addr, HOST_B, FORMULA_TARGET)[0]
        finally:
            code, _, err = server.stop()
            assert code == 0, err
        next_second()  # a period can end between the two imports
        self.import_(2, "piotr", "USB-8", "patch day 2", "CHG-3")
        self.repo("promote", "test", "prod", "--operator", "olga", "--reason", "tested again",
                  "--change-ref", "CHG-4")
        self.repo("rollback", "prod", "--operator", "olga", "--reason", "regression",
                  "--change-ref", "INC-5")
        server = Server(REPO, self.home)  # host A catches up with prod; host B never does with test
        try:
            self.host_a = AptClient(self.dir / "host-a", server.url, "prod", self.keyring)
            self.host_a.forget_lists()
            out = self.host_a.apt("apt-get", "update")
            assert "Err:" not in out.stdout, out.stdout
        finally:
            code, _, err = server.stop()
            assert code == 0, err
        self.records = [json.loads(x) for x in self.repo("log", "show", "--json").stdout.splitlines()]

    def low_side(self):
        upstream = UpstreamServer(self.dir / "upstream/day1", idle_timeout=600).start()
        self.low = self.dir / "low"
        low_side(MIRROR, self.low, upstream.url, self.keyring)
        self.media = self.dir / "media"
        try:
            for day in (1, 2):
                upstream.set_root(self.dir / f"upstream/day{day}")
                run(MIRROR, "sync", home=self.low)
                run(MIRROR, "export", "--mkdir", "--stream", "sample", "--out", self.media, "--key", "alice",
                    home=self.low)
        finally:
            upstream.stop()
        self.deb = next((self.dir / "upstream/day1").rglob("hello-airlock_1.0-1_amd64.deb"))
        self.deb_sha = hashlib.sha256(self.deb.read_bytes()).hexdigest()
        # What each bundle carries, as the low side computed it, read back by airlock-verify.
        self.carried = {}
        for seq in (1, 2):
            out = run(VERIFY, "bundle", self.bundle(seq), "--key", self.low / "keys/alice.pub",
                      "--json").stdout
            self.carried[seq] = json.loads(out)["changes"]

    def bundle(self, seq):
        return self.media / f"airlock-sample-{seq:06d}"

    def import_(self, seq, operator, media, reason, ref, *extra):
        self.repo("import", self.bundle(seq), "--publish", "test", "--operator", operator,
                  "--media-label", media, "--reason", reason, "--change-ref", ref, *extra)

    def refused_imports(self):
        flipped = self.media / "=1+1"
        shutil.copytree(self.bundle(2), flipped)
        volume = flipped / "data.000"
        data = bytearray(volume.read_bytes())
        data[len(data) // 2] ^= 1
        volume.write_bytes(bytes(data))
        self.repo("import", flipped, "--operator", "mallory", "--media-label", "USB-X", expect=3)
        hostile = self.media / "keyid-bundle"
        shutil.copytree(self.bundle(2), hostile)
        sig = json.loads((hostile / "manifest.sig.json").read_text())
        sig["signatures"][0]["keyid"] = HOSTILE_KEYID
        (hostile / "manifest.sig.json").write_text(json.dumps(sig))
        self.repo("import", hostile, "--operator", "mallory", expect=3)

    def repo(self, *args, expect=0):
        return run(REPO, *args, home=self.home, expect=expect)

    def report(self, fmt, *args, expect=0):
        out = self.dir / f"report-{len(list(self.dir.glob('report-*')))}.{fmt}"
        p = self.repo("report", "--format", fmt, "--out", out, *args, expect=expect)
        return out, p


def next_second():
    """Lets the wall clock enter a new second: log times have whole seconds."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def setUpModule():
    global W
    W = World()


def tearDownModule():
    if not os.environ.get("AIRLOCK_KEEP_TEST_DIR"):
        shutil.rmtree(W.dir, ignore_errors=True)


class ReportJsonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        path, cls.summary = W.report("json")
        cls.r = json.loads(path.read_text())

    def events(self, *names):
        return [x for x in W.records if x["event"] in names]

    def test_matches_the_schema(self):
        check_schema(self.r, "report.schema.json")

    def test_integrity_states_the_verified_log(self):
        status = json.loads(W.repo("status", "--json").stdout)
        i = self.r["integrity"]
        self.assertTrue(i["verified"])
        self.assertEqual(i["records"], len(W.records))
        self.assertEqual(i["root"], status["log"]["root"])
        last_cp = max(x["n"] for x in W.records if x["event"] == "checkpoint")
        self.assertEqual(i["latest_checkpoint"]["n"], last_cp)
        self.assertEqual(i["uncovered"], len(W.records) - last_cp - 1)
        self.assertEqual(i["log_key"], hashlib.sha256(self.raw_log_key()).hexdigest())
        self.assertIn(f"all {len(W.records)} records", i["statement"])
        self.assertIn("verified", self.summary.stdout)

    @staticmethod
    def raw_log_key():
        pem = (W.home / "keys/log.pub").read_text()
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem.encode(),
                             capture_output=True, check=True).stdout
        return der[-32:]

    def test_imports_name_bundle_signers_operator_media_and_packages(self):
        imports = self.r["imports"]
        self.assertEqual([(x["stream"], x["sequence"], x["bundle"]) for x in imports],
                         [("sample", 1, "airlock-sample-000001"), ("sample", 2, "airlock-sample-000002")])
        logged = [x for x in self.events("import") if x["result"] == "imported"]
        for item, rec, operator, media, reason, ref in zip(
                imports, logged, ["olga", "piotr"], ["USB-7", "USB-8"], ["patch day 1", "patch day 2"],
                ["CHG-1", "CHG-3"]):
            self.assertEqual(item["n"], rec["n"])
            self.assertEqual(item["manifest"], rec["manifest"])
            self.assertEqual((item["operator"], item["media_label"], item["reason"], item["change_ref"]),
                             (operator, media, reason, ref))
            self.assertEqual(item["signers"], [{"name": "alice", "keyid": W.alice}])
        # Package changes against the stream's previous import equal what each bundle carries.
        for seq, item in zip((1, 2), imports):
            self.assertEqual(item["changes"], W.carried[seq])
        upgraded = [p for p in imports[1]["changes"][0]["packages"] if p["change"] == "upgraded"]
        self.assertIn(("hello-airlock", "1.0-1", "1.1-1"), [(p["name"], p["old"], p["new"]) for p in upgraded])

    def test_refusals_carry_their_reason_as_logged(self):
        refusals = self.r["refusals"]
        self.assertEqual([x["bundle"] for x in refusals], ["=1+1", "keyid-bundle"])
        self.assertEqual([x["operator"] for x in refusals], ["mallory", "mallory"])
        self.assertEqual(refusals[0]["media_label"], "USB-X")
        self.assertIn("data.000", refusals[0]["reason"])
        self.assertIn(HOSTILE_KEYID, refusals[1]["reason"])  # kept as logged; JSON escapes it
        raw = json.dumps(self.r)
        self.assertNotIn("\x1b", raw)
        self.assertIn("\\u001b[31m\\u0007\\n", raw)

    def test_channel_history_names_every_change_with_its_package_diff(self):
        changes = self.r["channel_changes"]
        self.assertEqual([(c["action"], c["channel"]) for c in changes],
                         [("publish", "test"), ("promote", "prod"), ("publish", "test"),
                          ("promote", "prod"), ("rollback", "prod")])
        logged = self.events("publish", "promote", "rollback", "delete")
        self.assertEqual([c["n"] for c in changes], [x["n"] for x in logged])
        for c, x in zip(changes, logged):
            self.assertEqual((c["snapshot"], c["previous"], c["operator"], c["reason"], c["change_ref"]),
                             (x["snapshot"], x.get("previous"), x["operator"], x["reason"], x["change_ref"]))
        rollback = changes[-1]["changes"][0]["packages"]
        self.assertIn(("downgraded", "hello-airlock", "1.1-1", "1.0-1"),
                      [(p["change"], p["name"], p["old"], p["new"]) for p in rollback])
        self.assertEqual(changes[0]["changes"], W.carried[1])  # a first publish adds what crossed

    def test_hosts_count_what_the_log_holds_and_one_is_stale(self):
        hosts = {h["host"]: h for h in self.r["hosts"]}
        self.assertEqual(sorted(hosts), [HOST_A, HOST_B])
        for name, h in hosts.items():
            pulls = [x for x in self.events("pull") if x["client"] == name]
            self.assertEqual(h["requests"], len(pulls))
            self.assertEqual(h["bytes"], sum(x["bytes"] for x in pulls))
            self.assertEqual(h["errors"], sum(1 for x in pulls if x["status"] >= 400))
            self.assertEqual((h["first_seen"], h["last_seen"]), (pulls[0]["time"], pulls[-1]["time"]))
        a = {(c["channel"], c["repo"]): c for c in hosts[HOST_A]["channels"]}
        b = {(c["channel"], c["repo"]): c for c in hosts[HOST_B]["channels"]}
        self.assertEqual(list(a), [("prod", "sample")])
        self.assertFalse(a[("prod", "sample")]["stale"])
        self.assertEqual(list(b), [("test", "sample")])
        self.assertTrue(b[("test", "sample")]["stale"])
        last_test_change = [x for x in self.events("publish", "promote", "rollback")
                            if x["channel"] == "test"][-1]
        self.assertEqual([(s["host"], s["channel"], s["repo"], s["last_change_n"]) for s in self.r["stale_hosts"]],
                         [(HOST_B, "test", "sample", last_test_change["n"])])
        fetch = [x for x in self.events("pull") if x["client"] == HOST_B and x["path"] == W.index_path][-1]
        self.assertEqual(self.r["stale_hosts"][0]["last_fetch_n"], fetch["n"])
        for h in (HOST_A, HOST_B):
            self.assertIn(("hello-airlock", "1.0-1", "amd64"),
                          [(p["name"], p["version"], p["architecture"]) for p in hosts[h]["packages"]])
        self.assertIn((FORMULA, W.formula_status),
                      [(f["path"], f["status"]) for f in hosts[HOST_B]["failures"]])

    def test_packages_list_who_pulled_each_version(self):
        hello = [p for p in self.r["packages"] if (p["name"], p["version"]) == ("hello-airlock", "1.0-1")]
        self.assertEqual(len(hello), 1)
        self.assertEqual(hello[0]["sha256"], W.deb_sha)
        self.assertEqual(sorted(h["host"] for h in hello[0]["hosts"]), [HOST_A, HOST_B])
        pulls = [x for x in self.events("pull") if x.get("object") == W.deb_sha and x["status"] == 200]
        self.assertEqual(hello[0]["pulls"], len(pulls))

    def test_days_sum_to_the_sections(self):
        days = self.r["days"]
        self.assertEqual(sum(d["pulls"] for d in days), len(self.events("pull")))
        self.assertEqual(sum(d["imports"] for d in days), 2)
        self.assertEqual(sum(d["refusals"] for d in days), 2)
        self.assertEqual(sum(d["channel_changes"] for d in days), 5)


class ReportPeriodTest(unittest.TestCase):
    def test_a_period_after_everything_keeps_state_but_counts_nothing(self):
        path, _ = W.report("json", "--since", "2999-01-01")
        r = json.loads(path.read_text())
        self.assertEqual((r["imports"], r["refusals"], r["channel_changes"], r["packages"], r["days"]),
                         ([], [], [], [], []))
        self.assertEqual(r["period"]["since"], "2999-01-01T00:00:00Z")
        self.assertEqual([h["requests"] for h in r["hosts"]], [0, 0])
        self.assertEqual([s["host"] for s in r["stale_hosts"]], [HOST_B])  # still stale

    def test_a_period_ending_before_the_second_import_sees_only_the_first(self):
        second = next(x for x in W.records if x["event"] == "import" and x.get("sequence") == 2)
        before = [x["time"] for x in W.records if x["time"] < second["time"]]
        path, _ = W.report("json", "--until", before[-1])
        r = json.loads(path.read_text())
        self.assertEqual([x["sequence"] for x in r["imports"]], [1])
        self.assertEqual(r["period"]["until"], before[-1])

    def test_usage_errors_write_nothing(self):
        for args, message in [
                (["--format", "pdf"], "--format is html, json or csv"),
                (["--since", "yesterday"], "--since wants an RFC 3339 time"),
                (["--since", "2026-11-02", "--until", "2026-11-01"], "--since is after --until")]:
            out = W.dir / "never-written.html"
            p = W.repo("report", *args, "--out", out, expect=2)
            self.assertIn(message, p.stderr)
            self.assertFalse(out.exists())

    def test_a_log_that_does_not_verify_is_reported_as_such_with_exit_3(self):
        home = W.dir / "high-wrong-key"
        shutil.copytree(W.home, home)
        other = W.dir / "other-key"
        run(REPO, "init", home=other)
        shutil.copy(other / "keys/log.pub", home / "keys/log.pub")
        log_before = (home / "log/transfer-000001.jsonl").read_bytes()
        out = W.dir / "unverified.html"
        p = run(REPO, "report", "--out", out, home=home, expect=3)
        self.assertIn("the transfer log does not verify", p.stderr)
        self.assertIn("NOT VERIFIED", out.read_text())
        self.assertEqual((home / "log/transfer-000001.jsonl").read_bytes(), log_before)


class ReportHtmlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path, _ = W.report("html")
        cls.shot = pathlib.Path(os.environ.get("AIRLOCK_REPORT_SCREENSHOT", W.dir / "report.png"))
        cls.page = open_page(cls.path, cls.shot)

    @classmethod
    def tearDownClass(cls):
        cls.page.close()

    def test_loads_nothing_and_logs_no_error(self):
        self.assertEqual(self.page.requests, [])
        self.assertEqual(self.page.console, [])
        self.assertIn("Content-Security-Policy", self.path.read_text())
        self.assertNotRegex(self.path.read_text(), r"<script|<link|<img|@import|url\(")
        self.assertGreater(self.shot.stat().st_size, 10000)

    def test_every_section_and_the_stale_host_are_in_the_dom(self):
        for section in ("integrity", "imports", "refusals", "channels", "hosts", "stale-hosts",
                        "packages", "charts"):
            self.assertEqual(len(self.page.query(f"#{section}")), 1, section)
        self.assertIn("VERIFIED", self.page.query("#integrity .verdict")[0])
        self.assertEqual(len(self.page.query("tr.import")), 2)
        self.assertEqual(len(self.page.query("tr.refusal")), 2)
        self.assertEqual(len(self.page.query("tr.channel-change")), 5)
        stale = self.page.query("tr.stale-host")
        self.assertEqual(len(stale), 1)
        self.assertIn(HOST_B, stale[0])
        self.assertGreaterEqual(len(self.page.query("#charts svg")), 4)
        self.assertIn("hello-airlock", " ".join(self.page.query("tr.package")))

    def test_hostile_text_is_shown_escaped(self):
        text = self.page.text
        self.assertNotIn("\x1b", self.page.dom)
        self.assertNotIn("\x07", self.page.dom)
        self.assertIn("\\x1b[31m\\x07\\x0a", text)
        self.assertIn("=1+1", text)
        self.assertIn(FORMULA, self.page.dom.replace("&#39;", "'"))


class ReportCsvTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        path, _ = W.report("csv")
        cls.rows = list(csv.DictReader(io.StringIO(path.read_text(), newline="")))
        cls.r = json.loads(W.report("json")[0].read_text())

    def section(self, name):
        return [row for row in self.rows if row["section"] == name]

    def test_the_columns_are_those_the_readme_lists(self):
        readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
        self.assertIn("`" + ",".join(self.rows[0].keys()) + "`", readme.replace("\n", ""))

    def test_every_item_of_every_section_is_a_row(self):
        r = self.r
        counts = {
            "integrity": 1, "imports": len(r["imports"]), "refusals": len(r["refusals"]),
            "channel_changes": len(r["channel_changes"]), "hosts": len(r["hosts"]),
            "stale_hosts": len(r["stale_hosts"]), "packages": len(r["packages"]), "days": len(r["days"]),
            "hosts.channels": sum(len(h["channels"]) for h in r["hosts"]),
            "hosts.packages": sum(len(h["packages"]) for h in r["hosts"]),
            "hosts.failures": sum(len(h["failures"]) for h in r["hosts"]),
            "packages.hosts": sum(len(p["hosts"]) for p in r["packages"]),
            "imports.changes.packages": sum(len(c["packages"]) for i in r["imports"] for c in i["changes"]),
        }
        for name, count in counts.items():
            self.assertEqual(len(self.section(name)), count, name)
        self.assertTrue(all(row["other"] == "" for row in self.rows), "a field without a column")

    def test_rows_carry_the_json_values(self):
        for item, row in zip(self.r["imports"], self.section("imports")):
            for key in ("n", "stream", "sequence", "bundle", "manifest", "operator", "media_label",
                        "reason", "change_ref"):
                self.assertEqual(row[key], str(item[key]), key)
            self.assertEqual(json.loads(row["signers"]), item["signers"])
        for host, row in zip(self.r["hosts"], self.section("hosts")):
            for key in ("host", "first_seen", "last_seen", "requests", "errors", "bytes"):
                self.assertEqual(row[key], str(host[key]), key)
        stale = self.section("stale_hosts")[0]
        self.assertEqual((stale["host"], stale["channel"], stale["repo"]), (HOST_B, "test", "sample"))
        hello = [row for row in self.section("packages.hosts") if row["name"] == "hello-airlock"
                 and row["version"] == "1.0-1"]
        self.assertEqual(sorted(row["host"] for row in hello), [HOST_A, HOST_B])

    def test_formula_and_control_characters_are_neutralised(self):
        refusals = self.section("refusals")
        self.assertEqual(refusals[0]["bundle"], "'=1+1")
        self.assertIn("\\x1b[31m\\x07\\x0a", refusals[1]["reason"])
        failures = [row["path"] for row in self.section("hosts.failures")]
        self.assertIn("'" + FORMULA, failures)
        for row in self.rows:
            for value in row.values():
                self.assertFalse(any(c in value for c in "\x1b\x07\n\r"), value)
                self.assertFalse(value[:1] in ("=", "+", "-", "@"), value)


class TerminalTest(unittest.TestCase):
    def test_log_show_and_the_summary_escape_control_characters(self):
        shown = W.repo("log", "show", "--result", "refused").stdout
        self.assertNotIn("\x1b", shown)
        self.assertNotIn("\x07", shown)
        self.assertIn("\\x1b[31m\\x07\\x0a", shown)
        self.assertIn("bundle==1+1", shown)
        _, p = W.report("html")
        self.assertNotIn("\x1b", p.stdout)
        self.assertIn("2 imports, 2 refused", p.stdout)
        self.assertIn("2 hosts, 1 stale", p.stdout)


if __name__ == "__main__":
    unittest.main()
