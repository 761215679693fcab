/* The fake clock of the tests (fakeclock.h). */
#include "fakeclock.h"

#include <time.h>

uint64_t zdc_fakeclock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t raw_now(const zdc_fakeclock *c)
{
    uint64_t base = c->mode == ZDC_FAKECLOCK_REAL ? zdc_fakeclock_wall_ns() : 0;
    return base + c->start + c->offset;
}

void zdc_fakeclock_init(zdc_fakeclock *c, int mode, uint64_t start_ns)
{
    c->mode = mode;
    c->start = start_ns;
    c->offset = 0;
    c->last = raw_now(c);
}

uint64_t zdc_fakeclock_now(zdc_fakeclock *c)
{
    uint64_t t = raw_now(c);
    if (t > c->last)
        c->last = t;
    return c->last;
}

void zdc_fakeclock_advance(zdc_fakeclock *c, uint64_t ns)
{
    c->offset += ns;
    (void)zdc_fakeclock_now(c);
}

uint64_t zdc_fakeclock_advance_to(zdc_fakeclock *c, uint64_t deadline)
{
    uint64_t now = zdc_fakeclock_now(c);
    if (deadline == UINT64_MAX || deadline <= now)
        return 0;
    zdc_fakeclock_advance(c, deadline - now);
    return deadline - now;
}

uint64_t zdc_fakeclock_sleep_until(zdc_fakeclock *c, uint64_t deadline, uint64_t max_ns)
{
    uint64_t now = zdc_fakeclock_now(c);
    if (deadline == UINT64_MAX || deadline <= now)
        return 0;
    uint64_t w = deadline - now < max_ns ? deadline - now : max_ns;
    if (c->mode != ZDC_FAKECLOCK_REAL) {
        zdc_fakeclock_advance(c, w);
        return w;
    }
    struct timespec ts = {(time_t)(w / 1000000000u), (long)(w % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0)
        ; /* EINTR: sleep the rest */
    return zdc_fakeclock_now(c) - now;
}

uint64_t zdc_fakeclock_jumped(const zdc_fakeclock *c)
{
    return c->offset;
}
