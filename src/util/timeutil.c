/* timeutil.c: see timeutil.h. */
#include "util/timeutil.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timex.h>
#include <time.h>

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

int timeutil_utc(int64_t real_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(real_ns / 1000000000);
	long usec = (long)((real_ns % 1000000000) / 1000);
	struct tm tm;
	if (len < TIMEUTIL_UTC_LEN || !gmtime_r(&sec, &tm))
		return -1;
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06ldZ", usec);
	return 0;
}

int timeutil_utc_now(char *buf, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return timeutil_utc((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, buf,
			    len);
}

int timeutil_utc_minus_days(const char *utc, unsigned days, char *buf,
			    size_t len)
{
	return timeutil_utc_minus_seconds(utc, (uint64_t)days * 86400, buf,
					  len);
}

int timeutil_utc_minus_seconds(const char *utc, uint64_t seconds, char *buf,
			       size_t len)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *rest = strptime(utc, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	t -= (time_t)seconds;
	return timeutil_utc((int64_t)t * 1000000000, buf, len);
}

int timeutil_utc_parse(const char *utc, int64_t *sec)
{
	static const char *const forms[] = { "%Y-%m-%dT%H:%M:%S",
					     "%Y-%m-%dT%H:%M", "%Y-%m-%d" };
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *rest = strptime(utc, forms[i], &tm);
		if (!rest || (*rest && *rest != '.' && *rest != 'Z'))
			continue;
		time_t t = timegm(&tm);
		if (t == (time_t)-1)
			return -1;
		*sec = (int64_t)t;
		return 0;
	}
	return -1;
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

uint64_t clock_map_read(int64_t *off_ns)
{
	/* the realtime read between two monotonic ones, paired with their
	 * midpoint: the pair's error is half the (sub-µs) gap */
	struct timespec m0, r, m1;
	clock_gettime(CLOCK_MONOTONIC, &m0);
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m1);
	uint64_t mono = ts_ns(&m0) + (ts_ns(&m1) - ts_ns(&m0)) / 2;
	*off_ns = (int64_t)ts_ns(&r) - (int64_t)mono;
	return mono;
}

uint64_t clock_map_to_mono(const struct clock_map *m, uint64_t real_ns)
{
	if (!m->mono0_ns)
		return 0;
	int64_t off = m->off0_ns;
	if (m->mono1_ns > m->mono0_ns && m->off1_ns != m->off0_ns) {
		/* where on the monotonic axis, by the first reading; then
		 * the offset there (outside the readings: the nearest) */
		double at = (double)((int64_t)real_ns - m->off0_ns) -
			    (double)m->mono0_ns;
		double f = at / (double)(m->mono1_ns - m->mono0_ns);
		f = f < 0 ? 0 : f > 1 ? 1 : f;
		off += (int64_t)(f * (double)(m->off1_ns - m->off0_ns));
	}
	int64_t mono = (int64_t)real_ns - off;
	return mono > 0 ? (uint64_t)mono : 0;
}
