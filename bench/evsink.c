/* evsink — what follows a server's events in figure 1 (bench/run.py): a webhook target that
 * takes every POST over keep-alive connections, and Server-Sent Events streams read to the end,
 * as receivers on other machines would.  Written in C so that on a machine of two cores the
 * followers take little of the CPU the server is measured with; and it counts what each
 * follower received, so that the benchmark can tell whether they kept up.
 *
 * usage: evsink
 *
 * Listens on 127.0.0.1 (a port of the kernel's choice) for the webhook's POSTs, answers each
 * 204, and prints "PORT N" once ready.  Then reads commands on stdin, a line each:
 *   follow HOST:PORT   follows the stream of that server (GET /barge/v1/events) from its next
 *                      event, and answers "ok" once the request is sent (twice: two streams)
 *   stat               answers with one line:
 *                      webhook=N webhook_last=SEQ sse0=N sse0_last=SEQ sse0_gaps=G ...
 * (events received, and the highest event id seen: X-Barge-Event-Id (and -Count, for a batch)
 * for the webhook, the "id:" lines of a stream; and a stream's gaps, each a run of events it
 * fell too far behind to read).  Ends when stdin ends. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_STREAMS 8

typedef struct follower {
    atomic_long count;
    atomic_ullong last;
    atomic_long gaps; /* a stream's "event: gap": events it fell too far behind to read */
} follower;

static follower hook;
static follower streams[MAX_STREAMS];
static const char *stream_addr[MAX_STREAMS];
static int n_streams;
/* Streams whose request is sent (or that could not connect). */
static int sent;
static pthread_mutex_t sent_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sent_cv = PTHREAD_COND_INITIALIZER;

static void bump(follower *f, unsigned long long seq, long n)
{
    atomic_fetch_add(&f->count, n);
    unsigned long long was = atomic_load(&f->last);
    while (seq > was && !atomic_compare_exchange_weak(&f->last, &was, seq)) {
    }
}

static int dial(const char *hostport)
{
    char host[256];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon) return -1;
    *colon = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* A stream's lines, from its data as the chunked encoding hands it over: only a line's start
 * matters ("id: SEQ"). */
typedef struct lines {
    char line[64];
    size_t n;
} lines;

static void take(lines *l, follower *f, const char *p, size_t len)
{
    /* A consumer's own work is not what is measured: lines are found with memchr and only
     * their first bytes copied, so the sink costs the machine little beside the server. */
    while (len) {
        const char *nl = memchr(p, '\n', len);
        size_t n = nl ? (size_t)(nl - p) : len;
        if (l->n < sizeof l->line - 1) {
            size_t room = sizeof l->line - 1 - l->n, c = n < room ? n : room;
            memcpy(l->line + l->n, p, c);
            l->n += c;
        }
        if (!nl) return;
        l->line[l->n] = '\0';
        if (strncmp(l->line, "id: ", 4) == 0) bump(f, strtoull(l->line + 4, NULL, 10), 1);
        else if (strcmp(l->line, "event: gap") == 0) atomic_fetch_add(&f->gaps, 1);
        l->n = 0;
        p = nl + 1;
        len -= n + 1;
    }
}

/* Reads one stream to its end, counting its events by their "id:" lines. */
static void *follow(void *arg)
{
    int i = (int)(intptr_t)arg;
    int fd = dial(stream_addr[i]);
    if (fd < 0) {
        fprintf(stderr, "evsink: cannot connect to %s\n", stream_addr[i]);
        pthread_mutex_lock(&sent_mu);
        sent++;
        pthread_cond_signal(&sent_cv);
        pthread_mutex_unlock(&sent_mu);
        return NULL;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /barge/v1/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n",
                     stream_addr[i]);
    int wrote = write(fd, req, (size_t)n) == n;
    pthread_mutex_lock(&sent_mu);
    sent++;
    pthread_cond_signal(&sent_cv);
    pthread_mutex_unlock(&sent_mu);
    if (!wrote) {
        close(fd);
        return NULL;
    }
    /* The answer's head, then chunks: a size line in hex, that many bytes, a CRLF. */
    enum { HEAD, SIZE, DATA, TRAIL } st = HEAD;
    char hex[32];
    size_t hn = 0, left = 0, matched = 0;
    lines l = {.n = 0};
    static __thread char b[1 << 16];
    ssize_t got;
    while ((got = read(fd, b, sizeof b)) > 0) {
        for (size_t k = 0; k < (size_t)got;) {
            char ch = b[k];
            if (st == HEAD) {
                matched = ch == "\r\n\r\n"[matched] ? matched + 1 : ch == '\r';
                k++;
                if (matched == 4) st = SIZE;
            } else if (st == SIZE) {
                k++;
                if (ch == '\n') {
                    hex[hn < sizeof hex ? hn : sizeof hex - 1] = '\0';
                    left = strtoul(hex, NULL, 16);
                    hn = 0;
                    if (!left) goto out; /* the last chunk */
                    st = DATA;
                } else if (hn < sizeof hex - 1) {
                    hex[hn++] = ch;
                }
            } else if (st == DATA) {
                size_t take_n = (size_t)got - k < left ? (size_t)got - k : left;
                take(&l, &streams[i], b + k, take_n);
                k += take_n;
                left -= take_n;
                if (!left) {
                    st = TRAIL;
                    matched = 0;
                }
            } else { /* the CRLF after a chunk */
                k++;
                if (ch == '\n') st = SIZE;
            }
        }
    }
out:
    close(fd);
    return NULL;
}

static const char ok[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";

/* Writes the answers owed (pending of them) at once; 0, or -1 when the connection is gone. */
static int answer(int fd, int *pending)
{
    static __thread char out[64 * (sizeof ok - 1)];
    while (*pending) {
        int n = *pending < 64 ? *pending : 64;
        for (int i = 0; i < n; i++) memcpy(out + i * (sizeof ok - 1), ok, sizeof ok - 1);
        size_t len = (size_t)n * (sizeof ok - 1);
        if (write(fd, out, len) != (ssize_t)len) return -1;
        *pending -= n;
    }
    return 0;
}

/* One webhook connection: requests one after the other (keep-alive), each answered 204; the
 * answers to pipelined requests (all read at once) written together, as a server that takes
 * pipelining well does, before the next read. */
static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static __thread char b[1 << 20];
    size_t have = 0;
    int pending = 0;
    for (;;) {
        char *end = have ? memmem(b, have, "\r\n\r\n", 4) : NULL;
        if (!end) {
            if (answer(fd, &pending) < 0) break;
            if (have == sizeof b - 1) break;
            ssize_t got = read(fd, b + have, sizeof b - 1 - have);
            if (got <= 0) break;
            have += (size_t)got;
            continue;
        }
        size_t head = (size_t)(end - b) + 4;
        b[head - 2] = '\0';
        long len = 0, count = 1;
        unsigned long long seq = 0;
        for (char *l = strstr(b, "\r\n"); l && l < b + head - 2; l = strstr(l + 2, "\r\n")) {
            if (strncasecmp(l + 2, "Content-Length:", 15) == 0) len = strtol(l + 17, NULL, 10);
            if (strncasecmp(l + 2, "X-Barge-Event-Id:", 17) == 0)
                seq = strtoull(l + 19, NULL, 10);
            if (strncasecmp(l + 2, "X-Barge-Event-Count:", 20) == 0)
                count = strtol(l + 22, NULL, 10);
        }
        /* The body: read past and dropped. */
        size_t need = head + (size_t)len;
        while (have < need) {
            size_t room = sizeof b - 1 - have;
            if (!room) { /* larger than the buffer: what is in it is dropped */
                need -= have;
                have = 0;
                room = sizeof b - 1;
            }
            if (answer(fd, &pending) < 0) goto out;
            ssize_t got = read(fd, b + have, need - have < room ? need - have : room);
            if (got <= 0) goto out;
            have += (size_t)got;
        }
        bump(&hook, seq, count);
        pending++;
        memmove(b, b + need, have - need);
        have -= need;
    }
out:
    close(fd);
    return NULL;
}

static void *accepter(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 2u << 20);
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)fd) != 0) close(fd);
        pthread_attr_destroy(&at);
    }
    return NULL;
}

int main(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
        perror("evsink: listen");
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, accepter, (void *)(intptr_t)lfd);
    printf("PORT %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "follow ", 7) == 0 && n_streams < MAX_STREAMS) {
            int i = n_streams++;
            stream_addr[i] = strdup(line + 7);
            pthread_mutex_lock(&sent_mu);
            pthread_create(&t, NULL, follow, (void *)(intptr_t)i);
            while (sent <= i) pthread_cond_wait(&sent_cv, &sent_mu);
            pthread_mutex_unlock(&sent_mu);
            printf("ok\n");
            fflush(stdout);
            continue;
        }
        printf("webhook=%ld webhook_last=%llu", atomic_load(&hook.count),
               (unsigned long long)atomic_load(&hook.last));
        for (int i = 0; i < n_streams; i++)
            printf(" sse%d=%ld sse%d_last=%llu sse%d_gaps=%ld", i, atomic_load(&streams[i].count),
                   i, (unsigned long long)atomic_load(&streams[i].last), i,
                   atomic_load(&streams[i].gaps));
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
