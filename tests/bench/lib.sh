# Sourced by the benchmark scripts. need_packages P... installs those of the
# Debian packages P that are missing (the baselines: nginx, wrk, aptly ...).
need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# write_nginx_conf WORK PORT ROOT ACCESS_LOG [EXTRA...]: WORK/nginx.conf
# serving ROOT on 127.0.0.1:PORT in the foreground (nginx -c WORK/nginx.conf -p WORK).
write_nginx_conf() {
  local work="$1" port="$2" root="$3" access="$4"; shift 4
  cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
daemon off;
worker_rlimit_nofile 16384;
events { worker_connections 4096; }
http {
  access_log $access;
  sendfile on;
  $*
  server { listen 127.0.0.1:$port; root $root; }
}
NGINX
}

# measure NAME CMD...: runs CMD under /usr/bin/time with stdout in $work/out.NAME
# and stderr in $work/err.NAME; sets secs[NAME] (wall seconds) and mib[NAME]
# (maximum resident set size) in the caller's associative arrays secs and mib.
measure() {
  local name="$1"; shift
  if ! /usr/bin/time -f '%e %M' -o "$work/time.$name" "$@" > "$work/out.$name" 2> "$work/err.$name"; then
    echo "$(basename "$0"): $name failed:" >&2; cat "$work/out.$name" "$work/err.$name" >&2; exit 1
  fi
  local e kib
  read -r e kib < <(tail -n 1 "$work/time.$name")
  secs[$name]="$e"
  mib[$name]=$(echo "$kib / 1024" | bc -l)
}

# median V...: the median of the numbers (the upper one of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# sign_apt_upstream WORK: compresses the Packages index of WORK/upstream's
# bookworm main amd64, makes a throwaway signing key (GNUPGHOME=WORK/gnupg,
# its public key in WORK/keyring.gpg) and writes the suite's Release,
# InRelease and Release.gpg: the signed upstream airlock-mirror syncs.
sign_apt_upstream() {
  local work="$1"
  (cd "$work/upstream/dists/bookworm/main/binary-amd64" && gzip -kn Packages && xz -T2 -k Packages)
  export GNUPGHOME="$work/gnupg"; mkdir -p "$GNUPGHOME"; chmod 700 "$GNUPGHOME"
  gpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-generate-key "bench <bench@x>" rsa2048 sign 1y 2>/dev/null
  gpg --batch --quiet --export bench@x > "$work/keyring.gpg" 2>/dev/null
  (cd "$work/upstream/dists/bookworm" && apt-ftparchive -o APT::FTPArchive::Release::Suite=bookworm \
     -o APT::FTPArchive::Release::Codename=bookworm -o APT::FTPArchive::Release::Architectures=amd64 \
     -o APT::FTPArchive::Release::Components=main release . > Release.tmp && mv Release.tmp Release && \
   gpg --batch --quiet --clearsign -o InRelease Release && gpg --batch --quiet -abs -o Release.gpg Release)
}

# start_upstream WORK [ROOT [PROBE]]: nginx serving ROOT (WORK/upstream) on a
# free loopback port; sets port and nginx_pid, and returns once it serves
# PROBE (the apt suite's Release).
start_upstream() {
  port=$(free_port)
  write_nginx_conf "$1" "$port" "${2:-$1/upstream}" off
  nginx -c "$1/nginx.conf" -p "$1" &
  nginx_pid=$!
  wait_for_upstream "$port" "${3:-dists/bookworm/Release}"
}

# wait_for_upstream PORT [PROBE]: until nginx on 127.0.0.1:PORT serves PROBE
# (the apt suite's Release), 10 s at most.
wait_for_upstream() {
  local deadline=$((SECONDS + 10))
  until curl -sf -o /dev/null "http://127.0.0.1:$1/${2:-dists/bookworm/Release}"; do
    [ $SECONDS -lt $deadline ] || { echo "$(basename "$0"): nginx did not answer" >&2; exit 1; }
    sleep 0.1
  done
}

# add_bench_repo HOME PORT KEYRING: the repository "bench" (the upstream on
# 127.0.0.1:PORT, bookworm main amd64) in HOME's mirror.toml.
add_bench_repo() {
  cat >> "$1/mirror.toml" <<TOML

[[repo]]
name = "bench"
kind = "apt"
url = "http://127.0.0.1:$2"
suites = ["bookworm"]
components = ["main"]
architectures = ["amd64"]
keyring = "$3"
TOML
}
