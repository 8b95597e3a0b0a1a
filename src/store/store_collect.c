/*
 * store_collect.c: what `probe collect` keeps besides the runs: one
 * cursor per (region, base URL) in collect_cursors (schema/004), and the
 * run_id lookup that makes a page fetched twice harmless.
 *
 * These are rare statements (a few per page), so they are prepared on use
 * rather than kept for the store's lifetime.
 */
#include "store/internal.h"

#include <string.h>

#include "util/timeutil.h"

/* Bind text i (SQLITE_STATIC: the caller's string outlives the step). */
static int bind_text(struct store *st, sqlite3_stmt *s, int i,
		     const char *v, struct errbuf *err)
{
	int rc = sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "bind");
	return 0;
}

int store_cursor_get(struct store *st, const char *region,
		     const char *base_url, int64_t *last_seq,
		     struct errbuf *err)
{
	sqlite3_stmt *s = NULL;
	int ret = store__prepare_once(st,
				      "SELECT last_seq FROM collect_cursors"
				      " WHERE region = ?1 AND base_url = ?2",
				      &s, err);
	if (ret < 0)
		return ret;
	if ((ret = bind_text(st, s, 1, region, err)) < 0 ||
	    (ret = bind_text(st, s, 2, base_url, err)) < 0)
		goto out;
	*last_seq = 0;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*last_seq = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "read cursor");
out:
	sqlite3_finalize(s);
	return ret;
}

int store_cursor_set(struct store *st, const char *region,
		     const char *base_url, int64_t last_seq,
		     struct errbuf *err)
{
	char now[40];
	sqlite3_stmt *s = NULL;
	int ret;

	if (timeutil_utc_now(now, sizeof(now)) < 0)
		return errbuf_set(err, PE_IO, "cannot read the clock");
	ret =
	    store__prepare_once(st,
				"INSERT INTO collect_cursors"
				" (region, base_url, last_seq, updated_at)"
				" VALUES (?1, ?2, ?3, ?4)"
				" ON CONFLICT (region, base_url) DO UPDATE SET"
				" last_seq = excluded.last_seq,"
				" updated_at = excluded.updated_at",
				&s, err);
	if (ret < 0)
		return ret;
	if ((ret = bind_text(st, s, 1, region, err)) < 0 ||
	    (ret = bind_text(st, s, 2, base_url, err)) < 0 ||
	    (ret = bind_text(st, s, 4, now, err)) < 0)
		goto out;
	int rc = sqlite3_bind_int64(s, 3, last_seq);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, "save cursor");
out:
	sqlite3_finalize(s);
	return ret;
}

int store_run_exists(struct store *st, const char *run_id, bool *exists,
		     struct errbuf *err)
{
	sqlite3_stmt *s = NULL;
	int ret = store__prepare_once(
	    st, "SELECT 1 FROM runs WHERE run_id = ?1", &s, err);
	if (ret < 0)
		return ret;
	if ((ret = bind_text(st, s, 1, run_id, err)) < 0)
		goto out;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		*exists = rc == SQLITE_ROW;
	else
		ret = store__fail(st->db, rc, err, "look up run_id");
out:
	sqlite3_finalize(s);
	return ret;
}
