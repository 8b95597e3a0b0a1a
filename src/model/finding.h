/*
 * finding.h: the finding codes of DESIGN section 6, in one table.
 *
 * Public names (JSON, the findings table, `threshold CODE` in scenarios):
 * renaming one is a breaking change.
 */
#ifndef PROBE_MODEL_FINDING_H
#define PROBE_MODEL_FINDING_H

#include <stdbool.h>

/* Is name one of the finding codes? */
bool finding_code_known(const char *name);

/* The codes, NULL-terminated (for docs and tests). */
extern const char *const finding_codes[];

#endif
