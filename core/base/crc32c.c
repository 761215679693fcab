#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#include "crc_slice8.h"

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial (RFC 9260 Appendix A) */

/* Slicing-by-8 tables (crc_slice8.h). */
static uint32_t table[8][256];
static bool use_hw;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
    zdc_crc_slice8_build(table, CRC32C_POLY);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t sw_raw(uint32_t c, const uint8_t *s, size_t n)
{
    return zdc_crc_slice8((const uint32_t(*)[256])table, c, s, n);
}

uint32_t zdc_crc32c_update_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&init_once, crc32c_init);
    return ~sw_raw(~crc, p, n);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The SSE4.2 crc32 instruction computes exactly this CRC (Castagnoli, reflected); only this
 * function is compiled for SSE4.2, so the rest of the library runs on any x86-64. The 8-byte
 * loads go through memcpy: input may be unaligned. */
__attribute__((target("sse4.2"))) static uint32_t hw_raw(uint32_t c, const uint8_t *s, size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8); /* x86 is little-endian: the byte order crc32q expects */
        c64 = __builtin_ia32_crc32di(c64, v);
        s += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--)
        c = __builtin_ia32_crc32qi(c, *s++);
    return c;
}

uint32_t zdc_crc32c_update_hw(uint32_t crc, const void *p, size_t n)
{
    return ~hw_raw(~crc, p, n);
}
#else
uint32_t zdc_crc32c_update_hw(uint32_t crc, const void *p, size_t n)
{
    return zdc_crc32c_update_sw(crc, p, n);
}
#endif

bool zdc_crc32c_have_hw(void)
{
    pthread_once(&init_once, crc32c_init);
    return use_hw;
}

uint32_t zdc_crc32c_update(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&init_once, crc32c_init);
    if (use_hw)
        return zdc_crc32c_update_hw(crc, p, n);
    return ~sw_raw(~crc, p, n);
}

uint32_t zdc_crc32c(const void *p, size_t n)
{
    return zdc_crc32c_update(0, p, n);
}
