#!/usr/bin/env python3
"""config check through the real programs: exit 0 and the ok line for a
clean home, exit 2 with one line a problem (and the same problems in --json)
for a broken one, exit 1 when there is no home to check.

    config_check_test.py AIRLOCK_MIRROR AIRLOCK_REPO MAKE_SAMPLE_UPSTREAM
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hosts import high_side, low_side, run  # noqa: E402

MIRROR, REPO, MAKE_SAMPLE = sys.argv[1:4]
del sys.argv[1:4]


class ConfigCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-config-check-test-"))
        subprocess.run([MAKE_SAMPLE, cls.dir / "upstream"], check=True, capture_output=True)
        cls.keyring = cls.dir / "upstream/keyring.gpg"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_mirror_config_check(self):
        low = self.dir / "low"
        low_side(MIRROR, low, "http://upstream.test/sample", self.keyring)
        p = run(MIRROR, "config", "check", home=low)
        self.assertEqual(p.stdout, "ok: 1 repository, 1 signing key\n")
        config = low / "mirror.toml"
        text = config.read_text()
        config.write_text(text.replace("suites =", "suite =").replace(str(self.keyring),
                                                                      str(self.dir / "gone.gpg")))
        p = run(MIRROR, "config", "check", expect=2, home=low)
        suite_line = text.splitlines().index('suites = ["bookworm"]') + 1
        self.assertEqual(p.stdout.splitlines(), [
            f"{config}:{suite_line}: repo 'sample': key 'suite': unknown key (did you mean 'suites'?)"])
        p = run(MIRROR, "config", "check", "--json", expect=2, home=low)
        problems = json.loads(p.stdout)["problems"]
        self.assertEqual([(x["file"], x["line"], x["repo"], x["key"]) for x in problems],
                         [(str(config), suite_line, "sample", "suite")])
        config.write_text(text.replace(str(self.keyring), str(self.dir / "gone.gpg")))
        p = run(MIRROR, "config", "check", "--json", expect=2, home=low)
        doc = json.loads(p.stdout)
        self.assertFalse(doc["ok"])
        self.assertEqual(doc["problems"][0]["key"], "keyring")
        self.assertEqual(doc["problems"][0]["message"],
                         f"{self.dir / 'gone.gpg'}: no such file (expected the upstream's OpenPGP keyring)")
        # sync refuses the same file with the first problem, in the same words
        config.write_text(text.replace("suites =", "suite ="))
        p = run(MIRROR, "sync", expect=2, home=low)
        self.assertEqual(p.stderr.strip(), f"airlock-mirror: {config}:{suite_line}: repo 'sample': key 'suite': "
                                           "unknown key (did you mean 'suites'?)")
        run(MIRROR, "config", "check", expect=1, home=self.dir / "nowhere")

    def test_repo_config_check(self):
        low, high = self.dir / "low2", self.dir / "high"
        low_side(MIRROR, low, "http://upstream.test/sample", self.keyring)
        high_side(REPO, high, low)
        p = run(REPO, "config", "check", home=high)
        self.assertEqual(p.stdout, "ok: 1 trusted key, threshold 1, 0 access rules, no site CA\n")
        run(REPO, "trust", "threshold", "2", home=high)
        (high / "repo.toml").write_text('[serve]\nlisten = "localhost:8080"\n')
        (high / "access.toml").write_text('[[rule]]\nname = "web"\nchannels = ["prod"]\ncn = "web-*"\n')
        p = run(REPO, "config", "check", expect=2, home=high)
        out = p.stdout.splitlines()
        self.assertEqual(len(out), 3, p.stdout)
        self.assertEqual(out[0], f"{high / 'access.toml'}:3: warning: rule 'web': key 'channels': no channel "
                                 "'prod' exists yet: the rule grants nothing there until something is "
                                 "published to it")
        self.assertEqual(out[1], f"{high / 'repo.toml'}:2: key 'serve.listen': expected HOST:PORT with HOST "
                                 "an IP address ([::1]:8080 for IPv6), got 'localhost:8080'")
        self.assertTrue(out[2].startswith(f"{high / 'trust.json'}:"), out[2])
        self.assertTrue(out[2].endswith(": key 'threshold': needs 2 signatures but 1 key is trusted: no bundle "
                                        "can be imported (expected at most 1; add keys with 'trust add' or "
                                        "lower it with 'trust threshold')"), out[2])
        p = run(REPO, "config", "check", "--json", expect=2, home=high)
        doc = json.loads(p.stdout)
        self.assertEqual([(x["severity"], x["key"]) for x in doc["problems"]],
                         [("warning", "channels"), ("error", "serve.listen"), ("error", "threshold")])
        run(REPO, "trust", "threshold", "1", home=high)
        (high / "repo.toml").unlink()
        p = run(REPO, "config", "check", home=high)  # a warning alone: exit 0
        self.assertTrue(p.stdout.endswith("ok: 1 trusted key, threshold 1, 1 access rule, no site CA\n"))
        run(REPO, "config", "check", expect=1, home=self.dir / "nowhere")
        run(REPO, "config", "verify", expect=2, home=high)


if __name__ == "__main__":
    unittest.main()
