/*
 * db.c: opening the store: the file, the connection's settings, the
 * schema migrations, and the statement helpers the other store files use.
 *
 * Settings, and why:
 *   - The file is created by open(2) with mode 0600 before SQLite sees it:
 *     runs name internal hosts and addresses.  SQLite gives the -wal and
 *     -shm files it creates later the database file's permissions.
 *   - WAL: `probe serve` and `probe report` read while `probe run` writes.
 *   - busy_timeout: two runs finishing together wait for each other
 *     instead of failing.
 *   - synchronous=NORMAL: in WAL mode a commit is complete once its frames
 *     are written to the -wal file; NORMAL only skips the fsync, which
 *     matters for power loss or a kernel crash, not for kill -9 (the data
 *     is in the page cache, owned by the kernel, not by the dead process).
 *     After a power loss the last few runs may be missing; the database
 *     is never corrupt.  FULL would fsync every run for little benefit.
 *   - foreign_keys=ON for the store's own writes, but OFF while migrating:
 *     a later migration that rebuilds a table (create, copy, drop, rename,
 *     sqlite.org/lang_altertable.html section 7) would otherwise cascade
 *     the DROP into the child tables.  Each migration runs
 *     PRAGMA foreign_key_check before it commits instead.
 */
#include "store/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int store__fail(sqlite3 *db, int rc, struct errbuf *err, const char *what)
{
	int code;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = PE_BUSY;
		break;
	case SQLITE_NOMEM:
		code = PE_NOMEM;
		break;
	default:
		code = PE_STORE;
		break;
	}
	return errbuf_set(err, code, "%s: %s", what,
			  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

int store__prepare(struct store *st, enum store_stmt id, const char *sql,
		   struct errbuf *err)
{
	int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				    &st->stmt[id], NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "prepare");
	return 0;
}

int store__prepare_once(struct store *st, const char *sql, sqlite3_stmt **s,
			struct errbuf *err)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "prepare");
	return 0;
}

int store__step_done(struct store *st, enum store_stmt id, const char *what,
		     struct errbuf *err)
{
	sqlite3_stmt *s = st->stmt[id];
	int ret = 0;
	int rc = sqlite3_step(s);

	/* The message must be read before sqlite3_reset() (which returns
	 * the same error again, so its result adds nothing). */
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = store__fail(st->db, rc, err, what);
	else if (rc == SQLITE_ROW)
		ret = errbuf_set(err, PE_STORE, "%s: unexpected row", what);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ret;
}

void store__rollback(struct store *st)
{
	/*
	 * Some errors (SQLITE_FULL, IOERR, NOMEM) end the transaction by
	 * themselves; then there is nothing to roll back.  If ROLLBACK itself
	 * fails there is nothing better to do: the caller already reports the
	 * first error, which is the useful one.
	 */
	if (sqlite3_get_autocommit(st->db))
		return;
	if (sqlite3_step(st->stmt[STMT_ROLLBACK]) != SQLITE_DONE)
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_reset(st->stmt[STMT_ROLLBACK]);
}

/* Run one statement that needs no parameters and whose rows do not
 * matter. */
static int exec(sqlite3 *db, const char *sql, struct errbuf *err)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return store__fail(db, rc, err, sql);
	return 0;
}

/* The first column of the first row of sql, as text into buf. */
static int query_text(sqlite3 *db, const char *sql, char *buf, size_t len,
		      struct errbuf *err)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int ret, rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		ret = store__fail(db, rc, err, sql);
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		ret = rc == SQLITE_DONE ?
			errbuf_set(err, PE_STORE, "%s: no result", sql) :
			store__fail(db, rc, err, sql);
		goto out;
	}
	v = sqlite3_column_text(s, 0);
	snprintf(buf, len, "%s", v ? (const char *)v : "");
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

int store__user_version(sqlite3 *db, int *v, struct errbuf *err)
{
	char buf[32];
	int ret = query_text(db, "PRAGMA user_version", buf, sizeof(buf), err);
	if (ret < 0)
		return ret;
	*v = atoi(buf);
	return 0;
}

/* A migration must leave no dangling reference behind (see the top). */
static int fk_check(sqlite3 *db, const char *name, struct errbuf *err)
{
	sqlite3_stmt *s = NULL;
	int ret, rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		ret = store__fail(db, rc, err, name);
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ret = errbuf_set(err, PE_SCHEMA,
				 "%s: leaves a row of %s with a dangling "
				 "reference to %s", name,
				 (const char *)sqlite3_column_text(s, 0),
				 (const char *)sqlite3_column_text(s, 2));
	else if (rc != SQLITE_DONE)
		ret = store__fail(db, rc, err, name);
	else
		ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

static int newer(int v, int n, struct errbuf *err)
{
	if (v < 0)
		return errbuf_set(err, PE_SCHEMA, "database schema version %d "
				  "is not one of probe's", v);
	return errbuf_set(err, PE_SCHEMA,
			  "database schema version %d is newer than this "
			  "probe's (%d): use a newer probe on it", v, n);
}

/*
 * While a migration's own SQL runs, this authorizer refuses what would
 * break the transaction around it (BEGIN, COMMIT, ROLLBACK) or the version
 * bookkeeping (PRAGMA user_version): a migration file must not hold them.
 * SQLite asks when it prepares each statement, before running it.
 */
static int migration_auth(void *ctx, int action, const char *a3,
			  const char *a4, const char *db, const char *trig)
{
	const char **refused = ctx;

	(void)a4;
	(void)db;
	(void)trig;
	if (action == SQLITE_TRANSACTION) {
		*refused = "BEGIN, COMMIT or ROLLBACK";
		return SQLITE_DENY;
	}
	if (action == SQLITE_PRAGMA && a3 &&
	    strcasecmp(a3, "user_version") == 0) {
		*refused = "PRAGMA user_version";
		return SQLITE_DENY;
	}
	return SQLITE_OK;
}

/*
 * Apply the migration after the version found once the write lock is
 * held: another process may have migrated while this one waited for it.
 * *v is the version afterwards.
 */
static int migrate_one(sqlite3 *db, const struct schema_migration *m, int n,
		       int *v, struct errbuf *err)
{
	const char *refused = NULL;
	char sql[48];
	int ret, rc, cur;
	bool done = false;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return store__fail(db, rc, err, "migration: BEGIN IMMEDIATE");
	ret = store__user_version(db, &cur, err);
	if (ret < 0)
		goto out;
	if (cur >= n || cur < 0) {
		*v = cur; /* someone else did it (or is newer): recheck */
		goto out;
	}
	rc = sqlite3_set_authorizer(db, migration_auth, &refused);
	if (rc == SQLITE_OK) {
		rc = sqlite3_exec(db, m[cur].sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			ret = errbuf_set(err, (rc & 0xff) == SQLITE_NOMEM ?
					 PE_NOMEM : PE_SCHEMA, "%s: %s%s%s%s",
					 m[cur].name, sqlite3_errmsg(db),
					 refused ? " (a migration may not "
					 "hold " : "", refused ? refused : "",
					 refused ? ")" : "");
		(void)sqlite3_set_authorizer(db, NULL, NULL);
	} else {
		ret = store__fail(db, rc, err, m[cur].name);
	}
	if (ret < 0)
		goto out;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", cur + 1);
	ret = exec(db, sql, err);
	if (ret < 0)
		goto out;
	ret = fk_check(db, m[cur].name, err);
	if (ret < 0)
		goto out;
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		ret = store__fail(db, rc, err, m[cur].name);
		goto out;
	}
	done = true;
	*v = cur + 1;
out:
	if (!done && !sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int store__migrate(sqlite3 *db, const struct schema_migration *m, int n,
		   int *from, struct errbuf *err)
{
	int v, ret;

	for (int i = 0; i < n; i++)
		if (m[i].version != i + 1)
			return errbuf_set(err, PE_SCHEMA,
					  "%s: migration %d says version %d",
					  m[i].name, i + 1, m[i].version);
	ret = store__user_version(db, &v, err);
	if (ret < 0)
		return ret;
	*from = v;
	/* The common case, an up-to-date file, takes no write lock. */
	while (v != n) {
		if (v > n || v < 0)
			return newer(v, n, err);
		ret = migrate_one(db, m, n, &v, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Create path with mode 0600 unless it exists (it is then left as is). */
static int create_file(const char *path, struct errbuf *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return errbuf_set(err, PE_IO, "%s", strerror(errno));
	if (close(fd) < 0)
		return errbuf_set(err, PE_IO, "close: %s", strerror(errno));
	return 0;
}

static const struct {
	enum store_stmt id;
	const char *sql;
} db_stmts[] = {
	{ STMT_BEGIN, "BEGIN IMMEDIATE" },
	{ STMT_COMMIT, "COMMIT" },
	{ STMT_ROLLBACK, "ROLLBACK" },
	{ STMT_USER_VERSION, "PRAGMA user_version" },
};

/* Everything after sqlite3_open_v2; errors come without the path. */
static int setup(struct store *st, struct errbuf *err)
{
	char mode[16];
	int ret, rc, v;

	rc = sqlite3_extended_result_codes(st->db, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		return store__fail(st->db, rc, err, "setup");

	/* Refuse a newer file before changing anything in it (even its
	 * journal mode). */
	ret = store__user_version(st->db, &v, err);
	if (ret < 0)
		return ret;
	if (v > schema_migration_count || v < 0)
		return newer(v, schema_migration_count, err);
	st->opened_version = v;

	ret = query_text(st->db, "PRAGMA journal_mode = WAL", mode,
			 sizeof(mode), err);
	if (ret < 0)
		return ret;
	if (strcasecmp(mode, "wal") != 0)
		return errbuf_set(err, PE_STORE, "cannot use WAL mode here "
				  "(journal_mode stays %s)", mode);
	ret = exec(st->db, "PRAGMA synchronous = NORMAL", err);
	if (ret < 0)
		return ret;

	ret = exec(st->db, "PRAGMA foreign_keys = OFF", err);
	if (ret < 0)
		return ret;
	ret = store__migrate(st->db, schema_migrations, schema_migration_count,
			     &v, err);
	if (ret < 0)
		return ret;
	ret = exec(st->db, "PRAGMA foreign_keys = ON", err);
	if (ret < 0)
		return ret;
	ret = query_text(st->db, "PRAGMA foreign_keys", mode, sizeof(mode),
			 err);
	if (ret < 0)
		return ret;
	if (strcmp(mode, "1") != 0)
		return errbuf_set(err, PE_STORE, "this SQLite does not enforce "
				  "foreign keys");

	for (size_t i = 0; i < sizeof(db_stmts) / sizeof(db_stmts[0]); i++) {
		ret = store__prepare(st, db_stmts[i].id, db_stmts[i].sql, err);
		if (ret < 0)
			return ret;
	}
	ret = store__run_prepare(st, err);
	if (ret < 0)
		return ret;
	return store__query_prepare(st, err);
}

int store_open(const char *path, struct store **out, struct errbuf *err)
{
	struct errbuf e = { "" };
	struct store *st;
	int ret, rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return errbuf_set(err, PE_NOMEM, "%s: out of memory", path);
	ret = create_file(path, &e);
	if (ret < 0)
		goto out;
	/* NOMUTEX: a store is used by one thread at a time (store.h). */
	rc = sqlite3_open_v2(path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ret = store__fail(st->db, rc, &e, "open");
		goto out;
	}
	ret = setup(st, &e);
	if (ret < 0)
		goto out;
	*out = st;
	st = NULL;
out:
	if (ret < 0)
		errbuf_set(err, ret, "%s: %s", path, e.msg);
	store_close(st);
	return ret;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	/* sqlite3_finalize() returns the statement's last error, already
	 * reported; it releases the statement regardless. */
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	/* With every statement finalized, close cannot be refused as busy;
	 * it checkpoints the WAL if this was the last connection. */
	(void)sqlite3_close(st->db);
	free(st);
}

int store_opened_version(const struct store *st)
{
	return st->opened_version;
}
