/* policy_cond.c: statements' Condition blocks as IAM evaluates them (operators, IfExists, set
 * qualifiers, absent keys), several contexts (an Allow must hold in each, a Deny in one), and
 * what is refused when read. */
#include <stdio.h>
#include <stdlib.h>

#include "server/api/policy.h"
#include "check.h"

static policy *doc(const char *effect, const char *condition)
{
    char text[1024], err[400] = "";
    snprintf(text, sizeof text, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"%s\","
             "\"Action\":\"batch:*\",\"Resource\":\"*\",\"Condition\":%s}]}", effect, condition);
    policy *p = policy_parse_text(text, err, sizeof err);
    if (!p) fprintf(stderr, "policy_parse_text: %s\n", err);
    CHECK(p != NULL);
    return p;
}

static void refused(const char *condition, const char *fragment)
{
    char text[1024], err[400] = "";
    snprintf(text, sizeof text, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
             "\"Allow\",\"Action\":\"batch:*\",\"Resource\":\"*\",\"Condition\":%s}]}",
             condition);
    policy *p = policy_parse_text(text, err, sizeof err);
    if (p) fprintf(stderr, "accepted: %s\n", condition);
    CHECK(p == NULL);
    CHECK_CONTAINS(err, fragment);
}

/* Whether the Allow statement with this condition allows a request of one context. */
static int allows(const char *condition, const policy_kv *kv, size_t n)
{
    policy *p = doc("Allow", condition);
    policy_ctx ctx = {kv, n};
    int v = policy_eval(p, "batch:SubmitJob", "*", &ctx, 1);
    policy_free(p);
    return v == POLICY_ALLOW;
}

static void test_operators(void)
{
    policy_kv share[] = {{"batch:ShareIdentifier", "teamA"}};
    CHECK(allows("{\"StringEquals\":{\"batch:ShareIdentifier\":\"teamA\"}}", share, 1));
    CHECK(!allows("{\"StringEquals\":{\"batch:ShareIdentifier\":\"teama\"}}", share, 1));
    CHECK(allows("{\"StringEqualsIgnoreCase\":{\"batch:ShareIdentifier\":\"TEAMA\"}}", share, 1));
    /* Values are ORed; key names are read without regard to case. */
    CHECK(allows("{\"StringEquals\":{\"BATCH:shareidentifier\":[\"x\",\"teamA\"]}}", share, 1));
    CHECK(allows("{\"StringLike\":{\"batch:ShareIdentifier\":\"team*\"}}", share, 1));
    CHECK(!allows("{\"StringNotLike\":{\"batch:ShareIdentifier\":\"team*\"}}", share, 1));
    CHECK(allows("{\"StringNotEquals\":{\"batch:ShareIdentifier\":[\"x\",\"y\"]}}", share, 1));
    CHECK(!allows("{\"StringNotEquals\":{\"batch:ShareIdentifier\":[\"x\",\"teamA\"]}}", share,
                  1));
    /* Operators are ANDed, and so are the keys under one. */
    policy_kv two[] = {{"batch:ShareIdentifier", "teamA"}, {"batch:Privileged", "false"}};
    CHECK(allows("{\"StringEquals\":{\"batch:ShareIdentifier\":\"teamA\"},"
                 "\"Bool\":{\"batch:Privileged\":false}}", two, 2));
    CHECK(!allows("{\"StringEquals\":{\"batch:ShareIdentifier\":\"teamA\"},"
                  "\"Bool\":{\"batch:Privileged\":\"true\"}}", two, 2));
    CHECK(!allows("{\"StringEquals\":{\"batch:ShareIdentifier\":\"teamA\","
                  "\"batch:Privileged\":\"true\"}}", two, 2));
    policy_kv arn[] = {{"aws:PrincipalArn", "arn:aws:iam::123456789012:user/ann"}};
    CHECK(allows("{\"ArnLike\":{\"aws:PrincipalArn\":\"arn:aws:iam::*:user/a*\"}}", arn, 1));
    CHECK(!allows("{\"ArnNotEquals\":{\"aws:PrincipalArn\":\"arn:aws:iam::*:user/*\"}}", arn, 1));
    policy_kv num[] = {{"aws:RequestTag/cost", "12.5"}};
    CHECK(allows("{\"NumericLessThan\":{\"aws:RequestTag/cost\":13}}", num, 1));
    CHECK(!allows("{\"NumericGreaterThanEquals\":{\"aws:RequestTag/cost\":\"13\"}}", num, 1));
    CHECK(allows("{\"NumericEquals\":{\"aws:RequestTag/cost\":12.5}}", num, 1));
    policy_kv word[] = {{"aws:RequestTag/cost", "high"}};
    CHECK(!allows("{\"NumericLessThan\":{\"aws:RequestTag/cost\":13}}", word, 1));
}

/* A key the request does not have: a matching operator fails, a negated one holds, IfExists
 * holds, Null says which; ForAllValues holds over no values and ForAnyValue does not. */
static void test_absent_keys(void)
{
    policy_kv none[] = {{"aws:PrincipalArn", "arn:aws:iam::1:user/a"}};
    CHECK(!allows("{\"StringEquals\":{\"batch:ShareIdentifier\":\"a\"}}", none, 1));
    CHECK(allows("{\"StringNotEquals\":{\"batch:ShareIdentifier\":\"a\"}}", none, 1));
    CHECK(allows("{\"StringEqualsIfExists\":{\"batch:ShareIdentifier\":\"a\"}}", none, 1));
    CHECK(allows("{\"Null\":{\"batch:ShareIdentifier\":\"true\"}}", none, 1));
    CHECK(!allows("{\"Null\":{\"batch:ShareIdentifier\":false}}", none, 1));
    CHECK(allows("{\"ForAllValues:StringEquals\":{\"aws:TagKeys\":\"a\"}}", none, 1));
    CHECK(!allows("{\"ForAnyValue:StringEquals\":{\"aws:TagKeys\":\"a\"}}", none, 1));
    policy_kv share[] = {{"batch:ShareIdentifier", "b"}};
    CHECK(!allows("{\"StringEqualsIfExists\":{\"batch:ShareIdentifier\":\"a\"}}", share, 1));
}

/* aws:TagKeys has a value a tag: ForAllValues wants each among the listed, ForAnyValue one. */
static void test_sets(void)
{
    policy_kv keys[] = {{"aws:TagKeys", "team"}, {"aws:TagKeys", "cost"}};
    CHECK(allows("{\"ForAllValues:StringEquals\":{\"aws:TagKeys\":[\"team\",\"cost\",\"x\"]}}",
                 keys, 2));
    CHECK(!allows("{\"ForAllValues:StringEquals\":{\"aws:TagKeys\":[\"team\"]}}", keys, 2));
    CHECK(allows("{\"ForAnyValue:StringEquals\":{\"aws:TagKeys\":[\"cost\"]}}", keys, 2));
    CHECK(!allows("{\"ForAnyValue:StringEquals\":{\"aws:TagKeys\":[\"nope\"]}}", keys, 2));
    CHECK(allows("{\"ForAllValues:StringNotEquals\":{\"aws:TagKeys\":[\"secret\"]}}", keys, 2));
    CHECK(!allows("{\"ForAllValues:StringNotEquals\":{\"aws:TagKeys\":[\"cost\"]}}", keys, 2));
}

/* A request of several contexts (a multi-node definition's node ranges): an Allow must hold in
 * each, a Deny applies when it holds in any. */
static void test_contexts(void)
{
    policy_kv a[] = {{"batch:Image", "registry.example/team/app"}},
              b[] = {{"batch:Image", "busybox"}};
    policy_ctx both[] = {{a, 1}, {b, 1}}, first[] = {{a, 1}};
    policy *allow = doc("Allow", "{\"StringLike\":{\"batch:Image\":\"registry.example/*\"}}");
    CHECK_EQ_INT(policy_eval(allow, "batch:RegisterJobDefinition", "*", first, 1), POLICY_ALLOW);
    CHECK_EQ_INT(policy_eval(allow, "batch:RegisterJobDefinition", "*", both, 2),
                 POLICY_NO_MATCH);
    policy_free(allow);
    policy *deny = doc("Deny", "{\"StringNotLike\":{\"batch:Image\":\"registry.example/*\"}}");
    CHECK_EQ_INT(policy_eval(deny, "batch:RegisterJobDefinition", "*", first, 1),
                 POLICY_NO_MATCH);
    CHECK_EQ_INT(policy_eval(deny, "batch:RegisterJobDefinition", "*", both, 2), POLICY_DENY);
    policy_free(deny);
}

static void test_refused(void)
{
    refused("{}", "Condition");
    refused("[]", "Condition");
    refused("{\"DateLessThan\":{\"aws:CurrentTime\":\"2030-01-01T00:00:00Z\"}}",
            "Condition.DateLessThan: not a condition operator");
    refused("{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", "IpAddress");
    refused("{\"StringEquals\":{\"aws:ResourceTag/team\":\"a\"}}",
            "Condition.StringEquals.aws:ResourceTag/team: not a condition key barge fills in");
    refused("{\"StringEquals\":{\"aws:RequestTag/\":\"a\"}}", "aws:RequestTag/");
    refused("{\"StringEquals\":{\"batch:ShareIdentifier\":[]}}", "non-empty list");
    refused("{\"StringEquals\":{\"batch:ShareIdentifier\":{\"a\":1}}}", "a string, a number");
    refused("{\"StringEquals\":{\"batch:ShareIdentifier\":\"${aws:CurrentTime}\"}}",
            "the policy variables barge fills in are ${aws:username}");
    refused("{\"StringEquals\":{\"batch:ShareIdentifier\":\"${aws:username\"}}",
            "policy variables");
    refused("{\"Bool\":{\"batch:Privileged\":\"yes\"}}", "true or false");
    refused("{\"NumericLessThan\":{\"aws:RequestTag/n\":\"ten\"}}", "not a number");
    refused("{\"NullIfExists\":{\"batch:User\":\"true\"}}", "NullIfExists");
    refused("{\"StringEquals\":[]}", "object of condition keys");
}

/* Policy variables, in documents of Version 2012-10-17: the caller's name in a resource or a
 * condition's value; a variable the request lacks matches nothing; in an older document "${" is
 * plain text, as in IAM. */
static void test_variables(void)
{
    char err[400] = "";
    policy *p = policy_parse_text(
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
        "\"batch:SubmitJob\",\"Resource\":\"arn:aws:batch:*:*:job-queue/${aws:username}-*\"},"
        "{\"Effect\":\"Allow\",\"Action\":\"batch:TagResource\",\"Resource\":\"*\","
        "\"Condition\":{\"StringEquals\":{\"aws:RequestTag/owner\":\"${aws:username}\"}}}]}",
        err, sizeof err);
    if (!p) fprintf(stderr, "%s\n", err);
    CHECK(p != NULL);
    policy_kv ann[] = {{"aws:username", "ann"}, {"aws:RequestTag/owner", "ann"}},
              bob[] = {{"aws:username", "bob"}, {"aws:RequestTag/owner", "ann"}},
              role[] = {{"aws:PrincipalArn", "arn:aws:iam::1:role/r"}},
              star[] = {{"aws:username", "*"}};
    policy_ctx a = {ann, 2}, b = {bob, 2}, r = {role, 1}, s = {star, 1};
    const char *q = "arn:aws:batch:us-east-1:1:job-queue/ann-work";
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", q, &a, 1), POLICY_ALLOW);
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", q, &b, 1), POLICY_NO_MATCH);
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", q, &r, 1), POLICY_NO_MATCH);
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", q, &s, 1), POLICY_NO_MATCH);
    CHECK_EQ_INT(policy_eval(p, "batch:TagResource", "*", &a, 1), POLICY_ALLOW);
    CHECK_EQ_INT(policy_eval(p, "batch:TagResource", "*", &b, 1), POLICY_NO_MATCH);
    policy_free(p);
    p = policy_parse_text("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\","
                          "\"Action\":\"*\",\"Resource\":\"arn:${aws:SourceIp}\"}]}", err,
                          sizeof err);
    CHECK(p == NULL);
    CHECK_CONTAINS(err, "Statement[0].Resource: '${aws:SourceIp}'");
    /* Version 2008-10-17 (or none): text. */
    p = policy_parse_text("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
                          "\"Resource\":\"q/${aws:username}\"}]}", err, sizeof err);
    CHECK(p != NULL);
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", "q/${aws:username}", &a, 1), POLICY_ALLOW);
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", "q/ann", &a, 1), POLICY_NO_MATCH);
    policy_free(p);
}

int main(void)
{
    RUN(test_variables);
    RUN(test_operators);
    RUN(test_absent_keys);
    RUN(test_sets);
    RUN(test_contexts);
    RUN(test_refused);
    printf("policy_cond: ok\n");
    return 0;
}
