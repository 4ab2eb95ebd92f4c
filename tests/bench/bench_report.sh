#!/usr/bin/env bash
# bench_report.sh BUILD_DIR WORKDIR [RECORDS]
#
# `airlock-repo report` (html, json, csv) over a transfer log of RECORDS pull
# records (default 1000000) from 2000 hosts over 30 days, 500 packages,
# against `airlock-repo log verify` over the same log (one verification
# pass, the baseline), each timed with /usr/bin/time: wall seconds and
# maximum resident set size. Targets: the report under 30 s and 256 MiB.
# Checks that every output is non-empty, that the JSON parses and names every
# host that made a request, and that the log verifies.
set -euo pipefail
build="$1"; base="$2"; records="${3:-1000000}"
hosts="${BENCH_HOSTS:-2000}"; packages="${BENCH_PACKAGES:-500}"; days="${BENCH_DAYS:-30}"
work="$base/airlock-bench-report"
repo="$build/repo-server/airlock-repo"

. "$(dirname "$0")/lib.sh"
need_packages time
rm -rf "$work"; mkdir -p "$work"
[ -n "${BENCH_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

"$build/tests/bench/bench_report_setup" "$work/home" "$records" "$hosts" "$packages" "$days"
log="$work/home/log"
log_mib=$(( $(cat "$log"/transfer-*.jsonl | wc -c) / 1048576 ))
# Hosts that made at least one request: the report must list each.
expected_hosts=$(cat "$log"/transfer-*.jsonl | grep -o '"event":"pull","client":"[^"]*"' | sort -u | wc -l)

declare -A secs mib  # set by measure (lib.sh)
# Read the log once so that every measurement finds it in the page cache.
cat "$log"/transfer-*.jsonl > /dev/null
measure verify "$repo" --home "$work/home" log verify
for f in html json csv; do
  measure "$f" "$repo" --home "$work/home" report --format "$f" --out "$work/report.$f"
done

for f in html json csv; do
  [ -s "$work/report.$f" ] || { echo "bench_report: report.$f is empty" >&2; exit 1; }
done
reported_hosts=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["integrity"]["verified"], "the report says the log does not verify"
print(len(r["hosts"]))' "$work/report.json")
if [ "$reported_hosts" != "$expected_hosts" ]; then
  echo "bench_report: the JSON report lists $reported_hosts hosts, the log has $expected_hosts" >&2
  exit 1
fi

verdict() {  # verdict SECONDS MIB
  local t m
  t=$(echo "$1 < 30" | bc -l); m=$(echo "$2 < 256" | bc -l)
  if [ "$t" = 1 ] && [ "$m" = 1 ]; then echo PASS; else echo MISS; fi
}
printf 'bench_report: %s pull records (%s MiB of log) from %s hosts over %s days, %s packages\n' \
  "$records" "$log_mib" "$hosts" "$days" "$packages"
printf '  %-22s %9s %9s %14s  %s\n' "" "wall s" "max MiB" "x log verify" "target < 30 s, < 256 MiB"
printf '  %-22s %9.2f %9.1f %14s\n' "log verify" "${secs[verify]}" "${mib[verify]}" "1.00"
for f in html json csv; do
  printf '  %-22s %9.2f %9.1f %14.2f  %s  (%s KiB)\n' "report --format $f" "${secs[$f]}" "${mib[$f]}" \
    "$(echo "${secs[$f]} / (${secs[verify]} + 0.001)" | bc -l)" "$(verdict "${secs[$f]}" "${mib[$f]}")" \
    "$(( $(stat -c %s "$work/report.$f") / 1024 ))"
done
printf '  the JSON report parses and lists all %s hosts; the log verifies\n' "$reported_hosts"
