/*
 * test_store.c: the SQLite store: opening, migrations (an upgrade from
 * every earlier schema version), saving a run in one transaction, reading
 * runs back.  Stored rows are checked with plain SQL through a second
 * connection, as a user would query them.
 *
 * Every test gets its own directory under /tmp, removed afterwards.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "model/metric.h"
#include "model/run.h"
#include "store/internal.h"
#include "store/schema_sql.h"
#include "store/store.h"
#include "util/xalloc.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixture: a temporary directory ------------------------------------- */

struct fx {
	char dir[64];
	char db[128];
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/probe-test-store-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->db, sizeof(fx->db), "%s/probe.db", fx->dir);
	*state = fx;
	return 0;
}

/* The directory is flat: remove its files, then it. */
static int fx_teardown(void **state)
{
	struct fx *fx = *state;
	DIR *d = opendir(fx->dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char p[sizeof(fx->dir) + sizeof(e->d_name) + 1];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", fx->dir, e->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	if (d)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void fx_path(const struct fx *fx, char *buf, size_t len,
		    const char *name)
{
	snprintf(buf, len, "%s/%s", fx->dir, name);
}

/* ---- SQL through a second connection ------------------------------------ */

static sqlite3 *db_open(const char *path)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
				 SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK)
		fail_msg("open %s: %s", path, sqlite3_errstr(rc));
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

/*
 * The first column of the first row of sql as text ("NULL" for NULL,
 * "" for no row), in a buffer that the next call reuses.
 */
static const char *q(sqlite3 *db, const char *sql)
{
	static char buf[4096];
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	buf[0] = '\0';
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		snprintf(buf, sizeof(buf), "%s",
			 t ? (const char *)t : "NULL");
	} else if (rc != SQLITE_DONE) {
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	}
	sqlite3_finalize(s);
	return buf;
}

static const char *q1(const char *path, const char *sql)
{
	sqlite3 *db = db_open(path);
	const char *r = q(db, sql);
	sqlite3_close(db);
	return r;
}

/* The whole schema as text, to compare two databases. */
#define SCHEMA_SQL                                                        \
	"SELECT group_concat(type || ' ' || name || ' ' || "              \
	"coalesce(sql, ''), char(10)) FROM (SELECT * FROM sqlite_schema " \
	"ORDER BY type, name)"

static const char *const all_tables[] = {
	"runs", "steps", "certificates", "connections", "exchanges",
	"findings", "pcaps",
};

/* Rows in all the tables a run writes. */
static long rows_total(const char *path)
{
	sqlite3 *db = db_open(path);
	long n = 0;
	for (size_t i = 0; i < N_ELEM(all_tables); i++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s",
			 all_tables[i]);
		n += atol(q(db, sql));
	}
	sqlite3_close(db);
	return n;
}

static struct store *open_ok(const char *path)
{
	struct errbuf err = { "" };
	struct store *st = NULL;
	int r = store_open(path, &st, &err);
	if (r != 0)
		fail_msg("store_open %s: %s (%s)", path, err.msg, pe_name(r));
	return st;
}

/* ---- building runs ------------------------------------------------------ */

#include "run_fixture.h"

static void save_ok(struct store *st, struct run_rec *r)
{
	struct errbuf err = { "" };
	int ret = store_run_save(st, r, &err);
	if (ret != 0)
		fail_msg("store_run_save: %s (%s)", err.msg, pe_name(ret));
	assert_true(r->seq > 0);
}

/* ---- opening ------------------------------------------------------------ */

static void test_store_open_new(void **state)
{
	struct fx *fx = *state;
	struct store *st;
	struct stat sb;
	struct run_rec r;
	char wal[160];
	mode_t old = umask(022);

	st = open_ok(fx->db);
	umask(old);
	assert_int_equal(stat(fx->db, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(store_opened_version(st), 0);
	assert_int_equal(store_schema_version(st), schema_migration_count);
	assert_string_equal(store_sqlite_version(), sqlite3_libversion());

	/* The -wal file SQLite creates is as private as the database. */
	make_run(&r, "p1-a", "shop", T0);
	save_ok(st, &r);
	run_rec_release(&r);
	snprintf(wal, sizeof(wal), "%s-wal", fx->db);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	assert_string_equal(q1(fx->db, "PRAGMA journal_mode"), "wal");
	assert_int_equal(atoi(q1(fx->db, "PRAGMA user_version")),
			 schema_migration_count);
	assert_string_equal(q1(fx->db, "PRAGMA integrity_check"), "ok");
	assert_string_equal(q1(fx->db, "PRAGMA foreign_key_check"), "");
	store_close(st);
}

/* Opening what cannot be a store fails cleanly, with the right code. */
static void test_store_open_errors(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *name;    /* created in the test directory */
		const char *content; /* NULL: a directory; "": nothing */
		int code;
		const char *msg;     /* a part of the message */
	} cases[] = {
		{ "nodir/probe.db", "", PE_IO, "No such file or directory" },
		{ "adir", NULL, PE_IO, "Is a directory" },
		{ "text.db", "this is not a database, just text, 64 bytes "
		  "long or so .........\n", PE_STORE, "not a database" },
	};

	for (size_t i = 0; i < N_ELEM(cases); i++) {
		struct errbuf err = { "" };
		struct store *st = NULL;
		char path[160];

		fx_path(fx, path, sizeof(path), cases[i].name);
		if (!cases[i].content) {
			assert_int_equal(mkdir(path, 0700), 0);
		} else if (cases[i].content[0]) {
			FILE *f = fopen(path, "w");
			assert_non_null(f);
			fputs(cases[i].content, f);
			fclose(f);
		}
		assert_int_equal(store_open(path, &st, &err), cases[i].code);
		assert_null(st);
		if (!strstr(err.msg, cases[i].msg) || !strstr(err.msg, path))
			fail_msg("%s: message '%s' lacks '%s'", cases[i].name,
				 err.msg, cases[i].msg);
	}
}

/*
 * Build a database at version v the way an older probe left it: the
 * first v migrations, a run and a step in it when there are tables.
 * Rollback journal, as a probe that never opened it in WAL would.
 */
static void make_old_db(const char *path, int v)
{
	sqlite3 *db = db_open(path);
	char sql[64];

	db_exec(db, "BEGIN");
	for (int i = 0; i < v; i++)
		db_exec(db, schema_migrations[i].sql);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	db_exec(db, sql);
	if (v >= 1) {
		db_exec(db, "INSERT INTO runs (run_id, scenario, region, "
			"probe_id, started_at, ok, breach, clock_sync, "
			"capture, probe_version) VALUES ('old-1', 'shop', "
			"'r', 'p', '" T0 "', 1, 0, 'synced', 'on', '0.0.1')");
		db_exec(db, "INSERT INTO steps (run_seq, idx, name, kind, "
			"target, ok) VALUES (1, 1, 'dns#1', 'dns', "
			"'shop.example.com', 1)");
	}
	db_exec(db, "COMMIT");
	sqlite3_close(db);
}

/* The loop covers every version below the latest, including future
 * ones: adding schema/002_*.sql adds a case here by itself. */
static void test_store_upgrade_from_every_version(void **state)
{
	struct fx *fx = *state;
	char fresh_schema[4096];
	struct store *st;

	st = open_ok(fx->db);
	store_close(st);
	snprintf(fresh_schema, sizeof(fresh_schema), "%s",
		 q1(fx->db, SCHEMA_SQL));

	for (int v = 0; v < schema_migration_count; v++) {
		struct run_rec r;
		char path[160], name[32];

		snprintf(name, sizeof(name), "v%d.db", v);
		fx_path(fx, path, sizeof(path), name);
		make_old_db(path, v);

		st = open_ok(path);
		assert_int_equal(store_opened_version(st), v);
		assert_int_equal(store_schema_version(st),
				 schema_migration_count);
		/* Still usable for a full run after the upgrade. */
		make_run(&r, "p1-new", "shop", T0);
		save_ok(st, &r);
		run_rec_release(&r);
		store_close(st);

		assert_string_equal(q1(path, "PRAGMA journal_mode"), "wal");
		assert_string_equal(q1(path, "PRAGMA integrity_check"), "ok");
		assert_string_equal(q1(path, "PRAGMA foreign_key_check"), "");
		assert_string_equal(q1(path, SCHEMA_SQL), fresh_schema);
		if (v >= 1) {
			assert_string_equal(q1(path, "SELECT run_id || ' ' || "
					       "probe_version FROM runs "
					       "WHERE seq = 1"), "old-1 0.0.1");
			assert_string_equal(q1(path, "SELECT name FROM steps "
					       "WHERE run_seq = 1"), "dns#1");
		}
	}
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* A database from a newer probe is refused, and not touched at all. */
static void test_store_newer_refused(void **state)
{
	struct fx *fx = *state;
	struct errbuf err = { "" };
	struct store *st = NULL;
	char sql[64], *before, *after;
	size_t nb, na;
	sqlite3 *db;

	/* A rollback-journal file, so that switching it to WAL would show. */
	make_old_db(fx->db, schema_migration_count);
	db = db_open(fx->db);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 schema_migration_count + 1);
	db_exec(db, sql);
	sqlite3_close(db);
	before = read_file(fx->db, &nb);

	assert_int_equal(store_open(fx->db, &st, &err), PE_SCHEMA);
	assert_null(st);
	assert_non_null(strstr(err.msg, "newer than this probe"));

	after = read_file(fx->db, &na);
	assert_int_equal(na, nb);
	assert_memory_equal(before, after, nb);
	free(before);
	free(after);
	assert_string_equal(q1(fx->db, "PRAGMA journal_mode"), "delete");
}

/* Reopening an up-to-date file changes nothing in its schema. */
static void test_store_reopen_applies_nothing(void **state)
{
	struct fx *fx = *state;
	struct store *st;
	char cookie[32];

	st = open_ok(fx->db);
	store_close(st);
	snprintf(cookie, sizeof(cookie), "%s",
		 q1(fx->db, "PRAGMA schema_version"));
	for (int i = 0; i < 2; i++) {
		st = open_ok(fx->db);
		assert_int_equal(store_opened_version(st),
				 schema_migration_count);
		store_close(st);
	}
	assert_string_equal(q1(fx->db, "PRAGMA schema_version"), cookie);
}

/* Two stores on one file (two probe processes) see each other's runs. */
static void test_store_two_connections(void **state)
{
	struct fx *fx = *state;
	struct store *a = open_ok(fx->db), *b = open_ok(fx->db);
	struct run_rec r1, r2;

	make_run(&r1, "p1-a", "shop", T0);
	make_run(&r2, "p1-b", "shop", T0);
	save_ok(a, &r1);
	save_ok(b, &r2);
	assert_int_equal(r2.seq, r1.seq + 1);
	run_rec_release(&r1);
	run_rec_release(&r2);
	store_close(a);
	store_close(b);
	assert_string_equal(q1(fx->db, "SELECT group_concat(run_id) FROM "
			       "(SELECT run_id FROM runs ORDER BY seq)"),
			    "p1-a,p1-b");
}

/* ---- migrations, with made-up ones -------------------------------------- */

static void test_store_migrate_failures(void **state)
{
	struct fx *fx = *state;
	static const struct schema_migration good_bad[] = {
		{ 1, "001_a.sql", "CREATE TABLE a (x);" },
		{ 2, "002_b.sql", "CREATE TABLE b (y); INSERT INTO nosuch "
		  "VALUES (1);" },
	};
	static const struct schema_migration dangling[] = {
		{ 1, "001_fk.sql", "CREATE TABLE p (id INTEGER PRIMARY KEY);"
		  "CREATE TABLE c (p_id REFERENCES p (id));"
		  "INSERT INTO c VALUES (42);" },
	};
	static const struct schema_migration commits[] = {
		{ 1, "001_c.sql", "CREATE TABLE a (x); COMMIT;" },
	};
	static const struct schema_migration versions[] = {
		{ 1, "001_v.sql", "CREATE TABLE a (x);"
		  "PRAGMA user_version = 7;" },
	};
	static const struct schema_migration gap[] = {
		{ 1, "001_a.sql", "CREATE TABLE a (x);" },
		{ 3, "003_c.sql", "CREATE TABLE c (x);" },
	};
	static const struct schema_migration two[] = {
		{ 1, "001_a.sql", "CREATE TABLE a (x);" },
		{ 2, "002_b.sql", "CREATE TABLE b (x);" },
	};
	static const struct {
		const char *what;
		const struct schema_migration *m;
		int n;
		int start;           /* user_version set beforehand */
		int code;
		int version;         /* user_version afterwards */
		const char *tables;  /* tables afterwards */
		const char *msg;
	} cases[] = {
		{ "second fails", good_bad, 2, 0, PE_SCHEMA, 1, "a",
		  "002_b.sql: no such table: nosuch" },
		{ "dangling reference", dangling, 1, 0, PE_SCHEMA, 0, "",
		  "001_fk.sql: leaves a row of c" },
		{ "commits itself", commits, 1, 0, PE_SCHEMA, 0, "",
		  "001_c.sql: not authorized (a migration may not hold BEGIN" },
		{ "sets its version", versions, 1, 0, PE_SCHEMA, 0, "",
		  "may not hold PRAGMA user_version" },
		{ "numbering gap", gap, 2, 0, PE_SCHEMA, 0, "",
		  "003_c.sql: migration 2 says version 3" },
		{ "newer file", two, 2, 5, PE_SCHEMA, 5, "",
		  "version 5 is newer" },
		{ "from one", two, 2, 1, 0, 2, "b", "" },
		{ "from zero", two, 2, 0, 0, 2, "a,b", "" },
	};

	for (size_t i = 0; i < N_ELEM(cases); i++) {
		struct errbuf err = { "" };
		char path[160], name[32], sql[64];
		sqlite3 *db;
		int from = -1;

		snprintf(name, sizeof(name), "m%zu.db", i);
		fx_path(fx, path, sizeof(path), name);
		db = db_open(path);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
			 cases[i].start);
		db_exec(db, sql);
		assert_int_equal(store__migrate(db, cases[i].m, cases[i].n,
						&from, &err), cases[i].code);
		if (cases[i].code == 0)
			assert_int_equal(from, cases[i].start);
		assert_int_equal(atoi(q(db, "PRAGMA user_version")),
				 cases[i].version);
		if (strcmp(q(db, "SELECT coalesce(group_concat(name), '') FROM "
			     "(SELECT name FROM sqlite_schema WHERE type = "
			     "'table' ORDER BY name)"), cases[i].tables))
			fail_msg("%s: tables '%s'", cases[i].what,
				 q(db, "SELECT group_concat(name) FROM "
				   "sqlite_schema"));
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("%s: message '%s'", cases[i].what, err.msg);
		assert_true(sqlite3_get_autocommit(db));
		sqlite3_close(db);
	}
}

/* ---- saving ------------------------------------------------------------- */

/* Every stored value of make_run()'s run, as a user would query them. */
static const struct {
	const char *sql;
	const char *want;
} full_run_rows[] = {
	{ "SELECT json_array(seq, run_id, scenario, scenario_file, region, "
	  "probe_id, started_at, finished_at, ok, breach, clock_sync, capture, "
	  "capture_drops, capture_truncated, probe_version, error) FROM runs",
	  "[1,\"p1-a\",\"shop\",\"scenarios/shop.scn\",\"eu-west-1\",\"p1\","
	  "\"" T0 "\",\"2030-01-01T00:00:00.000001Z\",0,1,\"synced\",\"on\","
	  "0,2,\"0.1.0\",null]" },
	{ "SELECT json_group_array(json_array(idx, name, kind, target, ok, "
	  "skipped, error, error_detail, dns_ms, connect_ms, tls_ms, ttfb_ms, "
	  "total_ms, status, bytes, tls_version, tls_cipher, alpn, "
	  "tls_resumed, http_version, conn_state, family, rcode, answers)) "
	  "FROM (SELECT * FROM steps WHERE run_seq = 1 ORDER BY idx)",
	  "[[1,\"login\",\"http\",\"https://shop.example.com/login?u=${USER}\","
	  "1,0,null,null,1.5,10.25,30.5,50.75,60.0,302,0,\"TLSv1.3\","
	  "\"TLS_AES_128_GCM_SHA256\",\"h2\",0,\"2\",\"new\",\"ipv4\",null,"
	  "null],"
	  "[2,\"cart\",\"http\",\"https://shop.example.com/cart\",0,0,"
	  "\"http.status\",\"expected 200, got 500\",null,null,null,250.0,"
	  "251.0,500,null,null,null,null,null,null,\"reused\",\"ipv4\",null,"
	  "null]]" },
	{ "SELECT json_group_array(json_array(s.idx, c.depth, c.subject, "
	  "c.issuer, c.not_after, c.days_left, c.verified)) "
	  "FROM certificates c JOIN steps s ON s.id = c.step_id",
	  "[[1,0,\"CN=shop.example.com\",\"CN=Example CA\","
	  "\"2027-01-01T00:00:00.000000Z\",38,1],"
	  "[1,1,\"CN=Example CA\",\"CN=Example Root\","
	  "\"2030-01-01T00:00:00.000000Z\",1134,1]]" },
	{ "SELECT json_group_array(json_array((SELECT idx FROM steps s WHERE "
	  "s.id = c.step_id), family, src_addr, src_port, dst_addr, dst_port, "
	  "conn_state, source, rtt_ms, rtt_quality, syn_retrans, "
	  "tls_server_ms, tls_server_quality, hrr, resumed, bytes_in, "
	  "bytes_out, retrans, dup_acks, zero_window, out_of_order, lost_in, "
	  "rst, rst_at_ms, icmp, mss, wscale, sack)) "
	  "FROM (SELECT * FROM connections ORDER BY id) c",
	  "[[null,\"ipv4\",null,null,\"10.0.0.2\",53,null,\"pcap\",null,null,"
	  "null,null,null,null,null,null,null,null,null,null,null,null,null,"
	  "null,null,null,null,null],"
	  "[1,\"ipv4\",\"10.0.0.5\",40000,\"192.0.2.10\",443,\"new\",\"pcap\","
	  "10.0,\"measured\",0,2.5,\"measured\",0,0,5000,800,1,2,0,0,1,"
	  "\"server\",70.5,null,1460,7,1]]" },
	{ "SELECT json_group_array(json_array(s.idx, e.idx, c.dst_port, "
	  "e.method, e.url, e.status, e.source, e.request_ack_ms, "
	  "e.ack_pattern, e.ttfb_wire_ms, e.ttfb_wire_quality, e.think_ms, "
	  "e.think_quality, e.transfer_ms, e.goodput_kbps, "
	  "e.server_delayed_ack)) FROM (SELECT * FROM exchanges ORDER BY id) e "
	  "JOIN steps s ON s.id = e.step_id "
	  "LEFT JOIN connections c ON c.id = e.connection_id",
	  "[[1,1,443,\"POST\",\"https://shop.example.com/login?u=${USER}\","
	  "302,\"pcap\",10.5,\"piggybacked\",40.0,\"measured\",30.0,"
	  "\"measured\",1.25,800.0,0],"
	  "[2,1,443,\"GET\",null,301,null,null,null,null,null,null,null,null,"
	  "null,null],"
	  "[2,2,443,\"GET\",null,500,\"pcap\",null,null,9.0,null,null,"
	  "\"inconsistent\",null,null,null]]" },
	{ "SELECT json_group_array(json_array((SELECT idx FROM steps s WHERE "
	  "s.id = f.step_id), (SELECT dst_port FROM connections c WHERE "
	  "c.id = f.connection_id), code, json(packets), detail)) FROM "
	  "(SELECT * FROM findings ORDER BY id) f",
	  "[[1,443,\"RETRANSMISSIONS\",[7,9],\"1 retransmission\"],"
	  "[2,443,\"HTTP_STATUS\",[],null],"
	  "[null,null,\"CAPTURE_TRUNCATED\",null,"
	  "\"2 packets cut by the ring\"]]" },
	{ "SELECT json_array(run_seq, path, bytes, sha256, created_at, "
	  "expires_at, pruned, pruned_at) FROM pcaps",
	  "[1,\"spool/p1.pcapng\",12345,\"" SHA "\",\"" T0 "\","
	  "\"2026-12-23T13:43:04.123456Z\",0,null]" },
	/* every row belongs to run 1 */
	{ "SELECT (SELECT count(*) FROM steps WHERE run_seq = 1) || ' ' || "
	  "(SELECT count(*) FROM connections WHERE run_seq = 1) || ' ' || "
	  "(SELECT count(*) FROM exchanges WHERE run_seq = 1) || ' ' || "
	  "(SELECT count(*) FROM findings WHERE run_seq = 1)", "2 2 3 3" },
};

static void test_store_save_full_run(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->db);
	struct run_rec r;
	sqlite3 *db;

	make_run(&r, "p1-a", "shop", T0);
	save_ok(st, &r);
	assert_int_equal(r.seq, 1);
	/* ids are filled in, and match the rows */
	assert_true(r.steps[0].id > 0 && r.steps[1].id > r.steps[0].id);
	assert_true(r.steps[0].conns[0].id > 0 && r.conns[0].id > 0);
	assert_true(r.steps[1].exchanges[1].id > 0 && r.pcap->id > 0);
	assert_true(r.findings[0].id > 0 && r.steps[0].certs[1].id > 0);
	store_close(st);

	db = db_open(fx->db);
	for (size_t i = 0; i < N_ELEM(full_run_rows); i++) {
		const char *got = q(db, full_run_rows[i].sql);
		if (strcmp(got, full_run_rows[i].want) != 0)
			fail_msg("row check %zu:\n got  %s\n want %s", i, got,
				 full_run_rows[i].want);
	}
	assert_string_equal(q(db, "PRAGMA foreign_key_check"), "");
	sqlite3_close(db);
	run_rec_release(&r);
}

/* Ways to break a run; each must leave no row behind. */
static void brk_finding_code(struct run_rec *r)
{
	free(r->steps[1].findings[0].code); /* the last step's finding */
	r->steps[1].findings[0].code = NULL;
}
static void brk_started_at(struct run_rec *r)
{
	free(r->steps[1].started_at);
	r->steps[1].started_at = sdup("2026-11-23 13:43:04");
}
static void brk_pcap_sha(struct run_rec *r)
{
	r->pcap->sha256[0] = 'X'; /* the very last insert */
}
static void brk_step_idx(struct run_rec *r)
{
	r->steps[1].idx = 1; /* UNIQUE (run_seq, idx) */
}
static void brk_packets(struct run_rec *r)
{
	free(r->findings[0].packets);
	r->findings[0].packets = sdup("{\"frame\": 3}");
}
static void brk_conn_key(struct run_rec *r)
{
	r->steps[1].exchanges[0].conn_key = 77;
}
static void brk_finding_key(struct run_rec *r)
{
	r->findings[0].conn_key = 78;
}
static void brk_dup_key(struct run_rec *r)
{
	r->conns[0].key = 1;
}
static void brk_enum(struct run_rec *r)
{
	r->steps[0].conns[0].rst = RUN_RST_COUNT;
}
static void brk_long_text(struct run_rec *r)
{
	char *s = malloc(RUN_MAX_TEXT + 2);
	assert_non_null(s);
	memset(s, 'x', RUN_MAX_TEXT + 1);
	s[RUN_MAX_TEXT + 1] = '\0';
	free(r->steps[1].error_detail);
	r->steps[1].error_detail = s;
}
static void brk_nothing(struct run_rec *r)
{
	(void)r;
}

static void test_store_save_is_atomic(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *what;
		void (*brk)(struct run_rec *);
		int code;
		const char *msg;
	} cases[] = {
		{ "NULL finding code", brk_finding_code, PE_STORE,
		  "findings: NOT NULL constraint failed: findings.code" },
		{ "bad timestamp", brk_started_at, PE_STORE,
		  "steps: CHECK constraint failed: started_at" },
		{ "bad sha256", brk_pcap_sha, PE_STORE,
		  "pcaps: CHECK constraint failed: length(sha256)" },
		{ "duplicate step idx", brk_step_idx, PE_STORE,
		  "steps: UNIQUE constraint failed: steps.run_seq, steps.idx" },
		{ "packets not an array", brk_packets, PE_STORE,
		  "findings: CHECK constraint failed: packets" },
		{ "unknown conn_key", brk_conn_key, PE_INVAL,
		  "step 2 exchange 1: conn_key 77 names no connection" },
		{ "unknown finding key", brk_finding_key, PE_INVAL,
		  "step 0 finding 1: conn_key 78" },
		{ "duplicate key", brk_dup_key, PE_INVAL,
		  "two connections with key 1" },
		{ "enum out of range", brk_enum, PE_INVAL,
		  "connections.rst: no value 3" },
		{ "text too long", brk_long_text, PE_LIMIT,
		  "steps.error_detail: longer than 65536 bytes" },
	};
	struct store *st = open_ok(fx->db);
	struct run_rec r;

	for (size_t i = 0; i < N_ELEM(cases); i++) {
		struct errbuf err = { "" };
		int ret;

		make_run(&r, "p1-a", "shop", T0);
		cases[i].brk(&r);
		ret = store_run_save(st, &r, &err);
		if (ret != cases[i].code || !strstr(err.msg, cases[i].msg))
			fail_msg("%s: got %s '%s', want %s '%s'", cases[i].what,
				 pe_name(ret), err.msg, pe_name(cases[i].code),
				 cases[i].msg);
		assert_int_equal(r.seq, 0);
		assert_int_equal(r.steps[0].id, 0);
		assert_int_equal(r.steps[0].conns[0].id, 0);
		run_rec_release(&r);
		if (rows_total(fx->db) != 0)
			fail_msg("%s: rows left behind", cases[i].what);
	}

	/* The store is still good for the next run; a duplicate run_id
	 * fails on its own, leaving the first. */
	make_run(&r, "p1-a", "shop", T0);
	brk_nothing(&r);
	save_ok(st, &r);
	run_rec_release(&r);
	{
		struct errbuf err = { "" };
		make_run(&r, "p1-a", "shop", T0);
		assert_int_equal(store_run_save(st, &r, &err), PE_STORE);
		assert_non_null(strstr(err.msg, "runs.run_id"));
		run_rec_release(&r);
	}
	assert_int_equal(rows_total(fx->db), 1 + 2 + 2 + 2 + 3 + 3 + 1);
	store_close(st);
}

/* Unknown figures become SQL NULL, never 0; so do infinities. */
static void test_store_null_figures(void **state)
{
	struct fx *fx = *state;
	/* Columns that are not NULL for a record fresh from its _init. */
	static const struct {
		const char *table;
		const char *not_null; /* ",col,col," */
	} tables[] = {
		{ "steps", ",id,run_seq,idx,name,kind,target,ok,skipped," },
		{ "connections", ",id,run_seq,step_id," },
		{ "exchanges", ",id,run_seq,step_id,idx," },
		{ "certificates", ",id,step_id,depth," },
		{ "findings", ",id,run_seq,step_id,code," },
	};
	struct store *st = open_ok(fx->db);
	struct run_rec r;
	struct step_rec *s;
	struct conn_rec *c;
	struct exchange_rec *e;
	struct cert_rec *cert;
	struct finding_rec *f;
	sqlite3 *db;

	run_rec_init(&r);
	r.run_id = sdup("p1-null");
	r.scenario = sdup("shop");
	r.region = sdup("r");
	r.probe_id = sdup("p1");
	r.started_at = sdup(T0);
	r.clock_sync = RUN_CLOCK_UNKNOWN;
	r.capture = RUN_CAPTURE_UNAVAILABLE;
	r.probe_version = sdup("0.1.0");
	assert_int_equal(run_rec_add_step(&r, &s), 0);
	s->name = sdup("tcp#1");
	s->kind = RUN_KIND_TCP;
	s->target = sdup("shop.example.com:443");
	s->total_ms = INFINITY;
	assert_int_equal(step_rec_add_conn(s, &c), 0);
	c->rtt_ms = -INFINITY;
	assert_int_equal(step_rec_add_exchange(s, &e), 0);
	assert_int_equal(step_rec_add_cert(s, &cert), 0);
	assert_int_equal(step_rec_add_finding(s, &f), 0);
	f->code = sdup("TCP_REFUSED");
	save_ok(st, &r);
	run_rec_release(&r);
	store_close(st);

	db = db_open(fx->db);
	assert_string_equal(q(db, "SELECT json_array(scenario_file, "
			      "finished_at, capture_drops, capture_truncated, "
			      "error) FROM runs"),
			    "[null,null,null,null,null]");
	for (size_t i = 0; i < N_ELEM(tables); i++) {
		char sql[128];
		sqlite3_stmt *stmt;

		snprintf(sql, sizeof(sql), "SELECT * FROM %s",
			 tables[i].table);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
		for (int k = 0; k < sqlite3_column_count(stmt); k++) {
			char col[64];
			bool null = sqlite3_column_type(stmt, k) == SQLITE_NULL;
			snprintf(col, sizeof(col), ",%s,",
				 sqlite3_column_name(stmt, k));
			if (null == (strstr(tables[i].not_null, col) != NULL))
				fail_msg("%s.%s is %sNULL", tables[i].table,
					 sqlite3_column_name(stmt, k),
					 null ? "" : "not ");
		}
		sqlite3_finalize(stmt);
	}
	sqlite3_close(db);
}

/* ---- reading ------------------------------------------------------------ */

struct listed {
	char ids[256];
	int stop_after;    /* > 0: return 1 after this many */
	int fail_after;    /* > 0: return PE_LIMIT after this many */
	int n;
	struct run_summary first;
	char first_id[32];
};

static int collect(const struct run_summary *r, void *ctx)
{
	struct listed *l = ctx;
	size_t len = strlen(l->ids);

	if (l->n == 0) {
		l->first = *r;
		snprintf(l->first_id, sizeof(l->first_id), "%s", r->run_id);
	}
	snprintf(l->ids + len, sizeof(l->ids) - len, "%s%s", len ? "," : "",
		 r->run_id);
	l->n++;
	if (l->fail_after && l->n == l->fail_after)
		return PE_LIMIT;
	return l->stop_after && l->n == l->stop_after ? 1 : 0;
}

static void test_store_runs_list(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *run_id, *scenario, *started_at;
	} runs[] = {
		/* saved in this order: seq 1..4 */
		{ "a", "shop", "2026-11-20T10:00:00.000000Z" },
		{ "b", "cart", "2026-11-22T10:00:00.000000Z" },
		{ "c", "shop", "2026-11-21T10:00:00.000000Z" },
		{ "d", "shop", "2026-11-22T10:00:00.000000Z" },
	};
	static const struct {
		struct store_run_filter f;
		int stop_after, fail_after;
		int code;
		const char *want;
	} cases[] = {
		{ { NULL, NULL, 0 }, 0, 0, 0, "d,b,c,a" },
		{ { NULL, "shop", 0 }, 0, 0, 0, "d,c,a" },
		{ { NULL, "cart", 0 }, 0, 0, 0, "b" },
		{ { NULL, "none", 0 }, 0, 0, 0, "" },
		{ { "2026-11-21", NULL, 0 }, 0, 0, 0, "d,b,c" },
		{ { "2026-11-21T10:00:00.000001Z", NULL, 0 }, 0, 0, 0, "d,b" },
		{ { "2026-11-21T10:00:00.000000Z", NULL, 0 }, 0, 0, 0,
		  "d,b,c" },
		{ { "2027", NULL, 0 }, 0, 0, 0, "" },
		{ { NULL, NULL, 2 }, 0, 0, 0, "d,b" },
		{ { "2026-11-21", "shop", 1 }, 0, 0, 0, "d" },
		{ { NULL, NULL, 0 }, 3, 0, 0, "d,b,c" },
		{ { NULL, NULL, 0 }, 0, 2, PE_LIMIT, "d,b" },
		{ { "2026-11-21 10:00", NULL, 0 }, 0, 0, PE_INVAL, "" },
		{ { "yesterday", NULL, 0 }, 0, 0, PE_INVAL, "" },
		{ { "", NULL, 0 }, 0, 0, PE_INVAL, "" },
	};
	struct store *st = open_ok(fx->db);
	struct listed l;

	for (size_t i = 0; i < N_ELEM(runs); i++) {
		struct run_rec r;
		make_run(&r, runs[i].run_id, runs[i].scenario,
			 runs[i].started_at);
		save_ok(st, &r);
		run_rec_release(&r);
	}
	for (size_t i = 0; i < N_ELEM(cases); i++) {
		struct errbuf err = { "" };
		int ret;

		memset(&l, 0, sizeof(l));
		l.stop_after = cases[i].stop_after;
		l.fail_after = cases[i].fail_after;
		ret = store_runs_list(st, &cases[i].f, collect, &l, &err);
		if (ret != cases[i].code || strcmp(l.ids, cases[i].want))
			fail_msg("case %zu: got %s '%s' (%s), want %s '%s'", i,
				 pe_name(ret), l.ids, err.msg,
				 pe_name(cases[i].code), cases[i].want);
	}

	/* What a summary says (NULL filter: everything). */
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_runs_list(st, NULL, collect, &l, NULL), 0);
	assert_string_equal(l.ids, "d,b,c,a");
	assert_string_equal(l.first_id, "d");
	assert_int_equal(l.first.seq, 4);
	assert_false(l.first.ok);
	assert_true(l.first.breach);
	assert_int_equal(l.first.n_steps, 2);
	assert_int_equal(l.first.n_failed, 1);
	assert_int_equal(l.first.n_findings, 3);
	store_close(st);
}

/* Every public metric is a column of its level's table (DESIGN 10). */
static void test_store_metric_columns(void **state)
{
	struct fx *fx = *state;
	static const char *const level_table[] = {
		[METRIC_STEP] = "steps",
		[METRIC_CONNECTION] = "connections",
		[METRIC_EXCHANGE] = "exchanges",
	};
	struct store *st = open_ok(fx->db);
	sqlite3 *db;

	store_close(st);
	db = db_open(fx->db);
	for (int m = 0; m < M_COUNT; m++) {
		const struct metric_info *mi = metric_info((enum metric)m);
		char sql[128];
		sqlite3_stmt *s = NULL;

		snprintf(sql, sizeof(sql), "SELECT %s FROM %s", mi->name,
			 level_table[mi->level]);
		if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
			fail_msg("%s: %s", sql, sqlite3_errmsg(db));
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
}

/* ---- run.h helpers ------------------------------------------------------ */

static void test_store_rec_helpers(void **state)
{
	struct run_rec r;
	struct step_rec *s;
	struct cert_rec *c;
	struct finding_rec *f;
	uint64_t frames[] = { 1, 42, UINT64_MAX };
	int ret = 0;

	(void)state;
	run_rec_init(&r);
	assert_int_equal(r.capture_drops, RUN_NULL_INT);
	assert_int_equal(run_rec_add_step(&r, &s), 0);
	assert_int_equal(run_rec_add_step(&r, &s), 0);
	assert_int_equal(s->idx, 2);
	assert_true(isnan(s->dns_ms));
	assert_int_equal(s->status, RUN_NULL_INT);
	assert_int_equal(s->kind, RUN_KIND_NULL);

	for (int i = 0; i < RUN_MAX_CERTS; i++) {
		assert_int_equal(step_rec_add_cert(s, &c), 0);
		assert_int_equal(c->depth, i);
		c->subject = sdup("CN=x");
	}
	c = NULL;
	assert_int_equal(step_rec_add_cert(s, &c), PE_LIMIT);
	assert_null(c);
	assert_int_equal(s->n_certs, RUN_MAX_CERTS);

	assert_int_equal(run_rec_add_finding(&r, &f), 0);
	assert_int_equal(finding_rec_set_packets(f, frames, 3), 0);
	assert_string_equal(f->packets, "[1,42,18446744073709551615]");
	assert_int_equal(finding_rec_set_packets(f, frames, 0), 0);
	assert_string_equal(f->packets, "[]");
	frames[1] = 0;
	assert_int_equal(finding_rec_set_packets(f, frames, 3), PE_INVAL);
	assert_int_equal(finding_rec_set_packets(f, frames,
						 RUN_MAX_PACKETS + 1),
			 PE_LIMIT);
	assert_string_equal(f->packets, "[]");

	for (int i = 0; i < RUN_MAX_STEPS && ret == 0; i++)
		ret = run_rec_add_step(&r, &s);
	assert_int_equal(ret, PE_LIMIT);
	assert_int_equal(r.n_steps, RUN_MAX_STEPS);
	run_rec_release(&r);
	assert_null(r.steps);
	assert_int_equal(r.n_steps, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_store_open_new),
		T(test_store_open_errors),
		T(test_store_upgrade_from_every_version),
		T(test_store_newer_refused),
		T(test_store_reopen_applies_nothing),
		T(test_store_two_connections),
		T(test_store_migrate_failures),
		T(test_store_save_full_run),
		T(test_store_save_is_atomic),
		T(test_store_null_figures),
		T(test_store_runs_list),
		T(test_store_metric_columns),
		cmocka_unit_test(test_store_rec_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
