/* server_limits — see server_limits.h. */
#include "server/server_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/base/ratelimit.h"

int server_limit_option(const char *name, const char *arg, barge_config *c)
{
    if (strcmp(name, "rate-limit") == 0) {
        char why[200];
        if (ratelimit_parse(arg, &c->rate_limit, why, sizeof why) == 0) return 0;
        fprintf(stderr, "barge server: --rate-limit %s\n", why);
        return -1;
    }
    /* Connections of the server's 4,000 (http_server.c); seconds up to an hour. */
    int per_address = strcmp(name, "max-connections-per-address") == 0;
    long top = per_address ? 4000 : 3600;
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < 1 || v > top) {
        fprintf(stderr, "barge server: --%s must be a number from 1 to %ld (got '%s')\n", name,
                top, arg);
        return -1;
    }
    if (per_address) c->max_conns_per_addr = (int)v;
    else c->request_timeout_s = (int)v;
    return 0;
}
