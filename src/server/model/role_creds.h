/* role_creds — where the temporary credentials of job roles are kept in the store: "tcred"
 * records keyed by access key id, written in the batch that issues them and deleted in the one
 * that ends their attempt, so that credentials outlive a server exactly as long as the
 * attempts holding them do.  What a record holds is the API's to write and read
 * (api/auth_temp.h); here it is a document.  The records hold secrets: they are as private as
 * the rest of the store.  Core thread. */
#ifndef BARGE_ROLE_CREDS_H
#define BARGE_ROLE_CREDS_H
#include <stddef.h>

struct state;

#define ROLE_CREDS_KIND "tcred"

/* Failures set st->store_failed, as every write of a batch does. */
void role_creds_put(struct state *st, const char *access_key, const char *doc, size_t len);
void role_creds_del(struct state *st, const char *access_key);

/* Calls fn for every record, in key order; fn returns nonzero to stop.  0, or -1 when the store
 * could not be read. */
typedef int (*role_creds_fn)(void *arg, const char *access_key, const char *doc, size_t len);
int role_creds_scan(struct state *st, role_creds_fn fn, void *arg);
#endif
