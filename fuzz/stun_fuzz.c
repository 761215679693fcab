/* Fuzz target for the STUN codec.
 *
 * Parses arbitrary input; whatever parses is rebuilt from the parsed fields (with
 * MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT re-added under a fixed key where
 * the input had them) and parsed again, and the two parses must agree (round-trip property).
 * The integrity checks run with a fixed key on the input (they must not crash) and must pass
 * on the rebuilt message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/stun.h"

static const uint8_t key[] = "fuzz-key";

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zdc_stun_msg m;
    bool is_msg = zdc_stun_is_message(data, size);
    int rv = zdc_stun_parse(data, size, &m);
    if (rv != 0 && rv != ZDC_ERR_UNKNOWN_ATTRIBUTE) {
        check(rv == ZDC_ERR_TRUNCATED || rv == ZDC_ERR_MALFORMED || rv == ZDC_ERR_FINGERPRINT);
        return 0;
    }
    check(is_msg);

    int irv = zdc_stun_check_integrity(data, size, &m, key, sizeof key - 1);
    check(m.integrity_offset ? (irv == 0 || irv == ZDC_ERR_INTEGRITY) : irv == ZDC_ERR_NOT_FOUND);
    irv = zdc_stun_check_integrity_sha256(data, size, &m, key, sizeof key - 1);
    check(m.integrity_sha256_offset ? (irv == 0 || irv == ZDC_ERR_INTEGRITY)
                                    : irv == ZDC_ERR_NOT_FOUND);

    static uint8_t out[ZDC_STUN_HEADER_SIZE + 65536];
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, out, sizeof out, m.method, m.cls, m.txid);
    zdc_stun_add_msg_attributes(&b, &m);
    if (m.integrity_offset)
        zdc_stun_add_integrity(&b, key, sizeof key - 1);
    if (m.integrity_sha256_offset)
        zdc_stun_add_integrity_sha256(&b, key, sizeof key - 1);
    if (m.has_fingerprint)
        zdc_stun_add_fingerprint(&b);
    int n = zdc_stun_build_end(&b);
    /* Every attribute is rebuilt once, at its smallest encoding, so the rebuilt message is no
     * longer than the input — except that a truncated MESSAGE-INTEGRITY-SHA256 is rebuilt at
     * its full 32 bytes, which may not fit the 16-bit length of a near-maximal input. */
    if (n == ZDC_ERR_TOO_LARGE && m.integrity_sha256_offset)
        return 0;
    check(n >= ZDC_STUN_HEADER_SIZE);
    check((size_t)n <= size + (m.integrity_sha256_offset ? 16 : 0));

    zdc_stun_msg m2;
    int rv2 = zdc_stun_parse(out, (size_t)n, &m2);
    check(rv2 == rv);
    check(zdc_stun_msg_equal(&m, &m2));
    check(!m2.integrity_offset == !m.integrity_offset);
    check(!m2.integrity_sha256_offset == !m.integrity_sha256_offset);
    check(m2.has_fingerprint == m.has_fingerprint);
    if (m2.integrity_offset)
        check(zdc_stun_check_integrity(out, (size_t)n, &m2, key, sizeof key - 1) == 0);
    if (m2.integrity_sha256_offset)
        check(zdc_stun_check_integrity_sha256(out, (size_t)n, &m2, key, sizeof key - 1) == 0);
    return 0;
}
