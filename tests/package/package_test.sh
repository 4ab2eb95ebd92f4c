#!/usr/bin/env bash
# The Debian package end to end, on this (throwaway, root) machine: builds it
# with scripts/package (lintian must report no errors), installs it with
# apt-get from the file as the README says (dpkg -i underneath, maintainer
# scripts included: the airlock user and /var/lib/airlock), then checks
# what is installed: the programs' versions, every manual page renders and
# names every option its program's --help lists, bash completion, the
# systemd units verify and the service's exposure is at most 2.0; last it
# purges the package again.
#   package_test.sh ROOT VERSION
set -euo pipefail
root="$1"; version="$2"
fail() { echo "FAIL: $*"; exit 1; }
# It installs a package: only as root (the CI machine); skipped (77) otherwise.
[ "$(id -u)" = 0 ] || { echo "package: skipped, not root"; exit 77; }
work=$(mktemp -d)
apt_get() { apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"; }
home=/var/lib/airlock/package-test
cleanup() {
  apt_get purge airlock >/dev/null 2>&1 || true
  rm -rf "$work" "$home"
}
trap cleanup EXIT

# --- build: scripts/package fails on a lintian error -------------------------
out=$("$root/scripts/package" 2>&1) || fail "scripts/package: $out"
dir=$(printf '%s\n' "$out" | sed -n 's/^package: airlock_.*_amd64\.deb in //p')
deb="$dir/airlock_${version}_amd64.deb"
[ -f "$deb" ] || fail "no $deb; scripts/package said: $out"
printf '%s\n' "$out" | grep -q "airlock-repo@.service: [0-9.]* OK" ||
  fail "scripts/package printed no exposure figure: $out"
lintian --fail-on error "$deb" >"$work/lintian" || fail "lintian: $(cat "$work/lintian")"
dpkg-deb -f "$deb" Depends | grep -q "libc6" || fail "no computed dependencies: $(dpkg-deb -f "$deb" Depends)"

# --- install -----------------------------------------------------------------
apt_get install "$deb" >"$work/install" 2>&1 || fail "install: $(cat "$work/install")"
getent passwd airlock >/dev/null || fail "postinst made no airlock user"
[ "$(stat -c %U:%G "/var/lib/airlock")" = airlock:airlock ] || fail "/var/lib/airlock not owned by airlock"

for program in airlock-mirror airlock-repo airlock-verify; do
  [ "$("/usr/bin/$program" --version)" = "$program $version" ] || fail "$program --version"
  # The page renders, and names every option the program and its commands take.
  page="/usr/share/man/man1/$program.1.gz"
  MANWIDTH=200 man -l "$page" 2>"$work/man.err" | col -b >"$work/page" || fail "man -l $page"
  [ ! -s "$work/man.err" ] || fail "man -l $page: $(cat "$work/man.err")"
  grep -q "^NAME" "$work/page" || fail "$page has no NAME"
  options=$("$root/packaging/man/full-help" "/usr/bin/$program" --help |
    grep -o -- '--[a-z][a-z-][a-z-]*' | sort -u)
  [ -n "$options" ] || fail "no options in $program --help"
  for option in $options; do
    grep -q -- "$option" "$work/page" || fail "$page lacks $option"
  done
  # Completion: the commands, read from the same --help.
  first=$("/usr/bin/$program" --help | sed -n '/^commands:$/{n;p;q}' | awk '{print $1}')
  got=$(bash -c 'source "$1"; COMP_WORDS=("$2" "${3:0:3}"); COMP_CWORD=1; "_${2//-/_}"
                 printf "%s\n" "${COMPREPLY[@]}"' _ \
          "/usr/share/bash-completion/completions/$program" "$program" "$first")
  printf '%s\n' "$got" | grep -qx "$first" || fail "completion of $program ${first:0:3}: $got"
done
man -l /usr/share/man/man7/airlock.7.gz 2>"$work/man.err" | col -b >"$work/page"
[ ! -s "$work/man.err" ] || fail "airlock(7): $(cat "$work/man.err")"
for section in SIDES BUNDLES CHANNELS "THE LOG" "EXIT STATUS"; do
  grep -q "^$section" "$work/page" || fail "airlock(7) has no $section"
done
[ -f /usr/share/airlock/schemas/bundle-manifest.schema.json ] || fail "no schemas"

# --- the README's steps, as the airlock user ---------------------------------
rm -rf "$home"
runuser -u airlock -- airlock-repo --home "$home" init >"$work/init" 2>&1 ||
  fail "airlock-repo init as airlock: $(cat "$work/init")"
[ "$(stat -c %U "$home/trust.json")" = airlock ] || fail "$home/trust.json not airlock's"
chmod 0755 "$work"
install -d -o airlock -g airlock "$work/mirror"
runuser -u airlock -- airlock-mirror --home "$work/mirror" init >"$work/init" 2>&1 ||
  fail "airlock-mirror init as airlock: $(cat "$work/init")"
cp /usr/share/doc/airlock/examples/mirror.toml "$work/mirror/"
# The example parses: a repository it does not name is the only complaint.
out=$(airlock-mirror --home "$work/mirror" sync no-such-repo --dry-run 2>&1) && fail "sync: $out"
[ "$out" = "airlock-mirror: no repository 'no-such-repo' in $work/mirror/mirror.toml" ] ||
  fail "the example mirror.toml: $out"

# --- systemd -----------------------------------------------------------------
units=/usr/lib/systemd/system
systemd-analyze verify "$units/airlock-repo@.service" "$units/airlock-mirror-sync.service" \
  "$units/airlock-mirror-sync.timer" >"$work/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$work/verify")"
[ ! -s "$work/verify" ] || fail "systemd-analyze verify: $(cat "$work/verify")"
for unit in airlock-repo@.service airlock-mirror-sync.service; do
  exposure=$(systemd-analyze security --offline=true "$units/$unit" 2>&1 |
    sed -n 's/^→ Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
  [ -n "$exposure" ] || fail "no exposure figure for $unit"
  awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "$unit: exposure $exposure > 2.0"
  echo "package: $unit exposure $exposure"
done
echo "package: $(basename "$deb") builds, is lintian-clean, installs and checks out"
