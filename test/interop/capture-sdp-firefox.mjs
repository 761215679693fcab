// Captures a live Firefox ESR offer and answer (data channel, after gathering) for the SDP
// fixtures: serves a page on 127.0.0.1 to headless Debian firefox-esr (not installed by the
// project scripts: a one-off capture tool, not part of CI). Usage: node capture-sdp-firefox.mjs DIR
import http from 'http';
import fs from 'fs';
import { spawn } from 'child_process';
const out = process.argv[2];
const page = `<!doctype html><script>
(async () => {
  const pc1 = new RTCPeerConnection(), pc2 = new RTCPeerConnection();
  pc1.createDataChannel('cap');
  const gathered = (pc) => new Promise((res) => { pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') res(); }; setTimeout(res, 5000); });
  const g1 = gathered(pc1);
  await pc1.setLocalDescription(await pc1.createOffer());
  await g1;
  await pc2.setRemoteDescription(pc1.localDescription);
  const g2 = gathered(pc2);
  await pc2.setLocalDescription(await pc2.createAnswer());
  await g2;
  await fetch('/result', {method: 'POST', body: JSON.stringify({offer: pc1.localDescription.sdp, answer: pc2.localDescription.sdp, ua: navigator.userAgent})});
})();
</script>`;
let ff;
const srv = http.createServer((req, res) => {
  if (req.method === 'POST') {
    let b = ''; req.on('data', (d) => b += d); req.on('end', () => {
      const r = JSON.parse(b);
      fs.writeFileSync(out + '/firefox_esr_offer.sdp', r.offer);
      fs.writeFileSync(out + '/firefox_esr_answer.sdp', r.answer);
      console.log(r.ua); res.end('ok'); ff.kill('SIGKILL'); srv.close(); process.exit(0);
    });
  } else { res.setHeader('content-type', 'text/html'); res.end(page); }
}).listen(0, '127.0.0.1', () => {
  const port = srv.address().port;
  fs.mkdirSync('/tmp/ffprof', {recursive: true});
  fs.writeFileSync('/tmp/ffprof/user.js', 'user_pref("media.peerconnection.ice.loopback", true);\nuser_pref("media.peerconnection.ice.obfuscate_host_addresses", false);\n');
  ff = spawn('firefox-esr', ['--headless', '--no-remote', '--profile', '/tmp/ffprof', `http://127.0.0.1:${port}/`], {stdio: 'inherit'});
});
setTimeout(() => { console.error('timeout'); process.exit(1); }, 60000);
