/* Tests for the scattered HMAC / digest helpers, against OpenSSL's one-shot HMAC() as an
 * oracle and published vectors. */
#include <criterion/criterion.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hmac.h"

static void oracle(zdc_digest_alg alg, const uint8_t *key, size_t key_len, const uint8_t *d,
                   size_t n, uint8_t *out)
{
    unsigned int len = 0;
    const EVP_MD *md = alg == ZDC_DIGEST_SHA1 ? EVP_sha1() : EVP_sha256();
    cr_assert_not_null(HMAC(md, key, (int)key_len, d, n, out, &len));
    cr_assert_eq(len, zdc_digest_size(alg));
}

Test(hmac, matches_openssl_for_every_key_length_and_split)
{
    uint8_t key[131], data[200];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + 5);
    const zdc_digest_alg algs[2] = {ZDC_DIGEST_SHA1, ZDC_DIGEST_SHA256};
    for (int a = 0; a < 2; a++) {
        for (size_t kl = 0; kl <= sizeof key; kl++) { /* crosses the 64-byte block size */
            size_t n = 20 + kl % 150;
            uint8_t want[32], got[32];
            oracle(algs[a], key, kl, data, n, want);
            size_t cut = kl % (n + 1);
            zdc_chunk chunks[3] = {{data, cut}, {NULL, 0}, {data + cut, n - cut}};
            cr_assert_eq(zdc_hmac(algs[a], key, kl, chunks, 3, got), 0);
            cr_assert_arr_eq(got, want, zdc_digest_size(algs[a]), "alg %d key %zu", a, kl);
        }
    }
}

Test(hmac, rfc4231_case6_sha256_key_longer_than_block)
{
    /* RFC 4231 §4.7: 131-byte key of 0xaa. */
    uint8_t key[131];
    memset(key, 0xaa, sizeof key);
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    const uint8_t want[32] = {0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26,
                              0xaa, 0xcb, 0xf5, 0xb7, 0x7f, 0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28,
                              0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f, 0x0e, 0xe3, 0x7f, 0x54};
    uint8_t got[32];
    zdc_chunk c = {msg, strlen(msg)};
    cr_assert_eq(zdc_hmac(ZDC_DIGEST_SHA256, key, sizeof key, &c, 1, got), 0);
    cr_assert_arr_eq(got, want, 32);
}

Test(hmac, rfc2202_case2_sha1)
{
    /* RFC 2202 §3 test case 2: key "Jefe", data "what do ya want for nothing?". */
    const uint8_t want[20] = {0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
                              0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79};
    uint8_t got[20];
    zdc_chunk c[2] = {{"what do ya want ", 16}, {"for nothing?", 12}};
    cr_assert_eq(zdc_hmac(ZDC_DIGEST_SHA1, (const uint8_t *)"Jefe", 4, c, 2, got), 0);
    cr_assert_arr_eq(got, want, 20);
}

Test(digest, md5_and_parameters)
{
    /* RFC 1321 §A.5: MD5("abc"). */
    const uint8_t want[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
                              0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72};
    uint8_t got[16];
    zdc_chunk c[2] = {{"a", 1}, {"bc", 2}};
    cr_assert_eq(zdc_digest(ZDC_DIGEST_MD5, c, 2, got), 0);
    cr_assert_arr_eq(got, want, 16);
    cr_assert_eq(zdc_hmac(ZDC_DIGEST_SHA1, NULL, 3, c, 2, got), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_digest(ZDC_DIGEST_MD5, NULL, 1, got), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_digest((zdc_digest_alg)7, c, 2, got), ZDC_ERR_CRYPTO);
}
