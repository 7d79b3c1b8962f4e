/* check — the unit tests' assertions.
 *
 * Each test binary is its own process: the first failed check prints where it failed and what
 * it saw, and exits non-zero, so `make unit` stops on it.  The macros are typed so that a
 * failure shows both values, not just "assertion failed". */
#ifndef BARGE_TEST_CHECK_H
#define BARGE_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_FAIL_(...)                                                                      \
    do {                                                                                      \
        fprintf(stderr, "%s:%d: check failed: ", __FILE__, __LINE__);                         \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        exit(1);                                                                              \
    } while (0)

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) CHECK_FAIL_("%s", #cond);                                                \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                    \
    do {                                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                                   \
        if (a_ != b_) CHECK_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                  \
    } while (0)

/* Equal strings; NULL equals only NULL. */
#define CHECK_STR(a, b)                                                                       \
    do {                                                                                      \
        const char *a_ = (a), *b_ = (b);                                                      \
        if ((a_ == NULL) != (b_ == NULL) || (a_ && strcmp(a_, b_) != 0))                      \
            CHECK_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",             \
                        b_ ? b_ : "(null)");                                                  \
    } while (0)

/* hay holds needle: how the tests check that an error message names its field. */
#define CHECK_CONTAINS(hay, needle)                                                           \
    do {                                                                                      \
        const char *h_ = (hay), *n_ = (needle);                                               \
        if (!h_ || !strstr(h_, n_))                                                           \
            CHECK_FAIL_("%s contains \"%s\": got \"%s\"", #hay, n_, h_ ? h_ : "(null)");      \
    } while (0)

/* Runs one test function and names it, so a failure's output says which test was running. */
#define RUN(fn)                                                                               \
    do {                                                                                      \
        fprintf(stderr, "  %s\n", #fn);                                                       \
        fn();                                                                                 \
    } while (0)
#endif
