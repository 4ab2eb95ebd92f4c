#!/usr/bin/env python3
"""airlock-mirror end to end over real loopback HTTP, against signed sample
repositories built with dpkg-deb, apt-ftparchive and gpg.

    mirror_test.py AIRLOCK_MIRROR AIRLOCK_VERIFY MAKE_SAMPLE_UPSTREAM
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
from upstream_server import UpstreamServer  # noqa: E402

MIRROR, VERIFY, MAKE_SAMPLE = sys.argv[1:4]
del sys.argv[1:4]

SAMPLE = None  # pathlib.Path, built once


def run(*args, expect=0, home=None):
    cmd = [MIRROR] + (["--home", str(home)] if home else []) + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}, wanted {expect}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def tree(path):
    """Every file below path with its bytes, for 'nothing changed' checks."""
    out = {}
    for p in sorted(pathlib.Path(path).rglob("*")):
        if p.is_file() and p.name != "lock.mdb":
            out[str(p.relative_to(path))] = p.read_bytes()
    return out


def setUpModule():
    global SAMPLE
    SAMPLE = pathlib.Path(tempfile.mkdtemp(prefix="airlock-sample-"))
    subprocess.run([MAKE_SAMPLE, str(SAMPLE)], check=True, capture_output=True)


def tearDownModule():
    shutil.rmtree(SAMPLE, ignore_errors=True)


class MirrorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="airlock-mirror-test-"))
        self.server = UpstreamServer(SAMPLE / "day1", idle_timeout=120).start()
        self.home = self.tmp / "home"
        run("init", home=self.home)
        run("keygen", "alice", home=self.home)
        self.configure()

    def tearDown(self):
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def configure(self, keyring=None, check_valid_until=True, packages=None, with_dependencies=None,
                  extra=""):
        text = (self.home / "mirror.toml").read_text().split("[[repo]]\nname")[0]
        text += f"""
[[repo]]
name = "sample"
kind = "apt"
url = "{self.server.url}"
suites = ["bookworm"]
components = ["main"]
architectures = ["amd64"]
keyring = "{keyring or SAMPLE / 'keyring.gpg'}"
check_valid_until = {'true' if check_valid_until else 'false'}
"""
        if packages:
            text += "packages = [" + ", ".join(f'"{p}"' for p in packages) + "]\n"
        if with_dependencies is not None:
            text += f"with_dependencies = {'true' if with_dependencies else 'false'}\n"
        text += extra
        (self.home / "mirror.toml").write_text(text)

    def sync(self, expect=0):
        return run("sync", "--json", home=self.home, expect=expect)

    def snapshots(self):
        return json.loads(run("snapshots", "--json", home=self.home).stdout)

    def pool_gets(self):
        return [r["path"] for r in self.server.gets("/pool/")]

    # --- the normal course ----------------------------------------------------

    def test_first_sync_records_a_snapshot_of_everything_verified(self):
        out = json.loads(self.sync().stdout)[0]
        self.assertFalse(out["unchanged"])
        self.assertEqual(out["pool_files"], 3)
        snaps = self.snapshots()
        self.assertEqual(len(snaps), 1)
        self.assertEqual(snaps[0]["id"], out["snapshot"])
        self.assertEqual(len(self.pool_gets()), 3)
        # Indices came by hash, as the Release asks.
        self.assertTrue(self.server.gets("/dists/bookworm/main/binary-amd64/by-hash/SHA256/"))
        log = run("log", "show", "--json", home=self.home).stdout.splitlines()
        # The sync record, then the signed checkpoint written after every change.
        self.assertIn('"event":"sync"', log[-2])
        self.assertIn('"event":"checkpoint"', log[-1])
        run("log", "verify", home=self.home)

    def test_resync_of_unchanged_upstream_costs_one_request(self):
        first = json.loads(self.sync().stdout)[0]
        self.server.clear_log()
        out = json.loads(self.sync().stdout)[0]
        self.assertTrue(out["unchanged"])
        self.assertEqual(out["snapshot"], first["snapshot"])
        gets = self.server.gets()
        self.assertEqual(len(gets), 1, gets)
        self.assertEqual(gets[0]["path"], "/dists/bookworm/InRelease")
        self.assertEqual(gets[0]["status"], 304)
        self.assertEqual(len(self.snapshots()), 1)

    def test_patch_day_fetches_only_what_is_new_and_diff_shows_it(self):
        first = json.loads(self.sync().stdout)[0]
        self.server.set_root(SAMPLE / "day2")
        self.server.clear_log()
        second = json.loads(self.sync().stdout)[0]
        self.assertNotEqual(second["snapshot"], first["snapshot"])
        fetched = sorted(self.pool_gets())
        self.assertEqual(len(fetched), 2, fetched)
        self.assertTrue(any("hello-airlock_1.1-1" in p for p in fetched))
        self.assertTrue(any("airlock-extra_0.9-1" in p for p in fetched))
        diff = json.loads(run("diff", first["snapshot"][:12], second["snapshot"][:12], "--json",
                              home=self.home).stdout)
        changes = {(c["change"], c["name"], c["old"], c["new"]) for c in diff["changes"][0]["packages"]}
        self.assertIn(("upgraded", "hello-airlock", "1.0-1", "1.1-1"), changes)
        self.assertIn(("added", "airlock-extra", "", "0.9-1"), changes)
        self.assertEqual(len(changes), 2)

    def test_package_globs_select_pool_files_and_keep_indices_whole(self):
        self.configure(packages=["hello-*"])
        out = json.loads(self.sync().stdout)[0]
        self.assertEqual(out["pool_files"], 1)
        self.assertEqual([p for p in self.pool_gets()], ["/pool/main/h/hello-airlock/hello-airlock_1.0-1_amd64.deb"])

    def test_uncompressed_index_listed_but_not_published(self):
        base = "/dists/bookworm/main/binary-amd64/"
        release = (SAMPLE / "day1/dists/bookworm/Release").read_text()
        section = release.split("SHA256:\n")[1].split("\nSHA512:")[0]
        digest = next(line.split()[0] for line in section.splitlines()
                      if line.strip().endswith("main/binary-amd64/Packages"))
        self.server.hide.update({base + "Packages", base + "by-hash/SHA256/" + digest})
        out = json.loads(self.sync().stdout)[0]
        self.assertEqual(out["pool_files"], 3)
        snap = json.loads(run("snapshots", "--json", home=self.home).stdout)[0]
        self.assertEqual(snap["files"], 7)  # the uncompressed Packages is left out

    def hide_listed(self, *names, under="main/binary-amd64/", root="day1"):
        """Makes the upstream answer 404 for these files of dists/bookworm/UNDER, by path and by hash."""
        base = "/dists/bookworm/" + under
        for name in names:
            self.server.hide.add(base + name)
            f = SAMPLE / root / base.lstrip("/") / name
            self.server.hide.add(base + "by-hash/SHA256/" + hashlib.sha256(f.read_bytes()).hexdigest())

    def test_index_variants_the_upstream_does_not_serve_are_skipped(self):
        self.hide_listed("Packages", "Packages.gz", "Release")
        out = json.loads(self.sync().stdout)[0]
        base = "dists/bookworm/main/binary-amd64/"
        self.assertEqual(out["skipped"], [base + "Packages", base + "Packages.gz", base + "Release"])
        self.assertEqual(out["pool_files"], 3)  # read from Packages.xz
        snap = self.snapshots()[0]
        self.assertEqual(snap["files"], 5)  # InRelease, Packages.xz and the three pool files
        p = run("sync", home=self.home)  # unchanged upstream: nothing to skip
        self.assertNotIn("skipped", p.stdout)

    def test_only_packages_gz_served_is_enough(self):
        self.hide_listed("Packages", "Packages.xz")
        p = run("sync", home=self.home)
        self.assertIn("  skipped 2 index files the Release lists but the upstream does not serve: "
                      "dists/bookworm/main/binary-amd64/Packages, dists/bookworm/main/binary-amd64/Packages.xz\n",
                      p.stdout)
        self.assertEqual(self.snapshots()[0]["files"], 6)

    def test_an_index_the_upstream_serves_no_variant_of_is_refused(self):
        self.hide_listed("Packages", "Packages.gz", "Packages.xz")
        self.assert_refused_unchanged(
            f"sample: {self.server.url}/dists/bookworm/main/binary-amd64/Packages is listed in the Release, "
            "but the upstream serves no variant of it (expected at least one; missing: Packages, "
            "Packages.gz, Packages.xz)")
        self.assertEqual(self.snapshots(), [])
        self.assertEqual(self.pool_gets(), [])

    def test_translations_need_one_variant_when_configured(self):
        self.server.set_root(SAMPLE / "i18n")
        i18n = "dists/bookworm/main/i18n/"
        self.hide_listed("Translation-en", "Translation-en.xz", under="main/i18n/", root="i18n")
        self.assert_refused_unchanged(
            f"sample: {self.server.url}/{i18n}Translation-en is listed in the Release, but the upstream "
            "serves no variant of it (expected at least one; missing: Translation-en, Translation-en.xz)")
        # One variant is enough; the other is skipped.
        self.server.hide.clear()
        self.hide_listed("Translation-en", under="main/i18n/", root="i18n")
        out = json.loads(self.sync().stdout)[0]
        self.assertEqual(out["skipped"], [i18n + "Translation-en"])
        self.assertEqual(self.snapshots()[0]["files"], 9)  # day1's 8 and Translation-en.xz

    def test_translations_are_not_needed_when_not_configured(self):
        self.server.set_root(SAMPLE / "i18n")
        self.configure(extra="translations = false\n")
        self.hide_listed("Translation-en", "Translation-en.xz", under="main/i18n/", root="i18n")
        out = json.loads(self.sync().stdout)[0]
        self.assertEqual(out["skipped"], [])
        self.assertEqual(self.server.gets("/dists/bookworm/main/i18n/"), [])

    def test_by_hash_missing_falls_back_to_the_canonical_path(self):
        for p in (SAMPLE / "day1/dists/bookworm/main/binary-amd64/by-hash/SHA256").iterdir():
            self.server.hide.add("/dists/bookworm/main/binary-amd64/by-hash/SHA256/" + p.name)
        self.sync()
        self.assertTrue(self.server.gets("/dists/bookworm/main/binary-amd64/Packages.xz"))

    def test_dry_run_stores_nothing(self):
        store_before = tree(self.home / "store")
        out = json.loads(run("sync", "--dry-run", "--json", home=self.home).stdout)[0]
        self.assertEqual(out["would_fetch_files"], 3)
        self.assertGreater(out["would_fetch_bytes"], 2_000_000)
        self.assertEqual(tree(self.home / "store"), store_before)
        self.assertEqual(self.pool_gets(), [])

    # --- packages filters and their dependency closure (the deps/ graph) -------

    # airlock-app's closure, as scripts/make-sample-upstream draws it.
    APP_CLOSURE = ["airlock-app_2.0-1_amd64.deb", "airlock-base_1.0-1_amd64.deb", "airlock-data_1.0-1_all.deb",
                   "airlock-syslog_1.0-1_amd64.deb", "airlock-transport-https_1.0-1_amd64.deb",
                   "libairlock-common_1.2-1_amd64.deb", "libairlock-core_1.2-1_amd64.deb"]

    def pool_debs(self):
        return sorted(p.rsplit("/", 1)[1] for p in self.pool_gets())

    def test_filter_carries_exactly_its_dependency_closure(self):
        self.server.set_root(SAMPLE / "deps")
        self.configure(packages=["airlock-app"])
        p = run("sync", home=self.home)
        self.assertIn("\n  filter: 1 matched, 6 added as dependencies\n", p.stdout)
        self.assertEqual(p.stderr, "")
        self.assertEqual(self.pool_debs(), self.APP_CLOSURE)
        # The signed manifest of the export lists exactly the same packages.
        media = self.tmp / "media"
        out = json.loads(run("export", "--mkdir", "--stream", "deps", "--out", media, "--key", "alice", "--json",
                             home=self.home).stdout)
        carried = sorted(f"{c['name']}_{c['new']}_{c['architecture']}.deb" for c in out["changes"][0]["packages"])
        self.assertEqual(carried, self.APP_CLOSURE)
        manifest = json.loads((media / "airlock-deps-000001/manifest.json").read_text())
        sync_record = next(r for r in manifest["log"] if r["event"] == "sync")
        self.assertEqual((sync_record["packages"], sync_record["packages_selected"], sync_record["packages_added"]),
                         (7, 1, 6))

    def test_sync_json_names_what_the_closure_added(self):
        self.server.set_root(SAMPLE / "deps")
        self.configure(packages=["airlock-app"])
        out = json.loads(self.sync().stdout)[0]
        self.assertEqual((out["filtered"], out["packages"], out["packages_selected"], out["packages_added"]),
                         (True, 7, 1, 6))
        added = [f"{a['name']}_{a['version']}_{a['architecture']}.deb" for a in out["added"]]
        self.assertEqual(added, [d for d in self.APP_CLOSURE if not d.startswith("airlock-app_")])
        self.assertEqual(out["unsatisfied"], [])

    def test_without_dependencies_only_the_matches_are_carried(self):
        self.server.set_root(SAMPLE / "deps")
        self.configure(packages=["airlock-app", "libairlock-*"], with_dependencies=False)
        out = json.loads(self.sync().stdout)[0]
        self.assertEqual((out["packages"], out["packages_selected"], out["packages_added"]), (4, 4, 0))
        self.assertEqual(self.pool_debs(), ["airlock-app_2.0-1_amd64.deb", "libairlock-common_1.2-1_amd64.deb",
                                            "libairlock-core_1.1-1_amd64.deb", "libairlock-core_1.2-1_amd64.deb"])

    def test_a_changed_filter_records_a_new_snapshot_from_an_unchanged_upstream(self):
        self.server.set_root(SAMPLE / "deps")
        self.configure(packages=["airlock-syslog"])
        first = json.loads(self.sync().stdout)[0]
        self.assertEqual(self.pool_debs(), ["airlock-data_1.0-1_all.deb", "airlock-syslog_1.0-1_amd64.deb"])
        self.configure(packages=["airlock-app"])
        self.server.clear_log()
        p = run("sync", home=self.home)
        self.assertIn("; the selection changed\n", p.stdout)
        self.assertEqual(self.server.gets("/dists/")[0]["status"], 304)  # the upstream is unchanged
        self.assertEqual(self.pool_debs(), [d for d in self.APP_CLOSURE
                                            if d not in ("airlock-data_1.0-1_all.deb", "airlock-syslog_1.0-1_amd64.deb")])
        snaps = self.snapshots()
        self.assertEqual(len(snaps), 2)
        self.assertEqual(snaps[0]["id"], first["snapshot"])
        # The same selection again: unchanged, one conditional request.
        self.server.clear_log()
        self.assertTrue(json.loads(self.sync().stdout)[0]["unchanged"])
        self.assertEqual(len(self.server.gets()), 1)
        run("log", "verify", home=self.home)

    def test_dry_run_reports_exactly_what_the_sync_then_does(self):
        self.server.set_root(SAMPLE / "deps")
        for packages in (["airlock-syslog"], ["airlock-app"], ["airlock-app"], ["airlock-*"], None):
            self.configure(packages=packages)
            store_before = tree(self.home / "store")
            self.server.clear_log()
            dry = json.loads(run("sync", "--dry-run", "--json", home=self.home).stdout)[0]
            self.assertEqual(tree(self.home / "store"), store_before)
            self.assertEqual(self.pool_gets(), [])
            self.server.clear_log()
            real = json.loads(self.sync().stdout)[0]
            self.assertEqual(len(self.pool_gets()), dry["would_fetch_files"], packages)
            # What the dry run fetched (metadata) and would fetch (pool) is what the sync fetched.
            self.assertEqual(dry["fetched_files"] + dry["would_fetch_files"], real["fetched_files"], packages)
            self.assertEqual(dry["fetched_bytes"] + dry["would_fetch_bytes"], real["fetched_bytes"], packages)
            for key in ("unchanged", "selection_changed", "filtered", "pool_files", "pool_bytes", "packages",
                        "packages_selected", "packages_added", "added", "unsatisfied"):
                self.assertEqual(dry[key], real[key], (packages, key))

    def test_an_unsatisfiable_dependency_is_a_warning_not_a_failure(self):
        self.server.set_root(SAMPLE / "unsatisfiable")
        self.configure(packages=["airlock-orphan"])
        p = run("sync", home=self.home)
        self.assertEqual(p.stderr, "airlock-mirror: warning: sample: airlock-orphan 1.0-1 (amd64) Depends: "
                                   "airlock-gone (>= 1): nothing in the indices satisfies it\n")
        self.assertIn("filter: 1 matched, 1 added as dependencies, 1 not satisfiable", p.stdout)
        self.assertEqual(self.pool_debs(), ["airlock-data_1.0-1_all.deb", "airlock-orphan_1.0-1_amd64.deb"])
        self.assertEqual(len(self.snapshots()), 1)

    # --- refusals: one clear line, exit 3, no snapshot ------------------------

    def assert_refused(self, fragment):
        p = self.sync(expect=3)
        self.assertIn(fragment, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.snapshots(), [])
        return p

    def home_state(self):
        """What a refused sync must leave exactly as it was: store, log, snapshots."""
        return tree(self.home / "store"), tree(self.home / "log"), self.snapshots()

    def assert_refused_unchanged(self, fragment):
        """A sync refused with exit 3 and one line holding fragment, changing nothing."""
        before = self.home_state()
        p = self.sync(expect=3)
        self.assertIn(fragment, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.home_state(), before)
        return p

    def test_inrelease_with_bytes_outside_the_signed_message_is_refused(self):
        self.sync()
        path = "/dists/bookworm/InRelease"
        good = (SAMPLE / "day1" / path.lstrip("/")).read_bytes()
        end = good.count(b"\n") + 1  # the first line after the signature
        cases = [
            (b"Codename: sid\n\n" + good,
             "line 1: bytes before '-----BEGIN PGP SIGNED MESSAGE-----' (found on line 3)"),
            (good + b"Suite: unstable\n", f"line {end}: bytes after '-----END PGP SIGNATURE-----'"),
            (good + good, f"line {end}: a second signed message after '-----END PGP SIGNATURE-----'"),
        ]
        for body, why in cases:
            with self.subTest(why=why):
                self.server.replace[path] = body
                self.assert_refused_unchanged(
                    f"sample: {self.server.url}{path} is not exactly one clearsigned message: {why}")
        # The same upstream without the extra bytes syncs again.
        del self.server.replace[path]
        self.sync()

    def test_inrelease_with_bytes_outside_is_refused_on_a_first_sync(self):
        path = "/dists/bookworm/InRelease"
        good = (SAMPLE / "day1" / path.lstrip("/")).read_bytes()
        self.server.replace[path] = b"\n" + good
        self.assert_refused_unchanged(f"sample: {self.server.url}{path} is not exactly one clearsigned message")
        self.assertEqual(self.snapshots(), [])
        self.assertEqual(self.server.gets("/pool/"), [])

    def test_inrelease_whose_text_differs_from_what_gpgv_verified_is_refused(self):
        # Trailing blanks on a text line and CR line breaks leave the signature valid (gpgv
        # ignores them) but change the text the isolated side would read.
        path = "/dists/bookworm/InRelease"
        good = (SAMPLE / "day1" / path.lstrip("/")).read_bytes()
        lines = good.split(b"\n")
        first_text = lines.index(b"") + 1
        lines[first_text + 2] += b"   "
        cases = [(b"\n".join(lines), 3), (good.replace(b"\n", b"\r\n"), 1)]
        for body, line in cases:
            with self.subTest(line=line):
                self.server.replace[path] = body
                self.assert_refused_unchanged(
                    f"sample: {self.server.url}{path} has a message text that differs from the text "
                    f"gpgv verified, from line {line} of the text on")
        self.assertEqual(self.snapshots(), [])

    def test_signed_release_of_another_suite_is_refused(self):
        self.sync()
        self.server.set_root(SAMPLE / "sid")
        self.assert_refused_unchanged(
            f"sample: {self.server.url}/dists/bookworm/InRelease is for another suite: expected "
            "'bookworm' (Suite or Codename), actual Suite 'unstable', Codename 'sid'")
        # Without InRelease the detached Release is checked the same way.
        self.server.hide.add("/dists/bookworm/InRelease")
        self.assert_refused_unchanged(
            f"sample: {self.server.url}/dists/bookworm/Release is for another suite: expected "
            "'bookworm' (Suite or Codename), actual Suite 'unstable', Codename 'sid'")

    def test_bad_upstream_signature(self):
        inrelease = (SAMPLE / "day1/dists/bookworm/InRelease").read_bytes()
        self.server.replace["/dists/bookworm/InRelease"] = inrelease.replace(b"Label: airlock-sample",
                                                                               b"Label: airlock-evil!!")
        self.assert_refused("InRelease has a bad signature")

    def test_wrong_keyring(self):
        self.configure(keyring=SAMPLE / "other-keyring.gpg")
        self.assert_refused("is not signed by a key in")

    def test_expired_valid_until_is_refused_unless_allowed(self):
        self.server.set_root(SAMPLE / "expired")
        self.assert_refused("(Valid-Until); set check_valid_until = false to accept it")
        self.configure(check_valid_until=False)
        self.sync()

    def test_upstream_going_back_in_time_is_refused(self):
        self.server.set_root(SAMPLE / "day2")
        self.sync()
        self.server.set_root(SAMPLE / "day1")
        p = self.sync(expect=3)
        self.assertIn("the upstream went back in time", p.stderr)
        self.assertEqual(len(self.snapshots()), 1)

    def test_packages_hash_mismatch(self):
        base = "/dists/bookworm/main/binary-amd64/"
        release = (SAMPLE / "day1/dists/bookworm/Release").read_text()
        section = release.split("SHA256:\n")[1].split("\nSHA512:")[0]
        digest = next(line.split()[0] for line in section.splitlines()
                      if line.strip().endswith("main/binary-amd64/Packages.xz"))
        good = (SAMPLE / "day1" / base.lstrip("/") / "Packages.xz").read_bytes()
        bad = good[:100] + bytes([good[100] ^ 1]) + good[101:]
        self.server.replace[base + "by-hash/SHA256/" + digest] = bad
        self.server.replace[base + "Packages.xz"] = bad
        self.assert_refused("does not match the signed index")

    def test_pool_file_hash_mismatch_keeps_the_good_files_and_records_no_snapshot(self):
        deb = "/pool/main/a/airlock-tools/airlock-tools_2.3-1_amd64.deb"
        good = (SAMPLE / "day1" / deb.lstrip("/")).read_bytes()
        self.server.replace[deb] = good[:-1] + bytes([good[-1] ^ 1])
        p = self.assert_refused("does not match the signed index: expected sha256")
        self.assertIn("run sync again to resume", p.stderr)
        # The two good pool files were verified and stored: the next run fetches only the third.
        del self.server.replace[deb]
        self.server.clear_log()
        self.sync()
        self.assertEqual(self.pool_gets(), [deb])

    # --- a flaky upstream ---------------------------------------------------------

    def test_server_errors_are_retried(self):
        deb = "/pool/main/h/hello-airlock/hello-airlock_1.0-1_amd64.deb"
        self.server.fail_times[deb] = 2
        self.sync()
        statuses = [r["status"] for r in self.server.gets(deb)]
        self.assertEqual(statuses, [500, 500, 200])

    def test_dropped_connection_resumes_with_range(self):
        deb = "/pool/main/l/libairlock-demo/libairlock-demo_1.0-1_amd64.deb"
        self.server.drop_after[deb] = 500_000
        self.sync()
        reqs = self.server.gets(deb)
        self.assertEqual(len(reqs), 2, reqs)
        self.assertEqual(reqs[0].get("dropped_at"), 500_000)
        self.assertEqual(reqs[1]["range"], "bytes=500000-")
        self.assertEqual(reqs[1]["status"], 206)

    def test_a_server_dripping_bytes_is_cut_off_at_the_minimum_rate(self):
        # Under 1 KiB: each attempt's deadline, 1 s + its size at 100 bytes/s, comes well after
        # the rate check.
        self.configure(extra="min_rate = 100\nstall_timeout = 1\n")
        deb = "/pool/main/h/hello-airlock/hello-airlock_1.0-1_amd64.deb"
        self.server.drip[deb] = (2, 0.25)  # 8 bytes a second, for as long as anyone listens
        before = self.home_state()
        p = self.sync(expect=1)
        self.assertIn(f"GET {self.server.url}{deb}: slower than min_rate 100 bytes/s for "
                      "stall_timeout 1 s (after 6 attempts)", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(len(self.server.gets(deb)), 6)
        # The other pool files were verified and stored; no snapshot, no log record.
        self.assertEqual(self.snapshots(), [])
        self.assertEqual(tree(self.home / "log"), before[1])
        del self.server.drip[deb]
        self.sync()

    # --- export ---------------------------------------------------------------

    def test_delta_export_carries_only_new_objects_and_verifies(self):
        media = self.tmp / "media"
        self.sync()
        first = json.loads(run("export", "--mkdir", "--stream", "sample", "--out", media, "--key", "alice", "--json",
                               home=self.home).stdout)
        self.assertEqual(first["sequence"], 1)
        self.server.set_root(SAMPLE / "day2")
        self.sync()
        second = json.loads(run("export", "--mkdir", "--stream", "sample", "--out", media, "--key", "alice", "--json",
                                home=self.home).stdout)
        self.assertEqual(second["sequence"], 2)
        # New: two .debs, Packages (3 variants), the by-arch Release is unchanged, InRelease, the snapshot.
        self.assertEqual(second["objects"], 7)
        changes = {(c["change"], c["name"]) for c in second["changes"][0]["packages"]}
        self.assertEqual(changes, {("upgraded", "hello-airlock"), ("added", "airlock-extra")})
        manifest = json.loads((media / "airlock-sample-000002/manifest.json").read_text())
        # The same changes are inside the signed manifest.
        signed = {(c["change"], c["name"]) for c in manifest["changes"][0]["packages"]}
        self.assertEqual(signed, changes)
        self.assertEqual(manifest["previous"], first["manifest_sha256"])
        # The low side's log records travel inside the manifest.
        self.assertTrue(any(r["event"] == "sync" for r in manifest["log"]))
        for b in ("airlock-sample-000001", "airlock-sample-000002"):
            v = subprocess.run([VERIFY, "bundle", media / b, "--key", self.home / "keys/alice.pub"],
                               capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        # A second signer co-signs; a threshold of 2 is then met.
        run("keygen", "bob", home=self.home)
        sigs_before = (media / "airlock-sample-000002/manifest.sig.json").read_bytes()
        # Without a terminal to confirm on, only --yes signs.
        p = run("sign", "--key", "bob", media / "airlock-sample-000002", home=self.home, expect=3)
        self.assertIn("pass --yes to sign without a terminal", p.stderr)
        self.assertEqual((media / "airlock-sample-000002/manifest.sig.json").read_bytes(), sigs_before)
        p = run("sign", "--key", "bob", media / "airlock-sample-000002", "--yes", home=self.home)
        # What the co-signer approved: the signer before, the checks, the changes.
        self.assertRegex(p.stdout, r"signed by  alice, key [0-9a-f]{16} \(verified\)")
        self.assertIn("every byte matches the manifest", p.stdout)
        self.assertIn("sample: 1 added (", p.stdout)
        self.assertIn("upgraded   hello-airlock (amd64) 1.0-1 -> 1.1-1", p.stdout)
        v = subprocess.run([VERIFY, "bundle", media / "airlock-sample-000002", "--key", self.home / "keys/alice.pub",
                            "--key", self.home / "keys/bob.pub", "--threshold", "2"], capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        run("log", "verify", home=self.home)

    def test_full_export_carries_everything(self):
        media = self.tmp / "media"
        self.sync()
        run("export", "--mkdir", "--stream", "sample", "--out", media, "--key", "alice", home=self.home)
        full = json.loads(run("export", "--mkdir", "--stream", "sample", "--out", media, "--key", "alice", "--full", "--json",
                              home=self.home).stdout)
        self.assertEqual(full["kind"], "full")
        self.assertEqual(full["objects"], 9)  # 8 files and the snapshot

    def test_export_to_missing_media_writes_nothing_unless_mkdir(self):
        self.sync()
        log = self.home / "log/transfer-000001.jsonl"
        before = log.read_bytes()
        media = self.tmp / "unmounted-stick"
        p = run("export", "--stream", "sample", "--out", media, "--key", "alice", home=self.home, expect=1)
        self.assertEqual(p.stderr.strip(), f"airlock-mirror: --out {media} does not exist (is the medium "
                                           "mounted?); create it or pass --mkdir")
        self.assertFalse(media.exists())
        not_a_dir = self.tmp / "a-file"
        not_a_dir.write_text("x")
        p = run("export", "--mkdir", "--stream", "sample", "--out", not_a_dir, "--key", "alice",
                home=self.home, expect=2)
        self.assertEqual(p.stderr.strip(), f"airlock-mirror: --out {not_a_dir} is not a directory")
        self.assertEqual(log.read_bytes(), before)
        # Nothing was exported: the stream's first bundle is still to come.
        out = json.loads(run("export", "--mkdir", "--stream", "sample", "--out", media, "--key", "alice",
                             "--json", home=self.home).stdout)
        self.assertEqual(out["sequence"], 1)
        self.assertTrue((media / "airlock-sample-000001" / "manifest.json").is_file())

    # --- usage ------------------------------------------------------------------

    def test_help_and_usage_errors(self):
        self.assertIn("examples:", run("--help").stdout)
        for cmd in ("init", "keygen", "sync", "snapshots", "diff", "export", "sign", "log"):
            self.assertIn("example", run(cmd, "--help", home=self.home).stdout, cmd)
        p = run("export", "--mkdir", "--stream", "sample", home=self.home, expect=2)
        self.assertIn("needs --stream S and --out MEDIA", p.stderr)
        p = run("frobnicate", home=self.home, expect=2)
        self.assertIn("unknown command", p.stderr)
        p = run("sync", home=self.tmp / "nowhere", expect=1)
        self.assertIn("no mirror home at", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
