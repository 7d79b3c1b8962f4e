/* consumable — consumable resources: named quantities (licenses, database connections) that
 * jobs declare they need (consumableResourceProperties) and hold while an attempt runs.
 *
 * A resource is kept as its AWS description in the "cr" registry (totalQuantity, resourceType
 * REPLENISHABLE or NON_REPLENISHABLE).  What attempts hold is counted here, in memory, from the
 * jobs themselves: an attempt holds its job's quantities from STARTING until it ends (jobs.c
 * charges them with the job's status, and loading charges the attempts it finds under way), so
 * the count never needs storing.  A REPLENISHABLE quantity comes back when the attempt ends; a
 * NON_REPLENISHABLE one is used up then, and the resource's totalQuantity goes down by it.
 * A job is placed only while every resource it names has its quantity available.  Core thread
 * only. */
#ifndef BARGE_CONSUMABLE_H
#define BARGE_CONSUMABLE_H
#include "server/model/job.h"
#include "server/model/state.h"

#define CONSUMABLE_REPLENISHABLE "REPLENISHABLE"
#define CONSUMABLE_NON_REPLENISHABLE "NON_REPLENISHABLE"
/* The most a resource may hold, and so the most a job may need of one: sums of quantities stay
 * far from overflowing a long long. */
#define CONSUMABLE_QUANTITY_MAX 1000000000000000LL

/* What the attempts of a resource hold now. */
long long consumable_in_use(state *st, const char *name);
/* Whether every resource j needs has its quantity available.  When one has not, *blocking is
 * the first such (borrowed), with what it needs and what is free (free is -1 when the resource
 * no longer exists). */
int consumable_fits(state *st, const job *j, const char **blocking, long long *need,
                    long long *available);
/* consumable_fits for the nodes of a multi-node job p, placed together: each node holds its own
 * quantities, so all must be free at once.  When they are not, *need is what all nodes need of
 * the first resource short (available and blocking as above). */
int consumable_gang_fits(state *st, job *p, const char **blocking, long long *need,
                         long long *available);
/* j's attempt starts (sign 1) or stops (-1) holding its quantities.  (Using up a
 * NON_REPLENISHABLE quantity is the engine's, when the attempt ends: engine/attempt.c.) */
void consumable_charge(state *st, job *j, int sign);
void consumable_free(state *st);
#endif
