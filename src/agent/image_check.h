/* image_check — which manifest a tag names in its registry now, asked without pulling it.
 *
 * The image cache pulls a tag once and keeps the digest its registry gave for it.  Before an
 * attempt starts from the cached image, the cache asks again here, so that a tag pushed anew
 * is pulled again, as the ECS agent's default pull behaviour does for AWS Batch's jobs (it pulls
 * at every task start and falls back on the cached image when the pull fails).  Asking is one
 * HEAD of the manifest, which Docker Hub does not count against its pull limits, after the
 * registry's challenge is answered: a bearer token from the realm it names (with the
 * registry's credentials, when there are, as basic authentication), or basic authentication.
 *
 * Threading: any thread.  The agent holds a libcurl handle of its own for its whole run, so the
 * handles made here do not set libcurl up or down (httpc.h). */
#ifndef BARGE_IMAGE_CHECK_H
#define BARGE_IMAGE_CHECK_H
#include <stddef.h>

/* The registry's digest ("sha256:<64 hex>", fresh) of repository path's tag at host, spoken
 * to over plain HTTP when plain, else HTTPS; auth is "user:password" or NULL.  The whole
 * exchange ends within timeout_ms, or within a second of abandon(arg) turning nonzero.  NULL
 * with why set (a clause, no trailing period) when it could not be had: unreachable, refused,
 * or an answer without the digest. */
char *image_check_digest(const char *host, int plain, const char *path, const char *tag,
                         const char *auth, long timeout_ms, int (*abandon)(void *), void *arg,
                         char *why, size_t why_len);

/* A WWW-Authenticate header's challenge: its scheme ("Bearer", "Basic") and the parameters
 * barge uses, each fresh or NULL.  Returns 0, or -1 when the header has no scheme. */
typedef struct image_challenge {
    char *scheme, *realm, *service, *scope;
} image_challenge;
int image_check_challenge(const char *header, image_challenge *out);
void image_challenge_free(image_challenge *c);
#endif
