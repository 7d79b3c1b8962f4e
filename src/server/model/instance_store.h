/* instance_store — the fleet's records in the store, so that a restarted server still knows
 * the instances whose agents kept running its attempts (docs/decisions.md, "Restarts").
 *
 * A registered instance has a record ("inst", keyed by its id) with what its registration said
 * and the digests of its credentials; the record follows its changes (a rotation, a drain) and
 * goes when the instance leaves the fleet.  Loading gives the records back as registered
 * instances that have not been heard from yet (recovered): their agents carry on with the
 * credentials they hold, and the fleet's heartbeat deadline applies to them as to any other.
 * An instance the exec provider launched has a record from its launch, with the digest of its
 * launch token: loaded, it is still launching, and its agent registers with the restarted
 * server, or the instance is lost at the registration deadline and its terminate command runs
 * (a machine a stopped server launched is not left running unknown to the next).
 * Runs on the core thread, inside the batch's transaction. */
#ifndef BARGE_INSTANCE_STORE_H
#define BARGE_INSTANCE_STORE_H

struct state;

/* Writes the records of instances that changed and deletes those of instances that left. */
void instance_store_flush(struct state *st);
/* Reads the records into st's fleet; a record that cannot be read is skipped with a log line.
 * -1 (and *err, malloc'd) only when the store cannot be read. */
int instance_store_load(struct state *st, char **err);
#endif
