/* event_answer — an answer of job state change events (api_events.c) as the core hands it to the
 * thread that writes it out: the events' texts held (model/events.h's event_text), not copied.
 *
 * An event's text is made once and read by every follower; copying it into each follower's
 * answer on the core thread was most of what following cost the core.  The thread that sends
 * an answer (an event stream's HTTP thread, a webhook's) reads the texts where they are:
 * event_answer_read writes the answer's text piece by piece into its own buffer, the one copy
 * it makes anyway; event_answer_text writes it whole.
 *
 * The text is GetEvents' JSON ({"events": [{"seq", "event"}], "lastSeq", ...}) or, with sse, the
 * stream's own lines: "id: SEQ", "event: Batch Job State Change", "data: JSON" and a blank line
 * an event, after any head (a gap or an ahead said as an event of its own) and before the tail
 * (": at SEQ", where the next poll starts).  Readers on one thread at a time. */
#ifndef BARGE_EVENT_ANSWER_H
#define BARGE_EVENT_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "server/model/events.h"

typedef struct event_item {
    uint64_t seq;
    event_text *text; /* a reference of the answer's own */
} event_item;

typedef struct event_answer {
    int sse;   /* the stream's form; else GetEvents' JSON */
    buf head;  /* before the first event: "{"events":[", or the stream's gap and ahead lines */
    buf tail;  /* after the last */
    event_item *items;
    size_t n;
    uint64_t last; /* where the next poll starts: the last event looked at */
    int gap;       /* events before the first were let go unread */
    int more;      /* a limit ended it while events after last were there: read on at once */
    size_t removed;  /* events passed over because their jobs were removed (retention) */
    uint64_t ahead;  /* the position asked for, when past the newest event; else 0 */
    /* Reading (event_answer_read): the piece being written, what is left of it, and what is
     * next. */
    const char *cur;
    size_t cur_len;
    size_t next_item;
    int stage;
    char frame[80];
} event_answer;

/* An empty answer in the stream's form (sse) or GetEvents', room made for max events. */
event_answer *event_answer_new(int sse, size_t max);
/* Adds the event seq, taking the reference to text. */
void event_answer_add(event_answer *a, uint64_t seq, event_text *text);
/* Writes up to max bytes of the answer's text to out, from where the last call stopped; 0 once
 * it is all written. */
size_t event_answer_read(event_answer *a, char *out, size_t max);
/* The whole text (malloc'd, NUL-terminated; its length in *len), written from the start. */
char *event_answer_text(event_answer *a, size_t *len);
/* Lets the texts go; NULL is nothing.  A void * for core_call's obj_free. */
void event_answer_free(void *a);

#endif
