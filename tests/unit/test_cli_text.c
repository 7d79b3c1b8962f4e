/* The CLI's option readers and its table, time and duration formats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_text.h"
#include "check.h"

static void test_counts(void)
{
    long n = 0;
    CHECK_EQ_INT(cli_parse_count("1", &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(cli_parse_count("10000", &n), 0);
    CHECK_EQ_INT(n, 10000);
    CHECK_EQ_INT(cli_parse_count("0", &n), -1);
    CHECK_EQ_INT(cli_parse_count("-3", &n), -1);
    CHECK_EQ_INT(cli_parse_count("+3", &n), -1);
    CHECK_EQ_INT(cli_parse_count(" 3", &n), -1);
    CHECK_EQ_INT(cli_parse_count("3x", &n), -1);
    CHECK_EQ_INT(cli_parse_count("", &n), -1);
    CHECK_EQ_INT(cli_parse_count("99999999999999999999", &n), -1);
    CHECK_EQ_INT(cli_parse_count("2147483648", &n), -1);
}

static void test_decimals(void)
{
    CHECK_EQ_INT(cli_parse_decimal("2"), 0);
    CHECK_EQ_INT(cli_parse_decimal("0.25"), 0);
    CHECK_EQ_INT(cli_parse_decimal("0"), -1);
    CHECK_EQ_INT(cli_parse_decimal("0.0"), -1);
    CHECK_EQ_INT(cli_parse_decimal(".5"), -1);
    CHECK_EQ_INT(cli_parse_decimal("1."), -1);
    CHECK_EQ_INT(cli_parse_decimal("1e3"), -1);
    CHECK_EQ_INT(cli_parse_decimal("-1"), -1);
}

static void test_key_values(void)
{
    char *k, *v;
    CHECK_EQ_INT(cli_parse_kv("A=1", &k, &v), 0);
    CHECK_STR(k, "A");
    CHECK_STR(v, "1");
    free(k);
    free(v);
    CHECK_EQ_INT(cli_parse_kv("URL=http://x/?a=b", &k, &v), 0);
    CHECK_STR(k, "URL");
    CHECK_STR(v, "http://x/?a=b");
    free(k);
    free(v);
    CHECK_EQ_INT(cli_parse_kv("EMPTY=", &k, &v), 0);
    CHECK_STR(v, "");
    free(k);
    free(v);
    CHECK_EQ_INT(cli_parse_kv("=1", &k, &v), -1);
    CHECK_EQ_INT(cli_parse_kv("NOEQUALS", &k, &v), -1);
}

static void test_dependencies(void)
{
    char *id;
    const char *type;
    CHECK_EQ_INT(cli_parse_dependency("abc", &id, &type), 0);
    CHECK_STR(id, "abc");
    CHECK(type == NULL);
    free(id);
    CHECK_EQ_INT(cli_parse_dependency("abc:n_to_n", &id, &type), 0);
    CHECK_STR(id, "abc");
    CHECK_STR(type, "N_TO_N");
    free(id);
    /* AWS's SEQUENTIAL names no job: the server refuses one that does, so the CLI says so. */
    CHECK_EQ_INT(cli_parse_dependency("abc:SEQUENTIAL", &id, &type), -2);
    CHECK(id == NULL);
    CHECK_EQ_INT(cli_parse_dependency("abc:7:sequential", &id, &type), -2);
    CHECK(id == NULL);
    /* An array child's id keeps its index. */
    CHECK_EQ_INT(cli_parse_dependency("abc:7", &id, &type), 0);
    CHECK_STR(id, "abc:7");
    CHECK(type == NULL);
    free(id);
    CHECK_EQ_INT(cli_parse_dependency("abc:7:N_TO_N", &id, &type), 0);
    CHECK_STR(id, "abc:7");
    CHECK_STR(type, "N_TO_N");
    free(id);
    CHECK_EQ_INT(cli_parse_dependency("sequential", &id, &type), 0);
    CHECK(id == NULL);
    CHECK_STR(type, "SEQUENTIAL");
    CHECK_EQ_INT(cli_parse_dependency("abc:N_TO_M", &id, &type), -1);
    CHECK_EQ_INT(cli_parse_dependency("abc:", &id, &type), -1);
    CHECK_EQ_INT(cli_parse_dependency(":N_TO_N", &id, &type), -1);
    CHECK_EQ_INT(cli_parse_dependency("", &id, &type), -1);
}

static void test_event_numbers(void)
{
    long long n;
    CHECK_EQ_INT(cli_parse_seq("0", &n), 0);
    CHECK(n == 0);
    /* Event numbers are 64-bit: past INT_MAX is fine. */
    CHECK_EQ_INT(cli_parse_seq("4294967296", &n), 0);
    CHECK(n == 4294967296LL);
    CHECK_EQ_INT(cli_parse_seq("9223372036854775807", &n), 0);
    CHECK(n == 9223372036854775807LL);
    CHECK_EQ_INT(cli_parse_seq("9223372036854775808", &n), -1);
    CHECK_EQ_INT(cli_parse_seq("-1", &n), -1);
    CHECK_EQ_INT(cli_parse_seq(" 1", &n), -1);
    CHECK_EQ_INT(cli_parse_seq("1x", &n), -1);
    CHECK_EQ_INT(cli_parse_seq("", &n), -1);
}

static void test_statuses(void)
{
    CHECK_STR(cli_job_status("running"), "RUNNING");
    CHECK_STR(cli_job_status("Succeeded"), "SUCCEEDED");
    CHECK(cli_job_status("DONE") == NULL);
    CHECK(cli_job_status(NULL) == NULL);
}

static void test_times_and_durations(void)
{
    char out[32];
    setenv("TZ", "UTC", 1);
    tzset();
    cli_fmt_time(1440938160123LL, out);
    CHECK_STR(out, "2015-08-30 12:36:00");
    cli_fmt_time(0, out);
    CHECK_STR(out, "-");
    /* A POSIX TZ string, so the test needs no time zone database. */
    setenv("TZ", "IST-5:30", 1);
    tzset();
    cli_fmt_time(1440938160123LL, out);
    CHECK_STR(out, "2015-08-30 18:06:00");

    static const struct {
        long long ms;
        const char *want;
    } d[] = {
        {0, "0.0s"},           {850, "0.8s"},          {9999, "9.9s"},
        {10000, "10s"},        {59999, "59s"},         {60000, "1m00s"},
        {185000, "3m05s"},     {3600000, "1h00m"},     {7620000, "2h07m"},
        {86400000, "1d00h"},   {273600000, "3d04h"},   {-1, "-"},
    };
    for (size_t i = 0; i < sizeof d / sizeof *d; i++) {
        cli_fmt_duration(d[i].ms, out);
        CHECK_STR(out, d[i].want);
    }
}

static void test_arn_names(void)
{
    CHECK_STR(cli_arn_name("arn:aws:batch:us-east-1:123456789012:job-queue/high"), "high");
    CHECK_STR(cli_arn_name("arn:aws:batch:us-east-1:123456789012:job-definition/fetch:3"),
              "fetch:3");
    CHECK_STR(cli_arn_name("plain"), "plain");
    CHECK_STR(cli_arn_name("arn:aws:batch:nothing"), "arn:aws:batch:nothing");
    CHECK(cli_arn_name(NULL) == NULL);
}

/* cli_ref_check: what --queue and --definition may be before a call.  revision 1 is a
 * definition's (NAME:REVISION), 0 a queue's. */
static void test_ref_check(void)
{
    static const char arn_q[] = "arn:aws:batch:us-east-1:123456789012:job-queue/";
    static const char arn_d[] = "arn:aws:batch:us-east-1:123456789012:job-definition/";
    char name[160], ref[256];
    /* Names: letters, digits, '-' and '_', 1 to 128 of them. */
    CHECK_EQ_INT(cli_ref_check("high", 0), CLI_REF_OK);
    CHECK_EQ_INT(cli_ref_check("A-z_09", 0), CLI_REF_OK);
    CHECK_EQ_INT(cli_ref_check("fetch", 1), CLI_REF_OK);
    memset(name, 'q', 128);
    name[128] = '\0';
    CHECK_EQ_INT(cli_ref_check(name, 0), CLI_REF_OK);
    name[128] = 'q';
    name[129] = '\0';
    CHECK_EQ_INT(cli_ref_check(name, 0), CLI_REF_NAME);
    CHECK_EQ_INT(cli_ref_check(name, 1), CLI_REF_NAME);
    const char *bad[] = {"", "bad/name", "two words", "dot.ted", "caf\xc3\xa9", "a:b:3", ":3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(cli_ref_check(bad[i], 0), CLI_REF_NAME);
        CHECK_EQ_INT(cli_ref_check(bad[i], 1), CLI_REF_NAME);
    }
    /* NAME:REVISION, for a definition only: plain digits, 1 or more. */
    CHECK_EQ_INT(cli_ref_check("fetch:1", 1), CLI_REF_OK);
    CHECK_EQ_INT(cli_ref_check("fetch:42", 1), CLI_REF_OK);
    CHECK_EQ_INT(cli_ref_check("fetch:007", 1), CLI_REF_OK);
    CHECK_EQ_INT(cli_ref_check("fetch:3", 0), CLI_REF_NAME); /* a queue has no revision */
    const char *revs[] = {"fetch:", "fetch:0", "fetch:00", "fetch:-1", "fetch:+1", "fetch:1a",
                          "fetch:x", "fetch: 1", "fetch:1.5"};
    for (size_t i = 0; i < sizeof revs / sizeof *revs; i++)
        CHECK_EQ_INT(cli_ref_check(revs[i], 1), CLI_REF_REVISION);
    /* ARNs: the part after the '/' is checked as a name, with its revision. */
    snprintf(ref, sizeof ref, "%shigh", arn_q);
    CHECK_EQ_INT(cli_ref_check(ref, 0), CLI_REF_OK);
    snprintf(ref, sizeof ref, "%sfetch:3", arn_d);
    CHECK_EQ_INT(cli_ref_check(ref, 1), CLI_REF_OK);
    snprintf(ref, sizeof ref, "%sfetch", arn_d);
    CHECK_EQ_INT(cli_ref_check(ref, 1), CLI_REF_OK);
    snprintf(ref, sizeof ref, "%sfetch:x", arn_d);
    CHECK_EQ_INT(cli_ref_check(ref, 1), CLI_REF_REVISION);
    snprintf(ref, sizeof ref, "%sfetch:0", arn_d);
    CHECK_EQ_INT(cli_ref_check(ref, 1), CLI_REF_REVISION);
    snprintf(ref, sizeof ref, "%sbad name", arn_q);
    CHECK_EQ_INT(cli_ref_check(ref, 0), CLI_REF_NAME);
    snprintf(ref, sizeof ref, "%shigh:1", arn_q);
    CHECK_EQ_INT(cli_ref_check(ref, 0), CLI_REF_NAME);
    snprintf(ref, sizeof ref, "%s%s", arn_q, name); /* 129 characters */
    CHECK_EQ_INT(cli_ref_check(ref, 0), CLI_REF_NAME);
    snprintf(ref, sizeof ref, "%sa/b", arn_q); /* the name starts after the first '/' */
    CHECK_EQ_INT(cli_ref_check(ref, 0), CLI_REF_NAME);
    /* An ARN that names nothing (no '/', or nothing after it) is left to the server, which
     * knows what it holds. */
    CHECK_EQ_INT(cli_ref_check("arn:aws:batch:us-east-1:123456789012:job-queue", 0), CLI_REF_OK);
    CHECK_EQ_INT(cli_ref_check(arn_q, 0), CLI_REF_OK);
    CHECK_EQ_INT(cli_ref_check("arn:nothing", 1), CLI_REF_OK);
    /* Not an ARN without "arn:" in front: checked as a name. */
    CHECK_EQ_INT(cli_ref_check("aws:batch:us-east-1:1:job-queue/high", 0), CLI_REF_NAME);
}

static void test_shell_quoting(void)
{
    buf b = {0};
    cli_shell_quote(&b, "python");
    buf_puts(&b, " ");
    cli_shell_quote(&b, "--date=2024-05-01");
    buf_puts(&b, " ");
    cli_shell_quote(&b, "two words");
    buf_puts(&b, " ");
    cli_shell_quote(&b, "it's");
    buf_puts(&b, " ");
    cli_shell_quote(&b, "");
    buf_puts(&b, " ");
    cli_shell_quote(&b, "$HOME");
    CHECK_STR(b.data, "python --date=2024-05-01 'two words' 'it'\\''s' '' '$HOME'");
    buf_free(&b);
}

/* What s is quoted as, alone. */
static char *quoted(const char *s)
{
    buf b = {0};
    cli_shell_quote(&b, s);
    return b.data;
}

#define CHECK_QUOTED(s, want)                                                                 \
    do {                                                                                      \
        char *q_ = quoted(s);                                                                 \
        CHECK_STR(q_, want);                                                                  \
        free(q_);                                                                             \
    } while (0)

/* A control character was shown as '?', which changed the command pasted back: it is written
 * as an escape of $'...', which gives the same byte back, and never reaches the terminal. */
static void test_shell_quoting_of_control_characters(void)
{
    CHECK_QUOTED("%s\n", "$'%s\\n'");
    CHECK_QUOTED("a\tb\r", "$'a\\tb\\r'");
    CHECK_QUOTED("\x1b[31mred", "$'\\e[31mred'");
    /* Quotes and backslashes are escaped in $'...', and nothing else is special there. */
    CHECK_QUOTED("it's\n$HOME `x` \"y\" back\\slash",
                 "$'it\\'s\\n$HOME `x` \"y\" back\\\\slash'");
    /* Any other control byte in octal, always three digits: a digit after it stays a digit. */
    CHECK_QUOTED("\x01" "7", "$'\\0017'");
    CHECK_QUOTED("bell\x07 del\x7f", "$'bell\\007 del\\177'");
    /* A C1 control (U+009B, CSI) is two bytes of UTF-8, each escaped; other UTF-8 stays. */
    CHECK_QUOTED("caf\xc3\xa9 \xc2\x9b" "1m \xe2\x9c\x93\n",
                 "$'caf\xc3\xa9 \\302\\2331m \xe2\x9c\x93\\n'");
    /* A byte that is no UTF-8 (Latin-1's \xe9, a lone continuation, a cut character). */
    CHECK_QUOTED("caf\xe9", "$'caf\\351'");
    CHECK_QUOTED("\x80x", "$'\\200x'");
    CHECK_QUOTED("\xe2\x9c", "$'\\342\\234'");
    /* Without control characters, '...' as before; UTF-8 text as it is. */
    CHECK_QUOTED("caf\xc3\xa9 \xe2\x9c\x93", "'caf\xc3\xa9 \xe2\x9c\x93'");
    CHECK_QUOTED("\xc2\xa0", "'\xc2\xa0'");
    /* No byte below 0x20, DEL or C1 is left in what is shown. */
    char all[256];
    for (int i = 1; i < 256; i++) all[i - 1] = (char)i;
    all[255] = '\0';
    char *q = quoted(all);
    for (const unsigned char *p = (const unsigned char *)q; *p; p++) {
        CHECK(*p >= 0x20 && *p != 0x7f);
        CHECK(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f));
    }
    free(q);
}

static void test_plain_text(void)
{
    char a[] = "ended: \x1b]0;owned\x07 \x1b[2Jgone\tand\nmore\x7f", b[] = "caf\xc3\xa9 \xc2\x9b" "31m x";
    char c[] = "nothing to do: \xc2\xa0 no-break space stays";
    CHECK_EQ_INT((int)cli_text_plain(a), 6);
    CHECK_STR(a, "ended: ?]0;owned? ?[2Jgone?and?more?");
    CHECK_EQ_INT((int)cli_text_plain(b), 1);
    CHECK_STR(b, "caf\xc3\xa9 ?31m x");
    CHECK_EQ_INT((int)cli_text_plain(c), 0);
    CHECK_STR(c, "nothing to do: \xc2\xa0 no-break space stays");
}

static void test_table(void)
{
    static const char *const headers[] = {"JOB ID", "NAME", "EXIT"};
    cli_table t;
    cli_table_init(&t, 3, headers);
    const char *r1[] = {"a1", "fetch-data", "0"};
    const char *r2[] = {"b2222222", "x\ty", NULL};
    const char *r3[] = {"c3", "d\xc3\xa9j\xc3\xa0", "137"}; /* "déjà": 4 characters, 6 bytes */
    cli_table_add(&t, r1);
    cli_table_add(&t, r2);
    cli_table_add(&t, r3);
    buf out = {0};
    cli_table_render(&t, &out);
    CHECK_STR(out.data, "JOB ID    NAME        EXIT\n"
                        "a1        fetch-data  0\n"
                        "b2222222  x y         -\n"
                        "c3        d\xc3\xa9j\xc3\xa0        137\n");
    buf_free(&out);
    cli_table_free(&t);

    /* Columns as the terminal draws them: "日本" takes four, "e" and a combining acute one, an
     * emoji two, and a byte that is not UTF-8 one. */
    static const char *const h2[] = {"NAME", "N"};
    cli_table_init(&t, 2, h2);
    const char *w1[] = {"\xe6\x97\xa5\xe6\x9c\xac", "1"};
    const char *w2[] = {"e\xcc\x81", "2"};
    const char *w3[] = {"\xf0\x9f\x9a\x80x", "3"};
    const char *w4[] = {"a\xff" "b", "4"};
    cli_table_add(&t, w1);
    cli_table_add(&t, w2);
    cli_table_add(&t, w3);
    cli_table_add(&t, w4);
    cli_table_render(&t, &out);
    CHECK_STR(out.data, "NAME  N\n"
                        "\xe6\x97\xa5\xe6\x9c\xac  1\n"
                        "e\xcc\x81     2\n"
                        "\xf0\x9f\x9a\x80x   3\n"
                        "a\xff" "b   4\n");
    buf_free(&out);
    cli_table_free(&t);

    /* On a terminal 30 columns wide, the names give way, cut at a character ("日本" is not
     * split), ending "..."; the other columns whole.  Without a width (a pipe), nothing is cut. */
    static const char *const h3[] = {"JOB ID", "NAME", "EXIT"};
    cli_table_init(&t, 3, h3);
    const char *f1[] = {"a1", "fetch-the-data-of-last-night", "0"};
    /* "日本" five times: 20 columns */
    const char *f2[] = {"b2", "\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5\xe6\x9c\xac", "1"};
    const char *f3[] = {"c3", "short", "137"};
    cli_table_add(&t, f1);
    cli_table_add(&t, f2);
    cli_table_add(&t, f3);
    cli_table_fit(&t, 1, 30);
    cli_table_render(&t, &out);
    CHECK_STR(out.data, "JOB ID  NAME              EXIT\n"
                        "a1      fetch-the-dat...  0\n"
                        "b2      \xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5\xe6\x9c\xac...   1\n"
                        "c3      short             137\n");
    buf_free(&out);
    /* Too narrow for even that: the column keeps CLI_TABLE_FIT_MIN and the line wraps. */
    cli_table_fit(&t, 1, 10);
    cli_table_render(&t, &out);
    CHECK(strstr(out.data, "a1      fetch-the...  0\n") != NULL);
    buf_free(&out);
    cli_table_fit(&t, 1, 0);
    cli_table_render(&t, &out);
    CHECK(strstr(out.data, "fetch-the-data-of-last-night  0\n") != NULL);
    buf_free(&out);
    cli_table_free(&t);

    /* Headers alone when there are no rows. */
    cli_table_init(&t, 3, headers);
    cli_table_render(&t, &out);
    CHECK_STR(out.data, "JOB ID  NAME  EXIT\n");
    buf_free(&out);
    cli_table_free(&t);
}

static void test_moments(void)
{
    int64_t now = 1764547200000LL; /* 2025-12-01T00:00:00Z */
    int64_t t = 0;
    CHECK(cli_parse_when("now", now, &t) == 0 && t == now);
    CHECK(cli_parse_when("7d", now, &t) == 0 && t == now - 7 * 86400000LL);
    CHECK(cli_parse_when("36h", now, &t) == 0 && t == now - 36 * 3600000LL);
    CHECK(cli_parse_when("90m", now, &t) == 0 && t == now - 90 * 60000LL);
    CHECK(cli_parse_when("30s", now, &t) == 0 && t == now - 30000);
    CHECK(cli_parse_when("0d", now, &t) == 0 && t == now);
    CHECK(cli_parse_when("2025-11-01T09:30:00Z", now, &t) == 0 && t == 1761989400000LL);
    CHECK(cli_parse_when("2025-11-01T09:30Z", now, &t) == 0 && t == 1761989400000LL);
    /* Local times: as mktime reads them, whatever the zone the test runs in. */
    struct tm tm = {.tm_year = 125, .tm_mon = 10, .tm_mday = 1, .tm_hour = 9, .tm_min = 30,
                    .tm_isdst = -1};
    int64_t local = (int64_t)mktime(&tm) * 1000;
    CHECK(cli_parse_when("2025-11-01 09:30", now, &t) == 0 && t == local);
    CHECK(cli_parse_when("2025-11-01T09:30:00", now, &t) == 0 && t == local);
    struct tm day = {.tm_year = 125, .tm_mon = 10, .tm_mday = 1, .tm_isdst = -1};
    CHECK(cli_parse_when("2025-11-01", now, &t) == 0 && t == (int64_t)mktime(&day) * 1000);
    /* Refused, *out untouched. */
    static const char *const bad[] = {"", "yesterday", "7", "7w", "-7d", "7dd", "2025-02-30",
                                      "2025-13-01", "2025-11-01 25:00", "2025-11-01x",
                                      "2025-11-01T09:30:00+01:00", "1969-12-31", "99999999999d",
                                      "2025-11-01 ", NULL};
    for (int i = 0; bad[i]; i++) {
        t = 42;
        CHECK(cli_parse_when(bad[i], now, &t) == -1 && t == 42);
    }
}

int main(void)
{
    RUN(test_counts);
    RUN(test_decimals);
    RUN(test_key_values);
    RUN(test_dependencies);
    RUN(test_event_numbers);
    RUN(test_statuses);
    RUN(test_times_and_durations);
    RUN(test_arn_names);
    RUN(test_ref_check);
    RUN(test_plain_text);
    RUN(test_shell_quoting);
    RUN(test_shell_quoting_of_control_characters);
    RUN(test_table);
    RUN(test_moments);
    return 0;
}
