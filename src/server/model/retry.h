/* retry — deciding whether a failed attempt is retried, as AWS Batch's retryStrategy does. */
#ifndef BARGE_RETRY_H
#define BARGE_RETRY_H
#include <jansson.h>

/* AWS's patterns: an exact match, except that a trailing '*' matches any rest. */
int retry_glob(const char *pattern, const char *s);

/* Given the attempt's outcome (status reason, container reason, exit code or NULL when the
 * container has none) and the evaluateOnExit list, returns 1 to retry and 0 to exit.  The first
 * condition whose every given pattern matches decides; when none matches, the job is retried. A
 * condition that tests onExitCode never matches an attempt without an exit code. */
int retry_decide(json_t *evaluate_on_exit, const char *status_reason, const char *reason,
                 const char *exit_code);
#endif
