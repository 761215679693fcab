#!/usr/bin/env node
// Interop matrix: zdc-peer against real peers (libdatachannel via node-datachannel, Chromium),
// in both offer/answer roles, over the cases the zdc-peer protocol can express.
//
//   node run.mjs --zdc PATH/zdc-peer [--peers ndc,chromium] [--filter TEXT] [--timeout S]
//   node run.mjs --self              harness self-check: libdatachannel stands in for zdc-peer
//
// Prints one line per case and closes with "N passed, N failed". Exit 0 iff none failed.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { relay } from './relay.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const self = argv.includes('--self');
const zdc = opt('--zdc', null);
if (!self && !zdc) { console.error('usage: run.mjs --zdc PATH | --self'); process.exit(2); }
const peers = opt('--peers', 'ndc,chromium').split(',');
const filter = opt('--filter', '');
const timeout = Number(opt('--timeout', '60'));

const peerCmd = {
  ndc: ['node', path.join(here, 'peer-ndc.mjs')],
  chromium: ['node', path.join(here, 'peer-chromium.mjs')],
};
const zdcCmd = self ? ['node', path.join(here, 'peer-ndc.mjs')] : [zdc];

// name, sender options (offerer side sends), options both sides share
const cases = [
  ['binary 0 B', '--send 20 --size 0', ''],
  ['binary 1 B', '--send 20 --size 1', ''],
  ['binary 1200 B', '--send 200 --size 1200', ''],
  ['binary 16 KiB', '--send 100 --size 16384', ''],
  ['binary 64 KiB', '--send 40 --size 65536', ''],
  ['text 1200 B', '--send 100 --size 1200 --text', '--label txt --protocol chat'],
  ['unordered', '--send 200 --size 1200', '--unordered'],
  ['maxRetransmits 0', '--send 200 --size 1200', '--unordered --max-retransmits 0'],
  ['maxPacketLifeTime 500', '--send 200 --size 1200', '--max-packet-life-time 500'],
  ['negotiated id 5', '--send 50 --size 1200', '--negotiated 5'],
  ['50 MiB throughput', '--send 3200 --size 16384', ''],
];

const split = (s) => s.split(' ').filter(Boolean);
let passed = 0, failed = 0;
const failures = [];
for (const peer of peers) {
  for (const zdcOffers of [true, false]) {
    for (const [name, send, shared] of cases) {
      const title = `${self ? 'ndc(self)' : 'zdc'} ${zdcOffers ? 'offers' : 'answers'} / ${peer}: ${name}`;
      if (filter && !title.includes(filter)) continue;
      const sender = [...(zdcOffers ? zdcCmd : peerCmd[peer]), '--offer', ...split(send), ...split(shared), '--close', '--timeout', String(timeout - 5)];
      const echoer = [...(zdcOffers ? peerCmd[peer] : zdcCmd), '--answer', '--echo', ...split(shared), '--timeout', String(timeout - 5)];
      const t0 = Date.now();
      const r = await relay(sender, echoer, { timeout, quiet: true });
      const result = r.a.events.find((e) => e.event === 'result');
      const states = (side) => side.events.filter((e) => e.event === 'connection').map((e) => e.state).join('>');
      const ok = r.ok && result && result.ok;
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      const tput = result ? ` ${result.mbps} Mbit/s echoed (${result.received}/${result.sent})` : ' no result';
      console.log(`${ok ? 'PASS' : 'FAIL'} ${title} [${secs}s]${tput}`);
      const zdcSide = zdcOffers ? r.a : r.b, peerSide = zdcOffers ? r.b : r.a;
      console.log(`     states: ${self ? 'ndc(self)' : 'zdc'} ${states(zdcSide)}; ${peer} ${states(peerSide)}`);
      // The browser's own view of the connection: selected candidate pair and DTLS cipher.
      for (const line of peerSide.stderr.filter((l) => l.includes('getStats:')).slice(-1))
        console.log(`     ${peer} ${line.slice(line.indexOf('getStats:')).slice(0, 240)}`);
      if (!ok) {
        failed++;
        failures.push(title);
        console.log(`     sender exit ${r.a.code} states ${states(r.a)}; echoer exit ${r.b.code} states ${states(r.b)}`);
        // The end of each side's log says where it stuck.
        for (const [who, side] of [['sender', r.a], ['echoer', r.b]])
          for (const line of side.stderr.slice(-6)) console.log(`     ${who} log: ${line.slice(0, 200)}`);
      } else {
        passed++;
      }
    }
  }
}
if (failures.length) console.log(`failed cases:\n  ${failures.join('\n  ')}`);
console.log(`${passed} passed, ${failed} failed`);
// A filter that matches nothing is a mistake, not a pass.
if (passed + failed === 0) console.log('no case matches the filter');
process.exit(failed || passed + failed === 0 ? 1 : 0);
