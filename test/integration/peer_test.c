/* Two zdc peers connected over real loopback sockets through the public API only: on one
 * engine (both peers share its socket) and on two engines, under both I/O backends. The test
 * is the signaling channel: it relays descriptions and candidates between the callbacks.
 * Every wait is for a condition and bounded by a deadline; traffic goes to 127.0.0.1 only.
 *
 * "Nothing arrives" is never shown by waiting a while: settle() waits until the other side
 * has taken the farewell (where one is due), then until every datagram the engines handed to
 * the kernel has come out of one of their sockets (engine stats), then polls once more; or
 * a marker goes out after the thing that must not arrive (free_in_callback).
 *
 * What still runs on wall time, and why: the engines read CLOCK_MONOTONIC themselves
 * (io/loop.c, io/uring.c) and offer no clock to inject, so the fake clock cannot reach
 * them; ICE pacing, the DTLS handshake (OpenSSL's timer on gettimeofday) and usrsctp run on
 * it. Driving with zdc_peer_poll naps 200 us a round, since that call does not block. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zdc/zdc.h"

#define CONNECT_MS 15000
#define STEP_MS    10000
#define MAX_MSGS   64
#define MAX_CHANS  8

typedef struct msg {
    uint64_t ch;
    uint8_t *p;
    size_t len;
    bool text;
} msg;

typedef struct side {
    const char *name;
    zdc_peer peer;
    struct side *other;
    bool relay; /* forward descriptions and candidates to `other` */

    int conn_state, gathering, signaling;
    int n_candidates, n_end_of_candidates;
    zdc_channel received[MAX_CHANS]; /* on_data_channel_received */
    int n_received;
    int n_open, n_close;
    zdc_channel last_open, last_close;
    msg msgs[MAX_MSGS];
    int n_msgs;

    bool closed;      /* zdc_peer_close or zdc_peer_free returned: no callback may follow */
    int late;         /* callbacks after that */
    int free_on;      /* free the peer inside this callback (FREE_ON_*), once */
    bool freed_in_cb; /* it did */
} side;

enum { FREE_ON_NONE, FREE_ON_DATA_CHANNEL, FREE_ON_MESSAGE };

/* ---- callbacks ------------------------------------------------------------------------- */

static bool enter(side *s)
{
    if (s->closed) {
        s->late++;
        return false;
    }
    return true;
}

static void free_self(side *s)
{
    zdc_peer p = s->peer;
    zdc_peer_free(p);
    s->closed = true;
    s->freed_in_cb = true;
    /* The handle is stale at once, even while the poll that called us unwinds. */
    cr_expect_eq(zdc_peer_create_offer(p), ZDC_ERR_GONE);
    cr_expect_eq(zdc_peer_get_connection_state(p), ZDC_STATE_CLOSED);
}

static void on_description(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    side *s = user;
    if (!enter(s))
        return;
    cr_assert_eq(peer.id, s->peer.id);
    int rv = zdc_peer_set_local_description(peer, type, sdp);
    cr_assert_eq(rv, 0, "%s: set_local_description(%s): %s", s->name, type,
                 zdc_peer_last_error(peer));
    if (s->relay) {
        rv = zdc_peer_set_remote_description(s->other->peer, type, sdp);
        cr_assert_eq(rv, 0, "%s: set_remote_description(%s): %s", s->other->name, type,
                     zdc_peer_last_error(s->other->peer));
    }
}

static void on_candidate(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    side *s = user;
    if (!enter(s))
        return;
    if (*cand)
        s->n_candidates++;
    else
        s->n_end_of_candidates++;
    if (s->relay) {
        int rv = zdc_peer_add_ice_candidate(s->other->peer, mid, index, cand);
        cr_assert_eq(rv, 0, "%s: add_ice_candidate(%s): %s", s->other->name, cand,
                     zdc_peer_last_error(s->other->peer));
    }
}

static void on_data_channel(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    if (!enter(s))
        return;
    cr_assert_lt(s->n_received, MAX_CHANS);
    s->received[s->n_received++] = ch;
    if (s->free_on == FREE_ON_DATA_CHANNEL) {
        s->free_on = FREE_ON_NONE;
        free_self(s);
    }
}

static void on_connection(void *user, zdc_peer peer, int state)
{
    side *s = user;
    if (enter(s))
        s->conn_state = state;
}

static void on_gathering(void *user, zdc_peer peer, int state)
{
    side *s = user;
    if (enter(s))
        s->gathering = state;
}

static void on_signaling(void *user, zdc_peer peer, int state)
{
    side *s = user;
    if (enter(s))
        s->signaling = state;
}

static void on_open(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    if (!enter(s))
        return;
    s->n_open++;
    s->last_open = ch;
}

static void on_close(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    if (!enter(s))
        return;
    s->n_close++;
    s->last_close = ch;
}

static void on_message(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    if (!enter(s))
        return;
    const uint8_t *p;
    size_t len;
    bool text;
    while (zdc_channel_get_packet(ch, &p, &len, &text) == 0) {
        cr_assert_lt(s->n_msgs, MAX_MSGS, "%s: too many messages", s->name);
        msg *m = &s->msgs[s->n_msgs++];
        m->ch = ch.id;
        m->len = len;
        m->text = text;
        m->p = malloc(len ? len : 1);
        cr_assert_not_null(m->p);
        memcpy(m->p, p, len);
        zdc_channel_release_packet(ch);
    }
    if (s->free_on == FREE_ON_MESSAGE) {
        s->free_on = FREE_ON_NONE;
        free_self(s);
    }
}

static zdc_peer_callbacks callbacks_for(side *s)
{
    return (zdc_peer_callbacks){.user = s,
                                .on_session_description_created = on_description,
                                .on_ice_candidate_created = on_candidate,
                                .on_data_channel_received = on_data_channel,
                                .on_connection_state_change = on_connection,
                                .on_gathering_state_change = on_gathering,
                                .on_signaling_state_change = on_signaling,
                                .on_channel_open = on_open,
                                .on_channel_close = on_close,
                                .on_channel_message = on_message};
}

static void clear_msgs(side *s)
{
    for (int i = 0; i < s->n_msgs; i++)
        free(s->msgs[i].p);
    s->n_msgs = 0;
}

/* ---- the world: engines, peers, driving ------------------------------------------------ */

typedef struct world {
    zdc_engine *e[2];
    int n_engines;
    bool peer_poll; /* drive with zdc_peer_poll (Godot style) instead of zdc_engine_poll */
    side a, b;
} world;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The address every engine binds (a test may switch to ::1 before world_init). */
static const char *bind_ip = "127.0.0.1";

static zdc_engine *new_engine(int backend)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.backend = backend;
    o.include_loopback = true;
    o.bind_address = bind_ip;
    zdc_engine *e = NULL;
    int rv = zdc_engine_new(&o, &e);
    if (rv == ZDC_ERR_NOT_SUPPORTED)
        cr_skip_test("backend %d is not available here", backend);
    cr_assert_eq(rv, 0, "zdc_engine_new: %s", zdc_strerror(rv));
    int fam = strchr(bind_ip, ':') ? 6 : 4;
    cr_assert_gt(zdc_engine_port(e, fam), 0);
    cr_assert_eq(zdc_engine_port(e, fam == 4 ? 6 : 4), ZDC_ERR_NOT_FOUND, "bound to %s only",
                 bind_ip);
    const char *fp = zdc_engine_fingerprint(e);
    cr_assert_eq(strlen(fp), 32 * 3 - 1, "fingerprint '%s'", fp);
    cr_assert_str_eq(zdc_engine_backend_name(e),
                     backend == ZDC_BACKEND_URING ? "io_uring" : "epoll");
    return e;
}

static void new_peer(world *w, side *s, const char *name, int engine)
{
    s->name = name;
    zdc_peer_callbacks cb = callbacks_for(s);
    int rv = zdc_peer_new(w->e[engine], &cb, &s->peer);
    cr_assert_eq(rv, 0, "zdc_peer_new: %s", zdc_strerror(rv));
    cr_assert_neq(s->peer.id, 0);
    cr_assert_eq(zdc_peer_get_connection_state(s->peer), ZDC_STATE_NEW);
}

static void world_init(world *w, int backend, int engines, bool peer_poll)
{
    memset(w, 0, sizeof *w);
    w->n_engines = engines;
    w->peer_poll = peer_poll;
    for (int i = 0; i < engines; i++)
        w->e[i] = new_engine(backend);
    new_peer(w, &w->a, "A", 0);
    new_peer(w, &w->b, "B", engines - 1);
    w->a.other = &w->b;
    w->b.other = &w->a;
    w->a.relay = w->b.relay = true;
}

static void world_free(world *w)
{
    clear_msgs(&w->a);
    clear_msgs(&w->b);
    /* With the peers gone, every packet buffer comes back to the engine's pool once the
     * kernel is done with the last sends (the peers' farewells among them). */
    zdc_peer_free(w->a.peer);
    zdc_peer_free(w->b.peer);
    for (int i = 0; i < w->n_engines; i++) {
        zdc_engine_stats st;
        for (int k = 0; k < 200; k++) {
            zdc_engine_poll(w->e[i], 1);
            zdc_engine_get_stats(w->e[i], &st);
            if (st.buffers_outstanding == 0)
                break;
        }
        cr_expect_eq(st.buffers_outstanding, 0, "engine %d: %llu buffers outstanding", i,
                     (unsigned long long)st.buffers_outstanding);
        zdc_engine_free(w->e[i]); /* frees the peers still on it */
    }
}

static void poll_once(world *w)
{
    if (w->peer_poll) {
        /* A peer that is gone answers GONE; the other keeps the engines moving. */
        int ra = zdc_peer_poll(w->a.peer), rb = zdc_peer_poll(w->b.peer);
        cr_assert(ra == 0 || ra == ZDC_ERR_GONE);
        cr_assert(rb == 0 || rb == ZDC_ERR_GONE);
        if (ra != 0 && rb != 0) {
            for (int i = 0; i < w->n_engines; i++)
                cr_assert_eq(zdc_engine_poll(w->e[i], 1), 0);
        } else {
            /* An engine whose only peer is gone still receives: keep it going. */
            if (w->n_engines == 2 && ra != 0)
                cr_assert_eq(zdc_engine_poll(w->e[0], 0), 0);
            if (w->n_engines == 2 && rb != 0)
                cr_assert_eq(zdc_engine_poll(w->e[1], 0), 0);
            nanosleep(&(struct timespec){0, 200000}, NULL); /* zdc_peer_poll does not block */
        }
    } else {
        for (int i = 0; i < w->n_engines; i++)
            cr_assert_eq(zdc_engine_poll(w->e[i], w->n_engines == 1 ? 2 : 1), 0);
    }
}

/* Polls until cond(w) holds or ms pass. */
static bool drive(world *w, bool (*cond)(world *), uint64_t ms)
{
    uint64_t end = now_ms() + ms;
    while (!cond(w)) {
        if (now_ms() > end)
            return false;
        poll_once(w);
    }
    return true;
}

/* Every datagram the engines handed to the kernel has come out of one of their sockets
 * (loopback between them loses none, and nothing else sends to their ports): whatever was on
 * its way has been received and routed. */
static bool all_delivered(world *w)
{
    uint64_t tx = 0, rx = 0;
    for (int i = 0; i < w->n_engines; i++) {
        zdc_engine_stats st;
        zdc_engine_get_stats(w->e[i], &st);
        tx += st.tx_datagrams;
        rx += st.rx_datagrams + st.rx_no_buffer;
    }
    return rx >= tx;
}

/* "Nothing arrives", without waiting a while to see: once `done` holds (the other side has
 * taken the farewell and sends nothing more; NULL: nothing was going on), every datagram
 * sent is drained and one more poll runs the callbacks it caused. Any callback that was ever
 * going to come has come by then. */
static void settle(world *w, bool (*done)(world *), const char *what)
{
    if (done)
        cr_assert(drive(w, done, STEP_MS), "%s (A %d, B %d)", what, w->a.conn_state,
                  w->b.conn_state);
    cr_assert(drive(w, all_delivered, STEP_MS), "datagrams still on their way");
    poll_once(w);
}

static uint64_t total_tx(world *w)
{
    uint64_t tx = 0;
    for (int i = 0; i < w->n_engines; i++) {
        zdc_engine_stats st;
        zdc_engine_get_stats(w->e[i], &st);
        tx += st.tx_datagrams;
    }
    return tx;
}

static uint64_t tx_mark; /* total_tx before a marker was sent */

static bool marker_sent_and_delivered(world *w)
{
    return total_tx(w) > tx_mark && all_delivered(w);
}

static bool a_is_over(world *w)
{
    return w->a.conn_state == ZDC_STATE_CLOSED || w->a.conn_state == ZDC_STATE_FAILED;
}

static bool b_is_over(world *w)
{
    return w->b.conn_state == ZDC_STATE_CLOSED || w->b.conn_state == ZDC_STATE_FAILED;
}

static bool both_connected(world *w)
{
    return w->a.conn_state == ZDC_STATE_CONNECTED && w->b.conn_state == ZDC_STATE_CONNECTED;
}

static bool channel_open_both(world *w)
{
    return w->a.n_open >= 1 && w->b.n_received >= 1 && w->b.n_open >= 1;
}

/* A creates channel "chat", offers; the test relays; both connect and the channel opens on
 * both sides. Returns A's channel; B's is w->b.received[0]. */
static zdc_channel connect_pair(world *w, const char *label)
{
    zdc_channel_options o = zdc_channel_options_default();
    o.protocol = "zdc-test";
    zdc_channel ch;
    int rv = zdc_peer_create_data_channel(w->a.peer, label, &o, &ch);
    cr_assert_eq(rv, 0, "create_data_channel: %s", zdc_strerror(rv));
    cr_assert_eq(zdc_channel_get_ready_state(ch), ZDC_CHANNEL_CONNECTING);
    cr_assert_str_eq(zdc_channel_get_label(ch), label);
    rv = zdc_peer_create_offer(w->a.peer);
    cr_assert_eq(rv, 0, "create_offer: %s (%s)", zdc_strerror(rv), zdc_peer_last_error(w->a.peer));
    bool ok = drive(w, both_connected, CONNECT_MS);
    cr_assert(ok, "not connected: A state %d (%s), B state %d (%s); A %d candidates, B %d",
              w->a.conn_state, zdc_peer_last_error(w->a.peer), w->b.conn_state,
              zdc_peer_last_error(w->b.peer), w->a.n_candidates, w->b.n_candidates);
    cr_expect_gt(w->a.n_candidates, 0);
    cr_expect_gt(w->b.n_candidates, 0);
    cr_expect_eq(w->a.signaling, ZDC_SIGNALING_STABLE);
    cr_expect_eq(w->b.signaling, ZDC_SIGNALING_STABLE);
    ok = drive(w, channel_open_both, STEP_MS);
    cr_assert(ok, "channel not open: A opens %d, B received %d opens %d", w->a.n_open,
              w->b.n_received, w->b.n_open);
    cr_assert_eq(w->a.last_open.id, ch.id);
    zdc_channel bch = w->b.received[0];
    cr_assert_eq(w->b.last_open.id, bch.id);
    cr_assert_eq(zdc_channel_get_ready_state(ch), ZDC_CHANNEL_OPEN);
    cr_assert_eq(zdc_channel_get_ready_state(bch), ZDC_CHANNEL_OPEN);
    cr_assert_str_eq(zdc_channel_get_label(bch), label);
    cr_assert_str_eq(zdc_channel_get_protocol(bch), "zdc-test");
    cr_assert(zdc_channel_is_ordered(bch));
    cr_assert(!zdc_channel_is_negotiated(bch));
    cr_assert_eq(zdc_channel_get_id(bch), zdc_channel_get_id(ch));
    cr_assert_geq(zdc_channel_get_id(ch), 0);
    return ch;
}

/* ---- messages -------------------------------------------------------------------------- */

static uint8_t pattern(size_t i, size_t len, bool text)
{
    /* text: printable ASCII (valid UTF-8); binary: every byte value */
    return text ? (uint8_t)('a' + (i * 7 + len) % 26) : (uint8_t)(i * 31 + len * 13 + (i >> 8));
}

static side *want_side;
static int want_count;
static bool got_count(world *w)
{
    (void)w;
    return want_side->n_msgs >= want_count;
}

/* Sends one message of each size and kind from `from` on ch; checks that `to` gets them all,
 * in order, intact, on the channel `to_ch`, with the right text flag. */
static void exchange(world *w, side *from, zdc_channel ch, side *to, zdc_channel to_ch)
{
    static const size_t sizes[] = {0, 1, 1200, 65536};
    const size_t ns = sizeof sizes / sizeof sizes[0];
    clear_msgs(to);
    for (int text = 0; text < 2; text++) {
        cr_assert_eq(
            zdc_channel_set_write_mode(ch, text ? ZDC_WRITE_MODE_TEXT : ZDC_WRITE_MODE_BINARY), 0);
        cr_assert_eq(zdc_channel_get_write_mode(ch),
                     text ? ZDC_WRITE_MODE_TEXT : ZDC_WRITE_MODE_BINARY);
        for (size_t k = 0; k < ns; k++) {
            uint8_t *buf = malloc(sizes[k] + 1);
            for (size_t i = 0; i < sizes[k]; i++)
                buf[i] = pattern(i, sizes[k], text);
            int rv = zdc_channel_put_packet(ch, buf, sizes[k]);
            free(buf);
            cr_assert_eq(rv, 0, "%s: put_packet(%zu): %s", from->name, sizes[k], zdc_strerror(rv));
        }
    }
    want_side = to;
    want_count = (int)(2 * ns);
    bool ok = drive(w, got_count, STEP_MS);
    cr_assert(ok, "%s received %d of %d messages", to->name, to->n_msgs, want_count);
    for (int n = 0; n < want_count; n++) {
        const msg *m = &to->msgs[n];
        bool text = n >= (int)ns;
        size_t len = sizes[n % ns];
        cr_assert_eq(m->ch, to_ch.id, "message %d on another channel", n);
        cr_assert_eq(m->len, len, "message %d: %zu bytes, want %zu", n, m->len, len);
        cr_assert_eq(m->text, text, "message %d: was_string %d", n, m->text);
        for (size_t i = 0; i < len; i++)
            cr_assert_eq(m->p[i], pattern(i, len, text), "message %d byte %zu", n, i);
    }
    cr_assert_eq(zdc_channel_get_available_packet_count(to_ch), 0);
}

/* ---- scenarios ------------------------------------------------------------------------- */

static bool a_sees_close(world *w)
{
    return w->a.n_close >= 1;
}

static bool b_sees_close(world *w)
{
    return w->b.n_close >= 1;
}

/* Offer/answer, trickle, connect, channel open both ways, messages both ways, channel closed
 * by the remote side, peer closed, then both re-initialized and connected again. */
static void full_session(int backend, int engines, bool peer_poll)
{
    world w;
    world_init(&w, backend, engines, peer_poll);
    zdc_channel a = connect_pair(&w, "chat");
    zdc_channel b = w.b.received[0];
    cr_assert_eq(w.b.n_received, 1);
    exchange(&w, &w.a, a, &w.b, b);
    exchange(&w, &w.b, b, &w.a, a);

    /* A closes its channel: B is told by a stream reset (RFC 8831 §6.7), A when it completes. */
    cr_assert_eq(zdc_channel_close(a), 0);
    cr_assert(drive(&w, b_sees_close, STEP_MS), "B did not see the channel close");
    cr_assert_eq(w.b.last_close.id, b.id);
    cr_assert(drive(&w, a_sees_close, STEP_MS), "A's close did not complete");
    cr_assert_eq(zdc_channel_get_ready_state(a), ZDC_CHANNEL_CLOSED);
    cr_assert_eq(zdc_channel_get_ready_state(b), ZDC_CHANNEL_CLOSED);
    cr_assert_eq(zdc_channel_put_packet(a, (const uint8_t *)"x", 1), ZDC_ERR_INVALID_STATE);

    /* B closes the peer: no B callback after that, even while A goes on. */
    zdc_peer_close(w.b.peer);
    w.b.closed = true;
    cr_assert_eq(zdc_peer_get_connection_state(w.b.peer), ZDC_STATE_CLOSED);
    cr_assert_eq(zdc_peer_get_signaling_state(w.b.peer), ZDC_SIGNALING_CLOSED);
    settle(&w, a_is_over, "A did not see B's close");
    cr_assert_eq(w.b.late, 0, "%d callbacks after close", w.b.late);

    /* Re-initialize both (back to NEW) and connect again. Old channel handles are gone. */
    zdc_peer_config cfg = {0};
    cr_assert_eq(zdc_peer_initialize(w.a.peer, &cfg), 0);
    cr_assert_eq(zdc_peer_initialize(w.b.peer, &cfg), 0);
    cr_assert_eq(zdc_peer_get_connection_state(w.a.peer), ZDC_STATE_NEW);
    cr_assert_eq(zdc_peer_get_connection_state(w.b.peer), ZDC_STATE_NEW);
    cr_assert_eq(zdc_channel_get_ready_state(a), ZDC_CHANNEL_CLOSED);
    cr_assert_eq(zdc_channel_put_packet(a, (const uint8_t *)"x", 1), ZDC_ERR_GONE);
    cr_assert_str_eq(zdc_channel_get_label(b), "");
    side *sides[2] = {&w.a, &w.b};
    for (int i = 0; i < 2; i++) {
        clear_msgs(sides[i]);
        sides[i]->closed = false;
        sides[i]->conn_state = sides[i]->n_open = sides[i]->n_close = sides[i]->n_received = 0;
        sides[i]->n_candidates = 0;
    }
    a = connect_pair(&w, "again");
    b = w.b.received[0];
    exchange(&w, &w.a, a, &w.b, b);
    exchange(&w, &w.b, b, &w.a, a);

    /* Now A closes the whole peer: B's channel closes (SCTP ABORT); no A callback after. */
    zdc_peer_close(w.a.peer);
    w.a.closed = true;
    cr_assert(drive(&w, b_sees_close, STEP_MS), "B did not see A's close");
    cr_assert_eq(zdc_channel_get_ready_state(b), ZDC_CHANNEL_CLOSED);
    settle(&w, b_is_over, "B's connection did not end");
    cr_assert_eq(w.a.late, 0);
    for (int i = 0; i < w.n_engines; i++) {
        zdc_engine_stats st;
        zdc_engine_get_stats(w.e[i], &st);
        cr_expect_gt(st.rx_datagrams, 100);
        cr_expect_gt(st.tx_datagrams, 100);
        cr_expect_gt(st.rx_routed, 100);
        cr_expect_eq(st.tx_no_buffer, 0);
        cr_expect_eq(st.rx_no_buffer, 0);
        cr_expect_eq(st.tx_refused, 0);
        /* Two peers on one engine talk through its own socket. */
        if (w.n_engines == 1)
            cr_expect_geq(st.self_sent, st.tx_datagrams);
        else
            cr_expect_eq(st.self_sent, 0);
    }
    world_free(&w);
}

/* ---- ICE restart over real sockets ----------------------------------------------------- */

static int restarts_done; /* "ICE restart N complete" lines, from both peers */
static void count_restarts(void *user, int level, int component, zdc_peer peer, const char *line)
{
    (void)user;
    (void)level;
    (void)component;
    (void)peer;
    if (strstr(line, "restart") && strstr(line, "complete"))
        restarts_done++;
}

static bool both_restarted(world *w)
{
    return restarts_done >= 2 && w->a.signaling == ZDC_SIGNALING_STABLE &&
           w->b.signaling == ZDC_SIGNALING_STABLE;
}

/* zdc_peer_restart_ice from either side, with the engines' routing in the loop: the new
 * local ufrag must route the new checks; messages keep flowing; nothing closes. */
static void restart_session(int backend, int engines)
{
    world w;
    world_init(&w, backend, engines, false);
    for (int i = 0; i < engines; i++)
        cr_assert_eq(zdc_engine_set_log(w.e[i], ZDC_LOG_INFO, count_restarts, NULL), 0);
    zdc_channel ch = connect_pair(&w, "restart");
    zdc_channel bch = w.b.received[0];
    side *who[2] = {&w.b, &w.a};
    for (int k = 0; k < 2; k++) {
        restarts_done = 0;
        cr_assert_eq(zdc_peer_restart_ice(who[k]->peer), 0, "%s",
                     zdc_peer_last_error(who[k]->peer));
        exchange(&w, &w.a, ch, &w.b, bch); /* during the restart */
        cr_assert(drive(&w, both_restarted, STEP_MS), "restart %d: %d of 2 agents done", k,
                  restarts_done);
        exchange(&w, &w.b, bch, &w.a, ch); /* over the new pair */
    }
    cr_assert_eq(w.a.conn_state, ZDC_STATE_CONNECTED);
    cr_assert_eq(w.b.conn_state, ZDC_STATE_CONNECTED);
    cr_assert_eq(w.a.n_close + w.b.n_close, 0, "no channel closed");
    cr_assert_eq(zdc_peer_restart_ice((zdc_peer){0}), ZDC_ERR_GONE);
    world_free(&w);
}

Test(peer, ice_restart_one_engine_epoll, .timeout = 90)
{
    restart_session(ZDC_BACKEND_EPOLL, 1);
}
Test(peer, ice_restart_two_engines_uring, .timeout = 90)
{
    restart_session(ZDC_BACKEND_URING, 2);
}

Test(peer, one_engine_uring, .timeout = 90)
{
    full_session(ZDC_BACKEND_URING, 1, false);
}
Test(peer, one_engine_epoll, .timeout = 90)
{
    full_session(ZDC_BACKEND_EPOLL, 1, false);
}
Test(peer, two_engines_uring, .timeout = 90)
{
    full_session(ZDC_BACKEND_URING, 2, false);
}
Test(peer, two_engines_epoll, .timeout = 90)
{
    full_session(ZDC_BACKEND_EPOLL, 2, false);
}
Test(peer, one_engine_peer_poll_uring, .timeout = 90)
{
    full_session(ZDC_BACKEND_URING, 1, true);
}
Test(peer, two_engines_peer_poll_epoll, .timeout = 90)
{
    full_session(ZDC_BACKEND_EPOLL, 2, true);
}

/* Channels every way: one A opens (B is told), one B created before the offer (A is told),
 * and a negotiated one both create with the same id (nobody is told). Each carries its own
 * messages; a channel cannot be added once connecting started. */
static bool three_open_each(world *w)
{
    return w->a.n_open >= 3 && w->b.n_open >= 3;
}

static bool one_msg_each(world *w)
{
    return w->a.n_msgs >= 2 && w->b.n_msgs >= 2;
}

static void send_text(zdc_channel ch, const char *s)
{
    cr_assert_eq(zdc_channel_set_write_mode(ch, ZDC_WRITE_MODE_TEXT), 0);
    int rv = zdc_channel_put_packet(ch, (const uint8_t *)s, strlen(s));
    cr_assert_eq(rv, 0, "put_packet(%s): %s", s, zdc_strerror(rv));
}

static const msg *find_msg(const side *s, zdc_channel ch)
{
    for (int i = 0; i < s->n_msgs; i++)
        if (s->msgs[i].ch == ch.id)
            return &s->msgs[i];
    return NULL;
}

static void expect_msg(const side *s, zdc_channel ch, const char *text)
{
    const msg *m = find_msg(s, ch);
    cr_assert_not_null(m, "%s: nothing on channel %s", s->name, zdc_channel_get_label(ch));
    cr_assert(m->text);
    cr_assert_eq(m->len, strlen(text));
    cr_assert_arr_eq(m->p, text, m->len);
}

static void channels_every_way(int backend, int engines)
{
    world w;
    world_init(&w, backend, engines, false);
    zdc_channel_options o = zdc_channel_options_default();
    o.ordered = false;
    o.max_retransmits = 2;
    zdc_channel b_own, a_neg, b_neg, a_own;
    cr_assert_eq(zdc_peer_create_data_channel(w.b.peer, "from-b", &o, &b_own), 0);
    o = zdc_channel_options_default();
    o.negotiated = true;
    o.id = 10;
    cr_assert_eq(zdc_peer_create_data_channel(w.a.peer, "neg", &o, &a_neg), 0);
    cr_assert_eq(zdc_peer_create_data_channel(w.b.peer, "neg", &o, &b_neg), 0);
    cr_assert_eq(zdc_peer_create_data_channel(w.a.peer, "from-a", NULL, &a_own), 0);
    cr_assert_eq(zdc_peer_create_offer(w.a.peer), 0);
    cr_assert(drive(&w, three_open_each, CONNECT_MS), "opens: A %d, B %d (A %s / B %s)", w.a.n_open,
              w.b.n_open, zdc_peer_last_error(w.a.peer), zdc_peer_last_error(w.b.peer));
    cr_assert_eq(w.a.n_received, 1, "A was told of %d channels", w.a.n_received);
    cr_assert_eq(w.b.n_received, 1, "B was told of %d channels", w.b.n_received);
    zdc_channel a_from_b = w.a.received[0], b_from_a = w.b.received[0];
    cr_assert_str_eq(zdc_channel_get_label(a_from_b), "from-b");
    cr_assert(!zdc_channel_is_ordered(a_from_b));
    cr_assert_eq(zdc_channel_get_max_retransmits(a_from_b), 2);
    cr_assert_eq(zdc_channel_get_max_packet_life_time(a_from_b), -1);
    cr_assert_str_eq(zdc_channel_get_label(b_from_a), "from-a");
    cr_assert_eq(zdc_channel_get_id(a_from_b), zdc_channel_get_id(b_own));
    cr_assert_eq(zdc_channel_get_id(b_from_a), zdc_channel_get_id(a_own));
    /* RFC 8832 §6: the two openers use stream ids of opposite parity. */
    cr_assert_neq(zdc_channel_get_id(a_own) % 2, zdc_channel_get_id(b_own) % 2);
    cr_assert_eq(zdc_channel_get_id(a_neg), 10);
    cr_assert(zdc_channel_is_negotiated(b_neg));
    cr_assert_eq(zdc_channel_get_ready_state(a_neg), ZDC_CHANNEL_OPEN);
    cr_assert_eq(zdc_channel_get_ready_state(b_neg), ZDC_CHANNEL_OPEN);

    zdc_channel late;
    cr_assert_eq(zdc_peer_create_data_channel(w.a.peer, "late", NULL, &late),
                 ZDC_ERR_INVALID_STATE);

    send_text(a_own, "a-own");
    send_text(a_neg, "a-neg");
    send_text(b_own, "b-own");
    send_text(b_neg, "b-neg");
    cr_assert(drive(&w, one_msg_each, STEP_MS), "messages: A %d, B %d", w.a.n_msgs, w.b.n_msgs);
    expect_msg(&w.b, b_from_a, "a-own");
    expect_msg(&w.b, b_neg, "a-neg");
    expect_msg(&w.a, a_from_b, "b-own");
    expect_msg(&w.a, a_neg, "b-neg");
    world_free(&w);
}

Test(peer, channels_every_way_one_engine_uring, .timeout = 60)
{
    channels_every_way(ZDC_BACKEND_URING, 1);
}
Test(peer, channels_every_way_two_engines_epoll, .timeout = 60)
{
    channels_every_way(ZDC_BACKEND_EPOLL, 2);
}

/* zdc_peer_free from inside a callback: the peer goes at once for the application, is freed
 * when the poll unwinds, and the other peer and the engine carry on. */
static void free_in_callback(int backend, int engines, bool peer_poll, int when)
{
    world w;
    world_init(&w, backend, engines, peer_poll);
    w.b.free_on = when;
    zdc_channel ch;
    cr_assert_eq(zdc_peer_create_data_channel(w.a.peer, "x", NULL, &ch), 0);
    cr_assert_eq(zdc_peer_create_offer(w.a.peer), 0);
    zdc_peer b = w.b.peer;
    if (when == FREE_ON_MESSAGE) {
        cr_assert(drive(&w, channel_open_both, CONNECT_MS), "channel did not open");
        cr_assert_eq(zdc_channel_put_packet(ch, (const uint8_t *)"bye", 3), 0);
    }
    bool freed = false;
    uint64_t end = now_ms() + CONNECT_MS;
    while (!(freed = w.b.freed_in_cb) && now_ms() < end)
        poll_once(&w);
    cr_assert(freed, "B's callback never ran");
    cr_assert_eq(zdc_peer_poll(b), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_get_connection_state(b), ZDC_STATE_CLOSED);
    cr_assert_eq(zdc_channel_get_ready_state(w.b.received[0]), ZDC_CHANNEL_CLOSED);
    cr_assert_eq(zdc_channel_put_packet(w.b.received[0], (const uint8_t *)"x", 1), ZDC_ERR_GONE);
    w.b.relay = false;
    /* A and the engines keep running: nothing reaches the freed B. First everything on its
     * way when B went arrives; then, if A's channel is open, A sends a marker on it, which
     * goes out and comes in (to nobody). A may not see B go (a freed peer's farewell is best
     * effort), and with its channel still connecting A has nothing to send before its next
     * consent check: the drained link is the proof then. */
    settle(&w, NULL, NULL);
    if (zdc_channel_get_ready_state(ch) == ZDC_CHANNEL_OPEN) {
        tx_mark = total_tx(&w);
        cr_assert_eq(zdc_channel_put_packet(ch, (const uint8_t *)"marker", 6), 0);
        cr_assert(drive(&w, marker_sent_and_delivered, STEP_MS), "the marker did not go through");
        poll_once(&w);
    }
    cr_assert_eq(w.b.late, 0);
    zdc_peer_free(b); /* stale: ignored */
    world_free(&w);
}

Test(peer, free_in_data_channel_callback_uring, .timeout = 60)
{
    free_in_callback(ZDC_BACKEND_URING, 1, false, FREE_ON_DATA_CHANNEL);
}
Test(peer, free_in_message_callback_epoll, .timeout = 60)
{
    free_in_callback(ZDC_BACKEND_EPOLL, 2, true, FREE_ON_MESSAGE);
}
Test(peer, free_in_message_callback_uring_engine_poll, .timeout = 60)
{
    free_in_callback(ZDC_BACKEND_URING, 2, false, FREE_ON_MESSAGE);
}

/* Handles outliving their objects, and the engine's own checks. */
Test(peer, stale_handles_answer_gone)
{
    world w;
    world_init(&w, ZDC_BACKEND_EPOLL, 1, false);
    zdc_channel ch;
    cr_assert_eq(zdc_peer_create_data_channel(w.a.peer, "c", NULL, &ch), 0);
    zdc_peer a = w.a.peer;
    zdc_peer_free(a);
    w.a.closed = true;
    cr_assert_eq(zdc_peer_create_offer(a), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_initialize(a, NULL), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_poll(a), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_add_ice_candidate(a, "0", 0, ""), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_set_remote_description(a, "offer", "v=0\r\n"), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_get_connection_state(a), ZDC_STATE_CLOSED);
    cr_assert_eq(zdc_peer_get_signaling_state(a), ZDC_SIGNALING_CLOSED);
    cr_assert_eq(zdc_channel_put_packet(ch, (const uint8_t *)"x", 1), ZDC_ERR_GONE);
    cr_assert_eq(zdc_channel_close(ch), ZDC_ERR_GONE);
    cr_assert_eq(zdc_channel_get_ready_state(ch), ZDC_CHANNEL_CLOSED);
    cr_assert_str_eq(zdc_channel_get_label(ch), "");
    cr_assert_eq(zdc_channel_get_id(ch), -1);
    zdc_peer_free(a);             /* ignored */
    zdc_peer_free((zdc_peer){0}); /* ignored */
    cr_assert_eq(zdc_peer_poll((zdc_peer){0}), ZDC_ERR_GONE);
    /* A new peer does not revive the old handle (generation check). */
    new_peer(&w, &w.a, "A2", 0);
    cr_assert_neq(w.a.peer.id, a.id);
    cr_assert_eq(zdc_peer_create_offer(a), ZDC_ERR_GONE);
    settle(&w, NULL, NULL);
    cr_assert_eq(w.a.late, 0);
    world_free(&w);
    /* The engine freed the peers still on it: their handles are stale too. */
    cr_assert_eq(zdc_peer_poll(w.b.peer), ZDC_ERR_GONE);
}

Test(peer, builtin_needs_an_engine)
{
    zdc_peer p = {42};
    cr_assert_eq(zdc_peer_new(NULL, NULL, &p), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(p.id, 0);
    cr_assert_eq(zdc_peer_new(NULL, NULL, NULL), ZDC_ERR_INVALID_PARAMETER);
}

Test(peer, engine_options_are_checked)
{
    zdc_engine_options o;
    zdc_engine *e = (zdc_engine *)1;
    zdc_engine_options_default(&o);
    o.port_min = 20, o.port_max = 10;
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_null(e);
    zdc_engine_options_default(&o);
    o.bind_address = "localhost"; /* not an IP literal */
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_INVALID_PARAMETER);
    zdc_engine_options_default(&o);
    o.ipv4 = o.ipv6 = false;
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_INVALID_PARAMETER);
    zdc_engine_options_default(&o);
    o.bind_address = "192.0.2.1"; /* TEST-NET-1: not an address of this host */
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_NO_INTERFACE);
    zdc_engine_free(NULL);
}

static bool a_has_local_offer(world *w)
{
    return w->a.signaling == ZDC_SIGNALING_HAVE_LOCAL_OFFER;
}

Test(peer, channel_only_before_offer)
{
    world w;
    world_init(&w, ZDC_BACKEND_EPOLL, 1, false);
    w.a.relay = false;
    cr_assert_eq(zdc_peer_create_offer(w.a.peer), ZDC_ERR_INVALID_STATE, "no channel yet");
    zdc_channel ch;
    zdc_channel_options o = zdc_channel_options_default();
    o.max_retransmits = 1;
    o.max_packet_life_time = 100;
    cr_assert_eq(zdc_peer_create_data_channel(w.a.peer, "c", &o, &ch), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(ch.id, 0);
    cr_assert_eq(zdc_peer_create_data_channel(w.a.peer, "c", NULL, &ch), 0);
    cr_assert_eq(zdc_channel_set_write_mode(ch, 7), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_channel_get_write_mode(ch), ZDC_WRITE_MODE_BINARY);
    cr_assert_eq(zdc_channel_put_packet(ch, (const uint8_t *)"x", 1), ZDC_ERR_INVALID_STATE);
    cr_assert_eq(zdc_peer_create_offer(w.a.peer), 0);
    cr_assert(drive(&w, a_has_local_offer, STEP_MS), "signaling %d", w.a.signaling);
    cr_assert_eq(w.a.signaling, ZDC_SIGNALING_HAVE_LOCAL_OFFER);
    world_free(&w);
}

/* stun: names are resolved by zdc_peer_initialize (here "localhost", from the hosts file) and
 * the peer's gathering sends its Binding request to the address. */
Test(peer, stun_server_names_are_resolved)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char url[64];
    snprintf(url, sizeof url, "stun:localhost:%u", (unsigned)ntohs(sa.sin_port));

    world w;
    world_init(&w, ZDC_BACKEND_EPOLL, 1, false);
    w.a.relay = false;
    zdc_ice_server srv = {.urls = url};
    zdc_peer_config cfg = {.ice_servers = &srv, .n_ice_servers = 1};
    int rv = zdc_peer_initialize(w.a.peer, &cfg);
    cr_assert_eq(rv, 0, "initialize: %s (%s)", zdc_strerror(rv), zdc_peer_last_error(w.a.peer));
    zdc_channel ch;
    cr_assert_eq(zdc_peer_create_data_channel(w.a.peer, "c", NULL, &ch), 0);
    cr_assert_eq(zdc_peer_create_offer(w.a.peer), 0);
    uint8_t buf[1500];
    ssize_t n = -1;
    uint64_t end = now_ms() + 5000;
    while (n < 0 && now_ms() < end) {
        poll_once(&w);
        n = recv(fd, buf, sizeof buf, 0);
    }
    close(fd);
    cr_assert_geq(n, 20, "no STUN request reached the server");
    /* RFC 8489 §5: a Binding request with the magic cookie. */
    cr_assert_eq(buf[0], 0x00);
    cr_assert_eq(buf[1], 0x01);
    cr_assert_eq(buf[4], 0x21);
    cr_assert_eq(buf[5], 0x12);
    cr_assert_eq(buf[6], 0xa4);
    cr_assert_eq(buf[7], 0x42);
    world_free(&w);
}

static bool have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The same over ::1: IPv6 candidates, sockets and routing. */
static void ipv6_session(int backend, int engines)
{
    if (!have_ipv6_loopback())
        cr_skip_test("::1 is not available on this host");
    bind_ip = "::1";
    world w;
    world_init(&w, backend, engines, false);
    zdc_channel a = connect_pair(&w, "v6");
    exchange(&w, &w.a, a, &w.b, w.b.received[0]);
    exchange(&w, &w.b, w.b.received[0], &w.a, a);
    world_free(&w);
}

Test(peer, ipv6_two_engines_uring, .timeout = 60)
{
    ipv6_session(ZDC_BACKEND_URING, 2);
}
Test(peer, ipv6_one_engine_epoll, .timeout = 60)
{
    ipv6_session(ZDC_BACKEND_EPOLL, 1);
}

/* Two pairs on one engine: four peers share its socket, every datagram is self traffic, and
 * each must reach the right peer (STUN by USERNAME, the rest by the pairing STUN made). */
static world *second;

static bool both_pairs_open(world *w)
{
    return channel_open_both(w) && channel_open_both(second);
}

static void two_pairs(int backend)
{
    world w1, w2;
    world_init(&w1, backend, 1, false);
    memset(&w2, 0, sizeof w2);
    w2.e[0] = w1.e[0];
    w2.n_engines = 1; /* polls the shared engine; freed by w1 */
    new_peer(&w2, &w2.a, "C", 0);
    new_peer(&w2, &w2.b, "D", 0);
    w2.a.other = &w2.b;
    w2.b.other = &w2.a;
    w2.a.relay = w2.b.relay = true;
    second = &w2;
    zdc_channel p1, p2;
    cr_assert_eq(zdc_peer_create_data_channel(w1.a.peer, "pair-1", NULL, &p1), 0);
    cr_assert_eq(zdc_peer_create_data_channel(w2.a.peer, "pair-2", NULL, &p2), 0);
    cr_assert_eq(zdc_peer_create_offer(w1.a.peer), 0);
    cr_assert_eq(zdc_peer_create_offer(w2.a.peer), 0);
    cr_assert(drive(&w1, both_pairs_open, CONNECT_MS), "pairs not open: B %d, D %d",
              w1.b.n_received, w2.b.n_received);
    cr_assert_str_eq(zdc_channel_get_label(w1.b.received[0]), "pair-1");
    cr_assert_str_eq(zdc_channel_get_label(w2.b.received[0]), "pair-2");
    cr_assert_eq(w1.a.n_received + w2.a.n_received, 0);
    exchange(&w1, &w1.a, p1, &w1.b, w1.b.received[0]);
    exchange(&w2, &w2.b, w2.b.received[0], &w2.a, p2);
    zdc_engine_stats st;
    zdc_engine_get_stats(w1.e[0], &st);
    /* A few late STUN responses (to requests whose transaction ICE already finished) find no
     * peer and are dropped; everything else was delivered. */
    cr_expect_gt(st.rx_routed, 100);
    cr_expect_lt(st.rx_unrouted, 16, "%llu datagrams found no peer",
                 (unsigned long long)st.rx_unrouted);
    clear_msgs(&w2.a);
    clear_msgs(&w2.b);
    world_free(&w1);
}

Test(peer, two_pairs_one_engine_uring)
{
    two_pairs(ZDC_BACKEND_URING);
}
Test(peer, two_pairs_one_engine_epoll)
{
    two_pairs(ZDC_BACKEND_EPOLL);
}

/* ---- zero-copy send path ---------------------------------------------------------------- */

static void zero_copy_send(int backend)
{
    world w;
    world_init(&w, backend, 1, false);
    zdc_channel ch = connect_pair(&w, "zc");
    zdc_channel bch = w.b.received[0];
    clear_msgs(&w.b);

    /* Misuse first: nothing outstanding to submit; data NULL; over the remote limit. */
    uint8_t *d = NULL;
    cr_assert_eq(zdc_channel_submit_send_buffer(ch, 1), ZDC_ERR_INVALID_STATE);
    cr_assert_eq(zdc_channel_acquire_send_buffer(ch, 16, NULL), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_channel_acquire_send_buffer(ch, 300 * 1024, &d), ZDC_ERR_TOO_LARGE);

    /* One buffer at a time; len > cap refused and the buffer kept; discard drops it. */
    cr_assert_eq(zdc_channel_acquire_send_buffer(ch, 8, &d), 0);
    cr_assert_not_null(d);
    cr_assert_eq(zdc_channel_acquire_send_buffer(ch, 8, &d), ZDC_ERR_INVALID_STATE);
    cr_assert_eq(zdc_channel_submit_send_buffer(ch, 9), ZDC_ERR_INVALID_PARAMETER);
    memcpy(d, "dropped!", 8);
    zdc_channel_discard_send_buffer(ch);
    cr_assert_eq(zdc_channel_submit_send_buffer(ch, 8), ZDC_ERR_INVALID_STATE);

    /* Many messages written in place, sizes 0..64 KiB, more than SCTP takes at once so some
     * are queued as the application's own buffers; all arrive intact and in order. */
    enum { N_ZC = 48 };
    size_t sizes[N_ZC];
    static const size_t first[] = {0, 1, 1200, 16384};
    for (int k = 0; k < N_ZC; k++)
        sizes[k] = k < 4 ? first[k] : 65536 - (size_t)k;
    const int n = N_ZC;
    zdc_channel_set_write_mode(ch, ZDC_WRITE_MODE_BINARY);
    for (int k = 0; k < n; k++) {
        cr_assert_eq(zdc_channel_acquire_send_buffer(ch, sizes[k] + 100, &d), 0);
        for (size_t i = 0; i < sizes[k]; i++)
            d[i] = pattern(i, sizes[k], false);
        int rv = zdc_channel_submit_send_buffer(ch, sizes[k]);
        cr_assert_eq(rv, 0, "submit %d: %s", k, zdc_strerror(rv));
    }
    /* About 3 MiB at once: SCTP's send buffer is full, so buffers were queued as they were. */
    cr_assert_gt(zdc_channel_get_buffered_amount(ch), 0);
    want_side = &w.b;
    want_count = n;
    cr_assert(drive(&w, got_count, STEP_MS), "received %d of %d", w.b.n_msgs, n);
    for (int k = 0; k < n; k++) {
        const msg *m = &w.b.msgs[k];
        cr_assert_eq(m->ch, bch.id);
        cr_assert_eq(m->len, sizes[k], "message %d: %zu bytes", k, m->len);
        cr_assert_not(m->text);
        for (size_t i = 0; i < sizes[k]; i++)
            cr_assert_eq(m->p[i], pattern(i, sizes[k], false), "message %d byte %zu", k, i);
    }

    /* A buffer still outstanding when the peer goes is freed with it (LSan checks). */
    cr_assert_eq(zdc_channel_acquire_send_buffer(ch, 1000, &d), 0);
    world_free(&w);
}

Test(peer, zero_copy_send_uring, .timeout = 60)
{
    zero_copy_send(ZDC_BACKEND_URING);
}

Test(peer, zero_copy_send_epoll, .timeout = 60)
{
    zero_copy_send(ZDC_BACKEND_EPOLL);
}
