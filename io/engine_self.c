/* Self traffic: two peers of one engine that connect to each other share one socket, so each
 * one's remote address is the engine's own and the address cannot tell which of them a
 * datagram is for. STUN can (USERNAME, transaction id); for the rest the engine remembers who
 * sent each datagram to its own socket (by a hash of its bytes) and, when it comes back
 * through the kernel, hands it to the member the sender was paired with by STUN. The
 * datagrams still cross the real socket.
 *
 * Servers never see this path (their peers are elsewhere); one process holding both ends on
 * one engine does — the tutorial, tests and benchmarks. What it costs, and when it is linear:
 * detaching a member that another member talked to scans the members, and detaching while
 * self traffic is in flight scans the ring (at most ZDC_ENGINE_SELF_RING entries). */
#include <stdlib.h>
#include <string.h>

#include "engine_priv.h"
#include "zdc/error.h"

static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void self_key(uint8_t key[12], const uint8_t *p, size_t len)
{
    uint64_t h = hash_bytes(p, len);
    uint32_t l = (uint32_t)len;
    memcpy(key, &h, 8);
    memcpy(key + 8, &l, 4);
}

int zdc_engine_self_init(zdc_engine *e, const uint8_t seed[16])
{
    e->self = calloc(ZDC_ENGINE_SELF_RING, sizeof *e->self);
    if (!e->self)
        return ZDC_ERR_NOMEM;
    e->self_head = e->self_n = 0;
    zdc_keymap_init(&e->self_map, seed);
    return 0;
}

void zdc_engine_self_clear(zdc_engine *e)
{
    zdc_keymap_clear(&e->self_map);
    free(e->self);
    e->self = NULL;
}

bool zdc_engine_is_self(const zdc_engine *e, const zdc_addr *to)
{
    zdc_addr mine;
    if (zdc_loop_local_addr(zdc_engine_loop(e), zdc_addr_family(to), &mine) != 0 ||
        zdc_addr_port(&mine) != zdc_addr_port(to))
        return false;
    if (zdc_addr_ip_equal(&mine, to) || zdc_addr_is_loopback(to))
        return true;
    for (size_t i = 0; i < e->n_local; i++)
        if (zdc_addr_ip_equal(&e->local[i], to))
            return true;
    return false;
}

/* Frees slot s; then drops the free slots at the head of the ring. */
static void self_release(zdc_engine *e, zdc_engine_self_send *s)
{
    if (s->used)
        zdc_keymap_remove(&e->self_map, &s->node);
    s->used = false;
    s->sender = NULL;
    while (e->self_n > 0 && !e->self[e->self_head].used) {
        e->self_head = (e->self_head + 1) % ZDC_ENGINE_SELF_RING;
        e->self_n--;
    }
}

void zdc_engine_self_sent(zdc_engine *e, zdc_engine_member *m, const uint8_t *p, size_t len)
{
    if (e->self_n == ZDC_ENGINE_SELF_RING) /* the oldest was lost on the way: forget it */
        self_release(e, &e->self[e->self_head]);
    zdc_engine_self_send *s = &e->self[(e->self_head + e->self_n++) % ZDC_ENGINE_SELF_RING];
    self_key(s->key, p, len);
    s->used = true;
    s->sender = m;
    zdc_keymap_insert(&e->self_map, &s->node, s->key, sizeof s->key);
    e->st.self_sent++;
}

zdc_engine_member *zdc_engine_self_sender(zdc_engine *e, const uint8_t *p, size_t len)
{
    if (e->self_n == 0)
        return NULL;
    uint8_t key[12];
    self_key(key, p, len);
    zdc_engine_self_send *oldest = NULL;
    size_t oldest_age = SIZE_MAX;
    for (zdc_keymap_node *x = zdc_keymap_find(&e->self_map, key, sizeof key); x;
         x = zdc_keymap_find_next(&e->self_map, x)) {
        zdc_engine_self_send *s = ZDC_CONTAINER_OF(x, zdc_engine_self_send, node);
        size_t age =
            ((size_t)(s - e->self) + ZDC_ENGINE_SELF_RING - e->self_head) % ZDC_ENGINE_SELF_RING;
        if (age < oldest_age) {
            oldest = s;
            oldest_age = age;
        }
    }
    if (!oldest)
        return NULL;
    zdc_engine_member *m = oldest->sender;
    self_release(e, oldest);
    return m;
}

void zdc_engine_self_forget(zdc_engine *e, zdc_engine_member *m)
{
    if (m->partnered) /* linear, but only for self traffic (see the top) */
        for (zdc_link *l = e->all.next; l != &e->all; l = l->next) {
            zdc_engine_member *o = ZDC_CONTAINER_OF(l, zdc_engine_member, all);
            if (o->partner == m)
                o->partner = NULL;
        }
    for (size_t k = 0; k < e->self_n; k++) {
        zdc_engine_self_send *s = &e->self[(e->self_head + k) % ZDC_ENGINE_SELF_RING];
        if (s->sender == m)
            s->sender = NULL;
    }
}
