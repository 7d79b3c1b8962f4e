/* schema.c: every kind of shape, required members, paths in messages, enums, null removal. */
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/api/schema.h"
#include "check.h"

static char err[600];

/* schema has no free function (shapes live as long as the server); keeping every compiled
 * shape reachable tells the leak checker they are meant to stay (volatile: an array written and
 * never read is otherwise optimised away, and the shapes with it). */
static schema *volatile kept[128];
static int n_kept;

static schema *compile(const char *shape)
{
    CHECK(n_kept < (int)(sizeof kept / sizeof kept[0]));
    return kept[n_kept++] = schema_compile(shape);
}

/* Checks text (JSON) against shape; returns the result and leaves the message in err. */
static int try_check(const char *shape, const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v) CHECK_FAIL_("bad test JSON %s: %s", text, je.text);
    err[0] = '\0';
    int rc = schema_check(compile(shape), v, err, sizeof err);
    json_decref(v);
    return rc;
}

#define ACCEPTS(shape, text) CHECK_EQ_INT(try_check(shape, text), 0)
#define REFUSES(shape, text, msg)                                                             \
    do {                                                                                      \
        CHECK_EQ_INT(try_check(shape, text), -1);                                             \
        CHECK_STR(err, msg);                                                                  \
    } while (0)

static void test_scalars(void)
{
    ACCEPTS("s", "\"x\"");
    REFUSES("s", "1", "request body: expected a string, got an integer");
    ACCEPTS("i", "-7");
    REFUSES("i", "1.5", "request body: expected an integer, got a number");
    REFUSES("i", "\"7\"", "request body: expected an integer, got a string");
    ACCEPTS("b", "true");
    ACCEPTS("b", "false");
    REFUSES("b", "0", "request body: expected a boolean (true or false), got an integer");
    /* A number accepts integers too: JSON does not tell 2 from 2.0 apart for the caller. */
    ACCEPTS("f", "2.5");
    ACCEPTS("f", "2");
    REFUSES("f", "\"2\"", "request body: expected a number, got a string");
    ACCEPTS("*", "[1, {\"a\": null}]");
    ACCEPTS("*", "null");
}

/* Integers are range-checked before any handler narrows them. */
static void test_integer_ranges(void)
{
    ACCEPTS("i", "2147483647");
    ACCEPTS("i", "-2147483648");
    REFUSES("i", "2147483648",
            "request body: must be between -2147483648 and 2147483647 (got 2147483648)");
    REFUSES("{a:i}", "{\"a\": 4294967297}",
            "a: must be between -2147483648 and 2147483647 (got 4294967297)");
    ACCEPTS("l", "4294967297");
    ACCEPTS("l", "-9223372036854775808");
    ACCEPTS("{n:i(0..1000000)}", "{\"n\": 1000000}");
    ACCEPTS("{n:i(0..1000000)}", "{\"n\": 0}");
    REFUSES("{n:i(0..1000000)}", "{\"n\": 3000000}",
            "n: must be between 0 and 1000000 (got 3000000)");
    REFUSES("{x:[{n:i(1..10)}]}", "{\"x\": [{\"n\": 1}, {\"n\": -1}]}",
            "x[1].n: must be between 1 and 10 (got -1)");
    /* The type is checked before the range. */
    REFUSES("i(1..2)", "\"1\"", "request body: expected an integer, got a string");
}

/* String lengths are counted in characters, as AWS's limits count them. */
static void test_string_lengths(void)
{
    ACCEPTS("{p:s(1..3)}", "{\"p\": \"abc\"}");
    ACCEPTS("{p:s(1..3)}", "{\"p\": \"\u00e9\u00e9\u00e9\"}"); /* six bytes, three characters */
    REFUSES("{p:s(1..3)}", "{\"p\": \"\"}", "p: must be 1 to 3 characters long (got 0)");
    REFUSES("{p:[s(1..3)]}", "{\"p\": [\"ab\", \"abcd\"]}",
            "p[1]: must be 1 to 3 characters long (got 4)");
    REFUSES("{a:s(12..12)}", "{\"a\": \"1234\"}", "a: must be 12 characters long (got 4)");
    ACCEPTS("s(0..0)", "\"\"");
    /* The type is checked before the length. */
    REFUSES("s(1..2)", "1", "request body: expected a string, got an integer");
}

/* A list's size, as the model bounds it (CloudWatch Logs' accountIdentifiers: at most 20). */
static void test_list_sizes(void)
{
    ACCEPTS("{p:[i](0..2)}", "{\"p\": []}");
    ACCEPTS("{p:[i](0..2)}", "{\"p\": [1, 2]}");
    REFUSES("{p:[i](0..2)}", "{\"p\": [1, 2, 3]}", "p: must hold 0 to 2 items (got 3)");
    REFUSES("{p:[i](1..2)}", "{\"p\": []}", "p: must hold 1 to 2 items (got 0)");
    /* The size before the items. */
    REFUSES("[s](0..1)", "[1, 2]", "request body: must hold 0 to 1 items (got 2)");
}

/* Integers written as reals (R's JSON writers print round doubles as 1e+05) are taken as the
 * integers they are, and handed on as integers; reals with a fraction, or past 64 bits, are
 * not. */
static void test_integers_written_as_reals(void)
{
    const char *shape = "{a:i, b:[i], c:m<l>, d:{e:l}, f:f, g:i(1..10)}";
    json_error_t je;
    json_t *v = json_loads("{\"a\": 1e+05, \"b\": [2.0, 3, -4e0], \"c\": {\"x\": 1.7e+12},"
                           " \"d\": {\"e\": -0.0}, \"f\": 2.0}", 0, &je);
    CHECK(v != NULL);
    CHECK_EQ_INT(schema_check(compile(shape), v, err, sizeof err), 0);
    CHECK(json_is_integer(json_object_get(v, "a")));
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "a")), 100000);
    json_t *b = json_object_get(v, "b");
    CHECK(json_is_integer(json_array_get(b, 0)) && json_is_integer(json_array_get(b, 2)));
    CHECK_EQ_INT(json_integer_value(json_array_get(b, 0)), 2);
    CHECK_EQ_INT(json_integer_value(json_array_get(b, 2)), -4);
    json_t *x = json_object_get(json_object_get(v, "c"), "x");
    CHECK(json_is_integer(x));
    CHECK_EQ_INT(json_integer_value(x), 1700000000000LL);
    CHECK(json_is_integer(json_object_get(json_object_get(v, "d"), "e")));
    /* A number stays what it was. */
    CHECK(json_is_real(json_object_get(v, "f")));
    json_decref(v);
    REFUSES(shape, "{\"a\": 1.5}", "a: expected an integer, got a number");
    REFUSES(shape, "{\"d\": {\"e\": 1e300}}", "d.e: expected an integer, got a number");
    REFUSES(shape, "{\"a\": 1e10}",
            "a: must be between -2147483648 and 2147483647 (got 10000000000)");
    REFUSES(shape, "{\"g\": 1.1e1}", "g: must be between 1 and 10 (got 11)");
    REFUSES("i", "5.0", "request body: expected an integer, got a number");
}

static void test_enums(void)
{
    ACCEPTS("e(ENABLED|DISABLED)", "\"DISABLED\"");
    REFUSES("{state:e(ENABLED|DISABLED)}", "{\"state\": \"enabled\"}",
            "state: 'enabled' is not one of ENABLED, DISABLED");
    REFUSES("{state:e(ENABLED | DISABLED)}", "{\"state\": 1}",
            "state: expected a string, got an integer");
    /* Enumerations may hold the characters AWS's values use. */
    ACCEPTS("e(SPOT_CAPACITY_OPTIMIZED|a-b.c)", "\"a-b.c\"");
    /* A long value is cut in the message, not the message itself. */
    char text[300];
    snprintf(text, sizeof text, "{\"t\": \"%0200d\"}", 0);
    CHECK_EQ_INT(try_check("{t:e(A|B)}", text), -1);
    CHECK_CONTAINS(err, "is not one of A, B");
    CHECK(strlen(err) < 120);
}

static void test_objects_and_required(void)
{
    ACCEPTS("{}", "{}");
    ACCEPTS("{a:s}", "{}");
    /* Members the shape does not name are ignored, as AWS ignores them. */
    ACCEPTS("{a:s}", "{\"zzz\": [1, 2]}");
    REFUSES("{a:s!}", "{}", "a: this field is required");
    REFUSES("{a:s!, b:i!}", "{\"a\": \"x\"}", "b: this field is required");
    REFUSES("{a:{b:{c:i!}}}", "{\"a\": {\"b\": {}}}", "a.b.c: this field is required");
    REFUSES("{a:s}", "[]", "request body: expected an object, got a list");
    REFUSES("{a:{b:s}}", "{\"a\": \"x\"}", "a: expected an object, got a string");
    /* Spaces anywhere in the notation. */
    ACCEPTS(" { a : s ! , b : [ i ] } ", "{\"a\": \"x\", \"b\": [1]}");
}

static void test_nested_paths(void)
{
    REFUSES("{computeResources:{maxvCpus:i}}", "{\"computeResources\": {\"maxvCpus\": \"4\"}}",
            "computeResources.maxvCpus: expected an integer, got a string");
    REFUSES("{xs:[{n:i}]}", "{\"xs\": [{\"n\": 1}, {\"n\": true}]}",
            "xs[1].n: expected an integer, got a boolean");
    REFUSES("{xs:[[s]]}", "{\"xs\": [[\"a\"], [\"b\", 3]]}",
            "xs[1][1]: expected a string, got an integer");
    REFUSES("{tags:m<s>}", "{\"tags\": {\"k\": 1}}", "tags.k: expected a string, got an integer");
    REFUSES("{tags:m<s>}", "{\"tags\": [\"k\"]}",
            "tags: expected an object (a map of names to values), got a list");
    REFUSES("{ms:[m<{x:i}>]}", "{\"ms\": [{\"k\": {\"x\": 1.5}}]}",
            "ms[0].k.x: expected an integer, got a number");
    REFUSES("[s]", "[\"a\", {}]", "[1]: expected a string, got an object");
    REFUSES("{a:[s]}", "{\"a\": \"x\"}", "a: expected a list, got a string");
    /* After an error-free sibling the path is back to its base. */
    REFUSES("{a:{x:i}, b:{y:i}}", "{\"a\": {\"x\": 1}, \"b\": {\"y\": \"no\"}}",
            "b.y: expected an integer, got a string");
}

static void test_null_is_absent(void)
{
    REFUSES("{a:s!}", "{\"a\": null}", "a: this field is required");
    /* Nulls are removed from the request, so handlers never see them. */
    json_t *v = json_loads("{\"a\": null, \"b\": {\"c\": null, \"d\": 1}, \"x\": null}", 0, NULL);
    CHECK_EQ_INT(schema_check(compile("{a:s, b:{c:i, d:i}}"), v, err, sizeof err), 0);
    CHECK(json_object_get(v, "a") == NULL);
    CHECK(json_object_get(v, "x") == NULL);
    CHECK(json_object_get(json_object_get(v, "b"), "c") == NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(v, "b"), "d")), 1);
    json_decref(v);
    /* A map drops null values the same way. */
    v = json_loads("{\"m\": {\"k\": null, \"j\": \"v\"}}", 0, NULL);
    CHECK_EQ_INT(schema_check(compile("{m:m<s>}"), v, err, sizeof err), 0);
    CHECK_EQ_INT(json_object_size(json_object_get(v, "m")), 1);
    json_decref(v);
    /* A null inside a list is not "absent": it is an item of the wrong type. */
    REFUSES("{xs:[s]}", "{\"xs\": [\"a\", null]}", "xs[1]: expected a string, got null");
    REFUSES("{xs:[{a:i}]}", "{\"xs\": [null]}", "xs[0]: expected an object, got null");
}

/* Checks text against shape, which must accept it, and returns what is left of it. */
static json_t *checked(const char *shape, const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    CHECK(v != NULL);
    CHECK_EQ_INT(schema_check(compile(shape), v, err, sizeof err), 0);
    return v;
}

static char *dumped(json_t *v)
{
    static char text[512];
    char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(text, sizeof text, "%s", d);
    free(d);
    json_decref(v);
    return text;
}

static void test_unknown_members_are_dropped(void)
{
    /* At every level, in lists and behind named shapes, as AWS drops what its model does not
     * define: a made-up member is never stored nor described back. */
    schema_define("Env", "[{name:s, value:s}]");
    CHECK_STR(dumped(checked("{a:s, b:{c:i}, e:@Env}",
                             "{\"a\": \"x\", \"zz\": [[[1]]], \"b\": {\"c\": 1, \"d\": {}},"
                             " \"e\": [{\"name\": \"n\", \"value\": \"v\", \"q\": 2}]}")),
              "{\"a\":\"x\",\"b\":{\"c\":1},\"e\":[{\"name\":\"n\",\"value\":\"v\"}]}");
    /* An object with nothing named (every member is unknown) is left empty. */
    CHECK_STR(dumped(checked("{a:{b:s}}", "{\"a\": {\"x\": 1, \"y\": 2}}")), "{\"a\":{}}");
    /* "{}" is any object, kept as it is; so is a map's every key. */
    CHECK_STR(dumped(checked("{}", "{\"x\": {\"y\": [1]}}")), "{\"x\":{\"y\":[1]}}");
    CHECK_STR(dumped(checked("{m:m<s>}", "{\"m\": {\"k\": \"v\", \"j\": \"w\"}}")),
              "{\"m\":{\"j\":\"w\",\"k\":\"v\"}}");
}

static void test_anything_is_bounded(void)
{
    /* "*" takes any value, up to 32 levels deep. */
    char deep[200], too_deep[200];
    snprintf(deep, sizeof deep, "{\"x\": %.*s1%.*s}", 31, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 31,
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    ACCEPTS("{x:*}", deep);
    snprintf(too_deep, sizeof too_deep, "{\"x\": %.*s1%.*s}", 32,
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 32, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    REFUSES("{x:*}", too_deep, "x: nested more than 32 levels deep");
    ACCEPTS("{x:*}", "{\"x\": {\"a\": [1, {\"b\": \"c\"}]}}");
}

static void test_named_shapes(void)
{
    schema_define("Node", "{name:s!, children:[@Node]}");
    ACCEPTS("@Node", "{\"name\": \"r\", \"children\": [{\"name\": \"a\", \"children\": []}]}");
    REFUSES("{root:@Node}",
            "{\"root\": {\"name\": \"r\", \"children\": [{\"name\": \"a\", \"children\": "
            "[{\"children\": []}]}]}}",
            "root.children[0].children[0].name: this field is required");
    schema_define("Pair", "[i]");
    REFUSES("{p:@Pair}", "{\"p\": [1, \"2\"]}", "p[1]: expected an integer, got a string");
}

/* A syntax error in a shape is a programming error: it stops the process. */
static int compile_dies(const char *shape)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(2);
        schema_compile(shape);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void test_bad_notation_aborts(void)
{
    CHECK(compile_dies("{a:s"));
    CHECK(compile_dies("{a s}"));
    CHECK(compile_dies("q"));
    CHECK(compile_dies("s s"));
    CHECK(compile_dies("e(A|)"));
    CHECK(compile_dies("m<s"));
    CHECK(!compile_dies("{a:[m<e(X|Y)>]!}"));
}

int main(void)
{
    RUN(test_scalars);
    RUN(test_integer_ranges);
    RUN(test_string_lengths);
    RUN(test_list_sizes);
    RUN(test_integers_written_as_reals);
    RUN(test_enums);
    RUN(test_objects_and_required);
    RUN(test_nested_paths);
    RUN(test_null_is_absent);
    RUN(test_unknown_members_are_dropped);
    RUN(test_anything_is_bounded);
    RUN(test_named_shapes);
    RUN(test_bad_notation_aborts);
    return 0;
}
