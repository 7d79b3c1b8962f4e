/* drain: which instances a compute environment gives up when its maxvCpus is lowered (those
 * still starting, then the idle, then the least busy, until the rest fit; the strategies that
 * may exceed maxvCpus by one instance keep what that allows), and that a deleted environment
 * drains all of them and stays DELETING until they have gone.  Instances are records made
 * directly in the fleet: no agent runs. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/base/agent_ident.h"
#include "server/base/store.h"
#include "server/model/config.h"
#include "server/model/instance.h"
#include "server/model/model.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/engine/drain.h"
#include "model_testing.h"

static char dir[] = "/tmp/barge-unit-drain-XXXXXX";
static store *db;
static state *st;

static ce_rec *put_ce(const char *name, int max_vcpus, const char *strategy, const char *status)
{
    reg_put(st, &st->ce, name,
            json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:i, s:i, s:s, s:[s]}}",
                      "computeEnvironmentName", name, "type", "MANAGED", "state", "DISABLED",
                      "status", status, "computeResources", "type", "EC2", "minvCpus", 0,
                      "maxvCpus", max_vcpus, "allocationStrategy", strategy, "instanceTypes",
                      "optimal"));
    return res_ce(st, name);
}

/* An instance of ce with vcpus, registered or still starting, running n attempts (as counts
 * only: no job is attached). */
static instance *add(const char *id, const char *ce, int vcpus, int registered, int n)
{
    instance *in = instance_new(st->fleet, id, ce);
    in->mvcpus = vcpus * 1000;
    in->memory_mib = vcpus * 2048;
    in->registered = registered;
    in->n_jobs = n;
    in->used_mvcpus = n * 1000;
    return in;
}

static int draining(const char *id)
{
    instance *in = instance_find(st->fleet, id);
    if (!in) CHECK_FAIL_("no instance %s", id);
    return in->draining;
}

static void clear_fleet(void)
{
    instance *left[16];
    size_t n = 0, i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v) && n < 16) left[n++] = v;
    for (size_t x = 0; x < n; x++) {
        left[x]->n_jobs = 0;
        left[x]->used_mvcpus = 0;
        instance_remove(st->fleet, left[x]);
    }
}

static void test_lower_max_best_fit(void)
{
    ce_rec *ce = put_ce("bf", 16, "BEST_FIT", "VALID");
    add("i-busy2", "bf", 4, 1, 2);
    add("i-busy1", "bf", 4, 1, 1);
    add("i-idle", "bf", 4, 1, 0);
    add("i-start", "bf", 4, 0, 0);
    drain_ce(st, ce);
    CHECK(!draining("i-busy2") && !draining("i-busy1") && !draining("i-idle") &&
          !draining("i-start"));
    /* 16 -> 8: the one starting and the idle one go; both busy ones stay. */
    ce = put_ce("bf", 8, "BEST_FIT", "VALID");
    drain_ce(st, ce);
    CHECK(draining("i-start") && draining("i-idle"));
    CHECK(!draining("i-busy1") && !draining("i-busy2"));
    CHECK_STR(instance_find(st->fleet, "i-idle")->drain_why, DRAIN_WHY_MAX_VCPUS);
    /* 8 -> 3: each busy one alone is over the maximum, so both drain; their attempts go on
     * (nothing here stops one). */
    ce = put_ce("bf", 3, "BEST_FIT", "VALID");
    drain_ce(st, ce);
    CHECK(draining("i-busy1") && draining("i-busy2"));
    clear_fleet();
}

static void test_lower_max_progressive(void)
{
    /* May exceed maxvCpus by one instance: 4 + 4 with a maximum of 5 is what a launch made
     * while the environment had 4 (below 5); it is kept. */
    ce_rec *ce = put_ce("bfp", 5, "BEST_FIT_PROGRESSIVE", "VALID");
    add("i-a", "bfp", 4, 1, 1);
    add("i-b", "bfp", 4, 1, 2);
    drain_ce(st, ce);
    CHECK(!draining("i-a") && !draining("i-b"));
    /* At 4, one instance alone reaches it: the less busy one goes. */
    ce = put_ce("bfp", 4, "BEST_FIT_PROGRESSIVE", "VALID");
    drain_ce(st, ce);
    CHECK(draining("i-a") && !draining("i-b"));
    clear_fleet();
}

static void test_deleted_environment(void)
{
    ce_rec *ce = put_ce("del", 8, "BEST_FIT", "VALID");
    add("i-d1", "del", 2, 1, 1);
    add("i-d2", "del", 2, 1, 0);
    drain_ce(st, ce);
    CHECK(!draining("i-d1") && !draining("i-d2"));
    ce = put_ce("del", 8, "BEST_FIT", "DELETING");
    drain_ce(st, ce);
    CHECK(draining("i-d1") && draining("i-d2"));
    CHECK_STR(instance_find(st->fleet, "i-d1")->drain_why, DRAIN_WHY_DELETED);
    CHECK(drain_ce_has_instances(st, "del"));
    /* While an instance remains, the environment stays DELETING, and a reload of the state
     * (after a failed commit; the fleet is kept) does not complete the deletion either. */
    drain_tick(st);
    CHECK(res_ce(st, "del") != NULL);
    CHECK_EQ_INT(res_ce(st, "del")->status, RES_DELETING);
    CHECK_EQ_INT(store_commit(db), 0);
    char *err = NULL;
    if (model_reload(st, &err) != 0) CHECK_FAIL_("model_reload: %s", err);
    CHECK(res_ce(st, "del") != NULL);
    CHECK_EQ_INT(res_ce(st, "del")->status, RES_DELETING);
    CHECK_EQ_INT(store_begin(db), 0);
    clear_fleet();
    CHECK(!drain_ce_has_instances(st, "del"));
    drain_tick(st);
    CHECK(res_ce(st, "del") == NULL);
}

int main(void)
{
    log_level = LOG_ERROR + 1;
    config_defaults(&barge_cfg);
    db = mt_store_open(dir);
    st = mt_load(db);
    CHECK_EQ_INT(store_begin(db), 0);

    RUN(test_lower_max_best_fit);
    RUN(test_lower_max_progressive);
    RUN(test_deleted_environment);

    CHECK_EQ_INT(store_commit(db), 0);
    model_free(st);
    mt_store_close(db, dir);
    agent_ident_free();
    return 0;
}
