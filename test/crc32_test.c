/* Tests for the table-driven CRC-32 (STUN FINGERPRINT). */
#include <criterion/criterion.h>

#include "crc32.h"

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

Test(crc32, check_value_and_slicing_matches_bitwise)
{
    cr_assert_eq(zdc_crc32("123456789", 9), 0xCBF43926u); /* the CRC-32/ISO-HDLC check value */
    cr_assert_eq(zdc_crc32("", 0), 0);
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof buf; n++) {
        for (size_t start = 0; start < 8 && start < n + 1; start++) {
            size_t len = n - (start < n ? start : n);
            cr_assert_eq(zdc_crc32(buf + start, len), crc32_bitwise(buf + start, len),
                         "n=%zu start=%zu", len, start);
        }
        size_t half = n / 3;
        cr_assert_eq(zdc_crc32_update(zdc_crc32(buf, half), buf + half, n - half),
                     zdc_crc32(buf, n));
    }
}
