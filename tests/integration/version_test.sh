#!/usr/bin/env bash
# Every program prints the version of project(VERSION), on stdout, exit 0,
# before or instead of a command; --help names the option.
#   version_test.sh VERSION PROGRAM...
set -euo pipefail
version="$1"; shift
fail() { echo "FAIL: $*"; exit 1; }
for program in "$@"; do
  name=$(basename "$program")
  out=$("$program" --version) || fail "$name --version exited $?"
  [ "$out" = "$name $version" ] || fail "$name --version printed '$out', wanted '$name $version'"
  out=$("$program" --quiet --version 2>/dev/null) || fail "$name --quiet --version exited $?"
  [ "$out" = "$name $version" ] || fail "$name --quiet --version printed '$out'"
  "$program" --help | grep -q -- '--version' || fail "$name --help does not name --version"
done
echo "version: $# programs print $version"
