/* Fair share: a share's decayed usage (model/jobs_shares.c) and the weight a policy gives it
 * (engine/fairshare.c). */
#include <math.h>

#include "server/engine/fairshare.h"
#include "server/model/jobs.h"
#include "check.h"

static int near(double got, double want)
{
    return fabs(got - want) < 1e-6 * (fabs(want) + 1);
}

static void test_usage_decays(void)
{
    jobs *js = jobs_new();
    jq_rt *q = jobs_queue(js, "q");
    jq_share *s = jobs_share(q, "blue");
    CHECK(jobs_share(q, "blue") == s);
    CHECK_EQ_INT((int)q->n_shares, 1);
    jobs_share_set_decay(s, 10, 0);
    CHECK(near(s->decay_s, 10));
    /* One vCPU for 10 s (one time constant): 10 * (1 - 1/e) vCPU-seconds. */
    jobs_share_charge(s, 1000, 1000);
    CHECK_EQ_INT(s->running_mvcpus, 1000);
    CHECK_EQ_INT(q->running_mvcpus, 1000);
    CHECK(near(jobs_share_usage(s, 11000), 10 * (1 - exp(-1))));
    jobs_share_charge(s, -1000, 11000);
    CHECK_EQ_INT(s->running_mvcpus, 0);
    /* Then nothing: it decays by 1/e per time constant. */
    CHECK(near(jobs_share_usage(s, 21000), 10 * (1 - exp(-1)) * exp(-1)));
    /* A shareDecaySeconds of 0 is AWS's default window. */
    jobs_share_set_decay(s, 0, 21000);
    CHECK(near(s->decay_s, JOBS_SHARE_DEFAULT_DECAY_S));
    CHECK(near(jobs_share_usage(s, 21000), 10 * (1 - exp(-1)) * exp(-1)));
    /* Constant use converges on use * time constant. */
    jobs_share_set_decay(s, 5, 21000);
    jobs_share_charge(s, 2000, 21000);
    CHECK(fabs(jobs_share_usage(s, 21000 + 200000) - 10.0) < 1e-3);
    jobs_free(js);
}

static void test_weights(void)
{
    json_t *p = json_loads("{\"fairsharePolicy\": {\"shareDistribution\": ["
                           "{\"shareIdentifier\": \"gold\", \"weightFactor\": 0.5},"
                           "{\"shareIdentifier\": \"team*\", \"weightFactor\": 3},"
                           "{\"shareIdentifier\": \"teamA1\", \"weightFactor\": 2},"
                           "{\"shareIdentifier\": \"plain\"},"
                           "{\"shareIdentifier\": \"zero\", \"weightFactor\": 0}]}}", 0, NULL);
    CHECK(p != NULL);
    CHECK(near(fairshare_weight(p, "gold"), 0.5));
    CHECK(near(fairshare_weight(p, "teamB"), 3));
    CHECK(near(fairshare_weight(p, "teamA1"), 2)); /* an exact entry beats a prefix */
    CHECK(near(fairshare_weight(p, "plain"), 1));  /* weightFactor defaults to 1 */
    CHECK(near(fairshare_weight(p, "zero"), 1));   /* and 0 (Terraform's "left out") means it */
    CHECK(near(fairshare_weight(p, "other"), 1));  /* so does a share the policy does not name */
    CHECK(near(fairshare_weight(NULL, "x"), 1));
    json_decref(p);
}

int main(void)
{
    RUN(test_usage_decays);
    RUN(test_weights);
    return 0;
}
