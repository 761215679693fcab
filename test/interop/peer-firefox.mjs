#!/usr/bin/env node
// A zdc-peer-protocol peer that is a real Firefox ESR: hands the case to a running
// firefox-host.mjs (one headless Firefox whose page runs peer-core.mjs) and bridges
// stdin/stdout to it. Usage as zdc-peer (shared/PEER_PROTOCOL.md), plus where the host is:
//
//   node peer-firefox.mjs [--host 127.0.0.1:PORT] <zdc-peer options>   (or $ZDC_FIREFOX_HOST)
// Firefox's getStats() view (selected pair, DTLS version and cipher, SRTP profile) is logged to
// stderr once connected.
import http from 'node:http';
import readline from 'node:readline';

let args = process.argv.slice(2);
let host = process.env.ZDC_FIREFOX_HOST || '';
const i = args.indexOf('--host');
if (i >= 0) { host = args[i + 1]; args.splice(i, 2); }
const log = (s) => process.stderr.write(`[firefox] ${s}\n`);
if (!/^[\d.]+:\d+$/.test(host)) {
  log('no firefox-host.mjs to talk to (--host ADDR:PORT or ZDC_FIREFOX_HOST)');
  process.exit(1);
}
const [hostname, port] = host.split(':');

const request = (method, p, data) => new Promise((resolve, reject) => {
  const req = http.request({ hostname, port, method, path: p, agent: false }, resolve);
  req.on('error', reject);
  req.end(data);
});
const drain = (res) => new Promise((r) => { res.resume(); res.on('end', r); });

let id = null, exited = false;
const pending = [];  // stdin lines that arrived before the host named the case
let chain = Promise.resolve();
const forward = (what, line) => {
  chain = chain.then(() => request('POST', `/${what}/${id}`, line)).then(drain)
    .catch((e) => log(`host: ${e.message}`));
};

const res = await request('POST', '/case', JSON.stringify(args)).catch((e) => {
  log(`cannot reach firefox-host at ${host}: ${e.message}`);
  process.exit(1);
});
readline.createInterface({ input: res }).on('line', (l) => {
  const kind = l[0], rest = l.slice(2);
  if (kind === 'I') {
    id = Number(rest);
    for (const [what, line] of pending.splice(0)) forward(what, line);
  } else if (kind === 'O') process.stdout.write(rest + '\n');
  else if (kind === 'L') log(rest);
  else if (kind === 'X') { exited = true; process.stdout.write('', () => process.exit(Number(rest))); }
});
res.on('end', () => { if (!exited) { log('firefox-host ended the case without an exit code'); process.exit(1); } });

const rl = readline.createInterface({ input: process.stdin });
const input = (what, line) => { if (id === null) pending.push([what, line]); else forward(what, line); };
rl.on('line', (line) => input('in', line));
rl.on('close', () => input('eof', ''));
