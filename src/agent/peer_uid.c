/* peer_uid — see peer_uid.h. */
#include "agent/peer_uid.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int peer_uid_of(const struct sockaddr_in *client, unsigned server_port, uid_t *uid)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -1;
    /* The kernel answers at once; a bound keeps a surprise from holding the caller. */
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* One socket by its four-tuple, not a dump: the client's side, so source is the client. */
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof req);
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.r.sdiag_family = AF_INET;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0u;
    req.r.id.idiag_sport = client->sin_port;
    req.r.id.idiag_dport = htons((uint16_t)server_port);
    req.r.id.idiag_src[0] = client->sin_addr.s_addr;
    req.r.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
    req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int rc = -1;
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) ==
        (ssize_t)sizeof req) {
        union {
            struct nlmsghdr h;
            char bytes[8192];
        } answer;
        ssize_t n;
        while ((n = recv(fd, &answer, sizeof answer, 0)) < 0 && errno == EINTR) {}
        struct nlmsghdr *h = &answer.h;
        if (n >= (ssize_t)sizeof *h && NLMSG_OK(h, (size_t)n) &&
            h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
            h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            *uid = (uid_t)m->idiag_uid;
            rc = 0;
        }
    }
    close(fd);
    return rc;
}
