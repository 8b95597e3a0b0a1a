/*
 * compare.c: regions side by side, and a verdict per scenario
 * (compare.h).
 */
#include "escalate/compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escalate/baseline.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

static const char *const verdict_names[] = {
	[CMP_NONE] = "NONE", [CMP_NETWORK_LOCAL] = "NETWORK_LOCAL",
	[CMP_APPLICATION_WIDE] = "APPLICATION_WIDE",
	[CMP_SERVER_LOCAL] = "SERVER_LOCAL", [CMP_MIXED] = "MIXED",
};

const char *cmp_verdict_name(enum cmp_verdict v)
{
	return verdict_names[v];
}

static const char *const metrics[] = { "rtt_ms", "retrans", "think_ms",
				       "ttfb_wire_ms" };

/* Samples per step name. */
struct series {
	char *step;
	double *v;
	size_t n, cap;
};

struct series_set {
	struct series *s;
	size_t n, cap;
	int err;
};

static int on_sample(void *ctx, const char *step, const char *family,
		     const char *state, double v)
{
	struct series_set *ss = ctx;
	(void)family;
	(void)state;
	struct series *s = NULL;
	for (size_t i = 0; i < ss->n && !s; i++)
		if (strcmp(ss->s[i].step, step) == 0)
			s = &ss->s[i];
	if (!s) {
		if (xgrow(&ss->s, &ss->cap, ss->n + 1, sizeof(*ss->s)) < 0)
			goto nomem;
		s = &ss->s[ss->n];
		memset(s, 0, sizeof(*s));
		if (!(s->step = xstrdup(step)))
			goto nomem;
		ss->n++;
	}
	if (s->n >= BASELINE_MAX_SAMPLES)
		return 0;
	if (xgrow(&s->v, &s->cap, s->n + 1, sizeof(*s->v)) < 0)
		goto nomem;
	s->v[s->n++] = v;
	return 0;
nomem:
	ss->err = PE_NOMEM;
	return PE_NOMEM;
}

static void series_release(struct series_set *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		free(ss->s[i].step);
		free(ss->s[i].v);
	}
	free(ss->s);
	memset(ss, 0, sizeof(*ss));
}

static struct series *series_of(struct series_set *ss, const char *step)
{
	for (size_t i = 0; i < ss->n; i++)
		if (strcmp(ss->s[i].step, step) == 0)
			return &ss->s[i];
	return NULL;
}

static bool is_up(const char *metric, const struct cmp_fig *f)
{
	if (isnan(f->recent_p50) || isnan(f->base_p50))
		return false;
	if (strcmp(metric, "rtt_ms") == 0)
		return f->recent_p50 > f->base_p50 * CMP_RTT_FACTOR &&
		       f->recent_p50 > f->base_p50 + CMP_RTT_FLOOR_MS;
	if (strcmp(metric, "retrans") == 0)
		return f->recent_p50 >= 1 && f->recent_p50 > f->base_p95;
	if (strcmp(metric, "think_ms") == 0)
		return f->recent_p50 > f->base_p50 * CMP_THINK_FACTOR &&
		       f->recent_p50 > f->base_p50 + CMP_THINK_FLOOR_MS;
	return false; /* ttfb_wire_ms: shown, not judged (rtt + think) */
}

/* The figures of one region of one scenario. */
static int region_figs(struct store *st, struct cmp_scenario *sc,
		       struct cmp_region *rg, const struct cmp_opts *o,
		       const char *recent_since, const char *base_since,
		       struct errbuf *err)
{
	for (size_t m = 0; m < sizeof(metrics) / sizeof(*metrics); m++) {
		struct series_set rec = { 0 }, base = { 0 };
		struct store_sample_filter fr = { recent_since, NULL, true };
		struct store_sample_filter fb = { base_since, recent_since,
						  false };
		int ret = store_samples(st, sc->name, rg->name, &fr,
					metrics[m], on_sample, &rec, err);
		if (ret == 0)
			ret = store_samples(st, sc->name, rg->name, &fb,
					    metrics[m], on_sample, &base, err);
		if (ret == 0 && (rec.err || base.err))
			ret = errbuf_set(err, PE_NOMEM, "out of memory");
		for (size_t i = 0; ret == 0 && i < rec.n; i++) {
			struct series *r = &rec.s[i];
			struct series *b = series_of(&base, r->step);
			if (xgrow(&sc->figs, &sc->cap_figs, sc->n_figs + 1,
				  sizeof(*sc->figs)) < 0) {
				ret = errbuf_set(err, PE_NOMEM, "out of memory");
				break;
			}
			struct cmp_fig *f = &sc->figs[sc->n_figs++];
			memset(f, 0, sizeof(*f));
			f->region = xstrdup(rg->name);
			f->step = xstrdup(r->step);
			f->metric = metrics[m];
			f->recent_n = r->n;
			f->recent_p50 = baseline_percentile(r->v, r->n, 50);
			f->recent_p95 = baseline_percentile(r->v, r->n, 95);
			f->base_n = b ? b->n : 0;
			f->base_p50 = b ? baseline_percentile(b->v, b->n, 50)
					: NAN;
			f->base_p95 = b ? baseline_percentile(b->v, b->n, 95)
					: NAN;
			if (f->base_n >= o->min_n) {
				rg->data = true;
				f->up = is_up(metrics[m], f);
			} else {
				f->base_p50 = f->base_n ? f->base_p50 : NAN;
			}
			if (f->up && m <= 1)
				rg->net_up = true;
			if (f->up && m == 2)
				rg->think_up = true;
			if (!f->region || !f->step)
				ret = errbuf_set(err, PE_NOMEM, "out of memory");
		}
		series_release(&rec);
		series_release(&base);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int on_addr(void *ctx, const char *text)
{
	struct cmp_region *rg = ctx;
	char *a = xstrdup(text);
	char **nv = realloc(rg->addrs, (rg->n_addrs + 1) * sizeof(*nv));
	if (!a || !nv) {
		free(a);
		if (nv)
			rg->addrs = nv;
		return PE_NOMEM;
	}
	rg->addrs = nv;
	rg->addrs[rg->n_addrs++] = a;
	return 0;
}

/* Does region a reach any server address that region b does not? */
static bool addrs_differ(const struct cmp_region *a, const struct cmp_region *b)
{
	for (size_t i = 0; i < a->n_addrs; i++) {
		bool found = false;
		for (size_t k = 0; k < b->n_addrs && !found; k++)
			found = strcmp(a->addrs[i], b->addrs[k]) == 0;
		if (!found)
			return true;
	}
	return false;
}

static char *names_of(const struct cmp_scenario *sc, bool think)
{
	size_t len = 1;
	for (size_t i = 0; i < sc->n_regions; i++)
		len += strlen(sc->regions[i].name) + 1;
	char *t = calloc(1, len);
	if (!t)
		return NULL;
	size_t at = 0;
	for (size_t i = 0; i < sc->n_regions; i++) {
		const struct cmp_region *r = &sc->regions[i];
		if (!r->data || !(think ? r->think_up : r->net_up))
			continue;
		int n = snprintf(t + at, len - at, "%s%s", at ? " " : "",
				 r->name);
		if (n > 0)
			at += (size_t)n; /* sized above: never truncates */
	}
	return t;
}

static void decide(struct cmp_scenario *sc)
{
	size_t data = 0, net = 0, think = 0;
	for (size_t i = 0; i < sc->n_regions; i++) {
		const struct cmp_region *r = &sc->regions[i];
		if (!r->data)
			continue;
		data++;
		net += r->net_up;
		think += r->think_up;
	}
	sc->verdict = CMP_NONE;
	if (net == 0 && think == 0)
		return;
	if (think > 0 && think == data && data >= 2) {
		sc->verdict = CMP_APPLICATION_WIDE;
		return;
	}
	if (think > 0) {
		/* think up in some regions: a different front end for them? */
		bool differ = true;
		for (size_t i = 0; i < sc->n_regions && differ; i++) {
			const struct cmp_region *a = &sc->regions[i];
			if (!a->data || !a->think_up)
				continue;
			for (size_t k = 0; k < sc->n_regions; k++) {
				const struct cmp_region *b = &sc->regions[k];
				if (b->data && !b->think_up &&
				    !addrs_differ(a, b))
					differ = false;
			}
		}
		if (differ && net == 0) {
			sc->verdict = CMP_SERVER_LOCAL;
			sc->regions_text = names_of(sc, true);
			return;
		}
		sc->verdict = CMP_MIXED;
		return;
	}
	sc->verdict = CMP_NETWORK_LOCAL;
	sc->regions_text = names_of(sc, false);
}

struct pairs {
	struct cmp_result *res;
	int err;
};

static int on_pair(void *ctx, const char *scenario, const char *region)
{
	struct pairs *p = ctx;
	struct cmp_result *r = p->res;
	struct cmp_scenario *sc = NULL;
	if (r->n && strcmp(r->v[r->n - 1].name, scenario) == 0)
		sc = &r->v[r->n - 1];
	if (!sc) {
		struct cmp_scenario *nv =
			realloc(r->v, (r->n + 1) * sizeof(*nv));
		if (!nv)
			return p->err = PE_NOMEM;
		r->v = nv;
		sc = &r->v[r->n++];
		memset(sc, 0, sizeof(*sc));
		if (!(sc->name = xstrdup(scenario)))
			return p->err = PE_NOMEM;
	}
	struct cmp_region *nv =
		realloc(sc->regions, (sc->n_regions + 1) * sizeof(*nv));
	if (!nv)
		return p->err = PE_NOMEM;
	sc->regions = nv;
	struct cmp_region *rg = &sc->regions[sc->n_regions++];
	memset(rg, 0, sizeof(*rg));
	if (!(rg->name = xstrdup(region)))
		return p->err = PE_NOMEM;
	return 0;
}

int escalate_compare(struct store *st, const char *scenario,
		     const struct cmp_opts *o, struct cmp_result *out,
		     struct errbuf *err)
{
	memset(out, 0, sizeof(*out));
	char recent[TIMEUTIL_UTC_LEN], base[TIMEUTIL_UTC_LEN];
	if (timeutil_utc_minus_seconds(o->now, (uint64_t)o->recent_min * 60,
				       recent, sizeof(recent)) < 0 ||
	    timeutil_utc_minus_days(recent, o->days, base, sizeof(base)) < 0)
		return errbuf_set(err, PE_INVAL, "bad time '%s'", o->now);
	struct pairs p = { out, 0 };
	int ret = store_scenario_regions(st, scenario, on_pair, &p, err);
	if (ret == 0 && p.err)
		ret = errbuf_set(err, p.err, "out of memory");
	for (size_t i = 0; ret == 0 && i < out->n; i++) {
		struct cmp_scenario *sc = &out->v[i];
		for (size_t k = 0; ret == 0 && k < sc->n_regions; k++) {
			struct cmp_region *rg = &sc->regions[k];
			char r_since[TIMEUTIL_UTC_LEN], b_since[TIMEUTIL_UTC_LEN];
			snprintf(r_since, sizeof(r_since), "%s", recent);
			snprintf(b_since, sizeof(b_since), "%s", base);
			if (o->recent_runs) {
				/* this region's last N runs are the recent */
				ret = store_nth_latest_start(
					st, sc->name, rg->name, o->recent_runs,
					r_since, sizeof(r_since), err);
				if (ret == 0)
					snprintf(r_since, sizeof(r_since), "%s",
						 "0000"); /* fewer: all */
				if (ret >= 0 &&
				    timeutil_utc_minus_days(r_since, o->days,
							    b_since,
							    sizeof(b_since)) < 0)
					snprintf(b_since, sizeof(b_since), "%s",
						 "0000");
				if (ret > 0)
					ret = 0;
			}
			if (ret == 0)
				ret = region_figs(st, sc, rg, o, r_since,
						  b_since, err);
			if (ret == 0)
				ret = store_scenario_addrs(st, sc->name,
							   rg->name, r_since,
							   on_addr, rg, err);
		}
		if (ret == 0)
			decide(sc);
	}
	if (ret < 0)
		cmp_result_release(out);
	return ret;
}

void cmp_result_release(struct cmp_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct cmp_scenario *sc = &r->v[i];
		for (size_t k = 0; k < sc->n_regions; k++) {
			for (size_t a = 0; a < sc->regions[k].n_addrs; a++)
				free(sc->regions[k].addrs[a]);
			free(sc->regions[k].addrs);
			free(sc->regions[k].name);
		}
		for (size_t k = 0; k < sc->n_figs; k++) {
			free(sc->figs[k].region);
			free(sc->figs[k].step);
		}
		free(sc->regions);
		free(sc->figs);
		free(sc->regions_text);
		free(sc->name);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}
