#include "agent/agent_logs.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/jtext.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/agent_state.h"

/* Logs are shipped when FLUSH_LINES lines or BATCH_BYTES are waiting, or when the oldest has
 * waited FLUSH_MS; one request carries up to BATCH_LINES, so that a backlog drains in few round
 * trips.  Past QUEUE_CAP bytes the supervisor stops reading jobs' output until the queue drains. */
#define LOG_FLUSH_LINES 500
#define LOG_BATCH_LINES 2000
/* The server takes bodies up to 4 MiB, and JSON escapes can make text up to six times larger. */
#define LOG_BATCH_BYTES (512 * 1024)
#define LOG_FLUSH_MS 200
/* The fewest lines an upload that got no answer is cut to.  On a link that loses most packets a
 * batch of thousands does not arrive within the request's timeout, and sent again whole it never
 * does: reports, which wait for the lines queued before them, went with it (a job ended on its
 * host was STARTING for two minutes, then lost with its instance). */
#define LOG_BATCH_MIN_LINES 8
#define LOG_QUEUE_CAP (16 * 1024 * 1024)

typedef struct agent_logev {
    struct agent_logev *next;
    char *stream, *text;
    size_t len;
    int64_t at, queued; /* epoch ms (the event's time); monotonic ms */
} logev;

/* One line as the undelivered log keeps it: a JSON object a line, flushed, so that a full
 * disk is known at the line it failed on rather than at a later flush of stdio's buffer (which
 * would drop the lines in it while they were said to be kept).  0, or -1 with errno. */
static int write_kept(FILE *f, const char *stream, int64_t at, const char *text, size_t len)
{
    return jtext_kept_line(f, stream, at, text, len) == 0 && fflush(f) == 0 ? 0 : -1;
}

/* Puts a line (its text fresh, already UTF-8) at the end of the queue.  mu held. */
static void queue_locked(agent *ag, char *stream, char *text, size_t len, int64_t at)
{
    logev *e = xcalloc(1, sizeof *e);
    e->stream = stream;
    e->text = text;
    e->len = len;
    e->at = at;
    e->queued = util_mono_ms();
    if (ag->ltail) ag->ltail->next = e;
    else ag->lhead = e;
    ag->ltail = e;
    ag->nlogs++;
    ag->log_bytes += len + 64;
    /* The sender needs waking only for a first line (to start the flush timer) or a full batch. */
    if (ag->nlogs == 1 || ag->nlogs == LOG_FLUSH_LINES || ag->log_bytes >= LOG_BATCH_BYTES)
        pthread_cond_broadcast(&ag->cond);
}

void agent_logs_line(void *ctx, const exec_spec *s, int source, int64_t at, const char *text,
                     size_t len)
{
    agent *ag = ctx;
    /* JSON strings must be UTF-8: a byte that is not becomes U+FFFD, as the awslogs driver
     * ships it (NULs are kept). */
    char *copy = util_utf8_repair(text, len, &len);
    const char *stream = s->log_stream ? s->log_stream : s->job_id;
    pthread_mutex_lock(&ag->mu);
    /* While the agent has given up on its server (agent_orphan.h), output goes to a file rather
     * than the queue, so that an attempt that writes much is never held up by a full queue.
     * Decided under mu, so that a line is in the file or in the queue before a return of the
     * server moves the file's lines into the queue (agent_logs_unspool). */
    if (atomic_load(&ag->orphaned)) {
        if (!ag->spool && !ag->spool_failed) {
            ag->spool = agent_open_kept(ag, "logs.jsonl");
            ag->spool_failed = !ag->spool;
        }
        if (ag->spool && write_kept(ag->spool, stream, at, copy, len) == 0) {
            pthread_mutex_unlock(&ag->mu);
            free(copy);
            return;
        }
        if (ag->spool) {
            /* From this line on the queue holds them, within its bound (agent_logs_backlog). */
            log_error("cannot write to %s/undelivered/logs.jsonl (%s): job output is held in "
                      "memory from now on", ag->work_dir, strerror(errno));
            fclose(ag->spool);
            ag->spool = NULL;
            ag->spool_failed = 1;
        }
    }
    queue_locked(ag, xstrdup(stream), copy, len, at);
    pthread_mutex_unlock(&ag->mu);
}

void agent_logs_say(void *ctx, const exec_spec *s, const char *line)
{
    agent_logs_line(ctx, s, 2, util_now_ms(), line, strlen(line));
}

/* The spool may hold this much before a returning server takes it back into memory. */
#define UNSPOOL_MAX (64 * 1024 * 1024)

size_t agent_logs_unspool(agent *ag, int *left)
{
    size_t n = 0;
    *left = 0;
    pthread_mutex_lock(&ag->mu);
    atomic_store(&ag->orphaned, 0);
    ag->spool_failed = 0;
    if (ag->spool) {
        fclose(ag->spool);
        ag->spool = NULL;
        char *path = xasprintf("%s/undelivered/logs.jsonl", ag->work_dir);
        struct stat st;
        FILE *f = stat(path, &st) == 0 && st.st_size <= UNSPOOL_MAX ? fopen(path, "re") : NULL;
        if (f) {
            char *line = NULL;
            size_t cap = 0;
            ssize_t got;
            while ((got = getline(&line, &cap, f)) > 0) {
                json_t *e = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, NULL);
                const char *stream = json_string_value(json_object_get(e, "logStreamName"));
                json_t *m = json_object_get(e, "message");
                if (stream && json_is_string(m)) {
                    size_t len = json_string_length(m);
                    char *text = xmalloc(len + 1);
                    memcpy(text, json_string_value(m), len);
                    text[len] = '\0';
                    queue_locked(ag, xstrdup(stream), text, len,
                                 json_integer_value(json_object_get(e, "timestamp")));
                    n++;
                }
                json_decref(e);
            }
            free(line);
            fclose(f);
            unlink(path);
        } else {
            *left = 1;
        }
        free(path);
    }
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    return n;
}

int agent_logs_backlog(void *ctx)
{
    agent *ag = ctx;
    /* An orphan's new lines go to the spool, not to the queue, which then drains no more: were
     * it full, the jobs would block on their output until they were stopped, and never end.
     * Unless the spool cannot be written (a full disk): then the queue holds them, within its
     * bound. */
    pthread_mutex_lock(&ag->mu);
    int full = ag->log_bytes > LOG_QUEUE_CAP &&
               (!atomic_load(&ag->orphaned) || ag->spool_failed);
    pthread_mutex_unlock(&ag->mu);
    return full;
}

int agent_logs_due(agent *ag, int64_t now, int urgent)
{
    return ag->nlogs >= LOG_FLUSH_LINES || ag->log_bytes >= LOG_BATCH_BYTES ||
           (ag->nlogs && (urgent || now >= ag->lhead->queued + LOG_FLUSH_MS));
}

int64_t agent_logs_flush_at(agent *ag)
{
    return ag->nlogs ? ag->lhead->queued + LOG_FLUSH_MS : 0;
}

int agent_logs_ship(agent *ag, agent_conn *h, const char *iid, size_t *sent)
{
    *sent = 0;
    pthread_mutex_lock(&ag->mu);
    size_t n = 0, bytes = 0;
    size_t most = ag->log_batch_lines ? ag->log_batch_lines : LOG_BATCH_LINES;
    /* Bytes shrink with lines: a few long lines are as slow to get through as many. */
    size_t most_bytes = LOG_BATCH_BYTES / (LOG_BATCH_LINES / most);
    logev *last = NULL;
    for (logev *e = ag->lhead;
         e && n < most && (n == 0 || bytes + e->len + 64 <= most_bytes);
         e = e->next) {
        n++;
        bytes += e->len + 64;
        last = e;
    }
    logev *first = ag->lhead;
    pthread_mutex_unlock(&ag->mu);
    if (n == 0) return 1;
    /* Only the sender removes lines, so the first n stay put while the lock is released. */
    json_t *streams = json_array(), *index = json_object();
    for (logev *e = first;; e = e->next) {
        json_t *events = json_object_get(index, e->stream);
        if (!events) {
            events = json_array();
            json_array_append_new(streams, json_pack("{s:s, s:o}", "logStreamName", e->stream,
                                                     "events", events));
            json_object_set(index, e->stream, events);
        }
        json_array_append_new(events, json_pack("{s:I, s:s%}", "timestamp", (json_int_t)e->at,
                                                "message", e->text, e->len));
        if (e == last) break;
    }
    json_decref(index);
    json_t *answer;
    char err[512];
    unsigned gen = h->gen;
    long status = agent_conn_post(h, "/barge/v1/agent/logs",
                                  json_pack("{s:s, s:o}", "instanceId", iid, "streams", streams),
                                  30, &answer, err, sizeof err);
    int unknown = agent_conn_unknown_instance(status, answer);
    json_decref(answer);
    if (unknown) {
        agent_registration_lost(ag, gen);
        return -1;
    }
    if (status == AGENT_CONN_UNREACHABLE || status == AGENT_CONN_ABORTED || status >= 500 ||
        status == 429) {
        /* Answered, but not stored: the server is there and reports can still reach it. */
        ag->logs_refused = status >= 500 || status == 429;
        /* No answer (a link that loses most of what it carries, a server away): the next try
         * carries half as many, down to LOG_BATCH_MIN_LINES. */
        if (status == AGENT_CONN_UNREACHABLE) {
            size_t half = most / 2;
            ag->log_batch_lines = half < LOG_BATCH_MIN_LINES ? LOG_BATCH_MIN_LINES : half;
        }
        /* Once in a while, not at every retry: the server may be away for long. */
        static int64_t last_note;
        if (status != AGENT_CONN_ABORTED && util_mono_ms() - last_note >= 30000) {
            log_warn("cannot ship logs to %s (%s); retrying with at most %zu lines an upload",
                     agent_servers_current(&ag->servers), err,
                     ag->log_batch_lines ? ag->log_batch_lines : (size_t)LOG_BATCH_LINES);
            last_note = util_mono_ms();
        }
        return 0;
    }
    ag->logs_refused = 0;
    if (ag->log_batch_lines)
        ag->log_batch_lines = most * 2 >= LOG_BATCH_LINES ? 0 : most * 2;
    if (status != 200)
        log_warn("the server refused %zu log lines (%s); they are dropped", n, err);
    pthread_mutex_lock(&ag->mu);
    for (size_t i = 0; i < n; i++) {
        logev *e = ag->lhead;
        ag->lhead = e->next;
        ag->nlogs--;
        ag->log_bytes -= e->len + 64;
        free(e->stream);
        free(e->text);
        free(e);
    }
    if (!ag->lhead) ag->ltail = NULL;
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    *sent = n;
    return 1;
}

size_t agent_logs_keep(agent *ag, size_t *lost)
{
    size_t n = 0;
    *lost = 0;
    if (ag->lhead && !ag->spool) ag->spool = agent_open_kept(ag, "logs.jsonl");
    logev *e = ag->lhead;
    for (; e && ag->spool; e = e->next, n++)
        if (write_kept(ag->spool, e->stream, e->at, e->text, e->len) < 0) {
            log_error("cannot write to %s/undelivered/logs.jsonl: %s", ag->work_dir,
                      strerror(errno));
            break;
        }
    for (; e; e = e->next) (*lost)++;
    if (ag->spool && fclose(ag->spool) != 0 && !*lost) *lost = n, n = 0;
    ag->spool = NULL;
    return n;
}

int agent_logs_queued_for(agent *ag, const char *stream)
{
    for (const logev *e = ag->lhead; e; e = e->next)
        if (strcmp(e->stream, stream) == 0) return 1;
    return 0;
}

void agent_logs_clear(agent *ag)
{
    for (logev *e = ag->lhead, *next; e; e = next) {
        next = e->next;
        free(e->stream);
        free(e->text);
        free(e);
    }
    ag->lhead = ag->ltail = NULL;
    ag->nlogs = ag->log_bytes = 0;
}
