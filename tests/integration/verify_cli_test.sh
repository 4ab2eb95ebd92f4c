#!/usr/bin/env bash
# airlock-verify end to end: real bundles and logs on disk, checked by the
# program; every refusal asserts the exit code, the one-line message, and
# that nothing was written.
#   verify_cli_test.sh AIRLOCK_VERIFY FIXTURE_TOOL
set -euo pipefail
verify="$1"; fixture="$2"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pass=0
fail() { echo "FAIL: $*"; exit 1; }
ok() { pass=$((pass + 1)); }

bundle=$("$fixture" "$work/fx")
fx="$work/fx"

# expect CODE "message fragment" -- command...
expect() {
  local code="$1" msg="$2"; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" = "$code" ] || fail "exit $rc (wanted $code) from: $* :: $out"
  case "$out" in *"$msg"*) ;; *) fail "output of '$*' lacks '$msg': $out";; esac
  ok
}

snapshot_of() { (cd "$1" && find . -type f -exec sha256sum {} + | sort); }

# --- help -----------------------------------------------------------------
expect 0 "commands:" "$verify" --help
expect 0 "examples:" "$verify" bundle --help
expect 0 "examples:" "$verify" log --help
expect 0 "examples:" "$verify" proof --help
expect 2 "unknown command 'frobnicate'" "$verify" frobnicate
expect 2 "give either --trust FILE or --key PUB" "$verify" bundle "$bundle"

# --- bundle: good -----------------------------------------------------------
expect 0 "OK" "$verify" bundle "$bundle" --trust "$fx/trust.json"
expect 0 "signers     alice (1 required)" "$verify" bundle "$bundle" --key "$fx/keys/alice.pub"
out=$("$verify" bundle "$bundle" --trust "$fx/trust.json" --json)
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] and d["stream"]=="demo" and d["objects"]==13, d' <<<"$out" || fail "json summary"
ok
# Piped output has no progress line (stderr stays empty).
err=$("$verify" bundle "$bundle" --trust "$fx/trust.json" 2>&1 >/dev/null)
[ -z "$err" ] || fail "unexpected stderr when piped: $err"; ok

# --- bundle: refusals, each leaving the bundle untouched ----------------------
before=$(snapshot_of "$bundle")
expect 3 "bundle signatures: 0 valid signatures of 1 required" "$verify" bundle "$bundle" --key "$fx/keys/bob.pub"
expect 3 "bundle signatures: 1 valid signature of 2 required" \
  "$verify" bundle "$bundle" --key "$fx/keys/alice.pub" --key "$fx/keys/bob.pub" --threshold 2
expect 3 "expired at" "$verify" bundle "$bundle" --trust "$fx/trust.json" --at 2099-01-01T00:00:00Z
expect 3 "): key not valid at 2025-06-01T00:00:00Z" \
  "$verify" bundle "$bundle" --trust "$fx/trust.json" --at 2025-06-01T00:00:00Z
[ "$(snapshot_of "$bundle")" = "$before" ] || fail "verification changed the bundle"; ok

cp -r "$bundle" "$work/flipped"
python3 - "$work/flipped/data.000" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read()); b[len(b)//2] ^= 1; open(p, 'wb').write(b)
PY
expect 3 "volume data.000 is corrupt: expected sha256" "$verify" bundle "$work/flipped" --trust "$fx/trust.json"

cp -r "$bundle" "$work/edited"
sed -i 's/"producer": "airlock-test-fixture"/"producer": "airlock-test-fixturE"/' "$work/edited/manifest.json"
expect 3 "): signature does not verify" "$verify" bundle "$work/edited" --trust "$fx/trust.json"

cp -r "$bundle" "$work/missing"; rm "$work/missing/data.001"
expect 3 "volume data.001 is missing" "$verify" bundle "$work/missing" --trust "$fx/trust.json"

# --- one disc at a time ---------------------------------------------------------
mkdir -p "$work/disc1" "$work/disc2"
cp "$bundle/data.000" "$work/disc1/"
cp "$bundle"/data.00[1-9] "$work/disc2/" 2>/dev/null || true
expect 0 "OK (volumes present)" "$verify" bundle "$bundle" --trust "$fx/trust.json" --volumes-only "$work/disc1"
expect 0 "not here    data.001" "$verify" bundle "$bundle" --trust "$fx/trust.json" --volumes-only "$work/disc1"
cp "$bundle/data.000" "$work/disc2/data.000.bak"
printf 'junk' > "$work/disc1/data.000"
expect 3 "volume data.000 has 4 bytes" "$verify" bundle "$bundle" --trust "$fx/trust.json" --volumes-only "$work/disc1"

# --- log --------------------------------------------------------------------
log="$fx/log/transfer-000001.jsonl"
expect 0 "OK" "$verify" log "$log" --key "$fx/keys/log.pub"
expect 0 "checkpoints 3" "$verify" log "$log" --key "$fx/keys/log.pub"
expect 0 "OK" "$verify" log "$log" --key "$fx/keys/log.pub" --checkpoint "$fx/checkpoint"
expect 3 "has no valid signature by a trusted log key" "$verify" log "$log" --key "$fx/keys/alice.pub"
cp "$log" "$work/edited.jsonl"
sed -i '6s/p1/p9/' "$work/edited.jsonl"
expect 3 "record 5 was altered" "$verify" log "$work/edited.jsonl" --key "$fx/keys/log.pub"
sed '6d' "$log" > "$work/deleted.jsonl"
expect 3 "record 5 has n=6" "$verify" log "$work/deleted.jsonl" --key "$fx/keys/log.pub"
head -c -20 "$log" > "$work/cut.jsonl"
expect 3 "is incomplete" "$verify" log "$work/cut.jsonl" --key "$fx/keys/log.pub"
head -n 4 "$log" > "$work/short.jsonl"
expect 3 "records were removed from the end" \
  "$verify" log "$work/short.jsonl" --key "$fx/keys/log.pub" --checkpoint "$fx/checkpoint"

# A log directory: its segments, and its tiles and state checked against them.
expect 0 "tiles       match the records" "$verify" log "$fx/log" --key "$fx/keys/log.pub"
cp -r "$fx/log" "$work/logdir"
before=$(snapshot_of "$work/logdir")
printf '\xff' | dd of="$work/logdir/tiles/0" bs=1 seek=40 conv=notrunc status=none
tampered=$(snapshot_of "$work/logdir")
expect 3 "tiles/0 entry 1 (the hash of record 1) does not match the records" \
  "$verify" log "$work/logdir" --key "$fx/keys/log.pub"
[ "$(snapshot_of "$work/logdir")" = "$tampered" ] || fail "verify changed the log directory"
[ "$tampered" != "$before" ] || fail "the tile was not changed"
# Segments after record 0 without the tiles to stand for the ones before.
tail -n +3 "$log" > "$work/later.jsonl"
expect 2 "starts at record 2: give the segments before it too, or the log directory with its tiles" \
  "$verify" log "$work/later.jsonl" --key "$fx/keys/log.pub"

# --- proofs -----------------------------------------------------------------
expect 0 "OK" "$verify" proof "$fx/proof.json" --key "$fx/keys/log.pub"
"$verify" prove "$log" 6 > "$work/p6.json" || fail "prove"
expect 0 "record      6" "$verify" proof "$work/p6.json" --key "$fx/keys/log.pub"
python3 - "$work/p6.json" <<'PY'
import json, sys
p = sys.argv[1]; d = json.load(open(p)); d["record"] = d["record"].replace("p2", "p3"); json.dump(d, open(p, "w"))
PY
expect 3 "is not in the tree of size" "$verify" proof "$work/p6.json" --key "$fx/keys/log.pub"
expect 1 "no record 10000" "$verify" prove "$log" 10000
expect 1 "record 9 is not covered by a checkpoint yet" "$verify" prove "$log" 9

echo "verify_cli_test: $pass checks passed"
