/* sctp_bench: SCTP alone, two associations in memory, one thread: zdc's native SCTP
 * (core/sctp) beside usrsctp (core/proto/sctp.c) in the same run.
 *
 * Throughput: A sends messages of 64 KiB, 16 KiB, 1 KiB and 100 B on one reliable ordered
 * stream to B for a fixed time; packets (MTU 1200) are handed from one association to the
 * other through an in-memory queue, nothing is lost. Payload bytes delivered per second of
 * wall time; every message's length is checked. The sender queues up to BATCH messages (at
 * most 1 MiB outstanding) between rounds of packet exchange; the native association is corked
 * around each batch (zdc_sctp_assoc_cork), usrsctp sends as zdc configures it.
 * Memory: heap bytes (mallinfo2) per established idle association, over 200 pairs.
 *
 * Usage: sctp_bench [seconds per case, default 1.0] [one message size] [native|usrsctp] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sctp.h"
#include "sctp_assoc.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- packet queues ------------------------------------------------------------------------- */

typedef struct q {
    uint8_t (*p)[1200];
    size_t *len;
    size_t n, cap;
} q;

static int q_push(q *x, const uint8_t *p, size_t len)
{
    if (len > 1200)
        return -1;
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 256;
        x->p = realloc(x->p, x->cap * sizeof *x->p);
        x->len = realloc(x->len, x->cap * sizeof *x->len);
    }
    memcpy(x->p[x->n], p, len);
    x->len[x->n++] = len;
    return 0;
}

typedef struct end {
    q out;
    uint64_t rx_bytes, rx_msgs, rx_bad;
    size_t want_len;
    int up;
} end;

static q scratch;

/* Messages the sender queues between two rounds of packet exchange (one engine poll's worth:
 * the native stack is corked around them, so small ones share packets). */
static int BATCH = 64; /* ZDC_SCTP_BENCH_BATCH overrides */

/* ---- native ---------------------------------------------------------------------------------- */

static int n_send(void *u, const uint8_t *p, size_t len)
{
    return q_push(&((end *)u)->out, p, len);
}
static void n_up(void *u, uint16_t i, uint16_t o)
{
    ((end *)u)->up = 1;
}
static void n_msg(void *u, uint16_t s, uint32_t ppid, const uint8_t *p, size_t len, unsigned f)
{
    end *e = u;
    e->rx_msgs++;
    e->rx_bytes += len;
    if (len != e->want_len)
        e->rx_bad++;
}

static zdc_sctp_assoc *n_new(end *e, uint64_t seed)
{
    zdc_sctp_assoc_config c;
    zdc_sctp_assoc_config_default(&c);
    c.random_seed = seed;
    c.cookie_key[0] = (uint8_t)seed;
    c.cb = (zdc_sctp_assoc_callbacks){.send = n_send, .on_up = n_up, .on_message = n_msg};
    c.user = e;
    zdc_sctp_assoc *a;
    if (zdc_sctp_assoc_new(&c, &a) != 0)
        abort();
    return a;
}

static void n_move(end *from, zdc_sctp_assoc *to, uint64_t now)
{
    q tmp = from->out;
    from->out = scratch;
    for (size_t i = 0; i < tmp.n; i++)
        zdc_sctp_assoc_handle_packet(to, tmp.p[i], tmp.len[i], now);
    tmp.n = 0;
    scratch = tmp;
}

static void n_pump(zdc_sctp_assoc *a, end *ea, zdc_sctp_assoc *b, end *eb)
{
    uint64_t now = mono_ns();
    n_move(ea, b, now);
    n_move(eb, a, now);
    if (zdc_sctp_assoc_next_timeout(a) <= now)
        zdc_sctp_assoc_handle_timeout(a, now);
    if (zdc_sctp_assoc_next_timeout(b) <= now)
        zdc_sctp_assoc_handle_timeout(b, now);
}

static double native_case(size_t len, double secs)
{
    end ea = {0}, eb = {0};
    zdc_sctp_assoc *a = n_new(&ea, 1), *b = n_new(&eb, 2);
    zdc_sctp_assoc_connect(a, mono_ns());
    zdc_sctp_assoc_connect(b, mono_ns());
    while (!(ea.up && eb.up))
        n_pump(a, &ea, b, &eb);
    eb.want_len = len;
    uint8_t *msg = calloc(1, len);
    uint64_t t0 = mono_ns(), end_t = t0 + (uint64_t)(secs * 1e9);
    while (mono_ns() < end_t) {
        zdc_sctp_assoc_cork(a, true, 0);
        for (int k = 0; k < BATCH && zdc_sctp_assoc_buffered_amount(a) < 1024 * 1024; k++)
            zdc_sctp_assoc_send(a, 1, 53, msg, len, false, 0);
        zdc_sctp_assoc_cork(a, false, mono_ns());
        n_pump(a, &ea, b, &eb);
    }
    double dt = (double)(mono_ns() - t0) / 1e9;
    if (eb.rx_bad)
        fprintf(stderr, "native: %llu bad messages\n", (unsigned long long)eb.rx_bad);
    free(msg);
    zdc_sctp_assoc_free(a);
    zdc_sctp_assoc_free(b);
    free(ea.out.p);
    free(ea.out.len);
    free(eb.out.p);
    free(eb.out.len);
    return (double)eb.rx_bytes / dt;
}

/* ---- usrsctp -----------------------------------------------------------------------------------
 */

static void u_msg(void *u, uint16_t s, uint32_t ppid, const uint8_t *p, size_t len, unsigned f)
{
    n_msg(u, s, ppid, p, len, f);
}

static zdc_sctp *u_new(end *e)
{
    zdc_sctp_config c;
    zdc_sctp_config_default(&c);
    c.cb.send = n_send;
    c.cb.on_up = n_up;
    c.cb.on_message = u_msg;
    c.user = e;
    zdc_sctp *s;
    if (zdc_sctp_new(&c, &s) != 0)
        abort();
    return s;
}

static void u_move(end *from, zdc_sctp *to)
{
    q tmp = from->out;
    from->out = scratch;
    for (size_t i = 0; i < tmp.n; i++)
        zdc_sctp_handle_packet(to, tmp.p[i], tmp.len[i]);
    tmp.n = 0;
    scratch = tmp;
}

static void u_pump(zdc_sctp *a, end *ea, zdc_sctp *b, end *eb)
{
    u_move(ea, b);
    u_move(eb, a);
    zdc_sctp_global_tick(mono_ns());
}

static double usrsctp_case(size_t len, double secs)
{
    end ea = {0}, eb = {0};
    zdc_sctp *a = u_new(&ea), *b = u_new(&eb);
    zdc_sctp_global_tick(mono_ns());
    zdc_sctp_connect(a);
    zdc_sctp_connect(b);
    while (!(ea.up && eb.up))
        u_pump(a, &ea, b, &eb);
    eb.want_len = len;
    uint8_t *msg = calloc(1, len);
    uint64_t t0 = mono_ns(), end_t = t0 + (uint64_t)(secs * 1e9);
    while (mono_ns() < end_t) {
        for (int k = 0; k < BATCH && zdc_sctp_buffered_amount(a) < 1024 * 1024 &&
                        zdc_sctp_send(a, 1, 53, msg, len, NULL) == 0;
             k++)
            ;
        u_pump(a, &ea, b, &eb);
    }
    double dt = (double)(mono_ns() - t0) / 1e9;
    if (eb.rx_bad)
        fprintf(stderr, "usrsctp: %llu bad messages\n", (unsigned long long)eb.rx_bad);
    free(msg);
    zdc_sctp_free(a);
    zdc_sctp_free(b);
    for (int i = 0; i < 50; i++) /* let usrsctp free closed endpoints */
        zdc_sctp_global_tick(mono_ns() + (uint64_t)i * 20000000ull);
    free(ea.out.p);
    free(ea.out.len);
    free(eb.out.p);
    free(eb.out.len);
    return (double)eb.rx_bytes / dt;
}

/* ---- idle memory
 * --------------------------------------------------------------------------------- */

#define PAIRS 200

static double native_idle_bytes(void)
{
    static end e[2 * PAIRS];
    static zdc_sctp_assoc *s[2 * PAIRS];
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < PAIRS; i++) {
        s[2 * i] = n_new(&e[2 * i], 10 + (uint64_t)i);
        s[2 * i + 1] = n_new(&e[2 * i + 1], 100000 + (uint64_t)i);
        zdc_sctp_assoc_connect(s[2 * i], mono_ns());
        zdc_sctp_assoc_connect(s[2 * i + 1], mono_ns());
        while (!(e[2 * i].up && e[2 * i + 1].up))
            n_pump(s[2 * i], &e[2 * i], s[2 * i + 1], &e[2 * i + 1]);
        /* two channels' worth of streams used once each way */
        for (uint16_t st = 0; st < 2; st++) {
            zdc_sctp_assoc_send(s[2 * i], st, 51, "x", 1, false, mono_ns());
            zdc_sctp_assoc_send(s[2 * i + 1], st, 51, "y", 1, false, mono_ns());
        }
        for (int k = 0; k < 4; k++)
            n_pump(s[2 * i], &e[2 * i], s[2 * i + 1], &e[2 * i + 1]);
    }
    size_t q_bytes = 0;
    for (int i = 0; i < 2 * PAIRS; i++) {
        q_bytes += e[i].out.cap * (1200 + sizeof(size_t));
    }
    size_t after = mallinfo2().uordblks;
    double per = ((double)(after - before) - (double)q_bytes) / (2 * PAIRS);
    for (int i = 0; i < 2 * PAIRS; i++) {
        zdc_sctp_assoc_free(s[i]);
        free(e[i].out.p);
        free(e[i].out.len);
    }
    return per;
}

static double usrsctp_idle_bytes(void)
{
    static end e[2 * PAIRS];
    static zdc_sctp *s[2 * PAIRS];
    zdc_sctp_global_tick(mono_ns());
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < PAIRS; i++) {
        s[2 * i] = u_new(&e[2 * i]);
        s[2 * i + 1] = u_new(&e[2 * i + 1]);
        zdc_sctp_connect(s[2 * i]);
        zdc_sctp_connect(s[2 * i + 1]);
        while (!(e[2 * i].up && e[2 * i + 1].up))
            u_pump(s[2 * i], &e[2 * i], s[2 * i + 1], &e[2 * i + 1]);
        for (uint16_t st = 0; st < 2; st++) {
            zdc_sctp_send(s[2 * i], st, 51, (const uint8_t *)"x", 1, NULL);
            zdc_sctp_send(s[2 * i + 1], st, 51, (const uint8_t *)"y", 1, NULL);
        }
        for (int k = 0; k < 4; k++)
            u_pump(s[2 * i], &e[2 * i], s[2 * i + 1], &e[2 * i + 1]);
    }
    size_t q_bytes = 0;
    for (int i = 0; i < 2 * PAIRS; i++)
        q_bytes += e[i].out.cap * (1200 + sizeof(size_t));
    size_t after = mallinfo2().uordblks;
    double per = ((double)(after - before) - (double)q_bytes) / (2 * PAIRS);
    for (int i = 0; i < 2 * PAIRS; i++) {
        zdc_sctp_free(s[i]);
        free(e[i].out.p);
        free(e[i].out.len);
    }
    return per;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (getenv("ZDC_SCTP_BENCH_BATCH"))
        BATCH = atoi(getenv("ZDC_SCTP_BENCH_BATCH"));
    size_t sizes[] = {65536, 16384, 1024, 100};
    printf("sctp_bench: %.2f s per case, MTU 1200, one reliable ordered stream, in memory\n", secs);
    printf("%-8s %14s %14s %8s\n", "size", "native MB/s", "usrsctp MB/s", "ratio");
    size_t only = argc > 2 ? (size_t)atol(argv[2]) : 0;
    const char *which = argc > 3 ? argv[3] : "";
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (only && sizes[i] != only)
            continue;
        double n = strcmp(which, "usrsctp") ? native_case(sizes[i], secs) : 0;
        double u = strcmp(which, "native") ? usrsctp_case(sizes[i], secs) : 0;
        printf("%-8zu %14.1f %14.1f %7.2fx\n", sizes[i], n / 1e6, u / 1e6, n / u);
    }
    if (only)
        return 0;
    double ni = native_idle_bytes();
    double ui = usrsctp_idle_bytes();
    printf("idle association (established, 2 streams used each way), heap bytes: native %.0f, "
           "usrsctp %.0f (%.1fx less)\n",
           ni, ui, ui / ni);
    free(scratch.p);
    free(scratch.len);
    return 0;
}
