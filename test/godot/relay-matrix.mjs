#!/usr/bin/env node
// Godot on zdc against other peers through the interop relay (../interop/relay.mjs), each case
// inside a loopback-only network namespace of its own (../interop/netns.sh):
//   godot     Godot <-> Godot (two godot3-server processes, peer.gd)
//   chromium  Godot <-> headless Chromium (../interop/peer-chromium.mjs), Godot offering and
//             answering
//   mp        WebRTCMultiplayer across two Godot processes, rpc_id both ways (mp_peer.gd)
//
//   node relay-matrix.mjs --lib PATH/libzdc_godot.so [--peers godot,chromium,mp] [--filter TEXT]
//                         [--timeout S]
// Prints one line per case and "godot relay: N passed, N failed, N skipped". Exit 0 iff none
// failed and one passed; 77 when every case was skipped (no namespace, no Chromium).
import path from 'node:path';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const interop = path.join(here, '..', 'interop');
const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const lib = opt('--lib', null);
if (!lib) { console.error('usage: relay-matrix.mjs --lib LIB [--peers ...] [--filter T]'); process.exit(2); }
const peers = opt('--peers', 'godot,chromium,mp').split(',');
const filter = opt('--filter', '');
const timeout = Number(opt('--timeout', '60'));

const godot = (script, ...a) => ['node', path.join(here, 'godot-peer.mjs'), '--lib', lib, '--script', script, ...a];
const chromium = ['node', path.join(interop, 'peer-chromium.mjs')];
const cases = [
  { name: 'binary 1200 B', send: '--send 100 --size 1200' },
  { name: 'binary 64 KiB', send: '--send 10 --size 65536' },
  { name: 'text 1200 B', send: '--send 50 --size 1200 --text', shared: '--label txt --protocol chat' },
  { name: 'text 64 KiB', send: '--send 10 --size 65536 --text' },
];
const split = (s) => (s || '').split(' ').filter(Boolean);

function runCase(a, b) {
  return new Promise((resolve) => {
    const args = [path.join(interop, 'netns.sh'), '--', 'node', path.join(interop, 'relay.mjs'),
      '--quiet', '--timeout', String(timeout), '--', ...a, '--', ...b];
    const proc = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { err += d; });
    const guard = setTimeout(() => proc.kill('SIGKILL'), (timeout + 30) * 1000);
    proc.on('exit', (code) => {
      clearTimeout(guard);
      const lines = out.trim().split('\n');
      const skip = lines.find((l) => l.startsWith('SKIP netns:'));
      if (code === 77 && skip) { resolve({ skip }); return; }
      try {
        const r = JSON.parse(lines[lines.length - 1]);
        if (r.relay === 'done') { resolve(r); return; }
      } catch (e) { /* below */ }
      resolve({ ok: false, broken: `relay exited ${code}: ${err.trim().split('\n').slice(-3).join(' / ')}`,
                a: { events: [], stderr: [] }, b: { events: [], stderr: [] } });
    });
  });
}

const plan = [];
const t = ['--timeout', String(timeout - 10)];
for (const peer of peers) {
  if (peer === 'mp') {
    plan.push({ title: 'WebRTCMultiplayer, two Godot processes: rpc_id both ways',
                a: godot('mp_peer.gd', '--offer'), b: godot('mp_peer.gd', '--answer'), both: true });
    continue;
  }
  if (peer !== 'godot' && peer !== 'chromium') { console.error(`unknown peer ${peer}`); process.exit(2); }
  const roles = peer === 'godot' ? [true] : [true, false];
  for (const godotOffers of roles)
    for (const c of cases) {
      const sender = [...split(c.send), ...split(c.shared), '--close', ...t];
      const echoer = ['--echo', ...split(c.shared), ...t];
      const other = peer === 'godot' ? godot('peer.gd') : chromium;
      plan.push({
        title: `godot ${godotOffers ? 'offers' : 'answers'} / ${peer}: ${c.name}`,
        a: [...(godotOffers ? godot('peer.gd') : other), '--offer', ...sender],
        b: [...(godotOffers ? other : godot('peer.gd')), '--answer', ...echoer],
      });
    }
}
if (peers.includes('chromium') && !fs.existsSync(process.env.CHROMIUM || '/usr/bin/chromium')) {
  console.log('SKIP chromium cases: no chromium (scripts/install-deps.sh --interop)');
  for (const p of plan) if (p.title.includes('chromium')) p.skip = 'no chromium';
}

let passed = 0, failed = 0, skipped = 0;
const flaky = [];
for (const p of plan) {
  if (filter && !p.title.includes(filter)) continue;
  if (p.skip) { skipped++; console.log(`SKIP ${p.title}: ${p.skip}`); continue; }
  let r, problems;
  for (let attempt = 0; attempt < 2; attempt++) {
    const t0 = Date.now();
    r = await runCase(p.a, p.b);
    if (r.skip) break;
    problems = [];
    if (r.broken) problems.push(r.broken);
    const results = [r.a, ...(p.both ? [r.b] : [])].map((s) => s.events.find((e) => e.event === 'result'));
    if (results.some((x) => !x)) problems.push('no result');
    else if (results.some((x) => !x.ok)) problems.push('result not ok');
    if (!r.ok) problems.push(`exit codes: ${r.a.code}, ${r.b.code}`);
    const res = results[0];
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const tput = res && res.sent ? ` ${res.received}/${res.sent} echoed` : '';
    console.log(`${problems.length ? 'FAIL' : 'PASS'} ${p.title} [${secs}s]${tput}`);
    if (!problems.length) { if (attempt) flaky.push(p.title); break; }
    console.log(`     why: ${problems.join('; ')}`);
    for (const [side, s] of [['offerer', r.a], ['answerer', r.b]])
      for (const line of (s.stderr || []).slice(-8)) console.log(`     ${side} log: ${line.slice(0, 200)}`);
    if (attempt === 0) console.log(`     retrying: ${p.title}`);
  }
  if (r.skip) { skipped++; console.log(`SKIP ${p.title}: ${r.skip}`); }
  else if (problems.length) failed++;
  else passed++;
}
if (flaky.length) console.log(`flaky (failed, then passed on a retry):\n  ${flaky.join('\n  ')}`);
console.log(`godot relay: ${passed} passed (${flaky.length} only on a retry), ${failed} failed, ${skipped} skipped (skipped cases did not run)`);
if (passed + failed + skipped === 0) { console.log('no case matches the filter'); process.exit(1); }
process.exit(failed ? 1 : passed === 0 ? 77 : 0);
