/* http_other.c: STS's GetCallerIdentity read from its form (the action found among the other
 * fields, however encoded) and answered in STS's XML; any other action refused in the query
 * protocol's XML. */
#include <stdlib.h>
#include <string.h>

#include "server/http_other.h"
#include "server/model/config.h"
#include "check.h"

static char *query(const char *form, int *status, const char **type)
{
    return http_other_query(form, strlen(form), NULL, "req-1", status, type);
}

static void test_get_caller_identity(void)
{
    int status;
    const char *type;
    char *x = query("Version=2011-06-15&Action=GetCallerIdentity", &status, &type);
    CHECK_EQ_INT(status, 200);
    CHECK(type == NULL);
    CHECK_CONTAINS(x, "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/"
                      "2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::210987654321:"
                      "root</Arn><UserId>210987654321</UserId><Account>210987654321</Account>"
                      "</GetCallerIdentityResult><ResponseMetadata><RequestId>req-1"
                      "</RequestId></ResponseMetadata></GetCallerIdentityResponse>");
    free(x);
    /* Encoded as a form may encode it. */
    x = query("Action=Get%43allerIdentity", &status, &type);
    CHECK_EQ_INT(status, 200);
    free(x);
}

static void test_forms(void)
{
    CHECK(http_other_is_caller_identity("Action=GetCallerIdentity", 24));
    CHECK(http_other_is_caller_identity("Version=2011-06-15&Action=GetCallerIdentity&", 44));
    CHECK(!http_other_is_caller_identity(NULL, 0)); /* an empty body */
    CHECK(!http_other_is_caller_identity("", 0));
    CHECK(!http_other_is_caller_identity("Action=GetCallerIdentity", 20)); /* cut short */
    CHECK(!http_other_is_caller_identity("Action=Get+CallerIdentity", 25)); /* a space */
    CHECK(!http_other_is_caller_identity("&&&Action", 9));
    /* What /metrics counts the call as: itself, or any request not served. */
    CHECK_STR(http_other_read_op("Action=GetCallerIdentity", 24)->name, "GetCallerIdentity");
    CHECK(http_other_read_op("Action=AssumeRole", 17) == &http_other_query_op);
    CHECK_STR(http_other_query_op.name, "unknown");
    /* A refusal made as JSON, in XML. */
    const char *json = "{\"__type\":\"T\",\"message\":\"no <way>\"}";
    char *x = http_other_refusal(json, strlen(json), "T", "r");
    CHECK_CONTAINS(x, "<Code>T</Code><Message>no &lt;way&gt;</Message>");
    free(x);
}

static void test_other_actions(void)
{
    int status;
    const char *type;
    for (const char *form = "Action=AssumeRole&RoleArn=x\0Action=\0XAction=GetCallerIdentity\0"
                            "Version=2011-06-15\0ActionGetCallerIdentity\0";
         *form; form += strlen(form) + 1) {
        char *x = query(form, &status, &type);
        CHECK_EQ_INT(status, 400);
        CHECK_STR(type, "InvalidAction");
        CHECK_CONTAINS(x, "<Code>InvalidAction</Code>");
        CHECK_CONTAINS(x, "AWS_ENDPOINT_URL_BATCH");
        free(x);
    }
}

int main(void)
{
    barge_cfg.account_id = "210987654321";
    RUN(test_get_caller_identity);
    RUN(test_forms);
    RUN(test_other_actions);
    return 0;
}
