/* Hash multimap with chained, caller-owned nodes. See keymap.h. */
#include "keymap.h"

#include <stdlib.h>
#include <string.h>

/* ---- SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012) -------- */

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

typedef struct sip {
    uint64_t v0, v1, v2, v3;
} sip;

static void sip_round(sip *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

static void sip_absorb(sip *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

static uint64_t siphash(uint64_t k0, uint64_t k1, const uint8_t *p, size_t len)
{
    sip s = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};
    size_t off = 0;
    for (; len - off >= 8; off += 8)
        sip_absorb(&s, load_le64(p + off));
    /* The last block: the remaining bytes, and the length's low byte on top. */
    uint64_t b = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < len - off; i++)
        b |= (uint64_t)p[off + i] << (8 * i);
    sip_absorb(&s, b);
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t zdc_siphash24(const uint8_t k[16], const void *p, size_t len)
{
    return siphash(load_le64(k), load_le64(k + 8), p, len);
}

/* ---- the map --------------------------------------------------------------------------- */

void zdc_keymap_init(zdc_keymap *m, const uint8_t seed[16])
{
    *m = (zdc_keymap){0};
    m->k0 = load_le64(seed);
    m->k1 = load_le64(seed + 8);
}

void zdc_keymap_clear(zdc_keymap *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->one = NULL;
    m->mask = 0;
    m->n = 0;
}

static zdc_keymap_node **bucket(const zdc_keymap *m, uint64_t hash)
{
    if (!m->buckets)
        return (zdc_keymap_node **)&m->one;
    return &m->buckets[hash & m->mask];
}

/* Doubles the bucket array; keeps the old one when the allocation fails. */
static void grow(zdc_keymap *m)
{
    size_t nb = m->buckets ? (m->mask + 1) * 2 : 16;
    if (nb == 0 || nb > SIZE_MAX / sizeof(zdc_keymap_node *))
        return;
    zdc_keymap_node **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    size_t old_count = m->buckets ? m->mask + 1 : 1;
    zdc_keymap_node **old = m->buckets ? m->buckets : &m->one;
    for (size_t i = 0; i < old_count; i++) {
        zdc_keymap_node *n = old[i];
        while (n) {
            zdc_keymap_node *next = n->next;
            zdc_keymap_node **slot = &b[n->hash & (nb - 1)];
            n->next = *slot;
            *slot = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->one = NULL;
    m->mask = nb - 1;
}

void zdc_keymap_insert(zdc_keymap *m, zdc_keymap_node *n, const void *key, size_t len)
{
    if (m->n + 1 > (m->buckets ? m->mask + 1 : 1))
        grow(m);
    n->key = key;
    n->len = len;
    n->hash = siphash(m->k0, m->k1, key, len);
    zdc_keymap_node **slot = bucket(m, n->hash);
    n->next = *slot;
    *slot = n;
    m->n++;
}

void zdc_keymap_remove(zdc_keymap *m, zdc_keymap_node *n)
{
    for (zdc_keymap_node **pp = bucket(m, n->hash); *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            n->next = NULL;
            m->n--;
            return;
        }
    }
}

static zdc_keymap_node *scan(zdc_keymap_node *n, uint64_t hash, const void *key, size_t len)
{
    for (; n; n = n->next)
        if (n->hash == hash && n->len == len && memcmp(n->key, key, len) == 0)
            return n;
    return NULL;
}

zdc_keymap_node *zdc_keymap_find(const zdc_keymap *m, const void *key, size_t len)
{
    uint64_t h = siphash(m->k0, m->k1, key, len);
    return scan(*bucket(m, h), h, key, len);
}

zdc_keymap_node *zdc_keymap_find_next(const zdc_keymap *m, const zdc_keymap_node *from)
{
    (void)m;
    return scan(from->next, from->hash, from->key, from->len);
}

size_t zdc_keymap_count(const zdc_keymap *m)
{
    return m->n;
}

size_t zdc_keymap_buckets(const zdc_keymap *m)
{
    return m->buckets ? m->mask + 1 : 1;
}
