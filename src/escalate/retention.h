/*
 * retention.h: how long escalation pcaps and old runs are kept, and
 * getting a kept pcap out of the spool intact.
 *
 * Files live in the spool's pcaps/ directory (SPOOL/pcaps/...); a pcaps
 * row names its file relative to the spool ("pcaps/RUN_ID.pcapng") or by
 * an absolute path.  Retention deletes files and marks their rows pruned
 * (the rows stay: the run still says it once had evidence); it never
 * touches anything outside SPOOL/pcaps/, whatever a row says.
 *
 * Row retention deletes runs older than runs_retention_days with all
 * their rows; a run's pcap is pruned first (schema/001: no run loses its
 * row while its file is on disk).
 */
#ifndef PROBE_ESCALATE_RETENTION_H
#define PROBE_ESCALATE_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct store;

/* Items a prune_report lists; beyond, only the counters go on. */
#define PRUNE_MAX_ITEMS 10000

struct retention_opts {
	/* Pcaps expire at expires_at; rows without one, retention_days after
	 * created_at (0: never by age). */
	uint64_t retention_days;
	/* The kept pcaps of the spool may hold this many bytes, the oldest
	 * pruned first (0: no cap). */
	uint64_t retention_bytes;
	/* Runs that started longer ago are deleted (0: kept forever). */
	uint64_t runs_retention_days;
	/* Decide and report, change nothing. */
	bool dry_run;
};

enum prune_why {
	PRUNE_EXPIRED,   /* past expires_at, or retention_days old */
	PRUNE_BYTES,     /* over retention_bytes, oldest first */
	PRUNE_OLD_RUN,   /* its run is past runs_retention_days */
	PRUNE_REFUSED,   /* its path is outside SPOOL/pcaps/: left alone */
	PRUNE_FAILED,    /* the file could not be deleted (detail says why) */
};

/* Name of a prune_why ("expired", "bytes", "old run"...). */
const char *prune_why_name(enum prune_why w);

/* One pcap retention acted on (or, with dry_run, would have). */
struct prune_item {
	char *run_id;        /* owned */
	char *path;          /* owned: as the row has it */
	uint64_t bytes;      /* the row's (or the file's) size */
	enum prune_why why;
	bool missing;        /* the file was already gone: row marked only */
	char *detail;        /* owned; why refused or failed, else NULL */
};

struct prune_report {
	uint64_t files_deleted;  /* unlinked now */
	uint64_t files_missing;  /* already gone; their rows marked */
	uint64_t bytes_freed;    /* sizes of the files unlinked */
	uint64_t rows_marked;    /* pcaps rows set pruned = 1 */
	uint64_t runs_deleted;   /* runs (and their rows) deleted */
	uint64_t refused;        /* rows whose path is outside the spool */
	uint64_t failed;         /* files unlink(2) would not delete */
	uint64_t kept_bytes;     /* what the spool's kept pcaps hold after */
	struct prune_item *items;  /* owned, in the order acted on */
	size_t n_items;
};

/* Free what the report owns and zero it. */
void prune_report_release(struct prune_report *r);

/*
 * Apply retention at now_utc (the schema's time form) to the pcaps rows
 * of st and their files under spool.  out is filled in (zero it first or
 * pass a released one); the caller releases it, also on failure.
 * Files that cannot be deleted and rows outside the spool are reported in
 * out, not errors: the rest goes on.  Errors (the store's): PE_STORE,
 * PE_BUSY, PE_NOMEM; PE_INVAL for a malformed now_utc.
 */
int escalate_prune(struct store *st, const char *spool,
		   const struct retention_opts *o, const char *now_utc,
		   struct prune_report *out, struct errbuf *err)
	PE_WARN_UNUSED;

/*
 * The expires_at of a pcap created at created_utc (the schema's form):
 * retention_days later, same time of day and microseconds.  *expires_out
 * is malloc'ed (the caller frees it), or NULL when retention_days is 0
 * (no expiry: only the byte budget removes the file).
 * PE_INVAL (malformed time, days beyond 36500), PE_NOMEM.
 */
int escalate_pcap_expiry(const char *created_utc, int64_t retention_days,
			 char **expires_out) PE_WARN_UNUSED;

/*
 * The file a pcaps row's path names, checked to lie in SPOOL/pcaps/:
 * relative paths are taken from the spool, no ".." component is allowed,
 * and the directory holding it, symbolic links resolved, must be
 * SPOOL/pcaps or below it.  *full_out is malloc'ed.
 * PE_PERM (outside the spool; err says why), PE_NOMEM.
 */
int escalate_pcap_path(const char *spool, const char *row_path,
		       char **full_out, struct errbuf *err) PE_WARN_UNUSED;

/*
 * Copy the kept pcap at full (from escalate_pcap_path) to out_path,
 * created with O_EXCL and mode 0600 ("-": standard output), after
 * checking its SHA-256 against sha256_hex (64 lower-case hex digits).
 * On a mismatch nothing is written; if the file changes during the copy
 * the partial output is removed.
 * Errors: PE_INVAL (checksum mismatch, or no checksum to check against),
 * PE_NOTFOUND (the file is gone), PE_IO (reading; out_path exists or
 * cannot be created or written), PE_NOMEM.
 */
int escalate_pcap_export(const char *full, const char *sha256_hex,
			 const char *out_path, struct errbuf *err)
	PE_WARN_UNUSED;

#endif
