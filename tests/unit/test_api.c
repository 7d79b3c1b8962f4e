/* api.c: paging (api_page), names and ARNs, tags, and routing; jobdef_host.c: users. */
#include <stdlib.h>

#include "common/util.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"
#include "server/api/jobdef_host.h"
#include "check.h"

static const char *const seven[] = {"a", "b", "c", "d", "e", "f", "g"};

/* One page: the window and the token that follows it (NULL when none). */
typedef struct {
    int rc;
    size_t start, end;
    char token[256];
    char err[600];
} page;

static page get_page_of(const char *what, const char *const *keys, size_t n, int limit,
                        json_t *req)
{
    page p = {0};
    api_ctx c = {0};
    json_t *resp = json_object();
    p.rc = api_page(&c, req, resp, what, keys, n, strcmp, limit, &p.start, &p.end);
    const char *t = json_string_value(json_object_get(resp, "nextToken"));
    snprintf(p.token, sizeof p.token, "%s", t ? t : "");
    if (p.rc != 0) {
        CHECK_STR(c.err_type, "ClientException");
        CHECK_EQ_INT(c.status, 400);
        snprintf(p.err, sizeof p.err, "%s", c.err_msg);
    }
    json_decref(resp);
    json_decref(req);
    return p;
}

static page get_page(const char *const *keys, size_t n, int limit, json_t *req)
{
    return get_page_of("thing", keys, n, limit, req);
}

static void test_page_walk(void)
{
    page p = get_page(seven, 7, 100, json_pack("{s:i}", "maxResults", 3));
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_INT(p.start, 0);
    CHECK_EQ_INT(p.end, 3);
    CHECK(p.token[0] != '\0');
    p = get_page(seven, 7, 100, json_pack("{s:i, s:s}", "maxResults", 3, "nextToken", p.token));
    CHECK_EQ_INT(p.start, 3);
    CHECK_EQ_INT(p.end, 6);
    CHECK(p.token[0] != '\0');
    p = get_page(seven, 7, 100, json_pack("{s:i, s:s}", "maxResults", 3, "nextToken", p.token));
    CHECK_EQ_INT(p.start, 6);
    CHECK_EQ_INT(p.end, 7);
    /* The last page says so by carrying no token. */
    CHECK_STR(p.token, "");
}

static void test_page_defaults_and_edges(void)
{
    /* Without maxResults the window is the operation's limit. */
    page p = get_page(seven, 7, 5, json_object());
    CHECK_EQ_INT(p.end - p.start, 5);
    CHECK(p.token[0] != '\0');
    p = get_page(seven, 7, 100, json_object());
    CHECK_EQ_INT(p.end, 7);
    CHECK_STR(p.token, "");
    /* A page that ends exactly at the end of the listing has no token either. */
    p = get_page(seven, 6, 100, json_pack("{s:i}", "maxResults", 3));
    p = get_page(seven, 6, 100, json_pack("{s:i, s:s}", "maxResults", 3, "nextToken", p.token));
    CHECK_EQ_INT(p.start, 3);
    CHECK_EQ_INT(p.end, 6);
    CHECK_STR(p.token, "");
    /* An empty listing. */
    p = get_page(seven, 0, 100, json_pack("{s:i}", "maxResults", 1));
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_INT(p.end, 0);
    CHECK_STR(p.token, "");
    /* An empty token is the same as none, as the AWS CLI sends it. */
    p = get_page(seven, 7, 100, json_pack("{s:s}", "nextToken", ""));
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_INT(p.start, 0);
    /* maxResults at the limit is allowed. */
    p = get_page(seven, 7, 100, json_pack("{s:i}", "maxResults", 100));
    CHECK_EQ_INT(p.rc, 0);
}

static void test_page_resumes_after_changes(void)
{
    /* The token names the last key returned, so items removed or added before it do not make
     * the next page repeat or skip anything. */
    page p = get_page(seven, 7, 100, json_pack("{s:i}", "maxResults", 3));
    static const char *const fewer[] = {"a", "d", "e", "f", "g"}; /* b and c went away */
    p = get_page(fewer, 5, 100, json_pack("{s:i, s:s}", "maxResults", 3, "nextToken", p.token));
    CHECK_EQ_INT(p.start, 1);
    CHECK_EQ_INT(p.end, 4);
    static const char *const more[] = {"a", "b", "bb", "c", "cc", "d"};
    char tok[64];
    util_hex("thing:c", 7, tok);
    p = get_page(more, 6, 100, json_pack("{s:i, s:s}", "maxResults", 3, "nextToken", tok));
    CHECK_EQ_INT(p.start, 4); /* "cc": after "c", even though "c" itself is still there */
    /* A token past the end gives an empty last page. */
    util_hex("thing:zzz", 9, tok);
    p = get_page(seven, 7, 100, json_pack("{s:s}", "nextToken", tok));
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_INT(p.start, 7);
    CHECK_EQ_INT(p.end, 7);
    CHECK_STR(p.token, "");
}

static void test_page_refuses(void)
{
    page p = get_page(seven, 7, 100, json_pack("{s:i}", "maxResults", 0));
    CHECK_EQ_INT(p.rc, -1);
    CHECK_CONTAINS(p.err, "maxResults");
    CHECK_CONTAINS(p.err, "between 1 and 100");
    p = get_page(seven, 7, 100, json_pack("{s:i}", "maxResults", 101));
    CHECK_EQ_INT(p.rc, -1);
    CHECK_CONTAINS(p.err, "maxResults");
    p = get_page(seven, 7, 100, json_pack("{s:I}", "maxResults", (json_int_t)-5000000000LL));
    CHECK_EQ_INT(p.rc, -1);
    static const char *const bad[] = {"nothex", "abc", "00", "6100", NULL};
    for (const char *const *b = bad; *b; b++) {
        p = get_page(seven, 7, 100, json_pack("{s:s}", "nextToken", *b));
        CHECK_EQ_INT(p.rc, -1);
        CHECK_CONTAINS(p.err, "nextToken");
    }
    /* Another listing's token, and a key without the listing's name, are not this one's. */
    p = get_page_of("other", seven, 7, 100, json_pack("{s:i}", "maxResults", 3));
    CHECK(p.token[0] != '\0');
    p = get_page(seven, 7, 100, json_pack("{s:s}", "nextToken", p.token));
    CHECK_EQ_INT(p.rc, -1);
    CHECK_CONTAINS(p.err, "for this listing");
    char tok[64];
    util_hex("c", 1, tok);
    p = get_page(seven, 7, 100, json_pack("{s:s}", "nextToken", tok));
    CHECK_EQ_INT(p.rc, -1);
}

static void test_names_and_arns(void)
{
    api_ctx c = {0};
    CHECK_EQ_INT(api_check_name(&c, "ok-name_1", "computeEnvironmentName"), 0);
    CHECK_EQ_INT(api_check_name(&c, "bad name", "computeEnvironmentName"), -1);
    CHECK_CONTAINS(c.err_msg, "computeEnvironmentName");
    CHECK_CONTAINS(c.err_msg, "'bad name'");

    char *k = api_key_of("ce1", ARN_CE);
    CHECK_STR(k, "ce1");
    free(k);
    k = api_key_of("arn:aws:batch:us-east-1:123456789012:compute-environment/ce1", ARN_CE);
    CHECK_STR(k, "ce1");
    free(k);
    CHECK(api_key_of(NULL, ARN_CE) == NULL);
    CHECK(api_key_of("bad/name", ARN_CE) == NULL);
    CHECK(api_key_of("arn:aws:batch:us-east-1:123456789012:job-queue/q", ARN_CE) == NULL);

    api_ctx c2 = {0};
    CHECK(api_name_or_arn(&c2, "arn:aws:batch:r:1:job-queue/q", ARN_CE, "computeEnvironment") ==
          NULL);
    CHECK_CONTAINS(c2.err_msg, "computeEnvironment: ");
    CHECK_CONTAINS(c2.err_msg, "is not a compute-environment ARN");
    api_ctx c3 = {0};
    CHECK(api_name_or_arn(&c3, "no spaces", ARN_CE, "computeEnvironment") == NULL);
    CHECK_CONTAINS(c3.err_msg, "not a valid name or ARN");
}

static void test_tags(void)
{
    api_ctx c = {0};
    CHECK_EQ_INT(api_check_tags(&c, NULL, "tags"), 0);
    json_t *t = json_pack("{s:s, s:s}", "team", "x", "empty", "");
    CHECK_EQ_INT(api_check_tags(&c, t, "tags"), 0);
    json_decref(t);

    t = json_pack("{s:s}", "aws:owner", "x");
    CHECK_EQ_INT(api_check_tags(&c, t, "tags"), -1);
    CHECK_CONTAINS(c.err_msg, "tags: ");
    CHECK_CONTAINS(c.err_msg, "aws:");
    json_decref(t);

    char big[300];
    memset(big, 'v', 257);
    big[257] = '\0';
    t = json_pack("{s:s}", "k", big);
    CHECK_EQ_INT(api_check_tags(&c, t, "computeResources.tags"), -1);
    CHECK_CONTAINS(c.err_msg, "computeResources.tags: the value of tag 'k'");
    json_decref(t);
    big[129] = '\0';
    t = json_object();
    json_object_set_new(t, big, json_string("v"));
    CHECK_EQ_INT(api_check_tags(&c, t, "tags"), -1);
    CHECK_CONTAINS(c.err_msg, "1 to 128 characters");
    json_decref(t);
    big[128] = '\0';
    t = json_object();
    json_object_set_new(t, big, json_string("v"));
    CHECK_EQ_INT(api_check_tags(&c, t, "tags"), 0);
    json_decref(t);

    t = json_object();
    for (int i = 0; i < 51; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(t, key, json_string("v"));
    }
    CHECK_EQ_INT(api_check_tags(&c, t, "tags"), -1);
    CHECK_CONTAINS(c.err_msg, "at most 50 tags");
    json_object_del(t, "k0");
    CHECK_EQ_INT(api_check_tags(&c, t, "tags"), 0);
    json_decref(t);
}

static void test_route(void)
{
    config_defaults(&barge_cfg);
    /* api_init compiles every operation's shape: a broken shape stops this test. */
    jobdef_init();
    api_init();
    const api_op *op = api_route("POST", "/v1/createcomputeenvironment");
    CHECK(op != NULL);
    CHECK_STR(op->name, "CreateComputeEnvironment");
    CHECK(op->compiled != NULL);
    CHECK(api_route("GET", "/v1/createcomputeenvironment") == NULL);
    CHECK(api_route("POST", "/v1/createcomputeenvironment/") == NULL);
    CHECK(api_route("POST", "/v1/CreateComputeEnvironment") == NULL);
    CHECK(api_route("POST", "/v1/nosuchthing") == NULL);
    op = api_route("GET", "/healthz");
    CHECK(op != NULL);
    CHECK_STR(op->name, "Healthz");
}

static void test_user_forms(void)
{
    static const char *const good[] = {"nobody", "0", "1000:1000", "app:wheel", "app:100",
                                       "100:wheel", "a.b_c-d", "host$", "4294967294",
                                       "x:4294967294", NULL};
    static const char *const bad[] = {"", ":", "a:", ":a", "a:b:c", "a b", "a\tb", "a\n",
                                      "-a", "a:-b", "a$b", "$", "4294967295", "99999999999",
                                      "x:4294967295", "caf\xc3\xa9", "a/b", NULL};
    for (const char *const *u = good; *u; u++)
        if (!jobdef_user_valid(*u)) CHECK_FAIL_("'%s' should be a user", *u);
    for (const char *const *u = bad; *u; u++)
        if (jobdef_user_valid(*u)) CHECK_FAIL_("'%s' should not be a user", *u);
}

/* A webhook's filter reaches GetEvents without the request's shape check: a status that is not
 * a string went to a %s as NULL. */
static void test_get_events_status_not_a_string(void)
{
    const api_op *op = api_route("POST", "/barge/v1/getevents");
    CHECK(op != NULL);
    api_ctx c = {0};
    json_t *req = json_pack("{s:[i]}", "status", 5), *resp = NULL;
    CHECK_EQ_INT(op->fn(&c, req, &resp), -1);
    CHECK_CONTAINS(c.err_msg, "status[0]: a non-string is not a status");
    json_decref(req);
    json_decref(resp);
}

int main(void)
{
    RUN(test_page_walk);
    RUN(test_page_defaults_and_edges);
    RUN(test_page_resumes_after_changes);
    RUN(test_page_refuses);
    RUN(test_names_and_arns);
    RUN(test_tags);
    RUN(test_route);
    RUN(test_user_forms);
    RUN(test_get_events_status_not_a_string);
    return 0;
}
