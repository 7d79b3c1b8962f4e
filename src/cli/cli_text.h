/* cli_text — the CLI's text in and out: reading option values, and writing tables, times,
 * durations and commands for people.  Pure functions, so that unit tests pin them down. */
#ifndef BARGE_CLI_TEXT_H
#define BARGE_CLI_TEXT_H
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"

/* A decimal integer from 1 to INT_MAX with nothing around it; returns 0, or -1. */
int cli_parse_count(const char *s, long *out);
/* A decimal integer from 0 to the largest 64-bit one (an event's number); returns 0, or -1. */
int cli_parse_seq(const char *s, long long *out);
/* A positive decimal number such as "2" or "0.5" (vCPUs may be fractional); returns 0, or -1. */
int cli_parse_decimal(const char *s);
/* A VCPU value as the server takes one: CLI_VCPUS_EC2 for a whole number of vCPUs, digits
 * only, from 1 to CLI_VCPUS_MAX (what an EC2 job may ask), with CLI_VCPUS_FARGATE too when it is
 * one of Fargate's steps (0.25, 0.5, 1, 2, 4, 8 or 16, "0.50" as well); 0 for neither. */
enum { CLI_VCPUS_EC2 = 1, CLI_VCPUS_FARGATE = 2 };
#define CLI_VCPUS_MAX 1000000
int cli_vcpus_kind(const char *s);
/* "KEY=VALUE" with a non-empty key; the value may be empty and may hold '='.  Fresh strings in
 * *key and *value; returns 0, or -1. */
int cli_parse_kv(const char *s, char **key, char **value);
/* A --depends-on value: "JOBID", "JOBID:N_TO_N" or "SEQUENTIAL" alone, as AWS takes them (the
 * type is case-insensitive).  An array child's id ("PARENT:3") keeps its colon.  *job_id is a
 * fresh string or NULL, *type a constant or NULL; returns 0, -2 for "JOBID:SEQUENTIAL" (a
 * SEQUENTIAL dependency names no job), or -1. */
int cli_parse_dependency(const char *s, char **job_id, const char **type);
/* The job status named by s in any case ("running"), as AWS spells it; NULL if none. */
const char *cli_job_status(const char *s);
/* Every job status in lifecycle order, ending with NULL. */
extern const char *const cli_job_statuses[];
/* Statuses separated by commas ("running,FAILED"), each in any case: chosen[k] is set for
 * cli_job_statuses[k] named.  0, or -1 with *bad and *bad_len the item that is not one (an
 * empty one has length 0). */
int cli_parse_statuses(const char *arg, int chosen[7], const char **bad, int *bad_len);

/* Epoch milliseconds as local "YYYY-MM-DD HH:MM:SS"; "-" for 0 or less. */
void cli_fmt_time(int64_t ms, char out[32]);
/* A moment given on the command line, as epoch milliseconds: "now"; a span before now_ms
 * ("90m", "36h", "7d", "30s"); a local date and time ("2026-11-01", "2026-11-01 09:30",
 * "2026-11-01T09:30:00"), or UTC with a final Z ("2026-11-01T09:30:00Z").  0, or -1 for
 * anything else (a 30th of February, a time before 1970). */
int cli_parse_when(const char *s, int64_t now_ms, int64_t *out);
/* A duration for people: "0.4s", "12s", "3m05s", "2h07m", "3d04h"; "-" when negative. */
void cli_fmt_duration(int64_t ms, char out[32]);
/* The name part of a Batch ARN: "q" for ".../job-queue/q", "d:3" for ".../job-definition/d:3";
 * anything that is not an ARN comes back unchanged.  Points into s. */
const char *cli_arn_name(const char *s);
/* Whether ref names a job queue or (with revision) a job definition as a name can: 1 to 128
 * letters, digits, '-' and '_' (an ARN's name part too), a definition's with ":REVISION" after
 * it or not, REVISION a whole number of 1 or more.  An ARN that names nothing (no '/') is left
 * to the server.  What no name can hold, the server refuses whatever it holds. */
enum { CLI_REF_OK, CLI_REF_NAME, CLI_REF_REVISION };
int cli_ref_check(const char *ref, int revision);
/* Appends s quoted for a POSIX shell when it needs to be, so that a command shown to a person
 * can be pasted back: as it is when it holds only letters, digits and -_./:=,+%@; in $'...'
 * when it holds a control character (C0, DEL, C1) or a byte that is no UTF-8, written \n, \t,
 * \r, \e or \NNN (octal), with \\ and \' (as bash, zsh, ksh and POSIX.1-2024 shells read it:
 * no control character reaches the terminal, and none is lost); else in '...'. */
void cli_shell_quote(buf *b, const char *s);

/* Makes s, in place, safe to show on a terminal: a control character (C0, DEL, or C1 in UTF-8)
 * becomes '?', so that free text another user set (a reason given to TerminateJob) cannot move
 * the cursor, retitle the window or hide what is printed after it.  Returns how many it
 * replaced. */
size_t cli_text_plain(char *s);

/* A table for people: a header row, columns two spaces apart and as wide as their widest cell
 * (counted in terminal columns: a CJK character or an emoji takes two, a combining accent none);
 * the last column is not padded. */
typedef struct cli_table {
    size_t ncols, nrows, cap;
    const char *const *headers;
    char **cells; /* nrows * ncols, owned */
    size_t fit_col, fit_width; /* cli_table_fit's; fit_width 0: no limit */
} cli_table;
void cli_table_init(cli_table *t, size_t ncols, const char *const *headers);
void cli_table_add(cli_table *t, const char *const *row); /* copies the cells; NULL shows "-" */
/* Rows at most width columns wide (0: no limit): the cells of column col that would make them
 * wider are cut, ending "...", the column kept as wide as its header and CLI_TABLE_FIT_MIN at
 * least (a terminal narrower than that wraps, as it would anyway).  The other columns are ids,
 * states and figures, which a cut would make wrong. */
#define CLI_TABLE_FIT_MIN 12
void cli_table_fit(cli_table *t, size_t col, size_t width);
void cli_table_render(const cli_table *t, buf *out);
void cli_table_free(cli_table *t);
/* The columns the longest start of s that takes at most max of them takes on a terminal (a
 * CJK character or an emoji two, a combining accent none, as tables measure them), and its
 * length in bytes in *bytes (unless NULL): where to cut a line that must not wrap. */
size_t cli_text_cut(const char *s, size_t max, size_t *bytes);
/* The width of the terminal fd is, in columns; 0 when fd is not a terminal (a pipe or a file
 * takes every cell whole: what a script reads is never cut) or says none. */
size_t cli_term_width(int fd);
#endif
