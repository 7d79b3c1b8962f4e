/* jobs_shares — the shares of fair-share queues (jobs.h). */
#include "server/model/jobs.h"
#include "server/model/jobs_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/state.h"

/* The store's records: key QUEUE<TAB>SHARE (neither holds a tab), {"usage":..., "at":...}. */
#define SHARE_KIND "share"

jq_share *jobs_share(jq_rt *q, const char *id)
{
    jq_share *s = dict_get(&q->shares, id);
    if (s) return s;
    s = xcalloc(1, sizeof *s);
    s->id = xstrdup(id);
    s->queue = q;
    s->decay_s = JOBS_SHARE_DEFAULT_DECAY_S;
    dict_put(&q->shares, s->id, s);
    if (q->n_shares == q->cap_shares) {
        q->cap_shares = q->cap_shares ? q->cap_shares * 2 : 8;
        q->share_v = xrealloc(q->share_v, q->cap_shares * sizeof *q->share_v);
    }
    q->share_v[q->n_shares++] = s;
    return s;
}

int jobs_share_active(const jq_share *s)
{
    return s->n_live || s->n_runnable || s->running_mvcpus;
}

int jobs_share_may_join(const jq_rt *q, const char *id, int limit)
{
    const jq_share *s = q ? dict_get(&q->shares, id) : NULL;
    if (s && jobs_share_active(s)) return 1;
    int active = 0;
    /* Only for a share's first job: counting every share each submit would cost the queue's
     * submissions a walk of hundreds. */
    for (size_t i = 0; q && i < q->n_shares && active < limit; i++)
        active += jobs_share_active(q->share_v[i]);
    return active < limit;
}

void jobs__share_live(jq_rt *q, const job *j, int delta)
{
    const char *id = jobspec_share(j->spec);
    if (!id) return;
    jq_share *s = jobs_share(q, id);
    BARGE_ASSERT(delta > 0 || s->n_live > 0);
    s->n_live += (uint32_t)delta;
}

double jobs_share_usage(const jq_share *s, int64_t now_ms)
{
    if (!s->usage_at || now_ms <= s->usage_at) return s->usage;
    double dt = (double)(now_ms - s->usage_at) / 1000.0, t = s->decay_s;
    double keep = exp(-dt / t);
    /* Constant use r over dt, decayed continuously: the integral of r e^(-(now-u)/T) du. */
    return s->usage * keep + (s->running_mvcpus / 1000.0) * t * (1.0 - keep);
}

static void advance(jq_share *s, int64_t now_ms)
{
    s->usage = jobs_share_usage(s, now_ms);
    if (now_ms > s->usage_at) s->usage_at = now_ms;
}

void jobs_share_charge(jq_share *s, int delta_mvcpus, int64_t now_ms)
{
    advance(s, now_ms);
    s->running_mvcpus += delta_mvcpus;
    if (s->running_mvcpus < 0) s->running_mvcpus = 0;
    s->queue->running_mvcpus += delta_mvcpus;
    if (s->queue->running_mvcpus < 0) s->queue->running_mvcpus = 0;
    s->dirty = 1;
}

void jobs_share_set_decay(jq_share *s, double decay_s, int64_t now_ms)
{
    if (decay_s <= 0) decay_s = JOBS_SHARE_DEFAULT_DECAY_S;
    if (decay_s == s->decay_s) return;
    advance(s, now_ms);
    s->decay_s = decay_s;
}

/* A share's record is named by its queue's name and its own. */
static void share_key(char *key, size_t size, const jq_rt *q, const jq_share *s)
{
    snprintf(key, size, "%s\t%s", q->name, s->id);
}

void jobs_forget_shares(state *st, jq_rt *q)
{
    for (size_t n = 0; n < q->n_shares; n++) {
        char key[600];
        share_key(key, sizeof key, q, q->share_v[n]);
        q->share_v[n]->dirty = 0;
        if (store_del(st->db, SHARE_KIND, key) != 0) {
            log_error("store: removing the usage of share %s failed: %s", key,
                      store_errmsg(st->db));
            st->store_failed = 1;
            return;
        }
    }
}

void jobs_drop_idle_shares(state *st, int64_t now_ms)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->jobs->queues, &i, &k, &v)) {
        jq_rt *q = v;
        size_t kept = 0;
        for (size_t n = 0; n < q->n_shares; n++) {
            jq_share *s = q->share_v[n];
            int idle = !s->n_runnable && !s->rq_head && !s->running_mvcpus && !s->n_live &&
                       jobs_share_usage(s, now_ms) < JOBS_SHARE_IDLE_USAGE;
            if (idle) {
                char key[600];
                share_key(key, sizeof key, q, s);
                if (store_del(st->db, SHARE_KIND, key) != 0) {
                    log_error("store: removing the usage of share %s failed: %s", key,
                              store_errmsg(st->db));
                    st->store_failed = 1;
                    idle = 0;
                }
            }
            if (!idle) {
                q->share_v[kept++] = s;
                continue;
            }
            dict_del(&q->shares, s->id);
            free(s->id);
            free(s);
        }
        q->n_shares = kept;
    }
}

void jobs_flush_shares(state *st, int final)
{
    int64_t now = util_now_ms();
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->jobs->queues, &i, &k, &v)) {
        jq_rt *q = v;
        for (size_t n = 0; n < q->n_shares; n++) {
            jq_share *s = q->share_v[n];
            if (!s->dirty || (!final && now - s->written_at < JOBS_SHARE_WRITE_MS)) continue;
            advance(s, now);
            char key[600], doc[96];
            share_key(key, sizeof key, q, s);
            snprintf(doc, sizeof doc, "{\"usage\":%.3f,\"at\":%lld}", s->usage,
                     (long long)s->usage_at);
            if (store_put(st->db, SHARE_KIND, key, doc, strlen(doc)) != 0) {
                log_error("store: writing the usage of share %s failed: %s", key,
                          store_errmsg(st->db));
                st->store_failed = 1;
                return;
            }
            s->dirty = 0;
            s->written_at = now;
        }
    }
}

static int load_one(void *arg, const char *key, const char *doc, size_t len)
{
    state *st = arg;
    const char *tab = strchr(key, '\t');
    json_t *v = json_loadb(doc, len, 0, NULL);
    if (!tab || !json_is_object(v)) {
        /* Usage only steers fairness: a bad record costs that share its history, not the
         * start. */
        log_warn("store: share record '%s' is not one this server wrote; ignored", key);
        json_decref(v);
        return 0;
    }
    char *queue = xstrndup(key, (size_t)(tab - key));
    jq_share *s = jobs_share(jobs_queue(st->jobs, queue), tab + 1);
    free(queue);
    s->usage = json_number_value(json_object_get(v, "usage"));
    s->usage_at = json_integer_value(json_object_get(v, "at"));
    s->written_at = s->usage_at;
    json_decref(v);
    return 0;
}

int jobs_load_shares(state *st, char **err)
{
    if (store_scan(st->db, SHARE_KIND, load_one, st) != 0) {
        *err = xasprintf("reading share usage from the store failed: %s", store_errmsg(st->db));
        return -1;
    }
    return 0;
}

void jobs__free_shares(jq_rt *q)
{
    for (size_t n = 0; n < q->n_shares; n++) {
        free(q->share_v[n]->id);
        free(q->share_v[n]);
    }
    free(q->share_v);
    dict_free(&q->shares);
}
