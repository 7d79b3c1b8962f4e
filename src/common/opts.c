/* opts — usage errors of getopt_long, in barge's words. */
#include "common/opts.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"

static int say(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* The long option whose code is o, or NULL. */
static const struct option *option_of(const struct option *opts, int o)
{
    for (; opts->name; opts++)
        if (opts->val == o && !opts->flag) return opts;
    return NULL;
}

/* A long option getopt could not pick: unknown, or a prefix of several. */
static int long_option_error(const char *prog, const char *word, const struct option *opts)
{
    size_t n = strcspn(word, "=");
    buf may = {0};
    int matches = 0;
    if (strncmp(word, "--", 2) == 0) {
        for (const struct option *p = opts; p->name; p++) {
            if (strncmp(p->name, word + 2, n - 2) != 0) continue;
            buf_printf(&may, "%s--%s", matches++ ? ", " : "", p->name);
        }
    }
    if (matches > 1)
        say(prog, "'%.*s' is ambiguous: it matches %s; write more of it", (int)n, word,
            may.data);
    else
        say(prog, "unknown option '%.*s%s'; see `%s --help`", (int)(n > 200 ? 200 : n), word,
            n > 200 ? "..." : "", prog);
    buf_free(&may);
    return 2;
}

int opts_error(const char *prog, int o, char **argv, const struct option *opts)
{
    /* getopt names the failed option in optopt: a short option's letter (its word may hold
     * others, as "-xf" does), a long option's code, or 0 for a long option it could not
     * pick, whose word it leaves just before optind.  A short option's letter is never a long
     * option's code: the letters that are ("-h", "-f") are short options too. */
    const struct option *lo = optopt ? option_of(opts, optopt) : NULL;
    if (o == ':') {
        if (lo) return say(prog, "--%s needs a value; see `%s --help`", lo->name, prog);
        return say(prog, "-%c needs a value; see `%s --help`", optopt, prog);
    }
    if (lo)
        return say(prog, "--%s takes no value (got '%s')", lo->name,
                   optind > 0 ? argv[optind - 1] : "?");
    if (optopt > 0 && optopt < 256)
        return say(prog, "unknown option '-%c'; see `%s --help`", optopt, prog);
    return long_option_error(prog, optind > 0 ? argv[optind - 1] : "?", opts);
}

int opts_value_check(const char *prog, int o, const char *arg, const struct option *opts)
{
    size_t n = arg ? strlen(arg) : 0;
    if (n <= OPTS_VALUE_MAX) return 0;
    const struct option *lo = option_of(opts, o);
    return say(prog, "--%s's value is %zu bytes long ('%.40s...'); no option takes more than %d: "
                     "what is long goes in a file", lo ? lo->name : "?", n, arg, OPTS_VALUE_MAX);
}
