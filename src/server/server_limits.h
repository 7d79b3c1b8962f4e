/* server_limits — `barge server`'s options against hostile clients: --max-connections-per-address,
 * --request-timeout and --rate-limit (docs/decisions.md says what each does), and the checks of
 * its other options that take more than a range. */
#ifndef BARGE_SERVER_LIMITS_H
#define BARGE_SERVER_LIMITS_H
#include "server/model/config.h"

/* Sets the option named (without its dashes) from arg in c.  0, or -1 after a sentence on
 * standard error naming the option and what it takes. */
int server_limit_option(const char *name, const char *arg, barge_config *c);
/* A whole number option from min to max into *out: 0, or -1 after a sentence on standard
 * error naming the option (without its dashes) and its range. */
int server_number_option(const char *name, const char *arg, long min, long max, long *out);
/* A secret token option (16 characters at least) into *out (replacing it); 0, or -1 after
 * printing why. */
int server_token_option(const char *name, const char *arg, char **out);
/* --retention-hours (retention.h): 0, or -1 after printing why. */
int server_retention_option(const char *arg, barge_config *c);
/* Why an option the server hands to its local agents is not usable, or NULL: --executor (0),
 * --registry-mirror, --insecure-registry, --image-cache-size, --pull-timeout (4), --job-user,
 * --container-userns, --container-id-map (7), in the order of server.c's options.  The agent
 * checks them again; checked here, a mistake stops the server at once instead of every agent. */
const char *server_agent_option_invalid(int opt_executor_relative, const char *v);
#endif
