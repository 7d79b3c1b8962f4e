/* webhooks_config — the --webhooks file read and checked into targets (webhooks_internal.h), and
 * URLs as the log shows them.  Delivery is webhooks.c's. */
#include "server/webhooks_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jtext.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/arn.h"
#include "server/model/job.h"

#define WEBHOOK_BATCH_MAX 100
#define WEBHOOK_PARALLEL_MAX 16
#define WEBHOOK_PIPELINE_MAX 256 /* H1PIPE_WINDOW_MAX */
#define WEBHOOK_TARGETS_MAX 100

static int name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 64) return 0;
    for (; *s; s++)
        if (!(*s == '-' || *s == '_' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

/* The credentials in the url show as "***", since the log is read by more people than the
 * webhooks file: a password (user:password@host) as user:***@host, and a user name alone as
 * ***@host, since that is how a token is given (https://TOKEN@host).  Any control character
 * shows as '?', since a Location comes from the target and a line of the log is one line.  The
 * request itself still carries the credentials. */
char *webhooks__url_for_log(const char *url)
{
    /* The authority: after "scheme://", or a leading "//" (a Location may be a path alone). */
    size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    const char *auth = !strncmp(url, "//", 2)               ? url + 2
                       : n && !strncmp(url + n, "://", 3) ? url + n + 3
                                                          : NULL;
    const char *at = auth ? memrchr(auth, '@', strcspn(auth, "/?#")) : NULL;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    /* Where the masked part starts: after the user's colon, or the whole user name (an empty
     * one, "//@host", hides nothing). */
    const char *mask = colon ? colon + 1 : at && at > auth ? auth : NULL;
    char *out = mask ? xasprintf("%.*s***%s", (int)(mask - url), url, at) : xstrdup(url);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return out;
}

static const char unknown_member[] =
    "is not a member a target has (name, url, secret, queue, status, batch, parallel, pipeline)";

/* Why member k of target t is wrong, or NULL.  Every member is checked, a stray one too: a
 * typo ("secrte") or a member of the wrong type would otherwise be dropped without a word, and
 * the target deliver other events than the operator meant. */
static const char *member_problem(const char *k, json_t *v, json_t *t)
{
    if (!strcmp(k, "name"))
        return name_ok(json_string_value(v)) ? NULL
                                              : "name must be 1 to 64 letters, digits, '-' or '_'";
    if (!strcmp(k, "url")) {
        const char *url = json_string_value(v);
        return url && !util_http_url_problem(url, strlen(url))
                   ? NULL
                   : "url must be an http:// or https:// URL with a host, a port (if any) of 1 "
                     "to 65535, and no space or control character";
    }
    if (!strcmp(k, "secret"))
        return json_is_string(v) && util_utf8_chars(json_string_value(v)) >= 16
                   ? NULL : "secret must be 16 characters or more";
    if (!strcmp(k, "queue")) {
        /* As GetEvents will take it: a name that can be no queue's would otherwise start the
         * server and be refused a poll a second for ever. */
        char *key = api_key_of(json_string_value(v), ARN_JQ);
        int ok = key != NULL;
        free(key);
        return ok ? NULL
                   : "queue must be a job queue's name (up to 128 letters, numbers, hyphens and "
                     "underscores) or a job queue ARN";
    }
    if (!strcmp(k, "status")) {
        size_t i;
        json_t *x;
        if (!json_is_array(v)) return "status must be a list of statuses";
        /* GetEvents takes no statuses as every status: an empty filter would send more than
         * any filter does, as the CLI's --status and the stream's refuse it for. */
        if (!json_array_size(v))
            return "status must list at least one status (an empty list would let every "
                   "event through); leave it out for every status";
        json_array_foreach(v, i, x) {
            int st = job_status_parse(json_string_value(x));
            if (st < 0 || st == JS_SUBMITTED)
                return "status must list statuses events are made for: PENDING, RUNNABLE, "
                       "STARTING, RUNNING, SUCCEEDED or FAILED";
        }
        return NULL;
    }
    if (!strcmp(k, "batch"))
        return json_is_integer(v) && json_integer_value(v) >= 1 &&
                       json_integer_value(v) <= WEBHOOK_BATCH_MAX
                   ? NULL : "batch must be a whole number of events a POST, from 1 to 100";
    if (!strcmp(k, "parallel")) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > WEBHOOK_PARALLEL_MAX)
            return "parallel must be a whole number of POSTs in flight at once, from 1 to 16";
        json_t *batch = json_object_get(t, "batch");
        if (json_integer_value(v) > 1 && json_is_integer(batch) && json_integer_value(batch) > 1)
            return "parallel goes with one event a POST (batch 1): a batch's arrays go in "
                   "order, one at a time";
        return NULL;
    }
    if (!strcmp(k, "pipeline")) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > WEBHOOK_PIPELINE_MAX)
            return "pipeline must be a whole number of POSTs written at once on the connection, "
                   "from 1 to 256";
        if (json_integer_value(v) == 1) return NULL;
        json_t *batch = json_object_get(t, "batch"), *parallel = json_object_get(t, "parallel");
        const char *url = json_string_value(json_object_get(t, "url"));
        if (json_is_integer(batch) && json_integer_value(batch) > 1)
            return "pipeline goes with one event a POST (batch 1): a batch is already one POST "
                   "for many events";
        if (json_is_integer(parallel) && json_integer_value(parallel) > 1)
            return "pipeline and parallel are two ways of having POSTs in flight: give one";
        if (url && util_http_scheme_len(url) != 7)
            return "pipeline takes an http:// url only (pipelined POSTs are barge's own, without "
                   "TLS): leave it out for an https:// target, or use batch";
        return NULL;
    }
    return unknown_member;
}

int webhooks__load(const char *path, target **targets, size_t *n_targets)
{
    /* Duplicate keys refused: {"targets": [...], "targets": []} would keep the last. */
    char *err = NULL;
    json_t *doc = jtext_load_file("--webhooks", path, &err);
    if (!doc) {
        fprintf(stderr, "barge server: %s\n", err);
        free(err);
        return -1;
    }
    json_t *list = json_object_get(doc, "targets");
    const char *top;
    json_t *v;
    json_object_foreach(doc, top, v) {
        if (strcmp(top, "targets") != 0) {
            fprintf(stderr, "barge server: --webhooks %s: '%.40s' is not a member barge knows "
                            "(the file is {\"targets\": [...]})\n", path, top);
            json_decref(doc);
            return -1;
        }
    }
    if (!json_is_array(list)) {
        fprintf(stderr, "barge server: --webhooks %s: expected {\"targets\": [...]}\n", path);
        json_decref(doc);
        return -1;
    }
    /* Each target is a thread and a connection of its own (two file descriptors at least):
     * thousands would run the server out of descriptors and threads.  A hundred receivers is
     * far past what one server feeds; a receiver that needs more fans out itself. */
    if (json_array_size(list) > WEBHOOK_TARGETS_MAX) {
        fprintf(stderr, "barge server: --webhooks %s: %zu targets; at most %d are allowed (each "
                        "is a thread and a connection of the server's)\n", path,
                json_array_size(list), WEBHOOK_TARGETS_MAX);
        json_decref(doc);
        return -1;
    }
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *k;
        const char *why = !json_is_object(t) ? "must be an object: {\"name\", \"url\", \"secret\", ...}"
              : !name          ? "name must be 1 to 64 letters, digits, '-' or '_'"
              : !json_object_get(t, "url")    ? "url must be an http:// or https:// URL"
              : !json_object_get(t, "secret") ? "secret must be 16 characters or more"
                                              : NULL;
        const char *member = NULL;
        if (!why) json_object_foreach(t, k, v) {
            if ((why = member_problem(k, v, t))) {
                member = k;
                break;
            }
        }
        for (size_t j = 0; !why && j < *n_targets; j++)
            if (!strcmp((*targets)[j].name, name)) why = "name is used by another target";
        if (why) {
            int known = name_ok(name), unknown = why == unknown_member;
            fprintf(stderr, "barge server: --webhooks %s: targets[%zu]%s%s%s: %s%.40s%s%s\n",
                    path, i, known ? " (" : "", known ? name : "", known ? ")" : "",
                    unknown ? "'" : "", unknown ? member : "", unknown ? "' " : "", why);
            json_decref(doc);
            return -1;
        }
        json_t *batch = json_object_get(t, "batch"), *parallel = json_object_get(t, "parallel");
        json_t *pipeline = json_object_get(t, "pipeline");
        *targets = xrealloc(*targets, (*n_targets + 1) * sizeof **targets);
        target *x = &(*targets)[(*n_targets)++];
        memset(x, 0, sizeof *x);
        x->name = xstrdup(name);
        x->url = util_http_scheme_lower(xstrdup(json_string_value(json_object_get(t, "url"))));
        x->log_url = webhooks__url_for_log(x->url);
        x->secret = xstrdup(json_string_value(json_object_get(t, "secret")));
        x->batch = batch ? (int)json_integer_value(batch) : 1;
        x->parallel = parallel ? (int)json_integer_value(parallel) : 1;
        x->pipeline = pipeline ? (int)json_integer_value(pipeline) : 1;
        x->filter = json_object();
        if (json_object_get(t, "queue"))
            json_object_set(x->filter, "queue", json_object_get(t, "queue"));
        if (json_object_get(t, "status"))
            json_object_set(x->filter, "status", json_object_get(t, "status"));
    }
    json_decref(doc);
    return 0;
}
