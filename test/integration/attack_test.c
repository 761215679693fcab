/* Hostile remotes on real loopback sockets, through the public API (issue 10; docs/security.md
 * lists what each case proves). The test plays the signaling channel and the attackers: an
 * on-path relay that sees the peers' datagrams, and an attacker socket of its own that replays
 * them and sends DTLS. Every wait is bounded; traffic goes to 127.0.0.1 only.
 *
 * ctest-labels: security */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zdc/zdc.h"

typedef struct side {
    const char *name;
    zdc_peer peer;
    struct side *other;
    zdc_engine *engine;
    int conn_state;
    zdc_channel ch;   /* ours (created) or the remote's (received) */
    bool hold;        /* the application does not read */
    int n_msg_events; /* on_channel_message */
    /* candidate rewriting: the port of our candidates as the other side sees them */
    int rewrite_from, rewrite_to;
} side;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_description(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    side *s = user;
    cr_assert_eq(zdc_peer_set_local_description(peer, type, sdp), 0);
    cr_assert_eq(zdc_peer_set_remote_description(s->other->peer, type, sdp), 0, "%s",
                 zdc_peer_last_error(s->other->peer));
}

static void on_candidate(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    side *s = user;
    char line[600];
    snprintf(line, sizeof line, "%s", cand);
    if (s->rewrite_from) {
        char from[16], to[16];
        snprintf(from, sizeof from, " %d ", s->rewrite_from);
        snprintf(to, sizeof to, " %d ", s->rewrite_to);
        char *k = strstr(line, from);
        if (k && strlen(from) == strlen(to))
            memcpy(k, to, strlen(to));
    }
    zdc_peer_add_ice_candidate(s->other->peer, mid, index, line); /* refusals are fine here */
}

static void on_data_channel(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    s->ch = ch;
}

static void on_connection(void *user, zdc_peer peer, int state)
{
    side *s = user;
    s->conn_state = state;
}

static void on_message(void *user, zdc_peer peer, zdc_channel ch)
{
    side *s = user;
    s->n_msg_events++;
}

static void new_side(side *s, const char *name, const zdc_engine_options *o)
{
    s->name = name;
    zdc_engine_options d;
    zdc_engine_options_default(&d);
    d.include_loopback = true;
    d.bind_address = "127.0.0.1";
    d.ipv6 = false;
    if (o) {
        d.max_receive_queue_channel = o->max_receive_queue_channel;
        d.max_receive_queue_peer = o->max_receive_queue_peer;
    }
    cr_assert_eq(zdc_engine_new(&d, &s->engine), 0);
    zdc_peer_callbacks cb = {.user = s,
                             .on_session_description_created = on_description,
                             .on_ice_candidate_created = on_candidate,
                             .on_data_channel_received = on_data_channel,
                             .on_connection_state_change = on_connection,
                             .on_channel_message = on_message};
    cr_assert_eq(zdc_peer_new(s->engine, &cb, &s->peer), 0);
}

static void free_side(side *s)
{
    zdc_peer_free(s->peer);
    zdc_engine_free(s->engine);
}

/* ---- the on-path relay and the attacker's own socket ----------------------------------- */

typedef struct relay {
    int fd;       /* the relay: B believes A is here */
    int attacker; /* the attacker's own address */
    struct sockaddr_in a, b;
    uint8_t req[1500]; /* the first STUN request B sent towards A */
    size_t req_len;
    size_t attacker_rx, attacker_rx_dtls;               /* what zdc sent to the attacker */
    size_t attacker_rx_responses, attacker_rx_requests; /* of which STUN answers, checks */
} relay;

static int udp_socket(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t l = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &l);
    *port = ntohs(sa.sin_port);
    return fd;
}

static struct sockaddr_in lo(uint16_t port)
{
    return (struct sockaddr_in){
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

static void relay_pump(relay *r)
{
    uint8_t buf[2048];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n;
    while ((n = recvfrom(r->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl)) > 0) {
        bool from_b = from.sin_port == r->b.sin_port;
        if (from_b && !r->req_len && buf[0] == 0x00 && buf[1] == 0x01) {
            memcpy(r->req, buf, (size_t)n); /* a Binding request: captured */
            r->req_len = (size_t)n;
        }
        const struct sockaddr_in *to = from_b ? &r->a : &r->b;
        sendto(r->fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof *to);
        fl = sizeof from;
    }
    while ((n = recv(r->attacker, buf, sizeof buf, 0)) > 0) {
        r->attacker_rx++;
        /* STUN (RFC 7983: first byte 0..3): a response has class bit C1 (0x0100) set, a
         * request neither C1 nor C0 (RFC 8489 §5). */
        if (n >= 20 && buf[0] <= 3) {
            if (buf[0] & 0x01)
                r->attacker_rx_responses++;
            else if (!(buf[1] & 0x10))
                r->attacker_rx_requests++;
        }
        if (buf[0] >= 20 && buf[0] <= 63)
            r->attacker_rx_dtls++;
    }
}

static void poll_all(side *a, side *b, relay *r)
{
    zdc_engine_poll(a->engine, 1);
    zdc_engine_poll(b->engine, 1);
    if (r)
        relay_pump(r);
}

#define DRIVE(a, b, r, cond, ms)                                                                   \
    do {                                                                                           \
        uint64_t end_ = now_ms() + (ms);                                                           \
        while (!(cond) && now_ms() < end_)                                                         \
            poll_all(a, b, r);                                                                     \
        cr_assert(cond, "not within %d ms: %s", (int)(ms), #cond);                                 \
    } while (0)

/* The replay, then DTLS from the attacker's address: a 13-byte record header and a
 * ClientHello-looking record. */
static void attack(relay *r)
{
    if (!r->req_len)
        return;
    uint8_t hello[120];
    memset(hello, 0x5a, sizeof hello);
    hello[0] = 22;
    hello[1] = 0xfe;
    hello[2] = 0xfd;
    hello[13] = 1;
    for (int i = 0; i < 3; i++) {
        sendto(r->attacker, r->req, r->req_len, 0, (const struct sockaddr *)&r->a, sizeof r->a);
        sendto(r->attacker, hello, i == 0 ? 13 : sizeof hello, 0, (const struct sockaddr *)&r->a,
               sizeof r->a);
    }
}

/* Finding 2: an on-path attacker that replays B's check to A from its own address and sends
 * DTLS from there cannot hijack or break the connection, and gets no DTLS from A. */
Test(security, replayed_check_and_dtls_from_an_attacker_on_loopback)
{
    side a = {0}, b = {0};
    new_side(&a, "A", NULL);
    new_side(&b, "B", NULL);
    a.other = &b;
    b.other = &a;
    relay r = {0};
    uint16_t rport, xport;
    r.fd = udp_socket(&rport);
    r.attacker = udp_socket(&xport);
    r.a = lo((uint16_t)zdc_engine_port(a.engine, 4));
    r.b = lo((uint16_t)zdc_engine_port(b.engine, 4));
    /* B learns A's candidate as the relay's port: B's checks to A pass the attacker */
    a.rewrite_from = zdc_engine_port(a.engine, 4);
    a.rewrite_to = rport;
    if (a.rewrite_from < 10000 || rport < 10000)
        a.rewrite_from = 0; /* port widths differ: no rewriting, the relay sees less */
    zdc_channel_options o = zdc_channel_options_default();
    cr_assert_eq(zdc_peer_create_data_channel(a.peer, "c", &o, &a.ch), 0);
    cr_assert_eq(zdc_peer_create_offer(a.peer), 0);
    uint64_t end = now_ms() + 15000;
    bool attacked = false;
    while (!(a.conn_state == ZDC_STATE_CONNECTED && b.conn_state == ZDC_STATE_CONNECTED &&
             b.ch.id && zdc_channel_get_ready_state(a.ch) == ZDC_CHANNEL_OPEN) &&
           now_ms() < end) {
        poll_all(&a, &b, &r);
        if (r.req_len && !attacked) {
            attack(&r); /* during the handshake */
            attacked = true;
        }
    }
    cr_assert(a.conn_state == ZDC_STATE_CONNECTED && b.conn_state == ZDC_STATE_CONNECTED,
              "connected despite the attacker: %d %d", a.conn_state, b.conn_state);
    cr_assert_gt(r.req_len, 0, "the on-path relay captured a check of B's");
    attack(&r); /* and after */
    for (int i = 0; i < 20; i++)
        cr_assert_eq(zdc_channel_put_packet(a.ch, (const uint8_t *)"ping", 4), 0);
    DRIVE(&a, &b, &r, zdc_channel_get_available_packet_count(b.ch) == 20, 5000);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(zdc_channel_put_packet(b.ch, (const uint8_t *)"pong", 4), 0);
    DRIVE(&a, &b, &r, zdc_channel_get_available_packet_count(a.ch) == 20, 5000);
    size_t before = r.attacker_rx_responses;
    attack(&r);
    uint64_t t = now_ms() + 300;
    while (now_ms() < t)
        poll_all(&a, &b, &r);
    cr_assert_eq(r.attacker_rx_dtls, 0, "A sent DTLS to the attacker");
    cr_assert_eq(r.attacker_rx_responses, before,
                 "nothing answers a replay once the peer is validated");
    /* A replay that won the race during the handshake may have drawn one triggered check of
     * A's to the attacker's address (which never answers: it is never validated); its
     * retransmissions are bounded by Rc (RFC 8489 §6.2.1: 7 sends). */
    cr_assert_leq(r.attacker_rx_requests, 7, "checks sent to the attacker: %zu",
                  r.attacker_rx_requests);
    cr_assert_eq(a.conn_state, ZDC_STATE_CONNECTED);
    close(r.fd);
    close(r.attacker);
    free_side(&a);
    free_side(&b);
}

/* Finding 1: a sender the application does not read is held back by flow control; the
 * receiver's unread messages stay under its limit; reading resumes, intact and in order. */
Test(security, unread_flood_is_held_back_by_the_receive_limit_on_loopback)
{
    enum { MSG = 8192, N = 600, LIMIT = 128 * 1024 };
    zdc_engine_options lim;
    zdc_engine_options_default(&lim);
    lim.max_receive_queue_channel = LIMIT;
    lim.max_receive_queue_peer = 2 * LIMIT;
    side a = {0}, b = {0};
    new_side(&a, "A", NULL);
    new_side(&b, "B", &lim);
    a.other = &b;
    b.other = &a;
    zdc_channel_options o = zdc_channel_options_default();
    cr_assert_eq(zdc_peer_create_data_channel(a.peer, "flood", &o, &a.ch), 0);
    cr_assert_eq(zdc_peer_create_offer(a.peer), 0);
    DRIVE(&a, &b, NULL, b.ch.id && zdc_channel_get_ready_state(a.ch) == ZDC_CHANNEL_OPEN, 15000);
    uint8_t *buf = malloc(MSG);
    for (uint32_t i = 0; i < N; i++) {
        memset(buf, (int)(i & 0xff), MSG);
        memcpy(buf, &i, 4);
        cr_assert_eq(zdc_channel_put_packet(a.ch, buf, MSG), 0, "send %u", i);
    }
    int most = 0;
    uint64_t end = now_ms() + 1500;
    while (now_ms() < end) {
        poll_all(&a, &b, NULL);
        int q = zdc_channel_get_available_packet_count(b.ch);
        most = q > most ? q : most;
    }
    int cap = LIMIT / (MSG + 64) + 1;
    cr_assert_gt(most, 0, "messages arrived");
    cr_assert_leq(most, cap, "%d unread messages held, the limit allows %d", most, cap);
    size_t held = zdc_channel_get_buffered_amount(a.ch);
    cr_assert_gt(held, (size_t)N * MSG / 2, "the sender holds %zu bytes", held);
    for (uint32_t i = 0; i < N; i++) {
        DRIVE(&a, &b, NULL, zdc_channel_get_available_packet_count(b.ch) > 0, 10000);
        const uint8_t *p;
        size_t len;
        bool text;
        cr_assert_eq(zdc_channel_get_packet(b.ch, &p, &len, &text), 0);
        uint32_t idx;
        memcpy(&idx, p, 4);
        cr_assert_eq(idx, i, "message %u in place of %u", idx, i);
        cr_assert_eq(len, MSG);
        cr_assert_eq(p[MSG - 1], (uint8_t)(i & 0xff));
        zdc_channel_release_packet(b.ch);
    }
    free(buf);
    free_side(&a);
    free_side(&b);
}
