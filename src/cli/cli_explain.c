/* cli_explain — `barge explain JOB`: why a job is where it is, in sentences, following what it
 * waits for: its dependencies (each explained in turn), the capacity it needs (its statusReason
 * says which), its array's children, or how its attempts ended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"
#include "common/util.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

static const char explain_help[] =
    "usage: barge explain JOBID\n"
    "\n"
    "Says why a job is where it is: what a PENDING job's dependencies are doing (and, in turn,\n"
    "theirs; one that can no longer succeed, an array with a FAILED child, said so), what a\n"
    "RUNNABLE job waits for, where a started job runs (and the image its agent pulls), how a\n"
    "finished job's attempts ended, and which dependency failed for a job that failed with it.\n"
    "Sentences for people only: `barge describe --json JOBID` gives the job as JSON.\n"
    "\n" CLI_COMMON_HELP_NO_JSON; /* --json is refused, saying so: not listed */

/* How deep dependencies are followed: a chain longer than this is summed up. */
#define MAX_DEPTH 6

static const char *str(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static void indent(int depth)
{
    for (int i = 0; i < depth; i++) fputs("    ", stdout);
}

static void say_attempts(json_t *job, int depth)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(job, "attempts"), i, a) {
        json_t *code = json_object_get(json_object_get(a, "container"), "exitCode");
        const char *reason = str(json_object_get(a, "container"), "reason");
        indent(depth + 1);
        printf("attempt %zu: %s", i + 1, str(a, "statusReason") ?: "ended");
        if (json_is_integer(code)) printf(", exit code %lld", (long long)json_integer_value(code));
        if (reason) printf(" (%s)", reason);
        putchar('\n');
    }
}

static int explain(cli_ctx *c, const char *id, int depth, dict *seen);

/* Whether N_TO_N entry d of job pairs children: when job and the job it names are both
 * arrays.  With a plain job on either side it is a dependency on the whole job, as the server
 * takes it.  A job that cannot be read is taken as an array: it is explained as unknown
 * below either way. */
static int pairs_children(cli_ctx *c, json_t *job, json_t *d)
{
    const char *type = str(d, "type"), *dep = str(d, "jobId");
    if (!type || strcmp(type, "N_TO_N") != 0 || !dep) return 0;
    if (!json_object_get(job, "arrayProperties")) return 0;
    json_t *on;
    if (cli_find_job(c, dep, &on) != 0) return 1;
    int array = json_object_get(json_object_get(on, "arrayProperties"), "size") != NULL;
    json_decref(on);
    return array;
}

/* The job one dependsOn entry d of job makes it wait for, as a fresh id, or NULL when it names
 * none for this job; *how gets a note on the kind, or NULL.  A child's entries are its array's
 * (DescribeJobs shows them on each child): SEQUENTIAL means the child before it (the first
 * child waits for none), N_TO_N on X means X's child of the same index when pairs (both are
 * arrays: pairs_children), else all of X. */
static char *dependency_of(json_t *job, json_t *d, int pairs, const char **how)
{
    const char *dep = str(d, "jobId"), *type = str(d, "type"), *id = str(job, "jobId");
    json_t *index = json_object_get(json_object_get(job, "arrayProperties"), "index");
    int seq = type && strcmp(type, "SEQUENTIAL") == 0;
    int n_to_n = type && strcmp(type, "N_TO_N") == 0;
    const char *colon = id ? strrchr(id, ':') : NULL;
    *how = NULL;
    if (n_to_n && !pairs) {
        *how = "(N_TO_N where one of the two is not an array: it waits for the whole job)";
        return dep ? xstrdup(dep) : NULL;
    }
    /* A negative index is no child's: the server's answer is wrong, and the child before
     * child i is not worked out from it. */
    if (!json_is_integer(index) || json_integer_value(index) < 0 || !colon) {
        if (n_to_n) *how = "(N_TO_N: each child waits for the child of the same index)";
        return dep && !seq ? xstrdup(dep) : NULL;
    }
    long long i = json_integer_value(index);
    if (seq) {
        if (i == 0) return NULL;
        *how = "(SEQUENTIAL: it waits for the child before it)";
        return xasprintf("%.*s:%lld", (int)(colon - id), id, i - 1);
    }
    if (!dep) return NULL;
    if (n_to_n) {
        *how = "(N_TO_N: it waits for the child of the same index)";
        return xasprintf("%s:%lld", dep, i);
    }
    return xstrdup(dep);
}

/* Whether an array's children have left PENDING: its dependencies were met, and each child is
 * now placed and run by itself. */
static int children_started(json_t *job)
{
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(job, "arrayProperties"), "statusSummary"),
                        key, v)
        if (strcmp(key, "SUBMITTED") != 0 && strcmp(key, "PENDING") != 0 &&
            json_integer_value(v) > 0)
            return 1;
    return 0;
}

/* What the jobs a PENDING job depends on are doing: how many have yet to succeed, and how many
 * of those can no longer.  An array with a FAILED child ends FAILED once all its children have
 * ended (as on AWS; the server's parent_update), and the job that waits for it fails then, so
 * "it waits for its dependency to succeed" would be false; so do a job that cannot run
 * (MISCONFIGURATION), one cancelled or terminated while it waits, and a PENDING job that depends
 * on any of these, down the chain.  An N_TO_N entry that pairs children is no such wait: each
 * child waits for its partner alone, and one whose partner failed has failed already. */
typedef struct waited {
    size_t waits;     /* yet to succeed */
    size_t doomed;    /* of them, those that can no longer */
    char *first;      /* the first of those (fresh), NULL when none */
    char *why;        /* why it cannot (fresh): "array job X, which it depends on, has..." */
} waited;

/* How many FAILED children job d has when it is an array that has not ended (its end is then
 * known: FAILED); 0 otherwise. */
static long long failed_children(json_t *d)
{
    json_t *ap = json_object_get(d, "arrayProperties");
    if (!json_is_integer(json_object_get(ap, "size")) || cli_status_done(str(d, "status")))
        return 0;
    return cli_int(json_object_get(ap, "statusSummary"), "FAILED");
}

static waited still_waited_for(cli_ctx *c, json_t *job, const int *pairs, int depth);

#define WALKS_MAX 32
static int walks_left = WALKS_MAX;

/* Why dependency d (its id id) can no longer succeed, in a fresh sentence; NULL when it still
 * may.  paired: an N_TO_N entry, whose children wait for their partners alone. */
static char *cannot_succeed(cli_ctx *c, const char *id, json_t *d, int paired, int depth)
{
    const char *status = str(d, "status") ?: "", *reason = str(d, "statusReason");
    long long failed = paired ? 0 : failed_children(d);
    if (failed > 0)
        return xasprintf("array job %s, which it depends on, has %lld FAILED child%s, so that "
                         "array ends FAILED once its other children have ended", id, failed,
                         failed == 1 ? "" : "ren");
    if (cli_status_done(status)) return NULL;
    /* Cancelled or terminated while PENDING, its reason says so (isCancelled comes only
     * once it has failed). */
    int cancelled = reason && !strncmp(reason, "cancelled (", 11);
    if (cancelled || json_is_true(json_object_get(d, "isTerminated")) ||
        (reason && !strncmp(reason, "terminated (", 12)))
        return xasprintf("job %s, which it depends on, was %s and ends FAILED", id,
                         cancelled ? "cancelled" : "terminated");
    if (!strcmp(status, "RUNNABLE") && reason && !strncmp(reason, "MISCONFIGURATION", 16))
        return xasprintf("job %s, which it depends on, can never run (%s)", id, reason);
    /* A PENDING job whose own dependencies cannot succeed; as deep as explain goes, and at
     * most WALKS_MAX such looks in a command (each a DescribeJobs): a wide tree of PENDING
     * jobs is said to wait rather than walked whole. */
    if (strcmp(status, "PENDING") != 0 || depth >= MAX_DEPTH || walks_left <= 0) return NULL;
    walks_left--;
    json_t *deps = json_object_get(d, "dependsOn"), *e;
    size_t i;
    int sub_pairs[20] = {0};
    if (!json_array_size(deps) || json_array_size(deps) > 20) return NULL;
    json_array_foreach(deps, i, e) sub_pairs[i] = pairs_children(c, d, e);
    waited w = still_waited_for(c, d, sub_pairs, depth + 1);
    char *why = w.doomed ? xasprintf("job %s, which it depends on, will fail without running "
                                     "(%s)", id, w.why) : NULL;
    free(w.first);
    free(w.why);
    return why;
}

/* One DescribeJobs for them all (and one for each PENDING one's own, cannot_succeed); a job no
 * longer known finished before it was let go.  All of them are taken to wait when they cannot
 * be read: each is explained below anyway.  depth: how far below the job explained. */
static waited still_waited_for(cli_ctx *c, json_t *job, const int *pairs, int depth)
{
    json_t *ids = json_array(), *paired = json_object(), *d, *resp = NULL;
    size_t i;
    const char *how;
    waited w = {0};
    json_array_foreach(json_object_get(job, "dependsOn"), i, d) {
        char *dep = dependency_of(job, d, pairs[i], &how);
        if (dep) json_array_append_new(ids, json_string(dep));
        if (dep && pairs[i]) json_object_set_new(paired, dep, json_true());
        free(dep);
    }
    w.waits = json_array_size(ids);
    json_t *req = json_pack("{s:O}", "jobs", ids);
    cli_error err = {0};
    int rc = cli_call(c, "batch", "DescribeJobs", req, &resp, &err);
    json_decref(req);
    json_t *id, *j;
    size_t k;
    json_array_foreach(rc == 0 ? ids : NULL, i, id) {
        json_t *found = NULL;
        json_array_foreach(json_object_get(resp, "jobs"), k, j)
            if (strcmp(str(j, "jobId") ?: "", json_string_value(id)) == 0) found = j;
        const char *status = str(found, "status");
        w.waits -= !status || strcmp(status, "SUCCEEDED") == 0;
        char *why = found ? cannot_succeed(c, json_string_value(id), found,
                                           json_object_get(paired, json_string_value(id)) != NULL,
                                           depth)
                          : NULL;
        if (why && !w.doomed++) {
            w.first = xstrdup(json_string_value(id));
            w.why = why;
        } else {
            free(why);
        }
        /* Below the job explained, one that cannot succeed is enough. */
        if (w.doomed && depth > 0) break;
    }
    cli_error_free(&err);
    json_decref(resp);
    json_decref(paired);
    json_decref(ids);
    return w;
}

/* The headline of a PENDING job's n dependencies when one can no longer succeed. */
static void say_doomed(const waited *w, size_t n)
{
    if (w->doomed == 1)
        printf("it will fail without running: %s, and this job fails with it", w->why);
    else
        printf("it will fail without running: %zu jobs it depends on can no longer succeed "
               "(among them: %s), and this job fails with the first to end", w->doomed, w->why);
    printf("; it depends on %zu:\n", n);
}

/* The jobs job depends on, each explained below a headline: what it waits for (failed: 0), or
 * why it failed (failed: 1, a dependency failed). */
static void say_dependencies(cli_ctx *c, json_t *job, int depth, dict *seen, int failed)
{
    json_t *deps = json_object_get(job, "dependsOn"), *d;
    size_t n = 0, i;
    const char *how;
    int parent = !json_is_integer(json_object_get(json_object_get(job, "arrayProperties"),
                                                  "index"));
    /* At most 20 entries (SubmitJob's limit); more in a wrong answer are not explained. */
    int pairs[20] = {0};
    if (json_array_size(deps) > 20) deps = NULL;
    json_array_foreach(deps, i, d) pairs[i] = pairs_children(c, job, d);
    json_array_foreach(deps, i, d) {
        char *dep = dependency_of(job, d, pairs[i], &how);
        n += dep != NULL;
        free(dep);
        /* An array's SEQUENTIAL entry names no job: its children wait for each other. */
        if (parent && strcmp(str(d, "type") ?: "", "SEQUENTIAL") == 0) {
            indent(depth + 1);
            printf("its children run one after another (SEQUENTIAL): each waits for the one "
                   "before it\n");
        }
    }
    if (!n) return;
    indent(depth + 1);
    waited w = {n, 0, NULL, NULL};
    if (!failed) w = still_waited_for(c, job, pairs, depth / 2);
    size_t waits = w.waits;
    if (failed)
        printf("it failed because a job it depends on failed; it depends on %zu:\n", n);
    else if (w.doomed)
        say_doomed(&w, n);
    else if (waits == n)
        printf("it waits for %zu dependenc%s to succeed:\n", n, n == 1 ? "y" : "ies");
    else if (waits)
        printf("it waits for %zu of the %zu jobs it depends on to succeed:\n", waits, n);
    else
        printf("the %s it depends on %s succeeded: it leaves PENDING at once\n",
               n == 1 ? "job" : "jobs", n == 1 ? "has" : "have");
    free(w.first);
    free(w.why);
    json_array_foreach(deps, i, d) {
        char *dep = dependency_of(job, d, pairs[i], &how);
        if (!dep) continue;
        if (how) {
            indent(depth + 2);
            printf("%s\n", how);
        }
        explain(c, dep, depth + 2, seen);
        free(dep);
    }
}

/* The first (up to) max children of array id in status, by ListJobs; NULL when the call
 * fails (the counts above have said what there is to say). */
static json_t *children_in(cli_ctx *c, const char *id, const char *status, int max)
{
    json_t *req = json_pack("{s:s, s:s, s:i}", "arrayJobId", id, "jobStatus", status,
                            "maxResults", max), *resp = NULL;
    cli_error err = {0};
    int rc = cli_call(c, "batch", "ListJobs", req, &resp, &err);
    json_decref(req);
    cli_error_free(&err);
    if (rc) return NULL;
    cli_json_plain(resp);
    return resp;
}

/* What an array's children wait for, and which failed, in a few calls whatever its size: the
 * array's own description has no reason of its children's.  Its RUNNABLE children ask for the
 * same resources, so the first one's reason (one ListJobs, one DescribeJobs) answers for all;
 * a few failed children are named with their reasons (one ListJobs), and the command that
 * lists them all is given. */
static void say_children(cli_ctx *c, json_t *job, int depth)
{
    json_t *ap = json_object_get(job, "arrayProperties");
    json_t *sum = json_object_get(ap, "statusSummary");
    const char *id = str(job, "jobId");
    long long runnable = cli_int(sum, "RUNNABLE"), failed = cli_int(sum, "FAILED");
    if (!id || json_is_integer(json_object_get(ap, "index"))) return; /* a child */
    json_t *resp, *s, *child = NULL;
    size_t i;
    if (runnable > 0 && (resp = children_in(c, id, "RUNNABLE", 1))) {
        const char *first = str(json_array_get(json_object_get(resp, "jobSummaryList"), 0),
                                "jobId");
        /* A child that has moved on since, or is gone, is left unsaid. */
        if (first && cli_find_job(c, first, &child) == 0) {
            cli_json_plain(child);
            const char *reason = str(child, "statusReason");
            indent(depth + 1);
            if (runnable == 1) printf("1 child is RUNNABLE: job %s", first);
            else printf("%lld children are RUNNABLE; the first of them, job %s,", runnable, first);
            if (reason) printf(" waits: %s\n", reason);
            else printf(" is next once capacity is free in the queue's compute environments\n");
            json_decref(child);
        }
        json_decref(resp);
    }
    if (failed > 0 && (resp = children_in(c, id, "FAILED", 3))) {
        json_t *list = json_object_get(resp, "jobSummaryList");
        size_t named = json_array_size(list);
        /* Its end is known before it comes: a job that depends on it sees why it will fail. */
        const char *then = cli_status_done(str(job, "status"))
                               ? "" : ", so the array ends FAILED once the others have ended";
        indent(depth + 1);
        if (failed == 1) printf("1 child failed%s:\n", then);
        else if ((long long)named >= failed) printf("%lld children failed%s:\n", failed, then);
        else printf("%lld children failed%s%s among them:\n", failed, then, *then ? ";" : ",");
        json_array_foreach(list, i, s) {
            json_t *code = json_object_get(json_object_get(s, "container"), "exitCode");
            indent(depth + 2);
            printf("job %s: %s", str(s, "jobId") ?: "?", str(s, "statusReason") ?: "failed");
            if (json_is_integer(code))
                printf(" (exit code %lld)", (long long)json_integer_value(code));
            putchar('\n');
        }
        indent(depth + 1);
        printf("`barge jobs --array %s --status FAILED` lists them all\n", id);
        json_decref(resp);
    }
}

/* A STARTING job whose agent pulls its image (barge.pulling, which AWS does not have): how
 * long it has, so that a registry that never answers is not taken for a slow start. */
static void say_pulling(json_t *job, int depth)
{
    json_t *pull = json_object_get(json_object_get(job, "barge"), "pulling");
    const char *image = str(pull, "image");
    if (!image || strcmp(str(job, "status") ?: "", "STARTING") != 0) return;
    char t[32], took[32];
    long long since = cli_int(pull, "since"), now = util_now_ms();
    cli_fmt_time(since, t);
    /* The server's clock may be a little ahead of this machine's. */
    cli_fmt_duration(now > since ? now - since : 0, took);
    indent(depth + 1);
    printf("it has not started: its agent has been pulling its image %s for %s (since %s); a "
           "pull or unpack that takes longer than the agent's --pull-timeout (300 seconds "
           "unless set) fails the attempt with CannotPullContainerError\n", image, took, t);
}

static int explain(cli_ctx *c, const char *id, int depth, dict *seen)
{
    if (dict_get(seen, id)) {
        indent(depth);
        printf("job %s (said above)\n", id);
        return 0;
    }
    json_t *job;
    /* A dependency the server no longer knows finished before the retention let it go (or the
     * job it waits for was never there): either way it holds nothing up. */
    int rc = depth ? cli_find_job(c, id, &job) : cli_describe_job(c, id, &job);
    if (rc == 1 && depth) {
        indent(depth);
        printf("job %s is no longer known (finished and removed after the server's retention): "
               "nothing to wait for\n", id);
        return 0;
    }
    if (rc) return rc < 0 ? 1 : rc;
    cli_json_plain(job);
    dict_put(seen, xstrdup(id), (void *)1);
    const char *status = str(job, "status") ?: "?", *reason = str(job, "statusReason");
    const char *queue = cli_arn_name(str(job, "jobQueue") ?: "?");
    indent(depth);
    printf("job %s (%s) is %s in queue %s", id, str(job, "jobName") ?: "?", status, queue);
    if (reason) printf(": %s", reason);
    putchar('\n');
    json_t *ap = json_object_get(job, "arrayProperties");
    if (json_is_integer(json_object_get(ap, "size"))) { /* a child's summary is empty */
        json_t *sum = json_object_get(ap, "statusSummary");
        indent(depth + 1);
        printf("an array of %lld children:", cli_int(ap, "size"));
        const char *key;
        json_t *v;
        json_object_foreach(sum, key, v)
            if (json_integer_value(v)) printf(" %s %lld", key, (long long)json_integer_value(v));
        putchar('\n');
    }
    int dep_failed = strcmp(status, "FAILED") == 0 && reason &&
                     strcmp(reason, "Dependent Job failed") == 0;
    if ((strcmp(status, "SUBMITTED") == 0 || strcmp(status, "PENDING") == 0) &&
        children_started(job)) {
        size_t k, named = 0;
        json_t *d;
        int seq = 0;
        const char *pair = NULL;
        json_array_foreach(json_object_get(job, "dependsOn"), k, d) {
            /* Children that wait for each other, or each for its partner, still wait. */
            if (strcmp(str(d, "type") ?: "", "SEQUENTIAL") == 0) seq = 1;
            else if (pairs_children(c, job, d)) pair = str(d, "jobId");
            else named += json_object_get(d, "jobId") != NULL;
        }
        indent(depth + 1);
        if (seq || pair) {
            if (seq) printf("its children run one after another (SEQUENTIAL): each waits for "
                            "the one before it");
            else printf("each of its children waits for the child of the same index of job %s "
                        "(N_TO_N)", pair);
            printf("; `barge explain %s:N` follows child N\n", id);
        } else {
            printf("%seach of its children is now placed and run by itself; the array ends "
                   "when all of them have ended\n",
                   named ? "the jobs it depends on have succeeded, so " : "");
        }
    } else if (strcmp(status, "SUBMITTED") == 0 || strcmp(status, "PENDING") == 0 ||
               dep_failed) {
        if (depth / 2 >= MAX_DEPTH) {
            indent(depth + 1);
            printf("(and %s: `barge explain %s`)\n",
                   dep_failed ? "which dependency failed" : "what it waits for", id);
        } else {
            say_dependencies(c, job, depth, seen, dep_failed);
        }
    } else if (strcmp(status, "STARTING") == 0 || strcmp(status, "RUNNING") == 0) {
        json_t *ct = json_object_get(job, "container");
        const char *where = str(ct, "containerInstanceArn");
        /* A Fargate job's container names no instance; barge's member does. */
        const char *inst = str(json_object_get(job, "barge"), "instanceId");
        indent(depth + 1);
        printf("on instance %s", where ? cli_arn_name(where) : inst ? inst : "?");
        if (cli_int(job, "startedAt")) {
            char t[32];
            cli_fmt_time(cli_int(job, "startedAt"), t);
            printf(", running since %s", t);
        }
        printf(", attempt %zu\n", json_array_size(json_object_get(job, "attempts")) + 1);
        say_pulling(job, depth);
        json_t *waiting = json_object_get(json_object_get(job, "barge"), "outputWaiting");
        if (waiting) {
            char t[32];
            cli_fmt_time(cli_int(waiting, "since"), t);
            indent(depth + 1);
            printf("since %s %s\n", t, str(waiting, "reason") ? str(waiting, "reason") : "");
        }
        if (str(ct, "logStreamName")) {
            indent(depth + 1);
            printf("its log: barge logs -f %s\n", id);
        }
    } else if (strcmp(status, "RUNNABLE") == 0 && !reason) {
        indent(depth + 1);
        printf("it is next once capacity is free in the queue's compute environments\n");
    }
    /* The children of an array that failed with its dependency failed with it, all alike. */
    if (!dep_failed) say_children(c, job, depth);
    say_attempts(job, depth);
    json_decref(job);
    return 0;
}

int cli_explain(int argc, char **argv)
{
    cli_ctx c;
    cli_ctx_init(&c, "barge explain");
    /* explain speaks to people only; the JSON is describe's. */
    int done = cli_common_only(&c, argc, argv, explain_help);
    if (done >= 0) return done;
    if (c.json)
        return cli_usage_error(&c, "--json: explain writes sentences for people; `barge describe "
                                   "--json JOB` gives the job (and its dependsOn) as JSON");
    if (optind + 1 != argc)
        return cli_usage_error(&c, "give one job id (`barge jobs --queue Q` lists them)");
    int rc = cli_ids_given(&c, argv, optind, argc);
    if (!rc) rc = cli_ctx_open(&c);
    if (rc) return rc;
    dict seen;
    dict_init(&seen);
    rc = explain(&c, argv[optind], 0, &seen);
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&seen, &i, &k, &v)) free((char *)k);
    dict_free(&seen);
    cli_ctx_close(&c);
    return rc;
}
