/* auth.c: the credentials file, the verifier (against AWS's own SigV4 test-suite example and
 * against sigv4_sign), the clock window, session tokens, and authorization by policy. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sigv4.h"
#include "server/model/config.h"
#include "server/api/auth.h"
#include "check.h"

static char path[] = "/tmp/barge-test-auth-XXXXXX";

static void load(void)
{
    config_defaults(&barge_cfg);
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    static const char text[] =
        "# principals\n"
        "[example]\n"
        "aws_access_key_id = AKIDEXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n"
        "barge_policy = admin\n"
        "\n"
        "[reader]\n"
        "aws_access_key_id=AKIAREADER\n"
        "aws_secret_access_key=readersecret\n"
        "region = us-east-1\n"
        "barge_policy = read\n"
        "[temp]\n"
        "aws_access_key_id = ASIATEMP\n"
        "aws_secret_access_key = tempsecret\n"
        "aws_session_token = TOKEN123\n"
        "barge_policy = submit, read\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    char *err = NULL;
    int rc = auth_load(path, NULL, &err);
    if (rc < 0) fprintf(stderr, "auth_load: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(auth_principal_count(), 3);
    CHECK(auth_enabled());
}

/* AWS's SigV4 test suite, "get-vanilla": GET / to example.amazonaws.com at 20150830T123600Z for
 * the service "service" in us-east-1. */
static void test_aws_test_suite_get_vanilla(void)
{
    sigv4_header h[] = {
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", "20150830T123600Z"},
        {"Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                          "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                          "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    };
    auth_request r = {.method = "GET", .path = "/", .headers = h, .nheaders = 3,
                      .service = "service", .now = 1440938160};
    const auth_principal *who = NULL;
    auth_refusal why;
    int rc = auth_verify(&r, &who, &why);
    if (rc < 0) fprintf(stderr, "%s: %s\n", why.type, why.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK_STR(auth_principal_arn(who), "arn:aws:iam::123456789012:user/example");
    /* One changed hex digit. */
    h[2].value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                 "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf32";
    CHECK_EQ_INT(auth_verify(&r, &who, &why), -1);
    CHECK_STR(why.type, "InvalidSignatureException");
    CHECK_CONTAINS(why.msg, "The request signature we calculated does not match");
    CHECK(strstr(why.msg, "5fa00fa3") == NULL);
}

/* A request signed by sigv4_sign (the CLI's signer) at `when`, verified at `now`. */
static int verify_signed(const char *key, const char *secret, const char *token,
                         const char *body, const char *body_seen, time_t when, time_t now,
                         auth_refusal *why, const auth_principal **who)
{
    sigv4_header h[] = {{"Host", "127.0.0.1:8900"}, {"Content-Type", "application/json"},
                        {"User-Agent", "test"}};
    sigv4_request req = {.method = "POST", .path = "/v1/submitjob", .headers = h,
                         .nheaders = 3, .body = body, .body_len = strlen(body)};
    sigv4_credentials cred = {.access_key = key, .secret_key = secret, .session_token = token,
                              .region = "us-east-1", .service = "batch"};
    sigv4_signed s;
    char err[200];
    CHECK_EQ_INT(sigv4_sign(&req, &cred, when, &s, err, sizeof err), 0);
    sigv4_header got[6] = {{"Host", "127.0.0.1:8900"}, {"content-type", "application/json"},
                           {"User-Agent", "changed on the way"}, {"X-Amz-Date", s.amz_date},
                           {"Authorization", s.authorization}, {"X-Amz-Security-Token", token}};
    auth_request r = {.method = "POST", .path = "/v1/submitjob", .headers = got,
                      .nheaders = token ? 6 : 5, .body = body_seen,
                      .body_len = strlen(body_seen), .service = "batch", .now = now};
    int rc = auth_verify(&r, who, why);
    sigv4_signed_free(&s);
    return rc;
}

static void test_verify_what_sigv4_sign_signs(void)
{
    const char *b = "{\"jobName\":\"j\",\"jobQueue\":\"q\",\"jobDefinition\":\"d\"}";
    time_t t = 1796096686;
    auth_refusal why;
    const auth_principal *who;
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", NULL, b, b, t, t, &why, &who), 0);
    CHECK_STR(auth_principal_arn(who), "arn:aws:iam::123456789012:user/reader");
    /* The cached key serves the next request of the day; another day derives a new one. */
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", NULL, b, b, t, t, &why, &who), 0);
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", NULL, b, b, t + 86400, t + 86400,
                               &why, &who), 0);
    CHECK_EQ_INT(verify_signed("AKIAREADER", "wrong", NULL, b, b, t, t, &why, &who), -1);
    CHECK_STR(why.type, "InvalidSignatureException");
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", NULL, b, "{}", t, t, &why, &who),
                 -1);
    CHECK_STR(why.type, "InvalidSignatureException");
    CHECK_EQ_INT(verify_signed("AKIANOBODY", "x", NULL, b, b, t, t, &why, &who), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");
    CHECK_STR(why.msg, "The security token included in the request is invalid.");
}

/* A caller's own X-Amz-Content-Sha256 (in capitals here, which the server takes) is what the
 * signature covers, as the server reads it; a value that is not the body's hash is refused by
 * the server, not signed over with the signer's own. */
static void test_caller_content_sha256(void)
{
    time_t t = 1796096686;
    char hash[65], upper[65];
    sigv4_sha256_hex("{}", 2, hash);
    for (int i = 0; i < 65; i++) upper[i] = (char)toupper((unsigned char)hash[i]);
    const char *cases[] = {upper, "UNSIGNED-PAYLOAD"};
    for (int k = 0; k < 2; k++) {
        sigv4_header h[] = {{"Host", "127.0.0.1:8900"}, {"X-Amz-Content-Sha256", cases[k]}};
        sigv4_request req = {.method = "POST", .path = "/v1/listjobs", .headers = h,
                             .nheaders = 2, .body = "{}", .body_len = 2};
        sigv4_credentials cred = {.access_key = "AKIAREADER", .secret_key = "readersecret",
                                  .region = "us-east-1", .service = "batch"};
        sigv4_signed s;
        char err[200];
        CHECK_EQ_INT(sigv4_sign(&req, &cred, t, &s, err, sizeof err), 0);
        CHECK_STR(s.payload_sha256, cases[k]);
        sigv4_header got[] = {h[0], h[1], {"X-Amz-Date", s.amz_date},
                              {"Authorization", s.authorization}};
        auth_request r = {.method = "POST", .path = "/v1/listjobs", .headers = got,
                          .nheaders = 4, .body = "{}", .body_len = 2, .service = "batch",
                          .now = t};
        const auth_principal *who;
        auth_refusal why;
        int rc = auth_verify(&r, &who, &why);
        if (k == 0) {
            CHECK_EQ_INT(rc, 0);
            auth_principal_release(who);
        } else {
            CHECK_EQ_INT(rc, -1);
            CHECK_STR(why.type, "InvalidSignatureException");
        }
        sigv4_signed_free(&s);
    }
    /* Longer than any hash: refused by the signer with a sentence. */
    char big[100];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sigv4_header h[] = {{"Host", "h"}, {"X-Amz-Content-Sha256", big}};
    sigv4_request req = {.method = "POST", .path = "/", .headers = h, .nheaders = 2};
    sigv4_credentials cred = {.access_key = "A", .secret_key = "s", .region = "r",
                              .service = "batch"};
    sigv4_signed s;
    char err[200];
    CHECK_EQ_INT(sigv4_sign(&req, &cred, t, &s, err, sizeof err), -1);
    CHECK_STR(err, "sigv4: X-Amz-Content-Sha256 is longer than 64 characters");
    sigv4_signed_free(&s);
}

/* A header sent twice is signed as its values each trimmed, then joined with commas (botocore,
 * sigv4_sign); libmicrohttpd keeps the blanks that end a value, which the verifier must trim
 * from each value before joining them as well. */
static void test_repeated_header_trailing_blanks(void)
{
    time_t t = 1796096686;
    sigv4_header h[] = {{"Host", "127.0.0.1:8900"}, {"X-Tag", "a  b \t "}, {"x-tag", "c"}};
    sigv4_request req = {.method = "POST", .path = "/v1/listjobs", .headers = h, .nheaders = 3,
                         .body = "{}", .body_len = 2};
    sigv4_credentials cred = {.access_key = "AKIAREADER", .secret_key = "readersecret",
                              .region = "us-east-1", .service = "batch"};
    sigv4_signed s;
    char err[200];
    CHECK_EQ_INT(sigv4_sign(&req, &cred, t, &s, err, sizeof err), 0);
    CHECK_CONTAINS(s.canonical_request, "x-tag:a b,c\n");
    sigv4_header got[] = {h[0], h[1], h[2], {"X-Amz-Date", s.amz_date},
                          {"Authorization", s.authorization}};
    auth_request r = {.method = "POST", .path = "/v1/listjobs", .headers = got, .nheaders = 5,
                      .body = "{}", .body_len = 2, .service = "batch", .now = t};
    const auth_principal *who;
    auth_refusal why;
    int rc = auth_verify(&r, &who, &why);
    if (rc < 0) fprintf(stderr, "%s: %s\n", why.type, why.msg);
    CHECK_EQ_INT(rc, 0);
    auth_principal_release(who);
    sigv4_signed_free(&s);
}

static void test_clock_window(void)
{
    const char *b = "{}";
    time_t t = 1796096686; /* 20261201T034446Z */
    auth_refusal why;
    const auth_principal *who;
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", NULL, b, b, t, t + 900, &why, &who),
                 0);
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", NULL, b, b, t, t - 900, &why, &who),
                 0);
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", NULL, b, b, t, t + 901, &why, &who),
                 -1);
    CHECK_STR(why.type, "InvalidSignatureException");
    CHECK_STR(why.msg, "Signature expired: 20261201T034446Z is now earlier than "
                       "20261201T034447Z (20261201T035947Z - 15 min.)");
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", NULL, b, b, t, t - 901, &why, &who),
                 -1);
    CHECK_STR(why.msg, "Signature not yet current: 20261201T034446Z is still later than "
                       "20261201T034445Z (20261201T032945Z + 15 min.)");
}

static void test_session_token(void)
{
    time_t t = 1796096686;
    auth_refusal why;
    const auth_principal *who;
    CHECK_EQ_INT(verify_signed("ASIATEMP", "tempsecret", "TOKEN123", "{}", "{}", t, t, &why,
                               &who), 0);
    CHECK_EQ_INT(verify_signed("ASIATEMP", "tempsecret", "TOKEN124", "{}", "{}", t, t, &why,
                               &who), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");
    CHECK_EQ_INT(verify_signed("ASIATEMP", "tempsecret", NULL, "{}", "{}", t, t, &why, &who), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", "TOKEN123", "{}", "{}", t, t, &why,
                               &who), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");
}

static void test_authorize(void)
{
    time_t t = 1796096686;
    auth_refusal why;
    const auth_principal *reader, *temp;
    CHECK_EQ_INT(verify_signed("AKIAREADER", "readersecret", NULL, "{}", "{}", t, t, &why,
                               &reader), 0);
    CHECK_EQ_INT(verify_signed("ASIATEMP", "tempsecret", "TOKEN123", "{}", "{}", t, t, &why,
                               &temp), 0);
    json_t *req = json_pack("{s:s, s:s, s:s}", "jobName", "j", "jobQueue", "q",
                            "jobDefinition", "d:2");
    CHECK_EQ_INT(auth_authorize(reader, "SubmitJob", req, &why), -1);
    CHECK_EQ_INT(why.status, 403);
    CHECK_STR(why.type, "AccessDeniedException");
    CHECK_STR(why.msg, "User: arn:aws:iam::123456789012:user/reader is not authorized to "
                       "perform: batch:SubmitJob on resource: "
                       "arn:aws:batch:us-east-1:123456789012:job-queue/q because no "
                       "identity-based policy allows the batch:SubmitJob action");
    CHECK_EQ_INT(auth_authorize(temp, "SubmitJob", req, &why), 0);
    CHECK_EQ_INT(auth_authorize(reader, "DescribeJobs", req, &why), 0);
    CHECK_EQ_INT(auth_authorize(temp, "CreateJobQueue", req, &why), -1);
    /* Developer mode has no principal and no policy. */
    CHECK_EQ_INT(auth_authorize(NULL, "CreateJobQueue", req, &why), 0);
    json_decref(req);
    const char body[] = "{\"logGroupName\":\"/aws/batch/job\",\"logStreamName\":\"s\"}";
    CHECK_EQ_INT(auth_authorize_logs(reader, "Logs_20140328.GetLogEvents", body,
                                     sizeof body - 1, &why), 0);
}

int main(void)
{
    load();
    RUN(test_aws_test_suite_get_vanilla);
    RUN(test_verify_what_sigv4_sign_signs);
    RUN(test_repeated_header_trailing_blanks);
    RUN(test_caller_content_sha256);
    RUN(test_clock_window);
    RUN(test_session_token);
    RUN(test_authorize);
    auth_free();
    unlink(path);
    return 0;
}
