/* cli — command dispatch, the options every command shares, and the commands that change a
 * job: submit, cancel, terminate.  Listing and reading live in cli_show.c and cli_logs.c, the
 * options that shape a submitted job (submit's and run's) in cli_submit.c. */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jtext.h"
#include "common/mem.h"
#include "common/opts.h"
#include "common/util.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"submit", cli_submit},     {"jobs", cli_jobs},           {"describe", cli_describe},
    {"logs", cli_logs},         {"cancel", cli_cancel},       {"terminate", cli_terminate},
    {"revoke-instance", cli_revoke_instance}, {"fleet", cli_fleet},
    {"run", cli_run},           {"explain", cli_explain},     {"watch", cli_watch},
    {"usage", cli_usage},       {"events", cli_events},
};

const char cli_usage_lines[] =
    "  run        run a job in one command: submit, follow its log, exit with its exit code\n"
    "  submit     submit a job and print its id\n"
    "  jobs       list a queue's jobs\n"
    "  describe   show jobs in detail: status, attempts, exit codes, log streams\n"
    "  explain    say why a job is where it is, following what it waits for\n"
    "  watch      a live view of a queue (jobs by status, the front of the queue) or an array\n"
    "  usage      what finished jobs reserved and used, summed by definition, tag or queue\n"
    "  events     job state change events as EventBridge gets AWS Batch's; -f follows them\n"
    "  logs       print a job's log; -f follows it until the job ends\n"
    "  cancel     cancel a job that has not started yet\n"
    "  terminate  stop a job, started or not\n"
    "  revoke-instance  end an instance's credential; its attempts end as on a lost host\n"
    "  fleet      list the instances; drain, terminate or (Spot) reclaim one\n";

int cli_is_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(name, commands[i].name) == 0) return 1;
    return cli_top_word(name);
}

/* Why stdout failed, once it has: 0 until then. */
static int out_errno;

int cli_flush(int waiting)
{
    if (out_errno) return -1;
    errno = 0;
    /* A pipe whose reader has gone says so (POLLERR) before anything is written to it: a loop
     * about to wait for more to print learns it now rather than at its next line, which may
     * never come.  Not asked at the end of a command, whose output was all delivered, unless
     * a write failed: the errno of a write that failed while a long output was being printed
     * (EPIPE) is gone by the time it is flushed, and the reader's going is asked of the pipe. */
    struct pollfd p = {.fd = STDOUT_FILENO};
    if (fflush(stdout) != 0 || ferror(stdout)) {
        out_errno = errno                                                          ? errno
                    : poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) ? EPIPE
                                                                                 : EIO;
        return -1;
    }
    if (waiting && poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) {
        out_errno = EPIPE;
        return -1;
    }
    return 0;
}

int cli_redraws(int fd)
{
    const char *term = getenv("TERM");
    return isatty(fd) && !(term && strcmp(term, "dumb") == 0);
}

int cli_reader_gone(cli_ctx *c)
{
    (void)c;
    return cli_flush(1) < 0;
}

/* A standard descriptor closed when barge started would go to the first socket opened, and
 * output meant for the terminal to the server.  Holding it on /dev/null, read-only, keeps the
 * slot taken, and a write to it fails (EBADF), which is then reported as any failed write. */
static void hold_closed_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        int held = open("/dev/null", O_RDONLY);
        if (held >= 0 && held != fd) {
            dup2(held, fd);
            close(held);
        }
    }
}

/* The exit code of a command whose output's reader has gone, as a shell reports one that
 * SIGPIPE ended (128 + 13). */
#define EXIT_READER_GONE 141

/* The exit code of a command that returned rc, once its output could not be written.  A reader
 * that has gone (`barge events | head -1`) ends the command as it ends any Unix command: without
 * a word, with SIGPIPE's code.  Other failures (a full disk, a closed stdout) lose output
 * nobody chose to drop: they are said, and fail the command, so that a script does not take an
 * empty answer for success. */
static int output_failed(int rc)
{
    if (out_errno == EPIPE) return rc == 0 || rc == 1 ? EXIT_READER_GONE : rc;
    fprintf(stderr, "barge: writing the output failed: %s\n", strerror(out_errno));
    return rc == 0 ? 1 : rc;
}

int cli_main(int argc, char **argv)
{
    hold_closed_std_fds();
    /* Killed by SIGPIPE at a write, a command could not say what it leaves behind (`barge
     * submit`'s job, `barge run`'s running one) and would end one way or another depending on
     * where it was (a follow loop sees its reader go before it writes): ignored, every command
     * sees EPIPE instead and ends as output_failed says. */
    signal(SIGPIPE, SIG_IGN);
    /* Every argument may end up in a request's JSON, which holds UTF-8 text only: one that is
     * not would be dropped from the request unseen (a word of a job's command, an environment
     * variable, a queue filter), so it is refused here, by position. */
    for (int i = 1; i < argc; i++) {
        char prog[80], what[32];
        snprintf(prog, sizeof prog, "barge %s", argv[0]);
        snprintf(what, sizeof what, "argument %d", i);
        if (cli_utf8_refused(prog, what, argv[i], 1, "every argument is sent to the server as "
                             "JSON, which holds UTF-8 only"))
            return 2;
    }
    /* The words taken in a command's place (help, version, an option given first) too, so
     * that their output is checked as a command's. */
    int (*fn)(int, char **) = cli_top_word(argv[0]) ? cli_top : NULL;
    for (size_t i = 0; !fn && i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[0], commands[i].name) == 0) fn = commands[i].fn;
    if (!fn) return 2;
    int rc = fn(argc, argv);
    if (cli_flush(0) < 0) rc = output_failed(rc);
    return rc;
}

/* Shared helpers ---------------------------------------------------------------------------- */

int cli_common_option(cli_ctx *c, int o, const char *arg)
{
    switch (o) {
    case CLI_OPT_ENDPOINT:
        c->endpoint = arg;
        c->endpoint_from = "--endpoint";
        return 1;
    case CLI_OPT_REGION:
        c->region = arg;
        c->region_from = "--region";
        return 1;
    case CLI_OPT_CAFILE: c->ca_file = arg; return 1;
    case CLI_OPT_PROFILE: c->profile = arg; return 1;
    case CLI_OPT_JSON: c->json = 1; return 1;
    default: return 0;
    }
}

int cli_option_error(const cli_ctx *c, int o, char **argv, const struct option *opts)
{
    return opts_error(c->prog, o, argv, opts);
}

int cli_common_only(cli_ctx *c, int argc, char **argv, const char *help)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    int o;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cli_common_option(c, o, optarg)) continue;
        if (o == 'h') {
            fputs(help, stdout);
            return 0;
        }
        return cli_option_error(c, o, argv, opts);
    }
    return -1;
}

int cli_usage_error(const cli_ctx *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", c->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

void cli_print_json(json_t *j)
{
    /* 0.811 as 0.811, not as 0.81100000000000005: what the server meant, and reads back the same. */
    buf b = {0};
    jtext_value(&b, j, JSON_INDENT(2));
    buf_puts(&b, "\n");
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
}

long long cli_int(json_t *j, const char *key)
{
    return (long long)json_integer_value(json_object_get(j, key));
}

int cli_status_done(const char *status)
{
    return status && (strcmp(status, "SUCCEEDED") == 0 || strcmp(status, "FAILED") == 0);
}

int cli_next_page(const cli_ctx *c, const char *op, json_t *seen, const char *next)
{
    if (json_object_get(seen, next)) {
        fprintf(stderr, "%s: the server's %s gives back a %s it was sent before, so its "
                        "pages would never end; stopping\n", c->prog, op,
                strcmp(op, "GetLogEvents") == 0 ? "nextForwardToken" : "nextToken");
        return -1;
    }
    if (json_object_size(seen) >= CLI_PAGES_MAX) {
        fprintf(stderr, "%s: the server's %s has given %d pages and says more follow; stopping "
                        "(the listing is incomplete)\n", c->prog, op, CLI_PAGES_MAX);
        return -1;
    }
    json_object_set_new(seen, next, json_true());
    return 0;
}

void cli_json_plain(json_t *j)
{
    const char *k;
    size_t i;
    json_t *v;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) cli_json_plain(v);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) cli_json_plain(v);
    } else if (json_is_string(j)) {
        char *s = xstrdup(json_string_value(j));
        if (cli_text_plain(s)) json_string_set(j, s);
        free(s);
    }
}

int cli_ids_given(const cli_ctx *c, char **argv, int from, int to)
{
    for (int i = from; i < to; i++)
        if (!*argv[i])
            return cli_usage_error(c, "a job id must not be empty (an unset shell variable?); "
                                      "`barge jobs --queue Q` lists them");
    return 0;
}

int cli_find_job(cli_ctx *c, const char *job_id, json_t **job)
{
    json_t *req = json_pack("{s:[s]}", "jobs", job_id);
    json_t *resp = NULL;
    int rc = cli_batch(c, "DescribeJobs", req, &resp);
    json_decref(req);
    if (rc) return -1;
    json_t *j;
    size_t i;
    *job = NULL;
    json_array_foreach(json_object_get(resp, "jobs"), i, j) {
        /* Named by its id or its ARN, as DescribeJobs takes it. */
        if (strcmp(json_string_value(json_object_get(j, "jobId")) ?: "", job_id) == 0 ||
            strcmp(json_string_value(json_object_get(j, "jobArn")) ?: "", job_id) == 0) {
            *job = json_incref(j);
            break;
        }
    }
    json_decref(resp);
    return *job ? 0 : 1;
}

/* When job_id names something else that can be told: says so and returns 1; else 0. */
static int say_what_it_names(cli_ctx *c, const char *job_id)
{
    static const char *const kinds[][2] = {
        {"job-queue/", "a job queue's"}, {"compute-environment/", "a compute environment's"},
        {"job-definition/", "a job definition's"}, {"scheduling-policy/", "a scheduling policy's"},
        {"consumable-resource/", "a consumable resource's"},
        {"service-environment/", "a service environment's"}};
    if (strncmp(job_id, "arn:", 4) == 0) {
        const char *res = job_id;
        for (int k = 0; k < 5 && res; k++) res = strchr(res + 1, ':');
        for (size_t k = 0; res && k < sizeof kinds / sizeof *kinds; k++)
            if (strncmp(res + 1, kinds[k][0], strlen(kinds[k][0])) == 0) {
                fprintf(stderr, "%s: '%s' is %s ARN, not a job's (arn:aws:batch:REGION:ACCOUNT:"
                                "job/ID)\n", c->prog, job_id, kinds[k][1]);
                return 1;
            }
        return 0;
    }
    /* PARENT:INDEX names an array's child, PARENT#NODE a multi-node job's node. */
    const char *sep = strpbrk(job_id, ":#");
    if (!sep || sep == job_id) return 0;
    char *parent = xstrndup(job_id, (size_t)(sep - job_id));
    json_t *p = NULL;
    int found = cli_find_job(c, parent, &p), said = found < 0; /* a failed call said why */
    if (found == 0) {
        json_t *ap = json_object_get(p, "arrayProperties");
        long long nodes = cli_int(json_object_get(p, "nodeProperties"), "numNodes");
        long long size = cli_int(ap, "size");
        said = 1;
        /* "ID:03" names no child: an index is written as the server writes it. */
        int zeros = sep[1] == '0' && sep[2] >= '0' && sep[2] <= '9';
        if (*sep == ':' && size > 0)
            fprintf(stderr, "%s: array job %s has %lld children, %s:0 to %s:%lld; '%s' is none "
                            "of them%s\n", c->prog, parent, size, parent, parent, size - 1,
                    job_id, zeros ? " (an index is written without leading zeros)" : "");
        else if (*sep == '#' && nodes > 0)
            fprintf(stderr, "%s: multi-node job %s has %lld nodes, %s#0 to %s#%lld; '%s' is "
                            "none of them\n", c->prog, parent, nodes, parent, parent, nodes - 1,
                    job_id);
        else
            fprintf(stderr, "%s: job %s is not %s, so '%s' names nothing (`barge describe %s` "
                            "shows it)\n", c->prog, parent,
                    *sep == ':' ? "an array job: it has no children" :
                                  "a multi-node job: it has no nodes", job_id, parent);
    }
    json_decref(p);
    free(parent);
    return said;
}

void cli_say_no_job(cli_ctx *c, const char *job_id)
{
    if (say_what_it_names(c, job_id)) return;
    fprintf(stderr, "%s: no job has the id '%s': it is unknown, or it finished longer ago than "
                    "the server keeps finished jobs (barge server --retention-hours) and was "
                    "removed with its logs (`barge jobs --queue Q --all` lists a queue's jobs)\n",
            c->prog, job_id);
}

int cli_describe_job(cli_ctx *c, const char *job_id, json_t **job)
{
    int rc = cli_find_job(c, job_id, job);
    if (rc <= 0) return -rc;
    cli_say_no_job(c, job_id);
    return 1;
}

/* submit -------------------------------------------------------------------------------------- */

static const char submit_help[] =
    "usage: barge submit --queue Q --definition D [options] [-- COMMAND ARGS...]\n"
    "\n"
    "Submits a job and prints its id and name (the id first, for scripts).\n"
    "\n"
    "options:\n"
    "  --queue Q            the job queue to submit to (name or ARN)\n"
    "  --definition D       the job definition: NAME (its latest revision), NAME:REVISION\n"
    "                       or ARN\n"
    "  --name N             the job's name (default: the definition's name)\n"
    CLI_SUBMIT_HELP
    "  -- COMMAND ARGS...   run this command instead of the definition's\n"
    "\n" CLI_COMMON_HELP;

/* The default job name: the definition's name without its ARN prefix or revision. */
static char *definition_name(const char *def)
{
    const char *name = cli_arn_name(def);
    const char *colon = strrchr(name, ':');
    return colon ? xstrndup(name, (size_t)(colon - name)) : xstrdup(name);
}

int cli_names_ok(const cli_ctx *c, const char *queue, const char *def, const char *job_name)
{
    static const char name[] = "a name is 1 to 128 letters, digits, hyphens and underscores";
    int q = queue ? cli_ref_check(queue, 0) : CLI_REF_OK;
    int d = def ? cli_ref_check(def, 1) : CLI_REF_OK;
    /* A job's name is no ARN, and starts with a letter or digit (SubmitJob's rule): refused
     * here as the queue's and the definition's are, exit 2, not by the server. */
    int n = !job_name || (strncmp(job_name, "arn:", 4) != 0 && isalnum((unsigned char)*job_name) &&
                          cli_ref_check(job_name, 0) == CLI_REF_OK);
    if (!n)
        cli_usage_error(c, "--name '%s' is no job name: 1 to 128 letters, digits, hyphens and "
                           "underscores, starting with a letter or digit", job_name);
    else if (q != CLI_REF_OK)
        cli_usage_error(c, "--queue '%s' is no job queue's name: %s (or give the queue's ARN)",
                        queue, name);
    else if (d == CLI_REF_NAME)
        cli_usage_error(c, "--definition '%s' names no job definition: %s, with :REVISION after "
                           "it for one revision (or give the definition's ARN)", def, name);
    else if (d == CLI_REF_REVISION)
        cli_usage_error(c, "--definition '%s': the revision after ':' must be a whole number of 1 "
                           "or more (NAME:3); give NAME alone for its latest revision", def);
    return n && q == CLI_REF_OK && d == CLI_REF_OK;
}

int cli_submit(int argc, char **argv)
{
    enum { O_QUEUE = 256, O_DEF, O_NAME };
    static const struct option opts[] = {
        {"queue", required_argument, NULL, O_QUEUE},
        {"definition", required_argument, NULL, O_DEF},
        {"name", required_argument, NULL, O_NAME},
        CLI_SUBMIT_OPTIONS,
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, "barge submit");
    int nopt = cli_command_at(argc, argv);
    const char *queue = NULL, *def = NULL, *name = NULL;
    json_t *req = json_object();
    int rc = 2;
    int o;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(nopt, argv, ":h", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        switch (o) {
        case 'h':
            fputs(submit_help, stdout);
            rc = 0;
            goto done;
        case O_QUEUE: queue = optarg; break;
        case O_DEF: def = optarg; break;
        case O_NAME: name = optarg; break;
        default: {
            int used = cli_submit_option(&c, o, optarg, req);
            if (used < 0) goto done;
            if (!used) {
                rc = cli_option_error(&c, o, argv, opts);
                goto done;
            }
        }
        }
    }
    if (optind < nopt) {
        cli_usage_error(&c, "unexpected argument '%.200s'; put the job's command after `--`, as "
                            "in `barge submit --queue Q --definition D -- echo hello`",
                        argv[optind]);
        goto done;
    }
    if (!queue) {
        cli_usage_error(&c, "--queue is required (the job queue to submit to; see `aws batch "
                            "describe-job-queues`)");
        goto done;
    }
    if (def && !*def) {
        cli_usage_error(&c, "--definition must not be empty: give a job definition, as NAME, "
                            "NAME:REVISION or ARN");
        goto done;
    }
    if (!def) {
        cli_usage_error(&c, "--definition is required (the job definition to run, NAME or "
                            "NAME:REVISION; see `aws batch describe-job-definitions`)");
        goto done;
    }
    if (!cli_names_ok(&c, queue, def, name)) goto done;
    if (cli_submit_finish(&c, req, nopt, argc, argv) < 0) goto done;
    char *dflt = name ? NULL : definition_name(def);
    json_object_set_new(req, "jobName", json_string(name ? name : dflt));
    free(dflt);
    if (!name) c.name_from = CLI_NAME_FROM_DEFINITION;
    json_object_set_new(req, "jobQueue", json_string(queue));
    json_object_set_new(req, "jobDefinition", json_string(def));
    if ((rc = cli_ctx_open(&c)) != 0) goto done;

    json_t *resp;
    if ((rc = cli_batch(&c, "SubmitJob", req, &resp)) != 0) goto done;
    if (c.json) {
        cli_print_json(resp);
    } else {
        printf("%s  %s\n", json_string_value(json_object_get(resp, "jobId")) ?: "?",
               json_string_value(json_object_get(resp, "jobName")) ?: "?");
    }
    /* The job exists now: if its id cannot be printed (a full disk, a reader that has gone,
     * `barge submit ... | head -0`), it must at least not be lost. */
    if (cli_flush(0) < 0)
        fprintf(stderr, "%s: job %s was submitted, but its id could not be written out\n",
                c.prog, json_string_value(json_object_get(resp, "jobId")) ?: "?");
    json_decref(resp);
done:
    json_decref(req);
    cli_ctx_close(&c);
    return rc;
}

/* cancel and terminate ----------------------------------------------------------------------- */

static const char cancel_help[] =
    "usage: barge cancel JOBID... [--reason R]\n"
    "\n"
    "Cancels jobs that have not started (SUBMITTED, PENDING or RUNNABLE): they become FAILED\n"
    "with the reason as their statusReason.  A PENDING job is cancelled once its\n"
    "dependencies finish.  Started jobs (STARTING, RUNNING) are left alone, as in AWS Batch;\n"
    "`barge terminate` stops them.\n"
    "\n"
    "options:\n"
    "  --reason R    why (default \"Cancelled by barge CLI\")\n"
    "\n" CLI_COMMON_HELP;

static const char terminate_help[] =
    "usage: barge terminate JOBID... [--reason R]\n"
    "\n"
    "Stops jobs whatever their state: started ones (STARTING, RUNNING) are killed, earlier\n"
    "ones cancelled; they become FAILED with the reason as their statusReason.\n"
    "\n"
    "options:\n"
    "  --reason R    why (default \"Terminated by barge CLI\")\n"
    "\n" CLI_COMMON_HELP;

static int stop_jobs(int argc, char **argv, int terminate)
{
    enum { O_REASON = 256 };
    static const struct option opts[] = {
        {"reason", required_argument, NULL, O_REASON},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, terminate ? "barge terminate" : "barge cancel");
    const char *reason = terminate ? "Terminated by barge CLI" : "Cancelled by barge CLI";
    const char *op = terminate ? "TerminateJob" : "CancelJob";
    int o;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        if (o == 'h') {
            fputs(terminate ? terminate_help : cancel_help, stdout);
            return 0;
        }
        if (o == O_REASON) {
            reason = optarg;
            continue;
        }
        return cli_option_error(&c, o, argv, opts);
    }
    if (optind == argc)
        return cli_usage_error(&c, "give the id of the job to %s (`barge jobs --queue Q` "
                                   "lists them)", terminate ? "terminate" : "cancel");
    if (!*reason) return cli_usage_error(&c, "--reason must not be empty");
    int rc = cli_ids_given(&c, argv, optind, argc);
    if (!rc) rc = cli_ctx_open(&c);
    /* A server that could not be reached (or did not answer in time) will not be for the next
     * id either: one sentence, not one per id. */
    for (int i = optind; i < argc && rc != 2 && !c.gone; i++) {
        const char *id = argv[i];
        /* The job's state first: it lets us say what the call will (or will not) do. */
        json_t *job = NULL, *resp = NULL;
        if (cli_describe_job(&c, id, &job) != 0) {
            rc = 1;
            continue;
        }
        const char *name = json_string_value(json_object_get(job, "jobName")) ?: "?";
        const char *status = json_string_value(json_object_get(job, "status")) ?: "?";
        /* Named by its ARN: the call takes the id. */
        id = json_string_value(json_object_get(job, "jobId")) ?: id;
        json_t *req = json_pack("{s:s,s:s}", "jobId", id, "reason", reason);
        int r = cli_batch(&c, op, req, &resp);
        json_decref(req);
        if (r) {
            rc = 1;
        } else if (c.json) {
            cli_print_json(resp);
        } else if (cli_status_done(status)) {
            printf("Job %s (%s) had already finished (%s); nothing to %s.\n", id, name, status,
                   terminate ? "terminate" : "cancel");
        } else if (!terminate &&
                   (strcmp(status, "STARTING") == 0 || strcmp(status, "RUNNING") == 0)) {
            printf("Job %s (%s) is %s: cancel leaves started jobs running.\n"
                   "Use `barge terminate %s` to stop it.\n", id, name, status, id);
        } else {
            printf("%s requested for job %s (%s, was %s).\n", terminate ? "Terminate" : "Cancel",
                   id, name, status);
        }
        json_decref(resp);
        json_decref(job);
    }
    cli_ctx_close(&c);
    return rc;
}

int cli_cancel(int argc, char **argv)
{
    return stop_jobs(argc, argv, 0);
}

int cli_terminate(int argc, char **argv)
{
    return stop_jobs(argc, argv, 1);
}

static const char revoke_help[] =
    "usage: barge revoke-instance [options] INSTANCE_ID...\n"
    "\n"
    "Revokes each instance's credential (docs/agent-protocol.md, \"Identities\"): its agent is\n"
    "refused from its next request on, and its attempts end as on a terminated host and are\n"
    "retried as their retry strategies say.  The agent registers again if its join token is\n"
    "still valid: revoke that too (the server's --agent-tokens file, then SIGHUP) to keep the\n"
    "machine out.  Needs the permission batch:RevokeInstance.\n"
    "\n" CLI_COMMON_HELP;

int cli_revoke_instance(int argc, char **argv)
{
    cli_ctx c;
    cli_ctx_init(&c, "barge revoke-instance");
    int done = cli_common_only(&c, argc, argv, revoke_help);
    if (done >= 0) return done;
    if (optind == argc)
        return cli_usage_error(&c, "give the id of the instance to revoke (the job descriptions "
                                   "name it in container.containerInstanceArn)");
    int rc = cli_ctx_open(&c);
    for (int i = optind; i < argc && rc != 2 && !c.gone; i++) {
        json_t *req = json_pack("{s:s}", "instanceId", argv[i]), *resp = NULL;
        cli_error e;
        if (cli_call(&c, "barge", "RevokeInstance", req, &resp, &e) == 0) {
            if (c.json) cli_print_json(resp);
            else printf("Instance %s revoked.\n", argv[i]);
        } else {
            cli_error_print(&c, "RevokeInstance", &e);
            cli_error_free(&e);
            rc = 1;
        }
        json_decref(req);
        json_decref(resp);
    }
    cli_ctx_close(&c);
    return rc;
}
