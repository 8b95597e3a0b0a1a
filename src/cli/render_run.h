/*
 * render_run.h: print a run record for people (table) or programs (JSON,
 * one object per line: DESIGN section 10).
 */
#ifndef PROBE_CLI_RENDER_RUN_H
#define PROBE_CLI_RENDER_RUN_H

#include <stdio.h>

#include "model/run.h"
#include "util/json.h"

void render_run_table(FILE *out, const struct run_rec *run);
void render_run_json(FILE *out, const struct run_rec *run);

/* Pieces `probe analyze` shares: an exchange object; a connection's
 * fields (inside an object the caller opened).  reused: print the
 * connection as reused (no connect/TLS timings of its own). */
void render_exchange_json(struct json *j, const struct exchange_rec *e);
void render_conn_fields_json(struct json *j, const struct conn_rec *c,
			     bool reused);

#endif
