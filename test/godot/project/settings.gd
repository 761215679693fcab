# Engine options from the environment: run with ZDC_GODOT_PORT_MIN set to a bad value. The peer
# cannot get an engine: WebRTCPeerConnection.new() still returns an object, every call on it
# answers an error, nothing crashes, no engine or peer is left.
# Prints "N passed, N failed"; the exit code is 0 iff none failed.
extends SceneTree

var passed = 0
var failed = 0

func check(ok, what):
	if ok:
		passed += 1
	else:
		failed += 1
		print("FAIL: ", what)

func _init():
	var p = WebRTCPeerConnection.new()
	check(p != null, "new() returns an object")
	check(p.initialize({}) == ERR_UNCONFIGURED, "initialize: ERR_UNCONFIGURED")
	check(p.create_data_channel("x", {}) == null, "create_data_channel: null")
	check(p.create_offer() == ERR_UNCONFIGURED, "create_offer: ERR_UNCONFIGURED")
	check(p.poll() == ERR_UNCONFIGURED, "poll: ERR_UNCONFIGURED")
	check(p.get_connection_state() == WebRTCPeerConnection.STATE_FAILED, "state FAILED")
	p.close()
	var ns = NativeScript.new()
	ns.library = load("res://addons/zdc/zdc.gdnlib")
	ns.set_class_name("ZdcInfo")
	var st = ns.new().get_stats()
	check(st.engine_alive == 0 and st.peers == 0, "no engine, no peer: %s" % str(st))
	p = null
	print("godot: settings.gd: %d passed, %d failed" % [passed, failed])
	OS.exit_code = 0 if failed == 0 and passed > 0 else 1
	quit()
