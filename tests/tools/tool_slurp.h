/*
 * tool_slurp.h: a whole file in memory, for the test tools that read key
 * log files (pbpcapng, pbevidence, pbtlsdec).  Static: each tool gets its
 * own copy.
 */
#ifndef PROBE_TESTS_TOOL_SLURP_H
#define PROBE_TESTS_TOOL_SLURP_H

#include <stdio.h>
#include <stdlib.h>

/* The file's bytes (not NUL-terminated) and their count in *len; NULL
 * when it cannot be opened or memory runs out. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	while (b) {
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		char *nb = realloc(b, cap * 2);
		if (!nb) {
			free(b);
			b = NULL;
			break;
		}
		b = nb;
		cap *= 2;
	}
	fclose(f);
	*len = n;
	return b;
}

#endif
