/* zdc's side of the throughput, latency and connect cases, used the way an application
 * would: zdc_engine_new with loopback candidates, zdc_peer_*, zdc_channel_put_packet, views
 * from zdc_channel_get_packet, zdc_engine_poll.
 *
 * One process: both peers on one engine, one thread. Two processes: fork; the parent keeps
 * the offering peer (sender, latency probe), the child gets its own engine and the answering
 * peer (receiver and checker, or echo); signaling and the case's control messages travel on
 * a socket pair. Both processes read the same CLOCK_MONOTONIC. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf.h"
#include "side.h"

#define HIGH_WATER  (1024u * 1024u) /* bytes kept queued by a sender */
#define CONNECT_MAX 10.0            /* seconds */
#define LAT_SIZE    100u
#define DRAIN_MAX   60.0 /* seconds */
#define DRAIN_IDLE  5.0  /* seconds without progress */

static char sigbuf[1 << 17];

/* Applies signaling waiting on fd to s; a control message goes to ctl (if given) and ends
 * the call. Returns how many messages were read, or -1 when the other end closed. */
static int pump(int fd, perf_side *s, perf_sig_msg *ctl, bool *got_ctl)
{
    perf_sig_msg m;
    int n = 0;
    for (int i = 0; i < 64; i++) {
        int r = perf_sig_recv(fd, &m, sigbuf, sizeof sigbuf, 0);
        if (r < 0)
            return -1;
        if (r == 0)
            return n;
        n++;
        if (m.kind == 'D' || m.kind == 'C') {
            perf_side_apply(s, &m);
        } else if (ctl) {
            *ctl = m;
            *got_ctl = true;
            return n;
        }
    }
    return n;
}

/* ---- one process ----------------------------------------------------------------------- */

typedef struct pair1 {
    zdc_engine *e;
    int sv[2];
    perf_side a, b; /* a offers (and sends), b answers */
} pair1;

static int pair1_connect(pair1 *p, bool reliable, double *took)
{
    double t0 = perf_now();
    if (perf_side_new(&p->a, p->e, p->sv[0], 0) || perf_side_new(&p->b, p->e, p->sv[1], 0) ||
        perf_side_offer(&p->a, reliable))
        return -1;
    while (!(p->a.open && p->b.open) && !p->a.errors && !p->b.errors &&
           perf_now() - t0 < CONNECT_MAX) {
        zdc_engine_poll(p->e, 0);
        pump(p->sv[1], &p->b, NULL, NULL);
        pump(p->sv[0], &p->a, NULL, NULL);
    }
    if (!(p->a.open && p->b.open))
        return -1;
    *took = (p->a.open_at > p->b.open_at ? p->a.open_at : p->b.open_at) - t0;
    return 0;
}

static int pair1_init(pair1 *p)
{
    memset(p, 0, sizeof *p);
    if (perf_sig_pair(p->sv) != 0)
        return -1;
    p->e = perf_engine_new(false);
    return p->e ? 0 : -1;
}

static void pair1_free_sides(pair1 *p)
{
    perf_side_free(&p->a);
    perf_side_free(&p->b);
}

static void pair1_free(pair1 *p)
{
    pair1_free_sides(p);
    zdc_engine_free(p->e);
    close(p->sv[0]);
    close(p->sv[1]);
}

static void tp_metrics(perf_metrics *out, const perf_case *c, uint64_t sent, uint64_t received,
                       uint64_t bytes, uint64_t bad, double secs)
{
    perf_metric_set(out, "mbps", secs > 0 ? (double)bytes / secs / 1e6 : 0);
    perf_metric_set(out, "msgs", secs > 0 ? (double)received / secs : 0);
    perf_metric_set(out, "loss_pct", sent ? 100.0 * (double)(sent - received) / (double)sent : 0);
    perf_metric_set(out, "bad", (double)bad);
    perf_metric_set(out, "sent", (double)sent);
    perf_metric_set(out, "received", (double)received);
    out->ok = true;
    if (bad)
        perf_fail(out, "%llu messages failed the check", (unsigned long long)bad);
    else if (received == 0)
        perf_fail(out, "nothing arrived");
    else if (c->reliable && received != sent)
        perf_fail(out, "reliable: %llu of %llu messages arrived", (unsigned long long)received,
                  (unsigned long long)sent);
}

/* The measured phase of a one-process throughput case: sends for the set time, then waits for
 * what is in flight. Returns the messages sent. Kept out of line so that a profiler can
 * collect this phase alone (callgrind --toggle-collect=send_and_drain_1p). */
static __attribute__((noinline)) uint64_t send_and_drain_1p(pair1 *p, const perf_case *c,
                                                            const perf_params *prm)
{
    uint8_t *buf = calloc(1, c->size);
    uint64_t seq = 0;
    double end = perf_now() + prm->tp_secs;
    while (buf && perf_now() < end) {
        perf_side_fill(&p->a, buf, c->size, &seq, HIGH_WATER, 512);
        zdc_engine_poll(p->e, 0);
    }
    /* Drain: until everything arrived, or nothing more came for a while (0.3 s unreliable,
     * DRAIN_IDLE reliable: a starved process can take seconds for the last MiB), bounded. */
    double drain_end = perf_now() + DRAIN_MAX, last_count_at = perf_now();
    uint64_t last_count = p->b.rx.msgs;
    while (p->b.rx.msgs < seq && perf_now() < drain_end) {
        zdc_engine_poll(p->e, 1);
        if (p->b.rx.msgs != last_count) {
            last_count = p->b.rx.msgs;
            last_count_at = perf_now();
        } else if (perf_now() - last_count_at > (c->reliable ? DRAIN_IDLE : 0.3)) {
            break;
        }
    }
    free(buf);
    return seq;
}

static void throughput_1p(const perf_case *c, const perf_params *prm, perf_metrics *out)
{
    pair1 p;
    double took;
    if (pair1_init(&p) != 0) {
        perf_fail(out, "engine");
        return;
    }
    if (pair1_connect(&p, c->reliable, &took) != 0) {
        perf_fail(out, "did not connect");
        pair1_free(&p);
        return;
    }
    p.b.on_msg = perf_side_check;
    perf_rx_init(&p.b.rx, c->size, c->reliable);
    double t0 = perf_now();
    uint64_t seq = send_and_drain_1p(&p, c, prm);
    tp_metrics(out, c, seq, p.b.rx.msgs, p.b.rx.bytes, p.b.rx.bad, p.b.rx.last - t0);
    pair1_free(&p);
}

/* Latency probe: a 100-byte message numbered in its first 8 bytes, echoed by the other side;
 * the next one leaves when the echo is back. */
typedef struct probe {
    double *rtt;
    int want, warmup, got, bad;
    uint8_t msg[LAT_SIZE];
    uint64_t seq;
} probe;

static void probe_send(perf_side *s)
{
    probe *pr = s->user;
    memcpy(pr->msg, &pr->seq, 8);
    s->sent_at = perf_now();
    if (zdc_channel_put_packet(s->ch, pr->msg, LAT_SIZE) != 0)
        s->errors++;
}

static void probe_on_msg(perf_side *s, const uint8_t *p, size_t len, bool text)
{
    probe *pr = s->user;
    double t = perf_now();
    uint64_t seq = UINT64_MAX;
    if (len == LAT_SIZE && !text)
        memcpy(&seq, p, 8);
    if (seq != pr->seq) {
        pr->bad++;
        return;
    }
    if (pr->seq >= (uint64_t)pr->warmup && pr->got < pr->want)
        pr->rtt[pr->got++] = t - s->sent_at;
    pr->seq++;
    if (pr->got < pr->want)
        probe_send(s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void latency_metrics(perf_metrics *out, probe *pr)
{
    if (pr->bad) {
        perf_fail(out, "%d echoes failed the check", pr->bad);
        return;
    }
    if (pr->got < pr->want) {
        perf_fail(out, "%d of %d round trips completed", pr->got, pr->want);
        return;
    }
    qsort(pr->rtt, (size_t)pr->got, sizeof(double), cmp_double);
    int n = pr->got;
    perf_metric_set(out, "p50_us", pr->rtt[n / 2] * 1e6);
    perf_metric_set(out, "p99_us", pr->rtt[(int)((double)n * 0.99)] * 1e6);
    perf_metric_set(out, "p999_us", pr->rtt[(int)((double)n * 0.999)] * 1e6);
    perf_metric_set(out, "n", n);
    out->ok = true;
}

static void probe_init(probe *pr, int want)
{
    memset(pr, 0, sizeof *pr);
    pr->want = want;
    pr->warmup = want / 10 < 1000 ? want / 10 : 1000;
    pr->rtt = calloc((size_t)want, sizeof(double));
}

static double latency_budget(int want)
{
    return 30.0 + (double)want * 1e-3; /* 1 ms per round trip is far beyond any result */
}

static void latency_1p(const perf_case *c, const perf_params *prm, perf_metrics *out)
{
    (void)c;
    pair1 p;
    double took;
    if (pair1_init(&p) != 0 || pair1_connect(&p, true, &took) != 0) {
        perf_fail(out, "did not connect");
        if (p.e)
            pair1_free(&p);
        return;
    }
    probe pr;
    probe_init(&pr, prm->rtt_count);
    p.a.user = &pr;
    p.a.on_msg = probe_on_msg;
    p.b.on_msg = perf_side_echo;
    probe_send(&p.a);
    double end = perf_now() + latency_budget(pr.want);
    while (pr.got < pr.want && !pr.bad && !p.a.errors && !p.b.errors && perf_now() < end)
        zdc_engine_poll(p.e, 1);
    latency_metrics(out, &pr);
    free(pr.rtt);
    pair1_free(&p);
}

/* Connects `count` times one after the other (one(arg, i, &took): 0 when connection i opened,
 * its create-to-open time in seconds) and reports the median, fastest and slowest; the first
 * failure ends the series and fails the case. */
static void connect_series(perf_metrics *out, int count, int (*one)(void *arg, int i, double *took),
                           void *arg)
{
    double *t = calloc((size_t)count, sizeof *t);
    if (!t) {
        perf_fail(out, "out of memory");
        return;
    }
    int n = 0;
    for (int i = 0; i < count; i++) {
        double took;
        if (one(arg, i, &took) != 0) {
            perf_fail(out, "connection %d did not open", i);
            break;
        }
        t[n++] = took;
    }
    if (n == count && n > 0) {
        qsort(t, (size_t)n, sizeof *t, cmp_double);
        perf_metric_set(out, "median_ms", t[n / 2] * 1e3);
        perf_metric_set(out, "min_ms", t[0] * 1e3);
        perf_metric_set(out, "max_ms", t[n - 1] * 1e3);
        perf_metric_set(out, "n", n);
        out->ok = true;
    }
    free(t);
}

static int connect_one_1p(void *arg, int i, double *took)
{
    pair1 *p = arg;
    (void)i;
    int rv = pair1_connect(p, true, took);
    pair1_free_sides(p);
    return rv;
}

static void connect_1p(const perf_case *c, const perf_params *prm, perf_metrics *out)
{
    (void)c;
    pair1 p;
    if (pair1_init(&p) != 0) {
        perf_fail(out, "engine");
        return;
    }
    connect_series(out, prm->connects, connect_one_1p, &p);
    pair1_free(&p);
}

/* ---- two processes ------------------------------------------------------------------- */

enum child_role { CHILD_RECV, CHILD_ECHO, CHILD_ANSWER };

/* The child: answers every offer (a new idx replaces the previous peer), reports 'O' when a
 * channel opened, checks or echoes messages, and on 'E' <count> reports 'R' with what
 * arrived once everything did (or, unreliable, nothing more came for 0.3 s). */
static int child_main(int fd, enum child_role role, size_t size, bool ordered)
{
    zdc_engine *e = perf_engine_new(false);
    if (!e)
        return 1;
    perf_side s;
    memset(&s, 0, sizeof s);
    bool have = false, told_open = false;
    uint64_t expect = UINT64_MAX;
    double deadline = perf_now() + 600, last_rx = perf_now();
    uint64_t last_msgs = 0;
    perf_spin sp = {0};
    int r = 0;
    while (perf_now() < deadline) {
        perf_spin_poll(e, &sp, r == 1);
        perf_sig_msg m;
        r = perf_sig_recv(fd, &m, sigbuf, sizeof sigbuf, 0);
        if (r < 0)
            break;
        if (r == 1 && m.kind == 'D' && (!have || m.idx != s.idx)) {
            if (have)
                perf_side_free(&s);
            have = perf_side_new(&s, e, fd, m.idx) == 0;
            told_open = false;
            s.on_msg = role == CHILD_ECHO ? perf_side_echo : perf_side_check;
            perf_rx_init(&s.rx, size, ordered);
        }
        if (r == 1 && (m.kind == 'D' || m.kind == 'C') && have && m.idx == s.idx)
            perf_side_apply(&s, &m);
        else if (r == 1 && m.kind == 'E')
            expect = strtoull(m.text, NULL, 10);
        else if (r == 1 && m.kind == 'Q')
            break;
        if (have && s.open && !told_open) {
            char t[64];
            snprintf(t, sizeof t, "%.9f", s.open_at);
            perf_sig_send(fd, 'O', s.idx, "", 0, t);
            told_open = true;
        }
        if (s.rx.msgs != last_msgs) {
            last_msgs = s.rx.msgs;
            last_rx = perf_now();
        }
        if (expect != UINT64_MAX &&
            (s.rx.msgs >= expect || perf_now() - last_rx > (ordered ? DRAIN_IDLE : 0.3))) {
            char t[160];
            snprintf(t, sizeof t, "%llu %llu %llu %.9f", (unsigned long long)s.rx.msgs,
                     (unsigned long long)s.rx.bytes, (unsigned long long)s.rx.bad, s.rx.last);
            perf_sig_send(fd, 'R', s.idx, "", 0, t);
            expect = UINT64_MAX;
        }
    }
    if (have)
        perf_side_free(&s);
    zdc_engine_free(e);
    return 0;
}

typedef struct pair2 {
    pid_t pid;
    int fd;
    zdc_engine *e;
    perf_side a;
} pair2;

static int pair2_start(pair2 *p, enum child_role role, size_t size, bool ordered)
{
    memset(p, 0, sizeof *p);
    int sv[2];
    if (perf_sig_pair(sv) != 0)
        return -1;
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        close(sv[0]);
        _exit(child_main(sv[1], role, size, ordered));
    }
    close(sv[1]);
    p->fd = sv[0];
    p->e = perf_engine_new(false);
    return p->e ? 0 : -1;
}

/* Offers from a new peer numbered idx; waits until its channel and the child's are open. */
static int pair2_connect(pair2 *p, int idx, bool reliable, double *took)
{
    double t0 = perf_now(), child_open = 0;
    if (perf_side_new(&p->a, p->e, p->fd, idx) || perf_side_offer(&p->a, reliable))
        return -1;
    perf_spin sp = {0};
    int n = 0;
    while (!(p->a.open && child_open > 0) && !p->a.errors && perf_now() - t0 < CONNECT_MAX) {
        perf_spin_poll(p->e, &sp, n > 0);
        perf_sig_msg m;
        bool got = false;
        if ((n = pump(p->fd, &p->a, &m, &got)) < 0)
            return -1;
        if (got && m.kind == 'O' && m.idx == idx)
            child_open = strtod(m.text, NULL);
    }
    if (!(p->a.open && child_open > 0))
        return -1;
    *took = (p->a.open_at > child_open ? p->a.open_at : child_open) - t0;
    return 0;
}

static void pair2_end(pair2 *p)
{
    perf_side_free(&p->a);
    if (p->fd > 0) {
        perf_sig_send(p->fd, 'Q', 0, "", 0, "");
        close(p->fd);
    }
    if (p->pid > 0) {
        int st;
        double end = perf_now() + 5;
        while (waitpid(p->pid, &st, WNOHANG) == 0 && perf_now() < end)
            usleep(1000);
        if (waitpid(p->pid, &st, WNOHANG) == 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
        }
    }
    if (p->e)
        zdc_engine_free(p->e);
}

static void throughput_2p(const perf_case *c, const perf_params *prm, perf_metrics *out)
{
    pair2 p;
    double took;
    if (pair2_start(&p, CHILD_RECV, c->size, c->reliable) != 0 ||
        pair2_connect(&p, 0, c->reliable, &took) != 0) {
        perf_fail(out, "did not connect");
        pair2_end(&p);
        return;
    }
    uint8_t *buf = calloc(1, c->size);
    uint64_t seq = 0;
    double t0 = perf_now(), end = t0 + prm->tp_secs;
    while (perf_now() < end) {
        perf_side_fill(&p.a, buf, c->size, &seq, HIGH_WATER, 512);
        zdc_engine_poll(p.e, 0);
    }
    char cnt[32];
    snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)seq);
    perf_sig_send(p.fd, 'E', 0, "", 0, cnt);
    bool done = false;
    double deadline = perf_now() + DRAIN_MAX + 10;
    while (!done && perf_now() < deadline) {
        zdc_engine_poll(p.e, 1); /* what is still queued or unacknowledged must go out */
        perf_sig_msg m;
        bool got = false;
        if (pump(p.fd, &p.a, &m, &got) < 0)
            break;
        if (got && m.kind == 'R') {
            unsigned long long rx, bytes, bad;
            double last;
            if (sscanf(m.text, "%llu %llu %llu %lf", &rx, &bytes, &bad, &last) == 4) {
                tp_metrics(out, c, seq, rx, bytes, bad, last - t0);
                done = true;
            }
        }
    }
    if (!done)
        perf_fail(out, "the receiver did not report");
    free(buf);
    pair2_end(&p);
}

static void latency_2p(const perf_case *c, const perf_params *prm, perf_metrics *out)
{
    (void)c;
    pair2 p;
    double took;
    if (pair2_start(&p, CHILD_ECHO, LAT_SIZE, true) != 0 ||
        pair2_connect(&p, 0, true, &took) != 0) {
        perf_fail(out, "did not connect");
        pair2_end(&p);
        return;
    }
    probe pr;
    probe_init(&pr, prm->rtt_count);
    p.a.user = &pr;
    p.a.on_msg = probe_on_msg;
    probe_send(&p.a);
    double end = perf_now() + latency_budget(pr.want);
    while (pr.got < pr.want && !pr.bad && !p.a.errors && perf_now() < end)
        zdc_engine_poll(p.e, 1);
    latency_metrics(out, &pr);
    free(pr.rtt);
    pair2_end(&p);
}

static int connect_one_2p(void *arg, int i, double *took)
{
    pair2 *p = arg;
    int rv = pair2_connect(p, i, true, took);
    perf_side_free(&p->a);
    return rv;
}

static void connect_2p(const perf_case *c, const perf_params *prm, perf_metrics *out)
{
    (void)c;
    pair2 p;
    if (pair2_start(&p, CHILD_ANSWER, 8, true) != 0) {
        perf_fail(out, "could not start the other process");
        pair2_end(&p);
        return;
    }
    connect_series(out, prm->connects, connect_one_2p, &p);
    pair2_end(&p);
}

void perf_zdc_throughput(const perf_case *c, const perf_params *p, perf_metrics *out)
{
    (c->procs == 2 ? throughput_2p : throughput_1p)(c, p, out);
}

void perf_zdc_latency(const perf_case *c, const perf_params *p, perf_metrics *out)
{
    (c->procs == 2 ? latency_2p : latency_1p)(c, p, out);
}

void perf_zdc_connect(const perf_case *c, const perf_params *p, perf_metrics *out)
{
    (c->procs == 2 ? connect_2p : connect_1p)(c, p, out);
}

void perf_zdc_run(const perf_case *c, const perf_params *p, perf_metrics *out)
{
    memset(out, 0, sizeof *out);
    switch (c->kind) {
    case PERF_THROUGHPUT:
        perf_zdc_throughput(c, p, out);
        break;
    case PERF_LATENCY:
        perf_zdc_latency(c, p, out);
        break;
    case PERF_CONNECT:
        perf_zdc_connect(c, p, out);
        break;
    case PERF_HANDSHAKES:
        perf_zdc_handshakes(c, p, out);
        break;
    case PERF_SCALE:
        perf_zdc_scale(c, p, out);
        break;
    }
}
