/* CRC-32 (ISO-HDLC / IEEE 802.3: reflected polynomial 0xEDB88320, initial value and final xor
 * 0xFFFFFFFF), as STUN FINGERPRINT needs it (RFC 8489 §14.7). Table-driven,
 * eight bytes per step ("slicing-by-8"); the tables are built once, thread-safely. */
#ifndef ZDC_CORE_CRC32_H
#define ZDC_CORE_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 of n bytes at p. zdc_crc32("123456789", 9) == 0xCBF43926. */
uint32_t zdc_crc32(const void *p, size_t n);

/* Continues a CRC: zdc_crc32_update(zdc_crc32(a, na), b, nb) == CRC-32 of a followed by b.
 * Start with crc = 0. */
uint32_t zdc_crc32_update(uint32_t crc, const void *p, size_t n);

#endif /* ZDC_CORE_CRC32_H */
