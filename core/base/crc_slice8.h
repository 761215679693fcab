/* Slicing-by-8 for reflected 32-bit CRCs, shared by CRC-32 (STUN, crc32.c) and CRC-32c (SCTP
 * software path, crc32c.c): table[0] is the byte-at-a-time table; table[k][b] is the
 * contribution of byte b followed by k zero bytes, so eight input bytes fold with eight
 * lookups. The caller owns the table, builds it once, and applies its own pre/post inversion. */
#ifndef ZDC_CORE_CRC_SLICE8_H
#define ZDC_CORE_CRC_SLICE8_H

#include <stddef.h>
#include <stdint.h>

static inline void zdc_crc_slice8_build(uint32_t table[8][256], uint32_t reflected_poly)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (reflected_poly & (0u - (c & 1u)));
        table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

/* Little-endian load from bytes, whatever the host order (one load on x86). */
static inline uint32_t zdc_crc_load_le32(const uint8_t *s)
{
    return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}

/* Folds n bytes into the (already inverted) register c. */
static inline uint32_t zdc_crc_slice8(const uint32_t table[8][256], uint32_t c, const uint8_t *s,
                                      size_t n)
{
    while (n >= 8) {
        uint32_t lo = zdc_crc_load_le32(s) ^ c;
        uint32_t hi = zdc_crc_load_le32(s + 4);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
            table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
            table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        s += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ table[0][(c ^ *s++) & 0xff];
    return c;
}

#endif
