/* CRC32c (Castagnoli: reflected polynomial 0x82F63B78, initial value and final xor
 * 0xFFFFFFFF), the SCTP checksum (RFC 9260 §6.8, Appendix A; RFC 3309).
 *
 * Two implementations with identical results: the SSE4.2 `crc32` instruction where the CPU
 * has it (x86-64, checked once with __builtin_cpu_supports) and a table-driven fallback
 * (slicing-by-8). The choice is made once, thread-safely, on the first call; both stay
 * callable by name so tests can compare them.
 *
 * Result convention: the value the RFC's algorithm produces, as a host integer. SCTP puts it
 * into the common header's checksum field least significant byte first (RFC 9260 Appendix A:
 * the CRC's bytes are transmitted "in reflected order"), see zdc_crc32c_store(). */
#ifndef ZDC_CORE_CRC32C_H
#define ZDC_CORE_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC32c of n bytes at p. zdc_crc32c("123456789", 9) == 0xE3069283. */
uint32_t zdc_crc32c(const void *p, size_t n);

/* Continues a CRC: zdc_crc32c_update(zdc_crc32c(a, na), b, nb) == CRC32c of a then b.
 * Start with crc = 0. */
uint32_t zdc_crc32c_update(uint32_t crc, const void *p, size_t n);

/* The two implementations behind zdc_crc32c_update, for tests and benchmarks. The hardware
 * one must only be called when zdc_crc32c_have_hw() is true. */
uint32_t zdc_crc32c_update_sw(uint32_t crc, const void *p, size_t n);
uint32_t zdc_crc32c_update_hw(uint32_t crc, const void *p, size_t n);

/* True when the CPU has SSE4.2 and zdc_crc32c uses it. */
bool zdc_crc32c_have_hw(void);

/* Writes crc into 4 bytes in SCTP's wire order (least significant byte first). */
static inline void zdc_crc32c_store(uint8_t *d, uint32_t crc)
{
    d[0] = (uint8_t)crc;
    d[1] = (uint8_t)(crc >> 8);
    d[2] = (uint8_t)(crc >> 16);
    d[3] = (uint8_t)(crc >> 24);
}

/* Reads a checksum written by zdc_crc32c_store. */
static inline uint32_t zdc_crc32c_load(const uint8_t *s)
{
    return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}

#endif /* ZDC_CORE_CRC32C_H */
