/*
 * pbserver: the test bench's own HTTP/1.1 server.
 *
 * Hand-written because nginx cannot produce what the accuracy tests need
 * from a server: a reset in the middle of a body, Nagle on or off per
 * connection, a response split into timed write() calls, 100 Continue and
 * 103 Early Hints, a TLS listener that takes the ClientHello and never
 * answers, one that sends a fatal alert in the middle of the handshake,
 * and broken responses (a Content-Length longer than the body, bad
 * chunked encoding, a header that never ends, a redirect to itself) for
 * the fault matrix (STYLE.md section 7: our own server only for what
 * nginx cannot do).  It also logs, per request, when each response write was issued:
 * ground truth from the server side for probe's timings.
 *
 *   pbserver --listen ADDR:PORT [--listen ADDR:PORT ...]
 *            [--stall-handshake ADDR:PORT ...] [--tls-cert F --tls-key F]
 *            [--alert-handshake ADDR:PORT ...] [--pid-file F] [--log F]
 *
 * ADDR:PORT is 127.0.0.1:8080, 198.18.0.2:8080 or [::1]:8080; port 0 picks
 * a free port.  Once every listener is bound, stdout gets one line per
 * listener in command-line order, "listening ADDR:PORT" (--listen),
 * "listening ADDR:PORT stall-handshake" or "listening ADDR:PORT
 * alert-handshake", and then the pid file is written: its appearance means
 * ready.  With --tls-cert and --tls-key every --listen listener speaks TLS
 * 1.2 and 1.3 (session tickets on, ALPN http/1.1).  A --stall-handshake
 * listener accepts, reads whatever comes (a ClientHello) and never
 * answers, until the client closes.  An --alert-handshake listener (needs
 * --tls-cert and --tls-key) speaks TLS 1.2 only and requires a client
 * certificate: it answers the ClientHello (ServerHello, Certificate,
 * CertificateRequest, ServerHelloDone), and when the client's flight comes
 * without a certificate it sends a fatal handshake_failure alert (40) --
 * in cleartext, as TLS 1.2 sends it before the server's ChangeCipherSpec
 * -- and closes; it logs one line, end=tls_error.  SIGTERM or SIGINT closes
 * the listeners, removes the pid file and exits 0.  Exit 2: usage, 1: setup.
 *
 * Behaviour per request, from the query string (unknown names are ignored,
 * so they can label requests; a bad value of a known name gets 400):
 *   think_ms=N    wait N ms once the request is complete (head and body
 *                 read, 1xx sent), then answer; measured and logged
 *   nodelay=0|1   TCP_NODELAY on this connection before this request's
 *                 first write (default 1).  The TLS handshake runs with the
 *                 kernel default, Nagle on, as in most servers: nodelay=0
 *                 shows the TLS 1.3 ticket stall of FIELD-NOTES.md
 *   split=N       the response in N writes: the head in the first, the
 *                 body spread evenly over the N-1 others (default 1, max
 *                 256; fewer if the body is shorter than N-1 bytes)
 *   split_ms=N    N ms between those writes (default 0)
 *   size=N        a body of N bytes, 'a'..'z' repeated (default "ok\n")
 *   status=N      the final status, 200..599 (default 200)
 *   rst_after=N   send the head and N body bytes, wait until the kernel has
 *                 sent them, then reset (SO_LINGER {1,0} + close)
 *   continue=1    for "Expect: 100-continue": 100 Continue (after
 *                 continue_ms=N, default 0), then read the body.  Without
 *                 it such a request gets its final response directly and
 *                 the connection is closed (its body was never asked for)
 *   hints=1       103 Early Hints with a Link header, before the think time
 *                 (HTTP/1.1 only, as is 100 Continue)
 *   close=1       "Connection: close" and close after the response
 *   early_ack=1   accepted and ignored: the kernel's quick ACK needs nothing
 * Broken responses (each closes the connection after it, gracefully):
 *   clen_extra=N  Content-Length says N bytes more than the body sent
 *   bad_chunked=1 "Transfer-Encoding: chunked", the body as one good
 *                 chunk, then a chunk-size line that is not hex ("zz")
 *   endless_header=1  the status line, then header lines ("X-Endless-K:"
 *                 and 64 bytes) with no end: written until a write fails
 *                 or 64 MiB have gone (split_ms=N: N ms between lines)
 *   redirect=1    302 with "Location:" the request target itself: a
 *                 redirect loop (a status= in 300..399 replaces the 302)
 * Combine freely: /?think_ms=40&nodelay=0&split=2.  Order within a request:
 * head read, TCP_NODELAY, [100], body read, [103], think, final response,
 * then reset, close or the next request (keep-alive is the default).
 *
 * Requests: request line and headers up to 16 KiB (else 431 and close),
 * Content-Length bodies up to 1 MiB read and discarded (else 413), no
 * Transfer-Encoding (501); anything malformed gets 400 and close.  Error
 * responses and close=1 end with a lingering close (shutdown, then up to
 * 2 s of reading) so the client sees the response rather than a reset.
 * A connection idle for 60 s between requests (or stuck in a read or
 * write that long) is closed.  At most 1024 connections at a time.
 *
 * Log (--log F appended to, else stderr): one line per request, written
 * when it ends, fields separated by spaces, "-" when absent:
 *   t_real_ns t_mono_ns   when the request head was complete
 *   peer path             ADDR:PORT; the request target, %XX-escaped
 *   think_ms              think time actually waited (measured), ms
 *   first_byte_real_ns    when this request's first write (1xx included)
 *                         was issued
 *   conn req              connection number, request number on it
 *   method status tls resumed body_in body_out
 *   final_real_ns         when the final response's first write was issued
 *   writes_real_ns        every write in order (100, 103, final splits)
 *   end_real_ns end note  when and how the request ended: keep-alive,
 *                         close, rst, error, tls_error, peer_closed
 * A --stall-handshake connection logs one line when the client closes, with
 * path=- note=stall_handshake, t_* when its first byte came, body_in = bytes
 * read.  Times are CLOCK_REALTIME ns (as pcap timestamps) and
 * CLOCK_MONOTONIC ns, taken just before the write() call.
 *
 * One thread per connection with blocking I/O: simpler than a poll loop
 * once TLS is involved, and a thread's clock_nanosleep() on an absolute
 * CLOCK_MONOTONIC deadline is the timer.  The main thread polls the
 * listeners and a signalfd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define HDR_MAX (16 * 1024)		/* request line + headers */
#define BODY_MAX (1024 * 1024)		/* request body, read and discarded */
#define CHUNK (64 * 1024)		/* largest single write()/read() */
#define SPLIT_MAX 256
#define WAIT_MAX_MS 600000		/* think_ms, split_ms, continue_ms */
#define SIZE_MAX_BYTES (1ULL << 32)	/* size=, rst_after= */
#define MAX_LISTENERS 32
#define MAX_CONNS 1024
#define IO_TIMEOUT_S 60			/* idle keep-alive, stuck I/O */
#define DRAIN_MS 2000			/* lingering close */
#define RST_WAIT_MS 2000		/* rst_after: wait for the send queue */
#define ADDR_STR_MAX 64
#define PATH_LOG_MAX 1024
#define NOTE_MAX 128
#define LOG_LINE_MAX 12288
#define NS_PER_MS 1000000ULL
#define ENDLESS_MAX (64ULL << 20)	/* endless_header=1: bytes at most */

enum lst_kind { LST_HTTP, LST_STALL, LST_ALERT };

struct listener {
	enum lst_kind kind;
	const char *spec;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;
};

/* Query parameters: one table, indexed by enum param. */
enum param {
	P_THINK_MS,
	P_NODELAY,
	P_SPLIT,
	P_SPLIT_MS,
	P_SIZE,
	P_STATUS,
	P_RST_AFTER,
	P_CONTINUE,
	P_CONTINUE_MS,
	P_HINTS,
	P_CLOSE,
	P_EARLY_ACK,
	P_CLEN_EXTRA,
	P_BAD_CHUNKED,
	P_ENDLESS_HEADER,
	P_REDIRECT,
	P_COUNT
};

static const struct param_def {
	const char *name;
	uint64_t min, max, dflt;
} param_defs[P_COUNT] = {
	[P_THINK_MS] = { "think_ms", 0, WAIT_MAX_MS, 0 },
	[P_NODELAY] = { "nodelay", 0, 1, 1 },
	[P_SPLIT] = { "split", 1, SPLIT_MAX, 1 },
	[P_SPLIT_MS] = { "split_ms", 0, WAIT_MAX_MS, 0 },
	[P_SIZE] = { "size", 0, SIZE_MAX_BYTES, 0 },
	[P_STATUS] = { "status", 200, 599, 200 },
	[P_RST_AFTER] = { "rst_after", 0, SIZE_MAX_BYTES, 0 },
	[P_CONTINUE] = { "continue", 0, 1, 0 },
	[P_CONTINUE_MS] = { "continue_ms", 0, WAIT_MAX_MS, 0 },
	[P_HINTS] = { "hints", 0, 1, 0 },
	[P_CLOSE] = { "close", 0, 1, 0 },
	[P_EARLY_ACK] = { "early_ack", 0, 1, 0 },
	[P_CLEN_EXTRA] = { "clen_extra", 0, SIZE_MAX_BYTES, 0 },
	[P_BAD_CHUNKED] = { "bad_chunked", 0, 1, 0 },
	[P_ENDLESS_HEADER] = { "endless_header", 0, 1, 0 },
	[P_REDIRECT] = { "redirect", 0, 1, 0 },
};

struct params {
	uint64_t v[P_COUNT];
	unsigned set;			/* 1u << P_x when given */
};

static const struct reason {
	int code;
	const char *text;
} reasons[] = {
	{ 100, "Continue" },
	{ 103, "Early Hints" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 204, "No Content" },
	{ 206, "Partial Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 303, "See Other" },
	{ 304, "Not Modified" },
	{ 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 413, "Content Too Large" },
	{ 417, "Expectation Failed" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

/* What a connection does after a request. */
enum next {
	NEXT_KEEP,	/* read the next request */
	NEXT_CLOSE,	/* graceful: close_notify, FIN, lingering close */
	NEXT_DROP,	/* peer gone or I/O error: just close */
	NEXT_RST,	/* already reset and closed */
};

struct conn {
	int fd;
	enum lst_kind kind;
	SSL *ssl;
	int tls_failed;			/* no SSL_shutdown after that */
	unsigned long id;
	unsigned nreq;
	char peer[ADDR_STR_MAX];
	size_t in_len;
	char in[HDR_MAX];
	char out[CHUNK];
};

struct req {
	uint64_t t_real, t_mono;
	char method[16];
	char path[PATH_LOG_MAX];	/* escaped copy: c->in moves on */
	const char *query;		/* into c->in, valid while parsing */
	size_t query_len;
	int minor;			/* HTTP/1.minor */
	uint64_t clen;
	int has_clen, expect_100, conn_close, conn_keep, head_only;
	struct params p;
	int status;
	double think_ms;		/* < 0: none */
	uint64_t body_in, body_out;
	uint64_t writes[SPLIT_MAX + 2];	/* 100, 103, up to SPLIT_MAX */
	unsigned nwrites;
	int final_idx;			/* index in writes, -1: none */
	uint64_t end_real;
	const char *end;
	char note[NOTE_MAX];
};

/* One response: a head, then a literal or a generated body. */
struct resp {
	char head[PATH_LOG_MAX + 512];	/* room for a Location */
	size_t head_len;
	const char *lit;		/* NULL: 'a'..'z' pattern */
	uint64_t body_len;
	uint64_t clen_extra;		/* Content-Length says this much more */
	const char *location;		/* a Location header's value, or NULL */
	int chunked;			/* Transfer-Encoding: chunked instead */
};

static struct {
	SSL_CTX *tls;
	SSL_CTX *tls_alert;		/* --alert-handshake */
	int log_fd;
	pthread_mutex_t log_lock;
	atomic_int nconns;
	atomic_ulong next_conn;
} srv = { .log_fd = STDERR_FILENO, .log_lock = PTHREAD_MUTEX_INITIALIZER };

static const char usage_text[] =
	"usage: pbserver --listen ADDR:PORT [--listen ADDR:PORT ...]\n"
	"                [--stall-handshake ADDR:PORT ...]\n"
	"                [--tls-cert F --tls-key F]\n"
	"                [--alert-handshake ADDR:PORT ...]\n"
	"                [--pid-file F] [--log F]\n"
	"ADDR:PORT: 127.0.0.1:8080 or [::1]:8080 (port 0: any).  Query\n"
	"parameters per request: think_ms nodelay split split_ms size status\n"
	"rst_after continue continue_ms hints close early_ack clen_extra\n"
	"bad_chunked endless_header redirect (see the source).\n";

/* ---- small helpers ------------------------------------------------------ */

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(uint64_t ms)
{
	uint64_t t = now_ns(CLOCK_MONOTONIC) + ms * NS_PER_MS;
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ULL),
			       .tv_nsec = (long)(t % 1000000000ULL) };

	if (ms == 0)
		return;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* Decimal digits only, no sign, no overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') ||
	       (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int all_tchar(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/* Copies s[0..n) into dst escaping all but 0x21..0x7e as %XX; "-" if n 0. */
static void escape_into(char *dst, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (n == 0) {
		snprintf(dst, cap, "-");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (o + 4 + 3 >= cap) {		/* room for "..." and NUL */
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (ch > 0x20 && ch < 0x7f) {
			dst[o++] = (char)ch;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	dst[o] = '\0';
}

/* A note is a log token: no spaces. */
static void set_note(struct req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_note(struct req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
	for (char *p = r->note; *p; p++)
		if (*p == ' ' || (unsigned char)*p < 0x21 ||
		    (unsigned char)*p > 0x7e)
			*p = '_';
}

static const char *reason_text(int code)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].text;
	return "Status";
}

static void fmt_addr(const struct sockaddr *sa, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, n, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, n, "%s:%u", a, ntohs(s4->sin_port));
	}
}

/* "1.2.3.4:80" or "[::1]:80" into ss. */
static int parse_addr(const char *spec, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *h = spec;
	size_t hn;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		h = spec + 1;
		hn = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			return -1;
		hn = (size_t)(colon - spec);
	}
	if (hn == 0 || hn >= sizeof(host) ||
	    parse_u64(colon + 1, strlen(colon + 1), &port) < 0 || port > 65535)
		return -1;
	memcpy(host, h, hn);
	host[hn] = '\0';
	if (spec[0] == '[') {
		struct sockaddr_in6 *s6 = (void *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		*len = sizeof(*s4);
	}
	return 0;
}

static int write_all_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t rc = write(fd, p, n);

		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += rc;
		n -= (size_t)rc;
	}
	return 0;
}

/* ---- logging ------------------------------------------------------------ */

struct lbuf {
	char *p;
	size_t cap, len;
	int full;
};

static void lb_add(struct lbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void lb_add(struct lbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->full = 1;
		b->p[b->len] = '\0';	/* drop the partial field */
		return;
	}
	b->len += (size_t)n;
}

static void lb_ns(struct lbuf *b, const char *name, int have, uint64_t ns)
{
	if (have)
		lb_add(b, " %s=%" PRIu64, name, ns);
	else
		lb_add(b, " %s=-", name);
}

static void req_log(const struct conn *c, const struct req *r)
{
	char line[LOG_LINE_MAX];
	struct lbuf b = { line, sizeof(line) - 16, 0, 0 };	/* tail room */

	lb_add(&b, "t_real_ns=%" PRIu64 " t_mono_ns=%" PRIu64
		   " peer=%s path=%s", r->t_real, r->t_mono, c->peer, r->path);
	if (r->think_ms >= 0)
		lb_add(&b, " think_ms=%.3f", r->think_ms);
	else
		lb_add(&b, " think_ms=-");
	lb_ns(&b, "first_byte_real_ns", r->nwrites > 0, r->writes[0]);
	lb_add(&b, " conn=%lu req=%u method=%s", c->id, c->nreq,
	       r->method[0] ? r->method : "-");
	if (r->status > 0)
		lb_add(&b, " status=%d", r->status);
	else
		lb_add(&b, " status=-");
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl))
		lb_add(&b, " tls=%s resumed=%d", SSL_get_version(c->ssl),
		       SSL_session_reused(c->ssl));
	else
		lb_add(&b, " tls=- resumed=-");
	lb_add(&b, " body_in=%" PRIu64 " body_out=%" PRIu64, r->body_in,
	       r->body_out);
	lb_ns(&b, "final_real_ns", r->final_idx >= 0,
	      r->final_idx >= 0 ? r->writes[r->final_idx] : 0);
	lb_add(&b, " writes_real_ns=");
	for (unsigned i = 0; i < r->nwrites; i++)
		lb_add(&b, "%s%" PRIu64, i ? "," : "", r->writes[i]);
	if (r->nwrites == 0)
		lb_add(&b, "-");
	lb_ns(&b, "end_real_ns", r->end_real != 0, r->end_real);
	lb_add(&b, " end=%s note=%s", r->end ? r->end : "-",
	       r->note[0] ? r->note : "-");
	if (b.full) {
		memcpy(line + b.len, " trunc=1", 8);
		b.len += 8;
	}
	line[b.len++] = '\n';
	pthread_mutex_lock(&srv.log_lock);
	(void)write_all_fd(srv.log_fd, line, b.len);
	pthread_mutex_unlock(&srv.log_lock);
}

/* ---- connection I/O ----------------------------------------------------- */

/* > 0 bytes, 0 orderly EOF, -1 error or timeout. */
static ssize_t conn_read(struct conn *c, void *buf, size_t n)
{
	if (n > CHUNK)
		n = CHUNK;
	if (c->ssl != NULL) {
		int rc, e;

		ERR_clear_error();
		rc = SSL_read(c->ssl, buf, (int)n);
		if (rc > 0)
			return rc;
		e = SSL_get_error(c->ssl, rc);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		c->tls_failed = 1;
		return -1;
	}
	for (;;) {
		ssize_t rc = recv(c->fd, buf, n, 0);

		if (rc >= 0)
			return rc;
		if (errno != EINTR)
			return -1;
	}
}

static int conn_write_all(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = n > CHUNK ? CHUNK : n;
		ssize_t rc;

		if (c->ssl != NULL) {
			ERR_clear_error();
			rc = SSL_write(c->ssl, p, (int)k);
			if (rc <= 0) {
				c->tls_failed = 1;
				return -1;
			}
		} else {
			rc = send(c->fd, p, k, MSG_NOSIGNAL);
			if (rc < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
		}
		p += rc;
		n -= (size_t)rc;
	}
	return 0;
}

/* Reads and discards until EOF, DRAIN_MS or BODY_MAX bytes. */
static void conn_drain(struct conn *c)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + DRAIN_MS * NS_PER_MS;
	size_t total = 0;

	while (total < BODY_MAX) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t n;

		if (now >= end)
			break;
		n = poll(&pfd, 1, (int)((end - now) / NS_PER_MS) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		n = recv(c->fd, c->out, sizeof(c->out), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

/*
 * Abortive close.  Waits (bounded) until the kernel has sent everything
 * written, so the body bytes go out ahead of the RST rather than being
 * thrown away with the send queue; with Nagle on that can take a delayed
 * ACK.
 */
static void conn_reset(struct conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	for (int i = 0; i < RST_WAIT_MS; i++) {
		int unsent = 0;

		if (ioctl(c->fd, SIOCOUTQNSD, &unsent) < 0 || unsent == 0)
			break;
		sleep_ms(1);
	}
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd);
	c->fd = -1;
}

static void conn_close(struct conn *c, enum next next)
{
	if (c->fd >= 0) {
		if (next == NEXT_CLOSE) {
			if (c->ssl != NULL && !c->tls_failed) {
				ERR_clear_error();
				SSL_shutdown(c->ssl);
			}
			shutdown(c->fd, SHUT_WR);
			conn_drain(c);
		}
		close(c->fd);
		c->fd = -1;
	}
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	c->ssl = NULL;
}

/* ---- request parsing ---------------------------------------------------- */

/* Offset just past the blank line ending the head, 0 if not there yet. */
static size_t head_end(const char *buf, size_t len)
{
	size_t s = 0;

	for (size_t i = 0; i < len; i++) {
		size_t l;

		if (buf[i] != '\n')
			continue;
		l = i - s;
		if (l > 0 && buf[i - 1] == '\r')
			l--;
		if (l == 0)
			return i + 1;
		s = i + 1;
	}
	return 0;
}

/*
 * 1: a head of *hlen bytes in c->in; 0: EOF, error or idle timeout before
 * a byte of it; -1: the same inside a head; -2: no head within HDR_MAX.
 */
static int read_head(struct conn *c, size_t *hlen)
{
	for (;;) {
		size_t skip = 0;
		ssize_t n;

		/* RFC 9112 2.2: ignore empty lines before a request line. */
		while (skip < c->in_len &&
		       (c->in[skip] == '\r' || c->in[skip] == '\n'))
			skip++;
		if (skip > 0) {
			memmove(c->in, c->in + skip, c->in_len - skip);
			c->in_len -= skip;
		}
		*hlen = head_end(c->in, c->in_len);
		if (*hlen > 0)
			return 1;
		if (c->in_len >= sizeof(c->in))
			return -2;
		n = conn_read(c, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n <= 0)
			return c->in_len == 0 ? 0 : -1;
		c->in_len += (size_t)n;
	}
}

/* Next line of [*p, end), which ends in '\n'; the line excludes CR LF. */
static int next_line(const char **p, const char *end, const char **line,
		     size_t *len)
{
	const char *nl;

	if (*p >= end)
		return 0;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (nl == NULL)
		return 0;
	*line = *p;
	*len = (size_t)(nl - *p);
	if (*len > 0 && nl[-1] == '\r')
		(*len)--;
	*p = nl + 1;
	return 1;
}

static int parse_query(struct req *r)
{
	const char *q = r->query, *end = r->query + r->query_len;

	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *item_end = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(item_end - q));
		size_t klen = (size_t)((eq ? eq : item_end) - q);

		for (int i = 0; i < P_COUNT; i++) {
			const struct param_def *d = &param_defs[i];
			uint64_t v;

			if (strlen(d->name) != klen ||
			    memcmp(d->name, q, klen) != 0)
				continue;
			if (eq == NULL ||
			    parse_u64(eq + 1, (size_t)(item_end - eq - 1),
				      &v) < 0 ||
			    v < d->min || v > d->max) {
				set_note(r, "bad_param:%s", d->name);
				return -1;
			}
			r->p.v[i] = v;
			r->p.set |= 1u << i;
		}
		q = amp ? amp + 1 : end;
	}
	return 0;
}

static int hdr_content_length(struct req *r, const char *v, size_t n)
{
	uint64_t len;

	if (parse_u64(v, n, &len) < 0 || (r->has_clen && len != r->clen)) {
		set_note(r, "bad_content_length");
		return 400;
	}
	r->has_clen = 1;
	r->clen = len;
	return 0;
}

static int hdr_transfer_encoding(struct req *r, const char *v, size_t n)
{
	(void)v;
	(void)n;
	set_note(r, "transfer_encoding_unsupported");
	return 501;
}

static int hdr_expect(struct req *r, const char *v, size_t n)
{
	if (n == 12 && strncasecmp(v, "100-continue", 12) == 0)
		r->expect_100 = 1;
	return 0;
}

static int hdr_connection(struct req *r, const char *v, size_t n)
{
	const char *p = v, *end = v + n;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *te = comma ? comma : end;

		while (p < te && (*p == ' ' || *p == '\t'))
			p++;
		while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if (te - p == 5 && strncasecmp(p, "close", 5) == 0)
			r->conn_close = 1;
		if (te - p == 10 && strncasecmp(p, "keep-alive", 10) == 0)
			r->conn_keep = 1;
		p = comma ? comma + 1 : end;
	}
	return 0;
}

static const struct hdr_handler {
	const char *name;
	int (*fn)(struct req *, const char *, size_t);
} hdr_handlers[] = {
	{ "content-length", hdr_content_length },
	{ "transfer-encoding", hdr_transfer_encoding },
	{ "expect", hdr_expect },
	{ "connection", hdr_connection },
};

/* Request line: METHOD SP origin-form SP HTTP/1.x */
static int parse_request_line(struct req *r, const char *l, size_t n)
{
	const char *sp1, *sp2, *target, *ver, *qm;
	size_t mlen, tlen, vlen;

	sp1 = memchr(l, ' ', n);
	if (sp1 == NULL) {
		set_note(r, "bad_request_line");
		return 400;
	}
	mlen = (size_t)(sp1 - l);
	if (mlen >= sizeof(r->method) || !all_tchar(l, mlen)) {
		set_note(r, "bad_method");
		return 400;
	}
	memcpy(r->method, l, mlen);
	r->method[mlen] = '\0';
	target = sp1 + 1;
	sp2 = memchr(target, ' ', n - mlen - 1);
	if (sp2 == NULL) {
		set_note(r, "bad_request_line");
		return 400;
	}
	tlen = (size_t)(sp2 - target);
	escape_into(r->path, sizeof(r->path), target, tlen);
	if (tlen == 0 || target[0] != '/') {
		set_note(r, "bad_target");
		return 400;
	}
	for (size_t i = 0; i < tlen; i++) {
		unsigned char ch = (unsigned char)target[i];

		if (ch < 0x21 || ch > 0x7e) {
			set_note(r, "bad_target");
			return 400;
		}
	}
	ver = sp2 + 1;
	vlen = n - (size_t)(ver - l);
	if (vlen == 8 && memcmp(ver, "HTTP/1.", 7) == 0 &&
	    (ver[7] == '0' || ver[7] == '1')) {
		r->minor = ver[7] - '0';
	} else if (vlen >= 5 && memcmp(ver, "HTTP/", 5) == 0) {
		set_note(r, "bad_version");
		return 505;
	} else {
		set_note(r, "bad_request_line");
		return 400;
	}
	qm = memchr(target, '?', tlen);
	if (qm != NULL) {
		size_t rest = tlen - (size_t)(qm - target);
		const char *hash = memchr(qm, '#', rest);

		r->query = qm + 1;
		r->query_len = (size_t)((hash ? hash : target + tlen) - qm - 1);
	}
	r->head_only = strcmp(r->method, "HEAD") == 0;
	return 0;
}

static int parse_header(struct req *r, const char *l, size_t n)
{
	const char *colon, *v, *ve;
	size_t nlen;

	if (l[0] == ' ' || l[0] == '\t') {
		set_note(r, "obs_fold");
		return 400;
	}
	colon = memchr(l, ':', n);
	if (colon == NULL || !all_tchar(l, (size_t)(colon - l))) {
		set_note(r, "bad_header");
		return 400;
	}
	nlen = (size_t)(colon - l);
	v = colon + 1;
	ve = l + n;
	for (const char *p = v; p < ve; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			set_note(r, "bad_header_value");
			return 400;
		}
	}
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	for (size_t i = 0; i < sizeof(hdr_handlers) / sizeof(hdr_handlers[0]);
	     i++) {
		const struct hdr_handler *h = &hdr_handlers[i];

		if (strlen(h->name) == nlen &&
		    strncasecmp(h->name, l, nlen) == 0)
			return h->fn(r, v, (size_t)(ve - v));
	}
	return 0;
}

/* 0, or the error status to answer with (r->note says why). */
static int parse_head(const struct conn *c, struct req *r, size_t hlen)
{
	const char *p = c->in, *end = c->in + hlen, *line;
	size_t len;
	int st;

	if (!next_line(&p, end, &line, &len))
		return 400;
	st = parse_request_line(r, line, len);
	if (st != 0)
		return st;
	while (next_line(&p, end, &line, &len) && len > 0) {
		st = parse_header(r, line, len);
		if (st != 0)
			return st;
	}
	if (r->clen > BODY_MAX) {
		set_note(r, "body_too_large");
		return 413;
	}
	if (parse_query(r) < 0)
		return 400;
	return 0;
}

/* ---- responses ---------------------------------------------------------- */

static void resp_fill(const struct resp *rs, uint64_t off, char *dst,
		      size_t n)
{
	while (n > 0 && off < rs->head_len) {
		*dst++ = rs->head[off++];
		n--;
	}
	for (uint64_t b = off - rs->head_len; n > 0; b++, n--)
		*dst++ = rs->lit ? rs->lit[b] : (char)('a' + b % 26);
}

/* One logical write of response bytes [a, b), its time logged. */
static int send_range(struct conn *c, struct req *r, const struct resp *rs,
		      uint64_t a, uint64_t b)
{
	if (r->nwrites < sizeof(r->writes) / sizeof(r->writes[0]))
		r->writes[r->nwrites++] = now_ns(CLOCK_REALTIME);
	while (a < b) {
		size_t n = b - a > CHUNK ? CHUNK : (size_t)(b - a);

		uint64_t body_from = a > rs->head_len ? a : rs->head_len;

		resp_fill(rs, a, c->out, n);
		if (conn_write_all(c, c->out, n) < 0)
			return -1;
		a += n;
		if (a > body_from)
			r->body_out += a - body_from;
	}
	return 0;
}

static int send_interim(struct conn *c, struct req *r, const char *text)
{
	struct resp rs = { .lit = "", .body_len = 0 };
	int n = snprintf(rs.head, sizeof(rs.head), "%s", text);

	rs.head_len = (size_t)n;
	return send_range(c, r, &rs, 0, rs.head_len);
}

static void resp_head(struct resp *rs, int status, int keep)
{
	int n;

	if (status == 204 || status == 304) {
		rs->body_len = 0;
		n = snprintf(rs->head, sizeof(rs->head),
			     "HTTP/1.1 %d %s\r\nServer: pbserver\r\n"
			     "Connection: %s\r\n\r\n",
			     status, reason_text(status),
			     keep ? "keep-alive" : "close");
	} else {
		char len_hdr[64];

		if (rs->chunked)
			snprintf(len_hdr, sizeof(len_hdr),
				 "Transfer-Encoding: chunked\r\n");
		else
			snprintf(len_hdr, sizeof(len_hdr),
				 "Content-Length: %" PRIu64 "\r\n",
				 rs->body_len + rs->clen_extra);
		n = snprintf(rs->head, sizeof(rs->head),
			     "HTTP/1.1 %d %s\r\nServer: pbserver\r\n"
			     "%s%s%s"
			     "Content-Type: text/plain\r\n"
			     "%s"
			     "Connection: %s\r\n\r\n",
			     status, reason_text(status),
			     rs->location ? "Location: " : "",
			     rs->location ? rs->location : "",
			     rs->location ? "\r\n" : "", len_hdr,
			     keep ? "keep-alive" : "close");
	}
	if (n < 0 || (size_t)n >= sizeof(rs->head))
		n = (int)sizeof(rs->head) - 1;	/* cannot happen: sized */
	rs->head_len = (size_t)n;
}

static void req_finish(struct req *r, const char *end)
{
	r->end_real = now_ns(CLOCK_REALTIME);
	r->end = end;
}

/* Answers an unusable request with status and "Connection: close". */
static enum next reply_error(struct conn *c, struct req *r, int status)
{
	struct resp rs = { 0 };
	char body[64];

	snprintf(body, sizeof(body), "%d %s\n", status, reason_text(status));
	rs.lit = body;
	rs.body_len = strlen(body);
	resp_head(&rs, status, 0);
	r->status = status;
	r->final_idx = (int)r->nwrites;
	if (send_range(c, r, &rs, 0, rs.head_len + rs.body_len) < 0) {
		req_finish(r, "error");
		req_log(c, r);
		return NEXT_DROP;
	}
	req_finish(r, "close");
	req_log(c, r);
	return NEXT_CLOSE;
}

/* A response that ends the connection, never gracefully parsed. */
static int broken_response(const struct params *p)
{
	return p->v[P_CLEN_EXTRA] > 0 || p->v[P_BAD_CHUNKED] ||
	       p->v[P_ENDLESS_HEADER];
}

/* bad_chunked=1: the head, the body as one chunk, then "zz" as a size. */
static int send_bad_chunked(struct conn *c, struct req *r,
			    const struct resp *rs)
{
	char line[32];
	int n;

	if (send_range(c, r, rs, 0, rs->head_len) < 0)
		return -1;
	if (r->head_only)
		return 0;
	if (rs->body_len > 0) {
		n = snprintf(line, sizeof(line), "%" PRIx64 "\r\n",
			     rs->body_len);
		if (conn_write_all(c, line, (size_t)n) < 0 ||
		    send_range(c, r, rs, rs->head_len,
			       rs->head_len + rs->body_len) < 0 ||
		    conn_write_all(c, "\r\n", 2) < 0)
			return -1;
	}
	return conn_write_all(c, "zz\r\n", 4);
}

/*
 * endless_header=1: the status line, then header lines and never the
 * blank line, until a write fails (the client gave up) or ENDLESS_MAX.
 * Lines are batched into CHUNK-sized writes unless split_ms spaces them.
 */
static int send_endless_header(struct conn *c, struct req *r)
{
	static const char pad[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	uint64_t sent = 0, k = 0, gap = r->p.v[P_SPLIT_MS];
	size_t len;
	int n, rc = 0;

	if (r->nwrites < sizeof(r->writes) / sizeof(r->writes[0]))
		r->writes[r->nwrites++] = now_ns(CLOCK_REALTIME);
	n = snprintf(c->out, sizeof(c->out),
		     "HTTP/1.1 %d %s\r\nServer: pbserver\r\n", r->status,
		     reason_text(r->status));
	len = (size_t)n;
	while (sent < ENDLESS_MAX) {
		n = snprintf(c->out + len, sizeof(c->out) - len,
			     "X-Endless-%" PRIu64 ": %s\r\n", ++k, pad);
		if (n < 0 || (size_t)n >= sizeof(c->out) - len) {
			k--;		/* did not fit: write what we have */
		} else {
			len += (size_t)n;
			if (gap == 0 && len + 128 < sizeof(c->out))
				continue;
		}
		if (conn_write_all(c, c->out, len) < 0) {
			rc = -1;
			break;
		}
		sent += len;
		len = 0;
		sleep_ms(gap);
	}
	set_note(r, "endless_header:%" PRIu64 "_bytes", sent);
	return rc;
}

/* The final response: split, timed, possibly cut short by a reset. */
static int send_final(struct conn *c, struct req *r, int keep)
{
	const struct params *p = &r->p;
	struct resp rs = { 0 };
	uint64_t total, body_part, k, off;

	if (p->v[P_ENDLESS_HEADER]) {
		r->final_idx = (int)r->nwrites;
		return send_endless_header(c, r);
	}
	if (p->set & (1u << P_SIZE)) {
		rs.body_len = p->v[P_SIZE];
	} else {
		rs.lit = "ok\n";
		rs.body_len = 3;
	}
	rs.clen_extra = p->v[P_CLEN_EXTRA];
	rs.chunked = (int)p->v[P_BAD_CHUNKED];
	if (p->v[P_REDIRECT])
		rs.location = r->path;
	resp_head(&rs, r->status, keep);
	if (rs.chunked) {
		r->final_idx = (int)r->nwrites;
		return send_bad_chunked(c, r, &rs);
	}
	body_part = r->head_only ? 0 : rs.body_len;
	if ((p->set & (1u << P_RST_AFTER)) && p->v[P_RST_AFTER] < body_part)
		body_part = p->v[P_RST_AFTER];
	total = rs.head_len + body_part;
	r->final_idx = (int)r->nwrites;
	if (p->v[P_SPLIT] <= 1)
		return send_range(c, r, &rs, 0, total);
	if (send_range(c, r, &rs, 0, rs.head_len) < 0)
		return -1;
	k = p->v[P_SPLIT] - 1;
	if (k > body_part)
		k = body_part;
	off = rs.head_len;
	for (uint64_t i = 0; i < k; i++) {
		uint64_t n = body_part / k + (i < body_part % k ? 1 : 0);

		sleep_ms(p->v[P_SPLIT_MS]);
		if (send_range(c, r, &rs, off, off + n) < 0)
			return -1;
		off += n;
	}
	return 0;
}

/* Reads and discards left body bytes (never more: pipelining). */
static int read_body(struct conn *c, struct req *r, uint64_t left)
{
	while (left > 0) {
		size_t want = left < sizeof(c->out) ? (size_t)left :
						      sizeof(c->out);
		ssize_t n = conn_read(c, c->out, want);

		if (n <= 0)
			return -1;
		left -= (uint64_t)n;
		r->body_in += (uint64_t)n;
	}
	return 0;
}

static enum next handle_request(struct conn *c, struct req *r, size_t hlen)
{
	struct params *p = &r->p;
	uint64_t from_buf, t0;
	int st, keep, expect, want_body, nodelay;

	st = parse_head(c, r, hlen);
	if (st != 0)
		return reply_error(c, r, st);
	r->status = (int)p->v[P_STATUS];
	if (p->v[P_REDIRECT] && (r->status < 300 || r->status > 399))
		r->status = 302;
	keep = !p->v[P_CLOSE] && !r->conn_close &&
	       (r->minor == 1 || r->conn_keep) && !broken_response(p);
	nodelay = (int)p->v[P_NODELAY];
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));

	/* Body bytes that came with the head. */
	from_buf = c->in_len - hlen;
	if (from_buf > r->clen)
		from_buf = r->clen;
	r->body_in = from_buf;
	expect = r->expect_100 && r->minor == 1;
	want_body = 1;
	if (expect && !p->v[P_CONTINUE] && from_buf < r->clen) {
		/* Never asked for: the body may or may not follow. */
		want_body = 0;
		keep = 0;
	}
	c->in_len -= hlen + (size_t)from_buf;
	memmove(c->in, c->in + hlen + from_buf, c->in_len);

	if (expect && p->v[P_CONTINUE]) {
		sleep_ms(p->v[P_CONTINUE_MS]);
		if (send_interim(c, r, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
			goto io_error;
	}
	if (want_body && read_body(c, r, r->clen - from_buf) < 0) {
		set_note(r, "body_incomplete");
		goto io_error;
	}
	/* RFC 9110 15.2: no 1xx to an HTTP/1.0 client. */
	if (p->v[P_HINTS] && r->minor == 1 &&
	    send_interim(c, r,
			 "HTTP/1.1 103 Early Hints\r\n"
			 "Link: </style.css>; rel=preload; as=style\r\n"
			 "\r\n") < 0)
		goto io_error;

	t0 = now_ns(CLOCK_MONOTONIC);
	sleep_ms(p->v[P_THINK_MS]);
	r->think_ms = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e6;

	if (send_final(c, r, keep) < 0)
		goto io_error;
	if (p->set & (1u << P_RST_AFTER)) {
		conn_reset(c);
		req_finish(r, "rst");
		req_log(c, r);
		return NEXT_RST;
	}
	req_finish(r, keep ? "keep-alive" : "close");
	req_log(c, r);
	return keep ? NEXT_KEEP : NEXT_CLOSE;

io_error:
	if (r->note[0] == '\0')
		set_note(r, "write_failed");
	req_finish(r, "error");
	req_log(c, r);
	return NEXT_DROP;
}

static void req_init(struct req *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < P_COUNT; i++)
		r->p.v[i] = param_defs[i].dflt;
	r->think_ms = -1;
	r->final_idx = -1;
	snprintf(r->path, sizeof(r->path), "-");
}

/* ---- connections -------------------------------------------------------- */

/* --stall-handshake: read until the client gives up, never answer. */
static void stall_run(struct conn *c)
{
	struct req r;

	req_init(&r);
	r.t_real = now_ns(CLOCK_REALTIME);
	r.t_mono = now_ns(CLOCK_MONOTONIC);
	for (;;) {
		ssize_t n = recv(c->fd, c->out, sizeof(c->out), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (r.body_in == 0) {
			r.t_real = now_ns(CLOCK_REALTIME);
			r.t_mono = now_ns(CLOCK_MONOTONIC);
		}
		r.body_in += (uint64_t)n;
	}
	set_note(&r, "stall_handshake");
	req_finish(&r, "peer_closed");
	req_log(c, &r);
}

static int tls_accept(struct conn *c, SSL_CTX *ctx)
{
	struct req r;
	int rc;

	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		c->tls_failed = 1;
		return -1;
	}
	ERR_clear_error();
	rc = SSL_accept(c->ssl);
	if (rc == 1)
		return 0;
	c->tls_failed = 1;
	req_init(&r);
	r.t_real = now_ns(CLOCK_REALTIME);
	r.t_mono = now_ns(CLOCK_MONOTONIC);
	if (SSL_get_error(c->ssl, rc) == SSL_ERROR_SYSCALL &&
	    ERR_peek_error() == 0) {
		set_note(&r, "%s", errno ? strerror(errno) : "eof");
	} else {
		unsigned long e = ERR_peek_last_error();
		const char *why = ERR_reason_error_string(e);

		set_note(&r, "%s", why ? why : "handshake_failed");
	}
	req_finish(&r, "tls_error");
	req_log(c, &r);
	return -1;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	enum next next = NEXT_DROP;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	if (c->kind == LST_STALL) {
		stall_run(c);
		goto out;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (c->kind == LST_ALERT) {
		/* fails with the alert (logged); a lingering close after it,
		 * so the client reads the alert rather than a reset */
		if (tls_accept(c, srv.tls_alert) < 0)
			next = NEXT_CLOSE;
		goto out;
	}
	if (srv.tls != NULL && tls_accept(c, srv.tls) < 0)
		goto out;
	for (;;) {
		struct req r;
		size_t hlen;
		int rc;

		req_init(&r);
		rc = read_head(c, &hlen);
		r.t_real = now_ns(CLOCK_REALTIME);
		r.t_mono = now_ns(CLOCK_MONOTONIC);
		if (rc == 0) {
			next = NEXT_DROP;
			break;
		}
		c->nreq++;
		if (rc == -1) {
			/* A partial head, then EOF or the idle timeout. */
			set_note(&r, "incomplete_head:%zu_bytes", c->in_len);
			req_finish(&r, "error");
			req_log(c, &r);
			next = NEXT_DROP;
			break;
		}
		if (rc == -2) {
			set_note(&r, "head_too_large");
			next = reply_error(c, &r, 431);
			break;
		}
		next = handle_request(c, &r, hlen);
		if (next != NEXT_KEEP)
			break;
	}
out:
	conn_close(c, next);
	free(c);
	atomic_fetch_sub(&srv.nconns, 1);
	return NULL;
}

static void accept_one(const struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	pthread_attr_t attr;
	pthread_t tid;
	struct conn *c;
	int fd;

	fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			fprintf(stderr, "pbserver: accept: %s\n",
				strerror(errno));
			sleep_ms(100);	/* the listener stays readable */
		}
		return;
	}
	if (atomic_fetch_add(&srv.nconns, 1) >= MAX_CONNS) {
		atomic_fetch_sub(&srv.nconns, 1);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		atomic_fetch_sub(&srv.nconns, 1);
		close(fd);
		return;
	}
	c->fd = fd;
	c->kind = l->kind;
	c->id = atomic_fetch_add(&srv.next_conn, 1) + 1;
	fmt_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, conn_main, c) != 0) {
		fprintf(stderr, "pbserver: pthread_create failed\n");
		close(fd);
		free(c);
		atomic_fetch_sub(&srv.nconns, 1);
	}
	pthread_attr_destroy(&attr);
}

/* ---- setup -------------------------------------------------------------- */

/* ALPN: http/1.1 if offered, else none (the client falls back to it). */
static int alpn_select(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	unsigned int i = 0;

	(void)ssl;
	(void)arg;
	while (i < inlen) {
		unsigned int n = in[i];

		if (n > inlen - i - 1)
			break;
		if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *tls_ctx_new(const char *cert, const char *key)
{
	static const unsigned char sid_ctx[] = "pbserver";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *what = "SSL_CTX_new";

	if (ctx == NULL)
		goto fail;
	what = "TLS versions";
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		goto fail;
	/* Tickets on (TLS 1.2 and 1.3); a close without close_notify is EOF. */
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	what = "session id context";
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx,
					   sizeof(sid_ctx) - 1) != 1)
		goto fail;
	what = cert;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		goto fail;
	what = key;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return ctx;
fail:
	fprintf(stderr, "pbserver: TLS setup: %s: %s\n", what,
		ERR_reason_error_string(ERR_peek_last_error()) ?
			ERR_reason_error_string(ERR_peek_last_error()) :
			"failed");
	SSL_CTX_free(ctx);
	return NULL;
}

static int listener_open(struct listener *l)
{
	int one = 1;

	l->fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
						SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -1;
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::]:P and 0.0.0.0:P may both be asked for. */
	if (l->ss.ss_family == AF_INET6)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&l->ss, l->len) < 0 ||
	    listen(l->fd, 128) < 0)
		return -1;
	l->len = sizeof(l->ss);
	return getsockname(l->fd, (struct sockaddr *)&l->ss, &l->len);
}

/* Written whole under a temporary name, then renamed: readers never see a
 * half-written file. */
static int pid_file_write(const char *path)
{
	char tmp[PATH_MAX], buf[32];
	int fd, n, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	rc = write_all_fd(fd, buf, (size_t)n);
	if (close(fd) < 0 || rc < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "stall-handshake", required_argument, NULL, 's' },
		{ "alert-handshake", required_argument, NULL, 'a' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct listener lst[MAX_LISTENERS];
	struct pollfd pfd[MAX_LISTENERS + 1];
	const char *cert = NULL, *key = NULL, *pid_file = NULL;
	const char *log_path = NULL;
	size_t nl = 0;
	sigset_t sigs;
	int opt, sfd;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
		case 's':
		case 'a':
			if (nl == MAX_LISTENERS) {
				fprintf(stderr, "pbserver: at most %d "
					"listeners\n", MAX_LISTENERS);
				return 2;
			}
			lst[nl].kind = opt == 'l'   ? LST_HTTP :
				       opt == 's' ? LST_STALL :
						    LST_ALERT;
			lst[nl].spec = optarg;
			lst[nl].fd = -1;
			if (parse_addr(optarg, &lst[nl].ss, &lst[nl].len) < 0) {
				fprintf(stderr, "pbserver: bad address '%s' "
					"(want 1.2.3.4:80 or [::1]:80)\n",
					optarg);
				return 2;
			}
			nl++;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'p':
			pid_file = optarg;
			break;
		case 'L':
			log_path = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage();
		}
	}
	if (optind != argc || nl == 0 || (cert == NULL) != (key == NULL))
		return usage();
	for (size_t i = 0; i < nl; i++)
		if (lst[i].kind == LST_ALERT && cert == NULL) {
			fprintf(stderr, "pbserver: --alert-handshake needs "
				"--tls-cert and --tls-key\n");
			return 2;
		}

	signal(SIGPIPE, SIG_IGN);
	/* Blocked before any thread exists: only the signalfd sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("pbserver: signalfd");
		return 1;
	}
	if (log_path != NULL) {
		int fl = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;

		srv.log_fd = open(log_path, fl, 0644);
		if (srv.log_fd < 0) {
			fprintf(stderr, "pbserver: %s: %s\n", log_path,
				strerror(errno));
			return 1;
		}
	}
	if (cert != NULL && (srv.tls = tls_ctx_new(cert, key)) == NULL)
		return 1;
	if (cert != NULL) {
		/* --alert-handshake: TLS 1.2 (the alert in cleartext), a
		 * client certificate required and none ever trusted */
		if ((srv.tls_alert = tls_ctx_new(cert, key)) == NULL ||
		    SSL_CTX_set_max_proto_version(srv.tls_alert,
						  TLS1_2_VERSION) != 1) {
			fprintf(stderr, "pbserver: TLS setup of "
				"--alert-handshake failed\n");
			return 1;
		}
		SSL_CTX_set_verify(srv.tls_alert,
				   SSL_VERIFY_PEER |
					   SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
	}
	for (size_t i = 0; i < nl; i++) {
		if (listener_open(&lst[i]) < 0) {
			fprintf(stderr, "pbserver: listen %s: %s\n",
				lst[i].spec, strerror(errno));
			return 1;
		}
	}
	for (size_t i = 0; i < nl; i++) {
		char a[ADDR_STR_MAX];

		fmt_addr((struct sockaddr *)&lst[i].ss, a, sizeof(a));
		printf("listening %s%s\n", a,
		       lst[i].kind == LST_STALL ? " stall-handshake" :
		       lst[i].kind == LST_ALERT ? " alert-handshake" :
						  "");
		pfd[i] = (struct pollfd){ .fd = lst[i].fd, .events = POLLIN };
	}
	fflush(stdout);
	if (pid_file != NULL && pid_file_write(pid_file) < 0) {
		fprintf(stderr, "pbserver: pid file %s: %s\n", pid_file,
			strerror(errno));
		return 1;
	}
	pfd[nl] = (struct pollfd){ .fd = sfd, .events = POLLIN };

	for (;;) {
		if (poll(pfd, nl + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("pbserver: poll");
			return 1;
		}
		if (pfd[nl].revents != 0)
			break;
		for (size_t i = 0; i < nl; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(&lst[i]);
	}

	for (size_t i = 0; i < nl; i++)
		close(lst[i].fd);
	if (pid_file != NULL)
		unlink(pid_file);
	/* Connection threads may be inside OpenSSL: no atexit handlers. */
	_exit(0);
}
