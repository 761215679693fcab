#!/usr/bin/env bash
# Installs a release build into a scratch prefix and builds a user's program against it three
# ways: CMake find_package (shared and static targets) and pkg-config. Each program must run.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$PWD/build/install-check/prefix
user=$PWD/build/install-check/user
rm -rf build/install-check
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
cmake --install build/release --prefix "$prefix" >/dev/null
cmake -S test/install -B "$user" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$user" >/dev/null
LD_LIBRARY_PATH=$prefix/lib "$user/app"
"$user/app_static"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# usrsctp's -DINET -DINET6 must not reach the application's compiler flags.
cflags=$(pkg-config --cflags zdc zdc-static)
if grep -q -- "-DINET" <<<"$cflags"; then
    echo "install check: pkg-config --cflags leaks usrsctp's defines: $cflags" >&2
    exit 1
fi
# Shared: needs libzdc.so.0 at run time.
cc test/install/app.c $(pkg-config --cflags --libs zdc) -o "$user/app_pc"
LD_LIBRARY_PATH=$prefix/lib "$user/app_pc"
# Static: links libzdc.a, runs with no zdc library on the path.
cc test/install/app.c $(pkg-config --static --cflags --libs zdc-static) -o "$user/app_pc_static"
if ldd "$user/app_pc_static" | grep -q libzdc; then
    echo "install check: the static program still needs libzdc.so:" >&2
    ldd "$user/app_pc_static" >&2
    exit 1
fi
env -u LD_LIBRARY_PATH "$user/app_pc_static"
test -x "$prefix/bin/zdc-peer"
echo "install check: find_package(zdc) shared+static, pkg-config shared and static programs" \
    "built and ran; no usrsctp defines in Cflags; zdc-peer installed"
# The Godot library (when built) exports Godot's entry points and nothing of zdc.
godot_lib=$prefix/lib/zdc/godot/libzdc_godot.so
if [ -f "$godot_lib" ]; then
  extra=$(nm -D --defined-only "$godot_lib" | awk '{print $3}' | grep -v '^godot_' || true)
  [ -z "$extra" ] || { echo "install check: libzdc_godot.so exports more than godot_*: $extra"; exit 1; }
  echo "install check: libzdc_godot.so exports only its GDNative entry points"
fi
