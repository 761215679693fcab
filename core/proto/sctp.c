/* SCTP stage on usrsctp (no-threads mode, AF_CONN sockets). See sctp.h for the contract.
 *
 * How callbacks stay re-entrancy safe: usrsctp only marks a socket readable/writable through
 * an upcall (which just links the association into a "dirty" list). After usrsctp returns —
 * from conninput or handle_timers — this module drains that list, reading each socket with
 * non-blocking usrsctp_recvv and raising the user's callbacks with no usrsctp lock held.
 */
#include "sctp.h"
#include "sctp_native.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <usrsctp.h>

/* Not in usrsctp.h but implemented by usrsctp's sctp_getopt (netinet/sctp.h, sctp_uio.h):
 * bytes queued for sending on an association. */
#ifndef SCTP_GET_SNDBUF_USE
#define SCTP_GET_SNDBUF_USE 0x00001101
#endif
struct zdc_sctp_sockstat {
    sctp_assoc_t ss_assoc_id;
    uint32_t ss_total_sndbuf;
    uint32_t ss_total_recv_buf;
};

/* First receive buffer size; grows (doubling) up to max_message_size + RECV_CHUNK. */
#define RECV_CHUNK 4096u
/* Receive buffers that grew beyond this are released after each message. */
#define RECV_KEEP (64u * 1024u)

/* usrsctp 0.9.5 does not count the 12-byte SCTP common header against the path MTU of an
 * AF_CONN destination (packets come out at spp_pathmtu + 12), so the configured limit is set
 * 12 bytes lower; test/sctp_test.c asserts the largest packet against cfg.mtu. Fragmentation
 * follows the path MTU, so no SCTP_MAXSEG is set. */
#define AF_CONN_MTU_SLACK 12u

enum state { ST_NEW, ST_CONNECTING, ST_UP, ST_DOWN, ST_CLOSED };

struct zdc_sctp {
    zdc_sctp_config cfg;
    struct socket *sock;
    void *cookie; /* AF_CONN address registered with usrsctp: a slot handle, not a pointer */
    uint32_t slot;
    enum state state;
    uint16_t in_streams, out_streams;

    /* message reassembly (RFC 9260 §6.9 fragments arrive as partial reads) */
    uint8_t *rbuf;
    size_t rcap, rlen;
    bool discard;   /* skipping the rest of an oversize message */
    bool rx_paused; /* zdc_sctp_pause_receive: leave data in usrsctp's receive buffer */

    size_t last_buffered;
    uint16_t *resets; /* outgoing stream resets waiting for the one in flight */
    size_t nresets, capresets;

    bool dirty, in_dispatch, free_pending;
    zdc_sctp *dirty_prev, *dirty_next;
    zdc_sctp_stats stats;
    uint32_t tsn_high; /* highest DATA TSN sent (stats.retransmissions) */
    bool tsn_seen;

    zdc_sctp_nat *nat; /* cfg.native: every call goes there (sctp_native.c) */
};

/* ---- process-global state ------------------------------------------------------------------
 * Only the reference count and init flags are shared with other threads (mutex); the slot
 * table and dirty list are touched only from the engine thread (see sctp.h). */

struct slot {
    zdc_sctp *s;
    uint32_t gen;
};

static struct {
    pthread_mutex_t mu;
    unsigned refs;
    bool inited, finished;
    bool have_tick;
    uint64_t last_tick_ns;
    unsigned idle_ticks; /* ticks run since refs reached 0 */
    struct slot *slots;
    uint32_t nslots;
    zdc_sctp *dirty_head, *dirty_tail;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* After the last association closed, usrsctp still frees endpoints from its timers (the
 * INPKILL timer runs ~10 ms after close, ASOCKILL similar); keep ticking for 5 s. */
#define IDLE_TICKS 500u

/* cookie = generation << 32 | (slot index + 1): never NULL, and a stale cookie from a
 * usrsctp timer that outlived its association resolves to nothing instead of freed memory. */
static void *slot_cookie(uint32_t idx, uint32_t gen)
{
    return (void *)(uintptr_t)(((uint64_t)gen << 32) | (uint64_t)(idx + 1));
}

static zdc_sctp *slot_lookup(void *cookie)
{
    uint64_t v = (uint64_t)(uintptr_t)cookie;
    uint32_t idx = (uint32_t)(v & 0xffffffffu);
    if (idx == 0 || idx > G.nslots)
        return NULL;
    struct slot *sl = &G.slots[idx - 1];
    return sl->gen == (uint32_t)(v >> 32) ? sl->s : NULL;
}

static int slot_alloc(zdc_sctp *s)
{
    uint32_t i;
    for (i = 0; i < G.nslots; i++)
        if (G.slots[i].s == NULL)
            break;
    if (i == G.nslots) {
        uint32_t n = G.nslots ? G.nslots * 2 : 16;
        struct slot *ns = realloc(G.slots, n * sizeof *ns);
        if (ns == NULL)
            return ZDC_ERR_NOMEM;
        memset(ns + G.nslots, 0, (n - G.nslots) * sizeof *ns);
        G.slots = ns;
        G.nslots = n;
    }
    G.slots[i].s = s;
    G.slots[i].gen++;
    s->slot = i;
    s->cookie = slot_cookie(i, G.slots[i].gen);
    return 0;
}

static void dirty_add(zdc_sctp *s)
{
    if (s->dirty)
        return;
    s->dirty = true;
    s->dirty_next = NULL;
    s->dirty_prev = G.dirty_tail;
    if (G.dirty_tail)
        G.dirty_tail->dirty_next = s;
    else
        G.dirty_head = s;
    G.dirty_tail = s;
}

static void dirty_remove(zdc_sctp *s)
{
    if (!s->dirty)
        return;
    if (s->dirty_prev)
        s->dirty_prev->dirty_next = s->dirty_next;
    else
        G.dirty_head = s->dirty_next;
    if (s->dirty_next)
        s->dirty_next->dirty_prev = s->dirty_prev;
    else
        G.dirty_tail = s->dirty_prev;
    s->dirty = false;
    s->dirty_prev = s->dirty_next = NULL;
}

/* Counts the DATA and I-DATA chunks of an outgoing packet whose TSN was sent before (RFC 9260
 * §3.3.1, RFC 8260 §2.1: the TSN follows the 4-byte chunk header; TSNs compare by serial number
 * arithmetic, RFC 1982). Reads only: the packet is usrsctp's, checksum included. */
static void count_retransmissions(zdc_sctp *s, const uint8_t *p, size_t len)
{
    size_t off = 12; /* common header */
    while (off < len && len - off >= 4) {
        uint8_t type = p[off];
        size_t clen = (size_t)p[off + 2] << 8 | p[off + 3];
        if (clen < 4 || clen > len - off)
            return;
        if ((type == 0 || type == 64) && clen >= 8) {
            uint32_t tsn = (uint32_t)p[off + 4] << 24 | (uint32_t)p[off + 5] << 16 |
                           (uint32_t)p[off + 6] << 8 | p[off + 7];
            if (!s->tsn_seen || (int32_t)(tsn - s->tsn_high) > 0) {
                s->tsn_high = tsn;
                s->tsn_seen = true;
            } else {
                s->stats.retransmissions++;
            }
        }
        off += (clen + 3) & ~(size_t)3;
    }
}

/* usrsctp → wire. Called from inside usrsctp on this thread. */
static int conn_output(void *addr, void *buf, size_t len, uint8_t tos, uint8_t set_df)
{
    (void)tos;
    (void)set_df;
    zdc_sctp *s = slot_lookup(addr);
    if (s == NULL || s->state == ST_CLOSED)
        return 0; /* association gone: the packet is dropped like on the wire */
    s->stats.packets_out++;
    s->stats.bytes_out += len;
    if (len > s->stats.max_packet_out)
        s->stats.max_packet_out = len;
    if (len > 12)
        count_retransmissions(s, buf, len);
    return s->cfg.cb.send(s->cfg.user, buf, len) < 0 ? -1 : 0;
}

/* Socket upcall: runs inside usrsctp with its locks held, so it only records the event. */
static void sock_upcall(struct socket *so, void *arg, int flags)
{
    (void)so;
    (void)flags;
    zdc_sctp *s = slot_lookup(arg);
    if (s != NULL && s->state != ST_CLOSED)
        dirty_add(s);
}

/* Stack-wide settings, chosen for WebRTC data channels over DTLS. */
static void global_configure(void)
{
    /* RFC 8831 §6.1: PR-SCTP (RFC 3758) and stream reconfiguration (RFC 6525) are required. */
    usrsctp_sysctl_set_sctp_pr_enable(1);
    usrsctp_sysctl_set_sctp_reconfig_enable(1);
    /* Not used by WebRTC peers: ECN has no access to the IP header under DTLS/UDP; AUTH is
     * redundant under DTLS, ASCONF needs AUTH and multihoming; NR-SACK and PKTDROP are
     * FreeBSD-only extensions browsers do not negotiate. */
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_asconf_enable(0);
    usrsctp_sysctl_set_sctp_auth_enable(0);
    usrsctp_sysctl_set_sctp_nrsack_enable(0);
    usrsctp_sysctl_set_sctp_pktdrop_enable(0);
    /* Out-of-the-blue packets get no ABORT — a deliberate departure from the SHOULD in RFC
     * 9260 §8.4 item 8: under DTLS the only sender is the authenticated peer, an OOTB packet
     * from it means an association already ended (or not yet started, which
     * zdc_sctp_handle_packet avoids by connecting first), and answering only adds an ABORT
     * exchange during teardown. */
    usrsctp_sysctl_set_sctp_blackhole(2);
    /* Timers. RFC 9260 §16 defaults (RTO.Initial 1 s, RTO.Min 1 s, RTO.Max 60 s) are meant for
     * the open Internet with no other liveness signal; data channels run under ICE consent
     * freshness (RFC 7675), so recover faster: min 200 ms (like Linux TCP), initial 1 s (RFC
     * 6298), max 10 s so that a stalled path is retried promptly once it returns. */
    usrsctp_sysctl_set_sctp_rto_initial_default(1000);
    usrsctp_sysctl_set_sctp_rto_min_default(200);
    usrsctp_sysctl_set_sctp_rto_max_default(10000);
    usrsctp_sysctl_set_sctp_init_rto_max_default(10000);
    /* Delayed SACK 200 ms → 20 ms: with small windows a long delay starves the sender. */
    usrsctp_sysctl_set_sctp_delayed_sack_time_default(20);
    /* Heartbeats: ICE consent already probes the path every ~5 s; 10 s HBs are enough. */
    usrsctp_sysctl_set_sctp_heartbeat_interval_default(10000);
    /* The default 512 queued chunks would cap the send queue at ~600 KB of 1200-byte
     * packets, below the send buffer; allow the whole buffer in full-size chunks. */
    usrsctp_sysctl_set_sctp_max_chunks_on_queue(8192);
    /* RFC 6928-style initial window of 10 packets instead of 3-4. */
    usrsctp_sysctl_set_sctp_initial_cwnd(10);
    /* Let the sender request an immediate SACK (RFC 7053) on the last fragment. */
    usrsctp_sysctl_set_sctp_enable_sack_immediately(1);
    /* CRC32c (RFC 9260 §6.8) stays computed and verified: browsers check it, so no
     * usrsctp_enable_crc32c_offload() and no_csum_on_loopback does not apply to AF_CONN. */
}

static int global_ref(void)
{
    int rv = 0;
    pthread_mutex_lock(&G.mu);
    if (G.finished) {
        rv = ZDC_ERR_INVALID_STATE;
    } else {
        if (!G.inited) {
            /* Port 0: no UDP encapsulation socket. */
            usrsctp_init_nothreads(0, conn_output, NULL);
            global_configure();
            G.inited = true;
        }
        G.refs++;
        G.idle_ticks = 0;
    }
    pthread_mutex_unlock(&G.mu);
    return rv;
}

static void global_unref(void)
{
    pthread_mutex_lock(&G.mu);
    G.refs--;
    G.idle_ticks = 0;
    pthread_mutex_unlock(&G.mu);
}

unsigned zdc_sctp_global_refs(void)
{
    pthread_mutex_lock(&G.mu);
    unsigned r = G.refs;
    pthread_mutex_unlock(&G.mu);
    return r;
}

/* ---- socket setup --------------------------------------------------------------------- */

static int setopt(struct socket *so, int level, int name, const void *v, socklen_t len)
{
    return usrsctp_setsockopt(so, level, name, v, len) == 0 ? 0 : ZDC_ERR_IO;
}

static int sock_configure(zdc_sctp *s)
{
    struct socket *so = s->sock;
    const zdc_sctp_config *c = &s->cfg;
    int rv = 0;
    int on = 1;

    if (usrsctp_set_non_blocking(so, 1) != 0)
        return ZDC_ERR_IO;
    /* Abort on close: the association is gone at once and nothing lingers. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    rv |= setopt(so, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    int sb = (int)c->sndbuf, rb = (int)c->rcvbuf;
    rv |= setopt(so, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
    rv |= setopt(so, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    /* Messages go out as soon as they are queued (no Nagle): latency matters for games. */
    rv |= setopt(so, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on);
    /* No SCTP_EXPLICIT_EOR: every usrsctp_sendv carries one whole message, which lets a
     * non-blocking send be all-or-nothing (EWOULDBLOCK) instead of a partial write. */
    rv |= setopt(so, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on);
    /* One partially delivered message at a time (no interleaving across streams). */
    int zero = 0;
    rv |= setopt(so, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &zero, sizeof zero);

    struct sctp_assoc_value av = {.assoc_id = SCTP_FUTURE_ASSOC,
                                  .assoc_value = SCTP_ENABLE_RESET_STREAM_REQ};
    rv |= setopt(so, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, sizeof av);

    static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT,
                                      SCTP_SENDER_DRY_EVENT, SCTP_PARTIAL_DELIVERY_EVENT};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        struct sctp_event ev = {.se_assoc_id = SCTP_FUTURE_ASSOC, .se_type = events[i], .se_on = 1};
        rv |= setopt(so, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev);
    }

    struct sctp_initmsg im = {.sinit_num_ostreams = c->streams, .sinit_max_instreams = c->streams};
    rv |= setopt(so, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof im);

    /* Fixed path MTU, no PMTUD: usrsctp does not implement RFC 4821 probing and ICMP never
     * reaches an SCTP stack under DTLS. */
    struct sctp_paddrparams pp;
    memset(&pp, 0, sizeof pp);
    pp.spp_assoc_id = SCTP_FUTURE_ASSOC;
    pp.spp_flags = SPP_PMTUD_DISABLE;
    pp.spp_pathmtu = c->mtu - AF_CONN_MTU_SLACK;
    rv |= setopt(so, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof pp);
    if (c->rto_initial_ms || c->rto_min_ms || c->rto_max_ms) {
        /* 0 fields keep the current value (RFC 6458 §8.1.1). */
        struct sctp_rtoinfo ri = {.srto_assoc_id = SCTP_FUTURE_ASSOC,
                                  .srto_initial = c->rto_initial_ms,
                                  .srto_min = c->rto_min_ms,
                                  .srto_max = c->rto_max_ms};
        rv |= setopt(so, IPPROTO_SCTP, SCTP_RTOINFO, &ri, sizeof ri);
    }
    if (c->max_retransmits) {
        struct sctp_assocparams ap;
        memset(&ap, 0, sizeof ap);
        ap.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
        ap.sasoc_asocmaxrxt = c->max_retransmits;
        rv |= setopt(so, IPPROTO_SCTP, SCTP_ASSOCINFO, &ap, sizeof ap);
    }
    return rv == 0 ? 0 : ZDC_ERR_IO;
}

static void sconn(struct sockaddr_conn *a, void *cookie, uint16_t port)
{
    memset(a, 0, sizeof *a);
    a->sconn_family = AF_CONN;
    a->sconn_port = htons(port);
    a->sconn_addr = cookie;
}

void zdc_sctp_config_default(zdc_sctp_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->local_port = ZDC_SCTP_DEFAULT_PORT;
    cfg->remote_port = ZDC_SCTP_DEFAULT_PORT;
    cfg->streams = ZDC_SCTP_DEFAULT_STREAMS;
    cfg->mtu = ZDC_SCTP_DEFAULT_MTU;
    cfg->max_message_size = ZDC_SCTP_DEFAULT_MAX_MESSAGE;
    cfg->max_send_size = ZDC_SCTP_DEFAULT_MAX_MESSAGE;
    cfg->sndbuf = ZDC_SCTP_DEFAULT_SNDBUF;
    cfg->rcvbuf = ZDC_SCTP_DEFAULT_RCVBUF;
    /* native by default; ZDC_SCTP=usrsctp keeps the former implementation selectable */
    const char *impl = getenv("ZDC_SCTP");
    cfg->native = impl == NULL || strcmp(impl, "usrsctp") != 0;
}

static bool config_valid(const zdc_sctp_config *c)
{
    return c->cb.send != NULL && c->local_port != 0 && c->remote_port != 0 && c->streams != 0 &&
           c->mtu >= 576 && c->mtu <= 65535 && c->max_message_size >= 1 &&
           c->max_message_size <= (1u << 30) && c->max_send_size >= 1 &&
           c->max_send_size <= c->sndbuf && c->rcvbuf >= 65536 && c->sndbuf <= (1u << 30) &&
           c->rcvbuf <= (1u << 30) &&
           (c->rto_min_ms == 0 || c->rto_max_ms == 0 || c->rto_min_ms <= c->rto_max_ms);
}

/* Releases the socket and the address; no callback can reach `s` afterwards. */
static void sock_release(zdc_sctp *s)
{
    if (s->sock != NULL) {
        usrsctp_set_upcall(s->sock, NULL, NULL);
        usrsctp_close(s->sock);
        s->sock = NULL;
    }
    if (s->cookie != NULL) {
        usrsctp_deregister_address(s->cookie);
        G.slots[s->slot].s = NULL;
        s->cookie = NULL;
    }
    dirty_remove(s);
}

int zdc_sctp_new(const zdc_sctp_config *cfg, zdc_sctp **out)
{
    if (cfg == NULL || out == NULL || !config_valid(cfg))
        return ZDC_ERR_INVALID_PARAMETER;
    *out = NULL;
    zdc_sctp *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ZDC_ERR_NOMEM;
    s->cfg = *cfg;
    if (cfg->native) {
        int nrv = zdc_sctp_nat_new(cfg, &s->nat);
        if (nrv != 0) {
            free(s);
            return nrv;
        }
        *out = s;
        return 0;
    }
    int rv = global_ref();
    if (rv != 0)
        goto fail_ref;
    rv = slot_alloc(s);
    if (rv != 0)
        goto fail_slot;
    usrsctp_register_address(s->cookie);

    rv = ZDC_ERR_IO;
    s->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (s->sock == NULL)
        goto fail_sock;
    rv = sock_configure(s);
    if (rv != 0)
        goto fail_sock;
    struct sockaddr_conn a;
    sconn(&a, s->cookie, cfg->local_port);
    if (usrsctp_bind(s->sock, (struct sockaddr *)&a, sizeof a) != 0) {
        rv = errno == EADDRINUSE ? ZDC_ERR_ADDR_IN_USE : ZDC_ERR_IO;
        goto fail_sock;
    }
    usrsctp_set_upcall(s->sock, sock_upcall, s->cookie);
    s->state = ST_NEW;
    *out = s;
    return 0;

fail_sock:
    sock_release(s);
fail_slot:
    global_unref();
fail_ref:
    free(s);
    return rv;
}

int zdc_sctp_connect(zdc_sctp *s)
{
    if (s != NULL && s->nat)
        return zdc_sctp_nat_connect(s->nat);
    if (s == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    if (s->state == ST_CLOSED)
        return ZDC_ERR_CLOSED;
    if (s->state != ST_NEW)
        return ZDC_ERR_INVALID_STATE;
    struct sockaddr_conn a;
    sconn(&a, s->cookie, s->cfg.remote_port);
    if (usrsctp_connect(s->sock, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
        return ZDC_ERR_IO;
    s->state = ST_CONNECTING;
    return 0;
}

/* ---- receive path --------------------------------------------------------------------- */

static void destroy(zdc_sctp *s)
{
    sock_release(s);
    free(s->rbuf);
    free(s->resets);
    free(s);
    global_unref();
}

static bool gone(const zdc_sctp *s)
{
    return s->state == ST_CLOSED || s->free_pending;
}

static void go_down(zdc_sctp *s, int reason)
{
    if (s->state == ST_DOWN || s->state == ST_CLOSED)
        return;
    s->state = ST_DOWN;
    if (s->cfg.cb.on_down)
        s->cfg.cb.on_down(s->cfg.user, reason);
}

static void flush_resets(zdc_sctp *s);

/* RFC 9260 §3.3.10 error causes (and RFC 6525's, RFC 9260 numbering). */
const char *zdc_sctp_cause_name(uint16_t code)
{
    static const char *const names[] = {
        "none",
        "invalid stream identifier",
        "missing mandatory parameter",
        "stale cookie",
        "out of resource",
        "unresolvable address",
        "unrecognized chunk type",
        "invalid mandatory parameter",
        "unrecognized parameters",
        "no user data",
        "cookie received while shutting down",
        "restart of an association with new addresses",
        "user-initiated abort",
        "protocol violation",
    };
    return code < sizeof names / sizeof names[0] ? names[code] : "unknown cause";
}

/* Logs why the association ended: an ABORT chunk in the notification's sac_info (usrsctp
 * copies the one received) with its causes (RFC 9260 §3.3.7), else a local failure. */
static void log_assoc_end(zdc_sctp *s, const struct sctp_assoc_change *ac, const uint8_t *p,
                          size_t len)
{
    const char *what = ac->sac_state == SCTP_CANT_STR_ASSOC ? "could not start" : "ended";
    if (!zdc_log_enabled(s->cfg.log, ZDC_LOG_ERROR, ZDC_LOG_SCTP))
        return;
    size_t total = ac->sac_length < len ? ac->sac_length : len;
    size_t hdr = offsetof(struct sctp_assoc_change, sac_info);
    const uint8_t *chunk = p + hdr;
    size_t clen = total > hdr ? total - hdr : 0;
    if (clen < 4 || chunk[0] != 6 /* ABORT */) {
        zdc_log_emit(
            s->cfg.log, ZDC_LOG_ERROR, ZDC_LOG_SCTP, "SCTP association %s: %s (error %u)", what,
            ac->sac_state == SCTP_CANT_STR_ASSOC ? "the INIT/COOKIE exchange got no answer"
                                                 : "retransmissions exhausted or a local abort",
            (unsigned)ac->sac_error);
        return;
    }
    char causes[256] = "";
    size_t used = 0;
    uint16_t chunk_len = (uint16_t)(chunk[2] << 8 | chunk[3]);
    size_t end = chunk_len < clen ? chunk_len : clen;
    for (size_t off = 4; end - off >= 4 && used < sizeof causes - 1;) {
        uint16_t code = (uint16_t)(chunk[off] << 8 | chunk[off + 1]);
        uint16_t cl = (uint16_t)(chunk[off + 2] << 8 | chunk[off + 3]);
        if (cl < 4 || cl > end - off)
            break;
        /* User-initiated abort and protocol violation carry text: show its printable part. */
        char info[65] = "";
        size_t n = 0;
        if (code == 12 || code == 13)
            for (size_t k = 4; k < cl && n < sizeof info - 1; k++) {
                uint8_t c = chunk[off + k];
                info[n++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
            }
        info[n] = '\0';
        int w = snprintf(causes + used, sizeof causes - used, "%scause %u (%s%s%s%s)",
                         used ? ", " : "", (unsigned)code, zdc_sctp_cause_name(code),
                         n ? ": \"" : "", info, n ? "\"" : "");
        if (w < 0)
            break;
        used += (size_t)w < sizeof causes - used ? (size_t)w : sizeof causes - 1 - used;
        off += (cl + 3u) & ~3u;
        if (off > end)
            break;
    }
    /* A peer that closes its connection aborts with "user-initiated abort" (browsers do): the
     * end of the connection, not a failure. */
    bool user_abort = clen >= 8 && chunk[4] == 0 && chunk[5] == 12;
    ZDC_LOG(s->cfg.log, user_abort ? ZDC_LOG_WARN : ZDC_LOG_ERROR, ZDC_LOG_SCTP,
            "SCTP association %s: ABORT received, %s", what, used ? causes : "no cause");
}

static void on_notification(zdc_sctp *s, const uint8_t *p, size_t len)
{
    union sctp_notification n;
    if (len < sizeof n.sn_header)
        return;
    memset(&n, 0, sizeof n);
    memcpy(&n, p, len < sizeof n ? len : sizeof n);
    switch (n.sn_header.sn_type) {
    case SCTP_ASSOC_CHANGE:
        switch (n.sn_assoc_change.sac_state) {
        case SCTP_COMM_UP:
            if (s->state != ST_CONNECTING && s->state != ST_NEW)
                break;
            s->state = ST_UP;
            s->in_streams = n.sn_assoc_change.sac_inbound_streams;
            s->out_streams = n.sn_assoc_change.sac_outbound_streams;
            ZDC_LOG_I(s->cfg.log, ZDC_LOG_SCTP, "SCTP association up: %u in, %u out streams",
                      (unsigned)s->in_streams, (unsigned)s->out_streams);
            if (s->cfg.cb.on_up)
                s->cfg.cb.on_up(s->cfg.user, s->in_streams, s->out_streams);
            break;
        case SCTP_COMM_LOST:
            if (s->state != ST_DOWN && s->state != ST_CLOSED)
                log_assoc_end(s, &n.sn_assoc_change, p, len);
            go_down(s, ZDC_SCTP_DOWN_ABORTED);
            break;
        case SCTP_SHUTDOWN_COMP:
            if (s->state != ST_DOWN && s->state != ST_CLOSED)
                ZDC_LOG_I(s->cfg.log, ZDC_LOG_SCTP, "SCTP association shut down by the peer");
            go_down(s, ZDC_SCTP_DOWN_SHUTDOWN);
            break;
        case SCTP_CANT_STR_ASSOC:
            if (s->state != ST_DOWN && s->state != ST_CLOSED)
                log_assoc_end(s, &n.sn_assoc_change, p, len);
            go_down(s, ZDC_SCTP_DOWN_CANT_START);
            break;
        default: /* SCTP_RESTART: WebRTC peers never restart; the association stays up. */
            break;
        }
        break;
    case SCTP_STREAM_RESET_EVENT: {
        uint16_t fl = n.sn_strreset_event.strreset_flags;
        size_t hdr = sizeof(struct sctp_stream_reset_event);
        size_t total = n.sn_strreset_event.strreset_length;
        if (total > len)
            total = len;
        size_t count = total > hdr ? (total - hdr) / 2 : 0;
        if ((fl & SCTP_STREAM_RESET_INCOMING_SSN) &&
            !(fl & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED))) {
            for (size_t i = 0; i < count && !gone(s); i++) {
                uint16_t sid;
                memcpy(&sid, p + hdr + 2 * i, 2);
                if (s->cfg.cb.on_stream_reset)
                    s->cfg.cb.on_stream_reset(s->cfg.user, sid);
            }
        }
        if (fl & SCTP_STREAM_RESET_OUTGOING_SSN && !gone(s))
            flush_resets(s); /* ours completed (or failed): the next may go */
        break;
    }
    case SCTP_PARTIAL_DELIVERY_EVENT:
        /* The sender abandoned (PR-SCTP) a message we were reassembling: drop the part. */
        if (n.sn_pdapi_event.pdapi_indication == SCTP_PARTIAL_DELIVERY_ABORTED) {
            s->rlen = 0;
            s->discard = false;
        }
        break;
    default: /* SCTP_SENDER_DRY_EVENT: the buffered-amount check after the loop reports it. */
        break;
    }
}

static void shrink_rbuf(zdc_sctp *s)
{
    if (s->rcap > RECV_KEEP) {
        free(s->rbuf);
        s->rbuf = NULL;
        s->rcap = 0;
    }
}

/* Makes room for RECV_CHUNK more bytes, or a whole stream reset event if larger. Returns false on
 * allocation failure. */
static bool grow_rbuf(zdc_sctp *s)
{
    size_t need = sizeof(struct sctp_stream_reset_event) + 2u * s->cfg.streams;
    if (need < RECV_CHUNK)
        need = RECV_CHUNK;
    if (s->rcap - s->rlen >= need)
        return true;
    size_t n = s->rcap ? s->rcap * 2 : RECV_CHUNK;
    while (n - s->rlen < need)
        n *= 2;
    uint8_t *b = realloc(s->rbuf, n);
    if (b == NULL)
        return false;
    s->rbuf = b;
    s->rcap = n;
    return true;
}

/* Handles one usrsctp_recvv result of `n` bytes read to rbuf + rlen. */
static void on_read(zdc_sctp *s, size_t n, int flags, const struct sctp_rcvinfo *ri, bool has_ri)
{
    if (flags & MSG_NOTIFICATION) {
        /* Notifications fit whole in the free space grow_rbuf() keeps (a stream reset event
         * lists at most `streams` ids), so a partial one cannot occur; it would be ignored. */
        if (flags & MSG_EOR)
            on_notification(s, s->rbuf + s->rlen, n);
        return;
    }
    s->rlen += n;
    if (!s->discard && s->rlen > s->cfg.max_message_size) {
        /* RFC 8831 §6.6: messages above the advertised limit are not accepted. */
        s->discard = true;
        s->stats.messages_too_large++;
        if (s->cfg.cb.on_message_too_large && has_ri)
            s->cfg.cb.on_message_too_large(s->cfg.user, ri->rcv_sid, ntohl(ri->rcv_ppid));
    }
    if (s->discard)
        s->rlen = 0;
    if (!(flags & MSG_EOR) || gone(s))
        return;
    size_t len = s->rlen;
    bool discarded = s->discard;
    s->rlen = 0;
    s->discard = false;
    if (discarded || !has_ri)
        return;
    s->stats.messages_in++;
    unsigned f = (ri->rcv_flags & SCTP_UNORDERED) ? ZDC_SCTP_MSG_UNORDERED : 0;
    if (s->cfg.cb.on_message)
        s->cfg.cb.on_message(s->cfg.user, ri->rcv_sid, ntohl(ri->rcv_ppid), s->rbuf, len, f);
    if (!s->free_pending)
        shrink_rbuf(s);
}

static size_t query_buffered(zdc_sctp *s)
{
    struct zdc_sctp_sockstat st;
    socklen_t len = sizeof st;
    memset(&st, 0, sizeof st);
    st.ss_assoc_id = SCTP_FUTURE_ASSOC;
    if (s->sock == NULL ||
        usrsctp_getsockopt(s->sock, IPPROTO_SCTP, SCTP_GET_SNDBUF_USE, &st, &len) != 0)
        return 0;
    return st.ss_total_sndbuf;
}

/* Reads everything the socket has and raises callbacks. Never nests for one association. */
static void dispatch(zdc_sctp *s)
{
    if (s->in_dispatch)
        return;
    s->in_dispatch = true;
    while (!gone(s) && s->sock != NULL && !s->rx_paused) {
        if (!grow_rbuf(s))
            break; /* retried at the next packet or tick */
        struct sctp_rcvinfo ri;
        socklen_t rilen = sizeof ri;
        unsigned int infotype = 0;
        int flags = 0;
        memset(&ri, 0, sizeof ri);
        ssize_t n = usrsctp_recvv(s->sock, s->rbuf + s->rlen, s->rcap - s->rlen, NULL, NULL, &ri,
                                  &rilen, &infotype, &flags);
        if (n < 0)
            break; /* EWOULDBLOCK, or the association is gone (its notification came first) */
        if (n == 0 && flags == 0)
            break; /* end of stream after SHUTDOWN/ABORT */
        on_read(s, (size_t)n, flags, &ri, infotype == SCTP_RECVV_RCVINFO);
    }
    if (!gone(s) && s->state == ST_UP) {
        flush_resets(s);
        size_t b = query_buffered(s);
        if (b < s->last_buffered && s->cfg.cb.on_buffered_amount) {
            s->last_buffered = b;
            s->cfg.cb.on_buffered_amount(s->cfg.user, b);
        } else {
            s->last_buffered = b;
        }
    }
    s->in_dispatch = false;
    if (s->free_pending)
        destroy(s);
}

static void drain_dirty(void)
{
    zdc_sctp *s;
    while ((s = G.dirty_head) != NULL) {
        dirty_remove(s);
        dispatch(s);
    }
}

int zdc_sctp_handle_packet(zdc_sctp *s, const uint8_t *p, size_t len)
{
    if (s != NULL && s->nat)
        return zdc_sctp_nat_handle_packet(s->nat, p, len);
    if (s == NULL || p == NULL || len == 0)
        return ZDC_ERR_INVALID_PARAMETER;
    if (s->state == ST_CLOSED || s->free_pending)
        return ZDC_ERR_CLOSED;
    /* The peer's INIT can arrive before our own connect (its DTLS finished first). A bound,
     * unconnected one-to-one socket would drop it and the peer would wait a full RTO to
     * retry, so join the simultaneous open now (RFC 9260 §5.2.1 handles INIT collision). */
    if (s->state == ST_NEW) {
        int rv = zdc_sctp_connect(s);
        if (rv != 0)
            return rv;
    }
    s->stats.packets_in++;
    s->stats.bytes_in += len;
    usrsctp_conninput(s->cookie, p, len, 0);
    dirty_add(s);
    drain_dirty();
    return 0;
}

void zdc_sctp_pause_receive(zdc_sctp *s, bool paused)
{
    if (s != NULL && s->nat) {
        zdc_sctp_nat_pause_receive(s->nat, paused);
        return;
    }
    if (s == NULL || s->rx_paused == paused)
        return;
    s->rx_paused = paused;
    if (paused || gone(s))
        return;
    /* What waited in the receive buffer raised no new upcall: read it now. Reading it lets
     * usrsctp open its window again (a window update SACK leaves through `send`). */
    dirty_add(s);
    if (!s->in_dispatch)
        drain_dirty();
}

/* ---- send path ------------------------------------------------------------------------ */

int zdc_sctp_send(zdc_sctp *s, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len,
                  const zdc_sctp_send_opts *opts)
{
    if (s != NULL && s->nat)
        return zdc_sctp_nat_send(s->nat, stream, ppid, data, len, opts);
    if (s == NULL || len == 0 || data == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    if (gone(s))
        return ZDC_ERR_CLOSED;
    if (s->state != ST_UP)
        return ZDC_ERR_INVALID_STATE;
    if (stream >= s->out_streams)
        return ZDC_ERR_INVALID_PARAMETER;
    if (len > s->cfg.max_send_size)
        return ZDC_ERR_TOO_LARGE;

    struct sctp_sendv_spa spa;
    memset(&spa, 0, sizeof spa);
    spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
    spa.sendv_sndinfo.snd_sid = stream;
    spa.sendv_sndinfo.snd_ppid = htonl(ppid);
    /* One sendv = one whole message (no SCTP_EXPLICIT_EOR), so no SCTP_EOR flag. */
    if (opts != NULL) {
        if (opts->unordered)
            spa.sendv_sndinfo.snd_flags |= SCTP_UNORDERED;
        switch (opts->pr_policy) {
        case ZDC_SCTP_PR_NONE:
            break;
        case ZDC_SCTP_PR_RTX:
            spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_RTX;
            break;
        case ZDC_SCTP_PR_TTL:
            spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_TTL;
            break;
        default:
            return ZDC_ERR_INVALID_PARAMETER;
        }
        if (opts->pr_policy != ZDC_SCTP_PR_NONE) {
            spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
            spa.sendv_prinfo.pr_value = opts->pr_value;
        }
    }
    ssize_t n = usrsctp_sendv(s->sock, data, len, NULL, 0, &spa, sizeof spa, SCTP_SENDV_SPA, 0);
    if (n < 0) {
        switch (errno) {
        case EWOULDBLOCK:
            return ZDC_ERR_AGAIN;
        case EMSGSIZE:
            return ZDC_ERR_TOO_LARGE;
        case ENOMEM:
        case ENOBUFS:
            return ZDC_ERR_NOMEM;
        default:
            return ZDC_ERR_IO;
        }
    }
    if ((size_t)n != len)
        return ZDC_ERR_IO; /* cannot happen without SCTP_EXPLICIT_EOR; never hide it */
    s->stats.messages_out++;
    s->last_buffered = query_buffered(s);
    return 0;
}

size_t zdc_sctp_buffered_amount(zdc_sctp *s)
{
    if (s != NULL && s->nat)
        return zdc_sctp_nat_buffered_amount(s->nat);
    if (s == NULL || gone(s))
        return 0;
    return query_buffered(s);
}

/* Sends queued outgoing resets, one request for all of them (RFC 6525 §4.1 lists streams). */
static void flush_resets(zdc_sctp *s)
{
    if (s->nresets == 0 || s->state != ST_UP)
        return;
    size_t n = s->nresets;
    size_t sz = sizeof(struct sctp_reset_streams) + n * sizeof(uint16_t);
    struct sctp_reset_streams *rs = malloc(sz);
    if (rs == NULL)
        return;
    rs->srs_assoc_id = SCTP_ALL_ASSOC;
    rs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    rs->srs_number_streams = (uint16_t)n;
    memcpy(rs->srs_stream_list, s->resets, n * sizeof(uint16_t));
    int r = usrsctp_setsockopt(s->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, rs, (socklen_t)sz);
    free(rs);
    if (r == 0)
        s->nresets = 0; /* else a request is in flight (EALREADY/EBUSY): retry on its event */
}

int zdc_sctp_reset_stream(zdc_sctp *s, uint16_t stream)
{
    if (s != NULL && s->nat)
        return zdc_sctp_nat_reset_stream(s->nat, stream);
    if (s == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    if (gone(s))
        return ZDC_ERR_CLOSED;
    if (s->state != ST_UP)
        return ZDC_ERR_INVALID_STATE;
    if (stream >= s->out_streams)
        return ZDC_ERR_INVALID_PARAMETER;
    for (size_t i = 0; i < s->nresets; i++)
        if (s->resets[i] == stream)
            return 0;
    if (s->nresets == s->capresets) {
        size_t n = s->capresets ? s->capresets * 2 : 8;
        uint16_t *r = realloc(s->resets, n * sizeof *r);
        if (r == NULL)
            return ZDC_ERR_NOMEM;
        s->resets = r;
        s->capresets = n;
    }
    s->resets[s->nresets++] = stream;
    flush_resets(s);
    return 0;
}

/* ---- lifetime ------------------------------------------------------------------------- */

void zdc_sctp_close(zdc_sctp *s)
{
    if (s != NULL && s->nat) {
        zdc_sctp_nat_close(s->nat);
        return;
    }
    if (s == NULL || s->state == ST_CLOSED)
        return;
    /* The ABORT leaves through conn_output during usrsctp_close: mark closed only after. */
    sock_release(s);
    s->state = ST_CLOSED;
}

void zdc_sctp_free(zdc_sctp *s)
{
    if (s != NULL && s->nat) {
        zdc_sctp_nat_free(s->nat);
        free(s);
        return;
    }
    if (s == NULL || s->free_pending)
        return;
    zdc_sctp_close(s);
    if (s->in_dispatch) {
        s->free_pending = true; /* the running dispatch frees it when the callback returns */
        return;
    }
    destroy(s);
}

bool zdc_sctp_is_up(const zdc_sctp *s)
{
    if (s != NULL && s->nat)
        return zdc_sctp_nat_is_up(s->nat);
    return s != NULL && s->state == ST_UP;
}

uint16_t zdc_sctp_out_streams(const zdc_sctp *s)
{
    if (s != NULL && s->nat)
        return zdc_sctp_nat_out_streams(s->nat);
    return s ? s->out_streams : 0;
}

int zdc_sctp_set_max_send_size(zdc_sctp *s, size_t max_send_size)
{
    if (s != NULL && s->nat)
        return zdc_sctp_nat_set_max_send_size(s->nat, max_send_size);
    if (s == NULL || max_send_size == 0 || max_send_size > s->cfg.sndbuf)
        return ZDC_ERR_INVALID_PARAMETER;
    s->cfg.max_send_size = max_send_size;
    return 0;
}

void zdc_sctp_get_stats(const zdc_sctp *s, zdc_sctp_stats *st)
{
    if (s->nat) {
        zdc_sctp_nat_get_stats(s->nat, st);
        return;
    }
    *st = s->stats;
}

/* ---- per-association time (native) ---------------------------------------------------- */

bool zdc_sctp_is_native(const zdc_sctp *s)
{
    return s != NULL && s->nat != NULL;
}

void zdc_sctp_set_now(zdc_sctp *s, uint64_t now_ns)
{
    if (s != NULL && s->nat)
        zdc_sctp_nat_set_now(s->nat, now_ns);
}

uint64_t zdc_sctp_next_timeout(const zdc_sctp *s)
{
    return s != NULL && s->nat ? zdc_sctp_nat_next_timeout(s->nat) : UINT64_MAX;
}

void zdc_sctp_handle_timeout(zdc_sctp *s, uint64_t now_ns)
{
    if (s != NULL && s->nat)
        zdc_sctp_nat_handle_timeout(s->nat, now_ns);
}

void zdc_sctp_batch_begin(zdc_sctp *s)
{
    if (s != NULL && s->nat)
        zdc_sctp_nat_batch_begin(s->nat);
}

void zdc_sctp_batch_end(zdc_sctp *s)
{
    if (s != NULL && s->nat)
        zdc_sctp_nat_batch_end(s->nat);
}

static uint64_t abandoned(const zdc_sctp *s, uint16_t policy)
{
    struct sctp_prstatus pr;
    socklen_t len = sizeof pr;
    memset(&pr, 0, sizeof pr);
    pr.sprstat_policy = policy;
    if (usrsctp_getsockopt(s->sock, IPPROTO_SCTP, SCTP_PR_ASSOC_STATUS, &pr, &len) != 0)
        return 0;
    return pr.sprstat_abandoned_sent + pr.sprstat_abandoned_unsent;
}

void zdc_sctp_get_status(const zdc_sctp *s, zdc_sctp_status *st)
{
    memset(st, 0, sizeof *st);
    if (s != NULL && s->nat) {
        zdc_sctp_nat_get_status(s->nat, st);
        return;
    }
    if (s == NULL || s->state != ST_UP || s->sock == NULL)
        return;
    struct sctp_status ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (usrsctp_getsockopt(s->sock, IPPROTO_SCTP, SCTP_STATUS, &ss, &len) != 0)
        return;
    st->up = true;
    st->cwnd = ss.sstat_primary.spinfo_cwnd;
    st->peer_rwnd = ss.sstat_rwnd;
    st->srtt_ms = ss.sstat_primary.spinfo_srtt;
    st->rto_ms = ss.sstat_primary.spinfo_rto;
    st->mtu = ss.sstat_primary.spinfo_mtu;
    st->unacked = ss.sstat_unackdata;
    struct zdc_sctp_sockstat sb;
    len = sizeof sb;
    memset(&sb, 0, sizeof sb);
    sb.ss_assoc_id = SCTP_FUTURE_ASSOC;
    if (usrsctp_getsockopt(s->sock, IPPROTO_SCTP, SCTP_GET_SNDBUF_USE, &sb, &len) == 0)
        st->sndbuf_bytes = sb.ss_total_sndbuf;
    /* the policies zdc sends with (zdc_sctp_send_opts) */
    st->abandoned = abandoned(s, SCTP_PR_SCTP_TTL) + abandoned(s, SCTP_PR_SCTP_RTX);
}

/* ---- global timers -------------------------------------------------------------------- */

static bool tick_needed(void)
{
    return G.inited && !G.finished && (G.refs > 0 || G.idle_ticks < IDLE_TICKS);
}

void zdc_sctp_global_tick(uint64_t now_ns)
{
    if (!G.inited || G.finished)
        return;
    if (!G.have_tick || now_ns < G.last_tick_ns) {
        G.have_tick = true;
        G.last_tick_ns = now_ns;
        return;
    }
    uint64_t ms = (now_ns - G.last_tick_ns) / 1000000u;
    if (ms == 0)
        return;
    G.last_tick_ns += ms * 1000000u;
    if (ms > UINT32_MAX)
        ms = UINT32_MAX;
    usrsctp_handle_timers((uint32_t)ms);
    if (G.refs == 0 && G.idle_ticks < IDLE_TICKS)
        G.idle_ticks++;
    drain_dirty();
}

bool zdc_sctp_global_next_tick(uint64_t *deadline_ns)
{
    if (!tick_needed())
        return false;
    *deadline_ns = G.have_tick ? G.last_tick_ns + ZDC_SCTP_TICK_NS : 0;
    return true;
}

int zdc_sctp_global_shutdown(void)
{
    int rv = 0;
    pthread_mutex_lock(&G.mu);
    if (G.inited && !G.finished) {
        if (G.refs > 0 || usrsctp_finish() != 0) {
            rv = ZDC_ERR_AGAIN;
        } else {
            G.finished = true;
            free(G.slots);
            G.slots = NULL;
            G.nslots = 0;
        }
    }
    pthread_mutex_unlock(&G.mu);
    return rv;
}
