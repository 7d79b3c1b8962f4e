/* api_misc — barge's own endpoints that are not part of the AWS API. */
#include "server/api/api.h"
#include "server/model/config.h"

/* GET /healthz goes through the core, so a 200 means the state owner is answering too. */
static int healthz(api_ctx *c, json_t *req, json_t **resp)
{
    *resp = json_pack("{s:s}", "status", "ok");
    /* On a shared store only the leader serves; standbys answer before routing (http_server). */
    if (barge_cfg.role) json_object_set_new(*resp, "role", json_string(barge_cfg.role));
    return 0;
}

api_op api_misc_ops[] = {
    {"Healthz", "GET", "/healthz", NULL, healthz, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
