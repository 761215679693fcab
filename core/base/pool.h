/* Pooled, reference-counted packet buffers with head room and tail room.
 *
 * A zdc_pkt is one buffer of `buf_size` bytes; the payload [data, data + len) starts
 * `headroom` bytes in, so headers can be prepended (zdc_pkt_push) and trailers appended
 * (zdc_pkt_put) in place without copying. Buffers live in slabs of `slab_buffers` that are
 * allocated lazily, up to `max_buffers`; slabs are freed only by zdc_pool_free.
 *
 * Threads: zdc_pool_get, zdc_pkt_ref and zdc_pkt_unref may be called from any thread
 * concurrently (the free list is a lock-free stack with an ABA-safe tagged head). Ownership
 * of a buffer's bytes follows the usual rule: hand a buffer to another thread through a ring
 * (release/acquire) and stop touching it. zdc_pool_free must not race with anything.
 *
 * Every buffer has a stable index in [0, max_buffers) (zdc_pkt_index / zdc_pool_pkt_at), usable
 * as an io_uring provided-buffer id (those are 16-bit: keep max_buffers <= 65536 for that).
 * Buffer starts (data - headroom after a get) are 64-byte aligned.
 */
#ifndef ZDC_CORE_POOL_H
#define ZDC_CORE_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "zdc/error.h"

typedef struct zdc_pool zdc_pool;

typedef struct zdc_pkt {
    uint8_t *data; /* payload start */
    uint32_t len;  /* payload length */
    uint32_t flags;
    zdc_addr addr; /* remote address */
    void *user;

    /* Internal: owned by the pool, do not touch. */
    uint8_t *base;           /* start of the buffer */
    uint32_t cap;            /* buffer size (buf_size) */
    uint32_t index;          /* stable id in [0, max_buffers) */
    _Atomic uint32_t refcnt; /* 0 = in the free list */
    _Atomic uint32_t next;   /* free-list link: index + 1, 0 = end */
    zdc_pool *pool;
} zdc_pkt;

typedef struct zdc_pool_config {
    uint32_t buf_size;     /* bytes per buffer, head room included (default 2048) */
    uint32_t headroom;     /* bytes reserved in front of the payload (default 128) */
    uint32_t slab_buffers; /* buffers per slab allocation (default 256) */
    uint32_t max_buffers;  /* hard cap on buffers, <= 2^31 (default 65536) */
} zdc_pool_config;

typedef struct zdc_pool_stats {
    size_t allocated;         /* buffers in allocated slabs */
    size_t outstanding;       /* buffers handed out and not yet back */
    uint64_t exhausted_count; /* zdc_pool_get calls that returned NULL */
    size_t slabs;             /* slabs allocated */
    uint64_t double_unref;    /* zdc_pkt_unref on a free buffer (release builds) */
} zdc_pool_stats;

zdc_pool_config zdc_pool_config_default(void);

/* Creates a pool (no buffer is allocated yet). cfg NULL = defaults.
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (pool NULL, buf_size 0 or > 2^30, headroom >= buf_size,
 * slab_buffers 0, max_buffers 0 or > 2^31) or ZDC_ERR_NOMEM. */
int zdc_pool_new(const zdc_pool_config *cfg, zdc_pool **pool);

/* Frees the pool and all its slabs. Buffers still outstanding become invalid. NULL is a
 * no-op. */
void zdc_pool_free(zdc_pool *pool);

/* A buffer with refcount 1, data at the head room, len 0, flags 0, addr unset, user NULL.
 * NULL when all max_buffers are in use or a slab cannot be allocated (counted in
 * exhausted_count); never aborts. */
zdc_pkt *zdc_pool_get(zdc_pool *pool);

void zdc_pkt_ref(zdc_pkt *pkt);
/* Drops one reference; at zero the buffer returns to its pool. Unref of a buffer that is
 * already free asserts in debug builds and is counted (stats.double_unref) and ignored
 * otherwise. NULL is a no-op. */
void zdc_pkt_unref(zdc_pkt *pkt);

/* Prepends n bytes: returns the new data pointer, or NULL (nothing changed) if the head room
 * is smaller than n. */
uint8_t *zdc_pkt_push(zdc_pkt *pkt, size_t n);
/* Drops n bytes from the front: returns the new data pointer, or NULL (nothing changed) if
 * len < n. */
uint8_t *zdc_pkt_pull(zdc_pkt *pkt, size_t n);
/* Appends n bytes at the tail: returns a pointer to them, or NULL (nothing changed) if the
 * tail room is smaller than n. */
uint8_t *zdc_pkt_put(zdc_pkt *pkt, size_t n);
/* Drops bytes from the tail so that len becomes new_len; returns ZDC_ERR_INVALID_PARAMETER
 * if new_len > len. */
int zdc_pkt_trim(zdc_pkt *pkt, size_t new_len);
/* data back at the pool's head room, len 0 (flags, addr, user unchanged). */
void zdc_pkt_reset(zdc_pkt *pkt);
size_t zdc_pkt_headroom(const zdc_pkt *pkt);
size_t zdc_pkt_tailroom(const zdc_pkt *pkt);

uint32_t zdc_pkt_index(const zdc_pkt *pkt);
/* The buffer with that index, or NULL if its slab was never allocated or index is out of
 * range. The buffer may be free: the caller must know it owns that id (e.g. from a CQE). */
zdc_pkt *zdc_pool_pkt_at(zdc_pool *pool, uint32_t index);

void zdc_pool_get_stats(const zdc_pool *pool, zdc_pool_stats *out);
size_t zdc_pool_outstanding(const zdc_pool *pool);
/* The configuration the pool was created with. */
const zdc_pool_config *zdc_pool_get_config(const zdc_pool *pool);

#endif /* ZDC_CORE_POOL_H */
