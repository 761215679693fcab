#include "bytes.h"

int zdc_tlv_next(zdc_tlv_walker *w, zdc_tlv *out)
{
    size_t left = w->len - w->off;
    if (left == 0)
        return 0;
    if (left < 4)
        return ZDC_ERR_TRUNCATED;

    const uint8_t *h = w->p + w->off;
    uint16_t type = zdc_load_u16(h);
    size_t vlen = zdc_load_u16(h + 2);
    if (w->len_includes_header) {
        if (vlen < 4)
            return ZDC_ERR_MALFORMED;
        vlen -= 4;
    }
    if (left - 4 < vlen)
        return ZDC_ERR_TRUNCATED;

    size_t pad = (w->align - (vlen & (w->align - 1))) & (w->align - 1);
    size_t after = left - 4 - vlen;
    if (after < pad) {
        /* Only the last element may omit its padding, and only if the format allows it. */
        if (!(w->last_pad_optional && after == 0))
            return ZDC_ERR_TRUNCATED;
        pad = 0;
    }

    out->type = type;
    out->value = h + 4;
    out->len = vlen;
    out->offset = w->off;
    w->off += 4 + vlen + pad;
    return 1;
}
