/* idmap — see idmap.h. */
#include "common/idmap.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* The highest id a range may reach: (uid_t)-1 means "no id" to the kernel's calls. */
#define ID_MAX 4294967294ULL

static int parse_number(const char *s, size_t n, unsigned long long *out)
{
    if (n == 0 || n > 10) return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* A range that leaves host root out and stays within the ids the kernel knows. */
static int range_ok(unsigned long long base, unsigned long long size)
{
    return base >= 1 && size >= 1 && base + size - 1 <= ID_MAX;
}

/* "BASE" or "BASE:SIZE" (*size left as the caller's default when absent): 0, or -1 when the
 * text is not that. */
static int parse_base_size(const char *text, unsigned long long *base, unsigned long long *size)
{
    const char *colon = strchr(text, ':');
    size_t nbase = colon ? (size_t)(colon - text) : strlen(text);
    return parse_number(text, nbase, base) < 0 ||
                   (colon && parse_number(colon + 1, strlen(colon + 1), size) < 0)
               ? -1 : 0;
}

const char *idmap_parse(const char *text, idmap *out)
{
    unsigned long long base, size = IDMAP_DEFAULT_SIZE;
    if (parse_base_size(text, &base, &size) < 0)
        return "must be HOSTBASE or HOSTBASE:SIZE, whole numbers (for example 1000000000:65536)";
    if (base == 0) return "must not start at 0: the container's root would be the host's";
    if (!range_ok(base, size)) return "must map 1 to 4294967294 ids, ending at 4294967294 at most";
    out->uid_base = out->gid_base = (unsigned)base;
    out->size = (unsigned)size;
    return NULL;
}

const char *idmap_parse_job_uids(const char *text, unsigned *first, unsigned *count)
{
    unsigned long long base, size = IDMAP_JOB_UIDS_COUNT;
    if (parse_base_size(text, &base, &size) < 0)
        return "must be FIRST or FIRST:COUNT, whole numbers (for example 2000000000:65536)";
    if (base == 0) return "must not start at 0: that is root";
    /* An attempt's uid is an int (-1: none), as every uid barge runs a process as. */
    if (size < 1 || base + size - 1 > INT_MAX)
        return "must hold 1 uid or more, ending at 2147483647 at most";
    *first = (unsigned)base;
    *count = (unsigned)size;
    return NULL;
}

const char *idmap_job_uids_conflict(unsigned first, unsigned count, const idmap *containers,
                                    char *why, size_t len)
{
    unsigned long long last = (unsigned long long)first + count - 1;
    const char *out = NULL;
    setpwent();
    for (struct passwd *pw; !out && (pw = getpwent());)
        if (pw->pw_uid >= first && pw->pw_uid <= last) {
            snprintf(why, len, "holds uid %u, the account %s's: each attempt's start and end "
                     "would kill its processes; choose a range no account uses",
                     (unsigned)pw->pw_uid, pw->pw_name);
            out = why;
        }
    endpwent();
    if (!out && containers && containers->size > 0) {
        unsigned long long cb = containers->uid_base, ce = cb + containers->size - 1;
        if (cb <= last && first <= ce) {
            snprintf(why, len, "overlaps the containers' host uids %llu to %llu "
                     "(--container-id-map): each attempt's start and end would kill their "
                     "processes", cb, ce);
            out = why;
        }
    }
    return out;
}

int idmap_subid_range(const char *path, const char *user, unsigned *base, unsigned *size)
{
    char *text = util_read_file(path);
    if (!text) return -1;
    char uid[24] = "";
    struct passwd pw, *found = NULL;
    char pwbuf[1024];
    if (getpwnam_r(user, &pw, pwbuf, sizeof pwbuf, &found) == 0 && found)
        snprintf(uid, sizeof uid, "%u", (unsigned)found->pw_uid);
    int rc = -1;
    for (char *line = text; line && *line && rc < 0;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        unsigned long long b, n;
        if (c2) {
            *c1 = '\0';
            if ((strcmp(line, user) == 0 || (*uid && strcmp(line, uid) == 0)) &&
                parse_number(c1 + 1, (size_t)(c2 - c1 - 1), &b) == 0 &&
                parse_number(c2 + 1, strcspn(c2 + 1, " \t\r"), &n) == 0 && range_ok(b, n)) {
                *base = (unsigned)b;
                *size = (unsigned)n;
                rc = 0;
            }
        }
        line = next;
    }
    free(text);
    return rc;
}

void idmap_default(const char *subuid_path, const char *subgid_path, idmap *out,
                   const char **source)
{
    unsigned ub, us, gb, gs;
    if (idmap_subid_range(subuid_path, IDMAP_SUBID_USER, &ub, &us) == 0 &&
        idmap_subid_range(subgid_path, IDMAP_SUBID_USER, &gb, &gs) == 0) {
        out->uid_base = ub;
        out->gid_base = gb;
        out->size = us < gs ? us : gs;
        *source = "the " IDMAP_SUBID_USER " user's subordinate ids";
        return;
    }
    out->uid_base = out->gid_base = IDMAP_DEFAULT_BASE;
    out->size = IDMAP_DEFAULT_SIZE;
    *source = "the default range";
}
