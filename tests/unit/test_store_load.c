/*
 * test_store_load.c: store_run_load() reads back what store_run_save()
 * wrote, table by table (store_serve.c keeps its own column lists: this
 * is what keeps them honest), and the other reads of `probe serve`:
 * store_runs_after() paging and query-only mode.
 *
 * The round trip compares the run as `probe run --json` prints it
 * (render_run_json) before the save and after the load, and then the
 * fields the JSON leaves out (ids, certificates' depth, the pcap row).
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

#include "cli/render_run.h"
#include "model/run.h"
#include "store/store.h"
#include "util/xalloc.h"

#include "store_fixture.h"

static int fx_setup(void **state)
{
	return store_fx_setup(state, "/tmp/probe-test-load-XXXXXX");
}

#include "run_fixture.h"

/* run_fixture.h's run, plus two thresholds (schema 003). */
static void make_full_run(struct run_rec *r, const char *run_id,
			  const char *scenario, const char *started_at)
{
	make_run(r, run_id, scenario, started_at);
	struct thresh_rec *t;
	assert_int_equal(run_rec_add_thresh(r, &t), 0);
	t->threshold = sdup("think_ms > 20 for 2 runs");
	t->metric = sdup("think_ms");
	t->step = sdup("login");
	t->value = 30;
	t->limit_value = 20;
	t->met = true;
	t->breached = false;
	t->note = sdup("1 of 2 runs");
	assert_int_equal(run_rec_add_thresh(r, &t), 0);
	t->threshold = sdup("rtt_ms > 2x baseline");
	t->metric = sdup("rtt_ms");
	t->limit_value = NAN;
	t->baseline_n = 3;
}

/* The run as render_run_json prints it, malloc'ed. */
static char *as_json(const struct run_rec *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	render_run_json(f, r);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_store_load_round_trip(void **state)
{
	struct fx *fx = *state;
	struct run_rec r, got;
	struct errbuf err = { "" };

	make_full_run(&r, "p1-a", "shop", T0);
	assert_int_equal(store_run_save(fx->st, &r, &err), 0);
	if (store_run_load(fx->st, r.seq, &got, &err) != 0)
		fail_msg("store_run_load: %s", err.msg);

	char *a = as_json(&r), *b = as_json(&got);
	assert_string_equal(b, a);
	free(a);
	free(b);

	assert_int_equal(got.seq, r.seq);
	assert_int_equal(got.n_steps, 2);
	assert_int_equal(got.n_conns, 1);
	assert_int_equal(got.conns[0].id, r.conns[0].id);
	assert_string_equal(got.conns[0].dst_addr, "10.0.0.2");
	assert_int_equal(got.n_findings, 1);
	assert_int_equal(got.capture_truncated, 2);
	assert_int_equal(got.clock_sync, RUN_CLOCK_SYNCED);
	for (size_t i = 0; i < 2; i++) {
		const struct step_rec *s = &got.steps[i], *w = &r.steps[i];
		assert_int_equal(s->id, w->id);
		assert_int_equal(s->n_certs, w->n_certs);
		for (size_t k = 0; k < s->n_certs; k++) {
			assert_int_equal(s->certs[k].depth, w->certs[k].depth);
			assert_string_equal(s->certs[k].subject,
					    w->certs[k].subject);
		}
		assert_int_equal(s->n_conns, w->n_conns);
		assert_int_equal(s->n_exchanges, w->n_exchanges);
		for (size_t k = 0; k < s->n_exchanges; k++) {
			/* the key names the same connection row */
			const struct conn_rec *c = run_rec_conn_by_key(
				&got, s->exchanges[k].conn_key);
			assert_non_null(c);
			assert_int_equal(c->id, r.steps[0].conns[0].id);
		}
		assert_int_equal(s->n_findings, w->n_findings);
	}
	assert_true(isnan(got.steps[1].dns_ms));
	assert_int_equal(got.steps[1].bytes, RUN_NULL_INT);
	assert_int_equal(got.steps[0].conns[0].rst, RUN_RST_SERVER);
	assert_non_null(got.pcap);
	assert_string_equal(got.pcap->sha256, SHA);
	assert_int_equal(got.pcap->bytes, 12345);
	assert_string_equal(got.pcap->expires_at, r.pcap->expires_at);
	assert_false(got.pcap->pruned);
	assert_int_equal(got.n_thresholds, 2);
	assert_string_equal(got.thresholds[0].note, "1 of 2 runs");
	assert_true(got.thresholds[0].met);
	assert_true(isnan(got.thresholds[1].limit_value));
	assert_int_equal(got.thresholds[1].baseline_n, 3);
	assert_int_equal(got.thresholds[0].baseline_n, RUN_NULL_INT);
	run_rec_release(&r);
	run_rec_release(&got);
}

static void test_store_load_missing(void **state)
{
	struct fx *fx = *state;
	struct run_rec got;
	struct errbuf err = { "" };

	assert_int_equal(store_run_load(fx->st, 42, &got, &err), PE_NOTFOUND);
	assert_int_equal(got.n_steps, 0);
	run_rec_release(&got);
}

static void test_store_load_runs_after(void **state)
{
	struct fx *fx = *state;
	struct run_rec r;
	struct errbuf err = { "" };
	char id[16];
	int64_t seqs[8];
	size_t n;

	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "p1-%d", i);
		make_full_run(&r, id, "shop", T0);
		assert_int_equal(store_run_save(fx->st, &r, &err), 0);
		run_rec_release(&r);
	}
	assert_int_equal(store_runs_after(fx->st, 0, 8, seqs, &n, &err), 0);
	assert_int_equal(n, 5);
	for (size_t i = 1; i < n; i++)
		assert_true(seqs[i] > seqs[i - 1]);
	int64_t page[8], second = seqs[1];
	assert_int_equal(store_runs_after(fx->st, second, 2, page, &n, &err),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(page[0], seqs[2]);
	assert_int_equal(store_runs_after(fx->st, second, 8, page, &n, &err),
			 0);
	assert_int_equal(n, 3);
	assert_int_equal(page[2], seqs[4]);
	assert_int_equal(store_runs_after(fx->st, 1000, 8, seqs, &n, &err), 0);
	assert_int_equal(n, 0);
}

static void test_store_load_query_only(void **state)
{
	struct fx *fx = *state;
	struct run_rec r;
	struct errbuf err = { "" };

	assert_int_equal(store_query_only(fx->st, &err), 0);
	make_full_run(&r, "p1-ro", "shop", T0);
	assert_true(store_run_save(fx->st, &r, &err) < 0);
	assert_int_equal(r.seq, 0);
	run_rec_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_load_round_trip,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_load_missing,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_load_runs_after,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_load_query_only,
						fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
