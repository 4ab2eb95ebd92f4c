#!/usr/bin/env python3
"""Partial mirrors end to end: a repository mirrored with a `packages` filter
crosses in bundles, the isolated side serves an index of exactly the carried
packages signed by its own OpenPGP site key, real apt clients (an empty dpkg
status, and one with older versions installed) install from it with no 404,
and airlock-verify proves every stanza of that index is the vendor's.

    partial_test.py AIRLOCK_MIRROR AIRLOCK_REPO AIRLOCK_VERIFY MAKE_SAMPLE_UPSTREAM
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hosts import AptClient, Server, run  # noqa: E402
from upstream_server import UpstreamServer  # noqa: E402

MIRROR, REPO, VERIFY, MAKE_SAMPLE = sys.argv[1:5]
del sys.argv[1:5]
W = None

# What the filter selects on the sample upstream.
SELECTED = ["hello-airlock"]


# The dependency closure of airlock-app in the sample's deps/ repository
# (scripts/make-sample-upstream): Pre-Depends, three deep, a virtual package
# and the first satisfiable alternative.
CLOSURE = ["airlock-app_2.0-1_amd64.deb", "airlock-base_1.0-1_amd64.deb", "airlock-data_1.0-1_all.deb",
           "airlock-syslog_1.0-1_amd64.deb", "airlock-transport-https_1.0-1_amd64.deb",
           "libairlock-common_1.2-1_amd64.deb", "libairlock-core_1.2-1_amd64.deb"]


class World:
    """The low side mirrors the sample with a filter, day 1 then day 2 (stream
    sample), and deps/ filtered to airlock-app (stream deps)."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-partial-test-"))
        subprocess.run([MAKE_SAMPLE, self.dir / "upstream"], check=True, capture_output=True)
        self.keyring = self.dir / "upstream/keyring.gpg"
        self.low = self.dir / "low"
        self.media = self.dir / "media"
        run(MIRROR, "init", home=self.low)
        run(MIRROR, "keygen", "alice", home=self.low)
        self.mirror("sample", SELECTED, ["day1", "day2"])
        self.mirror("deps", ["airlock-app"], ["deps"])
        self.b1 = self.media / "airlock-sample-000001"
        self.b2 = self.media / "airlock-sample-000002"
        self.deps = self.media / "airlock-deps-000001"

    def mirror(self, name, packages, days):
        upstream = UpstreamServer(self.dir / "upstream" / days[0], idle_timeout=600).start()
        selected = ", ".join(f'"{p}"' for p in packages)
        with open(self.low / "mirror.toml", "a") as f:
            f.write(f'\n[[repo]]\nname = "{name}"\nkind = "apt"\nurl = "{upstream.url}"\n'
                    f'suites = ["bookworm"]\ncomponents = ["main"]\narchitectures = ["amd64"]\n'
                    f'keyring = "{self.keyring}"\npackages = [{selected}]\n')
        try:
            for day in days:
                upstream.set_root(self.dir / "upstream" / day)
                run(MIRROR, "sync", name, home=self.low)
                run(MIRROR, "export", "--mkdir", "--stream", name, "--repo", name, "--out", self.media, "--key", "alice",
                    home=self.low)
        finally:
            upstream.stop()


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.dir, ignore_errors=True)


class PartialMirrorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="airlock-partial-high-"))
        self.home = self.tmp / "high"
        out = run(REPO, "init", home=self.home).stdout
        self.assertRegex(out, r"site key +OpenPGP [0-9A-F]{40} \(new\)")
        run(REPO, "trust", "add", W.low / "keys/alice.pub", "--name", "alice", home=self.home)
        self.site_key = self.tmp / "airlock-site.asc"
        run(REPO, "site-key", "export", "--out", self.site_key, home=self.home)
        self.server = None

    def tearDown(self):
        if self.server and self.server.proc.poll() is None:
            self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def repo(self, *args, expect=0):
        return run(REPO, *args, home=self.home, expect=expect)

    def get(self, path):
        with urllib.request.urlopen(self.server.url + path, timeout=30) as r:
            return r.read()

    def log(self, event):
        lines = self.repo("log", "show", "--json").stdout.splitlines()
        return [r for r in map(json.loads, lines) if r["event"] == event]

    def test_hosts_install_and_upgrade_from_a_site_signed_index_of_the_carried_packages(self):
        imported = json.loads(self.repo("import", W.b1, "--publish", "test", "--create", "--json").stdout)
        self.assertEqual([s["repo"] for s in imported["site_indices"]], ["sample"])
        self.server = Server(REPO, self.home)

        # The index lists exactly the carried packages, each stanza the vendor's bytes.
        site = self.get("/test/sample/dists/bookworm/main/binary-amd64/Packages").decode()
        vendor = (W.dir / "upstream/day1/dists/bookworm/main/binary-amd64/Packages").read_text()
        stanzas = [s for s in site.split("\n\n") if s.strip()]
        self.assertEqual(sorted(s.split("\n")[0] for s in stanzas), [f"Package: {p}" for p in SELECTED])
        for s in stanzas:
            self.assertIn(s.strip("\n") + "\n", vendor)
        # The vendor's own index variants are not served for a filtered repository.
        for gone in ("main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz"):
            with self.assertRaises(urllib.error.HTTPError) as e:
                self.get("/test/sample/dists/bookworm/" + gone)
            self.assertEqual(e.exception.code, 404)
        # The Release is the site key's: gpgv with the site key accepts it, the vendor's keyring does not.
        inrelease = self.tmp / "InRelease"
        inrelease.write_bytes(self.get("/test/sample/dists/bookworm/InRelease"))
        site_gpg = self.tmp / "site.gpg"
        subprocess.run(["gpg", "--batch", "--dearmor", "-o", site_gpg, self.site_key], check=True,
                       env={**os.environ, "GNUPGHOME": str(self.tmp)})
        self.assertEqual(subprocess.run(["gpgv", "--keyring", site_gpg, inrelease],
                                        capture_output=True).returncode, 0)
        self.assertNotEqual(subprocess.run(["gpgv", "--keyring", W.keyring, inrelease],
                                           capture_output=True).returncode, 0)

        # A new host, nothing installed.
        fresh = AptClient(self.tmp / "host-fresh", self.server.url, "test", self.site_key)
        fresh.apt("apt-get", "update")
        self.assertEqual(fresh.candidate("hello-airlock"), "1.0-1")
        self.assertEqual(fresh.candidate("libairlock-demo"), "(none)")  # in the vendor index, not carried
        self.assertEqual(fresh.download(*SELECTED), ["hello-airlock_1.0-1_amd64.deb"])

        # Patch day: a host that has older versions of a carried package and of one
        # the mirror does not carry sees only the carried upgrade.
        self.repo("import", W.b2, "--publish", "test")
        older = AptClient(self.tmp / "host-older", self.server.url, "test", self.site_key,
                          installed=[("hello-airlock", "1.0-1", "amd64"), ("libairlock-demo", "0.9-1", "amd64")])
        older.apt("apt-get", "update")
        self.assertEqual(older.upgradable(), [("hello-airlock", "1.1-1")])
        self.assertEqual(older.download("hello-airlock"), ["hello-airlock_1.1-1_amd64.deb"])
        fresh.apt("apt-get", "update")
        self.assertEqual(fresh.candidate("hello-airlock"), "1.1-1")

        code, _, _ = self.server.stop()
        self.assertEqual(code, 0)
        pulls = self.log("pull")
        self.assertTrue(pulls)
        self.assertEqual([p["path"] for p in pulls if p["status"] == 404 and "Packages." not in p["path"]
                          and "Translation" not in p["path"]], [])
        imports = [r for r in self.log("import") if r["result"] == "imported"]
        self.assertEqual(len(imports), 2)
        for r in imports:
            self.assertRegex(r["site_key"], "^[0-9A-F]{40}$")
            self.assertEqual([s["repo"] for s in r["site_indices"]], ["sample"])

    def test_a_host_installs_a_package_and_its_dependency_closure_with_nothing_else_listed(self):
        self.repo("import", W.deps, "--publish", "test", "--create")
        self.server = Server(REPO, self.home)
        fresh = AptClient(self.tmp / "host-deps", self.server.url, "test", self.site_key, repo="deps")
        fresh.apt("apt-get", "update")
        self.assertEqual(fresh.download("airlock-app"), CLOSURE)
        # Outside the closure: listed by the vendor, not carried, so not shown.
        for name in ("airlock-doc", "airlock-transport-http"):
            self.assertEqual(fresh.candidate(name), "(none)")
        self.assertEqual(fresh.candidate("libairlock-core"), "1.2-1")
        installed = fresh.install("airlock-app")
        self.assertEqual(installed, sorted(tuple(n.split("_")[:2]) for n in CLOSURE))
        self.assertTrue((fresh.root / "usr/bin/airlock-app").exists())

        # A host with older versions of a carried package and of two the mirror does not
        # carry (the vendor index has newer ones): only the carried upgrade is listed.
        older = AptClient(self.tmp / "host-deps-older", self.server.url, "test", self.site_key, repo="deps",
                          installed=[("libairlock-core", "1.0-1", "amd64"), ("airlock-doc", "0.9-1", "all"),
                                     ("airlock-transport-http", "0.9-1", "amd64")])
        older.apt("apt-get", "update")
        self.assertEqual(older.upgradable(), [("libairlock-core", "1.2-1")])
        self.assertIn("libairlock-core_1.2-1_amd64.deb", older.download("libairlock-core"))
        self.server.stop()
        self.assertEqual([p["path"] for p in self.log("pull") if p["status"] == 404], [])

    def test_airlock_verify_proves_each_stanza_and_refuses_one_changed_byte(self):
        self.repo("import", W.b1, "--publish", "test", "--create")
        self.repo("import", W.b2, "--publish", "test")
        self.server = Server(REPO, self.home)
        packages = self.tmp / "Packages"
        packages.write_bytes(self.get("/test/sample/dists/bookworm/main/binary-amd64/Packages"))
        self.server.stop()
        carried = packages.read_text().count("Package: ")
        self.assertEqual(carried, 2)  # hello-airlock 1.0-1 and 1.1-1
        args = ["index", packages, "--bundle", W.b1, "--bundle", W.b2, "--key", W.low / "keys/alice.pub",
                "--vendor-keyring", W.keyring]
        ok = run(VERIFY, *args)
        self.assertRegex(ok.stdout, rf"site index +{packages}  {carried} stanzas, each byte-identical")
        self.assertTrue(ok.stdout.endswith("OK\n"))
        proof = json.loads(run(VERIFY, *args, "--json").stdout)
        self.assertEqual(proof["site_indices"], [{"file": str(packages), "stanzas": carried}])
        self.assertEqual(proof["bundles"], ["airlock-sample-000001", "airlock-sample-000002"])

        # One byte of one stanza changed: refused, naming the stanza.
        text = packages.read_text()
        packages.write_text(text.replace("Priority: optional", "Priority: optionaL", 1))
        bad = run(VERIFY, *args, expect=3)
        self.assertEqual(bad.stdout, "")
        self.assertRegex(bad.stderr.strip(), r"^airlock-verify: .*Packages: stanza 1 \(hello-airlock 1\.\d-1 amd64\) "
                                             r"is not byte-identical to any stanza of the vendor-signed index$")
        # The vendor's signature is checked too: the wrong keyring refuses.
        packages.write_text(text)
        wrong = run(VERIFY, *args[:-1], W.dir / "upstream/other-keyring.gpg", expect=3)
        self.assertIn("InRelease", wrong.stderr)
        self.assertIn("not signed by a key in", wrong.stderr)

    def test_site_key_and_index_usage_errors_say_what_is_missing_and_change_nothing(self):
        before = self.repo("log", "show", "--json").stdout
        for args in ((), ("import",)):
            out = self.repo("site-key", *args, expect=2)
            self.assertEqual(out.stdout, "")
            self.assertEqual(out.stderr.splitlines()[0], "airlock-repo: site-key: the only action is 'export'")
        bundle_args = ["--bundle", W.b1]
        for args, says in ((["index"], "missing the site index file(s)"),
                           (["index", "Packages"], "--bundle DIR is required (repeatable)"),
                           (["index", "Packages", *bundle_args], "--vendor-keyring FILE is required"),
                           (["index", "Packages", *bundle_args, "--vendor-keyring", W.keyring],
                            "give either --trust FILE or --key PUB (one or more)")):
            out = run(VERIFY, *args, expect=2)
            self.assertEqual(out.stdout, "")
            self.assertEqual(out.stderr.splitlines()[0], "airlock-verify: index: " + says)
        # Without the key there is nothing to export, and nothing is written.
        shutil.rmtree(self.home / "site")
        out = self.repo("site-key", "export", "--out", self.tmp / "again.asc", expect=1)
        self.assertEqual(out.stderr.strip(), f"airlock-repo: this home has no site key (run 'airlock-repo --home "
                                             f"{self.home} init' to make one)")
        self.assertFalse((self.tmp / "again.asc").exists())
        self.assertEqual(self.repo("log", "show", "--json").stdout, before)

    def test_without_a_site_key_a_filtered_bundle_is_not_imported_and_nothing_changes(self):
        shutil.rmtree(self.home / "site")
        before = self.repo("log", "show", "--json").stdout
        out = self.repo("import", W.b1, "--publish", "test", "--create", expect=1)
        self.assertEqual(out.stderr.strip(), f"airlock-repo: the index of filtered repository 'sample': this home has "
                                             f"no site key (run 'airlock-repo --home {self.home} init' to make one)")
        self.assertEqual(self.repo("log", "show", "--json").stdout, before)
        self.assertEqual(json.loads(self.repo("channels", "--json").stdout), [])
        self.assertEqual(json.loads(self.repo("snapshots", "--json").stdout), [])


# Each step of an upstream's life and the change summary its bundle must carry,
# written by hand: (upstream day, packages filter, summary lines; sizes as SIZE).
SEQUENCE = [
    ("day1", ["hello-airlock", "airlock-tools"], [
        "seq: 2 added (SIZE), 0 upgraded, 0 downgraded, 0 removed",
        "  added      airlock-tools (amd64) 2.3-1  SIZE",
        "  added      hello-airlock (amd64) 1.0-1  SIZE"]),
    ("day2", ["hello-airlock", "airlock-tools"], [  # patch day: an upgrade
        "seq: 0 added, 1 upgraded (SIZE), 0 downgraded, 0 removed",
        "  upgraded   hello-airlock (amd64) 1.0-1 -> 1.1-1  SIZE"]),
    ("day3", ["hello-airlock", "airlock-tools"], [  # the vendor dropped airlock-tools
        "seq: 0 added, 0 upgraded, 0 downgraded, 1 removed",
        "  removed    airlock-tools (amd64) 2.3-1"]),
    ("day3", ["hello-airlock", "airlock-extra"], [  # the filter changed, the upstream did not
        "seq: 1 added (SIZE), 0 upgraded, 0 downgraded, 0 removed",
        "  added      airlock-extra (amd64) 0.9-1  SIZE"]),
]


class ChangeSummaryTest(unittest.TestCase):
    """What a bundle carries, as export prints it, as airlock-verify bundle --list
    and airlock-repo import show it: the same signed summary, matching by hand."""

    def assert_summary(self, output, lines, where):
        pattern = "\n".join(re.escape(line).replace("SIZE", r"[0-9.]+ (?:B|KiB|MiB)") for line in lines)
        self.assertRegex(output, "(?m)^" + pattern + "$", where)
        # Nothing more for the repository than the lines written above.
        block = output[output.index(lines[0].split(" (")[0].split(",")[0]):]
        listed = [line for line in block.splitlines() if line.startswith("  ") and line.strip()
                  and line.split()[0] in ("added", "upgraded", "downgraded", "removed")]
        self.assertEqual(len(listed), len(lines) - 1, where)

    def test_export_verify_and_import_show_the_same_signed_change_summary(self):
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="airlock-changes-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        low, high, media = tmp / "low", tmp / "high", tmp / "media"
        run(MIRROR, "init", home=low)
        run(MIRROR, "keygen", "alice", home=low)
        config = (low / "mirror.toml").read_text()
        upstream = UpstreamServer(W.dir / "upstream/day1", idle_timeout=600).start()
        self.addCleanup(upstream.stop)
        run(REPO, "init", home=high)
        run(REPO, "trust", "add", low / "keys/alice.pub", home=high)
        for n, (day, packages, lines) in enumerate(SEQUENCE, start=1):
            upstream.set_root(W.dir / "upstream" / day)
            (low / "mirror.toml").write_text(
                config + f'\n[[repo]]\nname = "seq"\nkind = "apt"\nurl = "{upstream.url}"\n'
                f'suites = ["bookworm"]\ncomponents = ["main"]\narchitectures = ["amd64"]\n'
                f'keyring = "{W.keyring}"\npackages = {json.dumps(packages)}\n')
            run(MIRROR, "sync", home=low)
            exported = run(MIRROR, "export", "--mkdir", "--stream", "seq", "--out", media, "--key", "alice", home=low).stdout
            bundle = media / f"airlock-seq-{n:06d}"
            self.assert_summary(exported, lines, f"export {n}")
            listed = run(VERIFY, "bundle", bundle, "--key", low / "keys/alice.pub", "--list").stdout
            self.assert_summary(listed, lines, f"airlock-verify bundle --list {n}")
            imported = run(REPO, "import", bundle, home=high).stdout
            self.assert_summary(imported, lines, f"import {n}")
            # The same summary, for scripts, from the signed manifest.
            as_json = json.loads(run(VERIFY, "bundle", bundle, "--key", low / "keys/alice.pub", "--json").stdout)
            self.assertEqual(len(as_json["changes"][0]["packages"]), len(lines) - 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
