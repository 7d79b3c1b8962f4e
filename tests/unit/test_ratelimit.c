/* ratelimit.c: a bucket lets its burst through at once, then its rate; callers do not share
 * buckets; full buckets are dropped when the table is over its bound; the limit's text. */
#include "server/base/ratelimit.h"
#include "check.h"

#define S 1000000000LL

static void test_burst_then_rate(void)
{
    ratelimit *rl = ratelimit_new(0);
    ratelimit_spec spec = {.rate = 2, .burst = 5};
    int64_t t = 100 * S;
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(ratelimit_take(rl, "AKID", &spec, t), 1);
    CHECK_EQ_INT(ratelimit_take(rl, "AKID", &spec, t), 0);
    /* Half a second brings one token at 2/s; a quarter more brings half of one. */
    CHECK_EQ_INT(ratelimit_take(rl, "AKID", &spec, t + S / 2), 1);
    CHECK_EQ_INT(ratelimit_take(rl, "AKID", &spec, t + S / 2 + S / 4), 0);
    CHECK_EQ_INT(ratelimit_take(rl, "AKID", &spec, t + S), 1);
    /* A long pause fills the bucket up to its burst, not beyond. */
    int ok = 0;
    for (int i = 0; i < 20; i++) ok += ratelimit_take(rl, "AKID", &spec, t + 100 * S);
    CHECK_EQ_INT(ok, 5);
    ratelimit_free(rl);
}

static void test_keys_apart_and_no_limit(void)
{
    ratelimit *rl = ratelimit_new(0);
    ratelimit_spec one = {.rate = 1, .burst = 1}, none = {0};
    CHECK_EQ_INT(ratelimit_take(rl, "a", &one, S), 1);
    CHECK_EQ_INT(ratelimit_take(rl, "a", &one, S), 0);
    CHECK_EQ_INT(ratelimit_take(rl, "b", &one, S), 1);
    for (int i = 0; i < 1000; i++) CHECK_EQ_INT(ratelimit_take(rl, "a", &none, S), 1);
    CHECK_EQ_INT(ratelimit_take(rl, "a", NULL, S), 1);
    /* A limit changed between two requests (a reload) applies to the next one. */
    ratelimit_spec more = {.rate = 1000, .burst = 1000};
    CHECK_EQ_INT(ratelimit_take(rl, "a", &more, S + S / 100), 1);
    ratelimit_free(rl);
}

static void test_full_buckets_are_dropped(void)
{
    ratelimit *rl = ratelimit_new(100);
    ratelimit_spec spec = {.rate = 10, .burst = 10}, slow = {.rate = 1, .burst = 10};
    char key[32];
    for (int i = 0; i < 99; i++) {
        snprintf(key, sizeof key, "10.0.0.%d", i);
        CHECK_EQ_INT(ratelimit_take(rl, key, &spec, S), 1);
    }
    for (int i = 0; i < 15; i++) ratelimit_take(rl, "busy", &slow, S);
    CHECK_EQ_INT(ratelimit_size(rl), 100);
    /* A second later the 99 are full again and "busy" is not: the next new key sweeps the
     * full ones out. */
    CHECK_EQ_INT(ratelimit_take(rl, "new", &spec, 2 * S), 1);
    CHECK_EQ_INT(ratelimit_size(rl), 2);
    CHECK_EQ_INT(ratelimit_take(rl, "busy", &slow, 2 * S), 1);
    CHECK_EQ_INT(ratelimit_take(rl, "busy", &slow, 2 * S), 0);
    ratelimit_free(rl);
}

static void test_parse(void)
{
    ratelimit_spec s;
    char err[200];
    CHECK_EQ_INT(ratelimit_parse("50", &s, err, sizeof err), 0);
    CHECK(s.rate == 50 && s.burst == 50);
    CHECK_EQ_INT(ratelimit_parse("50/s,200", &s, err, sizeof err), 0);
    CHECK(s.rate == 50 && s.burst == 200);
    CHECK_EQ_INT(ratelimit_parse("30/m", &s, err, sizeof err), 0);
    CHECK(s.rate == 0.5 && s.burst == 1);
    CHECK_EQ_INT(ratelimit_parse("0.5", &s, err, sizeof err), 0);
    CHECK(s.rate == 0.5 && s.burst == 1);
    CHECK_EQ_INT(ratelimit_parse("off", &s, err, sizeof err), 0);
    CHECK(s.rate == 0);
    const char *bad[] = {"", "-1", "fast", "10/h", "10,", "10,0", "10,x", "10/s,5,6", "nan",
                         "1e9", NULL};
    for (const char **b = bad; *b; b++) {
        err[0] = '\0';
        if (ratelimit_parse(*b, &s, err, sizeof err) != -1) CHECK_FAIL_("accepted '%s'", *b);
        CHECK(err[0] != '\0');
    }
}

int main(void)
{
    test_burst_then_rate();
    test_keys_apart_and_no_limit();
    test_full_buckets_are_dropped();
    test_parse();
    printf("ratelimit: ok\n");
    return 0;
}
