/*
 * threshold.c: a run's thresholds, evaluated (threshold.h).
 */
#include "escalate/threshold.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/metric.h"
#include "util/xalloc.h"

static double step_field(const struct step_rec *s, enum metric m)
{
	switch (m) {
	case M_DNS_MS: return s->dns_ms;
	case M_CONNECT_MS: return s->connect_ms;
	case M_TLS_MS: return s->tls_ms;
	case M_TTFB_MS: return s->ttfb_ms;
	case M_TOTAL_MS: return s->total_ms;
	default: return NAN;
	}
}

static double count_value(int64_t v)
{
	return v == RUN_NULL_INT ? NAN : (double)v;
}

static double conn_field(const struct conn_rec *c, enum metric m)
{
	switch (m) {
	case M_RTT_MS: return c->rtt_ms;
	case M_TLS_SERVER_MS: return c->tls_server_ms;
	case M_SYN_RETRANS: return count_value(c->syn_retrans);
	case M_BYTES_IN: return count_value(c->bytes_in);
	case M_BYTES_OUT: return count_value(c->bytes_out);
	case M_RETRANS: return count_value(c->retrans);
	case M_DUP_ACKS: return count_value(c->dup_acks);
	case M_ZERO_WINDOW: return count_value(c->zero_window);
	case M_OUT_OF_ORDER: return count_value(c->out_of_order);
	case M_LOST_IN: return count_value(c->lost_in);
	default: return NAN;
	}
}

static double exchange_field(const struct exchange_rec *x, enum metric m)
{
	switch (m) {
	case M_REQUEST_ACK_MS: return x->request_ack_ms;
	case M_TTFB_WIRE_MS: return x->ttfb_wire_ms;
	case M_THINK_MS: return x->think_ms;
	case M_TRANSFER_MS: return x->transfer_ms;
	case M_GOODPUT_KBPS: return x->goodput_kbps;
	default: return NAN;
	}
}

static bool upward(enum scn_cmp c)
{
	return c == SCN_CMP_GT || c == SCN_CMP_GE;
}

/* The worse of a and b for the comparison (NAN loses). */
static double worse(double a, double b, enum scn_cmp c)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	return upward(c) ? fmax(a, b) : fmin(a, b);
}

/* A step's figure for the threshold (NAN: none). */
static double step_value(const struct run_rec *run, const struct step_rec *s,
			 const struct scn_threshold *t)
{
	if (t->is_finding) {
		double n = 0;
		for (size_t i = 0; i < s->n_findings; i++)
			n += s->findings[i].code &&
			     strcmp(s->findings[i].code, t->metric) == 0;
		return n;
	}
	int m = metric_by_name(t->metric);
	if (m < 0)
		return NAN;
	const struct metric_info *mi = metric_info((enum metric)m);
	double v = NAN;
	switch (mi->level) {
	case METRIC_STEP:
		return step_field(s, (enum metric)m);
	case METRIC_CONNECTION:
		for (size_t i = 0; i < s->n_conns; i++)
			v = worse(v, conn_field(&s->conns[i], (enum metric)m),
				  t->cmp);
		for (size_t i = 0; i < s->n_exchanges; i++) {
			const struct conn_rec *c =
				run_rec_conn_by_key(run, s->exchanges[i].conn_key);
			if (c)
				v = worse(v, conn_field(c, (enum metric)m),
					  t->cmp);
		}
		return v;
	default:
		for (size_t i = 0; i < s->n_exchanges; i++)
			v = worse(v,
				  exchange_field(&s->exchanges[i],
						 (enum metric)m),
				  t->cmp);
		return v;
	}
}

static bool holds(double v, enum scn_cmp c, double lim)
{
	switch (c) {
	case SCN_CMP_GT: return v > lim;
	case SCN_CMP_GE: return v >= lim;
	case SCN_CMP_LT: return v < lim;
	default: return v <= lim;
	}
}

/* The limit for step s from its baseline; NAN with *n and a note when
 * there is no usable one. */
static double baseline_limit(const struct thr_env *env,
			     const struct run_rec *run,
			     const struct step_rec *s,
			     const struct scn_threshold *t, int64_t *n,
			     struct errbuf *err, int *ret)
{
	*n = 0;
	if (!env->st)
		return NAN;
	const char *fam = s->family ? run_family_names[s->family] : "any";
	const char *state = s->conn_state
				    ? run_conn_state_names[s->conn_state]
				    : "any";
	struct store_baseline b;
	int r = store_baseline_get(env->st, run->scenario, s->name,
				   run->region, fam, state, t->metric, &b,
				   err);
	if (r == 1 && b.n >= env->min_n)
		goto found;
	if (r >= 0)
		r = store_baseline_get(env->st, run->scenario, s->name,
				       run->region, "any", "any", t->metric,
				       &b, err);
	if (r < 0) {
		*ret = r;
		return NAN;
	}
	if (r == 0)
		return NAN;
	*n = b.n;
	if (b.n < env->min_n)
		return NAN;
found:
	*n = b.n;
	switch (t->pct) {
	case 0: return t->value * b.p50;
	case 50: return b.p50;
	case 90: return b.p90;
	case 95: return b.p95;
	default: return b.p99;
	}
}

static int eval_one(const struct scn_plan *plan, struct run_rec *run,
		    const struct thr_env *env, const struct scn_threshold *t,
		    struct errbuf *err)
{
	(void)plan;
	double best_v = NAN, best_lim = NAN, best_score = -INFINITY;
	const struct step_rec *best = NULL;
	int64_t best_n = RUN_NULL_INT, min_seen_n = -1;
	bool met = false, any_value = false;
	int ret = 0;
	for (size_t i = 0; i < run->n_steps; i++) {
		const struct step_rec *s = &run->steps[i];
		if (s->skipped || (t->step && strcmp(t->step, s->name) != 0))
			continue;
		double v = step_value(run, s, t);
		if (isnan(v))
			continue;
		any_value = true;
		double lim = t->value;
		int64_t n = RUN_NULL_INT;
		if (t->of_baseline) {
			lim = baseline_limit(env, run, s, t, &n, err, &ret);
			if (ret < 0)
				return ret;
			if (min_seen_n < 0 || n < min_seen_n)
				min_seen_n = n;
			if (isnan(lim))
				continue;
		}
		bool h = holds(v, t->cmp, lim);
		/* which step tells the story: a holding one before others,
		 * then the furthest past (or nearest to) its limit */
		double score = (h ? 1e12 : 0) +
			       (upward(t->cmp) ? v - lim : lim - v);
		if (!best || score > best_score) {
			best = s;
			best_score = score;
			best_v = v;
			best_lim = lim;
			best_n = n;
		}
		met = met || h;
	}
	/* scenario-wide finding codes count the run's own findings too */
	if (t->is_finding && !t->step) {
		double n = 0;
		for (size_t i = 0; i < run->n_findings; i++)
			n += run->findings[i].code &&
			     strcmp(run->findings[i].code, t->metric) == 0;
		if (n > 0 && (isnan(best_v) || n > best_v)) {
			best = NULL;
			best_v = n;
			best_lim = t->value;
			any_value = true;
		}
		met = met || holds(best_v, t->cmp, t->value);
	}
	struct thresh_rec *r;
	if ((ret = run_rec_add_thresh(run, &r)) < 0)
		return errbuf_set(err, ret, "thresholds: %s", pe_name(ret));
	r->threshold = scn_threshold_text(t);
	r->metric = xstrdup(t->metric);
	r->step = best && best->name ? xstrdup(best->name) : NULL;
	r->value = best_v;
	r->limit_value = best_lim;
	r->baseline_n = t->of_baseline ? (best ? best_n : min_seen_n)
				       : RUN_NULL_INT;
	if (r->baseline_n < 0)
		r->baseline_n = t->of_baseline ? 0 : RUN_NULL_INT;
	r->met = met;
	if (!any_value)
		r->note = xstrdup("no figure");
	else if (t->of_baseline && !best)
		r->note = xasprintf("baseline not ready (n=%lld, needs %u)",
				    (long long)(min_seen_n < 0 ? 0 : min_seen_n),
				    env->min_n);
	if (!r->threshold || !r->metric)
		return errbuf_set(err, PE_NOMEM, "out of memory");
	unsigned streak = 0;
	if (met && t->for_runs > 1 && env->st) {
		ret = store_threshold_streak(env->st, run->scenario,
					     run->region, r->threshold,
					     t->for_runs - 1, &streak, err);
		if (ret < 0)
			return ret;
	}
	r->breached = met && (t->for_runs <= 1 || streak >= t->for_runs - 1);
	if (r->breached)
		run->breach = true;
	return 0;
}

int escalate_thresholds(const struct scn_plan *plan, struct run_rec *run,
			const struct thr_env *env, struct errbuf *err)
{
	for (size_t i = 0; i < plan->n_thresholds; i++) {
		int ret = eval_one(plan, run, env, &plan->thresholds[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}
