/* Two peers on one engine over loopback, the offerer with the relay policy, through a small
 * TURN server played by this test (two UDP sockets on 127.0.0.1: the server port and the relayed
 * port; no authentication, which the client accepts when no 401 comes). It exercises what the
 * NAT scenarios need root for (test/nat/nat.sh): the peer connection's TURN glue, the engine
 * routing the server's datagrams, Send indications, ChannelBind and ChannelData both ways. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "turnmsg.h"
#include "zdc/zdc.h"

typedef struct server {
    int fd, relay_fd;
    zdc_addr addr, relay, client;
    bool have_client;
    zdc_addr perm[16];
    int n_perm;
    uint16_t chan_num[8];
    zdc_addr chan_peer[8];
    int n_chan;
    int allocations, binds, send_ind, cd_in, cd_out, data_ind;
} server;

static int udp_socket(zdc_addr *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    zdc_addr_from_sockaddr(bound, (struct sockaddr *)&sin, len);
    return fd;
}

static void to_stun(const zdc_addr *a, zdc_stun_addr *s)
{
    memset(s, 0, sizeof *s);
    s->family = (uint8_t)zdc_addr_family(a);
    s->port = zdc_addr_port(a);
    zdc_addr_bytes(a, s->ip);
}

static void send_to(int fd, const zdc_addr *to, const uint8_t *p, size_t n)
{
    sendto(fd, p, n, 0, &to->u.sa, to->len);
}

static void answer(server *s, const zdc_stun_msg *m, const zdc_turn_attrs *a)
{
    uint8_t buf[512];
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, buf, sizeof buf, m->method, ZDC_STUN_SUCCESS, m->txid);
    zdc_stun_addr sa;
    switch (m->method) {
    case ZDC_TURN_ALLOCATE:
        s->allocations++;
        to_stun(&s->relay, &sa);
        zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_RELAYED_ADDRESS, &sa);
        to_stun(&s->client, &sa);
        zdc_stun_add_xor_address(&b, ZDC_STUN_ATTR_XOR_MAPPED_ADDRESS, &sa);
        zdc_stun_add_u32(&b, ZDC_TURN_ATTR_LIFETIME, 600);
        break;
    case ZDC_TURN_REFRESH:
        zdc_stun_add_u32(&b, ZDC_TURN_ATTR_LIFETIME, a->has_lifetime ? a->lifetime : 600);
        break;
    case ZDC_TURN_CREATE_PERMISSION:
        cr_assert(a->has_peer);
        if (s->n_perm < 16)
            zdc_addr_from_bytes(&s->perm[s->n_perm++], a->peer.family, a->peer.ip, 0);
        break;
    case ZDC_TURN_CHANNEL_BIND:
        cr_assert(a->has_peer && a->has_channel);
        s->binds++;
        if (s->n_chan < 8) {
            s->chan_num[s->n_chan] = a->channel;
            zdc_addr_from_bytes(&s->chan_peer[s->n_chan++], a->peer.family, a->peer.ip,
                                a->peer.port);
        }
        break;
    default:
        return;
    }
    zdc_stun_add_fingerprint(&b);
    int n = zdc_stun_build_end(&b);
    cr_assert_gt(n, 0);
    send_to(s->fd, &s->client, buf, (size_t)n);
}

static bool permitted(const server *s, const zdc_addr *peer)
{
    for (int i = 0; i < s->n_perm; i++)
        if (zdc_addr_ip_equal(&s->perm[i], peer))
            return true;
    return false;
}

/* Forwards whatever waits on both sockets. */
static void server_step(server *s)
{
    uint8_t buf[2048];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ssize_t n;
    while ((n = recvfrom(s->fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl)) > 0) {
        zdc_addr from;
        zdc_addr_from_sockaddr(&from, (struct sockaddr *)&ss, sl);
        sl = sizeof ss;
        s->client = from;
        s->have_client = true;
        if (zdc_turn_is_channel_data(buf, (size_t)n)) {
            uint16_t ch;
            const uint8_t *d;
            size_t dl;
            cr_assert_eq(zdc_turn_channel_data_parse(buf, (size_t)n, &ch, &d, &dl), 0);
            for (int i = 0; i < s->n_chan; i++)
                if (s->chan_num[i] == ch) {
                    s->cd_in++;
                    send_to(s->relay_fd, &s->chan_peer[i], d, dl);
                }
            continue;
        }
        zdc_stun_msg m;
        zdc_turn_attrs a;
        int rv = zdc_turn_parse(buf, (size_t)n, &m, &a);
        cr_assert(rv == 0, "the client sent a bad message: %s", zdc_strerror(rv));
        if (m.cls == ZDC_STUN_REQUEST) {
            answer(s, &m, &a);
        } else if (m.cls == ZDC_STUN_INDICATION && m.method == ZDC_TURN_SEND) {
            cr_assert(a.has_peer && a.has_data);
            zdc_addr peer;
            zdc_addr_from_bytes(&peer, a.peer.family, a.peer.ip, a.peer.port);
            s->send_ind++;
            if (permitted(s, &peer)) /* RFC 8656 §11.2: only to permitted peers */
                send_to(s->relay_fd, &peer, a.data.p, a.data.len);
        }
    }
    while ((n = recvfrom(s->relay_fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl)) > 0) {
        zdc_addr from;
        zdc_addr_from_sockaddr(&from, (struct sockaddr *)&ss, sl);
        sl = sizeof ss;
        if (!s->have_client || !permitted(s, &from))
            continue;
        uint8_t out[2100];
        int k = -1;
        for (int i = 0; i < s->n_chan; i++)
            if (zdc_addr_equal(&s->chan_peer[i], &from))
                k = i;
        int len;
        if (k >= 0) {
            s->cd_out++;
            len =
                zdc_turn_channel_data_build(out, sizeof out, s->chan_num[k], buf, (size_t)n, false);
        } else {
            s->data_ind++;
            uint8_t id[12] = {1};
            zdc_stun_builder b;
            zdc_stun_addr pa;
            to_stun(&from, &pa);
            zdc_stun_build_begin(&b, out, sizeof out, ZDC_TURN_DATA, ZDC_STUN_INDICATION, id);
            zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_PEER_ADDRESS, &pa);
            zdc_stun_add_bytes(&b, ZDC_TURN_ATTR_DATA, buf, (size_t)n);
            len = zdc_stun_build_end(&b);
        }
        cr_assert_gt(len, 0);
        send_to(s->fd, &s->client, out, (size_t)len);
    }
}

typedef struct side {
    zdc_peer peer, other;
    zdc_channel ch;
    int open, state, msgs, relay_cands, other_cands;
    char last[64];
} side;

static side A, B;

static void on_sdp(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    side *s = user;
    cr_assert_eq(zdc_peer_set_local_description(peer, type, sdp), 0);
    cr_assert_eq(zdc_peer_set_remote_description(s->other, type, sdp), 0, "%s",
                 zdc_peer_last_error(s->other));
}

static void on_cand(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    side *s = user;
    if (cand[0]) {
        if (strstr(cand, "typ relay"))
            s->relay_cands++;
        else
            s->other_cands++;
    }
    zdc_peer_add_ice_candidate(s->other, mid, index, cand);
}

static void on_state(void *user, zdc_peer peer, int state)
{
    ((side *)user)->state = state;
}

static void on_open(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    s->ch = ch;
    s->open++;
}

static void on_received(void *user, zdc_peer peer, zdc_channel ch)
{
    ((side *)user)->ch = ch;
}

static void on_message(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    const uint8_t *p;
    size_t len;
    bool str;
    while (zdc_channel_get_packet(ch, &p, &len, &str) == 0) {
        snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)p);
        s->msgs++;
        zdc_channel_release_packet(ch);
        if (s == &B)
            zdc_channel_put_packet(ch, (const uint8_t *)"pong", 4);
    }
}

Test(turn_relay, relay_only_peer_connects_through_turn)
{
    server srv = {0};
    srv.fd = udp_socket(&srv.addr);
    srv.relay_fd = udp_socket(&srv.relay);
    char url[96], ip[ZDC_ADDR_STRLEN];
    zdc_addr_format(&srv.addr, true, ip, sizeof ip);
    snprintf(url, sizeof url, "turn:%s?transport=udp", ip);

    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.bind_address = "127.0.0.1";
    zdc_engine *e;
    cr_assert_eq(zdc_engine_new(&o, &e), 0);
    zdc_peer_callbacks cb = {.on_session_description_created = on_sdp,
                             .on_ice_candidate_created = on_cand,
                             .on_connection_state_change = on_state,
                             .on_channel_open = on_open,
                             .on_data_channel_received = on_received,
                             .on_channel_message = on_message};
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    cb.user = &A;
    cr_assert_eq(zdc_peer_new(e, &cb, &A.peer), 0);
    cb.user = &B;
    cr_assert_eq(zdc_peer_new(e, &cb, &B.peer), 0);
    A.other = B.peer;
    B.other = A.peer;
    zdc_ice_server ts = {.urls = url, .username = "u", .credential = "p"};
    zdc_peer_config ca = {
        .ice_servers = &ts, .n_ice_servers = 1, .ice_transport_policy = ZDC_ICE_TRANSPORT_RELAY};
    cr_assert_eq(zdc_peer_initialize(A.peer, &ca), 0, "%s", zdc_peer_last_error(A.peer));
    cr_assert_eq(zdc_peer_initialize(B.peer, &(zdc_peer_config){0}), 0);
    zdc_channel_options co = zdc_channel_options_default();
    zdc_channel ch;
    cr_assert_eq(zdc_peer_create_data_channel(A.peer, "t", &co, &ch), 0);
    cr_assert_eq(zdc_peer_create_offer(A.peer), 0);

    bool sent = false;
    for (int i = 0; i < 4000 && A.msgs == 0; i++) {
        zdc_engine_poll(e, 2);
        server_step(&srv);
        if (A.open && B.open && !sent) {
            cr_assert_eq(zdc_channel_put_packet(A.ch, (const uint8_t *)"ping", 4), 0);
            sent = true;
        }
    }
    cr_assert_eq(A.state, ZDC_STATE_CONNECTED, "A state %d: %s", A.state,
                 zdc_peer_last_error(A.peer));
    cr_assert_eq(B.msgs, 1);
    cr_assert_str_eq(B.last, "ping");
    cr_assert_eq(A.msgs, 1, "the answer came back through the relay");
    cr_assert_str_eq(A.last, "pong");
    cr_assert_eq(srv.allocations, 1);
    cr_assert_gt(A.relay_cands, 0);
    cr_assert_eq(A.other_cands, 0, "relay policy: only relayed candidates signaled");
    cr_assert_gt(srv.send_ind + srv.cd_in, 0, "A's traffic went through the server");
    cr_assert_gt(srv.data_ind + srv.cd_out, 0, "B's traffic came back through it");
    cr_assert_eq(srv.binds, 1, "a channel bound once the relayed pair was selected");
    cr_assert_gt(srv.cd_in, 0, "ChannelData from the client after the binding");
    zdc_peer_free(A.peer);
    zdc_peer_free(B.peer);
    /* Freeing A deallocated: a Refresh with LIFETIME 0 reached the server. */
    zdc_engine_free(e);
    close(srv.fd);
    close(srv.relay_fd);
}
