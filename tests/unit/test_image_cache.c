/* image_cache.c against a real registry: tests/e2e/registry.py serve-busybox runs one on
 * loopback with three busybox images (a, b and c, each with its own digest) until the test
 * closes its standard input.  Pulls and unpacks, a cached reference with the registry gone, one
 * unpack for four callers at once, a missing image, eviction only of what no attempt holds, a
 * tag pushed anew, and a restarted cache. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/util.h"
#include "agent/image_cache.h"
#include "check.h"

static char url[128], digests[3][80];
static pid_t helper_pid;
static int helper_stdin = -1;
static char dir[64];

/* Starts the registry helper and reads its "URL DIGEST..." line. */
static void registry_start(void)
{
    int in[2], out[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    helper_pid = fork();
    CHECK(helper_pid >= 0);
    if (helper_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execlp("python3", "python3", "tests/e2e/registry.py", "serve-busybox", "busybox:a",
               "busybox:b", "busybox:c", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    helper_stdin = in[1];
    FILE *f = fdopen(out[0], "r");
    char line[512];
    CHECK(f && fgets(line, sizeof line, f));
    fclose(f);
    CHECK_EQ_INT(sscanf(line, "%127s %79s %79s %79s", url, digests[0], digests[1], digests[2]), 4);
}

static void registry_stop(void)
{
    int status;
    close(helper_stdin);
    CHECK_EQ_INT(waitpid(helper_pid, &status, 0), helper_pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static char *ref(const char *tag)
{
    return xasprintf("%s/busybox:%s", url, tag);
}

static int exists(const char *path, const char *below)
{
    struct stat st;
    char *p = xasprintf("%s/%s", path, below);
    int ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

/* Entries of dir/bundles. */
static int count_bundles(const char *d)
{
    char *cmd = xasprintf("ls %s/bundles | wc -l", d);
    FILE *f = popen(cmd, "r");
    int n = -1;
    CHECK(f && fscanf(f, "%d", &n) == 1);
    pclose(f);
    free(cmd);
    return n;
}

static image_cache *cache;
static char reason[512];

static int notes;
static char noted[512];

static void count_note(void *arg, const char *reference)
{
    CHECK(arg == &notes);
    notes++;
    snprintf(noted, sizeof noted, "%s", reference);
}

static void test_first_get(void)
{
    image_cache_entry *e;
    char *r = ref("a");
    image_cache_note note = {count_note, &notes};
    CHECK_EQ_INT(image_cache_get(cache, r, NULL, NULL, &note, &e, reason, sizeof reason), 0);
    CHECK(exists(e->bundle, "rootfs/bin/busybox"));
    CHECK(exists(e->bundle, "image.json"));
    /* The root file system alone: no runtime configuration of umoci's (made from the image's
     * /etc/passwd, which it read as the host's root). */
    CHECK(!exists(e->bundle, "config.json"));
    CHECK_STR(e->digest, digests[0]);
    CHECK(e->bytes > 100000);
    image_cache_release(cache, e);
    /* The pull was noted once, with its reference; a get the cache answers at once is not. */
    CHECK_EQ_INT(notes, 1);
    CHECK_STR(noted, r);
    CHECK_EQ_INT(image_cache_get(cache, r, NULL, NULL, &note, &e, reason, sizeof reason), 0);
    image_cache_release(cache, e);
    CHECK_EQ_INT(notes, 1);
    free(r);
}

struct getter {
    image_cache_entry *e;
    int rc;
};

static void *get_b(void *arg)
{
    struct getter *g = arg;
    char why[512], *r = ref("b");
    g->rc = image_cache_get(cache, r, NULL, NULL, NULL, &g->e, why, sizeof why);
    free(r);
    return NULL;
}

static void test_concurrent(void)
{
    pthread_t t[4];
    struct getter g[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, get_b, &g[i]) == 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(g[i].rc, 0);
        CHECK(g[i].e == g[0].e);
    }
    CHECK_STR(g[0].e->digest, digests[1]);
    CHECK(exists(g[0].e->bundle, "rootfs/etc/barge-variant"));
    CHECK_EQ_INT(count_bundles(dir), 2);
    for (int i = 0; i < 4; i++) image_cache_release(cache, g[i].e);
}

static const idmap mapped = {200000, 300000, 65536};

static uid_t owner(const char *bundle, const char *below, gid_t *gid)
{
    struct stat st;
    char *p = xasprintf("%s/%s", bundle, below);
    CHECK(lstat(p, &st) == 0);
    free(p);
    *gid = st.st_gid;
    return st.st_uid;
}

/* An image for a user namespace is a bundle of its own, its files owned by the mapped host ids;
 * the plain bundle of the same digest stays as it was, and each is unpacked once. */
static void test_mapped(void)
{
    image_cache_entry *plain, *m, *again;
    gid_t gid;
    char *r = ref("a");
    CHECK_EQ_INT(image_cache_get(cache, r, NULL, NULL, NULL, &plain, reason, sizeof reason), 0);
    CHECK_EQ_INT(image_cache_get(cache, r, NULL, &mapped, NULL, &m, reason, sizeof reason), 0);
    CHECK(m != plain);
    CHECK_STR(m->digest, plain->digest);
    CHECK(strcmp(m->bundle, plain->bundle) != 0);
    CHECK_CONTAINS(m->bundle, "-u200000-g300000-n65536");
    CHECK_EQ_INT((int)owner(m->bundle, "rootfs/bin/busybox", &gid), 200000);
    CHECK_EQ_INT((int)gid, 300000);
    CHECK_EQ_INT((int)owner(m->bundle, "rootfs", &gid), 200000);
    CHECK_EQ_INT((int)owner(plain->bundle, "rootfs/bin/busybox", &gid), 0);
    CHECK_EQ_INT((int)gid, 0);
    CHECK_EQ_INT(count_bundles(dir), 3);
    CHECK_EQ_INT(image_cache_get(cache, r, NULL, &mapped, NULL, &again, reason, sizeof reason), 0);
    CHECK(again == m);
    CHECK_EQ_INT(count_bundles(dir), 3);
    image_cache_release(cache, again);
    image_cache_release(cache, m);
    image_cache_release(cache, plain);
    free(r);
}

static void test_missing(void)
{
    image_cache_entry *e = (image_cache_entry *)1;
    char *r = xasprintf("%s/nosuch:latest", url);
    CHECK_EQ_INT(image_cache_get(cache, r, NULL, NULL, NULL, &e, reason, sizeof reason), -1);
    CHECK(e == NULL);
    CHECK_CONTAINS(reason, "CannotPullContainerError: ");
    CHECK_CONTAINS(reason, "manifest unknown");
    CHECK(!strchr(reason, '\n'));
    CHECK_EQ_INT(image_cache_get(cache, "Not A Reference", NULL, NULL, NULL, &e, reason, sizeof reason), -1);
    CHECK_CONTAINS(reason, "CannotPullContainerError: invalid reference");
    free(r);
}

/* A second cache bounded below two bundles: getting c while a is held keeps both; releasing a
 * evicts it. */
static void test_eviction(void)
{
    char *d2 = xasprintf("%s/small", dir), *err = NULL, *ra = ref("a"), *rc = ref("c");
    image_cache *small = image_cache_new(d2, 1, &err);
    CHECK(small);
    image_cache_entry *a, *c;
    CHECK_EQ_INT(image_cache_get(small, ra, NULL, NULL, NULL, &a, reason, sizeof reason), 0);
    char *a_bundle = xstrdup(a->bundle);
    long long one = a->bytes;
    image_cache_release(small, a);
    /* Over the bound but not held: gone at once. */
    CHECK(!exists(a_bundle, "image.json"));
    image_cache_free(small);

    small = image_cache_new(d2, one + one / 2, &err);
    CHECK_EQ_INT(image_cache_get(small, ra, NULL, NULL, NULL, &a, reason, sizeof reason), 0);
    CHECK(exists(a->bundle, "image.json"));
    CHECK_EQ_INT(image_cache_get(small, rc, NULL, NULL, NULL, &c, reason, sizeof reason), 0);
    CHECK_STR(c->digest, digests[2]);
    CHECK(exists(a_bundle, "image.json")); /* held: kept although over the bound */
    CHECK(exists(c->bundle, "image.json"));
    image_cache_release(small, a);
    CHECK(!exists(a_bundle, "image.json"));
    CHECK(exists(c->bundle, "image.json"));
    CHECK_EQ_INT(count_bundles(d2), 1);
    image_cache_release(small, c);
    image_cache_free(small);
    free(a_bundle);
    free(d2);
    free(ra);
    free(rc);
}

/* A tag pushed anew is pulled again at its next get (the cache asks the registry every time
 * here); the tag it was not pushed to is not. */
static void test_moved_tag(void)
{
    image_cache_entry *e;
    char *moving = ref("moving"), *ra = ref("a");
    char *copy_a = xasprintf("skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false "
                             "docker://%s/busybox:a docker://%s/busybox:moving", url, url);
    char *copy_b = xasprintf("skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false "
                             "docker://%s/busybox:b docker://%s/busybox:moving", url, url);
    CHECK(system(copy_a) == 0);
    CHECK_EQ_INT(image_cache_get(cache, moving, NULL, NULL, NULL, &e, reason, sizeof reason), 0);
    CHECK_STR(e->digest, digests[0]);
    image_cache_release(cache, e);
    CHECK_EQ_INT(image_cache_get(cache, moving, NULL, NULL, NULL, &e, reason, sizeof reason), 0);
    CHECK_STR(e->digest, digests[0]);
    image_cache_release(cache, e);
    CHECK(system(copy_b) == 0);
    CHECK_EQ_INT(image_cache_get(cache, moving, NULL, NULL, NULL, &e, reason, sizeof reason), 0);
    CHECK_STR(e->digest, digests[1]);
    CHECK(exists(e->bundle, "rootfs/etc/barge-variant"));
    image_cache_release(cache, e);
    CHECK_EQ_INT(image_cache_get(cache, ra, NULL, NULL, NULL, &e, reason, sizeof reason), 0);
    CHECK_STR(e->digest, digests[0]);
    image_cache_release(cache, e);
    free(copy_a);
    free(copy_b);
    free(moving);
    free(ra);
}

/* With the registry stopped: references resolved before, by tag or by digest, still work (the
 * registry cannot say whether a tag moved: what was pulled serves), and so they do in a cache
 * opened anew on the same directory. */
/* A record of an older cache names no registry digest for its tags: a tag whose registry names
 * the digest pulled is taken as unmoved, not pulled again. */
static void test_record_without_remotes(void)
{
    image_cache_free(cache);
    char *path = xasprintf("%s/refs.json", dir), *text = util_read_file(path), *err = NULL;
    CHECK(text);
    char *at = strstr(text, "\"remotes\"");
    CHECK(at);
    memcpy(at, "\"ignored\"", 9);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
    cache = image_cache_new(dir, 1LL << 40, &err);
    CHECK(cache);
    image_cache_set_recheck(cache, 0);
    image_cache_entry *e;
    char *ra = ref("a");
    image_cache_note note = {count_note, &notes};
    notes = 0;
    CHECK_EQ_INT(image_cache_get(cache, ra, NULL, NULL, &note, &e, reason, sizeof reason), 0);
    CHECK_STR(e->digest, digests[0]);
    image_cache_release(cache, e);
    CHECK_EQ_INT(notes, 0); /* no pull */
    free(ra);
    free(text);
    free(path);
}

static void test_without_registry(void)
{
    image_cache_entry *e;
    char *ra = ref("a"), *rb = ref("b"), *by_digest = xasprintf("%s/busybox@%s", url, digests[0]);
    CHECK_EQ_INT(image_cache_get(cache, ra, NULL, NULL, NULL, &e, reason, sizeof reason), 0);
    CHECK_STR(e->digest, digests[0]);
    image_cache_release(cache, e);
    CHECK_EQ_INT(image_cache_get(cache, by_digest, NULL, NULL, NULL, &e, reason, sizeof reason), 0);
    CHECK_STR(e->digest, digests[0]);
    image_cache_release(cache, e);
    /* Not cached: the registry's absence is the reason. */
    char *rc = ref("c");
    CHECK_EQ_INT(image_cache_get(cache, rc, NULL, NULL, NULL, &e, reason, sizeof reason), -1);
    CHECK_CONTAINS(reason, "CannotPullContainerError: ");
    CHECK_CONTAINS(reason, "connection refused");

    image_cache_free(cache);
    char *err = NULL;
    cache = image_cache_new(dir, 1LL << 40, &err);
    CHECK(cache);
    CHECK_EQ_INT(image_cache_get(cache, rb, NULL, NULL, NULL, &e, reason, sizeof reason), 0);
    CHECK_STR(e->digest, digests[1]);
    CHECK(exists(e->bundle, "rootfs/etc/barge-variant"));
    image_cache_release(cache, e);
    if (geteuid() == 0) {
        /* The mapped bundle is found again too. */
        CHECK_EQ_INT(image_cache_get(cache, ra, NULL, &mapped, NULL, &e, reason, sizeof reason), 0);
        CHECK_CONTAINS(e->bundle, "-u200000-g300000-n65536");
        image_cache_release(cache, e);
    }
    CHECK_EQ_INT(count_bundles(dir), geteuid() == 0 ? 3 : 2); /* a, b (and a mapped) */
    free(ra);
    free(rb);
    free(rc);
    free(by_digest);
}

/* A refs.json that a crash or a hand left wrong: sizes no bundle can have are measured again,
 * so that the total stays true (two near the largest number overflowed it, and the cache, which
 * thought itself empty, never evicted).  No registry is needed: the reference is known. */
static void test_bad_record(void)
{
    static const char *const hex[] = {
        "1111111111111111111111111111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222222222222222222222222222"};
    char *d = xasprintf("%s/record", dir), *err = NULL;
    buf b = {0};
    buf_printf(&b, "{\"refs\":{\"docker.io/library/busybox:old\":\"sha256:%s\"},\"bundles\":{",
               hex[0]);
    for (int i = 0; i < 2; i++) {
        char *rootfs = xasprintf("%s/bundles/%s/rootfs", d, hex[i]);
        CHECK(util_make_dirs(rootfs, 0755) >= 0);
        free(rootfs);
        buf_printf(&b, "%s\"sha256:%s\":{\"bytes\":%lld,\"used\":%d}", i ? "," : "", hex[i],
                   (long long)INT64_MAX - 1, i + 1);
    }
    buf_puts(&b, "}}");
    char *path = xasprintf("%s/refs.json", d);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(b.data, f) >= 0 && fclose(f) == 0);
    image_cache *c = image_cache_new(d, 1, &err);
    CHECK(c);
    /* Whether the tag moved is asked of a mirror that refuses at once, not of Docker Hub. */
    image_cache_set_registries(c, "127.0.0.1:9", NULL);
    image_cache_entry *e;
    CHECK_EQ_INT(image_cache_get(c, "busybox:old", NULL, NULL, NULL, &e, reason, sizeof reason), 0);
    CHECK(e->bytes > 0 && e->bytes < 1000000);
    char *bundle = xstrdup(e->bundle);
    image_cache_release(c, e);
    CHECK(!exists(bundle, "rootfs")); /* over the bound of one byte: evicted */
    image_cache_free(c);
    buf_free(&b);
    free(bundle);
    free(path);
    free(d);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/barge-imgcache-XXXXXX");
    CHECK(mkdtemp(dir));
    registry_start();
    char *err = NULL;
    cache = image_cache_new(dir, 1LL << 40, &err);
    CHECK(cache);
    RUN(test_bad_record);
    RUN(test_first_get);
    RUN(test_concurrent);
    if (geteuid() == 0) RUN(test_mapped); /* only root may give files to other users */
    RUN(test_missing);
    RUN(test_eviction);
    image_cache_set_recheck(cache, 0);
    RUN(test_moved_tag);
    RUN(test_record_without_remotes);
    registry_stop();
    RUN(test_without_registry);
    image_cache_free(cache);
    char *rm = xasprintf("rm -rf %s", dir);
    CHECK(system(rm) == 0);
    free(rm);
    return 0;
}
