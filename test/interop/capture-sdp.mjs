// Captures live Chromium and libdatachannel offers and answers for the SDP fixtures
// (test/data/sdp/). A one-off capture tool, not part of CI. Usage: node capture-sdp.mjs DIR
import ndc from 'node-datachannel';
import { chromium } from 'playwright-core';
import fs from 'fs';
const out = process.argv[2];
// libdatachannel offer and answer
const a = new ndc.PeerConnection('a', { iceServers: [] });
const b = new ndc.PeerConnection('b', { iceServers: [] });
let offer, answer;
const done = new Promise((res) => {
  a.onLocalDescription((sdp, type) => { offer = sdp; b.setRemoteDescription(sdp, type); });
  b.onLocalDescription((sdp, type) => { answer = sdp; res(); });
});
const dc = a.createDataChannel('cap');
await done;
await new Promise((r) => setTimeout(r, 500));
fs.writeFileSync(out + '/libdatachannel_0.33_offer.sdp', a.localDescription().sdp);
fs.writeFileSync(out + '/libdatachannel_0.33_answer.sdp', b.localDescription().sdp);
dc.close(); a.close(); b.close();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--allow-loopback-in-peer-connection',
         '--disable-features=WebRtcHideLocalIpsWithMdns'] });
const page = await browser.newPage();
const r = await page.evaluate(async () => {
  const pc1 = new RTCPeerConnection(), pc2 = new RTCPeerConnection();
  pc1.createDataChannel('cap');
  const gathered = (pc) => new Promise((res) => { pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') res(); }; });
  const g1 = gathered(pc1);
  await pc1.setLocalDescription(await pc1.createOffer());
  await g1;
  await pc2.setRemoteDescription(pc1.localDescription);
  const g2 = gathered(pc2);
  await pc2.setLocalDescription(await pc2.createAnswer());
  await g2;
  return { offer: pc1.localDescription.sdp, answer: pc2.localDescription.sdp, ua: navigator.userAgent };
});
fs.writeFileSync(out + '/chromium_156_offer.sdp', r.offer);
fs.writeFileSync(out + '/chromium_156_answer.sdp', r.answer);
console.log(r.ua);
await browser.close();
process.exit(0);
