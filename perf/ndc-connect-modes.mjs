// Why does libdatachannel (the zdc-perf reference) connect in ~6 ms one time and ~56 ms or
// ~1 s another? This script answers it with libdatachannel's own log: it connects N pairs in
// one process the way perf/ndc-ref.mjs does (loopback, direct signaling), records each
// connection's events and libdatachannel's verbose log lines, and classifies each connection:
//   fast       everything in the first exchange
//   dtls-rtx   libdatachannel logged "DTLS retransmit done" before the handshake finished: a
//              first DTLS flight was lost on loopback and the 1 s DTLS timer (RFC 6347 §4.2.4.1)
//              recovered it
//   ice-wait   the controlling agent reached "ICE connected" > 30 ms after checks began
//              (libjuice re-sending a check on its pacing timer instead of at once)
//   other      slow for a reason this script does not recognise
// usage: node ndc-connect-modes.mjs [N=40]      (run `npm ci` in perf/ first)
import { createRequire } from 'node:module';

const ndc = createRequire(import.meta.url)('node-datachannel');
const n = Number(process.argv[2] ?? 40);
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let log = [];
ndc.initLogger('Verbose', (_lvl, msg) => log.push([now(), msg]));

async function one(i) {
  log = [];
  const t0 = now();
  const ev = {};
  const mark = (k) => { if (!(k in ev)) ev[k] = now() - t0; };
  const a = new ndc.PeerConnection(`m${i}a`, { iceServers: [], bindAddress: '127.0.0.1' });
  const b = new ndc.PeerConnection(`m${i}b`, { iceServers: [], bindAddress: '127.0.0.1' });
  const link = (from, to) => {
    let has = false;
    const held = [];
    from.onLocalDescription((sdp, type) => {
      to.setRemoteDescription(sdp, type);
      has = true;
      for (const c of held.splice(0)) to.addRemoteCandidate(...c);
    });
    from.onLocalCandidate((c, mid) => (has ? to.addRemoteCandidate(c, mid) : held.push([c, mid])));
  };
  link(a, b);
  link(b, a);
  a.onIceStateChange((s) => mark(`ice-${s}`));
  let open = 0;
  b.onDataChannel(() => open++);
  const dc = a.createDataChannel('modes');
  dc.onOpen(() => open++);
  while (open < 2 && now() - t0 < 5000) await sleep(1);
  const took = now() - t0;
  dc.close(); a.close(); b.close();
  const lines = log.map(([, m]) => m);
  const dtlsRtx = lines.some((m) => m.includes('DTLS retransmit done'));
  const iceGap = (ev['ice-connected'] ?? 0) - (ev['ice-checking'] ?? 0);
  let mode = 'fast';
  if (took > 30) mode = dtlsRtx ? 'dtls-rtx' : iceGap > 30 ? 'ice-wait' : 'other';
  return { took, mode, iceGap };
}

const rows = [];
for (let i = 0; i < n; i++) rows.push(await one(i));
const modes = {};
for (const r of rows) (modes[r.mode] ??= []).push(r.took);
console.log(`libdatachannel connect modes over ${n} one-process connections (create to both open):`);
for (const [m, t] of Object.entries(modes)) {
  t.sort((x, y) => x - y);
  console.log(`  ${m.padEnd(9)} ${String(t.length).padStart(3)}  median ${t[t.length >> 1].toFixed(1)} ms` +
              `  range ${t[0].toFixed(1)}-${t[t.length - 1].toFixed(1)} ms`);
}
process.exit(0);
