/* tls — the server's certificate and key, read and checked once at start-up.
 *
 * libmicrohttpd (with GnuTLS) serves HTTPS from PEM text in memory; this module reads the files
 * named by --tls-cert and --tls-key, and checks them with libcrypto first, so that a wrong file
 * stops the server with a sentence that names it instead of a bare "cannot listen".  Nothing is
 * reloaded: a new certificate takes a restart (docs/decisions.md). */
#ifndef BARGE_TLS_H
#define BARGE_TLS_H

typedef struct tls_files {
    char *cert_pem; /* the certificate, and any chain after it */
    char *key_pem;
} tls_files;

/* Reads and checks cert_path and key_path: PEM, a certificate first, a private key that matches
 * it, and readable by libmicrohttpd's GnuTLS (checked by the start itself).  Returns 0, or -1
 * with *err set to a sentence.  What would make the local agents refuse the certificate is
 * reported by *warning (fresh, or NULL): expiry, not naming agent_host (the address they reach
 * the server at), or not verifying against ca_path (--tls-ca, or NULL). */
int tls_load(const char *cert_path, const char *key_path, const char *agent_host,
             const char *ca_path, tls_files *out, char **warning, char **err);
/* Forgets the key (zeroed) and the certificate; NULL members are ignored. */
void tls_files_free(tls_files *t);
#endif
