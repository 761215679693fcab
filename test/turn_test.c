/* TURN client tests (core/proto/turn.c) and TURN codec tests (core/codec/turnmsg.c), on a fake
 * clock. The test plays the TURN server: every message the client sends is recorded, re-parsed
 * and answered by hand, so each step of RFC 8656 / RFC 8489 §9.2 can be asserted on the wire.
 *
 * ctest-labels: security */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hmac.h"
#include "turn.h"
#include "turnmsg.h"
#include "zdc/error.h"
#include "zdc/stun.h"

#define MS 1000000ull
#define S  1000000000ull

#define MAX_SENT 256

typedef struct sent {
    uint8_t data[2048];
    size_t len;
} sent;

typedef struct fx {
    zdc_turn *t;
    uint64_t now, rng;
    sent out[MAX_SENT];
    int n_out;
    int allocated, failed, n_data;
    zdc_addr relayed, mapped, data_from;
    uint8_t data[256];
    size_t data_len;
    int fail_err;
    unsigned fail_code;
    char fail_reason[256];
} fx;

static void rnd(void *user, uint8_t *p, size_t n)
{
    fx *f = user;
    for (size_t i = 0; i < n; i++) {
        f->rng = f->rng * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(f->rng >> 56);
    }
}

static void on_send(void *user, const uint8_t *p, size_t len)
{
    fx *f = user;
    cr_assert(f->n_out < MAX_SENT);
    cr_assert(len <= sizeof f->out[0].data);
    memcpy(f->out[f->n_out].data, p, len);
    f->out[f->n_out++].len = len;
}

static void on_allocated(void *user, const zdc_addr *relayed, const zdc_addr *mapped)
{
    fx *f = user;
    f->allocated++;
    f->relayed = *relayed;
    f->mapped = *mapped;
}

static void on_failed(void *user, int err, unsigned code, const char *reason)
{
    fx *f = user;
    f->failed++;
    f->fail_err = err;
    f->fail_code = code;
    snprintf(f->fail_reason, sizeof f->fail_reason, "%s", reason);
}

static void on_data(void *user, const zdc_addr *peer, const uint8_t *p, size_t len)
{
    fx *f = user;
    f->n_data++;
    f->data_from = *peer;
    cr_assert(len <= sizeof f->data);
    memcpy(f->data, p, len);
    f->data_len = len;
}

static const char *USER = "alice", *PASS = "s3cret", *REALM = "zdc.test";

/* config.refresh_every_ms for the next fx_init (tests that want it set it, then reset it). */
static uint32_t fx_refresh_every_ms;

static void fx_init(fx *f, int transport, uint32_t lifetime)
{
    memset(f, 0, sizeof *f);
    f->rng = 42;
    f->now = 1 * S;
    zdc_turn_config cfg = {.username = USER,
                           .password = PASS,
                           .transport = transport,
                           .lifetime_s = lifetime,
                           .refresh_every_ms = fx_refresh_every_ms,
                           .user = f,
                           .random = rnd,
                           .send = on_send,
                           .on_allocated = on_allocated,
                           .on_failed = on_failed,
                           .on_data = on_data};
    cr_assert_eq(zdc_turn_new(&cfg, &f->t), 0);
}

static void fx_fini(fx *f)
{
    zdc_turn_free(f->t);
}

/* The last message sent, parsed. */
static const sent *last(fx *f, zdc_stun_msg *m, zdc_turn_attrs *a)
{
    cr_assert(f->n_out > 0);
    const sent *s = &f->out[f->n_out - 1];
    cr_assert_eq(zdc_turn_parse(s->data, s->len, m, a), 0);
    return s;
}

static void md5_key(uint8_t key[16])
{
    cr_assert_eq(zdc_stun_long_term_key(USER, REALM, PASS, key), 0);
}

static void sha256_key(uint8_t key[32])
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s:%s:%s", USER, REALM, PASS);
    zdc_chunk c = {buf, (size_t)n};
    cr_assert_eq(zdc_digest(ZDC_DIGEST_SHA256, &c, 1, key), 0);
}

static zdc_stun_addr sa(const char *ip, uint16_t port)
{
    zdc_addr a;
    cr_assert_eq(zdc_addr_from_ip(&a, ip, strlen(ip), port), 0);
    zdc_stun_addr s = {.family = (uint8_t)zdc_addr_family(&a), .port = port};
    zdc_addr_bytes(&a, s.ip);
    return s;
}

static zdc_addr za(const char *ip, uint16_t port)
{
    zdc_addr a;
    cr_assert_eq(zdc_addr_from_ip(&a, ip, strlen(ip), port), 0);
    return a;
}

/* Feeds a built message to the client. */
static int feed(fx *f, zdc_stun_builder *b)
{
    int n = zdc_stun_build_end(b);
    cr_assert_gt(n, 0);
    return zdc_turn_handle_input(f->t, b->buf, (size_t)n, f->now);
}

static uint8_t reply_buf[2048];

static void challenge(fx *f, const zdc_stun_msg *req, uint16_t code, const char *nonce,
                      bool offer_sha256)
{
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, reply_buf, sizeof reply_buf, req->method, ZDC_STUN_ERROR, req->txid);
    zdc_stun_add_error(&b, code, code == 401 ? "Unauthorized" : "Stale Nonce");
    zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_REALM, REALM, strlen(REALM));
    zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_NONCE, nonce, strlen(nonce));
    if (offer_sha256) {
        const uint8_t algs[] = {0, 1, 0, 0, 0, 2, 0, 0};
        zdc_stun_add_bytes(&b, ZDC_TURN_ATTR_PASSWORD_ALGORITHMS, algs, sizeof algs);
    }
    cr_assert_eq(feed(f, &b), 0);
}

/* A success answer to req with integrity under the MD5 key; extra attributes by kind. */
static int succeed(fx *f, const zdc_stun_msg *req, uint32_t lifetime, bool corrupt)
{
    uint8_t key[16];
    md5_key(key);
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, reply_buf, sizeof reply_buf, req->method, ZDC_STUN_SUCCESS, req->txid);
    if (req->method == ZDC_TURN_ALLOCATE) {
        zdc_stun_addr r = sa("203.0.113.5", 50000), m = sa("198.51.100.7", 40000);
        zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_RELAYED_ADDRESS, &r);
        zdc_stun_add_xor_address(&b, ZDC_STUN_ATTR_XOR_MAPPED_ADDRESS, &m);
    }
    if (req->method == ZDC_TURN_ALLOCATE || req->method == ZDC_TURN_REFRESH)
        zdc_stun_add_u32(&b, ZDC_TURN_ATTR_LIFETIME, lifetime);
    zdc_stun_add_integrity(&b, key, corrupt ? 15 : 16);
    zdc_stun_add_fingerprint(&b);
    return feed(f, &b);
}

static void error_reply(fx *f, const zdc_stun_msg *req, uint16_t code, const char *reason)
{
    uint8_t key[16];
    md5_key(key);
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, reply_buf, sizeof reply_buf, req->method, ZDC_STUN_ERROR, req->txid);
    zdc_stun_add_error(&b, code, reason);
    zdc_stun_add_integrity(&b, key, 16);
    cr_assert_eq(feed(f, &b), 0);
}

/* Allocate through the 401 challenge with the MD5 key; lifetime granted. */
static void allocate(fx *f, uint32_t lifetime)
{
    zdc_stun_msg m;
    zdc_turn_attrs a;
    cr_assert_eq(zdc_turn_allocate(f->t, f->now), 0);
    last(f, &m, &a);
    challenge(f, &m, 401, "nonce-1", false);
    last(f, &m, &a);
    cr_assert_eq(succeed(f, &m, lifetime, false), 0);
    cr_assert_eq(zdc_turn_state(f->t), ZDC_TURN_ALLOCATED);
}

/* Runs the client's timers up to `until`. */
static void run_until(fx *f, uint64_t until)
{
    for (;;) {
        uint64_t next = zdc_turn_next_timeout(f->t);
        if (next > until)
            break;
        if (next > f->now)
            f->now = next;
        zdc_turn_handle_timeout(f->t, f->now);
    }
    if (until > f->now)
        f->now = until;
}

/* ---- allocation and credentials ---------------------------------------------------------- */

Test(turn, allocate_401_then_md5_integrity)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    cr_assert_eq(zdc_turn_allocate(f.t, f.now), 0);
    cr_assert_eq(zdc_turn_allocate(f.t, f.now), ZDC_ERR_INVALID_STATE);
    const sent *s = last(&f, &m, &a);
    cr_assert_eq(m.method, ZDC_TURN_ALLOCATE);
    cr_assert_eq(m.cls, ZDC_STUN_REQUEST);
    cr_assert(a.has_transport && a.transport == 17, "REQUESTED-TRANSPORT UDP");
    cr_assert(!m.has_username && !m.integrity_offset, "first Allocate carries no credentials");
    cr_assert(m.has_fingerprint);
    uint8_t first_txid[12];
    memcpy(first_txid, m.txid, 12);

    challenge(&f, &m, 401, "nonce-1", false);
    cr_assert_eq(f.n_out, 2);
    s = last(&f, &m, &a);
    cr_assert_neq(memcmp(m.txid, first_txid, 12), 0, "a new transaction after the 401");
    cr_assert(m.has_username && m.username.len == strlen(USER) &&
              memcmp(m.username.p, USER, m.username.len) == 0);
    cr_assert(m.has_realm && memcmp(m.realm.p, REALM, m.realm.len) == 0);
    cr_assert(m.has_nonce && m.nonce.len == 7 && memcmp(m.nonce.p, "nonce-1", 7) == 0);
    uint8_t key[16];
    md5_key(key);
    cr_assert_eq(zdc_stun_check_integrity(s->data, s->len, &m, key, 16), 0);
    cr_assert_eq(m.integrity_sha256_offset, 0u);

    /* A success under the wrong key is dropped; the transaction stays open. */
    cr_assert_eq(succeed(&f, &m, 600, true), ZDC_ERR_INTEGRITY);
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_ALLOCATING);
    cr_assert_eq(succeed(&f, &m, 600, false), 0);
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_ALLOCATED);
    cr_assert_eq(f.allocated, 1);
    zdc_addr want = za("203.0.113.5", 50000), got;
    cr_assert(zdc_addr_equal(&f.relayed, &want));
    want = za("198.51.100.7", 40000);
    cr_assert(zdc_addr_equal(&f.mapped, &want));
    cr_assert_eq(zdc_turn_relayed_address(f.t, &got), 0);
    cr_assert(zdc_addr_equal(&got, &f.relayed));
    cr_assert_eq(zdc_turn_expiry(f.t), f.now + 600 * S);
    /* A late duplicate answer matches nothing. */
    cr_assert_eq(succeed(&f, &m, 600, false), ZDC_ERR_NOT_FOUND);
    fx_fini(&f);
}

Test(turn, allocate_sha256_when_offered)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    cr_assert_eq(zdc_turn_allocate(f.t, f.now), 0);
    last(&f, &m, &a);
    challenge(&f, &m, 401, "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA", true);
    const sent *s = last(&f, &m, &a);
    uint8_t key[32];
    sha256_key(key);
    cr_assert_eq(m.integrity_offset, 0u, "no SHA-1 integrity with a SHA-256 key");
    cr_assert_eq(zdc_stun_check_integrity_sha256(s->data, s->len, &m, key, 32), 0);
    cr_assert(a.has_password_algorithm && a.password_algorithm == ZDC_TURN_PASSWORD_SHA256);
    cr_assert_eq(a.n_password_algs, 2u, "the offered list is echoed");
    cr_assert_eq(a.password_algs[1], ZDC_TURN_PASSWORD_SHA256);

    /* The answer must carry MESSAGE-INTEGRITY-SHA256: a SHA-1 one is not enough. */
    cr_assert_eq(succeed(&f, &m, 600, false), ZDC_ERR_INTEGRITY);
    zdc_stun_builder b;
    zdc_stun_addr r = sa("203.0.113.5", 50000);
    zdc_stun_build_begin(&b, reply_buf, sizeof reply_buf, m.method, ZDC_STUN_SUCCESS, m.txid);
    zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_RELAYED_ADDRESS, &r);
    zdc_stun_add_u32(&b, ZDC_TURN_ATTR_LIFETIME, 300);
    zdc_stun_add_integrity_sha256(&b, key, 32);
    cr_assert_eq(feed(&f, &b), 0);
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_ALLOCATED);
    fx_fini(&f);
}

Test(turn, stale_nonce_retried_then_bounded)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    cr_assert_eq(zdc_turn_allocate(f.t, f.now), 0);
    last(&f, &m, &a);
    challenge(&f, &m, 401, "nonce-1", false);
    last(&f, &m, &a);
    challenge(&f, &m, 438, "nonce-2", false);
    last(&f, &m, &a);
    cr_assert(m.has_nonce && m.nonce.len == 7 && memcmp(m.nonce.p, "nonce-2", 7) == 0,
              "the request is repeated with the new nonce");
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_ALLOCATING);
    /* Three more stale answers in a row: the server is broken, stop. */
    for (int i = 0; i < 3; i++) {
        char nonce[16];
        snprintf(nonce, sizeof nonce, "nonce-%d", 3 + i);
        challenge(&f, &m, 438, nonce, false);
        if (i < 2)
            last(&f, &m, &a);
    }
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_FAILED);
    cr_assert_eq(f.failed, 1);
    cr_assert_eq(f.fail_code, 438u);
    cr_assert_eq(zdc_turn_next_timeout(f.t), UINT64_MAX);
    fx_fini(&f);
}

Test(turn, wrong_password_fails_clearly)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    cr_assert_eq(zdc_turn_allocate(f.t, f.now), 0);
    last(&f, &m, &a);
    challenge(&f, &m, 401, "nonce-1", false);
    last(&f, &m, &a);
    int before = f.n_out;
    challenge(&f, &m, 401, "nonce-1", false);
    cr_assert_eq(f.n_out, before, "no third Allocate after credentials were refused");
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_FAILED);
    cr_assert_eq(f.fail_err, ZDC_ERR_INTEGRITY);
    cr_assert_eq(f.fail_code, 401u);
    cr_assert(strstr(f.fail_reason, "credentials"), "reason: %s", f.fail_reason);
    unsigned code;
    const char *reason;
    cr_assert_eq(zdc_turn_last_error(f.t, &code, &reason), ZDC_ERR_INTEGRITY);
    cr_assert_eq(code, 401u);
    cr_assert_str_eq(reason, f.fail_reason);
    cr_assert_eq(zdc_turn_handle_input(f.t, reply_buf, 20, f.now), ZDC_ERR_CLOSED);
    fx_fini(&f);
}

Test(turn, quota_refusal_reported)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    cr_assert_eq(zdc_turn_allocate(f.t, f.now), 0);
    last(&f, &m, &a);
    challenge(&f, &m, 401, "nonce-1", false);
    last(&f, &m, &a);
    error_reply(&f, &m, 486, "Allocation Quota Reached\x01");
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_FAILED);
    cr_assert_eq(f.fail_code, 486u);
    cr_assert(strstr(f.fail_reason, "486 Allocation Quota Reached?"), "reason: %s", f.fail_reason);
    fx_fini(&f);
}

Test(turn, unanswered_allocate_times_out_after_7_sends)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    uint64_t start = f.now;
    cr_assert_eq(zdc_turn_allocate(f.t, f.now), 0);
    run_until(&f, start + 60 * S);
    cr_assert_eq(f.n_out, 7);
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_FAILED);
    cr_assert_eq(f.fail_err, ZDC_ERR_TIMEOUT);
    /* 0.5 + 1 + 2 + 3.2 * 4 = 16.3 s (RTO doubling, capped at 3.2 s) */
    cr_assert_eq(zdc_turn_next_timeout(f.t), UINT64_MAX);
    zdc_stun_msg m0, m6;
    zdc_turn_attrs a;
    cr_assert_eq(zdc_turn_parse(f.out[0].data, f.out[0].len, &m0, &a), 0);
    cr_assert_eq(zdc_turn_parse(f.out[6].data, f.out[6].len, &m6, &a), 0);
    cr_assert_eq(memcmp(m0.txid, m6.txid, 12), 0, "retransmissions keep the transaction id");
    fx_fini(&f);
}

Test(turn, tcp_allocate_sent_once_then_times_out)
{
    fx f;
    fx_init(&f, ZDC_TURN_TCP, 0);
    cr_assert_eq(zdc_turn_allocate(f.t, f.now), 0);
    cr_assert_eq(zdc_turn_next_timeout(f.t), f.now + 10 * S);
    run_until(&f, f.now + 60 * S);
    cr_assert_eq(f.n_out, 1, "a reliable transport is not retransmitted on");
    cr_assert_eq(f.fail_err, ZDC_ERR_TIMEOUT);
    fx_fini(&f);
}

/* ---- refresh ------------------------------------------------------------------------------ */

Test(turn, refresh_a_minute_before_expiry)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    allocate(&f, 600);
    uint64_t t0 = f.now;
    cr_assert_eq(zdc_turn_next_timeout(f.t), t0 + 540 * S);
    int before = f.n_out;
    run_until(&f, t0 + 540 * S);
    cr_assert_eq(f.n_out, before + 1);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    const sent *s = last(&f, &m, &a);
    cr_assert_eq(m.method, ZDC_TURN_REFRESH);
    cr_assert(a.has_lifetime && a.lifetime == 600);
    uint8_t key[16];
    md5_key(key);
    cr_assert_eq(zdc_stun_check_integrity(s->data, s->len, &m, key, 16), 0);
    /* The nonce went stale meanwhile: refreshed with the new one. */
    challenge(&f, &m, 438, "nonce-9", false);
    last(&f, &m, &a);
    cr_assert_eq(m.method, ZDC_TURN_REFRESH);
    cr_assert(m.nonce.len == 7 && memcmp(m.nonce.p, "nonce-9", 7) == 0);
    cr_assert_eq(succeed(&f, &m, 600, false), 0);
    cr_assert_eq(zdc_turn_expiry(f.t), f.now + 600 * S);
    cr_assert_eq(zdc_turn_next_timeout(f.t), f.now + 540 * S);
    fx_fini(&f);
}

Test(turn, short_lifetime_refreshed_at_three_quarters)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 40);
    allocate(&f, 40);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    cr_assert_eq(zdc_turn_parse(f.out[0].data, f.out[0].len, &m, &a), 0);
    cr_assert(a.has_lifetime && a.lifetime == 40, "the configured LIFETIME is asked for");
    uint64_t t0 = f.now;
    cr_assert_eq(zdc_turn_next_timeout(f.t), t0 + 30 * S);
    /* Several refresh cycles, each answered: the allocation stays. */
    for (int i = 0; i < 5; i++) {
        run_until(&f, zdc_turn_next_timeout(f.t));
        last(&f, &m, &a);
        cr_assert_eq(m.method, ZDC_TURN_REFRESH);
        cr_assert_eq(succeed(&f, &m, 40, false), 0);
    }
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_ALLOCATED);
    cr_assert_eq(f.now, t0 + 150 * S);
    fx_fini(&f);
}

Test(turn, unanswered_refresh_fails_before_expiry)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    allocate(&f, 600);
    uint64_t expiry = zdc_turn_expiry(f.t);
    run_until(&f, expiry + 10 * S);
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_FAILED);
    cr_assert_eq(f.fail_err, ZDC_ERR_TIMEOUT);
    cr_assert(strstr(f.fail_reason, "Refresh"), "reason: %s", f.fail_reason);
    fx_fini(&f);
}

Test(turn, allocation_mismatch_on_refresh_fails)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    allocate(&f, 600);
    run_until(&f, zdc_turn_next_timeout(f.t));
    zdc_stun_msg m;
    zdc_turn_attrs a;
    last(&f, &m, &a);
    error_reply(&f, &m, 437, "Allocation Mismatch");
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_FAILED);
    cr_assert_eq(f.fail_code, 437u);
    fx_fini(&f);
}

/* ---- permissions, channels, data ---------------------------------------------------------- */

Test(turn, permission_installed_renewed_and_expires)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 3600);
    allocate(&f, 3600);
    zdc_addr peer = za("192.0.2.10", 7000), same_ip = za("192.0.2.10", 7001);
    cr_assert_eq(zdc_turn_permit(f.t, &peer, f.now), 0);
    int before = f.n_out;
    cr_assert_eq(zdc_turn_permit(f.t, &same_ip, f.now), 0);
    cr_assert_eq(f.n_out, before, "one permission per IP");
    zdc_stun_msg m;
    zdc_turn_attrs a;
    last(&f, &m, &a);
    cr_assert_eq(m.method, ZDC_TURN_CREATE_PERMISSION);
    cr_assert(a.has_peer && a.peer.port == 7000);
    cr_assert(!zdc_turn_has_permission(f.t, &peer));
    cr_assert_eq(succeed(&f, &m, 0, false), 0);
    cr_assert(zdc_turn_has_permission(f.t, &same_ip));
    uint64_t t0 = f.now;

    /* Renewed at 240 s. */
    run_until(&f, t0 + 240 * S);
    last(&f, &m, &a);
    cr_assert_eq(m.method, ZDC_TURN_CREATE_PERMISSION);
    cr_assert_eq(succeed(&f, &m, 0, false), 0);
    /* Next renewal unanswered: it expires 300 s after the last success. */
    uint64_t t1 = f.now;
    run_until(&f, t1 + 299 * S);
    cr_assert(zdc_turn_has_permission(f.t, &peer));
    run_until(&f, t1 + 300 * S);
    cr_assert(!zdc_turn_has_permission(f.t, &peer));
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_ALLOCATED, "the allocation itself is fine");
    fx_fini(&f);
}

/* config.refresh_every_ms (tuning.turn_refresh_ms): everything renewed that often, so a real
 * server's answers are seen in a short test (nat.sh "refresh"); never later than normal. */
Test(turn, refresh_every_renews_early)
{
    fx f;
    fx_refresh_every_ms = 5000;
    fx_init(&f, ZDC_TURN_UDP, 0);
    fx_refresh_every_ms = 0;
    allocate(&f, 600);
    uint64_t t0 = f.now;
    cr_assert_eq(zdc_turn_next_timeout(f.t), t0 + 5 * S, "refresh after 5 s, not 540 s");
    zdc_addr peer = za("192.0.2.10", 7000);
    cr_assert_eq(zdc_turn_bind_channel(f.t, &peer, f.now), 0);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    /* Answer the CreatePermission and the ChannelBind. */
    for (int k = f.n_out - 2; k < f.n_out; k++) {
        cr_assert_eq(zdc_turn_parse(f.out[k].data, f.out[k].len, &m, &a), 0);
        cr_assert_eq(succeed(&f, &m, 0, false), 0);
    }
    cr_assert(zdc_turn_channel(f.t, &peer));
    for (int round = 0; round < 3; round++) {
        int before = f.n_out;
        run_until(&f, f.now + 5 * S);
        int refresh = 0, perm = 0, bind = 0;
        for (int k = before; k < f.n_out; k++) {
            cr_assert_eq(zdc_turn_parse(f.out[k].data, f.out[k].len, &m, &a), 0);
            refresh += m.method == ZDC_TURN_REFRESH;
            perm += m.method == ZDC_TURN_CREATE_PERMISSION;
            bind += m.method == ZDC_TURN_CHANNEL_BIND;
            cr_assert_eq(succeed(&f, &m, 600, false), 0);
        }
        cr_assert_eq(refresh, 1, "round %d: one Refresh", round);
        cr_assert_eq(perm, 1, "round %d: one CreatePermission", round);
        cr_assert_eq(bind, 1, "round %d: one ChannelBind", round);
        cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_ALLOCATED);
    }
    cr_assert_eq(zdc_turn_expiry(f.t), f.now + 600 * S);
    fx_fini(&f);
}

/* The transport to the server is gone (a TCP/TLS stream dropped): FAILED once, with the
 * reason given, and nothing is sent any more. */
Test(turn, abort_fails_once_with_reason)
{
    fx f;
    fx_init(&f, ZDC_TURN_TCP, 0);
    allocate(&f, 600);
    zdc_turn_abort(f.t, ZDC_ERR_IO, "TURN over TCP to 192.0.2.1:3478: the server closed it");
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_FAILED);
    cr_assert_eq(f.failed, 1);
    cr_assert_eq(f.fail_err, ZDC_ERR_IO);
    cr_assert_eq(f.fail_code, 0);
    cr_assert_str_eq(f.fail_reason, "TURN over TCP to 192.0.2.1:3478: the server closed it");
    zdc_turn_abort(f.t, ZDC_ERR_IO, "again");
    cr_assert_eq(f.failed, 1, "reported once");
    int before = f.n_out;
    run_until(&f, f.now + 700 * S);
    cr_assert_eq(f.n_out, before, "a failed client sends nothing");
    fx_fini(&f);
}

Test(turn, refused_permission_dropped)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    allocate(&f, 600);
    zdc_addr peer = za("192.0.2.10", 7000);
    cr_assert_eq(zdc_turn_permit(f.t, &peer, f.now), 0);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    last(&f, &m, &a);
    error_reply(&f, &m, 403, "Forbidden");
    cr_assert(!zdc_turn_has_permission(f.t, &peer));
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_ALLOCATED);
    /* Data for the refused peer goes as Send indications, but no CreatePermission for 30 s. */
    int before = f.n_out;
    for (int i = 0; i < 10; i++) {
        f.now += 1 * S;
        cr_assert_eq(zdc_turn_send(f.t, &peer, (const uint8_t *)"x", 1, f.now), 0);
    }
    for (int i = before; i < f.n_out; i++) {
        cr_assert_eq(zdc_turn_parse(f.out[i].data, f.out[i].len, &m, &a), 0);
        cr_assert_eq(m.method, ZDC_TURN_SEND, "no CreatePermission during the back-off");
    }
    f.now += 21 * S;
    cr_assert_eq(zdc_turn_send(f.t, &peer, (const uint8_t *)"x", 1, f.now), 0);
    cr_assert_eq(zdc_turn_parse(f.out[f.n_out - 2].data, f.out[f.n_out - 2].len, &m, &a), 0);
    cr_assert_eq(m.method, ZDC_TURN_CREATE_PERMISSION, "asked again after 30 s");
    fx_fini(&f);
}

static void data_indication(fx *f, const char *ip, uint16_t port, const char *payload, int want)
{
    uint8_t id[12] = {9};
    zdc_stun_builder b;
    zdc_stun_addr p = sa(ip, port);
    zdc_stun_build_begin(&b, reply_buf, sizeof reply_buf, ZDC_TURN_DATA, ZDC_STUN_INDICATION, id);
    zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_PEER_ADDRESS, &p);
    zdc_stun_add_bytes(&b, ZDC_TURN_ATTR_DATA, payload, strlen(payload));
    cr_assert_eq(feed(f, &b), want);
}

Test(turn, channel_bind_then_channel_data_both_ways)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    allocate(&f, 600);
    zdc_addr peer = za("192.0.2.10", 7000);
    zdc_stun_msg m;
    zdc_turn_attrs a;

    /* No permission yet: a Data indication from the peer is discarded (RFC 8656 §11.4). */
    data_indication(&f, "192.0.2.10", 7000, "early", ZDC_ERR_NOT_FOUND);

    cr_assert_eq(zdc_turn_bind_channel(f.t, &peer, f.now), 0);
    /* The permission and the binding are requested. */
    zdc_stun_msg perm_req;
    cr_assert_eq(zdc_turn_parse(f.out[f.n_out - 2].data, f.out[f.n_out - 2].len, &perm_req, &a), 0);
    cr_assert_eq(perm_req.method, ZDC_TURN_CREATE_PERMISSION);
    last(&f, &m, &a);
    cr_assert_eq(m.method, ZDC_TURN_CHANNEL_BIND);
    cr_assert(a.has_channel && a.channel == 0x4000);
    cr_assert(a.has_peer && a.peer.port == 7000);

    /* Before the server confirms: Send indications. */
    const uint8_t hello[] = "hello";
    cr_assert_eq(zdc_turn_send(f.t, &peer, hello, 5, f.now), 0);
    zdc_stun_msg s;
    zdc_turn_attrs sa_;
    last(&f, &s, &sa_);
    cr_assert_eq(s.method, ZDC_TURN_SEND);
    cr_assert_eq(s.cls, ZDC_STUN_INDICATION);
    cr_assert(sa_.has_peer && sa_.has_data && sa_.data.len == 5 &&
              memcmp(sa_.data.p, "hello", 5) == 0);

    data_indication(&f, "192.0.2.10", 7000, "ping", 0);
    cr_assert_eq(f.n_data, 1);
    cr_assert(zdc_addr_equal(&f.data_from, &peer));
    cr_assert(f.data_len == 4 && memcmp(f.data, "ping", 4) == 0);

    cr_assert_eq(succeed(&f, &m, 0, false), 0);
    cr_assert_eq(zdc_turn_channel(f.t, &peer), 0x4000);
    cr_assert(zdc_turn_has_permission(f.t, &peer), "a binding installs the permission");

    cr_assert_eq(zdc_turn_send(f.t, &peer, hello, 5, f.now), 0);
    const sent *cd = &f.out[f.n_out - 1];
    cr_assert_eq(cd->len, 9u, "no padding over UDP");
    uint16_t ch;
    const uint8_t *d;
    size_t n;
    cr_assert_eq(zdc_turn_channel_data_parse(cd->data, cd->len, &ch, &d, &n), 0);
    cr_assert(ch == 0x4000 && n == 5 && memcmp(d, "hello", 5) == 0);

    uint8_t in[16];
    int len = zdc_turn_channel_data_build(in, sizeof in, 0x4000, (const uint8_t *)"pong", 4, false);
    cr_assert_eq(zdc_turn_handle_input(f.t, in, (size_t)len, f.now), 0);
    cr_assert_eq(f.n_data, 2);
    cr_assert(f.data_len == 4 && memcmp(f.data, "pong", 4) == 0);
    cr_assert(zdc_addr_equal(&f.data_from, &peer));
    len = zdc_turn_channel_data_build(in, sizeof in, 0x4001, (const uint8_t *)"x", 1, false);
    cr_assert_eq(zdc_turn_handle_input(f.t, in, (size_t)len, f.now), ZDC_ERR_NOT_FOUND);

    /* Renewed at 540 s (the permission rides on it). */
    uint64_t t0 = f.now;
    int binds = 0;
    for (uint64_t until = t0 + 540 * S; zdc_turn_next_timeout(f.t) <= until;) {
        int k = f.n_out;
        run_until(&f, zdc_turn_next_timeout(f.t)); /* one deadline, answered at once */
        for (int i = k; i < f.n_out; i++) {
            cr_assert_eq(zdc_turn_parse(f.out[i].data, f.out[i].len, &m, &a), 0);
            if (m.method == ZDC_TURN_CHANNEL_BIND)
                binds++;
            cr_assert_eq(succeed(&f, &m, 600, false), 0);
        }
    }
    cr_assert_eq(binds, 1);
    cr_assert_eq(zdc_turn_channel(f.t, &peer), 0x4000);
    fx_fini(&f);
}

Test(turn, channel_data_padded_over_tcp)
{
    fx f;
    fx_init(&f, ZDC_TURN_TCP, 0);
    allocate(&f, 600);
    zdc_addr peer = za("192.0.2.10", 7000);
    cr_assert_eq(zdc_turn_bind_channel(f.t, &peer, f.now), 0);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    last(&f, &m, &a);
    cr_assert_eq(succeed(&f, &m, 0, false), 0);
    cr_assert_eq(zdc_turn_send(f.t, &peer, (const uint8_t *)"hello", 5, f.now), 0);
    const sent *cd = &f.out[f.n_out - 1];
    cr_assert_eq(cd->len, 12u, "RFC 8656 §12.5: padded to 4 over TCP");
    cr_assert_eq(zdc_turn_stream_frame(cd->data, cd->len), 12);
    fx_fini(&f);
}

Test(turn, tables_bounded)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    allocate(&f, 600);
    int rv = 0, ok = 0;
    for (int i = 0; i < 100 && rv == 0; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "192.0.2.%d", i + 1);
        zdc_addr p = za(ip, 1000);
        rv = zdc_turn_permit(f.t, &p, f.now);
        ok += rv == 0;
    }
    cr_assert_eq(rv, ZDC_ERR_QUEUE_FULL);
    cr_assert_eq(ok, ZDC_TURN_MAX_PERMISSIONS);
    zdc_addr p = za("198.18.0.1", 1);
    cr_assert_eq(zdc_turn_send(f.t, &p, (const uint8_t *)"x", 1, f.now), ZDC_ERR_QUEUE_FULL);
    fx_fini(&f);
}

Test(turn, close_deallocates)
{
    fx f;
    fx_init(&f, ZDC_TURN_UDP, 0);
    allocate(&f, 600);
    int before = f.n_out;
    zdc_turn_close(f.t, f.now);
    cr_assert_eq(f.n_out, before + 1);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    const sent *s = last(&f, &m, &a);
    cr_assert_eq(m.method, ZDC_TURN_REFRESH);
    cr_assert(a.has_lifetime && a.lifetime == 0, "RFC 8656 §7.2: LIFETIME 0 deletes it");
    uint8_t key[16];
    md5_key(key);
    cr_assert_eq(zdc_stun_check_integrity(s->data, s->len, &m, key, 16), 0);
    cr_assert_eq(zdc_turn_state(f.t), ZDC_TURN_CLOSED);
    zdc_turn_close(f.t, f.now);
    cr_assert_eq(f.n_out, before + 1, "close is idempotent");
    cr_assert_eq(zdc_turn_next_timeout(f.t), UINT64_MAX);
    zdc_addr p = za("192.0.2.1", 1);
    cr_assert_eq(zdc_turn_send(f.t, &p, (const uint8_t *)"x", 1, f.now), ZDC_ERR_INVALID_STATE);
    fx_fini(&f);
}

Test(turn, bad_config_refused)
{
    zdc_turn *t = NULL;
    zdc_turn_config cfg = {.username = "u", .password = "p", .random = rnd, .send = on_send};
    cfg.transport = 7;
    cr_assert_eq(zdc_turn_new(&cfg, &t), ZDC_ERR_INVALID_PARAMETER);
    cfg.transport = ZDC_TURN_UDP;
    cfg.password = NULL;
    cr_assert_eq(zdc_turn_new(&cfg, &t), ZDC_ERR_INVALID_PARAMETER);
    char longname[600];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    cfg.password = "p";
    cfg.username = longname;
    cr_assert_eq(zdc_turn_new(&cfg, &t), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_null(t);
}

/* ---- codec -------------------------------------------------------------------------------- */

Test(turnmsg, channel_data_parse_limits)
{
    uint8_t buf[16];
    uint16_t ch;
    const uint8_t *d;
    size_t n;
    cr_assert_eq(zdc_turn_channel_data_build(buf, sizeof buf, 0x3FFF, NULL, 0, false),
                 ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_turn_channel_data_build(buf, 6, 0x4000, (const uint8_t *)"abc", 3, true),
                 ZDC_ERR_BUFFER_TOO_SMALL);
    int len = zdc_turn_channel_data_build(buf, sizeof buf, 0x4FFF, (const uint8_t *)"abc", 3, true);
    cr_assert_eq(len, 8);
    cr_assert(zdc_turn_is_channel_data(buf, 8));
    cr_assert_eq(buf[0], 79, "RFC 7983: 0x4FFF starts with 79");
    cr_assert_eq(zdc_turn_channel_data_parse(buf, 8, &ch, &d, &n), 0);
    cr_assert(ch == 0x4FFF && n == 3 && memcmp(d, "abc", 3) == 0);
    cr_assert_eq(zdc_turn_channel_data_parse(buf, 7, &ch, &d, &n), 0, "3 bytes, no padding");
    cr_assert_eq(zdc_turn_channel_data_parse(buf, 6, &ch, &d, &n), ZDC_ERR_TRUNCATED);
    uint8_t big[12] = {0x40, 0, 0, 1};
    cr_assert_eq(zdc_turn_channel_data_parse(big, 12, &ch, &d, &n), ZDC_ERR_MALFORMED,
                 "7 trailing bytes are not padding");
    big[0] = 0x50;
    cr_assert(!zdc_turn_is_channel_data(big, 12));
    cr_assert_eq(zdc_turn_channel_data_parse(big, 8, &ch, &d, &n), ZDC_ERR_MALFORMED);
}

Test(turnmsg, stream_framing)
{
    uint8_t s[64];
    int cd = zdc_turn_channel_data_build(s, sizeof s, 0x4001, (const uint8_t *)"hello", 5, true);
    cr_assert_eq(cd, 12);
    uint8_t id[12] = {1, 2, 3};
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, s + cd, sizeof s - (size_t)cd, ZDC_TURN_REFRESH, ZDC_STUN_REQUEST, id);
    zdc_stun_add_u32(&b, ZDC_TURN_ATTR_LIFETIME, 0);
    int st = zdc_stun_build_end(&b);
    cr_assert_eq(st, 28);
    /* Every prefix shorter than the first frame asks for more. */
    for (int i = 0; i < cd; i++)
        cr_assert_eq(zdc_turn_stream_frame(s, (size_t)i), 0);
    cr_assert_eq(zdc_turn_stream_frame(s, (size_t)(cd + st)), cd);
    for (int i = 0; i < st; i++)
        cr_assert_eq(zdc_turn_stream_frame(s + cd, (size_t)i), 0);
    cr_assert_eq(zdc_turn_stream_frame(s + cd, (size_t)st), st);
    uint8_t bad[8] = {0x80, 0, 0, 0};
    cr_assert_eq(zdc_turn_stream_frame(bad, 8), ZDC_ERR_MALFORMED);
    uint8_t badlen[8] = {0, 1, 0, 3, 0x21, 0x12, 0xA4, 0x42};
    cr_assert_eq(zdc_turn_stream_frame(badlen, 8), ZDC_ERR_MALFORMED);
    uint8_t badcookie[8] = {0, 1, 0, 4, 1, 2, 3, 4};
    cr_assert_eq(zdc_turn_stream_frame(badcookie, 8), ZDC_ERR_MALFORMED);
}

Test(turnmsg, turn_attributes_known_others_still_unknown)
{
    uint8_t buf[256], id[12] = {7};
    zdc_stun_builder b;
    zdc_stun_addr p = sa("2001:db8::1", 3478);
    zdc_stun_build_begin(&b, buf, sizeof buf, ZDC_TURN_CHANNEL_BIND, ZDC_STUN_REQUEST, id);
    zdc_stun_add_u32(&b, ZDC_TURN_ATTR_CHANNEL_NUMBER, 0x4ABCu << 16);
    zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_PEER_ADDRESS, &p);
    zdc_stun_add_u32(&b, ZDC_TURN_ATTR_LIFETIME, 77);
    int n = zdc_stun_build_end(&b);
    zdc_stun_msg m;
    zdc_turn_attrs a;
    zdc_stun_msg plain;
    cr_assert_eq(zdc_stun_parse(buf, (size_t)n, &plain), ZDC_ERR_UNKNOWN_ATTRIBUTE,
                 "plain STUN does not know TURN attributes");
    cr_assert_eq(zdc_turn_parse(buf, (size_t)n, &m, &a), 0);
    cr_assert(a.has_channel && a.channel == 0x4ABC);
    cr_assert(a.has_lifetime && a.lifetime == 77);
    cr_assert(a.has_peer && a.peer.family == 6 && a.peer.port == 3478);
    cr_assert_eq(memcmp(a.peer.ip, p.ip, 16), 0);

    zdc_stun_add_flag(&b, 0x7777);
    n = zdc_stun_build_end(&b);
    cr_assert_eq(zdc_turn_parse(buf, (size_t)n, &m, &a), ZDC_ERR_UNKNOWN_ATTRIBUTE);
    cr_assert_eq(m.n_unknown_required, 1u);
    cr_assert_eq(m.unknown_required[0], 0x7777);

    /* A channel number outside 0x4000-0x4FFF is malformed. */
    zdc_stun_build_begin(&b, buf, sizeof buf, ZDC_TURN_CHANNEL_BIND, ZDC_STUN_REQUEST, id);
    zdc_stun_add_u32(&b, ZDC_TURN_ATTR_CHANNEL_NUMBER, 0x5000u << 16);
    n = zdc_stun_build_end(&b);
    cr_assert_eq(zdc_turn_parse(buf, (size_t)n, &m, &a), ZDC_ERR_MALFORMED);
}
