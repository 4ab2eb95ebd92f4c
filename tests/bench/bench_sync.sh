#!/usr/bin/env bash
# bench_sync.sh AIRLOCK_MIRROR WORKDIR [PACKAGES]
#
# A synthetic signed upstream of 20,000 packages (mostly small, some 10-50 MiB,
# about 2 GiB in all) served by nginx on loopback; a full sync and a no-op
# re-sync by airlock-mirror side by side with `aptly mirror update` of the same
# upstream, in one run. Targets: full sync <= 0.5x aptly; no-op re-sync <= 0.2x.
set -euo pipefail
mirror="$1"; base="$2"; n="${3:-20000}"
work="$base/airlock-bench-sync"

. "$(dirname "$0")/lib.sh"
need_packages nginx-light aptly apt-utils gnupg bc xz-utils curl

rm -rf "$work"; mkdir -p "$work/upstream"
nginx_pid=""
cleanup() { [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "bench_sync: generating $n packages"
python3 - "$work/upstream" "$n" <<'PY'
import hashlib, os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
big = set(rng.sample(range(n), 20))
os.makedirs(f"{root}/dists/bookworm/main/binary-amd64", exist_ok=True)
total = 0
with open(f"{root}/dists/bookworm/main/binary-amd64/Packages", "w") as idx:
    for i in range(n):
        name = f"pkg{i:05d}"
        size = rng.randint(10, 50) << 20 if i in big else int(rng.lognormvariate(10.3, 0.9))
        d = f"pool/main/{name[:4]}/{name}"
        os.makedirs(f"{root}/{d}", exist_ok=True)
        data = os.urandom(size)
        path = f"{d}/{name}_1.0-1_amd64.deb"
        with open(f"{root}/{path}", "wb") as f:
            f.write(data)
        total += size
        idx.write(f"Package: {name}\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: bench <b@x>\n"
                  f"Filename: {path}\nSize: {size}\nMD5sum: {hashlib.md5(data).hexdigest()}\n"
                  f"SHA1: {hashlib.sha1(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
                  f"Description: synthetic package {i}\n\n")
print(f"bench_sync: {total / 2**30:.2f} GiB in {n} pool files")
PY
sign_apt_upstream "$work"

start_upstream "$work"

time_it() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }

home="$work/airlock"
"$mirror" --home "$home" init >/dev/null
add_bench_repo "$home" "$port" "$work/keyring.gpg"
cat > "$work/aptly.conf" <<CONF
{"rootDir": "$work/aptly", "gpgDisableVerify": false, "gpgProvider": "gpg"}
CONF
aptly -config="$work/aptly.conf" mirror create -keyring="$work/keyring.gpg" -architectures=amd64 \
  bench "http://127.0.0.1:$port/" bookworm main >/dev/null

echo "bench_sync: full sync"
t_air=$(time_it "$mirror" --home "$home" --quiet sync)
t_aptly=$(time_it aptly -config="$work/aptly.conf" mirror update -keyring="$work/keyring.gpg" bench)
echo "bench_sync: no-op re-sync"
t_air0=$(time_it "$mirror" --home "$home" --quiet sync)
t_aptly0=$(time_it aptly -config="$work/aptly.conf" mirror update -keyring="$work/keyring.gpg" bench)
"$mirror" --home "$home" snapshots | tail -n 1

printf 'bench_sync: %s packages over nginx on loopback\n' "$n"
printf '  full sync     airlock %7.2f s   aptly %7.2f s   ratio %.2f (target <= 0.50)\n' "$t_air" "$t_aptly" "$(echo "$t_air / $t_aptly" | bc -l)"
printf '  no-op resync  airlock %7.2f s   aptly %7.2f s   ratio %.2f (target <= 0.20)\n' "$t_air0" "$t_aptly0" "$(echo "$t_air0 / $t_aptly0" | bc -l)"
