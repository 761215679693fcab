/* The engine on its own thread: packets sent from several application threads (through the
 * multi-producer send queue and the wake-up), received packets taken from the receive queue
 * by the application thread. Both backends, loopback only, bounded in time.
 *
 * ctest-labels: thread
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"

#define PER_THREAD  5000
#define PRODUCERS   2
#define WINDOW      64
#define DEADLINE_NS (30ull * 1000000000ull)

typedef struct shared {
    zdc_loop *tx;
    zdc_addr to;
    int id;
    _Atomic size_t *received;
    _Atomic bool *abort;
    size_t sent;
} producer;

static uint8_t pattern(uint32_t k, size_t i)
{
    return (uint8_t)(k * 131u + i * 7u);
}

static void *produce(void *arg)
{
    producer *p = arg;
    uint64_t end = zdc_loop_now_ns() + DEADLINE_NS;
    while (p->sent < PER_THREAD && !atomic_load(p->abort) && zdc_loop_now_ns() < end) {
        /* Stay within a window of what the receiver has taken so no socket buffer overflows. */
        if (p->sent >= atomic_load(p->received) / PRODUCERS + WINDOW / PRODUCERS) {
            sched_yield();
            continue;
        }
        zdc_pkt *pkt = zdc_loop_pkt_alloc(p->tx);
        if (!pkt) {
            sched_yield();
            continue;
        }
        uint32_t k = (uint32_t)(p->id * PER_THREAD + p->sent);
        uint8_t *d = zdc_pkt_put(pkt, 1200);
        for (size_t i = 0; i < 1200; i++)
            d[i] = pattern(k, i);
        memcpy(d, &k, sizeof k);
        pkt->addr = p->to;
        int rv = zdc_loop_send(p->tx, pkt);
        if (rv == ZDC_ERR_QUEUE_FULL) {
            zdc_pkt_unref(pkt);
            sched_yield();
            continue;
        }
        if (rv != 0) {
            zdc_pkt_unref(pkt);
            break;
        }
        p->sent++;
    }
    return NULL;
}

static void threaded(int backend)
{
    zdc_loop_config c;
    zdc_loop_config_default(&c);
    c.backend = backend;
    c.ipv6 = false;
    cr_assert_eq(zdc_addr_from_ip(&c.bind4, "127.0.0.1", 9, 0), 0);
    zdc_loop *tx, *rx;
    cr_assert_eq(zdc_loop_new(&c, &tx), 0);
    cr_assert_eq(zdc_loop_new(&c, &rx), 0);
    cr_assert_eq(zdc_loop_start(tx), 0);
    cr_assert_eq(zdc_loop_start(rx), 0);
    cr_assert_eq(zdc_loop_start(rx), ZDC_ERR_INVALID_STATE);
    cr_assert_eq(zdc_loop_poll(rx, 0), ZDC_ERR_INVALID_STATE);

    zdc_addr to, from;
    zdc_loop_local_addr(rx, 4, &to);
    zdc_loop_local_addr(tx, 4, &from);
    _Atomic size_t received = 0;
    _Atomic bool abort_flag = false;
    producer prod[PRODUCERS];
    pthread_t th[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        prod[i] =
            (producer){.tx = tx, .to = to, .id = i, .received = &received, .abort = &abort_flag};
        cr_assert_eq(pthread_create(&th[i], NULL, produce, &prod[i]), 0);
    }

    const size_t total = (size_t)PRODUCERS * PER_THREAD;
    uint8_t *seen = calloc(total, 1);
    size_t bad = 0;
    uint64_t end = zdc_loop_now_ns() + DEADLINE_NS;
    while (atomic_load(&received) < total && zdc_loop_now_ns() < end) {
        zdc_pkt *p;
        if (!zdc_loop_recv(rx, &p)) {
            sched_yield();
            continue;
        }
        uint32_t k;
        memcpy(&k, p->data, sizeof k);
        bool ok = p->len == 1200 && k < total && zdc_addr_equal(&p->addr, &from);
        for (size_t i = sizeof k; ok && i < p->len; i++)
            ok = p->data[i] == pattern(k, i);
        if (!ok)
            bad++;
        else if (seen[k]++ == 0)
            atomic_fetch_add(&received, 1);
        zdc_pkt_unref(p);
    }
    atomic_store(&abort_flag, true);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    free(seen);

    zdc_loop_stats st;
    zdc_loop_get_stats(rx, &st);
    cr_expect_eq(bad, 0);
    cr_assert_eq(atomic_load(&received), total, "%s: %zu of %zu arrived (rx %llu)",
                 zdc_loop_backend_name(rx), atomic_load(&received), total,
                 (unsigned long long)st.rx_packets);
    zdc_loop_stop(tx);
    zdc_loop_stop(rx);
    zdc_loop_get_stats(tx, &st);
    cr_expect_eq(st.tx_packets, total);
    zdc_loop_free(tx);
    zdc_loop_free(rx);
}

Test(io_thread, engine_on_own_thread_uring, .timeout = 60)
{
    threaded(ZDC_IO_BACKEND_URING);
}
Test(io_thread, engine_on_own_thread_epoll, .timeout = 60)
{
    threaded(ZDC_IO_BACKEND_EPOLL);
}

/* Stopping a running engine with sends queued and in flight returns every buffer. */
static void stop_busy(int backend)
{
    zdc_pool *pool;
    cr_assert_eq(zdc_pool_new(NULL, &pool), 0);
    zdc_loop_config c;
    zdc_loop_config_default(&c);
    c.backend = backend;
    c.ipv6 = false;
    c.pool = pool;
    cr_assert_eq(zdc_addr_from_ip(&c.bind4, "127.0.0.1", 9, 0), 0);
    zdc_loop *tx, *rx;
    cr_assert_eq(zdc_loop_new(&c, &rx), 0);
    cr_assert_eq(zdc_loop_new(&c, &tx), 0);
    cr_assert_eq(zdc_loop_start(rx), 0);
    cr_assert_eq(zdc_loop_start(tx), 0);
    zdc_addr to;
    zdc_loop_local_addr(rx, 4, &to);
    for (int i = 0; i < 4000; i++) {
        zdc_pkt *p = zdc_pool_get(pool);
        cr_assert_not_null(p);
        memset(zdc_pkt_put(p, 1200), i, 1200);
        p->addr = to;
        if (zdc_loop_send(tx, p) != 0)
            zdc_pkt_unref(p);
    }
    zdc_loop_free(tx);
    zdc_loop_free(rx);
    cr_assert_eq(zdc_pool_outstanding(pool), 0);
    zdc_pool_free(pool);
}

Test(io_thread, stop_busy_uring)
{
    stop_busy(ZDC_IO_BACKEND_URING);
}
Test(io_thread, stop_busy_epoll)
{
    stop_busy(ZDC_IO_BACKEND_EPOLL);
}
