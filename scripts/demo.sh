#!/usr/bin/env bash
# The main job: installs dependencies, builds zdc (release), and runs its loopback benchmarks,
# each beside its reference measured in the same run:
#   - the data-channel loopback benchmark (two peers, one process), when it is built;
#   - UDP I/O: io_uring and epoll engine backends vs a plain recvfrom/sendto loop;
#   - SPSC ring vs a mutex+condvar queue;
#   - codecs: STUN binding requests verified per second, SDP offers parsed/built per second.
# Environment: ZDC_DEMO_SECONDS (seconds per UDP variant, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
b=build/release
secs=${ZDC_DEMO_SECONDS:-2}
if [ -x "$b/dc_bench" ]; then
    printf '\n===== data channels over loopback =====\n'
    "$b/dc_bench"
fi
printf '\n===== UDP I/O engine =====\n'
"$b/udp_bench" "$secs"
printf '\n===== SPSC ring =====\n'
"$b/ring_bench" 5000000
printf '\n===== STUN codec =====\n'
"$b/stun_bench"
printf '\n===== SDP codec =====\n'
"$b/sdp_bench"
