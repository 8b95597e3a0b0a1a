/*
 * internal.h: what the store's files share.  Not for use outside
 * src/store/ (unit tests excepted): it is the one place, with the store's
 * .c files, that sees sqlite3.h.
 */
#ifndef PROBE_STORE_INTERNAL_H
#define PROBE_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/schema_sql.h"
#include "model/run.h"
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

/* Prepare sql into *s for one use (the caller finalizes it). */
int store__prepare_once(struct store *st, const char *sql, sqlite3_stmt **s,
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

/* ---- columns (store_cols.c) --------------------------------------------- */

enum store_col_type { COL_TEXT = 1, COL_REAL, COL_INT, COL_BOOL, COL_ENUM };

struct store_col {
	const char *name;
	enum store_col_type type;
	size_t off;
	const char *const *names; /* COL_ENUM: stored values, [0] = NULL */
	size_t n_names;
};

#define COL_TYPE(T, f)                                                    \
	_Generic(((struct T *)0)->f, char *: COL_TEXT, double: COL_REAL,  \
		 int64_t: COL_INT, bool: COL_BOOL)
#define COL(T, f) { #f, COL_TYPE(T, f), offsetof(struct T, f), NULL, 0 }
/* An enum field is read as an int: the array's size fails to compile
 * unless the field has an int's size. */
#define ECOL(T, f, tab)                                                   \
	{ #f, COL_ENUM,                                                   \
	  offsetof(struct T, f) +                                         \
		  0 * sizeof(char[sizeof(((struct T *)0)->f) ==           \
					  sizeof(int) ? 1 : -1]),         \
	  tab, sizeof(tab) / sizeof((tab)[0]) }


/* The columns of one table, in its INSERT's order (store_cols.c). */
struct store_cols {
	const struct store_col *v;
	size_t n;
};
extern const struct store_cols store__run_cols;
extern const struct store_cols store__step_cols;
extern const struct store_cols store__cert_cols;
extern const struct store_cols store__conn_cols;
extern const struct store_cols store__exchange_cols;
extern const struct store_cols store__finding_cols;
extern const struct store_cols store__pcap_cols;
extern const struct store_cols store__thresh_cols;

#endif
