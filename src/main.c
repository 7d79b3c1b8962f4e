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
            "`barge COMMAND --help` describes a command's options.\n",
            cli_usage_lines);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "server") == 0) return server_main(argc - 1, argv + 1);
    if (strcmp(cmd, "agent") == 0) return agent_main(argc - 1, argv + 1);
    if (cli_is_command(cmd)) return cli_main(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("barge %s\n", BARGE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "barge: '%s' is not a command; run `barge help` for the list\n", cmd);
    return 2;
}
