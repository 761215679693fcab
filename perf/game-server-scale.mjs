#!/usr/bin/env node
// zdc-server with many clients (issue 13's 200-client scenario): CPU and memory per client.
//
// Starts zdc-server (20 Hz tick: a reliable "tick" and an unreliable "state" message to every
// player), connects N libdatachannel clients (node-datachannel, perf/package-lock.json) by its
// WHIP-shaped POST /whip, each sending one reliable message per tick; then measures zdc-server
// alone over a steady window: CPU time from /proc/<pid>/stat (user + system), resident memory
// from /proc/<pid>/status (VmRSS, before any client and with all of them). Checks that every
// client got its ticks and that the server counted every message (no loss on reliable channels).
// The clients' own CPU is not counted (they run in this node process).
//
// Usage: node perf/game-server-scale.mjs --server build/release/zdc-server [--clients 200]
//            [--seconds 10] [--json out.json]
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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => console.log(`[game-server-scale] ${s}`);
nodeDataChannel.initLogger('Error', () => {});

const srv = spawn(serverPath, ['--bind', '127.0.0.1', '--loopback', '--tick-hz', '20',
  '--max-players', String(N + 10)], { stdio: ['ignore', 'pipe', 'inherit'] });
const lines = [];
let url;
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

async function client(i) {
  const pc = new nodeDataChannel.PeerConnection(`c${i}`, { iceServers: [], disableAutoNegotiation: true });
  const c = { pc, ticks: 0, last: 0, gaps: 0, sent: 0, result: -1, open: false };
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

const t0 = Date.now();
const clients = [];
for (let i = 0; i < N; i += 20) { // in waves of 20
  clients.push(...await Promise.all(Array.from({ length: Math.min(20, N - i) }, (_, k) => client(i + k))));
}
const connectS = (Date.now() - t0) / 1000;
const connected = clients.filter((c) => c.open).length;
log(`${connected}/${N} clients connected in ${connectS.toFixed(1)} s`);

// Steady state: every client sends one reliable message per tick.
const sender = setInterval(() => {
  for (const c of clients) if (c.open) { c.rel.sendMessage(`in ${++c.sent}`); }
}, 50);
await sleep(1000);
const a = proc(srv.pid);
const ta = Date.now();
await sleep(seconds * 1000);
const b = proc(srv.pid);
const tb = Date.now();
clearInterval(sender);
for (const c of clients) if (c.open) c.rel.sendMessage(`done ${c.sent}`);
const tEnd = Date.now() + 90000; // the clients (one node process) may lag far behind under load
while (clients.some((c) => c.open && c.result < 0) && Date.now() < tEnd) await sleep(100);

const wall = (tb - ta) / 1000;
const cpuPct = (100 * (b.cpu_s - a.cpu_s)) / wall;
const lost = clients.filter((c) => c.open && c.result !== c.sent).length;
const gaps = clients.reduce((x, c) => x + c.gaps, 0);
const out = {
  clients: N, connected, connect_s: connectS, window_s: wall,
  server_cpu_percent_of_one_core: cpuPct,
  server_cpu_percent_per_1000_clients: (cpuPct * 1000) / connected,
  server_cpu_us_per_client_per_tick: ((b.cpu_s - a.cpu_s) * 1e6) / (connected * wall * 20),
  server_rss_idle_kib: idle.rss_kib, server_rss_kib: b.rss_kib,
  server_rss_per_client_kib: (b.rss_kib - idle.rss_kib) / connected,
  reliable_messages_to_server: clients.reduce((x, c) => x + c.sent, 0),
  clients_with_loss: lost, tick_gaps: gaps,
};
for (const c of clients) c.pc.close();
srv.kill('SIGTERM');
await new Promise((r) => srv.on('exit', r));
log(JSON.stringify(out));
log(`server: ${cpuPct.toFixed(1)} % of one core for ${connected} clients at 20 Hz ` +
  `(${out.server_cpu_us_per_client_per_tick.toFixed(1)} us per client per tick), ` +
  `RSS ${(b.rss_kib / 1024).toFixed(1)} MiB (${out.server_rss_per_client_kib.toFixed(0)} KiB per client); ` +
  `${lost} clients with a lost reliable message, ${gaps} tick gaps; ${lines.find((l) => l.startsWith('summary')) || ''}`);
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(out, null, 2) + '\n');

process.exit(connected === N && lost === 0 && gaps === 0 ? 0 : 1);
