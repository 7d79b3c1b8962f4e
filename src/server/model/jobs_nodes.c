/* jobs_nodes — the outcome of a multi-node parallel job's attempt: the main node decides, as on
 * AWS, and a retryStrategy attempts the whole job again, all its nodes together (jobs.h,
 * jobs_node_rerun).  The engine stops the other nodes when the main node ends
 * (engine/attempt.c); what is decided here is what the job becomes once all have ended.  And
 * what tells a multi-node job's nodes from an array's children (jobs_is_node, jobs_is_array). */
#include "server/model/jobs.h"
#include "server/model/jobs_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "server/model/retry.h"
#include "server/model/state.h"

/* Whether a node of multi-node job p is starting or running. */
int jobs__nodes_started(const job *p)
{
    return p->family->summary[JS_STARTING] || p->family->summary[JS_RUNNING];
}

/* The node whose attempt decides a failed attempt of a multi-node job: its main node, as on
 * AWS; unless the main node was stopped because another node was cancelled before it started
 * (engine/attempt.c), which then decides. */
static job *deciding_node(job *p)
{
    job *main_node = p->children[jobspec_main_node(p->spec)];
    if (!main_node->reason ||
        strncmp(main_node->reason, JOBS_NODE_STOPPED, strlen(JOBS_NODE_STOPPED)) != 0)
        return main_node;
    for (uint32_t k = 0; k < p->array_size; k++) {
        job *c = p->children[k];
        if (c != main_node && c->status == JS_FAILED && c->is_cancelled && c->reason &&
            strncmp(c->reason, JOBS_NODE_STOPPED, strlen(JOBS_NODE_STOPPED)) != 0)
            return c;
    }
    return main_node;
}

/* Whether a multi-node job whose attempt failed is attempted again, as a plain job would be:
 * while its retryStrategy has attempts left, when its evaluateOnExit (matched against the
 * deciding node's attempt) says so, and unless it was cancelled or terminated, or the deciding
 * node was.  The attempts are the whole job's: every node runs once in each, so the node that
 * ran most counts them (an attempt a clean stop of the server interrupted not counted). */
static int nodes_retry(const job *p, const job *d)
{
    /* A job whose nodes never ran (a dependency failed) made no attempt to retry. */
    if (!json_array_size(d->attempts)) return 0;
    if (p->cancel_pending || p->is_terminated || d->is_cancelled ||
        (d->is_terminated && !(d->stop_reason && strncmp(d->stop_reason, JOBS_NODE_STOPPED,
                                                          strlen(JOBS_NODE_STOPPED)) == 0)))
        return 0;
    int used = 0;
    for (uint32_t k = 0; k < p->array_size; k++) {
        const job *c = p->children[k];
        if (c->n_attempts - c->n_free_attempts > used) used = c->n_attempts - c->n_free_attempts;
    }
    if (used >= p->spec->attempts_max) return 0;
    json_t *last = json_array_get(d->attempts, json_array_size(d->attempts) - 1);
    json_t *container = json_object_get(last, "container");
    json_t *exit_code = json_object_get(container, "exitCode");
    char code[24];
    if (exit_code) snprintf(code, sizeof code, "%lld", (long long)json_integer_value(exit_code));
    return retry_decide(p->spec->evaluate_on_exit,
                        last ? json_string_value(json_object_get(last, "statusReason")) : d->reason,
                        json_string_value(json_object_get(container, "reason")),
                        exit_code ? code : NULL);
}

/* jobs.h.  What the last attempt left (its stop, its reason, its end) goes; its attempts stay
 * listed. */
void jobs_node_rerun(state *st, job *c)
{
    job *p = c->parent;
    int old = c->status;
    BARGE_ASSERT(job_status_done(old) && c->inst == NULL);
    free(c->stop_reason);
    c->stop_reason = NULL;
    c->is_cancelled = c->is_terminated = c->cancel_pending = 0;
    c->stopped_at = 0;
    jobs__set_reason(&c->reason, NULL);
    jobs__status(st->jobs, c, JS_RUNNABLE);
    c->runnable_at = util_now_ms();
    jobs__rq_insert(st->jobs, c);
    st->jobs->sched_needed = 1;
    jobs_mark_dirty(st, c);
    jobs__summary_move(st->jobs, p, old, JS_RUNNABLE);
}

/* A multi-node job ends once all its nodes have, as its main node did: the main node's exit
 * decides, and its reason is the job's (the engine stops the other nodes when it ends:
 * engine/attempt.c); unless its retryStrategy attempts it again, all its nodes together.  A
 * job another node's cancel took down fails with that node's reason. */
void jobs__nodes_done(state *st, job *p)
{
    job *main_node = p->children[jobspec_main_node(p->spec)];
    if (main_node->status == JS_SUCCEEDED) {
        jobs_set_status(st, p, JS_SUCCEEDED, main_node->reason);
        return;
    }
    job *d = deciding_node(p);
    if (nodes_retry(p, d)) {
        /* Its startedAt becomes the next attempt's, set by the first of its nodes to start
         * (jobs_note_started), as a job's times are its latest attempt's. */
        p->started_at = 0;
        jobs_mark_dirty(st, p);
        for (uint32_t k = 0; k < p->array_size; k++) jobs_node_rerun(st, p->children[k]);
        return;
    }
    char reason[400];
    if (d != main_node) snprintf(reason, sizeof reason, "node %d: %s", job_index(d), d->reason);
    if (p->cancel_pending) p->is_cancelled = 1;
    jobs_set_status(st, p, JS_FAILED,
                    p->cancel_pending && p->stop_reason ? p->stop_reason
                    : d != main_node                    ? reason
                                                        : main_node->reason);
}

int jobs_is_node(const job *j)
{
    return j->parent && jobspec_num_nodes(j->parent->spec) > 0;
}

int jobs_is_array(const job *j)
{
    return j->children && jobspec_num_nodes(j->spec) == 0;
}
