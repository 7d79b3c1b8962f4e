/* sigv4.c: parsing the Authorization header that AWS clients send. */
#include "common/sigv4.h"
#include "check.h"

static char err[256];

/* Exactly what botocore sends (SigV4Auth.add_auth), without and with a session token. */
static const char botocore_plain[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/batch/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, "
    "Signature=ec859eb6785253b097550d9b1807289c21573ee96af9ee04a79953fe28b28e28";
static const char botocore_token[] =
    "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261121/eu-west-3/logs/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
    "Signature=e8b723c88ddfde00c976a1a85ae736123e436eef5464926899e47fe8db50cfb2";

static void test_botocore_headers(void)
{
    sigv4_auth a;
    CHECK_EQ_INT(sigv4_parse(botocore_plain, &a, err, sizeof err), 0);
    CHECK_STR(a.access_key, "AKIDEXAMPLE");
    CHECK_STR(a.date, "20261121");
    CHECK_STR(a.region, "us-east-1");
    CHECK_STR(a.service, "batch");
    CHECK_STR(a.signed_headers, "content-type;host;x-amz-date");
    CHECK_STR(a.signature, "ec859eb6785253b097550d9b1807289c21573ee96af9ee04a79953fe28b28e28");

    CHECK_EQ_INT(sigv4_parse(botocore_token, &a, err, sizeof err), 0);
    CHECK_STR(a.access_key, "ASIAEXAMPLE");
    CHECK_STR(a.region, "eu-west-3");
    CHECK_STR(a.service, "logs");
    CHECK_STR(a.signed_headers, "content-type;host;x-amz-date;x-amz-security-token");
}

static void test_parameter_order_and_spacing(void)
{
    /* Some SDKs put the parameters in another order or leave out the spaces. */
    sigv4_auth a;
    CHECK_EQ_INT(sigv4_parse("AWS4-HMAC-SHA256 Signature=abc123,SignedHeaders=host,"
                             "Credential=AK/20240101/r/batch/aws4_request",
                             &a, err, sizeof err),
                 0);
    CHECK_STR(a.access_key, "AK");
    CHECK_STR(a.signature, "abc123");
    CHECK_STR(a.signed_headers, "host");
}

/* Each malformed header is refused with a sentence that names what is wrong. */
static void refuses(const char *header, const char *fragment)
{
    sigv4_auth a;
    err[0] = '\0';
    if (sigv4_parse(header, &a, err, sizeof err) != -1)
        CHECK_FAIL_("sigv4_parse accepted \"%s\"", header);
    CHECK_CONTAINS(err, "Authorization header");
    CHECK_CONTAINS(err, fragment);
}

static void test_malformed(void)
{
    refuses("", "AWS4-HMAC-SHA256");
    refuses("Bearer abc", "AWS4-HMAC-SHA256");
    refuses("AWS AKID:signature", "AWS4-HMAC-SHA256");
    refuses("AWS4-HMAC-SHA1 Credential=AK/20240101/r/batch/aws4_request, SignedHeaders=host, "
            "Signature=ab", "AWS4-HMAC-SHA256");
    refuses("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab", "Credential");
    refuses("AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=ab", "Credential");
    refuses("AWS4-HMAC-SHA256 Credential=AK/20240101/r/batch/aws4_request, Signature=ab",
            "SignedHeaders");
    refuses("AWS4-HMAC-SHA256 Credential=AK/20240101/r/batch/aws4_request, SignedHeaders=host",
            "Signature");
    refuses("AWS4-HMAC-SHA256 Credential=AK/20240101/r/batch/aws4_request, SignedHeaders=host, "
            "Signature=not-hex!", "hexadecimal");
    /* A parameter name inside another parameter's value does not count. */
    refuses("AWS4-HMAC-SHA256 XCredential=AK/20240101/r/batch/aws4_request, SignedHeaders=host, "
            "Signature=ab", "Credential");
    refuses("AWS4-HMAC-SHA256 Credential=AK/20240101/r/batch, SignedHeaders=host, Signature=ab",
            "ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request");
    refuses("AWS4-HMAC-SHA256 Credential=AK/20240101/r/batch/aws4_request/x, SignedHeaders=host, "
            "Signature=ab", "ACCESS_KEY/YYYYMMDD");
    refuses("AWS4-HMAC-SHA256 Credential=AK/20240101/r/batch/aws5_request, SignedHeaders=host, "
            "Signature=ab", "aws4_request");
    refuses("AWS4-HMAC-SHA256 Credential=AK/2024011/r/batch/aws4_request, SignedHeaders=host, "
            "Signature=ab", "YYYYMMDD");
    refuses("AWS4-HMAC-SHA256 Credential=AK/2024O101/r/batch/aws4_request, SignedHeaders=host, "
            "Signature=ab", "date");
}

static void test_overlong_parts(void)
{
    /* Parts longer than their fields are refused, never cut or overflowed. */
    char h[2048];
    char key[200];
    memset(key, 'K', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    snprintf(h, sizeof h, "AWS4-HMAC-SHA256 Credential=%s/20240101/r/batch/aws4_request, "
                          "SignedHeaders=host, Signature=ab", key);
    refuses(h, "Credential");
    char sig[300];
    memset(sig, 'a', sizeof sig - 1);
    sig[sizeof sig - 1] = '\0';
    snprintf(h, sizeof h, "AWS4-HMAC-SHA256 Credential=AK/20240101/r/batch/aws4_request, "
                          "SignedHeaders=host, Signature=%s", sig);
    /* Said to be too long, not missing. */
    refuses(h, "the Signature is longer than 128 characters");
    char cred[600];
    memset(cred, 'C', sizeof cred - 1);
    cred[sizeof cred - 1] = '\0';
    snprintf(h, sizeof h, "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=host, Signature=ab",
             cred);
    refuses(h, "the Credential is longer than 511 characters");
    char region[100];
    memset(region, 'r', sizeof region - 1);
    region[sizeof region - 1] = '\0';
    snprintf(h, sizeof h, "AWS4-HMAC-SHA256 Credential=AK/20240101/%s/batch/aws4_request, "
                          "SignedHeaders=host, Signature=ab", region);
    refuses(h, "Credential");
    /* SignedHeaders past its field is said to be too long, not missing. */
    char names[1100];
    memset(names, 'x', sizeof names - 1);
    names[sizeof names - 1] = '\0';
    char big[1400];
    snprintf(big, sizeof big, "AWS4-HMAC-SHA256 Credential=AK/20240101/r/batch/aws4_request, "
                              "SignedHeaders=%s, Signature=ab", names);
    refuses(big, "SignedHeaders is longer than 1023 characters");
}

static void test_region_names(void)
{
    CHECK(sigv4_region_valid("us-east-1"));
    CHECK(sigv4_region_valid("eu-central-2"));
    CHECK(sigv4_region_valid("a"));
    const char *bad[] = {"", "-1", "east-", "US-EAST-1", "us_east_1", "us east", "é", "us.east"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!sigv4_region_valid(bad[i]));
    char r[SIGV4_REGION_MAX + 2];
    memset(r, 'r', SIGV4_REGION_MAX);
    r[SIGV4_REGION_MAX] = '\0';
    CHECK(sigv4_region_valid(r));
    r[SIGV4_REGION_MAX] = 'r';
    r[SIGV4_REGION_MAX + 1] = '\0';
    CHECK(!sigv4_region_valid(r));
}

int main(void)
{
    RUN(test_botocore_headers);
    RUN(test_parameter_order_and_spacing);
    RUN(test_malformed);
    RUN(test_overlong_parts);
    RUN(test_region_names);
    return 0;
}
