/*
 * report.h: what `probe report` shows, gathered from the store once and
 * drawn by report_text.c (terminal, JSON) and report_html.c.
 *
 *   - per scenario, the latest run of each region (in the window, when
 *     one is given), loaded whole, drawn as waterfalls (waterfall.h);
 *   - for HTML, per scenario and region, p50 and p95 of think_ms and
 *     rtt_ms in REPORT_BUCKETS equal slices of the window (every run,
 *     breaching or not: a report shows what happened), and the `probe
 *     compare` verdict (escalate/compare.h) with its figures.
 */
#ifndef PROBE_REPORT_REPORT_H
#define PROBE_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "escalate/compare.h"
#include "model/run.h"
#include "store/store.h"
#include "util/err.h"

#define REPORT_MAX_RUNS 4096   /* latest runs (scenario x region) shown */
#define REPORT_BUCKETS 24      /* slices of the window of a series */
#define REPORT_DEFAULT_WINDOW_S (24 * 3600) /* series without --since */

enum report_metric { REPORT_THINK, REPORT_RTT, REPORT_N_METRICS };
extern const char *const report_metric_names[REPORT_N_METRICS];

struct report_point {
	double p50, p95;       /* NAN: no sample in the slice */
	size_t n;
};

struct report_series {
	char *region;
	struct report_point pts[REPORT_N_METRICS][REPORT_BUCKETS];
};

struct report_scenario {
	char *name;
	struct run_rec *runs;  /* latest of each region, by region */
	size_t n_runs;
	struct report_series *series;  /* by region */
	size_t n_series;
	const struct cmp_scenario *cmp; /* into report.cmp; NULL none */
};

struct report_opts {
	const char *since;     /* UTC text: the window's start; NULL none */
	const char *now;       /* UTC text: the window's end */
	const char *scenario, *region;  /* NULL: all */
	bool history;          /* the series and the verdict too (HTML) */
	struct cmp_opts cmp;   /* for the verdict (its now: opts.now) */
	const char *db_path;   /* shown in the HTML report */
	const char *spool;     /* where escalation pcaps are (links) */
};

struct report {
	struct report_opts o;        /* borrowed strings */
	char since[40], until[40];   /* the series' window */
	int64_t since_s, bucket_s;   /* its start (epoch s), slice length */
	struct report_scenario *v;
	size_t n;
	size_t n_runs_left_out;      /* beyond REPORT_MAX_RUNS */
	struct cmp_result cmp;
};

/* Gather the report; release *out also on failure.  PE_INVAL (a bad
 * since), PE_NOMEM, PE_STORE... */
int report_collect(struct store *st, const struct report_opts *o,
		   struct report *out, struct errbuf *err) PE_WARN_UNUSED;
void report_release(struct report *r);

/* The UTC text of slice i's start into buf. */
void report_bucket_start(const struct report *r, size_t i, char *buf,
			 size_t len);

/* Terminal: colour (ANSI) and Unicode bars or not. */
struct report_text_opts {
	bool color, unicode;
	unsigned width;        /* bar columns */
};
void report_text(FILE *out, const struct report *r,
		 const struct report_text_opts *o);
/* One JSON object per latest run, a line each (NDJSON). */
void report_json(FILE *out, const struct report *r);
/* The self-contained HTML page.  PE_IO when writing fails. */
int report_html(FILE *out, const struct report *r) PE_WARN_UNUSED;

#endif
