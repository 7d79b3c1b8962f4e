/* usage.c: attempts' usage summed, and a parent's sum kept as its children's attempts end. */
#include "server/model/usage.h"

#include <limits.h>
#include <string.h>

#include "check.h"

static json_t *attempt(double vcpu_s, double gib_s, double cpu_s, long long peak)
{
    json_t *u = json_pack("{s:f, s:f}", "vcpuSeconds", vcpu_s, "memoryGiBSeconds", gib_s);
    if (cpu_s >= 0) json_object_set_new(u, "cpuSeconds", json_real(cpu_s));
    if (peak) json_object_set_new(u, "maxMemoryBytes", json_integer(peak));
    return json_pack("{s:I, s:{s:o}}", "stoppedAt", (json_int_t)1000, ATTEMPT_BARGE, "usage", u);
}

/* Figures as engine/attempt.c makes them: a decimal whose sum in doubles depends on the order
 * it is taken in (0.1 + 0.2 + 0.3 is not 0.3 + 0.2 + 0.1). */
static const double vcpu[] = {0.1, 0.2, 0.3, 0.924, 1e-6, 12.345678};
static const double cpu[] = {0.022635, 0.1, 0.2, 0.3, 0.000001, 7.654321};
#define N (sizeof vcpu / sizeof vcpu[0])

static void test_the_sum_does_not_depend_on_the_order(void)
{
    job parent, kids[N];
    memset(&parent, 0, sizeof parent);
    memset(kids, 0, sizeof kids);
    job *children[N];
    job_family family;
    memset(&family, 0, sizeof family);
    parent.children = children;
    parent.family = &family;
    parent.array_size = N;
    json_t *as[N];
    for (size_t k = 0; k < N; k++) {
        kids[k].parent = &parent;
        children[k] = &kids[k];
        as[k] = attempt(vcpu[k], vcpu[k] / 2, cpu[k], (long long)(k + 1) * 1000);
    }
    /* Forwards, then made again backwards (as a reload adds them in another order). */
    for (size_t k = 0; k < N; k++) usage_child_attempt(&kids[k], as[k]);
    job_usage fwd = usage_of_children(&parent);
    memset(&family, 0, sizeof family);
    for (size_t k = N; k-- > 0;) usage_child_attempt(&kids[k], as[k]);
    job_usage back = usage_of_children(&parent);
    CHECK(fwd.vcpu_s == back.vcpu_s);
    CHECK(fwd.gib_s == back.gib_s);
    CHECK(fwd.cpu_s == back.cpu_s);
    CHECK_EQ_INT(fwd.attempts, (int)N);
    CHECK_EQ_INT(fwd.measured, 1);
    CHECK(fwd.peak == (long long)N * 1000);
    /* The figure is the decimal of the sum, not the sum of rounded doubles. */
    CHECK(fwd.vcpu_s == 13.869679);
    CHECK(fwd.cpu_s == 8.276957);
    for (size_t k = 0; k < N; k++) json_decref(as[k]);
}

/* Jobs' sums added up (GetUsage's groups) are exact too: in doubles 0.1 + 0.2 + 0.3 + ... came
 * back with digits no attempt had. */
static void test_jobs_summed_are_exact(void)
{
    job_usage group = {0};
    for (size_t k = 0; k < N; k++) {
        job j;
        memset(&j, 0, sizeof j);
        j.n_attempts = 1;
        j.attempts = json_array();
        json_array_append_new(j.attempts, attempt(vcpu[k], vcpu[k] / 2, cpu[k], 1000));
        job_usage u = usage_of_job(&j);
        usage_add(&group, &u);
        json_decref(j.attempts);
    }
    CHECK(group.vcpu_s == 13.869679);
    CHECK(group.cpu_s == 8.276957);
    CHECK_EQ_INT(group.attempts, (int)N);
    CHECK_EQ_INT(group.measured, 1);
    CHECK(group.peak == 1000);
}

static void test_a_job_and_its_window(void)
{
    job j;
    memset(&j, 0, sizeof j);
    job_usage none = usage_of_job(&j);
    CHECK_EQ_INT(none.attempts, 0);
    CHECK(none.vcpu_s == 0 && none.peak == 0 && !none.measured);
    j.attempts = json_array();
    json_array_append_new(j.attempts, attempt(1.5, 0.75, -1, 0));
    json_t *late = attempt(2.25, 1.0, 0.5, 4096);
    json_object_set_new(late, "stoppedAt", json_integer(5000));
    json_array_append_new(j.attempts, late);
    job_usage all = usage_of_job(&j);
    CHECK_EQ_INT(all.attempts, 2);
    CHECK(all.vcpu_s == 3.75);
    CHECK(all.gib_s == 1.75);
    CHECK(all.cpu_s == 0.5 && all.measured);
    CHECK(all.peak == 4096);
    /* Windows that meet count each attempt once. */
    job_usage early = usage_ended(&j, 0, 5000), rest = usage_ended(&j, 5000, 10000);
    CHECK_EQ_INT(early.attempts, 1);
    CHECK_EQ_INT(rest.attempts, 1);
    CHECK(early.vcpu_s == 1.5 && !early.measured);
    CHECK(rest.vcpu_s == 2.25 && rest.measured);
    /* No parent: nothing to add to. */
    usage_child_attempt(&j, json_array_get(j.attempts, 0));
    json_decref(j.attempts);
}

/* Sums no job can reach (an agent that lies about its machine) stop at the largest there is,
 * rather than wrapping to a negative figure. */
static void test_a_sum_past_what_fits_stays_at_the_largest(void)
{
    job j;
    memset(&j, 0, sizeof j);
    j.attempts = json_array();
    for (int i = 0; i < 3; i++) json_array_append_new(j.attempts, attempt(1e300, 4e12, 5e12, 0));
    job_usage u = usage_of_job(&j);
    CHECK(u.vcpu_units == LLONG_MAX);
    CHECK(u.mem_units == LLONG_MAX);
    CHECK(u.cpu_units == LLONG_MAX);
    CHECK(u.vcpu_s > 9e12 && u.gib_s > 0 && u.cpu_s > 0);
    json_decref(j.attempts);
}

int main(void)
{
    RUN(test_the_sum_does_not_depend_on_the_order);
    RUN(test_a_job_and_its_window);
    RUN(test_jobs_summed_are_exact);
    RUN(test_a_sum_past_what_fits_stays_at_the_largest);
    return 0;
}
