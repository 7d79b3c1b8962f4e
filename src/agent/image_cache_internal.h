/* image_cache's own: the cache's state, shared by image_cache.c (pulls, unpacks, gets) and
 * image_cache_record.c (refs.json, the entries, eviction).  Every function here is called with
 * c->mu held unless it says otherwise. */
#ifndef BARGE_IMAGE_CACHE_INTERNAL_H
#define BARGE_IMAGE_CACHE_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>

#include "agent/image_cache.h"

#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"
/* A pull's own layout in the cache's directory, until it is copied into the shared one. */
#define PULL_STAGE "pull-"
/* No unpacked image is larger (a tebibyte). */
#define BUNDLE_BYTES_MAX (1LL << 40)
/* The longest a registry is asked which digest a tag names (image_check). */
#define CHECK_TIMEOUT_MS 5000L
/* After it could not say, it is not asked again for this long: the cached image serves. */
#define CHECK_BACKOFF_MS 30000LL

/* A canonical reference and the digest it last resolved to. */
typedef struct refmap {
    char *canonical, *digest;
    /* A tag's: the digest its registry gave for it when it was pulled (an index's, or a
     * manifest the layout holds recompressed), which image_check compares; NULL when unknown. */
    char *remote;
    long long next_check_ms; /* monotonic: the registry is not asked again before */
    int moved;               /* the registry names another digest now: pull again */
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
    long recheck_ms; /* a tag is asked about at most this often (image_cache_set_recheck) */
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

/* The bytes a directory tree takes on disk (any lock). */
long long imcache_dir_bytes(const char *path);
/* Writes refs.json atomically; the file is small. */
void imcache_save_locked(image_cache *c);
refmap *imcache_ref_find(image_cache *c, const char *canonical);
/* Records that canonical resolved to digest, and for a tag the digest its registry named
 * (remote, or NULL); the registry is asked again after c->recheck_ms. */
void imcache_ref_set(image_cache *c, const char *canonical, const char *digest,
                     const char *remote);
/* The entry of bundle name (image_bundle_name), or NULL. */
image_cache_entry *imcache_entry_find(image_cache *c, const char *name);
image_cache_entry *imcache_entry_add(image_cache *c, const char *name, long long bytes,
                                     unsigned long long used);
void imcache_entry_free(image_cache_entry *e);
/* Reads refs.json and the bundles directory (at open, before any other thread). */
void imcache_load(image_cache *c);
/* While the bundles pass the bound, renames the least recently used unheld one out of the way
 * and adds its new path to *trash, for imcache_empty_trash once the lock is let go. */
void imcache_evict_locked(image_cache *c, char ***trash, int *ntrash);
/* Removes the trash's trees and frees it (without the lock). */
void imcache_empty_trash(char **trash, int ntrash);
#endif
