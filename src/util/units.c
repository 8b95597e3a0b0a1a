/* units.c: see units.h. */
#include "util/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int units_uint(const char *s, unsigned long lo, unsigned long hi,
	       unsigned long *out)
{
	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *e;
	unsigned long v = strtoul(s, &e, 10);
	if (*e || errno == ERANGE || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* End of digits [. digits] at s, or NULL when s does not start so. */
static const char *decimal_end(const char *s)
{
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return NULL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

int units_decimal(const char *s, double *out)
{
	const char *e = decimal_end(s);
	if (!e || *e)
		return -1;
	errno = 0;
	double v = strtod(s, NULL);
	if (errno == ERANGE || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int units_duration_ms(const char *s, bool unitless_ms, double *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = { { "us", 0.001 }, { "ms", 1 },	    { "s", 1000 },
		      { "m", 60000 },  { "h", 3600000 }, { "d", 86400000 } };
	/* digits [. digits] only: strtod would also take hex and exponents */
	const char *p = decimal_end(s);
	if (!p)
		return -1;
	errno = 0;
	double v = strtod(s, NULL);
	if (errno == ERANGE || !isfinite(v))
		return -1;
	if (!*p) {
		if (!unitless_ms)
			return -2;
		*ms = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(p, units[i].unit) == 0) {
			*ms = v * units[i].ms;
			return 0;
		}
	return -1;
}

int units_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = { { "", 1 },
		      { "B", 1 },
		      { "kB", 1000 },
		      { "KB", 1000 },
		      { "KiB", 1024 },
		      { "MB", 1000000 },
		      { "MiB", 1024 * 1024 },
		      { "GB", 1000000000 },
		      { "GiB", 1024ull * 1024 * 1024 } };
	if (!isdigit((unsigned char)*s))
		return -1;
	char *e;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno == ERANGE)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(e, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].mul)
				return -1;
			*out = v * units[i].mul;
			return 0;
		}
	return -1;
}

void units_fmt_ms(char *buf, unsigned long len, double ms)
{
	if (ms >= 60000 && fmod(ms, 60000) == 0)
		snprintf(buf, len, "%.0fm", ms / 60000);
	else if (ms >= 1000 && fmod(ms, 1000) == 0)
		snprintf(buf, len, "%.0fs", ms / 1000);
	else
		snprintf(buf, len, "%gms", ms);
}
