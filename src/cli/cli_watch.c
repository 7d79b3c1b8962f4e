/* cli_watch — `barge watch`: a live view of a queue (its jobs by status and the front of the
 * queue, from GetJobQueueSnapshot) or of an array job (its children by status). */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/mem.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

static const char watch_help[] =
    "usage: barge watch QUEUE [--every SECONDS] [--once]\n"
    "       barge watch --array JOBID [--every SECONDS] [--once]\n"
    "\n"
    "A live view, redrawn every few seconds until interrupted: a queue's jobs by status\n"
    "(array children apart) and the first jobs in the order they will be placed (a queue, or\n"
    "all its compute environments, DISABLED said above them, and the RUNNABLE jobs of queues\n"
    "placed first in environments it shares; a job that can never be placed marked with its\n"
    "reason); or an array job's children by status until all have ended, a line on stderr.\n"
    "On a terminal each line is cut to its width.\n"
    "\n"
    "options:\n"
    "  --array JOBID      watch an array job's children instead of a queue; with --json,\n"
    "                     its description is printed when it has ended (with --once, now)\n"
    "  --every SECONDS    how often to redraw (default 2; 1 for --array)\n"
    "  --once             draw once and exit (for scripts)\n"
    "\n"
    "exit status: 0; with --array, 1 when the array has ended FAILED (a child failed), as\n"
    "`barge run` exits, so that `barge watch --array JOBID && NEXT` stops there.\n"
    "\n" CLI_COMMON_HELP;

#define FRONT_SHOWN 10
#define FRONT_MAX 100 /* the jobs a GetJobQueueSnapshot lists at most */
#define STATUS_LINES 7

static const char *const statuses[STATUS_LINES] = {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING",
                                                   "RUNNING", "SUCCEEDED", "FAILED"};

static const char *str(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

/* The view as it is drawn.  On a terminal no line may wrap: a wrapped line takes more rows than
 * the view counts, and a redrawn screen that overflows its window scrolls its header and counts
 * off the top.  So each line is cut to the width, and a redrawn screen stops at the window's
 * height, dropping its last lines rather than its first. */
typedef struct view {
    size_t width; /* the columns a line may take; 0: no limit (a pipe, a file) */
    size_t rows;  /* the lines it may still draw; SIZE_MAX: no limit */
} view;

#define CUT_MARK "..."

/* Prints one line of the view, cut to its width (ending CUT_MARK, as a table's cells do);
 * nothing once the window is full. */
static void __attribute__((format(printf, 2, 3))) view_line(view *v, const char *fmt, ...)
{
    if (!v->rows) return;
    v->rows--;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    vsnprintf(s, n > 0 ? (size_t)n + 1 : 1, fmt, again);
    va_end(again);
    size_t bytes;
    if (v->width && (cli_text_cut(s, v->width, &bytes), s[bytes])) {
        const char *mark = v->width > strlen(CUT_MARK) ? CUT_MARK : "";
        cli_text_cut(s, v->width - strlen(mark), &bytes);
        printf("%.*s%s\n", (int)bytes, s, mark);
    } else {
        printf("%s\n", s);
    }
    free(s);
}

/* The size of the view: the terminal's width on a terminal (asked at each redraw, so that a
 * resized window is followed), less its last column, which a terminal may wrap a line that fills
 * it at; and for a redrawn screen, its window's height less the cursor's line below the
 * view. */
static view view_size(int clear)
{
    view v = {cli_term_width(STDOUT_FILENO), SIZE_MAX};
    if (v.width > 1) v.width--;
    struct winsize ws;
    if (clear && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
        v.rows = ws.ws_row - 1u;
    return v;
}

/* A call for what the snapshot does not say: 0 with a fresh *resp; 1, without a word, when the
 * server refused it (a principal may be allowed the snapshot and not the rest: the view goes on
 * without it); -1 after printing why it failed otherwise (no server, a reader gone).  Takes
 * req. */
static int ask(cli_ctx *c, const char *op, json_t *req, json_t **resp)
{
    cli_error e;
    int rc = cli_call(c, "batch", op, req, resp, &e);
    json_decref(req);
    if (rc == 0) return 0;
    *resp = NULL;
    int refused = e.http_status >= 400 && e.http_status < 500 && !e.abandoned && !e.given_up;
    if (!refused) cli_error_print(c, op, &e);
    cli_error_free(&e);
    return refused ? 1 : -1;
}

/* The queue's description into *q and its compute environments' into *ces (fresh; NULL when
 * the server refused them: the view goes on without what they say).  0, or -1 after printing
 * why. */
static int describe_queue(cli_ctx *c, const char *queue, json_t **q, json_t **ces)
{
    json_t *resp, *o, *names = json_array();
    size_t i;
    *ces = NULL;
    int rc = ask(c, "DescribeJobQueues", json_pack("{s:[s]}", "jobQueues", queue), &resp);
    *q = json_incref(json_array_get(json_object_get(resp, "jobQueues"), 0));
    json_decref(resp);
    json_array_foreach(json_object_get(*q, "computeEnvironmentOrder"), i, o)
        if (str(o, "computeEnvironment"))
            json_array_append_new(names, json_string(str(o, "computeEnvironment")));
    if (rc || !json_array_size(names)) {
        json_decref(names);
        return rc < 0 ? -1 : 0;
    }
    rc = ask(c, "DescribeComputeEnvironments", json_pack("{s:o}", "computeEnvironments", names),
             &resp);
    *ces = json_incref(json_object_get(resp, "computeEnvironments"));
    json_decref(resp);
    cli_json_plain(*ces);
    return rc < 0 ? -1 : 0;
}

/* What holds queue q (its description) with its compute environments ces, as a fresh sentence
 * into *why: all its environments are DISABLED, so none of its jobs is placed now (the job's
 * reasons say so too, as `barge explain` shows them, but a queue need not have jobs); or the
 * queue is DISABLED, so it takes no new job (those it holds are still placed, as on AWS); NULL
 * when neither.  *until ends the heading of the jobs in line ("" when they are placed). */
static void queue_held(json_t *q, json_t *ces, const char *queue, char **why,
                       const char **until)
{
    json_t *o;
    size_t i, off = 0, n = json_array_size(ces);
    *why = NULL;
    if (q && strcmp(str(q, "state") ?: "", "DISABLED") == 0)
        *why = xasprintf("job queue %s is DISABLED: it takes no new jobs, and those in it are "
                         "still placed", cli_arn_name(queue));
    json_array_foreach(ces, i, o) off += strcmp(str(o, "state") ?: "", "DISABLED") == 0;
    if (!n || off != n) return;
    free(*why);
    if (n == 1)
        *why = xasprintf("its compute environment %s is DISABLED; its jobs wait until it is "
                         "ENABLED", str(json_array_get(ces, 0), "computeEnvironmentName") ?: "?");
    else
        *why = xasprintf("its %zu compute environments are all DISABLED; its jobs wait until "
                         "one is ENABLED", n);
    *until = n == 1 ? "once it is ENABLED" : "once one is ENABLED";
}

/* The queues whose RUNNABLE jobs are placed before this one's in a compute environment they
 * share: the scheduler takes the queues by priority, higher first, and those of one priority
 * by name (scheduler.c), each trying its jobs in its environments.  The first of them (the
 * one placed first), how many and their RUNNABLE jobs. */
typedef struct ahead {
    size_t queues;
    long long jobs;
    json_t *first; /* a copy of its description */
    const char *shared; /* the first environment it shares with this queue */
} ahead;

/* Whether queue o is placed before queue q (by the scheduler's order). */
static int placed_before(json_t *o, json_t *q)
{
    long long po = cli_int(o, "priority"), pq = cli_int(q, "priority");
    return po > pq || (po == pq && strcmp(str(o, "jobQueueName") ?: "",
                                           str(q, "jobQueueName") ?: "") < 0);
}

/* The first compute environment of queue o's that is in enabled (names), or NULL. */
static const char *shared_environment(json_t *o, json_t *enabled)
{
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(o, "computeEnvironmentOrder"), i, e) {
        const char *name = cli_arn_name(str(e, "computeEnvironment") ?: "");
        if (json_object_get(enabled, name)) return name;
    }
    return NULL;
}

/* Queue o's RUNNABLE jobs, by its description's counts: plain jobs and array children (an
 * array's parent is never RUNNABLE).  Each count is taken up to INT_MAX, so that the sums of a
 * wrong answer's cannot overflow. */
static long long runnable_in(json_t *o)
{
    static const char *const counts[] = {"jobsByStatus", "arrayChildrenByStatus"};
    long long n = 0;
    for (size_t k = 0; k < 2; k++) {
        long long v = cli_int(json_object_get(json_object_get(o, "barge"), counts[k]),
                              "RUNNABLE");
        n += v < 0 ? 0 : v > INT_MAX ? INT_MAX : v;
    }
    return n;
}

/* Adds the queues of one DescribeJobQueues page that go before queue q in an environment of
 * enabled.  A DISABLED queue's jobs are still placed, as on AWS; one being deleted places none
 * (res_jq_places). */
static void add_ahead(ahead *a, json_t *page, json_t *q, json_t *enabled)
{
    json_t *o;
    size_t i;
    json_array_foreach(json_object_get(page, "jobQueues"), i, o) {
        const char *status = str(o, "status") ?: "";
        long long runnable = runnable_in(o);
        const char *shared = shared_environment(o, enabled);
        if (runnable <= 0 || !shared || !placed_before(o, q) ||
            strcmp(status, "DELETING") == 0 || strcmp(status, "DELETED") == 0)
            continue;
        a->queues++;
        a->jobs += runnable;
        if (a->first && placed_before(a->first, o)) continue;
        json_decref(a->first);
        a->first = json_deep_copy(o);
        a->shared = shared_environment(a->first, enabled);
    }
}

/* The sentence for a: who goes first, and why (priority, or the name among equals). */
static char *ahead_sentence(const ahead *a, json_t *q)
{
    long long pa = cli_int(a->first, "priority"), pq = cli_int(q, "priority");
    char *why = pa > pq ? xasprintf("priority %lld, over this queue's %lld", pa, pq)
                        : xasprintf("priority %lld, as this queue's, and queues of one priority "
                                    "go by name", pa);
    const char *name = str(a->first, "jobQueueName") ?: "?";
    char *s;
    if (a->queues == 1)
        s = xasprintf("queue %s's %lld RUNNABLE job%s %s placed first in compute environment %s, "
                      "which it shares with this queue (%s)", name, a->jobs,
                      a->jobs == 1 ? "" : "s", a->jobs == 1 ? "is" : "are", a->shared, why);
    else
        s = xasprintf("queue %s and %zu more sharing compute environments with this queue "
                      "have %lld RUNNABLE jobs, placed first (queue %s: %s)", name,
                      a->queues - 1, a->jobs, name, why);
    free(why);
    return s;
}

/* What goes before queue q's jobs (q and its environments ces as describe_queue gave them), as
 * a fresh sentence into *line, NULL when nothing does: a DISABLED environment places no job,
 * so only the ENABLED ones are shared.  0, or -1 after printing why. */
static int queue_ahead(cli_ctx *c, json_t *q, json_t *ces, char **line)
{
    json_t *enabled = json_object(), *o, *resp, *tokens = json_object();
    json_t *req = json_object();
    size_t i;
    ahead a = {0};
    int rc = 0;
    *line = NULL;
    json_array_foreach(ces, i, o)
        if (strcmp(str(o, "state") ?: "", "ENABLED") == 0 && str(o, "computeEnvironmentName"))
            json_object_set_new(enabled, str(o, "computeEnvironmentName"), json_true());
    while (q && json_object_size(enabled)) {
        rc = ask(c, "DescribeJobQueues", json_incref(req), &resp);
        if (rc) break;
        cli_json_plain(resp);
        add_ahead(&a, resp, q, enabled);
        const char *next = str(resp, "nextToken");
        int more = next && *next; /* read before resp, which holds it, goes */
        if (more && (rc = cli_next_page(c, "DescribeJobQueues", tokens, next)) == 0)
            json_object_set_new(req, "nextToken", json_string(next));
        json_decref(resp);
        if (rc || !more) break;
    }
    if (a.first && rc >= 0) *line = ahead_sentence(&a, q);
    json_decref(a.first);
    json_decref(req);
    json_decref(tokens);
    json_decref(enabled);
    return rc < 0 ? -1 : 0;
}

/* The descriptions of the first n jobs of the front, by job id, into *out (fresh): their names,
 * and the reasons of those that can never be placed (RUNNABLE for a MISCONFIGURATION:
 * cli_job_stuck), which, shown as next, would be waited for in vain.  0, or -1 after printing
 * why. */
static int stuck_reasons(cli_ctx *c, json_t *front, size_t n, json_t **out)
{
    json_t *ids = json_array(), *j, *resp;
    size_t i;
    *out = json_object();
    json_array_foreach(front, i, j) {
        if (i == n) break;
        json_array_append_new(ids, json_string(cli_arn_name(str(j, "jobArn") ?: "?")));
    }
    if (!json_array_size(ids)) {
        json_decref(ids);
        return 0;
    }
    int rc = ask(c, "DescribeJobs", json_pack("{s:o}", "jobs", ids), &resp);
    cli_json_plain(resp);
    json_array_foreach(json_object_get(resp, "jobs"), i, j)
        if (str(j, "jobId")) json_object_set(*out, str(j, "jobId"), j);
    json_decref(resp);
    return rc < 0 ? -1 : 0;
}

static int draw_queue(cli_ctx *c, const char *queue, int clear)
{
    json_t *req = json_pack("{s:s}", "jobQueue", queue), *resp, *stuck = NULL;
    int rc = cli_batch(c, "GetJobQueueSnapshot", req, &resp);
    json_decref(req);
    if (rc) return rc;
    if (c->json) {
        cli_print_json(resp);
        json_decref(resp);
        return 0;
    }
    char *held = NULL, *before = NULL;
    const char *until = "";
    json_t *front = json_object_get(json_object_get(resp, "frontOfQueue"), "jobs"), *j;
    size_t i, n = json_array_size(front), shown = n < FRONT_SHOWN ? n : FRONT_SHOWN;
    view v = view_size(clear);
    json_t *q, *ces;
    rc = describe_queue(c, queue, &q, &ces);
    if (rc == 0) queue_held(q, ces, queue, &held, &until);
    /* Only jobs in line can be placed after another queue's. */
    if (rc == 0 && n && !*until) rc = queue_ahead(c, q, ces, &before);
    json_decref(q);
    json_decref(ces);
    if (rc < 0) {
        free(held);
        json_decref(resp);
        return 1;
    }
    if (before) until = "after them";
    /* A window too short for a line a status has the counts side by side, as many lines as
     * its width needs (an 8-row terminal dropped the last, FAILED). */
    json_t *counts = json_object_get(json_object_get(resp, "barge"), "jobsByStatus");
    char *packed[STATUS_LINES] = {NULL};
    size_t status_lines = STATUS_LINES, top = 1 + (held != NULL) + (before != NULL);
    if (v.rows != SIZE_MAX && v.rows < top + STATUS_LINES) {
        status_lines = 0;
        buf line = {0};
        for (size_t k = 0; k < STATUS_LINES; k++) {
            char item[48];
            snprintf(item, sizeof item, "%s %lld", statuses[k], cli_int(counts, statuses[k]));
            if (line.len && v.width && line.len + 2 + strlen(item) > v.width) {
                packed[status_lines++] = line.data;
                line = (buf){0};
            }
            buf_puts(&line, "  ");
            buf_puts(&line, item);
        }
        packed[status_lines++] = line.data;
    }
    if (v.rows != SIZE_MAX) {
        /* As many of the front's jobs as fit below the header, the counts and the heading; one
         * line fewer when "... and N more" must follow. */
        size_t above = top + status_lines + 1;
        size_t room = v.rows > above ? v.rows - above : 0;
        shown = n <= room ? n : room ? room - 1 : 0;
    }
    if (stuck_reasons(c, front, shown, &stuck) < 0) {
        for (size_t k = 0; k < STATUS_LINES; k++) free(packed[k]);
        free(held);
        free(before);
        json_decref(stuck);
        json_decref(resp);
        return 1;
    }
    if (clear) fputs("\033[H\033[J", stdout);
    char t[32];
    cli_fmt_time(cli_int(json_object_get(resp, "frontOfQueue"), "lastUpdatedAt"), t);
    json_t *util = json_object_get(resp, "queueUtilization");
    json_t *usage = json_array_get(json_object_get(util, "totalCapacityUsage"), 0);
    double in_use = json_number_value(json_object_get(usage, "quantity"));
    view_line(&v, "queue %s at %s, %g vCPU%s in use", cli_arn_name(queue), t, in_use,
              in_use == 1 ? "" : "s");
    if (held) view_line(&v, "%s", held);
    if (before) view_line(&v, "%s", before);
    if (packed[0]) {
        for (size_t k = 0; k < status_lines; k++) {
            view_line(&v, "%s", packed[k]);
            free(packed[k]);
        }
    } else {
        for (size_t k = 0; k < STATUS_LINES; k++)
            view_line(&v, "  %-10s %lld", statuses[k], cli_int(counts, statuses[k]));
    }
    /* The snapshot lists the first FRONT_MAX at most, as AWS's does: more may wait. */
    const char *least = n >= FRONT_MAX ? "at least " : "";
    /* A window too short to list any says how many on the heading's line. */
    if (n && shown) view_line(&v, "next to be placed%s%s:", *until ? " " : "", until);
    else if (n)
        view_line(&v, "next to be placed%s%s: %s%zu jobs", *until ? " " : "", until, least, n);
    json_array_foreach(front, i, j) {
        if (i == shown) {
            if (shown) view_line(&v, "  ... and %s%zu more", least, n - shown);
            break;
        }
        /* Its name beside its id (the snapshot has ids alone, as AWS's has). */
        const char *id = cli_arn_name(str(j, "jobArn") ?: "?");
        json_t *d = json_object_get(stuck, id);
        const char *why = d && cli_job_stuck(d) ? str(d, "statusReason") : NULL;
        const char *name = str(d, "jobName");
        char since[32];
        cli_fmt_time(cli_int(j, "earliestTimeAtPosition"), since);
        if (why) view_line(&v, "  %s%s%s  cannot be placed: %s", id, name ? "  " : "", name ?: "",
                           why);
        else view_line(&v, "  %s%s%s  (in line since %s)", id, name ? "  " : "", name ?: "",
                       since);
    }
    free(held);
    free(before);
    json_decref(stuck);
    json_decref(resp);
    return 0;
}

int cli_watch(int argc, char **argv)
{
    enum { O_ARRAY = 256, O_EVERY, O_ONCE };
    static const struct option opts[] = {
        {"array", required_argument, NULL, O_ARRAY},
        {"every", required_argument, NULL, O_EVERY},
        {"once", no_argument, NULL, O_ONCE},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, "barge watch");
    const char *array = NULL;
    long every = 2;
    int once = 0, every_given = 0, o;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        switch (o) {
        case 'h': fputs(watch_help, stdout); return 0;
        case O_ARRAY: array = optarg; break;
        case O_EVERY:
            if (cli_parse_count(optarg, &every) < 0)
                return cli_usage_error(&c, "--every must be a whole number of seconds, from 1 "
                                           "to %d (got '%s')", INT_MAX, optarg);
            every_given = 1;
            break;
        case O_ONCE: once = 1; break;
        default:
            /* The other commands take --queue: here the queue is the operand. */
            if (o == '?' && strncmp(argv[optind - 1], "--queue", 7) == 0 &&
                (argv[optind - 1][7] == '\0' || argv[optind - 1][7] == '='))
                return cli_usage_error(&c, "the queue to watch is given without an option: "
                                           "barge watch QUEUE");
            return cli_option_error(&c, o, argv, opts);
        }
    }
    if (!array && optind + 1 < argc)
        return cli_usage_error(&c, "give one job queue to watch, not %d (%s, %s...)",
                               argc - optind, argv[optind], argv[optind + 1]);
    if (!array && optind + 1 != argc)
        return cli_usage_error(&c, "give one job queue to watch (or --array JOBID)");
    if (array && optind != argc)
        return cli_usage_error(&c, "give either a queue or --array JOBID, not both");
    if (array && !*array)
        return cli_usage_error(&c, "--array must not be empty: give an array job's id");
    if (!array && cli_ref_check(argv[optind], 0) != CLI_REF_OK)
        return cli_usage_error(&c, "'%s' is no job queue's name: a name is 1 to 128 letters, "
                                   "digits, hyphens and underscores (or give the queue's ARN)",
                               argv[optind]);
    int rc = cli_ctx_open(&c);
    if (rc) return rc;
    /* A live view outlives a server that restarts. */
    c.patient = !once;
    if (array) {
        json_t *job = NULL;
        rc = cli_follow_array(&c, array, once ? CLI_ARRAY_ONCE : 0,
                              every_given ? every * 1000 : 0, &job, NULL);
        if (rc == 0 && c.json) cli_print_json(job);
        /* An array that ended FAILED (a child failed) fails the command, as it fails `barge
         * run`: `barge watch --array X && next-step` must not go on after it. */
        if (rc == 0 && strcmp(str(job, "status") ?: "", "FAILED") == 0) {
            json_t *sum = json_object_get(json_object_get(job, "arrayProperties"),
                                          "statusSummary");
            fprintf(stderr, "%s: array job %s FAILED: %lld of its %lld children failed\n", c.prog,
                    array, cli_int(sum, "FAILED"),
                    cli_int(json_object_get(job, "arrayProperties"), "size"));
            rc = 1;
        }
        json_decref(job);
    } else {
        int clear = !once && !c.json && cli_redraws(STDOUT_FILENO);
        /* Nobody reads any more (a closed pipe): stop, even in the middle of a long --every;
         * cli_main sets the exit code. */
        if (!once) c.abandon = cli_reader_gone;
        for (;;) {
            if ((rc = draw_queue(&c, argv[optind], clear)) != 0 || once) break;
            if (cli_flush(1) < 0 || cli_wait(&c, every * 1000) < 0) {
                rc = 1;
                break;
            }
        }
    }
    cli_ctx_close(&c);
    return rc;
}
