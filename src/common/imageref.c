/* imageref — see imageref.h. */
#include "common/imageref.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define TAG_MAX 128
/* Digests shorter than this are not digests (the distribution project's limit). */
#define DIGEST_HEX_MIN 32

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | "__" | "-"+ */
static const char *check_component(const char *s, size_t n)
{
    if (n == 0)
        return "a repository name has an empty component (two '/' in a row, or one at an end)";
    size_t i = 0;
    while (i < n) {
        if (!is_lower_alnum(s[i])) {
            if (s[i] >= 'A' && s[i] <= 'Z') return "repository names must be lowercase";
            return "a repository name component must start and end with a letter or digit, "
                   "joined only by '.', '_', '__' or dashes";
        }
        while (i < n && is_lower_alnum(s[i])) i++;
        if (i == n) break;
        size_t sep = i;
        if (s[i] == '-') {
            while (i < n && s[i] == '-') i++;
        } else if (s[i] == '_' && i + 1 < n && s[i + 1] == '_') {
            i += 2;
        } else if (s[i] == '_' || s[i] == '.') {
            i++;
        } else if (s[i] >= 'A' && s[i] <= 'Z') {
            return "repository names must be lowercase";
        } else {
            return "a repository name may hold only lowercase letters, digits, '.', '_', '-' "
                   "and '/'";
        }
        if (i == n || i == sep)
            return "a repository name component must end with a letter or digit";
    }
    return NULL;
}

/* domain := host [':' port]; host := domain-name | IPv4 | '[' IPv6 ']' */
static const char *check_domain(const char *s, size_t n)
{
    size_t host_end = n;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) return "a registry's IPv6 address must be closed with ']'";
        for (const char *p = s + 1; p < close; p++)
            if (!is_hex(*p) && *p != ':' && *p != '.')
                return "a registry's IPv6 address is not valid";
        if (close == s + 1) return "a registry's IPv6 address is empty";
        host_end = (size_t)(close - s) + 1;
        if (host_end < n && s[host_end] != ':') return "a registry address must be HOST or HOST:PORT";
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon) host_end = (size_t)(colon - s);
        /* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9], joined by '.' */
        size_t start = 0;
        for (size_t i = 0; i <= host_end; i++) {
            if (i < host_end && s[i] != '.') {
                if (!is_alnum(s[i]) && s[i] != '-')
                    return "a registry host may hold only letters, digits, '-' and '.'";
                continue;
            }
            if (i == start) return "a registry host has an empty part";
            if (s[start] == '-' || s[i - 1] == '-')
                return "a part of a registry host must not start or end with '-'";
            start = i + 1;
        }
    }
    if (host_end < n) {
        size_t p = host_end + 1;
        if (p == n) return "a registry port must be digits";
        for (; p < n; p++)
            if (s[p] < '0' || s[p] > '9') return "a registry port must be digits";
    }
    return NULL;
}

static const char *check_tag(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) return "the tag after ':' is empty";
    if (n > TAG_MAX) return "a tag may be at most 128 characters";
    if (s[0] == '.' || s[0] == '-') return "a tag must not start with '.' or '-'";
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return "a tag may hold only letters, digits, '_', '.' and '-'";
    return NULL;
}

/* digest := algorithm ':' hex; algorithm := [a-z0-9]+ ([+._-] [a-z0-9]+)* */
static const char *check_digest(const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon || colon == s) return "a digest is ALGORITHM:HEX, for example sha256:<64 hex digits>";
    for (const char *p = s; p < colon; p++) {
        int sep = *p == '+' || *p == '.' || *p == '_' || *p == '-';
        if (!is_lower_alnum(*p) && !sep)
            return "a digest's algorithm may hold only lowercase letters and digits";
        if (sep && (p == s || p + 1 == colon || !is_lower_alnum(p[-1])))
            return "a digest's algorithm is not valid";
    }
    size_t hex = strlen(colon + 1);
    for (const char *p = colon + 1; *p; p++)
        if (!is_hex(*p)) return "a digest's value must be hexadecimal";
    if (hex < DIGEST_HEX_MIN) return "a digest's value is too short";
    size_t alg = (size_t)(colon - s);
    if (alg == 6 && strncmp(s, "sha256", 6) == 0 && hex != 64)
        return "a sha256 digest has 64 hexadecimal digits";
    if (alg == 6 && strncmp(s, "sha512", 6) == 0 && hex != 128)
        return "a sha512 digest has 128 hexadecimal digits";
    return NULL;
}

const char *imageref_parse(const char *s, imageref *out)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s) return "the reference is empty";
    const char *why = NULL;
    char *name = NULL;
    const char *at = strchr(s, '@');
    if (at) {
        if ((why = check_digest(at + 1))) return why;
    }
    size_t name_tag_len = at ? (size_t)(at - s) : strlen(s);
    if (name_tag_len == 0) return "the reference has a digest but no repository";
    /* The tag's ':' is the last one after the last '/' (a registry's port has one before). */
    const char *last_slash = memrchr(s, '/', name_tag_len);
    const char *tag_colon = memchr(last_slash ? last_slash : s, ':',
                                   name_tag_len - (size_t)((last_slash ? last_slash : s) - s));
    size_t name_len = tag_colon ? (size_t)(tag_colon - s) : name_tag_len;
    char *tag = tag_colon ? xstrndup(tag_colon + 1, name_tag_len - name_len - 1) : NULL;
    if (tag && (why = check_tag(tag))) goto fail;
    name = xstrndup(s, name_len);
    /* The registry, when the first component names one. */
    const char *slash = strchr(name, '/');
    const char *path = name;
    char *domain = NULL;
    if (slash) {
        size_t first = (size_t)(slash - name);
        int is_domain = memchr(name, '.', first) || memchr(name, ':', first) ||
                        (first == 9 && strncmp(name, "localhost", 9) == 0);
        for (size_t i = 0; !is_domain && i < first; i++)
            if (name[i] >= 'A' && name[i] <= 'Z') is_domain = 1;
        if (is_domain) {
            if ((why = check_domain(name, first))) goto fail;
            domain = xstrndup(name, first);
            path = slash + 1;
        }
    }
    /* index.docker.io is Docker Hub's older name, and docker.io/NAME an official image as
     * NAME alone is (Docker normalizes both so; skopeo does too). */
    if (domain && strcmp(domain, "index.docker.io") == 0) {
        free(domain);
        domain = xstrdup(IMAGEREF_DEFAULT_DOMAIN);
    }
    int hub = !domain || strcmp(domain, IMAGEREF_DEFAULT_DOMAIN) == 0;
    /* Docker measures the name as it normalizes it, with docker.io/ and library/ added:
     * "docker.io/library/" + 240 characters is too long although the 240 alone are not. */
    int official = hub && !strchr(path, '/');
    size_t full_len = strlen(domain ? domain : IMAGEREF_DEFAULT_DOMAIN) + 1 + strlen(path) +
                      (official ? strlen("library/") : 0);
    if (full_len > IMAGEREF_NAME_MAX) {
        why = "a repository name with its registry may be at most 255 characters";
        free(domain);
        goto fail;
    }
    for (const char *c = path;;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if ((why = check_component(c, n))) {
            free(domain);
            goto fail;
        }
        if (!e) break;
        c = e + 1;
    }
    out->domain = domain ? domain : xstrdup(IMAGEREF_DEFAULT_DOMAIN);
    /* Docker Hub's official images live under library/. */
    if (official) out->path = xasprintf("library/%s", path);
    else out->path = xstrdup(path);
    out->tag = tag ? tag : at ? NULL : xstrdup(IMAGEREF_DEFAULT_TAG);
    out->digest = at ? xstrdup(at + 1) : NULL;
    free(name);
    return NULL;
fail:
    free(tag);
    free(name);
    memset(out, 0, sizeof *out);
    return why;
}

void imageref_free(imageref *r)
{
    if (!r) return;
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof *r);
}

char *imageref_canonical(const imageref *r)
{
    return xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "", r->tag ? r->tag : "",
                     r->digest ? "@" : "", r->digest ? r->digest : "");
}

int imageref_loopback(const imageref *r)
{
    const char *d = r->domain;
    if (d[0] == '[') return strncmp(d, "[::1]", 5) == 0;
    size_t host = strcspn(d, ":");
    if (host == 9 && strncmp(d, "localhost", 9) == 0) return 1;
    /* 127.0.0.0/8, written as an address (a name such as 127.example.com is not one). */
    if (host < 4 || strncmp(d, "127.", 4) != 0) return 0;
    int dots = 0;
    for (size_t i = 0; i < host; i++) {
        if (d[i] == '.') dots++;
        else if (d[i] < '0' || d[i] > '9') return 0;
    }
    return dots == 3;
}
