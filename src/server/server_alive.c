/* server_alive — see server_alive.h. */
#include "server/server_alive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

static char *path;
static int64_t touched; /* monotonic ms of the last touch */
static int failed;      /* said in the log */

int64_t server_alive_open(const char *data_dir)
{
    free(path);
    path = xasprintf("%s/alive", data_dir);
    touched = 0;
    struct stat sb;
    if (stat(path, &sb) < 0) return 0;
    return (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
}

void server_alive_touch(void)
{
    int64_t now = util_mono_ms();
    if (!path || (touched && now - touched < SERVER_ALIVE_EVERY_MS)) return;
    touched = now;
    int rc = utimensat(AT_FDCWD, path, NULL, 0);
    if (rc < 0 && errno == ENOENT) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        rc = fd < 0 ? -1 : close(fd);
    }
    if (rc < 0 && !failed) {
        failed = 1;
        log_warn("server: cannot touch %s (%s): after a crash, attempts whose agents do not come "
                 "back are charged until the next start", path, strerror(errno));
    }
}
