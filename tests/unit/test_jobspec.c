/* jobspec.c: where a job's attempts write their logs, from its container's logConfiguration;
 * the scalars the scheduler reads, saturated at an int's range. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "server/model/jobspec.h"
#include "check.h"

/* A spec whose definition is "jd" and whose container has this logConfiguration (JSON text, or
 * NULL for none). */
static jobspec *spec_with(const char *log_configuration)
{
    json_t *desc = json_pack("{s:s, s:s, s:{s:s}}", "jobName", "j", "jobDefinition",
                             "arn:aws:batch:us-east-1:123456789012:job-definition/jd:3",
                             "container", "image", "busybox");
    if (log_configuration) {
        json_error_t e;
        json_t *lc = json_loads(log_configuration, 0, &e);
        if (!lc) CHECK_FAIL_("bad test JSON: %s", e.text);
        json_object_set_new(json_object_get(desc, "container"), "logConfiguration", lc);
    }
    return jobspec_make(desc);
}

static void check_logs(const char *lc, const char *group, const char *prefix)
{
    jobspec *s = spec_with(lc);
    CHECK_STR(jobspec_log_group(s), group);
    CHECK_STR(jobspec_log_prefix(s), prefix);
    jobspec_release(s);
}

static void test_log_group_and_prefix(void)
{
    check_logs(NULL, "/aws/batch/job", "jd");
    check_logs("{\"logDriver\": \"awslogs\"}", "/aws/batch/job", "jd");
    check_logs("{\"logDriver\": \"awslogs\", \"options\": {\"awslogs-group\": \"/g\","
               " \"awslogs-stream-prefix\": \"p/q\"}}", "/g", "p/q");
    check_logs("{\"logDriver\": \"awslogs\", \"options\": {\"awslogs-group\": \"/g\"}}", "/g",
               "jd");
    check_logs("{\"logDriver\": \"awslogs\", \"options\": {\"awslogs-stream-prefix\": \"p\"}}",
               "/aws/batch/job", "p");
    /* Another driver's options are not awslogs options. */
    check_logs("{\"logDriver\": \"json-file\", \"options\": {\"awslogs-group\": \"/g\"}}",
               "/aws/batch/job", "jd");
    /* A definition stored before RegisterJobDefinition checked the names keeps the defaults
     * rather than write where no client could read. */
    check_logs("{\"logDriver\": \"awslogs\", \"options\": {\"awslogs-group\": \"bad group\","
               " \"awslogs-stream-prefix\": \"a:b\"}}", "/aws/batch/job", "jd");
}

static void test_prefix_rule(void)
{
    char p[JOBSPEC_LOG_PREFIX_MAX + 2];
    memset(p, 'p', sizeof p);
    p[JOBSPEC_LOG_PREFIX_MAX] = '\0';
    CHECK(jobspec_log_prefix_valid(p));
    /* The longest prefix still makes a stream name CloudWatch accepts. */
    CHECK_EQ_INT(strlen(p) + strlen("/default/") + 32, LOGSTORE_NAME_MAX);
    p[JOBSPEC_LOG_PREFIX_MAX] = 'p';
    p[JOBSPEC_LOG_PREFIX_MAX + 1] = '\0';
    CHECK(!jobspec_log_prefix_valid(p));
    CHECK(!jobspec_log_prefix_valid(""));
    CHECK(!jobspec_log_prefix_valid("a*"));
    CHECK(jobspec_log_prefix_valid("a b/c"));
}

/* Values past an int's range saturate (found by fuzz/fuzz_jobspec: a MEMORY of 1e79 MiB was
 * converted to int, which is undefined). */
static void test_scalars_saturate(void)
{
    json_error_t e;
    json_t *desc = json_loads(
        "{\"jobName\": \"j\", \"container\": {\"vcpus\": 3000000, \"resourceRequirements\": "
        "[{\"type\": \"MEMORY\", \"value\": \"1277777777777777777777777777777777777777\"}, "
        "{\"type\": \"GPU\", \"value\": \"-1e300\"}]}, \"retryStrategy\": {\"attempts\": "
        "4294967297}, \"timeout\": {\"attemptDurationSeconds\": 4294967297}}", 0, &e);
    if (!desc) CHECK_FAIL_("bad test JSON: %s", e.text);
    jobspec *s = jobspec_make(desc);
    CHECK_EQ_INT(s->mvcpus, INT_MAX);
    CHECK_EQ_INT(s->memory_mib, INT_MAX);
    CHECK_EQ_INT(s->gpus, INT_MIN);
    CHECK_EQ_INT(s->attempts_max, INT_MAX);
    CHECK_EQ_INT(s->timeout_s, INT_MAX);
    jobspec_release(s);
}

/* A remembered recipe does not keep its shared part, nor that part's record, once the last job
 * using it is let go: the part holds the command and the environment, which retention must
 * remove with the jobs. */
static void test_recipe_goes_with_its_jobs(void)
{
    size_t before = jobspec_shared_count();
    jobspec *a = spec_with("{\"logDriver\": \"awslogs\"}");
    const char *text = NULL;
    unsigned long long id = jobspec_shared_ref(a, &text);
    CHECK(id > 0 && text != NULL);
    jobspec_remember_recipe("recipe one", a);
    jobspec *b = jobspec_from_recipe("recipe one", json_pack("{s:s}", "jobName", "b"));
    CHECK(b && b->shared == a->shared);
    CHECK_EQ_INT(jobspec_shared_count(), before + 1);
    jobspec_release(a);
    unsigned long long gone;
    CHECK_EQ_INT(jobspec_take_unused(&gone), 0); /* b still uses it */
    jobspec_release(b);
    CHECK_EQ_INT(jobspec_shared_count(), before);
    CHECK_EQ_INT(jobspec_take_unused(&gone), 1);
    CHECK(gone == id);
    CHECK(jobspec_from_recipe("recipe one", json_object()) == NULL);
}

int main(void)
{
    RUN(test_recipe_goes_with_its_jobs);
    RUN(test_log_group_and_prefix);
    RUN(test_prefix_rule);
    RUN(test_scalars_saturate);
    return 0;
}
