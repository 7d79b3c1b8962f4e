/* pg_lease — leadership among servers that share one PostgreSQL store.
 *
 * One row of the database (barge_lease) names the leader, its epoch (the fencing number) and
 * when the lease expires, by the DATABASE's clock, so the servers' own clocks never matter.  A
 * server takes the lease only once it has expired, and taking it adds one to the epoch.  The
 * leader renews it from a thread of its own (every renew_ms, lease_ms more each time), and every
 * commit of its store checks the epoch in the same transaction (store_pg_lead): a leader that
 * was paused past its lease finds its epoch gone at its next commit or renewal and stops. */
#ifndef BARGE_PG_LEASE_H
#define BARGE_PG_LEASE_H
#include <stddef.h>
#include <stdint.h>

typedef struct pg_lease pg_lease;

/* A connection of its own to conninfo; holder names this server in the row (its URL). */
pg_lease *pg_lease_open(const char *conninfo, const char *holder, int lease_ms, int renew_ms,
                        char **err);
/* One try: returns the new epoch when this server now holds the lease, 0 when another server
 * holds it (its name is then copied to leader, "" when it is not known), -1 when the database
 * cannot be reached, PG_LEASE_NO_ROW when barge_lease has no row (deleted by hand: no server
 * can lead, and none may make it again, whose epoch must stay past every one used). */
#define PG_LEASE_NO_ROW (-2)
int64_t pg_lease_try(pg_lease *l, char *leader, size_t n);
/* Starts renewing the lease taken by pg_lease_try; lost() runs (and must not return) when the
 * epoch is no longer this server's.  While may_renew (when not NULL) answers 0, renewals stop:
 * a leader that cannot serve lets the lease expire. */
void pg_lease_keep(pg_lease *l, void (*lost)(void), int (*may_renew)(void));
/* Stops renewing and, when the lease is still this server's, ends it at once so that a standby
 * takes over without waiting for it to expire; l may try for it again later. */
void pg_lease_let_go(pg_lease *l);
/* pg_lease_let_go, then frees l. */
void pg_lease_release(pg_lease *l);
int pg_lease_ms(const pg_lease *l);
/* A commit of the store renewed the lease (barge_fence sets its expiry), its statement sent at
 * asked (monotonic ms): held as a renewal is, so that a leader whose lease connection is lost
 * but whose commits go through does not take itself for one in doubt.  Any thread. */
void pg_lease_renewed(pg_lease *l, int64_t asked);
/* 1 while the lease taken is surely still this server's by its own clock: less than lease_ms
 * since the start of the last statement that took or renewed it.  0 after that, though the
 * database may not yet have let it go (a renewal that is late, a database that does not
 * answer): a standby may take it from then on.  Any thread. */
int pg_lease_held(pg_lease *l);
#endif
