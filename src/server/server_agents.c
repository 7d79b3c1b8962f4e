/* server_agents — what the server hands the agents it launches: where they reach it (its own
 * address, and every server's when several share one database) and the options it passes on,
 * checked at start so that a mistake stops the server at once instead of every agent. */
#include "server/server_agents.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/efs_mounts.h"
#include "common/idmap.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/http_server.h"
#include "server/model/config.h"

/* The host agents launched here reach the server at: the bound address, with a wildcard made
 * loopback. */
const char *server_agent_host(const barge_config *c)
{
    const char *h = c->listen_host;
    if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "") == 0) h = "127.0.0.1";
    if (strcmp(h, "::") == 0) h = "::1";
    return h;
}

/* --agent-url: "URL[,URL...]", each http:// or https://. */
int server_check_agent_urls(const char *list)
{
    /* As the agents check their --server, so that a bad URL stops the server, not every
     * agent it launches. */
    for (const char *p = list;; p++) {
        if (util_http_url_problem(p, strcspn(p, ","))) {
            fprintf(stderr, "barge server: --agent-url must be an http:// or https:// URL, or "
                            "several separated by commas (got '%s')\n", list);
            return -1;
        }
        if (!(p = strchr(p, ','))) return 0;
    }
}

/* The URL agents launched here are given: this server's own, then, when --agent-url names
 * several servers (servers sharing one database, docs/operations.md), all of those, so that
 * the agents follow whichever leads. */
char *server_agent_url(const barge_config *c, int tls)
{
    const char *h = server_agent_host(c);
    const char *scheme = tls ? "https" : "http";
    const char *peers = c->remote_url && strchr(c->remote_url, ',') ? c->remote_url : NULL;
    if (strchr(h, ':'))
        return xasprintf("%s://[%s]:%d%s%s", scheme, h, http_port(), peers ? "," : "",
                         peers ? peers : "");
    return xasprintf("%s://%s:%d%s%s", scheme, h, http_port(), peers ? "," : "",
                     peers ? peers : "");
}

/* The value of --name among the options every local agent is started with (the last given),
 * or NULL. */
static const char *agent_arg_value(const barge_config *c, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; c->agent_args && c->agent_args[i]; i++)
        if (strncmp(c->agent_args[i], "--", 2) == 0 && strcmp(c->agent_args[i] + 2, name) == 0)
            v = c->agent_args[i + 1] ? c->agent_args[i + 1] : "";
    return v;
}

static int agent_arg_given(const barge_config *c, const char *name)
{
    return agent_arg_value(c, name) != NULL;
}

/* path made absolute, through the links of what of it exists (fresh): the same directory
 * named two ways compares equal. */
static char *absolute(const char *path)
{
    char *real = realpath(path, NULL);
    if (real) return real;
    /* Not there yet: its parent's real path and its own name. */
    char *copy = xstrdup(path), *slash = strrchr(copy, '/');
    while (slash && slash > copy && slash[1] == '\0') { /* trailing slashes */
        *slash = '\0';
        slash = strrchr(copy, '/');
    }
    char *out;
    if (!slash) {
        char cwd[PATH_MAX];
        out = getcwd(cwd, sizeof cwd) ? xasprintf("%s/%s", cwd, copy) : xstrdup(copy);
    } else {
        *slash = '\0';
        char *parent = absolute(*copy ? copy : "/");
        out = xasprintf("%s/%s", strcmp(parent, "/") == 0 ? "" : parent, slash + 1);
        free(parent);
    }
    free(copy);
    return out;
}

/* The local agents' directories inside DATA_DIR: every agent refuses to start there (DATA_DIR
 * is closed to other users, and the jobs' users must reach their directories), so jobs would
 * wait for capacity for ever; and jobs must not reach DATA_DIR. */
static int work_root_check(const barge_config *c)
{
    if (!c->data_dir) return 0;
    char *given = config_agent_work_root(c);
    char *work = absolute(given), *data = absolute(c->data_dir);
    size_t n = strlen(data);
    int inside = strncmp(work, data, n) == 0 && (work[n] == '\0' || work[n] == '/');
    if (inside)
        fprintf(stderr, "barge server: the local instances' directories, %s%s, are inside the "
                        "data directory %s, which jobs must not reach and whose mode keeps the "
                        "jobs' users out of their directories; choose another with "
                        "--agent-work-dir%s\n",
                given, c->agent_work_root ? " (--agent-work-dir)" : " ($TMPDIR/barge-work)",
                c->data_dir, c->agent_work_root ? "" : " or --data-dir");
    free(given);
    free(work);
    free(data);
    return inside ? -1 : 0;
}

int server_agent_options_check(const barge_config *c)
{
    if (work_root_check(c) < 0) return -1;
    const char *uids = agent_arg_value(c, "job-uids");
    if (!uids) return 0;
    if (geteuid() != 0) {
        fprintf(stderr, "barge server: --job-uids needs a root server: its local agents run as "
                        "it, and only a root agent runs attempts as other uids\n");
        return -1;
    }
    unsigned first, count;
    idmap_parse_job_uids(uids, &first, &count); /* checked as it was read */
    idmap ids = {0};
    const char *map = agent_arg_value(c, "container-id-map"), *userns =
        agent_arg_value(c, "container-userns"), *source;
    if (map) idmap_parse(map, &ids);
    else if (!userns || strcmp(userns, "off") != 0)
        idmap_default("/etc/subuid", "/etc/subgid", &ids, &source);
    char why[256];
    if (idmap_job_uids_conflict(first, count, &ids, why, sizeof why)) {
        fprintf(stderr, "barge server: --job-uids %s %s\n", uids, why);
        return -1;
    }
    return 0;
}

/* Adds an option to those every local agent is started with. */
void server_add_agent_arg(barge_config *c, const char *name, const char *value)
{
    size_t n = 0;
    while (c->agent_args && c->agent_args[n]) n++;
    c->agent_args = xrealloc(c->agent_args, (n + 3) * sizeof *c->agent_args);
    c->agent_args[n++] = xasprintf("--%s", name);
    c->agent_args[n++] = xstrdup(value);
    c->agent_args[n] = NULL;
}

/* Why an option the server hands to its local agents is not usable, or NULL.  The agent checks
 * them again; checked here, a mistake stops the server at once instead of every agent. */
static const char *agent_option_invalid(int opt_executor_relative, const char *v)
{
    switch (opt_executor_relative) {
    case 0: /* --executor */
        return strcmp(v, "container") == 0 || strcmp(v, "process") == 0
                   ? NULL : "must be container or process";
    case 1: /* --registry-mirror */
        return util_http_scheme_len(v) ? NULL : "must be an http:// or https:// URL";
    case 2: /* --insecure-registry */
        return *v && !strchr(v, '/') ? NULL : "takes a registry's HOST or HOST:PORT";
    case 3: { /* --image-cache-size */
        char *end;
        long long n = strtoll(v, &end, 10);
        return *v && !*end && n >= 1 && n <= (1LL << 32) ? NULL
                                                         : "must be a number of MiB, 1 or more";
    }
    case 5: { /* --job-user: a user of this host, or a number, as the agent takes it */
        if (!*v || strchr(v, ':') || strchr(v, '/')) return "takes a user's name or number";
        char *end;
        unsigned long uid = strtoul(v, &end, 10);
        struct passwd *pw = getpwnam(v);
        if (pw ? pw->pw_uid <= INT_MAX : !*end && isdigit((unsigned char)*v) && uid <= INT_MAX)
            return NULL;
        return pw ? "names a user whose uid is above 2147483647, which jobs cannot run as"
                  : "names no user on this host (name one from /etc/passwd, or give a number "
                    "up to 2147483647)";
    }
    case 6: /* --container-userns */
        return strcmp(v, "on") == 0 || strcmp(v, "off") == 0 ? NULL : "must be on or off";
    case 7: { /* --container-id-map */
        idmap m;
        return idmap_parse(v, &m);
    }
    case 8: { /* --job-uids */
        unsigned first, count;
        return idmap_parse_job_uids(v, &first, &count);
    }
    default: { /* --pull-timeout */
        char *end;
        long long n = strtoll(v, &end, 10);
        return *v && !*end && n >= 1 && n <= 86400 ? NULL
                                                   : "must be a number of seconds, 1 to 86400";
    }
    }
}

int server_agent_option(barge_config *c, int opt_executor_relative, const char *v)
{
    static const char *const names[] = {"executor", "registry-mirror", "insecure-registry",
                                        "image-cache-size", "pull-timeout", "job-user",
                                        "container-userns", "container-id-map", "job-uids"};
    const char *name = names[opt_executor_relative];
    if ((strcmp(name, "job-user") == 0 && agent_arg_given(c, "job-uids")) ||
        (strcmp(name, "job-uids") == 0 && agent_arg_given(c, "job-user"))) {
        fprintf(stderr, "barge server: give one of --job-user (one user for every attempt) and "
                        "--job-uids (a uid of its own for each)\n");
        return -1;
    }
    const char *why = agent_option_invalid(opt_executor_relative, v);
    if (why) {
        fprintf(stderr, "barge server: --%s %s (got '%s')\n", name, why, v);
        return -1;
    }
    server_add_agent_arg(c, name, v);
    return 0;
}

int server_efs_mounts_option(barge_config *c, const char *path)
{
    char *err = NULL;
    json_t *m = efs_mounts_load(path, &err);
    char *abs = m ? realpath(path, NULL) : NULL;
    json_decref(m);
    if (!abs) {
        fprintf(stderr, "barge server: --efs-mounts %s\n", err ? err : strerror(errno));
        free(err);
        return -1;
    }
    server_add_agent_arg(c, "efs-mounts", abs);
    free(abs);
    return 0;
}

int server_privileged_option(barge_config *c, int allow)
{
    if (c->allow_privileged != PRIVILEGED_REFUSE &&
        c->allow_privileged != (allow ? PRIVILEGED_ALLOW : PRIVILEGED_IGNORE)) {
        fprintf(stderr, "barge server: give one of --allow-privileged and --ignore-privileged\n");
        return -1;
    }
    c->allow_privileged = allow ? PRIVILEGED_ALLOW : PRIVILEGED_IGNORE;
    return 0;
}

void server_privileged_say(const barge_config *c)
{
    if (c->allow_privileged == PRIVILEGED_ALLOW)
        log_warn("privileged containers are allowed (--allow-privileged): a job definition may "
                 "give its jobs full access to the instances they run on");
    else if (c->allow_privileged == PRIVILEGED_IGNORE)
        log_info("definitions of privileged containers are accepted and their containers run "
                 "unprivileged, as every other (--ignore-privileged)");
}
