/* The engine: one zdc_loop (a UDP socket per family, shared by every peer), the DTLS
 * certificate, the local host-candidate addresses and the peers (members), with their
 * timers. See include/zdc/engine.h; routing is io/route.c, self traffic io/engine_self.c.
 *
 * Built to hold thousands of peers on one port, so nothing done per datagram or per poll
 * walks the peers:
 * - Routing: a received datagram is classified and, when it is STUN, parsed once; the routing
 *   table (route.h) names its member in O(1), and the member's peer connection gets the parsed
 *   message. The table is refreshed from the peer connection after every call into it (sync).
 * - Timers: each member has one timer in a heap (core/base/timer.h) armed at its
 *   zdc_pc_next_timeout and re-armed after every call that may move it. The peer-connection
 *   layer's process-wide timers (zdc_pc_global_next_timeout: usrsctp's tick while usrsctp is
 *   the SCTP) are one engine-level deadline; the peers they touched say so through
 *   zdc_pc_env.notify and get their timeout run right after.
 * - Dispatch: zdc_engine_poll calls back only the members that queued events (notify again).
 * What is still linear, and when: self traffic (engine_self.c); zdc_engine_free walks every
 * member; a hash lookup walks one chain — members sharing a key (the same remote address: two
 * peers behind one NAT binding cannot be told apart by address anyway) share a chain. */
#include <openssl/rand.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "engine_priv.h"
#include "sctp.h"
#include "sock.h"
#include "zdc/demux.h"
#include "zdc/stun.h"

/* Datagrams zdc sends: DTLS records around 1200-byte SCTP packets, STUN; 1500 leaves room. */
#define MAX_DATAGRAM 1500
#define POOL_BUFFERS 8192

#define MEMBER_OF(ptr, field) ZDC_CONTAINER_OF(ptr, zdc_engine_member, field)

void zdc_engine_options_default(zdc_engine_options *o)
{
    memset(o, 0, sizeof *o);
    o->backend = ZDC_BACKEND_AUTO;
    o->ipv4 = true;
    o->ipv6 = true;
    o->max_message_size = 256u * 1024u;
    o->max_receive_queue_channel = ZDC_PC_DEFAULT_RX_CHANNEL_LIMIT;
    o->max_receive_queue_peer = ZDC_PC_DEFAULT_RX_PEER_LIMIT;
}

uint64_t zdc_engine_now_ns(void)
{
    return zdc_loop_now_ns();
}

/* ---- environment given to every peer connection ---------------------------------------- */

void zdc_engine_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    if (n == 0 || RAND_bytes(p, (int)n) == 1)
        return;
    /* OpenSSL's DRBG failed (it should not): the kernel's source is as good. */
    size_t off = 0;
    while (off < n) {
        ssize_t r = getrandom(p + off, n - off, 0);
        if (r > 0)
            off += (size_t)r;
    }
}

static void env_random(void *user, uint8_t *p, size_t n)
{
    (void)user;
    zdc_engine_random(p, n);
}

zdc_loop *zdc_engine_loop(const zdc_engine *e)
{
    return e->front ? e->front->loop : e->loop;
}

/* Queues a datagram: on the loop's send queue, or (a worker) on its ring to the I/O thread. */
static int engine_send(zdc_engine *e, zdc_pkt *pkt)
{
    if (e->worker) {
        uint32_t len = pkt->len; /* pkt is the I/O thread's once queued */
        int rv = zdc_worker_send(e->worker, pkt, e->in_poll);
        if (rv == 0) {
            e->st.tx_datagrams++;
            e->st.tx_bytes += len;
        }
        return rv;
    }
    int rv = zdc_loop_send(e->loop, pkt);
    if (rv == ZDC_ERR_QUEUE_FULL) {
        /* Let the loop hand queued datagrams to the kernel, then try once more. The loop
         * queues what it receives meanwhile (no callback runs), so this cannot re-enter. */
        if (zdc_loop_poll(e->loop, 0) >= 0)
            rv = zdc_loop_send(e->loop, pkt);
    }
    return rv;
}

static void mark_ready(zdc_engine *e, zdc_engine_member *m)
{
    if (!zdc_link_linked(&m->ready))
        zdc_link_append(&e->ready, &m->ready);
    zdc_engine_ext_signal(e); /* queued outside poll: the application's loop should poll */
}

/* Every attached member's timer stays armed (at UINT64_MAX when it has no deadline), so the
 * heap always has a slot for it and re-arming cannot fail. */
static void arm(zdc_engine *e, zdc_engine_member *m, uint64_t deadline)
{
    if (!zdc_timer_armed(&m->timer) || m->timer.deadline != deadline)
        zdc_timer_arm(&e->timers, &m->timer, deadline);
    if (deadline < e->timer_at)
        zdc_engine_ext_signal(e); /* earlier than the application's timer is armed */
}

/* zdc_pc_env.notify: m queued an event, or a process-wide timer called it back. Inside the
 * engine's own call into m, sync() re-reads m afterwards; from anywhere else (the global
 * timers, a call the application made on another peer) m's timeout is run in this step or the
 * next. */
static void env_notify(void *user)
{
    zdc_engine_member *m = user;
    zdc_engine *e = m->engine;
    if (!m->pc)
        return; /* being detached */
    mark_ready(e, m);
    if (e->calling != m)
        arm(e, m, 0);
}

/* Copies the datagram into a pool buffer and queues it. Never blocks and never fails loudly:
 * a datagram that cannot be sent is counted and dropped, like a loss on the wire (ICE, DTLS
 * and SCTP retransmit). */
static void env_send(void *user, const zdc_addr *to, const uint8_t *p, size_t len)
{
    zdc_engine_member *m = user;
    zdc_engine *e = m->engine;
    if (len == 0 || len > MAX_DATAGRAM) {
        e->st.tx_refused++;
        return;
    }
    if (zdc_demux_classify(p, len) == ZDC_DEMUX_STUN)        /* even if this copy is lost: a */
        zdc_route_tx_remember(&e->route, &m->route, p, len); /* retransmission may not be */
    zdc_pkt *pkt = zdc_pool_get(zdc_loop_pool(zdc_engine_loop(e)));
    if (!pkt) {
        e->st.tx_no_buffer++;
        return;
    }
    uint8_t *d = zdc_pkt_put(pkt, len);
    if (!d) {
        zdc_pkt_unref(pkt);
        e->st.tx_refused++;
        return;
    }
    memcpy(d, p, len);
    pkt->addr = *to;
    int rv = engine_send(e, pkt);
    if (rv == 0 && zdc_engine_is_self(e, to))
        zdc_engine_self_sent(e, m, p, len);
    if (rv == 0)
        zdc_engine_ext_signal(e); /* sent outside poll: it leaves with the next poll */
    if (rv != 0) {
        if (rv == ZDC_ERR_QUEUE_FULL)
            e->st.tx_queue_full++;
        else
            e->st.tx_refused++;
        zdc_pkt_unref(pkt);
    }
}

/* ---- members --------------------------------------------------------------------------- */

static void member_timer_fired(zdc_timer *t, void *arg)
{
    zdc_engine_member *m = arg;
    zdc_engine *e = m->engine;
    /* Collected here, run after zdc_timers_run returns (a timeout may re-arm other timers). */
    m->due = e->due;
    e->due = m;
    (void)t;
}

static bool route_owns_stun(zdc_route_entry *r, const zdc_stun_msg *msg)
{
    return zdc_pc_owns_stun_msg(MEMBER_OF(r, route)->pc, msg);
}

static bool route_accepts_from(zdc_route_entry *r, const zdc_addr *from)
{
    return zdc_pc_accepts_from(MEMBER_OF(r, route)->pc, from);
}

/* Re-reads what the engine keeps about m from its peer connection: the routing keys and the
 * timer. O(log peers) (the timer) plus the ufrag's length. */
static void sync(zdc_engine *e, zdc_engine_member *m)
{
    zdc_addr ra;
    bool have = zdc_pc_remote_address(m->pc, &ra) == 0;
    /* Self traffic is routed by its sender (route()); indexing every such member under the
     * engine's one address would only make a long chain. */
    zdc_route_set_keys(&e->route, &m->route, zdc_pc_local_ufrag(m->pc), have ? &ra : NULL,
                       have && !zdc_engine_is_self(e, &ra));
    zdc_addr servers[ZDC_ROUTE_SERVERS];
    size_t ns = zdc_pc_turn_servers(m->pc, servers, ZDC_ROUTE_SERVERS);
    zdc_route_set_servers(&e->route, &m->route, servers, ns);
    if (e->worker)
        zdc_worker_publish(e->worker, &m->pub, &m->route);
    arm(e, m, zdc_pc_next_timeout(m->pc));
}

void zdc_engine_member_changed(zdc_engine_member *m)
{
    if (m && m->engine && m->pc)
        sync(m->engine, m);
}

zdc_pc *zdc_engine_member_pc(const zdc_engine_member *m)
{
    return m ? m->pc : NULL;
}

int zdc_engine_attach(zdc_engine *e, const zdc_engine_member_ops *ops, void *arg,
                      zdc_engine_member **out)
{
    if (!e || !ops || !ops->dispatch || !ops->release || !out)
        return ZDC_ERR_INVALID_PARAMETER;
    if (e->workers)
        return ZDC_ERR_INVALID_STATE; /* the I/O front: peers live on its workers */
    /* A worker's peers run zdc's SCTP whatever ZDC_SCTP says later: zdc_engine_new fixed
     * tuning.sctp_impl, and a peer asking for usrsctp is refused (zdc_peer_initialize). */
    zdc_engine_member *m = calloc(1, sizeof *m);
    if (!m)
        return ZDC_ERR_NOMEM;
    m->ops = *ops;
    m->arg = arg;
    m->engine = e;
    zdc_route_add(&e->route, &m->route);
    zdc_link_init(&m->all);
    zdc_link_init(&m->ready);
    zdc_link_init(&m->batched);
    zdc_timer_init(&m->timer, member_timer_fired, m);
    /* The heap slot first: once it holds m's timer, nothing about m can fail any more. */
    int rv = zdc_timer_arm(&e->timers, &m->timer, UINT64_MAX);
    if (rv != 0) {
        free(m);
        return rv;
    }
    zdc_pc_env env = {.user = m,
                      .send = env_send,
                      .random = env_random,
                      .notify = env_notify,
                      .owner_runs_global_timers = true,
                      .cert = e->cert,
                      .local = e->local,
                      .n_local = e->n_local,
                      .max_message_size = e->max_message_size,
                      .rx_channel_limit = e->rx_channel_limit,
                      .rx_peer_limit = e->rx_peer_limit,
                      .tuning = e->tuning,
                      .native_sctp_only = e->front != NULL, /* peers on threads */
                      .public4 = e->public4,
                      .public6 = e->public6,
                      .log = &e->log};
    zdc_engine_stream_env(&env); /* TURN over TCP/TLS: engine_stream.c */
    rv = zdc_pc_new(&env, &m->pc);
    if (rv != 0) {
        zdc_timer_cancel(&e->timers, &m->timer);
        free(m);
        return rv;
    }
    zdc_link_append(&e->all, &m->all);
    e->n++;
    mark_ready(e, m);
    sync(e, m);
    *out = m;
    return 0;
}

void zdc_engine_detach(zdc_engine_member *m)
{
    if (!m)
        return;
    zdc_engine *e = m->engine;
    /* First, so that what the peer sends while closing (SCTP ABORT, DTLS close_notify) is
     * remembered before the references to m below are cleared. */
    zdc_pc_free(m->pc);
    m->pc = NULL;
    zdc_engine_stream_forget(e, m);
    zdc_engine_self_forget(e, m);
    zdc_route_remove(&e->route, &m->route);
    if (e->worker)
        zdc_worker_publish(e->worker, &m->pub, NULL);
    zdc_timer_cancel(&e->timers, &m->timer);
    /* From whichever list it is on: the engine's, or a dispatch in progress. */
    if (zdc_link_linked(&m->ready))
        zdc_link_remove(&m->ready);
    if (zdc_link_linked(&m->batched))
        zdc_link_remove(&m->batched);
    zdc_link_remove(&m->all);
    e->n--;
    free(m);
}

/* ---- routing --------------------------------------------------------------------------- */

static void deliver(zdc_engine *e, zdc_engine_member *m, const zdc_pkt *pkt,
                    const zdc_stun_msg *stun, int stun_rv, uint64_t now)
{
    e->calling = m;
    if (!zdc_link_linked(&m->batched)) {
        /* the first datagram of this poll for m: SCTP answers the poll's datagrams at once,
         * after it (one SACK per receive batch) */
        zdc_link_append(&e->batched, &m->batched);
        zdc_pc_batch_begin(m->pc);
    }
    if (stun)
        zdc_pc_handle_stun(m->pc, &pkt->addr, pkt->data, pkt->len, stun, stun_rv, now);
    else
        zdc_pc_handle_datagram(m->pc, &pkt->addr, pkt->data, pkt->len, now);
    e->calling = NULL;
    sync(e, m);
    e->st.rx_routed++;
}

/* Ends the receive batch of every member deliver() gave datagrams in this poll. */
static void end_batches(zdc_engine *e, uint64_t now)
{
    while (zdc_link_linked(&e->batched)) {
        zdc_engine_member *m = MEMBER_OF(e->batched.next, batched);
        zdc_link_remove(&m->batched);
        e->calling = m;
        zdc_pc_batch_end(m->pc, now);
        e->calling = NULL;
        sync(e, m);
    }
}

/* A datagram from a TURN server, offered to a peer using that server. */
typedef struct turn_offer {
    zdc_engine *e;
    const zdc_pkt *pkt;
    uint64_t now;
} turn_offer;

static bool take_turn(zdc_route_entry *r, void *arg)
{
    turn_offer *o = arg;
    zdc_engine_member *m = MEMBER_OF(r, route);
    o->e->calling = m;
    int rv = zdc_pc_handle_turn(m->pc, &o->pkt->addr, o->pkt->data, o->pkt->len, o->now);
    o->e->calling = NULL;
    if (rv != 0)
        return false;
    sync(o->e, m);
    o->e->st.rx_routed++;
    return true;
}

/* RFC 8445 §5.1.1 / single-port mux: STUN names its peer; everything else belongs to the peer
 * whose selected pair has that remote address, or whose ICE agent verified it (route.h). A
 * STUN message is parsed here once and handed down parsed. What a TURN server sends (its
 * answers, Data indications, ChannelData) goes to the peers using that server first. */
static void route(zdc_engine *e, const zdc_pkt *pkt, uint64_t now)
{
    const zdc_addr *from = &pkt->addr;
    turn_offer offer = {e, pkt, now};
    if (zdc_route_server_take(&e->route, from, take_turn, &offer))
        return;
    zdc_stun_msg msg;
    int stun_rv = 0;
    bool stun = zdc_demux_classify(pkt->data, pkt->len) == ZDC_DEMUX_STUN;
    if (stun) {
        stun_rv = zdc_stun_parse(pkt->data, pkt->len, &msg);
        if (stun_rv != 0 && stun_rv != ZDC_ERR_UNKNOWN_ATTRIBUTE) {
            e->st.rx_unrouted++;
            return;
        }
    }
    bool self_traffic = false;
    zdc_engine_member *sender = NULL;
    if (e->self_n > 0 && zdc_engine_is_self(e, from)) {
        self_traffic = true;
        sender = zdc_engine_self_sender(e, pkt->data, pkt->len);
    }
    if (!stun && self_traffic) {
        /* From another member of this engine: only its partner may take it. */
        zdc_engine_member *to = sender ? sender->partner : NULL;
        if (to && zdc_pc_accepts_from(to->pc, from))
            deliver(e, to, pkt, NULL, 0, now);
        else
            e->st.rx_unrouted++;
        return;
    }
    const zdc_route_entry *skip = sender ? &sender->route : NULL;
    zdc_route_entry *r = stun ? zdc_route_stun_owner(&e->route, &msg, skip)
                              : zdc_route_addr_owner(&e->route, from, skip);
    if (!r) {
        e->st.rx_unrouted++;
        return;
    }
    zdc_engine_member *to = MEMBER_OF(r, route);
    if (sender) {
        sender->partner = to;
        to->partner = sender;
        sender->partnered = to->partnered = true;
    }
    deliver(e, to, pkt, stun ? &msg : NULL, stun_rv, now);
    if (stun && !self_traffic && to->pc) {
        zdc_route_add_verified(&e->route, &to->route, from);
        if (e->worker)
            zdc_worker_publish(e->worker, &to->pub, &to->route);
    }
}

uint64_t zdc_engine_next_deadline(const zdc_engine *e)
{
    uint64_t t = zdc_timers_next(&e->timers), x;
    /* The peer connections' process-wide timers: whoever polls runs them. */
    if (zdc_pc_global_next_timeout(&x) && x < t)
        t = x;
    return t;
}

/* Runs the timeouts of the members whose deadline has passed, each once. */
static void run_timeouts(zdc_engine *e, uint64_t now)
{
    e->due = NULL;
    zdc_timers_run(&e->timers, now);
    zdc_engine_member *due = e->due;
    e->due = NULL;
    while (due) {
        zdc_engine_member *m = due;
        due = m->due;
        m->due = NULL;
        e->calling = m;
        zdc_pc_handle_timeout(m->pc, now);
        e->calling = NULL;
        sync(e, m); /* re-arms the timer the heap took off */
        e->st.timeouts_run++;
    }
}

static int engine_step(zdc_engine *e, int timeout_ms);

/* After a step: the front sees the worker's sends and counters. */
static void step_end(zdc_engine *e)
{
    if (e->worker)
        zdc_worker_step_end(e->worker, &e->st);
}

int zdc_engine_step(zdc_engine *e, int timeout_ms)
{
    if (!e)
        return ZDC_ERR_INVALID_PARAMETER;
    if (e->workers)
        return ZDC_ERR_INVALID_STATE;
    bool outer = e->in_poll;
    e->in_poll = true;
    int rv = engine_step(e, timeout_ms);
    e->in_poll = outer;
    if (!outer) {
        step_end(e);
        zdc_engine_ext_rearm(e, zdc_engine_next_deadline(e));
    }
    return rv;
}

static int engine_step(zdc_engine *e, int timeout_ms)
{
    zdc_engine_ext_drain(e);
    int64_t timeout_ns = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000;
    if (zdc_link_linked(&e->ready))
        timeout_ns = 0; /* events are waiting for zdc_engine_poll to deliver them */
    uint64_t now = zdc_engine_now_ns();
    uint64_t deadline = zdc_engine_next_deadline(e);
    if (deadline != UINT64_MAX) {
        int64_t until = deadline <= now ? 0 : (int64_t)(deadline - now);
        if (timeout_ns < 0 || until < timeout_ns)
            timeout_ns = until;
    }
    zdc_pkt *pkt;
    if (e->worker) {
        zdc_worker_wait(e->worker, e->wake_fd, timeout_ns);
        now = zdc_engine_now_ns();
        while (zdc_worker_recv(e->worker, &pkt) == 1) {
            e->st.rx_datagrams++;
            e->st.rx_bytes += pkt->len;
            route(e, pkt, now);
            zdc_pkt_unref(pkt);
        }
    } else {
        int rv = e->n_streams ? zdc_engine_stream_wait(e, timeout_ns)
                              : zdc_loop_poll(e->loop, timeout_ns);
        if (rv < 0)
            return ZDC_ERR_IO;
        now = zdc_engine_now_ns();
        while (zdc_loop_recv(e->loop, &pkt) == 1) {
            route(e, pkt, now);
            zdc_pkt_unref(pkt);
        }
    }
    end_batches(e, now);
    now = zdc_engine_now_ns();
    uint64_t tick;
    if (zdc_pc_global_next_timeout(&tick) && tick <= now)
        zdc_pc_global_handle_timeout(now); /* the members it touched arm their timers */
    run_timeouts(e, now);
    /* What routing and timers queued leaves at the start of the next poll, before it waits. */
    return 0;
}

static void dispatch(zdc_engine *e);

int zdc_engine_poll(zdc_engine *e, int timeout_ms)
{
    if (!e)
        return ZDC_ERR_INVALID_PARAMETER;
    if (e->workers)
        return ZDC_ERR_INVALID_STATE; /* the I/O front: poll its workers */
    bool outer = e->in_poll;
    e->in_poll = true;
    int rv = engine_step(e, timeout_ms);
    if (rv == 0)
        dispatch(e);
    e->in_poll = outer;
    if (!outer) {
        step_end(e);
        zdc_engine_ext_rearm(e, zdc_engine_next_deadline(e));
    }
    return rv;
}

static void dispatch(zdc_engine *e)
{
    /* The members with events, taken off the engine's list first: one that queues more while
     * being dispatched (or is detached, even freed) leaves this list on its own. Events a
     * callback causes on members already dispatched wait for the next poll (which then does
     * not wait). */
    zdc_link batch;
    zdc_link_move(&e->ready, &batch);
    while (zdc_link_linked(&batch)) {
        zdc_engine_member *m = MEMBER_OF(batch.next, ready);
        zdc_link_remove(&m->ready);
        m->ops.dispatch(m->arg);
    }
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int parse_options(const zdc_engine_options *o, zdc_loop_config *lc, zdc_addr *bind_ip)
{
    if (!o->ipv4 && !o->ipv6)
        return ZDC_ERR_INVALID_PARAMETER;
    if (o->port_min > o->port_max)
        return ZDC_ERR_INVALID_PARAMETER;
    switch (o->backend) {
    case ZDC_BACKEND_AUTO:
        lc->backend = ZDC_IO_BACKEND_AUTO;
        break;
    case ZDC_BACKEND_URING:
        lc->backend = ZDC_IO_BACKEND_URING;
        break;
    case ZDC_BACKEND_EPOLL:
        lc->backend = ZDC_IO_BACKEND_EPOLL;
        break;
    default:
        return ZDC_ERR_INVALID_PARAMETER;
    }
    lc->ipv4 = o->ipv4;
    lc->ipv6 = o->ipv6;
    memset(bind_ip, 0, sizeof *bind_ip);
    if (o->bind_address) {
        if (zdc_addr_from_ip(bind_ip, o->bind_address, strlen(o->bind_address), 0) != 0)
            return ZDC_ERR_INVALID_PARAMETER;
        int fam = zdc_addr_family(bind_ip);
        if ((fam == 4 && !o->ipv4) || (fam == 6 && !o->ipv6))
            return ZDC_ERR_INVALID_PARAMETER;
        /* One IP to bind: only its family is opened. */
        lc->ipv4 = fam == 4;
        lc->ipv6 = fam == 6;
        if (fam == 4)
            lc->bind4 = *bind_ip;
        else
            lc->bind6 = *bind_ip;
    }
    if (o->public_address) {
        zdc_addr pa;
        if (zdc_addr_from_ip(&pa, o->public_address, strlen(o->public_address), 0) != 0)
            return ZDC_ERR_INVALID_PARAMETER;
    }
    if (o->tuning.sctp_impl > ZDC_SCTP_IMPL_USRSCTP)
        return ZDC_ERR_INVALID_PARAMETER;
    if (o->tuning.max_channels > 1024 || o->workers > ZDC_ENGINE_MAX_WORKERS)
        return ZDC_ERR_INVALID_PARAMETER;
    lc->port_min = o->port_min;
    lc->port_max = o->port_max;
    lc->max_datagram = MAX_DATAGRAM;
    lc->pool_buffers = POOL_BUFFERS;
    lc->on_recv = NULL; /* received datagrams queue; the engine routes them after the wait */
    return 0;
}

/* Host candidates: the bound IP, or every interface address of an open family (loopback only
 * when asked), each with the family's port. */
static int gather_local(zdc_engine *e, const zdc_engine_options *o, const zdc_addr *bind_ip)
{
    zdc_addr port4, port6;
    bool have4 = zdc_loop_local_addr(e->loop, 4, &port4) == 0;
    bool have6 = zdc_loop_local_addr(e->loop, 6, &port6) == 0;
    zdc_addr ips[ZDC_ENGINE_MAX_LOCAL];
    int n;
    if (o->bind_address) {
        ips[0] = *bind_ip;
        n = 1;
    } else {
        unsigned flags = (have4 ? ZDC_IFADDR_IPV4 : 0) | (have6 ? ZDC_IFADDR_IPV6 : 0) |
                         (o->include_loopback ? ZDC_IFADDR_LOOPBACK : 0);
        n = zdc_ifaddrs(ips, ZDC_ENGINE_MAX_LOCAL, flags);
        if (n == ZDC_ERR_NO_INTERFACE)
            n = 0; /* no usable address yet: peers gather only what STUN servers tell */
        else if (n < 0)
            return n;
    }
    e->n_local = 0;
    for (int i = 0; i < n; i++) {
        int fam = zdc_addr_family(&ips[i]);
        if ((fam == 4 && !have4) || (fam == 6 && !have6))
            continue;
        zdc_addr a = ips[i];
        zdc_addr_set_port(&a, zdc_addr_port(fam == 4 ? &port4 : &port6));
        e->local[e->n_local++] = a;
    }
    return 0;
}

/* What every engine has, inline, front or worker: the log sink, members, timers, routing,
 * self traffic, the application loop's eventfd. */
static int engine_base_init(zdc_engine *e)
{
    zdc_engine_log_init(e);
    zdc_link_init(&e->all);
    zdc_link_init(&e->ready);
    zdc_link_init(&e->batched);
    zdc_link_init(&e->streams);
    zdc_link_init(&e->stream_graves);
    zdc_timers_init(&e->timers);
    int rv = zdc_engine_ext_init(e);
    if (rv != 0) {
        zdc_engine_ext_clear(e);
        return rv;
    }
    /* Random map keys: remotes choose addresses and USERNAMEs, not where they land. */
    uint8_t seeds[5][16];
    zdc_engine_random(&seeds[0][0], sizeof seeds);
    static const zdc_route_ops ops = {.owns_stun = route_owns_stun,
                                      .accepts_from = route_accepts_from};
    if ((rv = zdc_route_init(&e->route, &ops, (const uint8_t(*)[16])seeds)) != 0) {
        zdc_engine_ext_clear(e);
        return rv;
    }
    if ((rv = zdc_engine_self_init(e, seeds[4])) != 0) {
        zdc_route_clear(&e->route);
        zdc_engine_ext_clear(e);
        return rv;
    }
    return 0;
}

/* Frees every member (through its owner), then what engine_base_init made. */
static void engine_base_clear(zdc_engine *e)
{
    /* Teardown has one owner: each member's owner frees its peer (so its handles answer
     * "gone"), and that detaches the member. */
    while (zdc_link_linked(&e->all)) {
        zdc_engine_member *m = MEMBER_OF(e->all.prev, all);
        m->ops.release(m->arg);
        if (zdc_link_linked(&e->all) && MEMBER_OF(e->all.prev, all) == m)
            zdc_engine_detach(m); /* an owner that failed to detach it */
    }
    zdc_engine_stream_clear(e);
    zdc_timers_clear(&e->timers);
    zdc_route_clear(&e->route);
    zdc_engine_self_clear(e);
    zdc_engine_ext_clear(e);
}

/* Multi-threaded engines need an SCTP without process-global state: usrsctp keeps its stack
 * in globals (core/proto/sctp.c), zdc's own SCTP keeps nothing outside the association. */
static bool sctp_thread_safe(const zdc_engine_options *o)
{
    if (o->tuning.sctp_impl != ZDC_SCTP_IMPL_DEFAULT)
        return o->tuning.sctp_impl == ZDC_SCTP_IMPL_NATIVE;
    zdc_sctp_config c;
    zdc_sctp_config_default(&c); /* ZDC_SCTP, else native */
    return c.native;
}

int zdc_engine_new(const zdc_engine_options *o, zdc_engine **out)
{
    if (!out)
        return ZDC_ERR_INVALID_PARAMETER;
    *out = NULL;
    zdc_engine_options dflt;
    if (!o) {
        zdc_engine_options_default(&dflt);
        o = &dflt;
    }
    zdc_loop_config lc;
    zdc_loop_config_default(&lc);
    zdc_addr bind_ip;
    int rv = parse_options(o, &lc, &bind_ip);
    if (rv != 0)
        return rv;
    bool threaded = o->workers > 1 || o->io_thread;
    if (threaded && !sctp_thread_safe(o))
        return ZDC_ERR_NOT_SUPPORTED;
    zdc_engine *e = calloc(1, sizeof *e);
    if (!e)
        return ZDC_ERR_NOMEM;
    e->max_message_size = o->max_message_size ? o->max_message_size : 256u * 1024u;
    e->rx_channel_limit = o->max_receive_queue_channel; /* 0: the peer's default */
    e->rx_peer_limit = o->max_receive_queue_peer;
    e->tuning = o->tuning;
    if (threaded) /* fixed now: a later ZDC_SCTP does not matter; workers copy it */
        e->tuning.sctp_impl = ZDC_SCTP_IMPL_NATIVE;
    if (o->public_address) {
        zdc_addr pa;
        /* parse_options checked it */
        zdc_addr_from_ip(&pa, o->public_address, strlen(o->public_address), 0);
        if (zdc_addr_family(&pa) == 4)
            e->public4 = pa;
        else
            e->public6 = pa;
    }
    if ((rv = engine_base_init(e)) != 0) {
        free(e);
        return rv;
    }
    if (threaded) {
        if ((rv = zdc_workers_new(o->workers > 1 ? o->workers : 1, &e->workers)) != 0)
            goto fail;
        zdc_workers_loop_config(e->workers, &lc);
    }
    if ((rv = zdc_loop_new(&lc, &e->loop)) != 0)
        goto fail;
    if ((rv = gather_local(e, o, &bind_ip)) != 0)
        goto fail;
    if ((rv = zdc_dtls_cert_new(&e->cert)) != 0)
        goto fail;
    if (e->workers && (rv = zdc_workers_start(e->workers, e, e->loop)) != 0)
        goto fail;
    *out = e;
    return 0;
fail:
    zdc_workers_free(e->workers);
    engine_base_clear(e);
    zdc_loop_free(e->loop);
    zdc_dtls_cert_free(e->cert);
    free(e);
    return rv;
}

void zdc_engine_free(zdc_engine *e)
{
    if (!e || e->worker)
        return;                   /* a worker goes with its engine */
    zdc_workers_free(e->workers); /* stops the I/O thread, frees the workers' peers */
    engine_base_clear(e);
    zdc_loop_free(e->loop);
    zdc_dtls_cert_free(e->cert);
    free(e);
}

int zdc_engine_worker_new(zdc_engine *front, zdc_worker *w, zdc_engine **out)
{
    zdc_engine *e = calloc(1, sizeof *e);
    if (!e)
        return ZDC_ERR_NOMEM;
    e->front = front;
    e->worker = w;
    e->cert = front->cert; /* shared, read-only; the front frees it */
    memcpy(e->local, front->local, sizeof e->local);
    e->n_local = front->n_local;
    e->max_message_size = front->max_message_size;
    e->rx_channel_limit = front->rx_channel_limit;
    e->rx_peer_limit = front->rx_peer_limit;
    e->tuning = front->tuning;
    e->public4 = front->public4;
    e->public6 = front->public6;
    int rv = engine_base_init(e);
    if (rv != 0) {
        free(e);
        return rv;
    }
    *out = e;
    return 0;
}

void zdc_engine_worker_free(zdc_engine *e)
{
    engine_base_clear(e);
    free(e);
}

zdc_engine *zdc_engine_worker(zdc_engine *e, unsigned i)
{
    if (!e)
        return NULL;
    if (e->workers)
        return zdc_workers_engine(e->workers, i);
    return i == 0 ? e : NULL;
}

unsigned zdc_engine_workers(const zdc_engine *e)
{
    if (!e)
        return 0;
    return e->workers ? zdc_workers_count(e->workers) : 1;
}

const char *zdc_engine_backend_name(const zdc_engine *e)
{
    return e ? zdc_loop_backend_name(zdc_engine_loop(e)) : "";
}

int zdc_engine_port(const zdc_engine *e, int family)
{
    zdc_addr a;
    if (!e || zdc_loop_local_addr(zdc_engine_loop(e), family, &a) != 0)
        return ZDC_ERR_NOT_FOUND;
    return zdc_addr_port(&a);
}

const char *zdc_engine_fingerprint(const zdc_engine *e)
{
    return e ? zdc_dtls_cert_fingerprint_text(e->cert) : "";
}

void zdc_engine_get_stats(const zdc_engine *e, zdc_engine_stats *out)
{
    zdc_loop *l = zdc_engine_loop(e);
    *out = e->st;
    out->buffers_outstanding = zdc_pool_outstanding(zdc_loop_pool(l));
    if (e->worker)
        return; /* its own traffic, counted on its rings */
    zdc_loop_stats ls;
    zdc_loop_get_stats(l, &ls);
    out->rx_datagrams = ls.rx_packets;
    out->rx_bytes = ls.rx_bytes;
    out->tx_datagrams = ls.tx_packets;
    out->tx_bytes = ls.tx_bytes;
    out->rx_no_buffer = ls.rx_pool_exhausted + ls.rx_queue_full;
    out->tx_refused += ls.tx_errors;
    if (e->workers)
        zdc_workers_add_stats(e->workers, out);
}
