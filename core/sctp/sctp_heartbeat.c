/* HEARTBEAT on an idle path (RFC 9260 §8.3). zdc's associations have one path (the DTLS
 * transport), so "idle" means: no new DATA chunk was sent during the last heartbeat period and
 * none is outstanding (T3-rtx watches the path then). A HEARTBEAT then goes every RTO +
 * HB.interval, jittered by +-RTO/2. Its Heartbeat Info holds the time it left and a nonce; the
 * HEARTBEAT ACK that returns both gives an RTT measurement and clears the error counter. A
 * HEARTBEAT still unanswered when the next one is due counts as one error toward
 * Association.Max.Retrans (§8.1) and doubles the RTO; past it the association is aborted. */
#include "sctp_assoc_int.h"

#define MS      1000000ull
#define HB_INFO 16 /* sent_at (u64), nonce (u64) */

static uint64_t period(zdc_sctp_assoc *a)
{
    /* §8.3: "RTO + HB.interval", with jitter of +-50 % of the RTO. */
    uint64_t rto = a->rto ? a->rto : (uint64_t)a->cfg.rto_initial_ms * MS;
    uint64_t jitter = rto ? (uint64_t)zdc_sctp_assoc_rnd32(a) % (rto + 1) : 0;
    return (uint64_t)a->cfg.hb_interval_ms * MS + rto / 2 + jitter;
}

void zdc_sctp_hb_start(zdc_sctp_assoc *a, uint64_t now)
{
    a->hb_outstanding = false;
    a->hb_at = a->cfg.hb_interval_ms ? now + period(a) : 0;
}

static void send_heartbeat(zdc_sctp_assoc *a, uint64_t now)
{
    uint8_t info[HB_INFO];
    a->hb_nonce = (uint64_t)zdc_sctp_assoc_rnd32(a) << 32 | zdc_sctp_assoc_rnd32(a);
    a->hb_sent_at = now;
    zdc_wr w;
    zdc_wr_init(&w, info, sizeof info);
    zdc_wr_u64(&w, now);
    zdc_wr_u64(&w, a->hb_nonce);
    zdc_sctp_chunk c = {.type = ZDC_SCTP_HEARTBEAT, .u.opaque = {info, sizeof info}};
    zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
    a->hb_outstanding = true;
    a->st.heartbeats++;
}

void zdc_sctp_hb_timeout(zdc_sctp_assoc *a, uint64_t now)
{
    if (!a->hb_at || now < a->hb_at)
        return;
    if (a->state < ST_ESTABLISHED) {
        a->hb_at = 0;
        return;
    }
    if (a->t3_at) {
        /* DATA outstanding: T3-rtx probes the path and counts its errors already; a heartbeat
         * on top would count the same silence twice. */
        a->hb_outstanding = false;
        a->hb_at = now + period(a);
        return;
    }
    if (a->hb_outstanding) {
        /* §8.3: unanswered; §8.1: it counts toward the association's error limit. */
        a->hb_outstanding = false;
        if (++a->error_count > a->cfg.max_retransmits) {
            zdc_sctp_assoc_fail(a, ZDC_SCTP_ASSOC_ABORTED);
            return;
        }
        uint64_t hi = (uint64_t)a->cfg.rto_max_ms * MS;
        a->rto = a->rto * 2 > hi ? hi : a->rto * 2;
    } else if (a->last_data_at && now - a->last_data_at < (uint64_t)a->cfg.hb_interval_ms * MS) {
        /* data went out this period: not idle, T3 watches the path */
        a->hb_at = a->last_data_at + period(a);
        if (a->hb_at <= now)
            a->hb_at = now + period(a);
        return;
    }
    send_heartbeat(a, now);
    a->hb_at = now + period(a);
}

void zdc_sctp_hb_ack(zdc_sctp_assoc *a, const uint8_t *info, size_t len, uint64_t now)
{
    /* Only the answer to the HEARTBEAT in flight counts (the info is ours, echoed). */
    zdc_rd r;
    uint64_t sent_at, nonce;
    zdc_rd_init(&r, info, len);
    if (!a->hb_outstanding || len != HB_INFO || zdc_rd_u64(&r, &sent_at) ||
        zdc_rd_u64(&r, &nonce) || sent_at != a->hb_sent_at || nonce != a->hb_nonce || now < sent_at)
        return;
    a->hb_outstanding = false;
    a->error_count = 0;
    a->st.heartbeat_acks++;
    zdc_sctp_tx_rtt_sample(a, now > sent_at ? now - sent_at : 1);
}
