/* Adapter: the pc-facing SCTP interface (sctp.h) on zdc's own association (core/sctp).
 *
 * Time: sctp.h's calls carry no `now`; the peer connection hands it in with zdc_sctp_set_now()
 * whenever it runs (datagram, timeout, STUN), and calls between (an application's send) use
 * the last value — except that sends from outside such a call are queued (the association stays
 * corked) and put on the wire at the next call with the time, which on_wakeup asks for: a
 * retransmission timer is never started on a stale clock. Receive pause: messages that arrive while
 * paused wait here, in order, up to the receive buffer plus one message; beyond that the
 * association is aborted (visible) rather than anything dropped. (The native association's window
 * is not yet tied to this queue.) */
#include "sctp_native.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "sctp_assoc.h"
#include "sctp_wire.h"

typedef struct held {
    struct held *next;
    uint16_t stream;
    uint32_t ppid;
    unsigned flags;
    size_t len;
    uint8_t data[];
} held;

struct zdc_sctp_nat {
    zdc_sctp_config cfg;
    zdc_sctp_assoc *a;
    uint64_t now;
    bool up, down_raised, closed, paused, draining;
    bool in_call; /* inside a call that brought the time (packet, timeout) */
    bool abort_logged;
    bool flush_pending; /* an application's send waits for a call with the time */
    bool batch;         /* inside zdc_sctp_nat_batch_begin / _end */
    uint16_t in_streams, out_streams;
    held *hq, *hq_tail;
    size_t held_bytes;
    size_t last_buffered;
    zdc_sctp_stats stats;
};

/* TRACE: one line per packet, its chunks summarised (the data path; off costs a compare). */
static void trace_packet(const zdc_sctp_nat *n, const char *dir, const uint8_t *p, size_t len)
{
    if (!zdc_log_enabled(n->cfg.log, ZDC_LOG_TRACE, ZDC_LOG_SCTP))
        return;
    char line[512] = "";
    size_t used = 0;
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    if (zdc_sctp_packet_parse(p, len, ZDC_SCTP_CSUM_SKIP, &h, &it) != 0)
        return;
    while (used < sizeof line - 64 && zdc_sctp_chunk_next(&it, &raw) == 1) {
        zdc_sctp_chunk c;
        int w;
        if (zdc_sctp_chunk_parse(&raw, &c) != 0) {
            w = snprintf(line + used, sizeof line - used, " [type %u]", (unsigned)raw.type);
        } else if (c.type == ZDC_SCTP_DATA) {
            w = snprintf(line + used, sizeof line - used,
                         " [DATA tsn %u sid %u ssn %u ppid %u %zu B%s%s%s]", (unsigned)c.u.data.tsn,
                         (unsigned)c.u.data.stream, (unsigned)c.u.data.ssn, (unsigned)c.u.data.ppid,
                         c.u.data.len, (c.u.data.flags & ZDC_SCTP_DATA_B) ? " B" : "",
                         (c.u.data.flags & ZDC_SCTP_DATA_E) ? " E" : "",
                         (c.u.data.flags & ZDC_SCTP_DATA_U) ? " U" : "");
        } else if (c.type == ZDC_SCTP_SACK) {
            w = snprintf(line + used, sizeof line - used,
                         " [SACK cum %u a_rwnd %u gaps %u dups %u]", (unsigned)c.u.sack.cum_tsn,
                         (unsigned)c.u.sack.a_rwnd, (unsigned)c.u.sack.n_gaps,
                         (unsigned)c.u.sack.n_dups);
        } else if (c.type == ZDC_SCTP_RE_CONFIG) {
            const zdc_sctp_reconf_param *q = &c.u.reconfig.p[0];
            w = snprintf(line + used, sizeof line - used,
                         " [RE-CONFIG param %u seq %u last_tsn %u result %u streams %u%s]",
                         (unsigned)q->type, (unsigned)q->req_seq, (unsigned)q->last_tsn,
                         (unsigned)q->result, (unsigned)q->n_streams,
                         c.u.reconfig.n > 1 ? " +1" : "");
        } else if (c.type == ZDC_SCTP_FORWARD_TSN) {
            w = snprintf(line + used, sizeof line - used, " [FORWARD-TSN %u, %u streams]",
                         (unsigned)c.u.fwd_tsn.new_cum_tsn, (unsigned)c.u.fwd_tsn.n_streams);
        } else {
            w = snprintf(line + used, sizeof line - used, " [type %u]", (unsigned)c.type);
        }
        if (w < 0)
            break;
        used += (size_t)w < sizeof line - used ? (size_t)w : sizeof line - 1 - used;
    }
    ZDC_LOG_T(n->cfg.log, ZDC_LOG_SCTP, "SCTP %s %zu B:%s", dir, len, line);
}

/* INFO, once per handshake: what the peer's INIT or INIT ACK offers (docs/interop.md lists it
 * per stack): stream counts, window, Supported Extensions, Forward-TSN, Zero Checksum. */
static void log_peer_init(const zdc_sctp_nat *n, const uint8_t *p, size_t len)
{
    if (!zdc_log_enabled(n->cfg.log, ZDC_LOG_INFO, ZDC_LOG_SCTP))
        return;
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    zdc_sctp_chunk c;
    if (zdc_sctp_packet_parse(p, len, ZDC_SCTP_CSUM_SKIP, &h, &it) != 0 ||
        zdc_sctp_chunk_next(&it, &raw) != 1 ||
        (raw.type != ZDC_SCTP_INIT && raw.type != ZDC_SCTP_INIT_ACK) ||
        zdc_sctp_chunk_parse(&raw, &c) != 0)
        return;
    const zdc_sctp_init_chunk *i = &c.u.init;
    char ext[128] = "";
    size_t used = 0;
    for (size_t k = 0; k < i->ext_len && used < sizeof ext - 16; k++) {
        unsigned t = i->ext[k];
        const char *name = t == ZDC_SCTP_RE_CONFIG     ? "RE-CONFIG"
                           : t == ZDC_SCTP_FORWARD_TSN ? "FORWARD-TSN"
                           : t == ZDC_SCTP_I_DATA      ? "I-DATA"
                           : t == 0x80                 ? "ASCONF-ACK"
                           : t == 0xc1                 ? "ASCONF"
                           : t == 0x81                 ? "PKTDROP"
                           : t == 0x84                 ? "NR-SACK"
                           : t == 0x0f                 ? "AUTH"
                           : t == 0xc2                 ? "I-FORWARD-TSN"
                                                       : NULL;
        int w = name ? snprintf(ext + used, sizeof ext - used, "%s%s", used ? " " : "", name)
                     : snprintf(ext + used, sizeof ext - used, "%s0x%02x", used ? " " : "", t);
        if (w < 0)
            break;
        used += (size_t)w < sizeof ext - used ? (size_t)w : sizeof ext - 1 - used;
    }
    ZDC_LOG_I(n->cfg.log, ZDC_LOG_SCTP,
              "SCTP peer's %s: OS %u, MIS %u, a_rwnd %u, extensions [%s], Forward-TSN %s, Zero "
              "Checksum %s",
              raw.type == ZDC_SCTP_INIT ? "INIT" : "INIT ACK", (unsigned)i->os, (unsigned)i->mis,
              (unsigned)i->a_rwnd, ext, i->forward_tsn ? "yes" : "no",
              i->zero_checksum ? (i->edmid == 1 ? "yes (DTLS)" : "yes (other method)") : "no");
}

static int n_send(void *user, const uint8_t *p, size_t len)
{
    zdc_sctp_nat *n = user;
    trace_packet(n, "out", p, len);
    n->stats.packets_out++;
    n->stats.bytes_out += len;
    if (len > n->stats.max_packet_out)
        n->stats.max_packet_out = len;
    return n->cfg.cb.send(n->cfg.user, p, len);
}

static void n_up(void *user, uint16_t in, uint16_t out)
{
    zdc_sctp_nat *n = user;
    n->up = true;
    n->in_streams = in;
    n->out_streams = out;
    ZDC_LOG_I(n->cfg.log, ZDC_LOG_SCTP, "SCTP association up: %u in, %u out streams (native)",
              (unsigned)in, (unsigned)out);
    if (n->cfg.cb.on_up)
        n->cfg.cb.on_up(n->cfg.user, in, out);
}

static void raise_down(zdc_sctp_nat *n, int reason)
{
    if (n->down_raised || n->closed)
        return;
    n->down_raised = true;
    n->up = false;
    if (n->cfg.cb.on_down)
        n->cfg.cb.on_down(n->cfg.user, reason);
}

/* The peer's ABORT and its causes, logged as sctp.c does for usrsctp: a user-initiated abort
 * (a peer closing) is the end of the connection (WARN), anything else an ERROR. */
static void n_abort(void *user, const uint8_t *p, size_t len)
{
    zdc_sctp_nat *n = user;
    n->abort_logged = true;
    char causes[256] = "";
    size_t used = 0;
    bool user_abort = false;
    zdc_sctp_cause_iter it;
    zdc_sctp_cause_iter_init(&it, p, len);
    uint16_t code;
    const uint8_t *v;
    size_t vl;
    while (used < sizeof causes - 1 && zdc_sctp_cause_next(&it, &code, &v, &vl) == 1) {
        if (used == 0 && code == ZDC_SCTP_CAUSE_USER_ABORT)
            user_abort = true;
        char info[65] = "";
        size_t k = 0;
        if (code == ZDC_SCTP_CAUSE_USER_ABORT || code == ZDC_SCTP_CAUSE_PROTOCOL_VIOLATION)
            for (; k < vl && k < sizeof info - 1; k++)
                info[k] = v[k] >= 0x20 && v[k] < 0x7f ? (char)v[k] : '.';
        int w = snprintf(causes + used, sizeof causes - used, "%scause %u (%s%s%s%s)",
                         used ? ", " : "", (unsigned)code, zdc_sctp_cause_name(code),
                         k ? ": \"" : "", info, k ? "\"" : "");
        if (w < 0)
            break;
        used += (size_t)w < sizeof causes - used ? (size_t)w : sizeof causes - 1 - used;
    }
    ZDC_LOG(n->cfg.log, user_abort ? ZDC_LOG_WARN : ZDC_LOG_ERROR, ZDC_LOG_SCTP,
            "SCTP association %s: ABORT received, %s", n->up ? "ended" : "could not start",
            used ? causes : "no cause");
}

static void n_down(void *user, int reason)
{
    zdc_sctp_nat *n = user;
    if (!n->closed && !n->down_raised) {
        if (reason == ZDC_SCTP_ASSOC_SHUTDOWN)
            ZDC_LOG_I(n->cfg.log, ZDC_LOG_SCTP, "SCTP association shut down by the peer");
        else if (!n->abort_logged)
            ZDC_LOG(n->cfg.log, ZDC_LOG_ERROR, ZDC_LOG_SCTP, "SCTP association %s",
                    reason == ZDC_SCTP_ASSOC_CANT_START
                        ? "could not start: the INIT/COOKIE exchange got no answer"
                        : "ended: retransmissions exhausted");
    }
    raise_down(n, reason == ZDC_SCTP_ASSOC_SHUTDOWN     ? ZDC_SCTP_DOWN_SHUTDOWN
                  : reason == ZDC_SCTP_ASSOC_CANT_START ? ZDC_SCTP_DOWN_CANT_START
                                                        : ZDC_SCTP_DOWN_ABORTED);
}

static void deliver(zdc_sctp_nat *n, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                    unsigned flags)
{
    n->stats.messages_in++;
    if (n->cfg.cb.on_message)
        n->cfg.cb.on_message(n->cfg.user, stream, ppid, p, len, flags);
}

static void n_too_large(void *user, uint16_t stream, uint32_t ppid)
{
    zdc_sctp_nat *n = user;
    n->stats.messages_too_large++;
    if (n->cfg.cb.on_message_too_large)
        n->cfg.cb.on_message_too_large(n->cfg.user, stream, ppid);
}

static void n_msg(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                  unsigned flags)
{
    zdc_sctp_nat *n = user;
    unsigned f = (flags & ZDC_SCTP_ASSOC_MSG_UNORDERED) ? ZDC_SCTP_MSG_UNORDERED : 0;
    if (!n->paused && n->hq == NULL) {
        deliver(n, stream, ppid, p, len, f);
        return;
    }
    if (n->held_bytes + len > (size_t)n->cfg.rcvbuf + n->cfg.max_message_size) {
        zdc_sctp_assoc_abort(n->a, n->now); /* would have to drop a message: fail visibly */
        raise_down(n, ZDC_SCTP_DOWN_ABORTED);
        return;
    }
    held *h = malloc(sizeof *h + len);
    if (h == NULL) {
        zdc_sctp_assoc_abort(n->a, n->now);
        raise_down(n, ZDC_SCTP_DOWN_ABORTED);
        return;
    }
    *h = (held){.stream = stream, .ppid = ppid, .flags = f, .len = len};
    memcpy(h->data, p, len);
    if (n->hq_tail)
        n->hq_tail->next = h;
    else
        n->hq = h;
    n->hq_tail = h;
    n->held_bytes += len;
    zdc_sctp_assoc_set_app_held(n->a, n->held_bytes, n->now); /* shrinks the window */
}

/* RFC 9260 §5.2.4 A: the association goes on with fresh state; the streams the peer had are
 * reported reset right after (on_stream_reset), which closes their channels above. */
static void n_restart(void *user)
{
    zdc_sctp_nat *n = user;
    ZDC_LOG(n->cfg.log, ZDC_LOG_WARN, ZDC_LOG_SCTP,
            "SCTP peer restarted: association reset, its channels are closed");
}

static void n_reset(void *user, uint16_t stream)
{
    zdc_sctp_nat *n = user;
    ZDC_LOG_D(n->cfg.log, ZDC_LOG_SCTP, "stream %u reset by the peer", (unsigned)stream);
    if (n->cfg.cb.on_stream_reset)
        n->cfg.cb.on_stream_reset(n->cfg.user, stream);
}

static void drain_held(zdc_sctp_nat *n)
{
    if (n->draining)
        return;
    n->draining = true;
    while (n->hq && !n->paused && !n->closed) {
        held *h = n->hq;
        n->hq = h->next;
        if (n->hq == NULL)
            n->hq_tail = NULL;
        n->held_bytes -= h->len;
        deliver(n, h->stream, h->ppid, h->data, h->len, h->flags);
        free(h);
    }
    n->draining = false;
    if (!n->closed)
        zdc_sctp_assoc_set_app_held(n->a, n->held_bytes, n->now); /* window update */
}

/* With a fresh `now`: what was queued goes out (bundled), then the association is corked again. */
static void flush(zdc_sctp_nat *n)
{
    n->flush_pending = false;
    zdc_sctp_assoc_cork(n->a, false, n->now);
    zdc_sctp_assoc_cork(n->a, true, n->now);
}

static void after_call(zdc_sctp_nat *n)
{
    if (n->closed || n->batch)
        return; /* a batch's output goes at its end */
    flush(n);
    size_t b = zdc_sctp_assoc_buffered_amount(n->a);
    if (b < n->last_buffered && n->cfg.cb.on_buffered_amount) {
        n->last_buffered = b;
        n->cfg.cb.on_buffered_amount(n->cfg.user, b);
    }
    n->last_buffered = b;
}

int zdc_sctp_nat_new(const zdc_sctp_config *cfg, zdc_sctp_nat **out)
{
    zdc_sctp_nat *n = calloc(1, sizeof *n);
    if (n == NULL)
        return ZDC_ERR_NOMEM;
    n->cfg = *cfg;
    zdc_sctp_assoc_config c;
    zdc_sctp_assoc_config_default(&c);
    c.local_port = cfg->local_port;
    c.remote_port = cfg->remote_port;
    c.streams = cfg->streams;
    c.mtu = cfg->mtu;
    c.rwnd = cfg->rcvbuf;
    c.max_message_size = cfg->max_message_size;
    if (cfg->rto_initial_ms)
        c.rto_initial_ms = cfg->rto_initial_ms;
    if (cfg->rto_min_ms)
        c.rto_min_ms = cfg->rto_min_ms;
    if (cfg->rto_max_ms)
        c.rto_max_ms = cfg->rto_max_ms;
    if (cfg->max_retransmits)
        c.max_retransmits = cfg->max_retransmits;
    if (RAND_bytes((unsigned char *)&c.random_seed, sizeof c.random_seed) != 1 ||
        RAND_bytes(c.cookie_key, sizeof c.cookie_key) != 1) {
        free(n);
        return ZDC_ERR_CRYPTO;
    }
    c.cb = (zdc_sctp_assoc_callbacks){.send = n_send,
                                      .on_up = n_up,
                                      .on_down = n_down,
                                      .on_message = n_msg,
                                      .on_message_too_large = n_too_large,
                                      .on_stream_reset = n_reset,
                                      .on_restart = n_restart,
                                      .on_abort = n_abort};
    c.user = n;
    int rv = zdc_sctp_assoc_new(&c, &n->a);
    if (rv != 0) {
        free(n);
        return rv;
    }
    zdc_sctp_assoc_cork(n->a, true, 0);
    *out = n;
    return 0;
}

void zdc_sctp_nat_free(zdc_sctp_nat *n)
{
    if (n == NULL)
        return;
    zdc_sctp_nat_close(n);
    while (n->hq) {
        held *h = n->hq;
        n->hq = h->next;
        free(h);
    }
    zdc_sctp_assoc_free(n->a);
    free(n);
}

void zdc_sctp_nat_set_now(zdc_sctp_nat *n, uint64_t now_ns)
{
    if (now_ns > n->now)
        n->now = now_ns;
}

uint64_t zdc_sctp_nat_next_timeout(const zdc_sctp_nat *n)
{
    if (n->closed)
        return UINT64_MAX;
    return n->flush_pending ? n->now : zdc_sctp_assoc_next_timeout(n->a);
}

void zdc_sctp_nat_handle_timeout(zdc_sctp_nat *n, uint64_t now_ns)
{
    zdc_sctp_nat_set_now(n, now_ns);
    if (n->closed)
        return;
    n->in_call = true;
    zdc_sctp_assoc_handle_timeout(n->a, n->now);
    after_call(n);
    n->in_call = false;
}

int zdc_sctp_nat_connect(zdc_sctp_nat *n)
{
    if (n->closed)
        return ZDC_ERR_CLOSED;
    return zdc_sctp_assoc_connect(n->a, n->now);
}

int zdc_sctp_nat_handle_packet(zdc_sctp_nat *n, const uint8_t *p, size_t len)
{
    if (p == NULL || len == 0)
        return ZDC_ERR_INVALID_PARAMETER;
    if (n->closed)
        return ZDC_ERR_CLOSED;
    n->stats.packets_in++;
    n->stats.bytes_in += len;
    trace_packet(n, "in", p, len);
    if (!n->up)
        log_peer_init(n, p, len);
    n->in_call = true;
    zdc_sctp_assoc_handle_packet(n->a, p, len, n->now); /* bad packets are counted inside */
    after_call(n);
    n->in_call = false;
    return 0;
}

int zdc_sctp_nat_send(zdc_sctp_nat *n, uint16_t stream, uint32_t ppid, const uint8_t *data,
                      size_t len, const zdc_sctp_send_opts *opts)
{
    if (len == 0 || data == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    if (n->closed)
        return ZDC_ERR_CLOSED;
    if (!n->up)
        return ZDC_ERR_INVALID_STATE;
    if (len > n->cfg.max_send_size)
        return ZDC_ERR_TOO_LARGE;
    if (zdc_sctp_assoc_buffered_amount(n->a) + len > n->cfg.sndbuf)
        return ZDC_ERR_AGAIN;
    zdc_sctp_assoc_send_opts o = {0};
    if (opts) {
        if (opts->pr_policy < ZDC_SCTP_PR_NONE || opts->pr_policy > ZDC_SCTP_PR_TTL)
            return ZDC_ERR_INVALID_PARAMETER;
        o.unordered = opts->unordered;
        o.pr_policy = opts->pr_policy; /* same values: NONE, RTX, TTL */
        o.pr_value = opts->pr_value;
    }
    /* Between calls n->now is stale and the message waits for the next call's flush: its
     * lifetime counts from then (a 1 ms maxPacketLifeTime, as Godot's WebRTCMultiplayer sets,
     * would otherwise expire before the message could go out; usrsctp sends at once). */
    o.lifetime_from_next_now = !n->in_call;
    int rv = zdc_sctp_assoc_send_ex(n->a, stream, ppid, data, len, &o, n->now);
    if (rv == 0) {
        n->stats.messages_out++;
        n->last_buffered = zdc_sctp_assoc_buffered_amount(n->a);
        if (!n->in_call && !n->flush_pending) {
            n->flush_pending = true;
            if (n->cfg.cb.on_wakeup)
                n->cfg.cb.on_wakeup(n->cfg.user);
        }
    }
    return rv;
}

void zdc_sctp_nat_batch_begin(zdc_sctp_nat *n)
{
    if (n->closed || n->batch)
        return;
    n->batch = true;
    zdc_sctp_assoc_batch_begin(n->a);
}

void zdc_sctp_nat_batch_end(zdc_sctp_nat *n)
{
    if (!n->batch)
        return;
    n->batch = false;
    if (n->closed)
        return;
    n->in_call = true;
    zdc_sctp_assoc_batch_end(n->a, n->now);
    after_call(n);
    n->in_call = false;
}

void zdc_sctp_nat_pause_receive(zdc_sctp_nat *n, bool paused)
{
    if (n->paused == paused)
        return;
    n->paused = paused;
    if (!paused)
        drain_held(n);
}

size_t zdc_sctp_nat_buffered_amount(const zdc_sctp_nat *n)
{
    return n->closed ? 0 : zdc_sctp_assoc_buffered_amount(n->a);
}

int zdc_sctp_nat_reset_stream(zdc_sctp_nat *n, uint16_t stream)
{
    if (n->closed)
        return ZDC_ERR_CLOSED;
    if (!n->up)
        return ZDC_ERR_INVALID_STATE;
    int rv = zdc_sctp_assoc_reset_stream(n->a, stream, n->now);
    ZDC_LOG_D(n->cfg.log, ZDC_LOG_SCTP, "stream %u: reset requested (%d)", (unsigned)stream, rv);
    return rv == ZDC_ERR_QUEUE_FULL ? ZDC_ERR_NOMEM : rv;
}

void zdc_sctp_nat_close(zdc_sctp_nat *n)
{
    if (n->closed)
        return;
    zdc_sctp_assoc_abort(n->a, n->now);
    n->closed = true;
    n->up = false;
}

bool zdc_sctp_nat_is_up(const zdc_sctp_nat *n)
{
    return n->up && !n->closed;
}

uint16_t zdc_sctp_nat_out_streams(const zdc_sctp_nat *n)
{
    return n->up ? n->out_streams : 0;
}

int zdc_sctp_nat_set_max_send_size(zdc_sctp_nat *n, size_t max)
{
    if (max == 0 || max > n->cfg.sndbuf)
        return ZDC_ERR_INVALID_PARAMETER;
    n->cfg.max_send_size = max;
    return 0;
}

void zdc_sctp_nat_get_stats(const zdc_sctp_nat *n, zdc_sctp_stats *st)
{
    *st = n->stats;
    zdc_sctp_assoc_stats as;
    zdc_sctp_assoc_get_stats(n->a, &as);
    st->retransmissions = as.retransmits;
}

void zdc_sctp_nat_get_status(const zdc_sctp_nat *n, zdc_sctp_status *st)
{
    memset(st, 0, sizeof *st);
    if (!zdc_sctp_nat_is_up(n))
        return;
    zdc_sctp_assoc_stats as;
    zdc_sctp_assoc_get_stats(n->a, &as);
    st->up = true;
    st->cwnd = as.cwnd;
    st->peer_rwnd = as.peer_rwnd;
    st->srtt_ms = as.srtt_ms;
    st->rto_ms = as.rto_ms;
    st->mtu = n->cfg.mtu;
    st->unacked = as.unacked;
    size_t b = zdc_sctp_assoc_buffered_amount(n->a);
    st->sndbuf_bytes = b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
    st->abandoned = as.abandoned;
}
