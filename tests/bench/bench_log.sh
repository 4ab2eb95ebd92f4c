#!/usr/bin/env bash
# bench_log.sh BUILD_DIR WORKDIR [RECORDS]
#
# The transfer log at site scale: a home whose log holds RECORDS pull records
# (default 10000000, checkpointed every ~5000 as the server does), then, each
# timed with /usr/bin/time (wall seconds, maximum resident set size):
#   sha256sum of the segments           the baseline: hashing every byte once
#   airlock-verify log DIR              one streaming pass over every record
#   airlock-repo log checkpoint         opening the home (store, log, key)
#   airlock-repo log prove N            an inclusion proof from the tiles
# Targets: verify < 60 s and < 64 MiB; opening < 0.2 s; prove < 0.1 s.
# Checks that the proof verifies and that the log verifies.
set -euo pipefail
build="$1"; base="$2"; records="${3:-10000000}"
work="$base/airlock-bench-log"
repo="$build/repo-server/airlock-repo"
verify="$build/verify/airlock-verify"

. "$(dirname "$0")/lib.sh"
need_packages time
rm -rf "$work"; mkdir -p "$work"
[ -n "${BENCH_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

echo "bench_log: writing a log of $records pull records ..." >&2
"$build/tests/bench/bench_report_setup" "$work/home" "$records" 2000 500 30
log="$work/home/log"
segments=$(ls "$log"/transfer-*.jsonl | wc -l)
log_mib=$(( $(cat "$log"/transfer-*.jsonl | wc -c) / 1048576 ))

declare -A secs mib  # set by measure (lib.sh)
# Read the log once so that every measurement finds it in the page cache.
cat "$log"/transfer-*.jsonl > /dev/null
measure sha256sum sh -c "cat '$log'/transfer-*.jsonl | sha256sum"
measure verify "$verify" log "$log" --key "$work/home/keys/log.pub"
grep -q '^OK' "$work/out.verify" || { echo "bench_log: the log does not verify" >&2; exit 1; }
measure open "$repo" --home "$work/home" log checkpoint
n=$(( records / 2 + 7 ))
measure prove "$repo" --home "$work/home" log prove "$n"
cp "$work/out.prove" "$work/record.proof.json"
"$verify" proof "$work/record.proof.json" --key "$work/home/keys/log.pub" > /dev/null

verdict() {  # verdict SECONDS SECONDS_TARGET [MIB MIB_TARGET]
  local ok; ok=$(echo "$1 < $2" | bc -l)
  if [ $# -gt 2 ]; then ok=$(( ok & $(echo "$3 < $4" | bc -l) )); fi
  if [ "$ok" = 1 ]; then echo PASS; else echo MISS; fi
}
printf 'bench_log: %s records, %s MiB in %s segments\n' "$records" "$log_mib" "$segments"
printf '  %-34s %9s %9s %14s  %s\n' "" "wall s" "max MiB" "x sha256sum" "target"
printf '  %-34s %9.2f %9.1f %14s\n' "sha256sum of the segments" "${secs[sha256sum]}" "${mib[sha256sum]}" "1.00"
ratio() { echo "$1 / (${secs[sha256sum]} + 0.001)" | bc -l; }
printf '  %-34s %9.2f %9.1f %14.2f  %s\n' "airlock-verify log" "${secs[verify]}" "${mib[verify]}" \
  "$(ratio "${secs[verify]}")" "< 60 s, < 64 MiB: $(verdict "${secs[verify]}" 60 "${mib[verify]}" 64)"
printf '  %-34s %9.3f %9.1f %14s  %s\n' "open the home (log checkpoint)" "${secs[open]}" "${mib[open]}" "" \
  "< 0.2 s: $(verdict "${secs[open]}" 0.2)"
printf '  %-34s %9.3f %9.1f %14s  %s\n' "log prove $n" "${secs[prove]}" "${mib[prove]}" "" \
  "< 0.1 s: $(verdict "${secs[prove]}" 0.1)"
echo "  the proof verifies; the log verifies"
