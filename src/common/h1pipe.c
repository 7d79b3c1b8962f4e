/* h1pipe — see h1pipe.h. */
#include "common/h1pipe.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/mem.h"
#include "common/util.h"

enum { H1A_HEAD, H1A_BODY_LEN, H1A_BODY_EOF, H1A_CHUNK_SIZE, H1A_CHUNK_DATA, H1A_CHUNK_END,
       H1A_TRAILERS, H1A_DONE };

/* A chunk-size line or a trailer longer than this is not HTTP. */
#define LINE_MAX_BYTES 4096
/* Informational (1xx) heads before an answer's own: a server sends one or two (100 Continue,
 * 102 Processing); one that sends them without end would hold the window, a head at a time. */
#define INFORMATIONAL_MAX 16
/* Answers read at once: a window's 204s are some 50 bytes each. */
#define IN_SIZE (H1PIPE_HEAD_MAX + 16384)

struct h1pipe {
    char *host, *port;
    char *prefix; /* "POST path HTTP/1.1\r\nHost: ...\r\n...Content-Length: " */
    size_t prefix_len;
    long connect_timeout_ms;
    int fd;   /* -1: not connected */
    int wake; /* an eventfd: h1pipe_wake makes it readable */
    atomic_int woken;
    buf out;  /* a window's request heads, one after the other */
    size_t *head_at;
    struct iovec *iov;
    char *in; /* answers read and not yet parsed: in[0..have) */
    size_t have;
    char error[256];
};

/* ---- the answer parser ---- */

void h1answer_init(h1answer *a)
{
    memset(a, 0, sizeof *a);
    a->state = H1A_HEAD;
}

/* The end of the line starting at p (the '\n'), or NULL when it is not within end. */
static const char *line_end(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

/* Whether header line [p, e) (no line end) is name: and holds token (case-insensitively, as
 * one of its comma-separated values). */
static int header_has(const char *p, const char *e, const char *name, const char *token)
{
    size_t n = strlen(name), t = strlen(token);
    if ((size_t)(e - p) <= n || strncasecmp(p, name, n) != 0 || p[n] != ':') return 0;
    for (const char *v = p + n + 1; v < e;) {
        while (v < e && (*v == ' ' || *v == '\t' || *v == ',')) v++;
        const char *w = v;
        while (w < e && *w != ',') w++;
        const char *z = w;
        while (z > v && (z[-1] == ' ' || z[-1] == '\t' || z[-1] == '\r')) z--;
        if ((size_t)(z - v) == t && strncasecmp(v, token, t) == 0) return 1;
        v = w;
    }
    return 0;
}

/* Reads the head in data[0..len), which ends at end (after its blank line).  0, or -1. */
static int parse_head(h1answer *a, const char *data, const char *end, const char **why)
{
    const char *e = line_end(data, end);
    /* "HTTP/1.x SSS" and, optionally, a reason. */
    if ((size_t)(e - data) < 12 || strncmp(data, "HTTP/1.", 7) != 0 || data[7] < '0' ||
        data[7] > '9' || data[8] != ' ' || data[9] < '1' || data[9] > '5' || data[10] < '0' ||
        data[10] > '9' || data[11] < '0' || data[11] > '9' ||
        (e - data > 12 && data[12] != ' ' && data[12] != '\r')) {
        *why = "the answer does not start with HTTP/1.x and a status";
        return -1;
    }
    a->status = (data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0');
    int http10 = data[7] == '0', keep_alive = 0, chunked = 0;
    long long length = -1;
    for (const char *p = e + 1; p < end; p = e + 1) {
        e = line_end(p, end);
        const char *z = e > p && e[-1] == '\r' ? e - 1 : e;
        if (z == p) break; /* the blank line */
        if (header_has(p, z, "Connection", "close")) a->close = 1;
        if (header_has(p, z, "Connection", "keep-alive")) keep_alive = 1;
        if (header_has(p, z, "Transfer-Encoding", "chunked")) chunked = 1;
        if ((size_t)(z - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
            const char *v = p + 15;
            while (v < z && (*v == ' ' || *v == '\t')) v++;
            long long n = 0;
            const char *d = v;
            for (; d < z && *d >= '0' && *d <= '9' && n < (1LL << 53); d++) n = n * 10 + (*d - '0');
            while (d < z && (*d == ' ' || *d == '\t')) d++;
            if (d != z || d == v || (length >= 0 && n != length)) {
                *why = "the answer's Content-Length is not one whole number";
                return -1;
            }
            length = n;
        }
    }
    if (http10 && !keep_alive) a->close = 1;
    if (a->status == 101) {
        *why = "the server switched protocols (HTTP 101) in answer to a POST";
        return -1;
    }
    if (a->status < 200) { /* informational: the answer's head is still to come */
        if (++a->informational > INFORMATIONAL_MAX) {
            *why = "the answer sent more than 16 informational (1xx) heads";
            return -1;
        }
        return 0;
    }
    if (a->status == 204 || a->status == 304) a->state = H1A_DONE;
    else if (chunked) a->state = H1A_CHUNK_SIZE;
    else if (length >= 0) {
        a->left = (uint64_t)length;
        a->state = length ? H1A_BODY_LEN : H1A_DONE;
    } else {
        a->state = H1A_BODY_EOF; /* delimited by the connection's end */
        a->close = 1;
    }
    return 0;
}

ssize_t h1answer_feed(h1answer *a, const char *data, size_t len, int *done, const char **why)
{
    const char *p = data, *end = data + len;
    *done = 0;
    while (a->state != H1A_DONE) {
        if (a->state == H1A_HEAD) {
            /* The head ends at a blank line: "\n\n" or "\n\r\n". */
            const char *stop = NULL;
            for (const char *q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))); q++) {
                if (q + 1 < end && q[1] == '\n') stop = q + 2;
                else if (q + 2 < end && q[1] == '\r' && q[2] == '\n') stop = q + 3;
                if (stop) break;
            }
            if (!stop) {
                if ((size_t)(end - p) >= H1PIPE_HEAD_MAX) {
                    *why = "the answer's head is longer than 64 KiB";
                    return -1;
                }
                break;
            }
            if (parse_head(a, p, stop, why) < 0) return -1;
            p = stop;
        } else if (a->state == H1A_BODY_LEN || a->state == H1A_CHUNK_DATA) {
            size_t take = (uint64_t)(end - p) < a->left ? (size_t)(end - p) : (size_t)a->left;
            p += take;
            a->left -= take;
            if (a->left) break;
            a->state = a->state == H1A_BODY_LEN ? H1A_DONE : H1A_CHUNK_END;
        } else if (a->state == H1A_BODY_EOF) {
            p = end;
            break;
        } else { /* a line: a chunk's size, the end of its data, or a trailer */
            const char *e = line_end(p, end);
            if (!e) {
                if ((size_t)(end - p) > LINE_MAX_BYTES) {
                    *why = "a chunk of the answer is framed by a line longer than 4 KiB";
                    return -1;
                }
                break;
            }
            const char *z = e > p && e[-1] == '\r' ? e - 1 : e;
            if (a->state == H1A_CHUNK_SIZE) {
                uint64_t n = 0;
                const char *d = p;
                for (; d < z && n < (1ULL << 52); d++) {
                    int v = *d >= '0' && *d <= '9'   ? *d - '0'
                            : *d >= 'a' && *d <= 'f' ? *d - 'a' + 10
                            : *d >= 'A' && *d <= 'F' ? *d - 'A' + 10 : -1;
                    if (v < 0) break;
                    n = n * 16 + (uint64_t)v;
                }
                if (d == p || (d < z && *d != ';' && *d != ' ' && *d != '\t')) {
                    *why = "a chunk of the answer does not start with its size in hex";
                    return -1;
                }
                a->left = n;
                a->state = n ? H1A_CHUNK_DATA : H1A_TRAILERS;
            } else if (a->state == H1A_CHUNK_END) {
                if (z != p) {
                    *why = "a chunk of the answer is longer than its size";
                    return -1;
                }
                a->state = H1A_CHUNK_SIZE;
            } else if (z == p) { /* trailers end at a blank line */
                a->state = H1A_DONE;
            }
            p = e + 1;
        }
    }
    *done = a->state == H1A_DONE;
    return p - data;
}

int h1answer_eof(const h1answer *a)
{
    return a->state == H1A_BODY_EOF || a->state == H1A_DONE;
}

/* ---- the connection ---- */

/* s[0..n) with its %XX escapes decoded, in a fresh string. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], '\0'};
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

h1pipe *h1pipe_new(const char *url, const char *user_agent, long connect_timeout_ms,
                   char **err)
{
    const char *problem = util_http_url_problem(url, strlen(url));
    if (problem || strncmp(url, "http://", 7) != 0) {
        *err = xasprintf("%s", problem ? problem : "is not an http:// URL (pipelined POSTs do not "
                                                   "speak TLS)");
        return NULL;
    }
    const char *auth = url + 7, *stop = auth + strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', (size_t)(stop - auth));
    const char *hostport = at ? at + 1 : auth;
    h1pipe *p = xcalloc(1, sizeof *p);
    p->fd = -1;
    p->connect_timeout_ms = connect_timeout_ms;
    if (*hostport == '[') {
        const char *close = memchr(hostport, ']', (size_t)(stop - hostport));
        p->host = xstrndup(hostport + 1, (size_t)(close - hostport - 1));
        p->port = close + 1 < stop ? xstrndup(close + 2, (size_t)(stop - close - 2)) : xstrdup("80");
    } else {
        const char *colon = memchr(hostport, ':', (size_t)(stop - hostport));
        p->host = xstrndup(hostport, (size_t)((colon ? colon : stop) - hostport));
        p->port = colon ? xstrndup(colon + 1, (size_t)(stop - colon - 1)) : xstrdup("80");
    }
    /* The path and query as written; a fragment is not sent. */
    size_t path_len = strcspn(stop, "#");
    buf pre = {0};
    buf_puts(&pre, "POST ");
    if (!path_len || *stop != '/') buf_puts(&pre, "/");
    buf_append(&pre, stop, path_len);
    buf_puts(&pre, " HTTP/1.1\r\nHost: ");
    buf_append(&pre, hostport, (size_t)(stop - hostport));
    buf_puts(&pre, "\r\n");
    if (user_agent) buf_printf(&pre, "User-Agent: %s\r\n", user_agent);
    if (at) {
        /* As libcurl sends it: the user and the password decoded, then base64. */
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        char *user = pct_decode(auth, (size_t)((colon ? colon : at) - auth));
        char *pass = colon ? pct_decode(colon + 1, (size_t)(at - colon - 1)) : xstrdup("");
        char *plain = xasprintf("%s:%s", user, pass);
        size_t n = strlen(plain);
        char *b64 = util_base64(plain, n);
        buf_printf(&pre, "Authorization: Basic %s\r\n", b64);
        OPENSSL_cleanse(plain, n);
        OPENSSL_cleanse(pass, strlen(pass));
        OPENSSL_cleanse(b64, strlen(b64));
        free(b64);
        free(plain);
        free(pass);
        free(user);
    }
    buf_puts(&pre, "Content-Length: ");
    p->prefix = pre.data;
    p->prefix_len = pre.len;
    p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p->in = xmalloc(IN_SIZE);
    p->head_at = xmalloc(H1PIPE_WINDOW_MAX * sizeof *p->head_at);
    p->iov = xmalloc(2 * H1PIPE_WINDOW_MAX * sizeof *p->iov);
    if (p->wake < 0) {
        *err = xasprintf("cannot make an eventfd: %s", strerror(errno));
        h1pipe_free(p);
        return NULL;
    }
    return p;
}

static void disconnect(h1pipe *p)
{
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    p->have = 0;
}

void h1pipe_free(h1pipe *p)
{
    if (!p) return;
    disconnect(p);
    if (p->wake >= 0) close(p->wake);
    if (p->prefix) OPENSSL_cleanse(p->prefix, p->prefix_len); /* may hold a password */
    free(p->prefix);
    free(p->host);
    free(p->port);
    buf_free(&p->out);
    free(p->head_at);
    free(p->iov);
    free(p->in);
    free(p);
}

void h1pipe_wake(h1pipe *p)
{
    atomic_store(&p->woken, 1);
    uint64_t one = 1;
    ssize_t w = write(p->wake, &one, sizeof one);
    (void)w; /* a full counter is already readable */
}

const char *h1pipe_error(const h1pipe *p)
{
    return p->error;
}

/* Waits for fd's events (or the wake), ms at most: the events that came, 0 on time out, -1 when
 * woken. */
static int wait_for(h1pipe *p, short events, long ms)
{
    struct pollfd fds[2] = {{.fd = p->fd, .events = events}, {.fd = p->wake, .events = POLLIN}};
    for (;;) {
        if (atomic_load(&p->woken)) return -1;
        int n = poll(fds, 2, (int)ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 0;
        if (fds[1].revents) return -1;
        return fds[0].revents;
    }
}

/* Opens the connection: 0, or -1 with p->error set. */
static int connect_to(h1pipe *p)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(p->host, p->port, &hints, &res);
    if (rc) {
        snprintf(p->error, sizeof p->error, "cannot resolve %s: %s", p->host, gai_strerror(rc));
        return -1;
    }
    int err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        p->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->fd < 0) {
            err = errno;
            continue;
        }
        if (connect(p->fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        err = errno;
        if (err == EINPROGRESS) {
            int ev = wait_for(p, POLLOUT, p->connect_timeout_ms);
            socklen_t len = sizeof err;
            if (ev < 0) err = EINTR;
            else if (ev == 0) err = ETIMEDOUT;
            else if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
            if (!err) break;
        }
        close(p->fd);
        p->fd = -1;
        if (err == EINTR) break;
    }
    freeaddrinfo(res);
    if (p->fd < 0) {
        snprintf(p->error, sizeof p->error, "cannot connect to %s port %s: %s", p->host, p->port,
                 err == EINTR ? "the server is stopping" : strerror(err));
        return -1;
    }
    int one = 1;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

/* The window's requests as iovecs: each head (written into p->out) and its body. */
static int build(h1pipe *p, const h1pipe_req *reqs, int n)
{
    p->out.len = 0;
    for (int i = 0; i < n; i++) {
        p->head_at[i] = p->out.len;
        buf_append(&p->out, p->prefix, p->prefix_len);
        buf_int(&p->out, (long long)reqs[i].len);
        buf_append(&p->out, "\r\n", 2);
        buf_append(&p->out, reqs[i].head, reqs[i].head_len);
        buf_append(&p->out, "\r\n", 2);
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        size_t end = i + 1 < n ? p->head_at[i + 1] : p->out.len;
        p->iov[k++] = (struct iovec){p->out.data + p->head_at[i], end - p->head_at[i]};
        if (reqs[i].len) p->iov[k++] = (struct iovec){(void *)reqs[i].body, reqs[i].len};
    }
    return k;
}

/* One try of the window on the connection (opened first if there is none): how many were
 * answered; *reused says whether the connection was open before and *heard whether any byte
 * of an answer came. */
static int send_window(h1pipe *p, h1pipe_req *reqs, int n, long timeout_ms, int *reused,
                       int *heard)
{
    *reused = p->fd >= 0;
    *heard = 0;
    if (p->fd < 0 && connect_to(p) < 0) return 0;
    int n_iov = build(p, reqs, n), at = 0, answered = 0;
    h1answer a;
    h1answer_init(&a);
    /* Each answer is whole within timeout_ms of the one before (of the start, for the first):
     * bytes that trickle in, a body without end, do not hold the window past it. */
    int64_t due = util_mono_ms() + timeout_ms;
    while (answered < n) {
        if (at < n_iov) {
            struct msghdr m = {.msg_iov = p->iov + at, .msg_iovlen = (size_t)(n_iov - at)};
            ssize_t w = sendmsg(p->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                snprintf(p->error, sizeof p->error, "sending to %s port %s failed: %s", p->host,
                         p->port, strerror(errno));
                break;
            }
            for (size_t left = w > 0 ? (size_t)w : 0; left;) {
                struct iovec *v = &p->iov[at];
                if (left < v->iov_len) {
                    v->iov_base = (char *)v->iov_base + left;
                    v->iov_len -= left;
                    left = 0;
                } else {
                    left -= v->iov_len;
                    at++;
                }
            }
        }
        /* Answers are read while requests are still being written: a server that answers as
         * it reads would otherwise stop reading once its answers filled the socket. */
        int64_t left = due - util_mono_ms();
        int ev = left > 0 ? wait_for(p, (short)(POLLIN | (at < n_iov ? POLLOUT : 0)), left) : 0;
        if (ev < 0) {
            snprintf(p->error, sizeof p->error, "the server is stopping");
            break;
        }
        if (ev == 0) {
            snprintf(p->error, sizeof p->error, "no %sanswer from %s port %s in %ld ms",
                     *heard ? "whole " : "", p->host, p->port, timeout_ms);
            break;
        }
        if (!(ev & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t got = read(p->fd, p->in + p->have, IN_SIZE - p->have);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (got <= 0) {
            if (got == 0 && h1answer_eof(&a) && a.state != H1A_HEAD) {
                /* A body that ran to the connection's end: answered, and the connection gone. */
                reqs[answered++].status = a.status;
                if (answered == n) {
                    disconnect(p);
                    return answered;
                }
            }
            snprintf(p->error, sizeof p->error, "%s port %s %s after %d of %d answers", p->host,
                     p->port, got == 0 ? "closed the connection" : strerror(errno), answered, n);
            break;
        }
        *heard = 1;
        p->have += (size_t)got;
        size_t used = 0;
        int closing = 0, bad = 0;
        while (used < p->have && answered < n && !closing) {
            int done;
            const char *why = NULL;
            ssize_t took = h1answer_feed(&a, p->in + used, p->have - used, &done, &why);
            if (took < 0) {
                snprintf(p->error, sizeof p->error, "%s port %s: %s", p->host, p->port, why);
                bad = 1;
                break;
            }
            used += (size_t)took;
            if (!done) break;
            reqs[answered++].status = a.status;
            closing = a.close;
            h1answer_init(&a);
            due = util_mono_ms() + timeout_ms;
        }
        if (bad) break;
        memmove(p->in, p->in + used, p->have - used);
        p->have -= used;
        if (closing && answered < n) {
            snprintf(p->error, sizeof p->error, "%s port %s closed the connection after %d of "
                     "%d answers", p->host, p->port, answered, n);
            break;
        }
        if (closing || (answered == n && p->have)) {
            /* Closed by the server, or more bytes than the answers asked for: the connection
             * is not used again. */
            disconnect(p);
            return answered;
        }
        if (answered < n && p->have == IN_SIZE) {
            snprintf(p->error, sizeof p->error, "%s port %s: an answer's head is longer than "
                     "64 KiB", p->host, p->port);
            break;
        }
    }
    if (answered < n) disconnect(p);
    return answered;
}

int h1pipe_post(h1pipe *p, h1pipe_req *reqs, int n, long timeout_ms)
{
    p->error[0] = '\0';
    for (int i = 0; i < n; i++) reqs[i].status = 0;
    if (n > H1PIPE_WINDOW_MAX) {
        snprintf(p->error, sizeof p->error, "%d requests at once; at most %d are taken", n,
                 H1PIPE_WINDOW_MAX);
        return 0;
    }
    if (atomic_load(&p->woken)) {
        snprintf(p->error, sizeof p->error, "the server is stopping");
        return 0;
    }
    int reused, heard;
    int answered = send_window(p, reqs, n, timeout_ms, &reused, &heard);
    /* A kept connection the server had closed while it was idle: nothing was answered, and
     * the window goes once more on a new connection (as libcurl does). */
    if (answered == 0 && n && reused && !heard && !atomic_load(&p->woken))
        answered = send_window(p, reqs, n, timeout_ms, &reused, &heard);
    return answered;
}
