/*
 * tls_trace.c: record order, inner types, alerts and secrets of TLS
 * connections, from OpenSSL's message and keylog callbacks (see
 * tls_trace.h, and FIELD-NOTES.md "TLS records through OpenSSL's
 * callback" for what the callbacks deliver and in which order).
 *
 * The callbacks are installed on an SSL_CTX once and find their trace
 * through one SSL ex_data index: the msg callback argument belongs to
 * whoever set it last (libcurl's verbose trace, or our own code for a
 * reused connection), ex_data is ours alone.
 */
#include "steps/tls_trace.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "model/run.h"
#include "steps/step_loop.h"
#include "util/xalloc.h"

/* One trace per TLS connection of a run; a run has at most that many. */
#define TLS_TRACE_MAX_TRACES RUN_MAX_CONNS

static CRYPTO_ONCE trace_once = CRYPTO_ONCE_STATIC_INIT;
static int trace_idx = -1;

static void trace_idx_init(void)
{
	trace_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The ex_data index, created on first use; -1 when OpenSSL said no. */
static int trace_index(void)
{
	if (!CRYPTO_THREAD_run_once(&trace_once, trace_idx_init))
		return -1;
	return trace_idx;
}

static void trace_free(struct tls_trace *t)
{
	if (!t)
		return;
	if (t->keylog) {
		/* session secrets: never leave them in freed memory */
		OPENSSL_cleanse(t->keylog, TLS_TRACE_MAX_KEYLOG + 1);
		free(t->keylog);
	}
	free(t->rec);
	free(t->marks);
	free(t);
}

void tls_trace_set_release(struct tls_trace_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		trace_free(set->v[i]);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

struct tls_trace *tls_trace_new(struct tls_trace_set *set)
{
	struct tls_trace *t;

	if (set->n >= TLS_TRACE_MAX_TRACES)
		return NULL;
	if (xgrow(&set->v, &set->cap, set->n + 1, sizeof(*set->v)) < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->alert_in = t->alert_out = -1;
	t->alert_in_level = t->alert_out_level = -1;
	set->v[set->n++] = t;
	return t;
}

void tls_trace_bind(SSL *ssl, struct tls_trace *t)
{
	int idx = trace_index();

	if (idx >= 0)
		(void)SSL_set_ex_data(ssl, idx, t);
}

struct tls_trace *tls_trace_of(const SSL *ssl)
{
	int idx = trace_index();

	return idx >= 0 ? SSL_get_ex_data(ssl, idx) : NULL;
}

/* The latest record of direction dir, or NULL. */
static struct tls_record *last_of(struct tls_trace *t, uint8_t dir)
{
	for (size_t i = t->n; i > 0; i--)
		if (t->rec[i - 1].dir == dir)
			return &t->rec[i - 1];
	return NULL;
}

static void add_record(struct tls_trace *t, uint8_t dir, const uint8_t *b)
{
	struct tls_record *r;

	if (t->n >= TLS_TRACE_MAX_RECORDS ||
	    xgrow(&t->rec, &t->cap, t->n + 1, sizeof(*t->rec)) < 0) {
		/* a lost record makes the order useless past this point */
		t->truncated = true;
		return;
	}
	r = &t->rec[t->n++];
	memset(r, 0, sizeof(*r));
	r->dir = dir;
	r->outer = b[0];
	r->len = (uint16_t)(b[3] << 8 | b[4]);
	r->t_ns = step_loop_now_ns();
	if (dir == TLS_DIR_IN)
		t->n_in++;
}

void tls_trace_mark(struct tls_trace *t)
{
	if (!t || t->n_marks >= TLS_TRACE_MAX_RECORDS ||
	    xgrow(&t->marks, &t->cap_marks, t->n_marks + 1,
		  sizeof(*t->marks)) < 0)
		return;
	t->marks[t->n_marks++] = t->truncated ? 0 : (uint32_t)t->n_in;
}

static void msg_cb(int write_p, int version, int content_type,
		   const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct tls_trace *t = tls_trace_of(ssl);
	const uint8_t *b = buf;
	uint8_t dir = write_p ? TLS_DIR_OUT : TLS_DIR_IN;
	struct tls_record *r;

	(void)version;
	(void)arg;
	if (!t || !b || len == 0)
		return;
	switch (content_type) {
	case SSL3_RT_HEADER:
		/* TLS record header: type(1) version(2) length(2) */
		if (len >= SSL3_RT_HEADER_LENGTH && !t->truncated)
			add_record(t, dir, b);
		break;
	case SSL3_RT_INNER_CONTENT_TYPE:
		r = last_of(t, dir);
		if (r && !t->truncated)
			r->inner = b[0];
		break;
	case SSL3_RT_HANDSHAKE:
		/* one call per message; a record may carry several */
		r = last_of(t, dir);
		if (r && !r->hs_type && !t->truncated)
			r->hs_type = b[0];
		break;
	case SSL3_RT_ALERT:
		if (len < 2)
			break;
		if (write_p && t->alert_out < 0) {
			t->alert_out_level = b[0];
			t->alert_out = b[1];
		} else if (!write_p && t->alert_in < 0) {
			t->alert_in_level = b[0];
			t->alert_in = b[1];
		}
		break;
	default:
		break;
	}
}

static void keylog_cb(const SSL *ssl, const char *line)
{
	struct tls_trace *t = tls_trace_of(ssl);
	size_t n;

	if (!t || !line)
		return;
	n = strlen(line);
	/* whole lines only: half a secret is worse than none */
	if (n + 1 > TLS_TRACE_MAX_KEYLOG - t->keylog_len)
		return;
	if (!t->keylog) {
		/*
		 * Allocated once at its cap: growing with realloc would
		 * leave copies of secrets behind in freed memory.
		 */
		t->keylog = calloc(1, TLS_TRACE_MAX_KEYLOG + 1);
		if (!t->keylog)
			return;
	}
	memcpy(t->keylog + t->keylog_len, line, n);
	t->keylog[t->keylog_len + n] = '\n';
	t->keylog_len += n + 1;
	t->keylog[t->keylog_len] = '\0';
}

void tls_trace_attach(SSL_CTX *ctx)
{
	(void)trace_index();
	SSL_CTX_set_msg_callback(ctx, msg_cb);
	SSL_CTX_set_keylog_callback(ctx, keylog_cb);
}
