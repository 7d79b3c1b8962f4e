/* jobdef_logs — the rules of a container's logConfiguration with the awslogs driver, the one
 * driver whose options barge acts on (docs/decisions.md, "Logs").
 *
 * The awslogs driver refuses options it does not know when a container starts, so on AWS a
 * misspelt option fails every attempt of the job; barge says so when the definition is
 * registered.  Options are sorted into three kinds: those barge honours (the group and the
 * stream prefix), those that only shape how lines become events or how they are buffered, which
 * barge accepts and ignores (every line is one event, and the agent does its own buffering), and
 * those that would send the logs somewhere barge does not serve, which it refuses rather than
 * store the logs where the user did not ask for them. */
#include <stdio.h>
#include <string.h>

#include "server/base/logstore.h"
#include "server/model/config.h"
#include "server/model/jobspec.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"

#define KNOWN_OPTIONS                                                                           \
    "awslogs-group, awslogs-stream-prefix, awslogs-region, awslogs-create-group, "              \
    "awslogs-create-stream, awslogs-datetime-format, awslogs-multiline-pattern, "               \
    "awslogs-force-flush-interval-seconds, awslogs-max-buffered-events, awslogs-format, tag, "  \
    "mode or max-buffer-size"

/* The driver parses booleans as Go's strconv.ParseBool does. */
static int is_bool(const char *v)
{
    static const char *const forms[] = {"1", "t", "T", "TRUE", "true", "True",
                                        "0", "f", "F", "FALSE", "false", "False", NULL};
    for (const char *const *f = forms; *f; f++)
        if (strcmp(v, *f) == 0) return 1;
    return 0;
}

/* The driver reads its flush interval and event count with Go's strconv.Atoi and wants them
 * above 0: digits after an optional '+', not all of them zeros. */
static int is_positive_int(const char *v)
{
    const char *d = v + (v[0] == '+');
    if (!*d || strspn(d, "0123456789") != strlen(d)) return 0;
    return d[strspn(d, "0")] != '\0';
}

/* Options of Docker's awslogs driver (moby's ValidateLogOpt) that only shape how lines are
 * batched, formatted or tagged: ECS hands them to the driver, so a definition written for AWS
 * may hold them, and barge, which ships every line as one event under the stream name AWS
 * Batch gives, accepts them with the values the driver takes and ignores them.  Returns 1 when
 * KEY is one of them (having answered a refusal if its value is not one the driver takes). */
static int check_shaping_option(api_ctx *c, const char *key, const char *v, const char *field,
                                int *rc)
{
    *rc = 0;
    if (strcmp(key, "awslogs-create-stream") == 0) {
        if (!is_bool(v)) *rc = api_client_error(c, "%s: '%.16s' is not true or false", field, v);
    } else if (strcmp(key, "awslogs-force-flush-interval-seconds") == 0 ||
               strcmp(key, "awslogs-max-buffered-events") == 0) {
        if (!is_positive_int(v))
            *rc = api_client_error(c, "%s: '%.16s' is not a whole number above 0", field, v);
    } else if (strcmp(key, "awslogs-format") == 0) {
        if (strcmp(v, "json/emf") != 0)
            *rc = api_client_error(c, "%s: '%.16s' is not a log format of the driver; the one "
                                      "it knows is json/emf", field, v);
    } else if (strcmp(key, "tag") != 0) {
        return 0;
    }
    return 1;
}

static int check_option(api_ctx *c, const char *key, const char *v, const char *field)
{
    int rc;
    if (check_shaping_option(c, key, v, field, &rc)) return rc;
    if (strcmp(key, JOBSPEC_AWSLOGS_GROUP) == 0) {
        if (!logstore_group_name_valid(v))
            return api_client_error(c, "%s: '%.64s' is not a log group name; use 1 to 512 "
                                       "letters, digits, '.', '-', '_', '/' and '#'", field, v);
    } else if (strcmp(key, JOBSPEC_AWSLOGS_PREFIX) == 0) {
        if (!jobspec_log_prefix_valid(v))
            return api_client_error(c, "%s: '%.64s' cannot begin a log stream name; use 1 to %d "
                                       "characters without ':' or '*' (streams are named "
                                       "PREFIX/default/TASKID)", field, v,
                                    JOBSPEC_LOG_PREFIX_MAX);
    } else if (strcmp(key, "awslogs-region") == 0) {
        if (strcmp(v, barge_cfg.region) != 0)
            return api_client_error(c, "%s: barge keeps job logs in its own region, %s, and "
                                       "cannot send them to '%.32s'; remove the option or set "
                                       "it to %s", field, barge_cfg.region, v, barge_cfg.region);
    } else if (strcmp(key, "awslogs-create-group") == 0) {
        /* barge makes a missing group whatever this says, rather than fail every attempt for
         * a group it can make itself (docs/decisions.md, "Logs"). */
        if (!is_bool(v))
            return api_client_error(c, "%s: '%.16s' is not true or false", field, v);
    } else if (strcmp(key, "mode") == 0) {
        if (strcmp(v, "blocking") != 0 && strcmp(v, "non-blocking") != 0)
            return api_client_error(c, "%s: '%.16s' is not blocking or non-blocking", field, v);
    } else if (strcmp(key, "awslogs-stream") == 0) {
        /* The driver takes it, but a job's stream is named by AWS Batch, and clients find the
         * job's log by the name its description gives. */
        return api_client_error(c, "%s: each attempt's stream is named PREFIX/default/TASKID "
                                   "(JOBDEF/default/TASKID without a prefix), as AWS Batch "
                                   "names it; use awslogs-stream-prefix", field);
    } else if (strcmp(key, "awslogs-endpoint") == 0) {
        return api_client_error(c, "%s: barge keeps job logs itself and serves them on its own "
                                   "endpoint; remove the option", field);
    } else if (strcmp(key, "awslogs-datetime-format") != 0 &&
               strcmp(key, "awslogs-multiline-pattern") != 0 &&
               strcmp(key, "max-buffer-size") != 0) {
        return api_client_error(c, "%s: not an option of the awslogs log driver; use "
                                   KNOWN_OPTIONS, field);
    }
    return 0;
}

int jobdef_check_log_configuration(api_ctx *c, json_t *lc, const char *field)
{
    const char *driver = api_str(lc, "logDriver");
    if (!driver || strcmp(driver, "awslogs") != 0) return 0;
    json_t *opts = json_object_get(lc, "options");
    const char *key;
    json_t *v;
    char f[300];
    json_object_foreach(opts, key, v) {
        snprintf(f, sizeof f, "%s.logConfiguration.options.%.64s", field, key);
        if (check_option(c, key, json_string_value(v), f) < 0) return -1;
    }
    if (json_object_get(opts, "awslogs-datetime-format") &&
        json_object_get(opts, "awslogs-multiline-pattern"))
        return api_client_error(c, "%s.logConfiguration.options: awslogs-datetime-format and "
                                   "awslogs-multiline-pattern cannot both be given; keep one",
                                field);
    /* The driver refuses the embedded metric format with either of the multi-line options. */
    if (json_object_get(opts, "awslogs-format") &&
        (json_object_get(opts, "awslogs-datetime-format") ||
         json_object_get(opts, "awslogs-multiline-pattern")))
        return api_client_error(c, "%s.logConfiguration.options: awslogs-format json/emf cannot "
                                   "be given with awslogs-datetime-format or "
                                   "awslogs-multiline-pattern; keep one", field);
    return 0;
}
