/* audit — see audit.h. */
#include "server/base/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/jtext.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

static atomic_int fd = -1; /* read unlocked by audit_record's first look */
static char *path_; /* DATA_DIR/audit.log, opened again by audit_reopen */
/* A line was written in part (a full disk): the next starts with a newline of its own, so that
 * the torn one spoils no other. */
static int torn;
/* Whether the file ends torn, and each write after, decided under one lock: every HTTP thread
 * writes here, and a line written between another's torn write and its flag would land on the
 * torn line.  The descriptor changes under it too (audit_reopen). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* One write of the whole line, which O_APPEND keeps whole.  A full disk loses audit lines, not
 * calls: each loss is counted and said (at most every 10 s). */
static void put_line(const char *line, size_t len)
{
    static log_limit limit = LOG_LIMIT_INIT;
    static atomic_long lost;
    pthread_mutex_lock(&mu);
    int after_torn = torn;
    struct iovec v[2] = {{"\n", 1}, {(void *)line, len}};
    ssize_t n = after_torn ? writev(fd, v, 2) : writev(fd, v + 1, 1);
    int e = errno;
    size_t want = len + (size_t)after_torn;
    /* What the file ends with now: nothing written leaves it as it was; a part of the line (past
     * the newline that mended the last) tears it. */
    if (n != (ssize_t)want) torn = n > after_torn || (n <= 0 && after_torn);
    else torn = 0;
    pthread_mutex_unlock(&mu);
    if (n == (ssize_t)want) return;
    errno = e;
    long count = atomic_fetch_add(&lost, 1) + 1;
    log_limited(&limit, 10000, LOG_ERROR, "audit: a record could not be written whole to "
                "audit.log (%s); %ld lost since the server started",
                n < 0 ? strerror(errno) : "no room for all of it", count);
}

int audit_open(const char *data_dir, char **err)
{
    free(path_);
    path_ = xasprintf("%s/audit.log", data_dir);
    fd = open(path_, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) *err = xasprintf("cannot open the audit trail %s: %s", path_, strerror(errno));
    return fd < 0 ? -1 : 0;
}

int audit_reopen(void)
{
    if (!path_ || fd < 0) return 0;
    int nfd = open(path_, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (nfd < 0) {
        log_error("SIGHUP: cannot open the audit trail %s again (%s); records go on to the "
                  "file opened before", path_, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&mu);
    int old = fd;
    fd = nfd;
    torn = 0; /* a new file, or the same one: a torn line there is mended by no later write */
    pthread_mutex_unlock(&mu);
    close(old);
    return 0;
}

void audit_close(void)
{
    pthread_mutex_lock(&mu);
    if (fd >= 0) close(fd);
    fd = -1;
    pthread_mutex_unlock(&mu);
    free(path_);
    path_ = NULL;
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

/* The text of "key":"value" (value escaped), after a comma unless first. */
static void put_str(buf *b, const char *key, const char *v)
{
    buf_puts(b, ",\"");
    buf_puts(b, key);
    buf_puts(b, "\":");
    jtext_string(b, v);
}

/* Written as text, not through a jansson tree: every SubmitJob writes one, on the HTTP threads
 * that are the submit path's busiest (a tree and its dump were a quarter of their time).  The
 * members and their order are the ones CloudTrail's records have. */
void audit_record(const audit_event *e)
{
    if (fd < 0) return;
    /* The time, formatted once a second per thread. */
    static __thread time_t last_secs = -1;
    static __thread char when[UTIL_ISO_TIME_LEN];
    time_t secs = (time_t)(util_now_ms() / 1000);
    if (secs != last_secs) {
        util_iso_time(secs, when);
        last_secs = secs;
    }
    buf b = {0};
    buf_reserve(&b, 640);
    buf_puts(&b, "{\"eventVersion\":\"1.08\"");
    put_str(&b, "eventTime", when);
    put_str(&b, "eventSource", e->source);
    put_str(&b, "eventName", e->name);
    put_str(&b, "awsRegion", e->region);
    const char *assumed = e->principal ? strstr(e->principal, ":assumed-role/") : NULL;
    buf_puts(&b, ",\"userIdentity\":{\"type\":");
    jtext_string(&b, assumed ? "AssumedRole" : e->access_key ? "IAMUser" : "Anonymous");
    if (e->access_key) put_str(&b, "accessKeyId", e->access_key);
    if (assumed) {
        /* A job's role: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, and the role that issued
         * the session, as CloudTrail gives them. */
        put_str(&b, "arn", e->principal);
        const char *role = assumed + 14, *slash = strchr(role, '/');
        char *name = xstrndup(role, slash ? (size_t)(slash - role) : strlen(role));
        buf_puts(&b, ",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\"");
        put_str(&b, "userName", name);
        buf_puts(&b, "}}");
        free(name);
    } else if (e->principal) {
        /* arn:aws:iam::ACCOUNT:user/NAME, as CloudTrail gives it, and the name. */
        put_str(&b, "arn", e->principal);
        const char *slash = strrchr(e->principal, '/');
        put_str(&b, "userName", slash ? slash + 1 : e->principal);
    }
    buf_puts(&b, "},\"httpStatus\":");
    buf_int(&b, e->status);
    if (e->source_ip) put_str(&b, "sourceIPAddress", e->source_ip);
    if (e->user_agent) put_str(&b, "userAgent", e->user_agent);
    buf_puts(&b, ",\"requestParameters\":");
    if (e->params) jtext_json(&b, e->params);
    else buf_puts(&b, "null");
    buf_puts(&b, ",\"responseElements\":");
    if (e->response) jtext_json(&b, e->response);
    else buf_puts(&b, "null");
    if (e->error_code) put_str(&b, "errorCode", e->error_code);
    if (e->request_id) put_str(&b, "requestID", e->request_id);
    buf_puts(&b, ",\"readOnly\":false}\n");
    put_line(b.data, b.len);
    buf_free(&b);
}
