/* An in-process stand-in for the subset of Criterion that zdc's tests use, for builds where
 * Criterion cannot run: under ThreadSanitizer, Criterion's sandbox library (BoxFort) fails to
 * start ("Could not initialize inheritable arena") because it maps its shared arena with
 * MAP_FIXED at a random address that TSan's memory layout reserves
 * (https://github.com/Snaipe/Criterion/issues/274).
 *
 * A build selects it by putting test/nofork before the system include path. Tests then run in
 * one process, in file order, without fork: the first failed cr_assert_* prints its location
 * and exits with status 1; cr_expect_* failures are counted and fail the run at the end.
 * Tests that expect a signal or an exit code (.signal, .exit_code) need a fork and are
 * skipped. Command-line options (--jobs, --timeout, ...) are accepted and ignored, except
 * --filter SUITE/NAME (a prefix). Timeouts are left to ctest.
 */
#ifndef ZDC_NOFORK_CRITERION_H
#define ZDC_NOFORK_CRITERION_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nofork_test {
    const char *suite_name, *test_name;
    void (*fn)(void);
    /* The Criterion test options the stand-in understands; others must not be used. */
    int signal, exit_code;
    double timeout;
    bool disabled;
    void (*init)(void), (*fini)(void);
    const char *description;
    struct nofork_test *next;
};

static struct nofork_test *nofork_head, **nofork_tail = &nofork_head;
static int nofork_expect_failures;

static inline void nofork_register(struct nofork_test *t)
{
    *nofork_tail = t;
    nofork_tail = &t->next;
}

#define NOFORK_CAT(a, b) a##b
#define Test(suite, name, ...)                                                                     \
    static void NOFORK_CAT(suite##_, name##_impl)(void);                                           \
    static struct nofork_test NOFORK_CAT(suite##_,                                                 \
                                         name##_desc) = {.suite_name = #suite,                     \
                                                         .test_name = #name,                       \
                                                         .fn = NOFORK_CAT(suite##_, name##_impl),  \
                                                         __VA_ARGS__};                             \
    __attribute__((constructor)) static void NOFORK_CAT(suite##_, name##_reg)(void)                \
    {                                                                                              \
        nofork_register(&NOFORK_CAT(suite##_, name##_desc));                                       \
    }                                                                                              \
    static void NOFORK_CAT(suite##_, name##_impl)(void)

#define TestSuite(...) struct nofork_unused_suite

static inline void nofork_check(bool fatal, bool ok, const char *expr, const char *file, int line,
                                const char *fmt, ...)
{
    if (ok)
        return;
    fprintf(stderr, "%s:%d: Assertion failed: %s", file, line, expr);
    if (fmt[0] != '\0') {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    if (fatal) {
        fflush(stderr);
        exit(1);
    }
    nofork_expect_failures++;
}

#define NOFORK_CHECK(fatal, cond, text, ...)                                                       \
    nofork_check(fatal, (cond), text, __FILE__, __LINE__, "" __VA_ARGS__)

#define cr_assert(cond, ...)       NOFORK_CHECK(true, cond, #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...)   NOFORK_CHECK(true, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...)    NOFORK_CHECK(true, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)   NOFORK_CHECK(true, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)    NOFORK_CHECK(true, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)   NOFORK_CHECK(true, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)    NOFORK_CHECK(true, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)   NOFORK_CHECK(true, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...)     NOFORK_CHECK(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) NOFORK_CHECK(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                                                \
    NOFORK_CHECK(true, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...)                                                               \
    NOFORK_CHECK(true, strcmp((a), (b)) != 0, #a " != " #b, __VA_ARGS__)
#define cr_assert_arr_eq(a, b, n, ...)                                                             \
    NOFORK_CHECK(true, memcmp((a), (b), (n)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_arr_neq(a, b, n, ...)                                                            \
    NOFORK_CHECK(true, memcmp((a), (b), (n)) != 0, #a " != " #b, __VA_ARGS__)
#define cr_assert_fail(...) NOFORK_CHECK(true, false, "cr_assert_fail", __VA_ARGS__)

#define cr_expect(cond, ...)       NOFORK_CHECK(false, cond, #cond, __VA_ARGS__)
#define cr_expect_not(cond, ...)   NOFORK_CHECK(false, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_expect_eq(a, b, ...)    NOFORK_CHECK(false, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...)   NOFORK_CHECK(false, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...)    NOFORK_CHECK(false, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...)   NOFORK_CHECK(false, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...)    NOFORK_CHECK(false, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...)   NOFORK_CHECK(false, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_null(p, ...)     NOFORK_CHECK(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) NOFORK_CHECK(false, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...)                                                                \
    NOFORK_CHECK(false, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_expect_arr_eq(a, b, n, ...)                                                             \
    NOFORK_CHECK(false, memcmp((a), (b), (n)) == 0, #a " == " #b, __VA_ARGS__)

#define cr_log_info(...)  (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_log_warn(...)  cr_log_info(__VA_ARGS__)
#define cr_log_error(...) cr_log_info(__VA_ARGS__)
#define cr_skip_test(...)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "skipped: " __VA_ARGS__);                                                  \
        fputc('\n', stderr);                                                                       \
        return;                                                                                    \
    } while (0)

int main(int argc, char **argv)
{
    const char *filter = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
            filter = argv[++i];
    int ran = 0, skipped = 0;
    for (struct nofork_test *t = nofork_head; t; t = t->next) {
        char full[256];
        snprintf(full, sizeof full, "%s/%s", t->suite_name, t->test_name);
        if (filter && strncmp(full, filter, strlen(filter)) != 0)
            continue;
        if (t->disabled || t->signal != 0 || t->exit_code != 0) {
            fprintf(stderr, "[SKIP] %s (needs a fork or is disabled)\n", full);
            skipped++;
            continue;
        }
        fprintf(stderr, "[RUN ] %s\n", full);
        if (t->init)
            t->init();
        t->fn();
        if (t->fini)
            t->fini();
        ran++;
    }
    fprintf(stderr, "[====] nofork: ran %d, skipped %d, failed expectations %d\n", ran, skipped,
            nofork_expect_failures);
    return nofork_expect_failures ? 1 : 0;
}

#endif /* ZDC_NOFORK_CRITERION_H */
