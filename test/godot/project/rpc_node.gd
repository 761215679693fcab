# The node both processes of mp_peer.gd put at /root/Game: high-level RPCs over
# WebRTCMultiplayer on zdc.
extends Node

var pings = []  # [sender id, n, text]
var pongs = []  # [sender id, v]

remote func ping(n, text):
	var sender = get_tree().get_rpc_sender_id()
	pings.append([sender, n, text])
	rpc_unreliable_id(sender, "pong", n * 2)

remote func pong(v):
	pongs.append([get_tree().get_rpc_sender_id(), v])
