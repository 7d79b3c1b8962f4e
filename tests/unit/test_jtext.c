/* jtext: what it writes is JSON that reads back as the value written, as jansson's would. */
#include <jansson.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jtext.h"
#include "check.h"

/* s written as a JSON string and read back by jansson. */
static void string_round_trip(const char *s)
{
    buf b = {0};
    jtext_string(&b, s);
    json_error_t e;
    json_t *v = json_loads(b.data, JSON_DECODE_ANY, &e);
    if (!v) fprintf(stderr, "not JSON: %s (%s)\n", b.data, e.text);
    CHECK(json_is_string(v));
    CHECK_STR(json_string_value(v), s);
    json_decref(v);
    buf_free(&b);
}

static void test_strings(void)
{
    string_round_trip("");
    string_round_trip("plain");
    string_round_trip("quote\" and back\\slash");
    string_round_trip("line\nbreak\ttab\r\x01\x1f end");
    string_round_trip("caf\xc3\xa9 \xe2\x9c\x93");
    /* Nothing but what JSON requires is escaped: the text stays short and readable. */
    buf b = {0};
    jtext_string(&b, "a/b c\xc3\xa9");
    CHECK_STR(b.data, "\"a/b c\xc3\xa9\"");
    buf_free(&b);
    /* Bytes that are not UTF-8 (a stray continuation byte, a cut sequence, an overlong '/')
     * become '?': what is written always reads back. */
    jtext_string(&b, "a\x80" "b\xe2\x9c" " c\xc0\xaf" " \xc3\xa9");
    CHECK_STR(b.data, "\"a?b?? c?? \xc3\xa9\"");
    json_t *v = json_loads(b.data, JSON_DECODE_ANY, NULL);
    CHECK(json_is_string(v));
    json_decref(v);
    buf_free(&b);
}

static void test_reals(void)
{
    const double vs[] = {0,   1,    -2,  1.5, 0.1, 1e300, 123456789.125, 3.0e-7, -0.0,
                         1e15, 999999999999999.0, -999999999999999.0, 1e16};
    for (size_t i = 0; i < sizeof vs / sizeof *vs; i++) {
        buf b = {0};
        jtext_real(&b, vs[i]);
        /* Whole numbers take a path of their own; it writes what printf's %.15g does. */
        char want[48];
        for (int d = 15; d <= 17; d++) {
            snprintf(want, sizeof want, "%.*g", d, vs[i]);
            if (strtod(want, NULL) == vs[i]) break;
        }
        if (!strpbrk(want, ".eEni")) strcat(want, ".0");
        CHECK_STR(b.data, want);
        json_t *v = json_loads(b.data, JSON_DECODE_ANY, NULL);
        /* A real, never an integer, as jansson's own reals read back. */
        CHECK(json_is_real(v));
        CHECK(json_real_value(v) == vs[i]);
        json_decref(v);
        buf_free(&b);
    }
}

/* The fewest digits that read back: a measured 0.811 as 0.811, not 0.81100000000000005; a sum
 * that needs 17 digits gets them; and a tree dumped through jtext_dumps takes its longest. */
static void test_shortest_reals(void)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {{0.811, "0.811"}, {0.335, "0.335"}, {0.0051809999999999998, "0.005181"},
                 {0.1 + 0.2, "0.30000000000000004"}, {1.0 / 3, "0.3333333333333333"},
                 {2.5e-300, "2.5e-300"}, {123456.789, "123456.789"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        buf b = {0};
        jtext_real(&b, cases[i].v);
        CHECK_STR(b.data, cases[i].text);
        buf_free(&b);
    }
    json_t *v = json_pack("{s:f, s:[f, {s:f}], s:s}", "a", 0.811, "b", 0.25, "c", 12.345, "d", "x");
    char *text = jtext_dumps(v, JSON_COMPACT);
    CHECK_STR(text, "{\"a\":0.811,\"b\":[0.25,{\"c\":12.345}],\"d\":\"x\"}");
    free(text);
    /* One real that needs 17 digits leaves the others in their own. */
    json_object_set_new(json_array_get(json_object_get(v, "b"), 1), "c", json_real(0.1 + 0.2));
    json_object_set_new(v, "e", json_real(0.0045910000000000005));
    text = jtext_dumps(v, JSON_COMPACT);
    CHECK_STR(text, "{\"a\":0.811,\"b\":[0.25,{\"c\":0.30000000000000004}],\"d\":\"x\","
                    "\"e\":0.0045910000000000005}");
    json_t *back = json_loads(text, 0, NULL);
    CHECK(json_equal(back, v));
    json_decref(back);
    free(text);
    json_decref(v);
}

/* Without reals, the text is json_dumps's (its capital hex aside), compact, indented or neither. */
static void test_as_jansson(void)
{
    json_t *v = json_pack("{s:[i, s, n, b, {}, [], {s:[i]}], s:s#, s:{s:I}, s:[[]]}", "k", 1,
                          "x\"y\n\t\r\b\f\x1f", 1, "o", -7, "nul", "a\0b", (size_t)3, "big",
                          "m", (json_int_t)-9007199254740993LL, "e");
    size_t flags[] = {JSON_COMPACT, JSON_INDENT(2), JSON_INDENT(4) | JSON_COMPACT, 0};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        char *ours = jtext_dumps(v, flags[i]);
        char *theirs = json_dumps(v, flags[i] | JSON_ENCODE_ANY);
        /* jansson writes control characters' \u in capitals: the same string, read back. */
        json_t *a = json_loads(ours, JSON_ALLOW_NUL, NULL);
        json_t *b = json_loads(theirs, JSON_ALLOW_NUL, NULL);
        CHECK(a && json_equal(a, v));
        CHECK(b && json_equal(a, b));
        for (char *p = theirs; *p; p++)
            if (p[0] == '\\' && p[1] == 'u') p[5] = (char)tolower((unsigned char)p[5]);
        CHECK_STR(ours, theirs);
        json_decref(a);
        json_decref(b);
        free(ours);
        free(theirs);
    }
    json_decref(v);
    buf b = {0};
    jtext_value(&b, NULL, JSON_COMPACT);
    CHECK_STR(b.data, "null");
    buf_free(&b);
}

static void test_values(void)
{
    json_t *v = json_pack("{s:[i, s, n]}", "k", 1, "x\"y", NULL);
    buf b = {0};
    jtext_json(&b, v);
    CHECK_STR(b.data, "{\"k\":[1,\"x\\\"y\",null]}");
    buf_free(&b);
    json_decref(v);
}

static void test_ints(void)
{
    const long long vs[] = {0, 7, -7, 10, 1234567890123LL, LLONG_MAX, LLONG_MIN};
    buf b = {0};
    for (size_t i = 0; i < sizeof vs / sizeof *vs; i++) {
        char want[32];
        snprintf(want, sizeof want, "%lld", vs[i]);
        b.len = 0;
        buf_int(&b, vs[i]);
        CHECK_STR(b.data, want);
    }
    buf_free(&b);
}

/* A file's NUL is said in the file writer's words, not as jansson's option. */
static void test_load_file_nul(void)
{
    char path[] = "/tmp/barge-jtext-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char text[] = "{\"a\": \"x\\u0000y\"}\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    char *err = NULL;
    CHECK(jtext_load_file("--webhooks", path, &err) == NULL);
    CHECK_CONTAINS(err, "a string holds \\u0000 (a NUL character)");
    CHECK(strstr(err, "JSON_ALLOW_NUL") == NULL);
    free(err);
    unlink(path);
}

int main(void)
{
    test_load_file_nul();
    test_ints();
    test_strings();
    test_reals();
    test_shortest_reals();
    test_values();
    test_as_jansson();
    return 0;
}
