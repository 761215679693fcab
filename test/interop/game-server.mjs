#!/usr/bin/env node
// zdc-server against headless Chromium: N browser tabs (default 20) load the server's own
// client page (server/www/index.html?test=S), connect by one HTTP POST each (non-trickle,
// WHIP-shaped), then the server ticks at 20 Hz on every player's reliable channel while each
// tab sends S x 20 messages "in <k>" at 20 Hz; each tab ends with "done <k>" and must get
// "result <k>" back. Checked: every tab connected and sent all of them; its reliable ticks
// arrived in order with no gap, at least half as many as it sent messages (both run at 20 Hz);
// the server counted exactly the messages each tab sent; the server's summary agrees. Run inside a network namespace (netns.sh) by ctest.
//
// Usage: node game-server.mjs --server PATH [--clients 20] [--seconds 3]
// Exit: 0 pass, 1 fail, 77 skipped (no Chromium).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const serverPath = opt('--server');
const clients = Number(opt('--clients', 20));
const seconds = Number(opt('--seconds', 3));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!serverPath) { console.error('game-server: --server PATH is required'); process.exit(2); }
if (!fs.existsSync(chromiumPath)) { console.log(`SKIP game-server: no Chromium at ${chromiumPath}`); process.exit(77); }
let chromium;
try { ({ chromium } = await import('playwright-core')); } catch (e) {
  console.log('SKIP game-server: playwright-core missing (npm ci in test/interop)'); process.exit(77);
}

const log = (s) => console.log(`[game-server] ${s}`);
let srv = null;
let progress = null; // the tabs' state, for a failure report
const fail = async (why) => {
  log(`FAIL: ${why}`);
  if (progress) log(`tabs: ${await Promise.race([progress(), new Promise((r) => setTimeout(() => r('?'), 5000))])}`);
  console.log('game-server: FAIL');
  if (srv) srv.kill('SIGKILL');
  process.exit(1);
};
// A hung browser or server never holds the test past this (ctest's timeout is 180 s).
setTimeout(() => fail('timed out'), (seconds + 140) * 1000);
process.on('unhandledRejection', (e) => fail(String(e && e.stack || e)));

// The server: loopback, any ports; its first line names the HTTP URL.
srv = spawn(serverPath, ['--bind', '127.0.0.1', '--loopback', '--tick-hz', '20'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const lines = [];
const rl = readline.createInterface({ input: srv.stdout });
let urlResolve;
const urlReady = new Promise((r) => { urlResolve = r; });
rl.on('line', (l) => {
  lines.push(l);
  if (l.startsWith('http ')) urlResolve(l.slice(5));
});
srv.on('exit', (code) => { if (!stopping) { log(`FAIL: zdc-server exited (${code})`); process.exit(1); } });
let stopping = false;
const url = await Promise.race([urlReady, new Promise((r) => setTimeout(() => r(null), 10000))]);
if (!url) { log('FAIL: zdc-server did not start'); process.exit(1); }
log(`server at ${url}`);

const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, timeout: 60000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic', '--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns', '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'] });
const ctx = await browser.newContext();
const t0 = Date.now();
const pages = [];
for (let i = 0; i < clients; i++) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => log(`tab ${i}: page error ${e}`));
  pages.push(page);
}
// One tab after another: twenty page loads at once on a busy 2-core machine can take long.
for (const p of pages) await p.goto(`${url}?test=${seconds}`, { waitUntil: 'domcontentloaded', timeout: 60000 });
log(`${clients} tabs loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
progress = async () => {
  const st = await Promise.all(pages.map((p) => p.evaluate(() => window.zdcResult).catch(() => null)));
  const n = (f) => st.filter((r) => r && f(r)).length;
  return `${n((r) => r.connected)} connected, ${n((r) => r.finished)} finished, ` +
    `${n((r) => r.error)} with an error (${(st.find((r) => r && r.error) || {}).error || '-'})`;
};
const results = await Promise.all(pages.map(async (p) => {
  await p.waitForFunction(() => window.zdcResult && window.zdcResult.finished, null,
    { timeout: (seconds + 60) * 1000, polling: 200 });
  return p.evaluate(() => window.zdcResult);
}));
log(`${clients} tabs done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
await browser.close();
stopping = true;
srv.kill('SIGTERM');
await new Promise((r) => srv.on('exit', r));

let failures = 0;
const minTicks = Math.floor(seconds * 20 * 0.5);
results.forEach((r, i) => {
  const why = [];
  if (!r.connected) why.push(`not connected (${r.error})`);
  if (r.gaps) why.push(`${r.gaps} gaps in the reliable ticks`);
  if (r.ticks < minTicks) why.push(`${r.ticks} ticks < ${minTicks}`);
  if (r.sent !== seconds * 20) why.push(`sent ${r.sent} of ${seconds * 20}`);
  if (r.result !== r.sent) why.push(`server counted ${r.result} of ${r.sent} messages`);
  if (why.length) { failures++; log(`tab ${i}: FAIL ${why.join('; ')}`); }
});
const summary = lines.find((l) => l.startsWith('summary ')) || '';
const num = (k) => Number((summary.match(new RegExp(`${k}=(\\d+)`)) || [])[1]);
const sentTotal = results.reduce((a, r) => a + r.sent, 0);
const ticks = results.reduce((a, r) => a + r.ticks, 0);
if (num('players') !== clients) { failures++; log(`FAIL server summary: players=${num('players')}, want ${clients}`); }
if (num('in') !== sentTotal) { failures++; log(`FAIL server summary: in=${num('in')}, tabs sent ${sentTotal}`); }
const joins = lines.filter((l) => l.startsWith('join '));
const addressed = joins.filter((l) => /^join \d+ from [0-9a-fA-F.:]+$/.test(l));
if (joins.length !== clients || addressed.length !== clients) {
  failures++; log(`FAIL server join lines: ${joins.length} joins, ${addressed.length} with the player's address (zdc_peer_get_remote_address)`);
}
if (num('results') !== clients) { failures++; log(`FAIL server summary: results=${num('results')}`); }
log(`${clients - results.filter((r) => r.result !== r.sent || !r.connected || r.gaps).length}/${clients} clients ` +
  `passed: ${sentTotal} reliable messages to the server and ${ticks} reliable ticks to the clients, ` +
  `none lost; ${results.reduce((a, r) => a + r.unreliable, 0)} unreliable state messages; server: ${summary}`);
console.log(failures ? "game-server: FAIL" : "game-server: PASS");
process.exit(failures ? 1 : 0);
