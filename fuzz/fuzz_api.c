/* fuzz_api — the AWS Batch API handlers themselves, run by the real core against a real model
 * state: each input is one request, checked against its operation's shape as http_server.c's
 * dispatch checks it, then handed to the core thread (core_start, core_call_wait) as the HTTP
 * server hands it, so that the handler runs inside a store transaction, followed by the
 * server's before-commit work (a scheduling pass, the fleet's answers, the writes of jobs,
 * shares, instances and events), the commit, and the zero-delay timers the handler set (a
 * compute environment or queue settling).  After each request a second call runs the server's
 * tick (drain, fleet, time limits, metrics, event expiry, retention) in its own batch.
 *
 * Input: "[!\n][@WHO\n][HEADER\n]...PATH\nBODY".  "!" makes the state anew first (what the
 * requests before broke, such as i-fuzz or the role's job, is back).  PATH is routed as POST,
 * then GET, then DELETE, unless it starts with a method ("GET /v1/tags/ARN"); a '?' starts the
 * query, decoded as libmicrohttpd decodes it (DELETE's tagKeys, the event stream's after,
 * queue and status).  Job ids are random, so in the path and in any string of the body "%N" (N
 * a digit) stands for the id of the N-th most recent job submitted (its array children are
 * "%N:3") and "%aN" for its ARN; what follows the digit is kept.
 *
 * Without "@WHO" the server is a --dev one: no signature (an Authorization header is only
 * parsed), no policy, any join token.  With it, the server has --credentials and no --dev: the
 * request is signed as an SDK signs it with the key of WHO (admin, submit, read, ops, temp: the
 * credentials file's sections below; role: the keys AgentCredentials last issued; stranger: a
 * key the server does not know), at the server's time plus SECONDS for "@WHO+SECONDS" or
 * "@WHO-SECONDS", on a server whose clock reads LATER seconds from now with "~LATER" after
 * either (the role's credentials expire), verified (auth_verify) and authorized by WHO's policies (auth_authorize, or
 * auth_authorize_logs for a CloudWatch Logs request, POST / with X-Amz-Target, which goes no
 * further: fuzz_logs runs those).  HEADER lines: "+Name: value" a header the client sends and
 * signs, "=Name: value" one put in place of those of its name once the request is signed,
 * "-Name" those removed then (api_client.h).  A request left as signed, by a key the server
 * knows and within the clock's window, must verify: what the CLI's signer makes, the server
 * must take.
 *
 * Agents do not sign: their Authorization header is the request's, by default "Bearer
 * join-token" for AgentRegister (--agent-token; --agent-tokens adds any-join-token-0001, and
 * ce2-join-token-0001 for ce2 alone) and for the rest the last credential of the instance the
 * request names (i-fuzz when it names none).
 *
 * The state: a SQLite store and a log store in a fresh directory, with an UNMANAGED compute
 * environment ce1 (an agent's instance i-fuzz of 64 vCPUs registered to it, so that jobs are
 * placed), a MANAGED ce2 (no URL is handed to the fleet, so the local provider never launches
 * an agent), a queue q1 on both, a fair-share queue q2 with policy sp1, a consumable resource
 * cr1, the definitions jd1 and jd2 (with the job role role/fuzz), a few jobs (one of jd2, whose
 * attempt has had credentials issued).  It is made anew every RESET_EVERY inputs, so memory
 * stays bounded; arrays are capped at 64 children (--max-array-size) and finished jobs are let
 * go after 50 ms (--retention-hours), so retention runs too.  The keys, policies, roles and
 * join tokens are loaded once, at start.  GetEvents runs with wait forced to 0 and
 * AgentExchange with wait forced to false: neither parks.  The event stream (GET
 * /barge/v1/events) runs its first poll as the server does before the stream starts, then the
 * poll after it, from where the first said the stream stands.
 *
 * Every answer must keep the API's contract, or the harness aborts: a 200 has a body, JSON (an
 * object) except for Metrics' text and GetEvents' stream (whose data lines must be, whose event
 * ids rise past where the poll started, and whose request keeps every filter its query gave),
 * and the members its operation promises; any other status, and every refusal of a signature
 * or a policy, is 400 to 499 (a 5xx means a handler failed, or a commit did) with an error type
 * and a body {"__type": TYPE, "message": TEXT} that parses, so valid UTF-8. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/errbody.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/sigv4.h"
#include "common/util.h"
#include "server/api/api.h"
#include "server/api/api_logs.h"
#include "server/api/auth.h"
#include "server/api/auth_temp.h"
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
#include "server/http_sse.h"
#include "server/server.h"
#include "server/server_creds.h"

#include "api_client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_EVERY 2000
#define RECENT 10
#define AGENTS 8

static char dir[64];
static store *db;
static logstore *logs;
static state *st;
static unsigned long runs;
static char recent[RECENT][40]; /* recent[0]: the last job submitted */
static int trace; /* FUZZ_API_TRACE set: every answer is printed (for writing seeds) */
static int in_fixture; /* the state's fixtures are being made: each must succeed */

/* The instances registered, each with the Authorization header of its last credential;
 * agents[0] is i-fuzz. */
static struct {
    char id[AGENT_IDENT_ID_MAX + 1];
    char auth[AGENT_IDENT_CRED_MAX + 16];
} agents[AGENTS];

/* The keys the server knows (--credentials), and one it does not. */
static const struct principal {
    const char *who, *key, *secret, *token, *policies;
} principals[] = {
    {"admin", "AKIAFUZZADMIN0000001", "secret-admin", NULL, "admin"},
    {"submit", "AKIAFUZZSUBMIT000001", "secret-submit", NULL, "submit"},
    {"read", "AKIAFUZZREAD00000001", "secret-read", NULL, "read"},
    {"ops", "AKIAFUZZOPS000000001", "secret-ops", NULL, "one-queue, no-terminate"},
    {"temp", "ASIAFUZZTEMP00000001", "secret-temp", "token-temp", "admin"},
    {"stranger", "AKIAFUZZSTRANGER0001", "secret-stranger", NULL, NULL},
};
/* The temporary credentials AgentCredentials last issued (WHO role). */
static auth_temp_creds role;

/* --policies: one to a queue and some definitions, one to all but a denial; with IAM's '*' and
 * '?' in actions and resources. */
static const char policies_json[] =
    "{\"one-queue\": {\"Version\": \"2012-10-17\", \"Statement\": ["
    "{\"Effect\": \"Allow\", \"Action\": \"batch:SubmitJob\", \"Resource\": ["
    "\"arn:aws:batch:us-east-1:123456789012:job-queue/q1\","
    " \"arn:aws:batch:us-east-1:123456789012:job-definition/jd*\"]},"
    "{\"Effect\": \"Allow\", \"Action\": [\"batch:Describe*\", \"batch:List*\","
    " \"batch:*Tag*\", \"logs:Get?ogEvents\"], \"Resource\": \"*\"}]},"
    "\"no-terminate\": {\"Statement\": ["
    "{\"Effect\": \"Allow\", \"Action\": \"batch:*\", \"Resource\": ["
    "\"arn:aws:batch:*:*:job-queue/q?\","
    " \"arn:aws:batch:us-east-1:123456789012:compute-environment/*\"]},"
    "{\"Effect\": \"Deny\", \"Action\": [\"batch:TerminateJob\", \"batch:Delete*\"],"
    " \"Resource\": \"*\"}]}}";
static const char roles_json[] =
    "{\"arn:aws:iam::123456789012:role/fuzz\": [\"submit\", \"one-queue\"],"
    " \"arn:aws:iam::123456789012:role/team/reader\": \"read\"}";
/* --agent-tokens: one for ce2 alone, one for the whole server. */
static const char tokens_txt[] = "# fuzz\nce2-join-token-0001 ce2\nany-join-token-0001\n";

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
    {"AgentRegister", {"instanceId", "credential", "pollSeconds"}},
    {"AgentCredentials", {"AccessKeyId", "SecretAccessKey", "Token"}},
};

/* An event stream's answer: every data line JSON, event ids rising from after (-1: anywhere),
 * and the last line saying where the next poll starts.  Lines are read whole: an event's JSON
 * may hold "id: " in any string, never a newline. */
static void check_stream(const char *op, const core_call *c, long long after)
{
    json_error_t e;
    for (const char *l = c->body; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0)) {
        size_t n = strcspn(l, "\n");
        if (n > 6 && strncmp(l, "data: ", 6) == 0) {
            json_t *d = json_loadb(l + 6, n - 6, 0, &e);
            if (!json_is_object(d)) fail("an event stream's data that is not JSON", op, c);
            json_decref(d);
        } else if (n > 4 && strncmp(l, "id: ", 4) == 0) {
            long long id = strtoll(l + 4, NULL, 10);
            if (id <= after) fail("an event stream's ids that do not rise", op, c);
            after = id;
        }
    }
    if (http_sse_resume_at(c->body, c->body_len) < 0)
        fail("an event stream's answer that does not say where it stands", op, c);
}

/* Checks c's answer to op; returns the parsed body of a JSON 200 (caller releases), or NULL. */
static json_t *check_answer(const char *op, const core_call *c)
{
    if (!c->body) fail("an answer without a body", op, c);
    if (c->body_len != strlen(c->body)) fail("a body with a NUL inside", op, c);
    json_error_t e;
    if (c->status != 200) {
        if (c->status < 400 || c->status > 499 || !c->err_type)
            fail("a failure that is not a client error", op, c);
        json_t *b = json_loadb(c->body, c->body_len, 0, &e);
        const char *type = json_string_value(json_object_get(b, "__type"));
        const char *msg = json_string_value(json_object_get(b, "message"));
        if (!type || strcmp(type, c->err_type) != 0 || !msg || !*msg)
            fail("an error body that is not {__type, message}", op, c);
        json_decref(b);
        return NULL;
    }
    if (c->err_type) fail("a 200 with an error type", op, c);
    if (strcmp(op, "Metrics") == 0) return NULL;
    if (strcmp(op, "GetEvents") == 0) {
        /* Text made by hand (api_events.c): a JSON object, or with sse a stream. */
        if (c->body[0] != '{') {
            check_stream(op, c, -1);
            return NULL;
        }
        json_t *b = json_loadb(c->body, c->body_len, 0, &e);
        if (!json_is_array(json_object_get(b, "events")) ||
            !json_is_integer(json_object_get(b, "lastSeq")))
            fail("events that are not {events, lastSeq}", op, c);
        json_decref(b);
        return NULL;
    }
    json_t *b = json_loadb(c->body, c->body_len, 0, &e);
    if (!json_is_object(b)) fail("a 200 whose body is not a JSON object", op, c);
    for (size_t i = 0; i < sizeof promised / sizeof *promised; i++) {
        if (strcmp(promised[i].op, op) != 0) continue;
        for (int m = 0; m < 3 && promised[i].members[m]; m++)
            if (!json_object_get(b, promised[i].members[m]))
                fail("a 200 without a member its operation promises", op, c);
    }
    return b;
}

/* A refusal made before the core (a signature, a policy, the stream's query): its answer must
 * keep the contract too. */
static void check_refusal(const char *op, int status, const char *type, const char *msg)
{
    core_call c = {.status = status, .err_type = type, .body = errbody_new(type, msg)};
    c.body_len = strlen(c.body);
    if (in_fixture) fail("a fixture was refused", op, &c);
    if (trace) fprintf(stderr, "%s: refused %d %s\n", op, status, c.body);
    check_answer(op, &c);
    free(c.body);
}

/* What an answer hands out: an instance's credential, a job role's. */
static void remember(json_t *b)
{
    const char *cred = json_string_value(json_object_get(b, "credential"));
    size_t n = cred ? strcspn(cred, ":") : 0;
    if (cred && n <= AGENT_IDENT_ID_MAX) {
        int slot = AGENTS - 1;
        for (int i = AGENTS - 1; i >= 0; i--)
            if (!agents[i].id[0] || (strlen(agents[i].id) == n && !strncmp(agents[i].id, cred, n)))
                slot = i;
        snprintf(agents[slot].id, sizeof agents[slot].id, "%.*s", (int)n, cred);
        snprintf(agents[slot].auth, sizeof agents[slot].auth, "Bearer %s", cred);
    }
    const char *k = json_string_value(json_object_get(b, "AccessKeyId"));
    const char *s = json_string_value(json_object_get(b, "SecretAccessKey"));
    const char *t = json_string_value(json_object_get(b, "Token"));
    if (k && s && t) {
        snprintf(role.access_key, sizeof role.access_key, "%s", k);
        snprintf(role.secret, sizeof role.secret, "%s", s);
        snprintf(role.token, sizeof role.token, "%s", t);
    }
}

/* The Authorization header of an agent's request that gives none: instance id's credential. */
static const char *agent_auth(const api_op *op, const char *id)
{
    if (strcmp(op->name, "AgentRegister") == 0) return "Bearer join-token";
    for (int i = 0; id && i < AGENTS; i++)
        if (strcmp(agents[i].id, id) == 0) return agents[i].auth;
    return agents[0].auth;
}

/* Runs op on req (taken) through the core, as the HTTP server does; returns the parsed answer
 * of a JSON 200 (caller releases), or NULL.  With text, a 200's body is left there (the caller
 * frees it). */
static json_t *run_op(const api_op *op, json_t *req, const char *auth, char **text)
{
    core_call c = {.run = api_run, .arg = op, .req = req, .auth = auth};
    core_call_wait(&c);
    /* A stream's poll answers with its events held, not as text: its text is what a stream or a
     * webhook reads from it (event_answer.h), checked as the rest. */
    core_call_flatten(&c);
    json_t *b = check_answer(op->name, &c);
    if (in_fixture && c.status != 200) fail("a fixture failed", op->name, &c);
    if (trace) fprintf(stderr, "%s: %d %.*s\n", op->name, c.status, (int)c.body_len, c.body);
    if (text && c.status == 200) *text = c.body;
    else free(c.body);
    if (b && strcmp(op->name, "SubmitJob") == 0) {
        memmove(recent[1], recent[0], sizeof recent - sizeof recent[0]);
        snprintf(recent[0], sizeof recent[0], "%s",
                 json_string_value(json_object_get(b, "jobId")));
    }
    if (b) remember(b);
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

/* A fixture: must succeed. */
static void must(const char *path, const char *body, const char *auth)
{
    const api_op *op = api_route("POST", path);
    json_t *req = json_loads(body, 0, NULL);
    char err[600] = "not JSON";
    if (!op || !req || schema_check(op->compiled, req, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_api: fixture %s: %s\n", path, op ? err : "no such operation");
        abort();
    }
    in_fixture = 1;
    json_decref(run_op(op, req, auth, NULL));
    in_fixture = 0;
}

/* ---- the state ----------------------------------------------------------------------------- */

/* A fresh directory, in memory when the machine has /dev/shm: the state is made anew often, and
 * a disk busy elsewhere once held a reset for over ten seconds (a libFuzzer timeout). */
static void make_dir(char *out, size_t len, const char *what)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(out, len, "%s/barge-fuzz-%s-XXXXXX", base, what);
    if (!mkdtemp(out)) {
        fprintf(stderr, "fuzz_api: cannot make %s\n", out);
        exit(1);
    }
}

static void open_state(void)
{
    make_dir(dir, sizeof dir, "api");
    char *err = NULL;
    if (!(db = store_sqlite_open(dir, STORE_SYNC_NORMAL, &err)) ||
        !(logs = logstore_open(dir, &err)) || !(st = model_load(db, &err))) {
        fprintf(stderr, "fuzz_api: cannot make the state in %s: %s\n", dir, err);
        exit(1);
    }
    logstore_wait(logs, logstore_create_group(logs, LOGSTORE_BATCH_GROUP));
    st->logs = logs;
    barge_cfg.data_dir = dir;
    barge_cfg.dev = 1;
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
    memset(agents, 0, sizeof agents);
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
    must("/v1/registerjobdefinition",
         "{\"jobDefinitionName\":\"jd2\",\"type\":\"container\",\"containerProperties\":{"
         "\"image\":\"busybox\",\"command\":[\"true\"],\"jobRoleArn\":"
         "\"arn:aws:iam::123456789012:role/fuzz\",\"resourceRequirements\":[{\"type\":\"VCPU\","
         "\"value\":\"1\"},{\"type\":\"MEMORY\",\"value\":\"128\"}]}}", NULL);
    must("/v1/registerjobdefinition",
         "{\"jobDefinitionName\":\"mn\",\"type\":\"multinode\",\"retryStrategy\":{"
         "\"attempts\":2},\"nodeProperties\":{\"numNodes\":2,\"mainNode\":0,"
         "\"nodeRangeProperties\":[{\"targetNodes\":\"0:1\",\"container\":{\"image\":"
         "\"busybox\",\"command\":[\"true\"],\"vcpus\":1,\"memory\":64}}]}}", NULL);
    /* Jobs for "%N": a multi-node job of two nodes and two attempts, placed on i-fuzz (%4#0,
     * %4#1); one with a role, placed on i-fuzz, whose attempt gets credentials; one placed;
     * one that waits for it; an array. */
    must("/v1/submitjob", "{\"jobName\":\"m\",\"jobQueue\":\"q1\",\"jobDefinition\":\"mn\"}",
         NULL);
    must("/v1/submitjob", "{\"jobName\":\"d\",\"jobQueue\":\"q1\",\"jobDefinition\":\"jd2\"}",
         NULL);
    char body[256];
    snprintf(body, sizeof body, "{\"jobId\":\"%s\",\"attempt\":1}", recent[0]);
    must("/barge/v1/agent/credentials", body, agents[0].auth);
    must("/v1/submitjob", "{\"jobName\":\"a\",\"jobQueue\":\"q1\",\"jobDefinition\":\"jd1\"}",
         NULL);
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

/* The keys, policies, roles and join tokens, from files as the server reads them. */
static void load_keys(void)
{
    char kdir[64], path[4][96];
    make_dir(kdir, sizeof kdir, "keys");
    buf creds = {0};
    for (size_t i = 0; i < sizeof principals / sizeof *principals; i++) {
        const struct principal *p = &principals[i];
        if (!p->policies) continue;
        buf_printf(&creds, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                   "barge_policy = %s\n", p->who, p->key, p->secret, p->policies);
        if (p->token) buf_printf(&creds, "aws_session_token = %s\n", p->token);
    }
    buf_puts(&creds, "barge_rate_limit = 100/s,10\n");
    const char *const names[4] = {"credentials", "policies.json", "roles.json", "tokens"};
    const char *const texts[4] = {creds.data, policies_json, roles_json, tokens_txt};
    for (int i = 0; i < 4; i++) {
        snprintf(path[i], sizeof path[i], "%s/%s", kdir, names[i]);
        FILE *f = fopen(path[i], "w");
        if (!f || fputs(texts[i], f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "fuzz_api: cannot write %s\n", path[i]);
            exit(1);
        }
    }
    buf_free(&creds);
    char *err = NULL;
    if (auth_load(path[0], path[1], &err) < 0 || auth_temp_init(path[2], 0, &err) < 0 ||
        agent_ident_load_tokens(path[3], &err) < 0) {
        fprintf(stderr, "fuzz_api: %s\n", err);
        exit(1);
    }
    agent_ident_set_server_token("join-token");
    for (int i = 0; i < 4; i++) unlink(path[i]);
    rmdir(kdir);
}

static void at_exit(void)
{
    if (st) close_state();
    agent_ident_free();
    auth_temp_free();
    auth_free();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_level = 99; /* quiet: only the sanitizers speak */
    config_defaults(&barge_cfg);
    trace = getenv("FUZZ_API_TRACE") != NULL;
    barge_cfg.max_array_size = 64;
    barge_cfg.retention_ms = 50;
    jobdef_init();
    api_init();
    api_job_init();
    server_creds_wire();
    load_keys();
    open_state();
    atexit(at_exit);
    return 0;
}

/* ---- one input ----------------------------------------------------------------------------- */

/* The request in, signed by p as an SDK signs it at now + offset, into sent (what the server
 * receives, the input's edits applied), then verified as http_server.c verifies it.  The
 * principal, held, or NULL after the refusal was checked.
 *
 * A request the input did not tamper with, signed by a key the server knows within its clock's
 * window, must verify: the signer (sigv4_sign, the CLI's) and the verifier must agree on every
 * request a client can send.  Only the role's credentials may have gone since they were
 * issued (their attempt ended). */
static const auth_principal *sign_verify(client_input *in, const struct principal *p,
                                         long offset, long later, const api_op *op,
                                         const char *service,
                                         const char *method, const char *url, const char *query,
                                         client_headers *sent, sigv4_signed *sig)
{
    size_t n = strlen(op->path), label_at = op->path[n - 1] == '*' ? n - 1 : 0;
    /* The server's clock, LATER seconds on: credentials issued before may have expired. */
    time_t now = time(NULL) + later;
    sigv4_credentials cred = {.access_key = p->key, .secret_key = p->secret,
                              .session_token = p->token, .region = barge_cfg.region,
                              .service = service};
    if (client_sign(in, &cred, now + offset, method, url, label_at, query, sent, sig) < 0)
        return NULL; /* nothing a client could send */
    auth_request ar = {.method = method, .path = url, .label_at = label_at, .query = query,
                       .headers = sent->h, .nheaders = sent->n, .body = in->body,
                       .body_len = in->blen, .service = service, .now = now};
    const auth_principal *who;
    auth_refusal why;
    if (auth_verify(&ar, &who, &why) == 0) return who;
    check_refusal(op->name, why.status, why.type, why.msg);
    int must_pass = strcmp(p->who, "stranger") != 0 && offset >= -900 && offset <= 900 &&
                    client_untouched(in);
    if (must_pass && (p->policies || (strcmp(why.type, "UnrecognizedClientException") &&
                                      strcmp(why.type, "ExpiredTokenException")))) {
        fprintf(stderr, "fuzz_api: a request signed by %s as an SDK signs it was refused: "
                "%s: %s\ncanonical request:\n%s\n", p->who, why.type, why.msg,
                sig->canonical_request);
        abort();
    }
    return NULL;
}

/* GET /barge/v1/events: the stream's first poll (wait 0, as the server makes it before the
 * stream starts), then the poll after it from where the first said the stream stands. */
static void run_stream(const api_op *op, json_t *req)
{
    json_t *again = json_deep_copy(req);
    char *text = NULL;
    json_decref(run_op(op, req, NULL, &text));
    if (text) {
        long long at = http_sse_resume_at(text, strlen(text));
        free(text);
        text = NULL;
        json_object_set_new(again, "after", json_integer(at));
        json_decref(run_op(op, json_incref(again), NULL, &text));
        if (text) {
            core_call c = {.status = 200, .body = text, .body_len = strlen(text)};
            check_stream(op->name, &c, at);
        }
        free(text);
    }
    json_decref(again);
}

/* The principal named WHO[+-SECONDS][~LATER], the seconds and the later; NULL when there is
 * none. */
static const struct principal *signer_of(char *who, long *offset, long *later)
{
    static struct principal as_role;
    char *tilde = strchr(who, '~');
    *later = 0;
    if (tilde) {
        char *e;
        *later = strtol(tilde + 1, &e, 10);
        if (*e || tilde[1] == '-' || tilde[1] == '+' || *later < 0 || *later > 400L * 86400)
            return NULL;
        *tilde = '\0';
    }
    size_t n = strcspn(who, "+-");
    char *e = who + n;
    *offset = who[n] ? strtol(who + n, &e, 10) : 0;
    if (*e || *offset > 400L * 86400 || *offset < -400L * 86400) return NULL;
    who[n] = '\0';
    for (size_t i = 0; i < sizeof principals / sizeof *principals; i++)
        if (strcmp(who, principals[i].who) == 0) return &principals[i];
    as_role = (struct principal){"role", role.access_key, role.secret, role.token, NULL};
    return strcmp(who, "role") == 0 && role.access_key[0] ? &as_role : NULL;
}

/* The operation of a request line's method (NULL: POST, GET or DELETE, the first that has one)
 * and path; *method is set to its method. */
static const api_op *route(const char **method, const char *url)
{
    static const char *const methods[] = {"POST", "GET", "DELETE"};
    for (int m = 0; m < 3; m++) {
        if (*method && strcmp(*method, methods[m]) != 0) continue;
        const api_op *op = api_route(methods[m], url);
        if (op) {
            *method = methods[m];
            return op;
        }
    }
    return NULL;
}

/* The request's JSON: the stream's from its query and Last-Event-ID (http_sse.c), any other's
 * from its body (with "%N" put in), then a URI label's members as dispatch adds them.  NULL
 * when the server answers before the core (the refusal checked) or the input is not JSON. */
static json_t *request_of(const api_op *op, const char *method, const char *url,
                          const client_query *q, const client_headers *sent,
                          const client_input *in)
{
    json_t *req = NULL;
    if (strcmp(op->path, "/barge/v1/events") == 0) {
        http_sse_query sq = {0};
        for (size_t i = 0; i < q->n; i++) http_sse_arg(&sq, q->key[i], q->value[i]);
        const char *bad = http_sse_query_request(&sq, client_header(sent, "Last-Event-ID"), &req);
        if (bad) {
            char msg[200];
            snprintf(msg, sizeof msg, "GET /barge/v1/events: %s", bad);
            check_refusal(op->name, 400, "ClientException", msg);
            json_decref(req);
            return NULL;
        }
        /* The stream serves no more than its query asked for: each queue and status it names
         * is in the request, or the request is refused. */
        size_t queues = 0, statuses = 0;
        for (size_t i = 0; i < q->n; i++) {
            const char *v = q->value[i] ? q->value[i] : "";
            queues += strcmp(q->key[i], "queue") == 0;
            for (size_t k = 0; strcmp(q->key[i], "status") == 0 && v[k]; k++)
                statuses += v[k] != ',' && (k == 0 || v[k - 1] == ',');
        }
        if ((queues && !json_object_get(req, "queue")) ||
            json_array_size(json_object_get(req, "status")) != statuses) {
            char *text = json_dumps(req, JSON_COMPACT);
            fprintf(stderr, "fuzz_api: the stream's request %s leaves out a filter its query "
                    "gave\n", text);
            abort();
        }
    } else {
        json_error_t e;
        req = in->blen ? json_loadb(in->body, in->blen, JSON_REJECT_DUPLICATES, &e)
                       : json_object();
        if (!json_is_object(req)) {
            json_decref(req);
            return NULL;
        }
        expand_all(req);
    }
    size_t n = strlen(op->path);
    if (op->path[n - 1] == '*') {
        json_object_set_new(req, "resourceArn", json_string(url + n - 1));
        if (strcmp(method, "DELETE") == 0) {
            json_t *keys = json_array();
            for (size_t i = 0; i < q->n; i++)
                if (strcmp(q->key[i], "tagKeys") == 0 && q->value[i])
                    json_array_append_new(keys, json_string(q->value[i]));
            json_object_set_new(req, "tagKeys", keys);
        }
    }
    return req;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    client_input in;
    const auth_principal *who = NULL;
    json_t *req = NULL;
    char *xp = NULL, *qtext = NULL;
    sigv4_signed sig = {0};
    client_query q = {0};
    client_headers sent = {0};
    if (client_read(&in, data, size) < 0) goto out;
    if (++runs % RESET_EVERY == 0 || in.fresh) {
        close_state();
        open_state();
    }
    long offset = 0, later = 0;
    const struct principal *signer = in.who ? signer_of(in.who, &offset, &later) : NULL;
    if (in.who && !signer) goto out;
    barge_cfg.dev = !in.who;

    const char *method = NULL, *path = in.line;
    static const char *const methods[] = {"POST", "GET", "DELETE"};
    for (int m = 0; m < 3; m++) {
        size_t n = strlen(methods[m]);
        if (strncmp(path, methods[m], n) == 0 && path[n] == ' ') {
            method = methods[m];
            path += n + 1;
        }
    }
    char *qs = strchr(path, '?');
    if (qs) {
        *qs++ = '\0';
        /* The server refuses an encoded NUL before anything else. */
        if (strstr(qs, "%00")) goto out;
    }
    client_query_parse(&q, qs);
    qtext = client_query_text(&q);
    const char *pct = strchr(path, '%');
    char *xr = pct ? expand(pct) : NULL;
    xp = xr ? xasprintf("%.*s%s", (int)(pct - path), path, xr) : NULL;
    free(xr);
    const char *url = xp ? xp : path;
    const api_op *op = route(&method, url);
    /* CloudWatch Logs: only its signature and policy here (fuzz_logs runs the rest). */
    int logs_op = 0;
    client_unsigned(&in, &sent);
    if (!op && signer && (!method || strcmp(method, "POST") == 0)) {
        op = api_logs_route("POST", url, client_header(&sent, "X-Amz-Target"));
        method = "POST";
        logs_op = 1;
    }
    if (!op || in.blen > (op->max_body ? op->max_body : barge_cfg.max_body)) goto out;
    /* Agents, health checks and scrapes do not sign (http_server.c's check_auth). */
    int agent = !strncmp(op->path, "/barge/v1/agent/", 16);
    int unsigned_op = agent || !strcmp(op->path, "/healthz") || !strcmp(op->path, "/metrics");
    char err[600];
    if (signer && !unsigned_op) {
        who = sign_verify(&in, signer, offset, later, op, logs_op ? "logs" : "batch", method,
                          url, qtext, &sent, &sig);
        if (!who) goto out;
    } else if (!signer && !unsigned_op && client_header(&sent, "Authorization")) {
        /* A --dev server takes any key, but reads the header of a request that has one. */
        sigv4_auth a;
        if (sigv4_parse(client_header(&sent, "Authorization"), &a, err, sizeof err) < 0) {
            check_refusal(op->name, 403, "IncompleteSignatureException", err);
            goto out;
        }
    }
    auth_refusal why;
    if (logs_op) {
        const char *target = client_header(&sent, "X-Amz-Target");
        if (!agent && auth_authorize_logs(who, target, in.body, in.blen, &why) < 0)
            check_refusal(op->name, why.status, why.type, why.msg);
        goto out;
    }
    if (!(req = request_of(op, method, url, &q, &sent, &in))) goto out;
    if (schema_check(op->compiled, req, err, sizeof err) < 0) {
        if (!err[0]) abort();
        goto out;
    }
    if (auth_authorize(who, op->name, req, &why) < 0) {
        check_refusal(op->name, why.status, why.type, why.msg);
        goto out;
    }
    /* Long polls answer at once here. */
    if (strcmp(op->name, "GetEvents") == 0) json_object_set_new(req, "wait", json_integer(0));
    if (strcmp(op->name, "AgentExchange") == 0) json_object_set_new(req, "wait", json_false());
    const char *auth = agent ? client_header(&sent, "Authorization") : NULL;
    if (agent && !auth) auth = agent_auth(op, api_str(req, "instanceId"));
    if (strcmp(op->path, "/barge/v1/events") == 0) run_stream(op, req);
    else json_decref(run_op(op, req, auth, NULL));
    req = NULL; /* taken */
out:
    json_decref(req);
    auth_principal_release(who);
    sigv4_signed_free(&sig);
    free(qtext);
    free(xp);
    client_input_free(&in);
    return 0;
}
