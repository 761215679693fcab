/* Internals of the native SCTP association, shared by sctp_assoc.c (handshake, dispatch,
 * timers, shutdown), sctp_tx.c (send queue, retransmission, congestion control), sctp_rx.c
 * (received TSNs, reassembly, SACK) and sctp_cookie.c (the state cookie). */
#ifndef ZDC_CORE_SCTP_ASSOC_INT_H
#define ZDC_CORE_SCTP_ASSOC_INT_H

#include "sctp_assoc.h"
#include "sctp_wire.h"

/* Wrap-aware TSN / SSN compares (RFC 9260 §1.6, serial number arithmetic). */
static inline bool zdc_tsn_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool zdc_tsn_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

enum assoc_state {
    ST_CLOSED,
    ST_COOKIE_WAIT,
    ST_COOKIE_ECHOED,
    ST_ESTABLISHED,
    ST_SHUTDOWN_PENDING,
    ST_SHUTDOWN_SENT,
    ST_SHUTDOWN_RECEIVED,
    ST_SHUTDOWN_ACK_SENT,
};

/* ---- sending ------------------------------------------------------------------------------ */

typedef struct tx_msg {
    struct tx_msg *next; /* in its stream's queue */
    uint16_t stream, ssn;
    uint32_t ppid;
    bool unordered;
    bool abandoned;    /* PR-SCTP (RFC 3758 §3.5): given up, covered by FORWARD-TSN */
    bool ssn_closed;   /* its stream's reset request has gone: the SSN is of a closed epoch */
    uint8_t pr_policy; /* ZDC_SCTP_ASSOC_PR_* */
    uint32_t pr_rtx;   /* PR_RTX: retransmissions allowed */
    uint64_t expires;  /* PR_TTL: deadline */
    size_t len, sent;  /* bytes handed to fragments so far */
    unsigned refs;     /* unacknowledged fragments, +1 while queued */
    uint8_t data[];
} tx_msg;

typedef struct tx_frag {
    tx_msg *msg;
    uint32_t off, len;
    uint32_t tsn;
    uint8_t flags;
    uint8_t miss;      /* fast retransmit miss indications (§7.2.4) */
    bool acked;        /* by a gap block (may be renegedged: kept until cum-acked) */
    bool rtx;          /* marked for retransmission */
    bool in_flight;    /* counted in flight_size */
    bool abandoned;    /* its message was abandoned (PR-SCTP) */
    uint16_t tx_count; /* transmissions so far */
    uint64_t sent_at;
} tx_frag;

typedef struct tx_stream {
    uint16_t id;
    uint16_t next_ssn;
    tx_msg *head, *tail;
} tx_stream;

/* ---- receiving ---------------------------------------------------------------------------- */

typedef struct rx_chunk {
    uint32_t tsn;
    uint16_t stream, ssn;
    uint32_t ppid;
    uint8_t flags;
    uint32_t len;
    uint8_t data[];
} rx_chunk;

typedef struct rx_stream {
    uint16_t id;
    uint16_t next_ssn;
} rx_stream;

/* Received TSNs above cum_tsn and stored chunks are indexed by TSN modulo this window. */
#define ZDC_SCTP_RX_WINDOW 4096u

struct zdc_sctp_assoc {
    zdc_sctp_assoc_config cfg;
    int state;
    bool corked;
    bool batch;          /* inside _batch_begin / _batch_end */
    unsigned batch_pkts; /* packets taken in this batch: the end's flush may burst that much more */
    uint64_t rng;

    /* handshake */
    uint32_t local_tag, peer_tag;
    uint16_t os, mis; /* negotiated */
    bool peer_fwd_tsn, peer_reconfig, peer_zero_checksum;
    bool advertise_zero_checksum; /* cleared when a peer aborts our INIT over it */
    uint8_t *cookie;              /* COOKIE ECHO to resend (COOKIE_ECHOED) */
    size_t cookie_len;
    uint64_t t1_at; /* T1-init / T1-cookie deadline, 0 = off */
    unsigned t1_count;
    uint64_t t2_at; /* T2-shutdown */
    unsigned t2_count;

    /* stream reset (sctp_reset.c) */
    uint16_t reset_pending[ZDC_SCTP_MAX_PENDING_RESETS]; /* waiting for the next request */
    unsigned n_reset_pending;
    uint16_t reset_inflight[ZDC_SCTP_MAX_PENDING_RESETS]; /* in the outstanding request */
    unsigned n_reset_inflight;
    uint32_t reconf_seq;      /* our next Re-configuration Request Sequence Number */
    uint32_t reconf_last_tsn; /* Sender's Last Assigned TSN of the request in flight */
    uint64_t reconf_at;       /* its retransmission deadline, 0 = no request in flight */
    unsigned reconf_count;
    uint32_t peer_reconf_seq;  /* the peer's next expected request sequence number */
    uint32_t peer_last_result; /* our answer to the peer's previous request */

    /* sending */
    uint32_t next_tsn; /* next TSN to assign */
    uint32_t peer_cum; /* highest TSN the peer acknowledged cumulatively */
    tx_frag *frags;    /* ring: TSNs peer_cum+1 .. next_tsn-1, index tsn & (frag_cap-1) */
    uint32_t frag_cap;
    tx_stream *txs;
    size_t n_txs;
    size_t rr; /* round-robin cursor into txs */
    size_t queued_bytes, flight_size;
    uint32_t n_rtx;               /* fragments marked for retransmission */
    uint32_t adv_ack;             /* Advanced.Peer.Ack.Point (RFC 3758 §3.5) */
    bool fwd_pending;             /* a FORWARD-TSN goes out with the next packet */
    uint32_t cwnd, ssthresh, pba; /* partial bytes acked */
    uint32_t peer_rwnd;
    bool fast_recovery;
    uint32_t recover_tsn;
    uint64_t t3_at;
    unsigned error_count;
    uint64_t srtt, rttvar, rto; /* ns */
    bool have_rtt;

    /* receiving */
    uint32_t cum_tsn;                       /* last TSN received in sequence */
    uint32_t highest_tsn;                   /* highest TSN received */
    uint64_t seen[ZDC_SCTP_RX_WINDOW / 64]; /* TSNs above cum_tsn received */
    rx_chunk **slots;                       /* stored chunks, ZDC_SCTP_RX_WINDOW */
    size_t rx_held;                         /* bytes stored */
    size_t app_held;                        /* delivered, not yet consumed (set_app_held) */
    uint32_t last_adv_rwnd;                 /* a_rwnd of the last SACK sent */
    rx_stream *rxs;
    size_t n_rxs;
    uint32_t dups[16];
    unsigned n_dups;
    bool sack_now;         /* send a SACK at the end of this packet */
    bool unacked_data;     /* this packet carried DATA */
    unsigned unacked_pkts; /* DATA packets since the last SACK */
    uint64_t sack_at;      /* delayed SACK deadline, 0 = off */
    size_t n_stored;       /* chunks in slots */

    /* heartbeat (sctp_heartbeat.c, RFC 9260 §8.3) */
    uint64_t hb_at;        /* next heartbeat decision, 0 = off */
    uint64_t hb_sent_at;   /* time in the outstanding HEARTBEAT */
    uint64_t hb_nonce;     /* its nonce */
    bool hb_outstanding;   /* sent, not yet acknowledged */
    uint64_t last_data_at; /* last first transmission of a DATA chunk (the path was not idle) */

    uint32_t init_tsn; /* our initial TSN (INIT, and INIT ACK during a collision) */
    uint8_t *out;      /* packet under construction, cfg.mtu bytes */
    zdc_sctp_assoc_stats st;
};

/* sctp_cookie.c */
#define ZDC_SCTP_COOKIE_LEN 84
typedef struct zdc_sctp_cookie {
    uint32_t local_tag, peer_tag, local_tsn, peer_tsn, peer_rwnd;
    uint16_t os, mis;
    uint8_t flags; /* COOKIE_F_* : what the peer's INIT advertised */
    uint64_t created;
    uint32_t tie_local, tie_peer; /* tags of the association the INIT found, or 0 */
} zdc_sctp_cookie;
#define COOKIE_F_FWD_TSN   0x1u
#define COOKIE_F_RECONFIG  0x2u
#define COOKIE_F_ZERO_CSUM 0x4u
/* whether an INIT / INIT ACK lists chunk type t in Supported Extensions */
bool zdc_sctp_init_supports(const zdc_sctp_init_chunk *i, uint8_t t);
int zdc_sctp_cookie_make(const uint8_t key[32], const zdc_sctp_cookie *c,
                         uint8_t out[ZDC_SCTP_COOKIE_LEN]);
/* Returns 0, ZDC_ERR_INTEGRITY (bad MAC or length), ZDC_ERR_TIMEOUT (older than 60 s; *c is
 * filled, for the Stale Cookie error). */
#define ZDC_SCTP_COOKIE_LIFE_NS (60ull * 1000000000ull)
int zdc_sctp_cookie_open(const uint8_t key[32], const uint8_t *p, size_t len, uint64_t now,
                         zdc_sctp_cookie *c);

/* sctp_assoc.c */
void zdc_sctp_assoc_emit(zdc_sctp_assoc *a, zdc_wr *w);
void zdc_sctp_assoc_begin(zdc_sctp_assoc *a, zdc_wr *w, uint32_t vtag);
void zdc_sctp_assoc_fail(zdc_sctp_assoc *a, int reason);

/* sctp_tx.c */
int zdc_sctp_tx_init(zdc_sctp_assoc *a);
void zdc_sctp_tx_clear(zdc_sctp_assoc *a);
int zdc_sctp_tx_queue(zdc_sctp_assoc *a, uint16_t stream, uint32_t ppid, const void *data,
                      size_t len, const zdc_sctp_assoc_send_opts *o, uint64_t now);
void zdc_sctp_tx_flush(zdc_sctp_assoc *a, uint64_t now);
void zdc_sctp_tx_handle_sack(zdc_sctp_assoc *a, const zdc_sctp_sack_chunk *s, uint64_t now);
void zdc_sctp_tx_handle_t3(zdc_sctp_assoc *a, uint64_t now);
bool zdc_sctp_tx_idle(const zdc_sctp_assoc *a);

/* sctp_reset.c */
bool zdc_sctp_reset_blocks(const zdc_sctp_assoc *a, uint16_t stream);
void zdc_sctp_reset_handle(zdc_sctp_assoc *a, const zdc_sctp_reconfig_chunk *c, uint64_t now);
void zdc_sctp_reset_flush(zdc_sctp_assoc *a, uint64_t now);
void zdc_sctp_reset_timeout(zdc_sctp_assoc *a, uint64_t now);
void zdc_sctp_assoc_send_chunk(zdc_sctp_assoc *a, uint32_t vtag, const zdc_sctp_chunk *c);
void zdc_sctp_tx_reset_ssn(zdc_sctp_assoc *a, uint16_t stream);
void zdc_sctp_tx_close_ssn_epoch(zdc_sctp_assoc *a, uint16_t stream);
bool zdc_sctp_tx_stream_idle(const zdc_sctp_assoc *a, uint16_t stream);
void zdc_sctp_rx_reset_ssn(zdc_sctp_assoc *a, uint16_t stream);
void zdc_sctp_rx_forward_tsn(zdc_sctp_assoc *a, const zdc_sctp_fwd_tsn_chunk *f);

/* sctp_heartbeat.c */
void zdc_sctp_hb_start(zdc_sctp_assoc *a, uint64_t now);
void zdc_sctp_hb_timeout(zdc_sctp_assoc *a, uint64_t now);
void zdc_sctp_hb_ack(zdc_sctp_assoc *a, const uint8_t *info, size_t len, uint64_t now);
/* sctp_tx.c: one RTT measurement (RFC 6298 §2) */
void zdc_sctp_tx_rtt_sample(zdc_sctp_assoc *a, uint64_t r);
uint32_t zdc_sctp_assoc_rnd32(zdc_sctp_assoc *a);

/* sctp_rx.c */
int zdc_sctp_rx_init(zdc_sctp_assoc *a);
void zdc_sctp_rx_clear(zdc_sctp_assoc *a);
/* One DATA chunk; returns 0 or ZDC_ERR_PROTOCOL (zero-length DATA: abort). */
int zdc_sctp_rx_data(zdc_sctp_assoc *a, const zdc_sctp_data_chunk *d);
/* End of a packet that carried DATA: decide SACK now or later. */
void zdc_sctp_rx_packet_done(zdc_sctp_assoc *a, uint64_t now);
/* Appends a SACK to w if one is due (or `force`); returns whether it did. */
bool zdc_sctp_rx_write_sack(zdc_sctp_assoc *a, zdc_wr *w, bool force);
uint32_t zdc_sctp_rx_a_rwnd(const zdc_sctp_assoc *a);

#endif /* ZDC_CORE_SCTP_ASSOC_INT_H */
