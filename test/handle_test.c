#include <criterion/criterion.h>

#include "handle.h"
#include "zdc/error.h"

Test(handle, add_get_remove_and_stale_ids_are_gone)
{
    zdc_handles t;
    zdc_handles_init(&t);
    int a = 1, b = 2;
    uint64_t ia, ib, ic;
    cr_assert_eq(zdc_handles_add(&t, &a, 1, &ia), 0);
    cr_assert_eq(zdc_handles_add(&t, &b, 2, &ib), 0);
    cr_assert_neq(ia, 0);
    cr_assert_neq(ia, ib);
    cr_assert_eq(zdc_handles_get(&t, ia, 1), &a);
    cr_assert_null(zdc_handles_get(&t, ia, 2), "wrong type answers gone");
    cr_assert_eq(zdc_handles_remove(&t, ia), 0);
    cr_assert_null(zdc_handles_get(&t, ia, 1));
    cr_assert_eq(zdc_handles_remove(&t, ia), ZDC_ERR_GONE);
    /* The slot is reused with a new generation: the old id stays gone. */
    cr_assert_eq(zdc_handles_add(&t, &b, 1, &ic), 0);
    cr_assert_eq(ic & 0xffffffffu, ia & 0xffffffffu, "same slot");
    cr_assert_neq(ic, ia);
    cr_assert_null(zdc_handles_get(&t, ia, 1));
    cr_assert_eq(zdc_handles_get(&t, ic, 1), &b);
    cr_assert_null(zdc_handles_get(&t, 0, 1));
    cr_assert_null(zdc_handles_get(&t, 0xffffffff00000000ull | 999999, 1));
    cr_assert_eq(zdc_handles_count(&t), 2);
    zdc_handles_clear(&t);
}

Test(handle, grows_and_recycles_many)
{
    zdc_handles t;
    zdc_handles_init(&t);
    enum { N = 10000 };
    static uint64_t ids[N];
    static int objs[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            cr_assert_eq(zdc_handles_add(&t, &objs[i], 7, &ids[i]), 0);
        for (int i = 0; i < N; i++)
            cr_assert_eq(zdc_handles_get(&t, ids[i], 7), &objs[i]);
        for (int i = 0; i < N; i += 2)
            cr_assert_eq(zdc_handles_remove(&t, ids[i]), 0);
        for (int i = 1; i < N; i += 2)
            cr_assert_eq(zdc_handles_remove(&t, ids[i]), 0);
        for (int i = 0; i < N; i++)
            cr_assert_null(zdc_handles_get(&t, ids[i], 7));
        cr_assert_eq(zdc_handles_count(&t), 0);
    }
    cr_assert_leq(t.cap, 16384, "slots are reused, not leaked");
    zdc_handles_clear(&t);
}
