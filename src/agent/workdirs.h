/* workdirs — the attempts' working directories under the agent's work directory ("slot-N"),
 * with a few emptied ones kept for the next attempts so that the steady state makes and removes
 * none.  One thread (the executor's loop). */
#ifndef BARGE_WORKDIRS_H
#define BARGE_WORKDIRS_H

typedef struct workdirs {
    const char *root; /* not owned */
    int job_uid;      /* owner a kept directory must have; -1: the agent's own user;
                       * WORKDIRS_ANY_OWNER: any (each attempt's uid is its own, and the next
                       * attempt's directory is given to the next uid) */
    int max;          /* directories kept at most */
    char **spare;
    int nidle;
    unsigned next; /* names new directories "slot-N" */
} workdirs;

#define WORKDIRS_ANY_OWNER (-2)

void workdirs_init(workdirs *w, const char *root, int max, int job_uid);
/* A fresh empty directory (malloc'd path): a kept one, or a new one; *err 0, or the errno of
 * its making (the path is then still given, to be handed back). */
char *workdirs_take(workdirs *w, int *err);
/* Gives an attempt's directory back (takes dir): kept when clean allows and it is still fit
 * (empty, ours, not writable by others), else removed with what it holds. */
void workdirs_give(workdirs *w, char *dir, int clean);
/* Removes the kept directories. */
void workdirs_drop_idle(workdirs *w);
/* workdirs_drop_idle, and frees what w holds. */
void workdirs_free(workdirs *w);
#endif
