/* Differential suite (issue 11): zdc's native SCTP against usrsctp, both behind the one
 * interface the peer connection uses (core/proto/sctp.h), through the seeded impairment link
 * (test/support/impair.h) at 0 %, 1 % and 10 % loss with delay, jitter and reordering, in
 * both roles (the native side sends the first INIT, or usrsctp does).
 *
 * Both ends send the same seeded sequence of messages on four channels: reliable ordered
 * (stream 0), reliable unordered (1), partially reliable ordered (2, one retransmission) and
 * partially reliable unordered (3, sent once). Checked: on each end every reliable message
 * arrived once, intact, in order on the ordered channel, so both stacks delivered identical
 * reliable streams; partially reliable messages arrive intact, at most once, in order on the
 * ordered one.
 *
 * usrsctp reads its own clock, so this suite runs in real time (the link's clock is the
 * monotonic clock): every case is bounded (CASE_LIMIT_NS) and short; waits are sub-millisecond
 * naps until the next deadline. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "impair.h"
#include "log.h"
#include "sctp.h"
#include "sctp_wire.h"

#define MSEC          1000000ull
#define CASE_LIMIT_NS (9000ull * MSEC)
#define N_MSGS        120
#define HDR           12 /* index u32, length u32, stream u16, sender u8, pad */

typedef struct recv_msg {
    uint32_t idx;
    uint16_t stream;
} recv_msg;

typedef struct side {
    const char *name;
    zdc_sctp *s;
    bool native;
    zdc_impair *link; /* towards the other side */
    struct side *peer;
    bool up, down;
    int down_reason;
    zdc_logger lg;
    zdc_log_ctx log;
    unsigned char sender_id;
    uint32_t next_send; /* next message index to send */
    recv_msg got[N_MSGS];
    unsigned ngot;
    unsigned seen[N_MSGS]; /* deliveries per index */
    unsigned bad;          /* corrupt or misrouted */
    unsigned reliable_got;
} side;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The seeded message plan, identical for both senders. */
static uint16_t plan_stream(uint32_t i)
{
    return (uint16_t)((i * 7 + i / 5) % 4);
}

static size_t plan_len(uint32_t i)
{
    uint32_t h = i * 2654435761u;
    return HDR + (h % 4 == 0 ? (h >> 8) % 12000 : (h >> 8) % 1100);
}

static bool plan_reliable(uint16_t stream)
{
    return stream < 2;
}

static uint8_t pattern(uint32_t i, size_t k, unsigned char sender)
{
    return (uint8_t)(i * 29 + k * 3 + sender * 101);
}

/* ZDC_DIFF_TRACE=1: one line per packet sent (chunk types, TSNs) on stderr. */
static void trace(const side *s, const uint8_t *p, size_t len)
{
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    if (zdc_sctp_packet_parse(p, len, ZDC_SCTP_CSUM_SKIP, &h, &it) != 0)
        return;
    fprintf(stderr, "%.3f %s:", (double)(mono_ns() % 100000000000ull) / 1e9, s->name);
    while (zdc_sctp_chunk_next(&it, &raw) == 1) {
        zdc_sctp_chunk c;
        if (raw.type == ZDC_SCTP_ABORT || raw.type == ZDC_SCTP_ERROR) {
            fprintf(stderr, " T%u[", raw.type);
            for (size_t k = 0; k < raw.len && k < 96; k++)
                fprintf(stderr,
                        k >= 4 && raw.value[k] >= 0x20 && raw.value[k] < 0x7f ? "%c" : "%02x.",
                        raw.value[k]);
            fprintf(stderr, "]");
            continue;
        }
        if (zdc_sctp_chunk_parse(&raw, &c) != 0) {
            fprintf(stderr, " ?%u", raw.type);
            continue;
        }
        if (c.type == ZDC_SCTP_DATA)
            fprintf(stderr, " D%u/s%u/n%u/f%x", c.u.data.tsn, c.u.data.stream, c.u.data.ssn,
                    c.u.data.flags);
        else if (c.type == ZDC_SCTP_SACK)
            fprintf(stderr, " S%u/g%u/d%u/w%u", c.u.sack.cum_tsn, c.u.sack.n_gaps, c.u.sack.n_dups,
                    c.u.sack.a_rwnd);
        else if (c.type == ZDC_SCTP_FORWARD_TSN)
            fprintf(stderr, " F%u/n%u", c.u.fwd_tsn.new_cum_tsn, c.u.fwd_tsn.n_streams);
        else
            fprintf(stderr, " T%u", c.type);
    }
    fprintf(stderr, "\n");
}

static int on_send(void *user, const uint8_t *p, size_t len)
{
    side *s = user;
    if (getenv("ZDC_DIFF_TRACE"))
        trace(s, p, len);
    zdc_impair_push(s->link, p, len, 0, mono_ns());
    return 0;
}

static void on_up(void *user, uint16_t in, uint16_t out)
{
    ((side *)user)->up = true;
}

static void on_down(void *user, int reason)
{
    ((side *)user)->down = true;
    ((side *)user)->down_reason = reason;
}

static void on_message(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                       unsigned flags)
{
    side *s = user;
    unsigned char from = s->peer->sender_id;
    if (len < HDR || ppid != 53) {
        s->bad++;
        return;
    }
    uint32_t idx = zdc_load_u32(p);
    if (idx >= N_MSGS || zdc_load_u32(p + 4) != len || zdc_load_u16(p + 8) != stream ||
        p[10] != from || stream != plan_stream(idx) || len != plan_len(idx) ||
        !!(flags & ZDC_SCTP_MSG_UNORDERED) != (stream % 2 == 1)) {
        s->bad++;
        return;
    }
    for (size_t k = HDR; k < len; k++)
        if (p[k] != pattern(idx, k, from)) {
            s->bad++;
            return;
        }
    if (s->seen[idx]++ == 0 && plan_reliable(stream))
        s->reliable_got++;
    if (s->ngot < N_MSGS)
        s->got[s->ngot++] = (recv_msg){idx, stream};
}

static void side_init(side *s, const char *name, bool native, side *peer,
                      const zdc_impair_config *ic, unsigned char id)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->native = native;
    s->peer = peer;
    s->sender_id = id;
    cr_assert_eq(zdc_impair_new(ic, &s->link), 0);
    zdc_sctp_config c;
    zdc_sctp_config_default(&c);
    c.native = native; /* whatever ZDC_SCTP says */
    c.cb = (zdc_sctp_callbacks){
        .send = on_send, .on_up = on_up, .on_down = on_down, .on_message = on_message};
    c.user = s;
    /* ZDC_LOG=info,sctp (docs/logging.md) shows why an association ended */
    if (getenv("ZDC_LOG") && zdc_logger_init_from_spec(&s->lg, getenv("ZDC_LOG")) == 0) {
        s->log = (zdc_log_ctx){.sink = &s->lg, .peer = id};
        c.log = &s->log;
    }
    cr_assert_eq(zdc_sctp_new(&c, &s->s), 0, "%s", name);
    zdc_sctp_set_now(s->s, mono_ns());
}

static void side_clear(side *s)
{
    zdc_sctp_free(s->s);
    zdc_impair_free(s->link);
}

/* Sends what the send buffer takes of the plan (a few messages per turn). */
static void pump_sends(side *s)
{
    for (int k = 0; k < 4 && s->up && s->next_send < N_MSGS; k++) {
        uint32_t i = s->next_send;
        size_t len = plan_len(i);
        uint16_t stream = plan_stream(i);
        uint8_t buf[HDR + 12000];
        zdc_store_u32(buf, i);
        zdc_store_u32(buf + 4, (uint32_t)len);
        zdc_store_u16(buf + 8, stream);
        buf[10] = s->sender_id;
        buf[11] = 0;
        for (size_t j = HDR; j < len; j++)
            buf[j] = pattern(i, j, s->sender_id);
        zdc_sctp_send_opts o = {.unordered = stream % 2 == 1};
        if (stream == 2)
            o = (zdc_sctp_send_opts){.pr_policy = ZDC_SCTP_PR_RTX, .pr_value = 1};
        else if (stream == 3)
            o = (zdc_sctp_send_opts){.unordered = true, .pr_policy = ZDC_SCTP_PR_RTX};
        int rv = zdc_sctp_send(s->s, stream, 53, buf, len, &o);
        if (rv == ZDC_ERR_AGAIN)
            return;
        cr_assert_eq(rv, 0, "%s: send %u: %d", s->name, i, rv);
        s->next_send++;
    }
}

static unsigned reliable_planned(void)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < N_MSGS; i++)
        n += plan_reliable(plan_stream(i));
    return n;
}

/* One turn of the loop at time now: timers, due packets, sends. */
static void turn(side *a, side *b, uint64_t now)
{
    zdc_sctp_global_tick(now); /* usrsctp's wheel (no-op cost for natives) */
    side *v[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        side *s = v[k];
        zdc_sctp_set_now(s->s, now);
        if (zdc_sctp_next_timeout(s->s) <= now)
            zdc_sctp_handle_timeout(s->s, now);
    }
    for (int k = 0; k < 2; k++) {
        side *s = v[k];
        uint8_t pkt[2048];
        size_t len;
        uint64_t tag;
        while (zdc_impair_pop(s->link, now, pkt, sizeof pkt, &len, &tag) == 1) {
            zdc_sctp_set_now(s->peer->s, now);
            zdc_sctp_handle_packet(s->peer->s, pkt, len);
        }
    }
    pump_sends(a);
    pump_sends(b);
}

static void nap_until(side *a, side *b, uint64_t now)
{
    uint64_t t = now + MSEC; /* usrsctp's tick, at most */
    uint64_t c[4] = {zdc_impair_next(a->link), zdc_impair_next(b->link),
                     zdc_sctp_next_timeout(a->s), zdc_sctp_next_timeout(b->s)};
    for (int k = 0; k < 4; k++)
        if (c[k] < t)
            t = c[k];
    if (t > now) {
        uint64_t d = t - now;
        struct timespec ts = {0, (long)d};
        nanosleep(&ts, NULL);
    }
}

static void check_side(const side *s, unsigned want)
{
    cr_assert_eq(s->bad, 0, "%s: %u corrupt or misrouted messages", s->name, s->bad);
    cr_assert_eq(s->reliable_got, want, "%s: %u of %u reliable messages", s->name, s->reliable_got,
                 want);
    int64_t last[4] = {-1, -1, -1, -1};
    for (unsigned k = 0; k < s->ngot; k++) {
        recv_msg m = s->got[k];
        cr_assert_eq(s->seen[m.idx], 1, "%s: message %u delivered %u times", s->name, m.idx,
                     s->seen[m.idx]);
        if (m.stream % 2 == 0) { /* ordered channels */
            cr_assert_gt((int64_t)m.idx, last[m.stream], "%s: stream %u out of order", s->name,
                         m.stream);
            last[m.stream] = m.idx;
        }
    }
}

/* The reliable deliveries of one stream, in delivery order. */
static unsigned reliable_seq(const side *s, uint16_t stream, uint32_t *out)
{
    unsigned n = 0;
    for (unsigned k = 0; k < s->ngot; k++)
        if (s->got[k].stream == stream)
            out[n++] = s->got[k].idx;
    return n;
}

static void run_case(bool native_first, double loss, uint64_t delay_ns, double reorder,
                     uint64_t seed)
{
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = seed;
    ic.loss = loss;
    ic.delay_ns = delay_ns;
    ic.jitter_ns = delay_ns / 4;
    ic.reorder = reorder;
    ic.reorder_delay_ns = 5 * MSEC;
    zdc_impair_config ic2 = ic;
    ic2.seed = seed + 1;
    side nat, usr;
    side_init(&nat, "native", true, &usr, &ic, 1);
    side_init(&usr, "usrsctp", false, &nat, &ic2, 2);
    cr_assert(zdc_sctp_is_native(nat.s));
    cr_assert_not(zdc_sctp_is_native(usr.s));
    side *first = native_first ? &nat : &usr;
    uint64_t start = mono_ns();
    cr_assert_eq(zdc_sctp_connect(first->s), 0);
    unsigned want = reliable_planned();
    uint64_t now = start;
    while (now - start < CASE_LIMIT_NS && !nat.down && !usr.down &&
           !(nat.reliable_got == want && usr.reliable_got == want)) {
        turn(&nat, &usr, now);
        nap_until(&nat, &usr, now);
        now = mono_ns();
    }
    double secs = (double)(mono_ns() - start) / 1e9;
    zdc_sctp_stats sn, su;
    zdc_sctp_get_stats(nat.s, &sn);
    zdc_sctp_get_stats(usr.s, &su);
    printf("sctp_diff: %s first, loss %.0f%%, delay %llu ms: %.2f s; native got %u (%u "
           "reliable of %u), rtx %llu; usrsctp got %u (%u reliable), rtx %llu\n",
           native_first ? "native" : "usrsctp", loss * 100, (unsigned long long)(delay_ns / MSEC),
           secs, nat.ngot, nat.reliable_got, want, (unsigned long long)sn.retransmissions, usr.ngot,
           usr.reliable_got, (unsigned long long)su.retransmissions);
    fflush(stdout);
    cr_assert(nat.up && usr.up, "both up");
    cr_assert_not(nat.down || usr.down, "neither went down (native %d, usrsctp %d)",
                  nat.down_reason, usr.down_reason);
    check_side(&nat, want);
    check_side(&usr, want);
    /* identical reliable streams on both ends: the ordered one in the same order */
    uint32_t qa[N_MSGS], qb[N_MSGS];
    unsigned na = reliable_seq(&nat, 0, qa), nb = reliable_seq(&usr, 0, qb);
    cr_assert_eq(na, nb);
    cr_assert_arr_eq(qa, qb, na * sizeof qa[0], "ordered channel delivered identically");
    side_clear(&nat);
    side_clear(&usr);
}

Test(sctp_diff, native_first_lossless)
{
    run_case(true, 0, 5 * MSEC, 0, 11);
}

Test(sctp_diff, usrsctp_first_lossless)
{
    run_case(false, 0, 5 * MSEC, 0, 12);
}

Test(sctp_diff, native_first_1pct_loss)
{
    run_case(true, 0.01, 20 * MSEC, 0.02, 13);
}

Test(sctp_diff, usrsctp_first_1pct_loss)
{
    run_case(false, 0.01, 20 * MSEC, 0.02, 14);
}

Test(sctp_diff, native_first_10pct_loss)
{
    run_case(true, 0.10, 20 * MSEC, 0.05, 15);
}

Test(sctp_diff, usrsctp_first_10pct_loss)
{
    run_case(false, 0.10, 20 * MSEC, 0.05, 16);
}
