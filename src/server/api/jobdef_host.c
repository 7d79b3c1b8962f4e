/* jobdef_host — the container members that reach into the instance a job runs on. */
#include "server/api/jobdef_host.h"

#include <ctype.h>
#include <string.h>

static int check_volumes(api_ctx *c, json_t *cp, int fargate, const char *field)
{
    json_t *vols = json_object_get(cp, "volumes");
    size_t i, j;
    json_t *v, *w;
    json_array_foreach(vols, i, v) {
        const char *name = api_str(v, "name");
        if (name) {
            size_t n = strlen(name);
            int ok = n >= 1 && n <= 255;
            for (size_t k = 0; ok && k < n; k++)
                ok = isalnum((unsigned char)name[k]) || name[k] == '-' || name[k] == '_';
            if (!ok)
                return api_client_error(c, "%s.volumes[%zu].name: '%.64s' is not a valid volume "
                                           "name; use 1 to 255 letters, digits, hyphens and "
                                           "underscores", field, i, name);
            json_array_foreach(vols, j, w) {
                if (j >= i) break;
                if (api_str(w, "name") && strcmp(api_str(w, "name"), name) == 0)
                    return api_client_error(c, "%s.volumes[%zu].name: '%s' is already the name "
                                               "of volumes[%zu]; volume names must be unique",
                                            field, i, name, j);
            }
        }
        if (fargate && json_object_get(v, "host"))
            return api_client_error(c, "%s.volumes[%zu].host: host volumes are not available on "
                                       "Fargate resources; remove it", field, i);
    }
    json_array_foreach(json_object_get(cp, "mountPoints"), i, v) {
        const char *src = api_str(v, "sourceVolume");
        if (!src)
            return api_client_error(c, "%s.mountPoints[%zu].sourceVolume: required; name the "
                                       "entry of %s.volumes to mount", field, i, field);
        if (!api_str(v, "containerPath"))
            return api_client_error(c, "%s.mountPoints[%zu].containerPath: required; give the "
                                       "path in the container where the volume appears",
                                    field, i);
        int found = 0;
        json_array_foreach(vols, j, w)
            if (api_str(w, "name") && strcmp(api_str(w, "name"), src) == 0) found = 1;
        if (!found)
            return api_client_error(c, "%s.mountPoints[%zu].sourceVolume: '%.64s' is not the "
                                       "name of any entry in %s.volumes", field, i, src, field);
    }
    return 0;
}

static int check_linux(api_ctx *c, json_t *lp, int fargate, const char *field)
{
    if (!lp) return 0;
    if (fargate) {
        static const char *const not_fargate[] = {"devices", "sharedMemorySize", "tmpfs",
                                                  "maxSwap", "swappiness", NULL};
        for (const char *const *m = not_fargate; *m; m++)
            if (json_object_get(lp, *m))
                return api_client_error(c, "%s.linuxParameters.%s: does not apply to jobs on "
                                           "Fargate resources; remove it", field, *m);
    }
    json_int_t v;
    if ((v = api_int(lp, "sharedMemorySize", 1)) < 1)
        return api_client_error(c, "%s.linuxParameters.sharedMemorySize: must be at least 1 MiB "
                                   "(got %lld)", field, (long long)v);
    if ((v = api_int(lp, "maxSwap", 0)) < 0)
        return api_client_error(c, "%s.linuxParameters.maxSwap: must be 0 or more (got %lld)",
                                field, (long long)v);
    if ((v = api_int(lp, "swappiness", 60)) < 0 || v > 100)
        return api_client_error(c, "%s.linuxParameters.swappiness: must be between 0 and 100 "
                                   "(got %lld)", field, (long long)v);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(lp, "tmpfs"), i, t) {
        if (api_int(t, "size", 0) < 1)
            return api_client_error(c, "%s.linuxParameters.tmpfs[%zu].size: must be at least 1 "
                                       "MiB (got %lld)", field, i,
                                    (long long)api_int(t, "size", 0));
    }
    return 0;
}

int jobdef_check_host(api_ctx *c, json_t *cp, int fargate, const char *field)
{
    if (fargate && json_is_true(json_object_get(cp, "privileged")))
        return api_client_error(c, "%s.privileged: does not apply to jobs on Fargate "
                                   "resources; remove it or set it to false", field);
    if (check_volumes(c, cp, fargate, field) < 0) return -1;
    return check_linux(c, json_object_get(cp, "linuxParameters"), fargate, field);
}
