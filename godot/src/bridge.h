/* The Godot-agnostic half of zdc's Godot integration: what any Godot front (GDNative for
 * Godot 3 today, a GDExtension for Godot 4 later) needs beside the zdc API, and nothing that
 * knows a Godot type.
 *
 *   - one engine per process, shared by every peer and freed after the last one
 *     (zdc_bridge_engine_acquire/release), its options read through a lookup function the
 *     front supplies (project settings) with environment variables taking precedence;
 *   - peers whose signals are queued while zdc polls and handed to the front only after
 *     zdc_peer_poll returns, so handlers may call back into the peer (Godot's GDScript does);
 *   - channels with Godot's get_packet contract: the buffer stays valid until the next
 *     get_packet and the available count no longer includes a packet handed out;
 *   - the mapping of zdc's errors onto Godot's Error numbers (the same in Godot 3 and 4).
 *
 * Single-threaded: everything runs on the thread that calls Godot's poll.
 */
#ifndef ZDC_GODOT_BRIDGE_H
#define ZDC_GODOT_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/zdc.h"

/* Godot's Error values (core/error_list.h; identical in Godot 3.x and 4.x). */
enum zdc_bridge_godot_error {
    ZDC_GD_OK = 0,
    ZDC_GD_FAILED = 1,
    ZDC_GD_ERR_UNAVAILABLE = 2,
    ZDC_GD_ERR_UNCONFIGURED = 3,
    ZDC_GD_ERR_OUT_OF_MEMORY = 6,
    ZDC_GD_ERR_CANT_CREATE = 20,
    ZDC_GD_ERR_ALREADY_IN_USE = 22,
    ZDC_GD_ERR_TIMEOUT = 24,
    ZDC_GD_ERR_CONNECTION_ERROR = 27,
    ZDC_GD_ERR_INVALID_DATA = 30,
    ZDC_GD_ERR_INVALID_PARAMETER = 31,
    ZDC_GD_ERR_DOES_NOT_EXIST = 33,
    ZDC_GD_ERR_BUSY = 44,
    ZDC_GD_ERR_BUG = 47,
};

/* zdc error -> Godot Error (docs/godot.md has the table). */
int zdc_bridge_godot_error(int zdc_err);

/* ---- the shared engine ----------------------------------------------------------------- */

/* Looks a setting up by its short name ("bind_address", "port_min", "port_max", "loopback",
 * "ipv4", "ipv6", "max_message_size", "backend", "log"); writes its text into buf (NUL-terminated)
 * and returns true if set. */
typedef bool (*zdc_bridge_setting_fn)(void *user, const char *name, char *buf, size_t cap);

/* Fills *o from the defaults, then the front's settings, then ZDC_GODOT_<NAME> environment
 * variables (upper case), last one wins. Returns 0 or ZDC_ERR_INVALID_PARAMETER with *bad set
 * to the offending name. */
int zdc_bridge_engine_options(zdc_engine_options *o, zdc_bridge_setting_fn get, void *user,
                              const char **bad);

/* Where the engine's log lines go (the front prints them in Godot's output). Setting "log"
 * ("level[,component...]" as ZDC_LOG, zdc/log.h) chooses what; without it: "warn" (why a
 * connection failed, input refused), unless the environment's ZDC_LOG already chose (then zdc
 * writes to stderr as it does for any program). Call before the first acquire. */
void zdc_bridge_set_log_sink(zdc_log_fn fn, void *user);

/* The process's engine: created at the first acquire (with the options above, and the log
 * setting), shared, freed at the release that drops the last reference. Returns 0,
 * ZDC_ERR_INVALID_PARAMETER (a bad setting) or zdc_engine_new's error. */
int zdc_bridge_engine_acquire(zdc_bridge_setting_fn get, void *user, zdc_engine **out);
void zdc_bridge_engine_release(void);

/* Counters for tests and diagnostics. */
typedef struct zdc_bridge_stats {
    int engine_refs; /* peers holding the engine */
    bool engine_alive;
    int peers;    /* bridge peers alive */
    int channels; /* bridge channels alive */
} zdc_bridge_stats;
void zdc_bridge_get_stats(zdc_bridge_stats *out);

/* ---- peers ----------------------------------------------------------------------------- */

/* What a peer hands its front after zdc's poll returned. Each may re-enter the peer (call any
 * zdc_bridge_peer_* or zdc_peer_* on it, close it, poll it again). */
typedef struct zdc_bridge_signals {
    void *user;
    void (*session_description_created)(void *user, const char *type, const char *sdp);
    void (*ice_candidate_created)(void *user, const char *mid, int index, const char *candidate);
    /* A channel the remote opened; the front wraps it (the handle is the front's now). */
    void (*data_channel_received)(void *user, zdc_channel channel);
} zdc_bridge_signals;

typedef struct zdc_bridge_peer zdc_bridge_peer;

/* Creates a peer on the shared engine (acquiring it). Returns 0, zdc_bridge_engine_acquire's or
 * zdc_peer_new's error, or ZDC_ERR_NOMEM. */
int zdc_bridge_peer_new(const zdc_bridge_signals *sig, zdc_bridge_setting_fn get, void *user,
                        zdc_bridge_peer **out);
/* Frees the zdc peer (closing it) and releases the engine. Called from inside a signal, the
 * memory is freed when that poll returns; no signal fires after this. NULL is a no-op. */
void zdc_bridge_peer_free(zdc_bridge_peer *p);
zdc_peer zdc_bridge_peer_handle(const zdc_bridge_peer *p);
/* zdc_peer_poll, then the queued signals in order. Returns 0 or a zdc error. */
int zdc_bridge_peer_poll(zdc_bridge_peer *p);
/* zdc_peer_close and drops queued signals. */
void zdc_bridge_peer_close(zdc_bridge_peer *p);
/* zdc_peer_initialize; drops queued signals (they belong to the connection it discards). */
int zdc_bridge_peer_initialize(zdc_bridge_peer *p, const zdc_peer_config *cfg);

/* ---- channels -------------------------------------------------------------------------- */

typedef struct zdc_bridge_channel zdc_bridge_channel;

/* Wraps a zdc channel handle. Returns NULL on out of memory. */
zdc_bridge_channel *zdc_bridge_channel_new(zdc_channel ch);
/* Closes the channel (the front's object is gone: nobody can read it any more) and releases
 * the handle. NULL is a no-op. */
void zdc_bridge_channel_free(zdc_bridge_channel *c);
zdc_channel zdc_bridge_channel_handle(const zdc_bridge_channel *c);
/* Godot's get_packet: releases the packet handed out last, then hands out the next one.
 * Returns 0, ZDC_ERR_AGAIN (none waiting) or ZDC_ERR_GONE. */
int zdc_bridge_channel_get_packet(zdc_bridge_channel *c, const uint8_t **p, size_t *len);
/* Whether the packet handed out last arrived as text. */
bool zdc_bridge_channel_was_string(const zdc_bridge_channel *c);
/* Packets waiting, not counting one already handed out. */
int zdc_bridge_channel_available(const zdc_bridge_channel *c);

#endif /* ZDC_GODOT_BRIDGE_H */
