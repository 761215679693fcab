/* Protocol-completeness tests of the native SCTP association (core/sctp/, issue 11): stream
 * reset against partial reliability, restart (RFC 9260 §5.2.4 A), heartbeats (§8.3), the
 * Stale Cookie error (§5.2.6), the Unrecognized Parameter report in INIT ACK (§3.2.1), and one
 * SACK per receive batch. Two associations on the fake clock (test/sctp_pair.h); nothing
 * sleeps. */
#include "sctp_pair.h"

#include "sctp.h"

static const zdc_sctp_assoc_send_opts pr_rtx0 = {.pr_policy = ZDC_SCTP_ASSOC_PR_RTX, .pr_value = 0};

/* ---- stream reset and FORWARD-TSN (fuzz finding sctp_assoc-c5297e1e) -------------------------
 *
 * A FORWARD-TSN names, per ordered stream, the last SSN it skips. When the sender reset that
 * stream meanwhile, the SSN belongs to the closed epoch: a receiver that already performed
 * the reset (next SSN 0) must not take it as "skip SSN 0 of the new epoch". */
Test(sctp_proto, forward_tsn_after_a_reset_does_not_skip_the_new_epoch)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic);
    connect_both(&a, &b);
    b.drop = DROP_SACK; /* A never learns that M0 arrived */
    cr_assert_eq(send_msg(&a, 0, 0, 100, &pr_rtx0), 0);
    RUN_UNTIL(&a, &b, b.nm == 1, 100 * MSEC);
    cr_assert_eq(b.nm, 1);
    /* the reset goes (stream 0 has nothing queued) and B performs it: its cum TSN covers M0 */
    cr_assert_eq(zdc_sctp_assoc_reset_stream(a.a, 0, zdc_fakeclock_now(&clk)), 0);
    RUN_UNTIL(&a, &b, a.ndone == 1 && b.nresets == 1, 100 * MSEC);
    cr_assert_eq(b.nresets, 1);
    cr_assert_eq(a.ndone, 1);
    /* M1 on another stream is lost, so the FORWARD-TSN after T3 reaches beyond B's cum TSN */
    a.drop = DROP_DATA;
    cr_assert_eq(send_msg(&a, 1, 1, 100, &pr_rtx0), 0);
    a.drop = 0;
    zdc_sctp_assoc_stats st;
    RUN_UNTIL(&a, &b, (zdc_sctp_assoc_get_stats(a.a, &st), st.abandoned == 2), 5 * SEC);
    cr_assert_eq(st.abandoned, 2, "M0 and M1 abandoned on T3");
    RUN_UNTIL(&a, &b, false, 100 * MSEC);
    b.drop = 0;
    /* the new epoch's first message (SSN 0) on the reused stream */
    cr_assert_eq(send_msg(&a, 0, 2, 100, NULL), 0);
    RUN_UNTIL(&a, &b, b.nm == 2, 10 * SEC);
    cr_assert_eq(b.nm, 2, "the reused stream's SSN 0 was delivered");
    cr_assert(msg_is(&b.m[1], 2));
    cr_assert_eq(b.m[1].stream, 0);
    ep_clear(&a);
    ep_clear(&b);
}

/* The FORWARD-TSN of a stream being reset names no SSN, so a complete message stored behind an
 * abandoned one waits for the reset: performing it delivers that message (before the reset is
 * reported, in SSN order), never after the new epoch's messages. */
Test(sctp_proto, reset_delivers_what_waited_behind_an_abandoned_message)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic);
    connect_both(&a, &b);
    a.drop = DROP_DATA;
    cr_assert_eq(send_msg(&a, 0, 0, 100, &pr_rtx0), 0); /* SSN 0, lost */
    a.drop = 0;
    cr_assert_eq(send_msg(&a, 0, 1, 1000, NULL), 0); /* SSN 1, stored by B (one packet: one
                                                      * miss indication, no fast rtx) */
    RUN_UNTIL(&a, &b, false, 50 * MSEC);
    cr_assert_eq(b.nm, 0, "M1 waits for SSN 0 (got %zu: %u, a dropped %u)", b.nm,
                 b.nm ? zdc_load_u32(b.m[0].p) : 0, a.dropped_by_test);
    cr_assert_eq(zdc_sctp_assoc_reset_stream(a.a, 0, zdc_fakeclock_now(&clk)), 0);
    RUN_UNTIL(&a, &b, a.ndone == 1, 20 * SEC);
    cr_assert_eq(a.ndone, 1);
    cr_assert_eq(b.nresets, 1);
    cr_assert_eq(b.nm, 1);
    cr_assert_eq(b.msgs_at_reset, 1, "M1 delivered before the reset is reported");
    cr_assert(msg_is(&b.m[0], 1));
    cr_assert_eq(send_msg(&a, 0, 2, 100, NULL), 0);
    cr_assert_eq(send_msg(&a, 0, 3, 2000, NULL), 0);
    RUN_UNTIL(&a, &b, b.nm == 3, 10 * SEC);
    cr_assert_eq(b.nm, 3);
    cr_assert(msg_is(&b.m[1], 2));
    cr_assert(msg_is(&b.m[2], 3));
    cr_assert_eq(b.a->n_stored, 0);
    cr_assert_eq(b.a->rx_held, 0);
    ep_clear(&a);
    ep_clear(&b);
}

/* RFC 9260 §6.10: in a packet, control chunks come before DATA. A FORWARD-TSN due because a
 * retransmission is abandoned went after the packet's other retransmitted DATA; usrsctp then
 * aborts ("DATA chunk followed by chunk of type c0", found by test/integration/sctp_diff). */
Test(sctp_proto, forward_tsn_precedes_data_in_a_packet)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.seed = 41;
    ic.loss = 0.10;
    ic.delay_ns = 20 * MSEC;
    pair(&a, &b, &ic);
    connect_both(&a, &b);
    for (uint32_t i = 0; i < 300; i++) {
        zdc_sctp_assoc_send_opts o = {.unordered = i % 3 == 0,
                                      .pr_policy =
                                          i % 2 ? ZDC_SCTP_ASSOC_PR_RTX : ZDC_SCTP_ASSOC_PR_NONE,
                                      .pr_value = i % 4 == 1 ? 1 : 0};
        cr_assert_eq(send_msg(&a, (uint16_t)(i % 3), i, 200 + (i * 37) % 2500, &o), 0);
        if (i % 10 == 0)
            RUN_UNTIL(&a, &b, false, 10 * MSEC);
    }
    RUN_UNTIL(&a, &b, zdc_sctp_assoc_buffered_amount(a.a) == 0, 60 * SEC);
    cr_assert_eq(zdc_sctp_assoc_buffered_amount(a.a), 0);
    cr_assert_gt(a.chunks[ZDC_SCTP_FORWARD_TSN], 0, "FORWARD-TSNs were sent");
    cr_assert_eq(a.control_after_data, 0, "%u packets had a control chunk after DATA",
                 a.control_after_data);
    cr_assert_eq(b.control_after_data, 0);
    ep_clear(&a);
    ep_clear(&b);
}

/* ---- restart (RFC 9260 §5.2.2, §5.2.4 A) -------------------------------------------------- */

/* A's process restarts: a fresh association with new tags connects to B, which is still up. B's
 * INIT ACK carries a new tag and the old tags as tie-tags; the COOKIE ECHO that returns them is
 * a restart: B reports it, drops what belonged to the old association, tells the application
 * every stream it used was reset, and both sides then talk from SSN 0. */
Test(sctp_proto, a_restarted_peer_is_detected_and_the_association_starts_over)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 10 * MSEC;
    pair(&a, &b, &ic);
    connect_both(&a, &b);
    cr_assert_eq(send_msg(&a, 1, 0, 500, NULL), 0);
    cr_assert_eq(send_msg(&a, 2, 1, 5000, NULL), 0);
    cr_assert_eq(send_msg(&b, 1, 0, 500, NULL), 0);
    RUN_UNTIL(&a, &b, b.nm == 2 && a.nm == 1, 5 * SEC);
    cr_assert_eq(b.nm, 2);
    uint32_t old_local = b.a->local_tag, old_peer = b.a->peer_tag;

    /* A restarts: its old association is gone without a word; B still has data for it */
    zdc_sctp_assoc_free(a.a);
    a.up = 0;
    zdc_sctp_assoc_config c;
    ep_config(&a, 777, &c);
    cr_assert_eq(zdc_sctp_assoc_new(&c, &a.a), 0);
    b.drop = DROP_ALL;
    cr_assert_eq(send_msg(&b, 3, 1, 3000, NULL), 0); /* lost with the old A */
    b.drop = 0;
    cr_assert_gt(zdc_sctp_assoc_buffered_amount(b.a), 0);
    cr_assert_eq(zdc_sctp_assoc_connect(a.a, zdc_fakeclock_now(&clk)), 0);
    RUN_UNTIL(&a, &b, a.up, 5 * SEC);
    cr_assert_eq(a.up, 1, "the restarted A came up");
    cr_assert_eq(b.restarts, 1, "B reported the restart");
    cr_assert_eq(b.down, 0, "B's association never went down");
    cr_assert_eq(b.up, 1, "no second on_up");
    cr_assert_neq(b.a->local_tag, old_local, "new tags");
    cr_assert_neq(b.a->peer_tag, old_peer);
    cr_assert_eq(b.a->peer_tag, a.a->local_tag);
    cr_assert_eq(a.a->peer_tag, b.a->local_tag);
    cr_assert_eq(zdc_sctp_assoc_buffered_amount(b.a), 0, "the old association's data dropped");
    cr_assert_eq(b.nresets, 3, "streams 1, 2 and 3 reported reset (%zu)", b.nresets);
    zdc_sctp_assoc_stats st;
    zdc_sctp_assoc_get_stats(b.a, &st);
    cr_assert_eq(st.restarts, 1);

    /* both directions work again, from SSN 0 on the streams used before */
    cr_assert_eq(send_msg(&a, 1, 10, 500, NULL), 0);
    cr_assert_eq(send_msg(&a, 2, 11, 5000, NULL), 0);
    cr_assert_eq(send_msg(&b, 1, 12, 2500, NULL), 0);
    RUN_UNTIL(&a, &b, b.nm == 4 && a.nm == 2, 10 * SEC);
    cr_assert_eq(b.nm, 4);
    cr_assert(msg_is(&b.m[2], 10));
    cr_assert(msg_is(&b.m[3], 11));
    cr_assert_eq(a.nm, 2);
    cr_assert(msg_is(&a.m[1], 12));
    ep_clear(&a);
    ep_clear(&b);
}

/* An INIT reaching an established association changes nothing by itself (§5.2.2: the answer's
 * cookie holds everything), and replaying the original handshake's COOKIE ECHO is no restart
 * (§5.2.4 D: it is acknowledged again). */
Test(sctp_proto, an_init_or_an_old_cookie_echo_does_not_restart)
{
    struct ep a, b, x;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic);
    cr_assert_eq(zdc_sctp_assoc_connect(a.a, zdc_fakeclock_now(&clk)), 0);
    deliver(&a); /* INIT -> B, INIT ACK -> A's queue */
    deliver(&b); /* INIT ACK -> A, COOKIE ECHO -> B's queue */
    uint8_t echo[512];
    size_t elen;
    uint64_t tag;
    cr_assert_eq(zdc_impair_pop(a.link, zdc_fakeclock_now(&clk), echo, sizeof echo, &elen, &tag),
                 1);
    zdc_sctp_assoc_handle_packet(b.a, echo, elen, zdc_fakeclock_now(&clk));
    RUN_UNTIL(&a, &b, a.up && b.up, 5 * SEC);
    cr_assert(a.up && b.up);
    uint32_t local = b.a->local_tag, peer = b.a->peer_tag;

    unsigned acks = b.chunks[ZDC_SCTP_COOKIE_ACK];
    zdc_sctp_assoc_handle_packet(b.a, echo, elen, zdc_fakeclock_now(&clk));
    cr_assert_eq(b.chunks[ZDC_SCTP_COOKIE_ACK], acks + 1, "the old COOKIE ECHO acknowledged");

    ep_init(&x, &b, &ic, 4242); /* a stranger's INIT */
    cr_assert_eq(zdc_sctp_assoc_connect(x.a, zdc_fakeclock_now(&clk)), 0);
    unsigned init_acks = b.chunks[ZDC_SCTP_INIT_ACK];
    deliver(&x);
    cr_assert_eq(b.chunks[ZDC_SCTP_INIT_ACK], init_acks + 1, "answered");
    RUN_UNTIL(&a, &b, false, 2 * SEC);
    cr_assert_eq(b.a->local_tag, local, "tags unchanged");
    cr_assert_eq(b.a->peer_tag, peer);
    cr_assert_eq(b.restarts, 0);
    cr_assert_eq(b.up, 1);
    cr_assert_eq(b.down + a.down, 0);
    cr_assert_eq(send_msg(&a, 0, 1, 300, NULL), 0);
    RUN_UNTIL(&a, &b, b.nm == 1, 2 * SEC);
    cr_assert_eq(b.nm, 1, "the association still carries data");
    ep_clear(&x);
    ep_clear(&a);
    ep_clear(&b);
}

/* ---- heartbeat (RFC 9260 §8.3) ------------------------------------------------------------- */

Test(sctp_proto, heartbeats_on_an_idle_path_measure_the_rtt)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 50 * MSEC;
    pair(&a, &b, &ic);
    connect_both(&a, &b);
    /* idle for 200 s: one heartbeat about every RTO + 30 s */
    RUN_UNTIL(&a, &b, false, 200 * SEC);
    unsigned n = a.chunks[ZDC_SCTP_HEARTBEAT];
    cr_assert(n >= 5 && n <= 7, "%u heartbeats in 200 s idle", n);
    cr_assert_eq(b.chunks[ZDC_SCTP_HEARTBEAT_ACK], n, "each answered");
    zdc_sctp_assoc_stats st;
    zdc_sctp_assoc_get_stats(a.a, &st);
    cr_assert_eq(st.heartbeat_acks, n);
    cr_assert(st.srtt_ms >= 95 && st.srtt_ms <= 105, "RTT from heartbeats: %u ms", st.srtt_ms);
    /* busy for 100 s: a message a second, no heartbeat (the path is not idle) */
    unsigned ha = a.chunks[ZDC_SCTP_HEARTBEAT], hb = b.chunks[ZDC_SCTP_HEARTBEAT];
    for (uint32_t i = 0; i < 100; i++) {
        cr_assert_eq(send_msg(&a, 0, i, 100, NULL), 0);
        cr_assert_eq(send_msg(&b, 0, i, 100, NULL), 0);
        RUN_UNTIL(&a, &b, false, 1 * SEC);
    }
    cr_assert_eq(a.chunks[ZDC_SCTP_HEARTBEAT], ha, "no heartbeat while data flows");
    cr_assert_eq(b.chunks[ZDC_SCTP_HEARTBEAT], hb);
    cr_assert(zdc_sctp_assoc_is_up(a.a) && zdc_sctp_assoc_is_up(b.a));
    ep_clear(&a);
    ep_clear(&b);
}

Test(sctp_proto, unanswered_heartbeats_end_the_association)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 10 * MSEC;
    pair(&a, &b, &ic);
    connect_both(&a, &b);
    b.drop = DROP_HB_ACK;
    RUN_UNTIL(&a, &b, a.down, 3600 * SEC);
    cr_assert_eq(a.down, 1);
    cr_assert_eq(a.down_reason, ZDC_SCTP_ASSOC_ABORTED);
    zdc_sctp_assoc_stats st;
    zdc_sctp_assoc_get_stats(a.a, &st);
    cr_assert_eq(st.heartbeats, 11, "Association.Max.Retrans (10) + 1 unanswered: %llu",
                 (unsigned long long)st.heartbeats);
    cr_assert_eq(st.t3_expiries, 0);
    cr_assert_eq(b.down, 0, "B's own heartbeats are answered");
    ep_clear(&a);
    ep_clear(&b);
}

/* ---- Stale Cookie (RFC 9260 §5.2.6, §3.3.10.3) --------------------------------------------- */

/* The COOKIE ECHO reaches B after the cookie's 60 s life: B answers ERROR "Stale Cookie" with
 * the staleness; A starts the handshake again with a new INIT, and the association comes up. */
Test(sctp_proto, a_stale_cookie_is_reported_and_the_handshake_starts_again)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    ic.delay_ns = 10 * MSEC;
    pair(&a, &b, &ic);
    a.a->cfg.max_init_retransmits = 20;
    a.drop = DROP_COOKIE_ECHO; /* every COOKIE ECHO lost for 61 s */
    cr_assert_eq(zdc_sctp_assoc_connect(a.a, zdc_fakeclock_now(&clk)), 0);
    RUN_UNTIL(&a, &b, false, 61 * SEC);
    cr_assert_eq(a.a->state, ST_COOKIE_ECHOED);
    a.drop = 0;
    RUN_UNTIL(&a, &b, a.up && b.up, 60 * SEC);
    cr_assert(a.up && b.up, "up after a new handshake");
    zdc_sctp_assoc_stats st;
    zdc_sctp_assoc_get_stats(b.a, &st);
    cr_assert_eq(st.stale_cookies, 1);
    cr_assert_eq(b.chunks[ZDC_SCTP_ERROR], 1);
    cr_assert_geq(a.chunks[ZDC_SCTP_INIT], 2, "a new INIT after the Stale Cookie error");
    ep_clear(&a);
    ep_clear(&b);
}

/* The error cause itself: code 3, length 8, Measure of Staleness in microseconds. */
Test(sctp_proto, stale_cookie_error_carries_the_staleness)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic);
    cr_assert_eq(zdc_sctp_assoc_connect(a.a, zdc_fakeclock_now(&clk)), 0);
    deliver(&a); /* B answers the INIT */
    deliver(&b); /* A sends COOKIE ECHO */
    uint8_t echo[256];
    size_t len;
    uint64_t tag;
    cr_assert_eq(zdc_impair_pop(a.link, zdc_fakeclock_now(&clk), echo, sizeof echo, &len, &tag), 1);
    zdc_fakeclock_advance(&clk, 62500 * MSEC); /* 2.5 s past the 60 s life */
    zdc_sctp_assoc_handle_packet(b.a, echo, len, zdc_fakeclock_now(&clk));
    uint8_t out[256];
    cr_assert_eq(zdc_impair_pop(b.link, zdc_fakeclock_now(&clk), out, sizeof out, &len, &tag), 1);
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    cr_assert_eq(zdc_sctp_packet_parse(out, len, ZDC_SCTP_CSUM_VERIFY, &h, &it), 0);
    cr_assert_eq(h.vtag, a.a->local_tag, "sent with the tag A put in its INIT");
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 1);
    cr_assert_eq(raw.type, ZDC_SCTP_ERROR);
    zdc_sctp_cause_iter ci;
    zdc_sctp_cause_iter_init(&ci, raw.value, raw.len);
    uint16_t code;
    const uint8_t *v;
    size_t vl;
    cr_assert_eq(zdc_sctp_cause_next(&ci, &code, &v, &vl), 1);
    cr_assert_eq(code, ZDC_SCTP_CAUSE_STALE_COOKIE);
    cr_assert_eq(vl, 4);
    uint32_t late = zdc_load_u32(v);
    cr_assert(late >= 2500000 && late <= 2600000, "staleness %u us", late);
    cr_assert_eq(b.a->state, ST_CLOSED, "no state kept");
    ep_clear(&a);
    ep_clear(&b);
}

/* ---- Unrecognized Parameter in INIT ACK (RFC 9260 §3.2.1) ---------------------------------- */

static size_t put_param(uint8_t *p, uint16_t type, uint8_t fill, size_t vlen)
{
    zdc_store_u16(p, type);
    zdc_store_u16(p + 2, (uint16_t)(4 + vlen));
    memset(p + 4, fill, vlen);
    size_t n = 4 + vlen;
    while (n % 4)
        p[n++] = 0;
    return n;
}

static bool contains(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl)
{
    for (size_t i = 0; i + nl <= hl; i++)
        if (memcmp(h + i, n, nl) == 0)
            return true;
    return false;
}

/* An INIT with four unknown parameters: 11 (skip, report), 10 (skip silently), 01 (stop,
 * report), then 11 again (never reached). The INIT ACK reports exactly the first and the third,
 * whole, in Unrecognized Parameter parameters. */
Test(sctp_proto, init_ack_reports_unrecognized_parameters_by_their_upper_bits)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic);
    uint8_t pkt[256];
    size_t n = 0;
    zdc_store_u16(pkt, 5000);
    zdc_store_u16(pkt + 2, 5000);
    zdc_store_u32(pkt + 4, 0);
    zdc_store_u32(pkt + 8, 0);
    n = 12;
    size_t chunk = n;
    pkt[n] = ZDC_SCTP_INIT;
    pkt[n + 1] = 0;
    n += 4;
    zdc_store_u32(pkt + n, 0x11223344); /* initiate tag */
    zdc_store_u32(pkt + n + 4, 65536);
    zdc_store_u16(pkt + n + 8, 16);
    zdc_store_u16(pkt + n + 10, 16);
    zdc_store_u32(pkt + n + 12, 1000);
    n += 16;
    size_t p1 = n;
    n += put_param(pkt + n, 0xC123, 0xa1, 5);
    n += put_param(pkt + n, 0x8124, 0xa2, 4);
    size_t p3 = n;
    n += put_param(pkt + n, 0x4125, 0xa3, 3);
    n += put_param(pkt + n, 0xC126, 0xa4, 4);
    zdc_store_u16(pkt + chunk + 2, (uint16_t)(n - chunk));
    zdc_crc32c_store(pkt + 8, zdc_crc32c(pkt, n));
    cr_assert_eq(zdc_sctp_assoc_handle_packet(b.a, pkt, n, zdc_fakeclock_now(&clk)), 0);

    uint8_t out[2048];
    size_t len;
    uint64_t tag;
    cr_assert_eq(zdc_impair_pop(b.link, zdc_fakeclock_now(&clk), out, sizeof out, &len, &tag), 1);
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    zdc_sctp_chunk c;
    cr_assert_eq(zdc_sctp_packet_parse(out, len, ZDC_SCTP_CSUM_VERIFY, &h, &it), 0);
    cr_assert_eq(h.vtag, 0x11223344);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 1);
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &c), 0);
    cr_assert_eq(c.type, ZDC_SCTP_INIT_ACK);
    cr_assert_eq(c.u.init.n_unrecognized_back, 2);
    cr_assert_not_null(c.u.init.cookie, "the cookie is still there");
    /* each reported parameter is inside an Unrecognized Parameter (type 8), whole */
    uint8_t want[16];
    zdc_store_u16(want, ZDC_SCTP_P_UNRECOGNIZED);
    zdc_store_u16(want + 2, 4 + 9);
    memcpy(want + 4, pkt + p1, 9);
    cr_assert(contains(raw.value, raw.len, want, 13), "0xC123 reported whole");
    zdc_store_u16(want + 2, 4 + 7);
    memcpy(want + 4, pkt + p3, 7);
    cr_assert(contains(raw.value, raw.len, want, 11), "0x4125 reported whole");
    ep_clear(&a);
    ep_clear(&b);
}

/* Appends an unknown parameter of type 0xC777 (skip, report) to an INIT ACK. */
static void add_unknown_to_init_ack(struct ep *e, uint8_t *p, size_t *len)
{
    if (*len < 16 || p[12] != ZDC_SCTP_INIT_ACK || zdc_load_u16(p + 14) + 12u != *len)
        return; /* the INIT ACK ends with the 84-byte cookie: no padding to mind */
    size_t n = *len;
    n += put_param(p + n, 0xC777, 0x5a, 4);
    zdc_store_u16(p + 14, (uint16_t)(n - 12));
    zdc_store_u32(p + 8, 0);
    zdc_crc32c_store(p + 8, zdc_crc32c(p, n));
    *len = n;
}

/* §3.2.1: an INIT ACK's unrecognized parameter that asks for a report goes back in an ERROR
 * chunk bundled after the COOKIE ECHO; the association comes up all the same. */
Test(sctp_proto, init_ack_unrecognized_parameters_reported_with_the_cookie_echo)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic);
    b.mangle = add_unknown_to_init_ack;
    cr_assert_eq(zdc_sctp_assoc_connect(a.a, zdc_fakeclock_now(&clk)), 0);
    RUN_UNTIL(&a, &b, a.up && b.up, 5 * SEC);
    cr_assert(a.up && b.up);
    cr_assert_eq(a.chunks[ZDC_SCTP_COOKIE_ECHO], 1);
    cr_assert_eq(a.chunks[ZDC_SCTP_ERROR], 1, "the report rode with the COOKIE ECHO");
    cr_assert_eq(b.a->st.dropped, 0);
    ep_clear(&a);
    ep_clear(&b);
}

/* ---- one SACK per receive batch ------------------------------------------------------------ */

/* Warms the association up (cwnd grows), then has A put n one-packet messages on the link at
 * once, the k-th (k < n) lost when drop_k is set. */
static void burst_of_packets(struct ep *a, struct ep *b, unsigned n, int drop_k)
{
    size_t had = b->nm;
    for (uint32_t i = 0; i < 200; i++)
        cr_assert_eq(send_msg(a, 0, i, 1000, NULL), 0);
    RUN_UNTIL(a, b, b->nm >= had + 200 && zdc_sctp_assoc_buffered_amount(a->a) == 0, 30 * SEC);
    cr_assert_geq(b->nm, had + 200); /* and what an earlier burst left behind a hole */
    cr_assert_eq(zdc_sctp_assoc_buffered_amount(a->a), 0);
    RUN_UNTIL(a, b, false, 1 * SEC); /* delayed SACKs out of the way */
    for (uint32_t i = 0; i < n; i++) {
        a->drop = (int)i == drop_k ? DROP_DATA : 0;
        cr_assert_eq(send_msg(a, 0, 1000 + i, 1000, NULL), 0);
    }
    a->drop = 0;
    cr_assert_eq(zdc_impair_queued(a->link), n - (drop_k >= 0), "one packet each (cwnd %u)",
                 a->a->cwnd);
}

/* SACK chunks e sent so far. */
static unsigned sacks_of(const struct ep *e)
{
    return e->chunks[ZDC_SCTP_SACK];
}

Test(sctp_proto, a_batch_of_packets_is_answered_by_one_sack)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic);
    connect_both(&a, &b);
    burst_of_packets(&a, &b, 16, -1);
    unsigned before = sacks_of(&b);
    zdc_sctp_assoc_batch_begin(b.a);
    cr_assert_eq(deliver(&a), 16);
    cr_assert_eq(sacks_of(&b), before, "nothing sent inside the batch");
    zdc_sctp_assoc_batch_end(b.a, zdc_fakeclock_now(&clk));
    cr_assert_eq(sacks_of(&b), before + 1, "one SACK for 16 packets");
    cr_assert_eq(b.nm, 216, "all delivered");
    RUN_UNTIL(&a, &b, zdc_sctp_assoc_buffered_amount(a.a) == 0, 1 * SEC);
    cr_assert_eq(zdc_sctp_assoc_buffered_amount(a.a), 0, "that SACK acknowledged them all");

    /* the same without a batch: a SACK every second packet */
    burst_of_packets(&a, &b, 16, -1);
    before = sacks_of(&b);
    cr_assert_eq(deliver(&a), 16);
    cr_assert_eq(sacks_of(&b), before + 8);
    ep_clear(&a);
    ep_clear(&b);
}

/* A gap inside the batch: still one SACK, at its end, carrying the gap block (without a batch
 * every packet after the hole would be answered at once). */
Test(sctp_proto, a_batch_with_a_gap_is_answered_by_one_sack)
{
    struct ep a, b;
    zdc_impair_config ic = zdc_impair_config_default();
    pair(&a, &b, &ic);
    connect_both(&a, &b);
    burst_of_packets(&a, &b, 12, 2);
    unsigned before = sacks_of(&b);
    uint32_t cum = b.a->cum_tsn;
    zdc_sctp_assoc_batch_begin(b.a);
    cr_assert_eq(deliver(&a), 11);
    zdc_sctp_assoc_batch_end(b.a, zdc_fakeclock_now(&clk));
    cr_assert_eq(sacks_of(&b), before + 1);
    cr_assert_eq(b.a->cum_tsn, cum + 2, "cumulative TSN stops at the hole");
    cr_assert_eq(b.a->highest_tsn, cum + 12);
    /* without a batch: each packet after the hole answered at once */
    burst_of_packets(&a, &b, 12, 2);
    before = sacks_of(&b);
    cr_assert_eq(deliver(&a), 11);
    cr_assert_geq(sacks_of(&b), before + 9);
    ep_clear(&a);
    ep_clear(&b);
}

/* The same through the peer connection's SCTP interface (core/proto/sctp.h) on the native
 * association: zdc_sctp_batch_begin / _end, which the peer connection calls around the
 * datagrams the engine hands it in one poll. */
struct pq {
    uint8_t p[64][1300];
    size_t len[64];
    unsigned n, sacks;
};

static int pq_send(void *user, const uint8_t *p, size_t len)
{
    struct pq *q = user;
    if (pkt_chunks(p, len, NULL, NULL) & DROP_SACK)
        q->sacks++;
    cr_assert_lt(q->n, 64);
    cr_assert_leq(len, sizeof q->p[0]);
    memcpy(q->p[q->n], p, len);
    q->len[q->n++] = len;
    return 0;
}

static unsigned pq_deliver(struct pq *q, zdc_sctp *to, uint64_t now)
{
    unsigned n = q->n;
    q->n = 0;
    zdc_sctp_set_now(to, now);
    for (unsigned i = 0; i < n; i++)
        zdc_sctp_handle_packet(to, q->p[i], q->len[i]);
    return n;
}

static zdc_sctp *pq_sctp(struct pq *q)
{
    zdc_sctp_config c;
    zdc_sctp_config_default(&c);
    c.native = true;
    c.cb.send = pq_send;
    c.user = q;
    zdc_sctp *s;
    cr_assert_eq(zdc_sctp_new(&c, &s), 0);
    return s;
}

Test(sctp_proto, the_sctp_interface_answers_a_batch_with_one_sack)
{
    static struct pq qa, qb;
    zdc_sctp *sa = pq_sctp(&qa), *sb = pq_sctp(&qb);
    uint64_t now = 5 * SEC;
    zdc_sctp_set_now(sa, now);
    zdc_sctp_set_now(sb, now);
    cr_assert_eq(zdc_sctp_connect(sa), 0);
    cr_assert_eq(zdc_sctp_connect(sb), 0);
    for (int i = 0; i < 10 && !(zdc_sctp_is_up(sa) && zdc_sctp_is_up(sb)); i++) {
        now += MSEC;
        pq_deliver(&qa, sb, now);
        pq_deliver(&qb, sa, now);
    }
    cr_assert(zdc_sctp_is_up(sa) && zdc_sctp_is_up(sb));
    now += SEC;
    pq_deliver(&qa, sb, now);
    pq_deliver(&qb, sa, now);
    for (int round = 0; round < 2; round++) {
        uint8_t m[1000] = {0};
        for (int i = 0; i < 4; i++)
            cr_assert_eq(zdc_sctp_send(sa, 1, 53, m, sizeof m, NULL), 0);
        zdc_sctp_handle_timeout(sa, now); /* the sends go out at the next call with the time */
        cr_assert_eq(qa.n, 4, "four DATA packets");
        unsigned before = qb.sacks;
        if (round == 0) {
            zdc_sctp_batch_begin(sb);
            pq_deliver(&qa, sb, now);
            cr_assert_eq(qb.sacks, before);
            zdc_sctp_batch_end(sb);
            cr_assert_eq(qb.sacks, before + 1, "one SACK for the batch");
        } else {
            pq_deliver(&qa, sb, now);
            cr_assert_eq(qb.sacks, before + 2, "without a batch: every second packet");
        }
        pq_deliver(&qb, sa, now);
        cr_assert_eq(zdc_sctp_buffered_amount(sa), 0, "all acknowledged");
        now += SEC;
        zdc_sctp_handle_timeout(sb, now);
        pq_deliver(&qb, sa, now);
    }
    zdc_sctp_free(sa);
    zdc_sctp_free(sb);
}
