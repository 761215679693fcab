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
} side;

static zdc_engine *engine;

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

static void on_message(void *user, zdc_peer p, zdc_channel ch)
{
    side *s = user;
    (void)p;
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
                             .on_channel_message = on_message};
    cr_assert_eq(zdc_peer_new(engine, &cb, &s->peer), 0);
    return s->peer;
}

static void setup(void)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.bind_address = "127.0.0.1";
    o.include_loopback = true;
    cr_assert_eq(zdc_engine_new(&o, &engine), 0);
}

static void teardown(void)
{
    zdc_engine_free(engine);
    engine = NULL;
}

static bool run_until(bool (*cond)(side *, side *), side *a, side *b, uint64_t ms)
{
    uint64_t end = now_ms() + ms;
    while (!cond(a, b) && now_ms() < end)
        zdc_engine_poll(engine, 5);
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
    connect_non_trickle(&a, &b, extra);
    cr_assert(strstr(zdc_peer_last_error(b.peer), "remote candidates ignored"), "last error: %s",
              zdc_peer_last_error(b.peer));
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
