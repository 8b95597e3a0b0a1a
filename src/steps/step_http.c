/*
 * step_http.c: the `http` step, on libcurl's multi interface driven by the
 * run's one loop (step_loop.h).
 *
 * One struct step_http per scenario run holds a CURLM (so parallel
 * scenarios never share a connection cache), ONE easy handle that every
 * http step of the scenario reuses (its TLS session cache makes later
 * connections resume) and a CURLSH holding the scenario's cookies.
 * Every hop starts from curl_easy_reset(), which keeps the connections,
 * session cache and cookies, and sets every option afresh, so nothing a
 * previous step set can leak into the next.
 *
 * Why the cookies sit in a share: libcurl 7.88.1's curl_easy_reset()
 * drops the list CURLOPT_COOKIEFILE builds without freeing it (curl issue
 * 10694, fixed in 8.0 by PR 10709), and the only way to free that list,
 * CURLOPT_COOKIEFILE NULL, also throws the cookies away -- unless they
 * live in a share.  So each hop enables the engine with COOKIEFILE "" on
 * the share's cookie store, and easy_reset() clears the list first.
 *
 * The decisions of DESIGN section 3, and how they are kept here:
 * - DNS is the probe's own: before each hop the host (and a proxy's host)
 *   is resolved with step_dns_resolve() and handed to curl with
 *   CURLOPT_RESOLVE, so curl's threaded resolver never runs.  IP literals
 *   need no entry: curl does not resolve them either.
 * - Redirects are followed here, hop by hop (CURLOPT_FOLLOWLOCATION 0):
 *   each hop is one exchange_rec with its own timings, and a new host is
 *   resolved by us like the first.
 * - Proxies are explicit: CURLOPT_PROXY "" unless the scenario says
 *   proxy=...; "" makes curl ignore http_proxy/https_proxy/ALL_PROXY.
 * - Every connection's 5-tuple is known: CURLOPT_PREREQFUNCTION runs once
 *   the connection is set up (and TLS done), before the request.
 * - TLS record order and secrets: CURLOPT_SSL_CTX_FUNCTION (once per new
 *   connection; curl 7.88 makes one SSL_CTX per connection) installs
 *   tls_trace's callbacks and an info callback of ours that binds the
 *   connection's trace at SSL_CB_HANDSHAKE_START, before the ClientHello
 *   is written.  Binding only in the prereq callback would be too late:
 *   the handshake records (which the analyzer counts to find the k-th
 *   record) and the keylog lines (all logged during the handshake) would
 *   be lost.
 *
 * Secrets: the expanded URL, headers, body and proxy may carry values of
 * environment variables.  They live in per-job buffers that are wiped
 * when the job ends, and no detail, URL or message this file records
 * contains them: URLs are shown from the template (scn_tmpl_show) and
 * every recorded text goes through step_redact() (step_fail() applies it to
 * every detail), which replaces the values of
 * the plan's environment variables by ${NAME}.  (curl keeps its own copy
 * of the POST body, CURLOPT_COPYPOSTFIELDS, and frees it unwiped.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "steps/step.h"
#include "steps/tls_trace.h"
#include "steps/tls_util.h"
#include "util/xalloc.h"

#define HTTP_CONN_MAP 64        /* connections remembered for reuse */
#define HTTP_MAX_LOOKUPS 2      /* per hop: the target and/or the proxy */
#define HTTP_EXCERPT 80         /* bytes of a body or header in a detail */
#define HTTP_DETAIL 4096        /* bytes of a detail before redaction */
#define HTTP_BODY_CAP0 16384u   /* first allocation of a response body */

/* A connection this run recorded, found again by its local address. */
struct http_conn {
	uint32_t key;
	long lport;
	char lip[INET6_ADDRSTRLEN];
};

struct step_http {
	struct step_env *env;
	CURLM *multi;
	CURL *easy;
	CURLSH *share;                 /* the scenario's cookies */
	bool attached;                 /* easy is in multi */
	struct http_job *cur;          /* the job of the step running */
	struct step_loop_timer timer;  /* curl's CURLMOPT_TIMERFUNCTION */
	struct http_conn conns[HTTP_CONN_MAP]; /* a ring: oldest replaced */
	size_t n_conns, next_conn;
	/* the SSL_CTX being set up for a new connection, and its trace */
	SSL_CTX *pending_ctx;
	struct tls_trace *pending_trace;
};

struct http_job;

/* One name resolution of a hop. */
struct http_lookup {
	struct http_job *hj;
	char *host;           /* as curl looks it up (punycode, no []) */
	uint16_t port;
	bool literal;         /* an IP address: no CURLOPT_RESOLVE entry */
	int af;               /* the first answer's family, 0 before */
};

struct http_job {
	struct step_job *job;
	struct step_http *h;
	struct step_loop_timer kick;  /* ends a job that failed early */

	/* the request; expanded values may hold secrets (wiped on free) */
	char *url;              /* this hop's URL, expanded */
	char *shown;            /* this hop's URL as recorded */
	const char *method;     /* st->method, or "GET" after a 301/302/303 */
	bool send_body;
	char *body;
	size_t body_len;
	char **hdrs;            /* expanded "Name: value" */
	size_t n_hdrs;
	char *proxy;            /* NULL: no proxy */
	char *pins;             /* "sha256//a;sha256//b", NULL: none */
	char *origin;           /* first hop's scheme://host:port */
	unsigned hop;           /* 0-based */
	bool https;             /* this hop's scheme */
	bool same_origin;       /* this hop goes where the first went */

	/* this hop's name resolution */
	struct http_lookup look[HTTP_MAX_LOOKUPS];
	size_t n_look, pending;
	struct curl_slist *resolve;
	double dns_ms;
	const char *dns_class;  /* a failed lookup's class, or NULL */
	char dns_cls[32];
	char dns_detail[160];

	/* this hop's transfer */
	struct curl_slist *req_hdrs;
	char *buf;              /* response body, NUL-terminated */
	size_t len, cap;
	uint64_t max_body;
	bool too_large;
	char errbuf[CURL_ERROR_SIZE];

	/* this hop's connection, from the SSL_CTX and prereq callbacks */
	bool prereq;
	uint64_t ready_ns;      /* CLOCK_MONOTONIC at the prereq callback */
	uint32_t new_key;       /* a new TLS connection's reserved key */
	struct tls_trace *trace;
	struct tls_trace *cur_trace; /* this hop's connection's, new or not */
	bool marked;            /* its final status line was seen */
	char lip[INET6_ADDRSTRLEN], pip[INET6_ADDRSTRLEN];
	long lport, pport;
	bool tls, resumed;
	int64_t days_left;      /* the leaf's; RUN_NULL_INT unknown */

	/* the step so far */
	bool chain_done;        /* the certificate chain is recorded */
	double total_ms;        /* sum of the hops' total_ms */
	int64_t min_days;       /* the lowest leaf days_left of all hops */
};

/* ---- small helpers ---------------------------------------------------- */

/*
 * Every curl_easy_setopt goes through this one macro: on failure it sets
 * ret and err (naming the option) and jumps to the function's out:.
 */
#define SETOPT(easy, opt, val)                                               \
	do {                                                                 \
		CURLcode so_rc_ = curl_easy_setopt((easy), (opt), (val));    \
		if (so_rc_ != CURLE_OK) {                                    \
			ret = errbuf_set(err,                                \
					 so_rc_ == CURLE_OUT_OF_MEMORY       \
						 ? PE_NOMEM                  \
						 : PE_INVAL,                 \
					 "curl_easy_setopt(%s): %s", #opt,   \
					 curl_easy_strerror(so_rc_));        \
			goto out;                                            \
		}                                                            \
	} while (0)

/* The same for the multi handle. */
#define MSETOPT(multi, opt, val)                                             \
	do {                                                                 \
		CURLMcode so_rc_ = curl_multi_setopt((multi), (opt), (val)); \
		if (so_rc_ != CURLM_OK) {                                    \
			ret = errbuf_set(err, PE_INVAL,                      \
					 "curl_multi_setopt(%s): %s", #opt,  \
					 curl_multi_strerror(so_rc_));       \
			goto out;                                            \
		}                                                            \
	} while (0)

/* Wipe a secret of known length and free it. */
static void wipe_free(char *s, size_t len)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, len);
	free(s);
}

/* A NUL-terminated secret: the executor's one wipe-and-free. */
#define wipe_str step_secret_free

/* Free an slist whose strings may be secrets. */
static void slist_wipe_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		if (p->data)
			OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static void set_text(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

static bool is_ip_literal(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	return inet_pton(AF_INET, host, &a4) == 1 ||
	       inet_pton(AF_INET6, host, &a6) == 1;
}

static enum run_family family_of(const char *ip)
{
	if (!ip || !*ip)
		return RUN_FAMILY_NULL;
	return strchr(ip, ':') ? RUN_FAMILY_IPV6 : RUN_FAMILY_IPV4;
}


/*
 * Fail the step with a detail that holds no environment value.  The text
 * is redacted before step_fail() cuts it to its own size, so the cut can
 * split a ${NAME}, never a value.
 */
static void fail(struct http_job *hj, const char *error_class,
		 const char *fmt, ...) PE_PRINTF(3, 4);
static void fail(struct http_job *hj, const char *error_class,
		 const char *fmt, ...)
{
	char buf[HTTP_DETAIL];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* step_fail redacts environment values too */
	step_fail(hj->job, error_class, "%s", buf);
	OPENSSL_cleanse(buf, sizeof(buf));
}

/* Up to HTTP_EXCERPT bytes of p as printable text ('.' for the rest). */
static void excerpt(char *out, size_t size, const char *p, size_t n)
{
	size_t k = 0;
	if (n > HTTP_EXCERPT)
		n = HTTP_EXCERPT;
	for (size_t i = 0; i < n && k + 1 < size; i++) {
		unsigned char c = (unsigned char)p[i];
		out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
	}
	out[k] = '\0';
}

/* ---- the connection map ----------------------------------------------- */

static uint32_t conn_find(const struct step_http *h, const char *lip,
			  long lport)
{
	for (size_t i = 0; i < h->n_conns; i++)
		if (h->conns[i].lport == lport &&
		    strcmp(h->conns[i].lip, lip) == 0)
			return h->conns[i].key;
	return 0;
}

static void conn_remember(struct step_http *h, uint32_t key, const char *lip,
			  long lport)
{
	struct http_conn *c = NULL;
	/* a local address seen again is a new connection on a reused port */
	for (size_t i = 0; i < h->n_conns && !c; i++)
		if (h->conns[i].lport == lport &&
		    strcmp(h->conns[i].lip, lip) == 0)
			c = &h->conns[i];
	if (!c && h->n_conns < HTTP_CONN_MAP)
		c = &h->conns[h->n_conns++];
	if (!c) {
		c = &h->conns[h->next_conn];
		h->next_conn = (h->next_conn + 1) % HTTP_CONN_MAP;
	}
	c->key = key;
	c->lport = lport;
	snprintf(c->lip, sizeof(c->lip), "%s", lip);
}

static struct tls_trace *trace_by_key(const struct step_env *env,
				      uint32_t key)
{
	const struct tls_trace_set *set = env->traces;
	for (size_t i = 0; set && key && i < set->n; i++)
		if (set->v[i]->conn_key == key)
			return set->v[i];
	return NULL;
}

/* ---- curl's TLS callbacks --------------------------------------------- */

static CRYPTO_ONCE ctx_once = CRYPTO_ONCE_STATIC_INIT;
static int ctx_idx = -1;

static void ctx_idx_init(void)
{
	ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/*
 * Bind the new connection's trace before its first record.  The SSL_CTX
 * carries our struct step_http (ex_data); it names the SSL_CTX it waits
 * for, so a later handshake event of an older connection (TLS 1.3 sends
 * HANDSHAKE_START for post-handshake messages too) binds nothing.
 */
static void info_cb(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_START) || ctx_idx < 0)
		return;
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	struct step_http *h = SSL_CTX_get_ex_data(ctx, ctx_idx);
	if (!h || h->pending_ctx != ctx)
		return;
	if (h->pending_trace && !tls_trace_of(ssl))
		/* OpenSSL hands info callbacks a const SSL; binding only
		 * sets our own ex_data on it */
		tls_trace_bind((SSL *)ssl, h->pending_trace);
	h->pending_ctx = NULL;
	h->pending_trace = NULL;
}

/* CURLOPT_SSL_CTX_FUNCTION: a new TLS connection is being set up. */
static CURLcode ssl_ctx_cb(CURL *easy, void *ssl_ctx, void *clientp)
{
	struct http_job *hj = clientp;
	struct step_http *h = hj->h;
	SSL_CTX *ctx = ssl_ctx;
	(void)easy;

	tls_trace_attach(ctx);
	/* the key of the conn_rec hop_conn() will add, failed or not */
	hj->new_key = step_env_conn_key(h->env);
	hj->trace = tls_trace_new(h->env->traces);
	if (hj->trace)
		hj->trace->conn_key = hj->new_key;
	/* without the index (or the trace) the transfer still runs */
	if (CRYPTO_THREAD_run_once(&ctx_once, ctx_idx_init) && ctx_idx >= 0 &&
	    hj->trace && SSL_CTX_set_ex_data(ctx, ctx_idx, h) == 1) {
		h->pending_ctx = ctx;
		h->pending_trace = hj->trace;
		SSL_CTX_set_info_callback(ctx, info_cb);
	}
	return CURLE_OK;
}

/* The TLS facts of this hop's connection; the SSL is valid only now. */
static void tls_facts(struct http_job *hj, SSL *ssl)
{
	struct step_rec *r = hj->job->rec;
	struct tls_trace *t = tls_trace_of(ssl);

	hj->tls = true;
	if (hj->trace) {
		/* a new connection: its trace was bound at handshake start */
		if (!t)
			tls_trace_bind(ssl, hj->trace);
		t = hj->trace;
		t->conn_key = hj->new_key;
		snprintf(t->src, sizeof(t->src), "%s", hj->lip);
		snprintf(t->dst, sizeof(t->dst), "%s", hj->pip);
		t->sport = (uint16_t)hj->lport;
		t->dport = (uint16_t)hj->pport;
	} else if (!t) {
		/* reused, but unbound (its trace could not be made then) */
		t = trace_by_key(hj->h->env,
				 conn_find(hj->h, hj->lip, hj->lport));
		if (t)
			tls_trace_bind(ssl, t);
	}

	hj->cur_trace = t;
	hj->resumed = SSL_session_reused(ssl) == 1;
	set_text(&r->tls_version, SSL_get_version(ssl));
	set_text(&r->tls_cipher, SSL_get_cipher_name(ssl));
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	free(r->alpn);
	r->alpn = alpn_len ? xstrndup((const char *)alpn, alpn_len) : NULL;
	r->tls_resumed = hj->resumed ? 1 : 0;

	int64_t days;
	hj->days_left = tls_util_days_left(ssl, &days) == 0 ? days
							     : RUN_NULL_INT;
	if (!hj->chain_done) {
		/*
		 * With verification on (never turned off here) a connection
		 * that got this far was verified; SSL_VERIFYRESULT says so.
		 */
		long vr = 0;
		if (curl_easy_getinfo(hj->h->easy, CURLINFO_SSL_VERIFYRESULT,
				      &vr) != CURLE_OK)
			vr = 0;
		hj->chain_done = true;
		/* PE_LIMIT keeps the first RUN_MAX_CERTS, PE_NOMEM loses
		 * the rest: the measurement stands either way */
		int cr = tls_util_record_chain(r, ssl, vr == 0);
		(void)cr;
	}
}

/*
 * CURLOPT_PREREQFUNCTION: the connection is up (TLS included), the
 * request not yet sent.  The only place that sees both the 5-tuple and,
 * for TLS, the SSL* (CURLINFO_TLS_SSL_PTR is valid only during the
 * transfer).
 */
static int prereq_cb(void *clientp, char *pip, char *lip, int pport,
		     int lport)
{
	struct http_job *hj = clientp;
	struct curl_tlssessioninfo *ti = NULL;

	hj->prereq = true;
	hj->ready_ns = step_loop_now_ns();
	snprintf(hj->pip, sizeof(hj->pip), "%s", pip ? pip : "");
	snprintf(hj->lip, sizeof(hj->lip), "%s", lip ? lip : "");
	hj->pport = pport;
	hj->lport = lport;
	if (curl_easy_getinfo(hj->h->easy, CURLINFO_TLS_SSL_PTR, &ti) ==
		    CURLE_OK &&
	    ti && ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals)
		tls_facts(hj, ti->internals);
	return CURL_PREREQFUNC_OK;
}

/*
 * CURLOPT_OPENSOCKETFUNCTION: curl's sockets are made here, so that the
 * run learns each connection's 5-tuple even when the connect fails (a
 * refused connection gives no prereq callback, and the kernel forgets
 * the local port of a socket whose connect failed): the socket is bound
 * to the wildcard address and an ephemeral port before curl connects it,
 * and that port is recorded (the local address stays the wildcard: the
 * route picks it at connect).  The capture hears of the server first.
 */
static curl_socket_t opensocket_cb(void *clientp, curlsocktype purpose,
				   struct curl_sockaddr *a)
{
	struct step_http *h = clientp;
	(void)purpose;
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd < 0)
		return CURL_SOCKET_BAD;
	if (a->protocol == IPPROTO_TCP || a->socktype == SOCK_STREAM) {
		step_env_endpoint(h->env, IPPROTO_TCP, &a->addr);
		struct sockaddr_storage any;
		memset(&any, 0, sizeof(any));
		any.ss_family = (sa_family_t)a->family;
		socklen_t len = a->family == AF_INET6
					? sizeof(struct sockaddr_in6)
					: sizeof(struct sockaddr_in);
		if (bind(fd, (struct sockaddr *)&any, len) == 0)
			step_env_flow(h->env, IPPROTO_TCP, fd, &a->addr);
	}
	return fd;
}

/*
 * Header lines: only the final response's status line matters here, to
 * mark which TLS record carried it (tls_trace_mark).  1xx interim
 * responses are skipped.
 */
static size_t header_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct http_job *hj = ud;
	size_t n = size * nmemb;
	if (!hj->marked && n > 9 && memcmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n);
		if (sp && (size_t)(sp - p) + 1 < n && sp[1] != '1') {
			hj->marked = true;
			if (hj->cur_trace)
				tls_trace_mark(hj->cur_trace);
		}
	}
	return n;
}

/* The response body, capped at max_body: past it the transfer fails. */
static size_t write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct http_job *hj = ud;
	size_t n = size * nmemb;

	if ((uint64_t)n > hj->max_body - hj->len) {
		hj->too_large = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (hj->len + n + 1 > hj->cap) {
		size_t cap = hj->cap ? hj->cap : HTTP_BODY_CAP0;
		while (cap < hj->len + n + 1)
			cap *= 2;
		if ((uint64_t)cap > hj->max_body + 1)
			cap = (size_t)hj->max_body + 1;
		char *b = realloc(hj->buf, cap);
		if (!b)
			return 0;
		hj->buf = b;
		hj->cap = cap;
	}
	memcpy(hj->buf + hj->len, p, n);
	hj->len += n;
	hj->buf[hj->len] = '\0';
	return n;
}

/* ---- the multi handle on the loop ------------------------------------- */

static void hop_done(struct http_job *hj, CURLcode rc);
static void finish(struct http_job *hj);

/* Collect finished transfers; a message dies with the next multi call. */
static void drain(struct step_http *h)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE || m->easy_handle != h->easy)
			continue;
		CURLcode rc = m->data.result;
		if (h->cur)
			hop_done(h->cur, rc);
	}
}

static void action(struct step_http *h, curl_socket_t fd, int flags)
{
	int running;
	CURLMcode mc = curl_multi_socket_action(h->multi, fd, flags, &running);
	if (mc != CURLM_OK && h->cur && h->attached) {
		/* the transfer cannot go on: no DONE message will come */
		fail(h->cur, "internal", "curl_multi_socket_action: %s",
		     curl_multi_strerror(mc));
		finish(h->cur);
		return;
	}
	drain(h);
}

static void on_io(struct step_loop *loop, int fd, unsigned events,
		  void *ctx)
{
	int flags = 0;
	(void)loop;
	if (events & STEP_LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (events & STEP_LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (events & STEP_LOOP_ERROR)
		flags |= CURL_CSELECT_ERR;
	action(ctx, fd, flags);
}

static void on_timer(struct step_loop *loop, void *ctx)
{
	(void)loop;
	action(ctx, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct step_http *h = userp;
	unsigned ev = 0;
	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		step_loop_unwatch(h->env->loop, fd);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= STEP_LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= STEP_LOOP_WRITE;
	return step_loop_watch(h->env->loop, fd, ev, on_io, h) < 0 ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: never act from here, only arm the timer. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct step_http *h = userp;
	(void)multi;
	if (timeout_ms < 0)
		step_loop_timer_stop(h->env->loop, &h->timer);
	else
		step_loop_timer_start(h->env->loop, &h->timer,
				      (uint64_t)timeout_ms * 1000000u,
				      on_timer, h);
	return 0;
}

static void detach(struct step_http *h)
{
	if (!h->attached)
		return;
	h->attached = false;
	/* it fails only for a handle that is not in the multi */
	CURLMcode mc = curl_multi_remove_handle(h->multi, h->easy);
	(void)mc;
}

/*
 * curl_easy_reset() that neither leaks the CURLOPT_COOKIEFILE list nor
 * loses the cookies (see the top of this file).  The handle must not be
 * in the multi.
 */
static int easy_reset(struct step_http *h, struct errbuf *err)
{
	int ret = 0;
	SETOPT(h->easy, CURLOPT_COOKIEFILE, (char *)NULL);
out:
	curl_easy_reset(h->easy);
	return ret;
}

/* ---- env -------------------------------------------------------------- */

static bool curl_ready;

int step_http_env_init(struct step_env *env, struct errbuf *err)
{
	struct step_http *h = NULL;
	int ret = 0;

	env->http = NULL;
	if (!curl_ready) {
		/* idempotent, and the loop is the process's only thread */
		CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (rc != CURLE_OK) {
			ret = errbuf_set(err, PE_INVAL, "curl_global_init: %s",
					 curl_easy_strerror(rc));
			goto out;
		}
		curl_ready = true;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
		goto out;
	}
	h->env = env;
	h->multi = curl_multi_init();
	h->easy = curl_easy_init();
	h->share = curl_share_init();
	if (!h->multi || !h->easy || !h->share) {
		ret = errbuf_set(err, PE_NOMEM, "curl: cannot make handles");
		goto out;
	}
	/* no lock callbacks: the share is used from the loop's thread only */
	CURLSHcode sc = curl_share_setopt(h->share, CURLSHOPT_SHARE,
					  CURL_LOCK_DATA_COOKIE);
	if (sc != CURLSHE_OK) {
		ret = errbuf_set(err, PE_NOMEM, "curl_share_setopt: %s",
				 curl_share_strerror(sc));
		goto out;
	}
	MSETOPT(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	MSETOPT(h->multi, CURLMOPT_SOCKETDATA, h);
	MSETOPT(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	MSETOPT(h->multi, CURLMOPT_TIMERDATA, h);
	env->http = h;
	h = NULL;
out:
	if (h) {
		if (h->easy)
			curl_easy_cleanup(h->easy);
		if (h->share)
			curl_share_cleanup(h->share);
		if (h->multi)
			curl_multi_cleanup(h->multi);
		free(h);
	}
	return ret;
}

static void job_free(struct http_job *hj);

void step_http_env_release(struct step_env *env)
{
	struct step_http *h = env->http;
	if (!h)
		return;
	if (h->cur) {
		/* the executor ends steps before scenarios; be safe anyway */
		detach(h);
		job_free(h->cur);
		h->cur = NULL;
	}
	detach(h);
	/*
	 * Closing the cached connections calls our socket callback (and
	 * sends TLS close_notify through tls_trace's callbacks: the run's
	 * traces must outlive this call).
	 */
	curl_multi_cleanup(h->multi);
	/* the easy handle first: a share in use refuses to go */
	curl_easy_cleanup(h->easy);
	curl_share_cleanup(h->share);
	step_loop_timer_stop(env->loop, &h->timer);
	for (size_t i = env->loop->n; i-- > 0;)
		if (env->loop->w[i].ctx == h && env->loop->w[i].cb == on_io)
			step_loop_unwatch(env->loop, env->loop->w[i].fd);
	free(h);
	env->http = NULL;
}

/* ---- a job ------------------------------------------------------------ */

static void hop_reset(struct http_job *hj)
{
	for (size_t i = 0; i < hj->n_look; i++)
		free(hj->look[i].host);
	memset(hj->look, 0, sizeof(hj->look));
	hj->n_look = hj->pending = 0;
	curl_slist_free_all(hj->resolve);
	hj->resolve = NULL;
	slist_wipe_free(hj->req_hdrs);
	hj->req_hdrs = NULL;
	hj->dns_ms = NAN;
	hj->dns_class = NULL;
	hj->dns_detail[0] = '\0';
	hj->len = 0;
	if (hj->buf)
		hj->buf[0] = '\0';
	hj->too_large = false;
	hj->errbuf[0] = '\0';
	hj->prereq = false;
	hj->ready_ns = 0;
	hj->new_key = 0;
	hj->trace = NULL;
	hj->cur_trace = NULL;
	hj->marked = false;
	hj->lip[0] = hj->pip[0] = '\0';
	hj->lport = hj->pport = 0;
	hj->tls = hj->resumed = false;
	hj->days_left = RUN_NULL_INT;
}

static void job_free(struct http_job *hj)
{
	if (!hj)
		return;
	hop_reset(hj);
	step_loop_timer_stop(hj->job->env->loop, &hj->kick);
	/* no handshake can be waiting for this job's trace any more */
	hj->h->pending_ctx = NULL;
	hj->h->pending_trace = NULL;
	wipe_str(hj->url);
	free(hj->shown);
	wipe_free(hj->body, hj->body_len);
	for (size_t i = 0; i < hj->n_hdrs; i++)
		wipe_str(hj->hdrs[i]);
	free(hj->hdrs);
	wipe_str(hj->proxy);
	free(hj->pins);
	free(hj->origin);
	if (hj->buf)
		OPENSSL_cleanse(hj->buf, hj->cap);
	free(hj->buf);
	free(hj);
}

/* The step's own figures once the last hop is in; then job->done. */
static void finish(struct http_job *hj)
{
	struct step_job *job = hj->job;
	struct step_http *h = hj->h;
	struct step_rec *r = job->rec;

	detach(h);
	if (r->n_exchanges)
		r->total_ms = hj->total_ms +
			      (isnan(hj->dns_ms) || !hj->dns_class
				       ? 0
				       : hj->dns_ms);
	else if (hj->dns_class && !isnan(hj->dns_ms))
		r->total_ms = hj->dns_ms;
	h->cur = NULL;
	job_free(hj);
	/* no pointer into the freed job may stay in the handle */
	struct errbuf err;
	if (easy_reset(h, &err) < 0) {
		/* reset anyway; only a leak of curl's list is at stake */
	}
	job->done(job);
}

static void on_kick(struct step_loop *loop, void *ctx)
{
	(void)loop;
	finish(ctx);
}

/* Fail now, finish from the loop (never inside step_http_start). */
static void finish_later(struct http_job *hj)
{
	step_loop_timer_start(hj->job->env->loop, &hj->kick, 0, on_kick, hj);
}

/* scheme://host:port of url, or NULL. */
static char *origin_of(CURLU *u)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *o = NULL;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, CURLU_PUNYCODE) ==
		    CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
		    CURLUE_OK)
		o = xasprintf("%s://%s:%s", scheme, host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return o;
}

/*
 * Add a lookup of u's host and port for this hop; default_port when u
 * has none.  (Not CURLU_DEFAULT_PORT: for a proxy curl's default is 1080
 * or 443, not the scheme's, and the CURLOPT_RESOLVE entry must match the
 * port curl connects to.)
 */
static int add_lookup(struct http_job *hj, CURLU *u, uint16_t default_port)
{
	char *host = NULL, *port = NULL;
	int ret = PE_INVAL;
	if (hj->n_look >= HTTP_MAX_LOOKUPS)
		return PE_LIMIT;
	if (curl_url_get(u, CURLUPART_HOST, &host, CURLU_PUNYCODE) !=
	    CURLUE_OK)
		goto out;
	struct http_lookup *l = &hj->look[hj->n_look];
	size_t n = strlen(host);
	/* "[::1]" -> "::1" (a zone id stays: inet_pton refuses it) */
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
		l->host = xstrndup(host + 1, n - 2);
	else
		l->host = xstrdup(host);
	if (!l->host) {
		ret = PE_NOMEM;
		goto out;
	}
	l->port = default_port;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
		l->port = (uint16_t)strtoul(port, NULL, 10);
	l->literal = is_ip_literal(l->host);
	l->hj = hj;
	hj->n_look++;
	ret = 0;
out:
	curl_free(host);
	curl_free(port);
	return ret;
}

/* The CURLOPT_RESOLVE entry "host:port:a1,[a2]" for a lookup's answer. */
static int add_resolve(struct http_job *hj, const struct http_lookup *l,
		       const struct step_addrs *addrs)
{
	char line[300 + STEP_MAX_ADDRS * (INET6_ADDRSTRLEN + 3)];
	int n = snprintf(line, sizeof(line), "%s:%u:", l->host, l->port);
	if (n < 0 || (size_t)n >= sizeof(line))
		return PE_INVAL;
	size_t k = (size_t)n;
	for (size_t i = 0; i < addrs->n; i++) {
		char ip[INET6_ADDRSTRLEN];
		const struct sockaddr_storage *ss = &addrs->a[i];
		const void *a;
		if (ss->ss_family == AF_INET)
			a = &((const struct sockaddr_in *)(const void *)ss)
				     ->sin_addr;
		else if (ss->ss_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)(const void *)ss)
				     ->sin6_addr;
		else
			continue;
		if (!inet_ntop(ss->ss_family, a, ip, sizeof(ip)))
			continue;
		n = snprintf(line + k, sizeof(line) - k,
			     ss->ss_family == AF_INET6 ? "%s[%s]" : "%s%s",
			     line[k - 1] == ':' ? "" : ",", ip);
		if (n < 0 || (size_t)n >= sizeof(line) - k)
			return PE_LIMIT;
		k += (size_t)n;
	}
	struct curl_slist *nl = curl_slist_append(hj->resolve, line);
	if (!nl)
		return PE_NOMEM;
	hj->resolve = nl;
	return 0;
}

static int hop_transfer(struct http_job *hj, struct errbuf *err);

static void dns_cb(void *ctx, const char *error_class, const char *detail,
		   const struct step_addrs *addrs, double dns_ms)
{
	struct http_lookup *l = ctx;
	struct http_job *hj = l->hj;
	struct errbuf err = { "" };

	/* lookups run side by side: the hop waited for the slowest */
	if (!isnan(dns_ms) && (isnan(hj->dns_ms) || dns_ms > hj->dns_ms))
		hj->dns_ms = dns_ms;
	if (!error_class && (!addrs || !addrs->n)) {
		error_class = "dns.error"; /* never let curl resolve it */
		detail = "an answer without addresses";
	}
	if (error_class) {
		if (!hj->dns_class) {
			/* copied: the strings are borrowed for this call */
			snprintf(hj->dns_cls, sizeof(hj->dns_cls), "%s",
				 error_class);
			hj->dns_class = hj->dns_cls;
			snprintf(hj->dns_detail, sizeof(hj->dns_detail), "%s",
				 detail ? detail : error_class);
		}
	} else if (!hj->dns_class) {
		l->af = addrs->a[0].ss_family;
		int r = l->literal ? 0 : add_resolve(hj, l, addrs);
		if (r < 0) {
			hj->dns_class = "internal";
			snprintf(hj->dns_detail, sizeof(hj->dns_detail),
				 "CURLOPT_RESOLVE entry for %s: %s", l->host,
				 pe_name(r));
		}
	}
	if (--hj->pending)
		return;

	struct step_rec *r = hj->job->rec;
	if (hj->hop == 0)
		r->dns_ms = hj->dns_ms;
	if (hj->dns_class) {
		fail(hj, hj->dns_class, "%s", hj->dns_detail);
		finish(hj);
		return;
	}
	if (hop_transfer(hj, &err) < 0) {
		fail(hj, "internal", "%s", err.msg);
		finish(hj);
	}
}

/* socks4/socks5 resolve the target here; the others at the proxy. */
static bool proxy_resolves_locally(const char *proxy)
{
	return strncasecmp(proxy, "socks4://", 9) == 0 ||
	       strncasecmp(proxy, "socks5://", 9) == 0;
}

/*
 * Start a hop: parse its URL, resolve what curl will connect to.  Errors
 * fail the step and end the job from the loop.
 */
static void hop_begin(struct http_job *hj)
{
	const int fams[] = { [SCN_IP_ANY] = AF_UNSPEC, [SCN_IP_4] = AF_INET,
			     [SCN_IP_6] = AF_INET6,
			     [SCN_IP_BOTH] = AF_UNSPEC };
	const struct scn_opts *o = &hj->job->st->opts;
	CURLU *u = curl_url(), *pu = NULL;
	char *scheme = NULL;
	uint64_t deadline = step_job_deadline_ns(hj->job);
	int r;

	hop_reset(hj);
	if (!u) {
		fail(hj, "internal", "curl_url: out of memory");
		goto fail;
	}
	if (curl_url_set(u, CURLUPART_URL, hj->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		fail(hj, "http.error", "invalid URL '%s'", hj->shown);
		goto fail;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		fail(hj, "http.error", "unsupported scheme '%s' in '%s'",
		     scheme, hj->shown);
		goto fail;
	}
	hj->https = strcmp(scheme, "https") == 0;
	char *origin = origin_of(u);
	if (!origin) {
		fail(hj, "http.error", "invalid URL '%s'", hj->shown);
		goto fail;
	}
	if (hj->hop == 0) {
		hj->origin = origin;
		hj->same_origin = true;
	} else {
		hj->same_origin = strcmp(origin, hj->origin) == 0;
		free(origin);
	}
	if (step_loop_now_ns() >= deadline) {
		fail(hj, "http.timeout", "the step's time ran out before "
					 "hop %u", hj->hop + 1);
		goto fail;
	}

	if (hj->proxy) {
		pu = curl_url();
		if (!pu ||
		    curl_url_set(pu, CURLUPART_URL, hj->proxy,
				 CURLU_NON_SUPPORT_SCHEME |
					 CURLU_GUESS_SCHEME) != CURLUE_OK) {
			fail(hj, "http.error", "invalid proxy URL");
			goto fail;
		}
		bool tls = strncasecmp(hj->proxy, "https://", 8) == 0;
		r = add_lookup(hj, pu, tls ? 443 : 1080);
		if (r == 0 && proxy_resolves_locally(hj->proxy))
			r = add_lookup(hj, u, hj->https ? 443 : 80);
	} else {
		r = add_lookup(hj, u, hj->https ? 443 : 80);
	}
	if (r < 0) {
		fail(hj, "http.error", "invalid host in '%s'", hj->shown);
		goto fail;
	}
	hj->pending = hj->n_look;
	for (size_t i = 0; i < hj->n_look; i++) {
		struct http_lookup *l = &hj->look[i];
		if (step_dns_resolve(hj->job->env, l->host, fams[o->ip],
				     l->port, deadline, dns_cb, l) < 0) {
			/* the ones started will call back: count this one
			 * as failed and let the last callback finish */
			hj->dns_class = "internal";
			snprintf(hj->dns_detail, sizeof(hj->dns_detail),
				 "step_dns_resolve: out of memory");
			hj->pending -= hj->n_look - i;
			if (!hj->pending) {
				fail(hj, "internal", "%s", hj->dns_detail);
				goto fail;
			}
			break;
		}
	}
	goto out;
fail:
	finish_later(hj);
out:
	curl_free(scheme);
	curl_url_cleanup(u);
	curl_url_cleanup(pu);
}

static long tls_min_opt(uint16_t v)
{
	switch (v) {
	case 0x0301: return CURL_SSLVERSION_TLSv1_0;
	case 0x0302: return CURL_SSLVERSION_TLSv1_1;
	case 0x0303: return CURL_SSLVERSION_TLSv1_2;
	case 0x0304: return CURL_SSLVERSION_TLSv1_3;
	default: return CURL_SSLVERSION_DEFAULT;
	}
}

static long tls_max_opt(uint16_t v)
{
	switch (v) {
	case 0x0301: return CURL_SSLVERSION_MAX_TLSv1_0;
	case 0x0302: return CURL_SSLVERSION_MAX_TLSv1_1;
	case 0x0303: return CURL_SSLVERSION_MAX_TLSv1_2;
	case 0x0304: return CURL_SSLVERSION_MAX_TLSv1_3;
	default: return CURL_SSLVERSION_MAX_DEFAULT;
	}
}

/* Credentials that must not follow a redirect to another origin. */
static bool is_credential_header(const char *h)
{
	static const char *const names[] = { "authorization:", "cookie:",
					     "proxy-authorization:" };
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (strncasecmp(h, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/*
 * A credential header's values become secrets of the run (step_redact):
 * Authorization's credentials (after the scheme) and the whole value,
 * each cookie of a Cookie header by its name -- literal text of the
 * scenario as much as ${VAR}s, since a server that echoes them would
 * otherwise put them in a detail.
 */
static int credential_secrets(struct step_env *env, const char *h)
{
	const char *colon = strchr(h, ':');
	char label[80];
	int ret = 0;
	if (!colon)
		return 0;
	size_t nl = (size_t)(colon - h);
	const char *v = colon + 1 + strspn(colon + 1, " \t");
	snprintf(label, sizeof(label), "header:%.*s", (int)(nl < 64 ? nl : 64),
		 h);
	if (strncasecmp(h, "cookie:", 7) != 0) {
		const char *sp = strchr(v, ' ');
		ret = step_secret_add(env, label, v, strlen(v));
		if (ret == 0 && sp)
			ret = step_secret_add(env, label, sp + 1,
					      strlen(sp + 1));
		return ret;
	}
	/* "a=1; b=2": each value, labelled by its cookie */
	for (const char *p = v; ret == 0 && *p;) {
		size_t n = strcspn(p, ";");
		const char *eq = memchr(p, '=', n);
		if (eq) {
			snprintf(label, sizeof(label), "cookie:%.*s",
				 (int)((size_t)(eq - p) < 64 ? eq - p : 64), p);
			ret = step_secret_add(env, label, eq + 1,
					      n - (size_t)(eq + 1 - p));
		}
		p += n;
		p += strspn(p, "; ");
	}
	return ret;
}

/* The cookies curl holds after a hop (servers' Set-Cookie) as secrets:
 * CURLINFO_COOKIELIST, Netscape format, the value in the 7th field. */
static int cookie_secrets(struct http_job *hj)
{
	struct curl_slist *list = NULL;
	int ret = 0;
	if (curl_easy_getinfo(hj->h->easy, CURLINFO_COOKIELIST, &list) !=
	    CURLE_OK)
		return 0;
	for (struct curl_slist *l = list; l && ret == 0; l = l->next) {
		const char *f[7] = { 0 };
		const char *p = l->data;
		for (int i = 0; i < 7 && p; i++) {
			f[i] = p;
			p = strchr(p, '\t');
			p = p ? p + 1 : NULL;
		}
		if (!f[6])
			continue;
		char label[80];
		size_t nl = (size_t)(f[6] - f[5]) - 1;
		snprintf(label, sizeof(label), "cookie:%.*s",
			 (int)(nl < 64 ? nl : 64), f[5]);
		ret = step_secret_add(hj->job->env, label, f[6],
				      strlen(f[6]));
	}
	for (struct curl_slist *l = list; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
	return ret;
}

/* Set every option of this hop on the (reset) easy handle. */
static int hop_setopts(struct http_job *hj, struct errbuf *err)
{
	CURL *e = hj->h->easy;
	const struct scn_opts *o = &hj->job->st->opts;
	uint64_t now = step_loop_now_ns();
	uint64_t deadline = step_job_deadline_ns(hj->job);
	long left_ms = deadline > now ? (long)((deadline - now) / 1000000u)
				      : 0;
	int ret = easy_reset(hj->h, err);

	if (ret < 0)
		goto out;
	SETOPT(e, CURLOPT_URL, hj->url);
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_PRIVATE, hj);
	SETOPT(e, CURLOPT_ERRORBUFFER, hj->errbuf);
	SETOPT(e, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(e, CURLOPT_WRITEDATA, hj);
	SETOPT(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	SETOPT(e, CURLOPT_OPENSOCKETDATA, hj->h);
	SETOPT(e, CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(e, CURLOPT_HEADERDATA, hj);
	SETOPT(e, CURLOPT_PREREQFUNCTION, prereq_cb);
	SETOPT(e, CURLOPT_PREREQDATA, hj);
	SETOPT(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	SETOPT(e, CURLOPT_SSL_CTX_DATA, hj);
	/* "" turns the cookie engine on, over the share's store */
	SETOPT(e, CURLOPT_SHARE, hj->h->share);
	SETOPT(e, CURLOPT_COOKIEFILE, "");
	SETOPT(e, CURLOPT_USERAGENT, "probe/" PROBE_VERSION);
	SETOPT(e, CURLOPT_TIMEOUT_MS, left_ms > 0 ? left_ms : 1L);
	SETOPT(e, CURLOPT_IPRESOLVE,
	       o->ip == SCN_IP_4   ? (long)CURL_IPRESOLVE_V4
	       : o->ip == SCN_IP_6 ? (long)CURL_IPRESOLVE_V6
				   : (long)CURL_IPRESOLVE_WHATEVER);
	SETOPT(e, CURLOPT_RESOLVE, hj->resolve);
	/* "": no proxy, whatever http_proxy/https_proxy/ALL_PROXY say */
	SETOPT(e, CURLOPT_PROXY, hj->proxy ? hj->proxy : "");

	long ver = CURL_HTTP_VERSION_2TLS; /* curl's own default */
	if (o->http == SCN_HTTP_1_1)
		ver = CURL_HTTP_VERSION_1_1;
	else if (o->http == SCN_HTTP_2)
		ver = hj->https ? CURL_HTTP_VERSION_2TLS
				: CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
	SETOPT(e, CURLOPT_HTTP_VERSION, ver);
	SETOPT(e, CURLOPT_SSLVERSION,
	       tls_min_opt(o->tls_min) | tls_max_opt(o->tls_max));
	if (o->ca && strcmp(o->ca, "system") != 0)
		SETOPT(e, CURLOPT_CAINFO, o->ca);
	if (o->cert)
		SETOPT(e, CURLOPT_SSLCERT, o->cert);
	if (o->key)
		SETOPT(e, CURLOPT_SSLKEY, o->key);
	if (hj->pins)
		SETOPT(e, CURLOPT_PINNEDPUBLICKEY, hj->pins);

	for (size_t i = 0; i < hj->n_hdrs; i++) {
		if (!hj->same_origin && is_credential_header(hj->hdrs[i]))
			continue;
		struct curl_slist *nl =
			curl_slist_append(hj->req_hdrs, hj->hdrs[i]);
		if (!nl) {
			ret = errbuf_set(err, PE_NOMEM, "out of memory");
			goto out;
		}
		hj->req_hdrs = nl;
	}
	SETOPT(e, CURLOPT_HTTPHEADER, hj->req_hdrs);

	const char *m = hj->method;
	if (strcmp(m, "HEAD") == 0) {
		SETOPT(e, CURLOPT_NOBODY, 1L); /* a body= is not sent */
	} else if (strcmp(m, "GET") == 0 && !hj->send_body) {
		SETOPT(e, CURLOPT_HTTPGET, 1L);
	} else {
		if (hj->send_body || strcmp(m, "POST") == 0) {
			/* size first: COPYPOSTFIELDS copies that many bytes */
			SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE,
			       (curl_off_t)(hj->send_body ? hj->body_len : 0));
			SETOPT(e, CURLOPT_COPYPOSTFIELDS,
			       hj->send_body ? hj->body : "");
		}
		if (strcmp(m, "POST") != 0)
			SETOPT(e, CURLOPT_CUSTOMREQUEST, m);
	}
out:
	return ret;
}

static int hop_transfer(struct http_job *hj, struct errbuf *err)
{
	struct step_http *h = hj->h;
	int ret = hop_setopts(hj, err);
	if (ret < 0)
		return ret;
	CURLMcode mc = curl_multi_add_handle(h->multi, h->easy);
	if (mc != CURLM_OK)
		return errbuf_set(err, PE_INVAL, "curl_multi_add_handle: %s",
				  curl_multi_strerror(mc));
	h->attached = true;
	return 0;
}

/* ---- a finished hop --------------------------------------------------- */

/* The error class of a failed transfer. */
static const char *curl_class(struct http_job *hj, CURLcode rc,
			      curl_off_t connect_us)
{
	long os_errno = 0;
	if (curl_easy_getinfo(hj->h->easy, CURLINFO_OS_ERRNO, &os_errno) !=
	    CURLE_OK)
		os_errno = 0;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		switch (os_errno) {
		case ECONNREFUSED:
			return "tcp.refused";
		case EHOSTUNREACH:
		case ENETUNREACH:
		case EADDRNOTAVAIL:
		case EAFNOSUPPORT:
			return "tcp.unreachable";
		case ETIMEDOUT:
			return "tcp.timeout";
		default:
			return "tcp.error";
		}
	case CURLE_OPERATION_TIMEDOUT:
		if (hj->prereq)
			return "http.timeout";
		/*
		 * curl 7.88 reports CONNECT_TIME 0 until TLS is done too, so
		 * "TCP was up" is told by the SSL_CTX callback, which runs
		 * once the TCP connection is.
		 */
		if (hj->new_key)
			return "tls.timeout";
		if (connect_us == 0)
			return "tcp.timeout";
		return "http.timeout";
	case CURLE_PEER_FAILED_VERIFICATION:
		/* curl's own host check: "...match target host name '%s'" */
		return strstr(hj->errbuf, "host name") ? "tls.hostname"
						       : "tls.verify";
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return "tls.pin";
	case CURLE_SSL_CONNECT_ERROR:
		return strstr(hj->errbuf, "alert") ? "tls.alert" : "tls.error";
	case CURLE_SSL_ISSUER_ERROR:
		return "tls.verify";
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return "tls.error";
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		/* cannot happen with our CURLOPT_RESOLVE; if it does */
		return "dns.error";
	case CURLE_WRITE_ERROR:
		return hj->too_large ? "http.too_large" : "http.error";
	default:
		return "http.error";
	}
}

static const char *http_version_text(long v)
{
	switch (v) {
	case CURL_HTTP_VERSION_1_0: return "1.0";
	case CURL_HTTP_VERSION_1_1: return "1.1";
	case CURL_HTTP_VERSION_2_0: return "2";
	case CURL_HTTP_VERSION_3: return "3";
	default: return NULL;
	}
}

/*
 * Record the hop's connection: a new one gets a conn_rec (its key was
 * reserved by the SSL_CTX callback for TLS) with the hop's connect and
 * TLS times, a reused one is found by its local address.  Returns the key
 * for the exchange (0: unknown).
 */
static uint32_t hop_conn(struct http_job *hj, bool is_new, double connect_ms,
			 double tls_ms)
{
	struct step_http *h = hj->h;
	struct step_rec *r = hj->job->rec;
	struct conn_rec *c;
	char *ip = NULL;
	long port = 0;

	if (!hj->prereq) {
		/* a failed connect or handshake: what curl knows of it */
		if (curl_easy_getinfo(h->easy, CURLINFO_LOCAL_IP, &ip) ==
			    CURLE_OK &&
		    ip)
			snprintf(hj->lip, sizeof(hj->lip), "%s", ip);
		if (curl_easy_getinfo(h->easy, CURLINFO_LOCAL_PORT, &port) ==
		    CURLE_OK)
			hj->lport = port;
		if (curl_easy_getinfo(h->easy, CURLINFO_PRIMARY_IP, &ip) ==
			    CURLE_OK &&
		    ip)
			snprintf(hj->pip, sizeof(hj->pip), "%s", ip);
		if (curl_easy_getinfo(h->easy, CURLINFO_PRIMARY_PORT, &port) ==
		    CURLE_OK)
			hj->pport = port;
	}
	if (!is_new && !hj->new_key)
		return hj->lport ? conn_find(h, hj->lip, hj->lport) : 0;
	if (!hj->new_key && !hj->lport)
		return 0; /* no connection was made */

	uint32_t key = hj->new_key ? hj->new_key : step_env_conn_key(h->env);
	if (step_rec_add_conn(r, &c) < 0)
		return 0; /* past RUN_MAX_CONNS: the exchange names none */
	c->key = key;
	c->family = family_of(hj->pip[0] ? hj->pip : hj->lip);
	if (hj->lip[0])
		c->src_addr = xstrdup(hj->lip);
	if (hj->pip[0])
		c->dst_addr = xstrdup(hj->pip);
	c->src_port = hj->lport ? hj->lport : RUN_NULL_INT;
	c->dst_port = hj->pport ? hj->pport : RUN_NULL_INT;
	c->conn_state = hj->resumed ? RUN_CONN_RESUMED : RUN_CONN_NEW;
	c->source = RUN_SOURCE_LIBRARY;
	c->connect_ms = connect_ms;
	c->tls_ms = tls_ms;
	curl_socket_t sock = CURL_SOCKET_BAD;
	if (curl_easy_getinfo(h->easy, CURLINFO_ACTIVESOCKET, &sock) ==
		    CURLE_OK &&
	    sock != CURL_SOCKET_BAD)
		step_tcp_info(c, (int)sock);
	if (hj->tls)
		c->resumed = hj->resumed ? 1 : 0;
	if (hj->trace && hj->lport && !hj->prereq) {
		/* a failed handshake: tie its records to the 5-tuple */
		snprintf(hj->trace->src, sizeof(hj->trace->src), "%s",
			 hj->lip);
		snprintf(hj->trace->dst, sizeof(hj->trace->dst), "%s",
			 hj->pip);
		hj->trace->sport = (uint16_t)hj->lport;
		hj->trace->dport = (uint16_t)hj->pport;
	}
	if (hj->lport)
		conn_remember(h, key, hj->lip, hj->lport);
	return key;
}

/* "200", "2xx", "200,204" for a detail. */
static void status_text(char *out, size_t size, const struct scn_expect *x)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < x->n_status && k < size; i++) {
		unsigned lo = x->status_lo[i], hi = x->status_hi[i];
		int n;
		if (lo == hi)
			n = snprintf(out + k, size - k, "%s%u", i ? "," : "",
				     lo);
		else if (lo % 100 == 0 && hi == lo + 99)
			n = snprintf(out + k, size - k, "%s%uxx",
				     i ? "," : "", lo / 100);
		else
			n = snprintf(out + k, size - k, "%s%u-%u",
				     i ? "," : "", lo, hi);
		if (n < 0)
			break;
		k += (size_t)n;
	}
}

/*
 * Does text match the expectation's op with value v?  NUL bytes: regexec
 * sees the text up to its first NUL (a body is NUL-terminated after its
 * last byte, but an embedded NUL ends it early for ~ and !~ only; *= uses
 * memmem over all bytes).  Returns 1 holds, 0 not, -1 a bad regex.
 */
static int text_holds(enum scn_expect_op op, const char *v, const char *text,
		      size_t len)
{
	regex_t re;
	int m;
	switch (op) {
	case SCN_EXP_EQ:
		return strlen(v) == len && memcmp(v, text, len) == 0;
	case SCN_EXP_CONTAINS:
		return memmem(text, len, v, strlen(v)) != NULL;
	case SCN_EXP_MATCH:
	case SCN_EXP_NOMATCH:
		if (regcomp(&re, v, REG_EXTENDED | REG_NEWLINE | REG_NOSUB))
			return -1;
		m = regexec(&re, text, 0, NULL, 0) == 0;
		regfree(&re);
		return op == SCN_EXP_MATCH ? m : !m;
	}
	return 0;
}

static const char *op_text(enum scn_expect_op op)
{
	switch (op) {
	case SCN_EXP_EQ: return "equal";
	case SCN_EXP_CONTAINS: return "contain";
	case SCN_EXP_MATCH: return "match";
	case SCN_EXP_NOMATCH: return "not match";
	}
	return "?";
}

/*
 * One expectation on the final response; false (and the step failed)
 * when it does not hold.  Details show the expectation as written
 * (scn_tmpl_show), never its expanded value.
 */
static bool expect_holds(struct http_job *hj, const struct scn_expect *x,
			 long status)
{
	char ex[HTTP_EXCERPT + 1];
	bool ok = true;
	char *v = NULL, *shown = NULL;
	struct errbuf err = { "" };

	if (x->what == SCN_EXP_STATUS) {
		for (size_t i = 0; i < x->n_status; i++)
			if (status >= x->status_lo[i] &&
			    status <= x->status_hi[i])
				return true;
		char want[96];
		status_text(want, sizeof(want), x);
		fail(hj, "http.status", "expected status %s, got %ld", want,
		     status);
		return false;
	}
	if (x->what != SCN_EXP_BODY && x->what != SCN_EXP_HEADER)
		return true;
	const char *cls = x->what == SCN_EXP_BODY ? "http.body" : "http.header";
	shown = scn_tmpl_show(&x->value);
	v = step_expand(hj->job->env, &x->value, &err);
	if (!v || !shown) {
		fail(hj, cls, "expectation at column %u: %s", x->col,
		     v ? "out of memory" : err.msg);
		ok = false;
		goto out;
	}
	if (x->what == SCN_EXP_BODY) {
		const char *b = hj->buf ? hj->buf : "";
		int h = text_holds(x->op, v, b, hj->len);
		excerpt(ex, sizeof(ex), b, hj->len);
		if (h < 0)
			fail(hj, cls, "invalid regex '%s'", shown);
		else if (!h)
			fail(hj, cls, "body does not %s '%s' (body: '%s'%s)",
			     op_text(x->op), shown, ex,
			     hj->len > HTTP_EXCERPT ? "..." : "");
		ok = h > 0;
		goto out;
	}

	/* a header: any instance may satisfy it; !~ needs all to */
	struct curl_header *hd = NULL;
	CURLHcode hc = curl_easy_header(hj->h->easy, x->header, 0,
					CURLH_HEADER, -1, &hd);
	if (hc != CURLHE_OK) {
		/* missing: fails =, *= and ~; passes !~ */
		ok = x->op == SCN_EXP_NOMATCH;
		if (!ok)
			fail(hj, cls, "header %s: missing (expected to %s "
				      "'%s')",
			     x->header, op_text(x->op), shown);
		goto out;
	}
	size_t amount = hd->amount;
	bool any = false, all = true;
	int h = 1;
	excerpt(ex, sizeof(ex), hd->value, strlen(hd->value));
	for (size_t i = 0; i < amount; i++) {
		if (i && curl_easy_header(hj->h->easy, x->header, i,
					  CURLH_HEADER, -1,
					  &hd) != CURLHE_OK)
			break;
		h = text_holds(x->op, v, hd->value, strlen(hd->value));
		if (h < 0)
			break;
		any = any || h;
		all = all && h;
	}
	if (h < 0) {
		fail(hj, cls, "invalid regex '%s'", shown);
		ok = false;
	} else if (!(x->op == SCN_EXP_NOMATCH ? all : any)) {
		fail(hj, cls, "header %s: expected to %s '%s', got '%s'",
		     x->header, op_text(x->op), shown, ex);
		ok = false;
	}
out:
	wipe_str(v);
	free(shown);
	return ok;
}

/* Every expectation, then (only when all hold) every extract. */
static void check_response(struct http_job *hj, long status)
{
	const struct scn_step *st = hj->job->st;
	bool has_status = false, ok = true;

	for (size_t i = 0; i < st->n_expects; i++)
		has_status |= st->expects[i].what == SCN_EXP_STATUS;
	/*
	 * Without a status expectation a final status of 400 or more fails
	 * the step (http.status): an error page is not a success, whatever
	 * its body says.  A 3xx is final when follow= is used up, and
	 * passes.  The status is checked before the body and headers.
	 */
	if (!has_status && status >= 400) {
		fail(hj, "http.status", "status %ld (no status expectation: "
					"400 and above fail)",
		     status);
		ok = false;
	}
	/* status first: when it is wrong, that is the news */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < st->n_expects && ok; i++)
			if ((st->expects[i].what == SCN_EXP_STATUS) == !pass)
				ok = expect_holds(hj, &st->expects[i], status);
	if (!ok || !hj->job->rec->ok)
		return;

	for (size_t i = 0; i < st->n_extracts; i++) {
		const struct scn_extract *x = &st->extracts[i];
		regex_t re;
		regmatch_t m[2];
		if (regcomp(&re, x->regex, REG_EXTENDED | REG_NEWLINE)) {
			fail(hj, "http.extract", "extract %s: invalid regex",
			     x->name);
			return;
		}
		int r = regexec(&re, hj->buf ? hj->buf : "", 2, m, 0);
		regfree(&re);
		if (r != 0 || m[1].rm_so < 0) {
			fail(hj, "http.extract", "extract %s: no match for "
						 "'%s' in the body",
			     x->name, x->regex);
			return;
		}
		char *val = xstrndup(hj->buf + m[1].rm_so,
				     (size_t)(m[1].rm_eo - m[1].rm_so));
		int ret = val ? step_var_set(hj->job->env, x->name, val)
			      : PE_NOMEM;
		wipe_str(val);
		if (ret < 0) {
			fail(hj, "internal", "extract %s: %s", x->name,
			     pe_name(ret));
			return;
		}
	}
}

/*
 * Resolve a Location against base with curl_url (relative references as
 * RFC 3986 says).  NULL when either does not parse.  Caller wipes/frees.
 */
static char *url_join(const char *base, const char *loc)
{
	CURLU *u = curl_url();
	char *s = NULL, *out = NULL;
	const unsigned fl = CURLU_URLENCODE | CURLU_ALLOW_SPACE;
	if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, loc, fl) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
		out = xstrdup(s);
		OPENSSL_cleanse(s, strlen(s));
	}
	curl_free(s);
	curl_url_cleanup(u);
	return out;
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 ||
	       status == 307 || status == 308;
}

/*
 * Prepare the next hop from this one's Location.  Returns false when this
 * hop is the final one.
 */
static bool next_hop(struct http_job *hj, long status)
{
	struct curl_header *loc = NULL;
	if (!is_redirect(status) || hj->hop >= hj->job->st->opts.follow ||
	    curl_easy_header(hj->h->easy, "Location", 0, CURLH_HEADER, -1,
			     &loc) != CURLHE_OK)
		return false;
	char *url = url_join(hj->url, loc->value);
	if (!url) {
		fail(hj, "http.error", "hop %u: cannot follow Location '%s'",
		     hj->hop + 1, loc->value);
		return false;
	}
	/* as recorded: resolved against the URL as shown, else as sent */
	char *shown = url_join(hj->shown, loc->value);
	char *clean = step_redact(hj->job->env, shown ? shown : loc->value);
	free(shown);
	if (!clean) {
		wipe_str(url);
		fail(hj, "internal", "out of memory");
		return false;
	}
	wipe_str(hj->url);
	hj->url = url;
	free(hj->shown);
	hj->shown = clean;
	/* as browsers do: 303 turns anything but HEAD into GET, 301/302
	 * turn POST into GET; 307/308 keep method and body */
	if ((status == 303 && strcmp(hj->method, "HEAD") != 0) ||
	    ((status == 301 || status == 302) &&
	     strcmp(hj->method, "POST") == 0)) {
		hj->method = "GET";
		hj->send_body = false;
	}
	hj->hop++;
	return true;
}

static double us_ms(curl_off_t us)
{
	return (double)us / 1000.0;
}

static void hop_done(struct http_job *hj, CURLcode rc)
{
	struct step_http *h = hj->h;
	CURL *e = h->easy;
	struct step_rec *r = hj->job->rec;
	long status = 0, nconn = 0, ver = 0;
	curl_off_t nl = 0, co = 0, ac = 0, pt = 0, stt = 0, tt = 0, dl = 0;

	/* first: what the server set is hidden from every detail below */
	if (cookie_secrets(hj) < 0) {
		fail(hj, "internal", "out of memory");
		finish(hj);
		return;
	}
	/* a failed getinfo leaves the 0 it started with (= unknown) */
	if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) ||
	    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconn) ||
	    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &ver) ||
	    curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &nl) ||
	    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &co) ||
	    curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &ac) ||
	    curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pt) ||
	    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &stt) ||
	    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &tt) ||
	    curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &dl)) {
		/* keep what was read */
	}

	/*
	 * curl's times are cumulative from the start of the transfer;
	 * namelookup is ~0 with CURLOPT_RESOLVE, and on a reused connection
	 * curl reports namelookup/connect/appconnect as 0 (not applicable).
	 */
	bool is_new = nconn > 0;
	double connect_ms = is_new && co > 0 ? us_ms(co - nl) : NAN;
	double tls_ms = is_new && hj->https && ac > 0 ? us_ms(ac - co) : NAN;
	double ttfb_ms = stt > 0 ? us_ms(stt - pt) : NAN;
	double total_ms = (isnan(hj->dns_ms) ? 0 : hj->dns_ms) + us_ms(tt);
	uint32_t key = hop_conn(hj, is_new, connect_ms, tls_ms);

	struct exchange_rec *x = NULL;
	if (step_rec_add_exchange(r, &x) == 0) {
		x->conn_key = key;
		x->method = xstrdup(hj->method);
		x->url = xstrdup(hj->shown);
		x->status = status ? status : RUN_NULL_INT;
		x->source = RUN_SOURCE_LIBRARY;
		x->dns_ms = hj->dns_ms;
		x->connect_ms = connect_ms;
		x->tls_ms = tls_ms;
		x->ttfb_ms = ttfb_ms;
		x->total_ms = total_ms;
		x->ready_mono_ns = hj->ready_ns;
	}
	hj->total_ms += total_ms;
	if (hj->tls && hj->days_left != RUN_NULL_INT &&
	    (hj->min_days == RUN_NULL_INT || hj->days_left < hj->min_days))
		hj->min_days = hj->days_left;

	/* the step: timings and connection of the first hop ... */
	if (hj->hop == 0) {
		r->dns_ms = hj->dns_ms;
		r->connect_ms = connect_ms;
		r->tls_ms = tls_ms;
		r->ttfb_ms = ttfb_ms;
		r->conn_state = !is_new      ? RUN_CONN_REUSED
				: hj->resumed ? RUN_CONN_RESUMED
					      : RUN_CONN_NEW;
		/* not connected: the family curl tried first (ours) */
		r->family = hj->pip[0]		      ? family_of(hj->pip)
			    : hj->look[0].af == AF_INET6 ? RUN_FAMILY_IPV6
			    : hj->look[0].af == AF_INET	 ? RUN_FAMILY_IPV4
							 : RUN_FAMILY_NULL;
	}
	/* ... the response of the last */
	r->status = status ? status : RUN_NULL_INT;
	r->bytes = dl;
	set_text(&r->http_version, http_version_text(ver));
	if (!hj->tls) {
		/* a plain-HTTP last hop has no TLS facts */
		set_text(&r->tls_version, NULL);
		set_text(&r->tls_cipher, NULL);
		set_text(&r->alpn, NULL);
		r->tls_resumed = RUN_NULL_INT;
	}

	if (rc != CURLE_OK) {
		const char *cls = curl_class(hj, rc, co);
		if (strcmp(cls, "http.too_large") == 0)
			fail(hj, cls, "the response body is larger than "
				      "max_body=%llu bytes",
			     (unsigned long long)hj->max_body);
		else
			fail(hj, cls, "hop %u %s: %s%s%s", hj->hop + 1,
			     hj->shown, curl_easy_strerror(rc),
			     hj->errbuf[0] ? ": " : "", hj->errbuf);
		finish(hj);
		return;
	}
	if (next_hop(hj, status)) {
		detach(h);
		hop_begin(hj);
		return;
	}
	if (r->ok && hj->min_days != RUN_NULL_INT &&
	    hj->job->st->opts.min_days_valid >= 0 &&
	    hj->min_days < hj->job->st->opts.min_days_valid)
		fail(hj, "tls.expiring", "the server certificate expires in "
					 "%lld days (min_days_valid=%d)",
		     (long long)hj->min_days,
		     hj->job->st->opts.min_days_valid);
	if (r->ok)
		check_response(hj, status);
	finish(hj);
}

/* ---- the step --------------------------------------------------------- */

/* Expand what the request needs; false (step failed) when it cannot. */
static int job_expand(struct http_job *hj, struct errbuf *err)
{
	struct step_env *env = hj->job->env;
	const struct scn_step *st = hj->job->st;
	const struct scn_opts *o = &st->opts;

	if (!(hj->url = step_expand(env, &st->target, err)) ||
	    !(hj->shown = scn_tmpl_show(&st->target)))
		return PE_INVAL;
	if (st->has_body) {
		if (!(hj->body = step_expand(env, &st->body, err)))
			return PE_INVAL;
		hj->body_len = strlen(hj->body);
		hj->send_body = true;
	}
	if (st->n_headers &&
	    !(hj->hdrs = calloc(st->n_headers, sizeof(*hj->hdrs))))
		return errbuf_set(err, PE_NOMEM, "out of memory");
	for (size_t i = 0; i < st->n_headers; i++) {
		if (!(hj->hdrs[i] = step_expand(env, &st->headers[i], err)))
			return PE_INVAL;
		hj->n_hdrs++;
		if (is_credential_header(hj->hdrs[i]) &&
		    credential_secrets(env, hj->hdrs[i]) < 0)
			return errbuf_set(err, PE_NOMEM, "out of memory");
	}
	if ((o->set & SCN_OPT_PROXY) &&
	    !(hj->proxy = step_expand(env, &o->proxy, err)))
		return PE_INVAL;
	if (o->n_pins) {
		size_t n = 0;
		for (size_t i = 0; i < o->n_pins; i++)
			n += strlen(o->pins[i]) + 1;
		if (!(hj->pins = malloc(n)))
			return errbuf_set(err, PE_NOMEM, "out of memory");
		size_t k = 0;
		for (size_t i = 0; i < o->n_pins; i++) {
			size_t l = strlen(o->pins[i]);
			if (i)
				hj->pins[k++] = ';';
			memcpy(hj->pins + k, o->pins[i], l);
			k += l;
		}
		hj->pins[k] = '\0';
	}
	return 0;
}

int step_http_start(struct step_job *job)
{
	struct step_http *h = job->env->http;
	struct http_job *hj;
	struct errbuf err = { "" };

	if (!h || h->cur)
		return PE_INVAL; /* no env, or a step already running */
	if (!(hj = calloc(1, sizeof(*hj))))
		return PE_NOMEM;
	hj->job = job;
	hj->h = h;
	hj->method = job->st->method;
	hj->max_body = job->st->opts.max_body;
	hj->min_days = RUN_NULL_INT;
	hj->dns_ms = NAN;
	h->cur = hj;

	if (job_expand(hj, &err) < 0) {
		fail(hj, "http.error", "%s", err.msg[0] ? err.msg
							: "out of memory");
		finish_later(hj);
		return 0;
	}
	if (job->st->opts.set & SCN_OPT_SNI) {
		/*
		 * curl sends the URL's host as SNI and verifies against it;
		 * an sni= that differs cannot be honoured without lying
		 * about what was measured.
		 */
		fail(hj, "http.error", "sni= is not supported by http steps: "
				       "put the name in the URL");
		finish_later(hj);
		return 0;
	}
	hop_begin(hj);
	return 0;
}
