/* barge — a self-hosted AWS Batch.  One binary; the first argument picks the part to run. */
#include <stdio.h>
#include <string.h>

#include "server/server.h"
#include "agent/agent.h"
#include "cli/cli.h"

#define BARGE_VERSION "0.1.0"

static void usage(FILE *out)
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int is_help = strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
                  strcmp(cmd, "-h") == 0;
    int is_version = strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0;
    /* `barge help COMMAND` is `barge COMMAND --help`. */
    char help_flag[] = "--help";
    char *help_argv[] = {argv[0], argc > 2 ? argv[2] : NULL, help_flag, NULL};
    if (is_help && argc == 3) {
        const char *sub = argv[2];
        int runs = strcmp(sub, "server") == 0 || strcmp(sub, "agent") == 0 ||
                   cli_is_command(sub);
        if (!runs && strcmp(sub, "help") != 0 && strcmp(sub, "version") != 0) {
            fprintf(stderr, "barge: '%s' is not a command; run `barge help` for the list\n",
                    sub);
            return 2;
        }
        if (runs) {
            argv = help_argv;
            cmd = argv[1];
        }
    }
    if (strcmp(cmd, "server") == 0) return server_main(argc - 1, argv + 1);
    if (strcmp(cmd, "agent") == 0) return agent_main(argc - 1, argv + 1);
    if (cli_is_command(cmd)) return cli_main(argc - 1, argv + 1);
    if ((is_version && argc > 2) || (is_help && argc > 3)) {
        fprintf(stderr, "barge: `barge %s` takes %s\n", cmd,
                is_help ? "one command's name at most" : "no arguments");
        return 2;
    }
    if (is_version) {
        printf("barge %s\n", BARGE_VERSION);
        return 0;
    }
    if (is_help) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "barge: '%s' is not a command; run `barge help` for the list\n", cmd);
    return 2;
}
