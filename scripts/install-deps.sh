#!/usr/bin/env bash
# Installs everything zdc needs to build, test and fuzz, from Debian's packages.
# (libmicrohttpd-dev: server/, the optional zdc-server signaling front; built when found.)
# Idempotent: packages already present are skipped without touching the network.
# Usage: scripts/install-deps.sh [--interop] [--perf] [--godot]
#   --interop adds Chromium, Firefox ESR, node/npm (the interop harness) and Go with Debian's Pion
#   sources (test/interop/pion-peer, built by scripts/build-pion-peer.sh); --perf adds node/npm
#   (zdc-perf's libdatachannel reference, perf/ndc-ref.mjs); --godot adds Debian's headless Godot 3
#   (godot3-server, the Godot suites in test/godot) and util-linux's setpriv. --interop also
#   brings what the NAT tests use: iproute2 namespaces, nftables masquerade, coturn's turnserver
#   (test/nat/nat.sh).
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config git
      liburing-dev libssl-dev libusrsctp-dev libcriterion-dev libmicrohttpd-dev
      clang libclang-rt-14-dev llvm afl++ valgrind clang-format)
node=0
for flag in "$@"; do
  case "$flag" in
    # iproute2: test/interop/netns.sh. Firefox ESR: test/interop/firefox-host.mjs. Go 1.19 and
    # Pion v3 for the Pion peer, built in GOPATH mode from Debian's sources
    # (/usr/share/gocode/src): no Go module proxy is used.
    --interop) pkgs+=(chromium nodejs npm iproute2 firefox-esr golang-go golang-github-pion-webrtc.v3-dev
                nftables coturn openssl)  # test/nat/nat.sh: NAT routers, the TURN server, its TLS certificate
               node=1 ;;
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
