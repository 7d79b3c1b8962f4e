#include "cli/cli_text.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

const char *const cli_job_statuses[] = {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING",
                                        "RUNNING", "SUCCEEDED", "FAILED", NULL};

int cli_parse_count(const char *s, long *out)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > INT_MAX) return -1;
    *out = v;
    return 0;
}

int cli_parse_seq(const char *s, long long *out)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0) return -1;
    *out = v;
    return 0;
}

int cli_parse_decimal(const char *s)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    int nonzero = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) nonzero |= *p != '0';
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return -1;
        for (; isdigit((unsigned char)*p); p++) nonzero |= *p != '0';
    }
    return *p || !nonzero || p - s > 20 ? -1 : 0;
}

int cli_vcpus_kind(const char *s)
{
    /* The server's rules (jobdef_check.c): an EC2 value is at most 10 digits, a Fargate one at
     * most 16 characters of digits and one point. */
    size_t n = strlen(s), digits = strspn(s, "0123456789");
    int kind = 0;
    if (n && n <= 10 && digits == n) {
        long long v = strtoll(s, NULL, 10);
        if (v >= 1 && v <= CLI_VCPUS_MAX) kind |= CLI_VCPUS_EC2;
    }
    const char *p = s + digits;
    if (*p == '.') p++;
    size_t frac = strspn(p, "0123456789");
    if (n <= 16 && digits + frac > 0 && !p[frac]) {
        static const double steps[] = {0.25, 0.5, 1, 2, 4, 8, 16};
        double v = strtod(s, NULL);
        for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
            if (v - steps[i] < 1e-9 && steps[i] - v < 1e-9) kind |= CLI_VCPUS_FARGATE;
    }
    return kind;
}

int cli_parse_kv(const char *s, char **key, char **value)
{
    const char *eq = s ? strchr(s, '=') : NULL;
    if (!eq || eq == s) return -1;
    *key = xstrndup(s, (size_t)(eq - s));
    *value = xstrdup(eq + 1);
    return 0;
}

int cli_parse_dependency(const char *s, char **job_id, const char **type)
{
    *job_id = NULL;
    *type = NULL;
    if (!s || !*s) return -1;
    if (strcasecmp(s, "SEQUENTIAL") == 0) {
        *type = "SEQUENTIAL";
        return 0;
    }
    size_t n = strlen(s);
    const char *colon = strrchr(s, ':');
    if (colon && strcasecmp(colon + 1, "N_TO_N") == 0) {
        *type = "N_TO_N";
        n = (size_t)(colon - s);
    } else if (colon && strcasecmp(colon + 1, "SEQUENTIAL") == 0) {
        /* AWS's SEQUENTIAL is {"type": "SEQUENTIAL"} alone: an array's children in turn. */
        return -2;
    } else if (colon && (colon[1] == '\0' || !isdigit((unsigned char)colon[1]))) {
        /* Only an array index or a known type may follow the last colon: "ID:n_to_m" is a typo
         * that would otherwise be sent as a job id nobody has. */
        return -1;
    }
    if (n == 0) return -1;
    *job_id = xstrndup(s, n);
    return 0;
}

const char *cli_job_status(const char *s)
{
    for (int i = 0; s && cli_job_statuses[i]; i++)
        if (strcasecmp(s, cli_job_statuses[i]) == 0) return cli_job_statuses[i];
    return NULL;
}

int cli_parse_statuses(const char *arg, int chosen[7], const char **bad, int *bad_len)
{
    for (const char *p = arg;;) {
        size_t n = strcspn(p, ",");
        char word[16] = ""; /* the longest status is 9 letters */
        if (n < sizeof word) memcpy(word, p, n);
        const char *s = n < sizeof word ? cli_job_status(word) : NULL;
        if (!s) {
            *bad = p;
            *bad_len = n > INT_MAX ? INT_MAX : (int)n;
            return -1;
        }
        for (int k = 0; k < 7; k++)
            if (s == cli_job_statuses[k]) chosen[k] = 1;
        if (!p[n]) return 0;
        p += n + 1;
    }
}

void cli_fmt_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !localtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        strcpy(out, "-");
}

int cli_parse_when(const char *s, int64_t now_ms, int64_t *out)
{
    if (!s || !*s) return -1;
    if (strcmp(s, "now") == 0) {
        *out = now_ms;
        return 0;
    }
    /* "90m", "36h", "7d": that long before now. */
    char *end;
    errno = 0;
    long long n = isdigit((unsigned char)*s) ? strtoll(s, &end, 10) : -1;
    if (n >= 0 && errno == 0 && end[0] && !end[1] && strchr("smhd", end[0])) {
        long long unit = end[0] == 's' ? 1000 : end[0] == 'm' ? 60000
                       : end[0] == 'h' ? 3600000 : 86400000;
        long long ago;
        if (__builtin_mul_overflow(n, unit, &ago) || ago > now_ms) return -1;
        *out = now_ms - ago;
        return 0;
    }
    /* A date, and a time of day, local unless it ends in Z (UTC). */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%d", &tm);
    if (!p) return -1;
    if (*p == ' ' || *p == 'T') {
        const char *q = strptime(p + 1, "%H:%M:%S", &tm);
        if (!q) q = strptime(p + 1, "%H:%M", &tm);
        if (!q) return -1;
        p = q;
    }
    int utc = *p == 'Z';
    if (p[utc]) return -1;
    /* strptime takes a 30th of February and a hour 24: asked back, the date must be the same. */
    struct tm asked = tm;
    tm.tm_isdst = -1;
    time_t t = utc ? timegm(&tm) : mktime(&tm);
    if (t == (time_t)-1 || tm.tm_mday != asked.tm_mday || tm.tm_mon != asked.tm_mon ||
        tm.tm_hour != asked.tm_hour || tm.tm_year < 70)
        return -1;
    *out = (int64_t)t * 1000;
    return 0;
}

void cli_fmt_duration(int64_t ms, char out[32])
{
    if (ms < 0) {
        strcpy(out, "-");
        return;
    }
    long long s = (long long)(ms / 1000);
    if (ms < 10000)
        snprintf(out, 32, "%lld.%llds", (long long)ms / 1000, (long long)(ms % 1000) / 100);
    else if (s < 60)
        snprintf(out, 32, "%llds", s);
    else if (s < 3600)
        snprintf(out, 32, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, 32, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, 32, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

const char *cli_arn_name(const char *s)
{
    if (!s || strncmp(s, "arn:", 4) != 0) return s;
    /* arn:PARTITION:SERVICE:REGION:ACCOUNT:KIND/NAME — the name follows the first slash after
     * the fifth colon. */
    const char *p = s;
    for (int colons = 0; *p && colons < 5; p++) colons += *p == ':';
    const char *slash = strchr(p, '/');
    return slash && slash[1] ? slash + 1 : s;
}

int cli_ref_check(const char *ref, int revision)
{
    const char *name = cli_arn_name(ref);
    if (strncmp(ref, "arn:", 4) == 0 && name == ref) return CLI_REF_OK; /* the server's */
    const char *colon = revision ? strrchr(name, ':') : NULL;
    size_t len = colon ? (size_t)(colon - name) : strlen(name);
    if (len < 1 || len > 128 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") < len)
        return CLI_REF_NAME;
    /* Revisions are written in plain digits from 1 up, as the server reads them. */
    if (colon && !(colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
                   strspn(colon + 1, "0") < strlen(colon + 1)))
        return CLI_REF_REVISION;
    return CLI_REF_OK;
}

/* How many bytes the character at p takes when it may be shown as it is: 1 for printable
 * ASCII, 2 to 4 for a UTF-8 character that is no control; 0 for a byte that must be escaped: a
 * C0 control or DEL, either byte of a C1 control (U+0080..U+009F: a terminal acts on them as
 * on ESC sequences), or a byte that is no UTF-8 (which a terminal may take for a C1). */
static size_t shown_len(const unsigned char *p)
{
    if (*p < 0x20 || *p == 0x7f) return 0;
    if (*p < 0x80) return 1;
    if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) return 0;
    size_t n = *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3
             : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

void cli_shell_quote(buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    int plain = *s != '\0', controls = 0;
    for (const unsigned char *p = u; *p;) {
        size_t n = shown_len(p);
        plain = plain && (isalnum(*p) || strchr("-_./:=,+%@", *p));
        controls |= n == 0;
        p += n ? n : 1;
    }
    if (plain) {
        buf_puts(b, s);
        return;
    }
    if (!controls) {
        buf_puts(b, "'");
        for (const char *p = s; *p; p++) {
            if (*p == '\'') buf_puts(b, "'\\''");
            else buf_append(b, p, 1);
        }
        buf_puts(b, "'");
        return;
    }
    /* A control character inside '...' would reach the terminal as it is (a newline breaks
     * the line, an ESC sequence acts), and shown as '?' the command would change: $'...'
     * (bash, zsh, ksh and POSIX.1-2024 shells) writes each as an escape that gives the same
     * byte back.  \NNN takes at most three octal digits, so a digit after it stays a digit
     * (\xHH may take more hex digits in some shells). */
    buf_puts(b, "$'");
    for (const unsigned char *p = u; *p;) {
        size_t n = shown_len(p);
        if (n) {
            if (*p == '\'' || *p == '\\') buf_puts(b, "\\");
            buf_append(b, (const char *)p, n);
            p += n;
            continue;
        }
        switch (*p) {
        case '\n': buf_puts(b, "\\n"); break;
        case '\t': buf_puts(b, "\\t"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case 0x1b: buf_puts(b, "\\e"); break;
        default: buf_printf(b, "\\%03o", *p); break;
        }
        p++;
    }
    buf_puts(b, "'");
}

/* The columns the longest start of s that takes at most max of them takes on a terminal, and
 * its length in bytes in *bytes (unless NULL): a CJK character or an emoji takes two, a
 * combining accent none (it stays with its character), anything else one.  Read as UTF-8
 * whatever the caller's locale (the server's names and tags are UTF-8, and the CLI never sets a
 * locale), by glibc's C.UTF-8 for this thread only; a byte that is not UTF-8 takes one column,
 * as the terminal shows it one replacement character. */
static size_t text_cut(const char *s, size_t max, size_t *bytes)
{
    static locale_t utf8;
    static int tried;
    if (!tried) {
        tried = 1;
        utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    }
    const char *from = s;
    size_t n = 0;
    if (!utf8) { /* no C.UTF-8 (not glibc 2.35 or later): characters, not bytes */
        for (; *s; s++) {
            int starts = ((unsigned char)*s & 0xc0) != 0x80;
            if (starts && n + 1 > max) break;
            n += starts;
        }
        if (bytes) *bytes = (size_t)(s - from);
        return n;
    }
    locale_t was = uselocale(utf8);
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t left = strlen(s);
    while (left) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s, left, &st), w;
        if (k == (size_t)-1 || k == (size_t)-2) {
            memset(&st, 0, sizeof st);
            k = w = 1;
        } else {
            int cw = wcwidth(wc);
            w = cw < 0 ? 1 : (size_t)cw;
        }
        /* A combining mark (no width) stays with the character before it. */
        if (n + w > max) break;
        n += w;
        s += k;
        left -= k;
    }
    uselocale(was);
    if (bytes) *bytes = (size_t)(s - from);
    return n;
}

/* The columns s takes on a terminal. */
static size_t text_width(const char *s)
{
    return text_cut(s, SIZE_MAX, NULL);
}

size_t cli_text_cut(const char *s, size_t max, size_t *bytes)
{
    return text_cut(s, max, bytes);
}

size_t cli_term_width(int fd)
{
    struct winsize ws;
    if (!isatty(fd)) return 0;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_col < 10000) return ws.ws_col;
    /* A terminal that says no width (some consoles, a CI runner's): $COLUMNS, as a shell sets
     * it. */
    const char *cols = getenv("COLUMNS");
    long n;
    return cols && cli_parse_count(cols, &n) == 0 && n < 10000 ? (size_t)n : 0;
}

void cli_table_init(cli_table *t, size_t ncols, const char *const *headers)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->headers = headers;
}

void cli_table_add(cli_table *t, const char *const *row)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
    }
    for (size_t i = 0; i < t->ncols; i++) {
        /* Tabs and newlines in a cell would break the columns; any other control character
         * (an escape sequence in a tag's value) is not let through to the terminal. */
        char *cell = xstrdup(row[i] ? row[i] : "-");
        for (char *p = cell; *p; p++)
            if (*p == '\n' || *p == '\t' || *p == '\r') *p = ' ';
        cli_text_plain(cell);
        t->cells[t->nrows * t->ncols + i] = cell;
    }
    t->nrows++;
}

void cli_table_fit(cli_table *t, size_t col, size_t width)
{
    t->fit_col = col < t->ncols ? col : 0;
    t->fit_width = width;
}

#define CUT_MARK "..."

static void render_row(const cli_table *t, const size_t *width, const char *const *row, buf *out)
{
    for (size_t i = 0; i < t->ncols; i++) {
        size_t w = text_width(row[i]);
        if (t->fit_width && i == t->fit_col && w > width[i]) {
            size_t bytes;
            w = text_cut(row[i], width[i] - strlen(CUT_MARK), &bytes) + strlen(CUT_MARK);
            buf_append(out, row[i], bytes);
            buf_puts(out, CUT_MARK);
        } else {
            buf_puts(out, row[i]);
        }
        if (i + 1 == t->ncols) break;
        for (size_t pad = w; pad < width[i] + 2; pad++) buf_puts(out, " ");
    }
    buf_puts(out, "\n");
}

void cli_table_render(const cli_table *t, buf *out)
{
    size_t *width = xcalloc(t->ncols, sizeof *width), total = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        width[i] = text_width(t->headers[i]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = text_width(t->cells[r * t->ncols + i]);
            if (w > width[i]) width[i] = w;
        }
        total += width[i] + (i ? 2 : 0);
    }
    if (t->fit_width && total > t->fit_width) {
        size_t c = t->fit_col, least = text_width(t->headers[c]);
        if (least < CLI_TABLE_FIT_MIN) least = CLI_TABLE_FIT_MIN;
        size_t over = total - t->fit_width;
        if (width[c] > least) width[c] = over < width[c] - least ? width[c] - over : least;
    }
    render_row(t, width, t->headers, out);
    for (size_t r = 0; r < t->nrows; r++)
        render_row(t, width, (const char *const *)t->cells + r * t->ncols, out);
    free(width);
}

void cli_table_free(cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

size_t cli_text_plain(char *s)
{
    size_t n = 0;
    char *to = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *to++ = '?';
            n++;
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            *to++ = '?'; /* U+0080..U+009F: CSI (U+009B) and the other C1 controls */
            p++;
            n++;
        } else {
            *to++ = (char)*p;
        }
    }
    *to = '\0';
    return n;
}
