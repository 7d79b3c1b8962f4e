/* log — timestamped lines on stderr.  The server is a foreground process; its supervisor keeps
 * the stream. */
#ifndef BARGE_LOG_H
#define BARGE_LOG_H

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
extern int log_level;

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Always-on invariant check: a broken invariant stops the process with file and line. */
#define BARGE_ASSERT(c) \
    do { \
        if (!(c)) log_panic(__FILE__, __LINE__, #c); \
    } while (0)
void log_panic(const char *file, int line, const char *what) __attribute__((noreturn));
#endif
