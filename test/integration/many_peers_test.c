/* Many peers on one engine (one UDP port) over 127.0.0.1, through the public API: every pair
 * connects, opens a channel and exchanges a message tagged with the pair's number (a
 * datagram routed to the wrong peer would fail a handshake or deliver another pair's tag),
 * then the engine frees them all. Two shapes:
 * - pairs on one engine: both peers of each pair share the engine's socket (self traffic);
 * - a server engine holding one peer per client engine: the server tells its peers apart by
 *   STUN USERNAME and by remote address alone, as a game server does.
 * Every wait is bounded; the timings are printed. Defaults 500 pairs (1000 peers) and 32
 * clients: under ASan on two cores about 2 s and 600 MB; ZDC_MANY_PAIRS / ZDC_MANY_CLIENTS
 * change them.
 * Wall time: every wait here is for a condition (all pairs done, under DEADLINE_MS), none
 * asserts that nothing arrives; the engines read CLOCK_MONOTONIC themselves and take no
 * injected clock, so the fake clock (test/support/fakeclock.h) cannot drive them. The
 * deadline is wall time and shared with whatever else loads the machine: under heavy load
 * (other builds on two cores) 500 pairs can take far longer than the 2 s quoted above.
 * ctest-labels: integration */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zdc/zdc.h"

#define DEADLINE_MS 45000

typedef struct mside {
    struct mpair *pair;
    const char *role; /* "A" offers and pings, "B" answers and pongs */
    zdc_peer peer;
    struct mside *other;
    int conn_state;
    zdc_channel ch;
    bool has_ch;
    int n_open, n_msgs, bad;
} mside;

typedef struct mpair {
    int idx;
    mside a, b;
} mpair;

static int errors; /* failures inside callbacks, checked by the test */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void check(bool ok, const char *what, const mside *s)
{
    if (!ok) {
        if (errors++ < 10)
            fprintf(stderr, "pair %d %s: %s (%s)\n", s->pair->idx, s->role, what,
                    zdc_peer_last_error(s->peer));
    }
}

/* ---- callbacks: relay signaling to the other side, ping/pong once the channel opens ------ */

static void on_description(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    mside *s = user;
    check(zdc_peer_set_local_description(peer, type, sdp) == 0, "set_local_description", s);
    check(zdc_peer_set_remote_description(s->other->peer, type, sdp) == 0, "set_remote_description",
          s->other);
}

static void on_candidate(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    mside *s = user;
    check(zdc_peer_add_ice_candidate(s->other->peer, mid, index, cand) == 0, "add_ice_candidate",
          s->other);
}

static void on_data_channel(void *user, zdc_peer peer, zdc_channel ch)
{
    mside *s = user;
    check(!s->has_ch, "a second channel", s);
    s->ch = ch;
    s->has_ch = true;
}

static void on_connection(void *user, zdc_peer peer, int state)
{
    ((mside *)user)->conn_state = state;
}

static void send_tag(mside *s, const char *word)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%s %d", word, s->pair->idx);
    check(zdc_channel_set_write_mode(s->ch, ZDC_WRITE_MODE_TEXT) == 0, "write mode", s);
    check(zdc_channel_put_packet(s->ch, (const uint8_t *)text, (size_t)n) == 0, "put_packet", s);
}

static void on_open(void *user, zdc_peer peer, zdc_channel ch)
{
    mside *s = user;
    s->n_open++;
    check(s->has_ch && ch.id == s->ch.id, "open: another channel", s);
    if (s == &s->pair->a)
        send_tag(s, "ping");
}

static void on_message(void *user, zdc_peer peer, zdc_channel ch)
{
    mside *s = user;
    const uint8_t *p;
    size_t len;
    bool text;
    while (zdc_channel_get_packet(ch, &p, &len, &text) == 0) {
        char want[32];
        snprintf(want, sizeof want, "%s %d", s == &s->pair->a ? "pong" : "ping", s->pair->idx);
        bool ok = text && len == strlen(want) && memcmp(p, want, len) == 0;
        check(ok, "message from another pair", s);
        s->bad += !ok;
        s->n_msgs++;
        zdc_channel_release_packet(ch);
        if (ok && s == &s->pair->b)
            send_tag(s, "pong");
    }
}

static zdc_peer_callbacks callbacks_for(mside *s)
{
    return (zdc_peer_callbacks){.user = s,
                                .on_session_description_created = on_description,
                                .on_ice_candidate_created = on_candidate,
                                .on_data_channel_received = on_data_channel,
                                .on_connection_state_change = on_connection,
                                .on_channel_open = on_open,
                                .on_channel_message = on_message};
}

/* ---- the world --------------------------------------------------------------------------- */

static zdc_engine *new_engine(void)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.include_loopback = true;
    o.bind_address = "127.0.0.1";
    zdc_engine *e = NULL;
    int rv = zdc_engine_new(&o, &e);
    cr_assert_eq(rv, 0, "zdc_engine_new: %s", zdc_strerror(rv));
    return e;
}

static void new_side(mside *s, mpair *p, const char *role, zdc_engine *e)
{
    s->pair = p;
    s->role = role;
    zdc_peer_callbacks cb = callbacks_for(s);
    int rv = zdc_peer_new(e, &cb, &s->peer);
    cr_assert_eq(rv, 0, "zdc_peer_new: %s", zdc_strerror(rv));
}

static void poll_all(zdc_engine **e, int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(zdc_engine_poll(e[i], n == 1 ? 2 : 0), 0);
}

static int count_done(const mpair *pairs, int n, int *connected)
{
    int done = 0, conn = 0;
    for (int i = 0; i < n; i++) {
        conn += pairs[i].a.conn_state == ZDC_STATE_CONNECTED &&
                pairs[i].b.conn_state == ZDC_STATE_CONNECTED;
        done += pairs[i].a.n_msgs >= 1;
    }
    *connected = conn;
    return done;
}

/* n pairs; with clients, pair i's A side is alone on engine i + 1 (its own port) and every B
 * side is on engine 0; without, both sides of every pair are on engine 0. */
static void run(int n, bool clients)
{
    int n_engines = clients ? n + 1 : 1;
    zdc_engine **e = calloc((size_t)n_engines, sizeof *e);
    mpair *pairs = calloc((size_t)n, sizeof *pairs);
    cr_assert(e && pairs);
    for (int i = 0; i < n_engines; i++)
        e[i] = new_engine();
    errors = 0;

    uint64_t t0 = now_ms();
    for (int i = 0; i < n; i++) {
        mpair *p = &pairs[i];
        p->idx = i;
        new_side(&p->a, p, "A", e[clients ? i + 1 : 0]);
        new_side(&p->b, p, "B", e[0]);
        p->a.other = &p->b;
        p->b.other = &p->a;
        cr_assert_eq(zdc_peer_create_data_channel(p->a.peer, "tag", NULL, &p->a.ch), 0);
        p->a.has_ch = true;
        cr_assert_eq(zdc_peer_create_offer(p->a.peer), 0);
    }

    uint64_t end = t0 + DEADLINE_MS, t_connected = 0;
    int done = 0, connected = 0;
    while ((done = count_done(pairs, n, &connected)) < n && errors == 0 && now_ms() < end) {
        poll_all(e, n_engines);
        if (!t_connected && connected == n)
            t_connected = now_ms();
    }
    uint64_t t_done = now_ms();
    cr_assert_eq(errors, 0, "%d failures in callbacks", errors);
    cr_assert_eq(done, n, "%d of %d pairs done in %d ms (%d connected)", done, n, DEADLINE_MS,
                 connected);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(pairs[i].a.n_open, 1, "pair %d", i);
        cr_assert_eq(pairs[i].b.n_open, 1, "pair %d", i);
        cr_assert_eq(pairs[i].b.n_msgs, 1, "pair %d", i);
        cr_assert_eq(pairs[i].a.n_msgs, 1, "pair %d", i);
        cr_assert_eq(pairs[i].a.bad + pairs[i].b.bad, 0, "pair %d", i);
    }

    zdc_engine_stats st;
    zdc_engine_get_stats(e[0], &st);
    /* Late STUN responses (to a check whose transaction ICE already ended) find no peer: about
     * one per peer; every other datagram must. */
    int on_engine = clients ? n : 2 * n;
    cr_expect_leq(st.rx_unrouted, 2u * (unsigned)on_engine, "%llu of %llu datagrams found no peer",
                  (unsigned long long)st.rx_unrouted, (unsigned long long)st.rx_routed);
    if (clients)
        cr_expect_eq(st.self_sent, 0, "the server's peers talk to other ports only");
    fprintf(stderr,
            "many_peers: %d pairs%s (%d peers on one engine): connected in %llu ms, all "
            "messages in %llu ms; routed %llu, unrouted %llu, timeouts %llu\n",
            n, clients ? " with separate client engines" : "", on_engine,
            (unsigned long long)(t_connected - t0), (unsigned long long)(t_done - t0),
            (unsigned long long)st.rx_routed, (unsigned long long)st.rx_unrouted,
            (unsigned long long)st.timeouts_run);

    uint64_t tf = now_ms();
    for (int i = 0; i < n_engines; i++)
        zdc_engine_free(e[i]); /* frees the peers still on it */
    for (int i = 0; i < n; i++)
        cr_assert_eq(zdc_peer_get_connection_state(pairs[i].a.peer), ZDC_STATE_CLOSED);
    fprintf(stderr, "many_peers: freed in %llu ms\n", (unsigned long long)(now_ms() - tf));
    free(pairs);
    free(e);
}

Test(many_peers, pairs_on_one_engine, .timeout = 60)
{
    run(getenv("ZDC_MANY_PAIRS") ? atoi(getenv("ZDC_MANY_PAIRS")) : 500, false);
}

Test(many_peers, server_with_client_engines, .timeout = 60)
{
    run(getenv("ZDC_MANY_CLIENTS") ? atoi(getenv("ZDC_MANY_CLIENTS")) : 32, true);
}
