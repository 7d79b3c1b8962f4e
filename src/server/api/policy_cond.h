/* policy_cond — a policy statement's Condition block, and the request context it is read
 * against.
 *
 * A block is {"OPERATOR": {"KEY": value or [values]}, ...}: every operator's every key must
 * hold (AND), and a key holds when the request's value matches any of the values given (OR),
 * as IAM evaluates them.  Operators: StringEquals, StringNotEquals, StringEqualsIgnoreCase,
 * StringNotEqualsIgnoreCase, StringLike, StringNotLike, ArnEquals, ArnLike, ArnNotEquals,
 * ArnNotLike, NumericEquals, NumericNotEquals, NumericLessThan, NumericLessThanEquals,
 * NumericGreaterThan, NumericGreaterThanEquals, Bool and Null; each (but Null) with IAM's
 * IfExists suffix and ForAllValues: or ForAnyValue: prefix.  A key the request does not have
 * fails a matching operator and passes a negated one (StringNotEquals...), as in IAM.
 *
 * The keys are those barge can fill in (docs/credentials.md lists them); a block naming
 * another, or an operator, a policy variable or a date barge does not evaluate, is refused when
 * the document is read: a key that is never present would make a Deny statement never apply,
 * and so allow more than its author wrote. */
#ifndef BARGE_POLICY_COND_H
#define BARGE_POLICY_COND_H
#include <jansson.h>
#include <stddef.h>

/* One value of a request's condition key; a key with several values (aws:TagKeys) has one pair
 * for each.  Keys are compared without regard to case, as IAM compares them. */
typedef struct policy_kv {
    const char *key;
    const char *value;
} policy_kv;

/* A request's context: its keys and values. */
typedef struct policy_ctx {
    const policy_kv *kv;
    size_t n;
} policy_ctx;

typedef struct policy_cond policy_cond;

/* Reads statement i's Condition block; NULL with a sentence in err naming what is wrong.
 * vars: the document is of Version 2012-10-17, whose values may hold policy variables
 * (${aws:username}); in others "${" is plain text, as in IAM. */
policy_cond *policy_cond_parse(json_t *block, size_t i, int vars, char *err, size_t errlen);
void policy_cond_free(policy_cond *c);
/* Whether every test of c holds in ctx. */
int policy_cond_holds(const policy_cond *c, const policy_ctx *ctx);

/* Checks the policy variables in s (a resource or a condition value): 0, or -1 with a sentence
 * in err, naming where, for one barge does not fill in. */
int policy_vars_check(const char *s, const char *where, char *err, size_t errlen);
/* s with its policy variables replaced by ctx's values (fresh); NULL when ctx lacks one, or its
 * value holds a wildcard: the element then matches nothing, as IAM has it. */
char *policy_expand(const char *s, const policy_ctx *ctx);

/* IAM's wildcard match of s against pattern (`*` and `?`); nocase for actions.  (Here, where
 * both policy.c and the conditions' Like operators use it.) */
int policy_glob(const char *pattern, const char *s, int nocase);
#endif
