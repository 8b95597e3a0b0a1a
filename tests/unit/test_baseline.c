/*
 * test_baseline.c: escalate/baseline.c and escalate/threshold.c on a real
 * store: percentiles, rows per step x family x connection state plus the
 * step's 'any' row, breaching runs left out, relative limits and "not
 * ready", `for N runs` from the stored history, finding-code thresholds.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "escalate/baseline.h"
#include "escalate/threshold.h"
#include "model/run.h"
#include "scenario/scn_plan.h"
#include "store/store.h"

#define NOW "2030-06-01T12:00:00.000000Z"

#include "store_fixture.h"

static int fx_setup(void **state)
{
	return store_fx_setup(state, "/tmp/probe-test-bl-XXXXXX");
}

static char *sdup(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	return d;
}

/*
 * A run of scenario "s" in region "r1": step "get" (ipv4, new) with one
 * exchange of think_ms, and step "again" (ipv6, reused) with another.
 */
static void make_run(struct fx *fx, struct run_rec *run, double think,
		     double think2, bool breach)
{
	char id[64];
	run_rec_init(run);
	snprintf(id, sizeof(id), "p-%u", ++fx->n);
	run->run_id = sdup(id);
	run->scenario = sdup("s");
	run->region = sdup("r1");
	run->probe_id = sdup("p");
	run->started_at = sdup("2030-06-01T11:00:00.000000Z");
	run->probe_version = sdup("0");
	run->clock_sync = RUN_CLOCK_SYNCED;
	run->capture = RUN_CAPTURE_ON;
	run->ok = true;
	run->breach = breach;
	const char *names[2] = { "get", "again" };
	const double th[2] = { think, think2 };
	for (int i = 0; i < 2; i++) {
		struct step_rec *s;
		struct exchange_rec *x;
		assert_int_equal(run_rec_add_step(run, &s), 0);
		s->name = sdup(names[i]);
		s->kind = RUN_KIND_HTTP;
		s->target = sdup("http://x/");
		s->ok = true;
		s->family = i ? RUN_FAMILY_IPV6 : RUN_FAMILY_IPV4;
		s->conn_state = i ? RUN_CONN_REUSED : RUN_CONN_NEW;
		assert_int_equal(step_rec_add_exchange(s, &x), 0);
		x->think_ms = th[i];
	}
}

static void save_run(struct fx *fx, double think, double think2, bool breach)
{
	struct run_rec run;
	struct errbuf err;
	make_run(fx, &run, think, think2, breach);
	assert_int_equal(store_run_save(fx->st, &run, &err), 0);
	run_rec_release(&run);
}

static void test_percentile(void **state)
{
	(void)state;
	double v[] = { 5, 1, 4, 2, 3 };
	assert_true(fabs(baseline_percentile(v, 5, 50) - 3) < 1e-9);
	assert_true(fabs(baseline_percentile(v, 5, 0) - 1) < 1e-9);
	assert_true(fabs(baseline_percentile(v, 5, 100) - 5) < 1e-9);
	assert_true(fabs(baseline_percentile(v, 5, 90) - 4.6) < 1e-9);
	double one[] = { 7 };
	assert_true(fabs(baseline_percentile(one, 1, 99) - 7) < 1e-9);
	assert_true(isnan(baseline_percentile(one, 0, 50)));
}

static void test_update_rows(void **state)
{
	struct fx *fx = *state;
	struct errbuf err;
	for (int i = 1; i <= 10; i++)
		save_run(fx, 10.0 * i, 100.0 + i, false);
	save_run(fx, 5000, 5000, true); /* breaching: left out */
	struct baseline_opts o = { 5, 7 };
	int rows = escalate_baseline_update(fx->st, "s", "r1", &o, NOW, &err);
	assert_true(rows > 0);
	struct store_baseline b;
	assert_int_equal(store_baseline_get(fx->st, "s", "get", "r1", "ipv4",
					    "new", "think_ms", &b, &err),
			 1);
	assert_int_equal(b.n, 10);
	assert_true(fabs(b.p50 - 55) < 1e-9);
	assert_true(fabs(b.p90 - 91) < 1e-9);
	assert_int_equal(store_baseline_get(fx->st, "s", "get", "r1", "any",
					    "any", "think_ms", &b, &err),
			 1);
	assert_int_equal(b.n, 10);
	assert_int_equal(store_baseline_get(fx->st, "s", "again", "r1",
					    "ipv6", "reused", "think_ms", &b,
					    &err),
			 1);
	assert_true(fabs(b.p50 - 105.5) < 1e-9);
	/* no figure, no row */
	assert_int_equal(store_baseline_get(fx->st, "s", "get", "r1", "any",
					    "any", "rtt_ms", &b, &err),
			 0);
	/* a window that starts after the runs: nothing left (n 0 rows are
	 * not written; the old rows stay until recomputed with samples) */
	o.days = 1;
	assert_true(escalate_baseline_update(fx->st, "s", "r1", &o,
					     "2030-06-30T00:00:00.000000Z",
					     &err) >= 0);
}

/* Many steps: rows are added while others are being filled. */
static void test_many_steps(void **state)
{
	struct fx *fx = *state;
	struct errbuf err;
	for (int r = 0; r < 3; r++) {
		struct run_rec run;
		make_run(fx, &run, 1, 2, false);
		for (int i = 0; i < 40; i++) {
			struct step_rec *st;
			struct exchange_rec *x;
			char name[16];
			snprintf(name, sizeof(name), "s%d", i);
			assert_int_equal(run_rec_add_step(&run, &st), 0);
			st->name = sdup(name);
			st->kind = RUN_KIND_HTTP;
			st->target = sdup("http://x/");
			st->ok = true;
			/* the first without family or state: one row, not
			 * two, so later rows land at both parities */
			st->family = i ? RUN_FAMILY_IPV4 : RUN_FAMILY_NULL;
			st->conn_state = !i	 ? RUN_CONN_NULL
					 : i % 2 ? RUN_CONN_REUSED
						 : RUN_CONN_NEW;
			assert_int_equal(step_rec_add_exchange(st, &x), 0);
			x->think_ms = i;
		}
		assert_int_equal(store_run_save(fx->st, &run, &err), 0);
		run_rec_release(&run);
	}
	struct baseline_opts o = { 1, 7 };
	assert_int_equal(escalate_baseline_update(fx->st, "s", "r1", &o, NOW,
						  &err),
			 2 * 42 - 1);
	struct store_baseline b;
	assert_int_equal(store_baseline_get(fx->st, "s", "s39", "r1", "ipv4",
					    "reused", "think_ms", &b, &err),
			 1);
	assert_int_equal(b.n, 3);
	assert_true(fabs(b.p50 - 39) < 1e-9);
}

static struct scn_threshold thr(const char *metric, enum scn_cmp cmp,
				double v, bool rel, unsigned pct,
				unsigned for_runs, const char *step)
{
	struct scn_threshold t;
	memset(&t, 0, sizeof(t));
	t.metric = (char *)metric;
	t.cmp = cmp;
	t.value = v;
	t.of_baseline = rel;
	t.pct = pct;
	t.for_runs = for_runs;
	t.step = (char *)step;
	return t;
}

static const struct thresh_rec *eval(struct fx *fx, struct run_rec *run,
				     struct scn_threshold *t, size_t n,
				     unsigned min_n)
{
	struct scn_plan plan;
	struct errbuf err;
	memset(&plan, 0, sizeof(plan));
	plan.thresholds = t;
	plan.n_thresholds = n;
	struct thr_env env = { fx->st, min_n };
	assert_int_equal(escalate_thresholds(&plan, run, &env, &err), 0);
	return run->thresholds;
}

static void test_thresholds(void **state)
{
	struct fx *fx = *state;
	struct errbuf err;
	for (int i = 1; i <= 10; i++)
		save_run(fx, 10.0 * i, 100.0 + i, false);
	struct baseline_opts o = { 5, 7 };
	assert_true(escalate_baseline_update(fx->st, "s", "r1", &o, NOW,
					     &err) > 0);
	struct scn_threshold t[] = {
		thr("think_ms", SCN_CMP_GT, 200, false, 0, 1, NULL),
		thr("think_ms", SCN_CMP_GT, 2, true, 0, 1, "get"),
		thr("think_ms", SCN_CMP_GT, 1, true, 95, 1, "again"),
		thr("think_ms", SCN_CMP_GT, 2, true, 0, 1, "get"),
		thr("SLOW_SERVER", SCN_CMP_GE, 1, false, 0, 2, NULL),
	};
	t[4].is_finding = true;
	struct run_rec run;
	make_run(fx, &run, 150, 300, false);
	struct finding_rec *f;
	assert_int_equal(step_rec_add_finding(&run.steps[0], &f), 0);
	f->code = sdup("SLOW_SERVER");
	const struct thresh_rec *r = eval(fx, &run, t, 4, 5);
	/* absolute, scenario-wide: the worst step decides */
	assert_true(r[0].met && r[0].breached);
	assert_string_equal(r[0].step, "again");
	assert_true(fabs(r[0].value - 300) < 1e-9);
	/* 2x the p50 of 55 = 110: 150 is over */
	assert_true(r[1].met);
	assert_true(fabs(r[1].limit_value - 110) < 1e-9);
	assert_int_equal(r[1].baseline_n, 10);
	/* p95 of "again" (its own ipv6/reused row) */
	assert_true(r[2].met);
	assert_true(r[2].limit_value > 109 && r[2].limit_value < 110.1);
	assert_true(run.breach);
	run_rec_release(&run);

	/* not ready: min_n 20 > 10 samples */
	make_run(fx, &run, 150, 300, false);
	r = eval(fx, &run, &t[3], 1, 20);
	assert_false(r[0].met);
	assert_string_equal(r[0].note, "baseline not ready (n=10, needs 20)");
	assert_false(run.breach);
	run_rec_release(&run);

	/* for 2 runs: the first finding holds, the second in a row fires */
	for (int k = 0; k < 2; k++) {
		make_run(fx, &run, 10, 10, false);
		assert_int_equal(step_rec_add_finding(&run.steps[1], &f), 0);
		f->code = sdup("SLOW_SERVER");
		r = eval(fx, &run, &t[4], 1, 5);
		assert_true(r[0].met);
		assert_int_equal(r[0].breached, k == 1);
		assert_true(fabs(r[0].value - 1) < 1e-9);
		assert_int_equal(store_run_save(fx->st, &run, &err), 0);
		run_rec_release(&run);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile),
		cmocka_unit_test_setup_teardown(test_update_rows, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_thresholds, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_many_steps, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
