#!/usr/bin/env python3
"""Signed rpm repositories built on disk from real tools, for the tests and the demo.

A vendor key is a fresh RSA key in a private GNUPGHOME (`make_vendor_key`). A
repository (`build_repo`) holds noarch packages made by `rpmbuild` from generated
spec files and signed by `rpmsign`, repodata from `createrepo_c` (sha256, unique
file names, no sqlite unless asked), an updateinfo advisory added by
`modifyrepo_c`, and `repodata/repomd.xml.asc`, a detached armored signature of
repomd.xml made by `gpg`.

The packages (`PACKAGES`; every one installs into an empty dnf installroot):

    hello 1.0-1        Requires: libgreet >= 1.0, /usr/bin/greet-words
    hello 2.0-1        Requires: libgreet >= 2.0, /usr/bin/greet-words   (patch day)
    libgreet 1.0-1     Requires: (greet-data >= 1.0 with greet-data < 2.0)   (a rich dependency)
                       Provides: greeter = <version>
    libgreet 2.0-1     Requires: as 1.0                Provides: greeter = 2.0 (patch day)
    greet-data 1.0-1   files /usr/share/greet-data/words
    greet-words 1.0-1  files /usr/bin/greet-words (a file require, listed in primary
                       because createrepo_c puts */bin/* files there)
    airlock-tools 1.0-1, other-app 1.0-1 (Requires: other-lib), other-lib 1.0-1:
                       outside hello's closure

The closure of hello is hello, libgreet, greet-data and greet-words; a closure that
ignores file requires misses greet-words, one that leaves rich dependencies unresolved
misses greet-data, and dnf then cannot install hello.

Day 1 (`DAY1`) carries the 1.0 packages; patch day (`PATCH_DAY`) adds hello and
libgreet 2.0 (the 1.0 builds stay, as vendors keep them) and the advisory
`ADVISORY_ID` (security, Important, CVE-2026-0001) listing both 2.0 packages.

Hostile variants each copy a good repository to a new directory and break one thing
there (everything else stays as the vendor made it): `unsigned`, `wrong_key`,
`metadata_mismatch`, `package_mismatch`, `unsafe_href`, `older_revision`, `xml_bomb`
and `huge_primary` (whose 1 GiB primary is never written: the caller serves it as a
stream, see `HugeFile`).

Standalone:
    rpm_upstream.py DIR    writes DIR/vendor.gpg, DIR/RPM-GPG-KEY-vendor,
                           DIR/day1/, DIR/patch-day/ and prints DIR
"""
import bz2
import dataclasses
import gzip
import hashlib
import lzma
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ADVISORY_ID = "AIRLOCK-2026:0001"
ADVISORY_CVE = "CVE-2026-0001"


@dataclasses.dataclass(frozen=True)
class Package:
    """One noarch rpm: name-version-release, its dependencies and the files it ships
    (each a small text file naming the package)."""
    name: str
    version: str
    release: str = "1"
    requires: tuple = ()
    provides: tuple = ()
    files: tuple = ()

    @property
    def nevra(self):
        return f"{self.name}-{self.version}-{self.release}.noarch"

    @property
    def filename(self):
        return self.nevra + ".rpm"


def _pkg(name, version, requires=(), provides=(), files=None):
    return Package(name, version, "1", tuple(requires), tuple(provides),
                   tuple(files or (f"/usr/share/{name}/README",)))


PACKAGES = {p.nevra: p for p in (
    _pkg("hello", "1.0", ["libgreet >= 1.0", "/usr/bin/greet-words"], files=["/usr/bin/hello"]),
    _pkg("hello", "2.0", ["libgreet >= 2.0", "/usr/bin/greet-words"], files=["/usr/bin/hello"]),
    _pkg("libgreet", "1.0", ["(greet-data >= 1.0 with greet-data < 2.0)"], ["greeter = 1.0"]),
    _pkg("libgreet", "2.0", ["(greet-data >= 1.0 with greet-data < 2.0)"], ["greeter = 2.0"]),
    _pkg("greet-data", "1.0", files=["/usr/share/greet-data/words"]),
    _pkg("greet-words", "1.0", files=["/usr/bin/greet-words"]),
    _pkg("airlock-tools", "1.0", files=["/usr/bin/airlock-tools"]),
    _pkg("other-app", "1.0", ["other-lib"]),
    _pkg("other-lib", "1.0"),
)}
DAY1 = ("hello-1.0-1.noarch", "libgreet-1.0-1.noarch", "greet-data-1.0-1.noarch",
        "greet-words-1.0-1.noarch", "airlock-tools-1.0-1.noarch", "other-app-1.0-1.noarch",
        "other-lib-1.0-1.noarch")
PATCH_DAY = DAY1 + ("hello-2.0-1.noarch", "libgreet-2.0-1.noarch")
FIXED = ("hello-2.0-1.noarch", "libgreet-2.0-1.noarch")  # what the advisory lists


@dataclasses.dataclass(frozen=True)
class VendorKey:
    """An OpenPGP signing key in its own GNUPGHOME. `keyring` is the binary public
    keyring for gpgv (`vendor.gpg`), `armored` the armored public key dnf and rpm import
    (`RPM-GPG-KEY-vendor`)."""
    home: pathlib.Path
    fingerprint: str
    keyring: pathlib.Path
    armored: pathlib.Path

    def env(self):
        return dict(os.environ, GNUPGHOME=str(self.home))


def _run(cmd, env=None, cwd=None, input=None):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, env=env, cwd=cwd, input=input,
                       timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}\n"
                           f"{p.stdout.decode(errors='replace')}{p.stderr.decode(errors='replace')}")
    return p.stdout


def make_vendor_key(dir, name="airlock rpm vendor", email="vendor@rpm.invalid", stem="vendor"):
    """Makes a fresh RSA-3072 signing key (no passphrase) in dir/gnupg-<stem> and exports it
    as dir/<stem>.gpg (binary, for gpgv --keyring) and dir/RPM-GPG-KEY-<stem> (armored).
    Returns the VendorKey. Call `forget_key` when done to stop its gpg-agent."""
    dir = pathlib.Path(dir)
    home = dir / f"gnupg-{stem}"
    home.mkdir(parents=True, mode=0o700)
    env = dict(os.environ, GNUPGHOME=str(home))
    _run(["gpg", "--batch", "--quiet", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "",
          "--quick-generate-key", f"{name} <{email}>", "rsa3072", "sign", "1y"], env=env)
    out = _run(["gpg", "--batch", "--with-colons", "--list-keys", email], env=env).decode()
    fpr = re.search(r"^fpr:+([0-9A-F]{40}):", out, re.M).group(1)
    keyring, armored = dir / f"{stem}.gpg", dir / f"RPM-GPG-KEY-{stem}"
    keyring.write_bytes(_run(["gpg", "--batch", "--export", fpr], env=env))
    armored.write_bytes(_run(["gpg", "--batch", "--armor", "--export", fpr], env=env))
    return VendorKey(home, fpr, keyring, armored)


def forget_key(key):
    """Stops the gpg-agent a key's GNUPGHOME started (it would outlive the test)."""
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=key.env(), capture_output=True)


def sign_repomd(repo, key):
    """(Re)writes repo/repodata/repomd.xml.asc: key's detached armored signature of repomd.xml."""
    repomd = pathlib.Path(repo) / "repodata/repomd.xml"
    _run(["gpg", "--batch", "--yes", "--quiet", "--no-tty", "--local-user", key.fingerprint,
          "--detach-sign", "--armor", "-o", str(repomd) + ".asc", repomd], env=key.env())


def _spec(p):
    lines = [f"Name: {p.name}", f"Version: {p.version}", f"Release: {p.release}",
             f"Summary: airlock sample package {p.name}", "License: MIT", "BuildArch: noarch",
             "URL: https://rpm.invalid/"]
    lines += [f"Requires: {r}" for r in p.requires] + [f"Provides: {r}" for r in p.provides]
    lines += ["%description", f"{p.name} {p.version}, a small package to test airlock.", "",
              "%install"]
    for f in p.files:
        lines += [f"mkdir -p %{{buildroot}}{os.path.dirname(f)}",
                  f"echo '{p.name} {p.version}-{p.release}' > %{{buildroot}}{f}"]
        if "/bin/" in f:
            lines.append(f"chmod 755 %{{buildroot}}{f}")
    lines += ["", "%files"] + list(p.files) + [""]
    return "\n".join(lines)


_RPMBUILD_DEFINES = ["--define", "_build_id_links none", "--define", "__os_install_post %{nil}",
                     "--define", "_binary_payloadio w9.gzdio", "--define", "source_date_epoch_from_changelog 0",
                     "--define", "use_source_date_epoch_as_buildtime 1",
                     "--define", "clamp_mtime_to_source_date_epoch 1"]


def build_packages(outdir, key, nevras):
    """Builds the named packages (keys of PACKAGES) into outdir and signs them with key,
    skipping ones already there (so outdir holds one key's packages). Returns their paths, in
    the order given."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    todo = [PACKAGES[n] for n in nevras if not (outdir / PACKAGES[n].filename).exists()]
    if todo:
        with tempfile.TemporaryDirectory(prefix="rpmbuild-") as top:
            # rpm opens (and would create) the rpmdb at ~/.rpmdb on Debian: keep it in top.
            env = dict(key.env(), SOURCE_DATE_EPOCH="1767225600")
            db = ["--define", f"_dbpath {top}/rpmdb"]
            for p in todo:
                spec = pathlib.Path(top) / f"{p.nevra}.spec"
                spec.write_text(_spec(p))
                _run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}",
                      "--define", f"_rpmdir {outdir}", "--define", "_rpmfilename %{NEVRA}.rpm",
                      *db, *_RPMBUILD_DEFINES, spec], env=env)
            _run(["rpmsign", "--addsign", *db, "--define", f"_gpg_name {key.fingerprint}",
                  "--define", "__gpg /usr/bin/gpg", "--define", f"_gpg_path {key.home}",
                  *[outdir / p.filename for p in todo]], env=env)
    return [outdir / PACKAGES[n].filename for n in nevras]


def updateinfo_xml(repo, advisory=ADVISORY_ID, fixed=FIXED, issued="2026-01-13 00:00:00"):
    """An updateinfo.xml with one security advisory (severity Important, one CVE) listing the
    packages `fixed` (NEVRAs) with the sha256 of their files in repo/Packages."""
    pkgs = []
    for n in fixed:
        p = PACKAGES[n]
        digest = hashlib.sha256((pathlib.Path(repo) / "Packages" / p.filename).read_bytes()).hexdigest()
        pkgs.append(
            f'        <package name="{p.name}" version="{p.version}" release="{p.release}" epoch="0" '
            f'arch="noarch" src="{p.name}-{p.version}-{p.release}.src.rpm">\n'
            f"          <filename>{p.filename}</filename>\n"
            f'          <sum type="sha256">{digest}</sum>\n        </package>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@rpm.invalid" status="final" type="security" version="2">
    <id>{advisory}</id>
    <title>Important: hello and libgreet security update</title>
    <issued date="{issued}"/>
    <updated date="{issued}"/>
    <rights>Copyright 2026 airlock sample vendor</rights>
    <release>airlock sample 1</release>
    <severity>Important</severity>
    <summary>An update for hello and libgreet is now available.</summary>
    <description>A flaw in libgreet let a long greeting overflow a buffer ({ADVISORY_CVE}).</description>
    <references>
      <reference href="https://www.cve.org/CVERecord?id={ADVISORY_CVE}" id="{ADVISORY_CVE}"
                 title="{ADVISORY_CVE}" type="cve"/>
      <reference href="https://rpm.invalid/errata/{advisory}" id="{advisory}" title="{advisory}" type="self"/>
    </references>
    <pkglist>
      <collection short="airlock-sample">
        <name>airlock sample</name>
{chr(10).join(pkgs)}
      </collection>
    </pkglist>
  </update>
</updates>
"""


def build_repo(dir, key, packages=DAY1, revision=None, updateinfo=None, database=False,
               compress="gz", cache=None):
    """Builds a signed rpm repository at dir (replacing what is there): dir/Packages/*.rpm,
    dir/repodata/ by createrepo_c with `--revision revision` and every repomd timestamp set
    to it (revision is Unix time; default now), updateinfo (the XML text, or True for
    `updateinfo_xml()`) added by modifyrepo_c, and repodata/repomd.xml.asc signed by key.
    compress is createrepo_c's --general-compress-type (gz, xz, zstd, bz2); database adds the
    sqlite files. cache is a directory of packages built and signed by key to reuse (default
    dir/../.rpms-<key fingerprint>). Returns dir."""
    dir = pathlib.Path(dir)
    if dir.exists():
        shutil.rmtree(dir)
    cache = pathlib.Path(cache) if cache else dir.parent / f".rpms-{key.fingerprint}"
    (dir / "Packages").mkdir(parents=True)
    for path in build_packages(cache, key, packages):
        shutil.copy2(path, dir / "Packages" / path.name)
    revision = int(time.time()) if revision is None else int(revision)
    _run(["createrepo_c", "--quiet", "--checksum", "sha256", "--unique-md-filenames",
          "--database" if database else "--no-database", "--general-compress-type", compress,
          "--revision", str(revision), "--set-timestamp-to-revision", dir])
    if updateinfo:
        text = updateinfo_xml(dir) if updateinfo is True else updateinfo
        with tempfile.TemporaryDirectory() as tmp:
            path = pathlib.Path(tmp) / "updateinfo.xml"
            path.write_text(text)
            os.utime(path, (revision, revision))
            _run(["modifyrepo_c", "--mdtype", "updateinfo", "--compress-type", compress, path,
                  dir / "repodata"])
        _set_timestamps(dir, revision)
    sign_repomd(dir, key)
    return dir


def _set_timestamps(repo, when):
    """Sets every <timestamp> in repomd.xml to when (modifyrepo_c stamps its entry with now)."""
    repomd = pathlib.Path(repo) / "repodata/repomd.xml"
    repomd.write_text(re.sub(r"<timestamp>\d+</timestamp>", f"<timestamp>{when}</timestamp>",
                             repomd.read_text()))


def day1(dir, key, revision=None):
    """The day-1 repository: DAY1 packages, no advisory. revision defaults to a day ago."""
    return build_repo(dir, key, DAY1, revision or int(time.time()) - 86400)


def patch_day(dir, key, revision=None):
    """The patch-day repository: PATCH_DAY packages and the advisory. revision defaults to now,
    newer than day1's default."""
    return build_repo(dir, key, PATCH_DAY, revision or int(time.time()), updateinfo=True)


def repomd_entries(repo):
    """{type: {"href", "checksum", "size", "open_checksum", "open_size"}} from repomd.xml
    (a regular-expression read: the fixture's own output, not untrusted input)."""
    text = (pathlib.Path(repo) / "repodata/repomd.xml").read_text()
    out = {}
    for m in re.finditer(r'<data type="([^"]+)">(.*?)</data>', text, re.S):
        body = m.group(2)

        def field(pattern):
            f = re.search(pattern, body)
            return f.group(1) if f else None
        out[m.group(1)] = {"href": field(r'<location href="([^"]+)"'),
                           "checksum": field(r'<checksum type="sha256">([0-9a-f]+)<'),
                           "size": field(r"<size>(\d+)<"),
                           "open_checksum": field(r'<open-checksum type="sha256">([0-9a-f]+)<'),
                           "open_size": field(r"<open-size>(\d+)<")}
    return out


def primary_xml(repo):
    """The decompressed text of repo's primary.xml (gz only, as build_repo makes by default)."""
    href = repomd_entries(repo)["primary"]["href"]
    return gzip.decompress((pathlib.Path(repo) / href).read_bytes()).decode()


# --- hostile variants -------------------------------------------------------------------------

_CODECS = {".gz": (gzip.compress, gzip.decompress), ".xz": (lzma.compress, lzma.decompress),
           ".bz2": (bz2.compress, bz2.decompress), ".xml": (bytes, bytes)}
DOTDOT_HREF = "../hello-1.0-1.noarch.rpm"
ABSOLUTE_HREF = "/etc/hello-1.0-1.noarch.rpm"


def fresh_copy(good, dst):
    """Copies the tree good to dst, replacing whatever dst held. Returns dst as a Path."""
    dst = pathlib.Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(good, dst)
    return dst


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _set_entry(repo, mdtype, href, checksum, size, open_checksum, open_size):
    """Points repomd.xml's entry for mdtype at a new file (its digests and sizes)."""
    repomd = pathlib.Path(repo) / "repodata/repomd.xml"
    text = repomd.read_text()
    m = re.search(rf'<data type="{mdtype}">.*?</data>', text, re.S)
    body = re.sub(r'(<checksum type="sha256">)[0-9a-f]+', rf"\g<1>{checksum}", m.group(0))
    body = re.sub(r'(<open-checksum type="sha256">)[0-9a-f]+', rf"\g<1>{open_checksum}", body)
    body = re.sub(r'<location href="[^"]+"', f'<location href="{href}"', body)
    body = re.sub(r"<size>\d+</size>", f"<size>{size}</size>", body)
    body = re.sub(r"<open-size>\d+</open-size>", f"<open-size>{open_size}</open-size>", body)
    repomd.write_text(text[:m.start()] + body + text[m.end():])


def _rewrite(repo, mdtype, transform, key=None):
    """Replaces repo's metadata file mdtype by transform(its decompressed bytes), compressed
    the same way under a new unique name. With key, repomd.xml is updated to match and
    re-signed (a vendor who signed it); without, repomd.xml is left as it was."""
    repo = pathlib.Path(repo)
    old = repomd_entries(repo)[mdtype]["href"]
    compress, decompress = _CODECS[os.path.splitext(old)[1]]
    plain = transform(decompress((repo / old).read_bytes()))
    packed = compress(plain)
    if key is None:
        (repo / old).write_bytes(packed)
        return
    href = f"repodata/{_sha256(packed)}-{os.path.basename(old).split('-', 1)[1]}"
    (repo / old).unlink()
    (repo / href).write_bytes(packed)
    _set_entry(repo, mdtype, href, _sha256(packed), len(packed), _sha256(plain), len(plain))
    sign_repomd(repo, key)


def unsigned(good, dst):
    """good without repodata/repomd.xml.asc."""
    dst = fresh_copy(good, dst)
    (dst / "repodata/repomd.xml.asc").unlink()
    return dst


def wrong_key(good, dst, other):
    """good with repomd.xml signed by the key other instead of the vendor's."""
    dst = fresh_copy(good, dst)
    sign_repomd(dst, other)
    return dst


def metadata_mismatch(good, dst, mdtype="filelists"):
    """good whose mdtype file (still well-formed, same name) differs from the sha256 the
    signed repomd.xml gives for it: one comment line added."""
    dst = fresh_copy(good, dst)
    _rewrite(dst, mdtype, lambda x: x.replace(b"?>", b"?>\n<!-- altered -->", 1))
    return dst


def package_mismatch(good, dst, nevra="hello-1.0-1.noarch"):
    """good with one byte in the middle of nevra's rpm flipped: same size, a sha256 other
    than the one primary gives."""
    dst = fresh_copy(good, dst)
    path = dst / "Packages" / PACKAGES[nevra].filename
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return dst


def unsafe_href(good, dst, key, href=DOTDOT_HREF, nevra="hello-1.0-1.noarch"):
    """good whose primary gives nevra the location href (default DOTDOT_HREF; ABSOLUTE_HREF
    for an absolute path), with repomd.xml updated and signed by key."""
    dst = fresh_copy(good, dst)
    old = f'<location href="Packages/{PACKAGES[nevra].filename}"/>'.encode()
    new = f'<location href="{href}"/>'.encode()

    def edit(x):
        assert old in x, f"{nevra} is not in primary"
        return x.replace(old, new)
    _rewrite(dst, "primary", edit, key)
    return dst


def older_revision(good, dst, key, by=30 * 86400):
    """good with repomd.xml's revision and every timestamp moved back by seconds, re-signed
    by key: what a replay of an older repository looks like after a newer one was seen."""
    dst = fresh_copy(good, dst)
    repomd = dst / "repodata/repomd.xml"
    text = re.sub(r"<revision>(\d+)</revision>", lambda m: f"<revision>{int(m.group(1)) - by}</revision>",
                  repomd.read_text())
    text = re.sub(r"<timestamp>(\d+)</timestamp>", lambda m: f"<timestamp>{int(m.group(1)) - by}</timestamp>",
                  text)
    repomd.write_text(text)
    sign_repomd(dst, key)
    return dst


def billion_laughs(levels=10):
    """A DTD whose entity &lol<levels-1>; expands to 3 * 10**(levels-1) bytes."""
    lines = ['  <!ENTITY lol0 "lol">']
    for i in range(1, levels):
        lines.append(f'  <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">')
    return "<!DOCTYPE metadata [\n" + "\n".join(lines) + "\n]>\n"


def xml_bomb(good, dst, key, levels=10):
    """good whose primary.xml declares the billion-laughs entities and uses the biggest in
    hello's summary; repomd.xml matches it and is signed by key, so only the XML parser can
    refuse it."""
    dst = fresh_copy(good, dst)

    def edit(x):
        decl, rest = x.split(b"?>", 1)
        rest = re.sub(rb"<summary>[^<]*</summary>", f"<summary>&lol{levels - 1};</summary>".encode(),
                      rest, count=1)
        return decl + b"?>\n" + billion_laughs(levels).encode() + rest.lstrip()
    _rewrite(dst, "primary", edit, key)
    return dst


@dataclasses.dataclass(frozen=True)
class HugeFile:
    """A file that is served and never written: `href` (relative to the repository root),
    `size` bytes of `head`, spaces, `tail`, whose sha256 is `checksum`. `chunks(start)`
    yields its bytes from offset start, 1 MiB at a time (what UpstreamServer.stream takes)."""
    href: str
    size: int
    checksum: str
    head: bytes
    tail: bytes

    def chunks(self, start=0):
        pad_end = self.size - len(self.tail)
        pos = start
        if pos < len(self.head):
            yield self.head[pos:]
            pos = len(self.head)
        block = b" " * (1 << 20)
        while pos < pad_end:
            n = min(len(block), pad_end - pos)
            yield block[:n]
            pos += n
        yield self.tail[pos - pad_end:]


def huge_primary(good, dst, key, size=1 << 30):
    """good with an uncompressed primary.xml of size bytes (default 1 GiB): its packages
    after a run of spaces. repomd.xml gives its true size and sha256 and is signed by key;
    the file itself is not written. Returns (dst, HugeFile): serve it with
    `UpstreamServer.stream[<url path of the repo> + "/" + huge.href] = (huge.size, huge.chunks)`."""
    dst = fresh_copy(good, dst)
    old = repomd_entries(dst)["primary"]["href"]
    text = primary_xml(dst).encode()
    opening = re.search(rb"<metadata[^>]*>", text)
    head, tail = text[:opening.end()], text[opening.end():]
    probe = HugeFile("", size, "", head, tail)
    digest = hashlib.sha256()
    for chunk in probe.chunks():
        digest.update(chunk)
    checksum = digest.hexdigest()
    huge = HugeFile(f"repodata/{checksum}-primary.xml", size, checksum, head, tail)
    (dst / old).unlink()
    _set_entry(dst, "primary", huge.href, checksum, size, checksum, size)
    sign_repomd(dst, key)
    return dst, huge


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "rpm-upstream")
    out.mkdir(parents=True, exist_ok=True)
    key = make_vendor_key(out)
    try:
        day1(out / "day1", key)
        patch_day(out / "patch-day", key)
    finally:
        forget_key(key)
    print(out.resolve())


if __name__ == "__main__":
    main()
