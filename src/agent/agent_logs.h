/* agent_logs — the agent's log shipping: the lines attempts write wait in a queue (the agent's,
 * under its mutex) until the sender ships them to the server in batches (/barge/v1/agent/logs):
 * once a batch is full or the oldest line has waited long enough, and before any report, so
 * that a finished job's log is complete when a client sees it finished. */
#ifndef BARGE_AGENT_LOGS_H
#define BARGE_AGENT_LOGS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/agent_conn.h"
#include "agent/executor.h"

struct agent;

/* The executor's callbacks for output: one line of an attempt's output joins the queue; and
 * whether the queue is full, so that the supervisor leaves output in the pipes until it
 * drains. */
void agent_logs_line(void *ctx, const exec_spec *s, int source, int64_t at, const char *text,
                     size_t len);
int agent_logs_backlog(void *ctx);
/* A line of the agent's own for a job's log (its stderr), as the container executor's `say`. */
void agent_logs_say(void *ctx, const exec_spec *s, const char *line);

/* Whether the queued lines should go now: a batch is full, the oldest has waited long enough,
 * or urgent (the agent is stopping, or reports wait to follow them).  mu held. */
int agent_logs_due(struct agent *ag, int64_t now, int urgent);

/* When the oldest queued line is due (monotonic ms); 0 when none is queued.  mu held. */
int64_t agent_logs_flush_at(struct agent *ag);

/* Ships the oldest batch of log lines.  1 when shipped (or dropped as refused) with their count
 * in *sent, 0 when the server could not take them (try again later), -1 when the registration
 * is gone. */
int agent_logs_ship(struct agent *ag, agent_conn *h, const char *iid, size_t *sent);

/* Writes the lines still queued to WORK_DIR/undelivered/logs.jsonl, one JSON object a line, and
 * closes that file; the count written (the agent has stopped), and in *lost the count that could
 * not be (a full disk, the directory gone). */
size_t agent_logs_keep(struct agent *ag, size_t *lost);

/* The server answers again after the agent gave up on it: the lines written to the spool
 * meanwhile go back into the queue, after those already there, and the spool goes.  Their
 * count; *left is set when the spool was too big to take back (it stays, and says so). */
size_t agent_logs_unspool(struct agent *ag, int *left);

/* Whether a line of stream still waits in the queue.  mu held. */
int agent_logs_queued_for(struct agent *ag, const char *stream);

/* Drops the lines still queued (the agent has stopped). */
void agent_logs_clear(struct agent *ag);

#endif
