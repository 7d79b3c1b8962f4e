/* agent_reports — what the instance tells the server about its attempts: the reports (an attempt
 * started, ended, or failed to start), queued for the sender, and the attempts it holds, which
 * every exchange lists.  Both live in the agent's state, under its mutex.
 *
 * An attempt is held from the moment its assignment is taken until the server has answered the
 * exchange that reported its end, so that the server can tell an assignment lost on the way from
 * one still running. */
#ifndef BARGE_AGENT_REPORTS_H
#define BARGE_AGENT_REPORTS_H
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/executor.h"

struct agent;
typedef struct agent_report agent_report;

/* Takes hold of an attempt for registration gen: 1, or 0 when it is held already (the server
 * sent its assignment again), or -1 when gen has ended. */
int agent_reports_hold(struct agent *ag, const char *job_id, int attempt, unsigned gen);

/* A new registration starts afresh: nothing held for an earlier one means anything.  mu held. */
void agent_reports_release_all(struct agent *ag);

/* The exchange's "holding" member: registration gen's attempts, but those whose end report the
 * same body carries.  mu held. */
json_t *agent_reports_holding(struct agent *ag, unsigned gen);

/* The "holding" member of a body that carries the reports list: an attempt whose end report
 * is in it is no longer held as far as the server is concerned.  mu held. */
json_t *agent_reports_holding_without(struct agent *ag, agent_report *list, unsigned gen);

/* Queues a report for the sender; end is the attempt whose end it reports, or NULL. */
void agent_reports_queue(struct agent *ag, json_t *body, const exec_spec *end);

/* The executor's callbacks for an attempt's start and end: each queues its report. */
void agent_reports_started(void *ctx, const exec_spec *s, pid_t pid, int64_t at);
void agent_reports_ended(void *ctx, const exec_spec *s, const exec_result *r);
/* The container backend's: an attempt's image is being pulled (reference), a report that the
 * server shows on the STARTING job until it runs. */
void agent_reports_pulling(void *ctx, const exec_spec *s, const char *reference);

/* Takes the queued reports of registration gen, oldest first; those of an earlier one go to
 * *stale.  mu held. */
agent_report *agent_reports_take(struct agent *ag, unsigned gen, agent_report **stale);

/* The bodies of a list of reports, for an exchange's "reports" member. */
json_t *agent_reports_bodies(const agent_report *list);

/* Takes out of *list the end reports whose attempt's lines still wait in the log queue, in
 * order, and returns them.  mu held. */
agent_report *agent_reports_behind_lines(struct agent *ag, agent_report **list);

/* Puts reports the server did not take back at the head of the queue. */
void agent_reports_requeue(struct agent *ag, agent_report *list);

/* Frees a list of reports; NULL is ignored. */
void agent_reports_free(agent_report *r);

/* The server has taken (or refused for good) the reports of list: the attempts whose end they
 * report are held no more. */
void agent_reports_delivered(struct agent *ag, agent_report *list);

/* Drops every queued report and held attempt (the agent has stopped). */
void agent_reports_clear(struct agent *ag);

#endif
