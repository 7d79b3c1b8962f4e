/* Unit tests for common/log: lines a client can cause at will said at most once a period, with a
 * count of those held back, and a library's messages without their trailing newlines. */
#include <stdarg.h>
#include <unistd.h>

#include "check.h"
#include "common/log.h"

/* What the log said (stderr) while fn ran. */
static char *captured(void (*fn)(void))
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    CHECK(tmp != NULL);
    int saved = dup(STDERR_FILENO);
    CHECK(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    fn();
    fflush(stderr);
    CHECK(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    long n = ftell(tmp);
    if (n < 0) n = 0;
    char *text = calloc(1, (size_t)n + 1);
    rewind(tmp);
    CHECK(fread(text, 1, (size_t)n, tmp) == (size_t)n);
    fclose(tmp);
    return text;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

static log_limit limit = LOG_LIMIT_INIT;

/* A period no run outlasts, however slow the machine (or valgrind): one line. */
static void flood(void)
{
    for (int i = 0; i < 1000; i++) log_limited(&limit, 3600 * 1000, LOG_WARN, "dropped %d", i);
}

/* A period of 0 has always elapsed: the next line is said, with what was held back. */
static void after_the_period(void)
{
    log_limited(&limit, 0, LOG_WARN, "dropped again");
}

static void test_limited_lines_say_what_they_held_back(void)
{
    char *first = captured(flood);
    CHECK_EQ_INT(count(first, "dropped"), 1);
    CHECK_CONTAINS(first, "dropped 0");
    char *next = captured(after_the_period);
    CHECK_CONTAINS(next, "dropped again (and 999 more lines of this kind held back");
    CHECK_EQ_INT(count(next, "\n"), 1);
    free(first);
    free(next);
}

static void vline(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void vline(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vline(out, size, fmt, ap);
    va_end(ap);
}

static void test_a_librarys_line_loses_its_newlines(void)
{
    char line[32];
    vline(line, sizeof line, "Connection %s closed.\n\n", "was");
    CHECK_STR(line, "Connection was closed.");
    vline(line, sizeof line, "%s", "\n");
    CHECK_STR(line, "");
    /* Cut to the buffer, still a string. */
    vline(line, 8, "%s", "a long message\n");
    CHECK_STR(line, "a long ");
}

/* A record is one line: libpq's "FATAL: ...\n; trying" and its several lines are joined. */
static void several_lines(void)
{
    log_msg(LOG_WARN, "cannot renew: %s; trying every %d ms",
            "server closed the connection unexpectedly\n\tThis probably means the server "
            "terminated abnormally\n", 1000);
}

static void test_a_record_is_one_line(void)
{
    char *text = captured(several_lines);
    CHECK_EQ_INT(count(text, "\n"), 1);
    CHECK_CONTAINS(text, "unexpectedly This probably means the server terminated abnormally; "
                         "trying every 1000 ms");
    free(text);
}

int main(void)
{
    RUN(test_limited_lines_say_what_they_held_back);
    RUN(test_a_librarys_line_loses_its_newlines);
    RUN(test_a_record_is_one_line);
    return 0;
}
