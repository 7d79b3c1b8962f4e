/* opts — what every command of the one binary says when getopt_long refuses its arguments: a
 * sentence naming the option and what to do, rather than getopt's own words under the
 * program's bare name followed by the whole usage. */
#ifndef BARGE_OPTS_H
#define BARGE_OPTS_H
#include <getopt.h>

/* Prints "PROG: ..." for o, what getopt_long returned ('?' or ':', the latter when the option
 * string starts with ':'), and returns 2, the exit code of a usage error.  Call it right after
 * getopt_long, with opterr 0: it reads optopt and optind as getopt left them.  An unknown long
 * option that is a prefix of several known ones lists them. */
int opts_error(const char *prog, int o, char **argv, const struct option *opts);

/* The longest value a server or agent option takes: a file's name, an address, a number (what
 * is long goes in a file).  One longer is refused without being echoed whole. */
#define OPTS_VALUE_MAX 4096
/* 0 when o's value arg (NULL for none) is at most OPTS_VALUE_MAX bytes; else prints "PROG:
 * --NAME's value is N bytes long ..." and returns 2. */
int opts_value_check(const char *prog, int o, const char *arg, const struct option *opts);
#endif
