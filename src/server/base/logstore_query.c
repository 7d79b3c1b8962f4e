/* logstore_query — the reads whose SQL is built per request: FilterLogEvents (its pattern is
 * logstore_pattern.c's), and the listings of streams (DescribeLogStreams) and groups
 * (DescribeLogGroups).  See logstore.h. */
#include "server/base/logstore.h"
#include "server/base/logstore_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

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

/* FilterLogEvents walks the candidate streams' events in (timestamp, id) order one time window
 * at a time, so that no statement ever reads more than the call may examine: SQLite can merge
 * several streams into that order only by sorting every event it selects, and a window keeps
 * the sort small.  Before a window is read, its events are counted (the index alone, cheap)
 * and the window narrowed until they fit what the budget has left.  Pattern matching is done
 * here rather than in SQL so that every event examined counts, matched or not. */
enum { S_NEXT, S_COUNT, S_SCAN, S_RANK, S_NTH, S_N };

/* The walk's order is (timestamp, stream name, id): within a millisecond, stream by stream; a
 * walk newest first goes the exact reverse.  A position (pts, pname, pid) says what has been
 * examined: oldest first, every event before pts, and those at pts of the streams named before
 * pname, and pname's own up to id pid ("" for none at pts); newest first, every event after
 * pts, and those at pts of the streams named after pname, and pname's own from id pid down (""
 * for all of them at pts).  A token says it as pts, pname and the rank of pid among pname's
 * events at pts, which holds in a standby's copy (other ids, the same order) and whatever other
 * streams are deleted between pages.  (Ranked among all the candidates' events at pts, as
 * tokens were before, a stream deleted between pages moved the rank and the next page skipped
 * as many events.) */
typedef struct walk {
    sqlite3_stmt *st[S_N];
    int back;         /* newest first */
    int64_t pts, pid; /* the position (above) */
    buf pname;
} walk;

static void walk_bind(sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i) sqlite3_bind_int64(st, i, v);
}

static void walk_bind_name(walk *w, sqlite3_stmt *st)
{
    int i = sqlite3_bind_parameter_index(st, ":pname");
    /* A copy: the walk's name changes while a scan that bound it steps on. */
    if (i) sqlite3_bind_text(st, i, w->pname.len ? w->pname.data : "", (int)w->pname.len,
                             SQLITE_TRANSIENT);
}

/* Binds a walk statement's window [a, b), the position and the cap, and resets it. */
static void walk_window(walk *w, sqlite3_stmt *st, int64_t a, int64_t b, int64_t cap)
{
    sqlite3_reset(st);
    walk_bind(st, ":a", a);
    walk_bind(st, ":b", b);
    walk_bind(st, ":pts", w->pts);
    walk_bind(st, ":pid", w->pid);
    walk_bind(st, ":cap", cap);
    walk_bind_name(w, st);
}

/* Runs a one-value statement over [a, b) beyond the position; *out is -1 for NULL. */
static int walk_value(walk *w, int which, int64_t a, int64_t b, int64_t cap, int64_t *out)
{
    sqlite3_stmt *st = w->st[which];
    walk_window(w, st, a, b, cap);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return -1;
    *out = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* The candidate streams, as a common table expression c(sid): those of the group whose events
 * overlap the range, so that following recent events (aws logs tail) never reads the streams
 * of finished jobs. */
static void candidates(query *q, const logstore_filter_query *fq, int64_t lo, int64_t hi,
                       char *upper)
{
    buf_puts(&q->sql, "WITH c(sid) AS (SELECT id FROM streams WHERE grp = ");
    q_text(q, fq->group, -1);
    buf_puts(&q->sql, " AND events > 0 AND last_ts >= ");
    q_int(q, lo);
    buf_puts(&q->sql, " AND first_ts < ");
    q_int(q, hi);
    if (fq->streams) {
        buf_puts(&q->sql, " AND name IN (");
        for (size_t i = 0; i < fq->n_streams; i++) {
            if (i) buf_puts(&q->sql, ", ");
            q_text(q, fq->streams[i], -1);
        }
        buf_puts(&q->sql, ")");
    }
    if (fq->prefix) q_prefix(q, fq->prefix, upper);
    buf_puts(&q->sql, ") ");
}

/* The walk's statements, [0] oldest first and [1] newest first; the window's values are named
 * parameters that follow the candidates' positional ones.  BEYOND is what lies beyond the
 * position: the candidate streams it compares by name are listed once a statement, not looked
 * up for every event.  (A window never reaches past the position's time: a page starts there
 * and the walk moves on from each window's end.) */
#define NAMED(op) "(SELECT sid FROM c JOIN streams n ON n.id = c.sid WHERE n.name " op " :pname)"
#define BEYOND(gt)                                                                              \
    "(e.ts " gt " :pts OR e.stream IN " NAMED(gt) " OR (e.id " gt " :pid AND e.stream IN "      \
    NAMED("=") "))"
#define COUNT(gt)                                                                               \
    "SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.stream IN (SELECT sid FROM c) AND "   \
    "e.ts >= :a AND e.ts < :b AND " BEYOND(gt) " LIMIT :cap)"
#define SCAN(gt, order)                                                                         \
    "SELECT e.id, e.ts, e.ingest, e.msg, s.name FROM events e JOIN streams s ON s.id = "       \
    "e.stream WHERE e.stream IN (SELECT sid FROM c) AND e.ts >= :a AND e.ts < :b AND "          \
    BEYOND(gt) " ORDER BY e.ts " order ", s.name " order ", e.id " order " LIMIT :cap"
/* Ranks among the position's stream's events at one time, for tokens (logstore_internal.h),
 * the same either way. */
#define RANK                                                                                    \
    "SELECT count(*) FROM events WHERE stream IN " NAMED("=") " AND ts = :ts AND id <= :pid"
#define NTH                                                                                     \
    "SELECT id FROM events WHERE stream IN " NAMED("=") " AND ts = :ts ORDER BY id LIMIT 1 "    \
    "OFFSET :n"
static const char *const walk_sql[2][S_N] = {
    {
        /* The first event at or after :a, one index probe per stream. */
        [S_NEXT] = "SELECT min((SELECT ts FROM events WHERE stream = c.sid AND ts >= :a AND "
                   "ts < :b ORDER BY ts LIMIT 1)) FROM c",
        [S_COUNT] = COUNT(">"),
        [S_SCAN] = SCAN(">", "ASC"),
        [S_RANK] = RANK,
        [S_NTH] = NTH,
    },
    {
        /* The last event before :b. */
        [S_NEXT] = "SELECT max((SELECT ts FROM events WHERE stream = c.sid AND ts >= :a AND "
                   "ts < :b ORDER BY ts DESC LIMIT 1)) FROM c",
        [S_COUNT] = COUNT("<"),
        [S_SCAN] = SCAN("<", "DESC"),
        [S_RANK] = RANK,
        [S_NTH] = NTH,
    },
};
#undef NTH
#undef RANK
#undef SCAN
#undef COUNT
#undef BEYOND
#undef NAMED

enum { TOKEN_OK = 0, TOKEN_BAD = -1, TOKEN_OTHER_WAY = -2 };

/* A search's token: "f/TS.HEX.RANK" oldest first, "b/TS.HEX.RANK" newest first, 16 and 19
 * digits, HEX the position's stream's name (empty for none), RANK its rank among that stream's
 * events at TS (logstore__rank_to_id); a later position's token sorts after an earlier one's
 * oldest first, before it newest first.  A token of an older form ("f/TS.RANK", ranked among
 * all the streams' events at TS, or "f/TSID") goes on from the start of TS: a page may repeat
 * lines of that millisecond, never skip them. */
static int read_filter_token(const char *token, walk *w, int64_t *rank)
{
    enum { TS = 2 + 16, RANK = 19 };
    size_t len = strlen(token);
    const char *dot = strrchr(token, '.');
    char pos[TS + 1 + RANK + 1], dir;
    int by_rank = 0;
    if (len >= TS + 2 + RANK && token[TS] == '.' && dot > token + TS &&
        (size_t)(token + len - dot) == RANK + 1) {
        /* The new form, read as "f/TS.RANK" with the name apart. */
        memcpy(pos, token, TS + 1);
        memcpy(pos + TS + 1, dot + 1, RANK + 1);
        size_t hex = (size_t)(dot - token) - (TS + 1);
        char *name = NULL;
        if (hex) {
            char *h = xstrndup(token + TS + 1, hex);
            name = util_unhex(h);
            free(h);
            if (!name || !*name) {
                free(name);
                return TOKEN_BAD;
            }
        }
        int rc = logstore__parse_pos(pos, &dir, &w->pts, rank, &by_rank);
        if (rc == 0 && name) buf_puts(&w->pname, name);
        free(name);
        if (rc < 0) return TOKEN_BAD;
        if (!w->pname.len && *rank) return TOKEN_BAD; /* a rank says among whose events */
        return dir == (w->back ? 'b' : 'f') ? TOKEN_OK : TOKEN_OTHER_WAY;
    }
    if (logstore__parse_pos(token, &dir, &w->pts, rank, &by_rank) < 0 || dir != 'f')
        return TOKEN_BAD;
    if (w->back) return TOKEN_OTHER_WAY;
    if (by_rank && *rank == LOGSTORE_RANK_ALL) w->pts++; /* every event at TS is behind */
    *rank = 0;
    return TOKEN_OK;
}

/* The token of the walk's position, in a fresh string; NULL when the rank cannot be read. */
static char *filter_token(walk *w)
{
    char pos[48];
    if (logstore__token(w->st[S_RANK], pos, 'f', w->pts, w->pname.len ? w->pid : 0) < 0)
        return NULL;
    /* pos is "f/TS.RANK", RANK the count of pname's ids up to pid either way: the direction
     * and the name go in. */
    enum { TS = 2 + 16 };
    char *t = xmalloc(strlen(pos) + 2 * w->pname.len + 2);
    memcpy(t, pos, TS + 1);
    t[0] = w->back ? 'b' : 'f';
    if (w->pname.len) util_hex(w->pname.data, w->pname.len, t + TS + 1);
    size_t n = TS + 1 + 2 * w->pname.len;
    t[n] = '.';
    strcpy(t + n + 1, pos + TS + 1);
    return t;
}

/* The position's stream: the name of the statement's row (column 4), copied only when it
 * changes (a window's events come stream by stream within each millisecond). */
static void set_name(walk *w, sqlite3_stmt *st)
{
    const char *name = (const char *)sqlite3_column_text(st, 4);
    size_t n = (size_t)sqlite3_column_bytes(st, 4);
    if (n == w->pname.len && memcmp(name, w->pname.data, n) == 0) return;
    w->pname.len = 0;
    buf_append(&w->pname, name, n);
}

int logstore_filter(logstore *ls, const logstore_filter_query *fq, logstore_page *out,
                    char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    int limit = fq->limit > 0 && fq->limit <= LOGSTORE_MAX_EVENTS ? fq->limit
                                                                   : LOGSTORE_MAX_EVENTS;
    size_t max_bytes = fq->max_bytes ? fq->max_bytes : LOGSTORE_MAX_BYTES;
    int64_t budget = fq->scan_events > 0 ? fq->scan_events : LOGSTORE_SCAN_EVENTS;
    int64_t deadline = util_mono_ms() + (fq->scan_ms > 0 ? fq->scan_ms : LOGSTORE_SCAN_MS);
    /* The time limit stops a call only past a first few events, so that a busy machine
     * still answers a small search in one page. */
    int64_t least = budget < 1024 ? budget : 1024;
    if (fq->n_streams > 100) {
        *err = xstrdup("logStreamNames: at most 100 names are allowed");
        return LOGSTORE_INVALID;
    }
    logstore_pattern *pat;
    int rc = logstore__pattern_parse(fq->pattern, &pat, err);
    if (rc != LOGSTORE_OK) return rc;
    int back = fq->newest_first != 0;
    int64_t lo, hi;
    /* Unlike GetLogEvents', FilterLogEvents' endTime is the last time returned: CloudWatch
     * returns an event stamped with it. */
    logstore__range_bounds(&fq->range, 1, &lo, &hi);
    /* Newest first starts past the newest time an event can have, all of it behind. */
    walk w = {.back = back, .pts = back ? (hi < MAX_TS ? hi : MAX_TS + 1) : 0, .pid = 0};
    int64_t rank = 0;
    int token = fq->token ? read_filter_token(fq->token, &w, &rank) : TOKEN_OK;
    if (token != TOKEN_OK) {
        buf_free(&w.pname);
        logstore__pattern_free(pat);
        *err = token == TOKEN_OTHER_WAY
                   ? xasprintf("The specified nextToken is invalid: it goes on a search %s "
                               "first; ask with startFromHead %s, as the first page was asked",
                               back ? "oldest" : "newest", back ? "true" : "false")
                   : xasprintf("The specified nextToken is invalid: '%.60s' is not a token "
                               "this server issued.", fq->token);
        return LOGSTORE_INVALID;
    }
    /* What the position leaves: oldest first, from pts on; newest first, up to pts, or to
     * pts's end when some of its events are ahead. */
    if (!back && lo < w.pts) lo = w.pts;
    if (back && hi > w.pts + (w.pname.len > 0)) hi = w.pts + (w.pname.len > 0);

    char *upper = fq->prefix ? xmalloc(strlen(fq->prefix) + 1) : NULL;
    reader *r = logstore__reader_take(ls, err);
    rc = r ? LOGSTORE_OK : LOGSTORE_FAILED;
    query q[S_N];
    memset(q, 0, sizeof q);
    for (int i = 0; i < S_N && rc == LOGSTORE_OK; i++) {
        candidates(&q[i], fq, lo, hi, upper);
        buf_puts(&q[i].sql, walk_sql[back][i]);
        if (!(w.st[i] = q_prepare(&q[i], r, err))) rc = LOGSTORE_FAILED;
    }
    /* The token's rank among its stream's events at its time, as this store numbers them. */
    if (rc == LOGSTORE_OK && w.pname.len) {
        walk_bind_name(&w, w.st[S_NTH]);
        walk_bind_name(&w, w.st[S_RANK]);
        if (logstore__rank_to_id(w.st[S_NTH], w.pts, rank, &w.pid) < 0)
            rc = logstore__read_failed(r, err);
    }

    /* edge is where the walk stands: the start of what is left oldest first, its end newest
     * first; each window [a, b) lies beyond it. */
    int64_t edge = back ? hi : lo, width = 60 * 1000, examined = 0, a = 0, b = 0;
    int done = 0, full = 0;
    size_t cap = 0, bytes = 0;
    while (rc == LOGSTORE_OK && !full) {
        int64_t next = -1, n = 0;
        if (back ? edge <= lo : edge >= hi) {
            done = 1;
            break;
        }
        if (walk_value(&w, S_NEXT, back ? lo : edge, back ? edge : hi, 0, &next) < 0) {
            rc = logstore__read_failed(r, err);
            break;
        }
        if (next < 0) {
            done = 1;
            break;
        }
        edge = back ? next + 1 : next;
        /* The window: as wide as the budget's remainder allows, one millisecond at least. */
        int64_t room = budget - examined;
        for (;;) {
            if (back) {
                a = edge - lo > width ? edge - width : lo;
                b = edge;
            } else {
                a = edge;
                b = hi - edge > width ? edge + width : hi;
            }
            if (walk_value(&w, S_COUNT, a, b, room + 1, &n) < 0) {
                rc = logstore__read_failed(r, err);
                break;
            }
            if (n <= room || b - a == 1) break;
            /* Steeply, since each count may read as many index entries as the budget has
             * left; the window grows back by doubling where events are sparse. */
            width = (b - a) / 8 > 1 ? (b - a) / 8 : 1;
        }
        if (rc != LOGSTORE_OK) break;
        sqlite3_stmt *st = w.st[S_SCAN];
        walk_window(&w, st, a, b, room);
        int step, seen = 0;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const char *msg = sqlite3_column_blob(st, 3);
            size_t len = (size_t)sqlite3_column_bytes(st, 3);
            if (logstore__pattern_match(pat, msg ? msg : "", len) &&
                logstore__page_add(out, &cap, &bytes, st, limit, max_bytes, 1)) {
                full = 1; /* this event starts the next page */
                break;
            }
            w.pts = sqlite3_column_int64(st, 1);
            w.pid = sqlite3_column_int64(st, 0);
            set_name(&w, st);
            examined++;
            if (++seen % 256 == 0 && examined >= least && util_mono_ms() >= deadline) break;
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = logstore__read_failed(r, err);
            break;
        }
        int whole = step == SQLITE_DONE && n <= room;
        sqlite3_reset(st);
        if (whole) {
            /* The window is examined to its far end: oldest first nothing at b is, newest
             * first all of a is. */
            edge = w.pts = back ? a : b;
            w.pid = 0;
            w.pname.len = 0;
            if (n < room / 4 && width < INT64_MAX / 2) width *= 2;
        }
        if (!full && (examined >= budget || (examined >= least && util_mono_ms() >= deadline)))
            break;
    }
    /* A page that ends for want of budget, even an empty one, carries a token, as CloudWatch's
     * do; only the end of the events has none. */
    if (rc == LOGSTORE_OK && !done && !((back ? edge <= lo : edge >= hi) && !full)) {
        walk_bind_name(&w, w.st[S_RANK]);
        if (!(out->next = filter_token(&w))) rc = logstore__read_failed(r, err);
    }
    for (int i = 0; i < S_N; i++) {
        sqlite3_finalize(w.st[i]);
        q_free(&q[i]);
    }
    if (r) logstore__reader_give(ls, r);
    free(upper);
    buf_free(&w.pname);
    logstore__pattern_free(pat);
    if (rc != LOGSTORE_OK) logstore_page_free(out);
    return rc;
}

/* Stream listings ----------------------------------------------------------------------- */

void logstore_stream_list_free(logstore_stream_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i].name);
    free(l->items);
    free(l->next);
    memset(l, 0, sizeof *l);
}

/* A listing token that resumes after a name: "K/HEX", K saying what is listed. */
static char *name_token(char kind, const char *name)
{
    size_t n = strlen(name);
    char *t = xmalloc(2 * n + 3);
    t[0] = kind;
    t[1] = '/';
    util_hex(name, n, t + 2);
    return t;
}

/* Listing tokens: "n/HEX" resumes after a name, "t/LAST/ID" after a stream in time order. */
static char *stream_token(const logstore_streams_query *q, const char *name, int64_t last_ts,
                          int64_t id)
{
    if (q->by_last_event_time) return xasprintf("t/%lld/%lld", (long long)last_ts, (long long)id);
    return name_token('n', name);
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
    return name_token('g', name);
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
                     "WHERE grp = groups.name), retention FROM groups WHERE 1");
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
            g->retention_days = sqlite3_column_int(st, 3);
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
