#!/usr/bin/env node
// A zdc-peer-protocol peer on libdatachannel (npm node-datachannel), through its
// RTCPeerConnection polyfill: usage as zdc-peer (shared/PEER_PROTOCOL.md).
import readline from 'node:readline';
import { RTCPeerConnection } from './ndc-adapter.mjs';
import nodeDataChannel from 'node-datachannel';
import { runPeer } from './peer-core.mjs';

nodeDataChannel.initLogger(process.env.NDC_LOG || 'Warning', (level, msg) => process.stderr.write(`[ndc ${level}] ${msg}\n`));
const peer = runPeer({
  args: process.argv.slice(2),
  RTCPeerConnection,
  closeSettleMs: 250,  // its close() may overtake sent messages (node-datachannel issue #375)
  out: (line) => process.stdout.write(line + '\n'),
  log: (text) => process.stderr.write(`[ndc] ${text}\n`),
  exit: (code) => {
    // Let stdout drain and libdatachannel wind down before leaving.
    setTimeout(() => { try { nodeDataChannel.cleanup(); } catch (e) { /* ignore */ } process.exit(code); }, 100);
  },
});
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => peer.input(line));
rl.on('close', () => peer.eof());
