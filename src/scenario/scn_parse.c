/*
 * scn_parse.c: logical lines of words -> a validated struct scn_plan.
 *
 * One pass over the file: each line is a directive (a table below); an
 * error in a line is reported and the parser goes on with the next one, so
 * a single `probe check` shows every mistake it can.  Checks that need the
 * whole file (step names used by thresholds, variables used before their
 * extract, `defaults` merged into steps) run at the end.
 *
 * Every message here has a case in tests/data/scn/bad/ with its exact text.
 */
#include "scenario/internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "model/finding.h"
#include "model/metric.h"
#include "util/units.h"
#include "util/xalloc.h"

enum { K_DNS = 1 << SCN_STEP_DNS, K_TCP = 1 << SCN_STEP_TCP,
       K_TLS = 1 << SCN_STEP_TLS, K_HTTP = 1 << SCN_STEP_HTTP,
       K_DEFAULTS = 1 << 4 };

#define MAX_STEPS 256
#define MAX_THRESHOLDS 64
#define MAX_HEADERS 64
#define MAX_EXPECTS 32
#define MAX_EXTRACTS 16
#define MAX_PINS 8
#define MAX_TIMEOUT_MS (3600u * 1000)

/* A variable used before its extract would run: checked at the end. */
struct var_use {
	char *name;
	unsigned line, col;
};

struct extract_def {
	char *name;
	unsigned line;
};

struct pctx {
	struct scn_diags *d;
	struct scn_plan *plan;
	int nomem;
	unsigned last_line;
	/* first line of each once-only directive */
	unsigned seen_scenario, seen_capture, seen_timeout, seen_keep,
		seen_keylog, seen_defaults;
	struct extract_def *ex; /* extracts of the steps before this one */
	size_t n_ex, cap_ex;
	struct extract_def *ex_all; /* every extract in the file */
	size_t n_ex_all, cap_ex_all;
	struct var_use *env_uses; /* every env use, for the final check */
	size_t n_env_uses, cap_env_uses;
	unsigned *thr_step_col; /* column of each threshold's step=NAME */
	size_t cap_thr_col;
};

static void perr(struct pctx *c, unsigned line, unsigned col, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

static void perr(struct pctx *c, unsigned line, unsigned col, const char *fmt,
		 ...)
{
	char buf[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (scn__diag(c->d, false, line, col, "%s", buf) < 0)
		c->nomem = 1;
}

static void *oom(struct pctx *c)
{
	c->nomem = 1;
	return NULL;
}

/* ---- words ---------------------------------------------------------------- */

/* A word made only of unquoted text: a keyword can only be that. */
static bool word_is_bare(const struct scn_word *w)
{
	return w->n == 1 && w->p[0].kind == SCN_PIECE_BARE;
}

static bool word_is(const struct scn_word *w, const char *kw)
{
	return word_is_bare(w) && strcmp(w->p[0].text, kw) == 0;
}

/* Text of a word for messages (variables shown as ${NAME}).  Caller frees. */
static char *word_show(const struct scn_word *w)
{
	size_t len = 1;
	for (size_t i = 0; i < w->n; i++)
		len += w->p[i].len + 3;
	char *s = malloc(len);
	if (!s)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < w->n; i++)
		o += (size_t)snprintf(s + o, len - o,
				      w->p[i].kind == SCN_PIECE_VAR ? "${%s}"
								    : "%s",
				      w->p[i].text);
	return s;
}

/* word_show() cut to 40 bytes for a message; NULL (reported) on nomem. */
static char *word_short(struct pctx *c, const struct scn_word *w)
{
	char *s = word_show(w);
	if (!s)
		return oom(c);
	if (strlen(s) > 40)
		memcpy(s + 37, "...", 4);
	return s;
}

/* Report "unexpected 'WORD'" (shortened) at w. */
static void err_unexpected(struct pctx *c, const struct scn_word *w,
			   const char *after)
{
	char *s = word_short(c, w);
	if (!s)
		return;
	perr(c, w->line, w->col, "unexpected '%s'%s%s", s, after ? " " : "",
	     after ? after : "");
	free(s);
}

enum op { OP_NONE, OP_EQ, OP_CONTAINS, OP_MATCH, OP_NOMATCH };

/*
 * KEY OP VALUE, split at the first '=' or '~' of the word's leading bare
 * text ("*=" and "!~" are two-character operators).  The value is a new
 * word (owned by the caller) of the rest.
 */
struct kv {
	char *key;
	enum op op;
	unsigned line, col; /* of the key */
	struct scn_word val;
	unsigned vcol;      /* where the value starts */
};

static void kv_release(struct kv *kv)
{
	free(kv->key);
	for (size_t i = 0; i < kv->val.n; i++)
		free(kv->val.p[i].text);
	free(kv->val.p);
	memset(kv, 0, sizeof(*kv));
}

/* Returns 1 when w is KEY OP VALUE, 0 when it has no operator, <0 nomem. */
static int word_split(const struct scn_word *w, struct kv *kv)
{
	memset(kv, 0, sizeof(*kv));
	if (w->n == 0 || w->p[0].kind != SCN_PIECE_BARE)
		return 0;
	const char *t = w->p[0].text;
	size_t i = 0, klen, vstart;
	while (t[i] && t[i] != '=' && t[i] != '~')
		i++;
	if (!t[i])
		return 0;
	if (t[i] == '=') {
		kv->op = OP_EQ;
		klen = i;
		if (i > 0 && t[i - 1] == '*') {
			kv->op = OP_CONTAINS;
			klen = i - 1;
		}
	} else {
		kv->op = OP_MATCH;
		klen = i;
		if (i > 0 && t[i - 1] == '!') {
			kv->op = OP_NOMATCH;
			klen = i - 1;
		}
	}
	vstart = i + 1;
	kv->key = xstrndup(t, klen);
	if (!kv->key)
		return PE_NOMEM;
	kv->line = w->line;
	kv->col = w->col;
	kv->vcol = w->p[0].col + (unsigned)vstart;
	size_t np = w->n + 1;
	kv->val.p = calloc(np, sizeof(*kv->val.p));
	if (!kv->val.p)
		goto nomem;
	kv->val.cap = np;
	kv->val.line = w->line;
	kv->val.col = kv->vcol;
	if (t[vstart]) {
		char *rest = xstrdup(t + vstart);
		if (!rest)
			goto nomem;
		kv->val.p[kv->val.n++] = (struct scn_piece){
			SCN_PIECE_BARE, rest, strlen(rest), w->line,
			kv->vcol };
	} else if (w->n > 1) {
		/* a quoted value starts at its opening quote */
		kv->vcol = w->p[1].col - (w->p[1].kind == SCN_PIECE_QUOTED);
		kv->val.col = kv->vcol;
	}
	for (size_t j = 1; j < w->n; j++) {
		char *s = xstrndup(w->p[j].text, w->p[j].len);
		if (!s)
			goto nomem;
		kv->val.p[kv->val.n] = w->p[j];
		kv->val.p[kv->val.n++].text = s;
	}
	return 1;
nomem:
	kv_release(kv);
	return PE_NOMEM;
}

/* The value as plain text; variables refused (reported).  Caller frees. */
static char *value_text(struct pctx *c, const struct scn_word *v,
			const char *what, bool *bad)
{
	size_t len = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (v->p[i].kind == SCN_PIECE_VAR) {
			perr(c, v->p[i].line, v->p[i].col,
			     "variables are not allowed in %s", what);
			*bad = true;
			return NULL;
		}
		len += v->p[i].len;
	}
	char *s = malloc(len + 1);
	if (!s) {
		*bad = true;
		return oom(c);
	}
	size_t o = 0;
	for (size_t i = 0; i < v->n; i++) {
		memcpy(s + o, v->p[i].text, v->p[i].len);
		o += v->p[i].len;
	}
	s[o] = '\0';
	if (memchr(s, '\0', o) != NULL) {
		free(s);
		*bad = true;
		return NULL;
	}
	return s;
}

static bool extract_known(const struct pctx *c, const char *name)
{
	for (size_t i = 0; i < c->n_ex; i++)
		if (strcmp(c->ex[i].name, name) == 0)
			return true;
	return false;
}

static void note_env(struct pctx *c, const struct scn_piece *p)
{
	struct scn_plan *pl = c->plan;
	if (xgrow(&c->env_uses, &c->cap_env_uses, c->n_env_uses + 1,
		  sizeof(*c->env_uses)) < 0) {
		oom(c);
		return;
	}
	char *n = xstrdup(p->text);
	if (!n) {
		oom(c);
		return;
	}
	c->env_uses[c->n_env_uses++] = (struct var_use){ n, p->line, p->col };
	for (size_t i = 0; i < pl->n_env_vars; i++)
		if (strcmp(pl->env_vars[i].name, p->text) == 0)
			return;
	size_t cap = pl->n_env_vars;
	if (xgrow(&pl->env_vars, &cap, pl->n_env_vars + 1,
		  sizeof(*pl->env_vars)) < 0) {
		oom(c);
		return;
	}
	char *n2 = xstrdup(p->text);
	if (!n2) {
		oom(c);
		return;
	}
	pl->env_vars[pl->n_env_vars++] =
		(struct scn_var_ref){ n2, p->line, p->col };
}

/* The value as a template; each ${NAME} is an extract or the environment. */
static int value_tmpl(struct pctx *c, const struct scn_word *v,
		      struct scn_tmpl *t)
{
	memset(t, 0, sizeof(*t));
	if (v->n == 0)
		return 0;
	t->segs = calloc(v->n, sizeof(*t->segs));
	if (!t->segs)
		return PE_NOMEM;
	for (size_t i = 0; i < v->n; i++) {
		const struct scn_piece *p = &v->p[i];
		enum scn_seg_kind k = SCN_SEG_LIT;
		if (p->kind == SCN_PIECE_VAR) {
			k = extract_known(c, p->text) ? SCN_SEG_EXTRACT
						      : SCN_SEG_ENV;
			if (k == SCN_SEG_ENV)
				note_env(c, p);
		}
		/* adjacent literals merge into one segment */
		if (k == SCN_SEG_LIT && t->n > 0 &&
		    t->segs[t->n - 1].kind == SCN_SEG_LIT) {
			struct scn_seg *s = &t->segs[t->n - 1];
			char *m = xasprintf("%s%s", s->text, p->text);
			if (!m)
				return PE_NOMEM;
			free(s->text);
			s->text = m;
			continue;
		}
		char *txt = xstrndup(p->text, p->len);
		if (!txt)
			return PE_NOMEM;
		t->segs[t->n++] = (struct scn_seg){ k, txt };
	}
	return 0;
}

static void tmpl_release(struct scn_tmpl *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->segs[i].text);
	free(t->segs);
	memset(t, 0, sizeof(*t));
}

/* ---- value parsers ---------------------------------------------------------- */

/* A timeout value in whole ms, 1 ms .. 1 h; reports its own errors. */
static int timeout_value(struct pctx *c, const char *s, unsigned line,
			 unsigned col, uint32_t *out)
{
	double ms;
	int r = units_duration_ms(s, false, &ms);
	if (r == -2) {
		perr(c, line, col, "missing unit in '%s': use ms, s or m", s);
		return -1;
	}
	if (r < 0) {
		perr(c, line, col,
		     "invalid duration '%s': expected a number and a unit "
		     "(500ms, 10s, 2m)",
		     s);
		return -1;
	}
	if (ms < 1 || ms > MAX_TIMEOUT_MS || ms != floor(ms)) {
		perr(c, line, col,
		     "timeout %s out of range: 1ms to 60m in whole ms", s);
		return -1;
	}
	*out = (uint32_t)ms;
	return 0;
}

struct name_val {
	const char *name;
	int val;
};

/* Look s up in a NULL-terminated table; -1 when absent. */
static int lookup_nv(const struct name_val *t, const char *s, int *out)
{
	for (; t->name; t++)
		if (strcmp(t->name, s) == 0) {
			*out = t->val;
			return 0;
		}
	return -1;
}

/* "a, b or c" of a table, for messages. */
static void nv_list(const struct name_val *t, char *buf, size_t len)
{
	size_t n = 0, o = 0;
	while (t[n].name)
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
				      i == 0 ? ""
				      : i + 1 == n ? " or "
						   : ", ",
				      t[i].name);
}

static int enum_value(struct pctx *c, const struct name_val *t,
		      const char *what, const char *s, unsigned line,
		      unsigned col, int *out)
{
	if (lookup_nv(t, s, out) == 0)
		return 0;
	char list[200];
	nv_list(t, list, sizeof(list));
	perr(c, line, col, "invalid value '%s' for %s: expected %s", s, what,
	     list);
	return -1;
}

static const struct name_val on_off[] = { { "on", 1 }, { "off", 0 }, { 0 } };
static const struct name_val capture_vals[] = {
	{ "on", SCN_CAPTURE_ON }, { "off", SCN_CAPTURE_OFF },
	{ "required", SCN_CAPTURE_REQUIRED }, { 0 } };
static const struct name_val keep_vals[] = {
	{ "on_breach", SCN_KEEP_ON_BREACH }, { "always", SCN_KEEP_ALWAYS },
	{ "never", SCN_KEEP_NEVER }, { 0 } };
static const struct name_val ip_vals[] = { { "4", SCN_IP_4 }, { "6", SCN_IP_6 },
	{ "both", SCN_IP_BOTH }, { "any", SCN_IP_ANY }, { 0 } };
static const struct name_val http_vals[] = { { "1.1", SCN_HTTP_1_1 },
	{ "2", SCN_HTTP_2 }, { 0 } };
static const struct name_val tls_vals[] = { { "1.0", 0x0301 },
	{ "1.1", 0x0302 }, { "1.2", 0x0303 }, { "1.3", 0x0304 }, { 0 } };
static const struct name_val dns_tcp_vals[] = {
	{ "auto", SCN_DNS_TCP_AUTO }, { "always", SCN_DNS_TCP_ALWAYS },
	{ "never", SCN_DNS_TCP_NEVER }, { 0 } };
static const struct name_val qtype_vals[] = {
	{ "A", SCN_QT_A }, { "AAAA", SCN_QT_AAAA }, { "CNAME", SCN_QT_CNAME },
	{ "TXT", SCN_QT_TXT }, { "MX", SCN_QT_MX }, { "NS", SCN_QT_NS },
	{ "SOA", SCN_QT_SOA }, { "PTR", SCN_QT_PTR }, { "SRV", SCN_QT_SRV },
	{ "CAA", SCN_QT_CAA }, { 0 } };
static const struct name_val rcode_vals[] = {
	{ "NOERROR", 0 }, { "FORMERR", 1 }, { "SERVFAIL", 2 },
	{ "NXDOMAIN", 3 }, { "NOTIMP", 4 }, { "REFUSED", 5 }, { 0 } };

static const char *scn__nv_name(const struct name_val *t, int v)
{
	for (; t->name; t++)
		if (t->val == v)
			return t->name;
	return NULL;
}

const char *scn_capture_name(enum scn_capture v)
{
	return scn__nv_name(capture_vals, (int)v);
}
const char *scn_keep_pcap_name(enum scn_keep_pcap v)
{
	return scn__nv_name(keep_vals, (int)v);
}
const char *scn_ip_name(enum scn_ip v)
{
	return scn__nv_name(ip_vals, (int)v);
}
const char *scn_qtype_name(uint16_t v)
{
	return scn__nv_name(qtype_vals, v);
}
const char *scn_tls_version_name(uint16_t v)
{
	return v == SCN_TLS_ANY ? "any" : scn__nv_name(tls_vals, v);
}
const char *scn_rcode_name(int v)
{
	return scn__nv_name(rcode_vals, v);
}
const char *scn__http_name(enum scn_http_ver v)
{
	return v == SCN_HTTP_ANY ? "any" : scn__nv_name(http_vals, (int)v);
}
const char *scn__dns_tcp_name(enum scn_dns_tcp v)
{
	return scn__nv_name(dns_tcp_vals, (int)v);
}

/* Hostname or IP literal (a trailing dot is allowed). */
static bool valid_host(const char *h)
{
	unsigned char buf[16];
	if (inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1)
		return true;
	size_t len = strlen(h);
	if (len == 0 || len > 254 || (len == 254 && h[253] != '.'))
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = h[i];
		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-' && ch != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/*
 * IP[:PORT] or [IPv6]:PORT or a bare IPv6 address, for `resolver`.
 * Returns 0, or -1 with the error reported.
 */
static int parse_resolver(struct pctx *c, const char *s, unsigned line,
			  unsigned col, struct scn_resolver *r)
{
	char host[64];
	const char *port = NULL;
	memset(r, 0, sizeof(*r));
	r->port = 53;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || (size_t)(e - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		if (e[1] == ':')
			port = e + 2;
		else if (e[1])
			goto bad;
	} else {
		const char *colon = strchr(s, ':');
		size_t hl = strlen(s);
		if (colon && !strchr(colon + 1, ':')) {
			hl = (size_t)(colon - s);
			port = colon + 1;
		}
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	unsigned char buf[16];
	if (inet_pton(AF_INET, host, buf) == 1 && s[0] != '[')
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, host, buf) == 1 && s[0] == '[')
		r->family = AF_INET6;
	else if (inet_pton(AF_INET6, s, buf) == 1 && !port) {
		r->family = AF_INET6;
	} else if (valid_host(host) && isalpha((unsigned char)host[0])) {
		perr(c, line, col,
		     "resolver must be an IP address, not a name: '%s'", s);
		return -1;
	} else {
		goto bad;
	}
	/* a valid address is at most 45 characters */
	snprintf(r->addr, sizeof(r->addr), "%.45s", host);
	if (port) {
		unsigned long p;
		if (units_uint(port, 1, 65535, &p) < 0) {
			perr(c, line, col + (unsigned)(port - s),
			     "invalid port '%s': expected 1 to 65535", port);
			return -1;
		}
		r->port = (uint16_t)p;
	}
	return 0;
bad:
	perr(c, line, col,
	     "invalid resolver address '%s': expected IP, IP:PORT or "
	     "[IPv6]:PORT",
	     s);
	return -1;
}

/* Validate a regex (POSIX ERE); needs_group for extract patterns. */
static int check_regex(struct pctx *c, const char *re, unsigned line,
		       unsigned col, bool needs_group)
{
	regex_t rx;
	if (scn__regex_cost(re) > SCN_REGEX_MAX_COST) {
		perr(c, line, col,
		     "regex too large once compiled (repetitions multiply: "
		     "at most %lu nodes)",
		     SCN_REGEX_MAX_COST);
		return -1;
	}
	int r = regcomp(&rx, re, REG_EXTENDED);
	if (r != 0) {
		char msg[128];
		regerror(r, &rx, msg, sizeof(msg));
		perr(c, line, col, "invalid regex: %s", msg);
		return -1;
	}
	size_t groups = rx.re_nsub;
	regfree(&rx);
	if (needs_group && groups < 1) {
		perr(c, line, col,
		     "extract pattern needs a group: the value is what "
		     "(...) matches");
		return -1;
	}
	return 0;
}

/* ---- options (key=value words of steps and `defaults`) ------------------- */

struct opt_def;
typedef int (*opt_fn)(struct pctx *c, const struct opt_def *od,
		      struct kv *kv, struct scn_step *st, struct scn_opts *o);

struct opt_def {
	const char *name;
	uint32_t bit;
	unsigned where;   /* K_* where the option is valid */
	bool repeatable;
	bool vars;        /* ${VAR} allowed */
	opt_fn fn;
	const struct name_val *vals; /* for opt_enum */
};

static char *kv_text(struct pctx *c, struct kv *kv, bool *bad)
{
	return value_text(c, &kv->val, kv->key, bad);
}

static int opt_timeout(struct pctx *c, const struct opt_def *od,
		       struct kv *kv, struct scn_step *st, struct scn_opts *o)
{
	(void)od;
	(void)st;
	bool bad = false;
	char *s = kv_text(c, kv, &bad);
	if (!s)
		return -1;
	int r = timeout_value(c, s, kv->line, kv->vcol, &o->timeout_ms);
	free(s);
	return r;
}

static int opt_enum(struct pctx *c, const struct opt_def *od, struct kv *kv,
		    struct scn_step *st, struct scn_opts *o)
{
	bool bad = false;
	char *s = kv_text(c, kv, &bad);
	if (!s)
		return -1;
	int v = 0;
	int r = enum_value(c, od->vals, od->name, s, kv->line, kv->vcol, &v);
	free(s);
	if (r < 0)
		return r;
	switch (od->bit) {
	case SCN_OPT_IP:
		if (v == SCN_IP_BOTH && !st) {
			perr(c, kv->line, kv->vcol,
			     "ip=both cannot be a default: give it on tcp "
			     "steps");
			return -1;
		}
		o->ip = (enum scn_ip)v;
		break;
	case SCN_OPT_HTTP:
		o->http = (enum scn_http_ver)v;
		break;
	case SCN_OPT_TLS_MIN:
		o->tls_min = (uint16_t)v;
		break;
	case SCN_OPT_TLS_MAX:
		o->tls_max = (uint16_t)v;
		break;
	case SCN_OPT_DNS_TCP:
		o->dns_tcp = (enum scn_dns_tcp)v;
		break;
	default:
		return -1;
	}
	return 0;
}

static int opt_uint(struct pctx *c, const struct opt_def *od, struct kv *kv,
		    struct scn_step *st, struct scn_opts *o)
{
	(void)st;
	bool bad = false;
	char *s = kv_text(c, kv, &bad);
	if (!s)
		return -1;
	unsigned long lo = 0, hi, v;
	switch (od->bit) {
	case SCN_OPT_MIN_DAYS:
		hi = 3650;
		break;
	case SCN_OPT_FOLLOW:
		hi = 20;
		break;
	default: /* SCN_OPT_RETRIES */
		hi = 10;
		break;
	}
	int r = units_uint(s, lo, hi, &v);
	if (r < 0)
		perr(c, kv->line, kv->vcol,
		     "invalid value '%s' for %s: expected %lu to %lu", s,
		     od->name, lo, hi);
	free(s);
	if (r < 0)
		return r;
	if (od->bit == SCN_OPT_MIN_DAYS)
		o->min_days_valid = (int)v;
	else if (od->bit == SCN_OPT_FOLLOW)
		o->follow = (unsigned)v;
	else
		o->retries = (unsigned)v;
	return 0;
}

static int opt_tmpl(struct pctx *c, const struct opt_def *od, struct kv *kv,
		    struct scn_step *st, struct scn_opts *o)
{
	struct scn_tmpl t;
	if (kv->val.n == 0 || (kv->val.n == 1 && kv->val.p[0].len == 0 &&
			       od->bit != SCN_OPT_BODY)) {
		perr(c, kv->line, kv->vcol, "missing value for %s", od->name);
		return -1;
	}
	if (value_tmpl(c, &kv->val, &t) < 0) {
		oom(c);
		return -1;
	}
	if (od->bit == SCN_OPT_HEADER) {
		/* "Name: value", the name checked when it is literal */
		const char *f = t.n > 0 && t.segs[0].kind == SCN_SEG_LIT
					? t.segs[0].text
					: NULL;
		const char *colon = f ? strchr(f, ':') : NULL;
		size_t nl = colon ? (size_t)(colon - f) : f ? strlen(f) : 0;
		/* a name that a variable continues is checked at run time */
		bool ok = !f || colon || t.n > 1;
		if (colon && nl == 0)
			ok = false;
		for (size_t i = 0; ok && f && i < nl; i++)
			if (!isgraph((unsigned char)f[i]))
				ok = false;
		if (!ok) {
			perr(c, kv->line, kv->vcol,
			     "invalid header: expected 'Name: value'");
			tmpl_release(&t);
			return -1;
		}
		if (st->n_headers >= MAX_HEADERS) {
			perr(c, kv->line, kv->col,
			     "too many headers (at most %d)", MAX_HEADERS);
			tmpl_release(&t);
			return -1;
		}
		size_t cap = st->n_headers;
		if (xgrow(&st->headers, &cap, st->n_headers + 1,
			  sizeof(*st->headers)) < 0) {
			tmpl_release(&t);
			oom(c);
			return -1;
		}
		st->headers[st->n_headers++] = t;
		return 0;
	}
	if (od->bit == SCN_OPT_BODY) {
		st->body = t;
		st->has_body = true;
		return 0;
	}
	if (od->bit == SCN_OPT_PROXY) {
		const char *f = t.n > 0 && t.segs[0].kind == SCN_SEG_LIT
					? t.segs[0].text
					: "";
		static const char *const schemes[] = {
			"http://", "https://", "socks4://", "socks4a://",
			"socks5://", "socks5h://" };
		/* one that starts with a variable is checked at run time */
		bool ok = t.n > 0 && t.segs[0].kind != SCN_SEG_LIT;
		for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes); i++)
			if (strncmp(f, schemes[i], strlen(schemes[i])) == 0)
				ok = true;
		if (!ok) {
			perr(c, kv->line, kv->vcol,
			     "invalid proxy: expected a URL starting with "
			     "http://, https://, socks4://, socks4a://, "
			     "socks5:// or socks5h://");
			tmpl_release(&t);
			return -1;
		}
		o->proxy = t;
		return 0;
	}
	/* SCN_OPT_SNI */
	if (scn_tmpl_is_literal(&t) && t.n == 1 &&
	    !valid_host(t.segs[0].text)) {
		perr(c, kv->line, kv->vcol, "invalid host name '%s'",
		     t.segs[0].text);
		tmpl_release(&t);
		return -1;
	}
	o->sni = t;
	return 0;
}

/* sha256//BASE64: exactly 32 bytes once decoded (44 chars, one '='). */
static bool pin_ok(const char *p)
{
	unsigned char out[48];
	if (strncmp(p, "sha256//", 8) != 0)
		return false;
	const char *b = p + 8;
	if (strlen(b) != 44 || b[43] != '=' || b[42] == '=')
		return false;
	return EVP_DecodeBlock(out, (const unsigned char *)b, 44) == 33;
}

static int opt_string(struct pctx *c, const struct opt_def *od,
		      struct kv *kv, struct scn_step *st, struct scn_opts *o)
{
	bool bad = false;
	char *s = kv_text(c, kv, &bad);
	if (!s)
		return -1;
	if (!*s) {
		perr(c, kv->line, kv->vcol, "missing value for %s", od->name);
		free(s);
		return -1;
	}
	switch (od->bit) {
	case SCN_OPT_NAME: {
		bool ok = strlen(s) <= 64;
		for (const char *p = s; ok && *p; p++)
			ok = isalnum((unsigned char)*p) || *p == '_' ||
			     *p == '-' || *p == '.';
		if (!ok) {
			perr(c, kv->line, kv->vcol,
			     "invalid step name '%s': use up to 64 letters, "
			     "digits, '.', '_' and '-'",
			     s);
			free(s);
			return -1;
		}
		for (size_t i = 0; i + 1 < c->plan->n_steps; i++)
			if (c->plan->steps[i].name &&
			    strcmp(c->plan->steps[i].name, s) == 0) {
				perr(c, kv->line, kv->vcol,
				     "step name '%s' is already used at line "
				     "%u",
				     s, c->plan->steps[i].line);
				free(s);
				return -1;
			}
		st->name = s;
		return 0;
	}
	case SCN_OPT_ALPN: {
		/* comma list of 1..255-byte protocol ids */
		size_t len = 0;
		bool ok = true;
		for (const char *p = s;; p++) {
			if (*p == ',' || !*p) {
				if (len == 0 || len > 255)
					ok = false;
				len = 0;
				if (!*p)
					break;
			} else {
				len++;
			}
		}
		if (!ok) {
			perr(c, kv->line, kv->vcol,
			     "invalid alpn '%s': expected a comma-separated "
			     "list such as h2,http/1.1",
			     s);
			free(s);
			return -1;
		}
		o->alpn = s;
		return 0;
	}
	case SCN_OPT_CA:
		free(o->ca);
		o->ca = s;
		return 0;
	case SCN_OPT_CERT:
		o->cert = s;
		return 0;
	case SCN_OPT_KEY:
		o->key = s;
		return 0;
	case SCN_OPT_PIN: {
		/* sha256//BASE64 of 32 bytes, several split by ';' */
		int ret = 0;
		for (char *p = s, *next; p; p = next) {
			next = strchr(p, ';');
			if (next)
				*next++ = '\0';
			if (!pin_ok(p)) {
				perr(c, kv->line, kv->vcol,
				     "invalid pin '%s': expected sha256// "
				     "and the base64 of 32 bytes",
				     p);
				ret = -1;
				break;
			}
			if (o->n_pins >= MAX_PINS) {
				perr(c, kv->line, kv->vcol,
				     "too many pins (at most %d)", MAX_PINS);
				ret = -1;
				break;
			}
			size_t cap = o->n_pins;
			char *dup = xstrdup(p);
			if (!dup || xgrow(&o->pins, &cap, o->n_pins + 1,
					  sizeof(*o->pins)) < 0) {
				free(dup);
				oom(c);
				ret = -1;
				break;
			}
			o->pins[o->n_pins++] = dup;
		}
		free(s);
		return ret;
	}
	case SCN_OPT_MAX_BODY: {
		uint64_t v;
		int r = units_size(s, &v);
		if (r < 0 || v > 1024ull * 1024 * 1024)
			perr(c, kv->line, kv->vcol,
			     "invalid size '%s' for max_body: expected up to "
			     "1GiB (e.g. 512KiB, 10MB)",
			     s);
		else
			o->max_body = v;
		free(s);
		return r < 0 || v > 1024ull * 1024 * 1024 ? -1 : 0;
	}
	case SCN_OPT_RESOLVER: {
		int r = parse_resolver(c, s, kv->line, kv->vcol, &o->resolver);
		free(s);
		return r;
	}
	default:
		free(s);
		return -1;
	}
}

static const struct opt_def opt_defs[] = {
	{ "timeout", SCN_OPT_TIMEOUT, K_DNS | K_TCP | K_TLS | K_HTTP | K_DEFAULTS,
	  false, false, opt_timeout, NULL },
	{ "name", SCN_OPT_NAME, K_DNS | K_TCP | K_TLS | K_HTTP, false, false,
	  opt_string, NULL },
	{ "ip", SCN_OPT_IP, K_TCP | K_TLS | K_HTTP | K_DEFAULTS, false, false,
	  opt_enum, ip_vals },
	/*
	 * Not for http: libcurl sends and verifies the URL's host name; an
	 * http step that claimed another SNI would record something else.
	 */
	{ "sni", SCN_OPT_SNI, K_TLS, false, true, opt_tmpl, NULL },
	{ "alpn", SCN_OPT_ALPN, K_TLS, false, false, opt_string, NULL },
	{ "tls_min", SCN_OPT_TLS_MIN, K_TLS | K_HTTP | K_DEFAULTS, false, false,
	  opt_enum, tls_vals },
	{ "tls_max", SCN_OPT_TLS_MAX, K_TLS | K_HTTP | K_DEFAULTS, false, false,
	  opt_enum, tls_vals },
	{ "ca", SCN_OPT_CA, K_TLS | K_HTTP | K_DEFAULTS, false, false,
	  opt_string, NULL },
	{ "cert", SCN_OPT_CERT, K_TLS | K_HTTP | K_DEFAULTS, false, false,
	  opt_string, NULL },
	{ "key", SCN_OPT_KEY, K_TLS | K_HTTP | K_DEFAULTS, false, false,
	  opt_string, NULL },
	{ "pin", SCN_OPT_PIN, K_TLS | K_HTTP | K_DEFAULTS, true, false,
	  opt_string, NULL },
	{ "min_days_valid", SCN_OPT_MIN_DAYS, K_TLS | K_HTTP | K_DEFAULTS,
	  false, false, opt_uint, NULL },
	{ "http", SCN_OPT_HTTP, K_HTTP | K_DEFAULTS, false, false, opt_enum,
	  http_vals },
	{ "proxy", SCN_OPT_PROXY, K_HTTP | K_DEFAULTS, false, true, opt_tmpl,
	  NULL },
	{ "header", SCN_OPT_HEADER, K_HTTP, true, true, opt_tmpl, NULL },
	{ "body", SCN_OPT_BODY, K_HTTP, false, true, opt_tmpl, NULL },
	{ "max_body", SCN_OPT_MAX_BODY, K_HTTP | K_DEFAULTS, false, false,
	  opt_string, NULL },
	{ "follow", SCN_OPT_FOLLOW, K_HTTP | K_DEFAULTS, false, false,
	  opt_uint, NULL },
	{ "resolver", SCN_OPT_RESOLVER, K_DNS, false, false, opt_string, NULL },
	{ "retries", SCN_OPT_RETRIES, K_DNS | K_DEFAULTS, false, false,
	  opt_uint, NULL },
	{ "tcp", SCN_OPT_DNS_TCP, K_DNS | K_DEFAULTS, false, false, opt_enum,
	  dns_tcp_vals },
};

static const char *where_name(unsigned where)
{
	if (where & K_DEFAULTS)
		return "defaults";
	for (int k = SCN_STEP_DNS; k <= SCN_STEP_HTTP; k++)
		if (where == (1u << k))
			return scn_step_kind_name((enum scn_step_kind)k);
	return "?";
}

/* Parse one option word into o (and st for step-only fields). */
static int parse_option(struct pctx *c, struct kv *kv, unsigned where,
			struct scn_step *st, struct scn_opts *o)
{
	const struct opt_def *od = NULL;
	for (size_t i = 0; i < sizeof(opt_defs) / sizeof(*opt_defs); i++)
		if (strcmp(opt_defs[i].name, kv->key) == 0)
			od = &opt_defs[i];
	if (!od) {
		perr(c, kv->line, kv->col, "unknown option '%s'", kv->key);
		return -1;
	}
	if (!(od->where & where)) {
		if (where & K_DEFAULTS)
			perr(c, kv->line, kv->col,
			     "option '%s' cannot be a default: give it on "
			     "the step",
			     od->name);
		else
			perr(c, kv->line, kv->col,
			     "option '%s' is not valid for %s %s step",
			     od->name, where == K_HTTP ? "an" : "a",
			     where_name(where));
		return -1;
	}
	if (kv->op != OP_EQ) {
		perr(c, kv->line, kv->col, "expected %s=VALUE", od->name);
		return -1;
	}
	if ((o->set & od->bit) && !od->repeatable) {
		perr(c, kv->line, kv->col, "duplicate option '%s'", od->name);
		return -1;
	}
	if (!od->vars)
		for (size_t i = 0; i < kv->val.n; i++)
			if (kv->val.p[i].kind == SCN_PIECE_VAR) {
				perr(c, kv->val.p[i].line, kv->val.p[i].col,
				     "variables are not allowed in %s",
				     od->name);
				return -1;
			}
	int r = od->fn(c, od, kv, st, o);
	if (r == 0)
		o->set |= od->bit;
	return r;
}

/* ---- scenario-level directives -------------------------------------------- */

static bool once(struct pctx *c, const struct scn_line *l, unsigned *seen,
		 const char *what)
{
	if (*seen) {
		perr(c, l->w[0].line, l->w[0].col, "duplicate '%s' (first at line %u)",
		     what, *seen);
		return false;
	}
	*seen = l->line;
	return true;
}

/* The single bare value of `KEYWORD VALUE`; reports a missing/extra one. */
static char *single_value(struct pctx *c, const struct scn_line *l,
			  const char *what)
{
	if (l->n < 2) {
		perr(c, l->w[0].line, l->w[0].col, "%s needs a value", what);
		return NULL;
	}
	if (l->n > 2) {
		err_unexpected(c, &l->w[2], NULL);
		return NULL;
	}
	bool bad = false;
	return value_text(c, &l->w[1], what, &bad);
}

static void dir_scenario(struct pctx *c, const struct scn_line *l)
{
	if (!once(c, l, &c->seen_scenario, "scenario"))
		return;
	char *s = single_value(c, l, "scenario");
	if (!s)
		return;
	bool ok = *s && strlen(s) <= 64 && isalnum((unsigned char)*s);
	for (const char *p = s; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
		     *p == '.';
	if (!ok) {
		perr(c, l->w[1].line, l->w[1].col,
		     "invalid scenario name '%s': use up to 64 letters, "
		     "digits, '.', '_' and '-', starting with a letter or "
		     "digit",
		     s);
		free(s);
		return;
	}
	free(c->plan->name);
	c->plan->name = s;
}

static void dir_resolver(struct pctx *c, const struct scn_line *l)
{
	if (l->n < 2) {
		perr(c, l->w[0].line, l->w[0].col, "resolver needs an address");
		return;
	}
	for (size_t i = 1; i < l->n; i++) {
		bool bad = false;
		char *s = value_text(c, &l->w[i], "resolver", &bad);
		if (!s)
			return;
		struct scn_resolver r;
		int ret = parse_resolver(c, s, l->w[i].line, l->w[i].col, &r);
		free(s);
		if (ret < 0)
			return;
		if (c->plan->n_resolvers >= 4) {
			perr(c, l->w[i].line, l->w[i].col,
			     "too many resolvers (at most 4)");
			return;
		}
		c->plan->resolvers[c->plan->n_resolvers++] = r;
	}
}

static void dir_enum(struct pctx *c, const struct scn_line *l, unsigned *seen,
		     const char *what, const struct name_val *vals, int *out)
{
	if (!once(c, l, seen, what))
		return;
	char *s = single_value(c, l, what);
	if (!s)
		return;
	(void)enum_value(c, vals, what, s, l->w[1].line, l->w[1].col, out);
	free(s);
}

static void dir_capture(struct pctx *c, const struct scn_line *l)
{
	int v = SCN_CAPTURE_ON;
	dir_enum(c, l, &c->seen_capture, "capture", capture_vals, &v);
	c->plan->capture = (enum scn_capture)v;
}

static void dir_keep_pcap(struct pctx *c, const struct scn_line *l)
{
	int v = SCN_KEEP_ON_BREACH;
	dir_enum(c, l, &c->seen_keep, "keep_pcap", keep_vals, &v);
	c->plan->keep_pcap = (enum scn_keep_pcap)v;
}

static void dir_keylog(struct pctx *c, const struct scn_line *l)
{
	int v = 0;
	dir_enum(c, l, &c->seen_keylog, "keylog", on_off, &v);
	c->plan->keylog = v != 0;
}

static void dir_timeout(struct pctx *c, const struct scn_line *l)
{
	if (!once(c, l, &c->seen_timeout, "timeout"))
		return;
	char *s = single_value(c, l, "timeout");
	if (!s)
		return;
	uint32_t ms;
	if (timeout_value(c, s, l->w[1].line, l->w[1].col, &ms) == 0)
		c->plan->timeout_ms = ms;
	free(s);
}

static void dir_defaults(struct pctx *c, const struct scn_line *l)
{
	if (!once(c, l, &c->seen_defaults, "defaults"))
		return;
	if (l->n < 2) {
		perr(c, l->w[0].line, l->w[0].col, "defaults needs NAME=VALUE "
					      "options");
		return;
	}
	for (size_t i = 1; i < l->n; i++) {
		struct kv kv;
		int r = word_split(&l->w[i], &kv);
		if (r < 0) {
			oom(c);
			return;
		}
		if (r == 0) {
			err_unexpected(c, &l->w[i], "(expected NAME=VALUE)");
			continue;
		}
		(void)parse_option(c, &kv, K_DEFAULTS, NULL,
				   &c->plan->defaults);
		kv_release(&kv);
	}
}

static const struct name_val cmp_vals[] = { { ">", SCN_CMP_GT },
	{ ">=", SCN_CMP_GE }, { "<", SCN_CMP_LT }, { "<=", SCN_CMP_LE },
	{ 0 } };

const char *scn_cmp_name(enum scn_cmp v)
{
	return scn__nv_name(cmp_vals, (int)v);
}

/*
 * threshold METRIC OP VALUE|Nx baseline|pNN [for N runs] [step=NAME]
 * threshold CODE [OP COUNT] [for N runs] [step=NAME]   (a finding code)
 */
static void dir_threshold(struct pctx *c, const struct scn_line *l)
{
	struct scn_plan *pl = c->plan;
	struct scn_threshold th = { .line = l->line, .for_runs = 1 };
	unsigned step_col = 0;
	bool seen_for = false;
	size_t i = 1;
	char *s = NULL;
	bool bad = false;

	int dummy;
	bool code_only = l->n >= 2 && word_is_bare(&l->w[1]) &&
			 finding_code_known(l->w[1].p[0].text) &&
			 (l->n == 2 || !word_is_bare(&l->w[2]) ||
			  lookup_nv(cmp_vals, l->w[2].p[0].text, &dummy) < 0);
	if (l->n < 4 && !code_only) {
		perr(c, l->w[0].line, l->w[0].col,
		     "threshold needs METRIC OP VALUE, e.g. "
		     "'threshold think_ms > 300', or a finding code");
		return;
	}
	if (pl->n_thresholds >= MAX_THRESHOLDS) {
		perr(c, l->w[0].line, l->w[0].col,
		     "too many thresholds (at most %d)", MAX_THRESHOLDS);
		return;
	}
	if (!(s = value_text(c, &l->w[1], "threshold", &bad)))
		return;
	int m = metric_by_name(s);
	th.is_finding = m < 0 && finding_code_known(s);
	if (m < 0 && !th.is_finding) {
		perr(c, l->w[1].line, l->w[1].col,
		     "unknown metric '%s' (see scenarios/README.md, "
		     "\"Metrics\" and \"Findings\")",
		     s);
		goto out;
	}
	th.metric = s;
	s = NULL;
	if (code_only) {
		/* `threshold CODE`: at least one such finding */
		th.cmp = SCN_CMP_GE;
		th.value = 1;
		i = 2;
		goto options;
	}
	static const struct metric_info count_info = {
		"finding", METRIC_STEP, METRIC_UNIT_COUNT, ""
	};
	const struct metric_info *mi = th.is_finding
					       ? &count_info
					       : metric_info((enum metric)m);
	if (!(s = value_text(c, &l->w[2], "threshold", &bad)))
		goto out;
	int cmp;
	if (lookup_nv(cmp_vals, s, &cmp) < 0) {
		perr(c, l->w[2].line, l->w[2].col,
		     "expected >, >=, < or <= after the metric, not '%s'", s);
		goto out;
	}
	th.cmp = (enum scn_cmp)cmp;
	free(s);
	if (!(s = value_text(c, &l->w[3], "threshold", &bad)))
		goto out;
	size_t sl = strlen(s);
	unsigned vcol = l->w[3].col;
	bool relative = (sl > 1 && s[sl - 1] == 'x' &&
			 isdigit((unsigned char)s[0])) ||
			(s[0] == 'p' && sl > 1 && isdigit((unsigned char)s[1]));
	if (relative && th.is_finding) {
		perr(c, l->w[3].line, vcol,
		     "a finding code takes a count, not a baseline: e.g. "
		     "'threshold %s > 0'",
		     th.metric);
		goto out;
	}
	if (s[0] == 'p' && sl > 1 && isdigit((unsigned char)s[1])) {
		/* pNN: this region's baseline percentile */
		unsigned long pct;
		if (units_uint(s + 1, 1, 99, &pct) < 0 ||
		    (pct != 50 && pct != 90 && pct != 95 && pct != 99)) {
			perr(c, l->w[3].line, vcol,
			     "invalid percentile '%s': expected p50, p90, p95 "
			     "or p99 (of this region's baseline)",
			     s);
			goto out;
		}
		th.of_baseline = true;
		th.pct = (unsigned)pct;
		th.value = 1;
		i = 4;
	} else if (sl > 1 && s[sl - 1] == 'x' &&
		   isdigit((unsigned char)s[0])) {
		/* NUMBERx baseline */
		double f;
		s[sl - 1] = '\0';
		if (units_decimal(s, &f) < 0 || f <= 0 || f > 1000) {
			perr(c, l->w[3].line, vcol,
			     "invalid factor '%sx': expected a number "
			     "above 0 and up to 1000, e.g. 2x",
			     s);
			goto out;
		}
		if (l->n < 5 || !word_is(&l->w[4], "baseline")) {
			if (l->n < 5)
				perr(c, l->w[3].line, vcol + (unsigned)sl,
				     "expected 'baseline' after '%sx'", s);
			else
				perr(c, l->w[4].line, l->w[4].col,
				     "expected 'baseline' after '%sx'", s);
			goto out;
		}
		th.value = f;
		th.of_baseline = true;
		i = 5;
	} else {
		double v;
		int r = -1;
		if (mi->unit == METRIC_UNIT_MS) {
			r = units_duration_ms(s, true, &v);
		} else {
			unsigned long u;
			r = units_uint(s, 0, 1000000000ul, &u);
			v = (double)u;
			if (mi->unit == METRIC_UNIT_KBPS && r < 0)
				r = units_decimal(s, &v);
		}
		if (r < 0) {
			perr(c, l->w[3].line, vcol,
			     "invalid value '%s' for %s: expected %s", s,
			     mi->name,
			     mi->unit == METRIC_UNIT_MS
				     ? "milliseconds or a duration (300, "
				       "1.5s) or NUMBERx baseline"
			     : mi->unit == METRIC_UNIT_COUNT
				     ? "a whole number or NUMBERx baseline"
				     : "a number or NUMBERx baseline");
			goto out;
		}
		th.value = v;
		i = 4;
	}
	free(s);
	s = NULL;
options:
	while (i < l->n) {
		const struct scn_word *w = &l->w[i];
		if (word_is(w, "for")) {
			unsigned long n;
			if (seen_for) {
				perr(c, w->line, w->col,
				     "duplicate 'for N runs'");
				goto out;
			}
			seen_for = true;
			bool ok = i + 2 < l->n && word_is_bare(&l->w[i + 1]) &&
				  (word_is(&l->w[i + 2], "runs") ||
				   word_is(&l->w[i + 2], "run"));
			if (!ok) {
				perr(c, w->line, w->col,
				     "expected 'for N runs'");
				goto out;
			}
			if (units_uint(l->w[i + 1].p[0].text, 1, 100, &n) < 0) {
				perr(c, l->w[i + 1].line, l->w[i + 1].col,
				     "invalid run count '%s': expected 1 to "
				     "100",
				     l->w[i + 1].p[0].text);
				goto out;
			}
			th.for_runs = (unsigned)n;
			i += 3;
			continue;
		}
		struct kv kv;
		int r = word_split(w, &kv);
		if (r < 0) {
			oom(c);
			goto out;
		}
		if (r == 1 && strcmp(kv.key, "step") == 0 && kv.op == OP_EQ) {
			if (th.step) {
				perr(c, w->line, w->col, "duplicate step=");
				kv_release(&kv);
				goto out;
			}
			th.step = value_text(c, &kv.val, "step", &bad);
			step_col = kv.vcol;
			kv_release(&kv);
			if (!th.step)
				goto out;
			if (!*th.step) {
				perr(c, w->line, step_col,
				     "missing value for step");
				goto out;
			}
			i++;
			continue;
		}
		kv_release(&kv);
		err_unexpected(c, w, "(expected 'for N runs' or step=NAME)");
		goto out;
	}
	size_t cap = pl->n_thresholds;
	if (xgrow(&pl->thresholds, &cap, pl->n_thresholds + 1,
		  sizeof(*pl->thresholds)) < 0 ||
	    xgrow(&c->thr_step_col, &c->cap_thr_col, pl->n_thresholds + 1,
		  sizeof(*c->thr_step_col)) < 0) {
		oom(c);
		goto out;
	}
	c->thr_step_col[pl->n_thresholds] = step_col;
	pl->thresholds[pl->n_thresholds++] = th;
	return;
out:
	free(s);
	free(th.metric);
	free(th.step);
}

/* ---- steps ------------------------------------------------------------------ */

/*
 * HOST:PORT (or [IPv6]:PORT; HOST alone when default_port).  The host may
 * hold variables; the port must be literal.
 */
static int parse_hostport(struct pctx *c, const struct scn_word *w,
			  uint16_t default_port, struct scn_step *st)
{
	const struct scn_piece *last = &w->p[w->n - 1];
	struct scn_word host = *w;
	struct scn_piece hp;
	char *colon = NULL;
	if (last->kind == SCN_PIECE_VAR) {
		for (size_t i = 0; i + 1 < w->n; i++)
			if (w->p[i].kind != SCN_PIECE_VAR &&
			    strchr(w->p[i].text, ':')) {
				perr(c, last->line, last->col,
				     "variables are not allowed in ports");
				return -1;
			}
	} else {
		colon = strrchr(last->text, ':');
		/* "[::1]" or "::1" alone has colons that are not a port */
		const char *rb = strrchr(last->text, ']');
		if (colon && rb && rb > colon)
			colon = NULL;
		if (colon && w->n == 1 && last->text[0] != '[' &&
		    strchr(last->text, ':') != colon) {
			perr(c, w->line, w->col,
			     "IPv6 address needs brackets: [ADDRESS]:PORT, "
			     "e.g. [::1]:443");
			return -1;
		}
	}
	if (colon) {
		unsigned long p;
		if (units_uint(colon + 1, 1, 65535, &p) < 0) {
			perr(c, w->line,
			     last->col + (unsigned)(colon + 1 - last->text),
			     "invalid port '%s': expected 1 to 65535",
			     colon + 1);
			return -1;
		}
		st->port = (uint16_t)p;
	} else if (default_port) {
		st->port = default_port;
	} else {
		perr(c, w->line, w->col, "expected HOST:PORT");
		return -1;
	}
	/* the host is the word minus ":PORT" */
	struct scn_piece pieces[64];
	if (w->n > 64) {
		perr(c, w->line, w->col, "expected HOST:PORT");
		return -1;
	}
	memcpy(pieces, w->p, w->n * sizeof(*pieces));
	host.p = pieces;
	char *htext = NULL;
	if (colon) {
		hp = *last;
		htext = xstrndup(last->text, (size_t)(colon - last->text));
		if (!htext) {
			oom(c);
			return -1;
		}
		hp.text = htext;
		hp.len = strlen(htext);
		pieces[w->n - 1] = hp;
		if (hp.len == 0)
			host.n = w->n - 1;
	}
	/* [v6] brackets off a literal host */
	int ret = 0;
	if (host.n == 1 && host.p[0].kind != SCN_PIECE_VAR) {
		const char *h = host.p[0].text;
		size_t hl = strlen(h);
		char *plain = (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
				      ? xstrndup(h + 1, hl - 2)
				      : xstrdup(h);
		if (!plain) {
			free(htext);
			oom(c);
			return -1;
		}
		unsigned char buf[16];
		bool ok = h[0] == '['
				  ? inet_pton(AF_INET6, plain, buf) == 1
				  : valid_host(plain);
		if (!ok) {
			perr(c, w->line, w->col, "invalid host name '%s'", h);
			ret = -1;
		} else {
			st->target.segs = calloc(1, sizeof(*st->target.segs));
			if (!st->target.segs) {
				oom(c);
				ret = -1;
			} else {
				st->target.segs[0] =
					(struct scn_seg){ SCN_SEG_LIT, plain };
				st->target.n = 1;
				plain = NULL;
			}
		}
		free(plain);
	} else if (host.n == 0) {
		perr(c, w->line, w->col, "expected HOST:PORT");
		ret = -1;
	} else if (value_tmpl(c, &host, &st->target) < 0) {
		oom(c);
		ret = -1;
	}
	free(htext);
	return ret;
}

static int parse_url(struct pctx *c, const struct scn_word *w,
		     struct scn_step *st)
{
	if (value_tmpl(c, w, &st->target) < 0) {
		oom(c);
		return -1;
	}
	/* a URL that starts with a variable is checked once expanded */
	if (st->target.n > 0 && st->target.segs[0].kind != SCN_SEG_LIT)
		return 0;
	const char *f = st->target.n > 0 ? st->target.segs[0].text : "";
	if (strncmp(f, "http://", 7) != 0 && strncmp(f, "https://", 8) != 0) {
		perr(c, w->line, w->col,
		     "URL must start with http:// or https://");
		return -1;
	}
	if (!scn_tmpl_is_literal(&st->target))
		return 0;
	CURLU *u = curl_url();
	if (!u) {
		oom(c);
		return -1;
	}
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, f, 0);
	char *host = NULL;
	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_free(host);
	curl_url_cleanup(u);
	if (rc != CURLUE_OK) {
		perr(c, w->line, w->col, "invalid URL '%s': %s", f,
		     curl_url_strerror(rc));
		return -1;
	}
	return 0;
}

/* status=200,201,3xx */
static int parse_status_list(struct pctx *c, const char *s, unsigned line,
			     unsigned col, struct scn_expect *e)
{
	const char *p = s;
	if (!*p) {
		perr(c, line, col,
		     "invalid status '': expected codes or classes such as "
		     "200,204 or 2xx (up to 8)");
		return -1;
	}
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		bool ok = n == 3 && p[0] >= '1' && p[0] <= '5' &&
			  ((isdigit((unsigned char)p[1]) &&
			    isdigit((unsigned char)p[2])) ||
			   (p[1] == 'x' && p[2] == 'x'));
		if (!ok || e->n_status >= 8) {
			perr(c, line, col,
			     "invalid status '%s': expected codes or classes "
			     "such as 200,204 or 2xx (up to 8)",
			     s);
			return -1;
		}
		if (p[1] == 'x') {
			e->status_lo[e->n_status] = (uint16_t)((p[0] - '0') * 100);
			e->status_hi[e->n_status] =
				(uint16_t)((p[0] - '0') * 100 + 99);
		} else {
			uint16_t v = (uint16_t)((p[0] - '0') * 100 +
						(p[1] - '0') * 10 + (p[2] - '0'));
			e->status_lo[e->n_status] = v;
			e->status_hi[e->n_status] = v;
		}
		e->n_status++;
		p += n;
		if (*p == ',') {
			p++;
			if (!*p) {
				perr(c, line, col,
				     "invalid status '%s': expected codes or "
				     "classes such as 200,204 or 2xx (up to 8)",
				     s);
				return -1;
			}
		}
	}
	return 0;
}

static void expect_release(struct scn_expect *e)
{
	free(e->header);
	tmpl_release(&e->value);
}

static bool valid_header_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

/*
 * The text of KEY=VALUE for an expectation a step may have once (status,
 * rcode); NULL when it is a duplicate or not KEY=VALUE (reported).
 */
static char *single_expect_value(struct pctx *c, struct kv *kv,
				 const struct scn_step *st,
				 enum scn_expect_what what, const char *meta)
{
	bool bad = false;
	for (size_t i = 0; i < st->n_expects; i++)
		if (st->expects[i].what == what) {
			perr(c, kv->line, kv->col,
			     "duplicate expectation '%s'", kv->key);
			return NULL;
		}
	if (kv->op != OP_EQ) {
		perr(c, kv->line, kv->col, "expected %s=%s", kv->key, meta);
		return NULL;
	}
	return value_text(c, &kv->val, kv->key, &bad);
}

static int parse_expect(struct pctx *c, struct kv *kv, struct scn_step *st)
{
	struct scn_expect e = { .col = kv->col };
	char *s = NULL;
	bool http = st->kind == SCN_STEP_HTTP;

	if (st->n_expects >= MAX_EXPECTS) {
		perr(c, kv->line, kv->col, "too many expectations (at most %d)",
		     MAX_EXPECTS);
		return -1;
	}
	if (http && strcmp(kv->key, "status") == 0) {
		e.what = SCN_EXP_STATUS;
		if (!(s = single_expect_value(c, kv, st, e.what, "CODES")))
			return -1;
		int r = parse_status_list(c, s, kv->line, kv->vcol, &e);
		free(s);
		if (r < 0)
			return -1;
	} else if (!http && strcmp(kv->key, "rcode") == 0) {
		e.what = SCN_EXP_RCODE;
		if (!(s = single_expect_value(c, kv, st, e.what, "NAME")))
			return -1;
		int r = enum_value(c, rcode_vals, "rcode", s, kv->line,
				   kv->vcol, &e.rcode);
		free(s);
		if (r < 0)
			return -1;
	} else if (http && (strcmp(kv->key, "body") == 0 ||
			    strncmp(kv->key, "header:", 7) == 0)) {
		bool body = kv->key[0] == 'b';
		e.what = body ? SCN_EXP_BODY : SCN_EXP_HEADER;
		if (!body) {
			if (!valid_header_name(kv->key + 7)) {
				perr(c, kv->line, kv->col + 7,
				     "invalid header name '%s'", kv->key + 7);
				return -1;
			}
			if (!(e.header = xstrdup(kv->key + 7))) {
				oom(c);
				return -1;
			}
		}
		static const enum scn_expect_op ops[] = {
			[OP_EQ] = SCN_EXP_EQ, [OP_CONTAINS] = SCN_EXP_CONTAINS,
			[OP_MATCH] = SCN_EXP_MATCH,
			[OP_NOMATCH] = SCN_EXP_NOMATCH };
		if (body && kv->op == OP_EQ) {
			perr(c, kv->line, kv->col,
			     "use body*='TEXT' (contains) or body~'REGEX' "
			     "(matches)");
			expect_release(&e);
			return -1;
		}
		e.op = ops[kv->op];
		if ((body || e.op != SCN_EXP_EQ) &&
		    (kv->val.n == 0 ||
		     (kv->val.n == 1 && kv->val.p[0].len == 0))) {
			perr(c, kv->line, kv->vcol, "missing value for %s",
			     kv->key);
			expect_release(&e);
			return -1;
		}
		if (value_tmpl(c, &kv->val, &e.value) < 0) {
			expect_release(&e);
			oom(c);
			return -1;
		}
		if ((e.op == SCN_EXP_MATCH || e.op == SCN_EXP_NOMATCH) &&
		    scn_tmpl_is_literal(&e.value) &&
		    check_regex(c, e.value.n ? e.value.segs[0].text : "",
				kv->line, kv->vcol, false) < 0) {
			expect_release(&e);
			return -1;
		}
	} else {
		bool is_opt = false;
		for (size_t i = 0; i < sizeof(opt_defs) / sizeof(*opt_defs); i++)
			is_opt |= strcmp(opt_defs[i].name, kv->key) == 0;
		if (is_opt)
			perr(c, kv->line, kv->col,
			     "option '%s' must come before 'expect'", kv->key);
		else
			perr(c, kv->line, kv->col,
			     "unknown expectation '%s' (expected %s)", kv->key,
			     http ? "status, body or header:NAME" : "rcode");
		return -1;
	}
	size_t cap = st->n_expects;
	if (xgrow(&st->expects, &cap, st->n_expects + 1,
		  sizeof(*st->expects)) < 0) {
		expect_release(&e);
		oom(c);
		return -1;
	}
	st->expects[st->n_expects++] = e;
	return 0;
}

static bool is_ident(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || (!isalpha((unsigned char)*s) && *s != '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static int parse_extract(struct pctx *c, struct kv *kv, struct scn_step *st)
{
	if (kv->op != OP_EQ || !is_ident(kv->key)) {
		perr(c, kv->line, kv->col, "expected NAME='REGEX' after extract");
		return -1;
	}
	if (st->n_extracts >= MAX_EXTRACTS) {
		perr(c, kv->line, kv->col, "too many extracts (at most %d)",
		     MAX_EXTRACTS);
		return -1;
	}
	for (size_t i = 0; i < st->n_extracts; i++)
		if (strcmp(st->extracts[i].name, kv->key) == 0) {
			perr(c, kv->line, kv->col,
			     "'%s' is extracted twice in this step", kv->key);
			return -1;
		}
	bool bad = false;
	char *re = value_text(c, &kv->val, "an extract pattern", &bad);
	if (!re)
		return -1;
	if (check_regex(c, re, kv->line, kv->vcol, true) < 0) {
		free(re);
		return -1;
	}
	char *name = xstrdup(kv->key);
	size_t cap = st->n_extracts;
	if (!name || xgrow(&st->extracts, &cap, st->n_extracts + 1,
			   sizeof(*st->extracts)) < 0) {
		free(name);
		free(re);
		oom(c);
		return -1;
	}
	st->extracts[st->n_extracts++] = (struct scn_extract){ name, re };
	return 0;
}

static void opts_release(struct scn_opts *o)
{
	tmpl_release(&o->sni);
	tmpl_release(&o->proxy);
	free(o->alpn);
	free(o->ca);
	free(o->cert);
	free(o->key);
	for (size_t i = 0; i < o->n_pins; i++)
		free(o->pins[i]);
	free(o->pins);
	memset(o, 0, sizeof(*o));
}

static void step_release(struct scn_step *st)
{
	free(st->name);
	opts_release(&st->opts);
	tmpl_release(&st->target);
	free(st->method);
	for (size_t i = 0; i < st->n_headers; i++)
		tmpl_release(&st->headers[i]);
	free(st->headers);
	tmpl_release(&st->body);
	for (size_t i = 0; i < st->n_expects; i++)
		expect_release(&st->expects[i]);
	free(st->expects);
	for (size_t i = 0; i < st->n_extracts; i++) {
		free(st->extracts[i].name);
		free(st->extracts[i].regex);
	}
	free(st->extracts);
	memset(st, 0, sizeof(*st));
}

/* Positional arguments of each step kind; returns the next word index. */
static size_t step_positional(struct pctx *c, const struct scn_line *l,
			      struct scn_step *st, bool *bad)
{
	const struct scn_word *w0 = &l->w[0];
	const char *kind = scn_step_kind_name(st->kind);
	size_t i = 1;
	struct kv probe;

	/* a positional argument is a word without KEY=, or a quoted one */
	if (l->n < 2 || word_split(&l->w[1], &probe) != 0) {
		if (l->n >= 2)
			kv_release(&probe);
		static const char *const need[] = {
			[SCN_STEP_DNS] = "a name to resolve",
			[SCN_STEP_TCP] = "HOST:PORT",
			[SCN_STEP_TLS] = "HOST[:PORT]",
			[SCN_STEP_HTTP] = "METHOD URL" };
		perr(c, l->line, w0->col, "%s needs %s", kind, need[st->kind]);
		*bad = true;
		return l->n;
	}
	switch (st->kind) {
	case SCN_STEP_DNS: {
		if (value_tmpl(c, &l->w[1], &st->target) < 0) {
			oom(c);
			*bad = true;
			return l->n;
		}
		if (scn_tmpl_is_literal(&st->target) &&
		    (st->target.n != 1 || !valid_host(st->target.segs[0].text))) {
			char *s = word_show(&l->w[1]);
			perr(c, l->w[1].line, l->w[1].col, "invalid host name '%s'",
			     s ? s : "");
			free(s);
			*bad = true;
			return l->n;
		}
		i = 2;
		while (i < l->n && word_is_bare(&l->w[i]) &&
		       !strchr(l->w[i].p[0].text, '=') &&
		       !strchr(l->w[i].p[0].text, '~') &&
		       !word_is(&l->w[i], "expect") &&
		       !word_is(&l->w[i], "extract")) {
			char up[16];
			const char *t = l->w[i].p[0].text;
			size_t tl = strlen(t);
			int qt;
			for (size_t k = 0; k < tl && k < sizeof(up) - 1; k++)
				up[k] = (char)toupper((unsigned char)t[k]);
			up[tl < sizeof(up) - 1 ? tl : sizeof(up) - 1] = '\0';
			if (tl >= sizeof(up) || lookup_nv(qtype_vals, up, &qt) < 0) {
				perr(c, l->w[i].line, l->w[i].col,
				     "unknown DNS record type '%s'", t);
				*bad = true;
				return l->n;
			}
			bool dup = false;
			for (size_t k = 0; k < st->n_qtypes; k++)
				dup |= st->qtypes[k] == qt;
			if (!dup && st->n_qtypes < SCN_MAX_QTYPES)
				st->qtypes[st->n_qtypes++] = (uint16_t)qt;
			i++;
		}
		if (st->n_qtypes == 0) {
			st->qtypes[0] = SCN_QT_A;
			st->qtypes[1] = SCN_QT_AAAA;
			st->n_qtypes = 2;
		}
		return i;
	}
	case SCN_STEP_TCP:
	case SCN_STEP_TLS:
		if (parse_hostport(c, &l->w[1],
				   st->kind == SCN_STEP_TLS ? 443 : 0, st) < 0)
			*bad = true;
		return 2;
	case SCN_STEP_HTTP: {
		const struct scn_word *m = &l->w[1];
		bool ok = m->n == 1 && m->p[0].kind != SCN_PIECE_VAR;
		const char *t = ok ? m->p[0].text : "";
		if (ok && (strncmp(t, "http://", 7) == 0 ||
			   strncmp(t, "https://", 8) == 0)) {
			perr(c, m->line, m->col,
			     "missing method before the URL (e.g. GET)");
			*bad = true;
			return l->n;
		}
		for (const char *p = t; ok && *p; p++)
			ok = *p >= 'A' && *p <= 'Z';
		if (!ok || !*t || strlen(t) > 16) {
			char *s = word_show(m);
			perr(c, m->line, m->col,
			     "invalid method '%s': expected an upper-case "
			     "token such as GET or POST",
			     s ? s : "");
			free(s);
			*bad = true;
			return l->n;
		}
		if (!(st->method = xstrdup(t))) {
			oom(c);
			*bad = true;
			return l->n;
		}
		if (l->n < 3) {
			perr(c, l->line, w0->col, "http needs METHOD URL");
			*bad = true;
			return l->n;
		}
		if (parse_url(c, &l->w[2], st) < 0)
			*bad = true;
		return 3;
	}
	}
	return i;
}

static void dir_step(struct pctx *c, const struct scn_line *l,
		     enum scn_step_kind kind)
{
	struct scn_plan *pl = c->plan;
	if (pl->n_steps >= MAX_STEPS) {
		perr(c, l->w[0].line, l->w[0].col, "too many steps (at most %d)",
		     MAX_STEPS);
		return;
	}
	size_t cap = pl->n_steps;
	if (xgrow(&pl->steps, &cap, pl->n_steps + 1, sizeof(*pl->steps)) < 0) {
		oom(c);
		return;
	}
	struct scn_step *st = &pl->steps[pl->n_steps++];
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->index = (unsigned)pl->n_steps;
	st->line = l->line;
	st->col = l->w[0].col;

	bool bad = false;
	size_t i = step_positional(c, l, st, &bad);
	enum { M_OPTS, M_EXPECT, M_EXTRACT } mode = M_OPTS;
	unsigned where = 1u << kind;
	for (; i < l->n && !c->nomem; i++) {
		const struct scn_word *w = &l->w[i];
		if (word_is(w, "expect")) {
			if (kind != SCN_STEP_HTTP && kind != SCN_STEP_DNS) {
				perr(c, w->line, w->col,
				     "expect is only valid for http and dns "
				     "steps");
				bad = true;
				break;
			}
			mode = M_EXPECT;
			continue;
		}
		if (word_is(w, "extract")) {
			if (kind != SCN_STEP_HTTP) {
				perr(c, w->line, w->col,
				     "extract is only valid for http steps");
				bad = true;
				break;
			}
			mode = M_EXTRACT;
			continue;
		}
		struct kv kv;
		int r = word_split(w, &kv);
		if (r < 0) {
			oom(c);
			break;
		}
		if (r == 0) {
			err_unexpected(c, w,
				       mode == M_EXPECT ? "(expected a condition)"
				       : mode == M_EXTRACT
					       ? "(expected NAME='REGEX')"
					       : "(expected NAME=VALUE)");
			bad = true;
			continue;
		}
		if (mode == M_OPTS)
			r = parse_option(c, &kv, where, st, &st->opts);
		else if (mode == M_EXPECT)
			r = parse_expect(c, &kv, st);
		else
			r = parse_extract(c, &kv, st);
		kv_release(&kv);
		if (r < 0)
			bad = true;
	}
	if (mode != M_OPTS && i == l->n &&
	    ((mode == M_EXPECT && st->n_expects == 0) ||
	     (mode == M_EXTRACT && st->n_extracts == 0)) && !bad)
		perr(c, l->w[l->n - 1].line, l->w[l->n - 1].col, "'%s' needs at least one %s",
		     mode == M_EXPECT ? "expect" : "extract",
		     mode == M_EXPECT ? "condition" : "NAME='REGEX'");

	/* this step's extracts are visible from the next step on */
	for (size_t k = 0; k < st->n_extracts; k++) {
		struct extract_def e = { xstrdup(st->extracts[k].name), l->line };
		struct extract_def e2 = { xstrdup(st->extracts[k].name), l->line };
		if (!e.name || !e2.name ||
		    xgrow(&c->ex, &c->cap_ex, c->n_ex + 1, sizeof(*c->ex)) < 0 ||
		    xgrow(&c->ex_all, &c->cap_ex_all, c->n_ex_all + 1,
			  sizeof(*c->ex_all)) < 0) {
			free(e.name);
			free(e2.name);
			oom(c);
			return;
		}
		c->ex[c->n_ex++] = e;
		c->ex_all[c->n_ex_all++] = e2;
	}
}

static void dir_dns(struct pctx *c, const struct scn_line *l)
{
	dir_step(c, l, SCN_STEP_DNS);
}
static void dir_tcp(struct pctx *c, const struct scn_line *l)
{
	dir_step(c, l, SCN_STEP_TCP);
}
static void dir_tls(struct pctx *c, const struct scn_line *l)
{
	dir_step(c, l, SCN_STEP_TLS);
}
static void dir_http(struct pctx *c, const struct scn_line *l)
{
	dir_step(c, l, SCN_STEP_HTTP);
}

static const struct directive {
	const char *name;
	void (*fn)(struct pctx *, const struct scn_line *);
} directives[] = {
	{ "scenario", dir_scenario }, { "resolver", dir_resolver },
	{ "capture", dir_capture },   { "timeout", dir_timeout },
	{ "threshold", dir_threshold }, { "keep_pcap", dir_keep_pcap },
	{ "keylog", dir_keylog },     { "defaults", dir_defaults },
	{ "dns", dir_dns },           { "tcp", dir_tcp },
	{ "tls", dir_tls },           { "http", dir_http },
};

static void parse_line(struct pctx *c, const struct scn_line *l)
{
	const struct scn_word *w = &l->w[0];
	if (word_is_bare(w))
		for (size_t i = 0; i < sizeof(directives) / sizeof(*directives);
		     i++)
			if (strcmp(directives[i].name, w->p[0].text) == 0) {
				directives[i].fn(c, l);
				return;
			}
	char *s = word_short(c, w);
	if (!s)
		return;
	perr(c, w->line, w->col, "unknown directive '%s'", s);
	free(s);
}

/* ---- whole-file checks ----------------------------------------------------- */

static int copy_tmpl(struct scn_tmpl *dst, const struct scn_tmpl *src)
{
	tmpl_release(dst); /* what a failed option left, if anything */
	memset(dst, 0, sizeof(*dst));
	if (src->n == 0)
		return 0;
	dst->segs = calloc(src->n, sizeof(*dst->segs));
	if (!dst->segs)
		return PE_NOMEM;
	for (size_t i = 0; i < src->n; i++) {
		dst->segs[i].kind = src->segs[i].kind;
		if (!(dst->segs[i].text = xstrdup(src->segs[i].text)))
			return PE_NOMEM;
		dst->n++;
	}
	return 0;
}

static int copy_str(char **dst, const char *src)
{
	free(*dst); /* what a failed option left, if anything */
	*dst = xstrdup(src);
	return src && !*dst ? PE_NOMEM : 0;
}

/* Fill what the step did not set from `defaults`, then built-in values. */
static int merge_defaults(struct pctx *c, struct scn_step *st)
{
	const struct scn_opts *d = &c->plan->defaults;
	struct scn_opts *o = &st->opts;
	unsigned where = 1u << st->kind;
	int r = 0;
	for (size_t i = 0; i < sizeof(opt_defs) / sizeof(*opt_defs); i++) {
		const struct opt_def *od = &opt_defs[i];
		uint32_t b = od->bit;
		if (!(d->set & b) || (o->set & b) || !(od->where & where))
			continue;
		o->set |= b;
		switch (b) {
		case SCN_OPT_TIMEOUT: o->timeout_ms = d->timeout_ms; break;
		case SCN_OPT_IP: o->ip = d->ip; break;
		case SCN_OPT_HTTP: o->http = d->http; break;
		case SCN_OPT_TLS_MIN: o->tls_min = d->tls_min; break;
		case SCN_OPT_TLS_MAX: o->tls_max = d->tls_max; break;
		case SCN_OPT_MIN_DAYS: o->min_days_valid = d->min_days_valid; break;
		case SCN_OPT_MAX_BODY: o->max_body = d->max_body; break;
		case SCN_OPT_FOLLOW: o->follow = d->follow; break;
		case SCN_OPT_RETRIES: o->retries = d->retries; break;
		case SCN_OPT_DNS_TCP: o->dns_tcp = d->dns_tcp; break;
		case SCN_OPT_CA: r |= copy_str(&o->ca, d->ca); break;
		case SCN_OPT_CERT: r |= copy_str(&o->cert, d->cert); break;
		case SCN_OPT_KEY: r |= copy_str(&o->key, d->key); break;
		case SCN_OPT_PROXY: r |= copy_tmpl(&o->proxy, &d->proxy); break;
		case SCN_OPT_PIN:
			/* a step whose own pin= failed half-way holds some
			 * (its bit unset): they go, the defaults' come */
			for (size_t k = 0; k < o->n_pins; k++)
				free(o->pins[k]);
			free(o->pins);
			o->n_pins = 0;
			if (!(o->pins = calloc(d->n_pins, sizeof(*o->pins))))
				return PE_NOMEM;
			for (size_t k = 0; k < d->n_pins; k++) {
				if (!(o->pins[k] = xstrdup(d->pins[k])))
					return PE_NOMEM;
				o->n_pins++;
			}
			break;
		default:
			break;
		}
	}
	if (r)
		return PE_NOMEM;
	if (!(o->set & SCN_OPT_TIMEOUT))
		o->timeout_ms = SCN_DEFAULT_STEP_TIMEOUT_MS;
	if (!(o->set & SCN_OPT_MAX_BODY))
		o->max_body = SCN_DEFAULT_MAX_BODY;
	if (!(o->set & SCN_OPT_RETRIES))
		o->retries = SCN_DEFAULT_DNS_RETRIES;
	if (!(o->set & SCN_OPT_MIN_DAYS))
		o->min_days_valid = -1;

	/* checks that need the merged options */
	bool tlsish = st->kind == SCN_STEP_TLS || st->kind == SCN_STEP_HTTP;
	if (tlsish && !!o->cert != !!o->key)
		perr(c, st->line, st->col,
		     "%s step: cert= and key= go together (one is missing%s)",
		     scn_step_kind_name(st->kind),
		     (d->cert || d->key) ? ", counting defaults" : "");
	if (tlsish && o->tls_min && o->tls_max && o->tls_min > o->tls_max)
		perr(c, st->line, st->col,
		     "%s step: tls_min %s is above tls_max %s",
		     scn_step_kind_name(st->kind),
		     scn_tls_version_name(o->tls_min),
		     scn_tls_version_name(o->tls_max));
	if (o->ip == SCN_IP_BOTH && st->kind != SCN_STEP_TCP)
		perr(c, st->line, st->col,
		     "ip=both is only valid for tcp steps (use one step per "
		     "family)");
	if (!st->name &&
	    !(st->name = xasprintf("%s#%u", scn_step_kind_name(st->kind),
				   st->index)))
		return PE_NOMEM;
	return 0;
}

static void finish(struct pctx *c, const char *file)
{
	struct scn_plan *pl = c->plan;
	if (pl->n_steps == 0)
		perr(c, c->last_line ? c->last_line : 1, 1,
		     "scenario has no steps (add dns, tcp, tls or http)");
	for (size_t i = 0; i < pl->n_steps && !c->nomem; i++)
		if (merge_defaults(c, &pl->steps[i]) < 0)
			oom(c);
	for (size_t i = 0; i < pl->n_thresholds; i++) {
		const struct scn_threshold *t = &pl->thresholds[i];
		if (!t->step)
			continue;
		bool found = false;
		for (size_t k = 0; k < pl->n_steps; k++)
			found |= strcmp(pl->steps[k].name, t->step) == 0;
		if (!found)
			perr(c, t->line, c->thr_step_col[i],
			     "threshold names unknown step '%s'", t->step);
	}
	/* ${X} taken from the environment although a step extracts X later */
	for (size_t i = 0; i < c->n_env_uses; i++)
		for (size_t k = 0; k < c->n_ex_all; k++)
			if (strcmp(c->env_uses[i].name, c->ex_all[k].name) == 0) {
				perr(c, c->env_uses[i].line, c->env_uses[i].col,
				     "${%s} is used before it is extracted "
				     "(line %u)",
				     c->env_uses[i].name, c->ex_all[k].line);
				break;
			}
	if (!pl->name) {
		const char *base = strrchr(file, '/');
		base = base ? base + 1 : file;
		size_t n = strlen(base);
		if (n > 4 && strcmp(base + n - 4, ".scn") == 0)
			n -= 4;
		if (!(pl->name = xstrndup(base, n)))
			oom(c);
	}
}

/* ---- entry points ---------------------------------------------------------- */

void scn_plan_release(struct scn_plan *pl)
{
	free(pl->file);
	free(pl->name);
	for (size_t i = 0; i < pl->n_thresholds; i++) {
		free(pl->thresholds[i].metric);
		free(pl->thresholds[i].step);
	}
	free(pl->thresholds);
	opts_release(&pl->defaults);
	for (size_t i = 0; i < pl->n_steps; i++)
		step_release(&pl->steps[i]);
	free(pl->steps);
	for (size_t i = 0; i < pl->n_env_vars; i++)
		free(pl->env_vars[i].name);
	free(pl->env_vars);
	memset(pl, 0, sizeof(*pl));
}

static void pctx_release(struct pctx *c)
{
	for (size_t i = 0; i < c->n_ex; i++)
		free(c->ex[i].name);
	free(c->ex);
	for (size_t i = 0; i < c->n_ex_all; i++)
		free(c->ex_all[i].name);
	free(c->ex_all);
	for (size_t i = 0; i < c->n_env_uses; i++)
		free(c->env_uses[i].name);
	free(c->env_uses);
	free(c->thr_step_col);
}

int scn_parse_buf(const char *file, const char *buf, size_t len,
		  struct scn_plan *plan, struct scn_diags *d)
{
	struct pctx c = { .d = d, .plan = plan };
	struct scn_lexer lx;
	struct scn_line l = { 0 };
	int ret = 0;

	memset(plan, 0, sizeof(*plan));
	if (!d->file && !(d->file = xstrdup(file)))
		return PE_NOMEM;
	plan->capture = SCN_CAPTURE_ON;
	plan->keep_pcap = SCN_KEEP_ON_BREACH;
	plan->timeout_ms = SCN_DEFAULT_RUN_TIMEOUT_MS;
	if (!(plan->file = xstrdup(file)))
		return PE_NOMEM;
	size_t errors_before = d->n_errors;
	if (len > SCN_MAX_FILE) {
		perr(&c, 1, 1, "scenario file larger than %u bytes",
		     SCN_MAX_FILE);
		goto out;
	}
	scn__lex_init(&lx, buf, len);
	for (;;) {
		int r = scn__lex_line(&lx, &l, d);
		if (r < 0) {
			ret = r;
			goto out;
		}
		if (r == 0)
			break;
		c.last_line = l.line;
		if (l.n > 0)
			parse_line(&c, &l);
		if (c.nomem)
			break;
	}
	if (!c.nomem)
		finish(&c, file);
out:
	scn__line_release(&l);
	pctx_release(&c);
	if (c.nomem)
		ret = PE_NOMEM;
	if (ret == 0 && d->n_errors > errors_before)
		ret = PE_INVAL;
	if (ret != 0)
		scn_plan_release(plan);
	return ret;
}

int scn_parse_file(const char *path, struct scn_plan *plan,
		   struct scn_diags *d, struct errbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(err, PE_IO, "%s: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		int e = errno;
		close(fd);
		return errbuf_set(err, PE_IO, "%s: %s", path,
				  S_ISDIR(sb.st_mode) ? "is a directory"
						      : e ? strerror(e)
							  : "not a regular file");
	}
	size_t cap = (size_t)sb.st_size < SCN_MAX_FILE ? (size_t)sb.st_size + 1
						       : SCN_MAX_FILE + 1;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return errbuf_set(err, PE_NOMEM, "out of memory");
	}
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return errbuf_set(err, PE_IO, "%s: %s", path,
					  strerror(e));
		}
		if (n == 0 || (len += (size_t)n) == cap)
			break;
	}
	close(fd);
	int ret = scn_parse_buf(path, buf, len, plan, d);
	free(buf);
	if (ret == PE_NOMEM)
		errbuf_set(err, PE_NOMEM, "out of memory");
	return ret;
}

size_t scn_plan_check_env(const struct scn_plan *plan,
			  const char *(*lookup)(const char *name, void *ctx),
			  void *ctx, bool as_error, struct scn_diags *d)
{
	size_t n = 0;
	for (size_t i = 0; i < plan->n_env_vars; i++) {
		const struct scn_var_ref *v = &plan->env_vars[i];
		if (lookup(v->name, ctx))
			continue;
		n++;
		(void)scn__diag(d, !as_error, v->line, v->col,
				"${%s} is not set in the environment", v->name);
	}
	return n;
}

void scn_diags_print(const struct scn_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(out, "%s:%u:%u: %s%s\n", d->file ? d->file : "?",
			d->v[i].line, d->v[i].col,
			d->v[i].warning ? "warning: " : "", d->v[i].msg);
	if (d->n_dropped)
		fprintf(out, "%s: %zu more diagnostics not shown\n",
			d->file ? d->file : "?", d->n_dropped);
}

void scn_diags_release(struct scn_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	free(d->file);
	memset(d, 0, sizeof(*d));
}
