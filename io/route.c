/* Routing on a shared socket: see route.h. */
#include "route.h"

#include <stdlib.h>
#include <string.h>

#include "ice.h"
#include "zdc/error.h"

/* A STUN request a peer sent, remembered so that its response finds the peer. */
struct zdc_route_tx {
    zdc_keymap_node node; /* in by_txid, keyed by txid */
    uint8_t txid[12];
    zdc_route_entry *entry; /* NULL: slot free */
    zdc_link link;          /* in entry->txs */
};

int zdc_route_init(zdc_route *r, const zdc_route_ops *ops, const uint8_t seeds[4][16])
{
    memset(r, 0, sizeof *r);
    r->ops = *ops;
    r->tx = calloc(ZDC_ROUTE_TX_RING, sizeof *r->tx);
    if (!r->tx)
        return ZDC_ERR_NOMEM;
    zdc_keymap_init(&r->by_ufrag, seeds[0]);
    zdc_keymap_init(&r->by_addr, seeds[1]);
    zdc_keymap_init(&r->by_txid, seeds[2]);
    zdc_keymap_init(&r->by_verified, seeds[3]);
    zdc_keymap_init(&r->by_server, seeds[1]); /* address keys, as by_addr: its seed will do */
    return 0;
}

void zdc_route_clear(zdc_route *r)
{
    zdc_keymap_clear(&r->by_ufrag);
    zdc_keymap_clear(&r->by_addr);
    zdc_keymap_clear(&r->by_txid);
    zdc_keymap_clear(&r->by_verified);
    zdc_keymap_clear(&r->by_server);
    free(r->tx);
    r->tx = NULL;
}

/* The address as a key: family, port, then the 4 or 16 address bytes. */
static size_t addr_key(const zdc_addr *a, uint8_t key[19])
{
    uint16_t port = zdc_addr_port(a);
    key[0] = (uint8_t)zdc_addr_family(a);
    key[1] = (uint8_t)(port >> 8);
    key[2] = (uint8_t)port;
    return 3 + zdc_addr_bytes(a, key + 3);
}

void zdc_route_add(zdc_route *r, zdc_route_entry *e)
{
    (void)r;
    e->has_ufrag = e->has_addr = e->addr_indexed = false;
    memset(e->verified, 0, sizeof e->verified);
    memset(e->servers, 0, sizeof e->servers);
    e->verified_next = 0;
    zdc_link_init(&e->txs);
}

static void tx_forget(zdc_route *r, zdc_route_tx *t)
{
    zdc_keymap_remove(&r->by_txid, &t->node);
    zdc_link_remove(&t->link);
    t->entry = NULL;
}

static void unindex_verified(zdc_route *r, zdc_route_entry *e)
{
    for (int i = 0; i < ZDC_ROUTE_VERIFIED; i++)
        if (e->verified[i].used) {
            zdc_keymap_remove(&r->by_verified, &e->verified[i].node);
            e->verified[i].used = false;
        }
}

void zdc_route_remove(zdc_route *r, zdc_route_entry *e)
{
    while (zdc_link_linked(&e->txs))
        tx_forget(r, ZDC_CONTAINER_OF(e->txs.next, zdc_route_tx, link));
    if (e->has_ufrag)
        zdc_keymap_remove(&r->by_ufrag, &e->ufrag_node);
    if (e->addr_indexed)
        zdc_keymap_remove(&r->by_addr, &e->addr_node);
    unindex_verified(r, e);
    for (int i = 0; i < ZDC_ROUTE_SERVERS; i++)
        if (e->servers[i].used) {
            zdc_keymap_remove(&r->by_server, &e->servers[i].node);
            e->servers[i].used = false;
        }
    e->has_ufrag = e->has_addr = e->addr_indexed = false;
}

void zdc_route_set_keys(zdc_route *r, zdc_route_entry *e, const char *uf, const zdc_addr *selected,
                        bool index_addr)
{
    if (uf && strlen(uf) >= sizeof e->ufrag)
        uf = NULL; /* ice.c refuses those: cannot happen */
    if (e->has_ufrag && (!uf || strcmp(uf, e->ufrag) != 0)) {
        zdc_keymap_remove(&r->by_ufrag, &e->ufrag_node);
        e->has_ufrag = false;
    }
    if (uf && !e->has_ufrag) {
        strcpy(e->ufrag, uf);
        zdc_keymap_insert(&r->by_ufrag, &e->ufrag_node, e->ufrag, strlen(e->ufrag));
        e->has_ufrag = true;
    }
    if (e->has_addr && (!selected || !zdc_addr_equal(selected, &e->addr))) {
        if (e->addr_indexed)
            zdc_keymap_remove(&r->by_addr, &e->addr_node);
        e->has_addr = e->addr_indexed = false;
    }
    if (selected && !e->has_addr) {
        e->addr = *selected;
        e->has_addr = true;
        if (index_addr) {
            size_t n = addr_key(selected, e->addr_key);
            zdc_keymap_insert(&r->by_addr, &e->addr_node, e->addr_key, n);
            e->addr_indexed = true;
        }
    }
}

void zdc_route_tx_remember(zdc_route *r, zdc_route_entry *e, const uint8_t *p, size_t len)
{
    /* RFC 8489 §5: the class bits C1 (0x0100) and C0 (0x0010) are 0 in a request. */
    if (len < 20 || (p[0] & 0x01) != 0 || (p[1] & 0x10) != 0)
        return;
    zdc_route_tx *t = &r->tx[r->tx_next];
    r->tx_next = (r->tx_next + 1) % ZDC_ROUTE_TX_RING;
    if (t->entry)
        tx_forget(r, t);
    memcpy(t->txid, p + 8, 12);
    t->entry = e;
    zdc_link_append(&e->txs, &t->link);
    zdc_keymap_insert(&r->by_txid, &t->node, t->txid, sizeof t->txid);
}

void zdc_route_add_verified(zdc_route *r, zdc_route_entry *e, const zdc_addr *from)
{
    if (e->has_addr && zdc_addr_equal(&e->addr, from))
        return;
    if (!r->ops.accepts_from(e, from))
        return;
    uint8_t key[19];
    size_t n = addr_key(from, key);
    for (int i = 0; i < ZDC_ROUTE_VERIFIED; i++)
        if (e->verified[i].used && e->verified[i].len == n && !memcmp(e->verified[i].key, key, n))
            return;
    zdc_route_vaddr *v = &e->verified[e->verified_next];
    e->verified_next = (e->verified_next + 1) % ZDC_ROUTE_VERIFIED;
    if (v->used)
        zdc_keymap_remove(&r->by_verified, &v->node);
    memcpy(v->key, key, n);
    v->len = n;
    v->entry = e;
    v->used = true;
    zdc_keymap_insert(&r->by_verified, &v->node, v->key, n);
}

zdc_route_entry *zdc_route_stun_owner(zdc_route *r, const zdc_stun_msg *msg,
                                      const zdc_route_entry *skip)
{
    if (msg->cls == ZDC_STUN_REQUEST || msg->cls == ZDC_STUN_INDICATION) {
        const char *uf;
        size_t n;
        if (zdc_ice_username_local_ufrag(msg, &uf, &n) != 0)
            return NULL;
        for (zdc_keymap_node *x = zdc_keymap_find(&r->by_ufrag, uf, n); x;
             x = zdc_keymap_find_next(&r->by_ufrag, x)) {
            zdc_route_entry *e = ZDC_CONTAINER_OF(x, zdc_route_entry, ufrag_node);
            if (e != skip && r->ops.owns_stun(e, msg))
                return e;
        }
        return NULL;
    }
    for (zdc_keymap_node *x = zdc_keymap_find(&r->by_txid, msg->txid, sizeof msg->txid); x;
         x = zdc_keymap_find_next(&r->by_txid, x)) {
        zdc_route_entry *e = ZDC_CONTAINER_OF(x, zdc_route_tx, node)->entry;
        if (e != skip && r->ops.owns_stun(e, msg))
            return e;
    }
    return NULL;
}

zdc_route_entry *zdc_route_addr_owner(zdc_route *r, const zdc_addr *from,
                                      const zdc_route_entry *skip)
{
    uint8_t key[19];
    size_t n = addr_key(from, key);
    for (zdc_keymap_node *x = zdc_keymap_find(&r->by_addr, key, n); x;
         x = zdc_keymap_find_next(&r->by_addr, x)) {
        zdc_route_entry *e = ZDC_CONTAINER_OF(x, zdc_route_entry, addr_node);
        if (e != skip && r->ops.accepts_from(e, from))
            return e;
    }
    for (zdc_keymap_node *x = zdc_keymap_find(&r->by_verified, key, n); x;
         x = zdc_keymap_find_next(&r->by_verified, x)) {
        zdc_route_entry *e = ZDC_CONTAINER_OF(x, zdc_route_vaddr, node)->entry;
        if (e != skip && r->ops.accepts_from(e, from))
            return e;
    }
    return NULL;
}

void zdc_route_set_servers(zdc_route *r, zdc_route_entry *e, const zdc_addr *servers, size_t n)
{
    uint8_t key[19];
    for (int i = 0; i < ZDC_ROUTE_SERVERS; i++) {
        zdc_route_vaddr *v = &e->servers[i];
        bool want = (size_t)i < n;
        size_t len = want ? addr_key(&servers[i], key) : 0;
        if (v->used && want && v->len == len && !memcmp(v->key, key, len))
            continue; /* unchanged: the common case, from every sync */
        if (v->used) {
            zdc_keymap_remove(&r->by_server, &v->node);
            v->used = false;
        }
        if (!want)
            continue;
        memcpy(v->key, key, len);
        v->len = len;
        v->entry = e;
        v->used = true;
        zdc_keymap_insert(&r->by_server, &v->node, v->key, len);
    }
}

zdc_route_entry *zdc_route_server_take(zdc_route *r, const zdc_addr *from,
                                       bool (*take)(zdc_route_entry *e, void *arg), void *arg)
{
    if (zdc_keymap_count(&r->by_server) == 0)
        return NULL;
    uint8_t key[19];
    size_t n = addr_key(from, key);
    for (zdc_keymap_node *x = zdc_keymap_find(&r->by_server, key, n); x;
         x = zdc_keymap_find_next(&r->by_server, x)) {
        zdc_route_entry *e = ZDC_CONTAINER_OF(x, zdc_route_vaddr, node)->entry;
        if (take(e, arg))
            return e;
    }
    return NULL;
}

size_t zdc_route_addr_key(const zdc_addr *a, uint8_t key[19])
{
    return addr_key(a, key);
}
