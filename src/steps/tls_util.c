/*
 * tls_util.c: certificate facts, pins, ALPN and error text shared by the
 * tls and http steps (see tls_util.h).  One implementation, so a tls step
 * and an http step against the same server record the same rows.
 */
#include "steps/tls_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "util/xalloc.h"

#define PIN_PREFIX "sha256//"
#define SECS_PER_DAY 86400

/* One-line RFC 2253 text of a name; NULL on PE_NOMEM. */
static char *name_text(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *ret = NULL;
	long n;

	if (!b)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0)
		goto out;
	n = BIO_get_mem_data(b, &data);
	if (n < 0)
		goto out;
	if ((size_t)n > RUN_MAX_TEXT - 1)
		n = RUN_MAX_TEXT - 1;
	ret = xstrndup(data ? data : "", (size_t)n);
out:
	BIO_free(b);
	return ret;
}

/* "YYYY-MM-DDTHH:MM:SS.000000Z"; NULL when unreadable or no memory. */
static char *time_text(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return NULL;
	return xasprintf("%04d-%02d-%02dT%02d:%02d:%02d.000000Z",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int tls_util_cert_days_left(const X509 *x, int64_t *days)
{
	const ASN1_TIME *na = x ? X509_get0_notAfter(x) : NULL;
	int d = 0, s = 0;
	int64_t secs;

	/* from NULL: now; d and s come back with the same sign */
	if (!na || !ASN1_TIME_diff(&d, &s, NULL, na))
		return PE_INVAL;
	secs = (int64_t)d * SECS_PER_DAY + s;
	if (secs >= 0)
		*days = secs / SECS_PER_DAY;
	else
		*days = -((-secs + SECS_PER_DAY - 1) / SECS_PER_DAY);
	return 0;
}

int tls_util_days_left(SSL *ssl, int64_t *days)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);

	if (!leaf)
		return PE_NOTFOUND;
	return tls_util_cert_days_left(leaf, days);
}

static int cert_fill(struct cert_rec *c, X509 *x, bool verified)
{
	int64_t days;

	c->subject = name_text(X509_get_subject_name(x));
	c->issuer = name_text(X509_get_issuer_name(x));
	if (!c->subject || !c->issuer)
		return PE_NOMEM;
	/* an unreadable time stays NULL: it is data, not our failure */
	c->not_after = time_text(X509_get0_notAfter(x));
	if (tls_util_cert_days_left(x, &days) == 0)
		c->days_left = days;
	c->verified = verified ? 1 : 0;
	return 0;
}

int tls_util_record_chain(struct step_rec *rec, SSL *ssl, bool verified)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	int n = chain ? sk_X509_num(chain) : 0;

	for (int i = 0; i < n; i++) {
		struct cert_rec *c;
		int r = step_rec_add_cert(rec, &c);
		if (r < 0)
			return r;
		c->depth = i;
		r = cert_fill(c, sk_X509_value(chain, i), verified);
		if (r < 0)
			return r;
	}
	return 0;
}

int tls_util_leaf_pin(SSL *ssl, char out[TLS_UTIL_PIN_LEN])
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	EVP_PKEY *pk = leaf ? X509_get0_pubkey(leaf) : NULL;
	unsigned char md[32], *der = NULL;
	unsigned int md_len = 0;
	int len, ret = PE_NOMEM;

	if (!pk)
		return PE_NOTFOUND;
	/* the whole DER SubjectPublicKeyInfo, not just the key bits */
	len = i2d_PUBKEY(pk, &der);
	if (len <= 0)
		goto out;
	if (!EVP_Digest(der, (size_t)len, md, &md_len, EVP_sha256(), NULL) ||
	    md_len != sizeof(md))
		goto out;
	memcpy(out, PIN_PREFIX, sizeof(PIN_PREFIX) - 1);
	/* 32 bytes -> 44 base64 characters and a NUL */
	EVP_EncodeBlock((unsigned char *)out + sizeof(PIN_PREFIX) - 1, md,
			(int)sizeof(md));
	ret = 0;
out:
	OPENSSL_free(der);
	ERR_clear_error();
	return ret;
}

int tls_util_check_pins(SSL *ssl, char *const *pins, size_t n)
{
	char pin[TLS_UTIL_PIN_LEN];

	if (n == 0)
		return 0;
	if (tls_util_leaf_pin(ssl, pin) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (pins[i] && strcmp(pins[i], pin) == 0)
			return 0;
	return -1;
}

char *tls_util_alpn_wire(const char *list, size_t *len)
{
	size_t n = list ? strlen(list) : 0;
	unsigned char *w, *o;
	const char *p = list;

	if (n == 0)
		return NULL;
	/* one length byte per item replaces its comma: n + 1 bytes */
	w = malloc(n + 1);
	if (!w)
		return NULL;
	o = w;
	for (;;) {
		const char *c = strchr(p, ',');
		size_t k = c ? (size_t)(c - p) : strlen(p);
		if (k == 0 || k > 255) {
			free(w);
			return NULL;
		}
		*o++ = (unsigned char)k;
		memcpy(o, p, k);
		o += k;
		if (!c)
			break;
		p = c + 1;
	}
	*len = (size_t)(o - w);
	return (char *)w;
}

void tls_util_errors(char *buf, size_t size)
{
	size_t used = 0;
	unsigned long e;

	if (size)
		buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];
		int k;

		if (!size || used + 1 >= size)
			continue; /* keep draining */
		ERR_error_string_n(e, one, sizeof(one));
		k = snprintf(buf + used, size - used, "%s%s",
			     used ? "; " : "", one);
		if (k < 0)
			continue;
		used += (size_t)k < size - used ? (size_t)k : size - used - 1;
	}
}
