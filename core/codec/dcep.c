/* DCEP messages (RFC 8832 §5). Diagram in include/zdc/dcep.h. */
#include "zdc/dcep.h"

#include <string.h>

#include "bytes.h"

#define UNORDERED_BIT 0x80

bool zdc_dcep_channel_type_valid(uint8_t t)
{
    switch (t) {
    case ZDC_DCEP_RELIABLE:
    case ZDC_DCEP_RELIABLE_UNORDERED:
    case ZDC_DCEP_PARTIAL_RELIABLE_REXMIT:
    case ZDC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED:
    case ZDC_DCEP_PARTIAL_RELIABLE_TIMED:
    case ZDC_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED:
        return true;
    default:
        return false;
    }
}

static bool is_reliable(uint8_t t)
{
    return (t & ~UNORDERED_BIT) == ZDC_DCEP_RELIABLE;
}

static int parse_open(zdc_rd *r, zdc_dcep_open *o)
{
    int rv;
    if ((rv = zdc_rd_u8(r, &o->channel_type)) != 0 || (rv = zdc_rd_u16(r, &o->priority)) != 0 ||
        (rv = zdc_rd_u32(r, &o->reliability)) != 0 || (rv = zdc_rd_u16(r, &o->label_len)) != 0 ||
        (rv = zdc_rd_u16(r, &o->protocol_len)) != 0)
        return rv;
    /* RFC 8832 §5.1 lists exactly these channel types; anything else cannot be honoured. */
    if (!zdc_dcep_channel_type_valid(o->channel_type))
        return ZDC_ERR_MALFORMED;
    if ((rv = zdc_rd_view(r, o->label_len, &o->label)) != 0 ||
        (rv = zdc_rd_view(r, o->protocol_len, &o->protocol)) != 0)
        return rv;
    if (o->label_len == 0)
        o->label = NULL;
    if (o->protocol_len == 0)
        o->protocol = NULL;
    return 0;
}

int zdc_dcep_parse(const uint8_t *p, size_t len, zdc_dcep_msg *out)
{
    zdc_rd r;
    int rv;
    if (!out || (!p && len))
        return ZDC_ERR_INVALID_PARAMETER;
    memset(out, 0, sizeof *out);
    zdc_rd_init(&r, p, len);
    if ((rv = zdc_rd_u8(&r, &out->type)) != 0)
        return rv;
    if (out->type == ZDC_DCEP_OPEN) {
        rv = parse_open(&r, &out->open);
        /* The label and protocol lengths must account for the whole message: trailing bytes
         * mean the sender and we disagree about the format. */
        if (rv == 0 && zdc_rd_left(&r) != 0)
            rv = ZDC_ERR_MALFORMED;
    } else if (out->type != ZDC_DCEP_ACK) {
        rv = ZDC_ERR_MALFORMED;
    }
    /* An ACK (RFC 8832 §5.2) is its type byte alone, but Pion's datachannel (Debian's
     * golang-github-pion-datachannel-dev 1.5.x, under Pion WebRTC v3) sends it padded to four
     * bytes. An ACK carries nothing, so whatever follows the type cannot be misread: ignored. */
    if (rv != 0)
        memset(out, 0, sizeof *out);
    return rv;
}

size_t zdc_dcep_open_size(const zdc_dcep_open *m)
{
    return ZDC_DCEP_OPEN_HEADER_LEN + (size_t)m->label_len + m->protocol_len;
}

int zdc_dcep_open_build(const zdc_dcep_open *m, uint8_t *out, size_t cap)
{
    zdc_wr w;
    if (!m || (!out && cap) || !zdc_dcep_channel_type_valid(m->channel_type) ||
        (m->label_len && !m->label) || (m->protocol_len && !m->protocol))
        return ZDC_ERR_INVALID_PARAMETER;
    /* RFC 8832 §5.1: for reliable channels the parameter "MUST be set to 0 on the sending
     * side". */
    if (is_reliable(m->channel_type) && m->reliability != 0)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_wr_init(&w, out, cap);
    zdc_wr_u8(&w, ZDC_DCEP_OPEN);
    zdc_wr_u8(&w, m->channel_type);
    zdc_wr_u16(&w, m->priority);
    zdc_wr_u32(&w, m->reliability);
    zdc_wr_u16(&w, m->label_len);
    zdc_wr_u16(&w, m->protocol_len);
    zdc_wr_bytes(&w, m->label, m->label_len);
    zdc_wr_bytes(&w, m->protocol, m->protocol_len);
    return zdc_wr_finish(&w);
}

int zdc_dcep_ack_build(uint8_t *out, size_t cap)
{
    if (!out)
        return ZDC_ERR_INVALID_PARAMETER;
    if (cap < 1)
        return ZDC_ERR_BUFFER_TOO_SMALL;
    out[0] = ZDC_DCEP_ACK;
    return 1;
}

int zdc_dcep_reliability_decode(uint8_t channel_type, uint32_t reliability,
                                zdc_dcep_reliability *out)
{
    if (!out)
        return ZDC_ERR_INVALID_PARAMETER;
    memset(out, 0, sizeof *out);
    if (!zdc_dcep_channel_type_valid(channel_type))
        return ZDC_ERR_MALFORMED;
    out->ordered = !(channel_type & UNORDERED_BIT);
    switch (channel_type & ~UNORDERED_BIT) {
    case ZDC_DCEP_PARTIAL_RELIABLE_REXMIT:
        out->has_max_retransmits = true;
        out->max_retransmits = reliability;
        break;
    case ZDC_DCEP_PARTIAL_RELIABLE_TIMED:
        out->has_max_packet_life_time = true;
        out->max_packet_life_time = reliability;
        break;
    default: /* reliable: RFC 8832 §5.1 the parameter "MUST be ignored on the receiving side" */
        break;
    }
    return 0;
}

int zdc_dcep_reliability_encode(const zdc_dcep_reliability *r, uint8_t *channel_type,
                                uint32_t *reliability)
{
    if (!r || !channel_type || !reliability ||
        (r->has_max_retransmits && r->has_max_packet_life_time))
        return ZDC_ERR_INVALID_PARAMETER;
    uint8_t t = ZDC_DCEP_RELIABLE;
    uint32_t v = 0;
    if (r->has_max_retransmits) {
        t = ZDC_DCEP_PARTIAL_RELIABLE_REXMIT;
        v = r->max_retransmits;
    } else if (r->has_max_packet_life_time) {
        t = ZDC_DCEP_PARTIAL_RELIABLE_TIMED;
        v = r->max_packet_life_time;
    }
    *channel_type = (uint8_t)(r->ordered ? t : t | UNORDERED_BIT);
    *reliability = v;
    return 0;
}
