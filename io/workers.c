/* The I/O thread and the protocol workers' rings: see workers.h. */
#include "workers.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_priv.h"
#include "ice.h"
#include "keymap.h"
#include "ring.h"
#include "zdc/demux.h"
#include "zdc/stun.h"

#define RX_RING       4096 /* datagrams queued for one worker */
#define TX_RING       4096 /* datagrams one worker queued for the I/O thread */
#define UPD_RING      1024 /* route updates one worker queued */
#define TX_PER_ROUND  1024 /* datagrams taken from one worker per I/O round (fairness) */
#define UPD_PER_ROUND 4096

enum { KIND_UFRAG = 0, KIND_ADDR = 1 };

/* A route update, worker -> I/O thread. */
typedef struct wk_msg {
    struct wk_msg *next; /* the worker's backlog while the ring is full */
    bool add;
    uint8_t kind;
    uint16_t len;
    uint8_t key[257];
} wk_msg;

struct zdc_worker {
    zdc_workers *ws;
    unsigned index;
    zdc_engine *e;
    zdc_spsc rx;  /* I/O thread -> worker: zdc_pkt * */
    zdc_spsc tx;  /* worker -> I/O thread: zdc_pkt * */
    zdc_spsc upd; /* worker -> I/O thread: wk_msg * */
    int wake_fd;  /* the worker engine's eventfd */

    /* worker side */
    wk_msg *backlog, *backlog_tail;
    bool kick; /* sent during this step: wake the I/O thread at its end */

    /* I/O thread side */
    zdc_pkt *carry; /* taken from tx, refused by a full loop queue: sent first next round */
    bool got;       /* datagrams pushed this round: wake the worker */

    _Atomic bool sleeping;     /* the worker waits (or an application loop waits on its fd) */
    _Atomic bool wake_pending; /* its eventfd was written and not yet drained */

    pthread_mutex_t snap_lock;
    zdc_engine_stats snap; /* the worker's counters as of its last step */
};

/* One key in the I/O thread's maps, per worker holding it (count: members of that worker). */
typedef struct io_key {
    zdc_keymap_node node;
    zdc_link all; /* zdc_workers.keys */
    unsigned worker;
    uint32_t count;
    uint16_t len;
    uint8_t key[];
} io_key;

/* A STUN request a worker sent: its response goes back to that worker. */
typedef struct io_txid {
    zdc_keymap_node node;
    uint8_t txid[12];
    int worker; /* -1: free */
} io_txid;

struct zdc_workers {
    unsigned n;
    zdc_worker *w;
    zdc_loop *loop;
    zdc_engine *front;
    zdc_pool *pool;

    zdc_keymap by_ufrag, by_addr, by_txid; /* I/O thread */
    zdc_link keys;                         /* every io_key */
    io_txid *txids;                        /* ring of ZDC_ROUTE_TX_RING */
    size_t txid_next;

    pthread_t thread;
    bool started;
    _Atomic bool stop;
    _Atomic bool io_sleeping, io_wake_pending;

    _Atomic uint64_t rx_unrouted, rx_queue_full, tx_refused;
};

/* ---- the I/O thread's maps ---------------------------------------------------------------- */

static zdc_keymap *map_of(zdc_workers *ws, int kind)
{
    return kind == KIND_UFRAG ? &ws->by_ufrag : &ws->by_addr;
}

static io_key *key_find(zdc_keymap *m, const uint8_t *key, size_t len, unsigned worker)
{
    for (zdc_keymap_node *x = zdc_keymap_find(m, key, len); x; x = zdc_keymap_find_next(m, x)) {
        io_key *k = ZDC_CONTAINER_OF(x, io_key, node);
        if (k->worker == worker)
            return k;
    }
    return NULL;
}

static void apply(zdc_workers *ws, unsigned worker, const wk_msg *msg)
{
    zdc_keymap *m = map_of(ws, msg->kind);
    io_key *k = key_find(m, msg->key, msg->len, worker);
    if (msg->add) {
        if (k) {
            k->count++;
            return;
        }
        k = malloc(sizeof *k + msg->len);
        if (!k)
            return; /* that peer's traffic is dropped as unrouted: counted */
        k->worker = worker;
        k->count = 1;
        k->len = msg->len;
        memcpy(k->key, msg->key, msg->len);
        zdc_keymap_insert(m, &k->node, k->key, k->len);
        zdc_link_append(&ws->keys, &k->all);
    } else if (k && --k->count == 0) {
        zdc_keymap_remove(m, &k->node);
        zdc_link_remove(&k->all);
        free(k);
    }
}

/* Workers holding this key, as a bit mask. */
static uint64_t key_workers(zdc_keymap *m, const void *key, size_t len)
{
    uint64_t mask = 0;
    for (zdc_keymap_node *x = zdc_keymap_find(m, key, len); x; x = zdc_keymap_find_next(m, x))
        mask |= 1ull << ZDC_CONTAINER_OF(x, io_key, node)->worker;
    return mask;
}

/* RFC 8489 §5: a request has both class bits (C1 0x0100, C0 0x0010) zero. */
static void remember_txid(zdc_workers *ws, unsigned worker, const zdc_pkt *pkt)
{
    const uint8_t *p = pkt->data;
    if (ws->n == 1)
        return;
    if (pkt->len < 20 || (p[0] & 0x01) != 0 || (p[1] & 0x10) != 0 ||
        zdc_demux_classify(p, pkt->len) != ZDC_DEMUX_STUN)
        return;
    for (zdc_keymap_node *x = zdc_keymap_find(&ws->by_txid, p + 8, 12); x;
         x = zdc_keymap_find_next(&ws->by_txid, x))
        if (ZDC_CONTAINER_OF(x, io_txid, node)->worker == (int)worker)
            return; /* a retransmission */
    io_txid *t = &ws->txids[ws->txid_next];
    ws->txid_next = (ws->txid_next + 1) % ZDC_ROUTE_TX_RING;
    if (t->worker >= 0)
        zdc_keymap_remove(&ws->by_txid, &t->node);
    memcpy(t->txid, p + 8, 12);
    t->worker = (int)worker;
    zdc_keymap_insert(&ws->by_txid, &t->node, t->txid, 12);
}

/* ---- receiving (I/O thread, inside zdc_loop_poll) ------------------------------------------ */

/* RFC 8445 §5.1.1 / single-port mux, coarsely: a STUN request or indication by the local
 * ufrag of its USERNAME (RFC 8445 §7.2.2), a response by the transaction id of the request a
 * worker sent; anything else (and a STUN message those miss, e.g. a TURN server's Data
 * indication) by its source address. The worker's own table confirms. */
static uint64_t owners(zdc_workers *ws, const zdc_pkt *pkt)
{
    if (ws->n == 1)
        return 1; /* one worker (io_thread): its own table routes everything, self traffic and
                     TURN included, exactly as an engine without threads */
    uint64_t mask = 0;
    if (zdc_demux_classify(pkt->data, pkt->len) == ZDC_DEMUX_STUN) {
        zdc_stun_msg msg;
        int rv = zdc_stun_parse(pkt->data, pkt->len, &msg);
        if (rv != 0 && rv != ZDC_ERR_UNKNOWN_ATTRIBUTE)
            return 0;
        if (msg.cls == ZDC_STUN_REQUEST || msg.cls == ZDC_STUN_INDICATION) {
            const char *uf;
            size_t n;
            if (zdc_ice_username_local_ufrag(&msg, &uf, &n) == 0)
                mask = key_workers(&ws->by_ufrag, uf, n);
        } else {
            for (zdc_keymap_node *x = zdc_keymap_find(&ws->by_txid, msg.txid, 12); x;
                 x = zdc_keymap_find_next(&ws->by_txid, x))
                mask |= 1ull << ZDC_CONTAINER_OF(x, io_txid, node)->worker;
        }
        if (mask)
            return mask;
    }
    uint8_t key[19];
    size_t n = zdc_route_addr_key(&pkt->addr, key);
    return key_workers(&ws->by_addr, key, n);
}

static bool push_rx(zdc_workers *ws, zdc_worker *w, zdc_pkt *pkt)
{
    if (!zdc_spsc_push(&w->rx, pkt)) {
        atomic_fetch_add_explicit(&ws->rx_queue_full, 1, memory_order_relaxed);
        return false;
    }
    w->got = true;
    return true;
}

static void io_on_recv(void *user, zdc_loop *l, zdc_pkt *pkt)
{
    zdc_workers *ws = user;
    (void)l;
    uint64_t mask = owners(ws, pkt);
    if (mask == 0) {
        atomic_fetch_add_explicit(&ws->rx_unrouted, 1, memory_order_relaxed);
        zdc_pkt_unref(pkt);
        return;
    }
    /* Several workers hold the key (two peers behind one address, a shared TURN server): each
     * gets a copy and its own table decides. The original goes last. */
    unsigned last = 63 - (unsigned)__builtin_clzll(mask);
    for (unsigned i = 0; i < last; i++) {
        if (!(mask & (1ull << i)))
            continue;
        zdc_pkt *c = zdc_pool_get(ws->pool);
        if (!c)
            continue;
        memcpy(zdc_pkt_put(c, pkt->len), pkt->data, pkt->len);
        c->addr = pkt->addr;
        if (!push_rx(ws, &ws->w[i], c))
            zdc_pkt_unref(c);
    }
    if (!push_rx(ws, &ws->w[last], pkt))
        zdc_pkt_unref(pkt);
}

static void wake_worker(zdc_worker *w)
{
    atomic_thread_fence(memory_order_seq_cst); /* pairs with the worker's before it sleeps */
    if (!atomic_load_explicit(&w->sleeping, memory_order_relaxed))
        return;
    if (!atomic_exchange(&w->wake_pending, true)) {
        uint64_t one = 1;
        (void)!write(w->wake_fd, &one, sizeof one);
    }
}

/* ---- the I/O thread ------------------------------------------------------------------------ */

static void take_updates(zdc_workers *ws)
{
    for (unsigned i = 0; i < ws->n; i++) {
        void *p;
        for (int k = 0; k < UPD_PER_ROUND && zdc_spsc_pop(&ws->w[i].upd, &p); k++) {
            apply(ws, i, p);
            free(p);
        }
    }
}

static bool loop_send(zdc_workers *ws, unsigned i, zdc_pkt *pkt)
{
    int rv = zdc_loop_send(ws->loop, pkt);
    if (rv == ZDC_ERR_QUEUE_FULL) {
        ws->w[i].carry = pkt;
        return false;
    }
    if (rv != 0) {
        atomic_fetch_add_explicit(&ws->tx_refused, 1, memory_order_relaxed);
        zdc_pkt_unref(pkt);
    }
    return true;
}

static void take_sends(zdc_workers *ws)
{
    for (unsigned i = 0; i < ws->n; i++) {
        zdc_worker *w = &ws->w[i];
        if (w->carry) {
            zdc_pkt *c = w->carry;
            w->carry = NULL;
            if (!loop_send(ws, i, c))
                return; /* the loop's queue is full: it drains in the next poll */
        }
        void *p;
        for (int k = 0; k < TX_PER_ROUND && zdc_spsc_pop(&w->tx, &p); k++) {
            remember_txid(ws, i, p);
            if (!loop_send(ws, i, p))
                return;
        }
    }
}

static bool io_has_work(zdc_workers *ws)
{
    for (unsigned i = 0; i < ws->n; i++)
        if (ws->w[i].carry || zdc_spsc_count(&ws->w[i].tx) > 0 || zdc_spsc_count(&ws->w[i].upd) > 0)
            return true;
    return false;
}

static void *io_main(void *arg)
{
    zdc_workers *ws = arg;
    while (!atomic_load(&ws->stop)) {
        take_updates(ws);
        take_sends(ws);
        atomic_store_explicit(&ws->io_sleeping, true, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst); /* pairs with kick_io */
        int64_t timeout = io_has_work(ws) || atomic_load(&ws->stop) ? 0 : -1;
        int rv = zdc_loop_poll(ws->loop, timeout);
        atomic_store_explicit(&ws->io_sleeping, false, memory_order_relaxed);
        atomic_store(&ws->io_wake_pending, false);
        for (unsigned i = 0; i < ws->n; i++)
            if (ws->w[i].got) {
                ws->w[i].got = false;
                wake_worker(&ws->w[i]);
            }
        if (rv < 0) {
            /* The loop is closed or its backend failed: nothing more moves; workers keep
             * their timers and see no datagrams. Do not spin. */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static void kick_io(zdc_workers *ws)
{
    atomic_thread_fence(memory_order_seq_cst); /* pairs with io_main's before it waits */
    if (atomic_load_explicit(&ws->io_sleeping, memory_order_relaxed) &&
        !atomic_exchange(&ws->io_wake_pending, true))
        zdc_loop_wake(ws->loop);
}

void zdc_workers_wake_io(zdc_workers *ws)
{
    if (ws)
        zdc_loop_wake(ws->loop);
}

/* ---- the worker's side ---------------------------------------------------------------------- */

int zdc_worker_send(zdc_worker *w, zdc_pkt *pkt, bool in_poll)
{
    if (!zdc_spsc_push(&w->tx, pkt))
        return ZDC_ERR_QUEUE_FULL;
    if (in_poll)
        w->kick = true;
    else
        kick_io(w->ws);
    return 0;
}

static void flush_backlog(zdc_worker *w)
{
    bool pushed = false;
    while (w->backlog && zdc_spsc_push(&w->upd, w->backlog)) {
        w->backlog = w->backlog->next;
        pushed = true;
    }
    if (!w->backlog)
        w->backlog_tail = NULL;
    if (pushed)
        w->kick = true;
}

void zdc_worker_wait(zdc_worker *w, int wake_fd, int64_t timeout_ns)
{
    flush_backlog(w);
    if (w->kick) {
        w->kick = false;
        kick_io(w->ws);
    }
    if (timeout_ns != 0) {
        atomic_store_explicit(&w->sleeping, true, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst); /* pairs with wake_worker */
        if (zdc_spsc_count(&w->rx) == 0) {
            struct pollfd p = {.fd = wake_fd, .events = POLLIN};
            struct timespec ts, *tp = NULL;
            if (timeout_ns > 0) {
                ts.tv_sec = (time_t)(timeout_ns / 1000000000);
                ts.tv_nsec = (long)(timeout_ns % 1000000000);
                tp = &ts;
            }
            if (ppoll(&p, 1, tp, NULL) > 0 && (p.revents & POLLIN)) {
                uint64_t v;
                atomic_store(&w->wake_pending, false);
                (void)!read(wake_fd, &v, sizeof v);
            }
        }
        atomic_store_explicit(&w->sleeping, false, memory_order_relaxed);
    }
    /* An application loop waiting on the worker's descriptor counts as sleeping: the I/O
     * thread writes the eventfd for it (engine_fd.c drains it). */
    if (atomic_load_explicit(&w->e->ext_on, memory_order_relaxed)) {
        atomic_store(&w->wake_pending, false);
        atomic_store_explicit(&w->sleeping, true, memory_order_relaxed);
    }
}

int zdc_worker_recv(zdc_worker *w, zdc_pkt **pkt)
{
    void *p;
    if (!zdc_spsc_pop(&w->rx, &p))
        return 0;
    *pkt = p;
    return 1;
}

bool zdc_worker_has_pending(zdc_worker *w)
{
    return zdc_spsc_count(&w->rx) > 0 || w->kick || w->backlog;
}

static void post(zdc_worker *w, bool add, int kind, const void *key, size_t len)
{
    wk_msg *m = malloc(sizeof *m);
    if (!m)
        return; /* the I/O thread's map misses (or keeps) this key: traffic is dropped as
                   unrouted (or reaches a worker whose own table refuses it), both counted */
    m->next = NULL;
    m->add = add;
    m->kind = (uint8_t)kind;
    m->len = (uint16_t)len;
    memcpy(m->key, key, len);
    if (!w->backlog && zdc_spsc_push(&w->upd, m)) {
        w->kick = true;
        return;
    }
    if (w->backlog_tail)
        w->backlog_tail->next = m;
    else
        w->backlog = m;
    w->backlog_tail = m;
}

static void publish_addr(zdc_worker *w, zdc_wk_pub *pub, int slot, const uint8_t *key, size_t len)
{
    if (pub->addr_len[slot] == len && (len == 0 || memcmp(pub->addr[slot], key, len) == 0))
        return;
    if (pub->addr_len[slot])
        post(w, false, KIND_ADDR, pub->addr[slot], pub->addr_len[slot]);
    pub->addr_len[slot] = (uint8_t)len;
    if (len) {
        memcpy(pub->addr[slot], key, len);
        post(w, true, KIND_ADDR, key, len);
    }
}

void zdc_worker_publish(zdc_worker *w, zdc_wk_pub *pub, const zdc_route_entry *r)
{
    if (w->ws->n == 1)
        return; /* nothing to choose between */
    size_t ul = r && r->has_ufrag ? strlen(r->ufrag) : 0;
    if (pub->ufrag_len != ul || (ul && memcmp(pub->ufrag, r->ufrag, ul) != 0)) {
        if (pub->ufrag_len)
            post(w, false, KIND_UFRAG, pub->ufrag, pub->ufrag_len);
        pub->ufrag_len = (uint16_t)ul;
        if (ul) {
            memcpy(pub->ufrag, r->ufrag, ul);
            post(w, true, KIND_UFRAG, r->ufrag, ul);
        }
    }
    int slot = 0;
    bool sel = r && r->addr_indexed;
    publish_addr(w, pub, slot++, sel ? r->addr_key : NULL, sel ? r->addr_node.len : 0);
    for (int i = 0; i < ZDC_ROUTE_VERIFIED; i++, slot++) {
        bool u = r && r->verified[i].used;
        publish_addr(w, pub, slot, u ? r->verified[i].key : NULL, u ? r->verified[i].len : 0);
    }
    for (int i = 0; i < ZDC_ROUTE_SERVERS; i++, slot++) {
        bool u = r && r->servers[i].used;
        publish_addr(w, pub, slot, u ? r->servers[i].key : NULL, u ? r->servers[i].len : 0);
    }
}

void zdc_worker_step_end(zdc_worker *w, const zdc_engine_stats *st)
{
    flush_backlog(w);
    if (w->kick) {
        w->kick = false;
        kick_io(w->ws);
    }
    pthread_mutex_lock(&w->snap_lock);
    w->snap = *st;
    pthread_mutex_unlock(&w->snap_lock);
}

zdc_pool *zdc_worker_pool(zdc_worker *w)
{
    return w->ws->pool;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

int zdc_workers_new(unsigned n, zdc_workers **out)
{
    *out = NULL;
    zdc_workers *ws = calloc(1, sizeof *ws);
    if (!ws)
        return ZDC_ERR_NOMEM;
    ws->n = n;
    zdc_link_init(&ws->keys);
    ws->w = calloc(n, sizeof *ws->w);
    ws->txids = calloc(ZDC_ROUTE_TX_RING, sizeof *ws->txids);
    int rv = ws->w && ws->txids ? 0 : ZDC_ERR_NOMEM;
    for (unsigned i = 0; rv == 0 && i < n; i++) {
        zdc_worker *w = &ws->w[i];
        w->ws = ws;
        w->index = i;
        w->wake_fd = -1;
        pthread_mutex_init(&w->snap_lock, NULL);
        if (zdc_spsc_init(&w->rx, RX_RING) != 0 || zdc_spsc_init(&w->tx, TX_RING) != 0 ||
            zdc_spsc_init(&w->upd, UPD_RING) != 0)
            rv = ZDC_ERR_NOMEM;
    }
    if (rv != 0) {
        zdc_workers_free(ws);
        return rv;
    }
    for (size_t i = 0; i < ZDC_ROUTE_TX_RING; i++)
        ws->txids[i].worker = -1;
    uint8_t seeds[3][16];
    zdc_engine_random(seeds, sizeof seeds);
    zdc_keymap_init(&ws->by_ufrag, seeds[0]);
    zdc_keymap_init(&ws->by_addr, seeds[1]);
    zdc_keymap_init(&ws->by_txid, seeds[2]);
    *out = ws;
    return 0;
}

void zdc_workers_loop_config(zdc_workers *ws, zdc_loop_config *lc)
{
    lc->on_recv = io_on_recv;
    lc->user = ws;
}

int zdc_workers_start(zdc_workers *ws, zdc_engine *front, zdc_loop *loop)
{
    ws->front = front;
    ws->loop = loop;
    ws->pool = zdc_loop_pool(loop);
    for (unsigned i = 0; i < ws->n; i++) {
        int rv = zdc_engine_worker_new(front, &ws->w[i], &ws->w[i].e);
        if (rv != 0)
            return rv;
        ws->w[i].wake_fd = ws->w[i].e->wake_fd;
    }
    if (pthread_create(&ws->thread, NULL, io_main, ws) != 0)
        return ZDC_ERR_IO;
    ws->started = true;
    return 0;
}

static void drain_pkts(zdc_spsc *r)
{
    void *p;
    while (zdc_spsc_pop(r, &p))
        zdc_pkt_unref(p);
}

void zdc_workers_free(zdc_workers *ws)
{
    if (!ws)
        return;
    if (ws->started) {
        atomic_store(&ws->stop, true);
        zdc_loop_wake(ws->loop);
        pthread_join(ws->thread, NULL);
        ws->started = false;
    }
    /* The workers' peers go first (what they send while closing lands on the tx rings),
     * then every ring is drained back to the pool. */
    for (unsigned i = 0; ws->w && i < ws->n; i++)
        if (ws->w[i].e)
            zdc_engine_worker_free(ws->w[i].e);
    /* Closing the loop may still complete receives (io_uring reaps what is in flight), and
     * those come to io_on_recv: close it while the rings exist, drain them after. */
    if (ws->loop) {
        take_sends(ws); /* what the peers sent while closing (SCTP ABORT, close_notify) */
        zdc_loop_close(ws->loop);
    }
    for (unsigned i = 0; ws->w && i < ws->n; i++) {
        zdc_worker *w = &ws->w[i];
        if (w->rx.slots)
            drain_pkts(&w->rx);
        if (w->tx.slots)
            drain_pkts(&w->tx);
        void *p;
        while (w->upd.slots && zdc_spsc_pop(&w->upd, &p))
            free(p);
        while (w->backlog) {
            wk_msg *m = w->backlog;
            w->backlog = m->next;
            free(m);
        }
        zdc_pkt_unref(w->carry);
        zdc_spsc_clear(&w->rx);
        zdc_spsc_clear(&w->tx);
        zdc_spsc_clear(&w->upd);
        pthread_mutex_destroy(&w->snap_lock);
    }
    while (ws->keys.next && zdc_link_linked(&ws->keys)) {
        io_key *k = ZDC_CONTAINER_OF(ws->keys.next, io_key, all);
        zdc_link_remove(&k->all);
        free(k);
    }
    zdc_keymap_clear(&ws->by_txid);
    zdc_keymap_clear(&ws->by_ufrag);
    zdc_keymap_clear(&ws->by_addr);
    free(ws->txids);
    free(ws->w);
    free(ws);
}

unsigned zdc_workers_count(const zdc_workers *ws)
{
    return ws->n;
}

zdc_engine *zdc_workers_engine(const zdc_workers *ws, unsigned i)
{
    return i < ws->n ? ws->w[i].e : NULL;
}

void zdc_workers_add_stats(zdc_workers *ws, zdc_engine_stats *out)
{
    for (unsigned i = 0; i < ws->n; i++) {
        zdc_worker *w = &ws->w[i];
        pthread_mutex_lock(&w->snap_lock);
        zdc_engine_stats s = w->snap;
        pthread_mutex_unlock(&w->snap_lock);
        out->rx_routed += s.rx_routed;
        out->rx_unrouted += s.rx_unrouted;
        out->tx_no_buffer += s.tx_no_buffer;
        out->tx_queue_full += s.tx_queue_full;
        out->tx_refused += s.tx_refused;
        out->self_sent += s.self_sent;
        out->timeouts_run += s.timeouts_run;
    }
    out->rx_unrouted += atomic_load_explicit(&ws->rx_unrouted, memory_order_relaxed);
    out->rx_no_buffer += atomic_load_explicit(&ws->rx_queue_full, memory_order_relaxed);
    out->tx_refused += atomic_load_explicit(&ws->tx_refused, memory_order_relaxed);
}
