/*
 * collect.c: REGIONS.conf, `probe collect` and `probe pcap fetch` over
 * libcurl's easy interface (collect.h says what and why).
 *
 * One request at a time is plenty: a collector runs every few minutes and
 * the regions answer in milliseconds; a region that hangs costs at most
 * COLLECT_TIMEOUT_S.  Every curl_easy_setopt goes through SETOPT, which
 * names the option that failed (curl src/tool_setopt.h).
 */
#include "collect/collect.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/ingest.h"

/* ---- REGIONS.conf ------------------------------------------------------- */

void collect_regions_release(struct collect_regions *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].name);
		free(r->v[i].base_url);
		free(r->v[i].token_file);
		free(r->v[i].ca_file);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

const struct collect_region *
collect_regions_find(const struct collect_regions *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return &r->v[i];
	return NULL;
}

/* Is the URL's host a loopback address (where http:// is harmless)? */
static bool loopback_host(const char *hostport)
{
	static const char *const hosts[] = { "localhost", "[::1]" };
	size_t n = strcspn(hostport, "/");
	for (size_t i = 0; i < sizeof(hosts) / sizeof(*hosts); i++) {
		size_t l = strlen(hosts[i]);
		if (n >= l && strncasecmp(hostport, hosts[i], l) == 0 &&
		    (n == l || hostport[l] == ':'))
			return true;
	}
	/* 127.0.0.0/8 */
	unsigned a, b, c, d;
	char end;
	int k = sscanf(hostport, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &end);
	return k >= 4 && a == 127 && b < 256 && c < 256 && d < 256 &&
	       (k == 4 || end == ':' || end == '/');
}

static int url_check(const char *url)
{
	if (strncmp(url, "https://", 8) == 0)
		return url[8] ? 0 : -1;
	if (strncmp(url, "http://", 7) == 0 && loopback_host(url + 7))
		return 0;
	return -1;
}

static int region_add(struct collect_regions *r, char **f, size_t nf,
		      const char *path, unsigned line, struct errbuf *err)
{
	struct collect_region *g, *v;
	const char *ca = NULL;

	if (nf == 4) {
		if (strncmp(f[3], "ca=", 3) != 0 || !f[3][3])
			return errbuf_set(err, PE_INVAL, "%s:%u: the 4th "
					  "column must be ca=FILE", path, line);
		ca = f[3] + 3;
	}
	if (url_check(f[1]) < 0)
		return errbuf_set(err, PE_INVAL, "%s:%u: %s: not an https:// "
				  "URL (http:// only to a loopback host)",
				  path, line, f[1]);
	if (strpbrk(f[1], "?#"))
		return errbuf_set(err, PE_INVAL, "%s:%u: %s: a base URL has "
				  "no query or fragment", path, line, f[1]);
	if (collect_regions_find(r, f[0]))
		return errbuf_set(err, PE_INVAL, "%s:%u: region %s named "
				  "twice", path, line, f[0]);
	if (!(v = realloc(r->v, (r->n + 1) * sizeof(*v))))
		return errbuf_set(err, PE_NOMEM, "out of memory");
	r->v = v;
	g = &v[r->n];
	memset(g, 0, sizeof(*g));
	g->line = line;
	g->name = strdup(f[0]);
	g->base_url = strdup(f[1]);
	g->token_file = strdup(f[2]);
	g->ca_file = ca ? strdup(ca) : NULL;
	r->n++;
	if (!g->name || !g->base_url || !g->token_file || (ca && !g->ca_file))
		return errbuf_set(err, PE_NOMEM, "out of memory");
	size_t l = strlen(g->base_url);
	while (l > 0 && g->base_url[l - 1] == '/')
		g->base_url[--l] = '\0';
	return 0;
}

int collect_regions_load(const char *path, struct collect_regions *out,
			 struct errbuf *err)
{
	FILE *fp;
	char *buf = NULL;
	size_t cap = 0;
	unsigned line = 0;
	int ret = 0;

	out->v = NULL;
	out->n = 0;
	if (!(fp = fopen(path, "r")))
		return errbuf_set(err, PE_IO, "%s: %s", path, strerror(errno));
	while (getline(&buf, &cap, fp) != -1) {
		char *f[5], *p = buf;
		size_t nf = 0;
		line++;
		if (strlen(buf) > 4096) {
			ret = errbuf_set(err, PE_INVAL, "%s:%u: line too long",
					 path, line);
			break;
		}
		p[strcspn(p, "#")] = '\0';
		while (nf < 5) {
			p += strspn(p, " \t\r\n");
			if (!*p)
				break;
			f[nf++] = p;
			p += strcspn(p, " \t\r\n");
			if (*p)
				*p++ = '\0';
		}
		if (nf == 0)
			continue;
		if (nf < 3 || nf > 4) {
			ret = errbuf_set(err, PE_INVAL, "%s:%u: want NAME "
					 "BASE_URL TOKEN_FILE [ca=FILE]",
					 path, line);
			break;
		}
		if ((ret = region_add(out, f, nf, path, line, err)) < 0)
			break;
	}
	if (ret == 0 && ferror(fp))
		ret = errbuf_set(err, PE_IO, "%s: read error", path);
	if (ret == 0 && out->n == 0)
		ret = errbuf_set(err, PE_INVAL, "%s: no region in it", path);
	free(buf);
	fclose(fp);
	if (ret < 0)
		collect_regions_release(out);
	return ret;
}

/* ---- HTTP ---------------------------------------------------------------- */

/* The token: the file's first line, which nobody else may read. */
static int token_read(const struct collect_region *r, char *tok,
		      size_t len, struct errbuf *err)
{
	struct stat sb;
	int fd = open(r->token_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errbuf_set(err, PE_IO, "token file %s: %s",
				  r->token_file, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return errbuf_set(err, PE_IO, "token file %s: not a regular "
				  "file", r->token_file);
	}
	if (sb.st_mode & 077) {
		close(fd);
		return errbuf_set(err, PE_PERM, "token file %s: readable by "
				  "group or others (chmod 600 it)",
				  r->token_file);
	}
	ssize_t n = read(fd, tok, len - 1);
	close(fd);
	if (n < 0)
		return errbuf_set(err, PE_IO, "token file %s: %s",
				  r->token_file, strerror(errno));
	tok[n] = '\0';
	tok[strcspn(tok, "\r\n")] = '\0';
	size_t l = strlen(tok);
	while (l > 0 && isspace((unsigned char)tok[l - 1]))
		tok[--l] = '\0';
	for (size_t i = 0; i < l; i++)
		if (!isgraph((unsigned char)tok[i]))
			return errbuf_set(err, PE_INVAL, "token file %s: a "
					  "token is printable, no spaces",
					  r->token_file);
	if (l == 0)
		return errbuf_set(err, PE_INVAL, "token file %s: empty",
				  r->token_file);
	return 0;
}

#define SETOPT(h, opt, val)                                               \
	do {                                                              \
		CURLcode rc_ = curl_easy_setopt(h, opt, val);             \
		if (rc_ != CURLE_OK) {                                    \
			ret = errbuf_set(err, PE_INVAL, "curl %s: %s",    \
					 #opt, curl_easy_strerror(rc_));  \
			goto out;                                         \
		}                                                         \
	} while (0)

/* What the header callback keeps. */
struct http_hdrs {
	char sha256[65];   /* X-Probe-Sha256, "" if absent or malformed */
	int64_t next_after;
	bool has_next;
};

static bool hdr_is(const char *line, size_t n, const char *name,
		   const char **val, size_t *vlen)
{
	size_t l = strlen(name);
	if (n <= l || strncasecmp(line, name, l) != 0 || line[l] != ':')
		return false;
	const char *v = line + l + 1, *e = line + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && isspace((unsigned char)e[-1]))
		e--;
	*val = v;
	*vlen = (size_t)(e - v);
	return true;
}

static size_t hdr_cb(char *b, size_t sz, size_t nm, void *ctx)
{
	struct http_hdrs *h = ctx;
	size_t n = sz * nm, vl;
	const char *v;

	if (n >= 5 && strncmp(b, "HTTP/", 5) == 0) {
		/* a new response (after a 100 Continue): start over */
		h->sha256[0] = '\0';
		h->has_next = false;
	} else if (hdr_is(b, n, "X-Probe-Sha256", &v, &vl)) {
		bool hex = vl == 64;
		for (size_t i = 0; hex && i < vl; i++)
			hex = isxdigit((unsigned char)v[i]);
		h->sha256[0] = '\0';
		if (hex) {
			for (size_t i = 0; i < 64; i++)
				h->sha256[i] = (char)tolower(
					(unsigned char)v[i]);
			h->sha256[64] = '\0';
		}
	} else if (hdr_is(b, n, "X-Probe-Next-After", &v, &vl)) {
		char num[24];
		if (vl > 0 && vl < sizeof(num)) {
			memcpy(num, v, vl);
			num[vl] = '\0';
			char *end;
			errno = 0;
			long long x = strtoll(num, &end, 10);
			h->has_next = !*end && !errno && x >= 0;
			h->next_after = x;
		}
	}
	return n;
}

/* Set up h for GET url with the region's token and TLS rules. */
static int http_setup(CURL *h, const struct collect_region *r,
		      const char *url, struct curl_slist **hl,
		      struct http_hdrs *hd, long timeout, struct errbuf *err)
{
	char tok[COLLECT_MAX_TOKEN + 1], auth[COLLECT_MAX_TOKEN + 32];
	int ret = token_read(r, tok, sizeof(tok), err);
	if (ret < 0)
		return ret;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	struct curl_slist *n = curl_slist_append(NULL, auth);
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(auth, sizeof(auth));
	if (!n)
		return errbuf_set(err, PE_NOMEM, "out of memory");
	*hl = n;
	SETOPT(h, CURLOPT_URL, url);
	SETOPT(h, CURLOPT_HTTPHEADER, n);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L); /* the token stays here */
	/* verification is on, and cannot be turned off from outside */
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (r->ca_file)
		SETOPT(h, CURLOPT_CAINFO, r->ca_file);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT, COLLECT_CONNECT_TIMEOUT_S);
	SETOPT(h, CURLOPT_TIMEOUT, timeout);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_USERAGENT, "probe/" PROBE_VERSION);
	SETOPT(h, CURLOPT_HEADERFUNCTION, hdr_cb);
	SETOPT(h, CURLOPT_HEADERDATA, hd);
out:
	return ret;
}

/* Map a finished transfer to 0 (HTTP 200) or a PE_* with a message. */
static int http_result(CURL *h, CURLcode rc, const char *curl_msg,
		       const struct collect_region *r, const char *what,
		       struct errbuf *err)
{
	long status = 0;
	if (rc != CURLE_OK)
		return errbuf_set(err, PE_IO, "%s: %s: %s", r->base_url, what,
				  curl_msg[0] ? curl_msg
					      : curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200)
		return 0;
	if (status == 401 || status == 403)
		return errbuf_set(err, PE_PERM, "%s: token refused (HTTP "
				  "%ld)", r->base_url, status);
	if (status == 404)
		return errbuf_set(err, PE_NOTFOUND, "%s: %s: HTTP 404",
				  r->base_url, what);
	return errbuf_set(err, PE_IO, "%s: %s: HTTP %ld", r->base_url, what,
			  status);
}

/* curl_global_init once (idempotent; probe is one thread here). */
static int curl_ready(struct errbuf *err)
{
	static bool ready;
	if (!ready) {
		CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (rc != CURLE_OK)
			return errbuf_set(err, PE_NOMEM, "curl_global_init: %s",
					  curl_easy_strerror(rc));
		ready = true;
	}
	return 0;
}

/* ---- collect ------------------------------------------------------------- */

struct page_buf {
	char *p;
	size_t n, cap;
	bool toobig;
};

static size_t page_cb(char *b, size_t sz, size_t nm, void *ctx)
{
	struct page_buf *pb = ctx;
	size_t n = sz * nm;
	if (n > COLLECT_MAX_PAGE - pb->n) {
		pb->toobig = true;
		return 0; /* abort the transfer */
	}
	if (pb->n + n + 1 > pb->cap) {
		size_t c = pb->cap ? pb->cap : 65536;
		while (c < pb->n + n + 1)
			c *= 2;
		char *p = realloc(pb->p, c);
		if (!p)
			return 0;
		pb->p = p;
		pb->cap = c;
	}
	memcpy(pb->p + pb->n, b, n);
	pb->n += n;
	pb->p[pb->n] = '\0';
	return n;
}

static bool store_class(int ret)
{
	return ret == PE_STORE || ret == PE_BUSY || ret == PE_NOMEM ||
	       ret == PE_SCHEMA;
}

/* Ingest and store the runs of one page; *n_runs, *max_seq. */
static int page_store(struct store *st, const struct collect_region *r,
		      int64_t after, const char *text, size_t len,
		      size_t *n_runs, int64_t *max_seq,
		      struct collect_stats *stats, struct errbuf *err)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;
	int ret = 0;

	*n_runs = 0;
	*max_seq = after;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *next = nl ? nl + 1 : end;
		line++;
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (strspn(p, " \t") >= l) {
			p = next;
			continue;
		}
		struct run_rec run;
		struct errbuf e;
		run_rec_init(&run);
		if ((ret = ingest_run_json(p, l, &run, &e)) < 0)
			return errbuf_set(err, store_class(ret) ? ret
								: PE_INVAL,
					  "%s: runs after %" PRId64 ", line "
					  "%u: %s", r->base_url, after, line,
					  e.msg);
		(*n_runs)++;
		if (run.seq <= *max_seq) {
			ret = errbuf_set(err, PE_INVAL, "%s: runs after %"
					 PRId64 ", line %u: seq %" PRId64
					 " out of order", r->base_url, after,
					 line, run.seq);
			run_rec_release(&run);
			return ret;
		}
		*max_seq = run.seq;
		bool have = false;
		ret = store_run_exists(st, run.run_id, &have, err);
		if (ret == 0 && have) {
			stats->present++;
		} else if (ret == 0) {
			/*
			 * The pcap stays in its region (`probe pcap fetch`):
			 * a row here would point at a path on another host,
			 * which retention here would try to delete.
			 */
			if (run.pcap)
				pcap_rec_release(run.pcap);
			free(run.pcap);
			run.pcap = NULL;
			run.seq = 0;
			ret = store_run_save(st, &run, &e);
			/* another collector may have stored it meanwhile */
			if (ret == PE_STORE &&
			    store_run_exists(st, run.run_id, &have, err) == 0 &&
			    have) {
				ret = 0;
				stats->present++;
			} else if (ret < 0) {
				errbuf_set(err, ret, "%s: run %s: %s",
					   r->base_url, run.run_id, e.msg);
			} else {
				stats->added++;
			}
		}
		run_rec_release(&run);
		if (ret < 0)
			return ret;
		p = next;
	}
	return 0;
}

int collect_region(struct store *st, const struct collect_region *r,
		   struct collect_stats *stats, struct errbuf *err)
{
	struct page_buf pb = { NULL, 0, 0, false };
	int64_t cursor;
	int ret;

	memset(stats, 0, sizeof(*stats));
	if ((ret = curl_ready(err)) < 0)
		return ret;
	if ((ret = store_cursor_get(st, r->name, r->base_url, &cursor, err)))
		return ret;
	stats->cursor = cursor;
	for (;;) {
		char url[4096], cerr[CURL_ERROR_SIZE] = "";
		struct http_hdrs hd = { "", 0, false };
		struct curl_slist *hl = NULL;
		CURL *h = curl_easy_init();
		size_t n_runs;
		int64_t max_seq;

		if (!h)
			return errbuf_set(err, PE_NOMEM, "curl_easy_init");
		if ((size_t)snprintf(url, sizeof(url), "%s/api/runs?after=%"
				     PRId64 "&limit=%d", r->base_url, cursor,
				     COLLECT_PAGE_RUNS) >= sizeof(url)) {
			curl_easy_cleanup(h);
			return errbuf_set(err, PE_INVAL, "%s: URL too long",
					  r->base_url);
		}
		pb.n = 0;
		pb.toobig = false;
		ret = http_setup(h, r, url, &hl, &hd, COLLECT_TIMEOUT_S, err);
		if (ret == 0) {
			SETOPT(h, CURLOPT_WRITEFUNCTION, page_cb);
			SETOPT(h, CURLOPT_WRITEDATA, &pb);
			SETOPT(h, CURLOPT_ERRORBUFFER, cerr);
			CURLcode rc = curl_easy_perform(h);
			if (pb.toobig)
				ret = errbuf_set(err, PE_IO, "%s: a page over "
						 "%u bytes", r->base_url,
						 COLLECT_MAX_PAGE);
			else
				ret = http_result(h, rc, cerr, r, "runs", err);
			if (ret == PE_NOTFOUND)
				ret = PE_IO; /* no /api/runs: not a probe */
		}
	out:
		curl_slist_free_all(hl);
		curl_easy_cleanup(h);
		if (ret < 0)
			break;
		stats->pages++;
		ret = page_store(st, r, cursor, pb.p ? pb.p : "", pb.n,
				 &n_runs, &max_seq, stats, err);
		if (ret < 0)
			break;
		if (n_runs == 0)
			break;
		/* the server's word when it gives one; else the last run's */
		int64_t next = hd.has_next ? hd.next_after : max_seq;
		if (next <= cursor) {
			ret = errbuf_set(err, PE_INVAL, "%s: the cursor does "
					 "not move (after %" PRId64 ", next "
					 "%" PRId64 ")", r->base_url, cursor,
					 next);
			break;
		}
		if ((ret = store_cursor_set(st, r->name, r->base_url, next,
					    err)) < 0)
			break;
		stats->cursor = cursor = next;
		if (n_runs < COLLECT_PAGE_RUNS)
			break;
	}
	free(pb.p);
	return ret;
}

/* ---- pcap fetch ---------------------------------------------------------- */

struct fetch_ctx {
	CURL *h;
	int fd;
	EVP_MD_CTX *md;
	bool werr;
	int64_t bytes;
};

static size_t fetch_cb(char *b, size_t sz, size_t nm, void *vctx)
{
	struct fetch_ctx *c = vctx;
	size_t n = sz * nm, off = 0;
	long status = 0;

	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return n; /* an error page: not the file */
	if (EVP_DigestUpdate(c->md, b, n) != 1) {
		c->werr = true;
		return 0;
	}
	while (off < n) {
		ssize_t w = write(c->fd, b + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			c->werr = true;
			return 0;
		}
		off += (size_t)w;
	}
	c->bytes += (int64_t)n;
	return n;
}

static bool run_id_ok(const char *id)
{
	size_t n = strlen(id);
	return n > 0 && n <= 200 && id[0] != '.' &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789._-") == n;
}

int collect_pcap_fetch(const struct collect_region *r, const char *run_id,
		       const char *out_path, char sha256_hex[65],
		       struct errbuf *err)
{
	struct fetch_ctx c = { NULL, -1, NULL, false, 0 };
	struct http_hdrs hd = { "", 0, false };
	struct curl_slist *hl = NULL;
	char url[4096], cerr[CURL_ERROR_SIZE] = "";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	bool created = false;
	int ret;

	sha256_hex[0] = '\0';
	if ((ret = curl_ready(err)) < 0)
		return ret;
	if (!run_id_ok(run_id))
		return errbuf_set(err, PE_INVAL, "%s: not a run id", run_id);
	if ((size_t)snprintf(url, sizeof(url), "%s/api/pcaps/%s", r->base_url,
			     run_id) >= sizeof(url))
		return errbuf_set(err, PE_INVAL, "%s: URL too long",
				  r->base_url);
	if (!(c.h = curl_easy_init()) || !(c.md = EVP_MD_CTX_new())) {
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
		goto out;
	}
	if ((ret = http_setup(c.h, r, url, &hl, &hd, COLLECT_FETCH_TIMEOUT_S,
			      err)) < 0)
		goto out;
	if (EVP_DigestInit_ex(c.md, EVP_sha256(), NULL) != 1) {
		ret = errbuf_set(err, PE_NOMEM, "EVP_DigestInit_ex failed");
		goto out;
	}
	c.fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (c.fd < 0) {
		ret = errbuf_set(err, PE_IO, "%s: %s", out_path,
				 strerror(errno));
		goto out;
	}
	created = true;
	SETOPT(c.h, CURLOPT_WRITEFUNCTION, fetch_cb);
	SETOPT(c.h, CURLOPT_WRITEDATA, &c);
	SETOPT(c.h, CURLOPT_ERRORBUFFER, cerr);
	CURLcode rc = curl_easy_perform(c.h);
	if (c.werr) {
		ret = errbuf_set(err, PE_IO, "%s: write failed: %s", out_path,
				 strerror(errno));
		goto out;
	}
	if ((ret = http_result(c.h, rc, cerr, r, run_id, err)) < 0)
		goto out;
	if (fsync(c.fd) < 0 || close(c.fd) < 0) {
		c.fd = -1;
		ret = errbuf_set(err, PE_IO, "%s: %s", out_path,
				 strerror(errno));
		goto out;
	}
	c.fd = -1;
	if (EVP_DigestFinal_ex(c.md, md, &mdlen) != 1 || mdlen != 32) {
		ret = errbuf_set(err, PE_NOMEM, "EVP_DigestFinal_ex failed");
		goto out;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(sha256_hex + 2 * i, 3, "%02x", md[i]);
	if (!hd.sha256[0])
		ret = errbuf_set(err, PE_INVAL, "%s: no X-Probe-Sha256 in the "
				 "answer: cannot check the file",
				 r->base_url);
	else if (strcmp(hd.sha256, sha256_hex) != 0)
		ret = errbuf_set(err, PE_INVAL, "sha256 mismatch: got %s, the "
				 "region says %s", sha256_hex, hd.sha256);
out:
	if (c.fd >= 0)
		close(c.fd);
	if (ret < 0 && created)
		unlink(out_path);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c.h);
	EVP_MD_CTX_free(c.md);
	return ret;
}
