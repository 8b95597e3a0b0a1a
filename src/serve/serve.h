/*
 * serve.h: `probe serve`, this probe's runs, metrics and pcaps over HTTP
 * (DESIGN sections 9 and 10), read-only, behind a bearer token.
 *
 * The daemon is libmicrohttpd with one internal polling thread: every
 * request is answered on that one thread, so the store (one thread at a
 * time, store.h) needs no lock, and slow clients cost a socket, not a
 * thread.  Pcaps are streamed from their file descriptor by the library.
 */
#ifndef PROBE_SERVE_SERVE_H
#define PROBE_SERVE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/err.h"

struct store;

/* Limits (documented in --help and probe(1)). */
#define SERVE_CONN_LIMIT 64        /* connections at once */
#define SERVE_PER_IP_LIMIT 16      /* connections at once from one address */
#ifndef SERVE_TIMEOUT_S /* the fuzz build shortens it (Makefile) */
#define SERVE_TIMEOUT_S 10         /* idle seconds before a connection goes */
#endif
#define SERVE_CONN_MEMORY (64u * 1024) /* per-connection header memory */
#define SERVE_RUNS_DEFAULT 100     /* /api/runs limit when not given */
#define SERVE_RUNS_MAX 1000        /* largest /api/runs limit */
#define SERVE_METRICS_HOURS 24     /* /metrics histograms' window */

struct serve_opts {
	const char *listen;     /* "ADDR:PORT", "[V6ADDR]:PORT" */
	const char *token_file; /* first line: the bearer token */
	const char *tls_cert, *tls_key; /* both or neither (PEM files) */
	const char *spool;      /* where pcaps rows' files are */
};

/* Can this libmicrohttpd serve HTTPS (built with GnuTLS)? */
bool serve_tls_supported(void);

/*
 * Serve st until SIGTERM or SIGINT (both blocked in the calling thread and
 * taken with sigwait), then stop cleanly and return 0.  The store is put
 * in query-only mode first.  ready, when not NULL, gets one line
 * ("listening on ADDR:PORT") once the socket is bound.
 * Errors: PE_INVAL (listen address, TLS files), PE_PERM (the token file
 * is readable by group or others), PE_IO (token file, bind), PE_NOMEM,
 * PE_STORE.
 */
int serve_run(struct store *st, const struct serve_opts *o, FILE *ready,
	      struct errbuf *err) PE_WARN_UNUSED;

/*
 * The /metrics body (Prometheus text format 0.0.4) into out: histograms
 * of the section 5 times in seconds over the runs started in the last
 * SERVE_METRICS_HOURS, and per (scenario, region, probe_id) the last
 * run's success and time and counters over all stored runs.
 */
int serve_metrics_write(struct store *st, FILE *out, struct errbuf *err)
	PE_WARN_UNUSED;

#endif
