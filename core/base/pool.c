/* Packet-buffer pool: lazily allocated slabs, lock-free free list.
 *
 * The free list is a Treiber stack threaded through zdc_pkt.next (index + 1, 0 = end). Its
 * head packs (generation << 32 | index + 1) into one 64-bit atomic; every successful pop and
 * push bumps the generation, so a pop that read a stale `next` (the top was popped, reused and
 * pushed again meanwhile: ABA) fails its compare-and-swap instead of corrupting the list.
 * Buffers are never freed before the pool, so reading `next` of a buffer another thread just
 * took is harmless. Slabs are claimed with a compare-and-swap on the slab count, so concurrent
 * getters never allocate more than max_buffers.
 */
#include "pool.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SLAB_ALIGN 64

typedef struct slab {
    zdc_pkt *pkts;
    uint8_t *mem;
    uint32_t count;
} slab;

struct zdc_pool {
    zdc_pool_config cfg;
    uint32_t stride; /* bytes between buffers: buf_size rounded up to SLAB_ALIGN */
    uint32_t max_slabs;
    _Atomic uint64_t free_head;
    _Atomic uint32_t slabs_claimed; /* slots in `slabs` taken by a getter */
    _Atomic uint32_t slabs_ready;   /* slabs fully allocated (for stats) */
    _Atomic size_t allocated;
    _Atomic size_t outstanding;
    _Atomic uint64_t exhausted;
    _Atomic uint64_t double_unref;
    _Atomic(slab *) *slabs; /* max_slabs entries, NULL until allocated */
};

zdc_pool_config zdc_pool_config_default(void)
{
    zdc_pool_config c = {
        .buf_size = 2048, .headroom = 128, .slab_buffers = 256, .max_buffers = 65536};
    return c;
}

int zdc_pool_new(const zdc_pool_config *cfg, zdc_pool **out)
{
    zdc_pool_config c = cfg ? *cfg : zdc_pool_config_default();
    if (out == NULL || c.buf_size == 0 || c.buf_size > (1u << 30) || c.headroom >= c.buf_size ||
        c.slab_buffers == 0 || c.max_buffers == 0 || c.max_buffers > (1u << 31))
        return ZDC_ERR_INVALID_PARAMETER;
    if (c.slab_buffers > c.max_buffers)
        c.slab_buffers = c.max_buffers;
    zdc_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ZDC_ERR_NOMEM;
    p->cfg = c;
    p->stride = (c.buf_size + SLAB_ALIGN - 1) / SLAB_ALIGN * SLAB_ALIGN;
    p->max_slabs = (uint32_t)(((uint64_t)c.max_buffers + c.slab_buffers - 1) / c.slab_buffers);
    p->slabs = calloc(p->max_slabs, sizeof *p->slabs);
    if (p->slabs == NULL) {
        free(p);
        return ZDC_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < p->max_slabs; i++)
        atomic_init(&p->slabs[i], NULL);
    atomic_init(&p->free_head, 0);
    *out = p;
    return 0;
}

void zdc_pool_free(zdc_pool *p)
{
    if (p == NULL)
        return;
    for (uint32_t i = 0; i < p->max_slabs; i++) {
        slab *s = atomic_load_explicit(&p->slabs[i], memory_order_acquire);
        if (s == NULL)
            continue;
        free(s->mem);
        free(s->pkts);
        free(s);
    }
    free(p->slabs);
    free(p);
}

static zdc_pkt *pkt_at(zdc_pool *p, uint32_t index)
{
    uint32_t si = index / p->cfg.slab_buffers;
    if (si >= p->max_slabs)
        return NULL;
    slab *s = atomic_load_explicit(&p->slabs[si], memory_order_acquire);
    if (s == NULL)
        return NULL;
    uint32_t off = index % p->cfg.slab_buffers;
    return off < s->count ? &s->pkts[off] : NULL;
}

static void freelist_push(zdc_pool *p, zdc_pkt *pkt)
{
    uint64_t head = atomic_load_explicit(&p->free_head, memory_order_relaxed);
    uint64_t next;
    do {
        atomic_store_explicit(&pkt->next, (uint32_t)head, memory_order_relaxed);
        next = ((head >> 32) + 1) << 32 | (uint64_t)(pkt->index + 1);
    } while (!atomic_compare_exchange_weak_explicit(&p->free_head, &head, next,
                                                    memory_order_release, memory_order_relaxed));
}

static zdc_pkt *freelist_pop(zdc_pool *p)
{
    uint64_t head = atomic_load_explicit(&p->free_head, memory_order_acquire);
    for (;;) {
        uint32_t top = (uint32_t)head;
        if (top == 0)
            return NULL;
        zdc_pkt *pkt = pkt_at(p, top - 1);
        uint32_t after = atomic_load_explicit(&pkt->next, memory_order_relaxed);
        uint64_t next = ((head >> 32) + 1) << 32 | after;
        if (atomic_compare_exchange_weak_explicit(&p->free_head, &head, next, memory_order_acquire,
                                                  memory_order_acquire))
            return pkt;
    }
}

/* Allocates one more slab if the cap allows; returns one of its buffers (the others go to
 * the free list) or NULL. */
static zdc_pkt *grow(zdc_pool *p)
{
    uint32_t si = atomic_load_explicit(&p->slabs_claimed, memory_order_relaxed);
    do {
        if (si >= p->max_slabs)
            return NULL;
    } while (!atomic_compare_exchange_weak_explicit(&p->slabs_claimed, &si, si + 1,
                                                    memory_order_relaxed, memory_order_relaxed));
    uint64_t first = (uint64_t)si * p->cfg.slab_buffers;
    uint32_t count = p->cfg.slab_buffers;
    if (first + count > p->cfg.max_buffers)
        count = (uint32_t)(p->cfg.max_buffers - first);

    slab *s = calloc(1, sizeof *s);
    zdc_pkt *pkts = calloc(count, sizeof *pkts);
    uint8_t *mem = aligned_alloc(SLAB_ALIGN, (size_t)p->stride * count);
    if (s == NULL || pkts == NULL || mem == NULL) {
        free(s);
        free(pkts);
        free(mem);
        /* Give the slot back so a later get may retry, unless another getter has claimed a
         * slot after it (then this slot stays empty and its ids are never handed out). */
        uint32_t claimed = si + 1;
        atomic_compare_exchange_strong_explicit(&p->slabs_claimed, &claimed, si,
                                                memory_order_relaxed, memory_order_relaxed);
        return NULL;
    }
    s->pkts = pkts;
    s->mem = mem;
    s->count = count;
    for (uint32_t i = 0; i < count; i++) {
        zdc_pkt *k = &pkts[i];
        k->base = mem + (size_t)p->stride * i;
        k->cap = p->cfg.buf_size;
        k->index = (uint32_t)first + i;
        k->pool = p;
        atomic_init(&k->refcnt, 0);
        atomic_init(&k->next, 0);
    }
    atomic_store_explicit(&p->slabs[si], s, memory_order_release);
    atomic_fetch_add_explicit(&p->allocated, count, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->slabs_ready, 1, memory_order_relaxed);
    for (uint32_t i = count; i-- > 1;)
        freelist_push(p, &pkts[i]);
    return &pkts[0];
}

zdc_pkt *zdc_pool_get(zdc_pool *p)
{
    zdc_pkt *pkt = freelist_pop(p);
    if (pkt == NULL)
        pkt = grow(p);
    if (pkt == NULL) {
        /* A concurrent unref or a concurrent grow may have refilled the list meanwhile. */
        pkt = freelist_pop(p);
        if (pkt == NULL) {
            atomic_fetch_add_explicit(&p->exhausted, 1, memory_order_relaxed);
            return NULL;
        }
    }
    atomic_store_explicit(&pkt->refcnt, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->outstanding, 1, memory_order_relaxed);
    pkt->data = pkt->base + p->cfg.headroom;
    pkt->len = 0;
    pkt->flags = 0;
    memset(&pkt->addr, 0, sizeof pkt->addr);
    pkt->user = NULL;
    return pkt;
}

void zdc_pkt_ref(zdc_pkt *pkt)
{
    uint32_t old = atomic_fetch_add_explicit(&pkt->refcnt, 1, memory_order_relaxed);
    assert(old > 0 && "zdc_pkt_ref on a free buffer");
    (void)old;
}

void zdc_pkt_unref(zdc_pkt *pkt)
{
    if (pkt == NULL)
        return;
    zdc_pool *p = pkt->pool;
    uint32_t r = atomic_load_explicit(&pkt->refcnt, memory_order_relaxed);
    do {
        if (r == 0) {
            atomic_fetch_add_explicit(&p->double_unref, 1, memory_order_relaxed);
            assert(!"zdc_pkt_unref on a free buffer (double unref)");
            return;
        }
        /* acq_rel: the last owner must see every other owner's writes before recycling. */
    } while (!atomic_compare_exchange_weak_explicit(&pkt->refcnt, &r, r - 1, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (r == 1) {
        atomic_fetch_sub_explicit(&p->outstanding, 1, memory_order_relaxed);
        freelist_push(p, pkt);
    }
}

static size_t headroom(const zdc_pkt *pkt)
{
    return (size_t)(pkt->data - pkt->base);
}

size_t zdc_pkt_headroom(const zdc_pkt *pkt)
{
    return headroom(pkt);
}

size_t zdc_pkt_tailroom(const zdc_pkt *pkt)
{
    return pkt->cap - headroom(pkt) - pkt->len;
}

uint8_t *zdc_pkt_push(zdc_pkt *pkt, size_t n)
{
    if (headroom(pkt) < n)
        return NULL;
    pkt->data -= n;
    pkt->len += (uint32_t)n;
    return pkt->data;
}

uint8_t *zdc_pkt_pull(zdc_pkt *pkt, size_t n)
{
    if (pkt->len < n)
        return NULL;
    pkt->data += n;
    pkt->len -= (uint32_t)n;
    return pkt->data;
}

uint8_t *zdc_pkt_put(zdc_pkt *pkt, size_t n)
{
    if (zdc_pkt_tailroom(pkt) < n)
        return NULL;
    uint8_t *tail = pkt->data + pkt->len;
    pkt->len += (uint32_t)n;
    return tail;
}

int zdc_pkt_trim(zdc_pkt *pkt, size_t new_len)
{
    if (new_len > pkt->len)
        return ZDC_ERR_INVALID_PARAMETER;
    pkt->len = (uint32_t)new_len;
    return 0;
}

void zdc_pkt_reset(zdc_pkt *pkt)
{
    pkt->data = pkt->base + pkt->pool->cfg.headroom;
    pkt->len = 0;
}

uint32_t zdc_pkt_index(const zdc_pkt *pkt)
{
    return pkt->index;
}

zdc_pkt *zdc_pool_pkt_at(zdc_pool *p, uint32_t index)
{
    if (index >= p->cfg.max_buffers)
        return NULL;
    return pkt_at(p, index);
}

void zdc_pool_get_stats(const zdc_pool *p, zdc_pool_stats *out)
{
    zdc_pool *m = (zdc_pool *)p; /* atomic loads take non-const pointers in C11 */
    out->allocated = atomic_load_explicit(&m->allocated, memory_order_relaxed);
    out->outstanding = atomic_load_explicit(&m->outstanding, memory_order_relaxed);
    out->exhausted_count = atomic_load_explicit(&m->exhausted, memory_order_relaxed);
    out->slabs = atomic_load_explicit(&m->slabs_ready, memory_order_relaxed);
    out->double_unref = atomic_load_explicit(&m->double_unref, memory_order_relaxed);
}

size_t zdc_pool_outstanding(const zdc_pool *p)
{
    return atomic_load_explicit(&((zdc_pool *)p)->outstanding, memory_order_relaxed);
}

const zdc_pool_config *zdc_pool_get_config(const zdc_pool *p)
{
    return &p->cfg;
}
