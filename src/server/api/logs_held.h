/* logs_held — job output the server refuses for now, by log stream.
 *
 * When the data directory's file system runs under the room kept for the job store
 * (--log-reserve-mb), agents' uploads are refused: the agents hold the lines and send them
 * again, and a job's end waits for its lines (so that a job seen finished has its whole log),
 * a TerminateJob's too.  The job then looks as if it ran on for no reason: its description
 * says so instead (jobdesc's barge member, `outputWaiting`; `barge explain`).  Noted by the
 * upload's thread, read by the core's: any thread. */
#ifndef BARGE_LOGS_HELD_H
#define BARGE_LOGS_HELD_H
#include <stddef.h>
#include <stdint.h>

/* An upload with lines of stream was refused, for why (a sentence). */
void logs_held_note(const char *stream, const char *why);
/* An upload with lines of stream was stored. */
void logs_held_clear(const char *stream);
/* When stream's lines were first refused (ms since the epoch) and why, into why (n bytes); 0
 * when they are not held (or its agent has not tried again for a while: it may be gone). */
int64_t logs_held_since(const char *stream, char *why, size_t n);
#endif
