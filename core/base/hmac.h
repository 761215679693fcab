/* HMAC (RFC 2104) and message digests over scattered input, on OpenSSL 3.
 *
 * Why not one-shot HMAC(): in OpenSSL 3.0 it fetches the algorithm on every call and costs
 * ~4x more than this construction over an EVP_MD fetched once (measured: ~940 ns vs ~240 ns
 * for a 100-byte STUN request). Scattered input lets a verifier hash a patched copy of a header
 * followed by the untouched rest of a packet without copying or modifying the packet. */
#ifndef ZDC_CORE_HMAC_H
#define ZDC_CORE_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"

typedef enum zdc_digest_alg { ZDC_DIGEST_SHA1, ZDC_DIGEST_SHA256, ZDC_DIGEST_MD5 } zdc_digest_alg;

#define ZDC_DIGEST_MAX 32

/* One piece of input. */
typedef struct zdc_chunk {
    const void *p;
    size_t n;
} zdc_chunk;

/* Size of the algorithm's output in bytes (20, 32, 16). */
size_t zdc_digest_size(zdc_digest_alg alg);

/* Digest of the concatenation of the n chunks into out (zdc_digest_size(alg) bytes).
 * Returns 0, ZDC_ERR_CRYPTO (algorithm unavailable, e.g. MD5 under FIPS) or
 * ZDC_ERR_INVALID_PARAMETER. */
int zdc_digest(zdc_digest_alg alg, const zdc_chunk *chunks, size_t n, uint8_t *out);

/* HMAC with key over the concatenation of the n chunks into out (zdc_digest_size(alg) bytes).
 * Returns 0, ZDC_ERR_CRYPTO or ZDC_ERR_INVALID_PARAMETER. */
int zdc_hmac(zdc_digest_alg alg, const uint8_t *key, size_t key_len, const zdc_chunk *chunks,
             size_t n, uint8_t *out);

#endif /* ZDC_CORE_HMAC_H */
