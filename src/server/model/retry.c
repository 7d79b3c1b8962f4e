#include "server/model/retry.h"

#include <strings.h>
#include <string.h>

int retry_glob(const char *pattern, const char *s)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncmp(pattern, s, n - 1) == 0;
    return strcmp(pattern, s) == 0;
}

static int field_matches(json_t *cond, const char *key, const char *value)
{
    const char *pattern = json_string_value(json_object_get(cond, key));
    if (!pattern) return 1; /* not tested by this condition */
    if (!value) return 0;
    return retry_glob(pattern, value);
}

int retry_decide(json_t *evaluate_on_exit, const char *status_reason, const char *reason,
                 const char *exit_code)
{
    size_t i;
    json_t *cond;
    json_array_foreach(evaluate_on_exit, i, cond) {
        if (field_matches(cond, "onStatusReason", status_reason) &&
            field_matches(cond, "onReason", reason) &&
            field_matches(cond, "onExitCode", exit_code)) {
            const char *action = json_string_value(json_object_get(cond, "action"));
            return action && strcasecmp(action, "RETRY") == 0;
        }
    }
    return 1;
}
