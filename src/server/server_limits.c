/* server_limits — see server_limits.h. */
#include "server/server_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/ratelimit.h"
#include "server/base/store.h"

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
    long v;
    if (server_number_option(name, arg, 1, per_address ? 4000 : 3600, &v) < 0) return -1;
    if (per_address) c->max_conns_per_addr = (int)v;
    else c->request_timeout_s = (int)v;
    return 0;
}

void server_fit_open_files(barge_config *c)
{
    /* The server's own: the stores and their journals, logs, the audit trail, the local
     * agents' pipes, webhooks' sockets, threads' wake-ups; half of a small limit. */
    long files = util_raise_open_files(), fit = files > 1024 ? files - 512 : files / 2;
    if (fit >= c->max_conns) return;
    c->max_conns = fit > 1 ? (int)fit : 1;
    log_warn("the open-file limit (%ld) leaves room for %d connections, not 4,000: raise it "
             "(ulimit -n, or LimitNOFILE= in a systemd unit)", files, c->max_conns);
    if (c->max_conns_per_addr > c->max_conns) c->max_conns_per_addr = c->max_conns;
}

int server_number_option(const char *name, const char *arg, long min, long max, long *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < min || v > max) {
        fprintf(stderr, "barge server: --%s must be a number from %ld to %ld (got '%s')\n", name,
                min, max, arg);
        return -1;
    }
    *out = v;
    return 0;
}

int server_token_option(const char *name, const char *arg, char **out)
{
    if (strlen(arg) < 16) {
        fprintf(stderr, "barge server: --%s must be at least 16 characters (got %zu)\n", name,
                strlen(arg));
        return -1;
    }
    free(*out);
    *out = xstrdup(arg);
    return 0;
}

int server_store_option(const char *name, const char *arg, barge_config *c)
{
    if (strcmp(name, "store") == 0) {
        if (!store_is_pg(arg)) {
            /* Only the scheme is echoed: the rest may hold a password. */
            const char *colon = strchr(arg, ':');
            int n = colon ? (int)(colon - arg) : 0;
            fprintf(stderr, "barge server: --store takes a PostgreSQL URI, postgresql://... or "
                            "postgres://... (got %s%.*s%s); without it the store is "
                            "DATA_DIR/barge.db\n", n ? "the scheme '" : "no scheme",
                    n > 40 ? 40 : n, arg, n ? "'" : "");
            return -1;
        }
        c->store_uri = arg;
        return 0;
    }
    long v;
    int lease = strcmp(name, "lease-ms") == 0;
    if (server_number_option(name, arg, lease ? 200 : 50, lease ? 600000 : 300000, &v) < 0)
        return -1;
    if (lease) c->lease_ms = (int)v;
    else c->lease_renew_ms = (int)v;
    return 0;
}

int server_store_options_apply(const barge_config *c, int sync_given, const char *lease_given)
{
    if (c->store_uri && sync_given) {
        fprintf(stderr, "barge server: --sync applies to the SQLite store in the data directory; "
                        "with --store, commits are as durable as the PostgreSQL server's "
                        "synchronous_commit makes them: leave --sync out\n");
        return -1;
    }
    if (!c->store_uri && lease_given) {
        fprintf(stderr, "barge server: --%s applies with --store postgresql://..., where "
                        "servers share a store and one leads; leave it out for the data "
                        "directory's own store\n", lease_given);
        return -1;
    }
    return 0;
}

int server_retention_option(const char *arg, barge_config *c)
{
    /* Hours, with a fraction (0.001 is 3.6 seconds: tests use short retentions), up to ten
     * years; 0 keeps finished jobs forever. */
    char *end;
    /* Plain decimal only: strtod would also take blanks before, a sign, hexadecimal ("0x10" as
     * 16 hours) and "inf", none of which an operator means. */
    int plain = arg[0] >= '0' && arg[0] <= '9' && strspn(arg, "0123456789.") == strlen(arg);
    double h = strtod(arg, &end);
    if (!plain || *end || !(h >= 0) || h > 87600) {
        fprintf(stderr, "barge server: --retention-hours must be a number of hours from 0 (keep "
                        "finished jobs forever) to 87600, fractions allowed (got '%s')\n", arg);
        return -1;
    }
    long long ms = (long long)(h * 3600 * 1000 + 0.5);
    if (h > 0 && ms < 1000) {
        fprintf(stderr, "barge server: --retention-hours %s is under a second; give 0 to keep "
                        "finished jobs forever, or 0.0003 (about a second) or more\n", arg);
        return -1;
    }
    c->retention_ms = ms;
    return 0;
}
