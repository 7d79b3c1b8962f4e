/* barge — a self-hosted AWS Batch.  One binary; the first argument picks the part to run.
 * help, version and the people's commands are the CLI's (cli_main), which checks that their
 * output was written. */
#include <stdio.h>
#include <string.h>

#include "server/server.h"
#include "agent/agent.h"
#include "agent/warden.h"
#include "cli/cli.h"

int main(int argc, char **argv)
{
    /* An agent's warden is this program under another name (agent/warden.h). */
    if (argc > 0 && strcmp(argv[0], "barge-warden") == 0) return warden_main(argc, argv);
    if (argc < 2) {
        cli_top_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    /* `barge help COMMAND` is `barge COMMAND --help`. */
    char help_flag[] = "--help";
    char *help_argv[] = {argv[0], argc > 2 ? argv[2] : NULL, help_flag, NULL};
    int is_help = strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
                  strcmp(cmd, "-h") == 0;
    if (is_help && argc == 3) {
        const char *sub = argv[2];
        if (strcmp(sub, "server") != 0 && strcmp(sub, "agent") != 0 && !cli_is_command(sub)) {
            fprintf(stderr, "barge: '%s' is not a command; run `barge help` for the list\n",
                    sub);
            return 2;
        }
        argv = help_argv;
        cmd = argv[1];
    }
    if (strcmp(cmd, "server") == 0) return server_main(argc - 1, argv + 1);
    if (strcmp(cmd, "agent") == 0) return agent_main(argc - 1, argv + 1);
    if (cli_is_command(cmd)) return cli_main(argc - 1, argv + 1);
    fprintf(stderr, "barge: '%s' is not a command; run `barge help` for the list\n", cmd);
    return 2;
}
