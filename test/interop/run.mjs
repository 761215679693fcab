#!/usr/bin/env node
// Interop matrix: zdc-peer against real peers (libdatachannel via node-datachannel, Pion v3,
// Chromium, Firefox ESR), in both offer/answer roles, over the cases the zdc-peer protocol can
// express.
//
//   node run.mjs --zdc PATH/zdc-peer [--peers ndc,pion,chromium,chromium-mdns,firefox] [--pion PATH]
//                [--filter TEXT] [--timeout S]
//   node run.mjs --self              harness self-check: libdatachannel stands in for zdc-peer
//
// Peers: ndc (libdatachannel), chromium (variant 1: loopback candidates), chromium-mdns
// (variant 2: Chrome's defaults, host addresses hidden behind .local names; zdc-peer runs with
// --no-loopback and must reach Chrome through peer-reflexive discovery), pion (Debian's Pion
// WebRTC 3.1, test/interop/pion-peer, built by scripts/build-pion-peer.sh), firefox (Debian's
// firefox-esr, headless; one browser per run through firefox-host.mjs, all of that run's cases
// in one namespace with the veth pair).
//
// A case that cannot apply to a peer (a limit of that peer's version) prints "N/A" with the
// reason and is not counted; a peer that cannot be set up (no Go, no Firefox) fails its cases.
//
// Every case runs inside a network namespace of its own (netns.sh): loopback only, or for
// chromium-mdns loopback plus a veth pair on 198.18.0.0/24, so no test traffic touches the
// machine's real interfaces. Where no namespace can be made the case prints "SKIP ... reason"
// and counts as skipped, never as passed.
//
// zdc extensions to PEER_PROTOCOL.md v1 (zdc-peer and peer-core.mjs both speak them; the
// protocol file itself is unchanged):
//   --utf8             with --text: message i of SIZE bytes begins like a text message (four
//                      digits when SIZE >= 4); then piece n = 0, 1, ... at byte j is unit
//                      (i + n) mod 6 of {"é", "€", "😀", U+0000} (2, 3, 4 and 1 bytes) when that
//                      exists and fits in SIZE, else the letter 'a' + (i + j) mod 26. Echoes must
//                      come back byte for byte, as text.
//   --channels N       N channels labelled LABEL-0 .. LABEL-(N-1), all created by the offerer;
//                      sending starts when all are open; message i goes on channel i mod N and
//                      its echo must come back on that channel, in order there.
//   --close-after N    (echoer) after echoing N messages close the channel(s); exit 0 once closed.
//   --await-close      (sender) after the result, wait until the other side closes the
//                      channel(s); exit 0 once they are closed.
//   --close-peer       (sender) after the result, close the peer connection without closing the
//                      channels first; exit 0.
//   --await-peer-close (echoer) exit 0 once the connection state leaves "connected"
//                      (disconnected, failed or closed); stdin's end does not end it.
//   --no-loopback      (zdc-peer only) gather no loopback candidates.
//   --restart-ice-at K (sender) after K echoes, restart ICE (zdc_peer_restart_ice; in the page
//                      pc.restartIce() and a new offer) while the series flows; prints
//                      {"event":"restart"}. Either peer answers a later offer and applies the
//                      answer to its own, printing {"event":"renegotiated","type":T}.
//   --stats-exchange   (sender) after the result print a stats event, send {"stats":true} to
//                      the other side (which prints its own stats event and answers
//                      {"statsDone":true}), and only then close. The "stats" case compares
//                      zdc's zdc_peer_get_stats/zdc_channel_get_stats with the browser's
//                      getStats() taken on the same connection (docs/monitoring.md).
//
// Prints one line per case and closes with "N passed, N failed, N skipped". Exit 0 iff none
// failed and at least one passed; 77 when every selected case was skipped.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const self = argv.includes('--self');
const zdc = opt('--zdc', null);
if (!self && !zdc) { console.error('usage: run.mjs --zdc PATH | --self'); process.exit(2); }
const peers = opt('--peers', 'ndc,pion,chromium,chromium-mdns,firefox').split(',');
const filter = opt('--filter', '');
const timeout = Number(opt('--timeout', '60'));
// The Pion peer is a Go program built by scripts/build-pion-peer.sh (CMake builds it beside
// zdc-peer when Go is installed).
const pion = opt('--pion', process.env.ZDC_PION_PEER || (zdc ? path.join(path.dirname(zdc), 'pion-peer') : 'pion-peer'));

// --in-netns: this run.mjs already runs inside a namespace of its own (netns.sh), made for a
// peer that shares one browser across its cases (firefox); cases then run without a namespace
// each.
const inNetns = argv.includes('--in-netns');
const chromium = path.join(here, 'peer-chromium.mjs');
const peerDefs = {
  ndc: { cmd: ['node', path.join(here, 'peer-ndc.mjs')] },
  chromium: { cmd: ['node', chromium] },
  // Variant 2 needs a non-loopback interface and a zdc that does not lean on loopback.
  // Pion v3.1.56 (Debian): its SDP has no a=max-message-size (so 64 KiB by RFC 8841 §6.1,
  // which zdc honours: it refuses a larger send), and it reads messages into a 65535-byte
  // buffer, failing the channel on a 65536-byte one. Its connection state never says
  // "connecting": it computes that as ICE checking *and* DTLS connecting, and DTLS starts only
  // once ICE is connected (webrtc/peerconnection.go, updateConnectionState).
  pion: { cmd: [pion], missing: fs.existsSync(pion) ? null : `no Pion peer at ${pion} (scripts/build-pion-peer.sh ${pion})`,
          except: {
            'binary 64 KiB': 'Pion 3.1 reads at most 65535 bytes per message (its read buffer); "binary 65535 B" runs instead',
            'binary 256 KiB': 'Pion 3.1 advertises no a=max-message-size, so 64 KiB applies (RFC 8841 §6.1); zdc refuses larger sends',
          },
          statesExempt: 'Pion 3.1 never reports "connecting" (ICE checking and DTLS connecting at once, which cannot happen)' },
  // Firefox ESR: one headless Firefox per run (firefox-host.mjs; it takes seconds to start) serves
  // every case of that run, in one namespace with the veth pair (Firefox gathers only on the
  // default route's interface, never on loopback there); a fresh page per case.
  firefox: { cmd: ['node', path.join(here, 'peer-firefox.mjs')], veth: true, sharedHost: 'firefox-host.mjs',
             missing: fs.existsSync(process.env.FIREFOX || '/usr/bin/firefox-esr') ? null
               : `no ${process.env.FIREFOX || '/usr/bin/firefox-esr'} (Debian firefox-esr: scripts/install-deps.sh --interop)` },
  'chromium-mdns': { cmd: ['node', chromium, '--mdns'], veth: true, mdns: true, zdcExtra: ['--no-loopback'],
                     only: ['binary 1200 B', 'binary 64 KiB', 'text UTF-8', '4 channels', 'echoer closes'] },
};
const zdcCmd = self ? ['node', path.join(here, 'peer-ndc.mjs')] : [zdc];
// libdatachannel (libjuice) gathers no loopback candidates: two of them need the veth pair.
if (self) for (const p of Object.values(peerDefs)) p.veth = true;
for (const p of peers) if (!peerDefs[p]) { console.error(`unknown peer ${p}`); process.exit(2); }

// name; sender options (the offerer sends); options both sides share; echoer-only options;
// how the sender ends (default --close: it closes its channel and the echoer must see that).
const cases = [
  { name: 'binary 0 B', send: '--send 20 --size 0' },
  { name: 'binary 1 B', send: '--send 20 --size 1' },
  { name: 'binary 1200 B', send: '--send 200 --size 1200' },
  { name: 'binary 16 KiB', send: '--send 100 --size 16384' },
  { name: 'binary 64 KiB', send: '--send 40 --size 65536' },
  // Both peers advertise a=max-message-size:262144, as zdc does.
  { name: 'binary 256 KiB', send: '--send 20 --size 262144' },
  // The largest message Pion 3.1 can read (see peerDefs.pion).
  { name: 'binary 65535 B', send: '--send 40 --size 65535', peers: ['pion'] },
  { name: 'text 1200 B', send: '--send 100 --size 1200 --text', shared: '--label txt --protocol chat' },
  { name: 'text UTF-8 + NUL 1200 B', send: '--send 100 --size 1200 --text --utf8' },
  { name: 'text UTF-8 + NUL 7 B', send: '--send 30 --size 7 --text --utf8' },
  { name: 'unordered', send: '--send 200 --size 1200', shared: '--unordered' },
  { name: 'maxRetransmits 0', send: '--send 200 --size 1200', shared: '--unordered --max-retransmits 0' },
  { name: 'maxPacketLifeTime 500', send: '--send 200 --size 1200', shared: '--max-packet-life-time 500' },
  { name: 'negotiated id 5', send: '--send 50 --size 1200', shared: '--negotiated 5' },
  { name: '4 channels at once', send: '--send 200 --size 1200', shared: '--channels 4' },
  { name: 'echoer closes the channel', send: '--send 50 --size 1200', echo: '--close-after 50', end: '--await-close' },
  { name: 'peer close', send: '--send 50 --size 1200', echo: '--await-peer-close', end: '--close-peer' },
  // The other cases print each side's states; this one requires them to be right.
  { name: 'connection states', send: '--send 20 --size 1200', states: true },
  // Firefox echoes at ~10-20 Mbit/s on a loaded 2-core machine: this case may take 60 s.
  { name: '50 MiB throughput', send: '--send 3200 --size 16384', minTimeout: 60 },
  // The sender restarts ICE with two thirds of the series still to come back: zdc restarts
  // when it offers, Chromium (restartIce) when zdc answers; every echo must arrive, in order.
  { name: 'ICE restart by the sender', send: '--send 300 --size 1200 --restart-ice-at 100', restart: true,
    peers: ['chromium', 'firefox', 'pion'] },
  // zdc's counts against the browser's getStats() on the other end (see statsProblems).
  { name: 'stats agree with getStats', send: '--send 100 --size 1200 --stats-exchange', stats: true,
    peers: ['chromium'] },
];

// The "stats" case: what zdc counted against what the browser's getStats() counted on the
// same connection, each side's snapshot taken after the last echo and before any close.
// Messages and their bytes must agree exactly, per direction; the DTLS datagrams' bytes (zdc:
// bytesSent - stunBytesSent; the browser's selected candidate pair, which excludes
// connectivity checks) within 2 % + 2 KiB, since the snapshots are a moment apart (SACKs,
// heartbeats). Returns [problems, summary lines].
function statsProblems(zdcR, peerR, count, size) {
  const pick = (side) => side.events.filter((e) => e.event === 'stats' && e.reason !== 'exit').slice(-1)[0];
  const z = pick(zdcR), b = pick(peerR);
  if (!z || !b) return [[`stats events missing (zdc ${!!z}, browser ${!!b})`], []];
  const problems = [], lines = [];
  const zc = z.channels[0] || {}, bc = b.channels.find((c) => c.label === zc.label) || {};
  const want = (what, got, exp) => { if (got !== exp) problems.push(`${what}: ${got}, expected ${exp}`); };
  want('zdc messagesSent', zc.messagesSent, count);
  want('zdc messagesReceived', zc.messagesReceived, count);
  want('browser messagesReceived vs zdc messagesSent', bc.messagesReceived, zc.messagesSent);
  want('browser bytesReceived vs zdc bytesSent', bc.bytesReceived, zc.bytesSent);
  want('zdc messagesReceived vs browser messagesSent', zc.messagesReceived, bc.messagesSent);
  want('zdc bytesReceived vs browser bytesSent', zc.bytesReceived, bc.bytesSent);
  want('zdc channel bytesSent', zc.bytesSent, count * size);
  const pair = b.browser.pair;
  if (!pair) problems.push('the browser reported no selected candidate pair');
  else {
    const zSent = z.peer.bytesSent - z.peer.stunBytesSent, zRecv = z.peer.bytesReceived - z.peer.stunBytesReceived;
    const near = (x, y) => Math.abs(x - y) <= 0.02 * Math.max(x, y) + 2048;
    if (!near(zSent, pair.bytesReceived)) problems.push(`DTLS bytes zdc sent ${zSent}, browser received ${pair.bytesReceived}`);
    if (!near(zRecv, pair.bytesSent)) problems.push(`DTLS bytes browser sent ${pair.bytesSent}, zdc received ${zRecv}`);
    lines.push(`stats: messages ${zc.messagesSent}/${bc.messagesReceived} (zdc sent/browser received), ` +
      `${zc.messagesReceived}/${bc.messagesSent} back; DTLS bytes zdc->browser ${zSent}/${pair.bytesReceived}, ` +
      `browser->zdc ${pair.bytesSent}/${zRecv}; message payload ${zc.bytesSent} of ${zSent} DTLS bytes sent`);
    lines.push(`stats: RTT zdc ICE ${z.peer.iceRttUs} us, SCTP ${z.peer.sctpRttUs} us; browser pair ` +
      `${pair.currentRoundTripTime === undefined ? '?' : Math.round(pair.currentRoundTripTime * 1e6) + ' us'}; ` +
      `DTLS zdc ${z.peer.dtlsVersion} ${z.peer.dtlsCipher}, browser ${b.browser.transport?.tlsVersion} ${b.browser.transport?.dtlsCipher}`);
  }
  return [problems, lines];
}

// zdc-peer logs its DTLS outcome (version, cipher, use_srtp profile) at INFO: printed per case.
// With the native SCTP also what the peer's INIT / INIT ACK offered (docs/interop.md).
if (!process.env.ZDC_LOG) process.env.ZDC_LOG = 'info,dtls,sctp';

const split = (s) => (s || '').split(' ').filter(Boolean);
const states = (side) => side.events.filter((e) => e.event === 'connection').map((e) => e.state);
const count = (side, ev) => side.events.filter((e) => e.event === ev).length;

// Runs one case's relay inside a namespace of its own; resolves with the relay's summary or
// { skip: reason }.
function runCase(sender, echoer, veth, timeout) {
  return new Promise((resolve) => {
    const relay = ['node', path.join(here, 'relay.mjs'), '--quiet', '--timeout', String(timeout),
      '--', ...sender, '--', ...echoer];
    const args = inNetns ? relay : ['bash', path.join(here, 'netns.sh'), ...(veth ? ['--veth'] : []), '--', ...relay];
    const proc = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { err += d; });
    // The relay kills its peers at the timeout; this only guards against a stuck wrapper.
    const guard = setTimeout(() => proc.kill('SIGKILL'), (timeout + 20) * 1000);
    proc.on('exit', (code) => {
      clearTimeout(guard);
      const lines = out.trim().split('\n');
      const skip = lines.find((l) => l.startsWith('SKIP netns:'));
      if (code === 77 && skip) { resolve({ skip: skip.slice('SKIP netns: '.length) }); return; }
      try {
        const r = JSON.parse(lines[lines.length - 1]);
        if (r.relay === 'done') { resolve(r); return; }
      } catch (e) { /* fall through */ }
      const empty = { code: null, events: [], stderr: err.trim().split('\n').slice(-6) };
      resolve({ ok: false, a: empty, b: { ...empty, stderr: [] }, broken: `relay wrapper exited ${code}` });
    });
  });
}

// Runs one case and prints it; returns 'pass', 'fail', 'skip', or null (not selected).
async function runOne(peer, def, zdcOffers, c) {
    if (def.only && !def.only.some((n) => c.name.startsWith(n))) return null;
    if (c.peers && !c.peers.includes(peer)) return null;
    const who = self ? 'ndc(self)' : 'zdc';
    const title = `${who} ${zdcOffers ? 'offers' : 'answers'} / ${peer}: ${c.name}`;
    if (filter && !title.includes(filter)) return null;
    // A case that cannot mean anything with this peer: listed with the reason, not counted.
    if (def.except && def.except[c.name]) {
      console.log(`N/A  ${title}: ${def.except[c.name]}`);
      return 'n/a';
    }
    // A peer that cannot be set up fails every case loudly: never a silent skip.
    if (def.missing) {
      console.log(`FAIL ${title}: ${def.missing}`);
      return 'fail';
    }
    const zdcSide = [...zdcCmd, ...(self ? [] : def.zdcExtra || [])];
    const end = c.end || '--close';
    const caseTimeout = Math.max(timeout, c.minTimeout || 0);
    const t = ['--timeout', String(caseTimeout - 5)];
    const sender = [...(zdcOffers ? zdcSide : def.cmd), '--offer', ...split(c.send), ...split(c.shared), end, ...t];
    const echoer = [...(zdcOffers ? def.cmd : zdcSide), '--answer', '--echo', ...split(c.shared), ...split(c.echo), ...t];
    const t0 = Date.now();
    const r = await runCase(sender, echoer, def.veth, caseTimeout);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (r.skip) {
      console.log(`SKIP ${title}: ${r.skip}`);
      return 'skip';
    }
    const zdcR = zdcOffers ? r.a : r.b, peerR = zdcOffers ? r.b : r.a;
    const result = r.a.events.find((e) => e.event === 'result');
    const problems = [], notes = [];
    if (r.broken) problems.push(r.broken);
    if (!result) problems.push('no result');
    else if (!result.ok) problems.push('result not ok');
    if (!r.ok) problems.push(`exit codes: sender ${r.a.code}, echoer ${r.b.code}`);
    // Both sides must say they were connected, after connecting and before anything else.
    if (c.states) {
      for (const [name, side] of [[who, zdcR], [peer, peerR]]) {
        const seq = states(side).filter((st) => st !== 'new');
        if (name === peer && def.statesExempt) {
          // The peer's own known behaviour: it must still say "connected" first.
          if (seq[0] !== 'connected') problems.push(`${name} reported ${seq.join('>') || 'no state'}, not connected first`);
          else notes.push(`${name}: ${seq.join('>')} (${def.statesExempt})`);
        } else if (seq[0] !== 'connecting' || seq[1] !== 'connected')
          problems.push(`${name} reported ${seq.join('>') || 'no state'}, not connecting>connected`);
      }
    }
    // Variant 2 means something only if Chrome did hide its host addresses behind .local names.
    if (def.mdns && !self) {
      const hosts = peerR.candidates.filter((cand) => / typ host/.test(cand));
      const named = hosts.filter((cand) => /\.local /.test(cand));
      if (!named.length || named.length !== hosts.length)
        problems.push(`${peer} offered ${hosts.length} host candidate(s), ${named.length} behind .local names; wanted all of them`);
      else notes.push(`${peer} offered only .local host candidates (${named.length}); zdc reached them through peer-reflexive discovery`);
    }
    // Whoever did not close must have seen every channel close.
    const channels = Number((split(c.shared).join(' ').match(/--channels (\d+)/) || [0, 1])[1]);
    if (end === '--close' && r.ok && count(r.b, 'closed') < channels)
      problems.push(`echoer saw ${count(r.b, 'closed')} of ${channels} channel closes`);
    if (end === '--await-close' && r.ok && count(r.a, 'closed') < channels)
      problems.push(`sender saw ${count(r.a, 'closed')} of ${channels} channel closes`);
    if (c.restart) {
      const ev = (side, name, type) => side.events.some((e) => e.event === name && (!type || e.type === type));
      if (!ev(r.a, 'restart')) problems.push('the sender never restarted ICE');
      if (!ev(r.b, 'renegotiated', 'offer')) problems.push('the echoer never answered the restart offer');
      if (!ev(r.a, 'renegotiated', 'answer')) problems.push('the sender never applied the restart answer');
    }
    let statsLines = [];
    if (c.stats && !self) {
      const [sp, sl] = statsProblems(zdcR, peerR, Number(c.send.match(/--send (\d+)/)[1]),
                                     Number(c.send.match(/--size (\d+)/)[1]));
      problems.push(...sp);
      statsLines = sl;
    }
    const ok = problems.length === 0;
    const tput = result ? ` ${result.mbps} Mbit/s echoed (${result.received}/${result.sent})` : '';
    console.log(`${ok ? 'PASS' : 'FAIL'} ${title} [${secs}s]${tput}`);
    console.log(`     states: ${who} ${states(zdcR).join('>')}; ${peer} ${states(peerR).join('>')}`);
    for (const n of notes) console.log(`     ${n}`);
    for (const n of statsLines) console.log(`     ${n}`);
    // Where a side's channel opened before it said "connected" (a sequence browsers never show).
    for (const [name, side] of [[who, zdcR], [peer, peerR]]) {
      const iOpen = side.events.findIndex((e) => e.event === 'open');
      const iConn = side.events.findIndex((e) => e.event === 'connection' && e.state === 'connected');
      if (iOpen >= 0 && iConn < 0) console.log(`     note: ${name} never reported "connected"`);
      else if (iOpen >= 0 && iConn > iOpen) console.log(`     note: ${name}'s channel opened before it reported "connected"`);
    }
    if (end === '--close-peer') {
      const echoerName = zdcOffers ? peer : who;
      console.log(`     after the sender closed its peer: ${echoerName} reported ${states(r.b).slice(-1)[0] || 'nothing'}` +
        `, ${count(r.b, 'closed')} channel close(s)`);
    }
    // zdc's view of DTLS (its INFO log, ZDC_LOG=info,dtls below): version, cipher, use_srtp.
    for (const line of zdcR.stderr.filter((l) => l.includes('DTLS connected as')).slice(-1))
      console.log(`     zdc ${line.slice(line.indexOf('DTLS connected as')).slice(0, 200)}`);
    for (const line of zdcR.stderr.filter((l) => l.includes("SCTP peer's INIT")).slice(-1))
      console.log(`     zdc ${line.slice(line.indexOf("SCTP peer's INIT")).slice(0, 200)}`);
    // The browser's own view of the connection: selected candidate pair and DTLS cipher.
    for (const line of peerR.stderr.filter((l) => l.includes('getStats:')).slice(-1))
      console.log(`     ${peer} ${line.slice(line.indexOf('getStats:')).slice(0, 240)}`);
    if (!ok) {
      console.log(`     why: ${problems.join('; ')}`);
      // The end of each side's log says where it stuck.
      for (const [side, s] of [['sender', r.a], ['echoer', r.b]])
        for (const line of s.stderr.slice(-6)) console.log(`     ${side} log: ${line.slice(0, 200)}`);
    }
    return ok ? 'pass' : 'fail';
}

// A failing case runs once more (ZDC_INTEROP_RETRIES, default 1): a pass on the retry counts as
// a pass but is listed as flaky in the summary, and its first failure stays in the log above.
const retries = Number(process.env.ZDC_INTEROP_RETRIES ?? 1);
let passed = 0, failed = 0, skipped = 0;
const failures = [], skips = [], flaky = [], na = [];
// A peer with a shared host (firefox) runs its cases in a child run.mjs inside one namespace of
// its own; that child starts the host, and its summary line is added to ours.
function runInNetns(peer, def) {
  return new Promise((resolve) => {
    const rest = [];
    for (let k = 0; k < argv.length; k++) {
      if (argv[k] === '--peers') { k++; continue; }
      rest.push(argv[k]);
    }
    const child = spawn('bash', [path.join(here, 'netns.sh'), ...(def.veth ? ['--veth'] : []), '--',
      process.execPath, fileURLToPath(import.meta.url), ...rest, '--peers', peer, '--in-netns'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let last = '', skip = null;
    const summary = /^(\d+) passed \((\d+) only on a retry\), (\d+) failed, (\d+) skipped/;
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      if (l.startsWith('SKIP netns:')) skip = l;
      else if (!summary.test(l)) console.log(l);  // ours counts it in
      last = l;
    });
    child.on('exit', (code) => {
      const m = last.match(summary);
      if (skip) resolve({ skip });
      else if (m) resolve({ passed: +m[1], retried: +m[2], failed: +m[3], skipped: +m[4] });
      else resolve({ broken: `the ${peer} run inside its namespace exited ${code} without a summary` });
    });
  });
}

// Starts the shared host (firefox-host.mjs) of a peer; resolves with null, or why it failed.
let hostProc = null;
function startHost(def) {
  return new Promise((resolve) => {
    hostProc = spawn('node', [path.join(here, def.sharedHost)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const errs = [];
    const t = setTimeout(() => resolve(`${def.sharedHost} not ready within 100 s: ${errs.slice(-3).join(' | ')}`), 100000);
    readline.createInterface({ input: hostProc.stderr }).on('line', (l) => { errs.push(l); if (process.env.ZDC_INTEROP_HOST_LOG) console.error(l); });
    readline.createInterface({ input: hostProc.stdout }).on('line', (l) => {
      const m = l.match(/^firefox-host ready (\d+)$/);
      if (m) { clearTimeout(t); process.env.ZDC_FIREFOX_HOST = `127.0.0.1:${m[1]}`; resolve(null); }
    });
    hostProc.on('exit', (code) => { clearTimeout(t); resolve(`${def.sharedHost} exited ${code}: ${errs.slice(-3).join(' | ')}`); });
  });
}

for (const peer of peers) {
  const def = peerDefs[peer];
  if (def.sharedHost && !def.missing) {
    if (!inNetns) {
      const r = await runInNetns(peer, def);
      if (r.skip) { console.log(`SKIP ${peer}: ${r.skip}`); skipped++; skips.push(peer); }
      else if (r.broken) { console.log(`FAIL ${peer}: ${r.broken}`); failed++; failures.push(peer); }
      else { passed += r.passed; failed += r.failed; skipped += r.skipped; if (r.retried) flaky.push(`${r.retried} ${peer} case(s), listed above`); if (r.failed) failures.push(`${r.failed} ${peer} case(s), above`); }
      continue;
    }
    const why = await startHost(def);
    if (why) def.missing = why;  // every case fails with the reason
  }
  for (const zdcOffers of [true, false]) {
    for (const c of cases) {
      let res = await runOne(peer, def, zdcOffers, c);
      if (res === null) continue;
      const title = `${self ? 'ndc(self)' : 'zdc'} ${zdcOffers ? 'offers' : 'answers'} / ${peer}: ${c.name}`;
      for (let k = 0; res === 'fail' && k < retries; k++) {
        console.log(`     retrying: ${title}`);
        res = await runOne(peer, def, zdcOffers, c);
        if (res === 'pass') flaky.push(title);
      }
      if (res === 'n/a') { na.push(title); continue; }
      if (res === 'skip') { skipped++; skips.push(title); }
      else if (res === 'pass') passed++;
      else { failed++; failures.push(title); }
    }
  }
}
if (hostProc) { hostProc.stdin.end(); hostProc.kill('SIGTERM'); }
if (flaky.length) console.log(`flaky (failed, then passed on a retry):\n  ${flaky.join('\n  ')}`);
if (na.length) console.log(`not applicable to the peer (listed above with the reason, not counted): ${na.length}`);
if (failures.length) console.log(`failed cases:\n  ${failures.join('\n  ')}`);
console.log(`${passed} passed (${flaky.length} only on a retry), ${failed} failed, ${skipped} skipped (skipped cases did not run)`);
// A filter that matches nothing is a mistake, not a pass.
if (passed + failed + skipped === 0) { console.log('no case matches the filter'); process.exit(1); }
process.exit(failed ? 1 : passed === 0 ? 77 : 0);
