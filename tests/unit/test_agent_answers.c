/* The server's answers as the agent takes them (agent_assign.c, agent_exchange.c), without a
 * server: what an assignment becomes, what it is failed with, and the periods a registration
 * sets, each within bounds whatever the server says. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_assign.h"
#include "agent/agent_exchange.h"
#include "agent/agent_state.h"
#include "check.h"

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    CHECK(j != NULL);
    return j;
}

static void test_assignment(void)
{
    json_t *a = parse("{\"jobId\":\"j:3\",\"attempt\":2,\"command\":[\"sh\",\"-c\",\"true\"],"
                      "\"environment\":{\"A\":\"1\",\"\":\"empty\",\"B=C\":\"x\",\"N\":5},"
                      "\"memoryMiB\":1e300,\"timeoutSeconds\":-5,\"killGraceSeconds\":1e9,"
                      "\"logStreamName\":\"def/default/abc\",\"image\":\"busybox\","
                      "\"container\":{\"user\":\"nobody\"}}");
    const char *job, *failure;
    int attempt;
    size_t n;
    CHECK_EQ_INT(agent_assign_ids(a, &job, &attempt), 0);
    CHECK_STR(job, "j:3");
    CHECK_EQ_INT(attempt, 2);
    exec_spec *s = agent_assign_read(a, 1, 4, &n, &failure);
    CHECK(failure == NULL);
    CHECK_STR(s->argv[2], "true");
    CHECK(s->argv[3] == NULL);
    CHECK_EQ_INT(n, 1); /* only A: the others' names or values are not usable */
    CHECK_STR(s->envp[0], "A=1");
    CHECK(s->envp[1] == NULL && s->envp[5] == NULL); /* room for 4 more, then the end */
    CHECK_EQ_INT(s->memory_mib, 1LL << 40);
    CHECK_EQ_INT(s->timeout_seconds, 0);
    CHECK_EQ_INT(s->kill_grace_seconds, 86400);
    CHECK_STR(s->log_stream, "def/default/abc");
    CHECK_STR(s->image, "busybox");
    CHECK_STR(json_string_value(json_object_get(s->container, "user")), "nobody");
    exec_spec_free(s);
    json_decref(a);

    /* Failed before anything runs, with the server's reason or the agent's own. */
    static const struct {
        const char *json, *reason;
        int roles;
    } fails[] = {
        {"{\"jobId\":\"j\",\"attempt\":1,\"container\":{\"secretsError\":\"no secret\"}}",
         "no secret", 1},
        {"{\"jobId\":\"j\",\"attempt\":1,\"jobRoleArn\":\"r\","
         "\"container\":{\"credentialsError\":\"no role\"}}", "no role", 1},
        {"{\"jobId\":\"j\",\"attempt\":1,\"jobRoleArn\":\"r\",\"command\":[1]}",
         "cannot serve the job's role", 0},
        {"{\"jobId\":\"j\",\"attempt\":1,\"command\":[\"a\",null]}", "not a list of strings", 1},
    };
    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        a = parse(fails[i].json);
        s = agent_assign_read(a, fails[i].roles, 0, &n, &failure);
        CHECK_CONTAINS(failure, fails[i].reason);
        CHECK_STR(s->log_stream, "j");
        CHECK(s->argv == NULL);
        exec_spec_free(s);
        json_decref(a);
    }

    /* Not an assignment at all. */
    static const char *const bad[] = {"{\"attempt\":1}", "{\"jobId\":\"j\"}",
                                      "{\"jobId\":\"j\",\"attempt\":0}",
                                      "{\"jobId\":\"j\",\"attempt\":1000001}",
                                      "{\"jobId\":\"j\",\"attempt\":1.0}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = parse(bad[i]);
        CHECK_EQ_INT(agent_assign_ids(a, &job, &attempt), -1);
        json_decref(a);
    }
}

/* The periods a registration gives are taken within 1 second and an hour: the poller's
 * deadline (the period and 15 seconds) overflowed an int for the largest. */
static void test_registration(void)
{
    agent ag;
    memset(&ag, 0, sizeof ag);
    pthread_mutex_init(&ag.mu, NULL);
    pthread_cond_init(&ag.cond, NULL);
    dict_init(&ag.held);
    static const struct {
        const char *json;
        int rc, poll, heartbeat;
    } cases[] = {
        {"{\"instanceId\":\"i-1\",\"credential\":\"i-1:s\",\"pollSeconds\":20,"
         "\"heartbeatSeconds\":5}", 0, 20, 5},
        {"{\"instanceId\":\"i-1\",\"credential\":\"i-1:s\",\"pollSeconds\":2147483647,"
         "\"heartbeatSeconds\":9223372036854775807}", 0, AGENT_PERIOD_MAX_SECONDS,
         AGENT_PERIOD_MAX_SECONDS},
        {"{\"instanceId\":\"i-1\",\"credential\":\"i-1:s\",\"pollSeconds\":-1,"
         "\"heartbeatSeconds\":0}", 0, 20, 5},
        {"{\"instanceId\":\"i-1\",\"credential\":\"i-1:s\",\"pollSeconds\":4294967316}", 0,
         AGENT_PERIOD_MAX_SECONDS, 5},
        {"{\"instanceId\":\"i-1\"}", -1, 0, 0},
        {"{\"instanceId\":\"i-1\",\"credential\":7}", -1, 0, 0},
        {"{\"instanceId\":\"\",\"credential\":\"c\"}", -1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *answer = parse(cases[i].json);
        ag.poll_s = ag.heartbeat_s = 0;
        unsigned gen = ag.gen;
        CHECK_EQ_INT(agent_exchange_registered(&ag, answer), cases[i].rc);
        CHECK_EQ_INT(ag.poll_s, cases[i].poll);
        CHECK_EQ_INT(ag.heartbeat_s, cases[i].heartbeat);
        if (cases[i].rc == 0) {
            CHECK_EQ_INT(ag.gen, gen + 1);
            CHECK(ag.registered);
            CHECK_STR(ag.iid, "i-1");
            CHECK_STR(ag.cred, "i-1:s");
        }
        json_decref(answer);
    }
    free(ag.iid);
    free(ag.cred);
    dict_free(&ag.held);
}

int main(void)
{
    RUN(test_assignment);
    RUN(test_registration);
    return 0;
}
