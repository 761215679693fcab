#!/usr/bin/env bash
# Installs everything zdc needs to build, test and fuzz, from Debian's packages.
# (libmicrohttpd-dev: server/, the optional zdc-server signaling front; built when found.)
# Idempotent: packages already present are skipped without touching the network.
# Usage: scripts/install-deps.sh [--interop] [--perf] [--godot]
#   --interop adds Chromium and node/npm (the interop harness); --perf adds node/npm (zdc-perf's
#   libdatachannel reference, perf/ndc-ref.mjs); --godot adds Debian's headless Godot 3
#   (godot3-server, the Godot suites in test/godot) and util-linux's setpriv.
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config git
      liburing-dev libssl-dev libusrsctp-dev libcriterion-dev libmicrohttpd-dev
      clang libclang-rt-14-dev llvm afl++ valgrind clang-format)
node=0
for flag in "$@"; do
  case "$flag" in
    --interop) pkgs+=(chromium nodejs npm iproute2); node=1 ;;  # iproute2: test/interop/netns.sh
    --perf) pkgs+=(nodejs npm); node=1 ;;
    --godot) pkgs+=(godot3-server util-linux) ;;
    *) echo "install-deps: unknown option $flag" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from outside Debian (a preinstalled Node); accept any working npm.
if [ "$node" = 1 ] && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
clean=()
for p in "${missing[@]}"; do [ -n "$p" ] && clean+=("$p"); done

if [ ${#clean[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "install-deps: installing ${clean[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${clean[@]}"
else
  echo "install-deps: all packages present"
fi
