/* The TCP/TLS stream to a TURN server (io/stream.c) against a server the test plays on
 * 127.0.0.1: RFC 6062 framing (messages split across reads and joined in one), the send queue
 * and its bound, and each failure with its reason: garbage on the stream, the server closing,
 * a refused connect, the connect deadline, and for TLS a certificate that is not verified or
 * does not match the pin (a self-signed certificate made here).
 *
 * ctest-labels: security */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "stream.h"
#include "zdc/error.h"

typedef struct got {
    int n;
    uint8_t msgs[8][256];
    size_t lens[8];
    int failed;
    char reason[320];
} got;

static void on_message(void *user, const uint8_t *p, size_t len)
{
    got *g = user;
    cr_assert_lt(g->n, 8);
    cr_assert_leq(len, sizeof g->msgs[0]);
    memcpy(g->msgs[g->n], p, len);
    g->lens[g->n++] = len;
}

static void on_failed(void *user, const char *reason)
{
    got *g = user;
    g->failed++;
    snprintf(g->reason, sizeof g->reason, "%s", reason);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A listening socket on 127.0.0.1 and its address. */
static int listener(zdc_addr *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 4) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    cr_assert_eq(zdc_addr_from_sockaddr(addr, (struct sockaddr *)&a, len), 0);
    return fd;
}

/* Runs the stream's I/O for up to ms (or until stop() says so). */
static void pump(zdc_stream *s, int ms, bool (*stop)(void *), void *arg)
{
    uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
    while (now_ns() < end && !(stop && stop(arg))) {
        struct pollfd p = {.fd = zdc_stream_fd(s), .events = zdc_stream_events(s)};
        if (p.events && poll(&p, 1, 5) > 0)
            zdc_stream_handle_io(s, p.revents, now_ns());
        zdc_stream_handle_timeout(s, now_ns());
        if (zdc_stream_state(s) == ZDC_STREAM_FAILED)
            break;
    }
}

static int accept_one(int lfd)
{
    for (int i = 0; i < 400; i++) {
        int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (c >= 0)
            return c;
        usleep(5000);
    }
    cr_assert_fail("no connection");
    return -1;
}

static zdc_stream *open_stream(const zdc_addr *server, got *g, bool tls, const char *pin)
{
    zdc_stream_config c = {.server = *server,
                           .tls = tls,
                           .fingerprint = pin,
                           .max_tx = 2048,
                           .user = g,
                           .on_message = on_message,
                           .on_failed = on_failed};
    zdc_stream *s = NULL;
    cr_assert_eq(zdc_stream_new(&c, now_ns(), &s), 0);
    return s;
}

/* A STUN Binding success with one SOFTWARE attribute of n bytes (n % 4 == 0): 20 + 4 + n. */
static size_t stun_msg(uint8_t *p, size_t n)
{
    memset(p, 0, 24 + n);
    p[1] = 0x01;
    p[0] = 0x01;
    p[2] = (uint8_t)((4 + n) >> 8);
    p[3] = (uint8_t)(4 + n);
    p[4] = 0x21, p[5] = 0x12, p[6] = 0xA4, p[7] = 0x42; /* magic cookie */
    p[8] = 7;                                           /* transaction id */
    p[20] = 0x80, p[21] = 0x22, p[22] = 0, p[23] = (uint8_t)n;
    memset(p + 24, 'z', n);
    return 24 + n;
}

static bool have(void *arg)
{
    got *g = arg;
    return g->n >= 3 || g->failed;
}

static bool failed(void *arg)
{
    return ((got *)arg)->failed > 0;
}

Test(stream, tcp_frames_split_and_joined_and_queue_sent_in_order)
{
    zdc_addr srv;
    int lfd = listener(&srv);
    got g = {0};
    zdc_stream *s = open_stream(&srv, &g, false, NULL);
    /* Queued while connecting; written once connected, in order. */
    cr_assert_eq(zdc_stream_send(s, (const uint8_t *)"first-", 6), 0);
    cr_assert_eq(zdc_stream_send(s, (const uint8_t *)"second", 6), 0);
    cr_assert_eq(zdc_stream_send(s, NULL, 3000), ZDC_ERR_INVALID_PARAMETER);
    uint8_t big[1500] = {0};
    cr_assert_eq(zdc_stream_send(s, big, sizeof big), 0);
    cr_assert_eq(zdc_stream_send(s, big, 600), ZDC_ERR_QUEUE_FULL, "max_tx 2048 bounds it");
    int c = accept_one(lfd);
    pump(s, 200, NULL, NULL);
    cr_assert_eq(zdc_stream_state(s), ZDC_STREAM_OPEN);
    cr_assert_eq(zdc_stream_queued(s), 0);
    uint8_t in[2048];
    size_t have_n = 0;
    for (int i = 0; i < 100 && have_n < 1512; i++) {
        ssize_t r = recv(c, in + have_n, sizeof in - have_n, MSG_DONTWAIT);
        if (r > 0)
            have_n += (size_t)r;
        else
            usleep(2000);
    }
    cr_assert_eq(have_n, 1512);
    cr_assert(memcmp(in, "first-second", 12) == 0);

    /* One STUN message in three pieces, then ChannelData (padded) and STUN in one write. */
    uint8_t m1[64], m2[64];
    size_t n1 = stun_msg(m1, 8);
    cr_assert_eq(send(c, m1, 3, 0), 3);
    pump(s, 30, NULL, NULL);
    cr_assert_eq(send(c, m1 + 3, 20, 0), 20);
    pump(s, 30, NULL, NULL);
    cr_assert_eq(g.n, 0, "nothing before the message is whole");
    cr_assert_eq(send(c, m1 + 23, n1 - 23, 0), (ssize_t)(n1 - 23));
    uint8_t joined[128];
    const uint8_t cd[] = {0x40, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0, 0, 0};
    memcpy(joined, cd, sizeof cd);
    size_t n2 = stun_msg(m2, 4);
    memcpy(joined + sizeof cd, m2, n2);
    cr_assert_eq(send(c, joined, sizeof cd + n2, 0), (ssize_t)(sizeof cd + n2));
    pump(s, 500, have, &g);
    cr_assert_eq(g.n, 3);
    cr_assert_eq(g.lens[0], n1);
    cr_assert(memcmp(g.msgs[0], m1, n1) == 0);
    cr_assert_eq(g.lens[1], sizeof cd, "ChannelData with its padding");
    cr_assert_eq(g.lens[2], n2);
    cr_assert(memcmp(g.msgs[2], m2, n2) == 0);
    cr_assert_eq(g.failed, 0);
    cr_assert_str_eq(zdc_stream_ktls(s), "", "no TLS");

    /* The server closes: reported once, with the reason. */
    close(c);
    pump(s, 500, failed, &g);
    cr_assert_eq(g.failed, 1);
    cr_assert(strstr(g.reason, "TURN over TCP to 127.0.0.1:"), "%s", g.reason);
    cr_assert(strstr(g.reason, "closed the connection"), "%s", g.reason);
    cr_assert_eq(zdc_stream_send(s, m1, n1), ZDC_ERR_CLOSED);
    zdc_stream_free(s);
    close(lfd);
}

Test(stream, garbage_on_the_stream_fails)
{
    zdc_addr srv;
    int lfd = listener(&srv);
    got g = {0};
    zdc_stream *s = open_stream(&srv, &g, false, NULL);
    int c = accept_one(lfd);
    pump(s, 100, NULL, NULL);
    /* First two bits 11: neither STUN (00) nor ChannelData (01), RFC 7983. */
    const uint8_t junk[] = {0xC0, 1, 2, 3, 4, 5, 6, 7};
    cr_assert_eq(send(c, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    pump(s, 500, have, &g);
    cr_assert_eq(g.failed, 1);
    cr_assert(strstr(g.reason, "neither STUN nor ChannelData"), "%s", g.reason);
    cr_assert_eq(g.n, 0);
    cr_assert_eq(zdc_stream_events(s), 0, "a failed stream waits for nothing");
    zdc_stream_free(s);
    close(c);
    close(lfd);
}

Test(stream, refused_connect_reported)
{
    zdc_addr srv;
    int lfd = listener(&srv);
    close(lfd); /* nobody listens there now */
    got g = {0};
    zdc_stream *s = open_stream(&srv, &g, false, NULL);
    cr_assert_eq(g.failed, 0, "never reported from inside zdc_stream_new");
    pump(s, 1000, have, &g);
    cr_assert_eq(g.failed, 1);
    cr_assert(strstr(g.reason, "cannot connect (Connection refused)"), "%s", g.reason);
    zdc_stream_free(s);
}

Test(stream, connect_deadline)
{
    zdc_addr srv;
    int lfd = listener(&srv);
    got g = {0};
    zdc_stream *s = open_stream(&srv, &g, true, NULL);
    uint64_t d = zdc_stream_deadline(s);
    cr_assert_neq(d, UINT64_MAX);
    zdc_stream_handle_timeout(s, d - 1);
    cr_assert_eq(g.failed, 0);
    /* No I/O was handled: still connecting when the deadline passes. */
    zdc_stream_handle_timeout(s, d);
    cr_assert_eq(g.failed, 1);
    cr_assert(strstr(g.reason, "TURN over TLS"), "%s", g.reason);
    cr_assert(strstr(g.reason, "connect not done after 10000 ms"), "%s", g.reason);
    cr_assert_eq(zdc_stream_deadline(s), UINT64_MAX);
    zdc_stream_free(s);
    close(lfd);
}

Test(stream, bad_pin_refused_at_creation)
{
    zdc_addr srv;
    cr_assert_eq(zdc_addr_from_ip(&srv, "127.0.0.1", 9, 9), 0);
    got g = {0};
    zdc_stream_config c = {.server = srv,
                           .tls = true,
                           .fingerprint = "sha-256 AB:CD",
                           .user = &g,
                           .on_message = on_message,
                           .on_failed = on_failed};
    zdc_stream *s = NULL;
    cr_assert_eq(zdc_stream_new(&c, now_ns(), &s), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_null(s);
}

/* ---- TLS ---------------------------------------------------------------------------------- */

typedef struct tls_server {
    SSL_CTX *ctx;
    X509 *cert;
    char pin[128];
} tls_server;

static void tls_server_init(tls_server *t)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    cr_assert(key && x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"turn.test", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    cr_assert(X509_sign(x, key, EVP_sha256()) > 0);
    t->ctx = SSL_CTX_new(TLS_server_method());
    cr_assert(SSL_CTX_use_certificate(t->ctx, x) == 1 && SSL_CTX_use_PrivateKey(t->ctx, key) == 1);
    uint8_t md[32];
    unsigned n = 0;
    cr_assert(X509_digest(x, EVP_sha256(), md, &n) == 1 && n == 32);
    int off = snprintf(t->pin, sizeof t->pin, "sha-256 ");
    for (unsigned i = 0; i < 32; i++)
        off +=
            snprintf(t->pin + off, sizeof t->pin - (size_t)off, "%02X%s", md[i], i < 31 ? ":" : "");
    t->cert = x;
    EVP_PKEY_free(key);
}

static void tls_server_fini(tls_server *t)
{
    X509_free(t->cert);
    SSL_CTX_free(t->ctx);
}

/* Connects a stream to a TLS server on 127.0.0.1 and runs both handshakes; with open, echoes
 * one STUN message from the server. */
static void tls_case(const char *pin, bool expect_open, const char *why)
{
    tls_server t;
    tls_server_init(&t);
    zdc_addr srv;
    int lfd = listener(&srv);
    got g = {0};
    char mypin[128];
    snprintf(mypin, sizeof mypin, "%s", pin ? pin : "");
    if (pin && strcmp(pin, "right") == 0)
        snprintf(mypin, sizeof mypin, "%s", t.pin);
    zdc_stream *s = open_stream(&srv, &g, true, pin ? mypin : NULL);
    int c = accept_one(lfd);
    SSL *ssl = SSL_new(t.ctx);
    SSL_set_fd(ssl, c);
    int accepted = 0;
    for (int i = 0; i < 400 && !g.failed && zdc_stream_state(s) != ZDC_STREAM_OPEN; i++) {
        if (accepted <= 0)
            accepted = SSL_accept(ssl);
        pump(s, 5, NULL, NULL);
    }
    if (!expect_open) {
        cr_assert_eq(g.failed, 1, "refused");
        cr_assert(strstr(g.reason, why), "reason: %s", g.reason);
    } else {
        cr_assert_eq(zdc_stream_state(s), ZDC_STREAM_OPEN, "%s", g.reason);
        cr_assert(strncmp(zdc_stream_ktls(s), "kTLS: ", 6) == 0, "%s", zdc_stream_ktls(s));
        for (int i = 0; i < 100 && accepted <= 0; i++)
            accepted = SSL_accept(ssl);
        cr_assert_eq(accepted, 1);
        uint8_t m[64];
        size_t n = stun_msg(m, 12);
        cr_assert_eq(SSL_write(ssl, m, (int)n), (int)n);
        cr_assert_eq(zdc_stream_send(s, (const uint8_t *)"ping", 4), 0);
        pump(s, 300, have, &g);
        cr_assert_eq(g.n, 1);
        cr_assert(g.lens[0] == n && memcmp(g.msgs[0], m, n) == 0);
        char buf[8] = {0};
        int r = -1;
        for (int i = 0; i < 100 && r <= 0; i++) {
            r = SSL_read(ssl, buf, sizeof buf);
            if (r <= 0)
                usleep(2000);
        }
        cr_assert_eq(r, 4);
        cr_assert(memcmp(buf, "ping", 4) == 0);
    }
    zdc_stream_free(s);
    SSL_free(ssl);
    close(c);
    close(lfd);
    tls_server_fini(&t);
}

Test(stream, tls_pinned_certificate_opens_and_carries_messages)
{
    tls_case("right", true, NULL);
}

Test(stream, tls_self_signed_not_verified_by_default)
{
    tls_case(NULL, false, "certificate not verified");
}

Test(stream, tls_wrong_pin_refused)
{
    tls_case("00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", false,
             "does not match the pinned fingerprint");
}
