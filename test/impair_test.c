/* Tests for the seeded impairment link. */
#include <criterion/criterion.h>
#include <string.h>

#include "impair.h"
#include "zdc/error.h"

static zdc_impair *make(zdc_impair_config c)
{
    zdc_impair *l = NULL;
    cr_assert_eq(zdc_impair_new(&c, &l), 0);
    return l;
}

Test(impair, perfect_link_delivers_in_order_after_delay)
{
    zdc_impair_config c = zdc_impair_config_default();
    c.delay_ns = 1000;
    zdc_impair *l = make(c);
    for (uint32_t i = 0; i < 100; i++)
        cr_assert_eq(zdc_impair_push(l, (uint8_t *)&i, sizeof i, i, 10), 0);
    uint8_t buf[8];
    size_t len;
    uint64_t tag;
    cr_assert_eq(zdc_impair_pop(l, 1009, buf, sizeof buf, &len, &tag), 0, "not due yet");
    cr_assert_eq(zdc_impair_next(l), 1010);
    for (uint32_t i = 0; i < 100; i++) {
        cr_assert_eq(zdc_impair_pop(l, 1010, buf, sizeof buf, &len, &tag), 1);
        uint32_t v;
        memcpy(&v, buf, 4);
        cr_assert_eq(v, i);
        cr_assert_eq(tag, i);
    }
    cr_assert_eq(zdc_impair_next(l), UINT64_MAX);
    zdc_impair_free(l);
}

/* Pushes n numbered datagrams, one per microsecond, and drains everything. */
static size_t run(zdc_impair_config c, uint32_t n, uint32_t *got, zdc_impair_stats *st)
{
    zdc_impair *l = make(c);
    size_t k = 0;
    uint8_t buf[4];
    size_t len;
    for (uint32_t i = 0; i < n; i++)
        zdc_impair_push(l, (uint8_t *)&i, 4, 0, (uint64_t)i * 1000);
    while (zdc_impair_pop(l, UINT64_MAX, buf, sizeof buf, &len, NULL) == 1)
        memcpy(&got[k++], buf, 4);
    *st = zdc_impair_get_stats(l);
    zdc_impair_free(l);
    return k;
}

Test(impair, loss_duplication_reordering_follow_their_rates_and_replay_by_seed)
{
    enum { N = 20000 };
    static uint32_t a[2 * N], b[2 * N];
    zdc_impair_config c = zdc_impair_config_default();
    c.seed = 42;
    c.loss = 0.10;
    c.duplicate = 0.05;
    c.reorder = 0.10;
    c.reorder_delay_ns = 20000; /* 20 datagrams' worth */
    c.max_queued = 3 * N;
    zdc_impair_stats sa, sb;
    size_t na = run(c, N, a, &sa);
    size_t nb = run(c, N, b, &sb);
    cr_assert_eq(na, nb, "same seed, same result");
    cr_assert_eq(memcmp(a, b, na * 4), 0);
    cr_assert(sa.lost > N * 0.08 && sa.lost < N * 0.12, "lost %llu", (unsigned long long)sa.lost);
    cr_assert(sa.duplicated > N * 0.035 && sa.duplicated < N * 0.065);
    cr_assert_eq(na, N - sa.lost + sa.duplicated);
    size_t inversions = 0;
    for (size_t i = 1; i < na; i++)
        inversions += a[i] < a[i - 1];
    cr_assert_gt(inversions, N / 50, "reordering happened (%zu inversions)", inversions);

    c.seed = 43;
    size_t nc = run(c, N, b, &sb);
    cr_assert(nc != na || memcmp(a, b, na * 4) != 0, "another seed, another pattern");
}

Test(impair, bounds_and_errors)
{
    zdc_impair_config c = zdc_impair_config_default();
    c.loss = 1.5;
    zdc_impair *l = NULL;
    cr_assert_eq(zdc_impair_new(&c, &l), ZDC_ERR_INVALID_PARAMETER);
    c = zdc_impair_config_default();
    c.max_queued = 2;
    c.max_size = 8;
    l = make(c);
    uint8_t big[9] = {0}, out[4];
    size_t len;
    cr_assert_eq(zdc_impair_push(l, big, 9, 0, 0), ZDC_ERR_TOO_LARGE);
    cr_assert_eq(zdc_impair_push(l, big, 8, 0, 0), 0);
    cr_assert_eq(zdc_impair_push(l, big, 1, 0, 0), 0);
    cr_assert_eq(zdc_impair_push(l, big, 1, 0, 0), 0);
    cr_assert_eq(zdc_impair_get_stats(l).overflowed, 1);
    cr_assert_eq(zdc_impair_pop(l, 0, out, sizeof out, &len, NULL), ZDC_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(zdc_impair_queued(l), 2, "a too-small pop loses nothing");
    zdc_impair_free(l); /* frees queued copies: LeakSanitizer checks */
}
