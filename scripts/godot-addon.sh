#!/usr/bin/env bash
# Puts zdc into a Godot 3 project as its WebRTC implementation (docs/godot.md):
#   scripts/godot-addon.sh PROJECT_DIR [BUILD_DIR]
# Builds libzdc_godot.so (release preset unless BUILD_DIR names another build), copies it and
# godot/addons/zdc/zdc.gdnlib into PROJECT_DIR/addons/zdc/, and lists the .gdnlib under
# [gdnative] singletons in PROJECT_DIR/project.godot when that file has no [gdnative] section
# yet (otherwise it prints the line to add).
set -euo pipefail
cd "$(dirname "$0")/.."
proj=${1:?usage: scripts/godot-addon.sh PROJECT_DIR [BUILD_DIR]}
build=${2:-build/release}
[ -f "$proj/project.godot" ] || { echo "godot-addon: $proj/project.godot not found" >&2; exit 1; }
if [ "$build" = build/release ]; then
  cmake --preset release >/dev/null
fi
cmake --build "$build" --target zdc_godot >/dev/null
mkdir -p "$proj/addons/zdc"
cp "$build/libzdc_godot.so" "$proj/addons/zdc/libzdc_godot.so"
cp godot/addons/zdc/zdc.gdnlib "$proj/addons/zdc/zdc.gdnlib"
line='singletons=[ "res://addons/zdc/zdc.gdnlib" ]'
if grep -q 'res://addons/zdc/zdc.gdnlib' "$proj/project.godot"; then
  echo "godot-addon: $proj already lists addons/zdc/zdc.gdnlib"
elif grep -q '^\[gdnative\]' "$proj/project.godot"; then
  echo "godot-addon: add res://addons/zdc/zdc.gdnlib to singletons= under [gdnative] in $proj/project.godot"
else
  printf '\n[gdnative]\n\n%s\n' "$line" >>"$proj/project.godot"
  echo "godot-addon: listed addons/zdc/zdc.gdnlib as a GDNative singleton in $proj/project.godot"
fi
echo "godot-addon: installed $build/libzdc_godot.so into $proj/addons/zdc/"
