/* cgroup_internal — the record of one attempt's cgroup, shared by the files of agent/cgroup
 * (cgroup.c and its helpers); everything else sees an opaque cgroup (cgroup.h). */
#ifndef BARGE_CGROUP_INTERNAL_H
#define BARGE_CGROUP_INTERNAL_H
#include <stdint.h>

#include "agent/cgroup.h"

struct cgroup {
    cgroup_mode mode;
    int memsw;
    char *path;
    int procs_fd;    /* cgroup.procs, written by the spawner's child */
    int oom_fd;      /* memory.events (v2) or memory.oom_control (v1), kept open; or -1 */
    int events_fd;   /* v2: cgroup.events, kept open; or -1 */
    /* v1: an eventfd the kernel signals when this cgroup's limit drives it out of memory, or
     * -1.  v1 counts an OOM kill in the victim's own cgroup only, and a container's processes
     * live in a child cgroup its runtime makes and removes; the notification reaches the
     * cgroup whose limit was hit, which is this one. */
    int oom_efd;
    long oom_events; /* v1: notifications read from oom_efd during the current attempt */
    int64_t limit;   /* the memory limit last set, in bytes; 0 for none */
    long oom_base;   /* the OOM counter when the current attempt began */
    int empty;       /* the last look found no process in it */
    int reused;      /* it served an attempt before this one (v2's memory.peak spans both) */
    cgroup *next;    /* in the host's pool */
};

/* 1 if the space- or comma-separated list holds word (cgroup_locate.c). */
int cgroup__has_word(const char *list, const char *word);
#endif
