/* DTLS stage: two endpoints in one process, wired through in-memory queues on a fake clock.
 *
 * OpenSSL 3.0 reads gettimeofday() for its DTLS retransmission timer and cannot be given a
 * clock. This test executable defines gettimeofday() itself (the executable's definition
 * takes precedence over libc's for libssl's calls), returning a fixed epoch plus the fake
 * clock, so OpenSSL's timer and the now_ns zdc is given are the same clock here — as they are
 * (up to scheduling lag) in production. Nothing in the library depends on this substitution;
 * without it the handshake tests pass and only the retransmission tests would see OpenSSL
 * answer "not yet" (see zdc_dtls_handle_timeout()).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bytes.h"
#include "dtls.h"

/* ---- the fake clock, shared with OpenSSL ----------------------------------------------- */

#define FAKE_EPOCH_S 1800000000ull
#define MS           1000000ull
#define SEC          1000000000ull

static uint64_t g_now = 1 * SEC; /* the loop's monotonic clock */

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz;
    uint64_t t = FAKE_EPOCH_S * SEC + g_now;
    tv->tv_sec = (time_t)(t / SEC);
    tv->tv_usec = (suseconds_t)(t % SEC / 1000);
    return 0;
}

/* ---- the link -------------------------------------------------------------------------- */

#define QCAP    128
#define MAXMSGS 256

typedef struct pkt {
    uint8_t b[2048];
    size_t len;
} pkt;

typedef struct side {
    zdc_dtls *d;
    zdc_dtls_cert *cert;
    struct side *peer;
    pkt in[QCAP]; /* datagrams on their way to this side */
    size_t in_head, in_tail;
    int drop_out;      /* drop this many of our next outgoing datagrams */
    size_t sent;       /* datagrams we sent (including dropped ones) */
    pkt last_sent;     /* the last of them */
    pkt msgs[MAXMSGS]; /* application data delivered to us */
    size_t nmsgs;
} side;

static side A, B;

static int link_send(void *user, const uint8_t *p, size_t len)
{
    side *s = user;
    cr_assert_leq(len, (size_t)ZDC_DTLS_DEFAULT_MTU, "datagram above the MTU");
    s->sent++;
    memcpy(s->last_sent.b, p, len);
    s->last_sent.len = len;
    if (s->drop_out > 0) {
        s->drop_out--;
        return 0;
    }
    side *to = s->peer;
    cr_assert_lt(to->in_tail - to->in_head, (size_t)QCAP, "link queue overflow");
    pkt *q = &to->in[to->in_tail++ % QCAP];
    memcpy(q->b, p, len);
    q->len = len;
    return 0;
}

static void link_data(void *user, const uint8_t *p, size_t len)
{
    side *s = user;
    cr_assert_lt(s->nmsgs, (size_t)MAXMSGS);
    cr_assert_leq(len, sizeof s->msgs[0].b);
    memcpy(s->msgs[s->nmsgs].b, p, len);
    s->msgs[s->nmsgs++].len = len;
}

/* Delivers queued datagrams both ways until the link is idle. */
static void pump(void)
{
    for (int i = 0; i < 1000; i++) {
        bool moved = false;
        side *sides[2] = {&A, &B};
        for (int k = 0; k < 2; k++) {
            side *s = sides[k];
            if (s->in_head == s->in_tail)
                continue;
            pkt p = s->in[s->in_head++ % QCAP];
            (void)zdc_dtls_handle_datagram(s->d, p.b, p.len, g_now);
            moved = true;
        }
        if (!moved)
            return;
    }
    cr_assert_fail("link never went idle");
}

static void feed(side *s, const uint8_t *p, size_t len)
{
    cr_assert_eq(zdc_dtls_handle_datagram(s->d, p, len, g_now), 0);
}

static uint64_t next_deadline(void)
{
    uint64_t a = zdc_dtls_next_timeout(A.d), b = zdc_dtls_next_timeout(B.d);
    return a < b ? a : b;
}

/* Jumps the clock to the earliest deadline and runs both timers. */
static void advance_to_deadline(void)
{
    uint64_t t = next_deadline();
    cr_assert_neq(t, ZDC_DTLS_NO_TIMEOUT, "no timer armed");
    cr_assert_geq(t, g_now);
    g_now = t;
    (void)zdc_dtls_handle_timeout(A.d, g_now);
    (void)zdc_dtls_handle_timeout(B.d, g_now);
}

static zdc_dtls_fingerprint fp_of(const zdc_dtls_cert *c)
{
    zdc_dtls_fingerprint fp = {.hash = ZDC_DTLS_HASH_SHA256, .len = 32};
    memcpy(fp.bytes, zdc_dtls_cert_fingerprint(c), 32);
    return fp;
}

/* ---- the log: every endpoint logs at DEBUG into g_lines, A as peer 1, B as peer 2 ----- */

typedef struct logline {
    int level;
    uint64_t peer;
    char msg[256];
} logline;

static logline g_lines[64];
static size_t g_n_lines;

static void capture_log(void *user, int level, int component, zdc_peer peer, const char *msg)
{
    (void)user;
    cr_assert_eq(component, ZDC_LOG_DTLS);
    if (g_n_lines < sizeof g_lines / sizeof g_lines[0]) {
        logline *l = &g_lines[g_n_lines++];
        l->level = level;
        l->peer = peer.id;
        snprintf(l->msg, sizeof l->msg, "%s", msg);
    }
}

static const zdc_logger g_logger = {
    .level = ZDC_LOG_DEBUG, .components = ZDC_LOG_ALL_COMPONENTS, .fn = capture_log};
static const zdc_log_ctx g_log_a = {.sink = &g_logger, .peer = 1};
static const zdc_log_ctx g_log_b = {.sink = &g_logger, .peer = 2};

/* Asserts that `peer` logged a line at `level` containing `needle`. */
static void expect_line(uint64_t peer, int level, const char *needle)
{
    for (size_t i = 0; i < g_n_lines; i++)
        if (g_lines[i].peer == peer && g_lines[i].level == level && strstr(g_lines[i].msg, needle))
            return;
    for (size_t i = 0; i < g_n_lines; i++)
        fprintf(stderr, "  peer %llu %s: %s\n", (unsigned long long)g_lines[i].peer,
                zdc_log_level_name(g_lines[i].level), g_lines[i].msg);
    cr_assert_fail("peer %llu logged no %s line with \"%s\"", (unsigned long long)peer,
                   zdc_log_level_name(level), needle);
}

static zdc_dtls *endpoint(side *s, zdc_dtls_role role, zdc_dtls_fingerprint remote)
{
    zdc_dtls_config cfg;
    zdc_dtls *d = NULL;
    zdc_dtls_config_default(&cfg);
    cfg.role = role;
    cfg.cert = s->cert;
    cfg.remote_fp = remote;
    cfg.send = link_send;
    cfg.on_data = link_data;
    cfg.user = s;
    cfg.log = s == &B ? &g_log_b : &g_log_a;
    cr_assert_eq(zdc_dtls_new(&cfg, &d), 0);
    return d;
}

static void setup_link(void)
{
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    A.peer = &B;
    B.peer = &A;
    g_now = 1 * SEC;
    cr_assert_eq(zdc_dtls_cert_new(&A.cert), 0);
    cr_assert_eq(zdc_dtls_cert_new(&B.cert), 0);
}

static void teardown_link(void)
{
    zdc_dtls_free(A.d);
    zdc_dtls_free(B.d);
    zdc_dtls_cert_free(A.cert);
    zdc_dtls_cert_free(B.cert);
    cr_assert_eq(ERR_peek_error(), 0ul, "OpenSSL error queue left dirty");
}

/* A = client, B = server unless `swap`. */
static void make_pair(bool swap)
{
    A.d = endpoint(&A, swap ? ZDC_DTLS_SERVER : ZDC_DTLS_CLIENT, fp_of(B.cert));
    B.d = endpoint(&B, swap ? ZDC_DTLS_CLIENT : ZDC_DTLS_SERVER, fp_of(A.cert));
}

static void start_both(void)
{
    cr_assert_eq(zdc_dtls_start(B.d, g_now), 0);
    cr_assert_eq(zdc_dtls_start(A.d, g_now), 0);
}

static void connect_pair(bool swap)
{
    make_pair(swap);
    start_both();
    pump();
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
}

TestSuite(dtls, .init = setup_link, .fini = teardown_link);

/* ---- certificates and fingerprints ----------------------------------------------------- */

Test(dtls, cert_fingerprint_forms)
{
    const uint8_t *fp = zdc_dtls_cert_fingerprint(A.cert);
    const char *text = zdc_dtls_cert_fingerprint_text(A.cert);
    zdc_dtls_fingerprint parsed;

    cr_assert_eq(strlen(text), 95u);
    for (size_t i = 0; i < 95; i++) {
        if (i % 3 == 2)
            cr_assert_eq(text[i], ':', "separator at %zu", i);
        else
            cr_assert(strchr("0123456789ABCDEF", text[i]) != NULL, "digit at %zu", i);
    }
    for (size_t i = 0; i < 32; i++) {
        char pair[3];
        snprintf(pair, sizeof pair, "%02X", fp[i]);
        cr_assert_eq(memcmp(text + 3 * i, pair, 2), 0);
    }
    cr_assert_eq(zdc_dtls_fingerprint_parse(&parsed, "sha-256", 7, text, 95), 0);
    cr_assert_eq(parsed.hash, ZDC_DTLS_HASH_SHA256);
    cr_assert_eq(parsed.len, 32);
    cr_assert_eq(memcmp(parsed.bytes, fp, 32), 0);
    /* two certificates are two keys */
    cr_assert_neq(memcmp(fp, zdc_dtls_cert_fingerprint(B.cert), 32), 0);
}

/* The fingerprint is the SHA-256 of the DER certificate a peer actually receives, and the
 * certificate has the promised shape: checked from the far side of a real handshake. */
Test(dtls, cert_content_seen_by_peer)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    SSL *cli = SSL_new(ctx);
    BIO *rd = BIO_new(BIO_s_mem()), *wr = BIO_new(BIO_s_mem());
    uint8_t buf[4096], md[32];
    unsigned int n = 0;
    int len;

    SSL_set_bio(cli, rd, wr);
    SSL_set_verify(cli, SSL_VERIFY_NONE, NULL);
    SSL_set_connect_state(cli);
    B.d = endpoint(&B, ZDC_DTLS_SERVER, fp_of(A.cert)); /* will fail on the missing cert */
    cr_assert_eq(zdc_dtls_start(B.d, g_now), 0);
    B.peer = &A;
    /* client hello -> server; server flight -> client's read BIO */
    cr_assert_eq(SSL_do_handshake(cli), -1);
    while ((len = BIO_read(wr, buf, sizeof buf)) > 0)
        feed(&B, buf, (size_t)len);
    while (A.in_head != A.in_tail) {
        pkt *p = &A.in[A.in_head++ % QCAP];
        BIO_write(rd, p->b, (int)p->len);
        (void)SSL_do_handshake(cli);
    }
    X509 *peer = SSL_get0_peer_certificate(cli);
    cr_assert_not_null(peer);
    cr_assert_eq(X509_digest(peer, EVP_sha256(), md, &n), 1);
    cr_assert_eq(memcmp(md, zdc_dtls_cert_fingerprint(B.cert), 32), 0);
    cr_assert_eq(X509_get_version(peer), X509_VERSION_3);
    cr_assert_eq(X509_get_signature_nid(peer), NID_ecdsa_with_SHA256);
    EVP_PKEY *pk = X509_get0_pubkey(peer);
    char group[32];
    size_t glen = 0;
    cr_assert_eq(EVP_PKEY_get_group_name(pk, group, sizeof group, &glen), 1);
    cr_assert_str_eq(group, "prime256v1");
    char cn[16];
    cr_assert_eq(
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn), 3);
    cr_assert_str_eq(cn, "zdc");
    cr_assert_eq(X509_NAME_cmp(X509_get_subject_name(peer), X509_get_issuer_name(peer)), 0);
    int days = 0, secs = 0;
    cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(peer), X509_get0_notAfter(peer)),
                 1);
    cr_assert_eq(days, 31); /* one day back for clock skew + 30 days */
    const ASN1_INTEGER *sn = X509_get0_serialNumber(peer);
    cr_assert_eq(ASN1_STRING_length(sn), 8);
    SSL_free(cli);
    SSL_CTX_free(ctx);
    ERR_clear_error();
}

Test(dtls, fingerprint_parse)
{
    zdc_dtls_fingerprint fp;
    const char *t20 = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33";
    char lower[96];

    cr_assert_eq(zdc_dtls_fingerprint_parse(&fp, "SHA-1", 5, t20, strlen(t20)), 0);
    cr_assert_eq(fp.hash, ZDC_DTLS_HASH_SHA1);
    cr_assert_eq(fp.len, 20);
    cr_assert_eq(fp.bytes[10], 0xAA);
    snprintf(lower, sizeof lower, "%s", zdc_dtls_cert_fingerprint_text(A.cert));
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    cr_assert_eq(zdc_dtls_fingerprint_parse(&fp, "Sha-256", 7, lower, 95), 0);
    cr_assert_eq(memcmp(fp.bytes, zdc_dtls_cert_fingerprint(A.cert), 32), 0);
    memset(&fp, 0x5a, sizeof fp);
    cr_assert_eq(zdc_dtls_fingerprint_parse(&fp, "md5", 3, t20, 47), ZDC_ERR_NOT_SUPPORTED);
    cr_assert_eq(zdc_dtls_fingerprint_parse(&fp, "sha-256", 7, t20, strlen(t20)),
                 ZDC_ERR_MALFORMED);
    cr_assert_eq(zdc_dtls_fingerprint_parse(&fp, "sha-1", 5, t20, strlen(t20) - 1),
                 ZDC_ERR_MALFORMED);
    char bad[64];
    snprintf(bad, sizeof bad, "%s", t20);
    bad[2] = '-';
    cr_assert_eq(zdc_dtls_fingerprint_parse(&fp, "sha-1", 5, bad, strlen(bad)), ZDC_ERR_MALFORMED);
    bad[2] = ':';
    bad[4] = 'G';
    cr_assert_eq(zdc_dtls_fingerprint_parse(&fp, "sha-1", 5, bad, strlen(bad)), ZDC_ERR_MALFORMED);
    cr_assert_eq(fp.bytes[0], 0x5a, "output written on failure");
    cr_assert_eq(zdc_dtls_fingerprint_parse(&fp, "sha-2566", 7, t20, 59), ZDC_ERR_MALFORMED);
}

Test(dtls, config_validation)
{
    zdc_dtls_config cfg;
    zdc_dtls *d = (zdc_dtls *)&cfg;
    zdc_dtls_config_default(&cfg);
    cfg.role = ZDC_DTLS_CLIENT;
    cfg.cert = A.cert;
    cfg.remote_fp = fp_of(B.cert);
    cfg.send = link_send;
    cr_assert_eq(zdc_dtls_new(&cfg, &d), ZDC_ERR_INVALID_PARAMETER); /* no on_data */
    cr_assert_null(d);
    cfg.on_data = link_data;
    cfg.remote_fp.len = 20;
    cr_assert_eq(zdc_dtls_new(&cfg, &d), ZDC_ERR_INVALID_PARAMETER);
    cfg.remote_fp = fp_of(B.cert);
    cfg.mtu = 100;
    cr_assert_eq(zdc_dtls_new(&cfg, &d), ZDC_ERR_INVALID_PARAMETER);
    cfg.mtu = 0;
    cfg.role = 0;
    cr_assert_eq(zdc_dtls_new(&cfg, &d), ZDC_ERR_INVALID_PARAMETER);
    cfg.role = ZDC_DTLS_SERVER;
    cr_assert_eq(zdc_dtls_new(&cfg, &d), 0);
    cr_assert_eq(zdc_dtls_get_state(d), ZDC_DTLS_NEW);
    cr_assert_eq(zdc_dtls_send(d, (const uint8_t *)"x", 1), ZDC_ERR_INVALID_STATE);
    cr_assert_null(zdc_dtls_cipher(d));
    cr_assert_eq(zdc_dtls_next_timeout(d), ZDC_DTLS_NO_TIMEOUT);
    zdc_dtls_free(d);
}

/* ---- handshake and data ---------------------------------------------------------------- */

static void check_negotiated(zdc_dtls *d)
{
    cr_assert_str_eq(zdc_dtls_cipher(d), "ECDHE-ECDSA-AES128-GCM-SHA256");
    cr_assert_str_eq(zdc_dtls_version(d), "DTLSv1.2");
    /* RFC 5764 use_srtp: offered by the client, the first common profile selected. */
    cr_assert_str_eq(zdc_dtls_srtp_profile(d), "SRTP_AEAD_AES_128_GCM");
    cr_assert_eq(zdc_dtls_error(d), 0);
    cr_assert_eq(zdc_dtls_next_timeout(d), ZDC_DTLS_NO_TIMEOUT);
    cr_assert_geq(zdc_dtls_max_payload(d), 1150u);
}

Test(dtls, handshake_client_server)
{
    make_pair(false);
    cr_assert_eq(zdc_dtls_start(B.d, g_now), 0);
    cr_assert_eq(B.sent, 0u, "a server speaks only when spoken to");
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTING);
    cr_assert_eq(zdc_dtls_start(A.d, g_now), 0);
    cr_assert_eq(A.sent, 1u, "ClientHello");
    cr_assert_eq(A.last_sent.b[0], 22);
    cr_assert_eq(zdc_dtls_next_timeout(A.d), g_now + 1 * SEC, "deadline = now_ns + 1 s");
    cr_assert_eq(zdc_dtls_start(A.d, g_now), ZDC_ERR_INVALID_STATE);
    pump();
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    check_negotiated(A.d);
    check_negotiated(B.d);
}

Test(dtls, handshake_swapped_roles)
{
    connect_pair(true);
    check_negotiated(A.d);
    check_negotiated(B.d);
    cr_assert_eq(zdc_dtls_send(A.d, (const uint8_t *)"ping", 4), 0);
    pump();
    cr_assert_eq(B.nmsgs, 1u);
    cr_assert_eq(memcmp(B.msgs[0].b, "ping", 4), 0);
}

/* The client offers ChaCha first; the server's AES-128-GCM preference still wins. */
Test(dtls, server_cipher_preference)
{
    B.d = endpoint(&B, ZDC_DTLS_SERVER, fp_of(A.cert));
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    cr_assert_eq(SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-CHACHA20-POLY1305:"
                                              "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                              "ECDHE-ECDSA-AES128-GCM-SHA256"),
                 1);
    SSL *cli = SSL_new(ctx);
    BIO *rd = BIO_new(BIO_s_mem()), *wr = BIO_new(BIO_s_mem());
    uint8_t buf[4096];
    int len;
    SSL_set_bio(cli, rd, wr);
    SSL_set_connect_state(cli);
    cr_assert_eq(zdc_dtls_start(B.d, g_now), 0);
    (void)SSL_do_handshake(cli);
    while ((len = BIO_read(wr, buf, sizeof buf)) > 0)
        feed(&B, buf, (size_t)len);
    cr_assert_geq(A.in_tail, 1u);
    /* ServerHello: record(13) hs(12) version(2) random(32) sid_len(1) sid cipher(2) */
    const uint8_t *sh = A.in[0].b;
    cr_assert_eq(sh[13], 2, "ServerHello");
    size_t off = 13 + 12 + 2 + 32;
    off += 1 + sh[off];
    cr_assert_eq(sh[off] << 8 | sh[off + 1], 0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256");
    SSL_free(cli);
    SSL_CTX_free(ctx);
    ERR_clear_error();
}

static void roundtrip(side *from, side *to, size_t len)
{
    uint8_t msg[1200];
    size_t before_sent = from->sent, before = to->nmsgs;
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 7 + len);
    cr_assert_eq(zdc_dtls_send(from->d, msg, len), 0, "len %zu", len);
    if (len == 0) {
        cr_assert_eq(from->sent, before_sent, "no empty record is sent");
        return;
    }
    cr_assert_eq(from->sent, before_sent + 1, "one record, one datagram");
    cr_assert_leq(from->last_sent.len, 1200u);
    cr_assert_eq(from->last_sent.b[0], 23);
    pump();
    cr_assert_eq(to->nmsgs, before + 1, "len %zu", len);
    cr_assert_eq(to->msgs[before].len, len);
    cr_assert_eq(memcmp(to->msgs[before].b, msg, len), 0);
}

Test(dtls, app_data_both_ways_all_sizes)
{
    connect_pair(false);
    size_t max = zdc_dtls_max_payload(A.d);
    cr_assert_eq(max, zdc_dtls_max_payload(B.d));
    /* 1200 - 13 (header) - 8 (explicit nonce) - 16 (GCM tag) */
    cr_assert_eq(max, 1163u);
    for (size_t len = 0; len <= 1150; len += (len < 40 ? 1 : 37)) {
        roundtrip(&A, &B, len);
        roundtrip(&B, &A, len);
    }
    roundtrip(&A, &B, 1150);
    roundtrip(&B, &A, max);
    uint8_t big[1200] = {0};
    size_t sent = A.sent;
    cr_assert_eq(zdc_dtls_send(A.d, big, max + 1), ZDC_ERR_TOO_LARGE);
    cr_assert_eq(A.sent, sent);
    cr_assert_eq(zdc_dtls_send(A.d, NULL, 1), ZDC_ERR_INVALID_PARAMETER);
}

static const uint8_t forged_alert[] = {21, 0xfe, 0xfd,          0, 0, 0, 0, 0, 0, 0, 9,
                                       0,  2,    2 /* fatal */, 40 /* handshake_failure */};

Test(dtls, records_coalesced_in_one_datagram)
{
    connect_pair(false);
    uint8_t dgram[2400];
    size_t n = 0;
    const char *words[3] = {"one", "two!", "three"};
    /* an unauthenticated alert in the middle is stripped, the rest delivered */
    for (int i = 0; i < 3; i++) {
        if (i == 1) {
            memcpy(dgram + n, forged_alert, sizeof forged_alert);
            n += sizeof forged_alert;
        }
        A.drop_out = 1;
        cr_assert_eq(zdc_dtls_send(A.d, (const uint8_t *)words[i], strlen(words[i])), 0);
        memcpy(dgram + n, A.last_sent.b, A.last_sent.len);
        n += A.last_sent.len;
    }
    feed(&B, dgram, n);
    cr_assert_eq(B.nmsgs, 3u);
    zdc_dtls_stats st;
    zdc_dtls_get_stats(B.d, &st);
    cr_assert_eq(st.alerts_ignored, 1u);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(memcmp(B.msgs[i].b, words[i], strlen(words[i])), 0);
}

/* ---- fingerprint mismatch -------------------------------------------------------------- */

static void mismatch(bool client_expects_wrong)
{
    zdc_dtls_fingerprint wrong = fp_of(A.cert);
    if (client_expects_wrong) {
        A.d = endpoint(&A, ZDC_DTLS_CLIENT, fp_of(A.cert)); /* expects its own, not B's */
        B.d = endpoint(&B, ZDC_DTLS_SERVER, fp_of(A.cert));
    } else {
        A.d = endpoint(&A, ZDC_DTLS_CLIENT, fp_of(B.cert));
        wrong.bytes[31] ^= 1;
        B.d = endpoint(&B, ZDC_DTLS_SERVER, wrong);
    }
    start_both();
    pump();
    side *checker = client_expects_wrong ? &A : &B, *other = client_expects_wrong ? &B : &A;
    cr_assert_eq(zdc_dtls_get_state(checker->d), ZDC_DTLS_FAILED);
    cr_assert_eq(zdc_dtls_error(checker->d), ZDC_ERR_FINGERPRINT);
    cr_assert_eq(zdc_dtls_get_state(other->d), ZDC_DTLS_CONNECTING);
    cr_assert_eq(zdc_dtls_send(checker->d, (const uint8_t *)"x", 1), ZDC_ERR_CLOSED);
    cr_assert_eq(zdc_dtls_send(other->d, (const uint8_t *)"x", 1), ZDC_ERR_INVALID_STATE);
    /* The checker's bad_certificate alert travels in epoch 0, unauthenticated: the other side
     * notes it and does not act on it; it gives up when its retransmissions run out. */
    zdc_dtls_stats st;
    zdc_dtls_get_stats(other->d, &st);
    cr_assert_eq(st.alerts_ignored, 1u);
    cr_assert_eq(st.last_ignored_alert, 42, "bad_certificate");
    for (int i = 0; i < 20 && zdc_dtls_get_state(other->d) == ZDC_DTLS_CONNECTING; i++) {
        advance_to_deadline();
        pump();
    }
    cr_assert_eq(zdc_dtls_get_state(other->d), ZDC_DTLS_FAILED);
    cr_assert_eq(zdc_dtls_error(other->d), ZDC_ERR_TIMEOUT);
    cr_assert_eq(A.nmsgs + B.nmsgs, 0u, "no application data ever delivered");
    /* each side's log says why it failed */
    uint64_t checker_id = checker == &A ? 1 : 2, other_id = 3 - checker_id;
    expect_line(checker_id, ZDC_LOG_ERROR, "DTLS handshake failed: fingerprint mismatch");
    expect_line(checker_id, ZDC_LOG_WARN, "DTLS alert sent: fatal bad certificate (42)");
    expect_line(other_id, ZDC_LOG_ERROR, "DTLS handshake failed: no answer after");
}

Test(dtls, fingerprint_mismatch_seen_by_client)
{
    mismatch(true);
}
Test(dtls, fingerprint_mismatch_seen_by_server)
{
    mismatch(false);
}

Test(dtls, fingerprint_other_hashes)
{
    zdc_dtls_fingerprint fa, fb;
    cr_assert_eq(zdc_dtls_cert_digest(B.cert, ZDC_DTLS_HASH_SHA512, &fb), 0);
    cr_assert_eq(zdc_dtls_cert_digest(A.cert, ZDC_DTLS_HASH_SHA384, &fa), 0);
    cr_assert_eq(fb.len, 64);
    cr_assert_eq(fa.len, 48);
    A.d = endpoint(&A, ZDC_DTLS_CLIENT, fb);
    B.d = endpoint(&B, ZDC_DTLS_SERVER, fa);
    start_both();
    pump();
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
}

Test(dtls, fingerprint_sha1_accepted)
{
    zdc_dtls_fingerprint fa, fb;
    cr_assert_eq(zdc_dtls_cert_digest(B.cert, ZDC_DTLS_HASH_SHA1, &fb), 0);
    cr_assert_eq(zdc_dtls_cert_digest(A.cert, ZDC_DTLS_HASH_SHA256, &fa), 0);
    cr_assert_eq(memcmp(fa.bytes, zdc_dtls_cert_fingerprint(A.cert), 32), 0);
    A.d = endpoint(&A, ZDC_DTLS_CLIENT, fb);
    B.d = endpoint(&B, ZDC_DTLS_SERVER, fa);
    start_both();
    pump();
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
}

/* ---- retransmission on the fake clock -------------------------------------------------- */

Test(dtls, lost_client_hello_is_retransmitted_at_deadline)
{
    make_pair(false);
    A.drop_out = 1;
    start_both();
    pump();
    cr_assert_eq(B.in_tail, 0u);
    uint64_t t0 = g_now;
    cr_assert_eq(zdc_dtls_next_timeout(A.d), t0 + 1 * SEC);
    cr_assert_eq(zdc_dtls_next_timeout(B.d), ZDC_DTLS_NO_TIMEOUT);
    /* 1 ns early: nothing */
    g_now = t0 + 1 * SEC - 1;
    cr_assert_eq(zdc_dtls_handle_timeout(A.d, g_now), 0);
    cr_assert_eq(A.sent, 1u);
    /* lose the retransmission too: the timer doubles (RFC 6347 §4.2.4.1) */
    A.drop_out = 1;
    advance_to_deadline();
    cr_assert_eq(A.sent, 2u);
    cr_assert_eq(g_now, t0 + 1 * SEC);
    cr_assert_eq(zdc_dtls_next_timeout(A.d), t0 + 3 * SEC);
    advance_to_deadline();
    cr_assert_eq(A.sent, 3u);
    pump();
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    zdc_dtls_stats st;
    zdc_dtls_get_stats(A.d, &st);
    cr_assert_eq(st.retransmits, 2u);
    roundtrip(&A, &B, 100);
    roundtrip(&B, &A, 100);
}

/* Drops every datagram of the n-th flight of the handshake (1 = ClientHello, 2 = server
 * hello .. done, 3 = client certificate .. finished, 4 = server CCS + finished), then lets
 * the timers recover. */
static void lose_flight(int flight, bool swap)
{
    make_pair(swap);
    side *cli = swap ? &B : &A, *srv = swap ? &A : &B;
    start_both(); /* flight 1 is in the server's queue */
    if (flight == 1)
        srv->in_head = srv->in_tail; /* lost */
    for (int f = 2; f <= 4; f++) {
        side *producer = f % 2 == 0 ? srv : cli; /* its input makes flight f */
        if (f == flight)
            producer->drop_out = 1000;
        while (producer->in_head != producer->in_tail) {
            pkt p = producer->in[producer->in_head++ % QCAP];
            (void)zdc_dtls_handle_datagram(producer->d, p.b, p.len, g_now);
        }
        producer->drop_out = 0;
    }
    pump();
    int rounds = 0;
    while (zdc_dtls_get_state(A.d) != ZDC_DTLS_CONNECTED ||
           zdc_dtls_get_state(B.d) != ZDC_DTLS_CONNECTED) {
        cr_assert_lt(++rounds, 4, "flight %d: no recovery", flight);
        advance_to_deadline();
        pump();
    }
    cr_assert_geq(rounds, 1, "flight %d was not lost", flight);
    cr_assert_eq(g_now, 1 * SEC + 1 * SEC, "recovered on the first 1 s timer");
    roundtrip(&A, &B, 500);
    roundtrip(&B, &A, 500);
}

Test(dtls, lost_flight_1)
{
    lose_flight(1, false);
}
Test(dtls, lost_flight_2)
{
    lose_flight(2, false);
}
Test(dtls, lost_flight_3)
{
    lose_flight(3, true);
}
/* The server is done after flight 4; the client's retransmitted flight 3 (with a Finished in
 * epoch 1) must make the server resend its last flight. */
Test(dtls, lost_final_flight)
{
    lose_flight(4, false);
}

Test(dtls, retransmissions_exhausted_fail_with_timeout)
{
    make_pair(false);
    A.drop_out = 1000;
    start_both();
    uint64_t t0 = g_now, expect = t0, step = 1 * SEC;
    for (int i = 0; i < ZDC_DTLS_DEFAULT_RETRIES; i++) {
        expect += step;
        cr_assert_eq(zdc_dtls_next_timeout(A.d), expect, "retransmission %d", i + 1);
        advance_to_deadline();
        cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTING);
        step = step * 2 > 60 * SEC ? 60 * SEC : step * 2;
    }
    cr_assert_eq(A.sent, 1u + ZDC_DTLS_DEFAULT_RETRIES);
    expect += step;
    cr_assert_eq(zdc_dtls_next_timeout(A.d), expect);
    g_now = expect;
    cr_assert_eq(zdc_dtls_handle_timeout(A.d, g_now), ZDC_ERR_TIMEOUT);
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_FAILED);
    cr_assert_eq(zdc_dtls_error(A.d), ZDC_ERR_TIMEOUT);
    cr_assert_eq(zdc_dtls_next_timeout(A.d), ZDC_DTLS_NO_TIMEOUT);
    cr_assert_eq(A.sent, 1u + ZDC_DTLS_DEFAULT_RETRIES);
}

/* If the loop's clock runs ahead of OpenSSL's (here: OpenSSL's clock is held back), a timer
 * call at zdc's deadline sends nothing and re-arms at OpenSSL's remaining time. */
Test(dtls, openssl_clock_behind_rearms_instead_of_spinning)
{
    make_pair(false);
    A.drop_out = 1;
    start_both();
    uint64_t t0 = g_now;
    g_now = t0 + 1 * SEC;
    /* the loop thinks 1 s passed; OpenSSL's clock sees only 700 ms */
    g_now -= 300 * MS;
    uint64_t loop_now = t0 + 1 * SEC;
    cr_assert_eq(zdc_dtls_handle_timeout(A.d, loop_now), 0);
    cr_assert_eq(A.sent, 1u, "OpenSSL declined: nothing sent");
    cr_assert_eq(zdc_dtls_next_timeout(A.d), loop_now + 300 * MS);
    g_now = t0 + 1 * SEC; /* OpenSSL's clock catches up */
    cr_assert_eq(zdc_dtls_handle_timeout(A.d, loop_now + 300 * MS), 0);
    cr_assert_eq(A.sent, 2u);
}

/* ---- garbage, truncation, forged alerts ------------------------------------------------ */

Test(dtls, garbage_before_and_after_handshake_is_ignored)
{
    make_pair(false);
    start_both();
    /* the ClientHello, truncated at every length, and garbage: the server stays quiet */
    pkt ch = B.in[B.in_head % QCAP];
    for (size_t n = 1; n < ch.len; n += 7)
        feed(&B, ch.b, n);
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 17);
    junk[0] = 22;
    feed(&B, junk, sizeof junk);
    /* a well-framed record header around a junk handshake fragment */
    uint8_t badhs[13 + 12] = {22, 0xfe, 0xfd, 0,  0, 0, 0, 0, 0,  0, 0, 0, 12,
                              1,  0,    0,    50, 0, 0, 0, 0, 60, 0, 0, 0};
    feed(&B, badhs, sizeof badhs);
    feed(&B, forged_alert, sizeof forged_alert);
    feed(&B, (const uint8_t *)"", 0);
    cr_assert_eq(B.sent, 0u, "no answer to garbage");
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTING);
    /* a forged fatal alert in the client's flight does not stop the client */
    feed(&A, forged_alert, sizeof forged_alert);
    pump();
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    zdc_dtls_stats st;
    zdc_dtls_get_stats(B.d, &st);
    cr_assert_eq(st.alerts_ignored, 1u);
    cr_assert_eq(st.last_ignored_alert, 40);
    cr_assert_geq(st.datagrams_dropped, ch.len / 7);

    /* after the handshake: captured app datagram, replayed / bit-flipped / truncated */
    roundtrip(&A, &B, 64);
    pkt app = A.last_sent;
    feed(&B, app.b, app.len); /* replay: anti-replay window drops it */
    pkt flipped = app;
    flipped.b[flipped.len - 1] ^= 0x80; /* bad GCM tag: silently discarded */
    feed(&B, flipped.b, flipped.len);
    feed(&B, app.b, app.len - 1);
    feed(&B, junk, sizeof junk);
    feed(&B, forged_alert, sizeof forged_alert);
    cr_assert_eq(B.nmsgs, 1u, "nothing but the original delivered");
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    roundtrip(&A, &B, 64);
    roundtrip(&B, &A, 64);
}

Test(dtls, many_random_datagrams_never_kill_a_live_association)
{
    connect_pair(false);
    uint32_t x = 12345;
    uint8_t buf[1500];
    for (int i = 0; i < 2000; i++) {
        size_t len = 1 + (x % 1400);
        for (size_t k = 0; k < len; k++) {
            x = x * 1103515245u + 12345u;
            buf[k] = (uint8_t)(x >> 16);
        }
        buf[0] = (uint8_t)(20 + i % 4); /* RFC 7983: what the demux hands to DTLS */
        if (i % 3 == 0 && len > 3) {
            buf[1] = 0xfe;
            buf[2] = 0xfd;
        }
        feed(&B, buf, len);
    }
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(B.nmsgs, 0u);
    roundtrip(&A, &B, 1000);
    roundtrip(&B, &A, 1000);
}

/* ---- close ----------------------------------------------------------------------------- */

Test(dtls, close_notify_reaches_the_peer)
{
    connect_pair(false);
    roundtrip(&A, &B, 10);
    size_t sent = A.sent;
    cr_assert_eq(zdc_dtls_close(A.d), 0);
    cr_assert_eq(A.sent, sent + 1, "close_notify");
    cr_assert_eq(A.last_sent.b[0], 21);
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CLOSED);
    cr_assert_eq(zdc_dtls_close(A.d), ZDC_ERR_CLOSED);
    cr_assert_eq(zdc_dtls_send(A.d, (const uint8_t *)"x", 1), ZDC_ERR_CLOSED);
    pump(); /* B reads close_notify and answers with its own; A ignores it */
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CLOSED);
    cr_assert_eq(zdc_dtls_error(B.d), 0);
    cr_assert_eq(zdc_dtls_send(B.d, (const uint8_t *)"x", 1), ZDC_ERR_CLOSED);
    zdc_dtls_stats st;
    zdc_dtls_get_stats(A.d, &st);
    cr_assert_eq(st.datagrams_dropped, 1u, "B's close_notify arrived after A closed");
    cr_assert_eq(zdc_dtls_handle_datagram(A.d, (const uint8_t *)"\x17", 1, g_now), ZDC_ERR_CLOSED);
}

Test(dtls, close_during_handshake_sends_nothing)
{
    make_pair(false);
    start_both();
    size_t sent = A.sent;
    cr_assert_eq(zdc_dtls_close(A.d), 0);
    cr_assert_eq(A.sent, sent);
    cr_assert_eq(zdc_dtls_next_timeout(A.d), ZDC_DTLS_NO_TIMEOUT);
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CLOSED);
}

/* ---- lifetimes ------------------------------------------------------------------------- */

Test(dtls, create_free_cycles)
{
    for (int i = 0; i < 40; i++) {
        connect_pair(i % 2);
        roundtrip(&A, &B, (size_t)i * 25);
        if (i % 3 == 0)
            zdc_dtls_close(A.d);
        zdc_dtls_free(A.d);
        zdc_dtls_free(B.d);
        A.d = B.d = NULL;
        A.in_head = A.in_tail = B.in_head = B.in_tail = 0;
        A.nmsgs = B.nmsgs = 0;
    }
    /* freed mid-handshake, and never started */
    for (int i = 0; i < 200; i++) {
        make_pair(false);
        if (i % 2)
            start_both();
        if (i % 4 == 1)
            pump();
        zdc_dtls_free(A.d);
        zdc_dtls_free(B.d);
        A.d = B.d = NULL;
        A.in_head = A.in_tail = B.in_head = B.in_tail = 0;
    }
    /* a certificate outlives its caller's reference while endpoints use it */
    zdc_dtls_cert *c;
    cr_assert_eq(zdc_dtls_cert_new(&c), 0);
    zdc_dtls_cert *keep = A.cert;
    A.cert = c;
    make_pair(false);
    zdc_dtls_cert_free(c);
    A.cert = keep;
    start_both();
    pump();
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED, "the dropped cert still works");
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(zdc_dtls_cert_new(&c), 0);
        zdc_dtls_cert_free(c);
    }
}

/* ---- DTLS 1.3-capable and use_srtp-offering clients ------------------------------------ */

/* Walks the hello at the start of datagram `p` (record 13 + handshake header 12) and reports
 * the version, the cipher (ServerHello), and whether extension `ext` is present. */
static bool hello_ext(const uint8_t *p, size_t len, uint16_t ext, uint16_t *version,
                      uint16_t *cipher, const uint8_t **body, uint16_t *body_len)
{
    zdc_rd r;
    uint8_t type, n8;
    uint16_t n16, t, l;
    zdc_rd_init(&r, p, len);
    cr_assert_eq(zdc_rd_skip(&r, 13), 0);
    cr_assert_eq(zdc_rd_u8(&r, &type), 0);
    cr_assert_eq(zdc_rd_skip(&r, 11), 0);
    cr_assert_eq(zdc_rd_u16(&r, version), 0);
    cr_assert_eq(zdc_rd_skip(&r, 32), 0);
    cr_assert_eq(zdc_rd_u8(&r, &n8), 0); /* session id */
    cr_assert_eq(zdc_rd_skip(&r, n8), 0);
    if (type == 1) {
        cr_assert_eq(zdc_rd_u8(&r, &n8), 0); /* cookie */
        cr_assert_eq(zdc_rd_skip(&r, n8), 0);
        cr_assert_eq(zdc_rd_u16(&r, &n16), 0); /* cipher suites */
        cr_assert_eq(zdc_rd_skip(&r, n16), 0);
        cr_assert_eq(zdc_rd_u8(&r, &n8), 0); /* compression */
        cr_assert_eq(zdc_rd_skip(&r, n8), 0);
    } else {
        cr_assert_eq(type, 2);
        cr_assert_eq(zdc_rd_u16(&r, cipher), 0);
        cr_assert_eq(zdc_rd_skip(&r, 1), 0);
    }
    if (zdc_rd_left(&r) == 0)
        return false;
    cr_assert_eq(zdc_rd_u16(&r, &n16), 0);
    cr_assert_leq(n16, zdc_rd_left(&r));
    zdc_rd_init(&r, zdc_rd_cur(&r), n16); /* just the extensions block */
    while (zdc_rd_left(&r) > 0) {
        cr_assert_eq(zdc_rd_u16(&r, &t), 0);
        cr_assert_eq(zdc_rd_u16(&r, &l), 0);
        const uint8_t *b = zdc_rd_cur(&r);
        cr_assert_eq(zdc_rd_skip(&r, l), 0);
        if (t == ext) {
            if (body != NULL) {
                *body = b;
                *body_len = l;
            }
            return true;
        }
    }
    return false;
}

static bool hello_has_ext(const uint8_t *p, size_t len, uint16_t ext, uint16_t *version,
                          uint16_t *cipher)
{
    return hello_ext(p, len, ext, version, cipher, NULL, NULL);
}

/* RFC 5764 §4.1.1 UseSRTPData: profiles<2..2^16-1> (2 bytes each), then srtp_mki<0..255>.
 * Returns how many profiles it lists, copied into `out` (up to `cap`); the MKI must be empty. */
static size_t srtp_profiles(const uint8_t *body, uint16_t len, uint16_t *out, size_t cap)
{
    zdc_rd r;
    uint16_t n, v;
    uint8_t mki;
    size_t k = 0;
    zdc_rd_init(&r, body, len);
    cr_assert_eq(zdc_rd_u16(&r, &n), 0);
    cr_assert(n >= 2 && n % 2 == 0, "profile list length %u", n);
    for (uint16_t i = 0; i < n / 2; i++) {
        cr_assert_eq(zdc_rd_u16(&r, &v), 0);
        if (k < cap)
            out[k] = v;
        k++;
    }
    cr_assert_eq(zdc_rd_u8(&r, &mki), 0);
    cr_assert_eq(mki, 0, "no MKI");
    cr_assert_eq(zdc_rd_left(&r), 0u, "nothing after the MKI");
    return k;
}

#define EXT_USE_SRTP           0x000e
#define SRTP_AES128_CM_SHA1_80 0x0001 /* RFC 5764 §4.1.2 */
#define SRTP_AEAD_AES_128_GCM  0x0007 /* RFC 7714 §14.2 */
#define EXT_SUPPORTED_VERSIONS 0x002b
#define EXT_KEY_SHARE          0x0033

static void make_openssl_cert(EVP_PKEY **key, X509 **x)
{
    *key = EVP_EC_gen("P-256");
    *x = X509_new();
    cr_assert_not_null(*key);
    ASN1_INTEGER_set(X509_get_serialNumber(*x), 7);
    X509_gmtime_adj(X509_getm_notBefore(*x), 0);
    X509_gmtime_adj(X509_getm_notAfter(*x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(*x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"peer", -1, -1, 0);
    X509_set_issuer_name(*x, X509_get_subject_name(*x));
    X509_set_pubkey(*x, *key);
    cr_assert_gt(X509_sign(*x, *key, EVP_sha256()), 0);
}

static int accept_any(int ok, X509_STORE_CTX *xs)
{
    (void)ok;
    (void)xs;
    return 1;
}

/* An OpenSSL client with the widest version range the library allows and use_srtp offered,
 * against a zdc server. OpenSSL 3.0 has no DTLS 1.3 at all (no DTLS1_3_VERSION), so its
 * widest range tops out at 1.2; the crafted ClientHello below covers a real 1.3 offer. */
Test(dtls, openssl_client_any_version_with_use_srtp)
{
    EVP_PKEY *key;
    X509 *x;
    zdc_dtls_fingerprint fp = {.hash = ZDC_DTLS_HASH_SHA256, .len = 32};
    unsigned int n;
    uint8_t buf[8192];
    int len;

    make_openssl_cert(&key, &x);
    cr_assert_eq(X509_digest(x, EVP_sha256(), fp.bytes, &n), 1);
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    cr_assert_eq(SSL_CTX_set_min_proto_version(ctx, 0), 1);
#ifdef DTLS1_3_VERSION
    cr_assert_eq(SSL_CTX_set_max_proto_version(ctx, DTLS1_3_VERSION), 1);
#else
    cr_assert_eq(SSL_CTX_set_max_proto_version(ctx, 0), 1); /* "highest supported" */
#endif
    cr_assert_eq(SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"),
                 0);
    SSL_CTX_use_certificate(ctx, x);
    SSL_CTX_use_PrivateKey(ctx, key);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    SSL *cli = SSL_new(ctx);
    BIO *rd = BIO_new(BIO_s_mem()), *wr = BIO_new(BIO_s_mem());
    SSL_set_bio(cli, rd, wr);
    SSL_set_mtu(cli, 1200);
    SSL_set_connect_state(cli);

    B.d = endpoint(&B, ZDC_DTLS_SERVER, fp);
    cr_assert_eq(zdc_dtls_start(B.d, g_now), 0);
    cr_assert_eq(SSL_do_handshake(cli), -1);
    len = BIO_read(wr, buf, sizeof buf);
    cr_assert_gt(len, 0);
    uint16_t v, c;
    cr_assert(hello_has_ext(buf, (size_t)len, EXT_USE_SRTP, &v, &c), "client offers use_srtp");
    feed(&B, buf, (size_t)len);
    for (int round = 0; round < 10 && !SSL_is_init_finished(cli); round++) {
        while (A.in_head != A.in_tail) {
            pkt *p = &A.in[A.in_head++ % QCAP];
            if (p->b[13] == 2) { /* ServerHello */
                const uint8_t *body;
                uint16_t blen, prof[4];
                cr_assert(hello_ext(p->b, p->len, EXT_USE_SRTP, &v, &c, &body, &blen),
                          "the server selects a use_srtp profile");
                cr_assert_eq(srtp_profiles(body, blen, prof, 4), 1u, "exactly one selected");
                cr_assert_eq(prof[0], SRTP_AEAD_AES_128_GCM);
                cr_assert_eq(v, 0xfefd, "DTLS 1.2");
                cr_assert_eq(c, 0xc02b);
            }
            BIO_write(rd, p->b, (int)p->len);
            (void)SSL_do_handshake(cli);
        }
        while ((len = BIO_read(wr, buf, sizeof buf)) > 0)
            feed(&B, buf, (size_t)len);
    }
    cr_assert(SSL_is_init_finished(cli));
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(SSL_version(cli), DTLS1_2_VERSION);
    const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(cli);
    cr_assert_not_null(sp, "OpenSSL's client sees a negotiated SRTP profile");
    cr_assert_str_eq(sp->name, "SRTP_AEAD_AES_128_GCM");
    cr_assert_str_eq(zdc_dtls_srtp_profile(B.d), "SRTP_AEAD_AES_128_GCM");
    cr_assert_str_eq(zdc_dtls_version(B.d), "DTLSv1.2");
    /* data both ways */
    cr_assert_eq(SSL_write(cli, "hello", 5), 5);
    len = BIO_read(wr, buf, sizeof buf);
    feed(&B, buf, (size_t)len);
    cr_assert_eq(B.nmsgs, 1u);
    cr_assert_eq(memcmp(B.msgs[0].b, "hello", 5), 0);
    cr_assert_eq(zdc_dtls_send(B.d, (const uint8_t *)"world", 5), 0);
    pkt *p = &A.in[A.in_head++ % QCAP];
    BIO_write(rd, p->b, (int)p->len);
    cr_assert_eq(SSL_read(cli, buf, sizeof buf), 5);
    cr_assert_eq(memcmp(buf, "world", 5), 0);
    SSL_free(cli);
    SSL_CTX_free(ctx);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void put_u24(zdc_wr *w, uint32_t v)
{
    zdc_wr_u8(w, (uint8_t)(v >> 16));
    zdc_wr_u16(w, (uint16_t)v);
}

/* A browser-style ClientHello, as Chromium and Firefox send when they could speak DTLS 1.3:
 * record version DTLS 1.0, client_version DTLS 1.2, supported_versions {1.3, 1.2}, key_share
 * X25519, use_srtp {AEAD_AES_128_GCM, AEAD_AES_256_GCM, AES128_CM_SHA1_80}, and GCM and ChaCha
 * suites. The zdc server must answer with a DTLS 1.2 ServerHello choosing
 * ECDHE-ECDSA-AES128-GCM-SHA256 and use_srtp SRTP_AEAD_AES_128_GCM, with neither
 * supported_versions nor key_share in it. */
Test(dtls, browser_style_client_hello_offering_dtls13_and_srtp)
{
    uint8_t ch[600];
    zdc_wr w;
    zdc_wr_init(&w, ch, sizeof ch);
    /* record: handshake, DTLS 1.0, epoch 0, seq 0, length (patched) */
    zdc_wr_u8(&w, 22);
    zdc_wr_u16(&w, 0xfeff);
    zdc_wr_u16(&w, 0);
    zdc_wr_zeros(&w, 6);
    uint8_t *rec_len = zdc_wr_reserve(&w, 2);
    size_t hs_start = w.len;
    /* handshake: client_hello, length, message_seq 0, fragment 0..length */
    zdc_wr_u8(&w, 1);
    uint8_t *msg_len = zdc_wr_reserve(&w, 3);
    zdc_wr_u16(&w, 0);
    put_u24(&w, 0);
    uint8_t *frag_len = zdc_wr_reserve(&w, 3);
    size_t body_start = w.len;
    zdc_wr_u16(&w, 0xfefd); /* client_version DTLS 1.2 */
    for (int i = 0; i < 32; i++)
        zdc_wr_u8(&w, (uint8_t)(i * 29 + 3));                 /* random */
    zdc_wr_u8(&w, 0);                                         /* session_id */
    zdc_wr_u8(&w, 0);                                         /* cookie */
    static const uint16_t suites[] = {0x1301, 0x1302, 0x1303, /* TLS 1.3 suites */
                                      0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc009, 0xc013,
                                      0xc00a, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
    zdc_wr_u16(&w, sizeof suites);
    for (size_t i = 0; i < sizeof suites / 2; i++)
        zdc_wr_u16(&w, suites[i]);
    zdc_wr_u8(&w, 1); /* compression: null */
    zdc_wr_u8(&w, 0);
    uint8_t *ext_len = zdc_wr_reserve(&w, 2);
    size_t ext_start = w.len;
    static const uint8_t exts[] = {
        0x00, 0x17, 0x00, 0x00,       /* extended_master_secret */
        0xff, 0x01, 0x00, 0x01, 0x00, /* renegotiation_info */
        0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, /* groups */
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, /* ec_point_formats */
        0x00, 0x0d, 0x00, 0x0c, 0x00, 0x0a, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05,
        0x03, 0x08, 0x05, /* signature_algorithms */
        0x00, 0x0e, 0x00, 0x09, 0x00, 0x06, 0x00, 0x07, 0x00, 0x08, 0x00, 0x01, 0x00, /* srtp */
        0x00, 0x2b, 0x00, 0x05, 0x04, 0xfe, 0xfc, 0xfe, 0xfd, /* versions 1.3, 1.2 */
        0x00, 0x2d, 0x00, 0x02, 0x01, 0x01,                   /* psk_key_exchange_modes */
    };
    zdc_wr_bytes(&w, exts, sizeof exts);
    zdc_wr_u16(&w, EXT_KEY_SHARE); /* key_share: X25519, 32-byte public value */
    zdc_wr_u16(&w, 2 + 4 + 32);
    zdc_wr_u16(&w, 4 + 32);
    zdc_wr_u16(&w, 0x001d);
    zdc_wr_u16(&w, 32);
    for (int i = 0; i < 32; i++)
        zdc_wr_u8(&w, (uint8_t)(9 + i));
    cr_assert_gt(zdc_wr_finish(&w), 0);
    zdc_store_u16(ext_len, (uint16_t)(w.len - ext_start));
    uint32_t body = (uint32_t)(w.len - body_start);
    for (int i = 0; i < 3; i++) {
        msg_len[i] = (uint8_t)(body >> (16 - 8 * i));
        frag_len[i] = (uint8_t)(body >> (16 - 8 * i));
    }
    zdc_store_u16(rec_len, (uint16_t)(w.len - hs_start));

    B.d = endpoint(&B, ZDC_DTLS_SERVER, fp_of(A.cert));
    cr_assert_eq(zdc_dtls_start(B.d, g_now), 0);
    feed(&B, ch, w.len);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTING);
    cr_assert_geq(B.sent, 1u, "the server answered");
    pkt *sh = &A.in[A.in_head % QCAP];
    uint16_t v = 0, c = 0;
    cr_assert_eq(sh->b[13], 2, "ServerHello, no HelloVerifyRequest");
    const uint8_t *ext;
    uint16_t blen, prof[4];
    cr_assert(hello_ext(sh->b, sh->len, EXT_USE_SRTP, &v, &c, &ext, &blen));
    cr_assert_eq(srtp_profiles(ext, blen, prof, 4), 1u);
    cr_assert_eq(prof[0], SRTP_AEAD_AES_128_GCM);
    cr_assert_not(hello_has_ext(sh->b, sh->len, EXT_SUPPORTED_VERSIONS, &v, &c));
    cr_assert_not(hello_has_ext(sh->b, sh->len, EXT_KEY_SHARE, &v, &c));
    cr_assert_eq(v, 0xfefd, "DTLS 1.2");
    cr_assert_eq(c, 0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256");
    /* the flight also carries Certificate, ServerKeyExchange, CertificateRequest, Done */
    cr_assert_eq(zdc_dtls_next_timeout(B.d), g_now + 1 * SEC);
}

/* ---- an OpenSSL client against a zdc server: cipher, group and certificate choices ----- */

typedef struct ossl_peer {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rd, *wr;
    EVP_PKEY *key;
    X509 *x;
} ossl_peer;

/* An OpenSSL client with the given cipher list, groups, certificate and use_srtp profiles (NULL:
 * OpenSSL's defaults / none) runs its handshake against a zdc server B. */
static void ossl_client_run(ossl_peer *o, const char *ciphers, const char *groups, bool cert,
                            const char *srtp)
{
    zdc_dtls_fingerprint fp = {.hash = ZDC_DTLS_HASH_SHA256, .len = 32};
    unsigned int n;
    uint8_t buf[8192];
    int len;

    memset(o, 0, sizeof *o);
    make_openssl_cert(&o->key, &o->x);
    cr_assert_eq(X509_digest(o->x, EVP_sha256(), fp.bytes, &n), 1);
    o->ctx = SSL_CTX_new(DTLS_method());
    if (ciphers)
        cr_assert_eq(SSL_CTX_set_cipher_list(o->ctx, ciphers), 1);
    if (groups)
        cr_assert_eq(SSL_CTX_set1_groups_list(o->ctx, groups), 1);
    if (srtp)
        cr_assert_eq(SSL_CTX_set_tlsext_use_srtp(o->ctx, srtp), 0); /* 0 is success */
    if (cert) {
        SSL_CTX_use_certificate(o->ctx, o->x);
        SSL_CTX_use_PrivateKey(o->ctx, o->key);
    }
    SSL_CTX_set_verify(o->ctx, SSL_VERIFY_PEER, accept_any);
    SSL_CTX_set_options(o->ctx, SSL_OP_NO_QUERY_MTU);
    o->ssl = SSL_new(o->ctx);
    o->rd = BIO_new(BIO_s_mem());
    o->wr = BIO_new(BIO_s_mem());
    SSL_set_bio(o->ssl, o->rd, o->wr);
    SSL_set_mtu(o->ssl, 1200);
    SSL_set_connect_state(o->ssl);
    B.d = endpoint(&B, ZDC_DTLS_SERVER, fp);
    cr_assert_eq(zdc_dtls_start(B.d, g_now), 0);
    (void)SSL_do_handshake(o->ssl);
    for (int round = 0; round < 10; round++) {
        while ((len = BIO_read(o->wr, buf, sizeof buf)) > 0)
            (void)zdc_dtls_handle_datagram(B.d, buf, (size_t)len, g_now);
        if (A.in_head == A.in_tail)
            break;
        while (A.in_head != A.in_tail) {
            pkt *p = &A.in[A.in_head++ % QCAP];
            BIO_write(o->rd, p->b, (int)p->len);
            (void)SSL_do_handshake(o->ssl);
        }
    }
    ERR_clear_error();
}

static void ossl_peer_free(ossl_peer *o)
{
    SSL_free(o->ssl);
    SSL_CTX_free(o->ctx);
    X509_free(o->x);
    EVP_PKEY_free(o->key);
    ERR_clear_error();
}

static void expect_cipher(const char *offer, const char *chosen)
{
    ossl_peer o;
    ossl_client_run(&o, offer, NULL, true, NULL);
    cr_assert(SSL_is_init_finished(o.ssl), "offer %s", offer);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    cr_assert_str_eq(zdc_dtls_cipher(B.d), chosen);
    cr_assert_str_eq(SSL_CIPHER_get_name(SSL_get_current_cipher(o.ssl)), chosen);
    ossl_peer_free(&o);
}

Test(dtls, chacha_only_client)
{
    expect_cipher("ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305");
}

Test(dtls, aes256_only_client)
{
    expect_cipher("ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384");
}

Test(dtls, server_preference_wins_over_client_order)
{
    expect_cipher("ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
                  "ECDHE-ECDSA-AES128-GCM-SHA256",
                  "ECDHE-ECDSA-AES128-GCM-SHA256");
}

Test(dtls, cbc_only_client_is_refused)
{
    ossl_peer o;
    ossl_client_run(&o, "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA", NULL, true, NULL);
    cr_assert_not(SSL_is_init_finished(o.ssl));
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_FAILED);
    cr_assert_eq(zdc_dtls_error(B.d), ZDC_ERR_PROTOCOL);
    ossl_peer_free(&o);
}

Test(dtls, groups_x25519_preferred_p256_accepted_p384_refused)
{
    ossl_peer o;
    ossl_client_run(&o, NULL, NULL, true, NULL); /* OpenSSL's default list starts with X25519 */
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(SSL_get_negotiated_group(o.ssl), NID_X25519);
    ossl_peer_free(&o);
    zdc_dtls_free(B.d);
    A.in_head = A.in_tail = 0;

    ossl_client_run(&o, NULL, "P-256", true, NULL);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(SSL_get_negotiated_group(o.ssl), NID_X9_62_prime256v1);
    ossl_peer_free(&o);
    zdc_dtls_free(B.d);
    A.in_head = A.in_tail = 0;

    ossl_client_run(&o, NULL, "P-384", true, NULL);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_FAILED);
    ossl_peer_free(&o);
}

/* RFC 8827 §6.5: the server requires a client certificate. */
Test(dtls, client_without_certificate_is_refused)
{
    ossl_peer o;
    ossl_client_run(&o, NULL, NULL, false, NULL);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_FAILED);
    cr_assert_eq(zdc_dtls_error(B.d), ZDC_ERR_PROTOCOL);
    cr_assert_eq(B.nmsgs, 0u);
    ossl_peer_free(&o);
}

/* OpenSSL also retransmits on its own when its (gettimeofday) timer has expired and a read
 * finds no complete message; zdc re-derives its deadline from that call's now_ns. */
Test(dtls, openssl_retransmits_inside_a_read_when_expired)
{
    make_pair(false);
    A.drop_out = 1;
    start_both();
    g_now += 1 * SEC; /* the timer expires, but the loop hands in a datagram first */
    /* a well-framed epoch-1 record: passes zdc's filter, OpenSSL buffers it for the next
     * epoch and discards it once it fails to decrypt */
    uint8_t stray[13 + 40] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 40};
    feed(&A, stray, sizeof stray);
    cr_assert_eq(A.sent, 2u, "retransmitted from inside the read");
    cr_assert_eq(zdc_dtls_next_timeout(A.d), g_now + 2 * SEC);
    zdc_dtls_stats st;
    zdc_dtls_get_stats(A.d, &st);
    cr_assert_eq(st.retransmits, 1u);
    pump();
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
}

/* Stray protected records of every short length, in the current and the next epoch: none
 * may hurt (OpenSSL 3.0 alone dies on lengths below the AEAD overhead). */
static void short_records_at(zdc_dtls *d, side *victim)
{
    uint8_t stray[13 + 64] = {0};
    for (int epoch = 1; epoch <= 2; epoch++)
        for (int type = 21; type <= 23; type++)
            for (int l = 0; l <= 64; l++) {
                uint8_t h[13] = {(uint8_t)type, 0xfe, 0xfd,      0, (uint8_t)epoch, 0, 0, 0, 0, 1,
                                 (uint8_t)l,    0,    (uint8_t)l};
                memcpy(stray, h, 13);
                feed(victim, stray, 13 + (size_t)l);
                cr_assert_neq(zdc_dtls_get_state(d), ZDC_DTLS_FAILED, "epoch %d type %d len %d",
                              epoch, type, l);
            }
}

Test(dtls, short_protected_records_gcm)
{
    connect_pair(false);
    short_records_at(B.d, &B);
    short_records_at(A.d, &A);
    roundtrip(&A, &B, 100);
    roundtrip(&B, &A, 100);
    /* and while the handshake runs (buffered for the next epoch) */
    zdc_dtls_free(A.d);
    zdc_dtls_free(B.d);
    A.in_head = A.in_tail = B.in_head = B.in_tail = 0;
    make_pair(false);
    start_both();
    short_records_at(A.d, &A);
    short_records_at(B.d, &B);
    pump();
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
}

Test(dtls, short_protected_records_chacha)
{
    ossl_peer o;
    uint8_t buf[256];
    ossl_client_run(&o, "ECDHE-ECDSA-CHACHA20-POLY1305", NULL, true, NULL);
    cr_assert_str_eq(zdc_dtls_cipher(B.d), "ECDHE-ECDSA-CHACHA20-POLY1305");
    short_records_at(B.d, &B);
    /* the smallest genuine ChaCha records (16-byte tag + 0..7 bytes) still get through */
    for (int l = 1; l <= 7; l++) {
        cr_assert_eq(SSL_write(o.ssl, "abcdefg", l), l);
        int len = BIO_read(o.wr, buf, sizeof buf);
        cr_assert_eq(len, 13 + 16 + l);
        feed(&B, buf, (size_t)len);
        cr_assert_eq(B.nmsgs, (size_t)l);
    }
    /* and a close_notify (2 + 16 bytes) */
    SSL_shutdown(o.ssl);
    int len = BIO_read(o.wr, buf, sizeof buf);
    cr_assert_eq(len, 13 + 18);
    feed(&B, buf, (size_t)len);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CLOSED);
    ossl_peer_free(&o);
}

/* An authenticated fatal alert ends the connection and is logged with its description. The
 * peer here is plain OpenSSL, which after the handshake asks to renegotiate: zdc refuses
 * (SSL_OP_NO_RENEGOTIATION: a warning no_renegotiation alert), and OpenSSL answers that with a
 * fatal handshake_failure alert in epoch 1, which zdc must act on (RFC 5246 §7.2.2). */
Test(dtls, fatal_alert_received_fails_the_connection_and_is_logged)
{
    EVP_PKEY *key;
    X509 *x;
    zdc_dtls_fingerprint fp = {.hash = ZDC_DTLS_HASH_SHA256, .len = 32};
    unsigned int n;
    uint8_t buf[8192];
    int len;

    make_openssl_cert(&key, &x);
    cr_assert_eq(X509_digest(x, EVP_sha256(), fp.bytes, &n), 1);
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    cr_assert_eq(SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION), 1);
    SSL_CTX_use_certificate(ctx, x);
    SSL_CTX_use_PrivateKey(ctx, key);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    SSL *cli = SSL_new(ctx);
    BIO *rd = BIO_new(BIO_s_mem()), *wr = BIO_new(BIO_s_mem());
    SSL_set_bio(cli, rd, wr);
    SSL_set_mtu(cli, 1200);
    SSL_set_connect_state(cli);

    B.d = endpoint(&B, ZDC_DTLS_SERVER, fp);
    cr_assert_eq(zdc_dtls_start(B.d, g_now), 0);
    for (int round = 0; round < 10 && !SSL_is_init_finished(cli); round++) {
        (void)SSL_do_handshake(cli);
        while ((len = BIO_read(wr, buf, sizeof buf)) > 0)
            feed(&B, buf, (size_t)len);
        while (A.in_head != A.in_tail) {
            pkt *p = &A.in[A.in_head++ % QCAP];
            BIO_write(rd, p->b, (int)p->len);
        }
    }
    (void)SSL_do_handshake(cli);
    cr_assert(SSL_is_init_finished(cli));
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    expect_line(2, ZDC_LOG_INFO, "DTLS connected as server: DTLSv1.2");

    /* the client asks to renegotiate: its ClientHello goes out in epoch 1 */
    cr_assert_eq(SSL_renegotiate(cli), 1);
    (void)SSL_do_handshake(cli);
    len = BIO_read(wr, buf, sizeof buf);
    cr_assert_gt(len, 0);
    feed(&B, buf, (size_t)len);
    expect_line(2, ZDC_LOG_DEBUG, "DTLS alert sent: warning no renegotiation (100)");
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED, "a refusal is not a failure");
    /* the client takes the refusal as fatal and says so */
    cr_assert_neq(A.in_head, A.in_tail, "zdc answered");
    while (A.in_head != A.in_tail) {
        pkt *p = &A.in[A.in_head++ % QCAP];
        BIO_write(rd, p->b, (int)p->len);
    }
    cr_assert_leq(SSL_read(cli, buf, sizeof buf), 0);
    ERR_clear_error();
    len = BIO_read(wr, buf, sizeof buf);
    cr_assert_gt(len, 0, "the client sent its alert");
    cr_assert_eq(buf[0], 21, "an alert record");
    cr_assert_neq(buf[3] | buf[4], 0, "in epoch 1: authenticated");
    (void)zdc_dtls_handle_datagram(B.d, buf, (size_t)len, g_now);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_FAILED);
    cr_assert_eq(zdc_dtls_error(B.d), ZDC_ERR_PROTOCOL);
    expect_line(2, ZDC_LOG_WARN, "DTLS alert received: fatal handshake failure (40)");
    expect_line(2, ZDC_LOG_ERROR,
                "DTLS connection failed: fatal alert received: handshake failure (40)");
    SSL_free(cli);
    SSL_CTX_free(ctx);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* ---- use_srtp (RFC 5764) against OpenSSL peers, both roles ------------------------------ */

/* The first datagram B sent (the ServerHello flight) carries use_srtp or not. */
static bool server_hello_has_srtp(void)
{
    uint16_t v, c;
    cr_assert_geq(A.in_tail, 1u);
    cr_assert_eq(A.in[0].b[13], 2, "ServerHello");
    return hello_has_ext(A.in[0].b, A.in[0].len, EXT_USE_SRTP, &v, &c);
}

Test(dtls, srtp_server_selects_the_one_profile_offered)
{
    ossl_peer o;
    ossl_client_run(&o, NULL, NULL, true, "SRTP_AES128_CM_SHA1_80");
    cr_assert(SSL_is_init_finished(o.ssl));
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    cr_assert(server_hello_has_srtp());
    const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(o.ssl);
    cr_assert_not_null(sp);
    cr_assert_str_eq(sp->name, "SRTP_AES128_CM_SHA1_80");
    cr_assert_str_eq(zdc_dtls_srtp_profile(B.d), "SRTP_AES128_CM_SHA1_80");
    expect_line(2, ZDC_LOG_INFO, "use_srtp SRTP_AES128_CM_SHA1_80");
    ossl_peer_free(&o);
}

/* A client that offers no use_srtp (libdatachannel built without media, old stacks) connects,
 * and the ServerHello carries no use_srtp (RFC 5764 §4.1.1: only in answer to an offer). */
Test(dtls, srtp_server_client_offering_none_connects)
{
    ossl_peer o;
    ossl_client_run(&o, NULL, NULL, true, NULL);
    cr_assert(SSL_is_init_finished(o.ssl));
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    cr_assert_not(server_hello_has_srtp());
    cr_assert_null(SSL_get_selected_srtp_profile(o.ssl));
    cr_assert_null(zdc_dtls_srtp_profile(B.d));
    expect_line(2, ZDC_LOG_INFO, "use_srtp none");
    ossl_peer_free(&o);
}

/* A client offering only profiles zdc does not list: no profile, no extension, connected. */
Test(dtls, srtp_server_client_offering_other_profiles_connects)
{
    ossl_peer o;
    ossl_client_run(&o, NULL, NULL, true, "SRTP_AEAD_AES_256_GCM");
    cr_assert(SSL_is_init_finished(o.ssl));
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    cr_assert_not(server_hello_has_srtp());
    cr_assert_null(SSL_get_selected_srtp_profile(o.ssl));
    cr_assert_null(zdc_dtls_srtp_profile(B.d));
    ossl_peer_free(&o);
}

/* An OpenSSL server (use_srtp profiles `srtp`, or none) against a zdc client A. */
static void ossl_server_run(ossl_peer *o, const char *srtp)
{
    zdc_dtls_fingerprint fp = {.hash = ZDC_DTLS_HASH_SHA256, .len = 32};
    unsigned int n;
    uint8_t buf[8192];
    int len;

    memset(o, 0, sizeof *o);
    make_openssl_cert(&o->key, &o->x);
    cr_assert_eq(X509_digest(o->x, EVP_sha256(), fp.bytes, &n), 1);
    o->ctx = SSL_CTX_new(DTLS_method());
    if (srtp)
        cr_assert_eq(SSL_CTX_set_tlsext_use_srtp(o->ctx, srtp), 0);
    SSL_CTX_use_certificate(o->ctx, o->x);
    SSL_CTX_use_PrivateKey(o->ctx, o->key);
    SSL_CTX_set_verify(o->ctx, SSL_VERIFY_PEER, accept_any);
    SSL_CTX_set_options(o->ctx, SSL_OP_NO_QUERY_MTU);
    o->ssl = SSL_new(o->ctx);
    o->rd = BIO_new(BIO_s_mem());
    o->wr = BIO_new(BIO_s_mem());
    SSL_set_bio(o->ssl, o->rd, o->wr);
    SSL_set_mtu(o->ssl, 1200);
    SSL_set_accept_state(o->ssl);
    A.d = endpoint(&A, ZDC_DTLS_CLIENT, fp);
    cr_assert_eq(zdc_dtls_start(A.d, g_now), 0);
    for (int round = 0; round < 10; round++) {
        if (B.in_head == B.in_tail)
            break;
        while (B.in_head != B.in_tail) {
            pkt *p = &B.in[B.in_head++ % QCAP];
            BIO_write(o->rd, p->b, (int)p->len);
            (void)SSL_do_handshake(o->ssl);
        }
        while ((len = BIO_read(o->wr, buf, sizeof buf)) > 0)
            (void)zdc_dtls_handle_datagram(A.d, buf, (size_t)len, g_now);
    }
    ERR_clear_error();
}

/* zdc's ClientHello (the first datagram A sent) offers exactly the browsers' two profiles. */
static void check_client_offer(void)
{
    const uint8_t *body;
    uint16_t blen, v, c, prof[4];
    cr_assert_geq(B.in_tail, 1u);
    cr_assert_eq(B.in[0].b[13], 1, "ClientHello");
    cr_assert(hello_ext(B.in[0].b, B.in[0].len, EXT_USE_SRTP, &v, &c, &body, &blen),
              "zdc's ClientHello offers use_srtp");
    cr_assert_eq(srtp_profiles(body, blen, prof, 4), 2u);
    cr_assert_eq(prof[0], SRTP_AEAD_AES_128_GCM);
    cr_assert_eq(prof[1], SRTP_AES128_CM_SHA1_80);
}

static void check_app_data_to_ossl(ossl_peer *o)
{
    uint8_t buf[64];
    cr_assert_eq(zdc_dtls_send(A.d, (const uint8_t *)"ping", 4), 0);
    pkt *p = &B.in[B.in_head++ % QCAP];
    BIO_write(o->rd, p->b, (int)p->len);
    cr_assert_eq(SSL_read(o->ssl, buf, sizeof buf), 4);
    cr_assert_eq(memcmp(buf, "ping", 4), 0);
}

Test(dtls, srtp_client_offer_selected_by_openssl_server)
{
    ossl_peer o;
    ossl_server_run(&o, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80");
    check_client_offer();
    cr_assert(SSL_is_init_finished(o.ssl));
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(o.ssl);
    cr_assert_not_null(sp);
    cr_assert_str_eq(sp->name, "SRTP_AEAD_AES_128_GCM");
    cr_assert_str_eq(zdc_dtls_srtp_profile(A.d), "SRTP_AEAD_AES_128_GCM");
    check_app_data_to_ossl(&o);
    ossl_peer_free(&o);
}

/* A server that prefers (or only has) the older profile: zdc accepts its choice. */
Test(dtls, srtp_client_accepts_the_server_choice)
{
    ossl_peer o;
    ossl_server_run(&o, "SRTP_AES128_CM_SHA1_80");
    cr_assert(SSL_is_init_finished(o.ssl));
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    cr_assert_str_eq(SSL_get_selected_srtp_profile(o.ssl)->name, "SRTP_AES128_CM_SHA1_80");
    cr_assert_str_eq(zdc_dtls_srtp_profile(A.d), "SRTP_AES128_CM_SHA1_80");
    ossl_peer_free(&o);
}

/* A server that does not do use_srtp ignores the offer; zdc connects without a profile. */
Test(dtls, srtp_client_against_server_without_srtp_connects)
{
    ossl_peer o;
    ossl_server_run(&o, NULL);
    check_client_offer();
    cr_assert(SSL_is_init_finished(o.ssl));
    cr_assert_eq(zdc_dtls_get_state(A.d), ZDC_DTLS_CONNECTED);
    cr_assert_null(SSL_get_selected_srtp_profile(o.ssl));
    cr_assert_null(zdc_dtls_srtp_profile(A.d));
    check_app_data_to_ossl(&o);
    ossl_peer_free(&o);
}
