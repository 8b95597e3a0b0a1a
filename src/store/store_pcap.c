/*
 * store_pcap.c: the escalation pcaps and what explains them (threshold
 * evaluations, findings), for `probe pcap` and retention; and row
 * retention of old runs.
 *
 * These statements run a few times per command, not per run, so they are
 * prepared on each call rather than kept in st->stmt[] (that table, in
 * internal.h, belongs to the hot path of store_run_save()).
 */
#include "store/internal.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_COLS                                                         \
	"SELECT r.seq, r.run_id, r.scenario, r.region, r.started_at,"     \
	" r.ok, r.breach, p.id, p.path, p.bytes, p.sha256, p.created_at," \
	" p.expires_at, p.pruned, p.pruned_at, p.reason, p.keylog"

/*
 * ?1 since ('' for all), ?2 scenario (NULL for all), ?3 1 to include
 * pruned rows.  `?2 IS NULL OR` keeps one statement for both cases; the
 * tables are small enough (one row per kept capture) not to need two.
 */
#define PCAP_LIST                                                         \
	PCAP_COLS " FROM pcaps p JOIN runs r ON r.seq = p.run_seq"        \
	" WHERE r.started_at >= ?1 AND (?2 IS NULL OR r.scenario = ?2)"   \
	" AND (?3 OR p.pruned = 0)"

static const char *text(sqlite3_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s, col);
}

static int64_t int_or_null(sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return RUN_NULL_INT;
	return sqlite3_column_int64(s, col);
}

static double real_or_nan(sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return NAN;
	return sqlite3_column_double(s, col);
}

static void fill_summary(sqlite3_stmt *s, struct pcap_summary *p)
{
	*p = (struct pcap_summary){
		.run_seq = sqlite3_column_int64(s, 0),
		.run_id = text(s, 1),
		.scenario = text(s, 2),
		.region = text(s, 3),
		.started_at = text(s, 4),
		.ok = sqlite3_column_int(s, 5) != 0,
		.breach = sqlite3_column_int(s, 6) != 0,
		.pcap_id = sqlite3_column_int64(s, 7),
		.path = text(s, 8),
		.bytes = int_or_null(s, 9),
		.sha256 = text(s, 10),
		.created_at = text(s, 11),
		.expires_at = text(s, 12),
		.pruned = sqlite3_column_int(s, 13) != 0,
		.pruned_at = text(s, 14),
		.reason = text(s, 15),
		.keylog = sqlite3_column_int(s, 16) != 0,
	};
}

/* Step s to the end, calling cb per row; finalizes s. */
static int each_summary(struct store *st, sqlite3_stmt *s,
			int (*cb)(const struct pcap_summary *, void *),
			void *ctx, int *rows, struct errbuf *err)
{
	int ret = 0, rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct pcap_summary p;
		fill_summary(s, &p);
		if (rows)
			(*rows)++;
		ret = cb(&p, ctx);
		if (ret != 0)
			break;
	}
	if (ret > 0)
		ret = 0;
	else if (ret == 0 && rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "list pcaps");
	sqlite3_finalize(s);
	return ret;
}

int store_pcaps_list(struct store *st, const struct store_pcap_filter *f,
		     int (*cb)(const struct pcap_summary *, void *ctx),
		     void *ctx, struct errbuf *err)
{
	static const struct store_pcap_filter kept = { 0 };
	sqlite3_stmt *s = NULL;
	int ret, rc;

	if (!f)
		f = &kept;
	if (f->since && !store__since_ok(f->since))
		return errbuf_set(err, PE_INVAL,
				  "since: '%s' is not a UTC "
				  "time like 2026-11-23T13:43:04.123456Z",
				  f->since);
	const char *sql = f->oldest_first
		? PCAP_LIST " ORDER BY p.created_at, p.id"
		: PCAP_LIST " ORDER BY r.started_at DESC, r.seq DESC, p.id DESC";
	ret = store__prepare_once(st, sql, &s, err);
	if (ret < 0)
		return ret;
	rc = sqlite3_bind_text(s, 1, f->since ? f->since : "", -1,
			       SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = f->scenario ? sqlite3_bind_text(s, 2, f->scenario, -1,
						     SQLITE_STATIC)
				 : sqlite3_bind_null(s, 2);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 3, f->include_pruned);
	if (rc != SQLITE_OK) {
		ret = store__fail(st->db, rc, err, "list pcaps");
		sqlite3_finalize(s);
		return ret;
	}
	return each_summary(st, s, cb, ctx, NULL, err);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int store_pcap_get(struct store *st, const char *run_id,
		   int (*cb)(const struct pcap_summary *, void *ctx),
		   void *ctx, struct errbuf *err)
{
	/* LEFT JOIN: a run without a pcap row still comes back (p.* NULL,
	 * so pcap_id 0). */
	static const char by_id[] =
		PCAP_COLS " FROM runs r LEFT JOIN pcaps p ON p.run_seq = r.seq"
		" WHERE r.run_id = ?1 ORDER BY p.id";
	static const char by_seq[] =
		PCAP_COLS " FROM runs r LEFT JOIN pcaps p ON p.run_seq = r.seq"
		" WHERE r.seq = ?1 ORDER BY p.id";
	sqlite3_stmt *s = NULL;
	int ret, rows = 0;

	for (int pass = 0; pass < 2 && rows == 0; pass++) {
		if (pass == 1 && !all_digits(run_id))
			break;
		ret = store__prepare_once(st, pass ? by_seq : by_id, &s, err);
		if (ret < 0)
			return ret;
		int rc = pass ? sqlite3_bind_int64(s, 1,
						   strtoll(run_id, NULL, 10))
			      : sqlite3_bind_text(s, 1, run_id, -1,
						  SQLITE_STATIC);
		if (rc != SQLITE_OK) {
			ret = store__fail(st->db, rc, err, "get pcap");
			sqlite3_finalize(s);
			return ret;
		}
		ret = each_summary(st, s, cb, ctx, &rows, err);
		if (ret < 0)
			return ret;
	}
	if (rows == 0)
		return errbuf_set(err, PE_NOTFOUND, "no run '%s'", run_id);
	return 0;
}

/* Prepare sql, bind ?1 to seq. */
static int prepare_seq(struct store *st, const char *sql, int64_t seq,
		       sqlite3_stmt **s, struct errbuf *err)
{
	int ret = store__prepare_once(st, sql, s, err);
	if (ret < 0)
		return ret;
	int rc = sqlite3_bind_int64(*s, 1, seq);
	if (rc != SQLITE_OK) {
		ret = store__fail(st->db, rc, err, "bind");
		sqlite3_finalize(*s);
		*s = NULL;
		return ret;
	}
	return 0;
}

int store_thresh_evals_list(struct store *st, int64_t run_seq,
			    int (*cb)(const struct thresh_eval_row *,
				      void *ctx),
			    void *ctx, struct errbuf *err)
{
	sqlite3_stmt *s;
	int ret = prepare_seq(st,
			      "SELECT threshold, metric, step, value,"
			      " limit_value, baseline_n, met, breached, note"
			      " FROM threshold_evals WHERE run_seq = ?1"
			      " ORDER BY id", run_seq, &s, err);
	int rc;

	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct thresh_eval_row t = {
			.threshold = text(s, 0),
			.metric = text(s, 1),
			.step = text(s, 2),
			.value = real_or_nan(s, 3),
			.limit_value = real_or_nan(s, 4),
			.baseline_n = int_or_null(s, 5),
			.met = sqlite3_column_int(s, 6) != 0,
			.breached = sqlite3_column_int(s, 7) != 0,
			.note = text(s, 8),
		};
		ret = cb(&t, ctx);
		if (ret != 0)
			break;
	}
	if (ret > 0)
		ret = 0;
	else if (ret == 0 && rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "list thresholds");
	sqlite3_finalize(s);
	return ret;
}

int store_findings_list(struct store *st, int64_t run_seq,
			int (*cb)(const struct finding_row *, void *ctx),
			void *ctx, struct errbuf *err)
{
	sqlite3_stmt *s;
	int ret = prepare_seq(st,
			      "SELECT f.code, f.packets, f.detail, s.name,"
			      " s.idx FROM findings f LEFT JOIN steps s"
			      " ON s.id = f.step_id WHERE f.run_seq = ?1"
			      " ORDER BY s.idx IS NOT NULL, s.idx, f.id",
			      run_seq, &s, err);
	int rc;

	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct finding_row f = {
			.code = text(s, 0),
			.packets = text(s, 1),
			.detail = text(s, 2),
			.step = text(s, 3),
			.step_idx = int_or_null(s, 4),
		};
		ret = cb(&f, ctx);
		if (ret != 0)
			break;
	}
	if (ret > 0)
		ret = 0;
	else if (ret == 0 && rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "list findings");
	sqlite3_finalize(s);
	return ret;
}

/* Run one statement that returns no rows; finalizes it. */
static int step_done(struct store *st, sqlite3_stmt *s, const char *what,
		     struct errbuf *err)
{
	int rc = sqlite3_step(s);
	int ret = 0;

	if (rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, what);
	sqlite3_finalize(s);
	return ret;
}

int store_pcap_mark_pruned(struct store *st, int64_t pcap_id,
			   const char *pruned_at, struct errbuf *err)
{
	sqlite3_stmt *s;
	int ret = prepare_seq(st,
			      "UPDATE pcaps SET pruned = 1, pruned_at ="
			      " coalesce(pruned_at, ?2) WHERE id = ?1",
			      pcap_id, &s, err);
	int rc;

	if (ret < 0)
		return ret;
	rc = sqlite3_bind_text(s, 2, pruned_at, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		ret = store__fail(st->db, rc, err, "mark pruned");
		sqlite3_finalize(s);
		return ret;
	}
	ret = step_done(st, s, "mark pruned", err);
	if (ret == 0 && sqlite3_changes(st->db) == 0)
		ret = errbuf_set(err, PE_NOTFOUND, "no pcap row %lld",
				 (long long)pcap_id);
	return ret;
}

/* Runs row retention may delete: old, and no pcap of theirs still kept. */
#define OLD_RUNS                                                          \
	" FROM runs WHERE started_at < ?1 AND NOT EXISTS (SELECT 1 FROM"  \
	" pcaps p WHERE p.run_seq = runs.seq AND p.pruned = 0)"

/* Run sql with ?1 bound to before; finalizes. */
static int exec_before(struct store *st, const char *sql, const char *before,
		       int64_t *count, struct errbuf *err)
{
	sqlite3_stmt *s;
	int ret = store__prepare_once(st, sql, &s, err);
	int rc;

	if (ret < 0)
		return ret;
	rc = sqlite3_bind_text(s, 1, before, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		ret = store__fail(st->db, rc, err, "retention");
		sqlite3_finalize(s);
		return ret;
	}
	if (count) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			*count = sqlite3_column_int64(s, 0);
		else
			ret = store__fail(st->db, rc, err, "retention");
		sqlite3_finalize(s);
		return ret;
	}
	return step_done(st, s, "retention", err);
}

int store_runs_delete_before(struct store *st, const char *before,
			     bool dry_run, int64_t *n, struct errbuf *err)
{
	int ret;

	*n = 0;
	if (dry_run)
		return exec_before(st, "SELECT count(*)" OLD_RUNS, before, n,
				   err);
	ret = store__step_done(st, STMT_BEGIN, "begin", err);
	if (ret < 0)
		return ret;
	/* pcaps has no ON DELETE CASCADE (schema 001): its rows go first,
	 * and only the pruned ones, so no file on disk loses its row. */
	ret = exec_before(st,
			  "DELETE FROM pcaps WHERE run_seq IN (SELECT seq"
			  OLD_RUNS ")", before, NULL, err);
	if (ret == 0)
		ret = exec_before(st, "DELETE" OLD_RUNS, before, NULL, err);
	if (ret == 0)
		*n = sqlite3_changes(st->db);
	if (ret == 0)
		ret = store__step_done(st, STMT_COMMIT, "commit", err);
	if (ret < 0) {
		*n = 0;
		store__rollback(st);
	}
	return ret;
}
