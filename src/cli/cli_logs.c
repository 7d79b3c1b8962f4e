/* cli_logs — `barge logs`: a job's log from the CloudWatch Logs API, once or followed.
 *
 * The job's description names the log stream of each attempt, and its container's
 * logConfiguration the log group (awslogs-group, else /aws/batch/job); GetLogEvents reads the
 * stream from the head, page after page, until nextForwardToken comes back unchanged, which is
 * how CloudWatch Logs says "no more for now".  Following repeats that, polling DescribeJobs
 * between rounds, and ends after the first full read that started once the job had finished, so
 * the job's last lines are always printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

#define DEFAULT_GROUP "/aws/batch/job"
#define POLL_MS 500

static const char logs_help[] =
    "usage: barge logs JOBID [-f] [--attempt N]\n"
    "\n"
    "Prints the log lines of a job's attempt, by default the latest, from the stream named\n"
    "by the attempt's container.logStreamName, in the log group its definition names with\n"
    "the awslogs-group option of logConfiguration (" DEFAULT_GROUP " when it names none).\n"
    "\n"
    "options:\n"
    "  -f, --follow     keep printing lines as they come until the job is SUCCEEDED or\n"
    "                   FAILED; waits for a job that has not started, and moves on to the\n"
    "                   next attempt when the job is retried\n"
    "  --attempt N      the Nth attempt (1 is the first) instead of the latest\n"
    "  --json           one JSON object per event: timestamp, message, ingestionTime\n"
    "\n" CLI_COMMON_HELP;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s && *s ? s : NULL;
}

/* The log stream of attempt n (1-based; 0 for the latest) of job j, or NULL when that attempt
 * has none yet.  Sets *beyond when attempt n does not exist and never will. */
static const char *pick_stream(json_t *j, long n, int *beyond)
{
    json_t *attempts = json_object_get(j, "attempts");
    size_t na = json_array_size(attempts);
    /* container.logStreamName is the latest attempt's, including one still running, which
     * AWS Batch adds to attempts[] only when it ends. */
    const char *current = str(json_object_get(j, "container"), "logStreamName");
    *beyond = 0;
    if (n == 0) {
        if (current) return current;
        return na ? str(json_object_get(json_array_get(attempts, na - 1), "container"),
                        "logStreamName")
                  : NULL;
    }
    if ((size_t)n <= na)
        return str(json_object_get(json_array_get(attempts, (size_t)n - 1), "container"),
                   "logStreamName");
    if ((size_t)n == na + 1 && !cli_status_done(str(j, "status"))) {
        /* The attempt in progress, once it has a stream of its own: while a retry waits, the
         * job still shows the stream of the attempt that ended. */
        const char *last = na ? str(json_object_get(json_array_get(attempts, na - 1), "container"),
                                    "logStreamName")
                              : NULL;
        return current && (!last || strcmp(current, last) != 0) ? current : NULL;
    }
    *beyond = (size_t)n > na + 1 || cli_status_done(str(j, "status"));
    return NULL;
}

/* The log group of job j's streams: what AWS Batch's awslogs driver writes to. */
static const char *log_group(json_t *j)
{
    json_t *lc = json_object_get(json_object_get(j, "container"), "logConfiguration");
    const char *driver = str(lc, "logDriver");
    const char *group = str(json_object_get(lc, "options"), "awslogs-group");
    return driver && strcmp(driver, "awslogs") == 0 && group ? group : DEFAULT_GROUP;
}

static void print_event(const cli_ctx *c, json_t *e)
{
    if (c->json) {
        json_dumpf(e, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        return;
    }
    const char *m = json_string_value(json_object_get(e, "message")) ?: "";
    size_t n = strlen(m);
    fwrite(m, 1, n, stdout);
    if (n == 0 || m[n - 1] != '\n') fputc('\n', stdout);
}

/* Prints the stream's events after *token until the forward token repeats; *token advances.
 * A stream that does not exist yet (its job has not written a line) reads as empty.  Returns 0,
 * or 1 after printing an error. */
static int drain(cli_ctx *c, const char *group, const char *stream, char **token)
{
    int empty_pages = 0;
    for (;;) {
        json_t *req = json_pack("{s:s,s:s,s:b}", "logGroupName", group, "logStreamName",
                                stream, "startFromHead", 1);
        if (*token) json_object_set_new(req, "nextToken", json_string(*token));
        json_t *resp;
        cli_error err;
        int rc = cli_call(c, "logs", "GetLogEvents", req, &resp, &err);
        json_decref(req);
        if (rc) {
            int missing = err.type && strcmp(err.type, "ResourceNotFoundException") == 0;
            if (!missing) cli_error_print(c, "GetLogEvents", &err);
            cli_error_free(&err);
            return missing ? 0 : 1;
        }
        json_t *events = json_object_get(resp, "events"), *e;
        size_t i;
        json_array_foreach(events, i, e) print_event(c, e);
        fflush(stdout);
        const char *next = str(resp, "nextForwardToken");
        int end = !next || (*token && strcmp(next, *token) == 0);
        /* A server that hands out fresh tokens for empty pages forever must not hang us. */
        empty_pages = json_array_size(events) ? 0 : empty_pages + 1;
        if (!end) {
            free(*token);
            *token = xstrdup(next);
        }
        json_decref(resp);
        if (end || empty_pages >= 100) return 0;
    }
}

/* Tells the person watching what the job is waiting for, when that changes. */
static void say_waiting(const cli_ctx *c, json_t *job, char **last)
{
    const char *status = str(job, "status") ?: "?";
    const char *reason = str(job, "statusReason");
    char *now = xasprintf("%s%s%s", status, reason ? ": " : "", reason ? reason : "");
    if (!*last || strcmp(*last, now) != 0) {
        fprintf(stderr, "%s: waiting for job %s to start (%s)\n", c->prog, str(job, "jobId") ?: "?",
                now);
        free(*last);
        *last = now;
    } else {
        free(now);
    }
}

int cli_follow_log(cli_ctx *c, const char *id, long attempt, int follow, json_t **final)
{
    int rc;
    json_t *job = NULL;
    char *stream = NULL, *token = NULL, *waiting = NULL, *group = NULL;
    int done_seen = 0;
    if ((rc = cli_describe_job(c, id, &job)) != 0) goto out;
    json_t *ap = json_object_get(job, "arrayProperties");
    if (json_is_integer(json_object_get(ap, "size")) &&
        !json_is_integer(json_object_get(ap, "index"))) {
        rc = cli_usage_error(c, "job %s is an array job, which never runs itself; each child "
                                 "has its own log (`barge logs %s:0` is the first)", id, id);
        goto out;
    }
    done_seen = cli_status_done(str(job, "status"));
    /* Every attempt of a job writes to the same group: the job's definition is fixed. */
    group = xstrdup(log_group(job));
    for (;;) {
        if (!stream) {
            int beyond;
            const char *s = pick_stream(job, attempt, &beyond);
            if (beyond) {
                fprintf(stderr, "%s: job %s has %zu attempt%s, so there is no attempt %ld\n",
                        c->prog, id, json_array_size(json_object_get(job, "attempts")),
                        json_array_size(json_object_get(job, "attempts")) == 1 ? "" : "s",
                        attempt);
                rc = 1;
                goto out;
            }
            if (s) {
                stream = xstrdup(s);
            } else if (!follow || done_seen) {
                const char *status = str(job, "status") ?: "?";
                const char *reason = str(job, "statusReason");
                fprintf(stderr, "%s: job %s has no logs%s (status %s%s%s)\n", c->prog, id,
                        done_seen ? "" : " yet", status, reason ? ": " : "", reason ? reason : "");
                goto out;
            } else {
                say_waiting(c, job, &waiting);
            }
        }
        if (stream && (rc = drain(c, group, stream, &token)) != 0) goto out;
        /* Finished once a full read began after the job was seen finished. */
        if (!follow || done_seen) goto out;
        sleep_ms(POLL_MS);
        json_decref(job);
        job = NULL;
        if ((rc = cli_describe_job(c, id, &job)) != 0) goto out;
        done_seen = cli_status_done(str(job, "status"));
        if (stream && attempt == 0) {
            int beyond;
            const char *s = pick_stream(job, 0, &beyond);
            if (s && strcmp(s, stream) != 0) {
                /* A retry began: the old attempt's last lines first, then the new stream. */
                if ((rc = drain(c, group, stream, &token)) != 0) goto out;
                fprintf(stderr, "%s: job %s is running another attempt (log stream %s)\n",
                        c->prog, id, s);
                free(stream);
                free(token);
                stream = xstrdup(s);
                token = NULL;
            }
        }
    }
out:
    if (final && rc == 0) *final = json_incref(job);
    json_decref(job);
    free(stream);
    free(token);
    free(waiting);
    free(group);
    return rc;
}

int cli_logs(int argc, char **argv)
{
    enum { O_ATTEMPT = 256 };
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"attempt", required_argument, NULL, O_ATTEMPT},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, "barge logs");
    int follow = 0, o;
    long attempt = 0;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":hf", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        switch (o) {
        case 'h': fputs(logs_help, stdout); return 0;
        case 'f': follow = 1; break;
        case O_ATTEMPT:
            if (cli_parse_count(optarg, &attempt) < 0)
                return cli_usage_error(&c, "--attempt must be 1 or more (1 is the first "
                                           "attempt; got '%s')", optarg);
            break;
        default: return cli_option_error(&c, o, argv);
        }
    }
    if (optind == argc)
        return cli_usage_error(&c, "give the id of the job whose log to print (`barge jobs "
                                   "--queue Q` lists them)");
    if (optind + 1 < argc)
        return cli_usage_error(&c, "give one job id (got '%s' and '%s')", argv[optind],
                               argv[optind + 1]);
    const char *id = argv[optind];
    int rc = cli_ctx_open(&c);
    if (rc) return rc;
    rc = cli_follow_log(&c, id, attempt, follow, NULL);
    cli_ctx_close(&c);
    return rc;
}
