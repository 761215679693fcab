/* Packet-buffer pool. ctest-labels: thread */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#include "pool.h"
#include "ring.h"
#include "zdc/error.h"

static zdc_pool *make_pool(uint32_t buf, uint32_t head, uint32_t slab, uint32_t max)
{
    zdc_pool_config c = {
        .buf_size = buf, .headroom = head, .slab_buffers = slab, .max_buffers = max};
    zdc_pool *p = NULL;
    cr_assert_eq(zdc_pool_new(&c, &p), 0);
    return p;
}

Test(pool, defaults_and_invalid_configs)
{
    zdc_pool_config d = zdc_pool_config_default();
    cr_assert_eq(d.buf_size, 2048);
    cr_assert_eq(d.headroom, 128);
    cr_assert_eq(d.slab_buffers, 256);
    cr_assert_eq(d.max_buffers, 65536);

    zdc_pool *p = NULL;
    zdc_pool_config bad = d;
    bad.headroom = bad.buf_size;
    cr_assert_eq(zdc_pool_new(&bad, &p), ZDC_ERR_INVALID_PARAMETER);
    bad = d;
    bad.slab_buffers = 0;
    cr_assert_eq(zdc_pool_new(&bad, &p), ZDC_ERR_INVALID_PARAMETER);
    bad = d;
    bad.max_buffers = 0;
    cr_assert_eq(zdc_pool_new(&bad, &p), ZDC_ERR_INVALID_PARAMETER);
    bad = d;
    bad.buf_size = 0;
    cr_assert_eq(zdc_pool_new(&bad, &p), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_pool_new(&d, NULL), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_null(p);

    cr_assert_eq(zdc_pool_new(NULL, &p), 0);
    cr_assert_eq(zdc_pool_get_config(p)->buf_size, 2048);
    zdc_pool_stats s;
    zdc_pool_get_stats(p, &s);
    cr_assert_eq(s.slabs, 0, "no slab before the first get");
    cr_assert_eq(s.allocated, 0);
    zdc_pool_free(p);
    zdc_pool_free(NULL);
}

Test(pool, get_gives_fresh_buffer_and_refcounting)
{
    zdc_pool *p = make_pool(512, 64, 4, 16);
    zdc_pkt *a = zdc_pool_get(p);
    cr_assert_not_null(a);
    cr_assert_eq(a->len, 0);
    cr_assert_eq(zdc_pkt_headroom(a), 64);
    cr_assert_eq(zdc_pkt_tailroom(a), 512 - 64);
    cr_assert_eq(a->flags, 0);
    cr_assert_eq(a->addr.len, 0);
    cr_assert_null(a->user);
    cr_assert_eq(zdc_pool_outstanding(p), 1);

    /* Dirty it, put it back, take it again: everything is reset. */
    memcpy(zdc_pkt_put(a, 5), "hello", 5);
    a->flags = 7;
    a->user = p;
    zdc_addr_from_ip(&a->addr, "127.0.0.1", 9, 1);
    zdc_pkt_ref(a);
    zdc_pkt_unref(a);
    cr_assert_eq(zdc_pool_outstanding(p), 1, "one reference left");
    cr_assert_eq(memcmp(a->data, "hello", 5), 0);
    zdc_pkt_unref(a);
    cr_assert_eq(zdc_pool_outstanding(p), 0);

    zdc_pkt *b = zdc_pool_get(p);
    cr_assert_eq(b, a, "LIFO free list hands back the buffer just freed");
    cr_assert_eq(b->len, 0);
    cr_assert_eq(b->flags, 0);
    cr_assert_null(b->user);
    cr_assert_eq(b->addr.len, 0);
    cr_assert_eq(zdc_pkt_headroom(b), 64);
    zdc_pkt_unref(b);
    zdc_pkt_unref(NULL);
    cr_assert_eq(zdc_pool_outstanding(p), 0);
    zdc_pool_free(p);
}

Test(pool, head_and_tail_room_ops)
{
    zdc_pool *p = make_pool(256, 32, 2, 2);
    zdc_pkt *k = zdc_pool_get(p);
    uint8_t *base = k->data - 32;

    uint8_t *t = zdc_pkt_put(k, 100);
    cr_assert_eq(t, base + 32);
    memset(t, 'b', 100);
    cr_assert_eq(k->len, 100);
    cr_assert_eq(zdc_pkt_tailroom(k), 256 - 32 - 100);

    uint8_t *h = zdc_pkt_push(k, 13);
    cr_assert_eq(h, base + 19);
    cr_assert_eq(k->data, h);
    cr_assert_eq(k->len, 113);
    memset(h, 'h', 13);
    cr_assert_eq(zdc_pkt_headroom(k), 19);

    /* Bounds: too much head room or tail room asked changes nothing. */
    cr_assert_null(zdc_pkt_push(k, 20));
    cr_assert_eq(k->len, 113);
    cr_assert_null(zdc_pkt_put(k, 256 - 32 - 100 + 1));
    cr_assert_eq(k->len, 113);
    cr_assert_not_null(zdc_pkt_push(k, 19), "exactly the head room fits");
    cr_assert_eq(zdc_pkt_headroom(k), 0);
    cr_assert_null(zdc_pkt_push(k, 1));
    cr_assert_not_null(zdc_pkt_put(k, 256 - 32 - 100), "exactly the tail room fits");
    cr_assert_eq(zdc_pkt_tailroom(k), 0);
    cr_assert_eq(k->len, 256);
    cr_assert_null(zdc_pkt_put(k, 1));

    /* pull: drop the 19 + 13 header bytes, payload 'b' is at the front again. */
    cr_assert_eq(zdc_pkt_pull(k, 32), base + 32);
    cr_assert_eq(k->data[0], 'b');
    cr_assert_eq(k->len, 224);
    cr_assert_null(zdc_pkt_pull(k, 225));
    cr_assert_eq(k->len, 224);
    cr_assert_eq(zdc_pkt_trim(k, 100), 0);
    cr_assert_eq(k->len, 100);
    cr_assert_eq(zdc_pkt_trim(k, 101), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(k->data[99], 'b');
    cr_assert_eq(zdc_pkt_pull(k, 100), k->data);
    cr_assert_eq(k->len, 0);

    zdc_pkt_reset(k);
    cr_assert_eq(k->data, base + 32);
    cr_assert_eq(k->len, 0);
    zdc_pkt_unref(k);
    zdc_pool_free(p);
}

Test(pool, exhaustion_is_counted_and_recovers)
{
    zdc_pool *p = make_pool(128, 16, 3, 8); /* slabs of 3, 3, 2 */
    zdc_pkt *k[8];
    for (int i = 0; i < 8; i++) {
        k[i] = zdc_pool_get(p);
        cr_assert_not_null(k[i], "buffer %d", i);
    }
    cr_assert_null(zdc_pool_get(p));
    cr_assert_null(zdc_pool_get(p));
    zdc_pool_stats s;
    zdc_pool_get_stats(p, &s);
    cr_assert_eq(s.exhausted_count, 2);
    cr_assert_eq(s.allocated, 8);
    cr_assert_eq(s.slabs, 3);
    cr_assert_eq(s.outstanding, 8);

    /* Distinct buffers with distinct ids covering [0, 8). */
    bool seen[8] = {0};
    for (int i = 0; i < 8; i++) {
        uint32_t id = zdc_pkt_index(k[i]);
        cr_assert_lt(id, 8);
        cr_assert_not(seen[id]);
        seen[id] = true;
        cr_assert_eq(zdc_pool_pkt_at(p, id), k[i]);
    }
    cr_assert_null(zdc_pool_pkt_at(p, 8));

    zdc_pkt_unref(k[5]);
    zdc_pkt *again = zdc_pool_get(p);
    cr_assert_eq(again, k[5]);
    k[5] = again;
    cr_assert_null(zdc_pool_get(p));
    zdc_pool_get_stats(p, &s);
    cr_assert_eq(s.exhausted_count, 3);
    for (int i = 0; i < 8; i++)
        zdc_pkt_unref(k[i]);
    cr_assert_eq(zdc_pool_outstanding(p), 0);
    zdc_pool_free(p);
}

Test(pool, slabs_grow_lazily)
{
    zdc_pool *p = make_pool(2048, 128, 4, 1000);
    zdc_pool_stats s;
    zdc_pkt *k[10];
    cr_assert_null(zdc_pool_pkt_at(p, 0), "nothing allocated yet");
    for (int i = 0; i < 10; i++) {
        k[i] = zdc_pool_get(p);
        zdc_pool_get_stats(p, &s);
        cr_assert_eq(s.slabs, (size_t)(i / 4 + 1), "after %d gets", i + 1);
        cr_assert_eq(s.allocated, s.slabs * 4);
    }
    cr_assert_null(zdc_pool_pkt_at(p, 12), "slab 3 not allocated");
    /* Buffers are aligned and do not overlap. */
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(((uintptr_t)(k[i]->data - 128)) % 64, 0);
        memset(k[i]->data - 128, i, 2048);
    }
    for (int i = 0; i < 10; i++)
        cr_assert_eq(k[i]->data[2048 - 129], (uint8_t)i);
    for (int i = 0; i < 10; i++)
        zdc_pkt_unref(k[i]);
    /* Freed buffers are reused before a new slab is allocated. */
    for (int i = 0; i < 12; i++)
        k[i % 10] = zdc_pool_get(p), zdc_pkt_unref(k[i % 10]);
    zdc_pool_get_stats(p, &s);
    cr_assert_eq(s.slabs, 3);
    cr_assert_eq(s.outstanding, 0);
    zdc_pool_free(p);
}

/* Sanitizer allocators abort on impossible sizes unless told to return NULL like malloc. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "allocator_may_return_null=1";
}

Test(pool, slab_allocation_failure_is_exhaustion_not_crash)
{
    /* 2^16 buffers of 1 GiB in one slab: the 64 TiB slab cannot be allocated. */
    zdc_pool *p = make_pool(1u << 30, 128, 1u << 16, 1u << 16);
    cr_assert_null(zdc_pool_get(p));
    cr_assert_null(zdc_pool_get(p), "retried, fails again");
    zdc_pool_stats s;
    zdc_pool_get_stats(p, &s);
    cr_assert_eq(s.exhausted_count, 2);
    cr_assert_eq(s.slabs, 0);
    cr_assert_eq(s.allocated, 0);
    cr_assert_eq(s.outstanding, 0);
    cr_assert_null(zdc_pool_pkt_at(p, 0));
    zdc_pool_free(p);
}

#ifdef NDEBUG
Test(pool, double_unref_counted)
{
    zdc_pool *p = make_pool(128, 16, 2, 2);
    zdc_pkt *k = zdc_pool_get(p);
    zdc_pkt_unref(k);
    zdc_pkt_unref(k);
    zdc_pool_stats s;
    zdc_pool_get_stats(p, &s);
    cr_assert_eq(s.double_unref, 1);
    cr_assert_eq(s.outstanding, 0);
    /* The free list is intact: both buffers come out once. */
    zdc_pkt *a = zdc_pool_get(p), *b = zdc_pool_get(p);
    cr_assert(a && b && a != b);
    cr_assert_null(zdc_pool_get(p));
    zdc_pkt_unref(a);
    zdc_pkt_unref(b);
    zdc_pool_free(p);
}
#else
Test(pool, double_unref_asserts, .signal = SIGABRT)
{
    zdc_pool *p = make_pool(128, 16, 2, 2);
    zdc_pkt *k = zdc_pool_get(p);
    zdc_pkt_unref(k);
    zdc_pkt_unref(k);
}
#endif

/* Cross-thread: the I/O thread gets buffers, stamps them and passes them through an SPSC ring
 * to the app thread, which checks and unrefs them. The pool is small, so buffers cycle through
 * the free list thousands of times while both threads touch it. */
enum { XT_ITEMS = 200000, XT_POOL = 64 };

struct xt {
    zdc_pool *pool;
    zdc_spsc ring;
    _Atomic bool failed;
};

static void *app_thread(void *arg)
{
    struct xt *x = arg;
    for (uint32_t expect = 0; expect < XT_ITEMS;) {
        void *v;
        if (!zdc_spsc_pop(&x->ring, &v)) {
            sched_yield(); /* the machine may have fewer cores than threads */
            continue;
        }
        zdc_pkt *k = v;
        uint32_t got;
        memcpy(&got, k->data, 4);
        if (got != expect || k->len != 4 || k->user != (void *)(uintptr_t)(expect + 1))
            atomic_store(&x->failed, true);
        /* Half of them get an extra reference dropped by the app first. */
        if (expect & 1)
            zdc_pkt_unref(k);
        zdc_pkt_unref(k);
        expect++;
    }
    return NULL;
}

Test(pool, cross_thread_unref)
{
    struct xt x = {.pool = make_pool(256, 32, 16, XT_POOL)};
    atomic_init(&x.failed, false);
    cr_assert_eq(zdc_spsc_init(&x.ring, 2 * XT_POOL), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, app_thread, &x), 0);
    uint64_t empty = 0;
    for (uint32_t i = 0; i < XT_ITEMS;) {
        zdc_pkt *k = zdc_pool_get(x.pool);
        if (k == NULL) {
            empty++;
            sched_yield();
            continue;
        }
        memcpy(zdc_pkt_put(k, 4), &i, 4);
        k->user = (void *)(uintptr_t)(i + 1);
        if (i & 1)
            zdc_pkt_ref(k);
        while (!zdc_spsc_push(&x.ring, k))
            sched_yield();
        i++;
    }
    pthread_join(th, NULL);
    cr_assert_not(atomic_load(&x.failed));
    zdc_pool_stats s;
    zdc_pool_get_stats(x.pool, &s);
    cr_assert_eq(s.outstanding, 0);
    cr_assert_leq(s.allocated, XT_POOL);
    cr_assert_eq(s.exhausted_count, empty);
    cr_assert_eq(s.double_unref, 0);
    zdc_spsc_clear(&x.ring);
    zdc_pool_free(x.pool);
}

/* Several threads get and unref concurrently (the app may allocate send buffers while the I/O
 * thread allocates receive buffers): no buffer is ever handed to two owners at once. */
enum { MT_THREADS = 3, MT_ROUNDS = 50000, MT_POOL = 10 };

struct mt {
    zdc_pool *pool;
    _Atomic uint32_t owner[MT_POOL];
    _Atomic bool failed;
};

static void *getter_thread(void *arg)
{
    struct mt *m = arg;
    static _Atomic uint32_t next_id = 1;
    uint32_t me = atomic_fetch_add(&next_id, 1);
    zdc_pkt *held[4] = {0};
    for (int r = 0; r < MT_ROUNDS; r++) {
        int slot = r & 3;
        if (held[slot]) {
            zdc_pkt *k = held[slot];
            uint32_t was = atomic_exchange(&m->owner[zdc_pkt_index(k)], 0);
            if (was != me)
                atomic_store(&m->failed, true);
            zdc_pkt_unref(k);
            held[slot] = NULL;
        }
        zdc_pkt *k = zdc_pool_get(m->pool);
        if (k == NULL)
            continue;
        uint32_t expected = 0;
        if (!atomic_compare_exchange_strong(&m->owner[zdc_pkt_index(k)], &expected, me))
            atomic_store(&m->failed, true);
        held[slot] = k;
    }
    for (int i = 0; i < 4; i++)
        if (held[i]) {
            atomic_store(&m->owner[zdc_pkt_index(held[i])], 0);
            zdc_pkt_unref(held[i]);
        }
    return NULL;
}

Test(pool, concurrent_get_and_unref)
{
    static struct mt m;
    m.pool = make_pool(128, 16, 4, MT_POOL) /* 3 threads x 4 held > 10: exhaustion happens */;
    pthread_t th[MT_THREADS];
    for (int i = 0; i < MT_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, getter_thread, &m), 0);
    for (int i = 0; i < MT_THREADS; i++)
        pthread_join(th[i], NULL);
    cr_assert_not(atomic_load(&m.failed));
    zdc_pool_stats s;
    zdc_pool_get_stats(m.pool, &s);
    cr_assert_eq(s.outstanding, 0);
    cr_assert_leq(s.allocated, MT_POOL);
    cr_assert_leq(s.slabs, 3);
    zdc_pool_free(m.pool);
}
