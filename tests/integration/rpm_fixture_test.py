#!/usr/bin/env python3
"""The rpm and file-set upstream fixtures, proven with real clients and no airlock: the rpm
repository served on loopback is installed from, upgraded on patch day and rolled back by a
real dnf with gpgcheck=1 and repo_gpgcheck=1; each hostile variant is shown to be broken in
exactly the way it claims and otherwise what the vendor signed; the file sets are fetched by
curl byte-identical and their lists checked by gpgv.

    rpm_fixture_test.py [MAKE_SAMPLE_UPSTREAM]   (the argument is accepted and unused)
"""
import gzip
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.parsers.expat

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import files_upstream as fu  # noqa: E402
import rpm_upstream as ru  # noqa: E402
from hosts import DnfClient  # noqa: E402
from upstream_server import UpstreamServer  # noqa: E402

while len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
    del sys.argv[1]
W = None


class World:
    """A vendor key and another, the good day-1 and patch-day repositories, every hostile
    variant, the file sets, and one loopback server over all of them."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-rpm-fixture-"))
        self.hosts, self.keys, self.server = [], [], None
        try:
            self.build()
        except BaseException:
            self.close()  # unittest skips tearDownModule when setUpModule fails
            raise

    def build(self):
        self.key = ru.make_vendor_key(self.dir)
        self.keys.append(self.key)
        self.other = ru.make_vendor_key(self.dir, "someone else", "other@rpm.invalid", "other")
        self.keys.append(self.other)
        now = int(time.time())
        self.day1_revision, self.patch_revision = now - 86400, now
        self.day1 = ru.day1(self.dir / "day1", self.key, self.day1_revision)
        self.patch = ru.patch_day(self.dir / "patch-day", self.key, self.patch_revision)
        h = self.dir / "hostile"
        self.hostile = {
            "unsigned": ru.unsigned(self.day1, h / "unsigned"),
            "wrong-key": ru.wrong_key(self.day1, h / "wrong-key", self.other),
            "metadata": ru.metadata_mismatch(self.day1, h / "metadata"),
            "package": ru.package_mismatch(self.day1, h / "package"),
            "dotdot": ru.unsafe_href(self.day1, h / "dotdot", self.key),
            "absolute": ru.unsafe_href(self.day1, h / "absolute", self.key, ru.ABSOLUTE_HREF),
            "older": ru.older_revision(self.patch, h / "older", self.key),
            "bomb": ru.xml_bomb(self.day1, h / "bomb", self.key),
        }
        self.hostile["huge"], self.huge = ru.huge_primary(self.day1, h / "huge", self.key)
        self.files = {s: fu.build_files(self.dir / "files" / s, self.key, s) for s in fu.SIGNATURES}
        self.server = UpstreamServer(self.dir).start()
        self.server.stream[f"/hostile/huge/{self.huge.href}"] = (self.huge.size, self.huge.chunks)

    def close(self):
        """Stops the server and every gpg-agent the keys and dnf hosts started; removes the
        directory."""
        if self.server:
            self.server.stop()
        for host in self.hosts:
            host.close()
        for key in self.keys:  # the tests sign again, which starts gpg-agent again
            ru.forget_key(key)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, path):
        return f"{self.server.url}/{pathlib.Path(path).relative_to(self.dir)}"

    def dnf(self, name, path, **kw):
        host = DnfClient(self.dir / "hosts" / name, self.url(path), self.key.armored, **kw)
        self.hosts.append(host)
        return host


def setUpModule():
    global W
    W = World()


def tearDownModule():
    W.close()


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def gpgv(keyring, *files):
    return subprocess.run(["gpgv", "--keyring", str(keyring)] + [str(f) for f in files],
                          capture_output=True, text=True)


def repomd_signed_by(repo, keyring):
    d = pathlib.Path(repo) / "repodata"
    return gpgv(keyring, d / "repomd.xml.asc", d / "repomd.xml").returncode == 0


def package_checksums(primary):
    """{location href: sha256} from a primary.xml's text."""
    out = {}
    for block in re.findall(r"<package type=\"rpm\">.*?</package>", primary, re.S):
        out[re.search(r'<location href="([^"]+)"', block).group(1)] = \
            re.search(r'<checksum type="sha256" pkgid="YES">([0-9a-f]+)<', block).group(1)
    return out


class RpmRepositoryTest(unittest.TestCase):
    def test_dnf_installs_then_upgrades_on_patch_day_and_downgrades_on_rollback(self):
        live = W.dir / "live"
        shutil.copytree(W.day1, live)
        host = W.dnf("live", live)
        got = host.install("hello")
        self.assertEqual(got, {"hello": "1.0-1", "libgreet": "1.0-1", "greet-data": "1.0-1",
                               "greet-words": "1.0-1"})
        self.assertTrue(W.server.gets("/live/repodata/repomd.xml.asc"), "dnf did not check repomd's signature")
        self.assertIn("other-app-1.0-1.noarch", host.available())
        self.assertEqual(host.advisories(), [])

        ru.patch_day(live, W.key, W.patch_revision)
        self.assertEqual(host.advisories(), [(ru.ADVISORY_ID, "security", "Important")])
        got = host.upgrade()
        self.assertEqual(got, {"hello": "2.0-1", "libgreet": "2.0-1", "greet-data": "1.0-1",
                               "greet-words": "1.0-1"})

        ru.day1(live, W.key, W.day1_revision)
        got = host.distro_sync()
        self.assertEqual(got, {"hello": "1.0-1", "libgreet": "1.0-1", "greet-data": "1.0-1",
                               "greet-words": "1.0-1"})

    def test_good_repository_is_signed_and_every_checksum_holds(self):
        for repo in (W.day1, W.patch):
            self.assertTrue(repomd_signed_by(repo, W.key.keyring))
            self.assertFalse(repomd_signed_by(repo, W.other.keyring))
            entries = ru.repomd_entries(repo)
            for kind, e in entries.items():
                self.assertEqual(sha256(repo / e["href"]), e["checksum"], kind)
                self.assertEqual((repo / e["href"]).stat().st_size, int(e["size"]), kind)
            for href, digest in package_checksums(ru.primary_xml(repo)).items():
                self.assertEqual(sha256(repo / href), digest, href)
        self.assertNotIn("updateinfo", ru.repomd_entries(W.day1))
        info = gzip.decompress((W.patch / ru.repomd_entries(W.patch)["updateinfo"]["href"]).read_bytes()).decode()
        self.assertIn(f"<id>{ru.ADVISORY_ID}</id>", info)
        self.assertIn('id="CVE-2026-0001"', info)
        self.assertEqual(sorted(re.findall(r"<filename>([^<]+)</filename>", info)),
                         ["hello-2.0-1.noarch.rpm", "libgreet-2.0-1.noarch.rpm"])
        self.assertLess(int(re.search(r"<revision>(\d+)<", (W.day1 / "repodata/repomd.xml").read_text())[1]),
                        int(re.search(r"<revision>(\d+)<", (W.patch / "repodata/repomd.xml").read_text())[1]))

    def test_packages_carry_the_vendor_signature(self):
        with tempfile.TemporaryDirectory() as db:
            rpm = ["rpm", "--dbpath", db]
            subprocess.run(rpm + ["--import", str(W.key.armored)], check=True, capture_output=True)
            p = subprocess.run(rpm + ["-K"] + sorted(str(f) for f in (W.patch / "Packages").glob("*.rpm")),
                               capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.count("signatures OK"), len(ru.PATCH_DAY), p.stdout)

    def test_primary_holds_the_dependency_chain_and_a_file_require(self):
        primary = ru.primary_xml(W.day1)
        hello = re.search(r"<name>hello</name>.*?</package>", primary, re.S).group(0)
        self.assertIn('<rpm:entry name="libgreet" flags="GE" epoch="0" ver="1.0"/>', hello)
        self.assertIn('<rpm:entry name="/usr/bin/greet-words"/>', hello)
        self.assertIn("<file>/usr/bin/greet-words</file>", primary)


class RpmHostileTest(unittest.TestCase):
    def test_unsigned_repomd_is_refused_by_dnf(self):
        repo = W.hostile["unsigned"]
        self.assertFalse((repo / "repodata/repomd.xml.asc").exists())
        p = W.dnf("unsigned", repo).makecache(expect=1)
        self.assertIn("GPG signature is not available", p.stderr)
        W.dnf("unsigned-unchecked", repo, repo_gpgcheck=False).makecache()

    def test_wrongly_signed_repomd_is_refused_by_dnf(self):
        repo = W.hostile["wrong-key"]
        self.assertFalse(repomd_signed_by(repo, W.key.keyring))
        self.assertTrue(repomd_signed_by(repo, W.other.keyring))
        p = W.dnf("wrong-key", repo).makecache(expect=1)
        self.assertIn("Bad GPG signature", p.stderr)

    def test_metadata_file_differs_from_signed_repomd(self):
        repo = W.hostile["metadata"]
        self.assertTrue(repomd_signed_by(repo, W.key.keyring))
        entry = ru.repomd_entries(repo)["filelists"]
        self.assertNotEqual(sha256(repo / entry["href"]), entry["checksum"])
        self.assertIn(b"<!-- altered -->", gzip.decompress((repo / entry["href"]).read_bytes()))
        p = W.dnf("metadata", repo).makecache(expect=1)
        self.assertIn("filelists.xml.gz", p.stderr)

    def test_package_differs_from_primary(self):
        repo = W.hostile["package"]
        self.assertTrue(repomd_signed_by(repo, W.key.keyring))
        self.assertEqual(ru.primary_xml(repo), ru.primary_xml(W.day1))
        href = "Packages/hello-1.0-1.noarch.rpm"
        self.assertNotEqual(sha256(repo / href), package_checksums(ru.primary_xml(repo))[href])
        self.assertEqual((repo / href).stat().st_size, (W.day1 / href).stat().st_size)
        host = W.dnf("package", repo)
        host.dnf("install", "hello", expect=1)
        self.assertEqual(host.installed(), {})

    def test_unsafe_location_hrefs_are_signed(self):
        for name, href in (("dotdot", ru.DOTDOT_HREF), ("absolute", ru.ABSOLUTE_HREF)):
            repo = W.hostile[name]
            self.assertTrue(repomd_signed_by(repo, W.key.keyring), name)
            entry = ru.repomd_entries(repo)["primary"]
            self.assertEqual(sha256(repo / entry["href"]), entry["checksum"], name)
            hrefs = package_checksums(ru.primary_xml(repo))
            self.assertIn(href, hrefs, name)
            self.assertNotIn("Packages/hello-1.0-1.noarch.rpm", hrefs, name)

    def test_older_revision_is_signed_and_older_everywhere(self):
        repo = W.hostile["older"]
        self.assertTrue(repomd_signed_by(repo, W.key.keyring))
        text = (repo / "repodata/repomd.xml").read_text()
        self.assertLess(int(re.search(r"<revision>(\d+)<", text)[1]), W.patch_revision)
        stamps = [int(t) for t in re.findall(r"<timestamp>(\d+)<", text)]
        self.assertTrue(stamps and all(t < W.patch_revision for t in stamps), stamps)
        # dnf itself has no rollback protection: it takes the older repository as it is.
        W.dnf("older", repo).makecache()

    def test_xml_bomb_passes_every_check_but_the_parser(self):
        repo = W.hostile["bomb"]
        self.assertTrue(repomd_signed_by(repo, W.key.keyring))
        entry = ru.repomd_entries(repo)["primary"]
        self.assertEqual(sha256(repo / entry["href"]), entry["checksum"])
        data = gzip.decompress((repo / entry["href"]).read_bytes())
        self.assertEqual(hashlib.sha256(data).hexdigest(), entry["open_checksum"])
        self.assertIn(b"<summary>&lol9;</summary>", data)
        with self.assertRaisesRegex(xml.parsers.expat.ExpatError, "amplification"):
            xml.parsers.expat.ParserCreate().Parse(data, True)

    def test_huge_primary_is_served_as_declared_and_never_written(self):
        repo = W.hostile["huge"]
        self.assertTrue(repomd_signed_by(repo, W.key.keyring))
        entry = ru.repomd_entries(repo)["primary"]
        self.assertEqual((entry["href"], int(entry["size"])), (W.huge.href, 1 << 30))
        self.assertFalse((repo / entry["href"]).exists())
        self.assertLess(sum(f.stat().st_size for f in repo.rglob("*") if f.is_file()), 1 << 20)
        url = f"{W.url(repo)}/{entry['href']}"
        head = subprocess.run(["curl", "-sfI", url], capture_output=True, text=True, check=True).stdout
        self.assertIn(f"Content-Length: {1 << 30}", head)
        tail = subprocess.run(["curl", "-sf", "-r", f"{(1 << 30) - 4096}-", url], capture_output=True,
                              check=True).stdout
        self.assertEqual(len(tail), 4096)
        self.assertTrue(tail.endswith(b"</metadata>"), tail[-64:])
        digest = hashlib.sha256()
        with subprocess.Popen(["curl", "-sf", url], stdout=subprocess.PIPE) as curl:
            for chunk in iter(lambda: curl.stdout.read(1 << 20), b""):
                digest.update(chunk)
        self.assertEqual(curl.returncode, 0)
        self.assertEqual(digest.hexdigest(), entry["checksum"])


class FileSetTest(unittest.TestCase):
    def fetch(self, url, out):
        return subprocess.run(["curl", "-sf", "-o", str(out), url], capture_output=True).returncode

    def test_file_sets_are_fetched_byte_identical_and_their_lists_verify(self):
        for signature, tree in W.files.items():
            with tempfile.TemporaryDirectory() as tmp:
                got = pathlib.Path(tmp)
                names = ["SHA256SUMS"] + (["SHA256SUMS.gpg"] if signature != "clearsigned" else [])
                for name in names + list(fu.FILES):
                    (got / name).parent.mkdir(parents=True, exist_ok=True)
                    self.assertEqual(self.fetch(f"{W.url(tree)}/{name}", got / name), 0, name)
                    self.assertEqual((got / name).read_bytes(), (tree / name).read_bytes(), name)
                self.assertEqual(fu.signature_of(got), signature)
                self.assertEqual(fu.verify(got, W.key.keyring).returncode, 0, signature)
                self.assertNotEqual(fu.verify(got, W.other.keyring).returncode, 0, signature)
                check = subprocess.run(["sha256sum", "--strict", "-c", "-"], cwd=got, capture_output=True,
                                       input=fu._clearsigned_body((got / "SHA256SUMS").read_text())
                                       if signature == "clearsigned" else (got / "SHA256SUMS").read_text(),
                                       text=True)
                self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_hostile_file_sets_are_what_they_claim(self):
        good = W.files["binary"]
        listed = (good / "SHA256SUMS").read_text()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            extra = fu.unlisted_file(good, tmp / "unlisted")
            self.assertEqual(fu.verify(extra, W.key.keyring).returncode, 0)
            self.assertTrue((extra / "firmware/extra-9.9.bin").exists())
            self.assertNotIn("firmware/extra-9.9.bin", listed)

            gone = fu.missing_file(good, tmp / "missing")
            self.assertEqual(fu.verify(gone, W.key.keyring).returncode, 0)
            self.assertIn("images/installer-12.iso", listed)
            self.assertFalse((gone / "images/installer-12.iso").exists())

            bad = fu.checksum_mismatch(good, tmp / "mismatch")
            self.assertEqual(fu.verify(bad, W.key.keyring).returncode, 0)
            self.assertNotIn(f"{sha256(bad / 'firmware/bmc-2.14.bin')}  firmware/bmc-2.14.bin", listed)
            self.assertIn(f"{sha256(good / 'firmware/bmc-2.14.bin')}  firmware/bmc-2.14.bin", listed)

            for signature, tree in W.files.items():
                bare = fu.unsigned(tree, tmp / f"unsigned-{signature}")
                self.assertIsNone(fu.signature_of(bare))
                self.assertEqual((bare / "SHA256SUMS").read_text(), listed)
                other = fu.wrong_key(tree, tmp / f"wrong-{signature}", W.other)
                self.assertEqual(fu.signature_of(other), signature)
                self.assertNotEqual(fu.verify(other, W.key.keyring).returncode, 0, signature)
                self.assertEqual(fu.verify(other, W.other.keyring).returncode, 0, signature)


if __name__ == "__main__":
    unittest.main(verbosity=2)
