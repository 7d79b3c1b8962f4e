/* http_standby — what a server answers while it stands by (another one leads the shared store),
 * with the contract of docs/agent-protocol.md ("Standby servers"): /healthz 503 {"status":
 * "standby", "leader": URL}; /metrics scraped as the leader's is, with barge_leader 0 (a target
 * that answers 503 is down to Prometheus, and a standby that waits is not down); everything
 * else 503 with a retriable ServerException naming the leader.  A leader whose lease it has not
 * renewed in time answers /healthz 503 too (http_standby_lease).  Any thread. */
#ifndef BARGE_HTTP_STANDBY_H
#define BARGE_HTTP_STANDBY_H

/* on: the server stands by, leader the leader's URL when known (NULL or ""). off: it serves. */
void http_standby(int on, const char *leader);

typedef struct standby_reply {
    int status;
    char *body;           /* malloc'd; NULL for a scrape, whose body is http_standby_scrape's */
    const char *err_type; /* the AWS error type of a refusal, else NULL */
    int scrape;           /* GET or HEAD /metrics: the caller checks --metrics-token first */
    int leader;           /* a leader's /healthz (lease unconfirmed): no X-Barge-Role */
} standby_reply;
/* A leader on a shared store: held() says whether its lease is surely still its own
 * (pg_lease_held); while it is not, /healthz answers 503 {"status": "lease-unconfirmed",
 * "role": "leader"}, CloudWatch Logs calls and agents' log uploads (served from this server's
 * own log store, not fenced by a commit) 503 ServerException, and everything else is served as
 * before (its commits are fenced by the store's epoch should a standby have taken over). */
void http_standby_lease(int (*held)(void));
/* 0 while the server serves; 1 with *out filled while it stands by. */
int http_standby_reply(const char *method, const char *url, standby_reply *out);
/* A standby's metrics text (malloc'd): barge_leader 0 and its own counters. */
char *http_standby_scrape(void);
#endif
