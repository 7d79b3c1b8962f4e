/* fuzz_image — what an image's author and the server decide about a container, as the agent
 * turns it into the runtime's configuration: the image's configuration blob (its "config":
 * Entrypoint, Cmd, Env, User, WorkingDir), kept as the image cache keeps it (image.json), the
 * server's assignment read by agent_assign.c (command, environment, the container member: user,
 * mount points and volumes, ulimits, linuxParameters, vCPUs) and the image's /etc/passwd and
 * /etc/group, through container_config.  A configuration that comes out must serialise, run
 * something, in an absolute working directory.  Odd attempt numbers run in a user namespace,
 * even ones without, as with --container-userns off.
 *
 * And the image cache's own record on disk as a crash may leave it (refs.json), read back by
 * image_cache_new beside a few bundles: what it counts must stay sane.
 *
 * Input: "CONFIG\0ASSIGNMENT\0PASSWD\0GROUP" (a part left out: none; an assignment that is not
 * one: a plain one), or "refs.json\n" and the file's text.
 *
 * Host volumes' sourcePaths are moved below the harness's own directory (the agent makes them):
 * the harness must not create directories across the host. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/agent_assign.h"
#include "agent/container_config.h"
#include "agent/container_rlimits.h"
#include "agent/image_cache.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/barge-fuzz-image-XXXXXX";
static char *lower, *work, *hostdir, *cache;

static void remove_dir(void)
{
    util_remove_tree(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_level = 99;
    if (!mkdtemp(dir)) {
        fprintf(stderr, "fuzz_image: mkdtemp failed\n");
        exit(1);
    }
    atexit(remove_dir);
    lower = xasprintf("%s/bundle/rootfs", dir);
    work = xasprintf("%s/slot-0", dir);
    hostdir = xasprintf("%s/host", dir);
    cache = xasprintf("%s/cache", dir);
    char *etc = xasprintf("%s/etc", lower);
    if (util_make_dirs(etc, 0755) < 0 || util_make_dirs(work, 0755) < 0) {
        fprintf(stderr, "fuzz_image: cannot make %s\n", dir);
        exit(1);
    }
    free(etc);
    return 0;
}

/* Writes part (NULL: removes the file) as the image's etc/NAME. */
static void put_etc(const char *name, const char *part, size_t len)
{
    char *path = xasprintf("%s/etc/%s", lower, name);
    if (!part) {
        unlink(path);
    } else {
        FILE *f = fopen(path, "w");
        if (!f) abort();
        fwrite(part, 1, len, f);
        fclose(f);
    }
    free(path);
}

/* Host volumes keep their names but not their places: each source goes below hostdir. */
static int move_sources(json_t *container)
{
    size_t i;
    json_t *v;
    int any = 0;
    json_array_foreach(json_object_get(container, "volumes"), i, v) {
        json_t *host = json_object_get(v, "host");
        const char *src = json_string_value(json_object_get(host, "sourcePath"));
        any = 1;
        if (!src || src[0] != '/') continue; /* refused as it is */
        char *flat = xstrndup(src + 1, strnlen(src + 1, 64));
        for (char *p = flat; *p; p++)
            if (*p == '/') *p = '_';
        char *moved = xasprintf("%s/%s", hostdir, *flat && strcmp(flat, "..") ? flat : "x");
        json_object_set_new(host, "sourcePath", json_string(moved));
        free(moved);
        free(flat);
    }
    return any;
}

/* The assignment when the input gives none. */
static const char plain[] = "{\"jobId\":\"j\",\"attempt\":1,\"command\":[],\"environment\":{}}";

static void run_config(const char *const part[4], const size_t len[4])
{
    put_etc("passwd", part[2], len[2]);
    put_etc("group", part[3], len[3]);
    /* image.json as the cache writes it: the blob's "config", {} without one; what the file
     * cannot hold fails the unpack, and what reads back as no object is taken as {}. */
    json_t *blob = part[0] ? json_loadb(part[0], len[0], 0, NULL) : NULL;
    json_t *inner = json_object_get(blob, "config");
    char *kept = inner ? json_dumps(inner, JSON_COMPACT) : xstrdup("{}");
    json_decref(blob);
    if (!kept) return;
    json_t *image = json_loads(kept, 0, NULL);
    free(kept);
    if (!image) image = json_object();

    json_t *a = part[1] ? json_loadb(part[1], len[1], 0, NULL) : NULL;
    const char *job;
    int attempt;
    if (agent_assign_ids(a, &job, &attempt) < 0) {
        json_decref(a);
        a = json_loads(plain, 0, NULL);
    }
    size_t ne;
    const char *failure;
    exec_spec *s = agent_assign_read(a, 1, 0, &ne, &failure);
    json_decref(a);
    int volumes = 0;
    if (!failure) {
        s->max_pids = 4096;
        volumes = move_sources(s->container);
        static const idmap ids = {100000, 100000, 65536};
        container_inputs in = {s, image, lower, work, s->attempt % 3 ? "/usr/libexec/barge-init"
                                                                     : NULL,
                               s->attempt % 2 ? &ids : NULL, NULL, NULL, NULL,
                               (s->attempt / 2) % 2};
        char reason[512], said[512];
        json_t *config = container_config(&in, said, sizeof said, reason, sizeof reason);
        if (config) {
            json_t *process = json_object_get(config, "process");
            const char *cwd = json_string_value(json_object_get(process, "cwd"));
            /* As it is written for runc: unlimited rlimits as RLIM_INFINITY's digits. */
            char *text = container_rlimits_text(config);
            if (!text || !cwd || cwd[0] != '/' ||
                json_array_size(json_object_get(process, "args")) == 0)
                abort();
            free(text);
            json_decref(config);
        } else if (strncmp(reason, "CannotStartContainerError: ", 27) != 0) {
            abort();
        }
    }
    exec_spec_free(s);
    json_decref(image);
    if (volumes) {
        util_remove_tree(hostdir);
        util_remove_tree(work);
        mkdir(work, 0755);
    }
}

/* refs.json as it was left, beside a bundle of each kind (plain, for a user namespace) and
 * the leftovers of an interrupted unpack. */
static void run_refs(const char *text, size_t len)
{
    static const char *const names[] = {
        "bundles/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "bundles/fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210-u100000-g100000"
        "-n65536",
        "bundles/tmp-0123-1", NULL};
    for (int i = 0; names[i]; i++) {
        char *b = xasprintf("%s/%s/rootfs", cache, names[i]);
        util_make_dirs(b, 0755);
        free(b);
    }
    char *path = xasprintf("%s/refs.json", cache);
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fwrite(text, 1, len, f);
    fclose(f);
    free(path);
    char *err = NULL;
    image_cache *c = image_cache_new(cache, 1LL << 30, &err);
    if (!c) abort();
    image_cache_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char refs[] = "refs.json\n";
    if (size >= sizeof refs - 1 && memcmp(data, refs, sizeof refs - 1) == 0) {
        run_refs((const char *)data + sizeof refs - 1, size - (sizeof refs - 1));
        return 0;
    }
    const char *part[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0, 0, 0, 0};
    const char *p = (const char *)data, *end = p + size;
    for (int i = 0; i < 4 && p <= end; i++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        part[i] = p;
        len[i] = (size_t)((nul ? nul : end) - p);
        if (!nul) break;
        p = nul + 1;
    }
    run_config(part, len);
    return 0;
}
