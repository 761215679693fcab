/* Timers for the engine loop: an intrusive binary min-heap ordered by (deadline, arm order).
 *
 * Arm, re-arm and cancel are O(log n), the next deadline is O(1). Time is always passed in
 * (nanoseconds on any monotonic scale the caller chooses): nothing here reads a clock.
 *
 * zdc_timers_run(ts, now) fires every timer that was armed when the run started and whose
 * deadline is <= now, in deadline order (equal deadlines in the order they were armed). A
 * callback may arm, re-arm or cancel any timer, itself included; a timer armed during a run
 * fires at the earliest in the next run, even if its deadline is <= now (so a callback that
 * re-arms itself for "now" cannot loop forever; zdc_timers_next then reports a deadline
 * <= now). Not thread-safe: one thread owns a zdc_timers and its timers.
 */
#ifndef ZDC_CORE_TIMER_H
#define ZDC_CORE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"

typedef struct zdc_timer zdc_timer;
typedef void (*zdc_timer_cb)(zdc_timer *t, void *arg);

struct zdc_timer {
    uint64_t deadline;   /* valid while armed */
    uint32_t heap_index; /* internal: UINT32_MAX when not armed */
    zdc_timer_cb cb;
    void *arg;
    uint64_t seq; /* internal: arm order, breaks deadline ties */
};

typedef struct zdc_timers {
    zdc_timer **heap;
    uint32_t n, cap;
    /* Timers armed while zdc_timers_run is running; merged into the heap when it returns. */
    zdc_timer **staged;
    uint32_t n_staged, cap_staged;
    uint64_t next_seq;
    bool running;
} zdc_timers;

#define ZDC_TIMER_NOT_ARMED UINT32_MAX

void zdc_timers_init(zdc_timers *ts);
/* Frees the heap; armed timers become unarmed (their memory is the caller's). */
void zdc_timers_clear(zdc_timers *ts);

/* Initializes an unarmed timer. cb must not be NULL. */
void zdc_timer_init(zdc_timer *t, zdc_timer_cb cb, void *arg);
/* Arms t to fire at deadline_ns (re-arms it if already armed).
 * Returns 0 or ZDC_ERR_NOMEM (the heap could not grow; t's state is unchanged). */
int zdc_timer_arm(zdc_timers *ts, zdc_timer *t, uint64_t deadline_ns);
/* Disarms t; a no-op when t is not armed. */
void zdc_timer_cancel(zdc_timers *ts, zdc_timer *t);
bool zdc_timer_armed(const zdc_timer *t);

/* Earliest deadline of an armed timer, UINT64_MAX when none is armed. */
uint64_t zdc_timers_next(const zdc_timers *ts);
size_t zdc_timers_count(const zdc_timers *ts);
/* Fires the due timers (see above) and returns how many fired. Must not be called from a
 * timer callback. */
size_t zdc_timers_run(zdc_timers *ts, uint64_t now_ns);

#endif /* ZDC_CORE_TIMER_H */
