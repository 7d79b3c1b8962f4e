/* params.c: `Ref::name` substitution in a job's command. */
#include "server/model/params.h"
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
    /* Names take letters, digits, hyphens and underscores; anything else ends them. */
    check_subst("[\"Ref::my-name_2/rest\"]", "{\"my-name_2\": \"v\"}", NULL, "[\"v/rest\"]");
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

int main(void)
{
    RUN(test_substitution);
    return 0;
}
