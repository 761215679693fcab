#include "crc32.h"

#include <pthread.h>

/* table[0] is the classic byte-at-a-time table; table[k][b] is the CRC contribution of byte b
 * followed by k zero bytes, which lets the loop fold eight input bytes with eight lookups. */
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

/* Little-endian load from bytes, whatever the host order (compiles to one load on x86). */
static inline uint32_t load_le32(const uint8_t *s)
{
    return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}

uint32_t zdc_crc32_update(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, table_build);
    const uint8_t *s = p;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = load_le32(s) ^ c;
        uint32_t hi = load_le32(s + 4);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
            table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
            table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        s += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ table[0][(c ^ *s++) & 0xff];
    return ~c;
}

uint32_t zdc_crc32(const void *p, size_t n)
{
    return zdc_crc32_update(0, p, n);
}
