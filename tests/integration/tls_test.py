#!/usr/bin/env python3
"""airlock-repo serve over HTTPS: a real apt-get with a client certificate
updates and downloads, every pull names the host's certificate, refused
handshakes are logged with their reason, the hostile HTTP requests are
refused over TLS as over plain HTTP, and SIGHUP reloads certificates and
revocation lists without a restart.

    tls_test.py AIRLOCK_MIRROR AIRLOCK_REPO MAKE_SAMPLE_UPSTREAM
"""
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hosts import high_side, low_side, AptClient, Server, run  # noqa: E402
from upstream_server import UpstreamServer  # noqa: E402

MIRROR, REPO, MAKE_SAMPLE = sys.argv[1:4]
del sys.argv[1:4]
W = None
INRELEASE = "/prod/sample/dists/bookworm/InRelease"


def openssl(*args):
    subprocess.run(["openssl"] + [str(a) for a in args], check=True, capture_output=True)


def make_ca(directory, name):
    """A CA of its own (ca.key, ca.crt in directory), for certificates no site CA issued."""
    directory.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", directory / "ca.key", "-out", directory / "ca.crt", "-days", "30", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return directory


def issue(ca, name, days=30):
    """A key and certificate for name (CN and SAN) from the CA in directory ca; days may be
    negative for one that has expired."""
    key, csr, crt, ext = (ca / f"{name}.{x}" for x in ("key", "csr", "crt", "ext"))
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", csr, "-subj", f"/CN={name}")
    san = f"IP:{name}" if name[0].isdigit() else f"DNS:{name}"
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca / "ca.crt", "-CAkey", ca / "ca.key", "-CAcreateserial",
            "-out", crt, "-days", str(days), "-extfile", ext)
    return crt, key


def issue_expiring(ca, name, seconds):
    """A key and certificate for name from the CA in directory ca that expires seconds from now,
    and when (a Unix time)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    ca_key = serialization.load_pem_private_key((ca / "ca.key").read_bytes(), None)
    ca_crt = x509.load_pem_x509_certificate((ca / "ca.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    until = now + datetime.timedelta(seconds=seconds)
    crt = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(x509.OID_COMMON_NAME, name)]))
           .issuer_name(ca_crt.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(until)
           .add_extension(x509.ExtendedKeyUsage([x509.OID_CLIENT_AUTH]), critical=False)
           .sign(ca_key, hashes.SHA256()))
    crt_file, key_file = ca / f"{name}.crt", ca / f"{name}.key"
    crt_file.write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return crt_file, key_file, until.timestamp()


def fingerprint(crt):
    der = subprocess.run(["openssl", "x509", "-in", crt, "-outform", "DER"], capture_output=True,
                         check=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


class World:
    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="airlock-tls-test-"))
        subprocess.run([MAKE_SAMPLE, self.dir / "upstream"], check=True, capture_output=True)
        upstream = UpstreamServer(self.dir / "upstream/day1", idle_timeout=600).start()
        self.low = self.dir / "low"
        low_side(MIRROR, self.low, upstream.url, self.dir / "upstream/keyring.gpg")
        run(MIRROR, "sync", home=self.low)
        run(MIRROR, "export", "--mkdir", "--stream", "sample", "--out", self.dir / "media", "--key", "alice",
            home=self.low)
        upstream.stop()
        self.b1 = self.dir / "media/airlock-sample-000001"
        self.keyring = self.dir / "upstream/keyring.gpg"
        # A site CA for the server and the hosts, and another that the server does not trust.
        self.ca = make_ca(self.dir / "site-ca", "test site CA")
        self.server_crt, self.server_key = issue(self.ca, "127.0.0.1")
        self.host_crt, self.host_key = issue(self.ca, "host1.example")
        self.other = make_ca(self.dir / "other-ca", "another CA")
        self.stranger_crt, self.stranger_key = issue(self.other, "stranger.example")
        self.expired_crt, self.expired_key = issue(self.ca, "expired.example", days=-1)


def setUpModule():
    global W
    W = World()


def tearDownModule():
    shutil.rmtree(W.dir, ignore_errors=True)


class TlsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="airlock-tls-high-"))
        self.home = self.tmp / "high"
        high_side(REPO, self.home, W.low)
        run(REPO, "import", W.b1, "--publish", "prod", "--create", home=self.home)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self, *extra, plain=False, client_ca=True):
        args = ["--listen-tls", "127.0.0.1:0", "--tls-cert", W.server_crt, "--tls-key", W.server_key]
        if client_ca:
            args += ["--client-ca", W.ca / "ca.crt"]
        s = Server(REPO, self.home, args=args + list(extra), plain=plain)
        self.servers.append(s)
        return s

    def pulls(self):
        out = run(REPO, "log", "show", "--json", "--event", "pull", home=self.home).stdout
        return [json.loads(x) for x in out.splitlines()]

    def context(self, crt=None, key=None):
        ctx = ssl.create_default_context(cafile=str(W.ca / "ca.crt"))
        if crt:
            ctx.load_cert_chain(str(crt), str(key))
        return ctx

    def get(self, server, path, crt=None, key=None):
        conn = http.client.HTTPSConnection(server.tls_addr.split(":")[0], int(server.tls_addr.split(":")[1]),
                                           context=self.context(crt, key), timeout=10)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def raw(self, server, request, crt, key):
        host, port = server.tls_addr.split(":")
        with socket.create_connection((host, int(port)), timeout=10) as plain:
            with self.context(crt, key).wrap_socket(plain, server_hostname=host) as s:
                s.sendall(request)
                data = b""
                while True:
                    try:
                        chunk = s.recv(65536)
                    except (ssl.SSLEOFError, ConnectionResetError):
                        break
                    if not chunk:
                        break
                    data += chunk
        return data

    def curl(self, server, *args):
        """curl's exit code for a GET of the InRelease with these options."""
        return subprocess.run(["curl", "-s", "-o", "/dev/null", "--cacert", W.ca / "ca.crt", *args,
                               server.tls_url + INRELEASE], capture_output=True, timeout=30).returncode

    def test_apt_installs_over_https_with_a_certificate_from_ca_issue_and_http_beside_it(self):
        # The site CA of the home issues the server's certificate and the host's.
        run(REPO, "ca", "init", home=self.home)
        run(REPO, "ca", "issue", "127.0.0.1", home=self.home)
        run(REPO, "ca", "issue", "host1.example", "--out", self.tmp / "host1-cert", home=self.home)
        ca, issued = self.home / "ca/ca.crt", self.home / "ca/hosts/127.0.0.1"
        host_crt, host_key = self.tmp / "host1-cert/host1.example.crt", self.tmp / "host1-cert/host1.example.key"
        server = Server(REPO, self.home, args=[
            "--listen-tls", "127.0.0.1:0", "--tls-cert", issued / "127.0.0.1.crt", "--tls-key",
            issued / "127.0.0.1.key", "--client-ca", ca])
        self.servers.append(server)
        apt = AptClient(self.tmp / "host1", server.tls_url, "prod", W.keyring, options=[
            f"Acquire::https::CaInfo={self.tmp / 'host1-cert/ca.crt'}", f"Acquire::https::SslCert={host_crt}",
            f"Acquire::https::SslKey={host_key}"])
        apt.apt("apt-get", "update")
        self.assertIn(("hello-airlock", "1.0-1"), apt.install("hello-airlock"))
        # The plain listener serves the same channel at the same time.
        plain = AptClient(self.tmp / "host2", server.url, "prod", W.keyring)
        plain.apt("apt-get", "update")
        server.stop()
        pulls = self.pulls()
        https = [p for p in pulls if "client_subject" in p]
        self.assertTrue(https)
        self.assertTrue(all(p["client_subject"] == "CN=host1.example" for p in https))
        self.assertTrue(all(p["client_fingerprint"] == fingerprint(host_crt) for p in https))
        listed = json.loads(run(REPO, "ca", "list", "--json", home=self.home).stdout)
        serials = [c["serial"] for c in (listed if isinstance(listed, list) else listed["certificates"])
                   if c["host"] == "host1.example"]
        self.assertTrue(all(p["client_serial"] in serials for p in https), (serials, https[0]["client_serial"]))
        self.assertIn("/prod/sample/pool/main/h/hello-airlock/hello-airlock_1.0-1_amd64.deb", [p["path"] for p in https])
        self.assertTrue([p for p in pulls if "client_subject" not in p and p["status"] == 200])
        # The report names the host by its certificate, the plain one by its address; the trace
        # of the package names who took it.
        report = json.loads(run(REPO, "report", "--format", "json", home=self.home).stdout)
        self.assertEqual(sorted(h["host"] for h in report["hosts"]), ["127.0.0.1", "CN=host1.example"])
        trace = json.loads(run(REPO, "trace", "hello-airlock=1.0-1", "--json", home=self.home).stdout)
        takers = [x for x in trace["links"] if x["link"] == "pull"]
        self.assertEqual([(x["client_subject"], x["client_fingerprint"]) for x in takers],
                         [("CN=host1.example", fingerprint(host_crt))])
        self.assertIn("CN=host1.example", run(REPO, "trace", "hello-airlock=1.0-1", home=self.home).stdout)

    def test_refused_handshakes_are_logged_with_their_reason(self):
        server = self.serve()
        self.assertEqual(self.curl(server, "--cert", W.host_crt, "--key", W.host_key), 0)
        for args in ([], ["--cert", W.stranger_crt, "--key", W.stranger_key],
                     ["--cert", W.expired_crt, "--key", W.expired_key],
                     ["--tls-max", "1.1", "--cert", W.host_crt, "--key", W.host_key]):
            self.assertNotEqual(self.curl(server, *args), 0, args)
        server.stop()
        # Who tried is named when a certificate was presented. Records of connections
        # served on different threads reach the log in the order they end there, so
        # they are compared as a set.
        refused = [(p["status"], p["reason"], p.get("client_subject") or "") for p in self.pulls()
                   if p["status"] != 200]
        self.assertEqual(sorted(refused), sorted([
            (496, "no client certificate", ""),
            (495, "client certificate refused: unable to get local issuer certificate", "CN=stranger.example"),
            (495, "client certificate refused: certificate has expired", "CN=expired.example"),
            (0, "TLS handshake refused: unsupported protocol", "")]))
        for p in self.pulls():
            if p["status"] != 200:
                self.assertEqual((p["method"], p["path"], p["bytes"]), ("", "", 0))
                self.assertNotIn("incomplete", p)

    def test_a_connection_that_says_nothing_is_not_logged(self):
        server = self.serve()
        host, port = server.tls_addr.split(":")
        socket.create_connection((host, int(port)), timeout=10).close()
        self.assertEqual(self.curl(server, "--cert", W.host_crt, "--key", W.host_key), 0)
        server.stop()
        self.assertEqual([p["status"] for p in self.pulls()], [200])

    def test_idle_https_connections_are_closed_at_the_idle_timeout(self):
        server = self.serve("--idle-timeout", "1")
        host, port = server.tls_addr.split(":")
        # Silent before the handshake: closed without a word.
        with socket.create_connection((host, int(port)), timeout=10) as silent:
            self.assertEqual(silent.recv(100), b"")
        # Idle after a response on a kept-alive connection: close_notify, then the end.
        with socket.create_connection((host, int(port)), timeout=10) as plain:
            with self.context(W.host_crt, W.host_key).wrap_socket(plain, server_hostname=host) as s:
                s.sendall(b"GET " + INRELEASE.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while True:
                    try:
                        chunk = s.recv(65536)
                    except ssl.SSLEOFError:
                        chunk = b""
                    if not chunk:
                        break
                    data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:40])
        self.assertNotIn(b"Connection: close", data)
        server.stop()
        self.assertEqual([(p["status"], p["path"]) for p in self.pulls()], [(200, INRELEASE)])

    def test_hostile_requests_are_refused_over_tls_as_over_http(self):
        server = self.serve()
        cert = (W.host_crt, W.host_key)
        for raw_path, want in ((b"/prod/sample/../../../etc/passwd", 404), (b"/prod/sample/%2e%2e/%2e%2e/x", 404),
                               (b"/prod/sample/dists%2fbookworm/InRelease", 400),
                               (b"/prod/sample/dists/bookworm/In%00Release", 400),
                               (b"/prod/sample/" + b"a" * 5000, 414)):
            resp = self.raw(server, b"GET " + raw_path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", *cert)
            self.assertTrue(resp.startswith(b"HTTP/1.1 %d" % want), (raw_path[:60], resp[:60]))
        resp = self.raw(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 20000 + b"\r\n\r\n", *cert)
        self.assertTrue(resp.startswith(b"HTTP/1.1 431"), resp[:40])
        # A request smuggling a second one in a body: refused, and the second is never answered.
        smuggle = (b"GET " + INRELEASE.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /prod/sample/x HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = self.raw(server, smuggle, *cert)
        self.assertRegex(resp[:12], rb"HTTP/1.1 4\d\d")
        self.assertEqual(resp.count(b"HTTP/1.1"), 1)
        full = (W.dir / "upstream/day1/dists/bookworm/InRelease").read_bytes()
        resp = self.raw(server, b"GET " + INRELEASE.encode() + b" HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\n"
                        b"Connection: close\r\n\r\n", *cert)
        self.assertTrue(resp.startswith(b"HTTP/1.1 206"), resp[:40])
        self.assertTrue(resp.endswith(full[10:20]))
        # A large object goes out in chunks: byte-identical.
        deb = next((W.dir / "upstream/day1/pool").rglob("hello-airlock_1.0-1_amd64.deb")).read_bytes()
        status, body = self.get(server, "/prod/sample/pool/main/h/hello-airlock/hello-airlock_1.0-1_amd64.deb",
                                *cert)
        self.assertEqual((status, body), (200, deb))

    def test_the_access_policy_refuses_a_host_outside_its_channels_and_sighup_applies_changes(self):
        run(REPO, "access", "add", "--name", "test hosts", "--channel", "test", "--cn", "host*",
            "--ca", W.ca / "ca.crt", home=self.home)
        server = self.serve()
        cert = (W.host_crt, W.host_key)
        self.assertEqual(self.get(server, INRELEASE, *cert), (403, b"forbidden\n"))
        self.assertEqual(self.get(server, "/-/health", *cert)[0], 200)
        run(REPO, "access", "add", "--name", "prod hosts", "--channel", "prod", "--fingerprint",
            fingerprint(W.host_crt), home=self.home)
        server.proc.send_signal(signal.SIGHUP)
        server.wait_line("reloaded")
        self.assertEqual(self.get(server, INRELEASE, *cert)[0], 200)
        server.stop()
        [refused] = [p for p in self.pulls() if p["status"] == 403]
        self.assertEqual((refused["path"], refused["client_subject"]), (INRELEASE, "CN=host1.example"))
        self.assertIn("no access rule allows", refused["reason"])
        self.assertIn("prod/sample", refused["reason"])

    def test_a_resumed_tls_session_keeps_the_issuer_a_ca_rule_names(self):
        run(REPO, "access", "add", "--name", "site hosts", "--channel", "prod", "--ca", W.ca / "ca.crt",
            home=self.home)
        server = self.serve()
        host, port = server.tls_addr.split(":")
        request = f"GET {INRELEASE} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = self.context(W.host_crt, W.host_key)
            ctx.maximum_version = version
            session = None
            for attempt in range(2):
                with socket.create_connection((host, int(port)), timeout=10) as plain:
                    with ctx.wrap_socket(plain, server_hostname=host, session=session) as s:
                        s.sendall(request)
                        data = b""
                        while chunk := s.recv(65536):
                            data += chunk
                        self.assertEqual(s.session_reused, attempt == 1, version)
                        session = s.session
                self.assertTrue(data.startswith(b"HTTP/1.1 200 "), (version, attempt, data[:200]))

    def test_a_certificate_that_expired_cannot_resume_the_session_it_had(self):
        server = self.serve()
        host, port = server.tls_addr.split(":")
        request = f"GET {INRELEASE} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            crt, key, until = issue_expiring(W.ca, f"brief-{version.name}.example", 3)
            ctx = self.context(crt, key)
            ctx.maximum_version = version
            session, answers = None, []
            for attempt in range(2):
                if attempt == 1:
                    while time.time() < until + 1:  # the certificate has expired
                        time.sleep(0.1)
                with socket.create_connection((host, int(port)), timeout=10) as plain:
                    with ctx.wrap_socket(plain, server_hostname=host, session=session) as s:
                        s.sendall(request)
                        data = b""
                        try:
                            while chunk := s.recv(65536):
                                data += chunk
                        except (ssl.SSLError, ConnectionResetError):
                            pass
                        self.assertEqual(s.session_reused, attempt == 1, version)
                        session = s.session
                answers.append(data[:12])
            self.assertEqual(answers, [b"HTTP/1.1 200", b""], version)
        server.stop()
        refused = [(p["status"], p["client_subject"], p["reason"]) for p in self.pulls() if p["status"] != 200]
        self.assertEqual(sorted(refused), [(495, f"CN=brief-{v}.example",
                                            "client certificate refused: certificate has expired")
                                           for v in ("TLSv1_2", "TLSv1_3")])

    def test_a_reload_that_fails_keeps_the_access_policy_it_had_too(self):
        cert_dir = self.tmp / "certs"
        cert_dir.mkdir()
        shutil.copy(W.server_crt, cert_dir / "server.crt")
        shutil.copy(W.server_key, cert_dir / "server.key")
        run(REPO, "access", "add", "--name", "test hosts", "--channel", "test", "--cn", "host*", home=self.home)
        server = Server(REPO, self.home, plain=False, args=[
            "--listen-tls", "127.0.0.1:0", "--tls-cert", cert_dir / "server.crt", "--tls-key",
            cert_dir / "server.key", "--client-ca", W.ca / "ca.crt"])
        self.servers.append(server)
        cert = (W.host_crt, W.host_key)
        self.assertEqual(self.get(server, INRELEASE, *cert)[0], 403)
        # The key no longer reads and a rule now lets the host read prod: the reload fails whole.
        (cert_dir / "server.key").write_text("not a key\n")
        run(REPO, "access", "add", "--name", "prod hosts", "--channel", "prod", "--cn", "host*", home=self.home)
        server.proc.send_signal(signal.SIGHUP)
        server.wait_line("reload failed, serving with what was loaded before: --tls-key", stream=server.proc.stderr)
        self.assertEqual(self.get(server, INRELEASE, *cert)[0], 403)
        # A policy that no longer reads keeps the certificate the server had, too.
        shutil.copy(W.server_key, cert_dir / "server.key")
        (self.home / "access.toml").write_text("[[rule]]\nname = 1\n")
        other = make_ca(self.tmp / "renewed-ca", "renewed CA")
        crt, key = issue(other, "127.0.0.1")
        shutil.copy(crt, cert_dir / "server.crt")
        shutil.copy(key, cert_dir / "server.key")
        server.proc.send_signal(signal.SIGHUP)
        server.wait_line("reload failed, serving with what was loaded before: " + re.escape(str(self.home / "access.toml")),
                         stream=server.proc.stderr)
        self.assertEqual(self.get(server, INRELEASE, *cert)[0], 403)  # still verifies against the site CA

    def test_without_tls_the_policy_names_address_ranges(self):
        run(REPO, "access", "add", "--name", "second loopback", "--channel", "prod", "--address", "127.0.0.2/32",
            home=self.home)
        server = Server(REPO, self.home)
        self.servers.append(server)
        host, port = server.addr.split(":")

        def get(source):
            conn = http.client.HTTPConnection(host, int(port), source_address=(source, 0), timeout=10)
            try:
                conn.request("GET", INRELEASE)
                return conn.getresponse().status
            finally:
                conn.close()

        self.assertEqual((get("127.0.0.1"), get("127.0.0.2")), (403, 200))
        server.stop()
        # Two connections, possibly on two threads: their records in either order.
        self.assertEqual(sorted((p["client"], p["status"]) for p in self.pulls()),
                         [("127.0.0.1", 403), ("127.0.0.2", 200)])

    def test_serve_checks_its_tls_options_before_anything_is_logged(self):
        before = run(REPO, "log", "show", "--json", home=self.home).stdout
        for args, code, message in (
                (["--listen-tls", "127.0.0.1:0"], 2, "--listen-tls needs --tls-cert and --tls-key"),
                (["--tls-cert", W.server_crt, "--tls-key", W.server_key], 2,
                 "--tls-cert, --tls-key, --client-ca and --crl go with --listen-tls"),
                (["--listen-tls", "127.0.0.1:0", "--tls-cert", W.server_crt, "--tls-key", W.server_key,
                  "--crl", W.server_crt], 2, "--crl goes with --client-ca"),
                (["--listen-tls", "127.0.0.1:0", "--tls-cert", W.server_crt, "--tls-key", W.server_key,
                  "--client-ca", W.ca / "ca.crt", "--crl", W.server_crt], 1,
                 f"--crl {W.server_crt}: no PEM revocation list (X509 CRL) in it"),
                (["--listen-tls", "127.0.0.1:0", "--tls-cert", self.tmp / "nope.crt", "--tls-key", W.server_key], 1,
                 f"--tls-cert {self.tmp / 'nope.crt'}: no such file"),
                (["--listen-tls", "127.0.0.1:0", "--tls-cert", W.server_crt, "--tls-key", W.host_key], 1,
                 f"--tls-key {W.host_key} does not belong to the certificate in {W.server_crt}"),
                (["--listen-tls", "127.0.0.1:0", "--tls-cert", W.server_crt, "--tls-key", W.server_key,
                  "--client-ca", W.server_key], 1, f"--client-ca {W.server_key}: no PEM CA certificate in it"),
                (["--listen-tls", "nowhere", "--tls-cert", W.server_crt, "--tls-key", W.server_key], 2,
                 "--listen-tls must be HOST:PORT, got 'nowhere'")):
            p = run(REPO, "serve", *args, home=self.home, expect=code)
            self.assertIn(message, p.stderr)
            if code == 1:
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(run(REPO, "log", "show", "--json", home=self.home).stdout, before)

    def test_a_site_crl_that_does_not_read_is_named_as_the_site_ca_list(self):
        before = run(REPO, "log", "show", "--json", home=self.home).stdout
        crl = self.home / "ca" / "crl.pem"
        crl.parent.mkdir()
        crl.write_text("not a list\n")
        p = run(REPO, "serve", "--listen-tls", "127.0.0.1:0", "--tls-cert", W.server_crt, "--tls-key", W.server_key,
                "--client-ca", W.ca / "ca.crt", home=self.home, expect=1)
        self.assertEqual(p.stderr.strip().splitlines(),
                         [f"airlock-repo: {crl}: no PEM revocation list (X509 CRL) in it"])
        self.assertEqual(run(REPO, "log", "show", "--json", home=self.home).stdout, before)

    def test_sighup_reloads_the_certificate_without_dropping_connections(self):
        cert_dir = self.tmp / "server-cert"
        cert_dir.mkdir()
        shutil.copy(W.server_crt, cert_dir / "server.crt")
        shutil.copy(W.server_key, cert_dir / "server.key")
        server = Server(REPO, self.home, plain=False, args=[
            "--listen-tls", "127.0.0.1:0", "--tls-cert", cert_dir / "server.crt", "--tls-key",
            cert_dir / "server.key", "--client-ca", W.ca / "ca.crt"])
        self.servers.append(server)
        host, port = server.tls_addr.split(":")
        conn = http.client.HTTPSConnection(host, int(port), context=self.context(W.host_crt, W.host_key), timeout=10)
        conn.request("GET", INRELEASE)
        self.assertEqual(conn.getresponse().read()[:5], b"-----")
        first = conn.sock.getpeercert(binary_form=True)
        # A renewed certificate for the same name, put in place; then SIGHUP.
        renewed_ca = W.dir / "site-ca"
        crt, key = issue(renewed_ca, "127.0.0.1")
        shutil.copy(crt, cert_dir / "server.crt")
        shutil.copy(key, cert_dir / "server.key")
        server.proc.send_signal(signal.SIGHUP)
        server.wait_line("reloaded")
        conn.request("GET", INRELEASE)  # the open connection goes on
        r = conn.getresponse()
        self.assertEqual((r.status, r.read()[:5]), (200, b"-----"))
        conn.close()
        conn = http.client.HTTPSConnection(host, int(port), context=self.context(W.host_crt, W.host_key), timeout=10)
        conn.request("GET", INRELEASE)
        conn.getresponse().read()
        second = conn.sock.getpeercert(binary_form=True)
        conn.close()
        self.assertNotEqual(first, second)
        # A key that no longer reads keeps the server on what it had.
        (cert_dir / "server.key").write_text("not a key\n")
        server.proc.send_signal(signal.SIGHUP)
        server.wait_line("reload failed, serving with what was loaded before: --tls-key", stream=server.proc.stderr)
        self.assertEqual(self.get(server, INRELEASE, W.host_crt, W.host_key)[0], 200)


if __name__ == "__main__":
    unittest.main()
