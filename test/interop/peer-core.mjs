// The zdc-peer test protocol (shared/PEER_PROTOCOL.md), implemented once on the standard
// RTCPeerConnection API so that the same code runs inside Chromium (peer-chromium.mjs) and in
// Node on libdatachannel's RTCPeerConnection polyfill (peer-ndc.mjs).
//
// runPeer({ args, RTCPeerConnection, out, log, exit }) — args: argv-style option list; out(line)
// writes one protocol line; log(text) goes to stderr; exit(code) ends the process. It returns
// { input(line) } to feed signaling lines from the relay, and { eof() } for stdin's end.
//
// Besides PEER_PROTOCOL.md v1 it speaks zdc-peer's extensions (test/zdc-peer/main.c, listed
// at the top of run.mjs): --utf8, --channels N, --close-after N, --await-close, --close-peer,
// --await-peer-close, --restart-ice-at K, later offers/answers (ICE restart), --stats-exchange and the {"stats":true} / {"statsDone":true} lines (its
// stats event carries what getStats() says: transport, selected pair, data channels).

export function parseArgs(argv) {
  const o = { role: null, echo: false, send: 0, size: 0, text: false, label: 'test',
              unordered: false, maxRetransmits: null, maxPacketLifeTime: null, negotiated: null,
              protocol: '', close: false, timeout: 30, sizeGiven: false,
              utf8: false, channels: 1, channelsGiven: false, closeAfter: null, awaitClose: false,
              closePeer: false, awaitPeerClose: false, statsExchange: false,
              restartIceAt: null, iceServers: [], relayOnly: false };
  const num = (v, name) => {
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${name} needs a non-negative integer`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--offer': case '--answer':
        if (o.role) throw new Error('exactly one of --offer/--answer');
        o.role = a.slice(2); break;
      case '--echo': o.echo = true; break;
      case '--send': o.send = num(argv[++i], a); break;
      case '--size': o.size = num(argv[++i], a); o.sizeGiven = true; break;
      case '--text': o.text = true; break;
      case '--label': o.label = argv[++i]; if (o.label === undefined) throw new Error('--label needs a value'); break;
      case '--unordered': o.unordered = true; break;
      case '--max-retransmits': o.maxRetransmits = num(argv[++i], a); break;
      case '--max-packet-life-time': o.maxPacketLifeTime = num(argv[++i], a); break;
      case '--negotiated': o.negotiated = num(argv[++i], a); break;
      case '--protocol': o.protocol = argv[++i]; if (o.protocol === undefined) throw new Error('--protocol needs a value'); break;
      case '--close': o.close = true; break;
      case '--timeout': o.timeout = num(argv[++i], a); break;
      case '--utf8': o.utf8 = true; break;
      case '--channels': o.channels = num(argv[++i], a); o.channelsGiven = true; break;
      case '--close-after': o.closeAfter = num(argv[++i], a); break;
      case '--await-close': o.awaitClose = true; break;
      case '--close-peer': o.closePeer = true; break;
      case '--await-peer-close': o.awaitPeerClose = true; break;
      case '--stats-exchange': o.statsExchange = true; break;
      case '--restart-ice-at': o.restartIceAt = num(argv[++i], a); break;
      // zdc-peer's ICE server options (test/nat/nat.sh): an RTCIceServer, then its credentials.
      case '--ice-server': {
        const urls = argv[++i];
        if (urls === undefined) throw new Error('--ice-server needs URLS');
        o.iceServers.push({ urls: urls.split(/[\s,]+/).filter(Boolean) });
        break;
      }
      case '--ice-username': case '--ice-credential': {
        const v = argv[++i], srv = o.iceServers[o.iceServers.length - 1];
        if (v === undefined || !srv) throw new Error(`${a} needs a value, after --ice-server`);
        srv[a === '--ice-username' ? 'username' : 'credential'] = v;
        break;
      }
      case '--relay-only': o.relayOnly = true; break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (!o.role) throw new Error('exactly one of --offer/--answer');
  if (o.maxRetransmits !== null && o.maxPacketLifeTime !== null)
    throw new Error('--max-retransmits and --max-packet-life-time are exclusive');
  if (o.send && !o.sizeGiven) throw new Error('--send needs --size');
  if (o.utf8 && !o.text) throw new Error('--utf8 needs --text');
  if (o.channels < 1 || o.channels > 64 || (o.channels > 1 && o.negotiated !== null))
    throw new Error('--channels needs 1..64, and no --negotiated');
  if (o.close + o.awaitClose + o.closePeer > 1)
    throw new Error('--close, --await-close and --close-peer exclude each other');
  return o;
}

// The multi-byte pieces of a --utf8 message: "é", "€", "😀" (2, 3 and 4 bytes) and a NUL.
const utf8Units = [[0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0]];

// Message i of `size` bytes, per the protocol's pattern (o: { text, utf8 }). A --utf8 message
// starts like a text one (four digits when size >= 4); then piece n = 0, 1, ... at byte j is
// unit (i + n) mod 6 of utf8Units when that exists and fits, else the letter 'a' + (i + j) mod 26.
export function makeMessage(i, size, o) {
  const b = new Uint8Array(size);
  let j = 0, n = 0;
  if (size >= 4) {
    if (o.text) {
      const d = String(i % 10000).padStart(4, '0');
      for (; j < 4; j++) b[j] = d.charCodeAt(j);
    } else {
      b[0] = (i >>> 24) & 255; b[1] = (i >>> 16) & 255; b[2] = (i >>> 8) & 255; b[3] = i & 255;
      j = 4;
    }
  }
  while (j < size) {
    const u = o.utf8 ? utf8Units[(i + n) % (utf8Units.length + 2)] : undefined;
    if (u && u.length <= size - j) { b.set(u, j); j += u.length; }
    else { b[j] = o.text ? 97 + ((i + j) % 26) : (i + j) % 251; j++; }
    n++;
  }
  // fatal: a pattern that is not valid UTF-8 is a bug here, not something to paper over.
  return o.text ? new TextDecoder('utf-8', { fatal: true }).decode(b) : b;
}

function toBytes(data) {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new Error(`unexpected message type ${Object.prototype.toString.call(data)}`);
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

// Which message index an echo carries, or -1 when it matches none we could have sent.
function indexOf(bytes, o, expected) {
  const size = o.size;
  if (bytes.length !== size) return -1;
  if (size >= 4) {
    let i;
    if (o.text) {
      const d = new TextDecoder().decode(bytes.subarray(0, 4));
      if (!/^\d{4}$/.test(d)) return -1;
      i = Number(d);
      // Text carries i mod 10000: take the candidate nearest to what we expect next.
      i += Math.max(0, Math.round((expected - i) / 10000)) * 10000;
    } else {
      i = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
    }
    if (i >= o.send) return -1;
    return equalBytes(bytes, toBytes(makeMessage(i, size, o))) ? i : -1;
  }
  // Under 4 bytes nothing names the index: accept the expected one, else any that matches.
  if (expected < o.send && equalBytes(bytes, toBytes(makeMessage(expected, size, o)))) return expected;
  for (let i = 0; i < o.send; i++)
    if (equalBytes(bytes, toBytes(makeMessage(i, size, o)))) return i;
  return -1;
}

// How long a peer whose stdin ended waits for its open channels to close before exiting.
const EOF_GRACE_MS = 2000;

export function runPeer({ args, RTCPeerConnection, out, log, exit, onConnected = null,
                          now = () => performance.now(), closeSettleMs = 0 }) {
  let o;
  try {
    o = parseArgs(args);
  } catch (e) {
    log(`usage: ${e.message}`);
    exit(2);
    return { input() {}, eof() {} };
  }
  const reliable = o.maxRetransmits === null && o.maxPacketLifeTime === null;
  const emit = (obj) => out(JSON.stringify(obj));
  const pc = new RTCPeerConnection({ iceServers: o.iceServers,
                                     iceTransportPolicy: o.relayOnly ? 'relay' : 'all' });
  // One slot per channel, in label order: { ch, opened, closed, nextExpected }.
  const labels = Array.from({ length: o.channels }, (_, k) => (o.channelsGiven ? `${o.label}-${k}` : o.label));
  const chans = labels.map((_, k) => ({ ch: null, opened: false, closed: false, nextExpected: k }));
  let finished = false, remoteSet = false, closing = false, nOpen = 0, nClosed = 0, echoed = 0;
  const pendingCandidates = [];
  const stats = { sent: 0, received: 0, bytes: 0, t0: 0, t1: 0, ok: true };
  let quietTimer = null, resultPrinted = false;

  const finish = (code) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    try { pc.close(); } catch (e) { /* already closed */ }
    exit(code);
  };
  const fail = (msg) => { emit({ event: 'error', message: msg }); finish(1); };

  const timer = setTimeout(() => {
    log(`timeout after ${o.timeout}s`);
    if (o.send && !resultPrinted) printResult(false);
    finish(1);
  }, o.timeout * 1000);

  function printResult(ok) {
    resultPrinted = true;
    const seconds = Math.max((stats.t1 || now()) - stats.t0, 1e-9) / 1000;
    emit({ event: 'result', ok, sent: stats.sent, received: stats.received, bytes: stats.bytes,
           seconds: Number(seconds.toFixed(6)), mbps: Number((stats.bytes * 8 / seconds / 1e6).toFixed(3)) });
  }

  // Closes every channel once what it has queued is out, and closeSettleMs later: the browser's
  // close() sends what is queued first, but libdatachannel's can overtake messages it has already
  // handed to SCTP (node-datachannel issue #375), so its adapter asks for a pause.
  function closeChannels() {
    closing = true;
    for (const c of chans) {
      const closeWhenSent = () => {
        if (finished || c.closed) return;
        if (c.ch.bufferedAmount > 0) setTimeout(closeWhenSent, 5);
        else if (closeSettleMs) setTimeout(() => { if (!finished && !c.closed) c.ch.close(); }, closeSettleMs);
        else c.ch.close();
      };
      if (c.ch && !c.closed) closeWhenSent();
    }
  }

  // {"event":"stats","reason":...,"browser":{transport,pair},"channels":[...]} from getStats():
  // the W3C names as the stack reports them (a stack without getStats gives empty ones).
  async function statsEvent(reason) {
    const ev = { event: 'stats', reason, browser: {}, channels: [] };
    try {
      const report = await pc.getStats();
      let transport = null;
      report.forEach((s) => {
        if (s.type === 'transport') transport = s;
        if (s.type === 'data-channel')
          ev.channels.push({ label: s.label, id: s.dataChannelIdentifier, state: s.state,
                             messagesSent: s.messagesSent, messagesReceived: s.messagesReceived,
                             bytesSent: s.bytesSent, bytesReceived: s.bytesReceived });
      });
      if (transport) {
        ev.browser.transport = { bytesSent: transport.bytesSent, bytesReceived: transport.bytesReceived,
                                 packetsSent: transport.packetsSent, packetsReceived: transport.packetsReceived,
                                 tlsVersion: transport.tlsVersion, dtlsCipher: transport.dtlsCipher,
                                 dtlsRole: transport.dtlsRole };
        const pair = transport.selectedCandidatePairId && report.get(transport.selectedCandidatePairId);
        if (pair)
          ev.browser.pair = { bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived,
                              packetsSent: pair.packetsSent, packetsReceived: pair.packetsReceived,
                              currentRoundTripTime: pair.currentRoundTripTime };
      }
    } catch (e) {
      ev.error = e.message;
    }
    emit(ev);
  }
  let statsDone = null;  // resolves when the other side answers our {"stats":true}

  async function done() {
    const ok = stats.ok && (!reliable || stats.received === o.send);
    printResult(ok);
    if (!ok) { finish(1); return; }
    if (restartAnswered) {
      // The old pair carried the echoes while the restart was under way: a peer slower to
      // answer the restart offer than the series is to finish must still have its answer taken.
      const t = await Promise.race([restartAnswered.then(() => true), new Promise((r) => setTimeout(() => r(false), 10000))]);
      if (!t) log('no answer to the restart offer within 10 s of the last echo');
      if (finished) return;
    }
    if (o.statsExchange) {
      await statsEvent('result');
      const answered = new Promise((r) => { statsDone = r; });
      out(JSON.stringify({ stats: true }));
      const t = await Promise.race([answered.then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
      if (!t) log('no statsDone from the other side within 3 s');
      if (finished) return;
    }
    if (o.close) { closeChannels(); return; }   // exit once we see them closed
    if (o.awaitClose) {
      if (nClosed === o.channels) finish(0);
      else log('waiting for the other side to close the channel');
      return;
    }
    if (o.closePeer) {
      log('closing the peer connection');
      pc.close();
      setTimeout(() => finish(0), 300);   // let the goodbye go out
      return;
    }
    finish(0);
  }

  pc.onicecandidate = (ev) => {
    const c = ev.candidate;
    emit({ candidate: c ? c.candidate : '', sdpMid: c ? c.sdpMid : '0',
           sdpMLineIndex: c ? c.sdpMLineIndex : 0 });
  };
  pc.onconnectionstatechange = () => {
    if (finished) return;
    const s = pc.connectionState;
    emit({ event: 'connection', state: s });
    if (o.awaitPeerClose && ['disconnected', 'failed', 'closed'].includes(s)) {
      log(`the peer went away: connection ${s}`);
      finish(0);
      return;
    }
    if (s === 'failed') fail('connection failed');
    if (s === 'connected' && onConnected) onConnected(pc).catch((e) => log(`stats: ${e.message}`));
  };

  function checkReceived(ch) {
    const problems = [];
    if ((ch.protocol || '') !== o.protocol) problems.push(`protocol ${ch.protocol} != ${o.protocol}`);
    // A stack that cannot tell a received channel's reliability leaves it undefined.
    if (ch.ordered === undefined) log('this stack does not report received channels\' reliability: not checked');
    else {
      if (ch.ordered !== !o.unordered) problems.push(`ordered ${ch.ordered}`);
      if ((ch.maxRetransmits ?? null) !== o.maxRetransmits) problems.push(`maxRetransmits ${ch.maxRetransmits}`);
      if ((ch.maxPacketLifeTime ?? null) !== o.maxPacketLifeTime) problems.push(`maxPacketLifeTime ${ch.maxPacketLifeTime}`);
    }
    if (problems.length) fail(`received channel ${ch.label} differs: ${problems.join(', ')}`);
  }

  async function sendAll() {
    stats.t0 = now();
    const high = 1 << 20;
    for (const c of chans) c.ch.bufferedAmountLowThreshold = high >> 2;
    for (let i = 0; i < o.send; i++) {
      const ch = chans[i % o.channels].ch;
      while (ch.bufferedAmount > high) {
        await new Promise((r) => {
          const t = setTimeout(r, 5);
          ch.onbufferedamountlow = () => { clearTimeout(t); r(); };
        });
        if (finished || closing) return;
      }
      ch.send(makeMessage(i, o.size, o));
      stats.sent++;
    }
    if (!reliable) armQuiet();
  }

  // --restart-ice-at: restartIce(), then the offer it needs (the page handles no
  // negotiationneeded), while the rest of the series flows.
  let restartAnswered = null, restartAnsweredResolve = null;  // our restart offer's answer
  function restartIce() {
    log(`ICE restart after ${stats.received} echoes`);
    restartAnswered = new Promise((r) => { restartAnsweredResolve = r; });
    pc.restartIce();
    chain = chain.then(async () => {
      const d = await pc.createOffer();
      await pc.setLocalDescription(d);
      emit({ type: pc.localDescription.type, sdp: pc.localDescription.sdp });
      emit({ event: 'restart' });
    }).catch((e) => fail(`restart: ${e.message}`));
  }

  function armQuiet() {
    clearTimeout(quietTimer);
    quietTimer = setTimeout(done, 2000);
  }

  function onMessage(c, ev) {
    if (finished) return;
    const isText = typeof ev.data === 'string';
    const k = chans.indexOf(c);
    if (o.echo) {
      if (closing) return;
      try {
        c.ch.send(isText ? ev.data : toBytes(ev.data).slice());
        echoed++;
      } catch (e) {
        log(`echo failed: ${e.message}`);  // e.g. the channel closed meanwhile
      }
      if (o.closeAfter !== null && echoed === o.closeAfter) {
        log(`${echoed} echoed: closing the channel`);
        closeChannels();
      }
      return;
    }
    if (!o.send || resultPrinted) return;
    const bytes = toBytes(ev.data);
    const i = isText === o.text ? indexOf(bytes, o, c.nextExpected) : -1;
    if (i < 0) { stats.ok = false; log(`echo ${stats.received} is corrupt or of the wrong kind`); }
    else if (i % o.channels !== k) { stats.ok = false; log(`echo ${i} came back on channel ${k}`); }
    else {
      if (reliable && !o.unordered && i !== c.nextExpected) { stats.ok = false; log(`echo ${i} out of order (expected ${c.nextExpected})`); }
      c.nextExpected = i + o.channels;
    }
    stats.received++;
    stats.bytes += bytes.length;
    stats.t1 = now();
    if (o.restartIceAt !== null && stats.received === o.restartIceAt) restartIce();
    if (!reliable) armQuiet();
    else if (stats.received === o.send) done();
  }

  function setup(c, ch) {
    c.ch = ch;
    ch.binaryType = 'arraybuffer';
    ch.onopen = () => {
      if (c.opened || finished) return;
      c.opened = true;
      nOpen++;
      emit({ event: 'open', label: ch.label, id: ch.id });
      if (o.send && nOpen === o.channels) sendAll().catch((e) => fail(`send: ${e.message}`));
    };
    ch.onclose = () => {
      if (c.closed || finished) return;
      c.closed = true;
      nClosed++;
      emit({ event: 'closed', label: ch.label });
      if (o.awaitPeerClose) return;   // the connection state says when the peer is gone
      if (o.send && !resultPrinted) { log('a channel closed before every echo arrived'); printResult(false); finish(1); return; }
      if (!closing && !o.send) closeChannels();   // the other side closes: follow
      if (nClosed === o.channels) finish(0);
    };
    ch.onmessage = (ev) => onMessage(c, ev);
    if (ch.readyState === 'open') ch.onopen();
  }

  const init = { ordered: !o.unordered };
  if (o.maxRetransmits !== null) init.maxRetransmits = o.maxRetransmits;
  if (o.maxPacketLifeTime !== null) init.maxPacketLifeTime = o.maxPacketLifeTime;
  if (o.protocol) init.protocol = o.protocol;
  if (o.negotiated !== null) { init.negotiated = true; init.id = o.negotiated; }

  if (o.role === 'offer' || o.negotiated !== null)
    chans.forEach((c, k) => setup(c, pc.createDataChannel(labels[k], init)));
  if (o.negotiated === null) {
    pc.ondatachannel = (ev) => {
      const k = labels.indexOf(ev.channel.label);
      if (k < 0) { fail(`received channel ${ev.channel.label}: no such label (want ${labels.join(', ')})`); return; }
      if (chans[k].ch) { log(`ignoring a second channel ${ev.channel.label}`); return; }
      checkReceived(ev.channel);
      setup(chans[k], ev.channel);
    };
  }

  if (o.role === 'offer') {
    pc.createOffer()
      .then((d) => pc.setLocalDescription(d))
      .then(() => emit({ type: pc.localDescription.type, sdp: pc.localDescription.sdp }))
      .catch((e) => fail(`offer: ${e.message}`));
  }

  async function addCandidate(m) {
    if (!m.candidate) return;  // end of candidates: accept and ignore
    await pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdpMid ?? '0', sdpMLineIndex: m.sdpMLineIndex ?? 0 });
  }

  let chain = Promise.resolve();  // apply signaling strictly in arrival order
  function input(line) {
    line = line.trim();
    if (!line) return;
    let m;
    try { m = JSON.parse(line); } catch (e) { log(`ignoring non-JSON line: ${line.slice(0, 80)}`); return; }
    if (m.stats) { statsEvent('request').then(() => out(JSON.stringify({ statsDone: true }))); return; }
    if (m.statsDone) { if (statsDone) statsDone(); return; }
    chain = chain.then(async () => {
      if (finished) return;
      const later = remoteSet && ((m.type === 'offer' && pc.signalingState === 'stable') ||
                                  (m.type === 'answer' && pc.signalingState === 'have-local-offer'));
      if (later && m.type === 'offer') {
        await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        const ans = await pc.createAnswer();
        await pc.setLocalDescription(ans);
        emit({ type: pc.localDescription.type, sdp: pc.localDescription.sdp });
        emit({ event: 'renegotiated', type: 'offer' });
      } else if (later) {
        await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        emit({ event: 'renegotiated', type: 'answer' });
        if (restartAnsweredResolve) restartAnsweredResolve();
      } else if (m.type === 'offer' && o.role === 'answer') {
        await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        remoteSet = true;
        const ans = await pc.createAnswer();
        await pc.setLocalDescription(ans);
        emit({ type: pc.localDescription.type, sdp: pc.localDescription.sdp });
      } else if (m.type === 'answer' && o.role === 'offer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        remoteSet = true;
      } else if ('candidate' in m) {
        if (!remoteSet) { pendingCandidates.push(m); return; }
      } else {
        log(`ignoring line: ${line.slice(0, 80)}`);
        return;
      }
      if (remoteSet && 'candidate' in m) await addCandidate(m);
      while (remoteSet && pendingCandidates.length) await addCandidate(pendingCandidates.shift());
    }).catch((e) => fail(`signaling: ${e.message}`));
  }

  function eof() {
    if (o.send || finished) return;  // a sender finishes on its own (or times out)
    if (o.awaitPeerClose) return;    // the other side has gone: we must notice that ourselves
    if ((o.close || o.closeAfter !== null) && nClosed < o.channels) { log('stdin closed before the channel was'); finish(1); return; }
    // The other side has exited, perhaps just after closing the channels: give their close a
    // moment to arrive here, so it is reported rather than cut short.
    const t0 = now();
    const wait = () => {
      if (finished) return;
      if (nClosed === chans.filter((c) => c.ch).length || now() - t0 > EOF_GRACE_MS) finish(0);
      else setTimeout(wait, 10);
    };
    wait();
  }

  return { input, eof, pc };
}
