/* Timer heap against a reference model: the input is a program of arm / cancel / run /
 * "set callback action" operations on 32 timers; callbacks arm, re-arm or cancel other timers
 * (or themselves) while the heap is running them. After every operation the heap and the
 * model must agree on which timers fired and in what order, which are armed, their deadlines
 * and the next deadline. Any disagreement aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "timer.h"

#define N 32

enum action { ACT_NONE, ACT_ARM_OTHER, ACT_CANCEL_OTHER, ACT_REARM_SELF };

struct model {
    bool armed;
    uint64_t deadline, seq;
    enum action act;
    uint8_t target;
    uint64_t act_deadline;
};

static zdc_timers ts;
static zdc_timer timers[N];
static struct model m[N];
static uint64_t next_seq;
static int fired_real[4 * N], n_fired_real;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void model_arm(int i, uint64_t deadline)
{
    m[i].armed = true;
    m[i].deadline = deadline;
    m[i].seq = next_seq++;
}

/* The action of timer i's callback, applied to the real heap (real = true) or the model. */
static void apply(int i, bool real)
{
    int j = m[i].target % N;
    switch (m[i].act) {
    case ACT_ARM_OTHER:
        if (real)
            check(zdc_timer_arm(&ts, &timers[j], m[i].act_deadline) == 0);
        else
            model_arm(j, m[i].act_deadline);
        break;
    case ACT_CANCEL_OTHER:
        if (real)
            zdc_timer_cancel(&ts, &timers[j]);
        else
            m[j].armed = false;
        break;
    case ACT_REARM_SELF:
        if (real)
            check(zdc_timer_arm(&ts, &timers[i], m[i].act_deadline) == 0);
        else
            model_arm(i, m[i].act_deadline);
        break;
    default:
        break;
    }
}

static void on_fire(zdc_timer *t, void *arg)
{
    int i = (int)(intptr_t)arg;
    check(t == &timers[i]);
    check(!zdc_timer_armed(t));
    check(n_fired_real < 4 * N);
    fired_real[n_fired_real++] = i;
    apply(i, true);
}

/* Model of zdc_timers_run: timers armed before the run, due by now, in (deadline, seq)
 * order; timers armed during the run wait for the next one. */
static void model_run(uint64_t now, int *fired, int *n_fired)
{
    uint64_t start_seq = next_seq;
    *n_fired = 0;
    for (;;) {
        int best = -1;
        for (int i = 0; i < N; i++) {
            if (!m[i].armed || m[i].seq >= start_seq || m[i].deadline > now)
                continue;
            if (best < 0 || m[i].deadline < m[best].deadline ||
                (m[i].deadline == m[best].deadline && m[i].seq < m[best].seq))
                best = i;
        }
        if (best < 0)
            return;
        m[best].armed = false;
        fired[(*n_fired)++] = best;
        apply(best, false);
    }
}

static void compare(void)
{
    uint64_t next = UINT64_MAX;
    size_t armed = 0;
    for (int i = 0; i < N; i++) {
        check(zdc_timer_armed(&timers[i]) == m[i].armed);
        if (!m[i].armed)
            continue;
        armed++;
        check(timers[i].deadline == m[i].deadline);
        if (m[i].deadline < next)
            next = m[i].deadline;
    }
    check(zdc_timers_count(&ts) == armed);
    check(zdc_timers_next(&ts) == next);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zdc_timers_init(&ts);
    next_seq = 0;
    for (int i = 0; i < N; i++) {
        zdc_timer_init(&timers[i], on_fire, (void *)(intptr_t)i);
        m[i] = (struct model){0};
    }
    size_t off = 0;
    while (size - off >= 3) {
        uint8_t op = data[off], a = data[off + 1], b = data[off + 2];
        off += 3;
        int i = a % N;
        /* Deadlines in a small range so that ties are frequent. */
        uint64_t deadline = b;
        switch (op % 4) {
        case 0:
            check(zdc_timer_arm(&ts, &timers[i], deadline) == 0);
            model_arm(i, deadline);
            break;
        case 1:
            zdc_timer_cancel(&ts, &timers[i]);
            m[i].armed = false;
            break;
        case 2: {
            int fired_model[4 * N], n_model;
            n_fired_real = 0;
            uint64_t now = op & 0x80 ? UINT64_MAX - 1 : deadline;
            size_t n = zdc_timers_run(&ts, now);
            model_run(now, fired_model, &n_model);
            check(n == (size_t)n_fired_real && n_model == n_fired_real);
            for (int k = 0; k < n_model; k++)
                check(fired_model[k] == fired_real[k]);
            break;
        }
        default:
            m[i].act = (enum action)((op >> 2) % 4);
            m[i].target = (uint8_t)(op >> 4);
            m[i].act_deadline = deadline;
            break;
        }
        compare();
    }
    zdc_timers_clear(&ts);
    for (int i = 0; i < N; i++)
        check(!zdc_timer_armed(&timers[i]));
    return 0;
}
