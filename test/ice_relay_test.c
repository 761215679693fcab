/* ICE with relayed candidates (core/proto/ice.c), sans-IO on a fake clock: agent A has a host
 * candidate and a TURN allocation (the relay is simulated: what A sends through it reaches B
 * from the relayed address, what B sends to the relayed address reaches A through
 * zdc_ice_handle_stun_relayed); agent B has a host candidate. The direct path between the two
 * hosts can be cut, as two NATs would. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ice.h"
#include "zdc/candidate.h"
#include "zdc/error.h"

#define MS 1000000ull
#define S  1000000000ull

typedef struct pkt {
    int to;        /* 0 = A, 1 = B */
    bool relayed;  /* reaches A through its relay / left A through it */
    zdc_addr from; /* source address the receiver sees */
    uint8_t data[1200];
    size_t len;
} pkt;

typedef struct world {
    zdc_ice *a, *b;
    zdc_addr a_host, a_relayed, a_mapped, b_host;
    bool direct_open;
    pkt q[512];
    int n;
    int a_direct_sent, a_relayed_sent;
    zdc_candidate a_cands[8], b_cands[8];
    int n_a, n_b;
    bool a_eoc, b_eoc;
    int a_gathering;
    uint64_t rng;
} world;

static world *W;

static void rnd(void *user, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        W->rng = W->rng * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(W->rng >> 56);
    }
}

static void push(int to, bool relayed, const zdc_addr *from, const uint8_t *p, size_t len)
{
    cr_assert(W->n < 512 && len <= sizeof W->q[0].data);
    pkt *k = &W->q[W->n++];
    k->to = to;
    k->relayed = relayed;
    k->from = *from;
    memcpy(k->data, p, len);
    k->len = len;
}

static void a_send(void *user, const zdc_addr *to, const uint8_t *p, size_t len)
{
    W->a_direct_sent++;
    if (W->direct_open && zdc_addr_equal(to, &W->b_host))
        push(1, false, &W->a_host, p, len);
}

static void a_send_relayed(void *user, const zdc_addr *relayed, const zdc_addr *to,
                           const uint8_t *p, size_t len)
{
    cr_assert(zdc_addr_equal(relayed, &W->a_relayed));
    W->a_relayed_sent++;
    if (zdc_addr_equal(to, &W->b_host)) /* the TURN server forwards from the relayed address */
        push(1, true, &W->a_relayed, p, len);
}

static void b_send(void *user, const zdc_addr *to, const uint8_t *p, size_t len)
{
    if (zdc_addr_equal(to, &W->a_relayed))
        push(0, true, &W->b_host, p, len);
    else if (W->direct_open && zdc_addr_equal(to, &W->a_host))
        push(0, false, &W->b_host, p, len);
}

static void a_cand(void *user, const zdc_candidate *c)
{
    if (!c)
        W->a_eoc = true;
    else
        W->a_cands[W->n_a++] = *c;
}

static void b_cand(void *user, const zdc_candidate *c)
{
    if (!c)
        W->b_eoc = true;
    else
        W->b_cands[W->n_b++] = *c;
}

static void a_gather(void *user, int g)
{
    W->a_gathering = g;
}

static zdc_addr ip(const char *s, uint16_t port)
{
    zdc_addr a;
    cr_assert_eq(zdc_addr_from_ip(&a, s, strlen(s), port), 0);
    return a;
}

static void setup(world *w, bool relay_only, bool direct_open)
{
    memset(w, 0, sizeof *w);
    W = w;
    w->rng = 7;
    w->direct_open = direct_open;
    w->a_host = ip("192.168.1.2", 4000);
    w->a_relayed = ip("203.0.113.5", 50000);
    w->a_mapped = ip("198.51.100.7", 40000);
    w->b_host = ip("10.0.0.2", 5000);
    zdc_ice_config ca = {.role = ZDC_ICE_CONTROLLING,
                         .relay_only = relay_only,
                         .random = rnd,
                         .send = a_send,
                         .send_relayed = a_send_relayed,
                         .on_candidate = a_cand,
                         .on_gathering_state = a_gather};
    zdc_ice_config cb = {
        .role = ZDC_ICE_CONTROLLED, .random = rnd, .send = b_send, .on_candidate = b_cand};
    cr_assert_eq(zdc_ice_new(&ca, &w->a), 0);
    cr_assert_eq(zdc_ice_new(&cb, &w->b), 0);
    cr_assert_eq(zdc_ice_add_local_address(w->a, &w->a_host), 0);
    cr_assert_eq(zdc_ice_add_local_address(w->b, &w->b_host), 0);
    cr_assert_eq(zdc_ice_expect_relays(w->a, 1), 0);
    cr_assert_eq(zdc_ice_gather(w->a, 0), 0);
    cr_assert_eq(zdc_ice_gather(w->b, 0), 0);
    cr_assert_eq(w->a_gathering, ZDC_ICE_GATHERING_GATHERING, "waits for the relay");
    cr_assert(!w->a_eoc);
    cr_assert_eq(zdc_ice_add_relayed_candidate(w->a, &w->a_relayed, &w->a_mapped), 0);
    cr_assert_eq(w->a_gathering, ZDC_ICE_GATHERING_COMPLETE);
    cr_assert(w->a_eoc);
    cr_assert_eq(zdc_ice_set_remote_credentials(w->a, zdc_ice_local_ufrag(w->b),
                                                zdc_ice_local_pwd(w->b), false),
                 0);
    cr_assert_eq(zdc_ice_set_remote_credentials(w->b, zdc_ice_local_ufrag(w->a),
                                                zdc_ice_local_pwd(w->a), false),
                 0);
    for (int i = 0; i < w->n_a; i++)
        cr_assert_eq(zdc_ice_add_remote_candidate(w->b, &w->a_cands[i]), 0);
    for (int i = 0; i < w->n_b; i++)
        cr_assert_eq(zdc_ice_add_remote_candidate(w->a, &w->b_cands[i]), 0);
    zdc_ice_add_remote_candidate(w->a, NULL);
    zdc_ice_add_remote_candidate(w->b, NULL);
}

static void deliver(world *w, uint64_t now)
{
    for (int i = 0; i < w->n; i++) {
        pkt *k = &w->q[i];
        zdc_stun_msg m;
        int rv = zdc_stun_parse(k->data, k->len, &m);
        cr_assert(rv == 0 || rv == ZDC_ERR_UNKNOWN_ATTRIBUTE);
        if (k->to == 1)
            zdc_ice_handle_stun_msg(w->b, &k->from, k->data, k->len, &m, rv, now);
        else if (k->relayed)
            zdc_ice_handle_stun_relayed(w->a, &w->a_relayed, &k->from, k->data, k->len, &m, rv,
                                        now);
        else
            zdc_ice_handle_stun_msg(w->a, &k->from, k->data, k->len, &m, rv, now);
    }
    w->n = 0;
}

static bool connected(const zdc_ice *ice)
{
    return zdc_ice_state(ice) == ZDC_ICE_CONNECTED || zdc_ice_state(ice) == ZDC_ICE_COMPLETED;
}

/* Runs both agents until both are CONNECTED or `limit` passes; returns the time. */
static uint64_t run(world *w, uint64_t limit)
{
    uint64_t now = 0;
    while (now < limit) {
        deliver(w, now);
        if (connected(w->a) && connected(w->b) && w->n == 0)
            break;
        uint64_t na = zdc_ice_next_timeout(w->a), nb = zdc_ice_next_timeout(w->b);
        uint64_t next = na < nb ? na : nb;
        if (next > now + 10 * MS)
            next = now + 10 * MS; /* a link delay: let queued packets arrive */
        now = next > now ? next : now + 1;
        zdc_ice_handle_timeout(w->a, now);
        zdc_ice_handle_timeout(w->b, now);
    }
    return now;
}

static void teardown(world *w)
{
    zdc_ice_free(w->a);
    zdc_ice_free(w->b);
}

Test(ice_relay, relay_only_signals_and_uses_only_the_relay)
{
    world w;
    setup(&w, true, true);
    cr_assert_eq(w.n_a, 1, "relay policy: only the relayed candidate is signaled");
    cr_assert_eq(w.a_cands[0].type, ZDC_CAND_RELAY);
    cr_assert_str_eq(w.a_cands[0].address, "203.0.113.5");
    cr_assert_eq(w.a_cands[0].port, 50000);
    cr_assert(w.a_cands[0].has_raddr);
    cr_assert_str_eq(w.a_cands[0].raddr, "198.51.100.7", "raddr is the mapped address");
    cr_assert_eq(w.a_cands[0].priority >> 24, 0u, "RFC 8445 §5.1.2.2: relay type preference 0");

    run(&w, 30 * S);
    cr_assert(connected(w.a), "state %d", zdc_ice_state(w.a));
    int lt, rt;
    cr_assert_eq(zdc_ice_selected_types(w.a, &lt, &rt), 0);
    cr_assert_eq(lt, ZDC_CAND_RELAY);
    cr_assert_eq(rt, ZDC_CAND_HOST);
    cr_assert_eq(zdc_ice_selected_types(w.b, &lt, &rt), 0);
    cr_assert_eq(rt, ZDC_CAND_RELAY);
    cr_assert_eq(w.a_direct_sent, 0, "nothing leaves the socket under the relay policy");
    cr_assert_gt(w.a_relayed_sent, 0);

    /* A check arriving directly (someone learned the host address) is not answered. */
    uint8_t buf[200], id[12] = {1};
    char user[80];
    snprintf(user, sizeof user, "%s:%s", zdc_ice_local_ufrag(w.a), zdc_ice_local_ufrag(w.b));
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, buf, sizeof buf, ZDC_STUN_BINDING, ZDC_STUN_REQUEST, id);
    zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_USERNAME, user, strlen(user));
    zdc_stun_add_u32(&b, ZDC_STUN_ATTR_PRIORITY, 1);
    zdc_stun_add_integrity(&b, (const uint8_t *)zdc_ice_local_pwd(w.a),
                           strlen(zdc_ice_local_pwd(w.a)));
    int n = zdc_stun_build_end(&b);
    cr_assert_eq(zdc_ice_handle_stun(w.a, &w.b_host, buf, (size_t)n, 31 * S), 0);
    cr_assert_eq(w.a_direct_sent, 0, "no answer on the direct path");
    teardown(&w);
}

Test(ice_relay, relay_used_when_direct_path_is_cut)
{
    world w;
    setup(&w, false, false);
    cr_assert_eq(w.n_a, 2, "host and relay signaled");
    run(&w, 30 * S);
    cr_assert(connected(w.a), "state %d", zdc_ice_state(w.a));
    int lt, rt;
    cr_assert_eq(zdc_ice_selected_types(w.a, &lt, &rt), 0);
    cr_assert_eq(lt, ZDC_CAND_RELAY, "nothing else works: the relayed pair");
    zdc_addr local, remote;
    cr_assert_eq(zdc_ice_selected_pair(w.a, &local, &remote), 0);
    cr_assert(zdc_addr_equal(&local, &w.a_relayed));
    cr_assert(zdc_addr_equal(&remote, &w.b_host));
    teardown(&w);
}

Test(ice_relay, direct_pair_preferred_when_it_works)
{
    world w;
    setup(&w, false, true);
    run(&w, 30 * S);
    cr_assert(connected(w.a), "state %d", zdc_ice_state(w.a));
    int lt, rt;
    cr_assert_eq(zdc_ice_selected_types(w.a, &lt, &rt), 0);
    cr_assert_eq(lt, ZDC_CAND_HOST, "the host pair outranks the relayed one");
    teardown(&w);
}

Test(ice_relay, failed_allocation_completes_gathering)
{
    world w;
    memset(&w, 0, sizeof w);
    W = &w;
    zdc_ice_config ca = {.role = ZDC_ICE_CONTROLLING,
                         .random = rnd,
                         .send = a_send,
                         .send_relayed = a_send_relayed,
                         .on_candidate = a_cand,
                         .on_gathering_state = a_gather};
    cr_assert_eq(zdc_ice_new(&ca, &w.a), 0);
    zdc_addr h = ip("192.168.1.2", 4000);
    cr_assert_eq(zdc_ice_add_local_address(w.a, &h), 0);
    cr_assert_eq(zdc_ice_expect_relays(w.a, 2), 0);
    cr_assert_eq(zdc_ice_gather(w.a, 0), 0);
    zdc_ice_relay_failed(w.a);
    cr_assert_eq(w.a_gathering, ZDC_ICE_GATHERING_GATHERING);
    zdc_ice_relay_failed(w.a);
    cr_assert_eq(w.a_gathering, ZDC_ICE_GATHERING_COMPLETE);
    cr_assert(w.a_eoc);
    cr_assert_eq(w.n_a, 1);
    /* Without send_relayed no relayed candidate can be added. */
    zdc_ice *b;
    zdc_ice_config cb = {.role = ZDC_ICE_CONTROLLED, .random = rnd, .send = b_send};
    cr_assert_eq(zdc_ice_new(&cb, &b), 0);
    zdc_addr r = ip("203.0.113.5", 1);
    cr_assert_eq(zdc_ice_add_relayed_candidate(b, &r, NULL), ZDC_ERR_INVALID_PARAMETER);
    zdc_ice_free(b);
    zdc_ice_free(w.a);
}
