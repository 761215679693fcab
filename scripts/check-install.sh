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
# zdc-server (built when libmicrohttpd is there, which install-deps.sh installs): the
# program finds its installed browser client, and a game links the library by pkg-config.
if [ -x "$prefix/bin/zdc-server" ]; then
  cc test/install/server_app.c $(pkg-config --cflags --libs zdc-server) -o "$user/server_app"
  LD_LIBRARY_PATH=$prefix/lib "$user/server_app"
  www=$(pkg-config --variable=wwwdir zdc-server)
  test -f "$www/zdc-client.js" -a -f "$www/index.html"
  # The installed program serves the installed client, found next to itself: mark the
  # installed copy so the source tree's cannot pass for it.
  echo "// installed copy" >>"$www/zdc-client.js"
  out=$user/zdc-server.out
  "$prefix/bin/zdc-server" --bind 127.0.0.1 --duration 3 >"$out" &
  srv=$!
  for _ in $(seq 50); do grep -q '^http ' "$out" && break; sleep 0.1; done
  port=$(sed -n 's|^http http://127.0.0.1:\([0-9]*\)/$|\1|p' "$out")
  [ -n "$port" ] || { echo "install check: zdc-server printed no http line" >&2; cat "$out" >&2; exit 1; }
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /zdc-client.js HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  reply=$(cat <&3)
  exec 3<&-
  wait "$srv"
  grep -q '^HTTP/1.[01] 200' <<<"$reply" || { echo "install check: GET /zdc-client.js: ${reply:0:200}" >&2; exit 1; }
  cmp -s <(sed '1,/^\r*$/d' <<<"$reply") <(cat "$www/zdc-client.js") ||
    { echo "install check: zdc-server served another zdc-client.js than the installed one" >&2; exit 1; }
  echo "install check: zdc-server installed with its browser client; a game linked libzdc_server.a by pkg-config and ran"
fi
echo "install check: find_package(zdc) shared+static, pkg-config shared and static programs" \
    "built and ran; no usrsctp defines in Cflags; zdc-peer installed"
# The Godot library (when built) exports Godot's entry points and nothing of zdc.
godot_lib=$prefix/lib/zdc/godot/libzdc_godot.so
if [ -f "$godot_lib" ]; then
  extra=$(nm -D --defined-only "$godot_lib" | awk '{print $3}' | grep -v '^godot_' || true)
  [ -z "$extra" ] || { echo "install check: libzdc_godot.so exports more than godot_*: $extra"; exit 1; }
  echo "install check: libzdc_godot.so exports only its GDNative entry points"
fi
