/*
 * threshold.h: a run's thresholds, evaluated (DESIGN sections 4 and 6).
 *
 * For each `threshold` of the plan, the run's figure: the named step's,
 * or for a scenario-wide threshold the worst step's (the largest for >
 * and >=, the smallest for < and <=).  A step's figure of a connection
 * or exchange metric is the worst of its connections or exchanges (those
 * of a connection reused from an earlier step count for the step that
 * used it); a finding code's figure is the number of such findings on
 * the step (and, scenario-wide, on the run).  Skipped steps and NULL
 * figures do not count; no figure at all is "not met" with note "no
 * figure".
 *
 * The limit: the value, or `Nx baseline` = N times the baseline's p50,
 * or `pNN` = the baseline's pNN, per step: its own family and connection
 * state's row, else the step's 'any' row.  A baseline of fewer than
 * min_n samples cannot be exceeded: "baseline not ready (n=12)".
 *
 * `for N runs`: met now and in the N - 1 runs before (same scenario and
 * region, as the store remembers them) makes it fire (`breached`); any
 * fired threshold makes run->breach true.  Every evaluation is recorded
 * in run->thresholds (stored in threshold_evals).
 */
#ifndef PROBE_ESCALATE_THRESHOLD_H
#define PROBE_ESCALATE_THRESHOLD_H

#include "model/run.h"
#include "scenario/scn_plan.h"
#include "store/store.h"
#include "util/err.h"

struct thr_env {
	struct store *st;       /* baselines and history; NULL: none */
	unsigned min_n;         /* baseline samples needed (>= 1) */
};

int escalate_thresholds(const struct scn_plan *plan, struct run_rec *run,
			const struct thr_env *env, struct errbuf *err)
	PE_WARN_UNUSED;

#endif
