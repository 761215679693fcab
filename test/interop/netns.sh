#!/usr/bin/env bash
# Runs a command inside a network namespace of its own, so that interop traffic never touches the
# machine's real interfaces (tests may send only on 127.0.0.0/8, ::1, or inside a namespace they
# create). The namespace is deleted when the command ends, also on failure or a signal.
#
#   netns.sh [--veth] -- CMD ARGS...
#
# Without --veth the namespace has loopback only. With --veth it also has a veth pair, both ends
# inside it: v0 198.18.0.1/24 and v1 198.18.0.2/24 (RFC 2544's benchmarking range), a
# non-loopback interface for stacks that will not use loopback (Chrome with its defaults).
#
# Exit status: the command's; 77 with a line "SKIP netns: REASON" on stdout when the namespace
# cannot be made here (not root, no CAP_SYS_ADMIN, no iproute2, no veth).
set -u
veth=0
if [ "${1:-}" = "--veth" ]; then veth=1; shift; fi
if [ "${1:-}" != "--" ] || [ $# -lt 2 ]; then
  echo "usage: netns.sh [--veth] -- CMD ARGS..." >&2
  exit 2
fi
shift

skip() { echo "SKIP netns: $*"; exit 77; }
command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2; scripts/install-deps.sh --interop)"

ns="zdc-int-$$"
err=$(ip netns add "$ns" 2>&1) || skip "ip netns add failed: ${err:-unknown error} (needs root or CAP_SYS_ADMIN)"
trap 'ip netns delete "$ns" 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_ns() { ip netns exec "$ns" "$@"; }
err=$(in_ns ip link set lo up 2>&1) || skip "bringing up lo in the namespace failed: $err"
if [ $veth = 1 ]; then
  err=$( { in_ns ip link add v0 type veth peer name v1 &&
           in_ns ip addr add 198.18.0.1/24 dev v0 &&
           in_ns ip addr add 198.18.0.2/24 dev v1 &&
           in_ns ip link set v0 up && in_ns ip link set v1 up; } 2>&1) ||
    skip "making a veth pair in the namespace failed: $err"
fi
# Not exec: the EXIT trap must run to delete the namespace.
in_ns "$@"
