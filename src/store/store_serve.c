/*
 * store_serve.c: the reads behind `probe serve` (store.h, "serve").
 *
 * store_run_load() is store_run_save() backwards: it reads a run and
 * everything hanging off it into a struct run_rec, so the one JSON
 * renderer prints stored runs exactly as `probe run --json` printed them.
 * The column lists repeat store_run.c's (which keeps its own static);
 * test_store_load.c round-trips every table, so a column added to one
 * list and not the other fails a test rather than drifting silently.
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

enum lcol_type { L_TEXT = 1, L_REAL, L_INT, L_BOOL, L_ENUM };

struct lcol {
	const char *name;
	enum lcol_type type;
	size_t off;
	const char *const *names;
	size_t n_names;
};

#define LCOL_TYPE(T, f)                                                   \
	_Generic(((struct T *)0)->f, char *: L_TEXT, double: L_REAL,      \
		 int64_t: L_INT, bool: L_BOOL)
#define LCOL(T, f) { #f, LCOL_TYPE(T, f), offsetof(struct T, f), NULL, 0 }
#define LECOL(T, f, tab)                                                  \
	{ #f, L_ENUM,                                                     \
	  offsetof(struct T, f) +                                         \
		  0 * sizeof(char[sizeof(((struct T *)0)->f) ==           \
					  sizeof(int) ? 1 : -1]),         \
	  tab, sizeof(tab) / sizeof((tab)[0]) }
#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

static const struct lcol run_cols[] = {
	LCOL(run_rec, run_id), LCOL(run_rec, scenario),
	LCOL(run_rec, scenario_file), LCOL(run_rec, region),
	LCOL(run_rec, probe_id), LCOL(run_rec, started_at),
	LCOL(run_rec, finished_at), LCOL(run_rec, ok), LCOL(run_rec, breach),
	LECOL(run_rec, clock_sync, run_clock_sync_names),
	LECOL(run_rec, capture, run_capture_names),
	LCOL(run_rec, capture_drops), LCOL(run_rec, capture_truncated),
	LCOL(run_rec, probe_version), LCOL(run_rec, error),
};

static const struct lcol step_cols[] = {
	LCOL(step_rec, idx), LCOL(step_rec, name),
	LECOL(step_rec, kind, run_step_kind_names), LCOL(step_rec, target),
	LCOL(step_rec, ok), LCOL(step_rec, skipped), LCOL(step_rec, error),
	LCOL(step_rec, error_detail), LCOL(step_rec, started_at),
	LCOL(step_rec, dns_ms), LCOL(step_rec, connect_ms),
	LCOL(step_rec, tls_ms), LCOL(step_rec, ttfb_ms),
	LCOL(step_rec, total_ms), LCOL(step_rec, status),
	LCOL(step_rec, bytes), LCOL(step_rec, tls_version),
	LCOL(step_rec, tls_cipher), LCOL(step_rec, alpn),
	LCOL(step_rec, tls_resumed), LCOL(step_rec, http_version),
	LECOL(step_rec, conn_state, run_conn_state_names),
	LECOL(step_rec, family, run_family_names), LCOL(step_rec, rcode),
	LCOL(step_rec, answers),
};

static const struct lcol cert_cols[] = {
	LCOL(cert_rec, depth), LCOL(cert_rec, subject),
	LCOL(cert_rec, issuer), LCOL(cert_rec, not_after),
	LCOL(cert_rec, days_left), LCOL(cert_rec, verified),
};

static const struct lcol conn_cols[] = {
	LECOL(conn_rec, family, run_family_names), LCOL(conn_rec, src_addr),
	LCOL(conn_rec, src_port), LCOL(conn_rec, dst_addr),
	LCOL(conn_rec, dst_port),
	LECOL(conn_rec, conn_state, run_conn_state_names),
	LECOL(conn_rec, source, run_source_names), LCOL(conn_rec, rtt_ms),
	LECOL(conn_rec, rtt_quality, run_quality_names),
	LCOL(conn_rec, syn_retrans), LCOL(conn_rec, tls_server_ms),
	LECOL(conn_rec, tls_server_quality, run_quality_names),
	LCOL(conn_rec, hrr), LCOL(conn_rec, resumed),
	LCOL(conn_rec, bytes_in), LCOL(conn_rec, bytes_out),
	LCOL(conn_rec, retrans), LCOL(conn_rec, dup_acks),
	LCOL(conn_rec, zero_window), LCOL(conn_rec, out_of_order),
	LCOL(conn_rec, lost_in), LECOL(conn_rec, rst, run_rst_names),
	LCOL(conn_rec, rst_at_ms), LCOL(conn_rec, icmp), LCOL(conn_rec, mss),
	LCOL(conn_rec, wscale), LCOL(conn_rec, sack),
	LCOL(conn_rec, connect_ms), LCOL(conn_rec, tls_ms),
};

static const struct lcol exchange_cols[] = {
	LCOL(exchange_rec, idx), LCOL(exchange_rec, method),
	LCOL(exchange_rec, url), LCOL(exchange_rec, status),
	LECOL(exchange_rec, source, run_source_names),
	LCOL(exchange_rec, dns_ms), LCOL(exchange_rec, connect_ms),
	LCOL(exchange_rec, tls_ms), LCOL(exchange_rec, ttfb_ms),
	LCOL(exchange_rec, total_ms), LCOL(exchange_rec, request_ack_ms),
	LECOL(exchange_rec, ack_pattern, run_ack_pattern_names),
	LCOL(exchange_rec, ttfb_wire_ms),
	LECOL(exchange_rec, ttfb_wire_quality, run_quality_names),
	LCOL(exchange_rec, think_ms),
	LECOL(exchange_rec, think_quality, run_quality_names),
	LCOL(exchange_rec, transfer_ms), LCOL(exchange_rec, goodput_kbps),
	LCOL(exchange_rec, server_delayed_ack),
};

static const struct lcol finding_cols[] = {
	LCOL(finding_rec, code), LCOL(finding_rec, packets),
	LCOL(finding_rec, detail),
};

static const struct lcol pcap_cols[] = {
	LCOL(pcap_rec, path), LCOL(pcap_rec, bytes), LCOL(pcap_rec, sha256),
	LCOL(pcap_rec, created_at), LCOL(pcap_rec, expires_at),
	LCOL(pcap_rec, pruned), LCOL(pcap_rec, pruned_at),
	LCOL(pcap_rec, reason), LCOL(pcap_rec, keylog),
};

static const struct lcol thresh_cols[] = {
	LCOL(thresh_rec, threshold), LCOL(thresh_rec, metric),
	LCOL(thresh_rec, step), LCOL(thresh_rec, value),
	LCOL(thresh_rec, limit_value), LCOL(thresh_rec, baseline_n),
	LCOL(thresh_rec, met), LCOL(thresh_rec, breached),
	LCOL(thresh_rec, note),
};

/*
 * Prepare "SELECT <lead>, <cols> FROM table WHERE <key> = ?1 ORDER BY
 * rowid" (rowid: id, or seq for runs: insertion order) with ?1 bound to
 * v.  lead: the row id and links the caller reads first.
 */
static int select_rows(struct store *st, const char *lead, const char *table,
		       const struct lcol *cols, size_t n, const char *key,
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
		     const struct lcol *cols, size_t n, void *rec,
		     struct errbuf *err)
{
	for (size_t i = 0; i < n; i++) {
		int k = first + (int)i;
		char *p = (char *)rec + cols[i].off;
		bool null = sqlite3_column_type(s, k) == SQLITE_NULL;

		switch (cols[i].type) {
		case L_TEXT: {
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
		case L_REAL: {
			double v = null ? NAN : sqlite3_column_double(s, k);
			memcpy(p, &v, sizeof(v));
			break;
		}
		case L_INT: {
			int64_t v = null ? RUN_NULL_INT
					 : sqlite3_column_int64(s, k);
			memcpy(p, &v, sizeof(v));
			break;
		}
		case L_BOOL: {
			bool v = !null && sqlite3_column_int(s, k) != 0;
			memcpy(p, &v, sizeof(v));
			break;
		}
		case L_ENUM: {
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
	int rc, ret = select_rows(st, "id", "steps", step_cols,
				  NCOLS(step_cols), "run_seq", run->seq, &s,
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
		if ((ret = read_cols(s, 1, "steps", step_cols,
				     NCOLS(step_cols), step, err)) < 0)
			break;
	}
	ret = rows_done(st, s, rc, ret, "steps", err);
	for (size_t i = 0; ret == 0 && i < run->n_steps; i++) {
		struct step_rec *step = &run->steps[i];
		ret = select_rows(st, "id", "certificates", cert_cols,
				  NCOLS(cert_cols), "step_id", step->id, &s,
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
			if ((ret = read_cols(s, 1, "certificates", cert_cols,
					     NCOLS(cert_cols), c, err)) < 0)
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
	int rc, ret = select_rows(st, "id, step_id", "connections", conn_cols,
				  NCOLS(conn_cols), "run_seq", run->seq, &s,
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
		if ((ret = read_cols(s, 2, "connections", conn_cols,
				     NCOLS(conn_cols), c, err)) < 0)
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
				  "exchanges", exchange_cols,
				  NCOLS(exchange_cols), "run_seq", run->seq,
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
		if ((ret = read_cols(s, 3, "exchanges", exchange_cols,
				     NCOLS(exchange_cols), x, err)) < 0)
			break;
	}
	return rows_done(st, s, rc, ret, "exchanges", err);
}

static int load_findings(struct store *st, struct run_rec *run,
			 struct errbuf *err)
{
	sqlite3_stmt *s;
	int rc, ret = select_rows(st, "id, step_id, connection_id",
				  "findings", finding_cols,
				  NCOLS(finding_cols), "run_seq", run->seq,
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
		if ((ret = read_cols(s, 3, "findings", finding_cols,
				     NCOLS(finding_cols), f, err)) < 0)
			break;
	}
	return rows_done(st, s, rc, ret, "findings", err);
}

static int load_tail(struct store *st, struct run_rec *run,
		     struct errbuf *err)
{
	sqlite3_stmt *s;
	int rc, ret = select_rows(st, "id", "pcaps", pcap_cols,
				  NCOLS(pcap_cols), "run_seq", run->seq, &s,
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
			ret = read_cols(s, 1, "pcaps", pcap_cols,
					NCOLS(pcap_cols), run->pcap, err);
		}
		rc = SQLITE_DONE;
	}
	if ((ret = rows_done(st, s, rc, ret, "pcaps", err)) < 0)
		return ret;
	ret = select_rows(st, "id", "threshold_evals", thresh_cols,
			  NCOLS(thresh_cols), "run_seq", run->seq, &s, err);
	if (ret < 0)
		return ret;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct thresh_rec *t;
		if ((ret = run_rec_add_thresh(run, &t)) < 0) {
			errbuf_set(err, ret, "thresholds: %s", pe_name(ret));
			break;
		}
		t->id = sqlite3_column_int64(s, 0);
		if ((ret = read_cols(s, 1, "threshold_evals", thresh_cols,
				     NCOLS(thresh_cols), t, err)) < 0)
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
	ret = select_rows(st, "seq", "runs", run_cols, NCOLS(run_cols), "seq",
			  seq, &s, err);
	if (ret < 0)
		return ret;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->seq = sqlite3_column_int64(s, 0);
		ret = read_cols(s, 1, "runs", run_cols, NCOLS(run_cols), out,
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
