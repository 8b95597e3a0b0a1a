/*
 * internal.h: what the store's files share.  Not for use outside
 * src/store/ (unit tests excepted): it is the one place, with the store's
 * .c files, that sees sqlite3.h.
 */
#ifndef PROBE_STORE_INTERNAL_H
#define PROBE_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store/schema_sql.h"
#include "store/store.h"
#include "util/err.h"

/* The prepared statements a store keeps for its lifetime. */
enum store_stmt {
	STMT_BEGIN,     /* BEGIN IMMEDIATE */
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_USER_VERSION,
	STMT_INS_RUN,
	STMT_INS_STEP,
	STMT_INS_CERT,
	STMT_INS_CONN,
	STMT_INS_EXCHANGE,
	STMT_INS_FINDING,
	STMT_INS_PCAP,
	STMT_INS_THRESH,
	STMT_LIST_ALL,
	STMT_LIST_SCENARIO,
	STMT_COUNT
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT];
	int opened_version; /* user_version before store_open migrated */
};

/*
 * Put "what: sqlite's message" into err and return the PE_* code for the
 * SQLite result code rc: PE_BUSY for a lock that busy_timeout could not
 * wait out, PE_NOMEM, else PE_STORE.
 */
int store__fail(sqlite3 *db, int rc, struct errbuf *err, const char *what);

/* Prepare sql into st->stmt[id] (kept for the store's lifetime). */
int store__prepare(struct store *st, enum store_stmt id, const char *sql,
		   struct errbuf *err) PE_WARN_UNUSED;

/*
 * Step a statement that returns no rows (BEGIN, INSERT...), then reset it
 * and clear its bindings whatever happened.  what names it in errors.
 */
int store__step_done(struct store *st, enum store_stmt id, const char *what,
		     struct errbuf *err) PE_WARN_UNUSED;

/* Roll back the open transaction, if SQLite has not already done so. */
void store__rollback(struct store *st);

/*
 * Bring db up to migration n of m[] (m[i].version must be i + 1), each
 * migration in its own BEGIN IMMEDIATE transaction that also sets
 * user_version and checks foreign keys; db must have foreign_keys off
 * (see db.c).  *from gets the version found first.  PE_SCHEMA when the
 * database is newer than n or a migration fails (that migration is rolled
 * back; earlier ones stay), PE_BUSY, PE_STORE.
 */
int store__migrate(sqlite3 *db, const struct schema_migration *m, int n,
		   int *from, struct errbuf *err) PE_WARN_UNUSED;

/* Read PRAGMA user_version into *v. */
int store__user_version(sqlite3 *db, int *v, struct errbuf *err)
	PE_WARN_UNUSED;

/* Prepare the statements of store_run.c and store_query.c. */
int store__run_prepare(struct store *st, struct errbuf *err) PE_WARN_UNUSED;

/* Is since a non-empty prefix of the stored UTC form ending in a digit
 * ("2026-11-23", "2026-11-23T13:00"), so that comparing text compares
 * times?  (store_query.c) */
bool store__since_ok(const char *since);
int store__query_prepare(struct store *st, struct errbuf *err)
	PE_WARN_UNUSED;

#endif
