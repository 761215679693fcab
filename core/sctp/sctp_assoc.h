/* A native SCTP association (RFC 9260) for WebRTC data channels, sans-IO.
 *
 * No clock, no socket, no global state: every call takes `now` (nanoseconds, any monotonic
 * origin, never going backwards), packets leave through the `send` callback, and
 * zdc_sctp_assoc_next_timeout() says when zdc_sctp_assoc_handle_timeout() must run next.
 * Randomness (verification tags, initial TSNs, the cookie key) comes from the config. Two
 * associations on two threads share nothing.
 *
 * Life: zdc_sctp_assoc_new -> _connect (both WebRTC peers call it: INIT collision, RFC 9260
 * §5.2.1) -> on_up -> _send / on_message -> _shutdown (on_down SHUTDOWN) or _abort / a peer
 * ABORT / too many retransmissions (on_down ABORTED) -> _free.
 *
 * Callbacks are raised synchronously from inside the call that caused them (packet in,
 * timeout, send). From a callback the user may call _send and _buffered_amount; not _free.
 *
 * Done here: four-way handshake with an HMAC-SHA256 state cookie (nothing kept for a peer
 * before its COOKIE ECHO verifies), simultaneous INIT, verification tags (§8.5), OS/MIS,
 * fragmentation to the MTU, bundling, round-robin stream scheduling by message, ordered and
 * unordered reassembly, SACK with gap blocks and duplicate TSNs, delayed SACK (every second
 * packet or 200 ms), T3-rtx with RFC 6298 RTO, Karn's rule and backoff, fast retransmit, cwnd
 * and ssthresh (§7), peer rwnd, max-burst, graceful SHUTDOWN, ABORT, zero checksum (RFC 9653)
 * with a retry without it when the peer aborts the handshake, stream reset for closing channels
 * (RFC 6525 outgoing requests and responses), partial reliability (RFC 3758: abandon by
 * retransmissions or lifetime, FORWARD-TSN both ways). Not yet: heartbeats, restart, I-DATA
 * (docs/sctp.md). */
#ifndef ZDC_CORE_SCTP_ASSOC_H
#define ZDC_CORE_SCTP_ASSOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"

typedef struct zdc_sctp_assoc zdc_sctp_assoc;

enum zdc_sctp_assoc_down {
    ZDC_SCTP_ASSOC_ABORTED = 1,  /* peer ABORT, or retransmissions exhausted */
    ZDC_SCTP_ASSOC_SHUTDOWN = 2, /* graceful shutdown completed */
    ZDC_SCTP_ASSOC_CANT_START = 3,
};

#define ZDC_SCTP_ASSOC_MSG_UNORDERED 0x1u

typedef struct zdc_sctp_assoc_callbacks {
    /* Required: one packet to transmit (<= mtu bytes, valid during the call). */
    int (*send)(void *user, const uint8_t *p, size_t len);
    void (*on_up)(void *user, uint16_t in_streams, uint16_t out_streams);
    void (*on_down)(void *user, int reason);
    /* One complete message, valid during the call. */
    void (*on_message)(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                       unsigned flags);
    /* Optional: a message on `stream` was larger than max_message_size and was dropped whole
     * (RFC 8831 §6.6: the channel layer closes that channel). */
    void (*on_message_too_large)(void *user, uint16_t stream, uint32_t ppid);
    /* The peer reset its outgoing `stream` (RFC 6525 §5.2.2): the remote closed a channel. */
    void (*on_stream_reset)(void *user, uint16_t stream);
    /* Our reset of outgoing `stream` was performed by the peer: the id may be used again. */
    void (*on_reset_done)(void *user, uint16_t stream);
    /* The peer sent ABORT; `causes` are its error causes (walk with zdc_sctp_cause_next),
     * valid during the call. on_down follows. */
    void (*on_abort)(void *user, const uint8_t *causes, size_t len);
    /* Optional: the peer restarted (RFC 9260 §5.2.4 A: a COOKIE ECHO with new tags). The
     * association goes on with fresh sequence state: everything queued or in flight was
     * dropped, every stream starts again at SSN 0, and the peer has lost what it held
     * (the channel layer above should treat its channels as closed). */
    void (*on_restart)(void *user);
} zdc_sctp_assoc_callbacks;

typedef struct zdc_sctp_assoc_config {
    uint16_t local_port, remote_port;
    uint16_t streams;        /* offered in each direction (OS and MIS), >= 1 */
    uint32_t mtu;            /* largest packet, 576..65535 (default 1200) */
    uint32_t rwnd;           /* receive window in bytes (default 1 MiB) */
    size_t max_message_size; /* largest message received (default 256 KiB) */
    uint32_t rto_initial_ms, rto_min_ms, rto_max_ms; /* default 1000 / 200 / 10000 */
    uint16_t max_retransmits;                        /* association-wide, default 10 */
    uint16_t max_init_retransmits;                   /* default 8 */
    /* RFC 9260 §8.3 HB.interval: a HEARTBEAT goes on a path idle for RTO + this (with
     * jitter of +-RTO/2); unanswered ones count toward max_retransmits. Default 30000; 0 =
     * no heartbeats. */
    uint32_t hb_interval_ms;
    bool zero_checksum;     /* advertise RFC 9653 acceptance, send 0 to peers that accept */
    uint64_t random_seed;   /* tags and TSNs (from a CSPRNG in production) */
    uint8_t cookie_key[32]; /* HMAC key of the state cookie (from a CSPRNG) */
    zdc_sctp_assoc_callbacks cb;
    void *user;
} zdc_sctp_assoc_config;

typedef struct zdc_sctp_assoc_stats {
    uint64_t packets_out, packets_in, bytes_out, bytes_in;
    uint64_t dropped; /* malformed, bad checksum, bad tag, out of window */
    uint64_t retransmits, fast_retransmits, t3_expiries;
    uint64_t messages_out, messages_in;
    uint64_t build_errors; /* packets that could not be built (must stay 0) */
    uint32_t cwnd, ssthresh, rto_ms, srtt_ms;
    uint32_t peer_rwnd; /* the peer's window as we last computed it */
    uint32_t unacked;   /* TSNs sent and not cumulatively acknowledged */
    uint64_t abandoned; /* messages given up (PR-SCTP) */
    uint64_t heartbeats, heartbeat_acks, restarts, stale_cookies;
    bool peer_zero_checksum; /* we send 0 */
} zdc_sctp_assoc_stats;

void zdc_sctp_assoc_config_default(zdc_sctp_assoc_config *c);

/* Returns 0, ZDC_ERR_INVALID_PARAMETER (no send callback, a value out of range),
 * ZDC_ERR_NOMEM. */
int zdc_sctp_assoc_new(const zdc_sctp_assoc_config *c, zdc_sctp_assoc **out);
void zdc_sctp_assoc_free(zdc_sctp_assoc *a);

/* Sends INIT. Returns 0 or ZDC_ERR_INVALID_STATE (not closed). */
int zdc_sctp_assoc_connect(zdc_sctp_assoc *a, uint64_t now);

/* One received packet. Malformed, mis-tagged or corrupt packets are dropped and counted
 * (stats.dropped); the return value is then ZDC_ERR_MALFORMED / ZDC_ERR_INTEGRITY /
 * ZDC_ERR_PROTOCOL for the caller's information only — the association is unchanged. */
int zdc_sctp_assoc_handle_packet(zdc_sctp_assoc *a, const uint8_t *p, size_t len, uint64_t now);

/* Runs due timers. */
void zdc_sctp_assoc_handle_timeout(zdc_sctp_assoc *a, uint64_t now);

/* The earliest deadline, or UINT64_MAX. */
uint64_t zdc_sctp_assoc_next_timeout(const zdc_sctp_assoc *a);

/* Partial reliability (RFC 3758, RFC 7496), used when the peer supports FORWARD-TSN. */
enum zdc_sctp_assoc_pr {
    ZDC_SCTP_ASSOC_PR_NONE = 0, /* reliable */
    ZDC_SCTP_ASSOC_PR_RTX = 1,  /* pr_value = retransmissions allowed (0 = sent once) */
    ZDC_SCTP_ASSOC_PR_TTL = 2,  /* pr_value = lifetime in milliseconds */
};

typedef struct zdc_sctp_assoc_send_opts {
    bool unordered;
    int pr_policy; /* enum zdc_sctp_assoc_pr */
    uint32_t pr_value;
} zdc_sctp_assoc_send_opts;

/* Like zdc_sctp_assoc_send with options (NULL: reliable, ordered). Also returns
 * ZDC_ERR_INVALID_PARAMETER for an unknown policy. */
int zdc_sctp_assoc_send_ex(zdc_sctp_assoc *a, uint16_t stream, uint32_t ppid, const void *data,
                           size_t len, const zdc_sctp_assoc_send_opts *o, uint64_t now);

/* Queues one message (copied). Returns 0, ZDC_ERR_INVALID_PARAMETER (len 0, stream beyond the
 * negotiated outbound streams), ZDC_ERR_INVALID_STATE (not established), ZDC_ERR_NOMEM. */
int zdc_sctp_assoc_send(zdc_sctp_assoc *a, uint16_t stream, uint32_t ppid, const void *data,
                        size_t len, bool unordered, uint64_t now);

/* Resets our outgoing `stream` (RFC 6525 §5.1.2 Outgoing SSN Reset Request), after the
 * messages already queued on it. One request is in flight at a time; streams asked for
 * meanwhile go together in the next one. Until on_reset_done, _send on the stream answers
 * ZDC_ERR_INVALID_STATE. Returns 0, ZDC_ERR_INVALID_PARAMETER (stream >= outbound streams),
 * ZDC_ERR_NOT_SUPPORTED (the peer did not offer RE-CONFIG), ZDC_ERR_INVALID_STATE (not
 * established), ZDC_ERR_QUEUE_FULL (ZDC_SCTP_MAX_PENDING_RESETS streams already waiting). */
#define ZDC_SCTP_MAX_PENDING_RESETS 64
int zdc_sctp_assoc_reset_stream(zdc_sctp_assoc *a, uint16_t stream, uint64_t now);

/* Bytes of delivered messages the application has not consumed yet: they count against the
 * receive window we advertise (RFC 9260 §6.2.1: a_rwnd is the buffer space left), so a reader
 * that stops holds the sender back. When the window opens again by a quarter or more, a window
 * update SACK goes at once. */
void zdc_sctp_assoc_set_app_held(zdc_sctp_assoc *a, size_t bytes, uint64_t now);

/* While corked, _send only queues; uncorking sends what fits at once, bundling small messages
 * into full packets (an engine corks around one poll's worth of application sends). */
void zdc_sctp_assoc_cork(zdc_sctp_assoc *a, bool corked, uint64_t now);

/* One receive batch (issue 11: "one SACK per receive batch"): between _batch_begin and
 * _batch_end, _handle_packet takes packets in but leaves what it would send at the end of each
 * (the SACK, data the SACKs let go, a FORWARD-TSN, a reset request) to _batch_end, which sends
 * it once: a batch of N DATA packets is answered by one SACK, and new data leaves bundled.
 * Answers that cannot wait (COOKIE ACK, HEARTBEAT ACK, RE-CONFIG responses, ABORT) still go at
 * once. _batch_end without _batch_begin is harmless. An engine calls these around the datagrams
 * of one poll for one peer. */
void zdc_sctp_assoc_batch_begin(zdc_sctp_assoc *a);
void zdc_sctp_assoc_batch_end(zdc_sctp_assoc *a, uint64_t now);

/* Graceful shutdown once queued data is acknowledged (RFC 9260 §9.2). */
int zdc_sctp_assoc_shutdown(zdc_sctp_assoc *a, uint64_t now);

/* Sends ABORT (User-Initiated Abort) and closes at once; on_down is not raised. */
void zdc_sctp_assoc_abort(zdc_sctp_assoc *a, uint64_t now);

bool zdc_sctp_assoc_is_up(const zdc_sctp_assoc *a);
bool zdc_sctp_assoc_is_closed(const zdc_sctp_assoc *a);
/* Bytes queued or in flight, not yet acknowledged. */
size_t zdc_sctp_assoc_buffered_amount(const zdc_sctp_assoc *a);
void zdc_sctp_assoc_get_stats(const zdc_sctp_assoc *a, zdc_sctp_assoc_stats *st);

#endif /* ZDC_CORE_SCTP_ASSOC_H */
