/* auth — who signed a request, and whether that principal may make it.
 *
 * Keys come from an AWS shared-credentials file (`barge server --credentials FILE`), one
 * section a principal: aws_access_key_id, aws_secret_access_key, an optional aws_session_token
 * (then every request of that key must carry it, as temporary credentials do), and barge_policy,
 * the names of the policies that apply to it (built in: admin, submit, read; others from
 * `--policies FILE`, a JSON object of names and IAM policy documents).  docs/credentials.md says
 * how to write both.
 *
 * auth_verify recomputes a request's Signature Version 4 signature as AWS does and compares it in
 * constant time; signing keys are cached per key, day, region and service.  auth_authorize
 * evaluates the principal's policies for the operation's IAM action and the resources AWS names
 * for it (auth_rules.c holds that table).  Refusals are AWS's error types and messages, and
 * never hold a secret, a token or a signature.
 *
 * The keys and policies are loaded at start-up and again by auth_reload (the server's SIGHUP):
 * a reload reads both files into a new set and puts it in place in one step, or, when either
 * file is wrong, keeps the set in force.  A principal auth_verify returns is held (with the set
 * it came from) until auth_principal_release, so a reload never frees one in use.  Any HTTP
 * thread may call these; the key cache has a lock of its own. */
#ifndef BARGE_AUTH_H
#define BARGE_AUTH_H
#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "common/sigv4.h"
#include "server/api/policy.h"
#include "server/base/ratelimit.h"

typedef struct auth_principal auth_principal;

/* Reads the credentials file and, if not NULL, the policies file.  0, or -1 with a sentence in
 * *err (malloc'd) that names the file, the line or section, and what to write instead. */
int auth_load(const char *credentials_file, const char *policies_file, char **err);
/* Reads the files auth_load read again and, if both are right, puts what they say in force for
 * every request from now on.  0 (also when no credentials file was given: nothing to reload),
 * or -1 with a sentence in *err (malloc'd) naming the file and line, the old keys staying. */
int auth_reload(char **err);
/* Whether keys are checked (a credentials file was loaded). */
int auth_enabled(void);
size_t auth_principal_count(void);
void auth_free(void);

/* The principal's IAM ARN, arn:aws:iam::ACCOUNT:user/NAME. */
const char *auth_principal_arn(const auth_principal *p);
/* Its access key id. */
const char *auth_principal_key(const auth_principal *p);
/* Its barge_rate_limit, or NULL when it has none (then --rate-limit applies). */
const ratelimit_spec *auth_principal_rate(const auth_principal *p);
/* Drops the hold auth_verify took for a request on who, once the request is answered (its
 * audit record written): on the keys it came from, or, for a principal made at run time, the
 * hold its maker counts.  NULL is allowed. */
void auth_principal_release(const auth_principal *who);

/* A refusal: the HTTP status, AWS's error type and a message that is safe to show. */
typedef struct auth_refusal {
    int status;
    const char *type;
    char msg[700];
} auth_refusal;

/* One request as the HTTP front end received it. */
typedef struct auth_request {
    const char *method;
    const char *path;        /* percent-decoded, as libmicrohttpd hands it */
    size_t label_at;         /* where a URI label (/v1/tags/{resourceArn}) starts, or 0 */
    const char *query;       /* re-encoded key=value pairs joined by '&', or NULL */
    const sigv4_header *headers; /* every header received, in order */
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *service;     /* what the endpoint serves: "batch" or "logs" */
    time_t now;
} auth_request;

/* Checks the request's signature: 0 with *who set (and held: auth_principal_release), or -1
 * with why filled. */
int auth_verify(const auth_request *r, const auth_principal **who, auth_refusal *why);

/* Whether who may make the AWS Batch operation op_name with request req (checked against its
 * shape already): 0, or -1 with a 403 AccessDeniedException in why. */
int auth_authorize(const auth_principal *who, const char *op_name, json_t *req,
                   auth_refusal *why);
/* The same for a CloudWatch Logs request: target is its X-Amz-Target, body its JSON. */
int auth_authorize_logs(const auth_principal *who, const char *target, const char *body,
                        size_t len, auth_refusal *why);
/* Whether a call who was allowed to make when it began (an event stream, which lasts) would
 * still be allowed now: its key still in force, with the same secret (not removed or changed
 * by a reload; temporary credentials not revoked or expired), and the policies in force now
 * allowing op_name on req.  0, or -1.  NULL (keys not checked) is allowed. */
int auth_still_allowed(const auth_principal *who, const char *op_name, json_t *req, time_t now);

/* Used by auth_rules.c: whether who's policies allow action on every resource, for a request
 * of those condition contexts (auth_context.h; NULL and 0 for none); 0, or -1 with the
 * AccessDeniedException for the first resource refused. */
int auth_check(const auth_principal *who, const char *action, const char *const *resources,
               size_t n, const policy_ctx *ctxs, size_t nctx, auth_refusal *why);

/* ---- Principals made at run time (auth_temp.h) ------------------------------------------ */

/* A principal that is not in --credentials: its requests must carry token (temporary
 * credentials always have one), and its ARN is arn as given.  owner is the maker's record of
 * it, handed back by auth_principal_owner; it marks the principal as one made at run time.  Its
 * policies are those named, as the keys in force at each call define them (after a reload that
 * took a name away, that name allows nothing). */
auth_principal *auth_principal_new(const char *arn, const char *access_key, const char *secret,
                                   const char *token, const char *const *policy_names,
                                   size_t npolicies, void *owner);
void auth_principal_free(auth_principal *p);
void *auth_principal_owner(const auth_principal *p);
/* Whether a barge_policy line could name this policy now (built in, or of --policies). */
int auth_policy_known(const char *name);

/* Where auth_verify looks for a key that --credentials does not hold.  find returns the
 * principal with a reference held for the request, or NULL (with *expired set when the key
 * exists but its credentials have expired); release drops such a reference. */
typedef struct auth_key_source {
    auth_principal *(*find)(const char *access_key, time_t now, int *expired);
    void (*release)(auth_principal *p);
} auth_key_source;
void auth_set_key_source(const auth_key_source *s);
#endif
