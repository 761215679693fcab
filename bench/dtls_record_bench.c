/* DTLS record benchmark: the cost of protecting one 1150-byte application record (seal on one
 * side + open on the other), for each AEAD suite:
 *   - OpenSSL's record layer: SSL_write, the record out of a memory BIO and into the peer's,
 *     SSL_read (what zdc did per packet before issue 12);
 *   - zdc's record layer (core/proto/dtls_record.c): seal in place, open in place, keyed from
 *     the same session as the hand-off keys it;
 *   - the floor: the bare AEAD seal + open with the same cipher contexts (no framing, nonce or
 *     replay window).
 * Two OpenSSL endpoints complete a real handshake in memory first. CPU time of this thread.
 * Run from a release build: `build/release/dtls_record_bench`. About 3 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dtls_record.h"

#define SLICE_S 0.3
#define PAYLOAD 1150

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "dtls_record_bench: %s\n", what);
    exit(1);
}

typedef struct ep {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rd, *wr;
    EVP_PKEY *key;
    X509 *x;
} ep;

static int accept_any(int ok, X509_STORE_CTX *xs)
{
    (void)ok;
    (void)xs;
    return 1;
}

static void ep_init(ep *e, const char *cipher, int client)
{
    memset(e, 0, sizeof *e);
    e->key = EVP_EC_gen("P-256");
    e->x = X509_new();
    if (e->key == NULL || e->x == NULL)
        die("key");
    ASN1_INTEGER_set(X509_get_serialNumber(e->x), 1);
    X509_gmtime_adj(X509_getm_notBefore(e->x), 0);
    X509_gmtime_adj(X509_getm_notAfter(e->x), 3600);
    X509_set_issuer_name(e->x, X509_get_subject_name(e->x));
    X509_set_pubkey(e->x, e->key);
    if (X509_sign(e->x, e->key, EVP_sha256()) <= 0)
        die("sign");
    e->ctx = SSL_CTX_new(DTLS_method());
    SSL_CTX_set_min_proto_version(e->ctx, DTLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(e->ctx, cipher) != 1)
        die("cipher");
    SSL_CTX_use_certificate(e->ctx, e->x);
    SSL_CTX_use_PrivateKey(e->ctx, e->key);
    SSL_CTX_set_verify(e->ctx, SSL_VERIFY_PEER, accept_any);
    SSL_CTX_set_options(e->ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
    e->ssl = SSL_new(e->ctx);
    e->rd = BIO_new(BIO_s_mem());
    e->wr = BIO_new(BIO_s_mem());
    SSL_set_bio(e->ssl, e->rd, e->wr);
    SSL_set_mtu(e->ssl, 1200);
    if (client)
        SSL_set_connect_state(e->ssl);
    else
        SSL_set_accept_state(e->ssl);
}

static void ep_free(ep *e)
{
    SSL_free(e->ssl);
    SSL_CTX_free(e->ctx);
    X509_free(e->x);
    EVP_PKEY_free(e->key);
}

static void shuttle(ep *from, ep *to)
{
    static uint8_t buf[16384];
    int n;
    while ((n = BIO_read(from->wr, buf, sizeof buf)) > 0)
        BIO_write(to->rd, buf, n);
}

static void handshake(ep *c, ep *s)
{
    for (int i = 0; i < 20 && !(SSL_is_init_finished(c->ssl) && SSL_is_init_finished(s->ssl));
         i++) {
        (void)SSL_do_handshake(c->ssl);
        shuttle(c, s);
        (void)SSL_do_handshake(s->ssl);
        shuttle(s, c);
    }
    if (!SSL_is_init_finished(c->ssl) || !SSL_is_init_finished(s->ssl))
        die("handshake");
    ERR_clear_error();
}

static void keys_of(SSL *ssl, zdc_dtls_keys *k)
{
    uint8_t ms[48], cr[32], sr[32];
    uint16_t suite = (uint16_t)(SSL_CIPHER_get_id(SSL_get_current_cipher(ssl)) & 0xffff);
    if (SSL_SESSION_get_master_key(SSL_get_session(ssl), ms, sizeof ms) != 48 ||
        SSL_get_client_random(ssl, cr, 32) != 32 || SSL_get_server_random(ssl, sr, 32) != 32 ||
        zdc_dtls_keys_derive(k, suite, ms, 48, cr, sr) != 0)
        die("keys");
}

typedef void (*step_fn)(void *ctx);

/* ns of CPU per call of `fn`, over SLICE_S seconds. */
static double measure(step_fn fn, void *ctx)
{
    unsigned long n = 0;
    double t0 = cpu_s(), t;
    do {
        for (int i = 0; i < 256; i++)
            fn(ctx);
        n += 256;
        t = cpu_s();
    } while (t - t0 < SLICE_S);
    return (t - t0) * 1e9 / (double)n;
}

typedef struct run {
    ep *c, *s;
    zdc_dtls_record zc, zs;
    uint8_t msg[PAYLOAD];
    uint8_t buf[ZDC_DTLS_REC_HEAD_ROOM + PAYLOAD + ZDC_DTLS_REC_TAG];
} run;

static void step_openssl(void *p)
{
    run *r = p;
    static uint8_t wire[2048], got[2048];
    if (SSL_write(r->c->ssl, r->msg, PAYLOAD) != PAYLOAD)
        die("SSL_write");
    int n = BIO_read(r->c->wr, wire, sizeof wire);
    BIO_write(r->s->rd, wire, n);
    if (SSL_read(r->s->ssl, got, sizeof got) != PAYLOAD)
        die("SSL_read");
}

static void step_zdc(void *p)
{
    run *r = p;
    uint8_t *rec;
    size_t rec_len, used;
    zdc_dtls_rec_view v;
    memcpy(r->buf + ZDC_DTLS_REC_HEAD_ROOM, r->msg, PAYLOAD); /* what the app hands in */
    if (zdc_dtls_record_seal(&r->zc, ZDC_DTLS_CT_APP_DATA, r->buf + ZDC_DTLS_REC_HEAD_ROOM, PAYLOAD,
                             &rec, &rec_len) != 0 ||
        zdc_dtls_record_open(&r->zs, rec, rec_len, &used, &v) != 0 || v.len != PAYLOAD)
        die("zdc seal/open");
}

static void step_floor(void *p)
{
    run *r = p;
    static const uint8_t nonce[12], aad[13];
    uint8_t tag[16];
    memcpy(r->buf, r->msg, PAYLOAD);
    if (zdc_dtls_record_aead_seal(&r->zc, nonce, aad, sizeof aad, r->buf, PAYLOAD, tag) != 0)
        die("seal");
    /* zc writes with the client key, zs reads with it */
    if (zdc_dtls_record_aead_open(&r->zs, nonce, aad, sizeof aad, r->buf, PAYLOAD, tag) != 0)
        die("open");
}

int main(void)
{
    static const char *suites[] = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                   "ECDHE-ECDSA-CHACHA20-POLY1305"};
    printf("DTLS record protection, %d-byte payload, seal + open, ns of CPU per record\n", PAYLOAD);
    printf("%-32s %10s %10s %10s %10s %10s\n", "suite", "OpenSSL", "zdc", "AEAD floor",
           "OpenSSL/zdc", "zdc/floor");
    for (size_t i = 0; i < 3; i++) {
        ep c, s;
        static run r;
        ep_init(&c, suites[i], 1);
        ep_init(&s, suites[i], 0);
        handshake(&c, &s);
        zdc_dtls_keys kc, ks;
        keys_of(c.ssl, &kc);
        keys_of(s.ssl, &ks);
        r.c = &c;
        r.s = &s;
        for (size_t k = 0; k < PAYLOAD; k++)
            r.msg[k] = (uint8_t)k;
        /* zdc's writer starts far above OpenSSL's so the two never share a nonce here */
        if (zdc_dtls_record_init(&r.zc, &kc, 1, 1, UINT64_C(1) << 40, 0) != 0 ||
            zdc_dtls_record_init(&r.zs, &ks, 0, 1, UINT64_C(1) << 40, 0) != 0)
            die("init");
        double o = measure(step_openssl, &r);
        double z = measure(step_zdc, &r);
        /* the floor uses one fixed nonce over and over: a benchmark only, never on a wire */
        double f = measure(step_floor, &r);
        printf("%-32s %10.0f %10.0f %10.0f %10.2f %10.2f\n", suites[i], o, z, f, o / z, z / f);
        zdc_dtls_record_clear(&r.zc);
        zdc_dtls_record_clear(&r.zs);
        ep_free(&c);
        ep_free(&s);
    }
    return 0;
}
