/* TURN configuration through the public API (docs/turn.md): turn: URLs need credentials,
 * TCP/TLS URLs are used (a refused connection is reported), the transport policy is checked, and
 * the relay policy signals no host candidate. Loopback only; the TURN server named here does not
 * exist. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/zdc.h"

static zdc_engine *engine_v4(void)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.bind_address = "127.0.0.1";
    zdc_engine *e = NULL;
    int rv = zdc_engine_new(&o, &e);
    cr_assert_eq(rv, 0, "engine on 127.0.0.1: %s", zdc_strerror(rv));
    return e;
}

Test(turn_config, turn_url_needs_credentials)
{
    zdc_engine *e = engine_v4();
    zdc_peer p;
    cr_assert_eq(zdc_peer_new(e, NULL, &p), 0);
    zdc_ice_server s = {.urls = "turn:127.0.0.1:3478?transport=udp", .username = "alice"};
    zdc_peer_config c = {.ice_servers = &s, .n_ice_servers = 1};
    cr_assert_eq(zdc_peer_initialize(p, &c), ZDC_ERR_INVALID_PARAMETER);
    cr_assert(strstr(zdc_peer_last_error(p), "username and credential"), "last error: '%s'",
              zdc_peer_last_error(p));
    s.credential = "s3cret";
    cr_assert_eq(zdc_peer_initialize(p, &c), 0, "%s", zdc_peer_last_error(p));
    zdc_peer_free(p);
    zdc_engine_free(e);
}

Test(turn_config, unknown_transport_policy_refused)
{
    zdc_engine *e = engine_v4();
    zdc_peer p;
    cr_assert_eq(zdc_peer_new(e, NULL, &p), 0);
    zdc_peer_config c = {.ice_transport_policy = 7};
    cr_assert_eq(zdc_peer_initialize(p, &c), ZDC_ERR_INVALID_PARAMETER);
    cr_assert(strstr(zdc_peer_last_error(p), "ice_transport_policy"), "last error: '%s'",
              zdc_peer_last_error(p));
    zdc_peer_free(p);
    zdc_engine_free(e);
}

typedef struct seen {
    int candidates, host;
    char sdp_type[16];
    char *sdp;
} seen;

static void on_sdp(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    seen *s = user;
    snprintf(s->sdp_type, sizeof s->sdp_type, "%s", type);
    free(s->sdp);
    s->sdp = strdup(sdp);
}

static void on_cand(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    seen *s = user;
    if (!cand[0])
        return;
    s->candidates++;
    s->host += strstr(cand, "typ host") != NULL;
}

Test(turn_config, relay_policy_signals_no_host_candidate)
{
    zdc_engine *e = engine_v4();
    seen s = {0};
    zdc_peer_callbacks cb = {
        .user = &s, .on_session_description_created = on_sdp, .on_ice_candidate_created = on_cand};
    zdc_peer p;
    cr_assert_eq(zdc_peer_new(e, &cb, &p), 0);
    zdc_ice_server srv = {
        .urls = "turn:127.0.0.1:9?transport=udp", .username = "alice", .credential = "s3cret"};
    zdc_peer_config c = {
        .ice_servers = &srv, .n_ice_servers = 1, .ice_transport_policy = ZDC_ICE_TRANSPORT_RELAY};
    cr_assert_eq(zdc_peer_initialize(p, &c), 0, "%s", zdc_peer_last_error(p));
    zdc_channel ch;
    zdc_channel_options o = zdc_channel_options_default();
    cr_assert_eq(zdc_peer_create_data_channel(p, "x", &o, &ch), 0);
    cr_assert_eq(zdc_peer_create_offer(p), 0);
    for (int i = 0; i < 20 && !s.sdp; i++)
        zdc_peer_poll(p);
    cr_assert_not_null(s.sdp);
    cr_assert_eq(zdc_peer_set_local_description(p, "offer", s.sdp), 0);
    /* Gathering runs (the Allocate to a port nobody serves goes unanswered); no host
     * candidate may appear meanwhile, and none is in the offer. */
    for (int i = 0; i < 30; i++) {
        zdc_peer_poll(p);
        zdc_engine_poll(e, 10);
    }
    cr_assert_eq(s.host, 0, "relay policy: no host candidate signaled");
    cr_assert_eq(s.candidates, 0, "no relay either: the server does not exist");
    cr_assert_null(strstr(s.sdp, "typ host"));
    cr_assert_eq(zdc_peer_get_gathering_state(p), ZDC_GATHERING_GATHERING,
                 "gathering waits for the allocation");
    free(s.sdp);
    zdc_peer_free(p);
    zdc_engine_free(e);
}

/* A TCP port on 127.0.0.1 where nobody listens (bound, then closed). */
static uint16_t closed_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

typedef struct gather_seen {
    int state;
    char *sdp;
} gather_seen;

static void on_gathering(void *user, zdc_peer peer, int state)
{
    ((gather_seen *)user)->state = state;
}

static void on_offer(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    gather_seen *g = user;
    free(g->sdp);
    g->sdp = strdup(sdp);
}

/* turn:?transport=tcp and turns: are used now (RFC 6062 framing over the engine's TCP
 * streams): a server that refuses the connection fails that allocation with the reason in
 * zdc_peer_last_error, gathering completes without it, and poll never blocks. */
static void refused_stream(const char *scheme, const char *query, const char *why)
{
    zdc_engine *e = engine_v4();
    gather_seen g = {.state = -1};
    zdc_peer_callbacks cb = {.user = &g,
                             .on_gathering_state_change = on_gathering,
                             .on_session_description_created = on_offer};
    zdc_peer p;
    cr_assert_eq(zdc_peer_new(e, &cb, &p), 0);
    char url[96];
    snprintf(url, sizeof url, "%s:127.0.0.1:%u%s", scheme, (unsigned)closed_tcp_port(), query);
    zdc_ice_server s = {.urls = url, .username = "alice", .credential = "s3cret"};
    zdc_peer_config c = {.ice_servers = &s, .n_ice_servers = 1};
    cr_assert_eq(zdc_peer_initialize(p, &c), 0, "%s", zdc_peer_last_error(p));
    cr_assert_eq(zdc_peer_last_error(p)[0], 0, "nothing skipped: '%s'", zdc_peer_last_error(p));
    zdc_channel ch;
    zdc_channel_options o = zdc_channel_options_default();
    cr_assert_eq(zdc_peer_create_data_channel(p, "x", &o, &ch), 0);
    cr_assert_eq(zdc_peer_create_offer(p), 0);
    for (int i = 0; i < 20 && !g.sdp; i++)
        zdc_peer_poll(p);
    cr_assert_not_null(g.sdp);
    cr_assert_eq(zdc_peer_set_local_description(p, "offer", g.sdp), 0);
    free(g.sdp);
    uint64_t start = now_ms();
    for (int i = 0; i < 300 && g.state != ZDC_GATHERING_COMPLETE; i++) {
        zdc_peer_poll(p);
        zdc_engine_poll(e, 10);
    }
    uint64_t ms = now_ms() - start;
    cr_assert_eq(g.state, ZDC_GATHERING_COMPLETE, "gathering completes without the relay");
    cr_assert_lt(ms, 2000, "a refused connection is seen at once (%llu ms)",
                 (unsigned long long)ms);
    cr_assert(strstr(zdc_peer_last_error(p), why), "last error: '%s'", zdc_peer_last_error(p));
    cr_assert(strstr(zdc_peer_last_error(p), "Connection refused"), "last error: '%s'",
              zdc_peer_last_error(p));
    zdc_peer_free(p);
    zdc_engine_free(e);
}

Test(turn_config, tcp_url_used_refused_connection_reported)
{
    refused_stream("turn", "?transport=tcp", "TURN over TCP");
}

Test(turn_config, tls_url_used_refused_connection_reported)
{
    refused_stream("turns", "", "TURN over TLS");
}
