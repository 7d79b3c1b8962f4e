/* auth_internal — what auth.c (the keys in force, verification) and auth_keys.c (reading the
 * files into a keyring) share: the principal's record and the keyring's.  Not for other
 * modules. */
#ifndef BARGE_AUTH_INTERNAL_H
#define BARGE_AUTH_INTERNAL_H
#include <pthread.h>
#include <stddef.h>

#include "common/dict.h"
#include "server/api/auth.h"
#include "server/api/policy.h"
#include "server/base/ratelimit.h"

/* A derived signing key, good for one day, region and service. */
typedef struct key_slot {
    char date[9];
    char region[64];
    char service[64];
    unsigned char key[32];
} key_slot;

struct auth_principal {
    char *name;
    char *arn;
    char *access_key;
    char *secret;
    char *token;         /* NULL without temporary credentials */
    char *policy_names;  /* as written, for messages */
    const policy **policies;
    size_t npolicies;
    pthread_mutex_t mu;  /* guards slots */
    key_slot slots[2];   /* batch (and sts, rarely) and logs: the services a server answers */
    struct keyring *ring; /* the keyring it belongs to; NULL for one made at run time */
    char **role_policies; /* one made at run time: its policies' names (npolicies of them) */
    int has_rate;        /* barge_rate_limit given: rate overrides --rate-limit */
    ratelimit_spec rate;
    void *owner;         /* made at run time (auth_principal_new): its maker's record */
};

typedef struct named_policy {
    char *name;
    policy *p;
} named_policy;

/* What one reading of --credentials and --policies gave.  A reload (SIGHUP) builds a new one
 * and puts it in place of the old in one step; a request holds the one its principal came from
 * (refs) until it is answered, so the old one goes only with its last request.  A principal
 * made at run time holds the one its policies came from for as long as it lives. */
typedef struct keyring {
    int refs; /* guarded by auth.c's lock */
    auth_principal **ps;
    size_t n;
    dict by_key;
    named_policy *pols;
    size_t npols;
} keyring;

/* Reads --credentials (NULL: none) and --policies (NULL: the built-in ones only) into a new
 * keyring with one reference; NULL with a sentence in *err naming the file, the line or
 * section, and what to write instead. */
keyring *auth_keyring_load(const char *credentials_file, const char *policies_file, char **err);
void auth_keyring_free(keyring *k);
/* Drops a reference (auth.c); the last one frees the keyring. */
void auth_keyring_unref(keyring *k);
/* The keyring's policy of that name, or NULL. */
const policy *auth_keyring_policy(const keyring *k, const char *name);
/* Frees a principal, its secret wiped. */
void auth_principal_destroy(auth_principal *p);
#endif
