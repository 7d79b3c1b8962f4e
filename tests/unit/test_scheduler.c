/* The scheduler's passes (engine/scheduler.c, engine/fairshare.c) and queues' time limits
 * (engine/timelimit.c), driven directly on an in-memory state with an UNMANAGED compute
 * environment whose instances are records made in the fleet: no agent runs. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/base/agent_ident.h"
#include "server/base/store.h"
#include "server/model/config.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/model.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/engine/attempt.h"
#include "server/engine/explain.h"
#include "server/engine/fleet.h"
#include "server/engine/scheduler.h"
#include "server/engine/timelimit.h"
#include "model_testing.h"

static char dir[] = "/tmp/barge-unit-scheduler-XXXXXX";
static store *db;
static state *st;

static void begin(void)
{
    CHECK_EQ_INT(store_begin(db), 0);
}

static void commit(void)
{
    sched_pass(st);
    jobs_flush(st);
    jobs_flush_shares(st, 0);
    CHECK_EQ_INT(st->store_failed, 0);
    if (store_commit(db) != 0) CHECK_FAIL_("commit: %s", store_errmsg(db));
}

static void put_ce(const char *name)
{
    reg_put(st, &st->ce, name,
            json_pack("{s:s, s:s, s:s, s:s}", "computeEnvironmentName", name, "type",
                      "UNMANAGED", "state", "ENABLED", "status", "VALID"));
}

/* Queue name on environment ce; extra (JSON text or NULL) adds members. */
static void put_queue(const char *name, const char *ce, const char *extra)
{
    char arn[200];
    snprintf(arn, sizeof arn, "arn:aws:batch:us-east-1:123456789012:compute-environment/%s", ce);
    json_t *d = json_pack("{s:s, s:s, s:s, s:i, s:[{s:i, s:s}]}", "jobQueueName", name, "state",
                          "ENABLED", "status", "VALID", "priority", 1, "computeEnvironmentOrder",
                          "order", 1, "computeEnvironment", arn);
    if (extra) json_object_update_new(d, mt_parse(extra));
    reg_put(st, &st->jq, name, d);
}

/* A registered instance of ce. */
static instance *add_instance(const char *id, const char *ce, int vcpus)
{
    instance *in = instance_new(st->fleet, id, ce);
    in->mvcpus = vcpus * 1000;
    in->memory_mib = vcpus * 4096;
    in->registered = 1;
    return in;
}

static job *find(const char *id)
{
    return mt_find(st, id);
}

static const char *status(const char *id)
{
    return job_status_name(find(id)->status);
}

/* A plain job (or an array of size > 0) in queue; extra (JSON text or NULL) adds members. */
static job *submit(const char *id, const char *queue, int vcpus, uint32_t size,
                   const char *extra)
{
    char v[16], q[200];
    snprintf(v, sizeof v, "%d", vcpus);
    snprintf(q, sizeof q, MT_QUEUE_ARN("%s"), queue);
    json_t *desc = mt_job_desc(id, q, "true", v, "1024");
    if (extra) json_object_update_new(desc, mt_parse(extra));
    return mt_create(st, desc, id, size, NULL);
}

/* A multi-node job of two one-vCPU nodes of memory MiB in queue; extra as submit's. */
static job *submit_nodes_of(const char *id, const char *queue, const char *memory,
                            const char *extra)
{
    char q[200];
    snprintf(q, sizeof q, MT_QUEUE_ARN("%s"), queue);
    json_t *desc = mt_nodes_desc(id, q, memory);
    if (extra) json_object_update_new(desc, mt_parse(extra));
    return mt_create(st, desc, id, 2, NULL);
}

static job *submit_nodes(const char *id, const char *queue)
{
    return submit_nodes_of(id, queue, "1024", NULL);
}

/* Two gangs that fit on one instance together are both placed by one pass: the room a placed
 * gang promised its nodes is not counted again once they use it. */
static void test_two_gangs_in_one_pass(void)
{
    begin();
    put_ce("ce-g");
    put_queue("q-g", "ce-g", NULL);
    add_instance("i-g", "ce-g", 4);
    submit_nodes("g1", "q-g");
    submit_nodes("g2", "q-g");
    commit();
    CHECK_STR(status("g1#0"), "STARTING");
    CHECK_STR(status("g1#1"), "STARTING");
    CHECK_STR(status("g2#0"), "STARTING");
    CHECK_STR(status("g2#1"), "STARTING");
}

/* A gang placed in a later environment of its queue gives back the room it was promised in an
 * earlier one where not all of its nodes fit: another gang of the same pass may use it. */
static void test_a_gang_placed_elsewhere_frees_its_promise(void)
{
    begin();
    put_ce("ce-ea");
    put_ce("ce-eb");
    char a[200], b[200], order[600];
    snprintf(a, sizeof a, "arn:aws:batch:us-east-1:123456789012:compute-environment/%s", "ce-ea");
    snprintf(b, sizeof b, "arn:aws:batch:us-east-1:123456789012:compute-environment/%s", "ce-eb");
    snprintf(order, sizeof order,
             "{\"priority\": 10, \"computeEnvironmentOrder\": [{\"order\": 1, "
             "\"computeEnvironment\": \"%s\"}, {\"order\": 2, \"computeEnvironment\": \"%s\"}]}",
             a, b);
    put_queue("q-e1", "ce-ea", order);
    put_queue("q-e2", "ce-ea", NULL);
    /* ce-ea: 2 vCPUs and 8192 MiB, room for one node of e1 (6000 MiB each), or for both of
     * e2's (1024 MiB each); ce-eb: room for e1's two. */
    add_instance("i-ea", "ce-ea", 2);
    add_instance("i-eb", "ce-eb", 4);
    submit_nodes_of("e1", "q-e1", "6000", NULL);
    submit_nodes_of("e2", "q-e2", "1024", NULL);
    commit();
    CHECK_STR(status("e1#0"), "STARTING");
    CHECK_STR(find("e1#0")->inst->id, "i-eb");
    CHECK_STR(status("e2#0"), "STARTING");
    CHECK_STR(status("e2#1"), "STARTING");
}

/* A multi-node job that computeReservation holds back says so: all its nodes' vCPUs count,
 * not its first node's alone. */
static void test_reservation_reason_counts_every_node(void)
{
    begin();
    put_ce("ce-r");
    reg_put(st, &st->sp, "pol-r",
            mt_parse("{\"name\": \"pol-r\", \"arn\": "
                  "\"arn:aws:batch:us-east-1:123456789012:scheduling-policy/pol-r\", "
                  "\"fairsharePolicy\": {\"shareDecaySeconds\": 60, \"computeReservation\": 50}}"));
    put_queue("q-r", "ce-r",
              "{\"schedulingPolicyArn\": "
              "\"arn:aws:batch:us-east-1:123456789012:scheduling-policy/pol-r\"}");
    /* 4 vCPUs, half held back while one share is active: 2 for it. */
    add_instance("i-r", "ce-r", 4);
    submit("r-one", "q-r", 1, 0, "{\"shareIdentifier\": \"a\"}");
    commit();
    CHECK_STR(status("r-one"), "STARTING");
    begin();
    submit_nodes_of("r-mn", "q-r", "1024", "{\"shareIdentifier\": \"a\"}");
    commit();
    CHECK_STR(status("r-mn#0"), "RUNNABLE");
    char *why = explain_runnable(st, find("r-mn#0"));
    CHECK_CONTAINS(why, "computeReservation");
    free(why);
}

/* The time limit's clock of a job that heads its queue starts when it becomes the head: a job
 * that waited a while, ran, and waits again (its instance lost) starts a new clock rather than
 * going on with the one of its earlier wait, which would cancel it at once. */
static void test_time_limit_clock_restarts_after_a_run(void)
{
    begin();
    put_ce("ce-t");
    put_queue("q-t", "ce-t",
              "{\"jobStateTimeLimitActions\": [{\"reason\": "
              "\"MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT\", \"state\": \"RUNNABLE\", "
              "\"maxTimeSeconds\": 1, \"action\": \"CANCEL\"}]}");
    add_instance("i-t-small", "ce-t", 1);
    submit("t-big", "q-t", 2, 0, "{\"retryStrategy\": {\"attempts\": 3}}");
    commit();
    CHECK_STR(status("t-big"), "RUNNABLE");
    timelimit_tick(st); /* its clock starts */
    timelimit_tick(st);
    CHECK_STR(status("t-big"), "RUNNABLE");
    /* An instance large enough comes and the job runs there for a while. */
    begin();
    instance *big = add_instance("i-t-big", "ce-t", 2);
    st->jobs->sched_needed = 1;
    commit();
    CHECK_STR(status("t-big"), "STARTING");
    for (int i = 0; i < 6; i++) {
        usleep(200 * 1000);
        timelimit_tick(st);
    }
    /* The instance is lost: the job waits again, with the same reason code. */
    begin();
    fleet_lose(st, big, "test");
    CHECK_STR(status("t-big"), "RUNNABLE");
    commit();
    CHECK_STR(status("t-big"), "RUNNABLE");
    timelimit_tick(st);
    CHECK_STR(status("t-big"), "RUNNABLE");
    /* Its own full wait cancels it. */
    begin();
    usleep(1200 * 1000);
    timelimit_tick(st);
    CHECK_STR(status("t-big"), "FAILED");
    CHECK_CONTAINS(find("t-big")->reason, "JobStateTimeLimit");
    commit();
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The fastest of three passes, in seconds. */
static double timed_pass(void)
{
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        st->jobs->sched_needed = 1;
        double t0 = now_s();
        sched_pass(st);
        double took = now_s() - t0;
        if (took < best) best = took;
    }
    return best;
}

/* n shares in queue, each with a one-vCPU job waiting and some usage behind it. */
static void fill_shares(const char *queue, int n)
{
    char id[64], extra[96];
    for (int s = 0; s < n; s++) {
        snprintf(extra, sizeof extra, "{\"shareIdentifier\": \"s%d\"}", s);
        snprintf(id, sizeof id, "%s-%d", queue, s);
        submit(id, queue, 1, 0, extra);
    }
    jq_rt *rt = jobs_queue(st->jobs, queue);
    for (size_t k = 0; k < rt->n_shares; k++) {
        rt->share_v[k]->usage = 1.0 + (double)k;
        rt->share_v[k]->usage_at = util_now_ms() - 1000;
    }
}

/* A fair-share queue with many shares, every one with jobs waiting and no room for any: a pass
 * tries a bounded number of jobs per share, and picking the share to serve next must not cost a
 * walk over every share for each of them (a pass quadratic in the shares).  Ten times the
 * shares (a second queue of nine times the first's) may cost about ten times as much, not a
 * hundred. */
static void test_many_shares_pass_is_not_quadratic(void)
{
    begin();
    put_ce("ce-f");
    reg_put(st, &st->sp, "pol-f",
            mt_parse("{\"name\": \"pol-f\", \"arn\": "
                  "\"arn:aws:batch:us-east-1:123456789012:scheduling-policy/pol-f\", "
                  "\"fairsharePolicy\": {\"shareDecaySeconds\": 60, \"computeReservation\": 0}}"));
    const char *fair = "{\"schedulingPolicyArn\": "
                       "\"arn:aws:batch:us-east-1:123456789012:scheduling-policy/pol-f\"}";
    put_queue("q-f1", "ce-f", fair);
    put_queue("q-f9", "ce-f", fair);
    instance *in = add_instance("i-f", "ce-f", 1);
    in->used_mvcpus = in->mvcpus; /* full */
    fill_shares("q-f1", 4000);
    /* The fastest of a few passes each: a busy machine may slow any few of them (a fast first
     * figure against a slowed second failed a test run beside it), never make a quadratic pass
     * linear. */
    double one = timed_pass();
    for (int again = 0; again < 4; again++) {
        double t = timed_pass();
        if (t < one) one = t;
    }
    fill_shares("q-f9", 36000);
    double ten = timed_pass();
    for (int again = 0; again < 11 && ten >= 60 * one; again++) {
        double t = timed_pass();
        if (t < ten) ten = t;
    }
    fprintf(stderr, "    passes over 4000 and 40000 shares took %.4f s and %.4f s\n", one, ten);
    CHECK_STR(status("q-f1-0"), "RUNNABLE");
    /* Linear is about ten times (up to thirty here, as the larger tables leave the caches);
     * quadratic a hundred. */
    CHECK(ten < 60 * one);
    in->used_mvcpus = 0;
    commit();
}

/* An array of a higher priority than the jobs waiting in its share goes before them, its
 * children in order, and a later job of the same priority after its children.  Putting each
 * child in its place does not walk past every waiting job again (it walked once per child:
 * 10,000 children behind 20,000 jobs held the core thread 1.3 s), so it costs about what an
 * array of the waiting jobs' priority does, which goes at the end. */
static void test_a_high_priority_array_into_a_busy_share(void)
{
    begin();
    put_ce("ce-p");
    reg_put(st, &st->sp, "pol-p",
            mt_parse("{\"name\": \"pol-p\", \"arn\": "
                  "\"arn:aws:batch:us-east-1:123456789012:scheduling-policy/pol-p\", "
                  "\"fairsharePolicy\": {\"shareDecaySeconds\": 60}}"));
    put_queue("q-p", "ce-p", "{\"schedulingPolicyArn\": "
                             "\"arn:aws:batch:us-east-1:123456789012:scheduling-policy/pol-p\"}");
    const char *low = "{\"shareIdentifier\": \"s\"}";
    const char *high = "{\"shareIdentifier\": \"s\", \"schedulingPriority\": 5}";
    char id[32];
    enum { WAITING = 10000, SIZE = 5000 };
    for (int i = 0; i < WAITING; i++) {
        snprintf(id, sizeof id, "p-low-%d", i);
        submit(id, "q-p", 1, 0, low);
    }
    double t0 = now_s();
    submit("p-high", "q-p", 1, SIZE, high);
    double t_high = now_s() - t0;
    t0 = now_s();
    submit("p-low-arr", "q-p", 1, SIZE, low);
    double t_low = now_s() - t0;
    submit("p-high-later", "q-p", 1, 0, high);
    fprintf(stderr, "    %d children before %d waiting jobs %.4f s, after them %.4f s\n", SIZE,
            WAITING, t_high, t_low);
    CHECK(t_high < 10 * t_low + 0.01);
    /* The share's list: the array's children in order, the later job of its priority, the
     * waiting jobs, the other array's children. */
    jq_rt *rt = jobs_queue(st->jobs, "q-p");
    CHECK_EQ_INT(rt->n_shares, 1);
    const job *x = rt->share_v[0]->rq_head;
    for (int k = 0; k < SIZE; k++, x = x->rq_next) {
        snprintf(id, sizeof id, "p-high:%d", k);
        CHECK_STR(x->id, id);
    }
    CHECK_STR(x->id, "p-high-later");
    x = x->rq_next;
    CHECK_STR(x->id, "p-low-0");
    CHECK_STR(rt->share_v[0]->rq_tail->id, "p-low-arr:4999");
    commit();
}

/* Retried attempts go back to their submit-order places, near the head of a queue's list,
 * in whatever order they end: each place is found from the nearer end of the list rather than
 * by a walk from its tail past every job waiting behind (5,000 retries in a queue with 20,000
 * newer jobs waiting took 5,000 walks of 20,000 steps, and as many ending in reverse order in
 * a queue where nothing waited walked past one another), so they cost about what they cost
 * when they end in order into a queue where nothing waits, each going after the one before. */
static double fail_retried(const char *queue, instance *in, int waiting, int reverse)
{
    enum { RETRIED = 5000 };
    char id[48];
    job *old[RETRIED];
    for (int i = 0; i < RETRIED; i++) {
        snprintf(id, sizeof id, "%s-old-%d", queue, i);
        old[i] = submit(id, queue, 1, 0, "{\"retryStrategy\": {\"attempts\": 2}}");
        attempt_start(st, in, old[i]);
        attempt_running(st, old[i], util_now_ms());
    }
    for (int i = 0; i < waiting; i++) {
        snprintf(id, sizeof id, "%s-new-%d", queue, i);
        submit(id, queue, 1, 0, NULL);
    }
    attempt_end e = {.has_exit_code = 1, .exit_code = 1,
                     .status_reason = "Essential container in task exited"};
    double t0 = now_s();
    for (int k = 0; k < RETRIED; k++)
        attempt_finish(st, old[reverse ? RETRIED - 1 - k : k], &e, util_now_ms());
    double took = now_s() - t0;
    /* The queue's list: the retried jobs in submit order, then the newer ones. */
    const job *x = jobs_queue(st->jobs, queue)->rq_head;
    for (int i = 0; i < RETRIED; i++, x = x->rq_next) CHECK(x == old[i]);
    if (waiting) {
        snprintf(id, sizeof id, "%s-new-0", queue);
        CHECK_STR(x->id, id);
    }
    return took;
}

static void test_retries_into_a_deep_queue(void)
{
    begin();
    put_ce("ce-rt");
    instance *in = add_instance("i-rt", "ce-rt", 25000);
    /* Up to three rounds, each in queues of its own, the fastest of each kept: a busy machine
     * may slow a few, never make a walk past 20,000 jobs a retry as fast as none. */
    double idle = 1e9, back = 1e9, deep = 1e9;
    for (int r = 0; r < 3; r++) {
        char q[3][32];
        snprintf(q[0], sizeof q[0], "q-rt-idle%d", r);
        snprintf(q[1], sizeof q[1], "q-rt-back%d", r);
        snprintf(q[2], sizeof q[2], "q-rt-deep%d", r);
        for (int k = 0; k < 3; k++) put_queue(q[k], "ce-rt", NULL);
        double t = fail_retried(q[0], in, 0, 0);
        if (t < idle) idle = t;
        t = fail_retried(q[1], in, 0, 1);
        if (t < back) back = t;
        t = fail_retried(q[2], in, 20000, 1);
        if (t < deep) deep = t;
        if (back < 4 * idle + 0.02 && deep < 4 * idle + 0.02) break;
    }
    fprintf(stderr, "    5000 retries ending in order into a queue with nothing waiting %.4f s; "
                    "in reverse %.4f s, and with 20000 waiting %.4f s\n", idle, back, deep);
    CHECK(back < 4 * idle + 0.02);
    CHECK(deep < 4 * idle + 0.02);
    commit();
}

int main(void)
{
    log_level = LOG_ERROR + 1;
    config_defaults(&barge_cfg);
    barge_cfg.dev = 1;
    db = mt_store_open(dir);
    st = mt_load(db);

    RUN(test_two_gangs_in_one_pass);
    RUN(test_a_gang_placed_elsewhere_frees_its_promise);
    RUN(test_reservation_reason_counts_every_node);
    RUN(test_time_limit_clock_restarts_after_a_run);
    RUN(test_many_shares_pass_is_not_quadratic);
    RUN(test_a_high_priority_array_into_a_busy_share);
    RUN(test_retries_into_a_deep_queue);

    model_free(st);
    mt_store_close(db, dir);
    agent_ident_free();
    return 0;
}
