/* Stream reset for closing data channels (RFC 6525 §5; RFC 8831 §6.7): our Outgoing SSN Reset
 * Requests (one in flight, retransmitted on the RTO, streams asked for meanwhile batched into
 * the next), and the answers to the peer's. Nothing of a peer's request is stored: an early
 * request (data up to its last TSN not yet received) is answered "In progress" and the peer
 * retransmits it; a repeated one gets the previous answer again (§5.2.1). */
#include "sctp_assoc_int.h"

#define MS 1000000ull

static bool in_list(const uint16_t *l, unsigned n, uint16_t s)
{
    for (unsigned i = 0; i < n; i++)
        if (l[i] == s)
            return true;
    return false;
}

bool zdc_sctp_reset_blocks(const zdc_sctp_assoc *a, uint16_t stream)
{
    return in_list(a->reset_pending, a->n_reset_pending, stream) ||
           in_list(a->reset_inflight, a->n_reset_inflight, stream);
}

int zdc_sctp_assoc_reset_stream(zdc_sctp_assoc *a, uint16_t stream, uint64_t now)
{
    if (a->state != ST_ESTABLISHED)
        return ZDC_ERR_INVALID_STATE;
    if (stream >= a->os)
        return ZDC_ERR_INVALID_PARAMETER;
    if (!a->peer_reconfig)
        return ZDC_ERR_NOT_SUPPORTED;
    if (zdc_sctp_reset_blocks(a, stream))
        return 0;
    if (a->n_reset_pending == ZDC_SCTP_MAX_PENDING_RESETS)
        return ZDC_ERR_QUEUE_FULL;
    a->reset_pending[a->n_reset_pending++] = stream;
    zdc_sctp_reset_flush(a, now);
    return 0;
}

static void send_request(zdc_sctp_assoc *a, uint64_t now)
{
    uint8_t streams[2 * ZDC_SCTP_MAX_PENDING_RESETS];
    for (unsigned i = 0; i < a->n_reset_inflight; i++)
        zdc_store_u16(streams + 2 * i, a->reset_inflight[i]);
    zdc_sctp_chunk c = {.type = ZDC_SCTP_RE_CONFIG, .u.reconfig = {.n = 1}};
    c.u.reconfig.p[0] = (zdc_sctp_reconf_param){.type = ZDC_SCTP_P_OUT_RESET_REQ,
                                                .req_seq = a->reconf_seq,
                                                .resp_seq = a->peer_reconf_seq - 1,
                                                .last_tsn = a->reconf_last_tsn,
                                                .n_streams = (uint16_t)a->n_reset_inflight,
                                                .streams = streams};
    zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
    a->reconf_at = now + a->rto;
}

/* Starts the next request when none is in flight and the pending streams have no queued data
 * left (their last message already has its TSNs, so "Sender's Last Assigned TSN" covers it). */
void zdc_sctp_reset_flush(zdc_sctp_assoc *a, uint64_t now)
{
    if (a->reconf_at || a->n_reset_pending == 0 || a->state != ST_ESTABLISHED)
        return;
    unsigned k = 0;
    for (unsigned i = 0; i < a->n_reset_pending; i++) {
        uint16_t s = a->reset_pending[i];
        if (zdc_sctp_tx_stream_idle(a, s)) {
            a->reset_inflight[a->n_reset_inflight++] = s;
            zdc_sctp_tx_close_ssn_epoch(a, s);
        } else
            a->reset_pending[k++] = s;
    }
    a->n_reset_pending = k;
    if (a->n_reset_inflight == 0)
        return;
    a->reconf_last_tsn = a->next_tsn - 1;
    a->reconf_count = 0;
    send_request(a, now);
}

void zdc_sctp_reset_timeout(zdc_sctp_assoc *a, uint64_t now)
{
    if (!a->reconf_at || now < a->reconf_at)
        return;
    if (++a->reconf_count > a->cfg.max_retransmits) {
        zdc_sctp_assoc_fail(a, ZDC_SCTP_ASSOC_ABORTED);
        return;
    }
    send_request(a, now);
}

static void respond(zdc_sctp_assoc *a, uint32_t seq, uint32_t result)
{
    zdc_sctp_chunk c = {.type = ZDC_SCTP_RE_CONFIG, .u.reconfig = {.n = 1}};
    c.u.reconfig.p[0] =
        (zdc_sctp_reconf_param){.type = ZDC_SCTP_P_RECONF_RESP, .req_seq = seq, .result = result};
    zdc_sctp_assoc_send_chunk(a, a->peer_tag, &c);
}

/* RFC 6525 §5.2.2: the peer resets its outgoing streams = our incoming ones. */
static void peer_out_reset(zdc_sctp_assoc *a, const zdc_sctp_reconf_param *p)
{
    if (p->req_seq == a->peer_reconf_seq - 1) {
        respond(a, p->req_seq, a->peer_last_result); /* a retransmission (§5.2.1) */
        return;
    }
    if (p->req_seq != a->peer_reconf_seq) {
        respond(a, p->req_seq, ZDC_SCTP_RECONF_ERR_BAD_SEQ);
        return;
    }
    /* "If the Sender's Last Assigned TSN is greater than the cumulative acknowledgment point,
     * then the endpoint MUST enter 'deferred reset processing'" — here: answer In progress,
     * keep nothing, and let the peer's retransmission find the data complete. */
    if (zdc_tsn_lt(a->cum_tsn, p->last_tsn)) {
        respond(a, p->req_seq, ZDC_SCTP_RECONF_IN_PROGRESS);
        return;
    }
    unsigned n = p->n_streams;
    for (unsigned i = 0; i < n; i++)
        zdc_sctp_rx_reset_ssn(a, zdc_sctp_reconf_stream(p, i));
    a->peer_reconf_seq++;
    a->peer_last_result = ZDC_SCTP_RECONF_PERFORMED;
    respond(a, p->req_seq, ZDC_SCTP_RECONF_PERFORMED);
    for (unsigned i = 0; i < n && a->cfg.cb.on_stream_reset; i++)
        a->cfg.cb.on_stream_reset(a->cfg.user, zdc_sctp_reconf_stream(p, i));
}

static void our_request_answered(zdc_sctp_assoc *a, const zdc_sctp_reconf_param *p, uint64_t now)
{
    if (!a->reconf_at || p->req_seq != a->reconf_seq)
        return; /* not about the request in flight */
    if (p->result == ZDC_SCTP_RECONF_IN_PROGRESS)
        return; /* the timer resends it */
    a->reconf_at = 0;
    a->reconf_seq++;
    unsigned n = a->n_reset_inflight;
    uint16_t done[ZDC_SCTP_MAX_PENDING_RESETS];
    memcpy(done, a->reset_inflight, n * sizeof done[0]);
    a->n_reset_inflight = 0;
    bool ok = p->result == ZDC_SCTP_RECONF_PERFORMED || p->result == ZDC_SCTP_RECONF_NOTHING;
    for (unsigned i = 0; i < n; i++) {
        if (ok)
            zdc_sctp_tx_reset_ssn(a, done[i]);
        if (a->cfg.cb.on_reset_done)
            a->cfg.cb.on_reset_done(a->cfg.user, done[i]);
    }
    zdc_sctp_reset_flush(a, now);
}

void zdc_sctp_reset_handle(zdc_sctp_assoc *a, const zdc_sctp_reconfig_chunk *c, uint64_t now)
{
    if (a->state < ST_ESTABLISHED)
        return;
    for (unsigned i = 0; i < c->n; i++) {
        const zdc_sctp_reconf_param *p = &c->p[i];
        switch (p->type) {
        case ZDC_SCTP_P_OUT_RESET_REQ:
            peer_out_reset(a, p);
            break;
        case ZDC_SCTP_P_RECONF_RESP:
            our_request_answered(a, p, now);
            break;
        default: /* incoming / TSN / add-stream requests: WebRTC does not use them */
            respond(a, p->req_seq, ZDC_SCTP_RECONF_DENIED);
            break;
        }
    }
}
