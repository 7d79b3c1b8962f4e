/* policy — IAM policy documents, the subset barge evaluates.
 *
 * A document is {"Version": "2012-10-17", "Statement": [...]}, each statement {"Effect": "Allow"
 * or "Deny", "Action": a pattern or a list, "Resource": a pattern or a list} with an optional
 * "Sid" and "Condition" (policy_cond.h).  Patterns take IAM's wildcards: `*` any run of
 * characters, `?` one.  Actions match without regard to case ("batch:submit*" matches
 * "batch:SubmitJob"), resources with it, as IAM matches ARNs.  Members barge does not evaluate
 * (NotAction, NotResource, Principal) are refused when the document is read rather than
 * ignored: ignoring one would let a policy allow more than its author wrote.
 *
 * Evaluation is IAM's for one identity policy: an explicit Deny wins over any Allow, and what
 * no statement allows is denied. */
#ifndef BARGE_POLICY_H
#define BARGE_POLICY_H
#include <jansson.h>
#include <stddef.h>

#include "server/api/policy_cond.h"

typedef struct policy policy;

/* Reads a document; NULL with a sentence in err (naming the member that is wrong). */
policy *policy_parse(json_t *doc, char *err, size_t errlen);
/* The same from JSON text. */
policy *policy_parse_text(const char *text, char *err, size_t errlen);
void policy_free(policy *p);

enum { POLICY_NO_MATCH = 0, POLICY_ALLOW = 1, POLICY_DENY = 2 };
/* What the document says of action on resource, for a request of nctx contexts (its condition
 * keys; a multi-node definition has one a node range, any other call one): POLICY_DENY if any
 * Deny statement matches, otherwise POLICY_ALLOW if any Allow statement matches, otherwise
 * POLICY_NO_MATCH.  A statement with a Condition matches when its condition holds, for an Allow
 * in every context, for a Deny in any. */
int policy_eval(const policy *p, const char *action, const char *resource,
                const policy_ctx *ctxs, size_t nctx);

#endif
