/* state.c: the job-definition key order, and registries written through to the store. */
#include <stdlib.h>
#include <unistd.h>

#include "server/base/store.h"
#include "server/model/model.h"
#include "server/model/registry.h"
#include "server/model/state.h"
#include "check.h"

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void test_jd_key_order(void)
{
    /* Revisions compare as numbers, not as text. */
    CHECK_EQ_INT(sign(reg_jd_key_cmp("a:2", "a:10")), -1);
    CHECK_EQ_INT(sign(reg_jd_key_cmp("a:10", "a:9")), 1);
    CHECK_EQ_INT(reg_jd_key_cmp("a:10", "a:10"), 0);
    /* Names compare first, as text; a shorter name that is a prefix comes first. */
    CHECK_EQ_INT(sign(reg_jd_key_cmp("a:99", "b:1")), -1);
    CHECK_EQ_INT(sign(reg_jd_key_cmp("a:5", "ab:1")), -1);
    CHECK_EQ_INT(sign(reg_jd_key_cmp("ab:1", "a:5")), 1);
    CHECK_EQ_INT(sign(reg_jd_key_cmp("a-b:1", "a:1")), 1);
    CHECK_EQ_INT(sign(reg_jd_key_cmp("a:1", "a_b:1")), -1);
    /* A key without a revision sorts as revision 0 of its name. */
    CHECK_EQ_INT(sign(reg_jd_key_cmp("a", "a:1")), -1);
    CHECK_EQ_INT(reg_jd_key_cmp("a", "a"), 0);

    /* Sorting with it gives name order, then revision order; and it is antisymmetric. */
    const char *keys[] = {"job:10", "job:2", "a:3", "job-x:1", "job:1", "a:12", "jo:7"};
    const char *want[] = {"a:3", "a:12", "jo:7", "job:1", "job:2", "job:10", "job-x:1"};
    size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            CHECK_EQ_INT(sign(reg_jd_key_cmp(keys[i], keys[j])),
                         -sign(reg_jd_key_cmp(keys[j], keys[i])));
    /* Insertion sort: the comparator alone decides. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && reg_jd_key_cmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) CHECK_STR(keys[i], want[i]);
}

static char dir[] = "/tmp/barge-unit-state-XXXXXX";

static store *open_store(void)
{
    char *err = NULL;
    store *db = store_sqlite_open(dir, STORE_SYNC_NORMAL, &err);
    if (!db) CHECK_FAIL_("store_sqlite_open: %s", err);
    return db;
}

/* The least a compute environment's description holds (its typed record needs these). */
static json_t *ce_desc(const char *status)
{
    return json_pack("{s:s, s:s, s:s}", "type", "UNMANAGED", "state", "ENABLED", "status", status);
}

static void test_registry_writes_through(void)
{
    CHECK(mkdtemp(dir) != NULL);
    store *db = open_store();
    char *err = NULL;
    state *st = model_load(db, &err);
    CHECK(st != NULL);
    CHECK_EQ_INT(store_begin(db), 0);
    reg_put(st, &st->ce, "b", ce_desc("VALID"));
    reg_put(st, &st->ce, "a", ce_desc("VALID"));
    reg_put(st, &st->ce, "c", ce_desc("VALID"));
    reg_del(st, &st->ce, "c");
    reg_del(st, &st->ce, "never-there"); /* a no-op, not an error */
    reg_put(st, &st->jd, "d:2", json_pack("{s:s, s:i}", "jobDefinitionName", "d", "revision", 2));
    reg_put(st, &st->jd, "d:10", json_pack("{s:s, s:i}", "jobDefinitionName", "d", "revision", 10));
    CHECK_EQ_INT(st->store_failed, 0);
    CHECK_EQ_INT(store_commit(db), 0);

    /* Deleted: gone from the live set, still described, with status DELETED. */
    CHECK(reg_get(&st->ce, "c") == NULL);
    CHECK_STR(json_string_value(json_object_get(reg_get_any(&st->ce, "c"), "status")), "DELETED");
    size_t n;
    const char **keys = reg_sorted_keys(&st->ce, strcmp, &n);
    CHECK_EQ_INT(n, 2);
    CHECK_STR(keys[0], "a");
    CHECK_STR(keys[1], "b");
    free(keys);
    /* Putting a deleted name again brings it back to life. */
    CHECK_EQ_INT(store_begin(db), 0);
    reg_put(st, &st->ce, "c", ce_desc("CREATING"));
    CHECK_EQ_INT(store_commit(db), 0);
    CHECK_STR(json_string_value(json_object_get(reg_get_any(&st->ce, "c"), "status")), "CREATING");
    model_free(st);
    store_close(db);

    /* What was committed is what a restart loads. */
    db = open_store();
    st = model_load(db, &err);
    CHECK(st != NULL);
    keys = reg_sorted_keys(&st->ce, strcmp, &n);
    CHECK_EQ_INT(n, 3);
    CHECK_STR(keys[2], "c");
    free(keys);
    keys = reg_sorted_keys(&st->jd, reg_jd_key_cmp, &n);
    CHECK_EQ_INT(n, 2);
    CHECK_STR(keys[0], "d:2");
    CHECK_STR(keys[1], "d:10");
    free(keys);
    CHECK_EQ_INT(json_integer_value(json_object_get(st->jd_latest, "d")), 10);
    model_free(st);

    /* A record that is not JSON is reported with its kind and key, not loaded half-way. */
    CHECK_EQ_INT(store_begin(db), 0);
    CHECK_EQ_INT(store_put(db, "jq", "broken", "{not json", 9), 0);
    CHECK_EQ_INT(store_commit(db), 0);
    err = NULL;
    CHECK(model_load(db, &err) == NULL);
    CHECK_CONTAINS(err, "jq");
    CHECK_CONTAINS(err, "'broken'");
    free(err);
    store_close(db);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

int main(void)
{
    RUN(test_jd_key_order);
    RUN(test_registry_writes_through);
    return 0;
}
