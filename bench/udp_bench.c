/* Loopback UDP benchmark, two modes, each over every I/O variant in turn:
 *
 *   stream  one sender thread blasts 1200-byte datagrams at one receiver thread for a fixed
 *           time; rate = datagrams that arrived per second
 *   echo    a client thread keeps WINDOW datagrams in flight to a server thread that sends
 *           each one back; rate = round trips completed per second
 *
 * Variants:
 *
 *   plain     one sendto() / recvfrom() system call per datagram
 *   epoll     the engine's fallback backend: epoll + sendmmsg/recvmmsg batches, GSO/GRO
 *   io_uring  the engine's io_uring backend: batched SENDMSG SQEs, multishot RECVMSG into a
 *             provided-buffer ring, GSO/GRO
 *   (+ variants without GSO/GRO and with SENDMSG_ZC, to show where the gain comes from)
 *
 * It reports datagrams/s and MB/s as received (what arrived, not what was attempted), the
 * sender's rate and loss, the ratio to the plain loop, and the CPU time both threads spent
 * per datagram received (per round trip in echo mode) — on a machine shared with other work
 * the rate swings with the load, the CPU cost per datagram much less. Every variant runs the same
 * time (default 3 s, argv[1] overrides), same sockets options (4 MiB buffers), same payload writes
 * (an 8-byte sequence number per datagram). Loopback only (127.0.0.1).
 *
 * The engine variants' echo server sends back the very buffer it received (no copy).
 *
 * ZDC_BENCH_VERBOSE=1 prints every round (rate, CPU cores kept busy, load average).
 *
 * Usage: udp_bench [seconds] [stream|echo] [variant...]   variants: plain epoll uring
 *        epoll-nogso uring-nogso uring-zc all (default: both modes; plain epoll uring) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "sock.h"

#define DGRAM  1200
#define WINDOW 256
#define IDLE_NS                                                                                    \
    100000000ull /* receiver stops after this long without data once the sender is done */

typedef struct result {
    uint64_t sent, received, rx_bytes;
    uint64_t rx_ns;  /* first start to last datagram */
    uint64_t cpu_ns; /* CPU time of the sender and the receiver thread together */
    double load_before, load_after;
    zdc_loop_stats tx_st, rx_st;
    bool has_stats;
} result;

typedef struct run {
    const char *name;
    int backend; /* -1: plain */
    bool gso, gro, zerocopy;
    bool echo;
    uint64_t duration_ns;
    /* shared between the two threads */
    pthread_barrier_t start;
    _Atomic bool sender_done;
    uint64_t t0;
    result r;
    int rx_fd, tx_fd;
    zdc_addr to;
    zdc_loop *tx, *rx;
    _Atomic uint64_t cpu_ns;
} run;

/* Runs a benchmark thread and adds the CPU time it used to the run's total. */
typedef struct thread_arg {
    void *(*fn)(void *);
    run *r;
} thread_arg;

static void *timed_thread(void *arg)
{
    thread_arg *a = arg;
    a->fn(a->r);
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    atomic_fetch_add(&a->r->cpu_ns, (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec);
    return NULL;
}

static double loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* ---- plain: one system call per datagram ------------------------------------------------ */

static void *plain_sender(void *arg)
{
    run *r = arg;
    uint8_t buf[DGRAM] = {0};
    pthread_barrier_wait(&r->start);
    uint64_t seq = 0, end = r->t0 + r->duration_ns;
    for (;;) {
        if ((seq & 63) == 0 && zdc_loop_now_ns() >= end)
            break;
        memcpy(buf, &seq, sizeof seq);
        if (sendto(r->tx_fd, buf, sizeof buf, 0, &r->to.u.sa, r->to.len) == DGRAM)
            seq++;
    }
    r->r.sent = seq;
    atomic_store(&r->sender_done, true);
    return NULL;
}

static void *plain_receiver(void *arg)
{
    run *r = arg;
    uint8_t buf[65536];
    struct timeval tv = {.tv_usec = 20000};
    setsockopt(r->rx_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_barrier_wait(&r->start);
    uint64_t last = zdc_loop_now_ns();
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(r->rx_fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        uint64_t now = zdc_loop_now_ns();
        if (n > 0) {
            r->r.received++;
            r->r.rx_bytes += (uint64_t)n;
            last = now;
        } else if (atomic_load(&r->sender_done) && now - last > IDLE_NS) {
            break;
        }
    }
    r->r.rx_ns = last - r->t0;
    return NULL;
}

static void set_blocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

static int plain_setup(run *r)
{
    zdc_addr lo;
    zdc_addr_from_ip(&lo, "127.0.0.1", 9, 0);
    zdc_udp_opts o = {.rcvbuf = 4 << 20, .sndbuf = 4 << 20};
    if (zdc_udp_open(&lo, 0, 0, &o, &r->rx_fd, &r->to) != 0 ||
        zdc_udp_open(&lo, 0, 0, &o, &r->tx_fd, NULL) != 0)
        return -1;
    /* The classic blocking sendto/recvfrom program. */
    set_blocking(r->rx_fd);
    set_blocking(r->tx_fd);
    return 0;
}

static void plain_teardown(run *r)
{
    close(r->rx_fd);
    close(r->tx_fd);
}

/* ---- engine variants: each thread drives its engine inline ------------------------------ */

static void count_rx(void *user, zdc_loop *e, zdc_pkt *pkt)
{
    run *r = user;
    (void)e;
    r->r.received++;
    r->r.rx_bytes += pkt->len;
    zdc_pkt_unref(pkt);
}

static void *engine_sender(void *arg)
{
    run *r = arg;
    pthread_barrier_wait(&r->start);
    uint64_t seq = 0, end = r->t0 + r->duration_ns;
    while (zdc_loop_now_ns() < end) {
        /* Queue a burst, then let the loop hand it to the kernel. */
        for (int i = 0; i < 256; i++) {
            zdc_pkt *p = zdc_loop_pkt_alloc(r->tx);
            if (!p)
                break;
            uint8_t *d = zdc_pkt_put(p, DGRAM);
            memcpy(d, &seq, sizeof seq);
            p->addr = r->to;
            if (zdc_loop_send(r->tx, p) != 0) {
                zdc_pkt_unref(p);
                break;
            }
            seq++;
        }
        zdc_loop_poll(r->tx, 0);
    }
    /* Let what is queued leave, bounded. */
    uint64_t drain_end = zdc_loop_now_ns() + 500000000ull;
    zdc_loop_stats st;
    do {
        zdc_loop_poll(r->tx, 1000000);
        zdc_loop_get_stats(r->tx, &st);
    } while (st.tx_packets + st.tx_errors < seq && zdc_loop_now_ns() < drain_end);
    r->r.sent = st.tx_packets;
    atomic_store(&r->sender_done, true);
    return NULL;
}

static void *engine_receiver(void *arg)
{
    run *r = arg;
    pthread_barrier_wait(&r->start);
    uint64_t last = zdc_loop_now_ns(), seen = 0;
    for (;;) {
        zdc_loop_poll(r->rx, 20000000);
        uint64_t now = zdc_loop_now_ns();
        if (r->r.received != seen) {
            seen = r->r.received;
            last = now;
        } else if (atomic_load(&r->sender_done) && now - last > IDLE_NS) {
            break;
        }
    }
    r->r.rx_ns = last - r->t0;
    return NULL;
}

/* ---- echo mode ----------------------------------------------------------------------------- */

static void plain_echo_send(run *r, uint64_t seq)
{
    uint8_t buf[DGRAM] = {0};
    memcpy(buf, &seq, sizeof seq);
    (void)sendto(r->tx_fd, buf, sizeof buf, 0, &r->to.u.sa, r->to.len);
    r->r.sent++;
}

static void *plain_echo_client(void *arg)
{
    run *r = arg;
    uint8_t buf[65536];
    struct timeval tv = {.tv_usec = 20000};
    setsockopt(r->tx_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_barrier_wait(&r->start);
    uint64_t end = r->t0 + r->duration_ns, seq = 0, last = r->t0;
    for (int i = 0; i < WINDOW; i++)
        plain_echo_send(r, seq++);
    for (;;) {
        ssize_t n = recv(r->tx_fd, buf, sizeof buf, 0);
        uint64_t now = zdc_loop_now_ns();
        if (now >= end)
            break;
        if (n > 0) {
            r->r.received++;
            r->r.rx_bytes += (uint64_t)n;
            last = now;
            plain_echo_send(r, seq++);
        } else { /* datagrams lost: refill the window */
            for (int i = 0; i < WINDOW; i++)
                plain_echo_send(r, seq++);
        }
    }
    r->r.rx_ns = last - r->t0;
    atomic_store(&r->sender_done, true);
    return NULL;
}

static void *plain_echo_server(void *arg)
{
    run *r = arg;
    uint8_t buf[65536];
    struct timeval tv = {.tv_usec = 20000};
    setsockopt(r->rx_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_barrier_wait(&r->start);
    while (!atomic_load(&r->sender_done)) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(r->rx_fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n > 0)
            (void)sendto(r->rx_fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

static void echo_client_send(run *r)
{
    zdc_pkt *p = zdc_loop_pkt_alloc(r->tx);
    if (!p)
        return;
    uint64_t seq = r->r.sent;
    memcpy(zdc_pkt_put(p, DGRAM), &seq, sizeof seq);
    p->addr = r->to;
    if (zdc_loop_send(r->tx, p) != 0) {
        zdc_pkt_unref(p);
        return;
    }
    r->r.sent++;
}

static void echo_client_rx(void *user, zdc_loop *e, zdc_pkt *pkt)
{
    run *r = user;
    (void)e;
    r->r.received++;
    r->r.rx_bytes += pkt->len;
    zdc_pkt_unref(pkt);
    echo_client_send(r);
}

static void echo_server_rx(void *user, zdc_loop *e, zdc_pkt *pkt)
{
    (void)user;
    /* pkt->addr is the sender: the same buffer goes straight back. */
    if (zdc_loop_send(e, pkt) != 0)
        zdc_pkt_unref(pkt);
}

static void *engine_echo_client(void *arg)
{
    run *r = arg;
    pthread_barrier_wait(&r->start);
    uint64_t end = r->t0 + r->duration_ns, last = r->t0, seen = 0;
    for (int i = 0; i < WINDOW; i++)
        echo_client_send(r);
    for (;;) {
        zdc_loop_poll(r->tx, 1000000);
        uint64_t now = zdc_loop_now_ns();
        if (now >= end)
            break;
        if (r->r.received != seen) {
            seen = r->r.received;
            last = now;
        } else if (now - last > 20000000) { /* datagrams lost: refill the window */
            for (int i = 0; i < WINDOW; i++)
                echo_client_send(r);
            last = now;
        }
    }
    r->r.rx_ns = end - r->t0;
    atomic_store(&r->sender_done, true);
    return NULL;
}

static void *engine_echo_server(void *arg)
{
    run *r = arg;
    pthread_barrier_wait(&r->start);
    while (!atomic_load(&r->sender_done))
        zdc_loop_poll(r->rx, 5000000);
    return NULL;
}

static int engine_setup(run *r)
{
    zdc_loop_config c;
    zdc_loop_config_default(&c);
    c.backend = r->backend;
    c.ipv6 = false;
    zdc_addr_from_ip(&c.bind4, "127.0.0.1", 9, 0);
    c.gso = r->gso;
    c.gro = r->gro;
    c.zerocopy = r->zerocopy;
    c.on_recv = r->echo ? echo_client_rx : NULL;
    c.user = r;
    int rv = zdc_loop_new(&c, &r->tx);
    if (rv != 0)
        return rv;
    c.on_recv = r->echo ? echo_server_rx : count_rx;
    c.user = r;
    rv = zdc_loop_new(&c, &r->rx);
    if (rv != 0)
        return rv;
    zdc_loop_local_addr(r->rx, 4, &r->to);
    return 0;
}

static void engine_teardown(run *r)
{
    zdc_loop_get_stats(r->tx, &r->r.tx_st);
    zdc_loop_get_stats(r->rx, &r->r.rx_st);
    r->r.has_stats = true;
    zdc_loop_free(r->tx);
    zdc_loop_free(r->rx);
}

/* ---- driver ------------------------------------------------------------------------------ */

typedef struct variant {
    const char *name;
    int backend;
    bool gso, gro, zerocopy;
} variant;

static const variant variants[] = {
    {"plain", -1, false, false, false},
    {"epoll", ZDC_IO_BACKEND_EPOLL, true, true, false},
    {"uring", ZDC_IO_BACKEND_URING, true, true, false},
    {"epoll-nogso", ZDC_IO_BACKEND_EPOLL, false, false, false},
    {"uring-nogso", ZDC_IO_BACKEND_URING, false, false, false},
    {"uring-zc", ZDC_IO_BACKEND_URING, true, true, true},
};
#define NVARIANTS (sizeof variants / sizeof variants[0])

static int run_variant(const variant *v, bool echo, uint64_t duration_ns, result *out)
{
    run *r = calloc(1, sizeof *r);
    r->echo = echo;
    r->name = v->name;
    r->backend = v->backend;
    r->gso = v->gso;
    r->gro = v->gro;
    r->zerocopy = v->zerocopy;
    r->duration_ns = duration_ns;
    bool plain = v->backend < 0;
    int rv = plain ? plain_setup(r) : engine_setup(r);
    if (rv != 0) {
        fprintf(stderr, "%s: setup failed: %s\n", v->name, zdc_strerror(rv));
        free(r);
        return -1;
    }
    pthread_barrier_init(&r->start, NULL, 3);
    pthread_t ts, tr;
    r->r.load_before = loadavg();
    void *(*receiver)(void *) = plain ? plain_receiver : engine_receiver;
    void *(*sender)(void *) = plain ? plain_sender : engine_sender;
    if (echo) {
        receiver = plain ? plain_echo_server : engine_echo_server;
        sender = plain ? plain_echo_client : engine_echo_client;
    }
    thread_arg ar = {receiver, r}, as = {sender, r};
    pthread_create(&tr, NULL, timed_thread, &ar);
    pthread_create(&ts, NULL, timed_thread, &as);
    /* Thread names per variant, so a profile (perf report --comm) separates them. */
    char tname[16];
    snprintf(tname, sizeof tname, "%.11s-rx", v->name);
    pthread_setname_np(tr, tname);
    snprintf(tname, sizeof tname, "%.11s-tx", v->name);
    pthread_setname_np(ts, tname);
    r->t0 = zdc_loop_now_ns() + 1000000; /* both threads read it after the barrier */
    pthread_barrier_wait(&r->start);
    pthread_join(ts, NULL);
    pthread_join(tr, NULL);
    r->r.cpu_ns = atomic_load(&r->cpu_ns);
    r->r.load_after = loadavg();
    if (plain)
        plain_teardown(r);
    else
        engine_teardown(r);
    pthread_barrier_destroy(&r->start);
    *out = r->r;
    free(r);
    return 0;
}

static bool wanted(const char *name, int argc, char **argv)
{
    bool any = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "stream") == 0 || strcmp(argv[i], "echo") == 0)
            continue;
        any = true;
        if (strcmp(argv[i], name) == 0 || strcmp(argv[i], "all") == 0)
            return true;
    }
    return !any &&
           (strcmp(name, "plain") == 0 || strcmp(name, "epoll") == 0 || strcmp(name, "uring") == 0);
}

static bool mode_wanted(const char *mode, int argc, char **argv)
{
    bool any = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "stream") == 0 || strcmp(argv[i], "echo") == 0) {
            any = true;
            if (strcmp(argv[i], mode) == 0)
                return true;
        }
    }
    return !any;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { MAX_ROUNDS = 9 };

static double median(const double *v, int n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    return s[n / 2];
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 3.0;
    if (secs <= 0 || secs > 60)
        secs = 3.0;
    /* Rounds run every variant in turn, so a burst of load from elsewhere on a shared machine
     * hits all variants alike; the tables report each variant's median round. */
    const char *re = getenv("ZDC_BENCH_ROUNDS");
    int rounds = re ? atoi(re) : 3;
    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 3;
    uint64_t dur = (uint64_t)(secs * 1e9);
    printf("udp_bench: %d-byte datagrams, 127.0.0.1, sender and receiver on two threads, "
           "%.1f s per variant, %d interleaved rounds (ZDC_BENCH_ROUNDS), median reported\n",
           DGRAM, secs, rounds);
    for (int mode = 0; mode < 2; mode++) {
        bool echo = mode == 1;
        if (!mode_wanted(echo ? "echo" : "stream", argc, argv))
            continue;
        printf("\n%s mode%s\n", echo ? "echo" : "stream",
               echo ? " (rx dgram/s = round trips/s, window "
                      "256"
                      ")"
                    : "");
        static result res[NVARIANTS][MAX_ROUNDS];
        static double rate[NVARIANTS][MAX_ROUNDS], cpu[NVARIANTS][MAX_ROUNDS];
        int ok[NVARIANTS] = {0};
        for (int round = 0; round < rounds; round++) {
            for (size_t i = 0; i < NVARIANTS; i++) {
                if (!wanted(variants[i].name, argc, argv) && strcmp(variants[i].name, "plain") != 0)
                    continue;
                result *r = &res[i][ok[i]];
                if (run_variant(&variants[i], echo, dur, r) != 0)
                    continue;
                double t = r->rx_ns / 1e9;
                cpu[i][ok[i]] = r->received ? (double)r->cpu_ns / r->received : 0;
                rate[i][ok[i]++] = t > 0 ? r->received / t : 0;
                if (getenv("ZDC_BENCH_VERBOSE"))
                    printf("  round %d %-12s %10.0f dgram/s, %.2f cores busy, %.0f cpu ns/dg, "
                           "load %.2f\n",
                           round, variants[i].name, rate[i][ok[i] - 1],
                           (double)r->cpu_ns / (double)dur, cpu[i][ok[i] - 1], r->load_after);
            }
        }
        printf("%-12s %12s %19s %10s %12s %7s %8s %9s %9s %10s\n", "variant", "rx dgram/s",
               "(min..max)", "rx MB/s", "tx dgram/s", "loss%", "vs plain", "tx calls", "rx calls",
               "cpu ns/dg");
        double plain_rate = 0;
        for (size_t i = 0; i < NVARIANTS; i++) {
            if (ok[i] == 0)
                continue;
            /* The median round, by rate; its counters are printed. */
            double sorted[MAX_ROUNDS];
            memcpy(sorted, rate[i], sizeof(double) * (size_t)ok[i]);
            qsort(sorted, (size_t)ok[i], sizeof(double), cmp_double);
            double med = sorted[ok[i] / 2];
            int m = 0;
            for (int k = 0; k < ok[i]; k++)
                if (rate[i][k] == med)
                    m = k;
            const result *r = &res[i][m];
            double t = r->rx_ns / 1e9;
            double mbps = t > 0 ? r->rx_bytes / t / 1e6 : 0;
            double txrate = r->sent / secs;
            double loss = r->sent && !echo ? 100.0 * (double)(r->sent - r->received) / r->sent : 0;
            if (variants[i].backend < 0)
                plain_rate = med;
            char calls_tx[32] = "1/dgram", calls_rx[32] = "1/dgram", range[48];
            if (r->has_stats) {
                snprintf(calls_tx, sizeof calls_tx, "%.3f",
                         r->sent ? (double)r->tx_st.tx_syscalls / r->sent : 0);
                snprintf(calls_rx, sizeof calls_rx, "%.3f",
                         r->received ? (double)r->rx_st.rx_syscalls / r->received : 0);
            }
            snprintf(range, sizeof range, "(%.0f..%.0f)", sorted[0], sorted[ok[i] - 1]);
            printf("%-12s %12.0f %19s %10.1f %12.0f %7.2f %7.2fx %9s %9s %10.0f\n",
                   variants[i].name, med, range, mbps, txrate, loss,
                   plain_rate > 0 ? med / plain_rate : 0, calls_tx, calls_rx,
                   median(cpu[i], ok[i]));
            if (r->has_stats && (r->tx_st.tx_gso || r->rx_st.rx_gro || r->tx_st.tx_zc))
                printf("%-12s gso sends %llu, gro receives %llu, zc sends %llu (copied %llu), "
                       "rx dropped: pool %llu nobufs %llu\n",
                       "", (unsigned long long)r->tx_st.tx_gso, (unsigned long long)r->rx_st.rx_gro,
                       (unsigned long long)r->tx_st.tx_zc,
                       (unsigned long long)r->tx_st.tx_zc_copied,
                       (unsigned long long)r->rx_st.rx_pool_exhausted,
                       (unsigned long long)r->rx_st.rx_nobufs);
        }
        /* The goals, stated as measured ratios. */
        size_t iu = NVARIANTS, ie = NVARIANTS;
        for (size_t i = 0; i < NVARIANTS; i++) {
            if (strcmp(variants[i].name, "uring") == 0)
                iu = i;
            if (strcmp(variants[i].name, "epoll") == 0)
                ie = i;
        }
        if (iu < NVARIANTS && ie < NVARIANTS && ok[iu] && ok[ie] && plain_rate > 0) {
            double u[MAX_ROUNDS], e[MAX_ROUNDS];
            memcpy(u, rate[iu], sizeof(double) * (size_t)ok[iu]);
            memcpy(e, rate[ie], sizeof(double) * (size_t)ok[ie]);
            qsort(u, (size_t)ok[iu], sizeof(double), cmp_double);
            qsort(e, (size_t)ok[ie], sizeof(double), cmp_double);
            printf("io_uring / plain = %.2fx, io_uring / epoll = %.2fx (medians)\n",
                   u[ok[iu] / 2] / plain_rate, u[ok[iu] / 2] / e[ok[ie] / 2]);
            printf("CPU per datagram, io_uring / epoll = %.2f (medians; below 1: io_uring is "
                   "cheaper)\n",
                   median(cpu[iu], ok[iu]) / median(cpu[ie], ok[ie]));
        }
        printf("load average after the mode: %.2f\n", loadavg());
        fflush(stdout);
    }
    printf(
        "calls = system calls (epoll) or ring submissions/completions (io_uring) per datagram\n");
    printf("cpu ns/dg = CPU time of both threads per datagram received (echo: per round "
           "trip)\n");
    return 0;
}
