/* The public stats calls (include/zdc/stats.h, api/stats.c): the size handshake that lets the
 * structs grow, errors, and channel stats through handles. What the numbers mean on a live
 * connection is tested on two peer connections in test/pc_test.c (stats_*). */
#include <criterion/criterion.h>

#include <stddef.h>
#include <string.h>

#include "zdc/zdc.h"

static zdc_engine *g_engine;

static void setup(void)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.bind_address = "127.0.0.1";
    cr_assert_eq(zdc_engine_new(&o, &g_engine), 0);
}

static void teardown(void)
{
    zdc_engine_free(g_engine);
}

TestSuite(stats, .init = setup, .fini = teardown);

Test(stats, a_new_peer_has_zero_counters_and_no_pair)
{
    zdc_peer p;
    cr_assert_eq(zdc_peer_new(g_engine, NULL, &p), 0);
    zdc_peer_stats st;
    memset(&st, 0xa5, sizeof st);
    st.size = sizeof st;
    cr_assert_eq(zdc_peer_get_stats(p, &st), 0);
    cr_assert_eq(st.size, sizeof st);
    cr_assert_eq(st.bytes_sent + st.bytes_received + st.packets_sent + st.messages_sent, 0);
    cr_assert_eq(st.has_selected_pair, 0);
    cr_assert_str_eq(st.local_address, "");
    cr_assert_eq(st.consent_state, ZDC_CONSENT_NONE);
    cr_assert_eq(st.ice_state, ZDC_STATE_NEW);
    cr_assert_eq(st.dtls_role, -1);
    cr_assert_eq(st.sctp_up, 0);
    cr_assert_eq(st.sctp_mtu, 0, "every field was written (no 0xa5 left)");
    zdc_peer_free(p);
}

/* A caller built against an older, shorter struct gets only what fits, and learns the size
 * filled; a caller with a longer struct (a newer header) than the library knows gets the
 * library's size back and the rest untouched. */
Test(stats, size_handshake_fills_only_what_fits)
{
    zdc_peer p;
    cr_assert_eq(zdc_peer_new(g_engine, NULL, &p), 0);
    size_t old = offsetof(zdc_peer_stats, messages_sent); /* an "older" struct */
    unsigned char buf[sizeof(zdc_peer_stats) + 64];
    memset(buf, 0xa5, sizeof buf);
    zdc_peer_stats *st = (zdc_peer_stats *)(void *)buf;
    st->size = old;
    cr_assert_eq(zdc_peer_get_stats(p, st), 0);
    cr_assert_eq(st->size, old);
    cr_assert_eq(st->bytes_sent, 0);
    for (size_t i = old; i < sizeof buf; i++)
        cr_assert_eq(buf[i], 0xa5, "byte %zu beyond the caller's size was written", i);

    memset(buf, 0xa5, sizeof buf);
    st->size = sizeof buf; /* a "newer" struct */
    cr_assert_eq(zdc_peer_get_stats(p, st), 0);
    cr_assert_eq(st->size, sizeof(zdc_peer_stats));
    for (size_t i = sizeof(zdc_peer_stats); i < sizeof buf; i++)
        cr_assert_eq(buf[i], 0xa5, "byte %zu beyond the library's struct was written", i);

    st->size = offsetof(zdc_peer_stats, bytes_sent); /* not even one counter */
    cr_assert_eq(zdc_peer_get_stats(p, st), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_peer_get_stats(p, NULL), ZDC_ERR_INVALID_PARAMETER);
    zdc_peer_free(p);
    zdc_peer_stats s2 = {.size = sizeof s2};
    cr_assert_eq(zdc_peer_get_stats(p, &s2), ZDC_ERR_GONE);
    cr_assert_eq(zdc_peer_get_stats((zdc_peer){0}, &s2), ZDC_ERR_GONE);
}

Test(stats, channel_stats_through_the_handle)
{
    zdc_peer p;
    cr_assert_eq(zdc_peer_new(g_engine, NULL, &p), 0);
    zdc_channel_options o = zdc_channel_options_default();
    o.protocol = "game";
    zdc_channel ch;
    cr_assert_eq(zdc_peer_create_data_channel(p, "state", &o, &ch), 0);
    zdc_channel_stats cs = {.size = sizeof cs};
    cr_assert_eq(zdc_channel_get_stats(ch, &cs), 0);
    cr_assert_eq(cs.size, sizeof cs);
    cr_assert_str_eq(cs.label, "state");
    cr_assert_str_eq(cs.protocol, "game");
    cr_assert_eq(cs.id, -1, "no DTLS role yet");
    cr_assert_eq(cs.state, ZDC_CHANNEL_CONNECTING);
    cr_assert_eq(cs.messages_sent + cs.messages_received + cs.buffered_amount, 0);
    cs.size = offsetof(zdc_channel_stats, label);
    cr_assert_eq(zdc_channel_get_stats(ch, &cs), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_channel_get_stats(ch, NULL), ZDC_ERR_INVALID_PARAMETER);
    zdc_peer_free(p);
    cs.size = sizeof cs;
    cr_assert_eq(zdc_channel_get_stats(ch, &cs), ZDC_ERR_GONE);
}
