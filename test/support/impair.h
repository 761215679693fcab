/* A seeded impairment link: loss, duplication, reordering, delay and jitter for datagrams,
 * on the caller's clock. The machines have no netem, so tests put this between two endpoints
 * (in one process, or in a loopback relay) and a failing case replays from its seed.
 *
 * Sans-IO: zdc_impair_push() takes a datagram at time now; zdc_impair_pop() hands out those
 * whose delivery time has come, in delivery-time order (ties in push order). Datagrams are
 * copied, so the caller's buffer is free once push returns. */
#ifndef ZDC_CORE_IMPAIR_H
#define ZDC_CORE_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zdc_impair zdc_impair;

typedef struct zdc_impair_config {
    uint64_t seed;             /* same seed, same pushes => same deliveries */
    double loss;               /* probability a datagram is dropped, 0..1 */
    double duplicate;          /* probability a delivered datagram is delivered twice */
    double reorder;            /* probability a datagram is held back by reorder_delay_ns */
    uint64_t delay_ns;         /* base one-way delay */
    uint64_t jitter_ns;        /* uniform extra delay 0..jitter_ns */
    uint64_t reorder_delay_ns; /* extra delay of a reordered datagram (default 5 ms) */
    size_t max_queued;         /* queue bound; datagrams beyond it are dropped (default 4096) */
    size_t max_size;           /* largest datagram accepted (default 65536) */
} zdc_impair_config;

typedef struct zdc_impair_stats {
    uint64_t pushed, delivered, lost, duplicated, reordered, overflowed;
} zdc_impair_stats;

/* A config with no impairment at all (a perfect link with zero delay). */
zdc_impair_config zdc_impair_config_default(void);

/* Returns 0, ZDC_ERR_INVALID_PARAMETER (a probability outside 0..1) or ZDC_ERR_NOMEM. */
int zdc_impair_new(const zdc_impair_config *cfg, zdc_impair **out);
void zdc_impair_free(zdc_impair *l);

/* Offers a datagram at time now_ns. `tag` is returned with it (e.g. which socket it is for).
 * Returns 0 (queued, or lost by the link's dice — see stats), ZDC_ERR_TOO_LARGE (over
 * max_size; not counted as pushed) or ZDC_ERR_NOMEM. */
int zdc_impair_push(zdc_impair *l, const uint8_t *p, size_t len, uint64_t tag, uint64_t now_ns);

/* Takes the next datagram due at or before now_ns into out. Returns 1 and sets *len and *tag;
 * 0 when none is due; ZDC_ERR_BUFFER_TOO_SMALL (the datagram stays queued). */
int zdc_impair_pop(zdc_impair *l, uint64_t now_ns, uint8_t *out, size_t cap, size_t *len,
                   uint64_t *tag);

/* Delivery time of the next queued datagram, or UINT64_MAX when empty. */
uint64_t zdc_impair_next(const zdc_impair *l);

size_t zdc_impair_queued(const zdc_impair *l);
zdc_impair_stats zdc_impair_get_stats(const zdc_impair *l);

#endif /* ZDC_CORE_IMPAIR_H */
