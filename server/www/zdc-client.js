// zdc-client.js: the browser side of zdc-server, for games to copy (no dependencies).
//
//   import { connect } from './zdc-client.js';
//   const game = await connect('/whip', {
//     onMessage: (data, reliable) => { ... },   // string (text) or ArrayBuffer
//     onClose: () => { ... },
//   });
//   game.send('hello', true);   // true: reliable, ordered; false: unreliable, unordered
//   game.close();
//
// Signaling is one HTTP request (WHIP-shaped, non-trickle): the offer goes out with all its
// candidates once gathering is complete, the answer comes back complete.
export async function connect(url, { onMessage = () => {}, onClose = () => {}, iceServers = [],
  gatherTimeoutMs = 3000 } = {}) {
  const pc = new RTCPeerConnection({ iceServers });
  const reliable = pc.createDataChannel('reliable');
  const unreliable = pc.createDataChannel('unreliable', { ordered: false, maxRetransmits: 0 });
  for (const [ch, isReliable] of [[reliable, true], [unreliable, false]]) {
    ch.binaryType = 'arraybuffer';
    ch.onmessage = (e) => onMessage(e.data, isReliable);
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    pc.close();
    onClose();
  };
  reliable.onclose = close;
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed' || pc.connectionState === 'closed') close();
  };

  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const t = setTimeout(resolve, gatherTimeoutMs); // send what was gathered so far
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp });
  if (res.status !== 201) {
    pc.close();
    throw new Error(`signaling: HTTP ${res.status} ${await res.text()}`);
  }
  const resource = new URL(res.headers.get('Location') || url, new URL(url, location_base()));
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  if (reliable.readyState !== 'open') {
    await new Promise((resolve, reject) => {
      reliable.addEventListener('open', resolve, { once: true });
      reliable.addEventListener('close', () => reject(new Error('channel closed')), { once: true });
    });
  }
  return {
    pc,
    send(data, isReliable = true) {
      const ch = isReliable ? reliable : unreliable;
      if (ch.readyState === 'open') ch.send(data);
    },
    // Tells the server at once (DELETE), then closes; the server would also notice by itself.
    close() {
      fetch(resource, { method: 'DELETE' }).catch(() => {});
      close();
    },
  };
}

function location_base() {
  return typeof window !== 'undefined' ? window.location.href : 'http://localhost/';
}
