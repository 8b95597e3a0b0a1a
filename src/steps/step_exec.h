/*
 * step_exec.h: run scenarios on the loop, up to N at once, each one's steps
 * in order, and fill their run records.
 *
 * The caller prepares one struct step_exec_item per scenario (its plan and
 * an initialised run record with the run's identity), then calls
 * step_exec_run(), which returns when every scenario has finished.
 * on_done is called for each as soon as it finishes (to store and print
 * it while others still run).
 */
#ifndef PROBE_STEPS_STEP_EXEC_H
#define PROBE_STEPS_STEP_EXEC_H

#include <stddef.h>

#include "model/run.h"
#include "scenario/scn_plan.h"
#include "steps/step.h"
#include "steps/step_loop.h"
#include "util/err.h"

struct step_exec_state; /* step_exec.c */

struct step_exec_item {
	const struct scn_plan *plan;
	struct run_rec *run;   /* caller-owned; identity fields set */
	int status;            /* out: 0, or a PE_* when probe itself failed */
	struct errbuf err;     /* out: the detail of a non-zero status */
	struct step_exec_state *state; /* private */
};

struct tls_trace_set;
struct step_flow;
struct clock_map;
/* During on_done: the run's TLS traces and sockets (freed after
 * step_exec_run returns). */
const struct tls_trace_set *step_exec_item_traces(
	const struct step_exec_item *item);
const struct step_flow *step_exec_item_flows(const struct step_exec_item *item,
					     size_t *n);

/* During on_done: the run's clock readings (start and end), to map the
 * wire's times onto the library's (DESIGN section 5). */
const struct clock_map *step_exec_item_clock(
	const struct step_exec_item *item);

typedef void (*step_exec_done_cb)(struct step_exec_item *item, void *ctx);

/*
 * Execute items[0..n) with at most parallel of them at once.  Returns 0
 * (each item's own status says how it went) or PE_IO/PE_NOMEM when the
 * loop itself failed.
 */
int step_exec_run(struct step_loop *loop, struct step_exec_item *items,
		  size_t n, unsigned parallel, const struct step_hooks *hooks,
		  step_exec_done_cb on_done, void *ctx) PE_WARN_UNUSED;

#endif
