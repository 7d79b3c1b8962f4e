/* params.c: `Ref::name` substitution in a job's command. */
#include "server/model/params.h"
#include <stdlib.h>
#include <string.h>

#include "check.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v) CHECK_FAIL_("bad JSON in the test: %s", e.text);
    return v;
}

/* Substitutes and compares the result, as JSON text, with want. */
static void check_subst(const char *command, const char *submit, const char *def,
                        const char *want)
{
    json_t *cmd = parse(command), *s = submit ? parse(submit) : NULL, *d = def ? parse(def) : NULL;
    json_t *out = params_substitute(cmd, s, d);
    char *got = json_dumps(out, JSON_COMPACT);
    json_t *w = parse(want);
    char *want_text = json_dumps(w, JSON_COMPACT);
    CHECK_STR(got, want_text);
    free(got);
    free(want_text);
    json_decref(w);
    json_decref(out);
    json_decref(cmd);
    json_decref(s);
    json_decref(d);
}

static void test_substitution(void)
{
    /* A whole argument. */
    check_subst("[\"echo\", \"Ref::msg\"]", "{\"msg\": \"hello\"}", NULL, "[\"echo\", \"hello\"]");
    /* Inside an argument, with text around it. */
    check_subst("[\"--in=Ref::input.txt\"]", "{\"input\": \"s3://b/k\"}", NULL,
                "[\"--in=s3://b/k.txt\"]");
    /* Several in one argument, and the same one twice. */
    check_subst("[\"Ref::a/Ref::b.Ref::a\"]", "{\"a\": \"1\", \"b\": \"2\"}", NULL,
                "[\"1/2.1\"]");
    /* The longest name with a value is taken: a hyphen may end a name or belong to it. */
    check_subst("[\"Ref::a-Ref::b\"]", "{\"a\": \"1\", \"b\": \"2\"}", NULL,
                "[\"1-2\"]");
    check_subst("[\"pre-Ref::b-post\"]", "{\"b\": \"sub b\"}", NULL, "[\"pre-sub b-post\"]");
    check_subst("[\"Ref::out-1\"]", "{\"out\": \"short\"}", "{\"out-1\": \"long\"}",
                "[\"long\"]");
    check_subst("[\"Ref::out-2\"]", "{\"out\": \"short\"}", "{\"out-1\": \"long\"}",
                "[\"short-2\"]");
    check_subst("[\"Ref::a\", \"x\", \"Ref::b\"]", "{\"a\": \"1\", \"b\": \"2\"}", NULL,
                "[\"1\", \"x\", \"2\"]");
    /* A name may hold any character: the longest defined one the text starts with is taken. */
    check_subst("[\"Ref::my-name_2/rest\"]", "{\"my-name_2\": \"v\"}", NULL, "[\"v/rest\"]");
    check_subst("[\"--in=Ref::in.file\", \"Ref::a/b/c\"]",
                "{\"in.file\": \"s3://x\", \"a/b\": \"ab\"}", "{\"in\": \"short\"}",
                "[\"--in=s3://x\", \"ab/c\"]");
    check_subst("[\"Ref::metaflow.user Ref::metaflow.user\"]", NULL,
                "{\"metaflow.user\": \"me\"}", "[\"me me\"]");
    /* An unknown name stays as written, and so does a bare "Ref::". */
    check_subst("[\"Ref::nope\", \"pre-Ref::nope-post\"]", "{\"other\": \"v\"}", NULL,
                "[\"Ref::nope\", \"pre-Ref::nope-post\"]");
    check_subst("[\"Ref::\", \"Ref::.x\"]", "{\"\": \"v\"}", NULL, "[\"Ref::\", \"Ref::.x\"]");
    /* The submit's value wins over the definition's default; the default fills the rest. */
    check_subst("[\"Ref::a\", \"Ref::b\"]", "{\"a\": \"submit\"}", "{\"a\": \"def\", \"b\": \"dflt\"}",
                "[\"submit\", \"dflt\"]");
    check_subst("[\"Ref::a\"]", NULL, "{\"a\": \"def\"}", "[\"def\"]");
    /* A value is inserted as is: it is not substituted again. */
    check_subst("[\"Ref::a\"]", "{\"a\": \"Ref::b\", \"b\": \"no\"}", NULL, "[\"Ref::b\"]");
    /* Arguments without a reference pass through untouched, as do empty ones. */
    check_subst("[\"plain\", \"\", \"Ref:single\"]", "{\"single\": \"x\"}", NULL,
                "[\"plain\", \"\", \"Ref:single\"]");
    check_subst("[]", "{\"a\": \"1\"}", NULL, "[]");
    /* A value may be empty. */
    check_subst("[\"[Ref::a]\"]", "{\"a\": \"\"}", NULL, "[\"[]\"]");
}

/* A placeholder as long as a submit may carry (30 KiB): only the lengths of names that have a
 * value are tried (trying every prefix hashed it once a prefix: seconds of the core's time for
 * one SubmitJob), and the longest with a value still wins. */
static void test_long_placeholders(void)
{
    size_t len = 30000;
    char *name = malloc(len + 1);
    for (size_t i = 0; i < len; i++) name[i] = (char)('a' + i % 26);
    name[len] = '\0';
    json_t *cmd = json_pack("[s+, s+]", "Ref::", name, "x=Ref::", name);
    json_t *sub = json_object();
    /* "abc" has a value and is a prefix of the long name; so is the long name's first 29,999. */
    json_object_set_new(sub, "abc", json_string("short"));
    name[len - 1] = '\0';
    json_object_set_new(sub, name, json_string("long"));
    json_t *out = params_substitute(cmd, sub, NULL);
    char want[8];
    snprintf(want, sizeof want, "long%c", (char)('a' + (len - 1) % 26));
    CHECK_STR(json_string_value(json_array_get(out, 0)), want);
    CHECK_STR(json_string_value(json_array_get(out, 1) ) + 2, want);
    json_decref(out);
    /* Without the long one, the short name takes its part and the rest stays as written. */
    json_object_del(sub, name);
    out = params_substitute(cmd, sub, NULL);
    CHECK(strncmp(json_string_value(json_array_get(out, 0)), "shortdefgh", 10) == 0);
    CHECK_EQ_INT((long long)strlen(json_string_value(json_array_get(out, 0))),
                 (long long)(len - 3 + 5));
    json_decref(out);
    json_decref(sub);
    json_decref(cmd);
    free(name);
}

/* A value repeated at every placeholder of its name may not make a command over the bound. */
static void test_bounded(void)
{
    json_t *cmd = json_pack("[s, s]", "Ref::p Ref::p Ref::p", "Ref::p");
    json_t *sub = json_pack("{s:s}", "p", "xxxxxxxxxx"); /* 10 bytes */
    json_t *out = params_substitute_max(cmd, sub, NULL, 42); /* 32 + 10: just fits */
    CHECK(out);
    CHECK_STR(json_string_value(json_array_get(out, 0)), "xxxxxxxxxx xxxxxxxxxx xxxxxxxxxx");
    json_decref(out);
    CHECK(params_substitute_max(cmd, sub, NULL, 41) == NULL);
    CHECK(params_substitute_max(cmd, sub, NULL, 25) == NULL); /* within the first argument */
    json_decref(cmd);
    /* Arguments without a placeholder count too. */
    cmd = json_pack("[s, s]", "0123456789", "Ref::p");
    CHECK(params_substitute_max(cmd, sub, NULL, 19) == NULL);
    out = params_substitute_max(cmd, sub, NULL, 20);
    CHECK(out);
    json_decref(out);
    json_decref(cmd);
    json_decref(sub);
}

int main(void)
{
    RUN(test_bounded);
    RUN(test_substitution);
    RUN(test_long_placeholders);
    return 0;
}
