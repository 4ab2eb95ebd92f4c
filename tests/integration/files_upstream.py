#!/usr/bin/env python3
"""A signed plain file set as vendors publish one, built on disk for the tests and the demo.

The tree (`build_files`), every byte fixed so two builds are identical:

    firmware/bmc-2.14.bin            64 KiB of firmware-like bytes
    tools/vendor-tool-1.2.tar.gz     a real tar.gz of two files
    images/installer-12.iso          256 KiB named like an ISO image
    docs/nested/deeper/README.txt    a text file three directories down
    SHA256SUMS                       `<sha256>  <path>` per file, as sha256sum prints it
    SHA256SUMS.gpg                   its detached signature, binary (signature="binary")
                                     or armored (signature="armored", as Ubuntu publishes);
                                     with signature="clearsigned" there is no .gpg and
                                     SHA256SUMS itself is clearsigned (as Debian's CD
                                     images' checksums once were)

The key is an rpm_upstream.VendorKey (make_vendor_key); gpgv checks the list with
`gpgv --keyring KEY.keyring SHA256SUMS.gpg SHA256SUMS` (or `gpgv --keyring KEY.keyring
SHA256SUMS` when clearsigned).

Hostile variants copy a good tree and break one thing: `unlisted_file` (a file on the
server that SHA256SUMS does not name), `missing_file` (a listed file that is not there),
`checksum_mismatch` (a listed file whose bytes differ), `unsigned` (no signature) and
`wrong_key` (the list signed by another key).

Standalone:
    files_upstream.py DIR   writes DIR/vendor.gpg and the trees DIR/binary/, DIR/armored/
                            and DIR/clearsigned/, and prints DIR
"""
import hashlib
import io
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rpm_upstream  # noqa: E402

SIGNATURES = ("binary", "armored", "clearsigned")


def _bytes(seed, size):
    return random.Random(seed).randbytes(size)


def _tarball():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("vendor-tool-1.2/bin/vendor-tool", b"#!/bin/sh\necho vendor-tool 1.2\n"),
                           ("vendor-tool-1.2/README", b"vendor tool 1.2\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1767225600, 0o755
            tar.addfile(info, io.BytesIO(data))
    raw = out.getvalue()
    return raw[:4] + b"\0\0\0\0" + raw[8:]  # gzip's mtime field: zero, so builds are identical


FILES = {
    "firmware/bmc-2.14.bin": lambda: _bytes("bmc", 64 << 10),
    "tools/vendor-tool-1.2.tar.gz": _tarball,
    "images/installer-12.iso": lambda: _bytes("iso", 256 << 10),
    "docs/nested/deeper/README.txt": lambda: b"Read the release notes before flashing.\n",
}


def sha256sums(root, paths):
    """The text of a SHA256SUMS naming paths (relative to root), as `sha256sum` writes it."""
    root = pathlib.Path(root)
    return "".join(f"{hashlib.sha256((root / p).read_bytes()).hexdigest()}  {p}\n" for p in sorted(paths))


def sign_list(root, key, signature="binary"):
    """Signs root/SHA256SUMS with key as signature says (see the module's docstring), removing
    any earlier signature."""
    root = pathlib.Path(root)
    sums, sig = root / "SHA256SUMS", root / "SHA256SUMS.gpg"
    sig.unlink(missing_ok=True)
    gpg = ["gpg", "--batch", "--yes", "--quiet", "--no-tty", "--local-user", key.fingerprint]
    if signature == "clearsigned":
        text = sums.read_text()
        if "-----BEGIN PGP SIGNED MESSAGE-----" in text:
            text = _clearsigned_body(text)
        sums.write_text(text)
        cmd = gpg + ["--clearsign", "-o", f"{sums}.tmp", sums]
    else:
        cmd = gpg + ["--detach-sign"] + (["--armor"] if signature == "armored" else []) + ["-o", sig, sums]
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True, env=key.env())
    if signature == "clearsigned":
        os.replace(f"{sums}.tmp", sums)


def _clearsigned_body(text):
    """The signed text of a clearsigned message this module wrote (no dash-escaped lines)."""
    body = text.split("\n\n", 1)[1]
    return body.split("-----BEGIN PGP SIGNATURE-----", 1)[0].rstrip("\n") + "\n"


def signature_of(root):
    """Which of SIGNATURES root's list carries, or None when unsigned."""
    root = pathlib.Path(root)
    sig = root / "SHA256SUMS.gpg"
    if sig.exists():
        return "armored" if sig.read_bytes().startswith(b"-----BEGIN PGP") else "binary"
    if (root / "SHA256SUMS").read_text().startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
        return "clearsigned"
    return None


def build_files(dir, key, signature="binary"):
    """Writes the file set (FILES), its SHA256SUMS and signature at dir (replacing it).
    Returns dir."""
    dir = pathlib.Path(dir)
    if dir.exists():
        shutil.rmtree(dir)
    for path, make in FILES.items():
        (dir / path).parent.mkdir(parents=True, exist_ok=True)
        (dir / path).write_bytes(make())
    (dir / "SHA256SUMS").write_text(sha256sums(dir, FILES))
    sign_list(dir, key, signature)
    return dir


def verify(root, keyring):
    """gpgv's verdict on root's list against keyring: the completed process (returncode 0
    when the signature is good)."""
    root = pathlib.Path(root)
    files = [root / "SHA256SUMS.gpg", root / "SHA256SUMS"] if signature_of(root) != "clearsigned" \
        else [root / "SHA256SUMS"]
    return subprocess.run(["gpgv", "--keyring", str(keyring)] + [str(f) for f in files],
                          capture_output=True, text=True)


def unlisted_file(good, dst, path="firmware/extra-9.9.bin"):
    """good plus a file at path that the signed SHA256SUMS does not name."""
    dst = rpm_upstream.fresh_copy(good, dst)
    (dst / path).parent.mkdir(parents=True, exist_ok=True)
    (dst / path).write_bytes(_bytes("unlisted", 4096))
    return dst


def missing_file(good, dst, path="images/installer-12.iso"):
    """good without the listed file path (the list still names it and is still signed)."""
    dst = rpm_upstream.fresh_copy(good, dst)
    (dst / path).unlink()
    return dst


def checksum_mismatch(good, dst, path="firmware/bmc-2.14.bin"):
    """good with one byte of the listed file path flipped: same size, another sha256."""
    dst = rpm_upstream.fresh_copy(good, dst)
    data = bytearray((dst / path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (dst / path).write_bytes(bytes(data))
    return dst


def unsigned(good, dst):
    """good with its list unsigned: no SHA256SUMS.gpg, and a clearsigned list's plain text."""
    dst = rpm_upstream.fresh_copy(good, dst)
    if signature_of(dst) == "clearsigned":
        (dst / "SHA256SUMS").write_text(_clearsigned_body((dst / "SHA256SUMS").read_text()))
    (dst / "SHA256SUMS.gpg").unlink(missing_ok=True)
    return dst


def wrong_key(good, dst, other):
    """good with its list signed (the same way) by the key other instead of the vendor's."""
    dst = rpm_upstream.fresh_copy(good, dst)
    sign_list(dst, other, signature_of(dst) or "binary")
    return dst


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "files-upstream")
    out.mkdir(parents=True, exist_ok=True)
    key = rpm_upstream.make_vendor_key(out)
    try:
        for signature in SIGNATURES:
            build_files(out / signature, key, signature)
    finally:
        rpm_upstream.forget_key(key)
    print(out.resolve())


if __name__ == "__main__":
    main()
