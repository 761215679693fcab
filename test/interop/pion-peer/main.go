// pion-peer: a zdc-peer-protocol peer (shared/PEER_PROTOCOL.md v1 and the zdc extensions listed
// in test/interop/run.mjs) on Pion WebRTC v3, as Debian packages it
// (golang-github-pion-webrtc.v3-dev). Built in GOPATH mode by scripts/build-pion-peer.sh.
//
//	pion-peer --offer|--answer [--echo] [--send COUNT --size SIZE] [--text] ... (as zdc-peer)
//
// Signaling and events are JSON lines on stdout, signaling comes in on stdin, log goes to
// stderr. Pion calls back on goroutines of its own; every callback only posts a function to one
// queue, and one goroutine (the loop in main) runs them in order, so the protocol state below
// needs no locks. The sender runs on a goroutine of its own and touches only atomics.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/pion/ice/v2"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v3"
)

type options struct {
	role                               string
	echo, text, utf8, unordered, close bool
	send, size                         int
	sizeGiven, channelsGiven           bool
	label, protocol                    string
	maxRetransmits, maxPacketLifeTime  *uint16
	negotiated                         *uint16
	timeout                            int
	channels                           int
	closeAfter                         int // -1: off
	awaitClose, closePeer              bool
	awaitPeerClose                     bool
	restartIceAt                       int // -1: off
}

func parseArgs(argv []string) (*options, error) {
	o := &options{label: "test", timeout: 30, channels: 1, closeAfter: -1, restartIceAt: -1}
	num := func(i int, name string) (int, error) {
		if i >= len(argv) {
			return 0, fmt.Errorf("%s needs a non-negative integer", name)
		}
		v, err := strconv.ParseUint(argv[i], 10, 31)
		if err != nil {
			return 0, fmt.Errorf("%s needs a non-negative integer", name)
		}
		return int(v), nil
	}
	u16 := func(i int, name string) (*uint16, error) {
		v, err := num(i, name)
		if err != nil || v > 65535 {
			return nil, fmt.Errorf("%s needs 0..65535", name)
		}
		x := uint16(v)
		return &x, nil
	}
	var err error
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch a {
		case "--offer", "--answer":
			if o.role != "" {
				return nil, errors.New("exactly one of --offer/--answer")
			}
			o.role = a[2:]
		case "--echo":
			o.echo = true
		case "--send":
			i++
			o.send, err = num(i, a)
		case "--size":
			i++
			o.size, err = num(i, a)
			o.sizeGiven = true
		case "--text":
			o.text = true
		case "--label", "--protocol":
			i++
			if i >= len(argv) {
				return nil, fmt.Errorf("%s needs a value", a)
			}
			if a == "--label" {
				o.label = argv[i]
			} else {
				o.protocol = argv[i]
			}
		case "--unordered":
			o.unordered = true
		case "--max-retransmits":
			i++
			o.maxRetransmits, err = u16(i, a)
		case "--max-packet-life-time":
			i++
			o.maxPacketLifeTime, err = u16(i, a)
		case "--negotiated":
			i++
			o.negotiated, err = u16(i, a)
		case "--close":
			o.close = true
		case "--timeout":
			i++
			o.timeout, err = num(i, a)
		case "--utf8":
			o.utf8 = true
		case "--channels":
			i++
			o.channels, err = num(i, a)
			o.channelsGiven = true
		case "--close-after":
			i++
			o.closeAfter, err = num(i, a)
		case "--await-close":
			o.awaitClose = true
		case "--restart-ice-at":
			i++
			o.restartIceAt, err = num(i, a)
		case "--close-peer":
			o.closePeer = true
		case "--await-peer-close":
			o.awaitPeerClose = true
		default:
			return nil, fmt.Errorf("unknown option %s", a)
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case o.role == "":
		return nil, errors.New("exactly one of --offer/--answer")
	case o.maxRetransmits != nil && o.maxPacketLifeTime != nil:
		return nil, errors.New("--max-retransmits and --max-packet-life-time are exclusive")
	case o.send > 0 && !o.sizeGiven:
		return nil, errors.New("--send needs --size")
	case o.utf8 && !o.text:
		return nil, errors.New("--utf8 needs --text")
	case o.channels < 1 || o.channels > 64 || (o.channels > 1 && o.negotiated != nil):
		return nil, errors.New("--channels needs 1..64, and no --negotiated")
	}
	n := 0
	for _, b := range []bool{o.close, o.awaitClose, o.closePeer} {
		if b {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("--close, --await-close and --close-peer exclude each other")
	}
	return o, nil
}

// The multi-byte pieces of a --utf8 message: "é", "€", "😀" (2, 3 and 4 bytes) and a NUL.
var utf8Units = [][]byte{{0xc3, 0xa9}, {0xe2, 0x82, 0xac}, {0xf0, 0x9f, 0x98, 0x80}, {0}}

// makeMessage builds message i of `size` bytes per the protocol's pattern (see peer-core.mjs).
func makeMessage(i, size int, o *options) []byte {
	b := make([]byte, size)
	j, n := 0, 0
	if size >= 4 {
		if o.text {
			copy(b, fmt.Sprintf("%04d", i%10000))
		} else {
			binary.BigEndian.PutUint32(b, uint32(i))
		}
		j = 4
	}
	for j < size {
		var u []byte
		if o.utf8 {
			if k := (i + n) % (len(utf8Units) + 2); k < len(utf8Units) {
				u = utf8Units[k]
			}
		}
		if u != nil && len(u) <= size-j {
			copy(b[j:], u)
			j += len(u)
		} else {
			if o.text {
				b[j] = byte('a' + (i+j)%26)
			} else {
				b[j] = byte((i + j) % 251)
			}
			j++
		}
		n++
	}
	return b
}

// indexOf says which message an echo carries, or -1 when it matches none we could have sent.
func indexOf(b []byte, o *options, expected int) int {
	if len(b) != o.size {
		return -1
	}
	if o.size >= 4 {
		var i int
		if o.text {
			d := string(b[:4])
			v, err := strconv.Atoi(d)
			if err != nil || len(strings.Trim(d, "0123456789")) != 0 {
				return -1
			}
			i = v
			// Text carries i mod 10000: take the candidate nearest to what we expect next.
			if k := (expected - i + 5000) / 10000; k > 0 {
				i += k * 10000
			}
		} else {
			i = int(binary.BigEndian.Uint32(b))
		}
		if i < 0 || i >= o.send || string(makeMessage(i, o.size, o)) != string(b) {
			return -1
		}
		return i
	}
	if expected < o.send && string(makeMessage(expected, o.size, o)) == string(b) {
		return expected
	}
	for i := 0; i < o.send; i++ {
		if string(makeMessage(i, o.size, o)) == string(b) {
			return i
		}
	}
	return -1
}

// ---- output ------------------------------------------------------------------------------

var outMu sync.Mutex

func emit(v interface{}) {
	line, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	outMu.Lock()
	os.Stdout.Write(append(line, '\n'))
	outMu.Unlock()
}

func logf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "[pion] "+format+"\n", a...)
}

// ---- the peer ------------------------------------------------------------------------------

type slot struct {
	ch           *webrtc.DataChannel
	opened       bool
	closed       bool
	nextExpected int
}

type peer struct {
	o        *options
	reliable bool
	pc       *webrtc.PeerConnection
	loop     chan func()
	labels   []string
	chans    []*slot

	finished, closing      atomic.Bool
	remoteSet              bool
	nOpen, nClosed, echoed int
	pending                []map[string]interface{}
	lastState              string

	sent            atomic.Int64
	received, bytes int
	t0, t1          time.Time
	ok              bool
	resultPrinted   bool
	// --restart-ice-at: an ICE restart offer is out; its answer came; the series ended
	// before the answer (endSeries runs once it comes).
	restarted, restartAnswered, endAfterRestart bool
	quiet                                       *time.Timer
	low                                         chan struct{}
}

func (p *peer) post(f func()) {
	p.loop <- f
}

// finish ends the process: the peer connection gets a bounded moment to close.
func (p *peer) finish(code int) {
	if p.finished.Swap(true) {
		return
	}
	done := make(chan struct{})
	go func() {
		if err := p.pc.Close(); err != nil {
			logf("close: %v", err)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		logf("peer connection close did not finish in 2 s")
	}
	outMu.Lock()
	os.Stdout.Sync()
	os.Exit(code)
}

func (p *peer) fail(msg string) {
	emit(map[string]interface{}{"event": "error", "message": msg})
	p.finish(1)
}

func (p *peer) printResult(ok bool) {
	p.resultPrinted = true
	t1 := p.t1
	if t1.IsZero() {
		t1 = time.Now()
	}
	secs := t1.Sub(p.t0).Seconds()
	if secs < 1e-9 {
		secs = 1e-9
	}
	round := func(x, scale float64) float64 { return math.Round(x*scale) / scale }
	emit(map[string]interface{}{"event": "result", "ok": ok, "sent": p.sent.Load(),
		"received": p.received, "bytes": p.bytes, "seconds": round(secs, 1e6),
		"mbps": round(float64(p.bytes)*8/secs/1e6, 1e3)})
}

// closeChannels closes every channel once what it has queued is out.
func (p *peer) closeChannels() {
	p.closing.Store(true)
	for _, c := range p.chans {
		c := c
		if c.ch == nil || c.closed {
			continue
		}
		go func() {
			for c.ch.BufferedAmount() > 0 && !p.finished.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			if err := c.ch.Close(); err != nil {
				logf("channel close: %v", err)
			}
		}()
	}
}

func (p *peer) done() {
	ok := p.ok && (!p.reliable || p.received == p.o.send)
	p.printResult(ok)
	if ok && p.restarted && !p.restartAnswered {
		// The old pair carried the echoes while the restart was under way: wait for the
		// answer to the restart offer before ending (bounded by --timeout).
		logf("series done before the restart answer: waiting for it")
		p.endAfterRestart = true
		return
	}
	p.endSeries(ok)
}

// restartIce sends an ICE restart offer (new ufrag and password) while the series flows.
func (p *peer) restartIce() {
	logf("ICE restart after %d echoes", p.received)
	p.restarted = true
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.fail(fmt.Sprintf("restart: %v", err))
		return
	}
	emit(map[string]interface{}{"type": "offer", "sdp": p.pc.LocalDescription().SDP})
	emit(map[string]interface{}{"event": "restart"})
}

func (p *peer) endSeries(ok bool) {
	switch {
	case !ok:
		p.finish(1)
	case p.o.close:
		p.closeChannels() // exit once they are seen closed
	case p.o.awaitClose:
		if p.nClosed == p.o.channels {
			time.AfterFunc(250*time.Millisecond, func() { p.post(func() { p.finish(0) }) })
		} else {
			logf("waiting for the other side to close the channel")
		}
	case p.o.closePeer:
		logf("closing the peer connection")
		go func() {
			if err := p.pc.Close(); err != nil {
				logf("close: %v", err)
			}
			time.Sleep(300 * time.Millisecond) // let the goodbye go out
			p.post(func() { p.finish(0) })
		}()
	default:
		p.finish(0)
	}
}

func (p *peer) checkReceived(ch *webrtc.DataChannel) {
	var problems []string
	if ch.Protocol() != p.o.protocol {
		problems = append(problems, fmt.Sprintf("protocol %q != %q", ch.Protocol(), p.o.protocol))
	}
	if ch.Ordered() != !p.o.unordered {
		problems = append(problems, fmt.Sprintf("ordered %v", ch.Ordered()))
	}
	eq := func(a, b *uint16) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	show := func(a *uint16) string {
		if a == nil {
			return "null"
		}
		return strconv.Itoa(int(*a))
	}
	if !eq(ch.MaxRetransmits(), p.o.maxRetransmits) {
		problems = append(problems, "maxRetransmits "+show(ch.MaxRetransmits()))
	}
	if !eq(ch.MaxPacketLifeTime(), p.o.maxPacketLifeTime) {
		problems = append(problems, "maxPacketLifeTime "+show(ch.MaxPacketLifeTime()))
	}
	if len(problems) > 0 {
		p.fail(fmt.Sprintf("received channel %s differs: %s", ch.Label(), strings.Join(problems, ", ")))
	}
}

// sendAll runs on its own goroutine: Pion's Send queues without blocking, so it paces itself
// on the buffered amount as the browser peers do.
func (p *peer) sendAll() {
	const high = 1 << 20
	for _, c := range p.chans {
		c.ch.SetBufferedAmountLowThreshold(high >> 2)
		c.ch.OnBufferedAmountLow(func() {
			select {
			case p.low <- struct{}{}:
			default:
			}
		})
	}
	for i := 0; i < p.o.send; i++ {
		ch := p.chans[i%p.o.channels].ch
		for ch.BufferedAmount() > high {
			select {
			case <-p.low:
			case <-time.After(5 * time.Millisecond):
			}
			if p.finished.Load() || p.closing.Load() {
				return
			}
		}
		m := makeMessage(i, p.o.size, p.o)
		var err error
		if p.o.text {
			err = ch.SendText(string(m))
		} else {
			err = ch.Send(m)
		}
		if err != nil {
			p.post(func() { p.fail(fmt.Sprintf("send: %v", err)) })
			return
		}
		p.sent.Add(1)
	}
	if !p.reliable {
		p.post(p.armQuiet)
	}
}

func (p *peer) armQuiet() {
	if p.quiet != nil {
		p.quiet.Stop()
	}
	p.quiet = time.AfterFunc(2*time.Second, func() { p.post(p.done) })
}

func (p *peer) onMessage(c *slot, k int, msg webrtc.DataChannelMessage) {
	if p.finished.Load() {
		return
	}
	if p.o.echo {
		if p.closing.Load() {
			return
		}
		var err error
		if msg.IsString {
			err = c.ch.SendText(string(msg.Data))
		} else {
			err = c.ch.Send(msg.Data)
		}
		if err != nil {
			logf("echo failed: %v", err) // e.g. the channel closed meanwhile
		} else {
			p.echoed++
		}
		if p.o.closeAfter >= 0 && p.echoed == p.o.closeAfter {
			logf("%d echoed: closing the channel", p.echoed)
			p.closeChannels()
		}
		return
	}
	if p.o.send == 0 || p.resultPrinted {
		return
	}
	i := -1
	if msg.IsString == p.o.text && (!p.o.text || utf8.Valid(msg.Data)) {
		i = indexOf(msg.Data, p.o, c.nextExpected)
	}
	switch {
	case i < 0:
		p.ok = false
		logf("echo %d is corrupt or of the wrong kind", p.received)
	case i%p.o.channels != k:
		p.ok = false
		logf("echo %d came back on channel %d", i, k)
	default:
		if p.reliable && !p.o.unordered && i != c.nextExpected {
			p.ok = false
			logf("echo %d out of order (expected %d)", i, c.nextExpected)
		}
		c.nextExpected = i + p.o.channels
	}
	p.received++
	p.bytes += len(msg.Data)
	p.t1 = time.Now()
	if p.o.restartIceAt >= 0 && !p.restarted && p.received == p.o.restartIceAt {
		p.restartIce()
	}
	if !p.reliable {
		p.armQuiet()
	} else if p.received == p.o.send {
		p.done()
	}
}

// setup sets the channel's handlers; the caller has recorded it in c.ch (or posted that).
func (p *peer) setup(c *slot, k int, ch *webrtc.DataChannel) {
	ch.OnOpen(func() {
		p.post(func() {
			if c.opened || p.finished.Load() {
				return
			}
			c.opened = true
			p.nOpen++
			id := -1
			if ch.ID() != nil {
				id = int(*ch.ID())
			}
			emit(map[string]interface{}{"event": "open", "label": ch.Label(), "id": id})
			if p.o.send > 0 && p.nOpen == p.o.channels {
				p.t0 = time.Now()
				go p.sendAll()
			}
		})
	})
	ch.OnClose(func() {
		p.post(func() {
			if c.closed || p.finished.Load() {
				return
			}
			c.closed = true
			p.nClosed++
			emit(map[string]interface{}{"event": "closed", "label": ch.Label()})
			if p.o.awaitPeerClose {
				return // the connection state says when the peer is gone
			}
			if p.o.send > 0 && !p.resultPrinted {
				logf("a channel closed before every echo arrived")
				p.printResult(false)
				p.finish(1)
				return
			}
			if !p.closing.Load() && p.o.send == 0 {
				p.closeChannels() // the other side closes: follow
			}
			if p.nClosed == p.o.channels {
				// Pion answers a peer's stream reset with its own from another goroutine:
				// give that a moment to leave before the association goes.
				time.AfterFunc(250*time.Millisecond, func() { p.post(func() { p.finish(0) }) })
			}
		})
	})
	ch.OnMessage(func(msg webrtc.DataChannelMessage) {
		p.post(func() { p.onMessage(c, k, msg) })
	})
	ch.OnError(func(err error) { logf("channel %s: %v", ch.Label(), err) })
}

// logTransport prints what this side negotiated: the selected pair and the DTLS state.
func (p *peer) logTransport() {
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	desc := "none"
	if err == nil && pair != nil {
		desc = fmt.Sprintf("%s %s %s:%d <-> %s %s %s:%d", pair.Local.Typ, pair.Local.Protocol,
			pair.Local.Address, pair.Local.Port, pair.Remote.Typ, pair.Remote.Protocol,
			pair.Remote.Address, pair.Remote.Port)
	}
	// Pion 3.1 fills no dtlsCipher in its stats; its DTLS completes only with an SRTP
	// protection profile chosen (use_srtp), so reaching "connected" proves one was.
	logf("transport: selected pair %s; DTLS %s as %s, a use_srtp profile negotiated",
		desc, p.pc.SCTP().Transport().State(), p.dtlsRole())
}

// dtlsRole: RFC 5763 §5, the answer's a=setup says who is the DTLS client ("active").
func (p *peer) dtlsRole() string {
	setup := func(d *webrtc.SessionDescription) string {
		if d == nil {
			return ""
		}
		for _, l := range strings.Split(d.SDP, "\n") {
			if strings.HasPrefix(l, "a=setup:") {
				return strings.TrimSpace(l[len("a=setup:"):])
			}
		}
		return ""
	}
	answer, ours := p.pc.CurrentRemoteDescription(), false
	if p.o.role == "answer" {
		answer, ours = p.pc.CurrentLocalDescription(), true
	}
	if s := setup(answer); s == "active" || s == "passive" {
		if (s == "active") == ours {
			return "client"
		}
		return "server"
	}
	return "?"
}

func (p *peer) onState() {
	if p.finished.Load() {
		return
	}
	s := p.pc.ConnectionState().String()
	if s == p.lastState {
		return
	}
	p.lastState = s
	emit(map[string]interface{}{"event": "connection", "state": s})
	if p.o.awaitPeerClose && (s == "disconnected" || s == "failed" || s == "closed") {
		logf("the peer went away: connection %s", s)
		p.finish(0)
		return
	}
	if s == "failed" {
		p.fail("connection failed")
	}
	if s == "connected" {
		p.logTransport()
	}
}

func (p *peer) addCandidate(m map[string]interface{}) error {
	c, _ := m["candidate"].(string)
	if c == "" {
		return nil // end of candidates: accept and ignore
	}
	init := webrtc.ICECandidateInit{Candidate: c}
	if mid, ok := m["sdpMid"].(string); ok {
		init.SDPMid = &mid
	}
	if idx, ok := m["sdpMLineIndex"].(float64); ok {
		v := uint16(idx)
		init.SDPMLineIndex = &v
	}
	return p.pc.AddICECandidate(init)
}

func (p *peer) input(line string) {
	line = strings.TrimSpace(line)
	if line == "" || p.finished.Load() {
		return
	}
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		logf("ignoring non-JSON line: %.80s", line)
		return
	}
	typ, _ := m["type"].(string)
	sdp, _ := m["sdp"].(string)
	_, isCand := m["candidate"]
	var err error
	sig := p.pc.SignalingState()
	switch {
	case typ == "offer" && p.remoteSet && sig == webrtc.SignalingStateStable:
		// a later offer (the other side restarts ICE): answer it
		if err = p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			break
		}
		var ans webrtc.SessionDescription
		if ans, err = p.pc.CreateAnswer(nil); err != nil {
			break
		}
		if err = p.pc.SetLocalDescription(ans); err != nil {
			break
		}
		emit(map[string]interface{}{"type": "answer", "sdp": p.pc.LocalDescription().SDP})
		emit(map[string]interface{}{"event": "renegotiated", "type": "offer"})
	case typ == "answer" && p.remoteSet && sig == webrtc.SignalingStateHaveLocalOffer:
		// the answer to our restart offer
		if err = p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
			break
		}
		emit(map[string]interface{}{"event": "renegotiated", "type": "answer"})
		p.restartAnswered = true
		if p.endAfterRestart {
			p.endAfterRestart = false
			p.endSeries(true)
		}
	case typ == "offer" && p.o.role == "answer":
		if err = p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			break
		}
		p.remoteSet = true
		var ans webrtc.SessionDescription
		if ans, err = p.pc.CreateAnswer(nil); err != nil {
			break
		}
		if err = p.pc.SetLocalDescription(ans); err != nil {
			break
		}
		emit(map[string]interface{}{"type": "answer", "sdp": p.pc.LocalDescription().SDP})
	case typ == "answer" && p.o.role == "offer":
		if err = p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err == nil {
			p.remoteSet = true
		}
	case isCand:
		if !p.remoteSet {
			p.pending = append(p.pending, m)
			return
		}
		err = p.addCandidate(m)
	default:
		logf("ignoring line: %.80s", line)
		return
	}
	for err == nil && p.remoteSet && len(p.pending) > 0 {
		err = p.addCandidate(p.pending[0])
		p.pending = p.pending[1:]
	}
	if err != nil {
		p.fail(fmt.Sprintf("signaling: %v", err))
	}
}

const eofGrace = 2 * time.Second

func (p *peer) eof() {
	if p.o.send > 0 || p.finished.Load() || p.o.awaitPeerClose {
		return // a sender finishes on its own; an awaiting echoer notices the peer itself
	}
	if (p.o.close || p.o.closeAfter >= 0) && p.nClosed < p.o.channels {
		logf("stdin closed before the channel was")
		p.finish(1)
		return
	}
	// The other side has exited, perhaps just after closing the channels: give their close a
	// moment to arrive here, so it is reported rather than cut short.
	t0 := time.Now()
	var wait func()
	wait = func() {
		n := 0
		for _, c := range p.chans {
			if c.ch != nil {
				n++
			}
		}
		if p.nClosed == n || time.Since(t0) > eofGrace {
			p.finish(0)
			return
		}
		time.AfterFunc(10*time.Millisecond, func() { p.post(wait) })
	}
	wait()
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err != nil {
		logf("usage: %v", err)
		os.Exit(2)
	}
	p := &peer{o: o, reliable: o.maxRetransmits == nil && o.maxPacketLifeTime == nil,
		loop: make(chan func(), 1<<16), ok: true, low: make(chan struct{}, 1)}

	var se webrtc.SettingEngine
	// Pion's own log (PION_LOG_DEBUG=sctp,... etc.) goes to stderr: stdout is the protocol.
	lf := logging.NewDefaultLoggerFactory()
	lf.Writer = os.Stderr
	se.LoggerFactory = lf
	se.SetIncludeLoopbackCandidate(true) // the namespaces have loopback only
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	p.pc, err = api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		logf("new peer connection: %v", err)
		os.Exit(1)
	}

	p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			emit(map[string]interface{}{"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0})
			return
		}
		j := c.ToJSON()
		emit(map[string]interface{}{"candidate": j.Candidate, "sdpMid": "0", "sdpMLineIndex": 0})
	})
	p.pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) { p.post(p.onState) })

	for k := 0; k < o.channels; k++ {
		l := o.label
		if o.channelsGiven {
			l = fmt.Sprintf("%s-%d", o.label, k)
		}
		p.labels = append(p.labels, l)
		p.chans = append(p.chans, &slot{nextExpected: k})
	}
	ordered := !o.unordered
	init := &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: o.maxRetransmits,
		MaxPacketLifeTime: o.maxPacketLifeTime}
	if o.protocol != "" {
		init.Protocol = &o.protocol
	}
	if o.negotiated != nil {
		t := true
		init.Negotiated = &t
		init.ID = o.negotiated
	}
	if o.role == "offer" || o.negotiated != nil {
		for k, c := range p.chans {
			ch, err := p.pc.CreateDataChannel(p.labels[k], init)
			if err != nil {
				logf("create data channel: %v", err)
				os.Exit(1)
			}
			c.ch = ch // the loop is not running yet
			p.setup(c, k, ch)
		}
	}
	if o.negotiated == nil {
		p.pc.OnDataChannel(func(ch *webrtc.DataChannel) {
			// Pion runs this before the channel's own events: set the handlers here, check and
			// record on the loop.
			k := -1
			for i, l := range p.labels {
				if l == ch.Label() {
					k = i
				}
			}
			if k < 0 {
				p.post(func() {
					p.fail(fmt.Sprintf("received channel %s: no such label (want %s)", ch.Label(), strings.Join(p.labels, ", ")))
				})
				return
			}
			c := p.chans[k]
			p.post(func() {
				if c.ch != nil {
					logf("ignoring a second channel %s", ch.Label())
					return
				}
				c.ch = ch
				p.checkReceived(ch)
			})
			p.setup(c, k, ch) // before returning: Pion fires the channel's events after
		})
	}

	time.AfterFunc(time.Duration(o.timeout)*time.Second, func() {
		p.post(func() {
			logf("timeout after %ds", o.timeout)
			if o.send > 0 && !p.resultPrinted {
				p.printResult(false)
			}
			p.finish(1)
		})
	})

	if o.role == "offer" {
		offer, err := p.pc.CreateOffer(nil)
		if err == nil {
			err = p.pc.SetLocalDescription(offer)
		}
		if err != nil {
			p.fail(fmt.Sprintf("offer: %v", err))
		}
		emit(map[string]interface{}{"type": "offer", "sdp": p.pc.LocalDescription().SDP})
	}

	go func() {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.post(func() { p.input(line) })
		}
		p.post(p.eof)
	}()
	for f := range p.loop {
		f()
	}
}
