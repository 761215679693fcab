/* Tests for the sans-IO peer connection (core/pc): two zdc_pc wired back to back in one
 * process. Each side has a fake local address (127.0.0.1:10001 / :10002) and no socket: its
 * env.send puts datagrams into the other side's inbox (or into a seeded core/impair link),
 * and a driver loop delivers them, runs zdc_pc_handle_timeout() at the deadlines and relays
 * the signaling events (DESCRIPTION -> set_local + the other side's set_remote, CANDIDATE ->
 * add_ice_candidate) the way an application's signaling channel would.
 *
 * Time is the real monotonic clock: usrsctp compares chunk ages with the real clock and
 * OpenSSL runs its DTLS timer on gettimeofday(), so a simulated clock running ahead of real
 * time would make both refuse to retransmit (see core/dtls.h, test/sctp_test.c). The loop
 * sleeps until the next deadline when nothing moves, and every wait has a wall-clock cap that
 * fails the test with a message. Criterion runs each test in its own process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32.h"
#include "impair.h"
#include "pc.h"
#include "sctp.h"
#include "zdc/dcep.h"
#include "zdc/demux.h"
#include "zdc/error.h"
#include "zdc/stun.h"

#pragma GCC diagnostic ignored "-Wunused-function" /* TEMP */
#define MS  1000000ull
#define SEC 1000000000ull

/* ---- harness ---------------------------------------------------------------------------- */

typedef struct dgram {
    struct dgram *next;
    zdc_addr from;
    size_t len;
    uint8_t data[];
} dgram;

typedef struct rec {
    int kind, state;
    zdc_pc_channel *ch;
} rec;

struct harness;

typedef struct side {
    const char *name;
    struct harness *h;
    struct side *peer;
    int dir; /* index of the link this side sends on */
    zdc_pc *pc;
    zdc_dtls_cert *cert;
    zdc_addr addr;
    uint64_t rng;
    dgram *in_head, *in_tail; /* datagrams on their way to this side */
    rec *ev;                  /* every non-signaling event, in order */
    size_t n_ev, cap_ev;
    int conn;    /* last ZDC_PC_EV_CONNECTION state */
    bool closed; /* zdc_pc_close() was called: no event may follow */
    size_t events_after_close;
    zdc_pc_channel *incoming[64]; /* DATA_CHANNEL events */
    size_t n_incoming;
    size_t sent, stray;   /* datagrams sent; those not addressed to the peer */
    zdc_addr last_stray;  /* where the last stray one went */
    int remote_rv;        /* result of the peer's set_remote_description with our sdp */
    char remote_err[192]; /* and its zdc_pc_last_error */
    bool hold_candidates; /* keep our candidates instead of relaying them */
    char *held[16];
    size_t n_held;
    char *held_desc_type, *held_desc; /* HOLD_DESCRIPTION: kept for the test */
    bool hold_description;
} side;

typedef char *(*munge_fn)(const side *from, const char *type, const char *sdp);

typedef struct harness {
    side a, b;
    zdc_impair *link[2]; /* a->b, b->a; NULL = perfect link, no delay */
    munge_fn munge;      /* rewrites a description on its way to the other side */
    bool spoof_dtls;     /* a's DTLS datagrams arrive at b from spoof_addr */
    zdc_addr spoof_addr;
} harness;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void rand_bytes(void *user, uint8_t *p, size_t n)
{
    side *s = user;
    for (size_t i = 0; i < n; i++) {
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        p[i] = (uint8_t)(s->rng >> 24);
    }
}

static void inbox_push(side *to, const zdc_addr *from, const uint8_t *p, size_t len)
{
    dgram *d = malloc(sizeof *d + len);
    cr_assert_not_null(d);
    d->next = NULL;
    d->from = *from;
    d->len = len;
    memcpy(d->data, p, len);
    if (to->in_tail)
        to->in_tail->next = d;
    else
        to->in_head = d;
    to->in_tail = d;
}

static void env_send(void *user, const zdc_addr *to, const uint8_t *p, size_t len)
{
    side *s = user;
    harness *h = s->h;
    s->sent++;
    if (!zdc_addr_equal(to, &s->peer->addr)) {
        s->stray++;
        s->last_stray = *to;
        return;
    }
    bool spoof = h->spoof_dtls && s == &h->a && zdc_demux_classify(p, len) == ZDC_DEMUX_DTLS;
    if (h->link[s->dir]) {
        cr_assert_eq(zdc_impair_push(h->link[s->dir], p, len, spoof, mono_ns()), 0);
        return;
    }
    inbox_push(s->peer, spoof ? &h->spoof_addr : &s->addr, p, len);
}

static void side_init(harness *h, side *s, const char *name, uint16_t port, uint64_t seed,
                      const zdc_pc_env *tmpl)
{
    s->name = name;
    s->h = h;
    s->rng = seed;
    cr_assert_eq(zdc_addr_from_ip(&s->addr, "127.0.0.1", 9, port), 0);
    cr_assert_eq(zdc_dtls_cert_new(&s->cert), 0);
    zdc_pc_env env = tmpl ? *tmpl : (zdc_pc_env){0};
    env.user = s;
    env.send = env_send;
    env.random = rand_bytes;
    env.cert = s->cert;
    env.local = &s->addr;
    env.n_local = 1;
    cr_assert_eq(zdc_pc_new(&env, &s->pc), 0);
    cr_assert_eq(zdc_pc_initialize(s->pc, NULL), 0);
}

/* Two peers; `env` (may be NULL) supplies the optional env fields of both. */
static void harness_init(harness *h, const zdc_pc_env *env)
{
    memset(h, 0, sizeof *h);
    side_init(h, &h->a, "A", 10001, 0x243f6a8885a308d3ull, env);
    side_init(h, &h->b, "B", 10002, 0x13198a2e03707344ull, env);
    h->a.peer = &h->b;
    h->b.peer = &h->a;
    h->a.dir = 0;
    h->b.dir = 1;
    cr_assert_eq(zdc_addr_from_ip(&h->spoof_addr, "127.0.0.1", 9, 10003), 0);
}

static void side_free(side *s)
{
    zdc_dtls_cert_del(s->cert);
    while (s->in_head) {
        dgram *d = s->in_head;
        s->in_head = d->next;
        free(d);
    }
    s->in_tail = NULL;
    free(s->ev);
    for (size_t i = 0; i < s->n_held; i++)
        free(s->held[i]);
    free(s->held_desc_type);
    free(s->held_desc);
}

static void harness_free(harness *h)
{
    /* Both peers first: deleting one may still send (an SCTP ABORT) to the other's inbox. */
    zdc_pc_del(h->a.pc);
    zdc_pc_del(h->b.pc);
    h->a.pc = h->b.pc = NULL;
    side_free(&h->a);
    side_free(&h->b);
    for (int i = 0; i < 2; i++)
        zdc_impair_del(h->link[i]);
}

/* Puts a seeded impairment link into both directions. */
static void harness_impair(harness *h, const zdc_impair_config *c)
{
    for (int i = 0; i < 2; i++) {
        zdc_impair_config ci = *c;
        ci.seed = c->seed + (uint64_t)i * 7919;
        cr_assert_eq(zdc_impair_new(&ci, &h->link[i]), 0);
    }
}

static void record(side *s, const zdc_pc_event *e)
{
    if (s->n_ev == s->cap_ev) {
        s->cap_ev = s->cap_ev ? s->cap_ev * 2 : 64;
        s->ev = realloc(s->ev, s->cap_ev * sizeof *s->ev);
        cr_assert_not_null(s->ev);
    }
    s->ev[s->n_ev++] = (rec){e->kind, e->state, e->channel};
}

static void deliver_description(side *s, const char *type, const char *sdp)
{
    side *peer = s->peer;
    char *m = s->h->munge ? s->h->munge(s, type, sdp) : NULL;
    s->remote_rv = zdc_pc_set_remote_description(peer->pc, type, m ? m : sdp, mono_ns());
    snprintf(s->remote_err, sizeof s->remote_err, "%s", zdc_pc_last_error(peer->pc));
    free(m);
}

/* Takes `s`'s events: signaling goes to the peer, everything else is recorded. */
static size_t relay(side *s)
{
    zdc_pc_event e;
    size_t n = 0;
    while (s->pc && zdc_pc_next_event(s->pc, &e) == 1) {
        n++;
        if (s->closed)
            s->events_after_close++;
        switch (e.kind) {
        case ZDC_PC_EV_DESCRIPTION:
            cr_assert_eq(zdc_pc_set_local_description(s->pc, e.text, e.text2, mono_ns()), 0,
                         "%s: set_local_description(%s): %s", s->name, e.text,
                         zdc_pc_last_error(s->pc));
            if (s->hold_description) {
                free(s->held_desc_type);
                free(s->held_desc);
                s->held_desc_type = strdup(e.text);
                s->held_desc = strdup(e.text2);
            } else {
                deliver_description(s, e.text, e.text2);
            }
            break;
        case ZDC_PC_EV_CANDIDATE:
            if (s->hold_candidates) {
                cr_assert_lt(s->n_held, 16);
                s->held[s->n_held++] = strdup(e.text2);
            } else {
                int rv = zdc_pc_add_ice_candidate(s->peer->pc, e.text, e.state, e.text2);
                cr_assert_eq(rv, 0, "%s: add_ice_candidate '%s': %d %s", s->peer->name, e.text2, rv,
                             zdc_pc_last_error(s->peer->pc));
            }
            break;
        case ZDC_PC_EV_CONNECTION:
            s->conn = e.state;
            record(s, &e);
            break;
        case ZDC_PC_EV_DATA_CHANNEL:
            cr_assert_lt(s->n_incoming, 64);
            s->incoming[s->n_incoming++] = e.channel;
            record(s, &e);
            break;
        default:
            record(s, &e);
            break;
        }
        zdc_pc_event_clear(&e);
    }
    return n;
}

static size_t deliver_inbox(side *s, uint64_t now)
{
    size_t n = 0;
    /* Bounded: a side's answers land in the other inbox, so this ends. */
    while (s->in_head && n < 4096) {
        dgram *d = s->in_head;
        s->in_head = d->next;
        if (!s->in_head)
            s->in_tail = NULL;
        if (s->pc)
            zdc_pc_handle_datagram(s->pc, &d->from, d->data, d->len, now);
        free(d);
        n++;
    }
    return n;
}

static size_t deliver_link(harness *h, int dir, uint64_t now)
{
    static uint8_t buf[65536];
    size_t len, n = 0;
    uint64_t tag;
    side *from = dir == 0 ? &h->a : &h->b;
    if (!h->link[dir])
        return 0;
    while (zdc_impair_pop(h->link[dir], now, buf, sizeof buf, &len, &tag) == 1) {
        if (from->peer->pc)
            zdc_pc_handle_datagram(from->peer->pc, tag ? &h->spoof_addr : &from->addr, buf, len,
                                   now);
        n++;
    }
    return n;
}

/* One round of the driver loop. Returns how much happened. */
static size_t step(harness *h)
{
    uint64_t now = mono_ns();
    size_t n = relay(&h->a) + relay(&h->b);
    n += deliver_inbox(&h->b, now) + deliver_inbox(&h->a, now);
    n += deliver_link(h, 0, now) + deliver_link(h, 1, now);
    now = mono_ns();
    side *sides[2] = {&h->a, &h->b};
    for (int i = 0; i < 2; i++)
        if (sides[i]->pc && zdc_pc_next_timeout(sides[i]->pc) <= now)
            zdc_pc_handle_timeout(sides[i]->pc, now);
    n += relay(&h->a) + relay(&h->b);
    return n;
}

/* Sleeps until the next deadline (at most 2 ms) when the last step moved nothing. */
static void idle(harness *h)
{
    uint64_t dl = UINT64_MAX, now = mono_ns();
    side *sides[2] = {&h->a, &h->b};
    for (int i = 0; i < 2; i++)
        if (sides[i]->pc) {
            uint64_t t = zdc_pc_next_timeout(sides[i]->pc);
            dl = t < dl ? t : dl;
        }
    for (int i = 0; i < 2; i++)
        if (h->link[i]) {
            uint64_t t = zdc_impair_next(h->link[i]);
            dl = t < dl ? t : dl;
        }
    if (dl <= now)
        return;
    uint64_t w = dl - now;
    if (w > 2 * MS)
        w = 2 * MS;
    struct timespec ts = {0, (long)w};
    nanosleep(&ts, NULL);
}

static void pump(harness *h)
{
    if (step(h) == 0)
        idle(h);
}

/* Runs the loop until `cond` holds, for at most `ms` milliseconds of real time. */
#define RUN_UNTIL(h, cond, ms)                                                                     \
    do {                                                                                           \
        uint64_t end_ = mono_ns() + (uint64_t)(ms)*MS;                                             \
        while (!(cond) && mono_ns() < end_)                                                        \
            pump(h);                                                                               \
        cr_assert(cond, "not reached within %d ms: %s", (int)(ms), #cond);                         \
    } while (0)

/* Runs the loop for `ms` milliseconds. */
static void run_for(harness *h, unsigned ms)
{
    uint64_t end = mono_ns() + (uint64_t)ms * MS;
    while (mono_ns() < end)
        pump(h);
}

static size_t count_events(const side *s, int kind, const zdc_pc_channel *ch)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_ev; i++)
        if (s->ev[i].kind == kind && (!ch || s->ev[i].ch == ch))
            n++;
    return n;
}

static bool saw_state(const side *s, int state)
{
    for (size_t i = 0; i < s->n_ev; i++)
        if (s->ev[i].kind == ZDC_PC_EV_CONNECTION && s->ev[i].state == state)
            return true;
    return false;
}

static zdc_pc_channel *incoming_labeled(const side *s, const char *label)
{
    for (size_t i = 0; i < s->n_incoming; i++)
        if (strcmp(zdc_pc_channel_label(s->incoming[i]), label) == 0)
            return s->incoming[i];
    return NULL;
}

static bool both_connected(const harness *h)
{
    return h->a.conn == ZDC_STATE_CONNECTED && h->b.conn == ZDC_STATE_CONNECTED;
}

static zdc_pc_channel *make_channel(side *s, const char *label, const zdc_channel_options *o)
{
    zdc_pc_channel *c = NULL;
    int rv = zdc_pc_create_channel(s->pc, label, o, &c);
    cr_assert_eq(rv, 0, "create_channel(%s): %d %s", label, rv, zdc_pc_last_error(s->pc));
    cr_assert_not_null(c);
    return c;
}

/* A offers, B answers; waits until both are CONNECTED. */
static void connect_peers(harness *h)
{
    cr_assert_eq(zdc_pc_create_offer(h->a.pc, mono_ns()), 0, "%s", zdc_pc_last_error(h->a.pc));
    RUN_UNTIL(h, both_connected(h), 3000);
    cr_assert_eq(h->a.remote_rv, 0, "B refused the offer: %s", h->a.remote_err);
    cr_assert_eq(h->b.remote_rv, 0, "A refused the answer: %s", h->b.remote_err);
}

/* ---- messages --------------------------------------------------------------------------- */

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

/* Text content must be valid UTF-8 for real peers; printable ASCII is. */
static void fill_text(uint8_t *p, size_t len, uint32_t seed)
{
    fill(p, len, seed);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(' ' + p[i] % 95);
}

static void expect_msg(zdc_pc_channel *ch, size_t len, bool text, uint32_t seed)
{
    const uint8_t *p = NULL;
    size_t got = 0;
    bool was_string = !text;
    cr_assert_eq(zdc_pc_channel_peek(ch, &p, &got, &was_string), 0, "a message is waiting");
    cr_assert_eq(got, len, "length %zu, expected %zu", got, len);
    cr_assert_eq(was_string, text);
    uint8_t *want = malloc(len ? len : 1);
    if (text)
        fill_text(want, len, seed);
    else
        fill(want, len, seed);
    cr_assert(len == 0 || memcmp(p, want, len) == 0, "content of the %zu-byte message", len);
    uint32_t ppid = zdc_pc_channel_peek_ppid(ch);
    uint32_t want_ppid = text ? (len ? ZDC_PPID_STRING : ZDC_PPID_STRING_EMPTY)
                              : (len ? ZDC_PPID_BINARY : ZDC_PPID_BINARY_EMPTY);
    cr_assert_eq(ppid, want_ppid, "PPID %u for a %zu-byte %s message", ppid, len,
                 text ? "text" : "binary");
    free(want);
    zdc_pc_channel_release(ch);
}

static int send_msg(zdc_pc_channel *ch, size_t len, bool text, uint32_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    if (text)
        fill_text(p, len, seed);
    else
        fill(p, len, seed);
    int rv = zdc_pc_channel_send(ch, p, len, text);
    free(p);
    return rv;
}

/* ---- 1. connect and exchange ------------------------------------------------------------ */

static const size_t sizes[] = {0, 1, 1200, 65536, 262144};
#define N_SIZES (sizeof sizes / sizeof sizes[0])

static void exchange_all_sizes(harness *h, zdc_pc_channel *x, zdc_pc_channel *y)
{
    /* x -> y and y -> x, every size as text and as binary */
    zdc_pc_channel *from[2] = {x, y}, *to[2] = {y, x};
    for (int d = 0; d < 2; d++) {
        for (size_t i = 0; i < N_SIZES; i++)
            for (int t = 0; t < 2; t++)
                cr_assert_eq(send_msg(from[d], sizes[i], t, (uint32_t)(i * 2 + t)), 0,
                             "send %zu bytes", sizes[i]);
        RUN_UNTIL(h, zdc_pc_channel_available(to[d]) == (int)(2 * N_SIZES), 3000);
        for (size_t i = 0; i < N_SIZES; i++)
            for (int t = 0; t < 2; t++)
                expect_msg(to[d], sizes[i], t, (uint32_t)(i * 2 + t));
        cr_assert_eq(zdc_pc_channel_available(to[d]), 0);
    }
}

Test(pc, offer_answer_connects_and_channel_carries_every_size_both_ways)
{
    harness h;
    harness_init(&h, NULL);
    zdc_pc_channel *ca = make_channel(&h.a, "chat", NULL);
    cr_assert_eq(zdc_pc_channel_state(ca), ZDC_CHANNEL_CONNECTING);
    connect_peers(&h);
    RUN_UNTIL(&h, count_events(&h.a, ZDC_PC_EV_CHANNEL_OPEN, ca) == 1 && h.b.n_incoming == 1, 2000);
    zdc_pc_channel *cb = h.b.incoming[0];
    RUN_UNTIL(&h, count_events(&h.b, ZDC_PC_EV_CHANNEL_OPEN, cb) == 1, 1000);
    cr_assert_str_eq(zdc_pc_channel_label(cb), "chat");
    cr_assert_eq(zdc_pc_channel_state(ca), ZDC_CHANNEL_OPEN);
    cr_assert_eq(zdc_pc_channel_state(cb), ZDC_CHANNEL_OPEN);
    cr_assert_eq(zdc_pc_channel_id(ca), zdc_pc_channel_id(cb));
    cr_assert(zdc_pc_channel_ordered(cb));
    cr_assert_not(zdc_pc_channel_negotiated(cb));
    cr_assert_eq(zdc_pc_channel_max_retransmits(cb), -1);
    cr_assert_eq(zdc_pc_channel_max_packet_life_time(cb), -1);
    cr_assert_eq(zdc_pc_signaling_state(h.a.pc), ZDC_SIGNALING_STABLE);
    cr_assert_eq(zdc_pc_signaling_state(h.b.pc), ZDC_SIGNALING_STABLE);
    cr_assert_str_eq(zdc_pc_dtls_cipher(h.a.pc), "ECDHE-ECDSA-AES128-GCM-SHA256");
    zdc_addr ra;
    cr_assert_eq(zdc_pc_remote_address(h.a.pc, &ra), 0);
    cr_assert(zdc_addr_equal(&ra, &h.b.addr));
    exchange_all_sizes(&h, ca, cb);
    cr_assert_eq(h.a.stray + h.b.stray, 0, "nothing sent anywhere but to the peer");
    harness_free(&h);
}
