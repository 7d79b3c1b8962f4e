/* agent — `barge agent`: its options, its start-up and its orderly stop.  agent_state.h says how
 * its threads share the work. */
#include "agent/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/catalog.h"
#include "common/efs_mounts.h"
#include "common/idmap.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/opts.h"
#include "common/util.h"
#include "agent/agent_creds.h"
#include "agent/agent_exchange.h"
#include "agent/remover.h"
#include "agent/agent_logs.h"
#include "agent/agent_orphan.h"
#include "agent/agent_reports.h"
#include "agent/agent_state.h"
#include "agent/agent_users.h"
#include "agent/cgroup.h"
#include "agent/cgroup_pids.h"
#include "agent/exec_container.h"
#include "agent/executor.h"
#include "agent/image_cache.h"
#include "agent/job_uids.h"
#include "agent/warden.h"

/* How long a stopping agent keeps trying to deliver its last reports and logs. */
#define FINAL_FLUSH_MS 10000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: barge agent --server URL --compute-environment NAME [options]\n"
            "\n"
            "Runs on an instance: registers with the barge server, takes the jobs it assigns,\n"
            "runs each attempt in its job's container image (or as a host process) with its\n"
            "memory limit, reports and ships the logs.  SIGTERM or SIGINT stops the jobs and\n"
            "the agent cleanly.\n"
            "\n"
            "options:\n"
            "  --server URL[,URL...]        the barge server (for example http://10.0.0.5:8900,\n"
            "                               or https:// for one started with --tls-cert); several\n"
            "                               servers on one database: their URLs, and the agent\n"
            "                               follows whichever leads\n"
            "  --ca-file FILE               PEM certificates an https:// server's certificate\n"
            "                               is verified against: its CA's, or its own (default:\n"
            "                               the system's CA bundle)\n"
            "  --compute-environment NAME   the compute environment this instance serves\n"
            "  --instance-id ID             this instance's id (default: the server picks one)\n"
            "  --instance-type TYPE         report this instance type (for example m5.large); its\n"
            "                               size is the default for --vcpus and --memory\n"
            "  --vcpus N                    vCPUs to offer (default: the CPUs this process may\n"
            "                               use, or the instance type's)\n"
            "  --memory MIB                 memory to offer in MiB (default: the machine's,\n"
            "                               within the agent's own cgroup limit, or the instance\n"
            "                               type's)\n"
            "  --gpus N                     GPUs to offer (default 0, or the instance type's)\n"
            "  --max-pids N                 processes one attempt may have at once (default\n"
            "                               4096)\n"
            "  --token T                    the join token to register with: the server's,\n"
            "                               or one for this compute environment (default: the\n"
            "                               BARGE_AGENT_TOKEN environment variable); later\n"
            "                               requests carry the credential registration\n"
            "                               answers with, kept in memory only\n"
            "  --work-dir DIR               where attempts get their working directories\n"
            "                               (default: a fresh directory under $TMPDIR, removed at\n"
            "                               exit)\n"
            "  --executor container|process how attempts run: in their image with runc (the\n"
            "                               default when runc is installed), or as host processes\n"
            "  --image-cache DIR            where pulled and unpacked images are kept (default:\n"
            "                               WORK_DIR/images); one agent at a time may use it\n"
            "  --image-cache-size MIB       unpacked images kept beyond those in use, least\n"
            "                               recently used first out (default 10240)\n"
            "  --registry-mirror URL        pull Docker Hub images through this registry (for\n"
            "                               example http://127.0.0.1:5000), as Docker's\n"
            "                               registry-mirrors does\n"
            "  --insecure-registry HOST[:PORT]  speak plain HTTP to this registry (repeatable;\n"
            "                               registries on loopback addresses always are)\n"
            "  --pull-timeout SECONDS       how long one image pull or unpack may take\n"
            "                               (default 300)\n"
            "  --efs-mounts FILE            where this instance has the Amazon EFS file\n"
            "                               systems that job definitions name mounted: a JSON\n"
            "                               object of file system (fs-...) or access point\n"
            "                               (fsap-...) ids and directories (container executor)\n"
            "  --job-user USER              the host user every process-executor attempt runs\n"
            "                               as (root only when named here); by default a root\n"
            "                               agent runs each attempt as a uid of its own\n"
            "  --job-uids FIRST[:COUNT]     (root agents) the host uids those attempts take,\n"
            "                               one each, that no account, container or other\n"
            "                               program may use, at most 2147483647 (default\n"
            "                               2000000000:65536)\n"
            "  --container-userns on|off    on (the default): every container that is not\n"
            "                               privileged runs in a user namespace, its root an\n"
            "                               unprivileged host user; off: a container's root is\n"
            "                               the host's root\n"
            "  --container-id-map HOSTBASE[:SIZE]  the host ids of the containers' ids 0 to\n"
            "                               SIZE-1 (default SIZE 65536; default range: user\n"
            "                               " IDMAP_SUBID_USER "'s in /etc/subuid and /etc/subgid, else\n"
            "                               1000000000:65536)\n"
            "  --runtime-root DIR           runc's state directory, shared by the agents of a\n"
            "                               host (default /run/barge/runc)\n"
            "  --exit-with-parent           stop (as on SIGTERM) when the parent process dies\n"
            "  --server-lost-seconds N      once the server has not answered for N seconds,\n"
            "                               let the attempts here finish, keep what cannot be\n"
            "                               delivered in WORK_DIR/undelivered, and exit\n"
            "                               (default 900; 0: wait for the server forever)\n"
            "  --log-level LEVEL            debug, info (default), warn or error\n"
            "  -h, --help                   show this help\n");
}

static int parse_count(const char *opt, const char *s, long long min, long long max,
                       long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "barge agent: %s must be a whole number from %lld to %lld (got '%s')\n",
                opt, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int machine_vcpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static long long machine_memory_mib(const cgroup_host *cg)
{
    long long bytes = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    long long limit = cgroup_host_memory_limit(cg);
    if (limit > 0 && limit < bytes) bytes = limit;
    return bytes / (1024 * 1024);
}

static int parse_options(agent *ag, int argc, char **argv)
{
    enum { O_SERVER = 256, O_CE, O_IID, O_TYPE, O_VCPUS, O_MEM, O_GPUS, O_TOKEN, O_WORK,
           O_PARENT, O_LOGLEVEL, O_EXECUTOR, O_IMGDIR, O_IMGSIZE, O_MIRROR, O_INSECURE,
           O_RTROOT, O_PULLTIMEOUT, O_JOBUSER, O_EFS, O_CAFILE, O_MAXPIDS, O_USERNS, O_IDMAP,
           O_ORPHAN, O_JOBUIDS };
    static const struct option opts[] = {
        {"server", required_argument, NULL, O_SERVER},
        {"ca-file", required_argument, NULL, O_CAFILE},
        {"compute-environment", required_argument, NULL, O_CE},
        {"instance-id", required_argument, NULL, O_IID},
        {"instance-type", required_argument, NULL, O_TYPE},
        {"vcpus", required_argument, NULL, O_VCPUS},
        {"memory", required_argument, NULL, O_MEM},
        {"gpus", required_argument, NULL, O_GPUS},
        {"token", required_argument, NULL, O_TOKEN},
        {"work-dir", required_argument, NULL, O_WORK},
        {"exit-with-parent", no_argument, NULL, O_PARENT},
        {"server-lost-seconds", required_argument, NULL, O_ORPHAN},
        {"executor", required_argument, NULL, O_EXECUTOR},
        {"image-cache", required_argument, NULL, O_IMGDIR},
        {"image-cache-size", required_argument, NULL, O_IMGSIZE},
        {"registry-mirror", required_argument, NULL, O_MIRROR},
        {"insecure-registry", required_argument, NULL, O_INSECURE},
        {"runtime-root", required_argument, NULL, O_RTROOT},
        {"pull-timeout", required_argument, NULL, O_PULLTIMEOUT},
        {"max-pids", required_argument, NULL, O_MAXPIDS},
        {"job-user", required_argument, NULL, O_JOBUSER},
        {"job-uids", required_argument, NULL, O_JOBUIDS},
        {"efs-mounts", required_argument, NULL, O_EFS},
        {"container-userns", required_argument, NULL, O_USERNS},
        {"container-id-map", required_argument, NULL, O_IDMAP},
        {"log-level", required_argument, NULL, O_LOGLEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long long vcpus = -1, memory = -1, gpus = -1, max_pids = AGENT_MAX_PIDS;
    ag->orphan_s = AGENT_ORPHAN_DEFAULT_SECONDS;
    size_t nplain = 0;
    int o;
    ag->image_cache_mib = 10240;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (opts_value_check("barge agent", o, optarg, opts)) return 2;
        switch (o) {
        case O_SERVER: ag->server = optarg; break;
        case O_CAFILE:
            /* Checked now: unreadable, it would only show as a failed handshake, forever. */
            if (access(optarg, R_OK) != 0) {
                fprintf(stderr, "barge agent: --ca-file %s cannot be read: %s\n", optarg,
                        strerror(errno));
                return 2;
            }
            ag->ca_file = optarg;
            break;
        case O_CE: ag->ce = optarg; break;
        case O_IID:
            if (!util_instance_id_ok(optarg)) {
                fprintf(stderr, "barge agent: --instance-id must be 1 to %d letters, digits, "
                        "'-', '_' or '.' (got '%.200s')\n", UTIL_INSTANCE_ID_MAX, optarg);
                return 2;
            }
            free(ag->iid); /* the last one given counts */
            ag->iid = xstrdup(optarg);
            break;
        case O_TYPE:
            if (!catalog_find(optarg)) {
                fprintf(stderr, "barge agent: --instance-type '%s' is not an instance type barge "
                                "knows (for example m5.large or c5.xlarge)\n", optarg);
                return 2;
            }
            ag->instance_type = optarg;
            break;
        case O_VCPUS:
            if (parse_count("--vcpus", optarg, 1, 4096, &vcpus) < 0) return 2;
            break;
        case O_MEM:
            if (parse_count("--memory", optarg, 1, 2147483647, &memory) < 0) return 2;
            break;
        case O_GPUS:
            if (parse_count("--gpus", optarg, 0, 1024, &gpus) < 0) return 2;
            break;
        case O_MAXPIDS:
            if (parse_count("--max-pids", optarg, 1, 4194304, &max_pids) < 0) return 2;
            break;
        case O_TOKEN: ag->token = optarg; break;
        case O_WORK:
            free(ag->work_dir); /* the last one given counts */
            ag->work_dir = xstrdup(optarg);
            break;
        case O_PARENT: ag->exit_with_parent = 1; break;
        case O_ORPHAN: {
            long long v;
            if (parse_count("--server-lost-seconds", optarg, 0, 31536000, &v) < 0) return 2;
            ag->orphan_s = (int)v;
            break;
        }
        case O_EXECUTOR:
            if (strcmp(optarg, "container") != 0 && strcmp(optarg, "process") != 0) {
                fprintf(stderr, "barge agent: --executor must be container or process (got "
                                "'%s')\n", optarg);
                return 2;
            }
            ag->executor_opt = optarg;
            break;
        case O_IMGDIR: ag->image_cache_dir = optarg; break;
        case O_IMGSIZE:
            if (parse_count("--image-cache-size", optarg, 1, 1LL << 32, &ag->image_cache_mib) < 0)
                return 2;
            break;
        case O_MIRROR:
            if (!util_http_scheme_len(util_http_scheme_lower(optarg))) {
                fprintf(stderr, "barge agent: --registry-mirror must be an http:// or https:// "
                                "URL (got '%s')\n", optarg);
                return 2;
            }
            ag->registry_mirror = optarg;
            break;
        case O_INSECURE:
            if (!*optarg || strchr(optarg, '/')) {
                fprintf(stderr, "barge agent: --insecure-registry takes a registry's HOST or "
                                "HOST:PORT, without a scheme or path (got '%s')\n", optarg);
                return 2;
            }
            ag->plain_registries = xrealloc(ag->plain_registries,
                                            (nplain + 2) * sizeof *ag->plain_registries);
            ag->plain_registries[nplain++] = optarg;
            ag->plain_registries[nplain] = NULL;
            break;
        case O_RTROOT: ag->runtime_root = optarg; break;
        case O_JOBUSER:
        case O_JOBUIDS:
            if (o == O_JOBUSER ? ag->uids_given : ag->job_user != NULL) {
                fprintf(stderr, "barge agent: give one of --job-user (one user for every "
                                "attempt) and --job-uids (a uid of its own for each)\n");
                return 2;
            }
            if (o == O_JOBUSER) {
                ag->job_user = optarg;
                break;
            }
            {
            const char *why = idmap_parse_job_uids(optarg, &ag->uids_first, &ag->uids_count);
            if (why) {
                fprintf(stderr, "barge agent: --job-uids %s (got '%s')\n", why, optarg);
                return 2;
            }
            ag->uids_given = 1;
            break;
        }
        case O_EFS: {
            char *err = NULL;
            json_decref(ag->efs_mounts);
            ag->efs_mounts = efs_mounts_load(optarg, &err);
            if (!ag->efs_mounts) {
                fprintf(stderr, "barge agent: --efs-mounts %s\n", err);
                free(err);
                return 2;
            }
            break;
        }
        case O_USERNS:
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
                fprintf(stderr, "barge agent: --container-userns must be on or off (got '%s')\n",
                        optarg);
                return 2;
            }
            ag->container_userns_off = strcmp(optarg, "off") == 0;
            break;
        case O_IDMAP: {
            idmap m;
            const char *why = idmap_parse(optarg, &m);
            if (why) {
                fprintf(stderr, "barge agent: --container-id-map %s (got '%s')\n", why, optarg);
                return 2;
            }
            ag->container_id_map = optarg;
            break;
        }
        case O_PULLTIMEOUT:
            if (parse_count("--pull-timeout", optarg, 1, 86400, &ag->pull_timeout_s) < 0) return 2;
            break;
        case O_LOGLEVEL:
            if (strcmp(optarg, "debug") == 0) log_level = LOG_DEBUG;
            else if (strcmp(optarg, "info") == 0) log_level = LOG_INFO;
            else if (strcmp(optarg, "warn") == 0) log_level = LOG_WARN;
            else if (strcmp(optarg, "error") == 0) log_level = LOG_ERROR;
            else {
                fprintf(stderr, "barge agent: --log-level must be debug, info, warn or error\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        case '?':
        case ':': return opts_error("barge agent", o, argv, opts);
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "barge agent: unexpected argument '%.200s' (every option starts with "
                        "--); see `barge agent --help`\n", argv[optind]);
        return 2;
    }
    if (!ag->server) {
        fprintf(stderr, "barge agent: --server is required (the barge server's URL, for example "
                        "http://127.0.0.1:8900)\n");
        return 2;
    }
    if (!ag->ce || !*ag->ce) {
        fprintf(stderr, "barge agent: --compute-environment is required (the name of the "
                        "compute environment this instance serves)\n");
        return 2;
    }
    char serr[512];
    if (agent_servers_parse(&ag->servers, ag->server, serr, sizeof serr) < 0) {
        fprintf(stderr, "barge agent: %s\n", serr);
        return 2;
    }
    ag->max_pids = (int)max_pids;
    if (!ag->token) ag->token = getenv("BARGE_AGENT_TOKEN");
    /* Out of the environment, so that nothing the agent starts can inherit it.  The string of
     * an inherited variable stays where it is (unsetenv only takes it out of environ). */
    unsetenv("BARGE_AGENT_TOKEN");
    const catalog_type *t = ag->instance_type ? catalog_find(ag->instance_type) : NULL;
    ag->vcpus = (int)(vcpus > 0 ? vcpus : t ? t->vcpus : machine_vcpus());
    ag->memory_mib = memory > 0 ? memory : t ? t->memory_mib : 0; /* 0: measured later */
    ag->gpus = (int)(gpus >= 0 ? gpus : t ? t->gpus : 0);
    return -1;
}

/* Jobs get /dev/null as stdin; a closed descriptor 0, 1 or 2 here would confuse the spawner. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd) close(n);
        }
}

/* One agent a work directory: two would take each other's attempt directories (workdirs.c
 * names them slot-N from 0 in every agent, and removes one it finds as a dead agent's). */
static int lock_work_dir(agent *ag)
{
    char *path = xasprintf("%s/.agent-lock", ag->work_dir);
    ag->work_lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (ag->work_lock_fd >= 0 && flock(ag->work_lock_fd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (ag->work_lock_fd >= 0 && errno == EWOULDBLOCK)
        fprintf(stderr, "barge agent: --work-dir %s is in use by another agent on this host; "
                        "give each agent a work directory of its own\n", ag->work_dir);
    else
        fprintf(stderr, "barge agent: --work-dir %s cannot be locked: %s\n", ag->work_dir,
                strerror(errno));
    if (ag->work_lock_fd >= 0) close(ag->work_lock_fd);
    ag->work_lock_fd = -1;
    return -1;
}

static int prepare_work_dir(agent *ag)
{
    if (ag->work_dir) {
        int made = util_make_dirs(ag->work_dir, 0755);
        /* A directory the agent made is its own, and goes when the agent stops. */
        ag->own_work_dir = made == 1;
        if (made < 0) {
            fprintf(stderr, "barge agent: --work-dir %s cannot be created: %s\n", ag->work_dir,
                    strerror(errno));
            return -1;
        }
        struct stat st;
        if (stat(ag->work_dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(ag->work_dir, W_OK)) {
            fprintf(stderr, "barge agent: --work-dir %s is not a writable directory\n",
                    ag->work_dir);
            return -1;
        }
        return lock_work_dir(ag);
    }
    const char *tmp = getenv("TMPDIR");
    char *tmpl = xasprintf("%s/barge-agent-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "barge agent: cannot create a work directory (%s): %s; choose one with "
                        "--work-dir\n", tmpl, strerror(errno));
        free(tmpl);
        return -1;
    }
    ag->work_dir = tmpl;
    ag->own_work_dir = 1;
    return lock_work_dir(ag);
}

/* The executor backend: containers where a runtime is installed (or when asked for, which
 * then must work), host processes otherwise or when asked for.  0, or -1 after saying why. */
static int setup_backend(agent *ag)
{
    ag->backend = &exec_process_backend;
    if (ag->executor_opt && strcmp(ag->executor_opt, "process") == 0) return 0;
    const char *missing = container_runtime_missing();
    if (missing) {
        if (ag->executor_opt) {
            fprintf(stderr, "barge agent: --executor container: %s\n", missing);
            return -1;
        }
        log_warn("attempts run as host processes: %s", missing);
        return 0;
    }
    idmap ids;
    if (agent_setup_userns(ag, &ids) < 0) return -1;
    char *dir = ag->image_cache_dir ? xstrdup(ag->image_cache_dir)
                                    : xasprintf("%s/images", ag->work_dir);
    char *err = NULL;
    /* A cache in use by another agent: the next of DIR.1, DIR.2, ... that is free, so that
     * agents started with the same option on one host each get one and keep it across
     * restarts. */
    for (int i = 0; i < 64 && !ag->images; i++) {
        char *cand = i ? xasprintf("%s.%d", dir, i) : xstrdup(dir);
        free(err);
        err = NULL;
        if (util_make_dirs(cand, 0700) >= 0)
            ag->images = image_cache_new(cand, ag->image_cache_mib * 1024 * 1024, &err);
        else
            err = xasprintf("cannot create the image cache %s: %s", cand, strerror(errno));
        free(cand);
        if (!ag->images && err && !strstr(err, "in use")) break;
    }
    free(dir);
    if (ag->images) {
        image_cache_set_registries(ag->images, ag->registry_mirror, ag->plain_registries);
        if (ag->pull_timeout_s > 0) image_cache_set_timeout(ag->images, (int)ag->pull_timeout_s);
        /* The init for initProcessEnabled is installed beside this program. */
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        char *init = NULL;
        if (n > 0) {
            self[n] = '\0';
            char *slash = strrchr(self, '/');
            if (slash) *slash = '\0';
            init = xasprintf("%s/barge-init", self);
            if (access(init, X_OK) != 0) {
                log_warn("%s is missing: initProcessEnabled is not honoured", init);
                free(init);
                init = NULL;
            }
        }
        container_options co = {ag->runtime_root ? ag->runtime_root : "/run/barge/runc",
                                ag->images, init, ids, ag->efs_mounts, agent_reports_pulling,
                                ag, agent_logs_say, ag};
        ag->containers = container_host_new(&co, &err);
        free(init);
    }
    if (!ag->containers) {
        fprintf(stderr, "barge agent: %s\n", err ? err : "the container executor cannot start");
        free(err);
        return -1;
    }
    int swept = container_host_sweep(ag->containers);
    if (swept) log_info("removed %d container%s left by agents that are gone", swept,
                        swept > 1 ? "s" : "");
    ag->backend = &exec_container_backend;
    return 0;
}

/* An attempt runs: its statistics may be read where it runs, and the server is told. */
static void attempt_started(void *ctx, const exec_spec *s, const exec_started *st)
{
    agent *ag = ctx;
    agent_creds_running(ag->creds, s->job_id, s->attempt, st);
    agent_reports_started(ctx, s, st->pid, st->at);
}

/* An attempt's end: its credentials go (the server revokes them too), then its report. */
static void attempt_ended(void *ctx, const exec_spec *s, const exec_result *r)
{
    agent *ag = ctx;
    agent_creds_drop(ag->creds, s->job_id, s->attempt);
    agent_reports_ended(ctx, s, r);
}

static void *supervisor_main(void *ex)
{
    executor_run(ex);
    return NULL;
}

/* Waits for SIGTERM, SIGINT or the internal SIGUSR1 of agent_request_stop. */
static void wait_for_stop(agent *ag, const sigset_t *set)
{
    struct timespec second = {1, 0};
    while (!ag->stopping) {
        agent_orphan_check(ag);
        warden_check();
        int sig = sigtimedwait(set, NULL, &second);
        if (sig < 0) continue;
        if (sig == SIGTERM || sig == SIGINT) {
            char why[64];
            snprintf(why, sizeof why, "the agent received %s",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
            agent_request_stop(ag, 0, why);
        }
    }
}

static void stop_everything(agent *ag, pthread_t supervisor, pthread_t poller, pthread_t sender)
{
    log_info("stopping: %s", ag->stop_why);
    /* The stop order first: a pull it ends then fails an attempt already ended as stopped by
     * the agent, not as one whose image could not be had. */
    executor_stop(ag->ex, ag->stop_why);
    if (ag->images) image_cache_stop_pulls(ag->images);
    pthread_join(supervisor, NULL);
    /* Every attempt has ended and queued its report: deliver them, within limits. */
    int64_t deadline = util_mono_ms() + FINAL_FLUSH_MS;
    pthread_mutex_lock(&ag->mu);
    ag->final_flush = 1;
    pthread_cond_broadcast(&ag->cond);
    while (!ag->sender_done && util_mono_ms() < deadline) agent_wait_until(ag, deadline);
    if (!ag->sender_done)
        log_warn("giving up on delivering the last reports to %s",
                 agent_servers_current(&ag->servers));
    ag->sender_quit = 1;
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    agent_wake_connections(ag);
    pthread_join(sender, NULL);
    pthread_join(poller, NULL);
}

/* The work directory this agent made goes, but for WORK_DIR/undelivered when something was
 * kept there (agent_orphan.h). */
static void remove_work_dir(agent *ag)
{
    DIR *d = ag->kept ? opendir(ag->work_dir) : NULL;
    if (!d) {
        util_remove_tree(ag->work_dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, "undelivered"))
            continue;
        char *path = xasprintf("%s/%s", ag->work_dir, e->d_name);
        util_remove_tree(path);
        free(path);
    }
    closedir(d);
}

int agent_main(int argc, char **argv)
{
    pid_t parent = getppid();
    agent *ag = xcalloc(1, sizeof *ag);
    int rc = parse_options(ag, argc, argv);
    if (rc >= 0) {
        agent_servers_free(&ag->servers);
        free(ag->iid);
        free(ag->work_dir);
        json_decref(ag->efs_mounts);
        free(ag);
        return rc;
    }
    ensure_std_fds();
    /* Signals are taken synchronously by the main thread; every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (ag->exit_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) kill(getpid(), SIGTERM); /* it died before the call above */
    }
    /* Orphans of jobs are reparented here and reaped by the supervisor, not left as zombies. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* Before any thread: containers' mounts then go away with the agent, however it ends. */
    if (!(ag->executor_opt && strcmp(ag->executor_opt, "process") == 0) &&
        container_host_isolate_mounts() < 0)
        log_debug("mounts are made in the host's namespace: %s", strerror(errno));
    if (prepare_work_dir(ag) < 0 || setup_backend(ag) < 0 || agent_setup_job_user(ag) < 0) {
        if (ag->own_work_dir) util_remove_tree(ag->work_dir);
        agent_servers_free(&ag->servers);
        free(ag->iid);
        free(ag->work_dir);
        free(ag->plain_registries);
        json_decref(ag->efs_mounts);
        if (ag->images) image_cache_free(ag->images);
        job_uids_free(ag->uids);
        free(ag);
        return 1;
    }
    if (gethostname(ag->hostname, sizeof ag->hostname - 1) < 0) strcpy(ag->hostname, "localhost");
    char *cg_name = xasprintf("barge-agent-%ld", (long)getpid());
    ag->cg = cgroup_host_setup(cg_name);
    free(cg_name);
    int swept = cgroup_host_sweep(ag->cg, "barge-agent-");
    if (swept) log_info("removed %d cgroup%s left by agents that are gone", swept,
                        swept > 1 ? "s" : "");
    if (cgroup_host_mode(ag->cg) == CGROUP_NONE)
        log_warn("memory limits are not enforced: %s", cgroup_host_note(ag->cg));
    if (ag->memory_mib == 0) ag->memory_mib = machine_memory_mib(ag->cg);
    log_info("agent for compute environment %s: %d vCPUs, %lld MiB, %d GPUs, executor %s, %s",
             ag->ce, ag->vcpus, ag->memory_mib, ag->gpus, ag->backend->name,
             cgroup_host_note(ag->cg));
    /* Before the first thread: it is spawned from a process that is one thread still. */
    warden_start(ag->cg);

    pthread_mutex_init(&ag->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ag->cond, &ca);
    pthread_condattr_destroy(&ca);
    ag->poll_s = 20;
    ag->heartbeat_s = 5;
    ag->main_thread = pthread_self();
    agent_conn_init(&ag->poll_conn, ag, &ag->servers, ag->ca_file, 1, agent_conn_should_abandon,
                    agent_bearer);
    agent_conn_init(&ag->send_conn, ag, &ag->servers, ag->ca_file, 0, agent_conn_should_abandon,
                    agent_bearer);
    char creds_err[256];
    ag->creds = agent_creds_start(ag, creds_err, sizeof creds_err);
    if (!ag->creds)
        log_warn("jobs with a role will fail to start, and jobs get no task metadata: %s",
                 creds_err);
    static const exec_events events = {attempt_started, agent_logs_line, attempt_ended,
                                       agent_logs_backlog};
    /* As many idle cgroups and directories as attempts can run at once (one vCPU each, at
     * most), so that a steady stream of jobs creates none after the first few.  A pooled cgroup
     * keeps its control files open and a running attempt holds its pipes, so the pool is also
     * bounded by the descriptors the process may open (raised to the hard limit first). */
    long by_fds = (util_raise_open_files() - 64) / 8;
    int pool = ag->vcpus < 256 ? ag->vcpus : 256;
    if (by_fds < pool) pool = by_fds > 1 ? (int)by_fds : 1;
    cgroup_host_set_pool(ag->cg, pool);
    exec_options eo = {ag->backend, ag->work_dir, ag->cg, &events, ag, pool, ag->containers,
                       ag->job_uid, ag->job_gid, ag->uids};
    char *trash = xasprintf("%s/trash", ag->work_dir);
    remover_start(trash);
    free(trash);
    ag->ex = executor_new(&eo);

    pthread_t supervisor, poller, sender;
    pthread_create(&supervisor, NULL, supervisor_main, ag->ex);
    pthread_create(&sender, NULL, agent_exchange_sender, ag);
    pthread_create(&poller, NULL, agent_exchange_poller, ag);
    wait_for_stop(ag, &set);
    stop_everything(ag, supervisor, poller, sender);

    executor_free(ag->ex);
    job_uids_free(ag->uids);
    remover_stop();
    agent_creds_stop(ag->creds);
    cgroup_pids_teardown();
    cgroup_host_teardown(ag->cg);
    container_host_free(ag->containers);
    if (ag->images) image_cache_free(ag->images);
    free(ag->plain_registries);
    json_decref(ag->efs_mounts);
    agent_orphan_keep(ag);
    /* A temporary work directory goes with its image cache, but for what was not delivered. */
    if (ag->own_work_dir) remove_work_dir(ag);
    agent_reports_clear(ag);
    agent_logs_clear(ag);
    rc = ag->exit_code;
    log_info("agent stopped");
    agent_conn_close(&ag->poll_conn);
    agent_conn_close(&ag->send_conn);
    agent_servers_free(&ag->servers);
    pthread_mutex_destroy(&ag->mu);
    pthread_cond_destroy(&ag->cond);
    free(ag->iid);
    if (ag->cred) explicit_bzero(ag->cred, strlen(ag->cred));
    free(ag->cred);
    free(ag->stop_why);
    free(ag->work_dir);
    free(ag);
    return rc;
}
