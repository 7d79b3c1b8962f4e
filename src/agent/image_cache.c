/* image_cache — pulls with skopeo, unpacks with umoci, keeps bundles up to a bound (see the
 * header for the contract and the layout on disk). */
#include "agent/image_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/image_authfile.h"
#include "agent/remover.h"
#include "agent/tool.h"
#include "common/imageref.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

extern char **environ;

#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"
/* A pull's own layout in the cache's directory, until it is copied into the shared one. */
#define PULL_STAGE "pull-"
/* No unpacked image is larger (a tebibyte). */
#define BUNDLE_BYTES_MAX (1LL << 40)

/* A canonical reference and the digest it last resolved to. */
typedef struct refmap {
    char *canonical, *digest;
    struct refmap *next;
} refmap;

/* A pull (key "pull <canonical>") or an unpack (key "unpack <digest>") in progress, which other
 * callers of the same key wait for instead of repeating it.  Freed by whoever sees it last. */
typedef struct inflight {
    char *key;
    int busy, failed, waiters;
    char reason[512];
    struct inflight *next;
} inflight;

struct image_cache {
    char *dir, *layout, *bundles, *refs_path;
    long long max_bytes, total;
    int timeout_s;
    unsigned long long clock, seq;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    /* Written by a pull, read by an unpack: the layout's index.json is not locked by the tools. */
    pthread_rwlock_t layout_lock;
    image_cache_entry *entries;
    refmap *refs;
    inflight *work;
    /* Where references are pulled from (image_cache_set_registries). */
    char *mirror_host;  /* Docker Hub references come from here, or NULL */
    int mirror_plain;   /* the mirror speaks plain HTTP */
    char **plain_hosts; /* registries spoken to over plain HTTP, NULL-terminated; or NULL */
    int lock_fd;        /* DIR/lock, held (flock) while this cache uses the directory */
    atomic_int stopping; /* image_cache_stop_pulls: the tools in flight are ended, no more run */
};

/* ---- Files ------------------------------------------------------------------------------- */

static _Thread_local long long walk_total;

static int walk_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    walk_total += (long long)st->st_blocks * 512;
    return 0;
}

/* The bytes a directory tree takes on disk. */
static long long dir_bytes(const char *path)
{
    walk_total = 0;
    nftw(path, walk_add, 16, FTW_PHYS);
    return walk_total;
}

static int is_hex64(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return i == 64;
}

static int valid_digest(const char *d)
{
    return d && strncmp(d, "sha256:", 7) == 0 && is_hex64(d + 7);
}

/* A bundle's name: the digest's hex, and for an image unpacked with its ids mapped, the
 * mapping after it (hex-uUID-gGID-nSIZE), since its files' owners differ from the plain one's. */
static char *bundle_name(const char *hex, const idmap *map)
{
    if (!map || map->size == 0) return xstrndup(hex, 64);
    return xasprintf("%.64s-u%u-g%u-n%u", hex, map->uid_base, map->gid_base, map->size);
}

/* Whether name is one that bundle_name gives. */
static int valid_bundle_name(const char *name)
{
    if (strlen(name) < 64) return 0;
    char hex[65];
    memcpy(hex, name, 64);
    hex[64] = '\0';
    if (!is_hex64(hex)) return 0;
    if (name[64] == '\0') return 1;
    idmap m;
    int used = 0;
    if (sscanf(name + 64, "-u%u-g%u-n%u%n", &m.uid_base, &m.gid_base, &m.size, &used) != 3)
        return 0;
    char *again = bundle_name(hex, &m);
    int same = strcmp(again, name) == 0 && m.size > 0;
    free(again);
    return same;
}

/* ---- The persistent record --------------------------------------------------------------- */

/* Writes refs.json atomically.  Called with the lock held; the file is small. */
static void save_locked(image_cache *c)
{
    json_t *root = json_object(), *refs = json_object(), *bundles = json_object();
    for (refmap *r = c->refs; r; r = r->next)
        json_object_set_new(refs, r->canonical, json_string(r->digest));
    for (image_cache_entry *e = c->entries; e; e = e->next)
        json_object_set_new(bundles, e->key,
                            json_pack("{sIsI}", "bytes", (json_int_t)e->bytes, "used",
                                      (json_int_t)e->used));
    json_object_set_new(root, "refs", refs);
    json_object_set_new(root, "bundles", bundles);
    char *text = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(1));
    json_decref(root);
    char *tmp = xasprintf("%s.tmp", c->refs_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t n = strlen(text);
    if (fd < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) < 0 || close(fd) < 0 ||
        rename(tmp, c->refs_path) < 0) {
        log_warn("image cache: writing %s: %m", c->refs_path);
        if (fd >= 0) close(fd);
        unlink(tmp);
    }
    free(tmp);
    free(text);
}

static refmap *ref_find(image_cache *c, const char *canonical)
{
    for (refmap *r = c->refs; r; r = r->next)
        if (strcmp(r->canonical, canonical) == 0) return r;
    return NULL;
}

static void ref_set(image_cache *c, const char *canonical, const char *digest)
{
    refmap *r = ref_find(c, canonical);
    if (!r) {
        r = xcalloc(1, sizeof *r);
        r->canonical = xstrdup(canonical);
        r->next = c->refs;
        c->refs = r;
    } else {
        free(r->digest);
    }
    r->digest = xstrdup(digest);
}

/* The entry of bundle name (bundle_name), or NULL. */
static image_cache_entry *entry_find(image_cache *c, const char *name)
{
    for (image_cache_entry *e = c->entries; e; e = e->next)
        if (strcmp(e->key + 7, name) == 0) return e;
    return NULL;
}

static image_cache_entry *entry_add(image_cache *c, const char *name, long long bytes,
                                    unsigned long long used)
{
    image_cache_entry *e = xcalloc(1, sizeof *e);
    e->digest = xasprintf("sha256:%.64s", name);
    e->key = xasprintf("sha256:%s", name);
    e->bundle = xasprintf("%s/%s", c->bundles, name);
    e->bytes = bytes;
    e->used = used;
    e->next = c->entries;
    c->entries = e;
    c->total += bytes;
    return e;
}

static void entry_free(image_cache_entry *e)
{
    if (!e) return;
    free(e->bundle);
    free(e->digest);
    free(e->key);
    free(e);
}

/* Reads refs.json and the bundles directory: bundles under their final names are complete (see
 * the header), leftovers of an unpack or a removal that a crash interrupted are removed. */
static void load(image_cache *c)
{
    json_t *root = json_load_file(c->refs_path, 0, NULL);
    json_t *refs = json_object_get(root, "refs"), *bundles = json_object_get(root, "bundles");
    const char *k;
    json_t *v;
    json_object_foreach(refs, k, v) {
        if (json_is_string(v) && valid_digest(json_string_value(v)))
            ref_set(c, k, json_string_value(v));
    }
    DIR *d = opendir(c->bundles);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char *path = xasprintf("%s/%s", c->bundles, de->d_name);
        if (strncmp(de->d_name, "tmp-", 4) == 0 || strncmp(de->d_name, "trash-", 6) == 0) {
            util_remove_tree(path);
        } else if (valid_bundle_name(de->d_name)) {
            char *key = xasprintf("sha256:%s", de->d_name);
            json_t *info = json_object_get(bundles, key);
            json_t *b = json_object_get(info, "bytes"), *u = json_object_get(info, "used");
            /* A size no bundle has (the record is the agent's, but a crash or a hand may have
             * spoilt it) is measured again: summed, such sizes would overflow the total. */
            long long bytes = json_is_integer(b) && json_integer_value(b) >= 0 &&
                                      json_integer_value(b) <= BUNDLE_BYTES_MAX
                                  ? json_integer_value(b) : dir_bytes(path);
            unsigned long long used = json_is_integer(u) ? (unsigned long long)json_integer_value(u)
                                                         : 0;
            entry_add(c, de->d_name, bytes, used);
            if (used > c->clock) c->clock = used;
            free(key);
        }
        free(path);
    }
    if (d) closedir(d);
    json_decref(root);
}

/* ---- Eviction ---------------------------------------------------------------------------- */

/* While the bundles pass the bound, renames the least recently used unheld one out of the way
 * and adds its new path to *trash, for the caller to remove once it has let go of the lock.
 * The layout keeps the evicted image's blobs: they cost only the compressed size, and the next
 * pull of the image then needs no blob from the registry. */
static void evict_locked(image_cache *c, char ***trash, int *ntrash)
{
    while (c->total > c->max_bytes) {
        image_cache_entry **victim = NULL;
        for (image_cache_entry **pe = &c->entries; *pe; pe = &(*pe)->next)
            if ((*pe)->refs == 0 && (!victim || (*pe)->used < (*victim)->used)) victim = pe;
        if (!victim) return;
        image_cache_entry *e = *victim;
        *victim = e->next;
        c->total -= e->bytes;
        char *dest = xasprintf("%s/trash-%s-%llu", c->bundles, e->key + 7, ++c->seq);
        if (rename(e->bundle, dest) < 0) {
            log_warn("image cache: evicting %s: %m", e->bundle);
            free(dest);
        } else {
            *trash = xrealloc(*trash, sizeof **trash * (size_t)(*ntrash + 1));
            (*trash)[(*ntrash)++] = dest;
        }
        entry_free(e);
    }
}

/* Evicted bundles, already out of the way: removed by the remover's thread, not the caller's
 * (image_cache_release runs on the supervisor's). */
static void empty_trash(char **trash, int ntrash)
{
    for (int i = 0; i < ntrash; i++) remover_queue(trash[i]);
    free(trash);
}

/* ---- Work in flight ---------------------------------------------------------------------- */

/* With the lock held: makes the caller the worker for key (returns 1, *mine set), or waits for
 * the worker already on it and returns 0 when it succeeded or -1 with its reason. */
/* With the lock held: unlinks finished work that no caller waits for any more, and frees it. */
static void work_drop(image_cache *c, inflight *w)
{
    for (inflight **pw = &c->work; *pw; pw = &(*pw)->next)
        if (*pw == w) {
            *pw = w->next;
            break;
        }
    free(w->key);
    free(w);
}

static int work_join(image_cache *c, const char *key, inflight **mine, char *reason,
                     size_t reason_len)
{
    inflight *w;
    for (w = c->work; w; w = w->next)
        if (w->busy && strcmp(w->key, key) == 0) break;
    if (!w) {
        w = xcalloc(1, sizeof *w);
        w->key = xstrdup(key);
        w->busy = 1;
        w->next = c->work;
        c->work = w;
        *mine = w;
        return 1;
    }
    w->waiters++;
    while (w->busy) pthread_cond_wait(&c->cond, &c->mu);
    w->waiters--;
    int rc = 0;
    if (w->failed) {
        snprintf(reason, reason_len, "%s", w->reason);
        rc = -1;
    }
    if (w->waiters == 0) work_drop(c, w);
    return rc;
}

/* With the lock held: ends the caller's work, a failure when reason is not NULL. */
static void work_finish(image_cache *c, inflight *w, const char *reason)
{
    w->busy = 0;
    if (reason) {
        w->failed = 1;
        snprintf(w->reason, sizeof w->reason, "%s", reason);
    }
    pthread_cond_broadcast(&c->cond);
    if (w->waiters == 0) work_drop(c, w);
}

/* ---- Pull and unpack --------------------------------------------------------------------- */

/* The layout's ref name for a canonical reference. */
static void layout_key(const char *canonical, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(canonical, strlen(canonical), md, &n, EVP_sha256(), NULL);
    util_hex(md, 32, out);
}

/* The digest the layout's index names under key, or NULL. */
static char *layout_digest(image_cache *c, const char *key)
{
    char *path = xasprintf("%s/index.json", c->layout), *digest = NULL;
    json_t *index = json_load_file(path, 0, NULL), *m;
    size_t i;
    json_array_foreach(json_object_get(index, "manifests"), i, m) {
        const char *name =
            json_string_value(json_object_get(json_object_get(m, "annotations"), REF_NAME_ANNOTATION));
        const char *d = json_string_value(json_object_get(m, "digest"));
        if (name && strcmp(name, key) == 0 && valid_digest(d)) {
            free(digest);
            digest = xstrdup(d);
        }
    }
    json_decref(index);
    free(path);
    return digest;
}

static int plain_host(image_cache *c, const char *domain)
{
    for (char **h = c->plain_hosts; h && *h; h++)
        if (strcmp(*h, domain) == 0) return 1;
    return 0;
}

/* Copies the image into the layout under key and returns its manifest digest.  auth is
 * "user:password" or NULL. */
static char *pull(image_cache *c, const imageref *r, const char *canonical, const char *key,
                  const char *auth, char *reason, size_t reason_len)
{
    /* Docker Hub references go through the mirror when there is one, as Docker's
     * registry-mirrors does; the digest checked below is the same either way. */
    int mirrored = c->mirror_host && strcmp(r->domain, IMAGEREF_DEFAULT_DOMAIN) == 0;
    const char *host = mirrored ? c->mirror_host : r->domain;
    char *src = xasprintf("docker://%s/%s%s%s", host, r->path, r->digest ? "@" : ":",
                          r->digest ? r->digest : r->tag);
    pthread_mutex_lock(&c->mu);
    unsigned long long seq = ++c->seq;
    pthread_mutex_unlock(&c->mu);
    /* Fetched into a layout of its own, then copied into the shared one under the lock: a
     * registry that hung held the shared layout, and every pull behind it, to its deadline. */
    char *stage = xasprintf("%s/" PULL_STAGE "%ld-%llu", c->dir, (long)getpid(), seq);
    char *dest = xasprintf("oci:%s:%s", stage, key);
    char *timeout = xasprintf("%ds", c->timeout_s);
    char *authfile = auth ? image_authfile_write(c->dir, seq, host, auth) : NULL;
    char *authopt = authfile ? xasprintf("--src-authfile=%s", authfile) : NULL;
    if (auth && !authfile) {
        snprintf(reason, reason_len, "CannotPullContainerError: %s: cannot write the registry "
                 "credentials to %s: %s", canonical, c->dir, strerror(errno));
        free(src);
        free(dest);
        free(stage);
        free(timeout);
        return NULL;
    }
    /* umoci unpacks gzip layers (and uncompressed ones) only: a zstd layer, as podman and
     * buildah may push, is made gzip on the way in; gzip layers are copied as they are. */
    char *argv[12] = {"skopeo", "--command-timeout", timeout, "copy", "--quiet",
                      "--dest-compress-format", "gzip"};
    int n = 7;
    /* Docker speaks plain HTTP to a registry on loopback, and to those it is told to; so does
     * the cache. */
    if (mirrored ? c->mirror_plain : imageref_loopback(r) || plain_host(c, r->domain))
        argv[n++] = "--src-tls-verify=false";
    if (authopt) argv[n++] = authopt;
    argv[n++] = src;
    argv[n++] = dest;
    argv[n] = NULL;
    buf err = {0};
    char *digest = NULL;
    /* A few seconds past skopeo's own deadline, so that its message is the one reported. */
    int rc = tool_run_stoppable(argv, c->timeout_s + 5, &c->stopping, &err);
    if (rc == 0) {
        char *shared = xasprintf("oci:%s:%s", c->layout, key);
        char *local[] = {"skopeo", "copy", "--quiet", dest, shared, NULL};
        pthread_rwlock_wrlock(&c->layout_lock);
        rc = tool_run_stoppable(local, c->timeout_s + 5, &c->stopping, &err);
        if (rc == 0 && !(digest = layout_digest(c, key)))
            snprintf(reason, reason_len, "CannotPullContainerError: %s: no manifest in the "
                     "layout after the copy", canonical);
        pthread_rwlock_unlock(&c->layout_lock);
        free(shared);
    }
    if (rc != 0) {
        /* Through the mirror, skopeo's words name the mirror's copy: the job's image first. */
        char *what = mirrored ? xasprintf("%s (through the registry mirror %s)", canonical,
                                          host) : NULL;
        tool_reason("CannotPullContainerError: ", what, err.data ? err.data : "", reason,
                    reason_len);
        free(what);
    }
    util_remove_tree(stage);
    /* A digest that is not the manifest stored is an index's (a multi-platform image pinned
     * by its index digest, as Docker Hub shows it): skopeo checked the index against it and
     * copied this platform's manifest, which the reference names from now on (ref_set). */
    if (authfile) unlink(authfile);
    free(authfile);
    free(authopt);
    buf_free(&err);
    free(src);
    free(dest);
    free(stage);
    free(timeout);
    return digest;
}

/* Reads blobs/sha256/<hex> of the layout as JSON. */
static json_t *layout_blob(image_cache *c, const char *digest)
{
    if (!valid_digest(digest)) return NULL;
    char *path = xasprintf("%s/blobs/sha256/%s", c->layout, digest + 7);
    json_t *j = json_load_file(path, 0, NULL);
    free(path);
    return j;
}

/* Keeps the image's own configuration (entrypoint, command, environment, user, working
 * directory) beside the bundle as image.json, for container_config.c. */
static int save_image_config(image_cache *c, const char *digest, const char *bundle)
{
    json_t *manifest = layout_blob(c, digest);
    json_t *config = layout_blob(c, json_string_value(json_object_get(
                                        json_object_get(manifest, "config"), "digest")));
    json_t *inner = json_object_get(config, "config");
    char *path = xasprintf("%s/image.json", bundle);
    json_t *none = inner ? NULL : json_object(); /* no configuration: the defaults */
    int rc = json_dump_file(inner ? inner : none, path, JSON_COMPACT);
    json_decref(none);
    free(path);
    json_decref(config);
    json_decref(manifest);
    return rc;
}

/* Unpacks the layout's image key (whose digest is digest) into bundles/<name>, through a
 * temporary name, with its files' owners mapped by map (NULL: as the image has them).  Returns
 * the bundle's size, or -1 with reason set. */
static long long unpack(image_cache *c, const char *key, const char *digest, const idmap *map,
                        const char *name, char *reason, size_t reason_len)
{
    pthread_mutex_lock(&c->mu);
    unsigned long long seq = ++c->seq;
    pthread_mutex_unlock(&c->mu);
    char *image = xasprintf("%s:%s", c->layout, key);
    char *tmp = xasprintf("%s/tmp-%s-%llu", c->bundles, name, seq);
    char *final = xasprintf("%s/%s", c->bundles, name);
    /* The root file system alone (raw): umoci's unpack also made a configuration barge does
     * not use from the image's /etc/passwd, read as the host's root (a device there grew it
     * without bound, a FIFO held it until --pull-timeout). */
    char *rootfs = xasprintf("%s/rootfs", tmp);
    char uids[48], gids[48];
    char *argv[12] = {"umoci", "raw", "unpack", "--image", image};
    int n = 5;
    if (map && map->size) {
        /* umoci, run as root, gives each file the host id its owner maps to. */
        snprintf(uids, sizeof uids, "0:%u:%u", map->uid_base, map->size);
        snprintf(gids, sizeof gids, "0:%u:%u", map->gid_base, map->size);
        argv[n++] = "--uid-map";
        argv[n++] = uids;
        argv[n++] = "--gid-map";
        argv[n++] = gids;
    }
    argv[n++] = rootfs; /* after every option */
    argv[n] = NULL;
    buf err = {0};
    long long bytes = -1;
    int rc = mkdir(tmp, 0700);
    if (rc < 0) buf_printf(&err, "making %s: %s", tmp, strerror(errno));
    pthread_rwlock_rdlock(&c->layout_lock);
    if (rc == 0) rc = tool_run_stoppable(argv, c->timeout_s, &c->stopping, &err);
    pthread_rwlock_unlock(&c->layout_lock);
    if (rc == 0 && save_image_config(c, digest, tmp) < 0) {
        snprintf(reason, reason_len, "CannotPullContainerError: %s: cannot read the image's "
                 "configuration from the layout", digest);
        util_remove_tree(tmp);
    } else if (rc != 0) {
        tool_reason("CannotPullContainerError: ", digest, err.data ? err.data : "", reason, reason_len);
        util_remove_tree(tmp);
    } else if (rename(tmp, final) < 0) {
        snprintf(reason, reason_len, "CannotPullContainerError: %s: renaming the bundle: %s",
                 digest, strerror(errno));
        util_remove_tree(tmp);
    } else {
        bytes = dir_bytes(final);
    }
    buf_free(&err);
    free(image);
    free(rootfs);
    free(tmp);
    free(final);
    return bytes;
}

/* ---- The cache --------------------------------------------------------------------------- */

/* A cache that could not be opened: its names go, and NULL comes back. */
static image_cache *abandon(image_cache *c)
{
    if (c->lock_fd >= 0) close(c->lock_fd);
    free(c->dir);
    free(c->layout);
    free(c->bundles);
    free(c->refs_path);
    free(c);
    return NULL;
}

image_cache *image_cache_new(const char *dir, long long max_bytes, char **err)
{
    image_cache *c = xcalloc(1, sizeof *c);
    c->dir = xstrdup(dir);
    c->layout = xasprintf("%s/layout", dir);
    c->bundles = xasprintf("%s/bundles", dir);
    c->refs_path = xasprintf("%s/refs.json", dir);
    c->max_bytes = max_bytes;
    c->timeout_s = IMAGE_CACHE_TOOL_TIMEOUT_S;
    c->lock_fd = -1;
    const char *dirs[] = {c->dir, c->layout, c->bundles};
    for (int i = 0; i < 3; i++) {
        if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST) {
            *err = xasprintf("image cache: cannot create %s: %s", dirs[i], strerror(errno));
            return abandon(c);
        }
    }
    /* The locks below are this process's: two caches on one directory would overwrite each
     * other's refs.json and unpack into each other's bundles. */
    char *lock = xasprintf("%s/lock", dir);
    c->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(lock);
    if (c->lock_fd < 0 || flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        *err = xasprintf("image cache: %s is in use by another agent (give each agent its own "
                         "--image-cache)", dir);
        return abandon(c);
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* A pull must not wait behind an endless line of unpacks. */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->layout_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    /* The layouts of pulls an agent that died left (the lock above says none runs now). */
    DIR *d = opendir(c->dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, PULL_STAGE, strlen(PULL_STAGE)) == 0) {
            char *stale = xasprintf("%s/%s", c->dir, e->d_name);
            util_remove_tree(stale);
            free(stale);
        }
    if (d) closedir(d);
    load(c);
    return c;
}

void image_cache_set_registries(image_cache *c, const char *mirror, char *const *plain_hosts)
{
    free(c->mirror_host);
    c->mirror_host = NULL;
    c->mirror_plain = 0;
    if (mirror) {
        const char *h = mirror;
        if (strncmp(h, "http://", 7) == 0) {
            c->mirror_plain = 1;
            h += 7;
        } else if (strncmp(h, "https://", 8) == 0) {
            h += 8;
        }
        size_t n = strcspn(h, "/");
        c->mirror_host = xstrndup(h, n);
        /* A bare host:port on loopback is plain HTTP, as any loopback registry is. */
        if (h == mirror) {
            imageref probe = {.domain = c->mirror_host};
            c->mirror_plain = imageref_loopback(&probe);
        }
    }
    for (char **p = c->plain_hosts; p && *p; p++) free(*p);
    free(c->plain_hosts);
    c->plain_hosts = NULL;
    size_t n = 0;
    while (plain_hosts && plain_hosts[n]) n++;
    if (n) {
        c->plain_hosts = xcalloc(n + 1, sizeof *c->plain_hosts);
        for (size_t i = 0; i < n; i++) c->plain_hosts[i] = xstrdup(plain_hosts[i]);
    }
}

void image_cache_set_timeout(image_cache *c, int seconds)
{
    pthread_mutex_lock(&c->mu);
    c->timeout_s = seconds;
    pthread_mutex_unlock(&c->mu);
}

void image_cache_free(image_cache *c)
{
    if (!c) return;
    while (c->entries) {
        image_cache_entry *e = c->entries;
        BARGE_ASSERT(e->refs == 0);
        c->entries = e->next;
        entry_free(e);
    }
    while (c->refs) {
        refmap *r = c->refs;
        c->refs = r->next;
        free(r->canonical);
        free(r->digest);
        free(r);
    }
    BARGE_ASSERT(c->work == NULL);
    pthread_rwlock_destroy(&c->layout_lock);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c->dir);
    free(c->layout);
    free(c->bundles);
    free(c->refs_path);
    free(c->mirror_host);
    for (char **p = c->plain_hosts; p && *p; p++) free(*p);
    free(c->plain_hosts);
    close(c->lock_fd);
    free(c);
}

/* With the lock held: the entry for digest unpacked with map, held, or NULL. */
static image_cache_entry *hold_locked(image_cache *c, const char *digest, const idmap *map)
{
    char *name = digest ? bundle_name(digest + 7, map) : NULL;
    image_cache_entry *e = name ? entry_find(c, name) : NULL;
    free(name);
    if (e) {
        e->refs++;
        e->used = ++c->clock;
    }
    return e;
}

void image_cache_stop_pulls(image_cache *c)
{
    atomic_store(&c->stopping, 1);
}

int image_cache_get(image_cache *c, const char *reference, const char *auth, const idmap *map,
                    const image_cache_note *note, image_cache_entry **out, char *reason,
                    size_t reason_len)
{
    imageref r;
    const char *why = imageref_parse(reference, &r);
    *out = NULL;
    if (why) {
        snprintf(reason, reason_len, "CannotPullContainerError: invalid reference \"%s\": %s",
                 reference, why);
        return -1;
    }
    char *canonical = imageref_canonical(&r), key[65], who[65];
    /* Callers with other credentials do not share a pull: one's refusal is not another's. */
    layout_key(auth ? auth : "", who);
    char *pull_key = xasprintf("pull %s %.16s", canonical, who);
    layout_key(canonical, key);
    char **trash = NULL;
    int ntrash = 0, rc = -1, noted = !note;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        /* By digest, the manifest a pull stored for it (an index's is its platform's). */
        refmap *known = ref_find(c, canonical);
        image_cache_entry *e = hold_locked(c, known ? known->digest : r.digest, map);
        if (e) {
            *out = e;
            rc = 0;
            break;
        }
        if (!noted) { /* outside the lock: the note may take locks of its own */
            noted = 1;
            pthread_mutex_unlock(&c->mu);
            note->fn(note->arg, canonical);
            pthread_mutex_lock(&c->mu);
            continue;
        }
        inflight *mine = NULL;
        int joined = work_join(c, pull_key, &mine, reason, reason_len);
        if (joined < 0) break;
        if (joined == 0) continue; /* pulled by another caller: look again */

        pthread_mutex_unlock(&c->mu);
        char *digest = pull(c, &r, canonical, key, auth, reason, reason_len);
        pthread_mutex_lock(&c->mu);
        if (digest) {
            ref_set(c, canonical, digest);
            char *name = bundle_name(digest + 7, map);
            char *unpack_key = xasprintf("unpack %s", name);
            for (;;) {
                if ((*out = hold_locked(c, digest, map)) != NULL) break;
                inflight *umine = NULL;
                int ujoined = work_join(c, unpack_key, &umine, reason, reason_len);
                if (ujoined < 0) break;
                if (ujoined == 0) continue;
                pthread_mutex_unlock(&c->mu);
                long long bytes = unpack(c, key, digest, map, name, reason, reason_len);
                pthread_mutex_lock(&c->mu);
                if (bytes >= 0) {
                    *out = entry_add(c, name, bytes, ++c->clock);
                    (*out)->refs = 1;
                    evict_locked(c, &trash, &ntrash);
                }
                work_finish(c, umine, bytes >= 0 ? NULL : reason);
                break;
            }
            free(unpack_key);
            free(name);
            save_locked(c);
            free(digest);
        }
        work_finish(c, mine, *out ? NULL : reason);
        rc = *out ? 0 : -1;
        break;
    }
    pthread_mutex_unlock(&c->mu);
    empty_trash(trash, ntrash);
    free(pull_key);
    free(canonical);
    imageref_free(&r);
    return rc;
}

void image_cache_release(image_cache *c, image_cache_entry *e)
{
    char **trash = NULL;
    int ntrash = 0;
    if (!e) return;
    pthread_mutex_lock(&c->mu);
    BARGE_ASSERT(e->refs > 0);
    if (--e->refs == 0 && c->total > c->max_bytes) {
        evict_locked(c, &trash, &ntrash);
        save_locked(c);
    }
    pthread_mutex_unlock(&c->mu);
    empty_trash(trash, ntrash);
}
