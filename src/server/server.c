/* server — `barge server`: options, start-up order, and a clean stop on SIGTERM or SIGINT. */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/opts.h"
#include "common/sigv4.h"
#include "common/util.h"
#include "server/base/agent_clock.h"
#include "server/base/agent_ident.h"
#include "server/base/core.h"
#include "server/base/logstore.h"
#include "server/base/store.h"
#include "server/base/store_pipe.h"
#include "server/model/config.h"
#include "server/model/instance.h"
#include "server/model/events.h"
#include "server/model/instance_store.h"
#include "server/model/jobs.h"
#include "server/model/model.h"
#include "server/model/retention.h"
#include "server/model/state.h"
#include "server/engine/timelimit.h"
#include "server/engine/attempt.h"
#include "server/engine/drain.h"
#include "server/engine/fleet.h"
#include "server/engine/provider_local.h"
#include "server/engine/provider_exec.h"
#include "server/engine/scheduler.h"
#include "server/api/api.h"
#include "server/api/api_logs.h"
#include "server/api/auth.h"
#include "server/api/auth_temp.h"
#include "server/api/jobdef.h"
#include "server/base/audit.h"
#include "server/http_server.h"
#include "server/http_standby.h"
#include "server/join_tokens.h"
#include "server/server_limits.h"
#include "server/server_listen.h"
#include "server/server_agents.h"
#include "server/server_alive.h"
#include "server/server_creds.h"
#include "server/server_signals.h"
#include "server/server_defaults.h"
#include "server/webhooks.h"
#include "server/server_usage.h"
#include "server/server_reload.h"
#include "server/server_store.h"
#include "server/tls.h"
#include "server/model/secrets.h"

/* How many times a shared store that failed while read at a takeover is read again, a second
 * apart (the lease's renewals go on meanwhile). */
#define LOAD_TRIES 30

/* An AWS account id: twelve digits, as every ARN carries it. */
static int account_valid(const char *s)
{
    if (strlen(s) != 12) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* ---- the core's hooks: the server decides what each turn of the core does ------------- */

/* Before each commit: a scheduling pass when something may let a job run, then every job the
 * batch changed is written, in the same transaction.  The last batch stops the fleet first and
 * leaves the clean-stop record; the first batch after such a stop deletes it. */
static int before_commit(void *ctx, int final)
{
    state *st = ctx;
    if (final) {
        fleet_stop(st);
        /* No new placement in the last batch: its answer may never reach the agent. */
        st->jobs->sched_needed = 0;
    } else {
        sched_pass(st);
    }
    fleet_answer_now(st);
    jobs_flush(st);
    jobs_flush_shares(st, final);
    instance_store_flush(st);
    /* The events of the batch, in its transaction; at the last batch every reader that waits
     * is answered. */
    if (final) events_expire(st, 1);
    events_flush(st);
    if (final) {
        /* What still runs carries on for the next start; an attempt whose agent does not come
         * back was stopped by the operator's hand, not lost, and costs its job nothing
         * (docs/decisions.md, "Restarts"). */
        model_note_clean_stop(st);
    } else if (st->forget_clean_stop) {
        model_forget_clean_stop(st);
    }
    if (st->save_event_id_prefix) model_save_event_id_prefix(st);
    return st->store_failed ? -1 : 0;
}

/* After a failed commit: the state is rebuilt from the store; the fleet stays, parked long
 * polls included, and the attempts the store says run on its instances go back on them, so a
 * failed commit costs no attempt. */
static int reload(void *ctx, char **err)
{
    state *st = ctx;
    if (model_reload(st, err) != 0) return -1;
    attempt_recover(st);
    server_creds_restore(st);
    fleet_resume(st);
    return 0;
}

static void tick(void *ctx)
{
    drain_tick(ctx);
    fleet_tick(ctx);
    timelimit_tick(ctx);
    api_metrics_tick(ctx);
    events_expire(ctx, 0);
    retention_tick(ctx);
    server_alive_touch();
}

core_hooks server_core_hooks(state *st)
{
    return (core_hooks){.ctx = st, .before_commit = before_commit, .reload = reload,
                        .tick = tick, .tick_ms = 1000};
}

/* --tls-cert and --tls-key: read and checked before anything else starts, and the certificate
 * (or --tls-ca) handed to the local agents as their --ca-file, by an absolute path since they
 * may run elsewhere.  Returns 0, or 2 after saying why. */
static int setup_tls(barge_config *c, const char *cert, const char *key, const char *ca,
                     tls_files *tls)
{
    if (!cert != !key || (ca && !cert)) {
        fprintf(stderr, "barge server: %s\n",
                ca && !cert ? "--tls-ca needs --tls-cert and --tls-key"
                            : "--tls-cert and --tls-key go together: give both to serve HTTPS");
        return 2;
    }
    if (!cert) return 0;
    char *warning = NULL, *err = NULL;
    if (tls_load(cert, key, server_agent_host(c), ca, tls, &warning, &err) < 0 ||
        http_use_tls(tls->cert_pem, tls->key_pem, &err) < 0) {
        fprintf(stderr, "barge server: %s\n", err);
        free(err);
        tls_files_free(tls);
        return 2;
    }
    if (warning) log_warn("%s", warning);
    free(warning);
    struct stat ks;
    if (stat(key, &ks) == 0 && (ks.st_mode & 077))
        log_warn("--tls-key %s may be read by other users (mode %03o); make it 0600", key,
                 (unsigned)(ks.st_mode & 0777));
    const char *trust = ca ? ca : cert;
    char *abs = realpath(trust, NULL);
    if (!abs || access(abs, R_OK) != 0) {
        fprintf(stderr, "barge server: --tls-%s %s cannot be read: %s\n", ca ? "ca" : "cert",
                trust, strerror(errno));
        free(abs);
        tls_files_free(tls);
        return 2;
    }
    server_add_agent_arg(c, "ca-file", abs);
    free(abs);
    return 0;
}

static void hand_url(core_call *call, void *ctx, int64_t now_ms)
{
    state *st = ctx;
    fleet_set_url(st->fleet, call->arg);
    /* Jobs that waited for a launch may have one now, and so may the environments' minvCpus. */
    st->jobs->sched_needed = 1;
    fleet_keep_capacity(st);
    core_answer(call, json_object());
}

static void url_handed(core_call *call)
{
    free(call->body);
    free((char *)call->arg);
}

int server_main(int argc, char **argv)
{
    barge_config *c = &barge_cfg;
    config_defaults(c);
    enum { OPT_REGION = 256, OPT_ACCOUNT, OPT_SYNC, OPT_THREADS, OPT_LOGLEVEL, OPT_DATADIR, OPT_LISTEN, OPT_DEV,
           OPT_TOKEN, OPT_IDLE, OPT_GRACE, OPT_MAXDEPS, OPT_MAXARRAY, OPT_MAXSHARES, OPT_EXECUTOR, OPT_MIRROR,
           OPT_INSECURE, OPT_IMGSIZE, OPT_PULLTIMEOUT, OPT_JOBUSER, OPT_USERNS, OPT_IDMAP,
           OPT_JOBUIDS,
           OPT_PRIVILEGED, OPT_SECRETS,
           OPT_WORKROOT, OPT_TLSCERT, OPT_TLSKEY, OPT_TLSCA,
           OPT_CREDENTIALS, OPT_POLICIES, OPT_MAXPIDS, OPT_ROLES, OPT_ROLESECONDS, OPT_TOKENS,
           OPT_CREDSECS, OPT_CREDGRACE, OPT_PERADDR, OPT_REQTIMEOUT, OPT_RATELIMIT, OPT_SPOT,
           OPT_STOPAGENTS, OPT_AGENTLOST, OPT_METRICSTOKEN, OPT_NODEFAULTS, OPT_PROVIDER,
           OPT_AGENTURL, OPT_WEBHOOKS, OPT_STORE, OPT_LEASE, OPT_RENEW, OPT_RETENTION, OPT_EVKEPT, OPT_RESERVE,
           OPT_EFS, OPT_IGNPRIV };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"data-dir", required_argument, NULL, OPT_DATADIR},
        {"store", required_argument, NULL, OPT_STORE},
        {"lease-ms", required_argument, NULL, OPT_LEASE},
        {"lease-renew-ms", required_argument, NULL, OPT_RENEW},
        {"region", required_argument, NULL, OPT_REGION},
        {"account-id", required_argument, NULL, OPT_ACCOUNT},
        {"dev", no_argument, NULL, OPT_DEV},
        {"sync", required_argument, NULL, OPT_SYNC},
        {"http-threads", required_argument, NULL, OPT_THREADS},
        {"log-level", required_argument, NULL, OPT_LOGLEVEL},
        {"agent-token", required_argument, NULL, OPT_TOKEN},
        {"agent-tokens", required_argument, NULL, OPT_TOKENS},
        {"instance-credential-seconds", required_argument, NULL, OPT_CREDSECS},
        {"instance-credential-grace-seconds", required_argument, NULL, OPT_CREDGRACE},
        {"idle-seconds", required_argument, NULL, OPT_IDLE},
        {"stop-local-agents", no_argument, NULL, OPT_STOPAGENTS},
        {"metrics-token", required_argument, NULL, OPT_METRICSTOKEN},
        {"no-default-queue", no_argument, NULL, OPT_NODEFAULTS},
        {"webhooks", required_argument, NULL, OPT_WEBHOOKS},
        {"retention-hours", required_argument, NULL, OPT_RETENTION},
        {"events-kept", required_argument, NULL, OPT_EVKEPT},
        {"log-reserve-mb", required_argument, NULL, OPT_RESERVE},
        {"agent-server-lost-seconds", required_argument, NULL, OPT_AGENTLOST},
        {"kill-grace-seconds", required_argument, NULL, OPT_GRACE},
        {"max-depends-on", required_argument, NULL, OPT_MAXDEPS},
        {"max-array-size", required_argument, NULL, OPT_MAXARRAY},
        {"max-active-shares", required_argument, NULL, OPT_MAXSHARES},
        {"executor", required_argument, NULL, OPT_EXECUTOR},
        {"registry-mirror", required_argument, NULL, OPT_MIRROR},
        {"insecure-registry", required_argument, NULL, OPT_INSECURE},
        {"image-cache-size", required_argument, NULL, OPT_IMGSIZE},
        {"pull-timeout", required_argument, NULL, OPT_PULLTIMEOUT},
        {"job-user", required_argument, NULL, OPT_JOBUSER},
        {"job-uids", required_argument, NULL, OPT_JOBUIDS},
        {"efs-mounts", required_argument, NULL, OPT_EFS},
        {"ignore-privileged", no_argument, NULL, OPT_IGNPRIV},
        {"container-userns", required_argument, NULL, OPT_USERNS},
        {"container-id-map", required_argument, NULL, OPT_IDMAP},
        {"agent-work-dir", required_argument, NULL, OPT_WORKROOT},
        {"allow-privileged", no_argument, NULL, OPT_PRIVILEGED},
        {"secrets", required_argument, NULL, OPT_SECRETS},
        {"credentials", required_argument, NULL, OPT_CREDENTIALS},
        {"policies", required_argument, NULL, OPT_POLICIES},
        {"roles", required_argument, NULL, OPT_ROLES},
        {"role-session-seconds", required_argument, NULL, OPT_ROLESECONDS},
        {"max-pids-per-job", required_argument, NULL, OPT_MAXPIDS},
        {"max-connections-per-address", required_argument, NULL, OPT_PERADDR},
        {"request-timeout", required_argument, NULL, OPT_REQTIMEOUT},
        {"rate-limit", required_argument, NULL, OPT_RATELIMIT},
        {"spot-reclaim-per-hour", required_argument, NULL, OPT_SPOT},
        {"provider-commands", required_argument, NULL, OPT_PROVIDER},
        {"agent-url", required_argument, NULL, OPT_AGENTURL},
        {"tls-cert", required_argument, NULL, OPT_TLSCERT},
        {"tls-key", required_argument, NULL, OPT_TLSKEY},
        {"tls-ca", required_argument, NULL, OPT_TLSCA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o, sync_given = 0;
    const char *lease_given = NULL;
    int no_defaults = 0;
    const char *credentials = NULL, *policies = NULL, *roles = NULL, *tokens_file = NULL;
    int role_seconds = AUTH_TEMP_DEFAULT_SECONDS, token_given = 0;
    long cred_seconds = 3600, cred_grace = 300;
    const char *tls_cert = NULL, *tls_key = NULL, *tls_ca = NULL, *webhooks = NULL;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (opts_value_check("barge server", o, optarg, opts)) return 2;
        switch (o) {
        case OPT_LISTEN:
            if (server_listen_option(optarg, c) < 0) return 2;
            break;
        case OPT_DATADIR:
            if (!*optarg) return fprintf(stderr, "barge server: --data-dir is empty\n"), 2;
            c->data_dir = optarg;
            break;
        case OPT_STORE: case OPT_LEASE: case OPT_RENEW: {
            static const char *const names[] = {"store", "lease-ms", "lease-renew-ms"};
            if (server_store_option(names[o - OPT_STORE], optarg, c) < 0) return 2;
            if (o != OPT_STORE) lease_given = names[o - OPT_STORE];
            break;
        }
        case OPT_REGION:
            if (!sigv4_region_valid(optarg)) {
                fprintf(stderr, "barge server: --region must be 1 to %d lowercase letters, digits "
                                "or '-' (not first or last), as AWS names regions (got '%s')\n",
                        SIGV4_REGION_MAX, optarg);
                return 2;
            }
            c->region = optarg;
            break;
        case OPT_ACCOUNT:
            if (!account_valid(optarg)) {
                fprintf(stderr, "barge server: --account-id must be 12 digits (got '%s')\n",
                        optarg);
                return 2;
            }
            c->account_id = optarg;
            break;
        case OPT_DEV: c->dev = 1; break;
        case OPT_PRIVILEGED:
        case OPT_IGNPRIV:
            if (server_privileged_option(c, o == OPT_PRIVILEGED) < 0) return 2;
            break;
        case OPT_SECRETS: c->secrets_file = optarg; break;
        case OPT_PROVIDER: c->provider_commands = optarg; break;
        case OPT_AGENTURL:
            if (server_check_agent_urls(optarg) < 0) return 2;
            c->remote_url = util_http_scheme_lower(optarg);
            break;
        case OPT_CREDENTIALS: credentials = optarg; break;
        case OPT_POLICIES: policies = optarg; break;
        case OPT_ROLES: roles = optarg; break;
        case OPT_ROLESECONDS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || !*optarg || v < 1 || v > AUTH_TEMP_MAX_SECONDS) {
                fprintf(stderr, "barge server: --role-session-seconds must be a number of "
                                "seconds, 1 to %d (got '%s')\n", AUTH_TEMP_MAX_SECONDS, optarg);
                return 2;
            }
            role_seconds = (int)v;
            break;
        }
        case OPT_WORKROOT:
            if (optarg[0] != '/') {
                fprintf(stderr, "barge server: --agent-work-dir must be an absolute path (got "
                                "'%s')\n", optarg);
                return 2;
            }
            c->agent_work_root = optarg;
            break;
        case OPT_TLSCERT: tls_cert = optarg; break;
        case OPT_TLSKEY: tls_key = optarg; break;
        case OPT_TLSCA: tls_ca = optarg; break;
        case OPT_SYNC:
            sync_given = 1;
            if (strcmp(optarg, "full") == 0) c->sync_full = 1;
            else if (strcmp(optarg, "normal") == 0) c->sync_full = 0;
            else {
                fprintf(stderr, "barge server: --sync must be 'full' or 'normal' (got '%s')\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_THREADS: {
            long v;
            if (server_number_option("http-threads", optarg, 1, 64, &v) < 0) return 2;
            c->http_threads = (int)v;
            break;
        }
        case OPT_LOGLEVEL:
            if (strcmp(optarg, "debug") == 0) log_level = LOG_DEBUG;
            else if (strcmp(optarg, "info") == 0) log_level = LOG_INFO;
            else if (strcmp(optarg, "warn") == 0) log_level = LOG_WARN;
            else if (strcmp(optarg, "error") == 0) log_level = LOG_ERROR;
            else {
                fprintf(stderr, "barge server: --log-level must be debug, info, warn or error\n");
                return 2;
            }
            break;
        case OPT_TOKEN:
            if (strlen(optarg) < 8) {
                fprintf(stderr, "barge server: --agent-token must be at least 8 characters\n");
                return 2;
            }
            if (agent_ident_launch_like(optarg)) {
                fprintf(stderr, "barge server: --agent-token " AGENT_IDENT_LAUNCH_LIKE_WHY
                                "; choose another\n");
                return 2;
            }
            c->agent_token = optarg;
            token_given = 1;
            break;
        case OPT_TOKENS: tokens_file = optarg; break;
        case OPT_STOPAGENTS: c->stop_local_agents = 1; break;
        case OPT_NODEFAULTS: no_defaults = 1; break;
        case OPT_WEBHOOKS: webhooks = optarg; break;
        case OPT_RETENTION:
            if (server_retention_option(optarg, c) < 0) return 2;
            break;
        case OPT_EVKEPT:
            /* About 50 bytes each in memory once made, and their share of the store. */
            if (server_number_option("events-kept", optarg, 10000, 20000000, &c->events_kept) < 0)
                return 2;
            break;
        case OPT_RESERVE:
            if (server_number_option("log-reserve-mb", optarg, 0, 1L << 30, &c->log_reserve_mib) < 0)
                return 2;
            break;
        case OPT_METRICSTOKEN:
            if (server_token_option("metrics-token", optarg, &c->metrics_token) < 0) return 2;
            break;
        case OPT_AGENTLOST: {
            /* The local agents' --server-lost-seconds. */
            long v;
            if (server_number_option("agent-server-lost-seconds", optarg, 0, 31536000, &v) < 0)
                return 2;
            server_add_agent_arg(c, "server-lost-seconds", optarg);
            break;
        }
        case OPT_CREDSECS:
            if (server_number_option("instance-credential-seconds", optarg, 1, 2592000,
                                     &cred_seconds) < 0)
                return 2;
            break;
        case OPT_CREDGRACE:
            if (server_number_option("instance-credential-grace-seconds", optarg, 0, 2592000,
                                     &cred_grace) < 0)
                return 2;
            break;
        case OPT_IDLE:
        case OPT_GRACE: {
            long v;
            if (server_number_option(o == OPT_IDLE ? "idle-seconds" : "kill-grace-seconds",
                                     optarg, 0, 86400, &v) < 0)
                return 2;
            if (o == OPT_IDLE) c->idle_seconds = (int)v;
            else c->kill_grace_s = (int)v;
            break;
        }
        case OPT_MAXDEPS:
        case OPT_MAXARRAY: {
            long v;
            if (server_number_option(o == OPT_MAXDEPS ? "max-depends-on" : "max-array-size",
                                     optarg, o == OPT_MAXDEPS ? 0 : 2,
                                     o == OPT_MAXDEPS ? 1000 : 1000000, &v) < 0)
                return 2;
            if (o == OPT_MAXDEPS) c->max_depends_on = (int)v;
            else c->max_array_size = (int)v;
            break;
        }
        case OPT_MAXSHARES: {
            long v;
            if (server_number_option("max-active-shares", optarg, 1, 1000000, &v) < 0) return 2;
            c->max_active_shares = (int)v;
            break;
        }
        case OPT_EXECUTOR:
        case OPT_MIRROR:
        case OPT_INSECURE:
        case OPT_IMGSIZE:
        case OPT_PULLTIMEOUT:
        case OPT_JOBUSER:
        case OPT_USERNS:
        case OPT_IDMAP:
        case OPT_JOBUIDS:
            /* In the order of server_agent_option's table. */
            if (server_agent_option(c, o - OPT_EXECUTOR, optarg) < 0) return 2;
            break;
        case OPT_EFS:
            if (server_efs_mounts_option(c, optarg) < 0) return 2;
            break;
        case OPT_MAXPIDS: {
            /* The local agents enforce it (barge agent --max-pids). */
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 4194304) {
                fprintf(stderr, "barge server: --max-pids-per-job must be a number of "
                                "processes, 1 to 4194304 (got '%s')\n", optarg);
                return 2;
            }
            server_add_agent_arg(c, "max-pids", optarg);
            break;
        }
        case OPT_PERADDR:
        case OPT_REQTIMEOUT:
        case OPT_RATELIMIT:
            if (server_limit_option(o == OPT_PERADDR     ? "max-connections-per-address"
                                    : o == OPT_RATELIMIT ? "rate-limit" : "request-timeout",
                                    optarg, c) < 0)
                return 2;
            break;
        case OPT_SPOT: {
            char *end;
            c->spot_reclaim_per_hour = strtod(optarg, &end);
            if (*end || !*optarg || !(c->spot_reclaim_per_hour >= 0) ||
                c->spot_reclaim_per_hour > 3600) {
                fprintf(stderr, "barge server: --spot-reclaim-per-hour must be a number from 0 to "
                                "3600 (got '%s')\n", optarg);
                return 2;
            }
            break;
        }
        case 'h': server_usage(stdout); return 0;
        case '?':
        case ':': return opts_error("barge server", o, argv, opts);
        default: server_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "barge server: unexpected argument '%.200s' (every option starts with "
                        "--); see `barge server --help`\n", argv[optind]);
        return 2;
    }
    if (server_store_options_apply(c, sync_given, lease_given) < 0) return 2;
    /* As every file option: the last --webhooks given counts (a target in two files would be
     * delivered every event twice). */
    if (webhooks && webhooks_read(webhooks) < 0) return 2;
    if (server_agent_options_check(c) < 0) return 2;
    static tls_files tls; /* the daemon reads it until it stops */
    int trc = setup_tls(c, tls_cert, tls_key, tls_ca, &tls);
    if (trc) return trc;
    char *secrets_err = NULL;
    if (secrets_load(c->secrets_file, &secrets_err) < 0) {
        fprintf(stderr, "barge server: --secrets: %s\n", secrets_err);
        free(secrets_err);
        return 2;
    }
    if (c->provider_commands) {
        char *perr = NULL;
        json_t *cmds = provider_exec_read(c->provider_commands, &perr);
        if (!cmds) {
            fprintf(stderr, "barge server: --provider-commands: %s\n", perr);
            free(perr);
            return 2;
        }
        provider_exec_install(cmds);
    }
    /* After the other options, so that a mistake in one of them is named first. */
    if (!credentials && !c->dev) {
        fprintf(stderr, "barge server: no keys to check requests against: start it with "
                        "--credentials FILE (an AWS shared-credentials file whose sections each "
                        "add 'barge_policy = admin', 'submit' or 'read'; see docs/credentials.md), "
                        "or with --dev on a machine you trust, to accept any key\n");
        return 2;
    }
    if (policies && !credentials) {
        fprintf(stderr, "barge server: --policies needs --credentials, whose principals name "
                        "the policies\n");
        return 2;
    }
    if (roles && !credentials) {
        fprintf(stderr, "barge server: --roles needs --credentials: without keys checked, a job "
                        "of any role gets credentials that work for anything\n");
        return 2;
    }
    char *auth_err = NULL;
    if (auth_load(credentials, policies, &auth_err) < 0 ||
        auth_temp_init(roles, role_seconds, &auth_err) < 0) {
        fprintf(stderr, "barge server: %s\n", auth_err);
        free(auth_err);
        auth_temp_free();
        auth_free();
        return 2;
    }
    /* Jobs' roles: the engine checks them at dispatch and revokes an attempt's credentials when
     * it ends, through hooks, since it sits below the API. */
    server_creds_wire();

    if (join_tokens_read_file(tokens_file)) {
        auth_free();
        return 2;
    }
    agent_ident_configure((int)cred_seconds, (int)cred_grace);

    /* Block the stop signals and SIGHUP in every thread; the main thread waits for them with
     * sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Until the main thread waits for them, a watcher does (server_signals.h). */
    server_signals_starting(&stop);

    int listen_rc = server_listen_check(c);
    if (listen_rc) return listen_rc;
    if (mkdir(c->data_dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "barge server: cannot create the data directory %s: %s\n", c->data_dir,
                strerror(errno));
        return 1;
    }
    if (server_lock_data_dir(c->data_dir) < 0 ||
        (!c->store_uri && server_check_emptied_db(c->data_dir) < 0) ||
        server_secure_data_dir(c->data_dir) < 0)
        return 1;
    if (join_tokens_server(c->data_dir, token_given ? c->agent_token : NULL)) return 1;
    static char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        c->self_exe = self;
    }
    char *err = NULL;
    store *db = server_store_open(c, &err);
    if (!db) {
        fprintf(stderr, "barge server: %s\n", err);
        free(err);
        return 1;
    }
    if (c->store_uri && join_tokens_share(db)) {
        store_close(db);
        return 1;
    }
    if (audit_open(c->data_dir, &err) < 0) {
        fprintf(stderr, "barge server: %s\n", err);
        free(err);
        store_close(db);
        return 1;
    }
    server_fit_open_files(c);
    /* Job logs live in a store of their own, so heavy logging never slows the main store. */
    logstore *logs = logstore_open(c->data_dir, &err);
    if (!logs) {
        fprintf(stderr, "barge server: %s\n", err);
        free(err);
        store_close(db);
        return 1;
    }
    /* AWS Batch's log group is there before any job writes to it, as in an AWS account. */
    if (logstore_wait(logs, logstore_create_group(logs, LOGSTORE_BATCH_GROUP)) < 0) {
        fprintf(stderr, "barge server: cannot write to the log store in %s\n", c->data_dir);
        logstore_close(logs);
        store_close(db);
        return 1;
    }
    api_logs_init(logs);
    jobdef_init();
    api_init();
    api_job_init();
    /* On a shared store HTTP starts first, as a standby, and the state is loaded once this
     * server leads. */
    char *holder = NULL;
    int lead = 1;
    if (c->store_uri) {
        http_standby(1, NULL);
        if (http_start(c->listen_host, c->listen_port, c->http_threads, &err) == 0) {
            holder = server_store_holder(c, tls_cert != NULL);
            /* Standing by takes the signals itself. */
            server_signals_starting_done();
            lead = server_store_lead(c, db, logs, holder, &stop, &err);
            server_signals_starting(&stop);
            http_standby(1, holder); /* while loading */
        } else {
            lead = -1;
        }
        free(holder);
    }
    if (lead <= 0) {
        if (lead < 0) fprintf(stderr, "barge server: %s\n", err);
        free(err);
        http_stop();
        server_store_release();
        logstore_close(logs);
        store_close(db);
        return lead < 0;
    }
    /* Commits run on a thread of their own while the core runs the next batch (store_pipe.h). */
    db = store_pipe_new(db);
    if (!db) {
        fprintf(stderr, "barge server: cannot start the store's writer thread\n");
        logstore_close(logs);
        return 1;
    }
    int64_t alive_at = server_alive_open(c->data_dir);
    state *st = model_load(db, &err);
    /* A shared store that failed while this server read it after taking the lease (the
     * database restarting as the old leader died: the moment a takeover is for) is read again
     * for a while, rather than leaving no server leading: the lease is renewed meanwhile, and
     * if another server takes it over this one is fenced at its first commit. */
    for (int tries = 1; !st && c->store_uri && tries <= LOAD_TRIES; tries++) {
        log_error("%s; reading it again in a second (%d of %d)", err, tries, LOAD_TRIES);
        free(err);
        err = NULL;
        struct timespec second = {1, 0};
        nanosleep(&second, NULL);
        st = model_load(db, &err);
    }
    if (!st) {
        fprintf(stderr, "barge server: %s\n", err);
        free(err);
        logstore_close(logs);
        store_close(db);
        return 1;
    }
    st->logs = logs;
    /* On a shared store the instances may be another server's, which crashed: when is not
     * in this data directory. */
    st->alive_at = c->store_uri ? 0 : alive_at;
    attempt_recover(st);
    server_creds_restore(st);
    provider_local_adopt(st);
    provider_exec_adopt(st);
    /* From the core's start on a stop must be a clean one (the core's last batch, the
     * clean-stop record): the main thread's sigwait takes the signals, pending meanwhile. */
    server_signals_starting_done();
    core_hooks hooks = server_core_hooks(st);
    if (core_start(db, &hooks, &err) < 0) {
        fprintf(stderr, "barge server: %s\n", err);
        free(err);
        model_free(st);
        logstore_close(logs);
        store_close(db);
        return 1;
    }
    if (!no_defaults && server_defaults(st) != 0) {
        core_stop();
        model_free(st);
        logstore_close(logs);
        store_close(db);
        return 1;
    }
    webhooks_start(c->data_dir, api_route("GET", "/barge/v1/events")); /* the stream's text */
    http_standby(0, NULL);
    if (!c->store_uri && http_start(c->listen_host, c->listen_port, c->http_threads, &err) < 0) {
        fprintf(stderr, "barge server: %s\n", err);
        free(err);
        core_stop();
        model_free(st);
        logstore_close(logs);
        store_close(db);
        return 1;
    }
    /* From now on the local provider may launch agents: they know where to register.  The
     * fleet belongs to the core thread, so the URL reaches it as a call. */
    static core_call url_call;
    char *url = server_agent_url(c, tls_cert != NULL);
    url_call = (core_call){.run = hand_url, .arg = url, .done = url_handed};
    core_submit(&url_call);
    if (auth_enabled())
        log_info("requests must be signed with one of the %zu keys of %s (SigV4, verified) and "
                 "are authorized by their principal's policies", auth_principal_count(),
                 credentials);
    if (auth_temp_role_count())
        log_info("jobs may assume the %zu roles of %s; their credentials last %d s",
                 auth_temp_role_count(), roles, role_seconds);
    if (!auth_enabled())
        log_warn("developer mode (--dev): requests signed with any key, or none, are accepted "
                 "and may do anything; give --credentials FILE to check keys");
    server_privileged_say(c);
    /* An IPv6 address in brackets, so that the line holds a URL. */
    int v6 = strchr(c->listen_host, ':') != NULL;
    log_info("barge server listening on %s://%s%s%s:%d (data in %s, region %s, account %s%s)",
             tls_cert ? "https" : "http", v6 ? "[" : "", c->listen_host, v6 ? "]" : "",
             http_port(), c->data_dir, c->region,
             c->account_id, c->dev ? ", developer mode" : "");

    if (c->provider_commands && !c->remote_url &&
        (strncmp(server_agent_host(c), "127.", 4) == 0 || strcmp(server_agent_host(c), "::1") == 0)) {
        char *u = server_agent_url(c, tls_cert != NULL); /* the core owns url by now */
        log_warn("--provider-commands: launch commands hand their agents %s, a loopback "
                 "address that agents on other machines cannot reach; give --agent-url", u);
        free(u);
    }
    int sig = 0;
    /* SIGHUP: the join tokens, keys, policies and secrets again (a bad file leaves what it
     * would have replaced as it was). */
    while (sigwait(&stop, &sig) == 0 && sig == SIGHUP) {
        join_tokens_reload();
        server_reload(c);
        if (roles || webhooks)
            log_info("SIGHUP: %s%s%s %s read at start only; restart the server after changing "
                     "%s", roles ? "--roles" : "", roles && webhooks ? " and " : "",
                     webhooks ? "--webhooks" : "", roles && webhooks ? "are" : "is",
                     roles && webhooks ? "them" : "it");
    }
    log_info("received %s; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_quiesce();
    webhooks_stop();
    core_stop();
    /* Uploads stored after the log copy is let go would be kept here only, and the next
     * leader would never have lines this one acknowledged. */
    http_stop_uploads();
    server_store_release();
    webhooks_join();
    http_stop();
    model_free(st);
    /* After the core and the HTTP threads, the log store's last users. */
    logstore_close(logs);
    store_close(db);
    secrets_free();
    audit_close();
    tls_files_free(&tls);
    auth_temp_free();
    auth_free();
    agent_ident_free();
    agent_clock_free();
    log_info("stopped");
    return 0;
}
