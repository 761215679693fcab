/* Bounded lock-free rings.
 *
 * SPSC: head (consumer) and tail (producer) are free-running counters; slot = counter & mask.
 * Each side publishes its counter with a release store and reads the other side's with an
 * acquire load, and keeps a private cached copy of it so the shared line is touched only
 * when the cached view says full (producer) or empty (consumer).
 *
 * MPSC (Dmitry Vyukov's bounded queue, single consumer): cell i of lap L has seq == i + L*cap
 * when free for the producer of position i + L*cap, and seq == pos + 1 once that producer has
 * filled it. Producers claim positions with a CAS on enqueue_pos; the consumer frees a cell by
 * setting seq = pos + cap.
 */
#include "ring.h"

#include <stdlib.h>

static int round_capacity(size_t capacity, size_t *out)
{
    if (capacity == 0 || capacity > ZDC_RING_MAX_CAPACITY)
        return ZDC_ERR_INVALID_PARAMETER;
    size_t c = 2;
    while (c < capacity)
        c <<= 1;
    *out = c;
    return 0;
}

/* ---- SPSC ------------------------------------------------------------------------------ */

int zdc_spsc_init(zdc_spsc *r, size_t capacity)
{
    size_t cap;
    if (r == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    int rv = round_capacity(capacity, &cap);
    if (rv != 0)
        return rv;
    void **slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return ZDC_ERR_NOMEM;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->cached_tail = 0;
    r->cached_head = 0;
    r->slots = slots;
    r->mask = cap - 1;
    return 0;
}

void zdc_spsc_clear(zdc_spsc *r)
{
    if (r == NULL)
        return;
    free(r->slots);
    r->slots = NULL;
    r->mask = 0;
}

size_t zdc_spsc_capacity(const zdc_spsc *r)
{
    return r->mask + 1;
}

/* Free slots as the producer sees them, refreshing its view of head only when needed. */
static size_t spsc_free(zdc_spsc *r, size_t tail, size_t want)
{
    size_t cap = r->mask + 1;
    size_t free_slots = cap - (tail - r->cached_head);
    if (free_slots < want) {
        r->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
        free_slots = cap - (tail - r->cached_head);
    }
    return free_slots;
}

/* Items available as the consumer sees them. */
static size_t spsc_avail(zdc_spsc *r, size_t head, size_t want)
{
    size_t avail = r->cached_tail - head;
    if (avail < want) {
        r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        avail = r->cached_tail - head;
    }
    return avail;
}

bool zdc_spsc_push(zdc_spsc *r, void *item)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (spsc_free(r, tail, 1) == 0)
        return false;
    r->slots[tail & r->mask] = item;
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return true;
}

bool zdc_spsc_pop(zdc_spsc *r, void **item)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (spsc_avail(r, head, 1) == 0)
        return false;
    *item = r->slots[head & r->mask];
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return true;
}

size_t zdc_spsc_push_burst(zdc_spsc *r, void *const *items, size_t n)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t k = spsc_free(r, tail, n);
    if (k > n)
        k = n;
    for (size_t i = 0; i < k; i++)
        r->slots[(tail + i) & r->mask] = items[i];
    if (k > 0)
        atomic_store_explicit(&r->tail, tail + k, memory_order_release);
    return k;
}

size_t zdc_spsc_pop_burst(zdc_spsc *r, void **items, size_t n)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t k = spsc_avail(r, head, n);
    if (k > n)
        k = n;
    for (size_t i = 0; i < k; i++)
        items[i] = r->slots[(head + i) & r->mask];
    if (k > 0)
        atomic_store_explicit(&r->head, head + k, memory_order_release);
    return k;
}

size_t zdc_spsc_count(const zdc_spsc *r)
{
    zdc_spsc *m = (zdc_spsc *)r; /* C11 atomic loads take non-const pointers */
    /* head first: tail read afterwards is >= it, so the difference cannot wrap. */
    size_t head = atomic_load_explicit(&m->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&m->tail, memory_order_acquire);
    size_t n = tail - head;
    return n > r->mask + 1 ? r->mask + 1 : n;
}

/* ---- MPSC ------------------------------------------------------------------------------ */

int zdc_mpsc_init(zdc_mpsc *r, size_t capacity)
{
    size_t cap;
    if (r == NULL)
        return ZDC_ERR_INVALID_PARAMETER;
    int rv = round_capacity(capacity, &cap);
    if (rv != 0)
        return rv;
    zdc_mpsc_cell *cells = malloc(cap * sizeof *cells);
    if (cells == NULL)
        return ZDC_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++) {
        atomic_init(&cells[i].seq, i);
        cells[i].value = NULL;
    }
    atomic_init(&r->enqueue_pos, 0);
    atomic_init(&r->dequeue_pos, 0);
    r->cells = cells;
    r->mask = cap - 1;
    return 0;
}

void zdc_mpsc_clear(zdc_mpsc *r)
{
    if (r == NULL)
        return;
    free(r->cells);
    r->cells = NULL;
    r->mask = 0;
}

size_t zdc_mpsc_capacity(const zdc_mpsc *r)
{
    return r->mask + 1;
}

/* Claims up to n consecutive free positions; returns how many (0 = full) and their first
 * position in *first. */
static size_t mpsc_claim(zdc_mpsc *r, size_t n, size_t *first)
{
    size_t pos = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
    for (;;) {
        size_t k = 0;
        while (k < n) {
            zdc_mpsc_cell *c = &r->cells[(pos + k) & r->mask];
            size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
            if (seq != pos + k)
                break;
            k++;
        }
        if (k == 0) {
            zdc_mpsc_cell *c = &r->cells[pos & r->mask];
            size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
            intptr_t dif = (intptr_t)seq - (intptr_t)pos;
            if (dif < 0)
                return 0; /* the consumer has not freed this cell: full */
            if (dif == 0)
                continue; /* freed in between: look again */
            /* Another producer took pos: catch up. */
            pos = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&r->enqueue_pos, &pos, pos + k,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            *first = pos;
            return k;
        }
    }
}

bool zdc_mpsc_push(zdc_mpsc *r, void *item)
{
    return zdc_mpsc_push_burst(r, &item, 1) == 1;
}

size_t zdc_mpsc_push_burst(zdc_mpsc *r, void *const *items, size_t n)
{
    size_t first;
    if (n == 0)
        return 0;
    size_t k = mpsc_claim(r, n, &first);
    for (size_t i = 0; i < k; i++) {
        zdc_mpsc_cell *c = &r->cells[(first + i) & r->mask];
        c->value = items[i];
        atomic_store_explicit(&c->seq, first + i + 1, memory_order_release);
    }
    return k;
}

bool zdc_mpsc_pop(zdc_mpsc *r, void **item)
{
    return zdc_mpsc_pop_burst(r, item, 1) == 1;
}

size_t zdc_mpsc_pop_burst(zdc_mpsc *r, void **items, size_t n)
{
    size_t pos = atomic_load_explicit(&r->dequeue_pos, memory_order_relaxed);
    size_t k = 0;
    for (; k < n; k++) {
        zdc_mpsc_cell *c = &r->cells[(pos + k) & r->mask];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (seq != pos + k + 1)
            break; /* empty, or its producer has not filled it yet */
        items[k] = c->value;
        atomic_store_explicit(&c->seq, pos + k + r->mask + 1, memory_order_release);
    }
    if (k > 0)
        atomic_store_explicit(&r->dequeue_pos, pos + k, memory_order_relaxed);
    return k;
}

size_t zdc_mpsc_count(const zdc_mpsc *r)
{
    zdc_mpsc *m = (zdc_mpsc *)r;
    size_t deq = atomic_load_explicit(&m->dequeue_pos, memory_order_relaxed);
    size_t enq = atomic_load_explicit(&m->enqueue_pos, memory_order_relaxed);
    size_t n = enq - deq;
    return n > r->mask + 1 ? r->mask + 1 : n; /* a stale dequeue_pos can make n wrap */
}
