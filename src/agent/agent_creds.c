/* agent_creds — see agent_creds.h. */
#include "agent/agent_creds.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/agent_assign.h"
#include "agent/agent_conn.h"
#include "agent/agent_state.h"
#include "agent/peer_uid.h"
#include "agent/task_stats.h"

#define PATH_PREFIX "/v1/credentials/"
#define META_PREFIX "/v4/"
/* Version 3's URL, which ECS's agent still sets beside version 4's: the same answers (version 4
 * only added members). */
#define META_V3_PREFIX "/v3/"
_Static_assert(sizeof META_PREFIX == sizeof META_V3_PREFIX, "on_request skips either alike");
/* A job's SDK waits a few seconds for the endpoint; the server's answer must come sooner. */
#define FETCH_TIMEOUT_S 10

/* One attempt: its task metadata, and its role's credentials when it has a role. */
typedef struct creds_entry {
    char id[33];    /* the URLs' last part: which attempt (random, so not guessable) */
    char token[65]; /* what the job must send as its Authorization; "" without a role */
    char key[256];  /* "ATTEMPT JOBID" */
    char *job_id;
    int attempt;
    char *answer;   /* the credentials last fetched, as the server answered them; or NULL */
    int64_t fetched_ms, expires_ms; /* wall clock */
    json_t *task; /* the task metadata as the server answered it, once asked; or NULL */
    int warned;   /* a failure to get it is logged once an attempt (a job may poll) */
    char docker_id[65]; /* the container's id in the metadata and its statistics */
    /* Where it runs, once it does (agent_creds_running), for its statistics. */
    int running, cgroup_v2, peak_known;
    pid_t pid;
    char *cgroup_dir;
    task_sample last; /* the statistics last served (precpu_stats), when served is set */
    int served;
} creds_entry;

/* Connections to the endpoint at once: in all, and of one uid.  Each attempt of a root agent
 * runs as a uid of its own, so one job holding its uid's share leaves the others theirs (with
 * one user for every job, --job-user or an unprivileged agent, they share one). */
#define CONNS_MAX 512
#define CONNS_PER_UID 32

/* One connection's place in the count. */
typedef struct conn_slot {
    uid_t uid;           /* the owner of the client's socket */
    int used;            /* 1 from admission until the connection closes */
    unsigned port;       /* the client's port while admitted and not yet started; then 0 */
    int64_t admitted_ms; /* monotonic */
} conn_slot;

/* A connection libmicrohttpd admitted starts at once on the listening thread; one not started
 * after this long never will (libmicrohttpd could not make it), and its slot is taken back. */
#define ADMITTED_STALE_MS 10000

struct agent_creds {
    agent *ag;
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t conns_mu; /* guards conns */
    conn_slot conns[CONNS_MAX];
    char *ca_bundle; /* a copy of --ca-file every job user can read, or NULL */
    pthread_mutex_t mu; /* guards the tables and the entries */
    dict by_id, by_attempt;
    pthread_mutex_t fetch_mu; /* one request to the server at a time, on conn */
    agent_conn conn;
};

static void entry_free(creds_entry *e)
{
    if (!e) return;
    free(e->job_id);
    free(e->cgroup_dir);
    json_decref(e->task);
    if (e->answer) OPENSSL_cleanse(e->answer, strlen(e->answer));
    free(e->answer);
    OPENSSL_cleanse(e, sizeof *e);
    free(e);
}

static void random_hex(char *out, size_t bytes)
{
    unsigned char raw[32];
    BARGE_ASSERT(bytes <= sizeof raw && RAND_bytes(raw, (int)bytes) == 1);
    util_hex(raw, bytes, out);
    OPENSSL_cleanse(raw, sizeof raw);
}

static int should_abandon(void *conn)
{
    agent_conn *h = conn;
    return h->ag->stopping;
}

/* The server's answer to the call at path for the attempt (its credentials, its task
 * metadata): 200 with *answer, or the status (0: unreachable) with why. */
static long fetch(agent_creds *cr, const char *path, const char *job_id, int attempt,
                  json_t **answer, char *why, size_t len)
{
    agent *ag = cr->ag;
    pthread_mutex_lock(&ag->mu);
    char *iid = ag->iid ? xstrdup(ag->iid) : NULL;
    pthread_mutex_unlock(&ag->mu);
    if (!iid) {
        snprintf(why, len, "the agent is not registered with its server");
        return 0;
    }
    long status = agent_conn_post(&cr->conn, path,
                                  json_pack("{s:s, s:s, s:i}", "instanceId", iid, "jobId",
                                            job_id, "attempt", attempt),
                                  FETCH_TIMEOUT_S, answer, why, len);
    free(iid);
    return status;
}

static time_t parse_iso(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    return end && !*end ? timegm(&tm) : (time_t)-1;
}

/* Whether e's credentials may still be served as they are: they have half their life ahead. */
static int fresh(const creds_entry *e, int64_t now)
{
    return e->answer && now < e->fetched_ms + (e->expires_ms - e->fetched_ms) / 2;
}

/* What the job gets for entry id: 200 and the credentials, or an error status and message. */
static int serve(agent_creds *cr, const char *id, const char *auth, char **body)
{
    pthread_mutex_lock(&cr->mu);
    creds_entry *e = dict_get(&cr->by_id, id);
    size_t n = e ? strlen(e->token) : 0;
    if (!n || !auth || strlen(auth) != n || CRYPTO_memcmp(auth, e->token, n) != 0) {
        pthread_mutex_unlock(&cr->mu);
        *body = xstrdup("{\"code\":\"AccessDenied\",\"message\":\"no credentials for this "
                        "URL and Authorization header (the attempt may have ended)\"}");
        return 403;
    }
    if (fresh(e, util_now_ms())) {
        *body = xstrdup(e->answer);
        pthread_mutex_unlock(&cr->mu);
        return 200;
    }
    char *job_id = xstrdup(e->job_id);
    int attempt = e->attempt;
    pthread_mutex_unlock(&cr->mu);

    pthread_mutex_lock(&cr->fetch_mu);
    json_t *answer = NULL;
    char why[512];
    long status = 0;
    /* Another request may have fetched them meanwhile. */
    pthread_mutex_lock(&cr->mu);
    e = dict_get(&cr->by_id, id);
    int need = e && !fresh(e, util_now_ms());
    pthread_mutex_unlock(&cr->mu);
    if (need)
        status = fetch(cr, "/barge/v1/agent/credentials", job_id, attempt, &answer, why,
                       sizeof why);
    pthread_mutex_unlock(&cr->fetch_mu);
    free(job_id);

    const char *exp = json_string_value(json_object_get(answer, "Expiration"));
    time_t expires = parse_iso(exp);
    int rc;
    pthread_mutex_lock(&cr->mu);
    e = dict_get(&cr->by_id, id);
    if (!e) {
        *body = xstrdup("{\"code\":\"AccessDenied\",\"message\":\"the attempt has ended\"}");
        rc = 403;
    } else if (need && status == 200 && expires != (time_t)-1 &&
               json_string_value(json_object_get(answer, "AccessKeyId"))) {
        if (e->answer) OPENSSL_cleanse(e->answer, strlen(e->answer));
        free(e->answer);
        e->answer = json_dumps(answer, JSON_COMPACT);
        e->fetched_ms = util_now_ms();
        e->expires_ms = (int64_t)expires * 1000;
        *body = xstrdup(e->answer);
        rc = 200;
    } else if (e->answer && util_now_ms() < e->expires_ms) {
        /* Not renewed (the server is out of reach): the ones held are still good. */
        if (need) log_warn("cannot renew the credentials of attempt %d of job %s (%s); serving "
                           "the current ones until they expire", e->attempt, e->job_id, why);
        *body = xstrdup(e->answer);
        rc = 200;
    } else {
        if (need && status == 200) snprintf(why, sizeof why, "the server's answer is malformed");
        json_t *msg = json_pack("{s:s, s:s}", "code", status == 403 ? "AccessDenied"
                                                                    : "ServerUnavailable",
                                "message", need ? why : "no credentials yet");
        *body = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        rc = status == 403 ? 403 : 503;
        log_warn("attempt %d of job %s asked for its role's credentials and got none: %s",
                 e->attempt, e->job_id, need ? why : "no credentials yet");
    }
    pthread_mutex_unlock(&cr->mu);
    json_decref(answer);
    return rc;
}

/* The container's ids, which the server does not know: the agent's, as Docker's are the ECS
 * agent's.  The name is ECS's: ecs-FAMILY-REVISION-CONTAINER-HEX. */
static void add_docker_ids(json_t *task, const char *docker_id)
{
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(task, "Containers"), i, c) {
        json_object_set_new(c, "DockerId", json_string(docker_id));
        char *name = xasprintf("ecs-%s-%s-%s-%.20s", json_string_value(json_object_get(task,
                               "Family")) ?: "job", json_string_value(json_object_get(task,
                               "Revision")) ?: "1", json_string_value(json_object_get(c, "Name"))
                               ?: "default", docker_id);
        json_object_set_new(c, "DockerName", json_string(name));
        free(name);
    }
}

/* The statistics of the attempt of entry id, as Docker's stats API gives a container's
 * (task_stats.h): the container's, or with task the task's (its containers' by DockerId).
 * Before the attempt runs (its image is being pulled), ECS's null. */
static int serve_stats(agent_creds *cr, const char *id, json_t *meta, int task, char **body)
{
    pthread_mutex_lock(&cr->mu);
    creds_entry *m = dict_get(&cr->by_id, id);
    task_stats_src src = {0};
    task_sample prev;
    int served = 0;
    char docker_id[sizeof m->docker_id] = "";
    if (m && m->running) {
        src = (task_stats_src){.cgroup_dir = m->cgroup_dir ? xstrdup(m->cgroup_dir) : NULL,
                               .v2 = m->cgroup_v2, .peak_known = m->peak_known, .pid = m->pid};
        prev = m->last;
        served = m->served;
    }
    if (m) memcpy(docker_id, m->docker_id, sizeof docker_id);
    int running = m && m->running;
    pthread_mutex_unlock(&cr->mu);
    if (!m) {
        *body = xstrdup("{\"code\":\"NotFound\",\"message\":\"no task metadata for this URL "
                        "(the attempt may have ended)\"}");
        return 404;
    }
    json_t *stats = json_null();
    if (running) {
        task_sample now;
        json_t *mem;
        task_stats_sample(&src, &now, &mem);
        const char *name = json_string_value(json_object_get(
            json_array_get(json_object_get(meta, "Containers"), 0), "DockerName"));
        stats = task_stats_json(&now, served ? &prev : NULL, mem, name ? name : docker_id,
                                docker_id);
        free((char *)src.cgroup_dir);
        pthread_mutex_lock(&cr->mu);
        m = dict_get(&cr->by_id, id);
        if (m) {
            m->last = now;
            m->served = 1;
        }
        pthread_mutex_unlock(&cr->mu);
    }
    json_t *out = task ? json_pack("{s:o}", docker_id, stats) : stats;
    *body = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(out);
    return 200;
}

/* What the job gets for path (after META_PREFIX: "ID" its container's metadata, "ID/task" its
 * task's, "ID/stats" and "ID/task/stats" their statistics, as ECS's endpoint answers them):
 * 200 and the JSON, or an error status and message.  The metadata is asked of the server the
 * first time, then kept: nothing in it changes while the attempt runs. */
static int serve_meta(agent_creds *cr, const char *path, char **body)
{
    char id[33];
    size_t n = strcspn(path, "/");
    const char *rest = path + n;
    int task = strcmp(rest, "/task") == 0 || strcmp(rest, "/task/stats") == 0;
    int stats = strcmp(rest, "/stats") == 0 || strcmp(rest, "/task/stats") == 0;
    if (n >= sizeof id || (*rest && !task && !stats)) {
        *body = xstrdup("{\"code\":\"NotFound\",\"message\":\"no such path: barge's agent "
                        "serves a task's metadata (ID/task) and its container's (ID), and their "
                        "statistics (ID/task/stats, ID/stats)\"}");
        return 404;
    }
    memcpy(id, path, n);
    id[n] = '\0';
    pthread_mutex_lock(&cr->mu);
    creds_entry *m = dict_get(&cr->by_id, id);
    json_t *have = m && m->task ? json_incref(m->task) : NULL;
    char *job_id = m && !have ? xstrdup(m->job_id) : NULL;
    int attempt = m ? m->attempt : 0;
    pthread_mutex_unlock(&cr->mu);
    if (!m) {
        *body = xstrdup("{\"code\":\"NotFound\",\"message\":\"no task metadata for this URL "
                        "(the attempt may have ended)\"}");
        return 404;
    }
    char why[512] = "";
    long status = 200;
    if (!have) {
        pthread_mutex_lock(&cr->fetch_mu);
        /* Another request (the container's and the task's are often asked together) may have
         * fetched it meanwhile. */
        pthread_mutex_lock(&cr->mu);
        m = dict_get(&cr->by_id, id);
        have = m && m->task ? json_incref(m->task) : NULL;
        pthread_mutex_unlock(&cr->mu);
        if (!have)
            status = fetch(cr, "/barge/v1/agent/taskmetadata", job_id, attempt, &have, why,
                           sizeof why);
        pthread_mutex_unlock(&cr->fetch_mu);
        free(job_id);
        if (status == 200 && !json_is_object(have)) {
            snprintf(why, sizeof why, "the server's answer is malformed");
            status = 502;
        }
        if (status == 200) {
            pthread_mutex_lock(&cr->mu);
            m = dict_get(&cr->by_id, id);
            if (m && !m->task) {
                add_docker_ids(have, m->docker_id);
                m->task = json_incref(have);
            }
            pthread_mutex_unlock(&cr->mu);
        }
    }
    if (status != 200) {
        json_decref(have);
        /* The server's refusal (the attempt no longer runs here) is final; anything else may
         * pass. */
        int gone = status == 403 || status == 404;
        json_t *msg = json_pack("{s:s, s:s}", "code", gone ? "NotFound" : "ServerUnavailable",
                                "message", why);
        *body = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        pthread_mutex_lock(&cr->mu);
        m = dict_get(&cr->by_id, id);
        int warn = m && !m->warned;
        if (m) m->warned = 1;
        pthread_mutex_unlock(&cr->mu);
        if (warn) log_warn("attempt %d asked for its task metadata and got none: %s", attempt, why);
        return gone ? 404 : 503;
    }
    if (stats) {
        int rc = serve_stats(cr, id, have, task, body);
        json_decref(have);
        return rc;
    }
    json_t *out = task ? have : json_array_get(json_object_get(have, "Containers"), 0);
    *body = out ? json_dumps(out, JSON_COMPACT) : xstrdup("{}");
    json_decref(have);
    return 200;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    static int seen;
    if (!*con_cls) { /* the headers are in: wait for the (empty) body */
        *con_cls = &seen;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    char *body;
    int status;
    if (strcmp(method, "GET") != 0) {
        body = xstrdup("{\"code\":\"MethodNotAllowed\",\"message\":\"use GET\"}");
        status = 405;
    } else if (strncmp(url, META_PREFIX, strlen(META_PREFIX)) == 0 ||
               strncmp(url, META_V3_PREFIX, strlen(META_V3_PREFIX)) == 0) {
        status = serve_meta(cls, url + strlen(META_PREFIX), &body);
    } else if (strncmp(url, PATH_PREFIX, strlen(PATH_PREFIX)) != 0) {
        body = xstrdup("{\"code\":\"NotFound\",\"message\":\"no such path\"}");
        status = 404;
    } else {
        status = serve(cls, url + strlen(PATH_PREFIX),
                       MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
                       &body);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The CA bundle the job's SDKs verify an https server with: --ca-file, copied where the job's
 * user can read it (the original may be in a directory only the agent's user may enter). */
static char *copy_ca_bundle(agent *ag)
{
    if (!ag->ca_file || strncmp(agent_servers_current(&ag->servers), "https://", 8) != 0) return NULL;
    char *text = util_read_file(ag->ca_file);
    if (!text) {
        log_warn("jobs with a role get no AWS_CA_BUNDLE: cannot read --ca-file %s: %s",
                 ag->ca_file, strerror(errno));
        return NULL;
    }
    char *path = xasprintf("%s/aws-ca-bundle.pem", ag->work_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t n = strlen(text);
    if (fd < 0 || write(fd, text, n) != (ssize_t)n || fchmod(fd, 0644) < 0) {
        log_warn("jobs with a role get no AWS_CA_BUNDLE: cannot write %s: %s", path,
                 strerror(errno));
        free(path);
        path = NULL;
    }
    if (fd >= 0) close(fd);
    free(text);
    return path;
}

/* What libmicrohttpd says of a connection it refuses, or one a client drops: any job can
 * cause a line at will (141,966 in 10 s of connecting and closing), and a local agent's
 * stderr is its server's log.  One every 10 s, the others counted. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    static log_limit limit = LOG_LIMIT_INIT;
    char line[512];
    log_vline(line, sizeof line, fmt, ap);
    log_limited(&limit, 10000, LOG_WARN, "jobs' metadata endpoint: %s", line);
}

/* libmicrohttpd's accept policy (its listening thread): a connection of a uid that holds its
 * share already is closed at once.  One whose owner cannot be found (no socket diagnostics in
 * this kernel) is let in, uncounted, as all were before. */
static enum MHD_Result admit(void *cls, const struct sockaddr *addr, socklen_t len)
{
    agent_creds *cr = cls;
    uid_t uid;
    if (len < (socklen_t)sizeof(struct sockaddr_in) || addr->sa_family != AF_INET ||
        !cr->port || peer_uid_of((const struct sockaddr_in *)addr, (unsigned)cr->port, &uid) < 0)
        return MHD_YES;
    unsigned port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    enum MHD_Result ok = MHD_NO;
    int64_t now = util_mono_ms();
    pthread_mutex_lock(&cr->conns_mu);
    int held = 0;
    conn_slot *free_slot = NULL;
    for (size_t i = 0; i < CONNS_MAX; i++) {
        conn_slot *c = &cr->conns[i];
        if (c->used && c->port && now - c->admitted_ms > ADMITTED_STALE_MS) c->used = 0;
        if (c->used && c->uid == uid) held++;
        else if (!c->used && !free_slot) free_slot = c;
    }
    if (held < CONNS_PER_UID && free_slot) {
        *free_slot = (conn_slot){.uid = uid, .used = 1, .port = port, .admitted_ms = now};
        ok = MHD_YES;
    }
    pthread_mutex_unlock(&cr->conns_mu);
    if (ok == MHD_NO) {
        static log_limit limit = LOG_LIMIT_INIT;
        log_limited(&limit, 10000, LOG_WARN, "jobs' metadata endpoint: uid %u holds %d "
                    "connections, its share; another is refused", (unsigned)uid, CONNS_PER_UID);
    }
    return ok;
}

/* A connection starts (its slot, found by the client's port, is tied to it) or ends (its slot
 * is let go). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    agent_creds *cr = cls;
    pthread_mutex_lock(&cr->conns_mu);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *a = ci ? ci->client_addr : NULL;
        unsigned port = a && a->sa_family == AF_INET
                            ? ntohs(((const struct sockaddr_in *)a)->sin_port) : 0;
        for (size_t i = 0; port && i < CONNS_MAX; i++)
            if (cr->conns[i].used && cr->conns[i].port == port) {
                cr->conns[i].port = 0;
                *socket_context = &cr->conns[i];
                break;
            }
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        conn_slot *c = *socket_context;
        c->used = 0;
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&cr->conns_mu);
}

agent_creds *agent_creds_start(agent *ag, char *err, size_t errlen)
{
    agent_creds *cr = xcalloc(1, sizeof *cr);
    cr->ag = ag;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* A thread per connection: a request may wait for the server's answer, and jobs ask
     * rarely (their SDKs cache what they get). */
    pthread_mutex_init(&cr->conns_mu, NULL);
    cr->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                 MHD_USE_ERROR_LOG,
                             0, admit, cr, on_request, cr, MHD_OPTION_EXTERNAL_LOGGER,
                             on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_CONNECTION, on_connection, cr,
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNS_MAX,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        cr->d ? MHD_get_daemon_info(cr->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info || !info->port) {
        snprintf(err, errlen, "cannot serve jobs' credentials on 127.0.0.1");
        if (cr->d) MHD_stop_daemon(cr->d);
        free(cr);
        return NULL;
    }
    cr->port = info->port;
    pthread_mutex_init(&cr->mu, NULL);
    pthread_mutex_init(&cr->fetch_mu, NULL);
    dict_init(&cr->by_id);
    dict_init(&cr->by_attempt);
    agent_conn_init(&cr->conn, ag, &ag->servers, ag->ca_file, 0, should_abandon, agent_bearer);
    cr->ca_bundle = copy_ca_bundle(ag);
    log_debug("jobs with a role get their credentials from http://127.0.0.1:%d", cr->port);
    return cr;
}

void agent_creds_stop(agent_creds *cr)
{
    if (!cr) return;
    MHD_stop_daemon(cr->d);
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&cr->by_id, &i, &k, &v)) entry_free(v);
    dict_free(&cr->by_id);
    dict_free(&cr->by_attempt);

    agent_conn_close(&cr->conn);
    pthread_mutex_destroy(&cr->mu);
    pthread_mutex_destroy(&cr->fetch_mu);
    free(cr->ca_bundle);
    free(cr);
}

/* Sets name, replacing a value the job's environment gave it. */
static void env_set(char **envp, size_t *n, const char *name, const char *value)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < *n; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=') {
            free(envp[i]);
            envp[i] = xasprintf("%s=%s", name, value);
            return;
        }
    envp[(*n)++] = xasprintf("%s=%s", name, value);
}

const char *agent_creds_add(agent_creds *cr, const char *job_id, int attempt,
                            const char *role_arn, char **envp, size_t *n)
{
    creds_entry *e = xcalloc(1, sizeof *e);
    random_hex(e->id, 16);
    random_hex(e->docker_id, 32);
    snprintf(e->key, sizeof e->key, "%d %.200s", attempt, job_id);
    e->job_id = xstrdup(job_id);
    e->attempt = attempt;
    char url[128];
    /* Every attempt's task metadata, as ECS serves every task's; version 3's URL too, which
     * ECS's agent still sets beside version 4's. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d" META_PREFIX "%s", cr->port, e->id);
    env_set(envp, n, "ECS_CONTAINER_METADATA_URI_V4", url);
    snprintf(url, sizeof url, "http://127.0.0.1:%d" META_V3_PREFIX "%s", cr->port, e->id);
    env_set(envp, n, "ECS_CONTAINER_METADATA_URI", url);
    const char *bundle = NULL;
    if (role_arn) {
        random_hex(e->token, 32);
        snprintf(url, sizeof url, "http://127.0.0.1:%d" PATH_PREFIX "%s", cr->port, e->id);
        /* The credential variables are the agent's to set, whatever the definition says: they
         * decide whose credentials the job holds. */
        env_set(envp, n, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
        env_set(envp, n, "AWS_CONTAINER_AUTHORIZATION_TOKEN", e->token);
        /* Where to reach AWS Batch and CloudWatch Logs is the job's to change. */
        if (!agent_assign_env_has(envp, *n, "AWS_ENDPOINT_URL_BATCH"))
            envp[(*n)++] = xasprintf("AWS_ENDPOINT_URL_BATCH=%s",
                                     agent_servers_current(&cr->ag->servers));
        if (!agent_assign_env_has(envp, *n, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"))
            envp[(*n)++] = xasprintf("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=%s",
                                     agent_servers_current(&cr->ag->servers));
        if (cr->ca_bundle && !agent_assign_env_has(envp, *n, "AWS_CA_BUNDLE")) {
            envp[(*n)++] = xasprintf("AWS_CA_BUNDLE=%s", cr->ca_bundle);
            bundle = cr->ca_bundle;
        }
        log_debug("attempt %d of job %s gets the credentials of role %s", attempt, job_id,
                  role_arn);
    }
    pthread_mutex_lock(&cr->mu);
    creds_entry *old = dict_get(&cr->by_attempt, e->key);
    if (old) { /* held already: the executor drops the second submit; so does this table */
        dict_del(&cr->by_id, old->id);
        dict_del(&cr->by_attempt, old->key);
        entry_free(old);
    }
    dict_put(&cr->by_id, e->id, e);
    dict_put(&cr->by_attempt, e->key, e);
    pthread_mutex_unlock(&cr->mu);
    return bundle;
}

void agent_creds_running(agent_creds *cr, const char *job_id, int attempt,
                         const exec_started *st)
{
    if (!cr) return;
    char key[256];
    snprintf(key, sizeof key, "%d %.200s", attempt, job_id);
    pthread_mutex_lock(&cr->mu);
    creds_entry *e = dict_get(&cr->by_attempt, key);
    if (e) {
        e->running = 1;
        e->pid = st->pid;
        e->cgroup_v2 = st->cgroup_v2;
        e->peak_known = st->peak_known;
        free(e->cgroup_dir);
        e->cgroup_dir = st->cgroup_dir ? xstrdup(st->cgroup_dir) : NULL;
    }
    pthread_mutex_unlock(&cr->mu);
}

void agent_creds_drop(agent_creds *cr, const char *job_id, int attempt)
{
    if (!cr) return;
    char key[256];
    snprintf(key, sizeof key, "%d %.200s", attempt, job_id);
    pthread_mutex_lock(&cr->mu);
    creds_entry *e = dict_del(&cr->by_attempt, key);
    if (e) dict_del(&cr->by_id, e->id);
    pthread_mutex_unlock(&cr->mu);
    entry_free(e);
}
