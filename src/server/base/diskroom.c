/* diskroom — see diskroom.h. */
#include "server/base/diskroom.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/statvfs.h>

#include "common/util.h"

#define LOOK_EVERY_MS 100

long long diskroom_reserve_mib(long long given, long long total_mib)
{
    if (given >= 0) return given;
    long long tenth = total_mib / 10;
    return tenth < 16 ? 16 : tenth > 256 ? 256 : tenth;
}

int diskroom_low(const char *dir, long long given, size_t bytes, long long *free_mib,
                 long long *reserve_mib)
{
    /* A statvfs every LOOK_EVERY_MS, whatever the rate of uploads asking; what was let in
     * since is counted against what it saw (a job printing without pause sends tens of MiB a
     * second). */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static int64_t looked_at;
    static long long free_seen = -1, total_seen, since;
    if (!dir) return 0; /* (no data directory: a test harness) */
    pthread_mutex_lock(&mu);
    int64_t now = util_mono_ms();
    if (!looked_at || now - looked_at >= LOOK_EVERY_MS) {
        struct statvfs v;
        looked_at = now;
        since = 0;
        free_seen = statvfs(dir, &v) == 0 ? (long long)(v.f_bavail * v.f_frsize) : -1;
        total_seen = free_seen < 0 ? 0 : (long long)((v.f_blocks * v.f_frsize) >> 20);
    }
    int known = free_seen >= 0;
    long long left = free_seen - since, total = total_seen;
    long long free = known ? (left > 0 ? left >> 20 : 0) : 0;
    int low = known && free < diskroom_reserve_mib(given, total);
    if (!low) since += (long long)bytes;
    pthread_mutex_unlock(&mu);
    if (!known) return 0;
    *free_mib = free;
    *reserve_mib = diskroom_reserve_mib(given, total);
    return low;
}
