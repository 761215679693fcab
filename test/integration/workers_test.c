/* Engines with workers (include/zdc/engine.h, docs/threads.md): one port, an I/O thread, and
 * protocol workers each polled by a thread of the test's own.
 *
 * The traffic case: a server engine with 3 workers, each polled by its own thread, and two
 * client threads. A client peer needs an address of its own (the server tells its peers'
 * DTLS apart by remote address), so each client peer gets an engine of its own: every other
 * one an engine with an I/O thread and one worker (the "engine in the background" mode), the
 * others inline engines. Client threads keep a few pairs in flight: each creates a client
 * engine and peer, signals through the other thread's
 * mailbox (callbacks fire on the polling thread; a peer's calls belong to that thread, so
 * signaling crosses threads as messages plus zdc_engine_wake), the server thread creates the
 * server peer on its worker, every message the client sends on its reliable channel is echoed
 * and checked (pair tag, sequence), then both sides free their peer while other pairs
 * connect and send. A handle freed on one thread is then used from another: refused (GONE).
 * At the end every peer is gone and every packet buffer is back in the pool (stats), and
 * zdc_engine_free stops the threads.
 *
 * Wall time: engines read CLOCK_MONOTONIC themselves (no fake clock); every wait is for a
 * condition, bounded by DEADLINE_MS. Also built under ThreadSanitizer (label thread).
 * ctest-labels: integration thread */
#include <criterion/criterion.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zdc/zdc.h"

#define DEADLINE_MS 60000
#define PAIRS       24
#define IN_FLIGHT   3 /* pairs one client thread runs at once */
#define MESSAGES    40
#define SRV_WORKERS 3
#define CLI_WORKERS 2
#define MAILBOX     4096

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void use_native_sctp(void)
{
    setenv("ZDC_SCTP", "native", 1); /* workers need an SCTP without process-global state */
}

/* ---- API shape ------------------------------------------------------------------------- */

Test(workers, api_shape)
{
    use_native_sctp();
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    cr_assert_eq(o.workers, 0);
    cr_assert(!o.io_thread);
    zdc_engine *e;
    cr_assert_eq(zdc_engine_new(&o, &e), 0);
    cr_assert_eq(zdc_engine_workers(e), 1);
    cr_assert_eq(zdc_engine_worker(e, 0), e, "without workers, worker 0 is the engine");
    cr_assert_null(zdc_engine_worker(e, 1));
    zdc_engine_free(e);

    o.workers = ZDC_ENGINE_MAX_WORKERS + 1;
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_INVALID_PARAMETER);
    o.workers = 3;
    cr_assert_eq(zdc_engine_new(&o, &e), 0);
    cr_assert_eq(zdc_engine_workers(e), 3);
    zdc_engine *w[3];
    for (unsigned i = 0; i < 3; i++) {
        w[i] = zdc_engine_worker(e, i);
        cr_assert_not_null(w[i]);
        cr_assert_neq(w[i], e);
        cr_assert_eq(zdc_engine_port(w[i], 4), zdc_engine_port(e, 4), "one port");
        cr_assert_str_eq(zdc_engine_fingerprint(w[i]), zdc_engine_fingerprint(e));
        cr_assert_eq(zdc_engine_poll(w[i], 0), 0);
    }
    cr_assert_neq(w[0], w[1]);
    cr_assert_null(zdc_engine_worker(e, 3));
    zdc_peer p;
    zdc_peer_callbacks cb = {0};
    cr_assert_eq(zdc_peer_new(e, &cb, &p), ZDC_ERR_INVALID_STATE, "the front runs no peers");
    cr_assert_eq(zdc_engine_poll(e, 0), ZDC_ERR_INVALID_STATE);
    cr_assert_eq(zdc_engine_fd(e), ZDC_ERR_INVALID_STATE);
    cr_assert_geq(zdc_engine_fd(w[1]), 0, "a worker has its own descriptor");
    cr_assert_eq(zdc_peer_new(w[2], &cb, &p), 0);
    zdc_engine_free(w[2]); /* a no-op: workers go with their engine */
    cr_assert_eq(zdc_peer_get_connection_state(p), ZDC_STATE_NEW);
    zdc_engine_free(e); /* frees the worker's peer too */
    cr_assert_eq(zdc_peer_create_offer(p), ZDC_ERR_GONE);

    /* One worker on a thread of its own (the "whole engine in the background" mode). */
    o.workers = 1;
    o.io_thread = true;
    cr_assert_eq(zdc_engine_new(&o, &e), 0);
    cr_assert_eq(zdc_engine_workers(e), 1);
    cr_assert_neq(zdc_engine_worker(e, 0), e);
    zdc_engine_free(e);
}

Test(workers, usrsctp_refused)
{
    setenv("ZDC_SCTP", "usrsctp", 1);
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.workers = 2;
    zdc_engine *e = NULL;
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_NOT_SUPPORTED,
                 "usrsctp is process-global: no workers on it");
    cr_assert_null(e);
    o.workers = 1;
    o.io_thread = true;
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_NOT_SUPPORTED);
    /* The engine's tuning.sctp_impl decides over ZDC_SCTP, both ways. */
    o.tuning.sctp_impl = ZDC_SCTP_IMPL_NATIVE;
    cr_assert_eq(zdc_engine_new(&o, &e), 0, "native asked for: threads allowed");
    /* ...and a peer on a worker cannot ask for usrsctp. */
    zdc_peer p;
    zdc_peer_callbacks cb = {0};
    cr_assert_eq(zdc_peer_new(zdc_engine_worker(e, 0), &cb, &p), 0);
    zdc_peer_config pc = {.tuning = {.sctp_impl = ZDC_SCTP_IMPL_USRSCTP}};
    cr_assert_eq(zdc_peer_initialize(p, &pc), ZDC_ERR_NOT_SUPPORTED);
    zdc_peer_free(p);
    zdc_engine_free(e);
    e = NULL;
    use_native_sctp();
    o.tuning.sctp_impl = ZDC_SCTP_IMPL_USRSCTP;
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_NOT_SUPPORTED, "usrsctp asked for: refused");
    cr_assert_null(e);
}

/* ---- traffic across workers and engines ------------------------------------------------- */

enum { MSG_OFFER, MSG_ANSWER, MSG_CAND, MSG_DONE };

typedef struct mail {
    int kind, pair;
    char *text, *mid;
    int index;
} mail;

typedef struct wthread wthread;

typedef struct tpair tpair;

typedef struct side {
    tpair *pair;
    bool server; /* which side: fixed before any thread starts (callbacks read it, not the
                    other side's handle, which another thread writes) */
    zdc_peer peer;
    zdc_channel ch;
    bool live, open, has_ch;
    int next_rx; /* next sequence expected */
    int next_tx;
} side;

struct tpair {
    int idx;
    zdc_engine *ce; /* the client's engine */
    wthread *cli, *srv;
    side c, s;
    bool done; /* client side: every echo back */
};

struct wthread {
    zdc_engine *w;
    bool server;
    pthread_t th;
    pthread_mutex_t lock;
    mail box[MAILBOX];
    size_t box_head, box_n;
    int first_pair, n_pairs, started, finished; /* client: its pairs */
    _Atomic bool stop;
    _Atomic int errors;
};

static tpair pairs[PAIRS];
static _Atomic int pairs_done, echoes, bad;
static _Atomic uint64_t stale_peer, stale_chan; /* freed on one thread, tried on another */
static _Atomic int stale_checked;

static void fail(wthread *t, const char *what, int pair)
{
    if (atomic_fetch_add(&t->errors, 1) < 10)
        fprintf(stderr, "workers_test pair %d: %s\n", pair, what);
}

static void send_mail(wthread *to, int kind, int pair, const char *text, const char *mid, int index)
{
    mail m = {kind, pair, text ? strdup(text) : NULL, mid ? strdup(mid) : NULL, index};
    pthread_mutex_lock(&to->lock);
    bool ok = to->box_n < MAILBOX;
    if (ok)
        to->box[(to->box_head + to->box_n++) % MAILBOX] = m;
    pthread_mutex_unlock(&to->lock);
    if (!ok) {
        free(m.text);
        free(m.mid);
        fail(to, "mailbox full", pair);
        return;
    }
    zdc_engine_wake(to->w); /* any thread */
}

static side *side_of(tpair *p, bool server)
{
    return server ? &p->s : &p->c;
}

static wthread *peer_thread(tpair *p, bool server)
{
    return server ? p->srv : p->cli;
}

static void on_description(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    side *me = user;
    tpair *p = me->pair;
    bool server = me->server;
    if (zdc_peer_set_local_description(peer, type, sdp) != 0)
        fail(peer_thread(p, server), "set_local_description", p->idx);
    send_mail(peer_thread(p, !server), server ? MSG_ANSWER : MSG_OFFER, p->idx, sdp, NULL, 0);
}

static void on_candidate(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    side *me = user;
    tpair *p = me->pair;
    bool server = me->server;
    send_mail(peer_thread(p, !server), MSG_CAND, p->idx, cand, mid, index);
}

static void on_data_channel(void *user, zdc_peer peer, zdc_channel ch)
{
    tpair *p = ((side *)user)->pair;
    (void)peer;
    p->s.ch = ch;
    p->s.has_ch = true;
}

static void on_open(void *user, zdc_peer peer, zdc_channel ch)
{
    side *me = user;
    tpair *p = me->pair;
    bool server = me->server;
    side *s = side_of(p, server);
    s->open = true;
    if (server)
        return;
    /* The client sends every message now: a reliable channel loses none. */
    for (int i = 0; i < MESSAGES; i++) {
        uint32_t msg[8] = {(uint32_t)p->idx, (uint32_t)i, 0xfeedu};
        if (zdc_channel_put_packet(ch, (const uint8_t *)msg, sizeof msg) != 0)
            fail(p->cli, "put_packet", p->idx);
        s->next_tx++;
    }
}

static void on_message(void *user, zdc_peer peer, zdc_channel ch)
{
    side *me = user;
    tpair *p = me->pair;
    bool server = me->server;
    side *s = side_of(p, server);
    const uint8_t *d;
    size_t len;
    bool str;
    while (zdc_channel_get_packet(ch, &d, &len, &str) == 0) {
        uint32_t msg[8];
        bool ok = len == sizeof msg;
        if (ok) {
            memcpy(msg, d, sizeof msg);
            ok = msg[0] == (uint32_t)p->idx && msg[1] == (uint32_t)s->next_rx && msg[2] == 0xfeedu;
        }
        if (!ok) {
            atomic_fetch_add(&bad, 1);
            fail(peer_thread(p, server), "wrong message (misrouted or reordered)", p->idx);
        }
        s->next_rx++;
        if (server && zdc_channel_put_packet(ch, d, len) != 0)
            fail(p->srv, "echo", p->idx);
        zdc_channel_release_packet(ch);
        if (!server) {
            atomic_fetch_add(&echoes, 1);
            if (s->next_rx == MESSAGES)
                p->done = true;
        }
    }
}

static const zdc_peer_callbacks callbacks = {
    .on_session_description_created = on_description,
    .on_ice_candidate_created = on_candidate,
    .on_data_channel_received = on_data_channel,
    .on_channel_open = on_open,
    .on_channel_message = on_message,
};

static zdc_engine *engine_with(unsigned workers, bool io_thread);

static void start_pair(wthread *t, tpair *p)
{
    zdc_peer_callbacks cb = callbacks;
    cb.user = &p->c;
    /* epoll: client engines come and go on two threads, and a new io_uring ring mapped where
     * another thread's freed one was looks like a race to TSan (the ring is shared memory it
     * does not see unmapped); the server keeps the default backend (io_uring where it works). */
    p->ce = engine_with(0, p->idx % 2 == 1);
    if (!p->ce || zdc_peer_new(zdc_engine_worker(p->ce, 0), &cb, &p->c.peer) != 0) {
        fail(t, "peer_new (client)", p->idx);
        return;
    }
    p->c.live = true;
    zdc_peer_config cfg = {0};
    zdc_peer_initialize(p->c.peer, &cfg);
    if (zdc_peer_create_data_channel(p->c.peer, "w", NULL, &p->c.ch) != 0 ||
        zdc_peer_create_offer(p->c.peer) != 0)
        fail(t, "channel/offer", p->idx);
    p->c.has_ch = true;
}

static void handle_mail(wthread *t, mail *m)
{
    tpair *p = &pairs[m->pair];
    side *s = side_of(p, t->server);
    switch (m->kind) {
    case MSG_OFFER: {
        zdc_peer_callbacks cb = callbacks;
        cb.user = s;
        if (zdc_peer_new(t->w, &cb, &s->peer) != 0) {
            fail(t, "peer_new (server)", p->idx);
            break;
        }
        s->live = true;
        if (zdc_peer_set_remote_description(s->peer, "offer", m->text) != 0)
            fail(t, "set_remote_description offer", p->idx);
        break;
    }
    case MSG_ANSWER:
        if (s->live && zdc_peer_set_remote_description(s->peer, "answer", m->text) != 0)
            fail(t, "set_remote_description answer", p->idx);
        break;
    case MSG_CAND:
        if (s->live)
            (void)zdc_peer_add_ice_candidate(s->peer, m->mid, m->index, m->text);
        break;
    case MSG_DONE: {
        /* The client freed its side: free ours, and let another thread try the stale
         * handles. */
        uint64_t pid = s->peer.id, cid = s->has_ch ? s->ch.id : 0;
        zdc_peer_free(s->peer);
        s->live = false;
        uint64_t zero = 0;
        if (atomic_compare_exchange_strong(&stale_peer, &zero, pid))
            atomic_store(&stale_chan, cid);
        atomic_fetch_add(&pairs_done, 1);
        break;
    }
    }
    free(m->text);
    free(m->mid);
}

static void try_stale(void)
{
    uint64_t pid = atomic_load(&stale_peer);
    if (!pid || atomic_load(&stale_checked))
        return;
    zdc_peer p = {pid};
    zdc_channel c = {atomic_load(&stale_chan)};
    bool ok = zdc_peer_create_offer(p) == ZDC_ERR_GONE &&
              zdc_peer_get_connection_state(p) == ZDC_STATE_CLOSED;
    if (c.id)
        ok = ok && zdc_channel_put_packet(c, (const uint8_t *)"x", 1) == ZDC_ERR_GONE;
    atomic_store(&stale_checked, ok ? 1 : -1);
}

static void client_progress(wthread *t)
{
    for (int i = t->first_pair; i < t->first_pair + t->n_pairs; i++) {
        tpair *p = &pairs[i];
        if (p->c.live && p->done) {
            zdc_peer_free(p->c.peer); /* while other pairs still connect and send */
            zdc_engine_free(p->ce);
            p->ce = NULL;
            p->c.live = false;
            t->finished++;
            send_mail(p->srv, MSG_DONE, p->idx, NULL, NULL, 0);
        }
    }
    while (t->started < t->n_pairs && t->started - t->finished < IN_FLIGHT)
        start_pair(t, &pairs[t->first_pair + t->started++]);
    try_stale();
}

static void *thread_main(void *arg)
{
    wthread *t = arg;
    while (!atomic_load(&t->stop)) {
        if (t->server && zdc_engine_poll(t->w, 20) != 0)
            fail(t, "poll", -1);
        if (!t->server) {
            for (int i = t->first_pair; i < t->first_pair + t->started; i++)
                if (pairs[i].ce && zdc_engine_poll(zdc_engine_worker(pairs[i].ce, 0), 0) != 0)
                    fail(t, "poll", i);
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        for (;;) {
            pthread_mutex_lock(&t->lock);
            bool any = t->box_n > 0;
            mail m;
            if (any) {
                m = t->box[t->box_head];
                t->box_head = (t->box_head + 1) % MAILBOX;
                t->box_n--;
            }
            pthread_mutex_unlock(&t->lock);
            if (!any)
                break;
            handle_mail(t, &m);
        }
        if (!t->server)
            client_progress(t);
    }
    /* Whatever is still live (a pair that did not finish) is freed on its own thread. */
    for (int i = 0; i < PAIRS; i++) {
        side *s = side_of(&pairs[i], t->server);
        if (peer_thread(&pairs[i], t->server) == t && s->live) {
            zdc_peer_free(s->peer);
            s->live = false;
        }
        if (!t->server && pairs[i].cli == t && pairs[i].ce) {
            zdc_engine_free(pairs[i].ce);
            pairs[i].ce = NULL;
        }
    }
    return NULL;
}

static zdc_engine *engine_with(unsigned workers, bool io_thread)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.include_loopback = true;
    o.bind_address = "127.0.0.1";
    o.workers = workers;
    o.io_thread = io_thread;
    if (workers == 0)
        o.backend = ZDC_BACKEND_EPOLL; /* the clients: see start_pair */
    zdc_engine *e = NULL;
    int rv = zdc_engine_new(&o, &e);
    if (rv != 0)
        fprintf(stderr, "workers_test: zdc_engine_new: %d\n", rv);
    return e;
}

Test(workers, traffic_across_workers_and_engines, .timeout = 120)
{
    use_native_sctp();
    zdc_engine *srv = engine_with(SRV_WORKERS, false);
    cr_assert_not_null(srv);
    static wthread th[SRV_WORKERS + CLI_WORKERS];
    memset(th, 0, sizeof th);
    memset(pairs, 0, sizeof pairs);
    for (int i = 0; i < SRV_WORKERS + CLI_WORKERS; i++) {
        th[i].server = i < SRV_WORKERS;
        th[i].w = th[i].server ? zdc_engine_worker(srv, (unsigned)i) : NULL;
        pthread_mutex_init(&th[i].lock, NULL);
    }
    for (int k = 0; k < PAIRS; k++) {
        pairs[k].idx = k;
        pairs[k].c = (side){.pair = &pairs[k], .server = false};
        pairs[k].s = (side){.pair = &pairs[k], .server = true};
        pairs[k].srv = &th[k % SRV_WORKERS];
        pairs[k].cli = &th[SRV_WORKERS + (k * CLI_WORKERS / PAIRS)];
    }
    for (int c = 0; c < CLI_WORKERS; c++) {
        wthread *t = &th[SRV_WORKERS + c];
        t->first_pair = c * PAIRS / CLI_WORKERS;
        t->n_pairs = (c + 1) * PAIRS / CLI_WORKERS - t->first_pair;
    }
    uint64_t t0 = now_ms();
    for (int i = 0; i < SRV_WORKERS + CLI_WORKERS; i++)
        cr_assert_eq(pthread_create(&th[i].th, NULL, thread_main, &th[i]), 0);
    while (atomic_load(&pairs_done) < PAIRS && now_ms() - t0 < DEADLINE_MS) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        zdc_engine_stats st;
        zdc_engine_get_stats(srv, &st); /* any thread: the front's stats */
    }
    uint64_t took = now_ms() - t0;
    for (int i = 0; i < SRV_WORKERS + CLI_WORKERS; i++) {
        atomic_store(&th[i].stop, true);
        zdc_engine_wake(th[i].w);
        pthread_join(th[i].th, NULL);
    }
    int errors = 0;
    for (int i = 0; i < SRV_WORKERS + CLI_WORKERS; i++)
        errors += atomic_load(&th[i].errors);
    zdc_engine_stats ss;
    zdc_engine_get_stats(srv, &ss);
    printf("workers: %d pairs (%d server workers, %d client threads) in %llu ms, %d echoes; "
           "server rx %llu routed %llu unrouted %llu\n",
           atomic_load(&pairs_done), SRV_WORKERS, CLI_WORKERS, (unsigned long long)took,
           atomic_load(&echoes), (unsigned long long)ss.rx_datagrams,
           (unsigned long long)ss.rx_routed, (unsigned long long)ss.rx_unrouted);
    cr_assert_eq(errors, 0);
    cr_assert_eq(atomic_load(&bad), 0, "every message on its pair's channel, in order");
    cr_assert_eq(atomic_load(&pairs_done), PAIRS, "every pair connected and finished");
    cr_assert_eq(atomic_load(&echoes), PAIRS * MESSAGES, "no reliable message lost");
    cr_assert_eq(atomic_load(&stale_checked), 1, "a handle freed on another thread is refused");
    cr_assert_gt(ss.rx_routed, 0);

    /* Every peer is gone: what is still on a ring or in flight drains, and every buffer comes
     * back to the pool. */
    uint64_t t1 = now_ms();
    for (;;) {
        for (int i = 0; i < SRV_WORKERS; i++)
            zdc_engine_poll(th[i].w, 0);
        zdc_engine_get_stats(srv, &ss);
        if (ss.buffers_outstanding == 0 || now_ms() - t1 > 5000)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(ss.buffers_outstanding, 0, "server buffers back: %llu out",
                 (unsigned long long)ss.buffers_outstanding);
    zdc_engine_free(srv);
    for (int i = 0; i < SRV_WORKERS + CLI_WORKERS; i++)
        pthread_mutex_destroy(&th[i].lock);
}

/* Freeing an engine while its workers' peers are connected and datagrams sit on its rings:
 * the I/O thread stops, every peer goes (no callback), every ring drains (ASan/LSan and TSan
 * watch it). */
Test(workers, free_with_live_peers, .timeout = 120)
{
    use_native_sctp();
    zdc_engine *a = engine_with(2, false);
    cr_assert_not_null(a);
    memset(pairs, 0, sizeof pairs);
    static wthread ta[2], tb;
    memset(ta, 0, sizeof ta);
    memset(&tb, 0, sizeof tb);
    /* Single-threaded here: the test thread polls every worker in turn (allowed: one thread
     * at a time per worker). */
    for (int i = 0; i < 2; i++) {
        ta[i].w = zdc_engine_worker(a, (unsigned)i);
        ta[i].server = true;
        pthread_mutex_init(&ta[i].lock, NULL);
    }
    pthread_mutex_init(&tb.lock, NULL);
    tb.first_pair = 0;
    tb.n_pairs = 4;
    for (int k = 0; k < 4; k++) {
        pairs[k].idx = k;
        pairs[k].c = (side){.pair = &pairs[k], .server = false};
        pairs[k].s = (side){.pair = &pairs[k], .server = true};
        pairs[k].srv = &ta[k % 2];
        pairs[k].cli = &tb;
    }
    tb.started = 4;
    for (int k = 0; k < 4; k++)
        start_pair(&tb, &pairs[k]);
    uint64_t t0 = now_ms();
    int open = 0;
    while (open < 4 && now_ms() - t0 < DEADLINE_MS) {
        wthread *all[3] = {&ta[0], &ta[1], &tb};
        for (int k = 0; k < 4; k++)
            zdc_engine_poll(zdc_engine_worker(pairs[k].ce, 0), 0);
        for (int i = 0; i < 3; i++) {
            if (all[i]->w)
                zdc_engine_poll(all[i]->w, 1);
            mail m;
            while (all[i]->box_n > 0) {
                m = all[i]->box[all[i]->box_head];
                all[i]->box_head = (all[i]->box_head + 1) % MAILBOX;
                all[i]->box_n--;
                handle_mail(all[i], &m);
            }
        }
        open = 0;
        for (int k = 0; k < 4; k++)
            open += pairs[k].s.open && pairs[k].c.open;
    }
    cr_assert_eq(open, 4, "4 pairs open across 2 workers");
    /* Traffic in flight, then the engine goes with its peers. */
    for (int k = 0; k < 4; k++)
        zdc_channel_put_packet(pairs[k].c.ch, (const uint8_t *)"late", 4);
    for (int k = 0; k < 4; k++)
        zdc_engine_poll(zdc_engine_worker(pairs[k].ce, 0), 0);
    zdc_engine_free(a);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(zdc_peer_create_offer(pairs[k].s.peer), ZDC_ERR_GONE);
        zdc_peer_free(pairs[k].c.peer);
        zdc_engine_free(pairs[k].ce);
    }
    for (int i = 0; i < 2; i++)
        pthread_mutex_destroy(&ta[i].lock);
    pthread_mutex_destroy(&tb.lock);
    for (int i = 0; i < 3; i++) {
        wthread *t = i < 2 ? &ta[i] : &tb;
        while (t->box_n > 0) {
            mail *m = &t->box[t->box_head];
            free(m->text);
            free(m->mid);
            t->box_head = (t->box_head + 1) % MAILBOX;
            t->box_n--;
        }
    }
}

/* ---- one worker beside the I/O thread: two peers of the engine talk to each other ---------- */

typedef struct self_side {
    zdc_peer peer;
    struct self_side *other;
    zdc_channel ch;
    bool open;
    int got;
} self_side;

static void self_desc(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    self_side *s = user;
    zdc_peer_set_local_description(peer, type, sdp);
    zdc_peer_set_remote_description(s->other->peer, type, sdp);
}

static void self_cand(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    self_side *s = user;
    (void)peer;
    zdc_peer_add_ice_candidate(s->other->peer, mid, index, cand);
}

static void self_dc(void *user, zdc_peer peer, zdc_channel ch)
{
    self_side *s = user;
    (void)peer;
    s->ch = ch;
}

static void self_open(void *user, zdc_peer peer, zdc_channel ch)
{
    self_side *s = user;
    (void)peer;
    s->open = true;
    s->ch = ch;
    for (int i = 0; i < 10; i++)
        zdc_channel_put_packet(ch, (const uint8_t *)"tick", 4);
}

static void self_msg(void *user, zdc_peer peer, zdc_channel ch)
{
    self_side *s = user;
    (void)peer;
    const uint8_t *d;
    size_t len;
    bool str;
    while (zdc_channel_get_packet(ch, &d, &len, &str) == 0) {
        s->got += len == 4 && memcmp(d, "tick", 4) == 0;
        zdc_channel_release_packet(ch);
    }
}

/* Two peers on the one worker of an engine with an I/O thread connect and exchange 10
 * messages each. fd_loop: the worker is driven as an application's own loop drives it, by
 * poll(2) on zdc_engine_fd with zdc_engine_next_timeout_ms, then zdc_engine_poll(w, 0); a
 * wake-up the I/O thread failed to give would leave it to timers (slow: DTLS retransmits after
 * a second and more), so it must finish well within the bound. */
static void run_self_pair(bool fd_loop)
{
    use_native_sctp();
    zdc_engine *e = engine_with(1, true);
    cr_assert_not_null(e);
    zdc_engine *w = zdc_engine_worker(e, 0);
    cr_assert_neq(w, e, "a worker beside the I/O thread");
    int fd = fd_loop ? zdc_engine_fd(w) : -1;
    if (fd_loop)
        cr_assert_geq(fd, 0);
    self_side a = {0}, b = {0};
    a.other = &b;
    b.other = &a;
    zdc_peer_callbacks cb = {.on_session_description_created = self_desc,
                             .on_ice_candidate_created = self_cand,
                             .on_data_channel_received = self_dc,
                             .on_channel_open = self_open,
                             .on_channel_message = self_msg};
    cb.user = &a;
    cr_assert_eq(zdc_peer_new(w, &cb, &a.peer), 0);
    cb.user = &b;
    cr_assert_eq(zdc_peer_new(w, &cb, &b.peer), 0);
    cr_assert_eq(zdc_peer_create_data_channel(a.peer, "self", NULL, &a.ch), 0);
    cr_assert_eq(zdc_peer_create_offer(a.peer), 0);
    uint64_t t0 = now_ms();
    int waits = 0;
    while ((a.got < 10 || b.got < 10) && now_ms() - t0 < 20000) {
        if (fd_loop) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            poll(&p, 1, zdc_engine_next_timeout_ms(w));
            waits++;
            cr_assert_eq(zdc_engine_poll(w, 0), 0);
        } else {
            zdc_engine_poll(w, 10);
        }
    }
    uint64_t took = now_ms() - t0;
    printf("workers: self pair on one worker (%s) in %llu ms\n",
           fd_loop ? "zdc_engine_fd loop" : "zdc_engine_poll", (unsigned long long)took);
    cr_assert_eq(a.got, 10, "a got %d", a.got);
    cr_assert_eq(b.got, 10, "b got %d", b.got);
    cr_assert_lt(took, 10000, "no wake-up lost (took %llu ms, %d waits)", (unsigned long long)took,
                 waits);
    zdc_engine_stats st;
    zdc_engine_get_stats(e, &st);
    cr_assert_gt(st.self_sent, 0, "through the engine's own socket");
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
    zdc_engine_free(e);
}

Test(workers, io_thread_self_pair, .timeout = 120)
{
    run_self_pair(false);
}

Test(workers, worker_in_an_application_loop, .timeout = 120)
{
    run_self_pair(true);
}

/* ---- idle: no spinning ---------------------------------------------------------------------- */

typedef struct idle_thread {
    zdc_engine *w;
    pthread_t th;
    _Atomic bool stop;
    _Atomic int polls;
} idle_thread;

static void *idle_main(void *arg)
{
    idle_thread *t = arg;
    while (!atomic_load(&t->stop)) {
        zdc_engine_poll(t->w, -1); /* returns on zdc_engine_wake */
        atomic_fetch_add(&t->polls, 1);
    }
    return NULL;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An engine with two workers, each blocked in zdc_engine_poll(w, -1) on its thread, and no
 * peer: for 300 ms nobody runs (the I/O thread and both workers sleep), then
 * zdc_engine_wake releases each worker's poll from another thread. */
Test(workers, idle_costs_no_cpu_and_wake_releases_a_blocked_poll, .timeout = 60)
{
    use_native_sctp();
    zdc_engine *e = engine_with(2, false);
    cr_assert_not_null(e);
    static idle_thread t[2];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 2; i++) {
        t[i].w = zdc_engine_worker(e, (unsigned)i);
        cr_assert_eq(pthread_create(&t[i].th, NULL, idle_main, &t[i]), 0);
    }
    struct timespec settle = {0, 50 * 1000 * 1000};
    nanosleep(&settle, NULL);
    int polls0 = atomic_load(&t[0].polls) + atomic_load(&t[1].polls);
    double c0 = cpu_seconds();
    struct timespec idle = {0, 300 * 1000 * 1000};
    nanosleep(&idle, NULL);
    double used = cpu_seconds() - c0;
    int polls1 = atomic_load(&t[0].polls) + atomic_load(&t[1].polls);
    printf("workers: idle engine with 2 workers used %.1f ms of CPU in 300 ms, %d polls\n",
           used * 1e3, polls1 - polls0);
    cr_assert_eq(polls1, polls0, "no poll returned while nothing happened");
    cr_assert_lt(used, 0.05, "idle: %.1f ms of CPU in 300 ms", used * 1e3);
    for (int i = 0; i < 2; i++) {
        atomic_store(&t[i].stop, true);
        zdc_engine_wake(t[i].w); /* any thread */
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i].th, NULL); /* hangs (ctest's timeout) if a wake-up were lost */
    cr_assert_gt(atomic_load(&t[0].polls) + atomic_load(&t[1].polls), polls1,
                 "zdc_engine_wake released the blocked polls");
    zdc_engine_free(e);
}
