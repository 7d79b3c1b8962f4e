/* policy — IAM policy documents, the subset barge evaluates.
 *
 * A document is {"Version": "2012-10-17", "Statement": [...]}, each statement {"Effect": "Allow"
 * or "Deny", "Action": a pattern or a list, "Resource": a pattern or a list} with an optional
 * "Sid".  Patterns take IAM's wildcards: `*` any run of characters, `?` one.  Actions match
 * without regard to case ("batch:submit*" matches "batch:SubmitJob"), resources with it, as IAM
 * matches ARNs.  Members barge does not evaluate (NotAction, NotResource, Condition, Principal)
 * are refused when the document is read rather than ignored: ignoring one would let a policy
 * allow more than its author wrote.
 *
 * Evaluation is IAM's for one identity policy: an explicit Deny wins over any Allow, and what
 * no statement allows is denied. */
#ifndef BARGE_POLICY_H
#define BARGE_POLICY_H
#include <jansson.h>
#include <stddef.h>

typedef struct policy policy;

/* Reads a document; NULL with a sentence in err (naming the member that is wrong). */
policy *policy_parse(json_t *doc, char *err, size_t errlen);
/* The same from JSON text. */
policy *policy_parse_text(const char *text, char *err, size_t errlen);
void policy_free(policy *p);

enum { POLICY_NO_MATCH = 0, POLICY_ALLOW = 1, POLICY_DENY = 2 };
/* What the document says of action on resource: POLICY_DENY if any Deny statement matches,
 * otherwise POLICY_ALLOW if any Allow statement matches, otherwise POLICY_NO_MATCH. */
int policy_eval(const policy *p, const char *action, const char *resource);

/* IAM's wildcard match of s against pattern (`*` and `?`); nocase for actions. */
int policy_glob(const char *pattern, const char *s, int nocase);
#endif
