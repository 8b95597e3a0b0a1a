/*
 * err.h: error codes and the caller-supplied error buffer.
 *
 * Fallible functions return 0 on success or a negative PE_* code, and write
 * a human-readable detail into a struct errbuf the caller passes in (left
 * untouched on success).  Only cli/ prints these; see STYLE.md section 4.
 * A failed *probe* (NXDOMAIN, refused, ...) is data, not a PE_* error.
 */
#ifndef PROBE_UTIL_ERR_H
#define PROBE_UTIL_ERR_H

#include <stddef.h>

#define ERRBUF_LEN 256

struct errbuf {
	char msg[ERRBUF_LEN];
};

enum pe_code {
	PE_OK = 0,
	PE_NOMEM = -1,   /* allocation failed */
	PE_IO = -2,      /* file or socket I/O failed */
	PE_INVAL = -3,   /* invalid argument or input */
	PE_STORE = -4,   /* SQLite said no */
	PE_SCHEMA = -5,  /* database newer than this binary, or bad migration */
	PE_NOTFOUND = -6,
	PE_BUSY = -7,    /* lock held by someone else */
	PE_LIMIT = -8,   /* a cap was reached */
	PE_PERM = -9,    /* not allowed: capture rights, setuid */
};

#define PE_WARN_UNUSED __attribute__((warn_unused_result))
#define PE_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Name of a PE_* code ("PE_NOMEM"); "PE_?" for unknown values. */
const char *pe_name(int code);

/*
 * Fill err (when non-NULL) with a formatted message and return code, so a
 * caller can write `return errbuf_set(err, PE_IO, "open %s: %s", ...)`.
 */
int errbuf_set(struct errbuf *err, int code, const char *fmt, ...)
	PE_PRINTF(3, 4);

#endif
