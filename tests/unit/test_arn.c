/* arn.c: building and splitting ARNs, and the resource-name rule. */
#include <stdlib.h>

#include "server/model/arn.h"
#include "server/model/config.h"
#include "check.h"

static void test_make_uses_region_and_account(void)
{
    config_defaults(&barge_cfg);
    char *a = arn_make(ARN_CE, "ce1");
    CHECK_STR(a, "arn:aws:batch:us-east-1:123456789012:compute-environment/ce1");
    free(a);
    barge_cfg.region = "eu-west-3";
    barge_cfg.account_id = "111122223333";
    a = arn_make(ARN_JD, "def:3");
    CHECK_STR(a, "arn:aws:batch:eu-west-3:111122223333:job-definition/def:3");
    free(a);
    /* Appended, the same text. */
    buf b = {0};
    buf_puts(&b, "[");
    arn_put(&b, ARN_JOB, "j-1:2");
    CHECK_STR(b.data, "[arn:aws:batch:eu-west-3:111122223333:job/j-1:2");
    buf_free(&b);
    config_defaults(&barge_cfg);
}

static void test_split(void)
{
    char *kind = NULL, *res = NULL;
    CHECK_EQ_INT(arn_split("arn:aws:batch:us-east-1:123456789012:job-queue/q", &kind, &res), 0);
    CHECK_STR(kind, "job-queue");
    CHECK_STR(res, "q");
    free(kind);
    free(res);
    /* A revision keeps its colon; the resource is everything after the first slash. */
    CHECK_EQ_INT(arn_split("arn:aws:batch:r:1:job-definition/d:12", &kind, &res), 0);
    CHECK_STR(kind, "job-definition");
    CHECK_STR(res, "d:12");
    free(kind);
    free(res);
    /* Other partitions are batch ARNs too. */
    CHECK_EQ_INT(arn_split("arn:aws-cn:batch:cn-north-1:1:job/abc", &kind, &res), 0);
    CHECK_STR(res, "abc");
    free(kind);
    free(res);
    CHECK_EQ_INT(arn_split("arn:aws-iso-b:batch:us-isob-east-1:1:job/abc", &kind, &res), 0);
    CHECK_STR(res, "abc");
    free(kind);
    free(res);

    static const char *const bad[] = {
        "",
        "job-queue/q",
        "arn:aws:batch:us-east-1:123456789012",
        "arn:aws:batch:us-east-1:123456789012:job-queue",
        "arn:aws:batch:us-east-1:123456789012:job-queue/",
        "arn:aws:batch:us-east-1:123456789012:/q",
        "arn:aws:s3:us-east-1:123456789012:job-queue/q",
        "arn:gcp:batch:us-east-1:123456789012:job-queue/q",
        "ARN:aws:batch:us-east-1:123456789012:job-queue/q",
        /* No partition is named so. */
        "arn:awsX:batch:us-east-1:123456789012:job-queue/q",
        "arn:aws-:batch:us-east-1:123456789012:job-queue/q",
        "arn:aws-CN:batch:us-east-1:123456789012:job-queue/q",
        NULL,
    };
    for (const char *const *b = bad; *b; b++) {
        kind = res = NULL;
        if (arn_split(*b, &kind, &res) != -1) CHECK_FAIL_("arn_split accepted '%s'", *b);
        CHECK(kind == NULL && res == NULL);
    }
}

static void test_resource_of_kind(void)
{
    char *r = arn_resource("arn:aws:batch:us-east-1:123456789012:compute-environment/c", ARN_CE);
    CHECK_STR(r, "c");
    free(r);
    /* The kind must match exactly, not by prefix. */
    CHECK(arn_resource("arn:aws:batch:us-east-1:123456789012:job-queue/c", ARN_CE) == NULL);
    CHECK(arn_resource("arn:aws:batch:us-east-1:123456789012:job/c", ARN_JQ) == NULL);
    CHECK(arn_resource("arn:aws:batch:us-east-1:123456789012:job-queue/c", ARN_JOB) == NULL);
    CHECK(arn_resource("c", ARN_CE) == NULL);
}

static void test_names(void)
{
    char name[200];
    CHECK(arn_name_valid("a"));
    CHECK(arn_name_valid("Abc-09_x"));
    CHECK(arn_name_valid("-leading-hyphen"));
    memset(name, 'n', 128);
    name[128] = '\0';
    CHECK(arn_name_valid(name));
    name[128] = 'n';
    name[129] = '\0';
    CHECK(!arn_name_valid(name));
    CHECK(!arn_name_valid(""));
    static const char *const bad[] = {"a b", "a.b", "a/b", "a:b", "caf\xc3\xa9", "a\tb", "a*",
                                      NULL};
    for (const char *const *b = bad; *b; b++)
        if (arn_name_valid(*b)) CHECK_FAIL_("arn_name_valid accepted '%s'", *b);
}

int main(void)
{
    RUN(test_make_uses_region_and_account);
    RUN(test_split);
    RUN(test_resource_of_kind);
    RUN(test_names);
    return 0;
}
