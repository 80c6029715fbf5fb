/* wg_test.h: the tiny assertion kit every test program uses.
 *
 *   CHECK(cond, fmt, ...)        counts a failure and prints file:line and the message
 *   CHECK_NEAR(got, want, tol)   |got - want| <= tol, NaN never passes
 *   CHECK_STR(got, want)         strings equal (NULL-safe)
 *   return wg_test_done("name");  prints "name: N checks, M failed", exit status
 */
#ifndef WG_TEST_H
#define WG_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int wg_test_checks, wg_test_failures;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        wg_test_checks++;                                                   \
        if (!(cond)) {                                                      \
            wg_test_failures++;                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

#define CHECK_NEAR(got, want, tol)                                                             \
    do {                                                                                       \
        double g_ = (double)(got), w_ = (double)(want), t_ = (double)(tol);                    \
        CHECK(fabs(g_ - w_) <= t_, "%s = %.17g, want %.17g (tol %g)", #got, g_, w_, t_);        \
    } while (0)

#define CHECK_STR(got, want)                                                                   \
    do {                                                                                       \
        const char *g_ = (got), *w_ = (want);                                                  \
        CHECK(g_ && w_ && strcmp(g_, w_) == 0, "%s = \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", \
              w_ ? w_ : "(null)");                                                             \
    } while (0)

static inline int wg_test_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, wg_test_checks, wg_test_failures);
    return wg_test_failures ? 1 : (wg_test_checks ? 0 : 1); /* no checks is a failure too */
}

#endif
