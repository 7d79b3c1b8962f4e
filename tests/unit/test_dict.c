/* dict.c: the string-keyed hash table under the job index and the fleet. */
#include <stdint.h>

#include "common/dict.h"
#include "check.h"

static void test_basic(void)
{
    dict d;
    dict_init(&d);
    /* An empty table answers without allocating. */
    CHECK(dict_get(&d, "a") == NULL);
    CHECK(dict_del(&d, "a") == NULL);
    size_t i = 0;
    const char *k;
    void *v;
    CHECK(!dict_next(&d, &i, &k, &v));

    int one = 1, two = 2, three = 3;
    CHECK(dict_put(&d, "one", &one) == NULL);
    CHECK(dict_put(&d, "two", &two) == NULL);
    CHECK(dict_get(&d, "one") == &one);
    CHECK(dict_get(&d, "two") == &two);
    CHECK(dict_get(&d, "three") == NULL);
    CHECK_EQ_INT(d.len, 2);
    /* Replacing returns the previous value and keeps the count; the new key pointer is kept,
     * since a key lives in its value. */
    char key[] = "one";
    CHECK(dict_put(&d, key, &three) == &one);
    CHECK_EQ_INT(d.len, 2);
    CHECK(dict_get(&d, "one") == &three);
    i = 0;
    int seen_key = 0;
    while (dict_next(&d, &i, &k, &v)) seen_key |= k == key;
    CHECK(seen_key);
    /* Delete, and delete again. */
    CHECK(dict_del(&d, "one") == &three);
    CHECK(dict_del(&d, "one") == NULL);
    CHECK(dict_get(&d, "one") == NULL);
    CHECK(dict_get(&d, "two") == &two);
    CHECK_EQ_INT(d.len, 1);
    dict_free(&d);
}

/* Many keys: every one found, iteration sees each once, deletions leave the rest reachable. */
static void test_many(void)
{
    enum { N = 20000 };
    static char keys[N][16];
    static int vals[N];
    dict d;
    dict_init(&d);
    for (int n = 0; n < N; n++) {
        snprintf(keys[n], sizeof keys[n], "k%d", n);
        vals[n] = n;
        CHECK(dict_put(&d, keys[n], &vals[n]) == NULL);
    }
    CHECK_EQ_INT(d.len, N);
    /* The load stays under 70%. */
    CHECK((d.len + d.tombs) * 10 < d.cap * 7);
    for (int n = 0; n < N; n++) CHECK(dict_get(&d, keys[n]) == &vals[n]);
    static unsigned char seen[N];
    size_t i = 0;
    const char *k;
    void *v;
    size_t count = 0;
    while (dict_next(&d, &i, &k, &v)) {
        int n = *(int *)v;
        CHECK(k == keys[n]);
        CHECK_EQ_INT(seen[n], 0);
        seen[n] = 1;
        count++;
    }
    CHECK_EQ_INT(count, N);
    /* Delete every other key; the others stay reachable through the tombstones. */
    for (int n = 0; n < N; n += 2) CHECK(dict_del(&d, keys[n]) == &vals[n]);
    CHECK_EQ_INT(d.len, N / 2);
    for (int n = 0; n < N; n++) CHECK(dict_get(&d, keys[n]) == (n % 2 ? &vals[n] : NULL));
    i = 0;
    count = 0;
    while (dict_next(&d, &i, &k, &v)) {
        CHECK(*(int *)v % 2 == 1);
        count++;
    }
    CHECK_EQ_INT(count, N / 2);
    dict_free(&d);
}

/* Insert and delete in turns: tombstones must not fill the table (a lookup of a missing key
 * would then never find an empty slot), and the table must not grow without bound. */
static void test_tombstones(void)
{
    dict d;
    dict_init(&d);
    static char keys[64][16];
    int val = 0;
    for (int n = 0; n < 64; n++) snprintf(keys[n], sizeof keys[n], "live%d", n);
    for (int n = 0; n < 8; n++) dict_put(&d, keys[n], &val);
    size_t cap_after_fill = 0;
    char churn[32];
    static char churn_keys[100000][12];
    for (int round = 0; round < 100000; round++) {
        snprintf(churn, sizeof churn, "c%d", round);
        memcpy(churn_keys[round], churn, strlen(churn) + 1);
        CHECK(dict_put(&d, churn_keys[round], &val) == NULL);
        CHECK(dict_get(&d, churn_keys[round]) == &val);
        CHECK(dict_del(&d, churn_keys[round]) == &val);
        CHECK(dict_get(&d, "never-there") == NULL);
        CHECK((d.len + d.tombs) * 10 < d.cap * 7);
        if (round == 1000) cap_after_fill = d.cap;
    }
    CHECK_EQ_INT(d.len, 8);
    CHECK_EQ_INT(d.cap, cap_after_fill);
    for (int n = 0; n < 8; n++) CHECK(dict_get(&d, keys[n]) == &val);
    /* A deleted key put back takes a tombstone's slot and is found again. */
    CHECK(dict_del(&d, keys[3]) == &val);
    CHECK(dict_put(&d, keys[3], &val) == NULL);
    CHECK(dict_get(&d, keys[3]) == &val);
    CHECK_EQ_INT(d.len, 8);
    dict_free(&d);
}

int main(void)
{
    RUN(test_basic);
    RUN(test_many);
    RUN(test_tombstones);
    return 0;
}
