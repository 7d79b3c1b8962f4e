/* jobs.c and jobs_store.c: the lifecycle of jobs driven directly on an in-memory state, without
 * the core thread or any agent.  Attempts run on a stand-in instance that is not in the fleet, so
 * the capacity it accounts can be checked after every step. */
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/api/jobdesc.h"
#include "server/base/store.h"
#include "server/model/config.h"
#include "server/model/jobs.h"
#include "server/model/model.h"
#include "server/model/state.h"
#include "server/engine/attempt.h"
#include "server/engine/fleet.h"
#include "model_testing.h"

static char dir[] = "/tmp/barge-unit-jobs-XXXXXX";
static store *db;
static state *st;
static instance inst;

static state *load(void)
{
    return mt_load(db);
}

/* Every change happens inside a transaction, as the core does it; jobs_flush writes the dirty
 * jobs before the commit. */
static void begin(void)
{
    CHECK_EQ_INT(store_begin(db), 0);
}

static void commit(void)
{
    jobs_flush(st);
    CHECK_EQ_INT(st->store_failed, 0);
    CHECK_EQ_INT(store_commit(db), 0);
}

/* A description for queue q1: 1 vCPU, 1 GiB, and the given retry strategy (JSON text, or
 * NULL). */
static json_t *spec_desc(const char *name, const char *retry_json)
{
    json_t *desc = mt_job_desc(name, MT_QUEUE_ARN("q1"), "true", "1", "1024");
    if (retry_json) json_object_set_new(desc, "retryStrategy", mt_parse(retry_json));
    return desc;
}

/* Submits a job; deps is a dependsOn list in JSON text (or NULL), stored in the spec as the
 * server does, so that a reload wires the same dependencies. */
static job *submit(const char *id, uint32_t size, const char *deps_json, const char *retry_json)
{
    return mt_create(st, spec_desc(id, retry_json), id, size, deps_json);
}

static job *find(const char *id)
{
    return mt_find(st, id);
}

static const char *status(const char *id)
{
    return job_status_name(find(id)->status);
}

/* Starts j on the stand-in instance, as a scheduling pass would. */
static void start(job *j)
{
    CHECK_STR(job_status_name(j->status), "RUNNABLE");
    attempt_start(st, &inst, j);
    CHECK_STR(job_status_name(j->status), "STARTING");
    CHECK(j->inst == &inst);
}

static void run(job *j)
{
    start(j);
    attempt_running(st, j, 2000);
    CHECK_STR(job_status_name(j->status), "RUNNING");
}

static void end(job *j, int exit_code)
{
    attempt_end e = {.has_exit_code = 1, .exit_code = exit_code,
                     .status_reason = "Essential container in task exited"};
    attempt_finish(st, j, &e, 3000);
    CHECK(j->inst == NULL);
}

/* The queue's RUNNABLE list holds exactly the RUNNABLE jobs, in submit order. */
static void check_runnable_list(void)
{
    jq_rt *q = jobs_queue(st->jobs, "q1");
    uint32_t n = 0;
    for (job *j = q->rq_head; j; j = j->rq_next) {
        CHECK_STR(job_status_name(j->status), "RUNNABLE");
        if (j->rq_next) {
            CHECK(j->rq_next->rq_prev == j);
            CHECK(j->seq <= j->rq_next->seq);
        } else {
            CHECK(q->rq_tail == j);
        }
        n++;
    }
    CHECK_EQ_INT(n, q->n_runnable);
    uint32_t want = 0;
    for (size_t i = 0; i < q->n_all; i++) {
        job *j = q->all[i];
        if (j->children) {
            for (uint32_t k = 0; k < j->array_size; k++)
                want += j->children[k]->status == JS_RUNNABLE;
            CHECK(j->status != JS_RUNNABLE);
        } else {
            want += j->status == JS_RUNNABLE;
        }
    }
    CHECK_EQ_INT(n, want);
}

/* An array parent's summary counts its children by status. */
static void check_summary(const job *p)
{
    uint32_t counts[JS_COUNT] = {0};
    for (uint32_t k = 0; k < p->array_size; k++) counts[p->children[k]->status]++;
    for (int s = 0; s < JS_COUNT; s++)
        if (counts[s] != p->family->summary[s])
            CHECK_FAIL_("%s: summary[%s] is %u, its children say %u", p->id, job_status_name(s),
                        p->family->summary[s], counts[s]);
}

static void check_instance_idle(void)
{
    CHECK(inst.jobs == NULL);
    CHECK_EQ_INT(inst.n_jobs, 0);
    CHECK_EQ_INT(inst.used_mvcpus, 0);
    CHECK_EQ_INT(inst.used_memory, 0);
    CHECK_EQ_INT(inst.used_gpus, 0);
}

static const char *last_attempt_reason(job *j)
{
    json_t *a = json_array_get(j->attempts, json_array_size(j->attempts) - 1);
    return json_string_value(json_object_get(a, "statusReason"));
}

/* ---- plain jobs and dependencies ----------------------------------------------------------- */

static void test_plain_job(void)
{
    begin();
    job *j = submit("plain", 0, NULL, NULL);
    CHECK_STR(status("plain"), "RUNNABLE");
    CHECK(j->reason == NULL);
    check_runnable_list();
    run(j);
    CHECK_EQ_INT(inst.used_mvcpus, 1000);
    CHECK_EQ_INT(inst.used_memory, 1024);
    CHECK_EQ_INT(inst.n_jobs, 1);
    end(j, 0);
    CHECK_STR(status("plain"), "SUCCEEDED");
    CHECK_EQ_INT(j->n_attempts, 1);
    CHECK_EQ_INT(json_array_size(j->attempts), 1);
    CHECK(j->stopped_at == 3000);
    check_instance_idle();
    check_runnable_list();
    commit();
}

static void test_dependency_chain(void)
{
    begin();
    job *a = submit("chain-a", 0, NULL, NULL);
    submit("chain-b", 0, "[{\"jobId\": \"chain-a\"}]", NULL);
    submit("chain-c", 0, "[{\"jobId\": \"chain-b\"}]", NULL);
    CHECK_STR(status("chain-a"), "RUNNABLE");
    CHECK_STR(status("chain-b"), "PENDING");
    CHECK_STR(status("chain-c"), "PENDING");
    run(a);
    end(a, 0);
    CHECK_STR(status("chain-b"), "RUNNABLE");
    CHECK_STR(status("chain-c"), "PENDING");
    run(find("chain-b"));
    end(find("chain-b"), 3);
    CHECK_STR(status("chain-b"), "FAILED");
    CHECK_STR(status("chain-c"), "FAILED");
    CHECK_STR(find("chain-c")->reason, "Dependent Job failed");
    CHECK_EQ_INT(find("chain-c")->n_attempts, 0);

    /* A dependency that has already finished: met at submit, or failed at submit. */
    submit("after-ok", 0, "[{\"jobId\": \"chain-a\"}]", NULL);
    submit("after-failed", 0, "[{\"jobId\": \"chain-b\"}, {\"jobId\": \"chain-a\"}]", NULL);
    CHECK_STR(status("after-ok"), "RUNNABLE");
    CHECK_STR(status("after-failed"), "FAILED");
    CHECK_STR(find("after-failed")->reason, "Dependent Job failed");
    /* An array says so too, and so do its children. */
    submit("arr-after-failed", 2, "[{\"jobId\": \"chain-b\"}]", NULL);
    CHECK_STR(status("arr-after-failed"), "FAILED");
    CHECK_STR(find("arr-after-failed")->reason, "Dependent Job failed");
    CHECK_STR(find("arr-after-failed:1")->reason, "Dependent Job failed");
    /* The same dependency twice counts as one. */
    submit("twice-a", 0, NULL, NULL);
    submit("twice-b", 0, "[{\"jobId\": \"twice-a\"}, {\"jobId\": \"twice-a\"}]", NULL);
    run(find("twice-a"));
    end(find("twice-a"), 0);
    CHECK_STR(status("twice-b"), "RUNNABLE");
    check_runnable_list();
    commit();
}

/* Many jobs wait for one: its list of dependents grows through several doublings (its capacity
 * is not kept but follows from its count), and every one of them is told. */
static void test_many_dependents(void)
{
    begin();
    job *hub = submit("hub", 0, NULL, NULL);
    for (int i = 0; i < 37; i++) {
        char id[32];
        snprintf(id, sizeof id, "spoke-%d", i);
        submit(id, 0, "[{\"jobId\": \"hub\"}]", NULL);
    }
    CHECK_EQ_INT(hub->n_dependents, 37);
    for (int i = 0; i < 37; i++) {
        char id[32];
        snprintf(id, sizeof id, "spoke-%d", i);
        CHECK(hub->dependents[i] == find(id));
    }
    run(hub);
    end(hub, 0);
    for (int i = 0; i < 37; i++) {
        char id[32];
        snprintf(id, sizeof id, "spoke-%d", i);
        CHECK_STR(status(id), "RUNNABLE");
    }
    check_runnable_list();
    commit();
}

/* A failure cascades through every job that waits, however long the chain. */
static void test_long_failure_cascade(void)
{
    begin();
    enum { N = 50000 };
    char id[32], deps[64];
    job *first = submit("long-0", 0, NULL, NULL);
    for (int i = 1; i < N; i++) {
        snprintf(id, sizeof id, "long-%d", i);
        snprintf(deps, sizeof deps, "[{\"jobId\": \"long-%d\"}]", i - 1);
        submit(id, 0, deps, NULL);
    }
    run(first);
    end(first, 1);
    snprintf(id, sizeof id, "long-%d", N - 1);
    CHECK_STR(status(id), "FAILED");
    CHECK_STR(find(id)->reason, "Dependent Job failed");
    check_runnable_list();
    commit();
}

/* ---- arrays ------------------------------------------------------------------------------ */

static void test_array(void)
{
    begin();
    job *p = submit("arr", 3, NULL, NULL);
    CHECK_STR(status("arr"), "PENDING");
    check_summary(p);
    CHECK_EQ_INT(p->family->summary[JS_RUNNABLE], 3);
    CHECK_STR(status("arr:0"), "RUNNABLE");
    CHECK(jobs_find(st->jobs, "arr:3") == NULL);
    CHECK(jobs_find(st->jobs, "arr:x") == NULL);
    CHECK(jobs_find(st->jobs, "arr:") == NULL);
    run(p->children[0]);
    check_summary(p);
    /* The parent started when its first child did, by the agent's clock. */
    CHECK(p->started_at == 2000);
    start(p->children[1]);
    check_summary(p);
    end(p->children[0], 0);
    end(p->children[1], 0);
    CHECK_STR(status("arr"), "PENDING");
    run(p->children[2]);
    end(p->children[2], 0);
    check_summary(p);
    CHECK_STR(status("arr"), "SUCCEEDED");

    /* One failed child fails the parent, once all have ended. */
    job *q = submit("arr-f", 2, NULL, NULL);
    run(q->children[1]);
    end(q->children[1], 2);
    CHECK_STR(status("arr-f"), "PENDING");
    run(q->children[0]);
    end(q->children[0], 0);
    check_summary(q);
    CHECK_STR(status("arr-f"), "FAILED");
    CHECK_STR(q->reason, "Array Child Job failed");
    check_instance_idle();
    check_runnable_list();
    commit();
}

static void test_n_to_n(void)
{
    begin();
    job *a = submit("n-a", 3, NULL, NULL);
    job *b = submit("n-b", 3, "[{\"jobId\": \"n-a\", \"type\": \"N_TO_N\"}]", NULL);
    for (int k = 0; k < 3; k++) CHECK_STR(job_status_name(b->children[k]->status), "PENDING");
    run(a->children[1]);
    end(a->children[1], 0);
    CHECK_STR(status("n-b:1"), "RUNNABLE");
    CHECK_STR(status("n-b:0"), "PENDING");
    run(a->children[0]);
    end(a->children[0], 9);
    CHECK_STR(status("n-b:0"), "FAILED");
    CHECK_STR(find("n-b:0")->reason, "Dependent Job failed");
    check_summary(b);
    /* Submitted after: child 0's dependency has failed, child 1's succeeded, child 2's waits. */
    job *c = submit("n-c", 3, "[{\"jobId\": \"n-a\", \"type\": \"N_TO_N\"}]", NULL);
    CHECK_STR(status("n-c:0"), "FAILED");
    CHECK_STR(status("n-c:1"), "RUNNABLE");
    CHECK_STR(status("n-c:2"), "PENDING");
    check_summary(c);
    run(a->children[2]);
    end(a->children[2], 0);
    CHECK_STR(status("n-a"), "FAILED");
    CHECK_STR(status("n-c:2"), "RUNNABLE");
    CHECK_STR(status("n-b:2"), "RUNNABLE");
    check_summary(b);
    check_summary(c);
    check_runnable_list();
    commit();
}

static void test_sequential(void)
{
    begin();
    job *p = submit("seq", 4, "[{\"type\": \"SEQUENTIAL\"}]", NULL);
    CHECK_STR(status("seq:0"), "RUNNABLE");
    for (int k = 1; k < 4; k++) CHECK_STR(job_status_name(p->children[k]->status), "PENDING");
    run(p->children[0]);
    end(p->children[0], 0);
    CHECK_STR(status("seq:1"), "RUNNABLE");
    CHECK_STR(status("seq:2"), "PENDING");
    run(p->children[1]);
    end(p->children[1], 1);
    CHECK_STR(status("seq:2"), "FAILED");
    CHECK_STR(status("seq:3"), "FAILED");
    check_summary(p);
    CHECK_STR(status("seq"), "FAILED");
    CHECK_STR(p->reason, "Array Child Job failed");

    /* A long sequential array whose first child fails: every other child fails in turn. */
    job *big = submit("seq-big", 10000, "[{\"type\": \"SEQUENTIAL\"}]", NULL);
    run(big->children[0]);
    end(big->children[0], 1);
    check_summary(big);
    CHECK_EQ_INT(big->family->summary[JS_FAILED], 10000);
    CHECK_STR(status("seq-big"), "FAILED");
    check_runnable_list();
    commit();
}

/* A job that depends on a whole array waits for every child; an array that depends on a job
 * keeps all its children waiting until it ends. */
static void test_whole_array_dependencies(void)
{
    begin();
    job *a = submit("wa", 2, NULL, NULL);
    submit("after-wa", 0, "[{\"jobId\": \"wa\"}]", NULL);
    submit("after-wa1", 0, "[{\"jobId\": \"wa:1\"}]", NULL);
    job *g = submit("gated", 3, "[{\"jobId\": \"wa\"}]", NULL);
    for (int k = 0; k < 3; k++) CHECK_STR(job_status_name(g->children[k]->status), "PENDING");
    run(a->children[1]);
    end(a->children[1], 0);
    CHECK_STR(status("after-wa1"), "RUNNABLE");
    CHECK_STR(status("after-wa"), "PENDING");
    CHECK_STR(status("gated:0"), "PENDING");
    run(a->children[0]);
    end(a->children[0], 0);
    CHECK_STR(status("wa"), "SUCCEEDED");
    CHECK_STR(status("after-wa"), "RUNNABLE");
    for (int k = 0; k < 3; k++) CHECK_STR(job_status_name(g->children[k]->status), "RUNNABLE");
    check_summary(g);

    /* The gate failing fails every child, then the parent. */
    job *x = submit("gate-x", 0, NULL, NULL);
    job *h = submit("gated-h", 2, "[{\"jobId\": \"gate-x\"}]", NULL);
    run(x);
    end(x, 1);
    check_summary(h);
    CHECK_STR(status("gated-h:0"), "FAILED");
    CHECK_STR(status("gated-h"), "FAILED");
    CHECK_STR(h->reason, "Dependent Job failed");
    /* None of its children ran, so neither did it. */
    CHECK(h->started_at == 0);
    CHECK(h->stopped_at != 0);
    check_runnable_list();
    commit();
}

/* ---- cancel and terminate ------------------------------------------------------------------ */

static void test_cancel(void)
{
    begin();
    /* RUNNABLE: fails at once. */
    job *r = submit("c-runnable", 0, NULL, NULL);
    attempt_cancel(st, r, "no longer needed", 0);
    CHECK_STR(status("c-runnable"), "FAILED");
    CHECK_STR(r->reason, "no longer needed");
    CHECK(r->is_cancelled);
    check_runnable_list();

    /* PENDING: fails once its dependency completes, not before. */
    job *dep = submit("c-dep", 0, NULL, NULL);
    job *w = submit("c-waiting", 0, "[{\"jobId\": \"c-dep\"}]", NULL);
    attempt_cancel(st, w, "cancelled while waiting", 0);
    CHECK_STR(status("c-waiting"), "PENDING");
    run(dep);
    end(dep, 0);
    CHECK_STR(status("c-waiting"), "FAILED");
    CHECK_STR(w->reason, "cancelled while waiting");
    CHECK(w->is_cancelled);
    CHECK_EQ_INT(w->n_attempts, 0);

    /* STARTING and RUNNING: CancelJob leaves them alone. */
    job *s = submit("c-started", 0, NULL, NULL);
    run(s);
    attempt_cancel(st, s, "too late", 0);
    CHECK_STR(status("c-started"), "RUNNING");
    end(s, 0);
    CHECK_STR(status("c-started"), "SUCCEEDED");
    CHECK(!s->is_cancelled);

    /* Done: nothing changes. */
    attempt_cancel(st, s, "way too late", 1);
    CHECK_STR(status("c-started"), "SUCCEEDED");
    CHECK(s->stop_reason == NULL);

    /* An array parent: waiting children fail, running ones finish, the parent follows. */
    job *p = submit("c-arr", 3, NULL, NULL);
    run(p->children[0]);
    attempt_cancel(st, p, "array cancelled", 0);
    CHECK_STR(status("c-arr:1"), "FAILED");
    CHECK_STR(status("c-arr:2"), "FAILED");
    CHECK_STR(status("c-arr"), "PENDING");
    check_summary(p);
    end(p->children[0], 0);
    check_summary(p);
    CHECK_STR(status("c-arr"), "FAILED");
    CHECK_STR(p->reason, "array cancelled");
    CHECK(p->is_cancelled);
    check_instance_idle();
    check_runnable_list();
    commit();
}

static void test_terminate(void)
{
    begin();
    /* RUNNING: a kill order goes to the instance; the job fails when the agent reports. */
    job *j = submit("t-running", 0, NULL, NULL);
    run(j);
    attempt_cancel(st, j, "stop it", 1);
    CHECK_STR(status("t-running"), "RUNNING");
    CHECK_EQ_INT(json_array_size(inst.kill), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(inst.kill, 0), "jobId")),
              "t-running");
    attempt_end e = {.status_reason = "stop it", .reason = "Container killed by signal 15"};
    attempt_finish(st, j, &e, 4000);
    CHECK_STR(status("t-running"), "FAILED");
    CHECK_STR(j->reason, "stop it");
    CHECK(j->is_terminated);
    json_decref(inst.kill);
    inst.kill = NULL;

    /* Even an exit code of 0 after the kill order leaves a terminated job FAILED, and retries
     * are not taken. */
    job *k = submit("t-retry", 0, NULL, "{\"attempts\": 3}");
    run(k);
    attempt_cancel(st, k, "stop", 1);
    end(k, 0);
    CHECK_STR(status("t-retry"), "FAILED");
    CHECK_EQ_INT(k->n_attempts, 1);
    json_decref(inst.kill);
    inst.kill = NULL;

    /* PENDING: fails once its dependencies complete, even when the dependency fails. */
    job *d = submit("t-dep", 0, NULL, NULL);
    job *w = submit("t-waiting", 0, "[{\"jobId\": \"t-dep\"}]", NULL);
    attempt_cancel(st, w, "terminated while waiting", 1);
    CHECK_STR(status("t-waiting"), "PENDING");
    run(d);
    end(d, 1);
    CHECK_STR(status("t-waiting"), "FAILED");
    CHECK_STR(w->reason, "terminated while waiting");
    CHECK(w->is_terminated);

    /* An array parent: every running child is killed. */
    job *p = submit("t-arr", 2, NULL, NULL);
    run(p->children[0]);
    start(p->children[1]);
    attempt_cancel(st, p, "array terminated", 1);
    CHECK_EQ_INT(json_array_size(inst.kill), 2);
    end(p->children[0], 143);
    end(p->children[1], 0);
    check_summary(p);
    CHECK_STR(status("t-arr"), "FAILED");
    CHECK_STR(p->reason, "array terminated");
    json_decref(inst.kill);
    inst.kill = NULL;
    check_instance_idle();
    check_runnable_list();
    commit();
}

/* ---- retries ----------------------------------------------------------------------------- */

static void test_retries(void)
{
    begin();
    /* Three attempts: two failures go back to RUNNABLE, the third success ends it. */
    job *j = submit("r-three", 0, NULL, "{\"attempts\": 3}");
    run(j);
    end(j, 1);
    CHECK_STR(status("r-three"), "RUNNABLE");
    CHECK(j->reason == NULL);
    CHECK(j->stopped_at == 0);
    check_runnable_list();
    run(j);
    end(j, 1);
    run(j);
    CHECK_EQ_INT(j->n_attempts, 3);
    end(j, 0);
    CHECK_STR(status("r-three"), "SUCCEEDED");
    CHECK_EQ_INT(json_array_size(j->attempts), 3);

    /* Attempts run out. */
    job *o = submit("r-out", 0, NULL, "{\"attempts\": 2}");
    run(o);
    end(o, 1);
    run(o);
    end(o, 1);
    CHECK_STR(status("r-out"), "FAILED");
    CHECK_STR(o->reason, "Essential container in task exited");

    /* evaluateOnExit: exit code 3 exits at once, anything else is retried. */
    job *x = submit("r-exit", 0, NULL,
                    "{\"attempts\": 5, \"evaluateOnExit\": [{\"onExitCode\": \"3\", "
                    "\"action\": \"exit\"}, {\"onExitCode\": \"*\", \"action\": \"RETRY\"}]}");
    run(x);
    end(x, 4);
    CHECK_STR(status("r-exit"), "RUNNABLE");
    run(x);
    end(x, 3);
    CHECK_STR(status("r-exit"), "FAILED");
    CHECK_EQ_INT(x->n_attempts, 2);

    /* A lost host has no exit code: onExitCode does not match it, onStatusReason does. */
    job *h = submit("r-host", 0, NULL,
                    "{\"attempts\": 3, \"evaluateOnExit\": [{\"onExitCode\": \"*\", "
                    "\"action\": \"EXIT\"}, {\"onStatusReason\": \"Host EC2*\", \"action\": "
                    "\"RETRY\"}, {\"onReason\": \"*\", \"action\": \"EXIT\"}]}");
    run(h);
    attempt_end lost = {.status_reason = "Host EC2 (instance i-test) terminated."};
    attempt_finish(st, h, &lost, 5000);
    CHECK_STR(status("r-host"), "RUNNABLE");
    run(h);
    end(h, 0);
    CHECK_STR(status("r-host"), "SUCCEEDED");

    /* An array child retries on its own; the summary follows it. */
    job *p = submit("r-arr", 2, NULL, "{\"attempts\": 2}");
    run(p->children[0]);
    end(p->children[0], 1);
    check_summary(p);
    CHECK_STR(status("r-arr:0"), "RUNNABLE");
    check_runnable_list();
    /* A retried job goes back in submit order, ahead of later jobs. */
    jq_rt *q = jobs_queue(st->jobs, "q1");
    job *later = submit("r-later", 0, NULL, NULL);
    CHECK(q->rq_tail == later);
    run(p->children[1]);
    end(p->children[1], 1);
    CHECK(p->children[1]->rq_next == later);
    check_runnable_list();
    run(p->children[0]);
    end(p->children[0], 0);
    run(p->children[1]);
    end(p->children[1], 0);
    CHECK_STR(status("r-arr"), "SUCCEEDED");
    check_instance_idle();
    commit();
}

/* ---- the store round trip ----------------------------------------------------------------- */

/* Leaves jobs in every state, then reloads from the store as a restart after kill -9 would. */
/* An assignment queued for an attempt that has since run, ended or been replaced by the next
 * attempt is not sent: the agent, which forgets an attempt once its end is answered, would run
 * it again (an assignment queued again at a restart, behind the agent's held reports). */
static void test_stale_assignments_are_not_sent(void)
{
    begin();
    json_decref(inst.assign);
    inst.assign = NULL;
    job *done = submit("o-done", 0, NULL, NULL);
    start(done);
    job *running = submit("o-running", 0, NULL, NULL);
    start(running);
    job *retried = submit("o-retried", 0, NULL, "{\"attempts\": 2}");
    start(retried);
    job *waiting = submit("o-waiting", 0, NULL, NULL);
    start(waiting);
    /* Queued again, as reattach does at a restart. */
    instance_push_assign(&inst, json_pack("{s:s, s:i}", "jobId", "o-done", "attempt", 1));
    attempt_running(st, done, 2000);
    end(done, 0);
    attempt_running(st, running, 2000);
    attempt_running(st, retried, 2000);
    end(retried, 1);
    start(retried); /* its second attempt, also queued */
    json_t *out = instance_take_outbox(st, &inst);
    json_t *assign = json_object_get(out, "assign"), *a;
    size_t i;
    const char *sent[4];
    size_t n = 0;
    json_array_foreach(assign, i, a) {
        CHECK(n < 4);
        sent[n++] = json_string_value(json_object_get(a, "jobId"));
        if (strcmp(sent[n - 1], "o-retried") == 0)
            CHECK_EQ_INT(json_integer_value(json_object_get(a, "attempt")), 2);
    }
    CHECK_EQ_INT(n, 2);
    CHECK_STR(sent[0], "o-waiting");
    CHECK_STR(sent[1], "o-retried");
    CHECK(waiting->assign_sent_at != 0);
    json_decref(out);
    end(running, 0);
    end(waiting, 0);
    attempt_running(st, retried, 2500);
    end(retried, 0);
    commit();
    check_instance_idle();
}

static void test_reload(void)
{
    begin();
    submit("l-runnable", 0, NULL, NULL);
    submit("l-dep", 0, NULL, NULL);
    submit("l-waiting", 0, "[{\"jobId\": \"l-dep\"}]", NULL);
    job *cw = submit("l-cancel-waiting", 0, "[{\"jobId\": \"l-dep\"}]", NULL);
    attempt_cancel(st, cw, "cancelled", 0);
    job *ok = submit("l-ok", 0, NULL, NULL);
    run(ok);
    end(ok, 0);
    job *bad = submit("l-bad", 0, NULL, NULL);
    run(bad);
    end(bad, 1);
    submit("l-after-bad", 0, "[{\"jobId\": \"l-bad\"}]", NULL);
    /* Running when the server dies: one with attempts left, one without. */
    job *again = submit("l-again", 0, NULL, "{\"attempts\": 2}");
    run(again);
    job *once = submit("l-once", 0, NULL, NULL);
    start(once);
    submit("l-after-once", 0, "[{\"jobId\": \"l-once\"}]", NULL);
    /* A retried job waiting for its second attempt. */
    job *retried = submit("l-retried", 0, NULL, "{\"attempts\": 3}");
    run(retried);
    end(retried, 1);
    /* An array: a child done, a child running, a child retried, the rest waiting in order. */
    job *p = submit("l-arr", 5, "[{\"type\": \"SEQUENTIAL\"}]", "{\"attempts\": 3}");
    /* Its children start in a later batch than the submit. */
    commit();
    begin();
    run(p->children[0]);
    end(p->children[0], 0);
    run(p->children[1]);
    end(p->children[1], 1);
    run(p->children[1]);
    /* N_TO_N on it. */
    submit("l-n", 5, "[{\"jobId\": \"l-arr\", \"type\": \"N_TO_N\"}]", NULL);
    commit();

    CHECK_STR(status("l-arr:0"), "SUCCEEDED");
    CHECK_STR(status("l-arr:1"), "RUNNING");
    CHECK_STR(status("l-n:0"), "RUNNABLE");
    CHECK_STR(status("l-n:1"), "PENDING");

    uint64_t next_seq = st->jobs->next_seq;
    int64_t arr_started = p->started_at;
    CHECK(arr_started != 0);
    /* The old state goes away as a killed process does: nothing more is written, and the
     * instance is gone with it. */
    json_decref(inst.assign);
    inst.assign = NULL;
    inst.jobs = NULL;
    inst.n_jobs = inst.used_mvcpus = inst.used_memory = inst.used_gpus = 0;
    st = load();

    CHECK_EQ_INT(st->jobs->next_seq, next_seq);
    CHECK_STR(status("l-runnable"), "RUNNABLE");
    CHECK_STR(status("l-dep"), "RUNNABLE");
    CHECK_STR(status("l-waiting"), "PENDING");
    CHECK_STR(status("l-cancel-waiting"), "PENDING");
    CHECK(find("l-cancel-waiting")->cancel_pending);
    CHECK_STR(status("l-ok"), "SUCCEEDED");
    CHECK_STR(status("l-bad"), "FAILED");
    CHECK_STR(status("l-after-bad"), "FAILED");
    CHECK_STR(find("l-after-bad")->reason, "Dependent Job failed");
    /* The interrupted attempts ended as their host terminated, and were retried if they may. */
    job *j = find("l-again");
    CHECK_STR(status("l-again"), "RUNNABLE");
    CHECK_EQ_INT(json_array_size(j->attempts), 1);
    CHECK_STR(last_attempt_reason(j), "Host EC2 (instance i-test) terminated.");
    j = find("l-once");
    CHECK_STR(status("l-once"), "FAILED");
    CHECK_STR(j->reason, "Host EC2 (instance i-test) terminated.");
    CHECK_STR(status("l-after-once"), "FAILED");
    j = find("l-retried");
    CHECK_STR(status("l-retried"), "RUNNABLE");
    CHECK_EQ_INT(j->n_attempts, 1);
    CHECK_EQ_INT(json_array_size(j->attempts), 1);
    /* The array: its summary rebuilt, its running child retried, the rest still in order. */
    p = find("l-arr");
    CHECK_STR(status("l-arr"), "PENDING");
    CHECK(p->started_at == arr_started);
    CHECK_STR(status("l-arr:0"), "SUCCEEDED");
    CHECK_STR(status("l-arr:1"), "RUNNABLE");
    CHECK_EQ_INT(find("l-arr:1")->n_attempts, 2);
    CHECK_STR(status("l-arr:2"), "PENDING");
    CHECK_STR(status("l-arr:4"), "PENDING");
    check_summary(p);
    check_summary(find("l-n"));
    CHECK_STR(status("l-n:0"), "RUNNABLE");
    CHECK_STR(status("l-n:1"), "PENDING");
    check_runnable_list();

    /* The RUNNABLE list keeps submit order across the reload. */
    jq_rt *q = jobs_queue(st->jobs, "q1");
    for (job *k = q->rq_head; k && k->rq_next; k = k->rq_next) CHECK(k->seq <= k->rq_next->seq);
    CHECK(find("l-runnable")->rq_next == find("l-dep"));

    /* And the reloaded state goes on: the dependency succeeds, the cancelled waiter fails. */
    begin();
    run(find("l-dep"));
    end(find("l-dep"), 0);
    CHECK_STR(status("l-waiting"), "RUNNABLE");
    CHECK_STR(status("l-cancel-waiting"), "FAILED");
    CHECK_STR(find("l-cancel-waiting")->reason, "cancelled");
    run(find("l-arr:1"));
    end(find("l-arr:1"), 0);
    CHECK_STR(status("l-arr:2"), "RUNNABLE");
    CHECK_STR(status("l-n:1"), "RUNNABLE");
    check_instance_idle();
    commit();

    /* What a second reload sees is what the first one left, written. */
    state *prev = st;
    st = load();
    CHECK_STR(status("l-cancel-waiting"), "FAILED");
    CHECK_STR(status("l-arr:1"), "SUCCEEDED");
    CHECK_STR(status("l-arr:2"), "RUNNABLE");
    CHECK_STR(status("l-again"), "RUNNABLE");
    CHECK_EQ_INT(find("l-again")->n_attempts, 1);
    check_summary(find("l-arr"));
    /* The array started before the restarts and still says when. */
    CHECK(find("l-arr")->started_at == arr_started);
    check_runnable_list();
    model_free(prev);
}

/* A multi-node job of two one-vCPU nodes in q1. */
static job *submit_nodes(const char *id)
{
    return mt_create(st, mt_nodes_desc(id, MT_QUEUE_ARN("q1"), "1024"), id, 2, NULL);
}

/* A multi-node job stored when its node ranges' containers carried networkInterfaces (AWS's
 * ContainerProperties has none, and SDKs with strict models refuse it) is described without
 * it, by DescribeJobs and by its events alike; its nodes' own containers have it. */
static void test_old_node_ranges_are_described_as_aws_has_them(void)
{
    begin();
    json_t *desc = json_pack(
        "{s:s, s:s, s:s, s:{s:i, s:i, s:[{s:s, s:{s:[s], s:[], s:[{s:s, s:s}, {s:s, s:s}]}}]}}",
        "jobName", "mn-old", "jobQueue", "arn:aws:batch:us-east-1:123456789012:job-queue/q1",
        "jobDefinition", "arn:aws:batch:us-east-1:123456789012:job-definition/mn:1",
        "nodeProperties", "numNodes", 2, "mainNode", 0, "nodeRangeProperties", "targetNodes",
        "0:", "container", "command", "true", "networkInterfaces", "resourceRequirements",
        "type", "VCPU", "value", "1", "type", "MEMORY", "value", "1024");
    json_t *deps = json_array();
    json_object_set(desc, "dependsOn", deps);
    job *j = jobs_create(st, jobspec_make(desc), "mn-old", 2, deps, 1000);
    json_decref(deps);
    commit();
    json_t *d = jobdesc_describe(st, j);
    json_t *range = json_array_get(
        json_object_get(json_object_get(d, "nodeProperties"), "nodeRangeProperties"), 0);
    CHECK(json_object_get(range, "container") != NULL);
    CHECK(json_object_get(json_object_get(range, "container"), "networkInterfaces") == NULL);
    json_decref(d);
    buf rest = {0};
    jobdesc_event_rest(st, j, NULL, &rest);
    CHECK(strstr(rest.data, "nodeRangeProperties") != NULL);
    CHECK(strstr(rest.data, "networkInterfaces") == NULL);
    buf_free(&rest);
    d = jobdesc_describe(st, find("mn-old#1"));
    CHECK(json_is_array(json_object_get(json_object_get(d, "container"), "networkInterfaces")));
    json_decref(d);
}

/* A clean stop interrupted node 1's attempt, and node 0 was being stopped so that both run
 * again together at no cost; then the server died before node 0's attempt ended.  Node 0 is
 * still one to run again at no cost (not a failed node that takes its job down). */
static void test_interrupted_node_across_a_restart(void)
{
    begin();
    job *p = submit_nodes("mn-int");
    commit();
    begin();
    run(find("mn-int#0"));
    run(find("mn-int#1"));
    attempt_end e = {.status_reason = "Host EC2 (instance i-test) terminated.", .uncharged = 1};
    attempt_finish(st, find("mn-int#1"), &e, 3000);
    CHECK_STR(status("mn-int#1"), "RUNNABLE");
    CHECK_STR(status("mn-int#0"), "RUNNING");
    CHECK(find("mn-int#0")->node_interrupted);
    commit();
    (void)p;

    json_decref(inst.assign);
    inst.assign = NULL;
    json_decref(inst.kill);
    inst.kill = NULL;
    inst.jobs = NULL;
    inst.n_jobs = inst.used_mvcpus = inst.used_memory = inst.used_gpus = 0;
    state *prev = st;
    st = load();
    model_free(prev);
    job *main_node = find("mn-int#0");
    CHECK_STR(status("mn-int#0"), "RUNNABLE");
    CHECK_STR(status("mn-int#1"), "RUNNABLE");
    CHECK_STR(last_attempt_reason(main_node), "Stopped: node 1's attempt was interrupted");
    CHECK_EQ_INT(main_node->n_free_attempts, 1);
    CHECK(!main_node->node_interrupted);
    CHECK(find("mn-int")->status != JS_FAILED);

    /* Both run again together and the job succeeds. */
    begin();
    run(find("mn-int#0"));
    run(find("mn-int#1"));
    end(find("mn-int#0"), 0);
    /* Node 1 is stopped with its main node's end, and the job ends as the main node did. */
    CHECK_STR(status("mn-int#1"), "RUNNING");
    end(find("mn-int#1"), 137);
    CHECK_STR(status("mn-int"), "SUCCEEDED");
    commit();
    check_instance_idle();
}

/* The state machine allows AWS's transitions and no other: jobs_set_status asserts it, so a
 * change that moved a job another way would stop the server rather than store it. */
static void test_transitions(void)
{
    static const struct { int from, to, ok; } cases[] = {
        {JS_SUBMITTED, JS_PENDING, 1},  {JS_PENDING, JS_RUNNABLE, 1},
        {JS_RUNNABLE, JS_STARTING, 1},  {JS_STARTING, JS_RUNNING, 1},
        {JS_RUNNING, JS_SUCCEEDED, 1},  {JS_RUNNING, JS_FAILED, 1},
        {JS_RUNNING, JS_RUNNABLE, 1},   /* a retry */
        {JS_STARTING, JS_RUNNABLE, 1},  /* a failure to start, retried */
        {JS_STARTING, JS_SUCCEEDED, 1}, /* the end reported with the start */
        {JS_PENDING, JS_FAILED, 1},     /* a failed dependency, a cancel */
        {JS_PENDING, JS_SUCCEEDED, 1},  /* an array parent whose children all succeeded */
        {JS_RUNNABLE, JS_FAILED, 1},    /* a cancel */
        {JS_RUNNABLE, JS_RUNNABLE, 1},  /* no change */
        {JS_SUCCEEDED, JS_RUNNABLE, 0}, {JS_FAILED, JS_RUNNABLE, 0},
        {JS_FAILED, JS_SUCCEEDED, 0},   {JS_SUCCEEDED, JS_FAILED, 0},
        {JS_RUNNABLE, JS_RUNNING, 0},   {JS_PENDING, JS_STARTING, 0},
        {JS_RUNNING, JS_STARTING, 0},   {JS_RUNNABLE, JS_PENDING, 0},
        {JS_SUBMITTED, JS_RUNNING, 0},  {JS_RUNNABLE, JS_SUCCEEDED, 0},
        {-1, JS_RUNNABLE, 0},           {JS_RUNNABLE, JS_COUNT, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (jobs_transition_allowed(cases[i].from, cases[i].to) != cases[i].ok)
            CHECK_FAIL_("%s -> %s: allowed is %d, expected %d", job_status_name(cases[i].from),
                        job_status_name(cases[i].to), !cases[i].ok, cases[i].ok);
}

/* Runs fn in a child process and checks that it stops on a broken invariant (abort), not that
 * it goes on with a wrong state. */
static void expect_abort(void (*fn)(void), const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        fn();
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        CHECK_FAIL_("%s: expected the invariant to stop the process (status %d)", what, status);
}

static void leave_a_final_status(void)
{
    job *j = submit("leaves-failed", 0, NULL, NULL);
    jobs_set_status(st, j, JS_FAILED, "gone");
    jobs_set_status(st, j, JS_RUNNABLE, NULL);
}

static void detach_an_unplaced_job(void)
{
    job *j = submit("never-placed", 0, NULL, NULL);
    instance_detach(&inst, j);
}

static void test_invariants_stop_the_process(void)
{
    begin();
    expect_abort(leave_a_final_status, "FAILED -> RUNNABLE");
    expect_abort(detach_an_unplaced_job, "detaching a job from an instance it is not on");
    store_rollback(db);
}

int main(void)
{
    log_level = LOG_ERROR;
    config_defaults(&barge_cfg);
    db = mt_store_open(dir);
    RUN(test_transitions);
    st = load();
    inst.id = "i-test";
    inst.ce = "ce1";
    inst.mvcpus = 64000;
    inst.memory_mib = 262144;
    inst.registered = 1;

    RUN(test_invariants_stop_the_process);
    RUN(test_plain_job);
    RUN(test_dependency_chain);
    RUN(test_many_dependents);
    RUN(test_long_failure_cascade);
    RUN(test_array);
    RUN(test_n_to_n);
    RUN(test_sequential);
    RUN(test_whole_array_dependencies);
    RUN(test_cancel);
    RUN(test_terminate);
    RUN(test_retries);
    RUN(test_stale_assignments_are_not_sent);
    state *before = st;
    RUN(test_reload);
    model_free(before);
    RUN(test_interrupted_node_across_a_restart);
    RUN(test_old_node_ranges_are_described_as_aws_has_them);

    model_free(st);
    json_decref(inst.assign);
    json_decref(inst.kill);
    mt_store_close(db, dir);
    return 0;
}
