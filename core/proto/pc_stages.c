/* The stages under the peer connection — ICE, DTLS, SCTP — created, wired together, and
 * their callbacks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iceurl.h"
#include "pc_int.h"
#include "zdc/candidate.h"
#include "zdc/dcep.h"
#include "zdc/demux.h"
#include "zdc/error.h"
#include "zdc/sdp.h"
#include "zdc/stun.h"

static int sctp_out(void *user, const uint8_t *p, size_t len)
{
    zdc_pc *pc = user;
    if (!pc->dtls)
        return ZDC_ERR_INVALID_STATE;
    return zdc_dtls_send(pc->dtls, p, len);
}

static void sctp_up(void *user, uint16_t in, uint16_t out)
{
    zdc_pc *pc = user;
    pc_notify(pc);
    pc->sctp_up = true;
    pc_channels_open(pc);
}

static void sctp_down(void *user, int reason)
{
    zdc_pc *pc = user;
    pc_notify(pc);
    pc->sctp_up = false;
    /* An ABORT or SHUTDOWN from the peer ends the connection (zdc_pc_close and browsers send
     * one); an association that never came up is a failure. */
    if (reason == ZDC_SCTP_DOWN_CANT_START)
        pc->sctp_failed = true;
    else
        pc->remote_closed = true;
    for (size_t i = 0; i < pc->n_ch; i++)
        pc_channel_set_state(pc->ch[i], ZDC_CHANNEL_CLOSED);
    pc_update_connection_state(pc);
}

static void sctp_buffered(void *user, size_t amount)
{
    zdc_pc *pc = user;
    pc_notify(pc);
    pc_channels_flush(pc);
}

/* The native SCTP queued an application's send: run our timeout soon (with the time). */
static void sctp_wakeup(void *user)
{
    pc_notify(user);
}

static int dtls_out(void *user, const uint8_t *p, size_t len)
{
    zdc_pc *pc = user;
    if (!pc->have_remote_addr)
        return ZDC_ERR_INVALID_STATE;
    pc->st.tx_packets++;
    pc->st.tx_bytes += len;
    if (pc->via_relay >= 0 && pc->turn[pc->via_relay].t) {
        /* The selected pair's local candidate is relayed: through the TURN server. A send
         * refused (allocation lost) is a loss like any other: consent notices. */
        zdc_turn_send(pc->turn[pc->via_relay].t, &pc->remote_addr, p, len, pc->now_ns);
        return 0;
    }
    pc->env.send(pc->env.user, &pc->remote_addr, p, len);
    return 0;
}

static void dtls_data(void *user, const uint8_t *p, size_t len)
{
    zdc_pc *pc = user;
    if (pc->sctp)
        zdc_sctp_handle_packet(pc->sctp, p, len);
}

static void ice_send(void *user, const zdc_addr *to, const uint8_t *p, size_t len)
{
    zdc_pc *pc = user;
    pc->st.tx_packets++;
    pc->st.tx_bytes += len;
    pc->st.stun_tx_packets++;
    pc->st.stun_tx_bytes += len;
    pc->env.send(pc->env.user, to, p, len);
}

/* The TURN client whose relayed address is `relayed`, or -1. */
static int turn_by_relayed(const zdc_pc *pc, const zdc_addr *relayed)
{
    zdc_addr a;
    for (size_t i = 0; i < pc->n_turn; i++)
        if (pc->turn[i].t && zdc_turn_relayed_address(pc->turn[i].t, &a) == 0 &&
            zdc_addr_equal(&a, relayed))
            return (int)i;
    return -1;
}

static void ice_send_relayed(void *user, const zdc_addr *relayed, const zdc_addr *to,
                             const uint8_t *p, size_t len)
{
    zdc_pc *pc = user;
    int i = turn_by_relayed(pc, relayed);
    if (i >= 0) /* RFC 8656 §11: a permission for `to` is created on first use */
        zdc_turn_send(pc->turn[i].t, to, p, len, pc->now_ns);
}

static void ice_random(void *user, uint8_t *p, size_t n)
{
    zdc_pc *pc = user;
    pc->env.random(pc->env.user, p, n);
}

static void ice_candidate(void *user, const zdc_candidate *c)
{
    zdc_pc *pc = user;
    char line[600];
    const char *mid = "0";
    if (pc->remote && pc->remote_media >= 0 && pc->remote->media[pc->remote_media].mid.len)
        mid = NULL;
    char midbuf[64] = "0";
    if (!mid) {
        zdc_sdp_str m = pc->remote->media[pc->remote_media].mid;
        snprintf(midbuf, sizeof midbuf, "%.*s", (int)m.len, m.p);
    }
    if (!c) {
        pc->local_cand_end = true;
        pc_push_event(pc, ZDC_PC_EV_CANDIDATE, 0, NULL, midbuf, "");
        return;
    }
    zdc_candidate pub;
    if (c->type == ZDC_CAND_HOST) {
        /* NAT 1:1: announce the public address for this family's host candidates. */
        const zdc_addr *p = c->address_kind == 4 ? &pc->env.public4 : &pc->env.public6;
        if (zdc_addr_family(p) != 0) {
            pub = *c;
            zdc_addr_format(p, false, pub.address, sizeof pub.address);
            c = &pub;
        }
    }
    if (zdc_candidate_format(c, line, sizeof line) < 0)
        return;
    /* Kept for the complete description (zdc_pc_local_description); one that cannot be kept
     * is still trickled. */
    const char *body = strncmp(line, "a=", 2) == 0 ? line + 2 : line;
    if (pc->n_local_cand < ZDC_SDP_MAX_CANDIDATES) {
        char *copy = pc_strdup(body);
        if (copy)
            pc->local_cand[pc->n_local_cand++] = copy;
    }
    pc_push_event(pc, ZDC_PC_EV_CANDIDATE, 0, NULL, midbuf, line);
}

static void ice_state(void *user, int state)
{
    zdc_pc *pc = user;
    if (state == ZDC_ICE_FAILED)
        pc->ice_failed = true;
    pc_update_connection_state(pc);
}

static void ice_gathering(void *user, int ice_state)
{
    zdc_pc *pc = user;
    enum zdc_gathering_state state =
        ice_state == ZDC_ICE_GATHERING_COMPLETE    ? ZDC_GATHERING_COMPLETE
        : ice_state == ZDC_ICE_GATHERING_GATHERING ? ZDC_GATHERING_GATHERING
                                                   : ZDC_GATHERING_NEW;
    if (pc->gather_state == state)
        return;
    pc->gather_state = state;
    pc_push_event(pc, ZDC_PC_EV_GATHERING, (int)state, NULL, NULL, NULL);
}

static void ice_selected(void *user, const zdc_addr *local, const zdc_addr *remote)
{
    zdc_pc *pc = user;
    pc->remote_addr = *remote;
    pc->have_remote_addr = true;
    pc->via_relay = turn_by_relayed(pc, local);
    /* RFC 8656 §12: data on the selected relayed pair goes as ChannelData (4 bytes of
     * overhead instead of a Send indication's 36). */
    if (pc->via_relay >= 0) {
        zdc_turn_bind_channel(pc->turn[pc->via_relay].t, remote, pc->now_ns);
        if (zdc_log_enabled(&pc->log, ZDC_LOG_INFO, ZDC_LOG_TURN)) {
            char s[ZDC_ADDR_STRLEN], r[ZDC_ADDR_STRLEN];
            zdc_addr_format(&pc->turn_cfg[pc->via_relay].server, true, s, sizeof s);
            zdc_addr_format(remote, true, r, sizeof r);
            zdc_log_emit(&pc->log, ZDC_LOG_INFO, ZDC_LOG_TURN,
                         "selected pair is relayed: through TURN server %s to %s", s, r);
        }
    }
}

/* ---- TURN ---------------------------------------------------------------------------- */

static void turn_send(void *user, const uint8_t *p, size_t len)
{
    pc_turn *t = user;
    zdc_pc *pc = t->pc;
    size_t slot = (size_t)(t - pc->turn);
    if (pc->turn_cfg[slot].transport == ZDC_TURN_UDP)
        pc->env.send(pc->env.user, &pc->turn_cfg[slot].server, p, len);
    else if (t->stream) /* RFC 6062: messages follow each other on the stream as they are */
        pc->env.stream_send(pc->env.user, (unsigned)slot, p, len);
}

static void turn_random(void *user, uint8_t *p, size_t n)
{
    pc_turn *t = user;
    t->pc->env.random(t->pc->env.user, p, n);
}

static void turn_allocated(void *user, const zdc_addr *relayed, const zdc_addr *mapped)
{
    pc_turn *t = user;
    t->allocated = true;
    t->mapped = *mapped;
    if (t->pc->ice && !t->reported) {
        t->reported = true;
        zdc_ice_add_relayed_candidate(t->pc->ice, relayed, mapped);
    }
}

static void turn_failed(void *user, int err, unsigned code, const char *reason)
{
    pc_turn *t = user;
    zdc_pc *pc = t->pc;
    char server[ZDC_ADDR_STRLEN];
    zdc_addr_format(&pc->turn_cfg[t - pc->turn].server, true, server, sizeof server);
    pc_set_err(pc, "TURN server %s: %s", server, reason);
    if (pc->ice && !t->reported) {
        t->reported = true;
        zdc_ice_relay_failed(pc->ice); /* gathering goes on without this relay */
    }
    /* A lost allocation under the selected pair: consent freshness (RFC 7675) turns the
     * connection DISCONNECTED, then FAILED, unless another pair takes over. */
}

/* Data relayed from `peer` through TURN client t: STUN for ICE (on t's relayed candidate),
 * DTLS from an address ICE verified, as on the engine socket. */
static void turn_data(void *user, const zdc_addr *peer, const uint8_t *p, size_t len)
{
    pc_turn *t = user;
    zdc_pc *pc = t->pc;
    zdc_addr relayed;
    if (!pc->ice || zdc_turn_relayed_address(t->t, &relayed) != 0)
        return;
    switch (zdc_demux_classify(p, len)) {
    case ZDC_DEMUX_STUN: {
        zdc_stun_msg m;
        int rv = zdc_stun_parse(p, len, &m);
        if (rv == 0 || rv == ZDC_ERR_UNKNOWN_ATTRIBUTE)
            zdc_ice_handle_stun_relayed(pc->ice, &relayed, peer, p, len, &m, rv, pc->now_ns);
        break;
    }
    case ZDC_DEMUX_DTLS:
        if (!pc->dtls || !zdc_pc_accepts_from(pc, peer))
            break;
        if (!pc->have_remote_addr) {
            pc->remote_addr = *peer;
            pc->have_remote_addr = true;
            pc->via_relay = (int)(t - pc->turn);
        }
        zdc_dtls_handle_datagram(pc->dtls, p, len, pc->now_ns);
        break;
    default:
        break;
    }
}

int pc_turn_input(zdc_pc *pc, const zdc_addr *from, const uint8_t *p, size_t len, uint64_t now_ns)
{
    for (size_t i = 0; i < pc->n_turn; i++) {
        if (!pc->turn[i].t || !zdc_addr_equal(&pc->turn_cfg[i].server, from))
            continue;
        int rv = zdc_turn_handle_input(pc->turn[i].t, p, len, now_ns);
        if (rv != ZDC_ERR_NOT_FOUND && rv != ZDC_ERR_CLOSED)
            return 0;
    }
    return ZDC_ERR_NOT_FOUND;
}

/* The TURN client of server i, in state IDLE. */
static int make_one(zdc_pc *pc, size_t i)
{
    pc_turn *t = &pc->turn[i];
    memset(t, 0, sizeof *t);
    t->pc = pc;
    zdc_turn_config tc = {.username = pc->turn_cfg[i].username,
                          .password = pc->turn_cfg[i].credential,
                          .transport = pc->turn_cfg[i].transport,
                          .refresh_every_ms = pc->tun.turn_refresh_ms,
                          .software = "zdc",
                          .log = &pc->log,
                          .user = t,
                          .random = turn_random,
                          .send = turn_send,
                          .on_allocated = turn_allocated,
                          .on_failed = turn_failed,
                          .on_data = turn_data};
    return zdc_turn_new(&tc, &t->t);
}

/* Frees client i (close: deallocates first) and its stream. */
static void free_one(zdc_pc *pc, size_t i, bool close)
{
    pc_turn *t = &pc->turn[i];
    if (!t->t)
        return;
    if (close)
        zdc_turn_close(t->t, pc->now_ns);
    zdc_turn_free(t->t);
    t->t = NULL;
    if (t->stream)
        pc->env.stream_close(pc->env.user, (unsigned)i); /* after the deallocation left */
    t->stream = false;
}

static int make_turn(zdc_pc *pc)
{
    for (size_t i = 0; i < pc->n_turn; i++) {
        int rv = make_one(pc, i);
        if (rv != 0) {
            pc_turn_free_all(pc, false);
            return rv;
        }
    }
    return pc->n_turn ? zdc_ice_expect_relays(pc->ice, (unsigned)pc->n_turn) : 0;
}

/* Allocates on server i: over UDP at once; over TCP/TLS the stream is opened first and the
 * Allocate waits in its queue until it is connected. */
static void turn_start(zdc_pc *pc, size_t i, uint64_t now_ns)
{
    pc_turn *t = &pc->turn[i];
    const pc_turn_cfg *c = &pc->turn_cfg[i];
    int rv = 0;
    if (c->transport != ZDC_TURN_UDP) {
        zdc_pc_stream_params sp = {.server = c->server,
                                   .tls = c->transport == ZDC_TURN_TLS,
                                   .server_name = c->server_name,
                                   .fingerprint = c->fingerprint,
                                   .insecure = c->insecure};
        rv = pc->env.stream_open ? pc->env.stream_open(pc->env.user, (unsigned)i, &sp)
                                 : ZDC_ERR_NOT_SUPPORTED;
        t->stream = rv == 0;
    }
    zdc_turn_allocate(t->t, now_ns);
    if (rv != 0)
        zdc_turn_abort(t->t, rv,
                       rv == ZDC_ERR_NOT_SUPPORTED
                           ? "TURN over TCP/TLS is not available here (no engine, or a worker of a "
                             "threaded engine)"
                           : "cannot open a TCP connection to the TURN server");
}

int pc_gather(zdc_pc *pc, uint64_t now_ns)
{
    pc->now_ns = now_ns;
    /* After an ICE restart (RFC 8445 §9) the agent has dropped its relayed candidates: they
     * are gathered again. An allocation that is up is offered again (its relayed address
     * with the new credentials); one that failed is made anew (the server may be back). */
    bool again = false;
    for (size_t i = 0; i < pc->n_turn; i++)
        again |= pc->turn[i].reported;
    again = again && zdc_ice_gathering_state(pc->ice) == ZDC_ICE_GATHERING_NEW;
    for (size_t i = 0; again && i < pc->n_turn; i++) {
        pc_turn *t = &pc->turn[i];
        if (t->t && zdc_turn_state(t->t) != ZDC_TURN_FAILED &&
            zdc_turn_state(t->t) != ZDC_TURN_CLOSED)
            continue;
        free_one(pc, i, false);
        if (make_one(pc, i) != 0)
            free_one(pc, i, false);
    }
    if (again) {
        unsigned n = 0;
        for (size_t i = 0; i < pc->n_turn; i++)
            n += pc->turn[i].t != NULL;
        zdc_ice_expect_relays(pc->ice, n);
    }
    int rv = zdc_ice_gather(pc->ice, now_ns);
    if (rv != 0)
        return rv;
    for (size_t i = 0; i < pc->n_turn; i++) {
        pc_turn *t = &pc->turn[i];
        if (!t->t)
            continue;
        zdc_addr relayed;
        if (zdc_turn_state(t->t) == ZDC_TURN_IDLE) {
            turn_start(pc, i, now_ns);
        } else if (again && t->reported && zdc_turn_relayed_address(t->t, &relayed) == 0) {
            ZDC_LOG_I(&pc->log, ZDC_LOG_TURN,
                      "ICE restart: the relayed candidate of TURN server "
                      "%zu offered again",
                      i);
            zdc_ice_add_relayed_candidate(pc->ice, &relayed, &t->mapped);
        }
    }
    return 0;
}

void pc_turn_free_all(zdc_pc *pc, bool close)
{
    for (size_t i = 0; i < PC_MAX_TURN; i++)
        free_one(pc, i, close);
}

uint64_t pc_turn_next_timeout(const zdc_pc *pc)
{
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < pc->n_turn; i++) {
        uint64_t x = pc->turn[i].t ? zdc_turn_next_timeout(pc->turn[i].t) : UINT64_MAX;
        if (x < t)
            t = x;
    }
    return t;
}

void pc_turn_handle_timeout(zdc_pc *pc, uint64_t now_ns)
{
    for (size_t i = 0; i < pc->n_turn; i++)
        if (pc->turn[i].t && zdc_turn_next_timeout(pc->turn[i].t) <= now_ns)
            zdc_turn_handle_timeout(pc->turn[i].t, now_ns);
}

int pc_make_ice(zdc_pc *pc, int role)
{
    zdc_ice_config ic = {.role = role,
                         .lite = pc->ice_lite,
                         .relay_only = pc->relay_only,
                         .user = pc,
                         .random = ice_random,
                         .send = ice_send,
                         .send_relayed = ice_send_relayed,
                         .on_candidate = ice_candidate,
                         .on_state = ice_state,
                         .on_gathering_state = ice_gathering,
                         .on_selected_pair = ice_selected,
                         .checking_timeout_ms = pc->tun.connect_timeout_ms,
                         .consent_interval_ms = pc->tun.consent_interval_ms,
                         .disconnected_timeout_ms = pc->tun.disconnected_timeout_ms,
                         .consent_timeout_ms = pc->tun.failed_timeout_ms,
                         .log = &pc->log};
    int rv = zdc_ice_new(&ic, &pc->ice);
    if (rv != 0)
        return rv;
    for (size_t i = 0; i < pc->n_local; i++)
        zdc_ice_add_local_address(pc->ice, &pc->local[i]);
    for (size_t i = 0; i < pc->n_stun; i++)
        zdc_ice_add_stun_server(pc->ice, &pc->stun_servers[i]);
    return make_turn(pc);
}

/* Fills in a remote DTLS fingerprint from the section: sha-256 preferred. */
int pc_remote_fingerprint(const zdc_sdp_media *m, zdc_dtls_fingerprint *fp)
{
    static const struct {
        enum zdc_sdp_hash sdp;
        zdc_dtls_hash dtls;
    } order[] = {{ZDC_SDP_HASH_SHA256, ZDC_DTLS_HASH_SHA256},
                 {ZDC_SDP_HASH_SHA384, ZDC_DTLS_HASH_SHA384},
                 {ZDC_SDP_HASH_SHA512, ZDC_DTLS_HASH_SHA512},
                 {ZDC_SDP_HASH_SHA1, ZDC_DTLS_HASH_SHA1}};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        for (size_t i = 0; i < m->n_fingerprints; i++)
            if (m->fingerprints[i].hash == order[k].sdp) {
                fp->hash = order[k].dtls;
                fp->len = m->fingerprints[i].len;
                memcpy(fp->bytes, m->fingerprints[i].bytes, fp->len);
                return 0;
            }
    return ZDC_ERR_NOT_SUPPORTED;
}

/* Creates DTLS and SCTP once both descriptions are known. */
int pc_start_transport(zdc_pc *pc, uint64_t now_ns)
{
    const zdc_sdp_media *m = &pc->remote->media[pc->remote_media];
    zdc_dtls_config dc;
    zdc_dtls_config_default(&dc);
    dc.role = pc->dtls_role;
    dc.cert = pc->env.cert;
    dc.send = dtls_out;
    dc.on_data = dtls_data;
    dc.user = pc;
    dc.log = &pc->log;
    if (pc_remote_fingerprint(m, &dc.remote_fp) != 0)
        return ZDC_ERR_NOT_SUPPORTED;
    int rv = zdc_dtls_new(&dc, &pc->dtls);
    if (rv != 0)
        return rv;
    zdc_sctp_config sc;
    zdc_sctp_config_default(&sc);
    sc.local_port = ZDC_SCTP_DEFAULT_PORT;
    sc.remote_port = pc->remote_sctp_port;
    sc.mtu = ZDC_DTLS_DEFAULT_MTU - DTLS_RECORD_OVERHEAD;
    sc.max_message_size = pc->env.max_message_size;
    sc.max_send_size = pc->remote_max_message;
    sc.sndbuf = SEND_CAP;
    if (pc->tun.sctp_impl != ZDC_SCTP_IMPL_DEFAULT) /* else ZDC_SCTP, or native */
        sc.native = pc->tun.sctp_impl == ZDC_SCTP_IMPL_NATIVE;
    sc.cb = (zdc_sctp_callbacks){.send = sctp_out,
                                 .on_up = sctp_up,
                                 .on_down = sctp_down,
                                 .on_message = pc_channel_on_message,
                                 .on_message_too_large = pc_channel_on_too_large,
                                 .on_stream_reset = pc_channel_on_stream_reset,
                                 .on_buffered_amount = sctp_buffered,
                                 .on_wakeup = sctp_wakeup};
    sc.user = pc;
    sc.log = &pc->log;
    rv = zdc_sctp_new(&sc, &pc->sctp);
    if (rv != 0)
        return rv;
    zdc_sctp_set_now(pc->sctp, now_ns);
    pc_update_connection_state(pc);
    pc_start_dtls_if_ready(pc, now_ns);
    return 0;
}

void pc_start_dtls_if_ready(zdc_pc *pc, uint64_t now_ns)
{
    if (pc->dtls && pc->have_remote_addr && zdc_dtls_get_state(pc->dtls) == ZDC_DTLS_NEW)
        zdc_dtls_start(pc->dtls, now_ns);
}
