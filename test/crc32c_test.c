/* Tests for CRC32c (core/base/crc32c.c): RFC 3720 Appendix B.4 vectors, and the SSE4.2 and
 * table implementations compared with a bitwise reference on seeded random input. */
#include <criterion/criterion.h>

#include <stdlib.h>

#include "crc32c.h"

static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

/* RFC 3720 B.4 lists each CRC as the four bytes sent on the wire; SCTP stores them the same
 * way (RFC 9260 Appendix A), so the check is on zdc_crc32c_store's output. */
static void check_vector(const uint8_t *data, size_t n, const uint8_t want[4])
{
    uint8_t got[4];
    zdc_crc32c_store(got, zdc_crc32c(data, n));
    cr_assert_arr_eq(got, want, 4, "got %02x %02x %02x %02x", got[0], got[1], got[2], got[3]);
    zdc_crc32c_store(got, zdc_crc32c_update_sw(0, data, n));
    cr_assert_arr_eq(got, want, 4);
    if (zdc_crc32c_have_hw()) {
        zdc_crc32c_store(got, zdc_crc32c_update_hw(0, data, n));
        cr_assert_arr_eq(got, want, 4);
    }
}

Test(crc32c, rfc3720_b4_vectors)
{
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    check_vector(buf, 32, (const uint8_t[]){0xaa, 0x36, 0x91, 0x8a});
    memset(buf, 0xff, sizeof buf);
    check_vector(buf, 32, (const uint8_t[]){0x43, 0xab, 0xa8, 0x62});
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    check_vector(buf, 32, (const uint8_t[]){0x4e, 0x79, 0xdd, 0x46});
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    check_vector(buf, 32, (const uint8_t[]){0x5c, 0xdb, 0x3f, 0x11});
    /* An iSCSI SCSI Read (10) command PDU. */
    static const uint8_t pdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                    0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    check_vector(pdu, sizeof pdu, (const uint8_t[]){0x56, 0x3a, 0x96, 0xd9});
}

Test(crc32c, check_value_and_empty)
{
    cr_assert_eq(zdc_crc32c("123456789", 9), 0xE3069283u); /* CRC-32C/ISCSI check value */
    cr_assert_eq(zdc_crc32c("", 0), 0);
    cr_assert_eq(zdc_crc32c_update_sw(0, "123456789", 9), 0xE3069283u);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Every length 0..300 at every alignment 0..15, then seeded random buffers up to 9000 bytes,
 * split at random points to check _update continues a CRC. */
Test(crc32c, hw_and_table_match_bitwise_on_random_input)
{
    uint64_t seed = 0x5c7a11ce5eedULL;
    enum { MAX = 9000 + 16 };
    uint8_t *buf = malloc(MAX);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < MAX; i++)
        buf[i] = (uint8_t)rng_next(&seed);
    bool hw = zdc_crc32c_have_hw();
    if (!hw)
        cr_log_warn("no SSE4.2 on this CPU: only the table implementation is compared");
    for (size_t n = 0; n <= 300; n++) {
        for (size_t a = 0; a < 16; a++) {
            uint32_t want = crc32c_bitwise(buf + a, n);
            cr_assert_eq(zdc_crc32c_update_sw(0, buf + a, n), want, "sw n=%zu a=%zu", n, a);
            if (hw)
                cr_assert_eq(zdc_crc32c_update_hw(0, buf + a, n), want, "hw n=%zu a=%zu", n, a);
            cr_assert_eq(zdc_crc32c(buf + a, n), want);
        }
    }
    for (int round = 0; round < 200; round++) {
        size_t a = rng_next(&seed) % 16;
        size_t n = rng_next(&seed) % 9001;
        size_t cut = n ? rng_next(&seed) % n : 0;
        uint32_t want = crc32c_bitwise(buf + a, n);
        cr_assert_eq(zdc_crc32c_update_sw(0, buf + a, n), want);
        if (hw)
            cr_assert_eq(zdc_crc32c_update_hw(0, buf + a, n), want);
        cr_assert_eq(zdc_crc32c_update(zdc_crc32c(buf + a, cut), buf + a + cut, n - cut), want,
                     "n=%zu cut=%zu", n, cut);
    }
    free(buf);
}
