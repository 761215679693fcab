/* ring_bench: items per second through a zdc_spsc ring between two threads, against a
 * mutex + condition-variable bounded queue moving the same items in the same run.
 *
 * usage: ring_bench [items (default 20000000)] [capacity (default 1024)]
 * Each variant runs 3 times; the best run is reported. The consumer checks that items arrive
 * in order, so a broken ring fails the benchmark instead of looking fast.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ring.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Backs off after repeated failures: the threads may share a core with other work. */
static void backoff(unsigned *spins)
{
    if (++*spins > 64) {
        sched_yield();
        *spins = 0;
    }
}

/* ---- mutex + condvar bounded queue (the reference) ---------------------------------------- */

struct mq {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **slots;
    size_t cap, head, count;
};

static void mq_push(struct mq *q, void *v)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->slots[(q->head + q->count) % q->cap] = v;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static void *mq_pop(struct mq *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    void *v = q->slots[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return v;
}

/* ---- runs ------------------------------------------------------------------------------- */

enum mode { MODE_SPSC, MODE_SPSC_BURST, MODE_MUTEX };

struct run {
    enum mode mode;
    size_t items, cap;
    zdc_spsc ring;
    struct mq mq;
    int out_of_order;
};

static void *consumer(void *arg)
{
    struct run *r = arg;
    uintptr_t expect = 1;
    unsigned spins = 0;
    void *buf[32];
    while (expect <= r->items) {
        size_t n;
        switch (r->mode) {
        case MODE_SPSC:
            n = zdc_spsc_pop(&r->ring, &buf[0]) ? 1 : 0;
            break;
        case MODE_SPSC_BURST:
            n = zdc_spsc_pop_burst(&r->ring, buf, 32);
            break;
        default:
            buf[0] = mq_pop(&r->mq);
            n = 1;
        }
        if (n == 0)
            backoff(&spins);
        for (size_t i = 0; i < n; i++, expect++)
            if ((uintptr_t)buf[i] != expect)
                r->out_of_order = 1;
    }
    return NULL;
}

static void produce(struct run *r)
{
    unsigned spins = 0;
    void *buf[32];
    uintptr_t next = 1;
    while (next <= r->items) {
        switch (r->mode) {
        case MODE_SPSC:
            if (zdc_spsc_push(&r->ring, (void *)next))
                next++;
            else
                backoff(&spins);
            break;
        case MODE_SPSC_BURST: {
            size_t n = 0;
            while (n < 32 && next + n <= r->items) {
                buf[n] = (void *)(next + n);
                n++;
            }
            size_t k = zdc_spsc_push_burst(&r->ring, buf, n);
            next += k;
            if (k == 0)
                backoff(&spins);
            break;
        }
        default:
            mq_push(&r->mq, (void *)next);
            next++;
        }
    }
}

/* Items per second for one run, or a negative value on failure. */
static double run_once(enum mode mode, size_t items, size_t cap)
{
    static struct run r;
    r = (struct run){.mode = mode, .items = items, .cap = cap};
    if (mode == MODE_MUTEX) {
        pthread_mutex_init(&r.mq.mu, NULL);
        pthread_cond_init(&r.mq.not_empty, NULL);
        pthread_cond_init(&r.mq.not_full, NULL);
        r.mq.cap = cap;
        r.mq.slots = calloc(cap, sizeof *r.mq.slots);
        if (r.mq.slots == NULL)
            return -1;
    } else if (zdc_spsc_init(&r.ring, cap) != 0) {
        return -1;
    }
    pthread_t th;
    uint64_t t0 = now_ns();
    if (pthread_create(&th, NULL, consumer, &r) != 0)
        return -1;
    produce(&r);
    pthread_join(th, NULL);
    uint64_t dt = now_ns() - t0;
    if (mode == MODE_MUTEX) {
        free(r.mq.slots);
        pthread_mutex_destroy(&r.mq.mu);
        pthread_cond_destroy(&r.mq.not_empty);
        pthread_cond_destroy(&r.mq.not_full);
    } else {
        zdc_spsc_clear(&r.ring);
    }
    if (r.out_of_order)
        return -2;
    return (double)items * 1e9 / (double)(dt ? dt : 1);
}

static double best_of(enum mode mode, size_t items, size_t cap, const char *name)
{
    double best = 0;
    for (int i = 0; i < 3; i++) {
        double v = run_once(mode, items, cap);
        if (v < 0) {
            fprintf(stderr, "%s: %s\n", name, v == -2 ? "items out of order" : "setup failed");
            exit(1);
        }
        if (v > best)
            best = v;
    }
    printf("%-22s %12.0f items/s\n", name, best);
    return best;
}

int main(int argc, char **argv)
{
    size_t items = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000;
    size_t cap = argc > 2 ? strtoull(argv[2], NULL, 10) : 1024;
    if (items == 0 || cap == 0) {
        fprintf(stderr, "usage: %s [items] [capacity]\n", argv[0]);
        return 2;
    }
    printf("ring_bench: %zu items, capacity %zu, 2 threads, best of 3\n", items, cap);
    double one = best_of(MODE_SPSC, items, cap, "zdc_spsc push/pop");
    double burst = best_of(MODE_SPSC_BURST, items, cap, "zdc_spsc burst 32");
    double mq = best_of(MODE_MUTEX, items, cap, "mutex+condvar queue");
    printf("ratio spsc/mutex: %.1fx (single), %.1fx (burst 32)\n", one / mq, burst / mq);
    return 0;
}
