"""The low side both rpm end-to-end tests start from: a vendor key (and a key of someone
else), the vendor's day-1 and patch-day rpm repositories served on loopback under up/, and
a mirror home that syncs them and exports bundles to media/.

    world = RpmWorld(mirror, "airlock-rpm-test-")
    world.add_repo("rocky", "rpm", "current", extra='packages = ["hello"]\\n')
    world.point("current", world.day1); world.sync_export("rocky")
    ...
    world.close()
"""
import pathlib
import shutil
import tempfile
import time

import rpm_upstream as ru
from hosts import run
from upstream_server import UpstreamServer


class RpmWorld:
    def __init__(self, mirror, prefix):
        self.mirror = mirror
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
        self.keys, self.hosts, self.server = [], [], None
        try:
            self.key = ru.make_vendor_key(self.dir)
            self.other = ru.make_vendor_key(self.dir, "someone else", "other@rpm.invalid", "other")
            self.keys += [self.key, self.other]
            now = int(time.time())
            self.day1 = ru.day1(self.dir / "up/day1", self.key, now - 86400)
            self.patch = ru.patch_day(self.dir / "up/patch-day", self.key, now)
            self.build()
            self.server = UpstreamServer(self.dir / "up").start()
            self.low = self.dir / "low"
            self.media = self.dir / "media"
            run(mirror, "init", home=self.low)
            run(mirror, "keygen", "alice", home=self.low)
            self.mirror_repos()
        except BaseException:
            self.close()
            raise

    def build(self):
        """More upstreams under self.dir / "up", before the server starts."""

    def mirror_repos(self):
        """What the low side mirrors and exports, once its home exists."""

    def add_repo(self, name, kind, path, keyring=None, home=None, extra=""):
        """A [[repo]] of the upstream at up/path in home's mirror.toml (default the low side's)."""
        with open(pathlib.Path(home or self.low) / "mirror.toml", "a") as f:
            f.write(f'\n[[repo]]\nname = "{name}"\nkind = "{kind}"\nurl = "{self.server.url}/{path}"\n'
                    f'keyring = "{keyring or self.key.keyring}"\n{extra}')

    def point(self, name, target):
        """up/name becomes a link to target: the upstream moves on (or back)."""
        link = self.dir / "up" / name
        if link.is_symlink():
            link.unlink()
        link.symlink_to(target)

    def sync_export(self, repo):
        run(self.mirror, "sync", repo, home=self.low)
        run(self.mirror, "export", "--mkdir", "--stream", repo, "--repo", repo, "--out", self.media,
            "--key", "alice", home=self.low)

    def close(self):
        if self.server:
            self.server.stop()
        for host in self.hosts:
            host.close()
        for key in self.keys:
            ru.forget_key(key)
        shutil.rmtree(self.dir, ignore_errors=True)
