#!/usr/bin/env bash
# bench_rpm_sync.sh AIRLOCK_MIRROR WORKDIR [PACKAGES]
#
# A generated rpm repository of 20,000 real noarch packages (rpmbuild, each a
# few KiB to a few hundred KiB of payload, some with Requires) with
# createrepo_c's repodata and a repomd.xml signed by a key made here, served
# by nginx on loopback. `airlock-mirror sync` into a fresh home and
# `dnf reposync` (dnf-plugins-core, its own config, repo_gpgcheck=1 against
# the same key, metadata not downloaded) into a fresh directory fetch the
# same packages, each with 8 parallel downloads, one after the other in
# each of BENCH_ROUNDS (3) rounds (the order alternates); the median ratio
# is reported. Target: airlock <= 0.7x dnf's time. Also prints
# airlock-mirror's peak RSS.
#
# The repository takes minutes to build; it is kept in
# WORKDIR/airlock-bench-rpm-PACKAGES and reused by later runs.
set -euo pipefail
mirror="$1"; base="$2"; n="${3:-20000}"
cache="$base/airlock-bench-rpm-$n"
work="$base/airlock-bench-rpm-sync"
jobs=8

. "$(dirname "$0")/lib.sh"
need_packages nginx-light rpm createrepo-c dnf dnf-plugins-core gnupg bc curl time

# build_repository: $cache/upstream (Packages/, repodata/ with repomd.xml.asc),
# $cache/keyring.gpg (for gpgv) and $cache/RPM-GPG-KEY-bench (for dnf).
build_repository() {
  rm -rf "$cache"; mkdir -p "$cache/upstream/Packages" "$cache/build"
  echo "bench_rpm_sync: generating $n packages (once; kept in $cache)"
  # Specs of 1,000 subpackages each: one rpmbuild makes a thousand packages.
  python3 - "$cache/build" "$n" <<'PY'
import math, os, random, sys
top, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(14)
chunk = 1000
for c in range(math.ceil(n / chunk)):
    d = f"{top}/chunk{c:02d}"
    os.makedirs(f"{d}/payload/usr/share/bench", exist_ok=True)
    spec = [f"Name: bench-chunk{c:02d}", "Version: 1.0", "Release: 1", "Summary: bench",
            "License: MIT", "BuildArch: noarch", "%description", "bench", "%install",
            f"cp -a {d}/payload/. %{{buildroot}}/", ""]
    for i in range(c * chunk, min(n, (c + 1) * chunk)):
        name = f"pkg{i:05d}"
        size = min(int(rng.lognormvariate(8.7, 1.1)), 4 << 20)
        with open(f"{d}/payload/usr/share/bench/{name}", "wb") as f:
            f.write(os.urandom(size))
        requires = [f"Requires: pkg{rng.randrange(n):05d}" for _ in range(rng.randrange(4))]
        spec += [f"%package -n {name}", f"Version: 1.{i % 7}", f"Summary: bench package {i}",
                 *requires, f"%description -n {name}",
                 f"Bench package {i}, one file of {size} bytes.",
                 f"%files -n {name}", f"/usr/share/bench/{name}", ""]
    with open(f"{d}/bench.spec", "w") as f:
        f.write("\n".join(spec))
PY
  # rpm writes a spec's packages from OpenMP threads; spinning waiters only
  # slow a shared machine down.
  local spec
  for spec in "$cache"/build/chunk*/bench.spec; do
    OMP_WAIT_POLICY=passive rpmbuild -bb --quiet --define "_topdir $(dirname "$spec")/top" \
      --define "_rpmdir $cache/upstream/Packages" --define "_rpmfilename %{NEVRA}.rpm" \
      --define "_dbpath $(dirname "$spec")/top/rpmdb" --define "_build_id_links none" \
      --define "__os_install_post %{nil}" --define "_binary_payloadio w1.gzdio" \
      "$spec" > "$(dirname "$spec")/rpmbuild.log" 2>&1 ||
      { cat "$(dirname "$spec")/rpmbuild.log" >&2; exit 1; }
  done
  rm -rf "$cache/build"
  createrepo_c --quiet --checksum sha256 --unique-md-filenames --no-database --workers 2 \
    --general-compress-type gz "$cache/upstream"
  export GNUPGHOME="$cache/gnupg"; mkdir -p "$GNUPGHOME"; chmod 700 "$GNUPGHOME"
  gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-generate-key "bench <bench@x>" rsa2048 sign 1y 2>/dev/null
  gpg --batch --quiet --export bench@x > "$cache/keyring.gpg"
  gpg --batch --quiet --armor --export bench@x > "$cache/RPM-GPG-KEY-bench"
  gpg --batch --quiet --detach-sign --armor -o "$cache/upstream/repodata/repomd.xml.asc" \
    "$cache/upstream/repodata/repomd.xml"
  gpgconf --kill gpg-agent
  unset GNUPGHOME
  touch "$cache/complete"
}
[ -f "$cache/complete" ] || build_repository
count=$(find "$cache/upstream/Packages" -name '*.rpm' | wc -l)
[ "$count" -eq "$n" ] || { echo "bench_rpm_sync: $count packages in $cache, not $n" >&2; exit 1; }
echo "bench_rpm_sync: $n packages, $(du -sm "$cache/upstream" | cut -f1) MiB"

rm -rf "$work"; mkdir -p "$work"
nginx_pid=""
# forget_agents DIR: stops the gpg-agent dnf leaves running for the keyring
# it made for repo_gpgcheck under DIR (it would outlive the bench).
forget_agents() {
  local ring
  for ring in "$1"/*/dnf/installroot/var/cache/dnf/*/pubring; do
    [ -d "$ring" ] && gpgconf --homedir "$ring" --kill gpg-agent 2>/dev/null || true
  done
}
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  forget_agents "$work"
  rm -rf "$work"
}
trap cleanup EXIT
start_upstream "$work" "$cache/upstream" repodata/repomd.xml

# airlock_round DIR: a fresh home syncing the repository.
airlock_round() {
  local home="$1/airlock"
  "$mirror" --home "$home" init >/dev/null
  cat >> "$home/mirror.toml" <<TOML

[[repo]]
name = "bench"
kind = "rpm"
url = "http://127.0.0.1:$port"
keyring = "$cache/keyring.gpg"
TOML
  measure "airlock$2" "$mirror" --home "$home" sync --jobs "$jobs"
  grep -q "$n packages" "$work/out.airlock$2" ||
    { echo "bench_rpm_sync: airlock-mirror did not carry $n packages:" >&2; cat "$work/out.airlock$2" >&2; exit 1; }
}

# dnf_round DIR: `dnf reposync` of the repository into a fresh directory,
# with nothing of the machine's dnf: its own dnf.conf, repository, cache
# (in a fresh installroot) and the bench key for repomd.xml.
dnf_round() {
  local d="$1/dnf"
  mkdir -p "$d/repos.d" "$d/installroot"
  cat > "$d/dnf.conf" <<CONF
[main]
reposdir=$d/repos.d
cachedir=/var/cache/dnf
persistdir=/var/lib/dnf
logdir=/var/log
keepcache=0
metadata_expire=0
check_config_file_age=0
max_parallel_downloads=$jobs
CONF
  cat > "$d/repos.d/bench.repo" <<REPO
[bench]
name=bench
baseurl=http://127.0.0.1:$port/
gpgcheck=0
repo_gpgcheck=1
gpgkey=file://$cache/RPM-GPG-KEY-bench
REPO
  measure "dnf$2" env HOME="$d" dnf -c "$d/dnf.conf" --installroot="$d/installroot" --releasever=1 \
    -y -q --setopt=debuglevel=0 --disableplugin='*' --enableplugin=reposync \
    reposync --repoid bench --download-path "$d/out" --norepopath
  local got
  got=$(find "$d/out" -name '*.rpm' | wc -l)
  [ "$got" -eq "$n" ] || { echo "bench_rpm_sync: dnf reposync fetched $got packages, not $n" >&2; exit 1; }
}

rounds="${BENCH_ROUNDS:-3}"
declare -A secs mib
ratios=()
for r in $(seq "$rounds"); do
  mkdir -p "$work/$r"
  if [ $((r % 2)) -eq 1 ]; then airlock_round "$work/$r" "$r"; dnf_round "$work/$r" "$r"
  else dnf_round "$work/$r" "$r"; airlock_round "$work/$r" "$r"; fi
  ratios+=("$(echo "${secs[airlock$r]} / ${secs[dnf$r]}" | bc -l)")
  printf '  round %s: airlock %7.2f s (peak RSS %.0f MiB)   dnf reposync %7.2f s   ratio %.2f\n' \
    "$r" "${secs[airlock$r]}" "${mib[airlock$r]}" "${secs[dnf$r]}" "${ratios[-1]}"
  forget_agents "$work"
  rm -rf "$work/$r"
done
printf 'bench_rpm_sync: %s packages over nginx on loopback, %s parallel downloads each, %s rounds\n' \
  "$n" "$jobs" "$rounds"
printf '  full sync   airlock / dnf reposync: median ratio %.2f (target <= 0.70); rounds %s\n' \
  "$(median "${ratios[@]}")" "$(printf '%.2f ' "${ratios[@]}")"
