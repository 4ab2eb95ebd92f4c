#!/bin/sh
# Proves the layering check rejects a forbidden include: store/ must not
# include airlock/transfer/. Builds a throwaway tree and expects failure.
set -eu
cmake="$1"; script="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/store/src" "$tmp/verify/src"
printf '#include "airlock/verify/digest.h"\n' > "$tmp/store/src/ok.cpp"
"$cmake" -DROOT="$tmp" -P "$script"  # allowed edge passes
printf '#include "airlock/transfer/bundle.h"\n' > "$tmp/store/src/bad.cpp"
if out=$("$cmake" -DROOT="$tmp" -P "$script" 2>&1); then
  echo "layering check accepted store -> transfer"; exit 1
fi
echo "$out" | grep -q "store/src/bad.cpp: includes airlock/transfer/" || { echo "$out"; exit 1; }
printf '#include "airlock/store/store.h"\n' > "$tmp/verify/src/bad.cpp"
rm "$tmp/store/src/bad.cpp"
if "$cmake" -DROOT="$tmp" -P "$script" >/dev/null 2>&1; then
  echo "layering check accepted verify -> store"; exit 1
fi
rm "$tmp/verify/src/bad.cpp"
mkdir -p "$tmp/base/src" "$tmp/formats/src"
printf '#include "airlock/verify/digest.h"\n' > "$tmp/base/src/bad.cpp"
if "$cmake" -DROOT="$tmp" -P "$script" >/dev/null 2>&1; then
  echo "layering check accepted base -> verify"; exit 1
fi
rm "$tmp/base/src/bad.cpp"
printf '#include "airlock/store/store.h"\n' > "$tmp/formats/src/bad.cpp"
if "$cmake" -DROOT="$tmp" -P "$script" >/dev/null 2>&1; then
  echo "layering check accepted formats -> store"; exit 1
fi
echo "layering check rejects forbidden includes"
