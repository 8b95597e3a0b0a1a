/*
 * schema_sql.h: the SQL migrations compiled into probe.
 *
 * The Makefile turns schema/NNN_name.sql into build/gen/schema_sql.c with
 * tests/tools/embed_schema.awk, so an installed probe needs no schema/
 * directory.  schema_migrations[i] brings a database from user_version i to
 * i + 1 (its version field is i + 1; the generator refuses gaps).  Each is
 * applied by store/db.c in its own transaction, which also sets
 * PRAGMA user_version: the .sql files hold neither.
 */
#ifndef PROBE_STORE_SCHEMA_SQL_H
#define PROBE_STORE_SCHEMA_SQL_H

struct schema_migration {
	int version;      /* user_version after applying it: 1, 2, ... */
	const char *name; /* file name: "001_initial.sql" */
	const char *sql;  /* its text, statements separated by ';' */
};

extern const struct schema_migration schema_migrations[];
extern const int schema_migration_count;

#endif
