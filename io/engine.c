/* The engine: one zdc_loop (a UDP socket per family, shared by every peer), the DTLS
 * certificate, the local host-candidate addresses and the list of peers, with the routing
 * that tells peers apart on the shared socket. See include/zdc/engine.h.
 *
 * Built to hold thousands of peers on one port, so nothing done per datagram or per poll
 * walks the peers:
 * - Routing (route()) looks a datagram's peer up in hash maps (core/keymap.h): a STUN request
 *   by the local ufrag in its USERNAME, a STUN response by its transaction id (the engine
 *   remembers the requests each peer sent), anything else by the remote address ICE selected.
 *   The maps are refreshed from the peer connection after every call into it (sync()).
 * - Timers: each member has one timer in a heap (core/timer.h) armed at its
 *   zdc_pc_next_timeout and re-armed after every call that may move it. usrsctp's tick is
 *   process-wide and stays one engine-level deadline; the peers its callbacks touched say so
 *   through zdc_pc_env.notify and get their timeout run right after it.
 * - Dispatch: zdc_engine_poll calls back only the members that queued events (notify again).
 * What is still linear, and when:
 * - detaching a member that another member of this engine talked to through the engine's own
 *   socket scans the members (self traffic: tests, not servers), and detaching while self
 *   traffic is in flight scans that ring (at most SELF_RING entries);
 * - zdc_engine_free walks every member, of course;
 * - usrsctp's own tick costs what its timer wheel holds for all associations in the process
 *   (outside zdc), and every member its callbacks touched gets a timeout run;
 * - a hash lookup walks one chain: members sharing a key (the same remote address — two
 *   peers behind one NAT binding cannot be told apart by address anyway) share a chain.
 * A STUN response whose request left the TX_RING slots is dropped (see "transactions"). */
#include <openssl/rand.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dtls.h"
#include "engine_int.h"
#include "ice.h"
#include "loop.h"
#include "sctp.h"
#include "sock.h"
#include "zdc/demux.h"
#include "zdc/stun.h"

#define MAX_LOCAL 16
/* Datagrams zdc sends: DTLS records around 1200-byte SCTP packets, STUN; 1500 leaves room. */
#define MAX_DATAGRAM 1500
#define POOL_BUFFERS 8192
/* Datagrams to the engine's own socket remembered at once (see "self traffic" below). */
#define SELF_RING 4096
/* STUN requests remembered for routing their responses (see "transactions" below). */
#define TX_RING 16384

#define MEMBER_OF(ptr, field)                                                                      \
    ((zdc_engine_member *)((char *)(ptr)-offsetof(zdc_engine_member, field)))

/* A datagram one member sent to the engine's own socket, remembered until it comes back. */
typedef struct self_send {
    zdc_keymap_node node; /* in self_map, keyed by key[] */
    uint8_t key[12];      /* hash of the bytes (8), length (4) */
    bool used;
    zdc_engine_member *sender; /* NULL once the sender is gone */
} self_send;

/* A STUN request a member sent, remembered so that its response finds the member. */
typedef struct tx_rec {
    zdc_keymap_node node; /* in tx_map, keyed by txid */
    uint8_t txid[12];
    zdc_engine_member *m; /* NULL: slot free */
    zdc_engine_link link; /* in m->txs */
} tx_rec;

struct zdc_engine {
    zdc_loop *loop;
    zdc_dtls_cert *cert;
    zdc_addr local[MAX_LOCAL];
    size_t n_local;
    size_t max_message_size;

    zdc_engine_link all;   /* every member */
    zdc_engine_link ready; /* members with events to dispatch */
    size_t n;

    zdc_timers timers;          /* one timer per member */
    zdc_engine_member *calling; /* the member the engine is calling into, if any */
    zdc_engine_member *due;     /* members whose timer fired, while the heap runs */
    zdc_keymap by_ufrag;        /* local ICE ufrag -> member */
    zdc_keymap by_addr;         /* selected remote address -> member */
    zdc_keymap by_verified;     /* other addresses ICE verified -> member (index_verified) */
    zdc_keymap by_txid;         /* STUN request transaction id -> member (tx[]) */
    tx_rec *tx;                 /* ring of TX_RING; tx_next is the oldest, overwritten next */
    size_t tx_next;

    /* Self traffic, oldest first from self_head (a ring), indexed by self_map. */
    self_send self[SELF_RING];
    size_t self_head, self_n;
    zdc_keymap self_map;

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

/* ---- lists ------------------------------------------------------------------------------ */

static void link_init(zdc_engine_link *l)
{
    l->prev = l->next = l;
}

static bool link_linked(const zdc_engine_link *l)
{
    return l->next != l;
}

static void link_remove(zdc_engine_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    link_init(l);
}

static void link_append(zdc_engine_link *head, zdc_engine_link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
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

static void mark_ready(zdc_engine *e, zdc_engine_member *m)
{
    if (!link_linked(&m->ready))
        link_append(&e->ready, &m->ready);
}

/* Every attached member's timer stays armed (at UINT64_MAX when it has no deadline), so the
 * heap always has a slot for it and re-arming cannot fail. */
static void arm(zdc_engine *e, zdc_engine_member *m, uint64_t deadline)
{
    if (!zdc_timer_armed(&m->timer) || m->timer.deadline != deadline)
        zdc_timer_arm(&e->timers, &m->timer, deadline);
}

/* zdc_pc_env.notify: m queued an event, or SCTP called it back. Inside the engine's own call
 * into m, sync() re-reads m afterwards; from anywhere else (usrsctp's global tick, a call the
 * application made on another peer) m's timeout is run in this step or the next. */
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

/* ---- transactions ------------------------------------------------------------------------
 * RFC 8489 §6.3: a response carries its request's transaction id and no USERNAME, and comes
 * from wherever the request went (every peer of an engine may query the same STUN server,
 * and self traffic shares one address), so responses are routed by transaction id. Every
 * request a member sends goes into a ring of TX_RING slots indexed by txid (a retransmission
 * refreshes it). A response whose request has left the ring (more than TX_RING requests
 * since) is dropped like a loss: ICE retransmits, which records it again. */

static void tx_forget(zdc_engine *e, tx_rec *r)
{
    zdc_keymap_remove(&e->by_txid, &r->node);
    link_remove(&r->link);
    r->m = NULL;
}

static void tx_remember(zdc_engine *e, zdc_engine_member *m, const uint8_t *p, size_t len)
{
    /* RFC 8489 §5: the class bits C1 (0x0100) and C0 (0x0010) are 0 in a request. */
    if (len < 20 || (p[0] & 0x01) != 0 || (p[1] & 0x10) != 0)
        return;
    tx_rec *r = &e->tx[e->tx_next];
    e->tx_next = (e->tx_next + 1) % TX_RING;
    if (r->m)
        tx_forget(e, r);
    memcpy(r->txid, p + 8, 12);
    r->m = m;
    link_append(&m->txs, &r->link);
    zdc_keymap_insert(&e->by_txid, &r->node, r->txid, sizeof r->txid);
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
    return h;
}

static void self_key(uint8_t key[12], const uint8_t *p, size_t len)
{
    uint64_t h = hash_bytes(p, len);
    uint32_t l = (uint32_t)len;
    memcpy(key, &h, 8);
    memcpy(key + 8, &l, 4);
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

/* Frees slot s; then drops the free slots at the head of the ring. */
static void self_release(zdc_engine *e, self_send *s)
{
    if (s->used)
        zdc_keymap_remove(&e->self_map, &s->node);
    s->used = false;
    s->sender = NULL;
    while (e->self_n > 0 && !e->self[e->self_head].used) {
        e->self_head = (e->self_head + 1) % SELF_RING;
        e->self_n--;
    }
}

static void remember_self(zdc_engine *e, zdc_engine_member *m, const uint8_t *p, size_t len)
{
    if (e->self_n == SELF_RING) /* the oldest was lost on the way: forget it */
        self_release(e, &e->self[e->self_head]);
    self_send *s = &e->self[(e->self_head + e->self_n++) % SELF_RING];
    self_key(s->key, p, len);
    s->used = true;
    s->sender = m;
    zdc_keymap_insert(&e->self_map, &s->node, s->key, sizeof s->key);
    e->st.self_sent++;
}

/* The member that sent this datagram to our own socket, or NULL. Takes the oldest such
 * record off the ring. */
static zdc_engine_member *self_sender(zdc_engine *e, const uint8_t *p, size_t len)
{
    if (e->self_n == 0)
        return NULL;
    uint8_t key[12];
    self_key(key, p, len);
    self_send *oldest = NULL;
    size_t oldest_age = SIZE_MAX;
    for (zdc_keymap_node *x = zdc_keymap_find(&e->self_map, key, sizeof key); x;
         x = zdc_keymap_find_next(&e->self_map, x)) {
        self_send *s = (self_send *)((char *)x - offsetof(self_send, node));
        size_t age = ((size_t)(s - e->self) + SELF_RING - e->self_head) % SELF_RING;
        if (age < oldest_age) {
            oldest = s;
            oldest_age = age;
        }
    }
    if (!oldest)
        return NULL;
    zdc_engine_member *m = oldest->sender;
    self_release(e, oldest);
    return m;
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
    if (zdc_demux_classify(p, len) == ZDC_DEMUX_STUN)
        tx_remember(e, m, p, len); /* even if this copy is lost: a retransmission may not be */
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

static void member_timer_fired(zdc_timer *t, void *arg)
{
    zdc_engine_member *m = arg;
    zdc_engine *e = m->engine;
    /* Collected here, run after zdc_timers_run returns (a timeout may re-arm other timers). */
    m->due = e->due;
    e->due = m;
    (void)t;
}

/* The address as a key: family, port, then the 4 or 16 address bytes. */
static size_t addr_key(const zdc_addr *a, uint8_t key[19])
{
    uint16_t port = zdc_addr_port(a);
    key[0] = (uint8_t)zdc_addr_family(a);
    key[1] = (uint8_t)(port >> 8);
    key[2] = (uint8_t)port;
    return 3 + zdc_addr_bytes(a, key + 3);
}

/* Remembers that `from` proved itself to m with an authenticated STUN check, so that DTLS from
 * it reaches m even when it is not the pair m selected: the controlling peer decides the pair
 * (RFC 8445 §8.1.1) and a browser may use another than ours, or move later. A few addresses
 * per member, the oldest replaced. */
static void index_verified(zdc_engine *e, zdc_engine_member *m, const zdc_addr *from)
{
    if (m->has_addr && zdc_addr_equal(&m->addr, from))
        return;
    if (!zdc_pc_accepts_from(m->pc, from))
        return;
    uint8_t key[19];
    size_t n = addr_key(from, key);
    for (int i = 0; i < ZDC_ENGINE_VERIFIED; i++)
        if (m->verified[i].used && m->verified[i].len == n && !memcmp(m->verified[i].key, key, n))
            return;
    zdc_engine_vaddr *v = &m->verified[m->verified_next];
    m->verified_next = (m->verified_next + 1) % ZDC_ENGINE_VERIFIED;
    if (v->used)
        zdc_keymap_remove(&e->by_verified, &v->node);
    memcpy(v->key, key, n);
    v->len = n;
    v->m = m;
    v->used = true;
    zdc_keymap_insert(&e->by_verified, &v->node, v->key, n);
}

static void unindex_verified(zdc_engine *e, zdc_engine_member *m)
{
    for (int i = 0; i < ZDC_ENGINE_VERIFIED; i++)
        if (m->verified[i].used) {
            zdc_keymap_remove(&e->by_verified, &m->verified[i].node);
            m->verified[i].used = false;
        }
}

/* Re-reads what the engine keeps about m from its peer connection: the routing keys and the
 * timer. O(log peers) (the timer) plus the ufrag's length. */
static void sync(zdc_engine *e, zdc_engine_member *m)
{
    const char *uf = zdc_pc_local_ufrag(m->pc);
    if (uf && strlen(uf) >= sizeof m->ufrag)
        uf = NULL; /* ice.c refuses those: cannot happen */
    if (m->has_ufrag && (!uf || strcmp(uf, m->ufrag) != 0)) {
        zdc_keymap_remove(&e->by_ufrag, &m->ufrag_node);
        m->has_ufrag = false;
    }
    if (uf && !m->has_ufrag) {
        strcpy(m->ufrag, uf);
        zdc_keymap_insert(&e->by_ufrag, &m->ufrag_node, m->ufrag, strlen(m->ufrag));
        m->has_ufrag = true;
    }

    zdc_addr ra;
    bool have = zdc_pc_remote_address(m->pc, &ra) == 0;
    if (m->has_addr && (!have || !zdc_addr_equal(&ra, &m->addr))) {
        if (m->addr_indexed)
            zdc_keymap_remove(&e->by_addr, &m->addr_node);
        m->has_addr = m->addr_indexed = false;
    }
    if (have && !m->has_addr) {
        m->addr = ra;
        m->has_addr = true;
        /* Self traffic is routed by its sender (route()); indexing every such member under
         * the engine's one address would only make a long chain. */
        if (!is_self(e, &ra)) {
            size_t n = addr_key(&ra, m->addr_key);
            zdc_keymap_insert(&e->by_addr, &m->addr_node, m->addr_key, n);
            m->addr_indexed = true;
        }
    }

    arm(e, m, zdc_pc_next_timeout(m->pc));
}

void zdc_engine_member_changed(zdc_engine_member *m)
{
    if (m && m->engine && m->pc)
        sync(m->engine, m);
}

int zdc_engine_attach(zdc_engine *e, zdc_engine_member *m)
{
    if (!e || !m)
        return ZDC_ERR_INVALID_PARAMETER;
    m->engine = e;
    m->partner = NULL;
    m->partnered = false;
    m->has_ufrag = m->has_addr = m->addr_indexed = false;
    memset(m->verified, 0, sizeof m->verified);
    m->verified_next = 0;
    m->due = NULL;
    link_init(&m->all);
    link_init(&m->ready);
    link_init(&m->txs);
    zdc_timer_init(&m->timer, member_timer_fired, m);
    /* The heap slot first: once it holds m's timer, nothing about m can fail any more. */
    int rv = zdc_timer_arm(&e->timers, &m->timer, UINT64_MAX);
    if (rv != 0)
        return rv;
    zdc_pc_env env = {.user = m,
                      .send = env_send,
                      .random = env_random,
                      .notify = env_notify,
                      .external_sctp_tick = true,
                      .cert = e->cert,
                      .local = e->local,
                      .n_local = e->n_local,
                      .max_message_size = e->max_message_size};
    rv = zdc_pc_new(&env, &m->pc);
    if (rv != 0) {
        zdc_timer_cancel(&e->timers, &m->timer);
        return rv;
    }
    link_append(&e->all, &m->all);
    e->n++;
    mark_ready(e, m);
    sync(e, m);
    return 0;
}

void zdc_engine_detach(zdc_engine *e, zdc_engine_member *m)
{
    /* First, so that what the peer sends while closing (SCTP ABORT, DTLS close_notify) is
     * remembered before the references to m below are cleared. */
    zdc_pc_del(m->pc);
    m->pc = NULL;
    if (m->partnered) { /* linear, but only for self traffic (see the top) */
        for (zdc_engine_link *l = e->all.next; l != &e->all; l = l->next)
            if (MEMBER_OF(l, all)->partner == m)
                MEMBER_OF(l, all)->partner = NULL;
    }
    for (size_t k = 0; k < e->self_n; k++) {
        self_send *s = &e->self[(e->self_head + k) % SELF_RING];
        if (s->sender == m)
            s->sender = NULL;
    }
    while (link_linked(&m->txs))
        tx_forget(e, (tx_rec *)((char *)m->txs.next - offsetof(tx_rec, link)));
    if (m->has_ufrag)
        zdc_keymap_remove(&e->by_ufrag, &m->ufrag_node);
    if (m->addr_indexed)
        zdc_keymap_remove(&e->by_addr, &m->addr_node);
    unindex_verified(e, m);
    m->has_ufrag = m->has_addr = m->addr_indexed = false;
    zdc_timer_cancel(&e->timers, &m->timer);
    /* From whichever list it is on: the engine's, or a dispatch in progress. */
    if (link_linked(&m->ready))
        link_remove(&m->ready);
    link_remove(&m->all);
    e->n--;
}

/* ---- routing --------------------------------------------------------------------------- */

static void deliver_to(zdc_engine *e, zdc_engine_member *m, const zdc_pkt *pkt, uint64_t now)
{
    e->calling = m;
    zdc_pc_handle_datagram(m->pc, &pkt->addr, pkt->data, pkt->len, now);
    e->calling = NULL;
    sync(e, m);
    e->st.rx_routed++;
}

/* The member a STUN message is for: a request or indication by the local ufrag in USERNAME
 * (RFC 8445 §7.2.2: "RFRAG:LFRAG" as the sender wrote it, the receiver's ufrag first), a
 * response by its transaction. Each candidate the maps give is confirmed by the peer
 * connection itself (full USERNAME, live transaction), so a stale or colliding key cannot
 * misroute. */
static zdc_engine_member *stun_owner(zdc_engine *e, const zdc_pkt *pkt,
                                     const zdc_engine_member *skip)
{
    zdc_stun_msg msg;
    int rv = zdc_stun_parse(pkt->data, pkt->len, &msg);
    if (rv != 0 && rv != ZDC_ERR_UNKNOWN_ATTRIBUTE)
        return NULL;
    zdc_keymap *map;
    zdc_keymap_node *x;
    if (msg.cls == ZDC_STUN_REQUEST || msg.cls == ZDC_STUN_INDICATION) {
        const char *uf;
        size_t n;
        if (zdc_ice_username_local_ufrag(&msg, &uf, &n) != 0)
            return NULL;
        map = &e->by_ufrag;
        x = zdc_keymap_find(map, uf, n);
    } else {
        map = &e->by_txid;
        x = zdc_keymap_find(map, msg.txid, sizeof msg.txid);
    }
    for (; x; x = zdc_keymap_find_next(map, x)) {
        zdc_engine_member *m = map == &e->by_ufrag
                                   ? MEMBER_OF(x, ufrag_node)
                                   : ((tx_rec *)((char *)x - offsetof(tx_rec, node)))->m;
        if (m != skip && zdc_pc_owns_stun(m->pc, pkt->data, pkt->len))
            return m;
    }
    return NULL;
}

/* The member non-STUN traffic from `from` is for: the one whose selected pair has that remote
 * address, or else one whose ICE agent verified the address (index_verified). Every candidate
 * is confirmed by the peer connection itself. */
static zdc_engine_member *addr_owner(zdc_engine *e, const zdc_addr *from,
                                     const zdc_engine_member *skip)
{
    uint8_t key[19];
    size_t n = addr_key(from, key);
    for (zdc_keymap_node *x = zdc_keymap_find(&e->by_addr, key, n); x;
         x = zdc_keymap_find_next(&e->by_addr, x)) {
        zdc_engine_member *m = MEMBER_OF(x, addr_node);
        if (m != skip && zdc_pc_accepts_from(m->pc, from))
            return m;
    }
    for (zdc_keymap_node *x = zdc_keymap_find(&e->by_verified, key, n); x;
         x = zdc_keymap_find_next(&e->by_verified, x)) {
        zdc_engine_member *m =
            ((zdc_engine_vaddr *)((char *)x - offsetof(zdc_engine_vaddr, node)))->m;
        if (m != skip && zdc_pc_accepts_from(m->pc, from))
            return m;
    }
    return NULL;
}

/* RFC 8445 §5.1.1 / single-port mux: STUN names its peer (above); everything else belongs to
 * the peer whose selected pair has that remote address, or whose ICE agent verified it. */
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
        if (to && zdc_pc_accepts_from(to->pc, from))
            deliver_to(e, to, pkt, now);
        else
            e->st.rx_unrouted++;
        return;
    }
    zdc_engine_member *to = stun ? stun_owner(e, pkt, sender) : addr_owner(e, from, sender);
    if (!to) {
        e->st.rx_unrouted++;
        return;
    }
    if (sender) {
        sender->partner = to;
        to->partner = sender;
        sender->partnered = to->partnered = true;
    }
    deliver_to(e, to, pkt, now);
    if (stun && !self_traffic && to->pc)
        index_verified(e, to, from);
}

static uint64_t next_deadline(const zdc_engine *e)
{
    uint64_t t = zdc_timers_next(&e->timers), x;
    /* usrsctp's timer wheel is process-wide (core/sctp.h): whoever polls ticks it. */
    if (zdc_sctp_global_next_tick(&x) && x < t)
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

int zdc_engine_step(zdc_engine *e, int timeout_ms)
{
    if (!e)
        return ZDC_ERR_INVALID_PARAMETER;
    int64_t timeout_ns = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000;
    if (link_linked(&e->ready))
        timeout_ns = 0; /* events are waiting for zdc_engine_poll to deliver them */
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

    now = zdc_engine_now_ns();
    zdc_pkt *pkt;
    while (zdc_loop_recv(e->loop, &pkt) == 1) {
        route(e, pkt, now);
        zdc_pkt_unref(pkt);
    }
    now = zdc_engine_now_ns();
    uint64_t tick;
    if (zdc_sctp_global_next_tick(&tick) && tick <= now)
        zdc_sctp_global_tick(now); /* the members it touched arm their timers for now */
    run_timeouts(e, now);
    /* What routing and timers queued leaves at the start of the next poll, before it waits. */
    return 0;
}

int zdc_engine_poll(zdc_engine *e, int timeout_ms)
{
    int rv = zdc_engine_step(e, timeout_ms);
    if (rv != 0)
        return rv;
    /* The members with events, taken off the engine's list first: one that queues more while
     * being dispatched (or is detached, even freed) leaves this list on its own. Events a
     * callback causes on members already dispatched wait for the next poll (which then does
     * not wait). */
    zdc_engine_link batch;
    link_init(&batch);
    if (link_linked(&e->ready)) {
        batch.next = e->ready.next;
        batch.prev = e->ready.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        link_init(&e->ready);
    }
    while (link_linked(&batch)) {
        zdc_engine_member *m = MEMBER_OF(batch.next, ready);
        link_remove(&m->ready);
        m->dispatch(m->arg);
    }
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
    link_init(&e->all);
    link_init(&e->ready);
    zdc_timers_init(&e->timers);
    /* Random map keys: remotes choose addresses and USERNAMEs, not where they land. */
    uint8_t seeds[5][16];
    env_random(NULL, &seeds[0][0], sizeof seeds);
    zdc_keymap_init(&e->by_ufrag, seeds[0]);
    zdc_keymap_init(&e->by_addr, seeds[1]);
    zdc_keymap_init(&e->by_txid, seeds[2]);
    zdc_keymap_init(&e->self_map, seeds[3]);
    zdc_keymap_init(&e->by_verified, seeds[4]);
    rv = ZDC_ERR_NOMEM;
    if (!(e->tx = calloc(TX_RING, sizeof *e->tx)))
        goto fail;
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
    free(e->tx);
    free(e);
    return rv;
}

void zdc_engine_free(zdc_engine *e)
{
    if (!e)
        return;
    /* Each release frees its peer through the public API (so its handles answer "gone") and
     * detaches it. */
    while (link_linked(&e->all)) {
        zdc_engine_member *m = MEMBER_OF(e->all.prev, all);
        m->release(m->arg);
        if (link_linked(&e->all) && MEMBER_OF(e->all.prev, all) == m)
            zdc_engine_detach(e, m); /* a member that failed to detach itself */
    }
    zdc_timers_destroy(&e->timers);
    zdc_keymap_free(&e->by_ufrag);
    zdc_keymap_free(&e->by_addr);
    zdc_keymap_free(&e->by_txid);
    zdc_keymap_free(&e->self_map);
    zdc_keymap_free(&e->by_verified);
    free(e->tx);
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
    out->buffers_outstanding = zdc_pool_outstanding(zdc_loop_pool(e->loop));
}
