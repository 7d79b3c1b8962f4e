/* cli_http — the CLI's side of the wire: one signed JSON request to a barge server (or to AWS
 * itself: the requests are the ones an AWS SDK sends) and its answer or error.
 *
 * Batch operations are `POST /v1/<operation in lower case>` with a JSON body; CloudWatch Logs
 * operations are `POST /` with `X-Amz-Target: Logs_20140328.<Operation>`.  Every request carries
 * a SigV4 signature made with the configured credentials. */
#ifndef BARGE_CLI_HTTP_H
#define BARGE_CLI_HTTP_H
#include <jansson.h>

#include "cli/cli_creds.h"

typedef struct cli_ctx {
    const char *prog;          /* "barge submit": the start of every message */
    const char *endpoint;      /* as given, for messages */
    const char *endpoint_from; /* "--endpoint", "$BARGE_ENDPOINT", or NULL for the default */
    const char *ca_file;       /* --ca-file or $AWS_CA_BUNDLE; NULL: the system's CA bundle */
    const char *region;
    const char *region_from;   /* "--region", "$AWS_REGION"...: where the region came from */
    const char *profile;       /* --profile: the shared files' profile to sign as; NULL */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL without temporary credentials */
    cli_creds creds;           /* where the three above come from (cli_ctx_open) */
    int json;                  /* --json: print the API's answers instead of tables */
    /* Set by cli_ctx_open. */
    char *base;                /* scheme://authority, what requests go to */
    char *host;                /* authority, sent and signed as Host */
    char *prefix;              /* path before /v1/..., "" unless the server sits under a path */
    struct httpc *http;        /* one connection reused by every call */
    int gone;                  /* the last call got no answer at all (unreachable, untrusted,
                                * timed out): the next would not either */
    /* Following (logs -f, run, events -f, watch): calls ride out a server that is away for a
     * while, as cli_call says.  Set by the follow loops. */
    int patient;
    int away;                  /* said to be away, and has not answered since */
    long long answered_ms;     /* when the server last answered (monotonic); 0 before */
    long long first_failed_ms; /* when the first patient call to fail before any answer was
                                * made (not when it failed: it may have waited a minute); 0 */
    /* A server that stops answering in the middle of a call (stopped, or a network that drops
     * packets) is said to be silent after CLI_SILENT_FIRST_MS beyond the wait it was asked
     * for, again every CLI_SILENT_AGAIN_MS, and once that it answers again.  Any command. */
    long expect_ms;            /* how long the next calls may rightly take: a long poll's wait;
                                * set by the command, 0 for calls answered at once */
    long long sent_ms;         /* when the call in flight was sent (monotonic) */
    long long silent_said_ms;  /* when its silence was last said; 0 when it was not */
    int silent;                /* said to be silent, and has not answered since */
    /* Optional hooks of a command that acts on interrupts (barge run) or on a reader that
     * has gone (events -f, watch: cli_reader_gone).  before_wait runs before every wait
     * (cli_wait), again whenever a signal cuts one short, and every second of a long one; a
     * call it makes is tried once.  abandon says whether to give up at once what is under
     * way: a request in flight or a wait (asked at least once a second), a call about to
     * start. */
    void (*before_wait)(struct cli_ctx *c);
    int (*abandon)(struct cli_ctx *c);
    void *hook_arg;
    int in_hook;               /* before_wait is running */
    /* The options SubmitJob's jobName and jobDefinition came from when not --name and
     * --definition (a job named after its definition, run's definition made for --image), for
     * a refusal of either (cli_fields_rename); NULL for those. */
    const char *name_from;
    const char *definition_from;
} cli_ctx;

typedef struct cli_error {
    int unreachable;   /* no answer at all: refused, unresolvable, timed out */
    int untrusted;     /* the server's TLS certificate did not verify */
    int plain_http;    /* an https:// endpoint whose server answers plain HTTP */
    long http_status;  /* 0 when unreachable */
    char *type;        /* "ClientException", "ResourceNotFoundException", ...; may be NULL */
    char *message;     /* never NULL after a failed call */
    int transient;     /* the server is away for now: no answer, a 5xx, or throttled */
    int given_up;      /* a patient call stopped riding out the server's absence */
    int abandoned;     /* the command's abandon hook gave the call up: nothing to print */
    int foreign;       /* a 2xx that is not the operation's answer: something else answered */
} cli_error;

/* Fills the defaults from the environment: $BARGE_ENDPOINT, $AWS_REGION or $AWS_DEFAULT_REGION
 * (else the profile's region, found by cli_ctx_open),
 * $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN, and $AWS_CA_BUNDLE (which the
 * AWS CLI and SDKs read for the same purpose). */
void cli_ctx_init(cli_ctx *c, const char *prog);
/* Checks the endpoint, the region and the credentials once options are parsed, naming the
 * option or variable each came from: the variables' values are UTF-8 (as the arguments are, in
 * cli_main), the endpoint an http(s) URL without a user name or password, the region one as AWS
 * names them, and nothing that goes into a request's headers holds a control character;
 * returns 0, or 2 after printing why. */
int cli_ctx_open(cli_ctx *c);
void cli_ctx_close(cli_ctx *c);
/* When v is not well-formed UTF-8: prints "PROG: WHAT ('V', '?' where a byte is not UTF-8) is
 * not valid UTF-8 text; WHY: give it in UTF-8" (V left out unless show: a secret) and returns
 * 1; else 0. */
int cli_utf8_refused(const char *prog, const char *what, const char *v, int show,
                     const char *why);

/* Calls op of service "batch" or "logs", or "barge" for barge's own operations under
 * /barge/v1/ (signed as the Batch API's), with the JSON body req (borrowed).  Returns 0 with a
 * fresh *resp, or -1 with *err filled (free it with cli_error_free).
 *
 * With c->patient, once the server has answered, a transient failure is tried again after a
 * growing wait (cli_wait), for up to CLI_PATIENCE_S seconds after its last answer: a following
 * command outlives a restart.  It says on stderr, once, that the server is away, and once that
 * it is back.  Only reads and calls that may be repeated (TerminateJob) are made patiently. */
int cli_call(cli_ctx *c, const char *service, const char *op, json_t *req, json_t **resp,
             cli_error *err);
void cli_error_free(cli_error *e);
/* A 2xx answer (body, len bytes) read as the JSON object the operation op of service answers
 * with (fresh), with the members every such answer has; or NULL with *why (fresh) saying what
 * it is not and why: empty, not a JSON object, or without one of them.  In cli_answer.c. */
json_t *cli_answer_read(const char *service, const char *op, const char *body, size_t len,
                        char **why);
/* A refusal (4xx) whose message starts with the request's field that the command filled from
 * an option ("jobQueue: JobQueue q not found", "dependsOn[0].jobId: ...") names the option the
 * user typed instead ("--queue: ...", "--depends-on: ..."), or for an operand nothing, as the
 * message shows its value; cli_call does it for every call (req is the request), so that
 * every message printed of it says so.  In cli_fields.c, where every command's fields are. */
void cli_fields_rename(const cli_ctx *c, const json_t *req, cli_error *e);
/* Prints e for people: the server's message for API errors; for an unreachable server, which
 * endpoint was tried and how to start one. */
void cli_error_print(const cli_ctx *c, const char *op, const cli_error *e);

/* A call that has had no answer for CLI_SILENT_FIRST_MS beyond the wait it asked for
 * (cli_ctx.expect_ms) says so on stderr, and again every CLI_SILENT_AGAIN_MS until it is
 * answered or given up (CLI_CALL_TIMEOUT_MS): a server that stopped is not waited for in
 * silence. */
#define CLI_SILENT_FIRST_MS 10000
#define CLI_SILENT_AGAIN_MS 20000
/* The longest a call waits for its answer: the server answers every call promptly (a long
 * poll within the wait it is asked for), so a minute means that it is stuck. */
#define CLI_CALL_TIMEOUT_MS 60000

/* How long a patient call waits for a server that is away.  A restart or an upgrade takes
 * seconds, and a standby takes the lead within a few leases (3 s each by default); a minute
 * rides both out with room to spare, yet a server that is gone for good is said within one. */
#define CLI_PATIENCE_S 60

/* Waits ms milliseconds between two polls of a follow loop, running c->before_wait first.  A
 * signal cuts the wait short so that the hook sees it at once, then the wait goes on; with an
 * abandon hook, the hooks are also run every second of the wait.  -1 when c->abandon gives
 * up, else 0. */
int cli_wait(cli_ctx *c, long ms);

/* A stand-in for the network and the clock, for a program that drives the commands against
 * answers of its own making (fuzz/fuzz_cli.c, tests/unit/test_cli_answers.c): everything above
 * the HTTP exchange (signing, error answers, patience, the commands) runs as against a server.
 * Process-wide, since every command sets its context up itself. */
typedef struct cli_wire {
    /* One exchange in place of the HTTP request: the request's service ("batch", "logs" or
     * "barge"), operation and JSON body.  0 with the answer's *status, *type (its
     * x-amzn-ErrorType header, or NULL) and *body of *len bytes, all kept until the next
     * exchange; or -1 for no answer at all, as from a server that cannot be reached. */
    int (*exchange)(void *arg, const char *service, const char *op, const char *req,
                    long *status, const char **type, const char **body, size_t *len);
    /* The monotonic clock (milliseconds, above 0) and the waits of cli_wait: a stand-in whose
     * wait moves its own clock lets a patient call run its minute out at once. */
    long long (*now_ms)(void *arg);
    void (*sleep_ms)(void *arg, long ms);
    void *arg;
} cli_wire;
/* Sets the stand-in (copied) for every call from now on; NULL goes back to the network. */
void cli_set_wire(const cli_wire *w);
/* The clock of patience and of the follow loops: the stand-in's, else util_mono_ms. */
long long cli_now_ms(void);

/* cli_call for the Batch API that prints any error; returns 0, or 1 (the exit code). */
int cli_batch(cli_ctx *c, const char *op, json_t *req, json_t **resp);
/* Whether an in-place progress line (an array's bar, cli_run.c) is on stderr without its end:
 * anything else written to stderr ends it first (cli_progress_break), so that a message does not
 * run on from the bar. */
extern int cli_progress_open;
void cli_progress_break(void);

#endif
