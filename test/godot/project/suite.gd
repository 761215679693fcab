# Single-process suite: two zdc peers inside one Godot, through Godot's own WebRTC classes.
# Prints "N passed, N failed"; the exit code is 0 iff none failed.
extends SceneTree

var passed = 0
var failed = 0
var pa
var pb
var received = []
var info

func check(ok, what):
	if ok:
		passed += 1
	else:
		failed += 1
		print("FAIL: ", what)

func stats():
	return info.get_stats()

func _init():
	Engine.target_fps = 250
	var ns = NativeScript.new()
	ns.library = load("res://addons/zdc/zdc.gdnlib")
	ns.set_class_name("ZdcInfo")
	info = ns.new()
	run()

func report():
	print("godot: suite.gd: %d passed, %d failed" % [passed, failed])
	OS.exit_code = 0 if failed == 0 and passed > 0 else 1
	quit()

# Signal handlers re-enter the peers: set_local_description, the other's set_remote_description.
func _on_desc(type, sdp, who):
	var me = pa if who == "a" else pb
	var other = pb if who == "a" else pa
	check(me.set_local_description(type, sdp) == OK, "set_local_description(%s) on %s" % [type, who])
	check(other.set_remote_description(type, sdp) == OK, "set_remote_description(%s) from %s" % [type, who])

var reentered = false

func _on_cand(mid, index, name, who):
	var other = pb if who == "a" else pa
	check(other.add_ice_candidate(mid, index, name) == OK, "add_ice_candidate from %s" % who)
	if who == "b" and not reentered:
		# poll() again from inside one of the peer's own signals
		reentered = true
		check(pb.poll() == OK, "poll re-entered from a signal handler")

# A peer closed from inside its own signal handler. (Not dropped there: Godot 3.2 itself warns
# that freeing an object while it emits a signal may crash Godot.)
var pe
var pe_desc = 0
var pe_cands = 0

func _on_desc_close(type, sdp):
	pe_desc += 1
	pe.close()

func _on_cand_after_close(mid, index, name):
	pe_cands += 1

func _on_channel(ch):
	received.append(ch)

func pump(frames):
	for i in range(frames):
		if pa: pa.poll()
		if pb: pb.poll()
		yield(self, "idle_frame")

func wait_for(obj, method, args, want, ms):
	yield(self, "idle_frame")  # always a coroutine: callers yield on "completed"
	var t0 = OS.get_ticks_msec()
	while OS.get_ticks_msec() - t0 < ms:
		if obj.callv(method, args) == want:
			return true
		if pa: pa.poll()
		if pb: pb.poll()
		yield(self, "idle_frame")
	return obj.callv(method, args) == want

func pattern(n, seed_):
	var b = PoolByteArray()
	b.resize(n)
	for i in range(n):
		b[i] = (i * 7 + seed_) % 251
	return b

func run():
	yield(self, "idle_frame")
	# --- zdc is Godot's implementation
	pa = WebRTCPeerConnection.new()
	pb = WebRTCPeerConnection.new()
	check(pa.get_class() == "WebRTCPeerConnectionGDNative", "WebRTCPeerConnection.new() is GDNative's")
	check(pa.get_script() != null and pa.get_script().get_class_name() == "ZdcPeerConnection", "ZdcPeerConnection attached")
	check(pa.get_connection_state() == WebRTCPeerConnection.STATE_NEW, "state NEW")
	check(stats().peers == 2 and stats().engine_alive == 1, "two peers on one engine: %s" % str(stats()))
	# --- initialize: iceServers forms
	check(pa.initialize({"iceServers": [{"urls": ["stun:127.0.0.1:3478", "stun:127.0.0.1:3479"]}]}) == OK, "iceServers, urls array")
	check(pa.initialize({"iceServers": [{"urls": "stun:127.0.0.1:3478", "username": "u", "credential": "c"}]}) == OK, "iceServers, urls string")
	check(pa.initialize({"iceServers": "stun:127.0.0.1"}) == ERR_INVALID_PARAMETER, "iceServers not an array")
	check(pa.initialize({"iceServers": [{"username": "u"}]}) == ERR_INVALID_PARAMETER, "iceServers without urls")
	check(pa.initialize({"iceServers": [{"urls": "http://example.invalid"}]}) != OK, "iceServers bad scheme")
	check(pa.initialize({}) == OK, "initialize({})")
	check(pb.initialize() == OK, "initialize()")
	for p in [["a", pa], ["b", pb]]:
		p[1].connect("session_description_created", self, "_on_desc", [p[0]])
		p[1].connect("ice_candidate_created", self, "_on_cand", [p[0]])
	pb.connect("data_channel_received", self, "_on_channel")
	# --- channels: one through DCEP, one negotiated
	var ca = pa.create_data_channel("chat", {"protocol": "p1", "ordered": true})
	var na = pa.create_data_channel("neg", {"negotiated": true, "id": 7, "maxPacketLifeTime": 500})
	var nb = pb.create_data_channel("neg", {"negotiated": true, "id": 7, "maxPacketLifetime": 500})
	var ua = pa.create_data_channel("unrel", {"ordered": false, "maxRetransmits": 0})
	check(ca != null and na != null and nb != null and ua != null, "create_data_channel")
	check(ca.get_label() == "chat" and ca.get_protocol() == "p1" and ca.is_ordered(), "chat label/protocol/ordered")
	check(na.is_negotiated() and na.get_id() == 7 and na.get_max_packet_life_time() == 500, "negotiated id 7, maxPacketLifeTime")
	check(nb.get_max_packet_life_time() == 500, "maxPacketLifetime (3.2.3 multiplayer spelling)")
	check(not ua.is_ordered() and ua.get_max_retransmits() == 0, "unordered, maxRetransmits 0")
	check(ca.get_ready_state() == WebRTCDataChannel.STATE_CONNECTING, "channel CONNECTING before the offer")
	check(pa.create_offer() == OK, "create_offer")
	var ok = yield(wait_for(pa, "get_connection_state", [], WebRTCPeerConnection.STATE_CONNECTED, 15000), "completed")
	check(ok, "a CONNECTED")
	ok = yield(wait_for(pb, "get_connection_state", [], WebRTCPeerConnection.STATE_CONNECTED, 5000), "completed")
	check(ok, "b CONNECTED")
	ok = yield(wait_for(self, "_count_received", [], 2, 5000), "completed")
	check(ok, "b received the DCEP channels")
	ok = yield(wait_for(ca, "get_ready_state", [], WebRTCDataChannel.STATE_OPEN, 5000), "completed")
	check(ok, "chat OPEN")
	ok = yield(wait_for(nb, "get_ready_state", [], WebRTCDataChannel.STATE_OPEN, 5000), "completed")
	check(ok, "negotiated OPEN")
	var rb = null
	var rub = null
	for ch in received:
		if ch.get_label() == "chat": rb = ch
		if ch.get_label() == "unrel": rub = ch
	check(rb != null and rub != null, "received chat and unrel")
	if rb == null or rub == null:
		report()
		return
	check(rb.get_protocol() == "p1" and not rb.is_negotiated() and rb.get_id() == ca.get_id(), "received chat's options")
	check(not rub.is_ordered() and rub.get_max_retransmits() == 0, "received unrel's options")
	# --- text and binary
	ca.write_mode = WebRTCDataChannel.WRITE_MODE_TEXT
	check(ca.put_packet("hello zdc".to_utf8()) == OK, "put text")
	ca.write_mode = WebRTCDataChannel.WRITE_MODE_BINARY
	check(ca.put_packet(pattern(1200, 1)) == OK, "put binary 1200")
	check(ca.put_packet(pattern(3, 2)) == OK, "put binary 3")
	ok = yield(wait_for(rb, "get_available_packet_count", [], 3, 5000), "completed")
	check(ok, "3 packets waiting")
	var p1 = rb.get_packet()
	check(p1.get_string_from_utf8() == "hello zdc" and rb.was_string_packet(), "text arrives as text")
	check(rb.get_available_packet_count() == 2, "count excludes the packet handed out")
	var p2 = rb.get_packet()
	check(p2 == pattern(1200, 1) and not rb.was_string_packet(), "binary arrives as binary")
	check(rb.get_available_packet_count() == 1, "count 1")
	check(rb.get_packet() == pattern(3, 2), "third packet")
	check(rb.get_available_packet_count() == 0, "count 0")
	check(rb.get_packet().size() == 0 and rb.get_packet_error() == ERR_UNAVAILABLE, "get_packet on an empty channel: ERR_UNAVAILABLE")
	# --- put_var / get_var on the negotiated channel, both ways
	var v = {"pos": Vector2(1.5, -2), "name": "zdc", "list": [1, 2.5, "x"]}
	check(na.put_var(v) == OK, "put_var")
	ok = yield(wait_for(nb, "get_available_packet_count", [], 1, 5000), "completed")
	check(ok and str(nb.get_var()) == str(v), "get_var equals put_var")
	check(nb.put_var([42, "back"]) == OK, "put_var back")
	ok = yield(wait_for(na, "get_available_packet_count", [], 1, 5000), "completed")
	check(ok and na.get_var() == [42, "back"], "get_var the other way")
	# --- a 200 KB message
	var big = pattern(200 * 1024, 3)
	check(ca.put_packet(big) == OK, "put 200 KB")
	ok = yield(wait_for(rb, "get_available_packet_count", [], 1, 10000), "completed")
	check(ok and rb.get_packet() == big, "200 KB arrives intact")
	# --- bad use: Godot errors, no crash
	check(ca.put_packet(pattern(300 * 1024, 4)) != OK, "300 KB over max-message-size refused")
	check(pa.create_data_channel("late", {}) == null, "create_data_channel after connecting: null")
	check(pa.set_remote_description("offer", "v=0\r\ngarbage") != OK, "garbage offer refused")
	check(pa.set_remote_description("nonsense", "v=0") != OK, "bad description type refused")
	check(pa.add_ice_candidate("0", 0, "candidate:garbage") != OK, "garbage candidate refused")
	check(pa.set_local_description("answer", "v=0") != OK, "foreign local description refused")
	var pc = WebRTCPeerConnection.new()
	check(pc.create_offer() != OK, "create_offer without a channel refused")
	check(pc.create_data_channel("bad", {"negotiated": true}) == null, "negotiated without id: null")
	check(pc.create_data_channel("bad", {"negotiated": true, "id": 70000}) == null, "id out of range: null")
	check(pc.create_data_channel("bad", {"id": "x"}) == null, "id of the wrong type: null")
	check(pc.create_data_channel("bad", {"maxRetransmits": 1, "maxPacketLifeTime": 1}) == null, "both reliability limits: null")
	check(pc.create_data_channel("bad", {"maxRetransmits": -5}) == null, "negative maxRetransmits: null")
	var n1 = pc.create_data_channel("dup", {"negotiated": true, "id": 9})
	check(n1 != null and pc.create_data_channel("dup2", {"negotiated": true, "id": 9}) == null, "a negotiated id used twice: null")
	n1 = null
	check(pc.set_remote_description("answer", "v=0\r\n") != OK, "answer without an offer refused")
	pc.close()
	check(pc.get_connection_state() == WebRTCPeerConnection.STATE_CLOSED, "closed peer: CLOSED")
	check(pc.poll() == OK, "poll after close: OK, nothing to do")
	check(pc.create_data_channel("x", {}) == null, "create_data_channel after close: null")
	pc = null
	# --- channel close
	ca.close()
	ok = yield(wait_for(rb, "get_ready_state", [], WebRTCDataChannel.STATE_CLOSED, 5000), "completed")
	check(ok, "remote sees the channel CLOSED")
	check(ca.put_packet(pattern(10, 5)) != OK, "put_packet on a closed channel refused")
	# --- close and free a peer from inside its own signal: no signal after close
	pe = WebRTCPeerConnection.new()
	var pe_ch = pe.create_data_channel("x", {})
	pe.connect("session_description_created", self, "_on_desc_close")
	pe.connect("ice_candidate_created", self, "_on_cand_after_close")
	check(pe.create_offer() == OK, "create_offer (closed from its handler)")
	var t0 = OS.get_ticks_msec()
	while pe_desc == 0 and OS.get_ticks_msec() - t0 < 5000:
		pe.poll()
		yield(self, "idle_frame")
	for i in range(5):
		pe.poll()
		yield(self, "idle_frame")
	check(pe_desc == 1 and pe_cands == 0, "closed in its handler: no signal after close (%d, %d)" % [pe_desc, pe_cands])
	check(pe.get_connection_state() == WebRTCPeerConnection.STATE_CLOSED, "closed in its handler: CLOSED")
	check(pe_ch.get_ready_state() == WebRTCDataChannel.STATE_CLOSED, "its channel answers CLOSED")
	var pe_ref = weakref(pe)
	pe = null
	check(pe_ref.get_ref() == null, "dropping the last reference frees it")
	pe_ch = null
	# --- objects freed by Godot release zdc's peers
	var before = stats()
	check(before.peers == 2 and before.channels == 6, "live before freeing: %s" % str(before))
	pb.close()
	check(pb.get_connection_state() == WebRTCPeerConnection.STATE_CLOSED, "b CLOSED after close()")
	pb = null
	yield(pump(1), "completed")
	check(stats().peers == 1, "freeing b's object freed its zdc peer: %s" % str(stats()))
	# Channels outlive their peer: a stale channel answers errors.
	check(rb.get_ready_state() == WebRTCDataChannel.STATE_CLOSED, "stale channel: CLOSED")
	check(rb.put_packet(pattern(10, 6)) != OK, "stale channel: put_packet refused")
	check(rb.get_label() == "" and rb.get_available_packet_count() == 0, "stale channel: neutral getters")
	check(rb.get_packet().size() == 0, "stale channel: get_packet empty")
	pa = null
	yield(self, "idle_frame")
	check(stats().peers == 0 and stats().engine_alive == 0, "last peer freed: engine freed: %s" % str(stats()))
	ca = null; na = null; nb = null; ua = null; rb = null; rub = null
	received.clear()
	yield(self, "idle_frame")
	check(stats().channels == 0, "every channel object freed: %s" % str(stats()))
	# A new peer after that gets a new engine.
	var pd = WebRTCPeerConnection.new()
	check(stats().engine_alive == 1 and pd.get_connection_state() == WebRTCPeerConnection.STATE_NEW, "a new engine for a new peer")
	pd = null
	check(stats().engine_alive == 0, "and freed again")
	report()

func _count_received():
	return received.size()
