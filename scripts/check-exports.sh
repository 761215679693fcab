#!/usr/bin/env bash
# Checks that the shared library exports exactly the public API: the functions declared in
# include/zdc/*.h (as the compiler reads them: gcc -aux-info lists every prototype it saw),
# against the defined dynamic symbols of libzdc.so. Usage: scripts/check-exports.sh LIBZDC.so
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-build/release/libzdc.so}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "zdc/zdc.h"\n' >"$tmp/all.c"
gcc -std=c11 -Iinclude -fsyntax-only -aux-info "$tmp/protos" "$tmp/all.c"
# Prototypes from the public headers only (aux-info prefixes each with /* FILE:LINE */).
grep -E '^/\* [^ ]*include/zdc/' "$tmp/protos" | grep -oE '\bzdc_[a-z0-9_]+ \(' |
    sed 's/ (//' | sort -u >"$tmp/declared"
nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDBR]$/ {print $3}' | grep -vE '^_' | sort -u \
    >"$tmp/exported"
if ! diff -u "$tmp/declared" "$tmp/exported" >"$tmp/diff"; then
    echo "check-exports: $lib does not export exactly the public API (- declared only, + exported only):"
    grep -E '^[-+]zdc|^[-+][a-z]' "$tmp/diff" || true
    exit 1
fi
echo "check-exports: $lib exports the $(wc -l <"$tmp/declared") public functions and nothing else"
