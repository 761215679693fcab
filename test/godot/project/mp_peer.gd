# One of two Godot processes joined by WebRTCMultiplayer on zdc, signaling through
# godot-peer.mjs (the PEER_PROTOCOL's offer/answer/candidate lines). --offer is member 1,
# --answer member 2. Each calls rpc_id(other, "ping") (reliable); the other answers with
# rpc_unreliable_id(sender, "pong"); both check the sender ids and the values. Prints a
# PEER_PROTOCOL result event; exit 0 iff its checks passed.
extends SceneTree

var tcp = StreamPeerTCP.new()
var inbuf = ""
var me = 0
var other = 0
var mp = WebRTCMultiplayer.new()
var pc = WebRTCPeerConnection.new()
var game
var phase = "tcp"
var deadline = 0
var pinged = false
var linger_until = -1
var code = 1

func out(obj):
	tcp.put_data((JSON.print(obj) + "\n").to_utf8())

func _init():
	Engine.target_fps = 250
	var args = JSON.parse(OS.get_environment("ZDC_GODOT_PEER_ARGS")).result
	me = 1 if "--offer" in args else 2
	other = 3 - me
	deadline = OS.get_ticks_msec() + 40000
	tcp.connect_to_host("127.0.0.1", int(OS.get_environment("ZDC_GODOT_SIGNAL_PORT")))
	connect("idle_frame", self, "_step")

func _on_desc(type, sdp):
	pc.set_local_description(type, sdp)
	out({"type": type, "sdp": sdp})

func _on_cand(mid, index, name):
	out({"candidate": name, "sdpMid": mid, "sdpMLineIndex": index})

func _on_peer_connected(id):
	out({"event": "connection", "state": "connected"})
	printerr("[godot] member %d: peer %d connected" % [me, id])

func start():
	game = Node.new()
	game.name = "Game"
	game.set_script(load("res://rpc_node.gd"))
	root.add_child(game)
	mp.initialize(me)
	mp.connect("peer_connected", self, "_on_peer_connected")
	pc.initialize({})
	pc.connect("session_description_created", self, "_on_desc")
	pc.connect("ice_candidate_created", self, "_on_cand")
	mp.add_peer(pc, other)
	network_peer = mp
	if me == 1:
		pc.create_offer()

func read_lines():
	var n = tcp.get_available_bytes()
	if n <= 0:
		return
	var r = tcp.get_data(n)
	inbuf += r[1].get_string_from_utf8()
	var parts = inbuf.split("\n")
	inbuf = parts[parts.size() - 1]
	for k in range(parts.size() - 1):
		var msg = JSON.parse(parts[k]).result
		if typeof(msg) != TYPE_DICTIONARY:
			continue
		if msg.has("type") and msg.has("sdp"):
			pc.set_remote_description(msg.type, msg.sdp)
		elif msg.has("candidate") and msg.candidate != "":
			pc.add_ice_candidate(str(msg.get("sdpMid", "0")), int(msg.get("sdpMLineIndex", 0)), msg.candidate)

func _step():
	if phase == "tcp":
		if tcp.get_status() == StreamPeerTCP.STATUS_CONNECTED:
			phase = "run"
			start()
		return
	if linger_until >= 0:
		# Keep answering the other side's ping for a moment before leaving.
		if OS.get_ticks_msec() >= linger_until:
			disconnect("idle_frame", self, "_step")
			network_peer = null
			OS.exit_code = code
			quit()
		return
	read_lines()
	if not pinged and mp.has_peer(other) and mp.get_peer(other).connected:
		pinged = true
		game.rpc_id(other, "ping", me * 10, "hello from %d" % me)
	var done = game and game.pings.size() >= 1 and game.pongs.size() >= 1
	if done or OS.get_ticks_msec() > deadline:
		var ok = done and game.pings[0] == [other, other * 10, "hello from %d" % other] and game.pongs[0] == [other, me * 20]
		if not ok:
			printerr("[godot] member %d: pings %s pongs %s" % [me, str(game.pings if game else []), str(game.pongs if game else [])])
		out({"event": "result", "ok": ok, "sent": 1, "received": game.pongs.size() if game else 0, "bytes": 0, "seconds": 0, "mbps": 0})
		code = 0 if ok else 1
		linger_until = OS.get_ticks_msec() + 1500
