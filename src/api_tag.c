#include "api.h"

api_op api_tag_ops[] = {
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
