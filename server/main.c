/* zdc-server: a complete, small game server on zdc (docs/game-server.md walks through it).
 *
 * Browsers load the client (server/www: index.html, zdc-client.js) over HTTP, POST their offer
 * to /whip and get the complete answer; then this program's "game" runs on the players'
 * channels:
 *   - every tick (--tick-hz, default 20) it broadcasts "tick <n>" on the reliable channel and
 *     "state <n> <players>" on the unreliable one;
 *   - "in <k>" on a player's reliable channel is counted; "done <k>" is answered with
 *     "result <count of in messages>" (the end-to-end check the CI test makes);
 *   - anything else is echoed back on the channel it came on.
 * Events go to stdout as lines, for a game written in another language to read:
 *   http <url> / udp <port> / join <id> from <address> / leave <id> / summary players=<n> in=<n>
 * ...
 *
 * Usage: zdc-server [--bind IP] [--http-port N] [--udp-port N] [--public-address IP]
 *                   [--www DIR] [--loopback] [--tick-hz N] [--duration S] [--max-players N]
 * Stops on SIGINT/SIGTERM or after --duration seconds. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "zdc_server.h"

#ifndef ZDC_SERVER_WWW
#define ZDC_SERVER_WWW "server/www"
#endif

typedef struct game {
    uint64_t tick;
    uint64_t in_total, joins, leaves, results;
    /* per player "in" counts, by id (ids are small and increasing) */
    uint64_t *in;
    size_t n_in;
} game;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static uint64_t *in_count(game *g, uint32_t id)
{
    if (id >= g->n_in) {
        size_t n = (size_t)id * 2 + 16;
        uint64_t *a = realloc(g->in, n * sizeof *a);
        if (!a)
            return NULL;
        memset(a + g->n_in, 0, (n - g->n_in) * sizeof *a);
        g->in = a;
        g->n_in = n;
    }
    return &g->in[id];
}

static void on_join(void *user, zdc_server *s, uint32_t id)
{
    game *g = user;
    g->joins++;
    char addr[INET6_ADDRSTRLEN] = "?";
    struct sockaddr_storage ss;
    socklen_t len;
    if (zdc_peer_get_remote_address(zdc_server_player_peer(s, id), &ss, &len) == 0) {
        const void *ip = ss.ss_family == AF_INET
                             ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                             : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
        inet_ntop(ss.ss_family, ip, addr, sizeof addr);
    }
    printf("join %u from %s\n", id, addr);
    fflush(stdout);
    char hello[64];
    int n = snprintf(hello, sizeof hello, "welcome %u", id);
    zdc_server_send(s, id, true, hello, (size_t)n, true);
}

static void on_leave(void *user, zdc_server *s, uint32_t id)
{
    game *g = user;
    (void)s;
    g->leaves++;
    printf("leave %u\n", id);
    fflush(stdout);
}

static void on_message(void *user, zdc_server *s, uint32_t id, bool reliable, const uint8_t *d,
                       size_t len, bool text)
{
    game *g = user;
    char msg[128];
    snprintf(msg, sizeof msg, "%.*s", (int)(len < sizeof msg ? len : sizeof msg - 1),
             (const char *)d);
    if (reliable && strncmp(msg, "in ", 3) == 0) {
        uint64_t *c = in_count(g, id);
        if (c)
            (*c)++;
        g->in_total++;
    } else if (reliable && strncmp(msg, "done ", 5) == 0) {
        uint64_t *c = in_count(g, id);
        char out[64];
        int n = snprintf(out, sizeof out, "result %llu", (unsigned long long)(c ? *c : 0));
        zdc_server_send(s, id, true, out, (size_t)n, true);
        g->results++;
        printf("result %u %s %llu\n", id, msg + 5, (unsigned long long)(c ? *c : 0));
        fflush(stdout);
    } else {
        zdc_server_send(s, id, reliable, d, len, text); /* echo */
    }
}

/* The browser client: the installed one when this program runs from an installation (found
 * next to the executable, <prefix>/bin/../share/zdc/www, so a relocated prefix works), else
 * the source tree's (a build tree). --www overrides both. */
static const char *default_www(void)
{
#ifdef ZDC_SERVER_WWW_RELATIVE
    static char path[PATH_MAX];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int w =
                snprintf(path, sizeof path, "%s/../%s/zdc-client.js", exe, ZDC_SERVER_WWW_RELATIVE);
            if (w > 0 && (size_t)w < sizeof path && access(path, R_OK) == 0) {
                path[w - (int)strlen("/zdc-client.js")] = '\0';
                return path;
            }
        }
    }
#endif
    return ZDC_SERVER_WWW;
}

int main(int argc, char **argv)
{
    zdc_server_options o = {.www_dir = default_www()};
    double tick_hz = 20, duration = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--loopback") == 0) {
            o.include_loopback = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "zdc-server: %s needs a value (see the top of server/main.c)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--bind") == 0)
            o.bind_address = v;
        else if (strcmp(a, "--http-port") == 0)
            o.http_port = (uint16_t)atoi(v);
        else if (strcmp(a, "--udp-port") == 0)
            o.udp_port = (uint16_t)atoi(v);
        else if (strcmp(a, "--public-address") == 0)
            o.public_address = v;
        else if (strcmp(a, "--www") == 0)
            o.www_dir = v;
        else if (strcmp(a, "--tick-hz") == 0)
            tick_hz = atof(v);
        else if (strcmp(a, "--duration") == 0)
            duration = atof(v);
        else if (strcmp(a, "--max-players") == 0)
            o.max_players = (unsigned)atoi(v);
        else {
            fprintf(stderr, "zdc-server: unknown option %s\n", a);
            return 2;
        }
    }
    if (tick_hz <= 0 || tick_hz > 1000) {
        fprintf(stderr, "zdc-server: --tick-hz must be in (0, 1000]\n");
        return 2;
    }
    game g = {0};
    zdc_server_callbacks cb = {
        .user = &g, .on_join = on_join, .on_leave = on_leave, .on_message = on_message};
    zdc_server *s;
    int rv = zdc_server_new(&o, &cb, &s);
    if (rv != 0) {
        fprintf(stderr, "zdc-server: %s\n", zdc_strerror(rv));
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("http http://%s:%d/\nudp %d\n", o.bind_address ? o.bind_address : "localhost",
           zdc_server_http_port(s), zdc_server_udp_port(s));
    fflush(stdout);
    uint64_t period = (uint64_t)(1000.0 / tick_hz), start = now_ms(), next = start + period;
    while (!stop && (duration <= 0 || now_ms() - start < (uint64_t)(duration * 1000))) {
        uint64_t t = now_ms();
        zdc_server_poll(s, next > t ? (int)(next - t) : 0);
        if (now_ms() >= next) {
            g.tick++;
            char m[64];
            int n = snprintf(m, sizeof m, "tick %llu", (unsigned long long)g.tick);
            zdc_server_broadcast(s, true, m, (size_t)n, true);
            n = snprintf(m, sizeof m, "state %llu %u", (unsigned long long)g.tick,
                         zdc_server_player_count(s));
            zdc_server_broadcast(s, false, m, (size_t)n, true);
            next += period;
            if (next < now_ms())
                next = now_ms() + period; /* fell behind: skip, don't burst */
        }
    }
    zdc_engine_stats st;
    zdc_engine_get_stats(zdc_server_engine(s), &st);
    printf("summary players=%llu left=%llu in=%llu results=%llu ticks=%llu rx_dropped=%llu "
           "tx_dropped=%llu\n",
           (unsigned long long)g.joins, (unsigned long long)g.leaves,
           (unsigned long long)g.in_total, (unsigned long long)g.results,
           (unsigned long long)g.tick, (unsigned long long)st.rx_no_buffer,
           (unsigned long long)(st.tx_no_buffer + st.tx_queue_full + st.tx_refused));
    fflush(stdout);
    zdc_server_free(s);
    free(g.in);
    return 0;
}
