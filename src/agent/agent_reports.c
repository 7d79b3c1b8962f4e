#include "agent/agent_reports.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/agent_logs.h"
#include "agent/agent_state.h"

#define OOM_REASON "OutOfMemoryError: Container killed due to memory usage"

struct agent_report {
    struct agent_report *next;
    json_t *body;
    unsigned gen;  /* the registration it belongs to */
    char *end_key; /* a report that an attempt ended: the attempt's held key */
    char *stream;  /* and the log stream its lines go to */
};

/* An attempt this instance holds (see agent_reports.h).  Every exchange lists them
 * ("holding"). */
typedef struct held {
    char *key; /* "ATTEMPT JOBID" */
    char *job_id;
    int attempt;
    unsigned gen;
    int carried; /* only while a body is built: its end report goes in that body */
} held;

static char *held_key(const char *job_id, int attempt)
{
    return xasprintf("%d %s", attempt, job_id);
}

static void held_free(held *h)
{
    free(h->key);
    free(h->job_id);
    free(h);
}

int agent_reports_hold(agent *ag, const char *job_id, int attempt, unsigned gen)
{
    char *key = held_key(job_id, attempt);
    pthread_mutex_lock(&ag->mu);
    int rc = ag->gen != gen || !ag->registered ? -1 : dict_get(&ag->held, key) ? 0 : 1;
    if (rc != 1) {
        pthread_mutex_unlock(&ag->mu);
        free(key);
        return rc;
    }
    held *h = xcalloc(1, sizeof *h);
    h->key = key;
    h->job_id = xstrdup(job_id);
    h->attempt = attempt;
    h->gen = gen;
    dict_put(&ag->held, h->key, h);
    pthread_mutex_unlock(&ag->mu);
    return 1;
}

/* The server has the end report of registration gen's attempt key.  mu held. */
static void release_held(agent *ag, const char *key, unsigned gen)
{
    held *h = dict_get(&ag->held, key);
    if (!h || h->gen != gen) return;
    dict_del(&ag->held, key);
    held_free(h);
}

void agent_reports_release_all(agent *ag)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&ag->held, &i, &k, &v)) {
        dict_del(&ag->held, k);
        held_free(v);
    }
}

json_t *agent_reports_holding(agent *ag, unsigned gen)
{
    json_t *list = json_array();
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&ag->held, &i, &k, &v)) {
        held *h = v;
        if (h->gen != gen || h->carried) continue;
        json_array_append_new(list, json_pack("{s:s, s:i}", "jobId", h->job_id, "attempt",
                                              h->attempt));
    }
    return list;
}

void agent_reports_queue(agent *ag, json_t *body, const exec_spec *end)
{
    /* A body jansson could not make (text that is no UTF-8: the callers make it valid) would
     * be sent as nothing, and an attempt's end released as told. */
    if (!body) {
        log_error("a report to the server could not be written (its text is not UTF-8); "
                  "dropped%s%s", end ? ": the end of job " : "", end ? end->job_id : "");
        return;
    }
    agent_report *r = xcalloc(1, sizeof *r);
    r->body = body;
    r->end_key = end ? held_key(end->job_id, end->attempt) : NULL;
    r->stream = end ? xstrdup(end->log_stream ? end->log_stream : end->job_id) : NULL;
    pthread_mutex_lock(&ag->mu);
    r->gen = ag->gen;
    if (ag->rtail) ag->rtail->next = r;
    else ag->rhead = r;
    ag->rtail = r;
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
}

/* An attempt's start and end are debug lines: they cost the agent a write each, the job's own
 * description holds the same facts, and for the local provider's agents this log is the
 * server's. */
void agent_reports_started(void *ctx, const exec_spec *s, pid_t pid, int64_t at)
{
    log_debug("attempt %d of job %s started (pid %ld)", s->attempt, s->job_id, (long)pid);
    agent_reports_queue(ctx, json_pack("{s:s, s:i, s:s, s:I, s:i}", "jobId", s->job_id,
                                       "attempt", s->attempt, "event", "RUNNING", "at",
                                       (json_int_t)at, "pid", (int)pid), NULL);
}

void agent_reports_pulling(void *ctx, const exec_spec *s, const char *reference)
{
    agent_reports_queue(ctx, json_pack("{s:s, s:i, s:s, s:I, s:s}", "jobId", s->job_id,
                                       "attempt", s->attempt, "event", "PULLING", "at",
                                       (json_int_t)util_now_ms(), "image", reference), NULL);
}

void agent_reports_ended(void *ctx, const exec_spec *s, const exec_result *r)
{
    json_t *j;
    /* Reasons are written into a bounded buffer, which may cut a character of the command or
     * of a runtime's message in half: JSON takes no such text, and the report would be lost. */
    char *why = r->reason ? xstrdup(r->reason) : NULL;
    if (why) util_utf8_cut(why);
    /* An attempt stopped before it started (killed or timed out while its image was pulled)
     * ends as a stopped one does, so that the server gives the stop order's reason. */
    if (!r->started && r->cause == EXEC_STOP_NONE) {
        log_debug("attempt %d of job %s failed to start: %s", s->attempt, s->job_id, r->reason);
        j = json_pack("{s:s, s:i, s:s, s:I, s:s}", "jobId", s->job_id, "attempt", s->attempt,
                      "event", "FAILED_TO_START", "at", (json_int_t)r->ended_at, "reason",
                      why ? why : "CannotStartContainerError");
    } else {
        /* The limit killed a process of the attempt, and the attempt failed: an attempt whose
         * main process went on and exited 0 succeeded, and a reason that its container was
         * killed would say what did not happen. */
        int oom = r->oom && !(r->exited && r->exit_code == 0);
        j = json_pack("{s:s, s:i, s:s, s:I, s:i, s:b, s:b, s:b}", "jobId", s->job_id, "attempt",
                      s->attempt, "event", "EXITED", "at", (json_int_t)r->ended_at, "signal",
                      r->signal, "oom", oom, "timedOut", r->cause == EXEC_STOP_TIMEOUT,
                      "killed", r->cause == EXEC_STOP_KILLED);
        if (r->started && r->exited) json_object_set_new(j, "exitCode", json_integer(r->exit_code));
        if (r->has_usage) {
            json_object_set_new(j, "cpuSeconds", json_real(r->cpu_seconds));
            if (r->max_memory_bytes > 0)
                json_object_set_new(j, "maxMemoryBytes", json_integer(r->max_memory_bytes));
        }
        if (r->cause == EXEC_STOP_SHUTDOWN) json_object_set_new(j, "agentStopped", json_true());
        const char *reason = oom ? OOM_REASON : why;
        if (reason) json_object_set_new(j, "reason", json_string(reason));
        if (r->exited)
            log_debug("attempt %d of job %s exited with status %d", s->attempt, s->job_id,
                     r->exit_code);
        else
            log_debug("attempt %d of job %s ended by signal %d%s%s", s->attempt, s->job_id,
                     r->signal, oom ? " (out of memory)" : "",
                     r->cause == EXEC_STOP_TIMEOUT ? " (timed out)" : "");
    }
    free(why);
    agent_reports_queue(ctx, j, s);
}

agent_report *agent_reports_take(agent *ag, unsigned gen, agent_report **stale)
{
    agent_report *mine = NULL, **tailp = &mine;
    *stale = NULL;
    for (agent_report *r = ag->rhead, *next; r; r = next) {
        next = r->next;
        r->next = NULL;
        if (r->gen == gen) {
            *tailp = r;
            tailp = &r->next;
        } else {
            r->next = *stale;
            *stale = r;
        }
    }
    ag->rhead = ag->rtail = NULL;
    return mine;
}

json_t *agent_reports_bodies(const agent_report *list)
{
    json_t *bodies = json_array();
    for (const agent_report *r = list; r; r = r->next) json_array_append(bodies, r->body);
    return bodies;
}

agent_report *agent_reports_behind_lines(agent *ag, agent_report **list)
{
    agent_report *behind = NULL, **btail = &behind, **at = list;
    while (*at) {
        agent_report *r = *at;
        if (r->stream && agent_logs_queued_for(ag, r->stream)) {
            *at = r->next;
            r->next = NULL;
            *btail = r;
            btail = &r->next;
        } else {
            at = &r->next;
        }
    }
    return behind;
}

void agent_reports_requeue(agent *ag, agent_report *list)
{
    if (!list) return;
    agent_report *tail = list;
    while (tail->next) tail = tail->next;
    pthread_mutex_lock(&ag->mu);
    tail->next = ag->rhead;
    ag->rhead = list;
    if (!ag->rtail) ag->rtail = tail;
    pthread_mutex_unlock(&ag->mu);
}

void agent_reports_free(agent_report *r)
{
    while (r) {
        agent_report *next = r->next;
        json_decref(r->body);
        free(r->end_key);
        free(r->stream);
        free(r);
        r = next;
    }
}

json_t *agent_reports_holding_without(agent *ag, agent_report *list, unsigned gen)
{
    for (agent_report *r = list; r; r = r->next) {
        held *h = r->end_key ? dict_get(&ag->held, r->end_key) : NULL;
        if (h) h->carried = 1;
    }
    json_t *out = agent_reports_holding(ag, gen);
    for (agent_report *r = list; r; r = r->next) {
        held *h = r->end_key ? dict_get(&ag->held, r->end_key) : NULL;
        if (h) h->carried = 0;
    }
    return out;
}

void agent_reports_delivered(agent *ag, agent_report *list)
{
    pthread_mutex_lock(&ag->mu);
    for (agent_report *r = list; r; r = r->next)
        if (r->end_key) release_held(ag, r->end_key, r->gen);
    pthread_mutex_unlock(&ag->mu);
    agent_reports_free(list);
}

void agent_reports_clear(agent *ag)
{
    agent_reports_free(ag->rhead);
    ag->rhead = ag->rtail = NULL;
    agent_reports_release_all(ag);
    dict_free(&ag->held);
}
