/*
 * store.h: the SQLite store of runs (DESIGN section 7).
 *
 * One struct store is one connection to one database file.  Opening it
 * creates the file (mode 0600) when missing, switches it to WAL and
 * applies the pending schema/ migrations; then runs are saved whole, one
 * transaction each, and read back for report, serve and collect.
 * The schema itself is documented in schema/001_initial.sql.
 *
 * A store is used by one thread at a time.  Several processes may share
 * the file: writers wait up to STORE_BUSY_TIMEOUT_MS for each other's
 * locks, then fail with PE_BUSY.
 *
 * Only src/store/ includes sqlite3.h; nothing here exposes it.
 */
#ifndef PROBE_STORE_STORE_H
#define PROBE_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/run.h"
#include "util/err.h"

#define STORE_BUSY_TIMEOUT_MS 5000

struct store;

/*
 * Open (creating with mode 0600 if need be) the database at path, set it
 * up and bring its schema to the latest version.  On success *out is a
 * store for store_close().  Errors: PE_IO (cannot create the file),
 * PE_SCHEMA (the database is newer than this probe, which then leaves it
 * untouched; or a migration failed), PE_BUSY, PE_NOMEM, PE_STORE (not a
 * database, WAL refused...).
 */
int store_open(const char *path, struct store **out, struct errbuf *err)
	PE_WARN_UNUSED;

/* Close st (NULL is fine).  Nothing can fail: every write has committed. */
void store_close(struct store *st);

/*
 * The schema version the file had when store_open found it (0: new or
 * empty); store_schema_version() tells where it is now.
 */
int store_opened_version(const struct store *st);

/* The schema version (PRAGMA user_version) now, or a negative PE_*. */
int store_schema_version(struct store *st) PE_WARN_UNUSED;

/* The SQLite library's version ("3.40.1"), for `probe --version`. */
const char *store_sqlite_version(void);

/*
 * Save a whole run: its runs row, steps, certificates, connections,
 * exchanges, findings and pcap, in one transaction.  On success sets
 * run->seq and the id of every record; on failure nothing of the run is
 * in the database and run->seq is 0.  The run is otherwise not changed
 * and stays the caller's.
 * Errors: PE_INVAL (a conn_key that names no connection, two connections
 * with one key, an enum out of range), PE_LIMIT (a string longer than
 * RUN_MAX_TEXT, arrays beyond the RUN_MAX_* caps), PE_STORE (a constraint
 * of the schema: a required field NULL, a duplicate run_id...), PE_BUSY,
 * PE_NOMEM.
 */
int store_run_save(struct store *st, struct run_rec *run, struct errbuf *err)
	PE_WARN_UNUSED;

/* Which runs store_runs_list() visits. */
struct store_run_filter {
	/*
	 * Only runs with started_at >= since; NULL for all.  A UTC time in
	 * the schema's form or any prefix of it that ends in a digit:
	 * "2026-11-23", "2026-11-23T13:00", "2026-11-23T13:43:04.123456Z".
	 */
	const char *since;
	const char *scenario; /* only this scenario; NULL for all */
	size_t limit;         /* at most this many runs; 0 for no limit */
};

/* What store_runs_list() tells about each run.  Strings are borrowed for
 * the duration of the callback only; NULL where the column is NULL. */
struct run_summary {
	int64_t seq;
	const char *run_id;
	const char *scenario, *scenario_file;
	const char *region, *probe_id;
	const char *started_at, *finished_at;
	bool ok, breach;
	const char *clock_sync, *capture;
	const char *error;
	int64_t n_steps;        /* steps stored */
	int64_t n_failed;       /* steps that ran and failed */
	int64_t n_findings;     /* findings of the run and its steps */
};

/*
 * Call cb for each run that f selects (f NULL: all), newest first (by
 * started_at, then seq).  cb returns 0 to go on, > 0 to stop (then this
 * returns 0) or a negative PE_* to stop and fail with it (its own message
 * in err).  cb must not call store_runs_list on the same store.
 * Errors: PE_INVAL (a malformed since), PE_STORE, PE_BUSY, cb's.
 */
int store_runs_list(struct store *st, const struct store_run_filter *f,
		    int (*cb)(const struct run_summary *, void *ctx),
		    void *ctx, struct errbuf *err) PE_WARN_UNUSED;

/*
 * The seq of the latest run (by started_at, then seq) of each scenario and
 * region among the runs that f selects (since and scenario; limit
 * ignored) and, when region is not NULL, of that region: up to max into
 * seqs[], ordered by scenario then region; *n how many there are (more
 * than max: the rest left out).  PE_INVAL (a malformed since), PE_STORE,
 * PE_BUSY.
 */
int store_latest_runs(struct store *st, const struct store_run_filter *f,
		      const char *region, int64_t *seqs, size_t max,
		      size_t *n, struct errbuf *err) PE_WARN_UNUSED;

/* ---- baselines (store_baseline.c) --------------------------------------- */

/* One row of the baselines table; strings borrowed. */
struct store_baseline {
	const char *scenario, *step, *region, *family, *conn_state, *metric;
	double p50, p90, p95, p99;
	int64_t n;
	const char *window_start, *window_end, *computed_at;
};

/* A sample: the step's name, family and connection state ('any' when
 * NULL), the figure.  Returns 0 to go on, non-zero to stop. */
typedef int store_sample_cb(void *ctx, const char *step, const char *family,
			    const char *conn_state, double value);
typedef int store_baseline_cb(void *ctx, const struct store_baseline *b);
typedef int store_pair_cb(void *ctx, const char *scenario,
			  const char *region);

/*
 * The figure `metric` (a public name of model/metric.c) of every step,
 * connection or exchange of the scenario's runs in the region that
 * started at or after since (UTC text; "" or NULL: all) and did not
 * breach, oldest first.  PE_INVAL for an unknown metric, PE_STORE.
 */
int store_baseline_samples(struct store *st, const char *scenario,
			   const char *region, const char *since,
			   const char *metric, store_sample_cb *cb, void *ctx,
			   struct errbuf *err) PE_WARN_UNUSED;

/* Which runs store_samples() reads. */
struct store_sample_filter {
	const char *since, *until;   /* started_at in [since, until); NULL */
	bool with_breaching;         /* false: runs that breached left out */
};

/* As store_baseline_samples, with the window and breaching runs the
 * filter says (baselines: no breaching runs; `probe compare`'s recent
 * figures: all of them). */
int store_samples(struct store *st, const char *scenario, const char *region,
		  const struct store_sample_filter *f, const char *metric,
		  store_sample_cb *cb, void *ctx, struct errbuf *err)
	PE_WARN_UNUSED;

typedef int store_text_cb(void *ctx, const char *text);

/* The distinct server addresses the scenario's connections in the region
 * went to, in runs started at or after since. */
int store_scenario_addrs(struct store *st, const char *scenario,
			 const char *region, const char *since,
			 store_text_cb *cb, void *ctx, struct errbuf *err)
	PE_WARN_UNUSED;

/* started_at of the scenario's n-th latest run in the region (n >= 1)
 * into buf: 1, 0 when there are fewer runs, or a negative PE_*. */
int store_nth_latest_start(struct store *st, const char *scenario,
			   const char *region, unsigned n, char *buf,
			   size_t len, struct errbuf *err) PE_WARN_UNUSED;

/* Insert or replace one baseline row. */
int store_baseline_put(struct store *st, const struct store_baseline *b,
		       struct errbuf *err) PE_WARN_UNUSED;

/* One baseline row's percentiles and n into *out: 1 found, 0 none, or a
 * negative PE_* (out's strings are not set). */
int store_baseline_get(struct store *st, const char *scenario,
		       const char *step, const char *region,
		       const char *family, const char *conn_state,
		       const char *metric, struct store_baseline *out,
		       struct errbuf *err) PE_WARN_UNUSED;

/* Every baseline row (of one scenario; NULL: all), sorted. */
int store_baseline_list(struct store *st, const char *scenario,
			store_baseline_cb *cb, void *ctx, struct errbuf *err)
	PE_WARN_UNUSED;

/* Every (scenario, region) the runs table has (one scenario; NULL: all). */
int store_scenario_regions(struct store *st, const char *scenario,
			   store_pair_cb *cb, void *ctx, struct errbuf *err)
	PE_WARN_UNUSED;

/*
 * How many of the latest runs of the scenario in the region that
 * evaluated this threshold (its canonical text), newest first, met it in
 * a row, looking at most max runs back: `for N runs` needs N - 1.
 */
int store_threshold_streak(struct store *st, const char *scenario,
			   const char *region, const char *threshold,
			   unsigned max, unsigned *streak, struct errbuf *err)
	PE_WARN_UNUSED;

/* ---- escalation pcaps (store_pcap.c) ------------------------------------ */

/*
 * One pcaps row with the run it belongs to, for `probe pcap` and
 * retention.  Strings are borrowed for the duration of the callback only;
 * NULL where the column is NULL.  pcap_id 0: the run has no pcap row (only
 * store_pcap_get() reports such runs).
 */
struct pcap_summary {
	int64_t run_seq;
	const char *run_id, *scenario, *region, *started_at;
	bool ok, breach;
	int64_t pcap_id;
	const char *path;
	int64_t bytes;            /* RUN_NULL_INT when unknown */
	const char *sha256;
	const char *created_at, *expires_at;
	bool pruned;
	const char *pruned_at;
	const char *reason;       /* "breach", "always" or NULL */
	bool keylog;              /* the file carries TLS secrets */
};

/* Which pcaps store_pcaps_list() visits. */
struct store_pcap_filter {
	const char *since;    /* runs started at or after (store_run_filter) */
	const char *scenario; /* only this scenario; NULL for all */
	bool include_pruned;  /* false: only files still kept */
	bool oldest_first;    /* by created_at, id (retention's order);
			       * false: newest run first, as `pcap list` */
};

/*
 * Call cb for each pcap row f selects (f NULL: kept ones, newest first).
 * cb's return as for store_runs_list(); cb must not use the store.
 * Errors: PE_INVAL (a malformed since), PE_STORE, PE_BUSY, cb's.
 */
int store_pcaps_list(struct store *st, const struct store_pcap_filter *f,
		     int (*cb)(const struct pcap_summary *, void *ctx),
		     void *ctx, struct errbuf *err) PE_WARN_UNUSED;

/*
 * The run run_id (or, when run_id is all digits and no run has that id,
 * the run with that seq) and its pcap rows: cb once per pcap row, or once
 * with pcap_id 0 when the run has none.  PE_NOTFOUND when there is no
 * such run; PE_STORE, PE_BUSY, cb's.
 */
int store_pcap_get(struct store *st, const char *run_id,
		   int (*cb)(const struct pcap_summary *, void *ctx),
		   void *ctx, struct errbuf *err) PE_WARN_UNUSED;

/* One threshold_evals row (borrowed strings, as above). */
struct thresh_eval_row {
	const char *threshold, *metric, *step;
	double value, limit_value;  /* NAN when NULL */
	int64_t baseline_n;         /* RUN_NULL_INT when NULL */
	bool met, breached;
	const char *note;
};

/* cb for each threshold evaluated for run seq, in stored order. */
int store_thresh_evals_list(struct store *st, int64_t run_seq,
			    int (*cb)(const struct thresh_eval_row *,
				      void *ctx),
			    void *ctx, struct errbuf *err) PE_WARN_UNUSED;

/* One findings row with its step's name (NULL: a run-wide finding). */
struct finding_row {
	const char *code;
	const char *packets;  /* JSON array of 1-based frame numbers, or NULL */
	const char *detail;
	const char *step;     /* steps.name */
	int64_t step_idx;     /* RUN_NULL_INT for a run-wide finding */
};

/* cb for each finding of run seq: run-wide first, then by step. */
int store_findings_list(struct store *st, int64_t run_seq,
			int (*cb)(const struct finding_row *, void *ctx),
			void *ctx, struct errbuf *err) PE_WARN_UNUSED;

/*
 * Mark pcaps row pcap_id pruned (its file is gone) at pruned_at (UTC, the
 * schema's form).  Marking a row already pruned changes nothing (its
 * pruned_at stays).  PE_NOTFOUND: no such row; PE_STORE, PE_BUSY.
 */
int store_pcap_mark_pruned(struct store *st, int64_t pcap_id,
			   const char *pruned_at, struct errbuf *err)
	PE_WARN_UNUSED;

/*
 * Row retention: delete the runs that started before `before` (UTC, the
 * schema's form) whose pcap rows are all pruned, with those pcap rows and
 * everything that cascades from the run (steps, connections, exchanges,
 * findings, certificates, threshold_evals), in one transaction.  A run
 * with a pcap still kept is left alone: prune its file first.  With
 * dry_run nothing changes and *n counts what would go now.  *n: runs.
 * Errors: PE_STORE, PE_BUSY.
 */
int store_runs_delete_before(struct store *st, const char *before,
			     bool dry_run, int64_t *n, struct errbuf *err)
	PE_WARN_UNUSED;

/* ---- serve (store_serve.c) ---------------------------------------------- */

/*
 * Load run seq whole into *out (run_rec_init'ed first): its runs row,
 * steps, certificates, connections, exchanges, findings, pcap row and
 * threshold evaluations, as store_run_save() wrote them.  Connection keys
 * are the connections' row ids.  The caller releases *out with
 * run_rec_release(), also on failure (it is then empty).
 * Errors: PE_NOTFOUND (no such run), PE_LIMIT, PE_NOMEM, PE_STORE,
 * PE_BUSY.
 */
int store_run_load(struct store *st, int64_t seq, struct run_rec *out,
		   struct errbuf *err) PE_WARN_UNUSED;

/* The seqs of at most max runs with seq > after, ascending, into seqs[];
 * *n how many.  PE_STORE, PE_BUSY. */
int store_runs_after(struct store *st, int64_t after, size_t max,
		     int64_t *seqs, size_t *n, struct errbuf *err)
	PE_WARN_UNUSED;

/* A figure for /metrics with its labels (borrowed for the call; "" for
 * NULL).  Returns 0 to go on, > 0 to stop, < 0 to fail. */
typedef int store_serve_sample_cb(void *ctx, const char *scenario,
				  const char *step, const char *region,
				  const char *probe_id, double value);

/*
 * Every non-NULL figure `metric` (a public name of model/metric.c) of the
 * runs started at or after since (UTC text; "" or NULL: all), sorted by
 * scenario, step, region, probe_id.  PE_INVAL (unknown metric), PE_STORE.
 */
int store_serve_samples(struct store *st, const char *metric,
			const char *since, store_serve_sample_cb *cb,
			void *ctx, struct errbuf *err) PE_WARN_UNUSED;

/* Runs grouped by scenario, region and probe_id (borrowed strings). */
struct store_serve_group {
	const char *scenario, *region, *probe_id;
	int64_t runs, breaches;     /* all stored runs of the group */
	bool last_ok;               /* the newest (highest seq) run's ok */
	const char *last_started_at;
};
typedef int store_serve_latest_cb(void *ctx,
				  const struct store_serve_group *g);

/* cb for each group, sorted; cb's return as for store_serve_samples. */
int store_serve_latest(struct store *st, store_serve_latest_cb *cb,
		       void *ctx, struct errbuf *err) PE_WARN_UNUSED;

/* From now on the connection refuses to write (PRAGMA query_only): serve
 * is read-only by construction.  PE_STORE. */
int store_query_only(struct store *st, struct errbuf *err) PE_WARN_UNUSED;
/* ---- collection from regional probes (store_collect.c) ------------------ */

/*
 * The regional seq `probe collect` has taken in up to from the probe at
 * base_url for region (table collect_cursors): *last_seq, 0 when never
 * collected.  PE_STORE, PE_BUSY.
 */
int store_cursor_get(struct store *st, const char *region,
		     const char *base_url, int64_t *last_seq,
		     struct errbuf *err) PE_WARN_UNUSED;

/* Set that cursor to last_seq, stamped now (one statement: atomic). */
int store_cursor_set(struct store *st, const char *region,
		     const char *base_url, int64_t last_seq,
		     struct errbuf *err) PE_WARN_UNUSED;

/* *exists: whether a run with this run_id is stored.  PE_STORE, PE_BUSY. */
int store_run_exists(struct store *st, const char *run_id, bool *exists,
		     struct errbuf *err) PE_WARN_UNUSED;

#endif
