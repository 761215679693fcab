/* The built-in peer connection, sans-IO: ICE (core/ice), DTLS (core/dtls), SCTP (core/sctp)
 * and data channels (DCEP, RFC 8831/8832) glued into the offer/answer model of the public API
 * (include/zdc/peer.h).
 *
 * Datagrams come in through zdc_pc_handle_datagram() and go out through env.send; time comes
 * in as now_ns; random bytes from env.random. Nothing here touches a socket or a clock, so two
 * peers can be wired together in one process (through core/impair for loss and delay).
 *
 * Events (descriptions, candidates, state changes, channel events) are queued and taken one
 * by one with zdc_pc_next_event(), which the public API calls from poll: callbacks never run
 * inside the other calls. zdc_pc_close() drops the queue and nothing is queued afterwards.
 *
 * Time: now_ns is any monotonic clock, the same in every call, and should be the real one
 * (CLOCK_MONOTONIC): OpenSSL runs its DTLS timer on gettimeofday() and usrsctp compares chunk
 * ages with the real clock, so a clock running ahead of real time delays retransmissions (see
 * core/dtls.h and core/sctp.h). ICE's checks, retransmissions and consent run on now_ns alone.
 *
 * Some timers of the stages are process-wide (today usrsctp's tick; none once zdc's own SCTP
 * is the default): zdc_pc_global_next_timeout()/zdc_pc_global_handle_timeout(). A lone peer
 * connection runs them from its own zdc_pc_next_timeout()/zdc_pc_handle_timeout(); an owner of
 * many (the engine) sets env.owner_runs_global_timers and runs them once for all, and should
 * keep running them while they ask, also with no peer left (usrsctp frees closed associations
 * from its timers). Nothing above core/proto needs to know what they are.
 *
 * A data channel's life (zdc_pc_channel_state; events in brackets):
 *
 *   created locally ─────────► CONNECTING ── DCEP ACK, or the peer's first message ──► OPEN
 *   (before SCTP is up, or       │  (negotiated channels: SCTP up ─────────────────►)   │  [OPEN]
 *    while it is: DCEP OPEN)     │                                                      │
 *   remote DCEP OPEN accepted ───┼──────────────────────────── [DATA_CHANNEL] ────────► OPEN
 *                                │                                                      │
 *                                │ association down, connection failed/closed           │
 * zdc_pc_channel_close: ▼                                                      ▼ stream reset sent
 *                              CLOSED ◄───── the peer resets its stream (RFC 8831 §6.7) CLOSING
 *                              [CLOSE]       or the association ends                    │
 *                                 ▲──────────── the peer's reset of its side ───────────┘
 *
 * A channel that never opened reports CLOSE too. A refused remote OPEN (bad parameters, a
 * stream of our parity, out of memory) resets the stream and queues nothing (RFC 8832 §6).
 * A CLOSED channel its owner forgot (zdc_pc_channel_forget) is freed: its slot among the 1024
 * and its stream id can be used again.
 *
 * Typical use (what test/pc_test.c does for two peers in one process):
 *   zdc_pc_new, zdc_pc_initialize, zdc_pc_create_channel, zdc_pc_create_offer; then loop:
 *   feed datagrams to zdc_pc_handle_datagram, call zdc_pc_handle_timeout when
 *   zdc_pc_next_timeout() has passed, and take events: a DESCRIPTION goes to
 *   zdc_pc_set_local_description here and to the remote's set_remote_description, a CANDIDATE
 *   to the remote's zdc_pc_add_ice_candidate.
 */
#ifndef ZDC_CORE_PC_H
#define ZDC_CORE_PC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "dtls.h"
#include "log.h"
#include "zdc/stun.h"
#include "zdc/peer.h"
#include "zdc/stats.h"

typedef struct zdc_pc zdc_pc;

/* What one received message costs against the receive limits besides its length: its record
 * in the queue, so that a flood of empty messages is bounded too. */
#define ZDC_PC_RX_MSG_COST              64u
#define ZDC_PC_DEFAULT_RX_CHANNEL_LIMIT (1024u * 1024u)
#define ZDC_PC_DEFAULT_RX_PEER_LIMIT    (4u * 1024u * 1024u)
typedef struct zdc_pc_channel zdc_pc_channel;

/* A TCP or TLS connection to a TURN server (zdc_pc_env.stream_open). */
typedef struct zdc_pc_stream_params {
    zdc_addr server;
    bool tls;
    const char *server_name; /* TLS: the name to verify and send as SNI ("": the IP) */
    const char *fingerprint; /* TLS: pinned SHA-256 fingerprint ("": none) */
    bool insecure;           /* TLS: no verification */
} zdc_pc_stream_params;

typedef struct zdc_pc_env {
    void *user;
    /* Required: one datagram to `to`. */
    void (*send)(void *user, const zdc_addr *to, const uint8_t *p, size_t len);
    /* Required: n unpredictable bytes. */
    void (*random)(void *user, uint8_t *p, size_t n);
    zdc_dtls_cert *cert;     /* required; a reference is taken */
    const zdc_addr *local;   /* host candidate addresses (socket addresses), in preference */
    size_t n_local;          /* order */
    size_t max_message_size; /* local limit (a=max-message-size), default 256 KiB */
    size_t send_queue_limit; /* per channel, bytes waiting for SCTP; default 16 MiB */
    /* Received messages waiting for the application, in bytes (each message counts its length
     * plus ZDC_PC_RX_MSG_COST): per channel, default 1 MiB, and for all channels together,
     * default 4 MiB. At either limit the peer stops taking data from SCTP, whose window then
     * closes and holds the sender back; reading resumes it. The queue may exceed a limit by
     * one message (at most max_message_size + ZDC_PC_RX_MSG_COST). */
    size_t rx_channel_limit, rx_peer_limit;
    /* Timeouts and limits for every peer (0 fields: defaults); its receive and send limits,
     * when set, take precedence over the fields above. zdc_peer_config.tuning overrides it
     * per peer. */
    zdc_peer_tuning tuning;
    /* The peer runs on a thread of a multi-threaded engine: usrsctp (process-global state) is
     * refused (zdc_peer_tuning.sctp_impl USRSCTP: ZDC_ERR_NOT_SUPPORTED). */
    bool native_sctp_only;
    /* NAT 1:1: host candidates announce this address (family 0: the socket's) instead. */
    zdc_addr public4, public6;
    /* Optional: something happened to this peer that its owner should look at — an event was
     * queued, or a stage raised a callback for it (usually from the global timers, inside
     * another peer's call or the owner's own run of them). After it, the owner should call
     * zdc_pc_handle_timeout soon (it finishes what the callback started, e.g. tearing down
     * after the association went down) and take the events. Must not call into this peer. */
    void (*notify)(void *user);
    /* The owner runs zdc_pc_global_handle_timeout itself (an engine with many peers runs it
     * once): zdc_pc_next_timeout and zdc_pc_handle_timeout then leave the global timers out,
     * and `notify` tells which peers they touched. */
    bool owner_runs_global_timers;
    /* Optional, for tests: called before each allocation of state the connection cannot lose
     * (queued events, received messages); returning true makes it fail as out of memory. */
    bool (*fail_alloc)(void *user);
    /* Optional: the log sink (core/base/log.h), which must outlive the peer connection; NULL is
     * silent. Lines are tagged with the id zdc_pc_set_log_peer gives. The stages (ICE, DTLS,
     * SCTP) log through the same sink. */
    const zdc_logger *log;
    /* Optional: TURN over TCP and TLS (turn:?transport=tcp, turns:). The owner carries one
     * byte stream per TURN client `slot` (0..3): stream_open starts connecting (and the TLS
     * handshake), stream_send queues one message (bounded: what does not fit is dropped, as a
     * lost datagram), stream_close ends it. The owner hands back each complete message
     * (zdc_pc_handle_turn_stream) and reports a stream that failed or dropped
     * (zdc_pc_turn_stream_failed). Without stream_open those URLs fail gathering at once. */
    int (*stream_open)(void *user, unsigned slot, const zdc_pc_stream_params *params);
    void (*stream_send)(void *user, unsigned slot, const uint8_t *p, size_t len);
    void (*stream_close)(void *user, unsigned slot);
} zdc_pc_env;

enum zdc_pc_event_kind {
    ZDC_PC_EV_DESCRIPTION,     /* text = type ("offer"/"answer"), text2 = sdp */
    ZDC_PC_EV_CANDIDATE,       /* text = mid, mline_index, text2 = candidate ("" = end) */
    ZDC_PC_EV_DATA_CHANNEL,    /* channel */
    ZDC_PC_EV_CONNECTION,      /* state */
    ZDC_PC_EV_GATHERING,       /* state */
    ZDC_PC_EV_SIGNALING,       /* state */
    ZDC_PC_EV_CHANNEL_OPEN,    /* channel */
    ZDC_PC_EV_CHANNEL_CLOSE,   /* channel */
    ZDC_PC_EV_CHANNEL_MESSAGE, /* channel */
    ZDC_PC_EV_CHANNEL_LOW,     /* channel (buffered amount fell to the threshold) */
    ZDC_PC_EV_NONE,            /* nothing: an event of a channel freed meanwhile */
};

typedef struct zdc_pc_event {
    int kind;
    int state;       /* CONNECTION, GATHERING, SIGNALING: the new state */
    int mline_index; /* CANDIDATE: the m-line index (text = its mid) */
    zdc_pc_channel *channel;
    char *text, *text2;
} zdc_pc_event;

/* Returns 0, ZDC_ERR_INVALID_PARAMETER or ZDC_ERR_NOMEM. */
int zdc_pc_new(const zdc_pc_env *env, zdc_pc **out);
/* Frees everything, channels included, and drops the certificate reference. No event is
 * delivered, but a live association is aborted, which may still call env.send once. */
void zdc_pc_free(zdc_pc *pc);

/* The public API's calls (see include/zdc/peer.h for their contracts). Differences:
 * - zdc_pc_create_channel works in any state but FAILED/CLOSED (as in browsers): a channel
 *   created while SCTP is up opens at once (DCEP, or directly when negotiated); the public
 *   layer may restrict it to NEW as peer.h documents. Returns 0, ZDC_ERR_INVALID_STATE,
 *   ZDC_ERR_INVALID_PARAMETER, ZDC_ERR_QUEUE_FULL (channel limit) or ZDC_ERR_NOMEM.
 * - zdc_pc_set_local_description accepts, for an answer to an actpass offer, the created
 *   answer with a=setup switched between active and passive: that chooses the DTLS role. */
int zdc_pc_initialize(zdc_pc *pc, const zdc_peer_config *cfg);
int zdc_pc_create_channel(zdc_pc *pc, const char *label, const zdc_channel_options *opts,
                          zdc_pc_channel **out);
int zdc_pc_create_offer(zdc_pc *pc, uint64_t now_ns);
/* ICE restart (RFC 8445 §9, JSEP §5.2.1): new ICE credentials and an offer carrying them
 * (DESCRIPTION event), candidates gathered again once it is applied; DTLS, SCTP and the
 * channels carry on over the pair in use until the new checks select one. A later offer from
 * the peer with new credentials restarts this side too (set_remote_description). Returns 0,
 * ZDC_ERR_INVALID_STATE (not both descriptions applied, an offer pending, failed or closed) or
 * ZDC_ERR_NOMEM. */
int zdc_pc_restart_ice(zdc_pc *pc, uint64_t now_ns);
int zdc_pc_set_remote_description(zdc_pc *pc, const char *type, const char *sdp, uint64_t now_ns);
int zdc_pc_set_local_description(zdc_pc *pc, const char *type, const char *sdp, uint64_t now_ns);
int zdc_pc_add_ice_candidate(zdc_pc *pc, const char *mid, int index, const char *cand);
void zdc_pc_close(zdc_pc *pc);
int zdc_pc_connection_state(const zdc_pc *pc);
int zdc_pc_gathering_state(const zdc_pc *pc);
int zdc_pc_signaling_state(const zdc_pc *pc);
const char *zdc_pc_last_error(const zdc_pc *pc);
/* The description this peer created last (offer or answer; NULL before one), and with
 * with_candidates the same text with every local candidate gathered so far, plus
 * a=end-of-candidates once gathering is complete (a browser's localDescription). The text is
 * valid until the next call on the peer. */
const char *zdc_pc_local_description(zdc_pc *pc, bool with_candidates);
/* Remote candidates ignored because the description or the ICE agent already held
 * ZDC_PC_MAX_REMOTE_CANDIDATES of them. */
#define ZDC_PC_MAX_REMOTE_CANDIDATES ZDC_PEER_MAX_REMOTE_CANDIDATES
uint64_t zdc_pc_remote_candidates_ignored(const zdc_pc *pc);
/* Allocations that failed and lost state (each one fails the connection: ZDC_STATE_FAILED,
 * zdc_pc_last_error says what was lost). */
uint64_t zdc_pc_nomem_count(const zdc_pc *pc);
/* The peer's public handle id, to tag its log lines (0: none). */
void zdc_pc_set_log_peer(zdc_pc *pc, uint64_t id);
/* The log context of this peer (for its owner's own lines). */
const zdc_log_ctx *zdc_pc_log(const zdc_pc *pc);
/* Statistics (pc_stats.c; include/zdc/stats.h documents the fields). Fill every field but
 * `size`, which is kept; allocate nothing. now_ns: the clock of the other calls (consent age). */
void zdc_pc_get_stats(const zdc_pc *pc, uint64_t now_ns, zdc_peer_stats *out);
void zdc_pc_channel_get_stats(const zdc_pc_channel *ch, zdc_channel_stats *out);
/* Negotiated DTLS cipher/version (NULL before the handshake). */
const char *zdc_pc_dtls_cipher(const zdc_pc *pc);

/* ---- I/O and time ---------------------------------------------------------------------- */

/* One datagram received from `from` on a socket this peer uses. STUN goes to ICE; DTLS is
 * accepted only from the selected pair or a pair a check of ours validated (so nothing from an
 * unvalidated address reaches the handshake), and never moves where we send; anything else is
 * dropped.
 * Returns 0 (consumed or dropped) or ZDC_ERR_NOT_FOUND (STUN not for this peer). */
int zdc_pc_handle_datagram(zdc_pc *pc, const zdc_addr *from, const uint8_t *p, size_t len,
                           uint64_t now_ns);
/* A STUN datagram the owner already parsed (msg, and parse_rv: zdc_stun_parse's result, 0 or
 * ZDC_ERR_UNKNOWN_ATTRIBUTE), so that a datagram is parsed once on its way in. Returns as
 * zdc_pc_handle_datagram. */
int zdc_pc_handle_stun(zdc_pc *pc, const zdc_addr *from, const uint8_t *p, size_t len,
                       const zdc_stun_msg *msg, int parse_rv, uint64_t now_ns);
/* Whether a parsed STUN message is this peer's: a request or indication whose USERNAME names
 * it, or a response to a transaction it has open (engine routing). */
bool zdc_pc_owns_stun_msg(const zdc_pc *pc, const zdc_stun_msg *msg);
/* The same for an unparsed datagram. */
bool zdc_pc_owns_stun(const zdc_pc *pc, const uint8_t *p, size_t len);
/* Whether non-STUN traffic (DTLS) from `from` is this peer's: the selected remote address, or
 * any address that answered a check of ours (zdc_ice_remote_verified; engine routing). */
bool zdc_pc_accepts_from(const zdc_pc *pc, const zdc_addr *from);
/* A datagram from `from`, one of this peer's TURN servers (zdc_pc_turn_servers): responses,
 * Data indications and ChannelData for its TURN clients, whose relayed content goes on to
 * ICE or DTLS. Returns 0, or ZDC_ERR_NOT_FOUND when no TURN client took it (the caller then
 * routes it as any other datagram: the address may also be a STUN server's). */
int zdc_pc_handle_turn(zdc_pc *pc, const zdc_addr *from, const uint8_t *p, size_t len,
                       uint64_t now_ns);
/* One complete message (STUN or ChannelData, RFC 6062 framing undone) from the stream of
 * TURN client `slot`. Returns as zdc_pc_handle_turn. */
int zdc_pc_handle_turn_stream(zdc_pc *pc, unsigned slot, const uint8_t *p, size_t len,
                              uint64_t now_ns);
/* The stream of TURN client `slot` failed (could not connect, TLS refused, dropped): that
 * allocation FAILS with `reason`, as one over UDP that stopped answering. */
void zdc_pc_turn_stream_failed(zdc_pc *pc, unsigned slot, const char *reason, uint64_t now_ns);
/* The stream of TURN client `slot` is open; info (TLS: version, cipher, kTLS path) is kept for
 * zdc_peer_stats.relay_tls. */
void zdc_pc_turn_stream_opened(zdc_pc *pc, unsigned slot, const char *info);
/* The addresses of the TURN servers over UDP this peer talks to now, at most max. Returns the
 * count. */
size_t zdc_pc_turn_servers(const zdc_pc *pc, zdc_addr *out, size_t max);
/* The selected pair's candidate types (enum zdc_cand_type). 0 or ZDC_ERR_NOT_FOUND. */
int zdc_pc_selected_candidate_types(const zdc_pc *pc, int *local_type, int *remote_type);
/* One receive batch: the owner hands this peer several datagrams in one go (one poll of the
 * engine) between these two calls; SCTP then answers them together at the end (one SACK for
 * the batch, docs/sctp.md). An end without a begin does nothing. */
void zdc_pc_batch_begin(zdc_pc *pc);
void zdc_pc_batch_end(zdc_pc *pc, uint64_t now_ns);
/* The next deadline (UINT64_MAX: none) and running what is due. */
uint64_t zdc_pc_next_timeout(const zdc_pc *pc);
void zdc_pc_handle_timeout(zdc_pc *pc, uint64_t now_ns);
/* The remote address ICE selected. Returns 0 or ZDC_ERR_NOT_FOUND. */
int zdc_pc_remote_address(const zdc_pc *pc, zdc_addr *out);
/* The local ICE ufrag (what STUN requests to this peer carry before ':' in USERNAME), or NULL
 * while there is no ICE agent (before the first offer or remote description, after close).
 * Valid until the next call that creates, resets or closes the connection. */
const char *zdc_pc_local_ufrag(const zdc_pc *pc);

/* The process-wide timers of the stages (see the top): stores when they next want to run and
 * returns true, or false when none is pending. */
bool zdc_pc_global_next_timeout(uint64_t *at_ns);
/* Runs them; may call any peer connection's env.send and env.notify. */
void zdc_pc_global_handle_timeout(uint64_t now_ns);

/* ---- events ---------------------------------------------------------------------------- */

/* Takes the oldest queued event into *ev (strings owned by the caller until
 * zdc_pc_event_clear). Returns 1, or 0 when the queue is empty. */
int zdc_pc_next_event(zdc_pc *pc, zdc_pc_event *ev);
void zdc_pc_event_clear(zdc_pc_event *ev);

/* ---- channels -------------------------------------------------------------------------- */

/* Sends one message (text: PPID 51, binary: 53; empty ones as 56/57, RFC 8831 §6.6). It goes
 * to SCTP at once, or waits in the channel's queue while SCTP's send buffer is full.
 * Returns 0; ZDC_ERR_INVALID_STATE (channel not OPEN); ZDC_ERR_INVALID_PARAMETER (NULL data);
 * ZDC_ERR_TOO_LARGE (over the remote a=max-message-size — 64 KiB when absent, RFC 8841 §6.1 —
 * or over 1 MiB; nothing sent); ZDC_ERR_QUEUE_FULL (the queue would exceed
 * env.send_queue_limit; nothing queued: wait for ZDC_PC_EV_CHANNEL_LOW); ZDC_ERR_NOMEM. */
int zdc_pc_channel_send(zdc_pc_channel *ch, const uint8_t *p, size_t len, bool text);
/* Sends `len` bytes (> 0) with any PPID on the channel's stream, reliably and in order, past
 * the data-channel layer (no PPID mapping, no size or queue checks). For tests of how the
 * remote side treats hostile input. Returns 0, ZDC_ERR_INVALID_STATE (no stream or SCTP not
 * up) or an error of zdc_sctp_send. */
int zdc_pc_channel_send_raw(zdc_pc_channel *ch, uint32_t ppid, const uint8_t *p, size_t len);
/* Zero-copy send: a writable buffer of cap bytes (one per channel at a time), then submit
 * the first len bytes of it (queued without a copy when SCTP can't take it at once), or
 * discard it. Errors as zdc_channel_acquire_send_buffer / zdc_channel_submit_send_buffer. */
int zdc_pc_channel_buffer_acquire(zdc_pc_channel *ch, size_t cap, uint8_t **data);
int zdc_pc_channel_buffer_submit(zdc_pc_channel *ch, size_t len, bool text);
void zdc_pc_channel_buffer_discard(zdc_pc_channel *ch);
int zdc_pc_channel_peek(zdc_pc_channel *ch, const uint8_t **p, size_t *len, bool *was_string);
void zdc_pc_channel_release(zdc_pc_channel *ch);
/* The SCTP PPID the message zdc_pc_channel_peek() shows arrived with (RFC 8831 §8: 51 text,
 * 53 binary, 56/57 empty text/binary), or 0 when none is waiting. For tests and diagnostics. */
uint32_t zdc_pc_channel_peek_ppid(const zdc_pc_channel *ch);
int zdc_pc_channel_available(const zdc_pc_channel *ch);
/* Received bytes waiting to be read on the channel, and on the whole peer, as counted against
 * env.rx_channel_limit / env.rx_peer_limit. */
size_t zdc_pc_channel_received_bytes(const zdc_pc_channel *ch);
size_t zdc_pc_received_bytes(const zdc_pc *pc);
int zdc_pc_channel_close(zdc_pc_channel *ch);
int zdc_pc_channel_state(const zdc_pc_channel *ch);
const char *zdc_pc_channel_label(const zdc_pc_channel *ch);
const char *zdc_pc_channel_protocol(const zdc_pc_channel *ch);
int zdc_pc_channel_id(const zdc_pc_channel *ch);
bool zdc_pc_channel_ordered(const zdc_pc_channel *ch);
bool zdc_pc_channel_negotiated(const zdc_pc_channel *ch);
int zdc_pc_channel_max_packet_life_time(const zdc_pc_channel *ch);
int zdc_pc_channel_max_retransmits(const zdc_pc_channel *ch);
/* Bytes waiting in the channel's queue (not yet taken by SCTP). ZDC_PC_EV_CHANNEL_LOW is
 * queued each time it falls from above the threshold (default 0) to or below it. */
size_t zdc_pc_channel_buffered_amount(const zdc_pc_channel *ch);
void zdc_pc_channel_set_low_threshold(zdc_pc_channel *ch, size_t bytes);
/* The owner is done with the channel (zdc_channel_release): it must not use `ch` again. It is
 * freed — memory, slot, stream id — once CLOSED, at once if it already is; events still
 * queued for it are dropped. */
void zdc_pc_channel_forget(zdc_pc_channel *ch);
/* Channels the peer holds (open, closing, or closed and not yet forgotten); at most 1024. */
size_t zdc_pc_channel_count(const zdc_pc *pc);
/* The public handle id the API layer stored for this channel (0 = none yet). */
uint64_t zdc_pc_channel_handle(const zdc_pc_channel *ch);
void zdc_pc_channel_set_handle(zdc_pc_channel *ch, uint64_t id);

#endif /* ZDC_CORE_PC_H */
