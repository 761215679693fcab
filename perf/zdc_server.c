/* One server engine (one UDP port) and many clients, as a game server sees them:
 *   handshakes: N clients offer at once; the server answers each and counts channels open;
 *               handshakes per second of the server process's CPU (per core) and of wall time.
 *   scale:      N connected clients each send a 64-byte message 20 times a second on an
 *               unreliable channel; the server echoes every one. Server CPU per 1,000 peers,
 *               the clients' round-trip time of a tick (p50/p99), the server's resident memory
 *               per idle connected peer (RSS delta / N).
 * The server is this process (its engine polled with a 1 ms timeout, as a server loop
 * would); the clients are forked processes holding N engines between them (epoll backend, one
 * port each: the server tells peers apart by remote address), created before anything is
 * timed. Each client process holds at most CLIENTS_PER_PROC engines (two descriptors each), so
 * 10,000 clients stay under a 20,000-descriptor limit per process.
 *
 * Control messages on each client process's signaling pair: child 'Y' ready (engines made),
 * parent 'G' go (clients offer), parent 'T' <seconds> tick, child 'R' <report>, parent 'Q'
 * quit. Peer indexes in 'D'/'C' messages are global (0..N-1). */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heap.h"
#include "perf.h"
#include "side.h"

#define TICK_SIZE   64u
#define TICK_PERIOD 0.05 /* 20 Hz */
#ifndef CLIENTS_PER_PROC
#define CLIENTS_PER_PROC 2500
#endif
#define MAX_CLIENT_PROCS 8
#define SCALE_WAVE       100

static char sigbuf[1 << 17];

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- the clients' process -------------------------------------------------------------- */

typedef struct clients {
    int lo, n, fd; /* clients lo .. lo+n-1 */
    zdc_engine **e;
    perf_side *s;
    double *next_tick;
    double *rtt;
    size_t n_rtt, cap_rtt;
    uint64_t sent, received, bad;
} clients;

static void tick_on_echo(perf_side *s, const uint8_t *p, size_t len, bool text)
{
    clients *c = s->user;
    double t = perf_now(), at;
    uint32_t who;
    if (len != TICK_SIZE || text) {
        c->bad++;
        return;
    }
    memcpy(&at, p + 8, sizeof at);
    memcpy(&who, p + 16, sizeof who);
    if (who != (uint32_t)s->idx) { /* the global index, as sent */
        c->bad++;
        return;
    }
    c->received++;
    if (c->n_rtt < c->cap_rtt)
        c->rtt[c->n_rtt++] = t - at;
}

static void clients_poll(clients *c)
{
    for (int i = 0; i < c->n; i++)
        zdc_engine_poll(c->e[i], 0);
}

static int clients_pump(clients *c, perf_sig_msg *ctl)
{
    perf_sig_msg m;
    for (int k = 0; k < 4096; k++) {
        int r = perf_sig_recv(c->fd, &m, sigbuf, sizeof sigbuf, 0);
        if (r <= 0)
            return r;
        if ((m.kind == 'D' || m.kind == 'C') && m.idx >= c->lo && m.idx < c->lo + c->n) {
            perf_side_apply(&c->s[m.idx - c->lo], &m);
        } else {
            *ctl = m;
            return 1;
        }
    }
    return 0;
}

static void clients_tick(clients *c, double secs)
{
    double t0 = perf_now(), end = t0 + secs;
    uint8_t msg[TICK_SIZE] = {0};
    for (int i = 0; i < c->n; i++)
        c->next_tick[i] = t0 + TICK_PERIOD * (double)i / (double)c->n; /* spread over a tick */
    c->cap_rtt = (size_t)((double)c->n * secs / TICK_PERIOD) + (size_t)c->n + 16;
    c->rtt = calloc(c->cap_rtt, sizeof *c->rtt);
    while (perf_now() < end) {
        for (int i = 0; i < c->n; i++) {
            double now = perf_now();
            if (now < c->next_tick[i] || !c->s[i].open)
                continue;
            uint64_t seq = c->sent;
            uint32_t who = (uint32_t)c->s[i].idx;
            memcpy(msg, &seq, 8);
            memcpy(msg + 8, &now, sizeof now);
            memcpy(msg + 16, &who, sizeof who);
            if (zdc_channel_put_packet(c->s[i].ch, msg, sizeof msg) == 0)
                c->sent++;
            c->next_tick[i] += TICK_PERIOD;
        }
        clients_poll(c);
    }
    double drain = perf_now() + 0.3; /* the last echoes */
    while (perf_now() < drain)
        clients_poll(c);
}

static void clients_report(clients *c)
{
    double p50 = 0, p99 = 0, p999 = 0;
    if (c->n_rtt) {
        qsort(c->rtt, c->n_rtt, sizeof *c->rtt, cmp_double);
        p50 = c->rtt[c->n_rtt / 2];
        p99 = c->rtt[(size_t)((double)c->n_rtt * 0.99)];
        p999 = c->rtt[(size_t)((double)c->n_rtt * 0.999)];
    }
    char t[200];
    snprintf(t, sizeof t, "%llu %llu %llu %.9f %.9f %.9f", (unsigned long long)c->sent,
             (unsigned long long)c->received, (unsigned long long)c->bad, p50, p99, p999);
    perf_sig_send(c->fd, 'R', 0, "", 0, t);
}

/* Creates and offers client peers from *made on while fewer than `wave` are still
 * connecting (wave 0: all at once). */
static int clients_offer(clients *c, int *made, int wave, bool reliable)
{
    int connecting = 0;
    for (int i = 0; i < *made; i++)
        connecting += !c->s[i].open && !c->s[i].errors; /* a failed one is not connecting */
    while (*made < c->n && (wave == 0 || connecting < wave)) {
        perf_side *s = &c->s[*made];
        if (perf_side_new(s, c->e[*made], c->fd, c->lo + *made) || perf_side_offer(s, reliable))
            return -1;
        s->user = c;
        s->on_msg = tick_on_echo;
        (*made)++;
        connecting++;
    }
    return 0;
}

static int clients_main(int fd, int lo, int n, bool reliable, int wave)
{
    clients c = {.lo = lo, .n = n, .fd = fd};
    c.e = calloc((size_t)n, sizeof *c.e);
    c.s = calloc((size_t)n, sizeof *c.s);
    c.next_tick = calloc((size_t)n, sizeof *c.next_tick);
    for (int i = 0; i < n; i++)
        if (!(c.e[i] = perf_engine_new(true)))
            return 1;
    perf_sig_send(fd, 'Y', 0, "", 0, "");
    double deadline = perf_now() + 600;
    bool go = false;
    int made = 0;
    while (perf_now() < deadline) {
        perf_sig_msg m;
        int r = clients_pump(&c, &m);
        if (r < 0 || (r == 1 && m.kind == 'Q'))
            break;
        if (r == 1 && m.kind == 'G' && !go) {
            go = true;
        }
        if (go && made < n && clients_offer(&c, &made, wave, reliable) != 0)
            return 1;
        if (r == 1 && m.kind == 'T') {
            clients_tick(&c, strtod(m.text, NULL));
            clients_report(&c);
        }
        if (go)
            clients_poll(&c);
        else
            usleep(1000);
    }
    for (int i = 0; i < n; i++) {
        if (c.s[i].peer.id)
            perf_side_free(&c.s[i]);
        zdc_engine_free(c.e[i]);
    }
    free(c.rtt);
    free(c.next_tick);
    free(c.s);
    free(c.e);
    return 0;
}

/* ---- the server (this process) ------------------------------------------------------- */

/* With --workers N the server engine has N workers (docs/threads.md), each polled by a thread
 * of its own that owns the peers idx % N: this thread reads the signaling and hands each
 * message to the owning worker's mailbox. */
typedef struct swork {
    struct server *sv;
    unsigned i;
    zdc_engine *w;
    pthread_t th;
    bool started;
    pthread_mutex_t lock;
    perf_sig_msg *box; /* text strdup'ed */
    size_t n, cap;
    _Atomic int n_open;
    _Atomic bool stop;
} swork;

typedef struct server {
    int workers;
    swork *wk;
    int n, n_open, k; /* peers; open; client processes */
    int fd[MAX_CLIENT_PROCS];
    pid_t pid[MAX_CLIENT_PROCS];
    char *got[MAX_CLIENT_PROCS]; /* each process's last control message of the awaited kind */
    zdc_engine *e;
    perf_side *s;
    bool *made;
} server;

static void server_broadcast(server *sv, char kind, const char *text)
{
    for (int j = 0; j < sv->k; j++)
        perf_sig_send(sv->fd[j], kind, 0, "", 0, text);
}

/* Creates (on the worker's thread) and feeds the server side of peer m->idx. */
static void server_apply(server *sv, zdc_engine *e, const perf_sig_msg *m)
{
    if (!sv->made[m->idx]) {
        if (perf_side_new(&sv->s[m->idx], e, sv->fd[m->idx / CLIENTS_PER_PROC], m->idx) != 0)
            return;
        sv->s[m->idx].on_msg = perf_side_echo;
        sv->made[m->idx] = true;
    }
    perf_side_apply(&sv->s[m->idx], m);
}

static void *swork_main(void *arg)
{
    swork *w = arg;
    server *sv = w->sv;
    double count_at = 0;
    while (!atomic_load(&w->stop)) {
        zdc_engine_poll(w->w, 1);
        pthread_mutex_lock(&w->lock);
        perf_sig_msg *box = w->box;
        size_t n = w->n;
        w->box = NULL;
        w->n = w->cap = 0;
        pthread_mutex_unlock(&w->lock);
        for (size_t j = 0; j < n; j++) {
            server_apply(sv, w->w, &box[j]);
            free((char *)box[j].text);
        }
        free(box);
        double now = perf_now();
        if (now - count_at > 0.05) {
            count_at = now;
            int open = 0;
            for (int i = (int)w->i; i < sv->n; i += sv->workers)
                open += sv->made[i] && sv->s[i].open;
            atomic_store(&w->n_open, open);
        }
    }
    return NULL;
}

static int server_post(server *sv, const perf_sig_msg *m)
{
    swork *w = &sv->wk[m->idx % sv->workers];
    perf_sig_msg c = *m;
    c.text = strdup(m->text ? m->text : "");
    pthread_mutex_lock(&w->lock);
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        perf_sig_msg *b = realloc(w->box, cap * sizeof *b);
        if (!b) {
            pthread_mutex_unlock(&w->lock);
            free((char *)c.text);
            return -1;
        }
        w->box = b;
        w->cap = cap;
    }
    w->box[w->n++] = c;
    pthread_mutex_unlock(&w->lock);
    zdc_engine_wake(w->w); /* any thread */
    return 0;
}

static int server_workers_start(server *sv)
{
    sv->wk = calloc((size_t)sv->workers, sizeof *sv->wk);
    if (!sv->wk)
        return -1;
    for (int i = 0; i < sv->workers; i++) {
        swork *w = &sv->wk[i];
        w->sv = sv;
        w->i = (unsigned)i;
        w->w = zdc_engine_worker(sv->e, (unsigned)i);
        pthread_mutex_init(&w->lock, NULL);
        if (pthread_create(&w->th, NULL, swork_main, w) != 0)
            return -1;
        w->started = true;
    }
    return 0;
}

static void server_workers_stop(server *sv)
{
    for (int i = 0; sv->wk && i < sv->workers; i++) {
        swork *w = &sv->wk[i];
        if (!w->started)
            continue;
        atomic_store(&w->stop, true);
        zdc_engine_wake(w->w);
        pthread_join(w->th, NULL);
        for (size_t j = 0; j < w->n; j++)
            free((char *)w->box[j].text);
        free(w->box);
        pthread_mutex_destroy(&w->lock);
    }
    free(sv->wk);
    sv->wk = NULL;
}

static void server_end(server *sv)
{
    server_broadcast(sv, 'Q', "");
    server_workers_stop(sv); /* the peers are this thread's again */
    for (int j = 0; j < sv->k; j++)
        close(sv->fd[j]);
    double end = perf_now() + 10;
    for (int j = 0; j < sv->k; j++) {
        int st;
        if (sv->pid[j] <= 0)
            continue;
        while (waitpid(sv->pid[j], &st, WNOHANG) == 0 && perf_now() < end)
            usleep(1000);
        if (waitpid(sv->pid[j], &st, WNOHANG) == 0) {
            kill(sv->pid[j], SIGKILL);
            waitpid(sv->pid[j], &st, 0);
        }
    }
    for (int i = 0; i < sv->n; i++)
        if (sv->made && sv->made[i])
            perf_side_free(&sv->s[i]);
    if (sv->e)
        zdc_engine_free(sv->e);
    for (int j = 0; j < sv->k; j++)
        free(sv->got[j]);
    free(sv->s);
    free(sv->made);
}

/* Serves until every client process sent a control message of `kind` (kept in sv->got),
 * or, for kind 0, until every peer's channel is open. Returns 1, or 0 on timeout/close. */
static int server_serve(server *sv, char kind, double secs)
{
    double end = perf_now() + secs, sig_at = 0;
    int have = 0;
    for (int j = 0; j < sv->k; j++) {
        free(sv->got[j]);
        sv->got[j] = NULL;
    }
    while (perf_now() < end) {
        if (sv->wk) {
            /* The workers poll the engine: wait for signaling only. */
            struct pollfd pf[MAX_CLIENT_PROCS];
            for (int j = 0; j < sv->k; j++)
                pf[j] = (struct pollfd){.fd = sv->fd[j], .events = POLLIN};
            poll(pf, (nfds_t)sv->k, 2);
        } else {
            zdc_engine_poll(sv->e, 1);
        }
        /* The signaling sockets are the harness's, not the server's: read them at most once a
         * millisecond so that their system calls do not count as the server's work. */
        double now = perf_now();
        if (now - sig_at < 1e-3)
            continue;
        sig_at = now;
        for (int j = 0; j < sv->k; j++)
            for (int k = 0; k < 4096; k++) {
                perf_sig_msg m;
                int r = perf_sig_recv(sv->fd[j], &m, sigbuf, sizeof sigbuf, 0);
                if (r < 0)
                    return 0;
                if (r == 0)
                    break;
                if ((m.kind == 'D' || m.kind == 'C') && m.idx >= 0 && m.idx < sv->n && sv->wk) {
                    if (server_post(sv, &m) != 0)
                        return 0;
                } else if ((m.kind == 'D' || m.kind == 'C') && m.idx >= 0 && m.idx < sv->n) {
                    if (!sv->made[m.idx]) {
                        if (perf_side_new(&sv->s[m.idx], sv->e, sv->fd[m.idx / CLIENTS_PER_PROC],
                                          m.idx) != 0)
                            return 0;
                        sv->s[m.idx].on_msg = perf_side_echo;
                        sv->made[m.idx] = true;
                    }
                    perf_side_apply(&sv->s[m.idx], &m);
                } else if (kind && m.kind == kind && !sv->got[j]) {
                    sv->got[j] = strdup(m.text ? m.text : "");
                    if (++have == sv->k)
                        return 1;
                }
            }
        if (kind == 0) {
            int open = 0;
            if (sv->wk)
                for (int i = 0; i < sv->workers; i++)
                    open += atomic_load(&sv->wk[i].n_open);
            else
                for (int i = 0; i < sv->n; i++)
                    open += sv->made[i] && sv->s[i].open;
            sv->n_open = open;
            if (open == sv->n)
                return 1;
        }
    }
    return 0;
}

/* wave: how many clients of each client process may be connecting at a time (0: all). */
static int server_start(server *sv, int n, bool reliable, int wave, int workers, perf_metrics *out)
{
    memset(sv, 0, sizeof *sv);
    sv->workers = workers;
    sv->n = n;
    sv->k = (n + CLIENTS_PER_PROC - 1) / CLIENTS_PER_PROC;
    if (sv->k < 1 || sv->k > MAX_CLIENT_PROCS) {
        sv->k = 0;
        perf_fail(out, "%d clients: at most %d", n, CLIENTS_PER_PROC * MAX_CLIENT_PROCS);
        return -1;
    }
    for (int j = 0; j < sv->k; j++) {
        int fds[2];
        if (perf_sig_pair(fds) != 0) {
            sv->k = j;
            perf_fail(out, "no signaling pair");
            return -1;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            close(fds[0]);
            close(fds[1]);
            sv->k = j;
            perf_fail(out, "fork failed");
            return -1;
        }
        if (pid == 0) {
            close(fds[0]);
            for (int q = 0; q < j; q++)
                close(sv->fd[q]);
            int lo = j * CLIENTS_PER_PROC;
            int cnt = n - lo < CLIENTS_PER_PROC ? n - lo : CLIENTS_PER_PROC;
            _exit(clients_main(fds[1], lo, cnt, reliable, wave));
        }
        close(fds[1]);
        sv->fd[j] = fds[0];
        sv->pid[j] = pid;
    }
    sv->s = calloc((size_t)n, sizeof *sv->s);
    sv->made = calloc((size_t)n, sizeof *sv->made);
    sv->e = workers ? perf_engine_new_workers(workers) : perf_engine_new(false);
    if (workers && !sv->e) {
        perf_fail(out,
                  "no engine with %d workers (they need the native SCTP, not ZDC_SCTP=usrsctp)",
                  workers);
        return -1;
    }
    if (workers && server_workers_start(sv) != 0) {
        perf_fail(out, "no worker threads");
        return -1;
    }
    if (!sv->e || !sv->s || !sv->made || !server_serve(sv, 'Y', 300)) {
        perf_fail(out, "the clients' processes did not start");
        return -1;
    }
    return 0;
}

void perf_zdc_handshakes(const perf_case *c, const perf_params *p, perf_metrics *out)
{
    (void)c;
    server sv;
    if (server_start(&sv, p->hs_clients, true, 0, p->workers, out) == 0) {
        double t0 = perf_now(), cpu0 = perf_cpu_self();
        server_broadcast(&sv, 'G', "");
        int ok = server_serve(&sv, 0, 60);
        double t1 = perf_now(), cpu1 = perf_cpu_self();
        if (!ok) {
            perf_fail(out, "%d of %d clients connected", sv.n_open, sv.n);
        } else {
            perf_metric_set(out, "hs_per_core_s", (double)sv.n / (cpu1 - cpu0));
            perf_metric_set(out, "hs_per_s", (double)sv.n / (t1 - t0));
            perf_metric_set(out, "server_cpu_s", cpu1 - cpu0);
            perf_metric_set(out, "clients", sv.n);
            out->ok = true;
        }
    }
    server_end(&sv);
}

/* One client process's report: "sent received bad p50 p99 p99.9". */
typedef struct tick_report {
    unsigned long long sent, received, bad;
    double p50, p99, p999;
} tick_report;

void perf_zdc_scale(const perf_case *c, const perf_params *p, perf_metrics *out)
{
    (void)c;
    server sv;
    /* The tick is measured, not the admission: clients connect in waves of SCALE_WAVE per
     * client process so that a burst of thousands of handshakes does not starve ICE. */
    if (server_start(&sv, p->scale_peers, false, SCALE_WAVE, p->workers, out) != 0) {
        server_end(&sv);
        return;
    }
    long rss0 = perf_rss_kib();
    /* Heap by owner: every block allocated from here on is attributed to the library that
     * asked for it (perf/heap.c); read once all peers are connected and idle. */
    bool heap = perf_heap_start((size_t)sv.n * 1024 + 65536) == 0;
    server_broadcast(&sv, 'G', "");
    if (!server_serve(&sv, 0, 300)) {
        perf_fail(out, "%d of %d peers connected", sv.n_open, sv.n);
        perf_heap_stop();
        server_end(&sv);
        return;
    }
    server_serve(&sv, 1, 0.5); /* let the handshakes' last packets settle */
    long rss1 = perf_rss_kib();
    perf_heap_owners h;
    perf_heap_read(&h);
    perf_heap_stop();
    char secs[32];
    snprintf(secs, sizeof secs, "%.3f", p->scale_secs);
    perf_threads th0, th1;
    perf_threads_read(&th0);
    double t0 = perf_now(), cpu0 = perf_cpu_self();
    server_broadcast(&sv, 'T', secs);
    int got = server_serve(&sv, 'R', p->scale_secs + 120);
    double t1 = perf_now(), cpu1 = perf_cpu_self();
    perf_threads_read(&th1);
    double busiest = perf_threads_busiest(&th0, &th1);
    /* Percentiles cannot be merged exactly from per-process figures: across client
     * processes each percentile shown is the largest of theirs (exact with one process). */
    tick_report all = {0};
    bool parsed = got;
    for (int j = 0; parsed && j < sv.k; j++) {
        tick_report r;
        if (sscanf(sv.got[j], "%llu %llu %llu %lf %lf %lf", &r.sent, &r.received, &r.bad, &r.p50,
                   &r.p99, &r.p999) != 6) {
            parsed = false;
            break;
        }
        all.sent += r.sent;
        all.received += r.received;
        all.bad += r.bad;
        all.p50 = r.p50 > all.p50 ? r.p50 : all.p50;
        all.p99 = r.p99 > all.p99 ? r.p99 : all.p99;
        all.p999 = r.p999 > all.p999 ? r.p999 : all.p999;
    }
    if (!parsed) {
        perf_fail(out, "the clients did not report");
    } else {
        double n = (double)sv.n;
        double cpu_pct = 100.0 * (cpu1 - cpu0) / (t1 - t0);
        perf_metric_set(out, "peers", n);
        perf_metric_set(out, "workers", sv.workers);
        perf_metric_set(out, "cpu_pct_per_1000", cpu_pct * 1000.0 / n);
        perf_metric_set(out, "p50_tick_ms", all.p50 * 1e3);
        perf_metric_set(out, "p99_tick_ms", all.p99 * 1e3);
        perf_metric_set(out, "p999_tick_ms", all.p999 * 1e3);
        perf_metric_set(out, "rss_kib_per_peer", (double)(rss1 - rss0) / n);
        if (heap) {
            double zdc = (double)h.bytes[PERF_HEAP_ZDC], ossl = (double)h.bytes[PERF_HEAP_OPENSSL];
            double sctp = (double)h.bytes[PERF_HEAP_SCTP], other = (double)h.bytes[PERF_HEAP_OTHER];
            perf_metric_set(out, "heap_kib_per_peer", (zdc + ossl + sctp + other) / 1024.0 / n);
            perf_metric_set(out, "heap_zdc_kib", zdc / 1024.0 / n);
            perf_metric_set(out, "heap_openssl_kib", ossl / 1024.0 / n);
            perf_metric_set(out, "heap_sctp_kib", sctp / 1024.0 / n);
            perf_metric_set(out, "heap_other_kib", other / 1024.0 / n);
        }
        perf_metric_set(out, "bad", (double)all.bad);
        perf_metric_set(out, "loss_pct",
                        all.sent ? 100.0 * (double)(all.sent - all.received) / (double)all.sent
                                 : 0);
        /* Did the clients keep up a 20 Hz tick? A starved client process sends less, and the
         * server then has less to do; CPU per echoed message does not depend on that. */
        perf_metric_set(out, "tick_rate_pct",
                        100.0 * (double)all.sent / (n * p->scale_secs / TICK_PERIOD));
        perf_metric_set(out, "cpu_us_per_msg",
                        all.received ? (cpu1 - cpu0) * 1e6 / (double)all.received : 0);
        /* The thread that limits throughput: its CPU per echoed message. With one core per
         * thread the server could echo 1e6 / this many messages a second (a projection: the
         * clients here share the same two cores, so nothing here saturates the server). */
        perf_metric_set(out, "busiest_thread_pct", 100.0 * busiest / (t1 - t0));
        perf_metric_set(out, "busiest_us_per_msg",
                        all.received ? busiest * 1e6 / (double)all.received : 0);
        out->ok = true;
        if (heap && h.untracked_blocks)
            perf_fail(out, "heap by owner: %llu blocks not tracked",
                      (unsigned long long)h.untracked_blocks);
        else if (all.bad)
            perf_fail(out, "%llu echoes failed the check", all.bad);
        else if (all.received == 0)
            perf_fail(out, "no echo arrived");
    }
    server_end(&sv);
}
