/* cli_run — `barge run`: a job in one command.  It submits (to the queue `default` unless told
 * otherwise), with a job definition made for the image when none is named, follows the log and
 * exits with the job's exit code; an array job shows its children's progress instead. */
#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

static const char run_help[] =
    "usage: barge run (--image IMAGE | --definition D) [options] [-- COMMAND ARGS...]\n"
    "\n"
    "Submits a job, prints its log as it runs (every attempt's, in turn) and exits with its\n"
    "exit code (1 when it failed without one, such as a job that could not start).  With\n"
    "--image, the job definition is run-IMAGE (characters a name cannot hold become '-'),\n"
    "registered the first time and again only when its image or size would change; on a\n"
    "queue of Fargate environments it is run-fargate-IMAGE, for Fargate.  An array\n"
    "job (--array-size) shows how many of its children are in each status until all have\n"
    "ended, and exits 0 when all succeeded.  A job that can never start (RUNNABLE for a\n"
    "MISCONFIGURATION reason, or an array whose children are: it needs more than the\n"
    "compute environments can have) is terminated, and barge run exits 1.  With --json,\n"
    "stdout is the job's last description alone; the log goes to stderr, as text.\n"
    "\n"
    "A server that restarts meanwhile is waited for, up to a minute.  Ctrl-C (SIGINT, or\n"
    "SIGTERM) terminates the job a second later, prints its log to the end and exits 130\n"
    "(143); a second Ctrl-C within that second leaves the job running, and one later stops\n"
    "waiting for it to end.  When nothing reads its output any more (`| head -1`), it says\n"
    "that the job goes on, and exits 141, as SIGPIPE would end it.\n"
    "\n"
    "options:\n"
    "  --image IMAGE        the container image to run (a definition is made for it)\n"
    "  --definition D       an existing job definition instead: NAME, NAME:REVISION or ARN\n"
    "  --queue Q            the job queue (default: default, which a first start makes)\n"
    "  --name N             the job's name (default: the definition's name)\n"
    CLI_SUBMIT_HELP
    "  -- COMMAND ARGS...   the command to run (default: the image's or definition's)\n"
    "\n" CLI_COMMON_HELP;

#define POLL_MS 1000

/* "run-" (or "run-fargate-") and the image, in the characters a definition's name may hold. */
static char *definition_for(const char *image, int fargate)
{
    char *name = fargate ? xasprintf("run-fargate-%.112s", image) : xasprintf("run-%.120s", image);
    for (char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') *p = '-';
    return name;
}

/* The resource requirement type's value in a definition's containerProperties, or NULL. */
static const char *requirement(json_t *props, const char *type)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(props, "resourceRequirements"), i, r)
        if (strcmp(json_string_value(json_object_get(r, "type")) ?: "", type) == 0)
            return json_string_value(json_object_get(r, "value"));
    return NULL;
}

/* Whether definition d is for Fargate. */
static int is_fargate(json_t *d)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(d, "platformCapabilities"), i, p)
        if (strcmp(json_string_value(p) ?: "", "FARGATE") == 0) return 1;
    return 0;
}

/* A failed call of queue_kind's: a refusal to describe (a policy without batch:Describe*) is
 * no reason to stop, SubmitJob says what is wrong if anything is; any other failure is said.
 * 0 to go on, else 1.  Frees e. */
static int describe_failed(cli_ctx *c, const char *op, cli_error *e)
{
    int rc = e->http_status != 403;
    if (rc) cli_error_print(c, op, e);
    cli_error_free(e);
    return rc;
}

/* Whether the queue's compute environments are Fargate ones (a queue holds one kind, and
 * SubmitJob refuses a definition of the other), into *fargate: its first environment says; EC2
 * when it cannot tell.  Asked before a definition is registered, so that a queue that does not
 * exist, or a server that does not answer, is said at once (not after another call's minute)
 * and leaves no definition behind.  0, or 1 after printing why. */
static int queue_kind(cli_ctx *c, const char *queue, int *fargate)
{
    json_t *req = json_pack("{s:[s]}", "jobQueues", queue), *resp = NULL;
    cli_error e;
    *fargate = 0;
    int rc = cli_call(c, "batch", "DescribeJobQueues", req, &resp, &e);
    json_decref(req);
    if (rc) return describe_failed(c, "DescribeJobQueues", &e);
    json_t *q = json_array_get(json_object_get(resp, "jobQueues"), 0);
    if (!q) {
        json_decref(resp);
        fprintf(stderr, "%s: --queue: no job queue is named '%s'; `aws batch "
                        "describe-job-queues` lists them\n", c->prog, queue);
        return 1;
    }
    const char *ce = json_string_value(json_object_get(
        json_array_get(json_object_get(q, "computeEnvironmentOrder"), 0), "computeEnvironment"));
    if (ce) {
        json_t *creq = json_pack("{s:[s]}", "computeEnvironments", ce), *cresp = NULL;
        rc = cli_call(c, "batch", "DescribeComputeEnvironments", creq, &cresp, &e);
        json_decref(creq);
        if (rc) {
            rc = describe_failed(c, "DescribeComputeEnvironments", &e);
        } else {
            json_t *cr = json_object_get(
                json_array_get(json_object_get(cresp, "computeEnvironments"), 0),
                "computeResources");
            *fargate = strncmp(json_string_value(json_object_get(cr, "type")) ?: "", "FARGATE",
                               7) == 0;
            json_decref(cresp);
        }
    }
    json_decref(resp);
    return rc;
}

/* Whether definition d runs image with the size given, on the platform given. */
static int same_run(json_t *d, const char *image, const char *vcpus, const char *memory,
                    int fargate)
{
    json_t *props = json_object_get(d, "containerProperties");
    return is_fargate(d) == fargate &&
           strcmp(json_string_value(json_object_get(props, "image")) ?: "", image) == 0 &&
           strcmp(requirement(props, "VCPU") ?: "", vcpus) == 0 &&
           strcmp(requirement(props, "MEMORY") ?: "", memory) == 0;
}

/* The ACTIVE revisions of name that run image with the size given (every page of them: a name
 * may have hundreds): *found is the newest, or with oldest the oldest; NULL for none.  0, or
 * the exit code of a failed call (said). */
static int find_definition(cli_ctx *c, const char *name, const char *image, const char *vcpus,
                           const char *memory, int fargate, int oldest, json_t **found)
{
    json_t *resp = NULL, *req;
    char *token = NULL;
    *found = NULL;
    do {
        req = json_pack("{s:s, s:s}", "jobDefinitionName", name, "status", "ACTIVE");
        if (token) json_object_set_new(req, "nextToken", json_string(token));
        free(token);
        token = NULL;
        int rc = cli_batch(c, "DescribeJobDefinitions", req, &resp);
        json_decref(req);
        if (rc) {
            json_decref(*found);
            *found = NULL;
            return rc;
        }
        json_t *d;
        size_t i;
        json_array_foreach(json_object_get(resp, "jobDefinitions"), i, d) {
            if (!same_run(d, image, vcpus, memory, fargate)) continue;
            long long rev = cli_int(d, "revision"), kept = *found ? cli_int(*found, "revision") : 0;
            if (*found && (oldest ? rev >= kept : rev <= kept)) continue;
            json_decref(*found);
            *found = json_incref(d);
        }
        const char *next = json_string_value(json_object_get(resp, "nextToken"));
        if (next && *next) token = xstrdup(next);
        json_decref(resp);
    } while (token);
    return 0;
}

/* The definition to run image with: the latest ACTIVE revision of run-IMAGE that has the image
 * and the size, else a new revision.  The size given with --vcpus and --memory becomes the
 * definition's, so that the next run of the same size reuses it.  Runs of a new image started
 * at once each register one; each then takes the oldest of those, and one that registered
 * another deregisters its own, so that one revision is left.  *arn is fresh. */
static int ensure_definition(cli_ctx *c, const char *image, const char *vcpus,
                             const char *memory, int fargate, char **arn, int *registered)
{
    *registered = 0;
    char *name = definition_for(image, fargate);
    json_t *best = NULL, *resp = NULL, *req;
    int rc = find_definition(c, name, image, vcpus, memory, fargate, 0, &best);
    if (rc || best) {
        if (best)
            *arn = xstrdup(json_string_value(json_object_get(best, "jobDefinitionArn")) ?: name);
        json_decref(best);
        free(name);
        return rc;
    }
    req = json_pack("{s:s, s:s, s:{s:s, s:[{s:s, s:s}, {s:s, s:s}]}}", "jobDefinitionName", name,
                    "type", "container", "containerProperties", "image", image,
                    "resourceRequirements", "type", "VCPU", "value", vcpus, "type", "MEMORY",
                    "value", memory);
    if (fargate) json_object_set_new(req, "platformCapabilities", json_pack("[s]", "FARGATE"));
    rc = cli_batch(c, "RegisterJobDefinition", req, &resp);
    json_decref(req);
    if (rc) {
        free(name);
        return rc;
    }
    *arn = xstrdup(json_string_value(json_object_get(resp, "jobDefinitionArn")) ?: "");
    json_decref(resp);
    /* Another run's registration of the same may have come first. */
    if (find_definition(c, name, image, vcpus, memory, fargate, 1, &best) == 0 && best) {
        const char *first = json_string_value(json_object_get(best, "jobDefinitionArn"));
        if (first && strcmp(first, *arn) != 0) {
            req = json_pack("{s:s}", "jobDefinition", *arn);
            if (cli_batch(c, "DeregisterJobDefinition", req, &resp) == 0) json_decref(resp);
            json_decref(req);
            free(*arn);
            *arn = xstrdup(first);
            json_decref(best);
            free(name);
            return 0;
        }
    }
    json_decref(best);
    free(name);
    fprintf(stderr, "%s: registered job definition %s for %s\n", c->prog, cli_arn_name(*arn),
            image);
    *registered = 1;
    return 0;
}

/* The exit code a finished job's description gives, or NULL: its container's; a multi-node
 * job's (which has no container) its last attempt's, which is its main node's. */
static json_t *exit_code_in(json_t *job)
{
    json_t *ct = json_object_get(job, "container");
    if (ct) return json_object_get(ct, "exitCode");
    json_t *attempts = json_object_get(job, "attempts");
    json_t *last = json_array_get(attempts, json_array_size(attempts) - 1);
    return json_object_get(json_object_get(last, "container"), "exitCode");
}

/* The exit code of a finished job: its container's, 0 for SUCCEEDED, else 1. */
static int exit_code_of(json_t *job)
{
    const char *status = json_string_value(json_object_get(job, "status")) ?: "";
    json_t *code = exit_code_in(job);
    if (strcmp(status, "SUCCEEDED") == 0) return 0;
    if (json_is_integer(code) && json_integer_value(code) > 0 && json_integer_value(code) < 256)
        return (int)json_integer_value(code);
    return 1;
}

/* Why a job's container ended, as its agent said (CannotStartContainerError: ...): the job's
 * container, else its last attempt's. */
static const char *container_reason(json_t *job)
{
    const char *r = json_string_value(json_object_get(json_object_get(job, "container"),
                                                      "reason"));
    json_t *attempts = json_object_get(job, "attempts");
    json_t *last = json_array_get(attempts, json_array_size(attempts) - 1);
    if (!r && last) r = json_string_value(json_object_get(json_object_get(last, "container"),
                                                          "reason"));
    return r && *r ? r : NULL;
}

/* The line that ends `barge run`: the status, its reason and the container's, and the exit
 * code only when the job's container had one (a job that never started has none, nor has an
 * array; barge run then exits 1, which is its own code, not the job's). */
static void say_end(const cli_ctx *c, const char *id, json_t *described, int array)
{
    json_t *job = json_deep_copy(described); /* made plain for the terminal */
    cli_json_plain(job);
    const char *status = json_string_value(json_object_get(job, "status")) ?: "?";
    const char *reason = json_string_value(json_object_get(job, "statusReason"));
    const char *creason = container_reason(job);
    json_t *code = exit_code_in(job);
    buf b = {0};
    buf_printf(&b, "job %s %s", id, status);
    if (reason && *reason) buf_printf(&b, ": %s", reason);
    if (creason && !(reason && strstr(reason, creason))) buf_printf(&b, " (%s)", creason);
    if (json_is_integer(code)) buf_printf(&b, " (exit code %lld)", (long long)json_integer_value(code));
    else if (!array && strcmp(status, "SUCCEEDED") != 0) buf_puts(&b, "; it has no exit code");
    /* An array's reason names no child: how many failed, and where to see which. */
    json_t *counts = json_object_get(json_object_get(job, "arrayProperties"), "statusSummary");
    long long failed = json_integer_value(json_object_get(counts, "FAILED"));
    if (array && failed > 0)
        buf_printf(&b, "; %lld of its %lld children failed (`barge jobs --array %s --status "
                        "FAILED` lists them)", failed,
                   (long long)json_integer_value(json_object_get(
                       json_object_get(job, "arrayProperties"), "size")), id);
    cli_progress_break();
    fprintf(stderr, "%s: %s\n", c->prog, b.data);
    buf_free(&b);
    json_decref(job);
}

/* A job that can never start (it asks for more than its compute environments can ever have)
 * would wait forever: it was submitted by this command, so this command ends it.  Returns 1. */
static int give_up(cli_ctx *c, const char *id, json_t *job, const char *registered)
{
    cli_say_stuck(c, id, job);
    json_t *req = json_pack("{s:s,s:s}", "jobId", id, "reason",
                            "barge run: the job cannot start (MISCONFIGURATION)"), *resp = NULL;
    cli_progress_break();
    /* A multi-node job's nodes take no --vcpus or --memory (SubmitJob overrides them per node
     * range): the definition is what asks. */
    int nodes = json_object_get(job, "nodeProperties") || json_object_get(job, "nodeDetails");
    if (cli_batch(c, "TerminateJob", req, &resp) == 0)
        fprintf(stderr, "%s: terminated job %s, which this command submitted; %s or give its "
                        "queue's compute environments more\n", c->prog, id,
                nodes ? "register a revision of its definition whose nodes ask for less"
                      : "ask for less (--vcpus, --memory)");
    json_decref(req);
    json_decref(resp);
    resp = NULL;
    /* The revision this command registered asks for what the queue can never give: left
     * ACTIVE, it would be the latest, and the next submit of its name would wait for ever. */
    req = registered ? json_pack("{s:s}", "jobDefinition", registered) : NULL;
    if (req && cli_batch(c, "DeregisterJobDefinition", req, &resp) == 0)
        fprintf(stderr, "%s: deregistered job definition %s, which this command registered "
                        "for that size\n", c->prog, cli_arn_name(registered));
    json_decref(req);
    json_decref(resp);
    return 1;
}

/* Interrupts ------------------------------------------------------------------------------
 *
 * The first SIGINT or SIGTERM terminates the job this command submitted, as ending srun ends
 * its job: a job left running unseen would hold its resources for nobody.  It is terminated a
 * second after the interrupt, not at once, so that a second interrupt within that second can
 * leave it running instead (the way to let go of a long job); after the TerminateJob, the log
 * is followed until the job has ended, for at most END_WAIT_MS, and a second interrupt stops
 * waiting.  barge run then exits 128 plus the first signal's number, as a shell reports a
 * command that a signal ended. */

/* How long a second interrupt may take to leave the job running: a double Ctrl-C. */
#define LEAVE_WINDOW_MS 1000
/* The server's --kill-grace-seconds (10 by default) and the agent's report fit well within. */
#define END_WAIT_MS 30000
#define TERMINATE_REASON "barge run was interrupted"

static volatile sig_atomic_t interrupts, first_signal;

/* Counts; everything else is done by run_before_wait, outside the handler. */
static void on_interrupt(int sig)
{
    if (!interrupts) first_signal = sig;
    if (interrupts < 2) interrupts++;
}

/* SA_RESTART lets a write to stdout that a signal interrupts go on rather than fail; the
 * waits that must wake (nanosleep, libcurl's poll) are never restarted, whatever it says. */
static void catch_interrupts(void)
{
    struct sigaction sa = {.sa_handler = on_interrupt, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Where barge run is with an interrupt. */
typedef struct run_stop {
    const char *id;        /* the job this command submitted; NULL before */
    int submitting;        /* SubmitJob is under way: it must end, or the job is lost */
    long long noticed_ms;  /* the first interrupt was said (monotonic); 0 before */
    long long asked_ms;    /* TerminateJob was answered; 0 before */
    int failed;            /* TerminateJob was refused */
    int pending;           /* the job, told to stop, is PENDING: it ends once its dependencies
                            * have, which may take any time */
    int told_away;         /* the TerminateJob found no server, and that was said */
    int array;             /* the job is an array: `barge watch --array` follows it */
} run_stop;

/* The command that follows a job again: an array's log is its children's, one each. */
static const char *follow_cmd(int array)
{
    return array ? "barge watch --array" : "barge logs -f";
}

static void run_before_wait(cli_ctx *c)
{
    run_stop *s = c->hook_arg;
    if (!interrupts || !s->id || s->asked_ms || s->failed) return;
    long long now = cli_now_ms();
    if (!s->noticed_ms) {
        s->noticed_ms = now;
        cli_progress_break();
        if (interrupts == 1)
            fprintf(stderr, "%s: interrupted: job %s will be terminated in a second; interrupt "
                            "again (Ctrl-C) to leave it running\n", c->prog, s->id);
    }
    if (interrupts > 1 || now - s->noticed_ms < LEAVE_WINDOW_MS) return;
    json_t *req = json_pack("{s:s, s:s}", "jobId", s->id, "reason", TERMINATE_REASON);
    json_t *resp = NULL;
    cli_error e;
    if (cli_call(c, "batch", "TerminateJob", req, &resp, &e) == 0) {
        s->asked_ms = cli_now_ms();
        /* A PENDING job ends once its dependencies have (as on AWS): not waited for.  An
         * array stays PENDING while its children run: it is waited for. */
        json_t *job = NULL;
        if (!s->array && cli_find_job(c, s->id, &job) == 0)
            s->pending = !strcmp(json_string_value(json_object_get(job, "status")) ?: "",
                                 "PENDING");
        json_decref(job);
        cli_progress_break();
        if (!s->pending)
            fprintf(stderr, "%s: terminating job %s, which this command submitted; waiting up "
                            "to %d seconds for it to end (interrupt again to stop waiting)\n",
                    c->prog, s->id, END_WAIT_MS / 1000);
    } else if (!e.transient && !e.abandoned) {
        cli_error_print(c, "TerminateJob", &e);
        s->failed = 1;
    } else if (e.transient && !s->told_away) {
        /* Said once: otherwise nothing is heard until the server answers again. */
        s->told_away = 1;
        cli_progress_break();
        fprintf(stderr, "%s: the server does not answer (%s); job %s is terminated once it "
                        "does (interrupt again to leave the job as it is)\n", c->prog,
                e.message ? e.message : "no answer", s->id);
    }
    /* A server that is away is asked again at the next wait. */
    cli_error_free(&e);
    json_decref(req);
    json_decref(resp);
}

/* Whether to give up what is under way.  Before the job exists there is nothing to clean up;
 * once it does, a second interrupt, a TerminateJob refused or a job that has not ended in time
 * ends the follow. */
static int run_abandon(cli_ctx *c)
{
    const run_stop *s = c->hook_arg;
    if (s->submitting) return 0;
    /* Its reader gone (`barge run ... | head`) while the job waits to start: the job goes on
     * without this command, as once its log is being printed. */
    if (!interrupts) return s->id && cli_reader_gone(c);
    if (!s->id) return 1;
    return interrupts > 1 || s->failed || s->pending ||
           (s->asked_ms && cli_now_ms() - s->asked_ms > END_WAIT_MS);
}

/* What an interrupted barge run says last, of a job it stopped following before the end;
 * returns its exit code. */
static int say_interrupted(const cli_ctx *c, const run_stop *s)
{
    cli_progress_break();
    if (!s->id)
        fprintf(stderr, "%s: interrupted; no job was submitted\n", c->prog);
    else if (!s->asked_ms)
        fprintf(stderr, "%s: left job %s as it is; `barge terminate %s` stops it, `%s %s` "
                        "follows it\n", c->prog, s->id, s->id, follow_cmd(s->array), s->id);
    else if (s->pending)
        fprintf(stderr, "%s: job %s was told to stop; it waits for its dependencies, and ends "
                        "FAILED once they have completed, as AWS Batch ends a PENDING job; "
                        "`barge describe %s` shows it\n", c->prog, s->id, s->id);
    else
        fprintf(stderr, "%s: job %s was told to stop but has not ended yet; `barge describe %s` "
                        "shows how it ends\n", c->prog, s->id, s->id);
    return 128 + first_signal;
}

int cli_run(int argc, char **argv)
{
    enum { O_IMAGE = 256, O_DEF, O_QUEUE, O_NAME };
    static const struct option opts[] = {
        {"image", required_argument, NULL, O_IMAGE},
        {"definition", required_argument, NULL, O_DEF},
        {"queue", required_argument, NULL, O_QUEUE},
        {"name", required_argument, NULL, O_NAME},
        CLI_SUBMIT_OPTIONS,
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, "barge run");
    int nopt = cli_command_at(argc, argv);
    const char *image = NULL, *def = NULL, *queue = "default", *name = NULL;
    const char *vcpus = "1", *memory = "2048";
    json_t *req = json_object(), *job = NULL;
    char *arn = NULL, *id = NULL;
    int registered = 0; /* arn is a revision this command registered */
    run_stop stop = {0};
    int rc = 2, o, followed = 0;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(nopt, argv, ":h", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        switch (o) {
        case 'h':
            fputs(run_help, stdout);
            rc = 0;
            goto done;
        case O_IMAGE: image = optarg; break;
        case O_DEF: def = optarg; break;
        case O_QUEUE: queue = optarg; break;
        case O_NAME: name = optarg; break;
        default: {
            int used = cli_submit_option(&c, o, optarg, req);
            if (used < 0) goto done;
            if (!used) {
                rc = cli_option_error(&c, o, argv, opts);
                goto done;
            }
            /* A size given for an image becomes its definition's (ensure_definition). */
            if (o == CLI_SUB_VCPUS) vcpus = optarg;
            if (o == CLI_SUB_MEMORY) memory = optarg;
        }
        }
    }
    if (optind < nopt) {
        cli_usage_error(&c, "unexpected argument '%.200s'; put the job's command after `--`, as in "
                            "`barge run --image busybox -- echo hello`", argv[optind]);
        goto done;
    }
    if ((image && !*image) || (def && !*def)) {
        cli_usage_error(&c, "%s must not be empty: give %s", image && !*image ? "--image" :
                        "--definition", image && !*image ? "an image, such as busybox" :
                        "a job definition, as NAME, NAME:REVISION or ARN");
        goto done;
    }
    if (!*queue) {
        cli_usage_error(&c, "--queue must not be empty (an unset shell variable?); give a job "
                            "queue's name or ARN, or leave it out for `default`");
        goto done;
    }
    if (!image == !def) {
        cli_usage_error(&c, "give --image IMAGE (a definition is made for it) or --definition D "
                            "(an existing one), not %s", image ? "both" : "neither");
        goto done;
    }
    if (!cli_names_ok(&c, queue, def, name)) goto done;
    if (cli_submit_finish(&c, req, nopt, argc, argv) < 0) goto done;
    if ((rc = cli_ctx_open(&c)) != 0) goto done;
    c.before_wait = run_before_wait;
    c.abandon = run_abandon;
    c.hook_arg = &stop;
    catch_interrupts();
    int fargate = 0;
    if (image) {
        if ((rc = queue_kind(&c, queue, &fargate)) != 0) goto done;
        /* The definition made is for the queue's platform: a size that platform cannot have
         * is said of the option, rather than as the registration's refusal. */
        if (!(cli_vcpus_kind(vcpus) & (fargate ? CLI_VCPUS_FARGATE : CLI_VCPUS_EC2))) {
            rc = cli_usage_error(&c, "--vcpus %s: queue %s has %s compute environments, whose "
                                     "jobs take %s", vcpus, queue, fargate ? "Fargate" : "EC2",
                                 fargate ? "0.25, 0.5, 1, 2, 4, 8 or 16 vCPUs"
                                         : "a whole number of vCPUs from 1 to 1000000");
            goto done;
        }
        if ((rc = ensure_definition(&c, image, vcpus, memory, fargate, &arn, &registered)) != 0)
            goto done;
        def = arn;
        /* The size is the definition's now: no override needed. */
        json_t *ov = json_object_get(req, "containerOverrides");
        json_object_del(ov, "resourceRequirements");
    }
    const char *short_name = cli_arn_name(def);
    char *dflt = xstrndup(short_name, strcspn(short_name, ":"));
    json_object_set_new(req, "jobName", json_string(name ? name : dflt));
    free(dflt);
    if (!name) c.name_from = image ? "--image" : CLI_NAME_FROM_DEFINITION;
    if (image) c.definition_from = "--image";
    json_object_set_new(req, "jobQueue", json_string(queue));
    json_object_set_new(req, "jobDefinition", json_string(def));
    json_t *resp;
    if (interrupts) goto done;
    stop.submitting = 1;
    for (int tries = 0;; tries++) {
        cli_error e;
        if ((rc = cli_call(&c, "batch", "SubmitJob", req, &resp, &e)) == 0) break;
        /* A run of the same image started at once deregistered the revision found, its own
         * duplicate (ensure_definition): the one kept is found again. */
        int gone = image && !tries && e.http_status == 400 && strstr(e.message, "INACTIVE");
        if (!gone) {
            cli_error_print(&c, "SubmitJob", &e);
            rc = 1;
        }
        cli_error_free(&e);
        if (!gone) break;
        free(arn);
        arn = NULL;
        if ((rc = ensure_definition(&c, image, vcpus, memory, fargate, &arn, &registered)) != 0)
            break;
        def = arn;
        json_object_set_new(req, "jobDefinition", json_string(def));
    }
    stop.submitting = 0;
    if (rc) goto done;
    id = xstrdup(json_string_value(json_object_get(resp, "jobId")) ?: "");
    json_decref(resp);
    stop.id = id;
    cli_progress_break();
    fprintf(stderr, "%s: job %s submitted to queue %s\n", c.prog, id, queue);
    int array = json_object_get(req, "arrayProperties") != NULL;
    stop.array = array;
    json_t *stuck = NULL;
    /* With --json, stdout is the job's description alone: the log goes to stderr, as text. */
    if (array) rc = cli_follow_array(&c, id, CLI_ARRAY_UNTIL_STUCK, 0, &job, &stuck);
    else rc = cli_follow_log(&c, id, 0,
                             CLI_LOG_FOLLOW | CLI_LOG_UNTIL_STUCK | CLI_LOG_FROM_FIRST |
                                 CLI_LOG_CALLER_SAYS | (c.json ? CLI_LOG_TO_STDERR : 0),
                             &job);
    /* What follows is said on lines of its own, after the array's bar. */
    cli_progress_break();
    followed = rc == 0;
    if (rc == 0) {
        const char *status = json_string_value(json_object_get(job, "status")) ?: "?";
        /* An array's children carry the reason it cannot start; the array has none. */
        if (!cli_status_done(status)) {
            rc = give_up(&c, id, stuck ? stuck : job, registered ? arn : NULL);
            /* --json prints the job as it ended, not as it waited before its TerminateJob. */
            json_t *ended = NULL;
            if (c.json && cli_describe_job(&c, id, &ended) == 0) {
                json_decref(job);
                job = ended;
            }
        } else if (array) rc = strcmp(status, "SUCCEEDED") == 0 ? 0 : 1;
        else rc = exit_code_of(job);
        if (c.json) cli_print_json(job);
        else if (cli_status_done(status)) say_end(&c, id, job, array);
    } else if ((c.away || c.silent) && !interrupts) {
        fprintf(stderr, "%s: job %s goes on without this command; `%s %s` follows it again "
                        "once the server is back\n", c.prog, id, follow_cmd(array), id);
    } else if (!interrupts && cli_flush(0) < 0) {
        /* Nobody reads the log any more (SIGPIPE is ignored: cli_main): the job is said to go
         * on, as it would be lost sight of otherwise, unless it has ended meanwhile (a short
         * job whose last lines nobody read); cli_main then sets the exit code.  The hooks
         * would abandon the call that asks: the reader is gone. */
        json_t *now = NULL;
        c.abandon = NULL;
        c.before_wait = NULL;
        if (cli_find_job(&c, id, &now) == 0) {
            const char *status = json_string_value(json_object_get(now, "status"));
            if (cli_status_done(status))
                fprintf(stderr, "%s: job %s %s; its output could not all be written\n", c.prog,
                        id, status);
            else {
                json_decref(now);
                now = NULL;
            }
        }
        if (!now)
            fprintf(stderr, "%s: job %s goes on without this command, whose output cannot be "
                            "written; `%s %s` follows it, `barge terminate %s` stops it\n",
                    c.prog, id, follow_cmd(array), id, id);
        json_decref(now);
    } else if (!interrupts) {
        /* The follow failed (an error said above) while the job may well run on. */
        json_t *now = NULL;
        if (cli_find_job(&c, id, &now) == 0 &&
            !cli_status_done(json_string_value(json_object_get(now, "status"))))
            fprintf(stderr, "%s: job %s goes on without this command; `%s %s` follows it, "
                            "`barge terminate %s` stops it\n",
                    c.prog, id, follow_cmd(array), id, id);
        json_decref(now);
    }
    json_decref(stuck);
done:
    /* How the follow ended was said above; a follow cut short says what became of the job. */
    if (interrupts) rc = followed ? 128 + first_signal : say_interrupted(&c, &stop);
    free(id);
    json_decref(req);
    json_decref(job);
    free(arn);
    cli_ctx_close(&c);
    return rc;
}
