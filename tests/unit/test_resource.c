/* resource.c: typed records of compute environments and queues, parsed by reg_put and at load,
 * marked by reg_del; the usable rules, order resolution, priority order and settle. */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/base/store.h"
#include "server/model/model.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "check.h"

#define ARN_OF(name) "arn:aws:batch:us-east-1:123456789012:compute-environment/" name

static char dir[] = "/tmp/barge-unit-resource-XXXXXX";
static store *db;
static state *st;

static char path[192];

/* Each test has a store of its own, in dir/sub. */
static void use_store(const char *sub)
{
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    CHECK_EQ_INT(mkdir(path, 0700), 0);
}

static void open_state(void)
{
    char *err = NULL;
    db = store_sqlite_open(path, STORE_SYNC_NORMAL, &err);
    if (!db) CHECK_FAIL_("store_sqlite_open: %s", err);
    st = model_load(db, &err);
    if (!st) CHECK_FAIL_("model_load: %s", err);
    CHECK_EQ_INT(store_begin(db), 0);
}

static void close_state(void)
{
    CHECK_EQ_INT(st->store_failed, 0);
    CHECK_EQ_INT(store_commit(db), 0);
    model_free(st);
    store_close(db);
    st = NULL;
    db = NULL;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v) CHECK_FAIL_("bad JSON in the test: %s: %s", e.text, text);
    return v;
}

static void put_ce(const char *name, const char *state_, const char *status)
{
    reg_put(st, &st->ce, name,
            json_pack("{s:s, s:s, s:s, s:s}", "computeEnvironmentName", name, "type", "UNMANAGED",
                      "state", state_, "status", status));
}

/* A queue on the environments named (by ARN) in ces, ordered 1, 2, 3... */
static void put_jq(const char *name, const char *status, int priority, const char *ces)
{
    json_t *order = json_array();
    char *list = strdup(ces);
    int i = 1;
    for (char *save, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char arn[256];
        snprintf(arn, sizeof arn, ARN_OF("%s"), tok);
        json_array_append_new(order, json_pack("{s:i, s:s}", "order", i++,
                                               "computeEnvironment", arn));
    }
    free(list);
    reg_put(st, &st->jq, name,
            json_pack("{s:s, s:s, s:s, s:i, s:o}", "jobQueueName", name, "state", "ENABLED",
                      "status", status, "priority", priority, "computeEnvironmentOrder", order));
}

static void test_parse_ce(void)
{
    use_store("parse");
    open_state();
    reg_put(st, &st->ce, "spot",
            parse("{\"type\": \"MANAGED\", \"state\": \"DISABLED\", \"status\": \"UPDATING\","
                  " \"computeResources\": {\"type\": \"SPOT\", \"minvCpus\": 2, \"maxvCpus\": 16,"
                  " \"instanceTypes\": [\"m5\", \"c5.large\"]}}"));
    reg_put(st, &st->ce, "fargate",
            parse("{\"type\": \"MANAGED\", \"state\": \"ENABLED\", \"status\": \"VALID\","
                  " \"computeResources\": {\"type\": \"FARGATE_SPOT\", \"maxvCpus\": 4000000}}"));
    put_ce("mine", "ENABLED", "INVALID");

    ce_rec *ce = res_ce(st, "spot");
    CHECK(ce != NULL);
    CHECK_STR(ce->name, "spot");
    CHECK_EQ_INT(ce->state, RES_DISABLED);
    CHECK_EQ_INT(ce->status, RES_UPDATING);
    CHECK_EQ_INT(ce->managed, 1);
    CHECK_EQ_INT(ce->fargate, 0);
    CHECK_EQ_INT(ce->min_mvcpus, 2000);
    CHECK_EQ_INT(ce->max_mvcpus, 16000);
    CHECK_EQ_INT(ce->n_instance_types, 2);
    CHECK_STR(ce->instance_types[0], "m5");
    CHECK_STR(ce->instance_types[1], "c5.large");
    CHECK_EQ_INT(ce->live, 1);

    ce = res_ce(st, "fargate");
    CHECK_EQ_INT(ce->fargate, 1);
    CHECK_EQ_INT(ce->min_mvcpus, 0);
    /* Too many vCPUs to count in milli-vCPUs saturates instead of wrapping. */
    CHECK_EQ_INT(ce->max_mvcpus, INT_MAX);
    CHECK_EQ_INT(ce->n_instance_types, 0);

    ce = res_ce(st, "mine");
    CHECK_EQ_INT(ce->managed, 0);
    CHECK_EQ_INT(ce->fargate, 0);
    CHECK_EQ_INT(ce->status, RES_INVALID);
    CHECK_EQ_INT(ce->max_mvcpus, 0);

    /* An update re-fills the same record. */
    reg_put(st, &st->ce, "spot",
            parse("{\"type\": \"MANAGED\", \"state\": \"ENABLED\", \"status\": \"VALID\","
                  " \"computeResources\": {\"type\": \"EC2\", \"maxvCpus\": 8,"
                  " \"instanceTypes\": [\"optimal\"]}}"));
    CHECK(res_ce(st, "spot") != NULL);
    CHECK_EQ_INT(res_ce(st, "spot")->n_instance_types, 1);
    CHECK_STR(res_ce(st, "spot")->instance_types[0], "optimal");
    CHECK_EQ_INT(res_ce(st, "spot")->max_mvcpus, 8000);
    CHECK_EQ_INT(res_ce(st, "spot")->state, RES_ENABLED);

    CHECK(res_ce(st, "nothing") == NULL);
    CHECK(res_jq(st, "nothing") == NULL);
    CHECK(res_is_fargate_type("FARGATE") && res_is_fargate_type("FARGATE_SPOT"));
    CHECK(!res_is_fargate_type("EC2") && !res_is_fargate_type("SPOT"));
    CHECK(!res_is_fargate_type(NULL) && !res_is_fargate_type("FARGATEX"));
    CHECK_STR(res_status_name(RES_DELETING), "DELETING");
    CHECK_STR(res_state_name(RES_DISABLED), "DISABLED");
    close_state();
}

static void test_usable_rules(void)
{
    for (int s = RES_ENABLED; s <= RES_DISABLED; s++) {
        for (int u = RES_CREATING; u <= RES_DELETED; u++) {
            ce_rec ce = {.state = (res_state)s, .status = (res_status)u};
            jq_rec q = {.state = (res_state)s, .status = (res_status)u};
            int ce_want = s == RES_ENABLED && (u == RES_VALID || u == RES_UPDATING);
            /* A queue still CREATING (or INVALID) takes jobs; one on its way out does not. */
            int jq_want = s == RES_ENABLED && u != RES_DELETING && u != RES_DELETED;
            CHECK_EQ_INT(res_ce_usable(&ce), ce_want);
            CHECK_EQ_INT(res_jq_usable(&q), jq_want);
            /* A DISABLED queue's jobs are placed all the same: only its deletion stops them. */
            CHECK_EQ_INT(res_jq_places(&q), u != RES_DELETING && u != RES_DELETED);
        }
    }
}

static void test_order_resolution(void)
{
    use_store("order");
    open_state();
    put_ce("a", "ENABLED", "VALID");
    put_ce("b", "ENABLED", "VALID");
    /* Out of order, one bare name, one environment that does not exist (yet). */
    reg_put(st, &st->jq, "q",
            parse("{\"state\": \"ENABLED\", \"status\": \"VALID\", \"priority\": 1,"
                  " \"computeEnvironmentOrder\": ["
                  "  {\"order\": 5, \"computeEnvironment\": \"" ARN_OF("b") "\"},"
                  "  {\"order\": 1, \"computeEnvironment\": \"a\"},"
                  "  {\"order\": 3, \"computeEnvironment\": \"" ARN_OF("zz") "\"}]}"));
    jq_rec *q = res_jq(st, "q");
    CHECK(q != NULL);
    CHECK_EQ_INT(q->n_ces, 3);
    CHECK(q->ces[0] == res_ce(st, "a"));
    CHECK_STR(q->ces[1]->name, "zz");
    CHECK_EQ_INT(q->ces[1]->live, 0);
    CHECK(!res_ce_usable(q->ces[1]));
    CHECK(res_ce(st, "zz") == NULL);
    CHECK(q->ces[2] == res_ce(st, "b"));

    /* Creating the missing one fills the record the queue already points at. */
    ce_rec *zz = q->ces[1];
    put_ce("zz", "ENABLED", "CREATING");
    CHECK(res_ce(st, "zz") == zz);
    CHECK_EQ_INT(zz->live, 1);

    /* Changing, deleting and re-creating an environment keep its address. */
    ce_rec *b = q->ces[2];
    put_ce("b", "DISABLED", "VALID");
    CHECK(q->ces[2] == b);
    CHECK_EQ_INT(b->state, RES_DISABLED);
    reg_del(st, &st->ce, "b");
    CHECK(res_ce(st, "b") == NULL);
    CHECK_EQ_INT(b->live, 0);
    CHECK_EQ_INT(b->status, RES_DELETED);
    CHECK(!res_ce_usable(b));
    put_ce("b", "ENABLED", "CREATING");
    CHECK(res_ce(st, "b") == b);
    CHECK_EQ_INT(b->live, 1);

    /* A queue record is stable too; a new order is resolved again. */
    reg_del(st, &st->jq, "q");
    CHECK(res_jq(st, "q") == NULL);
    CHECK_EQ_INT(q->live, 0);
    CHECK_EQ_INT(q->status, RES_DELETED);
    put_jq("q", "CREATING", 2, "b");
    CHECK(res_jq(st, "q") == q);
    CHECK_EQ_INT(q->n_ces, 1);
    CHECK(q->ces[0] == b);
    close_state();
}

static void check_order(const char *const *want, size_t n_want)
{
    size_t n;
    jq_rec *const *qs = res_queues_by_priority(st, &n);
    CHECK_EQ_INT(n, n_want);
    for (size_t i = 0; i < n; i++) CHECK_STR(qs[i]->name, want[i]);
}

static void test_priority_order(void)
{
    use_store("priority");
    open_state();
    size_t n;
    res_queues_by_priority(st, &n);
    CHECK_EQ_INT(n, 0);
    put_ce("a", "ENABLED", "VALID");
    put_jq("b", "VALID", 10, "a");
    put_jq("a", "VALID", 10, "a");
    put_jq("z", "VALID", 1, "a");
    put_jq("m", "VALID", 100, "a");
    /* Highest priority first; equal priorities by name. */
    const char *const first[] = {"m", "a", "b", "z"};
    check_order(first, 4);
    put_jq("z", "UPDATING", 1000, "a");
    const char *const raised[] = {"z", "m", "a", "b"};
    check_order(raised, 4);
    reg_del(st, &st->jq, "a");
    const char *const deleted[] = {"z", "m", "b"};
    check_order(deleted, 3);
    put_jq("a", "CREATING", 0, "a");
    const char *const back[] = {"z", "m", "b", "a"};
    check_order(back, 4);
    close_state();
}

static const char *reason(registry *r, const char *key)
{
    return json_string_value(json_object_get(reg_get_any(r, key), RES_M_STATUS_REASON));
}

static const char *status(registry *r, const char *key)
{
    return json_string_value(json_object_get(reg_get_any(r, key), RES_M_STATUS));
}

static void test_settle(void)
{
    use_store("settle");
    open_state();
    put_ce("new", "ENABLED", "CREATING");
    put_ce("gone", "DISABLED", "DELETING");
    put_jq("q", "UPDATING", 1, "new");
    put_jq("old", "DELETING", 1, "new");
    res_settle(st, &st->ce, "new");
    CHECK_STR(status(&st->ce, "new"), "VALID");
    CHECK_STR(reason(&st->ce, "new"), RES_CE_HEALTHY);
    CHECK_EQ_INT(res_ce(st, "new")->status, RES_VALID);
    res_settle(st, &st->jq, "q");
    CHECK_STR(status(&st->jq, "q"), "VALID");
    CHECK_STR(reason(&st->jq, "q"), RES_JQ_HEALTHY);
    CHECK_EQ_INT(res_jq(st, "q")->status, RES_VALID);

    /* The key as the registry holds it: settle must not use it after deleting it. */
    size_t n;
    const char **keys = reg_sorted_keys(&st->jq, strcmp, &n);
    CHECK_STR(keys[0], "old");
    res_settle(st, &st->jq, keys[0]);
    free(keys);
    CHECK(reg_get(&st->jq, "old") == NULL);
    CHECK(res_jq(st, "old") == NULL);
    CHECK_STR(status(&st->jq, "old"), "DELETED");
    CHECK_STR(reason(&st->jq, "old"), RES_JQ_DELETED);
    res_settle(st, &st->ce, "gone");
    CHECK(res_ce(st, "gone") == NULL);
    CHECK_STR(status(&st->ce, "gone"), "DELETED");

    /* Nothing to do: a settled resource, a deleted one, a name never seen. */
    json_t *before = reg_get(&st->ce, "new");
    res_settle(st, &st->ce, "new");
    CHECK(reg_get(&st->ce, "new") == before);
    res_settle(st, &st->ce, "gone");
    res_settle(st, &st->jq, "never");
    close_state();

    /* A status that was moving when the server stopped completes at load. */
    use_store("settle-at-load");
    open_state();
    put_ce("later", "ENABLED", "UPDATING");
    put_jq("later", "CREATING", 1, "later");
    put_jq("leaving", "DELETING", 1, "later");
    close_state();
    open_state();
    CHECK_EQ_INT(res_ce(st, "later")->status, RES_VALID);
    CHECK_STR(reason(&st->ce, "later"), RES_CE_HEALTHY);
    CHECK_EQ_INT(res_jq(st, "later")->status, RES_VALID);
    CHECK(res_jq(st, "leaving") == NULL);
    CHECK_STR(reason(&st->jq, "leaving"), RES_JQ_DELETED);
    close_state();
}

static void test_bad_put_is_refused(void)
{
    use_store("bad-put");
    open_state();
    put_ce("a", "ENABLED", "VALID");
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    /* A description without what the record needs is a bug: the batch fails, nothing changes. */
    reg_put(st, &st->jq, "q", json_pack("{s:s, s:s}", "state", "ENABLED", "status", "VALID"));
    reg_put(st, &st->ce, "a", json_pack("{s:s, s:s, s:s}", "type", "MANAGED", "state", "ON",
                                        "status", "VALID"));
    dup2(saved, 2);
    close(saved);
    close(devnull);
    CHECK_EQ_INT(st->store_failed, 1);
    CHECK(reg_get(&st->jq, "q") == NULL);
    CHECK(res_jq(st, "q") == NULL);
    CHECK_EQ_INT(res_ce(st, "a")->managed, 0);
    CHECK_EQ_INT(res_ce(st, "a")->state, RES_ENABLED);
    CHECK_STR(json_string_value(json_object_get(reg_get(&st->ce, "a"), "type")), "UNMANAGED");
    st->store_failed = 0;
    store_rollback(db);
    model_free(st);
    store_close(db);
}

static void put_raw(const char *kind, const char *key, const char *doc)
{
    CHECK_EQ_INT(store_put(db, kind, key, doc, strlen(doc)), 0);
}

static void test_broken_records_are_skipped_at_load(void)
{
    use_store("load");
    open_state();
    put_raw("ce", "good", "{\"type\": \"UNMANAGED\", \"state\": \"ENABLED\", \"status\": \"VALID\"}");
    put_raw("ce", "no-state", "{\"type\": \"UNMANAGED\", \"status\": \"VALID\"}");
    put_raw("ce", "typed", "{\"type\": 5, \"state\": \"ENABLED\", \"status\": \"VALID\"}");
    put_raw("ce", "cr", "{\"type\": \"MANAGED\", \"state\": \"ENABLED\", \"status\": \"VALID\","
                        " \"computeResources\": {\"type\": \"EC2\", \"maxvCpus\": \"lots\"}}");
    put_raw("jq", "no-priority", "{\"state\": \"ENABLED\", \"status\": \"VALID\","
                                 " \"computeEnvironmentOrder\": []}");
    put_raw("jq", "no-order", "{\"state\": \"ENABLED\", \"status\": \"VALID\", \"priority\": 1}");
    put_raw("jq", "bad-entry", "{\"state\": \"ENABLED\", \"status\": \"VALID\", \"priority\": 1,"
                               " \"computeEnvironmentOrder\": [{\"order\": 1}]}");
    put_raw("jq", "ok", "{\"state\": \"ENABLED\", \"status\": \"CREATING\", \"priority\": 1,"
                        " \"computeEnvironmentOrder\": ["
                        "  {\"order\": 2, \"computeEnvironment\": \"" ARN_OF("no-state") "\"},"
                        "  {\"order\": 1, \"computeEnvironment\": \"" ARN_OF("good") "\"}]}");
    close_state();

    /* Load with stderr in a file, to read what the operator would. */
    char log_path[256];
    snprintf(log_path, sizeof log_path, "%s/log", path);
    int saved = dup(2), fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    dup2(fd, 2);
    char *err = NULL;
    db = store_sqlite_open(path, STORE_SYNC_NORMAL, &err);
    st = db ? model_load(db, &err) : NULL;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    if (!st) CHECK_FAIL_("loading: %s", err);
    CHECK_EQ_INT(store_begin(db), 0);
    FILE *f = fopen(log_path, "r");
    CHECK(f != NULL);
    char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    fclose(f);
    CHECK_CONTAINS(text, "ce record 'no-state': member 'state' is missing");
    CHECK_CONTAINS(text, "ce record 'typed': member 'type' is not a string");
    CHECK_CONTAINS(text, "ce record 'cr': member 'computeResources.maxvCpus' is not an integer");
    CHECK_CONTAINS(text, "jq record 'no-priority': member 'priority' is missing");
    CHECK_CONTAINS(text, "jq record 'no-order': member 'computeEnvironmentOrder' is missing");
    CHECK_CONTAINS(text, "jq record 'bad-entry': member "
                         "'computeEnvironmentOrder[0].computeEnvironment' is missing");

    /* The good ones load, settle and resolve; the skipped ones are simply not there. */
    const char *skipped_ce[] = {"no-state", "typed", "cr"};
    for (size_t i = 0; i < 3; i++) {
        CHECK(reg_get(&st->ce, skipped_ce[i]) == NULL);
        CHECK(res_ce(st, skipped_ce[i]) == NULL);
    }
    CHECK(reg_get(&st->jq, "no-priority") == NULL && res_jq(st, "no-priority") == NULL);
    CHECK(reg_get(&st->jq, "no-order") == NULL && res_jq(st, "no-order") == NULL);
    CHECK(reg_get(&st->jq, "bad-entry") == NULL && res_jq(st, "bad-entry") == NULL);
    jq_rec *q = res_jq(st, "ok");
    CHECK(q != NULL);
    CHECK_EQ_INT(q->status, RES_VALID);
    CHECK_EQ_INT(q->n_ces, 2);
    CHECK(q->ces[0] == res_ce(st, "good"));
    CHECK_STR(q->ces[1]->name, "no-state");
    CHECK_EQ_INT(q->ces[1]->live, 0);
    size_t n;
    res_queues_by_priority(st, &n);
    CHECK_EQ_INT(n, 1);
    close_state();
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    RUN(test_parse_ce);
    RUN(test_usable_rules);
    RUN(test_order_resolution);
    RUN(test_priority_order);
    RUN(test_settle);
    RUN(test_bad_put_is_refused);
    RUN(test_broken_records_are_skipped_at_load);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return 0;
}
