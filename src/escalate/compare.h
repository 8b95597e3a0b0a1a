/*
 * compare.h: regions side by side, and a verdict per scenario (DESIGN
 * section 9): is a slowdown the network of some regions, the application
 * everywhere, or the front end some regions are sent to?
 *
 * For each scenario, region and step, the recent figures (runs started in
 * the last `recent` window, or each region's last N runs, breaching or
 * not) of rtt_ms, retrans,
 * think_ms and ttfb_wire_ms are set against the same region's baseline
 * (runs of the `days` before that window that did not breach).  A figure
 * is "up" when its recent p50 exceeds the baseline p50 by the factor and
 * the floor below (both must hold: a fast figure doubling by 0.1 ms is
 * noise) and the baseline has at least min_n samples:
 *   rtt_ms        x 1.5 and + 5 ms       (network)
 *   retrans       p50 above the baseline's p95, and >= 1 (network)
 *   think_ms      x 1.5 and + 20 ms      (application)
 * Per region: network up when rtt_ms or retrans is up for any step, think
 * up when think_ms is.  Verdict (regions with data only):
 *   NONE                nothing up
 *   APPLICATION_WIDE    think up in every region (two or more)
 *   SERVER_LOCAL R...   think up in some regions only, and the server
 *                       addresses those reached differ from the others'
 *   NETWORK_LOCAL R...  network up in some regions, think up nowhere
 *   MIXED               anything else (the figures tell)
 */
#ifndef PROBE_ESCALATE_COMPARE_H
#define PROBE_ESCALATE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

#define CMP_RTT_FACTOR 1.5
#define CMP_RTT_FLOOR_MS 5.0
#define CMP_THINK_FACTOR 1.5
#define CMP_THINK_FLOOR_MS 20.0

enum cmp_verdict { CMP_NONE, CMP_NETWORK_LOCAL, CMP_APPLICATION_WIDE,
		   CMP_SERVER_LOCAL, CMP_MIXED };
const char *cmp_verdict_name(enum cmp_verdict v);

struct cmp_opts {
	unsigned min_n;        /* baseline samples a figure needs */
	unsigned days;         /* baseline window before the recent one */
	unsigned recent_min;   /* the recent window, minutes */
	unsigned recent_runs;  /* instead (when > 0): each region's last N
				* runs of the scenario are the recent ones */
	const char *now;       /* UTC text */
};

/* One figure of one step of one region. */
struct cmp_fig {
	char *region, *step;
	const char *metric;    /* static */
	double recent_p50, recent_p95;
	size_t recent_n;
	double base_p50, base_p95;
	size_t base_n;
	bool up;
};

struct cmp_region {
	char *name;
	bool data;             /* recent figures and a ready baseline */
	bool net_up, think_up;
	char **addrs;          /* server addresses of its recent runs */
	size_t n_addrs;
};

struct cmp_scenario {
	char *name;
	enum cmp_verdict verdict;
	char *regions_text;    /* the regions named by the verdict, "a b" */
	struct cmp_region *regions;
	size_t n_regions;
	struct cmp_fig *figs;
	size_t n_figs, cap_figs;
};

struct cmp_result {
	struct cmp_scenario *v;
	size_t n;
};

/* Compare every scenario (or one).  0 or a negative PE_*. */
int escalate_compare(struct store *st, const char *scenario,
		     const struct cmp_opts *o, struct cmp_result *out,
		     struct errbuf *err) PE_WARN_UNUSED;
void cmp_result_release(struct cmp_result *r);

#endif
