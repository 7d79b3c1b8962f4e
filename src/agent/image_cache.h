/* image_cache — the agent's pulled and unpacked container images.
 *
 * A container attempt needs its image as a runtime bundle: a rootfs/ and a config.json that
 * `runc run` starts from.  This cache turns an image reference into such a bundle, pulling with
 * skopeo and unpacking with umoci (docs/decisions.md, "Containers": chosen by measurement, and
 * neither needs a daemon), once per digest, and keeps bundles for the next attempt until their
 * total size passes a bound.
 *
 * Each canonical reference is remembered with the manifest digest it last resolved to (in
 * memory and on disk, so a restarted agent keeps its cache), and a reference by digest finds its
 * bundle directly.  A tag is also remembered with the digest its registry named when it was
 * pulled (the pull is made by that digest, so the two agree), and before the cached image serves
 * it, its registry is asked again (image_check: one HEAD of the manifest), at most once every
 * IMAGE_CACHE_RECHECK_MS: a tag pushed anew is pulled again, as the ECS agent's default pull
 * behaviour has it; a registry that cannot say (down, refused), or a moved tag whose new image
 * cannot be pulled, leaves the cached image serving, as ECS does, and is asked again only after
 * half a minute.  A pull's own layout starts with the blobs the cache has, so only the layers
 * that changed are fetched.
 *
 * Threading: every function may be called from any thread, image_cache_get by many at once.  One
 * pull runs per canonical reference and one unpack per digest; other callers of the same
 * reference or digest wait for it, and a failure is reported to every one of them.  Pulls into
 * the shared layout run one at a time (neither tool locks the layout's index.json) and never
 * beside an unpack, which reads it; unpacks of different digests run side by side.  The tools
 * run with a deadline, so a hanging registry fails the get instead of hanging its caller.
 *
 * On disk, in DIR:
 *   layout/                  one OCI image layout that every pull copies into, so each blob is
 *                            stored once; an image's ref name is the SHA-256 of its canonical
 *                            reference (a ref name cannot hold every character a reference can)
 *   bundles/<digest hex>/    an unpacked image (umoci's bundle: rootfs/, config.json); it is
 *                            unpacked under tmp-* and renamed, and renamed to trash-* before it
 *                            is removed, so a bundle under its final name is always complete
 *   bundles/<hex>-uU-gG-nN/  the same image unpacked for a user namespace (idmap.h): each file
 *                            owned by the host id its owner maps to (container id i is host id
 *                            U+i, group i is G+i, for i below N)
 *   refs.json                canonical reference -> digest ("refs"), a tag -> the digest its
 *                            registry named when it was pulled ("remotes"), and each bundle's
 *                            size and last use, written atomically (a temporary file renamed
 *                            over it)
 */
#ifndef BARGE_IMAGE_CACHE_H
#define BARGE_IMAGE_CACHE_H
#include <stddef.h>

#include "common/idmap.h"

/* How long one skopeo copy or umoci unpack may take before it is killed. */
#define IMAGE_CACHE_TOOL_TIMEOUT_S 300

typedef struct image_cache image_cache;

/* An unpacked image, held by the attempts that use it.  Read-only for callers. */
typedef struct image_cache_entry {
    char *bundle;    /* DIR/bundles/<hex>: rootfs/ and config.json */
    char *digest;    /* the manifest digest, "sha256:<hex>" */
    char *key;       /* "sha256:" and the bundle's directory name (refs.json's key) */
    long long bytes; /* the bundle's size on disk */
    /* The cache's own: */
    int refs;            /* attempts holding it; evictable at 0 */
    unsigned long long used; /* a clock of last use, for least-recently-used eviction */
    struct image_cache_entry *next;
} image_cache_entry;

/* Opens (creating when needed) the cache in dir, which keeps unpacked bundles up to about
 * max_bytes in total (bundles in use are never evicted, so it may hold more while they are).
 * Bundles and references of an earlier run are found again.  NULL with *err (allocated) when
 * the directory cannot be used. */
image_cache *image_cache_new(const char *dir, long long max_bytes, char **err);
/* Frees the cache's memory; its files stay for the next image_cache_new.  No get may be in
 * flight and every entry must have been released. */
void image_cache_free(image_cache *c);
/* Sets the tools' deadline in seconds (IMAGE_CACHE_TOOL_TIMEOUT_S unless set); for tests. */
void image_cache_set_timeout(image_cache *c, int seconds);
/* How often, at most, a tag's registry is asked whether it moved: a second, so that the attempts
 * of an array starting together ask once, and a tag pushed anew serves the jobs that start a
 * second later.  Tests set 0 (every get asks). */
#define IMAGE_CACHE_RECHECK_MS 1000L
void image_cache_set_recheck(image_cache *c, long ms);

/* Where images come from.  mirror ("http://HOST:PORT", "https://HOST" or "HOST:PORT", plain
 * HTTP when on loopback), or NULL: Docker Hub references are pulled from it instead, as
 * Docker's registry-mirrors does.  plain_hosts (NULL-terminated "HOST[:PORT]" names, or NULL):
 * registries spoken to over plain HTTP besides those on loopback.  Set before the first get. */
void image_cache_set_registries(image_cache *c, const char *mirror, char *const *plain_hosts);

/* Makes sure the image that reference names is pulled and unpacked and returns it in *out, held
 * until image_cache_release.  auth ("user:password", or NULL) is what the registry is shown,
 * when the image must be pulled.  map (NULL, or size 0: the image's own ids) is the user
 * namespace the bundle is for: one image has a bundle for each mapping asked for.  Returns 0, or -1 with reason set to what AWS Batch says of a
 * job whose image cannot be had: "CannotPullContainerError: <why>", one line.
 *
 * Beside rootfs/ and config.json, a bundle holds image.json: the "config" object of the
 * image's configuration (Entrypoint, Cmd, Env, User, WorkingDir), {} when it has none. */
typedef struct image_cache_note {
    void (*fn)(void *arg, const char *reference); /* the canonical reference */
    void *arg;
} image_cache_note;
/* note (or NULL) is called once, before a get that has no bundle to hand out pulls or unpacks
 * (or waits for another caller doing it), so that what waits on the get can be told why. */
int image_cache_get(image_cache *c, const char *reference, const char *auth, const idmap *map,
                    const image_cache_note *note, image_cache_entry **out, char *reason,
                    size_t reason_len);
/* From any thread: the pulls and unpacks in flight end at once (their tools killed) and fail,
 * as every later one does, so that a stopping agent does not wait for them (up to the pull
 * deadline).  What they left half made is cleaned up as after a deadline. */
void image_cache_stop_pulls(image_cache *c);
/* Lets go of an entry from image_cache_get; the last release of an entry may evict it. */
void image_cache_release(image_cache *c, image_cache_entry *e);
#endif
