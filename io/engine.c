/* The engine: one zdc_loop (a UDP socket per family, shared by every peer), the DTLS
 * certificate, the local host-candidate addresses and the list of peers, with the routing
 * that tells peers apart on the shared socket. See include/zdc/engine.h.
 *
 * Timers: every poll scans the members' next deadlines (zdc_pc_next_timeout). That is O(peers)
 * per poll — fine for tens of peers; thousands want a heap keyed by deadline (core/timer.h)
 * that members re-arm when their deadline moves. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dtls.h"
#include "engine_int.h"
#include "loop.h"
#include "sctp.h"
#include "sock.h"
#include "zdc/demux.h"

#define MAX_LOCAL 16
/* Datagrams zdc sends: DTLS records around 1200-byte SCTP packets, STUN; 1500 leaves room. */
#define MAX_DATAGRAM 1500
#define POOL_BUFFERS 8192
/* Datagrams to the engine's own socket remembered at once (see "self traffic" below). */
#define SELF_RING 4096

/* A datagram one member sent to the engine's own socket, remembered until it comes back. */
typedef struct self_send {
    uint64_t hash; /* 0: free */
    uint32_t len;
    zdc_engine_member *sender;
} self_send;

struct zdc_engine {
    zdc_loop *loop;
    zdc_dtls_cert *cert;
    zdc_addr local[MAX_LOCAL];
    size_t n_local;
    size_t max_message_size;

    /* Members; a detach while iterating leaves a NULL hole, swept when the outermost
     * iteration ends (a dispatch may poll the engine again, so iterations nest). */
    zdc_engine_member **m;
    size_t n, cap;
    int iterating;
    bool holes;

    /* Self traffic, oldest first from self_head (a ring). */
    self_send self[SELF_RING];
    size_t self_head, self_n;

    zdc_engine_stats st;
};

void zdc_engine_options_default(zdc_engine_options *o)
{
    memset(o, 0, sizeof *o);
    o->backend = ZDC_BACKEND_AUTO;
    o->ipv4 = true;
    o->ipv6 = true;
    o->max_message_size = 256u * 1024u;
}

uint64_t zdc_engine_now_ns(void)
{
    return zdc_loop_now_ns();
}

/* ---- environment given to every peer connection ---------------------------------------- */

static void env_random(void *user, uint8_t *p, size_t n)
{
    (void)user;
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

/* ---- self traffic ------------------------------------------------------------------------
 * Two peers of one engine that connect to each other share one socket: each one's remote
 * address is the engine's own, so the address cannot tell which of them a datagram is for.
 * STUN can (USERNAME, transaction id); for the rest the engine remembers who sent each
 * datagram to its own socket (by a hash of its bytes) and, when it comes back through the
 * kernel, hands it to the member the sender was paired with by STUN. The datagrams still
 * cross the real socket. */

static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h ? h : 1;
}

static bool is_self(const zdc_engine *e, const zdc_addr *to)
{
    zdc_addr mine;
    if (zdc_loop_local_addr(e->loop, zdc_addr_family(to), &mine) != 0 ||
        zdc_addr_port(&mine) != zdc_addr_port(to))
        return false;
    if (zdc_addr_ip_equal(&mine, to) || zdc_addr_is_loopback(to))
        return true;
    for (size_t i = 0; i < e->n_local; i++)
        if (zdc_addr_ip_equal(&e->local[i], to))
            return true;
    return false;
}

static void remember_self(zdc_engine *e, zdc_engine_member *m, const uint8_t *p, size_t len)
{
    if (e->self_n == SELF_RING) { /* the oldest was lost on the way: forget it */
        e->self_head = (e->self_head + 1) % SELF_RING;
        e->self_n--;
    }
    e->self[(e->self_head + e->self_n++) % SELF_RING] =
        (self_send){hash_bytes(p, len), (uint32_t)len, m};
    e->st.self_sent++;
}

/* The member that sent this datagram to our own socket, or NULL. Takes it off the ring. */
static zdc_engine_member *self_sender(zdc_engine *e, const uint8_t *p, size_t len)
{
    if (e->self_n == 0)
        return NULL;
    uint64_t h = hash_bytes(p, len);
    for (size_t k = 0; k < e->self_n; k++) {
        self_send *s = &e->self[(e->self_head + k) % SELF_RING];
        if (s->hash != h || s->len != len)
            continue;
        zdc_engine_member *m = s->sender;
        s->hash = 0;
        while (e->self_n > 0 && e->self[e->self_head].hash == 0) {
            e->self_head = (e->self_head + 1) % SELF_RING;
            e->self_n--;
        }
        return m;
    }
    return NULL;
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
    zdc_pkt *pkt = zdc_loop_pkt_alloc(e->loop);
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
    int rv = zdc_loop_send(e->loop, pkt);
    if (rv == ZDC_ERR_QUEUE_FULL) {
        /* Let the loop hand queued datagrams to the kernel, then try once more. The loop
         * queues what it receives meanwhile (no callback runs), so this cannot re-enter. */
        if (zdc_loop_poll(e->loop, 0) >= 0)
            rv = zdc_loop_send(e->loop, pkt);
    }
    if (rv == 0 && is_self(e, to))
        remember_self(e, m, p, len);
    if (rv != 0) {
        if (rv == ZDC_ERR_QUEUE_FULL)
            e->st.tx_queue_full++;
        else
            e->st.tx_refused++;
        zdc_pkt_unref(pkt);
    }
}

/* ---- members --------------------------------------------------------------------------- */

int zdc_engine_attach(zdc_engine *e, zdc_engine_member *m)
{
    if (!e || !m)
        return ZDC_ERR_INVALID_PARAMETER;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        zdc_engine_member **a = realloc(e->m, cap * sizeof *a);
        if (!a)
            return ZDC_ERR_NOMEM;
        e->m = a;
        e->cap = cap;
    }
    m->engine = e;
    m->partner = NULL;
    zdc_pc_env env = {.user = m,
                      .send = env_send,
                      .random = env_random,
                      .cert = e->cert,
                      .local = e->local,
                      .n_local = e->n_local,
                      .max_message_size = e->max_message_size};
    int rv = zdc_pc_new(&env, &m->pc);
    if (rv != 0)
        return rv;
    e->m[e->n++] = m;
    return 0;
}

void zdc_engine_detach(zdc_engine *e, zdc_engine_member *m)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->m[i] && e->m[i]->partner == m)
            e->m[i]->partner = NULL;
    for (size_t k = 0; k < e->self_n; k++) {
        self_send *s = &e->self[(e->self_head + k) % SELF_RING];
        if (s->sender == m)
            s->sender = NULL;
    }
    for (size_t i = 0; i < e->n; i++) {
        if (e->m[i] != m)
            continue;
        if (e->iterating) {
            e->m[i] = NULL;
            e->holes = true;
        } else {
            memmove(&e->m[i], &e->m[i + 1], (e->n - i - 1) * sizeof *e->m);
            e->n--;
        }
        break;
    }
    zdc_pc_del(m->pc);
    m->pc = NULL;
}

static void iter_begin(zdc_engine *e)
{
    e->iterating++;
}

static void iter_end(zdc_engine *e)
{
    if (--e->iterating > 0 || !e->holes)
        return;
    size_t k = 0;
    for (size_t i = 0; i < e->n; i++)
        if (e->m[i])
            e->m[k++] = e->m[i];
    e->n = k;
    e->holes = false;
}

/* ---- routing --------------------------------------------------------------------------- */

static void deliver_to(zdc_engine *e, zdc_engine_member *m, const zdc_pkt *pkt, uint64_t now)
{
    zdc_pc_handle_datagram(m->pc, &pkt->addr, pkt->data, pkt->len, now);
    e->st.rx_routed++;
}

/* RFC 8445 §5.1.1 / single-port mux: a STUN request names its peer in USERNAME (and a
 * response matches a peer's transaction); everything else belongs to the peer whose selected
 * pair has that remote address. A linear scan: a hash by address and ufrag comes with many
 * peers. */
static void route(zdc_engine *e, const zdc_pkt *pkt, uint64_t now)
{
    const zdc_addr *from = &pkt->addr;
    bool stun = zdc_demux_classify(pkt->data, pkt->len) == ZDC_DEMUX_STUN;
    bool self_traffic = false;
    zdc_engine_member *sender = NULL;
    if (e->self_n > 0 && is_self(e, from)) {
        self_traffic = true;
        sender = self_sender(e, pkt->data, pkt->len);
    }
    if (!stun && self_traffic) {
        /* From another member of this engine: only its partner may take it. */
        zdc_engine_member *to = sender ? sender->partner : NULL;
        zdc_addr ra;
        if (to && zdc_pc_remote_address(to->pc, &ra) == 0 && zdc_addr_equal(&ra, from))
            deliver_to(e, to, pkt, now);
        else
            e->st.rx_unrouted++;
        return;
    }
    for (size_t i = 0; i < e->n; i++) {
        zdc_engine_member *m = e->m[i];
        if (!m || m == sender)
            continue;
        bool mine;
        if (stun) {
            mine = zdc_pc_owns_stun(m->pc, pkt->data, pkt->len);
        } else {
            zdc_addr ra;
            mine = zdc_pc_remote_address(m->pc, &ra) == 0 && zdc_addr_equal(&ra, from);
        }
        if (mine) {
            if (sender) {
                sender->partner = m;
                m->partner = sender;
            }
            deliver_to(e, m, pkt, now);
            return;
        }
    }
    e->st.rx_unrouted++;
}

static uint64_t next_deadline(const zdc_engine *e)
{
    uint64_t t = UINT64_MAX, x;
    for (size_t i = 0; i < e->n; i++)
        if (e->m[i] && (x = zdc_pc_next_timeout(e->m[i]->pc)) < t)
            t = x;
    /* usrsctp's timer wheel is process-wide (core/sctp.h): whoever polls ticks it. */
    if (zdc_sctp_global_next_tick(&x) && x < t)
        t = x;
    return t;
}

int zdc_engine_step(zdc_engine *e, int timeout_ms)
{
    if (!e)
        return ZDC_ERR_INVALID_PARAMETER;
    int64_t timeout_ns = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000;
    uint64_t now = zdc_engine_now_ns();
    uint64_t deadline = next_deadline(e);
    if (deadline != UINT64_MAX) {
        int64_t until = deadline <= now ? 0 : (int64_t)(deadline - now);
        if (timeout_ns < 0 || until < timeout_ns)
            timeout_ns = until;
    }
    int rv = zdc_loop_poll(e->loop, timeout_ns);
    if (rv < 0)
        return ZDC_ERR_IO;

    iter_begin(e);
    now = zdc_engine_now_ns();
    zdc_pkt *pkt;
    while (zdc_loop_recv(e->loop, &pkt) == 1) {
        route(e, pkt, now);
        zdc_pkt_unref(pkt);
    }
    now = zdc_engine_now_ns();
    uint64_t tick;
    if (zdc_sctp_global_next_tick(&tick) && tick <= now)
        zdc_sctp_global_tick(now);
    for (size_t i = 0; i < e->n; i++) {
        zdc_engine_member *m = e->m[i];
        if (m && zdc_pc_next_timeout(m->pc) <= now) {
            zdc_pc_handle_timeout(m->pc, now);
            e->st.timeouts_run++;
        }
    }
    iter_end(e);
    /* What routing and timers queued leaves at the start of the next poll, before it waits. */
    return 0;
}

int zdc_engine_poll(zdc_engine *e, int timeout_ms)
{
    int rv = zdc_engine_step(e, timeout_ms);
    if (rv != 0)
        return rv;
    iter_begin(e);
    /* Members added by a callback are dispatched too (the loop re-reads n). */
    for (size_t i = 0; i < e->n; i++)
        if (e->m[i])
            e->m[i]->dispatch(e->m[i]->arg);
    iter_end(e);
    return 0;
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
    zdc_addr ips[MAX_LOCAL];
    int n;
    if (o->bind_address) {
        ips[0] = *bind_ip;
        n = 1;
    } else {
        unsigned flags = (have4 ? ZDC_IFADDR_IPV4 : 0) | (have6 ? ZDC_IFADDR_IPV6 : 0) |
                         (o->include_loopback ? ZDC_IFADDR_LOOPBACK : 0);
        n = zdc_ifaddrs(ips, MAX_LOCAL, flags);
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
    zdc_engine *e = calloc(1, sizeof *e);
    if (!e)
        return ZDC_ERR_NOMEM;
    e->max_message_size = o->max_message_size ? o->max_message_size : 256u * 1024u;
    if ((rv = zdc_loop_new(&lc, &e->loop)) != 0)
        goto fail;
    if ((rv = gather_local(e, o, &bind_ip)) != 0)
        goto fail;
    if ((rv = zdc_dtls_cert_new(&e->cert)) != 0)
        goto fail;
    *out = e;
    return 0;
fail:
    zdc_loop_del(e->loop);
    free(e);
    return rv;
}

void zdc_engine_free(zdc_engine *e)
{
    if (!e)
        return;
    /* Each release frees its peer through the public API (so its handles answer "gone") and
     * detaches it; detaching from the end keeps the scan simple. */
    while (e->n > 0) {
        zdc_engine_member *m = e->m[e->n - 1];
        if (!m) {
            e->n--;
            continue;
        }
        size_t before = e->n;
        m->release(m->arg);
        if (e->n == before && e->m[e->n - 1] == m)
            zdc_engine_detach(e, m); /* a member that failed to detach itself */
    }
    free(e->m);
    zdc_loop_del(e->loop);
    zdc_dtls_cert_del(e->cert);
    free(e);
}

const char *zdc_engine_backend_name(const zdc_engine *e)
{
    return e ? zdc_loop_backend_name(e->loop) : "";
}

int zdc_engine_port(const zdc_engine *e, int family)
{
    zdc_addr a;
    if (!e || zdc_loop_local_addr(e->loop, family, &a) != 0)
        return ZDC_ERR_NOT_FOUND;
    return zdc_addr_port(&a);
}

const char *zdc_engine_fingerprint(const zdc_engine *e)
{
    return e ? zdc_dtls_cert_fingerprint_text(e->cert) : "";
}

void zdc_engine_get_stats(const zdc_engine *e, zdc_engine_stats *out)
{
    zdc_loop_stats ls;
    zdc_loop_get_stats(e->loop, &ls);
    *out = e->st;
    out->rx_datagrams = ls.rx_packets;
    out->rx_bytes = ls.rx_bytes;
    out->tx_datagrams = ls.tx_packets;
    out->tx_bytes = ls.tx_bytes;
    out->rx_no_buffer = ls.rx_pool_exhausted + ls.rx_queue_full;
    out->tx_refused += ls.tx_errors;
}
