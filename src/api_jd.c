#include "api.h"

api_op api_jd_ops[] = {
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
