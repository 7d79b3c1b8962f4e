/* cli_events — `barge events`: job state change events, as AWS Batch sends them to EventBridge,
 * read from the server's event log (GetEvents, a long poll), once or followed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

/* The wait of -f's long polls.  A server that has stopped answering cannot be told from one
 * with nothing new before the wait is over: a short wait lets that be said within seconds
 * (cli_ctx.expect_ms), for an idle poll every few seconds. */
#define FOLLOW_WAIT_S 5

static const char events_help[] =
    "usage: barge events [-f] [--queue Q] [--status S[,S...]] [--after SEQ]\n"
    "\n"
    "Prints job state change events, one line each: its number, its time, the status the job\n"
    "changed to, the job's id, its name and its reason (with --json, each event whole, as\n"
    "EventBridge delivers AWS Batch's, one per line).  Without -f, the events the server keeps\n"
    "after --after (default: all of them), then it exits; with -f, then every new one as it\n"
    "comes, until interrupted.\n"
    "\n"
    "options:\n"
    "  -f, --follow       keep printing new events\n"
    "  --queue Q          only this queue's jobs\n"
    "  --status S,...     only changes to these statuses (PENDING, RUNNABLE, STARTING,\n"
    "                     RUNNING, SUCCEEDED, FAILED; in any case); several, separated by\n"
    "                     commas or given again, for changes to any of them\n"
    "  --after SEQ        start after this event (`barge events` prints each one's number)\n"
    "\n" CLI_COMMON_HELP;

static void print_event(const cli_ctx *c, long long seq, json_t *ev)
{
    if (c->json) {
        /* Whatever the server put there, one line each: an event that is not an object (or is
         * missing) is printed as the JSON it is (null), not taken for a string. */
        char *text = ev ? json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        printf("%s\n", text ? text : "null");
        free(text);
        return;
    }
    cli_json_plain(ev);
    json_t *d = json_object_get(ev, "detail");
    const char *reason = json_string_value(json_object_get(d, "statusReason"));
    /* The columns of known width first (a child's id "UUID:9999" or a node's "UUID#9999" is
     * 41 characters), the free ones, a name of up to 128 and the reason, after them: a long
     * name pushes nothing out of line. */
    printf("%-6lld %s  %-9s  %-41s  %s%s%s\n", seq,
           json_string_value(json_object_get(ev, "time")) ?: "?",
           json_string_value(json_object_get(d, "status")) ?: "?",
           json_string_value(json_object_get(d, "jobId")) ?: "?",
           json_string_value(json_object_get(d, "jobName")) ?: "?", reason ? "  " : "",
           reason ? reason : "");
}

/* One --status S,...: its statuses join those of the others in chosen (indexed as
 * cli_job_statuses), as `barge jobs --status` takes them.  -1 after printing why. */
static int parse_statuses(const cli_ctx *c, const char *arg, int chosen[7])
{
    int len;
    const char *bad;
    if (cli_parse_statuses(arg, chosen, &bad, &len) < 0) {
        if (len) cli_usage_error(c, "--status: '%.*s' is not a job status; use PENDING, "
                                    "RUNNABLE, STARTING, RUNNING, SUCCEEDED or FAILED", len, bad);
        else cli_usage_error(c, "--status takes statuses separated by commas, such as "
                                "RUNNING,FAILED (got '%s')", arg);
        return -1;
    }
    if (chosen[0]) { /* cli_job_statuses[0], SUBMITTED */
        cli_usage_error(c, "--status: no event is made for a submission (SUBMITTED); a job's "
                           "first is PENDING (it waits for others), RUNNABLE, or FAILED (what "
                           "it waits for failed)");
        return -1;
    }
    return 0;
}

/* Says that the position asked for, after, is past the server's newest event (ahead, the
 * answer's member).  Following (going_on) reads on from the newest; a single read has nothing
 * after it to print, and is not said to go on as if it followed. */
static void say_ahead(const cli_ctx *c, json_t *ahead, long long after, int going_on)
{
    long long newest = (long long)json_integer_value(json_object_get(ahead, "newestSeq"));
    if (going_on)
        fprintf(stderr, "%s: the server's newest event is %lld, before %lld (its events were "
                        "made anew, or it is another server); going on from %lld\n", c->prog,
                newest, after, newest);
    else
        fprintf(stderr, "%s: %lld is past the server's newest event, %lld (its events were made "
                        "anew, or it is another server); there are no events after it\n",
                c->prog, after, newest);
}

int cli_events(int argc, char **argv)
{
    enum { O_QUEUE = 256, O_STATUS, O_AFTER };
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"queue", required_argument, NULL, O_QUEUE},
        {"status", required_argument, NULL, O_STATUS},
        {"after", required_argument, NULL, O_AFTER},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, "barge events");
    int follow = 0, o, chosen[7] = {0};
    long long after = 0;
    json_t *req = json_object();
    int rc = 2;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":hf", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        switch (o) {
        case 'h':
            fputs(events_help, stdout);
            rc = 0;
            goto done;
        case 'f': follow = 1; break;
        case O_QUEUE:
            if (!cli_names_ok(&c, optarg, NULL, NULL)) goto done;
            json_object_set_new(req, "queue", json_string(optarg));
            break;
        case O_STATUS:
            if (parse_statuses(&c, optarg, chosen) < 0) goto done;
            break;
        case O_AFTER:
            if (cli_parse_seq(optarg, &after) < 0) {
                cli_usage_error(&c, "--after must be an event's number (got '%s')", optarg);
                goto done;
            }
            break;
        default: rc = cli_option_error(&c, o, argv, opts); goto done;
        }
    }
    if (optind != argc) {
        cli_usage_error(&c, "unexpected argument '%.200s'", argv[optind]);
        goto done;
    }
    if ((rc = cli_ctx_open(&c)) != 0) goto done;
    /* Every --status's statuses, merged; with none, no filter: every event. */
    json_t *statuses = json_array();
    for (int k = 0; k < 7; k++)
        if (chosen[k]) json_array_append_new(statuses, json_string(cli_job_statuses[k]));
    if (json_array_size(statuses)) json_object_set_new(req, "status", statuses);
    else json_decref(statuses);
    json_object_set_new(req, "after", json_integer(after));
    json_object_set_new(req, "max", json_integer(500));
    /* Following outlives a server that restarts; the events it missed meanwhile are kept.  It
     * ends once nobody reads, even in a long poll that brings nothing (`| head -1`). */
    c.patient = follow;
    if (follow) c.abandon = cli_reader_gone;
    for (;;) {
        json_t *resp;
        cli_error err;
        long long asked_ms = cli_now_ms();
        /* A long poll rightly brings nothing for its wait: only a longer silence is said. */
        c.expect_ms = (long)json_integer_value(json_object_get(req, "wait")) * 1000;
        if (cli_call(&c, "barge", "GetEvents", req, &resp, &err) != 0) {
            /* Given up for a reader that has gone: nothing to say (cli_main). */
            cli_error_print(&c, "GetEvents", &err);
            cli_error_free(&err);
            rc = 1;
            break;
        }
        json_t *gap = json_object_get(resp, "gap");
        json_t *ahead = json_object_get(resp, "ahead");
        json_t *list = json_object_get(resp, "events");
        if (ahead)
            say_ahead(&c, ahead, (long long)json_integer_value(json_object_get(req, "after")),
                      follow || json_array_size(list));
        if (gap)
            fprintf(stderr, "%s: the events after %lld are no longer kept; going on from %lld\n",
                    c.prog, (long long)json_integer_value(json_object_get(req, "after")),
                    (long long)json_integer_value(json_object_get(gap, "oldestSeq")));
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e)
            print_event(&c, (long long)json_integer_value(json_object_get(e, "seq")),
                        json_object_get(e, "event"));
        /* Nobody reads any more (a closed pipe, a full disk): stop rather than follow for no
         * one; cli_main sets the exit code, and says why unless the reader has gone. */
        if (cli_flush(follow) < 0) {
            json_decref(resp);
            rc = 1;
            break;
        }
        size_t n = json_array_size(list);
        json_t *last = json_object_get(resp, "lastSeq");
        long long sent = (long long)json_integer_value(json_object_get(req, "after"));
        /* Events, or a gap, always move lastSeq past where the request started; a server whose
         * lastSeq stays would be asked the same forever, and its events printed again each
         * time. */
        if ((n || gap) && !ahead && !(json_is_integer(last) && json_integer_value(last) > sent)) {
            fprintf(stderr, "%s: the server's answer to GetEvents does not go past event %lld "
                            "(its lastSeq does not); stopping\n", c.prog, sent);
            json_decref(resp);
            rc = 1;
            break;
        }
        if (json_is_integer(last) && json_integer_value(last) >= 0)
            json_object_set(req, "after", last);
        json_decref(resp);
        if (!n && !gap) {
            if (!follow) break;
            /* A server that answers at once when there is nothing new (one that does not wait
             * as asked) is asked again a second later, not at once over and over. */
            if (json_object_get(req, "wait") && cli_now_ms() - asked_ms < 1000 &&
                cli_wait(&c, 1000) < 0) {
                rc = 1;
                break;
            }
            json_object_set_new(req, "wait", json_integer(FOLLOW_WAIT_S));
        }
    }
done:
    json_decref(req);
    cli_ctx_close(&c);
    return rc;
}
