/* Bounded lock-free rings of pointers between threads.
 *
 * zdc_spsc: one producer thread, one consumer thread (e.g. I/O loop -> app).
 * zdc_mpsc: any number of producer threads, one consumer thread (e.g. app threads -> I/O
 *           loop), Vyukov-style: each slot carries a sequence number.
 *
 * Capacity is rounded up to a power of two (at least 2). Nothing blocks: push returns false
 * when the ring is full, pop returns false when it is empty. A pointer pushed is visible with
 * everything its producer wrote before the push (release/acquire). The ring structs may be
 * embedded anywhere (no over-aligned members); producer and consumer fields are kept on
 * different cache lines by padding.
 */
#ifndef ZDC_CORE_RING_H
#define ZDC_CORE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"

#define ZDC_RING_CACHE_LINE 64
/* Largest capacity accepted by the init functions. */
#define ZDC_RING_MAX_CAPACITY ((size_t)1 << 30)

typedef struct zdc_spsc {
    char pad0_[ZDC_RING_CACHE_LINE];
    /* consumer side */
    _Atomic size_t head;
    size_t cached_tail;
    char pad1_[ZDC_RING_CACHE_LINE];
    /* producer side */
    _Atomic size_t tail;
    size_t cached_head;
    char pad2_[ZDC_RING_CACHE_LINE];
    /* read-only after init */
    void **slots;
    size_t mask;
    char pad3_[ZDC_RING_CACHE_LINE];
} zdc_spsc;

typedef struct zdc_mpsc_cell {
    _Atomic size_t seq;
    void *value;
} zdc_mpsc_cell;

typedef struct zdc_mpsc {
    char pad0_[ZDC_RING_CACHE_LINE];
    _Atomic size_t enqueue_pos; /* shared by producers */
    char pad1_[ZDC_RING_CACHE_LINE];
    _Atomic size_t dequeue_pos; /* consumer (atomic only so zdc_mpsc_count may read it) */
    char pad2_[ZDC_RING_CACHE_LINE];
    zdc_mpsc_cell *cells;
    size_t mask;
    char pad3_[ZDC_RING_CACHE_LINE];
} zdc_mpsc;

/* Returns 0, ZDC_ERR_INVALID_PARAMETER (r NULL, capacity 0 or > ZDC_RING_MAX_CAPACITY) or
 * ZDC_ERR_NOMEM. */
int zdc_spsc_init(zdc_spsc *r, size_t capacity);
/* Frees the slots (items still queued are not touched). Safe on a zeroed struct. */
void zdc_spsc_clear(zdc_spsc *r);
size_t zdc_spsc_capacity(const zdc_spsc *r);
/* Producer only. false = full (nothing queued). */
bool zdc_spsc_push(zdc_spsc *r, void *item);
/* Consumer only. false = empty. */
bool zdc_spsc_pop(zdc_spsc *r, void **item);
/* Producer only: queues the first k of n items (k = what fits) and returns k. */
size_t zdc_spsc_push_burst(zdc_spsc *r, void *const *items, size_t n);
/* Consumer only: takes up to n items in order, returns how many. */
size_t zdc_spsc_pop_burst(zdc_spsc *r, void **items, size_t n);
/* Items queued; exact from a quiescent ring, a snapshot (<= capacity) under concurrency. */
size_t zdc_spsc_count(const zdc_spsc *r);

/* Same contracts as the zdc_spsc calls; push and push_burst may be called from any number of
 * threads at once; pop, pop_burst from one consumer thread. A producer that has claimed a slot
 * but not yet filled it holds back the consumer at that slot (items stay in order). */
int zdc_mpsc_init(zdc_mpsc *r, size_t capacity);
void zdc_mpsc_clear(zdc_mpsc *r);
size_t zdc_mpsc_capacity(const zdc_mpsc *r);
bool zdc_mpsc_push(zdc_mpsc *r, void *item);
bool zdc_mpsc_pop(zdc_mpsc *r, void **item);
/* The k items queued by one call are consecutive in the ring. */
size_t zdc_mpsc_push_burst(zdc_mpsc *r, void *const *items, size_t n);
size_t zdc_mpsc_pop_burst(zdc_mpsc *r, void **items, size_t n);
size_t zdc_mpsc_count(const zdc_mpsc *r);

#endif /* ZDC_CORE_RING_H */
