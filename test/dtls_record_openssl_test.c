/* zdc's record layer against OpenSSL's: two OpenSSL DTLS 1.2 endpoints complete a handshake in
 * memory with one suite forced; then zdc, keyed from one side's session (master secret, hello
 * randoms, suite), seals records the other side's SSL_read must accept, and opens the records
 * the other side's SSL_write produced. Every suite, both roles, both directions, application
 * data and close_notify.
 * ctest-labels: security
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bytes.h"
#include "dtls_record.h"

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

static void ep_init(ep *e, const char *cipher, bool client)
{
    memset(e, 0, sizeof *e);
    e->key = EVP_EC_gen("P-256");
    cr_assert_not_null(e->key);
    e->x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(e->x), 7);
    X509_gmtime_adj(X509_getm_notBefore(e->x), 0);
    X509_gmtime_adj(X509_getm_notAfter(e->x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(e->x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"peer", -1, -1, 0);
    X509_set_issuer_name(e->x, X509_get_subject_name(e->x));
    X509_set_pubkey(e->x, e->key);
    cr_assert_gt(X509_sign(e->x, e->key, EVP_sha256()), 0);
    e->ctx = SSL_CTX_new(DTLS_method());
    cr_assert_eq(SSL_CTX_set_min_proto_version(e->ctx, DTLS1_2_VERSION), 1);
    cr_assert_eq(SSL_CTX_set_cipher_list(e->ctx, cipher), 1);
    cr_assert_eq(SSL_CTX_use_certificate(e->ctx, e->x), 1);
    cr_assert_eq(SSL_CTX_use_PrivateKey(e->ctx, e->key), 1);
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
    ERR_clear_error();
}

/* Moves everything one side wrote into the other's read BIO. */
static bool shuttle(ep *from, ep *to)
{
    uint8_t buf[8192];
    int n;
    bool moved = false;
    while ((n = BIO_read(from->wr, buf, sizeof buf)) > 0) {
        BIO_write(to->rd, buf, n);
        moved = true;
    }
    return moved;
}

static void handshake(ep *c, ep *s)
{
    for (int i = 0; i < 20; i++) {
        (void)SSL_do_handshake(c->ssl);
        bool a = shuttle(c, s);
        (void)SSL_do_handshake(s->ssl);
        bool b = shuttle(s, c);
        if (SSL_is_init_finished(c->ssl) && SSL_is_init_finished(s->ssl) && !a && !b)
            break;
    }
    cr_assert(SSL_is_init_finished(c->ssl));
    cr_assert(SSL_is_init_finished(s->ssl));
    ERR_clear_error();
}

static uint16_t suite_of(SSL *ssl)
{
    return (uint16_t)(SSL_CIPHER_get_id(SSL_get_current_cipher(ssl)) & 0xffff);
}

/* The key block, as zdc's hand-off derives it from a finished session. */
static void keys_of(SSL *ssl, zdc_dtls_keys *k)
{
    uint8_t ms[48], cr[32], sr[32];
    cr_assert_eq(SSL_SESSION_get_master_key(SSL_get_session(ssl), ms, sizeof ms), 48u);
    cr_assert_eq(SSL_get_client_random(ssl, cr, sizeof cr), 32u);
    cr_assert_eq(SSL_get_server_random(ssl, sr, sizeof sr), 32u);
    cr_assert_eq(zdc_dtls_keys_derive(k, suite_of(ssl), ms, sizeof ms, cr, sr), 0);
}

static void pattern(uint8_t *p, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed * 31 + i);
}

static const struct {
    const char *name;
    uint16_t suite;
} suites[] = {
    {"ECDHE-ECDSA-AES128-GCM-SHA256", 0xC02B},
    {"ECDHE-ECDSA-AES256-GCM-SHA384", 0xC02C},
    {"ECDHE-ECDSA-CHACHA20-POLY1305", 0xCCA9},
};

/* zdc plays `zdc_client ? client : server`, keyed from that side's session; `ossl` is the
 * other side, which keeps its OpenSSL record layer. */
static void cross_check(size_t si, bool zdc_client)
{
    ep c, s;
    ep_init(&c, suites[si].name, true);
    ep_init(&s, suites[si].name, false);
    handshake(&c, &s);
    ep *mine = zdc_client ? &c : &s, *ossl = zdc_client ? &s : &c;
    cr_assert_eq(suite_of(mine->ssl), suites[si].suite);
    cr_assert_eq(suite_of(ossl->ssl), suites[si].suite);

    zdc_dtls_keys k;
    zdc_dtls_record r;
    keys_of(mine->ssl, &k);
    /* OpenSSL on `mine` wrote its Finished with epoch 1 sequence 0; zdc starts above it (the
     * hand-off proper picks the start from what OpenSSL wrote, see docs/dtls-records.md). */
    cr_assert_eq(zdc_dtls_record_init(&r, &k, zdc_client, 1, 1, 0), 0);

    /* zdc seals -> OpenSSL opens */
    static uint8_t buf[ZDC_DTLS_REC_HEAD_ROOM + 1200 + ZDC_DTLS_REC_TAG];
    uint8_t want[1200], got[2048];
    for (size_t len = 1; len <= 1100; len = len * 3 + 1) {
        uint8_t *rec;
        size_t rec_len;
        pattern(buf + ZDC_DTLS_REC_HEAD_ROOM, len, (uint8_t)len);
        pattern(want, len, (uint8_t)len);
        cr_assert_eq(zdc_dtls_record_seal(&r, ZDC_DTLS_CT_APP_DATA, buf + ZDC_DTLS_REC_HEAD_ROOM,
                                          len, &rec, &rec_len),
                     0);
        BIO_write(ossl->rd, rec, (int)rec_len);
        int n = SSL_read(ossl->ssl, got, sizeof got);
        cr_assert_eq(n, (int)len, "%s zdc %s: OpenSSL read %d of %zu", suites[si].name,
                     zdc_client ? "client" : "server", n, len);
        cr_assert_arr_eq(got, want, len);
    }

    /* OpenSSL seals -> zdc opens */
    for (size_t len = 1; len <= 1100; len = len * 3 + 1) {
        pattern(want, len, (uint8_t)(len + 1));
        cr_assert_eq(SSL_write(ossl->ssl, want, (int)len), (int)len);
        int n = BIO_read(ossl->wr, got, sizeof got);
        cr_assert_gt(n, 0);
        zdc_dtls_rec_view v;
        size_t used;
        uint8_t again[2048];
        memcpy(again, got, (size_t)n);
        cr_assert_eq(zdc_dtls_record_open(&r, got, (size_t)n, &used, &v), 0, "%s len %zu",
                     suites[si].name, len);
        cr_assert_eq(used, (size_t)n, "one record");
        cr_assert_eq(v.type, ZDC_DTLS_CT_APP_DATA);
        cr_assert_eq(v.epoch, 1);
        cr_assert_eq(v.len, len);
        cr_assert_arr_eq(v.data, want, len);
        /* and OpenSSL's record again: a replay */
        cr_assert_eq(zdc_dtls_record_open(&r, again, (size_t)n, &used, &v), ZDC_ERR_AGAIN);
    }

    /* close_notify from OpenSSL, opened by zdc: alert(21) { warning(1), close_notify(0) } */
    cr_assert_geq(SSL_shutdown(ossl->ssl), 0);
    int n = BIO_read(ossl->wr, got, sizeof got);
    cr_assert_gt(n, 0);
    zdc_dtls_rec_view v;
    size_t used;
    cr_assert_eq(zdc_dtls_record_open(&r, got, (size_t)n, &used, &v), 0);
    cr_assert_eq(v.type, ZDC_DTLS_CT_ALERT);
    cr_assert_eq(v.len, 2u);
    cr_assert_eq(v.data[0], 1);
    cr_assert_eq(v.data[1], 0);

    /* close_notify from zdc, seen by OpenSSL as a clean close */
    uint8_t *rec;
    size_t rec_len;
    buf[ZDC_DTLS_REC_HEAD_ROOM] = 1;
    buf[ZDC_DTLS_REC_HEAD_ROOM + 1] = 0;
    cr_assert_eq(zdc_dtls_record_seal(&r, ZDC_DTLS_CT_ALERT, buf + ZDC_DTLS_REC_HEAD_ROOM, 2, &rec,
                                      &rec_len),
                 0);
    BIO_write(ossl->rd, rec, (int)rec_len);
    cr_assert_leq(SSL_read(ossl->ssl, got, sizeof got), 0);
    cr_assert_eq(SSL_get_error(ossl->ssl, 0), SSL_ERROR_ZERO_RETURN);
    cr_assert(SSL_get_shutdown(ossl->ssl) & SSL_RECEIVED_SHUTDOWN);

    zdc_dtls_record_clear(&r);
    zdc_dtls_keys_wipe(&k);
    ep_free(&c);
    ep_free(&s);
}

Test(dtls_record_openssl, aes128gcm_zdc_client)
{
    cross_check(0, true);
}
Test(dtls_record_openssl, aes128gcm_zdc_server)
{
    cross_check(0, false);
}
Test(dtls_record_openssl, aes256gcm_zdc_client)
{
    cross_check(1, true);
}
Test(dtls_record_openssl, aes256gcm_zdc_server)
{
    cross_check(1, false);
}
Test(dtls_record_openssl, chacha20_zdc_client)
{
    cross_check(2, true);
}
Test(dtls_record_openssl, chacha20_zdc_server)
{
    cross_check(2, false);
}

/* What OpenSSL 3.0 puts in a GCM record's explicit nonce. The hand-off's nonce argument
 * (docs/dtls-records.md) depends on it: OpenSSL does NOT write epoch || seq there; its GCM
 * provider draws the 8 bytes at random when the key is set and counts up by one per record
 * (RFC 5288 §3 allows any unique value). So a GCM nonce OpenSSL used is one of a short
 * contiguous run starting at a random 64-bit value; zdc must keep clear of that run. */
Test(dtls_record_openssl, openssl_gcm_explicit_nonce_is_a_random_start_counter)
{
    for (size_t si = 0; si < 2; si++) {
        ep c, s;
        uint8_t got[2048];
        uint64_t prev[2] = {0, 0};
        ep_init(&c, suites[si].name, true);
        ep_init(&s, suites[si].name, false);
        handshake(&c, &s);
        for (int i = 0; i < 6; i++) {
            ep *w = i % 2 ? &c : &s;
            cr_assert_eq(SSL_write(w->ssl, "hello", 5), 5);
            int n = BIO_read(w->wr, got, sizeof got);
            cr_assert_eq(n, 13 + 8 + 5 + 16);
            uint64_t nonce = (uint64_t)zdc_load_u32(got + 13) << 32 | zdc_load_u32(got + 17);
            uint64_t seq64 = (uint64_t)zdc_load_u32(got + 3) << 32 | zdc_load_u32(got + 7);
            cr_log_info("%s %s: epoch||seq %016llx explicit nonce %016llx", suites[si].name,
                        i % 2 ? "client" : "server", (unsigned long long)seq64,
                        (unsigned long long)nonce);
            if (i >= 2)
                cr_assert_eq(nonce, prev[i % 2] + 1, "one more than the side's last");
            prev[i % 2] = nonce;
        }
        ep_free(&c);
        ep_free(&s);
    }
}
