/* image_cache — pulls with skopeo, unpacks with umoci, keeps bundles up to a bound (see the
 * header for the contract and the layout on disk). */
#include "agent/image_cache.h"
#include "agent/image_cache_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "agent/image_check.h"
#include "agent/image_names.h"
#include "agent/tool.h"
#include "common/imageref.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

extern char **environ;

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
        if (name && strcmp(name, key) == 0 && image_digest_valid(d)) {
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

/* Docker Hub references go through the mirror when there is one, as Docker's
 * registry-mirrors does; the digests are the same either way.  Docker speaks plain HTTP to a
 * registry on loopback, and to those it is told to; so does the cache. */
static const char *registry_of(image_cache *c, const imageref *r, int *mirrored, int *plain)
{
    *mirrored = c->mirror_host && strcmp(r->domain, IMAGEREF_DEFAULT_DOMAIN) == 0;
    *plain = *mirrored ? c->mirror_plain : imageref_loopback(r) || plain_host(c, r->domain);
    return *mirrored ? c->mirror_host : r->domain;
}

static int stopping(void *arg)
{
    return atomic_load(&((image_cache *)arg)->stopping);
}

/* The digest the tag's registry names now (image_check), or NULL with why.  A registry that
 * hangs costs at most a few seconds, and a stopping agent a second. */
static char *remote_digest(image_cache *c, const imageref *r, const char *auth, char *why,
                           size_t why_len)
{
    int mirrored, plain;
    const char *host = registry_of(c, r, &mirrored, &plain);
    long timeout = c->timeout_s * 1000L / 3 < CHECK_TIMEOUT_MS ? c->timeout_s * 1000L / 3
                                                                : CHECK_TIMEOUT_MS;
    /* Docker Hub's registry answers at its own host name, which skopeo knows too. */
    if (strcmp(host, IMAGEREF_DEFAULT_DOMAIN) == 0) host = "registry-1.docker.io";
    return image_check_digest(host, plain, r->path, r->tag, auth, timeout, stopping, c, why,
                              why_len);
}

/* Makes stage an empty OCI layout holding the shared layout's blobs, hard-linked: skopeo does
 * not fetch a blob its destination has, so an image pulled again (a tag pushed anew) costs the
 * layers that changed, as a docker pull does.  A blob that cannot be linked is fetched. */
static void stage_prepare(image_cache *c, const char *stage)
{
    char *blobs = xasprintf("%s/blobs/sha256", stage), *from = xasprintf("%s/blobs/sha256",
                                                                         c->layout);
    char *oci = xasprintf("%s/oci-layout", stage), *index = xasprintf("%s/index.json", stage);
    json_t *layout = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
    json_t *empty = json_pack("{s:i, s:[]}", "schemaVersion", 2, "manifests");
    if (util_make_dirs(blobs, 0700) >= 0 && json_dump_file(layout, oci, 0) == 0 &&
        json_dump_file(empty, index, 0) == 0) {
        pthread_rwlock_rdlock(&c->layout_lock);
        DIR *d = opendir(from);
        for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
            if (e->d_name[0] == '.') continue;
            char *src = xasprintf("%s/%s", from, e->d_name), *dst = xasprintf("%s/%s", blobs,
                                                                              e->d_name);
            (void)link(src, dst);
            free(src);
            free(dst);
        }
        if (d) closedir(d);
        pthread_rwlock_unlock(&c->layout_lock);
    }
    json_decref(layout);
    json_decref(empty);
    free(blobs);
    free(from);
    free(oci);
    free(index);
}

/* Copies the image into the layout under key and returns its manifest digest; a tag is
 * copied by the digest its registry names for it now (*remote when the caller just asked, else
 * asked here), which is left in *remote (NULL when the registry could not say: it is copied by
 * its tag then, and skopeo says what is wrong).  auth is "user:password" or NULL. */
static char *pull(image_cache *c, const imageref *r, const char *canonical, const char *key,
                  const char *auth, char **remote, char *reason, size_t reason_len)
{
    int mirrored, plain;
    const char *host = registry_of(c, r, &mirrored, &plain);
    char why[256];
    if (!r->digest && !*remote) *remote = remote_digest(c, r, auth, why, sizeof why);
    const char *pin = r->digest ? r->digest : *remote;
    char *src = xasprintf("docker://%s/%s%s%s", host, r->path, pin ? "@" : ":",
                          pin ? pin : r->tag);
    pthread_mutex_lock(&c->mu);
    unsigned long long seq = ++c->seq;
    pthread_mutex_unlock(&c->mu);
    /* Fetched into a layout of its own, then copied into the shared one under the lock: a
     * registry that hung held the shared layout, and every pull behind it, to its deadline. */
    char *stage = xasprintf("%s/" PULL_STAGE "%ld-%llu", c->dir, (long)getpid(), seq);
    stage_prepare(c, stage);
    char *dest = xasprintf("oci:%s:%s", stage, key);
    char *timeout = xasprintf("%ds", c->timeout_s);
    char *authfile = auth ? image_authfile_write(c->dir, seq, host, auth) : NULL;
    char *authopt = authfile ? xasprintf("--src-authfile=%s", authfile) : NULL;
    if (auth && !authfile) {
        snprintf(reason, reason_len, "CannotPullContainerError: %s: cannot write the registry "
                 "credentials to %s: %s", canonical, c->dir, strerror(errno));
        free(*remote);
        *remote = NULL;
        util_remove_tree(stage);
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
    if (plain) argv[n++] = "--src-tls-verify=false";
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
    if (!digest) {
        free(*remote);
        *remote = NULL;
    }
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
    if (!image_digest_valid(digest)) return NULL;
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
        bytes = imcache_dir_bytes(final);
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
    c->recheck_ms = IMAGE_CACHE_RECHECK_MS;
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
    imcache_load(c);
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

void image_cache_set_recheck(image_cache *c, long ms)
{
    c->recheck_ms = ms;
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
        imcache_entry_free(e);
    }
    while (c->refs) {
        refmap *r = c->refs;
        c->refs = r->next;
        free(r->canonical);
        free(r->digest);
        free(r->remote);
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
    char *name = digest ? image_bundle_name(digest + 7, map) : NULL;
    image_cache_entry *e = name ? imcache_entry_find(c, name) : NULL;
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
    int ntrash = 0, rc = -1, noted = !note, asked = 0;
    char *checked = NULL; /* the digest a moved tag's registry named, for the pull */

    pthread_mutex_lock(&c->mu);
    for (;;) {
        /* By digest, the manifest a pull stored for it (an index's is its platform's). */
        refmap *known = imcache_ref_find(c, canonical);
        if (known && !r.digest && !known->moved && !asked &&
            util_mono_ms() >= known->next_check_ms) {
            /* A tag: is it where it was?  Asked once a while, outside the lock; meanwhile
             * other callers take the cached image, and do not ask too while this asks. */
            known->next_check_ms = util_mono_ms() + CHECK_TIMEOUT_MS + c->recheck_ms;
            asked = 1;
            char *was = known->remote ? xstrdup(known->remote) : NULL, said[256];
            pthread_mutex_unlock(&c->mu);
            char *now = remote_digest(c, &r, auth, said, sizeof said);
            pthread_mutex_lock(&c->mu);
            known = imcache_ref_find(c, canonical);
            known->next_check_ms = util_mono_ms() + (now ? c->recheck_ms : CHECK_BACKOFF_MS);
            if (!now) {
                log_warn("image cache: cannot ask whether %s still names %s (%s): the image "
                         "pulled before serves", canonical, was ? was : known->digest, said);
            } else if (!was && !known->remote && strcmp(now, known->digest) == 0) {
                /* Pulled while its registry's digest was not known (an older record, or its
                 * registry could not say): it names what is here. */
                known->remote = xstrdup(now);
                imcache_save_locked(c);
            } else if ((!was && !known->remote) ||
                       (was && known->remote && strcmp(now, was) != 0 &&
                        !strcmp(known->remote, was))) {
                /* Moved (unless another caller pulled it again meanwhile): the pull is made
                 * by what the registry just named. */
                log_info("image cache: %s names %s now: pulling it again", canonical, now);
                known->moved = 1;
                free(checked);
                checked = now;
                now = NULL;
            }
            free(now);
            free(was);
            continue;
        }
        image_cache_entry *e = known && known->moved && !r.digest
                                   ? NULL
                                   : hold_locked(c, known ? known->digest : r.digest, map);
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
        char *remote = checked;
        checked = NULL;
        char *digest = pull(c, &r, canonical, key, auth, &remote, reason, reason_len);
        pthread_mutex_lock(&c->mu);
        refmap *was = digest || r.digest ? NULL : imcache_ref_find(c, canonical);
        if (was && was->moved && (*out = hold_locked(c, was->digest, map)) != NULL) {
            /* The tag moved, and its new image could not be had: the one pulled before
             * serves, as ECS's default pull behaviour has it, and the registry is asked again
             * after a while.  The callers that waited for this pull look again. */
            log_warn("image cache: %s moved, but pulling it again failed (%s): the image "
                     "pulled before serves", canonical, reason);
            was->moved = 0;
            was->next_check_ms = util_mono_ms() + CHECK_BACKOFF_MS;
        }
        if (digest) {
            imcache_ref_set(c, canonical, digest, remote);
            free(remote);
            char *name = image_bundle_name(digest + 7, map);
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
                    *out = imcache_entry_add(c, name, bytes, ++c->clock);
                    (*out)->refs = 1;
                    imcache_evict_locked(c, &trash, &ntrash);
                }
                work_finish(c, umine, bytes >= 0 ? NULL : reason);
                break;
            }
            free(unpack_key);
            free(name);
            imcache_save_locked(c);
            free(digest);
        }
        work_finish(c, mine, *out ? NULL : reason);
        rc = *out ? 0 : -1;
        break;
    }
    pthread_mutex_unlock(&c->mu);
    imcache_empty_trash(trash, ntrash);
    free(checked);
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
        imcache_evict_locked(c, &trash, &ntrash);
        imcache_save_locked(c);
    }
    pthread_mutex_unlock(&c->mu);
    imcache_empty_trash(trash, ntrash);
}
