#include "server/api/api.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/errbody.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/arn.h"

static api_op *const tables[] = {api_ce_ops,  api_jq_ops,    api_jd_ops,
                                 api_sp_ops,  api_tag_ops,   api_job_ops, api_job_list_ops,
                                 api_agent_ops, api_agent_creds_ops, api_misc_ops,
                                 api_snapshot_ops, api_cr_ops, api_fleet_ops,
                                 api_metrics_ops, api_events_ops, api_usage_ops};
#define N_TABLES (sizeof tables / sizeof tables[0])

void api_init(void)
{
    /* Shapes shared by several operations. */
    schema_define("Tags", "m<s>");
    schema_define("Strings", "[s]");
    for (size_t t = 0; t < N_TABLES; t++)
        for (api_op *op = tables[t]; op->name; op++)
            op->compiled = schema_compile(op->shape ? op->shape : "{}");
}

const api_op *api_route(const char *method, const char *path)
{
    for (size_t t = 0; t < N_TABLES; t++) {
        for (const api_op *op = tables[t]; op->name; op++) {
            if (strcmp(op->method, method) != 0) continue;
            size_t n = strlen(op->path);
            if (op->path[n - 1] == '*') {
                if (strncmp(op->path, path, n - 1) == 0) return op;
            } else if (strcmp(op->path, path) == 0) {
                return op;
            }
        }
    }
    return NULL;
}

static int vfail(api_ctx *c, int status, const char *type, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int vfail(api_ctx *c, int status, const char *type, const char *fmt, va_list ap)
{
    c->status = status;
    c->err_type = type;
    vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
    return -1;
}

int api_fail(api_ctx *c, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, status, type, fmt, ap);
    va_end(ap);
    return -1;
}

void api_run(core_call *call, void *ctx, int64_t now_ms)
{
    const api_op *op = call->arg;
    api_ctx c = {.st = ctx, .now_ms = now_ms, .call = call, .auth = call->auth,
                 .peer = call->peer};
    json_t *resp = NULL;
    int rc = op->fn(&c, call->req, &resp);
    if (rc == 0 && !c.err_type && c.deferred) {
        /* The handler keeps the call (a long poll) and answers it with core_reply later. */
        json_decref(resp);
        core_park(call);
        return;
    }
    if (rc == 0 && !c.err_type && c.obj) {
        json_decref(resp);
        free(c.text);
        core_answer_obj(call, c.obj, c.obj_ops);
        return;
    }
    if (c.obj) c.obj_ops->free(c.obj);
    if (rc == 0 && !c.err_type && c.text) {
        json_decref(resp);
        core_answer_text(call, c.text, c.text_len);
        return;
    }
    free(c.text);
    if (rc == 0 && !c.err_type) {
        core_answer(call, resp ? resp : json_object());
        return;
    }
    json_decref(resp);
    if (!c.err_type) api_server_error(&c, "the %s handler failed without a reason", op->name);
    core_answer_error(call, c.status, c.err_type, c.err_msg);
}

int api_client_error(api_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, 400, "ClientException", fmt, ap);
    va_end(ap);
    return -1;
}

int api_server_error(api_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, 500, "ServerException", fmt, ap);
    va_end(ap);
    return -1;
}

const char *api_str(json_t *req, const char *key)
{
    return json_string_value(json_object_get(req, key));
}

int api_check_instance_id(api_ctx *c, const char *id, const char *field)
{
    if (!id || util_instance_id_ok(id)) return 0;
    return api_client_error(c, "%s: an instance id is 1 to %d letters, digits, '-', '_' or '.' "
                               "(got %zu characters)", field, UTIL_INSTANCE_ID_MAX, strlen(id));
}

json_int_t api_int(json_t *req, const char *key, json_int_t dflt)
{
    json_t *v = json_object_get(req, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

int api_page(api_ctx *c, json_t *req, json_t *resp, const char *what, const char *const *keys,
             size_t n, int (*cmp)(const char *, const char *), int limit, size_t *start,
             size_t *end)
{
    json_int_t max = api_int(req, "maxResults", limit);
    if (max < 1 || max > limit)
        return api_client_error(c, "maxResults: must be between 1 and %d (got %lld)", limit,
                                (long long)max);
    size_t first = 0, wlen = strlen(what);
    const char *token = api_str(req, "nextToken");
    if (token && *token) {
        /* A token is the hex of what is listed and the last key of the previous page, so a
         * listing resumes correctly even when items were added or removed in between. */
        char *after = util_unhex(token);
        if (!after || strncmp(after, what, wlen) != 0 || after[wlen] != ':') {
            free(after);
            return api_client_error(c, "nextToken: '%.64s' is not a token this server issued "
                                       "for this listing; pass the nextToken of the previous "
                                       "page unchanged", token);
        }
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cmp(keys[mid], after + wlen + 1) <= 0) lo = mid + 1;
            else hi = mid;
        }
        first = lo;
        free(after);
    }
    size_t last = first + (size_t)max < n ? first + (size_t)max : n;
    *start = first;
    *end = last;
    if (last < n && last > first) {
        char *text = xasprintf("%s:%s", what, keys[last - 1]);
        size_t len = strlen(text);
        char *hex = xmalloc(2 * len + 1);
        util_hex(text, len, hex);
        json_object_set_new(resp, "nextToken", json_string(hex));
        free(hex);
        free(text);
    }
    return 0;
}

int api_check_tags(api_ctx *c, json_t *tags, const char *field)
{
    if (!tags) return 0;
    if (json_object_size(tags) > 50)
        return api_client_error(c, "%s: at most 50 tags are allowed (got %zu)", field,
                                json_object_size(tags));
    const char *k;
    json_t *v;
    json_object_foreach(tags, k, v) {
        /* AWS counts characters, not bytes: 256 of é are 512 bytes and allowed. */
        size_t kl = util_utf8_chars(k), vl = util_utf8_chars(json_string_value(v));
        if (kl < 1 || kl > 128)
            return api_client_error(c, "%s: tag key '%.40s' must be 1 to 128 characters long",
                                    field, k);
        if (vl > 256)
            return api_client_error(c, "%s: the value of tag '%.40s' must be at most 256 "
                                       "characters long", field, k);
        if (strncasecmp(k, "aws:", 4) == 0) /* AWS:, Aws: too */
            return api_client_error(c, "%s: tag keys starting with 'aws:' (in any case) are reserved (got "
                                       "'%.40s')", field, k);
    }
    return 0;
}

char *api_key_of(const char *v, const char *kind)
{
    if (!v) return NULL;
    if (strncmp(v, "arn:", 4) == 0) return arn_resource(v, kind);
    return arn_name_valid(v) ? xstrdup(v) : NULL;
}

char *api_name_or_arn(api_ctx *c, const char *v, const char *kind, const char *field)
{
    char *k = api_key_of(v, kind);
    if (!k) {
        if (v && strncmp(v, "arn:", 4) == 0)
            api_client_error(c, "%s: '%.200s' is not a %s ARN (arn:aws:batch:REGION:ACCOUNT:%s/NAME)",
                             field, v, kind, kind);
        else
            api_client_error(c, "%s: '%.200s' is not a valid name or ARN; names are 1 to 128 "
                                "letters, digits, hyphens and underscores", field, v ? v : "");
    }
    return k;
}

int api_check_name(api_ctx *c, const char *v, const char *field)
{
    if (arn_name_valid(v)) return 0;
    return api_client_error(c, "%s: '%.200s' is not a valid name; use 1 to 128 letters, digits, "
                               "hyphens and underscores", field, v);
}
