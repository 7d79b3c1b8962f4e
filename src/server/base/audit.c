/* audit — see audit.h. */
#include "server/base/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/util.h"

static int fd = -1;

int audit_open(const char *data_dir, char **err)
{
    char *path = xasprintf("%s/audit.log", data_dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) *err = xasprintf("cannot open the audit trail %s: %s", path, strerror(errno));
    free(path);
    return fd < 0 ? -1 : 0;
}

void audit_close(void)
{
    if (fd >= 0) close(fd);
    fd = -1;
}

/* Members that name what a call acts on; never values a job is given. */
static const char *const naming[] = {
    "jobName", "jobQueue", "jobDefinition", "jobId", "jobs", "computeEnvironment",
    "computeEnvironmentName", "jobQueueName", "jobDefinitionName", "resourceArn", "name",
    "arn", "shareIdentifier", "reason", "state", "logGroupName", "logStreamName", "jobArn",
    "jobQueueArn", "jobDefinitionArn", "computeEnvironmentArn", "revision", NULL};

json_t *audit_params(json_t *request)
{
    json_t *out = NULL;
    for (const char *const *m = naming; *m; m++) {
        json_t *v = json_object_get(request, *m);
        if (!v || json_is_object(v)) continue;
        if (!out) out = json_object();
        json_object_set(out, *m, v);
    }
    return out;
}

void audit_record(const audit_event *e)
{
    if (fd < 0) return;
    char when[32];
    int64_t now = util_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *who = json_pack("{s:s}", "type", e->access_key ? "IAMUser" : "Anonymous");
    if (e->access_key) json_object_set_new(who, "accessKeyId", json_string(e->access_key));
    const char *assumed = e->principal ? strstr(e->principal, ":assumed-role/") : NULL;
    if (assumed) {
        /* A job's role: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, and the role that issued
         * the session, as CloudTrail gives them. */
        json_object_set_new(who, "type", json_string("AssumedRole"));
        json_object_set_new(who, "arn", json_string(e->principal));
        const char *role = assumed + 14, *slash = strchr(role, '/');
        json_object_set_new(who, "sessionContext", json_pack("{s:{s:s, s:s#}}", "sessionIssuer",
                                                             "type", "Role", "userName", role,
                                                             (int)(slash ? slash - role
                                                                         : (long)strlen(role))));
    } else if (e->principal) {
        /* arn:aws:iam::ACCOUNT:user/NAME, as CloudTrail gives it, and the name. */
        json_object_set_new(who, "arn", json_string(e->principal));
        const char *slash = strrchr(e->principal, '/');
        json_object_set_new(who, "userName", json_string(slash ? slash + 1 : e->principal));
    }
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:i}", "eventVersion", "1.08",
                           "eventTime", when, "eventSource", e->source, "eventName", e->name,
                           "awsRegion", e->region, "userIdentity", who, "httpStatus",
                           e->status);
    if (e->source_ip) json_object_set_new(ev, "sourceIPAddress", json_string(e->source_ip));
    if (e->user_agent) json_object_set_new(ev, "userAgent", json_string(e->user_agent));
    json_object_set(ev, "requestParameters", e->params ? e->params : json_null());
    json_object_set(ev, "responseElements", e->response ? e->response : json_null());
    if (e->error_code) json_object_set_new(ev, "errorCode", json_string(e->error_code));
    if (e->request_id) json_object_set_new(ev, "requestID", json_string(e->request_id));
    json_object_set_new(ev, "readOnly", json_false());
    char *line = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!line) return;
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the NUL: one write of the whole line, which O_APPEND keeps whole */
    if (write(fd, line, n + 1) < 0) { /* a full disk loses audit lines, not calls */ }
    free(line);
}
