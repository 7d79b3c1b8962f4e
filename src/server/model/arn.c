#include "server/model/arn.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "server/model/config.h"

char *arn_make(const char *kind, const char *name)
{
    buf b = {0};
    arn_put(&b, kind, name);
    return b.data;
}

void arn_put(buf *b, const char *kind, const char *name)
{
    buf_puts(b, "arn:aws:batch:");
    buf_puts(b, barge_cfg.region);
    buf_puts(b, ":");
    buf_puts(b, barge_cfg.account_id);
    buf_puts(b, ":");
    buf_puts(b, kind);
    buf_puts(b, "/");
    buf_puts(b, name);
}

char *arn_ecs_cluster(const char *ce_name, const char *ce_uuid)
{
    return xasprintf("arn:aws:ecs:%s:%s:cluster/AWSBatch-%s-%s", barge_cfg.region,
                     barge_cfg.account_id, ce_name, ce_uuid);
}

char *arn_ecs_task(const char *ce_name, const char *ce_uuid, const char *task_id)
{
    return xasprintf("arn:aws:ecs:%s:%s:task/AWSBatch-%s-%s/%s", barge_cfg.region,
                     barge_cfg.account_id, ce_name, ce_uuid, task_id);
}

int arn_split(const char *s, char **kind, char **resource)
{
    /* arn:PARTITION:batch:REGION:ACCOUNT:KIND/RESOURCE */
    if (strncmp(s, "arn:", 4) != 0) return -1;
    const char *p = s;
    for (int colons = 0; colons < 5; colons++) {
        p = strchr(p, ':');
        if (!p) return -1;
        p++;
    }
    /* AWS's partitions: aws, aws-cn, aws-us-gov, aws-iso-b and the like. */
    if (strncmp(s, "arn:aws", 7) != 0) return -1;
    const char *part = s + 7;
    if (*part == '-') {
        part++;
        if (!islower((unsigned char)*part)) return -1;
        while (islower((unsigned char)*part) || *part == '-') part++;
    }
    if (*part != ':') return -1;
    const char *svc = strchr(s + 4, ':');
    if (!svc || strncmp(svc, ":batch:", 7) != 0) return -1;
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || !slash[1]) return -1;
    *kind = xstrndup(p, (size_t)(slash - p));
    *resource = xstrdup(slash + 1);
    return 0;
}

char *arn_resource(const char *s, const char *kind)
{
    char *k, *r;
    if (arn_split(s, &k, &r) < 0) return NULL;
    int same = strcmp(k, kind) == 0;
    free(k);
    if (!same) {
        free(r);
        return NULL;
    }
    return r;
}

int arn_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return 0;
    return 1;
}
