/* agent_conn — the agent's side of the wire: a connection to the server that POSTs a JSON body
 * to a path of the protocol (docs/agent-protocol.md) and reads the JSON answer.
 *
 * The agent has two, the poller's and the sender's.  Each is used by its own thread only; any
 * thread may wake both (agent_wake_connections), and a woken connection gives up a request the
 * agent no longer wants: any once the agent stops (the poller's) or its last delivery attempt is
 * over (the sender's), and a waiting exchange once its registration has ended. */
#ifndef BARGE_AGENT_CONN_H
#define BARGE_AGENT_CONN_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/httpc.h"

struct agent;

/* The servers an agent may talk to (--server URL[,URL...]): several barge servers on one
 * database, one leading and the others standing by (docs/operations.md).  Both connections share
 * the list and the one that answered last as leader, so that a connection that found the new
 * leader spares the other the search. */
typedef struct agent_servers {
    char **url;
    size_t n;
    _Atomic size_t at; /* the one requests go to first */
} agent_servers;

/* Reads "URL[,URL...]" (each http:// or https://) into s.  -1 with a sentence in err. */
int agent_servers_parse(agent_servers *s, const char *list, char *err, size_t errlen);
void agent_servers_free(agent_servers *s);
/* The server requests go to now. */
const char *agent_servers_current(agent_servers *s);

/* Each belongs to one thread; the agent owns them, so that other threads may wake them at any
 * time. */
typedef struct agent_conn {
    httpc *c;
    struct agent *ag; /* its owner, for the abandon check (agent_state.h) */
    agent_servers *servers;
    unsigned gen;
    int poller;    /* this connection belongs to the poller */
    int watch_gen; /* abandon the request when registration gen ends (waiting exchanges) */
    /* What a request carries as "Authorization: Bearer ...": the join token (join) or the
     * instance's credential; a fresh string or NULL, which the connection wipes and frees. */
    char *(*bearer)(struct agent *ag, int join);
    /* When the server last answered a request on it, with any status (monotonic ms, 0 before
     * it ever did): whether the server is there at all (agent_orphan.h). */
    _Atomic int64_t last_answer;
} agent_conn;

/* Opens the poller's connection (poller 1) or the sender's to servers, and closes it.  abandon
 * (given the connection) says whether the request in flight is no longer wanted.  ca_file (or
 * NULL for the system's) holds the certificates an https:// server is verified against.
 * bearer gives each request's credential (agent_conn.bearer). */
void agent_conn_init(agent_conn *h, struct agent *ag, agent_servers *servers, const char *ca_file,
                     int poller, int (*abandon)(void *conn),
                     char *(*bearer)(struct agent *ag, int join));
void agent_conn_close(agent_conn *h);

enum { AGENT_CONN_UNREACHABLE = 0, AGENT_CONN_ABORTED = -1 };

/* The longest answer the agent takes from its server: an exchange that assigns 256 attempts
 * of the largest job the server takes (a request of 1 MiB, unless --max-body says otherwise)
 * fits, and no answer can take all the host's memory.  What sends more is not a barge server
 * as it should be, and the request fails. */
#define AGENT_CONN_ANSWER_MAX (256 * 1024 * 1024)

#define AGENT_REGISTER_PATH "/barge/v1/agent/register"

/* POSTs body (taken) to path.  Returns the HTTP status, AGENT_CONN_UNREACHABLE with err set, or
 * AGENT_CONN_ABORTED.  A server that cannot be reached, or that answers as a standby (503 with
 * "X-Barge-Role: standby"), passes the request on to the next of the list, once round it; the
 * one that answers otherwise becomes the current one.  *answer receives the parsed JSON answer, or NULL.  The request carries
 * the join token (registration) or the instance's credential as it is now (the rest). */
long agent_conn_post(agent_conn *h, const char *path, json_t *body, long timeout_s,
                     json_t **answer, char *err, size_t errlen);

/* Whether an answer says that the server no longer knows this instance (404
 * UnknownInstanceException) or no longer accepts its credential (401: revoked, or replaced long
 * ago): either way the agent registers afresh. */
int agent_conn_unknown_instance(long status, json_t *answer);

#endif
