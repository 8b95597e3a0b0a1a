/*
 * scn_parse.h: scenario file -> plan, with diagnostics.
 *
 * Diagnostics are collected, not printed: one pass reports every error it
 * can (it resynchronises at the next line), each as file:line:col: message.
 * Columns are 1-based byte offsets (a tab counts as one).
 */
#ifndef PROBE_SCENARIO_SCN_PARSE_H
#define PROBE_SCENARIO_SCN_PARSE_H

#include <stdbool.h>
#include <stdio.h>

#include "scenario/scn_plan.h"
#include "util/err.h"

#define SCN_MAX_DIAGS 50        /* further errors are counted, not kept */
#define SCN_MAX_FILE (1u << 20) /* a scenario file larger than 1 MiB is refused */

struct scn_diag {
	unsigned line, col;
	bool warning;
	char *msg;
};

struct scn_diags {
	char *file;
	struct scn_diag *v;
	size_t n, cap;
	size_t n_errors, n_warnings;
	size_t n_dropped; /* beyond SCN_MAX_DIAGS */
};

/*
 * Parse len bytes of buf (need not be NUL-terminated) as the scenario
 * named file.  On success returns 0 and fills *plan (the caller releases
 * it).  When the file has errors returns PE_INVAL, leaves *plan empty and
 * puts the errors into *d; warnings may be present either way.  PE_NOMEM
 * when memory runs out.
 */
int scn_parse_buf(const char *file, const char *buf, size_t len,
		  struct scn_plan *plan, struct scn_diags *d) PE_WARN_UNUSED;

/* As scn_parse_buf, reading path.  PE_IO (with err) when it cannot be read. */
int scn_parse_file(const char *path, struct scn_plan *plan,
		   struct scn_diags *d, struct errbuf *err) PE_WARN_UNUSED;

/*
 * Check that every environment variable the plan reads is set, using
 * lookup (getenv-like).  Unset ones become diagnostics at their first use:
 * errors when as_error, else warnings.  Returns the number of unset ones.
 */
size_t scn_plan_check_env(const struct scn_plan *plan,
			  const char *(*lookup)(const char *name, void *ctx),
			  void *ctx, bool as_error, struct scn_diags *d);

void scn_diags_print(const struct scn_diags *d, FILE *out);
void scn_diags_release(struct scn_diags *d);

#endif
