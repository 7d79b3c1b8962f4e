/* efs_mounts — see efs_mounts.h. */
#include "common/efs_mounts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/mem.h"

/* "fs-" or "fsap-" and letters and digits, as AWS writes the ids. */
static int id_valid(const char *id)
{
    const char *rest = strncmp(id, "fsap-", 5) == 0 ? id + 5
                       : strncmp(id, "fs-", 3) == 0 ? id + 3
                                                    : NULL;
    if (!rest || !*rest || strlen(rest) > 64) return 0;
    for (; *rest; rest++)
        if (!isalnum((unsigned char)*rest)) return 0;
    return 1;
}

/* Whether path has a "." or ".." component. */
static int has_dot_component(const char *path)
{
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 1;
        p += n;
        while (*p == '/') p++;
    }
    return 0;
}

json_t *efs_mounts_load(const char *path, char **err)
{
    json_error_t e;
    json_t *m = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!m) {
        /* jansson gives no line when the file could not be read at all. */
        *err = e.line > 0 ? xasprintf("%s: %s (line %d)", path, e.text, e.line)
                          : xasprintf("%s: %s", path, e.text);
        return NULL;
    }
    if (!json_is_object(m)) {
        *err = xasprintf("%s: expected a JSON object of file system or access point ids and the "
                         "directories where they are mounted, such as {\"fs-0123abcd\": "
                         "\"/mnt/efs\"}", path);
        json_decref(m);
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v) {
        const char *dir = json_string_value(v);
        if (!id_valid(key)) {
            *err = xasprintf("%s: '%.80s' is not a file system id (fs-...) or an access point id "
                             "(fsap-...)", path, key);
        } else if (!dir || dir[0] != '/' || has_dot_component(dir)) {
            *err = xasprintf("%s: %s: give the absolute directory where it is mounted on this "
                             "instance, without '.' or '..'", path, key);
        } else {
            continue;
        }
        json_decref(m);
        return NULL;
    }
    return m;
}

const char *efs_root_directory_invalid(const char *root)
{
    if (!root) return NULL;
    if (strlen(root) > 4096) return "is longer than 4096 characters";
    if (has_dot_component(root)) return "must not have '.' or '..' components";
    return NULL;
}

/* Opens path (relative to dir, or absolute) as a directory without following any symbolic link:
 * component by component, for kernels before Linux 5.6 and tools (valgrind) without openat2.
 * There a link in rootDirectory is refused rather than resolved inside the file system.  The
 * components are checked before ("." and ".." are refused). */
static int open_without_links(int dir, const char *path)
{
    int fd = path[0] == '/' || dir == AT_FDCWD ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)
                                               : fcntl(dir, F_DUPFD_CLOEXEC, 0);
    for (const char *p = path; fd >= 0 && *p;) {
        while (*p == '/') p++;
        size_t n = strcspn(p, "/");
        if (!n) break;
        char part[256];
        struct stat sb;
        int next = -1;
        if (n >= sizeof part) {
            errno = ENAMETOOLONG;
        } else {
            memcpy(part, p, n);
            part[n] = '\0';
            next = openat(fd, part, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            /* O_PATH with O_NOFOLLOW opens a link itself: refused as openat2 refuses it. */
            if (next >= 0 && (fstat(next, &sb) < 0 || !S_ISDIR(sb.st_mode))) {
                int link = fstat(next, &sb) == 0 && S_ISLNK(sb.st_mode);
                close(next);
                next = -1;
                errno = link ? ELOOP : ENOTDIR;
            }
        }
        int e = errno;
        close(fd);
        errno = e;
        fd = next;
        p += n;
    }
    return fd;
}

int efs_mounts_open(const json_t *mounts, const json_t *efs, char *reason, size_t reason_len)
{
    const char *fs = json_string_value(json_object_get(efs, "fileSystemId"));
    const char *ap = json_string_value(
        json_object_get(json_object_get(efs, "authorizationConfig"), "accessPointId"));
    const char *root = json_string_value(json_object_get(efs, "rootDirectory"));
    const char *why = efs_root_directory_invalid(root);
    if (why) {
        snprintf(reason, reason_len, "rootDirectory %s", why);
        return -1;
    }
    if (ap && !*ap) ap = NULL;
    const char *id = ap ? ap : fs ? fs : "";
    const char *base = json_string_value(json_object_get(mounts, id));
    if (!base) {
        if (ap)
            snprintf(reason, reason_len, "access point %.80s of Amazon EFS file system %.80s is "
                     "not mounted on this instance; name its directory with barge agent "
                     "--efs-mounts", ap, fs ? fs : "");
        else
            snprintf(reason, reason_len, "Amazon EFS file system %.80s is not mounted on this "
                     "instance; name its directory with barge agent --efs-mounts", id);
        return -1;
    }
    /* The table's directory as the operator named it: a link on the way (an access point's
     * directory inside a file system that jobs write, replaced by one) is not followed. */
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS};
    int dir = (int)syscall(SYS_openat2, AT_FDCWD, base, &how, sizeof how);
    if (dir < 0 && errno == ENOSYS) dir = open_without_links(AT_FDCWD, base);
    if (dir < 0) {
        snprintf(reason, reason_len, "%.300s (the directory of %.80s in --efs-mounts): %s", base,
                 id, errno == ELOOP ? "a symbolic link is on its path; name the directory itself"
                                    : strerror(errno));
        return -1;
    }
    /* An access point is its own root: rootDirectory is "/" or absent with one (AWS's rule). */
    while (root && *root == '/') root++;
    if (ap || !root || !*root) return dir;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    int fd = (int)syscall(SYS_openat2, dir, root, &how, sizeof how);
    if (fd < 0 && errno == ENOSYS) fd = open_without_links(dir, root);
    int e = errno;
    close(dir);
    if (fd < 0)
        snprintf(reason, reason_len, "%.300s/%.300s: %s", base, root, strerror(e));
    return fd;
}
