/* idmap.c: the --container-id-map option, and the subordinate-id files the default comes
 * from. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/idmap.h"
#include "common/mem.h"
#include "check.h"

static char dir[64];

static char *write_file(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_parse(void)
{
    idmap m;
    CHECK(idmap_parse("200000", &m) == NULL);
    CHECK_EQ_INT(m.uid_base, 200000);
    CHECK_EQ_INT(m.gid_base, 200000);
    CHECK_EQ_INT(m.size, 65536);
    CHECK(idmap_parse("3000000000:1000", &m) == NULL);
    CHECK_EQ_INT(m.uid_base, 3000000000u);
    CHECK_EQ_INT(m.size, 1000);
    CHECK(idmap_parse("4294967294:1", &m) == NULL);
    /* Host root in the range, no ids, past the last id, not numbers. */
    CHECK_CONTAINS(idmap_parse("0:65536", &m), "must not start at 0");
    CHECK_CONTAINS(idmap_parse("100000:0", &m), "must map 1 to");
    CHECK_CONTAINS(idmap_parse("4294967295", &m), "must map 1 to");
    CHECK_CONTAINS(idmap_parse("4294901760:65536", &m), "must map 1 to");
    const char *bad[] = {"", ":", "abc", "100000:", ":65536", "-1", "100000:65536:1", "1e6",
                         " 100000", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_CONTAINS(idmap_parse(bad[i], &m), "must be HOSTBASE or HOSTBASE:SIZE");
}

static void test_subid_files(void)
{
    unsigned base = 0, size = 0;
    char *sub = write_file("subuid", "alice:100000:65536\n"
                                     "barge:0:65536\n"                /* host root: skipped */
                                     "barge:notanumber:10\n"          /* skipped */
                                     "barge:700000000:131072\n"
                                     "barge:900000000:65536\n");      /* not the first */
    CHECK_EQ_INT(idmap_subid_range(sub, "barge", &base, &size), 0);
    CHECK_EQ_INT(base, 700000000);
    CHECK_EQ_INT(size, 131072);
    CHECK_EQ_INT(idmap_subid_range(sub, "alice", &base, &size), 0);
    CHECK_EQ_INT(base, 100000);
    CHECK_EQ_INT(idmap_subid_range(sub, "bob", &base, &size), -1);
    char *missing = xasprintf("%s/nonexistent", dir);
    CHECK_EQ_INT(idmap_subid_range(missing, "barge", &base, &size), -1);

    /* Both files name the user: their ranges, the smaller size. */
    char *subg = write_file("subgid", "barge:800000000:65536\n");
    idmap m;
    const char *source = NULL;
    idmap_default(sub, subg, &m, &source);
    CHECK_EQ_INT(m.uid_base, 700000000);
    CHECK_EQ_INT(m.gid_base, 800000000);
    CHECK_EQ_INT(m.size, 65536);
    CHECK_CONTAINS(source, "subordinate ids");
    /* Only one of them does: the fixed default. */
    idmap_default(sub, missing, &m, &source);
    CHECK_EQ_INT(m.uid_base, IDMAP_DEFAULT_BASE);
    CHECK_EQ_INT(m.gid_base, IDMAP_DEFAULT_BASE);
    CHECK_EQ_INT(m.size, IDMAP_DEFAULT_SIZE);
    CHECK_CONTAINS(source, "default");
    unlink(sub);
    unlink(subg);
    free(sub);
    free(subg);
    free(missing);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/barge-idmap-XXXXXX");
    CHECK(mkdtemp(dir));
    RUN(test_parse);
    RUN(test_subid_files);
    rmdir(dir);
    return 0;
}
