/* The state cookie (RFC 9260 §5.1.3): everything the association needs from a peer's INIT,
 * carried by the peer and returned in COOKIE ECHO, so nothing is kept for a peer that never
 * answers (no state, no amplification before the cookie verifies). HMAC-SHA256 over the
 * fields under a per-association random key; valid for 60 s (Valid.Cookie.Life, §16).
 *
 *   0 version(1) flags(1) os(2) | mis(2) reserved(2) | local_tag | peer_tag | local_tsn |
 *  24 peer_tsn | peer_rwnd | created(8) | 44 tie_local | tie_peer | 52 HMAC-SHA256(32)
 *  = 84 bytes. The tie-tags are the tags of the association that existed when the INIT came
 *  (0 when none): a COOKIE ECHO carrying them is a restarted peer's (§5.2.2, §5.2.4 A). */
#include "sctp_assoc_int.h"

#include "hmac.h"

#define COOKIE_BODY 52

int zdc_sctp_cookie_make(const uint8_t key[32], const zdc_sctp_cookie *c,
                         uint8_t out[ZDC_SCTP_COOKIE_LEN])
{
    zdc_wr w;
    zdc_wr_init(&w, out, ZDC_SCTP_COOKIE_LEN);
    zdc_wr_u8(&w, 1);
    zdc_wr_u8(&w, c->flags);
    zdc_wr_u16(&w, c->os);
    zdc_wr_u16(&w, c->mis);
    zdc_wr_u16(&w, 0);
    zdc_wr_u32(&w, c->local_tag);
    zdc_wr_u32(&w, c->peer_tag);
    zdc_wr_u32(&w, c->local_tsn);
    zdc_wr_u32(&w, c->peer_tsn);
    zdc_wr_u32(&w, c->peer_rwnd);
    zdc_wr_u64(&w, c->created);
    zdc_wr_u32(&w, c->tie_local);
    zdc_wr_u32(&w, c->tie_peer);
    zdc_chunk in = {out, COOKIE_BODY};
    return zdc_hmac(ZDC_DIGEST_SHA256, key, 32, &in, 1, out + COOKIE_BODY);
}

int zdc_sctp_cookie_open(const uint8_t key[32], const uint8_t *p, size_t len, uint64_t now,
                         zdc_sctp_cookie *c)
{
    if (len != ZDC_SCTP_COOKIE_LEN || p[0] != 1)
        return ZDC_ERR_INTEGRITY;
    uint8_t mac[32];
    zdc_chunk in = {p, COOKIE_BODY};
    if (zdc_hmac(ZDC_DIGEST_SHA256, key, 32, &in, 1, mac) != 0)
        return ZDC_ERR_INTEGRITY;
    unsigned diff = 0; /* constant time: the MAC is a secret's image */
    for (int i = 0; i < 32; i++)
        diff |= mac[i] ^ p[COOKIE_BODY + i];
    if (diff)
        return ZDC_ERR_INTEGRITY;
    zdc_rd r;
    zdc_rd_init(&r, p + 1, COOKIE_BODY - 1);
    uint16_t reserved;
    zdc_rd_u8(&r, &c->flags);
    zdc_rd_u16(&r, &c->os);
    zdc_rd_u16(&r, &c->mis);
    zdc_rd_u16(&r, &reserved);
    zdc_rd_u32(&r, &c->local_tag);
    zdc_rd_u32(&r, &c->peer_tag);
    zdc_rd_u32(&r, &c->local_tsn);
    zdc_rd_u32(&r, &c->peer_tsn);
    zdc_rd_u32(&r, &c->peer_rwnd);
    zdc_rd_u64(&r, &c->created);
    zdc_rd_u32(&r, &c->tie_local);
    zdc_rd_u32(&r, &c->tie_peer);
    /* RFC 9260 §5.1.5 step 3: a cookie past its lifetime is stale. */
    if (now < c->created || now - c->created > ZDC_SCTP_COOKIE_LIFE_NS)
        return ZDC_ERR_TIMEOUT;
    return 0;
}
