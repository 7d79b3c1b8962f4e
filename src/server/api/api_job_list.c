/* api_job_list — ListJobs: a queue's jobs by status or filter, an array's children, a
 * multi-node job's nodes, page by page. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/model/arn.h"
#include "server/model/jobs.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/retry.h"
#include "server/model/state.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"
#include "server/api/jobdesc.h"

typedef struct {
    const char *name_glob;
    /* What the first bytes of a matching name must be (job.h's name_head): head_len of them. */
    char name_head[JOB_NAME_HEAD];
    size_t head_len;
    const char *share; /* SHARE_IDENTIFIER: exact */
    char *def_name;
    long def_rev;
    int def_glob;
    int64_t before, after;
    int any_filter;
    int status; /* -1: any */
    /* The filter as given, for the listing's key (list_key). */
    const char *flt_name, *flt_value;
} list_filter;

static int parse_filters(api_ctx *c, json_t *req, list_filter *f)
{
    f->status = -1;
    /* No bound: every time is before INT64_MAX and after INT64_MIN (0 is a time like any). */
    f->before = INT64_MAX;
    f->after = INT64_MIN;
    size_t i, nf = json_array_size(json_object_get(req, "filters"));
    if (nf > 1)
        return api_client_error(c, "filters: give one filter; AWS Batch applies one at a time "
                                   "(got %zu)", nf);
    json_t *flt;
    json_array_foreach(json_object_get(req, "filters"), i, flt) {
        const char *name = api_str(flt, "name");
        json_t *values = json_object_get(flt, "values");
        const char *value = json_string_value(json_array_get(values, 0));
        if (!name || !value || json_array_size(values) != 1)
            return api_client_error(c, "filters[%zu]: give a name and exactly one value", i);
        f->any_filter = 1;
        f->flt_name = name;
        f->flt_value = value;
        if (strcmp(name, "JOB_NAME") == 0) {
            f->name_glob = value;
            /* A prefix ("abc*") fixes its letters; an exact name its letters and the NUL that
             * ends it (a longer name does not match). */
            size_t len = strlen(value), lit = len && value[len - 1] == '*' ? len - 1 : len + 1;
            f->head_len = lit < JOB_NAME_HEAD ? lit : JOB_NAME_HEAD;
            for (size_t k = 0; k < f->head_len; k++)
                f->name_head[k] = (char)tolower((unsigned char)value[k]);
        } else if (strcmp(name, "SHARE_IDENTIFIER") == 0) {
            f->share = value;
        } else if (strcmp(name, "JOB_DEFINITION") == 0) {
            size_t n = strlen(value);
            char *v = xstrdup(value);
            if (n && v[n - 1] == '*') {
                f->def_glob = 1;
                f->def_name = v;
                f->def_rev = 0;
                continue;
            }
            free(v);
            if (jobdef_parse_ref(value, &f->def_name, &f->def_rev) < 0)
                return api_client_error(c, "filters[%zu].values: '%.100s' is not a job definition "
                                           "name, name:revision or ARN", i, value);
        } else if (strcmp(name, "BEFORE_CREATED_AT") == 0 || strcmp(name, "AFTER_CREATED_AT") == 0) {
            char *end;
            long long t = strtoll(value, &end, 10);
            if (*end || !*value)
                return api_client_error(c, "filters[%zu].values: '%.40s' is not a time in "
                                           "milliseconds since the epoch", i, value);
            if (name[0] == 'B') f->before = t;
            else f->after = t;
        } else {
            return api_client_error(c, "filters[%zu].name: '%.40s' is not one of JOB_NAME, "
                                       "JOB_DEFINITION, SHARE_IDENTIFIER, BEFORE_CREATED_AT, "
                                       "AFTER_CREATED_AT", i, name);
        }
    }
    const char *status = api_str(req, "jobStatus");
    if (!f->any_filter) {
        /* As AWS does: without filters and without a status, only RUNNING jobs are listed. */
        f->status = status ? job_status_parse(status) : JS_RUNNING;
    } else if (f->share && status) {
        /* A filter lists every status, except that SHARE_IDENTIFIER goes with jobStatus. */
        f->status = job_status_parse(status);
    }
    return 0;
}

/* JOB_NAME: without regard to case, as the API reference has it; a trailing '*' matches any
 * rest. */
static int name_matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncasecmp(pattern, name, n - 1) == 0;
    return strcasecmp(pattern, name) == 0;
}

static int matches(const list_filter *f, job *j)
{
    if (f->status >= 0 && jobs_shown_status(j) != f->status) return 0;
    if (f->name_glob && (memcmp(j->name_head, f->name_head, f->head_len) != 0 ||
                         !name_matches(f->name_glob, j->spec->name)))
        return 0;
    if (f->share) {
        const char *share = json_string_value(jobspec_shared(j->spec, "shareIdentifier"));
        if (!share || strcmp(share, f->share) != 0) return 0;
    }
    if (f->def_name) {
        const char *arn = json_string_value(jobspec_shared(j->spec, "jobDefinition"));
        char *nr = arn_resource(arn, ARN_JD);
        if (!nr) return 0;
        char *colon = strrchr(nr, ':');
        long rev = colon ? atol(colon + 1) : 0;
        if (colon) *colon = '\0';
        int ok = f->def_glob ? retry_glob(f->def_name, nr)
                             : strcmp(nr, f->def_name) == 0 && (!f->def_rev || rev == f->def_rev);
        free(nr);
        if (!ok) return 0;
    }
    if (j->created_at >= f->before || j->created_at <= f->after) return 0;
    return 1;
}

/* How many jobs ahead a listing's scan asks for the next one's memory. */
#define LIST_PREFETCH 16

/* What a listing is: its source (a queue's name, an array's or a multi-node job's id), the
 * status it lists (as parse_filters settled it) and its filter, hashed (FNV-1a, 64 bits) into
 * the key its tokens carry.  A position alone does not say which listing it belongs to: a queue's
 * "pos:" is a submit number and an array's an index, so a token of one listing handed to another
 * was read as a position there and answered a page that silently skipped jobs, or an empty page
 * without a nextToken, which a client takes for the end.  The key is not a secret (a client can
 * forge any position anyway); it tells listings apart so that such a token is refused. */
static void key_add(uint64_t *h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); ; p++) {
        *h = (*h ^ *p) * 1099511628211ull;
        if (!*p) break; /* the NUL too: ("ab", "c") and ("a", "bc") differ */
    }
}

static void list_key(char kind, const char *source, const list_filter *f, char out[17])
{
    char status[16], k[2] = {kind, 0};
    snprintf(status, sizeof status, "%d", f->status);
    uint64_t h = 14695981039346656037ull;
    key_add(&h, k);
    key_add(&h, source);
    key_add(&h, status);
    key_add(&h, f->flt_name);
    key_add(&h, f->flt_value);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void page_token(json_t *out, const char *kind, uint64_t pos, const char *key)
{
    char plain[64], hex[129];
    snprintf(plain, sizeof plain, "%s%llu:%s", kind, (unsigned long long)pos, key);
    util_hex(plain, strlen(plain), hex);
    json_object_set_new(out, "nextToken", json_string(hex));
}

/* The position a nextToken names, or 0 if it is not one this listing could have given: KIND, a
 * number without sign or leading zero below limit (the next submit number, or an array's size),
 * ':' and this listing's key. */
static uint64_t token_pos(const char *token, const char *kind, const char *key, uint64_t limit)
{
    char *plain = util_unhex(token);
    uint64_t pos = 0;
    const char *p = plain;
    size_t kn = strlen(kind);
    if (!p || strncmp(p, kind, kn) != 0) goto out;
    p += kn;
    if (*p < '1' || *p > '9') goto out;
    for (; *p >= '0' && *p <= '9'; p++)
        if (__builtin_mul_overflow(pos, 10, &pos) || __builtin_add_overflow(pos, *p - '0', &pos)) {
            pos = 0;
            goto out;
        }
    if (*p != ':' || strcmp(p + 1, key) != 0 || pos >= limit) pos = 0;
out:
    free(plain);
    return pos;
}

static int list_jobs(api_ctx *c, json_t *req, json_t **resp)
{
    const char *queue = api_str(req, "jobQueue"), *array = api_str(req, "arrayJobId");
    const char *mnp = api_str(req, "multiNodeJobId");
    if (!!queue + !!array + !!mnp != 1)
        return api_client_error(c, "jobQueue, arrayJobId and multiNodeJobId: give exactly one "
                                   "of them (a queue to list its jobs, an array job to list its "
                                   "children, a multi-node job to list its nodes)");
    int by_nodes = mnp != NULL;
    if (mnp) array = mnp;
    list_filter f = {0};
    if (parse_filters(c, req, &f) < 0) {
        free(f.def_name);
        return -1;
    }
    /* Without maxResults a page holds up to 1000 jobs, or 100 with filters, as the API
     * reference says: a caller that does not page sees as many as on AWS. */
    json_int_t max = api_int(req, "maxResults", f.any_filter ? 100 : 1000);
    if (max < 1 || max > 1000) {
        free(f.def_name);
        return api_client_error(c, "maxResults: must be between 1 and 1000 (got %lld)",
                                (long long)max);
    }
    /* "When --filters is used, Batch returns up to 100 values": a larger page is given as 100
     * and a nextToken, so that a caller who asks for more and does not page learns it here. */
    if (f.any_filter && max > 100) max = 100;
    /* With a filter, a queue's jobs come newest first, as the API reference says; otherwise (and
     * an array's children always) in submit order. */
    int newest_first = f.any_filter && !array;
    job **items = NULL;
    size_t n = 0;
    char key[17];
    uint64_t limit;
    if (array) {
        job *p = jobs_find(c->st->jobs, array);
        if (!p || p->gone) {
            /* Never made, or let go by the retention: not "not an array job", which would
             * send the caller looking for what is wrong with a job that is not there. */
            free(f.def_name);
            return api_client_error(c, "%s: no job with id '%.80s' (it never existed, or it "
                                       "ended and was removed after --retention-hours)",
                                    by_nodes ? "multiNodeJobId" : "arrayJobId", array);
        }
        if (!p->children || (jobspec_num_nodes(p->spec) > 0) != by_nodes) {
            free(f.def_name);
            return by_nodes ? api_client_error(c, "multiNodeJobId: '%.80s' is not a multi-node "
                                                  "parallel job", array)
                            : api_client_error(c, "arrayJobId: '%.80s' is not an array job",
                                               array);
        }
        items = p->children;
        n = p->array_size;
        list_key(by_nodes ? 'n' : 'a', p->id, &f, key);
        limit = n;
    } else {
        char *qname = api_name_or_arn(c, queue, ARN_JQ, "jobQueue");
        if (!qname) {
            free(f.def_name);
            return -1;
        }
        jq_rt *rt = dict_get(&c->st->jobs->queues, qname);
        if (!reg_get(&c->st->jq, qname) && !rt) {
            free(f.def_name);
            api_client_error(c, "jobQueue: no job queue named '%s'", qname);
            free(qname);
            return -1;
        }
        list_key('q', qname, &f, key);
        free(qname);
        if (rt) {
            items = rt->all;
            n = rt->n_all;
        }
        limit = c->st->jobs->next_seq;
    }
    /* Tokens carry the position after which the next page starts ("pos:", an index in an
     * array, a submit sequence in a queue), or, newest first, the submit sequence below which
     * it starts ("below:"), and the listing's key. */
    const char *kind = newest_first ? "below:" : "pos:";
    uint64_t after = 0;
    const char *token = api_str(req, "nextToken");
    if (token && *token && !(after = token_pos(token, kind, key, limit))) {
        free(f.def_name);
        return api_client_error(c, "nextToken: '%.64s' is not a token this server issued "
                                   "for this listing; pass the nextToken of the previous "
                                   "page, with the same source, status and filters, "
                                   "unchanged", token);
    }
    json_t *list = json_array();
    json_t *out = json_pack("{s:o}", "jobSummaryList", list);
    /* Positions are 1-based: the index in the array, or the submit sequence in a queue. */
    size_t start = 0;
    if (after && !newest_first) {
        if (array) {
            start = (size_t)after;
        } else {
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (items[mid]->seq <= after) lo = mid + 1;
                else hi = mid;
            }
            start = lo;
        }
    }
    if (newest_first) {
        /* Down from the newest job, or from the last one below the token's sequence. */
        size_t top = n;
        if (after) {
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (items[mid]->seq < after) lo = mid + 1;
                else hi = mid;
            }
            top = lo;
        }
        for (size_t i = top; i-- > 0;) {
            job *j = items[i];
            /* A filter turns most jobs down on what they hold in one cache line (status,
             * name_head): asked for jobs ahead, a million jobs' lines come in parallel rather
             * than one miss at a time. */
            if (i >= LIST_PREFETCH) __builtin_prefetch(&items[i - LIST_PREFETCH]->status);
            if (!matches(&f, j)) continue;
            if (json_array_size(list) == (size_t)max) {
                /* The page ends at j's successor: the next one resumes below it. */
                page_token(out, "below:", items[i + 1]->seq, key);
                break;
            }
            json_array_append_new(list, jobdesc_summary(c->st, j));
        }
        start = n; /* done */
    }
    for (size_t i = start; i < n; i++) {
        job *j = items[i];
        if (i + LIST_PREFETCH < n) __builtin_prefetch(&items[i + LIST_PREFETCH]->status);
        if (!matches(&f, j)) continue;
        if (json_array_size(list) == (size_t)max) {
            /* The page ends before j: the next one resumes at it (at its index in an array; in a
             * queue, after the submit sequence of the job before it). */
            page_token(out, "pos:", array ? (uint64_t)i : items[i - 1]->seq, key);
            break;
        }
        json_array_append_new(list, jobdesc_summary(c->st, j));
    }
    free(f.def_name);
    *resp = out;
    return 0;
}

api_op api_job_list_ops[] = {
    {"ListJobs", "POST", "/v1/listjobs",
     "{jobQueue:s, arrayJobId:s, multiNodeJobId:s,"
     " jobStatus:e(SUBMITTED|PENDING|RUNNABLE|STARTING|RUNNING|SUCCEEDED|FAILED), maxResults:i,"
     " nextToken:s, filters:[{name:s, values:[s]}]}",
     list_jobs, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
