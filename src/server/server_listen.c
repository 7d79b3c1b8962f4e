/* server_listen — see server_listen.h. */
#include "server/server_listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

int server_listen_check(const barge_config *c)
{
    /* As http_start will look it up to bind. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", c->listen_port);
    int rc = getaddrinfo(c->listen_host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        if (ai) freeaddrinfo(ai);
        fprintf(stderr, "barge server: --listen: cannot resolve host '%.200s': %s; give an "
                        "address of this machine (for example 127.0.0.1:8900 or [::1]:8900)\n",
                c->listen_host, rc ? gai_strerror(rc) : "no address");
        return 2;
    }
    /* A port another program holds (a server already running) is found now too, by binding
     * the address http_start will bind, as it will (SO_REUSEADDR), and letting it go: the
     * port could still be taken in between, but the usual mistake leaves nothing made.  Port
     * 0 asks for any free one. */
    int fail = 0;
    if (c->listen_port != 0) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        int on = 1;
        /* libmicrohttpd's IPv6 socket takes IPv6 alone: [::]:P may be bound beside an IPv4
         * socket on P, and so may this one. */
        if (fd >= 0 && ai->ai_family == AF_INET6)
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
                        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0))
            fail = errno;
        if (fd >= 0) close(fd);
    }
    freeaddrinfo(ai);
    if (!fail) return 0;
    if (fail == EADDRINUSE)
        fprintf(stderr, "barge server: cannot listen on %.200s:%d: another program (a barge "
                        "server already running?) has the port; stop it or give --listen "
                        "another port\n", c->listen_host, c->listen_port);
    else
        fprintf(stderr, "barge server: cannot listen on %.200s:%d: %s\n", c->listen_host,
                c->listen_port, strerror(fail));
    return 1;
}
