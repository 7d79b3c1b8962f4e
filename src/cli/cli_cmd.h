/* cli_cmd — what the CLI's command files share: the common options, the option-error messages,
 * and the calls more than one command makes.  Internal to cli*.c. */
#ifndef BARGE_CLI_CMD_H
#define BARGE_CLI_CMD_H
#include <getopt.h>
#include <jansson.h>

#include "cli/cli_http.h"

/* Option codes of the options every command takes; a command's own codes start at 256. */
enum { CLI_OPT_ENDPOINT = 1000, CLI_OPT_REGION, CLI_OPT_JSON, CLI_OPT_CAFILE, CLI_OPT_PROFILE };

#define CLI_COMMON_OPTIONS                                                                    \
    {"endpoint", required_argument, NULL, CLI_OPT_ENDPOINT},                                  \
        {"ca-file", required_argument, NULL, CLI_OPT_CAFILE},                                 \
        {"region", required_argument, NULL, CLI_OPT_REGION},                                  \
        {"profile", required_argument, NULL, CLI_OPT_PROFILE},                                \
        {"json", no_argument, NULL, CLI_OPT_JSON}, {"help", no_argument, NULL, 'h'}

/* The options that shape a submitted job, shared by `barge submit` and `barge run`
 * (cli_submit.c). */
enum { CLI_SUB_ARRAY = 1100, CLI_SUB_DEP, CLI_SUB_PARAM, CLI_SUB_ENV, CLI_SUB_VCPUS,
       CLI_SUB_MEMORY, CLI_SUB_ATTEMPTS, CLI_SUB_TIMEOUT };
#define CLI_SUBMIT_OPTIONS                                                                    \
    {"array-size", required_argument, NULL, CLI_SUB_ARRAY},                                   \
        {"depends-on", required_argument, NULL, CLI_SUB_DEP},                                 \
        {"param", required_argument, NULL, CLI_SUB_PARAM},                                    \
        {"env", required_argument, NULL, CLI_SUB_ENV},                                        \
        {"vcpus", required_argument, NULL, CLI_SUB_VCPUS},                                    \
        {"memory", required_argument, NULL, CLI_SUB_MEMORY},                                  \
        {"attempts", required_argument, NULL, CLI_SUB_ATTEMPTS},                              \
        {"timeout", required_argument, NULL, CLI_SUB_TIMEOUT}
/* Everything after "--" is the job's command, options included, so options are parsed only up
 * to it: its index (argc without one).  cli_submit_finish completes req once the options are
 * read: it checks what they say only together, and puts the words after "--" in
 * containerOverrides.command; -1 after printing what is wrong (or that "--" ends the line). */
int cli_command_at(int argc, char **argv);
int cli_submit_finish(const cli_ctx *c, json_t *req, int at, int argc, char **argv);
/* --array-size's range: the least AWS Batch takes, and the most any server does (its
 * --max-array-size, 10,000 by default as on AWS, may be set up to 1,000,000; the server says
 * when a size is past its own). */
#define CLI_ARRAY_MIN 2
#define CLI_ARRAY_MAX 1000000
/* --attempts' most and --memory's least (MiB): AWS Batch's, which the server holds to. */
#define CLI_ATTEMPTS_MAX 10
#define CLI_MEMORY_MIN 4
/* Applies one of them to the SubmitJob request req: 1 when o was one, 0 when not, -1 after
 * printing what is wrong with its value. */
int cli_submit_option(cli_ctx *c, int o, const char *arg, json_t *req);
/* The option a job's name comes from without --name (cli_ctx.name_from), as a refusal of the
 * name says it. */
#define CLI_NAME_FROM_DEFINITION "--definition (the job's name without --name)"
/* The help lines for them. */
#define CLI_SUBMIT_HELP                                                                       \
    "  --array-size N       an array job of N children (2 to 10000), indexes 0 to N-1\n"     \
    "  --depends-on DEP     wait for another job first: JOBID, or JOBID:N_TO_N for arrays\n"  \
    "                       of one size (child i waits for child i); or SEQUENTIAL, for an\n"  \
    "                       array, whose children then run one after another; repeatable\n"   \
    "  --param K=V          the value of Ref::K in the definition's command; repeatable\n"      \
    "  --env K=V            an environment variable for the job; repeatable (a K given\n"    \
    "                       again in --param or --env takes its last value)\n"            \
    "  --vcpus N            vCPUs, instead of the definition's: a whole number\n"           \
    "                       from 1 to 1000000 on an EC2 queue; 0.25, 0.5, 1, 2, 4, 8\n"      \
    "                       or 16 on a Fargate one\n"                                       \
    "  --memory MIB         memory in MiB (4 or more), instead of the definition's\n"         \
    "  --attempts N         attempts in all (1 to 10), the first included\n"                 \
    "                       (retries = N - 1)\n"                                            \
    "  --timeout SECONDS    stop each attempt after this long\n"

/* The help lines for the common options, appended to every command's help; a command whose
 * --json says more (logs) lists it with its own options and ends with CLI_COMMON_HELP_NO_JSON. */
#define CLI_COMMON_HELP_FIRST                                                                 \
    "common options:\n"                                                                       \
    "  --endpoint URL   the barge server (default $BARGE_ENDPOINT, else\n"                     \
    "                   http://127.0.0.1:8900)\n"                                              \
    "  --ca-file FILE   PEM certificates an https:// endpoint is verified against\n"          \
    "                   (default $AWS_CA_BUNDLE, else the system's CA bundle)\n"             \
    "  --region R       signing region (default $AWS_REGION or $AWS_DEFAULT_REGION, else\n"    \
    "                   us-east-1)\n"                                                        \
    "  --profile NAME   sign with this profile of ~/.aws/credentials and ~/.aws/config,\n"  \
    "                   whatever the environment's keys (as the AWS CLI's --profile)\n"
#define CLI_COMMON_HELP                                                                       \
    CLI_COMMON_HELP_FIRST                                                                     \
    "  --json           print the API's JSON answer instead of text for people\n"             \
    CLI_COMMON_HELP_LAST
#define CLI_COMMON_HELP_NO_JSON CLI_COMMON_HELP_FIRST CLI_COMMON_HELP_LAST
#define CLI_COMMON_HELP_LAST                                                                  \
    "  -h, --help       show this help\n"                                                      \
    "Credentials come from --profile's profile, else $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY\n" \
    "and $AWS_SESSION_TOKEN, else $AWS_PROFILE's profile (or default) of ~/.aws/credentials and\n" \
    "~/.aws/config, else the container credentials endpoint (a job's role); default barge/barge,\n" \
    "which a server in --dev accepts.\n"

/* Whether --queue Q and --definition D (either may be NULL) can name a queue and a definition
 * (cli_ref_check), and --name N (NULL: not given) a job: what no name can hold, or a revision
 * that is no whole number of 1 or more, the server would refuse whatever it holds.  1, or 0
 * after printing a usage error naming the option. */
int cli_names_ok(const cli_ctx *c, const char *queue, const char *def, const char *job_name);

/* Applies a common option; returns 1 if o was one, else 0. */
int cli_common_option(cli_ctx *c, int o, const char *arg);
/* Explains a getopt failure ('?' or ':') of the command whose options are opts: the option's
 * name, and whether it is unknown, ambiguous, lacks a value or was given one; returns 2. */
int cli_option_error(const cli_ctx *c, int o, char **argv, const struct option *opts);
/* Reads the options of a command that takes only the common ones, then operands: -1 to go on
 * (operands from optind), else the exit code (0 after printing help, 2 after an error). */
int cli_common_only(cli_ctx *c, int argc, char **argv, const char *help);
/* A usage error: prints "PROG: <sentence>" and returns 2. */
int cli_usage_error(const cli_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints j for scripts: indented JSON and a newline. */
void cli_print_json(json_t *j);
/* Flushes stdout; -1 once a write to it has failed (cli_main then exits 141, quietly, for a
 * reader that has gone, and says so and exits 1 for any other failure).  With
 * waiting (a loop about to wait for more to print), a pipe whose reader has gone fails too. */
int cli_flush(int waiting);
/* Whether fd is a terminal that takes the escape codes of a line redrawn in place or a screen
 * redrawn: not a file or a pipe, nor a terminal whose $TERM is "dumb" (Emacs' shell buffers),
 * which would show them as they are. */
int cli_redraws(int fd);
/* An abandon hook (cli_ctx.abandon) for a command that follows for the reader of its stdout
 * (events -f, watch): gives up once that reader has gone, even in a long poll or a long wait
 * with nothing to print (cli_flush(1) then fails, and cli_main sets the exit code). */
int cli_reader_gone(cli_ctx *c);

/* Every string in j made safe to show on a terminal (cli_text_plain), in place: for what is
 * printed for people, never for --json (whose encoding escapes control characters). */
void cli_json_plain(json_t *j);

/* A usage error (2) when one of the ids argv[from..to) is empty (`barge explain ""`, a shell
 * variable that was not set), which would otherwise be looked up and reported as no such job;
 * else 0. */
int cli_ids_given(const cli_ctx *c, char **argv, int from, int to);

/* The description of one job into *job (fresh); returns 0, or 1 after printing why (including
 * "no such job"). */
int cli_describe_job(cli_ctx *c, const char *job_id, json_t **job);
/* The same without a word when the server knows no such job: 0 (found), 1 (not known: never,
 * or no longer, after the server's retention), or -1 after printing why the request failed. */
int cli_find_job(cli_ctx *c, const char *job_id, json_t **job);
/* Says that job_id names no job the server knows: what it names instead when that can be told
 * (another kind's ARN, or a child or node its array or multi-node job does not have), else
 * that it is unknown or was removed after the server's retention, in the words every command
 * uses. */
void cli_say_no_job(cli_ctx *c, const char *job_id);
/* Whether a status is final: SUCCEEDED or FAILED. */
int cli_status_done(const char *status);
/* A member of j as an integer, 0 when absent. */
long long cli_int(json_t *j, const char *key);

/* How cli_follow_log goes on. */
enum {
    CLI_LOG_FOLLOW = 1,    /* until the job has ended, every attempt in turn */
    CLI_LOG_TO_STDERR = 2, /* the lines go to stderr, as text, leaving stdout to the caller */
    CLI_LOG_UNTIL_STUCK = 4, /* also stop at a RUNNABLE job that never can start (its reason
                              * starts "MISCONFIGURATION:"): *final shows it still RUNNABLE
                              * with CLI_LOG_CALLER_SAYS, else it is said (cli_say_stuck, and
                              * how to end it) and the exit code is 1 */
    CLI_LOG_FROM_FIRST = 8, /* from the first attempt, not the latest: the caller's own job,
                             * whose attempts may all have ended before the first look */
    CLI_LOG_CALLER_SAYS = 16, /* the caller says how the job ended: a job that never had a log
                               * is not said to have none */
};
/* Prints job id's log (attempt 0: the latest and, following, each one after it); flags as
 * above.  *final (when not NULL) gets the job's last description.  0, or the exit code after
 * printing why (1 without a word when c->abandon gave up: the hook's owner says why). */
int cli_follow_log(cli_ctx *c, const char *id, long attempt, int flags, json_t **final);
/* Whether job j waits for something that will never come: RUNNABLE for a MISCONFIGURATION
 * reason (it needs more than its queue's compute environments can ever have). */
int cli_job_stuck(json_t *j);
/* Says that job id cannot start, and why: the reason in its description j. */
void cli_say_stuck(const cli_ctx *c, const char *id, json_t *j);

/* Pages of a listing (ListJobs, GetUsage, GetLogEvents) come one after another for as long as
 * the server gives a token for the next; one that gives them for ever would keep a command
 * asking for ever.  Before asking for the page of token next, after the pages whose tokens are
 * in seen (a JSON object of the caller's, which next joins): 0, or -1 after printing why not,
 * when next was given before (the pages go round in a circle) or after CLI_PAGES_MAX pages,
 * far more than any listing of a barge server takes (a million jobs are 10,000 pages). */
#define CLI_PAGES_MAX 100000
int cli_next_page(const cli_ctx *c, const char *op, json_t *seen, const char *next);

/* Follows ListJobs' pages for request req to the end, appending to out each summary whose status
 * is wanted (indexed as cli_job_statuses) and whose id is not in seen (which it joins).  0, or
 * the exit code after printing why. */
int cli_list_jobs(cli_ctx *c, json_t *req, const int *wanted, json_t *seen, json_t *out);

/* How cli_follow_array goes on. */
enum {
    CLI_ARRAY_ONCE = 1,        /* one line, then return */
    CLI_ARRAY_UNTIL_STUCK = 2, /* also stop when its children can never start (a RUNNABLE child
                                * stuck as cli_job_stuck says): *stuck gets that child's
                                * description, and *final shows the array not ended */
};
/* Shows array job id's children by status, a line rewritten in place on a terminal (and cut
 * to its width), until all have ended, asking every every_ms milliseconds (0: every second);
 * flags as above.  *final gets its last description.  0, or the exit code after printing why
 * (2 when id is not an array job). */
int cli_follow_array(cli_ctx *c, const char *id, int flags, long every_ms, json_t **final,
                     json_t **stuck);

/* Whether w is a word taken where a command's name goes that names no command: help, -h,
 * --help, version, --version, or a common option (--endpoint...), given before the command. */
int cli_top_word(const char *w);
/* Runs one (argv[0]): the help or the version (or a usage error for words they do not take),
 * or for an option, a usage error that shows the command line with the command first. */
int cli_top(int argc, char **argv); /* cli_top.c */

/* The commands; argv[0] is the command's name. */
int cli_submit(int argc, char **argv);
int cli_cancel(int argc, char **argv);
int cli_terminate(int argc, char **argv);
int cli_jobs(int argc, char **argv);
int cli_describe(int argc, char **argv);
int cli_logs(int argc, char **argv);
int cli_revoke_instance(int argc, char **argv);
int cli_fleet(int argc, char **argv); /* cli_fleet.c */
int cli_run(int argc, char **argv);     /* cli_run.c */
int cli_explain(int argc, char **argv); /* cli_explain.c */
int cli_watch(int argc, char **argv);   /* cli_watch.c */
int cli_usage(int argc, char **argv);   /* cli_usage.c */
int cli_events(int argc, char **argv);  /* cli_events.c */
#endif
