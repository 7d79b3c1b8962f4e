/* imageref — container image references, read as Docker reads them.
 *
 * `busybox` is docker.io/library/busybox:latest; `myorg/app:1.2` is docker.io/myorg/app:1.2;
 * `registry.example.com:5000/team/app@sha256:<64 hex>` names a registry, a repository and a
 * digest.  The grammar is the distribution project's (the one Docker, Podman and skopeo share):
 * the first component is a registry when it holds a '.' or a ':' or is `localhost`; repository
 * components are lowercase letters and digits joined by '.', '_', "__" or dashes; a tag is up to
 * 128 of [A-Za-z0-9_.-] not starting with '.' or '-'; a digest is ALGORITHM:HEX.  The server
 * refuses at registration what no registry would serve, and the agent pulls what this resolves
 * to, so both read a reference the same way. */
#ifndef BARGE_IMAGEREF_H
#define BARGE_IMAGEREF_H

#define IMAGEREF_DEFAULT_DOMAIN "docker.io"
#define IMAGEREF_DEFAULT_TAG "latest"
/* The longest repository name with its registry, as the grammar allows. */
#define IMAGEREF_NAME_MAX 255

typedef struct imageref {
    char *domain; /* "docker.io", "127.0.0.1:5000", "[::1]:5000" */
    char *path;   /* "library/busybox" */
    char *tag;    /* NULL when only a digest was given */
    char *digest; /* "sha256:..." or NULL */
} imageref;

/* Parses s into *out.  Returns NULL, or why s is not a reference (a static sentence) and leaves
 * *out empty. */
const char *imageref_parse(const char *s, imageref *out);
void imageref_free(imageref *r);
/* The full reference, e.g. "docker.io/library/busybox:latest" (fresh). */
char *imageref_canonical(const imageref *r);
/* Whether the registry is on a loopback address (localhost, 127.0.0.0/8, ::1), which Docker
 * speaks to over plain HTTP. */
int imageref_loopback(const imageref *r);
#endif
