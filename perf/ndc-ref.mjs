// zdc-perf's reference: libdatachannel through npm node-datachannel (its native API, the way
// a node user would drive it), running zdc-perf's cases with the same message pattern and
// printing one JSON line per case on stdout (read by perf/reference.c):
//   {"reference":"libdatachannel x.y.z (node-datachannel 0.33.4, node vN)"}
//   {"id":"tp-rel-65536-1p","ok":true,"metrics":{"mbps":..,"msgs":..,...}}
//   {"id":"...","ok":false,"error":"why"}
//
// usage: node ndc-ref.mjs --cases id,id,... [--secs S] [--rtt N] [--connects N] [--clients N]
//                        [--scale-peers N] [--scale-secs S]
//
// One process: both peers in this node process (signaling by direct calls). Two processes:
// this process and a child forked from this script (signaling over the IPC channel); the child
// answers, and receives and checks, or echoes, or (handshakes) plays the N clients. Note that
// libdatachannel runs its transports on its own threads: "one process" is one process, not
// one thread (zdc's one-process cases run everything on one thread).
import { createRequire } from 'node:module';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readFileSync } from 'node:fs';

const here = path.dirname(fileURLToPath(import.meta.url));

function loadNdc() {
  const bases = [];
  if (process.env.ZDC_PERF_NODE_MODULES) bases.push(path.join(process.env.ZDC_PERF_NODE_MODULES, 'x.js'));
  bases.push(path.join(here, 'package.json'));
  bases.push(path.join(here, '..', 'test', 'interop', 'package.json'));
  for (const b of bases) {
    try { return createRequire(b)('node-datachannel'); } catch { /* next */ }
  }
  throw new Error('node-datachannel not installed: run (cd perf && npm ci)');
}

const ndc = loadNdc();
const HIGH = 1024 * 1024; // bytes kept queued by a sender, as zdc-perf does
const LAT_SIZE = 100;
const now = () => Number(process.hrtime.bigint()) / 1e9; // CLOCK_MONOTONIC, as zdc-perf
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

let pcCount = 0;
// Loopback only, as zdc-perf binds zdc to 127.0.0.1: without bindAddress libjuice offers the
// machine's other interfaces (and on the test machines an IPv6 address whose pair fails).
function newPc() {
  return new ndc.PeerConnection(`perf${pcCount++}`, { iceServers: [], bindAddress: '127.0.0.1' });
}

// Applies the other side's signaling to pc. node-datachannel delivers each kind of callback
// on its own queue, so a candidate can come out before the description it belongs to: hold
// candidates until the remote description is set (libdatachannel refuses them before).
function remote(pc) {
  let has = false;
  const held = [];
  const guard = (f) => { try { f(); } catch (e) { pc.error = String(e?.message ?? e); } };
  return {
    desc(sdp, type) {
      guard(() => pc.setRemoteDescription(sdp, type));
      has = true;
      for (const [c, mid] of held.splice(0)) guard(() => pc.addRemoteCandidate(c, mid));
    },
    cand(c, mid) { if (has) guard(() => pc.addRemoteCandidate(c, mid)); else held.push([c, mid]); },
  };
}

function channelInit(reliable) {
  return reliable ? {} : { unordered: true, maxRetransmits: 0 };
}

// Waits until cond() holds, polling every `step` ms, at most `secs`; returns cond().
async function until(cond, secs, step = 2) {
  const end = now() + secs;
  while (!cond() && now() < end) await sleep(step);
  return cond();
}

// ---- checking received messages (length; sequence number in the first 8 bytes) ----------

class Checker {
  constructor(size, ordered) {
    Object.assign(this, { size, ordered, next: 0, msgs: 0, bytes: 0, bad: 0, first: 0, last: 0 });
    this.seen = new Uint8Array(1 << 16);
  }
  take(msg) {
    const t = now();
    if (this.msgs === 0) this.first = t;
    this.last = t;
    this.msgs++;
    if (typeof msg === 'string') { this.bad++; this.bytes += msg.length; return; }
    this.bytes += msg.length;
    if (msg.length !== this.size || msg.length < 8) { this.bad++; return; }
    const seq = msg.readUInt32LE(0) + msg.readUInt32LE(4) * 2 ** 32;
    if (this.ordered) {
      if (seq !== this.next) this.bad++;
      this.next = seq + 1;
      return;
    }
    const byte = Math.floor(seq / 8);
    if (byte >= 2 ** 28) { this.bad++; return; }
    if (byte >= this.seen.length) {
      let cap = this.seen.length;
      while (cap <= byte) cap *= 2;
      const n = new Uint8Array(cap);
      n.set(this.seen);
      this.seen = n;
    }
    const bit = 1 << (seq % 8);
    if (this.seen[byte] & bit) this.bad++;
    this.seen[byte] |= bit;
  }
}

// ---- one process: two peers wired directly ------------------------------------------------

async function pairInProcess(reliable) {
  const t0 = now();
  const a = newPc(), b = newPc();
  let openA = 0, openB = 0, dcb = null;
  const ra = remote(a), rb = remote(b);
  a.onLocalDescription((sdp, type) => rb.desc(sdp, type));
  b.onLocalDescription((sdp, type) => ra.desc(sdp, type));
  a.onLocalCandidate((c, mid) => rb.cand(c, mid));
  b.onLocalCandidate((c, mid) => ra.cand(c, mid));
  b.onDataChannel((dc) => { dcb = dc; openB = now(); });
  const dca = a.createDataChannel('perf', channelInit(reliable));
  dca.onOpen(() => { openA = now(); });
  if (!(await until(() => openA && openB, 10, 1))) {
    a.close(); b.close();
    throw new Error('did not connect');
  }
  return { a, b, dca, dcb, took: Math.max(openA, openB) - t0 };
}

function closePair(p) {
  p.dca?.close(); p.dcb?.close();
  p.a.close(); p.b.close();
}

// Sends numbered messages for `secs`, keeping bufferedAmount under HIGH; returns the count.
function sendFor(dc, size, secs) {
  return new Promise((resolve) => {
    const buf = Buffer.alloc(size);
    let seq = 0, waiting = false, timer = null;
    const end = now() + secs;
    const pump = () => {
      waiting = false;
      if (timer) { clearTimeout(timer); timer = null; }
      let k = 0;
      while (k < 512 && dc.bufferedAmount() < HIGH && now() < end) {
        buf.writeUInt32LE(seq % 2 ** 32, 0);
        buf.writeUInt32LE(Math.floor(seq / 2 ** 32), 4);
        dc.sendMessageBinary(buf);
        seq++; k++;
      }
      if (now() >= end) return resolve(seq);
      if (dc.bufferedAmount() >= HIGH) {
        waiting = true;
        timer = setTimeout(pump, 10); // in case the low event was missed
      } else {
        setImmediate(pump); // let the event loop deliver what arrived
      }
    };
    dc.setBufferedAmountLowThreshold(HIGH / 4);
    dc.onBufferedAmountLow(() => { if (waiting) pump(); });
    pump();
  });
}

function tpMetrics(reliable, sent, rx) {
  const secs = rx.last - rx.t0;
  const m = {
    mbps: secs > 0 ? rx.bytes / secs / 1e6 : 0,
    msgs: secs > 0 ? rx.msgs / secs : 0,
    loss_pct: sent ? (100 * (sent - rx.msgs)) / sent : 0,
    bad: rx.bad, sent, received: rx.msgs,
  };
  let error = null;
  if (rx.bad) error = `${rx.bad} messages failed the check`;
  else if (rx.msgs === 0) error = 'nothing arrived';
  else if (reliable && rx.msgs !== sent) error = `reliable: ${rx.msgs} of ${sent} messages arrived`;
  return { m, error };
}

async function throughput1p(size, reliable, secs) {
  const p = await pairInProcess(reliable);
  const rx = new Checker(size, reliable);
  p.dcb.onMessage((msg) => rx.take(msg));
  const t0 = now();
  const sent = await sendFor(p.dca, size, secs);
  // drain, as zdc-perf does: until everything arrived, or nothing more came for 0.3 s
  // (unreliable) / 5 s (reliable), at most 60 s
  const end = now() + 60;
  let last = rx.msgs, lastAt = now();
  while (rx.msgs < sent && now() < end) {
    await sleep(5);
    if (rx.msgs !== last) { last = rx.msgs; lastAt = now(); } else if (now() - lastAt > (reliable ? 5 : 0.3)) break;
  }
  closePair(p);
  return tpMetrics(reliable, sent, { ...rx, t0, last: rx.last, bytes: rx.bytes, msgs: rx.msgs, bad: rx.bad });
}

async function latencyRun(dca, want, echoSetup) {
  const warm = Math.min(1000, Math.floor(want / 10));
  const rtt = new Float64Array(want);
  let got = 0, seq = 0, bad = 0, sentAt = 0;
  const msg = Buffer.alloc(LAT_SIZE);
  const send = () => {
    msg.writeUInt32LE(seq % 2 ** 32, 0);
    msg.writeUInt32LE(Math.floor(seq / 2 ** 32), 4);
    sentAt = now();
    dca.sendMessageBinary(msg);
  };
  let finish;
  const done = new Promise((r) => { finish = r; });
  dca.onMessage((m) => {
    const t = now();
    if (typeof m === 'string' || m.length !== LAT_SIZE || m.readUInt32LE(0) !== seq % 2 ** 32) { bad++; finish(); return; }
    if (seq >= warm && got < want) rtt[got++] = t - sentAt;
    seq++;
    if (got < want) send(); else finish();
  });
  echoSetup?.();
  const timer = setTimeout(() => finish(), (30 + want * 1e-3) * 1000);
  send();
  await done;
  clearTimeout(timer);
  if (bad) return { error: `${bad} echoes failed the check` };
  if (got < want) return { error: `${got} of ${want} round trips completed` };
  rtt.sort();
  return { m: { p50_us: rtt[Math.floor(got / 2)] * 1e6, p99_us: rtt[Math.floor(got * 0.99)] * 1e6,
                p999_us: rtt[Math.floor(got * 0.999)] * 1e6, n: got } };
}

async function latency1p(want) {
  const p = await pairInProcess(true);
  const r = await latencyRun(p.dca, want, () => p.dcb.onMessage((m) => p.dcb.sendMessageBinary(m)));
  closePair(p);
  return r;
}

function connectMetrics(t) {
  t.sort((x, y) => x - y);
  return { m: { median_ms: t[Math.floor(t.length / 2)] * 1e3, min_ms: t[0] * 1e3,
                max_ms: t[t.length - 1] * 1e3, n: t.length } };
}

async function connect1p(n) {
  const t = [];
  for (let i = 0; i < n; i++) {
    const p = await pairInProcess(true);
    t.push(p.took);
    closePair(p);
  }
  return connectMetrics(t);
}

// ---- two processes --------------------------------------------------------------------------

// Starts the child in `role`; returns { child, send, on(type, fn), wait(type, secs) }.
function startChild(role, extra) {
  const child = fork(fileURLToPath(import.meta.url), ['--child', role, JSON.stringify(extra)],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const handlers = new Map();
  const queue = [];
  child.on('message', (m) => {
    const h = handlers.get(m.t);
    if (h) h(m); else queue.push(m);
  });
  return {
    child,
    send: (m) => child.send(m),
    on: (t, fn) => { handlers.set(t, fn); for (const m of queue.filter((x) => x.t === t)) fn(m); },
    async wait(t, secs) {
      let got = null;
      this.on(t, (m) => { got = m; });
      await until(() => got, secs, 2);
      return got;
    },
    async end() {
      try { child.send({ t: 'Q' }); } catch { /* gone */ }
      const exited = new Promise((r) => child.once('exit', r));
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

// The offering side of a connection to the child, numbered idx.
async function offerToChild(ch, idx, reliable) {
  const t0 = now();
  const a = newPc();
  let openA = 0, openB = 0;
  a.onLocalDescription((sdp, type) => ch.send({ t: 'D', idx, sdp, type }));
  a.onLocalCandidate((cand, mid) => ch.send({ t: 'C', idx, cand, mid }));
  const ra = remote(a);
  ch.on('D', (m) => { if (m.idx === idx) ra.desc(m.sdp, m.type); });
  ch.on('C', (m) => { if (m.idx === idx) ra.cand(m.cand, m.mid); });
  ch.on('O', (m) => { if (m.idx === idx) openB = m.at; });
  const dca = a.createDataChannel('perf', channelInit(reliable));
  dca.onOpen(() => { openA = now(); });
  if (!(await until(() => openA && openB, 10, 1))) { a.close(); throw new Error('did not connect'); }
  return { a, dca, took: Math.max(openA, openB) - t0 };
}

async function throughput2p(size, reliable, secs) {
  const ch = startChild('recv', { size, reliable });
  try {
    const p = await offerToChild(ch, 0, reliable);
    const t0 = now();
    const sent = await sendFor(p.dca, size, secs);
    ch.send({ t: 'E', count: sent });
    const r = await ch.wait('R', 70);
    p.dca.close(); p.a.close();
    if (!r) return { error: 'the receiver did not report' };
    return tpMetrics(reliable, sent, { t0, last: r.last, bytes: r.bytes, msgs: r.msgs, bad: r.bad });
  } finally { await ch.end(); }
}

async function latency2p(want) {
  const ch = startChild('echo', {});
  try {
    const p = await offerToChild(ch, 0, true);
    const r = await latencyRun(p.dca, want, null);
    p.dca.close(); p.a.close();
    return r;
  } finally { await ch.end(); }
}

async function connect2p(n) {
  const ch = startChild('answer', {});
  try {
    const t = [];
    for (let i = 0; i < n; i++) {
      const p = await offerToChild(ch, i, true);
      t.push(p.took);
      p.dca.close(); p.a.close();
    }
    return connectMetrics(t);
  } finally { await ch.end(); }
}

// The server side of n clients in the child: a peer per client index, made when its offer
// (or a candidate) arrives; onChannel(dc) for each incoming channel. Returns { pcs, open }.
function servePeers(ch, n, onChannel) {
  const sv = { pcs: new Array(n).fill(null), open: 0 };
  const get = (idx) => {
    if (sv.pcs[idx]) return sv.pcs[idx];
    const pc = newPc();
    pc.remote = remote(pc);
    pc.onLocalDescription((sdp, type) => ch.send({ t: 'D', idx, sdp, type }));
    pc.onLocalCandidate((cand, mid) => ch.send({ t: 'C', idx, cand, mid }));
    pc.onDataChannel((dc) => { pc.dc = dc; sv.open++; onChannel?.(dc); });
    return (sv.pcs[idx] = pc);
  };
  ch.on('D', (m) => get(m.idx).remote.desc(m.sdp, m.type));
  ch.on('C', (m) => get(m.idx).remote.cand(m.cand, m.mid));
  return sv;
}

// This process is the server (what is measured); the child holds the clients.
async function handshakes(n) {
  const ch = startChild('clients', { n });
  try {
    if (!(await ch.wait('Y', 60))) return { error: 'the clients did not start' };
    const sv = servePeers(ch, n, null);
    const pcs = sv.pcs;
    const t0 = now(), cpu0 = process.cpuUsage();
    ch.send({ t: 'G' });
    const ok = await until(() => sv.open === n, 60, 1);
    const t1 = now(), cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    for (const pc of pcs) if (pc) { pc.dc?.close(); pc.close(); }
    if (!ok) return { error: `${sv.open} of ${n} clients connected` };
    return { m: { hs_per_core_s: n / cpuS, hs_per_s: n / (t1 - t0), server_cpu_s: cpuS, clients: n } };
  } finally { await ch.end(); }
}

// The 20 Hz game tick (zdc-perf's scale case): this process is the server, holding n peers
// that echo every message; the child holds the n clients, each sending a 64-byte message 20
// times a second on an unreliable channel (unordered, maxRetransmits 0) and timing the echo.
// Server CPU per 1,000 peers and per echoed message, the clients' tick round trip, the server's
// RSS delta per connected peer.
const TICK_SIZE = 64, TICK_PERIOD = 0.05;
async function scale(n, secs) {
  const ch = startChild('tickers', { n });
  try {
    if (!(await ch.wait('Y', 60))) return { error: 'the clients did not start' };
    const sv = servePeers(ch, n, (dc) => dc.onMessage((m) => { if (typeof m !== 'string') dc.sendMessageBinary(m); }));
    const pcs = sv.pcs;
    const rss0 = process.memoryUsage().rss;
    ch.send({ t: 'G' });
    const ok = await until(() => sv.open === n, 300, 2);
    if (!ok) {
      for (const pc of pcs) if (pc) { pc.dc?.close(); pc.close(); }
      return { error: `${sv.open} of ${n} peers connected` };
    }
    await sleep(500); // the handshakes' last packets
    const rss1 = process.memoryUsage().rss;
    const t0 = now(), cpu0 = process.cpuUsage();
    ch.send({ t: 'T', secs });
    const r = await ch.wait('R', secs + 120);
    const t1 = now(), cpu = process.cpuUsage(cpu0);
    for (const pc of pcs) if (pc) { pc.dc?.close(); pc.close(); }
    if (!r) return { error: 'the clients did not report' };
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const m = {
      peers: n, cpu_pct_per_1000: (100 * cpuS / (t1 - t0)) * 1000 / n,
      p50_tick_ms: r.p50 * 1e3, p99_tick_ms: r.p99 * 1e3, p999_tick_ms: r.p999 * 1e3,
      rss_kib_per_peer: (rss1 - rss0) / 1024 / n,
      loss_pct: r.sent ? (100 * (r.sent - r.received)) / r.sent : 0,
      bad: r.bad, tick_rate_pct: (100 * r.sent) / ((n * secs) / TICK_PERIOD),
      cpu_us_per_msg: r.received ? (cpuS * 1e6) / r.received : 0,
    };
    if (r.bad) return { error: `${r.bad} echoes failed the check`, m };
    if (!r.received) return { error: 'no echo arrived', m };
    return { m };
  } finally { await ch.end(); }
}

// The clients of the scale case (in the child): n peers offering, then ticking on request.
function tickers(n, send, onMsg) {
  const pcs = [];
  let sent = 0, received = 0, bad = 0;
  const rtt = [];
  onMsg((m) => {
    if (m.t === 'G') {
      for (let i = 0; i < n; i++) {
        const pc = newPc();
        pc.remote = remote(pc);
        pc.onLocalDescription((sdp, type) => send({ t: 'D', idx: i, sdp, type }));
        pc.onLocalCandidate((cand, mid) => send({ t: 'C', idx: i, cand, mid }));
        pc.dc = pc.createDataChannel('perf', channelInit(false));
        pc.dc.onOpen(() => { pc.open = true; });
        pc.dc.onMessage((msg) => {
          const t = now();
          if (typeof msg === 'string' || msg.length !== TICK_SIZE || msg.readUInt32LE(16) !== i) { bad++; return; }
          received++;
          rtt.push(t - msg.readDoubleLE(8));
        });
        pcs.push(pc);
      }
    } else if (m.t === 'D') pcs[m.idx]?.remote.desc(m.sdp, m.type);
    else if (m.t === 'C') pcs[m.idx]?.remote.cand(m.cand, m.mid);
    else if (m.t === 'T') tick(m.secs);
  });
  async function tick(secs) {
    const t0 = now(), end = t0 + secs;
    const next = pcs.map((_, i) => t0 + (TICK_PERIOD * i) / n); // spread over a tick
    const msg = Buffer.alloc(TICK_SIZE);
    while (now() < end) {
      for (let i = 0; i < n; i++) {
        const t = now();
        if (t < next[i] || !pcs[i].open) continue;
        msg.writeUInt32LE(sent % 2 ** 32, 0);
        msg.writeDoubleLE(t, 8);
        msg.writeUInt32LE(i, 16);
        try { pcs[i].dc.sendMessageBinary(msg); sent++; } catch { /* closed */ }
        next[i] += TICK_PERIOD;
      }
      await sleep(1);
    }
    await sleep(300); // the last echoes
    rtt.sort((x, y) => x - y);
    const pct = (q) => (rtt.length ? rtt[Math.min(rtt.length - 1, Math.floor(rtt.length * q))] : 0);
    send({ t: 'R', sent, received, bad, p50: pct(0.5), p99: pct(0.99), p999: pct(0.999) });
  }
  return pcs;
}

// ---- the child ----------------------------------------------------------------------------

async function childMain(role, extra) {
  const send = (m) => process.send(m);
  const peers = new Map();
  let rx = null, expect = -1;
  const answerer = (idx) => {
    if (peers.has(idx)) return peers.get(idx);
    const pc = newPc();
    pc.remote = remote(pc);
    pc.onLocalDescription((sdp, type) => send({ t: 'D', idx, sdp, type }));
    pc.onLocalCandidate((cand, mid) => send({ t: 'C', idx, cand, mid }));
    pc.onDataChannel((dc) => {
      pc.dc = dc;
      send({ t: 'O', idx, at: now() });
      if (role === 'recv') { rx = new Checker(extra.size, extra.reliable); dc.onMessage((m) => rx.take(m)); }
      if (role === 'echo') dc.onMessage((m) => dc.sendMessageBinary(m));
    });
    for (const [k, old] of peers) { old.dc?.close(); old.close(); peers.delete(k); }
    peers.set(idx, pc);
    return pc;
  };
  let quit = false;
  const clients = [];
  let tickHandler = null, tickPcs = [];
  if (role === 'tickers') tickPcs = tickers(extra.n, send, (fn) => { tickHandler = fn; });
  process.on('message', async (m) => {
    if (m.t === 'Q') { quit = true; return; }
    if (tickHandler) { tickHandler(m); return; }
    if (role === 'clients') {
      if (m.t === 'G') {
        for (let i = 0; i < extra.n; i++) {
          const pc = newPc();
          pc.remote = remote(pc);
          pc.onLocalDescription((sdp, type) => send({ t: 'D', idx: i, sdp, type }));
          pc.onLocalCandidate((cand, mid) => send({ t: 'C', idx: i, cand, mid }));
          pc.dc = pc.createDataChannel('perf', {});
          clients.push(pc);
        }
      } else if (m.t === 'D') clients[m.idx]?.remote.desc(m.sdp, m.type);
      else if (m.t === 'C') clients[m.idx]?.remote.cand(m.cand, m.mid);
      return;
    }
    if (m.t === 'D') answerer(m.idx).remote.desc(m.sdp, m.type);
    else if (m.t === 'C') (peers.get(m.idx) ?? answerer(m.idx)).remote.cand(m.cand, m.mid);
    else if (m.t === 'E') expect = m.count;
  });
  if (role === 'clients' || role === 'tickers') send({ t: 'Y' });
  const deadline = now() + 600;
  let lastMsgs = 0, lastAt = now();
  while (!quit && now() < deadline) {
    await sleep(expect >= 0 ? 2 : 20);
    if (rx && rx.msgs !== lastMsgs) { lastMsgs = rx.msgs; lastAt = now(); }
    if (expect >= 0 && rx && (rx.msgs >= expect || now() - lastAt > (extra.reliable ? 5 : 0.3))) {
      send({ t: 'R', msgs: rx.msgs, bytes: rx.bytes, bad: rx.bad, last: rx.last });
      expect = -1;
    }
  }
  for (const pc of [...peers.values(), ...clients, ...tickPcs]) { pc.dc?.close(); pc.close(); }
  // no ndc.cleanup(): see main()
  process.exit(0);
}

// ---- main ---------------------------------------------------------------------------------

const cases = {
  'tp-rel-65536-1p': (o) => throughput1p(65536, true, o.secs),
  'tp-rel-16384-1p': (o) => throughput1p(16384, true, o.secs),
  'tp-rel-1024-1p': (o) => throughput1p(1024, true, o.secs),
  'tp-unrel-1024-1p': (o) => throughput1p(1024, false, o.secs),
  'tp-unrel-100-1p': (o) => throughput1p(100, false, o.secs),
  'tp-rel-65536-2p': (o) => throughput2p(65536, true, o.secs),
  'tp-rel-16384-2p': (o) => throughput2p(16384, true, o.secs),
  'tp-rel-1024-2p': (o) => throughput2p(1024, true, o.secs),
  'tp-unrel-1024-2p': (o) => throughput2p(1024, false, o.secs),
  'tp-unrel-100-2p': (o) => throughput2p(100, false, o.secs),
  'rtt-100-1p': (o) => latency1p(o.rtt),
  'rtt-100-2p': (o) => latency2p(o.rtt),
  'connect-1p': (o) => connect1p(o.connects),
  'connect-2p': (o) => connect2p(o.connects),
  handshakes: (o) => handshakes(o.clients),
  'scale-20hz': (o) => scale(o.scalePeers, o.scaleSecs),
};

async function main() {
  const opts = { secs: Number(arg('--secs', '1')), rtt: Number(arg('--rtt', '100000')),
                 connects: Number(arg('--connects', '20')), clients: Number(arg('--clients', '200')),
                 scalePeers: Number(arg('--scale-peers', '1000')), scaleSecs: Number(arg('--scale-secs', '5')) };
  const watchdog = setTimeout(() => { out({ error: 'reference watchdog: 14 minutes' }); process.exit(3); }, 14 * 60e3);
  watchdog.unref();
  const lib = typeof ndc.getLibraryVersion === 'function' ? ndc.getLibraryVersion() : '?';
  let ndcVersion = '?';
  for (const b of [here, path.join(here, '..', 'test', 'interop')]) {
    try {
      ndcVersion = JSON.parse(readFileSync(path.join(b, 'node_modules', 'node-datachannel', 'package.json'))).version;
      break;
    } catch { /* next */ }
  }
  out({ reference: `libdatachannel ${lib} (node-datachannel ${ndcVersion}, node ${process.version})` });
  for (const id of arg('--cases', '').split(',').filter(Boolean)) {
    const fn = cases[id];
    if (!fn) { out({ id, ok: false, error: 'no such case in the reference' }); continue; }
    try {
      const r = await fn(opts);
      if (r.error) out({ id, ok: false, error: r.error, metrics: r.m ?? {} });
      else out({ id, ok: true, metrics: r.m });
    } catch (e) {
      out({ id, ok: false, error: String(e?.message ?? e) });
    }
  }
  // No ndc.cleanup(): with channels just closed it can trip a node-api assertion (a
  // thread-safe function released twice); process.exit ends libdatachannel's threads anyway.
  process.exit(0);
}

if (process.argv[2] === '--child') childMain(process.argv[3], JSON.parse(process.argv[4] || '{}'));
else main();
