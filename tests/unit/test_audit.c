/* audit.c: each record is one line of JSON with CloudTrail's members, for an anonymous caller,
 * a user and a job's role, with strings that need escaping; checked against the same record
 * built as a jansson tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "server/base/audit.h"
#include "check.h"

static char dir[] = "/tmp/barge-test-audit-XXXXXX";

/* The lines written so far, parsed; n set to their number. */
static json_t **lines(size_t *n)
{
    char *path = xasprintf("%s/audit.log", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    json_t **out = NULL;
    *n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *v = json_loads(line, 0, &err);
        if (!v) CHECK_FAIL_("line %zu is not JSON (%s): %s", *n + 1, err.text, line);
        out = xrealloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = v;
    }
    free(line);
    fclose(f);
    free(path);
    return out;
}

/* What the record must hold, but for its time (checked apart). */
static void check_record(json_t *got, json_t *want)
{
    const char *when = json_string_value(json_object_get(got, "eventTime"));
    CHECK(when && strlen(when) == 20 && when[4] == '-' && when[10] == 'T' && when[19] == 'Z');
    json_object_del(got, "eventTime");
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
        CHECK_FAIL_("record\n  %s\nwanted\n  %s", g, w);
    }
}

static void test_records(void)
{
    CHECK(mkdtemp(dir) != NULL);
    char *err = NULL;
    CHECK_EQ_INT(audit_open(dir, &err), 0);
    json_t *params = json_pack("{s:s, s:s}", "jobName", "quote\" back\\ tab\t é",
                               "jobQueue", "q");
    json_t *resp = json_pack("{s:s}", "jobId", "0b1c");
    audit_event anon = {.source = "batch.amazonaws.com", .name = "SubmitJob",
                        .region = "us-east-1", .params = params, .response = resp,
                        .status = 200, .request_id = "r-1"};
    audit_record(&anon);
    audit_event user = {.source = "batch.amazonaws.com", .name = "CancelJob",
                        .region = "eu-west-1", .source_ip = "127.0.0.1",
                        .user_agent = "aws-cli/1 \"x\"", .access_key = "AKIAX",
                        .principal = "arn:aws:iam::123456789012:user/alice", .status = 400,
                        .error_code = "ClientException", .request_id = "r-2"};
    audit_record(&user);
    audit_event role = {.source = "logs.amazonaws.com", .name = "PutLogEvents",
                        .region = "us-east-1", .access_key = "ASIAY",
                        .principal = "arn:aws:sts::123456789012:assumed-role/etl/job-7",
                        .status = 200};
    audit_record(&role);
    audit_close();

    size_t n;
    json_t **got = lines(&n);
    CHECK_EQ_INT(n, 3);
    json_t *want = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s}, s:i, s:O, s:O, s:s, s:b}", "eventVersion", "1.08",
        "eventSource", "batch.amazonaws.com", "eventName", "SubmitJob", "awsRegion",
        "us-east-1", "userIdentity", "type", "Anonymous", "httpStatus", 200,
        "requestParameters", params, "responseElements", resp, "requestID", "r-1", "readOnly",
        0);
    check_record(got[0], want);
    json_decref(want);
    want = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:i, s:s, s:s, s:n, s:n, s:s, s:s, s:b}",
        "eventVersion", "1.08", "eventSource", "batch.amazonaws.com", "eventName", "CancelJob",
        "awsRegion", "eu-west-1", "userIdentity", "type", "IAMUser", "accessKeyId", "AKIAX",
        "arn", "arn:aws:iam::123456789012:user/alice", "userName", "alice", "httpStatus", 400,
        "sourceIPAddress", "127.0.0.1", "userAgent", "aws-cli/1 \"x\"", "requestParameters",
        "responseElements", "errorCode", "ClientException", "requestID", "r-2", "readOnly", 0);
    check_record(got[1], want);
    json_decref(want);
    want = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:{s:{s:s, s:s}}}, s:i, s:n, s:n, s:b}",
        "eventVersion", "1.08", "eventSource", "logs.amazonaws.com", "eventName",
        "PutLogEvents", "awsRegion", "us-east-1", "userIdentity", "type", "AssumedRole",
        "accessKeyId", "ASIAY", "arn", "arn:aws:sts::123456789012:assumed-role/etl/job-7",
        "sessionContext", "sessionIssuer", "type", "Role", "userName", "etl", "httpStatus", 200,
        "requestParameters", "responseElements", "readOnly", 0);
    check_record(got[2], want);
    json_decref(want);
    for (size_t i = 0; i < n; i++) json_decref(got[i]);
    free(got);
    json_decref(params);
    json_decref(resp);
    char *path = xasprintf("%s/audit.log", dir);
    unlink(path);
    free(path);
    rmdir(dir);
}

/* A record that a full disk cuts short tears only itself: the next starts on a line of its own
 * (it was appended to the torn one, spoiling both).  The file size limit stands in for the
 * full disk: a write across it is cut short. */
static void test_a_torn_record_spoils_no_other(void)
{
    static char tdir[] = "/tmp/barge-test-audit-torn-XXXXXX";
    CHECK(mkdtemp(tdir) != NULL);
    char *err = NULL, *path = xasprintf("%s/audit.log", tdir);
    CHECK_EQ_INT(audit_open(tdir, &err), 0);
    audit_event e = {.source = "batch.amazonaws.com", .name = "SubmitJob",
                     .region = "us-east-1", .status = 200, .request_id = "r-1"};
    audit_record(&e);
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    struct rlimit was, cut;
    CHECK_EQ_INT(getrlimit(RLIMIT_FSIZE, &was), 0);
    cut = was;
    cut.rlim_cur = (rlim_t)st.st_size + 40;
    signal(SIGXFSZ, SIG_IGN);
    CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &cut), 0);
    e.request_id = "r-2";
    audit_record(&e); /* cut short */
    e.request_id = "r-3";
    audit_record(&e); /* nothing fits: lost */
    CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &was), 0);
    e.request_id = "r-4";
    audit_record(&e);
    audit_close();
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char *line = NULL;
    size_t cap = 0;
    int n = 0, whole = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *v = json_loads(line, 0, NULL);
        n++;
        if (v) {
            const char *id = json_string_value(json_object_get(v, "requestID"));
            CHECK(id && (strcmp(id, "r-1") == 0 || strcmp(id, "r-4") == 0));
            whole++;
        }
        json_decref(v);
    }
    free(line);
    fclose(f);
    CHECK_EQ_INT(n, 3);     /* r-1, the torn r-2, r-4 */
    CHECK_EQ_INT(whole, 2); /* r-1 and r-4 whole */
    unlink(path);
    free(path);
    rmdir(tdir);
}

int main(void)
{
    RUN(test_records);
    RUN(test_a_torn_record_spoils_no_other);
    return 0;
}
