/* fuzz_jobspec — the job spec builder (model/jobspec.c): a job description is split into its
 * interned, shared part and the job's own, and read back.  Property: the description read back
 * equals the one given, and releasing the spec leaves nothing behind. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "server/model/jobspec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_level = 99;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *desc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!desc || !json_is_object(desc)) {
        json_decref(desc);
        return 0;
    }
    json_t *copy = json_deep_copy(desc);
    jobspec *s = jobspec_make(desc);
    (void)jobspec_log_group(s);
    (void)jobspec_log_prefix(s);
    json_t *back = jobspec_desc(s);
    if (!json_equal(back, copy)) abort();
    json_decref(back);
    /* The shared part is remembered under a recipe, as SubmitJob does, and found again. */
    /* Named by a hash of the input, not its size: inputs are at most -max_len (4096) bytes
     * long, fewer sizes than the cache holds (RECIPES_MAX), so it would never fill. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
    char recipe[32];
    snprintf(recipe, sizeof recipe, "r%u", (unsigned)(h % 5000)); /* more than the cache holds */
    jobspec_remember_recipe(recipe, s);
    jobspec *t = jobspec_from_recipe(recipe, json_pack("{s:s}", "jobName", "again"));
    if (t) jobspec_release(t);
    jobspec_release(s);
    jobspec_forget_stored();
    json_decref(copy);
    return 0;
}
