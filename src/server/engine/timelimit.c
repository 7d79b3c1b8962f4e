/* timelimit — see timelimit.h. */
#include "server/engine/timelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "server/engine/attempt.h"
#include "server/engine/explain.h"
#include "server/model/jobs.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"

/* The seconds after which an action of the queue cancels a head with this code; 0 when none
 * acts on it. */
static long long limit_for(json_t *actions, explain_code code)
{
    const char *name = explain_code_name(code);
    if (!name) return 0;
    size_t i;
    json_t *a;
    long long best = 0;
    json_array_foreach(actions, i, a) {
        const char *reason = json_string_value(json_object_get(a, "reason"));
        const char *action = json_string_value(json_object_get(a, "action"));
        const char *state_ = json_string_value(json_object_get(a, "state"));
        if (!reason || strcmp(reason, name) != 0) continue;
        if (action && strcmp(action, "CANCEL") != 0) continue;
        if (state_ && strcmp(state_, "RUNNABLE") != 0) continue;
        long long secs = json_integer_value(json_object_get(a, "maxTimeSeconds"));
        if (!best || secs < best) best = secs;
    }
    return best;
}

/* One line's head: restarts its clock when the head or its code changed, cancels it when its
 * time is up.  Returns 1 when it cancelled. */
static int check_head(state *st, json_t *actions, job *head, const job **seen, int64_t *since,
                      int *seen_code, int64_t now)
{
    if (!head) {
        *seen = NULL;
        return 0;
    }
    explain_code code;
    free(explain_runnable_code(st, head, &code));
    if (head != *seen || (int)code != *seen_code) {
        *seen = head;
        *seen_code = (int)code;
        *since = now;
        return 0;
    }
    long long limit = limit_for(actions, code);
    if (!limit || now - *since < limit * 1000) return 0;
    char reason[160];
    snprintf(reason, sizeof reason, "Canceled by JobStateTimeLimit action due to reason: %s",
             explain_code_name(code));
    log_info("job %s: %s (the head of job queue %s for %lld s)", head->id, reason,
             head->spec->queue, (long long)((now - *since) / 1000));
    *seen = NULL;
    /* A multi-node job's node heads the queue for its whole job, which is what is cancelled. */
    attempt_cancel(st, jobs_is_node(head) ? head->parent : head, reason, 0);
    return 1;
}

/* A queue whose heads are not looked at this tick (none waits, or no action applies) forgets
 * the heads it saw: a job that heads it again later (retried after it ran, or once actions are
 * set) starts a clock of its own rather than going on with that of its earlier wait. */
static void forget_heads(jq_rt *rt)
{
    if (!rt->heads_kept) return; /* most queues have no actions: nothing to walk each tick */
    rt->heads_kept = 0;
    rt->head_seen = NULL;
    for (size_t k = 0; k < rt->n_shares; k++) rt->share_v[k]->head_seen = NULL;
}

void timelimit_tick(state *st)
{
    int64_t now = util_mono_ms();
    size_t nq;
    jq_rec *const *qs = res_queues_by_priority(st, &nq);
    for (size_t i = 0; i < nq; i++) {
        jq_rec *q = qs[i];
        jq_rt *rt = q->jobs;
        if (!rt) continue;
        json_t *actions = json_object_get(reg_get(&st->jq, q->name), "jobStateTimeLimitActions");
        if (!rt->n_runnable || json_array_size(actions) == 0) {
            forget_heads(rt);
            continue;
        }
        /* A cancel changes the lists and may re-sort nothing here, but the queue's next head is
         * looked at on the next tick, after its own full wait. */
        rt->heads_kept = 1;
        check_head(st, actions, rt->rq_head, &rt->head_seen, &rt->head_since, &rt->head_code, now);
        for (size_t k = 0; k < rt->n_shares; k++) {
            jq_share *s = rt->share_v[k];
            check_head(st, actions, s->rq_head, &s->head_seen, &s->head_since, &s->head_code,
                       now);
        }
    }
}
