#!/usr/bin/env node
// zdc-server with many clients (issue 13's 200-client scenario): CPU and memory per client.
//
// Starts zdc-server (20 Hz tick: a reliable "tick" and an unreliable "state" message to every
// player), connects N libdatachannel clients (node-datachannel, perf/package-lock.json) by its
// WHIP-shaped POST /whip, each sending one reliable message per tick; then measures zdc-server
// alone over a steady window: CPU time from /proc/<pid>/stat (user + system), resident memory
// from /proc/<pid>/status (VmRSS, before any client and with all of them). Checks that every
// client got its ticks and that the server counted every message (no loss on reliable channels).
// The clients run in --procs node processes (default: one per 100 clients; one process
// running 200 libdatachannel clients falls behind on a loaded 2-core machine); their CPU is
// not counted.
//
// Usage: node perf/game-server-scale.mjs --server build/release/zdc-server [--clients 200]
//            [--seconds 10] [--procs K] [--json out.json]
// Loopback only (127.0.0.1). Exit 0 when every client connected and nothing was lost.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import nodeDataChannel from 'node-datachannel';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const serverPath = opt('--server', 'build/release/zdc-server');
const N = Number(opt('--clients', 200));
const seconds = Number(opt('--seconds', 10));
const jsonOut = opt('--json', null);
const procs = Number(opt('--procs', Math.max(1, Math.ceil(N / 100))));
const childUrl = opt('--child', null); // internal: a client process, given the server's URL
const firstId = Number(opt('--first', 0));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => console.log(`[game-server-scale] ${s}`);
nodeDataChannel.initLogger('Error', () => {});

let url = childUrl;

async function client(i) {
  const pc = new nodeDataChannel.PeerConnection(`c${i}`, { iceServers: [], disableAutoNegotiation: true });
  const c = { id: i, pc, ticks: 0, last: 0, gaps: 0, sent: 0, result: -1, open: false };
  const gathered = new Promise((r) => pc.onGatheringStateChange((s) => { if (s === 'complete') r(); }));
  const rel = pc.createDataChannel('reliable');
  pc.createDataChannel('unreliable', { unordered: true, maxRetransmits: 0 });
  c.rel = rel;
  const opened = new Promise((r) => rel.onOpen(() => { c.open = true; r(); }));
  rel.onMessage((m) => {
    const s = typeof m === 'string' ? m : Buffer.from(m).toString();
    if (s.startsWith('tick ')) {
      const n = Number(s.slice(5));
      if (c.last && n !== c.last + 1) c.gaps++;
      c.last = n;
      c.ticks++;
    } else if (s.startsWith('result ')) c.result = Number(s.slice(7));
  });
  pc.setLocalDescription('offer');
  await gathered;
  const offer = pc.localDescription();
  const res = await fetch(new URL('/whip', url), { method: 'POST', body: offer.sdp,
    headers: { 'content-type': 'application/sdp' } });
  if (res.status !== 201) throw new Error(`client ${i}: HTTP ${res.status}`);
  pc.setRemoteDescription(await res.text(), 'answer');
  await Promise.race([opened, sleep(30000)]);
  return c;
}


// ---- a client process: connect its share, send one reliable message per tick until the
// parent writes "stop", then "done <n>" and wait for the server's counts; report as JSON.
if (childUrl) {
  const clients = [];
  for (let i = 0; i < N; i += 20) { // in waves of 20
    clients.push(...await Promise.all(Array.from({ length: Math.min(20, N - i) },
      (_, k) => client(firstId + i + k))));
  }
  const stuck = clients.filter((c) => !c.open)
    .map((c) => `${c.id}: connection ${c.pc.state()}, ICE ${c.pc.iceState()}, gathering ${c.pc.gatheringState()}`);
  console.log(JSON.stringify({ connected: clients.filter((c) => c.open).length, stuck }));
  const sender = setInterval(() => {
    for (const c of clients) if (c.open) c.rel.sendMessage(`in ${++c.sent}`);
  }, 50);
  await new Promise((r) => readline.createInterface({ input: process.stdin })
    .on('line', (l) => { if (l === 'stop') r(); }));
  clearInterval(sender);
  for (const c of clients) if (c.open) c.rel.sendMessage(`done ${c.sent}`);
  const tEnd = Date.now() + 90000;
  while (clients.some((c) => c.open && c.result < 0) && Date.now() < tEnd) await sleep(100);
  console.log(JSON.stringify({
    final: true, connected: clients.filter((c) => c.open).length,
    sent: clients.reduce((x, c) => x + c.sent, 0),
    lost: clients.filter((c) => c.open && c.result !== c.sent).length,
    gaps: clients.reduce((x, c) => x + c.gaps, 0),
  }));
  for (const c of clients) c.pc.close();
  process.exit(0);
}

const srv = spawn(serverPath, ['--bind', '127.0.0.1', '--loopback', '--tick-hz', '20',
  '--max-players', String(N + 10)], { stdio: ['ignore', 'pipe', 'inherit'] });
const lines = [];
const started = new Promise((resolve) => {
  readline.createInterface({ input: srv.stdout }).on('line', (l) => {
    lines.push(l);
    if (l.startsWith('http ')) { url = l.slice(5); resolve(); }
  });
});
await Promise.race([started, sleep(10000)]);
if (!url) { log('zdc-server did not start'); process.exit(1); }

const proc = (pid) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // utime + stime, clock ticks (USER_HZ = 100)
  const rss = Number((fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/) || [])[1]);
  return { cpu_s: ticks / 100, rss_kib: rss };
};
const idle = proc(srv.pid);

// The client processes, each with its share of the clients.
const t0 = Date.now();
const kids = [];
for (let k = 0, first = 0; k < procs; k++) {
  const n = Math.floor(N / procs) + (k < N % procs ? 1 : 0);
  const child = spawn(process.execPath, [process.argv[1], '--child', url, '--clients', String(n),
    '--first', String(first)], { stdio: ['pipe', 'pipe', 'inherit'] });
  first += n;
  const kid = { child, n, msgs: [] };
  kid.next = () => new Promise((r) => { kid.wait = r; });
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    try { kid.msgs.push(JSON.parse(l)); if (kid.wait) { const w = kid.wait; kid.wait = null; w(); } } catch { /* not ours */ }
  });
  kids.push(kid);
}
const until = async (kid, pred, ms) => {
  const end = Date.now() + ms;
  while (!kid.msgs.some(pred) && Date.now() < end) await Promise.race([kid.next(), sleep(500)]);
  return kid.msgs.find(pred);
};
const conn = await Promise.all(kids.map((k) => until(k, (m) => 'connected' in m && !m.final, 600000)));
const connectS = (Date.now() - t0) / 1000;
const connected = conn.reduce((x, m) => x + (m ? m.connected : 0), 0);
log(`${connected}/${N} clients connected in ${connectS.toFixed(1)} s (${procs} client processes)`);
for (const m of conn) for (const st of (m && m.stuck) || []) log(`not connected after 30 s: client ${st}`);

await sleep(1000);
const a = proc(srv.pid);
const ta = Date.now();
await sleep(seconds * 1000);
const b = proc(srv.pid);
const tb = Date.now();
for (const k of kids) k.child.stdin.write('stop\n');
const fin = await Promise.all(kids.map((k) => until(k, (m) => m.final, 120000)));
for (const k of kids) k.child.kill('SIGTERM');

const wall = (tb - ta) / 1000;
const cpuPct = (100 * (b.cpu_s - a.cpu_s)) / wall;
const lost = fin.reduce((x, m) => x + (m ? m.lost : 0), 0);
const gaps = fin.reduce((x, m) => x + (m ? m.gaps : 0), 0);
const missing = fin.filter((m) => !m).length;
const out = {
  clients: N, client_processes: procs, connected, connect_s: connectS, window_s: wall,
  server_cpu_percent_of_one_core: cpuPct,
  server_cpu_percent_per_1000_clients: (cpuPct * 1000) / connected,
  server_cpu_us_per_client_per_tick: ((b.cpu_s - a.cpu_s) * 1e6) / (connected * wall * 20),
  server_rss_idle_kib: idle.rss_kib, server_rss_kib: b.rss_kib,
  server_rss_per_client_kib: (b.rss_kib - idle.rss_kib) / connected,
  reliable_messages_to_server: fin.reduce((x, m) => x + (m ? m.sent : 0), 0),
  clients_with_loss: lost, tick_gaps: gaps, client_processes_without_report: missing,
};
srv.kill('SIGTERM');
await new Promise((r) => srv.on('exit', r));
log(JSON.stringify(out));
log(`server: ${cpuPct.toFixed(1)} % of one core for ${connected} clients at 20 Hz ` +
  `(${out.server_cpu_us_per_client_per_tick.toFixed(1)} us per client per tick), ` +
  `RSS ${(b.rss_kib / 1024).toFixed(1)} MiB (${out.server_rss_per_client_kib.toFixed(0)} KiB per client); ` +
  `${lost} clients with a lost reliable message, ${gaps} tick gaps; ${lines.find((l) => l.startsWith('summary')) || ''}`);
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(out, null, 2) + '\n');

process.exit(connected === N && lost === 0 && gaps === 0 && missing === 0 ? 0 : 1);
