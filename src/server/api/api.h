/* api — the AWS Batch operations: their table, their errors and the helpers handlers share.
 *
 * A request is parsed and type-checked against the operation's shape on an HTTP thread; the
 * handler then runs on the core thread, which owns the state, so handlers never lock (the
 * CloudWatch Logs handlers, api_logs.h, read the log store on the HTTP thread instead).  A
 * handler either fills *resp and returns 0, or returns api_client_error(...) (or api_fail) and
 * changes nothing. */
#ifndef BARGE_API_H
#define BARGE_API_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/base/core.h"
#include "server/api/schema.h"

struct state;

typedef struct api_ctx {
    struct state *st; /* NULL for the CloudWatch Logs handlers, which run on HTTP threads */
    int64_t now_ms;
    int status;            /* HTTP status when err_type is set */
    const char *err_type;  /* NULL on success */
    char err_msg[600];
    struct core_call *call; /* the call being answered */
    const char *auth;       /* agents' requests: their Authorization header, or NULL */
    const char *peer;       /* agents' requests: the address they came from, or "" */
    int deferred;           /* the handler parked the call; it is answered later */
    /* An answer that is not JSON (GET /metrics): malloc'd text the call takes as its body. */
    char *text;
    size_t text_len;
    /* Or an answer object (core.h's core_obj_ops) the call takes: the events a stream polled. */
    void *obj;
    const struct core_obj_ops *obj_ops;
} api_ctx;

/* AWS's limit on the names or ARNs one Describe call takes, and on a page of its answer. */
#define API_DESCRIBE_MAX 100

/* The most vCPUs a compute environment, a job or an agent may name.  AWS documents no maximum;
 * barge counts milli-vCPUs in an int, so a bound well below INT_MAX / 1000 keeps every product
 * and sum of them exact. */
#define API_MAX_VCPUS 1000000
#define API_VCPUS_SHAPE "i(0..1000000)"

typedef int (*api_handler)(api_ctx *c, json_t *req, json_t **resp);

typedef struct api_op {
    const char *name;   /* AWS operation name, e.g. "CreateComputeEnvironment" */
    const char *method; /* "POST", "GET", "DELETE" */
    const char *path;   /* "/v1/createcomputeenvironment"; a trailing '*' takes the rest of the
                           path as the request's "resourceArn" */
    const char *shape;  /* request shape in schema notation; NULL accepts any object */
    api_handler fn;
    size_t max_body; /* 0 means the server-wide limit */
    schema *compiled;
} api_op;

/* Each module's table, ended by an entry with a NULL name. */
extern api_op api_ce_ops[], api_jq_ops[], api_jd_ops[], api_sp_ops[], api_tag_ops[],
    api_job_ops[], api_job_list_ops[], api_agent_ops[], api_agent_creds_ops[], api_misc_ops[], api_snapshot_ops[],
    api_cr_ops[], api_fleet_ops[], api_metrics_ops[], api_events_ops[], api_usage_ops[];

/* The most events one GetEvents answers (its "max"), which a webhook asks for at every poll. */
#define API_EVENTS_MAX 1000
#define API_STR_(x) #x
#define API_STR(x) API_STR_(x)

/* Installs the jobs module's hooks (job tags).  Call once before the core starts. */
void api_job_init(void);

/* Compiles every shape.  Call once before serving, after jobdef_init (jobdef.h), whose named
 * shapes the operations use. */
void api_init(void);
/* The operation for a method and path, or NULL. */
const api_op *api_route(const char *method, const char *path);

/* A core call's run function: the operation (call->arg) on the state (ctx). */
void api_run(core_call *call, void *ctx, int64_t now_ms);


/* Failures: the one way a handler reports one.  Each returns -1 so that handlers can
 * `return api_client_error(...)`.  api_fail is for the other AWS error types (a 404
 * UnknownInstanceException, CloudWatch's ResourceNotFoundException...). */
int api_fail(api_ctx *c, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int api_client_error(api_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int api_server_error(api_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Request accessors; absent members give NULL / the default. */
const char *api_str(json_t *req, const char *key);
json_int_t api_int(json_t *req, const char *key, json_int_t dflt);

/* Paging.  keys[0..n) are in the listing's stable order (cmp); reads maxResults (1..limit,
 * default limit) and nextToken from req, returns the window in *start and *end and puts nextToken
 * in resp when more remain.  The token names what is listed (what: "job-queue"), so that one
 * listing's token is refused by another. */
int api_page(api_ctx *c, json_t *req, json_t *resp, const char *what, const char *const *keys,
             size_t n, int (*cmp)(const char *, const char *), int limit, size_t *start,
             size_t *end);

/* Instance ids from agents (util_instance_id_ok); NULL passes, for members that may be absent. */
int api_check_instance_id(api_ctx *c, const char *id, const char *field);

/* Agents' requests (agent_proto.c).  api_agent_instance is the one way a handler learns which
 * instance sent a request: the instance its credential (c->auth) names, which must also be the
 * request's instanceId when it has one.  NULL after the refusal is set: 401 for a missing,
 * revoked or expired credential, 403 AccessDeniedException for a request naming another
 * instance, 404 UnknownInstanceException for an instance this server does not know.  *rotate
 * (when not NULL) is set when the answer should carry the instance's next credential.  Core
 * thread only. */
struct instance;
struct instance *api_agent_instance(api_ctx *c, json_t *req, int *rotate);
/* api_agent_instance's refusals, for a check made elsewhere (a log upload, off the core):
 * rc is an agent_cred_rc (server/base/agent_ident.h), id the instance the credential names. */
int api_agent_refuse(api_ctx *c, int rc, const char *id);
/* How far instance id's clock is behind this server's (ms; negative: ahead), from the sentAt of
 * its requests (the least delayed of its recent ones, base/agent_clock.h); 0 when this one has
 * none or the two agree within a second.  The times an agent reports are moved by as much: its
 * host's clock is its own (docs/agent-protocol.md). */
int64_t api_agent_clock_skew(json_t *req, const char *id);

/* GET /metrics's breakdown of RUNNABLE jobs is made here, every few seconds while scrapes come
 * (api_metrics.c).  Core thread. */
void api_metrics_tick(struct state *st);

/* Tags: checks a tags map (count, key and value lengths, reserved "aws:" prefix). */
int api_check_tags(api_ctx *c, json_t *tags, const char *field);

/* "name or ARN" fields.  api_key_of gives a fresh name, or NULL when v is neither a valid name
 * nor an ARN of that kind; api_name_or_arn also reports the ClientException for field. */
char *api_key_of(const char *v, const char *kind);
char *api_name_or_arn(api_ctx *c, const char *v, const char *kind, const char *field);
/* Checks a resource name (1 to 128 letters, digits, hyphens, underscores). */
int api_check_name(api_ctx *c, const char *v, const char *field);
#endif
