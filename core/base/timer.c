/* Timer heap. heap_index encodes where an armed timer is: below STAGED its slot in the heap,
 * with STAGED set its slot in the staging array (timers armed during zdc_timers_run). */
#include "timer.h"

#include <assert.h>
#include <stdlib.h>

#define STAGED   0x80000000u
#define MAX_HEAP 0x7fffffffu

static bool before(const zdc_timer *a, const zdc_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(zdc_timers *ts, zdc_timer *t, uint32_t i)
{
    ts->heap[i] = t;
    t->heap_index = i;
}

static void sift_up(zdc_timers *ts, uint32_t i)
{
    zdc_timer *t = ts->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!before(t, ts->heap[parent]))
            break;
        place(ts, ts->heap[parent], i);
        i = parent;
    }
    place(ts, t, i);
}

static void sift_down(zdc_timers *ts, uint32_t i)
{
    zdc_timer *t = ts->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= ts->n)
            break;
        if (child + 1 < ts->n && before(ts->heap[child + 1], ts->heap[child]))
            child++;
        if (!before(ts->heap[child], t))
            break;
        place(ts, ts->heap[child], i);
        i = child;
    }
    place(ts, t, i);
}

static void heap_remove(zdc_timers *ts, uint32_t i)
{
    zdc_timer *last = ts->heap[--ts->n];
    if (i < ts->n) {
        place(ts, last, i);
        if (i > 0 && before(last, ts->heap[(i - 1) / 2]))
            sift_up(ts, i);
        else
            sift_down(ts, i);
    }
}

static void heap_insert(zdc_timers *ts, zdc_timer *t)
{
    place(ts, t, ts->n++);
    sift_up(ts, ts->n - 1);
}

static void staged_remove(zdc_timers *ts, uint32_t i)
{
    zdc_timer *last = ts->staged[--ts->n_staged];
    if (i < ts->n_staged) {
        ts->staged[i] = last;
        last->heap_index = STAGED | i;
    }
}

/* Grows *arr to hold at least want entries. */
static int reserve(zdc_timer ***arr, uint32_t *cap, uint32_t want)
{
    if (want <= *cap)
        return 0;
    if (want > MAX_HEAP)
        return ZDC_ERR_NOMEM;
    uint32_t c = *cap ? *cap : 64;
    while (c < want)
        c = c > MAX_HEAP / 2 ? MAX_HEAP : c * 2;
    zdc_timer **a = realloc(*arr, (size_t)c * sizeof *a);
    if (a == NULL)
        return ZDC_ERR_NOMEM;
    *arr = a;
    *cap = c;
    return 0;
}

void zdc_timers_init(zdc_timers *ts)
{
    *ts = (zdc_timers){0};
}

void zdc_timers_clear(zdc_timers *ts)
{
    for (uint32_t i = 0; i < ts->n; i++)
        ts->heap[i]->heap_index = ZDC_TIMER_NOT_ARMED;
    for (uint32_t i = 0; i < ts->n_staged; i++)
        ts->staged[i]->heap_index = ZDC_TIMER_NOT_ARMED;
    free(ts->heap);
    free(ts->staged);
    *ts = (zdc_timers){0};
}

void zdc_timer_init(zdc_timer *t, zdc_timer_cb cb, void *arg)
{
    t->deadline = 0;
    t->heap_index = ZDC_TIMER_NOT_ARMED;
    t->cb = cb;
    t->arg = arg;
    t->seq = 0;
}

bool zdc_timer_armed(const zdc_timer *t)
{
    return t->heap_index != ZDC_TIMER_NOT_ARMED;
}

void zdc_timer_cancel(zdc_timers *ts, zdc_timer *t)
{
    uint32_t i = t->heap_index;
    if (i == ZDC_TIMER_NOT_ARMED)
        return;
    if (i & STAGED)
        staged_remove(ts, i & ~STAGED);
    else
        heap_remove(ts, i);
    t->heap_index = ZDC_TIMER_NOT_ARMED;
}

int zdc_timer_arm(zdc_timers *ts, zdc_timer *t, uint64_t deadline_ns)
{
    /* Room for every armed timer plus t in the heap, so merging the staged timers after a run
     * cannot fail. */
    uint32_t armed = ts->n + ts->n_staged + (zdc_timer_armed(t) ? 0 : 1);
    int rv = reserve(&ts->heap, &ts->cap, armed);
    if (rv == 0 && ts->running)
        rv = reserve(&ts->staged, &ts->cap_staged, ts->n_staged + 1);
    if (rv != 0)
        return rv;

    zdc_timer_cancel(ts, t);
    t->deadline = deadline_ns;
    t->seq = ts->next_seq++;
    if (ts->running) {
        t->heap_index = STAGED | ts->n_staged;
        ts->staged[ts->n_staged++] = t;
    } else {
        heap_insert(ts, t);
    }
    return 0;
}

uint64_t zdc_timers_next(const zdc_timers *ts)
{
    uint64_t next = ts->n ? ts->heap[0]->deadline : UINT64_MAX;
    for (uint32_t i = 0; i < ts->n_staged; i++)
        if (ts->staged[i]->deadline < next)
            next = ts->staged[i]->deadline;
    return next;
}

size_t zdc_timers_count(const zdc_timers *ts)
{
    return (size_t)ts->n + ts->n_staged;
}

size_t zdc_timers_run(zdc_timers *ts, uint64_t now_ns)
{
    size_t fired = 0;
    assert(!ts->running && "zdc_timers_run called from a timer callback");
    ts->running = true;
    while (ts->n > 0 && ts->heap[0]->deadline <= now_ns) {
        zdc_timer *t = ts->heap[0];
        heap_remove(ts, 0);
        t->heap_index = ZDC_TIMER_NOT_ARMED;
        t->cb(t, t->arg);
        fired++;
    }
    ts->running = false;
    for (uint32_t i = 0; i < ts->n_staged; i++)
        heap_insert(ts, ts->staged[i]);
    ts->n_staged = 0;
    return fired;
}
