/* zdc peer-connection API: WebRTC data channels to a remote peer.
 *
 * The shape follows Godot's WebRTCPeerConnection / WebRTCDataChannel (and the browser's
 * RTCPeerConnection): create a peer, create channels, exchange offer/answer and candidates
 * through your own signaling, then poll. Three steps connect two peers:
 *
 *   1. offer:      A: zdc_peer_create_offer()        -> on_session_description_created("offer")
 *                  A: zdc_peer_set_local_description("offer", sdp); send sdp to B
 *   2. answer:     B: zdc_peer_set_remote_description("offer", sdp)
 *                                                     -> on_session_description_created("answer")
 *                  B: zdc_peer_set_local_description("answer", sdp); send sdp to A
 *                  A: zdc_peer_set_remote_description("answer", sdp)
 *   3. candidates: each side's on_ice_candidate_created(mid, index, candidate) -> send ->
 *                  the other side's zdc_peer_add_ice_candidate(mid, index, candidate)
 *
 * Threading and callbacks: every callback fires only inside zdc_peer_poll() or
 * zdc_engine_poll(), on the calling thread. zdc_peer_close() drops queued events and no
 * callback of that peer (or its channels) fires after it returns.
 *
 * Handles: zdc_peer and zdc_channel are small values holding a generation-checked id. A call
 * on a handle whose object is gone returns ZDC_ERR_GONE (or a neutral value for getters)
 * instead of touching freed memory. Channels are freed with their peer.
 *
 * Implementations: zdc_peer_new() creates whichever implementation is the default —
 * zdc's own engine unless the application registered another (zdc_peer_set_default_impl),
 * e.g. an in-memory mock for game-logic tests.
 */
#ifndef ZDC_PEER_H
#define ZDC_PEER_H

#include "zdc/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"
#include "zdc/tuning.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zdc_engine zdc_engine;

typedef struct zdc_peer {
    uint64_t id; /* 0 = no peer */
} zdc_peer;

typedef struct zdc_channel {
    uint64_t id; /* 0 = no channel */
} zdc_channel;

/* Godot's WebRTCPeerConnection::ConnectionState. */
enum zdc_connection_state {
    ZDC_STATE_NEW = 0,
    ZDC_STATE_CONNECTING = 1,
    ZDC_STATE_CONNECTED = 2,
    ZDC_STATE_DISCONNECTED = 3,
    ZDC_STATE_FAILED = 4,
    ZDC_STATE_CLOSED = 5,
};

/* Godot's WebRTCPeerConnection::GatheringState. */
enum zdc_gathering_state {
    ZDC_GATHERING_NEW = 0,
    ZDC_GATHERING_GATHERING = 1,
    ZDC_GATHERING_COMPLETE = 2,
};

/* Godot's WebRTCPeerConnection::SignalingState. */
enum zdc_signaling_state {
    ZDC_SIGNALING_STABLE = 0,
    ZDC_SIGNALING_HAVE_LOCAL_OFFER = 1,
    ZDC_SIGNALING_HAVE_REMOTE_OFFER = 2,
    ZDC_SIGNALING_HAVE_LOCAL_PRANSWER = 3,
    ZDC_SIGNALING_HAVE_REMOTE_PRANSWER = 4,
    ZDC_SIGNALING_CLOSED = 5,
};

/* Godot's WebRTCDataChannel::ChannelState. */
enum zdc_channel_state {
    ZDC_CHANNEL_CONNECTING = 0,
    ZDC_CHANNEL_OPEN = 1,
    ZDC_CHANNEL_CLOSING = 2,
    ZDC_CHANNEL_CLOSED = 3,
};

/* Godot's WebRTCDataChannel::WriteMode. */
enum zdc_write_mode { ZDC_WRITE_MODE_TEXT = 0, ZDC_WRITE_MODE_BINARY = 1 };

/* ---- configuration -------------------------------------------------------------------- */

typedef struct zdc_ice_server {
    /* One or more URLs: "stun:host:port", "turn:host:port?transport=udp|tcp",
     * "turns:host:port", ... Several may be given separated by ',' or whitespace (the JS
     * "urls" list). turn: URLs relay (RFC 8656) with username and credential (the long-term
     * credential mechanism), over UDP, or over TCP with ?transport=tcp (RFC 6062 framing);
     * turns: URLs relay over TLS over TCP (default port 5349). Names are resolved by
     * zdc_peer_initialize. */
    const char *urls;
    const char *username;   /* turn: required */
    const char *credential; /* turn: required (the password) */
    /* turns: only. By default the server's certificate must chain to the system's trust
     * store (OpenSSL's default paths) and name tls_server_name (NULL: the URL's host, a name
     * or an IP address). */
    const char *tls_server_name;
    /* turns: pin instead: only the certificate whose SHA-256 fingerprint this is ("sha-256
     * AB:CD:..." as in SDP, or the 64 hex digits alone) is accepted, chain and name are not
     * checked (a self-signed certificate). */
    const char *tls_fingerprint;
    /* turns: no verification at all (tests only: anyone on the path can read the relay's
     * credentials exchange and traffic). */
    bool tls_insecure;
} zdc_ice_server;

/* W3C RTCIceTransportPolicy. */
enum zdc_ice_transport_policy {
    ZDC_ICE_TRANSPORT_ALL = 0,   /* every candidate type (the default) */
    ZDC_ICE_TRANSPORT_RELAY = 1, /* only relayed candidates are signaled and used: the peer
                                    never learns our addresses (privacy; tests) */
};

typedef struct zdc_peer_config {
    const zdc_ice_server *ice_servers;
    size_t n_ice_servers;
    bool ice_lite; /* answer checks only (servers with a public address) */
    /* Fingerprint policy. By default the remote a=fingerprint may use SHA-256, -384, -512 or
     * SHA-1 (RFC 8122 §5 allows SHA-1 and older peers still send it; the strongest offered is
     * checked). True refuses a remote description whose data section has only a SHA-1
     * fingerprint (ZDC_ERR_NOT_SUPPORTED): SHA-1's collision attacks make a certificate that
     * matches a forged fingerprint less far-fetched. */
    bool require_sha256_fingerprint;
    /* This peer's timeouts and memory (zdc/tuning.h); each 0 field takes the engine's
     * (zdc_engine_options.tuning). */
    zdc_peer_tuning tuning;
    /* enum zdc_ice_transport_policy. RELAY without a turn: server gathers nothing and the
     * connection fails when checking times out. */
    int ice_transport_policy;
} zdc_peer_config;

/* Callbacks. All optional; all fire inside poll on the polling thread. `sdp`, `mid` and
 * `candidate` strings are valid during the callback only. */
typedef struct zdc_peer_callbacks {
    void *user;
    /* type is "offer" or "answer". */
    void (*on_session_description_created)(void *user, zdc_peer peer, const char *type,
                                           const char *sdp);
    void (*on_ice_candidate_created)(void *user, zdc_peer peer, const char *mid, int index,
                                     const char *candidate);
    /* A channel the remote side opened (never for negotiated channels). The handle stays
     * valid until the peer is freed or zdc_channel_release; keep it to use the channel. */
    void (*on_data_channel_received)(void *user, zdc_peer peer, zdc_channel channel);
    void (*on_connection_state_change)(void *user, zdc_peer peer, int state);
    void (*on_gathering_state_change)(void *user, zdc_peer peer, int state);
    void (*on_signaling_state_change)(void *user, zdc_peer peer, int state);
    void (*on_channel_open)(void *user, zdc_peer peer, zdc_channel channel);
    void (*on_channel_close)(void *user, zdc_peer peer, zdc_channel channel);
    /* A message is waiting: read it with zdc_channel_get_packet(). */
    void (*on_channel_message)(void *user, zdc_peer peer, zdc_channel channel);
    void (*on_channel_buffered_amount_low)(void *user, zdc_peer peer, zdc_channel channel);
} zdc_peer_callbacks;

typedef struct zdc_channel_options {
    bool negotiated;          /* both sides create it with the same id; no DCEP */
    int id;                   /* 0..65534 when negotiated, otherwise -1 */
    int max_packet_life_time; /* ms, -1 = unset (exclusive with max_retransmits) */
    int max_retransmits;      /* -1 = unset */
    bool ordered;             /* default true */
    const char *protocol;     /* sub-protocol, default "" */
} zdc_channel_options;

/* Options with the defaults: not negotiated, id -1, reliable, ordered, protocol "". */
ZDC_API zdc_channel_options zdc_channel_options_default(void);

/* ---- peers ---------------------------------------------------------------------------- */

/* Creates a peer on `engine` using the default implementation, in state NEW. With an engine
 * that has workers, pass one of its workers (zdc_engine_worker): the peer belongs to the
 * thread that polls that worker (docs/threads.md).
 * Returns 0; ZDC_ERR_INVALID_PARAMETER (NULL engine for the built-in implementation, NULL
 * out); ZDC_ERR_INVALID_STATE (the I/O front of an engine with workers); ZDC_ERR_NOT_SUPPORTED
 * (a worker, while usrsctp is the SCTP: ZDC_SCTP changed after zdc_engine_new);
 * ZDC_ERR_NOMEM. */
ZDC_API int zdc_peer_new(zdc_engine *engine, const zdc_peer_callbacks *cb, zdc_peer *out);

/* Frees the peer and its channels (closing them first if needed). No callback fires during or
 * after it. A stale or zero handle is ignored. */
ZDC_API void zdc_peer_free(zdc_peer peer);

/* (Re)initializes with a configuration: discards any previous connection, channel and queued
 * event, and returns to state NEW. stun:/turn:/turns: URLs are resolved now (numeric addresses
 * or names through the system resolver).
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_INVALID_PARAMETER (a malformed URL, a name that does not
 * resolve, a turn:/turns: URL without username and credential, more than 8 STUN or 4 TURN
 * servers, tls_server_name or tls_fingerprint too long, tuning.max_channels over 1024,
 * tuning.sctp_impl not one of enum zdc_sctp_impl);
 * ZDC_ERR_NOT_SUPPORTED (stuns: URLs; tuning.sctp_impl USRSCTP on an engine with workers or
 * an I/O thread); ZDC_ERR_NOMEM.
 * On error the peer is left in state NEW with no ICE servers. */
ZDC_API int zdc_peer_initialize(zdc_peer peer, const zdc_peer_config *cfg);

/* Creates a data channel; only in connection state NEW (before the offer). The handle is
 * valid until the peer is freed.
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_INVALID_STATE (not NEW); ZDC_ERR_INVALID_PARAMETER
 * (negotiated without a valid id or an id without negotiated, both max_packet_life_time and
 * max_retransmits, label/protocol longer than 65535 bytes, an id already used);
 * ZDC_ERR_QUEUE_FULL (the stream limit); ZDC_ERR_NOMEM. */
ZDC_API int zdc_peer_create_data_channel(zdc_peer peer, const char *label,
                                         const zdc_channel_options *opts, zdc_channel *out);

/* Starts gathering and queues on_session_description_created("offer", sdp).
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_INVALID_STATE (no data channel created yet, or signaling
 * not STABLE); ZDC_ERR_NOMEM. */
ZDC_API int zdc_peer_create_offer(zdc_peer peer);

/* ICE restart (RFC 8445 §9; the browser's restartIce() followed by createOffer()): new ICE
 * credentials, and an offer carrying them through on_session_description_created("offer");
 * apply it and send it as any offer, then the answer. Candidates are gathered and trickled
 * again. The DTLS association, SCTP and every channel carry on: data keeps flowing over the
 * pair in use until the new checks select one, and nothing sent meanwhile is lost. The side
 * that restarts becomes ICE-controlling. Either side may restart; a remote offer with new
 * credentials restarts this side too (zdc_peer_set_remote_description). After both
 * descriptions are applied, zdc_peer_create_offer also works again (a later offer without a
 * restart).
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_INVALID_STATE (not both descriptions applied yet, an offer
 * pending, or FAILED/CLOSED; zdc_peer_last_error says which); ZDC_ERR_NOT_SUPPORTED (an
 * implementation without restarts); ZDC_ERR_NOMEM. */
ZDC_API int zdc_peer_restart_ice(zdc_peer peer);

/* Applies the remote description. For "offer" the peer then queues its answer through
 * on_session_description_created("answer", sdp).
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_INVALID_PARAMETER (type not "offer"/"answer");
 * ZDC_ERR_INVALID_STATE (an answer without a local offer, an offer while one is pending);
 * ZDC_ERR_MALFORMED (the SDP does not parse — zdc_peer_last_error() names the line);
 * ZDC_ERR_NOT_SUPPORTED (no data-channel section, no fingerprint, DTLS fingerprint hash we
 * cannot check, or only SHA-1 with zdc_peer_config.require_sha256_fingerprint);
 * ZDC_ERR_TOO_LARGE (over 64 KiB of SDP; refused before it is copied). Nothing changes on
 * error. Candidates beyond ZDC_PEER_MAX_REMOTE_CANDIDATES are ignored and counted (see
 * zdc_peer_add_ice_candidate), never an error. */
ZDC_API int zdc_peer_set_remote_description(zdc_peer peer, const char *type, const char *sdp);

/* Applies the local description created by this peer (pass back what
 * on_session_description_created gave). Starts ICE once both descriptions are set.
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_INVALID_PARAMETER (type mismatch, or an SDP that is not
 * the one this peer created); ZDC_ERR_INVALID_STATE. */
ZDC_API int zdc_peer_set_local_description(zdc_peer peer, const char *type, const char *sdp);

/* Adds a remote ICE candidate ("candidate:..." with or without "a="; "" = end of candidates).
 * Candidates arriving before the remote description are buffered (up to 64). A peer uses at
 * most ZDC_PEER_MAX_REMOTE_CANDIDATES remote candidates (from the description and from here
 * together): extras are ignored and counted, not refused — the count is in
 * zdc_peer_last_error() and logged (WARN, ice).
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_MALFORMED (zdc_peer_last_error() says why);
 * ZDC_ERR_NOT_FOUND (mid names no section of the remote description). */
#define ZDC_PEER_MAX_REMOTE_CANDIDATES 32
ZDC_API int zdc_peer_add_ice_candidate(zdc_peer peer, const char *mid, int index, const char *name);

/* Drives the peer: runs the engine inline if it has no thread of its own, then fires this
 * peer's queued callbacks. Returns 0 or ZDC_ERR_GONE. */
ZDC_API int zdc_peer_poll(zdc_peer peer);

/* Closes the peer and its channels (state CLOSED; the remote side gets an SCTP ABORT and a
 * DTLS close_notify). Queued events are dropped; no callback of this peer fires after it returns.
 * The handle stays valid (getters answer CLOSED) until zdc_peer_free. */
ZDC_API void zdc_peer_close(zdc_peer peer);

ZDC_API int
zdc_peer_get_connection_state(zdc_peer peer); /* ZDC_STATE_*, CLOSED for a stale handle */
ZDC_API int zdc_peer_get_gathering_state(zdc_peer peer); /* ZDC_GATHERING_* */
ZDC_API int zdc_peer_get_signaling_state(zdc_peer peer); /* ZDC_SIGNALING_* */

/* The description this peer created last — its offer, or its answer — as
 * on_session_description_created delivered it (with_candidates false), or the same with every
 * local candidate gathered so far and, once gathering is complete, a=end-of-candidates (true):
 * what a browser's localDescription holds. For non-trickle signaling (WHIP-style HTTP, most
 * game servers), wait for on_gathering_state_change(ZDC_GATHERING_COMPLETE), or poll until
 * zdc_peer_get_gathering_state() says so, then send zdc_peer_get_local_description(p, true)
 * as the one message; a remote description carrying its candidates needs no
 * zdc_peer_add_ice_candidate. zdc gathers host candidates at once and server-reflexive ones
 * within a STUN round trip (at most a few seconds when a server does not answer).
 * Returns the SDP text, valid until the next call on this peer; NULL for a stale handle,
 * before any description was created, or for an implementation that does not offer it. */
ZDC_API const char *zdc_peer_get_local_description(zdc_peer peer, bool with_candidates);

/* User data: one pointer kept with the peer (or channel) for the application (a player
 * struct), NULL until set. Getters answer NULL for a stale handle. Setters return 0 or
 * ZDC_ERR_GONE. zdc never reads it; free what it points to yourself (before or after
 * zdc_peer_free). */
ZDC_API int zdc_peer_set_user_data(zdc_peer peer, void *data);
ZDC_API void *zdc_peer_get_user_data(zdc_peer peer);
ZDC_API int zdc_channel_set_user_data(zdc_channel ch, void *data);
ZDC_API void *zdc_channel_get_user_data(zdc_channel ch);

/* A text describing the last error of this peer (e.g. "line 7: a=fingerprint: bad hex"), or
 * "" if none. Valid until the next call on the peer. */
ZDC_API const char *zdc_peer_last_error(zdc_peer peer);

/* ---- channels ------------------------------------------------------------------------- */

/* Sends one message: text or binary by the channel's write mode.
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_INVALID_STATE (not OPEN); ZDC_ERR_TOO_LARGE (over the
 * remote max-message-size; nothing sent); ZDC_ERR_QUEUE_FULL (the send queue limit; nothing
 * sent: wait for on_channel_buffered_amount_low). */
ZDC_API int zdc_channel_put_packet(zdc_channel ch, const uint8_t *p, size_t len);

/* Zero-copy send, step 1: a writable buffer for one message of up to cap bytes, owned by the
 * channel. Write the message into *data, then submit it (or discard it). One buffer per
 * channel at a time. The buffer is freed with its channel.
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_INVALID_PARAMETER (data NULL); ZDC_ERR_INVALID_STATE (not
 * OPEN, or a buffer is already outstanding); ZDC_ERR_TOO_LARGE (cap over the remote
 * max-message-size); ZDC_ERR_NOMEM. */
ZDC_API int zdc_channel_acquire_send_buffer(zdc_channel ch, size_t cap, uint8_t **data);
/* Step 2: sends the first len bytes of that buffer as one message (text or binary by the write
 * mode). When SCTP cannot take it at once the buffer itself is queued: the bytes are not copied
 * again before SCTP takes them.
 * Returns 0 (the buffer is zdc's now); ZDC_ERR_GONE; ZDC_ERR_INVALID_STATE (no buffer
 * outstanding, or the channel is no longer OPEN — the buffer is then discarded);
 * ZDC_ERR_INVALID_PARAMETER (len > cap) and ZDC_ERR_QUEUE_FULL (the send queue limit): nothing
 * sent and the buffer stays outstanding, to submit again later or discard. */
ZDC_API int zdc_channel_submit_send_buffer(zdc_channel ch, size_t len);
/* Drops the outstanding send buffer without sending (no-op if none). */
ZDC_API void zdc_channel_discard_send_buffer(zdc_channel ch);

/* Zero-copy receive: a view of the oldest received message, valid until
 * zdc_channel_release_packet(). *was_string tells whether it arrived as text.
 * Returns 0; ZDC_ERR_GONE; ZDC_ERR_AGAIN (no message waiting). */
ZDC_API int zdc_channel_get_packet(zdc_channel ch, const uint8_t **p, size_t *len,
                                   bool *was_string);
/* Releases the message returned by zdc_channel_get_packet (no-op if none). */
ZDC_API void zdc_channel_release_packet(zdc_channel ch);
/* Messages waiting to be read. */
ZDC_API int zdc_channel_get_available_packet_count(zdc_channel ch);

ZDC_API int zdc_channel_set_write_mode(zdc_channel ch, int mode); /* ZDC_ERR_INVALID_PARAMETER */
ZDC_API int zdc_channel_get_write_mode(zdc_channel ch);
ZDC_API int zdc_channel_get_ready_state(zdc_channel ch);      /* ZDC_CHANNEL_*, CLOSED if stale */
ZDC_API const char *zdc_channel_get_label(zdc_channel ch);    /* "" if stale */
ZDC_API const char *zdc_channel_get_protocol(zdc_channel ch); /* "" if stale */
ZDC_API int zdc_channel_get_id(zdc_channel ch);               /* -1 until the DTLS role is known */
ZDC_API bool zdc_channel_is_ordered(zdc_channel ch);
ZDC_API bool zdc_channel_is_negotiated(zdc_channel ch);
ZDC_API int zdc_channel_get_max_packet_life_time(zdc_channel ch); /* -1 = unset */
ZDC_API int zdc_channel_get_max_retransmits(zdc_channel ch);      /* -1 = unset */
/* Bytes queued for sending (not yet handed to SCTP). */
ZDC_API size_t zdc_channel_get_buffered_amount(zdc_channel ch);
ZDC_API int zdc_channel_set_buffered_amount_low_threshold(zdc_channel ch, size_t bytes);

/* Closes the channel: the remote side is told through an SCTP stream reset (RFC 8831 §6.7).
 * on_channel_close fires when the reset completes. Returns 0 or ZDC_ERR_GONE. */
ZDC_API int zdc_channel_close(zdc_channel ch);

/* The application is done with the channel: the handle is invalid from here on (calls with it
 * answer ZDC_ERR_GONE, CLOSED, "" or 0, and no callback names it again), and the channel's
 * memory, its slot among the peer's 1024 channels and its stream id are freed once it is
 * closed — at once if it already is, else when its close completes (a channel still open is
 * not closed by this: call zdc_channel_close first, or it is closed with its peer). A channel
 * never released is freed with its peer. Stale or zero handles are ignored. */
ZDC_API void zdc_channel_release(zdc_channel ch);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_PEER_H */
