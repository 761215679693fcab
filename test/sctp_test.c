/* Tests for the SCTP stage: two usrsctp associations in one process wired back to back
 * through in-memory packet queues. A pump loop moves packets (optionally dropping some with
 * a seeded RNG, so failures replay) and advances usrsctp's timer wheel by a fake 10 ms per
 * round; only usrsctp's RTT samples and PR-SCTP lifetimes see the real clock.
 * Criterion runs each test in its own process, so each starts with a fresh usrsctp. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sctp.h"
#include <usrsctp.h>

/* ---- harness ---------------------------------------------------------------------------- */

struct pkt {
    uint8_t *p;
    size_t len;
};

struct msg {
    uint16_t stream;
    uint32_t ppid;
    uint8_t *p;
    size_t len;
    unsigned flags;
};

struct end {
    zdc_sctp *s;
    struct pkt *q; /* packets this end sent, not yet delivered */
    size_t nq, capq;
    struct msg *m; /* messages received */
    size_t nm, capm;
    int up, down, down_reason;
    uint16_t in_streams, out_streams;
    uint16_t resets[64];
    size_t nresets;
    int too_large;
    size_t buffered_calls, last_buffered;
    /* optional behaviours of the callbacks */
    bool echo;          /* send every received message back on the same stream */
    bool del_on_reset;  /* zdc_sctp_free(self) from on_stream_reset */
    bool send_from_out; /* (never set) */
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned drop_pct;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cb_send(void *user, const uint8_t *p, size_t len)
{
    struct end *e = user;
    if (e->nq == e->capq) {
        e->capq = e->capq ? e->capq * 2 : 64;
        e->q = realloc(e->q, e->capq * sizeof *e->q);
        cr_assert_not_null(e->q);
    }
    uint8_t *c = malloc(len);
    cr_assert_not_null(c);
    memcpy(c, p, len);
    e->q[e->nq++] = (struct pkt){c, len};
    return 0;
}

static void cb_up(void *user, uint16_t in, uint16_t out)
{
    struct end *e = user;
    e->up++;
    e->in_streams = in;
    e->out_streams = out;
}

static void cb_down(void *user, int reason)
{
    struct end *e = user;
    e->down++;
    e->down_reason = reason;
}

static void cb_message(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                       unsigned flags)
{
    struct end *e = user;
    if (e->nm == e->capm) {
        e->capm = e->capm ? e->capm * 2 : 64;
        e->m = realloc(e->m, e->capm * sizeof *e->m);
        cr_assert_not_null(e->m);
    }
    uint8_t *c = malloc(len ? len : 1);
    cr_assert_not_null(c);
    memcpy(c, p, len);
    e->m[e->nm++] = (struct msg){stream, ppid, c, len, flags};
    if (getenv("SCTP_TEST_DEBUG"))
        fprintf(stderr, "%p msg stream %u ppid %u len %zu flags %u\n", (void *)e, stream, ppid, len,
                flags);
    if (e->echo) {
        zdc_sctp_send_opts o = {.unordered = flags & ZDC_SCTP_MSG_UNORDERED};
        cr_assert_eq(zdc_sctp_send(e->s, stream, ppid + 1, p, len, &o), 0);
    }
}

static void cb_too_large(void *user, uint16_t stream, uint32_t ppid)
{
    struct end *e = user;
    e->too_large++;
}

static void cb_reset(void *user, uint16_t stream)
{
    struct end *e = user;
    if (getenv("SCTP_TEST_DEBUG"))
        fprintf(stderr, "%p reset %u\n", (void *)e, stream);
    if (e->nresets < 64)
        e->resets[e->nresets++] = stream;
    if (e->del_on_reset) {
        zdc_sctp_free(e->s);
        e->s = NULL;
    }
}

static void cb_buffered(void *user, size_t amount)
{
    struct end *e = user;
    e->buffered_calls++;
    e->last_buffered = amount;
}

static void end_config(struct end *e, zdc_sctp_config *c)
{
    zdc_sctp_config_default(c);
    c->native = false; /* the usrsctp wrapper (native is the default) */
    c->cb = (zdc_sctp_callbacks){.send = cb_send,
                                 .on_up = cb_up,
                                 .on_down = cb_down,
                                 .on_message = cb_message,
                                 .on_message_too_large = cb_too_large,
                                 .on_stream_reset = cb_reset,
                                 .on_buffered_amount = cb_buffered};
    c->user = e;
}

static void end_clear_msgs(struct end *e)
{
    for (size_t i = 0; i < e->nm; i++)
        free(e->m[i].p);
    e->nm = 0;
}

static void end_free(struct end *e)
{
    zdc_sctp_free(e->s);
    e->s = NULL;
    for (size_t i = 0; i < e->nq; i++)
        free(e->q[i].p);
    free(e->q);
    end_clear_msgs(e);
    free(e->m);
    memset(e, 0, sizeof *e);
}

/* Delivers what `from` sent to `to` (dropping drop_pct % of packets). */
static size_t deliver(struct end *from, struct end *to)
{
    struct pkt *q = from->q;
    size_t n = from->nq;
    from->q = NULL;
    from->nq = from->capq = 0;
    for (size_t i = 0; i < n; i++) {
        bool drop = drop_pct && next_rand() % 100 < drop_pct;
        if (!drop && to->s != NULL)
            zdc_sctp_handle_packet(to->s, q[i].p, q[i].len);
        free(q[i].p);
    }
    free(q);
    return n;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One round: both directions, then usrsctp's timers. usrsctp mixes its tick-driven timer wheel
 * with real-clock checks (a T3 retransmission only marks chunks older than the smoothed RTO
 * measured on the real clock), so the clock here is the real monotonic one. When no packet
 * moved, the pump waits for the next tick deadline like an engine loop would (<= 10 ms). */
static size_t pump(struct end *a, struct end *b)
{
    size_t n = deliver(a, b) + deliver(b, a);
    uint64_t dl;
    if (n == 0 && zdc_sctp_global_next_tick(&dl)) {
        uint64_t now = mono_ns();
        if (dl > now) {
            uint64_t w = dl - now;
            struct timespec ts = {(time_t)(w / 1000000000ull), (long)(w % 1000000000ull)};
            nanosleep(&ts, NULL);
        }
    }
    zdc_sctp_global_tick(mono_ns());
    return n;
}

/* Pumps until `cond` holds, for at most `ms` milliseconds of real time. */
#define PUMP_UNTIL(a, b, cond, ms)                                                                 \
    do {                                                                                           \
        uint64_t end_ = mono_ns() + (uint64_t)(ms)*1000000ull;                                     \
        while (!(cond) && mono_ns() < end_)                                                        \
            pump(a, b);                                                                            \
        cr_assert(cond, "not reached within %d ms: %s", (int)(ms), #cond);                         \
    } while (0)

static void connect_pair_cfg(struct end *a, struct end *b, size_t b_max_msg,
                             void (*tweak)(zdc_sctp_config *))
{
    zdc_sctp_config ca, cb;
    end_config(a, &ca);
    end_config(b, &cb);
    if (tweak) {
        tweak(&ca);
        tweak(&cb);
    }
    if (b_max_msg)
        cb.max_message_size = b_max_msg;
    cr_assert_eq(zdc_sctp_new(&ca, &a->s), 0);
    cr_assert_eq(zdc_sctp_new(&cb, &b->s), 0);
    zdc_sctp_global_tick(mono_ns());
    /* WebRTC: both sides connect (simultaneous open). */
    cr_assert_eq(zdc_sctp_connect(a->s), 0);
    cr_assert_eq(zdc_sctp_connect(b->s), 0);
    PUMP_UNTIL(a, b, a->up && b->up, 1000);
    cr_assert_eq(a->up, 1);
    cr_assert_eq(b->up, 1);
}

static void connect_pair(struct end *a, struct end *b, size_t b_max_msg)
{
    connect_pair_cfg(a, b, b_max_msg, NULL);
}

/* Message content: deterministic bytes from (seed, index) so the receiver can verify. */
static void fill(uint8_t *p, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

static bool check(const uint8_t *p, size_t len, uint32_t seed)
{
    uint8_t *e = malloc(len ? len : 1);
    fill(e, len, seed);
    bool ok = memcmp(e, p, len) == 0;
    free(e);
    return ok;
}

/* Tagged message: 4-byte index + 4-byte length header, content from the index. */
static uint8_t *tagged(uint32_t idx, size_t len)
{
    uint8_t *p = malloc(len);
    cr_assert(len >= 8);
    fill(p, len, idx);
    memcpy(p, &idx, 4);
    uint32_t l = (uint32_t)len;
    memcpy(p + 4, &l, 4);
    return p;
}

static bool tagged_ok(const struct msg *m, uint32_t *idx)
{
    uint32_t l;
    if (m->len < 8)
        return false;
    memcpy(idx, m->p, 4);
    memcpy(&l, m->p + 4, 4);
    if (l != m->len)
        return false;
    uint8_t *e = malloc(m->len);
    fill(e, m->len, *idx);
    bool ok = memcmp(e + 8, m->p + 8, m->len - 8) == 0;
    free(e);
    return ok;
}

/* ---- tests ------------------------------------------------------------------------------ */

Test(sctp, rejects_bad_config)
{
    zdc_sctp_config c;
    zdc_sctp *s = (zdc_sctp *)1;
    zdc_sctp_config_default(&c);
    c.native = false; /* the usrsctp wrapper (native is the default) */
    cr_assert_eq(zdc_sctp_new(&c, &s), ZDC_ERR_INVALID_PARAMETER); /* no send callback */
    c.cb.send = cb_send;
    c.streams = 0;
    cr_assert_eq(zdc_sctp_new(&c, &s), ZDC_ERR_INVALID_PARAMETER);
    zdc_sctp_config_default(&c);
    c.native = false; /* the usrsctp wrapper (native is the default) */
    c.cb.send = cb_send;
    c.max_send_size = c.sndbuf + 1;
    cr_assert_eq(zdc_sctp_new(&c, &s), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_sctp_new(NULL, &s), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_sctp_global_refs(), 0);
}

Test(sctp, state_errors_before_connect)
{
    struct end a = {0};
    zdc_sctp_config c;
    end_config(&a, &c);
    cr_assert_eq(zdc_sctp_new(&c, &a.s), 0);
    uint8_t b[4] = {1, 2, 3, 4};
    cr_assert_eq(zdc_sctp_send(a.s, 0, 51, b, 4, NULL), ZDC_ERR_INVALID_STATE);
    cr_assert_eq(zdc_sctp_reset_stream(a.s, 0), ZDC_ERR_INVALID_STATE);
    cr_assert_eq(zdc_sctp_connect(a.s), 0);
    cr_assert_eq(zdc_sctp_connect(a.s), ZDC_ERR_INVALID_STATE);
    cr_assert_gt(a.nq, 0, "INIT was sent");
    zdc_sctp_close(a.s);
    cr_assert_eq(zdc_sctp_send(a.s, 0, 51, b, 4, NULL), ZDC_ERR_CLOSED);
    cr_assert_eq(zdc_sctp_handle_packet(a.s, b, 4), ZDC_ERR_CLOSED);
    end_free(&a);
    cr_assert_eq(zdc_sctp_global_refs(), 0);
}

Test(sctp, simultaneous_open_and_messages_both_ways)
{
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 0);
    cr_assert_eq(a.out_streams, ZDC_SCTP_DEFAULT_STREAMS);
    cr_assert_eq(a.in_streams, ZDC_SCTP_DEFAULT_STREAMS);
    cr_assert_eq(b.out_streams, ZDC_SCTP_DEFAULT_STREAMS);
    cr_assert(zdc_sctp_is_up(a.s));

    static const size_t sizes[] = {1, 1200, 65536, 262144};
    uint8_t *buf = malloc(262144);
    uint32_t seed = 0;
    /* ordered on stream 1, unordered on stream 2, both directions */
    for (int unordered = 0; unordered < 2; unordered++) {
        for (size_t i = 0; i < 4; i++, seed++) {
            zdc_sctp_send_opts o = {.unordered = unordered};
            fill(buf, sizes[i], seed);
            cr_assert_eq(zdc_sctp_send(a.s, 1 + unordered, 51, buf, sizes[i], &o), 0);
            fill(buf, sizes[i], seed + 100);
            cr_assert_eq(zdc_sctp_send(b.s, 1 + unordered, 53, buf, sizes[i], &o), 0);
        }
    }
    PUMP_UNTIL(&a, &b, a.nm == 8 && b.nm == 8, 2000);
    /* Each message is identified by (stream, size): seed = group * 4 + size index. */
    struct end *rx[2] = {&b, &a};
    for (int side = 0; side < 2; side++) {
        size_t next_ordered = 0;
        bool seen[8] = {0};
        for (size_t k = 0; k < 8; k++) {
            struct msg *m = &rx[side]->m[k];
            size_t idx = 0;
            while (idx < 4 && sizes[idx] != m->len)
                idx++;
            cr_assert_lt(idx, 4, "unexpected size %zu", m->len);
            cr_assert(m->stream == 1 || m->stream == 2);
            size_t group = m->stream - 1u;
            cr_assert_eq(!!(m->flags & ZDC_SCTP_MSG_UNORDERED), group);
            cr_assert_eq(m->ppid, side == 0 ? 51u : 53u);
            uint32_t sd = (uint32_t)(group * 4 + idx) + (side == 0 ? 0 : 100);
            cr_assert(check(m->p, m->len, sd), "content of message %zu", k);
            cr_assert_not(seen[group * 4 + idx]);
            seen[group * 4 + idx] = true;
            if (group == 0) /* ordered stream: send order */
                cr_assert_eq(idx, next_ordered++);
        }
    }
    zdc_sctp_stats st;
    zdc_sctp_get_stats(a.s, &st);
    cr_assert_leq(st.max_packet_out, ZDC_SCTP_DEFAULT_MTU, "packet of %zu bytes",
                  st.max_packet_out);
    cr_assert_eq(st.messages_out, 8);
    cr_assert_eq(st.messages_in, 8);
    free(buf);
    end_free(&a);
    end_free(&b);
}

Test(sctp, send_limits_are_atomic)
{
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 0);
    uint8_t *buf = calloc(1, ZDC_SCTP_DEFAULT_MAX_MESSAGE + 1);
    size_t nq0 = a.nq;
    cr_assert_eq(zdc_sctp_send(a.s, 0, 53, buf, ZDC_SCTP_DEFAULT_MAX_MESSAGE + 1, NULL),
                 ZDC_ERR_TOO_LARGE);
    cr_assert_eq(zdc_sctp_send(a.s, 0, 53, buf, 0, NULL), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_sctp_send(a.s, ZDC_SCTP_DEFAULT_STREAMS, 53, buf, 1, NULL),
                 ZDC_ERR_INVALID_PARAMETER);
    zdc_sctp_send_opts bad = {.pr_policy = 7};
    cr_assert_eq(zdc_sctp_send(a.s, 0, 53, buf, 1, &bad), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_sctp_buffered_amount(a.s), 0);
    cr_assert_eq(a.nq, nq0, "nothing was sent");

    /* Fill the 1 MiB send buffer without pumping until it refuses. */
    uint32_t sent = 0;
    int rv;
    while ((rv = zdc_sctp_send(a.s, 3, 53, buf, ZDC_SCTP_DEFAULT_MAX_MESSAGE, NULL)) == 0) {
        sent++;
        cr_assert_lt(sent, 64);
        fill(buf, ZDC_SCTP_DEFAULT_MAX_MESSAGE, sent);
    }
    cr_assert_eq(rv, ZDC_ERR_AGAIN);
    cr_assert_geq(sent, 2);
    size_t queued = zdc_sctp_buffered_amount(a.s);
    cr_assert_gt(queued, (size_t)(sent - 1) * ZDC_SCTP_DEFAULT_MAX_MESSAGE / 2);
    PUMP_UNTIL(&a, &b, b.nm == sent, 5000);
    /* Every accepted message arrived whole and in order; the refused one never did. */
    for (uint32_t i = 0; i < sent; i++) {
        cr_assert_eq(b.m[i].len, ZDC_SCTP_DEFAULT_MAX_MESSAGE);
        if (i == 0)
            continue; /* the first message was the zero-filled buffer */
        cr_assert(check(b.m[i].p, b.m[i].len, i), "message %u intact", i);
    }
    PUMP_UNTIL(&a, &b, zdc_sctp_buffered_amount(a.s) == 0, 1000);
    cr_assert_gt(a.buffered_calls, 0);
    cr_assert_lt(a.last_buffered, queued);
    pump(&a, &b);
    cr_assert_eq(b.nm, sent, "the refused message was not sent");
    free(buf);
    end_free(&a);
    end_free(&b);
}

Test(sctp, oversize_incoming_message_is_dropped_and_reported)
{
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 10000);
    uint8_t *buf = malloc(30000);
    fill(buf, 30000, 1);
    cr_assert_eq(zdc_sctp_send(a.s, 4, 53, buf, 30000, NULL), 0);
    fill(buf, 10000, 2);
    cr_assert_eq(zdc_sctp_send(a.s, 4, 53, buf, 10000, NULL), 0);
    PUMP_UNTIL(&a, &b, b.nm == 1, 1000);
    cr_assert_eq(b.too_large, 1);
    cr_assert_eq(b.m[0].len, 10000);
    cr_assert(check(b.m[0].p, 10000, 2));
    free(buf);
    end_free(&a);
    end_free(&b);
}

Test(sctp, reliable_ordered_survives_ten_percent_loss)
{
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 0);
    drop_pct = 10;
    rng = 12345;
    enum { N = 300 };
    uint32_t queued = 0;
    uint64_t end = mono_ns() + 20000000000ull; /* 20 s bound; typically well under 1 s */
    while (mono_ns() < end && b.nm < N) {
        while (queued < N) {
            size_t len = 8 + next_rand() % 5000;
            uint8_t *p = tagged(queued, len);
            int rv = zdc_sctp_send(a.s, 7, 53, p, len, NULL);
            free(p);
            if (rv == ZDC_ERR_AGAIN)
                break;
            cr_assert_eq(rv, 0);
            queued++;
        }
        size_t moved = pump(&a, &b);
        if (getenv("SCTP_TEST_DEBUG") && moved == 0) {
            struct sctpstat ss;
            usrsctp_get_stat(&ss);
            fprintf(stderr,
                    "queued %u recv %zu moved %zu buffered %zu t3 %u retrans %u fr %u sack %u hb "
                    "%u down %d/%d\n",
                    queued, b.nm, moved, zdc_sctp_buffered_amount(a.s), ss.sctps_timodata,
                    ss.sctps_sendretransdata, ss.sctps_sendfastretrans, ss.sctps_timosack,
                    ss.sctps_timoheartbeat, a.down, b.down);
        }
    }
    cr_assert_eq(b.nm, N, "received %zu of %d", b.nm, N);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t idx;
        cr_assert(tagged_ok(&b.m[i], &idx), "message %u intact", i);
        cr_assert_eq(idx, i, "in order");
        cr_assert_eq(b.m[i].stream, 7);
    }
    end_free(&a);
    end_free(&b);
}

/* Unreliable traffic under loss: whatever arrives is intact and not duplicated, ordered-TTL
 * arrivals keep their order, nothing stalls — a reliable message sent afterwards arrives. */
Test(sctp, partial_reliability_under_loss_neither_stalls_nor_corrupts)
{
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 0);
    drop_pct = 10;
    rng = 777;
    enum { N = 400 };
    for (uint32_t i = 0; i < N; i++) {
        size_t len = 8 + next_rand() % 3000;
        uint8_t *p = tagged(i, len);
        zdc_sctp_send_opts o;
        uint16_t stream;
        if (i % 2) {
            o = (zdc_sctp_send_opts){
                .unordered = true, .pr_policy = ZDC_SCTP_PR_RTX, .pr_value = 0};
            stream = 10;
        } else {
            o = (zdc_sctp_send_opts){.pr_policy = ZDC_SCTP_PR_TTL, .pr_value = 5};
            stream = 11;
        }
        int rv;
        while ((rv = zdc_sctp_send(a.s, stream, 53, p, len, &o)) == ZDC_ERR_AGAIN)
            pump(&a, &b);
        cr_assert_eq(rv, 0);
        free(p);
        if (i % 16 == 0)
            pump(&a, &b);
    }
    uint8_t *last = tagged(N, 100);
    cr_assert_eq(zdc_sctp_send(a.s, 12, 53, last, 100, NULL), 0);
    free(last);
    bool got_last = false;
    uint64_t end = mono_ns() + 20000000000ull;
    while (mono_ns() < end && !got_last) {
        pump(&a, &b);
        for (size_t i = 0; i < b.nm; i++)
            got_last |= b.m[i].stream == 12;
    }
    cr_assert(got_last, "reliable message after unreliable ones did not stall");
    /* The stream scheduler is round-robin, so stream 12 may overtake: drain the rest. */
    PUMP_UNTIL(&a, &b, zdc_sctp_buffered_amount(a.s) == 0 && a.nq == 0 && b.nq == 0, 20000);
    bool *seen = calloc(N + 1, 1);
    int64_t last_ttl = -1;
    size_t rtx0 = 0, ttl = 0;
    for (size_t i = 0; i < b.nm; i++) {
        uint32_t idx;
        cr_assert(tagged_ok(&b.m[i], &idx), "message intact");
        cr_assert_leq(idx, N);
        cr_assert_not(seen[idx], "duplicate %u", idx);
        seen[idx] = true;
        if (b.m[i].stream == 11) {
            cr_assert_gt((int64_t)idx, last_ttl, "ordered TTL stream keeps order");
            last_ttl = idx;
        }
        if (b.m[i].stream == 10)
            rtx0++;
        if (b.m[i].stream == 11)
            ttl++;
    }
    if (getenv("SCTP_TEST_DEBUG"))
        fprintf(stderr, "rtx0 %zu ttl %zu of %d each\n", rtx0, ttl, N / 2);
    /* Messages sent once (rtx 0) arrive unless one of their 1-3 packets was lost: with 10 %
     * loss well over half must arrive. TTL messages may also expire while still queued. */
    cr_assert_gt(rtx0, N / 2 * 6 / 10, "only %zu of %d rtx=0 messages arrived", rtx0, N / 2);
    /* ...and some were really abandoned: the stream was not silently reliable. */
    cr_assert_lt(rtx0, N / 2, "every rtx=0 message arrived despite 10 %% loss");
    free(seen);
    end_free(&a);
    end_free(&b);
}

Test(sctp, stream_reset_is_seen_by_peer)
{
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 0);
    uint8_t x = 42;
    cr_assert_eq(zdc_sctp_send(a.s, 5, 51, &x, 1, NULL), 0);
    cr_assert_eq(zdc_sctp_reset_stream(a.s, 5), 0);
    cr_assert_eq(zdc_sctp_reset_stream(a.s, 6), 0); /* queued behind the first */
    PUMP_UNTIL(&a, &b, b.nresets == 2, 1000);
    /* usrsctp holds the reset of stream 5 until its queued data is sent, so the two may
     * complete in either order. */
    cr_assert((b.resets[0] == 5 && b.resets[1] == 6) || (b.resets[0] == 6 && b.resets[1] == 5));
    cr_assert_eq(b.nm, 1, "data before the reset was delivered");
    /* The remote closes its side too (what a data channel does). */
    cr_assert_eq(zdc_sctp_reset_stream(b.s, 5), 0);
    PUMP_UNTIL(&a, &b, a.nresets == 1, 1000);
    cr_assert_eq(a.resets[0], 5);
    /* The stream is usable again after the reset (RFC 6525 §5.2.2 resets the SSN). */
    cr_assert_eq(zdc_sctp_send(a.s, 5, 51, &x, 1, NULL), 0);
    PUMP_UNTIL(&a, &b, b.nm == 2, 1000);
    end_free(&a);
    end_free(&b);
}

Test(sctp, close_is_seen_by_peer_and_silences_local)
{
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 0);
    zdc_sctp_close(a.s);
    cr_assert_not(zdc_sctp_is_up(a.s));
    PUMP_UNTIL(&a, &b, b.down == 1, 100);
    cr_assert_eq(b.down_reason, ZDC_SCTP_DOWN_ABORTED);
    cr_assert_eq(a.down, 0, "no callback after close");
    uint8_t x = 1;
    cr_assert_eq(zdc_sctp_send(b.s, 0, 51, &x, 1, NULL), ZDC_ERR_INVALID_STATE);
    for (int i = 0; i < 50; i++)
        pump(&a, &b);
    cr_assert_eq(a.down, 0);
    cr_assert_eq(b.down, 1, "on_down raised once");
    end_free(&a);
    end_free(&b);
}

static void fast_failure(zdc_sctp_config *c)
{
    c->rto_initial_ms = 100;
    c->rto_min_ms = 50;
    c->rto_max_ms = 100;
    c->max_retransmits = 3;
}

Test(sctp, peer_silence_ends_association_by_timeout)
{
    struct end a = {0}, b = {0};
    connect_pair_cfg(&a, &b, 0, fast_failure);
    uint8_t x = 1;
    cr_assert_eq(zdc_sctp_send(a.s, 0, 51, &x, 1, NULL), 0);
    drop_pct = 100; /* the path dies */
    /* RTO <= 100 ms, 3 retransmissions: under a second (bound 5 s). */
    uint64_t t0 = mono_ns();
    PUMP_UNTIL(&a, &b, a.down == 1, 5000);
    cr_assert_gt(mono_ns() - t0, 150000000ull, "failure needs several RTOs, not none");
    cr_assert_eq(a.down_reason, ZDC_SCTP_DOWN_ABORTED);
    end_free(&a);
    end_free(&b);
}

Test(sctp, callbacks_may_send_and_delete)
{
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 0);
    b.echo = true;
    uint8_t buf[3000];
    fill(buf, sizeof buf, 9);
    cr_assert_eq(zdc_sctp_send(a.s, 2, 51, buf, sizeof buf, NULL), 0);
    PUMP_UNTIL(&a, &b, a.nm == 1, 1000);
    cr_assert_eq(a.m[0].ppid, 52);
    cr_assert(check(a.m[0].p, sizeof buf, 9));
    /* b deletes itself from inside its own callback */
    b.del_on_reset = true;
    cr_assert_eq(zdc_sctp_reset_stream(a.s, 2), 0);
    PUMP_UNTIL(&a, &b, b.s == NULL, 1000);
    cr_assert_eq(zdc_sctp_global_refs(), 1);
    end_free(&a);
    end_free(&b);
}

Test(sctp, many_cycles_release_everything)
{
    for (int i = 0; i < 40; i++) {
        struct end a = {0}, b = {0};
        connect_pair(&a, &b, 0);
        uint8_t buf[2000];
        fill(buf, sizeof buf, (uint32_t)i);
        cr_assert_eq(zdc_sctp_send(a.s, 1, 53, buf, sizeof buf, NULL), 0);
        PUMP_UNTIL(&a, &b, b.nm == 1, 1000);
        cr_assert(check(b.m[0].p, sizeof buf, (uint32_t)i));
        if (i % 2)
            zdc_sctp_close(b.s); /* half the time an explicit close, half only del */
        end_free(&a);
        end_free(&b);
    }
    cr_assert_eq(zdc_sctp_global_refs(), 0);
    /* usrsctp frees closed endpoints from its timers; then it can shut down completely,
     * which proves no association or endpoint was left behind. */
    uint64_t dl;
    int rv = ZDC_ERR_AGAIN;
    struct end none = {0};
    uint64_t end = mono_ns() + 5000000000ull;
    while (rv == ZDC_ERR_AGAIN && mono_ns() < end) {
        pump(&none, &none);
        rv = zdc_sctp_global_shutdown();
    }
    cr_assert_eq(rv, 0);
    cr_assert_not(zdc_sctp_global_next_tick(&dl));
    zdc_sctp_config c;
    struct end e = {0};
    end_config(&e, &c);
    cr_assert_eq(zdc_sctp_new(&c, &e.s), ZDC_ERR_INVALID_STATE);
}

Test(sctp, next_tick_cadence)
{
    uint64_t dl = 0;
    cr_assert_not(zdc_sctp_global_next_tick(&dl), "nothing to drive before any association");
    struct end a = {0};
    zdc_sctp_config c;
    end_config(&a, &c);
    cr_assert_eq(zdc_sctp_new(&c, &a.s), 0);
    cr_assert(zdc_sctp_global_next_tick(&dl));
    zdc_sctp_global_tick(5000000000ull);
    cr_assert(zdc_sctp_global_next_tick(&dl));
    cr_assert_eq(dl, 5000000000ull + ZDC_SCTP_TICK_NS);
    zdc_sctp_global_tick(5000000000ull + 2500000ull); /* 2.5 ms: 2 ms run, 0.5 carried */
    cr_assert(zdc_sctp_global_next_tick(&dl));
    cr_assert_eq(dl, 5000000000ull + 2000000ull + ZDC_SCTP_TICK_NS);
    end_free(&a);
}

#include <dirent.h>

/* usrsctp names its threads "SCTP timer", "SCTP/IP4 rcv", "SCTP iterator", ... Counts this
 * process's threads whose name starts with "SCTP", and among them the iterator. */
static int count_sctp_threads(int *iterators)
{
    int n = 0;
    *iterators = 0;
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], comm[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(comm, sizeof comm, f) && strncmp(comm, "SCTP", 4) == 0) {
            n++;
            if (strncmp(comm, "SCTP iterator", 13) == 0)
                (*iterators)++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* usrsctp_init_nothreads starts no timer or receive thread, so every callback runs on the
 * caller's thread. usrsctp 0.9.5 still starts its "SCTP iterator" thread (sctplab/usrsctp
 * PR #472 was never merged); it only runs ASCONF address iterations, which zdc disables. */
Test(sctp, usrsctp_starts_no_timer_or_receive_thread)
{
    int it;
    cr_assert_eq(count_sctp_threads(&it), 0);
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 0);
    cr_assert_eq(count_sctp_threads(&it), it, "only the iterator");
    cr_assert_leq(it, 1);
    end_free(&a);
    end_free(&b);
}

/* One side's INIT arrives before that side called connect (its DTLS finished later): the
 * association still comes up at once, without waiting for an INIT retransmission (RTO 1 s). */
Test(sctp, init_before_local_connect_joins_without_retransmission)
{
    struct end a = {0}, b = {0};
    zdc_sctp_config ca, cb;
    end_config(&a, &ca);
    end_config(&b, &cb);
    cr_assert_eq(zdc_sctp_new(&ca, &a.s), 0);
    cr_assert_eq(zdc_sctp_new(&cb, &b.s), 0);
    zdc_sctp_global_tick(mono_ns());
    cr_assert_eq(zdc_sctp_connect(a.s), 0);
    uint64_t t0 = mono_ns();
    PUMP_UNTIL(&a, &b, a.up && b.up, 3000);
    cr_assert_lt(mono_ns() - t0, 500000000ull, "setup waited for a retransmission");
    cr_assert_eq(zdc_sctp_connect(b.s), ZDC_ERR_INVALID_STATE, "already connecting");
    end_free(&a);
    end_free(&b);
}

/* zdc_sctp_pause_receive (issue 10, finding 1): while the receiver takes nothing, its window
 * closes and the sender's buffer fills (send answers AGAIN) instead of the receiver's memory
 * growing; resumed, everything arrives in order, intact. */
Test(sctp, paused_receiver_closes_the_window_and_resumes_intact)
{
    enum { MSG = 16384 };
    struct end a = {0}, b = {0};
    connect_pair(&a, &b, 0);
    zdc_sctp_pause_receive(b.s, true);
    zdc_sctp_send_opts o = {0};
    uint32_t sent = 0;
    int rv = 0;
    uint64_t end = mono_ns() + 3000ull * 1000000ull;
    while (rv != ZDC_ERR_AGAIN && mono_ns() < end) {
        uint8_t *p = tagged(sent, MSG);
        rv = zdc_sctp_send(a.s, 1, 53, p, MSG, &o);
        free(p);
        if (rv == 0)
            sent++;
        else
            cr_assert_eq(rv, ZDC_ERR_AGAIN);
        pump(&a, &b);
    }
    cr_assert_eq(rv, ZDC_ERR_AGAIN, "the sender was held back");
    for (int i = 0; i < 30; i++)
        pump(&a, &b);
    cr_assert_eq(b.nm, 0, "nothing taken while paused");
    cr_assert_gt(zdc_sctp_buffered_amount(a.s), ZDC_SCTP_DEFAULT_SNDBUF / 2,
                 "the data waits at the sender");
    cr_assert_gt(sent, 0);
    zdc_sctp_pause_receive(b.s, false);
    PUMP_UNTIL(&a, &b, b.nm == sent, 5000);
    for (uint32_t i = 0; i < sent; i++) {
        uint32_t idx;
        cr_assert(tagged_ok(&b.m[i], &idx), "message %u intact", i);
        cr_assert_eq(idx, i, "in order");
    }
    end_free(&a);
    end_free(&b);
}
