/* Fuzzes the engine's routing table (io/route.c, sans-IO) with stand-in peers: the input is a
 * script of datagrams from arbitrary addresses, key changes, STUN requests sent, addresses
 * validated and peers leaving. Besides memory safety it checks what docs/security.md promises:
 * non-STUN traffic reaches a peer only from its selected or a validated address, and STUN only
 * a peer that owns it (its ufrag or one of its transactions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "zdc/demux.h"
#include "zdc/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEERS 4
#define VALID 6

typedef struct peer {
    zdc_route_entry e; /* first: the ops get &e */
    bool present, has_sel;
    char ufrag[8];
    zdc_addr sel;
    zdc_addr valid[VALID]; /* addresses "ICE" validated */
    int n_valid;
    uint8_t txids[8][12];
    int n_tx;
} peer;

static peer P[PEERS];

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "route_fuzz: %s\n", what);
        abort();
    }
}

static bool accepts(const peer *p, const zdc_addr *from)
{
    if (!p->present)
        return false;
    if (p->has_sel && zdc_addr_equal(from, &p->sel))
        return true;
    for (int i = 0; i < p->n_valid; i++)
        if (zdc_addr_equal(from, &p->valid[i]))
            return true;
    return false;
}

static bool owns(const peer *p, const zdc_stun_msg *m)
{
    if (!p->present)
        return false;
    if (m->cls == ZDC_STUN_REQUEST || m->cls == ZDC_STUN_INDICATION) {
        size_t n = strlen(p->ufrag);
        return m->has_username && m->username.len > n && m->username.p[n] == ':' &&
               memcmp(m->username.p, p->ufrag, n) == 0;
    }
    for (int i = 0; i < p->n_tx; i++)
        if (memcmp(p->txids[i], m->txid, 12) == 0)
            return true;
    return false;
}

static bool op_owns_stun(zdc_route_entry *e, const zdc_stun_msg *m)
{
    return owns((peer *)e, m);
}

static bool op_accepts_from(zdc_route_entry *e, const zdc_addr *from)
{
    return accepts((peer *)e, from);
}

/* A tiny reader over the input. */
typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static uint8_t u8(rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

/* One of a few addresses (so that repeats happen), v4 or v6. */
static zdc_addr addr(rd *r)
{
    uint8_t b = u8(r);
    zdc_addr a;
    uint8_t ip[16] = {0};
    int fam = b & 0x80 ? 6 : 4;
    if (fam == 4) {
        ip[0] = 10;
        ip[3] = (uint8_t)(b & 7);
    } else {
        ip[0] = 0xfd;
        ip[15] = (uint8_t)(b & 7);
    }
    zdc_addr_from_bytes(&a, fam, ip, (uint16_t)(5000 + ((b >> 3) & 3)));
    return a;
}

static void stun_datagram(rd *r, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t kind = u8(r);
    uint8_t txid[12] = {0};
    txid[0] = u8(r) & 7;
    zdc_stun_builder b;
    int cls = kind & 1 ? ZDC_STUN_REQUEST : ZDC_STUN_SUCCESS;
    zdc_stun_build_begin(&b, buf, cap, ZDC_STUN_BINDING, cls, txid);
    if (cls == ZDC_STUN_REQUEST) {
        char user[32];
        snprintf(user, sizeof user, "u%d:remote", (kind >> 1) & 7);
        zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_USERNAME, user, strlen(user));
    }
    int n = zdc_stun_build_end(&b);
    *len = n > 0 ? (size_t)n : 0;
}

static void deliver(zdc_route *rt, rd *r)
{
    zdc_addr from = addr(r);
    uint8_t buf[1500];
    size_t len;
    if (u8(r) & 1) {
        stun_datagram(r, buf, sizeof buf, &len);
    } else { /* arbitrary bytes, whatever they look like */
        len = u8(r) % 64;
        if (len > r->n)
            len = r->n;
        memcpy(buf, r->p, len);
        r->p += len;
        r->n -= len;
    }
    zdc_stun_msg m;
    bool stun = zdc_demux_classify(buf, len) == ZDC_DEMUX_STUN;
    int rv = stun ? zdc_stun_parse(buf, len, &m) : 0;
    if (stun && rv != 0 && rv != ZDC_ERR_UNKNOWN_ATTRIBUTE)
        return; /* the engine drops it */
    zdc_route_entry *e =
        stun ? zdc_route_stun_owner(rt, &m, NULL) : zdc_route_addr_owner(rt, &from, NULL);
    if (!e)
        return;
    peer *p = (peer *)e;
    check(p->present, "routed to a peer that left");
    if (stun) {
        check(owns(p, &m), "STUN routed to a peer that does not own it");
        /* as the engine does after delivering STUN */
        zdc_route_add_verified(rt, e, &from);
    } else {
        check(accepts(p, &from), "non-STUN routed from an address the peer never validated");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const zdc_route_ops ops = {.owns_stun = op_owns_stun, .accepts_from = op_accepts_from};
    uint8_t seeds[4][16] = {{1}, {2}, {3}, {4}};
    zdc_route rt;
    if (zdc_route_init(&rt, &ops, seeds) != 0)
        return 0;
    memset(P, 0, sizeof P);
    for (int i = 0; i < PEERS; i++) {
        P[i].present = true;
        snprintf(P[i].ufrag, sizeof P[i].ufrag, "u%d", i);
        zdc_route_add(&rt, &P[i].e);
        zdc_route_set_keys(&rt, &P[i].e, P[i].ufrag, NULL, true);
    }
    rd r = {data, size};
    for (int steps = 0; r.n && steps < 4096; steps++) {
        uint8_t op = u8(&r);
        peer *p = &P[op >> 5 & 3];
        switch (op & 7) {
        case 0:
        case 1:
        case 2:
            deliver(&rt, &r);
            break;
        case 3: /* ICE selected a pair (or none) */
            if (!p->present)
                break;
            p->has_sel = u8(&r) & 1;
            p->sel = addr(&r);
            zdc_route_set_keys(&rt, &p->e, p->ufrag, p->has_sel ? &p->sel : NULL, true);
            break;
        case 4: /* a check of the peer's was answered from an address */
            if (p->present && p->n_valid < VALID)
                p->valid[p->n_valid++] = addr(&r);
            break;
        case 5: { /* the peer sent a STUN request */
            if (!p->present || p->n_tx == 8)
                break;
            uint8_t buf[64];
            zdc_stun_builder b;
            uint8_t txid[12] = {0};
            txid[0] = u8(&r) & 7;
            zdc_stun_build_begin(&b, buf, sizeof buf, ZDC_STUN_BINDING, ZDC_STUN_REQUEST, txid);
            int n = zdc_stun_build_end(&b);
            if (n > 0) {
                memcpy(p->txids[p->n_tx++], txid, 12);
                zdc_route_tx_remember(&rt, &p->e, buf, (size_t)n);
            }
            break;
        }
        case 6: /* the peer's ICE restarted or it forgot: validated addresses gone */
            p->n_valid = 0;
            p->has_sel = false;
            if (p->present)
                zdc_route_set_keys(&rt, &p->e, p->ufrag, NULL, true);
            break;
        default: /* the peer leaves, or comes back */
            if (p->present) {
                zdc_route_remove(&rt, &p->e);
                p->present = false;
            } else {
                memset(&p->e, 0, sizeof p->e);
                p->present = true;
                p->n_valid = p->n_tx = 0;
                p->has_sel = false;
                zdc_route_add(&rt, &p->e);
                zdc_route_set_keys(&rt, &p->e, p->ufrag, NULL, true);
            }
            break;
        }
    }
    for (int i = 0; i < PEERS; i++)
        if (P[i].present)
            zdc_route_remove(&rt, &P[i].e);
    zdc_route_clear(&rt);
    return 0;
}
