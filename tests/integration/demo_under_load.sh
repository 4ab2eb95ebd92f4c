#!/usr/bin/env bash
# scripts/demo, end to end, while both cores are kept busy: the narrative
# must not depend on timing.
#
#   demo_under_load.sh AIRLOCK_MIRROR AIRLOCK_REPO AIRLOCK_VERIFY
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
busy=()
stop_busy() { for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_busy EXIT
# Two busy loops (one per core), each ended by the trap or after 15 minutes.
for _ in 1 2; do
  timeout 900 sh -c 'while :; do :; done' &
  busy+=("$!")
done
out=$(mktemp)
if ! AIRLOCK_MIRROR="$1" AIRLOCK_REPO="$2" AIRLOCK_VERIFY="$3" "$root/scripts/demo" > "$out" 2>&1; then
  cat "$out"
  echo "demo_under_load: scripts/demo failed under load" >&2
  exit 1
fi
# What the narrative must have shown, in order.
for expected in "prod host candidate: hello-airlock 1.1-1" "prod host candidate: hello-airlock 1.0-1" \
                "installed hello-2.0-1" "dnf updateinfo: AIRLOCK-2026:0001 security Important" \
                "/prod/sample/pool/main/h/hello-airlock/hello-airlock_1.1-1_amd64.deb" \
                "rollback prod/sample  by" "== Done"; do
  if ! grep -qF -- "$expected" "$out"; then
    cat "$out"
    echo "demo_under_load: the demo did not show: $expected" >&2
    exit 1
  fi
done
rm -f "$out"
echo "demo under load: OK"
