#include "cli/cli_http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_text.h"
#include "common/httpc.h"
#include "common/mem.h"
#include "common/sigv4.h"
#include "common/util.h"

int cli_progress_open;

void cli_progress_break(void)
{
    if (!cli_progress_open) return;
    fputc('\n', stderr);
    cli_progress_open = 0;
}

#define DEFAULT_ENDPOINT "http://127.0.0.1:8900"
/* The longest answer taken: far past any the server gives (a page of 1,000 jobs, 100 described,
 * a megabyte of log events), so that something else at the endpoint cannot fill the memory. */
#define CLI_ANSWER_MAX ((size_t)256 << 20)

static cli_wire wire;
static int wired;

void cli_set_wire(const cli_wire *w)
{
    wired = w != NULL;
    if (w) wire = *w;
}

long long cli_now_ms(void)
{
    return wired ? wire.now_ms(wire.arg) : util_mono_ms();
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

void cli_ctx_init(cli_ctx *c, const char *prog)
{
    memset(c, 0, sizeof *c);
    c->prog = prog;
    /* AWS_ENDPOINT_URL_BATCH is what a job with a role is given (agent_creds.h), and what the
     * AWS CLI reads: `barge submit` in such a job reaches its server. */
    static const char *const endpoints[] = {"BARGE_ENDPOINT", "AWS_ENDPOINT_URL_BATCH",
                                            "AWS_ENDPOINT_URL"};
    static const char *const endpoints_from[] = {"$BARGE_ENDPOINT", "$AWS_ENDPOINT_URL_BATCH",
                                                 "$AWS_ENDPOINT_URL"};
    c->endpoint = DEFAULT_ENDPOINT;
    for (size_t i = 0; i < sizeof endpoints / sizeof *endpoints; i++)
        if (env_or(endpoints[i], NULL)) {
            c->endpoint = env_or(endpoints[i], NULL);
            c->endpoint_from = endpoints_from[i];
            break;
        }
    /* Without either, the profile's region in the config file, or us-east-1 (cli_ctx_open). */
    c->region = env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION", NULL));
    c->region_from = env_or("AWS_REGION", NULL) ? "$AWS_REGION" : "$AWS_DEFAULT_REGION";
    /* The keys are found when the command opens its connection (cli_creds.h). */
    c->ca_file = env_or("AWS_CA_BUNDLE", NULL);
}

/* Whether s holds a control character (or DEL): a CR or LF in a header's value would end the
 * header and start another. */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

/* A port: 1 to 65535, digits only. */
static int port_ok(const char *p, size_t n)
{
    if (n == 0 || n > 5) return 0;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i])) return 0;
        v = v * 10 + (p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* HOST, HOST:PORT, [IPV6] or [IPV6]:PORT: what curl would otherwise refuse with its own words,
 * or take for something else.  A USER:PASSWORD@ is refused before (cli_ctx_open). */
static int authority_ok(const char *a, size_t n)
{
    if (n == 0) return 0;
    const char *end = a + n, *host_end;
    if (*a == '[') {
        host_end = memchr(a, ']', n);
        if (!host_end || host_end == a + 1) return 0;
        host_end++;
    } else {
        host_end = memchr(a, ':', n);
        if (!host_end) host_end = end;
        if (host_end == a || memchr(a, ']', n)) return 0;
    }
    if (host_end == end) return 1;
    return *host_end == ':' && port_ok(host_end + 1, (size_t)(end - host_end - 1));
}

int cli_utf8_refused(const char *prog, const char *what, const char *v, int show,
                     const char *why)
{
    const unsigned char *p = (const unsigned char *)v;
    for (size_t n; *p && (n = util_utf8_len(p)) != 0;) p += n;
    if (!*p) return 0;
    char *shown = xstrdup(v);
    util_utf8_scrub(shown);
    if (show)
        fprintf(stderr, "%s: %s ('%.200s', '?' where a byte is not UTF-8) is not valid UTF-8 "
                        "text; %s: give it in UTF-8\n", prog, what, shown, why);
    else
        fprintf(stderr, "%s: %s is not valid UTF-8 text; %s: give it in UTF-8\n", prog, what,
                why);
    free(shown);
    return 1;
}

/* The region and the credentials go into every request's headers (the Authorization's scope,
 * X-Amz-Security-Token): one that could not be sent as they are is refused before any is. */
static int credentials_ok(const cli_ctx *c)
{
    const char *bad = NULL, *what = NULL;
    if (!sigv4_region_valid(c->region)) {
        /* Not shown: it may be a megabyte, or hold control characters.  Its length is, when
         * that is what is wrong with it. */
        size_t n = strlen(c->region);
        char said[64] = "";
        if (!n || n > SIGV4_REGION_MAX)
            snprintf(said, sizeof said, n ? " (it is %zu characters long)" : " (it is empty)", n);
        fprintf(stderr, "%s: %s must be a region such as us-east-1: lowercase letters, digits "
                        "and '-' (not first or last), at most %d characters%s\n",
                c->prog, c->region_from, SIGV4_REGION_MAX, said);
        return 0;
    }
    if (has_control(c->access_key) || strpbrk(c->access_key, " /,")) {
        bad = c->creds.key_from;
        what = "an access key id, without spaces, slashes, commas or control characters";
    } else if (has_control(c->secret_key)) {
        bad = c->creds.secret_from;
        what = "a secret key, without control characters";
    } else if (c->session_token && has_control(c->session_token)) {
        bad = c->creds.token_from;
        what = "a session token, without control characters";
    }
    if (!bad) return 1;
    fprintf(stderr, "%s: %s must be %s\n", c->prog, bad, what);
    return 0;
}

/* The values taken from the environment are checked as cli_main checks the arguments: each
 * goes into the request (the endpoint's path, the region and the access key into the signed
 * headers) or its signature, and a byte that is not UTF-8 would come back from the server as
 * a confusing error about something else ("POST /?/v1/listjobs: no such operation").  Those
 * given as options were checked as arguments. */
static int environment_ok(const cli_ctx *c)
{
    static const char why[] = "it goes into every request or its signature, whose text is "
                              "UTF-8";
    const struct {
        const char *from, *v;
        int show;
    } vars[] = {
        {c->endpoint_from, c->endpoint, 1},
        {c->region_from, c->region, 1},
        {c->creds.key_from, c->access_key, 1},
        {c->creds.secret_from, c->secret_key, 0},
        {c->creds.token_from, c->session_token, 0},
    };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (vars[i].from && vars[i].from[0] == '$' && vars[i].v &&
            cli_utf8_refused(c->prog, vars[i].from, vars[i].v, vars[i].show, why))
            return 0;
    return 1;
}

static void use_creds(cli_ctx *c)
{
    c->access_key = c->creds.key;
    c->secret_key = c->creds.secret;
    c->session_token = c->creds.token;
}

static int open_checked(cli_ctx *c)
{
    const char *e = c->endpoint;
    size_t scheme = util_http_scheme_len(e);
    size_t auth_len = scheme ? strcspn(e + scheme, "/?#") : 0;
    const char *rest = e + scheme + auth_len;
    const char *from = c->endpoint_from ? c->endpoint_from : "the endpoint";
    /* --profile '' names no profile: an unset shell variable, not the default profile. */
    if (c->profile && !*c->profile) {
        fprintf(stderr, "%s: --profile needs a profile's name, one of ~/.aws/credentials or "
                        "~/.aws/config; leave it out for $AWS_PROFILE's, or the default\n",
                c->prog);
        return 2;
    }
    int crc = cli_creds_load(&c->creds, c->prog, c->profile);
    if (crc) return crc;
    use_creds(c);
    if (!c->region) {
        c->region = c->creds.region ? c->creds.region : "us-east-1";
        c->region_from = c->creds.region ? c->creds.region_from : "the default region";
    }
    if (!environment_ok(c)) return 2;
    /* curl would send USER:PASSWORD as Basic authorization, and the Host header (signed, and
     * compared by the server with the one it is sent) would be refused with words about Host.
     * The URL is not shown: it holds a password. */
    if (scheme && memchr(e + scheme, '@', auth_len)) {
        fprintf(stderr, "%s: %s must not hold a user name or password (USER:PASSWORD@ before "
                        "the host): requests are signed with $AWS_ACCESS_KEY_ID and "
                        "$AWS_SECRET_ACCESS_KEY instead; give it as http://HOST:PORT\n",
                c->prog, from);
        return 2;
    }
    if (!scheme || !authority_ok(e + scheme, auth_len) || strchr(rest, '?') ||
        strchr(rest, '#') || strpbrk(e, " ") || has_control(e)) {
        fprintf(stderr, "%s: %s '%s' is not a URL like %s\n", c->prog, from, e,
                DEFAULT_ENDPOINT);
        return 2;
    }
    if (!credentials_ok(c)) return 2;
    /* $AWS_CA_BUNDLE empty is not set (env_or); --ca-file '' is a name left out. */
    if (c->ca_file && !*c->ca_file) {
        fprintf(stderr, "%s: --ca-file needs a file name: the PEM certificates an https:// "
                        "endpoint is verified against; leave it out for $AWS_CA_BUNDLE or the "
                        "system's CA bundle\n", c->prog);
        return 2;
    }
    /* The CA file is for an https:// endpoint only: with http:// there is nothing to verify
     * (a CA bundle set for other programs' sake is no error here). */
    if (scheme != 8) c->ca_file = NULL;
    if (c->ca_file && access(c->ca_file, R_OK) != 0) {
        fprintf(stderr, "%s: the CA file %s cannot be read (%s); it is set by --ca-file or "
                        "$AWS_CA_BUNDLE\n", c->prog, c->ca_file, strerror(errno));
        return 2;
    }
    c->base = util_http_scheme_lower(xstrndup(e, scheme + auth_len));
    c->host = xstrndup(e + scheme, auth_len);
    /* A trailing slash on the endpoint is common and means nothing; any other path is a
     * proxy's that serves barge under it, put before every operation's. */
    size_t plen = strlen(rest);
    while (plen && rest[plen - 1] == '/') plen--;
    c->prefix = xstrndup(rest, plen);
    return 0;
}

int cli_ctx_open(cli_ctx *c)
{
    int rc = open_checked(c);
    /* Some commands end at once without closing what they could not open. */
    if (rc) cli_ctx_close(c);
    return rc;
}

void cli_ctx_close(cli_ctx *c)
{
    cli_creds_free(&c->creds);
    httpc_free(c->http);
    free(c->base);
    free(c->host);
    free(c->prefix);
    c->http = NULL;
    c->base = c->host = c->prefix = NULL;
}

void cli_error_free(cli_error *e)
{
    free(e->type);
    free(e->message);
    memset(e, 0, sizeof *e);
}

/* The type an error answer names in its x-amzn-ErrorType header: AWS puts the error's type
 * there, and some errors have no body to carry it.  "ClientException:http://internal.amazon.com/
 * coral/..." names the type first. */
static char *header_type(const char *v)
{
    if (!v) return NULL;
    size_t vl = strcspn(v, ": \t\r\n\v\f");
    return vl ? xstrndup(v, vl) : NULL;
}

/* Reads an error answer: the type from the header (htype, fresh or NULL, taken) or the body's
 * __type (which may be "namespace#Type"), the message from "message" or "Message". */
static void parse_error(long status, char *htype, const char *body, size_t len, cli_error *err)
{
    err->http_status = status;
    err->type = htype;
    json_t *j = len ? json_loadb(body, len, JSON_ALLOW_NUL, NULL) : NULL;
    if (json_is_object(j)) {
        const char *t = json_string_value(json_object_get(j, "__type"));
        if (!err->type && t && *t) {
            const char *hash = strrchr(t, '#');
            err->type = xstrdup(hash ? hash + 1 : t);
        }
        const char *m = json_string_value(json_object_get(j, "message"));
        if (!m) m = json_string_value(json_object_get(j, "Message"));
        if (m) err->message = xstrdup(m);
    }
    json_decref(j);
    if (!err->message) {
        /* Not an AWS-shaped error: a proxy or another program answered.  Show the start of
         * what it said, on one line. */
        char snippet[161] = "";
        size_t n = len < sizeof snippet - 1 ? len : sizeof snippet - 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)body[i];
            snippet[i] = (char)(ch < 0x20 ? ' ' : ch);
        }
        snippet[n] = '\0';
        if (n == sizeof snippet - 1) util_utf8_cut(snippet); /* not half a character at the end */
        err->message = n ? xasprintf("HTTP %ld: %s", status, snippet)
                         : xasprintf("HTTP %ld with an empty body", status);
    }
    /* Whoever answered wrote these, and they go to a terminal: no escape sequence of theirs
     * may move the cursor, retitle the window or hide what is printed after them. */
    char *shown[] = {err->type, err->message};
    for (size_t i = 0; i < 2; i++)
        if (shown[i]) {
            util_utf8_scrub(shown[i]);
            cli_text_plain(shown[i]);
        }
}

static char *lower(const char *s)
{
    char *out = xstrdup(s);
    for (char *p = out; *p; p++) *p = (char)tolower((unsigned char)*p);
    return out;
}

/* The command's abandon hook, as httpc calls it while a request is in flight. */
static int call_abandoned(void *ctx)
{
    cli_ctx *c = ctx;
    return c->abandon && c->abandon(c);
}

/* Says that the call in flight has had no answer for a while, beyond the wait it asked for
 * (c->expect_ms): first after CLI_SILENT_FIRST_MS, then every CLI_SILENT_AGAIN_MS. */
static void say_silent(cli_ctx *c)
{
    long long now = cli_now_ms(), quiet = now - c->sent_ms;
    if (!c->sent_ms || quiet - c->expect_ms < CLI_SILENT_FIRST_MS) return;
    if (c->silent_said_ms && now - c->silent_said_ms < CLI_SILENT_AGAIN_MS) return;
    cli_progress_break();
    fprintf(stderr, "%s: the server at %s has not answered for %lld seconds; still waiting for "
                    "it (up to %d seconds)\n", c->prog, c->endpoint, quiet / 1000,
            CLI_CALL_TIMEOUT_MS / 1000);
    c->silent_said_ms = now;
    c->silent = 1;
}

/* The check httpc makes at least once a second while a request is in flight: the silence
 * of the server, then the command's abandon hook. */
static int in_flight(void *ctx)
{
    say_silent(ctx);
    return call_abandoned(ctx);
}

static void set_abandoned(cli_error *err)
{
    memset(err, 0, sizeof *err);
    err->abandoned = 1;
    err->message = xstrdup("the call was given up");
}

/* Whether the https:// endpoint's handshake, which failed with message, met a server that
 * speaks plain HTTP.  OpenSSL reads the start of its answer to the ClientHello ("HTTP/1.1 400")
 * as a TLS record of no known version, a "wrong version number"; a server that closes at once
 * leaves only a failed read (SSL_ERROR_SYSCALL), and then a plain request to the same address
 * tells: any answer, whatever its status. */
static int answers_plain_http(const cli_ctx *c, const char *message)
{
    /* Only a handshake that failed, not a connection that was refused or timed out. */
    if (strncmp(c->base, "https://", 8) != 0 ||
        !(strstr(message, "SSL") || strstr(message, "TLS") || strstr(message, "handshake")))
        return 0;
    if (strstr(message, "wrong version number")) return 1;
    httpc_options o = {.connect_timeout_ms = 2000, .user_agent = "barge-cli", .max_body = 4096,
                       .discard_body = 1};
    httpc *h = httpc_new(&o);
    char *url = xasprintf("http://%s/", c->host);
    int plain = h && httpc_post(h, url, "{}", 2, 3000) == HTTPC_OK;
    free(url);
    httpc_free(h);
    return plain;
}

/* One try of cli_call. */
static int call_once(cli_ctx *c, const char *service, const char *op, json_t *req,
                     json_t **resp, cli_error *err)
{
    memset(err, 0, sizeof *err);
    *resp = NULL;
    if (call_abandoned(c)) {
        set_abandoned(err);
        return -1;
    }
    if (!c->http && !wired) {
        /* An interruptible handle, checked every second while a request is in flight: for a
         * server that has gone silent (say_silent), and for the command's abandon hook. */
        httpc_options o = {.connect_timeout_ms = 10000, .user_agent = "barge-cli",
                           .ca_file = c->ca_file, .abandon = in_flight, .ctx = c,
                           .max_body = CLI_ANSWER_MAX};
        c->http = httpc_new(&o);
        if (!c->http) {
            err->message = xstrdup("cannot initialise libcurl");
            return -1;
        }
    }
    int logs = strcmp(service, "logs") == 0, barge = strcmp(service, "barge") == 0;
    char *path;
    char *target = NULL;
    if (logs) {
        path = xasprintf("%s/", c->prefix);
        target = xasprintf("Logs_20140328.%s", op);
    } else {
        char *lop = lower(op);
        path = xasprintf("%s%s/v1/%s", c->prefix, barge ? "/barge" : "", lop);
        free(lop);
    }
    char *body = json_dumps(req, JSON_COMPACT);
    if (!body) body = xstrdup("{}");
    const char *ctype = logs ? "application/x-amz-json-1.1" : "application/json";

    int fresh = cli_creds_fresh(&c->creds, c->prog);
    use_creds(c);
    if (fresh != 0) {
        err->message = xstrdup("the container credentials could not be fetched again");
        err->transient = 1; /* asked again, as a server that does not answer is */
        free(body);
        free(path);
        free(target);
        return -1;
    }
    sigv4_header hs[3] = {{"Host", c->host}, {"Content-Type", ctype}, {"X-Amz-Target", target}};
    sigv4_request sreq = {"POST", path, NULL, hs, logs ? 3 : 2, body, strlen(body)};
    /* barge's own operations are signed as the Batch API's are. */
    sigv4_credentials cred = {c->access_key, c->secret_key, c->session_token, c->region,
                              barge ? "batch" : service};
    sigv4_signed sig;
    char sigerr[200];
    int rc = -1;
    char *url = xasprintf("%s%s", c->base, path);
    if (sigv4_sign(&sreq, &cred, time(NULL), &sig, sigerr, sizeof sigerr) < 0) {
        err->message = xstrdup(sigerr);
        goto done;
    }

    long status;
    const char *answer;
    size_t len;
    char *htype;
    if (wired) {
        const char *t = NULL;
        c->gone = wire.exchange(wire.arg, service, op, body, &status, &t, &answer, &len) < 0;
        if (c->gone) {
            err->unreachable = err->transient = 1;
            err->message = xstrdup("no answer");
            goto done;
        }
        htype = header_type(t);
    } else {
        httpc *h = c->http;
        httpc_clear_headers(h);
        httpc_header(h, "Host: %s", c->host);
        httpc_header(h, "Content-Type: %s", ctype);
        if (target) httpc_header(h, "X-Amz-Target: %s", target);
        httpc_header(h, "X-Amz-Date: %s", sig.amz_date);
        if (c->session_token) httpc_header(h, "X-Amz-Security-Token: %s", c->session_token);
        httpc_header(h, "Authorization: %s", sig.authorization);
        /* A minute means the server is stuck, and the user should hear about it rather than
         * wait forever; it hears sooner that the server is silent (say_silent). */
        c->sent_ms = cli_now_ms();
        c->silent_said_ms = 0;
        httpc_rc hrc = httpc_post(h, url, body, strlen(body), CLI_CALL_TIMEOUT_MS);
        c->sent_ms = 0;
        c->gone = hrc != HTTPC_OK;
        if (hrc == HTTPC_ABORTED) {
            set_abandoned(err);
            goto done;
        }
        if (hrc != HTTPC_OK) {
            err->unreachable = hrc == HTTPC_UNREACHABLE;
            err->untrusted = hrc == HTTPC_UNTRUSTED;
            err->message = xstrdup(httpc_error(h));
            err->plain_http = err->unreachable && answers_plain_http(c, err->message);
            /* No answer, or half of one: a server restarting, or one that went quiet. */
            err->transient = !err->untrusted && !err->plain_http && hrc != HTTPC_TOO_LONG;
            goto done;
        }
        status = httpc_status(h);
        answer = httpc_body(h, &len);
        char *v = httpc_header_value(h, "x-amzn-ErrorType");
        htype = header_type(v);
        free(v);
    }
    if (status < 200 || status > 299) {
        parse_error(status, htype, answer, len, err);
        /* A fault of the server's, a standby's 503, or a rate limit (AWS Batch's 429,
         * CloudWatch Logs' 400 ThrottlingException): what the AWS SDKs try again. */
        err->transient = status >= 500 || status == 429 ||
                         (err->type && strcmp(err->type, "ThrottlingException") == 0);
        goto done;
    }
    free(htype);
    /* Something other than a barge server may answer 200 too: it is not taken for an answer. */
    json_t *j = cli_answer_read(service, op, answer, len, &err->message);
    if (!j) {
        err->http_status = status;
        err->foreign = 1;
        goto done;
    }
    *resp = j;
    rc = 0;
done:
    sigv4_signed_free(&sig);
    free(url);
    free(body);
    free(path);
    free(target);
    return rc;
}

/* A wait with an abandon hook ends at least this often, so that the hook sees what no signal
 * announces (the reader of stdout gone, a deadline passed): as httpc does for a request. */
#define WAIT_SLICE_MS 1000

int cli_wait(cli_ctx *c, long ms)
{
    long long end = util_mono_ms() + ms;
    for (;;) {
        if (c->before_wait && !c->in_hook) {
            c->in_hook = 1;
            c->before_wait(c);
            c->in_hook = 0;
        }
        if (call_abandoned(c)) return -1;
        if (wired) {
            /* The stand-in's wait moves its clock; no time passes. */
            wire.sleep_ms(wire.arg, ms);
            return 0;
        }
        long long left = end - util_mono_ms();
        if (left <= 0) return 0;
        if (c->abandon && left > WAIT_SLICE_MS) left = WAIT_SLICE_MS;
        /* nanosleep is never restarted after a signal's handler, whatever SA_RESTART says: a
         * signal ends it early, and the hooks see the signal at once. */
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The first wait before a patient call tries again, and the longest: a restart is usually
 * over within a second, and a server that takes longer is asked every few seconds. */
#define RETRY_FIRST_MS 250
#define RETRY_MOST_MS 4000

int cli_call(cli_ctx *c, const char *service, const char *op, json_t *req, json_t **resp,
             cli_error *err)
{
    long wait_ms = RETRY_FIRST_MS;
    int tries = 0;
    for (;;) {
        long long began = cli_now_ms();
        tries++;
        int rc = call_once(c, service, op, req, resp, err);
        if (err->abandoned) return rc;
        long long now = cli_now_ms();
        if (rc == 0 || !err->transient) {
            /* An answer, even a refusal: the server is there. */
            if (c->away || c->silent) {
                cli_progress_break();
                fprintf(stderr, "%s: the server at %s answers again\n", c->prog, c->endpoint);
            }
            c->away = c->silent = 0;
            c->answered_ms = now;
            if (rc) cli_fields_rename(c, req, err);
            return rc;
        }
        /* A call made by the before_wait hook is tried once: it runs inside a wait, where a
         * patience of its own would nest in another's.  The hook makes it again if it must. */
        /* A one-shot command tries again what the AWS SDKs do (three tries in all, with a
         * back-off): a server's 503, when nothing was done (a standby, a leader changing,
         * or a load balancer with no server to send to), or a rate limit's refusal. */
        if (!c->patient && !c->in_hook && tries < 3 &&
            (err->http_status == 503 || err->http_status == 429)) {
            cli_error_free(err);
            if (cli_wait(c, tries == 1 ? 1000 : 2000) < 0) {
                set_abandoned(err);
                return -1;
            }
            continue;
        }
        if (!c->patient || c->in_hook) return rc;
        /* Before any answer, only a server that was reached is waited for (a connection cut
         * by its restart): a refused connection is a wrong address far more often. */
        long long since = c->answered_ms;
        if (!since) {
            if (err->unreachable) return rc;
            /* From when the failed call was made: one that had no answer for the minute a call
             * may take has been without one that long already (patience from its end would
             * double the minute). */
            if (!c->first_failed_ms) c->first_failed_ms = began;
            since = c->first_failed_ms;
        }
        long long left = since + CLI_PATIENCE_S * 1000LL - now;
        if (left <= 0) {
            err->given_up = 1;
            return rc;
        }
        if (!c->away) {
            cli_progress_break();
            fprintf(stderr, "%s: the server at %s is unavailable (%s%s%s); trying again for up "
                            "to %d seconds\n", c->prog, c->endpoint, err->type ? err->type : "",
                    err->type ? ": " : "", err->message, CLI_PATIENCE_S);
        }
        c->away = 1;
        cli_error_free(err);
        if (cli_wait(c, wait_ms < left ? wait_ms : (long)left) < 0) {
            set_abandoned(err);
            return -1;
        }
        wait_ms = wait_ms * 2 < RETRY_MOST_MS ? wait_ms * 2 : RETRY_MOST_MS;
    }
}

void cli_error_print(const cli_ctx *c, const char *op, const cli_error *e)
{
    /* Whoever gave the call up says why. */
    if (e->abandoned) return;
    if (e->given_up) {
        cli_progress_break();
        fprintf(stderr, "%s: the server at %s has been unavailable for %d seconds (%s%s%s); "
                        "giving up\n", c->prog, c->endpoint, CLI_PATIENCE_S,
                e->type ? e->type : "", e->type ? ": " : "", e->message);
    } else if (e->untrusted) {
        fprintf(stderr, "%s: refusing to talk to %s: %s.\n"
                        "Give the certificate of the CA that signed the server's (or the "
                        "server's own) with --ca-file FILE or $AWS_CA_BUNDLE.\n",
                c->prog, c->endpoint, e->message);
    } else if (e->plain_http) {
        char *plain = xasprintf("http://%s", c->endpoint + 8);
        fprintf(stderr, "%s: the server at %s answers plain HTTP, not HTTPS (the TLS "
                        "handshake failed); give its address as %s\n", c->prog, c->endpoint,
                plain);
        free(plain);
    } else if (e->unreachable) {
        fprintf(stderr, "%s: cannot reach a barge server at %s (%s).\n"
                        "Start one with `barge server --dev`, or point --endpoint (or "
                        "$BARGE_ENDPOINT) at a running server.\n",
                c->prog, c->endpoint, e->message);
    } else if (e->foreign) {
        fprintf(stderr, "%s: %s: %s; is %s a barge server?\n", c->prog, c->endpoint, e->message,
                c->endpoint_from ? c->endpoint_from : "it");
    } else if (!e->http_status) {
        fprintf(stderr, "%s: %s failed against %s: %s\n", c->prog, op, c->endpoint, e->message);
    } else if (e->type && strcmp(e->type, "ClientException") == 0) {
        /* The caller's mistake: the server's sentence names the field and what is wrong. */
        fprintf(stderr, "%s: %s\n", c->prog, e->message);
        /* An endpoint's path is for a proxy that serves barge under it; a barge server
         * answered, and has no operation there. */
        if (c->prefix && *c->prefix && strstr(e->message, "no such operation"))
            fprintf(stderr, "%s: the endpoint %s has a path (%s), which a barge server serves "
                            "nothing under: give its scheme, host and port only, unless a "
                            "proxy serves barge under that path\n", c->prog, c->endpoint,
                    c->prefix);
    } else if (e->type) {
        fprintf(stderr, "%s: %s: %s\n", c->prog, e->type, e->message);
        /* No keys were found and barge's stand-in was sent: a server that checks keys wants
         * one of its own. */
        if (c->creds.is_default && (strcmp(e->type, "UnrecognizedClientException") == 0 ||
                                 strcmp(e->type, "InvalidSignatureException") == 0))
            fprintf(stderr, "%s: no credentials were found (AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY, a profile of ~/.aws/credentials, the "
                            "container's), and the server checks keys: give one of its "
                            "--credentials file\n", c->prog);
    } else if (e->http_status == 404) {
        fprintf(stderr, "%s: the server at %s does not offer %s (%s); is it a barge server, "
                        "and a recent one?\n", c->prog, c->endpoint, op, e->message);
    } else {
        fprintf(stderr, "%s: %s failed: %s\n", c->prog, op, e->message);
    }
}

int cli_batch(cli_ctx *c, const char *op, json_t *req, json_t **resp)
{
    cli_error e;
    if (cli_call(c, "batch", op, req, resp, &e) == 0) return 0;
    cli_error_print(c, op, &e);
    cli_error_free(&e);
    return 1;
}
