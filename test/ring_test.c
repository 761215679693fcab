/* Lock-free rings: single-thread semantics and two/four-thread stress. ctest-labels: thread */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"
#include "ring.h"
#include "zdc/error.h"

#define P(x) ((void *)(uintptr_t)(x))
#define U(x) ((uintptr_t)(x))

Test(spsc, init_rejects_and_rounds)
{
    zdc_spsc r;
    cr_assert_eq(zdc_spsc_init(&r, 0), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_spsc_init(&r, ZDC_RING_MAX_CAPACITY + 1), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_spsc_init(NULL, 8), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_spsc_init(&r, 5), 0);
    cr_assert_eq(zdc_spsc_capacity(&r), 8);
    zdc_spsc_clear(&r);
    cr_assert_eq(zdc_spsc_init(&r, 1), 0);
    cr_assert_eq(zdc_spsc_capacity(&r), 2);
    zdc_spsc_clear(&r);
    cr_assert_eq(zdc_spsc_init(&r, 16), 0);
    cr_assert_eq(zdc_spsc_capacity(&r), 16);
    zdc_spsc_clear(&r);
    zdc_spsc_clear(&r); /* idempotent */
}

Test(spsc, fifo_full_empty)
{
    zdc_spsc r;
    void *v = P(99);
    cr_assert_eq(zdc_spsc_init(&r, 4), 0);
    cr_assert_not(zdc_spsc_pop(&r, &v), "empty ring pops nothing");
    cr_assert_eq(U(v), 99, "output untouched when empty");
    for (uintptr_t i = 1; i <= 4; i++)
        cr_assert(zdc_spsc_push(&r, P(i)));
    cr_assert_eq(zdc_spsc_count(&r), 4);
    cr_assert_not(zdc_spsc_push(&r, P(5)), "full");
    cr_assert_eq(zdc_spsc_count(&r), 4);
    for (uintptr_t i = 1; i <= 4; i++) {
        cr_assert(zdc_spsc_pop(&r, &v));
        cr_assert_eq(U(v), i);
    }
    cr_assert_not(zdc_spsc_pop(&r, &v));
    cr_assert_eq(zdc_spsc_count(&r), 0);
    cr_assert(zdc_spsc_push(&r, NULL), "NULL is a valid item");
    cr_assert(zdc_spsc_pop(&r, &v));
    cr_assert_null(v);
    zdc_spsc_clear(&r);
}

Test(spsc, wrap_around_interleaved)
{
    zdc_spsc r;
    cr_assert_eq(zdc_spsc_init(&r, 8), 0);
    uintptr_t next_in = 0, next_out = 0;
    /* Uneven push/pop batches walk the indices around the ring many times. */
    for (int round = 0; round < 1000; round++) {
        int np = 1 + round % 7, nc = 1 + (round * 5) % 6;
        for (int i = 0; i < np; i++)
            if (zdc_spsc_push(&r, P(next_in)))
                next_in++;
        for (int i = 0; i < nc; i++) {
            void *v;
            if (!zdc_spsc_pop(&r, &v))
                break;
            cr_assert_eq(U(v), next_out);
            next_out++;
        }
        cr_assert_eq(zdc_spsc_count(&r), next_in - next_out);
        cr_assert_leq(next_in - next_out, 8);
    }
    cr_assert_gt(next_out, 1000);
    zdc_spsc_clear(&r);
}

Test(spsc, bursts_partial_and_wrapping)
{
    zdc_spsc r;
    void *in[10], *out[10];
    for (int i = 0; i < 10; i++)
        in[i] = P(100 + i);
    cr_assert_eq(zdc_spsc_init(&r, 8), 0);
    cr_assert_eq(zdc_spsc_pop_burst(&r, out, 10), 0);
    cr_assert_eq(zdc_spsc_push_burst(&r, in, 5), 5);
    cr_assert_eq(zdc_spsc_push_burst(&r, in + 5, 5), 3, "only 3 fit");
    cr_assert_eq(zdc_spsc_push_burst(&r, in, 1), 0);
    cr_assert_eq(zdc_spsc_pop_burst(&r, out, 6), 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(out[i], in[i]);
    /* Now head = 6, tail = 8: a burst of 6 wraps around the end of the slot array. */
    cr_assert_eq(zdc_spsc_push_burst(&r, in, 6), 6);
    cr_assert_eq(zdc_spsc_count(&r), 8);
    cr_assert_eq(zdc_spsc_pop_burst(&r, out, 10), 8);
    cr_assert_eq(out[0], in[6]);
    cr_assert_eq(out[1], in[7]);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(out[2 + i], in[i]);
    cr_assert_eq(zdc_spsc_push_burst(&r, in, 0), 0);
    cr_assert_eq(zdc_spsc_count(&r), 0);
    zdc_spsc_clear(&r);
}

Test(mpsc, init_rejects_and_rounds)
{
    zdc_mpsc r;
    cr_assert_eq(zdc_mpsc_init(&r, 0), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_mpsc_init(NULL, 4), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_mpsc_init(&r, ZDC_RING_MAX_CAPACITY + 1), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_mpsc_init(&r, 100), 0);
    cr_assert_eq(zdc_mpsc_capacity(&r), 128);
    zdc_mpsc_clear(&r);
}

Test(mpsc, fifo_full_empty_wrap)
{
    zdc_mpsc r;
    void *v = P(7);
    cr_assert_eq(zdc_mpsc_init(&r, 4), 0);
    cr_assert_not(zdc_mpsc_pop(&r, &v));
    cr_assert_eq(U(v), 7);
    uintptr_t in = 0, out = 0;
    for (int round = 0; round < 500; round++) {
        while (zdc_mpsc_push(&r, P(in)))
            in++;
        cr_assert_eq(zdc_mpsc_count(&r), 4, "full at 4");
        int take = 1 + round % 4;
        for (int i = 0; i < take; i++) {
            cr_assert(zdc_mpsc_pop(&r, &v));
            cr_assert_eq(U(v), out);
            out++;
        }
    }
    while (zdc_mpsc_pop(&r, &v))
        cr_assert_eq(U(v), out++);
    cr_assert_eq(in, out);
    cr_assert_eq(zdc_mpsc_count(&r), 0);
    zdc_mpsc_clear(&r);
}

Test(mpsc, bursts)
{
    zdc_mpsc r;
    void *in[12], *out[12];
    for (int i = 0; i < 12; i++)
        in[i] = P(i + 1);
    cr_assert_eq(zdc_mpsc_init(&r, 8), 0);
    cr_assert_eq(zdc_mpsc_push_burst(&r, in, 0), 0);
    cr_assert_eq(zdc_mpsc_push_burst(&r, in, 5), 5);
    cr_assert_eq(zdc_mpsc_push_burst(&r, in + 5, 7), 3);
    cr_assert_eq(zdc_mpsc_push_burst(&r, in, 1), 0);
    cr_assert_eq(zdc_mpsc_pop_burst(&r, out, 3), 3);
    cr_assert_eq(zdc_mpsc_push_burst(&r, in + 8, 4), 3, "wraps, 3 free");
    cr_assert_eq(zdc_mpsc_pop_burst(&r, out + 3, 12), 8);
    for (int i = 0; i < 11; i++)
        cr_assert_eq(out[i], in[i], "item %d", i);
    cr_assert_eq(zdc_mpsc_pop_burst(&r, out, 12), 0);
    zdc_mpsc_clear(&r);
}

/* ---- two-thread SPSC stress -------------------------------------------------------------- */

/* Enough items to wrap a 1024-slot ring thousands of times; still a few seconds under TSan. */
enum { SPSC_ITEMS = 2000000 };

struct spsc_ctx {
    zdc_spsc r;
    uintptr_t bad_at; /* first out-of-order item + 1, 0 = none */
};

static void *spsc_consumer(void *arg)
{
    struct spsc_ctx *c = arg;
    void *buf[32];
    uintptr_t expect = 1;
    while (expect <= SPSC_ITEMS) {
        /* Alternate single pops and bursts so both paths see a concurrent producer. */
        size_t n = (expect & 64) ? zdc_spsc_pop_burst(&c->r, buf, 32)
                                 : (zdc_spsc_pop(&c->r, &buf[0]) ? 1 : 0);
        if (n == 0)
            sched_yield(); /* the machine may have fewer cores than threads */
        for (size_t i = 0; i < n; i++, expect++)
            if (U(buf[i]) != expect && c->bad_at == 0)
                c->bad_at = expect;
    }
    return NULL;
}

Test(spsc, two_thread_stress, .timeout = 120)
{
    static struct spsc_ctx c;
    cr_assert_eq(zdc_spsc_init(&c.r, 1024), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, spsc_consumer, &c), 0);
    void *buf[16];
    uintptr_t next = 1;
    while (next <= SPSC_ITEMS) {
        if (next & 128) {
            size_t n = 0;
            while (n < 16 && next + n <= SPSC_ITEMS) {
                buf[n] = P(next + n);
                n++;
            }
            size_t k = zdc_spsc_push_burst(&c.r, buf, n);
            next += k;
            if (k == 0)
                sched_yield();
        } else if (zdc_spsc_push(&c.r, P(next))) {
            next++;
        } else {
            sched_yield();
        }
    }
    pthread_join(th, NULL);
    cr_assert_eq(c.bad_at, 0, "item %zu out of order or lost", (size_t)c.bad_at);
    cr_assert_eq(zdc_spsc_count(&c.r), 0);
    zdc_spsc_clear(&c.r);
}

/* ---- three producers, one consumer ------------------------------------------------------- */

enum { MPSC_PRODUCERS = 3, MPSC_PER_PRODUCER = 400000 };

struct mpsc_ctx {
    zdc_mpsc r;
    int id;
};

/* Item = producer id in the top bits, sequence 1..N in the low 32 bits. */
static void *mpsc_producer(void *arg)
{
    struct mpsc_ctx *c = arg;
    static _Atomic int next_id;
    uintptr_t id = (uintptr_t)atomic_fetch_add(&next_id, 1);
    uintptr_t seq = 1;
    void *buf[8];
    while (seq <= MPSC_PER_PRODUCER) {
        if ((seq & 3) == 0 && seq + 8 <= MPSC_PER_PRODUCER + 1) {
            for (int i = 0; i < 8; i++)
                buf[i] = P(id << 32 | (seq + i));
            size_t k = zdc_mpsc_push_burst(&c->r, buf, 8);
            seq += k;
            if (k == 0)
                sched_yield();
        } else if (zdc_mpsc_push(&c->r, P(id << 32 | seq))) {
            seq++;
        } else {
            sched_yield();
        }
    }
    return NULL;
}

Test(mpsc, three_producers_stress, .timeout = 120)
{
    static struct mpsc_ctx c;
    cr_assert_eq(zdc_mpsc_init(&c.r, 256), 0);
    pthread_t th[MPSC_PRODUCERS];
    for (int i = 0; i < MPSC_PRODUCERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, mpsc_producer, &c), 0);
    uintptr_t last[MPSC_PRODUCERS] = {0};
    size_t total = 0;
    void *buf[32];
    while (total < (size_t)MPSC_PRODUCERS * MPSC_PER_PRODUCER) {
        size_t n =
            (total & 1) ? zdc_mpsc_pop_burst(&c.r, buf, 32) : (zdc_mpsc_pop(&c.r, &buf[0]) ? 1 : 0);
        for (size_t i = 0; i < n; i++) {
            uintptr_t id = U(buf[i]) >> 32, seq = U(buf[i]) & 0xffffffffu;
            cr_assert_lt(id, MPSC_PRODUCERS);
            /* Per producer: each sequence number exactly once, in order. */
            cr_assert_eq(seq, last[id] + 1, "producer %zu: got %zu after %zu", (size_t)id,
                         (size_t)seq, (size_t)last[id]);
            last[id] = seq;
        }
        total += n;
    }
    for (int i = 0; i < MPSC_PRODUCERS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(last[i], MPSC_PER_PRODUCER);
    }
    void *v;
    cr_assert_not(zdc_mpsc_pop(&c.r, &v), "nothing extra");
    zdc_mpsc_clear(&c.r);
}

/* ---- the workers' batch path: pool buffers out on one ring and back on another ------------- */

/* The shape of io/workers.c: the I/O thread takes buffers from the pool, fills them and pushes
 * them in bursts on a worker's receive ring; the worker pops bursts, checks each buffer,
 * writes its answer into the same buffer and pushes it on its send ring; the I/O thread pops
 * those, checks the answer and returns the buffer to the pool. One owner at a time: every
 * byte is checked on the far side, and at the end every buffer is back in the pool. */
enum { BATCH_ITEMS = 200000, BATCH_MAX = 32 };

struct batch_ctx {
    zdc_spsc rx, tx;
    size_t bad;
};

static void *batch_worker(void *arg)
{
    struct batch_ctx *c = arg;
    void *buf[BATCH_MAX];
    uint32_t expect = 1;
    size_t pending = 0; /* popped, not yet pushed back */
    while (expect <= BATCH_ITEMS || pending) {
        size_t n = pending ? pending : zdc_spsc_pop_burst(&c->rx, buf, BATCH_MAX);
        if (n == 0) {
            sched_yield();
            continue;
        }
        if (!pending) {
            for (size_t i = 0; i < n; i++, expect++) {
                zdc_pkt *p = buf[i];
                uint32_t v;
                memcpy(&v, p->data, 4);
                if (v != expect || p->len != 64 || p->data[63] != (uint8_t)expect)
                    c->bad++;
                p->data[0] ^= 0xff; /* the answer, in place */
            }
        }
        size_t k = zdc_spsc_push_burst(&c->tx, buf, n);
        if (k < n)
            memmove(buf, buf + k, (n - k) * sizeof buf[0]);
        pending = n - k;
        if (pending)
            sched_yield();
    }
    return NULL;
}

Test(spsc, pool_buffer_batches_round_trip, .timeout = 120)
{
    static struct batch_ctx c;
    zdc_pool_config pc = zdc_pool_config_default();
    pc.max_buffers = 64; /* fewer than the rings hold: the pool runs dry and recovers */
    zdc_pool *pool;
    cr_assert_eq(zdc_pool_new(&pc, &pool), 0);
    cr_assert_eq(zdc_spsc_init(&c.rx, 256), 0);
    cr_assert_eq(zdc_spsc_init(&c.tx, 256), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, batch_worker, &c), 0);
    uint32_t next = 1, back = 1;
    size_t bad = 0, dry = 0;
    void *buf[BATCH_MAX];
    while (back <= BATCH_ITEMS) {
        size_t n = 0;
        while (n < (size_t)(1 + next % BATCH_MAX) && next + n <= BATCH_ITEMS) {
            zdc_pkt *p = zdc_pool_get(pool);
            if (!p) {
                dry++;
                break;
            }
            uint8_t *d = zdc_pkt_put(p, 64);
            uint32_t v = next + (uint32_t)n;
            memset(d, 0, 64);
            memcpy(d, &v, 4);
            d[63] = (uint8_t)v;
            buf[n++] = p;
        }
        size_t k = zdc_spsc_push_burst(&c.rx, buf, n);
        for (size_t i = k; i < n; i++)
            zdc_pkt_unref(buf[i]); /* did not fit: never handed over, numbered again */
        next += (uint32_t)k;
        size_t m = zdc_spsc_pop_burst(&c.tx, buf, BATCH_MAX);
        for (size_t i = 0; i < m; i++, back++) {
            zdc_pkt *p = buf[i];
            uint32_t v = back;
            uint8_t first = (uint8_t)(v & 0xff) ^ 0xff;
            if (p->data[0] != first || p->data[63] != (uint8_t)v)
                bad++;
            zdc_pkt_unref(p);
        }
        if (k == 0 && m == 0)
            sched_yield();
    }
    pthread_join(th, NULL);
    cr_assert_eq(c.bad, 0, "worker saw a wrong buffer");
    cr_assert_eq(bad, 0, "I/O side saw a wrong answer");
    cr_assert_eq(zdc_pool_outstanding(pool), 0, "every buffer back in the pool");
    cr_assert_eq(zdc_spsc_count(&c.rx) + zdc_spsc_count(&c.tx), 0);
    printf("ring batches: %d buffers round trip, pool ran dry %zu times\n", BATCH_ITEMS, dry);
    zdc_spsc_clear(&c.rx);
    zdc_spsc_clear(&c.tx);
    zdc_pool_free(pool);
}
