/* cli — the commands for people: submit, jobs, describe, logs, cancel and terminate.
 *
 * Each talks to a barge server (or anything that speaks the AWS Batch and CloudWatch Logs APIs)
 * over signed HTTP, prints tables and sentences for people or, with --json, the API's answers
 * for scripts.  Exit codes: 0 success, 1 the server refused or could not be reached, 2 the
 * command line was wrong. */
#ifndef BARGE_CLI_H
#define BARGE_CLI_H

/* Whether name is one of the CLI's commands. */
int cli_is_command(const char *name);
/* Runs the command argv[0]; returns the process's exit code. */
int cli_main(int argc, char **argv);
/* One line per command for `barge help`. */
extern const char cli_usage_lines[];
#endif
