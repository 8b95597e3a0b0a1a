/* report.c: gathering a report from the store (report.h). */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "escalate/baseline.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

const char *const report_metric_names[REPORT_N_METRICS] = {
	[REPORT_THINK] = "think_ms",
	[REPORT_RTT] = "rtt_ms",
};

struct samples {
	double *v;
	size_t n, cap;
	int err;
};

static int on_sample(void *ctx, const char *step, const char *family,
		     const char *conn_state, double value)
{
	(void)step, (void)family, (void)conn_state;
	struct samples *s = ctx;
	if (xgrow(&s->v, &s->cap, s->n + 1, sizeof(*s->v)) < 0) {
		s->err = PE_NOMEM;
		return 1;
	}
	s->v[s->n++] = value;
	return 0;
}

void report_bucket_start(const struct report *r, size_t i, char *buf,
			 size_t len)
{
	if (timeutil_utc((r->since_s + (int64_t)i * r->bucket_s) *
				 1000000000,
			 buf, len) < 0 && len)
		buf[0] = '\0';
}

/* p50/p95 of one metric of one region, slice by slice. */
static int series_of(struct store *st, const struct report *r,
		     const char *scenario, struct report_series *se,
		     enum report_metric m, struct errbuf *err)
{
	struct samples s = { 0 };
	int ret = 0;
	for (size_t i = 0; i < REPORT_BUCKETS && ret == 0; i++) {
		char from[40], until[40];
		report_bucket_start(r, i, from, sizeof(from));
		if (i + 1 < REPORT_BUCKETS)
			report_bucket_start(r, i + 1, until, sizeof(until));
		else
			snprintf(until, sizeof(until), "%s", r->until);
		struct store_sample_filter f = { from, until, true };
		s.n = 0;
		ret = store_samples(st, scenario, se->region, &f,
				    report_metric_names[m], on_sample, &s,
				    err);
		if (ret == 0 && s.err)
			ret = errbuf_set(err, s.err, "out of memory");
		struct report_point *p = &se->pts[m][i];
		p->n = s.n;
		p->p50 = baseline_percentile(s.v, s.n, 50);
		p->p95 = baseline_percentile(s.v, s.n, 95);
	}
	free(s.v);
	return ret;
}

static struct report_scenario *scenario_of(struct report *r,
					   const char *name)
{
	if (r->n && strcmp(r->v[r->n - 1].name, name) == 0)
		return &r->v[r->n - 1];
	struct report_scenario *v = realloc(r->v, (r->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	r->v = v;
	struct report_scenario *sc = &r->v[r->n];
	memset(sc, 0, sizeof(*sc));
	if (!(sc->name = xstrdup(name)))
		return NULL;
	r->n++;
	return sc;
}

/* The latest run of each scenario and region, grouped by scenario. */
static int latest_runs(struct store *st, struct report *r,
		       struct errbuf *err)
{
	struct store_run_filter f = { .since = r->o.since,
				      .scenario = r->o.scenario };
	int64_t *seqs = calloc(REPORT_MAX_RUNS, sizeof(*seqs));
	size_t n = 0;
	if (!seqs)
		return errbuf_set(err, PE_NOMEM, "out of memory");
	int ret = store_latest_runs(st, &f, r->o.region, seqs,
				    REPORT_MAX_RUNS, &n, err);
	if (n > REPORT_MAX_RUNS) {
		r->n_runs_left_out = n - REPORT_MAX_RUNS;
		n = REPORT_MAX_RUNS;
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct run_rec run;
		ret = store_run_load(st, seqs[i], &run, err);
		struct report_scenario *sc =
			ret == 0 ? scenario_of(r, run.scenario) : NULL;
		struct run_rec *v = NULL;
		if (ret == 0 && sc)
			v = realloc(sc->runs, (sc->n_runs + 1) * sizeof(*v));
		if (ret == 0 && !v) {
			ret = errbuf_set(err, PE_NOMEM, "out of memory");
		} else if (ret == 0) {
			sc->runs = v;
			sc->runs[sc->n_runs++] = run; /* moved: owned there */
			continue;
		}
		run_rec_release(&run);
	}
	free(seqs);
	return ret;
}

/* The series' window: --since to now, else the default before now. */
static int window(struct report *r, struct errbuf *err)
{
	int64_t until_s, since_s;
	if (timeutil_utc_parse(r->o.now, &until_s) < 0)
		return errbuf_set(err, PE_INVAL, "bad time '%s'", r->o.now);
	if (r->o.since) {
		if (timeutil_utc_parse(r->o.since, &since_s) < 0)
			return errbuf_set(err, PE_INVAL, "since: '%s' is not "
					  "a UTC time", r->o.since);
	} else {
		since_s = until_s - REPORT_DEFAULT_WINDOW_S;
	}
	if (since_s >= until_s)
		since_s = until_s - REPORT_BUCKETS;
	r->bucket_s = (until_s - since_s + REPORT_BUCKETS - 1) / REPORT_BUCKETS;
	r->since_s = since_s;
	if (timeutil_utc(since_s * 1000000000, r->since, sizeof(r->since)) <
		    0 ||
	    timeutil_utc(until_s * 1000000000, r->until, sizeof(r->until)) <
		    0)
		return errbuf_set(err, PE_INVAL, "bad window");
	return 0;
}

struct regions {
	struct report_scenario *sc;
	const char *only;
	int err;
};

static int on_region(void *ctx, const char *scenario, const char *region)
{
	(void)scenario;
	struct regions *g = ctx;
	struct report_scenario *sc = g->sc;
	if (g->only && strcmp(g->only, region) != 0)
		return 0;
	struct report_series *v =
		realloc(sc->series, (sc->n_series + 1) * sizeof(*v));
	if (!v) {
		g->err = PE_NOMEM;
		return 1;
	}
	sc->series = v;
	memset(&v[sc->n_series], 0, sizeof(*v));
	if (!(v[sc->n_series].region = xstrdup(region))) {
		g->err = PE_NOMEM;
		return 1;
	}
	sc->n_series++;
	return 0;
}

static int history(struct store *st, struct report *r, struct errbuf *err)
{
	struct cmp_opts co = r->o.cmp;
	co.now = r->o.now;
	int ret = escalate_compare(st, r->o.scenario, &co, &r->cmp, err);
	for (size_t i = 0; ret == 0 && i < r->n; i++) {
		struct report_scenario *sc = &r->v[i];
		for (size_t k = 0; k < r->cmp.n; k++)
			if (strcmp(r->cmp.v[k].name, sc->name) == 0)
				sc->cmp = &r->cmp.v[k];
		struct regions g = { sc, r->o.region, 0 };
		ret = store_scenario_regions(st, sc->name, on_region, &g, err);
		if (ret == 0 && g.err)
			ret = errbuf_set(err, g.err, "out of memory");
		for (size_t k = 0; ret == 0 && k < sc->n_series; k++) {
			struct report_series *se = &sc->series[k];
			for (int m = 0; ret == 0 && m < REPORT_N_METRICS; m++)
				ret = series_of(st, r, sc->name, se,
						(enum report_metric)m, err);
		}
	}
	return ret;
}

int report_collect(struct store *st, const struct report_opts *o,
		   struct report *out, struct errbuf *err)
{
	memset(out, 0, sizeof(*out));
	out->o = *o;
	int ret = window(out, err);
	if (ret == 0)
		ret = latest_runs(st, out, err);
	if (ret == 0 && o->history)
		ret = history(st, out, err);
	return ret;
}

void report_release(struct report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct report_scenario *sc = &r->v[i];
		for (size_t k = 0; k < sc->n_runs; k++)
			run_rec_release(&sc->runs[k]);
		free(sc->runs);
		for (size_t k = 0; k < sc->n_series; k++)
			free(sc->series[k].region);
		free(sc->series);
		free(sc->name);
	}
	free(r->v);
	cmp_result_release(&r->cmp);
	memset(r, 0, sizeof(*r));
}
