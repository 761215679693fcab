// The subset of the browser's RTCPeerConnection/RTCDataChannel API that peer-core.mjs uses,
// mapped straight onto node-datachannel's native (libdatachannel) API. Native rather than the
// package's polyfill, which reports a channel id fixed before the DTLS role is known (65535 on
// the offerer) and repeats some events. libdatachannel does not expose a received channel's
// reliability, so those properties are undefined (= "unknown") on received channels.
import nodeDataChannel from 'node-datachannel';

class Channel {
  constructor(native, init) {
    this.native = native;
    this.label = native.getLabel();
    this.protocol = native.getProtocol();
    this.ordered = init ? !init.unordered : undefined;
    this.maxRetransmits = init ? (init.maxRetransmits ?? null) : undefined;
    this.maxPacketLifeTime = init ? (init.maxPacketLifeTime ?? null) : undefined;
    this.binaryType = 'arraybuffer';
    this.readyState = native.isOpen() ? 'open' : 'connecting';
    this.onopen = this.onclose = this.onmessage = this.onbufferedamountlow = null;
    this.lowThreshold = 0;
    native.onOpen(() => { this.readyState = 'open'; this.onopen?.(); });
    // No native.onClosed(): node-datachannel 0.33.4 runs each event kind through a thread-safe
    // function of its own, and once its close callback has run it cancels the message callbacks
    // not yet run (src/cpp/data-channel-wrapper.cpp, doCleanup: instances.erase and
    // mOnMessageCallback.reset), so a remote close could overtake, and drop, the last messages
    // libdatachannel received before it. Instead isOpen() is polled every 10 ms and the close
    // reported 50 ms after it turned false, once the message callbacks queued before have run.
    const open = () => { try { return native.isOpen(); } catch { return false; } };  // throws once destroyed
    this.closeTimer = setInterval(() => {
      if (this.readyState !== 'open' || open()) return;
      clearInterval(this.closeTimer);
      setTimeout(() => {
        if (this.readyState === 'closed') return;
        this.readyState = 'closed';
        this.onclose?.();
      }, 50);
    }, 10);
    this.closeTimer.unref?.();
    native.onMessage((msg) => {
      const data = typeof msg === 'string' ? msg
        : msg.buffer.slice(msg.byteOffset, msg.byteOffset + msg.byteLength);
      this.onmessage?.({ data });
    });
    native.onBufferedAmountLow(() => this.onbufferedamountlow?.());
  }
  get id() { return this.native.getId(); }
  get bufferedAmount() { return this.native.bufferedAmount(); }
  get bufferedAmountLowThreshold() { return this.lowThreshold; }
  set bufferedAmountLowThreshold(v) { this.lowThreshold = v; this.native.setBufferedAmountLowThreshold(v); }
  // libdatachannel answers false when it queued the message instead of sending it at once:
  // not an error (bufferedAmount grows). Real failures throw.
  send(data) {
    if (typeof data === 'string') this.native.sendMessage(data);
    else this.native.sendMessageBinary(data instanceof Uint8Array ? data : new Uint8Array(data));
  }
  close() { this.native.close(); }
}

let count = 0;
export class RTCPeerConnection {
  constructor() {
    this.native = new nodeDataChannel.PeerConnection(`peer${count++}`,
      { iceServers: [], disableAutoNegotiation: true });
    this.connectionState = 'new';
    this.localDescription = null;
    this.onicecandidate = this.onconnectionstatechange = this.ondatachannel = null;
    this.descWaiters = [];
    this.native.onLocalDescription((sdp, type) => {
      this.localDescription = { type: type.toLowerCase(), sdp };
      for (const w of this.descWaiters.splice(0)) w();
    });
    this.native.onLocalCandidate((candidate, mid) =>
      this.onicecandidate?.({ candidate: { candidate, sdpMid: mid, sdpMLineIndex: 0 } }));
    this.native.onGatheringStateChange((s) => { if (s === 'complete') this.onicecandidate?.({ candidate: null }); });
    this.native.onStateChange((s) => {
      if (s === this.connectionState) return;
      this.connectionState = s;
      this.onconnectionstatechange?.();
    });
    this.native.onDataChannel((dc) => this.ondatachannel?.({ channel: new Channel(dc, null) }));
  }
  createDataChannel(label, init = {}) {
    const cfg = { unordered: init.ordered === false };
    if (init.protocol) cfg.protocol = init.protocol;
    if (init.negotiated) { cfg.negotiated = true; cfg.id = init.id; }
    if (init.maxRetransmits != null) cfg.maxRetransmits = init.maxRetransmits;
    if (init.maxPacketLifeTime != null) cfg.maxPacketLifeTime = init.maxPacketLifeTime;
    return new Channel(this.native.createDataChannel(label, cfg), cfg);
  }
  waitDescription() {
    return new Promise((r) => (this.localDescription ? r() : this.descWaiters.push(r)));
  }
  // Auto-negotiation is off (a negotiated channel created by the answerer must not start an
  // offer of its own), so descriptions are made here, when asked for.
  async createOffer() { this.native.setLocalDescription('offer'); await this.waitDescription(); return this.localDescription; }
  async createAnswer() { this.native.setLocalDescription('answer'); await this.waitDescription(); return this.localDescription; }
  async setLocalDescription() {}
  async setRemoteDescription({ type, sdp }) { this.native.setRemoteDescription(sdp, type); }
  async addIceCandidate({ candidate, sdpMid }) { this.native.addRemoteCandidate(candidate, sdpMid ?? '0'); }
  close() { this.native.close(); }
}
