/* server_creds — job roles' temporary credentials across the server's life, wiring the API's
 * table of them (api/auth_temp.h) to the attempts (engine/attempt.h) and to the store
 * (model/role_creds.h).  The credentials call records what it issues (api/agent_creds.c); here
 * an attempt's credentials are dropped from the store when it ends, and those of the attempts
 * still running are put back when the state is loaded: at start, after a failover to this
 * server, and after a failed commit.  Core thread. */
#ifndef BARGE_SERVER_CREDS_H
#define BARGE_SERVER_CREDS_H
struct state;

/* Tells the engine whether a role may be assumed and what to do when an attempt ends. */
void server_creds_wire(void);
/* After the state is loaded and its attempts recovered: the table holds exactly the stored
 * credentials of the attempts that still run; the records of any other are deleted. */
void server_creds_restore(struct state *st);
#endif
