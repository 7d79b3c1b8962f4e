/* jobs_queues — the queues' job lists (jq_rt), by name and by generation: a queue deleted and
 * then made again under its name is a new one, and the jobs of the former stay with it (jobs.h). */
#include "server/model/jobs.h"

#include <stdlib.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/model/events.h"
#include "server/model/jobspec.h"
#include "server/model/jobs_internal.h"

void jobs__free_queue(jq_rt *q)
{
    jobs__free_shares(q);
    free(q->all);
    free(q->arrays);
    free(q->name);
    free(q);
}

static jq_rt *new_queue(const char *name, uint64_t first_seq)
{
    jq_rt *q = xcalloc(1, sizeof *q);
    q->name = xstrdup(name);
    q->first_seq = first_seq;
    return q;
}

jq_rt *jobs_queue(jobs *js, const char *name)
{
    jq_rt *q = dict_get(&js->queues, name);
    if (!q) {
        q = new_queue(name, 0);
        dict_put(&js->queues, q->name, q);
    }
    return q;
}

jq_rt *jobs_queue_from(jobs *js, const char *name, uint64_t first_seq)
{
    jq_rt *q = dict_get(&js->queues, name);
    if (!q) {
        q = new_queue(name, first_seq);
        dict_put(&js->queues, q->name, q);
    } else if (q->first_seq < first_seq) {
        jq_rt *fresh = new_queue(name, first_seq);
        fresh->former = q;
        dict_put(&js->queues, fresh->name, fresh);
        q = fresh;
    }
    /* A record older than the lists it names is not made by this server (records and lists
     * begin together); its lists are the generation it began in. */
    while (q->first_seq > first_seq && q->former) q = q->former;
    return q;
}

jq_rt *jobs_queue_of(jobs *js, const job *j)
{
    uint64_t seq = (j->parent ? j->parent : j)->seq;
    jq_rt *q = jobs_queue(js, j->spec->queue);
    while (seq < q->first_seq) {
        /* Jobs older than every generation kept: a queue deleted and made again while the
         * server was stopped, whose lists start here. */
        if (!q->former) q->former = new_queue(q->name, 0);
        q = q->former;
    }
    return q;
}

void jobs_each_queue(jobs *js, void (*fn)(jq_rt *q, void *arg), void *arg)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&js->queues, &i, &k, &v))
        for (jq_rt *q = v; q; q = q->former) fn(q, arg);
}

void jobs_drop_empty_formers(jobs *js)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&js->queues, &i, &k, &v)) {
        for (jq_rt *q = v; q->former;) {
            jq_rt *f = q->former;
            if (f->n_all) {
                q = f;
                continue;
            }
            q->former = f->former;
            jobs__free_queue(f);
        }
    }
}

void jobs__list(jq_rt *q, job *j)
{
    if (q->n_all == q->cap_all) {
        q->cap_all = q->cap_all ? q->cap_all * 2 : 64;
        q->all = xrealloc(q->all, q->cap_all * sizeof *q->all);
    }
    q->all[q->n_all++] = j;
    /* As ListJobs shows it (a multi-node job's summary is in place by now). */
    q->n_status[jobs_shown_status(j)]++;
    if (!job_status_done(j->status)) jobs__share_live(q, j, 1);
    if (j->children) {
        if (q->n_arrays == q->cap_arrays) {
            q->cap_arrays = q->cap_arrays ? q->cap_arrays * 2 : 16;
            q->arrays = xrealloc(q->arrays, q->cap_arrays * sizeof *q->arrays);
        }
        q->arrays[q->n_arrays++] = j;
    }
}

void jobs__summary_move(jobs *js, job *p, int from, int to)
{
    /* An array's status does not follow its children's: only a multi-node job's count can
     * move, and only its pays for finding its queue. */
    jq_rt *q = jobspec_num_nodes(p->spec) > 0 ? jobs_queue_of(js, p) : NULL;
    int shown = q ? jobs_shown_status(p) : -1;
    if (q) q->n_status[shown]--;
    p->family->summary[from]--;
    p->family->summary[to]++;
    p->family->summary_at = util_now_ms();
    if (!q) return;
    int now = jobs_shown_status(p);
    q->n_status[now]++;
    /* A multi-node job's status as described follows its nodes (RUNNABLE, STARTING, RUNNING,
     * and RUNNABLE again when attempted again), and so do its events, as AWS sends them for
     * the job itself.  Not back to PENDING: that is its last node ending, and the job's own
     * end follows at once with an event of its own. */
    if (js->events && now != shown && now != JS_PENDING) events_note(js->events, p, now);
}
