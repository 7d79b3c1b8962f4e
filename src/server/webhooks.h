/* webhooks — job state change events delivered to HTTP endpoints the operator names
 * (`barge server --webhooks FILE`).
 *
 * The file is JSON: {"targets": [{"name": N, "url": "http(s)://...", "secret": S, "queue": Q,
 * "status": [...], "batch": B}]}, queue and status optional filters as GetEvents takes them.  Each
 * target has a thread of its own that reads the events as a long-polling client would (GetEvents,
 * through the core) and POSTs each one, in order, as its JSON body (as EventBridge delivers to an
 * API destination), with `X-Barge-Event-Id: SEQ` and `X-Barge-Signature: sha256=HEX`, the
 * HMAC-SHA256 of the body with the target's secret, so the receiver can tell barge's deliveries
 * from anyone's.  With batch B (1 to 100; 1 by default) a POST carries up to B events as a JSON
 * array, `X-Barge-Event-Id` the last one's number and `X-Barge-Event-Count` how many: for
 * receivers that take thousands of events a second, where a POST an event would cost more than the
 * event.  A 2xx answer delivers an event; anything else (an error, no answer within 10 s, a
 * redirect, which is not followed) is retried with back-off (1 s doubling to 60 s) until it is
 * delivered: at least once, in order.  The log names what failed (the status, where a redirect
 * pointed), credentials in a URL masked.  A target that is down or hangs delays its own deliveries
 * and nothing else.  Where each target stands is kept in DATA_DIR/webhooks/NAME, so a restart goes
 * on from there (a target that fell behind the events kept starts at the oldest kept, and is told
 * of the gap in the log). */
#ifndef BARGE_WEBHOOKS_H
#define BARGE_WEBHOOKS_H
#include "server/api/api.h"

/* Reads and checks the file (every member, filters as GetEvents takes them, at most 100
 * targets, names unique); 0, or -1 after printing what is wrong.  Called once: the last
 * --webhooks given counts. */
int webhooks_read(const char *path);
/* Starts a thread per target (with the core running); op is GetEvents' long poll. */
void webhooks_start(const char *data_dir, const api_op *op);
/* Tells the threads to stop (before the core stops), then joins them (after). */
void webhooks_stop(void);
void webhooks_join(void);
#endif
