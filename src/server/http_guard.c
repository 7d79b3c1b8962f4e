/* http_guard — see http_guard.h. */
#include "server/http_guard.h"

#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

enum { G_RECEIVING, G_HELD, G_BETWEEN, G_CLOSING };

/* How often the sweeper looks. */
#define SWEEP_MS 250
/* How long a connection waits in a phase before the sweeper asks whether its client is gone. */
#define GONE_AFTER_MS 1000

/* A connection's record.  Its phase and clock are written by the HTTP thread that serves it and
 * read by the sweeper, which alone may move it to G_CLOSING: atomics, so that the per-request
 * path takes no lock; the list's mutex guards only membership and the descriptor. */
typedef struct guard_conn {
    struct guard_conn *prev, *next;
    int fd;
    _Atomic int phase;
    _Atomic int64_t since_ms; /* when the current phase's clock started */
    int64_t gone_since;       /* the sweeper's: the phase whose client it last found gone */
    /* A held connection watched for its client's leaving (http_guard_watch), under G.mu. */
    void (*gone)(void *arg);
    void *gone_arg;
    int64_t gone_checked; /* monotonic ms of the last look */
} guard_conn;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    guard_conn *head;
    int64_t request_ms, idle_ms;
    int running, stopping;
    pthread_t thread;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static guard_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        guard_conn *g = xcalloc(1, sizeof *g);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        g->fd = ci ? ci->connect_fd : -1;
        atomic_init(&g->since_ms, util_mono_ms());
        atomic_init(&g->phase, G_RECEIVING);
        pthread_mutex_lock(&G.mu);
        g->next = G.head;
        if (G.head) G.head->prev = g;
        G.head = g;
        pthread_mutex_unlock(&G.mu);
        *socket_context = g;
        return;
    }
    guard_conn *g = *socket_context;
    if (!g) return;
    /* libmicrohttpd closes the socket after this returns: once the record is off the list,
     * the sweeper cannot reach a descriptor that may be reused. */
    pthread_mutex_lock(&G.mu);
    if (g->prev) g->prev->next = g->next;
    else G.head = g->next;
    if (g->next) g->next->prev = g->prev;
    pthread_mutex_unlock(&G.mu);
    free(g);
    *socket_context = NULL;
}

/* The clock is set before the phase, so that the sweeper never sees a new phase with an old
 * clock. */
static void set_phase(struct MHD_Connection *c, int phase, int restart)
{
    guard_conn *g = conn_of(c);
    if (!g) return;
    int now = atomic_load(&g->phase);
    if (now == G_CLOSING) return;
    if (restart || now != phase) atomic_store(&g->since_ms, util_mono_ms());
    /* Only the sweeper moves it meanwhile, to G_CLOSING, which stays. */
    atomic_compare_exchange_strong(&g->phase, &now, phase);
}

/* Request targets refused whole.  An encoded NUL: libmicrohttpd decodes it, and the path that
 * reaches the front end ends there ("/v1/submitjob%00zzz" would be served as SubmitJob).  A '%'
 * without two hex digits after it: libmicrohttpd leaves it as it is, so "tagKeys=%ZZ" named a key
 * "%ZZ" no client meant (RFC 3986 has no such target). */
static const char fault_nul[] = "the request's path or query holds an encoded NUL (%00), which no "
                                "name or parameter may contain";
static const char fault_escape[] = "the request's path or query holds a '%' not followed by two "
                                   "hex digits; a '%' in a name or value is sent as %25";

static const char *target_fault(const char *uri)
{
    for (const char *p = strchr(uri, '%'); p; p = strchr(p + 1, '%')) {
        if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2])) return fault_escape;
        if (p[1] == '0' && p[2] == '0') return fault_nul;
    }
    return NULL;
}

const char *http_guard_fault(const void *ctx)
{
    return ctx == fault_nul || ctx == fault_escape ? ctx : NULL;
}

void *http_guard_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
    /* A connection's first request is timed from the moment it opened; a later one from its
     * request line. */
    guard_conn *g = conn_of(c);
    int now = g ? atomic_load(&g->phase) : G_CLOSING;
    if (now == G_BETWEEN || now == G_HELD) set_phase(c, G_RECEIVING, 1);
    return (void *)target_fault(uri);
}

int http_guard_late(struct MHD_Connection *c)
{
    guard_conn *g = conn_of(c);
    if (!g || !G.request_ms) return 0;
    int phase = atomic_load(&g->phase);
    return (phase == G_RECEIVING || phase == G_CLOSING) &&
           util_mono_ms() - atomic_load(&g->since_ms) > G.request_ms;
}

void http_guard_received(struct MHD_Connection *c)
{
    set_phase(c, G_HELD, 0);
}

void http_guard_answered(struct MHD_Connection *c)
{
    set_phase(c, G_BETWEEN, 1);
}

/* 1 when the client has shut its side of the connection and left nothing unread: waiting for
 * (the rest of) a request, it can send no more.  libmicrohttpd 0.9.75 stops reading an
 * edge-triggered socket after a short read, so it does not see an end of stream that came with
 * the last bytes it read: a request dropped half-sent kept its connection until the request's
 * deadline, and 1,000 of them held 127.0.0.1's --max-connections-per-address (and so the local
 * agents) for 30 s. */
static int client_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    int unread = 0;
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) &&
           ioctl(fd, FIONREAD, &unread) == 0 && unread == 0;
}

/* 1 when the client has closed (or reset) its side: for a held stream, whose client sends
 * nothing more, that it has left. */
static int peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void http_guard_watch(struct MHD_Connection *c, void (*gone)(void *arg), void *arg)
{
    pthread_mutex_lock(&G.mu);
    guard_conn *g = conn_of(c);
    if (g) {
        g->gone = gone;
        g->gone_arg = arg;
        g->gone_checked = util_mono_ms();
    }
    pthread_mutex_unlock(&G.mu);
}

void http_guard_unwatch(struct MHD_Connection *c)
{
    pthread_mutex_lock(&G.mu);
    guard_conn *g = conn_of(c);
    if (g) g->gone = NULL;
    pthread_mutex_unlock(&G.mu);
}

/* A held connection whose watcher is told, once, that its client has gone (G.mu held, so that
 * a watcher that unwatches is not called after). */
static void look_held(guard_conn *g, int64_t now)
{
    if (!g->gone || g->fd < 0 || now - g->gone_checked < GONE_AFTER_MS) return;
    g->gone_checked = now;
    if (!peer_closed(g->fd)) return;
    void (*gone)(void *) = g->gone;
    g->gone = NULL;
    gone(g->gone_arg);
}

/* A connection to close now that its client has gone.  Asked twice, a sweep apart, in the same
 * phase: a whole request whose client shut its side after sending it is in libmicrohttpd's hands
 * (nothing unread) for the moment before the server takes it (held, not asked). */
static int left(guard_conn *g, int64_t now, int64_t since)
{
    if (now - since < GONE_AFTER_MS || !client_gone(g->fd)) {
        g->gone_since = 0;
        return 0;
    }
    if (g->gone_since == since) return 1;
    g->gone_since = since;
    return 0;
}

/* Closes the connections over their deadline, and those whose client has gone.  shutdown, not
 * close: the descriptor stays libmicrohttpd's, which sees the end of the stream and cleans up as
 * for any client that left. */
static int sweep(int64_t now)
{
    int closed = 0;
    pthread_mutex_lock(&G.mu);
    for (guard_conn *g = G.head; g; g = g->next) {
        int phase = atomic_load(&g->phase);
        int64_t limit;
        if (phase == G_RECEIVING) limit = G.request_ms;
        else if (phase == G_BETWEEN) limit = G.idle_ms;
        else {
            if (phase == G_HELD) look_held(g, now);
            continue;
        }
        if (g->fd < 0) continue;
        int64_t since = atomic_load(&g->since_ms);
        int over = limit && now - since > limit;
        if (!over && !left(g, now, since)) continue;
        /* Not if its thread has moved it on meanwhile (its request came in whole). */
        if (!atomic_compare_exchange_strong(&g->phase, &phase, G_CLOSING)) continue;
        if (over && phase == G_RECEIVING) closed++;
        shutdown(g->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&G.mu);
    return closed;
}

static void *sweeper(void *arg)
{
    pthread_setname_np(pthread_self(), "barge-guard");
    pthread_mutex_lock(&G.mu);
    while (!G.stopping) {
        struct timespec ts = util_mono_deadline(SWEEP_MS);
        pthread_cond_timedwait(&G.cv, &G.mu, &ts);
        if (G.stopping) break;
        pthread_mutex_unlock(&G.mu);
        int n = sweep(util_mono_ms());
        if (n)
            log_info("http: closed %d connection%s whose request did not arrive whole within "
                     "%lld s (--request-timeout)", n, n == 1 ? "" : "s",
                     (long long)(G.request_ms / 1000));
        pthread_mutex_lock(&G.mu);
    }
    pthread_mutex_unlock(&G.mu);
    return NULL;
}

int http_guard_start(int request_timeout_s, int idle_timeout_s, char **err)
{
    G.request_ms = (int64_t)request_timeout_s * 1000;
    G.idle_ms = (int64_t)idle_timeout_s * 1000;
    G.stopping = 0;
    util_cond_init_mono(&G.cv);
    int rc = pthread_create(&G.thread, NULL, sweeper, NULL);
    if (rc != 0) {
        *err = xasprintf("cannot start the HTTP deadline thread: %s", strerror(rc));
        return -1;
    }
    G.running = 1;
    return 0;
}

void http_guard_stop(void)
{
    if (!G.running) return;
    pthread_mutex_lock(&G.mu);
    G.stopping = 1;
    pthread_cond_signal(&G.cv);
    pthread_mutex_unlock(&G.mu);
    pthread_join(G.thread, NULL);
    G.running = 0;
}

/* Bytes of s as percent-encoded by an SDK: unreserved characters as they are, others %XX. */
static size_t encoded_len(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                     *s == '-' || *s == '_' || *s == '.' || *s == '~' || *s == '/'
                 ? 1
                 : 3;
    return n;
}

static enum MHD_Result add_head(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    size_t *n = cls;
    *n += kind == MHD_GET_ARGUMENT_KIND ? encoded_len(key) + encoded_len(value) + 2
                                        : strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

size_t http_guard_head_bytes(struct MHD_Connection *c, const char *url)
{
    size_t n = encoded_len(url);
    MHD_get_connection_values(c, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND, add_head, &n);
    return n;
}

void http_guard_refused(int per_address, int in_all)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static int64_t said_ms;
    static int said;
    static long count;
    pthread_mutex_lock(&mu);
    count++;
    int64_t now = util_mono_ms();
    long n = !said || now - said_ms >= 10000 ? count : 0;
    if (n) {
        count = 0;
        said_ms = now;
        said = 1;
    }
    pthread_mutex_unlock(&mu);
    if (n)
        log_warn("http: %ld new connection%s closed at once: a client address held its "
                 "--max-connections-per-address (%d), or the server all of its %d (counted "
                 "again in 10 s)", n, n == 1 ? "" : "s", per_address, in_all);
}
