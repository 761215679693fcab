/* SCTP common header, checksum and chunk walk (RFC 9260 §3.1, §3.2, §6.8), and error causes
 * (§3.3.10). */
#include "sctp_wire.h"

#include "crc32c.h"

int zdc_sctp_packet_parse(const uint8_t *p, size_t len, int mode, zdc_sctp_header *h,
                          zdc_sctp_chunk_iter *it)
{
    if (p == NULL || h == NULL || it == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    /* RFC 9260 §3: a packet is the common header followed by one or more chunks. */
    if (len < ZDC_SCTP_COMMON_HEADER_LEN + ZDC_SCTP_CHUNK_HEADER_LEN)
        return ZDC_ERR_TRUNCATED;
    h->src_port = zdc_load_u16(p);
    h->dst_port = zdc_load_u16(p + 2);
    h->vtag = zdc_load_u32(p + 4);
    h->checksum = zdc_crc32c_load(p + 8);
    if (mode != ZDC_SCTP_CSUM_SKIP && !(mode == ZDC_SCTP_CSUM_ACCEPT_ZERO && h->checksum == 0)) {
        /* RFC 9260 §6.8: the CRC covers the whole packet with the checksum field set to 0;
         * the input is read-only, so the four zero bytes are fed separately. */
        static const uint8_t zero[4];
        uint32_t c = zdc_crc32c_update(0, p, 8);
        c = zdc_crc32c_update(c, zero, 4);
        c = zdc_crc32c_update(c, p + 12, len - 12);
        if (c != h->checksum)
            return ZDC_ERR_INTEGRITY;
    }
    zdc_tlv_walker_init(&it->w, p + ZDC_SCTP_COMMON_HEADER_LEN, len - ZDC_SCTP_COMMON_HEADER_LEN, 4,
                        true);
    it->w.last_pad_optional = true;
    return 0;
}

int zdc_sctp_chunk_next(zdc_sctp_chunk_iter *it, zdc_sctp_raw_chunk *out)
{
    zdc_tlv t;
    int rv = zdc_tlv_next(&it->w, &t);
    if (rv <= 0)
        return rv;
    out->type = (uint8_t)(t.type >> 8);
    out->flags = (uint8_t)t.type;
    out->value = t.value;
    out->len = t.len;
    out->wire = it->w.p + t.offset;
    out->wire_len = t.len + ZDC_SCTP_CHUNK_HEADER_LEN;
    return 1;
}

void zdc_sctp_packet_begin(zdc_wr *w, uint16_t src_port, uint16_t dst_port, uint32_t vtag)
{
    zdc_wr_u16(w, src_port);
    zdc_wr_u16(w, dst_port);
    zdc_wr_u32(w, vtag);
    zdc_wr_u32(w, 0);
}

int zdc_sctp_packet_finish(zdc_wr *w, bool zero_checksum)
{
    int n = zdc_wr_finish(w);
    if (n < 0)
        return n;
    if (n < ZDC_SCTP_COMMON_HEADER_LEN)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_crc32c_store(w->p + 8, zero_checksum ? 0 : zdc_crc32c(w->p, (size_t)n));
    return n;
}

void zdc_sctp_cause_iter_init(zdc_sctp_cause_iter *it, const uint8_t *p, size_t len)
{
    zdc_tlv_walker_init(&it->w, p, len, 4, true);
    it->w.last_pad_optional = true;
}

int zdc_sctp_cause_next(zdc_sctp_cause_iter *it, uint16_t *code, const uint8_t **value, size_t *len)
{
    zdc_tlv t;
    int rv = zdc_tlv_next(&it->w, &t);
    if (rv <= 0)
        return rv;
    *code = t.type;
    *value = t.value;
    *len = t.len;
    return 1;
}

void zdc_sctp_cause_build(zdc_wr *w, uint16_t code, const void *value, size_t len)
{
    if (len > UINT16_MAX - 4u) {
        w->err = ZDC_ERR_BUFFER_TOO_SMALL;
        return;
    }
    zdc_wr_u16(w, code);
    zdc_wr_u16(w, (uint16_t)(len + 4));
    zdc_wr_bytes(w, value, len);
    zdc_wr_pad(w, 4);
}
