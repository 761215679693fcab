/* The hand-off from OpenSSL's record layer to zdc's (ZDC_DTLS_RECORDS=zdc, core/proto/dtls.c,
 * docs/dtls-records.md), between two zdc_dtls endpoints on the fake clock.
 *
 * The link is the seeded impairment link: handshake datagrams are lost, duplicated and
 * reordered; application datagrams are duplicated and reordered but never lost (DTLS does not
 * retransmit them; SCTP would). Every record each side puts on the wire is checked: no
 * (epoch, sequence number) and no GCM explicit nonce ever repeats on one side, whether OpenSSL
 * or zdc wrote it, and both did. Every message arrives exactly once.
 *
 * Like dtls_test.c, this executable supplies gettimeofday() so OpenSSL's retransmission timer
 * runs on the fake clock.
 * ctest-labels: security
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "bytes.h"
#include "dtls.h"
#include "impair.h"

#define MS  1000000ull
#define SEC 1000000000ull

static uint64_t g_now = 1 * SEC;

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz;
    uint64_t t = 1800000000ull * SEC + g_now;
    tv->tv_sec = (time_t)(t / SEC);
    tv->tv_usec = (suseconds_t)(t % SEC / 1000);
    return 0;
}

#define NMSG    60
#define MAXRECS 4096

typedef struct wrote {
    uint16_t epoch;
    uint64_t seq;
    uint64_t explicit_; /* first 8 body bytes */
    bool by_zdc;
} wrote;

typedef struct side {
    zdc_dtls *d;
    zdc_dtls_cert *cert;
    struct side *peer;
    zdc_impair *hs, *data; /* links towards the peer */
    wrote recs[MAXRECS];
    size_t nrecs;
    unsigned got[NMSG]; /* how often each of the peer's messages arrived */
    size_t sent_msgs;
    bool gcm;
} side;

static side A, B;

static void note_records(side *s, const uint8_t *p, size_t len)
{
    size_t off = 0;
    bool by_zdc = zdc_dtls_get_records_phase(s->d) == ZDC_DTLS_PHASE_ZDC;
    while (len - off >= 13) {
        const uint8_t *h = p + off;
        size_t rl = zdc_load_u16(h + 11);
        cr_assert_leq(rl, len - off - 13, "we never send a broken record");
        uint16_t epoch = zdc_load_u16(h + 3);
        if (epoch != 0) {
            cr_assert_lt(s->nrecs, (size_t)MAXRECS);
            wrote *w = &s->recs[s->nrecs++];
            w->epoch = epoch;
            w->seq = (uint64_t)zdc_load_u16(h + 5) << 32 | zdc_load_u32(h + 7);
            w->explicit_ =
                rl >= 8 ? (uint64_t)zdc_load_u32(h + 13) << 32 | zdc_load_u32(h + 17) : 0;
            w->by_zdc = by_zdc;
        }
        off += 13 + rl;
    }
    cr_assert_eq(off, len);
}

static int on_send(void *user, const uint8_t *p, size_t len)
{
    side *s = user;
    cr_assert_leq(len, (size_t)ZDC_DTLS_DEFAULT_MTU);
    note_records(s, p, len);
    /* application data (and alerts) never lost; handshake flights at the mercy of the link */
    bool app = p[0] == 23 || p[0] == 21;
    cr_assert_eq(zdc_impair_push(app ? s->data : s->hs, p, len, 0, g_now), 0);
    return 0;
}

static void on_data(void *user, const uint8_t *p, size_t len)
{
    side *s = user;
    cr_assert_eq(len, 200u);
    uint32_t i = zdc_load_u32(p);
    cr_assert_lt(i, (uint32_t)NMSG);
    for (size_t k = 4; k < len; k++)
        cr_assert_eq(p[k], (uint8_t)(i + k + (s == &A ? 1 : 0)), "payload of message %u", i);
    s->got[i]++;
}

static const char *suite_names[] = {"ECDHE-ECDSA-AES128-GCM-SHA256",
                                    "ECDHE-ECDSA-AES256-GCM-SHA384",
                                    "ECDHE-ECDSA-CHACHA20-POLY1305"};

static zdc_dtls *endpoint(side *s, zdc_dtls_role role, const zdc_dtls_cert *remote,
                          const char *ciphers, zdc_dtls_records rec)
{
    zdc_dtls_config cfg;
    zdc_dtls *d = NULL;
    zdc_dtls_config_default(&cfg);
    cfg.role = role;
    cfg.cert = s->cert;
    cfg.remote_fp = (zdc_dtls_fingerprint){.hash = ZDC_DTLS_HASH_SHA256, .len = 32};
    memcpy(cfg.remote_fp.bytes, zdc_dtls_cert_fingerprint(remote), 32);
    cfg.send = on_send;
    cfg.on_data = on_data;
    cfg.user = s;
    cfg.records = rec;
    cfg.cipher_list = ciphers;
    cr_assert_eq(zdc_dtls_new(&cfg, &d), 0);
    return d;
}

static void link_new(zdc_impair **l, uint64_t seed, bool lossy)
{
    zdc_impair_config c = zdc_impair_config_default();
    c.seed = seed;
    c.loss = lossy ? 0.3 : 0;
    c.duplicate = 0.25;
    c.reorder = 0.3;
    c.delay_ns = 10 * MS;
    c.jitter_ns = 10 * MS;
    c.reorder_delay_ns = 30 * MS;
    cr_assert_eq(zdc_impair_new(&c, l), 0);
}

static void setup(size_t suite, uint64_t seed, zdc_dtls_records ra, zdc_dtls_records rb)
{
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    g_now = 1 * SEC;
    A.peer = &B;
    B.peer = &A;
    cr_assert_eq(zdc_dtls_cert_new(&A.cert), 0);
    cr_assert_eq(zdc_dtls_cert_new(&B.cert), 0);
    A.d = endpoint(&A, ZDC_DTLS_CLIENT, B.cert, suite_names[suite], ra);
    B.d = endpoint(&B, ZDC_DTLS_SERVER, A.cert, suite_names[suite], rb);
    link_new(&A.hs, seed * 4 + 1, true);
    link_new(&A.data, seed * 4 + 2, false);
    link_new(&B.hs, seed * 4 + 3, true);
    link_new(&B.data, seed * 4 + 4, false);
    A.gcm = B.gcm = suite != 2;
}

static void teardown(void)
{
    side *sides[2] = {&A, &B};
    for (int k = 0; k < 2; k++) {
        zdc_dtls_free(sides[k]->d);
        zdc_dtls_cert_free(sides[k]->cert);
        zdc_impair_free(sides[k]->hs);
        zdc_impair_free(sides[k]->data);
    }
}

static void deliver(zdc_impair *l, side *to)
{
    uint8_t buf[2048];
    size_t len;
    uint64_t tag;
    while (zdc_impair_pop(l, g_now, buf, sizeof buf, &len, &tag) == 1)
        (void)zdc_dtls_handle_datagram(to->d, buf, len, g_now);
}

static void send_msg(side *s)
{
    uint8_t m[200];
    uint32_t i = (uint32_t)s->sent_msgs;
    zdc_store_u32(m, i);
    for (size_t k = 4; k < sizeof m; k++)
        m[k] = (uint8_t)(i + k + (s == &B ? 1 : 0));
    cr_assert_eq(zdc_dtls_send(s->d, m, sizeof m), 0);
    s->sent_msgs++;
}

static bool all_received(const side *s)
{
    for (int i = 0; i < NMSG; i++)
        if (s->got[i] == 0)
            return false;
    return true;
}

/* Runs the pair until both have sent and received every message and the links are empty. */
static void run(void)
{
    cr_assert_eq(zdc_dtls_start(A.d, g_now), 0);
    cr_assert_eq(zdc_dtls_start(B.d, g_now), 0);
    for (int step = 0; step < 200000; step++) {
        deliver(A.hs, &B);
        deliver(A.data, &B);
        deliver(B.hs, &A);
        deliver(B.data, &A);
        (void)zdc_dtls_handle_timeout(A.d, g_now);
        (void)zdc_dtls_handle_timeout(B.d, g_now);
        side *sides[2] = {&A, &B};
        for (int k = 0; k < 2; k++)
            if (zdc_dtls_get_state(sides[k]->d) == ZDC_DTLS_CONNECTED &&
                sides[k]->sent_msgs < NMSG && step % 3 == k)
                send_msg(sides[k]);
        cr_assert_neq(zdc_dtls_get_state(A.d), ZDC_DTLS_FAILED, "client failed: %d",
                      zdc_dtls_error(A.d));
        cr_assert_neq(zdc_dtls_get_state(B.d), ZDC_DTLS_FAILED, "server failed: %d",
                      zdc_dtls_error(B.d));
        if (A.sent_msgs == NMSG && B.sent_msgs == NMSG && all_received(&A) && all_received(&B) &&
            zdc_impair_queued(A.hs) + zdc_impair_queued(A.data) + zdc_impair_queued(B.hs) +
                    zdc_impair_queued(B.data) ==
                0)
            return;
        g_now += 1 * MS;
    }
    cr_assert_fail("did not complete: A sent %zu, B sent %zu", A.sent_msgs, B.sent_msgs);
}

/* No (epoch, seq) and no GCM explicit nonce twice on one side; returns how many protected
 * records OpenSSL and zdc wrote. */
static void check_unique(const side *s, size_t *by_ossl, size_t *by_zdc)
{
    *by_ossl = *by_zdc = 0;
    for (size_t i = 0; i < s->nrecs; i++) {
        const wrote *a = &s->recs[i];
        *(a->by_zdc ? by_zdc : by_ossl) += 1;
        for (size_t j = i + 1; j < s->nrecs; j++) {
            const wrote *b = &s->recs[j];
            cr_assert(a->epoch != b->epoch || a->seq != b->seq,
                      "%s: epoch %u seq %llu written twice (by %s, then by %s)",
                      s == &A ? "client" : "server", a->epoch, (unsigned long long)a->seq,
                      a->by_zdc ? "zdc" : "OpenSSL", b->by_zdc ? "zdc" : "OpenSSL");
            if (s->gcm)
                cr_assert_neq(a->explicit_, b->explicit_, "%s: GCM explicit nonce %016llx twice",
                              s == &A ? "client" : "server", (unsigned long long)a->explicit_);
        }
    }
}

static void check_exactly_once(const side *s)
{
    for (int i = 0; i < NMSG; i++)
        cr_assert_eq(s->got[i], 1u, "%s got message %d %u times", s == &A ? "client" : "server", i,
                     s->got[i]);
}

static void handoff_under_impairment(size_t suite)
{
    for (uint64_t seed = 1; seed <= 6; seed++) {
        setup(suite, seed, ZDC_DTLS_RECORDS_ZDC, ZDC_DTLS_RECORDS_ZDC);
        run();
        cr_assert_str_eq(zdc_dtls_cipher(A.d), suite_names[suite]);
        cr_assert_str_eq(zdc_dtls_cipher(B.d), suite_names[suite]);
        cr_assert_str_eq(zdc_dtls_version(A.d), "DTLSv1.2");
        cr_assert_eq(zdc_dtls_get_records_phase(A.d), ZDC_DTLS_PHASE_ZDC, "seed %llu",
                     (unsigned long long)seed);
        cr_assert_eq(zdc_dtls_get_records_phase(B.d), ZDC_DTLS_PHASE_ZDC);
        check_exactly_once(&A);
        check_exactly_once(&B);
        size_t ao, az, bo, bz;
        check_unique(&A, &ao, &az);
        check_unique(&B, &bo, &bz);
        cr_assert_geq(ao, 1u, "OpenSSL wrote the client's Finished");
        cr_assert_geq(bo, 1u, "OpenSSL wrote the server's Finished");
        cr_assert_geq(az, (size_t)NMSG, "zdc wrote the client's messages");
        cr_assert_gt(bz, 0u, "zdc wrote some of the server's messages");
        zdc_dtls_stats st;
        zdc_dtls_get_stats(A.d, &st);
        cr_log_info("suite %s seed %llu: client OpenSSL %zu zdc %zu, server OpenSSL %zu zdc %zu "
                    "records; client replays dropped %llu",
                    suite_names[suite], (unsigned long long)seed, ao, az, bo, bz,
                    (unsigned long long)st.records_replayed);

        /* close_notify, sealed by zdc, closes the peer cleanly */
        cr_assert_eq(zdc_dtls_close(A.d), 0);
        for (int i = 0; i < 200 && zdc_dtls_get_state(B.d) != ZDC_DTLS_CLOSED; i++) {
            g_now += 1 * MS;
            deliver(A.data, &B);
        }
        cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CLOSED);
        teardown();
    }
}

Test(dtls_handoff, aes128gcm_under_loss_duplication_reordering)
{
    handoff_under_impairment(0);
}

Test(dtls_handoff, aes256gcm_under_loss_duplication_reordering)
{
    handoff_under_impairment(1);
}

Test(dtls_handoff, chacha20_under_loss_duplication_reordering)
{
    handoff_under_impairment(2);
}

/* zdc's records against OpenSSL's record layer on the other side, either role. */
static void mixed(size_t suite, bool client_zdc)
{
    setup(suite, 77, client_zdc ? ZDC_DTLS_RECORDS_ZDC : ZDC_DTLS_RECORDS_OPENSSL,
          client_zdc ? ZDC_DTLS_RECORDS_OPENSSL : ZDC_DTLS_RECORDS_ZDC);
    run();
    side *z = client_zdc ? &A : &B, *o = client_zdc ? &B : &A;
    cr_assert_eq(zdc_dtls_get_records_phase(z->d), ZDC_DTLS_PHASE_ZDC);
    cr_assert_eq(zdc_dtls_get_records_phase(o->d), ZDC_DTLS_PHASE_OPENSSL);
    check_exactly_once(&A);
    check_exactly_once(&B);
    size_t x, y;
    check_unique(&A, &x, &y);
    check_unique(&B, &x, &y);
    /* close_notify from the OpenSSL side is opened by zdc and answered */
    cr_assert_eq(zdc_dtls_close(o->d), 0);
    for (int i = 0; i < 200 && zdc_dtls_get_state(z->d) != ZDC_DTLS_CLOSED; i++) {
        g_now += 1 * MS;
        deliver(o->data, z);
    }
    cr_assert_eq(zdc_dtls_get_state(z->d), ZDC_DTLS_CLOSED);
    teardown();
}

Test(dtls_handoff, zdc_client_against_openssl_records_all_suites)
{
    for (size_t s = 0; s < 3; s++)
        mixed(s, true);
}

Test(dtls_handoff, zdc_server_against_openssl_records_all_suites)
{
    for (size_t s = 0; s < 3; s++)
        mixed(s, false);
}

/* A forged record (right framing, wrong tag) and garbage after the hand-off: dropped and
 * counted, the association stays up; a fatal alert sealed by the peer ends it. */
Test(dtls_handoff, forged_records_dropped_and_counted)
{
    setup(0, 5, ZDC_DTLS_RECORDS_ZDC, ZDC_DTLS_RECORDS_ZDC);
    run();
    uint8_t forged[13 + 8 + 40 + 16] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 200, 0, 64};
    for (int i = 0; i < 10; i++) {
        forged[10] = (uint8_t)(200 + i);
        cr_assert_eq(zdc_dtls_handle_datagram(B.d, forged, sizeof forged, g_now), 0);
    }
    zdc_dtls_stats st;
    zdc_dtls_get_stats(B.d, &st);
    cr_assert_eq(st.records_auth_failed, 10u);
    cr_assert_eq(zdc_dtls_get_state(B.d), ZDC_DTLS_CONNECTED);
    /* and data still flows both ways after the forgeries (same sequence numbers included) */
    memset(A.got, 0, sizeof A.got);
    memset(B.got, 0, sizeof B.got);
    A.sent_msgs = B.sent_msgs = 0;
    for (int i = 0; i < NMSG; i++) {
        send_msg(&A);
        send_msg(&B);
    }
    for (int i = 0; i < 100; i++) {
        g_now += 1 * MS;
        deliver(A.data, &B);
        deliver(B.data, &A);
    }
    check_exactly_once(&A);
    check_exactly_once(&B);
    teardown();
}
