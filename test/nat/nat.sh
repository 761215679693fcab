#!/usr/bin/env bash
# Real NATs and a real TURN server on this machine (docs/turn.md): two zdc-peer processes, each
# in a host namespace behind its own router namespace doing NAT with nftables masquerade, and
# coturn (Debian's turnserver) in a "public" namespace. Everything is built and torn down here.
#
#   nat.sh ZDC_PEER [SCENARIO...]      (default: every scenario, in the order below)
#
#   public  203.0.113.1/24 on bridge br0: coturn (STUN + TURN/UDP, realm zdc.test)
#   router A: wan 203.0.113.10 — lan 10.1.0.1/24 — host A 10.1.0.2 (zdc-peer --offer)
#   router B: wan 203.0.113.20 — lan 10.2.0.1/24 — host B 10.2.0.2 (zdc-peer --answer --echo)
#   The hosts reach each other only through their NATs; a router has no route to the other
#   LAN. NAT kinds: "eim" = masquerade (port kept: endpoint-independent mapping), "symmetric" =
#   masquerade fully-random (a random port for every new destination).
#
# Scenarios:
#   srflx-eim       STUN only, both behind eim NATs: connects through server-reflexive
#                   candidates (no TURN configured at all).
#   relay-symmetric both behind symmetric NATs: the reflexive pairs cannot work; TURN over UDP
#                   carries the connection, data intact both ways, the selected pair is relayed.
#   relay-policy    eim NATs, A with iceTransportPolicy relay: A signals only relay candidates
#                   and its selected pair is relayed although a reflexive path exists.
#   bad-credentials A relay-only with a wrong TURN password: fails, and the log says the server
#                   refused the credentials (401); no crash, no leak (zdc-peer runs under ASan).
#   server-gone     relay-only through coturn, then coturn is killed mid-session: the connection
#                   goes disconnected with a logged reason (consent freshness, RFC 7675).
#   tcp-only        host A's namespace drops every UDP packet leaving it (nftables): A reaches
#                   coturn over TCP (turn:?transport=tcp, RFC 6062), then over TLS (turns:,
#                   coturn with a self-signed certificate made here, pinned by its SHA-256
#                   fingerprint): both connect through the relay with data intact, and the log
#                   says whether kTLS carried the TLS records.
#   refresh         relay-only through coturn with tuning.turn_refresh_ms 2500 (zdc-peer
#                   --turn-refresh-ms): real Refresh, CreatePermission and ChannelBind renewals
#                   answered by coturn (authenticated successes in A's log) while the connection
#                   stays up for 10 s (consent checks keep crossing the relay).
#   chromium-answers / chromium-offers
#                   headless Chromium (its iceServers: the same coturn) behind one symmetric NAT,
#                   zdc behind the other, each role: connected through the relay, data intact
#                   (skipped, with the reason, without chromium or test/interop's npm packages).
#
# Output: one line per scenario, "nat: PASS name ...", "nat: FAIL name ..." (with the relay's
# log), or "nat: SKIP name: reason". Exit 0 when nothing failed (skips included, each printed
# with its reason); 77 when every scenario was skipped (namespaces cannot be made here).
set -u
if [ $# -lt 1 ]; then
  echo "usage: nat.sh ZDC_PEER [scenario...]" >&2
  exit 2
fi
peer=$(realpath "$1")
shift
here=$(cd "$(dirname "$0")" && pwd)
relay_js="$here/../interop/relay.mjs"
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] &&
  scenarios=(srflx-eim relay-symmetric relay-policy bad-credentials server-gone tcp-only refresh
             chromium-answers chromium-offers)

skip_all() {
  for s in "${scenarios[@]}"; do echo "nat: SKIP $s: $*"; done
  exit 77
}
[ "$(id -u)" = 0 ] || skip_all "not root (ip netns and nftables need CAP_NET_ADMIN/CAP_SYS_ADMIN)"
for c in ip nft turnserver node openssl; do
  command -v $c >/dev/null 2>&1 || skip_all "no $c (scripts/install-deps.sh --interop)"
done

P="zn$$"
tmp=$(mktemp -d)
turn_pid=""
cleanup() {
  if [ -n "$turn_pid" ]; then
    kill "$turn_pid" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$turn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$turn_pid" 2>/dev/null
    wait "$turn_pid" 2>/dev/null
  fi
  turn_pid=""
  turn_cert="" turn_key=""
  for n in a b ra rb pub; do ip netns delete "$P-$n" 2>/dev/null; done
}
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nsx() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }

# build_net KIND_A KIND_B: the five namespaces, links, addresses, routes and NAT rules.
build_net() {
  local n
  for n in pub ra rb a b; do
    ip netns add "$P-$n" || return 1
    nsx $n ip link set lo up || return 1
  done
  # The public side has a default route (to a gateway nobody answers for), as a server on the
  # internet would: without one, coturn's relay sends to a private address fail (ENETUNREACH,
  # or EINVAL with a blackhole route), and coturn 4.6 closes the whole allocation on that.
  nsx pub ip link add br0 type bridge &&
    nsx pub ip addr add 203.0.113.1/24 dev br0 && nsx pub ip link set br0 up &&
    nsx pub ip route add default via 203.0.113.254 dev br0 || return 1
  local side kind wan lan
  for side in a b; do
    if [ $side = a ]; then kind=$1 wan=203.0.113.10 lan=10.1.0; else kind=$2 wan=203.0.113.20 lan=10.2.0; fi
    ip link add wan0 netns "$P-r$side" type veth peer name r$side netns "$P-pub" &&
      nsx pub ip link set r$side master br0 && nsx pub ip link set r$side up &&
      nsx r$side ip addr add $wan/24 dev wan0 && nsx r$side ip link set wan0 up &&
      ip link add lan0 netns "$P-r$side" type veth peer name eth0 netns "$P-$side" &&
      nsx r$side ip addr add $lan.1/24 dev lan0 && nsx r$side ip link set lan0 up &&
      nsx $side ip addr add $lan.2/24 dev eth0 && nsx $side ip link set eth0 up &&
      nsx $side ip route add default via $lan.1 &&
      nsx r$side sysctl -qw net.ipv4.ip_forward=1 || return 1
    # Unsolicited packets from outside are dropped before conntrack confirms an entry for them:
    # otherwise a peer's check arriving before ours went out would leave an entry whose tuple
    # makes masquerade pick another port for our own packets (no more endpoint-independent
    # mapping), as no home router does.
    local masq="masquerade"
    [ "$kind" = symmetric ] && masq="masquerade fully-random"
    nsx r$side nft -f - <<EOF || return 1
table ip nat {
  chain post { type nat hook postrouting priority 100; oifname "wan0" $masq; }
}
table ip filter {
  chain in { type filter hook input priority 0; iifname "wan0" ct state new drop; }
}
EOF
  done
}

# start_turn [EXTRA_ARGS...]: coturn in the public namespace; waits (bounded) until it listens.
# With turn_cert/turn_key set (make_cert) it also serves TLS on 5349.
start_turn() {
  local tls=(--no-tls) port=3478
  if [ -n "${turn_cert:-}" ]; then
    tls=(--cert "$turn_cert" --pkey "$turn_key" --tls-listening-port 5349)
    port=5349
  fi
  # Not through nsx (a function: in the background it would be a subshell, and $! its pid).
  ip netns exec "$P-pub" turnserver -n -L 203.0.113.1 -E 203.0.113.1 -p 3478 -a -f -r zdc.test \
    -u alice:s3cret "${tls[@]}" --no-dtls --no-cli --min-port 49152 --max-port 49407 \
    --denied-peer-ip=10.0.0.0-10.255.255.255 \
    --pidfile "$tmp/turn.pid" --log-file stdout --simple-log ${NAT_TURN_VERBOSE:+-V} "$@" >"$tmp/turn.log" 2>&1 &
  turn_pid=$!
  for _ in $(seq 50); do
    nsx pub ss -Hlun 2>/dev/null | grep -q '203.0.113.1:3478' &&
      nsx pub ss -Hltn 2>/dev/null | grep -q "203.0.113.1:$port" && return 0
    kill -0 "$turn_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "coturn did not start:"; cat "$tmp/turn.log"
  return 1
}

# make_cert: a self-signed ECDSA certificate for coturn (SAN: its address); sets turn_cert,
# turn_key and turn_fp (the SHA-256 fingerprint, AB:CD:..., as zdc-peer --ice-tls-fingerprint
# takes it).
make_cert() {
  turn_cert="$tmp/turn-cert.pem" turn_key="$tmp/turn-key.pem"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -keyout "$turn_key" -out "$turn_cert" -subj /CN=turn.zdc.test \
    -addext "subjectAltName=IP:203.0.113.1" >/dev/null 2>&1 || return 1
  chmod 644 "$turn_key"
  turn_fp=$(openssl x509 -in "$turn_cert" -noout -fingerprint -sha256 | sed 's/.*=//')
  [ -n "$turn_fp" ]
}

# udp_block SIDE: nothing but TCP (and loopback) leaves host SIDE: every outgoing UDP packet is
# dropped (a firewall that allows only TCP out), and counted.
udp_block() {
  nsx "$1" nft -f - <<EOF
table inet tcponly {
  chain out { type filter hook output priority 0; oifname != "lo" meta l4proto udp counter drop; }
}
EOF
}

STUN="stun:203.0.113.1:3478"
TURN="turn:203.0.113.1:3478?transport=udp"

# run_pair TIMEOUT "A ARGS" "B ARGS": both peers through relay.mjs; output in $tmp/run.log.
run_pair() {
  local t=$1 aargs=$2 bargs=$3
  # shellcheck disable=SC2086
  ZDC_LOG=${NAT_LOG:-info,ice,turn,pc} timeout $((t + 10)) node "$relay_js" --timeout "$t" -- \
    ip netns exec "$P-a" "$peer" --offer --no-loopback --timeout "$t" $aargs -- \
    ip netns exec "$P-b" "$peer" --answer --no-loopback --timeout "$t" $bargs >"$tmp/run.log" 2>&1
}

# run_chromium TIMEOUT CHROME_ROLE "ZDC ARGS" "CHROMIUM ARGS": zdc-peer on host A, headless
# Chromium (test/interop/peer-chromium.mjs, Chrome's defaults: mDNS host candidates) on host B;
# CHROME_ROLE offer or answer.
run_chromium() {
  local t=$1 role=$2 zargs=$3 cargs=$4 zrole=--offer crole=--answer
  [ "$role" = offer ] && zrole=--answer crole=--offer
  local a=(ip netns exec "$P-a" "$peer" $zrole --no-loopback --timeout "$t" $zargs)
  local b=(ip netns exec "$P-b" node "$here/../interop/peer-chromium.mjs" --mdns $crole --timeout "$t" $cargs)
  # shellcheck disable=SC2086
  if [ "$role" = offer ]; then
    ZDC_LOG=${NAT_LOG:-info,ice,turn,pc} timeout $((t + 20)) node "$relay_js" --timeout "$((t + 10))" -- \
      "${b[@]}" -- "${a[@]}" >"$tmp/run.log" 2>&1
  else
    ZDC_LOG=${NAT_LOG:-info,ice,turn,pc} timeout $((t + 20)) node "$relay_js" --timeout "$((t + 10))" -- \
      "${a[@]}" -- "${b[@]}" >"$tmp/run.log" 2>&1
  fi
}

selected() { # selected SIDE: the ICE "selected pair" log lines of peer A or B
  grep -E "^$1 log .* ice .*selected pair" "$tmp/run.log" | tail -1 | sed -E 's/.*selected pair //'
}

fails=0
result() { # result NAME OK DETAIL
  if [ "$2" = 1 ]; then
    echo "nat: PASS $1 $3"
  else
    echo "nat: FAIL $1 $3"
    echo "---- $1: relay log ----"; tail -n 80 "$tmp/run.log"
    echo "---- $1: coturn log ----"; grep -vE "^0: : *$|supported|initialization|IO method|^=|^$" "$tmp/turn.log" 2>/dev/null | tail -n ${NAT_TURN_LINES:-30}
    fails=$((fails + 1))
  fi
}

scenario() {
  local name=$1 ok=0 a b detail
  case $name in
  srflx-eim)
    build_net eim eim || return 2
    start_turn || return 1
    run_pair 30 "--ice-server $STUN --send 50 --size 1000" "--ice-server $STUN --echo"
    local rc=$?
    a=$(selected A) b=$(selected B)
    detail="rc=$rc A[$a] B[$b]"
    # Connected, every echo intact (zdc-peer --send exits 0 only then), over a pair whose remote
    # is reflexive on at least one side, and no relay anywhere (none is configured).
    [ $rc = 0 ] && echo "$a $b" | grep -qE -- '-> (srflx|prflx)\)' &&
      ! echo "$a $b" | grep -q relay && ok=1
    ;;
  relay-symmetric)
    build_net symmetric symmetric || return 2
    start_turn || return 1
    local srv="--ice-server $STUN,$TURN --ice-username alice --ice-credential s3cret"
    run_pair 40 "$srv --send 50 --size 1000" "$srv --echo"
    local rc=$?
    a=$(selected A) b=$(selected B)
    # zdc_peer_get_stats as zdc-peer prints it at exit: the selected pair's candidate types.
    local st
    st=$(grep -ohE '"localType":"[a-z]+","remote":"[^"]*","remotePort":[0-9]+,"remoteType":"[a-z]+"' \
      "$tmp/run.log" | sed -E 's/"localType":"([a-z]+)".*"remoteType":"([a-z]+)"/\1-\2/' | sort -u | tr '\n' ' ')
    detail="rc=$rc A[$a] B[$b] stats[$st]"
    [ $rc = 0 ] && echo "$a $b" | grep -qE -- '\((relay -> [a-z]+|[a-z]+ -> relay)\)' &&
      echo "$st" | grep -q relay && grep -q "^A log .*allocated relayed" "$tmp/run.log" && ok=1
    ;;
  relay-policy)
    build_net eim eim || return 2
    start_turn || return 1
    local srv="--ice-server $STUN,$TURN --ice-username alice --ice-credential s3cret"
    run_pair 30 "$srv --relay-only --send 20 --size 500" "--ice-server $STUN --echo"
    local rc=$?
    a=$(selected A)
    # The candidates A offered (the relay's summary line lists them).
    local cands
    cands=$(tail -1 "$tmp/run.log" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.a.candidates.map(c=>c.replace(/.* typ (\w+).*/,"$1")).join(" "))})' 2>/dev/null)
    detail="rc=$rc A offered [$cands] A[$a]"
    [ $rc = 0 ] && [ -n "$cands" ] && ! echo "$cands" | grep -qvE '^(relay ?)+$' &&
      echo "$a" | grep -qE -- '\(relay -> ' && ok=1
    ;;
  bad-credentials)
    build_net eim eim || return 2
    start_turn || return 1
    local srv="--ice-server $TURN --ice-username alice --ice-credential wrong"
    run_pair 30 "$srv --relay-only --send 5 --size 100" "--echo"
    local rc=$?
    local why
    why=$(grep -m1 -oE "A log .*refused the credentials[^\"]*" "$tmp/run.log" | sed 's/^A log //')
    detail="rc=$rc logged[$why]"
    [ $rc != 0 ] && [ -n "$why" ] && ! grep -q "ERROR: AddressSanitizer\|LeakSanitizer" "$tmp/run.log" && ok=1
    ;;
  server-gone)
    build_net eim eim || return 2
    start_turn || return 1
    local srv="--ice-server $TURN --ice-username alice --ice-credential s3cret"
    # A (relay only) echoes what B sends, then the TURN server is killed: A must notice
    # (consent freshness, RFC 7675: disconnected after 7 s without an answer) and log why;
    # --await-peer-close makes A exit 0 once its connection leaves "connected".
    ( sleep 6; kill -9 "$turn_pid" 2>/dev/null ) &
    local killer=$!
    run_pair 40 "$srv --relay-only --echo --await-peer-close" \
      "--ice-server $STUN --send 1 --size 100 --await-close --await-peer-close"
    local rc=$?
    wait $killer 2>/dev/null
    wait "$turn_pid" 2>/dev/null
    turn_pid=""
    local states
    states=$(grep -oE '^A event \{"event":"connection","state":"[a-z]+"' "$tmp/run.log" | sed -E 's/.*"state":"//; s/"//' | tr '\n' ' ')
    local why
    why=$(grep -m1 -oE "A log .*(consent|disconnected|ICE failed)[^\"]*" "$tmp/run.log" | sed 's/^A log //')
    detail="rc=$rc A states[$states] logged[$why]"
    [ $rc = 0 ] && echo "$states" | grep -q 'connected disconnected' &&
      [ -n "$why" ] && ! grep -q "ERROR: AddressSanitizer\|LeakSanitizer" "$tmp/run.log" && ok=1
    ;;
  tcp-only)
    build_net eim eim || return 2
    udp_block a || return 2
    make_cert || return 1
    start_turn || return 1
    local peerb="--ice-server $STUN --echo" ok_tcp=0 ok_tls=0 a_tcp a_tls ktls drops
    run_pair 30 "--ice-server turn:203.0.113.1:3478?transport=tcp --ice-username alice --ice-credential s3cret --send 20 --size 1000" "$peerb"
    local rc1=$?
    a_tcp=$(selected A)
    # zdc_peer_get_stats (zdc-peer prints it at exit): relayProtocol of the selected pair.
    local st1 st2
    st1=$(grep -m1 -ohE '^A event .*"relayProtocol":"[a-z]+"' "$tmp/run.log" | grep -oE '"relayProtocol":"[a-z]+"')
    [ $rc1 = 0 ] && echo "$a_tcp" | grep -qE -- '\(relay -> ' && [ "$st1" = '"relayProtocol":"tcp"' ] &&
      grep -q "^A log .*TURN over TCP to 203.0.113.1:3478: connected" "$tmp/run.log" && ok_tcp=1
    [ $ok_tcp = 1 ] || { echo "---- tcp-only, TCP run ----"; tail -n 40 "$tmp/run.log"; }
    run_pair 30 "--ice-server turns:203.0.113.1:5349 --ice-username alice --ice-credential s3cret --ice-tls-fingerprint $turn_fp --send 20 --size 1000" "$peerb"
    local rc2=$?
    a_tls=$(selected A)
    ktls=$(grep -m1 -oE "^A log .*TURN over TLS to 203.0.113.1:5349: [^\"]*" "$tmp/run.log" | sed 's/.*5349: //')
    st2=$(grep -m1 -ohE '^A event .*"relayProtocol":"[a-z]+","relayTls":"[^"]*"' "$tmp/run.log" | grep -oE '"relayProtocol":.*')
    [ $rc2 = 0 ] && echo "$a_tls" | grep -qE -- '\(relay -> ' && echo "$ktls" | grep -q "kTLS: " &&
      echo "$st2" | grep -q '"relayProtocol":"tls","relayTls":".*kTLS: ' && ok_tls=1
    # The firewall did drop A's UDP (its checks and STUN): the relay was the only way.
    drops=$(nsx a nft list table inet tcponly 2>/dev/null | grep -oE 'packets [0-9]+' | head -1)
    detail="tcp: rc=$rc1 A[$a_tcp] stats[$st1]; tls: rc=$rc2 A[$a_tls] [$ktls] stats[$st2]; udp dropped [$drops]"
    [ $ok_tcp = 1 ] && [ $ok_tls = 1 ] && [ -n "$drops" ] && [ "$drops" != "packets 0" ] && ok=1
    ;;
  refresh)
    build_net eim eim || return 2
    start_turn || return 1
    local srv="--ice-server $TURN --ice-username alice --ice-credential s3cret"
    # Both sides stay connected until the timeout (their exit code then is 1: not checked);
    # A refreshes everything every 2.5 s.
    NAT_LOG=${NAT_LOG:-debug,turn,pc} run_pair 10 \
      "$srv --relay-only --turn-refresh-ms 2500 --echo --await-peer-close" \
      "--ice-server $STUN --send 1 --size 100 --await-close --await-peer-close"
    local refreshes perms chans states
    refreshes=$(grep -c "^A log .*allocation refreshed" "$tmp/run.log")
    perms=$(grep -c "^A log .*permission for 203.0.113.20" "$tmp/run.log")
    chans=$(grep -c "^A log .*channel 0x4000 bound" "$tmp/run.log")
    states=$(grep -oE '^A event \{"event":"connection","state":"[a-z]+"' "$tmp/run.log" | sed -E 's/.*"state":"//; s/"//' | tr '\n' ' ')
    detail="A: refreshes=$refreshes permissions=$perms channel binds=$chans states[$states]"
    [ "$refreshes" -ge 2 ] && [ "$perms" -ge 3 ] && [ "$chans" -ge 2 ] &&
      echo "$states" | grep -q "connected" && ! echo "$states" | grep -qE "disconnected|failed" &&
      ! grep -q "ERROR: AddressSanitizer\|LeakSanitizer" "$tmp/run.log" && ok=1
    ;;
  chromium-offers|chromium-answers)
    [ -d "$here/../interop/node_modules/playwright-core" ] && command -v chromium >/dev/null ||
      { echo "nat: SKIP $name: no chromium or playwright-core (npm ci in test/interop)"; return 0; }
    build_net symmetric symmetric || return 2
    start_turn || return 1
    local srv="--ice-server $STUN,$TURN --ice-username alice --ice-credential s3cret"
    local crole=answer zside=A
    [ $name = chromium-offers ] && crole=offer zside=B
    if [ $crole = answer ]; then
      run_chromium 40 answer "$srv --send 20 --size 1000" "$srv --echo"
    else
      run_chromium 40 offer "$srv --echo" "$srv --send 20 --size 1000"
    fi
    local rc=$?
    local z c
    z=$(selected $zside)
    c=$(grep -m1 -oE "getStats: selected pair [^;]*" "$tmp/run.log" | sed 's/getStats: selected pair //')
    detail="rc=$rc zdc[$z] chromium[$c]"
    # Both behind symmetric NATs: whichever side chose, the pair is relayed on one end.
    [ $rc = 0 ] && { echo "$z" | grep -qE -- '\((relay -> [a-z]+|[a-z]+ -> relay)\)' ||
      echo "$c" | grep -q relay; } && ok=1
    ;;
  *)
    echo "nat: unknown scenario $name" >&2
    return 2
    ;;
  esac
  result "$name" $ok "$detail"
  return 0
}

skipped=0
for s in "${scenarios[@]}"; do
  started=$(date +%s)
  scenario "$s"
  rc=$?
  if [ $rc = 2 ]; then
    echo "nat: SKIP $s: namespaces or nftables rules could not be set up here"
    skipped=$((skipped + 1))
  elif [ $rc != 0 ]; then
    result "$s" 0 "setup failed"
  fi
  cleanup
  echo "nat: $s took $(( $(date +%s) - started )) s"
done
[ $skipped = ${#scenarios[@]} ] && exit 77
[ $fails = 0 ]
