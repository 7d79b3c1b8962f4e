/* cli_top — the words barge takes where a command belongs: help and version, and a common option
 * given before the command.  They run through cli_main, as the commands do, so that their
 * output is checked as a command's is: `barge --help > /dev/full` fails as `barge jobs --help`
 * does, rather than exiting 0 with nothing written. */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "cli/cli.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

/* The version `barge version` prints. */
#define CLI_VERSION "0.1.0"

static const char version_help[] =
    "usage: barge version\n"
    "\n"
    "Prints barge's version, as \"barge VERSION\".\n";

static int is_help_word(const char *w)
{
    return strcmp(w, "help") == 0 || strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0;
}

static int is_version_word(const char *w)
{
    return strcmp(w, "version") == 0 || strcmp(w, "--version") == 0;
}

/* Whether w is one of the common options (CLI_COMMON_OPTIONS, without --help), alone or as
 * --NAME=VALUE; *takes_value says whether the next word is its value. */
static int common_option(const char *w, int *takes_value)
{
    static const char *const with_value[] = {"--endpoint", "--region", "--ca-file",
                                             "--profile"};
    *takes_value = 0;
    if (strcmp(w, "--json") == 0) return 1;
    for (size_t i = 0; i < sizeof with_value / sizeof *with_value; i++) {
        size_t n = strlen(with_value[i]);
        if (strncmp(w, with_value[i], n) != 0) continue;
        if (w[n] == '\0') {
            *takes_value = 1;
            return 1;
        }
        if (w[n] == '=') return 1;
    }
    return 0;
}

void cli_top_usage(FILE *out)
{
    fprintf(out,
            "usage: barge COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  server     run the control plane (AWS Batch API, store, scheduler)\n"
            "  agent      run jobs on this machine for a barge server (an instance)\n"
            "%s"
            "  version    print the version\n"
            "  help       show this help\n"
            "\n"
            "`barge COMMAND --help` (or `barge help COMMAND`) describes a command's options.\n",
            cli_usage_lines);
}

int cli_top_word(const char *w)
{
    int takes_value;
    return is_help_word(w) || is_version_word(w) || common_option(w, &takes_value);
}

/* `barge --endpoint URL jobs ...`: getopt reads a command's options after its name only, so
 * the words are shown again in the order that works, the command first. */
static int option_first(int argc, char **argv)
{
    cli_ctx c = {.prog = "barge"};
    int k = 0, takes_value;
    while (k < argc && common_option(argv[k], &takes_value)) k += takes_value ? 2 : 1;
    if (k >= argc || !cli_is_command(argv[k]) || cli_top_word(argv[k])) {
        common_option(argv[0], &takes_value);
        return cli_usage_error(&c, "'%s' is an option of the commands, and options go after the "
                                   "command: barge COMMAND %s%s (`barge help` lists the "
                                   "commands)", argv[0], argv[0], takes_value ? " VALUE" : "");
    }
    buf b = {0};
    buf_puts(&b, "barge ");
    cli_shell_quote(&b, argv[k]);
    for (int i = 0; i < argc; i++) {
        if (i == k) continue;
        buf_puts(&b, " ");
        cli_shell_quote(&b, argv[i]);
    }
    cli_usage_error(&c, "options go after the command: %s", b.data);
    buf_free(&b);
    return 2;
}

int cli_top(int argc, char **argv)
{
    cli_ctx c = {.prog = "barge"};
    if (is_version_word(argv[0])) {
        if (argc == 2 && (is_help_word(argv[1]) && strcmp(argv[1], "help") != 0)) {
            fputs(version_help, stdout);
            return 0;
        }
        if (argc > 1)
            return cli_usage_error(&c, "`barge %s` takes no arguments (got '%s'); `barge "
                                       "version --help` says what it does", argv[0], argv[1]);
        printf("barge %s\n", CLI_VERSION);
        return 0;
    }
    if (is_help_word(argv[0])) {
        /* main.c turns `barge help COMMAND` into `barge COMMAND --help`, and `barge help help`
         * into `barge help --help`: what comes here is help alone, or with more words. */
        if (argc > 2 || (argc == 2 && !is_help_word(argv[1])))
            return cli_usage_error(&c, "`barge %s` takes one command's name at most", argv[0]);
        cli_top_usage(stdout);
        return 0;
    }
    return option_first(argc, argv);
}
