/* job_uids — a host uid of its own for each process-executor attempt, from a range no account
 * uses (--job-uids), so that one job cannot read another's environment in /proc (secrets and a
 * role's credentials token), signal its processes (`kill -9 -1`), read its files, or use up its
 * RLIMIT_NPROC, as jobs that share one user (nobody) could.  No account is needed: a uid
 * without one runs programs, owns files and is counted like any other (`id -un` alone fails).
 *
 * A uid is held with a lock file under a directory every agent of the host uses (flock, so an
 * agent that dies lets its uids go; the file is removed as the uid is given back): two agents
 * never hand out the same uid at once.  Every process of a uid is killed when it is given back
 * (what the attempt left running: a daemon it started, a process that left its session) and
 * again when it is taken (what an agent that died left), so an attempt starts with its uid to
 * itself.  What the uid made in /dev/shm (POSIX shared memory and semaphores, which live
 * there as files) goes with it; its SysV IPC objects and message queues are its attempt's IPC
 * namespace's (exec_process), gone with the attempt's last process.  The uids are handed out
 * in turn from a random place in the range, so what a uid leaves elsewhere (files in /tmp,
 * which jobs may leave there on purpose) reaches the next attempt of that uid only once the
 * range has gone round.
 *
 * One thread (the executor's loop): that thread reaps the short-lived child each kill uses. */
#ifndef BARGE_JOB_UIDS_H
#define BARGE_JOB_UIDS_H
#include <stdint.h>

/* Where the host's agents lock the uids they hold. */
#define JOB_UIDS_LOCK_DIR "/run/barge/job-uids"
/* Where a uid's files are removed from as it is given back and taken. */
#define JOB_UIDS_SHM_DIR "/dev/shm"

typedef struct job_uids job_uids;

/* A pool of uids first to first+count-1 locked under lock_dir (made when missing, root's
 * alone); NULL with *err set to a fresh sentence when the directory cannot be used. */
job_uids *job_uids_new(const char *lock_dir, uint32_t first, uint32_t count, char **err);
void job_uids_free(job_uids *p);

/* A uid no one else on the host holds, the one after the last taken, its processes killed
 * and its shm files removed: 0,
 * or -1 with errno (EAGAIN: all are held; else why the lock directory failed). */
int job_uids_take(job_uids *p, uint32_t *uid);
/* Kills what uid still runs, removes its files from the shm directory and lets it go. */
void job_uids_give(job_uids *p, uint32_t uid);
/* Another directory than JOB_UIDS_SHM_DIR (tests). */
void job_uids_set_shm_dir(job_uids *p, const char *dir);

/* Removes what uid owns at the top of dir: files and links, and directories with all they
 * hold.  Nothing of the uid's may still run (it could make more as they go). */
void job_uids_remove_files(const char *dir, uint32_t uid);

/* Sends SIGKILL to every process whose real or saved uid is uid (kill(-1) from a child that
 * is uid).  0, or -1 with errno when the child could not be made. */
int job_uids_kill_all(uint32_t uid);
#endif
