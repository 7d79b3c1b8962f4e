/* store_pipe — a store whose commits run on a thread of their own.
 *
 * The core thread writes a batch (put, del) into memory and hands it over with store_pipe_send;
 * a writer thread replays it on the real store in one transaction and commits it (the fsync, the
 * WAL's pages, a PostgreSQL round trip) while the core thread already runs the next batch.  A
 * batch with nothing to commit is not handed over: its answers wait on the commit in flight
 * (store_pipe_after).  A
 * batch is handed over only once the one before it is committed, so at most one commit is in
 * flight and batches commit in order; the core learns whether the previous commit held when it
 * hands over the next (store_pipe_send's answer) or waits (store_pipe_wait).
 *
 * Through the store interface it is the wrapped store: begin does nothing (writes are always
 * recorded), put and del record, rollback drops what is recorded, commit hands over and waits,
 * and scan waits until no commit is in flight and reads the wrapped store.  Only one thread (the
 * core) may use it, besides the writer it starts. */
#ifndef BARGE_STORE_PIPE_H
#define BARGE_STORE_PIPE_H
#include <stdint.h>

#include "server/base/store.h"

/* Wraps inner (closing the pipe closes it) and starts the writer thread; NULL if the thread
 * cannot start (inner is then closed too). */
store *store_pipe_new(store *inner);
/* Whether s is a pipe. */
int store_is_pipe(const store *s);
/* Waits for the commit in flight: 0 when every commit handed over so far held, -1 when one
 * failed since the last time this said so (the writes recorded since are built on it: the caller
 * drops them with store_rollback and reads the state back). */
int store_pipe_wait(store *s);
/* Hands the recorded writes over, once the commit in flight is done.  Returns -1 without
 * handing anything when that commit failed (as store_pipe_wait); else 0, and done(arg, ok) runs
 * on the writer thread when this batch is committed (ok 1) or failed (ok 0). */
int store_pipe_send(store *s, void (*done)(void *arg, int ok), void *arg);
/* Whether the batch must be handed over as a commit: writes were recorded since the last
 * hand-over, or the wrapped store checks every batch, reads too (store.h: reads_commit). */
int store_pipe_must_commit(const store *s);
/* For any other batch: its answers may not leave before the commit in flight (they
 * may tell of what it writes), but there is nothing to commit, so the core need not wait for it.
 * done(arg, ok) runs on the writer thread once that commit is done, with its outcome; or at once,
 * on this thread, when none is in flight.  Returns -1 without running done when a commit failed
 * and the caller was not told yet (as store_pipe_wait); else 0. */
int store_pipe_after(store *s, void (*done)(void *arg, int ok), void *arg);
/* How long the commit in flight has been running (0 when none is): a leader whose commit hangs
 * (a database session stuck on its disk, stopped) serves nothing meanwhile. */
int64_t store_pipe_stuck_ms(void);
#endif
