/* cli_creds — see cli_creds.h. */
#include "cli/cli_creds.h"

#include <jansson.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>

#include "common/httpc.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

#define ECS_HOST "http://169.254.170.2"
/* Fetched again this long before they expire, as the SDKs refresh them. */
#define REFRESH_BEFORE_MS (5 * 60 * 1000LL)
#define FETCH_TIMEOUT_MS 5000
#define ANSWER_MAX ((size_t)64 << 10)

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *own(cli_creds *c, char *s)
{
    for (size_t i = 0; i < sizeof c->owned / sizeof *c->owned; i++)
        if (!c->owned[i]) return c->owned[i] = s;
    BARGE_ASSERT(!"more credential strings than room");
    return s;
}

/* The keys' strings, which a refresh replaces. */
static void free_owned(cli_creds *c)
{
    for (size_t i = 0; i < sizeof c->owned / sizeof *c->owned; i++) {
        free(c->owned[i]);
        c->owned[i] = NULL;
    }
}

void cli_creds_free(cli_creds *c)
{
    free_owned(c);
    free(c->region);
    free(c->region_from);
    free(c->process);
    free(c->process_from);
    c->region = c->region_from = c->process = c->process_from = NULL;
}

/* ---- the shared files ---- */

static char *trimmed(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

/* What barge reads of one profile's section of one of the shared files. */
typedef struct profile_vals {
    char *key, *secret, *token, *process, *region;
    int found; /* the section is there */
} profile_vals;

static void vals_free(profile_vals *v)
{
    free(v->key);
    free(v->secret);
    free(v->token);
    free(v->process);
    free(v->region);
    memset(v, 0, sizeof *v);
}

/* Section `section` of the INI file at path into v (left empty when the file or the section is
 * not there).  A later line of a name wins, as in the AWS CLI. */
static void read_section(const char *path, const char *section, profile_vals *v)
{
    char *text = path ? util_read_file(path) : NULL;
    if (!text) return;
    int in = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *l = trimmed(line);
        if (*l == '#' || *l == ';' || !*l) continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            if (end) *end = '\0';
            in = strcmp(trimmed(l + 1), section) == 0;
            v->found |= in;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in || !eq) continue;
        *eq = '\0';
        char *name = trimmed(l), *value = trimmed(eq + 1);
        char **slot = !strcmp(name, "aws_access_key_id")       ? &v->key
                      : !strcmp(name, "aws_secret_access_key") ? &v->secret
                      : !strcmp(name, "aws_session_token")     ? &v->token
                      : !strcmp(name, "credential_process")    ? &v->process
                      : !strcmp(name, "region")                ? &v->region
                                                               : NULL;
        if (slot && *value) {
            free(*slot);
            *slot = xstrdup(value);
        }
    }
    free(text);
}

/* The static keys of v (read from path) into c: 1; 0 when v has neither key; -1 (said) when
 * it has one without the other. */
static int take_keys(cli_creds *c, const char *prog, profile_vals *v, const char *path,
                     const char *profile)
{
    if (!v->key && !v->secret) return 0;
    if (!v->key || !v->secret) {
        fprintf(stderr, "%s: the profile %s in %s has %s without %s: give both\n", prog,
                profile, path, v->key ? "aws_access_key_id" : "aws_secret_access_key",
                v->key ? "aws_secret_access_key" : "aws_access_key_id");
        return -1;
    }
    c->key = own(c, v->key);
    c->secret = own(c, v->secret);
    c->token = v->token ? own(c, v->token) : NULL;
    v->key = v->secret = v->token = NULL;
    c->key_from = own(c, xasprintf("aws_access_key_id of the profile %s in %s", profile, path));
    c->secret_from = own(c, xasprintf("aws_secret_access_key of the profile %s in %s", profile,
                                      path));
    c->token_from = own(c, xasprintf("aws_session_token of the profile %s in %s", profile,
                                     path));
    return 1;
}

static int from_process(cli_creds *c, const char *prog);

/* The profile's keys, in the AWS CLI's order: the credentials file's keys, a
 * credential_process (of either file), the config file's keys ("[profile NAME]" there, but
 * "[default]").  1 when found; 0 when neither file has the profile, 2 when it is there without
 * any (a role_arn or sso_ profile, which barge does not read); -1 (said).  The config file's
 * region for the profile is kept in c either way. */
static char *shared_file(const char *var, const char *name)
{
    const char *home = env("HOME");
    return env(var) ? xstrdup(env(var)) : home ? xasprintf("%s/.aws/%s", home, name) : NULL;
}

/* The profile's section of the config file into v, its region kept in c; the file's path. */
static char *read_config(cli_creds *c, const char *profile, profile_vals *v)
{
    char *config = shared_file("AWS_CONFIG_FILE", "config");
    char *section = strcmp(profile, "default") ? xasprintf("profile %s", profile)
                                               : xstrdup("default");
    read_section(config, section, v);
    if (v->region) {
        c->region = v->region;
        c->region_from = xasprintf("the region of the profile %s in %s", profile, config);
        v->region = NULL;
    }
    free(section);
    return config;
}

static int from_profile(cli_creds *c, const char *prog, const char *profile)
{
    char *creds = shared_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    profile_vals in_creds = {0}, in_config = {0};
    read_section(creds, profile, &in_creds);
    char *config = read_config(c, profile, &in_config);
    int rc = take_keys(c, prog, &in_creds, creds, profile);
    if (rc == 0 && (in_creds.process || in_config.process)) {
        profile_vals *v = in_creds.process ? &in_creds : &in_config;
        c->process = v->process;
        v->process = NULL;
        c->process_from = xasprintf("the credential_process of the profile %s in %s", profile,
                                    v == &in_creds ? creds : config);
        rc = from_process(c, prog) == 0 ? 1 : -1;
    }
    if (rc == 0) rc = take_keys(c, prog, &in_config, config, profile);
    if (rc == 0 && (in_creds.found || in_config.found)) rc = 2;
    vals_free(&in_creds);
    vals_free(&in_config);
    free(creds);
    free(config);
    return rc;
}

/* ---- the container credentials endpoint ---- */

static long long epoch_ms_of(const char *iso)
{
    struct tm tm = {0};
    const char *end = iso ? strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end) return 0;
    return (long long)timegm(&tm) * 1000;
}

/* A sentence on stderr after prog; none when prog is NULL (a refresh that may fail quietly). */
static void say(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *prog, const char *fmt, ...)
{
    if (!prog) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Whether the token may go to url: over https, or plain http to this host or ECS's and EKS's
 * link-local endpoints, as the AWS SDKs allow (elsewhere it would cross a network in clear). */
static int endpoint_allowed(const char *url)
{
    if (!strncasecmp(url, "https://", 8)) return 1;
    if (strncasecmp(url, "http://", 7) != 0) return 0;
    const char *h = url + 7;
    static const char *const hosts[] = {"localhost", "[::1]", "169.254.170.2", "169.254.170.23",
                                        "[fd00:ec2::23]", "127."};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        size_t n = strlen(hosts[i]);
        if (strncasecmp(h, hosts[i], n) == 0 &&
            (hosts[i][n - 1] == '.' || !h[n] || strchr(":/", h[n])))
            return 1;
    }
    return 0;
}

/* 0, or 1 with a sentence on stderr (unless prog is NULL). */
static int from_container(cli_creds *c, const char *prog)
{
    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    char *url = full ? xstrdup(full) : xasprintf(ECS_HOST "%s", rel);
    const char *from = full ? "$AWS_CONTAINER_CREDENTIALS_FULL_URI"
                            : "$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
    if (!endpoint_allowed(url)) {
        say(prog, "%s is %s: the container credentials are fetched over https, or plain http "
                  "from this host or ECS's 169.254.170.2 only\n", from, url);
        free(url);
        return 1;
    }
    char *token = NULL;
    const char *token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (token_file) {
        token = util_read_file(token_file);
        if (!token) {
            say(prog, "the container credentials' token cannot be read from %s "
                      "($AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE): %s\n", token_file,
                strerror(errno));
            free(url);
            return 1;
        }
        token[strcspn(token, "\r\n")] = '\0';
    } else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
        token = xstrdup(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    }
    httpc_options o = {.connect_timeout_ms = FETCH_TIMEOUT_MS, .user_agent = "barge-cli",
                       .max_body = ANSWER_MAX};
    httpc *h = httpc_new(&o);
    int rc = 1;
    if (token && strpbrk(token, "\r\n")) {
        say(prog, "the container credentials' token holds a line break\n");
    } else if (!h) {
        say(prog, "cannot make an HTTP client to fetch the container credentials\n");
    } else {
        if (token) httpc_header(h, "Authorization: %s", token);
        httpc_rc got = httpc_get(h, url, FETCH_TIMEOUT_MS);
        size_t len;
        const char *body = httpc_body(h, &len);
        json_t *doc = got == HTTPC_OK && httpc_status(h) == 200 ? json_loadb(body, len, 0, NULL)
                                                                : NULL;
        const char *key = json_string_value(json_object_get(doc, "AccessKeyId"));
        const char *secret = json_string_value(json_object_get(doc, "SecretAccessKey"));
        const char *session = json_string_value(json_object_get(doc, "Token"));
        if (got != HTTPC_OK)
            say(prog, "the container credentials could not be fetched from %s (%s): %s\n", url,
                from, httpc_error(h));
        else if (httpc_status(h) != 200)
            say(prog, "the container credentials endpoint %s (%s) answered HTTP %ld: %.200s\n",
                url, from, httpc_status(h), body);
        else if (!key || !*key || !secret || !*secret)
            say(prog, "the container credentials endpoint %s (%s) answered without AccessKeyId "
                      "and SecretAccessKey\n", url, from);
        else {
            c->key = own(c, xstrdup(key));
            c->secret = own(c, xstrdup(secret));
            c->token = session && *session ? own(c, xstrdup(session)) : NULL;
            c->expire_ms = epoch_ms_of(json_string_value(json_object_get(doc, "Expiration")));
            c->key_from = c->secret_from = c->token_from = "the container credentials";
            rc = 0;
        }
        json_decref(doc);
    }
    httpc_free(h);
    free(token);
    free(url);
    return rc;
}

/* ---- a profile's credential_process ---- */

/* Runs c->process (through /bin/sh, whose quoting is the AWS CLI's for the commands people
 * write there) and takes the keys it prints, in the AWS CLI's shape ({"Version": 1,
 * "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}).  What it writes on stderr
 * reaches the user's.  0, or 1 with a sentence on stderr (unless prog is NULL). */
static int from_process(cli_creds *c, const char *prog)
{
    fflush(NULL);
    FILE *p = popen(c->process, "r");
    if (!p) {
        say(prog, "%s (%s) could not be started: %s\n", c->process_from, c->process,
            strerror(errno));
        return 1;
    }
    size_t len = 0, cap = 4096;
    char *out = xmalloc(cap);
    for (size_t n; (n = fread(out + len, 1, cap - len, p)) > 0;) {
        len += n;
        if (len == cap) {
            if (cap >= ANSWER_MAX) break;
            out = xrealloc(out, cap *= 2);
        }
    }
    int status = pclose(p);
    int rc = 1;
    json_error_t jerr;
    json_t *doc = NULL;
    if (len == cap) {
        /* Read no further, so it may have died of the pipe closed: this is what is wrong. */
        say(prog, "%s (%s) printed more than %zu bytes: it should print one JSON object of "
                  "credentials\n", c->process_from, c->process, (size_t)ANSWER_MAX);
    } else if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (status != -1 && WIFEXITED(status))
            say(prog, "%s (%s) exited with status %d\n", c->process_from, c->process,
                WEXITSTATUS(status));
        else if (status != -1 && WIFSIGNALED(status))
            say(prog, "%s (%s) was killed by signal %d\n", c->process_from, c->process,
                WTERMSIG(status));
        else
            say(prog, "%s (%s) could not be waited for: %s\n", c->process_from, c->process,
                strerror(errno));
    } else if (!(doc = json_loadb(out, len, 0, &jerr)) || !json_is_object(doc)) {
        say(prog, "%s (%s) did not print a JSON object of credentials%s%s\n", c->process_from,
            c->process, doc ? "" : ": ", doc ? "" : jerr.text);
    } else {
        json_t *version = json_object_get(doc, "Version");
        const char *key = json_string_value(json_object_get(doc, "AccessKeyId"));
        const char *secret = json_string_value(json_object_get(doc, "SecretAccessKey"));
        const char *session = json_string_value(json_object_get(doc, "SessionToken"));
        const char *expires = json_string_value(json_object_get(doc, "Expiration"));
        if (!json_is_integer(version) || json_integer_value(version) != 1)
            say(prog, "%s (%s) printed credentials without \"Version\": 1, the only version "
                      "there is\n", c->process_from, c->process);
        else if (!key || !*key || !secret || !*secret)
            say(prog, "%s (%s) printed credentials without AccessKeyId and SecretAccessKey\n",
                c->process_from, c->process);
        else if (expires && !epoch_ms_of(expires))
            say(prog, "%s (%s) printed an Expiration that is not a time such as "
                      "2026-01-02T03:04:05Z\n", c->process_from, c->process);
        else {
            c->key = own(c, xstrdup(key));
            c->secret = own(c, xstrdup(secret));
            c->token = session && *session ? own(c, xstrdup(session)) : NULL;
            c->expire_ms = expires ? epoch_ms_of(expires) : 0;
            c->key_from = c->secret_from = c->token_from = c->process_from;
            rc = 0;
        }
    }
    json_decref(doc);
    free(out);
    return rc;
}

static int load(cli_creds *c, const char *prog, const char *profile)
{
    const char *named = env("AWS_PROFILE"), *by = "$AWS_PROFILE";
    if (!named && (named = env("AWS_DEFAULT_PROFILE"))) by = "$AWS_DEFAULT_PROFILE";
    if (profile) {
        named = profile;
        by = "--profile";
    }
    /* A profile given on the command line is what this command is to run as: the AWS CLI's
     * --profile passes over the environment's keys (set for another program, or left from an
     * earlier session), which $AWS_PROFILE does not. */
    const char *key = profile ? NULL : env("AWS_ACCESS_KEY_ID");
    const char *secret = profile ? NULL : env("AWS_SECRET_ACCESS_KEY");
    c->key_from = "$AWS_ACCESS_KEY_ID";
    c->secret_from = "$AWS_SECRET_ACCESS_KEY";
    c->token_from = "$AWS_SESSION_TOKEN";
    if (key || secret) {
        if (!key || !secret) {
            fprintf(stderr, "%s: %s is set without %s: set both, or neither (a server started "
                            "with --dev takes any key)\n", prog,
                    key ? "$AWS_ACCESS_KEY_ID" : "$AWS_SECRET_ACCESS_KEY",
                    key ? "$AWS_SECRET_ACCESS_KEY" : "$AWS_ACCESS_KEY_ID");
            return 2;
        }
        c->key = key;
        c->secret = secret;
        c->token = env("AWS_SESSION_TOKEN");
        /* The profile's region still counts, as for the AWS CLI. */
        profile_vals v = {0};
        free(read_config(c, named ? named : "default", &v));
        vals_free(&v);
        return 0;
    }
    /* AWS_PROFILE's, or the default profile, of the shared files; then the container's. */
    int rc = from_profile(c, prog, named ? named : "default");
    if (rc < 0) return 2;
    if (rc == 1) return 0;
    if (named && rc == 2) {
        fprintf(stderr, "%s: the profile %s (%s) has no aws_access_key_id and "
                        "aws_secret_access_key: barge reads a profile's keys and credential_process "
                        "only (not role_arn or sso_ settings)\n", prog, named, by);
        return 2;
    }
    if (named) {
        fprintf(stderr, "%s: the profile %s (%s) is not in the shared credentials or config "
                        "file (~/.aws/credentials, ~/.aws/config, or where "
                        "$AWS_SHARED_CREDENTIALS_FILE and $AWS_CONFIG_FILE say)\n", prog, named,
                by);
        return 2;
    }
    if (env("AWS_CONTAINER_CREDENTIALS_FULL_URI") || env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
        return from_container(c, prog);
    /* A server in --dev accepts any key, so the CLI works out of the box without AWS setup. */
    c->key = "barge";
    c->secret = "barge";
    c->token = NULL;
    c->is_default = 1;
    return 0;
}

int cli_creds_load(cli_creds *c, const char *prog, const char *profile)
{
    int rc = load(c, prog, profile);
    /* The command ends without a context to close. */
    if (rc) cli_creds_free(c);
    return rc;
}

int cli_creds_fresh(cli_creds *c, const char *prog)
{
    if (!c->expire_ms) return 0;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    long long now = (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
    if (now < c->expire_ms - REFRESH_BEFORE_MS) return 0;
    /* The keys in use stay until new ones came; until they expire, a fetch that failed is
     * tried again at the next request, quietly. */
    char *kept[sizeof c->owned / sizeof *c->owned];
    long long expire = c->expire_ms;
    const char *key = c->key, *secret = c->secret, *token = c->token;
    memcpy(kept, c->owned, sizeof kept);
    memset(c->owned, 0, sizeof c->owned);
    int expired = now >= expire;
    int failed = c->process ? from_process(c, expired ? prog : NULL)
                            : from_container(c, expired ? prog : NULL);
    if (failed) {
        free_owned(c);
        memcpy(c->owned, kept, sizeof kept);
        c->key = key;
        c->secret = secret;
        c->token = token;
        c->expire_ms = expire;
        return expired;
    }
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) free(kept[i]);
    return 0;
}
