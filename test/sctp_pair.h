/* Two native SCTP associations in one process on the fake clock, through the seeded impairment
 * link (test/support), for the Criterion tests of core/sctp/. Header-only (each test program is
 * one file). Besides what test/sctp_assoc_test.c's harness does, an endpoint can drop its own
 * outgoing packets by content (SACKs, DATA, HEARTBEAT ACKs) and counts the chunks it sent by
 * type, so tests can cut a link precisely and count SACKs or HEARTBEATs. */
#ifndef ZDC_TEST_SCTP_PAIR_H
#define ZDC_TEST_SCTP_PAIR_H

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fakeclock.h"
#include "impair.h"
#include "sctp_assoc.h"
#include "sctp_assoc_int.h"
#include "sctp_wire.h"

#define SEC  1000000000ull
#define MSEC 1000000ull

struct rmsg {
    uint16_t stream;
    uint32_t ppid;
    uint8_t *p;
    size_t len;
    unsigned flags;
};

enum {
    DROP_SACK = 1u << 0,       /* packets carrying a SACK */
    DROP_DATA = 1u << 1,       /* packets carrying DATA */
    DROP_HB_ACK = 1u << 2,     /* packets carrying a HEARTBEAT ACK */
    DROP_ALL = 1u << 3,        /* everything */
    DROP_HEARTBEAT = 1u << 4,  /* packets carrying a HEARTBEAT */
    DROP_COOKIE_ECHO = 1u << 5 /* packets carrying a COOKIE ECHO */
};

struct ep {
    zdc_sctp_assoc *a;
    zdc_impair *link; /* towards the other end */
    struct rmsg *m;
    size_t nm, capm;
    int up, down, down_reason, restarts;
    uint16_t in_streams, out_streams;
    unsigned packets_sent, dropped_by_test;
    unsigned chunks[256];        /* chunks sent, by type */
    unsigned control_after_data; /* packets with a control chunk after DATA (§6.10) */
    unsigned drop;               /* DROP_* */
    /* optional: rewrites a packet this end sends (in a buffer of 2048 bytes) */
    void (*mangle)(struct ep *e, uint8_t *p, size_t *len);
    uint16_t resets[128], done[128];
    size_t nresets, ndone, msgs_at_reset;
    struct ep *peer;
};

static zdc_fakeclock clk;

static inline unsigned pkt_chunks(const uint8_t *p, size_t len, unsigned *types,
                                  unsigned *misordered)
{
    bool data_seen = false, bad = false;
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    unsigned mask = 0;
    if (zdc_sctp_packet_parse(p, len, ZDC_SCTP_CSUM_SKIP, &h, &it) != 0)
        return 0;
    while (zdc_sctp_chunk_next(&it, &raw) == 1) {
        if (types)
            types[raw.type]++;
        if (raw.type == ZDC_SCTP_DATA)
            data_seen = true;
        else if (data_seen)
            bad = true;
        if (raw.type == ZDC_SCTP_SACK)
            mask |= DROP_SACK;
        else if (raw.type == ZDC_SCTP_DATA)
            mask |= DROP_DATA;
        else if (raw.type == ZDC_SCTP_HEARTBEAT_ACK)
            mask |= DROP_HB_ACK;
        else if (raw.type == ZDC_SCTP_HEARTBEAT)
            mask |= DROP_HEARTBEAT;
        else if (raw.type == ZDC_SCTP_COOKIE_ECHO)
            mask |= DROP_COOKIE_ECHO;
    }
    if (bad && misordered)
        (*misordered)++;
    return mask | DROP_ALL;
}

static inline int ep_send(void *user, const uint8_t *p, size_t len)
{
    struct ep *e = user;
    e->packets_sent++;
    uint8_t copy[2048];
    if (e->mangle && len <= sizeof copy) {
        memcpy(copy, p, len);
        e->mangle(e, copy, &len);
        p = copy;
    }
    unsigned mask = pkt_chunks(p, len, e->chunks, &e->control_after_data);
    if (mask & e->drop) {
        e->dropped_by_test++;
        return 0;
    }
    zdc_impair_push(e->link, p, len, 0, zdc_fakeclock_now(&clk));
    return 0;
}

static inline void ep_up(void *user, uint16_t in, uint16_t out)
{
    struct ep *e = user;
    e->up++;
    e->in_streams = in;
    e->out_streams = out;
}

static inline void ep_down(void *user, int reason)
{
    struct ep *e = user;
    e->down++;
    e->down_reason = reason;
}

static inline void ep_msg(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                          unsigned flags)
{
    struct ep *e = user;
    if (e->nm == e->capm) {
        e->capm = e->capm ? e->capm * 2 : 256;
        e->m = realloc(e->m, e->capm * sizeof *e->m);
        cr_assert_not_null(e->m);
    }
    uint8_t *c = malloc(len ? len : 1);
    memcpy(c, p, len);
    e->m[e->nm++] = (struct rmsg){stream, ppid, c, len, flags};
}

static inline void ep_reset(void *user, uint16_t stream)
{
    struct ep *e = user;
    if (e->nresets == 0)
        e->msgs_at_reset = e->nm;
    if (e->nresets < 128)
        e->resets[e->nresets++] = stream;
}

static inline void ep_done(void *user, uint16_t stream)
{
    struct ep *e = user;
    if (e->ndone < 128)
        e->done[e->ndone++] = stream;
}

static inline void ep_restart(void *user)
{
    ((struct ep *)user)->restarts++;
}

static inline void ep_config(struct ep *e, uint64_t seed, zdc_sctp_assoc_config *c)
{
    zdc_sctp_assoc_config_default(c);
    c->random_seed = seed;
    for (int i = 0; i < 32; i++)
        c->cookie_key[i] = (uint8_t)(seed * 31 + (uint64_t)i);
    c->cb = (zdc_sctp_assoc_callbacks){.send = ep_send,
                                       .on_up = ep_up,
                                       .on_down = ep_down,
                                       .on_message = ep_msg,
                                       .on_stream_reset = ep_reset,
                                       .on_reset_done = ep_done,
                                       .on_restart = ep_restart};
    c->user = e;
}

static inline void ep_init(struct ep *e, struct ep *peer, const zdc_impair_config *ic,
                           uint64_t seed)
{
    memset(e, 0, sizeof *e);
    e->peer = peer;
    cr_assert_eq(zdc_impair_new(ic, &e->link), 0);
    zdc_sctp_assoc_config c;
    ep_config(e, seed, &c);
    cr_assert_eq(zdc_sctp_assoc_new(&c, &e->a), 0);
}

static inline void ep_clear(struct ep *e)
{
    zdc_sctp_assoc_free(e->a);
    zdc_impair_free(e->link);
    for (size_t i = 0; i < e->nm; i++)
        free(e->m[i].p);
    free(e->m);
}

/* Delivers what the link from `from` has due, one packet at a time. */
static inline size_t deliver(struct ep *from)
{
    uint8_t buf[2048];
    size_t len, n = 0;
    uint64_t tag;
    uint64_t now = zdc_fakeclock_now(&clk);
    while (zdc_impair_pop(from->link, now, buf, sizeof buf, &len, &tag) == 1) {
        n++;
        zdc_sctp_assoc_handle_packet(from->peer->a, buf, len, now);
    }
    return n;
}

static inline uint64_t next_event(struct ep *a, struct ep *b)
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

static inline void step(struct ep *x, struct ep *y)
{
    uint64_t now = zdc_fakeclock_now(&clk);
    deliver(x);
    deliver(y);
    if (zdc_sctp_assoc_next_timeout(x->a) <= now)
        zdc_sctp_assoc_handle_timeout(x->a, now);
    if (zdc_sctp_assoc_next_timeout(y->a) <= now)
        zdc_sctp_assoc_handle_timeout(y->a, now);
}

/* Runs the two ends until cond holds or `limit_ns` of simulated time pass. */
#define RUN_UNTIL(X, Y, cond, limit_ns)                                                            \
    do {                                                                                           \
        uint64_t end_ = zdc_fakeclock_now(&clk) + (limit_ns);                                      \
        while (!(cond)) {                                                                          \
            uint64_t t_ = next_event((X), (Y));                                                    \
            if (t_ == UINT64_MAX || t_ > end_) {                                                   \
                if (end_ > zdc_fakeclock_now(&clk))                                                \
                    zdc_fakeclock_advance_to(&clk, end_);                                          \
                break;                                                                             \
            }                                                                                      \
            zdc_fakeclock_advance_to(&clk, t_);                                                    \
            step((X), (Y));                                                                        \
        }                                                                                          \
    } while (0)

static inline void pair(struct ep *a, struct ep *b, const zdc_impair_config *ic)
{
    zdc_fakeclock_init(&clk, ZDC_FAKECLOCK_SIMULATED, 1 * SEC);
    zdc_impair_config c2 = *ic;
    c2.seed = ic->seed + 1;
    ep_init(a, b, ic, 1000 + ic->seed);
    ep_init(b, a, &c2, 2000 + ic->seed);
}

static inline void connect_both(struct ep *a, struct ep *b)
{
    uint64_t now = zdc_fakeclock_now(&clk);
    cr_assert_eq(zdc_sctp_assoc_connect(a->a, now), 0);
    cr_assert_eq(zdc_sctp_assoc_connect(b->a, now), 0);
    RUN_UNTIL(a, b, a->up && b->up, 120 * SEC);
    cr_assert(a->up && b->up, "association up (a %d b %d)", a->up, b->up);
}

/* Message i: 8-byte header (index, length) then bytes derived from the index. */
static inline uint8_t *make_msg(uint32_t i, size_t len)
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

/* Whether m is message i of make_msg, intact. */
static inline bool msg_is(const struct rmsg *m, uint32_t i)
{
    if (m->len < 8 || zdc_load_u32(m->p) != i || zdc_load_u32(m->p + 4) != m->len)
        return false;
    for (size_t k = 8; k < m->len; k++)
        if (m->p[k] != (uint8_t)(i * 131 + k * 7))
            return false;
    return true;
}

static inline int send_msg(struct ep *e, uint16_t stream, uint32_t i, size_t len,
                           const zdc_sctp_assoc_send_opts *o)
{
    uint8_t *p = make_msg(i, len);
    int rv = zdc_sctp_assoc_send_ex(e->a, stream, 51, p, len, o, zdc_fakeclock_now(&clk));
    free(p);
    return rv;
}

#endif /* ZDC_TEST_SCTP_PAIR_H */
