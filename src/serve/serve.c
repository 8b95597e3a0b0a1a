/*
 * serve.c: the `probe serve` daemon: listening, authentication, limits
 * and routing (serve.h).
 *
 * Every route but /healthz wants "Authorization: Bearer TOKEN".  Both the
 * given and the expected token are hashed with SHA-256 and the digests
 * compared with CRYPTO_memcmp, so neither the content nor the length of
 * the token leaks through timing.
 *
 * No part of a request path ever reaches the filesystem: /api/pcaps/ID
 * takes ID only when it is [A-Za-z0-9._-] (libmicrohttpd has already
 * percent-decoded the path once, so "..%2f" arrives as "../" and fails;
 * "%252e" arrives as "%2e" and fails too), looks the run up in the store,
 * and opens the path of its pcaps row through escalate_pcap_path(), which
 * refuses anything outside SPOOL/pcaps.
 *
 * Requests carry no body: one announced by Content-Length or
 * Transfer-Encoding is refused (413) before it is read.
 */
#include "serve/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/render_run.h"
#include "escalate/retention.h"
#include "store/store.h"

struct serve {
	struct store *st;
	const struct serve_opts *o;
	unsigned char token_sha[SHA256_DIGEST_LENGTH];
};

bool serve_tls_supported(void)
{
	return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

/* ---- setup -------------------------------------------------------------- */

/* The token file's first line, trimmed, hashed into s->token_sha. */
static int token_load(struct serve *s, const char *path, struct errbuf *err)
{
	char line[1024];
	struct stat sb;
	int ret = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errbuf_set(err, PE_IO, "token file %s: %s", path,
				  strerror(errno));
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return errbuf_set(err, PE_NOMEM, "out of memory");
	}
	if (fstat(fd, &sb) < 0) {
		ret = errbuf_set(err, PE_IO, "token file %s: %s", path,
				 strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		ret = errbuf_set(err, PE_INVAL, "token file %s: not a "
				 "regular file", path);
		goto out;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		ret = errbuf_set(err, PE_PERM, "token file %s: mode %04o lets "
				 "group or others read it (chmod 600 it)",
				 path, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	size_t a = 0, n = strcspn(line, "\r\n");
	while (a < n && (line[a] == ' ' || line[a] == '\t'))
		a++;
	while (n > a && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (n == a) {
		ret = errbuf_set(err, PE_INVAL, "token file %s: empty first "
				 "line", path);
		goto out;
	}
	SHA256((const unsigned char *)line + a, n - a, s->token_sha);
out:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return ret;
}

/* "ADDR:PORT" or "[V6]:PORT" into a sockaddr. */
static int listen_parse(const char *spec, struct sockaddr_storage *ss,
			struct errbuf *err)
{
	char host[128];
	const char *colon = strrchr(spec, ':');
	char *end;

	if (!colon || colon == spec)
		goto bad;
	size_t hl = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hl < 3 || spec[hl - 1] != ']')
			goto bad;
		spec++, hl -= 2;
	}
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port > 65535)
		goto bad;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return 0;
	}
bad:
	return errbuf_set(err, PE_INVAL, "--listen '%s': expected ADDR:PORT "
			  "with a numeric address (127.0.0.1:9100, "
			  "[::1]:9100)", spec);
}

/* A whole small file (PEM) into a malloc'ed string. */
static int pem_load(const char *path, char **out, struct errbuf *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return errbuf_set(err, PE_INVAL, "%s: %s", path,
				  strerror(errno));
	for (;;) {
		if (cap - len < 4096) {
			if (cap > (1u << 20)) {
				free(buf);
				fclose(f);
				return errbuf_set(err, PE_INVAL, "%s: larger "
						  "than 1 MiB", path);
			}
			char *nb = realloc(buf, cap + 8192);
			if (!nb) {
				free(buf);
				fclose(f);
				return errbuf_set(err, PE_NOMEM, "out of "
						  "memory");
			}
			buf = nb, cap += 8192;
		}
		size_t r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* ---- responses ---------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"probe\"");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
				  const char *body)
{
	return reply(c, status, "text/plain; charset=utf-8", body);
}

/* Reply with a memstream's bytes (taken: freed by the library). */
static enum MHD_Result reply_owned(struct MHD_Connection *c,
				   const char *type, char *body, size_t len,
				   const char *hk, const char *hv)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (hk)
		MHD_add_response_header(r, hk, hv);
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c,
				   const struct errbuf *err)
{
	fprintf(stderr, "probe serve: %s\n", err->msg);
	return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			  "internal error\n");
}

/* ---- routes ------------------------------------------------------------- */

static bool authorized(const struct serve *s, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned char got[SHA256_DIGEST_LENGTH];

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	SHA256((const unsigned char *)h, strlen(h), got);
	return CRYPTO_memcmp(got, s->token_sha, sizeof(got)) == 0;
}

static enum MHD_Result route_metrics(struct serve *s,
				     struct MHD_Connection *c)
{
	struct errbuf err;
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);

	if (!f)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory\n");
	int ret = serve_metrics_write(s->st, f, &err);
	if (fclose(f) != 0 && ret == 0)
		ret = errbuf_set(&err, PE_NOMEM, "out of memory");
	if (ret < 0) {
		free(body);
		return reply_error(c, &err);
	}
	return reply_owned(c, "text/plain; version=0.0.4; charset=utf-8",
			   body, len, NULL, NULL);
}

/* A query argument as an integer in [lo, hi]; def when absent. */
static int arg_int(struct MHD_Connection *c, const char *k, long long def,
		   long long lo, long long hi, long long *out)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						    k);
	char *end;

	if (!v) {
		*out = def;
		return 0;
	}
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

static enum MHD_Result route_runs(struct serve *s, struct MHD_Connection *c)
{
	long long after, limit;
	int64_t seqs[SERVE_RUNS_MAX];
	size_t n = 0;
	struct errbuf err;
	int ret;

	if (arg_int(c, "after", 0, 0, INT64_MAX, &after) < 0 ||
	    arg_int(c, "limit", SERVE_RUNS_DEFAULT, 1, SERVE_RUNS_MAX,
		    &limit) < 0)
		return reply_text(c, MHD_HTTP_BAD_REQUEST,
				  "after=SEQ (>= 0) and limit=N (1 to 1000) "
				  "expected\n");
	ret = store_runs_after(s->st, after, (size_t)limit, seqs, &n, &err);
	if (ret < 0)
		return reply_error(c, &err);

	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	if (!f)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory\n");
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct run_rec run;
		ret = store_run_load(s->st, seqs[i], &run, &err);
		if (ret == 0)
			render_run_json(f, &run);
		run_rec_release(&run);
	}
	if (fclose(f) != 0 && ret == 0)
		ret = errbuf_set(&err, PE_NOMEM, "out of memory");
	if (ret < 0) {
		free(body);
		return reply_error(c, &err);
	}
	char next[32];
	snprintf(next, sizeof(next), "%lld",
		 n ? (long long)seqs[n - 1] : after);
	return reply_owned(c, "application/x-ndjson", body, len,
			   "X-Probe-Next-After", next);
}

/* RUN_ID as runs have it: probe_id "-" uuid; nothing that means a path. */
static bool run_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 200 || id[0] == '.')
		return false;
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789._-") == n;
}

struct pcap_pick {
	bool found;
	bool pruned;
	char *path, *sha256;
};

static int pick_pcap(const struct pcap_summary *p, void *ctx)
{
	struct pcap_pick *k = ctx;

	if (p->pcap_id == 0 || k->found)
		return 0;
	k->found = true;
	k->pruned = p->pruned;
	k->path = p->path ? strdup(p->path) : NULL;
	k->sha256 = p->sha256 ? strdup(p->sha256) : NULL;
	if ((p->path && !k->path) || (p->sha256 && !k->sha256))
		return PE_NOMEM;
	return 0;
}

static enum MHD_Result route_pcap(struct serve *s, struct MHD_Connection *c,
				  const char *id)
{
	struct pcap_pick k = { 0 };
	struct errbuf err;
	char *full = NULL;
	enum MHD_Result res;
	int fd = -1;

	if (!run_id_ok(id))
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	int ret = store_pcap_get(s->st, id, pick_pcap, &k, &err);
	if (ret == PE_NOTFOUND || (ret == 0 && (!k.found || k.pruned ||
						!k.path || !k.sha256))) {
		res = reply_text(c, MHD_HTTP_NOT_FOUND, "no pcap\n");
		goto out;
	}
	if (ret < 0) {
		res = reply_error(c, &err);
		goto out;
	}
	ret = escalate_pcap_path(s->o->spool, k.path, &full, &err);
	if (ret == PE_PERM) {
		fprintf(stderr, "probe serve: run %s: %s\n", id, err.msg);
		res = reply_text(c, MHD_HTTP_NOT_FOUND, "no pcap\n");
		goto out;
	}
	if (ret < 0) {
		res = reply_error(c, &err);
		goto out;
	}
	struct stat sb;
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		res = reply_text(c, MHD_HTTP_NOT_FOUND, "no pcap\n");
		goto out;
	}
	/* The library owns fd from here and closes it. */
	struct MHD_Response *r =
		MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
	if (!r) {
		res = MHD_NO;
		goto out;
	}
	fd = -1;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/vnd.tcpdump.pcap");
	MHD_add_response_header(r, "X-Probe-Sha256", k.sha256);
	res = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
out:
	if (fd >= 0)
		close(fd);
	free(full);
	free(k.path);
	free(k.sha256);
	return res;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct serve *s = cls;
	static const char pcaps[] = "/api/pcaps/";

	(void)version, (void)upload_data, (void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "GET or HEAD only\n");
	const char *cl = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (*upload_data_size != 0 ||
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
	    (cl && strcmp(cl, "0") != 0))
		return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
				  "no request bodies\n");
	if (strcmp(url, "/healthz") == 0)
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	if (!authorized(s, c))
		return reply_text(c, MHD_HTTP_UNAUTHORIZED,
				  "bearer token required\n");
	if (strcmp(url, "/metrics") == 0)
		return route_metrics(s, c);
	if (strcmp(url, "/api/runs") == 0)
		return route_runs(s, c);
	if (strncmp(url, pcaps, sizeof(pcaps) - 1) == 0)
		return route_pcap(s, c, url + sizeof(pcaps) - 1);
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("probe serve: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* ---- the daemon --------------------------------------------------------- */

int serve_run(struct store *st, const struct serve_opts *o, FILE *ready,
	      struct errbuf *err)
{
	struct serve s = { .st = st, .o = o };
	struct sockaddr_storage ss;
	char *cert = NULL, *key = NULL;
	struct MHD_Daemon *d = NULL;
	sigset_t sigs, old;
	int ret, sig;

	if ((ret = listen_parse(o->listen, &ss, err)) < 0 ||
	    (ret = token_load(&s, o->token_file, err)) < 0)
		return ret;
	if (!o->tls_cert != !o->tls_key)
		return errbuf_set(err, PE_INVAL, "--tls-cert and --tls-key "
				  "go together");
	if (o->tls_cert) {
		if (!serve_tls_supported())
			return errbuf_set(err, PE_INVAL, "this libmicrohttpd "
					  "was built without TLS");
		if ((ret = pem_load(o->tls_cert, &cert, err)) < 0 ||
		    (ret = pem_load(o->tls_key, &key, err)) < 0)
			goto out;
	}
	if ((ret = store_query_only(st, err)) < 0)
		goto out;

	/* Block the stop signals here before the daemon's thread exists, so
	 * it inherits the mask and sigwait() below takes them.  SIGPIPE: a
	 * client gone mid-reply is the library's to see as EPIPE. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			 MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cert)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tls_opts[] = {
		{ cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, key },
		{ MHD_OPTION_END, 0, NULL },
	};
	d = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, &s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_CONN_LIMIT,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)SERVE_PER_IP_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)SERVE_CONN_MEMORY,
		MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
	if (!d) {
		ret = errbuf_set(err, PE_IO, "cannot listen on %s (address "
				 "in use, or a bad TLS certificate or key)",
				 o->listen);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		goto out;
	}
	if (ready) {
		fprintf(ready, "probe serve: listening on %s%s\n", o->listen,
			cert ? " (https)" : "");
		fflush(ready);
	}
	sigdelset(&sigs, SIGPIPE);
	while (sigwait(&sigs, &sig) != 0)
		;
	MHD_stop_daemon(d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ret = 0;
out:
	if (key) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	free(cert);
	OPENSSL_cleanse(s.token_sha, sizeof(s.token_sha));
	return ret;
}
