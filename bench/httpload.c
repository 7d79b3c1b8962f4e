/* httpload — a fixed number of HTTP/1.1 requests over keep-alive connections, timed one by one.
 *
 * wrk measures a rate over a duration; the benchmarks also need "exactly N requests, with C in
 * flight" (10,000 individual SubmitJobs), "N requests one after another, each timed"
 * (an array's SubmitJob, DescribeJobs at a million queued), and the jobIds the server answered.
 * One thread per connection, blocking sockets, TCP_NODELAY; the time of a request runs from its
 * first byte written to its last byte read.
 *
 * usage: httpload [-c CONNS] [-n TOTAL] [-r RATE] [-X METHOD] [-d BODY] [-i IDS] [-o OUT]
 *                 [-l LAT] URL
 *
 *   -r RATE  send at RATE requests a second in all, request N due N / RATE seconds after the
 *            start, whatever the answers before it (an open loop): its time then runs from when
 *            it was due, so a server that stalls is charged the requests that waited behind the
 *            stall too (timing from the write would leave them out).  CONNS must be enough to
 *            keep RATE up; without -r each connection sends as soon as its last answer came.
 *   -d BODY  request body; "{ID}" in it becomes a random line of the file IDS (-i), "{N}" the
 *            request's number (0-based)
 *   -o OUT   write the jobId of every 2xx answer to OUT, one a line
 *   -l LAT   write every request's latency in microseconds to LAT, one a line, in order of
 *            completion
 *   URL      http://HOST:PORT/PATH (loopback in practice; no TLS, no redirects)
 *
 * Prints one line:
 *   requests=N non2xx=N errors=N seconds=S per_second=R p50_ms=X p90_ms=X p99_ms=X max_ms=X
 *            first_ms=EPOCH last_ms=EPOCH
 * (first_ms and last_ms: wall-clock epoch milliseconds when the first request was sent and the
 * last answer read).  The exit status is 0 when every request got an answer, 2xx or not. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *host, *port, *path, *method, *body;
    char **ids;
    size_t n_ids;
    long total;
    double rate;  /* -r: requests a second in all (0: as fast as answers come) */
    double start; /* monotonic seconds when the first request was due */
    FILE *out, *lat;
} config;

static config cfg;
static atomic_long next_req, non2xx, errors;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    int id;
    long done;
    uint32_t *lat_us; /* this thread's latencies */
    size_t n_lat, cap_lat;
    unsigned rnd;
} worker;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(cfg.host, cfg.port, &hints, &ai) != 0) return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* The request's body with {ID} and {N} replaced. */
static size_t make_body(worker *w, long n, char *dst, size_t cap)
{
    size_t len = 0;
    for (const char *p = cfg.body; *p && len + 1 < cap;) {
        const char *sub = NULL;
        char num[24];
        size_t skip = 1;
        if (strncmp(p, "{ID}", 4) == 0 && cfg.n_ids) {
            sub = cfg.ids[rand_r(&w->rnd) % cfg.n_ids];
            skip = 4;
        } else if (strncmp(p, "{N}", 3) == 0) {
            snprintf(num, sizeof num, "%ld", n);
            sub = num;
            skip = 3;
        }
        if (sub) {
            size_t k = strlen(sub);
            if (len + k >= cap) break;
            memcpy(dst + len, sub, k);
            len += k;
        } else {
            dst[len++] = *p;
        }
        p += skip;
    }
    dst[len] = '\0';
    return len;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads one answer: its status, and its body into *body (malloc'd, NUL-terminated). */
static int read_answer(int fd, int *status, char **body)
{
    static __thread char *buf;
    static __thread size_t cap;
    if (!buf) {
        cap = 1 << 16;
        buf = malloc(cap);
    }
    size_t len = 0;
    char *eoh = NULL;
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        len += (size_t)k;
        buf[len] = '\0';
        if ((eoh = strstr(buf, "\r\n\r\n"))) break;
    }
    if (sscanf(buf, "HTTP/1.%*d %d", status) != 1) return -1;
    size_t clen = 0;
    for (char *h = strstr(buf, "\r\n"); h && h < eoh; h = strstr(h + 2, "\r\n")) {
        if (strncasecmp(h + 2, "Content-Length:", 15) == 0) clen = strtoul(h + 17, NULL, 10);
    }
    size_t head = (size_t)(eoh + 4 - buf);
    while (len < head + clen) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        len += (size_t)k;
    }
    *body = strndup(buf + head, clen);
    return 0;
}

static void keep_jobid(const char *body)
{
    const char *p = strstr(body, "\"jobId\":\"");
    if (!p) return;
    p += 9;
    const char *e = strchr(p, '"');
    if (!e) return;
    pthread_mutex_lock(&out_mu);
    fprintf(cfg.out, "%.*s\n", (int)(e - p), p);
    pthread_mutex_unlock(&out_mu);
}

static void *run(void *arg)
{
    worker *w = arg;
    int fd = -1;
    size_t cap = strlen(cfg.body) * 2 + 4096;
    char *body = malloc(cap), *req = malloc(cap + 512);
    for (;;) {
        long n = atomic_fetch_add(&next_req, 1);
        if (n >= cfg.total) break;
        size_t blen = make_body(w, n, body, cap);
        int rlen = snprintf(req, cap + 512,
                            "%s %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n%s",
                            cfg.method, cfg.path, cfg.host, cfg.port, blen, body);
        int status = 0;
        char *answer = NULL;
        double t0 = 0, due = 0;
        int ok = 0;
        if (cfg.rate > 0) {
            due = cfg.start + (double)n / cfg.rate;
            double wait = due - mono_s();
            if (wait > 0) {
                struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
                }
            }
        }
        for (int attempt = 0; attempt < 2 && !ok; attempt++) {
            if (fd < 0 && (fd = dial()) < 0) break;
            t0 = due > 0 ? due : mono_s();
            if (write_all(fd, req, (size_t)rlen) == 0 && read_answer(fd, &status, &answer) == 0)
                ok = 1;
            else {
                /* A keep-alive connection the server closed: one more try on a new one. */
                close(fd);
                fd = -1;
            }
        }
        double dt = mono_s() - t0;
        if (!ok) {
            atomic_fetch_add(&errors, 1);
            continue;
        }
        if (status < 200 || status > 299) {
            if (atomic_fetch_add(&non2xx, 1) < 3)
                fprintf(stderr, "httpload: HTTP %d: %.300s\n", status, answer);
        } else if (cfg.out) {
            keep_jobid(answer);
        }
        free(answer);
        if (w->n_lat == w->cap_lat) {
            w->cap_lat = w->cap_lat ? w->cap_lat * 2 : 1024;
            w->lat_us = realloc(w->lat_us, w->cap_lat * sizeof *w->lat_us);
        }
        w->lat_us[w->n_lat++] = (uint32_t)(dt * 1e6);
        if (cfg.lat) {
            pthread_mutex_lock(&out_mu);
            fprintf(cfg.lat, "%u\n", (unsigned)(dt * 1e6));
            pthread_mutex_unlock(&out_mu);
        }
        w->done++;
    }
    if (fd >= 0) close(fd);
    free(body);
    free(req);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double p)
{
    if (!n) return 0;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i] / 1000.0;
}

static char **load_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char **v = NULL, line[512];
    size_t cap = 0;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof *v);
        }
        v[(*n)++] = strdup(line);
    }
    fclose(f);
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: httpload [-c CONNS] [-n TOTAL] [-r RATE] [-X METHOD] [-d BODY] "
                    "[-i IDS] [-o OUT] [-l LAT] http://HOST:PORT/PATH\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int conns = 1;
    cfg.total = 1;
    cfg.method = "GET";
    cfg.body = "";
    const char *ids = NULL, *out = NULL, *lat = NULL;
    int o;
    while ((o = getopt(argc, argv, "c:n:r:X:d:i:o:l:")) != -1) {
        switch (o) {
        case 'c': conns = atoi(optarg); break;
        case 'n': cfg.total = atol(optarg); break;
        case 'r': cfg.rate = atof(optarg); break;
        case 'X': cfg.method = optarg; break;
        case 'd': cfg.body = optarg; break;
        case 'i': ids = optarg; break;
        case 'o': out = optarg; break;
        case 'l': lat = optarg; break;
        default: usage();
        }
    }
    if (optind + 1 != argc || conns < 1 || cfg.total < 1 || cfg.rate < 0) usage();
    /* http://HOST:PORT/PATH */
    const char *url = argv[optind];
    if (strncmp(url, "http://", 7) != 0) usage();
    char *hp = strdup(url + 7), *slash = strchr(hp, '/');
    cfg.path = slash ? strdup(slash) : "/";
    if (slash) *slash = '\0';
    char *colon = strrchr(hp, ':');
    if (!colon) usage();
    *colon = '\0';
    cfg.host = hp;
    cfg.port = colon + 1;
    if (ids && !(cfg.ids = load_lines(ids, &cfg.n_ids))) {
        fprintf(stderr, "httpload: cannot read %s\n", ids);
        return 2;
    }
    if (out && !(cfg.out = fopen(out, "w"))) {
        fprintf(stderr, "httpload: cannot write %s\n", out);
        return 2;
    }
    if (lat && !(cfg.lat = fopen(lat, "w"))) {
        fprintf(stderr, "httpload: cannot write %s\n", lat);
        return 2;
    }
    if (conns > cfg.total) conns = (int)cfg.total;
    worker *ws = calloc((size_t)conns, sizeof *ws);
    pthread_t *th = calloc((size_t)conns, sizeof *th);
    long long first = wall_ms();
    double t0 = mono_s();
    cfg.start = t0 + 0.01; /* the connections are being made meanwhile */
    for (int i = 0; i < conns; i++) {
        ws[i].id = i;
        ws[i].rnd = (unsigned)(time(NULL) ^ (i * 2654435761u));
        pthread_create(&th[i], NULL, run, &ws[i]);
    }
    size_t n = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        n += ws[i].n_lat;
    }
    double secs = mono_s() - t0;
    long long last = wall_ms();
    uint32_t *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, ws[i].lat_us, ws[i].n_lat * sizeof *all);
        k += ws[i].n_lat;
    }
    qsort(all, n, sizeof *all, cmp_u32);
    printf("requests=%zu non2xx=%ld errors=%ld seconds=%.3f per_second=%.1f p50_ms=%.3f "
           "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f first_ms=%lld last_ms=%lld\n",
           n, atomic_load(&non2xx), atomic_load(&errors), secs, (double)n / secs,
           pct(all, n, 50), pct(all, n, 90), pct(all, n, 99), n ? all[n - 1] / 1000.0 : 0.0,
           first, last);
    if (cfg.out) fclose(cfg.out);
    if (cfg.lat) fclose(cfg.lat);
    return atomic_load(&errors) ? 1 : 0;
}
