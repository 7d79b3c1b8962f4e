/* http_origin — see http_origin.h. */
#include "server/http_origin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define NAMES_MAX 16
static char names[NAMES_MAX][256]; /* the --listen host, --agent-url's hosts */
static int n_names;
static char own_name[256];

const char http_origin_agent_refusal[] =
    "this request to an agent's endpoint comes from a web page (Origin, Sec-Fetch-Site): a "
    "server that takes unsigned requests (--dev) takes any join token, so a page could join as "
    "an instance and be handed jobs; agents send neither header";

static void add_name(const char *name, size_t n)
{
    if (n == 0 || n >= sizeof names[0] || n_names == NAMES_MAX) return;
    memcpy(names[n_names], name, n);
    names[n_names++][n] = '\0';
}

void http_origin_init(const char *listen_host, const char *urls)
{
    n_names = 0;
    if (listen_host) add_name(listen_host, strlen(listen_host));
    /* scheme://HOST[:PORT][/...], a comma between URLs */
    for (const char *u = urls; u && *u;) {
        const char *end = strchr(u, ',');
        size_t len = end ? (size_t)(end - u) : strlen(u);
        const char *h = memmem(u, len, "://", 3);
        if (h) {
            h += 3;
            size_t rest = len - (size_t)(h - u);
            size_t n = strcspn(h, "/,");
            if (n > rest) n = rest;
            if (n && h[0] == '[') {
                const char *close = memchr(h, ']', n);
                if (close) add_name(h + 1, (size_t)(close - h - 1));
            } else {
                const char *colon = memchr(h, ':', n);
                add_name(h, colon ? (size_t)(colon - h) : n);
            }
        }
        u = end ? end + 1 : u + len;
    }
    if (gethostname(own_name, sizeof own_name - 1) < 0) own_name[0] = '\0';
    own_name[sizeof own_name - 1] = '\0';
}

/* Whether the n bytes at name are one of the names given. */
static int is(const char *name, size_t n, const char *want)
{
    return *want && strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* Whether a Host header's value names this server as an unsigned server answers to it. */
static int host_taken(const char *host)
{
    char addr[64];
    unsigned char raw[16];
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (!end || (size_t)(end - host - 1) >= sizeof addr) return 0;
        snprintf(addr, sizeof addr, "%.*s", (int)(end - host - 1), host + 1);
        return inet_pton(AF_INET6, addr, raw) == 1;
    }
    const char *colon = strrchr(host, ':');
    size_t n = colon ? (size_t)(colon - host) : strlen(host);
    if (n < sizeof addr) {
        snprintf(addr, sizeof addr, "%.*s", (int)n, host);
        if (inet_pton(AF_INET, addr, raw) == 1) return 1;
    }
    static const char local[] = ".localhost";
    if (is(host, n, "localhost") ||
        (n > sizeof local - 1 && strncasecmp(host + n - (sizeof local - 1), local,
                                             sizeof local - 1) == 0))
        return 1;
    for (int i = 0; i < n_names; i++)
        if (is(host, n, names[i])) return 1;
    if (is(host, n, own_name)) return 1;
    /* The machine's name without its domain, as people type it. */
    const char *dot = strchr(own_name, '.');
    return dot && (size_t)(dot - own_name) == n && strncasecmp(host, own_name, n) == 0;
}

const char *http_origin_refusal(const char *host, const char *origin, const char *fetch_site)
{
    if (fetch_site && (strcasecmp(fetch_site, "cross-site") == 0 ||
                       strcasecmp(fetch_site, "same-site") == 0))
        return "this request comes from a web page of another site (Sec-Fetch-Site), which a "
               "server that takes unsigned requests (--dev) does not answer: it would run what "
               "any page asks; start the server with --credentials to serve browsers elsewhere";
    if (host && !host_taken(host))
        return "the Host header names this server by a name it does not answer to while it "
               "takes unsigned requests (--dev): reach it by IP address, localhost, its --listen "
               "host or the machine's name, or start it with --credentials";
    if (origin) {
        const char *rest = strncasecmp(origin, "http://", 7) == 0    ? origin + 7
                           : strncasecmp(origin, "https://", 8) == 0 ? origin + 8
                                                                     : NULL;
        if (!rest || !host || strcasecmp(rest, host) != 0)
            return "this request comes from a web page of another origin (Origin), which a "
                   "server that takes unsigned requests (--dev) does not answer: it would run "
                   "what any page asks; start the server with --credentials to serve browsers "
                   "elsewhere";
    }
    return NULL;
}
