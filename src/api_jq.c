#include "api.h"

api_op api_jq_ops[] = {
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
