/* jobdef_consumables — consumableResourceProperties on job definitions and SubmitJob's
 * consumableResourcePropertiesOverride (model/consumable.h says how jobs hold them).
 *
 * A definition may name resources that do not exist yet (they are a site's to create, and
 * AWS checks them when a job is submitted); a submit must name resources that exist, and the
 * job keeps them as ARNs, however they were written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/model/arn.h"
#include "server/model/consumable.h"
#include "server/model/registry.h"
#include "server/model/state.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"

#define MAX_RESOURCES 5 /* consumable resources per job, as AWS allows */

int jobdef_check_consumables(api_ctx *c, json_t *props, const char *field, json_t **resolved)
{
    if (resolved) *resolved = NULL;
    if (!props) return 0;
    json_t *list = json_object_get(props, "consumableResourceList");
    if (!json_is_array(list) || json_array_size(list) == 0)
        return api_client_error(c, "%s.consumableResourceList: give 1 to %d consumable "
                                   "resources ({consumableResource, quantity})", field,
                                MAX_RESOURCES);
    if (json_array_size(list) > MAX_RESOURCES)
        return api_client_error(c, "%s.consumableResourceList: at most %d consumable resources "
                                   "per job (got %zu)", field, MAX_RESOURCES,
                                json_array_size(list));
    json_t *out = resolved ? json_array() : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        char f[160];
        snprintf(f, sizeof f, "%s.consumableResourceList[%zu]", field, i);
        json_int_t q = json_integer_value(json_object_get(e, "quantity"));
        if (!json_is_integer(json_object_get(e, "quantity")) || q < 1) {
            json_decref(out);
            return api_client_error(c, "%s.quantity: give how many of the resource the job "
                                       "needs, 1 or more", f);
        }
        /* More than any resource can hold would leave the job waiting for ever. */
        if (q > CONSUMABLE_QUANTITY_MAX) {
            json_decref(out);
            return api_client_error(c, "%s.quantity: at most %lld, the most a consumable "
                                       "resource can hold (got %lld)", f,
                                    CONSUMABLE_QUANTITY_MAX, (long long)q);
        }
        char fr[180];
        snprintf(fr, sizeof fr, "%s.consumableResource", f);
        char *name = api_name_or_arn(c, api_str(e, "consumableResource"), ARN_CR, fr);
        if (!name) {
            json_decref(out);
            return -1;
        }
        for (size_t k = 0; k < i; k++) {
            char *other = api_key_of(
                api_str(json_array_get(list, k), "consumableResource"), ARN_CR);
            int same = other && strcmp(other, name) == 0;
            free(other);
            if (same) {
                api_client_error(c, "%s: consumable resource '%s' is listed twice", fr, name);
                free(name);
                json_decref(out);
                return -1;
            }
        }
        if (resolved) {
            json_t *cr = reg_get(&c->st->cr, name);
            if (!cr) {
                api_client_error(c, "%s: no consumable resource named '%s'; create it with "
                                    "CreateConsumableResource", fr, name);
                free(name);
                json_decref(out);
                return -1;
            }
            json_array_append_new(out, json_pack("{s:O, s:I}", "consumableResource",
                                                 json_object_get(cr, "consumableResourceArn"),
                                                 "quantity", q));
        }
        free(name);
    }
    if (resolved) *resolved = json_pack("{s:o}", "consumableResourceList", out);
    return 0;
}
