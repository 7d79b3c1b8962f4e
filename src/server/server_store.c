#include "server/server_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/core.h"
#include "server/base/pg_lease.h"
#include "server/base/pg_logcopy.h"
#include "server/base/pg_wait.h"
#include "server/base/store_pipe.h"
#include "server/http_server.h"
#include "server/http_standby.h"
#include "server/join_tokens.h"

static pg_lease *lease;
static pg_logcopy *logcopy;
static logstore *logs_;

store *server_store_open(const barge_config *c, char **err)
{
    if (c->store_uri && c->lease_renew_ms * 2 > c->lease_ms) {
        *err = xasprintf("--lease-renew-ms (%d) must be at most half of --lease-ms (%d), so "
                         "that one late renewal does not cost the lead", c->lease_renew_ms,
                         c->lease_ms);
        return NULL;
    }
    if (c->store_uri) return store_pg_open(c->store_uri, err);
    return store_sqlite_open(c->data_dir, c->sync_full ? STORE_SYNC_FULL : STORE_SYNC_NORMAL,
                             err);
}

/* Another server took the lease over: whatever this one was about to write is refused by the
 * database, and it must not answer from a state that is no longer the stored one.  _exit: the
 * other threads hold nothing that a clean exit would save, and must not run on. */
static void fenced(void)
{
    log_error("lease: another barge server leads the store now (this server's epoch was taken "
              "over while it was paused or cut off); the database refused this server's last "
              "write, and it stops (exit status %d) - started again, it stands by",
              SERVER_STORE_FENCED);
    _exit(SERVER_STORE_FENCED);
}

static void renewed(int64_t asked)
{
    pg_lease_renewed(lease, asked);
}

/* Whether the leader serves: not when its core has answered every call 503 for a lease's
 * length, its store's connection lost (to the database, or its slots taken), nor when a commit
 * has hung for as long (its database session stuck, stopped: every call waits on it), while
 * the lease's own connection renews: it would hold the lease without serving, and no standby
 * would take over (pg_lease_keep). */
static int serving(void)
{
    return core_unserved_ms() < pg_lease_ms(lease) && store_pipe_stuck_ms() < pg_lease_ms(lease);
}

static int lease_held(void)
{
    return pg_lease_held(lease);
}

/* SIGTERM or SIGINT sent while standing by: blocked in every thread, they stay pending until
 * the loop below takes them. */
static int stop_asked(void)
{
    sigset_t pending;
    return sigpending(&pending) == 0 &&
           (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

static int lead_loop(barge_config *c, store *db, logstore *logs, const sigset_t *stop,
                     char **err);

int server_store_lead(barge_config *c, store *db, logstore *logs, const char *holder,
                      const sigset_t *stop, char **err)
{
    if (!c->store_uri) return 1;
    lease = pg_lease_open(c->store_uri, holder, c->lease_ms, c->lease_renew_ms, err);
    if (!lease) return -1;
    logcopy = pg_logcopy_open(c->store_uri, err);
    if (!logcopy) return -1;
    logs_ = logs;
    /* The loop takes the stop signals itself, between statements: a statement that waits on a
     * lock another session holds is given up for them (pg_wait.h). */
    pg_wait_set_stop(stop_asked);
    int rc = lead_loop(c, db, logs, stop, err);
    pg_wait_set_stop(NULL);
    return rc;
}

/* A standby of an older barge may stand by for weeks while a newer one migrates the schema
 * and writes what the older cannot read: it must not lead that store.  Checked at takeover,
 * with the lease just taken (and let go at once), and once a minute while standing by, so
 * that the operator hears of it before a failover needs this server.  1 when this server must
 * stop (*err says why). */
static int schema_newer(store *db, char **err)
{
    char *why = NULL;
    int rc = store_pg_schema_check(db, &why);
    if (rc > 0) {
        *err = why;
        return 1;
    }
    free(why); /* unreadable now: the takeover's read says so if it lasts */
    return 0;
}

static int lead_loop(barge_config *c, store *db, logstore *logs, const sigset_t *stop,
                     char **err)
{
    char leader[256], said[256] = "";
    int unreachable = 0, no_row = 0;
    int64_t schema_at = util_mono_ms();
    for (;;) {
        /* The lease first: until a standby has read it, /healthz cannot name the leader. */
        int64_t epoch = pg_lease_try(lease, leader, sizeof leader);
        if (epoch > 0 && schema_newer(db, err)) {
            pg_lease_let_go(lease);
            return -1;
        }
        if (epoch > 0) {
            /* Renewed from now on: a standby far behind the copy may read for longer than
             * the lease lasts, and would lose it to a third server meanwhile. */
            pg_lease_keep(lease, fenced, serving);
            /* The lines the old leader kept, to the last: nobody else writes them now. */
            long n = pg_logcopy_catch_up(logcopy, logs, 0);
            /* Stopped meanwhile: the lease goes with server_store_release. */
            if (stop_asked()) return 0;
            if (n < 0) {
                /* (A connection that cannot be made now, the database's slots taken.)  It
                 * exited, and nothing led once the cause went if no other server stood by. */
                log_error("lease: cannot read the job logs the last leader kept in the "
                          "PostgreSQL store, without which this server will not lead: letting "
                          "the lease go and standing by");
                pg_lease_let_go(lease);
                http_standby(1, "");
                struct timespec ts = {c->lease_ms / 1000, (c->lease_ms % 1000) * 1000000L};
                int sig = sigtimedwait(stop, NULL, &ts);
                if (sig == SIGTERM || sig == SIGINT) return 0;
                continue;
            }
            pg_logcopy_lead(logcopy, epoch, c->lease_ms, fenced);
            logstore_set_copy(logs, pg_logcopy_keep, logcopy);
            store_pg_lead(db, epoch, c->lease_ms, fenced, renewed);
            http_standby_lease(lease_held);
            c->role = "leader";
            log_info("lease: this server leads the store (epoch %lld, a lease of %d ms renewed "
                     "every %d ms)", (long long)epoch, c->lease_ms, c->lease_renew_ms);
            return 1;
        }
        http_standby(1, leader);
        /* A standby's log store follows the copy, so that a takeover has little to read. */
        pg_logcopy_catch_up(logcopy, logs, 20000);
        if (epoch == PG_LEASE_NO_ROW && !no_row)
            log_error("lease: the PostgreSQL store's table barge_lease has no row (deleted by "
                      "hand?): no server can lead until it is put back, with an epoch past "
                      "every one used (restore it from a backup); standing by");
        no_row = epoch == PG_LEASE_NO_ROW;
        if (epoch == -1 && !unreachable && !stop_asked())
            log_warn("lease: the PostgreSQL store is unreachable; standing by until it answers");
        unreachable = epoch == -1;
        if (epoch == 0 && strcmp(said, leader) != 0) {
            log_info("standing by: %s leads the store; this server takes over when its lease "
                     "expires", leader[0] ? leader : "another server");
            snprintf(said, sizeof said, "%s", leader);
        }
        if (epoch == 0 && util_mono_ms() - schema_at >= 60000) {
            schema_at = util_mono_ms();
            if (schema_newer(db, err)) return -1;
        }
        /* A quarter of the renewal period: a standby notices an expired lease soon after. */
        long wait_ms = c->lease_renew_ms / 4 > 0 ? c->lease_renew_ms / 4 : 1;
        struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
        int sig = sigtimedwait(stop, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("received %s while standing by; stopping",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return 0;
        }
        if (sig == SIGHUP) join_tokens_reload();
    }
}

char *server_store_holder(const barge_config *c, int tls)
{
    if (c->remote_url && !strchr(c->remote_url, ',')) return xstrdup(c->remote_url);
    const char *h = c->listen_host;
    char name[256];
    if ((!*h || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0) &&
        gethostname(name, sizeof name) == 0) {
        name[sizeof name - 1] = '\0';
        h = name;
    }
    const char *scheme = tls ? "https" : "http";
    if (strchr(h, ':')) return xasprintf("%s://[%s]:%d", scheme, h, http_port());
    return xasprintf("%s://%s:%d", scheme, h, http_port());
}

void server_store_release(void)
{
    /* Agents' uploads were stopped and answered first (http_stop_uploads): every line this
     * server acknowledged is in the copy. */
    if (logs_) logstore_set_copy(logs_, NULL, NULL);
    pg_logcopy_close(logcopy);
    logcopy = NULL;
    logs_ = NULL;
    http_standby_lease(NULL); /* an HTTP thread must not ask a lease that is freed */
    pg_lease_release(lease);
    lease = NULL;
}

/* DATA_DIR holds the agent token, the secrets in job definitions (in barge.db and its WAL) and
 * every job's output (logs.db): only the server's user may read it.  A directory that exists
 * with wider modes is tightened, with a warning, rather than refused: barge owns it.  The
 * databases are made 0600 before SQLite opens them, so that the WAL and shared-memory files
 * SQLite creates beside them take the same mode; ones left by an older server are tightened. */
int server_secure_data_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "barge server: the data directory %s is not a directory\n", dir);
        return -1;
    }
    if ((st.st_mode & 077) && chmod(dir, 0700) == 0)
        log_warn("server: the data directory %s was readable by others (mode %03o); barge "
                 "made it 0700", dir, (unsigned)(st.st_mode & 0777));
    static const char *const private_files[] = {"barge.db", "logs.db", NULL};
    static const char *const leftovers[] = {"barge.db-wal", "barge.db-shm", "logs.db-wal",
                                            "logs.db-shm", "agent-token", "LOCK", "audit.log",
                                            NULL};
    for (const char *const *f = private_files; *f; f++) {
        char *path = xasprintf("%s/%s", dir, *f);
        int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (fchmod(fd, 0600) < 0) log_warn("server: cannot make %s 0600: %s", path,
                                               strerror(errno));
            close(fd);
        }
        free(path);
    }
    for (const char *const *f = leftovers; *f; f++) {
        char *path = xasprintf("%s/%s", dir, *f);
        if (chmod(path, 0600) < 0 && errno != ENOENT)
            log_warn("server: cannot make %s 0600: %s", path, strerror(errno));
        free(path);
    }
    return 0;
}

/* A barge.db of 0 bytes (cut short by a failed copy, or by a disk) would be made anew as at a
 * first start: the default environment and queue, and a new server beside the old one's job
 * logs, audit trail and agent token, saying nothing.  It is refused when the data directory holds
 * what a server leaves only once barge.db was written: the first start makes barge.db and
 * logs.db empty (server_secure_data_dir, so that their modes are right) and the agent token,
 * then writes barge.db, and only then logs.db's first page and audit.log; webhook cursors,
 * image caches and command outputs come later still.  A first start that stopped early, before
 * any of them, leaves a barge.db of 0 bytes that still starts, as a new data directory does.
 * A barge.db that is not there at all starts anew, with a warning. */
int server_check_emptied_db(const char *dir)
{
    static const struct {
        const char *name;
        int nonempty; /* made empty at first, and written only after barge.db */
    } used[] = {{"logs.db", 1}, {"audit.log", 0}, {"webhooks", 0}, {"images", 0},
                {"provider-exec", 0}};
    char *path = xasprintf("%s/barge.db", dir);
    struct stat st;
    int rc = stat(path, &st);
    int empty = rc == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
    int missing = rc < 0 && errno == ENOENT;
    free(path);
    if (!empty && !missing) return 0;
    for (size_t i = 0; i < sizeof used / sizeof *used; i++) {
        path = xasprintf("%s/%s", dir, used[i].name);
        int found = lstat(path, &st) == 0 && (!used[i].nonempty || st.st_size > 0);
        free(path);
        if (!found) continue;
        /* Removed is how an operator starts anew on purpose, so it starts; but never without
         * a word, as it may as well be a restore that missed the file. */
        if (missing) {
            log_warn("server: %s/barge.db is missing, but the data directory was used before "
                     "(it holds %s): starting with an empty store, beside the old job logs and "
                     "audit trail; if it was not removed on purpose, stop this server and "
                     "restore barge.db from a backup", dir, used[i].name);
            return 0;
        }
        fprintf(stderr, "barge server: %s/barge.db is empty (0 bytes), but the data directory "
                        "was used before (it holds %s): restore barge.db from a backup, or "
                        "remove it to start anew\n", dir, used[i].name);
        return -1;
    }
    return 0;
}

/* One server per data directory: a second one would corrupt the scheduler's view.  Another
 * server is named only when the lock is held: a data directory that is a file, or that this
 * user may not write to, is told as such. */
int server_lock_data_dir(const char *dir)
{
    char *path = xasprintf("%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (fd < 0) {
        if (errno == ENOTDIR)
            fprintf(stderr, "barge server: the data directory %s is not a directory: give "
                            "--data-dir a directory (or a path where barge may make one)\n", dir);
        else
            fprintf(stderr, "barge server: the data directory %s cannot be written: %s; give "
                            "--data-dir a directory this user may write to\n", dir,
                    strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            fprintf(stderr, "barge server: the data directory %s is in use by another barge "
                            "server; stop it or choose another --data-dir\n", dir);
        else
            fprintf(stderr, "barge server: the data directory %s cannot be locked: %s\n", dir,
                    strerror(errno));
        close(fd);
        return -1;
    }
    /* The directory itself too: LOCK is a file that anyone may remove (an operator clearing a
     * "stale lock", a cleaner of old files), after which a second server took a lock of its
     * own, ran beside the first on the same store and overwrote its jobs.  A directory cannot
     * be removed while it holds the store.  LOCK stays locked for servers that know only it. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || flock(dfd, LOCK_EX | LOCK_NB) < 0) {
        if (dfd >= 0 && errno == EWOULDBLOCK)
            fprintf(stderr, "barge server: the data directory %s is in use by another barge "
                            "server (its LOCK file was removed); stop it or choose another "
                            "--data-dir\n", dir);
        else
            fprintf(stderr, "barge server: the data directory %s cannot be locked: %s\n", dir,
                    strerror(errno));
        if (dfd >= 0) close(dfd);
        close(fd);
        return -1;
    }
    return fd; /* both held until the process exits */
}
