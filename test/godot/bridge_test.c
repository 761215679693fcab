/* godot/src/bridge.c, the Godot-independent half of the Godot integration, with two real zdc
 * peers on loopback (no Godot): engine options from settings and the environment, one shared
 * engine freed after the last peer, signals handed out only after zdc's poll returned (a
 * handler re-enters: polls, frees the peer), Godot's get_packet contract.
 * ctest label: unit godot (runs under ASan with leak detection, which Godot runs cannot). */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "bridge.h"

/* ---- settings ------------------------------------------------------------------------- */

static bool fake_settings(void *user, const char *name, char *buf, size_t cap)
{
    const char *const *kv = user;
    for (; kv[0]; kv += 2)
        if (!strcmp(kv[0], name)) {
            strncpy(buf, kv[1], cap - 1);
            buf[cap - 1] = '\0';
            return true;
        }
    return false;
}

Test(bridge, options_from_settings_and_environment)
{
    const char *kv[] = {"loopback", "True",  "ipv6",         "false",     "port_min", "40000",
                        "port_max", "40100", "bind_address", "127.0.0.1", NULL};
    zdc_engine_options o;
    const char *bad = "x";
    unsetenv("ZDC_GODOT_PORT_MAX");
    cr_assert_eq(zdc_bridge_engine_options(&o, fake_settings, kv, &bad), 0);
    cr_assert(o.include_loopback && !o.ipv6 && o.ipv4);
    cr_assert_eq(o.port_min, 40000);
    cr_assert_eq(o.port_max, 40100);
    cr_assert_str_eq(o.bind_address, "127.0.0.1");
    cr_assert_null(bad);
    /* The environment wins over the project setting. */
    setenv("ZDC_GODOT_PORT_MAX", "40200", 1);
    cr_assert_eq(zdc_bridge_engine_options(&o, fake_settings, kv, &bad), 0);
    cr_assert_eq(o.port_max, 40200);
    setenv("ZDC_GODOT_PORT_MAX", "70000", 1);
    cr_assert_eq(zdc_bridge_engine_options(&o, fake_settings, kv, &bad), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_str_eq(bad, "port_max");
    unsetenv("ZDC_GODOT_PORT_MAX");
    const char *kv2[] = {"ipv4", "maybe", NULL};
    cr_assert_eq(zdc_bridge_engine_options(&o, fake_settings, kv2, &bad),
                 ZDC_ERR_INVALID_PARAMETER);
    cr_assert_str_eq(bad, "ipv4");
    /* The log setting is checked when the engine is made. */
    const char *kv4[] = {"log", "chatty", NULL};
    zdc_engine *e;
    cr_assert_eq(zdc_bridge_engine_acquire(fake_settings, kv4, &e), ZDC_ERR_INVALID_PARAMETER);
    zdc_bridge_stats st;
    zdc_bridge_get_stats(&st);
    cr_assert(!st.engine_alive);
    const char *kv3[] = {"backend", "kqueue", NULL};
    cr_assert_eq(zdc_bridge_engine_options(&o, fake_settings, kv3, &bad),
                 ZDC_ERR_INVALID_PARAMETER);
    cr_assert_str_eq(bad, "backend");
}

Test(bridge, error_mapping)
{
    cr_assert_eq(zdc_bridge_godot_error(0), ZDC_GD_OK);
    cr_assert_eq(zdc_bridge_godot_error(ZDC_ERR_QUEUE_FULL), ZDC_GD_ERR_BUSY);
    cr_assert_eq(zdc_bridge_godot_error(ZDC_ERR_TOO_LARGE), ZDC_GD_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_bridge_godot_error(ZDC_ERR_MALFORMED), ZDC_GD_ERR_INVALID_DATA);
    cr_assert_eq(zdc_bridge_godot_error(ZDC_ERR_INVALID_STATE), ZDC_GD_ERR_UNCONFIGURED);
    cr_assert_eq(zdc_bridge_godot_error(ZDC_ERR_GONE), ZDC_GD_ERR_DOES_NOT_EXIST);
    cr_assert_eq(zdc_bridge_godot_error(ZDC_ERR_PROTOCOL), ZDC_GD_ERR_CONNECTION_ERROR);
}

/* ---- two peers ------------------------------------------------------------------------ */

typedef struct side {
    zdc_bridge_peer *bp;
    struct side *other;
    bool in_poll; /* set around zdc_bridge_peer_poll by the test */
    int descriptions, candidates, fired_inside_zdc_poll;
    zdc_channel received;
    bool free_in_handler; /* frees its own peer from the description handler */
    bool poll_in_handler; /* polls again from the first candidate handler */
    int nested_polls;
} side;

static void s_desc(void *user, const char *type, const char *sdp)
{
    side *s = user;
    s->descriptions++;
    if (s->free_in_handler) {
        zdc_bridge_peer_free(s->bp);
        s->bp = NULL;
        return;
    }
    cr_assert_eq(zdc_peer_set_local_description(zdc_bridge_peer_handle(s->bp), type, sdp), 0);
    cr_assert_eq(zdc_peer_set_remote_description(zdc_bridge_peer_handle(s->other->bp), type, sdp),
                 0);
}

static void s_cand(void *user, const char *mid, int index, const char *cand)
{
    side *s = user;
    s->candidates++;
    if (s->poll_in_handler && s->nested_polls == 0) {
        s->nested_polls++;
        cr_assert_eq(zdc_bridge_peer_poll(s->bp), 0);
    }
    if (s->other->bp)
        zdc_peer_add_ice_candidate(zdc_bridge_peer_handle(s->other->bp), mid, index, cand);
}

static void s_chan(void *user, zdc_channel ch)
{
    side *s = user;
    s->received = ch;
}

static zdc_bridge_peer *make(side *s)
{
    zdc_bridge_signals sig = {.user = s,
                              .session_description_created = s_desc,
                              .ice_candidate_created = s_cand,
                              .data_channel_received = s_chan};
    const char *kv[] = {"loopback", "true", "ipv6", "false", "bind_address", "127.0.0.1", NULL};
    cr_assert_eq(zdc_bridge_peer_new(&sig, fake_settings, kv, &s->bp), 0);
    return s->bp;
}

static void poll_both(side *a, side *b)
{
    if (a->bp)
        zdc_bridge_peer_poll(a->bp);
    if (b->bp)
        zdc_bridge_peer_poll(b->bp);
}

Test(bridge, shared_engine_signals_after_poll_and_get_packet)
{
    side a = {0}, b = {0};
    a.other = &b;
    b.other = &a;
    make(&a);
    make(&b);
    zdc_bridge_stats st;
    zdc_bridge_get_stats(&st);
    cr_assert(st.engine_alive);
    cr_assert_eq(st.engine_refs, 2);
    cr_assert_eq(st.peers, 2);
    b.poll_in_handler = true;

    zdc_channel_options o = zdc_channel_options_default();
    zdc_channel ca;
    cr_assert_eq(zdc_peer_create_data_channel(zdc_bridge_peer_handle(a.bp), "t", &o, &ca), 0);
    zdc_bridge_channel *wa = zdc_bridge_channel_new(ca);
    cr_assert_eq(zdc_peer_create_offer(zdc_bridge_peer_handle(a.bp)), 0);
    cr_assert_eq(a.descriptions, 0, "no signal outside poll");
    for (int i = 0;
         i < 4000 && (!b.received.id || zdc_channel_get_ready_state(ca) != ZDC_CHANNEL_OPEN); i++)
        poll_both(&a, &b);
    cr_assert_eq(a.descriptions, 1);
    cr_assert_eq(b.descriptions, 1);
    cr_assert_eq(b.nested_polls, 1, "a handler polled again");
    cr_assert(b.received.id != 0);
    cr_assert_eq(zdc_channel_get_ready_state(ca), ZDC_CHANNEL_OPEN);
    zdc_bridge_channel *wb = zdc_bridge_channel_new(b.received);

    /* get_packet: the buffer stays valid until the next get_packet; the count excludes it. */
    cr_assert_eq(zdc_channel_put_packet(ca, (const uint8_t *)"one", 3), 0);
    cr_assert_eq(zdc_channel_put_packet(ca, (const uint8_t *)"two!", 4), 0);
    for (int i = 0; i < 4000 && zdc_bridge_channel_available(wb) < 2; i++)
        poll_both(&a, &b);
    cr_assert_eq(zdc_bridge_channel_available(wb), 2);
    const uint8_t *p1, *p2;
    size_t n1, n2;
    cr_assert_eq(zdc_bridge_channel_get_packet(wb, &p1, &n1), 0);
    cr_assert_eq(zdc_bridge_channel_available(wb), 1);
    poll_both(&a, &b); /* a poll in between leaves the view alone */
    cr_assert_eq(n1, 3);
    cr_assert(!memcmp(p1, "one", 3));
    cr_assert(!zdc_bridge_channel_was_string(wb));
    cr_assert_eq(zdc_bridge_channel_get_packet(wb, &p2, &n2), 0);
    cr_assert_eq(zdc_bridge_channel_available(wb), 0);
    cr_assert(n2 == 4 && !memcmp(p2, "two!", 4));
    cr_assert_eq(zdc_bridge_channel_get_packet(wb, &p2, &n2), ZDC_ERR_AGAIN);

    /* Freeing a peer releases the engine only at the last one. */
    zdc_bridge_peer_free(b.bp);
    b.bp = NULL;
    zdc_bridge_get_stats(&st);
    cr_assert(st.engine_alive);
    cr_assert_eq(st.engine_refs, 1);
    /* A channel outliving its peer: errors, no crash. */
    cr_assert_eq(zdc_bridge_channel_get_packet(wb, &p2, &n2), ZDC_ERR_GONE);
    cr_assert_eq(zdc_bridge_channel_available(wb), 0);
    zdc_bridge_channel_free(wb);
    zdc_bridge_channel_free(wa);
    zdc_bridge_peer_free(a.bp);
    zdc_bridge_get_stats(&st);
    cr_assert(!st.engine_alive);
    cr_assert_eq(st.peers, 0);
    cr_assert_eq(st.channels, 0);
}

Test(bridge, peer_freed_inside_its_own_signal)
{
    side a = {0}, b = {0};
    a.other = &b;
    b.other = &a;
    make(&a);
    a.free_in_handler = true;
    zdc_channel_options o = zdc_channel_options_default();
    zdc_channel ca;
    cr_assert_eq(zdc_peer_create_data_channel(zdc_bridge_peer_handle(a.bp), "t", &o, &ca), 0);
    cr_assert_eq(zdc_peer_create_offer(zdc_bridge_peer_handle(a.bp)), 0);
    zdc_bridge_peer *bp = a.bp;
    int rv = 0;
    for (int i = 0; i < 200 && a.descriptions == 0; i++)
        rv = zdc_bridge_peer_poll(bp);
    /* Freed from the handler: the poll that ran it frees the memory and says so. */
    cr_assert_eq(a.descriptions, 1);
    cr_assert_eq(rv, ZDC_ERR_GONE);
    cr_assert_eq(a.candidates, 0, "no signal after the free");
    zdc_bridge_stats st;
    zdc_bridge_get_stats(&st);
    cr_assert_eq(st.peers, 0);
    cr_assert(!st.engine_alive);
}
