/* Bounds-checked big-endian reader and writer, and the type-length-value walker shared by
 * every binary codec (STUN, DCEP, SCTP parameters).
 *
 * The reader never reads past its input and never writes into it; each read checks the length
 * first in a form that cannot overflow (`len - off < n`). The writer has a sticky error: once a
 * write does not fit, every later write is ignored and zdc_wr_finish() reports
 * ZDC_ERR_BUFFER_TOO_SMALL, so builders can write a whole message and check once.
 */
#ifndef ZDC_CORE_BYTES_H
#define ZDC_CORE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zdc/error.h"

/* ---- reader ---------------------------------------------------------------------------- */

typedef struct zdc_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
} zdc_rd;

static inline void zdc_rd_init(zdc_rd *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
}

static inline size_t zdc_rd_left(const zdc_rd *r)
{
    return r->len - r->off;
}

/* Pointer to the next unread byte (valid only while zdc_rd_left() > 0). */
static inline const uint8_t *zdc_rd_cur(const zdc_rd *r)
{
    return r->p + r->off;
}

static inline int zdc_rd_skip(zdc_rd *r, size_t n)
{
    if (r->len - r->off < n)
        return ZDC_ERR_TRUNCATED;
    r->off += n;
    return 0;
}

static inline int zdc_rd_u8(zdc_rd *r, uint8_t *v)
{
    if (r->len - r->off < 1)
        return ZDC_ERR_TRUNCATED;
    *v = r->p[r->off++];
    return 0;
}

static inline int zdc_rd_u16(zdc_rd *r, uint16_t *v)
{
    if (r->len - r->off < 2)
        return ZDC_ERR_TRUNCATED;
    const uint8_t *s = r->p + r->off;
    *v = (uint16_t)((uint16_t)s[0] << 8 | s[1]);
    r->off += 2;
    return 0;
}

static inline int zdc_rd_u32(zdc_rd *r, uint32_t *v)
{
    if (r->len - r->off < 4)
        return ZDC_ERR_TRUNCATED;
    const uint8_t *s = r->p + r->off;
    *v = (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
    r->off += 4;
    return 0;
}

static inline int zdc_rd_u64(zdc_rd *r, uint64_t *v)
{
    uint32_t hi, lo;
    if (r->len - r->off < 8)
        return ZDC_ERR_TRUNCATED;
    zdc_rd_u32(r, &hi);
    zdc_rd_u32(r, &lo);
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* A view of the next n bytes (no copy); advances past them. */
static inline int zdc_rd_view(zdc_rd *r, size_t n, const uint8_t **v)
{
    if (r->len - r->off < n)
        return ZDC_ERR_TRUNCATED;
    *v = r->p + r->off;
    r->off += n;
    return 0;
}

static inline int zdc_rd_copy(zdc_rd *r, void *dst, size_t n)
{
    if (r->len - r->off < n)
        return ZDC_ERR_TRUNCATED;
    if (n)
        memcpy(dst, r->p + r->off, n);
    r->off += n;
    return 0;
}

/* ---- plain loads/stores (caller has checked the bounds) -------------------------------- */

static inline uint16_t zdc_load_u16(const uint8_t *s)
{
    return (uint16_t)((uint16_t)s[0] << 8 | s[1]);
}
static inline uint32_t zdc_load_u32(const uint8_t *s)
{
    return (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
}
static inline void zdc_store_u16(uint8_t *d, uint16_t v)
{
    d[0] = (uint8_t)(v >> 8);
    d[1] = (uint8_t)v;
}
static inline void zdc_store_u32(uint8_t *d, uint32_t v)
{
    d[0] = (uint8_t)(v >> 24);
    d[1] = (uint8_t)(v >> 16);
    d[2] = (uint8_t)(v >> 8);
    d[3] = (uint8_t)v;
}

/* ---- writer ---------------------------------------------------------------------------- */

typedef struct zdc_wr {
    uint8_t *p;
    size_t cap;
    size_t len;
    int err; /* 0 or ZDC_ERR_BUFFER_TOO_SMALL, sticky */
} zdc_wr;

static inline void zdc_wr_init(zdc_wr *w, uint8_t *p, size_t cap)
{
    w->p = p;
    w->cap = cap;
    w->len = 0;
    w->err = 0;
}

/* Reserves n bytes and returns where they start, or NULL (sticky error set) when they do not
 * fit. The caller fills them (e.g. a length patched in later). */
static inline uint8_t *zdc_wr_reserve(zdc_wr *w, size_t n)
{
    if (w->err || w->cap - w->len < n) {
        w->err = ZDC_ERR_BUFFER_TOO_SMALL;
        return NULL;
    }
    uint8_t *d = w->p + w->len;
    w->len += n;
    return d;
}

static inline void zdc_wr_u8(zdc_wr *w, uint8_t v)
{
    uint8_t *d = zdc_wr_reserve(w, 1);
    if (d)
        d[0] = v;
}

static inline void zdc_wr_u16(zdc_wr *w, uint16_t v)
{
    uint8_t *d = zdc_wr_reserve(w, 2);
    if (d)
        zdc_store_u16(d, v);
}

static inline void zdc_wr_u32(zdc_wr *w, uint32_t v)
{
    uint8_t *d = zdc_wr_reserve(w, 4);
    if (d)
        zdc_store_u32(d, v);
}

static inline void zdc_wr_u64(zdc_wr *w, uint64_t v)
{
    zdc_wr_u32(w, (uint32_t)(v >> 32));
    zdc_wr_u32(w, (uint32_t)v);
}

static inline void zdc_wr_bytes(zdc_wr *w, const void *s, size_t n)
{
    uint8_t *d = zdc_wr_reserve(w, n);
    if (d && n)
        memcpy(d, s, n);
}

static inline void zdc_wr_zeros(zdc_wr *w, size_t n)
{
    uint8_t *d = zdc_wr_reserve(w, n);
    if (d && n)
        memset(d, 0, n);
}

/* Pads with zero bytes until the written length is a multiple of `align` (a power of two). */
static inline void zdc_wr_pad(zdc_wr *w, size_t align)
{
    size_t rem = w->len & (align - 1);
    if (rem)
        zdc_wr_zeros(w, align - rem);
}

/* Returns the number of bytes written, or ZDC_ERR_BUFFER_TOO_SMALL if anything did not fit. */
static inline int zdc_wr_finish(const zdc_wr *w)
{
    if (w->err)
        return w->err;
    return w->len > (size_t)0x7fffffff ? ZDC_ERR_TOO_LARGE : (int)w->len;
}

/* ---- type-length-value walker ---------------------------------------------------------- */

/* One element: a 4-byte header (16-bit type, 16-bit length) then the value, padded to the
 * walker's alignment. For formats with an 8-bit type and 8-bit flags (SCTP chunks), `type`
 * holds both: type = (t << 8) | flags. */
typedef struct zdc_tlv {
    uint16_t type;
    const uint8_t *value; /* view into the walked input */
    size_t len;           /* value length, without header and padding */
    size_t offset;        /* offset of the element's header in the input */
} zdc_tlv;

typedef struct zdc_tlv_walker {
    const uint8_t *p;
    size_t len;
    size_t off;
    unsigned align;           /* value padding: 1 (none) or a power of two */
    bool len_includes_header; /* SCTP style (length counts the 4 header bytes) vs STUN style */
    bool last_pad_optional;   /* accept a final element whose padding is missing */
} zdc_tlv_walker;

static inline void zdc_tlv_walker_init(zdc_tlv_walker *w, const uint8_t *p, size_t len,
                                       unsigned align, bool len_includes_header)
{
    w->p = p;
    w->len = len;
    w->off = 0;
    w->align = align ? align : 1;
    w->len_includes_header = len_includes_header;
    w->last_pad_optional = false;
}

/* Reads the next element into *out.
 * Returns 1 when an element was read, 0 at the clean end of input, ZDC_ERR_TRUNCATED when the
 * input ends inside a header, value or padding, and ZDC_ERR_MALFORMED when a length is smaller
 * than the header it must include. After an error the walker stays at the failing element. */
int zdc_tlv_next(zdc_tlv_walker *w, zdc_tlv *out);

#endif /* ZDC_CORE_BYTES_H */
