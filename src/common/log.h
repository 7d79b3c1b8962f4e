/* log — timestamped lines on stderr.  The server is a foreground process; its supervisor keeps
 * the stream. */
#ifndef BARGE_LOG_H
#define BARGE_LOG_H
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
extern int log_level;

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Lines of one kind that others can cause at will (what libmicrohttpd says of each connection
 * a client drops or the server refuses): at most one a period, the lines held back meanwhile
 * counted in the next one said, so that a client (or a job) cannot fill the log's disk. */
typedef struct log_limit {
    pthread_mutex_t mu;
    int64_t said_ms; /* monotonic; 0: never */
    long held;
} log_limit;
#define LOG_LIMIT_INIT {PTHREAD_MUTEX_INITIALIZER, 0, 0}
void log_limited(log_limit *l, int64_t period_ms, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_limitedv(log_limit *l, int64_t period_ms, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* A library's message (fmt and ap, as libmicrohttpd's logger is given them) formatted into
 * out, without its trailing newlines, for log_msg or log_limited to say. */
void log_vline(char *out, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* Always-on invariant check: a broken invariant stops the process with file and line. */
#define BARGE_ASSERT(c) \
    do { \
        if (!(c)) log_panic(__FILE__, __LINE__, #c); \
    } while (0)
void log_panic(const char *file, int line, const char *what) __attribute__((noreturn));
#endif
