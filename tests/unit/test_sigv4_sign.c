/* sigv4_sign against the signatures an AWS SDK computes for the same requests.
 *
 * The expected canonical requests and Authorization headers were produced once with botocore
 * 1.43 (the AWS SDK for Python): for each case an AWSRequest with the same method, URL, headers
 * and body was signed by botocore.auth.SigV4Auth(Credentials(access_key, secret_key, token),
 * service, region).add_auth(request), with botocore.auth.get_current_datetime patched (via
 * unittest.mock.patch) to return the fixed UTC time written beside each case; the canonical
 * request is the one botocore passed to SigV4Auth.string_to_sign.  The strings below are its
 * output, pasted. */
#include <stdlib.h>

#include "common/sigv4.h"
#include "check.h"

#define NHEADERS(a) (sizeof(a) / sizeof *(a))

static void sign_ok(const sigv4_request *req, const sigv4_credentials *cred, time_t when,
                    sigv4_signed *out)
{
    char err[256] = "";
    int rc = sigv4_sign(req, cred, when, out, err, sizeof err);
    if (rc != 0) fprintf(stderr, "sigv4_sign: %s\n", err);
    CHECK_EQ_INT(rc, 0);
}

/* A Batch call as the CLI makes it; User-Agent is sent but not signed. */
static void test_batch_submitjob(void)
{
    static const char body[] = "{\"jobName\":\"hello\",\"jobQueue\":\"q\",\"jobDefinition\":\"d\"}";
    sigv4_header h[] = {
        {"Host", "127.0.0.1:8900"},
        {"Content-Type", "application/json"},
        {"User-Agent", "barge-cli"},
    };
    sigv4_request req = {"POST", "/v1/submitjob", NULL, h, NHEADERS(h), body, sizeof body - 1};
    sigv4_credentials cred = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL,
                              "us-east-1", "batch"};
    sigv4_signed s;
    sign_ok(&req, &cred, 1440938160 /* 2015-08-30T12:36:00Z */, &s);
    CHECK_STR(s.amz_date, "20150830T123600Z");
    CHECK_STR(s.payload_sha256,
              "5ce5f4163c70876faaa9913b41b121bbe4e23dfe75659ea2efe4ea10f7fe2433");
    CHECK_STR(s.canonical_request,
              "POST\n/v1/submitjob\n\ncontent-type:application/json\nhost:127.0.0.1:8900\n"
              "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
              "5ce5f4163c70876faaa9913b41b121bbe4e23dfe75659ea2efe4ea10f7fe2433");
    CHECK_STR(s.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/batch/aws4_request, "
              "SignedHeaders=content-type;host;x-amz-date, "
              "Signature=95b79ca73fa10ee060718bc2c723223155d58c396dfe534e11d7a8e7f177d004");
    sigv4_signed_free(&s);
}

/* A CloudWatch Logs call with temporary credentials: the token and X-Amz-Target are signed. */
static void test_logs_with_session_token(void)
{
    static const char body[] = "{\"logGroupName\":\"/aws/batch/job\",\"logStreamName\":"
                               "\"d/default/abc\",\"startFromHead\":true}";
    sigv4_header h[] = {
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", "Logs_20140328.GetLogEvents"},
        {"host", "localhost:8900"},
    };
    sigv4_request req = {"POST", "/", "", h, NHEADERS(h), body, sizeof body - 1};
    sigv4_credentials cred = {"barge", "barge", "session-token-value", "eu-west-3", "logs"};
    sigv4_signed s;
    sign_ok(&req, &cred, 1709251199 /* 2024-02-29T23:59:59Z */, &s);
    CHECK_STR(s.amz_date, "20240229T235959Z");
    CHECK_STR(s.canonical_request,
              "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:localhost:8900\n"
              "x-amz-date:20240229T235959Z\nx-amz-security-token:session-token-value\n"
              "x-amz-target:Logs_20140328.GetLogEvents\n\n"
              "content-type;host;x-amz-date;x-amz-security-token;x-amz-target\n"
              "5b43316bab446d4e6da5905d4a4ba0ef550cbffd8b15bd36260331ee5cc6dabd");
    CHECK_STR(s.authorization,
              "AWS4-HMAC-SHA256 Credential=barge/20240229/eu-west-3/logs/aws4_request, "
              "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
              "Signature=2c2b86dfcd30723a0db9cde7813da40673c1cfa31ce493715d8231fc76832fcc");
    sigv4_signed_free(&s);
}

/* A tags call: the encoded ARN in the path is encoded again, the query is sorted by key then
 * value (a bare key gets '='), header values are trimmed and their blanks collapsed, and an
 * empty body hashes as the empty string.  A stale X-Amz-Date from the caller is replaced. */
static void test_tags_path_query_and_blanks(void)
{
    sigv4_header h[] = {
        {"Host", "batch.example.com"},
        {"X-Custom", "  a   b\tc  "},
        {"X-Amz-Date", "19700101T000000Z"},
    };
    sigv4_request req = {"GET",
                         "/v1/tags/arn%3Aaws%3Abatch%3Aus-east-1%3A123456789012%3Ajob-queue%2Fq",
                         "b=2&a=1&a=0&c", h, NHEADERS(h), NULL, 0};
    sigv4_credentials cred = {"AKIDEXAMPLE", "secret", "", "us-east-1", "batch"};
    sigv4_signed s;
    sign_ok(&req, &cred, 1609556645 /* 2021-01-02T03:04:05Z */, &s);
    CHECK_STR(s.canonical_request,
              "GET\n/v1/tags/arn%253Aaws%253Abatch%253Aus-east-1%253A123456789012%253A"
              "job-queue%252Fq\na=0&a=1&b=2&c=\nhost:batch.example.com\n"
              "x-amz-date:20210102T030405Z\nx-custom:a b c\n\nhost;x-amz-date;x-custom\n"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_STR(s.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20210102/us-east-1/batch/aws4_request, "
              "SignedHeaders=host;x-amz-date;x-custom, "
              "Signature=04b3cb210ef8dc6153c58caec5fd8cd7f77f3ae4b276dffb96c7828191aef9a3");
    sigv4_signed_free(&s);
}

/* Empty and "." segments go, ".." climbs, a trailing slash stays; an IPv6 host is signed as
 * sent. */
static void test_path_normalization(void)
{
    sigv4_header h[] = {{"Host", "[::1]:8900"}, {"Content-Type", "application/json"}};
    sigv4_request req = {"POST", "/v1//a/./b/../describejobs/", NULL, h, NHEADERS(h), "{}", 2};
    sigv4_credentials cred = {"AK", "SK", NULL, "us-west-2", "batch"};
    sigv4_signed s;
    sign_ok(&req, &cred, 1924905600 /* 2030-12-31T00:00:00Z */, &s);
    CHECK_STR(s.canonical_request,
              "POST\n/v1/a/describejobs/\n\ncontent-type:application/json\nhost:[::1]:8900\n"
              "x-amz-date:20301231T000000Z\n\ncontent-type;host;x-amz-date\n"
              "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    CHECK_STR(s.authorization,
              "AWS4-HMAC-SHA256 Credential=AK/20301231/us-west-2/batch/aws4_request, "
              "SignedHeaders=content-type;host;x-amz-date, "
              "Signature=288d0ce1d6d7eebd8cd5e8ee5169da505698e3eebe778882b871176f7a1d1869");
    sigv4_signed_free(&s);
}

/* What sigv4_sign produces, sigv4_parse reads back. */
static void test_parse_reads_what_sign_writes(void)
{
    sigv4_header h[] = {{"Host", "h"}};
    sigv4_request req = {"POST", "/v1/listjobs", NULL, h, 1, "{}", 2};
    sigv4_credentials cred = {"AKID", "SK", NULL, "ap-south-1", "batch"};
    sigv4_signed s;
    sign_ok(&req, &cred, 1440938160, &s);
    sigv4_auth a;
    char err[256];
    CHECK_EQ_INT(sigv4_parse(s.authorization, &a, err, sizeof err), 0);
    CHECK_STR(a.access_key, "AKID");
    CHECK_STR(a.date, "20150830");
    CHECK_STR(a.region, "ap-south-1");
    CHECK_STR(a.service, "batch");
    CHECK_STR(a.signed_headers, "host;x-amz-date");
    CHECK_EQ_INT(strlen(a.signature), 64);
    sigv4_signed_free(&s);
}

static void test_missing_host_is_refused(void)
{
    sigv4_header h[] = {{"Content-Type", "application/json"}};
    sigv4_request req = {"POST", "/", NULL, h, 1, NULL, 0};
    sigv4_credentials cred = {"AK", "SK", NULL, "us-east-1", "batch"};
    sigv4_signed s;
    char err[256] = "";
    CHECK_EQ_INT(sigv4_sign(&req, &cred, 0, &s, err, sizeof err), -1);
    CHECK_CONTAINS(err, "Host");
    CHECK(s.authorization == NULL);
    sigv4_signed_free(&s);
}

int main(void)
{
    RUN(test_batch_submitjob);
    RUN(test_logs_with_session_token);
    RUN(test_tags_path_query_and_blanks);
    RUN(test_path_normalization);
    RUN(test_parse_reads_what_sign_writes);
    RUN(test_missing_host_is_refused);
    return 0;
}
