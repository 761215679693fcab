/* The built-in peer connection: life cycle, datagrams in, timeouts (see pc.h; the other
 * concerns are in pc_jsep.c, pc_stages.c, pc_channel.c and pc_event.c). */
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

int zdc_pc_new(const zdc_pc_env *env, zdc_pc **out)
{
    if (!env || !out || !env->send || !env->random || !env->cert)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_pc *pc = calloc(1, sizeof *pc);
    if (!pc)
        return ZDC_ERR_NOMEM;
    pc->env = *env;
    pc->log = (zdc_log_ctx){.sink = env->log, .peer = 0};
    if (!pc->env.max_message_size)
        pc->env.max_message_size = DEFAULT_MAX_MESSAGE;
    if (!pc->env.send_queue_limit)
        pc->env.send_queue_limit = DEFAULT_SEND_QUEUE;
    if (!pc->env.rx_channel_limit)
        pc->env.rx_channel_limit = ZDC_PC_DEFAULT_RX_CHANNEL_LIMIT;
    if (!pc->env.rx_peer_limit)
        pc->env.rx_peer_limit = ZDC_PC_DEFAULT_RX_PEER_LIMIT;
    zdc_peer_tuning *b = &pc->base;
    *b = env->tuning;
    if (!b->max_receive_queue_channel)
        b->max_receive_queue_channel = pc->env.rx_channel_limit;
    if (!b->max_receive_queue_peer)
        b->max_receive_queue_peer = pc->env.rx_peer_limit;
    if (!b->max_send_queue_channel)
        b->max_send_queue_channel = pc->env.send_queue_limit;
    if (!b->max_channels || b->max_channels > MAX_CHANNELS)
        b->max_channels = MAX_CHANNELS;
    pc->tun = *b; /* the ICE timeouts stay 0 = the agent's defaults (ice.h) */
    pc->env.rx_channel_limit = b->max_receive_queue_channel;
    pc->env.rx_peer_limit = b->max_receive_queue_peer;
    pc->env.send_queue_limit = b->max_send_queue_channel;
    if (env->n_local) {
        pc->local = malloc(env->n_local * sizeof *pc->local);
        if (!pc->local) {
            free(pc);
            return ZDC_ERR_NOMEM;
        }
        memcpy(pc->local, env->local, env->n_local * sizeof *pc->local);
        pc->n_local = env->n_local;
    }
    pc->env.local = NULL;
    pc->remote_media = -1;
    pc->dtls_role = 0;
    pc->via_relay = -1;
    zdc_dtls_cert_ref(pc->env.cert); /* dropped by zdc_pc_free */
    *out = pc;
    return 0;
}

/* Tears down the connection and forgets signaling; channels are freed too when `channels`. */
static void reset_connection(zdc_pc *pc, bool channels)
{
    if (pc->sctp) {
        zdc_sctp_free(pc->sctp);
        pc->sctp = NULL;
    }
    if (pc->dtls) {
        zdc_dtls_free(pc->dtls);
        pc->dtls = NULL;
    }
    pc_turn_free_all(pc, true); /* RFC 8656 §7.2: allocations are deleted, not left to expire */
    pc->via_relay = -1;
    if (pc->ice) {
        zdc_ice_free(pc->ice);
        pc->ice = NULL;
    }
    if (channels) {
        for (size_t i = 0; i < pc->n_ch; i++)
            pc_channel_free(pc->ch[i]);
        pc->n_ch = 0;
        pc->rx_bytes = 0;
    }
    pc->rx_paused = pc->rx_resume = false; /* a new association starts unpaused */
    free(pc->created_type);
    free(pc->created_sdp);
    free(pc->remote_text);
    free(pc->remote);
    pc->created_type = pc->created_sdp = pc->remote_text = NULL;
    pc->remote = NULL;
    for (size_t i = 0; i < pc->n_pending; i++)
        free(pc->pending[i]);
    pc->n_pending = 0;
    for (size_t i = 0; i < pc->n_local_cand; i++)
        free(pc->local_cand[i]);
    pc->n_local_cand = 0;
    pc->local_cand_end = false;
    free(pc->full_sdp);
    pc->full_sdp = NULL;
    pc->pending_end = false;
    pc->local_set = pc->remote_set = pc->offerer = false;
    pc->remote_media = -1;
    pc->dtls_role = 0;
    pc->ice_failed = pc->dtls_failed = pc->remote_closed = pc->torn_down = pc->sctp_up = false;
    pc->sctp_failed = pc->have_remote_addr = false;
    pc->nomem_failed = pc->nomem_event_pending = false;
    pc->remote_max_message = 0;
}

void zdc_pc_free(zdc_pc *pc)
{
    if (!pc)
        return;
    pc->closed = true;
    reset_connection(pc, true);
    pc_drop_events(pc);
    free(pc->ev);
    free(pc->ch);
    free(pc->local);
    zdc_dtls_cert_free(pc->env.cert);
    free(pc);
}

/* A turn: URL of server i into turn_cfg[*n_turn]. Returns 0, or an error (pc->err says). */
static int add_turn_server(zdc_pc *pc, const zdc_peer_config *cfg, size_t i, const zdc_iceurl *u,
                           pc_turn_cfg *out, size_t *n_turn)
{
    const zdc_ice_server *s = &cfg->ice_servers[i];
    if (!s->username || !s->credential || !s->username[0]) {
        pc_set_err(pc, "ice server %zu: a turn: URL needs username and credential", i);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (strlen(s->username) >= sizeof out->username ||
        strlen(s->credential) >= sizeof out->credential) {
        pc_set_err(pc, "ice server %zu: username or credential too long", i);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (*n_turn == PC_MAX_TURN) {
        pc_set_err(pc, "too many TURN servers (at most %d)", PC_MAX_TURN);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    pc_turn_cfg *c = &out[*n_turn];
    if (zdc_addr_from_ip(&c->server, u->host, strlen(u->host), u->port) != 0) {
        pc_set_err(pc,
                   "ice server %zu: '%s' is not a numeric address (names are resolved by the "
                   "engine)",
                   i, u->host);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    snprintf(c->username, sizeof c->username, "%s", s->username);
    snprintf(c->credential, sizeof c->credential, "%s", s->credential);
    /* RFC 7065 §3: turns: is TLS over TCP; turn: is UDP unless ?transport=tcp. */
    c->transport = u->scheme == ZDC_ICEURL_TURNS    ? ZDC_TURN_TLS
                   : u->transport == ZDC_ICEURL_TCP ? ZDC_TURN_TCP
                                                    : ZDC_TURN_UDP;
    c->insecure = s->tls_insecure;
    const char *name = s->tls_server_name ? s->tls_server_name : u->host;
    if (strlen(name) >= sizeof c->server_name ||
        (s->tls_fingerprint && strlen(s->tls_fingerprint) >= sizeof c->fingerprint)) {
        pc_set_err(pc, "ice server %zu: tls_server_name or tls_fingerprint too long", i);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    snprintf(c->server_name, sizeof c->server_name, "%s", name);
    snprintf(c->fingerprint, sizeof c->fingerprint, "%s",
             s->tls_fingerprint ? s->tls_fingerprint : "");
    (*n_turn)++;
    return 0;
}

int zdc_pc_initialize(zdc_pc *pc, const zdc_peer_config *cfg)
{
    zdc_addr servers[8];
    size_t n = 0, n_turn = 0;
    pc_turn_cfg turn[PC_MAX_TURN];
    if (cfg && cfg->ice_transport_policy != ZDC_ICE_TRANSPORT_ALL &&
        cfg->ice_transport_policy != ZDC_ICE_TRANSPORT_RELAY) {
        pc_set_err(pc, "unknown ice_transport_policy %d", cfg->ice_transport_policy);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    for (size_t i = 0; cfg && i < cfg->n_ice_servers; i++) {
        zdc_iceurl urls[8];
        size_t nu = 0;
        int rv = zdc_iceurl_parse_list(cfg->ice_servers[i].urls, urls, 8, &nu);
        if (rv != 0) {
            pc_set_err(pc, "ice server %zu: malformed URL list", i);
            return rv;
        }
        for (size_t k = 0; k < nu; k++) {
            if (urls[k].scheme == ZDC_ICEURL_TURN || urls[k].scheme == ZDC_ICEURL_TURNS) {
                rv = add_turn_server(pc, cfg, i, &urls[k], turn, &n_turn);
                if (rv != 0)
                    return rv;
                continue;
            }
            if (urls[k].scheme != ZDC_ICEURL_STUN) {
                pc_set_err(pc, "ice server %zu: stuns: is not supported", i);
                return ZDC_ERR_NOT_SUPPORTED;
            }
            if (n == 8) {
                pc_set_err(pc, "too many STUN servers (at most 8)");
                return ZDC_ERR_INVALID_PARAMETER;
            }
            if (zdc_addr_from_ip(&servers[n], urls[k].host, strlen(urls[k].host), urls[k].port) !=
                0) {
                pc_set_err(pc,
                           "ice server %zu: '%s' is not a numeric address (names are resolved "
                           "by the engine)",
                           i, urls[k].host);
                return ZDC_ERR_INVALID_PARAMETER;
            }
            n++;
        }
    }
    if (cfg && cfg->tuning.max_channels > MAX_CHANNELS) {
        pc_set_err(pc, "tuning.max_channels: at most %d", MAX_CHANNELS);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (cfg && cfg->tuning.sctp_impl > ZDC_SCTP_IMPL_USRSCTP) {
        pc_set_err(pc, "tuning.sctp_impl: not one of enum zdc_sctp_impl");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (cfg && cfg->tuning.sctp_impl == ZDC_SCTP_IMPL_USRSCTP && pc->env.native_sctp_only) {
        pc_set_err(pc, "tuning.sctp_impl: usrsctp cannot run on an engine with threads");
        return ZDC_ERR_NOT_SUPPORTED;
    }
    pc->closed = false;
    reset_connection(pc, true);
    pc->tun = pc->base;
    if (cfg) {
        const zdc_peer_tuning *t = &cfg->tuning;
#define OVERRIDE(f)                                                                                \
    if (t->f)                                                                                      \
    pc->tun.f = t->f
        OVERRIDE(connect_timeout_ms);
        OVERRIDE(consent_interval_ms);
        OVERRIDE(disconnected_timeout_ms);
        OVERRIDE(failed_timeout_ms);
        OVERRIDE(max_receive_queue_channel);
        OVERRIDE(max_receive_queue_peer);
        OVERRIDE(max_send_queue_channel);
        OVERRIDE(max_channels);
        OVERRIDE(sctp_impl);
        OVERRIDE(turn_refresh_ms);
#undef OVERRIDE
    }
    pc->env.rx_channel_limit = pc->tun.max_receive_queue_channel;
    pc->env.rx_peer_limit = pc->tun.max_receive_queue_peer;
    pc->env.send_queue_limit = pc->tun.max_send_queue_channel;
    pc_drop_events(pc);
    memcpy(pc->stun_servers, servers, n * sizeof *servers);
    pc->n_stun = n;
    memcpy(pc->turn_cfg, turn, n_turn * sizeof *turn);
    pc->n_turn = n_turn;
    pc->relay_only = cfg && cfg->ice_transport_policy == ZDC_ICE_TRANSPORT_RELAY;
    pc->ice_lite = cfg ? cfg->ice_lite : false;
    pc->require_sha256 = cfg ? cfg->require_sha256_fingerprint : false;
    pc->conn_state = ZDC_STATE_NEW;
    pc->gather_state = ZDC_GATHERING_NEW;
    pc->sig_state = ZDC_SIGNALING_STABLE;
    pc->err[0] = '\0';
    return 0;
}

void zdc_pc_close(zdc_pc *pc)
{
    if (pc->closed)
        return;
    for (size_t i = 0; i < pc->n_ch; i++)
        pc->ch[i]->state = ZDC_CHANNEL_CLOSED;
    if (pc->sctp)
        zdc_sctp_close(pc->sctp); /* ABORT: the remote's channels close at once */
    if (pc->dtls)
        zdc_dtls_close(pc->dtls);
    if (pc->ice)
        zdc_ice_close(pc->ice);
    pc_turn_free_all(pc, true); /* RFC 8656 §7.2: deallocate */
    pc->closed = true;
    pc->conn_state = ZDC_STATE_CLOSED;
    pc->sig_state = ZDC_SIGNALING_CLOSED;
    pc_drop_events(pc);
}

int zdc_pc_connection_state(const zdc_pc *pc)
{
    return pc->conn_state;
}

int zdc_pc_gathering_state(const zdc_pc *pc)
{
    return pc->gather_state;
}

int zdc_pc_signaling_state(const zdc_pc *pc)
{
    return pc->sig_state;
}

const char *zdc_pc_last_error(const zdc_pc *pc)
{
    return pc->err;
}

uint64_t zdc_pc_nomem_count(const zdc_pc *pc)
{
    return pc->nomem_count;
}

void zdc_pc_set_log_peer(zdc_pc *pc, uint64_t id)
{
    pc->log.peer = id;
}

const zdc_log_ctx *zdc_pc_log(const zdc_pc *pc)
{
    return &pc->log;
}

const char *zdc_pc_dtls_cipher(const zdc_pc *pc)
{
    return pc->dtls ? zdc_dtls_cipher(pc->dtls) : NULL;
}

bool zdc_pc_owns_stun_msg(const zdc_pc *pc, const zdc_stun_msg *m)
{
    if (!pc->ice || pc->closed)
        return false;
    if (m->cls == ZDC_STUN_REQUEST || m->cls == ZDC_STUN_INDICATION)
        return zdc_ice_username_matches(pc->ice, m);
    return zdc_ice_has_transaction(pc->ice, m->txid);
}

bool zdc_pc_owns_stun(const zdc_pc *pc, const uint8_t *p, size_t len)
{
    zdc_stun_msg m;
    int rv = zdc_stun_parse(p, len, &m);
    if (rv != 0 && rv != ZDC_ERR_UNKNOWN_ATTRIBUTE)
        return false;
    return zdc_pc_owns_stun_msg(pc, &m);
}

bool zdc_pc_global_next_timeout(uint64_t *at_ns)
{
    return zdc_sctp_global_next_tick(at_ns);
}

void zdc_pc_global_handle_timeout(uint64_t now_ns)
{
    zdc_sctp_global_tick(now_ns);
}

static void after_input(zdc_pc *pc, uint64_t now_ns);

/* A datagram this peer took (STUN for its agent, DTLS from a verified address). */
static void count_rx(zdc_pc *pc, size_t len, bool stun)
{
    pc->st.rx_packets++;
    pc->st.rx_bytes += len;
    if (stun) {
        pc->st.stun_rx_packets++;
        pc->st.stun_rx_bytes += len;
    }
}

int zdc_pc_handle_stun(zdc_pc *pc, const zdc_addr *from, const uint8_t *p, size_t len,
                       const zdc_stun_msg *msg, int parse_rv, uint64_t now_ns)
{
    if (pc->closed)
        return 0;
    pc->now_ns = now_ns;
    if (!pc->ice)
        return ZDC_ERR_NOT_FOUND;
    if (pc->sctp)
        zdc_sctp_set_now(pc->sctp, now_ns);
    if (zdc_ice_handle_stun_msg(pc->ice, from, p, len, msg, parse_rv, now_ns) == ZDC_ERR_NOT_FOUND)
        return ZDC_ERR_NOT_FOUND;
    count_rx(pc, len, true);
    after_input(pc, now_ns);
    return 0;
}

static void after_input(zdc_pc *pc, uint64_t now_ns)
{
    pc_start_dtls_if_ready(pc, now_ns);
    if (pc->dtls) {
        int ds = zdc_dtls_get_state(pc->dtls);
        if (ds == ZDC_DTLS_FAILED && !pc->dtls_failed) {
            pc->dtls_failed = true;
            pc_set_err(pc, "DTLS failed: %s", zdc_strerror(zdc_dtls_error(pc->dtls)));
        } else if (ds == ZDC_DTLS_CLOSED) {
            /* The peer sent close_notify: it closed the connection. */
            pc->remote_closed = true;
        } else if (ds == ZDC_DTLS_CONNECTED && pc->sctp && !pc->sctp_up &&
                   !zdc_sctp_is_up(pc->sctp)) {
            zdc_sctp_connect(pc->sctp); /* INVALID_STATE once connecting: harmless */
        }
    }
    bool over = pc->remote_closed || pc->ice_failed || pc->dtls_failed || pc->sctp_failed ||
                pc->nomem_failed;
    if (over && !pc->torn_down) {
        /* The connection is over (the peer left, or a layer failed): close every channel and
         * stop the association, DTLS and the consent checks, so nothing more is sent. Done
         * here, not in the callbacks that noticed, which run inside those layers. */
        pc->torn_down = true;
        for (size_t i = 0; i < pc->n_ch; i++)
            pc_channel_set_state(pc->ch[i], ZDC_CHANNEL_CLOSED);
        pc->sctp_up = false;
        if (pc->sctp)
            zdc_sctp_close(pc->sctp);
        if (pc->dtls)
            zdc_dtls_close(pc->dtls);
        if (pc->ice)
            zdc_ice_close(pc->ice);
    }
    pc_channels_reap(pc); /* forgotten channels that closed meanwhile */
    pc_update_connection_state(pc);
}

int zdc_pc_handle_datagram(zdc_pc *pc, const zdc_addr *from, const uint8_t *p, size_t len,
                           uint64_t now_ns)
{
    if (pc->closed)
        return 0;
    pc->now_ns = now_ns;
    if (pc->sctp)
        zdc_sctp_set_now(pc->sctp, now_ns);
    switch (zdc_demux_classify(p, len)) {
    case ZDC_DEMUX_STUN:
        if (!pc->ice)
            return ZDC_ERR_NOT_FOUND;
        if (zdc_ice_handle_stun(pc->ice, from, p, len, now_ns) == ZDC_ERR_NOT_FOUND)
            return ZDC_ERR_NOT_FOUND;
        count_rx(pc, len, true);
        break;
    case ZDC_DEMUX_DTLS:
        /* Only an address ICE has verified may speak DTLS to us: a datagram from anywhere else
         * cannot reach the handshake or inject data. */
        if (!pc->dtls || !zdc_pc_accepts_from(pc, from))
            return 0;
        /* Where we send changes only through ICE (on_selected_pair: our nomination, the
         * controlling peer's on a pair our own check validated, RFC 8445 §8.1.1, or the peer
         * moving to an address our check validated while the selected pair stopped answering
         * consent: zdc_ice_follow), never through a datagram alone: DTLS records are not
         * authenticated before the handshake ends, and a source address is easily forged. Before
         * any pair is selected, a validated pair the peer already speaks DTLS on is as good as any
         * (RFC 8445 §12.1: data may be sent on a valid pair before nomination completes). */
        if (!pc->have_remote_addr) {
            pc->remote_addr = *from;
            pc->have_remote_addr = true;
            pc->via_relay = -1;
        } else if (!zdc_addr_equal(from, &pc->remote_addr) && pc->ice) {
            /* the peer's NAT may have rebound: ICE decides (zdc_ice_follow), not the datagram */
            zdc_ice_follow(pc->ice, from, now_ns);
        }
        count_rx(pc, len, false);
        zdc_dtls_handle_datagram(pc->dtls, p, len, now_ns);
        break;
    default:
        return 0;
    }
    after_input(pc, now_ns);
    return 0;
}

int zdc_pc_handle_turn(zdc_pc *pc, const zdc_addr *from, const uint8_t *p, size_t len,
                       uint64_t now_ns)
{
    if (pc->closed)
        return ZDC_ERR_NOT_FOUND;
    pc->now_ns = now_ns;
    if (pc->sctp)
        zdc_sctp_set_now(pc->sctp, now_ns); /* relayed DTLS may carry SCTP */
    int rv = pc_turn_input(pc, from, p, len, now_ns);
    if (rv == ZDC_ERR_NOT_FOUND)
        return rv;
    after_input(pc, now_ns);
    return 0;
}

int zdc_pc_handle_turn_stream(zdc_pc *pc, unsigned slot, const uint8_t *p, size_t len,
                              uint64_t now_ns)
{
    if (pc->closed || slot >= pc->n_turn || !pc->turn[slot].t)
        return ZDC_ERR_NOT_FOUND;
    pc->now_ns = now_ns;
    if (pc->sctp)
        zdc_sctp_set_now(pc->sctp, now_ns);
    int rv = zdc_turn_handle_input(pc->turn[slot].t, p, len, now_ns);
    if (rv == ZDC_ERR_NOT_FOUND || rv == ZDC_ERR_CLOSED)
        return ZDC_ERR_NOT_FOUND;
    after_input(pc, now_ns);
    return 0;
}

void zdc_pc_turn_stream_failed(zdc_pc *pc, unsigned slot, const char *reason, uint64_t now_ns)
{
    if (pc->closed || slot >= pc->n_turn || !pc->turn[slot].t)
        return;
    pc->now_ns = now_ns;
    zdc_turn_abort(pc->turn[slot].t, ZDC_ERR_IO, reason);
    after_input(pc, now_ns);
}

void zdc_pc_turn_stream_opened(zdc_pc *pc, unsigned slot, const char *info)
{
    if (!pc->closed && slot < pc->n_turn && pc->turn[slot].t)
        snprintf(pc->turn[slot].info, sizeof pc->turn[slot].info, "%s", info ? info : "");
}

size_t zdc_pc_turn_servers(const zdc_pc *pc, zdc_addr *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < pc->n_turn && n < max; i++)
        if (pc->turn[i].t && !pc->closed && pc->turn_cfg[i].transport == ZDC_TURN_UDP)
            out[n++] = pc->turn_cfg[i].server;
    return n;
}

int zdc_pc_selected_candidate_types(const zdc_pc *pc, int *local_type, int *remote_type)
{
    if (!pc->ice || pc->closed)
        return ZDC_ERR_NOT_FOUND;
    return zdc_ice_selected_types(pc->ice, local_type, remote_type);
}

bool zdc_pc_accepts_from(const zdc_pc *pc, const zdc_addr *from)
{
    if (pc->closed || !from)
        return false;
    if (pc->have_remote_addr && zdc_addr_equal(from, &pc->remote_addr))
        return true;
    return pc->ice && zdc_ice_remote_verified(pc->ice, from);
}

uint64_t zdc_pc_next_timeout(const zdc_pc *pc)
{
    uint64_t t = UINT64_MAX;
    if (pc->closed)
        return t;
    if (pc->ice) {
        uint64_t x = zdc_ice_next_timeout(pc->ice);
        if (x < t)
            t = x;
    }
    if (pc->dtls) {
        uint64_t x = zdc_dtls_next_timeout(pc->dtls);
        if (x < t)
            t = x;
    }
    if (pc_turn_next_timeout(pc) < t)
        t = pc_turn_next_timeout(pc);
    uint64_t x;
    if (pc->sctp && !pc->env.owner_runs_global_timers && zdc_pc_global_next_timeout(&x) && x < t)
        t = x;
    if (pc->sctp && (x = zdc_sctp_next_timeout(pc->sctp)) < t)
        t = x; /* the native SCTP's own timers (usrsctp: none here) */
    if (pc->rx_resume)
        t = 0; /* the application made room: take what SCTP holds */
    return t;
}

void zdc_pc_batch_begin(zdc_pc *pc)
{
    if (pc == NULL || pc->closed || pc->batch)
        return;
    pc->batch = true;
    /* The SCTP is NOT put in batch mode: one SACK for a whole receive batch measured as
     * starving dcSCTP's sender (its slow start grows cwnd per SACK: with zdc offering,
     * Chromium's echo of a 50 MiB transfer fell behind until its send queue overflowed, 2 of
     * 2 runs; with SACKs at least every second packet, RFC 9260 §6.2, it passed). The
     * association's batch API stays (tested in sctp_proto_test) for a bounded variant. */
}

void zdc_pc_batch_end(zdc_pc *pc, uint64_t now_ns)
{
    if (pc == NULL || !pc->batch)
        return;
    pc->batch = false;
    if (pc->sctp) { /* one made during the batch is not in it: ending is harmless */
        zdc_sctp_set_now(pc->sctp, now_ns);
        zdc_sctp_batch_end(pc->sctp);
    }
}

void zdc_pc_handle_timeout(zdc_pc *pc, uint64_t now_ns)
{
    if (pc->closed)
        return;
    pc->now_ns = now_ns;
    pc_turn_handle_timeout(pc, now_ns);
    if (pc->ice)
        zdc_ice_handle_timeout(pc->ice, now_ns);
    if (pc->dtls)
        zdc_dtls_handle_timeout(pc->dtls, now_ns);
    if (pc->sctp && zdc_sctp_next_timeout(pc->sctp) <= now_ns)
        zdc_sctp_handle_timeout(pc->sctp, now_ns);
    else if (pc->sctp)
        zdc_sctp_set_now(pc->sctp, now_ns);
    /* usrsctp's timer wheel is process-wide: ticking it may run other peers' timers too,
     * and a second tick at the same now_ns does nothing. */
    uint64_t tick;
    if (pc->sctp && !pc->env.owner_runs_global_timers && zdc_pc_global_next_timeout(&tick) &&
        tick <= now_ns)
        zdc_pc_global_handle_timeout(now_ns);
    pc_channels_resume_receive(pc);
    pc_channels_flush(pc);
    after_input(pc, now_ns);
}

int zdc_pc_remote_address(const zdc_pc *pc, zdc_addr *out)
{
    if (!pc->have_remote_addr)
        return ZDC_ERR_NOT_FOUND;
    *out = pc->remote_addr;
    return 0;
}

const char *zdc_pc_local_ufrag(const zdc_pc *pc)
{
    return pc->ice && !pc->closed ? zdc_ice_local_ufrag(pc->ice) : NULL;
}
