/* audit — the trail of every call that changes something: who, what, on what, from where, when,
 * and how it ended, with CloudTrail's field names so that tools that read CloudTrail records read
 * these.
 *
 * One JSON object per line in DATA_DIR/audit.log (0600), appended as each call is answered;
 * `tail`, `grep` or `jq` read it (docs/operations.md).  Request parameters are limited to the
 * members that name resources, so no environment value, secret or command line is written. */
#ifndef BARGE_AUDIT_H
#define BARGE_AUDIT_H
#include <jansson.h>

/* Opens (creating) DATA_DIR/audit.log.  0, or -1 with *err (allocated). */
int audit_open(const char *data_dir, char **err);
void audit_close(void);
/* Opens DATA_DIR/audit.log again (SIGHUP), so that a rotation that moved it aside (logrotate's
 * default, `mv`) is followed by a new file; the old one is closed once no write uses it.  0, or
 * -1 (said in the log; the file opened before stays in use). */
int audit_reopen(void);

typedef struct audit_event {
    const char *source;     /* "batch.amazonaws.com" */
    const char *name;       /* "SubmitJob" */
    const char *region;
    const char *source_ip;  /* or NULL */
    const char *user_agent; /* or NULL */
    const char *access_key; /* the request's access key id, or NULL (unsigned) */
    const char *principal;  /* the principal's ARN (arn:aws:iam::ACCOUNT:user/NAME), or NULL */
    json_t *params;         /* the naming members of the request (borrowed), or NULL */
    json_t *response;       /* the naming members of the answer (borrowed), or NULL */
    int status;             /* the HTTP status answered */
    const char *error_code; /* the AWS error type, or NULL */
    const char *request_id;
} audit_event;

void audit_record(const audit_event *e);
/* The request members that name resources (jobName, jobQueue, jobId, resourceArn, ...), fresh;
 * NULL when it names none. */
json_t *audit_params(json_t *request);
#endif
