#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/mem.h"

int64_t util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_iso_time(int64_t secs, char out[UTIL_ISO_TIME_LEN])
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, UTIL_ISO_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
}

int util_thread_nice(int steps)
{
    id_t tid = (id_t)gettid();
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (now == -1 && errno) return -1;
    return setpriority(PRIO_PROCESS, tid, now + steps);
}

int64_t util_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t util_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

struct timespec util_mono_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Random bytes come from the kernel a page at a time: a system call per identifier would
 * cost more than the rest of a SubmitJob. */
static __thread unsigned char pool[4096];
static __thread size_t pool_left;

static void random_bytes(unsigned char *b, size_t n)
{
    if (pool_left < n) {
        size_t got = 0;
        while (got < sizeof pool) {
            ssize_t r = getrandom(pool + got, sizeof pool - got, 0);
            if (r > 0) got += (size_t)r;
        }
        pool_left = sizeof pool;
    }
    memcpy(b, pool + sizeof pool - pool_left, n);
    pool_left -= n;
}

void util_uuid(char out[37])
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

void util_sorted_id(char out[33])
{
    unsigned char b[16];
    uint64_t ms = (uint64_t)util_now_ms();
    for (int i = 0; i < 6; i++) b[i] = (unsigned char)(ms >> (8 * (5 - i)));
    random_bytes(b + 6, 10);
    util_hex(b, sizeof b, out);
}

void util_hex(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[s[i] >> 4];
        out[2 * i + 1] = digits[s[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int util_unhex_bytes(const char *s, void *out, size_t n)
{
    if (!s || strlen(s) != 2 * n) return -1;
    unsigned char *o = out;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

char *util_base64(const void *p, size_t n)
{
    unsigned char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock(out, p, (int)n);
    return (char *)out;
}

char *util_unhex(const char *s)
{
    size_t n = strlen(s);
    if (n % 2) return NULL;
    char *out = xmalloc(n / 2 + 1);
    /* A string: a zero byte inside would cut it short without a word. */
    if (util_unhex_bytes(s, out, n / 2) != 0 || memchr(out, '\0', n / 2)) {
        free(out);
        return NULL;
    }
    out[n / 2] = '\0';
    return out;
}

/* The length of the well-formed UTF-8 sequence at p (1 to 4), or 0.  Overlong forms, surrogates
 * and code points past U+10FFFF are refused, as JSON parsers (jansson included) refuse them. */
size_t util_utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte */
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

size_t util_utf8_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p) {
        size_t len = util_utf8_len(p);
        p += len ? len : 1;
        n++;
    }
    return n;
}

long util_raise_open_files(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) < 0) return 1024;
    rlim_t want = r.rlim_max == RLIM_INFINITY || r.rlim_max > 65536 ? 65536 : r.rlim_max;
    if (r.rlim_cur < want) {
        r.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    return (long)r.rlim_cur;
}

int util_instance_id_ok(const char *id)
{
    size_t n = strlen(id);
    int ok = n >= 1 && n <= UTIL_INSTANCE_ID_MAX;
    for (const char *p = id; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
    return ok;
}

void util_utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = util_utf8_len(p);
        if (n == 0) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

void util_utf8_cut(char *s)
{
    size_t len = strlen(s);
    /* A character cut short is its lead byte and up to two continuation bytes at the end. */
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned char c = (unsigned char)s[len - back];
        if ((c & 0xc0) == 0x80) continue;
        size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (need > back) s[len - back] = '\0';
        break;
    }
    util_utf8_scrub(s);
}

char *util_utf8_repair(const char *s, size_t len, size_t *out_len)
{
    /* The copy ends in a NUL, where util_utf8_len stops a sequence cut at the end. */
    char *in = xmalloc(len + 1);
    memcpy(in, s, len);
    in[len] = '\0';
    size_t bad = 0;
    for (size_t i = 0; i < len;) {
        size_t n = util_utf8_len((const unsigned char *)in + i);
        bad += n == 0;
        i += n ? n : 1;
    }
    if (!bad) {
        *out_len = len;
        return in;
    }
    char *out = xmalloc(len + 2 * bad + 1), *o = out;
    for (size_t i = 0; i < len;) {
        size_t n = util_utf8_len((const unsigned char *)in + i);
        if (n) {
            memcpy(o, in + i, n);
            o += n;
            i += n;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    *out_len = (size_t)(o - out);
    free(in);
    return out;
}

/* How deep a walk goes before it moves what is deeper up to the tree's top (remove_at), so
 * that it holds at most this many descriptors however deep a job nested its directories. */
#define REMOVE_DEPTH_MAX 64

typedef struct tree_walk {
    dev_t dev;           /* the tree's filesystem: another one mounted inside is left */
    int top;             /* the tree's top directory */
    unsigned long moved; /* directories moved up to it */
    unsigned long names; /* names tried for them */
} tree_walk;

/* A directory's descriptor for reading, from its O_PATH descriptor pfd (closed): opened up
 * first when the job made it unreadable or unwritable, by the descriptor's name in /proc,
 * which is the directory itself, whatever its path is now.  -1 when it cannot be read. */
static int open_dir(int pfd, const struct stat *st)
{
    if ((st->st_mode & S_IRWXU) != S_IRWXU) {
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", pfd);
        chmod(self, (st->st_mode & 07777) | S_IRWXU);
    }
    int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(pfd);
    return fd;
}

static void remove_at(tree_walk *w, int parent, const char *name, int depth);

/* Removes what the directory fd (taken) holds. */
static void remove_entries(tree_walk *w, int fd, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_at(w, dirfd(d), e->d_name, depth + 1);
    closedir(d);
}

/* Removes name in the directory parent, a directory with everything in it.  Each step goes
 * through descriptors, never a path, and never through a symbolic link: a process the job left
 * behind may swap a directory for a link to /etc while the tree goes, and a walk by paths
 * (nftw) would then chmod and unlink there, as root. */
static void remove_at(tree_walk *w, int parent, const char *name, int depth)
{
    int pfd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (pfd < 0 || fstat(pfd, &st) < 0) {
        if (pfd >= 0) close(pfd);
        return;
    }
    if (!S_ISDIR(st.st_mode) || st.st_dev != w->dev) {
        close(pfd);
        if (!S_ISDIR(st.st_mode)) unlinkat(parent, name, 0);
        return;
    }
    if (depth >= REMOVE_DEPTH_MAX) {
        /* Moved up to the top, whose next pass goes on with it. */
        close(pfd);
        /* Counted only when moved: a filesystem that cannot rename so (EINVAL) ends the
         * passes, with what is deeper left, rather than passing for ever. */
        char up[48];
        for (int tries = 0; tries < 100; tries++) {
            snprintf(up, sizeof up, ".deeper-%lu", ++w->names);
            if (renameat2(parent, name, w->top, up, RENAME_NOREPLACE) == 0) {
                w->moved++;
                break;
            }
            if (errno != EEXIST) break;
        }
        return;
    }
    int fd = open_dir(pfd, &st);
    if (fd >= 0) remove_entries(w, fd, depth);
    unlinkat(parent, name, AT_REMOVEDIR);
}

void util_remove_tree(const char *path)
{
    int pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (pfd < 0 || fstat(pfd, &st) < 0) {
        if (pfd >= 0) close(pfd);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        close(pfd);
        unlink(path);
        return;
    }
    tree_walk w = {.dev = st.st_dev, .top = open_dir(pfd, &st)};
    if (w.top < 0) return;
    /* A pass, then another while the last one moved directories up. */
    for (unsigned long before = (unsigned long)-1; before != w.moved;) {
        before = w.moved;
        int fd = openat(w.top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) break;
        remove_entries(&w, fd, 0);
    }
    close(w.top);
    rmdir(path);
}

int util_make_dirs(const char *path, unsigned mode)
{
    char *p = xstrdup(path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    free(p);
    if (mkdir(path, (mode_t)mode) == 0) return 1;
    return errno == EEXIST ? 0 : -1;
}

char *util_read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
    fclose(f);
    if (!b.data) buf_puts(&b, "");
    return b.data;
}

/* open(2) of a regular file, or -1 with *why (util_open_regular's phrases). */
static int open_regular(const char *path, const char **why, char *text, size_t size)
{
    /* O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(text, size, "cannot be read: %s", strerror(errno));
        *why = text;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *why = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)
                   ? "is a directory, not a file"
                   : "is not a regular file (it is a device, a pipe or a socket): give a file";
        close(fd);
        return -1;
    }
    /* Back to blocking reads, as fopen's. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

FILE *util_open_regular(const char *path, const char **why)
{
    static __thread char text[160];
    int fd = open_regular(path, why, text, sizeof text);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        snprintf(text, sizeof text, "cannot be read: %s", strerror(errno));
        *why = text;
        close(fd);
    }
    return f;
}

char *util_read_secret_file(const char *path, size_t max, size_t *len, unsigned *mode,
                            const char **why)
{
    static __thread char text[160];
    int fd = open_regular(path, why, text, sizeof text);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(text, sizeof text, "cannot be read: %s", strerror(errno));
        *why = text;
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > max) {
        snprintf(text, sizeof text, "is over %zu %s, far more than such a file holds: give the "
                 "right file", max >= (1u << 20) ? max >> 20 : max,
                 max >= (1u << 20) ? "MiB" : "bytes");
        *why = text;
        close(fd);
        return NULL;
    }
    /* One byte more than the size, to tell a file that grew since fstat; one for the NUL. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *b = xmalloc(cap + 1);
    const char *failed = NULL;
    while (!failed) {
        ssize_t got = read(fd, b + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            snprintf(text, sizeof text, "cannot be read: %s", strerror(errno));
            failed = text;
        } else if (got == 0) {
            break;
        } else if ((n += (size_t)got) == cap) {
            failed = "changed while it was read: try again once it is written";
        }
    }
    close(fd);
    if (failed) {
        util_secret_free(b, n);
        *why = failed;
        return NULL;
    }
    b[n] = '\0';
    *len = n;
    if (mode) *mode = (unsigned)(st.st_mode & 07777);
    return b;
}

void util_secret_free(char *p, size_t len)
{
    if (!p) return;
    explicit_bzero(p, len);
    free(p);
}

char *util_next_line(char **at, char *end, size_t *len)
{
    char *line = *at;
    if (line >= end) return NULL;
    char *nl = memchr(line, '\n', (size_t)(end - line));
    char *stop = nl ? nl : end;
    *stop = '\0'; /* end itself is the text's own NUL */
    *len = (size_t)(stop - line);
    *at = nl ? nl + 1 : end;
    return line;
}

size_t util_http_scheme_len(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 ? 7 : strncasecmp(url, "https://", 8) == 0 ? 8 : 0;
}

char *util_http_scheme_lower(char *url)
{
    size_t n = util_http_scheme_len(url);
    for (size_t i = 0; i + 3 < n; i++) url[i] = (char)tolower((unsigned char)url[i]);
    return url;
}

const char *util_http_url_problem(const char *url, size_t len)
{
    size_t skip = len >= 7 ? util_http_scheme_len(url) : 0;
    if (skip > len) skip = 0;
    if (!skip) return "is not an http:// or https:// URL";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return "holds a space or a control character";
    const char *a = url + skip, *end = url + len;
    const char *stop = a;
    while (stop < end && !strchr("/?#", *stop)) stop++;
    for (const char *p = a; p < stop; p++)
        if (*p == '@') a = p + 1; /* user:password@ */
    const char *port = NULL;
    if (a < stop && *a == '[') {
        const char *close = memchr(a, ']', (size_t)(stop - a));
        if (!close) return "has an IPv6 address without its closing ']'";
        if (close == a + 1) return "names no host";
        if (close + 1 < stop && close[1] != ':') return "has something between ']' and the port";
        if (close + 1 < stop) port = close + 2;
    } else {
        const char *colon = memchr(a, ':', (size_t)(stop - a));
        if (colon == a || a == stop) return "names no host";
        if (colon) port = colon + 1;
    }
    if (port) {
        long n = 0;
        const char *p = port;
        for (; p < stop && *p >= '0' && *p <= '9' && n <= 65535; p++) n = n * 10 + (*p - '0');
        if (p != stop || p == port || n < 1 || n > 65535)
            return "has a port that is not 1 to 65535";
    }
    return NULL;
}

int util_process_alive(long pid)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    char *text = util_read_file(path);
    if (!text) return 0;
    const char *paren = strrchr(text, ')');
    int zombie = paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
    free(text);
    return !zombie;
}

int util_pid_view(char out[UTIL_PID_VIEW_MAX])
{
    char *boot = util_read_file("/proc/sys/kernel/random/boot_id");
    struct stat ns;
    int ok = boot && stat("/proc/self/ns/pid", &ns) == 0;
    if (ok) {
        boot[strcspn(boot, "\n")] = '\0';
        ok = snprintf(out, UTIL_PID_VIEW_MAX, "%.40s/%llu", boot,
                      (unsigned long long)ns.st_ino) < UTIL_PID_VIEW_MAX;
    }
    free(boot);
    if (!ok) out[0] = '\0';
    return ok ? 0 : -1;
}

unsigned long long util_process_start(long pid)
{
    if (pid <= 0) return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    char *text = util_read_file(path);
    if (!text) return 0;
    /* After the command's closing parenthesis: state (field 3), then fields 4 to 22. */
    const char *p = strrchr(text, ')');
    unsigned long long start = 0;
    if (p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X') {
        p += 2;
        for (int field = 3; field < 22 && p; field++) {
            p = strchr(p, ' ');
            if (p) p++;
        }
        if (p) start = strtoull(p, NULL, 10);
    }
    free(text);
    return start;
}

int util_signal_parse(const char *s)
{
    if (!s || !*s) return -1;
    char *end;
    if (isdigit((unsigned char)*s)) {
        long n = strtol(s, &end, 10);
        return *end || n < 1 || n >= NSIG ? -1 : (int)n;
    }
    if (strncasecmp(s, "SIG", 3) == 0) s += 3;
    /* Real-time signals are counted from either end of their range. */
    int rt_base = strncasecmp(s, "RTMIN", 5) == 0 ? SIGRTMIN : strncasecmp(s, "RTMAX", 5) == 0
                                                                    ? SIGRTMAX
                                                                    : 0;
    if (rt_base) {
        if (!s[5]) return rt_base;
        if ((s[5] != '+' && s[5] != '-') || !isdigit((unsigned char)s[6])) return -1;
        long n = strtol(s + 6, &end, 10);
        if (*end) return -1;
        long sig = s[5] == '+' ? rt_base + n : rt_base - n;
        return sig < SIGRTMIN || sig > SIGRTMAX ? -1 : (int)sig;
    }
    for (int sig = 1; sig < SIGRTMIN; sig++) {
        const char *name = sigabbrev_np(sig);
        if (name && strcasecmp(name, s) == 0) return sig;
    }
    return -1;
}
