/* diskroom — room left on the data directory's file system, kept for the job store.
 *
 * Job output arrives as fast as a job can write it: one job printing without pause filled a
 * 100 MB data disk in seconds, and then every commit of the job store failed, TerminateJob of
 * that very job among them, so that nothing in the API could stop it.  Job output is refused
 * (its agent holds it, and the job waits on its pipe) while the file system has less free than
 * a reserve, so that the job store, which decides what jobs do, can always write. */
#ifndef BARGE_DISKROOM_H
#define BARGE_DISKROOM_H
#include <stddef.h>

/* The reserve in MiB for a file system of total_mib: given (0 or more), or by default a tenth
 * of it, from 16 to 256 MiB. */
long long diskroom_reserve_mib(long long given, long long total_mib);
/* 1 when dir's file system has less free than its reserve (given as for diskroom_reserve_mib),
 * with what is free and the reserve in MiB; 0 when not (bytes, what the caller is about to
 * write, are then counted as spent until the next look), or when it cannot be told.  From any
 * thread. */
int diskroom_low(const char *dir, long long given, size_t bytes, long long *free_mib,
                 long long *reserve_mib);
#endif
