/* Receiving side of the native association: which TSNs arrived (cumulative point and a bitmap
 * above it, RFC 9260 §6.2), duplicates, per-stream ordered and unordered reassembly (§6.5,
 * §6.6, §6.9), the advertised window, and SACK generation with gap blocks and duplicate TSNs
 * (§3.3.4, §6.2: delayed SACK every second packet or 200 ms, at once on a gap or duplicate).
 *
 * A message that fits one DATA chunk and is next in its stream is delivered straight from the
 * packet (a view, no copy). Anything else is stored, one allocation per chunk, indexed by TSN
 * modulo ZDC_SCTP_RX_WINDOW; stored bytes are bounded by the window plus one message. */
#include "sctp_assoc_int.h"

#include <stdlib.h>

#define SACK_DELAY_NS (200ull * 1000000ull)
#define MAX_GAPS      64

int zdc_sctp_rx_init(zdc_sctp_assoc *a)
{
    (void)a;
    return 0;
}

void zdc_sctp_rx_clear(zdc_sctp_assoc *a)
{
    if (a->slots) {
        for (size_t i = 0; i < ZDC_SCTP_RX_WINDOW; i++)
            free(a->slots[i]);
        free(a->slots);
        a->slots = NULL;
    }
    free(a->rxs);
    a->rxs = NULL;
    a->n_rxs = 0;
    a->n_stored = 0;
    a->rx_held = 0;
}

static bool seen_get(const zdc_sctp_assoc *a, uint32_t tsn)
{
    uint32_t i = tsn % ZDC_SCTP_RX_WINDOW;
    return a->seen[i / 64] >> (i % 64) & 1u;
}

static void seen_set(zdc_sctp_assoc *a, uint32_t tsn, bool v)
{
    uint32_t i = tsn % ZDC_SCTP_RX_WINDOW;
    if (v)
        a->seen[i / 64] |= 1ull << (i % 64);
    else
        a->seen[i / 64] &= ~(1ull << (i % 64));
}

static void mark_received(zdc_sctp_assoc *a, uint32_t tsn)
{
    if (zdc_tsn_lt(a->highest_tsn, tsn))
        a->highest_tsn = tsn;
    if (tsn != a->cum_tsn + 1) {
        seen_set(a, tsn, true);
        return;
    }
    a->cum_tsn = tsn;
    while (zdc_tsn_lt(a->cum_tsn, a->highest_tsn) && seen_get(a, a->cum_tsn + 1)) {
        seen_set(a, a->cum_tsn + 1, false);
        a->cum_tsn++;
    }
}

static rx_stream *rx_stream_get(zdc_sctp_assoc *a, uint16_t id)
{
    for (size_t i = 0; i < a->n_rxs; i++)
        if (a->rxs[i].id == id)
            return &a->rxs[i];
    rx_stream *n = realloc(a->rxs, (a->n_rxs + 1) * sizeof *n);
    if (n == NULL)
        return NULL;
    a->rxs = n;
    a->rxs[a->n_rxs] = (rx_stream){.id = id, .next_ssn = 0};
    return &a->rxs[a->n_rxs++];
}

static void deliver(zdc_sctp_assoc *a, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                    bool unordered)
{
    a->st.messages_in++;
    if (a->cfg.cb.on_message)
        a->cfg.cb.on_message(a->cfg.user, stream, ppid, p, len,
                             unordered ? ZDC_SCTP_ASSOC_MSG_UNORDERED : 0);
}

static rx_chunk *slot(const zdc_sctp_assoc *a, uint32_t tsn)
{
    if (a->slots == NULL)
        return NULL;
    rx_chunk *c = a->slots[tsn % ZDC_SCTP_RX_WINDOW];
    return c && c->tsn == tsn ? c : NULL;
}

/* The complete message whose fragments include `tsn`: its first and last TSN, or false. */
static bool message_span(const zdc_sctp_assoc *a, uint32_t tsn, uint32_t *first, uint32_t *last)
{
    rx_chunk *c = slot(a, tsn);
    if (c == NULL)
        return false;
    uint32_t t = tsn;
    for (unsigned n = 0; !(c->flags & ZDC_SCTP_DATA_B); n++) {
        rx_chunk *p = slot(a, t - 1);
        if (p == NULL || n > ZDC_SCTP_RX_WINDOW || p->stream != c->stream)
            return false;
        t--;
        c = p;
    }
    *first = t;
    t = tsn;
    c = slot(a, tsn);
    for (unsigned n = 0; !(c->flags & ZDC_SCTP_DATA_E); n++) {
        rx_chunk *nx = slot(a, t + 1);
        if (nx == NULL || n > ZDC_SCTP_RX_WINDOW || nx->stream != c->stream)
            return false;
        t++;
        c = nx;
    }
    *last = t;
    return true;
}

/* Delivers the stored message first..last and frees its chunks. */
static void deliver_span(zdc_sctp_assoc *a, uint32_t first, uint32_t last)
{
    size_t total = 0;
    for (uint32_t t = first;; t++) {
        total += slot(a, t)->len;
        if (t == last)
            break;
    }
    rx_chunk *head = slot(a, first);
    uint16_t stream = head->stream;
    uint32_t ppid = head->ppid;
    bool unordered = head->flags & ZDC_SCTP_DATA_U;
    uint8_t *buf = total <= a->cfg.max_message_size ? malloc(total ? total : 1) : NULL;
    size_t off = 0;
    for (uint32_t t = first;; t++) {
        rx_chunk *c = slot(a, t);
        if (buf)
            memcpy(buf + off, c->data, c->len);
        off += c->len;
        a->rx_held -= c->len;
        a->slots[t % ZDC_SCTP_RX_WINDOW] = NULL;
        a->n_stored--;
        free(c);
        if (t == last)
            break;
    }
    if (buf) {
        deliver(a, stream, ppid, buf, total, unordered);
        free(buf);
    } else {
        a->st.dropped++; /* over max_message_size, or out of memory */
        if (total > a->cfg.max_message_size && a->cfg.cb.on_message_too_large)
            a->cfg.cb.on_message_too_large(a->cfg.user, stream, ppid);
    }
}

/* Delivers stored ordered messages of stream s that are now next in line. */
static void deliver_ready(zdc_sctp_assoc *a, rx_stream *s)
{
    bool progress = true;
    while (progress && a->n_stored) {
        progress = false;
        for (uint32_t i = 0; i < ZDC_SCTP_RX_WINDOW; i++) {
            rx_chunk *c = a->slots[i];
            uint32_t first, last;
            if (c && c->stream == s->id && !(c->flags & ZDC_SCTP_DATA_U) &&
                (c->flags & ZDC_SCTP_DATA_B) && c->ssn == s->next_ssn &&
                message_span(a, c->tsn, &first, &last)) {
                deliver_span(a, first, last);
                s->next_ssn++;
                progress = true;
                break;
            }
        }
    }
}

/* The stored ordered message of stream s whose SSN comes first from s->next_ssn on (serial
 * order), complete or not: its TSN, or false when none is stored. */
static bool first_stored(const zdc_sctp_assoc *a, const rx_stream *s, uint32_t *tsn)
{
    bool found = false;
    uint16_t best = 0;
    for (uint32_t i = 0; a->slots && i < ZDC_SCTP_RX_WINDOW; i++) {
        rx_chunk *c = a->slots[i];
        if (c == NULL || c->stream != s->id || (c->flags & ZDC_SCTP_DATA_U) ||
            !(c->flags & ZDC_SCTP_DATA_B))
            continue;
        uint16_t d = (uint16_t)(c->ssn - s->next_ssn);
        if (!found || d < best) {
            found = true;
            best = d;
            *tsn = c->tsn;
        }
    }
    return found;
}

/* RFC 6525 §5.2.2: the peer reset its outgoing stream, performed once our cumulative TSN
 * reached the request's last TSN, so every chunk stored for the stream belongs to the old
 * epoch. Complete ordered messages still waiting behind an SSN the peer abandoned (its
 * FORWARD-TSN no longer names SSNs of a stream being reset) are delivered in SSN order; the
 * incomplete rest can never complete and is dropped. The next message is SSN 0. */
void zdc_sctp_rx_reset_ssn(zdc_sctp_assoc *a, uint16_t stream)
{
    rx_stream *s = NULL;
    for (size_t i = 0; i < a->n_rxs; i++)
        if (a->rxs[i].id == stream)
            s = &a->rxs[i];
    if (s == NULL)
        return;
    uint32_t tsn, first, last;
    while (a->n_stored && first_stored(a, s, &tsn)) {
        rx_chunk *h = slot(a, tsn);
        s->next_ssn = (uint16_t)(h->ssn + 1);
        if (message_span(a, tsn, &first, &last)) {
            deliver_span(a, first, last);
            continue;
        }
        a->slots[tsn % ZDC_SCTP_RX_WINDOW] = NULL; /* incomplete: its first goes now */
        a->n_stored--;
        a->rx_held -= h->len;
        free(h);
    }
    /* the other fragments of incomplete messages */
    for (uint32_t i = 0; a->n_stored && i < ZDC_SCTP_RX_WINDOW; i++) {
        rx_chunk *c = a->slots[i];
        if (c && c->stream == stream && !(c->flags & ZDC_SCTP_DATA_U)) {
            a->slots[i] = NULL;
            a->n_stored--;
            a->rx_held -= c->len;
            free(c);
        }
    }
    s->next_ssn = 0;
}

int zdc_sctp_rx_data(zdc_sctp_assoc *a, const zdc_sctp_data_chunk *d)
{
    /* RFC 9260 §6.2: a DATA chunk without user data is answered with an ABORT. */
    if (d->len == 0)
        return ZDC_ERR_PROTOCOL;
    uint32_t tsn = d->tsn;
    a->unacked_data = true;
    if (zdc_tsn_le(tsn, a->cum_tsn) ||
        (zdc_tsn_lt(a->cum_tsn, tsn) && tsn - a->cum_tsn <= ZDC_SCTP_RX_WINDOW &&
         seen_get(a, tsn))) {
        /* §6.2: a duplicate is reported in the next SACK, which goes at once. */
        if (a->n_dups < 16)
            a->dups[a->n_dups++] = tsn;
        a->sack_now = true;
        return 0;
    }
    if (tsn - a->cum_tsn > ZDC_SCTP_RX_WINDOW) {
        a->st.dropped++; /* beyond what we track: not acknowledged, the peer resends */
        a->sack_now = true;
        return 0;
    }
    /* §6.2: no buffer space left (the application is not reading): new data is dropped, not
     * acknowledged; the sender's zero-window probes back off on T3. Holes below the highest
     * TSN are still filled, the window already counted them. */
    if (zdc_sctp_rx_a_rwnd(a) == 0 && zdc_tsn_lt(a->highest_tsn, tsn)) {
        a->st.dropped++;
        a->sack_now = true;
        return 0;
    }
    bool unordered = d->flags & ZDC_SCTP_DATA_U;
    rx_stream *s = rx_stream_get(a, d->stream);
    if (s == NULL)
        return ZDC_ERR_NOMEM;
    /* Fast path: a whole message, next in sequence: handed over as a view of the packet. */
    if ((d->flags & (ZDC_SCTP_DATA_B | ZDC_SCTP_DATA_E)) == (ZDC_SCTP_DATA_B | ZDC_SCTP_DATA_E) &&
        (unordered || d->ssn == s->next_ssn)) {
        if (tsn != a->cum_tsn + 1)
            a->sack_now = true;
        mark_received(a, tsn);
        if (!unordered)
            s->next_ssn++;
        if (d->len <= a->cfg.max_message_size) {
            deliver(a, d->stream, d->ppid, d->payload, d->len, unordered);
        } else {
            a->st.dropped++;
            if (a->cfg.cb.on_message_too_large)
                a->cfg.cb.on_message_too_large(a->cfg.user, d->stream, d->ppid);
        }
        if (!unordered && a->n_stored)
            deliver_ready(a, s);
        return 0;
    }
    /* Stored: bounded by the receive window plus one message (hostile peers included). */
    if (a->rx_held + d->len > (size_t)a->cfg.rwnd + a->cfg.max_message_size) {
        a->st.dropped++;
        return 0;
    }
    if (a->slots == NULL) {
        a->slots = calloc(ZDC_SCTP_RX_WINDOW, sizeof *a->slots);
        if (a->slots == NULL)
            return ZDC_ERR_NOMEM;
    }
    if (a->slots[tsn % ZDC_SCTP_RX_WINDOW] != NULL) {
        a->st.dropped++; /* slot still held by an undelivered chunk a window ago */
        return 0;
    }
    rx_chunk *c = malloc(sizeof *c + d->len);
    if (c == NULL)
        return ZDC_ERR_NOMEM;
    *c = (rx_chunk){.tsn = tsn,
                    .stream = d->stream,
                    .ssn = d->ssn,
                    .ppid = d->ppid,
                    .flags = d->flags,
                    .len = (uint32_t)d->len};
    memcpy(c->data, d->payload, d->len);
    a->slots[tsn % ZDC_SCTP_RX_WINDOW] = c;
    a->n_stored++;
    a->rx_held += d->len;
    if (tsn != a->cum_tsn + 1)
        a->sack_now = true;
    mark_received(a, tsn);
    uint32_t first, last;
    if (message_span(a, tsn, &first, &last)) {
        rx_chunk *h = slot(a, first);
        if (unordered) {
            deliver_span(a, first, last);
        } else if (h->ssn == s->next_ssn) {
            deliver_span(a, first, last);
            s->next_ssn++;
            deliver_ready(a, s);
        }
    }
    return 0;
}

void zdc_sctp_rx_packet_done(zdc_sctp_assoc *a, uint64_t now)
{
    if (!a->unacked_data)
        return;
    a->unacked_data = false;
    /* §6.2: a SACK for at least every second packet, and within 200 ms. */
    if (++a->unacked_pkts >= 2)
        a->sack_now = true;
    else if (a->sack_at == 0)
        a->sack_at = now + SACK_DELAY_NS;
}

uint32_t zdc_sctp_rx_a_rwnd(const zdc_sctp_assoc *a)
{
    size_t used = a->rx_held + a->app_held;
    return used < a->cfg.rwnd ? (uint32_t)(a->cfg.rwnd - used) : 0;
}

bool zdc_sctp_rx_write_sack(zdc_sctp_assoc *a, zdc_wr *w, bool force)
{
    if (!a->sack_now && !force)
        return false;
    zdc_sctp_gap gaps[MAX_GAPS];
    uint16_t n = 0;
    uint32_t t = a->cum_tsn + 1;
    while (n < MAX_GAPS && zdc_tsn_le(t, a->highest_tsn)) {
        while (zdc_tsn_le(t, a->highest_tsn) && !seen_get(a, t))
            t++;
        if (!zdc_tsn_le(t, a->highest_tsn))
            break;
        uint32_t start = t;
        while (zdc_tsn_le(t, a->highest_tsn) && seen_get(a, t))
            t++;
        gaps[n++] = (zdc_sctp_gap){(uint16_t)(start - a->cum_tsn), (uint16_t)(t - 1 - a->cum_tsn)};
    }
    a->last_adv_rwnd = zdc_sctp_rx_a_rwnd(a);
    zdc_sctp_sack_build(w, a->cum_tsn, a->last_adv_rwnd, gaps, n, a->dups, (uint16_t)a->n_dups);
    a->sack_now = false;
    a->unacked_pkts = 0;
    a->sack_at = 0;
    a->n_dups = 0;
    return true;
}

/* RFC 3758 §3.6: the peer gave up TSNs up to new_cum: complete messages in that range are
 * still delivered (ordered ones up to the SSNs listed), fragments of abandoned ones dropped,
 * and the cumulative point moves on. */
void zdc_sctp_rx_forward_tsn(zdc_sctp_assoc *a, const zdc_sctp_fwd_tsn_chunk *f)
{
    uint32_t new_cum = f->new_cum_tsn;
    if (zdc_tsn_le(new_cum, a->cum_tsn))
        return; /* old news; the SACK it triggers says so */
    if (new_cum - a->cum_tsn > ZDC_SCTP_RX_WINDOW)
        return; /* beyond anything the peer can have sent us in our window: bogus */
    for (unsigned i = 0; i < f->n_streams; i++) {
        zdc_sctp_fwd_stream fs = zdc_sctp_fwd_tsn_stream(f, i);
        rx_stream *s = rx_stream_get(a, fs.stream);
        if (s == NULL)
            continue;
        /* deliver what is complete before the skipped SSN, skip the rest up to it */
        while ((int16_t)(fs.ssn - s->next_ssn) >= 0) {
            uint16_t before = s->next_ssn;
            deliver_ready(a, s);
            if (s->next_ssn == before)
                s->next_ssn++;
        }
    }
    /* drop fragments at or below new_cum that can no longer complete */
    for (uint32_t t = a->cum_tsn + 1; a->n_stored && zdc_tsn_le(t, new_cum); t++) {
        rx_chunk *c = slot(a, t);
        uint32_t first, last;
        if (c && !message_span(a, t, &first, &last)) {
            a->slots[t % ZDC_SCTP_RX_WINDOW] = NULL;
            a->n_stored--;
            a->rx_held -= c->len;
            free(c);
        }
    }
    /* also fragments stored below cum_tsn (the head of a message whose tail was abandoned) */
    for (uint32_t i = 0; a->n_stored && i < ZDC_SCTP_RX_WINDOW; i++) {
        rx_chunk *c = a->slots[i];
        uint32_t first, last;
        if (c && zdc_tsn_le(c->tsn, new_cum) && !message_span(a, c->tsn, &first, &last)) {
            a->slots[i] = NULL;
            a->n_stored--;
            a->rx_held -= c->len;
            free(c);
        }
    }
    for (uint32_t t = a->cum_tsn + 1; zdc_tsn_le(t, new_cum); t++)
        seen_set(a, t, false);
    a->cum_tsn = new_cum;
    if (zdc_tsn_lt(a->highest_tsn, new_cum))
        a->highest_tsn = new_cum;
    while (zdc_tsn_lt(a->cum_tsn, a->highest_tsn) && seen_get(a, a->cum_tsn + 1)) {
        seen_set(a, a->cum_tsn + 1, false);
        a->cum_tsn++;
    }
    for (size_t i = 0; i < a->n_rxs; i++)
        deliver_ready(a, &a->rxs[i]);
}
