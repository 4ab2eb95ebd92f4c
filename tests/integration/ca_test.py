#!/usr/bin/env python3
"""The site CA through the real airlock-repo: ca init, ca issue, ca list --json
and ca revoke, checked with the openssl program (a host certificate verifies
against ca.crt and crl.pem before the revoke and not after), the refusals'
exit codes and lines, and the `ca` log records against the log schema; and
serve over HTTPS with its own certificate and a host's both from ca issue,
the host named in its pull records until ca revoke and SIGHUP refuse it.

    ca_test.py AIRLOCK_REPO MAKE_SAMPLE_UPSTREAM
"""
import hashlib
import http.client
import json
import os
import pathlib
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hosts import Server, run  # noqa: E402
from schema_check import check_schema  # noqa: E402

REPO = sys.argv[1]
del sys.argv[1:3]


def openssl_verify(ca_dir, cert, purpose="sslclient"):
    """openssl verify of cert against the CA and its CRL; the completed process."""
    return subprocess.run(["openssl", "verify", "-purpose", purpose, "-CAfile", ca_dir / "ca.crt",
                           "-crl_check", "-CRLfile", ca_dir / "crl.pem", cert],
                          capture_output=True, text=True, timeout=60)


class CaTest(unittest.TestCase):
    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-ca-test-"))
        self.home = self.dir / "high"
        run(REPO, "init", home=self.home)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        return [json.loads(line) for line in (self.home / "log/transfer-000001.jsonl").read_text().splitlines()]

    def state(self):
        """Every file of the home but the lock files, with its bytes."""
        return {str(p.relative_to(self.home)): p.read_bytes() for p in sorted(self.home.rglob("*"))
                if p.is_file() and p.name not in ("commit.lock", "lock.mdb")}

    def refused(self, args, exit_code, line):
        before = self.state()
        p = run(REPO, *args, home=self.home, expect=exit_code)
        self.assertEqual(p.stderr, f"airlock-repo: {line}\n")
        self.assertEqual(self.state(), before, args)

    def test_issue_list_revoke_with_openssl_verify(self):
        ca = self.home / "ca"
        run(REPO, "ca", "init", "--operator", "olga", home=self.home)
        self.assertEqual(os.stat(ca / "ca.key").st_mode & 0o777, 0o600)
        text = subprocess.run(["openssl", "x509", "-in", ca / "ca.crt", "-noout", "-subject", "-ext",
                               "basicConstraints,keyUsage"], capture_output=True, text=True, check=True).stdout
        self.assertIn("subject=CN = airlock site CA high", text)
        self.assertIn("CA:TRUE, pathlen:0", text)
        self.assertIn("Certificate Sign, CRL Sign", text)

        p = run(REPO, "ca", "issue", "web01.example", "--json", home=self.home)
        issued = json.loads(p.stdout)
        host_dir = ca / "hosts/web01.example"
        self.assertEqual(issued["files"], [str(host_dir / "web01.example.key"),
                                           str(host_dir / "web01.example.crt"), str(host_dir / "ca.crt")])
        self.assertEqual(os.stat(host_dir / "web01.example.key").st_mode & 0o777, 0o600)
        out = self.dir / "usb"
        run(REPO, "ca", "issue", "10.9.8.7", "--out", out, "--days", "90", home=self.home)
        for cert in (host_dir / "web01.example.crt", out / "10.9.8.7.crt"):
            for purpose in ("sslclient", "sslserver"):
                v = openssl_verify(ca, cert, purpose)
                self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
                self.assertEqual(v.stdout, f"{cert}: OK\n")
        # The key and certificate work together for TLS: the same public key.
        pub = [subprocess.run(cmd, capture_output=True, check=True).stdout for cmd in (
            ["openssl", "pkey", "-in", host_dir / "web01.example.key", "-pubout"],
            ["openssl", "x509", "-in", host_dir / "web01.example.crt", "-noout", "-pubkey"])]
        self.assertEqual(pub[0], pub[1])

        listed = json.loads(run(REPO, "ca", "list", "--json", home=self.home).stdout)
        self.assertEqual([c["host"] for c in listed], ["web01.example", "10.9.8.7"])
        self.assertEqual(listed[0]["serial"], issued["certificates"][0]["serial"])
        der = subprocess.run(["openssl", "x509", "-in", host_dir / "web01.example.crt", "-outform", "DER"],
                             capture_output=True, check=True).stdout
        self.assertEqual(listed[0]["fingerprint"], hashlib.sha256(der).hexdigest())
        self.assertEqual([c["revoked"] for c in listed], [None, None])

        run(REPO, "ca", "revoke", "web01.example", "--reason", "stolen laptop", home=self.home)
        v = openssl_verify(ca, host_dir / "web01.example.crt")
        self.assertEqual(v.returncode, 2, v.stdout + v.stderr)
        self.assertIn("certificate revoked", v.stdout + v.stderr)
        v = openssl_verify(ca, out / "10.9.8.7.crt")
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        listed = json.loads(run(REPO, "ca", "list", "--json", home=self.home).stdout)
        self.assertIsNotNone(listed[0]["revoked"])
        self.assertIsNone(listed[1]["revoked"])
        self.assertIn("web01.example", run(REPO, "ca", "list", home=self.home).stdout)

        records = [r for r in self.log() if r["event"] == "ca"]
        self.assertEqual([r["action"] for r in records], ["init", "issue", "issue", "revoke"])
        self.assertEqual(records[3]["serial"], listed[0]["serial"])
        self.assertEqual(records[3]["fingerprint"], listed[0]["fingerprint"])
        self.assertEqual(records[3]["subject"], "CN=web01.example")
        self.assertEqual(records[3]["reason"], "stolen laptop")
        for r in self.log():
            check_schema(r, "log-record.schema.json")
        key = (ca / "ca.key").read_text()
        self.assertNotIn(key.splitlines()[1], (self.home / "log/transfer-000001.jsonl").read_text())
        run(REPO, "log", "verify", home=self.home)

    def test_refusals_name_the_problem_and_change_nothing(self):
        self.refused(["ca", "issue", "web01"], 1,
                     f"this home has no site CA (run 'airlock-repo --home {self.home} ca init' first)")
        run(REPO, "ca", "init", home=self.home)
        self.refused(["ca", "init"], 1,
                     f"a site CA exists already in {self.home}/ca (ca list shows its certificates)")
        self.refused(["ca", "issue", "web_01;rm"], 2,
                     "host 'web_01;rm' is neither a DNS name (letters, digits and hyphens in "
                     "dot-separated labels, at most 64 characters) nor an IPv4 or IPv6 address")
        self.refused(["ca", "revoke", "web01"], 1,
                     "the site CA has issued no certificate for host 'web01' (ca list shows the hosts)")
        run(REPO, "ca", "issue", "web01", home=self.home)
        run(REPO, "ca", "revoke", "web01", home=self.home)
        self.refused(["ca", "revoke", "web01"], 1,
                     "every certificate of host 'web01' is revoked already (1)")
        p = run(REPO, "ca", "issue", home=self.home, expect=2)
        self.assertIn("issue: missing HOST", p.stderr)

    def test_serve_names_a_host_by_its_ca_issue_certificate_until_it_is_revoked(self):
        ca = self.home / "ca"
        run(REPO, "ca", "init", home=self.home)
        run(REPO, "ca", "issue", "127.0.0.1", home=self.home)  # the server's own certificate
        run(REPO, "ca", "issue", "host1.example", home=self.home)
        srv, host = ca / "hosts/127.0.0.1", ca / "hosts/host1.example"
        listed = json.loads(run(REPO, "ca", "list", "--json", home=self.home).stdout)[1]
        server = Server(REPO, self.home, plain=False,
                        args=["--listen-tls", "127.0.0.1:0", "--tls-cert", srv / "127.0.0.1.crt",
                              "--tls-key", srv / "127.0.0.1.key", "--client-ca", ca / "ca.crt"])
        ctx = ssl.create_default_context(cafile=str(host / "ca.crt"))  # checks the IP address too
        ctx.load_cert_chain(str(host / "host1.example.crt"), str(host / "host1.example.key"))
        address, port = server.tls_addr.split(":")

        def get():
            conn = http.client.HTTPSConnection(address, int(port), context=ctx, timeout=10)
            try:
                conn.request("GET", "/prod/sample/dists/bookworm/InRelease")
                return conn.getresponse().status
            finally:
                conn.close()

        try:
            self.assertEqual(get(), 404)  # no channel: answered, and logged with the host's identity
            run(REPO, "ca", "revoke", "host1.example", home=self.home)
            server.proc.send_signal(signal.SIGHUP)
            server.wait_line("reloaded")
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                get()
        finally:
            self.assertEqual(server.stop()[0], 0)
        pulls = [r for r in self.log() if r["event"] == "pull"]
        self.assertEqual(len(pulls), 2, pulls)
        self.assertEqual((pulls[0]["status"], pulls[0]["client_fingerprint"], pulls[0]["client_serial"]),
                         (404, listed["fingerprint"], listed["serial"]))
        self.assertIn("CN=host1.example", pulls[0]["client_subject"])
        self.assertEqual(pulls[1]["status"], 495)
        self.assertIn("certificate revoked", json.dumps(pulls[1]))


if __name__ == "__main__":
    unittest.main()
