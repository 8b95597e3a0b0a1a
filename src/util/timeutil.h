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
/* The seconds since the epoch of UTC text "2026-11-23", "...T13:43",
 * "...T13:43:04" or longer (fractions ignored); 0 or -1. */
int timeutil_utc_parse(const char *utc, int64_t *sec);
int timeutil_utc_minus_seconds(const char *utc, uint64_t seconds, char *buf,
			       size_t len);

/*
 * The capture stamps packets with CLOCK_REALTIME, the libraries time with
 * CLOCK_MONOTONIC.  A run reads both side by side when it starts (0) and
 * when it ends (1); a wire time maps onto the monotonic clock through the
 * offset (realtime - monotonic) interpolated between the two readings.
 * Between readings the offset moves only when someone steps the wall
 * clock (NTP slews both clocks alike): CLOCK_STEP flags a run where it
 * moved, and its mapped figures are then suspect.
 */
struct clock_map {
	uint64_t mono0_ns, mono1_ns;  /* 0: not read */
	int64_t off0_ns, off1_ns;     /* realtime - monotonic */
};

/* Read both clocks now: monotonic ns, and the offset into *off_ns. */
uint64_t clock_map_read(int64_t *off_ns);

/* The monotonic ns of a CLOCK_REALTIME ns; 0 when the map lacks a
 * reading. */
uint64_t clock_map_to_mono(const struct clock_map *m, uint64_t real_ns);

#endif
