/*
 * test_util.c: units (durations, sizes, counts), the JSON writer and the
 * allocation helpers.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <time.h>
#include "util/json.h"
#include "util/timeutil.h"
#include "util/units.h"
#include "util/xalloc.h"

static void test_util_durations(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		bool unitless_ms;
		int ret;
		double ms;
	} cases[] = {
		{ "10s", false, 0, 10000 },   { "500ms", false, 0, 500 },
		{ "1.5s", false, 0, 1500 },   { "250us", false, 0, 0.25 },
		{ "2m", false, 0, 120000 },   { "1h", false, 0, 3600000 },
		{ "7d", false, 0, 604800000 }, { "300", true, 0, 300 },
		{ "300", false, -2, 0 },      { "", false, -1, 0 },
		{ "s", false, -1, 0 },        { "-1s", false, -1, 0 },
		{ "1.s", false, -1, 0 },      { "0x10s", false, -1, 0 },
		{ "1e3ms", false, -1, 0 },    { "10 s", false, -1, 0 },
		{ "10S", false, -1, 0 },      { "inf", true, -1, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double ms = -1;
		int r = units_duration_ms(cases[i].in, cases[i].unitless_ms,
					  &ms);
		if (r != cases[i].ret)
			fail_msg("'%s': got %d want %d", cases[i].in, r,
				 cases[i].ret);
		if (r == 0)
			assert_true(fabs(ms - cases[i].ms) < 1e-9);
	}
	char buf[32];
	units_fmt_ms(buf, sizeof(buf), 120000);
	assert_string_equal(buf, "2m");
	units_fmt_ms(buf, sizeof(buf), 10000);
	assert_string_equal(buf, "10s");
	units_fmt_ms(buf, sizeof(buf), 1500);
	assert_string_equal(buf, "1500ms");
}

static void test_util_sizes_and_counts(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(units_size("512KiB", &v), 0);
	assert_int_equal(v, 512 * 1024);
	assert_int_equal(units_size("10MB", &v), 0);
	assert_int_equal(v, 10000000);
	assert_int_equal(units_size("7", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(units_size("1 MB", &v), -1);
	assert_int_equal(units_size("1mb", &v), -1);
	assert_int_equal(units_size("-1", &v), -1);
	assert_int_equal(units_size("99999999999999999999", &v), -1);
	assert_int_equal(units_size("99999999999GiB", &v), -1);

	unsigned long u;
	assert_int_equal(units_uint("42", 1, 100, &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(units_uint("0", 1, 100, &u), -1);
	assert_int_equal(units_uint("101", 1, 100, &u), -1);
	assert_int_equal(units_uint("+5", 1, 100, &u), -1);
	assert_int_equal(units_uint("5x", 1, 100, &u), -1);
	assert_int_equal(units_uint("", 0, 100, &u), -1);

	double d;
	assert_int_equal(units_decimal("2.5", &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(units_decimal("0x10", &d), -1);
	assert_int_equal(units_decimal(".5", &d), -1);
	assert_int_equal(units_decimal("1e2", &d), -1);
}

static char *json_of(void (*fn)(struct json *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;
	json_init(&j, f);
	fn(&j);
	fclose(f);
	return buf;
}

static void doc(struct json *j)
{
	json_obj_begin(j);
	json_key(j, "s"), json_str(j, "a\"b\\c\n\x01\x7f");
	json_key(j, "null"), json_str(j, NULL);
	json_key(j, "n"), json_num(j, 12.5);
	json_key(j, "nan"), json_num(j, NAN);
	json_key(j, "i"), json_int(j, -7);
	json_key(j, "arr");
	json_arr_begin(j);
	json_bool(j, true);
	json_obj_begin(j);
	json_obj_end(j);
	json_null(j);
	json_arr_end(j);
	json_key(j, "utf8"), json_str(j, "\xc3\xa9\xff\xe2\x82");
	json_obj_end(j);
}

static void test_util_json(void **state)
{
	(void)state;
	char *s = json_of(doc);
	assert_string_equal(s, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\u007f\","
			       "\"null\":null,\"n\":12.5,\"nan\":null,"
			       "\"i\":-7,\"arr\":[true,{},null],"
			       "\"utf8\":\"\xc3\xa9\\ufffd\\ufffd\\ufffd\"}");
	free(s);
}

static void test_util_xalloc(void **state)
{
	(void)state;
	int *a = NULL;
	size_t cap = 0;
	assert_int_equal(xgrow(&a, &cap, 3, sizeof(*a)), 0);
	assert_true(cap >= 3);
	a[2] = 1;
	assert_int_equal(xgrow(&a, &cap, SIZE_MAX / 2, sizeof(*a)), -1);
	assert_non_null(a); /* the old array survives a refusal */
	free(a);
	char *s = xasprintf("%s-%d", "x", 5);
	assert_string_equal(s, "x-5");
	free(s);
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	assert_null(xstrdup(NULL));
}

/* The wire's realtime onto the library's monotonic clock. */
static void test_util_clock_map(void **state)
{
	(void)state;
	struct clock_map m = { 0 };
	assert_int_equal(clock_map_to_mono(&m, 5000), 0); /* no reading */
	/* one reading: a constant offset */
	m.mono0_ns = 1000000;
	m.off0_ns = 1700000000000000000;
	assert_int_equal(clock_map_to_mono(&m, 1700000000000000000 + 1500000),
			 1500000);
	/* the same offset at the end: nothing to interpolate */
	m.mono1_ns = 3000000;
	m.off1_ns = m.off0_ns;
	assert_int_equal(clock_map_to_mono(&m, 1700000000002500000), 2500000);
	/* the wall clock stepped 1000 ns forward during the run: halfway
	 * through, half of it */
	m.off1_ns = m.off0_ns + 1000;
	assert_int_equal(clock_map_to_mono(&m, 1700000000002000000),
			 2000000 - 500);
	/* before the start and after the end: the nearest reading's */
	assert_int_equal(clock_map_to_mono(&m, 1700000000000500000), 500000);
	assert_int_equal(clock_map_to_mono(&m, 1700000000009000000),
			 9000000 - 1000);
	/* a live reading maps the realtime it paired with to itself */
	int64_t off;
	uint64_t mono = clock_map_read(&off);
	struct clock_map live = { .mono0_ns = mono, .off0_ns = off };
	assert_int_equal(clock_map_to_mono(&live, (uint64_t)off + mono), mono);
	struct timespec r;
	clock_gettime(CLOCK_REALTIME, &r);
	uint64_t real = (uint64_t)r.tv_sec * 1000000000u + (uint64_t)r.tv_nsec;
	uint64_t back = clock_map_to_mono(&live, real);
	assert_true(back >= mono); /* read after: not before the reading */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util_durations),
		cmocka_unit_test(test_util_sizes_and_counts),
		cmocka_unit_test(test_util_json),
		cmocka_unit_test(test_util_xalloc),
		cmocka_unit_test(test_util_clock_map),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
