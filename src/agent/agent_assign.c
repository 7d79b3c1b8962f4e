/* agent_assign — see agent_assign.h. */
#include "agent/agent_assign.h"

#include <limits.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

#define DEFAULT_GRACE_SECONDS 10

static double clamp(double v, double lo, double hi)
{
    return v != v || v < lo ? lo : v > hi ? hi : v; /* NaN counts as lo */
}

int agent_assign_ids(json_t *a, const char **job, int *attempt)
{
    *job = json_string_value(json_object_get(a, "jobId"));
    json_t *att = json_object_get(a, "attempt");
    if (!*job || !json_is_integer(att) || json_integer_value(att) < 1 ||
        json_integer_value(att) > AGENT_ASSIGN_ATTEMPT_MAX)
        return -1;
    *attempt = (int)json_integer_value(att);
    return 0;
}

int agent_assign_env_has(char *const *envp, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=') return 1;
    return 0;
}

exec_spec *agent_assign_read(json_t *a, int roles, size_t extra, size_t *nenv,
                             const char **failure)
{
    const char *job;
    int attempt;
    BARGE_ASSERT(agent_assign_ids(a, &job, &attempt) == 0);
    exec_spec *s = xcalloc(1, sizeof *s);
    s->job_id = xstrdup(job);
    s->attempt = attempt;
    const char *stream = json_string_value(json_object_get(a, "logStreamName"));
    s->log_stream = xstrdup(stream ? stream : job);
    *nenv = 0;
    /* A secret or a role the server could not value: the attempt fails before anything runs. */
    json_t *container = json_object_get(a, "container");
    *failure = json_string_value(json_object_get(container, "secretsError"));
    if (!*failure) *failure = json_string_value(json_object_get(container, "credentialsError"));
    if (!*failure && !roles && json_string_value(json_object_get(a, "jobRoleArn")))
        *failure = "CannotStartContainerError: the agent cannot serve the job's role "
                   "credentials (see its log)";
    if (*failure) return s;
    json_t *cmd = json_object_get(a, "command");
    size_t n = json_array_size(cmd);
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(cmd, i))) {
            *failure = "CannotStartContainerError: the command is not a list of strings";
            return s;
        }
    s->argv = xcalloc(n + 1, sizeof *s->argv);
    for (size_t i = 0; i < n; i++) s->argv[i] = xstrdup(json_string_value(json_array_get(cmd, i)));
    json_t *env = json_object_get(a, "environment");
    s->envp = xcalloc(json_object_size(env) + extra + 1, sizeof *s->envp);
    const char *key;
    json_t *val;
    json_object_foreach(env, key, val)
    {
        if (!json_is_string(val) || !*key || strchr(key, '=')) {
            log_warn("job %s: ignoring the environment variable '%s' (its name or value is not "
                     "usable)", job, key);
            continue;
        }
        s->envp[(*nenv)++] = xasprintf("%s=%s", key, json_string_value(val));
    }
    const char *image = json_string_value(json_object_get(a, "image"));
    s->image = image ? xstrdup(image) : NULL;
    s->container = json_is_object(container) ? json_incref(container) : NULL;
    /* Numbers from the wire are clamped before they are narrowed: a value out of range is
     * undefined behaviour in C, not merely wrong. */
    s->memory_mib = (int64_t)clamp(json_number_value(json_object_get(a, "memoryMiB")), 0,
                                   (double)(1LL << 40));
    s->timeout_seconds = (int)clamp(json_number_value(json_object_get(a, "timeoutSeconds")), 0,
                                    INT_MAX / 1000);
    json_t *grace = json_object_get(a, "killGraceSeconds");
    s->kill_grace_seconds = json_is_number(grace)
                                ? (int)clamp(json_number_value(grace), 0, 86400)
                                : DEFAULT_GRACE_SECONDS;
    return s;
}
