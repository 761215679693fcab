/* SCTP stage: one SCTP association (RFC 9260) over an opaque packet transport, the layer under
 * WebRTC data channels (RFC 8831 §6). Built on usrsctp in its no-threads mode.
 *
 * Sans-IO from zdc's point of view: SCTP packets leave through the `send` callback (the DTLS
 * stage encrypts them), arrive through zdc_sctp_handle_packet(), and timers run when the caller
 * drives zdc_sctp_global_tick(). usrsctp is process-global: the first zdc_sctp_new()
 * initializes it with usrsctp_init_nothreads(), so no usrsctp thread exists and every callback
 * below is raised synchronously on the thread that called into this module.
 *
 * Threading: all zdc_sctp functions (of every association) must be called from one thread —
 * the engine thread. usrsctp's timer wheel is shared by all associations, so a timer fired by
 * zdc_sctp_global_tick() may send a packet of any association through its `send` callback.
 *
 * Re-entrancy:
 * - `send` (packet out) may be called from inside usrsctp (during zdc_sctp_connect, _send,
 *   _handle_packet, _reset_stream, _close, zdc_sctp_global_tick). It must not call any
 *   zdc_sctp function; it should encrypt/queue the packet and return.
 * - Every other callback is raised after usrsctp has returned, while this module reads the
 *   association's socket. From those callbacks the user may call zdc_sctp_send,
 *   zdc_sctp_reset_stream, zdc_sctp_buffered_amount, zdc_sctp_close and zdc_sctp_free on any
 *   association (deleting the one being dispatched is deferred until its dispatch ends).
 *   After zdc_sctp_close() or zdc_sctp_free() returns, no callback is raised for it again.
 *
 * Association setup follows WebRTC: both sides bind their a=sctp-port and connect to the
 * remote a=sctp-port (simultaneous open, RFC 9260 §5.2.4 handles the INIT collision).
 */
#ifndef ZDC_CORE_SCTP_H
#define ZDC_CORE_SCTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#include "zdc/error.h"

typedef struct zdc_sctp zdc_sctp;

/* RFC 8841 §5: default a=sctp-port. */
#define ZDC_SCTP_DEFAULT_PORT 5000
/* Streams offered in each direction. RFC 8831 §6.2 says SHOULD 65535; usrsctp allocates
 * per-stream state for every negotiated stream, so zdc caps it like Chrome did (1024). */
#define ZDC_SCTP_DEFAULT_STREAMS 1024
/* Largest SCTP packet handed to `send` (Chrome's usrsctp transport used 1200, leaving room for
 * DTLS, UDP and IP headers under common path MTUs). Path MTU discovery is off. */
#define ZDC_SCTP_DEFAULT_MTU 1200
/* Largest message received / sent by default (DESIGN: 256 KiB). */
#define ZDC_SCTP_DEFAULT_MAX_MESSAGE (256u * 1024u)
/* Socket buffers: large enough for a few max-size messages in flight and a useful window. */
#define ZDC_SCTP_DEFAULT_SNDBUF (1024u * 1024u)
#define ZDC_SCTP_DEFAULT_RCVBUF (1024u * 1024u)
/* zdc_sctp_global_tick() cadence while usrsctp may have timers pending. */
#define ZDC_SCTP_TICK_NS (10u * 1000u * 1000u)

/* on_message flags */
#define ZDC_SCTP_MSG_UNORDERED 0x1u

/* Why an association went down (argument of on_down). */
enum zdc_sctp_down_reason {
    ZDC_SCTP_DOWN_ABORTED = 1,   /* peer sent ABORT, or the association failed (timeouts) */
    ZDC_SCTP_DOWN_SHUTDOWN = 2,  /* graceful SHUTDOWN completed */
    ZDC_SCTP_DOWN_CANT_START = 3 /* INIT/COOKIE exchange failed (retries exhausted) */
};

typedef struct zdc_sctp_callbacks {
    /* Required. One SCTP packet (<= mtu bytes) to transmit. Return 0; a negative value counts
     * the packet as dropped (SCTP retransmits). Must not call into zdc_sctp. */
    int (*send)(void *user, const uint8_t *p, size_t len);
    /* The association is established; negotiated stream counts. */
    void (*on_up)(void *user, uint16_t in_streams, uint16_t out_streams);
    /* The association is gone (enum zdc_sctp_down_reason). Raised at most once. */
    void (*on_down)(void *user, int reason);
    /* One complete message. `p` is valid only during the call. len may be 0 only if the peer
     * sent a 0-byte message, which RFC 8831 §6.6 avoids via PPIDs 56/57 (channel layer). */
    void (*on_message)(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                       unsigned flags);
    /* A message on `stream` exceeded max_message_size and was discarded (the rest of it is
     * skipped); the channel layer should close that channel (RFC 8831 §6.6). */
    void (*on_message_too_large)(void *user, uint16_t stream, uint32_t ppid);
    /* The peer reset its outgoing `stream` (RFC 6525 §5.2.2): the remote closed the channel. */
    void (*on_stream_reset)(void *user, uint16_t stream);
    /* The association's send-buffer fill level dropped to `amount` bytes. */
    void (*on_buffered_amount)(void *user, size_t amount);
    /* Native SCTP only, optional: a send made outside any call that carries time (an
     * application's send) is queued; the association asks to be run (zdc_sctp_handle_timeout
     * with the current time) soon, when it puts the queued data on the wire. */
    void (*on_wakeup)(void *user);
} zdc_sctp_callbacks;

typedef struct zdc_sctp_config {
    uint16_t local_port;     /* our a=sctp-port */
    uint16_t remote_port;    /* the peer's a=sctp-port */
    uint16_t streams;        /* inbound and outbound streams offered, 1..65535 */
    uint32_t mtu;            /* largest SCTP packet, 576..65535 */
    size_t max_message_size; /* largest message received, >= 1 */
    size_t max_send_size;    /* largest message sent (remote max-message-size), >= 1 */
    uint32_t sndbuf;         /* socket send buffer, >= max_send_size */
    uint32_t rcvbuf;         /* socket receive buffer, >= 64 KiB */
    /* Retransmission timing (RFC 9260 §6.3.1, §8.1); 0 keeps zdc's stack-wide defaults:
     * initial 1000 ms, min 200 ms, max 10000 ms, 10 retransmissions before the association
     * is declared dead. Servers may lower these to detect vanished clients sooner. */
    uint32_t rto_initial_ms, rto_min_ms, rto_max_ms;
    uint16_t max_retransmits;
    /* Use zdc's own SCTP (core/sctp, docs/sctp.md) instead of usrsctp. zdc_sctp_config_default
     * sets it from the environment: true (native, the default) unless ZDC_SCTP=usrsctp; the
     * peer connection overrides it with zdc_peer_tuning.sctp_impl. A native association has no
     * process-global state: its timers run through zdc_sctp_next_timeout / zdc_sctp_handle_timeout,
     * and it needs the caller's time through zdc_sctp_set_now. */
    bool native;
    zdc_sctp_callbacks cb;
    void *user;
    /* Optional log context (must outlive the association); NULL is silent. An association that
     * ends logs why at ERROR (ABORT received with its causes, retransmissions exhausted, could
     * not start); a SHUTDOWN at INFO. */
    const zdc_log_ctx *log;
} zdc_sctp_config;

/* PR-SCTP policies (RFC 3758, RFC 7496) for zdc_sctp_send_opts.pr_policy. */
enum zdc_sctp_pr {
    ZDC_SCTP_PR_NONE = 0, /* reliable */
    ZDC_SCTP_PR_RTX = 1,  /* pr_value = maximum retransmissions (0 = send once) */
    ZDC_SCTP_PR_TTL = 2   /* pr_value = lifetime in milliseconds */
};

/* An SCTP stream identifier (RFC 9260 §3.3.1, 16 bits): a type of its own so that it cannot be
 * mixed up with a PPID, a channel's index or a handle id. */
typedef struct zdc_stream_id {
    uint16_t v;
} zdc_stream_id;

static inline zdc_stream_id zdc_stream_id_of(uint16_t v)
{
    return (zdc_stream_id){v};
}

typedef struct zdc_sctp_send_opts {
    bool unordered;
    int pr_policy; /* enum zdc_sctp_pr */
    uint32_t pr_value;
} zdc_sctp_send_opts;

typedef struct zdc_sctp_stats {
    uint64_t packets_out, bytes_out, packets_in, bytes_in;
    uint64_t messages_out, messages_in, messages_too_large;
    size_t max_packet_out;    /* largest packet handed to `send` */
    uint64_t retransmissions; /* DATA/I-DATA chunks sent again: a TSN not above the highest
                                 sent before (timeout or fast retransmit) */
} zdc_sctp_stats;

/* The association's transmission state, queried from the stack (zdc_peer_get_stats). */
typedef struct zdc_sctp_status {
    bool up;
    uint32_t cwnd;      /* congestion window, bytes */
    uint32_t peer_rwnd; /* the peer's receive window, bytes */
    uint32_t srtt_ms;   /* smoothed RTT (RFC 9260 §6.3.1), 0 before a sample */
    uint32_t rto_ms;
    uint32_t mtu;          /* path MTU in use */
    uint32_t unacked;      /* DATA chunks sent and not acknowledged */
    uint32_t sndbuf_bytes; /* bytes held for sending: unsent, in flight or unacknowledged */
    uint64_t abandoned;    /* messages abandoned by PR-SCTP (RFC 3758), sent or unsent */
} zdc_sctp_status;

/* Fills `cfg` with the defaults above (ports 5000/5000, no callbacks). */
void zdc_sctp_config_default(zdc_sctp_config *cfg);

/* Creates an association object: initializes usrsctp on first use, creates and configures
 * the AF_CONN socket and binds it to cfg->local_port. Nothing is sent until
 * zdc_sctp_connect().
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (NULL, no `send` callback, a value out of range),
 * ZDC_ERR_NOMEM, ZDC_ERR_IO (usrsctp refused a socket or option; nothing is left behind). */
int zdc_sctp_new(const zdc_sctp_config *cfg, zdc_sctp **out);

/* Starts the association (sends INIT). Both WebRTC peers call this.
 * Returns 0, ZDC_ERR_INVALID_STATE (already connecting/connected or closed), ZDC_ERR_IO. */
int zdc_sctp_connect(zdc_sctp *s);

/* Feeds one received SCTP packet (decrypted DTLS payload) into usrsctp and raises the
 * resulting callbacks. The packet is copied by usrsctp; `p` is not retained. A packet that
 * arrives before zdc_sctp_connect() connects first (the peer's INIT may beat our connect).
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (NULL or empty), ZDC_ERR_CLOSED (after close),
 * ZDC_ERR_IO (the implicit connect failed). */
int zdc_sctp_handle_packet(zdc_sctp *s, const uint8_t *p, size_t len);

/* Queues one message. Atomic: either the whole message is accepted or nothing is.
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (stream >= negotiated outbound streams, bad policy,
 * NULL data with len > 0, len == 0: SCTP cannot carry empty user messages, RFC 9260 §3.3.1),
 * ZDC_ERR_TOO_LARGE (len > max_send_size), ZDC_ERR_AGAIN (send buffer full: retry after
 * on_buffered_amount), ZDC_ERR_INVALID_STATE (association not up), ZDC_ERR_CLOSED,
 * ZDC_ERR_IO. */
int zdc_sctp_send(zdc_sctp *s, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len,
                  const zdc_sctp_send_opts *opts);

/* Stops (paused = true) or resumes taking data from the association. While paused nothing is
 * read: received data stays in SCTP's receive buffer (cfg.rcvbuf), so the window SCTP
 * advertises shrinks and closes and flow control slows the sender (RFC 9260 §6.2.1); nothing
 * is dropped. The peer-connection layer pauses when its queue of received messages is full
 * and resumes when the application reads. Notifications (stream resets, the association
 * going down) queued behind the data wait with it. May be called from any callback; a resume
 * reads what waits at once (raising callbacks, unless called from inside one: the running
 * dispatch continues). Idempotent. */
void zdc_sctp_pause_receive(zdc_sctp *s, bool paused);

/* Bytes queued in the association's send buffer (not yet acknowledged); 0 when closed. */
size_t zdc_sctp_buffered_amount(zdc_sctp *s);

/* Resets our outgoing `stream` (RFC 6525 §5.1.2 Outgoing SSN Reset Request): the peer sees
 * the channel closed. Requests made while another reset is in flight are queued and sent
 * when it completes. Returns 0, ZDC_ERR_INVALID_PARAMETER, ZDC_ERR_INVALID_STATE (not up),
 * ZDC_ERR_NOMEM, ZDC_ERR_CLOSED, ZDC_ERR_IO. */
int zdc_sctp_reset_stream(zdc_sctp *s, uint16_t stream);

/* Aborts the association (ABORT chunk, SO_LINGER 0) and releases the socket. No callback is
 * raised for `s` afterwards. Idempotent. */
void zdc_sctp_close(zdc_sctp *s);

/* Closes (if needed) and frees `s`. NULL is a no-op. */
void zdc_sctp_free(zdc_sctp *s);

/* True between on_up and on_down/close. */
bool zdc_sctp_is_up(const zdc_sctp *s);

/* Negotiated outbound stream count (0 before on_up). */
uint16_t zdc_sctp_out_streams(const zdc_sctp *s);

/* Updates the largest message sent (remote SDP max-message-size, RFC 8841 §6).
 * Returns 0 or ZDC_ERR_INVALID_PARAMETER (0 or larger than the send buffer). */
int zdc_sctp_set_max_send_size(zdc_sctp *s, size_t max_send_size);

void zdc_sctp_get_stats(const zdc_sctp *s, zdc_sctp_stats *st);
/* Fills *st from the stack (a few socket-option reads, no allocation); zeroes while the
 * association is not up. */
void zdc_sctp_get_status(const zdc_sctp *s, zdc_sctp_status *st);

/* ---- per-association time (native SCTP; no-ops for usrsctp) -------------------------------- */

/* True when `s` runs on the native SCTP. */
bool zdc_sctp_is_native(const zdc_sctp *s);

/* The caller's current time (monotonic ns, never going back), used by the calls that carry no
 * time of their own (send, reset, connect, handle_packet). */
void zdc_sctp_set_now(zdc_sctp *s, uint64_t now_ns);

/* When zdc_sctp_handle_timeout must run next, or UINT64_MAX (always, for usrsctp). */
uint64_t zdc_sctp_next_timeout(const zdc_sctp *s);

/* Runs the association's due timers (retransmissions, delayed SACK, ...). */
void zdc_sctp_handle_timeout(zdc_sctp *s, uint64_t now_ns);

/* One receive batch (native SCTP; no-ops for usrsctp): the packets handed in between
 * zdc_sctp_batch_begin and zdc_sctp_batch_end are answered together at the end — one SACK for
 * the batch, and the data it lets go bundled — instead of after each packet. The peer
 * connection calls them around the datagrams the engine delivers to it in one poll. An end
 * without a begin is harmless. */
void zdc_sctp_batch_begin(zdc_sctp *s);
void zdc_sctp_batch_end(zdc_sctp *s);

/* ---- process-global timer driving ---------------------------------------------------------
 * usrsctp has one timer wheel for all associations and no "next expiry" query, so zdc ticks
 * it at a fixed ZDC_SCTP_TICK_NS (10 ms) cadence while anything may have a timer pending:
 * while associations exist and for a grace period after the last one closed (usrsctp frees
 * closed endpoints from timers). usrsctp's wheel advances only by the elapsed time passed
 * here; RTT samples inside usrsctp use the real clock. */

/* Advances usrsctp's timers to `now_ns` (any monotonic clock, same one on every call; the
 * first call only records the origin) and raises the resulting callbacks. Sub-millisecond
 * remainders carry over to the next call. */
void zdc_sctp_global_tick(uint64_t now_ns);

/* Stores in *deadline_ns when zdc_sctp_global_tick() should next run and returns true, or
 * returns false when no tick is needed (no associations, nothing pending). */
bool zdc_sctp_global_next_tick(uint64_t *deadline_ns);

/* Number of live zdc_sctp objects (the reference count on usrsctp). */
unsigned zdc_sctp_global_refs(void);

/* Shuts usrsctp down (usrsctp_finish) when no association exists and usrsctp has freed every
 * endpoint. Meant for process exit and leak checks; once it succeeded zdc_sctp_new fails
 * with ZDC_ERR_INVALID_STATE (usrsctp cannot be safely re-initialized in one process:
 * sctplab/usrsctp#713). Returns 0 (done, or never initialized), ZDC_ERR_AGAIN (associations
 * still exist or usrsctp still holds closed endpoints: keep ticking and retry). */
int zdc_sctp_global_shutdown(void);

#endif /* ZDC_CORE_SCTP_H */
