#include "server/base/pg_lease.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/pg_wait.h"
#include "server/base/store_pg_schema.h"

struct pg_lease {
    PGconn *conn;
    char *holder;
    int lease_ms, renew_ms;
    int64_t epoch;
    /* This server's monotonic clock (ms) until which the lease is surely its own: lease_ms
     * after the start of the last statement that took or renewed it (the database set the
     * expiry later than that start, so by then it has not yet passed). */
    _Atomic int64_t held_until;
    void (*lost)(void);
    int (*may_renew)(void);
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
};

pg_lease *pg_lease_open(const char *conninfo, const char *holder, int lease_ms, int renew_ms,
                        char **err)
{
    PGconn *conn = store_pg_open_conn(conninfo, " for the lease", err);
    if (!conn) return NULL;
    pg_lease *l = xcalloc(1, sizeof *l);
    l->conn = conn;
    l->holder = xstrdup(holder);
    l->lease_ms = lease_ms;
    l->renew_ms = renew_ms;
    pthread_mutex_init(&l->mu, NULL);
    util_cond_init_mono(&l->cv);
    return l;
}

int pg_lease_held(pg_lease *l)
{
    return l->epoch > 0 && util_mono_ms() < atomic_load(&l->held_until);
}

int pg_lease_ms(const pg_lease *l)
{
    return l->lease_ms;
}

static int reachable(pg_lease *l)
{
    if (PQstatus(l->conn) == CONNECTION_OK) return 1;
    PQreset(l->conn);
    return PQstatus(l->conn) == CONNECTION_OK;
}

int64_t pg_lease_try(pg_lease *l, char *leader, size_t n)
{
    if (n) leader[0] = '\0';
    if (!reachable(l)) return -1;
    char lease[16];
    snprintf(lease, sizeof lease, "%d", l->lease_ms);
    const char *params[2] = {l->holder, lease};
    int64_t asked = util_mono_ms();
    /* Taken only once expired by the database's clock; the epoch moves on, which fences out
     * whoever held it before. */
    static const char what[] = "taking the lease (table barge_lease)";
    PGresult *r = pg_wait_exec(
        l->conn, what,
        "UPDATE barge_lease SET holder = $1, epoch = epoch + 1,"
        " expires = clock_timestamp() + $2::int * interval '1 millisecond'"
        " WHERE id = 1 AND expires < clock_timestamp() RETURNING epoch",
        2, params);
    int64_t out = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        out = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
        if (out > 0) {
            l->epoch = out;
            atomic_store(&l->held_until, asked + l->lease_ms);
        }
    }
    PQclear(r);
    if (out != 0) return out;
    r = pg_wait_exec(l->conn, what, "SELECT holder FROM barge_lease WHERE id = 1", 0, NULL);
    int missing = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && n)
        snprintf(leader, n, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return missing ? PG_LEASE_NO_ROW : 0;
}

/* 1 renewed, 0 the epoch is gone, -1 the database did not answer. */
static int renew(pg_lease *l)
{
    if (!reachable(l)) return -1;
    char epoch[24], lease[16];
    snprintf(epoch, sizeof epoch, "%lld", (long long)l->epoch);
    snprintf(lease, sizeof lease, "%d", l->lease_ms);
    const char *params[2] = {epoch, lease};
    int64_t asked = util_mono_ms();
    /* A renewal that waits (a synchronous standby that does not confirm commits, a database
     * that answers nothing) is said in the log as it waits: the leader's only sign of it. */
    PGresult *r = pg_wait_quick_exec(
        l->conn, "renewing the lease (table barge_lease)",
        "UPDATE barge_lease SET expires = clock_timestamp() + $2::int * interval '1 millisecond'"
        " WHERE id = 1 AND epoch = $1::bigint",
        2, params);
    int out = -1;
    if (PQresultStatus(r) == PGRES_COMMAND_OK) out = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (out > 0) atomic_store(&l->held_until, asked + l->lease_ms);
    return out;
}

static void *keeper(void *arg)
{
    pthread_setname_np(pthread_self(), "barge-lease");
    pg_lease *l = arg;
    int failing = 0, letting_go = 0;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec ts = util_mono_deadline(l->renew_ms);
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        if (l->stopping) break;
        pthread_mutex_unlock(&l->mu);
        /* A leader that cannot serve (its store's connection lost while this one renews)
         * lets the lease go, so that a standby serves; it renews again if it serves before
         * one takes over, and is fenced at its next commit if one did. */
        if (l->may_renew && !l->may_renew()) {
            if (!letting_go)
                log_warn("lease: this server cannot serve (its store does not answer): letting "
                         "the lease expire so that a standby can lead");
            letting_go = 1;
            pthread_mutex_lock(&l->mu);
            continue;
        }
        if (letting_go) log_info("lease: this server serves again; renewing the lease");
        letting_go = 0;
        int rc = renew(l);
        if (rc == 0) l->lost(); /* does not return */
        if (rc < 0 && !failing)
            log_warn("lease: cannot renew the leader's lease: %s; trying every %d ms (a standby "
                     "may take over once it expires, and this server then stops)",
                     PQerrorMessage(l->conn), l->renew_ms);
        if (rc > 0 && failing) log_info("lease: renewed again");
        failing = rc < 0;
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

void pg_lease_renewed(pg_lease *l, int64_t asked)
{
    if (l->epoch <= 0) return;
    int64_t until = asked + l->lease_ms, was = atomic_load(&l->held_until);
    while (was < until && !atomic_compare_exchange_weak(&l->held_until, &was, until)) {
    }
}

void pg_lease_keep(pg_lease *l, void (*lost)(void), int (*may_renew)(void))
{
    l->lost = lost;
    l->may_renew = may_renew;
    l->running = pthread_create(&l->thread, NULL, keeper, l) == 0;
    if (!l->running) log_error("lease: cannot start the thread that renews the lease");
}

void pg_lease_let_go(pg_lease *l)
{
    if (l->running) {
        pthread_mutex_lock(&l->mu);
        l->stopping = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        l->running = l->stopping = 0;
    }
    if (l->epoch > 0 && reachable(l)) {
        char epoch[24];
        snprintf(epoch, sizeof epoch, "%lld", (long long)l->epoch);
        const char *params[1] = {epoch};
        PGresult *r = PQexecParams(l->conn,
                                   "UPDATE barge_lease SET expires = '-infinity'"
                                   " WHERE id = 1 AND epoch = $1::bigint",
                                   1, NULL, params, NULL, NULL, 0);
        PQclear(r);
    }
    l->epoch = 0;
    atomic_store(&l->held_until, 0);
}

void pg_lease_release(pg_lease *l)
{
    if (!l) return;
    pg_lease_let_go(l);
    PQfinish(l->conn);
    free(l->holder);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
