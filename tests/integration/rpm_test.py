#!/usr/bin/env python3
"""RHEL-family repositories and signed file sets end to end: a signed rpm upstream (rpmbuild,
createrepo_c, gpg) is synced with repomd.xml's signature checked, crosses in bundles, and a
real dnf (gpgcheck=1, repo_gpgcheck=1 with the vendor key) installs from the isolated side,
upgrades after the patch-day bundle and follows a rollback; snapshots show the vendor's
advisory. Hostile rpm upstreams are each refused with one line and nothing recorded. A signed
SHA256SUMS file set crosses and is fetched by curl byte-identical.

    rpm_test.py AIRLOCK_MIRROR AIRLOCK_REPO MAKE_SAMPLE_UPSTREAM
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
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import files_upstream as fu  # noqa: E402
import rpm_upstream as ru  # noqa: E402
from hosts import DnfClient, Server, high_side, run  # noqa: E402
from rpm_world import RpmWorld  # noqa: E402

MIRROR, REPO = sys.argv[1:3]
del sys.argv[1:4]
W = None


def objects(home):
    """How many objects the home's store holds."""
    return sum(1 for p in (pathlib.Path(home) / "store/objects").rglob("*") if p.is_file())


class World(RpmWorld):
    """rpm_world's day-1 and patch-day repositories and a signed file set (binary and
    clearsigned), mirrored by the low side into bundles: rocky-000001 (day 1), rocky-000002
    (patch day), fw-000001."""

    def build(self):
        self.files = fu.build_files(self.dir / "up/files", self.key, "binary")
        self.clearsigned = fu.build_files(self.dir / "up/files-clearsigned", self.key, "clearsigned")

    def mirror_repos(self):
        self.add_repo("rocky", "rpm", "current")
        self.add_repo("fw", "files", "files")
        self.add_repo("fw2", "files", "files-clearsigned")
        self.point("current", self.day1)
        self.sync_export("rocky")
        self.point("current", self.patch)
        self.sync_export("rocky")
        self.sync_export("fw")
        run(MIRROR, "sync", "fw2", home=self.low)


def setUpModule():
    global W
    W = World(MIRROR, "airlock-rpm-test-")


def tearDownModule():
    if W:
        W.close()


class RpmEndToEndTest(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="airlock-rpm-high-"))
        self.home = self.tmp / "high"
        high_side(REPO, self.home, W.low)
        self.server = None

    def tearDown(self):
        if self.server and self.server.proc.poll() is None:
            self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def repo(self, *args, expect=0):
        return run(REPO, *args, home=self.home, expect=expect)

    def test_dnf_installs_upgrades_and_follows_a_rollback_with_the_vendor_signature_checked(self):
        self.repo("import", W.media / "airlock-rocky-000001", "--publish", "prod", "--create")
        self.server = Server(REPO, self.home)
        host = DnfClient(self.tmp / "host", f"{self.server.url}/prod/rocky", W.key.armored)
        W.hosts.append(host)
        host.install("hello")
        installed = host.installed()
        for name in ("hello", "libgreet", "greet-data", "greet-words"):
            self.assertEqual(installed.get(name), "1.0-1", installed)

        # Patch day: the second bundle is published, dnf sees the advisory and upgrades.
        self.repo("import", W.media / "airlock-rocky-000002", "--publish", "prod")
        self.assertIn((ru.ADVISORY_ID, "security", "Important"), host.advisories())
        host.upgrade()
        self.assertEqual(host.installed()["hello"], "2.0-1")
        self.assertEqual(host.installed()["libgreet"], "2.0-1")

        # Rollback: the channel goes back one step and dnf follows it.
        self.repo("rollback", "prod", "rocky", "--reason", "regression")
        host.distro_sync()
        self.assertEqual(host.installed()["hello"], "1.0-1")

        for path, expected in [("repodata/repomd.xml", "application/xml"),
                               ("repodata/repomd.xml.asc", "application/pgp-signature")]:
            with urllib.request.urlopen(f"{self.server.url}/prod/rocky/{path}", timeout=30) as r:
                self.assertEqual(r.headers["Content-Type"], expected, path)

        # Every file dnf pulled is a pull record naming the file.
        self.server.stop()
        pulls = [json.loads(line) for line in self.repo("log", "show", "--json").stdout.splitlines()]
        paths = {r.get("path", "") for r in pulls if r["event"] == "pull" and r.get("status") == 200}
        self.assertIn("/prod/rocky/repodata/repomd.xml", paths)
        self.assertIn("/prod/rocky/repodata/repomd.xml.asc", paths)
        self.assertTrue(any(p.endswith("hello-2.0-1.noarch.rpm") for p in paths), paths)

        # The chain of custody of the upgrade: who pulled it, and the vendor key that signed
        # the repomd.xml it was fetched under.
        trace = json.loads(self.repo("trace", "hello=2.0-1", "--json").stdout)
        self.assertEqual([p["name"] + "=" + p["version"] for p in trace["packages"]], ["hello=2.0-1"])
        links = {x["link"] for x in trace["links"]}
        self.assertTrue({"pull", "snapshot", "publish", "import", "sync", "checkpoint"} <= links, links)
        [sync] = [x for x in trace["links"] if x["link"] == "sync"]
        self.assertEqual(sync["repomd"]["signed_by"], W.key.fingerprint)
        text = self.repo("trace", "hello=2.0-1").stdout
        self.assertIn(W.key.fingerprint, text)

        # The compliance report shows the patch day's upgrade and what the host took.
        report = json.loads(self.repo("report", "--json").stdout)
        [patch] = [x for x in report["imports"] if x["bundle"] == "airlock-rocky-000002"]
        upgraded = {(p["name"], p["old"], p["new"]) for p in patch["changes"][0]["packages"]
                    if p["change"] == "upgraded"}
        self.assertIn(("hello", "1.0-1", "2.0-1"), upgraded)
        self.assertIn(("libgreet", "1.0-1", "2.0-1"), upgraded)
        self.assertTrue(report["hosts"], report["hosts"])

    def test_dnf_installs_over_https_with_a_host_certificate_and_every_pull_names_the_host(self):
        self.repo("import", W.media / "airlock-rocky-000001", "--publish", "prod", "--create")
        self.repo("ca", "init")
        self.repo("ca", "issue", "127.0.0.1")
        self.repo("ca", "issue", "rhel1.example", "--out", self.tmp / "rhel1")
        issued = self.home / "ca/hosts/127.0.0.1"
        self.server = Server(REPO, self.home, plain=False, args=[
            "--listen-tls", "127.0.0.1:0", "--tls-cert", issued / "127.0.0.1.crt", "--tls-key",
            issued / "127.0.0.1.key", "--client-ca", self.home / "ca/ca.crt"])
        cert = self.tmp / "rhel1"
        host = DnfClient(self.tmp / "host", f"{self.server.tls_url}/prod/rocky", W.key.armored,
                         sslcacert=cert / "ca.crt", sslclientcert=cert / "rhel1.example.crt",
                         sslclientkey=cert / "rhel1.example.key")
        W.hosts.append(host)
        host.install("hello")
        self.assertEqual(host.installed()["hello"], "1.0-1")
        # Without a certificate the handshake is refused, and that is logged too.
        anonymous = DnfClient(self.tmp / "anonymous", f"{self.server.tls_url}/prod/rocky", W.key.armored,
                              sslcacert=cert / "ca.crt")
        W.hosts.append(anonymous)
        self.assertNotEqual(anonymous.makecache(expect=None).returncode, 0)
        self.server.stop()
        pulls = [json.loads(line) for line in self.repo("log", "show", "--json").stdout.splitlines()]
        pulls = [r for r in pulls if r["event"] == "pull"]
        served = [r for r in pulls if r.get("status") == 200]
        self.assertTrue(any(r["path"].endswith("hello-1.0-1.noarch.rpm") for r in served))
        self.assertTrue(all(r.get("client_subject") == "CN=rhel1.example" for r in served), served[0])
        self.assertIn(496, [r.get("status") for r in pulls])

    def test_a_second_sync_of_an_unchanged_upstream_records_no_new_snapshot(self):
        for repo in ("rocky", "fw"):
            with self.subTest(repo):
                before = json.loads(run(MIRROR, "snapshots", repo, "--json", home=W.low).stdout)
                dry = json.loads(run(MIRROR, "sync", repo, "--dry-run", "--json", home=W.low).stdout)
                self.assertEqual((dry[0]["unchanged"], dry[0]["would_fetch_files"]), (True, 0))
                [r] = json.loads(run(MIRROR, "sync", repo, "--json", home=W.low).stdout)
                self.assertTrue(r["unchanged"])
                self.assertEqual(r["snapshot"], before[-1]["id"])
                # At most the signed head files again; no package, no metadata file.
                self.assertLessEqual(r["fetched_files"], 2)
                self.assertGreater(r["packages"], 0)
                after = json.loads(run(MIRROR, "snapshots", repo, "--json", home=W.low).stdout)
                self.assertEqual(after, before)

    def test_snapshots_show_lists_the_advisories_on_both_sides(self):
        snaps = json.loads(run(MIRROR, "snapshots", "rocky", "--json", home=W.low).stdout)
        newest = snaps[-1]["id"]
        low = json.loads(run(MIRROR, "snapshots", "show", newest, "--json", home=W.low).stdout)
        [advisory] = low["advisories"]
        self.assertEqual((advisory["id"], advisory["type"], advisory["severity"]),
                         (ru.ADVISORY_ID, "security", "Important"))
        self.assertIn(ru.ADVISORY_CVE, advisory["references"])
        self.assertIn("hello-2.0-1.noarch", advisory["packages"])
        self.assertIn("repomd/signature", low["release"])
        self.assertTrue(low["release"]["repomd/signature"].startswith("signed by " + W.key.fingerprint))
        self.repo("import", W.media / "airlock-rocky-000001")
        self.repo("import", W.media / "airlock-rocky-000002")
        text = self.repo("snapshots", "show", newest[:12]).stdout
        self.assertIn(ru.ADVISORY_ID, text)
        self.assertIn("Important", text)
        self.assertIn(ru.ADVISORY_CVE, text)
        self.assertRegex(text, r"hello\s+2\.0-1\s+noarch")

    def test_a_signed_file_set_crosses_and_is_fetched_byte_identical(self):
        self.repo("import", W.media / "airlock-fw-000001", "--publish", "prod", "--create")
        self.server = Server(REPO, self.home)
        root = pathlib.Path(W.files)
        listed = [line.split(None, 1)[1].lstrip("*") for line in (root / "SHA256SUMS").read_text().splitlines()]
        self.assertTrue(listed)
        fetched = self.tmp / "fetched"
        for path in listed + ["SHA256SUMS", "SHA256SUMS.gpg"]:
            out = fetched / path
            out.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["curl", "-sSf", "-o", out, f"{self.server.url}/prod/fw/{path}"], check=True)
            self.assertEqual(out.read_bytes(), (root / path).read_bytes(), path)
        # The host re-checks the list itself.
        subprocess.run(["gpgv", "--keyring", W.key.keyring, fetched / "SHA256SUMS.gpg", fetched / "SHA256SUMS"],
                       check=True, capture_output=True)
        subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=fetched, check=True)
        for path, expected in [("images/installer-12.iso", "application/x-iso9660-image"),
                               ("SHA256SUMS", "text/plain; charset=utf-8"),
                               ("SHA256SUMS.gpg", "application/pgp-signature"),
                               ("tools/vendor-tool-1.2.tar.gz", "application/gzip")]:
            with urllib.request.urlopen(f"{self.server.url}/prod/fw/{path}", timeout=30) as r:
                self.assertEqual(r.headers["Content-Type"], expected, path)
        missing = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                  f"{self.server.url}/prod/fw/not-listed.bin"], capture_output=True, text=True)
        self.assertEqual(missing.stdout, "404")


class HostileUpstreamTest(unittest.TestCase):
    """Each broken upstream is refused by sync with one line and exit 3; nothing is recorded."""

    def setUp(self):
        # Upstreams are built under the upstream server's root, low homes beside it.
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="hostile-", dir=W.dir / "up"))
        self.low = W.dir / ("low-" + self.tmp.name)
        run(MIRROR, "init", home=self.low)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.low, ignore_errors=True)

    def url_path(self, src):
        return str(pathlib.Path(src).relative_to(W.dir / "up"))

    def refused(self, name, kind, src, expected, keyring=None, extra="", stored=0):
        W.add_repo(name, kind, self.url_path(src), keyring=keyring, home=self.low, extra=extra)
        log_before = run(MIRROR, "log", "show", "--json", home=self.low).stdout
        p = run(MIRROR, "sync", name, home=self.low, expect=3)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(expected, lines[0])
        self.assertEqual(run(MIRROR, "snapshots", "--json", home=self.low).stdout.strip(), "[]")
        self.assertEqual(run(MIRROR, "log", "show", "--json", home=self.low).stdout, log_before)
        if stored is not None:
            self.assertEqual(objects(self.low), stored)
        return lines[0]

    def test_rpm_upstreams_that_break_the_chain_are_refused(self):
        h = self.tmp / "variants"
        cases = [
            ("unsigned", ru.unsigned(W.day1, h / "unsigned"), "is not signed (no repomd.xml.asc)"),
            ("wrongkey", ru.wrong_key(W.day1, h / "wrongkey", W.other),
             f"repomd.xml: repomd.xml is not signed by a key in {W.key.keyring} "
             f"(key {W.other.fingerprint[-16:]})"),
            ("metadata", ru.metadata_mismatch(W.day1, h / "metadata"), "the size the signed index declares"),
            ("dotdot", ru.unsafe_href(W.day1, h / "dotdot", W.key), "unsafe pool path"),
            ("absolute", ru.unsafe_href(W.day1, h / "absolute", W.key, ru.ABSOLUTE_HREF), "unsafe pool path"),
            ("bomb", ru.xml_bomb(W.day1, h / "bomb", W.key), "document type declaration is not allowed"),
            ("metapath", ru.unsafe_href(W.day1, h / "metapath", W.key, "repodata/repomd.xml.asc"),
             "names a package at repodata/repomd.xml.asc, where the signed metadata has a file of "
             "other bytes"),
        ]
        for name, src, expected in cases:
            with self.subTest(name):
                self.refused(name, "rpm", src, expected)
        # A package whose bytes are not primary's: the others stay stored for a resume.
        self.refused("package", "rpm", ru.package_mismatch(W.day1, h / "package"), "1 of", stored=None)

    def test_a_huge_primary_is_refused_before_it_is_fetched(self):
        src, huge = ru.huge_primary(W.day1, self.tmp / "huge", W.key)
        W.server.stream[f"/{self.url_path(src)}/{huge.href}"] = (huge.size, huge.chunks)
        line = self.refused("huge", "rpm", src, "more than the 536870912 a metadata file may have")
        self.assertIn("1073741824", line)

    def test_an_older_repomd_is_refused_as_a_rollback(self):
        older = ru.older_revision(W.patch, self.tmp / "older", W.key)
        link = self.tmp / "current"
        link.symlink_to(W.patch)
        W.add_repo("back", "rpm", self.url_path(link), home=self.low)
        run(MIRROR, "sync", "back", home=self.low)
        link.unlink()
        link.symlink_to(older)
        before = run(MIRROR, "snapshots", "--json", home=self.low).stdout
        p = run(MIRROR, "sync", "back", home=self.low, expect=3)
        self.assertIn("older than the last snapshot's", p.stderr)
        self.assertIn("the upstream went back in time", p.stderr)
        self.assertEqual(run(MIRROR, "snapshots", "--json", home=self.low).stdout, before)

    def test_file_sets_that_break_the_chain_are_refused(self):
        h = self.tmp / "files"
        cases = [
            ("unsigned", fu.unsigned(W.files, h / "unsigned"), "is not signed"),
            ("wrongkey", fu.wrong_key(W.files, h / "wrongkey", W.other),
             f"SHA256SUMS: SHA256SUMS is not signed by a key in {W.key.keyring} "
             f"(key {W.other.fingerprint[-16:]})"),
            ("mismatch", fu.checksum_mismatch(W.files, h / "mismatch"), "1 of"),
        ]
        for name, src, expected in cases:
            with self.subTest(name):
                self.refused(name, "files", src, expected, stored=None)

    def test_files_of_one_content_under_two_paths_are_fetched_once_and_both_carried(self):
        src = ru.fresh_copy(W.files, self.tmp / "twins")
        shutil.copy(src / "firmware/bmc-2.14.bin", src / "firmware/bmc-2.14-copy.bin")
        paths = list(fu.FILES) + ["firmware/bmc-2.14-copy.bin"]
        (src / "SHA256SUMS").write_text(fu.sha256sums(src, paths))
        fu.sign_list(src, W.key, "clearsigned")
        W.add_repo("twins", "files", self.url_path(src), home=self.low)
        [r] = json.loads(run(MIRROR, "sync", "twins", "--json", home=self.low).stdout)
        self.assertEqual(r["packages"], len(paths))
        shown = json.loads(run(MIRROR, "snapshots", "show", r["snapshot"], "--json", home=self.low).stdout)
        self.assertEqual({p["path"] for p in shown["packages"]}, set(paths))
        self.assertTrue(all(p["size"] > 0 for p in shown["packages"]), shown["packages"])
        self.assertEqual(shown["release"]["list/signature"], "signed by " + W.key.fingerprint)
        fetched = [g for g in W.server.gets(f"/{self.url_path(src)}/firmware/")]
        self.assertEqual(len(fetched), 1, fetched)

    def test_a_file_whose_content_changed_is_listed_as_upgraded(self):
        src = ru.fresh_copy(W.files, self.tmp / "changed")
        W.add_repo("changed", "files", self.url_path(src), home=self.low)
        [first] = json.loads(run(MIRROR, "sync", "changed", "--json", home=self.low).stdout)
        old = hashlib.sha256((src / "firmware/bmc-2.14.bin").read_bytes()).hexdigest()
        # New content whose digest starts with a digit where the old one starts with a
        # letter: dpkg's order would call it older.
        self.assertTrue(old[0].isalpha(), old)
        new = next(b for b in (fu._bytes(f"bmc-new-{i}", 64 << 10) for i in range(200))
                   if hashlib.sha256(b).hexdigest()[0].isdigit())
        (src / "firmware/bmc-2.14.bin").write_bytes(new)
        (src / "SHA256SUMS").write_text(fu.sha256sums(src, list(fu.FILES)))
        fu.sign_list(src, W.key, "binary")
        [second] = json.loads(run(MIRROR, "sync", "changed", "--json", home=self.low).stdout)
        diff = json.loads(run(MIRROR, "diff", first["snapshot"], second["snapshot"], "--json",
                              home=self.low).stdout)
        changes = [(p["change"], p["name"], p["old"], p["new"]) for p in diff["changes"][0]["packages"]]
        self.assertEqual(changes, [("upgraded", "firmware/bmc-2.14.bin", old[:16],
                                    hashlib.sha256(new).hexdigest()[:16])])

    def test_a_list_naming_a_path_outside_the_tree_is_refused(self):
        src = ru.fresh_copy(W.files, self.tmp / "outside")
        digest = hashlib.sha256((src / "firmware/bmc-2.14.bin").read_bytes()).hexdigest()
        with open(src / "SHA256SUMS", "a") as f:
            f.write(f"{digest}  ../outside.bin\n")
        fu.sign_list(src, W.key, "clearsigned")
        self.refused("outside", "files", src, "SHA256SUMS names an unsafe path '../outside.bin'")

    def test_unsigned_metadata_is_accepted_only_when_said_and_each_snapshot_records_it(self):
        src = ru.unsigned(W.day1, self.tmp / "unsigned")
        W.add_repo("unsigned", "rpm", self.url_path(src), home=self.low, extra="check_signature = false\n")
        [r] = json.loads(run(MIRROR, "sync", "unsigned", "--json", home=self.low).stdout)
        self.assertGreater(r["packages"], 0)
        shown = json.loads(run(MIRROR, "snapshots", "show", r["snapshot"], "--json", home=self.low).stdout)
        self.assertEqual(shown["release"]["repomd/signature"], "not checked (check_signature = false)")

    def test_a_file_the_list_does_not_name_is_not_carried(self):
        src = fu.unlisted_file(W.files, self.tmp / "unlisted")
        W.add_repo("unlisted", "files", self.url_path(src), home=self.low)
        run(MIRROR, "sync", "unlisted", home=self.low)
        [snap] = json.loads(run(MIRROR, "snapshots", "--json", home=self.low).stdout)
        shown = json.loads(run(MIRROR, "snapshots", "show", snap["id"], "--json", home=self.low).stdout)
        carried = {p["path"] for p in shown["packages"]}
        listed = {line.split(None, 1)[1].lstrip("*") for line in (src / "SHA256SUMS").read_text().splitlines()}
        self.assertEqual(carried, listed)


if __name__ == "__main__":
    unittest.main(verbosity=2)
