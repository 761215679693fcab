#!/usr/bin/env node
// One headless Firefox ESR (Debian's firefox-esr) serving many interop cases, one at a time.
// Playwright cannot drive Debian's Firefox, so a page served from http://127.0.0.1 does the
// WebRTC work (peer-core.mjs on Firefox's own RTCPeerConnection) and talks to this host over
// plain HTTP: it long-polls for a case, long-polls for that case's signaling lines, and posts its
// output, log and exit code. A case is started by peer-firefox.mjs (the program the relay runs),
// which streams the case's output back. After each case the page reloads itself, so every case
// gets a fresh page and a fresh RTCPeerConnection; Firefox starts only once (it takes seconds).
//
//   node firefox-host.mjs     prints "firefox-host ready PORT" once the page is waiting, then
//                             serves until stdin ends or it gets SIGTERM; Firefox's own output
//                             goes to stderr.
// The profile is fresh (a temporary directory, deleted at exit) with user.js setting
// media.peerconnection.ice.loopback=true and media.peerconnection.ice.obfuscate_host_addresses=
// false. Run it inside the case's network namespace (run.mjs does): Firefox there gathers only
// on the interface of the default route, so the namespace needs the veth pair (netns.sh --veth).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const firefoxBin = process.env.FIREFOX || '/usr/bin/firefox-esr';
const log = (s) => process.stderr.write(`[firefox-host] ${s}\n`);

const pageHtml = `<!doctype html><meta charset="utf-8"><title>zdc interop peer (Firefox)</title>
<script type="module">
import { runPeer } from './peer-core.mjs';
let chain = Promise.resolve();
const post = (p, body) => { chain = chain.then(() => fetch(p, { method: 'POST', body })).catch(() => {}); return chain; };
async function main() {
  const job = await (await fetch('/job')).json();
  const id = job.id;
  const peer = runPeer({
    args: job.args, RTCPeerConnection,
    out: (line) => post('/out/' + id, line),
    log: (text) => post('/log/' + id, text),
    exit: (code) => { post('/exit/' + id, String(code)).then(() => location.reload()); },
    onConnected: async (pc) => {
      const stats = await pc.getStats();
      let pair = null, transport = null;
      stats.forEach((s) => { if (s.type === 'transport') transport = s; });
      if (transport && transport.selectedCandidatePairId) pair = stats.get(transport.selectedCandidatePairId);
      if (!pair) stats.forEach((s) => { if (s.type === 'candidate-pair' && s.selected) pair = s; });
      const cand = (cid) => { const c = stats.get(cid); return c ? c.candidateType + ' ' + c.protocol + ' ' + c.address + ':' + c.port : '?'; };
      // tlsVersion is the DTLS version's wire value in hex: FEFD = DTLS 1.2, FEFC = DTLS 1.3.
      const ver = transport ? ({ FEFD: 'DTLS 1.2', FEFC: 'DTLS 1.3' }[transport.tlsVersion] || transport.tlsVersion) : '?';
      post('/log/' + id, 'getStats: selected pair ' + (pair ? cand(pair.localCandidateId) + ' <-> ' + cand(pair.remoteCandidateId) : 'none') +
        '; ' + (transport ? ver + ' ' + transport.dtlsCipher + ' (' + transport.dtlsRole + '), SRTP profile ' + transport.srtpCipher : '?') +
        '; ' + navigator.userAgent.replace(/.* /, ''));
    },
  });
  for (;;) {
    const r = await (await fetch('/in/' + id)).json();
    for (const l of r.lines) peer.input(l);
    if (r.abort) { location.reload(); return; }
    if (r.eof) { peer.eof(); return; }
  }
}
main().catch((e) => { post('/error', String(e && e.stack || e)).then(() => setTimeout(() => location.reload(), 500)); });
</script>`;

let nextId = 1;
const jobs = [];        // cases waiting for the page
let pageWaiter = null;  // the page's pending GET /job
const cases = new Map(); // id -> { stream, inbox, eof, abort, inWaiter }

function giveJob() {
  if (!pageWaiter || !jobs.length) return;
  const job = jobs.shift();
  pageWaiter.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  pageWaiter.end(JSON.stringify(job));
  pageWaiter = null;
}

function flushIn(c) {
  if (!c.inWaiter || (!c.inbox.length && !c.eof && !c.abort)) return;
  const res = c.inWaiter;
  c.inWaiter = null;
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ lines: c.inbox.splice(0), eof: c.eof, abort: c.abort }));
}

const body = (req) => new Promise((resolve) => {
  let b = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { b += d; });
  req.on('end', () => resolve(b));
});

let readyPrinted = false;
const server = http.createServer(async (req, res) => {
  const [, what, idText] = req.url.split('/');
  const c = cases.get(Number(idText));
  if (req.method === 'GET' && (what === '' || what === 'index.html')) {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
    res.end(pageHtml);
  } else if (req.method === 'GET' && what === 'peer-core.mjs') {
    res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
    res.end(fs.readFileSync(path.join(here, 'peer-core.mjs')));
  } else if (req.method === 'GET' && what === 'job') {
    if (pageWaiter) pageWaiter.destroy();
    pageWaiter = res;
    if (!readyPrinted) { readyPrinted = true; process.stdout.write(`firefox-host ready ${server.address().port}\n`); }
    giveJob();
  } else if (req.method === 'POST' && what === 'case') {
    // From peer-firefox.mjs: the body is the JSON argument list; the answer streams
    // "I id", then "O line" / "L text" lines, then "X code".
    const args = JSON.parse(await body(req));
    const id = nextId++;
    const k = { stream: res, inbox: [], eof: false, abort: false, inWaiter: null, done: false };
    cases.set(id, k);
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.write(`I ${id}\n`);
    res.on('close', () => { if (!k.done) { k.abort = true; flushIn(k); } });
    jobs.push({ id, args });
    giveJob();
  } else if (req.method === 'POST' && (what === 'in' || what === 'eof') && c) {
    const b = await body(req);
    if (what === 'in') c.inbox.push(b); else c.eof = true;
    flushIn(c);
    res.end();
  } else if (req.method === 'GET' && what === 'in' && c) {
    if (c.inWaiter) c.inWaiter.destroy();
    c.inWaiter = res;
    flushIn(c);
  } else if (req.method === 'POST' && ['out', 'log', 'exit'].includes(what) && c) {
    const b = await body(req);
    if (!c.done) {
      if (what === 'exit') { c.done = true; c.stream.end(`X ${b}\n`); }
      else for (const l of b.split('\n')) c.stream.write(`${what === 'out' ? 'O' : 'L'} ${l}\n`);
    }
    res.end();
  } else if (req.method === 'POST' && what === 'error') {
    log(`page error: ${await body(req)}`);
    res.end();
  } else {
    res.writeHead(req.url === '/favicon.ico' ? 204 : 404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'zdc-firefox-'));
fs.writeFileSync(path.join(profile, 'user.js'), [
  'user_pref("media.peerconnection.ice.loopback", true);',
  'user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);',
  // Quiet and quick: no first-run pages, updates, telemetry or session restore.
  'user_pref("browser.shell.checkDefaultBrowser", false);',
  'user_pref("browser.startup.homepage_override.mstone", "ignore");',
  'user_pref("app.update.enabled", false);',
  'user_pref("datareporting.policy.dataSubmissionEnabled", false);',
  'user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);',
  'user_pref("browser.sessionstore.resume_from_crash", false);',
  // A page that is not focused must still run its timers at full rate.
  'user_pref("dom.min_background_timeout_value", 4);',
  '',
].join('\n'));
const url = `http://127.0.0.1:${server.address().port}/`;
const ff = spawn(firefoxBin, ['--headless', '--no-remote', '--profile', profile, url],
  { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
ff.stderr.on('data', () => {});  // its GFX and sandbox chatter
let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  try { process.kill(-ff.pid, 'SIGKILL'); } catch (e) { /* gone */ }
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(code);
}
ff.on('exit', (code, sig) => { log(`firefox exited (${code ?? sig})`); stop(1); });
ff.on('error', (e) => { log(`cannot start ${firefoxBin}: ${e.message}`); stop(1); });
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
process.stdin.on('end', () => stop(0));
process.stdin.resume();
setTimeout(() => { if (!readyPrinted) { log('the page did not come up within 90 s'); stop(1); } }, 90000);
