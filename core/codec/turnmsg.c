/* TURN wire formats (RFC 8656 §12, §18; RFC 6062 §6.2; RFC 8489 §14.11-14.12). */
#include "turnmsg.h"

#include <string.h>

#include "bytes.h"

bool zdc_turn_attr_known(uint16_t type)
{
    switch (type) {
    case ZDC_TURN_ATTR_CHANNEL_NUMBER:
    case ZDC_TURN_ATTR_LIFETIME:
    case ZDC_TURN_ATTR_XOR_PEER_ADDRESS:
    case ZDC_TURN_ATTR_DATA:
    case ZDC_TURN_ATTR_XOR_RELAYED_ADDRESS:
    case ZDC_TURN_ATTR_REQUESTED_ADDRESS_FAMILY:
    case ZDC_TURN_ATTR_EVEN_PORT:
    case ZDC_TURN_ATTR_REQUESTED_TRANSPORT:
    case ZDC_TURN_ATTR_DONT_FRAGMENT:
    case ZDC_TURN_ATTR_PASSWORD_ALGORITHM:
    case ZDC_TURN_ATTR_RESERVATION_TOKEN:
    case ZDC_TURN_ATTR_CONNECTION_ID:
    case ZDC_TURN_ATTR_PASSWORD_ALGORITHMS:
        return true;
    default:
        return false;
    }
}

/* XOR-PEER-ADDRESS / XOR-RELAYED-ADDRESS have XOR-MAPPED-ADDRESS's format (RFC 8656 §18.3,
 * §18.5; RFC 8489 §14.2): port xored with the cookie's top half, the address with the cookie
 * (IPv4) or cookie || transaction id (IPv6). */
static int xor_addr_parse(const uint8_t *hdr, const uint8_t *v, size_t n, zdc_stun_addr *a)
{
    if (n < 4)
        return ZDC_ERR_MALFORMED;
    size_t ip_len = v[1] == 0x01 ? 4 : v[1] == 0x02 ? 16 : 0;
    if (ip_len == 0 || n != 4 + ip_len)
        return ZDC_ERR_MALFORMED;
    memset(a, 0, sizeof *a);
    a->family = ip_len == 4 ? 4 : 6;
    a->port = (uint16_t)(zdc_load_u16(v + 2) ^ (ZDC_STUN_MAGIC_COOKIE >> 16));
    for (size_t i = 0; i < ip_len; i++)
        a->ip[i] = v[4 + i] ^ hdr[4 + i];
    return 0;
}

static int attr_parse(const uint8_t *hdr, const zdc_tlv *t, zdc_turn_attrs *a)
{
    const uint8_t *v = t->value;
    size_t n = t->len;
    zdc_stun_addr addr;
    int rv;

    switch (t->type) {
    case ZDC_TURN_ATTR_CHANNEL_NUMBER:
        /* RFC 8656 §18.1: 16-bit channel number, 16 bits RFFU. */
        if (n != 4)
            return ZDC_ERR_MALFORMED;
        if (!a->has_channel) {
            uint16_t ch = zdc_load_u16(v);
            if (ch < ZDC_TURN_CHANNEL_MIN || ch > ZDC_TURN_CHANNEL_MAX)
                return ZDC_ERR_MALFORMED;
            a->has_channel = true;
            a->channel = ch;
        }
        return 0;
    case ZDC_TURN_ATTR_LIFETIME:
        /* RFC 8656 §18.2: 32-bit seconds. */
        if (n != 4)
            return ZDC_ERR_MALFORMED;
        if (!a->has_lifetime) {
            a->has_lifetime = true;
            a->lifetime = zdc_load_u32(v);
        }
        return 0;
    case ZDC_TURN_ATTR_XOR_PEER_ADDRESS:
    case ZDC_TURN_ATTR_XOR_RELAYED_ADDRESS: {
        rv = xor_addr_parse(hdr, v, n, &addr);
        if (rv)
            return rv;
        bool peer = t->type == ZDC_TURN_ATTR_XOR_PEER_ADDRESS;
        bool *has = peer ? &a->has_peer : &a->has_relayed;
        if (!*has) {
            *has = true;
            *(peer ? &a->peer : &a->relayed) = addr;
        }
        return 0;
    }
    case ZDC_TURN_ATTR_DATA:
        if (!a->has_data) {
            a->has_data = true;
            a->data = (zdc_stun_view){v, n};
        }
        return 0;
    case ZDC_TURN_ATTR_REQUESTED_TRANSPORT:
        /* RFC 8656 §18.7: protocol number, 24 bits RFFU. */
        if (n != 4)
            return ZDC_ERR_MALFORMED;
        if (!a->has_transport) {
            a->has_transport = true;
            a->transport = v[0];
        }
        return 0;
    case ZDC_TURN_ATTR_DONT_FRAGMENT:
        if (n != 0)
            return ZDC_ERR_MALFORMED;
        a->dont_fragment = true;
        return 0;
    case ZDC_TURN_ATTR_PASSWORD_ALGORITHM:
        /* RFC 8489 §14.12: algorithm (16), parameters length (16), parameters. */
        if (n < 4 || n - 4 != zdc_load_u16(v + 2))
            return ZDC_ERR_MALFORMED;
        if (!a->has_password_algorithm) {
            a->has_password_algorithm = true;
            a->password_algorithm = zdc_load_u16(v);
        }
        return 0;
    case ZDC_TURN_ATTR_PASSWORD_ALGORITHMS: {
        /* RFC 8489 §14.11: a list of (algorithm, parameters length, parameters padded to 4). */
        bool first = a->n_password_algs == 0;
        size_t off = 0;
        while (off < n) {
            if (n - off < 4)
                return ZDC_ERR_MALFORMED;
            uint16_t alg = zdc_load_u16(v + off);
            size_t plen = ((size_t)zdc_load_u16(v + off + 2) + 3) & ~(size_t)3;
            if (n - off - 4 < plen)
                return ZDC_ERR_MALFORMED;
            if (first && a->n_password_algs < ZDC_TURN_MAX_PASSWORD_ALGS)
                a->password_algs[a->n_password_algs++] = alg;
            off += 4 + plen;
        }
        return 0;
    }
    case ZDC_TURN_ATTR_CONNECTION_ID:
        /* RFC 6062 §6.2.1: 32 bits. */
        if (n != 4)
            return ZDC_ERR_MALFORMED;
        if (!a->has_connection_id) {
            a->has_connection_id = true;
            a->connection_id = zdc_load_u32(v);
        }
        return 0;
    default:
        return 0; /* STUN's own, or unknown (zdc_stun_parse collected those) */
    }
}

int zdc_turn_parse(const uint8_t *p, size_t len, zdc_stun_msg *msg, zdc_turn_attrs *attrs)
{
    if (!msg || !attrs)
        return ZDC_ERR_INVALID_PARAMETER;
    memset(attrs, 0, sizeof *attrs);
    int rv = zdc_stun_parse(p, len, msg);
    if (rv != 0 && rv != ZDC_ERR_UNKNOWN_ATTRIBUTE)
        return rv;

    /* zdc_stun_parse validated the TLV layout; walk it again for the TURN attributes, up to
     * MESSAGE-INTEGRITY (RFC 8489 §14.5: later attributes are ignored). */
    size_t end = msg->integrity_offset          ? msg->integrity_offset
                 : msg->integrity_sha256_offset ? msg->integrity_sha256_offset
                                                : len;
    zdc_tlv_walker w;
    zdc_tlv t;
    zdc_tlv_walker_init(&w, p + ZDC_STUN_HEADER_SIZE, end - ZDC_STUN_HEADER_SIZE, 4, false);
    int wrv;
    while ((wrv = zdc_tlv_next(&w, &t)) == 1) {
        int arv = attr_parse(p, &t, attrs);
        if (arv)
            return arv;
    }
    if (wrv < 0)
        return wrv;

    if (rv == ZDC_ERR_UNKNOWN_ATTRIBUTE) {
        /* The list is capped: when it is full an unknown type may have been dropped from it,
         * so the message stays "unknown" whatever is removed. */
        bool full = msg->n_unknown_required == ZDC_STUN_MAX_UNKNOWN;
        size_t k = 0;
        for (size_t i = 0; i < msg->n_unknown_required; i++)
            if (!zdc_turn_attr_known(msg->unknown_required[i]))
                msg->unknown_required[k++] = msg->unknown_required[i];
        msg->n_unknown_required = k;
        rv = (k || full) ? ZDC_ERR_UNKNOWN_ATTRIBUTE : 0;
    }
    return rv;
}

/* ---- ChannelData ------------------------------------------------------------------------ */

bool zdc_turn_is_channel_data(const uint8_t *p, size_t len)
{
    /* RFC 7983 §7: 64..79 is TURN ChannelData. */
    return p && len >= ZDC_TURN_CHANNEL_HEADER_SIZE && p[0] >= 64 && p[0] <= 79;
}

int zdc_turn_channel_data_parse(const uint8_t *p, size_t len, uint16_t *channel,
                                const uint8_t **data, size_t *data_len)
{
    if (!p || !channel || !data || !data_len)
        return ZDC_ERR_INVALID_PARAMETER;
    if (len < ZDC_TURN_CHANNEL_HEADER_SIZE)
        return ZDC_ERR_TRUNCATED;
    uint16_t ch = zdc_load_u16(p);
    size_t n = zdc_load_u16(p + 2);
    if (ch < ZDC_TURN_CHANNEL_MIN || ch > ZDC_TURN_CHANNEL_MAX)
        return ZDC_ERR_MALFORMED;
    if (len - ZDC_TURN_CHANNEL_HEADER_SIZE < n)
        return ZDC_ERR_TRUNCATED;
    /* RFC 8656 §12.5: over a stream the message is padded to a multiple of 4; over UDP the
     * padding is optional, so up to 3 trailing bytes are padding, more are garbage. */
    if (len - ZDC_TURN_CHANNEL_HEADER_SIZE - n > 3)
        return ZDC_ERR_MALFORMED;
    *channel = ch;
    *data = p + ZDC_TURN_CHANNEL_HEADER_SIZE;
    *data_len = n;
    return 0;
}

int zdc_turn_channel_data_build(uint8_t *buf, size_t cap, uint16_t channel, const uint8_t *data,
                                size_t data_len, bool pad)
{
    if (!buf || (!data && data_len) || channel < ZDC_TURN_CHANNEL_MIN ||
        channel > ZDC_TURN_CHANNEL_MAX)
        return ZDC_ERR_INVALID_PARAMETER;
    if (data_len > 0xFFFF)
        return ZDC_ERR_TOO_LARGE;
    size_t total = ZDC_TURN_CHANNEL_HEADER_SIZE + (pad ? (data_len + 3) & ~(size_t)3 : data_len);
    if (cap < total)
        return ZDC_ERR_BUFFER_TOO_SMALL;
    zdc_store_u16(buf, channel);
    zdc_store_u16(buf + 2, (uint16_t)data_len);
    if (data_len)
        memmove(buf + ZDC_TURN_CHANNEL_HEADER_SIZE, data, data_len);
    memset(buf + ZDC_TURN_CHANNEL_HEADER_SIZE + data_len, 0,
           total - ZDC_TURN_CHANNEL_HEADER_SIZE - data_len);
    return (int)total;
}

/* ---- stream framing ---------------------------------------------------------------------- */

int zdc_turn_stream_take(uint8_t *buf, size_t *len,
                         bool (*fn)(void *arg, const uint8_t *p, size_t n), void *arg)
{
    size_t off = 0;
    int count = 0, rv = 0;
    while (off < *len) {
        int n = zdc_turn_stream_frame(buf + off, *len - off);
        if (n <= 0) {
            rv = n;
            break;
        }
        count++;
        bool more = fn(arg, buf + off, (size_t)n);
        off += (size_t)n;
        if (!more)
            break;
    }
    if (off > 0) {
        memmove(buf, buf + off, *len - off);
        *len -= off;
    }
    return rv < 0 ? rv : count;
}

int zdc_turn_stream_frame(const uint8_t *p, size_t len)
{
    if (!p || len < 4)
        return 0;
    size_t body = zdc_load_u16(p + 2), total;
    switch (p[0] >> 6) {
    case 0: /* STUN: 20-byte header + length (RFC 8489 §5) */
        if (body & 3)
            return ZDC_ERR_MALFORMED;
        if (len >= 8 && zdc_load_u32(p + 4) != ZDC_STUN_MAGIC_COOKIE)
            return ZDC_ERR_MALFORMED;
        total = ZDC_STUN_HEADER_SIZE + body;
        break;
    case 1: /* ChannelData, padded to 4 over a stream (RFC 8656 §12.5) */
        if (zdc_load_u16(p) > ZDC_TURN_CHANNEL_MAX)
            return ZDC_ERR_MALFORMED;
        total = ZDC_TURN_CHANNEL_HEADER_SIZE + ((body + 3) & ~(size_t)3);
        break;
    default:
        return ZDC_ERR_MALFORMED;
    }
    return len < total ? 0 : (int)total;
}
