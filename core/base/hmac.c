#include "hmac.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "zdc/error.h"

#define BLOCK 64 /* SHA-1, SHA-256 and MD5 all have 64-byte blocks */

/* Fetched once for the process: an explicit fetch avoids OpenSSL 3's per-call implicit
 * lookup. Kept for the life of the process (reachable, so not a leak). */
static EVP_MD *mds[3];
static pthread_once_t mds_once = PTHREAD_ONCE_INIT;

static void mds_fetch(void)
{
    mds[ZDC_DIGEST_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
    mds[ZDC_DIGEST_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
    mds[ZDC_DIGEST_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
}

static const EVP_MD *md_get(zdc_digest_alg alg)
{
    if ((unsigned)alg > ZDC_DIGEST_MD5)
        return NULL;
    pthread_once(&mds_once, mds_fetch);
    return mds[alg];
}

size_t zdc_digest_size(zdc_digest_alg alg)
{
    switch (alg) {
    case ZDC_DIGEST_SHA1:
        return 20;
    case ZDC_DIGEST_SHA256:
        return 32;
    case ZDC_DIGEST_MD5:
        return 16;
    }
    return 0;
}

/* Hashes prefix (BLOCK bytes, may be NULL) then the chunks into out. */
static int digest_into(EVP_MD_CTX *c, const EVP_MD *md, const uint8_t *prefix,
                       const zdc_chunk *chunks, size_t n, uint8_t *out)
{
    if (!EVP_DigestInit_ex2(c, md, NULL))
        return ZDC_ERR_CRYPTO;
    if (prefix && !EVP_DigestUpdate(c, prefix, BLOCK))
        return ZDC_ERR_CRYPTO;
    for (size_t i = 0; i < n; i++)
        if (chunks[i].n && !EVP_DigestUpdate(c, chunks[i].p, chunks[i].n))
            return ZDC_ERR_CRYPTO;
    return EVP_DigestFinal_ex(c, out, NULL) ? 0 : ZDC_ERR_CRYPTO;
}

int zdc_digest(zdc_digest_alg alg, const zdc_chunk *chunks, size_t n, uint8_t *out)
{
    const EVP_MD *md = md_get(alg);
    if (!md)
        return ZDC_ERR_CRYPTO;
    if ((!chunks && n) || !out)
        return ZDC_ERR_INVALID_PARAMETER;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c)
        return ZDC_ERR_CRYPTO;
    int rv = digest_into(c, md, NULL, chunks, n, out);
    EVP_MD_CTX_free(c);
    return rv;
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || text)), K zero-padded to the block size (hashed
 * first when longer than a block). */
int zdc_hmac(zdc_digest_alg alg, const uint8_t *key, size_t key_len, const zdc_chunk *chunks,
             size_t n, uint8_t *out)
{
    const EVP_MD *md = md_get(alg);
    if (!md)
        return ZDC_ERR_CRYPTO;
    if ((!key && key_len) || (!chunks && n) || !out)
        return ZDC_ERR_INVALID_PARAMETER;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c)
        return ZDC_ERR_CRYPTO;

    uint8_t k[BLOCK] = {0}, pad[BLOCK], inner[ZDC_DIGEST_MAX];
    int rv = 0;
    if (key_len > BLOCK) {
        zdc_chunk kc = {key, key_len};
        rv = digest_into(c, md, NULL, &kc, 1, k);
    } else if (key_len) {
        memcpy(k, key, key_len);
    }
    if (rv == 0) {
        for (size_t i = 0; i < BLOCK; i++)
            pad[i] = k[i] ^ 0x36;
        rv = digest_into(c, md, pad, chunks, n, inner);
    }
    if (rv == 0) {
        for (size_t i = 0; i < BLOCK; i++)
            pad[i] = k[i] ^ 0x5c;
        zdc_chunk ic = {inner, zdc_digest_size(alg)};
        rv = digest_into(c, md, pad, &ic, 1, out);
    }
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    return rv;
}
