/* Protocol-completeness tests of the native SCTP association (core/sctp/, issue 11): stream
 * reset against partial reliability, restart (RFC 9260 §5.2.4 A), heartbeats (§8.3), the
 * Stale Cookie error (§5.2.6), the Unrecognized Parameter report in INIT ACK (§3.2.1), and one
 * SACK per receive batch. Two associations on the fake clock (test/sctp_pair.h); nothing
 * sleeps. */
#include "sctp_pair.h"

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
