/*
 * timeutil.h: clock facts a run records.
 */
#ifndef PROBE_UTIL_TIMEUTIL_H
#define PROBE_UTIL_TIMEUTIL_H

#include <stddef.h>

enum timeutil_sync { TIMEUTIL_SYNCED, TIMEUTIL_UNSYNCED, TIMEUTIL_UNKNOWN };

/*
 * Whether the kernel says the clock is synchronised (adjtimex(2): NTP,
 * chrony and systemd-timesyncd all clear STA_UNSYNC).  Wire times from
 * two regions are comparable only when both are synced.
 */
enum timeutil_sync timeutil_clock_sync(void);

/* A random UUID (version 4) as 36 characters + NUL into buf; 0 or -1. */
int timeutil_uuid4(char *buf, size_t len);

#endif
