/* remover — see remover.h. */
#include "agent/remover.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

typedef struct gone {
    char *path;
    struct gone *next;
} gone;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    int running, stopping;
    char *trash;
    unsigned long seq;
    gone *head, **tail;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *remover_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&R.mu);
    for (;;) {
        while (!R.head && !R.stopping) pthread_cond_wait(&R.cond, &R.mu);
        gone *g = R.head;
        if (!g) break;
        R.head = g->next;
        if (!R.head) R.tail = &R.head;
        pthread_mutex_unlock(&R.mu);
        util_remove_tree(g->path);
        free(g->path);
        free(g);
        pthread_mutex_lock(&R.mu);
    }
    pthread_mutex_unlock(&R.mu);
    return NULL;
}

void remover_queue(char *path)
{
    pthread_mutex_lock(&R.mu);
    if (!R.running) {
        pthread_mutex_unlock(&R.mu);
        util_remove_tree(path);
        free(path);
        return;
    }
    gone *g = xcalloc(1, sizeof *g);
    g->path = path;
    *R.tail = g;
    R.tail = &g->next;
    pthread_cond_signal(&R.cond);
    pthread_mutex_unlock(&R.mu);
}

void remover_discard(const char *path)
{
    pthread_mutex_lock(&R.mu);
    /* This process's id in the name: what an earlier agent left there is not in the way. */
    char *dest = R.running ? xasprintf("%s/%ld-%lu", R.trash, (long)getpid(), ++R.seq) : NULL;
    pthread_mutex_unlock(&R.mu);
    if (dest && rename(path, dest) == 0) {
        remover_queue(dest);
        return;
    }
    /* ENOENT: nothing to remove; EXDEV: a tree on another filesystem goes where it is. */
    free(dest);
    util_remove_tree(path);
}

int remover_start(const char *trash)
{
    if (util_make_dirs(trash, 0700) < 0) {
        log_warn("cannot make %s: %s; trees are removed where they are let go of", trash,
                 strerror(errno));
        return -1;
    }
    R.trash = xstrdup(trash);
    R.tail = &R.head;
    R.stopping = 0;
    if (pthread_create(&R.thread, NULL, remover_main, NULL) != 0) {
        free(R.trash);
        R.trash = NULL;
        return -1;
    }
    pthread_mutex_lock(&R.mu);
    R.running = 1;
    pthread_mutex_unlock(&R.mu);
    /* What an agent stopped in the middle, or killed, left behind. */
    DIR *d = opendir(trash);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remover_queue(xasprintf("%s/%s", trash, e->d_name));
    if (d) closedir(d);
    return 0;
}

void remover_stop(void)
{
    pthread_mutex_lock(&R.mu);
    if (!R.running) {
        pthread_mutex_unlock(&R.mu);
        return;
    }
    /* What is let go of from now on goes in place: the thread may have drained the queue. */
    R.stopping = 1;
    R.running = 0;
    pthread_cond_signal(&R.cond);
    pthread_mutex_unlock(&R.mu);
    pthread_join(R.thread, NULL);
    free(R.trash);
    R.trash = NULL;
}
