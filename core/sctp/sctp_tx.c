/* Sending side of the native association: per-stream message queues scheduled round robin by
 * message, fragmentation into DATA chunks that fill the MTU, bundling, the outstanding-TSN
 * ring, SACK processing, retransmission (T3-rtx, fast retransmit) and congestion control
 * (RFC 9260 §6.1, §6.3, §7).
 *
 * A message is copied once into a tx_msg when queued; its fragments reference it until
 * acknowledged. The outstanding ring grows by doubling and is reused, so the steady state
 * allocates one block per message and nothing per packet. */
#include "sctp_assoc_int.h"

#include <stdlib.h>

#define MAX_BURST 4 /* RFC 9260 §16 Max.Burst */
#define MS        1000000ull

int zdc_sctp_tx_init(zdc_sctp_assoc *a)
{
    a->frag_cap = 0;
    a->frags = NULL;
    /* §7.2.1: initial cwnd = min(4 * MTU, max(2 * MTU, 4380 bytes)). */
    uint32_t mtu = a->cfg.mtu;
    a->cwnd =
        4 * mtu < (2 * mtu > 4380 ? 2 * mtu : 4380) ? 4 * mtu : (2 * mtu > 4380 ? 2 * mtu : 4380);
    a->rto = (uint64_t)a->cfg.rto_initial_ms * MS;
    return 0;
}

static void msg_unref(zdc_sctp_assoc *a, tx_msg *m)
{
    if (--m->refs == 0)
        free(m);
}

static tx_frag *frag_of(const zdc_sctp_assoc *a, uint32_t tsn)
{
    return &a->frags[tsn & (a->frag_cap - 1)];
}

/* Marks or unmarks f for retransmission, keeping the count that lets flush skip the scan. */
static void set_rtx(zdc_sctp_assoc *a, tx_frag *f, bool v)
{
    if (f->rtx != v)
        a->n_rtx += v ? 1 : -1;
    f->rtx = v;
}

void zdc_sctp_tx_clear(zdc_sctp_assoc *a)
{
    for (uint32_t t = a->peer_cum + 1; a->frags && zdc_tsn_lt(t, a->next_tsn); t++)
        msg_unref(a, frag_of(a, t)->msg);
    free(a->frags);
    a->frags = NULL;
    for (size_t i = 0; i < a->n_txs; i++) {
        tx_msg *m = a->txs[i].head;
        while (m) {
            tx_msg *n = m->next;
            msg_unref(a, m);
            m = n;
        }
    }
    free(a->txs);
    a->txs = NULL;
    a->n_txs = 0;
}

static tx_stream *tx_stream_get(zdc_sctp_assoc *a, uint16_t id)
{
    for (size_t i = 0; i < a->n_txs; i++)
        if (a->txs[i].id == id)
            return &a->txs[i];
    tx_stream *n = realloc(a->txs, (a->n_txs + 1) * sizeof *n);
    if (n == NULL)
        return NULL;
    a->txs = n;
    a->txs[a->n_txs] = (tx_stream){.id = id};
    return &a->txs[a->n_txs++];
}

int zdc_sctp_tx_queue(zdc_sctp_assoc *a, uint16_t stream, uint32_t ppid, const void *data,
                      size_t len, const zdc_sctp_assoc_send_opts *o, uint64_t now)
{
    bool unordered = o->unordered;
    tx_stream *s = tx_stream_get(a, stream);
    if (s == NULL)
        return ZDC_ERR_NOMEM;
    tx_msg *m = malloc(sizeof *m + len);
    if (m == NULL)
        return ZDC_ERR_NOMEM;
    *m = (tx_msg){.stream = stream,
                  .ppid = ppid,
                  .unordered = unordered,
                  .pr_policy = (uint8_t)o->pr_policy,
                  .pr_rtx = o->pr_value,
                  .expires = o->lifetime_from_next_now ? (uint64_t)o->pr_value * MS
                                                       : now + (uint64_t)o->pr_value * MS,
                  .stamp_expiry = o->lifetime_from_next_now,
                  .len = len,
                  .refs = 1};
    memcpy(m->data, data, len);
    /* The SSN is taken when the first fragment goes out, so a message abandoned before that
     * leaves no hole in its stream's sequence. */
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
    s->unstamped += m->stamp_expiry;
    a->queued_bytes += len;
    a->st.messages_out++;
    return 0;
}

/* Whether the stream may be reset now: nothing of it left in the queue (its last message has
 * its TSNs, so the request's "Sender's Last Assigned TSN" covers it; the peer defers the reset
 * until that data is in, RFC 6525 §5.2.2). usrsctp and dcSCTP wait for the acknowledgement as
 * well; zdc does not, so that a receiver's deferred-reset handling stays exercised
 * (sctp_proto_test forward_tsn_after_a_reset_does_not_skip_the_new_epoch). */
bool zdc_sctp_tx_stream_idle(const zdc_sctp_assoc *a, uint16_t stream)
{
    for (size_t i = 0; i < a->n_txs; i++)
        if (a->txs[i].id == stream)
            return a->txs[i].head == NULL;
    return true;
}

void zdc_sctp_tx_reset_ssn(zdc_sctp_assoc *a, uint16_t stream)
{
    for (size_t i = 0; i < a->n_txs; i++)
        if (a->txs[i].id == stream)
            a->txs[i].next_ssn = 0;
}

/* The stream's Outgoing SSN Reset Request is about to go: the SSNs its outstanding messages
 * carry belong to an epoch the peer closes when it performs the reset (which it does only
 * once its cumulative TSN reaches the request's last TSN, RFC 6525 §5.2.2). An entry naming
 * them in a FORWARD-TSN that reaches beyond that TSN could arrive after the reset and skip
 * the new epoch's SSNs: write_forward_tsn keeps such entries to FORWARD-TSNs that end at or
 * before it. */
void zdc_sctp_tx_close_ssn_epoch(zdc_sctp_assoc *a, uint16_t stream)
{
    for (uint32_t t = a->peer_cum + 1; zdc_tsn_lt(t, a->next_tsn); t++) {
        tx_frag *f = frag_of(a, t);
        if (f->msg && f->msg->stream == stream) {
            f->msg->ssn_closed = true;
            f->msg->closed_at = a->next_tsn - 1; /* the request's last TSN */
        }
    }
}

bool zdc_sctp_tx_idle(const zdc_sctp_assoc *a)
{
    return a->queued_bytes == 0;
}

static int ring_grow(zdc_sctp_assoc *a)
{
    uint32_t cap = a->frag_cap ? a->frag_cap * 2 : 64;
    tx_frag *n = calloc(cap, sizeof *n);
    if (n == NULL)
        return ZDC_ERR_NOMEM;
    for (uint32_t t = a->peer_cum + 1; zdc_tsn_lt(t, a->next_tsn); t++)
        n[t & (cap - 1)] = *frag_of(a, t);
    free(a->frags);
    a->frags = n;
    a->frag_cap = cap;
    return 0;
}

/* The next fragment of at most `room` payload bytes from the round-robin scheduler, assigned
 * the next TSN; NULL when nothing is queued (or no memory to track it). */
/* Drops expired messages not yet started from the head of stream s (RFC 3758 §3.5 A3). */
static void drop_expired(zdc_sctp_assoc *a, tx_stream *s, uint64_t now)
{
    for (tx_msg *m = s->head; s->unstamped && m; m = m->next) { /* queued between calls */
        if (m->stamp_expiry) {
            m->expires += now;
            m->stamp_expiry = false;
            s->unstamped--;
        }
    }
    while (s->head && s->head->sent == 0 && s->head->pr_policy == ZDC_SCTP_ASSOC_PR_TTL &&
           now >= s->head->expires) {
        tx_msg *m = s->head;
        s->head = m->next;
        if (s->head == NULL)
            s->tail = NULL;
        a->queued_bytes -= m->len;
        a->st.abandoned++;
        msg_unref(a, m);
    }
}

static tx_frag *next_fragment(zdc_sctp_assoc *a, size_t room, uint64_t now)
{
    if (a->n_txs == 0 || room == 0)
        return NULL;
    size_t i;
    for (i = 0; i < a->n_txs; i++) {
        tx_stream *c = &a->txs[(a->rr + i) % a->n_txs];
        drop_expired(a, c, now);
        if (c->head)
            break;
    }
    if (i == a->n_txs)
        return NULL;
    if (a->next_tsn - a->peer_cum - 1 >= a->frag_cap && ring_grow(a) != 0)
        return NULL;
    size_t si = (a->rr + i) % a->n_txs;
    tx_stream *s = &a->txs[si];
    tx_msg *m = s->head;
    size_t n = m->len - m->sent < room ? m->len - m->sent : room;
    tx_frag *f = frag_of(a, a->next_tsn);
    *f = (tx_frag){.msg = m, .off = (uint32_t)m->sent, .len = (uint32_t)n, .tsn = a->next_tsn++};
    if (m->sent == 0) {
        f->flags |= ZDC_SCTP_DATA_B;
        if (!m->unordered)
            m->ssn = s->next_ssn++;
    }
    if (m->unordered)
        f->flags |= ZDC_SCTP_DATA_U;
    m->sent += n;
    m->refs++;
    if (m->sent == m->len) {
        f->flags |= ZDC_SCTP_DATA_E;
        s->head = m->next;
        if (s->head == NULL)
            s->tail = NULL;
        msg_unref(a, m);             /* the queue's reference */
        a->rr = (si + 1) % a->n_txs; /* round robin by message */
    } else {
        a->rr = si;
    }
    return f;
}

/* RFC 3758 §3.5: gives up message m: its outstanding fragments stop counting and will be
 * skipped by FORWARD-TSN; what was never sent of it leaves the queue. */
static void abandon(zdc_sctp_assoc *a, tx_msg *m)
{
    if (m->abandoned)
        return;
    m->abandoned = true;
    a->st.abandoned++;
    for (uint32_t t = a->peer_cum + 1; zdc_tsn_lt(t, a->next_tsn); t++) {
        tx_frag *f = frag_of(a, t);
        if (f->msg != m)
            continue;
        f->abandoned = true;
        set_rtx(a, f, false);
        if (f->in_flight) {
            f->in_flight = false;
            a->flight_size -= f->len;
        }
    }
    if (m->sent < m->len) {
        for (size_t i = 0; i < a->n_txs; i++) {
            tx_stream *s = &a->txs[i];
            if (s->head == m) {
                s->head = m->next;
                if (s->head == NULL)
                    s->tail = NULL;
                a->queued_bytes -= m->len - m->sent;
                m->sent = m->len;
                msg_unref(a, m);
                break;
            }
        }
        /* The receiver holds the first fragments and waits for the end: give the end a TSN of
         * its own, never sent, so that FORWARD-TSN moves the receiver past the whole message
         * even when every fragment that was sent arrived (otherwise the cumulative ack would
         * already be there and no FORWARD-TSN would go, RFC 3758 §3.5 C2). */
        if (a->next_tsn - a->peer_cum - 1 < a->frag_cap || ring_grow(a) == 0) {
            tx_frag *f = frag_of(a, a->next_tsn);
            *f = (tx_frag){.msg = m,
                           .tsn = a->next_tsn++,
                           .flags =
                               (uint8_t)(ZDC_SCTP_DATA_E | (m->unordered ? ZDC_SCTP_DATA_U : 0)),
                           .abandoned = true};
            m->refs++;
        }
    }
}

/* Called when f is due for retransmission: abandons its message if its policy says so. */
static bool should_abandon(const tx_frag *f, uint64_t now)
{
    const tx_msg *m = f->msg;
    if (m->pr_policy == ZDC_SCTP_ASSOC_PR_RTX)
        return f->tx_count > m->pr_rtx;
    if (m->pr_policy == ZDC_SCTP_ASSOC_PR_TTL)
        return now >= m->expires;
    return false;
}

/* Moves the Advanced.Peer.Ack.Point over abandoned TSNs (§3.5 C1) and asks for a FORWARD-TSN
 * when it passed the cumulative ack (C2). */
static void advance_ack_point(zdc_sctp_assoc *a)
{
    if (zdc_tsn_lt(a->adv_ack, a->peer_cum))
        a->adv_ack = a->peer_cum;
    while (zdc_tsn_lt(a->adv_ack + 1, a->next_tsn)) {
        tx_frag *f = frag_of(a, a->adv_ack + 1);
        if (!f->abandoned && !f->acked)
            break;
        if (!f->abandoned && f->acked) {
            /* a gap-acked chunk may be skipped only together with abandoned ones after it */
            bool later = false;
            for (uint32_t t = a->adv_ack + 2; zdc_tsn_lt(t, a->next_tsn); t++) {
                tx_frag *g = frag_of(a, t);
                if (g->abandoned) {
                    later = true;
                    break;
                }
                if (!g->acked)
                    break;
            }
            if (!later)
                break;
        }
        a->adv_ack++;
    }
    if (zdc_tsn_lt(a->peer_cum, a->adv_ack))
        a->fwd_pending = true;
}

/* Gives up the messages of fragments due for retransmission whose policy says so (RFC 3758
 * §3.5 A3), before a packet is built: the FORWARD-TSN this may call for must precede the
 * packet's DATA chunks. */
static void abandon_due(zdc_sctp_assoc *a, uint64_t now)
{
    for (uint32_t t = a->peer_cum + 1; a->n_rtx && zdc_tsn_lt(t, a->next_tsn); t++) {
        tx_frag *f = frag_of(a, t);
        if (f->rtx && should_abandon(f, now)) {
            abandon(a, f->msg);
            advance_ack_point(a);
        }
    }
}

static void write_forward_tsn(zdc_sctp_assoc *a, zdc_wr *w)
{
    /* An abandoned message of a stream whose reset request went (its SSN of a closed epoch)
     * may be named only by a FORWARD-TSN ending at or before that request's last TSN L: the
     * peer performs the reset once its cumulative TSN reaches L (RFC 6525 §5.2.2), so such a
     * FORWARD-TSN is either processed before the reset or ignored as old. This one therefore
     * stops at L; the next (after the peer's SACK) goes further, without the entry. Once the
     * peer's cumulative TSN is at L the entry is left out: the reset delivers what waited. */
    uint32_t cap = a->adv_ack;
    for (uint32_t t = a->peer_cum + 1; zdc_tsn_le(t, cap); t++) {
        const tx_msg *m = frag_of(a, t)->msg;
        if (frag_of(a, t)->abandoned && !m->unordered && m->ssn_closed &&
            zdc_tsn_lt(a->peer_cum, m->closed_at) && zdc_tsn_lt(m->closed_at, cap))
            cap = m->closed_at;
    }
    /* §3.2: the highest SSN skipped on each ordered stream. */
    zdc_sctp_fwd_stream st[64];
    uint16_t n = 0;
    for (uint32_t t = a->peer_cum + 1; zdc_tsn_le(t, cap); t++) {
        tx_frag *f = frag_of(a, t);
        if (!f->abandoned || f->msg->unordered)
            continue;
        if (f->msg->ssn_closed && !zdc_tsn_lt(a->peer_cum, f->msg->closed_at))
            continue;
        uint16_t k;
        for (k = 0; k < n && st[k].stream != f->msg->stream; k++)
            ;
        if (k == n) {
            if (n == 64) {
                cap = t - 1; /* the rest on the next FORWARD-TSN */
                break;
            }
            st[n++] = (zdc_sctp_fwd_stream){f->msg->stream, f->msg->ssn};
        } else if ((int16_t)(f->msg->ssn - st[k].ssn) > 0) {
            st[k].ssn = f->msg->ssn;
        }
    }
    zdc_sctp_fwd_tsn_build(w, cap, st, n);
    a->fwd_pending = false;
}

static void write_frag(zdc_sctp_assoc *a, zdc_wr *w, tx_frag *f, uint64_t now)
{
    zdc_sctp_chunk c = {.type = ZDC_SCTP_DATA, .flags = f->flags};
    c.u.data = (zdc_sctp_data_chunk){.flags = f->flags,
                                     .tsn = f->tsn,
                                     .stream = f->msg->stream,
                                     .ssn = f->msg->ssn,
                                     .ppid = f->msg->ppid,
                                     .payload = f->msg->data + f->off,
                                     .len = f->len};
    zdc_sctp_chunk_build(w, &c);
    if (f->tx_count > 0)
        a->st.retransmits++;
    else
        a->last_data_at = now; /* new data: the path is not idle (§8.3) */
    f->tx_count++;
    f->sent_at = now;
    set_rtx(a, f, false);
    f->in_flight = true;
    a->flight_size += f->len;
    a->peer_rwnd = a->peer_rwnd > f->len ? a->peer_rwnd - f->len : 0;
}

/* Payload bytes a DATA chunk may still carry in this packet: its header and its padding must
 * fit too, so the room is rounded down to a multiple of 4 (an MTU need not be one). */
static size_t data_room(const zdc_wr *w, uint32_t mtu)
{
    size_t used = w->len + ZDC_SCTP_DATA_HEADER_LEN;
    return mtu > used ? (mtu - used) & ~(size_t)3 : 0;
}

static bool data_allowed(const zdc_sctp_assoc *a)
{
    return a->state == ST_ESTABLISHED || a->state == ST_SHUTDOWN_PENDING ||
           a->state == ST_SHUTDOWN_RECEIVED;
}

void zdc_sctp_tx_flush(zdc_sctp_assoc *a, uint64_t now)
{
    bool data_ok = data_allowed(a);
    /* Max.Burst per packet received: a batch's one flush may send what its packets' separate
     * flushes would have (bounded by cwnd all the same). */
    unsigned bursts =
        MAX_BURST * (a->batch_pkts > 1 ? (a->batch_pkts < 64 ? a->batch_pkts : 64) : 1);
    for (unsigned burst = 0; burst < bursts; burst++) {
        zdc_wr w;
        zdc_sctp_assoc_begin(a, &w, a->peer_tag);
        bool any = zdc_sctp_rx_write_sack(a, &w, false);
        bool first = true;
        if (data_ok && a->n_rtx)
            abandon_due(a, now);
        /* RFC 9260 §6.10: control chunks go before any DATA chunk of a packet (usrsctp aborts
         * a packet with a FORWARD-TSN after DATA: "DATA chunk followed by chunk of type c0"). */
        if (a->fwd_pending && data_ok && zdc_tsn_lt(a->peer_cum, a->adv_ack) &&
            a->cfg.mtu - w.len >= 8 + 4 * 64) {
            write_forward_tsn(a, &w);
            any = true;
        }
        /* Retransmissions first (§6.1 C), within cwnd except the first packet. */
        for (uint32_t t = a->peer_cum + 1; data_ok && a->n_rtx && zdc_tsn_lt(t, a->next_tsn); t++) {
            tx_frag *f = frag_of(a, t);
            if (!f->rtx)
                continue;
            if (!(first && burst == 0) && a->flight_size >= a->cwnd)
                break;
            if (data_room(&w, a->cfg.mtu) < f->len)
                break;
            write_frag(a, &w, f, now);
            any = true;
        }
        first = false;
        /* New data while cwnd and the peer's window allow (§6.1 A, B; a zero window still
         * lets one probe through when nothing is in flight). */
        while (data_ok && a->flight_size < a->cwnd && (a->peer_rwnd > 0 || a->flight_size == 0)) {
            size_t room = data_room(&w, a->cfg.mtu);
            if (room == 0)
                break;
            if (a->peer_rwnd > 0 && room > a->peer_rwnd && a->flight_size > 0)
                room = a->peer_rwnd;
            tx_frag *f = next_fragment(a, room, now);
            if (f == NULL)
                break;
            write_frag(a, &w, f, now);
            any = true;
            if (a->peer_rwnd == 0)
                break;
        }
        if (!any)
            break;
        zdc_sctp_assoc_emit(a, &w);
    }
    if (a->t3_at == 0 && a->flight_size > 0)
        a->t3_at = now + a->rto;
}

void zdc_sctp_tx_rtt_sample(zdc_sctp_assoc *a, uint64_t r)
{
    /* RFC 6298 §2 (RFC 9260 §6.3.1): alpha 1/8, beta 1/4, RTO = SRTT + 4 RTTVAR. */
    if (!a->have_rtt) {
        a->srtt = r;
        a->rttvar = r / 2;
        a->have_rtt = true;
    } else {
        uint64_t d = a->srtt > r ? a->srtt - r : r - a->srtt;
        a->rttvar = (3 * a->rttvar + d) / 4;
        a->srtt = (7 * a->srtt + r) / 8;
    }
    uint64_t rto = a->srtt + 4 * a->rttvar;
    uint64_t lo = (uint64_t)a->cfg.rto_min_ms * MS, hi = (uint64_t)a->cfg.rto_max_ms * MS;
    a->rto = rto < lo ? lo : rto > hi ? hi : rto;
}

void zdc_sctp_tx_handle_sack(zdc_sctp_assoc *a, const zdc_sctp_sack_chunk *s, uint64_t now)
{
    uint32_t cum = s->cum_tsn;
    /* §6.2.1 D: a SACK whose cumulative ack is behind ours is out of date; one beyond what we
     * sent is bogus. */
    if (zdc_tsn_lt(cum, a->peer_cum) || !zdc_tsn_lt(cum, a->next_tsn))
        return;
    uint32_t flight_before = (uint32_t)a->flight_size;
    size_t acked = 0;
    bool advanced = cum != a->peer_cum;
    uint64_t sample = 0;
    for (uint32_t t = a->peer_cum + 1; zdc_tsn_le(t, cum); t++) {
        tx_frag *f = frag_of(a, t);
        if (f->in_flight)
            a->flight_size -= f->len;
        set_rtx(a, f, false);
        if (!f->acked) {
            acked += f->len;
            /* Karn's rule: only chunks sent once give an RTT sample. */
            if (f->tx_count == 1)
                sample = now - f->sent_at;
        }
        a->queued_bytes -= f->len;
        msg_unref(a, f->msg);
        f->msg = NULL;
    }
    a->peer_cum = cum;
    if (sample)
        zdc_sctp_tx_rtt_sample(a, sample);
    uint32_t highest_new = cum;
    for (unsigned i = 0; i < s->n_gaps; i++) {
        zdc_sctp_gap g = zdc_sctp_sack_gap(s, i);
        if (g.start == 0 || g.end < g.start)
            continue;
        for (uint32_t t = cum + g.start; zdc_tsn_le(t, cum + g.end); t++) {
            if (!zdc_tsn_lt(t, a->next_tsn))
                break;
            tx_frag *f = frag_of(a, t);
            if (f->acked)
                continue;
            f->acked = true;
            set_rtx(a, f, false);
            if (f->in_flight) {
                a->flight_size -= f->len;
                f->in_flight = false;
            }
            acked += f->len;
            if (zdc_tsn_lt(highest_new, t))
                highest_new = t;
        }
    }
    if (a->fast_recovery && zdc_tsn_le(a->recover_tsn, cum))
        a->fast_recovery = false;
    /* §7.2.4: three miss indications mark a chunk for fast retransmission. */
    bool marked = false;
    for (uint32_t t = cum + 1; s->n_gaps && zdc_tsn_lt(t, highest_new); t++) {
        tx_frag *f = frag_of(a, t);
        /* §7.2.4: a chunk is fast-retransmitted once; later losses are T3's. */
        if (f->acked || f->rtx || !f->in_flight || f->tx_count > 1 || f->abandoned)
            continue;
        if (++f->miss >= 3) {
            f->miss = 0;
            set_rtx(a, f, true);
            f->in_flight = false;
            a->flight_size -= f->len;
            marked = true;
            a->st.fast_retransmits++;
        }
    }
    if (marked && !a->fast_recovery) {
        a->ssthresh = a->cwnd / 2 > 4 * a->cfg.mtu ? a->cwnd / 2 : 4 * a->cfg.mtu;
        a->cwnd = a->ssthresh;
        a->pba = 0;
        a->fast_recovery = true;
        a->recover_tsn = a->next_tsn - 1;
    }
    /* §7.2.1, §7.2.2: slow start and congestion avoidance, on a cumulative advance while the
     * window was in use. */
    if (advanced && !a->fast_recovery && flight_before + a->cfg.mtu >= a->cwnd) {
        if (a->cwnd <= a->ssthresh) {
            a->cwnd += acked < a->cfg.mtu ? (uint32_t)acked : a->cfg.mtu;
        } else {
            a->pba += (uint32_t)acked;
            if (a->pba >= a->cwnd) {
                a->pba -= a->cwnd;
                a->cwnd += a->cfg.mtu;
            }
        }
    }
    a->peer_rwnd = s->a_rwnd > a->flight_size ? s->a_rwnd - (uint32_t)a->flight_size : 0;
    advance_ack_point(a);
    if (advanced) {
        a->error_count = 0;
        a->t3_at = 0;
    }
    bool fwd_out = zdc_tsn_lt(a->peer_cum, a->adv_ack);
    if ((a->flight_size > 0 || fwd_out) && a->t3_at == 0)
        a->t3_at = now + a->rto;
    if (a->flight_size == 0 && a->peer_cum + 1 == a->next_tsn)
        a->t3_at = 0;
}

void zdc_sctp_tx_handle_t3(zdc_sctp_assoc *a, uint64_t now)
{
    a->t3_at = 0;
    a->st.t3_expiries++;
    if (++a->error_count > a->cfg.max_retransmits) {
        zdc_sctp_assoc_fail(a, ZDC_SCTP_ASSOC_ABORTED);
        return;
    }
    /* §6.3.3 E1-E3 and §7.2.3: back off, collapse cwnd, retransmit everything unacked. */
    a->ssthresh = a->cwnd / 2 > 4 * a->cfg.mtu ? a->cwnd / 2 : 4 * a->cfg.mtu;
    a->cwnd = a->cfg.mtu;
    a->pba = 0;
    a->fast_recovery = false;
    uint64_t hi = (uint64_t)a->cfg.rto_max_ms * MS;
    a->rto = a->rto * 2 > hi ? hi : a->rto * 2;
    for (uint32_t t = a->peer_cum + 1; zdc_tsn_lt(t, a->next_tsn); t++) {
        tx_frag *f = frag_of(a, t);
        if (f->acked || f->abandoned)
            continue;
        set_rtx(a, f, true);
        f->miss = 0;
        if (f->in_flight) {
            f->in_flight = false;
            a->flight_size -= f->len;
        }
    }
    advance_ack_point(a); /* a lost FORWARD-TSN goes again (RFC 3758 §3.5 C4) */
    zdc_sctp_tx_flush(a, now);
    if (a->t3_at == 0 && a->peer_cum + 1 != a->next_tsn)
        a->t3_at = now + a->rto;
}
