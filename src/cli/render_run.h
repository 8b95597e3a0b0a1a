/*
 * render_run.h: print a run record for people (table) or programs (JSON,
 * one object per line: DESIGN section 10).
 */
#ifndef PROBE_CLI_RENDER_RUN_H
#define PROBE_CLI_RENDER_RUN_H

#include <stdio.h>

#include "model/run.h"

void render_run_table(FILE *out, const struct run_rec *run);
void render_run_json(FILE *out, const struct run_rec *run);

#endif
