# WebRTCMultiplayer on zdc in one process: three members (ids 1, 2, 3; 1 is connected to 2 and
# to 3), every transfer mode in both directions, and the sender id of every packet.
# Prints "N passed, N failed"; the exit code is 0 iff none failed.
extends SceneTree

var passed = 0
var failed = 0
var m = {}      # id -> WebRTCMultiplayer
var conns = {}  # "a-b" -> WebRTCPeerConnection held by member a for member b

func check(ok, what):
	if ok:
		passed += 1
	else:
		failed += 1
		print("FAIL: ", what)

func report():
	print("godot: multiplayer.gd: %d passed, %d failed" % [passed, failed])
	OS.exit_code = 0 if failed == 0 and passed > 0 else 1
	quit()

func _init():
	Engine.target_fps = 250
	run()

func _on_desc(type, sdp, a, b):
	conns["%d-%d" % [a, b]].set_local_description(type, sdp)
	conns["%d-%d" % [b, a]].set_remote_description(type, sdp)

func _on_cand(mid, index, name, a, b):
	conns["%d-%d" % [b, a]].add_ice_candidate(mid, index, name)

func link(a, b):
	for pair in [[a, b], [b, a]]:
		var pc = WebRTCPeerConnection.new()
		check(pc.initialize({"iceServers": []}) == OK, "initialize %d-%d" % pair)
		pc.connect("session_description_created", self, "_on_desc", pair)
		pc.connect("ice_candidate_created", self, "_on_cand", pair)
		conns["%d-%d" % pair] = pc
		check(m[pair[0]].add_peer(pc, pair[1]) == OK, "add_peer %d-%d (three channels, maxPacketLifetime)" % pair)
	check(conns["%d-%d" % [a, b]].create_offer() == OK, "create_offer %d-%d" % [a, b])

func poll_all():
	for id in m:
		m[id].poll()

func connected(a, b):
	return m[a].has_peer(b) and m[a].get_peer(b).connected and m[b].has_peer(a) and m[b].get_peer(a).connected

func payload(from, to, mode, k):
	return ("%d>%d mode %d #%d" % [from, to, mode, k]).to_utf8()

func run():
	yield(self, "idle_frame")
	for id in [1, 2, 3]:
		m[id] = WebRTCMultiplayer.new()
		check(m[id].initialize(id) == OK, "initialize %d" % id)
	link(1, 2)
	link(1, 3)
	var t0 = OS.get_ticks_msec()
	while not (connected(1, 2) and connected(1, 3)) and OS.get_ticks_msec() - t0 < 15000:
		poll_all()
		yield(self, "idle_frame")
	check(connected(1, 2) and connected(1, 3), "all members connected")
	if failed:
		report()
		return
	var modes = [NetworkedMultiplayerPeer.TRANSFER_MODE_RELIABLE,
		NetworkedMultiplayerPeer.TRANSFER_MODE_UNRELIABLE_ORDERED,
		NetworkedMultiplayerPeer.TRANSFER_MODE_UNRELIABLE]
	for mode in modes:
		for pair in [[1, 2], [2, 1], [1, 3], [3, 1]]:
			var from = pair[0]
			var to = pair[1]
			m[from].transfer_mode = mode
			m[from].set_target_peer(to)
			for k in range(3):
				check(m[from].put_packet(payload(from, to, mode, k)) == OK, "put_packet %d>%d mode %d" % [from, to, mode])
		# Member 1 hears from 2 and 3: the sender id tells them apart.
		var want = {1: 6, 2: 3, 3: 3}
		t0 = OS.get_ticks_msec()
		var got = {1: [], 2: [], 3: []}
		while OS.get_ticks_msec() - t0 < 5000:
			poll_all()
			for id in m:
				while m[id].get_available_packet_count() > 0:
					var sender = m[id].get_packet_peer()
					var data = m[id].get_packet()
					got[id].append([sender, data.get_string_from_utf8()])
			if got[1].size() >= want[1] and got[2].size() >= want[2] and got[3].size() >= want[3]:
				break
			yield(self, "idle_frame")
		for id in got:
			check(got[id].size() == want[id], "mode %d: member %d got %d of %d" % [mode, id, got[id].size(), want[id]])
			for e in got[id]:
				var expect = "%d>%d mode %d #" % [e[0], id, mode]
				check(e[1].begins_with(expect), "mode %d: member %d: packet '%s' from sender id %d" % [mode, id, e[1], e[0]])
	# Broadcast from 1 reaches 2 and 3.
	m[1].transfer_mode = NetworkedMultiplayerPeer.TRANSFER_MODE_RELIABLE
	m[1].set_target_peer(NetworkedMultiplayerPeer.TARGET_PEER_BROADCAST)
	check(m[1].put_packet("all".to_utf8()) == OK, "broadcast")
	t0 = OS.get_ticks_msec()
	while (m[2].get_available_packet_count() == 0 or m[3].get_available_packet_count() == 0) and OS.get_ticks_msec() - t0 < 5000:
		poll_all()
		yield(self, "idle_frame")
	for id in [2, 3]:
		check(m[id].get_available_packet_count() == 1 and m[id].get_packet_peer() == 1 and m[id].get_packet().get_string_from_utf8() == "all", "broadcast reached %d" % id)
	# Removing a member closes its connection.
	m[1].remove_peer(3)
	check(not m[1].has_peer(3), "remove_peer")
	for id in m:
		m[id].close()
	m.clear()
	conns.clear()
	yield(self, "idle_frame")
	var ns = NativeScript.new()
	ns.library = load("res://addons/zdc/zdc.gdnlib")
	ns.set_class_name("ZdcInfo")
	var st = ns.new().get_stats()
	check(st.peers == 0 and st.channels == 0 and st.engine_alive == 0, "everything released: %s" % str(st))
	report()
