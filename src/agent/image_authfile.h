/* image_authfile — registry credentials handed to skopeo in a file rather than on its command
 * line, which any user of the host can read. */
#ifndef BARGE_IMAGE_AUTHFILE_H
#define BARGE_IMAGE_AUTHFILE_H

/* A Docker auth file (0600) for one registry host, "user:password" auth, written in dir under a
 * name made unique by seq; its path (the caller unlinks and frees it), or NULL with errno when
 * it cannot be written. */
char *image_authfile_write(const char *dir, unsigned long long seq, const char *host,
                           const char *auth);
#endif
