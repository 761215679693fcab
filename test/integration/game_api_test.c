/* What a game server needs from the peer API (issue 13): non-trickle signaling with
 * zdc_peer_get_local_description, remote candidates beyond the cap ignored instead of
 * refused, user data on peers and channels, and the documented callback rules (send from a
 * received view, close a channel from its own message callback). Two peers on one engine over
 * loopback, driven by zdc_engine_poll. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "zdc/log.h"
#include "zdc/zdc.h"

typedef struct side {
    zdc_peer peer;
    zdc_channel ch;     /* the channel this side uses (created or received) */
    int opened, closed; /* on_channel_open / on_channel_close */
    int received;       /* messages read */
    char last[256];
    int gathered; /* on_gathering_state_change(COMPLETE) */
    int candidates_trickled;
    bool echo_from_view; /* send each message back straight from the received view */
    bool close_on_message;
    void *seen_user_data; /* zdc_peer_get_user_data inside a callback */
    bool keep_messages;   /* leave received messages queued */
    int state;            /* last on_connection_state_change */
    uint64_t disconnected_at, failed_at;
    zdc_engine *eng;            /* NULL: the shared engine */
    const zdc_peer_config *cfg; /* given to zdc_peer_initialize when set */
} side;

static zdc_engine *engine, *engine2;
static bool engine2_silent; /* not polled: its peers answer nothing */

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void on_description(void *user, zdc_peer p, const char *type, const char *sdp)
{
    /* Non-trickle: apply it now, send the complete one once gathering is over. */
    cr_assert_eq(zdc_peer_set_local_description(p, type, sdp), 0, "%s", zdc_peer_last_error(p));
    (void)user;
}

static void on_candidate(void *user, zdc_peer p, const char *mid, int index, const char *c)
{
    side *s = user;
    (void)p, (void)mid, (void)index, (void)c;
    s->candidates_trickled++; /* not sent anywhere: the complete description carries them */
}

static void on_gathering(void *user, zdc_peer p, int state)
{
    side *s = user;
    if (state == ZDC_GATHERING_COMPLETE)
        s->gathered++;
    s->seen_user_data = zdc_peer_get_user_data(p);
}

static void on_dc(void *user, zdc_peer p, zdc_channel ch)
{
    side *s = user;
    (void)p;
    s->ch = ch;
}

static void on_open(void *user, zdc_peer p, zdc_channel ch)
{
    side *s = user;
    (void)p, (void)ch;
    s->opened++;
}

static void on_close(void *user, zdc_peer p, zdc_channel ch)
{
    side *s = user;
    (void)p, (void)ch;
    s->closed++;
}

static void on_state(void *user, zdc_peer p, int state)
{
    side *s = user;
    (void)p;
    s->state = state;
    if (state == ZDC_STATE_DISCONNECTED && !s->disconnected_at)
        s->disconnected_at = now_ms();
    if (state == ZDC_STATE_FAILED && !s->failed_at)
        s->failed_at = now_ms();
}

static void on_message(void *user, zdc_peer p, zdc_channel ch)
{
    side *s = user;
    (void)p;
    if (s->keep_messages)
        return;
    const uint8_t *d;
    size_t len;
    bool text;
    while (zdc_channel_get_packet(ch, &d, &len, &text) == 0) {
        s->received++;
        snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)d);
        if (s->echo_from_view) /* the rule: sending while holding a view is allowed */
            cr_assert_eq(zdc_channel_put_packet(ch, d, len), 0);
        zdc_channel_release_packet(ch);
        if (s->close_on_message) { /* the rule: a channel may be closed from its callback */
            cr_assert_eq(zdc_channel_close(ch), 0);
            break;
        }
    }
}

static zdc_peer new_peer(side *s)
{
    zdc_peer_callbacks cb = {.user = s,
                             .on_session_description_created = on_description,
                             .on_ice_candidate_created = on_candidate,
                             .on_gathering_state_change = on_gathering,
                             .on_data_channel_received = on_dc,
                             .on_channel_open = on_open,
                             .on_channel_close = on_close,
                             .on_channel_message = on_message,
                             .on_connection_state_change = on_state};
    cr_assert_eq(zdc_peer_new(s->eng ? s->eng : engine, &cb, &s->peer), 0);
    if (s->cfg)
        cr_assert_eq(zdc_peer_initialize(s->peer, s->cfg), 0, "%s", zdc_peer_last_error(s->peer));
    return s->peer;
}

static zdc_engine *loopback_engine(const zdc_peer_tuning *t, const char *public_address)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.bind_address = "127.0.0.1";
    o.include_loopback = true;
    if (t)
        o.tuning = *t;
    o.public_address = public_address;
    zdc_engine *e = NULL;
    int rv = zdc_engine_new(&o, &e);
    cr_assert_eq(rv, 0, "engine: %s", zdc_strerror(rv));
    return e;
}

static void setup(void)
{
    engine = loopback_engine(NULL, NULL);
    engine2 = NULL;
    engine2_silent = false;
}

static void teardown(void)
{
    zdc_engine_free(engine);
    zdc_engine_free(engine2);
    engine = engine2 = NULL;
}

static bool run_until(bool (*cond)(side *, side *), side *a, side *b, uint64_t ms)
{
    uint64_t end = now_ms() + ms;
    while (!cond(a, b) && now_ms() < end) {
        zdc_engine_poll(engine, engine2 && !engine2_silent ? 2 : 5);
        if (engine2 && !engine2_silent)
            zdc_engine_poll(engine2, 2);
    }
    return cond(a, b);
}

static bool a_gathered(side *a, side *b)
{
    (void)b;
    return a->gathered > 0;
}
static bool b_gathered(side *a, side *b)
{
    (void)a;
    return b->gathered > 0;
}
static bool both_open(side *a, side *b)
{
    return a->opened > 0 && b->opened > 0 && b->ch.id != 0;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Non-trickle offer and answer; `extra` lines (bogus candidates) are added to the offer after
 * its own candidates. Returns with the channel open on both sides. */
static void connect_non_trickle(side *a, side *b, const char *extra)
{
    new_peer(a);
    new_peer(b);
    zdc_channel_options co = zdc_channel_options_default();
    cr_assert_eq(zdc_peer_create_data_channel(a->peer, "game", &co, &a->ch), 0);
    cr_assert_null(zdc_peer_get_local_description(a->peer, true), "nothing created yet");
    cr_assert_eq(zdc_peer_create_offer(a->peer), 0);
    cr_assert(run_until(a_gathered, a, b, 5000), "a's gathering did not complete");
    const char *bare = zdc_peer_get_local_description(a->peer, false);
    cr_assert_not_null(bare);
    cr_assert_eq(count(bare, "a=candidate:"), 0, "the created offer has no candidates");
    char *offer = strdup(zdc_peer_get_local_description(a->peer, true));
    cr_assert_gt(count(offer, "a=candidate:"), 0, "%s", offer);
    cr_assert_eq(count(offer, "a=candidate:"), a->candidates_trickled - 1,
                 "every trickled candidate (and the end marker) is in the description");
    cr_assert_eq(count(offer, "a=end-of-candidates"), 1);
    if (extra) {
        char *eoc = strstr(offer, "a=end-of-candidates");
        size_t head = (size_t)(eoc - offer);
        char *big = malloc(strlen(offer) + strlen(extra) + 1);
        memcpy(big, offer, head);
        strcpy(big + head, extra);
        strcat(big, offer + head);
        free(offer);
        offer = big;
    }
    cr_assert_eq(zdc_peer_set_remote_description(b->peer, "offer", offer), 0, "%s",
                 zdc_peer_last_error(b->peer));
    free(offer);
    cr_assert(run_until(b_gathered, a, b, 5000), "b's gathering did not complete");
    const char *answer = zdc_peer_get_local_description(b->peer, true);
    cr_assert_not_null(answer);
    cr_assert_gt(count(answer, "a=candidate:"), 0);
    cr_assert_eq(zdc_peer_set_remote_description(a->peer, "answer", answer), 0, "%s",
                 zdc_peer_last_error(a->peer));
    /* No zdc_peer_add_ice_candidate anywhere: the descriptions carried the candidates. */
    cr_assert(run_until(both_open, a, b, 10000), "no channel open (a %d, b %d)", a->opened,
              b->opened);
}

static bool b_got_one(side *a, side *b)
{
    (void)a;
    return b->received >= 1;
}

TestSuite(game, .init = setup, .fini = teardown, .timeout = 60);

Test(game, non_trickle_signaling)
{
    side a = {0}, b = {0};
    connect_non_trickle(&a, &b, NULL);
    cr_assert_eq(zdc_channel_put_packet(a.ch, (const uint8_t *)"hello", 5), 0);
    cr_assert(run_until(b_got_one, &a, &b, 5000));
    cr_assert_str_eq(b.last, "hello");
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
}

/* A server learns each player's address: the remote end of the selected pair, as a socket
 * address. Both peers are on one loopback engine, so each sees the engine's own port. */
Test(game, remote_address_of_a_player)
{
    side a = {0}, b = {0};
    new_peer(&a);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    cr_assert_eq(zdc_peer_get_remote_address(a.peer, &ss, &len), ZDC_ERR_INVALID_STATE,
                 "no pair before ICE");
    cr_assert_eq(zdc_peer_get_remote_address(a.peer, NULL, &len), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_peer_get_remote_address(a.peer, &ss, NULL), ZDC_ERR_INVALID_PARAMETER);
    zdc_peer_free(a.peer);
    cr_assert_eq(zdc_peer_get_remote_address(a.peer, &ss, &len), ZDC_ERR_GONE);

    memset(&a, 0, sizeof a);
    connect_non_trickle(&a, &b, NULL);
    memset(&ss, 0xa5, sizeof ss);
    cr_assert_eq(zdc_peer_get_remote_address(b.peer, &ss, &len), 0);
    cr_assert_eq(len, sizeof(struct sockaddr_in));
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    cr_assert_eq(in->sin_family, AF_INET);
    cr_assert_eq(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
    cr_assert_eq(ntohs(in->sin_port), zdc_engine_port(engine, 4), "port %u vs %d",
                 ntohs(in->sin_port), zdc_engine_port(engine, 4));
    zdc_peer_stats st = {.size = sizeof st};
    cr_assert_eq(zdc_peer_get_stats(b.peer, &st), 0);
    cr_assert_eq(ntohs(in->sin_port), st.remote_port, "the same pair as the stats");
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
}

static int ignored_lines;

static void count_ignored_lines(void *user, int level, int component, zdc_peer peer,
                                const char *msg)
{
    (void)user, (void)peer;
    if (level == ZDC_LOG_WARN && component == ZDC_LOG_ICE && strstr(msg, "candidates ignored"))
        ignored_lines++;
}

Test(game, offer_with_more_candidates_than_the_cap)
{
    /* 40 more candidates (TEST-NET addresses nobody answers) after the real ones: the offer
     * is taken, the extras beyond the cap are ignored, and the loopback pair still connects. */
    char extra[40 * 80] = "";
    for (int i = 0; i < 40; i++) {
        char line[80];
        snprintf(line, sizeof line, "a=candidate:%d 1 udp %d 192.0.2.%d 9 typ host\r\n", 100 + i,
                 1000 + i, 1 + i);
        strcat(extra, line);
    }
    side a = {0}, b = {0};
    cr_assert_eq(zdc_engine_set_log(engine, ZDC_LOG_WARN, count_ignored_lines, NULL), 0);
    connect_non_trickle(&a, &b, extra);
    cr_assert(strstr(zdc_peer_last_error(b.peer), "remote candidates ignored"), "last error: %s",
              zdc_peer_last_error(b.peer));
    cr_assert_geq(ignored_lines, 1, "the extras were logged (WARN, ice)");
    cr_assert_eq(zdc_channel_put_packet(a.ch, (const uint8_t *)"x", 1), 0);
    cr_assert(run_until(b_got_one, &a, &b, 5000));
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
}

Test(game, add_ice_candidate_beyond_the_cap)
{
    side a = {0}, b = {0};
    connect_non_trickle(&a, &b, NULL);
    /* Before and after the cap is reached: every call succeeds; the extras are counted. */
    for (int i = 0; i < 45; i++) {
        char line[80];
        snprintf(line, sizeof line, "candidate:%d 1 udp %d 192.0.2.%d 9 typ host", 100 + i,
                 1000 + i, 1 + i);
        cr_assert_eq(zdc_peer_add_ice_candidate(b.peer, "0", 0, line), 0, "candidate %d: %s", i,
                     zdc_peer_last_error(b.peer));
    }
    cr_assert(strstr(zdc_peer_last_error(b.peer), "remote candidates ignored"), "last error: %s",
              zdc_peer_last_error(b.peer));
    /* Before any remote description: buffered, and beyond the buffer ignored, never refused. */
    side c = {0};
    new_peer(&c);
    for (int i = 0; i < 80; i++)
        cr_assert_eq(
            zdc_peer_add_ice_candidate(c.peer, "0", 0, "candidate:1 1 udp 1 192.0.2.1 9 typ host"),
            0, "early candidate %d", i);
    zdc_peer_free(c.peer);
    /* The connection is unharmed. */
    cr_assert_eq(zdc_channel_put_packet(a.ch, (const uint8_t *)"x", 1), 0);
    cr_assert(run_until(b_got_one, &a, &b, 5000));
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
}

Test(game, user_data)
{
    side a = {0}, b = {0};
    int player_a = 1, chan_data = 2;
    new_peer(&a);
    cr_assert_null(zdc_peer_get_user_data(a.peer));
    cr_assert_eq(zdc_peer_set_user_data(a.peer, &player_a), 0);
    cr_assert_eq(zdc_peer_get_user_data(a.peer), &player_a);
    zdc_channel_options co = zdc_channel_options_default();
    cr_assert_eq(zdc_peer_create_data_channel(a.peer, "x", &co, &a.ch), 0);
    cr_assert_null(zdc_channel_get_user_data(a.ch));
    cr_assert_eq(zdc_channel_set_user_data(a.ch, &chan_data), 0);
    cr_assert_eq(zdc_channel_get_user_data(a.ch), &chan_data);
    /* Seen from a callback. */
    cr_assert_eq(zdc_peer_create_offer(a.peer), 0);
    cr_assert(run_until(a_gathered, &a, &b, 5000));
    cr_assert_eq(a.seen_user_data, &player_a);
    zdc_channel ch = a.ch;
    zdc_peer p = a.peer;
    zdc_peer_free(a.peer);
    /* Stale handles: NULL and ZDC_ERR_GONE. */
    cr_assert_null(zdc_peer_get_user_data(p));
    cr_assert_null(zdc_channel_get_user_data(ch));
    cr_assert_eq(zdc_peer_set_user_data(p, &player_a), ZDC_ERR_GONE);
    cr_assert_eq(zdc_channel_set_user_data(ch, &chan_data), ZDC_ERR_GONE);
}

static bool a_got_echo(side *a, side *b)
{
    (void)b;
    return a->received >= 3;
}

Test(game, send_from_a_received_view)
{
    side a = {0}, b = {0};
    connect_non_trickle(&a, &b, NULL);
    b.echo_from_view = true;
    const char *msgs[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(zdc_channel_put_packet(a.ch, (const uint8_t *)msgs[i], strlen(msgs[i])), 0);
    cr_assert(run_until(a_got_echo, &a, &b, 5000), "echoes: %d", a.received);
    cr_assert_str_eq(a.last, "three", "the echo sent from the view is intact");
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
}

static bool both_closed(side *a, side *b)
{
    return a->closed > 0 && b->closed > 0;
}

Test(game, close_a_channel_from_its_message_callback)
{
    side a = {0}, b = {0};
    connect_non_trickle(&a, &b, NULL);
    b.close_on_message = true;
    cr_assert_eq(zdc_channel_put_packet(a.ch, (const uint8_t *)"bye", 3), 0);
    cr_assert_eq(zdc_channel_put_packet(a.ch, (const uint8_t *)"more", 4), 0);
    cr_assert(run_until(both_closed, &a, &b, 5000), "closed: a %d, b %d", a.closed, b.closed);
    cr_assert_geq(b.received, 1);
    cr_assert_eq(zdc_channel_get_ready_state(b.ch), ZDC_CHANNEL_CLOSED);
    cr_assert_eq(zdc_peer_get_connection_state(a.peer), ZDC_STATE_CONNECTED,
                 "closing a channel leaves the peer connected");
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
}

/* ---- knobs (zdc/tuning.h) ----------------------------------------------------------------- */

static bool a_failed(side *a, side *b)
{
    (void)b;
    return a->failed_at != 0;
}

static const char *dead_candidate = "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host";

/* An offer whose only candidate nobody answers: FAILED after the connect timeout. */
static uint64_t time_to_fail_connecting(side *a)
{
    side b = {0};
    b.eng = engine2 = loopback_engine(NULL, NULL);
    engine2_silent = true;
    new_peer(&b);
    new_peer(a);
    zdc_channel_options co = zdc_channel_options_default();
    cr_assert_eq(zdc_peer_create_data_channel(b.peer, "x", &co, &b.ch), 0);
    cr_assert_eq(zdc_peer_create_offer(b.peer), 0);
    zdc_engine_poll(engine2, 0); /* b's description */
    const char *offer = zdc_peer_get_local_description(b.peer, false);
    cr_assert_not_null(offer);
    uint64_t t0 = now_ms();
    cr_assert_eq(zdc_peer_set_remote_description(a->peer, "offer", offer), 0);
    cr_assert_eq(zdc_peer_add_ice_candidate(a->peer, "0", 0, dead_candidate), 0);
    cr_assert(run_until(a_failed, a, &b, 8000), "not FAILED after 8 s (state %d)", a->state);
    zdc_peer_free(b.peer);
    zdc_peer_free(a->peer);
    return a->failed_at - t0;
}

Test(game, connect_timeout_engine_option)
{
    zdc_engine_free(engine);
    engine = loopback_engine(&(zdc_peer_tuning){.connect_timeout_ms = 1000}, NULL);
    side a = {0};
    uint64_t t = time_to_fail_connecting(&a);
    cr_assert(t >= 900 && t < 3000, "FAILED after %llu ms, the timeout is 1000",
              (unsigned long long)t);
}

Test(game, connect_timeout_peer_option)
{
    /* The engine's default (20 s) overridden for one peer. */
    zdc_peer_config cfg = {.tuning = {.connect_timeout_ms = 1500}};
    side a = {.cfg = &cfg};
    uint64_t t = time_to_fail_connecting(&a);
    cr_assert(t >= 1400 && t < 3500, "FAILED after %llu ms, the timeout is 1500",
              (unsigned long long)t);
}

Test(game, vanished_client_disconnected_then_failed)
{
    /* b's engine stops being polled after the connection is up: it answers no consent check,
     * like a client that vanished. */
    zdc_peer_config cfg = {.tuning = {.consent_interval_ms = 200,
                                      .disconnected_timeout_ms = 600,
                                      .failed_timeout_ms = 1500}};
    side a = {.cfg = &cfg}, b = {0};
    b.eng = engine2 = loopback_engine(NULL, NULL);
    connect_non_trickle(&a, &b, NULL);
    cr_assert_eq(a.state, ZDC_STATE_CONNECTED);
    engine2_silent = true;
    uint64_t t0 = now_ms();
    cr_assert(run_until(a_failed, &a, &b, 8000), "not FAILED (state %d)", a.state);
    cr_assert_neq(a.disconnected_at, 0, "DISCONNECTED came first");
    uint64_t d = a.disconnected_at - t0, f = a.failed_at - t0;
    /* The last answer came up to one interval (x1.2) before t0. */
    cr_assert(d >= 300 && d < 1500, "DISCONNECTED after %llu ms (timeout 600)",
              (unsigned long long)d);
    cr_assert(f >= 1200 && f < 3000, "FAILED after %llu ms (timeout 1500)", (unsigned long long)f);
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
}

Test(game, channel_cap_option)
{
    zdc_peer_config cfg = {.tuning = {.max_channels = 2}};
    side a = {.cfg = &cfg};
    new_peer(&a);
    zdc_channel_options co = zdc_channel_options_default();
    zdc_channel c;
    cr_assert_eq(zdc_peer_create_data_channel(a.peer, "1", &co, &c), 0);
    cr_assert_eq(zdc_peer_create_data_channel(a.peer, "2", &co, &c), 0);
    cr_assert_eq(zdc_peer_create_data_channel(a.peer, "3", &co, &c), ZDC_ERR_QUEUE_FULL);
    cfg.tuning.max_channels = 1025;
    cr_assert_eq(zdc_peer_initialize(a.peer, &cfg), ZDC_ERR_INVALID_PARAMETER);
    zdc_peer_free(a.peer);
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.tuning.max_channels = 1025;
    zdc_engine *e = NULL;
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_INVALID_PARAMETER);
    o.tuning.max_channels = 0;
    o.public_address = "not-an-ip";
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_INVALID_PARAMETER);
}

static int sctp_up_native, sctp_up_usrsctp;

static void count_sctp_up(void *user, int level, int component, zdc_peer peer, const char *msg)
{
    (void)user, (void)level, (void)component, (void)peer;
    if (strstr(msg, "SCTP association up") == NULL)
        return;
    if (strstr(msg, "(native)"))
        sctp_up_native++;
    else
        sctp_up_usrsctp++;
}

static bool a_got_one(side *a, side *b)
{
    (void)b;
    return a->received >= 1;
}

Test(game, sctp_impl_option)
{
    /* One peer on usrsctp, the other on the native SCTP, on one engine: each side's
     * tuning.sctp_impl picks its implementation, and the two interoperate both ways. */
    sctp_up_native = sctp_up_usrsctp = 0;
    cr_assert_eq(zdc_engine_set_log(engine, ZDC_LOG_INFO, count_sctp_up, NULL), 0);
    zdc_peer_config ca = {.tuning = {.sctp_impl = ZDC_SCTP_IMPL_USRSCTP}};
    zdc_peer_config cb = {.tuning = {.sctp_impl = ZDC_SCTP_IMPL_NATIVE}};
    side a = {.cfg = &ca}, b = {.cfg = &cb};
    b.echo_from_view = true;
    connect_non_trickle(&a, &b, NULL);
    cr_assert_eq(zdc_channel_put_packet(a.ch, (const uint8_t *)"mixed", 5), 0);
    cr_assert(run_until(a_got_one, &a, &b, 5000), "no echo");
    cr_assert_str_eq(a.last, "mixed");
    cr_assert_eq(sctp_up_native, 1, "b runs the native SCTP");
    cr_assert_eq(sctp_up_usrsctp, 1, "a runs usrsctp");
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
    /* Out of range: refused by the peer and by the engine. */
    side c = {0};
    new_peer(&c);
    zdc_peer_config bad = {.tuning = {.sctp_impl = 3}};
    cr_assert_eq(zdc_peer_initialize(c.peer, &bad), ZDC_ERR_INVALID_PARAMETER);
    zdc_peer_free(c.peer);
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.tuning.sctp_impl = 3;
    zdc_engine *e = NULL;
    cr_assert_eq(zdc_engine_new(&o, &e), ZDC_ERR_INVALID_PARAMETER);
}

Test(game, send_queue_option)
{
    zdc_peer_config cfg = {.tuning = {.max_send_queue_channel = 8192}};
    side a = {.cfg = &cfg}, b = {0};
    connect_non_trickle(&a, &b, NULL);
    uint8_t msg[1000] = {0};
    size_t sent = 0;
    int rv = 0;
    while (sent < 4u << 20 && (rv = zdc_channel_put_packet(a.ch, msg, sizeof msg)) == 0)
        sent += sizeof msg;
    cr_assert_eq(rv, ZDC_ERR_QUEUE_FULL, "no limit after %zu bytes", sent);
    /* SCTP's own send buffer (1 MiB) takes its part first; the default limit (16 MiB) would
     * take every one of the 4 MiB offered. */
    cr_assert_lt(sent, 2u << 20, "the 8 KiB queue limit took %zu bytes", sent);
    cr_assert_leq(zdc_channel_get_buffered_amount(a.ch), 8192 + sizeof msg);
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
}

static bool b_holds_some(side *a, side *b)
{
    (void)a;
    return zdc_channel_get_available_packet_count(b->ch) > 0;
}

Test(game, receive_queue_option)
{
    zdc_peer_config cfg = {.tuning = {.max_receive_queue_channel = 8192}};
    side a = {0}, b = {.cfg = &cfg};
    connect_non_trickle(&a, &b, NULL);
    b.keep_messages = true;
    uint8_t msg[1000] = {0};
    for (int i = 0; i < 200; i++)
        cr_assert_eq(zdc_channel_put_packet(a.ch, msg, sizeof msg), 0);
    cr_assert(run_until(b_holds_some, &a, &b, 5000));
    /* Give SCTP time to deliver everything it would; the limit holds the rest at a. */
    uint64_t end = now_ms() + 500;
    while (now_ms() < end)
        zdc_engine_poll(engine, 5);
    int held = zdc_channel_get_available_packet_count(b.ch);
    cr_assert_leq(held, 8192 / (1000 + 64) + 2, "b holds %d messages over its 8 KiB limit", held);
    /* Reading resumes it: every message arrives. */
    b.keep_messages = false;
    int got = 0;
    end = now_ms() + 5000;
    while (got < 200 && now_ms() < end) {
        const uint8_t *d;
        size_t len;
        bool text;
        while (zdc_channel_get_packet(b.ch, &d, &len, &text) == 0) {
            zdc_channel_release_packet(b.ch);
            got++;
        }
        zdc_engine_poll(engine, 5);
    }
    cr_assert_eq(got + b.received, 200);
    zdc_peer_free(a.peer);
    zdc_peer_free(b.peer);
}

Test(game, public_address_for_host_candidates)
{
    zdc_engine_free(engine);
    engine = loopback_engine(NULL, "203.0.113.7");
    side a = {0}, b = {0};
    new_peer(&a);
    zdc_channel_options co = zdc_channel_options_default();
    cr_assert_eq(zdc_peer_create_data_channel(a.peer, "x", &co, &a.ch), 0);
    cr_assert_eq(zdc_peer_create_offer(a.peer), 0);
    cr_assert(run_until(a_gathered, &a, &b, 5000));
    const char *sdp = zdc_peer_get_local_description(a.peer, true);
    char want[64];
    snprintf(want, sizeof want, "203.0.113.7 %d typ host", zdc_engine_port(engine, 4));
    cr_assert(strstr(sdp, want), "no '%s' in\n%s", want, sdp);
    cr_assert_null(strstr(sdp, "127.0.0.1 "), "the interface address leaked:\n%s", sdp);
    zdc_peer_free(a.peer);
}
