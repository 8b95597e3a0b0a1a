/*
 * ingest.h: one run's JSON (format_version 1, as render_run_json writes
 * it and a regional probe's /api/runs serves it) back into a struct
 * run_rec that store_run_save() accepts.
 *
 * The JSON does not say everything the record holds, so what comes back
 * is what it says: probe_version ("unknown" unless a "probe_version" key
 * says), a finding's connection, connections no
 * step owns and exchanges on no connection are not in it; the pcap is its
 * path only.  Connections appear under the step that opened them and
 * again, as "reused", under each step that rode on them: the second
 * appearance becomes a reference (conn_key) to the first, matched by
 * family and addresses, so rendering the record again gives the same
 * bytes.
 */
#ifndef PROBE_COLLECT_INGEST_H
#define PROBE_COLLECT_INGEST_H

#include <stddef.h>

#include "model/run.h"
#include "util/err.h"

/* The format this probe reads, and writes (render_run.c). */
#define INGEST_FORMAT_VERSION 1
/* The longest JSON text of one run accepted. */
#define INGEST_MAX_BYTES (16u * 1024 * 1024)
/* Nesting accepted (a run is 5 deep, a DNS answer 2 more). */
#define INGEST_MAX_DEPTH 24

/*
 * Parse the len bytes at text (one JSON object; surrounding whitespace is
 * fine, need not be NUL-terminated) into run, which must be initialised
 * and empty; run->seq is the producer's seq (0 when null).  On failure run
 * is released (empty again) and err says why.
 * Errors: PE_LIMIT (over INGEST_MAX_BYTES or INGEST_MAX_DEPTH, or beyond a
 * RUN_MAX_* cap), PE_INVAL (not JSON, a key of the wrong type, an unknown
 * enum value, no run_id, a format_version other than 1), PE_NOMEM.
 */
int ingest_run_json(const char *text, size_t len, struct run_rec *run,
		    struct errbuf *err) PE_WARN_UNUSED;

#endif
