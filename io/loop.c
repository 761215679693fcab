#include "loop.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "sock.h"
#include "zdc/error.h"

#define STAGE_CAP 1024 /* sends pulled from the queue and waiting for a backend slot */

enum { FAM4 = 0, FAM6 = 1, NFAM = 2 };

struct zdc_loop {
    zdc_loop_config cfg;
    const zdc_backend_ops *ops;
    zdc_backend *be;
    int fd[NFAM];
    int sock[NFAM]; /* backend socket index, -1 = family not open */
    bool gso[NFAM];
    unsigned gso_max; /* datagrams per GSO send */
    zdc_addr local[NFAM];

    zdc_pool *pool;
    bool own_pool;
    zdc_timers timers;
    zdc_spsc rxq;
    bool use_rxq;
    zdc_mpsc txq;
    bool txq_ok;

    zdc_pkt *stage[STAGE_CAP]; /* ring */
    unsigned stage_head, stage_n;

    zdc_loop_stats st; /* loop thread */
    zdc_loop_stats snap;
    pthread_mutex_t snap_lock;
    _Atomic uint64_t tx_queue_full;

    _Atomic bool sleeping;
    _Atomic bool wake_pending;
    _Atomic bool stop;
    _Atomic bool closed;
    bool threaded;
    pthread_t thread;
};

/* The loop whose step runs on this thread right now (callbacks included), if any. */
static _Thread_local zdc_loop *running_loop;

uint64_t zdc_loop_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void zdc_loop_config_default(zdc_loop_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->backend = ZDC_IO_BACKEND_AUTO;
    cfg->ipv4 = true;
    cfg->ipv6 = true;
    cfg->max_datagram = 1500;
    cfg->pool_buffers = 16384;
    cfg->rx_buffers = 256;
    cfg->tx_slots = 512;
    cfg->gso = true;
    cfg->gro = true;
    cfg->sock_buf = 4 << 20;
    cfg->rx_queue = 8192;
    cfg->tx_queue = 8192;
}

/* ---- backend callbacks (loop thread) ---------------------------------------------------- */

static void on_recv(void *user, int sock, const zdc_addr *from, const uint8_t *data, size_t len)
{
    zdc_loop *e = user;
    (void)sock;
    zdc_pkt *pkt = zdc_pool_get(e->pool);
    if (!pkt) {
        e->st.rx_pool_exhausted++;
        return;
    }
    if (len > e->cfg.max_datagram || len > zdc_pkt_tailroom(pkt)) {
        e->st.rx_oversize++;
        zdc_pkt_unref(pkt);
        return;
    }
    memcpy(zdc_pkt_put(pkt, len), data, len);
    pkt->addr = *from;
    e->st.rx_packets++;
    e->st.rx_bytes += len;
    if (!e->use_rxq) {
        e->cfg.on_recv(e->cfg.user, e, pkt);
    } else if (!zdc_spsc_push(&e->rxq, pkt)) {
        e->st.rx_queue_full++;
        zdc_pkt_unref(pkt);
    }
}

static void on_sent(void *user, void *const *cookie, size_t n, int result)
{
    zdc_loop *e = user;
    for (size_t i = 0; i < n; i++) {
        zdc_pkt *pkt = cookie[i];
        if (result >= 0) {
            e->st.tx_packets++;
            e->st.tx_bytes += pkt->len;
        } else if (result == ZDC_ERR_CLOSED) {
            e->st.tx_dropped++;
        } else {
            e->st.tx_errors++;
        }
        zdc_pkt_unref(pkt);
    }
}

/* ---- sending (loop thread) ---------------------------------------------------------------- */

static int fam_index(const zdc_addr *a)
{
    return zdc_addr_family(a) == 4 ? FAM4 : FAM6;
}

static zdc_pkt *stage_at(zdc_loop *e, unsigned i)
{
    return e->stage[(e->stage_head + i) % STAGE_CAP];
}

static void stage_fill(zdc_loop *e)
{
    if (!e->txq_ok)
        return;
    while (e->stage_n < STAGE_CAP) {
        unsigned tail = (e->stage_head + e->stage_n) % STAGE_CAP;
        size_t room = STAGE_CAP - e->stage_n;
        if (room > STAGE_CAP - tail)
            room = STAGE_CAP - tail; /* contiguous part */
        size_t got = zdc_mpsc_pop_burst(&e->txq, (void **)&e->stage[tail], room);
        e->stage_n += (unsigned)got;
        if (got < room)
            break;
    }
}

/* How many staged packets from the head can go out as one GSO send: same destination, same
 * length, except that the last may be shorter; within the kernel's segment and size limits. */
static unsigned gso_run(zdc_loop *e)
{
    zdc_pkt *first = stage_at(e, 0);
    size_t seg = first->len, total = seg;
    unsigned n = 1;
    while (n < e->stage_n && n < e->gso_max) {
        zdc_pkt *p = stage_at(e, n);
        if (p->len > seg || total + p->len > ZDC_IO_MAX_DATAGRAM ||
            !zdc_addr_equal(&p->addr, &first->addr))
            break;
        total += p->len;
        n++;
        if (p->len < seg)
            break; /* a shorter datagram ends the run */
    }
    return n;
}

static int flush_sends(zdc_loop *e)
{
    int sent = 0;
    zdc_io_tx tx;
    for (;;) {
        if (e->stage_n == 0)
            stage_fill(e);
        if (e->stage_n == 0 || e->ops->tx_space(e->be) == 0)
            break;
        zdc_pkt *first = stage_at(e, 0);
        int f = fam_index(&first->addr);
        unsigned n = e->gso[f] ? gso_run(e) : 1;
        if (n == 1 && e->stage_n < 2 && e->gso[f])
            stage_fill(e), n = gso_run(e); /* more may have arrived since */
        tx.to = first->addr;
        tx.sock = (uint16_t)e->sock[f];
        tx.gso_size = n > 1 ? (uint16_t)first->len : 0;
        tx.niov = (uint16_t)n;
        for (unsigned i = 0; i < n; i++) {
            zdc_pkt *p = stage_at(e, i);
            tx.iov[i] = (struct iovec){p->data, p->len};
            tx.cookie[i] = p;
        }
        int rv = e->ops->send(e->be, &tx);
        if (rv == ZDC_ERR_AGAIN)
            break;
        e->stage_head = (e->stage_head + n) % STAGE_CAP;
        e->stage_n -= n;
        if (rv != 0)
            on_sent(e, tx.cookie, n, rv);
        sent += (int)n;
    }
    return sent;
}

int zdc_loop_send(zdc_loop *e, zdc_pkt *pkt)
{
    if (!e || !pkt)
        return ZDC_ERR_INVALID_PARAMETER;
    if (atomic_load_explicit(&e->closed, memory_order_acquire))
        return ZDC_ERR_CLOSED;
    int fam = zdc_addr_family(&pkt->addr);
    if (fam == 0 || e->sock[fam == 4 ? FAM4 : FAM6] < 0 || pkt->len == 0 ||
        pkt->len > e->cfg.max_datagram)
        return ZDC_ERR_INVALID_PARAMETER;
    if (!zdc_mpsc_push(&e->txq, pkt)) {
        atomic_fetch_add_explicit(&e->tx_queue_full, 1, memory_order_relaxed);
        return ZDC_ERR_QUEUE_FULL;
    }
    /* From the loop's own callbacks: loop_step flushes after wait() returns, and a backend
     * does not sleep once it ran a callback, so a wake-up would only cost system calls. */
    if (running_loop == e)
        return 0;
    /* Pairs with the fence in loop_step: either the loop sees the packet before sleeping or
     * this thread sees it asleep and wakes it. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&e->sleeping, memory_order_relaxed) &&
        !atomic_exchange(&e->wake_pending, true))
        e->ops->wake(e->be);
    return 0;
}

/* ---- the loop ---------------------------------------------------------------------------- */

static void publish_stats(zdc_loop *e)
{
    const zdc_io_counters *c = e->ops->counters(e->be);
    e->st.rx_truncated = c->rx_truncated;
    e->st.rx_gro = c->rx_gro;
    e->st.rx_nobufs = c->rx_nobufs;
    e->st.tx_gso = c->tx_gso;
    e->st.tx_zc = c->tx_zc;
    e->st.tx_zc_copied = c->tx_zc_copied;
    e->st.rx_syscalls = c->rx_syscalls;
    e->st.tx_syscalls = c->tx_syscalls;
    pthread_mutex_lock(&e->snap_lock);
    e->snap = e->st;
    pthread_mutex_unlock(&e->snap_lock);
}

static int loop_step_run(zdc_loop *e, int64_t timeout_ns)
{
    int handled = flush_sends(e);
    uint64_t now = zdc_loop_now_ns();
    uint64_t next = zdc_timers_next(&e->timers);
    if (next != UINT64_MAX) {
        int64_t until = next <= now ? 0 : (int64_t)(next - now);
        if (timeout_ns < 0 || until < timeout_ns)
            timeout_ns = until;
    }
    if (handled > 0)
        timeout_ns = 0;
    atomic_store_explicit(&e->sleeping, true, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (zdc_mpsc_count(&e->txq) > 0 || atomic_load(&e->stop))
        timeout_ns = 0;
    int rv = e->ops->wait(e->be, timeout_ns);
    atomic_store_explicit(&e->sleeping, false, memory_order_relaxed);
    atomic_store_explicit(&e->wake_pending, false, memory_order_relaxed);
    if (rv < 0)
        return rv;
    handled += rv;
    handled += (int)zdc_timers_run(&e->timers, zdc_loop_now_ns());
    handled += flush_sends(e);
    e->st.loops++;
    publish_stats(e);
    return handled;
}

static int loop_step(zdc_loop *e, int64_t timeout_ns)
{
    zdc_loop *outer = running_loop; /* a callback may drive another loop */
    running_loop = e;
    int rv = loop_step_run(e, timeout_ns);
    running_loop = outer;
    return rv;
}

int zdc_loop_poll(zdc_loop *e, int64_t timeout_ns)
{
    if (!e)
        return ZDC_ERR_INVALID_PARAMETER;
    if (atomic_load(&e->closed))
        return ZDC_ERR_CLOSED;
    if (e->threaded)
        return ZDC_ERR_INVALID_STATE;
    return loop_step(e, timeout_ns);
}

static void *loop_thread(void *arg)
{
    zdc_loop *e = arg;
    while (!atomic_load(&e->stop))
        if (loop_step(e, -1) < 0)
            break;
    return NULL;
}

int zdc_loop_start(zdc_loop *e)
{
    if (!e)
        return ZDC_ERR_INVALID_PARAMETER;
    if (atomic_load(&e->closed))
        return ZDC_ERR_CLOSED;
    if (e->threaded)
        return ZDC_ERR_INVALID_STATE;
    atomic_store(&e->stop, false);
    if (pthread_create(&e->thread, NULL, loop_thread, e) != 0)
        return ZDC_ERR_IO;
    e->threaded = true;
    return 0;
}

void zdc_loop_stop(zdc_loop *e)
{
    if (!e || !e->threaded)
        return;
    atomic_store(&e->stop, true);
    e->ops->wake(e->be);
    pthread_join(e->thread, NULL);
    e->threaded = false;
}

void zdc_loop_wake(zdc_loop *e)
{
    if (e && !atomic_load(&e->closed))
        e->ops->wake(e->be);
}

int zdc_loop_recv(zdc_loop *e, zdc_pkt **pkt)
{
    void *p;
    if (!e || !e->use_rxq || !zdc_spsc_pop(&e->rxq, &p))
        return 0;
    *pkt = p;
    return 1;
}

/* ---- setup and teardown ------------------------------------------------------------------ */

static const zdc_backend_ops *pick_backend(int kind)
{
    if (kind == ZDC_IO_BACKEND_AUTO) {
        const char *env = getenv("ZDC_IO_BACKEND");
        if (env && strcmp(env, "epoll") == 0)
            kind = ZDC_IO_BACKEND_EPOLL;
        else if (env && strcmp(env, "uring") == 0)
            kind = ZDC_IO_BACKEND_URING;
    }
    if (kind == ZDC_IO_BACKEND_EPOLL)
        return &zdc_backend_epoll;
    if (kind == ZDC_IO_BACKEND_URING)
        return &zdc_backend_uring;
    return NULL; /* auto */
}

static int create_backend(zdc_loop *e)
{
    zdc_io_config ioc = {
        .max_datagram = e->cfg.max_datagram,
        .rx_buffers = e->cfg.rx_buffers,
        .tx_slots = e->cfg.tx_slots,
        .gro = e->cfg.gro,
        .zerocopy = e->cfg.zerocopy,
    };
    zdc_io_callbacks cb = {.on_recv = on_recv, .on_sent = on_sent, .user = e};
    const zdc_backend_ops *ops = pick_backend(e->cfg.backend);
    if (ops) {
        e->ops = ops;
        return ops->create(&e->be, &ioc, &cb);
    }
    e->ops = &zdc_backend_uring;
    int rv = e->ops->create(&e->be, &ioc, &cb);
    if (rv != ZDC_ERR_NOT_SUPPORTED)
        return rv;
    e->ops = &zdc_backend_epoll; /* io_uring refused (seccomp, old kernel) */
    return e->ops->create(&e->be, &ioc, &cb);
}

static int open_family(zdc_loop *e, int f, const zdc_addr *want)
{
    zdc_udp_opts o = {.rcvbuf = e->cfg.sock_buf, .sndbuf = e->cfg.sock_buf, .gro = e->cfg.gro};
    int rv = zdc_udp_open(want, e->cfg.port_min, e->cfg.port_max, &o, &e->fd[f], &e->local[f]);
    if (rv != 0)
        return rv;
    if (e->ops == &zdc_backend_uring) {
        /* io_uring polls internally; a blocking socket keeps it from reporting -EAGAIN. */
        int fl = fcntl(e->fd[f], F_GETFL);
        if (fl >= 0)
            (void)fcntl(e->fd[f], F_SETFL, fl & ~O_NONBLOCK);
    }
    e->gso[f] = e->cfg.gso && zdc_udp_gso_supported(e->fd[f]);
    rv = e->ops->add_socket(e->be, e->fd[f]);
    if (rv < 0)
        return rv;
    e->sock[f] = rv;
    return 0;
}

static int open_sockets(zdc_loop *e)
{
    static const uint8_t any[16] = {0};
    int rv4 = ZDC_ERR_NO_INTERFACE, rv6 = ZDC_ERR_NO_INTERFACE;
    if (e->cfg.ipv4) {
        zdc_addr a = e->cfg.bind4;
        bool expl = zdc_addr_family(&a) == 4;
        if (!expl)
            zdc_addr_from_bytes(&a, 4, any, 0);
        rv4 = open_family(e, FAM4, &a);
        if (rv4 != 0 && (expl || rv4 != ZDC_ERR_NO_INTERFACE))
            return rv4;
    }
    if (e->cfg.ipv6) {
        zdc_addr a = e->cfg.bind6;
        bool expl = zdc_addr_family(&a) == 6;
        if (!expl)
            zdc_addr_from_bytes(&a, 6, any, 0);
        if (e->sock[FAM4] >= 0 && e->cfg.port_min == 0) {
            /* Same port for both families when the kernel chose it: one port to open. */
            uint16_t p = zdc_addr_port(&e->local[FAM4]);
            zdc_loop_config save = e->cfg;
            e->cfg.port_min = e->cfg.port_max = p;
            rv6 = open_family(e, FAM6, &a);
            e->cfg = save;
            if (rv6 == ZDC_ERR_ADDR_IN_USE)
                rv6 = open_family(e, FAM6, &a);
        } else {
            rv6 = open_family(e, FAM6, &a);
        }
        /* A wildcard IPv6 socket may be missing on hosts without IPv6: not an error. */
        if (rv6 != 0 && (expl || rv6 != ZDC_ERR_NO_INTERFACE))
            return rv6;
    }
    return e->sock[FAM4] >= 0 || e->sock[FAM6] >= 0 ? 0 : ZDC_ERR_NO_INTERFACE;
}

int zdc_loop_new(const zdc_loop_config *cfg, zdc_loop **out)
{
    if (!cfg || !out || (!cfg->ipv4 && !cfg->ipv6) || cfg->max_datagram == 0 ||
        cfg->max_datagram > ZDC_IO_MAX_DATAGRAM || cfg->port_min > cfg->port_max ||
        (!cfg->on_recv && cfg->rx_queue == 0) || cfg->tx_queue == 0)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_loop *e = calloc(1, sizeof *e);
    if (!e)
        return ZDC_ERR_NOMEM;
    e->cfg = *cfg;
    /* A zero-copy send pins each user page as one skb fragment, and an skb holds at most
     * MAX_SKB_FRAGS (17) of them: more fail with EMSGSIZE. A buffer of max_datagram bytes
     * spans at most max_datagram / 4096 + 2 pages. */
    e->gso_max = ZDC_IO_MAX_SEGS;
    if (cfg->zerocopy) {
        size_t pages = cfg->max_datagram / 4096 + 2;
        e->gso_max = pages >= 16 ? 1 : (unsigned)(16 / pages);
    }
    e->fd[FAM4] = e->fd[FAM6] = -1;
    e->sock[FAM4] = e->sock[FAM6] = -1;
    pthread_mutex_init(&e->snap_lock, NULL);
    zdc_timers_init(&e->timers);
    int rv;
    if (cfg->pool) {
        e->pool = cfg->pool;
    } else {
        zdc_pool_config pc = zdc_pool_config_default();
        pc.buf_size = (uint32_t)(pc.headroom + cfg->max_datagram + 64); /* 64: tail room */
        pc.max_buffers = cfg->pool_buffers ? cfg->pool_buffers : 16384;
        if (pc.buf_size > 16384)
            pc.slab_buffers = 16;
        rv = zdc_pool_new(&pc, &e->pool);
        if (rv != 0)
            goto fail;
        e->own_pool = true;
    }
    e->use_rxq = cfg->on_recv == NULL;
    if (e->use_rxq && (rv = zdc_spsc_init(&e->rxq, cfg->rx_queue)) != 0)
        goto fail;
    if ((rv = zdc_mpsc_init(&e->txq, cfg->tx_queue)) != 0)
        goto fail;
    e->txq_ok = true;
    if ((rv = create_backend(e)) != 0) {
        e->be = NULL;
        goto fail;
    }
    if ((rv = open_sockets(e)) != 0)
        goto fail;
    publish_stats(e);
    *out = e;
    return 0;
fail:
    zdc_loop_free(e);
    return rv;
}

void zdc_loop_close(zdc_loop *e)
{
    if (!e || atomic_exchange(&e->closed, true))
        return;
    zdc_loop_stop(e);
    if (e->be) {
        /* Give queued sends a last chance to leave, then let the backend finish or cancel
         * what the kernel still holds; every buffer comes back through on_sent. */
        for (int i = 0; i < 64 && (e->stage_n > 0 || (e->txq_ok && zdc_mpsc_count(&e->txq) > 0));
             i++)
            if (e->ops->wait(e->be, 0) < 0 || flush_sends(e) == 0)
                break;
        e->ops->destroy(e->be);
        e->be = NULL;
    }
    stage_fill(e);
    for (; e->stage_n > 0; e->stage_n--, e->stage_head = (e->stage_head + 1) % STAGE_CAP) {
        e->st.tx_dropped++;
        zdc_pkt_unref(e->stage[e->stage_head]);
    }
    void *p;
    while (e->use_rxq && zdc_spsc_pop(&e->rxq, &p))
        zdc_pkt_unref(p);
    for (int f = 0; f < NFAM; f++)
        if (e->fd[f] >= 0) {
            close(e->fd[f]);
            e->fd[f] = -1;
        }
    pthread_mutex_lock(&e->snap_lock);
    uint64_t loops = e->snap.loops;
    e->snap = e->st;
    e->snap.loops = loops;
    pthread_mutex_unlock(&e->snap_lock);
}

void zdc_loop_free(zdc_loop *e)
{
    if (!e)
        return;
    zdc_loop_close(e);
    zdc_timers_clear(&e->timers);
    zdc_spsc_clear(&e->rxq);
    zdc_mpsc_clear(&e->txq);
    if (e->own_pool)
        zdc_pool_free(e->pool);
    pthread_mutex_destroy(&e->snap_lock);
    free(e);
}

const char *zdc_loop_backend_name(const zdc_loop *e)
{
    return e->ops ? e->ops->name : "none";
}

int zdc_loop_local_addr(const zdc_loop *e, int family, zdc_addr *out)
{
    int f = family == 4 ? FAM4 : family == 6 ? FAM6 : -1;
    if (f < 0 || e->sock[f] < 0)
        return ZDC_ERR_NOT_FOUND;
    *out = e->local[f];
    return 0;
}

size_t zdc_loop_pollable_fds(const zdc_loop *e, int *fds, size_t cap)
{
    size_t n = 0;
    for (int f = 0; f < NFAM && n < cap; f++)
        if (e->fd[f] >= 0)
            fds[n++] = e->fd[f];
    if (e->be && n < cap)
        fds[n++] = e->ops->fd(e->be);
    return n;
}

bool zdc_loop_has_pending(zdc_loop *e)
{
    return e->stage_n > 0 || (e->txq_ok && zdc_mpsc_count(&e->txq) > 0) ||
           (e->use_rxq && zdc_spsc_count(&e->rxq) > 0);
}

zdc_pool *zdc_loop_pool(zdc_loop *e)
{
    return e->pool;
}

zdc_pkt *zdc_loop_pkt_alloc(zdc_loop *e)
{
    return zdc_pool_get(e->pool);
}

zdc_timers *zdc_loop_timers(zdc_loop *e)
{
    return &e->timers;
}

void zdc_loop_get_stats(zdc_loop *e, zdc_loop_stats *out)
{
    pthread_mutex_lock(&e->snap_lock);
    *out = e->snap;
    pthread_mutex_unlock(&e->snap_lock);
    out->tx_queue_full = atomic_load_explicit(&e->tx_queue_full, memory_order_relaxed);
}
