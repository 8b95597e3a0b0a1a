/*
 * store_serve.c: the reads behind `probe serve` (store.h, "serve").
 *
 * store_run_load() is store_run_save() backwards: it reads a run and
 * everything hanging off it into a struct run_rec, so the one JSON
 * renderer prints stored runs exactly as `probe run --json` printed them.
 * The column lists are store_run.c's (store_cols.c): one list per table
 * for saving and loading; test_store_load.c round-trips every table.
 *
 * Connection keys of a loaded run are the connections' row ids (unique in
 * a run, non-zero), so exchanges and findings find their connection as
 * the renderer expects.
 */
#include "store/internal.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/metric.h"


/*
 * Prepare "SELECT <lead>, <cols> FROM table WHERE <key> = ?1 ORDER BY
 * rowid" (rowid: id, or seq for runs: insertion order) with ?1 bound to
 * v.  lead: the row id and links the caller reads first.
 */
static int select_rows(struct store *st, const char *lead, const char *table,
		       const struct store_col *cols, size_t n, const char *key,
		       int64_t v, sqlite3_stmt **out, struct errbuf *err)
{
	char sql[2048];
	size_t len;
	int w = snprintf(sql, sizeof(sql), "SELECT %s", lead);

	for (size_t i = 0; i < n && w > 0 && (size_t)w < sizeof(sql); i++) {
		len = (size_t)w;
		w += snprintf(sql + len, sizeof(sql) - len, ", %s",
			      cols[i].name);
	}
	if (w > 0 && (size_t)w < sizeof(sql)) {
		len = (size_t)w;
		w += snprintf(sql + len, sizeof(sql) - len,
			      " FROM %s WHERE %s = ?1 ORDER BY rowid", table,
			      key);
	}
	if (w < 0 || (size_t)w >= sizeof(sql))
		return errbuf_set(err, PE_LIMIT, "BUG: SELECT %s: too long",
				  table);
	int rc = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(*out, 1, v);
	if (rc != SQLITE_OK) {
		int ret = store__fail(st->db, rc, err, table);
		sqlite3_finalize(*out);
		*out = NULL;
		return ret;
	}
	return 0;
}

/* Columns first.. of the current row into rec, as cols describe them. */
static int read_cols(sqlite3_stmt *s, int first, const char *table,
		     const struct store_col *cols, size_t n, void *rec,
		     struct errbuf *err)
{
	for (size_t i = 0; i < n; i++) {
		int k = first + (int)i;
		char *p = (char *)rec + cols[i].off;
		bool null = sqlite3_column_type(s, k) == SQLITE_NULL;

		switch (cols[i].type) {
		case COL_TEXT: {
			char *v = NULL;
			if (!null) {
				const char *t =
					(const char *)sqlite3_column_text(s, k);
				if (!t || !(v = strdup(t)))
					return errbuf_set(err, PE_NOMEM,
							  "out of memory");
			}
			memcpy(p, &v, sizeof(v));
			break;
		}
		case COL_REAL: {
			double v = null ? NAN : sqlite3_column_double(s, k);
			memcpy(p, &v, sizeof(v));
			break;
		}
		case COL_INT: {
			int64_t v = null ? RUN_NULL_INT
					 : sqlite3_column_int64(s, k);
			memcpy(p, &v, sizeof(v));
			break;
		}
		case COL_BOOL: {
			bool v = !null && sqlite3_column_int(s, k) != 0;
			memcpy(p, &v, sizeof(v));
			break;
		}
		case COL_ENUM: {
			int v = 0;
			const char *t = (const char *)sqlite3_column_text(s, k);
			if (!null && t) {
				for (size_t e = 1; e < cols[i].n_names; e++)
					if (strcmp(cols[i].names[e], t) == 0)
						v = (int)e;
				if (v == 0)
					return errbuf_set(err, PE_STORE,
							  "%s.%s: unknown "
							  "value '%s'", table,
							  cols[i].name, t);
			}
			memcpy(p, &v, sizeof(v));
			break;
		}
		}
	}
	return 0;
}

/* The step of run whose row id is id, or NULL. */
static struct step_rec *step_by_id(struct run_rec *run, int64_t id)
{
	for (size_t i = 0; i < run->n_steps; i++)
		if (run->steps[i].id == id)
			return &run->steps[i];
	return NULL;
}

/* After a loop of sqlite3_step: rc must be SQLITE_DONE unless ret < 0. */
static int rows_done(struct store *st, sqlite3_stmt *s, int rc, int ret,
		     const char *what, struct errbuf *err)
{
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store__fail(st->db, rc, err, what);
	sqlite3_finalize(s);
	return ret;
}

static int load_steps(struct store *st, struct run_rec *run,
		      struct errbuf *err)
{
	sqlite3_stmt *s;
	int rc, ret = select_rows(st, "id", "steps", store__step_cols.v,
				  store__step_cols.n, "run_seq", run->seq, &s,
				  err);
	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct step_rec *step;
		if ((ret = run_rec_add_step(run, &step)) < 0) {
			errbuf_set(err, ret, "steps: %s", pe_name(ret));
			break;
		}
		step->id = sqlite3_column_int64(s, 0);
		if ((ret = read_cols(s, 1, "steps", store__step_cols.v,
				     store__step_cols.n, step, err)) < 0)
			break;
	}
	ret = rows_done(st, s, rc, ret, "steps", err);
	for (size_t i = 0; ret == 0 && i < run->n_steps; i++) {
		struct step_rec *step = &run->steps[i];
		ret = select_rows(st, "id", "certificates", store__cert_cols.v,
				  store__cert_cols.n, "step_id", step->id, &s,
				  err);
		if (ret < 0)
			return ret;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct cert_rec *c;
			if ((ret = step_rec_add_cert(step, &c)) < 0) {
				errbuf_set(err, ret, "certificates: %s",
					   pe_name(ret));
				break;
			}
			c->id = sqlite3_column_int64(s, 0);
			if ((ret = read_cols(s, 1, "certificates", store__cert_cols.v,
					     store__cert_cols.n, c, err)) < 0)
				break;
		}
		ret = rows_done(st, s, rc, ret, "certificates", err);
	}
	return ret;
}

static int load_conns(struct store *st, struct run_rec *run,
		      struct errbuf *err)
{
	sqlite3_stmt *s;
	int rc, ret = select_rows(st, "id, step_id", "connections", store__conn_cols.v,
				  store__conn_cols.n, "run_seq", run->seq, &s,
				  err);
	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		struct step_rec *step = NULL;
		struct conn_rec *c;

		if (id <= 0 || id > UINT32_MAX) {
			ret = errbuf_set(err, PE_LIMIT, "connection id %lld: "
					 "beyond a connection key",
					 (long long)id);
			break;
		}
		if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			step = step_by_id(run, sqlite3_column_int64(s, 1));
		ret = step ? step_rec_add_conn(step, &c)
			   : run_rec_add_conn(run, &c);
		if (ret < 0) {
			errbuf_set(err, ret, "connections: %s", pe_name(ret));
			break;
		}
		c->id = id;
		c->key = (uint32_t)id;
		if ((ret = read_cols(s, 2, "connections", store__conn_cols.v,
				     store__conn_cols.n, c, err)) < 0)
			break;
	}
	return rows_done(st, s, rc, ret, "connections", err);
}

/* A link column as a connection key (0 for NULL). */
static uint32_t conn_key_col(sqlite3_stmt *s, int k)
{
	if (sqlite3_column_type(s, k) == SQLITE_NULL)
		return 0;
	return (uint32_t)sqlite3_column_int64(s, k);
}

static int load_exchanges(struct store *st, struct run_rec *run,
			  struct errbuf *err)
{
	sqlite3_stmt *s;
	int rc, ret = select_rows(st, "id, step_id, connection_id",
				  "exchanges", store__exchange_cols.v,
				  store__exchange_cols.n, "run_seq", run->seq,
				  &s, err);
	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct step_rec *step = step_by_id(run,
						   sqlite3_column_int64(s, 1));
		struct exchange_rec *x;
		if (!step) {
			ret = errbuf_set(err, PE_STORE, "exchange %lld: no "
					 "step", (long long)
					 sqlite3_column_int64(s, 0));
			break;
		}
		if ((ret = step_rec_add_exchange(step, &x)) < 0) {
			errbuf_set(err, ret, "exchanges: %s", pe_name(ret));
			break;
		}
		x->id = sqlite3_column_int64(s, 0);
		x->conn_key = conn_key_col(s, 2);
		if ((ret = read_cols(s, 3, "exchanges", store__exchange_cols.v,
				     store__exchange_cols.n, x, err)) < 0)
			break;
	}
	return rows_done(st, s, rc, ret, "exchanges", err);
}

static int load_findings(struct store *st, struct run_rec *run,
			 struct errbuf *err)
{
	sqlite3_stmt *s;
	int rc, ret = select_rows(st, "id, step_id, connection_id",
				  "findings", store__finding_cols.v,
				  store__finding_cols.n, "run_seq", run->seq,
				  &s, err);
	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct step_rec *step = NULL;
		struct finding_rec *f;
		if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			step = step_by_id(run, sqlite3_column_int64(s, 1));
		ret = step ? step_rec_add_finding(step, &f)
			   : run_rec_add_finding(run, &f);
		if (ret < 0) {
			errbuf_set(err, ret, "findings: %s", pe_name(ret));
			break;
		}
		f->id = sqlite3_column_int64(s, 0);
		f->conn_key = conn_key_col(s, 2);
		if ((ret = read_cols(s, 3, "findings", store__finding_cols.v,
				     store__finding_cols.n, f, err)) < 0)
			break;
	}
	return rows_done(st, s, rc, ret, "findings", err);
}

static int load_tail(struct store *st, struct run_rec *run,
		     struct errbuf *err)
{
	sqlite3_stmt *s;
	int rc, ret = select_rows(st, "id", "pcaps", store__pcap_cols.v,
				  store__pcap_cols.n, "run_seq", run->seq, &s,
				  err);
	if (ret < 0)
		return ret;
	/* store_run_save writes at most one pcap row per run: the first. */
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		run->pcap = malloc(sizeof(*run->pcap));
		if (!run->pcap) {
			ret = errbuf_set(err, PE_NOMEM, "out of memory");
		} else {
			pcap_rec_init(run->pcap);
			run->pcap->id = sqlite3_column_int64(s, 0);
			ret = read_cols(s, 1, "pcaps", store__pcap_cols.v,
					store__pcap_cols.n, run->pcap, err);
		}
		rc = SQLITE_DONE;
	}
	if ((ret = rows_done(st, s, rc, ret, "pcaps", err)) < 0)
		return ret;
	ret = select_rows(st, "id", "threshold_evals", store__thresh_cols.v,
			  store__thresh_cols.n, "run_seq", run->seq, &s, err);
	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct thresh_rec *t;
		if ((ret = run_rec_add_thresh(run, &t)) < 0) {
			errbuf_set(err, ret, "thresholds: %s", pe_name(ret));
			break;
		}
		t->id = sqlite3_column_int64(s, 0);
		if ((ret = read_cols(s, 1, "threshold_evals", store__thresh_cols.v,
				     store__thresh_cols.n, t, err)) < 0)
			break;
	}
	return rows_done(st, s, rc, ret, "threshold_evals", err);
}

int store_run_load(struct store *st, int64_t seq, struct run_rec *out,
		   struct errbuf *err)
{
	sqlite3_stmt *s;
	int rc, ret;

	run_rec_init(out);
	ret = select_rows(st, "seq", "runs", store__run_cols.v,
			  store__run_cols.n, "seq", seq, &s, err);
	if (ret < 0)
		return ret;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->seq = sqlite3_column_int64(s, 0);
		ret = read_cols(s, 1, "runs", store__run_cols.v, store__run_cols.n, out,
				err);
		rc = SQLITE_DONE;
	} else if (rc == SQLITE_DONE) {
		ret = errbuf_set(err, PE_NOTFOUND, "no run with seq %lld",
				 (long long)seq);
	}
	ret = rows_done(st, s, rc, ret, "runs", err);
	if (ret == 0)
		ret = load_steps(st, out, err);
	if (ret == 0)
		ret = load_conns(st, out, err);
	if (ret == 0)
		ret = load_exchanges(st, out, err);
	if (ret == 0)
		ret = load_findings(st, out, err);
	if (ret == 0)
		ret = load_tail(st, out, err);
	if (ret < 0)
		run_rec_release(out);
	return ret;
}

int store_runs_after(struct store *st, int64_t after, size_t max,
		     int64_t *seqs, size_t *n, struct errbuf *err)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db,
				    "SELECT seq FROM runs WHERE seq > ?1"
				    " ORDER BY seq LIMIT ?2", -1, &s, NULL);
	*n = 0;
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "runs after");
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
	while (*n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		seqs[(*n)++] = sqlite3_column_int64(s, 0);
	if (*n == max)
		rc = SQLITE_DONE;
	return rows_done(st, s, rc, 0, "runs after", err);
}

int store_serve_samples(struct store *st, const char *metric,
			const char *since, store_serve_sample_cb *cb,
			void *ctx, struct errbuf *err)
{
	int m = metric_by_name(metric);
	if (m < 0)
		return errbuf_set(err, PE_INVAL, "unknown metric '%s'", metric);
	const struct metric_info *mi = metric_info((enum metric)m);
	const char *from = mi->level == METRIC_STEP
		? "steps x JOIN steps s ON s.id = x.id"
		: mi->level == METRIC_CONNECTION
		? "connections x JOIN steps s ON s.id = x.step_id"
		: "exchanges x JOIN steps s ON s.id = x.step_id";
	char sql[768];
	sqlite3_stmt *s;
	int rc, ret = 0;

	/* mi->name comes from model/metric.c's table, never from a user. */
	snprintf(sql, sizeof(sql),
		 "SELECT r.scenario, s.name, r.region, r.probe_id, x.%s"
		 " FROM %s JOIN runs r ON r.seq = s.run_seq"
		 " WHERE r.started_at >= ?1 AND x.%s IS NOT NULL"
		 " ORDER BY r.scenario, s.name, r.region, r.probe_id",
		 mi->name, from, mi->name);
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "serve samples");
	sqlite3_bind_text(s, 1, since ? since : "", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t[4];
		for (int i = 0; i < 4; i++) {
			t[i] = (const char *)sqlite3_column_text(s, i);
			if (!t[i])
				t[i] = "";
		}
		ret = cb(ctx, t[0], t[1], t[2], t[3],
			 sqlite3_column_double(s, 4));
		if (ret)
			break;
	}
	if (ret > 0)
		ret = 0, rc = SQLITE_DONE;
	return rows_done(st, s, rc, ret, "serve samples", err);
}

int store_serve_latest(struct store *st, store_serve_latest_cb *cb,
		       void *ctx, struct errbuf *err)
{
	/* The newest run of each group by seq: the order runs were stored,
	 * which a skewed clock cannot reorder. */
	static const char sql[] =
		"SELECT g.scenario, g.region, g.probe_id, g.n, g.breaches,"
		" r.ok, r.started_at FROM (SELECT scenario, region, probe_id,"
		" count(*) AS n, sum(breach) AS breaches, max(seq) AS last"
		" FROM runs GROUP BY scenario, region, probe_id) g"
		" JOIN runs r ON r.seq = g.last"
		" ORDER BY g.scenario, g.region, g.probe_id";
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), ret = 0;

	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "serve latest");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_serve_group g = {
			.scenario = (const char *)sqlite3_column_text(s, 0),
			.region = (const char *)sqlite3_column_text(s, 1),
			.probe_id = (const char *)sqlite3_column_text(s, 2),
			.runs = sqlite3_column_int64(s, 3),
			.breaches = sqlite3_column_int64(s, 4),
			.last_ok = sqlite3_column_int(s, 5) != 0,
			.last_started_at =
				(const char *)sqlite3_column_text(s, 6),
		};
		ret = cb(ctx, &g);
		if (ret)
			break;
	}
	if (ret > 0)
		ret = 0, rc = SQLITE_DONE;
	return rows_done(st, s, rc, ret, "serve latest", err);
}

int store_query_only(struct store *st, struct errbuf *err)
{
	int rc = sqlite3_exec(st->db, "PRAGMA query_only = ON", NULL, NULL,
			      NULL);
	return rc == SQLITE_OK ? 0 : store__fail(st->db, rc, err,
						 "query_only");
}
