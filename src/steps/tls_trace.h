/*
 * tls_trace.h: the order and inner type of every TLS record of every TLS
 * connection of a run, and the connection's session secrets, kept in
 * memory for the analyzer (an_run.c) and for escalation pcaps (keylog on).
 *
 * Filled by OpenSSL's message callback (SSL_CTX_set_msg_callback: record
 * headers, inner content types of TLS 1.3 records, handshake messages,
 * alerts) and keylog callback (SSL_CTX_set_keylog_callback), for our own
 * tls steps and for libcurl's connections alike (FIELD-NOTES.md, "TLS
 * records through OpenSSL's callback").  A trace is tied to its
 * connection by conn_key and the 5-tuple.  Never written to the store.
 */
#ifndef PROBE_STEPS_TLS_TRACE_H
#define PROBE_STEPS_TLS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define TLS_TRACE_MAX_RECORDS 4096  /* per connection; beyond: truncated */
#define TLS_TRACE_MAX_KEYLOG 4096   /* bytes of key log per connection */

enum tls_dir { TLS_DIR_IN = 0, TLS_DIR_OUT = 1 };

struct tls_record {
	uint8_t dir;      /* enum tls_dir */
	uint8_t outer;    /* record header content type (20..24) */
	uint8_t inner;    /* TLS 1.3 inner content type; 0 when none */
	uint8_t hs_type;  /* first handshake message type in it; 0 none */
	uint16_t len;     /* record length from the header */
	uint64_t t_ns;    /* monotonic time of the callback (order only!) */
};

struct tls_trace {
	uint32_t conn_key;          /* the run's conn_rec.key */
	char src[46], dst[46];      /* numeric addresses */
	uint16_t sport, dport;
	struct tls_record *rec;
	size_t n, cap;
	bool truncated;             /* hit TLS_TRACE_MAX_RECORDS */
	char *keylog;               /* NSS key log lines, '\n'-terminated */
	size_t keylog_len;
	size_t n_in;                /* records received so far */
	/*
	 * Per HTTP response on this connection, in order: n_in when curl
	 * saw the final response's status line.  The record received last
	 * then is the one that carried it (FIELD-NOTES.md: HTTP/2 SETTINGS
	 * and TLS 1.3 tickets come before it as records of their own).
	 */
	uint32_t *marks;
	size_t n_marks, cap_marks;
	/* alerts seen: the first one sent and the first one received */
	int alert_in, alert_out;    /* -1 none; else the description code */
	int alert_in_level, alert_out_level;
};

struct tls_trace_set {
	struct tls_trace **v;
	size_t n, cap;
};

void tls_trace_set_release(struct tls_trace_set *set);

/* A new empty trace in set; NULL on PE_NOMEM. */
struct tls_trace *tls_trace_new(struct tls_trace_set *set);

/*
 * Install the message and keylog callbacks on ctx (once per SSL_CTX).
 * They record into the trace bound to each SSL with tls_trace_bind();
 * an SSL with none bound is ignored.
 */
void tls_trace_attach(SSL_CTX *ctx);

/* Bind ssl to t (t NULL unbinds). */
void tls_trace_bind(SSL *ssl, struct tls_trace *t);

/* A response's status line reached curl: remember n_in (marks). */
void tls_trace_mark(struct tls_trace *t);

/* The trace bound to ssl, or NULL. */
struct tls_trace *tls_trace_of(const SSL *ssl);

#endif
