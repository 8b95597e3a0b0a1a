/* timeutil.c: see timeutil.h. */
#include "util/timeutil.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/timex.h>

enum timeutil_sync timeutil_clock_sync(void)
{
	struct timex tx = { 0 };
	int state = adjtimex(&tx);
	if (state < 0)
		return TIMEUTIL_UNKNOWN;
	if (state == TIME_ERROR || (tx.status & STA_UNSYNC))
		return TIMEUTIL_UNSYNCED;
	return TIMEUTIL_SYNCED;
}

int timeutil_uuid4(char *buf, size_t len)
{
	uint8_t b[16];
	if (len < 37 || getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -1;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}
