/*
 * tls_util.h: what the tls and http steps both need from a finished (or
 * failed) OpenSSL connection, implemented once: the certificate chain as
 * step rows, SPKI pins, days of validity left, the ALPN wire format and
 * the OpenSSL error queue as text.
 *
 * All functions work on the client side of a connection (on a server
 * SSL_get_peer_cert_chain() does not include the leaf).  None keeps a
 * pointer to its arguments.
 */
#ifndef PROBE_STEPS_TLS_UTIL_H
#define PROBE_STEPS_TLS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "model/run.h"
#include "util/err.h"

/* "sha256//" + base64 of 32 bytes + NUL */
#define TLS_UTIL_PIN_LEN (8 + 44 + 1)

/*
 * Append every certificate the server sent (SSL_get_peer_cert_chain, leaf
 * first) to rec->certs: depth (0 = leaf), subject and issuer as one-line
 * RFC 2253 text, not_after as "YYYY-MM-DDTHH:MM:SS.000000Z" UTC, days_left
 * (whole days from now, floored, negative once expired) and verified
 * (the same value for all: the caller's verdict on the whole chain).
 * No chain (handshake failed before the server's Certificate) adds
 * nothing and returns 0.  PE_NOMEM; PE_LIMIT past RUN_MAX_CERTS (the
 * certificates before it are kept).
 */
int tls_util_record_chain(struct step_rec *rec, SSL *ssl, bool verified)
	PE_WARN_UNUSED;

/*
 * Write the leaf's pin, "sha256//" + base64(sha256(DER
 * SubjectPublicKeyInfo)) as curl's --pinnedpubkey and HPKP spell it, into
 * out.  0; PE_NOTFOUND when there is no peer certificate; PE_NOMEM.
 */
int tls_util_leaf_pin(SSL *ssl, char out[TLS_UTIL_PIN_LEN]) PE_WARN_UNUSED;

/*
 * 0 when the leaf's pin equals one of the n pins ("sha256//BASE64",
 * compared exactly), or when n is 0; -1 otherwise, which includes no
 * peer certificate and running out of memory (pins fail closed).
 */
int tls_util_check_pins(SSL *ssl, char *const *pins, size_t n)
	PE_WARN_UNUSED;

/*
 * Whole days from now until x's not-after, floored (-1 during the last
 * day after expiry).  0; PE_INVAL when OpenSSL cannot read the time.
 */
int tls_util_cert_days_left(const X509 *x, int64_t *days) PE_WARN_UNUSED;

/* As tls_util_cert_days_left for the peer's leaf; PE_NOTFOUND: none. */
int tls_util_days_left(SSL *ssl, int64_t *days) PE_WARN_UNUSED;

/*
 * "h2,http/1.1" -> "\x02h2\x08http/1.1" (RFC 7301 protocol name list, as
 * SSL_CTX_set_alpn_protos and the TLS extension want it), its length in
 * *len.  Caller frees.  NULL for an empty list, an empty item or an item
 * over 255 bytes, or when memory runs out.
 */
char *tls_util_alpn_wire(const char *list, size_t *len);

/*
 * Drain this thread's OpenSSL error queue into buf as "; "-separated
 * ERR_error_string_n() texts (what does not fit is dropped, but the queue
 * is always emptied).  buf is "" when the queue was empty.
 */
void tls_util_errors(char *buf, size_t size);

#endif
