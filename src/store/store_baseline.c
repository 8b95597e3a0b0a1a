/*
 * store_baseline.c: the SQL behind baselines and `for N runs`
 * (store.h, "Baselines").
 *
 * Samples come from runs that did not breach (runs.breach = 0), of one
 * scenario in one region, started at or after `since`.  A figure lives in
 * the steps, connections or exchanges table; its column name is the
 * public metric name, which only ever comes from model/metric.c's table
 * (never from a user), so splicing it into the SQL is safe.  The step,
 * address family and connection state of a sample are its step's.
 */
#include "store/internal.h"

#include <stdio.h>
#include <string.h>

#include "model/metric.h"

static const char *text(sqlite3_stmt *s, int col)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	return t ? t : "";
}

int store_baseline_samples(struct store *st, const char *scenario,
			   const char *region, const char *since,
			   const char *metric, store_sample_cb *cb, void *ctx,
			   struct errbuf *err)
{
	struct store_sample_filter f = { since, NULL, false };
	return store_samples(st, scenario, region, &f, metric, cb, ctx, err);
}

int store_samples(struct store *st, const char *scenario, const char *region,
		  const struct store_sample_filter *f, const char *metric,
		  store_sample_cb *cb, void *ctx, struct errbuf *err)
{
	int m = metric_by_name(metric);
	if (m < 0)
		return errbuf_set(err, PE_INVAL, "unknown metric '%s'", metric);
	const struct metric_info *mi = metric_info((enum metric)m);
	char sql[768];
	const char *from;
	switch (mi->level) {
	case METRIC_STEP:
		from = "steps x JOIN steps s ON s.id = x.id";
		break;
	case METRIC_CONNECTION:
		from = "connections x JOIN steps s ON s.id = x.step_id";
		break;
	default:
		from = "exchanges x JOIN steps s ON s.id = x.step_id";
		break;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT s.name, coalesce(s.family, 'any'),"
		 " coalesce(s.conn_state, 'any'), x.%s"
		 " FROM %s JOIN runs r ON r.seq = s.run_seq"
		 " WHERE r.scenario = ?1 AND r.region = ?2"
		 " AND (?5 OR r.breach = 0)"
		 " AND r.started_at >= ?3 AND (?4 = '' OR r.started_at < ?4)"
		 " AND x.%s IS NOT NULL ORDER BY r.seq",
		 mi->name, from, mi->name);
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "baseline samples");
	sqlite3_bind_text(s, 1, scenario, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, f->since ? f->since : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, f->until ? f->until : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, f->with_breaching);
	int ret = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ret = cb(ctx, text(s, 0), text(s, 1), text(s, 2),
			 sqlite3_column_double(s, 3));
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "baseline samples");
	sqlite3_finalize(s);
	return ret < 0 ? ret : 0;
}

int store_baseline_put(struct store *st, const struct store_baseline *b,
		       struct errbuf *err)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO baselines (scenario, step, region,"
		" family, conn_state, metric, p50, p90, p95, p99, n,"
		" window_start, window_end, computed_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
		" ?13, ?14)";
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "baseline");
	const char *t[6] = { b->scenario, b->step, b->region, b->family,
			     b->conn_state, b->metric };
	for (int i = 0; i < 6; i++)
		sqlite3_bind_text(s, i + 1, t[i], -1, SQLITE_STATIC);
	const double p[4] = { b->p50, b->p90, b->p95, b->p99 };
	for (int i = 0; i < 4; i++)
		sqlite3_bind_double(s, 7 + i, p[i]);
	sqlite3_bind_int64(s, 11, b->n);
	sqlite3_bind_text(s, 12, b->window_start, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 13, b->window_end, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 14, b->computed_at, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	int ret = rc == SQLITE_DONE ? 0
				    : store__fail(st->db, rc, err, "baseline");
	sqlite3_finalize(s);
	return ret;
}

int store_baseline_get(struct store *st, const char *scenario,
		       const char *step, const char *region,
		       const char *family, const char *conn_state,
		       const char *metric, struct store_baseline *out,
		       struct errbuf *err)
{
	static const char sql[] =
		"SELECT p50, p90, p95, p99, n FROM baselines WHERE"
		" scenario = ?1 AND step = ?2 AND region = ?3 AND family = ?4"
		" AND conn_state = ?5 AND metric = ?6";
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "baseline");
	const char *t[6] = { scenario, step, region, family, conn_state,
			     metric };
	for (int i = 0; i < 6; i++)
		sqlite3_bind_text(s, i + 1, t[i], -1, SQLITE_STATIC);
	int ret = 0;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->p50 = sqlite3_column_double(s, 0);
		out->p90 = sqlite3_column_double(s, 1);
		out->p95 = sqlite3_column_double(s, 2);
		out->p99 = sqlite3_column_double(s, 3);
		out->n = sqlite3_column_int64(s, 4);
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = store__fail(st->db, rc, err, "baseline");
	}
	sqlite3_finalize(s);
	return ret;
}

int store_baseline_list(struct store *st, const char *scenario,
			store_baseline_cb *cb, void *ctx, struct errbuf *err)
{
	static const char sql[] =
		"SELECT scenario, step, region, family, conn_state, metric,"
		" p50, p90, p95, p99, n, window_start, window_end, computed_at"
		" FROM baselines WHERE ?1 = '' OR scenario = ?1"
		" ORDER BY scenario, step, metric, region, family, conn_state";
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "baselines");
	sqlite3_bind_text(s, 1, scenario ? scenario : "", -1, SQLITE_STATIC);
	int ret = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_baseline b = {
			text(s, 0), text(s, 1), text(s, 2), text(s, 3),
			text(s, 4), text(s, 5), sqlite3_column_double(s, 6),
			sqlite3_column_double(s, 7),
			sqlite3_column_double(s, 8),
			sqlite3_column_double(s, 9),
			sqlite3_column_int64(s, 10), text(s, 11), text(s, 12),
			text(s, 13),
		};
		if ((ret = cb(ctx, &b)) != 0)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "baselines");
	sqlite3_finalize(s);
	return ret < 0 ? ret : 0;
}

int store_scenario_regions(struct store *st, const char *scenario,
			   store_pair_cb *cb, void *ctx, struct errbuf *err)
{
	static const char sql[] =
		"SELECT DISTINCT scenario, region FROM runs"
		" WHERE ?1 = '' OR scenario = ?1 ORDER BY scenario, region";
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "scenarios");
	sqlite3_bind_text(s, 1, scenario ? scenario : "", -1, SQLITE_STATIC);
	int ret = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((ret = cb(ctx, text(s, 0), text(s, 1))) != 0)
			break;
	if (!ret && rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "scenarios");
	sqlite3_finalize(s);
	return ret < 0 ? ret : 0;
}

int store_threshold_streak(struct store *st, const char *scenario,
			   const char *region, const char *threshold,
			   unsigned max, unsigned *streak, struct errbuf *err)
{
	static const char sql[] =
		"SELECT t.met FROM threshold_evals t"
		" JOIN runs r ON r.seq = t.run_seq"
		" WHERE r.scenario = ?1 AND r.region = ?2 AND t.threshold = ?3"
		" ORDER BY r.seq DESC LIMIT ?4";
	*streak = 0;
	if (max == 0)
		return 0;
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "threshold history");
	sqlite3_bind_text(s, 1, scenario, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, threshold, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW &&
	       sqlite3_column_int(s, 0) == 1)
		(*streak)++;
	int ret = rc == SQLITE_ROW || rc == SQLITE_DONE
			  ? 0
			  : store__fail(st->db, rc, err, "threshold history");
	sqlite3_finalize(s);
	return ret;
}

int store_scenario_addrs(struct store *st, const char *scenario,
			 const char *region, const char *since,
			 store_text_cb *cb, void *ctx, struct errbuf *err)
{
	static const char sql[] =
		"SELECT DISTINCT c.dst_addr FROM connections c"
		" JOIN runs r ON r.seq = c.run_seq"
		" WHERE r.scenario = ?1 AND r.region = ?2"
		" AND r.started_at >= ?3 AND c.dst_addr IS NOT NULL"
		" ORDER BY c.dst_addr";
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "addresses");
	sqlite3_bind_text(s, 1, scenario, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, since ? since : "", -1, SQLITE_STATIC);
	int ret = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((ret = cb(ctx, text(s, 0))) != 0)
			break;
	if (!ret && rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "addresses");
	sqlite3_finalize(s);
	return ret < 0 ? ret : 0;
}

int store_nth_latest_start(struct store *st, const char *scenario,
			   const char *region, unsigned n, char *buf,
			   size_t len, struct errbuf *err)
{
	static const char sql[] =
		"SELECT started_at FROM runs WHERE scenario = ?1 AND region = ?2"
		" ORDER BY started_at DESC, seq DESC LIMIT 1 OFFSET ?3";
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "runs");
	sqlite3_bind_text(s, 1, scenario, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, n ? n - 1 : 0);
	int ret = 0;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(buf, len, "%s", text(s, 0));
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = store__fail(st->db, rc, err, "runs");
	}
	sqlite3_finalize(s);
	return ret;
}
