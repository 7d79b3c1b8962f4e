/* usage — attempts' usage summed (usage.h). */
#include "server/model/usage.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "common/mem.h"

/* Each figure back in the units it was made of (engine/attempt.c: vCPUs in thousandths times
 * milliseconds over a million, MiB times milliseconds over 1,024,000, CPU time to the
 * microsecond): exact while under 2^51 units (36 years of a 1,000-vCPU attempt), past which a
 * figure may be off by a unit. */
static long long units(json_t *u, const char *key, double per)
{
    double v = json_number_value(json_object_get(u, key)) * per;
    /* Past what a long long holds llround has no answer: held there (2^63, as a double). */
    return v >= 9223372036854775807.0 ? LLONG_MAX : !(v > 0) ? 0 : llround(v);
}

/* *sum + n, held at LLONG_MAX rather than wrapping (a sum no job can reach; an agent that lies
 * about a machine's size could make one). */
static void add_units(long long *sum, long long n)
{
    if (__builtin_add_overflow(*sum, n, sum)) *sum = LLONG_MAX;
}

static void add_attempt(job_usage *sum, const json_t *a)
{
    json_t *u = json_object_get(json_object_get(a, ATTEMPT_BARGE), "usage");
    sum->attempts++;
    add_units(&sum->vcpu_units, units(u, "vcpuSeconds", 1e6));
    add_units(&sum->mem_units, units(u, "memoryGiBSeconds", 1024000.0));
    sum->vcpu_s = (double)sum->vcpu_units / 1e6;
    sum->gib_s = (double)sum->mem_units / 1024000.0;
    if (json_object_get(u, "cpuSeconds")) {
        sum->measured = 1;
        add_units(&sum->cpu_units, units(u, "cpuSeconds", 1e6));
        sum->cpu_s = (double)sum->cpu_units / 1e6;
    }
    long long m = (long long)json_integer_value(json_object_get(u, "maxMemoryBytes"));
    if (m > sum->peak) sum->peak = m;
}

void usage_add(job_usage *sum, const job_usage *u)
{
    add_units(&sum->vcpu_units, u->vcpu_units);
    add_units(&sum->mem_units, u->mem_units);
    add_units(&sum->cpu_units, u->cpu_units);
    sum->vcpu_s = (double)sum->vcpu_units / 1e6;
    sum->gib_s = (double)sum->mem_units / 1024000.0;
    sum->cpu_s = (double)sum->cpu_units / 1e6;
    if (u->peak > sum->peak) sum->peak = u->peak;
    sum->measured |= u->measured;
    sum->attempts += u->attempts;
}

job_usage usage_ended(const job *j, int64_t from, int64_t to)
{
    job_usage out = {0};
    int window = from != INT64_MIN || to != INT64_MAX;
    size_t ai;
    json_t *a;
    json_array_foreach(j->attempts, ai, a) {
        if (window) {
            /* An attempt ends with a stoppedAt (one lost with its host: when it was last
             * heard of); one still running has none and is in no window yet. */
            json_t *at = json_object_get(a, "stoppedAt");
            if (!json_is_integer(at) || json_integer_value(at) < from ||
                json_integer_value(at) >= to)
                continue;
        }
        add_attempt(&out, a);
    }
    return out;
}

job_usage usage_of_job(const job *j)
{
    return usage_ended(j, INT64_MIN, INT64_MAX);
}

job_usage usage_of_children(const job *parent)
{
    job_usage none = {0};
    return parent->family ? parent->family->usage : none;
}

void usage_child_attempt(job *child, const json_t *attempt)
{
    job *p = child->parent;
    if (p && p->family) add_attempt(&p->family->usage, attempt);
}
