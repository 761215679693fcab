#!/usr/bin/env node
// Relay between two zdc-peer-protocol peers (shared/PEER_PROTOCOL.md): every stdout line of
// one peer WITHOUT an "event" key goes to the other's stdin; event lines are collected. When a
// peer exits, the other's stdin is closed. Both peers' lines are logged with a prefix.
//
//   node relay.mjs [--timeout S] [--quiet] -- CMD_A ARGS... -- CMD_B ARGS...
// Exit status 0 iff both peers exit 0 within the timeout. The last line printed is a JSON
// summary: {"relay":"done","a":{"code":..,"events":[..]},"b":{...}} (with --quiet, the only one).
import { spawn } from 'node:child_process';
import readline from 'node:readline';

export function relay(cmdA, cmdB, { timeout = 60, quiet = false } = {}) {
  return new Promise((resolve) => {
    const peers = [cmdA, cmdB].map((cmd, k) => ({
      name: k === 0 ? 'A' : 'B', cmd, code: null, events: [], stderr: [], candidates: [],
      proc: spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] }),
    }));
    const say = (s) => { if (!quiet) process.stdout.write(s + '\n'); };
    let finished = false;
    const timer = setTimeout(() => {
      say(`relay: timeout after ${timeout}s, killing peers`);
      for (const p of peers) if (p.code === null) p.proc.kill('SIGKILL');
    }, timeout * 1000);
    for (const [k, p] of peers.entries()) {
      const other = peers[1 - k];
      readline.createInterface({ input: p.proc.stdout }).on('line', (line) => {
        let msg = null;
        try { msg = JSON.parse(line); } catch (e) { /* not JSON: log only */ }
        if (msg && typeof msg === 'object' && 'event' in msg) {
          p.events.push(msg);
          say(`${p.name} event ${line}`);
        } else if (msg) {
          // The candidates each side offered, trickled or inside its SDP, for the summary.
          if (typeof msg.candidate === 'string' && msg.candidate) p.candidates.push(msg.candidate);
          if (typeof msg.sdp === 'string')
            for (const l of msg.sdp.split(/\r?\n/)) if (l.startsWith('a=candidate:')) p.candidates.push(l.slice(2));
          say(`${p.name} -> ${line.length > 160 ? line.slice(0, 157) + '...' : line}`);
          if (other.code === null && other.proc.stdin.writable) other.proc.stdin.write(line + '\n');
        } else {
          say(`${p.name} (not JSON) ${line}`);
        }
      });
      readline.createInterface({ input: p.proc.stderr }).on('line', (line) => {
        p.stderr.push(line);
        say(`${p.name} log ${line}`);
      });
      p.proc.stdin.on('error', () => {});
      p.proc.on('exit', (code, signal) => {
        p.code = code === null ? 128 + 9 : code;
        say(`relay: peer ${p.name} exited with ${p.code}${signal ? ' (' + signal + ')' : ''}`);
        if (other.code === null) other.proc.stdin.end();
        if (peers.every((q) => q.code !== null) && !finished) {
          finished = true;
          clearTimeout(timer);
          resolve({ ok: peers.every((q) => q.code === 0),
                    a: { code: peers[0].code, events: peers[0].events, stderr: peers[0].stderr, candidates: peers[0].candidates },
                    b: { code: peers[1].code, events: peers[1].events, stderr: peers[1].stderr, candidates: peers[1].candidates } });
        }
      });
    }
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  let timeout = 60, quiet = false;
  for (;;) {
    if (argv[0] === '--timeout') { timeout = Number(argv[1]); argv.splice(0, 2); }
    else if (argv[0] === '--quiet') { quiet = true; argv.splice(0, 1); }
    else break;
  }
  const parts = argv.join('\u0000').split('\u0000--\u0000').map((s) => s.replace(/^--\u0000/, '').split('\u0000'));
  if (parts.length !== 2 || !parts[0][0] || !parts[1][0]) {
    process.stderr.write('usage: relay.mjs [--timeout S] [--quiet] -- CMD_A ARGS... -- CMD_B ARGS...\n');
    process.exit(2);
  }
  const r = await relay(parts[0], parts[1], { timeout, quiet });
  console.log(JSON.stringify({ relay: 'done', ok: r.ok, a: r.a, b: r.b }));
  process.exit(r.ok ? 0 : 1);
}
