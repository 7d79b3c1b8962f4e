/* auth_temp.c: the roles file, issued credentials verified and authorized as their assumed
 * role, expiry, revocation while a request still holds the principal, and the cap per attempt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sigv4.h"
#include "server/model/config.h"
#include "server/api/auth.h"
#include "server/api/auth_temp.h"
#include "check.h"

static char creds_path[] = "/tmp/barge-test-auth-temp-XXXXXX";
static char roles_path[] = "/tmp/barge-test-auth-roles-XXXXXX";

static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

/* auth_temp_init with a roles file of this text: its return code, and the error in err. */
static int init_with(const char *text, char **err)
{
    char path[] = "/tmp/barge-test-auth-bad-XXXXXX";
    write_file(path, text);
    int rc = auth_temp_init(path, 0, err);
    unlink(path);
    return rc;
}

/* A SubmitJob request signed with c at when, verified at now. */
static int verify(const auth_temp_creds *c, const char *token, time_t when, time_t now,
                  const auth_principal **who, auth_refusal *why)
{
    const char *body = "{}";
    sigv4_header h[] = {{"Host", "127.0.0.1:8900"}, {"Content-Type", "application/json"}};
    sigv4_request req = {.method = "POST", .path = "/v1/submitjob", .headers = h,
                         .nheaders = 2, .body = body, .body_len = 2};
    sigv4_credentials cred = {.access_key = c->access_key, .secret_key = c->secret,
                              .session_token = token, .region = "us-east-1",
                              .service = "batch"};
    sigv4_signed s;
    char err[200];
    CHECK_EQ_INT(sigv4_sign(&req, &cred, when, &s, err, sizeof err), 0);
    sigv4_header got[] = {{"Host", "127.0.0.1:8900"}, {"content-type", "application/json"},
                          {"X-Amz-Date", s.amz_date}, {"Authorization", s.authorization},
                          {"X-Amz-Security-Token", token}};
    auth_request r = {.method = "POST", .path = "/v1/submitjob", .headers = got, .nheaders = 5,
                      .body = body, .body_len = 2, .service = "batch", .now = now};
    int rc = auth_verify(&r, who, why);
    sigv4_signed_free(&s);
    return rc;
}

static void test_roles_file_mistakes(void)
{
    char *err = NULL;
    CHECK_EQ_INT(init_with("[\"submit\"]", &err), -1);
    CHECK_CONTAINS(err, "must be a JSON object of role ARNs");
    free(err);
    auth_temp_free();
    CHECK_EQ_INT(init_with("{\"arn:aws:iam::123456789012:user/bob\": \"read\"}", &err), -1);
    CHECK_CONTAINS(err, "is not a role ARN");
    free(err);
    auth_temp_free();
    CHECK_EQ_INT(init_with("{\"arn:aws:iam::123456789012:role/r\": [\"read\", \"nope\"]}", &err),
                 -1);
    CHECK_CONTAINS(err, "names 'nope', which is neither built in");
    free(err);
    auth_temp_free();
    CHECK_EQ_INT(init_with("{\"arn:aws:iam::123456789012:role/r\": []}", &err), -1);
    CHECK_CONTAINS(err, "give a policy's name or a list of names");
    free(err);
    auth_temp_free();
}

static void test_issue_verify_authorize(void)
{
    time_t t = 1796096686;
    auth_temp_creds c;
    char why_text[600];
    CHECK_EQ_INT(auth_temp_issue("arn:aws:iam::123456789012:role/nobody-knows", "task", "job-x", 1,
                                 t, &c, why_text, sizeof why_text), -1);
    CHECK_CONTAINS(why_text, "ECS was unable to assume the role "
                             "'arn:aws:iam::123456789012:role/nobody-knows'");
    CHECK_EQ_INT(auth_temp_issue("arn:aws:iam::123456789012:role/path/reader", "task1", "job-a",
                                 1, t, &c, why_text, sizeof why_text), 0);
    CHECK(strncmp(c.access_key, "ASIA", 4) == 0 && strlen(c.access_key) == 20);
    CHECK_EQ_INT(strlen(c.secret), 40);
    CHECK_EQ_INT(strlen(c.token), 128);
    CHECK_STR(c.expiration, "2026-12-01T04:44:46Z"); /* t + 3600 */
    CHECK_EQ_INT(auth_temp_live(), 1);

    const auth_principal *who = NULL;
    auth_refusal why;
    CHECK_EQ_INT(verify(&c, c.token, t, t, &who, &why), 0);
    CHECK_STR(auth_principal_arn(who), "arn:aws:sts::123456789012:assumed-role/reader/task1");
    const char *res[] = {"arn:aws:batch:us-east-1:123456789012:job-queue/q"};
    CHECK_EQ_INT(auth_check(who, "batch:DescribeJobs", res, 1, NULL, 0, &why), 0);
    CHECK_EQ_INT(auth_check(who, "batch:SubmitJob", res, 1, NULL, 0, &why), -1);
    CHECK_STR(why.type, "AccessDeniedException");
    CHECK_CONTAINS(why.msg, "User: arn:aws:sts::123456789012:assumed-role/reader/task1 is not "
                            "authorized to perform: batch:SubmitJob");
    auth_principal_release(who);

    /* Without their token, or with another, the credentials are not recognized. */
    CHECK_EQ_INT(verify(&c, NULL, t, t, &who, &why), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");
    CHECK_EQ_INT(verify(&c, "another", t, t, &who, &why), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");

    /* Expired: refused as AWS refuses an expired session. */
    CHECK_EQ_INT(verify(&c, c.token, t + 3600, t + 3600, &who, &why), -1);
    CHECK_STR(why.type, "ExpiredTokenException");
    CHECK_EQ_INT(verify(&c, c.token, t + 3599, t + 3599, &who, &why), 0);

    /* Revoked while a request holds the principal: it stays readable until released. */
    auth_temp_revoke("job-a", 2, NULL, NULL); /* another attempt: nothing happens */
    CHECK_EQ_INT(auth_temp_live(), 1);
    auth_temp_revoke("job-a", 1, NULL, NULL);
    CHECK_EQ_INT(auth_temp_live(), 0);
    CHECK_STR(auth_principal_arn(who), "arn:aws:sts::123456789012:assumed-role/reader/task1");
    auth_principal_release(who);
    CHECK_EQ_INT(verify(&c, c.token, t, t, &who, &why), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");
}

static void test_cap_per_attempt(void)
{
    time_t t = 1796096686;
    auth_temp_creds first, c;
    char why_text[600];
    const char *role = "arn:aws:iam::123456789012:role/submitter";
    CHECK_EQ_INT(auth_temp_issue(role, "s", "job-b", 3, t, &first, why_text, sizeof why_text), 0);
    CHECK_STR(first.dropped, "");
    auth_temp_creds second;
    CHECK_EQ_INT(auth_temp_issue(role, "s", "job-b", 3, t, &second, why_text, sizeof why_text),
                 0);
    for (int i = 2; i < AUTH_TEMP_PER_ATTEMPT + 2; i++) {
        CHECK_EQ_INT(auth_temp_issue(role, "s", "job-b", 3, t, &c, why_text, sizeof why_text), 0);
        /* The issue past the cap names the oldest, for the caller to drop from the store. */
        CHECK_STR(c.dropped, i < AUTH_TEMP_PER_ATTEMPT       ? ""
                             : i == AUTH_TEMP_PER_ATTEMPT ? first.access_key
                                                          : second.access_key);
    }
    CHECK(strcmp(first.access_key, c.access_key) != 0);
    CHECK_EQ_INT(auth_temp_live(), AUTH_TEMP_PER_ATTEMPT);
    const auth_principal *who;
    auth_refusal why;
    CHECK_EQ_INT(verify(&first, first.token, t, t, &who, &why), -1); /* the oldest went */
    CHECK_EQ_INT(verify(&c, c.token, t, t, &who, &why), 0);
    const char *res[] = {"arn:aws:batch:us-east-1:123456789012:job-queue/q"};
    CHECK_EQ_INT(auth_check(who, "batch:SubmitJob", res, 1, NULL, 0, &why), 0);
    auth_principal_release(who);
    auth_temp_revoke("job-b", 3, NULL, NULL);
    CHECK_EQ_INT(auth_temp_live(), 0);
}

typedef struct told {
    char keys[4][21];
    int n;
} told;

static void tell(void *arg, const char *access_key)
{
    told *t = arg;
    CHECK(t->n < 4);
    snprintf(t->keys[t->n++], sizeof t->keys[0], "%s", access_key);
}

/* What the store keeps: read back, the credentials work again as the same assumed role after
 * the table lost them (a new server), until they expire or their attempt ends; revoking tells
 * the caller each access key, so that it can drop the records. */
static void test_record_restores_the_credentials(void)
{
    time_t t = 1796096686;
    const char *role = "arn:aws:iam::123456789012:role/path/reader";
    auth_temp_creds c;
    char why_text[600];
    CHECK_EQ_INT(auth_temp_issue(role, "task7", "job-r", 2, t, &c, why_text, sizeof why_text), 0);
    char *text = auth_temp_record_text(role, "task7", "job-r", 2, &c);
    CHECK(text != NULL);
    auth_temp_forget_all();
    CHECK_EQ_INT(auth_temp_live(), 0);
    const auth_principal *who;
    auth_refusal why;
    CHECK_EQ_INT(verify(&c, c.token, t, t, &who, &why), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");

    auth_temp_record rec;
    CHECK_EQ_INT(auth_temp_record_read(c.access_key, text, strlen(text), &rec), 0);
    CHECK_STR(rec.role, role);
    CHECK_STR(rec.job_id, "job-r");
    CHECK_EQ_INT(rec.attempt, 2);
    CHECK_STR(rec.creds.expiration, c.expiration);
    CHECK_EQ_INT(auth_temp_restore(&rec), 0);
    CHECK_EQ_INT(verify(&c, c.token, t, t, &who, &why), 0);
    CHECK_STR(auth_principal_arn(who), "arn:aws:sts::123456789012:assumed-role/reader/task7");
    auth_principal_release(who);
    CHECK_EQ_INT(verify(&c, c.token, t + 3600, t + 3600, &who, &why), -1);
    CHECK_STR(why.type, "ExpiredTokenException");

    told gone = {0};
    auth_temp_revoke("job-r", 2, tell, &gone);
    CHECK_EQ_INT(gone.n, 1);
    CHECK_STR(gone.keys[0], c.access_key);
    CHECK_EQ_INT(verify(&c, c.token, t, t, &who, &why), -1);

    /* Not a record, or one missing a member: refused, nothing restored. */
    CHECK_EQ_INT(auth_temp_record_read(c.access_key, "[]", 2, &rec), -1);
    text[strlen(text) / 2] = '\0';
    CHECK_EQ_INT(auth_temp_record_read(c.access_key, text, strlen(text), &rec), -1);
    free(text);
    /* A role --roles no longer names is not restored. */
    rec = (auth_temp_record){.attempt = 1};
    snprintf(rec.role, sizeof rec.role, "arn:aws:iam::123456789012:role/gone");
    snprintf(rec.job_id, sizeof rec.job_id, "job-s");
    CHECK_EQ_INT(auth_temp_restore(&rec), -1);
    CHECK_EQ_INT(auth_temp_live(), 0);
}

int main(void)
{
    config_defaults(&barge_cfg);
    write_file(creds_path, "[admin]\naws_access_key_id = AKIAADMIN\n"
                           "aws_secret_access_key = adminsecret\nbarge_policy = admin\n");
    char *err = NULL;
    CHECK_EQ_INT(auth_load(creds_path, NULL, &err), 0);
    RUN(test_roles_file_mistakes);
    write_file(roles_path, "{\"arn:aws:iam::123456789012:role/path/reader\": \"read\",\n"
                           " \"arn:aws:iam::123456789012:role/submitter\": [\"submit\", \"read\"]}");
    int rc = auth_temp_init(roles_path, 0, &err);
    if (rc < 0) fprintf(stderr, "auth_temp_init: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(auth_temp_role_count(), 2);
    RUN(test_issue_verify_authorize);
    RUN(test_cap_per_attempt);
    RUN(test_record_restores_the_credentials);
    auth_temp_free();
    auth_free();
    unlink(creds_path);
    unlink(roles_path);
    return 0;
}
