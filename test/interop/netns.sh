#!/usr/bin/env bash
# Runs a command inside a network namespace of its own, so that interop traffic never touches the
# machine's real interfaces (tests may send only on 127.0.0.0/8, ::1, or inside a namespace they
# create). The namespace is deleted when the command ends, also on failure or a signal.
#
#   netns.sh [--veth] -- CMD ARGS...
#
# Without --veth the namespace has loopback only. With --veth it also has a veth pair, both ends
# inside it: v0 198.18.0.1/24 and v1 198.18.0.2/24 (RFC 2544's benchmarking range), a
# non-loopback interface for stacks that will not use loopback (Chrome with its defaults), and a
# default route through v0 to 198.18.0.254, which nothing answers: Chrome without media
# permission gathers only on the interface of the default route. Nothing leaves the namespace.
#
# Exit status: the command's; 77 with a line "SKIP netns: REASON" on stdout when no namespace can
# be made here. As root (CAP_SYS_ADMIN) it is a named `ip netns` namespace, deleted by a trap;
# otherwise an unprivileged user namespace (`unshare -rn`), which ends with the command.
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

# The namespace's interfaces, made from inside it.
setup='ip link set lo up || exit 1
if [ "$ZDC_NETNS_VETH" = 1 ]; then
  ip link add v0 type veth peer name v1 && ip addr add 198.18.0.1/24 dev v0 &&
  ip addr add 198.18.0.2/24 dev v1 && ip link set v0 up && ip link set v1 up &&
  ip route add default via 198.18.0.254 dev v0 || exit 1
fi'
export ZDC_NETNS_VETH=$veth

ns="zdc-int-$$"
if ip netns add "$ns" 2>/dev/null; then
  trap 'ip netns delete "$ns" 2>/dev/null' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  err=$(ip netns exec "$ns" sh -c "$setup" 2>&1) || skip "setting up the namespace failed: $err"
  # Not exec: the EXIT trap must run to delete the namespace.
  ip netns exec "$ns" "$@"
  exit $?
fi
command -v unshare >/dev/null 2>&1 || skip "ip netns add refused (not root) and no unshare"
err=$(unshare -rn sh -c "$setup" 2>&1) ||
  skip "ip netns add refused (not root) and unshare -rn failed: ${err:-unknown error}"
exec unshare -rn sh -c "$setup"' >/dev/null || exit 125
exec "$@"' zdc-netns "$@"
