/*
 * retention.c: pruning escalation pcaps (age, then the spool's byte
 * budget, oldest first), row retention of old runs, and exporting a kept
 * pcap after checking it against the SHA-256 its row recorded.
 *
 * Why the path checks: a pcaps row is data (it may come from an old
 * version, a hand edit, or a copied database), and retention unlinks what
 * it names as whoever runs it, often root.  So a row may only ever name a
 * file in SPOOL/pcaps/: no ".." component, and the directory holding the
 * file, links resolved, is SPOOL/pcaps or below.  Anything else is
 * reported and left alone.
 *
 * The order: decide everything first (from one listing of the kept
 * pcaps), then delete files and mark rows one by one.  A crash between
 * unlink and the mark leaves a row whose file is missing, which the next
 * prune marks ("missing"): the two never disagree the other way round.
 */
#include "escalate/retention.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/run.h"
#include "store/store.h"
#include "util/xalloc.h"

#define UTC_LEN 27 /* "2026-11-23T13:43:04.123456Z" */
#define DAY_S 86400
#define MAX_DAYS 36500

static const char *const why_names[] = {
	[PRUNE_EXPIRED] = "expired",
	[PRUNE_BYTES] = "over retention_bytes",
	[PRUNE_OLD_RUN] = "run past runs_retention_days",
	[PRUNE_REFUSED] = "refused",
	[PRUNE_FAILED] = "failed",
};

const char *prune_why_name(enum prune_why w)
{
	if ((unsigned)w >= sizeof(why_names) / sizeof(*why_names))
		return "?";
	return why_names[w];
}

/* ---- UTC text <-> time_t ------------------------------------------------ */

static int utc_parse(const char *s, time_t *t, long *usec)
{
	struct tm tm = { 0 };
	int n = 0;

	if (!s || strlen(s) != UTC_LEN)
		return PE_INVAL;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6ldZ%n", &tm.tm_year,
		   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, usec, &n) != 7 || n != UTC_LEN)
		return PE_INVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = timegm(&tm);
	return 0;
}

static int utc_format(time_t t, long usec, char buf[UTC_LEN + 1])
{
	struct tm tm;
	char day[32], tmp[64];

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0)
		return PE_INVAL;
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(tmp, sizeof(tmp), "%s.%06dZ", day, (int)(usec % 1000000));
	if (strlen(tmp) != UTC_LEN)
		return PE_INVAL;
	memcpy(buf, tmp, UTC_LEN + 1);
	return 0;
}

/* s minus (or plus) days, in the same form. */
static int utc_add_days(const char *s, int64_t days, char buf[UTC_LEN + 1])
{
	time_t t;
	long usec;

	if (utc_parse(s, &t, &usec) < 0 || days > MAX_DAYS ||
	    days < -MAX_DAYS)
		return PE_INVAL;
	return utc_format(t + (time_t)days * DAY_S, usec, buf);
}

int escalate_pcap_expiry(const char *created_utc, int64_t retention_days,
			 char **expires_out)
{
	char buf[UTC_LEN + 1];

	*expires_out = NULL;
	if (retention_days < 0 ||
	    utc_add_days(created_utc, retention_days, buf) < 0)
		return PE_INVAL;
	if (retention_days == 0)
		return 0;
	*expires_out = xstrdup(buf);
	return *expires_out ? 0 : PE_NOMEM;
}

/* ---- where a row's file is ---------------------------------------------- */

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", a, *a && a[strlen(a) - 1] == '/' ?
			 "" : "/", b);
	return s;
}

/*
 * path with "//", "/./" and a leading "./" collapsed, and no trailing
 * '/', into buf (as long as path).  Used only on paths without "..".
 */
static void normalize(const char *path, char *buf)
{
	char *o = buf;

	while (path[0] == '.' && path[1] == '/')
		path += 2;
	while (*path) {
		if (path[0] == '/' && (path[1] == '/' ||
		    (path[1] == '.' && (path[2] == '/' || !path[2])))) {
			path += path[1] == '/' ? 1 : 2;
			continue;
		}
		*o++ = *path++;
	}
	while (o > buf + 1 && o[-1] == '/')
		o--;
	*o = '\0';
}

/* Is path (no "..") below dir, as text? */
static bool lexically_under(const char *path, const char *dir)
{
	size_t lp = strlen(path) + 1, ld = strlen(dir) + 1;
	char *p = malloc(lp), *d = malloc(ld);
	bool under = false;

	if (p && d) {
		normalize(path, p);
		normalize(dir, d);
		ld = strlen(d);
		under = strncmp(p, d, ld) == 0 && p[ld] == '/' && p[ld + 1];
	}
	free(p);
	free(d);
	return under;
}

static bool real_under(const char *real, const char *root)
{
	size_t n = strlen(root);
	return strncmp(real, root, n) == 0 &&
	       (real[n] == '\0' || real[n] == '/' ||
		(n > 0 && root[n - 1] == '/'));
}

int escalate_pcap_path(const char *spool, const char *row_path,
		       char **full_out, struct errbuf *err)
{
	char *full = NULL, *dir = NULL, *pcaps = NULL, *abs_pcaps = NULL;
	char real_dir[PATH_MAX], real_pcaps[PATH_MAX], cwd[PATH_MAX];
	const char *base, *p;
	int ret = PE_PERM;

	*full_out = NULL;
	if (!row_path || !*row_path)
		return errbuf_set(err, PE_PERM, "empty path");
	for (p = row_path; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return errbuf_set(err, PE_PERM, "'%s' has a '..' "
					  "component", row_path);
		p += n;
		p += *p == '/';
	}
	base = strrchr(row_path, '/');
	base = base ? base + 1 : row_path;
	if (!*base || strcmp(base, ".") == 0)
		return errbuf_set(err, PE_PERM, "'%s' names no file",
				  row_path);

	full = row_path[0] == '/' ? xstrdup(row_path) : join(spool, row_path);
	pcaps = join(spool, "pcaps");
	if (!full || !pcaps) {
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
		goto out;
	}
	dir = xstrdup(full);
	if (!dir) {
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
		goto out;
	}
	*strrchr(dir, '/') = '\0'; /* full has a '/': joined or absolute */

	if (realpath(*dir ? dir : "/", real_dir)) {
		if (!realpath(pcaps, real_pcaps) ||
		    !real_under(real_dir, real_pcaps)) {
			ret = errbuf_set(err, PE_PERM, "'%s' is outside %s/",
					 row_path, pcaps);
			goto out;
		}
	} else {
		/* Its directory does not exist: no file to touch, but say
		 * whether the row would be acceptable, from the text. */
		if (pcaps[0] != '/') {
			if (!getcwd(cwd, sizeof(cwd))) {
				ret = errbuf_set(err, PE_PERM, "getcwd: %s",
						 strerror(errno));
				goto out;
			}
			abs_pcaps = join(cwd, pcaps);
		}
		const char *root = abs_pcaps ? abs_pcaps : pcaps;
		bool under = row_path[0] == '/' ?
			lexically_under(full, root) :
			lexically_under(full, pcaps);
		/* (both relative: full is spool + row_path, as pcaps is) */
		if (!under) {
			ret = errbuf_set(err, PE_PERM, "'%s' is outside %s/",
					 row_path, pcaps);
			goto out;
		}
	}
	*full_out = full;
	full = NULL;
	ret = 0;
out:
	free(full);
	free(dir);
	free(pcaps);
	free(abs_pcaps);
	return ret;
}

/* ---- prune -------------------------------------------------------------- */

/* A kept pcap, as retention sees it. */
struct cand {
	int64_t id, run_seq;
	char *run_id, *path, *full;
	uint64_t bytes;
	bool expired, run_old, prune;
	enum prune_why why;
	char *detail;        /* refused: why */
};

struct cands {
	struct cand *v;
	size_t n, cap;
	const char *spool;
	const char *age_cutoff;   /* created_at before: expired; or NULL */
	const char *runs_cutoff;  /* started_at before: old run; or NULL */
	const char *now;
};

static void cand_release(struct cand *c)
{
	free(c->run_id);
	free(c->path);
	free(c->full);
	free(c->detail);
}

static int collect(const struct pcap_summary *p, void *vctx)
{
	struct cands *cs = vctx;
	struct cand *c;
	struct errbuf e;
	struct stat sb;
	int ret;

	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 64;
		struct cand *v = realloc(cs->v, cap * sizeof(*v));
		if (!v)
			return PE_NOMEM;
		cs->v = v;
		cs->cap = cap;
	}
	c = &cs->v[cs->n];
	*c = (struct cand){ .id = p->pcap_id, .run_seq = p->run_seq };
	c->run_id = xstrdup(p->run_id ? p->run_id : "");
	c->path = xstrdup(p->path ? p->path : "");
	if (!c->run_id || !c->path) {
		cand_release(c);
		return PE_NOMEM;
	}
	cs->n++;
	ret = escalate_pcap_path(cs->spool, c->path, &c->full, &e);
	if (ret == PE_NOMEM)
		return PE_NOMEM;
	if (ret < 0) {
		c->why = PRUNE_REFUSED;
		c->detail = xstrdup(e.msg);
		return c->detail ? 0 : PE_NOMEM;
	}
	if (p->bytes != RUN_NULL_INT && p->bytes >= 0)
		c->bytes = (uint64_t)p->bytes;
	else if (stat(c->full, &sb) == 0)
		c->bytes = (uint64_t)sb.st_size;
	/* Text comparison orders these times (schema/001). */
	if (p->expires_at)
		c->expired = strcmp(p->expires_at, cs->now) <= 0;
	else if (cs->age_cutoff && p->created_at)
		c->expired = strcmp(p->created_at, cs->age_cutoff) < 0;
	c->run_old = cs->runs_cutoff && p->started_at &&
		     strcmp(p->started_at, cs->runs_cutoff) < 0;
	if (c->expired || c->run_old) {
		c->prune = true;
		c->why = c->expired ? PRUNE_EXPIRED : PRUNE_OLD_RUN;
	}
	return 0;
}

static int add_item(struct prune_report *r, const struct cand *c,
		    bool missing, const char *detail, struct errbuf *err)
{
	struct prune_item *it;

	if (r->n_items >= PRUNE_MAX_ITEMS)
		return 0;
	/* Grow by doubling; PRUNE_MAX_ITEMS bounds it. */
	if ((r->n_items & (r->n_items - 1)) == 0) {
		size_t cap = r->n_items ? 2 * r->n_items : 1;
		it = realloc(r->items, cap * sizeof(*it));
		if (!it)
			return errbuf_set(err, PE_NOMEM, "out of memory");
		r->items = it;
	}
	it = &r->items[r->n_items];
	*it = (struct prune_item){ .bytes = c->bytes, .why = c->why,
				   .missing = missing };
	it->run_id = xstrdup(c->run_id);
	it->path = xstrdup(c->path);
	it->detail = detail ? xstrdup(detail) : NULL;
	if (!it->run_id || !it->path || (detail && !it->detail)) {
		free(it->run_id);
		free(it->path);
		free(it->detail);
		return errbuf_set(err, PE_NOMEM, "out of memory");
	}
	r->n_items++;
	return 0;
}

void prune_report_release(struct prune_report *r)
{
	for (size_t i = 0; i < r->n_items; i++) {
		free(r->items[i].run_id);
		free(r->items[i].path);
		free(r->items[i].detail);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

/* Delete (or, dry, look at) c's file and mark its row. */
static int prune_one(struct store *st, const struct retention_opts *o,
		     struct cand *c, const char *now, struct prune_report *r,
		     struct errbuf *err)
{
	bool missing;
	char why[160];
	int ret;

	if (o->dry_run) {
		missing = access(c->full, F_OK) < 0 && errno == ENOENT;
	} else if (unlink(c->full) == 0) {
		missing = false;
	} else if (errno == ENOENT) {
		missing = true;
	} else {
		snprintf(why, sizeof(why), "unlink: %s", strerror(errno));
		c->why = PRUNE_FAILED;
		c->prune = false;
		r->failed++;
		return add_item(r, c, false, why, err);
	}
	if (!o->dry_run) {
		ret = store_pcap_mark_pruned(st, c->id, now, err);
		if (ret < 0)
			return ret;
	}
	r->rows_marked++;
	if (missing) {
		r->files_missing++;
	} else {
		r->files_deleted++;
		r->bytes_freed += c->bytes;
	}
	return add_item(r, c, missing, NULL, err);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/*
 * With dry_run the store counts only old runs with nothing kept; add
 * those whose every kept pcap this pass would prune.
 */
static int dry_runs(const struct cands *cs, uint64_t *n)
{
	int64_t *old = malloc((cs->n ? cs->n : 1) * sizeof(*old));
	int64_t *held = malloc((cs->n ? cs->n : 1) * sizeof(*held));
	size_t n_old = 0, n_held = 0;

	if (!old || !held) {
		free(old);
		free(held);
		return PE_NOMEM;
	}
	for (size_t i = 0; i < cs->n; i++) {
		if (!cs->v[i].run_old)
			continue;
		if (cs->v[i].prune)
			old[n_old++] = cs->v[i].run_seq;
		else
			held[n_held++] = cs->v[i].run_seq;
	}
	qsort(old, n_old, sizeof(*old), cmp_i64);
	qsort(held, n_held, sizeof(*held), cmp_i64);
	for (size_t i = 0; i < n_old; i++) {
		if (i > 0 && old[i] == old[i - 1])
			continue;
		if (!bsearch(&old[i], held, n_held, sizeof(*held), cmp_i64))
			(*n)++;
	}
	free(old);
	free(held);
	return 0;
}

int escalate_prune(struct store *st, const char *spool,
		   const struct retention_opts *o, const char *now_utc,
		   struct prune_report *out, struct errbuf *err)
{
	static const struct store_pcap_filter all_kept = {
		.oldest_first = true };
	char age_cutoff[UTC_LEN + 1], runs_cutoff[UTC_LEN + 1];
	struct cands cs = { .spool = spool, .now = now_utc };
	uint64_t total = 0;
	int64_t n_runs = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (o->retention_days > MAX_DAYS || o->runs_retention_days > MAX_DAYS)
		return errbuf_set(err, PE_INVAL, "retention beyond %d days",
				  MAX_DAYS);
	if (utc_add_days(now_utc, -(int64_t)o->retention_days,
			 age_cutoff) < 0 ||
	    utc_add_days(now_utc, -(int64_t)o->runs_retention_days,
			 runs_cutoff) < 0)
		return errbuf_set(err, PE_INVAL, "now: '%s' is not a UTC time "
				  "like 2026-11-23T13:43:04.123456Z",
				  now_utc ? now_utc : "(null)");
	if (o->retention_days)
		cs.age_cutoff = age_cutoff;
	if (o->runs_retention_days)
		cs.runs_cutoff = runs_cutoff;

	ret = store_pcaps_list(st, &all_kept, collect, &cs, err);
	if (ret == PE_NOMEM)
		errbuf_set(err, ret, "out of memory");
	if (ret < 0)
		goto out;

	/* The byte budget counts what stays after the age rule, oldest
	 * first out; refused rows are not ours to count or delete. */
	for (size_t i = 0; i < cs.n; i++)
		if (!cs.v[i].prune && cs.v[i].why != PRUNE_REFUSED)
			total += cs.v[i].bytes;
	for (size_t i = 0; o->retention_bytes && i < cs.n &&
			   total > o->retention_bytes; i++) {
		struct cand *c = &cs.v[i];
		if (c->prune || c->why == PRUNE_REFUSED)
			continue;
		c->prune = true;
		c->why = PRUNE_BYTES;
		total -= c->bytes;
	}

	for (size_t i = 0; i < cs.n; i++) {
		struct cand *c = &cs.v[i];
		if (c->why == PRUNE_REFUSED) {
			out->refused++;
			ret = add_item(out, c, false, c->detail, err);
		} else if (c->prune) {
			ret = prune_one(st, o, c, now_utc, out, err);
		}
		if (ret < 0)
			goto out;
	}
	for (size_t i = 0; i < cs.n; i++)
		if (cs.v[i].why == PRUNE_FAILED)
			total += cs.v[i].bytes;
	out->kept_bytes = total;

	if (cs.runs_cutoff) {
		ret = store_runs_delete_before(st, runs_cutoff, o->dry_run,
					       &n_runs, err);
		if (ret < 0)
			goto out;
		out->runs_deleted = (uint64_t)n_runs;
		if (o->dry_run) {
			ret = dry_runs(&cs, &out->runs_deleted);
			if (ret < 0) {
				errbuf_set(err, ret, "out of memory");
				goto out;
			}
		}
	}
	ret = 0;
out:
	for (size_t i = 0; i < cs.n; i++)
		cand_release(&cs.v[i]);
	free(cs.v);
	return ret;
}

/* ---- export ------------------------------------------------------------- */

/* Hash fd from its start; leaves the offset at the end. */
static int hash_fd(int fd, int out_fd, char hex[65], struct errbuf *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[65536], dg[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	ssize_t n;
	int ret = 0;

	if (!md)
		return errbuf_set(err, PE_NOMEM, "out of memory");
	if (lseek(fd, 0, SEEK_SET) < 0) {
		ret = errbuf_set(err, PE_IO, "seek: %s", strerror(errno));
		goto out;
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		ret = errbuf_set(err, PE_NOMEM, "sha256: cannot start");
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = errbuf_set(err, PE_IO, "read: %s",
					 strerror(errno));
			goto out;
		}
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
			ret = errbuf_set(err, PE_NOMEM, "sha256 failed");
			goto out;
		}
		for (ssize_t off = 0; out_fd >= 0 && off < n;) {
			ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				ret = errbuf_set(err, PE_IO, "write: %s",
						 strerror(errno));
				goto out;
			}
			off += w;
		}
	}
	if (EVP_DigestFinal_ex(md, dg, &dlen) != 1 || dlen != 32) {
		ret = errbuf_set(err, PE_NOMEM, "sha256 failed");
		goto out;
	}
	for (unsigned i = 0; i < dlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", dg[i]);
out:
	EVP_MD_CTX_free(md);
	return ret;
}

int escalate_pcap_export(const char *full, const char *sha256_hex,
			 const char *out_path, struct errbuf *err)
{
	bool to_stdout = strcmp(out_path, "-") == 0;
	char hex[65] = "";
	struct stat sb;
	int fd, out_fd = -1, ret;

	if (!sha256_hex || strlen(sha256_hex) != 64)
		return errbuf_set(err, PE_INVAL, "%s: its row records no "
				  "sha256 to check it against", full);
	fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(err, errno == ENOENT ? PE_NOTFOUND : PE_IO,
				  "%s: %s", full, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		ret = errbuf_set(err, PE_IO, "%s: not a regular file", full);
		goto out;
	}
	ret = hash_fd(fd, -1, hex, err);
	if (ret < 0)
		goto out;
	if (strcmp(hex, sha256_hex) != 0) {
		ret = errbuf_set(err, PE_INVAL, "%s: sha256 %s, but its row "
				 "says %s: the file changed since it was "
				 "written; nothing exported", full, hex,
				 sha256_hex);
		goto out;
	}
	if (to_stdout) {
		out_fd = STDOUT_FILENO;
	} else {
		out_fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL |
			      O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out_fd < 0) {
			ret = errbuf_set(err, PE_IO, "%s: %s", out_path,
					 strerror(errno));
			goto out;
		}
		/* The umask may only take bits away; make it exactly 0600. */
		if (fchmod(out_fd, 0600) < 0) {
			ret = errbuf_set(err, PE_IO, "%s: chmod: %s",
					 out_path, strerror(errno));
			goto out_unlink;
		}
	}
	ret = hash_fd(fd, out_fd, hex, err);
	if (ret == 0 && strcmp(hex, sha256_hex) != 0)
		ret = errbuf_set(err, PE_INVAL, "%s: changed while being "
				 "copied", full);
	if (ret == 0 && !to_stdout && fsync(out_fd) < 0)
		ret = errbuf_set(err, PE_IO, "%s: %s", out_path,
				 strerror(errno));
	if (!to_stdout) {
		if (close(out_fd) < 0 && ret == 0)
			ret = errbuf_set(err, PE_IO, "%s: %s", out_path,
					 strerror(errno));
		out_fd = -1;
	}
out_unlink:
	if (ret < 0 && !to_stdout)
		(void)unlink(out_path);
out:
	if (out_fd >= 0 && !to_stdout)
		close(out_fd);
	close(fd);
	return ret;
}
