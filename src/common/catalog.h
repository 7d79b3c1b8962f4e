/* catalog — the built-in instance types a compute environment may name.
 *
 * The local provider sizes its `barge agent` instances from these; the API validates
 * computeResources.instanceTypes against them.  A compute environment may name a type
 * ("m5.large"), a family ("m5"), or "optimal" (the c5, m5 and r5 families, as AWS's optimal
 * picks from current compute, general and memory families). */
#ifndef BARGE_CATALOG_H
#define BARGE_CATALOG_H

typedef struct catalog_type {
    const char *name;
    int vcpus;
    int memory_mib;
    int gpus;
} catalog_type;

/* The type called name, or NULL. */
const catalog_type *catalog_find(const char *name);
/* 1 if spec is "optimal", a known family or a known type. */
int catalog_spec_valid(const char *spec);
/* 1 if type t is allowed by spec. */
int catalog_spec_allows(const char *spec, const catalog_type *t);
/* Iteration: catalog_at(i) for i = 0, 1, ... until NULL. */
const catalog_type *catalog_at(int i);
#endif
