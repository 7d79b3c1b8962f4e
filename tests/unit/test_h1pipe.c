/* h1pipe.c: the answer parser on answers split every way, and pipelined POSTs to a server on
 * loopback (a thread of this test) that answers as HTTP/1.1 servers may: in order, with bodies
 * of every framing, closing the connection mid-window, closing it while idle, or never. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/h1pipe.h"
#include "common/mem.h"
#include "check.h"

/* ---- the parser ---- */

typedef struct parsed {
    long status[16];
    int close[16];
    int n;
    int error; /* -1 from h1answer_feed */
    int cut;   /* the bytes ended inside an answer (h1answer_eof said no) */
} parsed;

/* Reads s as h1pipe_post does, step bytes a read: feeding what is unread, keeping what was not
 * taken for the next read, and ending with the connection's end. */
static parsed parse_all(const char *s, size_t len, size_t step)
{
    parsed r = {0};
    h1answer a;
    h1answer_init(&a);
    size_t have = 0, used = 0;
    while (have < len || used < have) {
        size_t more = len - have < step ? len - have : step;
        have += more;
        for (;;) {
            int done;
            const char *why = NULL;
            ssize_t took = h1answer_feed(&a, s + used, have - used, &done, &why);
            if (took < 0) {
                CHECK(why != NULL);
                r.error = 1;
                return r;
            }
            used += (size_t)took;
            if (!done) break;
            r.status[r.n] = a.status;
            r.close[r.n++] = a.close;
            h1answer_init(&a);
            if (used == have) break;
        }
        if (!more) break;
    }
    if (a.state != 0 || used < have) { /* 0: H1A_HEAD, nothing of a next answer read */
        if (h1answer_eof(&a)) {
            r.status[r.n] = a.status;
            r.close[r.n++] = a.close;
        } else {
            r.cut = 1;
        }
    }
    return r;
}

/* s parsed the same at every read size. */
static parsed parse_every_way(const char *s)
{
    size_t len = strlen(s);
    parsed first = parse_all(s, len, len ? len : 1);
    for (size_t step = 1; step < len; step++) {
        parsed r = parse_all(s, len, step);
        CHECK_EQ_INT(r.n, first.n);
        CHECK_EQ_INT(r.error, first.error);
        CHECK_EQ_INT(r.cut, first.cut);
        for (int i = 0; i < r.n; i++) {
            CHECK_EQ_INT(r.status[i], first.status[i]);
            CHECK_EQ_INT(r.close[i], first.close[i]);
        }
    }
    return first;
}

static void test_answers_in_a_row(void)
{
    parsed r = parse_every_way("HTTP/1.1 204 No Content\r\n\r\n"
                               "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                               "HTTP/1.1 500 Oops\r\ncontent-length:0\r\n\r\n"
                               "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
                               "X-Trailer: yes\r\n\r\n"
                               "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                               "Content-Length: 2\r\n\r\n{}"
                               "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
                               "HTTP/1.1 404 Not Found\nContent-Length: 3\n\nno\n");
    CHECK_EQ_INT(r.error, 0);
    CHECK_EQ_INT(r.cut, 0);
    CHECK_EQ_INT(r.n, 7);
    long want[] = {204, 200, 500, 202, 201, 304, 404};
    for (int i = 0; i < 7; i++) {
        CHECK_EQ_INT(r.status[i], want[i]);
        CHECK_EQ_INT(r.close[i], 0);
    }
}

static void test_answers_that_close(void)
{
    parsed r = parse_every_way("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n"
                               "Content-Length: 0\r\n\r\n");
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.close[0], 1);
    /* HTTP/1.0 closes unless it says keep-alive. */
    r = parse_every_way("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    CHECK_EQ_INT(r.close[0], 1);
    r = parse_every_way("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n");
    CHECK_EQ_INT(r.close[0], 0);
    /* Neither a length nor chunks: the body runs to the connection's end, which ends it. */
    r = parse_every_way("HTTP/1.1 200 OK\r\n\r\nall of this is the body HTTP/1.1 200 OK\r\n\r\n");
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(r.status[0], 200);
    CHECK_EQ_INT(r.close[0], 1);
    CHECK_EQ_INT(r.cut, 0);
}

static void test_answers_cut_short(void)
{
    CHECK_EQ_INT(parse_every_way("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").cut, 1);
    CHECK_EQ_INT(parse_every_way("HTTP/1.1 200 OK\r\nContent-Le").cut, 1);
    CHECK_EQ_INT(parse_every_way("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe")
                     .cut, 1);
}

static void test_what_is_not_http(void)
{
    const char *bad[] = {
        "SSH-2.0-OpenSSH_9.2\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        parsed r = parse_all(bad[i], strlen(bad[i]), strlen(bad[i]));
        if (!r.error) CHECK_FAIL_("taken as HTTP: %s", bad[i]);
    }
    /* A head that never ends, and a chunk-size line that never ends, are bounded. */
    size_t n = H1PIPE_HEAD_MAX + 10;
    char *big = xmalloc(n + 1);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'a', n - 20);
    big[n] = '\0';
    CHECK_EQ_INT(parse_all(big, n, 4096).error, 1);
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    memcpy(big, head, strlen(head));
    memset(big + strlen(head), '0', n - strlen(head));
    CHECK_EQ_INT(parse_all(big, n, 4096).error, 1);
    free(big);
}

/* ---- pipelined POSTs to a server on loopback ---- */

enum { ANSWER, CLOSE_AFTER_3, HANG, CLOSE_WHEN_IDLE, DRIP, ENDLESS_1XX };

static struct {
    int listen_fd, port;
    atomic_int mode;
    atomic_int connections; /* accepted so far */
    atomic_int idle_closes; /* connections closed while idle (CLOSE_WHEN_IDLE), once closed */
    atomic_int close_in;    /* with CLOSE_AFTER_3: answers until the one that closes */
    pthread_mutex_t mu;
    char request_line[256], authorization[256];
    int requests;     /* read so far, in all connections */
    int bodies_ok;    /* requests whose body was Content-Length bytes of its X-Fill letter */
    long last_seq;    /* the X-Seq of the last request read */
    int out_of_order; /* an X-Seq not one more than the last */
} srv;

/* Header name's value in head (up to 255 bytes), or "". */
static void header_value(const char *head, const char *name, char *out)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':') {
            const char *v = l + 3 + n;
            while (*v == ' ') v++;
            size_t len = strcspn(v, "\r");
            if (len > 255) len = 255;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
    }
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static __thread char b[1 << 20];
    size_t have = 0;
    int answered = 0, idle = 0;
    for (;;) {
        char *end = have ? memmem(b, have, "\r\n\r\n", 4) : NULL;
        if (!end) {
            if (atomic_load(&srv.mode) == CLOSE_WHEN_IDLE && answered) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 50) == 0) { /* idle: closed, as servers do */
                    idle = 1;
                    break;
                }
            }
            ssize_t got = read(fd, b + have, sizeof b - 1 - have);
            if (got <= 0) break;
            have += (size_t)got;
            continue;
        }
        size_t head = (size_t)(end - b) + 4;
        b[head - 1] = '\0';
        char v[256];
        header_value(b, "Content-Length", v);
        size_t len = (size_t)strtol(v, NULL, 10);
        while (have < head + len) {
            ssize_t got = read(fd, b + have, sizeof b - 1 - have);
            if (got <= 0) goto out;
            have += (size_t)got;
        }
        char fill[256], want[256], seq[256];
        header_value(b, "X-Fill", fill);
        header_value(b, "X-Want", want);
        header_value(b, "X-Seq", seq);
        int body_ok = 1;
        for (size_t i = 0; i < len; i++) body_ok &= b[head + i] == fill[0];
        pthread_mutex_lock(&srv.mu);
        snprintf(srv.request_line, sizeof srv.request_line, "%.*s", (int)strcspn(b, "\r"), b);
        header_value(b, "Authorization", srv.authorization);
        srv.requests++;
        srv.bodies_ok += body_ok;
        long s = strtol(seq, NULL, 10);
        if (s != srv.last_seq + 1) srv.out_of_order++;
        srv.last_seq = s;
        pthread_mutex_unlock(&srv.mu);
        int mode = atomic_load(&srv.mode);
        if (mode == DRIP || mode == ENDLESS_1XX) {
            /* A byte of the body every 20 ms, or informational heads without end, until the
             * client goes. */
            const char *start = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
            if (mode == DRIP && write(fd, start, strlen(start)) < 0) break;
            struct timespec pause = {0, (mode == DRIP ? 20 : 1) * 1000000L};
            for (int i = 0; i < 100000; i++) {
                const char *piece = mode == DRIP ? "x" : "HTTP/1.1 102 Processing\r\n\r\n";
                if (send(fd, piece, strlen(piece), MSG_NOSIGNAL) < 0) break;
                nanosleep(&pause, NULL);
            }
            break;
        }
        if (mode == HANG) {
            memmove(b, b + head + len, have - head - len);
            have -= head + len;
            continue;
        }
        /* 204 has no body: the answers with one say 200. */
        long status = want[0] ? strtol(want, NULL, 10) : s % 3 == 2 ? 204 : 200;
        int closing = mode == CLOSE_AFTER_3 && atomic_fetch_sub(&srv.close_in, 1) == 1;
        answered++;
        /* Answers of every framing, by turns. */
        char out[512];
        int n = s % 3 == 0 ? snprintf(out, sizeof out, "HTTP/1.1 %ld X\r\nContent-Length: 4\r\n%s"
                                      "\r\nbody", status, closing ? "Connection: close\r\n" : "")
                : s % 3 == 1 ? snprintf(out, sizeof out, "HTTP/1.1 %ld X\r\nTransfer-Encoding: "
                                        "chunked\r\n%s\r\n3\r\nabc\r\n0\r\n\r\n", status,
                                        closing ? "Connection: close\r\n" : "")
                             : snprintf(out, sizeof out, "HTTP/1.1 %ld X\r\nContent-Length: 0\r\n"
                                        "%s\r\n", status, closing ? "Connection: close\r\n" : "");
        if (write(fd, out, (size_t)n) != n) break;
        memmove(b, b + head + len, have - head - len);
        have -= head + len;
        if (closing) break;
    }
out:
    close(fd);
    if (idle) atomic_fetch_add(&srv.idle_closes, 1);
    return NULL;
}

static void *accepter(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(srv.listen_fd, NULL, NULL);
        if (fd < 0) return NULL;
        atomic_fetch_add(&srv.connections, 1);
        pthread_t t;
        pthread_create(&t, NULL, serve, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static void start_server(void)
{
    pthread_mutex_init(&srv.mu, NULL);
    srv.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(srv.listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(srv.listen_fd, (struct sockaddr *)&a, &len);
    srv.port = ntohs(a.sin_port);
    CHECK(listen(srv.listen_fd, 16) == 0);
    pthread_t t;
    pthread_create(&t, NULL, accepter, NULL);
    pthread_detach(t);
}

/* n requests numbered from *seq on (X-Seq), bodies of size bytes of one letter, each asking for
 * want (0: the server's 200 or 204). */
typedef struct window {
    h1pipe_req reqs[H1PIPE_WINDOW_MAX];
    char heads[H1PIPE_WINDOW_MAX][128];
    char *body;
} window;

static void fill(window *w, int n, long *seq, size_t size, long want)
{
    w->body = xrealloc(w->body, size + 1);
    memset(w->body, 'q', size);
    for (int i = 0; i < n; i++) {
        int len = want ? snprintf(w->heads[i], sizeof w->heads[i],
                                  "X-Seq: %ld\r\nX-Fill: q\r\nX-Want: %ld\r\n", ++*seq, want)
                       : snprintf(w->heads[i], sizeof w->heads[i], "X-Seq: %ld\r\nX-Fill: q\r\n",
                                  ++*seq);
        w->reqs[i] = (h1pipe_req){.head = w->heads[i], .head_len = (size_t)len, .body = w->body,
                                  .len = size};
    }
}

static void test_pipelined_posts(void)
{
    char *url = xasprintf("http://us%%40er:p%%3Ass@127.0.0.1:%d/hook?x=1#frag", srv.port);
    char *err = NULL;
    h1pipe *p = h1pipe_new(url, "barge-test", 2000, &err);
    CHECK(p != NULL);
    window *w = xcalloc(1, sizeof *w);
    long seq = 0;
    atomic_store(&srv.mode, ANSWER);
    /* Windows of every size on one connection, bodies large enough to fill the socket (the
     * answers are read while the requests are written). */
    int total = 0;
    for (int n = 1; n <= H1PIPE_WINDOW_MAX; n *= 4) {
        fill(w, n, &seq, n == 64 ? 60000 : 1200, 0);
        int got = h1pipe_post(p, w->reqs, n, 5000);
        if (got != n) CHECK_FAIL_("window of %d: %d answered: %s", n, got, h1pipe_error(p));
        for (int i = 0; i < n; i++) CHECK(w->reqs[i].status == 200 || w->reqs[i].status == 204);
        total += n;
    }
    pthread_mutex_lock(&srv.mu);
    CHECK_EQ_INT(srv.requests, total);
    CHECK_EQ_INT(srv.bodies_ok, total);
    CHECK_EQ_INT(srv.out_of_order, 0);
    CHECK_STR(srv.request_line, "POST /hook?x=1 HTTP/1.1");
    /* "us@er:p:ss" in base64, as libcurl sends a URL's user information. */
    CHECK_STR(srv.authorization, "Basic dXNAZXI6cDpzcw==");
    pthread_mutex_unlock(&srv.mu);
    CHECK_EQ_INT(atomic_load(&srv.connections), 1);
    /* Each answer's status to its own request. */
    fill(w, 3, &seq, 10, 500);
    w->reqs[1].head_len = (size_t)snprintf(w->heads[1], sizeof w->heads[1],
                                           "X-Seq: %ld\r\nX-Fill: q\r\nX-Want: 201\r\n", seq - 1);
    CHECK_EQ_INT(h1pipe_post(p, w->reqs, 3, 5000), 3);
    CHECK_EQ_INT(w->reqs[0].status, 500);
    CHECK_EQ_INT(w->reqs[1].status, 201);
    CHECK_EQ_INT(w->reqs[2].status, 500);
    CHECK_EQ_INT(atomic_load(&srv.connections), 1);

    /* The server closes after its third answer: three answered, the rest not, and the next
     * call sends them on a new connection. */
    atomic_store(&srv.close_in, 3);
    atomic_store(&srv.mode, CLOSE_AFTER_3);
    fill(w, 8, &seq, 100, 0);
    CHECK_EQ_INT(h1pipe_post(p, w->reqs, 8, 5000), 3);
    CHECK_CONTAINS(h1pipe_error(p), "closed the connection after 3 of 8 answers");
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(w->reqs[i].status != 0, i < 3);
    atomic_store(&srv.mode, ANSWER);
    CHECK_EQ_INT(h1pipe_post(p, w->reqs + 3, 5, 5000), 5);
    CHECK_EQ_INT(atomic_load(&srv.connections), 2);

    /* A kept connection the server closed while idle: the window goes again, unseen. */
    atomic_store(&srv.mode, CLOSE_WHEN_IDLE);
    int closes = atomic_load(&srv.idle_closes);
    fill(w, 4, &seq, 100, 0);
    CHECK_EQ_INT(h1pipe_post(p, w->reqs, 4, 5000), 4);
    /* Until the server has closed it (50 ms idle), however long that takes it here. */
    struct timespec tick = {0, 10 * 1000000L};
    for (int i = 0; i < 1000 && atomic_load(&srv.idle_closes) == closes; i++)
        nanosleep(&tick, NULL);
    CHECK(atomic_load(&srv.idle_closes) > closes);
    int conns = atomic_load(&srv.connections);
    fill(w, 4, &seq, 100, 0);
    CHECK_EQ_INT(h1pipe_post(p, w->reqs, 4, 5000), 4);
    for (int i = 0; i < 4; i++) CHECK(w->reqs[i].status == 200 || w->reqs[i].status == 204);
    CHECK_EQ_INT(atomic_load(&srv.connections), conns + 1);
    /* Every request the server read came once and in order: nothing answered was sent again. */
    pthread_mutex_lock(&srv.mu);
    CHECK_EQ_INT(srv.out_of_order, 0);
    CHECK_EQ_INT(srv.last_seq, seq);
    pthread_mutex_unlock(&srv.mu);
    atomic_store(&srv.mode, ANSWER);
    h1pipe_free(p);
    free(w->body);
    free(w);
    free(url);
}

static void *wake_later(void *arg)
{
    struct timespec t = {0, 300 * 1000000L};
    nanosleep(&t, NULL);
    h1pipe_wake(arg);
    return NULL;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_a_server_that_never_answers(void)
{
    char *url = xasprintf("http://127.0.0.1:%d/", srv.port);
    char *err = NULL;
    h1pipe *p = h1pipe_new(url, NULL, 2000, &err);
    window *w = xcalloc(1, sizeof *w);
    long seq = 0;
    atomic_store(&srv.mode, HANG);
    fill(w, 2, &seq, 10, 0);
    double t0 = now_s();
    CHECK_EQ_INT(h1pipe_post(p, w->reqs, 2, 300), 0);
    CHECK(now_s() - t0 < 5);
    CHECK_CONTAINS(h1pipe_error(p), "no answer from 127.0.0.1 port");
    /* Woken from another thread: at once, and every call after. */
    pthread_t t;
    pthread_create(&t, NULL, wake_later, p);
    t0 = now_s();
    CHECK_EQ_INT(h1pipe_post(p, w->reqs, 2, 60000), 0);
    CHECK(now_s() - t0 < 10);
    CHECK_CONTAINS(h1pipe_error(p), "stopping");
    pthread_join(t, NULL);
    CHECK_EQ_INT(h1pipe_post(p, w->reqs, 2, 60000), 0);
    atomic_store(&srv.mode, ANSWER);
    h1pipe_free(p);

    /* Bytes that keep coming do not hold the window: each answer is whole in the time given
     * (a byte every 20 ms held it for ever, the wait made anew by each one). */
    p = h1pipe_new(url, NULL, 2000, &err);
    atomic_store(&srv.mode, DRIP);
    fill(w, 1, &seq, 10, 0);
    t0 = now_s();
    CHECK_EQ_INT(h1pipe_post(p, w->reqs, 1, 300), 0);
    CHECK(now_s() - t0 < 5);
    CHECK_CONTAINS(h1pipe_error(p), "no whole answer from 127.0.0.1 port");
    /* Nor do informational heads without end. */
    atomic_store(&srv.mode, ENDLESS_1XX);
    fill(w, 1, &seq, 10, 0);
    CHECK_EQ_INT(h1pipe_post(p, w->reqs, 1, 60000), 0);
    CHECK_CONTAINS(h1pipe_error(p), "more than 16 informational (1xx) heads");
    atomic_store(&srv.mode, ANSWER);
    h1pipe_free(p);
    free(w->body);
    free(w);
    free(url);
}

static void test_urls_and_connections_refused(void)
{
    char *err = NULL;
    CHECK(h1pipe_new("https://127.0.0.1/", NULL, 1000, &err) == NULL);
    CHECK_CONTAINS(err, "TLS");
    free(err);
    err = NULL;
    CHECK(h1pipe_new("http://:80/", NULL, 1000, &err) == NULL);
    CHECK_CONTAINS(err, "names no host");
    free(err);
    /* A port nothing listens on (this test's server's, closed). */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    char *url = xasprintf("http://[::ffff:127.0.0.1]:%d/x", ntohs(a.sin_port));
    close(fd);
    h1pipe *p = h1pipe_new(url, NULL, 1000, &err);
    CHECK(p != NULL);
    h1pipe_req r = {.head = "", .body = "x", .len = 1};
    CHECK_EQ_INT(h1pipe_post(p, &r, 1, 1000), 0);
    CHECK_CONTAINS(h1pipe_error(p), "cannot connect to ::ffff:127.0.0.1 port");
    CHECK_EQ_INT(r.status, 0);
    h1pipe_free(p);
    free(url);
}

int main(void)
{
    RUN(test_answers_in_a_row);
    RUN(test_answers_that_close);
    RUN(test_answers_cut_short);
    RUN(test_what_is_not_http);
    start_server();
    RUN(test_pipelined_posts);
    RUN(test_a_server_that_never_answers);
    RUN(test_urls_and_connections_refused);
    return 0;
}
