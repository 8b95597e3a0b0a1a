/*
 * baseline.c: per-region baselines of every public figure (baseline.h).
 */
#include "escalate/baseline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/metric.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

/* The samples of one baseline row. */
struct group {
	char *step, *family, *state;
	double *v;
	size_t n, cap;
};

struct groups {
	struct group *g;
	size_t n, cap;
	int err;
};

static struct group *group_of(struct groups *gs, const char *step,
			      const char *family, const char *state)
{
	for (size_t i = 0; i < gs->n; i++)
		if (strcmp(gs->g[i].step, step) == 0 &&
		    strcmp(gs->g[i].family, family) == 0 &&
		    strcmp(gs->g[i].state, state) == 0)
			return &gs->g[i];
	if (xgrow(&gs->g, &gs->cap, gs->n + 1, sizeof(*gs->g)) < 0)
		return NULL;
	struct group *g = &gs->g[gs->n];
	memset(g, 0, sizeof(*g));
	g->step = xstrdup(step);
	g->family = xstrdup(family);
	g->state = xstrdup(state);
	if (!g->step || !g->family || !g->state) {
		free(g->step), free(g->family), free(g->state);
		return NULL;
	}
	gs->n++;
	return g;
}

static int group_add(struct group *g, double v)
{
	if (g->n >= BASELINE_MAX_SAMPLES) {
		/* keep the newest: samples come oldest first */
		memmove(g->v, g->v + 1, (g->n - 1) * sizeof(*g->v));
		g->v[g->n - 1] = v;
		return 0;
	}
	if (xgrow(&g->v, &g->cap, g->n + 1, sizeof(*g->v)) < 0)
		return PE_NOMEM;
	g->v[g->n++] = v;
	return 0;
}

static int on_sample(void *ctx, const char *step, const char *family,
		     const char *state, double v)
{
	struct groups *gs = ctx;
	/* one at a time: group_of() may move gs->g */
	struct group *own = group_of(gs, step, family, state);
	if (!own || group_add(own, v) < 0)
		goto nomem;
	if (strcmp(family, "any") == 0 && strcmp(state, "any") == 0)
		return 0;
	struct group *any = group_of(gs, step, "any", "any");
	if (!any || group_add(any, v) < 0)
		goto nomem;
	return 0;
nomem:
	gs->err = PE_NOMEM;
	return PE_NOMEM;
}

static void groups_release(struct groups *gs)
{
	for (size_t i = 0; i < gs->n; i++) {
		free(gs->g[i].step);
		free(gs->g[i].family);
		free(gs->g[i].state);
		free(gs->g[i].v);
	}
	free(gs->g);
	memset(gs, 0, sizeof(*gs));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double baseline_percentile(double *v, size_t n, double p)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	double rank = p / 100.0 * (double)(n - 1);
	size_t lo = (size_t)floor(rank);
	size_t hi = lo + 1 < n ? lo + 1 : lo;
	return v[lo] + (v[hi] - v[lo]) * (rank - (double)lo);
}

int escalate_baseline_update(struct store *st, const char *scenario,
			     const char *region, const struct baseline_opts *o,
			     const char *now_utc, struct errbuf *err)
{
	char since[40];
	if (timeutil_utc_minus_days(now_utc, o->days, since,
				    sizeof(since)) < 0)
		return errbuf_set(err, PE_INVAL, "bad time '%s'", now_utc);
	int rows = 0;
	for (int m = 0; m < M_COUNT; m++) {
		const struct metric_info *mi = metric_info((enum metric)m);
		struct groups gs = { 0 };
		int ret = store_baseline_samples(st, scenario, region, since,
						 mi->name, on_sample, &gs, err);
		if (ret == 0 && gs.err)
			ret = errbuf_set(err, gs.err, "out of memory");
		for (size_t i = 0; ret == 0 && i < gs.n; i++) {
			struct group *g = &gs.g[i];
			struct store_baseline b = {
				scenario, g->step, region, g->family,
				g->state, mi->name,
				baseline_percentile(g->v, g->n, 50),
				baseline_percentile(g->v, g->n, 90),
				baseline_percentile(g->v, g->n, 95),
				baseline_percentile(g->v, g->n, 99),
				(int64_t)g->n, since, now_utc, now_utc,
			};
			ret = store_baseline_put(st, &b, err);
			rows++;
		}
		groups_release(&gs);
		if (ret < 0)
			return ret;
	}
	return rows;
}
