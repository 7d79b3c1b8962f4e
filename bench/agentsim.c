/* agentsim — many simulated agents against one server, for bench/agent_load.py and
 * bench/retention.py.  Each agent speaks the agent protocol (docs/agent-protocol.md) on its own
 * keep-alive HTTP/1.1 connection, as `barge agent` does, but runs nothing: every attempt it is
 * assigned is reported RUNNING and then EXITED 0 in its next exchange (or, after a "run"
 * command, RUNNING at once and EXITED that long after).  Written in C, one thread
 * on epoll, so that on a machine of two cores the agents take little of the CPU the server is
 * measured with (a thread per agent in Python measured Python more than the server).
 *
 * usage: agentsim -p PORT -n AGENTS -v VCPUS [-l LOG_LINES] [-e COMPUTE_ENVIRONMENT]
 *
 * Every agent registers at once (join token "any-token": the server runs with --dev) in the
 * compute environment (default "fleet"); once all have, prints "registered N in S s".  Then each
 * exchanges in a loop: "wait": true when it has nothing to report, its reports otherwise, and
 * always "holding", the attempts it holds (until an answer acknowledged their end).  With -l,
 * each assigned attempt also writes LOG_LINES lines to its log stream, uploaded before its end
 * is reported.  A new credential in an answer is used from then on; a closed connection is
 * opened again and the request sent again.
 *
 * Reads commands on stdin, a line each:
 *   stat   answers with one line, counts since the start and latencies since the last stat:
 *          exchanges=N report_exchanges=N done=N lat_n=N p50_ms=X p99_ms=X reconnects=N
 *          (done: attempts whose end an answer acknowledged; the latencies are those of the
 *          exchanges that carried reports, from the request's first byte written to the
 *          answer's last byte read; "nan" when there were none)
 *   run MS attempts assigned from then on run about MS milliseconds (from half to one and a half
 *          times, uniformly at random): RUNNING is reported at once (an
 *          exchange with "wait": false), EXITED when the time is up.  So the fleet's pace is
 *          set by how long jobs run, not by how fast the server answers, and an exchange's
 *          latency is the server's, not the length of a queue of agents all waiting on it.
 *          An agent that holds running attempts sends its next exchange when the first of
 *          them ends rather than keeping a poll open meanwhile (`barge agent` keeps one open,
 *          for work for free vCPUs; here every answer fills them while jobs are queued).
 *          "run 0" goes back to ending attempts at once.
 * and exits 0 when stdin ends.  An answer other than 200, a server that cannot be reached for
 * 10 s, or a request unanswered for 120 s, is said on stderr and ends the tool with status 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_TIMEOUT_S 120.0
#define CONNECT_RETRY_S 0.1
#define CONNECT_TRIES 100

enum phase { PH_REGISTER, PH_EXCHANGE, PH_LOGS };

typedef struct agent {
    int n;
    int fd;           /* -1: no connection */
    int connecting;   /* connect() under way */
    unsigned mask;    /* the events epoll watches for it */
    enum phase phase;
    char *out;        /* the request in flight, whole, kept to send again on a new connection */
    size_t out_len, out_off;
    char *in;         /* what has arrived of its answer */
    size_t in_len, in_cap;
    double sent_at;   /* when the request's first byte went; 0 when none is in flight */
    double retry_at;  /* when to connect again; 0 when not waiting to */
    int fails;        /* connects failed in a row */
    int carried_reports;
    char *iid, *cred;
    json_t *held;     /* [{"jobId", "attempt"}] */
    json_t *reports;  /* to carry in the next exchange */
    json_t *ending;   /* the held attempts whose end the exchange in flight reports */
    json_t *running;  /* with "run": [{"jobId", "attempt", "due": monotonic s}] not yet ended */
    double next_due;  /* the earliest due of running; 0 when none */
} agent;

static agent *agents;
static int n_agents, port, vcpus, log_lines, run_ms;
static const char *ce = "fleet";
static int ep;
static int registered, waiting_retry;
static double started;
static unsigned long exchanges, report_exchanges, done, reconnects;
static double *lat;
static size_t lat_n, lat_cap;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("agentsim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) die("out of memory");
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static json_int_t epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void watch(agent *a, int op, unsigned events)
{
    if (op == EPOLL_CTL_MOD && a->mask == events) return;
    struct epoll_event ev = {.events = events, .data.ptr = a};
    if (epoll_ctl(ep, op, a->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    a->mask = events;
}

static void drop_connection(agent *a)
{
    if (a->fd >= 0) close(a->fd);   /* closing takes it out of the epoll set */
    a->fd = -1;
    a->connecting = 0;
    a->in_len = 0;
}

static void connect_later(agent *a)
{
    drop_connection(a);
    if (++a->fails >= CONNECT_TRIES)
        die("agent %d: cannot connect to 127.0.0.1:%d for %.0f s", a->n, port,
            CONNECT_TRIES * CONNECT_RETRY_S);
    a->retry_at = now_s() + CONNECT_RETRY_S;
    waiting_retry++;
}

static void flush_out(agent *a);

static void open_connection(agent *a)
{
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->fd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(a->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno != EINPROGRESS) {
            connect_later(a);
            return;
        }
        a->connecting = 1;
        watch(a, EPOLL_CTL_ADD, EPOLLOUT | EPOLLIN);
        return;
    }
    watch(a, EPOLL_CTL_ADD, EPOLLIN);
    flush_out(a);
}

/* Writes what is left of the request; the rest waits for EPOLLOUT. */
static void flush_out(agent *a)
{
    while (a->out_off < a->out_len) {
        ssize_t w = send(a->fd, a->out + a->out_off, a->out_len - a->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            watch(a, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
            return;
        }
        if (w < 0) {
            /* The server closed the connection under the request: send it again on a new one. */
            reconnects++;
            drop_connection(a);
            a->out_off = 0;
            open_connection(a);
            return;
        }
        a->out_off += w;
    }
    watch(a, EPOLL_CTL_MOD, EPOLLIN);
}

static void send_request(agent *a, const char *path, json_t *body, const char *token)
{
    char *js = json_dumps(body, JSON_COMPACT);
    if (!js) die("json_dumps failed");
    json_decref(body);
    size_t blen = strlen(js);
    char head[1024];
    int hlen = snprintf(head, sizeof head,
                        "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                        "Content-Type: application/json\r\nAuthorization: Bearer %s\r\n"
                        "Content-Length: %zu\r\n\r\n", path, port, token, blen);
    if (hlen < 0 || (size_t)hlen >= sizeof head) die("request head too long");
    free(a->out);
    a->out = xrealloc(NULL, hlen + blen);
    memcpy(a->out, head, hlen);
    memcpy(a->out + hlen, js, blen);
    free(js);
    a->out_len = hlen + blen;
    a->out_off = 0;
    a->sent_at = now_s();
    if (a->fd < 0) {
        if (!a->retry_at) open_connection(a);
    } else if (!a->connecting) {
        flush_out(a);
    }
}

static void send_register(agent *a)
{
    char name[32];
    snprintf(name, sizeof name, "sim-%d", a->n);
    a->phase = PH_REGISTER;
    send_request(a, "/barge/v1/agent/register",
                 json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:s, s:s}", "computeEnvironment", ce,
                           "vcpus", vcpus, "memoryMiB", 16384, "hostname", name,
                           "executor", "process", "cgroups", "none",
                           "cgroupsNote", "a simulated agent", "clientToken", name),
                 "any-token");
}

static void send_exchange(agent *a)
{
    json_t *holding = json_array();
    size_t i;
    json_t *h;
    json_array_foreach(a->held, i, h) json_array_append(holding, h);
    a->carried_reports = json_array_size(a->reports) > 0;
    a->phase = PH_EXCHANGE;
    send_request(a, "/barge/v1/agent/exchange",
                 json_pack("{s:s, s:b, s:O, s:o}", "instanceId", a->iid,
                           "wait", !a->carried_reports, "reports", a->reports,
                           "holding", holding),
                 a->cred);
}

static int same_attempt(json_t *x, json_t *y)
{
    return json_equal(json_object_get(x, "jobId"), json_object_get(y, "jobId")) &&
           json_equal(json_object_get(x, "attempt"), json_object_get(y, "attempt"));
}

static void lat_add(double ms)
{
    if (lat_n == lat_cap) {
        lat_cap = lat_cap ? 2 * lat_cap : 4096;
        lat = xrealloc(lat, lat_cap * sizeof *lat);
    }
    lat[lat_n++] = ms;
}

/* The attempt (key, taken) ended: its EXITED goes in the next exchange, which ends its holding. */
static void end_attempt(agent *a, json_t *key, json_int_t at)
{
    json_array_append_new(a->reports, json_pack("{s:O, s:O, s:s, s:I, s:i}", "jobId",
                                                json_object_get(key, "jobId"), "attempt",
                                                json_object_get(key, "attempt"), "event",
                                                "EXITED", "at", at, "exitCode", 0));
    json_array_append_new(a->ending, key);
}

/* After an answer: reports go at once; an agent whose attempts all still run waits for the
 * first to end (timers); one that holds none waits for work in a poll. */
static void next_exchange(agent *a)
{
    if (json_array_size(a->reports) == 0 && a->next_due) return;
    send_exchange(a);
}

/* Running attempts whose time is up end, and their agent exchanges (if none is in flight). */
static void end_due(agent *a, double now)
{
    if (!a->next_due || a->next_due > now || a->sent_at) return;
    json_int_t at = epoch_ms();
    double next = 0;
    size_t i = 0;
    while (i < json_array_size(a->running)) {
        json_t *r = json_array_get(a->running, i);
        double due = json_real_value(json_object_get(r, "due"));
        if (due <= now) {
            end_attempt(a, json_pack("{s:O, s:O}", "jobId", json_object_get(r, "jobId"),
                                     "attempt", json_object_get(r, "attempt")), at);
            json_array_remove(a->running, i);
        } else {
            if (!next || due < next) next = due;
            i++;
        }
    }
    a->next_due = next;
    send_exchange(a);
}

static const char *phase_path(enum phase p)
{
    return p == PH_REGISTER ? "register" : p == PH_EXCHANGE ? "exchange" : "logs";
}

/* One whole answer to the agent's request. */
static void answered(agent *a, int status, const char *body, size_t len)
{
    double took = now_s() - a->sent_at;
    a->sent_at = 0;
    a->fails = 0;
    if (status != 200)
        die("agent %d: %s answered HTTP %d: %.*s", a->n, phase_path(a->phase), status,
            (int)(len > 500 ? 500 : len), body);
    json_error_t err;
    json_t *ans = json_loadb(body, len, 0, &err);
    if (!ans || !json_is_object(ans))
        die("agent %d: %s answered what is not a JSON object (%s): %.*s", a->n,
            phase_path(a->phase), err.text, (int)(len > 500 ? 500 : len), body);
    if (a->phase == PH_REGISTER) {
        const char *iid = json_string_value(json_object_get(ans, "instanceId"));
        const char *cred = json_string_value(json_object_get(ans, "credential"));
        if (!iid || !cred) die("agent %d: register answered no instanceId or credential", a->n);
        a->iid = strdup(iid);
        a->cred = strdup(cred);
        json_decref(ans);
        if (++registered == n_agents) {
            printf("registered %d in %.3f s\n", n_agents, now_s() - started);
            fflush(stdout);
        }
        send_exchange(a);
        return;
    }
    if (a->phase == PH_LOGS) {
        json_decref(ans);
        next_exchange(a);
        return;
    }
    exchanges++;
    if (a->carried_reports) {
        report_exchanges++;
        lat_add(took * 1000);
    }
    const char *cred = json_string_value(json_object_get(ans, "credential"));
    if (cred) {
        free(a->cred);
        a->cred = strdup(cred);
    }
    /* Attempts whose end this answer acknowledged are no longer held. */
    size_t i, j;
    json_t *e, *h;
    json_array_foreach(a->ending, i, e) {
        json_array_foreach(a->held, j, h) {
            if (same_attempt(e, h)) {
                json_array_remove(a->held, j);
                break;
            }
        }
    }
    done += json_array_size(a->ending);
    json_array_clear(a->ending);
    json_array_clear(a->reports);
    json_int_t now = epoch_ms();
    json_t *assign = json_object_get(ans, "assign");
    json_t *streams = json_array();
    json_array_foreach(assign, i, e) {
        json_t *job = json_object_get(e, "jobId"), *att = json_object_get(e, "attempt");
        if (!json_is_string(job) || !json_is_integer(att))
            die("agent %d: an assignment without jobId or attempt", a->n);
        json_t *key = json_pack("{s:O, s:O}", "jobId", job, "attempt", att);
        json_array_append(a->held, key);
        json_array_append_new(a->reports, json_pack("{s:O, s:O, s:s, s:I}", "jobId", job,
                                                    "attempt", att, "event", "RUNNING",
                                                    "at", now));
        if (run_ms > 0) {
            /* Jobs' lengths vary (here uniformly from half to one and a half times MS): a
             * fleet whose jobs all end at once would measure a thundering herd, not a server. */
            double due = now_s() + run_ms / 1000.0 * (0.5 + drand48());
            json_array_append_new(a->running, json_pack("{s:O, s:O, s:f}", "jobId", job,
                                                        "attempt", att, "due", due));
            if (!a->next_due || due < a->next_due) a->next_due = due;
            json_decref(key);
        } else {
            end_attempt(a, key, now);
        }
        if (log_lines > 0) {
            json_t *events = json_array();
            for (int k = 0; k < log_lines; k++) {
                char msg[300];
                snprintf(msg, sizeof msg, "line %d of %s", k, json_string_value(job));
                json_array_append_new(events, json_pack("{s:I, s:s}", "timestamp", now,
                                                        "message", msg));
            }
            json_array_append_new(streams, json_pack("{s:O, s:o}", "logStreamName",
                                                     json_object_get(e, "logStreamName"),
                                                     "events", events));
        }
    }
    json_decref(ans);
    if (json_array_size(streams) > 0) {
        a->phase = PH_LOGS;
        send_request(a, "/barge/v1/agent/logs", json_pack("{s:o}", "streams", streams),
                     a->cred);
    } else {
        json_decref(streams);
        next_exchange(a);
    }
}

/* A chunked body, decoded into *out when it has arrived whole: 1, or 0 while incomplete, -1 when
 * it is not chunked encoding. */
static int dechunk(const char *p, size_t len, char **out, size_t *out_len)
{
    size_t at = 0, n = 0;
    char *buf = NULL;
    for (;;) {
        const char *eol = memmem(p + at, len - at, "\r\n", 2);
        if (!eol) break;
        char *end;
        unsigned long size = strtoul(p + at, &end, 16);
        if (end == p + at) {
            free(buf);
            return -1;
        }
        size_t data = eol + 2 - p;
        if (size == 0) {
            if (len < data + 2) break;
            *out = buf;
            *out_len = n;
            return 1;
        }
        if (len < data + size + 2) break;
        buf = xrealloc(buf, n + size + 1);
        memcpy(buf + n, p + data, size);
        n += size;
        at = data + size + 2;
    }
    free(buf);
    return 0;
}

static const char *header(const char *head, size_t hlen, const char *name)
{
    size_t nl = strlen(name);
    for (const char *l = memmem(head, hlen, "\r\n", 2); l && l + 2 < head + hlen;
         l = memmem(l + 2, head + hlen - (l + 2), "\r\n", 2)) {
        if ((size_t)(head + hlen - (l + 2)) > nl && strncasecmp(l + 2, name, nl) == 0 &&
            l[2 + nl] == ':') {
            const char *v = l + 3 + nl;
            while (*v == ' ') v++;
            return v;
        }
    }
    return NULL;
}

/* What has arrived: an answer when it is whole.  eof: the server closed the connection. */
static void parse_in(agent *a, int eof)
{
    if (!a->sent_at) {
        if (eof || a->in_len) {
            /* Nothing asked: a close between requests, or bytes nobody asked for. */
            drop_connection(a);
        }
        return;
    }
    const char *hend = a->in_len ? memmem(a->in, a->in_len, "\r\n\r\n", 4) : NULL;
    if (!hend) goto incomplete;
    size_t hlen = hend + 4 - a->in;
    int status = 0;
    if (sscanf(a->in, "HTTP/1.%*d %d", &status) != 1)
        die("agent %d: not an HTTP answer: %.*s", a->n, (int)(hlen > 200 ? 200 : hlen), a->in);
    const char *cl = header(a->in, hlen, "Content-Length");
    const char *te = header(a->in, hlen, "Transfer-Encoding");
    const char *conn = header(a->in, hlen, "Connection");
    int closing = conn && strncasecmp(conn, "close", 5) == 0;
    char *body;
    size_t blen;
    int owned = 0;
    if (te && strncasecmp(te, "chunked", 7) == 0) {
        int r = dechunk(a->in + hlen, a->in_len - hlen, &body, &blen);
        if (r < 0) die("agent %d: bad chunked encoding in an answer", a->n);
        if (r == 0) goto incomplete;
        owned = 1;
    } else if (cl) {
        blen = strtoul(cl, NULL, 10);
        if (a->in_len - hlen < blen) goto incomplete;
        body = a->in + hlen;
    } else {
        if (!eof) return;   /* the body ends with the connection */
        blen = a->in_len - hlen;
        body = a->in + hlen;
        closing = 1;
    }
    a->in_len = 0;   /* one request at a time: nothing follows the answer */
    if (closing || eof) drop_connection(a);
    answered(a, status, body, blen);
    if (owned) free(body);
    return;
incomplete:
    if (eof) {
        /* Closed under the request: send it again on a new connection. */
        reconnects++;
        drop_connection(a);
        a->out_off = 0;
        open_connection(a);
    }
}

static void on_event(agent *a, unsigned events)
{
    if (a->connecting) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            connect_later(a);
            return;
        }
        a->connecting = 0;
        flush_out(a);
        return;
    }
    if (events & EPOLLOUT) {
        flush_out(a);
        if (a->fd < 0 || a->connecting) return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    /* Most answers are a few KiB: a thousand agents keep small buffers, grown as needed. */
    if (a->in_cap - a->in_len < 4096) {
        a->in_cap = a->in_cap ? 2 * a->in_cap : 16384;
        a->in = xrealloc(a->in, a->in_cap + 1);
    }
    ssize_t r = recv(a->fd, a->in + a->in_len, a->in_cap - a->in_len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r > 0) {
        a->in_len += r;
        a->in[a->in_len] = '\0';
    }
    parse_in(a, r <= 0);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* The p-th percentile by linear interpolation, as bench/benchlib.py's pct. */
static double pct(const double *v, size_t n, double p)
{
    if (!n) return NAN;
    double k = (n - 1) * p / 100.0;
    size_t f = (size_t)k, c = f + 1 < n ? f + 1 : n - 1;
    return v[f] + (v[c] - v[f]) * (k - f);
}

static void command(const char *line)
{
    if (strcmp(line, "stat") == 0) {
        if (lat_n) qsort(lat, lat_n, sizeof *lat, cmp_double);
        printf("exchanges=%lu report_exchanges=%lu done=%lu lat_n=%zu p50_ms=%.1f p99_ms=%.1f "
               "reconnects=%lu\n", exchanges, report_exchanges, done, lat_n,
               pct(lat, lat_n, 50), pct(lat, lat_n, 99), reconnects);
        fflush(stdout);
        lat_n = 0;
    } else if (strncmp(line, "run ", 4) == 0 && atoi(line + 4) >= 0) {
        run_ms = atoi(line + 4);
    } else if (*line) {
        fprintf(stderr, "agentsim: unknown command \"%s\" (stat and run MS are)\n", line);
    }
}

static void on_stdin(void)
{
    static char buf[4096];
    static size_t n;
    ssize_t r = read(0, buf + n, sizeof buf - 1 - n);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) exit(0);
    n += r;
    buf[n] = '\0';
    char *nl;
    while ((nl = strchr(buf, '\n'))) {
        *nl = '\0';
        command(buf);
        n -= nl + 1 - buf;
        memmove(buf, nl + 1, n + 1);
    }
    if (n == sizeof buf - 1) n = 0;   /* a line that long is no command */
}

/* Agents whose connect failed, once their time comes; and requests unanswered too long. */
static void timers(void)
{
    double now = now_s();
    for (int i = 0; i < n_agents; i++) {
        agent *a = &agents[i];
        end_due(a, now);
        if (a->retry_at && a->retry_at <= now) {
            a->retry_at = 0;
            waiting_retry--;
            a->out_off = 0;
            open_connection(a);
        } else if (a->sent_at && now - a->sent_at > ANSWER_TIMEOUT_S) {
            die("agent %d: no answer to %s in %.0f s", a->n, phase_path(a->phase),
                ANSWER_TIMEOUT_S);
        }
    }
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "p:n:v:l:e:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'n': n_agents = atoi(optarg); break;
        case 'v': vcpus = atoi(optarg); break;
        case 'l': log_lines = atoi(optarg); break;
        case 'e': ce = optarg; break;
        default: goto usage;
        }
    }
    if (port <= 0 || port > 65535 || n_agents <= 0 || vcpus <= 0 || log_lines < 0 ||
        optind != argc) {
usage:
        fprintf(stderr, "usage: agentsim -p PORT -n AGENTS -v VCPUS [-l LOG_LINES] "
                        "[-e COMPUTE_ENVIRONMENT]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* A connection per agent: raise the descriptor limit as far as allowed. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n_agents + 16)
        die("%d agents need %d descriptors; the limit is %lu", n_agents, n_agents + 16,
            (unsigned long)rl.rlim_cur);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) < 0)
        die("stdin must be a pipe or a terminal (epoll: %s)", strerror(errno));
    agents = calloc(n_agents, sizeof *agents);
    if (!agents) die("out of memory");
    started = now_s();
    for (int i = 0; i < n_agents; i++) {
        agent *a = &agents[i];
        a->n = i;
        a->fd = -1;
        a->held = json_array();
        a->reports = json_array();
        a->ending = json_array();
        a->running = json_array();
        send_register(a);
    }
    struct epoll_event evs[256];
    double last_scan = now_s();
    for (;;) {
        int n = epoll_wait(ep, evs, 256, run_ms ? 1 : waiting_retry ? 20 : 1000);
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                on_stdin();
            else
                on_event(evs[i].data.ptr, evs[i].events);
        }
        double now = now_s();
        if (waiting_retry || now - last_scan > (run_ms ? 0.001 : 1)) {
            timers();
            last_scan = now;
        }
    }
}
