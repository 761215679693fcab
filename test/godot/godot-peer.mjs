#!/usr/bin/env node
// A ../../shared/PEER_PROTOCOL.md peer that is a headless Godot 3 on zdc: runs
// test/godot/project/peer.gd (or another script of that project, --script NAME.gd) through
// test/godot/run.sh and bridges this process's stdin/stdout to it over TCP on 127.0.0.1, because
// Godot 3.2 cannot read stdin without blocking. Godot's own output goes to stderr (log).
//
//   node godot-peer.mjs --lib PATH/libzdc_godot.so [--script NAME.gd] <PEER_PROTOCOL options>
// When stdin ends, {"eof":true} is sent to the script (not a protocol line). Exit status: the
// script's.
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
let args = process.argv.slice(2);
const take = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args = [...args.slice(0, i), ...args.slice(i + 2)];
  return v;
};
const lib = take('--lib', process.env.ZDC_GODOT_LIB);
const script = take('--script', 'peer.gd');
if (!lib) { process.stderr.write('usage: godot-peer.mjs --lib LIB [--script S] OPTIONS\n'); process.exit(2); }
const ti = args.indexOf('--timeout');
const limit = (ti >= 0 ? Number(args[ti + 1]) : 30) + 15;

let sock = null;
const toGodot = [];
let stdinEnded = false;
const send = (line) => { if (sock) sock.write(line + '\n'); else toGodot.push(line); };

const server = net.createServer((s) => {
  if (sock) { s.destroy(); return; }
  sock = s;
  server.close();
  for (const l of toGodot.splice(0)) s.write(l + '\n');
  // Godot may reset the socket as it exits (unread bytes): readline re-emits the socket's
  // errors, so both need a handler or node dies on ECONNRESET after a passing case.
  s.on('error', () => {});
  readline.createInterface({ input: s }).on('line', (line) => process.stdout.write(line + '\n'))
    .on('error', () => {});
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));

const env = { ...process.env, ZDC_GODOT_SIGNAL_PORT: String(server.address().port),
  ZDC_GODOT_PEER_ARGS: JSON.stringify(args) };
const godot = spawn('bash', [path.join(here, 'run.sh'), lib, script, String(limit)],
  { env, stdio: ['ignore', 'pipe', 'pipe'] });
for (const stream of [godot.stdout, godot.stderr])
  readline.createInterface({ input: stream }).on('line', (l) => {
    if (!/Invalid locale|translation\.cpp|^ *$|^Godot Engine v/.test(l)) process.stderr.write(`[godot] ${l}\n`);
  });

readline.createInterface({ input: process.stdin }).on('line', (line) => send(line))
  .on('close', () => { stdinEnded = true; send('{"eof":true}'); });
process.stdin.on('error', () => {});
godot.on('exit', (code, signal) => {
  server.close();
  if (sock) sock.destroy();
  process.exit(code === null ? 128 + 9 : code);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { godot.kill('SIGKILL'); process.exit(1); });
