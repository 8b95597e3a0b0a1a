/*
 * store_run.c: saving a whole run in one transaction.
 *
 * Each table is described once, by its list of (column, field) pairs in
 * store_cols.c (shared with store_serve.c's loader): the INSERT
 * statement is generated from it when the store opens, and a record is
 * bound by walking it.
 */
#include "store/internal.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * A table: the links (foreign keys, bound first from the int64_t array
 * insert() gets, 0 meaning NULL) and then the record's columns.
 */
struct table {
	const char *name;
	enum store_stmt stmt;
	const char *links[3];
	size_t n_links;
	const struct store_cols *cols;
};

#define TABLE(name, stmt, cols, n_links, ...)                             \
	{ name, stmt, { __VA_ARGS__ }, n_links, &cols }

static const struct table t_run =
	TABLE("runs", STMT_INS_RUN, store__run_cols, 0, NULL);
static const struct table t_step =
	TABLE("steps", STMT_INS_STEP, store__step_cols, 1, "run_seq");
static const struct table t_cert =
	TABLE("certificates", STMT_INS_CERT, store__cert_cols, 1, "step_id");
static const struct table t_conn =
	TABLE("connections", STMT_INS_CONN, store__conn_cols, 2, "run_seq",
	      "step_id");
static const struct table t_exchange =
	TABLE("exchanges", STMT_INS_EXCHANGE, store__exchange_cols, 3,
	      "run_seq", "step_id", "connection_id");
static const struct table t_finding =
	TABLE("findings", STMT_INS_FINDING, store__finding_cols, 3, "run_seq",
	      "step_id", "connection_id");
static const struct table t_pcap =
	TABLE("pcaps", STMT_INS_PCAP, store__pcap_cols, 1, "run_seq");
static const struct table t_thresh = TABLE("threshold_evals",
					   STMT_INS_THRESH, store__thresh_cols, 1,
					   "run_seq");

static const struct table *const tables[] = {
	&t_run, &t_step, &t_cert, &t_conn, &t_exchange, &t_finding, &t_pcap,
	&t_thresh,
};

/* ---- statements --------------------------------------------------------- */

/* A bounded string for generated SQL (the longest is about 600 bytes). */
struct sqlbuf {
	char s[2048];
	size_t len;
	bool overflow;
};

static void sql_add(struct sqlbuf *b, const char *a, const char *c)
{
	size_t na = strlen(a), nc = strlen(c);

	if (b->overflow || b->len + na + nc >= sizeof(b->s)) {
		b->overflow = true;
		return;
	}
	memcpy(b->s + b->len, a, na);
	memcpy(b->s + b->len + na, c, nc + 1);
	b->len += na + nc;
}

/* INSERT INTO t (links..., cols...) VALUES (?, ...) */
static int prepare_insert(struct store *st, const struct table *t,
			  struct errbuf *err)
{
	struct sqlbuf b = { .len = 0 };
	size_t n = t->n_links + t->cols->n;

	sql_add(&b, "INSERT INTO ", t->name);
	for (size_t i = 0; i < n; i++)
		sql_add(&b, i ? ", " : " (", i < t->n_links ? t->links[i] :
			t->cols->v[i - t->n_links].name);
	for (size_t i = 0; i < n; i++)
		sql_add(&b, i ? ", " : ") VALUES (", "?");
	sql_add(&b, ")", "");
	if (b.overflow)
		return errbuf_set(err, PE_LIMIT, "BUG: INSERT INTO %s: too "
				  "long", t->name);
	return store__prepare(st, t->stmt, b.s, err);
}

int store__run_prepare(struct store *st, struct errbuf *err)
{
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		int ret = prepare_insert(st, tables[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- binding ------------------------------------------------------------ */

static int bind_col(struct store *st, sqlite3_stmt *s, int i,
		    const struct table *t, const struct store_col *c,
		    const void *rec, struct errbuf *err)
{
	const char *p = (const char *)rec + c->off;
	int rc = SQLITE_MISUSE;

	switch (c->type) {
	case COL_TEXT: {
		const char *v;
		size_t len;
		memcpy(&v, p, sizeof(v));
		if (!v) {
			rc = sqlite3_bind_null(s, i);
			break;
		}
		len = strnlen(v, RUN_MAX_TEXT + 1);
		if (len > RUN_MAX_TEXT)
			return errbuf_set(err, PE_LIMIT, "%s.%s: longer than "
					  "%u bytes", t->name, c->name,
					  RUN_MAX_TEXT);
		/* STATIC: the record outlives the step (insert() resets). */
		rc = sqlite3_bind_text(s, i, v, (int)len, SQLITE_STATIC);
		break;
	}
	case COL_REAL: {
		double v;
		memcpy(&v, p, sizeof(v));
		/* NAN is NULL; so are infinities, which neither SQL nor JSON
		 * readers can take. */
		rc = isfinite(v) ? sqlite3_bind_double(s, i, v) :
				   sqlite3_bind_null(s, i);
		break;
	}
	case COL_INT: {
		int64_t v;
		memcpy(&v, p, sizeof(v));
		rc = v == RUN_NULL_INT ? sqlite3_bind_null(s, i) :
					 sqlite3_bind_int64(s, i, v);
		break;
	}
	case COL_BOOL: {
		bool v;
		memcpy(&v, p, sizeof(v));
		rc = sqlite3_bind_int(s, i, v ? 1 : 0);
		break;
	}
	case COL_ENUM: {
		int v;
		memcpy(&v, p, sizeof(v));
		if (v < 0 || (size_t)v >= c->n_names)
			return errbuf_set(err, PE_INVAL, "%s.%s: no value %d",
					  t->name, c->name, v);
		rc = v == 0 ? sqlite3_bind_null(s, i) :
			      sqlite3_bind_text(s, i, c->names[v], -1,
						SQLITE_STATIC);
		break;
	}
	}
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, t->name);
	return 0;
}

/* Insert one record of t with the given links; its row id into *id. */
static int insert(struct store *st, const struct table *t,
		  const int64_t *links, const void *rec, int64_t *id,
		  struct errbuf *err)
{
	sqlite3_stmt *s = st->stmt[t->stmt];
	int ret = 0, rc = SQLITE_OK;
	int i = 1;

	for (size_t k = 0; k < t->n_links && rc == SQLITE_OK; k++, i++)
		rc = links[k] ? sqlite3_bind_int64(s, i, links[k]) :
				sqlite3_bind_null(s, i);
	if (rc != SQLITE_OK) {
		ret = store__fail(st->db, rc, err, t->name);
		goto fail;
	}
	for (size_t k = 0; k < t->cols->n; k++, i++) {
		ret = bind_col(st, s, i, t, &t->cols->v[k], rec, err);
		if (ret < 0)
			goto fail;
	}
	ret = store__step_done(st, t->stmt, t->name, err);
	if (ret < 0)
		return ret;
	*id = sqlite3_last_insert_rowid(st->db);
	return 0;
fail:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ret;
}

/* ---- connection keys ---------------------------------------------------- */

struct keyed {
	uint32_t key;
	const struct conn_rec *conn;
};

struct keymap {
	struct keyed *v;
	size_t n;
};

static int keyed_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct keyed *)a)->key;
	uint32_t y = ((const struct keyed *)b)->key;
	return (x > y) - (x < y);
}

static void keymap_add(struct keymap *km, const struct conn_rec *c,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c[i].key == 0)
			continue;
		km->v[km->n].key = c[i].key;
		km->v[km->n].conn = &c[i];
		km->n++;
	}
}

/*
 * Index the run's connections by key, after checking the caps: the keys
 * must be unique, and every key an exchange or finding names must exist.
 */
static int keymap_build(struct keymap *km, const struct run_rec *run,
			struct errbuf *err)
{
	size_t total = run->n_conns;

	if (run->n_steps > RUN_MAX_STEPS)
		return errbuf_set(err, PE_LIMIT, "run: more than %d steps",
				  RUN_MAX_STEPS);
	if (run->n_findings > RUN_MAX_FINDINGS)
		return errbuf_set(err, PE_LIMIT, "run: more than %d findings",
				  RUN_MAX_FINDINGS);
	for (size_t i = 0; i < run->n_steps; i++) {
		const struct step_rec *s = &run->steps[i];
		if (s->n_certs > RUN_MAX_CERTS ||
		    s->n_exchanges > RUN_MAX_EXCHANGES ||
		    s->n_findings > RUN_MAX_FINDINGS ||
		    s->n_conns > RUN_MAX_CONNS)
			return errbuf_set(err, PE_LIMIT, "step %zu: more "
					  "records than the RUN_MAX_* caps",
					  i + 1);
		total += s->n_conns;
	}
	if (total > RUN_MAX_CONNS)
		return errbuf_set(err, PE_LIMIT, "run: more than %d "
				  "connections", RUN_MAX_CONNS);
	km->v = calloc(total ? total : 1, sizeof(*km->v));
	if (!km->v)
		return errbuf_set(err, PE_NOMEM, "out of memory");
	keymap_add(km, run->conns, run->n_conns);
	for (size_t i = 0; i < run->n_steps; i++)
		keymap_add(km, run->steps[i].conns, run->steps[i].n_conns);
	qsort(km->v, km->n, sizeof(*km->v), keyed_cmp);
	for (size_t i = 1; i < km->n; i++)
		if (km->v[i].key == km->v[i - 1].key)
			return errbuf_set(err, PE_INVAL, "two connections "
					  "with key %u", km->v[i].key);
	return 0;
}

/* The connection key names, or NULL (key 0 gives NULL too). */
static const struct conn_rec *keymap_find(const struct keymap *km,
					  uint32_t key)
{
	struct keyed k = { key, NULL }, *hit;

	if (key == 0 || km->n == 0)
		return NULL;
	hit = bsearch(&k, km->v, km->n, sizeof(*km->v), keyed_cmp);
	return hit ? hit->conn : NULL;
}

/* The row id of the connection key names, 0 for key 0. */
static int conn_id(const struct keymap *km, uint32_t key, int64_t *id,
		   const char *who, struct errbuf *err)
{
	const struct conn_rec *c = keymap_find(km, key);

	*id = 0;
	if (key == 0)
		return 0;
	if (!c)
		return errbuf_set(err, PE_INVAL, "%s: conn_key %u names no "
				  "connection of the run", who, key);
	*id = c->id;
	return 0;
}

/*
 * Every key an exchange or finding names must exist: checked before the
 * write lock is taken.  (step 0 below is the run's own findings.)
 */
static int check_refs(const struct keymap *km, const struct run_rec *run,
		      struct errbuf *err)
{
	for (size_t i = 0; i <= run->n_steps; i++) {
		const struct step_rec *s = i ? &run->steps[i - 1] : NULL;
		const struct finding_rec *f = s ? s->findings : run->findings;
		size_t nf = s ? s->n_findings : run->n_findings;

		for (size_t k = 0; s && k < s->n_exchanges; k++) {
			uint32_t key = s->exchanges[k].conn_key;
			if (key && !keymap_find(km, key))
				return errbuf_set(err, PE_INVAL, "step %zu "
						  "exchange %zu: conn_key %u "
						  "names no connection", i,
						  k + 1, key);
		}
		for (size_t k = 0; k < nf; k++) {
			if (f[k].conn_key && !keymap_find(km, f[k].conn_key))
				return errbuf_set(err, PE_INVAL, "step %zu "
						  "finding %zu: conn_key %u "
						  "names no connection", i,
						  k + 1, f[k].conn_key);
		}
	}
	return 0;
}

/* ---- save --------------------------------------------------------------- */

static int save_conns(struct store *st, struct conn_rec *c, size_t n,
		      int64_t seq, int64_t step_id, struct errbuf *err)
{
	int64_t links[2] = { seq, step_id };

	for (size_t i = 0; i < n; i++) {
		int ret = insert(st, &t_conn, links, &c[i], &c[i].id, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int save_findings(struct store *st, const struct keymap *km,
			 struct finding_rec *f, size_t n, int64_t seq,
			 int64_t step_id, struct errbuf *err)
{
	int64_t links[3] = { seq, step_id, 0 };

	for (size_t i = 0; i < n; i++) {
		int ret = conn_id(km, f[i].conn_key, &links[2], "finding",
				  err);
		if (ret == 0)
			ret = insert(st, &t_finding, links, &f[i], &f[i].id,
				     err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Steps and their certificates. */
static int save_steps(struct store *st, struct run_rec *run,
		      struct errbuf *err)
{
	for (size_t i = 0; i < run->n_steps; i++) {
		struct step_rec *s = &run->steps[i];
		int ret = insert(st, &t_step, &run->seq, s, &s->id, err);
		for (size_t k = 0; k < s->n_certs && ret == 0; k++)
			ret = insert(st, &t_cert, &s->id, &s->certs[k],
				     &s->certs[k].id, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Exchanges and findings, once every connection has its id (an exchange
 * may ride on a connection a later step's record holds).
 */
static int save_refs(struct store *st, const struct keymap *km,
		     struct run_rec *run, struct errbuf *err)
{
	int ret = 0;

	for (size_t i = 0; i < run->n_steps && ret == 0; i++) {
		struct step_rec *s = &run->steps[i];
		int64_t links[3] = { run->seq, s->id, 0 };

		for (size_t k = 0; k < s->n_exchanges && ret == 0; k++) {
			struct exchange_rec *e = &s->exchanges[k];
			ret = conn_id(km, e->conn_key, &links[2], "exchange",
				      err);
			if (ret == 0)
				ret = insert(st, &t_exchange, links, e, &e->id,
					     err);
		}
		if (ret == 0)
			ret = save_findings(st, km, s->findings,
					    s->n_findings, run->seq, s->id,
					    err);
	}
	if (ret == 0)
		ret = save_findings(st, km, run->findings, run->n_findings,
				    run->seq, 0, err);
	return ret;
}

/* After a failure: no id may point at a row that was rolled back. */
static void clear_ids(struct run_rec *run)
{
	run->seq = 0;
	for (size_t i = 0; i < run->n_conns; i++)
		run->conns[i].id = 0;
	for (size_t i = 0; i < run->n_findings; i++)
		run->findings[i].id = 0;
	for (size_t i = 0; i < run->n_steps; i++) {
		struct step_rec *s = &run->steps[i];
		s->id = 0;
		for (size_t k = 0; k < s->n_certs; k++)
			s->certs[k].id = 0;
		for (size_t k = 0; k < s->n_conns; k++)
			s->conns[k].id = 0;
		for (size_t k = 0; k < s->n_exchanges; k++)
			s->exchanges[k].id = 0;
		for (size_t k = 0; k < s->n_findings; k++)
			s->findings[k].id = 0;
	}
	if (run->pcap)
		run->pcap->id = 0;
	for (size_t i = 0; i < run->n_thresholds; i++)
		run->thresholds[i].id = 0;
}

int store_run_save(struct store *st, struct run_rec *run, struct errbuf *err)
{
	struct keymap km = { NULL, 0 };
	bool in_txn = false;
	int ret;

	clear_ids(run);
	ret = keymap_build(&km, run, err);
	if (ret < 0)
		goto out;
	ret = check_refs(&km, run, err);
	if (ret < 0)
		goto out;

	ret = store__step_done(st, STMT_BEGIN, "BEGIN IMMEDIATE", err);
	if (ret < 0)
		goto out;
	in_txn = true;
	ret = insert(st, &t_run, NULL, run, &run->seq, err);
	if (ret < 0)
		goto out;
	ret = save_steps(st, run, err);
	if (ret < 0)
		goto out;
	ret = save_conns(st, run->conns, run->n_conns, run->seq, 0, err);
	for (size_t i = 0; i < run->n_steps && ret == 0; i++)
		ret = save_conns(st, run->steps[i].conns,
				 run->steps[i].n_conns, run->seq,
				 run->steps[i].id, err);
	if (ret < 0)
		goto out;
	ret = save_refs(st, &km, run, err);
	if (ret < 0)
		goto out;
	if (run->pcap) {
		ret = insert(st, &t_pcap, &run->seq, run->pcap, &run->pcap->id,
			     err);
		if (ret < 0)
			goto out;
	}
	for (size_t i = 0; i < run->n_thresholds; i++) {
		ret = insert(st, &t_thresh, &run->seq, &run->thresholds[i],
			     &run->thresholds[i].id, err);
		if (ret < 0)
			goto out;
	}
	ret = store__step_done(st, STMT_COMMIT, "COMMIT", err);
	if (ret < 0)
		goto out;
	in_txn = false;
out:
	if (in_txn)
		store__rollback(st);
	if (ret < 0)
		clear_ids(run);
	free(km.v);
	return ret;
}
