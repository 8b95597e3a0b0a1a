/*
 * xalloc.h: small allocation helpers that keep overflow checks in one place.
 * They return NULL on failure (never abort): callers turn that into PE_NOMEM.
 */
#ifndef PROBE_UTIL_XALLOC_H
#define PROBE_UTIL_XALLOC_H

#include <stddef.h>

/* Duplicate s (NULL gives NULL).  Caller frees. */
char *xstrdup(const char *s);
/* Duplicate n bytes of s and NUL-terminate.  Caller frees. */
char *xstrndup(const char *s, size_t n);
/* malloc'ed printf.  Caller frees; NULL on failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Grow *arr (of *cap elements of size sz) so that it holds at least need
 * elements.  Returns 0, or -1 when the size would overflow or malloc fails
 * (the old array is left intact).
 */
int xgrow(void *arr, size_t *cap, size_t need, size_t sz);

#endif
