/* STUN message codec (RFC 8489; RFC 5389 wire compatible; ICE attributes from RFC 8445). */
#include "zdc/stun.h"

#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "crc32.h"
#include "hmac.h"

/* ---- header ------------------------------------------------------------------------------
 * RFC 8489 §5:
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |0 0|     STUN Message Type     |         Message Length        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                         Magic Cookie                          |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                     Transaction ID (96 bits)                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * Message type bits: M11..M7 C1 M6..M4 C0 M3..M0.
 */

static uint16_t type_encode(uint16_t method, uint8_t cls)
{
    return (uint16_t)((method & 0x000F) | (method & 0x0070) << 1 | (method & 0x0F80) << 2 |
                      (cls & 1) << 4 | (cls & 2) << 7);
}

static void type_decode(uint16_t t, uint16_t *method, uint8_t *cls)
{
    *method = (uint16_t)((t & 0x000F) | (t & 0x00E0) >> 1 | (t & 0x3E00) >> 2);
    *cls = (uint8_t)((t >> 4 & 1) | (t >> 7 & 2));
}

/* 0 when p/len holds exactly one message header-wise, else a negative code. */
static int header_check(const uint8_t *p, size_t len)
{
    if (len < ZDC_STUN_HEADER_SIZE)
        return ZDC_ERR_TRUNCATED;
    /* RFC 8489 §5: the most significant 2 bits of every STUN message MUST be zeroes. */
    if (p[0] & 0xC0)
        return ZDC_ERR_MALFORMED;
    /* RFC 8489 §5: the magic cookie field MUST contain the fixed value 0x2112A442. */
    if (zdc_load_u32(p + 4) != ZDC_STUN_MAGIC_COOKIE)
        return ZDC_ERR_MALFORMED;
    /* RFC 8489 §5: attributes are padded to 4 bytes, so the last 2 bits of the length are
     * always zero. */
    size_t mlen = zdc_load_u16(p + 2);
    if (mlen & 3)
        return ZDC_ERR_MALFORMED;
    if (len - ZDC_STUN_HEADER_SIZE < mlen)
        return ZDC_ERR_TRUNCATED;
    if (len - ZDC_STUN_HEADER_SIZE > mlen)
        return ZDC_ERR_MALFORMED; /* trailing bytes after the message */
    return 0;
}

bool zdc_stun_is_message(const uint8_t *p, size_t len)
{
    return p && header_check(p, len) == 0;
}

/* ---- attributes ------------------------------------------------------------------------- */

/* MAPPED-ADDRESS / XOR-MAPPED-ADDRESS value (RFC 8489 §14.1, §14.2):
 *  |0 0 0 0 0 0 0 0|    Family     |         Port (X-Port)         |
 *  |            Address (32 bits or 128 bits, X-Address)           |
 * For the XOR form the port is xored with the cookie's top 16 bits, an IPv4 address with the
 * cookie, an IPv6 address with cookie || transaction id. The first byte MUST be ignored. */
static int addr_parse(const uint8_t *v, size_t n, const uint8_t *hdr, bool xor, zdc_stun_addr *a)
{
    if (n < 4)
        return ZDC_ERR_MALFORMED;
    uint8_t family = v[1];
    size_t ip_len = family == 0x01 ? 4 : family == 0x02 ? 16 : 0;
    if (ip_len == 0 || n != 4 + ip_len)
        return ZDC_ERR_MALFORMED;
    memset(a, 0, sizeof *a);
    a->family = family == 0x01 ? 4 : 6;
    a->port = zdc_load_u16(v + 2);
    memcpy(a->ip, v + 4, ip_len);
    if (xor) {
        /* hdr + 4 is the cookie followed by the transaction id: the 16-byte xor pad. */
        a->port ^= (uint16_t)(ZDC_STUN_MAGIC_COOKIE >> 16);
        for (size_t i = 0; i < ip_len; i++)
            a->ip[i] ^= hdr[4 + i];
    }
    return 0;
}

/* ERROR-CODE value (RFC 8489 §14.8):
 *  |           Reserved, should be 0         |Class|     Number    |
 *  |      Reason Phrase (variable)                                ..
 */
static int error_parse(const uint8_t *v, size_t n, zdc_stun_msg *m)
{
    if (n < 4 || n - 4 > ZDC_STUN_MAX_TEXT)
        return ZDC_ERR_MALFORMED;
    unsigned cls = v[2] & 0x07, number = v[3];
    /* RFC 8489 §14.8: the class MUST be between 3 and 6, the number between 0 and 99. */
    if (cls < 3 || cls > 6 || number > 99)
        return ZDC_ERR_MALFORMED;
    if (!m->has_error) {
        m->has_error = true;
        m->error_code = (uint16_t)(cls * 100 + number);
        m->error_reason = (zdc_stun_view){v + 4, n - 4};
    }
    return 0;
}

static int unknown_list_parse(const uint8_t *v, size_t n, zdc_stun_msg *m, bool *seen)
{
    /* RFC 8489 §14.13: a list of 16-bit attribute types. */
    if (n & 1)
        return ZDC_ERR_MALFORMED;
    if (*seen)
        return 0; /* a duplicate: only the first counts */
    *seen = true;
    for (size_t i = 0; i + 2 <= n && m->n_unknown_attrs < ZDC_STUN_MAX_UNKNOWN; i += 2)
        m->unknown_attrs[m->n_unknown_attrs++] = zdc_load_u16(v + i);
    return 0;
}

static int text_parse(const uint8_t *v, size_t n, size_t max, bool *has, zdc_stun_view *out)
{
    if (n > max)
        return ZDC_ERR_MALFORMED;
    if (!*has) {
        *has = true;
        *out = (zdc_stun_view){v, n};
    }
    return 0;
}

static void unknown_required_add(zdc_stun_msg *m, uint16_t type)
{
    for (size_t i = 0; i < m->n_unknown_required; i++)
        if (m->unknown_required[i] == type)
            return;
    if (m->n_unknown_required < ZDC_STUN_MAX_UNKNOWN)
        m->unknown_required[m->n_unknown_required++] = type;
}

/* One attribute before MESSAGE-INTEGRITY. Of duplicates every occurrence is validated and the
 * first one kept (RFC 8489 §14: "only the first occurrence needs to be processed"). */
static int attr_parse(const uint8_t *hdr, const zdc_tlv *t, zdc_stun_msg *m, bool *seen_list)
{
    const uint8_t *v = t->value;
    size_t n = t->len;
    zdc_stun_addr a;
    int rv;

    switch (t->type) {
    case ZDC_STUN_ATTR_MAPPED_ADDRESS:
    case ZDC_STUN_ATTR_XOR_MAPPED_ADDRESS: {
        bool xor = t->type == ZDC_STUN_ATTR_XOR_MAPPED_ADDRESS;
        rv = addr_parse(v, n, hdr, xor, &a);
        if (rv)
            return rv;
        bool *has = xor? &m->has_xor_mapped : &m->has_mapped;
        if (!*has) {
            *has = true;
            *(xor? &m->xor_mapped : &m->mapped) = a;
        }
        return 0;
    }
    case ZDC_STUN_ATTR_USERNAME:
        /* RFC 8489 §14.3: fewer than 509 bytes. */
        return text_parse(v, n, ZDC_STUN_MAX_USERNAME, &m->has_username, &m->username);
    case ZDC_STUN_ATTR_REALM:
        /* RFC 8489 §14.9 (REALM), §14.10 (NONCE), §14.14 (SOFTWARE): fewer than 128
         * characters, at most 763 bytes. */
        return text_parse(v, n, ZDC_STUN_MAX_TEXT, &m->has_realm, &m->realm);
    case ZDC_STUN_ATTR_NONCE:
        return text_parse(v, n, ZDC_STUN_MAX_TEXT, &m->has_nonce, &m->nonce);
    case ZDC_STUN_ATTR_SOFTWARE:
        return text_parse(v, n, ZDC_STUN_MAX_TEXT, &m->has_software, &m->software);
    case ZDC_STUN_ATTR_ERROR_CODE:
        return error_parse(v, n, m);
    case ZDC_STUN_ATTR_UNKNOWN_ATTRIBUTES:
        return unknown_list_parse(v, n, m, seen_list);
    case ZDC_STUN_ATTR_PRIORITY:
        /* RFC 8445 §16.1: a 32-bit unsigned integer. */
        if (n != 4)
            return ZDC_ERR_MALFORMED;
        if (!m->has_priority) {
            m->has_priority = true;
            m->priority = zdc_load_u32(v);
        }
        return 0;
    case ZDC_STUN_ATTR_USE_CANDIDATE:
        /* RFC 8445 §16.1: no content (length zero). */
        if (n != 0)
            return ZDC_ERR_MALFORMED;
        m->use_candidate = true;
        return 0;
    case ZDC_STUN_ATTR_ICE_CONTROLLED:
    case ZDC_STUN_ATTR_ICE_CONTROLLING:
        /* RFC 8445 §16.1: a 64-bit unsigned integer (the tiebreaker). */
        if (n != 8)
            return ZDC_ERR_MALFORMED;
        if (!m->has_ice_controlled && !m->has_ice_controlling)
            m->tiebreaker = (uint64_t)zdc_load_u32(v) << 32 | zdc_load_u32(v + 4);
        if (t->type == ZDC_STUN_ATTR_ICE_CONTROLLED)
            m->has_ice_controlled = true;
        else
            m->has_ice_controlling = true;
        return 0;
    default:
        /* RFC 8489 §14: unknown comprehension-optional attributes (0x8000-0xFFFF) are ignored;
         * unknown comprehension-required ones (0x0000-0x7FFF) are collected for a 420. */
        if (t->type < 0x8000)
            unknown_required_add(m, t->type);
        return 0;
    }
}

int zdc_stun_parse(const uint8_t *p, size_t len, zdc_stun_msg *msg)
{
    if (!msg || (!p && len))
        return ZDC_ERR_INVALID_PARAMETER;
    memset(msg, 0, sizeof *msg);
    int rv = header_check(p, len);
    if (rv)
        return rv;
    type_decode(zdc_load_u16(p), &msg->method, &msg->cls);
    msg->length = zdc_load_u16(p + 2);
    memcpy(msg->txid, p + 8, 12);

    zdc_tlv_walker w;
    zdc_tlv t;
    zdc_tlv_walker_init(&w, p + ZDC_STUN_HEADER_SIZE, msg->length, 4, false);
    bool after_mi = false, after_mi256 = false, seen_unknown_list = false;
    size_t fp_offset = 0;
    while ((rv = zdc_tlv_next(&w, &t)) == 1) {
        size_t off = ZDC_STUN_HEADER_SIZE + t.offset;
        /* RFC 8489 §14.7: when present, FINGERPRINT MUST be the last attribute. */
        if (fp_offset)
            return ZDC_ERR_MALFORMED;
        if (t.type == ZDC_STUN_ATTR_FINGERPRINT) {
            if (t.len != 4)
                return ZDC_ERR_MALFORMED;
            fp_offset = off;
        } else if (after_mi256) {
            /* RFC 8489 §14.6: except FINGERPRINT, agents MUST ignore all attributes that
             * follow MESSAGE-INTEGRITY-SHA256. */
        } else if (t.type == ZDC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256) {
            /* RFC 8489 §14.6: at most 32 bytes, at least 16, a multiple of 4. */
            if (t.len < 16 || t.len > 32 || (t.len & 3))
                return ZDC_ERR_MALFORMED;
            msg->integrity_sha256_offset = off;
            after_mi256 = true;
        } else if (after_mi) {
            /* RFC 8489 §14.5: except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, agents MUST
             * ignore all attributes that follow MESSAGE-INTEGRITY. */
        } else if (t.type == ZDC_STUN_ATTR_MESSAGE_INTEGRITY) {
            /* RFC 8489 §14.5: the HMAC-SHA1 is 20 bytes. */
            if (t.len != 20)
                return ZDC_ERR_MALFORMED;
            msg->integrity_offset = off;
            after_mi = true;
        } else {
            rv = attr_parse(p, &t, msg, &seen_unknown_list);
            if (rv)
                return rv;
        }
    }
    if (rv < 0)
        return rv;

    if (fp_offset) {
        /* RFC 8489 §14.7: CRC-32 of the message up to (excluding) FINGERPRINT, xored with
         * 0x5354554e. FINGERPRINT is last, so the header length already includes it. */
        uint32_t want = zdc_load_u32(p + fp_offset + 4);
        if ((zdc_crc32(p, fp_offset) ^ ZDC_STUN_FINGERPRINT_XOR) != want)
            return ZDC_ERR_FINGERPRINT;
        msg->has_fingerprint = true;
    }
    return msg->n_unknown_required ? ZDC_ERR_UNKNOWN_ATTRIBUTE : 0;
}

/* ---- integrity ---------------------------------------------------------------------------
 * RFC 8489 §14.5: the HMAC covers the message up to (excluding) the MESSAGE-INTEGRITY
 * attribute, with the header length field set as if the message ended right after it. Only
 * a 20-byte copy of the header is patched; the input itself is hashed as it is. */

static int integrity_check(const uint8_t *p, size_t len, size_t off, uint16_t type,
                           zdc_digest_alg alg, const uint8_t *key, size_t key_len)
{
    if (off == 0)
        return ZDC_ERR_NOT_FOUND;
    if (!p || (!key && key_len) || off < ZDC_STUN_HEADER_SIZE || len < off || len - off < 4 ||
        zdc_load_u16(p + off) != type)
        return ZDC_ERR_INVALID_PARAMETER;
    size_t vlen = zdc_load_u16(p + off + 2);
    if (len - off - 4 < vlen || vlen > zdc_digest_size(alg) || vlen == 0)
        return ZDC_ERR_INVALID_PARAMETER;

    uint8_t hdr[ZDC_STUN_HEADER_SIZE], mac[ZDC_DIGEST_MAX];
    memcpy(hdr, p, sizeof hdr);
    zdc_store_u16(hdr + 2, (uint16_t)(off + 4 + vlen - ZDC_STUN_HEADER_SIZE));
    zdc_chunk chunks[2] = {{hdr, sizeof hdr},
                           {p + ZDC_STUN_HEADER_SIZE, off - ZDC_STUN_HEADER_SIZE}};
    int rv = zdc_hmac(alg, key, key_len, chunks, 2, mac);
    if (rv)
        return rv;
    /* Constant time: the comparison must not tell an attacker how many bytes matched. For
     * MESSAGE-INTEGRITY-SHA256 a shorter value is the leftmost bytes of the HMAC (§14.6). */
    return CRYPTO_memcmp(mac, p + off + 4, vlen) == 0 ? 0 : ZDC_ERR_INTEGRITY;
}

int zdc_stun_check_integrity(const uint8_t *p, size_t len, const zdc_stun_msg *msg,
                             const uint8_t *key, size_t key_len)
{
    if (!msg)
        return ZDC_ERR_INVALID_PARAMETER;
    return integrity_check(p, len, msg->integrity_offset, ZDC_STUN_ATTR_MESSAGE_INTEGRITY,
                           ZDC_DIGEST_SHA1, key, key_len);
}

int zdc_stun_check_integrity_sha256(const uint8_t *p, size_t len, const zdc_stun_msg *msg,
                                    const uint8_t *key, size_t key_len)
{
    if (!msg)
        return ZDC_ERR_INVALID_PARAMETER;
    return integrity_check(p, len, msg->integrity_sha256_offset,
                           ZDC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, ZDC_DIGEST_SHA256, key, key_len);
}

int zdc_stun_long_term_key(const char *user, const char *realm, const char *pass, uint8_t key[16])
{
    if (!user || !realm || !pass || !key)
        return ZDC_ERR_INVALID_PARAMETER;
    /* RFC 8489 §9.2.2: key = MD5(username ":" OpaqueString(realm) ":" OpaqueString(password)) */
    zdc_chunk chunks[5] = {
        {user, strlen(user)}, {":", 1}, {realm, strlen(realm)}, {":", 1}, {pass, strlen(pass)}};
    return zdc_digest(ZDC_DIGEST_MD5, chunks, 5, key);
}

/* ---- equality ---------------------------------------------------------------------------- */

static bool view_equal(zdc_stun_view a, zdc_stun_view b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool addr_equal(const zdc_stun_addr *a, const zdc_stun_addr *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

bool zdc_stun_msg_equal(const zdc_stun_msg *a, const zdc_stun_msg *b)
{
    if (a->method != b->method || a->cls != b->cls || memcmp(a->txid, b->txid, 12) != 0)
        return false;
    if (a->has_mapped != b->has_mapped || (a->has_mapped && !addr_equal(&a->mapped, &b->mapped)))
        return false;
    if (a->has_xor_mapped != b->has_xor_mapped ||
        (a->has_xor_mapped && !addr_equal(&a->xor_mapped, &b->xor_mapped)))
        return false;
    const struct {
        bool ha, hb;
        zdc_stun_view va, vb;
    } views[] = {
        {a->has_username, b->has_username, a->username, b->username},
        {a->has_software, b->has_software, a->software, b->software},
        {a->has_realm, b->has_realm, a->realm, b->realm},
        {a->has_nonce, b->has_nonce, a->nonce, b->nonce},
        {a->has_error, b->has_error, a->error_reason, b->error_reason},
    };
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
        if (views[i].ha != views[i].hb || (views[i].ha && !view_equal(views[i].va, views[i].vb)))
            return false;
    if (a->has_error && a->error_code != b->error_code)
        return false;
    if (a->has_priority != b->has_priority || (a->has_priority && a->priority != b->priority))
        return false;
    if (a->use_candidate != b->use_candidate || a->has_ice_controlled != b->has_ice_controlled ||
        a->has_ice_controlling != b->has_ice_controlling)
        return false;
    if ((a->has_ice_controlled || a->has_ice_controlling) && a->tiebreaker != b->tiebreaker)
        return false;
    if (a->n_unknown_attrs != b->n_unknown_attrs ||
        memcmp(a->unknown_attrs, b->unknown_attrs, a->n_unknown_attrs * 2) != 0)
        return false;
    return a->n_unknown_required == b->n_unknown_required &&
           memcmp(a->unknown_required, b->unknown_required, a->n_unknown_required * 2) == 0;
}

/* ---- builder ----------------------------------------------------------------------------- */

enum { STAGE_OPEN, STAGE_AFTER_MI, STAGE_AFTER_MI256, STAGE_AFTER_FP };

static void fail(zdc_stun_builder *b, int err)
{
    if (!b->err)
        b->err = err;
}

void zdc_stun_build_begin(zdc_stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
                          uint8_t cls, const uint8_t txid[12])
{
    b->buf = buf;
    b->cap = buf ? cap : 0;
    b->len = 0;
    b->err = 0;
    b->stage = STAGE_OPEN;
    if (method > 0x0FFF || cls > 3 || !txid) {
        fail(b, ZDC_ERR_INVALID_PARAMETER);
        return;
    }
    if (b->cap < ZDC_STUN_HEADER_SIZE) {
        fail(b, ZDC_ERR_BUFFER_TOO_SMALL);
        return;
    }
    zdc_store_u16(buf, type_encode(method, cls));
    zdc_store_u16(buf + 2, 0);
    zdc_store_u32(buf + 4, ZDC_STUN_MAGIC_COOKIE);
    memcpy(buf + 8, txid, 12);
    b->len = ZDC_STUN_HEADER_SIZE;
}

/* Appends an attribute header for an n-byte value plus zeroed padding, updates the header
 * length field to include it, and returns where the value goes (NULL after an error).
 * `stage` is the builder stage the attribute itself may follow at most. */
static uint8_t *attr_begin(zdc_stun_builder *b, uint16_t type, size_t n, int stage)
{
    if (b->err)
        return NULL;
    if (b->stage > stage) {
        fail(b, ZDC_ERR_INVALID_PARAMETER);
        return NULL;
    }
    size_t total = 4 + ((n + 3) & ~(size_t)3);
    if (n > 0xFFFF || total > 0xFFFF - (b->len - ZDC_STUN_HEADER_SIZE)) {
        fail(b, ZDC_ERR_TOO_LARGE);
        return NULL;
    }
    if (b->cap - b->len < total) {
        fail(b, ZDC_ERR_BUFFER_TOO_SMALL);
        return NULL;
    }
    uint8_t *d = b->buf + b->len;
    zdc_store_u16(d, type);
    zdc_store_u16(d + 2, (uint16_t)n);
    memset(d + 4 + n, 0, total - 4 - n);
    b->len += total;
    zdc_store_u16(b->buf + 2, (uint16_t)(b->len - ZDC_STUN_HEADER_SIZE));
    return d + 4;
}

/* MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT are computed by their own add functions, which
 * also enforce their order; the generic adders refuse them. */
static bool computed_type(uint16_t type)
{
    return type == ZDC_STUN_ATTR_MESSAGE_INTEGRITY ||
           type == ZDC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 || type == ZDC_STUN_ATTR_FINGERPRINT;
}

static uint8_t *plain_begin(zdc_stun_builder *b, uint16_t type, size_t n)
{
    if (computed_type(type)) {
        fail(b, ZDC_ERR_INVALID_PARAMETER);
        return NULL;
    }
    return attr_begin(b, type, n, STAGE_OPEN);
}

void zdc_stun_add_bytes(zdc_stun_builder *b, uint16_t type, const void *p, size_t n)
{
    size_t max = SIZE_MAX;
    switch (type) {
    case ZDC_STUN_ATTR_USERNAME:
        max = ZDC_STUN_MAX_USERNAME;
        break;
    case ZDC_STUN_ATTR_REALM:
    case ZDC_STUN_ATTR_NONCE:
    case ZDC_STUN_ATTR_SOFTWARE:
        max = ZDC_STUN_MAX_TEXT;
        break;
    }
    if (n > max || (!p && n)) {
        fail(b, ZDC_ERR_INVALID_PARAMETER);
        return;
    }
    uint8_t *d = plain_begin(b, type, n);
    if (d && n)
        memcpy(d, p, n);
}

void zdc_stun_add_u32(zdc_stun_builder *b, uint16_t type, uint32_t v)
{
    uint8_t *d = plain_begin(b, type, 4);
    if (d)
        zdc_store_u32(d, v);
}

void zdc_stun_add_u64(zdc_stun_builder *b, uint16_t type, uint64_t v)
{
    uint8_t *d = plain_begin(b, type, 8);
    if (d) {
        zdc_store_u32(d, (uint32_t)(v >> 32));
        zdc_store_u32(d + 4, (uint32_t)v);
    }
}

void zdc_stun_add_flag(zdc_stun_builder *b, uint16_t type)
{
    plain_begin(b, type, 0);
}

static void address_add(zdc_stun_builder *b, uint16_t type, const zdc_stun_addr *a, bool xor)
{
    if (!a || (a->family != 4 && a->family != 6)) {
        fail(b, ZDC_ERR_INVALID_PARAMETER);
        return;
    }
    size_t ip_len = a->family == 4 ? 4 : 16;
    uint8_t *d = plain_begin(b, type, 4 + ip_len);
    if (!d)
        return;
    d[0] = 0;
    d[1] = a->family == 4 ? 0x01 : 0x02;
    uint16_t port = a->port;
    memcpy(d + 4, a->ip, ip_len);
    if (xor) {
        /* RFC 8489 §14.2; b->buf + 4 is the cookie followed by the transaction id. */
        port ^= (uint16_t)(ZDC_STUN_MAGIC_COOKIE >> 16);
        for (size_t i = 0; i < ip_len; i++)
            d[4 + i] ^= b->buf[4 + i];
    }
    zdc_store_u16(d + 2, port);
}

void zdc_stun_add_address(zdc_stun_builder *b, uint16_t type, const zdc_stun_addr *a)
{
    address_add(b, type, a, false);
}

void zdc_stun_add_xor_address(zdc_stun_builder *b, uint16_t type, const zdc_stun_addr *a)
{
    address_add(b, type, a, true);
}

static void error_add(zdc_stun_builder *b, uint16_t code, const void *reason, size_t n)
{
    /* RFC 8489 §14.8: class 3..6, number 0..99; reason fewer than 128 characters. */
    if (code < 300 || code > 699 || n > ZDC_STUN_MAX_TEXT || (!reason && n)) {
        fail(b, ZDC_ERR_INVALID_PARAMETER);
        return;
    }
    uint8_t *d = attr_begin(b, ZDC_STUN_ATTR_ERROR_CODE, 4 + n, STAGE_OPEN);
    if (!d)
        return;
    d[0] = d[1] = 0;
    d[2] = (uint8_t)(code / 100);
    d[3] = (uint8_t)(code % 100);
    if (n)
        memcpy(d + 4, reason, n);
}

void zdc_stun_add_error(zdc_stun_builder *b, uint16_t code, const char *reason)
{
    error_add(b, code, reason, reason ? strlen(reason) : 0);
}

void zdc_stun_add_unknown_attributes(zdc_stun_builder *b, const uint16_t *types, size_t n)
{
    if (!types && n) {
        fail(b, ZDC_ERR_INVALID_PARAMETER);
        return;
    }
    if (n > 0xFFFF / 2) {
        fail(b, ZDC_ERR_TOO_LARGE);
        return;
    }
    uint8_t *d = attr_begin(b, ZDC_STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n, STAGE_OPEN);
    for (size_t i = 0; d && i < n; i++)
        zdc_store_u16(d + 2 * i, types[i]);
}

static void integrity_add(zdc_stun_builder *b, uint16_t type, zdc_digest_alg alg, int stage,
                          const uint8_t *key, size_t key_len)
{
    if (!key && key_len) {
        fail(b, ZDC_ERR_INVALID_PARAMETER);
        return;
    }
    size_t n = zdc_digest_size(alg);
    size_t prefix = b->len;
    /* attr_begin sets the length field to include this attribute, as §14.5 wants. */
    uint8_t *d = attr_begin(b, type, n, stage);
    if (!d)
        return;
    zdc_chunk chunk = {b->buf, prefix};
    int rv = zdc_hmac(alg, key, key_len, &chunk, 1, d);
    if (rv)
        fail(b, rv);
}

void zdc_stun_add_integrity(zdc_stun_builder *b, const uint8_t *key, size_t key_len)
{
    integrity_add(b, ZDC_STUN_ATTR_MESSAGE_INTEGRITY, ZDC_DIGEST_SHA1, STAGE_OPEN, key, key_len);
    if (!b->err)
        b->stage = STAGE_AFTER_MI;
}

void zdc_stun_add_integrity_sha256(zdc_stun_builder *b, const uint8_t *key, size_t key_len)
{
    integrity_add(b, ZDC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, ZDC_DIGEST_SHA256, STAGE_AFTER_MI, key,
                  key_len);
    if (!b->err)
        b->stage = STAGE_AFTER_MI256;
}

void zdc_stun_add_fingerprint(zdc_stun_builder *b)
{
    size_t prefix = b->len;
    uint8_t *d = attr_begin(b, ZDC_STUN_ATTR_FINGERPRINT, 4, STAGE_AFTER_MI256);
    if (!d)
        return;
    zdc_store_u32(d, zdc_crc32(b->buf, prefix) ^ ZDC_STUN_FINGERPRINT_XOR);
    b->stage = STAGE_AFTER_FP;
}

void zdc_stun_add_msg_attributes(zdc_stun_builder *b, const zdc_stun_msg *m)
{
    if (!m) {
        fail(b, ZDC_ERR_INVALID_PARAMETER);
        return;
    }
    if (m->has_mapped)
        zdc_stun_add_address(b, ZDC_STUN_ATTR_MAPPED_ADDRESS, &m->mapped);
    if (m->has_xor_mapped)
        zdc_stun_add_xor_address(b, ZDC_STUN_ATTR_XOR_MAPPED_ADDRESS, &m->xor_mapped);
    if (m->has_username)
        zdc_stun_add_bytes(b, ZDC_STUN_ATTR_USERNAME, m->username.p, m->username.len);
    if (m->has_realm)
        zdc_stun_add_bytes(b, ZDC_STUN_ATTR_REALM, m->realm.p, m->realm.len);
    if (m->has_nonce)
        zdc_stun_add_bytes(b, ZDC_STUN_ATTR_NONCE, m->nonce.p, m->nonce.len);
    if (m->has_software)
        zdc_stun_add_bytes(b, ZDC_STUN_ATTR_SOFTWARE, m->software.p, m->software.len);
    if (m->has_error)
        error_add(b, m->error_code, m->error_reason.p, m->error_reason.len);
    if (m->n_unknown_attrs)
        zdc_stun_add_unknown_attributes(b, m->unknown_attrs, m->n_unknown_attrs);
    if (m->has_priority)
        zdc_stun_add_u32(b, ZDC_STUN_ATTR_PRIORITY, m->priority);
    if (m->use_candidate)
        zdc_stun_add_flag(b, ZDC_STUN_ATTR_USE_CANDIDATE);
    if (m->has_ice_controlled)
        zdc_stun_add_u64(b, ZDC_STUN_ATTR_ICE_CONTROLLED, m->tiebreaker);
    if (m->has_ice_controlling)
        zdc_stun_add_u64(b, ZDC_STUN_ATTR_ICE_CONTROLLING, m->tiebreaker);
    for (size_t i = 0; i < m->n_unknown_required && i < ZDC_STUN_MAX_UNKNOWN; i++)
        zdc_stun_add_flag(b, m->unknown_required[i]);
}

int zdc_stun_build_end(zdc_stun_builder *b)
{
    if (b->err)
        return b->err;
    return (int)b->len;
}
