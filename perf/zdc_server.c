/* One server engine (one UDP port) and many clients, as a game server sees them:
 *   handshakes: N clients offer at once; the server answers each and counts channels open;
 *               handshakes per second of the server process's CPU (per core) and of wall time.
 *   scale:      N connected clients each send a 64-byte message 20 times a second on an
 *               unreliable channel; the server echoes every one. Server CPU per 1,000 peers,
 *               the clients' round-trip time of a tick (p50/p99), the server's resident memory
 *               per idle connected peer (RSS delta / N).
 * The server is this process (its engine polled with a 1 ms timeout, as a server loop
 * would); the clients are a forked process holding N engines (epoll backend, one port
 * each: the server tells peers apart by remote address), created before anything is timed.
 *
 * Control messages on the signaling pair: child 'Y' ready (engines made), parent 'G' go
 * (clients offer), parent 'T' <seconds> tick, child 'R' <report>, parent 'Q' quit. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf.h"
#include "side.h"

#define TICK_SIZE   64u
#define TICK_PERIOD 0.05 /* 20 Hz */

static char sigbuf[1 << 17];

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- the clients' process -------------------------------------------------------------- */

typedef struct clients {
    int n, fd;
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
    if (who != (uint32_t)s->idx) {
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
        if ((m.kind == 'D' || m.kind == 'C') && m.idx >= 0 && m.idx < c->n) {
            perf_side_apply(&c->s[m.idx], &m);
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
            uint32_t who = (uint32_t)i;
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

static int clients_main(int fd, int n, bool reliable)
{
    clients c = {.n = n, .fd = fd};
    c.e = calloc((size_t)n, sizeof *c.e);
    c.s = calloc((size_t)n, sizeof *c.s);
    c.next_tick = calloc((size_t)n, sizeof *c.next_tick);
    for (int i = 0; i < n; i++)
        if (!(c.e[i] = perf_engine_new(true)))
            return 1;
    perf_sig_send(fd, 'Y', 0, "", 0, "");
    double deadline = perf_now() + 600;
    bool go = false;
    while (perf_now() < deadline) {
        perf_sig_msg m;
        int r = clients_pump(&c, &m);
        if (r < 0 || (r == 1 && m.kind == 'Q'))
            break;
        if (r == 1 && m.kind == 'G' && !go) {
            go = true;
            for (int i = 0; i < n; i++) {
                if (perf_side_new(&c.s[i], c.e[i], fd, i) || perf_side_offer(&c.s[i], reliable))
                    return 1;
                c.s[i].user = &c;
                c.s[i].on_msg = tick_on_echo;
            }
        }
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

typedef struct server {
    int n, fd, n_open;
    pid_t pid;
    zdc_engine *e;
    perf_side *s;
    bool *made;
} server;

static void server_end(server *sv)
{
    if (sv->fd > 0) {
        perf_sig_send(sv->fd, 'Q', 0, "", 0, "");
        close(sv->fd);
    }
    if (sv->pid > 0) {
        int st;
        double end = perf_now() + 10;
        while (waitpid(sv->pid, &st, WNOHANG) == 0 && perf_now() < end)
            usleep(1000);
        if (waitpid(sv->pid, &st, WNOHANG) == 0) {
            kill(sv->pid, SIGKILL);
            waitpid(sv->pid, &st, 0);
        }
    }
    for (int i = 0; i < sv->n; i++)
        if (sv->made && sv->made[i])
            perf_side_free(&sv->s[i]);
    if (sv->e)
        zdc_engine_free(sv->e);
    free(sv->s);
    free(sv->made);
}

/* Waits for a control message of `kind` while serving; returns 1, or 0 on timeout/close. */
static int server_serve(server *sv, char kind, perf_sig_msg *out, double secs)
{
    double end = perf_now() + secs, sig_at = 0;
    while (perf_now() < end) {
        zdc_engine_poll(sv->e, 1);
        /* The signaling socket is the harness's, not the server's: read it at most once a
         * millisecond so that its system calls do not count as the server's work. */
        double now = perf_now();
        if (now - sig_at < 1e-3)
            continue;
        sig_at = now;
        for (int k = 0; k < 4096; k++) {
            perf_sig_msg m;
            int r = perf_sig_recv(sv->fd, &m, sigbuf, sizeof sigbuf, 0);
            if (r < 0)
                return 0;
            if (r == 0)
                break;
            if ((m.kind == 'D' || m.kind == 'C') && m.idx >= 0 && m.idx < sv->n) {
                if (!sv->made[m.idx]) {
                    if (perf_side_new(&sv->s[m.idx], sv->e, sv->fd, m.idx) != 0)
                        return 0;
                    sv->s[m.idx].on_msg = perf_side_echo;
                    sv->made[m.idx] = true;
                }
                perf_side_apply(&sv->s[m.idx], &m);
            } else if (m.kind == kind) {
                *out = m;
                return 1;
            }
        }
        if (kind == 0) {
            int open = 0;
            for (int i = 0; i < sv->n; i++)
                open += sv->made[i] && sv->s[i].open;
            sv->n_open = open;
            if (open == sv->n)
                return 1;
        }
    }
    return 0;
}

static int server_start(server *sv, int n, bool reliable, perf_metrics *out)
{
    memset(sv, 0, sizeof *sv);
    sv->n = n;
    int fds[2];
    if (perf_sig_pair(fds) != 0)
        return -1;
    fflush(NULL);
    sv->pid = fork();
    if (sv->pid < 0)
        return -1;
    if (sv->pid == 0) {
        close(fds[0]);
        _exit(clients_main(fds[1], n, reliable));
    }
    close(fds[1]);
    sv->fd = fds[0];
    sv->s = calloc((size_t)n, sizeof *sv->s);
    sv->made = calloc((size_t)n, sizeof *sv->made);
    sv->e = perf_engine_new(false);
    perf_sig_msg m;
    if (!sv->e || !server_serve(sv, 'Y', &m, 120)) {
        perf_fail(out, "the clients' process did not start");
        return -1;
    }
    return 0;
}

void perf_zdc_handshakes(const perf_case *c, const perf_params *p, perf_metrics *out)
{
    (void)c;
    server sv;
    if (server_start(&sv, p->hs_clients, true, out) == 0) {
        double t0 = perf_now(), cpu0 = perf_cpu_self();
        perf_sig_send(sv.fd, 'G', 0, "", 0, "");
        perf_sig_msg m;
        int ok = server_serve(&sv, 0, &m, 60);
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

void perf_zdc_scale(const perf_case *c, const perf_params *p, perf_metrics *out)
{
    (void)c;
    server sv;
    if (server_start(&sv, p->scale_peers, false, out) != 0) {
        server_end(&sv);
        return;
    }
    long rss0 = perf_rss_kib();
    perf_sig_send(sv.fd, 'G', 0, "", 0, "");
    perf_sig_msg m;
    if (!server_serve(&sv, 0, &m, 300)) {
        perf_fail(out, "%d of %d peers connected", sv.n_open, sv.n);
        server_end(&sv);
        return;
    }
    server_serve(&sv, 1, &m, 0.5); /* let the handshakes' last packets settle */
    long rss1 = perf_rss_kib();
    char secs[32];
    snprintf(secs, sizeof secs, "%.3f", p->scale_secs);
    double t0 = perf_now(), cpu0 = perf_cpu_self();
    perf_sig_send(sv.fd, 'T', 0, "", 0, secs);
    int got = server_serve(&sv, 'R', &m, p->scale_secs + 120);
    double t1 = perf_now(), cpu1 = perf_cpu_self();
    unsigned long long sent, received, bad;
    double p50, p99, p999;
    if (!got || sscanf(m.text, "%llu %llu %llu %lf %lf %lf", &sent, &received, &bad, &p50, &p99,
                       &p999) != 6) {
        perf_fail(out, "the clients did not report");
    } else {
        double cpu_pct = 100.0 * (cpu1 - cpu0) / (t1 - t0);
        perf_metric_set(out, "peers", sv.n);
        perf_metric_set(out, "cpu_pct_per_1000", cpu_pct * 1000.0 / (double)sv.n);
        perf_metric_set(out, "p50_tick_ms", p50 * 1e3);
        perf_metric_set(out, "p99_tick_ms", p99 * 1e3);
        perf_metric_set(out, "p999_tick_ms", p999 * 1e3);
        perf_metric_set(out, "rss_kib_per_peer", (double)(rss1 - rss0) / (double)sv.n);
        perf_metric_set(out, "loss_pct",
                        sent ? 100.0 * (double)(sent - received) / (double)sent : 0);
        perf_metric_set(out, "bad", (double)bad);
        /* Did the clients keep up a 20 Hz tick? A starved client process sends less, and the
         * server then has less to do; CPU per echoed message does not depend on that. */
        perf_metric_set(out, "tick_rate_pct",
                        100.0 * (double)sent / ((double)sv.n * p->scale_secs / TICK_PERIOD));
        perf_metric_set(out, "cpu_us_per_msg",
                        received ? (cpu1 - cpu0) * 1e6 / (double)received : 0);
        out->ok = true;
        if (bad)
            perf_fail(out, "%llu echoes failed the check", bad);
        else if (received == 0)
            perf_fail(out, "no echo arrived");
    }
    server_end(&sv);
}
