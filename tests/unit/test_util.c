/* util.c: clocks, UUIDs, hex (the paging tokens' encoding), UTF-8 scrubbing and processes'
 * start times. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errbody.h"
#include "common/mem.h"
#include "common/util.h"
#include "check.h"

static void test_uuid_format(void)
{
    char a[37], b[37];
    for (int n = 0; n < 200; n++) {
        util_uuid(a);
        CHECK_EQ_INT(strlen(a), 36);
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) CHECK_EQ_INT(a[i], '-');
            else if (!isxdigit((unsigned char)a[i]) || isupper((unsigned char)a[i]))
                CHECK_FAIL_("uuid %s: character %d is not lower-case hex", a, i);
        }
        /* Version 4, RFC 4122 variant. */
        CHECK_EQ_INT(a[14], '4');
        CHECK(strchr("89ab", a[19]) != NULL);
    }
    util_uuid(b);
    CHECK(strcmp(a, b) != 0);
}

static void test_hex_round_trip(void)
{
    char out[64];
    util_hex("", 0, out);
    CHECK_STR(out, "");
    util_hex("ce-1", 4, out);
    CHECK_STR(out, "63652d31");
    char *back = util_unhex(out);
    CHECK_STR(back, "ce-1");
    free(back);
    /* Every byte but NUL survives the trip (a token decodes to a C string). */
    unsigned char all[255];
    for (int i = 0; i < 255; i++) all[i] = (unsigned char)(i + 1);
    char hex[2 * 255 + 1];
    util_hex(all, sizeof all, hex);
    CHECK_EQ_INT(strlen(hex), 510);
    back = util_unhex(hex);
    CHECK(back != NULL);
    CHECK_EQ_INT(strlen(back), 255);
    CHECK(memcmp(back, all, 255) == 0);
    free(back);
    back = util_unhex("4A4b");
    CHECK_STR(back, "JK");
    free(back);
}

static void test_unhex_refuses(void)
{
    static const char *const bad[] = {"a", "abc", "zz", "0g", "6 ", "00", "4100", "--", NULL};
    for (const char *const *b = bad; *b; b++) {
        char *v = util_unhex(*b);
        if (v) CHECK_FAIL_("util_unhex(\"%s\") gave \"%s\"", *b, v);
    }
}

/* Digests are bytes, zeros included (one SHA-256 digest in eight holds one). */
static void test_unhex_bytes(void)
{
    unsigned char all[256], back[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    char hex[2 * 256 + 1];
    util_hex(all, sizeof all, hex);
    CHECK_EQ_INT(util_unhex_bytes(hex, back, sizeof back), 0);
    CHECK(memcmp(all, back, sizeof all) == 0);
    CHECK_EQ_INT(util_unhex_bytes("0000", back, 2), 0);
    CHECK(back[0] == 0 && back[1] == 0);
    CHECK_EQ_INT(util_unhex_bytes("00", back, 2), -1);   /* too short */
    CHECK_EQ_INT(util_unhex_bytes("000000", back, 2), -1); /* too long */
    CHECK_EQ_INT(util_unhex_bytes("0g00", back, 2), -1);
    CHECK_EQ_INT(util_unhex_bytes(NULL, back, 2), -1);
}

/* RFC 4648's test vectors: every padding length. */
static void test_base64(void)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        char *b = util_base64(in[i], strlen(in[i]));
        CHECK_STR(b, out[i]);
        free(b);
    }
    unsigned char zeros[2] = {0, 0xff};
    char *b = util_base64(zeros, 2);
    CHECK_STR(b, "AP8=");
    free(b);
}

static void test_clocks(void)
{
    /* 2020-01-01 in epoch milliseconds: a wall clock in seconds would be far below it. */
    CHECK(util_now_ms() > 1577836800000LL);
    int64_t a = util_mono_ms(), b = util_mono_ms();
    CHECK(b >= a);
}

/* AWS's second-precision UTC form, at the epoch, a leap day and the last second of a year. */
static void test_iso_time(void)
{
    char t[UTIL_ISO_TIME_LEN];
    util_iso_time(0, t);
    CHECK_STR(t, "1970-01-01T00:00:00Z");
    util_iso_time(1709164800, t);
    CHECK_STR(t, "2024-02-29T00:00:00Z");
    util_iso_time(1798761599, t);
    CHECK_STR(t, "2026-12-31T23:59:59Z");
}

static void scrubbed(const char *in, const char *want)
{
    char s[64];
    snprintf(s, sizeof s, "%s", in);
    util_utf8_scrub(s);
    CHECK_STR(s, want);
}

static void cut(const char *in, const char *want)
{
    char s[64];
    snprintf(s, sizeof s, "%s", in);
    util_utf8_cut(s);
    CHECK_STR(s, want);
}

static void test_utf8_cut(void)
{
    /* A character cut short at the end goes; a whole one stays. */
    cut("ab\xc3", "ab");
    cut("ab\xe2\x82", "ab");
    cut("ab\xf0\x9f\x9a", "ab");
    cut("ab\xf0", "ab");
    cut("ab\xc3\xa9", "ab\xc3\xa9");
    cut("\xe2\x82\xac", "\xe2\x82\xac");
    cut("\xf0\x9f\x9a\xa2", "\xf0\x9f\x9a\xa2");
    cut("", "");
    /* What is ill-formed elsewhere is scrubbed as util_utf8_scrub does. */
    cut("\xff-\xc3", "?-");
    cut("x\x80", "x?");
}

static void test_utf8_scrub(void)
{
    scrubbed("plain ascii", "plain ascii");
    scrubbed("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\xa2", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\xa2");
    /* Half a character at the end, as a bounded printf leaves it. */
    scrubbed("ab\xc3", "ab?");
    scrubbed("ab\xe2\x82", "ab??");
    scrubbed("\xff\xfe", "??");
    scrubbed("\x80x", "?x");
    /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
    scrubbed("\xc0\xaf", "??");
    scrubbed("\xe0\x80\xaf", "???");
    scrubbed("\xed\xa0\x80", "???");
    scrubbed("\xf4\x90\x80\x80", "????");
    scrubbed("\xf5\x80\x80\x80", "????");
    /* The largest code point and the edges of the surrogate gap are fine. */
    scrubbed("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
    scrubbed("\xed\x9f\xbf\xee\x80\x80", "\xed\x9f\xbf\xee\x80\x80");
}

static void repaired(const char *in, size_t len, const char *want, size_t want_len)
{
    size_t n = 0;
    char *out = util_utf8_repair(in, len, &n);
    CHECK_EQ_INT(n, want_len);
    CHECK(memcmp(out, want, want_len) == 0);
    CHECK(out[n] == '\0');
    free(out);
}

/* Log lines: each byte that is not UTF-8 becomes U+FFFD (three bytes), NULs stay. */
static void test_utf8_repair(void)
{
    repaired("plain", 5, "plain", 5);
    repaired("caf\xc3\xa9", 5, "caf\xc3\xa9", 5);
    repaired("a\xff" "b", 3, "a\xef\xbf\xbd" "b", 5);
    repaired("ab\xe2\x82", 4, "ab\xef\xbf\xbd\xef\xbf\xbd", 8);
    repaired("x\0\xc0\xafy", 5, "x\0\xef\xbf\xbd\xef\xbf\xbdy", 9);
    /* A sequence cut by the line's end is not completed by what lies past it. */
    repaired("a\xc3\xa9", 2, "a\xef\xbf\xbd", 4);
}

/* Tag lengths are counted in characters, as AWS counts them, not in bytes. */
static void test_utf8_chars(void)
{
    CHECK_EQ_INT(util_utf8_chars(""), 0);
    CHECK_EQ_INT(util_utf8_chars("team"), 4);
    CHECK_EQ_INT(util_utf8_chars("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\xa2"), 8);
    /* A byte that is not UTF-8 is one character, and half a character at the end is read no
     * further than its string. */
    CHECK_EQ_INT(util_utf8_chars("\xff\xfe"), 2);
    CHECK_EQ_INT(util_utf8_chars("ab\xe2\x82"), 4);
}

/* A process's start time tells it from a later one with its pid; a zombie or no process has
 * none. */
static void test_process_start(void)
{
    unsigned long long me = util_process_start((long)getpid());
    CHECK(me > 0);
    CHECK(util_process_start((long)getpid()) == me);
    pid_t child = fork();
    if (child == 0) _exit(0);
    CHECK(child > 0);
    /* Exited but not yet waited for: a zombie. */
    for (int n = 0; n < 200 && util_process_start((long)child) != 0; n++) usleep(10000);
    CHECK(util_process_start((long)child) == 0);
    CHECK(waitpid(child, NULL, 0) == child);
    CHECK(util_process_start((long)child) == 0);
    CHECK(util_process_start(0) == 0);
}

/* What libcurl could never reach is told at start, not retried without end (barge agent
 * --server, --agent-url, webhook targets). */
static void test_http_url_problem(void)
{
    static const char *const good[] = {"http://h", "https://h:1/p?q#f", "http://[::1]:8900",
                                       "http://u:p@h:65535/", "http://127.0.0.1:8900/x",
                                       "HTTP://h", "Https://h:1/"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK(util_http_url_problem(good[i], strlen(good[i])) == NULL);
    static const char *const bad[][2] = {
        {"ftp://h", "not an http"},       {"http://", "no host"},
        {"http://:80", "no host"},        {"http:///p", "no host"},
        {"http://h:99999", "port"},       {"http://h:0/", "port"},
        {"http://h:/", "port"},           {"http://h:8x", "port"},
        {"http://[::1", "closing ']'"},   {"http://[::1]x:1", "between ']'"},
        {"http://a b/", "space"},         {"http://h/\n", "control"},
        {"http://[]:1", "no host"},       {"http://h:123456789012345678901", "port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = util_http_url_problem(bad[i][0], strlen(bad[i][0]));
        CHECK(why != NULL);
        CHECK_CONTAINS(why, bad[i][1]);
    }
    /* Only the first len bytes count: one URL of a comma-separated list. */
    CHECK(util_http_url_problem("http://h:1,junk", 10) == NULL);
    CHECK(util_http_url_problem("http:/", 6) != NULL);
}

/* A boot id and a namespace's inode: the same twice in one process. */
static void test_pid_view(void)
{
    char a[UTIL_PID_VIEW_MAX], b[UTIL_PID_VIEW_MAX];
    CHECK(util_pid_view(a) == 0 && util_pid_view(b) == 0);
    CHECK_STR(a, b);
    const char *slash = strchr(a, '/');
    CHECK(slash && slash - a == 36 && strspn(slash + 1, "0123456789") == strlen(slash + 1));
}

/* The scheme is lowered, nothing else: a path's case is the server's to read. */
static void test_http_scheme_lower(void)
{
    char a[] = "HTTPS://Host:1/Path", b[] = "HtTp://H/", c[] = "FTP://h", d[] = "http:/x";
    CHECK_STR(util_http_scheme_lower(a), "https://Host:1/Path");
    CHECK_STR(util_http_scheme_lower(b), "http://H/");
    CHECK_STR(util_http_scheme_lower(c), "FTP://h");
    CHECK_STR(util_http_scheme_lower(d), "http:/x");
    CHECK(util_http_scheme_len("hTTps://h") == 8 && util_http_scheme_len("http:") == 0);
}

/* A directory would read as an empty file, and /dev/zero without end. */
static void test_open_regular(void)
{
    const char *why = NULL;
    FILE *f = util_open_regular("/etc/hostname", &why);
    if (f) fclose(f);
    CHECK(util_open_regular("/tmp", &why) == NULL);
    CHECK_STR(why, "is a directory, not a file");
    CHECK(util_open_regular("/dev/zero", &why) == NULL);
    CHECK_CONTAINS(why, "is not a regular file");
    CHECK(util_open_regular("/nonexistent/x", &why) == NULL);
    CHECK_STR(why, "cannot be read: No such file or directory");
}

/* A file of secrets is read whole into one buffer, its length and mode told; too big, not a
 * regular file or missing is refused with a phrase. */
static void test_read_secret_file(void)
{
    char path[] = "/tmp/barge-unit-secret-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    static const char text[] = "a\n\nb\0c\r\nlast";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    fchmod(fd, 0640);
    close(fd);
    const char *why = NULL;
    size_t len = 0;
    unsigned mode = 0;
    char *got = util_read_secret_file(path, 1024, &len, &mode, &why);
    CHECK(got != NULL);
    CHECK_EQ_INT(len, sizeof text - 1);
    CHECK(memcmp(got, text, len) == 0 && got[len] == '\0');
    CHECK_EQ_INT(mode, 0640);
    /* Lines in place: the empty one counts, a NUL shows in the length, and the last one needs
     * no newline. */
    char *at = got, *line;
    size_t n;
    CHECK_STR(util_next_line(&at, got + len, &n), "a");
    CHECK_EQ_INT(n, 1);
    CHECK_STR(util_next_line(&at, got + len, &n), "");
    line = util_next_line(&at, got + len, &n);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(strlen(line), 1);
    CHECK(memcmp(line, "b\0c\r", 4) == 0);
    CHECK_STR(util_next_line(&at, got + len, &n), "last");
    CHECK(util_next_line(&at, got + len, &n) == NULL);
    util_secret_free(got, len);
    /* Over the bound: refused before anything is read. */
    CHECK(util_read_secret_file(path, 8, &len, NULL, &why) == NULL);
    CHECK_CONTAINS(why, "is over 8 bytes");
    got = util_read_secret_file(path, sizeof text - 1, &len, NULL, &why);
    CHECK(got != NULL); /* the bound itself is fine */
    util_secret_free(got, len);
    /* A newline at the end starts no line; an empty file has none. */
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, "x\n", 2) == 2);
    close(fd);
    got = util_read_secret_file(path, 1024, &len, NULL, &why);
    at = got;
    CHECK_STR(util_next_line(&at, got + len, &n), "x");
    CHECK(util_next_line(&at, got + len, &n) == NULL);
    util_secret_free(got, len);
    CHECK(truncate(path, 0) == 0);
    got = util_read_secret_file(path, 1024, &len, NULL, &why);
    CHECK(got != NULL && len == 0 && got[0] == '\0');
    at = got;
    CHECK(util_next_line(&at, got + len, &n) == NULL);
    util_secret_free(got, len);
    unlink(path);
    util_secret_free(NULL, 0);
    CHECK(util_read_secret_file("/tmp", 1024, &len, NULL, &why) == NULL);
    CHECK_STR(why, "is a directory, not a file");
    CHECK(util_read_secret_file("/dev/zero", 1024, &len, NULL, &why) == NULL);
    CHECK_CONTAINS(why, "is not a regular file");
    CHECK(util_read_secret_file("/nonexistent/x", 1024, &len, NULL, &why) == NULL);
    CHECK_STR(why, "cannot be read: No such file or directory");
}

/* A thread lowered by util_thread_nice runs lower; the rest of the process does not. */
static int thread_prio(void)
{
    errno = 0;
    return getpriority(PRIO_PROCESS, (id_t)gettid());
}

static void *lowered(void *arg)
{
    int *seen = arg;
    seen[0] = thread_prio();
    seen[1] = util_thread_nice(3);
    seen[2] = thread_prio();
    return NULL;
}

static void test_thread_nice(void)
{
    int before = thread_prio(), seen[3];
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, lowered, seen), 0);
    pthread_join(t, NULL);
    CHECK_EQ_INT(seen[1], 0);
    CHECK_EQ_INT(seen[2], seen[0] + 3 > 19 ? 19 : seen[0] + 3);
    CHECK_EQ_INT(thread_prio(), before);
}

/* errbody: the JSON shape, and the XML of AWS's other protocols with its special characters
 * escaped and control characters dropped. */
/* Images name their STOPSIGNAL as Docker reads it. */
static void test_signal_parse(void)
{
    CHECK_EQ_INT(util_signal_parse("SIGINT"), SIGINT);
    CHECK_EQ_INT(util_signal_parse("int"), SIGINT);
    CHECK_EQ_INT(util_signal_parse("SigQuit"), SIGQUIT);
    CHECK_EQ_INT(util_signal_parse("15"), SIGTERM);
    CHECK_EQ_INT(util_signal_parse("SIGRTMIN"), SIGRTMIN);
    CHECK_EQ_INT(util_signal_parse("SIGRTMIN+3"), SIGRTMIN + 3);
    CHECK_EQ_INT(util_signal_parse("RTMAX-1"), SIGRTMAX - 1);
    const char *bad[] = {"", "SIG", "SIGNOPE", "0", "65", "-1", "15x", "SIGRTMIN+99",
                         "RTMAX+1", "SIGRTMIN+", "SIGRTMIN3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK_EQ_INT(util_signal_parse(bad[i]), -1);
    CHECK_EQ_INT(util_signal_parse(NULL), -1);
}

static void test_errbody(void)
{
    char *j = errbody_new("ClientException", "bad \"x\"");
    CHECK_STR(j, "{\"__type\":\"ClientException\",\"message\":\"bad \\\"x\\\"\"}");
    free(j);
    char *x = errbody_xml("InvalidAction", "a<b & 'c' \"d\">\x01", "id-1", 0);
    CHECK_STR(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Sender"
                 "</Type><Code>InvalidAction</Code><Message>a&lt;b &amp; &apos;c&apos; "
                 "&quot;d&quot;&gt; </Message></Error><RequestId>id-1</RequestId>"
                 "</ErrorResponse>\n");
    free(x);
    /* The message for a header: controls as spaces, bytes past ASCII as '?'. */
    const char *body = "{\"__type\":\"X\",\"message\":\"a\\nb \u00e9!\"}";
    char *h = errbody_header_message(body, strlen(body));
    CHECK_STR(h, "a b \?\?!");
    free(h);
    CHECK(errbody_header_message("{\"__type\":\"X\"}", 14) == NULL);
    CHECK(errbody_header_message("not json", 8) == NULL);
    /* S3's errors have <Error> for their root. */
    x = errbody_xml("NotImplemented", "not S3", "id-2", 1);
    CHECK_STR(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NotImplemented</Code>"
                 "<Message>not S3</Message><RequestId>id-2</RequestId></Error>\n");
    free(x);
}

static void touch(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    close(fd);
}

static void test_remove_tree(void)
{
    char root[] = "/tmp/barge-util-remove-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char *outside = xasprintf("%s/outside", root), *keep = xasprintf("%s/outside/keep", root);
    char *tree = xasprintf("%s/tree", root), *p;
    CHECK(mkdir(outside, 0755) == 0);
    touch(keep);
    CHECK(mkdir(tree, 0755) == 0);
    /* Nested directories, one the job made unreadable and unwritable, files in each. */
    p = xasprintf("%s/a", tree);
    CHECK(mkdir(p, 0755) == 0);
    free(p);
    p = xasprintf("%s/a/b", tree);
    CHECK(mkdir(p, 0755) == 0);
    free(p);
    p = xasprintf("%s/a/b/f", tree);
    touch(p);
    free(p);
    p = xasprintf("%s/a/b", tree);
    CHECK(chmod(p, 0) == 0);
    free(p);
    /* Links to what is not the tree's: a directory and a file, which stay. */
    p = xasprintf("%s/to-dir", tree);
    CHECK(symlink(outside, p) == 0);
    free(p);
    p = xasprintf("%s/a/to-file", tree);
    CHECK(symlink(keep, p) == 0);
    free(p);
    util_remove_tree(tree);
    struct stat st;
    CHECK(lstat(tree, &st) < 0 && errno == ENOENT);
    CHECK(stat(keep, &st) == 0);
    CHECK(stat(outside, &st) == 0 && (st.st_mode & 07777) == 0755);
    /* A link given as the tree is removed, not what it points at. */
    p = xasprintf("%s/link", root);
    CHECK(symlink(outside, p) == 0);
    util_remove_tree(p);
    CHECK(lstat(p, &st) < 0 && stat(keep, &st) == 0);
    free(p);
    util_remove_tree("/tmp/barge-util-remove-no-such-path");
    util_remove_tree(root);
    CHECK(lstat(root, &st) < 0);
    free(outside);
    free(keep);
    free(tree);
}

/* A tree deeper than the descriptors a process may hold goes whole: the walk holds a bounded
 * number whatever the depth. */
static void test_remove_deep_tree(void)
{
    char root[] = "/tmp/barge-util-deep-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0);
    for (int i = 0; i < 300; i++) {
        CHECK(mkdirat(fd, "d", 0755) == 0);
        int sub = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(sub >= 0);
        int f = openat(sub, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        CHECK(f >= 0);
        close(f);
        close(fd);
        fd = sub;
    }
    close(fd);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {100, 100};
        setrlimit(RLIMIT_NOFILE, &rl);
        util_remove_tree(root);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    struct stat st;
    CHECK(lstat(root, &st) < 0 && errno == ENOENT);
    if (lstat(root, &st) == 0) util_remove_tree(root);
}

int main(void)
{
    RUN(test_remove_tree);
    RUN(test_remove_deep_tree);
    RUN(test_uuid_format);
    RUN(test_iso_time);
    RUN(test_process_start);
    RUN(test_hex_round_trip);
    RUN(test_unhex_refuses);
    RUN(test_unhex_bytes);
    RUN(test_base64);
    RUN(test_clocks);
    RUN(test_utf8_scrub);
    RUN(test_utf8_cut);
    RUN(test_utf8_repair);
    RUN(test_utf8_chars);
    RUN(test_http_url_problem);
    RUN(test_http_scheme_lower);
    RUN(test_pid_view);
    RUN(test_open_regular);
    RUN(test_read_secret_file);
    RUN(test_thread_nice);
    RUN(test_errbody);
    RUN(test_signal_parse);
    return 0;
}
