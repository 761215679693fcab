/* Tests for the tests' fake clock (test/support/fakeclock.h). */
#include <criterion/criterion.h>

#include "fakeclock.h"

#define MS  1000000ull
#define SEC 1000000000ull

Test(fakeclock, simulated_moves_only_when_advanced)
{
    zdc_fakeclock c;
    zdc_fakeclock_init(&c, ZDC_FAKECLOCK_SIMULATED, 5 * SEC);
    cr_assert_eq(zdc_fakeclock_now(&c), 5 * SEC);
    /* real time passing changes nothing */
    uint64_t w0 = zdc_fakeclock_wall_ns();
    while (zdc_fakeclock_wall_ns() - w0 < 2 * MS)
        ;
    cr_assert_eq(zdc_fakeclock_now(&c), 5 * SEC);
    zdc_fakeclock_advance(&c, 250 * MS);
    cr_assert_eq(zdc_fakeclock_now(&c), 5 * SEC + 250 * MS);
    cr_assert_eq(zdc_fakeclock_jumped(&c), 250 * MS);
}

Test(fakeclock, advance_to_jumps_exactly_and_never_back)
{
    zdc_fakeclock c;
    zdc_fakeclock_init(&c, ZDC_FAKECLOCK_SIMULATED, 1000);
    cr_assert_eq(zdc_fakeclock_advance_to(&c, 1500), 500);
    cr_assert_eq(zdc_fakeclock_now(&c), 1500);
    cr_assert_eq(zdc_fakeclock_advance_to(&c, 1200), 0, "a past deadline");
    cr_assert_eq(zdc_fakeclock_advance_to(&c, 1500), 0, "the present");
    cr_assert_eq(zdc_fakeclock_advance_to(&c, UINT64_MAX), 0, "no deadline");
    cr_assert_eq(zdc_fakeclock_now(&c), 1500);
    cr_assert_eq(zdc_fakeclock_jumped(&c), 500);
}

Test(fakeclock, simulated_sleep_jumps_up_to_the_cap)
{
    zdc_fakeclock c;
    zdc_fakeclock_init(&c, ZDC_FAKECLOCK_SIMULATED, 0);
    uint64_t w0 = zdc_fakeclock_wall_ns();
    cr_assert_eq(zdc_fakeclock_sleep_until(&c, 10 * SEC, 3 * SEC), 3 * SEC, "capped");
    cr_assert_eq(zdc_fakeclock_now(&c), 3 * SEC);
    cr_assert_eq(zdc_fakeclock_sleep_until(&c, 10 * SEC, UINT64_MAX), 7 * SEC);
    cr_assert_eq(zdc_fakeclock_now(&c), 10 * SEC);
    cr_assert_eq(zdc_fakeclock_sleep_until(&c, 9 * SEC, SEC), 0);
    cr_assert_lt(zdc_fakeclock_wall_ns() - w0, SEC, "10 s passed without sleeping");
}

Test(fakeclock, real_follows_the_monotonic_clock_plus_jumps)
{
    zdc_fakeclock c;
    uint64_t w0 = zdc_fakeclock_wall_ns();
    zdc_fakeclock_init(&c, ZDC_FAKECLOCK_REAL, 0);
    uint64_t t0 = zdc_fakeclock_now(&c);
    uint64_t w1 = zdc_fakeclock_wall_ns();
    cr_assert(t0 >= w0 && t0 <= w1, "starts at the monotonic clock");
    /* it moves by itself */
    while (zdc_fakeclock_wall_ns() - w1 < 3 * MS)
        ;
    uint64_t t1 = zdc_fakeclock_now(&c);
    cr_assert_geq(t1 - t0, 3 * MS);
    /* a jump adds to it, and real time keeps flowing underneath */
    zdc_fakeclock_advance(&c, 30 * SEC);
    uint64_t t2 = zdc_fakeclock_now(&c);
    cr_assert_geq(t2 - t1, 30 * SEC);
    cr_assert_lt(t2 - t1, 31 * SEC);
    cr_assert_eq(zdc_fakeclock_jumped(&c), 30 * SEC);
    /* now = monotonic + jumps (less the moment between the two readings: a loaded machine
     * may stall us there, hence the second of slack) */
    uint64_t ahead = zdc_fakeclock_now(&c) - zdc_fakeclock_wall_ns();
    cr_assert(ahead > 29 * SEC && ahead <= 30 * SEC + 10 * MS, "ahead by %llu ns",
              (unsigned long long)ahead);
    /* advance_to lands on the deadline or, if real time moved on meanwhile, just past it */
    uint64_t dl = zdc_fakeclock_now(&c) + 5 * SEC;
    uint64_t j = zdc_fakeclock_advance_to(&c, dl);
    cr_assert(j > 4 * SEC && j <= 5 * SEC, "jumped %llu", (unsigned long long)j);
    cr_assert_geq(zdc_fakeclock_now(&c), dl);
    cr_assert_lt(zdc_fakeclock_now(&c), dl + SEC);
}

Test(fakeclock, real_start_offset_and_sleep_take_wall_time)
{
    zdc_fakeclock c;
    zdc_fakeclock_init(&c, ZDC_FAKECLOCK_REAL, 100 * SEC);
    uint64_t ahead = zdc_fakeclock_now(&c) - zdc_fakeclock_wall_ns();
    cr_assert(ahead > 99 * SEC && ahead <= 100 * SEC, "ahead by %llu ns",
              (unsigned long long)ahead);
    cr_assert_eq(zdc_fakeclock_jumped(&c), 0, "the start is not a jump");
    uint64_t t0 = zdc_fakeclock_now(&c), w0 = zdc_fakeclock_wall_ns();
    /* a REAL sleep waits out the wall clock (capped), and jumps nothing */
    uint64_t slept = zdc_fakeclock_sleep_until(&c, t0 + 10 * SEC, 5 * MS);
    cr_assert_geq(slept, 5 * MS);
    cr_assert_geq(zdc_fakeclock_wall_ns() - w0, 5 * MS, "really slept");
    cr_assert_lt(slept, SEC);
    cr_assert_eq(zdc_fakeclock_jumped(&c), 0);
    uint64_t t1 = zdc_fakeclock_now(&c);
    cr_assert_eq(zdc_fakeclock_sleep_until(&c, t1 - MS, SEC), 0, "a past deadline: no sleep");
}

Test(fakeclock, never_goes_backwards)
{
    zdc_fakeclock c;
    zdc_fakeclock_init(&c, ZDC_FAKECLOCK_REAL, 0);
    uint64_t prev = zdc_fakeclock_now(&c);
    for (int i = 0; i < 10000; i++) {
        if (i % 1000 == 0)
            zdc_fakeclock_advance(&c, MS);
        uint64_t t = zdc_fakeclock_now(&c);
        cr_assert_geq(t, prev);
        prev = t;
    }
    cr_assert_geq(zdc_fakeclock_jumped(&c), 10 * MS);
}
