/* zdc's own implementation of the peer API (include/zdc/peer_impl.h): each peer is a sans-IO
 * peer connection (core/proto/pc.h) living on an engine (io/engine.c), which moves its datagrams
 * and runs its timers. This file only translates: calls go to core/proto/pc.h with the engine's
 * clock, and the peer connection's queued events become the application's callbacks. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "engine_member.h"
#include "iceurl.h"
#include "registry.h"
#include "zdc/peer_impl.h"

typedef struct bpeer {
    zdc_engine *engine;
    zdc_engine_member *member;
    zdc_pc *pc; /* the member's peer connection, until it is detached */
    zdc_peer self;
    char err[160]; /* an error of this layer (name resolution); else the connection's */
} bpeer;

#define MAX_URLS 8

/* Hands one event to the application. */
static void deliver(bpeer *b, const zdc_peer_callbacks *cb, zdc_pc_event *ev)
{
    zdc_peer self = b->self;
    zdc_channel ch = {ev->channel ? zdc_pc_channel_handle(ev->channel) : 0};
    switch (ev->kind) {
    case ZDC_PC_EV_DESCRIPTION:
        if (cb->on_session_description_created)
            cb->on_session_description_created(cb->user, self, ev->text, ev->text2);
        break;
    case ZDC_PC_EV_CANDIDATE:
        if (cb->on_ice_candidate_created)
            cb->on_ice_candidate_created(cb->user, self, ev->text, ev->mline_index, ev->text2);
        break;
    case ZDC_PC_EV_DATA_CHANNEL:
        /* The remote side opened it: give it a handle first (it stays until the peer is
         * freed). Without one (out of memory) the application cannot use it: not reported. */
        if (ch.id == 0 && zdc_peer_impl_add_channel(self, ev->channel, &ch) == 0)
            zdc_pc_channel_set_handle(ev->channel, ch.id);
        if (ch.id != 0 && cb->on_data_channel_received)
            cb->on_data_channel_received(cb->user, self, ch);
        break;
    case ZDC_PC_EV_CONNECTION:
        if (cb->on_connection_state_change)
            cb->on_connection_state_change(cb->user, self, ev->state);
        break;
    case ZDC_PC_EV_GATHERING:
        if (cb->on_gathering_state_change)
            cb->on_gathering_state_change(cb->user, self, ev->state);
        break;
    case ZDC_PC_EV_SIGNALING:
        if (cb->on_signaling_state_change)
            cb->on_signaling_state_change(cb->user, self, ev->state);
        break;
    case ZDC_PC_EV_CHANNEL_OPEN:
        if (ch.id && cb->on_channel_open)
            cb->on_channel_open(cb->user, self, ch);
        break;
    case ZDC_PC_EV_CHANNEL_CLOSE:
        if (ch.id && cb->on_channel_close)
            cb->on_channel_close(cb->user, self, ch);
        break;
    case ZDC_PC_EV_CHANNEL_MESSAGE:
        if (ch.id && cb->on_channel_message)
            cb->on_channel_message(cb->user, self, ch);
        break;
    case ZDC_PC_EV_CHANNEL_LOW:
        if (ch.id && cb->on_channel_buffered_amount_low)
            cb->on_channel_buffered_amount_low(cb->user, self, ch);
        break;
    default:
        break;
    }
}

/* Delivers this peer's queued events. A callback may close, re-initialize or free the peer:
 * each of those drops the queue (or makes the handle stale), which ends the loop, so no
 * callback follows them. Returns false when the peer was freed. */
static bool dispatch_events(bpeer *b)
{
    zdc_peer self = b->self;
    if (!zdc_peer_api_enter(self))
        return true; /* being freed: nothing more is delivered */
    for (;;) {
        const zdc_peer_callbacks *cb = zdc_peer_impl_callbacks(self);
        zdc_pc_event ev;
        if (!cb || !b->pc || zdc_pc_next_event(b->pc, &ev) != 1)
            break;
        deliver(b, cb, &ev);
        zdc_pc_event_clear(&ev);
    }
    return zdc_peer_api_leave(self);
}

static void member_dispatch(void *arg)
{
    dispatch_events(arg);
}

static void member_release(void *arg)
{
    bpeer *b = arg;
    zdc_peer_free(b->self); /* through the API: handles go stale, then destroy() detaches */
}

/* ---- the implementation table ---------------------------------------------------------- */

static int b_create(void *impl_user, zdc_engine *engine, zdc_peer self, void **obj)
{
    (void)impl_user;
    if (!engine || !obj)
        return ZDC_ERR_INVALID_PARAMETER;
    bpeer *b = calloc(1, sizeof *b);
    if (!b)
        return ZDC_ERR_NOMEM;
    b->engine = engine;
    b->self = self;
    static const zdc_engine_member_ops ops = {.dispatch = member_dispatch,
                                              .release = member_release};
    int rv = zdc_engine_attach(engine, &ops, b, &b->member);
    if (rv != 0) {
        free(b);
        return rv;
    }
    b->pc = zdc_engine_member_pc(b->member);
    zdc_pc_set_log_peer(b->pc, self.id);
    /* A new peer starts in NEW with no ICE servers, like an initialized one. */
    zdc_pc_initialize(b->pc, NULL);
    zdc_engine_member_changed(b->member);
    *obj = b;
    return 0;
}

static void b_destroy(void *obj)
{
    bpeer *b = obj;
    zdc_engine_detach(b->member);
    b->member = NULL;
    b->pc = NULL;
    free(b);
}

static zdc_pc *pc_of(void *obj)
{
    return ((bpeer *)obj)->pc;
}

/* After a call that may move the connection's deadline or routing keys (engine_member.h);
 * passes rv through. */
static int changed(void *obj, int rv)
{
    bpeer *b = obj;
    b->err[0] = '\0'; /* the connection's own error is the last one now */
    zdc_engine_member_changed(b->member);
    return rv;
}

/* Resolves a STUN server's name to an address of a family the engine has a socket for.
 * Returns 0 or ZDC_ERR_NOT_FOUND. */
static int resolve(const bpeer *b, const char *host, char *ip, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return ZDC_ERR_NOT_FOUND;
    int rv = ZDC_ERR_NOT_FOUND;
    for (struct addrinfo *ai = res; ai && rv != 0; ai = ai->ai_next) {
        int fam = ai->ai_family == AF_INET ? 4 : ai->ai_family == AF_INET6 ? 6 : 0;
        if (fam == 0 || zdc_engine_port(b->engine, fam) < 0)
            continue;
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) ==
            0)
            rv = 0;
    }
    freeaddrinfo(res);
    return rv;
}

/* peer.h: stun:/turn: names are resolved when the configuration is applied (by the caller of
 * zdc_peer_initialize, never inside poll); the peer connection takes numeric addresses only.
 * Rewrites each server's URLs with their addresses into urls[] (scheme, port and transport
 * kept; a malformed list is kept as it is, for the connection to report). */
static int resolve_servers(bpeer *b, const zdc_peer_config *cfg, zdc_ice_server *servers,
                           char (*urls)[600], char (*names)[256])
{
    static const char *const schemes[] = {"stun", "stuns", "turn", "turns"};
    for (size_t i = 0; i < cfg->n_ice_servers; i++) {
        servers[i] = cfg->ice_servers[i];
        zdc_iceurl u[MAX_URLS];
        size_t n = 0;
        if (zdc_iceurl_parse_list(cfg->ice_servers[i].urls, u, MAX_URLS, &n) != 0)
            continue; /* malformed: the connection reports it */
        size_t off = 0;
        for (size_t k = 0; k < n; k++) {
            char ip[INET6_ADDRSTRLEN + 8];
            const char *host = u[k].host;
            zdc_addr probe;
            if (zdc_addr_from_ip(&probe, host, strlen(host), 0) != 0) {
                if (resolve(b, host, ip, sizeof ip) != 0) {
                    snprintf(b->err, sizeof b->err, "ice server %zu: cannot resolve '%.100s'", i,
                             host);
                    return ZDC_ERR_INVALID_PARAMETER;
                }
                /* turns: the certificate is checked against the name, not the address. */
                if (u[k].scheme == ZDC_ICEURL_TURNS && !servers[i].tls_server_name) {
                    memcpy(names[i], u[k].host, sizeof names[i]);
                    servers[i].tls_server_name = names[i];
                }
                host = ip;
            }
            bool v6 = strchr(host, ':') != NULL;
            const char *tr = u[k].transport == ZDC_ICEURL_UDP   ? "?transport=udp"
                             : u[k].transport == ZDC_ICEURL_TCP ? "?transport=tcp"
                                                                : "";
            int w = snprintf(urls[i] + off, 600 - off, "%s%s:%s%s%s:%u%s", k ? "," : "",
                             schemes[u[k].scheme], v6 ? "[" : "", host, v6 ? "]" : "",
                             (unsigned)u[k].port, tr);
            if (w < 0 || (size_t)w >= 600 - off)
                return ZDC_ERR_INVALID_PARAMETER;
            off += (size_t)w;
        }
        servers[i].urls = urls[i];
    }
    return 0;
}

static int initialize(void *obj, const zdc_peer_config *cfg);

static int b_initialize(void *obj, const zdc_peer_config *cfg)
{
    /* Not through changed(): an error of this layer (b->err) must outlive the call. */
    int rv = initialize(obj, cfg);
    zdc_engine_member_changed(((bpeer *)obj)->member);
    return rv;
}

static int initialize(void *obj, const zdc_peer_config *cfg)
{
    bpeer *b = obj;
    b->err[0] = '\0';
    if (!cfg || cfg->n_ice_servers == 0)
        return zdc_pc_initialize(b->pc, cfg);
    if (cfg->n_ice_servers > MAX_URLS || !cfg->ice_servers) {
        snprintf(b->err, sizeof b->err, "at most %d ICE servers", MAX_URLS);
        zdc_pc_initialize(b->pc, NULL);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    zdc_ice_server servers[MAX_URLS];
    char(*urls)[600] = malloc(MAX_URLS * sizeof *urls);
    char(*names)[256] = malloc(MAX_URLS * sizeof *names);
    if (!urls || !names) {
        free(urls);
        free(names);
        return ZDC_ERR_NOMEM;
    }
    int rv = resolve_servers(b, cfg, servers, urls, names);
    if (rv == 0) {
        zdc_peer_config c = *cfg;
        c.ice_servers = servers;
        rv = zdc_pc_initialize(b->pc, &c);
    } else {
        zdc_pc_initialize(b->pc, NULL); /* peer.h: NEW, no ICE servers */
    }
    free(urls);
    free(names);
    return rv;
}

static int b_create_data_channel(void *obj, const char *label, const zdc_channel_options *o,
                                 zdc_channel *out)
{
    bpeer *b = obj;
    zdc_pc_channel *c;
    /* peer.h: channels are created in state NEW (the peer connection itself would take them
     * later too, in-band, as browsers do). */
    if (zdc_pc_connection_state(b->pc) != ZDC_STATE_NEW)
        return ZDC_ERR_INVALID_STATE;
    int rv = changed(b, zdc_pc_create_channel(b->pc, label, o, &c));
    if (rv != 0)
        return rv;
    rv = zdc_peer_impl_add_channel(b->self, c, out);
    if (rv != 0)
        return rv; /* the channel stays in the peer connection, unreachable, until reset */
    zdc_pc_channel_set_handle(c, out->id);
    return 0;
}

static int b_create_offer(void *obj)
{
    return changed(obj, zdc_pc_create_offer(pc_of(obj), zdc_engine_now_ns()));
}

static int b_set_remote_description(void *obj, const char *type, const char *sdp)
{
    return changed(obj, zdc_pc_set_remote_description(pc_of(obj), type, sdp, zdc_engine_now_ns()));
}

static int b_set_local_description(void *obj, const char *type, const char *sdp)
{
    return changed(obj, zdc_pc_set_local_description(pc_of(obj), type, sdp, zdc_engine_now_ns()));
}

static int b_add_ice_candidate(void *obj, const char *mid, int index, const char *name)
{
    return changed(obj, zdc_pc_add_ice_candidate(pc_of(obj), mid, index, name));
}

/* Moves the engine's datagrams and timers (no callbacks of other peers), then fires this
 * peer's. */
static int b_poll(void *obj)
{
    bpeer *b = obj;
    int rv = zdc_engine_step(b->engine, 0);
    dispatch_events(b);
    return rv;
}

static void b_close(void *obj)
{
    zdc_pc_close(pc_of(obj));
    changed(obj, 0);
}
static int b_connection_state(void *obj)
{
    return zdc_pc_connection_state(pc_of(obj));
}
static int b_gathering_state(void *obj)
{
    return zdc_pc_gathering_state(pc_of(obj));
}
static int b_signaling_state(void *obj)
{
    return zdc_pc_signaling_state(pc_of(obj));
}
static const char *b_local_description(void *obj, bool with_candidates)
{
    return zdc_pc_local_description(pc_of(obj), with_candidates);
}

static const char *b_last_error(void *obj)
{
    const bpeer *b = obj;
    return b->err[0] ? b->err : zdc_pc_last_error(b->pc);
}

/* Channel calls move SCTP only: usrsctp's timers are the engine's single tick, and the
 * events they queue reach the engine through zdc_pc_env.notify; ICE and DTLS deadlines do not
 * change, so no zdc_engine_member_changed here. */
static int c_send(void *c, const uint8_t *p, size_t len, bool text)
{
    return zdc_pc_channel_send(c, p, len, text);
}

static int c_buf_acquire(void *c, size_t cap, uint8_t **data)
{
    return zdc_pc_channel_buffer_acquire(c, cap, data);
}
static int c_buf_submit(void *c, size_t len, bool text)
{
    return zdc_pc_channel_buffer_submit(c, len, text);
}
static void c_buf_discard(void *c)
{
    zdc_pc_channel_buffer_discard(c);
}

static int c_get_packet(void *c, const uint8_t **p, size_t *len, bool *was_string)
{
    return zdc_pc_channel_peek(c, p, len, was_string);
}

static void c_release_packet(void *c)
{
    zdc_pc_channel_release(c);
}
static int c_available(void *c)
{
    return zdc_pc_channel_available(c);
}
static int c_close(void *c)
{
    return zdc_pc_channel_close(c);
}
static int c_state(void *c)
{
    return zdc_pc_channel_state(c);
}
static const char *c_label(void *c)
{
    return zdc_pc_channel_label(c);
}
static const char *c_protocol(void *c)
{
    return zdc_pc_channel_protocol(c);
}
static int c_id(void *c)
{
    return zdc_pc_channel_id(c);
}
static bool c_ordered(void *c)
{
    return zdc_pc_channel_ordered(c);
}
static bool c_negotiated(void *c)
{
    return zdc_pc_channel_negotiated(c);
}
static int c_max_life(void *c)
{
    return zdc_pc_channel_max_packet_life_time(c);
}
static int c_max_rtx(void *c)
{
    return zdc_pc_channel_max_retransmits(c);
}
static size_t c_buffered(void *c)
{
    return zdc_pc_channel_buffered_amount(c);
}
static void c_set_low(void *c, size_t bytes)
{
    zdc_pc_channel_set_low_threshold(c, bytes);
}

static void c_release(void *obj)
{
    zdc_pc_channel_forget(obj);
}

static int b_restart_ice(void *obj)
{
    return changed(obj, zdc_pc_restart_ice(pc_of(obj), zdc_engine_now_ns()));
}

static int b_get_stats(void *obj, zdc_peer_stats *out)
{
    zdc_pc *pc = pc_of(obj);
    if (!pc)
        return ZDC_ERR_GONE;
    zdc_pc_get_stats(pc, zdc_engine_now_ns(), out);
    return 0;
}

static int c_get_stats(void *obj, zdc_channel_stats *out)
{
    zdc_pc_channel_get_stats(obj, out);
    return 0;
}

static const zdc_peer_impl builtin = {
    .name = "zdc",
    .create = b_create,
    .destroy = b_destroy,
    .initialize = b_initialize,
    .create_data_channel = b_create_data_channel,
    .create_offer = b_create_offer,
    .set_remote_description = b_set_remote_description,
    .set_local_description = b_set_local_description,
    .add_ice_candidate = b_add_ice_candidate,
    .poll = b_poll,
    .close = b_close,
    .connection_state = b_connection_state,
    .gathering_state = b_gathering_state,
    .signaling_state = b_signaling_state,
    .last_error = b_last_error,
    .channel_send = c_send,
    .channel_get_packet = c_get_packet,
    .channel_release_packet = c_release_packet,
    .channel_available = c_available,
    .channel_close = c_close,
    .channel_state = c_state,
    .channel_label = c_label,
    .channel_protocol = c_protocol,
    .channel_id = c_id,
    .channel_ordered = c_ordered,
    .channel_negotiated = c_negotiated,
    .channel_max_packet_life_time = c_max_life,
    .channel_max_retransmits = c_max_rtx,
    .channel_buffered_amount = c_buffered,
    .channel_set_low_threshold = c_set_low,
    .channel_buffer_acquire = c_buf_acquire,
    .channel_buffer_submit = c_buf_submit,
    .channel_buffer_discard = c_buf_discard,
    .channel_release = c_release,
    .get_stats = b_get_stats,
    .restart_ice = b_restart_ice,
    .channel_get_stats = c_get_stats,
    .local_description = b_local_description,
};

const zdc_peer_impl *zdc_peer_builtin_impl(void)
{
    return &builtin;
}
