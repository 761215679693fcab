#!/usr/bin/env node
// A zdc-peer-protocol peer that is a real browser: Debian's Chromium, headless, driven by
// Playwright (playwright-core; no browser download). The page runs peer-core.mjs on the
// browser's own RTCPeerConnection; this process bridges stdin/stdout to it.
//
//   node peer-chromium.mjs [--mdns] <zdc-peer options>
// Without --mdns, Chromium is told to use loopback candidates (variant 1). With --mdns it keeps
// Chrome's defaults, hiding host addresses behind .local names (variant 2).
// When the connection is up, the page's getStats() selected candidate pair and DTLS cipher are
// logged to stderr.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
let args = process.argv.slice(2);
const mdns = args.includes('--mdns');
args = args.filter((a) => a !== '--mdns');
const log = (s) => process.stderr.write(`[chromium] ${s}\n`);

const page_html = `<!doctype html><meta charset="utf-8"><title>zdc interop peer</title>
<script type="module">
import { runPeer } from './peer-core.mjs';
window.startPeer = (args) => {
  const peer = runPeer({
    args, RTCPeerConnection,
    out: (line) => window.zdcOut(line),
    log: (text) => window.zdcLog(text),
    exit: (code) => window.zdcExit(code),
    onConnected: async (pc) => {
      const stats = await pc.getStats();
      let pair = null, transport = null;
      stats.forEach((s) => { if (s.type === 'transport') transport = s; });
      if (transport && transport.selectedCandidatePairId) pair = stats.get(transport.selectedCandidatePairId);
      const cand = (id) => { const c = stats.get(id); return c ? c.candidateType + ' ' + c.protocol + ' ' + c.address + ':' + c.port : '?'; };
      window.zdcLog('getStats: selected pair ' + (pair ? cand(pair.localCandidateId) + ' <-> ' + cand(pair.remoteCandidateId) : 'none') +
        '; DTLS ' + (transport ? transport.tlsVersion + ' ' + transport.dtlsCipher + ' (' + transport.dtlsRole + '), SRTP profile ' + transport.srtpCipher : '?'));
    },
  });
  window.zdcInput = (line) => peer.input(line);
  window.zdcEof = () => peer.eof();
};
window.zdcReady = true;
</script>`;

const server = http.createServer((req, res) => {
  if (req.url === '/' || req.url === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page_html);
  } else if (req.url === '/peer-core.mjs') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(fs.readFileSync(path.join(here, 'peer-core.mjs')));
  } else if (req.url === '/favicon.ico') {
    res.writeHead(204);
    res.end();
  } else {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const flags = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
if (!mdns) {
  // Chromium honours only the last --disable-features: every feature goes in this one.
  flags.push('--allow-loopback-in-peer-connection', '--use-fake-ui-for-media-stream',
    '--disable-features=WebRtcHideLocalIpsWithMdns');
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: flags,
  headless: true, timeout: 60000 });
let exiting = false;
async function exit(code) {
  if (exiting) return;
  exiting = true;
  setTimeout(() => process.exit(code), 3000).unref();  // never hang on teardown
  try { await browser.close(); } catch (e) { /* already gone */ }
  server.close();
  process.exit(code);
}
const page = await browser.newPage();
page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => log(`page error: ${e.message}`));
await page.exposeFunction('zdcOut', (line) => process.stdout.write(line + '\n'));
await page.exposeFunction('zdcLog', (text) => log(text));
await page.exposeFunction('zdcExit', (code) => { setTimeout(() => exit(code), 50); });
await page.goto(url);
await page.waitForFunction(() => window.zdcReady === true);
log(`${await browser.version()} ready (${mdns ? 'mDNS host candidates' : 'loopback candidates'})`);

// Lines are handed to the page strictly in order.
let chain = page.evaluate((a) => window.startPeer(a), args);
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => { chain = chain.then(() => page.evaluate((l) => window.zdcInput(l), line)).catch(() => {}); });
rl.on('close', () => { chain = chain.then(() => page.evaluate(() => window.zdcEof())).catch(() => {}); });
