/* Timer heap: ordering, cancel, re-arm, callbacks that arm and cancel, random reference. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "timer.h"

/* Records the order timers fire in. */
static zdc_timer *fired[256];
static size_t n_fired;

static void record(zdc_timer *t, void *arg)
{
    (void)arg;
    if (n_fired < 256)
        fired[n_fired] = t;
    n_fired++;
}

static void reset_record(void)
{
    n_fired = 0;
}

Test(timer, empty)
{
    zdc_timers ts;
    zdc_timers_init(&ts);
    cr_assert_eq(zdc_timers_next(&ts), UINT64_MAX);
    cr_assert_eq(zdc_timers_run(&ts, UINT64_MAX), 0);
    cr_assert_eq(zdc_timers_count(&ts), 0);
    zdc_timers_clear(&ts);
}

Test(timer, fires_in_deadline_order_ties_by_arm_order)
{
    zdc_timers ts;
    zdc_timer t[6];
    uint64_t dl[6] = {50, 10, 30, 10, 20, 70};
    zdc_timers_init(&ts);
    reset_record();
    for (int i = 0; i < 6; i++) {
        zdc_timer_init(&t[i], record, NULL);
        cr_assert_not(zdc_timer_armed(&t[i]));
        cr_assert_eq(zdc_timer_arm(&ts, &t[i], dl[i]), 0);
        cr_assert(zdc_timer_armed(&t[i]));
    }
    cr_assert_eq(zdc_timers_next(&ts), 10);
    cr_assert_eq(zdc_timers_run(&ts, 9), 0, "nothing due before 10");
    cr_assert_eq(zdc_timers_run(&ts, 30), 4, "deadline <= now fires");
    cr_assert_eq(n_fired, 4);
    cr_assert_eq(fired[0], &t[1]);
    cr_assert_eq(fired[1], &t[3], "equal deadlines in arm order");
    cr_assert_eq(fired[2], &t[4]);
    cr_assert_eq(fired[3], &t[2]);
    cr_assert_not(zdc_timer_armed(&t[1]));
    cr_assert_eq(zdc_timers_next(&ts), 50);
    cr_assert_eq(zdc_timers_count(&ts), 2);
    cr_assert_eq(zdc_timers_run(&ts, 1000), 2);
    cr_assert_eq(fired[4], &t[0]);
    cr_assert_eq(fired[5], &t[5]);
    cr_assert_eq(zdc_timers_next(&ts), UINT64_MAX);
    zdc_timers_clear(&ts);
}

Test(timer, cancel_and_rearm)
{
    zdc_timers ts;
    zdc_timer a, b, c;
    zdc_timers_init(&ts);
    reset_record();
    zdc_timer_init(&a, record, NULL);
    zdc_timer_init(&b, record, NULL);
    zdc_timer_init(&c, record, NULL);
    zdc_timer_cancel(&ts, &a); /* not armed: no-op */
    zdc_timer_arm(&ts, &a, 100);
    zdc_timer_arm(&ts, &b, 200);
    zdc_timer_arm(&ts, &c, 300);
    zdc_timer_cancel(&ts, &a);
    cr_assert_not(zdc_timer_armed(&a));
    cr_assert_eq(zdc_timers_next(&ts), 200);
    zdc_timer_cancel(&ts, &a);
    cr_assert_eq(zdc_timers_count(&ts), 2);

    zdc_timer_arm(&ts, &c, 150); /* re-arm earlier */
    cr_assert_eq(zdc_timers_next(&ts), 150);
    zdc_timer_arm(&ts, &c, 250); /* and later again */
    cr_assert_eq(zdc_timers_next(&ts), 200);
    cr_assert_eq(zdc_timers_count(&ts), 2, "re-arming does not duplicate");
    cr_assert_eq(zdc_timers_run(&ts, 260), 2);
    cr_assert_eq(fired[0], &b);
    cr_assert_eq(fired[1], &c);
    cr_assert_eq(c.deadline, 250);
    zdc_timers_clear(&ts);
}

/* Callbacks that act on other timers. */
struct scene {
    zdc_timers ts;
    zdc_timer a, b, c, d, self;
    int self_count;
};

static void a_cancels_b_and_arms_d(zdc_timer *t, void *arg)
{
    struct scene *s = arg;
    record(t, NULL);
    zdc_timer_cancel(&s->ts, &s->b);
    zdc_timer_arm(&s->ts, &s->d, 5); /* in the past: fires on the next run, not this one */
}

static void rearm_self(zdc_timer *t, void *arg)
{
    struct scene *s = arg;
    record(t, NULL);
    if (++s->self_count < 3)
        zdc_timer_arm(&s->ts, t, t->deadline); /* "again now": must not loop within one run */
}

Test(timer, callbacks_arm_and_cancel_others)
{
    static struct scene s;
    zdc_timers_init(&s.ts);
    reset_record();
    zdc_timer_init(&s.a, a_cancels_b_and_arms_d, &s);
    zdc_timer_init(&s.b, record, NULL);
    zdc_timer_init(&s.c, record, NULL);
    zdc_timer_init(&s.d, record, NULL);
    zdc_timer_init(&s.self, rearm_self, &s);
    zdc_timer_arm(&s.ts, &s.a, 10);
    zdc_timer_arm(&s.ts, &s.b, 20); /* due, but cancelled by a */
    zdc_timer_arm(&s.ts, &s.c, 30);
    zdc_timer_arm(&s.ts, &s.self, 15);

    cr_assert_eq(zdc_timers_run(&s.ts, 40), 3);
    cr_assert_eq(fired[0], &s.a);
    cr_assert_eq(fired[1], &s.self);
    cr_assert_eq(fired[2], &s.c);
    cr_assert_not(zdc_timer_armed(&s.b));
    cr_assert(zdc_timer_armed(&s.d));
    cr_assert(zdc_timer_armed(&s.self));
    cr_assert_eq(zdc_timers_next(&s.ts), 5, "d was armed in the past");

    cr_assert_eq(zdc_timers_run(&s.ts, 40), 2);
    cr_assert_eq(fired[3], &s.d);
    cr_assert_eq(fired[4], &s.self);
    cr_assert_eq(zdc_timers_run(&s.ts, 40), 1);
    cr_assert_eq(fired[5], &s.self);
    cr_assert_eq(s.self_count, 3);
    cr_assert_eq(zdc_timers_next(&s.ts), UINT64_MAX);
    zdc_timers_clear(&s.ts);
}

/* A callback cancels a timer that was armed during the same run (still staged). */
static void arm_then_cancel(zdc_timer *t, void *arg)
{
    struct scene *s = arg;
    zdc_timer_arm(&s->ts, &s->b, 1);
    zdc_timer_arm(&s->ts, &s->c, 2);
    zdc_timer_arm(&s->ts, &s->d, 3);
    cr_assert_eq(zdc_timers_next(&s->ts), 1, "staged timers count for next");
    zdc_timer_cancel(&s->ts, &s->b);
    zdc_timer_arm(&s->ts, &s->c, 4); /* re-arm while staged */
}

Test(timer, cancel_staged_timer)
{
    static struct scene s;
    zdc_timers_init(&s.ts);
    reset_record();
    zdc_timer_init(&s.a, arm_then_cancel, &s);
    zdc_timer_init(&s.b, record, NULL);
    zdc_timer_init(&s.c, record, NULL);
    zdc_timer_init(&s.d, record, NULL);
    zdc_timer_arm(&s.ts, &s.a, 0);
    cr_assert_eq(zdc_timers_run(&s.ts, 0), 1);
    cr_assert_eq(zdc_timers_count(&s.ts), 2);
    cr_assert_not(zdc_timer_armed(&s.b));
    cr_assert_eq(zdc_timers_run(&s.ts, 10), 2);
    cr_assert_eq(n_fired, 2);
    cr_assert_eq(fired[0], &s.d);
    cr_assert_eq(fired[1], &s.c);
    zdc_timers_clear(&s.ts);
}

Test(timer, destroy_disarms)
{
    zdc_timers ts;
    zdc_timer a;
    zdc_timers_init(&ts);
    zdc_timer_init(&a, record, NULL);
    zdc_timer_arm(&ts, &a, 1);
    zdc_timers_clear(&ts);
    cr_assert_not(zdc_timer_armed(&a));
}

/* 100k timers with random deadlines; random re-arms and cancels; all fired in the order of a
 * sorted reference (deadline, then arm order), checked in several partial runs. */
enum { N_RANDOM = 100000 };

struct rt {
    zdc_timer t;
    uint64_t seq; /* arm order as the reference sees it */
    bool live;
};

static struct rt *rts;
static size_t out_pos;
static struct rt **expect;
static bool order_ok = true;

static void check_order(zdc_timer *t, void *arg)
{
    struct rt *r = arg;
    (void)t;
    if (expect[out_pos] != r)
        order_ok = false;
    r->live = false;
    out_pos++;
}

static int by_deadline_seq(const void *x, const void *y)
{
    const struct rt *a = *(struct rt *const *)x, *b = *(struct rt *const *)y;
    if (a->t.deadline != b->t.deadline)
        return a->t.deadline < b->t.deadline ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

Test(timer, random_100k_against_sorted_reference, .timeout = 120)
{
    zdc_timers ts;
    zdc_timers_init(&ts);
    rts = calloc(N_RANDOM, sizeof *rts);
    expect = calloc(N_RANDOM, sizeof *expect);
    uint64_t seq = 0;
    for (size_t i = 0; i < N_RANDOM; i++) {
        zdc_timer_init(&rts[i].t, check_order, &rts[i]);
        /* Small deadline range so many ties occur. */
        cr_assert_eq(zdc_timer_arm(&ts, &rts[i].t, next_rand() % 50000), 0);
        rts[i].seq = seq++;
        rts[i].live = true;
    }
    /* Churn: re-arm a third, cancel a tenth. */
    for (size_t k = 0; k < N_RANDOM / 3; k++) {
        struct rt *r = &rts[next_rand() % N_RANDOM];
        zdc_timer_arm(&ts, &r->t, next_rand() % 50000);
        r->seq = seq++;
        r->live = true;
    }
    for (size_t k = 0; k < N_RANDOM / 10; k++) {
        struct rt *r = &rts[next_rand() % N_RANDOM];
        zdc_timer_cancel(&ts, &r->t);
        r->live = false;
    }
    size_t n_live = 0;
    for (size_t i = 0; i < N_RANDOM; i++)
        if (rts[i].live)
            expect[n_live++] = &rts[i];
    qsort(expect, n_live, sizeof *expect, by_deadline_seq);
    cr_assert_eq(zdc_timers_count(&ts), n_live);
    cr_assert_eq(zdc_timers_next(&ts), expect[0]->t.deadline);

    /* Run in steps; after each, the next deadline is the reference's next. */
    out_pos = 0;
    for (uint64_t now = 0; now < 50000; now += 997) {
        size_t before = out_pos;
        size_t n = zdc_timers_run(&ts, now);
        cr_assert_eq(n, out_pos - before);
        cr_assert(order_ok, "wrong order before position %zu", out_pos);
        for (size_t i = before; i < out_pos; i++)
            cr_assert_leq(expect[i]->t.deadline, now);
        if (out_pos < n_live) {
            cr_assert_gt(expect[out_pos]->t.deadline, now);
            cr_assert_eq(zdc_timers_next(&ts), expect[out_pos]->t.deadline);
        }
    }
    zdc_timers_run(&ts, UINT64_MAX);
    cr_assert(order_ok);
    cr_assert_eq(out_pos, n_live, "every live timer fired exactly once");
    cr_assert_eq(zdc_timers_count(&ts), 0);
    for (size_t i = 0; i < N_RANDOM; i++)
        cr_assert_not(rts[i].live);
    zdc_timers_clear(&ts);
    free(rts);
    free(expect);
}
