/*
 * scn_plan.c: templates and the plan printer (`probe run --dry-run`).
 *
 * The printer shows every effective value, defaults included, so that what
 * a run will do can be read without knowing the defaults by heart.
 * Variables are shown as ${NAME}, never expanded: dry-run output may be
 * pasted into tickets.
 */
#include "scenario/internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util/units.h"
#include "util/xalloc.h"

const char *scn_step_kind_name(enum scn_step_kind k)
{
	static const char *const names[] = { [SCN_STEP_DNS] = "dns",
		[SCN_STEP_TCP] = "tcp", [SCN_STEP_TLS] = "tls",
		[SCN_STEP_HTTP] = "http" };
	return (unsigned)k < 4 ? names[k] : "?";
}

bool scn_tmpl_is_literal(const struct scn_tmpl *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->segs[i].kind != SCN_SEG_LIT)
			return false;
	return true;
}

static char *tmpl_join(const struct scn_tmpl *t,
		       const char *(*lookup)(const char *name, void *ctx),
		       void *ctx, struct errbuf *err)
{
	size_t len = 1;
	const char **parts = calloc(t->n ? t->n : 1, sizeof(*parts));
	if (!parts) {
		errbuf_set(err, PE_NOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct scn_seg *s = &t->segs[i];
		parts[i] = s->text;
		if (s->kind != SCN_SEG_LIT && lookup) {
			parts[i] = lookup(s->text, ctx);
			if (!parts[i]) {
				errbuf_set(err, PE_NOTFOUND,
					   "${%s} is not set%s", s->text,
					   s->kind == SCN_SEG_ENV
						   ? " in the environment"
						   : " (its extract did not "
						     "match)");
				free(parts);
				return NULL;
			}
		}
		/* shown text may add 3 per variable or 1 per literal "${" */
		len += strlen(parts[i]) * (lookup ? 1 : 2) + (lookup ? 0 : 3);
	}
	char *out = malloc(len);
	if (!out) {
		free(parts);
		errbuf_set(err, PE_NOMEM, "out of memory");
		return NULL;
	}
	size_t o = 0;
	for (size_t i = 0; i < t->n; i++) {
		bool var = t->segs[i].kind != SCN_SEG_LIT && !lookup;
		if (var) {
			o += (size_t)snprintf(out + o, len - o, "${%s}",
					      parts[i]);
			continue;
		}
		for (const char *p = parts[i]; *p; p++) {
			/* shown: a literal "${" keeps the file's $$ escape */
			if (!lookup && p[0] == '$' && p[1] == '{')
				out[o++] = '$';
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	free(parts);
	return out;
}

char *scn_tmpl_expand(const struct scn_tmpl *t,
		      const char *(*lookup)(const char *name, void *ctx),
		      void *ctx, struct errbuf *err)
{
	return tmpl_join(t, lookup, ctx, err);
}

char *scn_tmpl_show(const struct scn_tmpl *t)
{
	return tmpl_join(t, NULL, NULL, NULL);
}

static void print_tmpl(FILE *out, const struct scn_tmpl *t)
{
	char *s = scn_tmpl_show(t);
	fputs(s ? s : "?", out);
	free(s);
}

static void print_resolver(FILE *out, const struct scn_resolver *r)
{
	if (r->family == AF_INET6)
		fprintf(out, "[%s]:%u", r->addr, r->port);
	else
		fprintf(out, "%s:%u", r->addr, r->port);
}

static void print_opts(FILE *out, const struct scn_step *st)
{
	const struct scn_opts *o = &st->opts;
	char d[32];
	units_fmt_ms(d, sizeof(d), o->timeout_ms);
	fprintf(out, "      timeout=%s", d);
	switch (st->kind) {
	case SCN_STEP_DNS:
		fprintf(out, " retries=%u tcp=%s", o->retries,
			scn__dns_tcp_name(o->dns_tcp));
		if (o->set & SCN_OPT_RESOLVER) {
			fputs(" resolver=", out);
			print_resolver(out, &o->resolver);
		}
		break;
	case SCN_STEP_TCP:
		fprintf(out, " ip=%s", scn_ip_name(o->ip));
		break;
	case SCN_STEP_TLS:
	case SCN_STEP_HTTP:
		fprintf(out, " ip=%s tls_min=%s tls_max=%s", scn_ip_name(o->ip),
			scn_tls_version_name(o->tls_min),
			scn_tls_version_name(o->tls_max));
		if (o->set & SCN_OPT_SNI) {
			fputs(" sni=", out);
			print_tmpl(out, &o->sni);
		}
		if (o->alpn)
			fprintf(out, " alpn=%s", o->alpn);
		fprintf(out, " ca=%s", o->ca ? o->ca : "system");
		if (o->cert)
			fprintf(out, " cert=%s key=%s", o->cert, o->key);
		for (size_t i = 0; i < o->n_pins; i++)
			fprintf(out, " pin=%s", o->pins[i]);
		if (o->min_days_valid >= 0)
			fprintf(out, " min_days_valid=%d", o->min_days_valid);
		if (st->kind == SCN_STEP_HTTP) {
			fprintf(out, " http=%s follow=%u max_body=%llu",
				scn__http_name(o->http), o->follow,
				(unsigned long long)o->max_body);
			if (o->set & SCN_OPT_PROXY) {
				fputs(" proxy=", out);
				print_tmpl(out, &o->proxy);
			} else {
				fputs(" proxy=none", out);
			}
		}
		break;
	}
	fputc('\n', out);
}

static const char *const exp_ops[] = { [SCN_EXP_EQ] = "=",
	[SCN_EXP_CONTAINS] = "*=", [SCN_EXP_MATCH] = "~",
	[SCN_EXP_NOMATCH] = "!~" };

static void print_expect(FILE *out, const struct scn_expect *e)
{
	fputs("      expect ", out);
	switch (e->what) {
	case SCN_EXP_STATUS:
		fputs("status=", out);
		for (size_t i = 0; i < e->n_status; i++) {
			if (e->status_lo[i] != e->status_hi[i])
				fprintf(out, "%s%cxx", i ? "," : "",
					'0' + e->status_lo[i] / 100);
			else
				fprintf(out, "%s%u", i ? "," : "",
					e->status_lo[i]);
		}
		break;
	case SCN_EXP_RCODE:
		fprintf(out, "rcode=%s", scn_rcode_name(e->rcode));
		break;
	case SCN_EXP_BODY:
	case SCN_EXP_HEADER:
		if (e->what == SCN_EXP_BODY)
			fputs("body", out);
		else
			fprintf(out, "header:%s", e->header);
		fprintf(out, "%s'", exp_ops[e->op]);
		print_tmpl(out, &e->value);
		fputc('\'', out);
		break;
	}
	fputc('\n', out);
}

static void print_step(FILE *out, const struct scn_step *st)
{
	fprintf(out, "  %u %-4s %s (line %u): ", st->index,
		scn_step_kind_name(st->kind), st->name, st->line);
	switch (st->kind) {
	case SCN_STEP_DNS:
		print_tmpl(out, &st->target);
		for (size_t i = 0; i < st->n_qtypes; i++)
			fprintf(out, " %s", scn_qtype_name(st->qtypes[i]));
		break;
	case SCN_STEP_TCP:
	case SCN_STEP_TLS: {
		char *h = scn_tmpl_show(&st->target);
		bool v6 = h && strchr(h, ':');
		fprintf(out, v6 ? "[%s]:%u" : "%s:%u", h ? h : "?", st->port);
		free(h);
		break;
	}
	case SCN_STEP_HTTP:
		fprintf(out, "%s ", st->method);
		print_tmpl(out, &st->target);
		break;
	}
	fputc('\n', out);
	print_opts(out, st);
	for (size_t i = 0; i < st->n_headers; i++) {
		fputs("      header '", out);
		print_tmpl(out, &st->headers[i]);
		fputs("'\n", out);
	}
	if (st->has_body) {
		fputs("      body '", out);
		print_tmpl(out, &st->body);
		fputs("'\n", out);
	}
	for (size_t i = 0; i < st->n_expects; i++)
		print_expect(out, &st->expects[i]);
	for (size_t i = 0; i < st->n_extracts; i++)
		fprintf(out, "      extract %s='%s'\n", st->extracts[i].name,
			st->extracts[i].regex);
}

void scn_plan_print(const struct scn_plan *pl, FILE *out)
{
	char d[32];
	fprintf(out, "scenario   %s (%s)\n", pl->name, pl->file);
	fputs("resolver   ", out);
	if (pl->n_resolvers == 0)
		fputs("system", out);
	for (size_t i = 0; i < pl->n_resolvers; i++) {
		if (i)
			fputc(' ', out);
		print_resolver(out, &pl->resolvers[i]);
	}
	fputc('\n', out);
	units_fmt_ms(d, sizeof(d), pl->timeout_ms);
	fprintf(out, "capture    %s\ntimeout    %s\nkeep_pcap  %s\n"
		     "keylog     %s\n",
		scn_capture_name(pl->capture), d,
		scn_keep_pcap_name(pl->keep_pcap), pl->keylog ? "on" : "off");
	for (size_t i = 0; i < pl->n_thresholds; i++) {
		char *t = scn_threshold_text(&pl->thresholds[i]);
		fprintf(out, "threshold  %s\n", t ? t : "?");
		free(t);
	}
	if (pl->n_env_vars) {
		fputs("env        ", out);
		for (size_t i = 0; i < pl->n_env_vars; i++)
			fprintf(out, "%s${%s}", i ? " " : "",
				pl->env_vars[i].name);
		fputs(" (read at run time, never stored)\n", out);
	}
	fprintf(out, "steps      %zu\n", pl->n_steps);
	for (size_t i = 0; i < pl->n_steps; i++)
		print_step(out, &pl->steps[i]);
}

char *scn_threshold_text(const struct scn_threshold *t)
{
	char v[64], tail[160];
	if (t->of_baseline && t->pct)
		snprintf(v, sizeof(v), "p%u", t->pct);
	else if (t->of_baseline)
		snprintf(v, sizeof(v), "%gx baseline", t->value);
	else
		snprintf(v, sizeof(v), "%g", t->value);
	int n = 0;
	tail[0] = '\0';
	if (t->for_runs > 1)
		n = snprintf(tail, sizeof(tail), " for %u runs", t->for_runs);
	if (t->step && n >= 0 && (size_t)n < sizeof(tail))
		snprintf(tail + n, sizeof(tail) - (size_t)n, " step=%s",
			 t->step);
	return xasprintf("%s %s %s%s", t->metric, scn_cmp_name(t->cmp), v,
			 tail);
}
