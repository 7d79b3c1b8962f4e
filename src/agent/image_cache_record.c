/* image_cache_record — the image cache's record of what it holds: refs.json, the entries of
 * unpacked bundles, and eviction past the bound (image_cache_internal.h). */
#include "agent/image_cache_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image_names.h"
#include "agent/remover.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

/* ---- Files ------------------------------------------------------------------------------- */

static _Thread_local long long walk_total;

static int walk_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    walk_total += (long long)st->st_blocks * 512;
    return 0;
}

/* The bytes a directory tree takes on disk. */
long long imcache_dir_bytes(const char *path)
{
    walk_total = 0;
    nftw(path, walk_add, 16, FTW_PHYS);
    return walk_total;
}

/* ---- The persistent record --------------------------------------------------------------- */

/* Writes refs.json atomically.  Called with the lock held; the file is small. */
void imcache_save_locked(image_cache *c)
{
    json_t *root = json_object(), *refs = json_object(), *bundles = json_object();
    json_t *remotes = json_object();
    for (refmap *r = c->refs; r; r = r->next) {
        json_object_set_new(refs, r->canonical, json_string(r->digest));
        if (r->remote) json_object_set_new(remotes, r->canonical, json_string(r->remote));
    }
    for (image_cache_entry *e = c->entries; e; e = e->next)
        json_object_set_new(bundles, e->key,
                            json_pack("{sIsI}", "bytes", (json_int_t)e->bytes, "used",
                                      (json_int_t)e->used));
    json_object_set_new(root, "refs", refs);
    json_object_set_new(root, "remotes", remotes);
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

refmap *imcache_ref_find(image_cache *c, const char *canonical)
{
    for (refmap *r = c->refs; r; r = r->next)
        if (strcmp(r->canonical, canonical) == 0) return r;
    return NULL;
}

void imcache_ref_set(image_cache *c, const char *canonical, const char *digest,
                    const char *remote)
{
    refmap *r = imcache_ref_find(c, canonical);
    if (!r) {
        r = xcalloc(1, sizeof *r);
        r->canonical = xstrdup(canonical);
        r->next = c->refs;
        c->refs = r;
    } else {
        free(r->digest);
        free(r->remote);
    }
    r->digest = xstrdup(digest);
    r->remote = remote ? xstrdup(remote) : NULL;
    r->moved = 0;
    r->next_check_ms = util_mono_ms() + c->recheck_ms;
}

/* The entry of bundle name (bundle_name), or NULL. */
image_cache_entry *imcache_entry_find(image_cache *c, const char *name)
{
    for (image_cache_entry *e = c->entries; e; e = e->next)
        if (strcmp(e->key + 7, name) == 0) return e;
    return NULL;
}

image_cache_entry *imcache_entry_add(image_cache *c, const char *name, long long bytes,
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

void imcache_entry_free(image_cache_entry *e)
{
    if (!e) return;
    free(e->bundle);
    free(e->digest);
    free(e->key);
    free(e);
}

/* Reads refs.json and the bundles directory: bundles under their final names are complete (see
 * the header), leftovers of an unpack or a removal that a crash interrupted are removed. */
void imcache_load(image_cache *c)
{
    json_t *root = json_load_file(c->refs_path, 0, NULL);
    json_t *refs = json_object_get(root, "refs"), *bundles = json_object_get(root, "bundles");
    json_t *remotes = json_object_get(root, "remotes");
    const char *k;
    json_t *v;
    json_object_foreach(refs, k, v) {
        const char *remote = json_string_value(json_object_get(remotes, k));
        if (json_is_string(v) && image_digest_valid(json_string_value(v))) {
            imcache_ref_set(c, k, json_string_value(v), image_digest_valid(remote) ? remote : NULL);
            imcache_ref_find(c, k)->next_check_ms = 0; /* asked at its first use */
        }
    }
    DIR *d = opendir(c->bundles);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char *path = xasprintf("%s/%s", c->bundles, de->d_name);
        if (strncmp(de->d_name, "tmp-", 4) == 0 || strncmp(de->d_name, "trash-", 6) == 0) {
            util_remove_tree(path);
        } else if (image_bundle_name_valid(de->d_name)) {
            char *key = xasprintf("sha256:%s", de->d_name);
            json_t *info = json_object_get(bundles, key);
            json_t *b = json_object_get(info, "bytes"), *u = json_object_get(info, "used");
            /* A size no bundle has (the record is the agent's, but a crash or a hand may have
             * spoilt it) is measured again: summed, such sizes would overflow the total. */
            long long bytes = json_is_integer(b) && json_integer_value(b) >= 0 &&
                                      json_integer_value(b) <= BUNDLE_BYTES_MAX
                                  ? json_integer_value(b) : imcache_dir_bytes(path);
            unsigned long long used = json_is_integer(u) ? (unsigned long long)json_integer_value(u)
                                                         : 0;
            imcache_entry_add(c, de->d_name, bytes, used);
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
 * pull of the image then fetches none of them again (a pull's own layout starts with them). */
void imcache_evict_locked(image_cache *c, char ***trash, int *ntrash)
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
        imcache_entry_free(e);
    }
}

/* Evicted bundles, already out of the way: removed by the remover's thread, not the caller's
 * (image_cache_release runs on the supervisor's). */
void imcache_empty_trash(char **trash, int ntrash)
{
    for (int i = 0; i < ntrash; i++) remover_queue(trash[i]);
    free(trash);
}
