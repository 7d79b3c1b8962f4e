/* cli_array — an array job's progress as `barge run` and `barge watch --array` show it: a line
 * of its children's counts by status with a bar, redrawn in place on a terminal, until its
 * children have ended or one can never start. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

#define POLL_MS 1000

/* The width of the terminal on stderr: its window's, else $COLUMNS (cli_term_width), else 80;
 * $COLUMNS for the line printed into a pipe too. */
static int terminal_width(void)
{
    size_t w = cli_term_width(STDERR_FILENO);
    if (w > 0) return (int)w;
    const char *cols = getenv("COLUMNS");
    long n;
    if (cols && cli_parse_count(cols, &n) == 0 && n < 10000) return (int)n;
    return 80;
}

/* What an array's progress line was drawn with: the line, so that one that has not changed
 * is not drawn again, and the bar's width for the room the line had. */
typedef struct progress {
    char last[512];
    int room; /* the line's room when bar was found (0: not yet) */
    int bar;  /* the narrowest the bar has been in that room */
} progress;

/* The line of an array's progress, drawn when it differs from the last: rewritten in place on a
 * terminal, printed when it changes otherwise.  In place, the line must fit the terminal's
 * width: one that wraps is rewritten from its last row only, and leaves a copy of its first
 * rows at each redraw.  So the bar shrinks (and goes, under 10 characters), and the counts are
 * cut at the width.  The bar never widens again in the same room: the counts' text grows and
 * shrinks as children change status (STARTING 2, then STARTING 1 RUNNING 1), and a bar whose
 * width followed it would jump at each redraw, its fill seeming to go back (2 of 28 marks, then
 * 1 of 16, for more children done). */
static void draw_progress(json_t *ap, int in_place, progress *p)
{
    static const char *const order[] = {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING",
                                        "RUNNING", "SUCCEEDED", "FAILED"};
    json_t *sum = json_object_get(ap, "statusSummary");
    long long size = cli_int(ap, "size"), done;
    /* Counts are the server's: a sum past the largest integer stays there, rather than wrap. */
    if (__builtin_add_overflow(cli_int(sum, "SUCCEEDED"), cli_int(sum, "FAILED"), &done))
        done = cli_int(sum, "SUCCEEDED") < 0 ? LLONG_MIN : LLONG_MAX;
    char counts[400];
    int n = snprintf(counts, sizeof counts, "%lld/%lld", done, size);
    for (size_t k = 0; k < sizeof order / sizeof *order && n < (int)sizeof counts; k++)
        if (cli_int(sum, order[k]))
            n += snprintf(counts + n, sizeof counts - (size_t)n, " %s %lld", order[k],
                          cli_int(sum, order[k]));
    /* The last column is left free: a terminal may wrap a line that fills it.  A line printed
     * once onto a terminal (watch --once) fits it too; into a pipe it is whole. */
    size_t window = cli_term_width(STDERR_FILENO);
    int room = in_place ? terminal_width() - 1 : window ? (int)window - 1 : INT_MAX;
    if (room < 1) room = 1;
    int width = 40, len = (int)strlen(counts);
    if (p->room != room) {
        p->room = room;
        p->bar = width; /* a window resized: found again */
    }
    if (width > p->bar) width = p->bar;
    if (width > room - 3 - len) width = room - 3 - len;
    /* One that went stays gone: under 10 it is left out, and would come back as a jump. */
    p->bar = width;
    char line[512] = "";
    if (width >= 10) {
        char bar[41];
        int filled = size <= 0 || done >= size ? width
                     : done <= 0                ? 0
                                                : (int)((double)done * width / size);
        for (int k = 0; k < width; k++) bar[k] = k < filled ? '#' : '.';
        bar[width] = '\0';
        snprintf(line, sizeof line, "[%s] ", bar);
    }
    size_t at = strlen(line);
    snprintf(line + at, sizeof line - at, "%s", counts);
    if ((int)strlen(line) > room) {
        /* Cut between counts, never inside one ("FAILED 87" for 87655 reads as a count), nor
         * between a status and its count. */
        int boundary = line[room] == ' ';
        line[room] = '\0';
        char *space = boundary ? NULL : strrchr(line, ' ');
        if (space) *space = '\0';
        space = strrchr(line, ' ');
        if (space && space[1] >= 'A' && space[1] <= 'Z') *space = '\0';
    }
    if (strcmp(line, p->last) == 0) return;
    fprintf(stderr, in_place ? "\r%s\033[K" : "%s\n", line);
    cli_progress_open = in_place;
    fflush(stderr);
    snprintf(p->last, sizeof p->last, "%s", line);
}

/* A child of array id that can never start, into *child (fresh), else NULL.  The children ask
 * for the same resources, so one RUNNABLE child answers for all.  It is asked only while no
 * child is starting or running, the one time the array may be stuck, so that an array at
 * work costs its own description a poll and no more.  0, or 1 after printing why. */
static int stuck_child(cli_ctx *c, const char *id, json_t *summary, json_t **child)
{
    *child = NULL;
    if (!cli_int(summary, "RUNNABLE") || cli_int(summary, "STARTING") ||
        cli_int(summary, "RUNNING"))
        return 0;
    /* The array's own description has no reason: its children's are theirs. */
    json_t *req = json_pack("{s:s, s:s, s:i}", "arrayJobId", id, "jobStatus", "RUNNABLE",
                            "maxResults", 1), *resp = NULL;
    int rc = cli_batch(c, "ListJobs", req, &resp);
    json_decref(req);
    if (rc) return 1;
    json_t *first = json_array_get(json_object_get(resp, "jobSummaryList"), 0);
    const char *first_id = json_string_value(json_object_get(first, "jobId"));
    json_t *j = NULL;
    /* A child that has moved on since, or is gone, is asked again at the next poll. */
    if (first_id && cli_find_job(c, first_id, &j) < 0) rc = 1;
    json_decref(resp);
    if (j && cli_job_stuck(j)) *child = j;
    else json_decref(j);
    return rc;
}

int cli_follow_array(cli_ctx *c, const char *id, int flags, long every_ms, json_t **final,
                     json_t **stuck)
{
    int once = flags & CLI_ARRAY_ONCE, in_place = cli_redraws(STDERR_FILENO) && !once;
    progress drawn = {.room = 0};
    if (!once) c->patient = 1;
    for (;;) {
        json_t *job;
        int rc = cli_describe_job(c, id, &job);
        if (rc) return rc;
        json_t *ap = json_object_get(job, "arrayProperties");
        if (!json_is_integer(json_object_get(ap, "size")) ||
            json_is_integer(json_object_get(ap, "index"))) {
            /* A plain job or an array's child has no children to count: its bar would be
             * full, or wait for ever. */
            int child = json_is_integer(json_object_get(ap, "index"));
            json_decref(job);
            return cli_usage_error(c, "job %s is %s; give an array job's id (`barge logs -f "
                                      "%s` follows a job)", id, child ? "a child of an array "
                                      "job, not the array" : "not an array job", id);
        }
        draw_progress(ap, in_place, &drawn);
        json_t *child = NULL;
        int ended = once || cli_status_done(json_string_value(json_object_get(job, "status")));
        if (!ended && (flags & CLI_ARRAY_UNTIL_STUCK) &&
            stuck_child(c, id, json_object_get(ap, "statusSummary"), &child) != 0) {
            json_decref(job);
            return 1;
        }
        if (ended || child) {
            if (in_place) cli_progress_break();
            *final = job;
            if (stuck) *stuck = child;
            else json_decref(child);
            return 0;
        }
        json_decref(job);
        if (cli_wait(c, every_ms > 0 ? every_ms : POLL_MS) < 0) return 1;
    }
}
