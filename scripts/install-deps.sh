#!/usr/bin/env bash
# Installs everything zdc needs to build, test and fuzz, from Debian's packages.
# Idempotent: packages already present are skipped without touching the network.
# Usage: scripts/install-deps.sh [--interop | --perf]
#   --interop adds Chromium and node/npm (the interop harness) and what the NAT tests use
#   (iproute2 namespaces, nftables masquerade, coturn's turnserver: test/nat/); --perf adds node/npm
#   (zdc-perf's libdatachannel reference, perf/ndc-ref.mjs).
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config git
      liburing-dev libssl-dev libusrsctp-dev libcriterion-dev
      clang libclang-rt-14-dev llvm afl++ valgrind clang-format)
if [ "${1:-}" = "--interop" ]; then
  pkgs+=(chromium nodejs npm iproute2)  # iproute2: test/interop/netns.sh
  pkgs+=(nftables coturn)               # test/nat/nat.sh: NAT routers and the TURN server
elif [ "${1:-}" = "--perf" ]; then
  pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from outside Debian (a preinstalled Node); accept any working npm.
if [ -n "${1:-}" ] && command -v npm >/dev/null 2>&1; then
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
