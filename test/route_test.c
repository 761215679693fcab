/* The engine's routing table (io/route.c) without sockets or peer connections: stand-in
 * entries whose "peer" answers from a small script (which ufrag, which transactions, which
 * addresses it accepts), and STUN messages built with the codec. Checks that each datagram
 * kind reaches the right entry, that the peer's confirmation is always asked (so a colliding
 * or stale key cannot misroute), and that removal forgets everything. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "route.h"
#include "zdc/stun.h"

typedef struct fake {
    zdc_route_entry route; /* first: the ops get it back */
    const char *ufrag;     /* the local ufrag the peer owns */
    uint8_t txids[4][12];  /* transactions it has open */
    int n_tx;
    zdc_addr accept[8]; /* addresses it accepts non-STUN from */
    int n_accept;
    int asked; /* confirmations asked */
} fake;

static bool owns_stun(zdc_route_entry *e, const zdc_stun_msg *m)
{
    fake *f = (fake *)e;
    f->asked++;
    if (m->cls == ZDC_STUN_REQUEST || m->cls == ZDC_STUN_INDICATION) {
        size_t n = strlen(f->ufrag);
        return m->has_username && m->username.len > n && m->username.p[n] == ':' &&
               memcmp(m->username.p, f->ufrag, n) == 0;
    }
    for (int i = 0; i < f->n_tx; i++)
        if (!memcmp(f->txids[i], m->txid, 12))
            return true;
    return false;
}

static bool accepts_from(zdc_route_entry *e, const zdc_addr *from)
{
    fake *f = (fake *)e;
    f->asked++;
    for (int i = 0; i < f->n_accept; i++)
        if (zdc_addr_equal(&f->accept[i], from))
            return true;
    return false;
}

static const zdc_route_ops ops = {.owns_stun = owns_stun, .accepts_from = accepts_from};

static zdc_addr ip(const char *s, uint16_t port)
{
    zdc_addr a;
    cr_assert_eq(zdc_addr_from_ip(&a, s, strlen(s), port), 0, "%s", s);
    return a;
}

static void init(zdc_route *r)
{
    uint8_t seeds[4][16];
    for (int i = 0; i < 4; i++)
        memset(seeds[i], i + 1, 16);
    cr_assert_eq(zdc_route_init(r, &ops, (const uint8_t(*)[16])seeds), 0);
}

static void add(zdc_route *r, fake *f, const char *ufrag, const zdc_addr *selected)
{
    zdc_route_add(r, &f->route);
    f->ufrag = ufrag;
    zdc_route_set_keys(r, &f->route, ufrag, selected, selected != NULL);
}

/* A Binding request (USERNAME "to:from") or success response, as bytes and parsed. */
static size_t stun(uint8_t *buf, size_t cap, uint8_t cls, uint8_t tx, const char *user,
                   zdc_stun_msg *out)
{
    uint8_t txid[12];
    memset(txid, tx, sizeof txid);
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, buf, cap, ZDC_STUN_BINDING, cls, txid);
    if (user)
        zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_USERNAME, user, strlen(user));
    zdc_stun_add_fingerprint(&b);
    int n = zdc_stun_build_end(&b);
    cr_assert_gt(n, 0);
    cr_assert_eq(zdc_stun_parse(buf, (size_t)n, out), 0);
    return (size_t)n;
}

Test(route, request_goes_to_the_ufrag_in_username)
{
    zdc_route r;
    init(&r);
    fake a = {0}, b = {0};
    add(&r, &a, "aaaa", NULL);
    add(&r, &b, "bbbb", NULL);
    uint8_t buf[256];
    zdc_stun_msg m;
    stun(buf, sizeof buf, ZDC_STUN_REQUEST, 1, "bbbb:remote", &m);
    cr_assert_eq(zdc_route_stun_owner(&r, &m, NULL), &b.route);
    cr_assert_eq(b.asked, 1, "the peer confirms every candidate the map gives");
    cr_assert_eq(a.asked, 0, "a lookup touches only the entries under its key");
    stun(buf, sizeof buf, ZDC_STUN_REQUEST, 2, "cccc:remote", &m);
    cr_assert_null(zdc_route_stun_owner(&r, &m, NULL), "no entry has that ufrag");
    stun(buf, sizeof buf, ZDC_STUN_REQUEST, 3, NULL, &m);
    cr_assert_null(zdc_route_stun_owner(&r, &m, NULL), "a request without USERNAME");
    /* skip: the sender of self traffic never gets its own request */
    stun(buf, sizeof buf, ZDC_STUN_REQUEST, 4, "bbbb:remote", &m);
    cr_assert_null(zdc_route_stun_owner(&r, &m, &b.route));
    zdc_route_remove(&r, &a.route);
    zdc_route_remove(&r, &b.route);
    zdc_route_clear(&r);
}

Test(route, response_goes_to_the_sender_of_its_request)
{
    zdc_route r;
    init(&r);
    fake a = {0}, b = {0};
    add(&r, &a, "aaaa", NULL);
    add(&r, &b, "bbbb", NULL);
    uint8_t req[256], resp[256];
    zdc_stun_msg m;
    size_t n = stun(req, sizeof req, ZDC_STUN_REQUEST, 7, "remote:aaaa", &m);
    zdc_route_tx_remember(&r, &a.route, req, n);
    memset(a.txids[a.n_tx++], 7, 12);
    stun(resp, sizeof resp, ZDC_STUN_SUCCESS, 7, NULL, &m);
    cr_assert_eq(zdc_route_stun_owner(&r, &m, NULL), &a.route);
    /* A response to a transaction nobody remembers, or that the peer no longer has open. */
    stun(resp, sizeof resp, ZDC_STUN_SUCCESS, 8, NULL, &m);
    cr_assert_null(zdc_route_stun_owner(&r, &m, NULL));
    a.n_tx = 0;
    stun(resp, sizeof resp, ZDC_STUN_SUCCESS, 7, NULL, &m);
    cr_assert_null(zdc_route_stun_owner(&r, &m, NULL), "the peer's word decides");
    /* Responses are not remembered as requests. */
    size_t rn = stun(resp, sizeof resp, ZDC_STUN_SUCCESS, 9, NULL, &m);
    zdc_route_tx_remember(&r, &b.route, resp, rn);
    memset(b.txids[b.n_tx++], 9, 12);
    cr_assert_null(zdc_route_stun_owner(&r, &m, NULL));
    zdc_route_remove(&r, &a.route);
    zdc_route_remove(&r, &b.route);
    zdc_route_clear(&r);
}

Test(route, non_stun_by_selected_then_verified_address)
{
    zdc_route r;
    init(&r);
    fake a = {0}, b = {0};
    zdc_addr ra = ip("192.0.2.1", 4000), rb = ip("192.0.2.2", 4000), rb2 = ip("2001:db8::2", 9);
    add(&r, &a, "aaaa", &ra);
    add(&r, &b, "bbbb", &rb);
    a.accept[a.n_accept++] = ra;
    b.accept[b.n_accept++] = rb;
    cr_assert_eq(zdc_route_addr_owner(&r, &ra, NULL), &a.route);
    cr_assert_eq(zdc_route_addr_owner(&r, &rb, NULL), &b.route);
    cr_assert_null(zdc_route_addr_owner(&r, &rb2, NULL), "not verified yet");
    /* Verified only when the peer accepts it. */
    zdc_route_add_verified(&r, &b.route, &rb2);
    cr_assert_null(zdc_route_addr_owner(&r, &rb2, NULL));
    b.accept[b.n_accept++] = rb2;
    zdc_route_add_verified(&r, &b.route, &rb2);
    cr_assert_eq(zdc_route_addr_owner(&r, &rb2, NULL), &b.route);
    /* The selected address moves: the old key is gone, the new one routes. */
    zdc_addr ra2 = ip("192.0.2.9", 4001);
    a.accept[0] = ra2;
    zdc_route_set_keys(&r, &a.route, "aaaa", &ra2, true);
    cr_assert_null(zdc_route_addr_owner(&r, &ra, NULL));
    cr_assert_eq(zdc_route_addr_owner(&r, &ra2, NULL), &a.route);
    /* An address kept out of the map (the engine's own) routes nothing by address. */
    zdc_route_set_keys(&r, &a.route, "aaaa", &ra, false);
    a.accept[0] = ra;
    cr_assert_null(zdc_route_addr_owner(&r, &ra, NULL));
    zdc_route_remove(&r, &a.route);
    zdc_route_remove(&r, &b.route);
    zdc_route_clear(&r);
}

Test(route, verified_addresses_are_bounded_per_entry)
{
    zdc_route r;
    init(&r);
    fake a = {0};
    add(&r, &a, "aaaa", NULL);
    zdc_addr v[ZDC_ROUTE_VERIFIED + 2];
    for (int i = 0; i < ZDC_ROUTE_VERIFIED + 2; i++) {
        char s[32];
        snprintf(s, sizeof s, "198.51.100.%d", i + 1);
        v[i] = ip(s, 5000);
    }
    /* The peer accepts all of them; the table keeps only the newest ZDC_ROUTE_VERIFIED. */
    for (int i = 0; i < ZDC_ROUTE_VERIFIED + 2; i++) {
        a.accept[a.n_accept++] = v[i];
        zdc_route_add_verified(&r, &a.route, &v[i]);
    }
    zdc_route_add_verified(&r, &a.route, &v[ZDC_ROUTE_VERIFIED + 1]); /* again: no duplicate */
    int routed = 0;
    for (int i = 0; i < ZDC_ROUTE_VERIFIED + 2; i++)
        routed += zdc_route_addr_owner(&r, &v[i], NULL) == &a.route;
    cr_assert_eq(routed, ZDC_ROUTE_VERIFIED, "the oldest are replaced");
    cr_assert_null(zdc_route_addr_owner(&r, &v[0], NULL));
    cr_assert_null(zdc_route_addr_owner(&r, &v[1], NULL));
    cr_assert_eq(zdc_route_addr_owner(&r, &v[2], NULL), &a.route);
    zdc_route_remove(&r, &a.route);
    zdc_route_clear(&r);
}

Test(route, removal_forgets_keys_transactions_and_addresses)
{
    zdc_route r;
    init(&r);
    fake a = {0}, b = {0};
    zdc_addr ra = ip("192.0.2.1", 4000), rv = ip("192.0.2.3", 4000);
    add(&r, &a, "same", &ra);
    add(&r, &b, "same", NULL); /* two entries under one ufrag key: the peer decides */
    a.accept[a.n_accept++] = ra;
    a.accept[a.n_accept++] = rv;
    zdc_route_add_verified(&r, &a.route, &rv);
    uint8_t req[256];
    zdc_stun_msg m;
    for (int i = 0; i < 100; i++) { /* many requests: all forgotten on removal */
        size_t n = stun(req, sizeof req, ZDC_STUN_REQUEST, (uint8_t)i, "x:same", &m);
        zdc_route_tx_remember(&r, &a.route, req, n);
    }
    memset(a.txids[a.n_tx++], 5, 12);
    zdc_route_remove(&r, &a.route);
    stun(req, sizeof req, ZDC_STUN_SUCCESS, 5, NULL, &m);
    cr_assert_null(zdc_route_stun_owner(&r, &m, NULL));
    cr_assert_null(zdc_route_addr_owner(&r, &ra, NULL));
    cr_assert_null(zdc_route_addr_owner(&r, &rv, NULL));
    stun(req, sizeof req, ZDC_STUN_REQUEST, 1, "same:x", &m);
    cr_assert_eq(zdc_route_stun_owner(&r, &m, NULL), &b.route, "b still owns its key");
    zdc_route_remove(&r, &b.route);
    cr_assert_null(zdc_route_stun_owner(&r, &m, NULL));
    zdc_route_clear(&r);
}

Test(route, transaction_ring_wraps)
{
    zdc_route r;
    init(&r);
    fake a = {0};
    add(&r, &a, "aaaa", NULL);
    uint8_t req[256];
    zdc_stun_msg m;
    size_t n = stun(req, sizeof req, ZDC_STUN_REQUEST, 0xAB, "x:aaaa", &m);
    zdc_route_tx_remember(&r, &a.route, req, n);
    memset(a.txids[a.n_tx++], 0xAB, 12);
    /* ZDC_ROUTE_TX_RING later requests push the first one out of the ring. */
    for (unsigned i = 0; i < ZDC_ROUTE_TX_RING; i++) {
        req[8] = (uint8_t)i;
        req[9] = (uint8_t)(i >> 8);
        req[10] = 0x11;
        zdc_route_tx_remember(&r, &a.route, req, n);
    }
    stun(req, sizeof req, ZDC_STUN_SUCCESS, 0xAB, NULL, &m);
    cr_assert_null(zdc_route_stun_owner(&r, &m, NULL), "dropped like a loss: ICE retransmits");
    zdc_route_remove(&r, &a.route);
    zdc_route_clear(&r);
}
