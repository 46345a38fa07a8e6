/*
 * ttp_test.h — the tiny assertion layer every test executable uses.
 * A failed check prints where and why and counts; main returns ttp_test_end().
 * Tests exit 77 (ctest SKIP_RETURN_CODE) when a needed device is absent.
 */
#ifndef TTP_TEST_H
#define TTP_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int ttp_test_failures = 0;
static int ttp_test_checks = 0;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        ttp_test_checks++;                                                                                   \
        if (!(cond)) {                                                                                       \
            ttp_test_failures++;                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                  \
        }                                                                                                    \
    } while (0)

/* |a − b| <= atol + rtol·|b| : absolute term for values near zero, relative otherwise. */
#define CHECK_CLOSE(a, b, atol, rtol)                                                                        \
    do {                                                                                                     \
        double ta_ = (a), tb_ = (b);                                                                         \
        ttp_test_checks++;                                                                                   \
        if (!(fabs(ta_ - tb_) <= (atol) + (rtol)*fabs(tb_))) {                                               \
            ttp_test_failures++;                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s = %.17g vs %s = %.17g (atol %g, rtol %g)\n", __FILE__, __LINE__, \
                    #a, ta_, #b, tb_, (double)(atol), (double)(rtol));                                       \
        }                                                                                                    \
    } while (0)

/* A ttp call that must succeed; prints the context's message otherwise. */
#define CHECK_OK(ctx, expr)                                                                                  \
    do {                                                                                                     \
        ttp_test_checks++;                                                                                   \
        ttp_status s_ = (expr);                                                                              \
        if (s_ != TTP_OK) {                                                                                  \
            ttp_test_failures++;                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s -> %s: %s\n%s", __FILE__, __LINE__, #expr, ttp_status_str(s_),   \
                    (ctx)->msg, (ctx)->trace);                                                               \
            ttp_error_clear(ctx);                                                                            \
        }                                                                                                    \
    } while (0)

/* A ttp call that must fail with `code` and a message containing `needle`. */
#define CHECK_FAILS(ctx, expr, code, needle)                                                                 \
    do {                                                                                                     \
        ttp_test_checks++;                                                                                   \
        ttp_status s_ = (expr);                                                                              \
        if (s_ != (code) || strstr((ctx)->msg, (needle)) == NULL) {                                          \
            ttp_test_failures++;                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s -> %s '%s', expected %s containing '%s'\n", __FILE__, __LINE__,  \
                    #expr, ttp_status_str(s_), (ctx)->msg, ttp_status_str(code), (needle));                  \
        }                                                                                                    \
        ttp_error_clear(ctx);                                                                                \
    } while (0)

static inline int ttp_test_end(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, ttp_test_checks, ttp_test_failures);
    return ttp_test_failures ? 1 : 0;
}

#endif /* TTP_TEST_H */
