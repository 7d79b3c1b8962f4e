/* The CLI's commands against odd answers of a server (a stand-in for the wire, cli_set_wire):
 * what they print, and that they end. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "cli/cli.h"
#include "cli/cli_http.h"
#include "check.h"

/* The stand-in server: answers in turn, the last one again for every later call, and no
 * answer at all after CALLS_MAX calls (so that a command that would never end does). */
#define CALLS_MAX 50

static struct {
    const char *const *answers; /* "STATUS BODY", NULL-terminated */
    int calls;
    char ops[CALLS_MAX][32];
    char *reqs[CALLS_MAX];
    long long clock_ms;
    long long clock_at_cap; /* the clock when the last answer was given */
    char *body;
} srv;

static int exchange(void *arg, const char *service, const char *op, const char *req,
                    long *status, const char **type, const char **body, size_t *len)
{
    if (srv.calls >= CALLS_MAX) return -1;
    snprintf(srv.ops[srv.calls], sizeof srv.ops[0], "%s", op);
    srv.reqs[srv.calls] = xstrdup(req);
    int i = 0;
    while (i < srv.calls && srv.answers[i + 1]) i++;
    srv.calls++;
    srv.clock_at_cap = srv.clock_ms;
    const char *a = srv.answers[i];
    *status = strtol(a, NULL, 10);
    *type = NULL;
    free(srv.body);
    srv.body = xstrdup(strchr(a, ' ') + 1);
    *body = srv.body;
    *len = strlen(srv.body);
    return 0;
}

static long long now_ms(void *arg)
{
    return srv.clock_ms;
}

static void sleep_ms(void *arg, long ms)
{
    srv.clock_ms += ms;
}

/* What a command printed, and its exit code. */
typedef struct ran {
    int rc;
    char out[8192], err[8192];
} ran;

static void read_all(FILE *f, char *to, size_t size)
{
    fflush(f);
    rewind(f);
    size_t n = fread(to, 1, size - 1, f);
    to[n] = '\0';
    fclose(f);
}

/* Runs the command line (NULL-terminated) against the answers. */
static void run(ran *r, const char *const *answers, const char *const *line)
{
    for (int i = 0; i < srv.calls; i++) free(srv.reqs[i]);
    free(srv.body);
    memset(&srv, 0, sizeof srv);
    srv.answers = answers;
    srv.clock_ms = 1000000;
    char *argv[32];
    int argc = 0;
    for (; line[argc]; argc++) argv[argc] = xstrdup(line[argc]);
    argv[argc] = NULL;
    char *copies[32];
    memcpy(copies, argv, sizeof copies);

    /* getopt keeps where it was in the last command's words, which are freed: optind 0 starts
     * it afresh (the commands set 1, which does not). */
    optind = 0;
    getopt(1, (char *[]){"x", NULL}, "");

    FILE *out = tmpfile(), *err = tmpfile(), *saved_err = stderr;
    CHECK(out && err);
    fflush(stdout);
    int saved_out = dup(STDOUT_FILENO);
    dup2(fileno(out), STDOUT_FILENO);
    stderr = err;
    r->rc = cli_main(argc, argv);
    fflush(stdout);
    dup2(saved_out, STDOUT_FILENO);
    close(saved_out);
    stderr = saved_err;
    read_all(out, r->out, sizeof r->out);
    read_all(err, r->err, sizeof r->err);
    for (int i = 0; i < argc; i++) free(copies[i]);
}

/* barge events --json prints each event as the JSON it is: a missing one as null, a string as
 * a string (it once took json_dumps' NULL for a string and crashed). */
static void test_events_odd_members(void)
{
    static const char *const answers[] = {
        "200 {\"events\":[{\"seq\":1},{\"seq\":2,\"event\":\"x\"},{\"seq\":3,\"event\":7}],"
        "\"lastSeq\":3}",
        "200 {\"events\":[],\"lastSeq\":3}", NULL};
    ran r;
    run(&r, answers, (const char *const[]){"events", "--json", NULL});
    CHECK_EQ_INT(r.rc, 0);
    CHECK_STR(r.out, "null\n\"x\"\n7\n");
}

/* A server whose lastSeq does not move past the events it gives would be asked the same for
 * ever, and its events printed again each time: barge events stops. */
static void test_events_stuck_last_seq(void)
{
    static const char *const answers[] = {
        "200 {\"events\":[{\"seq\":1,\"event\":{}}],\"lastSeq\":0}", NULL};
    ran r;
    run(&r, answers, (const char *const[]){"events", NULL});
    CHECK_EQ_INT(r.rc, 1);
    CHECK_EQ_INT(srv.calls, 1);
    CHECK_CONTAINS(r.err, "does not go past event 0");
    static const char *const gap[] = {"200 {\"events\":[],\"gap\":{\"oldestSeq\":5}}", NULL};
    run(&r, gap, (const char *const[]){"events", "-f", NULL});
    CHECK_EQ_INT(r.rc, 1);
    CHECK_EQ_INT(srv.calls, 1);
}

/* A server that answers at once when there is nothing new, instead of waiting as asked, is
 * asked again a second later: barge events -f does not spin. */
static void test_events_follow_waits(void)
{
    static const char *const answers[] = {"200 {\"events\":[],\"lastSeq\":4}", NULL};
    ran r;
    run(&r, answers, (const char *const[]){"events", "-f", NULL});
    CHECK_EQ_INT(r.rc, 1);
    CHECK_EQ_INT(srv.calls, CALLS_MAX);
    CHECK(srv.clock_at_cap - 1000000 >= 1000LL * (CALLS_MAX - 2));
    CHECK_CONTAINS(srv.reqs[1], "\"wait\":5");
}

/* A following command rides out a server that is away (a standby's 503 here) for 60 seconds
 * after its last answer, trying again after 0.25 s, then twice as long up to 4 s, says so once
 * each way, and then gives up. */
static void test_patience_of_followers(void)
{
    static const char *const away[] = {
        "200 {\"events\":[],\"lastSeq\":4}",
        "503 {\"__type\":\"ServiceUnavailableException\",\"message\":\"a standby\"}", NULL};
    ran r;
    run(&r, away, (const char *const[]){"events", "-f", NULL});
    CHECK_EQ_INT(r.rc, 1);
    long long waited = srv.clock_at_cap - 1000000;
    CHECK(waited == 60000);
    /* The answer, the first refusal, then tries after 0.25, 0.5, 1 and 2 s, fourteen after 4 s
     * each and a last one when the minute is out. */
    CHECK_EQ_INT(srv.calls, 21);
    CHECK_CONTAINS(r.err, "is unavailable (ServiceUnavailableException: a standby); trying "
                          "again for up to 60 seconds");
    CHECK_CONTAINS(r.err, "has been unavailable for 60 seconds (ServiceUnavailableException: a "
                          "standby); giving up");
    const char *first = strstr(r.err, "is unavailable (");
    CHECK(first && !strstr(first + 1, "is unavailable ("));

    /* Back within the minute: said once, and what it gives is printed. */
    static const char *const back[] = {
        "200 {\"events\":[],\"lastSeq\":4}", "500 {\"message\":\"restarting\"}",
        "500 {\"message\":\"restarting\"}",
        "200 {\"events\":[{\"seq\":5,\"event\":{\"detail\":{\"jobId\":\"j5\"}}}],"
        "\"lastSeq\":5}",
        "400 {\"__type\":\"ClientException\",\"message\":\"enough\"}", NULL};
    run(&r, back, (const char *const[]){"events", "-f", "--json", NULL});
    CHECK_EQ_INT(r.rc, 1);
    CHECK_EQ_INT(srv.calls, 5);
    CHECK_CONTAINS(r.out, "\"j5\"");
    CHECK_CONTAINS(r.err, "answers again");
    CHECK_CONTAINS(r.err, "enough");
}

/* A follow's first call that a restarting server cuts short (an answer of its own, not a
 * refused connection) is tried again: `barge logs -f` started as the server restarts waits. */
static void test_a_follow_waits_from_its_first_call(void)
{
    static const char *const restarting[] = {
        "500 {\"message\":\"restarting\"}",
        "200 {\"jobs\":[{\"jobId\":\"j1\",\"jobName\":\"n\",\"status\":\"SUCCEEDED\","
        "\"container\":{}}]}", NULL};
    ran r;
    run(&r, restarting, (const char *const[]){"logs", "-f", "j1", NULL});
    CHECK(srv.calls >= 2);
    CHECK_STR(srv.ops[1], "DescribeJobs");
    CHECK_CONTAINS(r.err, "answers again");
    CHECK_CONTAINS(r.err, "job j1 has no logs");
}

/* ListJobs and GetUsage that give back the nextToken they were sent would page for ever. */
static void test_next_token_loops(void)
{
    static const char *const jobs[] = {
        "200 {\"jobSummaryList\":[{\"jobId\":\"j1\",\"status\":\"RUNNING\"}],\"nextToken\":\"t\"}",
        NULL};
    ran r;
    run(&r, jobs, (const char *const[]){"jobs", "--queue", "q", NULL});
    CHECK_EQ_INT(r.rc, 1);
    CHECK_EQ_INT(srv.calls, 2);
    CHECK_CONTAINS(r.err, "nextToken it was sent");
    static const char *const usage[] = {
        "200 {\"groups\":[{\"key\":\"d\",\"jobs\":1}],\"nextToken\":\"t\"}", NULL};
    run(&r, usage, (const char *const[]){"usage", "--queue", "q", NULL});
    CHECK_EQ_INT(r.rc, 1);
    CHECK_EQ_INT(srv.calls, 2);
    CHECK_CONTAINS(r.err, "nextToken it was sent");
}

/* Counts past the largest integer, added up, stay there rather than wrap to negative ones. */
static void test_huge_counts(void)
{
    static const char *const usage[] = {
        "200 {\"groups\":[{\"key\":\"d\",\"jobs\":9223372036854775807},{\"key\":\"d\","
        "\"jobs\":1}]}",
        NULL};
    ran r;
    run(&r, usage, (const char *const[]){"usage", "--queue", "q", NULL});
    CHECK_EQ_INT(r.rc, 0);
    CHECK_CONTAINS(r.out, "d      9223372036854775807");
    static const char *const array[] = {
        "200 {\"jobId\":\"a1\"}",
        "200 {\"jobs\":[{\"jobId\":\"a1\",\"status\":\"SUCCEEDED\",\"arrayProperties\":{"
        "\"size\":3,\"statusSummary\":{\"SUCCEEDED\":9223372036854775807,\"FAILED\":1}}}]}",
        NULL};
    run(&r, array, (const char *const[]){"run", "--definition", "d", "--array-size", "3", NULL});
    CHECK_EQ_INT(r.rc, 0);
    CHECK_CONTAINS(r.err, "[########################################] 9223372036854775807/3");
}

/* An array child with a negative index has no child before it: barge explain asks for no job
 * worked out from it. */
static void test_explain_negative_index(void)
{
    static const char *const answers[] = {
        "200 {\"jobs\":[{\"jobId\":\"a1:1\",\"status\":\"PENDING\",\"arrayProperties\":{"
        "\"index\":-9223372036854775808},\"dependsOn\":[{\"type\":\"SEQUENTIAL\"}]}]}",
        NULL};
    ran r;
    run(&r, answers, (const char *const[]){"explain", "a1:1", NULL});
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(srv.calls, 1);
    CHECK_CONTAINS(r.out, "job a1:1 (?) is PENDING");
}

int main(void)
{
    setenv("BARGE_ENDPOINT", "http://127.0.0.1:9", 1);
    cli_wire w = {.exchange = exchange, .now_ms = now_ms, .sleep_ms = sleep_ms};
    cli_set_wire(&w);
    RUN(test_events_odd_members);
    RUN(test_events_stuck_last_seq);
    RUN(test_events_follow_waits);
    RUN(test_patience_of_followers);
    RUN(test_a_follow_waits_from_its_first_call);
    RUN(test_next_token_loops);
    RUN(test_huge_counts);
    RUN(test_explain_negative_index);
    for (int i = 0; i < srv.calls; i++) free(srv.reqs[i]);
    free(srv.body);
    return 0;
}
