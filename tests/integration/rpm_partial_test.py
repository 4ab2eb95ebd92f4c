#!/usr/bin/env python3
"""Partial rpm mirrors end to end: a signed rpm upstream (rpmbuild, createrepo_c, gpg)
mirrored with `packages = ["hello"]` carries hello and its closure across in bundles; the
isolated side serves a primary.xml.gz of exactly the carried packages (each <package>
element the vendor's bytes) listed by a repomd.xml signed with its own OpenPGP site key,
beside the vendor's updateinfo; a real dnf (gpgcheck=1 with the vendor key for the
packages, repo_gpgcheck=1 with the site key for repomd.xml) installs hello, sees the
advisory and upgrades on patch day; airlock-verify proves every element of the site
primary is the vendor's and names the first that is not.

    rpm_partial_test.py AIRLOCK_MIRROR AIRLOCK_REPO AIRLOCK_VERIFY MAKE_SAMPLE_UPSTREAM
"""
import gzip
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rpm_upstream as ru  # noqa: E402
from hosts import DnfClient, Server, high_side, run  # noqa: E402
from rpm_world import RpmWorld  # noqa: E402

MIRROR, REPO, VERIFY = sys.argv[1:4]
del sys.argv[1:5]
W = None

REPO_NS = {"r": "http://linux.duke.edu/metadata/repo"}
COMMON_NS = {"c": "http://linux.duke.edu/metadata/common"}
# hello's closure in rpm_upstream's packages, and what the filter leaves out.
CLOSURE = ("greet-data", "greet-words", "hello", "libgreet")
LEFT_OUT = ("airlock-tools", "other-app", "other-lib")
PACKAGE = re.compile(r"<package .*?</package>", re.S)


class World(RpmWorld):
    """rpm_world's day-1 and patch-day repositories mirrored by the low side with
    packages = ["hello"]: rocky-000001 (day 1) and rocky-000002 (patch day)."""

    def mirror_repos(self):
        self.add_repo("rocky", "rpm", "current", extra='packages = ["hello"]\n')
        for day in (self.day1, self.patch):
            self.point("current", day)
            self.sync_export("rocky")
        self.b1 = self.media / "airlock-rocky-000001"
        self.b2 = self.media / "airlock-rocky-000002"


def setUpModule():
    global W
    W = World(MIRROR, "airlock-rpm-partial-test-")
    unittest.addModuleCleanup(W.close)


class RpmPartialMirrorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="airlock-rpm-partial-high-"))
        self.home = self.tmp / "high"
        high_side(REPO, self.home, W.low)
        self.site_key = self.tmp / "airlock-site.asc"
        run(REPO, "site-key", "export", "--out", self.site_key, home=self.home)
        self.server, self.hosts = None, []

    def tearDown(self):
        if self.server and self.server.proc.poll() is None:
            self.server.stop()
        for host in self.hosts:
            host.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def repo(self, *args, expect=0):
        return run(REPO, *args, home=self.home, expect=expect)

    def fetch(self, path):
        """(HTTP status, body) of path on the server; the body is empty unless 200."""
        try:
            with urllib.request.urlopen(self.server.url + path, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, b""

    def get(self, path):
        status, body = self.fetch(path)
        self.assertEqual(status, 200, path)
        return body

    def site_primary(self):
        """(href, bytes) of the primary the served repomd.xml lists."""
        repomd = ET.fromstring(self.get("/prod/rocky/repodata/repomd.xml"))
        [data] = [d for d in repomd.findall("r:data", REPO_NS) if d.get("type") == "primary"]
        href = data.find("r:location", REPO_NS).get("href")
        return href, self.get("/prod/rocky/" + href)

    def dnf(self, name, keys):
        host = DnfClient(self.tmp / name, f"{self.server.url}/prod/rocky", keys)
        self.hosts.append(host)
        return host

    def log(self, event):
        lines = self.repo("log", "show", "--json").stdout.splitlines()
        return [r for r in map(json.loads, lines) if r["event"] == event]

    def test_dnf_installs_and_upgrades_from_a_site_signed_primary_of_the_carried_packages(self):
        imported = json.loads(self.repo("import", W.b1, "--publish", "prod", "--create", "--json").stdout)
        self.assertEqual([s["repo"] for s in imported["site_indices"]], ["rocky"])
        self.server = Server(REPO, self.home)

        # The served primary lists exactly hello's closure, each element the vendor's bytes.
        href, gz = self.site_primary()
        self.assertRegex(href, r"^repodata/[0-9a-f]{64}-primary\.xml\.gz$")
        site = gzip.decompress(gz).decode()
        names = sorted(p.find("c:name", COMMON_NS).text
                       for p in ET.fromstring(site).findall("c:package", COMMON_NS))
        self.assertEqual(names, list(CLOSURE))
        self.assertIn('packages="4"', site.split("\n", 2)[1])
        vendor = ru.primary_xml(W.day1)
        for element in PACKAGE.findall(site):
            self.assertIn(element, vendor)
        # The vendor's repodata is not served for a filtered repository (it lists what is not
        # here); the vendor's updateinfo is, as the site repomd.xml lists it.
        entries = ru.repomd_entries(W.day1)
        for kind in ("primary", "filelists", "other"):
            self.assertEqual(self.fetch("/prod/rocky/" + entries[kind]["href"])[0], 404, kind)
        # repomd.xml is the site key's: gpgv with the site key accepts it, the vendor's refuses.
        repomd, asc = self.tmp / "repomd.xml", self.tmp / "repomd.xml.asc"
        repomd.write_bytes(self.get("/prod/rocky/repodata/repomd.xml"))
        asc.write_bytes(self.get("/prod/rocky/repodata/repomd.xml.asc"))
        site_gpg = self.tmp / "site.gpg"
        subprocess.run(["gpg", "--batch", "--dearmor", "-o", site_gpg, self.site_key], check=True,
                       env={**os.environ, "GNUPGHOME": str(self.tmp)})
        gpgv = ["gpgv", "--keyring"]
        self.assertEqual(subprocess.run(gpgv + [site_gpg, asc, repomd], capture_output=True).returncode, 0)
        self.assertNotEqual(subprocess.run(gpgv + [W.key.keyring, asc, repomd], capture_output=True).returncode, 0)

        # A dnf host with the site key (repomd.xml) and the vendor key (the packages' own signatures).
        host = self.dnf("host", [self.site_key, W.key.armored])
        self.assertEqual(host.available(), sorted(f"{n}-1.0-1.noarch" for n in CLOSURE))
        installed = host.install("hello")
        self.assertEqual(installed, {n: "1.0-1" for n in CLOSURE})
        for name in LEFT_OUT:
            self.assertNotEqual(host.dnf("install", name, expect=None).returncode, 0, name)

        # Patch day: dnf sees the vendor's advisory and upgrades to what it fixes.
        self.repo("import", W.b2, "--publish", "prod")
        self.assertIn((ru.ADVISORY_ID, "security", "Important"), host.advisories())
        upgraded = host.upgrade()
        self.assertEqual((upgraded["hello"], upgraded["libgreet"]), ("2.0-1", "2.0-1"))
        available = host.available()
        self.assertIn("hello-2.0-1.noarch", available)
        self.assertFalse([p for p in available if p.rsplit("-", 2)[0] in LEFT_OUT], available)

        code, _, _ = self.server.stop()
        self.assertEqual(code, 0)
        pulls = self.log("pull")
        self.assertEqual([p["path"] for p in pulls if p["status"] == 404 and "/repodata/" not in p["path"]], [])
        self.assertIn("/prod/rocky/repodata/repomd.xml.asc", {p["path"] for p in pulls if p["status"] == 200})
        for r in [r for r in self.log("import") if r["result"] == "imported"]:
            self.assertRegex(r["site_key"], "^[0-9A-F]{40}$")
            self.assertEqual([s["repo"] for s in r["site_indices"]], ["rocky"])

    def test_dnf_with_only_the_vendor_key_refuses_the_site_signed_repomd(self):
        self.repo("import", W.b1, "--publish", "prod", "--create")
        self.server = Server(REPO, self.home)
        host = self.dnf("vendor-only", [W.key.armored])
        p = host.makecache(expect=None)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("repomd.xml GPG signature verification error", p.stderr)
        self.assertEqual(host.installed(), {})

    def test_airlock_verify_proves_each_element_and_refuses_one_changed_byte(self):
        self.repo("import", W.b1, "--publish", "prod", "--create")
        self.repo("import", W.b2, "--publish", "prod")
        self.server = Server(REPO, self.home)
        _, gz = self.site_primary()
        self.server.stop()
        primary = self.tmp / "primary.xml.gz"
        primary.write_bytes(gz)
        text = gzip.decompress(gz).decode()
        carried = len(PACKAGE.findall(text))
        self.assertEqual(sorted(set(re.findall(r"<name>([^<]+)</name>", text))), list(CLOSURE))
        self.assertIn("hello-2.0-1.noarch.rpm", text)
        args = ["index", primary, "--bundle", W.b1, "--bundle", W.b2, "--key", W.low / "keys/alice.pub",
                "--vendor-keyring", W.key.keyring]
        ok = run(VERIFY, *args)
        self.assertRegex(ok.stdout, rf"site index +{primary}  {carried} packages, each <package> element "
                                    r"byte-identical to a vendor-signed one")
        self.assertRegex(ok.stdout, r"vendor +rocky [0-9a-f]{12}  repodata/[0-9a-f]{64}-primary\.xml\.gz")
        self.assertTrue(ok.stdout.endswith("OK\n"))
        proof = json.loads(run(VERIFY, *args, "--json").stdout)
        self.assertEqual(proof["site_indices"], [{"file": str(primary), "packages": carried}])
        self.assertEqual(proof["bundles"], ["airlock-rocky-000001", "airlock-rocky-000002"])
        self.assertGreater(proof["vendor_packages"], carried)  # the vendor lists more than is carried

        # One byte of one element changed: refused, naming the element.
        plain = self.tmp / "primary.xml"
        first = PACKAGE.findall(text)[0]
        name = re.search(r"<name>([^<]+)</name>", first).group(1)
        ver = re.search(r'<version epoch="0" ver="([^"]+)" rel="([^"]+)"/>', first)
        plain.write_text(text.replace(first, first.replace("<summary>", "<summary>X", 1), 1))
        bad = run(VERIFY, *[plain if a == primary else a for a in args], expect=3)
        self.assertEqual(bad.stdout, "")
        self.assertEqual(bad.stderr.strip(),
                         f"airlock-verify: {plain}: package 1 ({name} {ver.group(1)}-{ver.group(2)} noarch) is not "
                         f"byte-identical to any <package> of the vendor-signed primary")
        # Anything but vendor elements around them is refused too.
        plain.write_text(text.replace("</metadata>", "<!-- extra -->\n</metadata>"))
        extra = run(VERIFY, *[plain if a == primary else a for a in args], expect=3)
        self.assertIn(f"holds more than its {carried} vendor <package> elements", extra.stderr)
        # The vendor's signature on repomd.xml is checked: another keyring refuses.
        wrong = run(VERIFY, *args[:-1], W.other.keyring, expect=3)
        self.assertIn("rocky repodata/repomd.xml", wrong.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
