/*
 * timeutil.h: clock facts a run records.
 */
#ifndef PROBE_UTIL_TIMEUTIL_H
#define PROBE_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

enum timeutil_sync { TIMEUTIL_SYNCED, TIMEUTIL_UNSYNCED, TIMEUTIL_UNKNOWN };

/*
 * Whether the kernel says the clock is synchronised (adjtimex(2): NTP,
 * chrony and systemd-timesyncd all clear STA_UNSYNC).  Wire times from
 * two regions are comparable only when both are synced.
 */
enum timeutil_sync timeutil_clock_sync(void);

/* A random UUID (version 4) as 36 characters + NUL into buf; 0 or -1. */
int timeutil_uuid4(char *buf, size_t len);

#define TIMEUTIL_UTC_LEN 28 /* "2026-11-23T13:43:04.123456Z" + NUL */

/* CLOCK_REALTIME ns as the store's UTC text; 0 or -1 (len too small). */
int timeutil_utc(int64_t real_ns, char *buf, size_t len);

/* Now, as timeutil_utc() writes it. */
int timeutil_utc_now(char *buf, size_t len);

/* The UTC text `days` days before utc (same form); 0 or -1 (bad input). */
int timeutil_utc_minus_days(const char *utc, unsigned days, char *buf,
			    size_t len);
int timeutil_utc_minus_seconds(const char *utc, uint64_t seconds, char *buf,
			       size_t len);

#endif
