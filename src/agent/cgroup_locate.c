/* cgroup_locate — where the memory controller is, read from /proc/self/cgroup and
 * /proc/self/mountinfo's texts (pure, so that tests feed it other machines' layouts).  See
 * cgroup.h. */
#include "agent/cgroup.h"
#include "agent/cgroup_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

/* 1 if the space- or comma-separated list holds word. */
int cgroup__has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n) {
        int starts = p == list || p[-1] == ',' || p[-1] == ' ' || p[-1] == '\n';
        int ends = p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\n';
        if (starts && ends) return 1;
    }
    return 0;
}

/* Mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else
            *w++ = *r;
    }
    *w = '\0';
}

/* Finds a mount of fstype (with superopt among its super options when not NULL) whose root
 * contains cgpath; returns the directory of cgpath in it, or NULL. */
static char *mount_dir(const char *mountinfo, const char *fstype, const char *superopt,
                       const char *cgpath)
{
    char *copy = xstrdup(mountinfo), *save = NULL, *result = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !result;
         line = strtok_r(NULL, "\n", &save)) {
        char *fields[64];
        int n = 0;
        char *fsave = NULL;
        for (char *f = strtok_r(line, " ", &fsave); f && n < 64; f = strtok_r(NULL, " ", &fsave))
            fields[n++] = f;
        int dash = -1;
        for (int i = 6; i < n; i++)
            if (strcmp(fields[i], "-") == 0) {
                dash = i;
                break;
            }
        if (n < 6 || dash < 0 || dash + 3 > n) continue;
        if (strcmp(fields[dash + 1], fstype) != 0) continue;
        if (superopt && !cgroup__has_word(fields[dash + 3], superopt)) continue;
        char *root = fields[3], *point = fields[4];
        unescape_octal(root);
        unescape_octal(point);
        size_t rlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if (strncmp(cgpath, root, rlen) != 0 || (cgpath[rlen] != '/' && cgpath[rlen] != '\0'))
            continue;
        const char *rest = cgpath + rlen;
        if (strcmp(rest, "/") == 0) rest = "";
        result = xasprintf("%s%s", point, rest);
    }
    free(copy);
    return result;
}

char *cgroup_mount_dir(const char *mountinfo, const char *fstype, const char *superopt,
                       const char *cgpath)
{
    return mount_dir(mountinfo, fstype, superopt, cgpath);
}

cgroup_mode cgroup_locate(const char *proc_cgroup, const char *mountinfo, char **dir, char **why)
{
    *dir = *why = NULL;
    char *v1path = NULL, *v2path = NULL;
    char *copy = xstrdup(proc_cgroup), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = '\0';
        if (c1 == line + 1 && line[0] == '0' && c2 == c1 + 1) {
            free(v2path);
            v2path = xstrdup(c2 + 1);
        } else if (cgroup__has_word(c1 + 1, "memory")) {
            free(v1path);
            v1path = xstrdup(c2 + 1);
        }
    }
    free(copy);
    cgroup_mode mode = CGROUP_NONE;
    const char *path = v1path ? v1path : v2path;
    if (!path) {
        *why = xstrdup("/proc/self/cgroup names neither a cgroup v1 memory hierarchy nor the "
                       "cgroup v2 hierarchy");
    } else if (strncmp(path, "/..", 3) == 0) {
        *why = xasprintf("the agent's cgroup %s lies outside its cgroup namespace", path);
    } else if (v1path) {
        *dir = mount_dir(mountinfo, "cgroup", "memory", v1path);
        if (*dir) mode = CGROUP_V1;
        else
            *why = xasprintf("the memory controller is on cgroup v1 but no mount of its "
                             "hierarchy shows the agent's cgroup %s", v1path);
    } else {
        *dir = mount_dir(mountinfo, "cgroup2", NULL, v2path);
        if (*dir) mode = CGROUP_V2;
        else
            *why = xasprintf("no cgroup2 mount shows the agent's cgroup %s", v2path);
    }
    free(v1path);
    free(v2path);
    return mode;
}
