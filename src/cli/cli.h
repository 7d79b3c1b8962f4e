/* cli — the commands for people: submit, jobs, describe, logs, cancel and terminate.
 *
 * Each talks to a barge server (or anything that speaks the AWS Batch and CloudWatch Logs APIs)
 * over signed HTTP, prints tables and sentences for people or, with --json, the API's answers
 * for scripts.  Exit codes: 0 success, 1 the server refused or could not be reached, 2 the
 * command line was wrong, 141 (SIGPIPE's, which is ignored) the output's reader has gone. */
#ifndef BARGE_CLI_H
#define BARGE_CLI_H
#include <stdio.h>

/* Whether cli_main runs name, given where a command's name goes: one of the CLI's commands, or
 * help, version or a common option given before the command (cli_top.c), whose output is
 * then checked as a command's. */
int cli_is_command(const char *name);
/* Runs the command argv[0]; returns the process's exit code. */
int cli_main(int argc, char **argv);
/* One line per command for `barge help`. */
extern const char cli_usage_lines[];
/* barge's usage, every command listed: what `barge help` prints, and a bare `barge` on
 * stderr (cli_top.c). */
void cli_top_usage(FILE *out);
#endif
