#!/usr/bin/env bash
# bench_memory.sh BUILD_DIR WORKDIR [PACKAGES]
#
# Peak memory of the steps whose input grows with a repository: a synthetic
# signed apt upstream of PACKAGES packages (default 250000; each pool file a
# few hundred bytes, so one object per package) served by nginx on loopback,
# then a full `airlock-mirror sync`, a no-op re-sync, `airlock-mirror export`
# of the snapshot onto a directory and `airlock-repo import` of that bundle
# into a fresh high-side home, each under /usr/bin/time: wall seconds and
# maximum resident set size. Targets: each step under 256 MiB; the no-op
# re-sync under 2 s.
set -euo pipefail
build="$1"; base="$2"; n="${3:-250000}"
work="$base/airlock-bench-memory"
mirror="$build/mirror/airlock-mirror"
repo="$build/repo-server/airlock-repo"

. "$(dirname "$0")/lib.sh"
need_packages nginx-light apt-utils gnupg bc time

rm -rf "$work"; mkdir -p "$work/upstream"
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

echo "bench_memory: generating $n packages"
python3 - "$work/upstream" "$n" <<'PY'
import hashlib, os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
os.makedirs(f"{root}/dists/bookworm/main/binary-amd64", exist_ok=True)
with open(f"{root}/dists/bookworm/main/binary-amd64/Packages", "w") as idx:
    for i in range(n):
        name = f"pkg{i:07d}"
        d = f"pool/main/{i % 1000:03d}"
        if i < 1000:
            os.makedirs(f"{root}/{d}", exist_ok=True)
        data = rng.randbytes(rng.randint(200, 600))
        path = f"{d}/{name}_1.0-1_amd64.deb"
        with open(f"{root}/{path}", "wb") as f:
            f.write(data)
        idx.write(f"Package: {name}\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: bench <b@x>\n"
                  f"Filename: {path}\nSize: {len(data)}\nMD5sum: {hashlib.md5(data).hexdigest()}\n"
                  f"SHA1: {hashlib.sha1(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
                  f"Description: synthetic package {i}\n\n")
PY
sign_apt_upstream "$work"

port=$(free_port)
write_nginx_conf "$work" "$port" "$work/upstream" off
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
deadline=$((SECONDS + 10))
until curl -sf -o /dev/null "http://127.0.0.1:$port/dists/bookworm/Release"; do
  [ $SECONDS -lt $deadline ] || { echo "bench_memory: nginx did not answer" >&2; exit 1; }
  sleep 0.1
done

low="$work/low"; high="$work/high"
"$mirror" --home "$low" init >/dev/null
"$mirror" --home "$low" keygen alice >/dev/null
cat >> "$low/mirror.toml" <<TOML

[[repo]]
name = "bench"
kind = "apt"
url = "http://127.0.0.1:$port"
suites = ["bookworm"]
components = ["main"]
architectures = ["amd64"]
keyring = "$work/keyring.gpg"
TOML
"$repo" --home "$high" init >/dev/null
"$repo" --home "$high" trust add "$low/keys/alice.pub" --name alice >/dev/null

declare -A secs mib  # set by measure (lib.sh)
echo "bench_memory: full sync"
measure sync "$mirror" --home "$low" --quiet sync
echo "bench_memory: no-op re-sync"
measure resync "$mirror" --home "$low" --quiet sync
echo "bench_memory: export"
measure export "$mirror" --home "$low" --quiet export --mkdir --stream bench --out "$work/media" --key alice
echo "bench_memory: import"
measure import "$repo" --home "$high" --quiet import "$work/media/airlock-bench-000001"

objects=$(find "$high/store/objects" -type f | wc -l)
if [ "$objects" -lt "$n" ]; then
  echo "bench_memory: the high side holds $objects objects, fewer than the $n packages" >&2
  exit 1
fi

verdict() {  # verdict SECONDS MIB [MAX_SECONDS]
  local m t=1
  m=$(echo "$2 < 256" | bc -l)
  [ -n "${3:-}" ] && t=$(echo "$1 < $3" | bc -l)
  if [ "$m" = 1 ] && [ "$t" = 1 ]; then echo PASS; else echo MISS; fi
}
printf 'bench_memory: %s packages (%s objects imported) over nginx on loopback\n' "$n" "$objects"
printf '  %-16s %9s %9s  %s\n' "" "wall s" "max MiB" "target"
printf '  %-16s %9.2f %9.1f  < 256 MiB          %s\n' "full sync" "${secs[sync]}" "${mib[sync]}" \
  "$(verdict "${secs[sync]}" "${mib[sync]}")"
printf '  %-16s %9.2f %9.1f  < 256 MiB, < 2 s   %s\n' "no-op re-sync" "${secs[resync]}" "${mib[resync]}" \
  "$(verdict "${secs[resync]}" "${mib[resync]}" 2)"
printf '  %-16s %9.2f %9.1f  < 256 MiB          %s\n' "export" "${secs[export]}" "${mib[export]}" \
  "$(verdict "${secs[export]}" "${mib[export]}")"
printf '  %-16s %9.2f %9.1f  < 256 MiB          %s\n' "import" "${secs[import]}" "${mib[import]}" \
  "$(verdict "${secs[import]}" "${mib[import]}")"
