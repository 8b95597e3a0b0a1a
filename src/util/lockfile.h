/*
 * lockfile.h: a per-scenario lock so that overlapping cron runs of one
 * scenario never run it twice (flock(2) on DIR/NAME.lock: released by the
 * kernel when the process dies, so a kill -9 leaves no stale lock).
 */
#ifndef PROBE_UTIL_LOCKFILE_H
#define PROBE_UTIL_LOCKFILE_H

#include "util/err.h"

/*
 * Take the lock DIR/NAME.lock without waiting (creating DIR, mode 0700,
 * and the file, 0600, as needed).  Returns an fd to keep open while the
 * lock is needed (close releases it), PE_BUSY when another process holds
 * it, or PE_IO with err.
 */
int lockfile_take(const char *dir, const char *name, struct errbuf *err)
	PE_WARN_UNUSED;

#endif
