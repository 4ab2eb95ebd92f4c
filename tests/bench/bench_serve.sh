#!/usr/bin/env bash
# bench_serve.sh BUILD_DIR WORKDIR
#
# wrk against `airlock-repo serve` (every request logged) and against nginx
# serving the same files from a plain directory (access log on), in one run on
# loopback: 64 connections on 4 KiB files (requests/s) and 1 MiB files (MB/s),
# and 2,000 keep-alive connections on 4 KiB files (requests/s, p99 latency,
# timeouts). Targets: >= 1.0x nginx requests/s and MB/s at 64 connections; at
# 2,000 connections p99 under 100 ms and no timeouts; a pull record for every
# request answered. Then HTTPS, both servers with the same certificate and
# key (no client certificates: wrk cannot present one): >= 0.9x nginx on
# 4 KiB requests/s and 1 MiB MB/s. Each case runs BENCH_ROUNDS (3) paired
# rounds; the median ratio is reported. BENCH_ONLY=http or BENCH_ONLY=https
# runs only those cases.
set -euo pipefail
build="$1"; base="$2"
work="$base/airlock-bench-serve"
duration="${BENCH_SECONDS:-10}"
only="${BENCH_ONLY:-}"
case "$only" in ""|http|https) ;; *) echo "BENCH_ONLY must be http or https" >&2; exit 2 ;; esac

. "$(dirname "$0")/lib.sh"
need_packages nginx-light wrk
# 2,000 connections for wrk, nginx and the server alike.
[ "$(ulimit -n)" -ge 8192 ] || ulimit -n "$(ulimit -Hn)"
rm -rf "$work"; mkdir -p "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$build/tests/bench/bench_serve_setup" "$work/home" "$work/www" 1000 100
# HTTPS: one certificate and key for both servers. wrk cannot present a
# client certificate, so neither asks for one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" \
  -out "$work/tls.crt" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
nport=$(free_port); ntport=$(free_port)
write_nginx_conf "$work" "$nport" "$work/www" "$work/access.log" "tcp_nopush on; keepalive_requests 10000;
  server { listen 127.0.0.1:$ntport ssl; root $work/www; ssl_certificate $work/tls.crt;
           ssl_certificate_key $work/tls.key; ssl_protocols TLSv1.2 TLSv1.3; }"
nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
"$build/repo-server/airlock-repo" --home "$work/home" serve --listen 127.0.0.1:0 --threads 2 \
  --listen-tls 127.0.0.1:0 --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" > "$work/serve.out" &
serve_pid=$!; pids+=($serve_pid)
for _ in $(seq 50); do grep -q https "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
aaddr=$(sed -n 's|.*http://\([0-9.:]*\)/.*|\1|p' "$work/serve.out")
atls=$(sed -n 's|.*https://\([0-9.:]*\)/.*|\1|p' "$work/serve.out")
sleep 0.5

cat > "$work/paths.lua" <<'LUA'
local n, prefix = 0, os.getenv("BENCH_PREFIX")
local count = tonumber(os.getenv("BENCH_COUNT"))
request = function()
  n = n + 1
  return wrk.format("GET", prefix .. (n % count))
end
LUA
# run_wrk URL PREFIX COUNT [CONNECTIONS] -> "requests/s MB/s requests p99_ms timeouts"
run_wrk() {
  BENCH_PREFIX="$2" BENCH_COUNT="$3" wrk -t2 -c"${4:-64}" -d"${duration}s" --timeout 10s --latency \
    -s "$work/paths.lua" "$1" > "$work/wrk.out" 2>&1
  local rps mbs reqs p99 timeouts
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  mbs=$(awk '/Transfer\/sec/ {v=$2; if (v ~ /GB/) {sub(/GB/,"",v); v*=1024} else if (v ~ /MB/) {sub(/MB/,"",v)} else if (v ~ /KB/) {sub(/KB/,"",v); v/=1024}; print v}' "$work/wrk.out")
  reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/wrk.out")
  timeouts=$(awk '/Socket errors/ {gsub(",",""); print $NF}' "$work/wrk.out")
  echo "$rps $mbs $reqs ${p99:-0} ${timeouts:-0}"
}
# Each case runs $rounds times, nginx and airlock one after the other, and
# the median of the rounds' ratios is reported: the machine's noise moves a
# single pair by 10% either way.
rounds="${BENCH_ROUNDS:-3}"
# paired NGINX_URL AIRLOCK_URL PREFIX COUNT CONNECTIONS FIELD: one round, nginx
# then airlock; sets n_value/a_value (FIELD 1 requests/s, 2 MB/s), ratio,
# n_p99/a_p99 and n_to/a_to, and counts the requests airlock answered.
served=0
paired() {
  local a_reqs
  read -r -a n < <(run_wrk "$1" "$3" "$4" "$5")
  read -r -a a < <(run_wrk "$2" "$3" "$4" "$5")
  n_value=${n[$6 - 1]}; a_value=${a[$6 - 1]}; a_reqs=${a[2]}
  n_p99=${n[3]}; a_p99=${a[3]}; n_to=${n[4]}; a_to=${a[4]}
  ratio=$(echo "$a_value / $n_value" | bc -l); served=$((served + a_reqs))
}
small_ratios=(); large_ratios=(); many_ratios=(); a_many_p99s=(); n_many_p99s=()
tls_small_ratios=(); tls_large_ratios=()
a_many_timeouts=0; n_many_timeouts=0
for _ in $(seq "$rounds"); do
  if [ "$only" != https ]; then
    paired "http://127.0.0.1:$nport" "http://$aaddr" /prod/bench/small/f 1000 64 1
    small_ratios+=("$ratio"); a_small_rps="$a_value"; n_small_rps="$n_value"
    paired "http://127.0.0.1:$nport" "http://$aaddr" /prod/bench/large/f 100 64 2
    large_ratios+=("$ratio"); a_large_mbs="$a_value"; n_large_mbs="$n_value"
    paired "http://127.0.0.1:$nport" "http://$aaddr" /prod/bench/small/f 1000 2000 1
    many_ratios+=("$ratio"); a_many_rps="$a_value"; n_many_rps="$n_value"
    a_many_p99s+=("$a_p99"); n_many_p99s+=("$n_p99")
    a_many_timeouts=$((a_many_timeouts + a_to)); n_many_timeouts=$((n_many_timeouts + n_to))
  fi
  if [ "$only" != http ]; then
    paired "https://127.0.0.1:$ntport" "https://$atls" /prod/bench/small/f 1000 64 1
    tls_small_ratios+=("$ratio"); a_tls_small_rps="$a_value"; n_tls_small_rps="$n_value"
    paired "https://127.0.0.1:$ntport" "https://$atls" /prod/bench/large/f 100 64 2
    tls_large_ratios+=("$ratio"); a_tls_large_mbs="$a_value"; n_tls_large_mbs="$n_value"
  fi
done
kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
logged=$(cat "$work/home/log"/transfer-*.jsonl | grep -c '"event":"pull"' || true)

printf 'bench_serve: wrk -t2 -d%ss on loopback, logging on for both; median of %s paired rounds (last round shown)\n' \
  "$duration" "$rounds"
if [ "$only" != https ]; then
  printf '  -c64   4 KiB files   airlock %9.0f req/s   nginx %9.0f req/s   ratio %.2f (target >= 1.00; rounds %s)\n' \
    "$a_small_rps" "$n_small_rps" "$(median "${small_ratios[@]}")" "$(printf '%.2f ' "${small_ratios[@]}")"
  printf '  -c64   1 MiB files   airlock %9.1f MB/s    nginx %9.1f MB/s    ratio %.2f (target >= 1.00; rounds %s)\n' \
    "$a_large_mbs" "$n_large_mbs" "$(median "${large_ratios[@]}")" "$(printf '%.2f ' "${large_ratios[@]}")"
  printf '  -c2000 4 KiB files   airlock %9.0f req/s   nginx %9.0f req/s   ratio %.2f (rounds %s)\n' \
    "$a_many_rps" "$n_many_rps" "$(median "${many_ratios[@]}")" "$(printf '%.2f ' "${many_ratios[@]}")"
  printf '                       airlock p99 %.1f ms (rounds %s), %s timeouts; nginx p99 %.1f ms, %s timeouts (target < 100 ms, none)\n' \
    "$(median "${a_many_p99s[@]}")" "$(printf '%.0f ' "${a_many_p99s[@]}")" "$a_many_timeouts" \
    "$(median "${n_many_p99s[@]}")" "$n_many_timeouts"
fi
if [ "$only" != http ]; then
  printf '  HTTPS -c64 4 KiB     airlock %9.0f req/s   nginx %9.0f req/s   ratio %.2f (target >= 0.90; rounds %s)\n' \
    "$a_tls_small_rps" "$n_tls_small_rps" "$(median "${tls_small_ratios[@]}")" "$(printf '%.2f ' "${tls_small_ratios[@]}")"
  printf '  HTTPS -c64 1 MiB     airlock %9.1f MB/s    nginx %9.1f MB/s    ratio %.2f (target >= 0.90; rounds %s)\n' \
    "$a_tls_large_mbs" "$n_tls_large_mbs" "$(median "${tls_large_ratios[@]}")" "$(printf '%.2f ' "${tls_large_ratios[@]}")"
fi
printf '  pull records  %s logged for %s requests wrk completed (in-flight ones at the end are logged too)\n' \
  "$logged" "$served"
