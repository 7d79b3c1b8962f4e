/* cli_show — `barge jobs` (a queue's jobs as a table) and `barge describe` (jobs in detail). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/util.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

/* jobs ---------------------------------------------------------------------------------------- */

static const char jobs_help[] =
    "usage: barge jobs --queue Q [--status S[,S...] | --all] [--array JOBID] [--name PATTERN]\n"
    "\n"
    "Lists jobs, oldest first: JOB ID, NAME, STATUS, CREATED (local time), RUNTIME, EXIT.\n"
    "Without --status or --all it lists the jobs still in flight (SUBMITTED to RUNNING).\n"
    "\n"
    "options:\n"
    "  --queue Q          the job queue (name or ARN); not needed with --array\n"
    "  --status S         only jobs in this status: SUBMITTED, PENDING, RUNNABLE, STARTING,\n"
    "                     RUNNING, SUCCEEDED or FAILED; several, separated by commas or\n"
    "                     given again, for jobs in any of them\n"
    "  --all              jobs in every status, finished ones included\n"
    "  --array JOBID      the children of this array job (its id or ARN) instead of the\n"
    "                     queue's jobs\n"
    "  --name PATTERN     only jobs whose name matches; a trailing * matches any rest\n"
    "\n" CLI_COMMON_HELP;

static int summary_cmp(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    long long cx = cli_int(x, "createdAt"), cy = cli_int(y, "createdAt");
    if (cx != cy) return cx < cy ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "jobId")) ?: "",
                  json_string_value(json_object_get(y, "jobId")) ?: "");
}

/* Follows ListJobs' pages for one request shape to the end, adding each summary whose status is
 * wanted and which is not already in seen. */
int cli_list_jobs(cli_ctx *c, json_t *req, const int *wanted, json_t *seen, json_t *out)
{
    json_t *tokens = json_object();
    for (;;) {
        json_t *resp;
        int rc = cli_batch(c, "ListJobs", req, &resp);
        if (rc) {
            json_decref(tokens);
            return rc;
        }
        json_t *s;
        size_t i;
        json_array_foreach(json_object_get(resp, "jobSummaryList"), i, s) {
            const char *id = json_string_value(json_object_get(s, "jobId"));
            const char *st = json_string_value(json_object_get(s, "status"));
            int keep = !id || !json_object_get(seen, id);
            for (int k = 0; keep && cli_job_statuses[k]; k++)
                if (st && strcmp(st, cli_job_statuses[k]) == 0) keep = wanted[k];
            if (!keep) continue;
            if (id) json_object_set_new(seen, id, json_true());
            json_array_append(out, s);
        }
        const char *next = json_string_value(json_object_get(resp, "nextToken"));
        if (!next || !*next || cli_next_page(c, "ListJobs", tokens, next) < 0) {
            rc = next && *next;
            json_decref(resp);
            json_decref(tokens);
            return rc;
        }
        json_object_set_new(req, "nextToken", json_string(next));
        json_decref(resp);
    }
}

/* A job's id from its ARN ("arn:aws:batch:REGION:ACCOUNT:job/ID"), as ListJobs' arrayJobId
 * takes ids only; anything else comes back unchanged.  Points into s. */
static const char *job_id_of(const char *s)
{
    const char *name = cli_arn_name(s);
    return name - s > 5 && strncmp(name - 5, ":job/", 5) == 0 ? name : s;
}

static void print_jobs_table(json_t *list)
{
    static const char *const headers[] = {"JOB ID", "NAME", "STATUS", "CREATED", "RUNTIME",
                                          "EXIT"};
    cli_table t;
    cli_table_init(&t, 6, headers);
    int64_t now = util_now_ms();
    json_t *s;
    size_t i;
    json_array_foreach(list, i, s) {
        char created[32], runtime[32] = "-", exit_code[24] = "-";
        cli_fmt_time(cli_int(s, "createdAt"), created);
        long long started = cli_int(s, "startedAt"), stopped = cli_int(s, "stoppedAt");
        if (started > 0) cli_fmt_duration((stopped > 0 ? stopped : now) - started, runtime);
        json_t *code = json_object_get(json_object_get(s, "container"), "exitCode");
        if (json_is_integer(code))
            snprintf(exit_code, sizeof exit_code, "%lld", (long long)json_integer_value(code));
        /* An array parent never runs itself; its size says what the row stands for. */
        char *name = NULL;
        json_t *size = json_object_get(json_object_get(s, "arrayProperties"), "size");
        const char *jname = json_string_value(json_object_get(s, "jobName")) ?: "?";
        if (json_is_integer(size))
            name = xasprintf("%s [%lld]", jname, (long long)json_integer_value(size));
        const char *row[] = {json_string_value(json_object_get(s, "jobId")),
                             name ? name : jname,
                             json_string_value(json_object_get(s, "status")),
                             created, runtime, exit_code};
        cli_table_add(&t, row);
        free(name);
    }
    buf out = {0};
    /* On a terminal, a long name gives way: the id, status and times are what a row is for. */
    cli_table_fit(&t, 1, cli_term_width(STDOUT_FILENO));
    cli_table_render(&t, &out);
    fputs(out.data, stdout);
    buf_free(&out);
    cli_table_free(&t);
}

int cli_jobs(int argc, char **argv)
{
    enum { O_QUEUE = 256, O_STATUS, O_ALL, O_ARRAY, O_NAME };
    static const struct option opts[] = {
        {"queue", required_argument, NULL, O_QUEUE},
        {"status", required_argument, NULL, O_STATUS},
        {"all", no_argument, NULL, O_ALL},
        {"array", required_argument, NULL, O_ARRAY},
        {"name", required_argument, NULL, O_NAME},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, "barge jobs");
    const char *queue = NULL, *array = NULL, *pattern = NULL;
    int all = 0, o, chosen[7] = {0}, n_chosen = 0;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        switch (o) {
        case 'h': fputs(jobs_help, stdout); return 0;
        case O_QUEUE: queue = optarg; break;
        case O_STATUS: {
            /* Several, by commas or given again: jobs in any of them. */
            const char *bad;
            int len;
            if (cli_parse_statuses(optarg, chosen, &bad, &len) < 0)
                return cli_usage_error(&c, "--status '%.*s' is not a job status; use "
                                           "SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, "
                                           "SUCCEEDED or FAILED (several separated by commas), "
                                           "or --all", len, bad);
            break;
        }
        case O_ALL: all = 1; break;
        case O_ARRAY: array = optarg; break;
        case O_NAME: pattern = optarg; break;
        default: return cli_option_error(&c, o, argv, opts);
        }
    }
    if (optind < argc)
        return cli_usage_error(&c, "unexpected argument '%.200s'; the queue is given with --queue",
                               argv[optind]);
    if (!queue && !array)
        return cli_usage_error(&c, "--queue is required (the job queue to list; see `aws batch "
                                   "describe-job-queues`), or --array JOBID for an array "
                                   "job's children");
    /* ListJobs takes one or the other: a queue given beside an array would be left unused. */
    if (queue && array)
        return cli_usage_error(&c, "--queue and --array exclude each other: an array's children "
                                   "are listed by the array alone");
    if ((queue && !*queue) || (array && !*array) || (pattern && !*pattern))
        return cli_usage_error(&c, "%s must not be empty (an unset shell variable?)",
                               queue && !*queue ? "--queue" : array && !*array ? "--array" :
                                                                                 "--name");
    if (!cli_names_ok(&c, queue, NULL, NULL)) return 2;
    for (int k = 0; k < 7; k++) n_chosen += chosen[k];
    if (n_chosen && all) return cli_usage_error(&c, "--status and --all exclude each other");
    int rc = cli_ctx_open(&c);
    if (rc) return rc;

    /* The statuses to show: those chosen, all, or (by default) the ones still in flight. */
    int wanted[7];
    buf status = {0}; /* those chosen, in words, for "No ... jobs" */
    for (int k = 0; k < 7; k++) {
        wanted[k] = n_chosen ? chosen[k] : all || k < 5;
        if (chosen[k])
            buf_printf(&status, "%s%s", status.len ? " or " : "", cli_job_statuses[k]);
    }
    json_t *req = json_object();
    /* An array job is named by its id or by its ARN, as describe takes it. */
    if (array) json_object_set_new(req, "arrayJobId", json_string(job_id_of(array)));
    else json_object_set_new(req, "jobQueue", json_string(queue));
    json_t *list = json_array(), *seen = json_object();
    if (pattern) {
        /* With a filter ListJobs answers for every status at once; the wanted ones are kept. */
        json_object_set_new(req, "filters", json_pack("[{s:s,s:[s]}]", "name", "JOB_NAME",
                                                      "values", pattern));
        rc = cli_list_jobs(&c, req, wanted, seen, list);
    } else {
        /* Without one it takes a single status per call. */
        for (int k = 0; k < 7 && !rc; k++) {
            if (!wanted[k]) continue;
            json_object_set_new(req, "jobStatus", json_string(cli_job_statuses[k]));
            json_object_del(req, "nextToken");
            rc = cli_list_jobs(&c, req, wanted, seen, list);
        }
    }
    if (!rc) {
        size_t n = json_array_size(list);
        json_t **items = xcalloc(n, sizeof *items);
        for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(list, i));
        qsort(items, n, sizeof *items, summary_cmp);
        json_array_clear(list);
        for (size_t i = 0; i < n; i++) json_array_append_new(list, items[i]);
        free(items);
        if (c.json) {
            json_t *out = json_pack("{s:O}", "jobSummaryList", list);
            cli_print_json(out);
            json_decref(out);
        } else if (n == 0) {
            printf("No %s%sjobs %s %s%s%s.\n", n_chosen ? status.data : all ? "" : "unfinished",
                   all && !n_chosen ? "" : " ",
                   array ? "in array job" : "in queue", array ? array : queue,
                   pattern ? " named " : "", pattern ? pattern : "");
        } else {
            print_jobs_table(list);
        }
    }
    json_decref(list);
    json_decref(seen);
    json_decref(req);
    buf_free(&status);
    cli_ctx_close(&c);
    return rc;
}

/* describe ------------------------------------------------------------------------------------ */

static const char describe_help[] =
    "usage: barge describe JOBID...\n"
    "\n"
    "Shows each job in detail: queue, definition, status and its reason, times, the command\n"
    "and image (a multi-node job's: its nodes, and each range of them with its image and\n"
    "command), every attempt with its exit code, reason and log stream, an array job's\n"
    "children by status, and what the job depends on.\n"
    "\n" CLI_COMMON_HELP;

#define LABEL "  %-13s "

static void line_str(const char *label, const char *v)
{
    if (v && *v) printf(LABEL "%s\n", label, v);
}

static void line_time(const char *label, long long ms)
{
    char t[32];
    if (ms <= 0) return;
    cli_fmt_time(ms, t);
    printf(LABEL "%s\n", label, t);
}

static void print_attempt(size_t i, json_t *a)
{
    json_t *ct = json_object_get(a, "container");
    json_t *code = json_object_get(ct, "exitCode");
    const char *reason = json_string_value(json_object_get(a, "statusReason"));
    const char *creason = json_string_value(json_object_get(ct, "reason"));
    char label[32], ran[32] = "";
    snprintf(label, sizeof label, "attempt %zu", i + 1);
    long long started = cli_int(a, "startedAt"), stopped = cli_int(a, "stoppedAt");
    if (started > 0 && stopped >= started) cli_fmt_duration(stopped - started, ran);
    buf b = {0};
    if (json_is_integer(code)) buf_printf(&b, "exit %lld", (long long)json_integer_value(code));
    else buf_puts(&b, "no exit code");
    if (*ran) buf_printf(&b, " after %s", ran);
    if (reason && *reason) buf_printf(&b, ": %s", reason);
    if (creason && *creason) buf_printf(&b, " (%s)", creason);
    printf(LABEL "%s\n", label, b.data);
    buf_free(&b);
    const char *stream = json_string_value(json_object_get(ct, "logStreamName"));
    if (stream && *stream) printf(LABEL "log stream %s\n", "", stream);
}

/* Appends the command cmd (an array of strings) as a line for a shell, each word quoted as it
 * needs to be. */
static void command_line(buf *b, json_t *cmd)
{
    json_t *arg;
    size_t i;
    json_array_foreach(cmd, i, arg) {
        if (i) buf_puts(b, " ");
        cli_shell_quote(b, json_string_value(arg) ?: "");
    }
}

/* A multi-node parallel job's nodes: how many and which is the main one, then each range of
 * them with its image and command (raw's, as print_job says). */
static void print_nodes(json_t *j, json_t *raw)
{
    json_t *np = json_object_get(j, "nodeProperties");
    json_t *raw_ranges = json_object_get(json_object_get(raw, "nodeProperties"),
                                         "nodeRangeProperties");
    if (!json_is_object(np)) return;
    buf b = {0};
    if (json_is_integer(json_object_get(np, "numNodes")))
        buf_printf(&b, "%lld", cli_int(np, "numNodes"));
    if (json_is_integer(json_object_get(np, "mainNode")))
        buf_printf(&b, "%smain node %lld", b.len ? ", " : "", cli_int(np, "mainNode"));
    line_str("nodes", b.data);
    buf_free(&b);
    json_t *r;
    size_t i;
    json_array_foreach(json_object_get(np, "nodeRangeProperties"), i, r) {
        json_t *ct = json_object_get(r, "container");
        json_t *cmd = json_object_get(json_object_get(json_array_get(raw_ranges, i),
                                                      "container"), "command");
        const char *image = json_string_value(json_object_get(ct, "image"));
        char *label = xasprintf("nodes %s",
                                json_string_value(json_object_get(r, "targetNodes")) ?: "?");
        int lines = 0;
        if (image && *image) printf(LABEL "image %s\n", lines++ ? "" : label, image);
        if (json_array_size(cmd)) {
            buf line = {0};
            command_line(&line, cmd);
            printf(LABEL "command %s\n", lines++ ? "" : label, line.data);
            buf_free(&line);
        }
        free(label);
    }
}

/* Shows job raw for people.  What is shown is made plain (cli_json_plain), but for the
 * commands, which cli_shell_quote escapes from raw: with '?' for a control character, the
 * command pasted back would not be the job's. */
static void print_job(json_t *raw)
{
    json_t *j = json_deep_copy(raw);
    if (!j) j = json_incref(raw); /* out of memory: raw is made plain, commands too */
    cli_json_plain(j);
    const char *status = json_string_value(json_object_get(j, "status")) ?: "?";
    const char *reason = json_string_value(json_object_get(j, "statusReason"));
    json_t *ct = json_object_get(j, "container");
    json_t *ap = json_object_get(j, "arrayProperties");
    printf("job %s\n", json_string_value(json_object_get(j, "jobId")) ?: "?");
    line_str("name", json_string_value(json_object_get(j, "jobName")));
    if (reason && *reason) printf(LABEL "%s: %s\n", "status", status, reason);
    else line_str("status", status);
    line_str("queue", cli_arn_name(json_string_value(json_object_get(j, "jobQueue"))));
    line_str("definition", cli_arn_name(json_string_value(json_object_get(j, "jobDefinition"))));
    line_time("created", cli_int(j, "createdAt"));
    line_time("started", cli_int(j, "startedAt"));
    long long started = cli_int(j, "startedAt"), stopped = cli_int(j, "stoppedAt");
    if (stopped > 0) {
        char t[32], d[32];
        cli_fmt_time(stopped, t);
        if (started > 0 && stopped >= started) {
            cli_fmt_duration(stopped - started, d);
            printf(LABEL "%s (ran %s)\n", "stopped", t, d);
        } else {
            line_str("stopped", t);
        }
    }

    json_t *cmd = json_object_get(json_object_get(raw, "container"), "command");
    if (json_array_size(cmd)) {
        buf b = {0};
        command_line(&b, cmd);
        line_str("command", b.data);
        buf_free(&b);
    }
    line_str("image", json_string_value(json_object_get(ct, "image")));
    print_nodes(j, raw);
    json_t *node = json_object_get(j, "nodeDetails");
    if (json_is_integer(json_object_get(node, "nodeIndex")))
        printf(LABEL "%lld%s\n", "node", cli_int(node, "nodeIndex"),
               json_is_true(json_object_get(node, "isMainNode")) ? " (the main node)" : "");
    json_t *code = json_object_get(ct, "exitCode");
    if (json_is_integer(code)) printf(LABEL "%lld\n", "exit code",
                                      (long long)json_integer_value(code));
    line_str("reason", json_string_value(json_object_get(ct, "reason")));
    line_str("log stream", json_string_value(json_object_get(ct, "logStreamName")));

    if (ap) {
        json_t *summary = json_object_get(ap, "statusSummary");
        if (json_is_integer(json_object_get(ap, "index")))
            printf(LABEL "index %lld\n", "array", cli_int(ap, "index"));
        if (json_is_integer(json_object_get(ap, "size"))) {
            buf b = {0};
            buf_printf(&b, "size %lld", cli_int(ap, "size"));
            /* The summary's counts in lifecycle order, zeros left out. */
            int first = 1;
            for (int k = 0; cli_job_statuses[k]; k++) {
                long long n = cli_int(summary, cli_job_statuses[k]);
                if (!n) continue;
                buf_printf(&b, "%s%lld %s", first ? ": " : ", ", n, cli_job_statuses[k]);
                first = 0;
            }
            line_str("array", b.data);
            buf_free(&b);
        }
    }
    json_t *dep;
    size_t i;
    json_array_foreach(json_object_get(j, "dependsOn"), i, dep) {
        const char *id = json_string_value(json_object_get(dep, "jobId"));
        const char *type = json_string_value(json_object_get(dep, "type"));
        buf b = {0};
        buf_puts(&b, id ? id : "");
        if (type) buf_printf(&b, id ? " (%s)" : "%s", type);
        line_str(i == 0 ? "depends on" : "", b.data);
        buf_free(&b);
    }
    json_t *rs = json_object_get(j, "retryStrategy");
    if (cli_int(rs, "attempts") > 1)
        printf(LABEL "up to %lld attempts\n", "retries", cli_int(rs, "attempts"));
    json_t *to = json_object_get(j, "timeout");
    if (cli_int(to, "attemptDurationSeconds") > 0)
        printf(LABEL "%llds per attempt\n", "timeout", cli_int(to, "attemptDurationSeconds"));
    json_t *a;
    json_array_foreach(json_object_get(j, "attempts"), i, a) print_attempt(i, a);
    json_decref(j);
}

int cli_describe(int argc, char **argv)
{
    cli_ctx c;
    cli_ctx_init(&c, "barge describe");
    int done = cli_common_only(&c, argc, argv, describe_help);
    if (done >= 0) return done;
    if (optind == argc)
        return cli_usage_error(&c, "give at least one job id (`barge jobs --queue Q` lists "
                                   "them)");
    int rc = cli_ids_given(&c, argv, optind, argc);
    if (!rc) rc = cli_ctx_open(&c);
    if (rc) return rc;
    /* DescribeJobs takes at most 100 ids a call. */
    json_t *found = json_object(), *all = json_array();
    for (int i = optind; i < argc && !rc; i += 100) {
        json_t *ids = json_array();
        for (int k = i; k < argc && k < i + 100; k++) json_array_append_new(ids, json_string(argv[k]));
        json_t *req = json_pack("{s:o}", "jobs", ids), *resp;
        rc = cli_batch(&c, "DescribeJobs", req, &resp);
        json_decref(req);
        if (rc) break;
        json_t *j;
        size_t n;
        json_array_foreach(json_object_get(resp, "jobs"), n, j) {
            const char *id = json_string_value(json_object_get(j, "jobId"));
            const char *arn = json_string_value(json_object_get(j, "jobArn"));
            if (id) json_object_set(found, id, j);
            /* A job may be named by its ARN, as DescribeJobs takes it. */
            if (arn) json_object_set(found, arn, j);
            json_array_append(all, j);
        }
        json_decref(resp);
    }
    if (!rc) {
        if (c.json) {
            json_t *out = json_pack("{s:O}", "jobs", all);
            cli_print_json(out);
            json_decref(out);
        }
        int printed = 0;
        for (int i = optind; i < argc; i++) {
            json_t *j = json_object_get(found, argv[i]);
            if (!j) {
                cli_say_no_job(&c, argv[i]);
                rc = 1;
            } else if (!c.json) {
                if (printed++) putchar('\n');
                print_job(j);
            }
        }
    }
    json_decref(found);
    json_decref(all);
    cli_ctx_close(&c);
    return rc;
}
