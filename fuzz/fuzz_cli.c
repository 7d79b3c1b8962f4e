/* fuzz_cli — the `barge` commands (src/cli/) against a server's answers, without a network: a
 * stand-in for the wire (cli_set_wire) gives each call of the command the next answer of the
 * input, so that everything above the HTTP exchange runs as in real use: signing, error
 * answers, the patience of the following commands, the paging and the printing.  A command
 * must neither crash nor leak, whatever valid or invalid JSON comes back, and must end.
 *
 * Input: a first line whose number picks the command line (modulo the list below), then one
 * answer a line:
 *   STATUS[/TYPE] BODY   the HTTP status (200 when the line does not start with digits), the
 *                        x-amzn-ErrorType header when /TYPE is given, and the body
 *   -                    no answer at all, as from a server that cannot be reached
 *   *STATUS[/TYPE] BODY  this answer, and the same again for every later call
 * When the answers run out every call fails as an unreachable server does.  A repeated answer
 * stands for a server that keeps saying the same thing: a command that does not follow must
 * end anyway (sending the same request over and over is a loop that never ends, and aborts the
 * run); one that follows (logs -f, run, watch, events -f) is cut off after REPEAT_MAX calls
 * and must then give up within its patience.  Waits take no time: they move the stand-in's
 * clock.  What the commands print goes to /dev/null. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "cli/cli.h"
#include "cli/cli_http.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The command lines, each with and without --json where it has one; follows: the command waits
 * for more to come and rides out a server that is away. */
static const struct {
    int follows;
    const char *argv[14];
} lines[] = {
    {0, {"submit", "--queue", "q", "--definition", "d", NULL}},
    {0, {"submit", "--json", "--queue", "q", "--definition", "arn:aws:batch:us-east-1:1:job-"
         "definition/d:2", "--array-size", "3", "--", "echo", "hi", NULL}},
    {0, {"jobs", "--queue", "q", NULL}},
    {0, {"jobs", "--queue", "q", "--all", "--json", NULL}},
    {0, {"jobs", "--queue", "q", "--name", "x*", NULL}},
    {0, {"jobs", "--array", "a1", "--status", "running", NULL}},
    {0, {"describe", "j1", "j2", NULL}},
    {0, {"describe", "--json", "j1", NULL}},
    {0, {"logs", "j1", NULL}},
    {0, {"logs", "--json", "j1", "--attempt", "2", NULL}},
    {1, {"logs", "-f", "j1", NULL}},
    {1, {"logs", "-f", "--json", "j1", NULL}},
    {0, {"cancel", "j1", "j2", NULL}},
    {0, {"cancel", "--json", "j1", NULL}},
    {0, {"terminate", "j1", "--reason", "r", NULL}},
    {0, {"terminate", "--json", "j1", NULL}},
    {0, {"revoke-instance", "i-1", "i-2", NULL}},
    {0, {"revoke-instance", "--json", "i-1", NULL}},
    {0, {"fleet", NULL}},
    {0, {"fleet", "--json", "--compute-environment", "ce", NULL}},
    {0, {"fleet", "drain", "i-1", "i-2", NULL}},
    {0, {"fleet", "--json", "reclaim", "i-1", NULL}},
    {1, {"run", "--image", "busybox", "--", "echo", "hi", NULL}},
    {1, {"run", "--json", "--definition", "d", "--vcpus", "2", NULL}},
    {1, {"run", "--image", "busybox", "--array-size", "4", NULL}},
    {1, {"run", "--json", "--definition", "d:1", "--array-size", "2", NULL}},
    {0, {"explain", "j1", NULL}},
    {0, {"explain", "a1:3", NULL}},
    {0, {"watch", "--once", "q", NULL}},
    {0, {"watch", "--once", "--json", "q", NULL}},
    {1, {"watch", "q", NULL}},
    {1, {"watch", "--json", "q", NULL}},
    {1, {"watch", "--array", "a1", NULL}},
    {0, {"watch", "--once", "--json", "--array", "a1", NULL}},
    {1, {"watch", "--json", "--array", "a1", NULL}},
    {0, {"usage", "--queue", "q", NULL}},
    {0, {"usage", "--json", "--queue", "q", "--by", "tag:team", NULL}},
    {0, {"events", NULL}},
    {0, {"events", "--json", "--queue", "q", "--status", "running,failed", NULL}},
    {1, {"events", "-f", NULL}},
    {1, {"events", "-f", "--json", "--after", "10", NULL}},
};
#define NLINES (sizeof lines / sizeof *lines)

/* A following command given a repeated answer this many times is cut off from then on. */
#define REPEAT_MAX 200
/* The times a command that does not follow may send one request while the answer repeats. */
#define SAME_MAX 20
#define SAME_SLOTS 64

typedef struct wire_state {
    const char *p, *end;      /* the answers not given yet */
    int follows;
    char *body, *type;        /* the answer given last */
    long status;
    int repeating;            /* the answer given last is given to every later call */
    long repeats;
    struct { unsigned long hash; int n; } same[SAME_SLOTS];
    long long clock_ms;
} wire_state;

static wire_state ws;
static FILE *devnull;

static unsigned long hash_of(const char *s)
{
    unsigned long h = 5381;
    for (; *s; s++) h = h * 33 + (unsigned char)*s;
    return h;
}

/* Counts req among the requests sent while the answer repeats; aborts when one comes back too
 * often for a command that does not follow. */
static void count_same(const char *op, const char *req)
{
    unsigned long h = hash_of(op) ^ hash_of(req);
    for (int i = 0; i < SAME_SLOTS; i++) {
        if (ws.same[i].n && ws.same[i].hash != h) continue;
        ws.same[i].hash = h;
        if (++ws.same[i].n > SAME_MAX) {
            fprintf(stderr, "fuzz_cli: %s was sent %d times with the same answer: the command "
                            "does not end\n", op, SAME_MAX);
            abort();
        }
        return;
    }
}

static int fake_exchange(void *arg, const char *service, const char *op, const char *req,
                         long *status, const char **type, const char **body, size_t *len)
{
    if (ws.repeating) {
        if (ws.follows && ++ws.repeats > REPEAT_MAX) return -1;
        if (!ws.follows) {
            count_same(op, req);
            if (++ws.repeats > 50 * REPEAT_MAX) {
                fprintf(stderr, "fuzz_cli: %ld calls with the same answer: the command does not "
                                "end\n", ws.repeats);
                abort();
            }
        }
    } else {
        if (ws.p >= ws.end) return -1;
        const char *nl = memchr(ws.p, '\n', (size_t)(ws.end - ws.p));
        const char *e = nl ? nl : ws.end;
        const char *line = ws.p;
        ws.p = nl ? nl + 1 : ws.end;
        if (e - line == 1 && *line == '-') return -1;
        if (line < e && *line == '*') {
            ws.repeating = 1;
            line++;
        }
        ws.status = 200;
        if (line < e && *line >= '0' && *line <= '9') {
            ws.status = 0;
            for (; line < e && *line >= '0' && *line <= '9'; line++)
                if (ws.status < 100000) ws.status = ws.status * 10 + (*line - '0');
        }
        free(ws.type);
        ws.type = NULL;
        if (line < e && *line == '/') {
            const char *t = ++line;
            while (line < e && *line != ' ') line++;
            ws.type = xstrndup(t, (size_t)(line - t));
        }
        if (line < e && *line == ' ') line++;
        free(ws.body);
        ws.body = xstrndup(line, (size_t)(e - line));
    }
    *status = ws.status;
    *type = ws.type;
    *body = ws.body;
    *len = strlen(ws.body);
    return 0;
}

static long long fake_now(void *arg)
{
    return ws.clock_ms;
}

static void fake_sleep(void *arg, long ms)
{
    ws.clock_ms += ms > 0 ? ms : 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Never reached: the stand-in answers. */
    setenv("BARGE_ENDPOINT", "http://127.0.0.1:9", 1);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_CA_BUNDLE");
    /* What the commands print: stdout for good, stderr while a command runs (the sanitizers
     * and libFuzzer write to descriptor 2, which stays). */
    devnull = fopen("/dev/null", "w");
    int fd = open("/dev/null", O_WRONLY);
    if (!devnull || fd < 0 || dup2(fd, STDOUT_FILENO) < 0) abort();
    close(fd);
    cli_wire w = {.exchange = fake_exchange, .now_ms = fake_now, .sleep_ms = fake_sleep};
    cli_set_wire(&w);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    const char *nl = memchr(p, '\n', size);
    size_t pick = 0;
    for (const char *q = p; q < (nl ? nl : end) && q < p + 6; q++)
        if (*q >= '0' && *q <= '9') pick = pick * 10 + (size_t)(*q - '0');
    pick %= NLINES;
    memset(&ws, 0, sizeof ws);
    ws.p = nl ? nl + 1 : end;
    ws.end = end;
    ws.follows = lines[pick].follows;
    ws.clock_ms = 1000000;

    char *argv[16];
    int argc = 0;
    for (; lines[pick].argv[argc]; argc++) argv[argc] = xstrdup(lines[pick].argv[argc]);
    argv[argc] = NULL;
    /* getopt keeps where it was in the last command's words, which are freed: optind 0 starts
     * it afresh (the commands set 1, which does not). */
    optind = 0;
    getopt(1, (char *[]){"x", NULL}, "");
    /* barge run catches SIGINT and SIGTERM, which libFuzzer handles itself. */
    struct sigaction old_int, old_term;
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    FILE *err = stderr;
    stderr = devnull;
    int rc = cli_main(argc, argv);
    stderr = err;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    /* 0, 1 or 2, or (barge run) the job's exit code. */
    if (rc < 0 || rc > 255) {
        fprintf(stderr, "fuzz_cli: %s exited %d\n", argv[0], rc);
        abort();
    }
    for (int i = 0; i < argc; i++) free(argv[i]);
    free(ws.body);
    free(ws.type);
    return 0;
}
