/* policy.c: IAM's wildcards, reading policy documents, and evaluation (explicit Deny wins, no
 * match is a deny). */
#include <stdlib.h>

#include "server/api/policy.h"
#include "check.h"

static void test_glob(void)
{
    CHECK(policy_glob("*", "", 0));
    CHECK(policy_glob("*", "anything", 0));
    CHECK(policy_glob("batch:Submit*", "batch:SubmitJob", 1));
    CHECK(policy_glob("batch:submit*", "batch:SubmitJob", 1));
    CHECK(!policy_glob("batch:submit*", "batch:SubmitJob", 0));
    CHECK(!policy_glob("batch:Submit*", "batch:CancelJob", 1));
    CHECK(policy_glob("batch:*Job", "batch:TerminateJob", 1));
    CHECK(!policy_glob("batch:*Job", "batch:TerminateJobs", 1));
    CHECK(policy_glob("batch:?ancelJob", "batch:CancelJob", 1));
    CHECK(!policy_glob("batch:?", "batch:", 1));
    CHECK(policy_glob("arn:aws:batch:*:*:job-queue/q1", "arn:aws:batch:us-east-1:1:job-queue/q1",
                      0));
    CHECK(!policy_glob("arn:aws:batch:*:*:job-queue/q1",
                       "arn:aws:batch:us-east-1:1:job-queue/q10", 0));
    CHECK(policy_glob("arn:*:job-definition/d:*", "arn:aws:batch:r:1:job-definition/d:3", 0));
    CHECK(policy_glob("a*b*c*d", "aXXbYYcZZd", 0));
    CHECK(!policy_glob("a*b*c*d", "aXXbYYcZZ", 0));
    /* Many stars do not make matching slow. */
    CHECK(!policy_glob("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0));
}

static policy *parse_ok(const char *text)
{
    char err[400] = "";
    policy *p = policy_parse_text(text, err, sizeof err);
    if (!p) fprintf(stderr, "policy_parse_text: %s\n", err);
    CHECK(p != NULL);
    return p;
}

static void parse_fails(const char *text, const char *fragment)
{
    char err[400] = "";
    policy *p = policy_parse_text(text, err, sizeof err);
    CHECK(p == NULL);
    CHECK_CONTAINS(err, fragment);
}

static void test_evaluation(void)
{
    policy *p = parse_ok(
        "{\"Version\":\"2012-10-17\",\"Statement\":["
        "{\"Sid\":\"a\",\"Effect\":\"Allow\",\"Action\":[\"batch:Submit*\",\"batch:List*\"],"
        "\"Resource\":[\"arn:aws:batch:*:*:job-queue/q1\",\"arn:aws:batch:*:*:job-definition/*\"]},"
        "{\"Effect\":\"Deny\",\"Action\":\"batch:SubmitJob\",\"Resource\":\"*:job-definition/secret*\"}]}");
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", "arn:aws:batch:r:1:job-queue/q1", NULL, 0), POLICY_ALLOW);
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", "arn:aws:batch:r:1:job-queue/q2", NULL, 0),
                 POLICY_NO_MATCH);
    CHECK_EQ_INT(policy_eval(p, "batch:CancelJob", "arn:aws:batch:r:1:job-queue/q1", NULL, 0),
                 POLICY_NO_MATCH);
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", "arn:aws:batch:r:1:job-definition/secret:1", NULL, 0),
                 POLICY_DENY);
    CHECK_EQ_INT(policy_eval(p, "batch:SubmitJob", "arn:aws:batch:r:1:job-definition/open:1", NULL, 0),
                 POLICY_ALLOW);
    policy_free(p);
    /* One statement as an object, and "*" for every action. */
    p = parse_ok("{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}");
    CHECK_EQ_INT(policy_eval(p, "logs:GetLogEvents", "arn:aws:logs:r:1:log-group:g", NULL, 0),
                 POLICY_ALLOW);
    policy_free(p);
    /* No statement: nothing allowed. */
    p = parse_ok("{\"Version\":\"2012-10-17\",\"Statement\":[]}");
    CHECK_EQ_INT(policy_eval(p, "batch:ListJobs", "*", NULL, 0), POLICY_NO_MATCH);
    policy_free(p);
}

static void test_refused_documents(void)
{
    parse_fails("[]", "JSON object");
    parse_fails("{\"Statement\":[], \"Extra\":1}", "'Extra'");
    parse_fails("{\"Version\":\"2020-01-01\",\"Statement\":[]}", "Version");
    parse_fails("{\"Statement\":\"x\"}", "Statement");
    parse_fails("{\"Statement\":[{\"Effect\":\"allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
                "Statement[0].Effect");
    parse_fails("{\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"*\"}]}",
                "Statement[0].Action");
    parse_fails("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[],\"Resource\":\"*\"}]}",
                "Statement[0].Action");
    parse_fails("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":[1]}]}",
                "Statement[0].Resource[0]");
    parse_fails("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
                "{\"Effect\":\"Allow\",\"NotAction\":\"*\",\"Resource\":\"*\"}]}",
                "Statement[1].NotAction");
    parse_fails("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                "\"Condition\":{}}]}", "Condition");
    parse_fails("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"SubmitJob\","
                "\"Resource\":\"*\"}]}", "SERVICE:ACTION");
    parse_fails("{\"Statement\":[", "not valid JSON");
}

int main(void)
{
    RUN(test_glob);
    RUN(test_evaluation);
    RUN(test_refused_documents);
    return 0;
}
