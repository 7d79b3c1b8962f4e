/* The engine (attempts, the fleet, the scheduler) and the agent protocol's server side: the
 * placing of jobs, driven
 * directly on an in-memory state with an UNMANAGED compute environment, so no agent process is
 * started.  Long polls are parked on calls that no core thread answers; the test reads their
 * answers itself. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/base/agent_ident.h"
#include "server/base/core.h"
#include "server/base/store.h"
#include "server/model/config.h"
#include "server/model/jobs.h"
#include "server/model/model.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/engine/attempt.h"
#include "server/engine/fleet.h"
#include "server/engine/provider_exec.h"
#include "server/engine/provider_local.h"
#include "server/engine/scheduler.h"
#include "server/api/api.h"
#include "server/api/jobdesc.h"
#include "model_testing.h"

static char dir[] = "/tmp/barge-unit-fleet-XXXXXX";
static store *db;
static state *st;

static void begin(void)
{
    CHECK_EQ_INT(store_begin(db), 0);
}

/* The end of a core batch as the server's hook makes it: a scheduling pass if one is needed,
 * the job writes, the commit. */
static void commit(void)
{
    sched_pass(st);
    jobs_flush(st);
    if (st->forget_clean_stop) model_forget_clean_stop(st);
    CHECK_EQ_INT(st->store_failed, 0);
    if (store_commit(db) != 0) CHECK_FAIL_("commit: %s", store_errmsg(db));
}

static void put_ce(const char *state_)
{
    reg_put(st, &st->ce, "ce1",
            json_pack("{s:s, s:s, s:s, s:s}", "computeEnvironmentName", "ce1", "type",
                      "UNMANAGED", "state", state_, "status", "VALID"));
}

/* The credentials registrations answered with, by instance id: the agent's Authorization. */
static json_t *credentials;

/* Calls an agent operation as the core would; returns its answer, or NULL when it parked the
 * call (then *parked is set).  A request naming an instance carries that instance's credential;
 * a registration carries a join token (developer mode accepts any). */
static json_t *agent_call(int (*fn)(api_ctx *, json_t *, json_t **), const char *req_text,
                          core_call *call, int *status)
{
    json_t *req = mt_parse(req_text), *resp = NULL;
    const char *cred = json_string_value(
        json_object_get(credentials, json_string_value(json_object_get(req, "instanceId"))));
    char auth[300];
    snprintf(auth, sizeof auth, "Bearer %s", cred ? cred : "join-token");
    api_ctx c = {.st = st, .now_ms = util_now_ms(), .call = call, .auth = auth};
    int rc = fn(&c, req, &resp);
    json_decref(req);
    *status = rc == 0 && !c.err_type ? (c.deferred ? 0 : 200) : c.status;
    return resp;
}

/* The agent protocol's handlers, as the API routes them. */
static api_handler agent_op(const char *path)
{
    const api_op *op = api_route("POST", path);
    if (!op) CHECK_FAIL_("no operation at %s", path);
    return op->fn;
}
#define AGENT_EXCHANGE agent_op("/barge/v1/agent/exchange")
#define AGENT_REGISTER agent_op("/barge/v1/agent/register")

/* With call, an exchange that parks on it; without, one answered now: an exchange that does
 * not wait may be kept for the batch's scheduling pass, and is then answered by
 * fleet_answer_now, as the server's before_commit runs it. */
static json_t *exchange(const char *req_text, core_call *call)
{
    int status;
    if (call) {
        json_t *resp = agent_call(AGENT_EXCHANGE, req_text, call, &status);
        CHECK_EQ_INT(status, 0);
        return resp;
    }
    static core_call kept;
    kept.status = 0;
    json_t *resp = agent_call(AGENT_EXCHANGE, req_text, &kept, &status);
    if (status == 0) {
        CHECK(resp == NULL);
        fleet_answer_now(st);
        CHECK_EQ_INT(kept.status, 200);
        resp = json_loadb(kept.body, kept.body_len, 0, NULL);
        CHECK(resp != NULL);
        free(kept.body);
        kept.body = NULL;
        return resp;
    }
    CHECK_EQ_INT(status, 200);
    return resp;
}

static void register_agent(const char *id, int vcpus, int mem)
{
    char req[256];
    snprintf(req, sizeof req,
             "{\"computeEnvironment\": \"ce1\", \"instanceId\": \"%s\", \"vcpus\": %d, "
             "\"memoryMiB\": %d, \"cgroups\": \"none\"}",
             id, vcpus, mem);
    int status;
    json_object_del(credentials, id); /* a new registration carries the join token */
    json_t *resp = agent_call(AGENT_REGISTER, req, NULL, &status);
    CHECK_EQ_INT(status, 200);
    CHECK_STR(json_string_value(json_object_get(resp, "instanceId")), id);
    json_object_set(credentials, id, json_object_get(resp, "credential"));
    json_decref(resp);
}

static job *submit(const char *id, int vcpus, const char *retry_json)
{
    char v[16];
    snprintf(v, sizeof v, "%d", vcpus);
    json_t *desc = mt_job_desc(id, MT_QUEUE_ARN("q1"), "true", v, "1024");
    if (retry_json) json_object_set_new(desc, "retryStrategy", mt_parse(retry_json));
    return mt_create(st, desc, id, 0, NULL);
}

static const char *status(const char *id)
{
    return job_status_name(mt_find(st, id)->status);
}

/* The capacity an instance accounts is the sum of what its jobs ask, never more than it has. */
static void check_capacity(instance *in)
{
    int mv = 0, mem = 0, n = 0;
    for (job *j = in->jobs; j; j = j->inst_next) {
        CHECK(j->inst == in);
        CHECK(j->status == JS_STARTING || j->status == JS_RUNNING);
        mv += j->spec->mvcpus;
        mem += j->spec->memory_mib;
        n++;
    }
    CHECK_EQ_INT(in->used_mvcpus, mv);
    CHECK_EQ_INT(in->used_memory, mem);
    CHECK_EQ_INT(in->n_jobs, n);
    CHECK(in->used_mvcpus >= 0 && in->used_mvcpus <= in->mvcpus);
    CHECK(in->used_memory >= 0 && in->used_memory <= in->memory_mib);
}


/* The registered instance of ce1 with the most room for a 0-vCPU probe job. */
static instance *instance_of(job *j)
{
    CHECK(j->inst != NULL);
    return j->inst;
}

static const char *body_of(core_call *call)
{
    CHECK(call->body != NULL);
    return call->body;
}

static void test_place_run_release(void)
{
    begin();
    put_ce("ENABLED");
    reg_put(st, &st->jq, "q1",
            json_pack("{s:s, s:s, s:s, s:i, s:[{s:i, s:s}]}", "jobQueueName", "q1", "state",
                      "ENABLED", "status", "VALID", "priority", 1, "computeEnvironmentOrder",
                      "order", 1, "computeEnvironment",
                      "arn:aws:batch:us-east-1:123456789012:compute-environment/ce1"));
    register_agent("i-one", 2, 4096);
    submit("a", 1, NULL);
    submit("b", 1, NULL);
    submit("c", 1, NULL);
    commit();
    /* Two fit on the two vCPUs, first in first out; the third waits with a reason. */
    CHECK_STR(status("a"), "STARTING");
    CHECK_STR(status("b"), "STARTING");
    CHECK_STR(status("c"), "RUNNABLE");
    job *a = jobs_find(st->jobs, "a");
    instance *in = instance_of(a);
    check_capacity(in);
    json_t *d = jobdesc_describe(st, jobs_find(st->jobs, "c"));
    CHECK_CONTAINS(json_string_value(json_object_get(d, "statusReason")), "ce1");
    json_decref(d);

    /* The agent takes both assignments in one answer. */
    begin();
    json_t *r = exchange("{\"instanceId\": \"i-one\", \"wait\": false}", NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(r, "assign")), 2);
    json_t *first = json_array_get(json_object_get(r, "assign"), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(first, "attempt")), 1);
    CHECK_STR(json_string_value(json_object_get(json_object_get(first, "environment"),
                                                "AWS_BATCH_CE_NAME")),
              "ce1");
    json_decref(r);
    /* a runs and exits; c takes its place. */
    r = exchange("{\"instanceId\": \"i-one\", \"reports\": ["
                 "{\"jobId\": \"a\", \"attempt\": 1, \"event\": \"RUNNING\", \"at\": 5000},"
                 "{\"jobId\": \"a\", \"attempt\": 1, \"event\": \"EXITED\", \"at\": 6000, "
                 "\"exitCode\": 0}]}",
                 NULL);
    json_decref(r);
    CHECK_STR(status("a"), "SUCCEEDED");
    CHECK(a->started_at == 5000 && a->stopped_at == 6000);
    check_capacity(in);
    commit();
    CHECK_STR(status("c"), "STARTING");
    check_capacity(in);
    CHECK_EQ_INT(in->used_mvcpus, 2000);
}

/* A report about an attempt that is no longer expected gets a kill order, at once, on the
 * parked poll. */
static void test_stale_report_kill(void)
{
    static core_call poll;
    begin();
    json_decref(exchange("{\"instanceId\": \"i-one\", \"wait\": false}", NULL));
    json_t *r = exchange("{\"instanceId\": \"i-one\", \"wait\": true}", &poll);
    CHECK(r == NULL);
    r = exchange("{\"instanceId\": \"i-one\", \"reports\": ["
                 "{\"jobId\": \"a\", \"attempt\": 1, \"event\": \"RUNNING\"}]}",
                 NULL);
    /* The order went to the parked poll, which is answered; this answer is empty. */
    CHECK_EQ_INT(json_array_size(json_object_get(r, "kill")), 0);
    json_decref(r);
    CHECK_EQ_INT(poll.status, 200);
    CHECK_CONTAINS(body_of(&poll), "\"kill\":[{\"jobId\":\"a\"");
    free(poll.body);
    poll.body = NULL;
    commit();
}

static void test_disabled_environment(void)
{
    begin();
    /* b and c end; a disabled environment takes nothing new. */
    json_decref(exchange("{\"instanceId\": \"i-one\", \"reports\": ["
                         "{\"jobId\": \"b\", \"attempt\": 1, \"event\": \"EXITED\", "
                         "\"exitCode\": 0},"
                         "{\"jobId\": \"c\", \"attempt\": 1, \"event\": \"EXITED\", "
                         "\"exitCode\": 0}]}",
                         NULL));
    CHECK_STR(status("c"), "SUCCEEDED");
    put_ce("DISABLED");
    submit("d", 1, NULL);
    commit();
    CHECK_STR(status("d"), "RUNNABLE");
    /* The room is there; the environment is not usable, so the scheduler did not place it. */
    CHECK(fleet_fit(st, "ce1", jobs_find(st->jobs, "d"), 0) != NULL);
    CHECK(!res_ce_usable(res_ce(st, "ce1")));
    json_t *desc = jobdesc_describe(st, jobs_find(st->jobs, "d"));
    CHECK_CONTAINS(json_string_value(json_object_get(desc, "statusReason")), "DISABLED");
    json_decref(desc);
    begin();
    put_ce("ENABLED");
    commit();
    CHECK_STR(status("d"), "STARTING");
    begin();
    json_decref(exchange("{\"instanceId\": \"i-one\", \"wait\": false}", NULL));
    commit();
}

/* An instance that stops exchanging is lost: its attempts end as AWS reports a terminated host
 * and are retried or fail; its parked poll is answered; its capacity goes with it. */
static void test_lost_instance(void)
{
    static core_call poll;
    begin();
    job *d = jobs_find(st->jobs, "d");
    instance *in = instance_of(d);
    job *e = submit("e", 1, "{\"attempts\": 2}");
    commit();
    CHECK_STR(status("e"), "STARTING");
    check_capacity(in);
    begin();
    json_decref(exchange("{\"instanceId\": \"i-one\", \"wait\": false}", NULL));
    CHECK(exchange("{\"instanceId\": \"i-one\", \"wait\": true}", &poll) == NULL);
    in->last_seen -= 31 * 1000;
    fleet_tick(st);
    CHECK_STR(status("d"), "FAILED");
    CHECK_STR(d->reason, "Host EC2 (instance i-one) terminated.");
    CHECK_STR(status("e"), "RUNNABLE");
    CHECK(d->inst == NULL && e->inst == NULL);
    CHECK_EQ_INT(poll.status, 404);
    free(poll.body);
    poll.body = NULL;
    /* How the instance limited memory stays in the description of the jobs it ran. */
    json_t *desc = jobdesc_describe(st, d);
    CHECK_CONTAINS(json_string_value(json_object_get(json_object_get(desc, "barge"),
                                                     "memoryLimit")),
                   "not enforced on instance i-one");
    json_decref(desc);
    /* Gone: its reports are refused, and nothing is placed until an agent registers. */
    int code;
    json_t *r = agent_call(AGENT_EXCHANGE, "{\"instanceId\": \"i-one\"}", NULL, &code);
    CHECK(r == NULL);
    CHECK_EQ_INT(code, 404);
    commit();
    CHECK_STR(status("e"), "RUNNABLE");

    /* A new agent: e runs its second attempt there. */
    begin();
    register_agent("i-two", 4, 8192);
    commit();
    CHECK_STR(status("e"), "STARTING");
    CHECK_EQ_INT(e->n_attempts, 2);
    in = instance_of(e);
    check_capacity(in);
    /* Another registration of the live instance (without its clientToken) is refused and
     * costs it nothing. */
    begin();
    int again;
    json_decref(agent_call(AGENT_REGISTER, "{\"computeEnvironment\": \"ce1\", \"instanceId\": "
                                           "\"i-two\", \"vcpus\": 4, \"memoryMiB\": 8192}",
                           NULL, &again));
    CHECK_EQ_INT(again, 409);
    CHECK_STR(status("e"), "STARTING");
    /* The instance goes on: it takes e and ends it. */
    json_decref(exchange("{\"instanceId\": \"i-two\", \"wait\": false}", NULL));
    json_decref(exchange("{\"instanceId\": \"i-two\", \"reports\": [{\"jobId\": \"e\", "
                         "\"attempt\": 2, \"event\": \"EXITED\", \"exitCode\": 0}]}", NULL));
    CHECK_STR(status("e"), "SUCCEEDED");
    commit();
}

/* Runs an exchange for instance in with the given "holding" list (JSON text, or NULL for none)
 * and no reports; returns the answer. */
static json_t *exchange_holding(instance *in, const char *holding)
{
    char req[512];
    if (holding)
        snprintf(req, sizeof req, "{\"instanceId\": \"%s\", \"wait\": false, \"holding\": %s}",
                 in->id, holding);
    else
        snprintf(req, sizeof req, "{\"instanceId\": \"%s\", \"wait\": false}", in->id);
    return exchange(req, NULL);
}

/* The kill orders of an answer, as "ATTEMPT JOBID" words separated by commas. */
static const char *kills_of(json_t *answer)
{
    static char out[256];
    out[0] = '\0';
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(answer, "kill"), i, k) {
        size_t n = strlen(out);
        snprintf(out + n, sizeof out - n, "%s%d %s", n ? "," : "",
                 (int)json_integer_value(json_object_get(k, "attempt")),
                 json_string_value(json_object_get(k, "jobId")));
    }
    return out;
}

static json_t *last_attempt(job *j)
{
    CHECK(j->attempts != NULL);
    return json_array_get(j->attempts, json_array_size(j->attempts) - 1);
}

/* An assignment lost on the way: the agent's list lacks it.  While it may still be in flight it
 * is left alone; after the grace it ends as a task that failed to start and is retried. */
static void test_lost_assignment_ends_after_the_grace(void)
{
    begin();
    job *j = submit("lost", 1, "{\"attempts\": 2}");
    commit();
    CHECK_STR(status("lost"), "STARTING");
    instance *in = instance_of(j);
    CHECK(j->assign_sent_at == 0); /* still in the outbox */
    begin();
    /* Not sent yet when this list was made: not ended, and the answer carries it. */
    json_t *r = exchange_holding(in, "[]");
    CHECK_EQ_INT(json_array_size(json_object_get(r, "assign")), 1);
    json_decref(r);
    CHECK(j->assign_sent_at > 0);
    /* Sent a moment ago: a list that lacks it may have been made before it arrived. */
    json_decref(exchange_holding(in, "[]"));
    CHECK_STR(status("lost"), "STARTING");
    /* An agent that does not say what it holds is not reconciled. */
    j->assign_sent_at -= 6000;
    json_decref(exchange_holding(in, NULL));
    CHECK_STR(status("lost"), "STARTING");
    /* Listed: all is well, however old the assignment. */
    json_decref(exchange_holding(in, "[{\"jobId\": \"lost\", \"attempt\": 1}]"));
    CHECK_STR(status("lost"), "STARTING");
    check_capacity(in);
    /* Past the grace and not listed: the answer that carried it was lost, and it goes again
     * (an agent that holds it ignores it), three times. */
    for (int k = 0; k < 3; k++) {
        r = exchange_holding(in, "[]");
        CHECK_EQ_INT(json_array_size(json_object_get(r, "assign")), 1);
        json_decref(r);
        CHECK_STR(status("lost"), "STARTING");
        CHECK(j->assign_sent_at > 0);
        j->assign_sent_at -= 6000;
    }
    /* Then it was never received: it ends. */
    json_decref(exchange_holding(in, "[]"));
    CHECK_STR(status("lost"), "RUNNABLE");
    CHECK(j->inst == NULL);
    check_capacity(in);
    json_t *a = last_attempt(j);
    CHECK_STR(json_string_value(json_object_get(a, "statusReason")), "Task failed to start");
    CHECK_STR(json_string_value(json_object_get(json_object_get(a, "container"), "reason")),
              "CannotStartContainerError: the instance never received the assignment");
    /* Retried as its strategy says: attempt 2 goes out. */
    commit();
    CHECK_STR(status("lost"), "STARTING");
    CHECK_EQ_INT(j->n_attempts, 2);
    in = instance_of(j);
    begin();
    r = exchange_holding(in, "[]");
    CHECK_EQ_INT(json_array_size(json_object_get(r, "assign")), 1);
    json_decref(r);
    /* It runs; then the agent no longer lists it (it lost it): it ends as on a lost host, and
     * with no attempt left the job fails. */
    char req[300];
    snprintf(req, sizeof req,
             "{\"instanceId\": \"%s\", \"holding\": [{\"jobId\": \"lost\", \"attempt\": 2}], "
             "\"reports\": [{\"jobId\": \"lost\", \"attempt\": 2, \"event\": \"RUNNING\", "
             "\"at\": 7000}]}",
             in->id);
    json_decref(exchange(req, NULL));
    CHECK_STR(status("lost"), "RUNNING");
    j->assign_sent_at -= 6000;
    json_decref(exchange_holding(in, "[]"));
    CHECK_STR(status("lost"), "FAILED");
    char want[64];
    snprintf(want, sizeof want, "Host EC2 (instance %s) terminated.", in->id);
    CHECK_STR(j->reason, want);
    CHECK_STR(json_string_value(json_object_get(json_object_get(last_attempt(j), "container"),
                                                "reason")),
              "the agent no longer holds this attempt");
    check_capacity(in);
    commit();
}

/* TerminateJob of an attempt whose assignment was lost: the agent ignores the kill order, and
 * reconciliation ends the attempt, so the job does not stay STARTING. */
static void test_terminate_a_lost_assignment(void)
{
    begin();
    job *j = submit("lost-term", 1, "{\"attempts\": 3}");
    commit();
    instance *in = instance_of(j);
    begin();
    json_decref(exchange_holding(in, "[]"));
    attempt_cancel(st, j, "stop it", 1);
    CHECK_STR(status("lost-term"), "STARTING");
    j->assign_sent_at -= 6000;
    json_t *r = exchange_holding(in, "[]");
    json_decref(r);
    CHECK_STR(status("lost-term"), "FAILED");
    CHECK_STR(j->reason, "stop it");
    CHECK_EQ_INT(json_array_size(j->attempts), 1);
    check_capacity(in);
    commit();
}

/* The strays of in as if first listed longer ago than the grace. */
static void age_strays(instance *in)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&in->strays, &i, &k, &v)) ((stray *)v)->first_seen -= 3000;
}

/* A held attempt the server does not expect gets a kill order once the agent has listed it for
 * a while (not at once: a long poll's list may be older than the end report that went on the
 * agent's other connection), and again only after a while if the agent keeps listing it. */
static void test_unexpected_held_attempt_is_killed(void)
{
    begin();
    job *ok = submit("held-ok", 1, NULL);
    commit();
    instance *in = instance_of(ok);
    begin();
    json_decref(exchange_holding(in, "[{\"jobId\": \"held-ok\", \"attempt\": 1}]"));
    CHECK_EQ_INT(in->strays.len, 0);
    /* "nosuch" never existed; "lost" is at attempt 2, not 1. */
    const char *held = "[{\"jobId\": \"nosuch\", \"attempt\": 1},"
                       " {\"jobId\": \"lost\", \"attempt\": 1}]";
    json_t *r = exchange_holding(in, held);
    CHECK_STR(kills_of(r), "");
    json_decref(r);
    CHECK_EQ_INT(in->strays.len, 2);
    /* A stale list, the next without them: forgotten, never killed. */
    json_decref(exchange_holding(in, "[]"));
    CHECK_EQ_INT(in->strays.len, 0);
    r = exchange_holding(in, held);
    CHECK_STR(kills_of(r), "");
    json_decref(r);
    /* Still listed once the grace is over: killed. */
    age_strays(in);
    r = exchange_holding(in, held);
    CHECK_STR(kills_of(r), "1 nosuch,1 lost");
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(r, "kill"), 0),
                                                "reason")),
              "this attempt is no longer expected");
    json_decref(r);
    /* Listed again at once: the order is not repeated. */
    r = exchange_holding(in, held);
    CHECK_STR(kills_of(r), "");
    json_decref(r);
    /* Those no longer listed are forgotten; one listed again later is a new stray. */
    r = exchange_holding(in, "[{\"jobId\": \"nosuch\", \"attempt\": 1}]");
    CHECK_STR(kills_of(r), "");
    json_decref(r);
    CHECK_EQ_INT(in->strays.len, 1);
    json_decref(exchange_holding(in, "[]"));
    CHECK_EQ_INT(in->strays.len, 0);
    r = exchange_holding(in, "[{\"jobId\": \"nosuch\", \"attempt\": 1}]");
    CHECK_STR(kills_of(r), "");
    json_decref(r);
    age_strays(in);
    r = exchange_holding(in, "[{\"jobId\": \"nosuch\", \"attempt\": 1}]");
    CHECK_STR(kills_of(r), "1 nosuch");
    json_decref(r);
    /* "a" was another instance's attempt: the whole exchange is refused. */
    char req[200];
    snprintf(req, sizeof req, "{\"instanceId\": \"%s\", \"holding\": [{\"jobId\": \"a\", "
                              "\"attempt\": 1}]}", in->id);
    int code;
    CHECK(agent_call(AGENT_EXCHANGE, req, NULL, &code) == NULL);
    CHECK_EQ_INT(code, 403);
    CHECK_STR(status("held-ok"), "STARTING");
    commit();
}

/* A failed commit rebuilds the state from the store.  The fleet stays, parked poll included, and
 * the attempts the store says run on its instances are attached to them again: a STARTING one
 * has its assignment sent again (the agent ignores it if it has it), a RUNNING one runs on. */
static void test_reload_keeps_the_fleet(void)
{
    static core_call poll;
    begin();
    job *run = submit("rl-run", 1, NULL);
    job *start = submit("rl-start", 1, NULL);
    commit();
    instance *in = instance_of(run);
    CHECK(start->inst == in);
    char req[400];
    snprintf(req, sizeof req,
             "{\"instanceId\": \"%s\", \"reports\": [{\"jobId\": \"rl-run\", \"attempt\": 1, "
             "\"event\": \"RUNNING\", \"at\": 9000}]}",
             in->id);
    begin();
    json_decref(exchange(req, NULL));
    snprintf(req, sizeof req, "{\"instanceId\": \"%s\", \"wait\": true}", in->id);
    CHECK(exchange(req, &poll) == NULL);
    commit();
    CHECK_STR(status("rl-run"), "RUNNING");
    /* A batch whose commit fails: what it did is rolled back, in memory too. */
    begin();
    submit("rl-gone", 1, NULL);
    jobs_find(st->jobs, "held-ok")->n_attempts = 7; /* anything, as long as it is undone */
    store_rollback(db);
    char *err = NULL;
    instance *kept = in;
    if (model_reload(st, &err) != 0) CHECK_FAIL_("model_reload: %s", err);
    attempt_recover(st);
    fleet_resume(st);
    CHECK(instance_find(st->fleet, kept->id) == kept); /* the fleet stayed */
    CHECK(jobs_find(st->jobs, "rl-gone") == NULL);
    CHECK_EQ_INT(jobs_find(st->jobs, "held-ok")->n_attempts, 1);
    run = jobs_find(st->jobs, "rl-run");
    start = jobs_find(st->jobs, "rl-start");
    CHECK_STR(status("rl-run"), "RUNNING");
    CHECK_STR(status("rl-start"), "STARTING");
    CHECK(run->inst == in && start->inst == in); /* the same instance, not a new one */
    CHECK(run->attempts == NULL);
    check_capacity(in);
    /* The parked poll carries rl-start's assignment again. */
    CHECK(in->poll == NULL);
    CHECK_EQ_INT(poll.status, 200);
    CHECK_CONTAINS(body_of(&poll), "\"jobId\":\"rl-start\",\"attempt\":1");
    free(poll.body);
    poll.body = NULL;
    /* And the instance works on: rl-run ends as the agent reports. */
    snprintf(req, sizeof req,
             "{\"instanceId\": \"%s\", \"reports\": [{\"jobId\": \"rl-run\", \"attempt\": 1, "
             "\"event\": \"EXITED\", \"exitCode\": 0}]}",
             in->id);
    begin();
    json_decref(exchange(req, NULL));
    CHECK_STR(status("rl-run"), "SUCCEEDED");
    check_capacity(in);
    commit();
}

/* A clean stop records the attempts it interrupts but does not count them: the next start
 * puts their jobs back in the queue whatever their retry strategy.  After a crash they count. */
static void test_clean_stop_costs_no_attempt(void)
{
    begin();
    job *j = submit("cs", 1, NULL); /* one attempt */
    commit();
    instance *in = instance_of(j);
    char req[300], host[64];
    snprintf(host, sizeof host, "Host EC2 (instance %s) terminated.", in->id);
    snprintf(req, sizeof req,
             "{\"instanceId\": \"%s\", \"reports\": [{\"jobId\": \"cs\", \"attempt\": 1, "
             "\"event\": \"RUNNING\"}]}",
             in->id);
    begin();
    json_decref(exchange(req, NULL));
    model_note_clean_stop(st);
    commit();

    /* The start after the clean stop (no instance is registered yet). */
    state *fresh = mt_load(db);
    model_free(st);
    st = fresh;
    CHECK(st->clean_stop);
    j = jobs_find(st->jobs, "cs");
    CHECK_STR(status("cs"), "RUNNABLE");
    CHECK_EQ_INT(j->n_attempts, 1);
    CHECK_EQ_INT(j->n_free_attempts, 1);
    CHECK_STR(json_string_value(json_object_get(last_attempt(j), "statusReason")), host);
    /* Its first commit deletes the record: what happens from now on is not a clean stop. */
    begin();
    commit();
    CHECK(!st->forget_clean_stop);
    register_agent("i-three", 4, 8192);
    begin();
    commit();
    CHECK_STR(status("cs"), "STARTING");
    CHECK_EQ_INT(j->n_attempts, 2);
    in = instance_of(j);
    snprintf(host, sizeof host, "Host EC2 (instance %s) terminated.", in->id);
    snprintf(req, sizeof req,
             "{\"instanceId\": \"%s\", \"reports\": [{\"jobId\": \"cs\", \"attempt\": 2, "
             "\"event\": \"RUNNING\"}]}",
             in->id);
    begin();
    json_decref(exchange(req, NULL));
    commit();

    /* A crash now: the attempt counts, and it was the job's only one. */
    state *after_crash = mt_load(db);
    CHECK(!after_crash->clean_stop);
    job *c = jobs_find(after_crash->jobs, "cs");
    CHECK_STR(job_status_name(c->status), "FAILED");
    CHECK_STR(c->reason, host);
    CHECK_EQ_INT(json_array_size(c->attempts), 2);
    model_free(after_crash);
}

/* An array child has one id: its index as written, without sign, spaces or leading zeros. */
/* Registration outside developer mode: an instance the server is launching is registered only
 * with its launch token, and a join token for another compute environment registers nothing. */
static void test_join_tokens_at_registration(void)
{
    barge_cfg.dev = 0;
    agent_ident_set_server_token("server-wide-token");
    begin();
    instance *in = instance_new(st->fleet, "i-launched", "ce1");
    in->local = 1;
    char launch[AGENT_IDENT_LAUNCH_TOKEN_LEN + 1];
    agent_ident_launch_token("i-launched", launch);
    static const char reg[] = "{\"computeEnvironment\": \"ce1\", \"instanceId\": \"i-launched\","
                              " \"vcpus\": 1, \"memoryMiB\": 64}";
    char auth[100];
    struct { const char *token; int status; } tries[] = {
        {"server-wide-token", 403}, {"no-such-token", 403}, {NULL, 401}, {launch, 200}};
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        snprintf(auth, sizeof auth, "Bearer %s", tries[i].token ? tries[i].token : "");
        api_ctx c = {.st = st, .now_ms = util_now_ms(), .auth = tries[i].token ? auth : NULL};
        json_t *req = mt_parse(reg), *resp = NULL;
        int rc = AGENT_REGISTER(&c, req, &resp);
        CHECK_EQ_INT(rc == 0 && !c.err_type ? 200 : c.status, tries[i].status);
        json_decref(req);
        json_decref(resp);
    }
    CHECK(in->registered);
    /* A launch token registers no other instance. */
    api_ctx c = {.st = st, .now_ms = util_now_ms(), .auth = auth};
    json_t *req = mt_parse("{\"computeEnvironment\": \"ce1\", \"instanceId\": \"i-stranger\","
                        " \"vcpus\": 1, \"memoryMiB\": 64}");
    CHECK_EQ_INT(AGENT_REGISTER(&c, req, &(json_t *){NULL}), -1);
    CHECK_EQ_INT(c.status, 403);
    json_decref(req);
    in->local = 0; /* no agent process to stop when it goes */
    fleet_lose(st, in, "the test is over");
    commit();
    barge_cfg.dev = 1;
}

static void test_child_ids_are_canonical(void)
{
    begin();
    json_t *desc = json_pack("{s:s, s:s, s:s, s:{s:[s]}}", "jobName", "arr", "jobQueue",
                             "arn:aws:batch:us-east-1:123456789012:job-queue/nowhere",
                             "jobDefinition",
                             "arn:aws:batch:us-east-1:123456789012:job-definition/def:1",
                             "container", "command", "true");
    job *p = jobs_create(st, jobspec_make(desc), "arr", 12, NULL, 1000);
    commit();
    CHECK(jobs_find(st->jobs, "arr:0") == p->children[0]);
    CHECK(jobs_find(st->jobs, "arr:3") == p->children[3]);
    CHECK(jobs_find(st->jobs, "arr:11") == p->children[11]);
    const char *bad[] = {"arr:03", "arr:00", "arr:+3", "arr: 3", "arr:3 ", "arr:-0", "arr:",
                         "arr:12", "arr:3x", "arr:0x3", "arr:99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (jobs_find(st->jobs, bad[i])) CHECK_FAIL_("jobs_find accepted '%s'", bad[i]);
}

/* An instance of the operator's commands whose agent went silent soon after registering is a
 * failed launch: found silent by the fleet's tick, its environment's launches back off further
 * than before (the failures so far are not forgotten for it), and its jobs are told why; one
 * that lasted, or one let go on purpose, is not. */
static void test_an_exec_instance_lost_soon_after_registering_backs_off(void)
{
    static const struct {
        const char *ce;
        int64_t lived_ms; /* from registering to its last sign of life */
        int by_tick, backs_off;
    } cases[] = {{"quick", 500, 1, 1}, {"lasted", PROVIDER_LASTING_MS + 9000, 1, 0},
                 {"let-go", 500, 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        begin();
        /* Three launches failed before. */
        launch_trouble *t = xcalloc(1, sizeof *t);
        t->ce = xstrdup(cases[i].ce);
        t->failures = 3;
        dict_put(&st->fleet->trouble, t->ce, t);
        char id[32];
        snprintf(id, sizeof id, "i-exec-%zu", i);
        instance *in = instance_new(st->fleet, id, cases[i].ce);
        in->exec = 1;
        in->registered = 1;
        int64_t now = util_mono_ms();
        in->last_seen = now - (FLEET_LOST_AFTER_SECONDS * 1000 + 500);
        in->registered_at = in->last_seen - cases[i].lived_ms;
        if (cases[i].by_tick) fleet_tick(st); /* found silent */
        else fleet_lose(st, in, "terminated by the operator");
        CHECK(instance_find(st->fleet, id) == NULL);
        t = dict_get(&st->fleet->trouble, cases[i].ce);
        const char *why = provider_exec_trouble(cases[i].ce);
        if (cases[i].backs_off) {
            CHECK(t != NULL);
            CHECK_EQ_INT(t->failures, 4);
            CHECK(t->retry_at >= now + 16000);
            CHECK(why != NULL);
            CHECK_CONTAINS(why, "was lost 0 s after its agent registered");
        } else {
            CHECK(why == NULL);
            CHECK(!t || t->failures == 3);
        }
        commit();
    }
}

int main(void)
{
    log_level = LOG_ERROR + 1;
    config_defaults(&barge_cfg);
    barge_cfg.dev = 1;
    credentials = json_object();
    db = mt_store_open(dir);
    st = mt_load(db);

    RUN(test_place_run_release);
    RUN(test_stale_report_kill);
    RUN(test_disabled_environment);
    RUN(test_lost_instance);
    RUN(test_lost_assignment_ends_after_the_grace);
    RUN(test_terminate_a_lost_assignment);
    RUN(test_unexpected_held_attempt_is_killed);
    RUN(test_reload_keeps_the_fleet);
    RUN(test_clean_stop_costs_no_attempt);
    RUN(test_child_ids_are_canonical);
    RUN(test_join_tokens_at_registration);
    RUN(test_an_exec_instance_lost_soon_after_registering_backs_off);

    model_free(st);
    mt_store_close(db, dir);
    json_decref(credentials);
    agent_ident_free();
    return 0;
}
