/* kill_memo — kill orders for attempts the executor does not hold (yet).
 *
 * The server may send an attempt's kill order before the agent has taken the assignment it sent
 * first (an exchange answered while another was still being read); an order dropped then would
 * leave the attempt to run its course.  The executor notes such an order here, and an
 * assignment that comes within KILL_MEMO_MS ends at once with the order's cause and reason.
 * A ring of KILL_MEMO_SLOTS: the oldest order goes first.  One thread (the executor's loop). */
#ifndef BARGE_KILL_MEMO_H
#define BARGE_KILL_MEMO_H
#include <stdint.h>

#define KILL_MEMO_SLOTS 64
#define KILL_MEMO_MS 60000

typedef struct kill_memo_entry {
    char *job_id, *reason; /* job_id NULL: a free slot */
    int attempt;
    int cause; /* an exec_stop_cause (executor.h) */
    int64_t until; /* monotonic ms */
} kill_memo_entry;

typedef struct kill_memo {
    kill_memo_entry slot[KILL_MEMO_SLOTS];
    unsigned next;
} kill_memo;

/* Notes an order (the strings are copied). */
void kill_memo_note(kill_memo *m, const char *job_id, int attempt, int cause,
                    const char *reason);
/* 1 when an order for this attempt was noted and has not expired: it is taken, *cause set and
 * *reason handed over (malloc'd, or NULL); else 0. */
int kill_memo_take(kill_memo *m, const char *job_id, int attempt, int *cause, char **reason);
/* 1 when an order for this attempt is noted and has not expired (not taken). */
int kill_memo_has(const kill_memo *m, const char *job_id, int attempt);
/* Frees what the memo holds (not m itself). */
void kill_memo_clear(kill_memo *m);
#endif
