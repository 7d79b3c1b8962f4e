#include "server/http_audit.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "common/sigv4.h"
#include "server/base/audit.h"
#include "server/model/config.h"

/* Calls that only read are not in the audit trail, nor are agents' and health checks'. */
int http_audit_wanted(const api_op *op)
{
    return op && op->fn && strncmp(op->name, "Describe", 8) != 0 &&
           strncmp(op->name, "List", 4) != 0 && strncmp(op->name, "Get", 3) != 0 &&
           strncmp(op->path, "/barge/v1/agent/", 16) != 0 && strcmp(op->path, "/healthz") != 0 &&
           strcmp(op->path, "/metrics") != 0;
}

void http_client_ip(struct MHD_Connection *conn, char ip[INET6_ADDRSTRLEN])
{
    ip[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, INET6_ADDRSTRLEN);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, INET6_ADDRSTRLEN);
}

void http_audit_call(const http_audit_args *a)
{
    char ip[INET6_ADDRSTRLEN];
    http_client_ip(a->conn, ip);
    sigv4_auth auth;
    char err[256];
    const char *h = MHD_lookup_connection_value(a->conn, MHD_HEADER_KIND, "Authorization");
    int signed_ = h && sigv4_parse(h, &auth, err, sizeof err) == 0;
    /* The names in the answer, from the core's tree where it made one (every audited call's
     * 200 is), else from the text. */
    json_t *answer = a->status != 200 || !a->resp ? NULL
                     : a->resp_tree              ? json_incref(a->resp_tree)
                                                 : json_loadb(a->resp, a->resp_len, 0, NULL);
    json_t *response = answer ? audit_params(answer) : NULL;
    audit_event e = {
        .source = "batch.amazonaws.com", .name = a->op->name, .region = barge_cfg.region,
        .source_ip = *ip ? ip : NULL,
        .user_agent = MHD_lookup_connection_value(a->conn, MHD_HEADER_KIND, "User-Agent"),
        .access_key = signed_ ? auth.access_key : NULL,
        .principal = a->who ? auth_principal_arn(a->who) : NULL, .params = a->params,
        .response = response, .status = a->status, .error_code = a->err_type,
        .request_id = a->request_id};
    audit_record(&e);
    json_decref(response);
    json_decref(answer);
}

