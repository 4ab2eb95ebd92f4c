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
need_packages nginx-light apt-utils gnupg bc time curl xz-utils lmdb-utils

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

start_upstream "$work"

low="$work/low"; high="$work/high"
"$mirror" --home "$low" init >/dev/null
"$mirror" --home "$low" keygen alice >/dev/null
add_bench_repo "$low" "$port" "$work/keyring.gpg"
"$repo" --home "$high" init >/dev/null
"$repo" --home "$high" trust add "$low/keys/alice.pub" --name alice >/dev/null

declare -A secs mib  # set by measure (lib.sh)
declare -A failed    # the last line a failed step printed
# step NAME CMD...: measure, but a failing CMD is reported in the table
# instead of ending the benchmark (the steps after it still run if they can).
step() {
  local name="$1"; shift
  echo "bench_memory: $name"
  rm -f "$work/failed.$name"
  measure "$name" bash -c '"$@" || touch "$0"' "$work/failed.$name" "$@"
  [ -e "$work/failed.$name" ] && failed[$name]=$(tail -n 1 "$work/err.$name")
  return 0
}
step sync "$mirror" --home "$low" --quiet sync
step resync "$mirror" --home "$low" --quiet sync
step export "$mirror" --home "$low" --quiet export --mkdir --stream bench --out "$work/media" --key alice
if [ -z "${failed[export]:-}" ]; then
  step import "$repo" --home "$high" --quiet import "$work/media/airlock-bench-000001"
  # Objects as the index counts them: small ones are packed, several to a file.
  objects=$(mdb_stat -s objects "$high/store/index" | awk '/Entries:/ {print $2}')
  if [ -z "${failed[import]:-}" ] && [ "$objects" -lt "$n" ]; then
    failed[import]="the high side holds $objects objects, fewer than the $n packages"
  fi
else
  failed[import]="not run: no bundle"
fi

verdict() {  # verdict NAME [MAX_SECONDS]
  local m t=1
  [ -n "${failed[$1]:-}" ] && { echo "FAILED: ${failed[$1]}"; return; }
  m=$(echo "${mib[$1]} < 256" | bc -l)
  [ -n "${2:-}" ] && t=$(echo "${secs[$1]} < $2" | bc -l)
  if [ "$m" = 1 ] && [ "$t" = 1 ]; then echo PASS; else echo MISS; fi
}
row() {  # row NAME LABEL TARGET [MAX_SECONDS]
  printf '  %-16s %9.2f %9.1f  %-18s %s\n' "$2" "${secs[$1]:-0}" "${mib[$1]:-0}" "$3" \
    "$(verdict "$1" "${4:-}")"
}
printf 'bench_memory: %s packages (one pool file each) over nginx on loopback\n' "$n"
printf '  %-16s %9s %9s  %s\n' "" "wall s" "max MiB" "target"
row sync "full sync" "< 256 MiB"
row resync "no-op re-sync" "< 256 MiB, < 2 s" 2
row export "export" "< 256 MiB"
row import "import" "< 256 MiB"
