/* container_config.c: an OCI configuration from an image's configuration, a job's container
 * properties and an attempt's bundle, as Docker and ECS combine them; users resolved in the
 * image's own passwd and group files. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/container_config.h"
#include "agent/container_mounts.h"
#include "common/efs_mounts.h"
#include "common/mem.h"
#include "common/util.h"
#include "check.h"

static char root[64];

static void write_file(const char *rel, const char *text)
{
    char *path = xasprintf("%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* The user namespace the next configurations are for (NULL: none). */
static const idmap *ids_in_use;
/* Where the instance has its EFS file systems (NULL: none), and the descriptors handed to be
 * bound (stage_dir), kept open here to look at. */
static const json_t *efs_in_use;
static int staged_fds[8];
static size_t n_staged;

static char *stage_for_test(void *ctx, int fd, char *reason, size_t len)
{
    (void)ctx;
    (void)reason;
    (void)len;
    CHECK(n_staged < 8);
    staged_fds[n_staged++] = fd;
    return xasprintf("/staged/%d", fd);
}

static void close_staged(void)
{
    for (size_t i = 0; i < n_staged; i++) close(staged_fds[i]);
    n_staged = 0;
}

static json_t *config_for(const char *image_json, const char *container_json, char **argv,
                          char **envp, char *reason, size_t len)
{
    exec_spec s = {0};
    s.max_pids = 321;
    s.memory_mib = 48;
    s.argv = argv;
    s.envp = envp;
    s.container = container_json ? json_loads(container_json, 0, NULL) : NULL;
    json_t *image = json_loads(image_json, 0, NULL);
    CHECK(image != NULL);
    char *lower = xasprintf("%s/lower", root), *work = xasprintf("%s/work", root);
    container_inputs in = {&s, image, lower, work, "/usr/libexec/barge-init", ids_in_use,
                           efs_in_use, stage_for_test, NULL, 0};
    char said[512];
    json_t *c = container_config(&in, said, sizeof said, reason, len);
    json_decref(image);
    json_decref(s.container);
    free(lower);
    free(work);
    return c;
}

static const char *arg(json_t *c, size_t i)
{
    return json_string_value(json_array_get(json_object_get(json_object_get(c, "process"), "args"), i));
}

static int has_env(json_t *c, const char *entry)
{
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(c, "process"), "env"), i, e)
        if (strcmp(json_string_value(e), entry) == 0) return 1;
    return 0;
}

static json_t *find_mount(json_t *c, const char *dest)
{
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(c, "mounts"), i, m)
        if (strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0) return m;
    return NULL;
}

static void test_users(void)
{
    char reason[256];
    unsigned uid, gid;
    char *home, *lower = xasprintf("%s/lower", root);
    CHECK_EQ_INT(container_resolve_user(lower, NULL, &uid, &gid, &home, reason, sizeof reason), 0);
    CHECK_EQ_INT(uid, 0);
    CHECK_STR(home, "/root");
    free(home);
    CHECK_EQ_INT(container_resolve_user(lower, "app", &uid, &gid, &home, reason, sizeof reason), 0);
    CHECK_EQ_INT(uid, 1000);
    CHECK_EQ_INT(gid, 1001);
    CHECK_STR(home, "/home/app");
    free(home);
    CHECK_EQ_INT(container_resolve_user(lower, "1000:staff", &uid, &gid, &home, reason,
                                        sizeof reason), 0);
    CHECK_EQ_INT(uid, 1000);
    CHECK_EQ_INT(gid, 50);
    free(home);
    /* A number the image does not list: itself, in group 0. */
    CHECK_EQ_INT(container_resolve_user(lower, "4321", &uid, &gid, &home, reason, sizeof reason), 0);
    CHECK_EQ_INT(uid, 4321);
    CHECK_EQ_INT(gid, 0);
    free(home);
    /* Supplementary groups from the image's /etc/group, as Docker gives them: app is listed in
     * staff (50); none when a group is named, or for a user no group lists. */
    json_t *groups = container_user_groups(lower, "app", 1001);
    CHECK(json_array_size(groups) == 1 && json_integer_value(json_array_get(groups, 0)) == 50);
    json_decref(groups);
    groups = container_user_groups(lower, "1000", 1001); /* by its id, the same name */
    CHECK(json_array_size(groups) == 1);
    json_decref(groups);
    groups = container_user_groups(lower, "app:app", 1001);
    CHECK(json_array_size(groups) == 0);
    json_decref(groups);
    groups = container_user_groups(lower, "root", 0);
    CHECK(json_array_size(groups) == 0);
    json_decref(groups);
    CHECK_EQ_INT(container_resolve_user(lower, "ghost", &uid, &gid, &home, reason, sizeof reason),
                 -1);
    CHECK_STR(reason, "CannotStartContainerError: unable to find user ghost: no matching entries "
                      "in passwd file");
    CHECK_EQ_INT(container_resolve_user(lower, "app:nogroup", &uid, &gid, &home, reason,
                                        sizeof reason), -1);
    CHECK_CONTAINS(reason, "unable to find group nogroup");
    free(lower);
}

static void test_command_and_environment(void)
{
    char reason[256];
    const char *image = "{\"Entrypoint\":[\"/entry\"],\"Cmd\":[\"dflt\"],\"Env\":[\"PATH=/img\","
                        "\"A=image\",\"B=image\"],\"User\":\"app\",\"WorkingDir\":\"/srv\"}";
    char *none[] = {NULL};
    char *envp[] = {"B=job", "C=job", NULL};
    json_t *c = config_for(image, NULL, none, envp, reason, sizeof reason);
    CHECK(c != NULL);
    CHECK_STR(arg(c, 0), "/entry");
    CHECK_STR(arg(c, 1), "dflt");
    CHECK(arg(c, 2) == NULL);
    CHECK(has_env(c, "PATH=/img") && has_env(c, "A=image") && has_env(c, "B=job") &&
          has_env(c, "C=job") && has_env(c, "HOME=/home/app") && !has_env(c, "B=image"));
    json_t *p = json_object_get(c, "process");
    CHECK_STR(json_string_value(json_object_get(p, "cwd")), "/srv");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(p, "user"), "uid")), 1000);
    /* The image's /etc/group lists app in staff: a supplementary group (it had none). */
    json_t *extra = json_object_get(json_object_get(p, "user"), "additionalGids");
    CHECK(json_array_size(extra) == 1 && json_integer_value(json_array_get(extra, 0)) == 50);
    /* The host's network: no network namespace. */
    json_t *ns;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(c, "linux"), "namespaces"), i, ns)
        CHECK(strcmp(json_string_value(json_object_get(ns, "type")), "network") != 0);
    json_decref(c);

    /* A command replaces Cmd, not the entrypoint; the definition's user wins over the image's. */
    char *argv[] = {"x", "y", NULL};
    c = config_for(image, "{\"user\":\"0\",\"linuxParameters\":{\"initProcessEnabled\":true}}",
                   argv, envp, reason, sizeof reason);
    CHECK(c != NULL);
    CHECK_STR(arg(c, 0), "/dev/init");
    CHECK_STR(arg(c, 1), "--");
    CHECK_STR(arg(c, 2), "/entry");
    CHECK_STR(arg(c, 3), "x");
    CHECK_STR(arg(c, 4), "y");
    CHECK(has_env(c, "HOME=/root"));
    json_t *init = find_mount(c, "/dev/init");
    CHECK(init != NULL);
    CHECK_STR(json_string_value(json_object_get(init, "source")), "/usr/libexec/barge-init");
    json_decref(c);

    /* Nothing to run at all. */
    c = config_for("{}", NULL, none, NULL, reason, sizeof reason);
    CHECK(c == NULL);
    CHECK_STR(reason, "CannotStartContainerError: no command specified");
}

static void test_properties(void)
{
    char reason[256];
    char *argv[] = {"true", NULL};
    char *host = xasprintf("%s/hostdir/new", root);
    char *props = xasprintf(
        "{\"readonlyRootFilesystem\":true,\"vcpus\":0.5,"
        "\"volumes\":[{\"name\":\"h\",\"host\":{\"sourcePath\":\"%s\"}},{\"name\":\"s\"}],"
        "\"mountPoints\":[{\"sourceVolume\":\"h\",\"containerPath\":\"/h\",\"readOnly\":true},"
        "{\"sourceVolume\":\"s\",\"containerPath\":\"/s\"}],"
        "\"ulimits\":[{\"name\":\"nofile\",\"softLimit\":100,\"hardLimit\":200}],"
        "\"linuxParameters\":{\"sharedMemorySize\":128,\"swappiness\":10,"
        "\"tmpfs\":[{\"containerPath\":\"/t\",\"size\":8,\"mountOptions\":[\"noexec\"]}],"
        "\"devices\":[{\"hostPath\":\"/dev/null\",\"containerPath\":\"/dev/mynull\","
        "\"permissions\":[\"READ\"]}]}}", host);
    json_t *c = config_for("{}", props, argv, NULL, reason, sizeof reason);
    CHECK(c != NULL);
    CHECK(json_is_true(json_object_get(json_object_get(c, "root"), "readonly")));
    /* The host volume's source was made; the scratch volume is the attempt's own. */
    struct stat st;
    CHECK(stat(host, &st) == 0 && S_ISDIR(st.st_mode));
    json_t *h = find_mount(c, "/h"), *s = find_mount(c, "/s");
    CHECK(h && s);
    CHECK_STR(json_string_value(json_object_get(h, "source")), host);
    CHECK_STR(json_string_value(json_array_get(json_object_get(h, "options"), 2)), "ro");
    CHECK_CONTAINS(json_string_value(json_object_get(s, "source")), "/work/volume-1");
    json_t *shm = find_mount(c, "/dev/shm"), *t = find_mount(c, "/t");
    CHECK_STR(json_string_value(json_array_get(json_object_get(shm, "options"), 4)), "size=128m");
    CHECK_STR(json_string_value(json_object_get(t, "type")), "tmpfs");
    CHECK_STR(json_string_value(json_array_get(json_object_get(t, "options"), 1)), "size=8m");
    json_t *rl = json_array_get(json_object_get(json_object_get(c, "process"), "rlimits"), 0);
    CHECK_STR(json_string_value(json_object_get(rl, "type")), "RLIMIT_NOFILE");
    CHECK_EQ_INT(json_integer_value(json_object_get(rl, "soft")), 100);
    json_t *linux_ = json_object_get(c, "linux");
    json_t *res = json_object_get(linux_, "resources");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "cpu"), "shares")), 512);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "memory"), "swappiness")),
                 10);
    /* The job's memory on the container's own cgroup too, where a program inside reads it. */
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
                 48 << 20);
    /* Every attempt's pids limit, which runc sets on the container's cgroup. */
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")), 321);
    json_t *dev = json_array_get(json_object_get(linux_, "devices"), 0);
    CHECK_STR(json_string_value(json_object_get(dev, "path")), "/dev/mynull");
    CHECK_EQ_INT(json_integer_value(json_object_get(dev, "major")), 1);
    json_t *rule = json_array_get(json_object_get(res, "devices"), 1);
    CHECK_STR(json_string_value(json_object_get(rule, "access")), "r");
    /* Not privileged: Docker's masked paths and default capabilities. */
    CHECK(json_array_size(json_object_get(linux_, "maskedPaths")) > 0);
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(json_object_get(c, "process"),
                                                                 "capabilities"), "bounding")), 14);
    json_decref(c);
    free(props);

    /* A device the host does not have, a mount point without a volume. */
    c = config_for("{}", "{\"linuxParameters\":{\"devices\":[{\"hostPath\":\"/dev/nope\"}]}}",
                   argv, NULL, reason, sizeof reason);
    CHECK(c == NULL);
    CHECK_CONTAINS(reason, "/dev/nope is not a device on this host");
    c = config_for("{}", "{\"mountPoints\":[{\"sourceVolume\":\"x\",\"containerPath\":\"/x\"}]}",
                   argv, NULL, reason, sizeof reason);
    CHECK(c == NULL);
    CHECK_CONTAINS(reason, "mountPoints[0]: sourceVolume names no volume");
    /* Privileged: every capability this kernel knows, no masked paths. */
    c = config_for("{}", "{\"privileged\":true}", argv, NULL, reason, sizeof reason);
    CHECK(c != NULL);
    CHECK(json_array_size(json_object_get(json_object_get(json_object_get(c, "process"),
                                                          "capabilities"), "bounding")) > 30);
    CHECK(json_object_get(json_object_get(c, "linux"), "maskedPaths") == NULL);
    json_decref(c);
    free(host);
}

static int has_namespace(json_t *c, const char *type)
{
    json_t *n;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(c, "linux"), "namespaces"), i, n)
        if (strcmp(json_string_value(json_object_get(n, "type")), type) == 0) return 1;
    return 0;
}

static void check_mapping(json_t *c, const char *key, long long host, long long size)
{
    json_t *maps = json_object_get(json_object_get(c, "linux"), key);
    CHECK_EQ_INT(json_array_size(maps), 1);
    json_t *m = json_array_get(maps, 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "containerID")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "hostID")), host);
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "size")), size);
}

/* With a mapping: a user namespace with it, the host's /sys bound (sysfs cannot be mounted
 * without a network namespace of its own), directories made for volumes given to the
 * container's root and one that existed left as it was; privileged: none of it. */
static void test_user_namespace(void)
{
    char reason[256];
    char *argv[] = {"true", NULL};
    static const idmap ids = {1000000000u, 1500000000u, 65536};
    char *made = xasprintf("%s/userns/new", root), *kept = xasprintf("%s/userns", root);
    CHECK(util_make_dirs(kept, 0755) == 1);
    char *props = xasprintf(
        "{\"volumes\":[{\"name\":\"new\",\"host\":{\"sourcePath\":\"%s\"}},"
        "{\"name\":\"old\",\"host\":{\"sourcePath\":\"%s\"}},{\"name\":\"s\"}],"
        "\"mountPoints\":[{\"sourceVolume\":\"new\",\"containerPath\":\"/new\"},"
        "{\"sourceVolume\":\"old\",\"containerPath\":\"/old\"},"
        "{\"sourceVolume\":\"s\",\"containerPath\":\"/s\"}],"
        "\"linuxParameters\":{\"devices\":[{\"hostPath\":\"/dev/null\","
        "\"containerPath\":\"/dev/mynull\"}]}}", made, kept);
    ids_in_use = &ids;
    json_t *c = config_for("{}", props, argv, NULL, reason, sizeof reason);
    CHECK(c != NULL);
    CHECK(has_namespace(c, "user") && has_namespace(c, "pid") && has_namespace(c, "mount"));
    CHECK(!has_namespace(c, "network"));
    check_mapping(c, "uidMappings", 1000000000LL, 65536);
    check_mapping(c, "gidMappings", 1500000000LL, 65536);
    json_t *sys = find_mount(c, "/sys");
    CHECK_STR(json_string_value(json_object_get(sys, "type")), "bind");
    CHECK_STR(json_string_value(json_object_get(sys, "source")), "/sys");
    char *sys_options = json_dumps(json_object_get(sys, "options"), 0);
    CHECK_CONTAINS(sys_options, "\"ro\"");
    free(sys_options);
    /* No device node can be made in a user namespace: one is made for it in the attempt's
     * directory, the container's root's (a bind of the host's kept the host's owner and mode,
     * and the container's root, an unprivileged host user, could not open a node not open to
     * all: /dev/kvm, a disk), and the device cgroup still allows it.  Only root makes nodes. */
    json_t *dev = find_mount(c, "/dev/mynull");
    CHECK_STR(json_string_value(json_object_get(dev, "type")), "bind");
    const char *node = json_string_value(json_object_get(dev, "source"));
    if (geteuid() == 0) {
        struct stat host, own;
        CHECK(stat("/dev/null", &host) == 0 && stat(node, &own) == 0);
        CHECK_CONTAINS(node, "/work/device-0");
        CHECK(S_ISCHR(own.st_mode) && own.st_rdev == host.st_rdev);
        CHECK_EQ_INT((long long)own.st_uid, 1000000000LL);
        CHECK_EQ_INT((long long)own.st_gid, 1500000000LL);
        CHECK_EQ_INT(own.st_mode & 0777, host.st_mode & 0777);
    } else {
        CHECK_STR(node, "/dev/null");
    }
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(c, "linux"), "devices")), 0);
    json_t *rules = json_object_get(json_object_get(json_object_get(c, "linux"), "resources"),
                                    "devices");
    CHECK_EQ_INT(json_array_size(rules), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(rules, 1), "access")), "rwm");
    struct stat st;
    if (geteuid() == 0) {
        CHECK(stat(made, &st) == 0);
        CHECK_EQ_INT((long long)st.st_uid, 1000000000LL);
        CHECK_EQ_INT((long long)st.st_gid, 1500000000LL);
        const char *scratch = json_string_value(json_object_get(find_mount(c, "/s"), "source"));
        CHECK(stat(scratch, &st) == 0);
        CHECK_EQ_INT((long long)st.st_uid, 1000000000LL);
        CHECK(stat(kept, &st) == 0);
        CHECK_EQ_INT((long long)st.st_uid, (long long)geteuid());
    }
    json_decref(c);
    c = config_for("{}", "{\"privileged\":true}", argv, NULL, reason, sizeof reason);
    CHECK(c != NULL);
    CHECK(!has_namespace(c, "user"));
    CHECK(json_object_get(json_object_get(c, "linux"), "uidMappings") == NULL);
    CHECK_STR(json_string_value(json_object_get(find_mount(c, "/sys"), "type")), "sysfs");
    json_decref(c);
    ids_in_use = NULL;
    c = config_for("{}", NULL, argv, NULL, reason, sizeof reason);
    CHECK(c != NULL);
    CHECK(!has_namespace(c, "user"));
    CHECK_STR(json_string_value(json_object_get(find_mount(c, "/sys"), "type")), "sysfs");
    json_decref(c);
    free(props);
    free(made);
    free(kept);
}

/* The image's /etc/passwd and /etc/group are read as the container would see them: a link
 * resolves inside the image's root, never to the host's files, and what is not a regular file
 * (a FIFO would hold the read for good, a device could be read without end) or is too large is
 * as good as missing. */
/* Kernels before 5.6 lack openat2, and so does valgrind, which the unit tests also run under:
 * there an image's /etc files are opened without following any link (container_config.c). */
static int have_openat2(void)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    if (fd >= 0) close(fd);
    return fd >= 0 || errno != ENOSYS;
}

static void test_hostile_etc(void)
{
    char reason[256];
    unsigned uid, gid;
    char *home;
    char *img = xasprintf("%s/hostile", root), *etc = xasprintf("%s/hostile/etc", root);
    char *passwd = xasprintf("%s/passwd", etc), *outside = xasprintf("%s/evil-passwd", root);
    CHECK(util_make_dirs(etc, 0755) >= 0);
    write_file("evil-passwd", "evil:x:4242:4242::/evil:/bin/sh\n");
    /* Out of the image, by an absolute link and by a relative one. */
    CHECK(symlink(outside, passwd) == 0);
    CHECK_EQ_INT(container_resolve_user(img, "evil", &uid, &gid, &home, reason, sizeof reason),
                 -1);
    CHECK_CONTAINS(reason, "unable to find user evil");
    CHECK(unlink(passwd) == 0 && symlink("../../evil-passwd", passwd) == 0);
    CHECK_EQ_INT(container_resolve_user(img, "evil", &uid, &gid, &home, reason, sizeof reason),
                 -1);
    /* Inside the image, a link is followed as in the container. */
    write_file("hostile/etc/passwd.real", "app:x:1000:1000::/home/app:/bin/sh\n");
    CHECK(unlink(passwd) == 0 && symlink("/etc/passwd.real", passwd) == 0);
    if (have_openat2()) {
        CHECK_EQ_INT(container_resolve_user(img, "app", &uid, &gid, &home, reason,
                                            sizeof reason), 0);
        CHECK_EQ_INT(uid, 1000);
        free(home);
    } else {
        CHECK_EQ_INT(container_resolve_user(img, "app", &uid, &gid, &home, reason,
                                            sizeof reason), -1);
    }
    /* A FIFO: no one writes it, and the read must not wait (the alarm ends a test that does). */
    CHECK(unlink(passwd) == 0 && mkfifo(passwd, 0644) == 0);
    alarm(20);
    CHECK_EQ_INT(container_resolve_user(img, "app", &uid, &gid, &home, reason, sizeof reason), -1);
    CHECK_EQ_INT(container_resolve_user(img, "7", &uid, &gid, &home, reason, sizeof reason), 0);
    CHECK_EQ_INT(uid, 7);
    free(home);
    alarm(0);
    /* A gibibyte (sparse) that names the user on its first line: not read into memory. */
    CHECK(unlink(passwd) == 0);
    write_file("hostile/etc/passwd", "app:x:1000:1000::/home/app:/bin/sh\n");
    CHECK(truncate(passwd, 1LL << 30) == 0);
    CHECK_EQ_INT(container_resolve_user(img, "app", &uid, &gid, &home, reason, sizeof reason), -1);
    free(img);
    free(etc);
    free(passwd);
    free(outside);
}

/* An image may list as many variables as its author likes: each is merged at once, not after a
 * search of those before it (which took minutes for a few hundred thousand). */
static void test_many_variables(void)
{
    enum { N = 300000 };
    buf b = {0};
    buf_puts(&b, "{\"Cmd\":[\"true\"],\"Env\":[");
    for (int i = 0; i < N; i++) buf_printf(&b, "%s\"V%d=%d\"", i ? "," : "", i, i);
    buf_puts(&b, "]}");
    char *envp[] = {"V7=job", "W=job", NULL};
    char reason[256];
    alarm(60);
    json_t *c = config_for(b.data, NULL, NULL, envp, reason, sizeof reason);
    alarm(0);
    CHECK(c != NULL);
    json_t *env = json_object_get(json_object_get(c, "process"), "env");
    CHECK_EQ_INT(json_array_size(env), N + 3); /* and W, PATH, HOME */
    CHECK_STR(json_string_value(json_array_get(env, 7)), "V7=job");
    CHECK_STR(json_string_value(json_array_get(env, N)), "W=job");
    json_decref(c);
    buf_free(&b);
}

/* What the image and the definition say is checked before it is narrowed or handed on. */
static void test_odd_values(void)
{
    char reason[256];
    char *argv[] = {"true", NULL};
    /* A vCPU count past what CPU shares can hold: the most shares there are. */
    json_t *c = config_for("{}", "{\"vcpus\":1e300}", argv, NULL, reason, sizeof reason);
    CHECK(c != NULL);
    json_t *cpu = json_object_get(json_object_get(json_object_get(c, "linux"), "resources"),
                                  "cpu");
    CHECK_EQ_INT(json_integer_value(json_object_get(cpu, "shares")), 262144);
    json_decref(c);
    /* A working directory that is not absolute is refused, as Docker refuses it. */
    c = config_for("{\"WorkingDir\":\"srv\"}", NULL, argv, NULL, reason, sizeof reason);
    CHECK(c == NULL);
    CHECK_CONTAINS(reason, "CannotStartContainerError: the working directory 'srv' is invalid");

    /* Ids past what a uid holds, in the definition or the image, are refused, not wrapped
     * into another user's (4294967296 was 0, root). */
    unsigned uid, gid;
    char *home;
    char *img = xasprintf("%s/odd", root), *etc = xasprintf("%s/odd/etc", root);
    CHECK(util_make_dirs(etc, 0755) >= 0);
    write_file("odd/etc/passwd", "wrap:x:4294967296:0::/:/bin/sh\n"
                                 "neg:x:-1:0::/:/bin/sh\n"
                                 "big:x:4294967294:4294967295::/:/bin/sh\n"
                                 "ok:x:4294967294:7::/:/bin/sh\n");
    write_file("odd/etc/group", "huge:x:99999999999999999999:\n");
    CHECK_EQ_INT(container_resolve_user(img, "4294967297", &uid, &gid, &home, reason,
                                        sizeof reason), -1);
    CHECK_STR(reason, "CannotStartContainerError: user 4294967297 is not an id from 0 to "
                      "4294967294");
    CHECK_EQ_INT(container_resolve_user(img, "wrap", &uid, &gid, &home, reason, sizeof reason),
                 -1);
    CHECK_CONTAINS(reason, "the image's /etc/passwd: user wrap has the id '4294967296'");
    CHECK_EQ_INT(container_resolve_user(img, "neg", &uid, &gid, &home, reason, sizeof reason),
                 -1);
    CHECK_CONTAINS(reason, "user neg has the id '-1'");
    CHECK_EQ_INT(container_resolve_user(img, "big", &uid, &gid, &home, reason, sizeof reason),
                 -1);
    CHECK_CONTAINS(reason, "the group of user big has the id '4294967295'");
    CHECK_EQ_INT(container_resolve_user(img, "ok:huge", &uid, &gid, &home, reason,
                                        sizeof reason), -1);
    CHECK_CONTAINS(reason, "the image's /etc/group: group huge has the id '99999999999999999999'");
    CHECK_EQ_INT(container_resolve_user(img, "ok:12345678901", &uid, &gid, &home, reason,
                                        sizeof reason), -1);
    CHECK_STR(reason, "CannotStartContainerError: group 12345678901 is not an id from 0 to "
                      "4294967294");
    CHECK_EQ_INT(container_resolve_user(img, "ok", &uid, &gid, &home, reason, sizeof reason), 0);
    CHECK(uid == 4294967294U && gid == 7);
    free(home);
    free(img);
    free(etc);
    /* The largest uid reaches runc's configuration as itself, not as -2. */
    c = config_for("{\"User\":\"4294967294\"}", NULL, argv, NULL, reason, sizeof reason);
    CHECK(c != NULL);
    CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(c, "process"),
                                                             "user"), "uid")) == 4294967294LL);
    json_decref(c);

    /* A ulimit below 0 (the server refuses one; an agent may still be sent it) would reach
     * runc as -1, which runc refuses: it is left out and the container keeps its default. */
    c = config_for("{}", "{\"ulimits\":[{\"name\":\"core\",\"softLimit\":-1,"
                   "\"hardLimit\":-5},{\"name\":\"nproc\",\"softLimit\":10,"
                   "\"hardLimit\":20}]}", argv, NULL, reason, sizeof reason);
    CHECK(c != NULL);
    json_t *rl, *all = json_object_get(json_object_get(c, "process"), "rlimits");
    size_t i;
    int nproc = 0;
    json_array_foreach(all, i, rl) {
        CHECK(json_integer_value(json_object_get(rl, "soft")) >= 0);
        CHECK(json_integer_value(json_object_get(rl, "hard")) >= 0);
        CHECK(strcmp(json_string_value(json_object_get(rl, "type")), "RLIMIT_CORE") != 0);
        nproc += strcmp(json_string_value(json_object_get(rl, "type")), "RLIMIT_NPROC") == 0;
    }
    CHECK_EQ_INT(nproc, 1);
    json_decref(c);
}

/* An EFS volume is bound through a descriptor of the directory where the instance has the file
 * system (or the access point) mounted, with its rootDirectory below it, resolved inside the
 * file system; one this instance does not have, a directory that is not there, or a table entry
 * reached through a link fails the start with a reason; the table is checked as it is read. */
static void test_efs_volumes(void)
{
    char reason[512];
    char *argv[] = {"true", NULL};
    char *fs = xasprintf("%s/efs/fs", root), *ap = xasprintf("%s/efs/ap", root);
    char *sub = xasprintf("%s/efs/fs/runs/1", root);
    CHECK(util_make_dirs(sub, 0755) >= 0);
    CHECK(util_make_dirs(ap, 0755) >= 0);
    /* Links a job left in the file system: absolute ones resolve inside it, as on the server;
     * one to a directory the file system does not have leads nowhere. */
    char *in_link = xasprintf("%s/efs/fs/inside", root), *out_link = xasprintf("%s/efs/fs/out", root);
    CHECK(symlink("/runs", in_link) == 0);
    CHECK(symlink("/etc", out_link) == 0);
    /* An access point's directory replaced by a link. */
    char *ap_link = xasprintf("%s/efs/ap-link", root);
    CHECK(symlink(ap, ap_link) == 0);
    char *table = xasprintf("{\"fs-0abc\": \"%s\", \"fsap-9\": \"%s\", \"fsap-l\": \"%s\"}", fs,
                            ap, ap_link);
    write_file("efs.json", table);
    char *path = xasprintf("%s/efs.json", root), *err = NULL;
    json_t *m = efs_mounts_load(path, &err);
    CHECK(m != NULL);
    efs_in_use = m;
    static const char *const volumes[][2] = {
        {"{\"fileSystemId\":\"fs-0abc\",\"rootDirectory\":\"/runs/1\"}", "runs/1"},
        {"{\"fileSystemId\":\"fs-0abc\"}", ""},
        {"{\"fileSystemId\":\"fs-0abc\",\"rootDirectory\":\"/\",\"transitEncryption\":"
         "\"ENABLED\",\"authorizationConfig\":{\"accessPointId\":\"fsap-9\"}}", "ap"}};
    for (size_t i = 0; i < sizeof volumes / sizeof volumes[0]; i++) {
        char *props = xasprintf("{\"volumes\":[{\"name\":\"e\",\"efsVolumeConfiguration\":"
                                "%s}],\"mountPoints\":[{\"sourceVolume\":\"e\","
                                "\"containerPath\":\"/data\",\"readOnly\":true}]}",
                                volumes[i][0]);
        json_t *c = config_for("{}", props, argv, NULL, reason, sizeof reason);
        if (!c) CHECK_FAIL_("volume %zu: %s", i, reason);
        json_t *mnt = find_mount(c, "/data");
        const char *src = json_string_value(json_object_get(mnt, "source"));
        CHECK_EQ_INT((int)n_staged, 1);
        char *via = xasprintf("/staged/%d", staged_fds[0]);
        CHECK_STR(src, via);
        CHECK_STR(json_string_value(json_array_get(json_object_get(mnt, "options"), 2)), "ro");
        char *want = strcmp(volumes[i][1], "ap") == 0 ? xstrdup(ap)
                     : *volumes[i][1] ? xasprintf("%s/%s", fs, volumes[i][1]) : xstrdup(fs);
        struct stat a, b;
        CHECK(fstat(staged_fds[0], &a) == 0 && stat(want, &b) == 0);
        if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
            CHECK_FAIL_("volume %zu: the descriptor is not %s", i, want);
        close_staged();
        free(via);
        free(want);
        json_decref(c);
        free(props);
    }
    /* A link resolves inside the file system where the kernel has openat2 (Linux 5.6); where
     * it has not (or under valgrind), links are refused. */
    struct open_how how = {.flags = O_PATH | O_CLOEXEC};
    int probe = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    int have_openat2 = probe >= 0 || errno != ENOSYS;
    if (probe >= 0) close(probe);
    json_t *c = config_for("{}", "{\"volumes\":[{\"name\":\"e\",\"efsVolumeConfiguration\":"
                           "{\"fileSystemId\":\"fs-0abc\",\"rootDirectory\":\"/inside/1\"}}],"
                           "\"mountPoints\":[{\"sourceVolume\":\"e\",\"containerPath\":\"/d\"}]}",
                           argv, NULL, reason, sizeof reason);
    if (have_openat2) {
        CHECK(c != NULL);
        struct stat a, b;
        char *want = xasprintf("%s/runs/1", fs);
        CHECK(n_staged == 1 && fstat(staged_fds[0], &a) == 0 && stat(want, &b) == 0);
        CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        free(want);
    } else {
        CHECK(c == NULL);
        CHECK_CONTAINS(reason, "symbolic links");
    }
    json_decref(c);
    close_staged();
    static const char *const failing[][2] = {
        {"{\"fileSystemId\":\"fs-other\"}", "file system fs-other is not mounted on this "
                                                "instance"},
        {"{\"fileSystemId\":\"fs-0abc\",\"authorizationConfig\":{\"accessPointId\":"
         "\"fsap-x\"}}", "access point fsap-x of Amazon EFS file system fs-0abc"},
        {"{\"fileSystemId\":\"fs-0abc\",\"rootDirectory\":\"/missing\"}",
         "missing: No such file or directory"},
        {"{\"fileSystemId\":\"fs-0abc\",\"rootDirectory\":\"/runs/../..\"}", "'..'"},
        {"{\"fileSystemId\":\"fs-0abc\",\"rootDirectory\":\"/out\"}", "out: "},
        {"{\"fileSystemId\":\"fs-0abc\",\"transitEncryption\":\"ENABLED\","
         "\"authorizationConfig\":{\"accessPointId\":\"fsap-l\"}}",
         "a symbolic link is on its path"}};
    for (size_t i = 0; i < sizeof failing / sizeof failing[0]; i++) {
        char *props = xasprintf("{\"volumes\":[{\"name\":\"e\",\"efsVolumeConfiguration\":"
                                "%s}],\"mountPoints\":[{\"sourceVolume\":\"e\","
                                "\"containerPath\":\"/data\"}]}", failing[i][0]);
        CHECK(config_for("{}", props, argv, NULL, reason, sizeof reason) == NULL);
        CHECK_CONTAINS(reason, "CannotStartContainerError: volume e: ");
        CHECK_CONTAINS(reason, failing[i][1]);
        CHECK_EQ_INT((int)n_staged, 0);
        free(props);
    }
    /* Without a table, no file system is mounted. */
    efs_in_use = NULL;
    CHECK(config_for("{}", "{\"volumes\":[{\"name\":\"e\",\"efsVolumeConfiguration\":"
                     "{\"fileSystemId\":\"fs-0abc\"}}],\"mountPoints\":[{\"sourceVolume\":"
                     "\"e\",\"containerPath\":\"/d\"}]}", argv, NULL, reason,
                     sizeof reason) == NULL);
    CHECK_CONTAINS(reason, "--efs-mounts");
    json_decref(m);
    /* The table: an object of fs-/fsap- ids and absolute directories. */
    static const char *const bad[][2] = {{"[]", "expected a JSON object"},
                                        {"{\"vol-1\": \"/x\"}", "'vol-1' is not a file system id"},
                                        {"{\"fs-1\": \"x\"}", "absolute directory"},
                                        {"{\"fs-1\": \"/a/../b\"}", "'..'"},
                                        {"{\"fs-1\": 3}", "absolute directory"},
                                        {"{", "efs.json"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("efs.json", bad[i][0]);
        err = NULL;
        CHECK(efs_mounts_load(path, &err) == NULL);
        CHECK_CONTAINS(err, bad[i][1]);
        free(err);
    }
    free(path);
    free(table);
    free(ap_link);
    free(out_link);
    free(in_link);
    free(sub);
    free(ap);
    free(fs);
}

/* A volume's source made for a container's root is given to it through a descriptor: swapped
 * for a link to a host file between the mkdir and the chown (by a job that can write where it
 * is made), the link is not followed and the host file keeps its owner. */
static char swap_victim[256];
static void swap_for_a_link(const char *src)
{
    CHECK(rmdir(src) == 0);
    CHECK(symlink(swap_victim, src) == 0);
}

static void swap_for_a_jobs_dir(const char *src)
{
    CHECK(rmdir(src) == 0);
    CHECK(mkdir(src, 0755) == 0 && chown(src, 1000000000, 1000000000) == 0);
}

static void test_volume_dir_swapped_for_a_link(void)
{
    if (geteuid() != 0) return; /* chown needs root */
    char dir[] = "/tmp/barge-unit-volswap-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    idmap ids = {.uid_base = 1000000000, .gid_base = 1000000000};
    char made[300], swapped[300];
    snprintf(made, sizeof made, "%s/a/b", dir);
    CHECK(container_make_volume_dir(made, &ids) == 1);
    struct stat st;
    CHECK(stat(made, &st) == 0 && st.st_uid == 1000000000 && st.st_gid == 1000000000);
    CHECK(container_make_volume_dir(made, &ids) == 0); /* there: kept as it is */
    snprintf(swap_victim, sizeof swap_victim, "%s/victim", dir);
    FILE *f = fopen(swap_victim, "w");
    CHECK(f != NULL);
    fclose(f);
    snprintf(swapped, sizeof swapped, "%s/a/new", dir);
    container_between_for_tests = swap_for_a_link;
    errno = 0;
    CHECK(container_make_volume_dir(swapped, &ids) == -1);
    CHECK(errno == EBUSY);
    container_between_for_tests = NULL;
    CHECK(stat(swap_victim, &st) == 0 && st.st_uid == 0 && st.st_gid == 0);
    /* Or for a directory of the job's own: not the one made here either. */
    snprintf(swapped, sizeof swapped, "%s/a/other", dir);
    container_between_for_tests = swap_for_a_jobs_dir;
    errno = 0;
    CHECK(container_make_volume_dir(swapped, &ids) == -1);
    CHECK(errno == EBUSY);
    container_between_for_tests = NULL;
    util_remove_tree(dir);
}

/* The index of dest among c's mounts; -1 when none. */
static int mount_at(json_t *c, const char *dest)
{
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(c, "mounts"), i, m)
        if (strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0) return (int)i;
    return -1;
}

/* Mounts were made in the order they were listed, each covering whatever was mounted below its
 * path before it: a volume at /data/sub listed before one at /data was hidden by it, a tmpfs
 * under a volume's path wrote to the host's disk, and a volume at /etc hid the resolver's
 * files.  The shallower go first, those of one depth in the order given, as Docker orders
 * them. */
static void test_mount_order(void)
{
    char reason[256];
    char *argv[] = {"true", NULL};
    char *outer = xasprintf("%s/hostdir/outer", root), *inner = xasprintf("%s/hostdir/inner", root);
    char *props = xasprintf(
        "{\"volumes\":[{\"name\":\"o\",\"host\":{\"sourcePath\":\"%s\"}},"
        "{\"name\":\"i\",\"host\":{\"sourcePath\":\"%s\"}},"
        "{\"name\":\"e\",\"host\":{\"sourcePath\":\"%s\"}}],"
        "\"mountPoints\":[{\"sourceVolume\":\"i\",\"containerPath\":\"/data//sub/\"},"
        "{\"sourceVolume\":\"o\",\"containerPath\":\"/data\"},"
        "{\"sourceVolume\":\"e\",\"containerPath\":\"/etc\"}],"
        "\"linuxParameters\":{\"tmpfs\":[{\"containerPath\":\"/data/fast\",\"size\":8}]}}",
        outer, inner, outer);
    json_t *c = config_for("{}", props, argv, NULL, reason, sizeof reason);
    CHECK(c != NULL);
    int data = mount_at(c, "/data"), sub = mount_at(c, "/data//sub/"),
        fast = mount_at(c, "/data/fast"), etc = mount_at(c, "/etc");
    CHECK(data >= 0 && sub >= 0 && fast >= 0 && etc >= 0);
    CHECK(data < sub);
    CHECK(data < fast);
    if (access("/etc/resolv.conf", R_OK) == 0) CHECK(etc < mount_at(c, "/etc/resolv.conf"));
    /* The base's own order holds: /dev before its parts, /sys before its cgroup. */
    CHECK(mount_at(c, "/dev") < mount_at(c, "/dev/pts"));
    CHECK(mount_at(c, "/dev") < mount_at(c, "/dev/shm"));
    CHECK(mount_at(c, "/sys") < mount_at(c, "/sys/fs/cgroup"));
    /* Among equals, the order given: /data's two children as listed (tmpfs first, made
     * before the volumes). */
    CHECK(fast < sub);
    json_decref(c);
    free(props);
    free(outer);
    free(inner);
}

int main(void)
{
    strcpy(root, "/tmp/barge-ccfg-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    char *etc = xasprintf("%s/lower/etc", root);
    CHECK(util_make_dirs(etc, 0755) >= 0);
    free(etc);
    write_file("lower/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                   "app:x:1000:1001:App:/home/app:/bin/sh\n");
    write_file("lower/etc/group", "root:x:0:\nstaff:x:50:app\napp:x:1001:\n");
    char *work = xasprintf("%s/work", root);
    CHECK(mkdir(work, 0755) == 0);
    free(work);
    RUN(test_users);
    RUN(test_command_and_environment);
    RUN(test_properties);
    RUN(test_user_namespace);
    RUN(test_hostile_etc);
    RUN(test_many_variables);
    RUN(test_odd_values);
    RUN(test_efs_volumes);
    RUN(test_volume_dir_swapped_for_a_link);
    RUN(test_mount_order);
    util_remove_tree(root);
    printf("container_config: ok\n");
    return 0;
}
