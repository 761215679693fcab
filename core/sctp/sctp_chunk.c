/* SCTP chunk codec (RFC 9260 §3.3, RFC 3758 §3.2, RFC 6525 §3-4, RFC 9653 §4). Every field
 * is read only after its length was checked; views point into the parsed chunk. */
#include "sctp_wire.h"

/* ---- parameters of INIT / INIT ACK -------------------------------------------------------- */

static void init_report(zdc_sctp_init_chunk *c, const zdc_tlv_walker *w, const zdc_tlv *t)
{
    if (c->n_reported < ZDC_SCTP_MAX_REPORTED) {
        c->reported[c->n_reported] = w->p + t->offset;
        c->reported_len[c->n_reported] = t->len + 4;
    }
    c->n_reported++;
}

/* RFC 9260 §3.3.2: fixed part, then optional/variable-length parameters. */
static int init_parse(const zdc_sctp_raw_chunk *raw, zdc_sctp_init_chunk *c)
{
    zdc_rd r;
    zdc_rd_init(&r, raw->value, raw->len);
    memset(c, 0, sizeof *c);
    if (zdc_rd_u32(&r, &c->init_tag) || zdc_rd_u32(&r, &c->a_rwnd) || zdc_rd_u16(&r, &c->os) ||
        zdc_rd_u16(&r, &c->mis) || zdc_rd_u32(&r, &c->initial_tsn))
        return ZDC_ERR_MALFORMED;
    /* RFC 9260 §3.3.2: "If the value of the Initiate Tag in a received INIT chunk is found to
     * be 0, the receiver MUST silently discard the packet"; OS and MIS of 0 are protocol
     * violations (the receiver aborts). Same rules for INIT ACK (§3.3.3). */
    if (c->init_tag == 0 || c->os == 0 || c->mis == 0)
        return ZDC_ERR_MALFORMED;
    zdc_tlv_walker w;
    zdc_tlv_walker_init(&w, zdc_rd_cur(&r), zdc_rd_left(&r), 4, true);
    w.last_pad_optional = true;
    zdc_tlv t;
    int rv;
    while ((rv = zdc_tlv_next(&w, &t)) == 1) {
        switch (t.type) {
        case ZDC_SCTP_P_SUPPORTED_EXT:
            c->ext = t.value;
            c->ext_len = t.len;
            break;
        case ZDC_SCTP_P_FORWARD_TSN_SUPPORTED:
            if (t.len != 0)
                return ZDC_ERR_MALFORMED;
            c->forward_tsn = true;
            break;
        case ZDC_SCTP_P_ZERO_CHECKSUM:
            if (t.len != 4)
                return ZDC_ERR_MALFORMED;
            c->zero_checksum = true;
            c->edmid = zdc_load_u32(t.value);
            break;
        case ZDC_SCTP_P_STATE_COOKIE:
            if (raw->type == ZDC_SCTP_INIT_ACK) {
                if (t.len == 0)
                    return ZDC_ERR_MALFORMED;
                c->cookie = t.value;
                c->cookie_len = t.len;
            }
            break;
        case ZDC_SCTP_P_UNRECOGNIZED:
            c->n_unrecognized_back++;
            break;
        case ZDC_SCTP_P_IPV4:
        case ZDC_SCTP_P_IPV6:
        case ZDC_SCTP_P_HOSTNAME:
        case ZDC_SCTP_P_SUPPORTED_ADDR_TYPES:
        case ZDC_SCTP_P_COOKIE_PRESERVATIVE:
        case ZDC_SCTP_P_ECN_CAPABLE:
            break; /* known, meaningless over DTLS (no addresses, no ECN) */
        default:
            /* RFC 9260 §3.2.1: the upper two bits say what to do with it. */
            switch (zdc_sctp_param_unknown_action(t.type)) {
            case ZDC_SCTP_UNKNOWN_STOP_REPORT:
                init_report(c, &w, &t);
                /* fall through */
            case ZDC_SCTP_UNKNOWN_STOP:
                c->stopped = true;
                goto done;
            case ZDC_SCTP_UNKNOWN_SKIP_REPORT:
                init_report(c, &w, &t);
                break;
            default:
                break;
            }
        }
    }
    if (rv < 0)
        return ZDC_ERR_MALFORMED;
done:
    /* RFC 9260 §3.3.3: the State Cookie is mandatory in an INIT ACK. */
    if (raw->type == ZDC_SCTP_INIT_ACK && c->cookie == NULL)
        return ZDC_ERR_MALFORMED;
    return 0;
}

/* Writes one parameter; returns the padding it added (the chunk length excludes the last
 * parameter's padding, RFC 9260 §3.2). */
static size_t param_build(zdc_wr *w, uint16_t type, const void *v, size_t len)
{
    if (len > UINT16_MAX - 4u) {
        w->err = ZDC_ERR_BUFFER_TOO_SMALL;
        return 0;
    }
    zdc_wr_u16(w, type);
    zdc_wr_u16(w, (uint16_t)(len + 4));
    zdc_wr_bytes(w, v, len);
    size_t pad = (4 - (len & 3)) & 3;
    zdc_wr_zeros(w, pad);
    return pad;
}

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static size_t init_params_size(const zdc_sctp_init_chunk *c, uint8_t type)
{
    size_t n = 0;
    if (c->ext_len)
        n += 4 + pad4(c->ext_len);
    if (c->forward_tsn)
        n += 4;
    if (c->zero_checksum)
        n += 8;
    for (unsigned i = 0; type == ZDC_SCTP_INIT_ACK && i < c->n_unrec; i++)
        n += 4 + pad4(c->unrec_len[i]);
    if (type == ZDC_SCTP_INIT_ACK && c->cookie_len)
        n += 4 + pad4(c->cookie_len);
    return n;
}

static size_t init_build(zdc_wr *w, const zdc_sctp_init_chunk *c, uint8_t type)
{
    size_t pad = 0;
    zdc_wr_u32(w, c->init_tag);
    zdc_wr_u32(w, c->a_rwnd);
    zdc_wr_u16(w, c->os);
    zdc_wr_u16(w, c->mis);
    zdc_wr_u32(w, c->initial_tsn);
    if (c->ext_len)
        pad = param_build(w, ZDC_SCTP_P_SUPPORTED_EXT, c->ext, c->ext_len);
    if (c->forward_tsn)
        pad = param_build(w, ZDC_SCTP_P_FORWARD_TSN_SUPPORTED, NULL, 0);
    if (c->zero_checksum) {
        uint8_t v[4];
        zdc_store_u32(v, c->edmid);
        pad = param_build(w, ZDC_SCTP_P_ZERO_CHECKSUM, v, 4);
    }
    for (unsigned i = 0; type == ZDC_SCTP_INIT_ACK && i < c->n_unrec; i++)
        pad = param_build(w, ZDC_SCTP_P_UNRECOGNIZED, c->unrec[i], c->unrec_len[i]);
    if (type == ZDC_SCTP_INIT_ACK && c->cookie_len)
        pad = param_build(w, ZDC_SCTP_P_STATE_COOKIE, c->cookie, c->cookie_len);
    return pad;
}

/* ---- RE-CONFIG (RFC 6525) ------------------------------------------------------------------ */

static int reconf_param_parse(const zdc_tlv *t, zdc_sctp_reconf_param *p)
{
    zdc_rd r;
    zdc_rd_init(&r, t->value, t->len);
    memset(p, 0, sizeof *p);
    p->type = t->type;
    switch (t->type) {
    case ZDC_SCTP_P_OUT_RESET_REQ: /* §4.1: 16 + 2N */
        if (t->len < 12 || (t->len - 12) % 2 != 0 || t->len - 12 > 2u * UINT16_MAX)
            return ZDC_ERR_MALFORMED;
        zdc_rd_u32(&r, &p->req_seq);
        zdc_rd_u32(&r, &p->resp_seq);
        zdc_rd_u32(&r, &p->last_tsn);
        p->n_streams = (uint16_t)((t->len - 12) / 2);
        p->streams = zdc_rd_cur(&r);
        return 0;
    case ZDC_SCTP_P_IN_RESET_REQ: /* §4.2: 8 + 2N */
        if (t->len < 4 || (t->len - 4) % 2 != 0)
            return ZDC_ERR_MALFORMED;
        zdc_rd_u32(&r, &p->req_seq);
        p->n_streams = (uint16_t)((t->len - 4) / 2);
        p->streams = zdc_rd_cur(&r);
        return 0;
    case ZDC_SCTP_P_TSN_RESET_REQ: /* §4.3: 8 */
        if (t->len != 4)
            return ZDC_ERR_MALFORMED;
        zdc_rd_u32(&r, &p->req_seq);
        return 0;
    case ZDC_SCTP_P_RECONF_RESP: /* §4.4: 12, or 20 with both TSNs */
        if (t->len != 8 && t->len != 16)
            return ZDC_ERR_MALFORMED;
        zdc_rd_u32(&r, &p->req_seq);
        zdc_rd_u32(&r, &p->result);
        if (t->len == 16) {
            p->has_tsns = true;
            zdc_rd_u32(&r, &p->sender_next_tsn);
            zdc_rd_u32(&r, &p->receiver_next_tsn);
        }
        return 0;
    case ZDC_SCTP_P_ADD_OUT_STREAMS: /* §4.5, §4.6: 12 */
    case ZDC_SCTP_P_ADD_IN_STREAMS: {
        uint16_t reserved;
        if (t->len != 8)
            return ZDC_ERR_MALFORMED;
        zdc_rd_u32(&r, &p->req_seq);
        zdc_rd_u16(&r, &p->new_streams);
        zdc_rd_u16(&r, &reserved);
        return 0;
    }
    default:
        return ZDC_ERR_MALFORMED;
    }
}

/* RFC 6525 §3.1: "a RE-CONFIG chunk MUST contain one of the following": one request or
 * response, or one of these pairs. */
static bool reconf_pair_allowed(uint16_t a, uint16_t b)
{
    if (a > b) {
        uint16_t x = a;
        a = b;
        b = x;
    }
    return (a == ZDC_SCTP_P_OUT_RESET_REQ && b == ZDC_SCTP_P_IN_RESET_REQ) ||
           (a == ZDC_SCTP_P_OUT_RESET_REQ && b == ZDC_SCTP_P_RECONF_RESP) ||
           (a == ZDC_SCTP_P_RECONF_RESP && b == ZDC_SCTP_P_RECONF_RESP) ||
           (a == ZDC_SCTP_P_ADD_OUT_STREAMS && b == ZDC_SCTP_P_ADD_IN_STREAMS);
}

static int reconfig_parse(const zdc_sctp_raw_chunk *raw, zdc_sctp_reconfig_chunk *c)
{
    zdc_tlv_walker w;
    zdc_tlv_walker_init(&w, raw->value, raw->len, 4, true);
    w.last_pad_optional = true;
    zdc_tlv t;
    int rv;
    c->n = 0;
    while ((rv = zdc_tlv_next(&w, &t)) == 1) {
        if (c->n == 2)
            return ZDC_ERR_MALFORMED;
        if (reconf_param_parse(&t, &c->p[c->n]) != 0)
            return ZDC_ERR_MALFORMED;
        c->n++;
    }
    if (rv < 0 || c->n == 0)
        return ZDC_ERR_MALFORMED;
    if (c->n == 2 && !reconf_pair_allowed(c->p[0].type, c->p[1].type))
        return ZDC_ERR_MALFORMED;
    return 0;
}

static size_t reconf_param_value_len(const zdc_sctp_reconf_param *p)
{
    switch (p->type) {
    case ZDC_SCTP_P_OUT_RESET_REQ:
        return 12 + 2u * p->n_streams;
    case ZDC_SCTP_P_IN_RESET_REQ:
        return 4 + 2u * p->n_streams;
    case ZDC_SCTP_P_TSN_RESET_REQ:
        return 4;
    case ZDC_SCTP_P_RECONF_RESP:
        return p->has_tsns ? 16 : 8;
    case ZDC_SCTP_P_ADD_OUT_STREAMS:
    case ZDC_SCTP_P_ADD_IN_STREAMS:
        return 8;
    default:
        return 0;
    }
}

static size_t reconf_param_build(zdc_wr *w, const zdc_sctp_reconf_param *p)
{
    size_t len = reconf_param_value_len(p);
    zdc_wr_u16(w, p->type);
    zdc_wr_u16(w, (uint16_t)(len + 4));
    zdc_wr_u32(w, p->req_seq);
    switch (p->type) {
    case ZDC_SCTP_P_OUT_RESET_REQ:
        zdc_wr_u32(w, p->resp_seq);
        zdc_wr_u32(w, p->last_tsn);
        zdc_wr_bytes(w, p->streams, 2u * p->n_streams);
        break;
    case ZDC_SCTP_P_IN_RESET_REQ:
        zdc_wr_bytes(w, p->streams, 2u * p->n_streams);
        break;
    case ZDC_SCTP_P_RECONF_RESP:
        zdc_wr_u32(w, p->result);
        if (p->has_tsns) {
            zdc_wr_u32(w, p->sender_next_tsn);
            zdc_wr_u32(w, p->receiver_next_tsn);
        }
        break;
    case ZDC_SCTP_P_ADD_OUT_STREAMS:
    case ZDC_SCTP_P_ADD_IN_STREAMS:
        zdc_wr_u16(w, p->new_streams);
        zdc_wr_u16(w, 0);
        break;
    default:
        break;
    }
    size_t pad = (4 - (len & 3)) & 3;
    zdc_wr_zeros(w, pad);
    return pad;
}

static bool reconfig_valid(const zdc_sctp_reconfig_chunk *c)
{
    if (c->n < 1 || c->n > 2)
        return false;
    for (unsigned i = 0; i < c->n; i++)
        if (reconf_param_value_len(&c->p[i]) == 0)
            return false;
    return true;
}

/* ---- every chunk ---------------------------------------------------------------------------- */

/* A HEARTBEAT carries exactly one Heartbeat Info parameter (RFC 9260 §3.3.5). */
static int heartbeat_parse(const zdc_sctp_raw_chunk *raw, zdc_sctp_chunk *out)
{
    zdc_tlv_walker w;
    zdc_tlv_walker_init(&w, raw->value, raw->len, 4, true);
    w.last_pad_optional = true;
    zdc_tlv t;
    if (zdc_tlv_next(&w, &t) != 1 || t.type != ZDC_SCTP_P_HEARTBEAT_INFO)
        return ZDC_ERR_MALFORMED;
    out->u.opaque.p = t.value;
    out->u.opaque.len = t.len;
    return 0;
}

static int causes_check(const uint8_t *p, size_t len)
{
    zdc_sctp_cause_iter it;
    zdc_sctp_cause_iter_init(&it, p, len);
    uint16_t code;
    const uint8_t *v;
    size_t n;
    int rv;
    while ((rv = zdc_sctp_cause_next(&it, &code, &v, &n)) == 1)
        ;
    return rv < 0 ? ZDC_ERR_MALFORMED : 0;
}

int zdc_sctp_chunk_parse(const zdc_sctp_raw_chunk *raw, zdc_sctp_chunk *out)
{
    if (raw == NULL || out == NULL || (raw->value == NULL && raw->len))
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_rd r;
    zdc_rd_init(&r, raw->value, raw->len);
    out->type = raw->type;
    out->flags = raw->flags;
    switch (raw->type) {
    case ZDC_SCTP_DATA: {
        zdc_sctp_data_chunk *d = &out->u.data;
        if (raw->len < 12)
            return ZDC_ERR_MALFORMED;
        d->flags = raw->flags;
        zdc_rd_u32(&r, &d->tsn);
        zdc_rd_u16(&r, &d->stream);
        zdc_rd_u16(&r, &d->ssn);
        zdc_rd_u32(&r, &d->ppid);
        d->payload = zdc_rd_cur(&r);
        d->len = zdc_rd_left(&r);
        return 0;
    }
    case ZDC_SCTP_INIT:
    case ZDC_SCTP_INIT_ACK:
        return init_parse(raw, &out->u.init);
    case ZDC_SCTP_SACK: {
        zdc_sctp_sack_chunk *s = &out->u.sack;
        if (raw->len < 12)
            return ZDC_ERR_MALFORMED;
        zdc_rd_u32(&r, &s->cum_tsn);
        zdc_rd_u32(&r, &s->a_rwnd);
        zdc_rd_u16(&r, &s->n_gaps);
        zdc_rd_u16(&r, &s->n_dups);
        /* RFC 9260 §3.3.4: the length is 16 + 4 * (gaps + duplicates), exactly. */
        if (raw->len - 12 != 4u * ((size_t)s->n_gaps + s->n_dups))
            return ZDC_ERR_MALFORMED;
        s->gaps = zdc_rd_cur(&r);
        s->dups = s->gaps + 4u * s->n_gaps;
        return 0;
    }
    case ZDC_SCTP_HEARTBEAT:
    case ZDC_SCTP_HEARTBEAT_ACK:
        return heartbeat_parse(raw, out);
    case ZDC_SCTP_ABORT:
    case ZDC_SCTP_ERROR:
        if (causes_check(raw->value, raw->len) != 0)
            return ZDC_ERR_MALFORMED;
        out->u.opaque.p = raw->value;
        out->u.opaque.len = raw->len;
        return 0;
    case ZDC_SCTP_SHUTDOWN:
        if (raw->len != 4)
            return ZDC_ERR_MALFORMED;
        zdc_rd_u32(&r, &out->u.cum_tsn);
        return 0;
    case ZDC_SCTP_SHUTDOWN_ACK:
    case ZDC_SCTP_COOKIE_ACK:
    case ZDC_SCTP_SHUTDOWN_COMPLETE:
        return raw->len == 0 ? 0 : ZDC_ERR_MALFORMED;
    case ZDC_SCTP_COOKIE_ECHO:
        if (raw->len == 0)
            return ZDC_ERR_MALFORMED;
        out->u.opaque.p = raw->value;
        out->u.opaque.len = raw->len;
        return 0;
    case ZDC_SCTP_FORWARD_TSN: {
        zdc_sctp_fwd_tsn_chunk *f = &out->u.fwd_tsn;
        /* RFC 3758 §3.2: new cumulative TSN, then (stream, sequence) pairs. */
        if (raw->len < 4 || (raw->len - 4) % 4 != 0)
            return ZDC_ERR_MALFORMED;
        zdc_rd_u32(&r, &f->new_cum_tsn);
        f->n_streams = (uint16_t)((raw->len - 4) / 4);
        f->streams = zdc_rd_cur(&r);
        return 0;
    }
    case ZDC_SCTP_RE_CONFIG:
        return reconfig_parse(raw, &out->u.reconfig);
    default:
        return ZDC_ERR_NOT_SUPPORTED;
    }
}

/* Value size (without chunk header; including inner padding except the last parameter's), or
 * SIZE_MAX when c cannot be built. */
static size_t chunk_value_size(const zdc_sctp_chunk *c, size_t *tail_pad)
{
    *tail_pad = 0;
    switch (c->type) {
    case ZDC_SCTP_DATA:
        return 12 + c->u.data.len;
    case ZDC_SCTP_INIT:
    case ZDC_SCTP_INIT_ACK: {
        size_t n = 16 + init_params_size(&c->u.init, c->type);
        const zdc_sctp_init_chunk *i = &c->u.init;
        if (c->type == ZDC_SCTP_INIT_ACK && i->cookie_len)
            *tail_pad = pad4(i->cookie_len) - i->cookie_len;
        else if (c->type == ZDC_SCTP_INIT_ACK && i->n_unrec)
            *tail_pad = pad4(i->unrec_len[i->n_unrec - 1]) - i->unrec_len[i->n_unrec - 1];
        else if (!i->zero_checksum && !i->forward_tsn && i->ext_len)
            *tail_pad = pad4(i->ext_len) - i->ext_len;
        return n - *tail_pad;
    }
    case ZDC_SCTP_SACK:
        return 12 + 4u * ((size_t)c->u.sack.n_gaps + c->u.sack.n_dups);
    case ZDC_SCTP_HEARTBEAT:
    case ZDC_SCTP_HEARTBEAT_ACK:
        return 4 + c->u.opaque.len;
    case ZDC_SCTP_ABORT:
    case ZDC_SCTP_ERROR:
    case ZDC_SCTP_COOKIE_ECHO:
        return c->u.opaque.len;
    case ZDC_SCTP_SHUTDOWN:
        return 4;
    case ZDC_SCTP_SHUTDOWN_ACK:
    case ZDC_SCTP_COOKIE_ACK:
    case ZDC_SCTP_SHUTDOWN_COMPLETE:
        return 0;
    case ZDC_SCTP_FORWARD_TSN:
        return 4 + 4u * c->u.fwd_tsn.n_streams;
    case ZDC_SCTP_RE_CONFIG: {
        if (!reconfig_valid(&c->u.reconfig))
            return SIZE_MAX;
        size_t n = 0;
        for (unsigned i = 0; i < c->u.reconfig.n; i++)
            n += 4 + pad4(reconf_param_value_len(&c->u.reconfig.p[i]));
        const zdc_sctp_reconf_param *last = &c->u.reconfig.p[c->u.reconfig.n - 1];
        *tail_pad = pad4(reconf_param_value_len(last)) - reconf_param_value_len(last);
        return n - *tail_pad;
    }
    default:
        return SIZE_MAX;
    }
}

size_t zdc_sctp_chunk_size(const zdc_sctp_chunk *c)
{
    size_t tail;
    size_t v = chunk_value_size(c, &tail);
    if (v == SIZE_MAX || v > UINT16_MAX - 4u)
        return 0;
    return pad4(4 + v);
}

int zdc_sctp_chunk_build(zdc_wr *w, const zdc_sctp_chunk *c)
{
    size_t tail;
    size_t v = chunk_value_size(c, &tail);
    if (v == SIZE_MAX || v > UINT16_MAX - 4u)
        return ZDC_ERR_INVALID_PARAMETER;
    uint8_t *h = zdc_wr_reserve(w, 4);
    if (h == NULL)
        return ZDC_ERR_BUFFER_TOO_SMALL;
    h[0] = c->type;
    h[1] = c->flags;
    zdc_store_u16(h + 2, (uint16_t)(4 + v));
    switch (c->type) {
    case ZDC_SCTP_DATA:
        zdc_wr_u32(w, c->u.data.tsn);
        zdc_wr_u16(w, c->u.data.stream);
        zdc_wr_u16(w, c->u.data.ssn);
        zdc_wr_u32(w, c->u.data.ppid);
        zdc_wr_bytes(w, c->u.data.payload, c->u.data.len);
        break;
    case ZDC_SCTP_INIT:
    case ZDC_SCTP_INIT_ACK:
        init_build(w, &c->u.init, c->type);
        break;
    case ZDC_SCTP_SACK:
        zdc_wr_u32(w, c->u.sack.cum_tsn);
        zdc_wr_u32(w, c->u.sack.a_rwnd);
        zdc_wr_u16(w, c->u.sack.n_gaps);
        zdc_wr_u16(w, c->u.sack.n_dups);
        zdc_wr_bytes(w, c->u.sack.gaps, 4u * c->u.sack.n_gaps);
        zdc_wr_bytes(w, c->u.sack.dups, 4u * c->u.sack.n_dups);
        break;
    case ZDC_SCTP_HEARTBEAT:
    case ZDC_SCTP_HEARTBEAT_ACK:
        param_build(w, ZDC_SCTP_P_HEARTBEAT_INFO, c->u.opaque.p, c->u.opaque.len);
        break;
    case ZDC_SCTP_ABORT:
    case ZDC_SCTP_ERROR:
    case ZDC_SCTP_COOKIE_ECHO:
        zdc_wr_bytes(w, c->u.opaque.p, c->u.opaque.len);
        break;
    case ZDC_SCTP_SHUTDOWN:
        zdc_wr_u32(w, c->u.cum_tsn);
        break;
    case ZDC_SCTP_FORWARD_TSN:
        zdc_wr_u32(w, c->u.fwd_tsn.new_cum_tsn);
        zdc_wr_bytes(w, c->u.fwd_tsn.streams, 4u * c->u.fwd_tsn.n_streams);
        break;
    case ZDC_SCTP_RE_CONFIG:
        for (unsigned i = 0; i < c->u.reconfig.n; i++)
            reconf_param_build(w, &c->u.reconfig.p[i]);
        break;
    default:
        break;
    }
    zdc_wr_pad(w, 4);
    return w->err;
}

/* ---- repeated items -------------------------------------------------------------------------- */

zdc_sctp_gap zdc_sctp_sack_gap(const zdc_sctp_sack_chunk *s, unsigned i)
{
    const uint8_t *g = s->gaps + 4u * i;
    return (zdc_sctp_gap){zdc_load_u16(g), zdc_load_u16(g + 2)};
}

uint32_t zdc_sctp_sack_dup(const zdc_sctp_sack_chunk *s, unsigned i)
{
    return zdc_load_u32(s->dups + 4u * i);
}

int zdc_sctp_sack_build(zdc_wr *w, uint32_t cum_tsn, uint32_t a_rwnd, const zdc_sctp_gap *gaps,
                        uint16_t n_gaps, const uint32_t *dups, uint16_t n_dups)
{
    size_t len = 16 + 4u * ((size_t)n_gaps + n_dups);
    if (len > UINT16_MAX) {
        w->err = ZDC_ERR_BUFFER_TOO_SMALL;
        return w->err;
    }
    zdc_wr_u8(w, ZDC_SCTP_SACK);
    zdc_wr_u8(w, 0);
    zdc_wr_u16(w, (uint16_t)len);
    zdc_wr_u32(w, cum_tsn);
    zdc_wr_u32(w, a_rwnd);
    zdc_wr_u16(w, n_gaps);
    zdc_wr_u16(w, n_dups);
    for (uint16_t i = 0; i < n_gaps; i++) {
        zdc_wr_u16(w, gaps[i].start);
        zdc_wr_u16(w, gaps[i].end);
    }
    for (uint16_t i = 0; i < n_dups; i++)
        zdc_wr_u32(w, dups[i]);
    return w->err;
}

zdc_sctp_fwd_stream zdc_sctp_fwd_tsn_stream(const zdc_sctp_fwd_tsn_chunk *f, unsigned i)
{
    const uint8_t *s = f->streams + 4u * i;
    return (zdc_sctp_fwd_stream){zdc_load_u16(s), zdc_load_u16(s + 2)};
}

int zdc_sctp_fwd_tsn_build(zdc_wr *w, uint32_t new_cum_tsn, const zdc_sctp_fwd_stream *s,
                           uint16_t n)
{
    size_t len = 8 + 4u * (size_t)n;
    if (len > UINT16_MAX) {
        w->err = ZDC_ERR_BUFFER_TOO_SMALL;
        return w->err;
    }
    zdc_wr_u8(w, ZDC_SCTP_FORWARD_TSN);
    zdc_wr_u8(w, 0);
    zdc_wr_u16(w, (uint16_t)len);
    zdc_wr_u32(w, new_cum_tsn);
    for (uint16_t i = 0; i < n; i++) {
        zdc_wr_u16(w, s[i].stream);
        zdc_wr_u16(w, s[i].ssn);
    }
    return w->err;
}

uint16_t zdc_sctp_reconf_stream(const zdc_sctp_reconf_param *p, unsigned i)
{
    return zdc_load_u16(p->streams + 2u * i);
}
