/* cli_watch — `barge watch`: a live view of a queue (its jobs by status and the front of the
 * queue, from GetJobQueueSnapshot) or of an array job (its children by status). */
#include <limits.h>
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
    "(array children apart) and the first jobs in the order they will be placed; or an\n"
    "array job's children by status until all have ended, a line on stderr.\n"
    "\n"
    "options:\n"
    "  --array JOBID      watch an array job's children instead of a queue; with --json,\n"
    "                     its description is printed when it has ended (with --once, now)\n"
    "  --every SECONDS    how often to redraw (default 2; 1 for --array)\n"
    "  --once             draw once and exit (for scripts)\n"
    "\n" CLI_COMMON_HELP;

#define FRONT_SHOWN 10
#define FRONT_MAX 100 /* the jobs a GetJobQueueSnapshot lists at most */
#define QUEUE_LINES 11 /* the view's lines besides the front's: 1 + 7 counts + 2 + the cursor's */

/* How many of the front's jobs a redrawn screen shows: as many as fit the terminal's window
 * below the counts (asked at each redraw, so a resized window is followed), at least one; ten
 * when the window says no size, and for a view printed once or into a file. */
static size_t front_shown(int clear)
{
    struct winsize ws;
    if (!clear || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0) return FRONT_SHOWN;
    return ws.ws_row > QUEUE_LINES + 1 ? ws.ws_row - QUEUE_LINES : 1;
}

static const char *const statuses[] = {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING",
                                       "RUNNING", "SUCCEEDED", "FAILED"};

static int draw_queue(cli_ctx *c, const char *queue, int clear)
{
    json_t *req = json_pack("{s:s}", "jobQueue", queue), *resp;
    int rc = cli_batch(c, "GetJobQueueSnapshot", req, &resp);
    json_decref(req);
    if (rc) return rc;
    if (c->json) {
        cli_print_json(resp);
        json_decref(resp);
        return 0;
    }
    if (clear) fputs("\033[H\033[J", stdout);
    char t[32];
    cli_fmt_time(cli_int(json_object_get(resp, "frontOfQueue"), "lastUpdatedAt"), t);
    json_t *util = json_object_get(resp, "queueUtilization");
    json_t *usage = json_array_get(json_object_get(util, "totalCapacityUsage"), 0);
    printf("queue %s at %s, %g vCPUs in use\n", cli_arn_name(queue), t,
           json_number_value(json_object_get(usage, "quantity")));
    json_t *counts = json_object_get(json_object_get(resp, "barge"), "jobsByStatus");
    for (size_t k = 0; k < sizeof statuses / sizeof *statuses; k++)
        printf("  %-10s %lld\n", statuses[k], cli_int(counts, statuses[k]));
    json_t *front = json_object_get(json_object_get(resp, "frontOfQueue"), "jobs"), *j;
    size_t i, shown = front_shown(clear);
    if (json_array_size(front)) printf("next to be placed:\n");
    json_array_foreach(front, i, j) {
        if (i == shown) {
            /* The snapshot lists the first FRONT_MAX at most, as AWS's does: more may wait. */
            printf("  ... and %s%zu more\n", json_array_size(front) >= FRONT_MAX ? "at least " : "",
                   json_array_size(front) - shown);
            break;
        }
        char since[32];
        cli_fmt_time(cli_int(j, "earliestTimeAtPosition"), since);
        printf("  %s  (in line since %s)\n",
               cli_arn_name(json_string_value(json_object_get(j, "jobArn")) ?: "?"), since);
    }
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
        default: return cli_option_error(&c, o, argv, opts);
        }
    }
    if (!array && optind + 1 != argc)
        return cli_usage_error(&c, "give one job queue to watch (or --array JOBID)");
    if (array && optind != argc)
        return cli_usage_error(&c, "give either a queue or --array JOBID, not both");
    if (array && !*array)
        return cli_usage_error(&c, "--array must not be empty: give an array job's id");
    int rc = cli_ctx_open(&c);
    if (rc) return rc;
    /* A live view outlives a server that restarts. */
    c.patient = !once;
    if (array) {
        json_t *job = NULL;
        rc = cli_follow_array(&c, array, once ? CLI_ARRAY_ONCE : 0,
                              every_given ? every * 1000 : 0, &job, NULL);
        if (rc == 0 && c.json) cli_print_json(job);
        json_decref(job);
    } else {
        int clear = !once && !c.json && cli_redraws(STDOUT_FILENO);
        /* Nobody reads any more (a closed pipe): stop, even in the middle of a long --every;
         * cli_main says why. */
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
