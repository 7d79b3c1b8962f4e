#include "server/model/retry.h"

#include <strings.h>
#include <string.h>

int retry_glob(const char *pattern, const char *s)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncmp(pattern, s, n - 1) == 0;
    return strcmp(pattern, s) == 0;
}

static int field_matches(json_t *cond, const char *key, const char *value, int absent_is_empty)
{
    const char *pattern = json_string_value(json_object_get(cond, key));
    if (!pattern) return 1; /* not tested by this condition */
    if (!value) {
        /* A reason an attempt does not have is an empty one, so "*" matches it: Nextflow's
         * rules end with {onReason: "*", action: EXIT} and a plain non-zero exit (which has no
         * container reason) must exit, as on AWS.  An exit code an attempt does not have (a lost
         * host, a signal) is matched by nothing, so that "*" on exit codes never turns a host's
         * loss into a final failure. */
        if (!absent_is_empty) return 0;
        value = "";
    }
    return retry_glob(pattern, value);
}

int retry_decide(json_t *evaluate_on_exit, const char *status_reason, const char *reason,
                 const char *exit_code)
{
    size_t i;
    json_t *cond;
    json_array_foreach(evaluate_on_exit, i, cond) {
        if (field_matches(cond, "onStatusReason", status_reason, 1) &&
            field_matches(cond, "onReason", reason, 1) &&
            field_matches(cond, "onExitCode", exit_code, 0)) {
            const char *action = json_string_value(json_object_get(cond, "action"));
            return action && strcasecmp(action, "RETRY") == 0;
        }
    }
    return 1;
}
