/* store_query.c: reading runs back (report, serve), and versions. */
#include "store/internal.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

/*
 * Newest first.  started_at >= ?1 with ?1 = '' selects everything, so one
 * statement serves with and without `since` and the index on started_at
 * (or on scenario, started_at) is used either way; the scenario filter is
 * a second statement for the same reason.
 */
#define LIST_SELECT                                                       \
	"SELECT r.seq, r.run_id, r.scenario, r.scenario_file, r.region,"  \
	" r.probe_id, r.started_at, r.finished_at, r.ok, r.breach,"       \
	" r.clock_sync, r.capture, r.error,"                              \
	" (SELECT count(*) FROM steps s WHERE s.run_seq = r.seq),"        \
	" (SELECT count(*) FROM steps s WHERE s.run_seq = r.seq"          \
	"  AND s.ok = 0 AND s.skipped = 0),"                              \
	" (SELECT count(*) FROM findings f WHERE f.run_seq = r.seq)"      \
	" FROM runs r WHERE r.started_at >= ?1"
#define LIST_ORDER " ORDER BY r.started_at DESC, r.seq DESC LIMIT ?2"

int store__query_prepare(struct store *st, struct errbuf *err)
{
	int ret = store__prepare(st, STMT_LIST_ALL, LIST_SELECT LIST_ORDER,
				 err);
	if (ret < 0)
		return ret;
	return store__prepare(st, STMT_LIST_SCENARIO,
			      LIST_SELECT " AND r.scenario = ?3" LIST_ORDER,
			      err);
}

/*
 * since must be a non-empty prefix of the stored form, so that comparing
 * text compares times: "2026-11-23" is fine, "2026-11-23 13:00" is not.
 */
bool store__since_ok(const char *since)
{
	static const char shape[] = "0000-00-00T00:00:00.000000Z";
	size_t n = strlen(since);

	if (n == 0 || n >= sizeof(shape))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (shape[i] == '0' ? !isdigit((unsigned char)since[i]) :
				      since[i] != shape[i])
			return false;
	}
	return true;
}

static const char *text(sqlite3_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s, col);
}

int store_runs_list(struct store *st, const struct store_run_filter *f,
		    int (*cb)(const struct run_summary *, void *ctx),
		    void *ctx, struct errbuf *err)
{
	static const struct store_run_filter all = { NULL, NULL, 0 };
	sqlite3_stmt *s;
	int64_t limit;
	int ret = 0, rc;

	if (!f)
		f = &all;
	if (f->since && !store__since_ok(f->since))
		return errbuf_set(err, PE_INVAL, "since: '%s' is not a UTC "
				  "time like 2026-11-23T13:43:04.123456Z",
				  f->since);
	s = st->stmt[f->scenario ? STMT_LIST_SCENARIO : STMT_LIST_ALL];
	limit = f->limit == 0 || f->limit > INT64_MAX ? -1 : (int64_t)f->limit;

	rc = sqlite3_bind_text(s, 1, f->since ? f->since : "", -1,
			       SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, limit);
	if (rc == SQLITE_OK && f->scenario)
		rc = sqlite3_bind_text(s, 3, f->scenario, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		ret = store__fail(st->db, rc, err, "list runs");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct run_summary r = {
			.seq = sqlite3_column_int64(s, 0),
			.run_id = text(s, 1),
			.scenario = text(s, 2),
			.scenario_file = text(s, 3),
			.region = text(s, 4),
			.probe_id = text(s, 5),
			.started_at = text(s, 6),
			.finished_at = text(s, 7),
			.ok = sqlite3_column_int(s, 8) != 0,
			.breach = sqlite3_column_int(s, 9) != 0,
			.clock_sync = text(s, 10),
			.capture = text(s, 11),
			.error = text(s, 12),
			.n_steps = sqlite3_column_int64(s, 13),
			.n_failed = sqlite3_column_int64(s, 14),
			.n_findings = sqlite3_column_int64(s, 15),
		};
		ret = cb(&r, ctx);
		if (ret != 0)
			break;
	}
	if (ret > 0)
		ret = 0;
	else if (ret == 0 && rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "list runs");
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ret;
}

int store_latest_runs(struct store *st, const struct store_run_filter *f,
		      const char *region, int64_t *seqs, size_t max,
		      size_t *n, struct errbuf *err)
{
	/* SQLite: a bare column beside max() comes from the max row */
	static const char sql[] =
		"SELECT seq, max(started_at || printf('%020d', seq))"
		" FROM runs WHERE started_at >= ?1"
		" AND (?2 IS NULL OR scenario = ?2)"
		" AND (?3 IS NULL OR region = ?3)"
		" GROUP BY scenario, region ORDER BY scenario, region";
	*n = 0;
	if (f && f->since && !store__since_ok(f->since))
		return errbuf_set(err, PE_INVAL, "since: '%s' is not a UTC "
				  "time like 2026-11-23T13:43:04.123456Z",
				  f->since);
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "latest runs");
	sqlite3_bind_text(s, 1, f && f->since ? f->since : "", -1,
			  SQLITE_STATIC);
	if (f && f->scenario)
		sqlite3_bind_text(s, 2, f->scenario, -1, SQLITE_STATIC);
	if (region)
		sqlite3_bind_text(s, 3, region, -1, SQLITE_STATIC);
	int ret = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n < max)
			seqs[*n] = sqlite3_column_int64(s, 0);
		(*n)++;
	}
	if (rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "latest runs");
	sqlite3_finalize(s);
	return ret;
}

const char *store_sqlite_version(void)
{
	return sqlite3_libversion();
}

int store_schema_version(struct store *st)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_VERSION];
	int v = PE_STORE;

	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	return v;
}
