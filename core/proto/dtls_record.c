/* DTLS 1.2 record protection: see dtls_record.h for the layout, keys and nonces. */
#include "dtls_record.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "bytes.h"

#define DTLS12_VERSION 0xfefd
#define MAX_CIPHERTEXT (16384u + 2048u) /* RFC 6347 §4.1 / RFC 5246 §6.2.3 */
#define KEY_LABEL      "key expansion"
#define KEY_LABEL_LEN  13u

/* ---- suites and keys ------------------------------------------------------------------- */

int zdc_dtls_suite_aead(uint16_t suite, zdc_dtls_aead *aead)
{
    zdc_dtls_aead a;
    switch (suite) {
    case 0xC02B: /* ECDHE-ECDSA-AES128-GCM-SHA256 */
    case 0xC02F: /* ECDHE-RSA-AES128-GCM-SHA256 */
        a = ZDC_DTLS_AEAD_AES128_GCM;
        break;
    case 0xC02C: /* ECDHE-ECDSA-AES256-GCM-SHA384 */
    case 0xC030: /* ECDHE-RSA-AES256-GCM-SHA384 */
        a = ZDC_DTLS_AEAD_AES256_GCM;
        break;
    case 0xCCA8: /* ECDHE-RSA-CHACHA20-POLY1305 */
    case 0xCCA9: /* ECDHE-ECDSA-CHACHA20-POLY1305 */
        a = ZDC_DTLS_AEAD_CHACHA20_POLY1305;
        break;
    default:
        return ZDC_ERR_NOT_SUPPORTED;
    }
    if (aead != NULL)
        *aead = a;
    return 0;
}

static bool is_gcm(zdc_dtls_aead a)
{
    return a != ZDC_DTLS_AEAD_CHACHA20_POLY1305;
}

/* TLS1-PRF(secret, label || seed) into out: RFC 5246 §5, digest per suite. */
static int prf(const char *digest, const uint8_t *secret, size_t secret_len, const uint8_t *seed,
               size_t seed_len, uint8_t *out, size_t out_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[4];
    int rv = ZDC_ERR_CRYPTO;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    params[1] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed, seed_len);
    params[3] = OSSL_PARAM_construct_end();
    if (kctx != NULL && EVP_KDF_derive(kctx, out, out_len, params) == 1)
        rv = 0;
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    if (rv != 0)
        ERR_clear_error();
    return rv;
}

int zdc_dtls_keys_derive(zdc_dtls_keys *k, uint16_t suite, const uint8_t *master, size_t master_len,
                         const uint8_t client_random[32], const uint8_t server_random[32])
{
    uint8_t seed[KEY_LABEL_LEN + 64];
    uint8_t block[2 * 32 + 2 * 12];
    zdc_dtls_keys out = {.suite = suite};
    int rv;

    if (k == NULL || master == NULL || master_len != 48 || client_random == NULL ||
        server_random == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    rv = zdc_dtls_suite_aead(suite, &out.aead);
    if (rv != 0)
        return rv;
    out.key_len = out.aead == ZDC_DTLS_AEAD_AES128_GCM ? 16 : 32;
    out.iv_len = is_gcm(out.aead) ? 4 : 12; /* RFC 5288 §3 salt; RFC 7905 §2 IV */
    /* RFC 5246 §6.3: key_block = PRF(master_secret, "key expansion",
     *                                 server_random + client_random) */
    memcpy(seed, KEY_LABEL, KEY_LABEL_LEN);
    memcpy(seed + KEY_LABEL_LEN, server_random, 32);
    memcpy(seed + KEY_LABEL_LEN + 32, client_random, 32);
    size_t need = 2u * out.key_len + 2u * out.iv_len;
    rv = prf(out.aead == ZDC_DTLS_AEAD_AES256_GCM ? "SHA384" : "SHA256", master, master_len, seed,
             sizeof seed, block, need);
    if (rv != 0)
        return rv;
    /* client_write_key, server_write_key, client_write_IV, server_write_IV (no MAC keys with
     * an AEAD, RFC 5246 §6.2.3.3) */
    const uint8_t *b = block;
    memcpy(out.client_key, b, out.key_len);
    b += out.key_len;
    memcpy(out.server_key, b, out.key_len);
    b += out.key_len;
    memcpy(out.client_iv, b, out.iv_len);
    b += out.iv_len;
    memcpy(out.server_iv, b, out.iv_len);
    OPENSSL_cleanse(block, sizeof block);
    *k = out;
    OPENSSL_cleanse(&out, sizeof out);
    return 0;
}

void zdc_dtls_keys_wipe(zdc_dtls_keys *k)
{
    if (k != NULL)
        OPENSSL_cleanse(k, sizeof *k);
}

/* ---- cipher contexts ------------------------------------------------------------------- */

static const char *cipher_name(zdc_dtls_aead a)
{
    switch (a) {
    case ZDC_DTLS_AEAD_AES128_GCM:
        return "AES-128-GCM";
    case ZDC_DTLS_AEAD_AES256_GCM:
        return "AES-256-GCM";
    case ZDC_DTLS_AEAD_CHACHA20_POLY1305:
        return "ChaCha20-Poly1305";
    }
    return NULL;
}

/* A context keyed once; each record only sets its nonce (12 bytes for all three AEADs). */
static EVP_CIPHER_CTX *keyed_ctx(EVP_CIPHER *c, const uint8_t *key, int enc)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return NULL;
    if (EVP_CipherInit_ex(ctx, c, NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, enc) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int zdc_dtls_record_init(zdc_dtls_record *r, const zdc_dtls_keys *k, bool is_client, uint16_t epoch,
                         uint64_t write_seq, uint64_t read_floor)
{
    if (r == NULL || k == NULL || write_seq > ZDC_DTLS_REC_SEQ_MAX + 1 ||
        read_floor > ZDC_DTLS_REC_SEQ_MAX + 1 || cipher_name(k->aead) == NULL ||
        k->key_len != (k->aead == ZDC_DTLS_AEAD_AES128_GCM ? 16 : 32) ||
        k->iv_len != (is_gcm(k->aead) ? 4 : 12))
        return ZDC_ERR_INVALID_PARAMETER;
    memset(r, 0, sizeof *r);
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, cipher_name(k->aead), NULL);
    if (c == NULL) {
        ERR_clear_error();
        return ZDC_ERR_CRYPTO;
    }
    r->wctx = keyed_ctx(c, is_client ? k->client_key : k->server_key, 1);
    r->rctx = keyed_ctx(c, is_client ? k->server_key : k->client_key, 0);
    EVP_CIPHER_free(c); /* the contexts hold their own references */
    if (r->wctx == NULL || r->rctx == NULL) {
        zdc_dtls_record_clear(r);
        ERR_clear_error();
        return ZDC_ERR_CRYPTO;
    }
    r->aead = k->aead;
    r->epoch = epoch;
    memcpy(r->wiv, is_client ? k->client_iv : k->server_iv, k->iv_len);
    memcpy(r->riv, is_client ? k->server_iv : k->client_iv, k->iv_len);
    r->wseq = write_seq;
    if (read_floor > 0) { /* everything below the floor counts as seen */
        r->rtop = read_floor - 1;
        r->rwin = ~UINT64_C(0);
    }
    return 0;
}

void zdc_dtls_record_clear(zdc_dtls_record *r)
{
    if (r == NULL)
        return;
    EVP_CIPHER_CTX_free(r->wctx);
    EVP_CIPHER_CTX_free(r->rctx);
    OPENSSL_cleanse(r, sizeof *r);
}

int zdc_dtls_record_set_write_seq(zdc_dtls_record *r, uint64_t seq)
{
    if (r == NULL || seq > ZDC_DTLS_REC_SEQ_MAX + 1)
        return ZDC_ERR_INVALID_PARAMETER;
    r->wseq = seq;
    return 0;
}

static void window_mark(zdc_dtls_record *r, uint64_t seq);

int zdc_dtls_record_mark_seen(zdc_dtls_record *r, uint64_t seq)
{
    if (r == NULL || seq > ZDC_DTLS_REC_SEQ_MAX)
        return ZDC_ERR_INVALID_PARAMETER;
    window_mark(r, seq);
    return 0;
}

int zdc_dtls_record_set_explicit_nonce(zdc_dtls_record *r, uint64_t next)
{
    if (r == NULL || r->wctx == NULL || !is_gcm(r->aead))
        return ZDC_ERR_INVALID_PARAMETER;
    r->explicit_off = next - ((uint64_t)r->epoch << 48 | r->wseq); /* modulo 2^64 */
    return 0;
}

size_t zdc_dtls_record_head(const zdc_dtls_record *r)
{
    return ZDC_DTLS_REC_HDR + (is_gcm(r->aead) ? ZDC_DTLS_REC_EXPLICIT : 0);
}

uint64_t zdc_dtls_record_next_seq(const zdc_dtls_record *r)
{
    return r->wseq;
}

/* ---- nonce and AAD --------------------------------------------------------------------- */

static void store_u64(uint8_t *d, uint64_t v)
{
    zdc_store_u32(d, (uint32_t)(v >> 32));
    zdc_store_u32(d + 4, (uint32_t)v);
}

static uint64_t load_u48(const uint8_t *s)
{
    return (uint64_t)zdc_load_u16(s) << 32 | zdc_load_u32(s + 2);
}

/* GCM: salt(4) || explicit(8) (RFC 5288 §3). ChaCha20: IV XOR (0^32 || epoch || seq)
 * (RFC 7905 §2). `seq64` is epoch << 48 | seq, the DTLS 64-bit sequence. */
static void make_nonce(zdc_dtls_aead a, const uint8_t *iv, const uint8_t explicit_[8],
                       uint8_t nonce[12])
{
    if (a != ZDC_DTLS_AEAD_CHACHA20_POLY1305) {
        memcpy(nonce, iv, 4);
        memcpy(nonce + 4, explicit_, 8);
        return;
    }
    memcpy(nonce, iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] ^= explicit_[i];
}

/* RFC 5246 §6.2.3.3: additional_data = seq_num + type + version + length, where DTLS's
 * seq_num is epoch || sequence_number (RFC 6347 §4.1.2.1) and length the plaintext's. */
static void make_aad(uint8_t aad[13], const uint8_t seq64[8], uint8_t type, size_t plain_len)
{
    memcpy(aad, seq64, 8);
    aad[8] = type;
    zdc_store_u16(aad + 9, DTLS12_VERSION);
    zdc_store_u16(aad + 11, (uint16_t)plain_len);
}

/* ---- the bare AEAD ------------------------------------------------------------------- */

int zdc_dtls_record_aead_seal(zdc_dtls_record *r, const uint8_t nonce[12], const uint8_t *aad,
                              size_t aad_len, uint8_t *buf, size_t len, uint8_t tag[16])
{
    EVP_CIPHER_CTX *ctx = r != NULL ? r->wctx : NULL;
    int n;

    if (ctx == NULL || nonce == NULL || (aad == NULL && aad_len > 0) || (buf == NULL && len > 0) ||
        tag == NULL || len > INT32_MAX || aad_len > INT32_MAX)
        return ZDC_ERR_INVALID_PARAMETER;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
        (aad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        (len > 0 && EVP_EncryptUpdate(ctx, buf, &n, buf, (int)len) != 1) ||
        EVP_EncryptFinal_ex(ctx, buf + len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, ZDC_DTLS_REC_TAG, tag) != 1) {
        ERR_clear_error();
        return ZDC_ERR_CRYPTO;
    }
    return 0;
}

int zdc_dtls_record_aead_open(zdc_dtls_record *r, const uint8_t nonce[12], const uint8_t *aad,
                              size_t aad_len, uint8_t *buf, size_t len, const uint8_t tag[16])
{
    EVP_CIPHER_CTX *ctx = r != NULL ? r->rctx : NULL;
    uint8_t t[ZDC_DTLS_REC_TAG];
    int n;

    if (ctx == NULL || nonce == NULL || (aad == NULL && aad_len > 0) || (buf == NULL && len > 0) ||
        tag == NULL || len > INT32_MAX || aad_len > INT32_MAX)
        return ZDC_ERR_INVALID_PARAMETER;
    memcpy(t, tag, sizeof t); /* the tag may sit right after buf, where Final could write */
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
        (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        (len > 0 && EVP_DecryptUpdate(ctx, buf, &n, buf, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, sizeof t, t) != 1) {
        ERR_clear_error();
        OPENSSL_cleanse(buf, len);
        return ZDC_ERR_CRYPTO;
    }
    if (EVP_DecryptFinal_ex(ctx, buf + len, &n) != 1) {
        /* Never hand out (or leave behind) plaintext that did not authenticate. */
        ERR_clear_error();
        OPENSSL_cleanse(buf, len);
        return ZDC_ERR_INTEGRITY;
    }
    return 0;
}

/* ---- seal ------------------------------------------------------------------------------ */

int zdc_dtls_record_seal(zdc_dtls_record *r, uint8_t type, uint8_t *plain, size_t len,
                         uint8_t **rec, size_t *rec_len)
{
    uint8_t seq64[8], explicit_[8], nonce[12], aad[13];

    if (r == NULL || r->wctx == NULL || (plain == NULL) || rec == NULL || rec_len == NULL ||
        type < ZDC_DTLS_CT_ALERT || type > ZDC_DTLS_CT_APP_DATA)
        return ZDC_ERR_INVALID_PARAMETER;
    if (len > ZDC_DTLS_REC_MAX_PLAIN)
        return ZDC_ERR_TOO_LARGE;
    /* RFC 6347 §4.1: the sequence number MUST NOT wrap; never reuse a nonce. */
    if (r->wseq > ZDC_DTLS_REC_SEQ_MAX)
        return ZDC_ERR_CLOSED;
    size_t head = zdc_dtls_record_head(r);
    uint8_t *h = plain - head;
    uint64_t s64 = (uint64_t)r->epoch << 48 | r->wseq;
    store_u64(seq64, s64);
    store_u64(explicit_, is_gcm(r->aead) ? s64 + r->explicit_off : s64);
    make_nonce(r->aead, r->wiv, explicit_, nonce);
    make_aad(aad, seq64, type, len);

    int rv = zdc_dtls_record_aead_seal(r, nonce, aad, sizeof aad, plain, len, plain + len);
    if (rv != 0)
        return rv;
    /* header: type, version, epoch || seq, length of what follows it */
    h[0] = type;
    zdc_store_u16(h + 1, DTLS12_VERSION);
    memcpy(h + 3, seq64, 8);
    zdc_store_u16(h + 11, (uint16_t)(head - ZDC_DTLS_REC_HDR + len + ZDC_DTLS_REC_TAG));
    if (head > ZDC_DTLS_REC_HDR)
        memcpy(h + ZDC_DTLS_REC_HDR, explicit_, ZDC_DTLS_REC_EXPLICIT);
    r->wseq++;
    r->stats.sealed++;
    *rec = h;
    *rec_len = head + len + ZDC_DTLS_REC_TAG;
    return 0;
}

/* ---- open ------------------------------------------------------------------------------ */

/* RFC 6347 §4.1.2.6: a record is a replay if it lies left of the window or its bit is set. */
static bool replayed(const zdc_dtls_record *r, uint64_t seq)
{
    if (r->rwin == 0 || seq > r->rtop)
        return false;
    uint64_t back = r->rtop - seq;
    return back >= ZDC_DTLS_REC_WINDOW || (r->rwin >> back & 1) != 0;
}

/* Only after authentication ("the receive window is updated only if the MAC verification
 * succeeds", §4.1.2.6). */
static void window_mark(zdc_dtls_record *r, uint64_t seq)
{
    if (r->rwin == 0) {
        r->rtop = seq;
        r->rwin = 1;
    } else if (seq > r->rtop) {
        uint64_t shift = seq - r->rtop;
        r->rwin = shift >= 64 ? 1 : r->rwin << shift | 1;
        r->rtop = seq;
    } else {
        r->rwin |= UINT64_C(1) << (r->rtop - seq);
    }
}

static int drop(zdc_dtls_record *r, uint64_t *counter, int code)
{
    (*counter)++;
    return code;
}

int zdc_dtls_record_open(zdc_dtls_record *r, uint8_t *p, size_t len, size_t *consumed,
                         zdc_dtls_rec_view *out)
{
    uint8_t nonce[12], aad[13];

    if (r == NULL || r->rctx == NULL || (p == NULL && len > 0) || consumed == NULL || out == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    memset(out, 0, sizeof *out);
    *consumed = len;
    if (len < ZDC_DTLS_REC_HDR)
        return drop(r, &r->stats.malformed, ZDC_ERR_TRUNCATED);
    size_t body_len = zdc_load_u16(p + 11);
    out->type = p[0];
    out->epoch = zdc_load_u16(p + 3);
    out->seq = load_u48(p + 5);
    if (body_len > len - ZDC_DTLS_REC_HDR)
        return drop(r, &r->stats.malformed, ZDC_ERR_TRUNCATED);
    *consumed = ZDC_DTLS_REC_HDR + body_len;
    size_t explicit_len = is_gcm(r->aead) ? ZDC_DTLS_REC_EXPLICIT : 0;
    if (zdc_load_u16(p + 1) != DTLS12_VERSION || out->type < 20 || out->type > 23 ||
        body_len > MAX_CIPHERTEXT || body_len < explicit_len + ZDC_DTLS_REC_TAG)
        return drop(r, &r->stats.malformed, ZDC_ERR_MALFORMED);
    if (out->epoch != r->epoch)
        return drop(r, &r->stats.other_epoch, ZDC_ERR_INVALID_STATE);
    if (replayed(r, out->seq))
        return drop(r, &r->stats.replayed, ZDC_ERR_AGAIN);

    uint8_t *body = p + ZDC_DTLS_REC_HDR;
    uint8_t *ct = body + explicit_len;
    size_t ct_len = body_len - explicit_len - ZDC_DTLS_REC_TAG;
    if (ct_len > ZDC_DTLS_REC_MAX_PLAIN) /* RFC 5246 §6.2.1: record_overflow */
        return drop(r, &r->stats.malformed, ZDC_ERR_MALFORMED);
    make_nonce(r->aead, r->riv, explicit_len ? body : p + 3, nonce);
    make_aad(aad, p + 3, out->type, ct_len);
    int rv = zdc_dtls_record_aead_open(r, nonce, aad, sizeof aad, ct, ct_len, ct + ct_len);
    if (rv == ZDC_ERR_INTEGRITY) /* RFC 6347 §4.1.2.7: invalid records SHOULD be discarded */
        return drop(r, &r->stats.auth_failed, rv);
    if (rv != 0)
        return rv;
    window_mark(r, out->seq);
    r->stats.opened++;
    out->data = ct;
    out->len = ct_len;
    return 0;
}
