/* An intrusive hash multimap from byte strings to nodes the caller embeds in its own objects:
 * what the engine routes datagrams with (local ICE ufrag, remote address, STUN transaction id
 * -> peer).
 *
 * Separate chaining into a power-of-two bucket array that doubles when the load passes 1.
 * Insert and remove never fail: the nodes are the caller's, and a bucket array that cannot
 * grow (out of memory) only makes chains longer. Several nodes may share a key; a lookup
 * returns them one by one. The node keeps a pointer to its key, which must stay valid and
 * unchanged while the node is in the map.
 *
 * Buckets are chosen by SipHash-2-4 under a per-map random key, so a remote that picks the
 * keys (its address, a USERNAME it sends) cannot aim many of them at one bucket.
 *
 * Not thread-safe: one thread owns a map and its nodes. */
#ifndef ZDC_CORE_KEYMAP_H
#define ZDC_CORE_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zdc_keymap_node {
    struct zdc_keymap_node *next; /* internal */
    uint64_t hash;                /* internal */
    const uint8_t *key;
    size_t len;
} zdc_keymap_node;

typedef struct zdc_keymap {
    zdc_keymap_node **buckets; /* NULL until the first growth: `one` is the only bucket */
    zdc_keymap_node *one;
    size_t mask; /* bucket count - 1 */
    size_t n;
    uint64_t k0, k1;
} zdc_keymap;

/* An empty map hashing under the 16-byte key `seed` (random, so that remotes cannot predict
 * the buckets; all-zero is fine in tests). */
void zdc_keymap_init(zdc_keymap *m, const uint8_t seed[16]);
/* Frees the bucket array; the nodes are the caller's and are left as they are. */
void zdc_keymap_clear(zdc_keymap *m);

/* Adds node n under key[0..len) (the map keeps the pointer, not a copy). n must not be in a
 * map. Duplicate keys are allowed. O(1) amortized. */
void zdc_keymap_insert(zdc_keymap *m, zdc_keymap_node *n, const void *key, size_t len);
/* Removes n, which must be in m. O(chain length). */
void zdc_keymap_remove(zdc_keymap *m, zdc_keymap_node *n);

/* The first node with this key, or NULL. */
zdc_keymap_node *zdc_keymap_find(const zdc_keymap *m, const void *key, size_t len);
/* The next node after `from` (a result of find/find_next) with the same key, or NULL. */
zdc_keymap_node *zdc_keymap_find_next(const zdc_keymap *m, const zdc_keymap_node *from);

size_t zdc_keymap_count(const zdc_keymap *m);
/* Number of buckets (for tests of growth). */
size_t zdc_keymap_buckets(const zdc_keymap *m);

/* SipHash-2-4 of p[0..len) under the 16-byte key k (little-endian words), exposed for its
 * test vectors. */
uint64_t zdc_siphash24(const uint8_t k[16], const void *p, size_t len);

#endif /* ZDC_CORE_KEYMAP_H */
