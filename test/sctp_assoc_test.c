/* Tests for the native SCTP association (core/sctp/sctp_assoc.h): two associations in one
 * process, on a simulated clock, through the seeded impairment link (test/support/impair.h).
 * Nothing sleeps: time jumps to the next deadline of either association or the link. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fakeclock.h"
#include "impair.h"
#include "sctp_assoc.h"
#include "sctp_assoc_int.h"
#include "sctp_wire.h"

/* ---- harness ---------------------------------------------------------------------------- */

struct rmsg {
    uint16_t stream;
    uint32_t ppid;
    uint8_t *p;
    size_t len;
    unsigned flags;
};

struct ep {
    zdc_sctp_assoc *a;
    zdc_impair *link; /* towards the other end */
    struct rmsg *m;
    size_t nm, capm;
    int up, down, down_reason;
    uint16_t in_streams, out_streams;
    uint64_t now; /* time of the current call, for the send callback */
    unsigned zero_csum_seen, packets_sent;
    bool abort_zero_checksum_init; /* ABORT an INIT carrying ZCA (a stack that cannot parse it) */
    bool drop_zero_checksum_init;  /* drop an INIT or INIT ACK carrying ZCA, answer nothing
                                      (Debian's Pion 1.8.6) */
    unsigned dropped_zero_checksum_inits;
    uint16_t resets[128], done[128];
    size_t nresets, ndone;
    size_t msgs_at_reset;                  /* messages received when the first reset arrived */
    unsigned reset_reqs, reset_reqs_early; /* our reset requests; those sent before their
                                              Sender's Last Assigned TSN was acknowledged */
    struct ep *peer;
};

static zdc_fakeclock clk;
static uint32_t test_mtu = 1200; /* a test may pick another (not a multiple of 4) */

/* Counts the Outgoing SSN Reset Requests in packet p and those sent while data up to their
 * Sender's Last Assigned TSN was still unacknowledged. */
static void count_reset_requests(struct ep *e, const uint8_t *p, size_t len)
{
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    zdc_sctp_chunk c;
    if (e->a == NULL || zdc_sctp_packet_parse(p, len, ZDC_SCTP_CSUM_SKIP, &h, &it) != 0)
        return;
    while (zdc_sctp_chunk_next(&it, &raw) == 1) {
        if (raw.type != ZDC_SCTP_RE_CONFIG || zdc_sctp_chunk_parse(&raw, &c) != 0)
            continue;
        for (unsigned i = 0; i < c.u.reconfig.n; i++) {
            const zdc_sctp_reconf_param *q = &c.u.reconfig.p[i];
            if (q->type != ZDC_SCTP_P_OUT_RESET_REQ)
                continue;
            e->reset_reqs++;
            if (zdc_tsn_lt(e->a->peer_cum, q->last_tsn))
                e->reset_reqs_early++;
        }
    }
}

static int ep_send(void *user, const uint8_t *p, size_t len)
{
    struct ep *e = user;
    e->packets_sent++;
    count_reset_requests(e, p, len);
    if (len >= 12 && zdc_crc32c_load(p + 8) == 0)
        e->zero_csum_seen++;
    cr_assert_leq(len, test_mtu);
    zdc_impair_push(e->link, p, len, 0, zdc_fakeclock_now(&clk));
    return 0;
}

static void ep_up(void *user, uint16_t in, uint16_t out)
{
    struct ep *e = user;
    e->up++;
    e->in_streams = in;
    e->out_streams = out;
}

static void ep_down(void *user, int reason)
{
    struct ep *e = user;
    e->down++;
    e->down_reason = reason;
}

static void ep_msg(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                   unsigned flags)
{
    struct ep *e = user;
    if (e->nm == e->capm) {
        e->capm = e->capm ? e->capm * 2 : 256;
        e->m = realloc(e->m, e->capm * sizeof *e->m);
        cr_assert_not_null(e->m);
    }
    uint8_t *c = malloc(len);
    memcpy(c, p, len);
    e->m[e->nm++] = (struct rmsg){stream, ppid, c, len, flags};
}

static void ep_reset(void *user, uint16_t stream)
{
    struct ep *e = user;
    if (e->nresets == 0)
        e->msgs_at_reset = e->nm;
    if (e->nresets < 128)
        e->resets[e->nresets++] = stream;
}

static void ep_done(void *user, uint16_t stream)
{
    struct ep *e = user;
    if (e->ndone < 128)
        e->done[e->ndone++] = stream;
}

static void ep_init(struct ep *e, struct ep *peer, const zdc_impair_config *ic, uint64_t seed,
                    bool zero_checksum)
{
    memset(e, 0, sizeof *e);
    e->peer = peer;
    cr_assert_eq(zdc_impair_new(ic, &e->link), 0);
    zdc_sctp_assoc_config c;
    zdc_sctp_assoc_config_default(&c);
    c.random_seed = seed;
    for (int i = 0; i < 32; i++)
        c.cookie_key[i] = (uint8_t)(seed * 31 + (uint64_t)i);
    c.zero_checksum = zero_checksum;
    c.mtu = test_mtu;
    c.cb = (zdc_sctp_assoc_callbacks){.send = ep_send,
                                      .on_up = ep_up,
                                      .on_down = ep_down,
                                      .on_message = ep_msg,
                                      .on_stream_reset = ep_reset,
                                      .on_reset_done = ep_done};
    c.user = e;
    cr_assert_eq(zdc_sctp_assoc_new(&c, &e->a), 0);
}

static void ep_clear(struct ep *e)
{
    zdc_sctp_assoc_free(e->a);
    zdc_impair_free(e->link);
    for (size_t i = 0; i < e->nm; i++)
        free(e->m[i].p);
    free(e->m);
}

static bool has_zero_checksum_param_in(const uint8_t *p, size_t len, uint8_t type)
{
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    zdc_sctp_chunk c;
    return zdc_sctp_packet_parse(p, len, ZDC_SCTP_CSUM_SKIP, &h, &it) == 0 &&
           zdc_sctp_chunk_next(&it, &raw) == 1 && raw.type == type &&
           zdc_sctp_chunk_parse(&raw, &c) == 0 && c.u.init.zero_checksum;
}

static bool has_zero_checksum_param(const uint8_t *p, size_t len)
{
    return has_zero_checksum_param_in(p, len, ZDC_SCTP_INIT);
}

/* Delivers what the link from `from` has due to from->peer. */
static size_t deliver(struct ep *from)
{
    uint8_t buf[2048];
    size_t len, n = 0;
    uint64_t tag;
    struct ep *to = from->peer;
    uint64_t now = zdc_fakeclock_now(&clk);
    while (zdc_impair_pop(from->link, now, buf, sizeof buf, &len, &tag) == 1) {
        n++;
        if (to->drop_zero_checksum_init &&
            (has_zero_checksum_param(buf, len) ||
             has_zero_checksum_param_in(buf, len, ZDC_SCTP_INIT_ACK))) {
            to->dropped_zero_checksum_inits++;
            continue;
        }
        if (to->abort_zero_checksum_init && has_zero_checksum_param(buf, len)) {
            /* ABORT back with the INIT's initiate tag, as a stack that cannot parse it does */
            zdc_sctp_header h;
            zdc_sctp_chunk_iter it;
            zdc_sctp_raw_chunk raw;
            zdc_sctp_chunk c;
            zdc_sctp_packet_parse(buf, len, ZDC_SCTP_CSUM_SKIP, &h, &it);
            zdc_sctp_chunk_next(&it, &raw);
            zdc_sctp_chunk_parse(&raw, &c);
            uint8_t out[64];
            zdc_wr w;
            zdc_wr_init(&w, out, sizeof out);
            zdc_sctp_packet_begin(&w, 5000, 5000, c.u.init.init_tag);
            zdc_sctp_chunk ab = {.type = ZDC_SCTP_ABORT};
            zdc_sctp_chunk_build(&w, &ab);
            int m = zdc_sctp_packet_finish(&w, false);
            zdc_impair_push(to->link, out, (size_t)m, 0, now);
            continue;
        }
        zdc_sctp_assoc_handle_packet(to->a, buf, len, now);
    }
    return n;
}

static uint64_t next_event(struct ep *a, struct ep *b)
{
    uint64_t t = zdc_sctp_assoc_next_timeout(a->a);
    uint64_t u = zdc_sctp_assoc_next_timeout(b->a);
    if (u < t)
        t = u;
    u = zdc_impair_next(a->link);
    if (u < t)
        t = u;
    u = zdc_impair_next(b->link);
    return u < t ? u : t;
}

/* Runs the two ends until cond holds or `limit_ns` of simulated time pass. */
#define RUN_UNTIL(X, Y, cond, limit_ns)                                                            \
    do {                                                                                           \
        uint64_t end_ = zdc_fakeclock_now(&clk) + (limit_ns);                                      \
        while (!(cond)) {                                                                          \
            uint64_t t_ = next_event((X), (Y));                                                    \
            if (t_ == UINT64_MAX || t_ > end_)                                                     \
                break;                                                                             \
            zdc_fakeclock_advance_to(&clk, t_);                                                    \
            uint64_t now_ = zdc_fakeclock_now(&clk);                                               \
            deliver(X);                                                                            \
            deliver(Y);                                                                            \
            if (zdc_sctp_assoc_next_timeout((X)->a) <= now_)                                       \
                zdc_sctp_assoc_handle_timeout((X)->a, now_);                                       \
            if (zdc_sctp_assoc_next_timeout((Y)->a) <= now_)                                       \
                zdc_sctp_assoc_handle_timeout((Y)->a, now_);                                       \
        }                                                                                          \
    } while (0)

#define SEC  1000000000ull
#define MSEC 1000000ull

static void pair(struct ep *a, struct ep *b, const zdc_impair_config *ic, bool za, bool zb)
{
    zdc_fakeclock_init(&clk, ZDC_FAKECLOCK_SIMULATED, 1 * SEC);
    zdc_impair_config c2 = *ic;
    c2.seed = ic->seed + 1;
    ep_init(a, b, ic, 1000 + ic->seed, za);
    ep_init(b, a, &c2, 2000 + ic->seed, zb);
}

static void connect_both(struct ep *a, struct ep *b)
{
    uint64_t now = zdc_fakeclock_now(&clk);
    cr_assert_eq(zdc_sctp_assoc_connect(a->a, now), 0);
    cr_assert_eq(zdc_sctp_assoc_connect(b->a, now), 0);
    RUN_UNTIL(a, b, a->up && b->up, 120 * SEC);
    cr_assert(a->up && b->up, "association up (a %d b %d)", a->up, b->up);
}

/* ---- handshake ---------------------------------------------------------------------------- */

Test(sctp_assoc, simultaneous_init_comes_up_once_on_each_side)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 20 * MSEC;
    pair(&a, &b, &ic, true, true);
    connect_both(&a, &b);
    cr_assert_eq(a.up, 1);
    cr_assert_eq(b.up, 1);
    cr_assert_eq(a.out_streams, 1024);
    cr_assert_eq(b.in_streams, 1024);
    RUN_UNTIL(&a, &b, false, 5 * SEC);
    cr_assert_eq(a.up + b.up, 2, "no second on_up");
    cr_assert_eq(a.down + b.down, 0);
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_assoc, passive_side_keeps_no_state_before_cookie_echo)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic, false, false);
    cr_assert_eq(zdc_sctp_assoc_connect(a.a, zdc_fakeclock_now(&clk)), 0);
    zdc_fakeclock_advance_to(&clk, zdc_impair_next(a.link));
    deliver(&a); /* B answers the INIT */
    cr_assert_eq(b.a->state, ST_CLOSED);
    cr_assert_eq(b.a->peer_tag, 0, "nothing of A's INIT is kept");
    cr_assert_eq(b.packets_sent, 1, "one INIT ACK, no more (no amplification)");
    RUN_UNTIL(&a, &b, a.up && b.up, 10 * SEC);
    cr_assert(a.up && b.up);
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_assoc, tampered_and_stale_cookies_are_refused)
{
    uint8_t key[32] = {1, 2, 3};
    zdc_sctp_cookie c = {.local_tag = 5, .peer_tag = 6, .os = 3, .mis = 4, .created = 100 * SEC};
    uint8_t ck[ZDC_SCTP_COOKIE_LEN];
    cr_assert_eq(zdc_sctp_cookie_make(key, &c, ck), 0);
    zdc_sctp_cookie o;
    cr_assert_eq(zdc_sctp_cookie_open(key, ck, sizeof ck, 101 * SEC, &o), 0);
    cr_assert_eq(o.peer_tag, 6);
    cr_assert_eq(o.mis, 4);
    for (size_t i = 0; i < sizeof ck; i++) {
        ck[i] ^= 0x20;
        cr_assert_neq(zdc_sctp_cookie_open(key, ck, sizeof ck, 101 * SEC, &o), 0, "byte %zu", i);
        ck[i] ^= 0x20;
    }
    cr_assert_eq(zdc_sctp_cookie_open(key, ck, sizeof ck, 161 * SEC, &o), ZDC_ERR_TIMEOUT);
    cr_assert_eq(zdc_sctp_cookie_open(key, ck, sizeof ck - 1, 101 * SEC, &o), ZDC_ERR_INTEGRITY);
    key[0] ^= 1;
    cr_assert_eq(zdc_sctp_cookie_open(key, ck, sizeof ck, 101 * SEC, &o), ZDC_ERR_INTEGRITY);
}

/* RFC 9653 in all four combinations: zero goes on the wire only when both accept. */
Test(sctp_assoc, zero_checksum_in_all_four_combinations)
{
    for (int k = 0; k < 4; k++) {
        bool za = k & 1, zb = k & 2;
        struct ep a, b;
        zdc_impair_config ic = zdc_impair_config_default();
        pair(&a, &b, &ic, za, zb);
        connect_both(&a, &b);
        uint8_t m[3000] = {0};
        cr_assert_eq(zdc_sctp_assoc_send(a.a, 1, 53, m, sizeof m, false, zdc_fakeclock_now(&clk)),
                     0);
        cr_assert_eq(zdc_sctp_assoc_send(b.a, 1, 53, m, 10, false, zdc_fakeclock_now(&clk)), 0);
        RUN_UNTIL(&a, &b, a.nm == 1 && b.nm == 1, 10 * SEC);
        cr_assert_eq(b.nm, 1);
        cr_assert_eq(a.nm, 1);
        zdc_sctp_assoc_stats sa, sb;
        zdc_sctp_assoc_get_stats(a.a, &sa);
        zdc_sctp_assoc_get_stats(b.a, &sb);
        bool both = za && zb;
        cr_assert_eq(sa.peer_zero_checksum, both, "combination %d", k);
        cr_assert_eq(sb.peer_zero_checksum, both);
        cr_assert_eq(a.zero_csum_seen > 0, both, "combination %d: %u zero", k, a.zero_csum_seen);
        cr_assert_eq(b.zero_csum_seen > 0, both);
        cr_assert_eq(sa.dropped + sb.dropped, 0);
        ep_clear(&a);
        ep_clear(&b);
    }
}

Test(sctp_assoc, handshake_retried_without_zero_checksum_when_the_peer_aborts_it)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic, true, false);
    b.abort_zero_checksum_init = true;
    cr_assert_eq(zdc_sctp_assoc_connect(a.a, zdc_fakeclock_now(&clk)), 0);
    RUN_UNTIL(&a, &b, a.up && b.up, 10 * SEC);
    cr_assert(a.up && b.up);
    cr_assert_eq(a.down, 0);
    zdc_sctp_assoc_stats st;
    zdc_sctp_assoc_get_stats(a.a, &st);
    cr_assert_not(st.peer_zero_checksum);
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_assoc, handshake_with_a_peer_that_silently_drops_zero_checksum)
{
    /* Both sides send INIT (WebRTC); B drops everything carrying Zero Checksum Acceptable and
     * offers none itself: A answers B's INIT without it, and the association comes up. */
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 10 * MSEC;
    pair(&a, &b, &ic, true, false);
    b.drop_zero_checksum_init = true;
    uint64_t t0 = zdc_fakeclock_now(&clk);
    connect_both(&a, &b);
    cr_assert_gt(b.dropped_zero_checksum_inits, 0, "A's first INIT offered it");
    cr_assert_lt(zdc_fakeclock_now(&clk) - t0, 1 * SEC, "up without waiting for T1");
    zdc_sctp_assoc_stats st;
    zdc_sctp_assoc_get_stats(a.a, &st);
    cr_assert_not(st.peer_zero_checksum);
    ep_clear(&a);
    ep_clear(&b);
    /* B passive (sends no INIT): A leaves the parameter out from its third INIT on. */
    pair(&a, &b, &ic, true, false);
    b.drop_zero_checksum_init = true;
    cr_assert_eq(zdc_sctp_assoc_connect(a.a, zdc_fakeclock_now(&clk)), 0);
    RUN_UNTIL(&a, &b, a.up && b.up, 30 * SEC);
    cr_assert(a.up && b.up);
    cr_assert_eq(b.dropped_zero_checksum_inits, 2, "two INITs with it, then one without");
    ep_clear(&a);
    ep_clear(&b);
}

/* ---- data over the impairment link -------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Message i: 8-byte header (index, length) then bytes derived from the index. */
static uint8_t *make_msg(uint32_t i, size_t len)
{
    uint8_t *p = malloc(len);
    for (size_t k = 0; k < len; k++)
        p[k] = (uint8_t)(i * 131 + k * 7);
    if (len >= 8) {
        zdc_store_u32(p, i);
        zdc_store_u32(p + 4, (uint32_t)len);
    }
    return p;
}

static bool msg_ok(const struct rmsg *m, uint32_t *idx)
{
    if (m->len < 8)
        return false;
    *idx = zdc_load_u32(m->p);
    if (zdc_load_u32(m->p + 4) != m->len)
        return false;
    for (size_t k = 8; k < m->len; k++)
        if (m->p[k] != (uint8_t)(*idx * 131 + k * 7))
            return false;
    return true;
}

struct sent {
    uint16_t stream;
    bool unordered;
};

/* Sends n messages of mixed sizes on 4 streams (0, 1 ordered; 2, 3 unordered) from A to B and
 * B to A, runs until all arrive, and checks each arrived once, intact, in order where ordered. */
static void transfer(const zdc_impair_config *ic, unsigned n, size_t max_len, uint64_t limit)
{
    struct ep a, b;
    pair(&a, &b, ic, true, true);
    connect_both(&a, &b);
    rng_state = 0x1234567 + ic->seed;
    struct sent *s = calloc(n, sizeof *s);
    for (uint32_t i = 0; i < n; i++) {
        size_t len = 8 + rnd() % (rnd() % 4 == 0 ? max_len : 1200);
        s[i].stream = (uint16_t)(rnd() % 4);
        s[i].unordered = s[i].stream >= 2;
        uint8_t *p = make_msg(i, len);
        uint64_t now = zdc_fakeclock_now(&clk);
        cr_assert_eq(zdc_sctp_assoc_send(a.a, s[i].stream, 51, p, len, s[i].unordered, now), 0);
        if (i % 8 == 0)
            cr_assert_eq(zdc_sctp_assoc_send(b.a, 0, 51, p, len, false, now), 0);
        free(p);
        if (i % 16 == 0)
            RUN_UNTIL(&a, &b, false, 5 * MSEC);
    }
    unsigned back = (n + 7) / 8;
    RUN_UNTIL(&a, &b, b.nm == n && a.nm == back, limit);
    cr_assert_eq(b.nm, n, "B received %zu of %u", b.nm, n);
    cr_assert_eq(a.nm, back, "A received %zu of %u", a.nm, back);
    bool *seen = calloc(n, 1);
    int64_t last[4] = {-1, -1, -1, -1};
    for (size_t k = 0; k < b.nm; k++) {
        uint32_t idx;
        cr_assert(msg_ok(&b.m[k], &idx), "message %zu intact", k);
        cr_assert_lt(idx, n);
        cr_assert_not(seen[idx], "message %u delivered twice", idx);
        seen[idx] = true;
        cr_assert_eq(b.m[k].stream, s[idx].stream);
        cr_assert_eq(!!(b.m[k].flags & ZDC_SCTP_ASSOC_MSG_UNORDERED), s[idx].unordered);
        if (!s[idx].unordered) {
            cr_assert_gt((int64_t)idx, last[s[idx].stream], "ordered stream %u keeps order",
                         s[idx].stream);
            last[s[idx].stream] = idx;
        }
    }
    int64_t prev = -1;
    for (size_t k = 0; k < a.nm; k++) {
        uint32_t idx;
        cr_assert(msg_ok(&a.m[k], &idx));
        cr_assert_gt((int64_t)idx, prev);
        prev = idx;
    }
    RUN_UNTIL(&a, &b, zdc_sctp_assoc_buffered_amount(a.a) == 0, 60 * SEC);
    cr_assert_eq(zdc_sctp_assoc_buffered_amount(a.a), 0, "everything acknowledged");
    zdc_sctp_assoc_stats st;
    zdc_sctp_assoc_get_stats(b.a, &st);
    cr_assert_eq(st.build_errors, 0);
    zdc_sctp_assoc_get_stats(a.a, &st);
    cr_assert_eq(st.build_errors, 0, "every packet was built within the MTU");
    zdc_impair_stats ls = zdc_impair_get_stats(a.link);
    cr_log_info("loss %.2f: %u msgs, %llu pkts, lost %llu, rtx %llu (fast %llu, T3 %llu), "
                "cwnd %u, rto %u ms, %.1f s simulated",
                ic->loss, n, (unsigned long long)st.packets_out, (unsigned long long)ls.lost,
                (unsigned long long)st.retransmits, (unsigned long long)st.fast_retransmits,
                (unsigned long long)st.t3_expiries, st.cwnd, st.rto_ms,
                (double)(zdc_fakeclock_now(&clk) - SEC) / 1e9);
    free(seen);
    free(s);
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_assoc, transfer_perfect_link)
{
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = 1;
    ic.delay_ns = 10 * MSEC;
    transfer(&ic, 400, 70000, 120 * SEC);
}

/* The peer connection's SCTP MTU is 1200 minus DTLS overhead: not a multiple of 4. */
Test(sctp_assoc, transfer_with_an_mtu_not_a_multiple_of_four)
{
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = 5;
    ic.delay_ns = 10 * MSEC;
    test_mtu = 1171;
    transfer(&ic, 200, 70000, 120 * SEC);
}

Test(sctp_assoc, transfer_1pct_loss_50ms)
{
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = 2;
    ic.loss = 0.01;
    ic.delay_ns = 50 * MSEC;
    transfer(&ic, 400, 70000, 300 * SEC);
}

Test(sctp_assoc, transfer_10pct_loss_reorder_duplicate)
{
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = 3;
    ic.loss = 0.10;
    ic.reorder = 0.05;
    ic.duplicate = 0.05;
    ic.delay_ns = 20 * MSEC;
    ic.jitter_ns = 10 * MSEC;
    transfer(&ic, 300, 30000, 600 * SEC);
}

Test(sctp_assoc, transfer_25pct_loss_200ms)
{
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = 4;
    ic.loss = 0.25;
    ic.delay_ns = 200 * MSEC;
    ic.jitter_ns = 20 * MSEC;
    transfer(&ic, 100, 20000, 3600 * SEC);
}

/* ---- closing ----------------------------------------------------------------------------------
 */

Test(sctp_assoc, shutdown_with_data_queued_delivers_it_first)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = 9;
    ic.loss = 0.05;
    ic.delay_ns = 30 * MSEC;
    pair(&a, &b, &ic, true, true);
    connect_both(&a, &b);
    for (uint32_t i = 0; i < 50; i++) {
        uint8_t *p = make_msg(i, 5000);
        cr_assert_eq(zdc_sctp_assoc_send(a.a, 1, 51, p, 5000, false, zdc_fakeclock_now(&clk)), 0);
        free(p);
    }
    cr_assert_gt(zdc_sctp_assoc_buffered_amount(a.a), 0);
    cr_assert_eq(zdc_sctp_assoc_shutdown(a.a, zdc_fakeclock_now(&clk)), 0);
    uint8_t x = 1;
    cr_assert_eq(zdc_sctp_assoc_send(a.a, 1, 51, &x, 1, false, zdc_fakeclock_now(&clk)),
                 ZDC_ERR_INVALID_STATE, "no new data after shutdown");
    RUN_UNTIL(&a, &b, a.down && b.down, 300 * SEC);
    cr_assert_eq(b.nm, 50, "all queued data arrived before the shutdown completed");
    for (uint32_t i = 0; i < 50; i++) {
        uint32_t idx;
        cr_assert(msg_ok(&b.m[i], &idx));
        cr_assert_eq(idx, i);
    }
    cr_assert_eq(a.down_reason, ZDC_SCTP_ASSOC_SHUTDOWN);
    cr_assert_eq(b.down_reason, ZDC_SCTP_ASSOC_SHUTDOWN);
    cr_assert(zdc_sctp_assoc_is_closed(a.a) && zdc_sctp_assoc_is_closed(b.a));
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_assoc, abort_mid_transfer_tells_the_peer)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 10 * MSEC;
    pair(&a, &b, &ic, true, true);
    connect_both(&a, &b);
    static uint8_t big[200000];
    cr_assert_eq(zdc_sctp_assoc_send(a.a, 1, 51, big, sizeof big, false, zdc_fakeclock_now(&clk)),
                 0);
    RUN_UNTIL(&a, &b, false, 30 * MSEC);
    cr_assert_eq(b.nm, 0, "still in transfer");
    zdc_sctp_assoc_abort(a.a, zdc_fakeclock_now(&clk));
    cr_assert(zdc_sctp_assoc_is_closed(a.a));
    RUN_UNTIL(&a, &b, b.down, 5 * SEC);
    cr_assert_eq(b.down, 1);
    cr_assert_eq(b.down_reason, ZDC_SCTP_ASSOC_ABORTED);
    cr_assert_eq(a.down, 0, "a local abort raises no callback");
    cr_assert_eq(b.nm, 0, "no partial message delivered");
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_assoc, peer_gone_ends_in_aborted_after_retransmissions)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic, true, true);
    connect_both(&a, &b);
    zdc_sctp_assoc_free(b.a);
    zdc_sctp_assoc_config c;
    zdc_sctp_assoc_config_default(&c);
    c.cb.send = ep_send;
    c.user = &b;
    cr_assert_eq(zdc_sctp_assoc_new(&c, &b.a), 0); /* a fresh B that knows nothing */
    uint8_t x[100] = {0};
    cr_assert_eq(zdc_sctp_assoc_send(a.a, 1, 51, x, sizeof x, false, zdc_fakeclock_now(&clk)), 0);
    RUN_UNTIL(&a, &b, a.down, 3600 * SEC);
    cr_assert_eq(a.down_reason, ZDC_SCTP_ASSOC_ABORTED);
    zdc_sctp_assoc_stats st;
    zdc_sctp_assoc_get_stats(a.a, &st);
    cr_assert_eq(st.t3_expiries, 11, "max_retransmits (10) + 1 expiries");
    zdc_sctp_assoc_get_stats(b.a, &st);
    cr_assert_gt(st.dropped, 0, "B dropped packets with a tag it does not own");
    ep_clear(&a);
    ep_clear(&b);
}

/* ---- hostile input ------------------------------------------------------------------------------
 */

Test(sctp_assoc, garbage_and_forged_packets_are_dropped_and_counted)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic, false, false);
    connect_both(&a, &b);
    rng_state = 99;
    uint8_t p[1200];
    uint64_t now = zdc_fakeclock_now(&clk);
    zdc_sctp_assoc_stats before;
    zdc_sctp_assoc_get_stats(b.a, &before);
    for (int i = 0; i < 2000; i++) {
        size_t len = rnd() % sizeof p;
        for (size_t k = 0; k < len; k++)
            p[k] = (uint8_t)rnd();
        if (i % 2 && len >= 16) {
            /* a well-formed header with the right tag and CRC, random chunks */
            zdc_store_u16(p, 5000);
            zdc_store_u16(p + 2, 5000);
            zdc_store_u32(p + 4, b.a->local_tag);
            memset(p + 8, 0, 4);
            zdc_crc32c_store(p + 8, zdc_crc32c(p, len));
        }
        zdc_sctp_assoc_handle_packet(b.a, p, len, now);
        if (b.down)
            break;
    }
    zdc_sctp_assoc_stats after;
    zdc_sctp_assoc_get_stats(b.a, &after);
    cr_assert_gt(after.dropped, before.dropped + 900);
    cr_assert_leq(b.a->rx_held, (size_t)1024 * 1024 + 256 * 1024, "bounded memory");
    ep_clear(&a);
    ep_clear(&b);
}

/* ---- stream reset (RFC 6525) --------------------------------------------------------------- */

Test(sctp_assoc, reset_after_data_in_flight_then_the_stream_id_is_reused)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = 21;
    ic.loss = 0.10;
    ic.delay_ns = 20 * MSEC;
    pair(&a, &b, &ic, true, true);
    connect_both(&a, &b);
    for (uint32_t i = 0; i < 30; i++) {
        uint8_t *p = make_msg(i, 3000);
        cr_assert_eq(zdc_sctp_assoc_send(a.a, 3, 51, p, 3000, false, zdc_fakeclock_now(&clk)), 0);
        free(p);
    }
    cr_assert_eq(zdc_sctp_assoc_reset_stream(a.a, 3, zdc_fakeclock_now(&clk)), 0);
    uint8_t x[8] = {0};
    cr_assert_eq(zdc_sctp_assoc_send(a.a, 3, 51, x, 8, false, zdc_fakeclock_now(&clk)),
                 ZDC_ERR_INVALID_STATE, "closing stream refuses data");
    RUN_UNTIL(&a, &b, a.ndone == 1 && b.nresets == 1, 120 * SEC);
    cr_assert_eq(b.nresets, 1);
    cr_assert_eq(b.resets[0], 3);
    cr_assert_eq(b.msgs_at_reset, 30, "every message sent before the reset arrived first");
    cr_assert_gt(a.reset_reqs, 0);
    printf("reset: %u requests, %u sent before their data was acknowledged\n", a.reset_reqs,
           a.reset_reqs_early);
    cr_assert_eq(a.ndone, 1);
    cr_assert_eq(a.done[0], 3);
    /* The id again, from SSN 0: delivered, in order. */
    for (uint32_t i = 100; i < 110; i++) {
        uint8_t *p = make_msg(i, 500);
        cr_assert_eq(zdc_sctp_assoc_send(a.a, 3, 51, p, 500, false, zdc_fakeclock_now(&clk)), 0);
        free(p);
    }
    RUN_UNTIL(&a, &b, b.nm == 40, 120 * SEC);
    cr_assert_eq(b.nm, 40);
    for (size_t k = 0; k < 40; k++) {
        uint32_t idx;
        cr_assert(msg_ok(&b.m[k], &idx));
        cr_assert_eq(idx, k < 30 ? k : 100 + (k - 30));
    }
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_assoc, reset_collision_both_sides_close_the_same_stream)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 30 * MSEC;
    pair(&a, &b, &ic, true, true);
    connect_both(&a, &b);
    uint64_t now = zdc_fakeclock_now(&clk);
    cr_assert_eq(zdc_sctp_assoc_send(a.a, 5, 51, "ab", 2, false, now), 0);
    cr_assert_eq(zdc_sctp_assoc_send(b.a, 5, 51, "cd", 2, false, now), 0);
    cr_assert_eq(zdc_sctp_assoc_reset_stream(a.a, 5, now), 0);
    cr_assert_eq(zdc_sctp_assoc_reset_stream(b.a, 5, now), 0);
    cr_assert_eq(zdc_sctp_assoc_reset_stream(a.a, 6, now), 0, "a second stream joins later");
    RUN_UNTIL(&a, &b, a.ndone == 2 && b.ndone == 1 && a.nresets == 1 && b.nresets == 2, 60 * SEC);
    cr_assert_eq(a.ndone, 2);
    cr_assert_eq(b.ndone, 1);
    cr_assert_eq(a.nresets, 1);
    cr_assert_eq(a.resets[0], 5);
    cr_assert_eq(b.nresets, 2);
    cr_assert_eq(a.nm, 1);
    cr_assert_eq(b.nm, 1);
    cr_assert(zdc_sctp_assoc_is_up(a.a) && zdc_sctp_assoc_is_up(b.a));
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_assoc, pending_resets_are_bounded)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 30 * MSEC;
    pair(&a, &b, &ic, true, true);
    connect_both(&a, &b);
    uint64_t now = zdc_fakeclock_now(&clk);
    int rv = 0;
    unsigned ok = 0;
    for (uint16_t s = 0; s < 200 && rv == 0; s++)
        if ((rv = zdc_sctp_assoc_reset_stream(a.a, s, now)) == 0)
            ok++;
    cr_assert_eq(rv, ZDC_ERR_QUEUE_FULL);
    cr_assert_geq(ok, ZDC_SCTP_MAX_PENDING_RESETS);
    cr_assert_leq(ok, 2 * ZDC_SCTP_MAX_PENDING_RESETS);
    cr_assert_eq(zdc_sctp_assoc_reset_stream(a.a, 2000, now), ZDC_ERR_INVALID_PARAMETER);
    RUN_UNTIL(&a, &b, a.ndone == ok, 60 * SEC);
    cr_assert_eq(a.ndone, ok, "every accepted reset completes");
    cr_assert_eq(b.nresets, ok);
    ep_clear(&a);
    ep_clear(&b);
}

/* ---- partial reliability (RFC 3758) ------------------------------------------------------------
 */

Test(sctp_assoc, partially_reliable_streams_never_stall_nor_corrupt_under_loss)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = 31;
    ic.loss = 0.10;
    ic.reorder = 0.05;
    ic.delay_ns = 30 * MSEC;
    pair(&a, &b, &ic, true, true);
    connect_both(&a, &b);
    rng_state = 31;
    enum { N = 400 };
    for (uint32_t i = 0; i < N; i++) {
        size_t len = 8 + rnd() % 3000;
        uint8_t *p = make_msg(i, len);
        zdc_sctp_assoc_send_opts o;
        uint16_t stream;
        if (i % 2) {
            o = (zdc_sctp_assoc_send_opts){
                .unordered = true, .pr_policy = ZDC_SCTP_ASSOC_PR_RTX, .pr_value = 0};
            stream = 10;
        } else {
            o = (zdc_sctp_assoc_send_opts){.pr_policy = ZDC_SCTP_ASSOC_PR_TTL, .pr_value = 1500};
            stream = 11;
        }
        cr_assert_eq(zdc_sctp_assoc_send_ex(a.a, stream, 53, p, len, &o, zdc_fakeclock_now(&clk)),
                     0);
        free(p);
        if (i % 8 == 0)
            RUN_UNTIL(&a, &b, false, 2 * MSEC);
    }
    uint8_t *last = make_msg(N, 100);
    cr_assert_eq(zdc_sctp_assoc_send(a.a, 12, 53, last, 100, false, zdc_fakeclock_now(&clk)), 0);
    free(last);
    bool got_last = false;
    RUN_UNTIL(&a, &b,
              (got_last = b.nm && b.m[b.nm - 1].stream == 12) &&
                  zdc_sctp_assoc_buffered_amount(a.a) == 0,
              120 * SEC);
    cr_assert_eq(zdc_sctp_assoc_buffered_amount(a.a), 0, "nothing stalls");
    bool *seen = calloc(N + 1, 1);
    int64_t last_ttl = -1;
    size_t got12 = 0, got10 = 0, got11 = 0;
    for (size_t k = 0; k < b.nm; k++) {
        uint32_t idx;
        cr_assert(msg_ok(&b.m[k], &idx), "message intact");
        cr_assert_leq(idx, N);
        cr_assert_not(seen[idx], "duplicate %u", idx);
        seen[idx] = true;
        if (b.m[k].stream == 11) {
            cr_assert_gt((int64_t)idx, last_ttl, "ordered TTL stream keeps its order");
            last_ttl = idx;
            got11++;
        }
        got10 += b.m[k].stream == 10;
        got12 += b.m[k].stream == 12;
    }
    cr_log_info("PR: %zu/%d rtx-0 and %zu/%d ttl-1.5s messages delivered", got10, N / 2, got11,
                N / 2);
    {
        zdc_sctp_assoc_stats st;
        zdc_sctp_assoc_get_stats(a.a, &st);
        cr_log_info("t=%.2f s, pkts %llu, rtx %llu fast %llu t3 %llu cwnd %u",
                    (double)(zdc_fakeclock_now(&clk) - SEC) / 1e9,
                    (unsigned long long)st.packets_out, (unsigned long long)st.retransmits,
                    (unsigned long long)st.fast_retransmits, (unsigned long long)st.t3_expiries,
                    st.cwnd);
    }
    cr_assert_eq(got12, 1, "the reliable message after them arrived");
    cr_assert_lt(got10, N / 2, "some unreliable messages were given up (10 %% loss)");
    cr_assert_gt(got10, N / 4, "most unreliable messages still arrived");
    cr_assert_gt(got11, 0, "lifetime-limited messages arrive while they live");
    free(seen);
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_assoc, expired_messages_never_sent_leave_no_hole_in_the_stream)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 100 * MSEC;
    pair(&a, &b, &ic, true, true);
    connect_both(&a, &b);
    zdc_sctp_assoc_send_opts o = {.pr_policy = ZDC_SCTP_ASSOC_PR_TTL, .pr_value = 10};
    for (uint32_t i = 0; i < 100; i++) {
        uint8_t *p = make_msg(i, 3000);
        cr_assert_eq(zdc_sctp_assoc_send_ex(a.a, 1, 53, p, 3000, &o, zdc_fakeclock_now(&clk)), 0);
        free(p);
    }
    uint8_t *r = make_msg(1000, 50);
    cr_assert_eq(zdc_sctp_assoc_send(a.a, 1, 53, r, 50, false, zdc_fakeclock_now(&clk)), 0);
    free(r);
    RUN_UNTIL(&a, &b, b.nm && b.m[b.nm - 1].len == 50, 30 * SEC);
    cr_assert(b.nm > 0 && b.m[b.nm - 1].len == 50, "the reliable message arrived");
    cr_assert_lt(b.nm, 101, "expired messages were dropped");
    int64_t prev = -1;
    for (size_t k = 0; k < b.nm; k++) {
        uint32_t idx;
        cr_assert(msg_ok(&b.m[k], &idx));
        cr_assert_gt((int64_t)idx, prev);
        prev = idx;
    }
    ep_clear(&a);
    ep_clear(&b);
}
