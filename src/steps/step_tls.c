/*
 * step_tls.c: the `tls` step.  Resolve the target with the scenario's
 * resolver, connect (trying the addresses in order), then run a
 * non-blocking OpenSSL handshake on the loop, and record what a TLS
 * client can know: version, cipher, ALPN, resumption, the chain as the
 * server sent it, and the connection's 5-tuple (tied to its record trace
 * and secrets through conn_key, see tls_trace.h).
 *
 * Verification never stops the handshake (the verify callback always
 * continues): a probe wants the chain recorded even when it is wrong, and
 * the step then fails with the most telling class, in this order:
 * tls.verify (the chain), tls.hostname, tls.pin, tls.expiring.  No
 * application data is ever sent, so completing a handshake with an
 * untrusted server costs nothing but the client certificate, if any.
 *
 * Sessions: the last resumable session per (host, port, SNI, CA, client
 * certificate) is kept per run and offered to the next tls step with the
 * same key, so a scenario can measure a resumed handshake.  TLS 1.3 sends
 * its tickets after the handshake, so for TLS 1.3 the step reads briefly
 * after the handshake (until the first ticket, a close, or a grace of
 * twice the handshake time within [TICKET_WAIT_MIN, TICKET_WAIT_MAX]); that
 * read also catches the alert a server sends after a TLS 1.3 handshake
 * when it rejects the client certificate.  The wait is not in total_ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "steps/step.h"
#include "steps/tls_trace.h"
#include "steps/tls_util.h"
#include "util/xalloc.h"

#define NS_PER_MS 1000000u
#define TICKET_WAIT_MIN (100u * NS_PER_MS)
#define TICKET_WAIT_MAX (1000u * NS_PER_MS)
#define TICKET_READ_MAX (64u * 1024) /* app data discarded meanwhile */
#define SESS_MAX_PER_ENV 32
#define DETAIL_LEN 512

/* ---- the per-run session cache ------------------------------------------ */

/*
 * A file-static list keyed by env until step_env gets a slot of its own.
 * Runs share the loop's thread, so no lock.
 */
struct sess_ent {
	struct sess_ent *next;
	const struct step_env *env;
	char *key;
	SSL_SESSION *sess;
};

static struct sess_ent *sess_head;

static void sess_ent_free(struct sess_ent *e)
{
	SSL_SESSION_free(e->sess);
	step_secret_free(e->key); /* it holds the host name */
	free(e);
}

/* Borrowed; NULL when none. */
static SSL_SESSION *sess_get(const struct step_env *env, const char *key)
{
	for (struct sess_ent *e = sess_head; e; e = e->next)
		if (e->env == env && strcmp(e->key, key) == 0)
			return e->sess;
	return NULL;
}

/* Takes ownership of s (freed on failure). */
static void sess_put(const struct step_env *env, const char *key,
		     SSL_SESSION *s)
{
	struct sess_ent **p, **oldest = NULL, *e;
	size_t n = 0;

	for (p = &sess_head; *p; p = &(*p)->next) {
		if ((*p)->env != env)
			continue;
		if (strcmp((*p)->key, key) == 0) {
			SSL_SESSION_free((*p)->sess);
			(*p)->sess = s;
			return;
		}
		n++;
		oldest = p; /* new entries go in front: the last is oldest */
	}
	if (n >= SESS_MAX_PER_ENV && oldest) {
		e = *oldest;
		*oldest = e->next;
		sess_ent_free(e);
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = xstrdup(key))) {
		free(e);
		SSL_SESSION_free(s); /* only resumption is lost */
		return;
	}
	e->env = env;
	e->sess = s;
	e->next = sess_head;
	sess_head = e;
}

void step_tls_env_release(struct step_env *env)
{
	struct sess_ent **p = &sess_head;

	while (*p) {
		struct sess_ent *e = *p;
		if (e->env == env) {
			*p = e->next;
			sess_ent_free(e);
		} else {
			p = &e->next;
		}
	}
}

/* ---- a socket BIO that never raises SIGPIPE ------------------------------ */

/*
 * OpenSSL's socket BIO writes with write(2): a peer that has reset the
 * connection would kill the process with SIGPIPE.  Same BIO, but send(2)
 * with MSG_NOSIGNAL, so no process-wide signal setting is needed.
 */
static CRYPTO_ONCE bio_once = CRYPTO_ONCE_STATIC_INIT;
static BIO_METHOD *bio_meth;

static int nosig_write(BIO *b, const char *buf, int len)
{
	int fd = (int)BIO_get_fd(b, NULL);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && BIO_sock_should_retry(-1))
		BIO_set_retry_write(b);
	return (int)n;
}

static int nosig_puts(BIO *b, const char *s)
{
	return nosig_write(b, s, (int)strlen(s));
}

static void bio_meth_init(void)
{
	const BIO_METHOD *sock = BIO_s_socket();
	BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOCKET, "probe socket");

	if (!m)
		return;
	if (!BIO_meth_set_write(m, nosig_write) ||
	    !BIO_meth_set_puts(m, nosig_puts) ||
	    !BIO_meth_set_read(m, BIO_meth_get_read(sock)) ||
	    !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
	    !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
	    !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
		BIO_meth_free(m);
		return;
	}
	bio_meth = m; /* lives as long as the process */
}

/* A BIO on fd that does not close it; NULL on PE_NOMEM. */
static BIO *bio_nosig(int fd)
{
	BIO *b;

	if (!CRYPTO_THREAD_run_once(&bio_once, bio_meth_init) || !bio_meth)
		return NULL;
	b = BIO_new(bio_meth);
	if (b)
		BIO_set_fd(b, fd, BIO_NOCLOSE);
	return b;
}

/* ---- the job ------------------------------------------------------------- */

enum tls_phase { PH_RESOLVE, PH_CONNECT, PH_HANDSHAKE, PH_TICKETS, PH_DONE };

struct tls_job {
	struct step_job *job;
	struct step_env *env;
	enum tls_phase phase;
	char *host;            /* the expanded target, no brackets */
	char *name;            /* verified against: SNI if given, else host */
	char *name_shown;      /* name for details: ${VAR}s unexpanded */
	bool name_is_ip;
	char *sess_key;
	struct step_addrs addrs;
	size_t next_addr;
	char last_class[32];   /* of the last failed connect */
	struct step_conn_tuple last_tuple; /* and its addresses */
	bool have_last_tuple;
	char last_detail[DETAIL_LEN];
	int fd;
	bool watching;
	size_t conn_idx;       /* in job->rec->conns; valid when fd >= 0 */
	SSL_CTX *ctx;
	SSL *ssl;
	bool fatal;            /* SSL_ERROR_SSL/SYSCALL: no SSL_shutdown */
	SSL_SESSION *new_sess; /* the server's latest; ours */
	struct step_loop_timer timer;
	uint64_t t_start;             /* after our own set-up (below) */
	uint64_t t_hs0, t_end;
	size_t discarded;
	bool failed;
	/* the verify callback's findings */
	int chain_err, chain_err_depth;
	bool name_mismatch;
	int alert_in;          /* first received: level << 8 | desc; -1 */
	/* for a step with no trace set to record into */
	struct tls_trace_set own_traces;
};

static void finish(struct tls_job *tj);
static void on_io(struct step_loop *loop, int fd, unsigned events,
		  void *ctx);

static uint64_t delay_to(uint64_t deadline_ns)
{
	uint64_t now = step_loop_now_ns();
	return deadline_ns > now ? deadline_ns - now : 0;
}

static void fail(struct tls_job *tj, const char *error_class,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(struct tls_job *tj, const char *error_class,
		 const char *fmt, ...)
{
	char detail[DETAIL_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	tj->failed = true;
	step_fail(tj->job, error_class, "%s", detail);
}

/*
 * Running out of memory half-way through an asynchronous step: the start
 * function has returned, so it can only be recorded.
 */
static void fail_nomem(struct tls_job *tj, const char *what)
{
	fail(tj, "internal", "out of memory (%s)", what);
}

static void tj_free(struct tls_job *tj)
{
	struct step_loop *loop = tj->env->loop;

	step_loop_timer_stop(loop, &tj->timer);
	if (tj->fd >= 0 && tj->watching)
		step_loop_unwatch(loop, tj->fd);
	if (tj->ssl) {
		/* best effort close_notify; never wait for the answer */
		if (!tj->fatal && SSL_is_init_finished(tj->ssl))
			(void)SSL_shutdown(tj->ssl);
		tls_trace_bind(tj->ssl, NULL);
		SSL_set_app_data(tj->ssl, NULL);
		SSL_free(tj->ssl);
	}
	ERR_clear_error();
	if (tj->fd >= 0)
		close(tj->fd);
	SSL_CTX_free(tj->ctx);
	SSL_SESSION_free(tj->new_sess);
	step_secret_free(tj->host);
	step_secret_free(tj->name);
	step_secret_free(tj->sess_key);
	free(tj->name_shown);
	tls_trace_set_release(&tj->own_traces);
	free(tj);
}

static void finish(struct tls_job *tj)
{
	struct step_job *job = tj->job;
	struct step_rec *rec = job->rec;
	uint64_t end = tj->t_end ? tj->t_end : step_loop_now_ns();

	tj->phase = PH_DONE;
	rec->total_ms = step_ms(tj->t_start ? tj->t_start : job->t0_ns, end);
	if (!tj->failed) {
		rec->ok = true;
		if (tj->new_sess) {
			sess_put(tj->env, tj->sess_key, tj->new_sess);
			tj->new_sess = NULL;
		}
	}
	tj_free(tj);
	job->done(job);
}

static void on_timer(struct step_loop *loop, void *ctx)
{
	struct tls_job *tj = ctx;

	(void)loop;
	if (tj->phase == PH_HANDSHAKE)
		fail(tj, "tls.timeout", "no TLS handshake within %.0f ms",
		     step_ms(tj->t_hs0, step_loop_now_ns()));
	/* PH_TICKETS: no ticket within the grace; still a success */
	finish(tj);
}

/* ---- OpenSSL callbacks --------------------------------------------------- */

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_job *tj = ssl ? SSL_get_app_data(ssl) : NULL;
	int e;

	if (ok || !tj)
		return 1;
	e = X509_STORE_CTX_get_error(xs);
	if (e == X509_V_ERR_HOSTNAME_MISMATCH ||
	    e == X509_V_ERR_IP_ADDRESS_MISMATCH) {
		tj->name_mismatch = true;
	} else if (tj->chain_err == X509_V_OK) {
		tj->chain_err = e;
		tj->chain_err_depth = X509_STORE_CTX_get_error_depth(xs);
	}
	return 1; /* always continue: the chain gets recorded */
}

static void info_cb(const SSL *ssl, int where, int ret)
{
	struct tls_job *tj = SSL_get_app_data(ssl);

	if ((where & SSL_CB_READ_ALERT) && tj && tj->alert_in < 0)
		tj->alert_in = ret & 0xffff;
}

static int new_sess_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_job *tj = SSL_get_app_data(ssl);

	if (!tj || !SSL_SESSION_is_resumable(sess))
		return 0;
	SSL_SESSION_free(tj->new_sess);
	tj->new_sess = sess;
	return 1; /* we keep the reference */
}

/* ---- SSL_CTX and SSL set-up ---------------------------------------------- */

static int openssl_fail(struct errbuf *err, const char *what,
			const char *arg)
{
	char q[DETAIL_LEN / 2];

	tls_util_errors(q, sizeof(q));
	return errbuf_set(err, PE_INVAL, "%s%s%s%s%s", what,
			  arg ? " " : "", arg ? arg : "", q[0] ? ": " : "", q);
}

/* PE_INVAL (a setting OpenSSL refused; err says which) or PE_NOMEM. */
static int ctx_setup(struct tls_job *tj, struct errbuf *err)
{
	const struct scn_opts *o = &tj->job->st->opts;
	SSL_CTX *ctx;

	ctx = tj->ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return PE_NOMEM;
	if (o->tls_min && !SSL_CTX_set_min_proto_version(ctx, o->tls_min))
		return openssl_fail(err, "tls_min", NULL);
	if (o->tls_max && !SSL_CTX_set_max_proto_version(ctx, o->tls_max))
		return openssl_fail(err, "tls_max", NULL);
	if (o->alpn) {
		size_t len = 0;
		char *w = tls_util_alpn_wire(o->alpn, &len);
		int r;
		if (!w)
			return errbuf_set(err, PE_INVAL, "invalid alpn '%s'",
					  o->alpn);
		/* 0 is success here */
		r = SSL_CTX_set_alpn_protos(ctx, (unsigned char *)w,
					    (unsigned int)len);
		free(w);
		if (r)
			return openssl_fail(err, "alpn", o->alpn);
	}
	if (!o->ca || strcmp(o->ca, "system") == 0) {
		if (!SSL_CTX_set_default_verify_paths(ctx))
			return openssl_fail(err, "system CA store", NULL);
	} else if (!SSL_CTX_load_verify_locations(ctx, o->ca, NULL)) {
		return openssl_fail(err, "cannot load CA file", o->ca);
	}
	if (o->cert) {
		if (!SSL_CTX_use_certificate_chain_file(ctx, o->cert))
			return openssl_fail(err, "cannot load certificate",
					    o->cert);
		if (!SSL_CTX_use_PrivateKey_file(ctx, o->key ? o->key : o->cert,
						 SSL_FILETYPE_PEM))
			return openssl_fail(err, "cannot load key",
					    o->key ? o->key : o->cert);
		if (!SSL_CTX_check_private_key(ctx))
			return openssl_fail(err, "key does not match",
					    o->cert);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_info_callback(ctx, info_cb);
	/* sessions come to new_sess_cb; the step keeps them itself */
	SSL_CTX_set_session_cache_mode(
		ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_sess_cb);
	tls_trace_attach(ctx);
	return 0;
}

/* Environment values may be secrets: details show ${NAME} instead. */
static bool has_env(const struct scn_tmpl *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->segs[i].kind == SCN_SEG_ENV)
			return true;
	return false;
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

/* "[::1]" -> "::1", in place. */
static void strip_brackets(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

/* ---- handshake ---------------------------------------------------------- */

static int watch(struct tls_job *tj, int ssl_err)
{
	unsigned ev = ssl_err == SSL_ERROR_WANT_WRITE ? STEP_LOOP_WRITE
						      : STEP_LOOP_READ;
	if (step_loop_watch(tj->env->loop, tj->fd, ev, on_io, tj) < 0)
		return PE_NOMEM;
	tj->watching = true;
	return 0;
}

/* TLS 1.3 alerts OpenSSL 3.0's SSL_alert_desc_string_long calls "unknown" */
static const struct {
	int code;
	const char *text;
} alert_names[] = {
	{ 109, "missing extension" },    /* RFC 8446 */
	{ 116, "certificate required" }, /* RFC 8446 */
};

static void alert_detail(int alert, char *buf, size_t size)
{
	const char *desc = SSL_alert_desc_string_long(alert);

	for (size_t i = 0; i < sizeof(alert_names) / sizeof(alert_names[0]);
	     i++)
		if (alert_names[i].code == (alert & 0xff))
			desc = alert_names[i].text;
	snprintf(buf, size, "received %s alert: %s (%d)",
		 SSL_alert_type_string_long(alert), desc, alert & 0xff);
}

static bool fatal_alert(const struct tls_job *tj)
{
	return tj->alert_in >= 0 && (tj->alert_in >> 8) == SSL3_AL_FATAL;
}

/* The failure of SSL_do_handshake/SSL_read: an alert, or the queue. */
static void fail_ssl(struct tls_job *tj, int ssl_err, int sys_errno)
{
	char q[DETAIL_LEN];

	tj->fatal = ssl_err == SSL_ERROR_SSL || ssl_err == SSL_ERROR_SYSCALL;
	tls_util_errors(q, sizeof(q));
	if (tj->alert_in >= 0) {
		char a[128];
		alert_detail(tj->alert_in, a, sizeof(a));
		fail(tj, "tls.alert", "%s", a);
	} else if (q[0]) {
		fail(tj, "tls.error", "%s", q);
	} else if (ssl_err == SSL_ERROR_SYSCALL && sys_errno) {
		fail(tj, "tls.error", "%s", strerror(sys_errno));
	} else if (ssl_err == SSL_ERROR_SYSCALL ||
		   ssl_err == SSL_ERROR_ZERO_RETURN) {
		fail(tj, "tls.error", "connection closed by the server");
	} else {
		fail(tj, "tls.error", "SSL error %d", ssl_err);
	}
}

/* Version, cipher, ALPN, resumption: on success and never before. */
static int record_params(struct tls_job *tj)
{
	struct step_rec *rec = tj->job->rec;
	struct conn_rec *c = &rec->conns[tj->conn_idx];
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	bool resumed = SSL_session_reused(tj->ssl) == 1;

	rec->tls_version = xstrdup(SSL_get_version(tj->ssl));
	rec->tls_cipher = xstrdup(SSL_get_cipher_name(tj->ssl));
	if (!rec->tls_version || !rec->tls_cipher)
		return PE_NOMEM;
	SSL_get0_alpn_selected(tj->ssl, &alpn, &alpn_len);
	if (alpn_len &&
	    !(rec->alpn = xstrndup((const char *)alpn, alpn_len)))
		return PE_NOMEM;
	rec->tls_resumed = resumed ? 1 : 0;
	rec->conn_state = resumed ? RUN_CONN_RESUMED : RUN_CONN_NEW;
	c->conn_state = rec->conn_state;
	c->resumed = rec->tls_resumed;
	return 0;
}

/*
 * The chain's verdict.  A resumed session skips verification and
 * carries the original's result.
 */
static void chain_verdict(struct tls_job *tj)
{
	long v = SSL_get_verify_result(tj->ssl);

	if (v == X509_V_ERR_HOSTNAME_MISMATCH ||
	    v == X509_V_ERR_IP_ADDRESS_MISMATCH)
		tj->name_mismatch = true;
	else if (v != X509_V_OK && tj->chain_err == X509_V_OK)
		tj->chain_err = (int)v;
}

/* Verify, hostname, pins, days: fail the step with the first problem. */
static void check_peer(struct tls_job *tj)
{
	const struct scn_opts *o = &tj->job->st->opts;
	char pin[TLS_UTIL_PIN_LEN];
	int64_t days;

	if (!SSL_get0_peer_certificate(tj->ssl)) {
		fail(tj, "tls.verify", "the server sent no certificate");
		return;
	}
	if (tj->chain_err != X509_V_OK) {
		fail(tj, "tls.verify", "%s (X509 error %d at depth %d)",
		     X509_verify_cert_error_string(tj->chain_err),
		     tj->chain_err, tj->chain_err_depth);
		return;
	}
	if (tj->name_mismatch) {
		fail(tj, "tls.hostname", "the certificate is not valid for %s",
		     tj->name_shown);
		return;
	}
	if (o->n_pins && tls_util_check_pins(tj->ssl, o->pins, o->n_pins)) {
		if (tls_util_leaf_pin(tj->ssl, pin) < 0)
			pin[0] = '\0';
		fail(tj, "tls.pin", "no pin matches the server's key %s", pin);
		return;
	}
	if (o->min_days_valid >= 0 && tls_util_days_left(tj->ssl, &days) == 0 &&
	    days < o->min_days_valid)
		fail(tj, "tls.expiring",
		     "the certificate expires in %lld days (min_days_valid "
		     "%d)",
		     (long long)days, o->min_days_valid);
}

static void tickets_step(struct tls_job *tj);

static void handshake_done(struct tls_job *tj)
{
	struct step_rec *rec = tj->job->rec;
	uint64_t now = step_loop_now_ns();
	uint64_t grace;

	step_loop_timer_stop(tj->env->loop, &tj->timer);
	rec->tls_ms = step_ms(tj->t_hs0, now);
	tj->t_end = now;
	chain_verdict(tj);
	if (record_params(tj) < 0 ||
	    tls_util_record_chain(rec, tj->ssl,
				  tj->chain_err == X509_V_OK) == PE_NOMEM) {
		fail_nomem(tj, "tls results");
		finish(tj);
		return;
	}
	check_peer(tj);
	if (tj->failed || SSL_version(tj->ssl) < TLS1_3_VERSION ||
	    tj->new_sess) {
		finish(tj);
		return;
	}
	/* TLS 1.3: tickets (or a late alert) follow the handshake */
	grace = 2 * (now - tj->t_hs0);
	if (grace < TICKET_WAIT_MIN)
		grace = TICKET_WAIT_MIN;
	if (grace > TICKET_WAIT_MAX)
		grace = TICKET_WAIT_MAX;
	if (grace > delay_to(step_job_deadline_ns(tj->job)))
		grace = delay_to(step_job_deadline_ns(tj->job));
	tj->phase = PH_TICKETS;
	step_loop_timer_start(tj->env->loop, &tj->timer, grace, on_timer, tj);
	tickets_step(tj);
}

static void tickets_step(struct tls_job *tj)
{
	char buf[4096];

	for (;;) {
		int r, e;

		ERR_clear_error();
		r = SSL_read(tj->ssl, buf, sizeof(buf));
		if (fatal_alert(tj)) {
			fail_ssl(tj, SSL_ERROR_SSL, 0);
			finish(tj);
			return;
		}
		if (tj->new_sess) {
			ERR_clear_error();
			finish(tj);
			return;
		}
		if (r > 0) {
			/* nobody asked, but a server may talk first */
			tj->discarded += (size_t)r;
			if (tj->discarded > TICKET_READ_MAX)
				break;
			continue;
		}
		e = SSL_get_error(tj->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (watch(tj, e) < 0) {
				fail_nomem(tj, "watch");
				break;
			}
			return;
		}
		/* closed without a fatal alert: the handshake stands */
		tj->fatal = e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL;
		break;
	}
	ERR_clear_error();
	finish(tj);
}

static void handshake_step(struct tls_job *tj)
{
	int r, e, sys;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(tj->ssl);
	sys = errno;
	if (r == 1) {
		handshake_done(tj);
		return;
	}
	e = SSL_get_error(tj->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (watch(tj, e) == 0)
			return;
		fail_nomem(tj, "watch");
		finish(tj);
		return;
	}
	/* the chain, when it came before the failure, is worth keeping */
	if (tls_util_record_chain(tj->job->rec, tj->ssl,
				  tj->chain_err == X509_V_OK) == PE_NOMEM) {
		fail_nomem(tj, "chain");
		finish(tj);
		return;
	}
	fail_ssl(tj, e, sys);
	finish(tj);
}

static void on_io(struct step_loop *loop, int fd, unsigned events, void *ctx)
{
	struct tls_job *tj = ctx;

	(void)loop;
	(void)fd;
	(void)events; /* OpenSSL finds out what happened itself */
	if (tj->phase == PH_HANDSHAKE)
		handshake_step(tj);
	else if (tj->phase == PH_TICKETS)
		tickets_step(tj);
}

/* Record the connection and its trace; 0 or PE_NOMEM. */
static int add_conn(struct tls_job *tj)
{
	struct step_rec *rec = tj->job->rec;
	struct tls_trace_set *set =
		tj->env->traces ? tj->env->traces : &tj->own_traces;
	struct tls_trace *t;
	struct conn_rec *c;
	int r = step_rec_add_conn(rec, &c);

	if (r < 0)
		return r;
	tj->conn_idx = rec->n_conns - 1;
	c->key = step_env_conn_key(tj->env);
	step_conn_from_fd(c, tj->fd);
	c->conn_state = RUN_CONN_NEW;
	c->source = RUN_SOURCE_LIBRARY;
	step_tcp_info(c, tj->fd);
	rec->family = c->family;

	t = tls_trace_new(set);
	if (!t)
		return PE_NOMEM;
	t->conn_key = c->key;
	snprintf(t->src, sizeof(t->src), "%s", c->src_addr ? c->src_addr : "");
	snprintf(t->dst, sizeof(t->dst), "%s", c->dst_addr ? c->dst_addr : "");
	t->sport = c->src_port >= 0 && c->src_port <= 65535
			   ? (uint16_t)c->src_port
			   : 0;
	t->dport = c->dst_port >= 0 && c->dst_port <= 65535
			   ? (uint16_t)c->dst_port
			   : 0;
	tls_trace_bind(tj->ssl, t);
	return 0;
}

/* The SSL for the connected fd; 0 or PE_NOMEM. */
static int ssl_setup(struct tls_job *tj)
{
	SSL_SESSION *cached;
	BIO *bio;

	tj->ssl = SSL_new(tj->ctx);
	if (!tj->ssl)
		return PE_NOMEM;
	SSL_set_app_data(tj->ssl, tj);
	bio = bio_nosig(tj->fd);
	if (!bio)
		return PE_NOMEM;
	SSL_set_bio(tj->ssl, bio, bio);
	SSL_set_connect_state(tj->ssl);
	if (tj->name_is_ip) {
		/* no SNI for an address (RFC 6066 section 3) */
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tj->ssl),
						   tj->name))
			return PE_NOMEM;
	} else {
		if (!SSL_set_tlsext_host_name(tj->ssl, tj->name) ||
		    !SSL_set1_host(tj->ssl, tj->name))
			return PE_NOMEM;
	}
	cached = sess_get(tj->env, tj->sess_key);
	if (cached && SSL_SESSION_is_resumable(cached) &&
	    !SSL_set_session(tj->ssl, cached))
		ERR_clear_error(); /* a full handshake then */
	return 0;
}

static void start_handshake(struct tls_job *tj)
{
	int r = ssl_setup(tj);

	if (r == 0)
		r = add_conn(tj);
	if (r < 0) {
		fail_nomem(tj, "tls set-up");
		finish(tj);
		return;
	}
	tj->phase = PH_HANDSHAKE;
	step_loop_timer_start(tj->env->loop, &tj->timer,
			      delay_to(step_job_deadline_ns(tj->job)),
			      on_timer, tj);
	tj->t_hs0 = step_loop_now_ns();
	handshake_step(tj);
}

static void connect_next(struct tls_job *tj);

static void on_connect(void *ctx, int fd, const char *error_class,
		       const char *detail, double connect_ms,
		       const struct step_conn_tuple *tuple)
{
	struct tls_job *tj = ctx;

	if (fd < 0) {
		tj->have_last_tuple = tuple != NULL;
		if (tuple)
			tj->last_tuple = *tuple;
		snprintf(tj->last_class, sizeof(tj->last_class), "%s",
			 error_class ? error_class : "tcp.error");
		snprintf(tj->last_detail, sizeof(tj->last_detail), "%s",
			 detail ? detail : "");
		connect_next(tj);
		return;
	}
	tj->fd = fd;
	tj->job->rec->connect_ms = connect_ms;
	start_handshake(tj);
}

static void connect_next(struct tls_job *tj)
{
	size_t i = tj->next_addr;

	if (i >= tj->addrs.n) {
		/* the last attempt is the failed step's connection (see
		 * step_tcp.c) */
		if (step_rec_add_attempt(tj->job, tj->have_last_tuple
							  ? &tj->last_tuple
							  : NULL) < 0)
			fail_nomem(tj, "tls connect");
		fail(tj, tj->last_class[0] ? tj->last_class : "tcp.error",
		     "%s", tj->last_detail);
		finish(tj);
		return;
	}
	tj->next_addr++;
	tj->phase = PH_CONNECT;
	if (step_connect_start(tj->env, (struct sockaddr *)&tj->addrs.a[i],
			       tj->addrs.len[i],
			       step_job_deadline_ns(tj->job), on_connect, tj,
			       NULL) < 0) {
		fail_nomem(tj, "connect");
		finish(tj);
	}
}

static void on_resolved(void *ctx, const char *error_class,
			const char *detail, const struct step_addrs *addrs,
			double dns_ms)
{
	struct tls_job *tj = ctx;

	tj->job->rec->dns_ms = dns_ms;
	if (error_class || !addrs || addrs->n == 0) {
		fail(tj, error_class ? error_class : "dns.error", "%s",
		     detail ? detail : "no address");
		finish(tj);
		return;
	}
	tj->addrs = *addrs;
	if (tj->addrs.n > STEP_MAX_ADDRS)
		tj->addrs.n = STEP_MAX_ADDRS;
	connect_next(tj);
}

static void on_deferred(struct step_loop *loop, void *ctx)
{
	(void)loop;
	finish(ctx);
}

static int ip_family(enum scn_ip ip)
{
	switch (ip) {
	case SCN_IP_4:
		return AF_INET;
	case SCN_IP_6:
		return AF_INET6;
	default:
		return AF_UNSPEC;
	}
}

int step_tls_start(struct step_job *job)
{
	const struct scn_step *st = job->st;
	const struct scn_opts *o = &st->opts;
	struct tls_job *tj;
	struct errbuf err = { { 0 } };
	int ret = PE_NOMEM, r;

	tj = calloc(1, sizeof(*tj));
	if (!tj)
		return PE_NOMEM;
	tj->job = job;
	tj->env = job->env;
	tj->fd = -1;
	tj->alert_in = -1;
	tj->chain_err = X509_V_OK;
	tj->phase = PH_RESOLVE;

	tj->host = step_expand(job->env, &st->target, &err);
	if (!tj->host) {
		/* a missing variable is the scenario's problem: data */
		fail(tj, "tls.error", "target: %s", err.msg);
		goto defer;
	}
	strip_brackets(tj->host);
	if ((o->set & SCN_OPT_SNI) && o->sni.n) {
		tj->name = step_expand(job->env, &o->sni, &err);
		if (!tj->name) {
			fail(tj, "tls.error", "sni: %s", err.msg);
			goto defer;
		}
		strip_brackets(tj->name);
		tj->name_shown = has_env(&o->sni) ? scn_tmpl_show(&o->sni)
						  : xstrdup(tj->name);
		if (!tj->name_shown)
			goto out;
	}
	if (!tj->name || !tj->name[0]) {
		step_secret_free(tj->name);
		free(tj->name_shown);
		tj->name = xstrdup(tj->host);
		tj->name_shown = has_env(&st->target)
					 ? scn_tmpl_show(&st->target)
					 : xstrdup(tj->host);
		if (!tj->name || !tj->name_shown)
			goto out;
	}
	tj->name_is_ip = is_ip_literal(tj->name);
	tj->sess_key = xasprintf("%s|%u|%s|%s|%s|%s", tj->host, st->port,
				 tj->name, o->ca ? o->ca : "system",
				 o->cert ? o->cert : "",
				 o->key ? o->key : "");
	if (!tj->sess_key)
		goto out;

	r = ctx_setup(tj, &err);
	/* total_ms starts here: loading the CA file (1-2 ms) is the
	 * probe's own set-up, nothing a user waits for, and no segment of
	 * the step's waterfall (dns_ms + connect_ms + tls_ms) */
	tj->t_start = step_loop_now_ns();
	if (r == PE_NOMEM)
		goto out;
	if (r < 0) {
		fail(tj, "tls.error", "%s", err.msg);
		goto defer;
	}
	r = step_dns_resolve(job->env, tj->host, ip_family(o->ip), st->port,
			     step_job_deadline_ns(job), on_resolved, tj);
	if (r < 0)
		goto out;
	return 0;

defer:
	/* job->done must not run inside the start function */
	step_loop_timer_start(job->env->loop, &tj->timer, 0, on_deferred, tj);
	return 0;
out:
	tj_free(tj);
	return ret;
}
