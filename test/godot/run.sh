#!/usr/bin/env bash
# Runs one GDScript of test/godot/project with Debian's headless Godot 3 (godot3-server) and
# libzdc_godot.so as its WebRTC implementation.
#
#   test/godot/run.sh LIB SCRIPT.gd [TIMEOUT_S]
#
# A scratch copy of the project gets the library in addons/zdc/ (with godot/addons/zdc's
# .gdnlib). The script is parsed first (--check-only: godot3-server never exits on a parse error
# otherwise), then run. Godot runs under `timeout` and `setpriv --pdeathsig KILL` (it dies with
# its parent) and a HOME of its own. A library built with AddressSanitizer is run with the ASan
# runtime preloaded (LD_PRELOAD; Godot itself is not instrumented, so leak detection is off:
# the scripts check through ZdcInfo that every zdc peer and channel was released).
# Exit status: the script's (0 = all its checks passed); 77 (skip, reason printed) without
# godot3-server; 1 on a parse error or timeout.
# Environment: ZDC_GODOT_PROJECT=DIR keeps the scratch project there (for peer.gd, which is run
# by godot-peer.mjs); anything else is passed to Godot (ZDC_GODOT_* engine options).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib=${1:?usage: run.sh LIB SCRIPT.gd [TIMEOUT_S]}
script=${2:?usage: run.sh LIB SCRIPT.gd [TIMEOUT_S]}
limit=${3:-120}
godot=${GODOT:-$(command -v godot3-server || true)}
if [ -z "$godot" ]; then
  echo "SKIP godot: no godot3-server (scripts/install-deps.sh --godot)"
  exit 77
fi
command -v setpriv >/dev/null || { echo "SKIP godot: no setpriv (util-linux)"; exit 77; }

proj=${ZDC_GODOT_PROJECT:-}
if [ -z "$proj" ]; then
  proj=$(mktemp -d /tmp/zdc-godot.XXXXXX)
  trap 'rm -rf "$proj"' EXIT
fi
mkdir -p "$proj/addons/zdc" "$proj/.home"
cp "$here"/project/* "$proj/"
cp "$root/godot/addons/zdc/zdc.gdnlib" "$proj/addons/zdc/"
cp "$lib" "$proj/addons/zdc/libzdc_godot.so"

preload=""
if nm -D "$lib" 2>/dev/null | grep -q '__asan_init'; then
  # The runtime the library was linked with (gcc's libasan), else the compiler's.
  preload=$(ldd "$lib" 2>/dev/null | awk '/libasan/ {print $3; exit}')
  [ -n "$preload" ] || preload=$(${CC:-cc} -print-file-name=libasan.so)
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1:alloc_dealloc_mismatch=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
export HOME=$proj/.home XDG_DATA_HOME=$proj/.home XDG_CONFIG_HOME=$proj/.home LANG=C.UTF-8

run_godot() {
  local secs=$1; shift
  LD_PRELOAD=$preload timeout -k 5 "$secs" setpriv --pdeathsig KILL "$godot" --path "$proj" "$@"
}
out=$(run_godot 30 -s "res://$script" --check-only 2>&1)
rc=$?
if [ $rc -ne 0 ] || grep -q 'SCRIPT ERROR\|Parse Error' <<<"$out"; then
  echo "$out"
  echo "godot: $script does not parse (exit $rc)"
  exit 1
fi
run_godot "$limit" -s "res://$script"
rc=$?
[ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "godot: $script timed out after ${limit}s"
exit $rc
