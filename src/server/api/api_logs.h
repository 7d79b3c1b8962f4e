/* api_logs — job logs over HTTP: the CloudWatch Logs operations that read them, and the agent's
 * upload (POST /barge/v1/agent/logs, docs/agent-protocol.md).
 *
 * CloudWatch Logs speaks JSON 1.1: POST / with X-Amz-Target: Logs_20140328.<Operation>.  barge
 * serves GetLogEvents, FilterLogEvents, DescribeLogStreams and DescribeLogGroups over the groups
 * the log store holds (/aws/batch/job, and those job definitions name with awslogs-group); any
 * other target is answered with UnknownOperationException.
 *
 * Both kinds of request are answered on a log thread of the HTTP front end (http_server.c), not
 * on the thread that read them, nor on the core's: they use the log store, which is safe to call
 * from any thread, and never the core, so reading or shipping logs never delays the scheduler,
 * nor the agents' exchanges and health checks that the HTTP threads carry. */
#ifndef BARGE_API_LOGS_H
#define BARGE_API_LOGS_H
#include <stddef.h>

#include "server/base/logstore.h"
#include "server/api/api.h"

typedef struct api_logs_answer {
    int status;
    const char *err_type; /* NULL on success; otherwise also the x-amzn-ErrorType header */
    char *body;           /* JSON, malloc'd; the caller frees it */
    size_t len;
} api_logs_answer;

/* Keeps the log store the handlers use and compiles their shapes.  Call once before serving. */
void api_logs_init(logstore *ls);
/* The operation standing for a request served here, or NULL for the rest: it gives the HTTP
 * front end a name, a path and a body limit, and has no handler (fn is NULL), since these
 * requests go to api_logs_serve rather than to the core.  target is the X-Amz-Target header, or
 * NULL. */
const api_op *api_logs_route(const char *method, const char *url, const char *target);
/* Answers a whole request of a route api_logs_route gave.  The caller has checked the AWS
 * signature of a CloudWatch operation; the agent's upload is checked here against its
 * instance's credential, which authorization (the request's Authorization header, or NULL)
 * carries: an instance writes only to its own attempts' streams. */
void api_logs_serve(const api_op *op, const char *target, const char *authorization,
                    const char *body, size_t len, api_logs_answer *out);

/* How a request's body is read, by its handler and by whatever authorizes it (auth_rules.c):
 * the two must read the same members, or a body one of them cannot read is authorized on what
 * the other does not act on.  Job output may hold NUL bytes, which JSON carries as \u0000. */
#define API_LOGS_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
/* The group that v names (a log group name, or its ARN with or without the ":*" suffix) into
 * out; -1 when v is an ARN of another region or account, or no valid group name. */
int api_logs_group_named(const char *v, char out[LOGSTORE_NAME_MAX + 1]);
#endif
