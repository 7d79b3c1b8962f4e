/* retry.c: AWS Batch's retry patterns and the evaluateOnExit decision. */
#include "server/model/retry.h"
#include "check.h"

static json_t *conditions(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v) CHECK_FAIL_("bad JSON in the test: %s", e.text);
    return v;
}

static void test_glob(void)
{
    /* Exact, unless the pattern ends with '*'. */
    CHECK(retry_glob("137", "137"));
    CHECK(!retry_glob("137", "1370"));
    CHECK(!retry_glob("137", "13"));
    CHECK(retry_glob("13*", "137"));
    CHECK(retry_glob("13*", "13"));
    CHECK(!retry_glob("13*", "1"));
    CHECK(retry_glob("*", ""));
    CHECK(retry_glob("*", "anything at all"));
    CHECK(retry_glob("", ""));
    CHECK(!retry_glob("", "x"));
    /* Only a trailing '*' is special; one elsewhere is a plain character. */
    CHECK(!retry_glob("Host*terminated.", "Host EC2 terminated."));
    CHECK(retry_glob("Host*terminated.", "Host*terminated."));
    CHECK(retry_glob("Host EC2*", "Host EC2 (instance i-0123) terminated."));
    /* Matching is case-sensitive, as AWS's is. */
    CHECK(!retry_glob("host ec2*", "Host EC2 (instance i-0123) terminated."));
}

static void test_decide(void)
{
    /* No conditions: retried (while attempts remain, which the caller checks). */
    CHECK_EQ_INT(retry_decide(NULL, "Essential container in task exited", NULL, "1"), 1);
    json_t *empty = conditions("[]");
    CHECK_EQ_INT(retry_decide(empty, "Essential container in task exited", NULL, "1"), 1);
    json_decref(empty);

    /* The first condition that matches decides, even when a later one would say otherwise. */
    json_t *c = conditions("[{\"onExitCode\": \"1\", \"action\": \"EXIT\"},"
                           " {\"onExitCode\": \"*\", \"action\": \"RETRY\"}]");
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "1"), 0);
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "2"), 1);
    json_decref(c);
    c = conditions("[{\"onExitCode\": \"*\", \"action\": \"RETRY\"},"
                   " {\"onExitCode\": \"1\", \"action\": \"EXIT\"}]");
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "1"), 1);
    json_decref(c);

    /* None matches: retried. */
    c = conditions("[{\"onExitCode\": \"3\", \"action\": \"EXIT\"},"
                   " {\"onReason\": \"OutOfMemory*\", \"action\": \"EXIT\"}]");
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "4"), 1);
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited",
                              "OutOfMemoryError: Container killed due to memory usage", NULL),
                 0);
    json_decref(c);

    /* onExitCode never matches an attempt that has no exit code (a lost host, a signal). */
    c = conditions("[{\"onExitCode\": \"*\", \"action\": \"EXIT\"}]");
    CHECK_EQ_INT(retry_decide(c, "Host EC2 (instance i-1) terminated.", NULL, NULL), 1);
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "0"), 0);
    json_decref(c);

    /* Every pattern a condition gives must match. */
    c = conditions("[{\"onStatusReason\": \"Essential*\", \"onExitCode\": \"13*\","
                   " \"action\": \"EXIT\"}]");
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "137"), 0);
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "1"), 1);
    CHECK_EQ_INT(retry_decide(c, "Host EC2 (instance i-1) terminated.", NULL, "137"), 1);
    json_decref(c);

    /* onReason tests the container's reason, which an attempt may not have: an absent one is
     * empty, so "*" matches it and a longer pattern does not. */
    c = conditions("[{\"onReason\": \"*\", \"action\": \"EXIT\"}]");
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "1"), 0);
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", "", "1"), 0);
    json_decref(c);
    c = conditions("[{\"onReason\": \"Out*\", \"action\": \"EXIT\"}]");
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "1"), 1);
    json_decref(c);

    /* Nextflow's rules: a lost host retries, anything else (a plain non-zero exit has no
     * container reason) exits. */
    c = conditions("[{\"onStatusReason\": \"Host EC2*\", \"action\": \"RETRY\"},"
                   " {\"onReason\": \"*\", \"action\": \"EXIT\"}]");
    CHECK_EQ_INT(retry_decide(c, "Host EC2 (instance i-1) terminated.", NULL, NULL), 1);
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited", NULL, "1"), 0);
    CHECK_EQ_INT(retry_decide(c, "Essential container in task exited",
                              "OutOfMemoryError: Container killed due to memory usage", NULL),
                 0);
    json_decref(c);

    /* The action is read without regard to case. */
    c = conditions("[{\"onExitCode\": \"1\", \"action\": \"exit\"},"
                   " {\"onExitCode\": \"2\", \"action\": \"Retry\"},"
                   " {\"onExitCode\": \"3\", \"action\": \"rEtRy\"}]");
    CHECK_EQ_INT(retry_decide(c, "x", NULL, "1"), 0);
    CHECK_EQ_INT(retry_decide(c, "x", NULL, "2"), 1);
    CHECK_EQ_INT(retry_decide(c, "x", NULL, "3"), 1);
    json_decref(c);
}

int main(void)
{
    RUN(test_glob);
    RUN(test_decide);
    return 0;
}
