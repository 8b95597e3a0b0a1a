/*
 * units.h: strict parsers for the numbers people type: counts, durations
 * and sizes.  Shared by the scenario language, the config file and flags
 * so that "10s" or "512KiB" mean the same everywhere.
 */
#ifndef PROBE_UTIL_UNITS_H
#define PROBE_UTIL_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal integer in [lo, hi], digits only.  0, or -1 when it is not. */
int units_uint(const char *s, unsigned long lo, unsigned long hi,
	       unsigned long *out);

/*
 * A duration: NUMBER UNIT, UNIT one of us, ms, s, m, h, d (fractions
 * allowed: 1.5s).  A bare number is taken as ms when unitless_ms, else it
 * is an error.  Result in milliseconds.  Returns 0, -1 on bad syntax, -2
 * when the unit is missing.
 */
int units_duration_ms(const char *s, bool unitless_ms, double *ms);

/* A plain decimal number, digits [. digits], no sign or exponent. 0/-1. */
int units_decimal(const char *s, double *out);

/* A size: NUMBER [B|kB|KB|KiB|MB|MiB|GB|GiB].  Bytes; 0 or -1. */
int units_size(const char *s, uint64_t *out);

/* Format ms as the shortest exact duration: "10s", "1500ms", "2m". */
void units_fmt_ms(char *buf, unsigned long len, double ms);

#endif
