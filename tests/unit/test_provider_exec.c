/* provider_exec.c: the --provider-commands file, read and checked whole (every mistake named
 * with the file and the compute environment), and which MANAGED environments its commands
 * serve. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/engine/provider_exec.h"
#include "check.h"

static char dir[] = "/tmp/barge-unit-pexec-XXXXXX";

static char *write_file(const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/commands.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The error reading text gives, which must contain want. */
static void refused(const char *text, const char *want)
{
    char *err = NULL;
    json_t *t = provider_exec_read(write_file(text), &err);
    CHECK(t == NULL);
    CHECK_CONTAINS(err, "commands.json");
    CHECK_CONTAINS(err, want);
    free(err);
}

static void test_mistakes_are_named(void)
{
    refused("{", "line");
    refused("[]", "must be a JSON object");
    refused("{\"a b\": {\"launch\": \"x\"}}", "\"a b\" is not a compute environment name");
    refused("{\"ce\": \"x\"}", "\"ce\" must be an object");
    refused("{\"ce\": {}}", "\"ce\" needs \"launch\"");
    refused("{\"ce\": {\"launch\": \"\"}}", "needs \"launch\"");
    refused("{\"ce\": {\"launch\": \"x\", \"terminate\": 3}}", "\"terminate\" must be");
    refused("{\"ce\": {\"launch\": \"x\", \"stop\": \"y\"}}", "only \"launch\" and \"terminate\"");
    char *err = NULL;
    CHECK(provider_exec_read("/nonexistent/commands.json", &err) == NULL);
    CHECK_CONTAINS(err, "/nonexistent/commands.json");
    free(err);
}

static void test_which_environments_are_served(void)
{
    char *err = NULL;
    json_t *t = provider_exec_read(write_file("{\"gpu\": {\"launch\": \"a\", \"terminate\": "
                                              "\"b\"}, \"cpu-1\": {\"launch\": \"c\"}}"), &err);
    CHECK(t != NULL);
    provider_exec_install(t);
    ce_rec gpu = {.name = "gpu", .managed = 1}, cpu = {.name = "cpu-1", .managed = 1};
    ce_rec other = {.name = "other", .managed = 1}, um = {.name = "gpu", .managed = 0};
    CHECK(provider_exec_serves(&gpu));
    CHECK(provider_exec_serves(&cpu));
    CHECK(!provider_exec_serves(&other)); /* the local provider's */
    CHECK(!provider_exec_serves(&um));    /* UNMANAGED: agents the operator starts */
    /* "*" takes every MANAGED environment the file does not name. */
    t = provider_exec_read(write_file("{\"*\": {\"launch\": \"a\"}}"), &err);
    CHECK(t != NULL);
    provider_exec_install(t);
    CHECK(provider_exec_serves(&other));
    CHECK(!provider_exec_serves(&um));
    provider_exec_install(NULL);
    CHECK(!provider_exec_serves(&other));
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    RUN(test_mistakes_are_named);
    RUN(test_which_environments_are_served);
    char path[256];
    snprintf(path, sizeof path, "%s/commands.json", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}
