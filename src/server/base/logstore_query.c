/* logstore_query — the reads whose SQL is built per request: FilterLogEvents, with its
 * pattern, and the listings of streams (DescribeLogStreams) and groups (DescribeLogGroups).
 * See logstore.h. */
#include "server/base/logstore.h"
#include "server/base/logstore_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

/* Filter patterns ----------------------------------------------------------------------- */

typedef struct pattern {
    char **all, **none, **any;
    size_t n_all, n_none, n_any;
} pattern;

static void pattern_free(pattern *p)
{
    for (size_t i = 0; i < p->n_all; i++) free(p->all[i]);
    for (size_t i = 0; i < p->n_none; i++) free(p->none[i]);
    for (size_t i = 0; i < p->n_any; i++) free(p->any[i]);
    free(p->all);
    free(p->none);
    free(p->any);
    memset(p, 0, sizeof *p);
}

static void terms_add(char ***list, size_t *n, char *term)
{
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = term;
}

static int pattern_parse(const char *s, pattern *p, char **err)
{
    memset(p, 0, sizeof *p);
    if (!s) return 0;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '{' || *s == '[') {
        *err = xstrdup("filterPattern: JSON ({ $.field = value }) and space-delimited ([a, b]) "
                       "patterns are not supported by barge; use terms, \"quoted phrases\", "
                       "-term to exclude and ?term for alternatives");
        return LOGSTORE_INVALID;
    }
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        char kind = 0;
        if ((*s == '-' || *s == '?') && s[1] && s[1] != ' ' && s[1] != '\t') kind = *s++;
        const char *start = s;
        size_t len;
        if (*s == '"') {
            start = ++s;
            while (*s && *s != '"') s++;
            len = (size_t)(s - start);
            if (*s == '"') s++;
        } else {
            while (*s && *s != ' ' && *s != '\t') s++;
            len = (size_t)(s - start);
        }
        if (!len) continue; /* "" matches everything */
        char *term = xstrndup(start, len);
        if (kind == '-') terms_add(&p->none, &p->n_none, term);
        else if (kind == '?') terms_add(&p->any, &p->n_any, term);
        else terms_add(&p->all, &p->n_all, term);
    }
    return 0;
}

/* Builds SQL with positional parameters and remembers what to bind to each, in order. */
typedef struct param {
    int is_text, len;
    int64_t i;
    const char *s;
} param;

typedef struct query {
    buf sql;
    param *params;
    int n, cap;
} query;

static param *q_param(query *q)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 16;
        q->params = xrealloc(q->params, (size_t)q->cap * sizeof *q->params);
    }
    buf_puts(&q->sql, "?");
    return &q->params[q->n++];
}

static void q_int(query *q, int64_t v)
{
    param *p = q_param(q);
    p->is_text = 0;
    p->i = v;
}

static void q_text(query *q, const char *s, int len)
{
    param *p = q_param(q);
    p->is_text = 1;
    p->s = s;
    p->len = len;
}

static void q_free(query *q)
{
    buf_free(&q->sql);
    free(q->params);
}

static sqlite3_stmt *q_prepare(query *q, reader *r, char **err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, q->sql.data, -1, &st, NULL) != SQLITE_OK) {
        *err = xasprintf("reading the log store failed: %s", sqlite3_errmsg(r->db));
        return NULL;
    }
    for (int i = 0; i < q->n; i++) {
        if (q->params[i].is_text)
            sqlite3_bind_text(st, i + 1, q->params[i].s, q->params[i].len, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, i + 1, q->params[i].i);
    }
    return st;
}

/* Restricts "name" to names starting with prefix: a range (so the index serves it) and an
 * exact byte comparison (so the range's upper bound need not be exact). */
static void q_prefix(query *q, const char *prefix, char upper[])
{
    size_t n = strlen(prefix);
    memcpy(upper, prefix, n + 1);
    while (n && (unsigned char)upper[n - 1] == 0xff) upper[--n] = '\0';
    buf_puts(&q->sql, " AND name >= ");
    q_text(q, prefix, -1);
    if (n) {
        upper[n - 1] = (char)((unsigned char)upper[n - 1] + 1);
        buf_puts(&q->sql, " AND name < ");
        q_text(q, upper, (int)n);
    }
    buf_puts(&q->sql, " AND substr(CAST(name AS BLOB), 1, ");
    q_int(q, (int64_t)strlen(prefix));
    buf_puts(&q->sql, ") = CAST(");
    q_text(q, prefix, -1);
    buf_puts(&q->sql, " AS BLOB)");
}

int logstore_filter(logstore *ls, const logstore_filter_query *fq, logstore_page *out,
                    char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    int limit = fq->limit > 0 && fq->limit <= LOGSTORE_MAX_EVENTS ? fq->limit
                                                                   : LOGSTORE_MAX_EVENTS;
    size_t max_bytes = fq->max_bytes ? fq->max_bytes : LOGSTORE_MAX_BYTES;
    char dir = 'f';
    int64_t pts = 0, pid = 0;
    if (fq->token && (logstore__parse_pos(fq->token, &dir, &pts, &pid) < 0 || dir != 'f')) {
        *err = xasprintf("The specified nextToken is invalid: '%.60s' is not a token this "
                         "server issued.", fq->token);
        return LOGSTORE_INVALID;
    }
    if (fq->n_streams > 100) {
        *err = xstrdup("logStreamNames: at most 100 names are allowed");
        return LOGSTORE_INVALID;
    }
    pattern pat;
    int rc = pattern_parse(fq->pattern, &pat, err);
    if (rc != LOGSTORE_OK) return rc;
    int64_t lo, hi;
    logstore__range_bounds(&fq->range, &lo, &hi);
    if (lo < pts) lo = pts;

    /* The streams: those of the group whose events overlap the range, so that following
     * recent events (aws logs tail) never reads the streams of finished jobs. */
    query q = {0};
    char *upper = fq->prefix ? xmalloc(strlen(fq->prefix) + 1) : NULL;
    buf_puts(&q.sql, "SELECT e.id, e.ts, e.ingest, e.msg, s.name FROM events e JOIN streams s "
                     "ON s.id = e.stream WHERE e.stream IN (SELECT id FROM streams WHERE "
                     "grp = ");
    q_text(&q, fq->group, -1);
    buf_puts(&q.sql, " AND events > 0 AND last_ts >= ");
    q_int(&q, lo);
    buf_puts(&q.sql, " AND first_ts < ");
    q_int(&q, hi);
    if (fq->streams) {
        buf_puts(&q.sql, " AND name IN (");
        for (size_t i = 0; i < fq->n_streams; i++) {
            if (i) buf_puts(&q.sql, ", ");
            q_text(&q, fq->streams[i], -1);
        }
        buf_puts(&q.sql, ")");
    }
    if (fq->prefix) q_prefix(&q, fq->prefix, upper);
    buf_puts(&q.sql, ") AND e.ts >= ");
    q_int(&q, lo);
    buf_puts(&q.sql, " AND e.ts < ");
    q_int(&q, hi);
    buf_puts(&q.sql, " AND (e.ts > ");
    q_int(&q, pts);
    buf_puts(&q.sql, " OR e.id > ");
    q_int(&q, pid);
    buf_puts(&q.sql, ")");
    for (size_t i = 0; i < pat.n_all; i++) {
        buf_puts(&q.sql, " AND instr(e.msg, ");
        q_text(&q, pat.all[i], -1);
        buf_puts(&q.sql, ") > 0");
    }
    for (size_t i = 0; i < pat.n_none; i++) {
        buf_puts(&q.sql, " AND instr(e.msg, ");
        q_text(&q, pat.none[i], -1);
        buf_puts(&q.sql, ") = 0");
    }
    for (size_t i = 0; i < pat.n_any; i++) {
        buf_puts(&q.sql, i ? " OR instr(e.msg, " : " AND (instr(e.msg, ");
        q_text(&q, pat.any[i], -1);
        buf_puts(&q.sql, ") > 0");
    }
    if (pat.n_any) buf_puts(&q.sql, ")");
    /* One row more than the page holds tells whether another page follows. */
    buf_puts(&q.sql, " ORDER BY e.ts, e.id LIMIT ");
    q_int(&q, (int64_t)limit + 1);

    reader *r = logstore__reader_take(ls, err);
    sqlite3_stmt *st = r ? q_prepare(&q, r, err) : NULL;
    rc = st ? LOGSTORE_OK : LOGSTORE_FAILED;
    int more = 0;
    if (st) {
        size_t cap = 0, bytes = 0;
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (logstore__page_add(out, &cap, &bytes, st, limit, max_bytes, 1)) {
                more = 1;
                break;
            }
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE) rc = logstore__read_failed(r, err);
        sqlite3_finalize(st);
    }
    if (r) logstore__reader_give(ls, r);
    q_free(&q);
    free(upper);
    pattern_free(&pat);
    if (rc != LOGSTORE_OK) {
        logstore_page_free(out);
        return rc;
    }
    if (more) {
        const logstore_record *last = &out->events[out->n - 1];
        out->next = xmalloc(48);
        logstore__format_pos(out->next, 'f', last->timestamp, last->id);
    }
    return LOGSTORE_OK;
}

/* Stream listings ----------------------------------------------------------------------- */

void logstore_stream_list_free(logstore_stream_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i].name);
    free(l->items);
    free(l->next);
    memset(l, 0, sizeof *l);
}

/* Listing tokens: "n/HEX" resumes after a name, "t/LAST/ID" after a stream in time order. */
static char *stream_token(const logstore_streams_query *q, const char *name, int64_t last_ts,
                          int64_t id)
{
    if (q->by_last_event_time) return xasprintf("t/%lld/%lld", (long long)last_ts, (long long)id);
    size_t n = strlen(name);
    char *t = xmalloc(2 * n + 3);
    t[0] = 'n';
    t[1] = '/';
    util_hex(name, n, t + 2);
    return t;
}

int logstore_streams(logstore *ls, const logstore_streams_query *sq, logstore_stream_list *out,
                     char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    int limit = sq->limit > 0 && sq->limit <= LOGSTORE_MAX_STREAMS ? sq->limit
                                                                    : LOGSTORE_MAX_STREAMS;
    const char *cmp = sq->descending ? " < " : " > ";
    const char *cmp_eq = sq->descending ? " <= " : " >= ";
    const char *order = sq->descending ? " DESC" : "";
    query q = {0};
    char *after = NULL, *upper = sq->prefix ? xmalloc(strlen(sq->prefix) + 1) : NULL;
    long long t_last = 0, t_id = 0;
    int bad_token = 0;
    if (sq->token) {
        int n = -1;
        if (sq->by_last_event_time)
            bad_token = sscanf(sq->token, "t/%lld/%lld%n", &t_last, &t_id, &n) != 2 ||
                        sq->token[n] != '\0';
        else
            bad_token = strncmp(sq->token, "n/", 2) != 0 || !(after = util_unhex(sq->token + 2));
    }
    if (bad_token) {
        *err = xasprintf("The specified nextToken is invalid: '%.60s' is not a token of this "
                         "listing (pass the nextToken of the previous page, with the same "
                         "orderBy and descending).", sq->token);
        free(upper);
        return LOGSTORE_INVALID;
    }
    buf_puts(&q.sql, "SELECT name, created, first_ts, last_ts, last_ingest, events, bytes, id "
                     "FROM streams WHERE grp = ");
    q_text(&q, sq->group, -1);
    if (sq->prefix) q_prefix(&q, sq->prefix, upper);
    if (sq->token && sq->by_last_event_time) {
        buf_printf(&q.sql, " AND last_ts%s", cmp_eq);
        q_int(&q, t_last);
        buf_printf(&q.sql, " AND (last_ts%s", cmp);
        q_int(&q, t_last);
        buf_printf(&q.sql, " OR id%s", cmp);
        q_int(&q, t_id);
        buf_puts(&q.sql, ")");
    } else if (sq->token) {
        buf_printf(&q.sql, " AND name%s", cmp);
        q_text(&q, after, -1);
    }
    if (sq->by_last_event_time) buf_printf(&q.sql, " ORDER BY last_ts%s, id%s", order, order);
    else buf_printf(&q.sql, " ORDER BY name%s", order);
    buf_puts(&q.sql, " LIMIT ");
    q_int(&q, limit + 1);

    reader *r = logstore__reader_take(ls, err);
    sqlite3_stmt *st = r ? q_prepare(&q, r, err) : NULL;
    int rc = st ? LOGSTORE_OK : LOGSTORE_FAILED;
    if (st) {
        int step;
        out->items = xcalloc((size_t)limit, sizeof *out->items);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (out->n == (size_t)limit) {
                const logstore_stream_info *last = &out->items[out->n - 1];
                out->next = stream_token(sq, last->name, last->last_timestamp, t_id);
                break;
            }
            logstore_stream_info *s = &out->items[out->n++];
            s->name = xstrdup((const char *)sqlite3_column_text(st, 0));
            s->creation_time = sqlite3_column_int64(st, 1);
            s->first_timestamp = sqlite3_column_int64(st, 2);
            s->last_timestamp = sqlite3_column_int64(st, 3);
            s->last_ingestion_time = sqlite3_column_int64(st, 4);
            s->events = sqlite3_column_int64(st, 5);
            s->stored_bytes = sqlite3_column_int64(st, 6);
            t_id = sqlite3_column_int64(st, 7); /* the id of the last row kept, for the token */
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE) rc = logstore__read_failed(r, err);
        sqlite3_finalize(st);
    }
    if (r) logstore__reader_give(ls, r);
    q_free(&q);
    free(after);
    free(upper);
    if (rc != LOGSTORE_OK) logstore_stream_list_free(out);
    return rc;
}

/* Group listings ------------------------------------------------------------------------ */

void logstore_group_list_free(logstore_group_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i].name);
    free(l->items);
    free(l->next);
    memset(l, 0, sizeof *l);
}

/* Listing tokens: "g/HEX" resumes after a group's name. */
static char *group_token(const char *name)
{
    size_t n = strlen(name);
    char *t = xmalloc(2 * n + 3);
    t[0] = 'g';
    t[1] = '/';
    util_hex(name, n, t + 2);
    return t;
}

int logstore_groups(logstore *ls, const logstore_groups_query *gq, logstore_group_list *out,
                    char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    int limit = gq->limit > 0 && gq->limit <= LOGSTORE_MAX_GROUPS ? gq->limit
                                                                  : LOGSTORE_MAX_GROUPS;
    char *after = NULL;
    if (gq->token && (strncmp(gq->token, "g/", 2) != 0 || !(after = util_unhex(gq->token + 2)))) {
        *err = xasprintf("The specified nextToken is invalid: '%.60s' is not a token of this "
                         "listing (pass the nextToken of the previous page).", gq->token);
        return LOGSTORE_INVALID;
    }
    char *upper = gq->prefix ? xmalloc(strlen(gq->prefix) + 1) : NULL;
    query q = {0};
    /* Group names are ASCII (enqueue asserts logstore_group_name_valid), so lower() folds
     * them whole. */
    buf_puts(&q.sql, "SELECT name, created, (SELECT coalesce(sum(bytes), 0) FROM streams "
                     "WHERE grp = groups.name) FROM groups WHERE 1");
    if (gq->prefix) q_prefix(&q, gq->prefix, upper);
    if (gq->pattern) {
        buf_puts(&q.sql, " AND instr(lower(name), lower(");
        q_text(&q, gq->pattern, -1);
        buf_puts(&q.sql, ")) > 0");
    }
    if (after) {
        buf_puts(&q.sql, " AND name > ");
        q_text(&q, after, -1);
    }
    buf_puts(&q.sql, " ORDER BY name LIMIT ");
    q_int(&q, limit + 1);

    reader *r = logstore__reader_take(ls, err);
    sqlite3_stmt *st = r ? q_prepare(&q, r, err) : NULL;
    int rc = st ? LOGSTORE_OK : LOGSTORE_FAILED;
    if (st) {
        int step;
        out->items = xcalloc((size_t)limit, sizeof *out->items);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (out->n == (size_t)limit) {
                out->next = group_token(out->items[out->n - 1].name);
                break;
            }
            logstore_group_summary *g = &out->items[out->n++];
            g->name = xstrdup((const char *)sqlite3_column_text(st, 0));
            g->creation_time = sqlite3_column_int64(st, 1);
            g->stored_bytes = sqlite3_column_int64(st, 2);
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE) rc = logstore__read_failed(r, err);
        sqlite3_finalize(st);
    }
    if (r) logstore__reader_give(ls, r);
    q_free(&q);
    free(after);
    free(upper);
    if (rc != LOGSTORE_OK) logstore_group_list_free(out);
    return rc;
}
