#include "agent/image_authfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/util.h"

char *image_authfile_write(const char *dir, unsigned long long seq, const char *host,
                           const char *auth)
{
    char *path = xasprintf("%s/auth-%ld-%llu.json", dir, (long)getpid(), seq);
    char *b64 = util_base64(auth, strlen(auth));
    json_t *doc = json_pack("{s:{s:{s:s}}}", "auths", host, "auth", b64);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char *text = json_dumps(doc, 0);
    int ok = fd >= 0 && text && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    int saved = errno;
    if (fd >= 0) close(fd);
    free(text);
    json_decref(doc);
    free(b64);
    if (!ok) {
        unlink(path);
        free(path);
        errno = saved ? saved : EIO;
        return NULL;
    }
    return path;
}
