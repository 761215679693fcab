/* Many peers on one engine: how connecting and routing scale with the number of peers.
 *
 * The shape of a game server: one "server" engine (one UDP port) holds N peers, each talking
 * to a client peer on its own client engine (its own port), all over 127.0.0.1. For each N:
 * - connect: all N pairs offer at once; the time until every channel is open (and when half
 *   and 99 % of the pairs were), per pair (the
 *   harness polls all N+1 engines each round, which is itself O(N) per round);
 * - route: one pair ping-pongs small messages while the N-1 others sit connected and idle;
 *   the time per round trip and per datagram the server engine routed, against N = 1 run
 *   first in the same process (ratio ~1 means routing does not depend on N);
 * - idle poll: zdc_engine_poll(server, 0) with nothing to do.
 *
 * Usage: peers_bench [N ...]   (default: 1 100 500 1000; N = 1 is always run first)
 * Build with the release preset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zdc/zdc.h"

#define CONNECT_MS 120000
#define ROUNDS     4000
#define IDLE_POLLS 20000

typedef struct side {
    zdc_peer peer;
    struct side *other;
    zdc_channel ch;
    bool has_ch;
    int n_open, n_msgs, errors;
    uint64_t open_ns; /* when its channel opened */
} side;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_description(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    side *s = user;
    s->errors += zdc_peer_set_local_description(peer, type, sdp) != 0;
    s->errors += zdc_peer_set_remote_description(s->other->peer, type, sdp) != 0;
}

static void on_candidate(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    side *s = user;
    s->errors += zdc_peer_add_ice_candidate(s->other->peer, mid, index, cand) != 0;
}

static void on_data_channel(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    s->ch = ch;
    s->has_ch = true;
}

static uint64_t now_ns(void);

static void on_open(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    if (s->n_open++ == 0)
        s->open_ns = now_ns();
}

static void on_message(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    const uint8_t *p;
    size_t len;
    bool text;
    while (zdc_channel_get_packet(ch, &p, &len, &text) == 0) {
        s->n_msgs++;
        zdc_channel_release_packet(ch);
    }
}

static zdc_engine *new_engine(void)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.include_loopback = true;
    o.bind_address = "127.0.0.1";
    zdc_engine *e = NULL;
    int rv = zdc_engine_new(&o, &e);
    if (rv != 0) {
        fprintf(stderr, "zdc_engine_new: %s\n", zdc_strerror(rv));
        exit(1);
    }
    return e;
}

static void new_side(side *s, side *other, zdc_engine *e)
{
    s->other = other;
    zdc_peer_callbacks cb = {.user = s,
                             .on_session_description_created = on_description,
                             .on_ice_candidate_created = on_candidate,
                             .on_data_channel_received = on_data_channel,
                             .on_channel_open = on_open,
                             .on_channel_message = on_message};
    if (zdc_peer_new(e, &cb, &s->peer) != 0) {
        fprintf(stderr, "zdc_peer_new failed\n");
        exit(1);
    }
}

typedef struct result {
    int n;
    double connect_ms, p50_ms, p99_ms, rtt_us, datagram_us, idle_poll_us;
} result;

static bool all_open(const side *client, const side *server, int n)
{
    for (int i = 0; i < n; i++)
        if (client[i].n_open < 1 || server[i].n_open < 1 || client[i].errors || server[i].errors)
            return false;
    return true;
}

/* Polls the server and client 0 until `s` has `want` messages. */
static void wait_msgs(zdc_engine *server, zdc_engine *client, const side *s, int want)
{
    uint64_t end = now_ns() + 5000000000ull;
    while (s->n_msgs < want) {
        zdc_engine_poll(server, 0);
        zdc_engine_poll(client, 0);
        if (now_ns() > end) {
            fprintf(stderr, "a message was lost for 5 s\n");
            exit(1);
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* When pairs were open (both sides), from the start of the connect storm. */
static void percentiles(const side *cs, const side *ss, int n, uint64_t t0, result *r)
{
    uint64_t *t = calloc((size_t)n, sizeof *t);
    if (!t)
        return;
    for (int i = 0; i < n; i++)
        t[i] = (cs[i].open_ns > ss[i].open_ns ? cs[i].open_ns : ss[i].open_ns) - t0;
    qsort(t, (size_t)n, sizeof *t, cmp_u64);
    r->p50_ms = (double)t[n / 2] / 1e6;
    r->p99_ms = (double)t[(size_t)n * 99 / 100] / 1e6;
    free(t);
}

static result run(int n)
{
    result r = {.n = n};
    zdc_engine *server = new_engine();
    zdc_engine **clients = calloc((size_t)n, sizeof *clients);
    side *cs = calloc((size_t)n, sizeof *cs), *ss = calloc((size_t)n, sizeof *ss);
    if (!clients || !cs || !ss)
        exit(1);
    for (int i = 0; i < n; i++)
        clients[i] = new_engine();

    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        new_side(&cs[i], &ss[i], clients[i]);
        new_side(&ss[i], &cs[i], server);
        zdc_peer_create_data_channel(cs[i].peer, "bench", NULL, &cs[i].ch);
        cs[i].has_ch = true;
        zdc_peer_create_offer(cs[i].peer);
    }
    while (!all_open(cs, ss, n)) {
        zdc_engine_poll(server, 0);
        for (int i = 0; i < n; i++)
            zdc_engine_poll(clients[i], 0);
        if (now_ns() - t0 > CONNECT_MS * 1000000ull) {
            fprintf(stderr, "N=%d: not all connected in %d ms\n", n, CONNECT_MS);
            exit(1);
        }
    }
    r.connect_ms = (double)(now_ns() - t0) / 1e6;
    percentiles(cs, ss, n, t0, &r);

    /* Let the connect storm's stragglers (retransmissions, late responses) drain. */
    for (uint64_t t = now_ns(); now_ns() - t < 200000000ull;) {
        zdc_engine_poll(server, 1);
        for (int i = 0; i < n; i++)
            zdc_engine_poll(clients[i], 0);
    }

    /* Pair 0 ping-pongs; the others sit idle. */
    static const uint8_t msg[64] = {1};
    zdc_engine_stats st0, st1;
    zdc_engine_get_stats(server, &st0);
    uint64_t t1 = now_ns();
    for (int k = 0; k < ROUNDS; k++) {
        zdc_channel_put_packet(cs[0].ch, msg, sizeof msg);
        wait_msgs(server, clients[0], &ss[0], k + 1);
        zdc_channel_put_packet(ss[0].ch, msg, sizeof msg);
        wait_msgs(server, clients[0], &cs[0], k + 1);
    }
    uint64_t el = now_ns() - t1;
    zdc_engine_get_stats(server, &st1);
    r.rtt_us = (double)el / 1e3 / ROUNDS;
    uint64_t routed = st1.rx_routed - st0.rx_routed;
    r.datagram_us = routed ? (double)el / 1e3 / (double)routed : 0;

    uint64_t t2 = now_ns();
    for (int k = 0; k < IDLE_POLLS; k++)
        zdc_engine_poll(server, 0);
    r.idle_poll_us = (double)(now_ns() - t2) / 1e3 / IDLE_POLLS;

    fprintf(stderr, "N=%d: %llu datagrams routed by the server while measuring, %llu unrouted\n", n,
            (unsigned long long)routed, (unsigned long long)(st1.rx_unrouted - st0.rx_unrouted));
    zdc_engine_free(server);
    for (int i = 0; i < n; i++)
        zdc_engine_free(clients[i]);
    free(clients);
    free(cs);
    free(ss);
    return r;
}

int main(int argc, char **argv)
{
    int ns[16] = {1, 100, 500, 1000}, count = 4;
    if (argc > 1) {
        count = 1;
        for (int i = 1; i < argc && count < 16; i++)
            if (atoi(argv[i]) > 1)
                ns[count++] = atoi(argv[i]);
    }
    result ref = run(1);
    printf("%6s %12s %9s %9s %14s %10s %9s %12s %9s %13s %9s\n", "pairs", "connect_ms", "p50_ms",
           "p99_ms", "connect/pair", "rtt_us", "x ref", "datagram_us", "x ref", "idle_poll_us",
           "x ref");
    for (int i = 0; i < count; i++) {
        result r = ns[i] == 1 && i == 0 ? ref : run(ns[i]);
        printf("%6d %12.1f %9.1f %9.1f %12.3fms %10.2f %9.2f %12.2f %9.2f %13.3f %9.2f\n", r.n,
               r.connect_ms, r.p50_ms, r.p99_ms, r.connect_ms / r.n, r.rtt_us,
               r.rtt_us / ref.rtt_us, r.datagram_us, r.datagram_us / ref.datagram_us,
               r.idle_poll_us, r.idle_poll_us / ref.idle_poll_us);
        fflush(stdout);
    }
    return 0;
}
