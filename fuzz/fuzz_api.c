/* fuzz_api — the AWS Batch API handlers themselves, run by the real core against a real model
 * state: each input is one request, checked against its operation's shape as http_server.c's
 * dispatch checks it, then handed to the core thread (core_start, core_call_wait) as the HTTP
 * server hands it, so that the handler runs inside a store transaction, followed by the
 * server's before-commit work (a scheduling pass, the fleet's answers, the writes of jobs,
 * shares, instances and events), the commit, and the zero-delay timers the handler set (a
 * compute environment or queue settling).  After each request a second call runs the server's
 * tick (drain, fleet, time limits, metrics, event expiry, retention) in its own batch.
 *
 * Input: "PATH\nBODY".  PATH is routed as POST, then GET, then DELETE, unless it starts with a
 * method ("GET /v1/tags/ARN"); a '?' in it starts DELETE's query (tagKeys=K&tagKeys=L).  BODY
 * is the request body.  Job ids are random, so in the path and in any string of the body "%N"
 * (N a digit) stands for the id of the N-th most recent job submitted (its array children are
 * "%N:3") and "%aN" for its ARN; what follows the digit is kept.
 *
 * The state: a SQLite store and a log store in a fresh directory, with an UNMANAGED compute
 * environment ce1 (an agent's instance i-fuzz of 64 vCPUs registered to it, so that jobs are
 * placed), a MANAGED ce2 (no URL is handed to the fleet, so the local provider never launches
 * an agent), a queue q1 on both, a fair-share queue q2 with policy sp1, a consumable resource
 * cr1, the definition jd1 and a few jobs.  It is made anew every RESET_EVERY inputs, so memory
 * stays bounded; arrays are capped at 64 children (--max-array-size) and finished jobs are let
 * go after 50 ms (--retention-hours), so retention runs too.  Developer mode: no signatures.
 *
 * Skipped: AgentRegister and AgentCredentials (an agent's join token, a job role's
 * credentials), the event stream (GET /barge/v1/events, made from a query string by
 * http_sse.c) and the log operations (fuzz_logs).  GetEvents runs with wait forced to 0 and
 * AgentExchange (with i-fuzz's credential) with wait forced to false: neither parks.
 *
 * Every answer must keep the API's contract, or the harness aborts: a 200 has a body, JSON (an
 * object) except for Metrics' text and GetEvents' stream (whose data lines must be), and the
 * members its operation promises; any other status is 400 to 499 (a 5xx means a handler failed, or a commit did) with
 * an error type and a body {"__type": TYPE, "message": TEXT} that parses, so valid UTF-8. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"
#include "server/api/schema.h"
#include "server/base/agent_ident.h"
#include "server/base/core.h"
#include "server/base/logstore.h"
#include "server/base/store.h"
#include "server/engine/attempt.h"
#include "server/model/config.h"
#include "server/model/jobs.h"
#include "server/model/model.h"
#include "server/model/state.h"
#include "server/server.h"
#include "server/server_creds.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_EVERY 2000
#define RECENT 10

static char dir[64];
static store *db;
static logstore *logs;
static state *st;
static unsigned long runs;
static char recent[RECENT][40]; /* recent[0]: the last job submitted */
static char agent_auth[AGENT_IDENT_CRED_MAX + 16];
static int trace; /* FUZZ_API_TRACE set: every answer is printed (for writing seeds) */
static int in_fixture; /* the state's fixtures are being made: each must succeed */

static void fail(const char *what, const char *op, const core_call *c)
{
    fprintf(stderr, "fuzz_api: %s: %s answered %d %s: %.*s\n", what, op, c->status,
            c->err_type ? c->err_type : "(no type)", c->body ? (int)c->body_len : 6,
            c->body ? c->body : "(none)");
    abort();
}

/* The tick, as a call: in a batch of its own, at a known point (the core's own timer would
 * run it at any time and make runs less repeatable). */
static void tick_run(core_call *call, void *ctx, int64_t now_ms)
{
    server_core_hooks(ctx).tick(ctx);
    core_answer(call, json_object());
}

/* ---- calls --------------------------------------------------------------------------------- */

/* What some operations' answers must hold (AWS's members, which SDKs read). */
static const struct {
    const char *op, *members[3];
} promised[] = {
    {"SubmitJob", {"jobId", "jobName", "jobArn"}},
    {"CreateComputeEnvironment", {"computeEnvironmentName", "computeEnvironmentArn"}},
    {"CreateJobQueue", {"jobQueueName", "jobQueueArn"}},
    {"RegisterJobDefinition", {"jobDefinitionName", "jobDefinitionArn", "revision"}},
    {"CreateSchedulingPolicy", {"name", "arn"}},
    {"DescribeJobs", {"jobs"}},
    {"ListJobs", {"jobSummaryList"}},
    {"DescribeComputeEnvironments", {"computeEnvironments"}},
    {"DescribeJobQueues", {"jobQueues"}},
    {"DescribeJobDefinitions", {"jobDefinitions"}},
    {"ListTagsForResource", {"tags"}},
};

/* Checks c's answer to op; returns the parsed body of a JSON 200 (caller releases), or NULL. */
static json_t *check_answer(const api_op *op, const core_call *c)
{
    if (!c->body) fail("an answer without a body", op->name, c);
    if (c->body_len != strlen(c->body)) fail("a body with a NUL inside", op->name, c);
    json_error_t e;
    if (c->status != 200) {
        if (c->status < 400 || c->status > 499 || !c->err_type)
            fail("a failure that is not a client error", op->name, c);
        json_t *b = json_loadb(c->body, c->body_len, 0, &e);
        const char *type = json_string_value(json_object_get(b, "__type"));
        const char *msg = json_string_value(json_object_get(b, "message"));
        if (!type || strcmp(type, c->err_type) != 0 || !msg || !*msg)
            fail("an error body that is not {__type, message}", op->name, c);
        json_decref(b);
        return NULL;
    }
    if (c->err_type) fail("a 200 with an error type", op->name, c);
    if (strcmp(op->name, "Metrics") == 0) return NULL;
    if (strcmp(op->name, "GetEvents") == 0) {
        /* Text made by hand (api_events.c): a JSON object, or with sse a stream whose every
         * data line is one. */
        if (c->body[0] == '{') {
            json_t *b = json_loadb(c->body, c->body_len, 0, &e);
            if (!json_is_array(json_object_get(b, "events")) ||
                !json_is_integer(json_object_get(b, "lastSeq")))
                fail("events that are not {events, lastSeq}", op->name, c);
            json_decref(b);
            return NULL;
        }
        for (const char *l = c->body; (l = strstr(l, "data: ")); l++) {
            json_t *d = json_loadb(l + 6, strcspn(l + 6, "\n"), 0, &e);
            if (!json_is_object(d)) fail("an event stream's data that is not JSON", op->name, c);
            json_decref(d);
        }
        return NULL;
    }
    json_t *b = json_loadb(c->body, c->body_len, 0, &e);
    if (!json_is_object(b)) fail("a 200 whose body is not a JSON object", op->name, c);
    for (size_t i = 0; i < sizeof promised / sizeof *promised; i++) {
        if (strcmp(promised[i].op, op->name) != 0) continue;
        for (int m = 0; m < 3 && promised[i].members[m]; m++)
            if (!json_object_get(b, promised[i].members[m]))
                fail("a 200 without a member its operation promises", op->name, c);
    }
    return b;
}

/* Runs op on req (taken) through the core, as the HTTP server does; returns the parsed answer
 * of a JSON 200 (caller releases), or NULL. */
static json_t *run_op(const api_op *op, json_t *req, const char *auth)
{
    core_call c = {.run = api_run, .arg = op, .req = req, .auth = auth};
    core_call_wait(&c);
    json_t *b = check_answer(op, &c);
    if (in_fixture && c.status != 200) fail("a fixture failed", op->name, &c);
    if (trace) fprintf(stderr, "%s: %d %.*s\n", op->name, c.status, (int)c.body_len, c.body);
    free(c.body);
    if (b && strcmp(op->name, "SubmitJob") == 0) {
        memmove(recent[1], recent[0], sizeof recent - sizeof recent[0]);
        snprintf(recent[0], sizeof recent[0], "%s",
                 json_string_value(json_object_get(b, "jobId")));
    }
    if (b && json_is_string(json_object_get(b, "credential")))
        snprintf(agent_auth, sizeof agent_auth, "Bearer %s",
                 json_string_value(json_object_get(b, "credential")));
    /* The tick, and the timers the call set, before the next input. */
    core_call t = {.run = tick_run};
    core_call_wait(&t);
    if (t.status != 200) fail("the tick's batch failed", "the tick", &t);
    free(t.body);
    return b;
}

/* "%N..." and "%aN...": a recent job's id or ARN, then the rest; NULL when s is neither. */
static char *expand(const char *s)
{
    if (s[0] != '%') return NULL;
    int arn = s[1] == 'a';
    const char *d = s + 1 + arn;
    if (*d < '0' || *d > '9') return NULL;
    const char *id = recent[*d - '0'];
    if (arn)
        return xasprintf("arn:aws:batch:%s:%s:job/%s%s", barge_cfg.region, barge_cfg.account_id,
                         id, d + 1);
    return xasprintf("%s%s", id, d + 1);
}

static void expand_all(json_t *v)
{
    const char *k;
    json_t *m;
    size_t i;
    void *tmp;
    if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, k, m) {
            char *x = json_is_string(m) ? expand(json_string_value(m)) : NULL;
            if (x) json_object_set_new(v, k, json_string(x));
            else expand_all(m);
            free(x);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) {
            char *x = json_is_string(m) ? expand(json_string_value(m)) : NULL;
            if (x) json_array_set_new(v, i, json_string(x));
            else expand_all(m);
            free(x);
        }
    }
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v) {
        fprintf(stderr, "fuzz_api: a fixture is not JSON: %s: %s\n", e.text, text);
        abort();
    }
    return v;
}

/* A fixture: must succeed. */
static void must(const char *path, const char *body, const char *auth)
{
    const api_op *op = api_route("POST", path);
    json_t *req = parse(body);
    char err[600];
    if (!op || schema_check(op->compiled, req, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_api: fixture %s: %s\n", path, op ? err : "no such operation");
        abort();
    }
    in_fixture = 1;
    json_decref(run_op(op, req, auth));
    in_fixture = 0;
}

/* ---- the state ----------------------------------------------------------------------------- */

static void open_state(void)
{
    /* In memory when the machine has /dev/shm: the state is made anew often, and a disk busy
     * elsewhere once held a reset for over ten seconds (a libFuzzer timeout). */
    snprintf(dir, sizeof dir, "%s/barge-fuzz-api-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    char *err = NULL;
    if (!mkdtemp(dir) || !(db = store_sqlite_open(dir, STORE_SYNC_NORMAL, &err)) ||
        !(logs = logstore_open(dir, &err)) || !(st = model_load(db, &err))) {
        fprintf(stderr, "fuzz_api: cannot make the state in %s: %s\n", dir, err ? err : "mkdtemp");
        exit(1);
    }
    logstore_wait(logs, logstore_create_group(logs, LOGSTORE_BATCH_GROUP));
    st->logs = logs;
    barge_cfg.data_dir = dir;
    attempt_recover(st);
    server_creds_restore(st);
    /* The server's own hooks, but its timer: the tick runs as a call after each input. */
    core_hooks hooks = server_core_hooks(st);
    hooks.tick = NULL;
    if (core_start(db, &hooks, &err) < 0) {
        fprintf(stderr, "fuzz_api: %s\n", err);
        exit(1);
    }
    memset(recent, 0, sizeof recent);
    must("/v1/createcomputeenvironment",
         "{\"computeEnvironmentName\":\"ce1\",\"type\":\"UNMANAGED\",\"unmanagedvCpus\":64}", NULL);
    must("/v1/createcomputeenvironment",
         "{\"computeEnvironmentName\":\"ce2\",\"type\":\"MANAGED\",\"computeResources\":{\"type\":"
         "\"EC2\",\"minvCpus\":0,\"maxvCpus\":16,\"instanceTypes\":[\"optimal\"]}}", NULL);
    must("/barge/v1/agent/register",
         "{\"computeEnvironment\":\"ce1\",\"instanceId\":\"i-fuzz\",\"vcpus\":64,"
         "\"memoryMiB\":65536,\"cgroups\":\"none\"}", "Bearer join-token");
    must("/v1/createschedulingpolicy",
         "{\"name\":\"sp1\",\"fairsharePolicy\":{\"shareDecaySeconds\":60,\"computeReservation\":"
         "10,\"shareDistribution\":[{\"shareIdentifier\":\"a*\",\"weightFactor\":0.5}]}}", NULL);
    must("/v1/createjobqueue",
         "{\"jobQueueName\":\"q1\",\"priority\":1,\"computeEnvironmentOrder\":[{\"order\":1,"
         "\"computeEnvironment\":\"ce1\"},{\"order\":2,\"computeEnvironment\":\"ce2\"}]}", NULL);
    must("/v1/createjobqueue",
         "{\"jobQueueName\":\"q2\",\"priority\":2,\"schedulingPolicyArn\":\"arn:aws:batch:"
         "us-east-1:123456789012:scheduling-policy/sp1\",\"computeEnvironmentOrder\":[{\"order\":1,"
         "\"computeEnvironment\":\"ce1\"}]}", NULL);
    must("/v1/createconsumableresource",
         "{\"consumableResourceName\":\"cr1\",\"totalQuantity\":4,\"resourceType\":\"REPLENISHABLE\"}",
         NULL);
    must("/v1/registerjobdefinition",
         "{\"jobDefinitionName\":\"jd1\",\"type\":\"container\",\"parameters\":{\"p\":\"v\"},"
         "\"containerProperties\":{\"image\":\"busybox\",\"command\":[\"echo\",\"Ref::p\"],"
         "\"resourceRequirements\":[{\"type\":\"VCPU\",\"value\":\"1\"},{\"type\":\"MEMORY\","
         "\"value\":\"128\"}]}}", NULL);
    /* Jobs for "%N": one placed on i-fuzz, one that waits for it, an array. */
    must("/v1/submitjob", "{\"jobName\":\"a\",\"jobQueue\":\"q1\",\"jobDefinition\":\"jd1\"}",
         NULL);
    char body[256];
    snprintf(body, sizeof body,
             "{\"jobName\":\"b\",\"jobQueue\":\"q1\",\"jobDefinition\":\"jd1\",\"dependsOn\":"
             "[{\"jobId\":\"%s\"}]}", recent[0]);
    must("/v1/submitjob", body, NULL);
    must("/v1/submitjob", "{\"jobName\":\"c\",\"jobQueue\":\"q2\",\"jobDefinition\":\"jd1\","
                          "\"shareIdentifier\":\"ab\",\"arrayProperties\":{\"size\":3}}", NULL);
}

static void remove_dir(void)
{
    static const char *const files[] = {"barge.db", "barge.db-wal", "barge.db-shm", "logs.db",
                                        "logs.db-wal", "logs.db-shm"};
    char path[sizeof dir + 16];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/images", dir); /* what a launch would have made */
    rmdir(path);
    rmdir(dir);
}

static void close_state(void)
{
    core_stop();
    model_free(st);
    logstore_close(logs);
    store_close(db);
    remove_dir();
    st = NULL;
}

static void at_exit(void)
{
    if (st) close_state();
    agent_ident_free();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_level = 99; /* quiet: only the sanitizers speak */
    config_defaults(&barge_cfg);
    barge_cfg.dev = 1;
    trace = getenv("FUZZ_API_TRACE") != NULL;
    barge_cfg.max_array_size = 64;
    barge_cfg.retention_ms = 50;
    jobdef_init();
    api_init();
    api_job_init();
    server_creds_wire();
    open_state();
    atexit(at_exit);
    return 0;
}

/* ---- one input ----------------------------------------------------------------------------- */

/* DELETE's query: each tagKeys=K adds K, as libmicrohttpd hands them to dispatch. */
static json_t *tag_keys(const char *q)
{
    json_t *keys = json_array();
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n > 8 && strncmp(q, "tagKeys=", 8) == 0) {
            char *k = xstrndup(q + 8, n - 8);
            json_array_append_new(keys, json_string(k));
            free(k);
        }
        q = amp ? amp + 1 : NULL;
    }
    return keys;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    if (!nl) return 0;
    size_t plen = (size_t)(nl - (const char *)data);
    if (plen > 2048) return 0;
    char *line = xstrndup((const char *)data, plen);
    if (strlen(line) != plen) {
        free(line);
        return 0;
    }
    if (++runs % RESET_EVERY == 0) {
        close_state();
        open_state();
    }
    const char *method = NULL, *path = line;
    static const char *const methods[] = {"POST ", "GET ", "DELETE "};
    for (int m = 0; m < 3; m++)
        if (strncmp(line, methods[m], strlen(methods[m])) == 0) {
            method = methods[m];
            path = line + strlen(methods[m]);
        }
    char *query = strchr(path, '?');
    if (query) *query++ = '\0';
    const char *pct = strchr(path, '%');
    char *xr = pct ? expand(pct) : NULL, *xp = xr ? xasprintf("%.*s%s", (int)(pct - path), path, xr)
                                                  : NULL;
    free(xr);
    const char *url = xp ? xp : path;
    const api_op *op = NULL;
    if (method) {
        char m[8];
        snprintf(m, sizeof m, "%.*s", (int)strlen(method) - 1, method);
        op = api_route(m, url);
    } else {
        for (int m = 0; m < 3 && !op; m++) {
            char mm[8];
            snprintf(mm, sizeof mm, "%.*s", (int)strlen(methods[m]) - 1, methods[m]);
            op = api_route(mm, url);
        }
    }
    const char *body = nl + 1;
    size_t blen = size - plen - 1;
    size_t limit = op && op->max_body ? op->max_body : barge_cfg.max_body;
    int skip = !op || blen > limit || strcmp(op->name, "AgentRegister") == 0 ||
               strcmp(op->name, "AgentCredentials") == 0 ||
               strcmp(op->path, "/barge/v1/events") == 0;
    json_error_t e;
    json_t *req = skip ? NULL : blen ? json_loadb(body, blen, JSON_REJECT_DUPLICATES, &e)
                                      : json_object();
    if (!json_is_object(req)) skip = 1;
    char err[600];
    if (!skip) {
        expand_all(req);
        size_t n = strlen(op->path);
        if (op->path[n - 1] == '*') {
            json_object_set_new(req, "resourceArn", json_string(url + n - 1));
            if (strcmp(op->method, "DELETE") == 0)
                json_object_set_new(req, "tagKeys", tag_keys(query));
        }
        if (schema_check(op->compiled, req, err, sizeof err) < 0) {
            if (!err[0]) abort();
            skip = 1;
        }
    }
    if (!skip) {
        const char *auth = NULL;
        /* Long polls answer at once here. */
        if (strcmp(op->name, "GetEvents") == 0)
            json_object_set_new(req, "wait", json_integer(0));
        if (strcmp(op->name, "AgentExchange") == 0) {
            json_object_set_new(req, "wait", json_false());
            auth = agent_auth;
        }
        json_decref(run_op(op, req, auth));
    } else {
        json_decref(req);
    }
    free(xp);
    free(line);
    return 0;
}
