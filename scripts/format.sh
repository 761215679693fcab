#!/usr/bin/env bash
# Checks (default) or applies (--fix) clang-format on every C source and header in git.
set -euo pipefail
cd "$(dirname "$0")/.."
# Generated third-party headers (godot/third_party) keep their upstream formatting.
mapfile -t files < <(git ls-files '*.c' '*.h' ':!:*/third_party/*')
if [ "${1:-}" = "--fix" ]; then
    clang-format -i "${files[@]}"
    exit 0
fi
bad=0
for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "format: $f differs from .clang-format (scripts/format.sh --fix)"
        bad=1
    fi
done
[ "$bad" -eq 0 ] && echo "format: ${#files[@]} files clean"
exit "$bad"
