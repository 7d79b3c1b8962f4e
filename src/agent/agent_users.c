/* agent_users — see agent_users.h. */
#include "agent/agent_users.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "agent/executor.h"
#include "agent/job_uids.h"

/* Opens the work directory to host user uid (0711: passable, not listable), whose processes
 * must reach the attempts' directories below it.  -1, after saying why, when a directory above
 * it is closed to that user; who names the user for the sentence. */
static int open_work_dir(agent *ag, unsigned uid, const char *who)
{
    if (chmod(ag->work_dir, 0711) < 0)
        log_warn("cannot open %s to other users: %s", ag->work_dir, strerror(errno));
    char *up = xstrdup(ag->work_dir);
    int rc = 0;
    for (char *slash = strrchr(up, '/'); slash && slash != up && rc == 0;
         slash = strrchr(up, '/')) {
        *slash = '\0';
        struct stat st;
        if (stat(up, &st) == 0 && !(st.st_mode & S_IXOTH) && st.st_uid != uid) {
            fprintf(stderr, "barge agent: %s cannot reach the work directory %s: %s is closed "
                            "to other users (chmod o+x it, or choose another --work-dir)\n",
                    who, ag->work_dir, up);
            rc = -1;
        }
    }
    free(up);
    return rc;
}

/* The user namespace of containers: none with --container-userns off, else the mapping of
 * --container-id-map or the default one.  0, or -1 after saying why. */
int agent_setup_userns(agent *ag, idmap *ids)
{
    memset(ids, 0, sizeof *ids);
    if (ag->container_userns_off) {
        log_warn("containers' root is the host's root (--container-userns off)");
        return 0;
    }
    const char *source = "--container-id-map";
    if (ag->container_id_map) idmap_parse(ag->container_id_map, ids);
    else idmap_default("/etc/subuid", "/etc/subgid", ids, &source);
    char who[160];
    snprintf(who, sizeof who, "the containers' root, host uid %u (--container-id-map; "
             "--container-userns off for none),", ids->uid_base);
    if (open_work_dir(ag, ids->uid_base, who) < 0) return -1;
    log_info("containers run in user namespaces: their ids 0 to %u are host uids %u to %u and "
             "gids %u to %u (%s)", ids->size - 1, ids->uid_base, ids->uid_base + ids->size - 1,
             ids->gid_base, ids->gid_base + ids->size - 1, source);
    return 0;
}

/* A root agent's attempts, each a uid of its own (job_uids.h).  0, or -1 after saying why. */
static int setup_job_uids(agent *ag)
{
    if (!ag->uids_given) {
        ag->uids_first = IDMAP_JOB_UIDS_FIRST;
        ag->uids_count = IDMAP_JOB_UIDS_COUNT;
    }
    /* The containers' ids of this host's agents: --container-id-map, or the default. */
    idmap ids = {0};
    const char *source = NULL;
    if (ag->container_id_map) idmap_parse(ag->container_id_map, &ids);
    else if (!ag->container_userns_off) idmap_default("/etc/subuid", "/etc/subgid", &ids, &source);
    char why[256];
    if (idmap_job_uids_conflict(ag->uids_first, ag->uids_count, &ids, why, sizeof why)) {
        fprintf(stderr, "barge agent: --job-uids %u:%u %s\n", ag->uids_first, ag->uids_count,
                why);
        return -1;
    }
    char *err = NULL;
    ag->uids = job_uids_new(JOB_UIDS_LOCK_DIR, ag->uids_first, ag->uids_count, &err);
    if (!ag->uids) {
        fprintf(stderr, "barge agent: %s\n", err);
        free(err);
        return -1;
    }
    /* One group for all: what a job writes outside its directory another may change (umask
     * 002), as when every job ran as nobody (a retried attempt rewrites its first attempt's
     * output; an array's children append to one file); a process is reached by its uid, so the
     * group opens no job's processes to another. */
    struct passwd *pw = getpwnam("nobody");
    ag->job_gid = pw ? (int)pw->pw_gid : 65534;
    char who[96];
    snprintf(who, sizeof who, "jobs run as uids %u to %u (--job-uids)", ag->uids_first,
             ag->uids_first + (ag->uids_count - 1));
    if (open_work_dir(ag, ag->uids_first, who) < 0) return -1;
    log_info("process-executor attempts run each as a uid of its own, from %u to %u, in group "
             "%d", ag->uids_first, ag->uids_first + (ag->uids_count - 1), ag->job_gid);
    return 0;
}

/* Who process-executor attempts run as: never root unless --job-user root says so, so that a
 * job cannot read the agent's token, the server's store or another job's files; by default
 * (a root agent) each a uid of its own, so that no job can reach another's either.  Containers
 * run as their image's or definition's user, in a user namespace (setup_userns). */
int agent_setup_job_user(agent *ag)
{
    ag->job_uid = ag->job_gid = -1;
    if (ag->backend != &exec_process_backend) {
        if (ag->job_user || ag->uids_given)
            log_warn("%s%s does nothing with the container executor: a container runs as its "
                     "image's user, or the job definition's 'user'",
                     ag->job_user ? "--job-user " : "--job-uids", ag->job_user ? ag->job_user : "");
        return 0;
    }
    if (ag->uids_given && geteuid() != 0) {
        fprintf(stderr, "barge agent: --job-uids needs a root agent: an unprivileged one runs "
                        "its attempts as its own user\n");
        return -1;
    }
    if (!ag->job_user && geteuid() == 0) return setup_job_uids(ag);
    const char *name = ag->job_user;
    if (!name) return 0; /* an unprivileged agent's jobs run as the agent's own user */
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        char *end;
        unsigned long uid = strtoul(name, &end, 10);
        /* An attempt's user is an int, -1 for none (exec_attempt.run_uid): a uid above
         * INT_MAX would read as negative, and the job would stay root. */
        if (*name && !*end && uid <= INT_MAX) {
            ag->job_uid = (int)uid;
            ag->job_gid = (int)uid;
        } else {
            fprintf(stderr, "barge agent: --job-user %s: no such user on this host (name one "
                            "from /etc/passwd, or a number)\n", name);
            return -1;
        }
    } else if (pw->pw_uid > INT_MAX || pw->pw_gid > INT_MAX) {
        fprintf(stderr, "barge agent: --job-user %s: its uid or gid is above %d, which barge "
                        "cannot run jobs as\n", name, INT_MAX);
        return -1;
    } else {
        ag->job_uid = (int)pw->pw_uid;
        ag->job_gid = (int)pw->pw_gid;
        snprintf(ag->job_home, sizeof ag->job_home, "%s", pw->pw_dir);
    }
    if (ag->job_uid == (int)geteuid()) {
        ag->job_uid = ag->job_gid = -1; /* the agent's own user: nothing to change */
        return 0;
    }
    /* The attempts' directories lie below the work directory: they may pass through it, and
     * through every directory above it, or no job could start. */
    char who[64];
    snprintf(who, sizeof who, "jobs run as uid %d (--job-user)", ag->job_uid);
    if (open_work_dir(ag, (unsigned)ag->job_uid, who) < 0) return -1;
    log_info("process-executor attempts run as uid %d, gid %d", ag->job_uid, ag->job_gid);
    return 0;
}

