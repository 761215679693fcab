# A Godot test peer speaking ../shared/PEER_PROTOCOL.md (v1) on zdc through Godot's own
# WebRTCPeerConnection / WebRTCDataChannel. Godot 3.2 cannot read stdin without blocking, so
# test/godot/godot-peer.mjs bridges the protocol's stdin/stdout to a TCP connection on
# 127.0.0.1:$ZDC_GODOT_SIGNAL_PORT; the options come in $ZDC_GODOT_PEER_ARGS (a JSON array).
# Supported options: --offer --answer --echo --send N --size S --text --label L --protocol P
# --negotiated ID --unordered --max-retransmits N --max-packet-life-time MS --close --timeout S.
# Besides the protocol's lines the bridge sends {"eof":true} when its stdin ends.
extends SceneTree

const STATE_NAMES = ["new", "connecting", "connected", "disconnected", "failed", "closed"]

var tcp = StreamPeerTCP.new()
var inbuf = ""
var o = {"offer": false, "answer": false, "echo": false, "send": 0, "size": 0, "text": false,
		"label": "test", "protocol": "", "negotiated": -1, "unordered": false,
		"max_retransmits": -1, "max_packet_life_time": -1, "close": false, "timeout": 30}
var pc
var ch = null
var last_state = -1
var opened = false
var closed_reported = false
var deadline = 0
var t0 = 0
var t_last = 0
var sent = 0
var received = 0
var bad = 0
var bytes = 0
var pending = []   # echoes not yet accepted by put_packet (ERR_BUSY): [data, is_text]
var base = PoolByteArray()
var phase = "connect"   # connect, run, closing, done
var exit_at = -1
var eof = false
var connected_tcp = false

func log_(s):
	printerr("[godot] ", s)

func out(obj):
	tcp.put_data((JSON.print(obj) + "\n").to_utf8())

func event(e):
	out(e)

func parse_args():
	var args = JSON.parse(OS.get_environment("ZDC_GODOT_PEER_ARGS")).result
	if typeof(args) != TYPE_ARRAY:
		return false
	var i = 0
	while i < args.size():
		var a = args[i]
		var v = args[i + 1] if i + 1 < args.size() else ""
		var flags = {"--offer": "offer", "--answer": "answer", "--echo": "echo", "--text": "text",
				"--unordered": "unordered", "--close": "close"}
		var ints = {"--send": "send", "--size": "size", "--negotiated": "negotiated",
				"--max-retransmits": "max_retransmits", "--max-packet-life-time": "max_packet_life_time",
				"--timeout": "timeout"}
		var strs = {"--label": "label", "--protocol": "protocol"}
		if flags.has(a):
			o[flags[a]] = true
		elif ints.has(a):
			o[ints[a]] = int(v)
			i += 1
		elif strs.has(a):
			o[strs[a]] = v
			i += 1
		else:
			log_("unknown option " + a)
			return false
		i += 1
	return o.offer != o.answer

func _init():
	Engine.target_fps = 500
	if not parse_args():
		log_("usage: see PEER_PROTOCOL.md")
		OS.exit_code = 2
		quit()
		return
	# Message i: bytes 0..3 its number, then a pattern; one base array, sliced per message.
	var span = 26 if o.text else 251
	base.resize(o.size + span + 1)
	for j in range(base.size()):
		base[j] = (97 + j % 26) if o.text else (j % 251)
	deadline = OS.get_ticks_msec() + o.timeout * 1000
	var port = int(OS.get_environment("ZDC_GODOT_SIGNAL_PORT"))
	if tcp.connect_to_host("127.0.0.1", port) != OK:
		log_("cannot connect to the bridge on port %d" % port)
		OS.exit_code = 1
		quit()
		return
	connect("idle_frame", self, "_step")

func message(i):
	var span = 26 if o.text else 251
	var k = i % span
	if o.size == 0:
		return PoolByteArray()
	var m = base.subarray(k, k + o.size - 1)
	if o.size >= 4:
		if o.text:
			var d = "%04d" % (i % 10000)
			for j in range(4):
				m[j] = d.ord_at(j)
		else:
			m[0] = (i >> 24) & 255
			m[1] = (i >> 16) & 255
			m[2] = (i >> 8) & 255
			m[3] = i & 255
	return m

func make_peer():
	pc = WebRTCPeerConnection.new()
	pc.initialize({})
	pc.connect("session_description_created", self, "_on_desc")
	pc.connect("ice_candidate_created", self, "_on_cand")
	pc.connect("data_channel_received", self, "_on_channel")
	if o.offer or o.negotiated >= 0:
		var opts = {"ordered": not o.unordered}
		if o.protocol != "": opts["protocol"] = o.protocol
		if o.negotiated >= 0:
			opts["negotiated"] = true
			opts["id"] = o.negotiated
		if o.max_retransmits >= 0: opts["maxRetransmits"] = o.max_retransmits
		if o.max_packet_life_time >= 0: opts["maxPacketLifeTime"] = o.max_packet_life_time
		ch = pc.create_data_channel(o.label, opts)
		if ch == null:
			fail("create_data_channel failed")
			return
	if o.offer:
		if pc.create_offer() != OK:
			fail("create_offer failed")

func _on_desc(type, sdp):
	pc.set_local_description(type, sdp)
	out({"type": type, "sdp": sdp})

func _on_cand(mid, index, name):
	out({"candidate": name, "sdpMid": mid, "sdpMLineIndex": index})

func _on_channel(c):
	if ch != null:
		log_("unexpected second channel " + c.get_label())
		return
	if c.get_label() != o.label or c.get_protocol() != o.protocol or c.is_ordered() == o.unordered:
		fail("received channel %s/%s ordered %s does not match the options" % [c.get_label(), c.get_protocol(), c.is_ordered()])
	ch = c

func fail(why):
	event({"event": "error", "message": why})
	log_(why)
	end_with(1)

func end_with(code):
	if phase == "done":
		return
	phase = "done"
	OS.exit_code = code
	exit_at = OS.get_ticks_msec() + 100   # let the last lines go out

func handle_line(line):
	var msg = JSON.parse(line).result
	if typeof(msg) != TYPE_DICTIONARY:
		log_("not JSON: " + line)
		return
	if msg.has("eof"):
		eof = true
	elif msg.has("type") and msg.has("sdp"):
		var err = pc.set_remote_description(msg.type, msg.sdp)
		if err != OK:
			fail("set_remote_description(%s) failed: %d" % [msg.type, err])
	elif msg.has("candidate"):
		if msg.candidate != "":
			var err = pc.add_ice_candidate(str(msg.get("sdpMid", "0")), int(msg.get("sdpMLineIndex", 0)), msg.candidate)
			if err != OK:
				log_("add_ice_candidate %s: %d (ignored)" % [msg.candidate, err])

func read_lines():
	var n = tcp.get_available_bytes()
	if n <= 0:
		return
	var r = tcp.get_data(n)
	if r[0] != OK:
		return
	inbuf += r[1].get_string_from_utf8()
	var parts = inbuf.split("\n")
	inbuf = parts[parts.size() - 1]
	for k in range(parts.size() - 1):
		if parts[k].strip_edges() != "":
			handle_line(parts[k])

func result():
	var end = t_last if received > 0 else OS.get_ticks_msec()
	var secs = max((end - t0) / 1000.0, 0.000001)
	var ok = bad == 0 and received == o.send
	event({"event": "result", "ok": ok, "sent": sent, "received": received, "bytes": bytes,
		"seconds": secs, "mbps": bytes * 8.0 / secs / 1e6})
	return ok

func _step():
	if phase == "done":
		if OS.get_ticks_msec() >= exit_at:
			disconnect("idle_frame", self, "_step")
			pc = null
			ch = null
			quit()
		return
	if not connected_tcp:
		if tcp.get_status() == StreamPeerTCP.STATUS_CONNECTED:
			connected_tcp = true
			make_peer()
		elif tcp.get_status() == StreamPeerTCP.STATUS_ERROR:
			log_("bridge connection failed")
			OS.exit_code = 1
			quit()
		return
	read_lines()
	if phase == "done":
		return
	pc.poll()
	var st = pc.get_connection_state()
	if st != last_state:
		last_state = st
		event({"event": "connection", "state": STATE_NAMES[st]})
		if st == WebRTCPeerConnection.STATE_FAILED:
			if o.send > 0: result()
			fail("connection failed")
			return
	if OS.get_ticks_msec() > deadline:
		if o.send > 0: result()
		fail("timeout after %d s" % o.timeout)
		return
	if ch == null:
		if eof: end_with(0)
		return
	var rs = ch.get_ready_state()
	if rs == WebRTCDataChannel.STATE_OPEN and not opened:
		opened = true
		event({"event": "open", "label": ch.get_label(), "id": ch.get_id()})
		ch.write_mode = WebRTCDataChannel.WRITE_MODE_TEXT if o.text else WebRTCDataChannel.WRITE_MODE_BINARY
		t0 = OS.get_ticks_msec()
	if opened and rs == WebRTCDataChannel.STATE_CLOSED and not closed_reported:
		closed_reported = true
		event({"event": "closed", "label": o.label})
	if opened and o.send > 0:
		sender_step(rs)
	elif opened:
		echo_step(rs)
	if eof and o.send == 0:
		end_with(0)

func sender_step(rs):
	while sent < o.send and rs == WebRTCDataChannel.STATE_OPEN:
		var err = ch.put_packet(message(sent))
		if err == ERR_BUSY:
			break
		if err != OK:
			fail("put_packet %d: %d" % [sent, err])
			return
		sent += 1
	while ch.get_available_packet_count() > 0:
		var m = ch.get_packet()
		if m != message(received) or ch.was_string_packet() != o.text:
			bad += 1
			if bad < 5: log_("echo %d differs (%d bytes)" % [received, m.size()])
		received += 1
		bytes += m.size()
		t_last = OS.get_ticks_msec()
	if phase == "run" or phase == "connect":
		phase = "run"
		if received >= o.send:
			var ok = result()
			if not ok:
				end_with(1)
			elif o.close:
				phase = "closing"
				ch.close()
			else:
				end_with(0)
	elif phase == "closing":
		if rs == WebRTCDataChannel.STATE_CLOSED:
			if not closed_reported:
				closed_reported = true
				event({"event": "closed", "label": o.label})
			pc.close()
			if last_state != WebRTCPeerConnection.STATE_CLOSED:
				event({"event": "connection", "state": "closed"})
			end_with(0)

func echo_step(rs):
	while ch.get_available_packet_count() > 0:
		var m = ch.get_packet()
		pending.append([m, ch.was_string_packet()])
	while pending.size() > 0 and rs == WebRTCDataChannel.STATE_OPEN:
		ch.write_mode = WebRTCDataChannel.WRITE_MODE_TEXT if pending[0][1] else WebRTCDataChannel.WRITE_MODE_BINARY
		var err = ch.put_packet(pending[0][0])
		if err == ERR_BUSY:
			break
		if err != OK:
			fail("echo put_packet: %d" % err)
			return
		pending.pop_front()
	if rs == WebRTCDataChannel.STATE_CLOSED:
		end_with(0)
