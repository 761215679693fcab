#!/usr/bin/env bash
# The main job: installs dependencies, builds zdc (release), and runs zdc-perf, the loopback
# performance suite, beside libdatachannel (npm node-datachannel, pinned in perf/package-lock.json)
# in the same invocation: throughput, round-trip latency, connect time, handshakes per second
# and a 20 Hz many-peer tick, every figure a ratio to the reference measured in the run (table
# on stdout, JSON in build/release/zdc-perf.json). Then the component benchmarks, each beside
# its own reference:
#   - UDP I/O: io_uring and epoll engine backends vs a plain recvfrom/sendto loop;
#   - SPSC ring vs a mutex+condvar queue;
#   - codecs: STUN binding requests verified per second, SDP offers parsed/built per second.
# Environment: ZDC_DEMO_SECONDS (seconds per UDP variant, default 2), ZDC_PERF_ARGS (extra
# arguments to zdc-perf, e.g. "--rounds 5" or "--quick").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --perf
(cd perf && npm ci --no-audit --no-fund --loglevel=error)
cmake --preset release >/dev/null
cmake --build --preset release
b=build/release
secs=${ZDC_DEMO_SECONDS:-2}
printf '\n===== zdc-perf: zdc beside libdatachannel =====\n'
status=0
# shellcheck disable=SC2086
"$b/zdc-perf" --against libdatachannel --json "$b/zdc-perf.json" ${ZDC_PERF_ARGS:-} || status=$?
printf '\n===== UDP I/O engine =====\n'
"$b/udp_bench" "$secs"
printf '\n===== SPSC ring =====\n'
"$b/ring_bench" 5000000
printf '\n===== STUN codec =====\n'
"$b/stun_bench"
printf '\n===== SDP codec =====\n'
"$b/sdp_bench"
exit "$status"
