/* cli_logs — `barge logs`: a job's log from the CloudWatch Logs API, once or followed.
 *
 * The job's description names the log stream of each attempt, and its container's
 * logConfiguration the log group (awslogs-group, else /aws/batch/job); GetLogEvents reads the
 * stream from the head, page after page, until nextForwardToken comes back unchanged, which is
 * how CloudWatch Logs says "no more for now".  Following repeats that, polling DescribeJobs
 * between rounds, and ends after the first full read that started once the job had finished, so
 * the job's last lines are always printed. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

#define DEFAULT_GROUP "/aws/batch/job"
#define POLL_MS 500
/* --tail's most: what one GetLogEvents answers. */
#define TAIL_MAX 10000

static const char logs_help[] =
    "usage: barge logs JOBID [-f] [--attempt N] [--tail N]\n"
    "\n"
    "Prints the log lines of a job's attempt, by default the latest, from the stream named\n"
    "by the attempt's container.logStreamName, in the log group its definition names with\n"
    "the awslogs-group option of logConfiguration (" DEFAULT_GROUP " when it names none).\n"
    "\n"
    "options:\n"
    "  -f, --follow     keep printing lines as they come until the job is SUCCEEDED or\n"
    "                   FAILED; waits for a job that has not started, and moves on to the\n"
    "                   next attempt when the job is retried; a server that restarts\n"
    "                   meanwhile is waited for, up to a minute.  A job that can never\n"
    "                   start (RUNNABLE for a MISCONFIGURATION reason: it needs more than\n"
    "                   the compute environments can have) is said to, and logs exits 1\n"
    "  --attempt N      the Nth attempt (1 is the first) instead of the latest\n"
    "  --tail N         only the attempt's last N lines (at most 10000), then with -f\n"
    "                   what it prints next\n"
    "  --json           one JSON object per event: timestamp, message, ingestionTime\n"
    "\n" CLI_COMMON_HELP_NO_JSON;

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s && *s ? s : NULL;
}

/* The log stream of attempt n (1-based) of job j, or NULL when that attempt has none (yet).
 * Sets *beyond when attempt n does not exist and never will. */
static const char *pick_stream(json_t *j, long n, int *beyond)
{
    json_t *attempts = json_object_get(j, "attempts");
    size_t na = json_array_size(attempts);
    /* container.logStreamName is the latest attempt's, including one still running, which
     * AWS Batch adds to attempts[] only when it ends. */
    const char *current = str(json_object_get(j, "container"), "logStreamName");
    *beyond = 0;
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

/* Where and how the lines go: JSON lines for --json, else text; to stderr for `barge run
 * --json`, whose stdout is the job's description. */
typedef struct log_out {
    FILE *to;
    int json;
    int follow; /* more will come: a reader that has gone is a failure now */
} log_out;

static void print_event(const log_out *out, json_t *e)
{
    if (out->json) {
        json_dumpf(e, out->to, JSON_COMPACT | JSON_ENCODE_ANY);
        fputc('\n', out->to);
        return;
    }
    /* The line as the job wrote it, NUL bytes and all (json_string_length, not strlen). */
    json_t *msg = json_object_get(e, "message");
    const char *m = json_string_value(msg) ?: "";
    size_t n = json_string_length(msg);
    fwrite(m, 1, n, out->to);
    if (n == 0 || m[n - 1] != '\n') fputc('\n', out->to);
}

/* Prints the stream's events after *token until the forward token repeats; *token advances.
 * A stream that does not exist yet (its job has not written a line) reads as empty.  Returns 0,
 * or 1 after printing an error (or once stdout takes no more: cli_main's to say). */
static int drain(cli_ctx *c, const log_out *out, const char *group, const char *stream,
                 char **token)
{
    int empty_pages = 0, rc = 0;
    json_t *tokens = json_object();
    for (;;) {
        json_t *req = json_pack("{s:s,s:s,s:b}", "logGroupName", group, "logStreamName",
                                stream, "startFromHead", 1);
        if (*token) json_object_set_new(req, "nextToken", json_string(*token));
        json_t *resp;
        cli_error err;
        int called = cli_call(c, "logs", "GetLogEvents", req, &resp, &err);
        json_decref(req);
        if (called != 0) {
            int missing = err.type && strcmp(err.type, "ResourceNotFoundException") == 0;
            if (!missing) cli_error_print(c, "GetLogEvents", &err);
            cli_error_free(&err);
            rc = !missing;
            break;
        }
        json_t *events = json_object_get(resp, "events"), *e;
        size_t i;
        json_array_foreach(events, i, e) print_event(out, e);
        if (out->to != stdout) {
            fflush(out->to);
        } else if (cli_flush(out->follow) < 0) {
            /* Following for a reader that has gone would go on until the job ends. */
            json_decref(resp);
            rc = 1;
            break;
        }
        const char *next = str(resp, "nextForwardToken");
        int end = !next || (*token && strcmp(next, *token) == 0);
        /* A server that hands out fresh tokens for empty pages forever must not hang us, nor
         * one whose tokens go round in a circle. */
        empty_pages = json_array_size(events) ? 0 : empty_pages + 1;
        if (!end && cli_next_page(c, "GetLogEvents", tokens, next) < 0) rc = 1;
        if (!end && !rc) {
            free(*token);
            *token = xstrdup(next);
        }
        json_decref(resp);
        if (end || rc || empty_pages >= 100) break;
    }
    json_decref(tokens);
    return rc;
}

/* Tells the person watching what the job is waiting for, when that changes. */
static void say_waiting(const cli_ctx *c, json_t *job, char **last)
{
    cli_json_plain(job);
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

int cli_job_stuck(json_t *j)
{
    const char *reason = str(j, "statusReason");
    return strcmp(str(j, "status") ?: "", "RUNNABLE") == 0 && reason &&
           strncmp(reason, "MISCONFIGURATION:", 17) == 0;
}

void cli_say_stuck(const cli_ctx *c, const char *id, json_t *j)
{
    /* Made plain for the terminal in a copy: the description itself is the caller's. */
    char *reason = xstrdup(str(j, "statusReason") ?: "?");
    cli_text_plain(reason);
    cli_progress_break();
    fprintf(stderr, "%s: job %s cannot start: %s\n", c->prog, id, reason);
    free(reason);
}

/* The attempt `barge logs` shows by default: the one in progress once it has a stream of its
 * own, else the last that ended (1 when none has). */
static long latest_attempt(json_t *job)
{
    long na = (long)json_array_size(json_object_get(job, "attempts"));
    int beyond;
    return pick_stream(job, na + 1, &beyond) || na == 0 ? na + 1 : na;
}

/* What follows a job's log: the attempt being read (1-based) and where in its stream. */
typedef struct follower {
    cli_ctx *c;
    const char *id, *group;
    log_out out;
    long attempt;          /* the attempt being read */
    int fixed;             /* --attempt N: that one only */
    char *stream, *token;  /* the attempt's stream once it has one; the read's position */
    int printed;           /* some attempt had a stream */
    long tail;             /* --tail N for the first attempt read; 0: every line */
} follower;

/* One GetLogEvents back from token (NULL: from the end) for at most limit events: 0 with the
 * answer in *resp, else called's error in *err. */
static int tail_page(follower *f, const char *token, long limit, json_t **resp, cli_error *err)
{
    json_t *req = json_pack("{s:s, s:s, s:b, s:i}", "logGroupName", f->group, "logStreamName",
                            f->stream, "startFromHead", 0, "limit", (int)limit);
    if (token) json_object_set_new(req, "nextToken", json_string(token));
    int called = cli_call(f->c, "logs", "GetLogEvents", req, resp, err);
    json_decref(req);
    return called;
}

/* The last f->tail lines of f's stream, printed, and the position after them.  A page holds at
 * most 1 MiB of events, so long lines take several: each goes back from the one before with
 * its backward token, until the lines are had or the token comes back unchanged (the head of
 * the stream).  A stream not made yet reads as empty.  0, or 1 after printing an error. */
static int tail_read(follower *f)
{
    long want = f->tail;
    f->tail = 0;
    json_t *lines = json_array(), *resp = NULL;
    char *back = NULL;
    cli_error err;
    int called = 0;
    while (json_array_size(lines) < (size_t)want) {
        if ((called = tail_page(f, back, want - (long)json_array_size(lines), &resp, &err)))
            break;
        json_t *events = json_object_get(resp, "events");
        /* Pages come newest first, each oldest first within: this one goes before the rest. */
        json_array_extend(events, lines);
        json_decref(lines);
        lines = json_incref(events);
        const char *next = str(resp, "nextForwardToken"), *prev = str(resp, "nextBackwardToken");
        if (!f->token && next) f->token = xstrdup(next);
        int head = !prev || !json_array_size(events) || (back && strcmp(prev, back) == 0);
        free(back);
        back = prev ? xstrdup(prev) : NULL;
        json_decref(resp);
        resp = NULL;
        if (head) break;
    }
    free(back);
    if (called) {
        int missing = err.type && strcmp(err.type, "ResourceNotFoundException") == 0;
        if (!missing) cli_error_print(f->c, "GetLogEvents", &err);
        cli_error_free(&err);
        json_decref(lines);
        return !missing;
    }
    json_t *e;
    size_t i;
    json_array_foreach(lines, i, e) print_event(&f->out, e);
    json_decref(lines);
    return 0;
}

static void next_attempt(follower *f)
{
    f->attempt++;
    free(f->stream);
    free(f->token);
    f->stream = f->token = NULL;
}

/* One round over description job (fetched just before): reads the attempt being followed and,
 * for each that has ended by then, the read being complete, every later one in turn, so that
 * an attempt that began and ended between two polls is printed too.  1 when there is nothing
 * more to wait for, 0 when the job must be polled again, or -rc after printing why. */
static int follow_round(follower *f, json_t *job, int follow)
{
    for (;;) {
        long ended = (long)json_array_size(json_object_get(job, "attempts"));
        if (!f->stream) {
            int beyond;
            const char *s = pick_stream(job, f->attempt, &beyond);
            if (beyond && f->fixed) {
                fprintf(stderr, "%s: job %s has %ld attempt%s, so there is no attempt %ld\n",
                        f->c->prog, f->id, ended, ended == 1 ? "" : "s", f->attempt);
                return -1;
            }
            if (s) {
                f->stream = xstrdup(s);
                if (f->printed++) {
                    /* The server's text: a definition's stream prefix may hold anything. */
                    char *shown = xstrdup(s);
                    cli_text_plain(shown);
                    /* How the one before ended: what a retry strategy decided on. */
                    json_t *before = json_array_get(json_object_get(job, "attempts"),
                                                    (size_t)(f->attempt - 2));
                    json_t *code = json_object_get(json_object_get(before, "container"),
                                                   "exitCode");
                    char *why = xstrdup(str(before, "statusReason") ?: "");
                    cli_text_plain(why);
                    buf ended_as = {0};
                    if (json_is_integer(code))
                        buf_printf(&ended_as, "exit code %lld",
                                   (long long)json_integer_value(code));
                    if (*why) buf_printf(&ended_as, "%s%.200s", ended_as.len ? ", " : "", why);
                    if (ended_as.len)
                        fprintf(stderr, "%s: job %s, attempt %ld (attempt %ld ended: %s; log "
                                        "stream %s)\n", f->c->prog, f->id, f->attempt,
                                f->attempt - 1, ended_as.data, shown);
                    else
                        fprintf(stderr, "%s: job %s, attempt %ld (log stream %s)\n",
                                f->c->prog, f->id, f->attempt, shown);
                    buf_free(&ended_as);
                    free(why);
                    free(shown);
                }
            }
        }
        if (f->stream && f->tail > 0 && !f->token && tail_read(f)) return -1;
        if (f->stream) {
            int rc = drain(f->c, &f->out, f->group, f->stream, &f->token);
            if (rc) return -rc;
        }
        /* Without -f, the one attempt; with it, an attempt still running is read again. */
        if (!follow || f->attempt > ended) return !follow || cli_status_done(str(job, "status"));
        /* Attempt f->attempt had ended when job was fetched, and the read began after: it is
         * complete.  The next attempt, if there is one, now. */
        if (f->fixed) return 1;
        next_attempt(f);
    }
}

/* A multi-node job runs no container of its own: its log is its main node's, JOBID#N (what
 * decides the job, as its attempts and exit are).  The main node's id (fresh), or NULL when job
 * is not such a job. */
static char *main_node_of(const cli_ctx *c, const char *id, json_t *job)
{
    json_t *np = json_object_get(job, "nodeProperties");
    if (!json_is_integer(json_object_get(np, "numNodes")) || json_object_get(job, "container"))
        return NULL;
    char *node = xasprintf("%s#%lld", id,
                           (long long)json_integer_value(json_object_get(np, "mainNode")));
    fprintf(stderr, "%s: job %s is a multi-node job: its log is its main node's, %s (`barge "
                    "logs %s#N` prints node N's)\n", c->prog, id, node, id);
    return node;
}

/* Once a multi-node job's main node has ended, the job ends when its other nodes have stopped:
 * its description then, waited for when following.  0, or 1 after printing an error. */
static int whole_job(cli_ctx *c, const char *id, int follow, json_t **job)
{
    for (;;) {
        json_decref(*job);
        *job = NULL;
        int rc = cli_describe_job(c, id, job);
        if (rc || !follow || cli_status_done(str(*job, "status"))) return rc;
        if (cli_wait(c, POLL_MS) < 0) return 1;
    }
}

/* cli_follow_log, with tail as --tail gives it (0: every line). */
static int follow_log(cli_ctx *c, const char *id, long attempt, int flags, long tail,
                      json_t **final)
{
    int rc, follow = flags & CLI_LOG_FOLLOW;
    json_t *job = NULL;
    char *waiting = NULL, *group = NULL, *node = NULL;
    const char *whole = NULL;
    follower f = {.c = c, .id = id, .tail = tail};
    /* A follow outlives a server that restarts, from its first call: its job goes on
     * meanwhile. */
    if (follow) c->patient = 1;
    if ((rc = cli_describe_job(c, id, &job)) != 0) goto out;
    if ((node = main_node_of(c, id, job)) != NULL) {
        whole = id;
        f.id = id = node;
        json_decref(job);
        job = NULL;
        if ((rc = cli_describe_job(c, id, &job)) != 0) goto out;
    }
    json_t *ap = json_object_get(job, "arrayProperties");
    if (json_is_integer(json_object_get(ap, "size")) &&
        !json_is_integer(json_object_get(ap, "index"))) {
        rc = cli_usage_error(c, "job %s is an array job, which never runs itself; each child "
                                 "has its own log (`barge logs %s:0` is the first)", id, id);
        goto out;
    }
    /* Every attempt of a job writes to the same group: the job's definition is fixed. */
    group = xstrdup(log_group(job));
    f.group = group;
    f.out = (log_out){flags & CLI_LOG_TO_STDERR ? stderr : stdout,
                      c->json && !(flags & CLI_LOG_TO_STDERR), follow};
    f.fixed = attempt > 0;
    f.attempt = attempt > 0                      ? attempt
                : (flags & CLI_LOG_FROM_FIRST) ? 1
                                               : latest_attempt(job);
    for (;;) {
        int r = follow_round(&f, job, follow);
        if (r < 0) {
            rc = -r;
            goto out;
        }
        if (r > 0) break;
        if ((flags & CLI_LOG_UNTIL_STUCK) && cli_job_stuck(job)) {
            if (flags & CLI_LOG_CALLER_SAYS) goto out;
            /* Not this command's job to end: it says how, and stops waiting for nothing. */
            cli_say_stuck(c, id, job);
            fprintf(stderr, "%s: it would wait for ever; `barge terminate %s` ends it: submit "
                            "it again asking for less, or give its queue's compute "
                            "environments more\n", c->prog, whole ? whole : id);
            rc = 1;
            goto out;
        }
        if (!f.stream) say_waiting(c, job, &waiting);
        if (cli_wait(c, POLL_MS) < 0) {
            rc = 1;
            goto out;
        }
        json_decref(job);
        job = NULL;
        if ((rc = cli_describe_job(c, id, &job)) != 0) goto out;
    }
    if (!f.printed && !(flags & CLI_LOG_CALLER_SAYS)) {
        /* Made plain for the terminal in a copy: the description itself is the caller's
         * (barge run --json prints it as the server sent it). */
        json_t *shown = json_deep_copy(job);
        cli_json_plain(shown);
        const char *status = str(shown, "status") ?: "?";
        const char *reason = str(shown, "statusReason");
        int done = cli_status_done(status);
        fprintf(stderr, "%s: job %s has no logs%s (status %s%s%s)\n", c->prog, id,
                done ? "" : " yet", status, reason ? ": " : "", reason ? reason : "");
        json_decref(shown);
    }
    if (whole && final) rc = whole_job(c, whole, follow, &job);
out:
    if (final && rc == 0) *final = json_incref(job);
    json_decref(job);
    free(f.stream);
    free(f.token);
    free(waiting);
    free(group);
    free(node);
    return rc;
}

int cli_follow_log(cli_ctx *c, const char *id, long attempt, int flags, json_t **final)
{
    return follow_log(c, id, attempt, flags, 0, final);
}

/* Whether s is a number above INT_MAX: digits, not all of them 0, that cli_parse_count
 * refused. */
static int too_large(const char *s)
{
    size_t n = strlen(s);
    return n && strspn(s, "0123456789") == n && strspn(s, "0") < n;
}

int cli_logs(int argc, char **argv)
{
    enum { O_ATTEMPT = 256, O_TAIL };
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"attempt", required_argument, NULL, O_ATTEMPT},
        {"tail", required_argument, NULL, O_TAIL},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, "barge logs");
    int follow = 0, o;
    long attempt = 0, tail = 0;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":hf", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        switch (o) {
        case 'h': fputs(logs_help, stdout); return 0;
        case 'f': follow = 1; break;
        case O_ATTEMPT:
            if (cli_parse_count(optarg, &attempt) < 0)
                return cli_usage_error(&c, "--attempt must be a whole number from 1 (the first "
                                           "attempt) to %d (got '%s'%s)", INT_MAX, optarg,
                                       too_large(optarg) ? ", too large" : "");
            break;
        case O_TAIL:
            if (cli_parse_count(optarg, &tail) < 0 || tail > TAIL_MAX)
                return cli_usage_error(&c, "--tail must be a number of lines from 1 to %d (got "
                                           "'%s')", TAIL_MAX, optarg);
            break;
        default: return cli_option_error(&c, o, argv, opts);
        }
    }
    if (optind == argc)
        return cli_usage_error(&c, "give the id of the job whose log to print (`barge jobs "
                                   "--queue Q` lists them)");
    if (optind + 1 < argc)
        return cli_usage_error(&c, "give one job id (got '%s' and '%s')", argv[optind],
                               argv[optind + 1]);
    const char *id = argv[optind];
    int rc = cli_ids_given(&c, argv, optind, argc);
    if (!rc) rc = cli_ctx_open(&c);
    if (rc) return rc;
    /* Also while the job waits to start, with nothing printed yet. */
    if (follow) c.abandon = cli_reader_gone;
    rc = follow_log(&c, id, attempt, follow ? CLI_LOG_FOLLOW | CLI_LOG_UNTIL_STUCK : 0, tail,
                    NULL);
    cli_ctx_close(&c);
    return rc;
}
