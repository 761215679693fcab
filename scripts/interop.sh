#!/usr/bin/env bash
# Interop against real peers (Chromium, Firefox, libdatachannel, Pion): installs the browsers, Go
# and Debian's Pion and the harness's npm packages, builds the Pion peer, then runs the matrix in
# test/interop/run.mjs.
#   scripts/interop.sh --zdc build/release/zdc-peer   zdc-peer against both peers
#   scripts/interop.sh --self                         harness self-check (libdatachannel in zdc's place)
# Extra arguments go to run.mjs (--peers ndc,pion,chromium,chromium-mdns,firefox, --filter TEXT,
# --timeout S).
# Each case runs in a network namespace of its own (test/interop/netns.sh: ip netns as root,
# else unshare -rn); where none can be made the cases are skipped, not passed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --interop
(cd test/interop && npm ci --no-audit --no-fund --loglevel=error)
# The Pion peer (Go, from Debian's sources); run.mjs fails the pion cases if this could not build.
scripts/build-pion-peer.sh build/interop/pion-peer || echo "interop.sh: the Pion peer did not build" >&2
exec node test/interop/run.mjs "$@" --pion build/interop/pion-peer
