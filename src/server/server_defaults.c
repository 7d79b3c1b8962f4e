/* server_defaults — see server_defaults.h. */
#include "server/server_defaults.h"

#include <string.h>
#include <unistd.h>

#include "common/catalog.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/api/api.h"
#include "server/base/core.h"
#include "server/base/store.h"
#include "server/model/state.h"

#define META_KIND "meta"
#define DEFAULTS_KEY "defaults-made"

/* Runs run(arg, req) on the core as a client's call would, and waits for its (durable) answer:
 * 0 on success, else -1 with the error logged. */
static int call_core(void (*run)(core_call *, void *, int64_t), const void *arg, json_t *req)
{
    core_call call = {.run = run, .arg = arg, .req = req};
    core_call_wait(&call);
    int rc = call.status == 200 ? 0 : -1;
    if (rc) log_error("server: making the first start's defaults failed: %s",
                      call.body ? call.body : "no answer");
    free(call.body);
    return rc;
}

static int recorded(void *arg, const char *key, const char *doc, size_t len)
{
    if (strcmp(key, DEFAULTS_KEY) == 0) *(int *)arg = 1;
    return 0;
}

/* Whether to make them: nothing made yet and nothing recorded.  On the core, in its batch. */
static void check(core_call *call, void *ctx, int64_t now)
{
    state *st = ctx;
    int *fresh = (int *)call->arg;
    /* Read here, on the core: only the core thread may use the store once it runs. */
    int made = 0;
    if (store_scan(st->db, META_KIND, recorded, &made) != 0) made = 1;
    *fresh = !made && json_object_size(st->ce.items) == 0 && json_object_size(st->jq.items) == 0;
    if (*fresh) {
        /* Recorded in the same batch: a second start makes nothing even if these fail. */
        char doc[64];
        snprintf(doc, sizeof doc, "{\"at\":%lld}", (long long)now);
        if (store_put(st->db, META_KIND, DEFAULTS_KEY, doc, strlen(doc)) != 0)
            st->store_failed = 1;
    }
    core_answer(call, json_object());
}

int server_defaults(state *st)
{
    int fresh = 0;
    if (call_core(check, &fresh, json_object()) != 0 || !fresh) return 0;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    /* The smallest instance types are of 2 vCPUs. */
    int vcpus = n > 2 ? (int)n : 2;
    const char *types = strcmp(catalog_host_arch(), "arm64") == 0 ? "default_arm64" : "optimal";
    json_t *ce = json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:i, s:[s]}}", "computeEnvironmentName",
                           SERVER_DEFAULT_CE, "type", "MANAGED", "state", "ENABLED",
                           "computeResources", "type", "EC2", "minvCpus", 0, "maxvCpus", vcpus,
                           "instanceTypes", types);
    json_t *q = json_pack("{s:s, s:i, s:s, s:[{s:i, s:s}]}", "jobQueueName",
                          SERVER_DEFAULT_QUEUE, "priority", 1, "state", "ENABLED",
                          "computeEnvironmentOrder", "order", 1, "computeEnvironment",
                          SERVER_DEFAULT_CE);
    int rc = call_core(api_run, api_route("POST", "/v1/createcomputeenvironment"), ce);
    if (rc == 0) rc = call_core(api_run, api_route("POST", "/v1/createjobqueue"), q);
    else json_decref(q);
    if (rc == 0)
        log_info("first start: made compute environment %s (%d vCPUs, this machine's) and job "
                 "queue %s; `barge run --image IMAGE -- COMMAND` runs a job there "
                 "(--no-default-queue skips this)", SERVER_DEFAULT_CE, vcpus,
                 SERVER_DEFAULT_QUEUE);
    return rc;
}
