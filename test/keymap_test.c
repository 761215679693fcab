/* Hash multimap: SipHash vectors, insert/find/remove, duplicates, growth, and a random run
 * against a plain array. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keymap.h"

static const uint8_t zero_seed[16];

/* Reference vectors of the SipHash paper's implementation: key 00 01 .. 0f, message
 * 00 01 .. (len-1). */
Test(keymap, siphash24_reference_vectors)
{
    uint8_t k[16], msg[64];
    for (int i = 0; i < 16; i++)
        k[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    cr_assert_eq(zdc_siphash24(k, msg, 0), 0x726fdb47dd0e0e31ull);
    cr_assert_eq(zdc_siphash24(k, msg, 1), 0x74f839c593dc67fdull);
    cr_assert_eq(zdc_siphash24(k, msg, 2), 0x0d6c8009d9a94f5aull);
    cr_assert_eq(zdc_siphash24(k, msg, 8), 0x93f5f5799a932462ull);
    cr_assert_eq(zdc_siphash24(k, msg, 15), 0xa129ca6149be45e5ull);
}

typedef struct item {
    zdc_keymap_node node;
    char key[16];
    int value;
} item;

static item *item_of(zdc_keymap_node *n)
{
    return n ? (item *)((char *)n - offsetof(item, node)) : NULL;
}

static void put(zdc_keymap *m, item *it, const char *key, int value)
{
    snprintf(it->key, sizeof it->key, "%s", key);
    it->value = value;
    zdc_keymap_insert(m, &it->node, it->key, strlen(it->key));
}

static item *get(zdc_keymap *m, const char *key)
{
    return item_of(zdc_keymap_find(m, key, strlen(key)));
}

Test(keymap, empty_map_finds_nothing)
{
    zdc_keymap m;
    zdc_keymap_init(&m, zero_seed);
    cr_assert_null(zdc_keymap_find(&m, "x", 1));
    cr_assert_null(zdc_keymap_find(&m, "", 0));
    cr_assert_eq(zdc_keymap_count(&m), 0);
    zdc_keymap_clear(&m);
}

Test(keymap, insert_find_remove)
{
    zdc_keymap m;
    item a, b, c;
    zdc_keymap_init(&m, zero_seed);
    put(&m, &a, "alpha", 1);
    put(&m, &b, "beta", 2);
    put(&m, &c, "", 3); /* the empty key is a key like any other */
    cr_assert_eq(zdc_keymap_count(&m), 3);
    cr_assert_eq(get(&m, "alpha"), &a);
    cr_assert_eq(get(&m, "beta"), &b);
    cr_assert_eq(get(&m, ""), &c);
    cr_assert_null(get(&m, "alph"), "a prefix is another key");
    cr_assert_null(get(&m, "alphaa"));
    zdc_keymap_remove(&m, &b.node);
    cr_assert_null(get(&m, "beta"));
    cr_assert_eq(get(&m, "alpha"), &a);
    cr_assert_eq(zdc_keymap_count(&m), 2);
    put(&m, &b, "beta", 4); /* a removed node can go back in */
    cr_assert_eq(get(&m, "beta")->value, 4);
    zdc_keymap_clear(&m);
}

Test(keymap, duplicate_keys_are_all_found)
{
    zdc_keymap m;
    item it[5];
    zdc_keymap_init(&m, zero_seed);
    for (int i = 0; i < 4; i++)
        put(&m, &it[i], "same", i);
    put(&m, &it[4], "other", 4);
    bool seen[4] = {false};
    int n = 0;
    for (zdc_keymap_node *x = zdc_keymap_find(&m, "same", 4); x; x = zdc_keymap_find_next(&m, x)) {
        item *i = item_of(x);
        cr_assert_str_eq(i->key, "same");
        cr_assert_not(seen[i->value], "each node once");
        seen[i->value] = true;
        n++;
    }
    cr_assert_eq(n, 4);
    zdc_keymap_remove(&m, &it[2].node);
    n = 0;
    for (zdc_keymap_node *x = zdc_keymap_find(&m, "same", 4); x; x = zdc_keymap_find_next(&m, x)) {
        cr_assert_neq(item_of(x), &it[2], "removed: not found any more");
        n++;
    }
    cr_assert_eq(n, 3);
    zdc_keymap_clear(&m);
}

/* Binary keys with embedded zero bytes and equal lengths, as addresses are. */
Test(keymap, binary_keys)
{
    zdc_keymap m;
    zdc_keymap_node n1, n2;
    uint8_t k1[19] = {4, 0, 80, 127, 0, 0, 1}, k2[19] = {4, 0, 81, 127, 0, 0, 1};
    zdc_keymap_init(&m, zero_seed);
    zdc_keymap_insert(&m, &n1, k1, sizeof k1);
    zdc_keymap_insert(&m, &n2, k2, sizeof k2);
    uint8_t probe[19];
    memcpy(probe, k2, sizeof probe);
    cr_assert_eq(zdc_keymap_find(&m, probe, sizeof probe), &n2, "found by value, not pointer");
    probe[2] = 82;
    cr_assert_null(zdc_keymap_find(&m, probe, sizeof probe));
    cr_assert_null(zdc_keymap_find(&m, k1, 18), "length is part of the key");
    zdc_keymap_clear(&m);
}

/* Many keys: the table grows, keeps every key, and chains stay short. */
Test(keymap, grows_with_many_keys)
{
    enum { N = 20000 };
    zdc_keymap m;
    item *it = calloc(N, sizeof *it);
    cr_assert_not_null(it);
    uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    zdc_keymap_init(&m, seed);
    cr_assert_eq(zdc_keymap_buckets(&m), 1);
    char k[16];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "u%d", i);
        put(&m, &it[i], k, i);
    }
    cr_assert_eq(zdc_keymap_count(&m), N);
    cr_assert_geq(zdc_keymap_buckets(&m), N, "load factor at most 1");
    size_t longest = 0;
    for (size_t b = 0; b < zdc_keymap_buckets(&m); b++) {
        size_t len = 0;
        for (zdc_keymap_node *x = m.buckets[b]; x; x = x->next)
            len++;
        if (len > longest)
            longest = len;
    }
    cr_assert_lt(longest, 12, "a seeded hash spreads sequential keys (longest chain %zu)", longest);
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "u%d", i);
        item *f = get(&m, k);
        cr_assert_not_null(f, "key %s lost", k);
        cr_assert_eq(f->value, i);
    }
    for (int i = 0; i < N; i += 2)
        zdc_keymap_remove(&m, &it[i].node);
    cr_assert_eq(zdc_keymap_count(&m), N / 2);
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "u%d", i);
        cr_assert_eq(get(&m, k) != NULL, i % 2 == 1, "key %s", k);
    }
    zdc_keymap_clear(&m);
    free(it);
}

/* Random inserts and removes over a small key space (so keys repeat), checked against a
 * plain array after every step. */
Test(keymap, random_against_reference)
{
    enum { N = 300, KEYS = 40, STEPS = 20000 };
    zdc_keymap m;
    item it[N];
    bool in[N] = {false};
    zdc_keymap_init(&m, zero_seed);
    srand(7);
    for (int s = 0; s < STEPS; s++) {
        int i = rand() % N;
        if (in[i]) {
            zdc_keymap_remove(&m, &it[i].node);
            in[i] = false;
        } else {
            char k[16];
            snprintf(k, sizeof k, "k%d", rand() % KEYS);
            put(&m, &it[i], k, i);
            in[i] = true;
        }
        /* Every key: the nodes found are exactly the inserted nodes with that key. */
        if (s % 97 != 0)
            continue;
        size_t total = 0;
        for (int key = 0; key < KEYS; key++) {
            char k[16];
            snprintf(k, sizeof k, "k%d", key);
            int want = 0, got = 0;
            for (int j = 0; j < N; j++)
                want += in[j] && strcmp(it[j].key, k) == 0;
            for (zdc_keymap_node *x = zdc_keymap_find(&m, k, strlen(k)); x;
                 x = zdc_keymap_find_next(&m, x)) {
                item *f = item_of(x);
                cr_assert(in[f - it] && strcmp(f->key, k) == 0);
                got++;
            }
            cr_assert_eq(got, want, "step %d key %s", s, k);
            total += (size_t)got;
        }
        cr_assert_eq(total, zdc_keymap_count(&m));
    }
    zdc_keymap_clear(&m);
}
