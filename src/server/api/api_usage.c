/* api_usage — GetUsage (POST /barge/v1/getusage): what a queue's jobs reserved and used, summed
 * by job definition, by the value of a tag (the jobs without the tag in a group of their own,
 * whose key is null), or for the whole queue.  A job counts with its
 * description's barge.usage (jobdesc.h); an array job through its children, each one job, as
 * `barge usage` and the console's Usage page show it.
 *
 * Summing in the server spares a client the description of every job (10,000 DescribeJobs for
 * a million jobs).  A queue may hold that many, so a call sums what it can in USAGE_BUDGET_US of
 * the core's time, in submit order, and answers those jobs' sums with a nextToken where the next
 * call goes on: the caller adds the pages up (jobs and seconds added, the peak the largest).
 * maxJobs makes pages smaller (queue jobs a page at most; an array is one).  A multi-node
 * job is one job, with what its nodes held (its attempts are theirs).
 * Jobs let go by the retention between two pages are not counted, nor are jobs submitted after
 * the last page began.  endedAfter and endedBefore (epoch ms; either or both) count only the
 * attempts that ended from the one up to, not including, the other, and only the jobs with such
 * an attempt: adjacent windows add up to the whole, each attempt counted whole in the window it
 * ended in (a week's sums are the attempts that ended that week).  The pages of one sum take
 * the same window and grouping, as they take the same queue: a token is refused with others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/jtext.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/api/api.h"
#include "server/api/jobdesc.h"
#include "server/model/arn.h"
#include "server/model/jobs.h"
#include "server/model/jobspec.h"
#include "server/model/registry.h"
#include "server/model/state.h"
#include "server/model/usage.h"

/* About a page's worth of the core's time: other calls wait meanwhile. */
#define USAGE_BUDGET_US 20000
#define USAGE_CLOCK_EVERY 256 /* jobs between looks at the clock */
/* Then the submit sequence and what the pages must share (token_rest). */
#define TOKEN_KIND "usage:"

typedef struct ugroup {
    char *key;
    long long jobs;
    job_usage u; /* its jobs' attempts in the window, summed (usage_add) */
} ugroup;

typedef struct sums {
    dict by_key;
    ugroup *untagged; /* jobs without the tag grouped by: apart from any value's */
    ugroup **list;    /* in the order first seen */
    size_t n, cap;
} sums;

/* The group of key; NULL is the group of the jobs without the tag, answered with the key null. */
static ugroup *group_of(sums *s, const char *key)
{
    ugroup *g = key ? dict_get(&s->by_key, key) : s->untagged;
    if (g) return g;
    g = xcalloc(1, sizeof *g);
    if (key) {
        g->key = xstrdup(key);
        dict_put(&s->by_key, g->key, g);
    } else {
        s->untagged = g;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->list = xrealloc(s->list, s->cap * sizeof *s->list);
    }
    s->list[s->n++] = g;
    return g;
}

/* The attempts counted: those that ended from `from` up to `to` (epoch ms); every attempt when
 * the call named no window. */
typedef struct window {
    int64_t from, to;
    int given;
} window;

/* What j's attempts in the window held and used, added to g (not counted as a job); how many
 * attempts that was. */
static int add_usage(ugroup *g, const job *j, const window *w)
{
    /* A job that never started holds nothing (and its attempts are a cache line away). */
    if (!j->n_attempts) return 0;
    job_usage u = usage_ended(j, w->from, w->to);
    usage_add(&g->u, &u);
    return u.attempts;
}

/* The job's group: "definition" (its job definition's name), "queue", or "tag:KEY" (the tag's
 * value; NULL without it, as any string is a value a job may be tagged with).  key is a buffer
 * of size n, or the result points into the spec. */
static const char *key_of(const job *j, const char *by, char *key, size_t n)
{
    if (strcmp(by, "queue") == 0) return j->spec->queue;
    if (strncmp(by, "tag:", 4) != 0) return j->spec->jd_name ? j->spec->jd_name : "-";
    /* The tags are in the job's own JSON text: parsed only when it has some. */
    if (!j->spec->own || !strstr(j->spec->own, "\"tags\"")) return NULL;
    json_t *tags = jobspec_own(j->spec, "tags");
    const char *v = json_string_value(json_object_get(tags, by + 4));
    if (v) snprintf(key, n, "%s", v);
    json_decref(tags);
    return v ? key : NULL;
}

/* What a token says after its submit sequence: what every page of one sum must be asked with,
 * the queue, the grouping and the window (a page summed by another grouping or window would be
 * added up with the others into figures of nothing).  The queue's name holds no ':'. */
static char *token_rest(const char *qname, const char *by, const window *w)
{
    /* given apart from the bounds: a window spelled out as the widest there is still counts
     * only the jobs with an attempt in it, where no window counts every job. */
    return xasprintf(":%s:%d:%lld:%lld:%s", qname, w->given, (long long)w->from,
                     (long long)w->to, by);
}

/* The submit number a nextToken goes on after, or 0 if the token is not one this server could
 * have given for this queue, grouping and window.  A token is TOKEN_KIND, SEQ and token_rest in
 * hex, SEQ the submit number of the last job a page summed: decimal without sign or leading
 * zero, one of this queue's (from its first_seq, a queue made again under its name being a new
 * one) and below the next to be given.  Anything else would answer a page of nothing without a
 * nextToken, which a client takes for the end of its sums. */
static uint64_t token_seq(const char *token, const char *rest, const jq_rt *rt,
                          uint64_t next_seq)
{
    char *plain = util_unhex(token);
    uint64_t seq = 0;
    const char *p = plain;
    if (!p || strncmp(p, TOKEN_KIND, strlen(TOKEN_KIND)) != 0) goto out;
    p += strlen(TOKEN_KIND);
    if (*p < '1' || *p > '9') goto out;
    for (; *p >= '0' && *p <= '9'; p++)
        if (__builtin_mul_overflow(seq, 10, &seq) || __builtin_add_overflow(seq, *p - '0', &seq)) {
            seq = 0;
            goto out;
        }
    if (strcmp(p, rest) != 0 || seq >= next_seq || (rt && seq < rt->first_seq)) seq = 0;
out:
    free(plain);
    return seq;
}

static int get_usage(api_ctx *c, json_t *req, json_t **resp)
{
    const char *by = api_str(req, "by");
    if (!by) by = "definition";
    if (strcmp(by, "definition") != 0 && strcmp(by, "queue") != 0 &&
        (strncmp(by, "tag:", 4) != 0 || !by[4]))
        return api_client_error(c, "by: '%.80s' is not a grouping; use definition, queue or "
                                   "tag:KEY (KEY a tag's key)", by);
    /* KEY as AWS checks a tag key, in characters: no job has a longer one, so its groups would
     * all be the jobs without the tag, with nothing said of the mistake. */
    size_t key_chars = strncmp(by, "tag:", 4) == 0 ? util_utf8_chars(by + 4) : 0;
    if (key_chars > 128)
        return api_client_error(c, "by: the KEY of tag:KEY is a tag key, 1 to 128 characters "
                                   "long (got %zu characters: 'tag:%.40s...')", key_chars,
                                by + 4);
    char *qname = api_name_or_arn(c, api_str(req, "jobQueue"), ARN_JQ, "jobQueue");
    if (!qname) return -1;
    jq_rt *rt = dict_get(&c->st->jobs->queues, qname);
    if (!reg_get(&c->st->jq, qname) && !rt) {
        api_client_error(c, "jobQueue: no job queue named '%s'", qname);
        free(qname);
        return -1;
    }
    window w = {INT64_MIN, INT64_MAX, 0};
    json_t *from = json_object_get(req, "endedAfter"), *to = json_object_get(req, "endedBefore");
    if (from) w.from = json_integer_value(from);
    if (to) w.to = json_integer_value(to);
    w.given = from || to;
    if (w.from >= w.to) {
        free(qname);
        return api_client_error(c, "endedBefore (%lld) must be later than endedAfter (%lld): "
                                   "the window holds the attempts that ended from endedAfter "
                                   "up to endedBefore, in milliseconds since 1970",
                                (long long)w.to, (long long)w.from);
    }
    uint64_t after = 0;
    const char *token = api_str(req, "nextToken");
    char *rest = token_rest(qname, by, &w);
    if (token && *token) {
        after = token_seq(token, rest, rt, c->st->jobs->next_seq);
        if (!after) {
            free(rest);
            free(qname);
            return api_client_error(c, "nextToken: '%.64s' is not a token this server issued "
                                       "for GetUsage of this queue, grouping and window; pass "
                                       "the previous page's nextToken unchanged, with the same "
                                       "jobQueue, by, endedAfter and endedBefore", token);
        }
    }
    job **items = rt ? rt->all : NULL;
    size_t n = rt ? rt->n_all : 0;
    /* The first job after the token's submit sequence (the list is in submit order). */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (items[mid]->seq <= after) lo = mid + 1;
        else hi = mid;
    }
    sums s = {0};
    dict_init(&s.by_key);
    int64_t t0 = util_mono_us();
    size_t i = lo, taken = 0, work = 0, checked = 0;
    json_int_t max_jobs = api_int(req, "maxJobs", 0);
    char tagval[1100]; /* a tag value: 256 characters of UTF-8 */
    const char *last_key = NULL;
    ugroup *last = NULL;
    for (; i < n; i++) {
        job *j = items[i];
        /* The jobs are scattered in memory, and a million of them do not fit in the cache:
         * each is asked for well before it is read, and its spec once the job is there. */
        if (i + 16 < n) {
            __builtin_prefetch(&items[i + 16]->children);
            __builtin_prefetch(&items[i + 16]->n_attempts);
        }
        if (i + 8 < n) __builtin_prefetch(items[i + 8]->spec);
        if (max_jobs && taken == (size_t)max_jobs) break;
        /* The clock is read every USAGE_CLOCK_EVERY jobs, children counted: an array of
         * 10,000 is 10,000 jobs' work. */
        if (work - checked >= USAGE_CLOCK_EVERY) {
            checked = work;
            if (util_mono_us() - t0 > USAGE_BUDGET_US) break;
        }
        taken++;
        work++;
        if (j->gone) continue;
        /* Jobs submitted alike share their spec's strings: the last group found serves the
         * next job with the same key without a look-up (a tag's value is in tagval, never). */
        const char *key = key_of(j, by, tagval, sizeof tagval);
        ugroup *g = key && key == last_key && key != tagval ? last : group_of(&s, key);
        last_key = key;
        last = g;
        /* With a window, a job counts when one of its attempts ended in it; without, every
         * job of the queue counts, started or not. */
        if (!j->children) {
            g->jobs += add_usage(g, j, &w) > 0 || !w.given;
        } else if (jobspec_num_nodes(j->spec) == 0) {
            /* An array's children share its spec, so its group; its parent ran nothing. */
            for (uint32_t k = 0; k < j->array_size; k++)
                g->jobs += add_usage(g, j->children[k], &w) > 0 || !w.given;
        } else {
            /* A multi-node job is one job; its nodes ran its attempts. */
            int ran = 0;
            for (uint32_t k = 0; k < j->array_size; k++) ran += add_usage(g, j->children[k], &w);
            g->jobs += ran > 0 || !w.given;
        }
        if (j->children) work += j->array_size;
    }
    json_t *groups = json_array();
    for (size_t k = 0; k < s.n; k++) {
        ugroup *g = s.list[k];
        /* A window may leave a group met on this page without a job in it. */
        if (g->jobs || !w.given)
            json_array_append_new(groups, json_pack("{s:s?, s:I, s:f, s:f, s:f, s:I}", "key", g->key,
                                                "jobs", (json_int_t)g->jobs, "vcpuSeconds",
                                                jtext_finite(g->u.vcpu_s), "memoryGiBSeconds",
                                                jtext_finite(g->u.gib_s), "cpuSeconds",
                                                jtext_finite(g->u.cpu_s), "maxMemoryBytes",
                                                (json_int_t)g->u.peak));
        free(g->key);
        free(g);
    }
    free(s.list);
    dict_free(&s.by_key);
    json_t *out = json_pack("{s:o}", "groups", groups);
    if (i < n) {
        /* The next page starts after the last job summed here. */
        char *plain = xasprintf(TOKEN_KIND "%llu%s", (unsigned long long)items[i - 1]->seq,
                                rest);
        char *hex = xmalloc(2 * strlen(plain) + 1);
        util_hex(plain, strlen(plain), hex);
        json_object_set_new(out, "nextToken", json_string(hex));
        free(hex);
        free(plain);
    }
    free(rest);
    free(qname);
    *resp = out;
    return 0;
}

api_op api_usage_ops[] = {
    {"GetUsage", "POST", "/barge/v1/getusage",
     "{jobQueue:s!, by:s, nextToken:s, maxJobs:i(1..1000000), endedAfter:l, endedBefore:l}",
     get_usage, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
