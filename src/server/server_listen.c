/* server_listen — see server_listen.h. */
#include "server/server_listen.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/mem.h"

static int parse(const char *s, barge_config *c)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port < 0 || port > 65535) return -1;
    char *host = xstrndup(s, (size_t)(colon - s));
    /* [::1]:8900 */
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (strpbrk(host, "[]")) { /* "[::1" */
        free(host);
        return -1;
    }
    /* The last --listen counts; an earlier one's host is freed (the default is not ours). */
    static char *given;
    free(given);
    c->listen_host = given = host;
    c->listen_port = (int)port;
    return 0;
}

int server_listen_option(const char *arg, barge_config *c)
{
    if (parse(arg, c) == 0) return 0;
    fprintf(stderr, "barge server: --listen '%.200s' is not HOST:PORT (for example "
                    "127.0.0.1:8900)\n", arg);
    return -1;
}

int server_listen_resolves(const barge_config *c)
{
    /* As http_start will look it up to bind. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", c->listen_port);
    int rc = getaddrinfo(c->listen_host, port, &hints, &ai);
    if (ai) freeaddrinfo(ai);
    if (rc == 0) return 0;
    fprintf(stderr, "barge server: --listen: cannot resolve host '%.200s': %s; give an address "
                    "of this machine (for example 127.0.0.1:8900 or [::1]:8900)\n",
            c->listen_host, gai_strerror(rc));
    return -1;
}
