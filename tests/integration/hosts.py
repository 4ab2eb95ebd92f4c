"""What the integration tests drive on the isolated side: `airlock-repo serve`
on an ephemeral loopback port, and real apt clients with private state."""
import pathlib
import re
import subprocess


def run(prog, *args, expect=0, home=None, timeout=300):
    """Runs prog (with --home home) and checks its exit code; returns the result."""
    cmd = [prog] + (["--home", str(home)] if home else []) + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}, wanted {expect}\n{p.stdout}\n{p.stderr}")
    return p


def low_side(mirror, home, upstream_url, keyring):
    """A low side at home: initialised, signing key alice, and the sample upstream
    (bookworm, main, amd64) at upstream_url as repository "sample"."""
    run(mirror, "init", home=home)
    run(mirror, "keygen", "alice", home=home)
    with open(pathlib.Path(home) / "mirror.toml", "a") as f:
        f.write(f'\n[[repo]]\nname = "sample"\nkind = "apt"\nurl = "{upstream_url}"\n'
                f'suites = ["bookworm"]\ncomponents = ["main"]\narchitectures = ["amd64"]\n'
                f'keyring = "{keyring}"\n')


def high_side(repo, home, low):
    """An isolated side at home: initialised, trusting the low side's key alice."""
    run(repo, "init", home=home)
    run(repo, "trust", "add", pathlib.Path(low) / "keys/alice.pub", "--name", "alice", home=home)


class Server:
    """airlock-repo serve on ephemeral loopback ports: HTTP (url, addr) unless
    plain is False, and HTTPS (tls_url, tls_addr) when args hold --listen-tls."""

    def __init__(self, repo, home, file_size_limit=None, args=(), open_files=None, plain=True):
        def limit():
            import resource
            if file_size_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
        args = [str(a) for a in args]
        self.proc = subprocess.Popen([repo, "--home", str(home), "serve"]
                                     + (["--listen", "127.0.0.1:0"] if plain else []) + args,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limit)
        self.addr = self.url = self.tls_addr = self.tls_url = None
        for _ in range(int(plain) + int("--listen-tls" in args)):
            line = self.proc.stdout.readline()
            m = re.search(r"(https?)://([0-9.]+:[0-9]+)/", line)
            if not m:
                raise AssertionError("serve did not start: " + line + self.proc.stderr.read())
            if m.group(1) == "https":
                self.tls_addr, self.tls_url = m.group(2), "https://" + m.group(2)
            else:
                self.addr, self.url = m.group(2), "http://" + m.group(2)

    def wait_line(self, pattern, timeout=30, stream=None):
        """The next line of the server's output (or of stream) that matches pattern, read within
        timeout seconds."""
        import select
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stream = stream or self.proc.stdout
            ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = stream.readline()
            if not line:
                break
            if re.search(pattern, line):
                return line
        raise AssertionError(f"serve printed no line matching {pattern!r}")

    def stop(self):
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


DPKG_STANZA = """Package: {name}
Status: install ok installed
Priority: optional
Section: utils
Maintainer: a host <root@host.invalid>
Architecture: {arch}
Version: {version}
Description: installed before
"""


class AptClient:
    """A real apt-get with its own private state directory: sources.list gets
    one `deb [signed-by=KEYRING] URL/CHANNEL/REPO SUITE COMPONENT` line, the
    dpkg status lists `installed` as (name, version, arch)."""

    def __init__(self, root, url, channel, keyring, repo="sample", suite="bookworm", installed=(), options=()):
        self.root = pathlib.Path(root)
        self.options = [f"-o{o}" for o in options]  # more apt options, e.g. a client certificate
        for d in ("etc/apt/sources.list.d", "etc/apt/preferences.d", "etc/apt/apt.conf.d", "etc/apt/trusted.gpg.d",
                  "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg", "var/log/apt"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.root / "var/lib/dpkg/status").write_text(
            "\n".join(DPKG_STANZA.format(name=n, version=v, arch=a) for n, v, a in installed))
        (self.root / "etc/apt/sources.list").write_text(
            f"deb [signed-by={keyring}] {url}/{channel}/{repo} {suite} main\n")

    def apt(self, tool, *args, expect=0):
        opts = [f"-oDir={self.root}", f"-oDir::State::status={self.root}/var/lib/dpkg/status",
                "-oDebug::NoLocking=1", "-oAPT::Architecture=amd64", "-oAcquire::Languages=none",
                "-oAPT::Sandbox::User=root", "-oDir::Etc::trusted=/dev/null",
                f"-oDir::Etc::trustedparts={self.root}/etc/apt/trusted.gpg.d"] + self.options
        p = subprocess.run([tool] + opts + list(args), capture_output=True, text=True, timeout=120)
        if expect is not None and p.returncode != expect:
            raise AssertionError(f"{tool} {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    def forget_lists(self):
        """apt refuses signed metadata older than what it holds (replay protection),
        so after a rollback a host drops its cached lists before updating."""
        for p in (self.root / "var/lib/apt/lists").glob("*_*"):
            p.unlink()

    def candidate(self, package):
        out = self.apt("apt-cache", "policy", package).stdout
        m = re.search(r"Candidate: (\S+)", out)
        return m.group(1) if m else "(none)"

    def upgradable(self):
        """(name, version) of each package `apt list --upgradable` lists."""
        out = self.apt("apt", "list", "--upgradable").stdout
        return sorted(re.findall(r"^([^/\s]+)/\S+ (\S+) ", out, re.M))

    def install(self, *packages):
        """A real install: apt-get resolves and downloads, dpkg unpacks and configures
        into the client's root with its own database. Returns dpkg's installed list
        as (name, version)."""
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.apt("apt-get", "install", "-y", f"-oDPkg::Options::=--root={self.root}",
                 f"-oDPkg::Options::=--admindir={self.root}/var/lib/dpkg",
                 "-oDPkg::Options::=--force-script-chrootless", "-oDPkg::Options::=--force-not-root",
                 "-oDPkg::Use-Pty=0", f"-oDir::Log={self.root}/var/log/apt", *packages)
        out = subprocess.run(["dpkg-query", f"--admindir={self.root}/var/lib/dpkg", "-W",
                              "-f=${db:Status-Abbrev} ${Package} ${Version}\n"],
                             capture_output=True, text=True, check=True).stdout
        return sorted(tuple(line.split()[1:3]) for line in out.splitlines() if line.startswith("ii"))

    def download(self, *packages):
        self.apt("apt-get", "install", "--download-only", "-y", *packages)
        return sorted(p.name for p in (self.root / "var/cache/apt/archives").glob("*.deb"))


class DnfClient:
    """A real dnf (Debian's dnf 4) installing into its own installroot, root/installroot,
    with nothing of the machine's: its own dnf.conf (no plugins, no weak dependencies, no
    docs, private cachedir, persistdir and logdir, which dnf keeps inside the installroot)
    and reposdir holding one repository, `repo`, at baseurl with gpgcheck=1 and
    repo_gpgcheck=1 against the armored key gpgkey, or each of a list of keys (dnf imports
    them with -y, for both checks: a filtered repository's repomd.xml is signed by the site
    key, its packages by the vendor). Every command
    refreshes the metadata first, so a change on the server is seen at once. sslcacert,
    sslclientcert and sslclientkey go into the repository definition for HTTPS."""

    def __init__(self, root, baseurl, gpgkey, repo="airlock", repo_gpgcheck=True, gpgcheck=True,
                 sslcacert=None, sslclientcert=None, sslclientkey=None, options=()):
        self.root = pathlib.Path(root)
        self.installroot = self.root / "installroot"
        self.repo = repo
        self.options = [f"--setopt={o}" for o in options]
        keys = gpgkey if isinstance(gpgkey, (list, tuple)) else [gpgkey]
        for d in ("installroot", "repos.d"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.conf = self.root / "dnf.conf"
        self.conf.write_text(
            "[main]\n"
            f"reposdir={self.root}/repos.d\n"
            "cachedir=/var/cache/dnf\npersistdir=/var/lib/dnf\nlogdir=/var/log\n"
            "plugins=0\ninstall_weak_deps=0\ntsflags=nodocs\nskip_if_unavailable=0\n"
            "gpgcheck=1\nbest=1\nkeepcache=0\nmetadata_expire=0\ncheck_config_file_age=0\n")
        self.repo_lines = {"name": repo, "gpgcheck": int(gpgcheck), "repo_gpgcheck": int(repo_gpgcheck),
                           "gpgkey": " ".join(f"file://{k}" for k in keys), "sslverify": 1, "sslcacert": sslcacert,
                           "sslclientcert": sslclientcert, "sslclientkey": sslclientkey}
        self.set_baseurl(baseurl)

    def set_baseurl(self, baseurl):
        """Points the repository at baseurl (what a host's admin edits after a move)."""
        self.repo_lines["baseurl"] = baseurl
        lines = [f"[{self.repo}]"] + [f"{k}={v}" for k, v in self.repo_lines.items() if v is not None]
        (self.root / "repos.d" / f"{self.repo}.repo").write_text("\n".join(lines) + "\n")

    def env(self):
        # Debian's rpm puts its database at ~/.rpmdb (inside the installroot): one HOME for
        # dnf and rpm so both name the same one.
        import os
        return dict(os.environ, HOME="/root", LC_ALL="C.UTF-8")

    def dnf(self, *args, expect=0):
        """Runs dnf quietly with -y; when its exit code is not expect (None: any), raises
        with its output. Returns the completed process."""
        cmd = ["dnf", "-c", str(self.conf), f"--installroot={self.installroot}", "--releasever=1",
               "--noplugins", "--refresh", "-y", "-q", "--setopt=debuglevel=0"] + self.options + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=self.env())
        if expect is not None and p.returncode != expect:
            raise AssertionError(f"dnf {' '.join(args)} exited {p.returncode}, wanted {expect}\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p

    def close(self):
        """Stops the gpg-agent dnf (librepo) leaves running for each repository keyring it
        made under the cachedir for repo_gpgcheck; they would outlive the test otherwise."""
        for pubring in (self.installroot / "var/cache/dnf").glob("*/pubring"):
            subprocess.run(["gpgconf", "--homedir", str(pubring), "--kill", "gpg-agent"], capture_output=True)

    def makecache(self, expect=0):
        return self.dnf("makecache", expect=expect)

    def install(self, *names):
        """Installs names (and what they require); returns installed()."""
        self.dnf("install", *names)
        return self.installed()

    def upgrade(self, *names):
        """Upgrades names (all when none); returns installed()."""
        self.dnf("upgrade", *names)
        return self.installed()

    def distro_sync(self):
        """Brings every installed package to the repository's version, downgrading too: how a
        host follows a rollback. Returns installed()."""
        self.dnf("distro-sync")
        return self.installed()

    def installed(self):
        """{name: "version-release"} of the packages in the installroot's rpm database ("epoch:"
        before it when not 0), without the imported gpg-pubkey entries."""
        out = subprocess.run(["rpm", f"--root={self.installroot}", "-qa", "--qf",
                              "%{NAME} %{EPOCHNUM} %{VERSION}-%{RELEASE}\\n"],
                             capture_output=True, text=True, env=self.env(), check=True).stdout
        got = {}
        for line in out.splitlines():
            name, epoch, vr = line.split()
            if name != "gpg-pubkey":
                got[name] = vr if epoch == "0" else f"{epoch}:{vr}"
        return got

    def available(self):
        """Sorted NEVRAs the repository offers, as dnf read them from its metadata."""
        out = self.dnf("repoquery", "--available", "--qf", "%{name}-%{version}-%{release}.%{arch}").stdout
        return sorted(set(out.split()))

    def advisories(self):
        """Sorted (advisory id, type, severity) dnf reads from the repository's updateinfo."""
        out = self.dnf("updateinfo", "info", "--all").stdout
        got = set()
        for block in re.split(r"\n(?==+\n)", out):
            ident = re.search(r"^\s*Update ID: (\S+)", block, re.M)
            kind = re.search(r"^\s*Type: (\S+)", block, re.M)
            sev = re.search(r"^\s*Severity: (\S+)", block, re.M)
            if ident:
                got.add((ident.group(1), kind.group(1) if kind else "", sev.group(1) if sev else ""))
        return sorted(got)
