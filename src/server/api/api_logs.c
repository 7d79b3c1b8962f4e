/* api_logs — see api_logs.h.
 *
 * Errors take CloudWatch's shape: HTTP 400 with {"__type": "...", "message": "..."} and the same
 * type in x-amzn-ErrorType (botocore's JSON protocol reads __type; other SDKs read the header).
 * ResourceNotFoundException and InvalidParameterException carry CloudWatch's own messages where
 * clients are known to match them ("The specified log stream does not exist."). */
#include "server/api/api_logs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errbody.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/agent_ident.h"
#include "server/base/diskroom.h"
#include "server/model/config.h"
#include "server/api/api.h"
#include "server/api/api_logs_internal.h"
#include "server/api/logs_held.h"
#include "server/api/schema.h"

#define TARGET_PREFIX "Logs_20140328."
#define AGENT_LOGS_PATH "/barge/v1/agent/logs"
/* CloudWatch's largest event is 256 KiB including 26 bytes of overhead; longer lines from a job
 * are kept as several events rather than refused, so no output is lost. */
#define MAX_MESSAGE (256 * 1024 - LOGSTORE_EVENT_OVERHEAD)

static logstore *store_;
static schema *get_shape, *streams_shape, *filter_shape, *groups_shape, *delete_stream_shape,
    *agent_shape; /* delete_stream_shape: CreateLogStream's too */

void api_logs_init(logstore *ls)
{
    store_ = ls;
    api_logs__groups_init(ls);
    get_shape = schema_compile(
        "{logGroupName:s, logGroupIdentifier:s, logStreamName:s!, startTime:l, endTime:l, "
        "nextToken:s, limit:i, startFromHead:b, unmask:b}");
    streams_shape = schema_compile(
        "{logGroupName:s, logGroupIdentifier:s, logStreamNamePrefix:s(1..512), "
        "orderBy:e(LogStreamName|LastEventTime), descending:b, nextToken:s, limit:i}");
    filter_shape = schema_compile(
        "{logGroupName:s, logGroupIdentifier:s, logStreamNames:[s(1..512)](1..100), "
        "logStreamNamePrefix:s(1..512), "
        "startTime:l, endTime:l, filterPattern:s, nextToken:s, limit:i, interleaved:b, "
        "unmask:b, startFromHead:b}");
    groups_shape = schema_compile(
        "{logGroupNamePrefix:s(1..512), logGroupNamePattern:s(0..512), "
        "logGroupIdentifiers:[s(1..2048)](1..50), nextToken:s, limit:i, includeLinkedAccounts:b, "
        "logGroupClass:e(STANDARD|INFREQUENT_ACCESS|DELIVERY), accountIdentifiers:[s(12..12)](0..20)}");
    delete_stream_shape = schema_compile("{logGroupName:s!, logStreamName:s!}");
    agent_shape = schema_compile(
        "{instanceId:s, streams:[{logStreamName:s!, events:[{timestamp:l!, message:s!}]!}]!,"
        " sentAt:l}");
}

/* An agent's batch holds up to 1 MiB of log text (CloudWatch's batch size); JSON escapes can
 * make its body several times larger. */
static const api_op cloudwatch_op = {.name = "CloudWatchLogs", .method = "POST", .path = "/"};
static const api_op agent_op = {.name = "AgentLogs", .method = "POST", .path = AGENT_LOGS_PATH,
                                .max_body = 4 * 1024 * 1024};

const api_op *api_logs_route(const char *method, const char *url, const char *target)
{
    if (strcmp(method, "POST") != 0) return NULL;
    if (strcmp(url, "/") == 0 && target &&
        strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX)) == 0)
        return &cloudwatch_op;
    if (strcmp(url, AGENT_LOGS_PATH) == 0) return &agent_op;
    return NULL;
}

/* Answers ------------------------------------------------------------------------------- */


/* Maps a log store failure to its error; err is freed. */
static int store_failed(api_ctx *c, int rc, char *err)
{
    if (rc == LOGSTORE_NOT_FOUND) api_fail(c, 400, "ResourceNotFoundException", "%s", err);
    else if (rc == LOGSTORE_INVALID) LOGS_INVALID(c, "%s", err);
    else {
        log_error("logs: %s", err);
        const char *broken = logstore_broken(store_);
        if (broken)
            api_fail(c, 500, "ServiceUnavailableException", "the log store cannot be read: %s",
                     broken);
        else
            api_fail(c, 500, "ServiceUnavailableException",
                     "the log store could not be read; retry");
    }
    free(err);
    return -1;
}

/* A message as a JSON string.  Messages reach the store through JSON and so are UTF-8; the
 * fallback keeps a damaged file from breaking the whole answer. */
static json_t *message_json(const char *s, size_t len)
{
    json_t *v = json_stringn(s, len);
    if (v) return v;
    char *copy = xstrndup(s, len);
    util_utf8_scrub(copy);
    v = json_string(copy);
    free(copy);
    return v ? v : json_string("");
}

/* Request fields ------------------------------------------------------------------------ */

static const char *group_arn_prefix(char *out, size_t n)
{
    snprintf(out, n, "arn:aws:logs:%s:%s:log-group:", barge_cfg.region, barge_cfg.account_id);
    return out;
}

int api_logs_group_named(const char *v, char out[LOGSTORE_NAME_MAX + 1])
{
    char prefix[200];
    size_t n = strlen(group_arn_prefix(prefix, sizeof prefix)), len = strlen(v);
    if (strncmp(v, "arn:", 4) == 0) {
        if (strncmp(v, prefix, n) != 0) return -1;
        v += n;
        len -= n;
        if (len >= 2 && strcmp(v + len - 2, ":*") == 0) len -= 2;
    }
    if (len > LOGSTORE_NAME_MAX) return -1;
    memcpy(out, v, len);
    out[len] = '\0';
    return logstore_group_name_valid(out) ? 0 : -1;
}


/* The group a request names, into group; it must exist. */
static int check_group(api_ctx *c, json_t *req, char group[LOGSTORE_NAME_MAX + 1])
{
    const char *name = api_str(req, "logGroupName"), *id = api_str(req, "logGroupIdentifier");
    if (name && id)
        return LOGS_INVALID(c, "LogGroupName and LogGroupIdentifier are mutually exclusive; "
                               "give one");
    if (!name && !id)
        return LOGS_INVALID(c, "Either logGroupName or logGroupIdentifier must be given");
    /* A name no group can have is a bad parameter, as CloudWatch checks it before looking;
     * another region's or account's ARN names a group that is not here. */
    const char *given = name ? name : id;
    if (strncmp(given, "arn:", 4) != 0 && !logstore_group_name_valid(given))
        return LOGS_INVALID(c, "%s: '%.100s' is not a log group name; use 1 to 512 of the "
                               "characters A-Z a-z 0-9 . - _ / #",
                            name ? "logGroupName" : "logGroupIdentifier", given);
    if (api_logs_group_named(given, group) < 0) return LOGS_NO_GROUP(c);
    /* Whether it exists only: what it stores is summed over its streams, which a read of one
     * stream need not pay for. */
    int rc = logstore_group_exists(store_, group);
    if (rc == LOGSTORE_NOT_FOUND) return LOGS_NO_GROUP(c);
    if (rc != LOGSTORE_OK) return LOGS_UNREADABLE(c);
    return 0;
}

static int read_limit(api_ctx *c, json_t *req, int max, int *out)
{
    json_int_t v = api_int(req, "limit", max);
    if (v < 1 || v > max)
        return LOGS_INVALID(c, "limit: must be between 1 and %d (got %lld)", max, (long long)v);
    *out = (int)v;
    return 0;
}

static int read_range(api_ctx *c, json_t *req, logstore_range *r)
{
    json_t *s = json_object_get(req, "startTime"), *e = json_object_get(req, "endTime");
    r->has_start = s != NULL;
    r->has_end = e != NULL;
    r->start = s ? json_integer_value(s) : 0;
    r->end = e ? json_integer_value(e) : 0;
    if (r->start < 0 || r->end < 0)
        return LOGS_INVALID(c, "%s: must be 0 or more (milliseconds since the epoch)",
                            r->start < 0 ? "startTime" : "endTime");
    return 0;
}

static int read_token(api_ctx *c, json_t *req, const char **out)
{
    *out = api_str(req, "nextToken");
    if (*out && !**out)
        return LOGS_INVALID(c, "nextToken: must not be empty; leave it out for the first page");
    return 0;
}

/* Operations ---------------------------------------------------------------------------- */

/* A stream name as CloudWatch checks it: an empty one, or one no stream can have, is a bad
 * parameter, not a missing stream (Pegasus asks for the log of a job cancelled before any
 * attempt with ""). */
static int check_stream_name(api_ctx *c, const char *stream)
{
    if (!*stream)
        return LOGS_INVALID(c, "logStreamName: must not be empty; give the stream's name, as a "
                               "job's container.logStreamName gives it");
    if (!logstore_stream_name_valid(stream))
        return LOGS_INVALID(c, "logStreamName: '%.100s' is not a log stream name; use 1 to 512 "
                               "characters, none of them ':' or '*'", stream);
    return 0;
}

static int get_log_events(api_ctx *c, json_t *req, json_t **resp)
{
    char group[LOGSTORE_NAME_MAX + 1];
    if (check_stream_name(c, api_str(req, "logStreamName")) < 0) return -1;
    logstore_get_query q = {.group = group,
                            .stream = api_str(req, "logStreamName"),
                            .start_from_head = json_is_true(json_object_get(req, "startFromHead"))};
    if (check_group(c, req, group) < 0 || read_range(c, req, &q.range) < 0 ||
        read_limit(c, req, LOGSTORE_MAX_EVENTS, &q.limit) < 0 || read_token(c, req, &q.token) < 0)
        return -1;
    logstore_page page;
    char *err = NULL;
    int rc = logstore_get(store_, &q, &page, &err);
    if (rc != LOGSTORE_OK) return store_failed(c, rc, err);
    json_t *events = json_array();
    for (size_t i = 0; i < page.n; i++) {
        const logstore_record *e = &page.events[i];
        json_array_append_new(events, json_pack("{s:I, s:o, s:I}", "timestamp",
                                                (json_int_t)e->timestamp, "message",
                                                message_json(e->message, e->len),
                                                "ingestionTime", (json_int_t)e->ingestion_time));
    }
    *resp = json_pack("{s:o, s:s, s:s}", "events", events, "nextForwardToken", page.forward,
                      "nextBackwardToken", page.backward);
    logstore_page_free(&page);
    return 0;
}

static int describe_log_streams(api_ctx *c, json_t *req, json_t **resp)
{
    const char *order = api_str(req, "orderBy");
    char group[LOGSTORE_NAME_MAX + 1];
    logstore_streams_query q = {.group = group,
                                .prefix = api_str(req, "logStreamNamePrefix"),
                                .by_last_event_time = order && strcmp(order, "LastEventTime") == 0,
                                .descending = json_is_true(json_object_get(req, "descending"))};
    if (check_group(c, req, group) < 0 ||
        read_limit(c, req, LOGSTORE_MAX_STREAMS, &q.limit) < 0 || read_token(c, req, &q.token) < 0)
        return -1;
    if (q.prefix && q.by_last_event_time)
        return LOGS_INVALID(c, "Cannot order by LastEventTime with a logStreamNamePrefix.");
    logstore_stream_list list;
    char *err = NULL;
    int rc = logstore_streams(store_, &q, &list, &err);
    if (rc != LOGSTORE_OK) return store_failed(c, rc, err);
    char prefix[200];
    group_arn_prefix(prefix, sizeof prefix);
    json_t *streams = json_array();
    for (size_t i = 0; i < list.n; i++) {
        const logstore_stream_info *s = &list.items[i];
        char *arn = xasprintf("%s%s:log-stream:%s", prefix, group, s->name);
        json_t *o = json_pack("{s:s, s:I, s:s, s:I}", "logStreamName", s->name, "creationTime",
                              (json_int_t)s->creation_time, "arn", arn, "storedBytes",
                              (json_int_t)s->stored_bytes);
        if (s->events > 0) {
            json_object_set_new(o, "firstEventTimestamp", json_integer(s->first_timestamp));
            json_object_set_new(o, "lastEventTimestamp", json_integer(s->last_timestamp));
            json_object_set_new(o, "lastIngestionTime", json_integer(s->last_ingestion_time));
        }
        json_array_append_new(streams, o);
        free(arn);
    }
    *resp = json_pack("{s:o}", "logStreams", streams);
    if (list.next) json_object_set_new(*resp, "nextToken", json_string(list.next));
    logstore_stream_list_free(&list);
    return 0;
}

/* CloudWatch's longest filter pattern. */
#define FILTER_PATTERN_MAX 1024

/* 2024-01-01T00:00:00Z in milliseconds. */
#define NEWEST_FIRST_FROM INT64_C(1704067200000)

static int filter_log_events(api_ctx *c, json_t *req, json_t **resp)
{
    json_t *names = json_object_get(req, "logStreamNames");
    char group[LOGSTORE_NAME_MAX + 1];
    logstore_filter_query q = {.group = group,
                               .prefix = api_str(req, "logStreamNamePrefix"),
                               .pattern = api_str(req, "filterPattern")};
    if (check_group(c, req, group) < 0 || read_range(c, req, &q.range) < 0 ||
        read_limit(c, req, LOGSTORE_MAX_EVENTS, &q.limit) < 0 || read_token(c, req, &q.token) < 0)
        return -1;
    if (names && q.prefix)
        return LOGS_INVALID(c, "logStreamNames and logStreamNamePrefix cannot both be given");
    size_t pattern_chars = q.pattern ? util_utf8_chars(q.pattern) : 0;
    if (pattern_chars > FILTER_PATTERN_MAX)
        return LOGS_INVALID(c, "filterPattern: at most %d characters (got %zu)",
                            FILTER_PATTERN_MAX, pattern_chars);
    /* Newest first (false) is CloudWatch's since 2026, which refuses it for a startTime before
     * 2024 (its older storage); refused here too, so that a call that works on barge works on
     * AWS. */
    q.newest_first = json_is_false(json_object_get(req, "startFromHead"));
    if (q.newest_first && q.range.has_start && q.range.start < NEWEST_FIRST_FROM)
        return LOGS_INVALID(c, "startFromHead false is supported only when startTime is on or "
                               "after Jan 1, 2024 00:00:00 UTC (%lld); got %lld",
                            (long long)NEWEST_FIRST_FROM, (long long)q.range.start);
    if (names && (json_array_size(names) < 1 || json_array_size(names) > 100))
        return LOGS_INVALID(c, "logStreamNames: give 1 to 100 names (got %zu)",
                            json_array_size(names));
    const char **list = NULL;
    if (names) {
        q.n_streams = json_array_size(names);
        list = xcalloc(q.n_streams, sizeof *list);
        for (size_t i = 0; i < q.n_streams; i++)
            list[i] = json_string_value(json_array_get(names, i));
        q.streams = list;
    }
    logstore_page page;
    char *err = NULL;
    int rc = logstore_filter(store_, &q, &page, &err);
    free(list);
    if (rc != LOGSTORE_OK) return store_failed(c, rc, err);
    json_t *events = json_array();
    for (size_t i = 0; i < page.n; i++) {
        const logstore_record *e = &page.events[i];
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)e->id);
        json_array_append_new(
            events, json_pack("{s:s, s:I, s:o, s:I, s:s}", "logStreamName", e->stream,
                              "timestamp", (json_int_t)e->timestamp, "message",
                              message_json(e->message, e->len), "ingestionTime",
                              (json_int_t)e->ingestion_time, "eventId", id));
    }
    /* searchedLogStreams is deprecated; CloudWatch answers it empty. */
    *resp = json_pack("{s:o, s:[]}", "events", events, "searchedLogStreams");
    if (page.next) json_object_set_new(*resp, "nextToken", json_string(page.next));
    logstore_page_free(&page);
    return 0;
}

static json_t *group_json(const char *name, int64_t created, int64_t bytes, int retention)
{
    char prefix[200];
    group_arn_prefix(prefix, sizeof prefix);
    char *arn = xasprintf("%s%s", prefix, name);
    char *arn_any = xasprintf("%s:*", arn);
    json_t *g = json_pack("{s:s, s:I, s:i, s:s, s:s, s:I, s:s}", "logGroupName", name,
                          "creationTime", (json_int_t)created, "metricFilterCount", 0, "arn",
                          arn_any, "logGroupArn", arn, "storedBytes", (json_int_t)bytes,
                          "logGroupClass", "STANDARD");
    /* Only when set, as CloudWatch answers: a group without one keeps its events for ever. */
    if (retention > 0) json_object_set_new(g, "retentionInDays", json_integer(retention));
    free(arn);
    free(arn_any);
    return g;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A group listing's token, "g/HEX": the page after the group of that name, as the log store's
 * listing (logstore_groups) makes them. */
static char *after_token(const char *name)
{
    size_t n = strlen(name);
    char *t = xmalloc(2 * n + 3);
    memcpy(t, "g/", 2);
    util_hex(name, n, t + 2);
    return t;
}

/* DescribeLogGroups with logGroupIdentifiers: the named groups that exist, by name, limit a
 * page, after the group `after` names (a token's) if any; *next is the next page's token, as
 * the listing of every group pages. */
static int describe_named_groups(api_ctx *c, json_t *ids, const logstore_groups_query *q,
                                 const char *after, json_t *groups, char **next)
{
    size_t n = json_array_size(ids);
    if (n < 1 || n > 50)
        return LOGS_INVALID(c, "logGroupIdentifiers: give 1 to 50 identifiers (got %zu)", n);
    char(*names)[LOGSTORE_NAME_MAX + 1] = xcalloc(n, sizeof *names);
    const char **sorted = xcalloc(n, sizeof *sorted);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (api_logs_group_named(json_string_value(json_array_get(ids, i)), names[i]) == 0)
            sorted[m++] = names[i];
    qsort(sorted, m, sizeof *sorted, cmp_str);
    int rc = 0, shown = 0;
    for (size_t i = 0; i < m; i++) {
        const char *g = sorted[i];
        if ((i > 0 && strcmp(g, sorted[i - 1]) == 0) || (after && strcmp(g, after) <= 0) ||
            (q->prefix && strncmp(g, q->prefix, strlen(q->prefix)) != 0) ||
            (q->pattern && !strcasestr(g, q->pattern)))
            continue;
        int64_t created, bytes;
        int days;
        int found = logstore_group_info(store_, g, &created, &bytes, &days);
        if (found == LOGSTORE_NOT_FOUND) continue;
        if (found != LOGSTORE_OK) {
            rc = LOGS_UNREADABLE(c);
            break;
        }
        /* One more group than the page holds: the page ends at the one before. */
        if (shown == q->limit) {
            json_t *last = json_array_get(groups, json_array_size(groups) - 1);
            *next = after_token(json_string_value(json_object_get(last, "logGroupName")));
            break;
        }
        json_array_append_new(groups, group_json(g, created, bytes, days));
        shown++;
    }
    free(sorted);
    free(names);
    return rc;
}

static int describe_log_groups(api_ctx *c, json_t *req, json_t **resp)
{
    logstore_groups_query q = {.prefix = api_str(req, "logGroupNamePrefix"),
                               .pattern = api_str(req, "logGroupNamePattern")};
    json_t *ids = json_object_get(req, "logGroupIdentifiers");
    if (read_limit(c, req, LOGSTORE_MAX_GROUPS, &q.limit) < 0 ||
        read_token(c, req, &q.token) < 0)
        return -1;
    if (q.prefix && q.pattern)
        return LOGS_INVALID(c, "logGroupNamePrefix and logGroupNamePattern cannot both be given");
    json_t *groups = json_array();
    if (ids) {
        char *after = NULL, *next = NULL;
        if (q.token && (strncmp(q.token, "g/", 2) != 0 || !(after = util_unhex(q.token + 2)))) {
            json_decref(groups);
            return LOGS_INVALID(c, "The specified nextToken is invalid: '%.60s' is not a token "
                                   "of this listing (pass the nextToken of the previous page).",
                                q.token);
        }
        int rc = describe_named_groups(c, ids, &q, after, groups, &next);
        free(after);
        if (rc < 0) {
            json_decref(groups);
            return -1;
        }
        *resp = json_pack("{s:o}", "logGroups", groups);
        if (next) json_object_set_new(*resp, "nextToken", json_string(next));
        free(next);
        return 0;
    }
    logstore_group_list list;
    char *err = NULL;
    int rc = logstore_groups(store_, &q, &list, &err);
    if (rc != LOGSTORE_OK) {
        json_decref(groups);
        return store_failed(c, rc, err);
    }
    for (size_t i = 0; i < list.n; i++) {
        const logstore_group_summary *g = &list.items[i];
        json_array_append_new(groups, group_json(g->name, g->creation_time, g->stored_bytes,
                                                 g->retention_days));
    }
    *resp = json_pack("{s:o}", "logGroups", groups);
    if (list.next) json_object_set_new(*resp, "nextToken", json_string(list.next));
    logstore_group_list_free(&list);
    return 0;
}

/* CreateLogStream: an empty stream in a group that exists (Covalent's deployment makes one for
 * its jobs); ResourceAlreadyExistsException the second time, as CloudWatch answers. */
static int create_log_stream(api_ctx *c, json_t *req, json_t **resp)
{
    char group[LOGSTORE_NAME_MAX + 1];
    const char *stream = api_str(req, "logStreamName");
    if (check_stream_name(c, stream) < 0 || check_group(c, req, group) < 0) return -1;
    int there = logstore_stream_exists(store_, group, stream);
    if (there < 0) return LOGS_UNREADABLE(c);
    if (there)
        return api_fail(c, 400, "ResourceAlreadyExistsException",
                        "The specified log stream already exists");
    /* An agent knows its attempt's stream by name alone, and writes to the one of that name
     * made last: a stream made here under a running attempt's name would take its lines. */
    if (agent_ident_stream_owner("", stream) != AGENT_STREAM_NONE)
        return LOGS_INVALID(c, "logStreamName: '%.100s' is the stream a running job's attempt "
                               "writes to; choose another name", stream);
    if (logstore_wait(store_, logstore_append(store_, group, stream, NULL, 0)) < 0)
        return api_fail(c, 500, "ServiceUnavailableException",
                        "the server could not store the log stream; retry");
    *resp = json_object();
    return 0;
}

/* DeleteLogStream: the stream and its events go (Pegasus deletes each job's stream once it
 * has read it).  A stream an attempt still writes is made again by its next lines, in
 * /aws/batch/job (the agent knows a stream by its name alone). */
static int delete_log_stream(api_ctx *c, json_t *req, json_t **resp)
{
    char group[LOGSTORE_NAME_MAX + 1];
    const char *stream = api_str(req, "logStreamName");
    if (check_stream_name(c, stream) < 0 || check_group(c, req, group) < 0) return -1;
    int there = logstore_stream_exists(store_, group, stream);
    if (there < 0) return LOGS_UNREADABLE(c);
    if (!there)
        return api_fail(c, 400, "ResourceNotFoundException",
                        "The specified log stream does not exist.");
    if (logstore_wait(store_, logstore_delete_stream(store_, group, stream)) < 0)
        return api_fail(c, 500, "ServiceUnavailableException",
                        "the server could not delete the log stream; retry");
    *resp = json_object();
    return 0;
}

static const api_logs_op operations[] = {
    {"GetLogEvents", get_log_events, &get_shape},
    {"DescribeLogStreams", describe_log_streams, &streams_shape},
    {"FilterLogEvents", filter_log_events, &filter_shape},
    {"DescribeLogGroups", describe_log_groups, &groups_shape},
    {"DeleteLogStream", delete_log_stream, &delete_stream_shape},
    {"CreateLogStream", create_log_stream, &delete_stream_shape},
};

/* The agent's upload -------------------------------------------------------------------- */

static int agent_logs(api_ctx *c, json_t *req, json_t **resp)
{
    json_t *streams = json_object_get(req, "streams");
    size_t i, j, bytes = 0; /* about what the events take stored */
    json_t *s, *e;
    /* The instance is the one the credential names (agent_ident.h, checked here rather than on
     * the core, which log requests never wait for); the request's instanceId, if any, must be
     * the same. */
    char id[AGENT_IDENT_ID_MAX + 1];
    agent_cred_rc rc = agent_ident_check(c->auth, id, NULL);
    const char *named = api_str(req, "instanceId");
    if (api_check_instance_id(c, named, "instanceId") < 0) return -1;
    /* A lost instance's agent may still upload what its attempts printed, to their streams
     * alone (agent_ident_lose): checked stream by stream below, against the lost instance's
     * own credentials.  Its id may be registered again meanwhile (an agent started with the
     * same --instance-id elsewhere), which makes the old credential a wrong one for the id,
     * not an unknown one: the lines the cut-off agent holds still belong in its attempts'
     * logs. */
    int lost = (rc == AGENT_CRED_NO_INSTANCE || rc == AGENT_CRED_WRONG ||
                rc == AGENT_CRED_EXPIRED) &&
               json_array_size(streams) > 0;
    json_array_foreach(streams, i, s)
        lost = lost && agent_ident_lost_may_write(c->auth, api_str(s, "logStreamName"));
    if (rc != AGENT_CRED_OK && !lost) return api_agent_refuse(c, rc, id);
    if (named && strcmp(named, id) != 0)
        return api_fail(c, 403, "AccessDeniedException",
                        "instance %s may act only for itself; this request names instance %s",
                        id, named);
    /* Check everything before storing anything, so a bad request changes nothing. */
    json_array_foreach(streams, i, s) {
        const char *name = api_str(s, "logStreamName");
        if (!logstore_stream_name_valid(name))
            return api_client_error(c, "streams[%zu].logStreamName: '%.100s' is not a valid "
                                       "stream name (1 to 512 characters, without ':' or '*')",
                                    i, name);
        /* Only the streams of the instance's own attempts, while they run.  Developer mode,
         * where any caller may do anything anyway, also lets a stream no running attempt
         * writes to be fed (tests and tools seed the log store so); another instance's
         * running attempt's stream is refused in every mode. */
        agent_stream_rc owner = lost ? AGENT_STREAM_MINE : agent_ident_stream_owner(id, name);
        if (owner == AGENT_STREAM_OTHER || (owner == AGENT_STREAM_NONE && !barge_cfg.dev))
            return api_fail(c, 403, "AccessDeniedException",
                            "instance %s may write only to the log streams of its own running "
                            "attempts; streams[%zu].logStreamName '%.100s' is not one of them",
                            id, i, name);
        json_array_foreach(json_object_get(s, "events"), j, e) {
            if (json_integer_value(json_object_get(e, "timestamp")) < 0)
                return api_client_error(c, "streams[%zu].events[%zu].timestamp: must be 0 or "
                                           "more (milliseconds since the epoch)", i, j);
            /* Stored twice for a while (the WAL, then the file), with a row and index. */
            bytes += 2 * json_string_length(json_object_get(e, "message")) + 128;
        }
    }
    long long free_mib, reserve_mib;
    if (diskroom_low(barge_cfg.data_dir, barge_cfg.log_reserve_mib, bytes, &free_mib,
                     &reserve_mib)) {
        /* The agent holds the lines and sends them again; the job waits on its output. */
        static log_limit limit = LOG_LIMIT_INIT;
        log_limited(&limit, 10000, LOG_ERROR, "logs: the data directory's file system has %lld "
                    "MiB free, under the %lld MiB kept for the job store (--log-reserve-mb): job "
                    "output waits until there is room", free_mib, reserve_mib);
        /* Said on each job whose lines wait (logs_held.h). */
        char why[160];
        snprintf(why, sizeof why, "the server's data directory has %lld MiB free, under the "
                 "%lld MiB kept for the job store (--log-reserve-mb)", free_mib, reserve_mib);
        json_array_foreach(streams, i, s) logs_held_note(api_str(s, "logStreamName"), why);
        return api_fail(c, 503, "ServiceUnavailableException",
                        "the data directory's file system has %lld MiB free, under the %lld MiB "
                        "kept for the job store (--log-reserve-mb); send these events again once "
                        "there is room", free_mib, reserve_mib);
    }
    int64_t skew = api_agent_clock_skew(req, id);
    /* A store that takes no more writes until a restart: the lines go to a file beside it
     * (logstore_aside.c), so that jobs, whose ends wait for their output, end. */
    const char *broken = logstore_broken(store_);
    int kept_failed = 0;
    uint64_t *tickets = xcalloc(json_array_size(streams), sizeof *tickets);
    logstore_event *ev = NULL;
    size_t cap = 0;
    json_array_foreach(streams, i, s) {
        size_t n = 0;
        json_array_foreach(json_object_get(s, "events"), j, e) {
            json_t *m = json_object_get(e, "message");
            const char *msg = json_string_value(m);
            size_t len = json_string_length(m);
            int64_t ts = json_integer_value(json_object_get(e, "timestamp")) + skew;
            if (ts < 0) ts = 0;
            do {
                size_t piece = len;
                if (piece > MAX_MESSAGE) {
                    /* Cut before a UTF-8 continuation byte, so each piece stays valid. */
                    piece = MAX_MESSAGE;
                    while (piece > 1 && ((unsigned char)msg[piece] & 0xc0) == 0x80) piece--;
                }
                if (n == cap) {
                    cap = cap ? 2 * cap : 64;
                    ev = xrealloc(ev, cap * sizeof *ev);
                }
                ev[n++] = (logstore_event){.timestamp = ts, .message = msg, .len = piece};
                msg += piece;
                len -= piece;
            } while (len > 0);
        }
        /* The agent knows the stream by its name: the server made it, in the group of the
         * attempt's job, when the attempt started (engine/attempt.c); the group is found by
         * the stream's name. */
        if (broken)
            kept_failed |= logstore_keep_aside(store_, api_str(s, "logStreamName"), ev, n) < 0;
        else
            tickets[i] = logstore_append_by_name(store_, LOGSTORE_BATCH_GROUP,
                                                 api_str(s, "logStreamName"), ev, n);
    }
    free(ev);
    /* Answer only once the events are committed: the answer lets the agent drop them. */
    int failed = kept_failed;
    for (i = 0; i < json_array_size(streams) && !broken; i++)
        failed |= logstore_wait(store_, tickets[i]) < 0;
    free(tickets);
    if (broken && !failed) {
        static log_limit limit = LOG_LIMIT_INIT;
        log_limited(&limit, 60000, LOG_ERROR, "logs: %s", broken);
    }
    if (failed)
        return api_server_error(c, "the server could not store these log events; send them again");
    json_array_foreach(streams, i, s) logs_held_clear(api_str(s, "logStreamName"));
    *resp = json_object();
    return 0;
}

/* Entry point --------------------------------------------------------------------------- */

/* The first member of v (path so far in path) whose text holds a NUL, other than a log event's
 * message: 1 with its path in path.  Bodies are read with JSON_ALLOW_NUL for job output, which
 * may hold any byte; a name or a pattern with one would be cut short at it where C reads it,
 * and a call would act on another group or stream than the one it names. */
static int nul_member(json_t *v, const char *key, char *path, size_t len)
{
    size_t at = strlen(path);
    if (json_is_string(v))
        return strlen(json_string_value(v)) != json_string_length(v) &&
               !(key && strcmp(key, "message") == 0);
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m) {
            snprintf(path + at, len - at, "%s%.64s", at ? "." : "", k);
            if (nul_member(m, k, path, len)) return 1;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            snprintf(path + at, len - at, "[%zu]", i);
            if (nul_member(m, key, path, len)) return 1;
        }
    }
    path[at] = '\0';
    return 0;
}

/* Finds the request's handler, checks the request against its shape and runs it. */
static int serve(api_ctx *c, const api_op *op, const char *target, const char *body,
                 size_t len, json_t **resp)
{
    int agent = op == &agent_op;
    const char *bad_input = agent ? "ClientException" : "InvalidParameterException";
    if (!store_)
        return api_fail(c, 503, "ServiceUnavailableException", "the log store is not open");
    schema *shape = agent_shape;
    api_handler fn = agent_logs;
    if (!agent) {
        const char *name = target ? target + strlen(TARGET_PREFIX) : "";
        fn = NULL;
        const api_logs_op *found = api_logs__group_op(name);
        for (size_t i = 0; !found && i < sizeof operations / sizeof operations[0]; i++)
            if (strcmp(name, operations[i].name) == 0) found = &operations[i];
        if (found) {
            fn = found->fn;
            shape = *found->shape;
        }
        if (!fn)
            return api_fail(c, 400, "UnknownOperationException",
                            "X-Amz-Target '%.100s': barge serves GetLogEvents, FilterLogEvents, "
                            "DescribeLogStreams, DescribeLogGroups, CreateLogGroup, "
                            "CreateLogStream, DeleteLogStream, DeleteLogGroup, "
                            "PutRetentionPolicy, DeleteRetentionPolicy, TagResource, "
                            "UntagResource, ListTagsForResource, TagLogGroup, UntagLogGroup and "
                            "ListTagsLogGroup of CloudWatch Logs",
                            target);
    }
    json_t *req;
    if (len == 0 && !agent) {
        req = json_object();
    } else {
        json_error_t e;
        req = json_loadb(body, len, API_LOGS_JSON_FLAGS, &e);
        if (!req)
            return api_fail(c, 400, agent ? "ClientException" : "SerializationException",
                            "request body: not valid JSON (line %d, column %d: %s)", e.line,
                            e.column, e.text);
        if (!json_is_object(req)) {
            json_decref(req);
            return api_fail(c, 400, bad_input, "request body: expected a JSON object");
        }
    }
    char err[600] = "";
    if (nul_member(req, NULL, err, sizeof err)) {
        json_decref(req);
        return api_fail(c, 400, bad_input, "%s: holds a NUL character (\\u0000), which only a "
                        "log event's message may", err);
    }
    if (schema_check(shape, req, err, sizeof err) < 0) {
        json_decref(req);
        return api_fail(c, 400, bad_input, "%s", err);
    }
    int rc = fn(c, req, resp);
    json_decref(req);
    return rc;
}

void api_logs_serve(const api_op *op, const char *target, const char *authorization,
                    const char *body, size_t len, api_logs_answer *out)
{
    /* These requests are answered on a log thread, not on the core thread that owns the
     * state, so their context has none: st is NULL, and nothing here may use it. */
    api_ctx c = {.st = NULL, .now_ms = util_now_ms(),
                 .auth = op == &agent_op ? authorization : NULL};
    json_t *resp = NULL;
    int rc = serve(&c, op, target, body ? body : "", len, &resp);
    memset(out, 0, sizeof *out);
    if (rc == 0 && !c.err_type) {
        if (!resp) resp = json_object();
        out->status = 200;
        out->body = json_dumps(resp, JSON_COMPACT);
    } else {
        if (!c.err_type) api_server_error(&c, "the %s handler failed without a reason", op->name);
        out->status = c.status;
        out->err_type = c.err_type;
        out->body = errbody_new(c.err_type, c.err_msg);
    }
    out->len = strlen(out->body);
    json_decref(resp);
}
