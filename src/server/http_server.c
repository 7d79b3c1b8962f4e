#include "server/http_server.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>


#include "common/errbody.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/sigv4.h"
#include "server/base/audit.h"
#include "common/util.h"
#include "server/base/core.h"
#include "server/base/metrics.h"
#include "server/base/ratelimit.h"
#include "server/base/workq.h"
#include "server/model/config.h"
#include "server/api/api.h"
#include "server/api/api_logs.h"
#include "server/api/auth.h"
#include "server/http_audit.h"
#include "server/http_console.h"
#include "server/http_guard.h"
#include "server/http_origin.h"
#include "server/http_other.h"
#include "server/http_scrape.h"
#include "server/http_sse.h"
#include "server/http_standby.h"
#include "server/http_tags.h"
#include "server/http_uploads.h"

enum { REQ_READING, REQ_WAITING, REQ_ANSWERED, REQ_STREAMING };

typedef struct http_req {
    core_call call; /* first member: the core hands it back to done() */
    struct MHD_Connection *conn;
    const api_op *op;
    buf body;
    size_t limit, seen;
    int phase;
    const auth_principal *who; /* who signed the request; NULL without --credentials */
    /* The answer, from the core or from the HTTP thread itself. */
    int status;
    const char *err_type;
    char *resp;
    size_t resp_len;
    /* The audit trail's: a call that changes something, and the members naming what. */
    int audited;
    json_t *audit_params;
    json_t *resp_tree; /* the core's answer as JSON, when audited (core.h keep_tree) */
    /* Log requests: served by a log thread (serve_logs), with their X-Amz-Target copied. */
    workq_item work;
    char *target;
    char *authorization; /* agents' requests: the header, for their handlers to check */
    int upload;          /* an agent's log upload, counted in uploads_unanswered */
    json_t *stream_req;  /* GET /barge/v1/events: the stream's request, once its first poll is in */
    int standby;         /* answered as a standby (X-Barge-Role: standby) */
    const char *challenge; /* a 401's WWW-Authenticate (RFC 9110 11.6.1), or NULL */
    char xml_id[37];       /* an XML answer's request id (another service's call), or "" */
} http_req;

/* How long a kept-alive connection may wait for its next request.  (Connections in all:
 * barge_cfg.max_conns.) */
#define HTTP_IDLE_TIMEOUT_S 120

static struct MHD_Daemon *daemon_;
static int bound_port;
/* The log threads (serve_logs): reads, and the agents' uploads apart, so that neither waits
 * behind the other.  Reads are bounded (a FilterLogEvents call by its scan budget), so a few
 * threads suffice; an upload mostly waits for its commit, so more of them let more uploads
 * share one commit. */
#define LOG_READ_THREADS 4
#define LOG_UPLOAD_THREADS 8
static workq *log_reads, *log_uploads;
/* How long http_stop waits for the answers of the log uploads it took (http_uploads.h). */
#define UPLOADS_DRAIN_MS 5000
static ratelimit *rates; /* --rate-limit's buckets */
static const char *tls_cert, *tls_key; /* PEM text; NULL: plain HTTP */
#define HEADER(r, name) MHD_lookup_connection_value((r)->conn, MHD_HEADER_KIND, (name))

static void set_answer(http_req *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_answer(http_req *r, int status, const char *type, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->status = status;
    r->err_type = type;
    r->xml_id[0] = '\0'; /* this answer is JSON, whatever was set before */
    r->resp = errbody_new(type, msg);
    r->resp_len = strlen(r->resp);
    r->phase = REQ_ANSWERED;
}

/* A scrape of /metrics without --metrics-token's token (http_scrape.h): 0, or -1 with the 401
 * set. */
static int scrape_allowed(http_req *r)
{
    const char *challenge = http_scrape_refused(r->conn);
    if (!challenge) return 0;
    set_answer(r, 401, "MissingAuthenticationTokenException",
               "GET /metrics: this server wants \"Authorization: Bearer TOKEN\" with the "
               "token it was given with --metrics-token");
    r->challenge = challenge;
    return -1;
}

/* A call of another AWS service, answered in its own protocol (http_other.h); 1 when so. */
static int other_service(http_req *r)
{
    util_uuid(r->xml_id);
    r->resp = http_other_service(r->conn, &r->err_type, r->xml_id);
    if (!r->resp) {
        r->xml_id[0] = '\0';
        return 0;
    }
    r->status = 400;
    r->resp_len = strlen(r->resp);
    r->phase = REQ_ANSWERED;
    return 1;
}

/* 1 when the request was answered as a standby's (http_standby.h): before routing, and
 * before any body is read. */
static int standby_answer(http_req *r, const char *method, const char *url)
{
    standby_reply a;
    if (!http_standby_reply(method, url, &a)) return 0;
    r->standby = !a.leader;
    if (a.scrape) {
        r->op = api_route("GET", url);
        if (scrape_allowed(r) < 0) return 1;
        a.body = http_standby_scrape();
    }
    r->status = a.status;
    r->err_type = a.err_type;
    r->resp = a.body;
    r->resp_len = strlen(a.body);
    r->phase = REQ_ANSWERED;
    return 1;
}

static void audit(http_req *r, const char *request_id)
{
    http_audit_call(&(http_audit_args){
        .conn = r->conn, .op = r->op, .who = r->who, .params = r->audit_params,
        .status = r->status, .err_type = r->err_type, .resp = r->resp, .resp_len = r->resp_len,
        .resp_tree = r->resp_tree, .request_id = request_id});
}

static enum MHD_Result send_answer(http_req *r)
{
    char id[37];
    if (r->xml_id[0]) memcpy(id, r->xml_id, sizeof id);
    else util_uuid(id);
    if (r->audited) audit(r, id);
    char *msg = r->err_type && !r->xml_id[0] ? errbody_header_message(r->resp, r->resp_len) : 0;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    r->resp = NULL; /* the response owns it now */
    int text = r->op && r->status == 200 && strcmp(r->op->path, "/metrics") == 0;
    /* CloudWatch Logs is AWS JSON 1.1 (typed so by AWS; its operations are POSTs to /), Batch
     * REST JSON, whatever headers a Batch call carries. */
    const char *target = !r->op || strcmp(r->op->path, "/") == 0 ? HEADER(r, "X-Amz-Target") : 0;
    int logs = target && strncmp(target, "Logs_", 5) == 0;
    MHD_add_response_header(resp, "Content-Type",
                            text           ? "text/plain; version=0.0.4; charset=utf-8"
                            : r->xml_id[0] ? "text/xml"
                            : logs         ? "application/x-amz-json-1.1"
                                           : "application/json");
    metrics_http(r->op ? r->op->name : "unknown", r->status);
    MHD_add_response_header(resp, "x-amzn-RequestId", id);
    /* Never read as a page: some answers repeat what the request said. */
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->err_type) MHD_add_response_header(resp, "x-amzn-ErrorType", r->err_type);
    if (msg) MHD_add_response_header(resp, "x-amzn-ErrorMessage", msg);
    free(msg);
    if (r->standby) MHD_add_response_header(resp, "X-Barge-Role", "standby");
    if (r->challenge) MHD_add_response_header(resp, "WWW-Authenticate", r->challenge);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Runs on the core thread once the batch holding this call is durable. */
static void core_done(core_call *call)
{
    http_req *r = (http_req *)call;
    /* The first answer of an event stream (http_sse.c reads the later ones as objects). */
    core_call_flatten(call);
    r->status = call->status;
    r->err_type = call->err_type;
    r->resp = call->body;
    r->resp_len = call->body_len;
    call->body = NULL;
    r->resp_tree = call->tree;
    call->tree = NULL;
    r->phase = REQ_ANSWERED;
    MHD_resume_connection(r->conn);
}

/* Content-Length headers: the first, and whether another differs from it. */
typedef struct {
    const char *first;
    int conflict;
} lengths;

static enum MHD_Result add_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    lengths *l = cls;
    if (strcasecmp(key, "Content-Length") != 0 || !value) return MHD_YES;
    if (!l->first) l->first = value;
    else if (strcmp(l->first, value) != 0) l->conflict = 1;
    return MHD_YES;
}

/* What a request's signature is checked over: every header, and the query re-encoded. */
typedef struct signed_parts {
    sigv4_header *h;
    size_t n, cap;
    buf query;
} signed_parts;

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    signed_parts *sp = cls;
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? 2 * sp->cap : 16;
        sp->h = xrealloc(sp->h, sp->cap * sizeof *sp->h);
    }
    sp->h[sp->n++] = (sigv4_header){key, value ? value : ""};
    return MHD_YES;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    signed_parts *sp = cls;
    if (sp->query.len) buf_puts(&sp->query, "&");
    if (!value) value = "";
    sigv4_uri_encode(&sp->query, key, strlen(key), 0);
    buf_puts(&sp->query, "=");
    sigv4_uri_encode(&sp->query, value, strlen(value), 0);
    return MHD_YES;
}

/* With --credentials: the request's SigV4 signature, recomputed (auth.h). */
static int verify_signature(http_req *r, const char *url, const char *method,
                            const char *service)
{
    signed_parts sp = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header, &sp);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, &sp);
    size_t n = strlen(r->op->path);
    auth_request ar = {.method = method, .path = url,
                       .label_at = r->op->path[n - 1] == '*' ? n - 1 : 0,
                       .query = sp.query.data, .headers = sp.h, .nheaders = sp.n,
                       .body = r->body.data, .body_len = r->body.len, .service = service,
                       .now = time(NULL)};
    auth_refusal why;
    int rc = auth_verify(&ar, &r->who, &why);
    if (rc < 0) set_answer(r, why.status, why.type, "%s", why.msg);
    free(sp.h);
    buf_free(&sp.query);
    return rc;
}

/* --rate-limit and barge_rate_limit: one token of the caller's bucket, after the signature is
 * verified (so that nobody drains another's bucket with requests signed by a key they do not
 * hold).  The caller is the access key; without --credentials, where any key is taken, the
 * client's address.  Answered as AWS Batch throttles (429 TooManyRequestsException) and as
 * CloudWatch Logs does (400 ThrottlingException); the SDKs retry both after a backoff. */
static int check_rate(http_req *r, const char *service)
{
    const ratelimit_spec *spec = r->who ? auth_principal_rate(r->who) : NULL;
    if (!spec) spec = &barge_cfg.rate_limit;
    if (spec->rate <= 0) return 0;
    char key[INET6_ADDRSTRLEN + 140];
    if (r->who) {
        snprintf(key, sizeof key, "key %s", auth_principal_key(r->who));
    } else {
        char ip[INET6_ADDRSTRLEN];
        http_client_ip(r->conn, ip);
        snprintf(key, sizeof key, "address %s", ip);
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (ratelimit_take(rates, key, spec, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec))
        return 0;
    if (strcmp(service, "logs") == 0)
        set_answer(r, 400, "ThrottlingException", "Rate exceeded");
    else
        set_answer(r, 429, "TooManyRequestsException", "Too Many Requests");
    return -1;
}

static int check_auth(http_req *r, const char *url, const char *method, const char *service)
{
    /* Health checks come from supervisors and load balancers, which do not sign requests. */
    if (strcmp(r->op->path, "/healthz") == 0) return 0;
    /* Nor does Prometheus: a scrape carries --metrics-token, when the server has one. */
    if (strcmp(r->op->path, "/metrics") == 0) return scrape_allowed(r);
    const char *h = HEADER(r, "Authorization");
    if (strncmp(r->op->path, "/barge/v1/agent/", 16) == 0) {
        /* A --dev server takes any join token: what a browser was made to send is refused
         * (agents send neither header; every browser's fetch or form sends one). */
        if (barge_cfg.dev && (HEADER(r, "Origin") || HEADER(r, "Sec-Fetch-Site")))
            return set_answer(r, 403, "AccessDeniedException", "%s", http_origin_agent_refusal),
                   -1;
        /* Agents present a join token or their instance's credential, which their handlers
         * check (server/base/agent_ident.h): only they know what the request concerns. */
        r->authorization = h ? xstrdup(h) : NULL;
        r->call.auth = r->authorization;
        char ip[INET6_ADDRSTRLEN];
        http_client_ip(r->conn, ip);
        snprintf(r->call.peer, sizeof r->call.peer, "%s", ip);
        return 0;
    }
    if (auth_enabled())
        return verify_signature(r, url, method, service) < 0 ? -1 : check_rate(r, service);
    const char *page = http_origin_refusal(HEADER(r, "Host"), HEADER(r, "Origin"),
                                           HEADER(r, "Sec-Fetch-Site"));
    if (page) return set_answer(r, 403, "AccessDeniedException", "%s", page), -1;
    if (!h) {
        if (barge_cfg.dev) return check_rate(r, service);
        set_answer(r, 403, "MissingAuthenticationTokenException",
                   "Authorization header: requests must be signed with AWS Signature Version 4 "
                   "(start the server with --dev to accept unsigned requests)");
        return -1;
    }
    sigv4_auth auth;
    char err[256];
    if (sigv4_parse(h, &auth, err, sizeof err) < 0) {
        set_answer(r, 403, "IncompleteSignatureException", "%s", err);
        return -1;
    }
    return check_rate(r, service);
}

/* A call of the query protocol (STS's GetCallerIdentity, or another service's), answered
 * here in its XML (http_other.h), refusals too. */
static void serve_query(http_req *r, const char *url, const char *method)
{
    r->op = http_other_read_op(r->body.data, r->body.len);
    int refused = r->op != &http_other_query_op && check_auth(r, url, method, "sts") < 0;
    util_uuid(r->xml_id); /* after check_auth: a refusal's set_answer clears it */
    char *xml = refused ? http_other_refusal(r->resp, r->resp_len, r->err_type, r->xml_id)
                        : http_other_query(r->body.data, r->body.len, r->who, r->xml_id,
                                           &r->status, &r->err_type);
    free(r->resp);
    r->resp = xml;
    r->resp_len = strlen(xml);
    r->phase = REQ_ANSWERED;
}

/* The whole request is in: build the call and hand it to the core. */
static void dispatch(http_req *r, const char *url, const char *method)
{
    r->audited = http_audit_wanted(r->op);
    if (check_auth(r, url, method, "batch") < 0) return;
    json_t *req;
    int stream = strcmp(r->op->path, "/barge/v1/events") == 0;
    if (stream) {
        const char *bad = http_sse_request(r->conn, &req);
        if (bad) {
            json_decref(req);
            set_answer(r, 400, "ClientException", "%s", bad);
            return;
        }
    } else if (r->body.len == 0) {
        req = json_object();
    } else {
        json_error_t e;
        req = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &e);
        if (!req) {
            set_answer(r, 400, "ClientException",
                       "request body: not valid JSON (line %d, column %d: %s)", e.line,
                       e.column, e.text);
            return;
        }
        if (!json_is_object(req)) {
            json_decref(req);
            set_answer(r, 400, "ClientException", "request body: expected a JSON object");
            return;
        }
    }
    size_t n = strlen(r->op->path);
    if (r->op->path[n - 1] == '*') {
        char why[160];
        if (http_tags_members(r->conn, method, url + n - 1, req, why, sizeof why) < 0) {
            json_decref(req);
            set_answer(r, 400, "ClientException", "%s", why);
            return;
        }
    }
    if (r->audited) r->audit_params = audit_params(req);
    char err[600];
    if (schema_check(r->op->compiled, req, err, sizeof err) < 0) {
        json_decref(req);
        set_answer(r, 400, "ClientException", "%s", err);
        return;
    }
    auth_refusal why;
    if (auth_authorize(r->who, r->op->name, req, &why) < 0) {
        json_decref(req);
        set_answer(r, why.status, why.type, "%s", why.msg);
        return;
    }
    if (stream) {
        /* The first poll answers at once; the stream starts from it (on_request). */
        r->stream_req = req;
        req = json_deep_copy(req);
        json_object_set_new(req, "wait", json_integer(0));
    }
    r->call.run = api_run;
    r->call.arg = r->op;
    r->call.req = req;
    r->call.done = core_done;
    r->call.keep_tree = r->audited;
    r->phase = REQ_WAITING;
    /* Suspend before handing over: the core may answer before this callback returns. */
    MHD_suspend_connection(r->conn);
    core_submit(&r->call);
}

/* Runs on a log thread: the whole answer from the log store, then the connection resumes. */
static void logs_run(workq_item *it)
{
    http_req *r = (http_req *)((char *)it - offsetof(http_req, work));
    api_logs_answer a;
    api_logs_serve(r->op, r->target, r->authorization, r->body.data, r->body.len, &a);
    r->status = a.status;
    r->err_type = a.err_type;
    r->resp = a.body;
    r->resp_len = a.len;
    r->phase = REQ_ANSWERED;
    MHD_resume_connection(r->conn);
}

/* Log requests are answered from the log store, which is safe to use from any thread; they
 * never queue behind the core's work, nor add to it.  They are not answered on this thread
 * either: a read may take up to its scan budget and an upload waits for its commit, and every
 * connection this thread polls (agents' exchanges, /healthz) would wait as long.  The
 * connection is suspended and a log thread answers. */
static void serve_logs(http_req *r, const char *url, const char *method)
{
    /* Log reads are signed like the rest of the AWS API; the agent's upload carries its
     * instance's credential, which the upload's handler checks. */
    if (check_auth(r, url, method, "logs") < 0) return;
    const char *target = HEADER(r, "X-Amz-Target");
    auth_refusal why;
    if (auth_authorize_logs(r->who, target, r->body.data, r->body.len, &why) < 0) {
        set_answer(r, why.status, why.type, "%s", why.msg);
        return;
    }
    int upload = strcmp(r->op->path, "/") != 0;
    if (upload) {
        r->upload = http_uploads_take();
        if (!r->upload) {
            set_answer(r, 503, "ServiceUnavailableException",
                       "the server is shutting down; send these log events again");
            return;
        }
    }
    r->target = target ? xstrdup(target) : NULL;
    r->work.run = logs_run;
    r->phase = REQ_WAITING;
    /* Suspend before handing over: the answer may come before this callback returns. */
    MHD_suspend_connection(r->conn);
    workq_submit(upload ? log_uploads : log_reads, &r->work);
}

/* A body over its operation's limit.  RegisterJobDefinition's limit is the definition's size,
 * refused in AWS's words first (miniwdl matches them to explain what to do). */
static void too_large(http_req *r, unsigned long long size)
{
    if (strcmp(r->op->name, "RegisterJobDefinition") == 0)
        set_answer(r, 400, "ClientException",
                   "JobDefinition size must be less than %zu bytes: the request body is %llu "
                   "bytes; make the definition smaller (a long command or environment can go "
                   "in a file the job reads)", r->limit, size);
    else
        set_answer(r, 400, "ClientException",
                   "request body: %llu bytes is over the %zu-byte limit of %s%s", size, r->limit,
                   r->op == &http_other_query_op ? "this server" : r->op->name,
                   strcmp(r->op->name, "SubmitJob") == 0
                       ? "; make the job's name, command, environment, parameters and tags "
                         "smaller (what is long can go in a file the job reads)"
                       : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    http_req *r = *con_cls;
    const char *fault = http_guard_fault(r);
    if (!r || fault) {
        r = xcalloc(1, sizeof *r);
        r->conn = conn;
        *con_cls = r;
        if (fault) {
            set_answer(r, 400, "ClientException", "%.10s: %s", method, fault);
            return send_answer(r);
        }
        if (http_guard_late(conn)) {
            /* Headers that took longer than the whole request may: answered, and the
             * connection closed without reading a body. */
            set_answer(r, 408, "RequestTimeoutException",
                       "the request did not arrive whole within %d seconds (the server's "
                       "--request-timeout)", barge_cfg.request_timeout_s);
            return send_answer(r);
        }
        /* A standby reads no body: the answer goes now and the connection closes after it. */
        if (standby_answer(r, method, url)) return send_answer(r);
        /* The console's files: static, unsigned, answered here (http_console.h). */
        if (http_console_wants(method, url)) {
            r->phase = REQ_ANSWERED;
            return http_console_answer(conn, url);
        }
        r->op = api_route(method, url);
        /* Load balancers probe with HEAD too, and so may a scraper before it scrapes:
         * libmicrohttpd sends the answer's headers alone. */
        if (!r->op && strcmp(method, "HEAD") == 0 &&
            (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0))
            r->op = api_route("GET", url);
        if (!r->op) /* log reads and the agent's log upload: see serve_logs */
            r->op = api_logs_route(
                method, url, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target"));
        if (!r->op) r->op = http_other_route(conn, method, url); /* see serve_query */
        if (!r->op) {
            if (strcmp(method, "POST") == 0 && strcmp(url, "/") == 0 &&
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target"))
                set_answer(r, 400, "UnknownOperationException",
                           "X-Amz-Target '%.100s': this operation is not served by barge",
                           MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target"));
            else if (!other_service(r))
                set_answer(r, 400, "ClientException",
                           "%.10s %.200s: no such operation in the AWS Batch API served by "
                           "barge; see the README's table of API coverage", method, url);
        }
        r->limit = r->op && r->op->max_body ? r->op->max_body : barge_cfg.max_body;
        /* libmicrohttpd reads the first of several Content-Length headers; a proxy in front
         * may read another and see a different request, so two that differ are refused. */
        lengths l = {0};
        MHD_get_connection_values(conn, MHD_HEADER_KIND, add_length, &l);
        size_t head = http_guard_head_bytes(conn, url);
        if (l.conflict || head > HTTP_GUARD_HEAD_MAX) {
            free(r->resp); /* an unknown operation's answer, if any: this one goes first */
            set_answer(r, 400, "ClientException", l.conflict ? "Content-Length: the request "
                       "has several that differ; send one" : "request line and headers: %zu "
                       "bytes, over the %d this server takes (untag fewer keys a call)",
                       head, HTTP_GUARD_HEAD_MAX);
            r->audited = 0;
            return send_answer(r);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        /* Over the limit: read and dropped up to HTTP_GUARD_DRAIN_MAX, then answered (below). */
        if (r->op && cl && strtoull(cl, NULL, 10) > r->limit &&
            strtoull(cl, NULL, 10) > HTTP_GUARD_DRAIN_MAX) {
            too_large(r, strtoull(cl, NULL, 10));
            /* Answer now; libmicrohttpd closes the connection without reading the body. */
            return send_answer(r);
        }
        return MHD_YES;
    }
    /* Part of a body after the request's time is up (http_guard.h): libmicrohttpd takes no
     * answer in the middle of a body, so the connection is closed. */
    if (r->phase == REQ_READING && http_guard_late(conn)) return MHD_NO;
    if (*upload_data_size) {
        r->seen += *upload_data_size;
        if (r->phase == REQ_READING && r->seen <= r->limit)
            buf_append(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->phase == REQ_READING) {
        http_guard_received(conn);
        if (r->seen > r->limit)
            too_large(r, r->seen);
        else if (r->op == &http_other_query_op)
            serve_query(r, url, method);
        else if (!r->op->fn)
            serve_logs(r, url, method);
        else
            dispatch(r, url, method);
        if (r->phase == REQ_WAITING) return MHD_YES;
    }
    if (r->phase == REQ_ANSWERED && r->resp && r->stream_req && r->status == 200) {
        r->phase = REQ_STREAMING;
        metrics_http(r->op->name, 200);
        json_t *req = r->stream_req;
        r->stream_req = NULL;
        return http_sse_start(conn, r->op, req, r->who, r->resp, r->resp_len);
    }
    if (r->phase == REQ_ANSWERED && r->resp) return send_answer(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_guard_answered(conn);
    http_req *r = *con_cls;
    if (!r || http_guard_fault(r)) return;
    /* Its answer went out, or its connection is gone: either way http_stop need not wait. */
    if (r->upload) http_uploads_answered();
    auth_principal_release(r->who); /* temporary credentials may be revoked from now on */
    buf_free(&r->body);
    free(r->resp);
    free(r->target);
    free(r->authorization);
    json_decref(r->audit_params);
    json_decref(r->resp_tree);
    json_decref(r->stream_req);
    free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The last thing libmicrohttpd said on this thread: when it cannot start, why (the socket it
 * could not make or bind, "Too many open files" or "Address already in use"). */
static __thread char last_mhd_said[512];

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    log_vline(line, sizeof line, fmt, ap);
    if (strncmp(line, "Server reached connection limit", 31) == 0) {
        http_guard_refused(barge_cfg.max_conns_per_addr, barge_cfg.max_conns);
        return;
    }
    snprintf(last_mhd_said, sizeof last_mhd_said, "%s", line);
    /* A client causes these at will (each request it drops half-sent): one every 10 s. */
    static log_limit limit = LOG_LIMIT_INIT;
    log_limited(&limit, 10000, LOG_WARN, "http: %s", line);
}

int http_use_tls(const char *cert_pem, const char *key_pem, char **err)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        *err = xasprintf("--tls-cert: this libmicrohttpd (%s) was built without HTTPS support; "
                         "install one built with GnuTLS (Debian's is)", MHD_get_version());
        return -1;
    }
    tls_cert = cert_pem;
    tls_key = key_pem;
    return 0;
}

int http_start(const char *host, int port, int threads, char **err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char portstr[16];
    http_uploads_open(); /* a daemon started again after http_stop takes uploads again */
    http_origin_init(host, barge_cfg.remote_url);
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0 || !ai) {
        *err = xasprintf("--listen: cannot resolve host '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    if (!rates) rates = ratelimit_new(0);
    if (http_guard_start(barge_cfg.request_timeout_s, HTTP_IDLE_TIMEOUT_S, err) < 0) {
        freeaddrinfo(ai);
        return -1;
    }
    if (!(log_reads = workq_start(LOG_READ_THREADS, "log reads", err)) ||
        !(log_uploads = workq_start(LOG_UPLOAD_THREADS, "log uploads", err))) {
        freeaddrinfo(ai);
        workq_free(log_reads);
        log_reads = NULL;
        http_guard_stop();
        return -1;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (tls_cert) flags |= MHD_USE_TLS;
    /* With TLS the certificate options come first; without, the list ends there.  TLS 1.2 is
     * the oldest version offered, as on AWS's endpoints. */
    last_mhd_said[0] = '\0';
    daemon_ = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(threads > 1 ? threads : 1), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, (unsigned)barge_cfg.max_conns,
        /* One address may not take all of them (docs/operations.md). */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)barge_cfg.max_conns_per_addr,
        MHD_OPTION_NOTIFY_CONNECTION, http_guard_notify, NULL, MHD_OPTION_URI_LOG_CALLBACK,
        http_guard_request_line, NULL,
        /* libmicrohttpd clears a connection's memory pool for every request; AWS requests and
         * their headers are small, and bodies stream through in pieces, so 16 KiB (instead of
         * 32) halves that cost on the submit path. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, tls_key, MHD_OPTION_HTTPS_PRIORITIES,
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!daemon_) {
        http_guard_stop();
        workq_free(log_reads);
        workq_free(log_uploads);
        log_reads = log_uploads = NULL;
        *err = tls_cert ? xasprintf("cannot serve HTTPS on %s:%d: the port is in use, or GnuTLS "
                                    "refused the certificate or key (see the line above)",
                                    host, port)
                        : last_mhd_said[0]
                            ? xasprintf("cannot listen on %s:%d: %s", host, port, last_mhd_said)
                            : xasprintf("cannot listen on %s:%d (is the port in use?)", host, port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    bound_port = info ? info->port : port;
    return 0;
}

int http_port(void)
{
    return bound_port;
}

void http_quiesce(void)
{
    if (daemon_) MHD_quiesce_daemon(daemon_);
}

void http_stop_uploads(void)
{
    /* An upload that comes in from now on is refused (uploads_closed), and its agent sends it
     * to the next server. */
    http_uploads_close();
    workq_stop(log_uploads);
    /* Every upload taken is stored (or failed) by now, and its connection resumed: the daemon
     * sends the answers while this waits. */
    int left = daemon_ ? http_uploads_drain(UPLOADS_DRAIN_MS) : 0;
    if (left)
        log_warn("stopping with %d stored log upload%s unanswered: their agents may send them "
                 "again", left, left == 1 ? "" : "s");
}

void http_stop(void)
{
    /* The log threads answer what they hold before the daemon goes, since a connection is
     * resumed only while the daemon lives; a log read that comes in meanwhile is answered on
     * its HTTP thread. */
    http_stop_uploads();
    workq_stop(log_reads);
    if (daemon_) MHD_stop_daemon(daemon_);
    daemon_ = NULL;
    http_guard_stop();
    workq_free(log_reads);
    workq_free(log_uploads);
    log_reads = log_uploads = NULL;
    ratelimit_free(rates);
    rates = NULL;
}
