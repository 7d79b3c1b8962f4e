/* remover.c: a tree let go of is out of the way at once and removed by the remover's thread;
 * what a stopped agent left in the trash is removed at the next start; without the thread,
 * trees are removed in place. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/remover.h"
#include "common/mem.h"
#include "common/util.h"
#include "check.h"

static char root[] = "/tmp/barge-remover-test-XXXXXX";

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* A directory of n files and a subdirectory. */
static char *tree(const char *name, int n)
{
    char *dir = xasprintf("%s/%s", root, name);
    CHECK(mkdir(dir, 0755) == 0);
    for (int i = 0; i < n; i++) {
        char *f = xasprintf("%s/f%d", dir, i);
        int fd = open(f, O_CREAT | O_WRONLY, 0600);
        CHECK(fd >= 0);
        close(fd);
        free(f);
    }
    char *sub = xasprintf("%s/sub", dir);
    CHECK(mkdir(sub, 0700) == 0);
    free(sub);
    return dir;
}

static int entries(const char *dir)
{
    char *cmd = xasprintf("ls -A %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    free(cmd);
    return n;
}

static void test_without_a_thread_in_place(void)
{
    char *dir = tree("in-place", 10);
    remover_discard(dir);
    CHECK(!exists(dir));
    free(dir);
    char *other = tree("queued-in-place", 3);
    remover_queue(other); /* taken */
}

static void test_discarded_trees_go_by_the_thread(void)
{
    char *trash = xasprintf("%s/trash", root);
    /* Left by an agent that stopped in the middle. */
    CHECK(util_make_dirs(trash, 0700) >= 0);
    char *left = xasprintf("%s/7", trash);
    CHECK(mkdir(left, 0700) == 0);
    CHECK_EQ_INT(remover_start(trash), 0);
    char *a = tree("a", 2000), *b = tree("b", 10);
    remover_discard(a);
    remover_discard(b);
    /* Out of the way at once, whatever the thread has done yet. */
    CHECK(!exists(a));
    CHECK(!exists(b));
    /* A tree already out of the way. */
    char *c = tree("c", 5);
    remover_queue(xstrdup(c));
    remover_discard("/tmp/barge-remover-test-no-such-path"); /* nothing: no error */
    remover_stop();
    CHECK(!exists(c));
    CHECK(!exists(left));
    CHECK_EQ_INT(entries(trash), 0);
    free(a);
    free(b);
    free(c);
    free(left);
    free(trash);
}

int main(void)
{
    CHECK(mkdtemp(root) != NULL);
    RUN(test_without_a_thread_in_place);
    RUN(test_discarded_trees_go_by_the_thread);
    util_remove_tree(root);
    return 0;
}
