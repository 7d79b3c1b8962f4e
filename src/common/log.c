#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int log_level = LOG_INFO;

void log_msg(int level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < log_level) return;
    char line[2048], stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One line a record: a library's words (libpq's end with a newline, some hold several
     * lines) are joined, a line break and the blanks after it one space, or none before the
     * end or a ';' or ','. */
    char *o = line;
    for (const char *p = line; *p; p++) {
        if (*p != '\n' && *p != '\r') {
            *o++ = *p;
            continue;
        }
        while (p[1] == '\n' || p[1] == '\r' || p[1] == ' ' || p[1] == '\t') p++;
        if (p[1] && p[1] != ';' && p[1] != ',' && o > line && o[-1] != ' ') *o++ = ' ';
    }
    *o = '\0';
    /* One fprintf per line keeps lines from different threads whole. */
    fprintf(stderr, "%s.%03ldZ %s %s\n", stamp, ts.tv_nsec / 1000000, names[level], line);
}

void log_limitedv(log_limit *l, int64_t period_ms, int level, const char *fmt, va_list ap)
{
    if (level < log_level) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    pthread_mutex_lock(&l->mu);
    long held = -1;
    if (!l->said_ms || now - l->said_ms >= period_ms) {
        held = l->held;
        l->held = 0;
        l->said_ms = now;
    } else {
        l->held++;
    }
    pthread_mutex_unlock(&l->mu);
    if (held < 0) return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    if (held)
        log_msg(level, "%s (and %ld more line%s of this kind held back since the last one)",
                line, held, held == 1 ? "" : "s");
    else
        log_msg(level, "%s", line);
}

void log_limited(log_limit *l, int64_t period_ms, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_limitedv(l, period_ms, level, fmt, ap);
    va_end(ap);
}

void log_vline(char *out, size_t size, const char *fmt, va_list ap)
{
    vsnprintf(out, size, fmt, ap);
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n') out[--n] = '\0';
}

void log_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "barge: assertion failed at %s:%d: %s\n", file, line, what);
    abort();
}
