/* Against a real TURN server on 127.0.0.1: Debian's coturn (turnserver), started and stopped
 * by each test, TURN over TCP (RFC 6062 framing) from the engine.
 * - Several peers of one engine using the same TURN server: each has its own TCP connection,
 *   so its own allocation (distinct relayed addresses), and the traffic is not mixed up.
 * - ICE restart (zdc_peer_restart_ice) with the relay policy: the relayed candidate is gathered
 *   again with the new credentials, and data crosses the relay after the restart.
 * Skipped, with the reason, where coturn is not installed (scripts/install-deps.sh --interop). */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdc/zdc.h"

#define NPAIRS 3

static pid_t coturn = -1;
static char turn_url[96];

static uint16_t free_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool listening(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Starts coturn (TCP and UDP on a free port, relay ports from a free range, loopback peers
 * allowed), or skips the test when it is not installed. */
static void start_coturn(void)
{
    if (system("command -v turnserver >/dev/null 2>&1") != 0)
        cr_skip_test("no turnserver (coturn): scripts/install-deps.sh --interop installs it");
    uint16_t port = free_port(SOCK_STREAM);
    uint16_t relay = (uint16_t)(20000 + (getpid() % 200) * 100); /* 100 relay ports */
    char p[16], minp[16], maxp[16];
    snprintf(p, sizeof p, "%u", port);
    snprintf(minp, sizeof minp, "%u", relay);
    snprintf(maxp, sizeof maxp, "%u", relay + 99);
    snprintf(turn_url, sizeof turn_url, "turn:127.0.0.1:%u?transport=tcp", port);
    coturn = fork();
    cr_assert_geq(coturn, 0);
    if (coturn == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execlp("turnserver", "turnserver", "-n", "-L", "127.0.0.1", "-E", "127.0.0.1", "-p", p,
               "-a", "-f", "-r", "zdc.test", "-u", "alice:s3cret", "--no-tls", "--no-dtls",
               "--no-cli", "--allow-loopback-peers", "--min-port", minp, "--max-port", maxp,
               "--log-file", "stdout", "--simple-log", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && !listening(port); i++)
        usleep(50000);
    cr_assert(listening(port), "coturn did not start on port %u", port);
}

static void stop_coturn(void)
{
    if (coturn > 0) {
        kill(coturn, SIGTERM);
        waitpid(coturn, NULL, 0);
    }
    coturn = -1;
}

typedef struct side {
    int idx;
    zdc_peer peer, other;
    zdc_channel ch;
    int open, state, msgs, relay_cands, other_cands, foreign;
    char relay_cand[256];
    char last[64];
    bool echo;
} side;

static void on_sdp(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    side *s = user;
    cr_assert_eq(zdc_peer_set_local_description(peer, type, sdp), 0);
    cr_assert_eq(zdc_peer_set_remote_description(s->other, type, sdp), 0, "%s",
                 zdc_peer_last_error(s->other));
}

static void on_cand(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    side *s = user;
    if (cand[0]) {
        if (strstr(cand, "typ relay")) {
            s->relay_cands++;
            snprintf(s->relay_cand, sizeof s->relay_cand, "%s", cand);
        } else {
            s->other_cands++;
        }
    }
    zdc_peer_add_ice_candidate(s->other, mid, index, cand);
}

static void on_state(void *user, zdc_peer peer, int state)
{
    ((side *)user)->state = state;
}

static void on_open(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    s->ch = ch;
    s->open++;
}

static void on_received(void *user, zdc_peer peer, zdc_channel ch)
{
    ((side *)user)->ch = ch;
}

/* Offerers send "ping-<idx>-<n>"; answerers echo it as "pong-...". A message naming another
 * pair's index is counted as foreign: traffic mixed up between allocations. */
static void on_message(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    const uint8_t *p;
    size_t len;
    bool str;
    while (zdc_channel_get_packet(ch, &p, &len, &str) == 0) {
        snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)p);
        int idx = -1;
        if (sscanf(s->last + 5, "%d", &idx) != 1 || idx != s->idx)
            s->foreign++;
        s->msgs++;
        zdc_channel_release_packet(ch);
        if (s->echo) {
            char out[64];
            int n = snprintf(out, sizeof out, "pong-%s", s->last + 5);
            zdc_channel_put_packet(ch, (const uint8_t *)out, (size_t)n);
        }
    }
}

static zdc_engine *engine_v4(void)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.bind_address = "127.0.0.1";
    zdc_engine *e;
    cr_assert_eq(zdc_engine_new(&o, &e), 0);
    return e;
}

static void make_pair(zdc_engine *ea, zdc_engine *eb, side *a, side *b, int idx)
{
    zdc_peer_callbacks cb = {.on_session_description_created = on_sdp,
                             .on_ice_candidate_created = on_cand,
                             .on_connection_state_change = on_state,
                             .on_channel_open = on_open,
                             .on_data_channel_received = on_received,
                             .on_channel_message = on_message};
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->idx = b->idx = idx;
    b->echo = true;
    cb.user = a;
    cr_assert_eq(zdc_peer_new(ea, &cb, &a->peer), 0);
    cb.user = b;
    cr_assert_eq(zdc_peer_new(eb, &cb, &b->peer), 0);
    a->other = b->peer;
    b->other = a->peer;
    zdc_ice_server ts = {.urls = turn_url, .username = "alice", .credential = "s3cret"};
    zdc_peer_config ca = {
        .ice_servers = &ts, .n_ice_servers = 1, .ice_transport_policy = ZDC_ICE_TRANSPORT_RELAY};
    cr_assert_eq(zdc_peer_initialize(a->peer, &ca), 0, "%s", zdc_peer_last_error(a->peer));
    cr_assert_eq(zdc_peer_initialize(b->peer, &(zdc_peer_config){0}), 0);
    zdc_channel_options co = zdc_channel_options_default();
    zdc_channel ch;
    cr_assert_eq(zdc_peer_create_data_channel(a->peer, "t", &co, &ch), 0);
    cr_assert_eq(zdc_peer_create_offer(a->peer), 0);
}

static void ping(side *a, int n)
{
    char out[64];
    int len = snprintf(out, sizeof out, "ping-%d-%d", a->idx, n);
    cr_assert_eq(zdc_channel_put_packet(a->ch, (const uint8_t *)out, (size_t)len), 0);
}

static void poll_both(zdc_engine *ea, zdc_engine *eb)
{
    zdc_engine_poll(ea, 2);
    zdc_engine_poll(eb, 2);
}

Test(turn_coturn, peers_of_one_engine_get_one_allocation_each)
{
    start_coturn();
    zdc_engine *ea = engine_v4(), *eb = engine_v4();
    side a[NPAIRS], b[NPAIRS];
    for (int i = 0; i < NPAIRS; i++)
        make_pair(ea, eb, &a[i], &b[i], i);
    bool sent[NPAIRS] = {0};
    int done = 0;
    for (int k = 0; k < 5000 && done < NPAIRS; k++) {
        poll_both(ea, eb);
        done = 0;
        for (int i = 0; i < NPAIRS; i++) {
            if (a[i].open && b[i].open && !sent[i]) {
                for (int n = 0; n < 5; n++)
                    ping(&a[i], n);
                sent[i] = true;
            }
            done += a[i].msgs == 5;
        }
    }
    for (int i = 0; i < NPAIRS; i++) {
        cr_assert_eq(a[i].state, ZDC_STATE_CONNECTED, "pair %d: %s", i,
                     zdc_peer_last_error(a[i].peer));
        cr_assert_eq(b[i].msgs, 5, "pair %d: B got its 5 pings", i);
        cr_assert_eq(a[i].msgs, 5, "pair %d: A got its 5 pongs back through the relay", i);
        cr_assert_eq(a[i].foreign + b[i].foreign, 0, "pair %d: nothing of another pair", i);
        cr_assert_eq(a[i].relay_cands, 1);
        cr_assert_eq(a[i].other_cands, 0, "relay policy");
        zdc_peer_stats st = {.size = sizeof st};
        cr_assert_eq(zdc_peer_get_stats(a[i].peer, &st), 0);
        cr_assert_eq(st.local_candidate_type, ZDC_STATS_CAND_RELAY);
        cr_assert_str_eq(st.relay_protocol, "tcp");
        /* One allocation each: the relayed candidates (address and port) all differ. */
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(a[i].relay_cand, a[j].relay_cand, "pairs %d and %d share a relay", i,
                              j);
    }
    for (int i = 0; i < NPAIRS; i++) {
        zdc_peer_free(a[i].peer);
        zdc_peer_free(b[i].peer);
    }
    zdc_engine_free(ea);
    zdc_engine_free(eb);
    stop_coturn();
}

Test(turn_coturn, ice_restart_gathers_the_relayed_candidate_again)
{
    start_coturn();
    zdc_engine *ea = engine_v4(), *eb = engine_v4();
    side a, b;
    make_pair(ea, eb, &a, &b, 7);
    bool sent = false;
    for (int k = 0; k < 5000 && a.msgs < 1; k++) {
        poll_both(ea, eb);
        if (a.open && b.open && !sent) {
            ping(&a, 0);
            sent = true;
        }
    }
    cr_assert_eq(a.msgs, 1, "connected through the relay: %s", zdc_peer_last_error(a.peer));
    cr_assert_eq(a.relay_cands, 1);
    char before[256];
    snprintf(before, sizeof before, "%s", a.relay_cand);

    cr_assert_eq(zdc_peer_restart_ice(a.peer), 0, "%s", zdc_peer_last_error(a.peer));
    for (int k = 0; k < 3000 && (a.relay_cands < 2 ||
                                 zdc_peer_get_gathering_state(a.peer) != ZDC_GATHERING_COMPLETE);
         k++)
        poll_both(ea, eb);
    cr_assert_eq(a.relay_cands, 2, "the relayed candidate is signaled again after the restart");
    cr_assert_eq(a.other_cands, 0);
    cr_assert_eq(zdc_peer_get_gathering_state(a.peer), ZDC_GATHERING_COMPLETE);
    /* The same allocation, offered with the new credentials: same relayed address. */
    const char *addr_before = strstr(before, " 127.0.0.1 ");
    const char *addr_after = strstr(a.relay_cand, " 127.0.0.1 ");
    cr_assert(addr_before && addr_after);
    cr_assert_eq(strcspn(addr_before + 11, " "), strcspn(addr_after + 11, " "));
    cr_assert(strncmp(addr_before, addr_after, 11 + strcspn(addr_before + 11, " ")) == 0,
              "%s vs %s", before, a.relay_cand);
    /* After the restart's checks, data still crosses the relay. */
    for (int k = 0; k < 500; k++)
        poll_both(ea, eb);
    ping(&a, 1);
    for (int k = 0; k < 3000 && a.msgs < 2; k++)
        poll_both(ea, eb);
    cr_assert_eq(a.msgs, 2, "a message crossed the relay after the restart");
    cr_assert_eq(a.state, ZDC_STATE_CONNECTED);
    cr_assert_eq(a.foreign + b.foreign, 0);
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
    zdc_engine_free(ea);
    zdc_engine_free(eb);
    stop_coturn();
}
