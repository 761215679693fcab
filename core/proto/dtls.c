/* DTLS stage over OpenSSL 3: see dtls.h for the profile and how time is handled.
 *
 * I/O goes through a custom BIO_METHOD with datagram semantics: a read hands OpenSSL the one
 * datagram being processed (then "retry"), each write is exactly one datagram passed straight
 * to the `send` callback. During the handshake OpenSSL puts its own buffering BIO in front and
 * packs several handshake records into one MTU-sized write, flushed at the end of a flight.
 *
 * Input policy for unauthenticated bytes (anyone who can spoof the 5-tuple can send them):
 *   - A datagram whose records do not frame exactly (RFC 6347 §4.1 header, length within the
 *     datagram), whose content type or version is unknown, or whose epoch-0 handshake
 *     fragments are inconsistent is dropped whole before OpenSSL sees it. RFC 6347 §4.1.2.7:
 *     invalid records SHOULD be silently discarded, without an alert.
 *   - Epoch-0 alerts are not passed to OpenSSL: a forged fatal alert would otherwise tear down
 *     a handshake in progress (or a live association, after which epoch 0 is stale anyway).
 *     They are counted and the last description kept for diagnostics. The cost: a genuine
 *     rejection by the peer (e.g. its fingerprint check failing) is learned only when our
 *     retransmissions run out (ZDC_ERR_TIMEOUT) or when ICE consent fails.
 *   - Records of epoch >= 1 are authenticated by the AEAD; OpenSSL silently discards those
 *     that fail to decrypt. But OpenSSL 3.0 fails the connection (internal_error) on one too
 *     short to hold the AEAD's nonce and tag, even one buffered during the handshake, so such
 *     records are dropped here (dtls_test.c: short_protected_records_*). Authenticated alerts
 *     are honoured.
 *   - Residual risk: a well-framed but semantically bogus epoch-0 handshake message that
 *     arrives where OpenSSL expects the next flight still fails the handshake (OpenSSL treats
 *     it as the peer's). Forging one requires guessing the message sequence and the 5-tuple.
 */
#include "dtls.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bytes.h"
#include "dtls_record.h"

#define CIPHERS                                                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                                 \
    "ECDHE-ECDSA-CHACHA20-POLY1305"
#define GROUPS "X25519:P-256"
/* RFC 5764 §4.1.1 use_srtp: the profiles browsers offer (RFC 7714 AEAD_AES_128_GCM first). */
#define SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
#define MAX_DATAGRAM  16384u
#define RECORD_HDR    13u
#define HS_HDR        12u
#define MAX_RECORD    (16384u + 2048u) /* RFC 6347 §4.1: DTLSCiphertext length limit */
#define CT_CCS        20
#define CT_ALERT      21
#define CT_HANDSHAKE  22
#define CT_APP_DATA   23
/* Epoch-1 sequence numbers below this, fed to OpenSSL before the hand-off, are remembered so
 * zdc treats them as replays afterwards (OpenSSL buffers at most 100 early records). */
#define FED_BITS 256u

struct zdc_dtls_cert {
    atomic_uint refs;
    EVP_PKEY *key;
    X509 *x509;
    SSL_CTX *ctx;
    BIO_METHOD *bio_method;
    uint8_t fp[ZDC_DTLS_SHA256_LEN];
    char fp_text[ZDC_DTLS_FP_TEXT_SIZE];
};

struct zdc_dtls {
    zdc_dtls_cert *cert;
    SSL *ssl;
    zdc_dtls_role role;
    zdc_dtls_state state;
    int err;
    bool fp_mismatch;
    zdc_dtls_fingerprint remote_fp;
    int (*send)(void *user, const uint8_t *p, size_t len);
    void (*on_data)(void *user, const uint8_t *p, size_t len);
    void *user;
    uint32_t rto_initial_us;
    uint8_t max_retransmits;
    uint8_t flight_retransmits; /* timer expiries for the flight in the air */
    uint64_t now;               /* now_ns of the call in progress */
    uint64_t deadline;          /* ZDC_DTLS_NO_TIMEOUT when no timer is armed */
    const uint8_t *in;          /* the datagram OpenSSL may read, once */
    size_t in_len;
    zdc_dtls_stats stats;
    const zdc_log_ctx *log;
    int alert_in; /* the last alert received, (level << 8) | description; -1 = none */
    /* The hand-off to zdc's record layer (docs/dtls-records.md). */
    bool zdc_records;       /* configured: hand off once connected */
    bool connected_once;    /* records_start() ran */
    bool rx_zdc, tx_zdc;    /* zdc opens / seals application records */
    zdc_dtls_record rec;    /* keyed when rx_zdc is set */
    bool ossl_wrote;        /* OpenSSL wrote a protected record ... */
    uint64_t ossl_wseq_max; /* ... the highest sequence number among them */
    uint64_t ossl_explicit; /* ... the first 8 body bytes of the last (GCM: explicit nonce) */
    uint64_t ossl_fed[FED_BITS / 64]; /* bit s: epoch-1 record s (< FED_BITS) fed to OpenSSL */
    const char *cipher_name;          /* kept for after the SSL object is freed */
    const char *version_name;
    const char *srtp_name;
    size_t max_payload;
};

/* ---- fingerprints ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    zdc_dtls_hash hash;
    uint8_t len;
} hashes[] = {
    {"sha-1", ZDC_DTLS_HASH_SHA1, 20},
    {"sha-256", ZDC_DTLS_HASH_SHA256, 32},
    {"sha-384", ZDC_DTLS_HASH_SHA384, 48},
    {"sha-512", ZDC_DTLS_HASH_SHA512, 64},
};

static const EVP_MD *hash_md(zdc_dtls_hash h)
{
    switch (h) {
    case ZDC_DTLS_HASH_SHA1:
        return EVP_sha1();
    case ZDC_DTLS_HASH_SHA256:
        return EVP_sha256();
    case ZDC_DTLS_HASH_SHA384:
        return EVP_sha384();
    case ZDC_DTLS_HASH_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

static int hash_len(zdc_dtls_hash h)
{
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (hashes[i].hash == h)
            return hashes[i].len;
    return -1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int zdc_dtls_fingerprint_parse(zdc_dtls_fingerprint *fp, const char *hash, size_t hash_len_,
                               const char *text, size_t text_len)
{
    size_t i;
    zdc_dtls_fingerprint out = {0};

    if (fp == NULL || hash == NULL || text == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (strlen(hashes[i].name) == hash_len_ &&
            strncasecmp(hashes[i].name, hash, hash_len_) == 0)
            break;
    if (i == sizeof hashes / sizeof hashes[0])
        return ZDC_ERR_NOT_SUPPORTED;
    out.hash = hashes[i].hash;
    out.len = hashes[i].len;
    /* RFC 8122 §5: fingerprint = 2UHEX *(":" 2UHEX) */
    if (text_len != (size_t)out.len * 3 - 1)
        return ZDC_ERR_MALFORMED;
    for (i = 0; i < out.len; i++) {
        const char *s = text + i * 3;
        int hi = hex_value(s[0]), lo = hex_value(s[1]);
        if (hi < 0 || lo < 0 || (i + 1 < out.len && s[2] != ':'))
            return ZDC_ERR_MALFORMED;
        out.bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    *fp = out;
    return 0;
}

static void format_fp(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[i * 3] = digits[b[i] >> 4];
        out[i * 3 + 1] = digits[b[i] & 15];
        out[i * 3 + 2] = i + 1 < n ? ':' : '\0';
    }
}

/* ---- the datagram BIO ------------------------------------------------------------------ */

static uint64_t load_u64(const uint8_t *s)
{
    return (uint64_t)zdc_load_u32(s) << 32 | zdc_load_u32(s + 4);
}

/* Notes the sequence numbers (and GCM explicit nonces) of every protected record OpenSSL
 * writes: zdc's writer continues above them, so no (key, nonce) pair is used twice. */
static void observe_written(zdc_dtls *d, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (len - off >= RECORD_HDR) {
        const uint8_t *h = p + off;
        size_t rlen = zdc_load_u16(h + 11);
        if (rlen > len - off - RECORD_HDR)
            return;
        if (zdc_load_u16(h + 3) != 0) {
            uint64_t seq = (uint64_t)zdc_load_u16(h + 5) << 32 | zdc_load_u32(h + 7);
            if (!d->ossl_wrote || seq > d->ossl_wseq_max)
                d->ossl_wseq_max = seq;
            if (rlen >= 8)
                d->ossl_explicit = load_u64(h + RECORD_HDR);
            d->ossl_wrote = true;
        }
        off += RECORD_HDR + rlen;
    }
}

static int bio_write(BIO *b, const char *buf, int len)
{
    zdc_dtls *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    observe_written(d, (const uint8_t *)buf, (size_t)len);
    d->stats.datagrams_out++;
    (void)d->send(d->user, (const uint8_t *)buf, (size_t)len);
    return len;
}

static int bio_read(BIO *b, char *buf, int size)
{
    zdc_dtls *d = BIO_get_data(b);
    size_t n = d->in_len;
    BIO_clear_retry_flags(b);
    d->in_len = 0;
    if (n == 0 || size <= 0 || n > (size_t)size) {
        if (n != 0)
            d->stats.datagrams_dropped++; /* larger than OpenSSL's record buffer */
        BIO_set_retry_read(b);
        return -1;
    }
    memcpy(buf, d->in, n);
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
        return 1;
    default:
        return 0; /* no MTU query, no overhead, nothing pending */
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method_new(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "zdc dtls");
    if (m == NULL)
        return NULL;
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ---- certificate and shared SSL_CTX ---------------------------------------------------- */

static int verify_cb(int preverify_ok, X509_STORE_CTX *xs);

static X509 *self_signed(EVP_PKEY *key)
{
    uint8_t serial[8];
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    X509_NAME *name;
    bool ok = false;

    if (x == NULL || RAND_bytes(serial, sizeof serial) != 1)
        goto out;
    serial[0] = (serial[0] & 0x7f) | 0x40; /* positive, 8 bytes (RFC 5280 §4.1.2.2) */
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    name = X509_get_subject_name(x);
    ok = bn != NULL && X509_set_version(x, X509_VERSION_3) &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
         X509_gmtime_adj(X509_getm_notBefore(x), -86400L) != NULL &&
         X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400L) != NULL &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"zdc", -1, -1,
                                    0) &&
         X509_set_issuer_name(x, name) && X509_set_pubkey(x, key) &&
         X509_sign(x, key, EVP_sha256()) > 0;
out:
    BN_free(bn);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static SSL_CTX *shared_ctx(EVP_PKEY *key, X509 *x)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    if (ctx == NULL)
        return NULL;
    /* DTLS 1.2 only: OpenSSL 3.0 has no DTLS 1.3, and pinning max also keeps a later library
     * from negotiating a version the rest of zdc was not tested with. */
    if (!SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, CIPHERS) || !SSL_CTX_set1_groups_list(ctx, GROUPS) ||
        SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* use_srtp (RFC 5764 §4.1.1), although no SRTP is keyed: every browser and most stacks
     * offer it on data-channel-only sessions too, and some (Pion) fail the connection when the
     * handshake ends with no profile chosen. As client we offer SRTP_PROFILES; as server we
     * select the first of ours the client offered (none offered: no extension, still fine).
     * Note the inverted return convention: 0 is success. */
    if (SSL_CTX_set_tlsext_use_srtp(ctx, SRTP_PROFILES) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* RFC 8827 §6.5: both sides present certificates; the fingerprint authenticates them. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    return ctx;
}

static void cert_free(zdc_dtls_cert *c)
{
    SSL_CTX_free(c->ctx);
    BIO_meth_free(c->bio_method);
    X509_free(c->x509);
    EVP_PKEY_free(c->key);
    free(c);
}

int zdc_dtls_cert_new(zdc_dtls_cert **out)
{
    zdc_dtls_cert *c;
    unsigned int n = 0;

    if (out == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    *out = NULL;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return ZDC_ERR_NOMEM;
    atomic_init(&c->refs, 1);
    c->key = EVP_EC_gen("P-256");
    if (c->key == NULL || (c->x509 = self_signed(c->key)) == NULL ||
        (c->ctx = shared_ctx(c->key, c->x509)) == NULL ||
        (c->bio_method = bio_method_new()) == NULL ||
        X509_digest(c->x509, EVP_sha256(), c->fp, &n) != 1 || n != sizeof c->fp) {
        cert_free(c);
        ERR_clear_error();
        return ZDC_ERR_CRYPTO;
    }
    format_fp(c->fp, sizeof c->fp, c->fp_text);
    *out = c;
    return 0;
}

void zdc_dtls_cert_ref(zdc_dtls_cert *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void zdc_dtls_cert_free(zdc_dtls_cert *c)
{
    if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
        cert_free(c);
}

const uint8_t *zdc_dtls_cert_fingerprint(const zdc_dtls_cert *c)
{
    return c->fp;
}

const char *zdc_dtls_cert_fingerprint_text(const zdc_dtls_cert *c)
{
    return c->fp_text;
}

int zdc_dtls_cert_digest(const zdc_dtls_cert *c, zdc_dtls_hash hash, zdc_dtls_fingerprint *out)
{
    const EVP_MD *md = hash_md(hash);
    zdc_dtls_fingerprint fp = {.hash = hash};
    unsigned int n = 0;

    if (c == NULL || out == NULL || md == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    if (X509_digest(c->x509, md, fp.bytes, &n) != 1 || (int)n != hash_len(hash)) {
        ERR_clear_error();
        return ZDC_ERR_CRYPTO;
    }
    fp.len = (uint8_t)n;
    *out = fp;
    return 0;
}

/* ---- verification ---------------------------------------------------------------------- */

static bool fp_matches(const zdc_dtls *d, X509 *x)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    const EVP_MD *alg = hash_md(d->remote_fp.hash);
    if (x == NULL || alg == NULL || X509_digest(x, alg, md, &n) != 1)
        return false;
    return n == d->remote_fp.len && CRYPTO_memcmp(md, d->remote_fp.bytes, n) == 0;
}

/* Self-signed (or otherwise untrusted) chains are fine: the only trust anchor is the SDP
 * fingerprint of the leaf (RFC 8122 §5, RFC 8827 §6.5). Checking it here, while the handshake
 * runs, aborts it with bad_certificate before either side can send application data. */
static int verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    zdc_dtls *d = ssl != NULL ? SSL_get_app_data(ssl) : NULL;

    if (d == NULL)
        return 0;
    if (X509_STORE_CTX_get_error_depth(xs) != 0)
        return 1;
    if (!fp_matches(d, X509_STORE_CTX_get_current_cert(xs))) {
        d->fp_mismatch = true;
        X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    return 1;
}

/* ---- timer ----------------------------------------------------------------------------- */

/* OpenSSL asks for a duration when it arms a fresh timer (prev_us == 0) and after each expiry
 * (prev_us = the last duration), right before it retransmits. */
static unsigned int timer_cb(SSL *ssl, unsigned int prev_us)
{
    zdc_dtls *d = SSL_get_app_data(ssl);
    unsigned int us;

    if (prev_us == 0) {
        us = d->rto_initial_us;
        d->flight_retransmits = 0;
    } else {
        /* RFC 6347 §4.2.4.1: double the timer at each retransmission, up to 60 s. */
        us = prev_us >= ZDC_DTLS_MAX_RTO_MS * 500u ? ZDC_DTLS_MAX_RTO_MS * 1000u : prev_us * 2;
        d->flight_retransmits++;
        d->stats.retransmits++;
    }
    d->deadline = d->now + (uint64_t)us * 1000u;
    return us;
}

/* After every OpenSSL call: a stopped timer (flight acknowledged by the next one) clears the
 * deadline; a (re)armed one has already set it through timer_cb. */
static void sync_timer(zdc_dtls *d)
{
    struct timeval tv;
    if (d->ssl == NULL || d->state != ZDC_DTLS_CONNECTING || !DTLSv1_get_timeout(d->ssl, &tv))
        d->deadline = ZDC_DTLS_NO_TIMEOUT;
}

/* ---- endpoint -------------------------------------------------------------------------- */

static void info_cb(const SSL *ssl, int where, int ret);

void zdc_dtls_config_default(zdc_dtls_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    const char *rec = getenv("ZDC_DTLS_RECORDS");
    if (rec != NULL && strcmp(rec, "zdc") == 0)
        cfg->records = ZDC_DTLS_RECORDS_ZDC;
    else if (rec != NULL && strcmp(rec, "openssl") == 0)
        cfg->records = ZDC_DTLS_RECORDS_OPENSSL;
}

int zdc_dtls_new(const zdc_dtls_config *cfg, zdc_dtls **out)
{
    zdc_dtls *d;
    BIO *bio;
    uint16_t mtu;
    uint32_t rto;

    if (out == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    *out = NULL;
    if (cfg == NULL || cfg->cert == NULL || cfg->send == NULL || cfg->on_data == NULL ||
        (cfg->role != ZDC_DTLS_CLIENT && cfg->role != ZDC_DTLS_SERVER))
        return ZDC_ERR_INVALID_PARAMETER;
    if (hash_md(cfg->remote_fp.hash) == NULL)
        return ZDC_ERR_NOT_SUPPORTED;
    if (hash_len(cfg->remote_fp.hash) != cfg->remote_fp.len)
        return ZDC_ERR_INVALID_PARAMETER;
    mtu = cfg->mtu != 0 ? cfg->mtu : ZDC_DTLS_DEFAULT_MTU;
    if (mtu < 256 || mtu > MAX_DATAGRAM)
        return ZDC_ERR_INVALID_PARAMETER;
    rto = cfg->rto_initial_ms != 0 ? cfg->rto_initial_ms : ZDC_DTLS_DEFAULT_RTO_MS;
    rto = rto < ZDC_DTLS_MIN_RTO_MS ? ZDC_DTLS_MIN_RTO_MS : rto;
    rto = rto > ZDC_DTLS_MAX_RTO_MS ? ZDC_DTLS_MAX_RTO_MS : rto;

    d = calloc(1, sizeof *d);
    if (d == NULL)
        return ZDC_ERR_NOMEM;
    d->role = cfg->role;
    d->remote_fp = cfg->remote_fp;
    d->send = cfg->send;
    d->on_data = cfg->on_data;
    d->user = cfg->user;
    d->rto_initial_us = rto * 1000u;
    d->max_retransmits = cfg->max_retransmits ? cfg->max_retransmits : ZDC_DTLS_DEFAULT_RETRIES;
    d->deadline = ZDC_DTLS_NO_TIMEOUT;
    d->log = cfg->log;
    d->alert_in = -1;
    d->zdc_records = cfg->records != ZDC_DTLS_RECORDS_OPENSSL;
    d->ssl = SSL_new(cfg->cert->ctx);
    bio = d->ssl != NULL ? BIO_new(cfg->cert->bio_method) : NULL;
    if (bio == NULL) {
        SSL_free(d->ssl);
        free(d);
        ERR_clear_error();
        return ZDC_ERR_NOMEM;
    }
    BIO_set_data(bio, d);
    SSL_set_bio(d->ssl, bio, bio); /* one reference, owned by the SSL */
    SSL_set_app_data(d->ssl, d);
    if (cfg->cipher_list != NULL && SSL_set_cipher_list(d->ssl, cfg->cipher_list) != 1) {
        SSL_free(d->ssl);
        free(d);
        ERR_clear_error();
        return ZDC_ERR_INVALID_PARAMETER;
    }
    SSL_set_mtu(d->ssl, mtu);
    DTLS_set_timer_cb(d->ssl, timer_cb);
    SSL_set_info_callback(d->ssl, info_cb);
    if (d->role == ZDC_DTLS_CLIENT)
        SSL_set_connect_state(d->ssl);
    else
        SSL_set_accept_state(d->ssl);
    zdc_dtls_cert_ref(cfg->cert);
    d->cert = cfg->cert;
    *out = d;
    return 0;
}

void zdc_dtls_free(zdc_dtls *d)
{
    if (d == NULL)
        return;
    SSL_free(d->ssl);
    zdc_dtls_record_clear(&d->rec);
    zdc_dtls_cert_free(d->cert);
    free(d);
}

/* Logs why the endpoint fails, while OpenSSL's error queue still says it. */
static void log_failure(const zdc_dtls *d, int code)
{
    if (!zdc_log_enabled(d->log, ZDC_LOG_ERROR, ZDC_LOG_DTLS))
        return;
    const char *phase = d->state == ZDC_DTLS_CONNECTED ? "connection" : "handshake";
    if (code == ZDC_ERR_FINGERPRINT) {
        zdc_log_emit(d->log, ZDC_LOG_ERROR, ZDC_LOG_DTLS,
                     "DTLS %s failed: fingerprint mismatch (the remote certificate does not "
                     "match the a=fingerprint of its description)",
                     phase);
    } else if (d->alert_in >= 0 && (d->alert_in >> 8) == SSL3_AL_FATAL) {
        zdc_log_emit(d->log, ZDC_LOG_ERROR, ZDC_LOG_DTLS,
                     "DTLS %s failed: fatal alert received: %s (%d)", phase,
                     SSL_alert_desc_string_long(d->alert_in), d->alert_in & 0xff);
    } else if (code == ZDC_ERR_TIMEOUT) {
        zdc_log_emit(d->log, ZDC_LOG_ERROR, ZDC_LOG_DTLS,
                     "DTLS %s failed: no answer after %u retransmissions of a flight", phase,
                     (unsigned)d->flight_retransmits);
    } else {
        char why[160] = "no OpenSSL error";
        unsigned long e = ERR_peek_error();
        if (e != 0)
            ERR_error_string_n(e, why, sizeof why);
        zdc_log_emit(d->log, ZDC_LOG_ERROR, ZDC_LOG_DTLS, "DTLS %s failed (%s): %s", phase,
                     zdc_strerror(code), why);
    }
}

/* OpenSSL's info callback: alerts in and out. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    zdc_dtls *d = SSL_get_app_data(ssl);
    if (d == NULL || !(where & SSL_CB_ALERT))
        return;
    bool fatal = (ret >> 8) == SSL3_AL_FATAL;
    if (where & SSL_CB_READ) {
        d->alert_in = ret;
        int level = fatal ? ZDC_LOG_WARN : ZDC_LOG_INFO;
        ZDC_LOG(d->log, level, ZDC_LOG_DTLS, "DTLS alert received: %s %s (%d)",
                fatal ? "fatal" : "warning", SSL_alert_desc_string_long(ret), ret & 0xff);
    } else {
        ZDC_LOG(d->log, fatal ? ZDC_LOG_WARN : ZDC_LOG_DEBUG, ZDC_LOG_DTLS,
                "DTLS alert sent: %s %s (%d)", fatal ? "fatal" : "warning",
                SSL_alert_desc_string_long(ret), ret & 0xff);
    }
}

static int fail(zdc_dtls *d, int code)
{
    log_failure(d, code);
    d->state = ZDC_DTLS_FAILED;
    d->err = code;
    d->deadline = ZDC_DTLS_NO_TIMEOUT;
    ERR_clear_error();
    return code;
}

/* Why OpenSSL gave up, from our own flags and its error queue. */
static int failure_code(const zdc_dtls *d)
{
    unsigned long e = ERR_peek_error();
    if (d->fp_mismatch)
        return ZDC_ERR_FINGERPRINT;
    if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
        return ZDC_ERR_NOMEM;
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_READ_TIMEOUT_EXPIRED)
        return ZDC_ERR_TIMEOUT;
    if (ERR_GET_LIB(e) == ERR_LIB_SSL || e == 0)
        return ZDC_ERR_PROTOCOL;
    return ZDC_ERR_CRYPTO;
}

/* The remote leaf certificate again, after the handshake: the verify callback already
 * checked it, this guards against any path where OpenSSL did not call it for depth 0. */
static bool peer_ok(zdc_dtls *d)
{
    if (fp_matches(d, SSL_get0_peer_certificate(d->ssl)))
        return true;
    d->fp_mismatch = true;
    return false;
}

static int read_app_data(zdc_dtls *d)
{
    uint8_t buf[MAX_DATAGRAM];
    size_t n;

    while (d->state == ZDC_DTLS_CONNECTED) {
        ERR_clear_error();
        if (SSL_read_ex(d->ssl, buf, sizeof buf, &n) == 1) {
            d->on_data(d->user, buf, n);
            continue;
        }
        switch (SSL_get_error(d->ssl, 0)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return 0;
        case SSL_ERROR_ZERO_RETURN:
            /* RFC 5246 §7.2.1: answer close_notify with our own. */
            SSL_shutdown(d->ssl);
            d->state = ZDC_DTLS_CLOSED;
            ERR_clear_error();
            return 0;
        default:
            return fail(d, failure_code(d));
        }
    }
    return 0;
}

/* ---- the hand-off to zdc's record layer (docs/dtls-records.md) ------------------------- */

/* zdc starts writing: above every sequence number OpenSSL wrote in epoch 1 and, for GCM,
 * continuing OpenSSL's explicit-nonce counter; OpenSSL never writes again (its SSL object,
 * buffers and keys are freed here), so no (key, nonce) pair can repeat. */
static void records_take_writes(zdc_dtls *d)
{
    uint64_t seq = d->ossl_wrote ? d->ossl_wseq_max + 1 : 0;
    (void)zdc_dtls_record_set_write_seq(&d->rec, seq);
    if (d->ossl_wrote && d->rec.aead != ZDC_DTLS_AEAD_CHACHA20_POLY1305)
        (void)zdc_dtls_record_set_explicit_nonce(&d->rec, d->ossl_explicit + 1);
    d->tx_zdc = true;
    SSL_free(d->ssl);
    d->ssl = NULL;
    ZDC_LOG(d->log, ZDC_LOG_DEBUG, ZDC_LOG_DTLS, "DTLS records: zdc writes from sequence %llu",
            (unsigned long long)seq);
}

/* Once connected: derive the keys from the session and let zdc open application records.
 * The client also takes over writing at once (the server's Finished proved the handshake
 * complete on both sides); the server does when the client's first application record
 * arrives (the client only sends one after it has the server's Finished), and until then
 * OpenSSL answers a retransmitted client flight and writes what the application sends. */
static void records_start(zdc_dtls *d)
{
    uint8_t ms[48], cr[32], sr[32];
    zdc_dtls_keys k;
    const SSL_CIPHER *c = SSL_get_current_cipher(d->ssl);
    uint16_t suite = c != NULL ? (uint16_t)(SSL_CIPHER_get_id(c) & 0xffff) : 0;

    d->cipher_name = c != NULL ? SSL_CIPHER_get_name(c) : NULL;
    d->version_name = SSL_get_version(d->ssl);
    const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(d->ssl);
    d->srtp_name = sp != NULL ? sp->name : NULL;
    d->max_payload = DTLS_get_data_mtu(d->ssl);
    if (!d->zdc_records)
        return;
    int rv = ZDC_ERR_CRYPTO;
    if (SSL_SESSION_get_master_key(SSL_get_session(d->ssl), ms, sizeof ms) == sizeof ms &&
        SSL_get_client_random(d->ssl, cr, sizeof cr) == sizeof cr &&
        SSL_get_server_random(d->ssl, sr, sizeof sr) == sizeof sr)
        rv = zdc_dtls_keys_derive(&k, suite, ms, sizeof ms, cr, sr);
    OPENSSL_cleanse(ms, sizeof ms);
    if (rv == 0) {
        /* The write side stays closed (sequence space "exhausted") until records_take_writes */
        rv = zdc_dtls_record_init(&d->rec, &k, d->role == ZDC_DTLS_CLIENT, 1,
                                  ZDC_DTLS_REC_SEQ_MAX + 1, 0);
        zdc_dtls_keys_wipe(&k);
    }
    if (rv != 0) { /* an unexpected suite or a crypto failure: OpenSSL keeps the records */
        ERR_clear_error();
        ZDC_LOG(d->log, ZDC_LOG_WARN, ZDC_LOG_DTLS,
                "DTLS records: staying with OpenSSL's record layer (suite 0x%04x): %s",
                (unsigned)suite, zdc_strerror(rv));
        d->zdc_records = false;
        return;
    }
    /* What OpenSSL already processed is a replay for zdc. Only small sequence numbers are
     * plausible this early and only those are remembered: a forged large one must not move
     * zdc's window (a forged small one costs at most the genuine record of that number). */
    for (unsigned s = 0; s < FED_BITS; s++)
        if (d->ossl_fed[s / 64] >> (s % 64) & 1)
            (void)zdc_dtls_record_mark_seen(&d->rec, s);
    d->rx_zdc = true;
    if (d->role == ZDC_DTLS_CLIENT)
        records_take_writes(d);
}

/* Seals one record of `type` and sends it as one datagram. */
static int records_send(zdc_dtls *d, uint8_t type, const uint8_t *p, size_t len)
{
    uint8_t buf[ZDC_DTLS_REC_HEAD_ROOM + MAX_DATAGRAM + ZDC_DTLS_REC_TAG];
    uint8_t *rec;
    size_t rec_len;
    if (len > MAX_DATAGRAM)
        return ZDC_ERR_TOO_LARGE;
    if (len > 0)
        memcpy(buf + ZDC_DTLS_REC_HEAD_ROOM, p, len);
    int rv = zdc_dtls_record_seal(&d->rec, type, buf + ZDC_DTLS_REC_HEAD_ROOM, len, &rec, &rec_len);
    if (rv != 0)
        return rv;
    d->stats.datagrams_out++;
    (void)d->send(d->user, rec, rec_len);
    return 0;
}

static int fail(zdc_dtls *d, int code);

/* RFC 5246 §7.2: an authenticated alert opened by zdc. */
static void records_alert(zdc_dtls *d, const uint8_t *p, size_t len)
{
    static const uint8_t close_notify[2] = {SSL3_AL_WARNING, SSL_AD_CLOSE_NOTIFY};
    if (len != 2)
        return;
    d->alert_in = p[0] << 8 | p[1];
    bool fatal = p[0] == SSL3_AL_FATAL;
    ZDC_LOG(d->log, fatal ? ZDC_LOG_WARN : ZDC_LOG_INFO, ZDC_LOG_DTLS,
            "DTLS alert received: %s %s (%d)", fatal ? "fatal" : "warning",
            SSL_alert_desc_string_long(d->alert_in), p[1]);
    if (fatal) {
        (void)fail(d, ZDC_ERR_PROTOCOL);
    } else if (p[1] == SSL_AD_CLOSE_NOTIFY) {
        /* RFC 5246 §7.2.1: answer close_notify with our own. */
        if (d->tx_zdc)
            (void)records_send(d, CT_ALERT, close_notify, sizeof close_notify);
        else
            SSL_shutdown(d->ssl);
        ERR_clear_error();
        d->state = ZDC_DTLS_CLOSED;
    }
}

static int drive(zdc_dtls *d);

/* A datagram once zdc opens the records (framing already checked by filter_datagram):
 * application data and alerts of epoch 1 are opened here; handshake records go to OpenSSL
 * while it still writes (the server answering a retransmitted client flight), else nowhere. */
static int records_datagram(zdc_dtls *d, const uint8_t *p, size_t len)
{
    uint8_t buf[MAX_DATAGRAM];
    size_t off, n = 0;
    bool for_ossl = false;

    for (off = 0; off < len && d->state == ZDC_DTLS_CONNECTED;) {
        const uint8_t *h = p + off;
        size_t rl = RECORD_HDR + zdc_load_u16(h + 11), used;
        uint16_t epoch = zdc_load_u16(h + 3);
        zdc_dtls_rec_view v;
        off += rl;
        if (epoch == 0 || h[0] == CT_HANDSHAKE || h[0] == CT_CCS) {
            for_ossl = for_ossl || !(epoch == 0 && h[0] == CT_ALERT);
            continue;
        }
        memcpy(buf, h, rl);
        if (zdc_dtls_record_open(&d->rec, buf, rl, &used, &v) != 0)
            continue; /* counted: RFC 6347 §4.1.2.7, discarded silently */
        if (v.type == CT_APP_DATA) {
            if (!d->tx_zdc)
                records_take_writes(d);
            if (v.len > 0)
                d->on_data(d->user, v.data, v.len);
        } else if (v.type == CT_ALERT) {
            records_alert(d, v.data, v.len);
        }
    }
    if (for_ossl && d->ssl != NULL && d->state == ZDC_DTLS_CONNECTED) {
        for (off = 0; off < len;) {
            const uint8_t *h = p + off;
            size_t rl = RECORD_HDR + zdc_load_u16(h + 11);
            uint16_t epoch = zdc_load_u16(h + 3);
            if ((epoch == 0 && h[0] != CT_ALERT) || (epoch != 0 && h[0] == CT_HANDSHAKE)) {
                memcpy(buf + n, h, rl);
                n += rl;
            }
            off += rl;
        }
        d->in = buf;
        d->in_len = n;
        return drive(d);
    }
    return d->state == ZDC_DTLS_FAILED ? d->err : 0;
}

/* Runs OpenSSL on whatever input is pending (d->in) and keeps state and timer in step. */
static int drive(zdc_dtls *d)
{
    int rv = 0;

    if (d->state == ZDC_DTLS_CONNECTING) {
        int r;
        ERR_clear_error();
        r = SSL_do_handshake(d->ssl);
        if (r == 1) {
            if (!peer_ok(d)) {
                rv = fail(d, ZDC_ERR_FINGERPRINT);
            } else {
                d->state = ZDC_DTLS_CONNECTED;
                ZDC_LOG_I(d->log, ZDC_LOG_DTLS,
                          "DTLS connected as %s: %s, %s, use_srtp %s, records %s",
                          d->role == ZDC_DTLS_CLIENT ? "client" : "server", SSL_get_version(d->ssl),
                          SSL_CIPHER_get_name(SSL_get_current_cipher(d->ssl)),
                          zdc_dtls_srtp_profile(d) ? zdc_dtls_srtp_profile(d) : "none",
                          d->zdc_records ? "zdc" : "openssl");
            }
        } else {
            int e = SSL_get_error(d->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                rv = fail(d, failure_code(d));
        }
    }
    if (rv == 0)
        rv = read_app_data(d);
    sync_timer(d);
    d->in_len = 0;
    if (rv == 0 && d->state == ZDC_DTLS_CONNECTED && !d->connected_once) {
        d->connected_once = true;
        records_start(d);
    }
    return rv;
}

int zdc_dtls_start(zdc_dtls *d, uint64_t now_ns)
{
    if (d == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    if (d->state != ZDC_DTLS_NEW)
        return ZDC_ERR_INVALID_STATE;
    d->now = now_ns;
    d->state = ZDC_DTLS_CONNECTING;
    if (d->role == ZDC_DTLS_SERVER)
        return 0;
    return drive(d);
}

static int rd_u24(zdc_rd *r, uint32_t *v)
{
    const uint8_t *s;
    int rv = zdc_rd_view(r, 3, &s);
    if (rv == 0)
        *v = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
    return rv;
}

/* Walks the epoch-0 handshake fragments of one record (RFC 6347 §4.2.2):
 *   msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3) body */
static bool handshake_framing_ok(const uint8_t *p, size_t len)
{
    zdc_rd r;

    zdc_rd_init(&r, p, len);
    if (len == 0)
        return false;
    while (zdc_rd_left(&r) > 0) {
        uint8_t type;
        uint16_t seq;
        uint32_t msg_len, off, frag_len;
        if (zdc_rd_u8(&r, &type) || rd_u24(&r, &msg_len) || zdc_rd_u16(&r, &seq) ||
            rd_u24(&r, &off) || rd_u24(&r, &frag_len))
            return false;
        /* hello_request(0) .. client_key_exchange(16), minus the unassigned 4..10; finished
         * (20) only ever travels encrypted. */
        if (type > 16 || (type >= 4 && type <= 10))
            return false;
        if (off > msg_len || frag_len > msg_len - off || zdc_rd_skip(&r, frag_len))
            return false;
    }
    return true;
}

/* Smallest valid protected record: AES-GCM carries an 8-byte explicit nonce and a 16-byte
 * tag (RFC 5288 §3), ChaCha20-Poly1305 only the tag (RFC 7905 §2). Before a cipher is chosen
 * no protected record can be genuine; the larger bound applies. */
static size_t min_protected_len(const zdc_dtls *d)
{
    if (d->ssl == NULL)
        return d->rec.aead == ZDC_DTLS_AEAD_CHACHA20_POLY1305 ? 16 : 8 + 16;
    const SSL_CIPHER *c = SSL_get_current_cipher(d->ssl);
    if (c == NULL)
        c = SSL_get_pending_cipher(d->ssl);
    if (c != NULL && SSL_CIPHER_get_cipher_nid(c) == NID_chacha20_poly1305)
        return 16;
    return 8 + 16;
}

/* Checks the record framing of a datagram (RFC 6347 §4.1). Returns how many of its bytes to
 * feed OpenSSL — all but its epoch-0 alerts, copied to `out` when `out` is not NULL — or a
 * negative error if the datagram must be dropped whole. */
static long filter_datagram(zdc_dtls *d, const uint8_t *p, size_t len, uint8_t *out)
{
    zdc_rd r;
    size_t n = 0;

    zdc_rd_init(&r, p, len);
    while (zdc_rd_left(&r) > 0) {
        const uint8_t *rec = zdc_rd_cur(&r);
        uint8_t type, vmaj, vmin;
        uint16_t epoch, rlen;
        if (zdc_rd_u8(&r, &type) || zdc_rd_u8(&r, &vmaj) || zdc_rd_u8(&r, &vmin) ||
            zdc_rd_u16(&r, &epoch) || zdc_rd_skip(&r, 6) || zdc_rd_u16(&r, &rlen))
            return ZDC_ERR_TRUNCATED;
        const uint8_t *body = zdc_rd_cur(&r);
        if (zdc_rd_skip(&r, rlen))
            return ZDC_ERR_TRUNCATED;
        /* DTLS 1.0 (0xfeff, allowed in ClientHello records) or 1.2 (0xfefd) */
        if (type < CT_CCS || type > CT_APP_DATA || vmaj != 0xfe || (vmin != 0xff && vmin != 0xfd))
            return ZDC_ERR_MALFORMED;
        if (rlen > MAX_RECORD)
            return ZDC_ERR_MALFORMED;
        /* A protected record shorter than its AEAD's nonce + tag cannot be genuine, and
         * OpenSSL 3.0 answers one with a fatal internal_error instead of discarding it. */
        if (epoch != 0 && rlen < min_protected_len(d))
            return ZDC_ERR_MALFORMED;
        if (epoch == 1 && out == NULL && rec[5] == 0 && rec[6] == 0 &&
            zdc_load_u32(rec + 7) < FED_BITS) {
            uint32_t s = zdc_load_u32(rec + 7);
            d->ossl_fed[s / 64] |= UINT64_C(1) << (s % 64);
        }
        if (epoch == 0) {
            if (type == CT_ALERT) {
                /* Unauthenticated: note it, do not act on it (see the policy above). */
                if (out == NULL) {
                    d->stats.alerts_ignored++;
                    if (rlen == 2)
                        d->stats.last_ignored_alert = body[1];
                }
                continue;
            }
            if (type == CT_APP_DATA) /* never sent unprotected */
                return ZDC_ERR_MALFORMED;
            if (type == CT_CCS && (rlen != 1 || body[0] != 1)) /* RFC 5246 §7.1 */
                return ZDC_ERR_MALFORMED;
            if (type == CT_HANDSHAKE && !handshake_framing_ok(body, rlen))
                return ZDC_ERR_MALFORMED;
        }
        if (out != NULL)
            memcpy(out + n, rec, RECORD_HDR + (size_t)rlen);
        n += RECORD_HDR + (size_t)rlen;
    }
    return (long)n;
}

int zdc_dtls_handle_datagram(zdc_dtls *d, const uint8_t *p, size_t len, uint64_t now_ns)
{
    uint8_t buf[MAX_DATAGRAM];
    long n;

    if (d == NULL || (p == NULL && len > 0))
        return ZDC_ERR_INVALID_PARAMETER;
    d->stats.datagrams_in++;
    if (d->state == ZDC_DTLS_FAILED || d->state == ZDC_DTLS_CLOSED) {
        d->stats.datagrams_dropped++;
        return ZDC_ERR_CLOSED;
    }
    d->now = now_ns;
    if (d->state == ZDC_DTLS_NEW) {
        if (d->role == ZDC_DTLS_CLIENT) { /* nothing can be expected before our ClientHello */
            d->stats.datagrams_dropped++;
            return 0;
        }
        d->state = ZDC_DTLS_CONNECTING;
    }
    n = len <= MAX_DATAGRAM ? filter_datagram(d, p, len, NULL) : ZDC_ERR_TOO_LARGE;
    if (n < 0 || len == 0) {
        d->stats.datagrams_dropped++;
        return 0;
    }
    if (n == 0)
        return 0; /* only ignored alerts */
    if (d->rx_zdc)
        return records_datagram(d, p, len);
    d->in = p;
    if ((size_t)n < len) { /* strip the alerts: rare, so only then copy */
        n = filter_datagram(d, p, len, buf);
        d->in = buf;
    }
    d->in_len = (size_t)n;
    return drive(d);
}

int zdc_dtls_send(zdc_dtls *d, const uint8_t *p, size_t len)
{
    size_t written;

    if (d == NULL || (p == NULL && len > 0))
        return ZDC_ERR_INVALID_PARAMETER;
    if (d->state == ZDC_DTLS_FAILED || d->state == ZDC_DTLS_CLOSED)
        return ZDC_ERR_CLOSED;
    if (d->state != ZDC_DTLS_CONNECTED)
        return ZDC_ERR_INVALID_STATE;
    if (len == 0)
        return 0;
    if (len > zdc_dtls_max_payload(d))
        return ZDC_ERR_TOO_LARGE;
    if (d->tx_zdc)
        return records_send(d, CT_APP_DATA, p, len) == 0 ? 0 : ZDC_ERR_CRYPTO;
    ERR_clear_error();
    if (SSL_write_ex(d->ssl, p, len, &written) != 1 || written != len) {
        ERR_clear_error();
        return ZDC_ERR_CRYPTO;
    }
    return 0;
}

size_t zdc_dtls_max_payload(const zdc_dtls *d)
{
    if (d == NULL || d->state != ZDC_DTLS_CONNECTED)
        return 0;
    return d->ssl != NULL ? DTLS_get_data_mtu(d->ssl) : d->max_payload;
}

uint64_t zdc_dtls_next_timeout(const zdc_dtls *d)
{
    return d != NULL ? d->deadline : ZDC_DTLS_NO_TIMEOUT;
}

int zdc_dtls_handle_timeout(zdc_dtls *d, uint64_t now_ns)
{
    struct timeval tv;
    int r;

    if (d == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    if (d->state == ZDC_DTLS_FAILED || d->state == ZDC_DTLS_CLOSED)
        return ZDC_ERR_CLOSED;
    if (d->deadline == ZDC_DTLS_NO_TIMEOUT || now_ns < d->deadline || d->ssl == NULL)
        return 0;
    d->now = now_ns;
    if (d->flight_retransmits >= d->max_retransmits)
        return fail(d, ZDC_ERR_TIMEOUT);
    ERR_clear_error();
    r = DTLSv1_handle_timeout(d->ssl); /* retransmits via timer_cb + the BIO */
    if (r < 0)
        return fail(d, failure_code(d));
    if (r == 0) {
        /* OpenSSL's gettimeofday() deadline is still ahead of ours: follow it. */
        if (DTLSv1_get_timeout(d->ssl, &tv)) {
            uint64_t left = (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
            d->deadline = now_ns + (left > 0 ? left : 1000000u);
        } else {
            d->deadline = ZDC_DTLS_NO_TIMEOUT;
        }
        return 0;
    }
    sync_timer(d);
    return 0;
}

int zdc_dtls_close(zdc_dtls *d)
{
    if (d == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    if (d->state == ZDC_DTLS_FAILED || d->state == ZDC_DTLS_CLOSED)
        return ZDC_ERR_CLOSED;
    if (d->state == ZDC_DTLS_CONNECTED && d->tx_zdc) {
        static const uint8_t close_notify[2] = {SSL3_AL_WARNING, SSL_AD_CLOSE_NOTIFY};
        (void)records_send(d, CT_ALERT, close_notify, sizeof close_notify);
    } else if (d->state == ZDC_DTLS_CONNECTED) {
        ERR_clear_error();
        SSL_shutdown(d->ssl); /* close_notify, RFC 5246 §7.2.1 */
        ERR_clear_error();
    }
    d->state = ZDC_DTLS_CLOSED;
    d->deadline = ZDC_DTLS_NO_TIMEOUT;
    return 0;
}

zdc_dtls_state zdc_dtls_get_state(const zdc_dtls *d)
{
    return d->state;
}

int zdc_dtls_error(const zdc_dtls *d)
{
    return d->err;
}

const char *zdc_dtls_cipher(const zdc_dtls *d)
{
    if (d->state != ZDC_DTLS_CONNECTED && d->state != ZDC_DTLS_CLOSED)
        return NULL;
    if (d->ssl == NULL)
        return d->cipher_name;
    const SSL_CIPHER *c = SSL_get_current_cipher(d->ssl);
    return c != NULL ? SSL_CIPHER_get_name(c) : NULL;
}

const char *zdc_dtls_srtp_profile(const zdc_dtls *d)
{
    if (d->state != ZDC_DTLS_CONNECTED && d->state != ZDC_DTLS_CLOSED)
        return NULL;
    if (d->ssl == NULL)
        return d->srtp_name;
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    return p != NULL ? p->name : NULL;
}

const char *zdc_dtls_version(const zdc_dtls *d)
{
    if (d->state != ZDC_DTLS_CONNECTED && d->state != ZDC_DTLS_CLOSED)
        return NULL;
    return d->ssl != NULL ? SSL_get_version(d->ssl) : d->version_name;
}

void zdc_dtls_get_stats(const zdc_dtls *d, zdc_dtls_stats *st)
{
    *st = d->stats;
    st->records_auth_failed = d->rec.stats.auth_failed;
    st->records_replayed = d->rec.stats.replayed;
}

zdc_dtls_records_phase zdc_dtls_get_records_phase(const zdc_dtls *d)
{
    return d->tx_zdc   ? ZDC_DTLS_PHASE_ZDC
           : d->rx_zdc ? ZDC_DTLS_PHASE_ZDC_READS
                       : ZDC_DTLS_PHASE_OPENSSL;
}
