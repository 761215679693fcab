#!/usr/bin/env bash
# Interop against real peers (Chromium, libdatachannel): installs Chromium and the harness's npm
# packages, then runs the matrix in test/interop/run.mjs.
#   scripts/interop.sh --zdc build/release/zdc-peer   zdc-peer against both peers
#   scripts/interop.sh --self                         harness self-check (libdatachannel in zdc's place)
# Extra arguments go to run.mjs (--peers ndc,chromium,chromium-mdns, --filter TEXT, --timeout S).
# Each case runs in a network namespace of its own (test/interop/netns.sh: ip netns as root,
# else unshare -rn); where none can be made the cases are skipped, not passed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --interop
(cd test/interop && npm ci --no-audit --no-fund --loglevel=error)
exec node test/interop/run.mjs "$@"
