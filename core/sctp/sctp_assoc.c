/* The native association's life: handshake (RFC 9260 §5), verification tags (§8.5), chunk
 * dispatch, timers (T1-init, T1-cookie, T2-shutdown; T3-rtx and delayed SACK through tx/rx),
 * graceful shutdown (§9.2) and ABORT (§9.1). */
#include "sctp_assoc_int.h"

#include <stdlib.h>

#define MS 1000000ull

void zdc_sctp_assoc_config_default(zdc_sctp_assoc_config *c)
{
    memset(c, 0, sizeof *c);
    c->local_port = c->remote_port = 5000;
    c->streams = 1024;
    c->mtu = 1200;
    c->rwnd = 1024 * 1024;
    c->max_message_size = 256 * 1024;
    c->rto_initial_ms = 1000;
    c->rto_min_ms = 200;
    c->rto_max_ms = 10000;
    c->max_retransmits = 10;
    c->max_init_retransmits = 8;
    c->hb_interval_ms = 30000; /* RFC 9260 §16 HB.interval */
    c->zero_checksum = true;
}

uint32_t zdc_sctp_assoc_rnd32(zdc_sctp_assoc *a)
{
    /* splitmix64 over the configured seed: tags and TSNs need not be secret here (the DTLS
     * layer below authenticates every packet), only distinct per association. */
    uint64_t z = (a->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)(z ^ (z >> 31));
}

static uint32_t rnd32(zdc_sctp_assoc *a)
{
    return zdc_sctp_assoc_rnd32(a);
}

static uint32_t nonzero_tag(zdc_sctp_assoc *a)
{
    uint32_t t;
    do
        t = rnd32(a);
    while (t == 0); /* §5.3.1: the Initiate Tag MUST NOT be 0 */
    return t;
}

int zdc_sctp_assoc_new(const zdc_sctp_assoc_config *c, zdc_sctp_assoc **out)
{
    if (c == NULL || out == NULL || c->cb.send == NULL || c->streams == 0 || c->mtu < 576 ||
        c->mtu > 65535 || c->rwnd < 1500 || c->max_message_size == 0 || c->rto_min_ms == 0 ||
        c->rto_min_ms > c->rto_max_ms || c->rto_initial_ms == 0)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_sctp_assoc *a = calloc(1, sizeof *a);
    if (a == NULL)
        return ZDC_ERR_NOMEM;
    a->out = malloc(c->mtu);
    if (a->out == NULL) {
        free(a);
        return ZDC_ERR_NOMEM;
    }
    a->cfg = *c;
    a->rng = c->random_seed;
    a->advertise_zero_checksum = c->zero_checksum;
    a->local_tag = nonzero_tag(a);
    a->init_tsn = rnd32(a);
    a->next_tsn = a->init_tsn;
    a->peer_cum = a->init_tsn - 1;
    a->adv_ack = a->peer_cum;
    zdc_sctp_tx_init(a);
    zdc_sctp_rx_init(a);
    a->ssthresh = c->rwnd; /* until the peer's a_rwnd is known */
    *out = a;
    return 0;
}

void zdc_sctp_assoc_free(zdc_sctp_assoc *a)
{
    if (a == NULL)
        return;
    zdc_sctp_tx_clear(a);
    zdc_sctp_rx_clear(a);
    free(a->cookie);
    free(a->out);
    free(a);
}

/* ---- output --------------------------------------------------------------------------------- */

void zdc_sctp_assoc_begin(zdc_sctp_assoc *a, zdc_wr *w, uint32_t vtag)
{
    zdc_wr_init(w, a->out, a->cfg.mtu);
    zdc_sctp_packet_begin(w, a->cfg.local_port, a->cfg.remote_port, vtag);
}

void zdc_sctp_assoc_emit(zdc_sctp_assoc *a, zdc_wr *w)
{
    /* RFC 9653 §5.2: 0 only to a peer that advertised acceptance; the handshake's packets
     * (sent before that is settled) always carry the CRC. */
    bool zero = a->peer_zero_checksum && a->state >= ST_ESTABLISHED;
    int n = zdc_sctp_packet_finish(w, zero);
    if (n <= 0) {
        a->st.build_errors++; /* a chunk did not fit: a bug, counted (tests assert 0) */
        return;
    }
    a->st.packets_out++;
    a->st.bytes_out += (uint64_t)n;
    a->cfg.cb.send(a->cfg.user, a->out, (size_t)n);
}

void zdc_sctp_assoc_send_chunk(zdc_sctp_assoc *a, uint32_t vtag, const zdc_sctp_chunk *c)
{
    zdc_wr w;
    zdc_sctp_assoc_begin(a, &w, vtag);
    zdc_sctp_chunk_build(&w, c);
    zdc_sctp_assoc_emit(a, &w);
}

static void send_abort(zdc_sctp_assoc *a, uint16_t cause)
{
    uint8_t causes[4];
    zdc_wr cw;
    zdc_wr_init(&cw, causes, sizeof causes);
    zdc_sctp_cause_build(&cw, cause, NULL, 0);
    zdc_sctp_chunk c = {.type = ZDC_SCTP_ABORT, .u.opaque = {causes, cw.len}};
    zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
}

void zdc_sctp_assoc_fail(zdc_sctp_assoc *a, int reason)
{
    bool was_open = a->state != ST_CLOSED;
    a->state = ST_CLOSED;
    a->t1_at = a->t2_at = a->t3_at = a->sack_at = a->reconf_at = a->hb_at = 0;
    if (was_open && a->cfg.cb.on_down)
        a->cfg.cb.on_down(a->cfg.user, reason);
}

/* ---- handshake ------------------------------------------------------------------------------ */

static void fill_init(zdc_sctp_assoc *a, zdc_sctp_init_chunk *i, uint32_t tag, uint32_t tsn)
{
    memset(i, 0, sizeof *i);
    i->init_tag = tag;
    i->a_rwnd = zdc_sctp_rx_a_rwnd(a);
    i->os = a->cfg.streams;
    i->mis = a->cfg.streams;
    i->initial_tsn = tsn;
    /* PR-SCTP and RE-CONFIG (RFC 3758 §3.1, RFC 6525 §3.1). */
    static const uint8_t ext[] = {ZDC_SCTP_FORWARD_TSN, ZDC_SCTP_RE_CONFIG};
    i->ext = ext;
    i->ext_len = sizeof ext;
    i->forward_tsn = true; /* RFC 3758 §3.1 */
    if (a->advertise_zero_checksum) {
        i->zero_checksum = true;
        i->edmid = ZDC_SCTP_EDMID_DTLS;
    }
}

static void send_init(zdc_sctp_assoc *a)
{
    zdc_sctp_chunk c = {.type = ZDC_SCTP_INIT};
    fill_init(a, &c.u.init, a->local_tag, a->init_tsn);
    zdc_sctp_assoc_send_chunk(a, 0, &c); /* §8.5.1 A: an INIT carries tag 0 */
}

static uint64_t t1_interval(const zdc_sctp_assoc *a)
{
    uint64_t d = (uint64_t)a->cfg.rto_initial_ms * MS << (a->t1_count < 16 ? a->t1_count : 16);
    uint64_t hi = (uint64_t)a->cfg.rto_max_ms * MS;
    return d > hi ? hi : d;
}

int zdc_sctp_assoc_connect(zdc_sctp_assoc *a, uint64_t now)
{
    if (a->state != ST_CLOSED || a->t1_at || a->peer_tag)
        return ZDC_ERR_INVALID_STATE;
    a->state = ST_COOKIE_WAIT;
    a->t1_count = 0;
    send_init(a);
    a->t1_at = now + t1_interval(a);
    return 0;
}

bool zdc_sctp_init_supports(const zdc_sctp_init_chunk *i, uint8_t t)
{
    for (size_t k = 0; k < i->ext_len; k++)
        if (i->ext[k] == t)
            return true;
    return false;
}

static bool peer_accepts_zero(const zdc_sctp_assoc *a, const zdc_sctp_init_chunk *i)
{
    return a->cfg.zero_checksum && i->zero_checksum && i->edmid == ZDC_SCTP_EDMID_DTLS;
}

/* §5.1 B, §5.2.1, §5.2.2: answer every INIT with an INIT ACK whose cookie holds all we need;
 * while our own INIT is outstanding (or later) our existing tag and TSN go in it. */
static void handle_init(zdc_sctp_assoc *a, const zdc_sctp_init_chunk *in, uint64_t now)
{
    /* Our tag and initial TSN, whether or not our own INIT went out: a passive side's cookie
     * then names this object's values, and a collision (§5.2.1) keeps them. */
    uint32_t tag = a->local_tag, tsn = a->init_tsn, tie_local = 0, tie_peer = 0;
    if (a->state == ST_ESTABLISHED) {
        /* §5.2.2: an INIT in an established association (the peer may have restarted) gets a
         * new tag and TSN, with the association's tags as tie-tags in the cookie, so that its
         * COOKIE ECHO tells a restart (§5.2.4 A) from a stale duplicate. Nothing changes here. */
        tag = nonzero_tag(a);
        tsn = rnd32(a);
        tie_local = a->local_tag;
        tie_peer = a->peer_tag;
    }
    zdc_sctp_cookie ck = {
        .local_tag = tag,
        .peer_tag = in->init_tag,
        .local_tsn = tsn,
        .peer_tsn = in->initial_tsn,
        .peer_rwnd = in->a_rwnd,
        .os = a->cfg.streams < in->mis ? a->cfg.streams : in->mis,
        .mis = a->cfg.streams < in->os ? a->cfg.streams : in->os,
        .flags =
            (uint8_t)((in->forward_tsn || zdc_sctp_init_supports(in, ZDC_SCTP_FORWARD_TSN)
                           ? COOKIE_F_FWD_TSN
                           : 0) |
                      (peer_accepts_zero(a, in) ? COOKIE_F_ZERO_CSUM : 0) |
                      (zdc_sctp_init_supports(in, ZDC_SCTP_RE_CONFIG) ? COOKIE_F_RECONFIG : 0)),
        .created = now,
        .tie_local = tie_local,
        .tie_peer = tie_peer,
    };
    uint8_t cookie[ZDC_SCTP_COOKIE_LEN];
    if (zdc_sctp_cookie_make(a->cfg.cookie_key, &ck, cookie) != 0)
        return;
    /* Zero Checksum Acceptable is an offer each endpoint may make or not (RFC 9653): a peer
     * whose INIT does not carry it gets an INIT ACK (and from now on INITs) without it. Debian's
     * Pion 1.8.6 silently drops an INIT ACK or INIT with a parameter it does not know, so the
     * WebRTC handshake (both sides send INIT) would never finish otherwise. */
    if (!in->zero_checksum)
        a->advertise_zero_checksum = false;
    zdc_sctp_chunk c = {.type = ZDC_SCTP_INIT_ACK};
    fill_init(a, &c.u.init, tag, tsn);
    c.u.init.cookie = cookie;
    c.u.init.cookie_len = sizeof cookie;
    /* §3.2.1: parameters whose type asks for a report (upper bits 01, 11) go back whole in
     * Unrecognized Parameter parameters, as many as fit the packet (the INIT ACK then stays
     * no larger than the INIT plus our own parameters). */
    const uint8_t *unrec[ZDC_SCTP_MAX_REPORTED];
    size_t unrec_len[ZDC_SCTP_MAX_REPORTED];
    unsigned n = 0;
    size_t room = a->cfg.mtu - 256; /* the INIT ACK's own part takes < 160 bytes */
    for (unsigned i = 0; i < in->n_reported && i < ZDC_SCTP_MAX_REPORTED; i++) {
        size_t need = 4 + ((in->reported_len[i] + 3) & ~(size_t)3);
        if (need > room)
            break;
        room -= need;
        unrec[n] = in->reported[i];
        unrec_len[n++] = in->reported_len[i];
    }
    c.u.init.unrec = unrec;
    c.u.init.unrec_len = unrec_len;
    c.u.init.n_unrec = n;
    zdc_sctp_assoc_send_chunk(a, in->init_tag, &c);
}

static void established(zdc_sctp_assoc *a, uint64_t now)
{
    a->state = ST_ESTABLISHED;
    a->t1_at = 0;
    free(a->cookie);
    a->cookie = NULL;
    zdc_sctp_hb_start(a, now);
    if (a->cfg.cb.on_up)
        a->cfg.cb.on_up(a->cfg.user, a->mis, a->os);
}

static void adopt_peer(zdc_sctp_assoc *a, uint32_t peer_tag, uint32_t peer_tsn, uint32_t rwnd,
                       uint16_t os, uint16_t mis, bool zero)
{
    a->peer_tag = peer_tag;
    a->cum_tsn = peer_tsn - 1;
    a->highest_tsn = a->cum_tsn;
    a->peer_rwnd = rwnd;
    a->ssthresh = rwnd;
    a->os = os;
    a->mis = mis;
    a->peer_zero_checksum = zero;
    /* RFC 6525 §5.1.1: request sequence numbers start at each side's initial TSN. */
    a->peer_reconf_seq = peer_tsn;
    a->peer_last_result = ZDC_SCTP_RECONF_PERFORMED;
    a->reconf_seq = a->init_tsn;
}

static void handle_init_ack(zdc_sctp_assoc *a, const zdc_sctp_init_chunk *in, uint64_t now)
{
    if (a->state != ST_COOKIE_WAIT)
        return; /* §5.2.3: an unexpected INIT ACK is discarded */
    adopt_peer(a, in->init_tag, in->initial_tsn, in->a_rwnd,
               a->cfg.streams < in->mis ? a->cfg.streams : in->mis,
               a->cfg.streams < in->os ? a->cfg.streams : in->os, peer_accepts_zero(a, in));
    a->peer_reconfig = zdc_sctp_init_supports(in, ZDC_SCTP_RE_CONFIG);
    a->peer_fwd_tsn = in->forward_tsn || zdc_sctp_init_supports(in, ZDC_SCTP_FORWARD_TSN);
    a->cookie = malloc(in->cookie_len);
    if (a->cookie == NULL)
        return;
    memcpy(a->cookie, in->cookie, in->cookie_len);
    a->cookie_len = in->cookie_len;
    a->state = ST_COOKIE_ECHOED;
    a->t1_count = 0;
    zdc_wr w;
    zdc_sctp_assoc_begin(a, &w, a->peer_tag);
    zdc_sctp_chunk c = {.type = ZDC_SCTP_COOKIE_ECHO, .u.opaque = {a->cookie, a->cookie_len}};
    zdc_sctp_chunk_build(&w, &c);
    /* §3.2.1: unrecognized parameters of an INIT ACK that ask for a report go in an ERROR
     * chunk bundled with the COOKIE ECHO (after it, §5.1). */
    uint8_t causes[256];
    zdc_wr cw;
    zdc_wr_init(&cw, causes, sizeof causes);
    for (unsigned i = 0; i < in->n_reported && i < ZDC_SCTP_MAX_REPORTED; i++) {
        size_t need = 4 + ((in->reported_len[i] + 3) & ~(size_t)3);
        if (cw.len + need > sizeof causes || w.len + 4 + cw.len + need > a->cfg.mtu)
            break;
        zdc_sctp_cause_build(&cw, ZDC_SCTP_CAUSE_UNRECOGNIZED_PARAMS, in->reported[i],
                             in->reported_len[i]);
    }
    if (cw.len) {
        zdc_sctp_chunk e = {.type = ZDC_SCTP_ERROR, .u.opaque = {causes, cw.len}};
        zdc_sctp_chunk_build(&w, &e);
    }
    zdc_sctp_assoc_emit(a, &w);
    a->t1_at = now + t1_interval(a);
}

/* §5.2.6, §3.3.10.3: a COOKIE ECHO whose (authentic) cookie outlived its life is answered with
 * an ERROR "Stale Cookie" giving how late it came, in microseconds. */
static void send_stale_cookie(zdc_sctp_assoc *a, const zdc_sctp_cookie *ck, uint64_t now)
{
    uint64_t late = 0;
    if (now > ck->created + ZDC_SCTP_COOKIE_LIFE_NS)
        late = (now - ck->created - ZDC_SCTP_COOKIE_LIFE_NS) / 1000u;
    uint8_t v[4], causes[8];
    zdc_store_u32(v, late > UINT32_MAX ? UINT32_MAX : (uint32_t)late);
    zdc_wr cw;
    zdc_wr_init(&cw, causes, sizeof causes);
    zdc_sctp_cause_build(&cw, ZDC_SCTP_CAUSE_STALE_COOKIE, v, sizeof v);
    zdc_sctp_chunk c = {.type = ZDC_SCTP_ERROR, .u.opaque = {causes, cw.len}};
    zdc_sctp_assoc_send_chunk(a, ck->peer_tag, &c);
    a->st.stale_cookies++;
}

/* Every stream id the association has state for, sent or received on (for on_restart). */
static uint16_t *known_streams(const zdc_sctp_assoc *a, size_t *n)
{
    uint16_t *v = malloc((a->n_txs + a->n_rxs + 1) * sizeof *v);
    *n = 0;
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < a->n_txs; i++)
        v[(*n)++] = a->txs[i].id;
    for (size_t i = 0; i < a->n_rxs; i++) {
        bool dup = false;
        for (size_t k = 0; k < a->n_txs && !dup; k++)
            dup = a->txs[k].id == a->rxs[i].id;
        if (!dup)
            v[(*n)++] = a->rxs[i].id;
    }
    return v;
}

/* §5.2.4 A: the peer restarted. The association starts again from the cookie's tags and TSNs:
 * everything queued, in flight or being reassembled belongs to the old one and is dropped, and
 * every stream starts at SSN 0. The application hears on_restart, then on_stream_reset for each
 * stream it had used (the peer's side of those channels is gone). */
static void restart(zdc_sctp_assoc *a, const zdc_sctp_cookie *ck, uint64_t now)
{
    size_t n_streams;
    uint16_t *streams = known_streams(a, &n_streams);
    zdc_sctp_assoc keep = *a;
    zdc_sctp_tx_clear(a);
    zdc_sctp_rx_clear(a);
    free(a->cookie);
    memset(a, 0, sizeof *a);
    a->cfg = keep.cfg;
    a->rng = keep.rng;
    a->out = keep.out;
    a->st = keep.st;
    a->corked = keep.corked;
    a->batch = keep.batch;
    a->app_held = keep.app_held;
    a->advertise_zero_checksum = keep.advertise_zero_checksum;
    a->local_tag = ck->local_tag;
    a->init_tsn = ck->local_tsn;
    a->next_tsn = a->init_tsn;
    a->peer_cum = a->init_tsn - 1;
    a->adv_ack = a->peer_cum;
    zdc_sctp_tx_init(a);
    zdc_sctp_rx_init(a);
    adopt_peer(a, ck->peer_tag, ck->peer_tsn, ck->peer_rwnd, ck->os, ck->mis,
               ck->flags & COOKIE_F_ZERO_CSUM);
    a->peer_reconfig = ck->flags & COOKIE_F_RECONFIG;
    a->peer_fwd_tsn = ck->flags & COOKIE_F_FWD_TSN;
    a->state = ST_ESTABLISHED;
    a->st.restarts++;
    zdc_sctp_chunk c = {.type = ZDC_SCTP_COOKIE_ACK};
    zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
    zdc_sctp_hb_start(a, now);
    if (a->cfg.cb.on_restart)
        a->cfg.cb.on_restart(a->cfg.user);
    for (size_t i = 0; streams && i < n_streams && a->state == ST_ESTABLISHED; i++)
        if (a->cfg.cb.on_stream_reset)
            a->cfg.cb.on_stream_reset(a->cfg.user, streams[i]);
    free(streams);
}

static int handle_cookie_echo(zdc_sctp_assoc *a, uint32_t vtag, const uint8_t *p, size_t len,
                              uint64_t now)
{
    zdc_sctp_cookie ck;
    int rv = zdc_sctp_cookie_open(a->cfg.cookie_key, p, len, now, &ck);
    if (rv == ZDC_ERR_TIMEOUT && vtag == ck.local_tag)
        send_stale_cookie(a, &ck, now); /* §5.1.5 step 3 */
    if (rv != 0)
        return ZDC_ERR_INTEGRITY; /* §5.1.5: a bad MAC is silently discarded */
    if (vtag != ck.local_tag)
        return ZDC_ERR_PROTOCOL; /* §8.5.1 */
    if (ck.local_tag != a->local_tag) {
        /* §5.2.4 A: both tags new and the tie-tags ours: the peer restarted. Anything else
         * with a tag that is not ours (§5.2.4 C, or a cookie of an association gone) is
         * silently discarded. */
        if (a->state == ST_ESTABLISHED && ck.peer_tag != a->peer_tag &&
            ck.tie_local == a->local_tag && ck.tie_peer == a->peer_tag) {
            restart(a, &ck, now);
            return 0;
        }
        return ZDC_ERR_PROTOCOL;
    }
    bool zero = ck.flags & COOKIE_F_ZERO_CSUM;
    if (a->state == ST_CLOSED || a->state == ST_COOKIE_WAIT || a->state == ST_COOKIE_ECHOED) {
        /* §5.1 D, §5.2.4 B and D: establish from the cookie. */
        if (a->state == ST_CLOSED && (a->t1_at || a->peer_tag))
            return ZDC_ERR_PROTOCOL; /* closed after having been open */
        adopt_peer(a, ck.peer_tag, ck.peer_tsn, ck.peer_rwnd, ck.os, ck.mis, zero);
        a->peer_reconfig = ck.flags & COOKIE_F_RECONFIG;
        a->peer_fwd_tsn = ck.flags & COOKIE_F_FWD_TSN;
        zdc_sctp_chunk c = {.type = ZDC_SCTP_COOKIE_ACK};
        zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
        established(a, now);
        return 0;
    }
    if (ck.peer_tag == a->peer_tag) { /* §5.2.4 D, already established: ack again */
        zdc_sctp_chunk c = {.type = ZDC_SCTP_COOKIE_ACK};
        zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
    }
    return 0;
}

/* ERROR chunk (§3.3.10). A Stale Cookie answer to our COOKIE ECHO (§5.2.6): start the
 * handshake again with a new INIT (counted toward Max.Init.Retransmits, so it ends). Other
 * causes need no action (they report what the peer did not understand). */
static void handle_error(zdc_sctp_assoc *a, const uint8_t *p, size_t len, uint64_t now)
{
    zdc_sctp_cause_iter it;
    zdc_sctp_cause_iter_init(&it, p, len);
    uint16_t code;
    const uint8_t *v;
    size_t vl;
    while (zdc_sctp_cause_next(&it, &code, &v, &vl) == 1) {
        if (code != ZDC_SCTP_CAUSE_STALE_COOKIE || a->state != ST_COOKIE_ECHOED)
            continue;
        if (++a->t1_count > a->cfg.max_init_retransmits) {
            zdc_sctp_assoc_fail(a, ZDC_SCTP_ASSOC_CANT_START);
            return;
        }
        a->peer_tag = 0;
        a->peer_zero_checksum = false;
        free(a->cookie);
        a->cookie = NULL;
        a->state = ST_COOKIE_WAIT;
        send_init(a);
        a->t1_at = now + t1_interval(a);
        return;
    }
}

/* ---- shutdown -------------------------------------------------------------------------------- */

static void shutdown_progress(zdc_sctp_assoc *a, uint64_t now)
{
    if (!zdc_sctp_tx_idle(a))
        return;
    if (a->state == ST_SHUTDOWN_PENDING) {
        a->state = ST_SHUTDOWN_SENT;
        zdc_sctp_chunk c = {.type = ZDC_SCTP_SHUTDOWN, .u.cum_tsn = a->cum_tsn};
        zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
        a->t2_count = 0;
        a->t2_at = now + a->rto;
    } else if (a->state == ST_SHUTDOWN_RECEIVED) {
        a->state = ST_SHUTDOWN_ACK_SENT;
        zdc_sctp_chunk c = {.type = ZDC_SCTP_SHUTDOWN_ACK};
        zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
        a->t2_count = 0;
        a->t2_at = now + a->rto;
    }
}

int zdc_sctp_assoc_shutdown(zdc_sctp_assoc *a, uint64_t now)
{
    if (a->state != ST_ESTABLISHED)
        return ZDC_ERR_INVALID_STATE;
    a->state = ST_SHUTDOWN_PENDING;
    shutdown_progress(a, now);
    return 0;
}

void zdc_sctp_assoc_abort(zdc_sctp_assoc *a, uint64_t now)
{
    if (a->state == ST_CLOSED)
        return;
    if (a->peer_tag)
        send_abort(a, ZDC_SCTP_CAUSE_USER_ABORT);
    a->state = ST_CLOSED;
    a->t1_at = a->t2_at = a->t3_at = a->sack_at = a->reconf_at = a->hb_at = 0;
}

static void handle_shutdown(zdc_sctp_assoc *a, uint32_t cum, uint64_t now)
{
    /* The cumulative TSN ack in SHUTDOWN acknowledges like a SACK (§9.2). */
    zdc_sctp_sack_chunk s = {.cum_tsn = cum, .a_rwnd = a->peer_rwnd + (uint32_t)a->flight_size};
    zdc_sctp_tx_handle_sack(a, &s, now);
    if (a->state == ST_ESTABLISHED || a->state == ST_SHUTDOWN_PENDING) {
        a->state = ST_SHUTDOWN_RECEIVED;
        shutdown_progress(a, now);
    } else if (a->state == ST_SHUTDOWN_SENT) {
        /* §9.2: both sides shut down at once. */
        a->state = ST_SHUTDOWN_ACK_SENT;
        zdc_sctp_chunk c = {.type = ZDC_SCTP_SHUTDOWN_ACK};
        zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
        a->t2_at = now + a->rto;
    }
}

/* ---- input ------------------------------------------------------------------------------------
 */

static void report_unknown_chunk(zdc_sctp_assoc *a, const zdc_sctp_raw_chunk *raw)
{
    uint8_t causes[256];
    zdc_wr cw;
    zdc_wr_init(&cw, causes, sizeof causes);
    size_t n = raw->wire_len < sizeof causes - 8 ? raw->wire_len : sizeof causes - 8;
    zdc_sctp_cause_build(&cw, ZDC_SCTP_CAUSE_UNRECOGNIZED_CHUNK, raw->wire, n);
    zdc_sctp_chunk c = {.type = ZDC_SCTP_ERROR, .u.opaque = {causes, cw.len}};
    zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
}

static bool receiving_data(const zdc_sctp_assoc *a)
{
    return a->state == ST_ESTABLISHED || a->state == ST_SHUTDOWN_PENDING ||
           a->state == ST_SHUTDOWN_SENT;
}

static int drop(zdc_sctp_assoc *a, int err)
{
    a->st.dropped++;
    return err;
}

int zdc_sctp_assoc_handle_packet(zdc_sctp_assoc *a, const uint8_t *p, size_t len, uint64_t now)
{
    if (a == NULL || p == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    int mode = a->advertise_zero_checksum ? ZDC_SCTP_CSUM_ACCEPT_ZERO : ZDC_SCTP_CSUM_VERIFY;
    int rv = zdc_sctp_packet_parse(p, len, mode, &h, &it);
    if (rv != 0)
        return drop(a, rv);
    if (h.dst_port != a->cfg.local_port || h.src_port != a->cfg.remote_port)
        return drop(a, ZDC_ERR_PROTOCOL);
    a->st.packets_in++;
    a->st.bytes_in += len;

    /* Verification tag rules (§8.5, §8.5.1) are decided on the first chunk. */
    zdc_sctp_chunk_iter peek = it;
    zdc_sctp_raw_chunk raw;
    if (zdc_sctp_chunk_next(&peek, &raw) != 1)
        return drop(a, ZDC_ERR_MALFORMED);
    if (raw.type == ZDC_SCTP_INIT) {
        zdc_sctp_chunk c;
        zdc_sctp_raw_chunk extra;
        /* §8.5.1 A: tag 0, and an INIT is the only chunk of its packet (§6.10). */
        if (h.vtag != 0 || zdc_sctp_chunk_next(&peek, &extra) != 0 ||
            zdc_sctp_chunk_parse(&raw, &c) != 0)
            return drop(a, ZDC_ERR_PROTOCOL);
        if (a->state >= ST_SHUTDOWN_PENDING)
            return 0;
        handle_init(a, &c.u.init, now);
        return 0;
    }
    bool t_bit = (raw.type == ZDC_SCTP_ABORT || raw.type == ZDC_SCTP_SHUTDOWN_COMPLETE) &&
                 (raw.flags & ZDC_SCTP_FLAG_T);
    if (raw.type == ZDC_SCTP_COOKIE_ECHO) {
        /* checked against the cookie's own tag below */
    } else if (t_bit ? h.vtag != a->peer_tag || a->peer_tag == 0 : h.vtag != a->local_tag) {
        return drop(a, ZDC_ERR_PROTOCOL);
    }

    while ((rv = zdc_sctp_chunk_next(&it, &raw)) == 1) {
        zdc_sctp_chunk c;
        rv = zdc_sctp_chunk_parse(&raw, &c);
        if (rv == ZDC_ERR_NOT_SUPPORTED) {
            /* §3.2: the chunk type's upper bits. */
            int act = zdc_sctp_chunk_unknown_action(raw.type);
            if (act & 1)
                report_unknown_chunk(a, &raw);
            if (act & 2)
                continue;
            break;
        }
        if (rv != 0) {
            a->st.dropped++;
            break; /* the rest of a malformed packet is not trusted */
        }
        switch (c.type) {
        case ZDC_SCTP_DATA:
            if (!receiving_data(a))
                break;
            if (zdc_sctp_rx_data(a, &c.u.data) == ZDC_ERR_PROTOCOL) {
                send_abort(a, ZDC_SCTP_CAUSE_NO_USER_DATA);
                zdc_sctp_assoc_fail(a, ZDC_SCTP_ASSOC_ABORTED);
                return ZDC_ERR_PROTOCOL;
            }
            break;
        case ZDC_SCTP_SACK:
            if (a->state >= ST_ESTABLISHED)
                zdc_sctp_tx_handle_sack(a, &c.u.sack, now);
            break;
        case ZDC_SCTP_INIT:
            return drop(a, ZDC_ERR_PROTOCOL); /* bundled INIT */
        case ZDC_SCTP_INIT_ACK:
            handle_init_ack(a, &c.u.init, now);
            break;
        case ZDC_SCTP_COOKIE_ECHO:
            if (handle_cookie_echo(a, h.vtag, c.u.opaque.p, c.u.opaque.len, now) != 0)
                return drop(a, ZDC_ERR_PROTOCOL);
            break;
        case ZDC_SCTP_COOKIE_ACK:
            if (a->state == ST_COOKIE_ECHOED)
                established(a, now);
            break;
        case ZDC_SCTP_HEARTBEAT: {
            zdc_sctp_chunk r = {.type = ZDC_SCTP_HEARTBEAT_ACK, .u.opaque = c.u.opaque};
            if (a->peer_tag)
                zdc_sctp_assoc_send_chunk(a, a->peer_tag, &r);
            break;
        }
        case ZDC_SCTP_ABORT:
            if ((a->state == ST_COOKIE_WAIT || a->state == ST_COOKIE_ECHOED) &&
                a->advertise_zero_checksum) {
                /* A peer that cannot parse Zero Checksum Acceptable (Pion 1.8) aborts our
                 * handshake: start again without it. */
                a->advertise_zero_checksum = false;
                a->peer_tag = 0;
                a->peer_zero_checksum = false;
                free(a->cookie);
                a->cookie = NULL;
                a->state = ST_COOKIE_WAIT;
                a->t1_count = 0;
                send_init(a);
                a->t1_at = now + t1_interval(a);
                return 0;
            }
            if (a->state != ST_CLOSED && a->cfg.cb.on_abort)
                a->cfg.cb.on_abort(a->cfg.user, c.u.opaque.p, c.u.opaque.len);
            zdc_sctp_assoc_fail(a, a->state < ST_ESTABLISHED ? ZDC_SCTP_ASSOC_CANT_START
                                                             : ZDC_SCTP_ASSOC_ABORTED);
            return 0;
        case ZDC_SCTP_SHUTDOWN:
            handle_shutdown(a, c.u.cum_tsn, now);
            break;
        case ZDC_SCTP_SHUTDOWN_ACK:
            if (a->state == ST_SHUTDOWN_SENT || a->state == ST_SHUTDOWN_ACK_SENT) {
                zdc_sctp_chunk r = {.type = ZDC_SCTP_SHUTDOWN_COMPLETE};
                zdc_sctp_assoc_send_chunk(a, a->peer_tag, &r);
                zdc_sctp_assoc_fail(a, ZDC_SCTP_ASSOC_SHUTDOWN);
                return 0;
            }
            break;
        case ZDC_SCTP_SHUTDOWN_COMPLETE:
            if (a->state == ST_SHUTDOWN_ACK_SENT) {
                zdc_sctp_assoc_fail(a, ZDC_SCTP_ASSOC_SHUTDOWN);
                return 0;
            }
            break;
        case ZDC_SCTP_RE_CONFIG:
            zdc_sctp_reset_handle(a, &c.u.reconfig, now);
            if (a->state == ST_CLOSED)
                return 0;
            break;
        case ZDC_SCTP_FORWARD_TSN:
            if (receiving_data(a)) {
                zdc_sctp_rx_forward_tsn(a, &c.u.fwd_tsn);
                a->unacked_data = true;
                a->sack_now = true; /* RFC 3758 §3.6: SACK at once */
            }
            break;
        case ZDC_SCTP_HEARTBEAT_ACK:
            if (a->state >= ST_ESTABLISHED)
                zdc_sctp_hb_ack(a, c.u.opaque.p, c.u.opaque.len, now);
            break;
        case ZDC_SCTP_ERROR:
            handle_error(a, c.u.opaque.p, c.u.opaque.len, now);
            break;
        default:
            break;
        }
    }
    if (rv < 0)
        a->st.dropped++;
    zdc_sctp_rx_packet_done(a, now);
    if (a->batch) {
        a->batch_pkts++;
        return 0; /* the SACK and the rest go at _batch_end */
    }
    zdc_sctp_tx_flush(a, now);
    zdc_sctp_reset_flush(a, now);
    shutdown_progress(a, now);
    return 0;
}

/* ---- timers ------------------------------------------------------------------------------------
 */

uint64_t zdc_sctp_assoc_next_timeout(const zdc_sctp_assoc *a)
{
    uint64_t t = UINT64_MAX;
    uint64_t c[6] = {a->t1_at, a->t2_at, a->t3_at, a->sack_at, a->reconf_at, a->hb_at};
    for (int i = 0; i < 6; i++)
        if (c[i] && c[i] < t)
            t = c[i];
    return t;
}

void zdc_sctp_assoc_handle_timeout(zdc_sctp_assoc *a, uint64_t now)
{
    if (a->t1_at && now >= a->t1_at) {
        /* §5.1 C: T1-init / T1-cookie, doubling, Max.Init.Retransmits. */
        if (++a->t1_count > a->cfg.max_init_retransmits) {
            zdc_sctp_assoc_fail(a, ZDC_SCTP_ASSOC_CANT_START);
            return;
        }
        if (a->state == ST_COOKIE_WAIT) {
            /* A peer that silently drops an INIT carrying a parameter it cannot parse (Debian's
             * Pion 1.8.6: no ABORT): from the third INIT on, the optional Zero Checksum
             * Acceptable (RFC 9653) is left out. */
            if (a->t1_count >= 2)
                a->advertise_zero_checksum = false;
            send_init(a);
        } else if (a->state == ST_COOKIE_ECHOED) {
            zdc_sctp_chunk c = {.type = ZDC_SCTP_COOKIE_ECHO,
                                .u.opaque = {a->cookie, a->cookie_len}};
            zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
        }
        a->t1_at = now + t1_interval(a);
    }
    if (a->t2_at && now >= a->t2_at) {
        if (++a->t2_count > a->cfg.max_retransmits) {
            send_abort(a, ZDC_SCTP_CAUSE_USER_ABORT);
            zdc_sctp_assoc_fail(a, ZDC_SCTP_ASSOC_ABORTED);
            return;
        }
        zdc_sctp_chunk c = {.type = a->state == ST_SHUTDOWN_SENT ? ZDC_SCTP_SHUTDOWN
                                                                 : ZDC_SCTP_SHUTDOWN_ACK,
                            .u.cum_tsn = a->cum_tsn};
        zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
        uint64_t hi = (uint64_t)a->cfg.rto_max_ms * MS;
        a->rto = a->rto * 2 > hi ? hi : a->rto * 2;
        a->t2_at = now + a->rto;
    }
    if (a->t3_at && now >= a->t3_at) {
        zdc_sctp_tx_handle_t3(a, now);
        if (a->state == ST_CLOSED)
            return;
    }
    if (a->sack_at && now >= a->sack_at) {
        a->sack_at = 0;
        a->sack_now = true;
    }
    zdc_sctp_reset_timeout(a, now);
    if (a->state == ST_CLOSED)
        return;
    zdc_sctp_hb_timeout(a, now);
    if (a->state == ST_CLOSED)
        return;
    zdc_sctp_tx_flush(a, now);
    zdc_sctp_reset_flush(a, now);
    shutdown_progress(a, now);
}

/* ---- application ----------------------------------------------------------------------------- */

int zdc_sctp_assoc_send_ex(zdc_sctp_assoc *a, uint16_t stream, uint32_t ppid, const void *data,
                           size_t len, const zdc_sctp_assoc_send_opts *o, uint64_t now)
{
    zdc_sctp_assoc_send_opts def = {0};
    if (o == NULL)
        o = &def;
    if (a == NULL || len == 0 || data == NULL || o->pr_policy < ZDC_SCTP_ASSOC_PR_NONE ||
        o->pr_policy > ZDC_SCTP_ASSOC_PR_TTL)
        return ZDC_ERR_INVALID_PARAMETER;
    if (a->state != ST_ESTABLISHED)
        return ZDC_ERR_INVALID_STATE;
    if (stream >= a->os)
        return ZDC_ERR_INVALID_PARAMETER;
    if (zdc_sctp_reset_blocks(a, stream))
        return ZDC_ERR_INVALID_STATE; /* closing: usable again after on_reset_done */
    zdc_sctp_assoc_send_opts eff = *o;
    if (!a->peer_fwd_tsn)
        eff.pr_policy = ZDC_SCTP_ASSOC_PR_NONE; /* the peer cannot skip: reliable */
    int rv = zdc_sctp_tx_queue(a, stream, ppid, data, len, &eff, now);
    if (rv != 0)
        return rv;
    if (!a->corked)
        zdc_sctp_tx_flush(a, now);
    return 0;
}

int zdc_sctp_assoc_send(zdc_sctp_assoc *a, uint16_t stream, uint32_t ppid, const void *data,
                        size_t len, bool unordered, uint64_t now)
{
    zdc_sctp_assoc_send_opts o = {.unordered = unordered};
    return zdc_sctp_assoc_send_ex(a, stream, ppid, data, len, &o, now);
}

void zdc_sctp_assoc_set_app_held(zdc_sctp_assoc *a, size_t bytes, uint64_t now)
{
    a->app_held = bytes;
    uint32_t w = zdc_sctp_rx_a_rwnd(a);
    if (a->state >= ST_ESTABLISHED && w > a->last_adv_rwnd &&
        (a->last_adv_rwnd == 0 || w - a->last_adv_rwnd >= a->cfg.rwnd / 4)) {
        a->sack_now = true; /* window update */
        if (!a->corked)
            zdc_sctp_tx_flush(a, now);
    }
}

void zdc_sctp_assoc_batch_begin(zdc_sctp_assoc *a)
{
    a->batch = true;
    a->batch_pkts = 0;
}

void zdc_sctp_assoc_batch_end(zdc_sctp_assoc *a, uint64_t now)
{
    if (!a->batch)
        return;
    a->batch = false;
    if (a->state == ST_CLOSED || a->batch_pkts == 0) {
        a->batch_pkts = 0;
        return;
    }
    zdc_sctp_tx_flush(a, now);
    a->batch_pkts = 0;
    zdc_sctp_reset_flush(a, now);
    shutdown_progress(a, now);
}

void zdc_sctp_assoc_cork(zdc_sctp_assoc *a, bool corked, uint64_t now)
{
    bool was = a->corked;
    a->corked = corked;
    if (was && !corked)
        zdc_sctp_tx_flush(a, now);
}

bool zdc_sctp_assoc_is_up(const zdc_sctp_assoc *a)
{
    return a->state == ST_ESTABLISHED;
}

bool zdc_sctp_assoc_is_closed(const zdc_sctp_assoc *a)
{
    return a->state == ST_CLOSED;
}

size_t zdc_sctp_assoc_buffered_amount(const zdc_sctp_assoc *a)
{
    return a->queued_bytes;
}

void zdc_sctp_assoc_get_stats(const zdc_sctp_assoc *a, zdc_sctp_assoc_stats *st)
{
    *st = a->st;
    st->cwnd = a->cwnd;
    st->ssthresh = a->ssthresh;
    st->rto_ms = (uint32_t)(a->rto / MS);
    st->srtt_ms = (uint32_t)(a->srtt / MS);
    st->peer_rwnd = a->peer_rwnd;
    st->unacked = a->next_tsn - a->peer_cum - 1;
    st->peer_zero_checksum = a->peer_zero_checksum;
}
