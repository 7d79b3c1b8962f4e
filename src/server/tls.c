#include "server/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

/* A PEM file's text, at most 1 MiB (a certificate chain is a few KiB), read as a file of
 * secrets (util_read_secret_file): reading the key leaves no copy of it but the one
 * tls_files_free wipes.  libmicrohttpd takes it NUL-terminated. */
static char *read_pem(const char *opt, const char *path, char **err)
{
    const char *why;
    size_t len;
    char *text = util_read_secret_file(path, (size_t)1 << 20, &len, NULL, &why);
    if (!text) {
        *err = xasprintf("%s %s %s", opt, path, why);
        return NULL;
    }
    if (len == 0) {
        *err = xasprintf("%s %s: the file is empty", opt, path);
        free(text);
        return NULL;
    }
    return text;
}

static const char *ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "not PEM";
}

/* Whether the certificate names host, as libcurl checks it: an IP address among its IP
 * subjectAltNames, a name among its DNS ones (or its common name without any). */
static int names_host(X509 *x, const char *host)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
        return X509_check_ip_asc(x, host, 0) == 1;
    return X509_check_host(x, host, strlen(host), 0, NULL) == 1;
}

/* Why the certificate (with the chain after it in pem) does not verify against the CA
 * certificates in ca_path, as libcurl would check it; NULL when it does. */
static char *ca_refuses(X509 *x, const char *pem, const char *ca_path)
{
    char *why = NULL;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *chain = sk_X509_new_null();
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *first = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL, *next;
    while (b && (next = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(chain, next);
    ERR_clear_error();
    if (!store || !ctx || !chain || X509_STORE_load_locations(store, ca_path, NULL) != 1) {
        why = xasprintf("--tls-ca %s holds no PEM certificate", ca_path);
    } else {
        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
        if (X509_STORE_CTX_init(ctx, store, x, chain) != 1 || X509_verify_cert(ctx) != 1)
            why = xasprintf("the certificate does not verify against --tls-ca %s (%s)", ca_path,
                            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
    X509_free(first);
    sk_X509_pop_free(chain, X509_free);
    BIO_free(b);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return why;
}

int tls_load(const char *cert_path, const char *key_path, const char *agent_host,
             const char *ca_path, tls_files *out, char **warning, char **err)
{
    memset(out, 0, sizeof *out);
    *warning = NULL;
    *err = NULL;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    BIO *b = NULL;
    char *why = NULL;
    int rc = -1;
    if (!(out->cert_pem = read_pem("--tls-cert", cert_path, err))) goto done;
    if (!(out->key_pem = read_pem("--tls-key", key_path, err))) goto done;
    ERR_clear_error();
    b = BIO_new_mem_buf(out->cert_pem, -1);
    if (!b || !(x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        *err = xasprintf("--tls-cert %s: no PEM certificate at its start (%s)", cert_path,
                         ssl_reason());
        goto done;
    }
    BIO_free(b);
    ERR_clear_error();
    /* No passphrase callback: a key the server cannot open unattended is refused. */
    b = BIO_new_mem_buf(out->key_pem, -1);
    if (!b || !(k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)""))) {
        *err = xasprintf("--tls-key %s: not a PEM private key, or one protected by a passphrase "
                         "(%s); give an unencrypted key readable only by the server",
                         key_path, ssl_reason());
        goto done;
    }
    if (X509_check_private_key(x, k) != 1) {
        *err = xasprintf("--tls-key %s is not the key of the certificate in --tls-cert %s",
                         key_path, cert_path);
        goto done;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        *warning = xasprintf("the certificate in --tls-cert %s has expired; clients will refuse "
                             "it", cert_path);
    else if (agent_host && !names_host(x, agent_host))
        *warning = xasprintf("the certificate in --tls-cert %s does not name %s, the address "
                             "this server's local agents use: they will refuse it (add "
                             "subjectAltName IP:%s or DNS:%s, or listen on an address it names)",
                             cert_path, agent_host, agent_host, agent_host);
    else if (ca_path && (why = ca_refuses(x, out->cert_pem, ca_path)) != NULL)
        *warning = xasprintf("%s: this server's local agents will refuse it", why);
    rc = 0;
done:
    free(why);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    if (rc < 0) tls_files_free(out);
    return rc;
}

void tls_files_free(tls_files *t)
{
    if (t->key_pem) {
        OPENSSL_cleanse(t->key_pem, strlen(t->key_pem));
        free(t->key_pem);
    }
    free(t->cert_pem);
    t->key_pem = t->cert_pem = NULL;
}
