/* auth_context — a request's condition keys (policy_cond.h), as IAM's request context holds
 * them for the call: the principal's (aws:PrincipalArn, aws:username for a user of
 * --credentials), the tags the call gives (aws:RequestTag/KEY, aws:TagKeys), a submission's
 * batch:ShareIdentifier, and a job definition's container keys (batch:Image, batch:Privileged,
 * batch:User, batch:LogDriver, batch:AWSLogs*).  A multi-node definition is one context a node
 * range, each holding the call's keys and that range's container's (policy.h says how a
 * statement reads several).  Values point into the request, which must outlive the context. */
#ifndef BARGE_AUTH_CONTEXT_H
#define BARGE_AUTH_CONTEXT_H
#include <jansson.h>
#include <stddef.h>

#include "server/api/policy_cond.h"

typedef struct auth_context {
    policy_ctx *ctx;
    size_t nctx;
    policy_kv *kv;    /* every context's pairs, one run each */
    size_t nkv, cap;
    char **owned;     /* keys made here (aws:RequestTag/KEY) */
    size_t nowned;
    char user[128];
} auth_context;

/* The context of AWS Batch operation op (its request req) made by principal_arn. */
void auth_context_batch(auth_context *c, const char *principal_arn, const char *op, json_t *req);
/* The context of a CloudWatch Logs call (req its body, may be NULL). */
void auth_context_logs(auth_context *c, const char *principal_arn, json_t *req);
void auth_context_free(auth_context *c);
#endif
