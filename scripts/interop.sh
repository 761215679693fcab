#!/usr/bin/env bash
# Interop against real peers (Chromium, libdatachannel): installs Chromium and the harness's npm
# packages, then runs the matrix in test/interop/run.mjs.
#   scripts/interop.sh --zdc build/release/zdc-peer   zdc-peer against both peers
#   scripts/interop.sh --self                         harness self-check (libdatachannel in zdc's place)
# Extra arguments go to run.mjs (--peers ndc|chromium, --filter TEXT, --timeout S).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --interop
(cd test/interop && npm ci --no-audit --no-fund --loglevel=error)
exec node test/interop/run.mjs "$@"
