/* exec_container.c's sweep of what agents that are gone left in the runtime's state root: it
 * removes the bundle runc's record names only when that is an attempt's directory, whatever the
 * record says (it is a file read back after a crash, and the removal runs as root). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/exec_container.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "check.h"

static char root[64];

/* A container of an agent that is gone (no process has that pid), whose record names rootfs. */
static void left_behind(const char *state, int n, const char *rootfs)
{
    char *dir = xasprintf("%s/barge-999999999-%d", state, n);
    CHECK(util_make_dirs(dir, 0700) >= 0);
    char *path = xasprintf("%s/state.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fprintf(f, "{\"id\":\"barge-999999999-%d\",\"config\":{\"rootfs\":\"%s\"}}", n, rootfs);
    fclose(f);
    free(path);
    free(dir);
}

static int exists(const char *rel)
{
    struct stat st;
    char *p = xasprintf("%s/%s", root, rel);
    int yes = stat(p, &st) == 0;
    free(p);
    return yes;
}

static void test_sweep_removes_only_bundles(void)
{
    char *state = xasprintf("%s/state", root);
    static const char *const dirs[] = {"work/slot-3/rootfs", "precious/rootfs", "work/slot-x/rootfs",
                                       "work/slot-4/etc", NULL};
    for (int i = 0; dirs[i]; i++) {
        char *d = xasprintf("%s/%s", root, dirs[i]);
        CHECK(util_make_dirs(d, 0755) >= 0);
        free(d);
    }
    char *slot = xasprintf("%s/work/slot-3/rootfs", root);
    char *precious = xasprintf("%s/precious/rootfs", root);
    char *odd = xasprintf("%s/work/slot-x/rootfs", root);
    char *up = xasprintf("%s/work/slot-4/etc/../rootfs", root);
    char *other = xasprintf("%s/work/slot-4/etc", root);
    left_behind(state, 0, slot);
    left_behind(state, 1, precious);
    left_behind(state, 2, odd);
    left_behind(state, 3, up);
    left_behind(state, 4, other);
    container_options o = {state, NULL, NULL, {0, 0, 0}, NULL, NULL, NULL, NULL, NULL};
    char *err = NULL;
    container_host *h = container_host_new(&o, &err);
    CHECK(h != NULL);
    CHECK_EQ_INT(container_host_sweep(h), 5);
    CHECK(!exists("work/slot-3"));
    CHECK(exists("precious/rootfs"));
    CHECK(exists("work/slot-x/rootfs"));
    CHECK(exists("work/slot-4/etc"));
    container_host_free(h);
    free(state);
    free(slot);
    free(precious);
    free(odd);
    free(up);
    free(other);
}

int main(void)
{
    log_level = LOG_ERROR;
    snprintf(root, sizeof root, "/tmp/barge-excont-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    RUN(test_sweep_removes_only_bundles);
    util_remove_tree(root);
    return 0;
}
