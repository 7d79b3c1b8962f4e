/* catalog — the instance types a compute environment may name, as AWS names them.
 *
 * The catalogue is data: data/instance-types.tsv, built into the binary (Makefile).  The local
 * provider sizes its `barge agent` instances from it; the API validates
 * computeResources.instanceTypes against it.  A compute environment may name a type
 * ("m5.large"), a family ("m5"), "optimal" (the c5, m5 and r5 families: current compute, general
 * and memory ones), "default_x86_64" (m6i, c6i, r6i and c7i, AWS's current x86 choice) or
 * "default_arm64" (m6g, c6g, r6g and c7g, its Graviton one). */
#ifndef BARGE_CATALOG_H
#define BARGE_CATALOG_H

typedef struct catalog_type {
    const char *name;
    int vcpus;
    int memory_mib;
    int gpus;
    const char *arch; /* "x86_64" or "arm64" */
} catalog_type;

/* The type called name, or NULL. */
const catalog_type *catalog_find(const char *name);
/* 1 if spec is "optimal", "default_x86_64", "default_arm64", a known family or a known type. */
int catalog_spec_valid(const char *spec);
/* 1 if type t is allowed by spec. */
int catalog_spec_allows(const char *spec, const catalog_type *t);
/* Iteration: catalog_at(i) for i = 0, 1, ... until NULL. */
const catalog_type *catalog_at(int i);
/* The architecture of this host in the catalogue's terms ("x86_64", "arm64", or uname's own
 * name for another). */
const char *catalog_host_arch(void);
#endif
