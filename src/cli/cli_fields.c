/* cli_fields — a server's refusal in the words of the command line.  The server names the
 * request's field that it refuses ("jobQueue: JobQueue q not found", "dependsOn[0].jobId: no job
 * with id 'x'"), a name the user of the CLI never typed; the option they typed is named in its
 * place ("--queue: ...", "--depends-on: ...").  Every command's fields are in the one table
 * below. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "cli/cli_http.h"

/* What a field is named as, besides an option's name. */
#define OPERAND ""         /* the command's operand: the message shows its value, no name needed */
#define BY_TYPE "\x01"     /* a resource requirement: --vcpus or --memory, as its type says */
#define NAME_FROM "\x02"   /* the job's name: c->name_from, else --name */
#define DEF_FROM "\x03"    /* the job's definition: c->definition_from, else --definition */

static const struct {
    const char *commands; /* the commands that fill the field, each followed by a space */
    const char *field;    /* the field, as the server names it: itself, its members and items */
    const char *option;   /* what the user gave it as */
} fields[] = {
    {"submit run ", "jobQueue", "--queue"},
    {"submit run ", "jobDefinition", DEF_FROM},
    {"submit run ", "jobName", NAME_FROM},
    {"submit run ", "dependsOn", "--depends-on"},
    {"submit run ", "arrayProperties", "--array-size"},
    {"submit run ", "retryStrategy", "--attempts"},
    {"submit run ", "timeout", "--timeout"},
    {"submit run ", "parameters", "--param"},
    {"submit run ", "containerOverrides.environment", "--env"},
    {"submit run ", "containerOverrides.command", "the command after --"},
    {"submit run ", "containerOverrides.resourceRequirements", BY_TYPE},
    /* barge run's own calls for --image: the queue's kind, and the definition it makes. */
    {"run ", "jobQueues", "--queue"},
    {"run ", "jobDefinitionName", "--image"},
    {"run ", "containerProperties.image", "--image"},
    {"run ", "containerProperties.resourceRequirements", BY_TYPE},
    {"jobs usage ", "jobQueue", "--queue"},
    {"jobs ", "arrayJobId", "--array"},
    {"jobs ", "filters", "--name"},
    {"usage ", "by", "--by"},
    {"usage ", "endedAfter", "--since"},
    {"usage ", "endedBefore", "--until"},
    {"events ", "queue", "--queue"},
    {"events ", "status", "--status"},
    {"events ", "after", "--after"},
    {"watch ", "jobQueue", OPERAND},
    {"cancel terminate ", "reason", "--reason"},
    {"cancel terminate ", "jobId", OPERAND},
    {"fleet ", "computeEnvironment", "--compute-environment"},
    {"fleet revoke-instance ", "instanceId", OPERAND},
};

/* Whether the command of prog ("barge submit") is one of commands. */
static int command_in(const char *prog, const char *commands)
{
    const char *cmd = strncmp(prog, "barge ", 6) == 0 ? prog + 6 : prog;
    size_t n = strcspn(cmd, " ");
    for (const char *w = commands; *w; w += strcspn(w, " ") + 1)
        if (strcspn(w, " ") == n && strncmp(w, cmd, n) == 0) return 1;
    return 0;
}

/* The length of the field a message starts with ("dependsOn[0].jobId" of "dependsOn[0].jobId:
 * no job..."), or 0 when it starts with a sentence instead. */
static size_t field_len(const char *msg)
{
    size_t n = strspn(msg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.[]");
    return n && strncmp(msg + n, ": ", 2) == 0 ? n : 0;
}

/* Option --vcpus or --memory of the resource requirement that field names by its index
 * ("containerOverrides.resourceRequirements[1].value"), path being where the list is in req;
 * with no index, both. */
static const char *requirement_option(const json_t *req, const char *path, const char *field)
{
    const char *at = field + strlen(path);
    if (*at != '[') return "--vcpus and --memory";
    json_t *list = (json_t *)req;
    for (const char *p = path; list && *p;) {
        size_t k = strcspn(p, ".");
        char *key = xstrndup(p, k);
        list = json_object_get(list, key);
        free(key);
        p += k + (p[k] == '.');
    }
    const char *type = json_string_value(
        json_object_get(json_array_get(list, strtoul(at + 1, NULL, 10)), "type"));
    if (type && strcmp(type, "VCPU") == 0) return "--vcpus";
    if (type && strcmp(type, "MEMORY") == 0) return "--memory";
    return NULL;
}

/* What the user gave field as, for c's command: an option, OPERAND, or NULL when it is not
 * the user's (the server's name then stays). */
static const char *option_of(const cli_ctx *c, const json_t *req, const char *field)
{
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        size_t n = strlen(fields[i].field);
        if (strncmp(field, fields[i].field, n) != 0 || (field[n] && !strchr(".[", field[n])) ||
            !command_in(c->prog, fields[i].commands))
            continue;
        const char *o = fields[i].option;
        if (strcmp(o, BY_TYPE) == 0) return requirement_option(req, fields[i].field, field);
        if (strcmp(o, NAME_FROM) == 0) return c->name_from ? c->name_from : "--name";
        if (strcmp(o, DEF_FROM) == 0) return c->definition_from ? c->definition_from
                                                                : "--definition";
        return o;
    }
    return NULL;
}

void cli_fields_rename(const cli_ctx *c, const json_t *req, cli_error *e)
{
    if (!e->message || e->http_status < 400 || e->http_status >= 500) return;
    size_t n = field_len(e->message);
    if (!n) return;
    char *field = xstrndup(e->message, n);
    const char *option = option_of(c, req, field);
    free(field);
    if (!option) return;
    char *renamed = *option ? xasprintf("%s%s", option, e->message + n)
                            : xstrdup(e->message + n + 2);
    free(e->message);
    e->message = renamed;
}
