/*
 * baseline.h: per-region baselines of every public figure (DESIGN
 * sections 6, 7, 9): p50/p90/p95/p99 and n per scenario, step, region,
 * address family and connection state, over a window of days, from the
 * runs that did not breach a threshold.
 *
 * Each (step, family, state) gets its row, and each step an ('any',
 * 'any') row over all its samples: a relative threshold looks at its
 * step's own family and state first and falls back to the step's 'any'
 * row when that one is too thin.  Rows are rewritten when a run lands
 * (escalate_baseline_update for its scenario and region) and all at once
 * by `probe baseline`.
 */
#ifndef PROBE_ESCALATE_BASELINE_H
#define PROBE_ESCALATE_BASELINE_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

#define BASELINE_MIN_N_DEFAULT 30
#define BASELINE_DAYS_DEFAULT 7
#define BASELINE_MAX_SAMPLES 100000 /* per row: the newest are kept */

struct baseline_opts {
	unsigned min_n;        /* below it, relative thresholds cannot hold */
	unsigned days;         /* window: runs started this many days back */
};

/*
 * Recompute the baselines of one scenario in one region at now (UTC
 * text).  Returns the number of rows written, or a negative PE_*.
 */
int escalate_baseline_update(struct store *st, const char *scenario,
			     const char *region, const struct baseline_opts *o,
			     const char *now_utc, struct errbuf *err);

/* The percentile p (0..100) of v[0..n) (sorted in place), linear
 * interpolation between closest ranks; NAN when n == 0. */
double baseline_percentile(double *v, size_t n, double p);

#endif
