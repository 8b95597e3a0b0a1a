/*
 * test_report.c: report/waterfall.c (segments of a step) and report.c
 * (the latest run of each scenario and region, rendered as JSON and HTML
 * from a real store).
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

#include "model/run.h"
#include "report/report.h"
#include "report/waterfall.h"
#include "store/store.h"
#include "store_fixture.h"
#include "util/xalloc.h"

static char *dup_(const char *s)
{
	char *d = xstrdup(s);
	assert_non_null(d);
	return d;
}

/* An https exchange on a new connection with every figure. */
static void full_exchange(struct exchange_rec *x)
{
	x->method = dup_("GET");
	x->url = dup_("https://shop.test/");
	x->status = 200;
	x->dns_ms = 1.5;
	x->connect_ms = 20.25;
	x->tls_ms = 41;
	x->request_sent_ms = 0.125;
	x->rtt_ms = 20.5;
	x->think_ms = 150.25;
	x->transfer_ms = 3;
	x->total_ms = 237.0;
	x->request_ack_ms = 20.6;
	x->ack_pattern = RUN_ACK_SEPARATE;
}

static void test_waterfall_http(void **state)
{
	(void)state;
	struct step_rec s;
	step_rec_init(&s);
	s.kind = RUN_KIND_HTTP;
	s.name = dup_("home");
	s.ok = true;
	struct exchange_rec *x;
	assert_int_equal(step_rec_add_exchange(&s, &x), 0);
	full_exchange(x);
	/* a redirect hop on the same, reused connection, think unknown */
	assert_int_equal(step_rec_add_exchange(&s, &x), 0);
	x->dns_ms = 0.25;
	x->request_sent_ms = 0.5;
	x->rtt_ms = 20;
	x->think_quality = RUN_QUALITY_INCONSISTENT;
	x->transfer_ms = 1;
	x->total_ms = 30;

	struct waterfall w[4];
	assert_int_equal(waterfall_of_step(&s, w, 4), 2);
	/* every segment is its stored figure, laid end to end */
	static const double want[WF_COUNT] = { 1.5, 20.25, 41, 0.125,
					       20.5, 150.25, 3 };
	double at = 0;
	for (int k = 0; k < WF_COUNT; k++) {
		assert_true(w[0].applies[k]);
		assert_true(w[0].ms[k] == want[k]);
		assert_true(w[0].start_ms[k] == at);
		at += want[k];
	}
	assert_true(w[0].sum_ms == at);
	assert_true(w[0].total_ms == 237.0);
	assert_int_equal(w[0].n_unknown, 0);
	assert_ptr_equal(w[0].ex, &s.exchanges[0]);
	/* reused: no connect, no TLS; think applies but is unknown */
	assert_true(w[1].applies[WF_DNS]);
	assert_false(w[1].applies[WF_CONNECT]);
	assert_false(w[1].applies[WF_TLS]);
	assert_true(w[1].applies[WF_THINK]);
	assert_true(isnan(w[1].ms[WF_THINK]));
	assert_int_equal(w[1].n_unknown, 1);
	assert_true(w[1].sum_ms == 0.25 + 0.5 + 20 + 1);
	/* the transfer starts where the known ones before it end */
	assert_true(w[1].start_ms[WF_TRANSFER] == 0.25 + 0.5 + 20);
	/* max caps what is written, not what is counted */
	assert_int_equal(waterfall_of_step(&s, w, 1), 2);
	step_rec_release(&s);
}

static void test_waterfall_other_steps(void **state)
{
	(void)state;
	struct step_rec s;
	step_rec_init(&s);
	s.kind = RUN_KIND_TLS;
	s.dns_ms = 2;
	s.connect_ms = 10;
	s.tls_ms = 30;
	s.total_ms = 42.5;
	struct waterfall w[2];
	assert_int_equal(waterfall_of_step(&s, w, 2), 1);
	assert_null(w[0].ex);
	assert_true(w[0].applies[WF_TLS]);
	assert_false(w[0].applies[WF_SENT]); /* no wire part without one */
	assert_false(w[0].applies[WF_THINK]);
	assert_true(w[0].sum_ms == 42);
	/* a skipped step draws nothing */
	s.skipped = true;
	assert_int_equal(waterfall_of_step(&s, w, 2), 0);
	step_rec_release(&s);

	char b[32];
	assert_string_equal(waterfall_ms_text(NAN, b, sizeof(b)), "?");
	assert_string_equal(waterfall_ms_text(0.125, b, sizeof(b)), "0.12 ms");
	assert_string_equal(waterfall_ms_text(150.25, b, sizeof(b)),
			    "150.2 ms");
	assert_string_equal(waterfall_ms_text(2500.4, b, sizeof(b)),
			    "2500 ms");
}

static int fx_setup(void **state)
{
	return store_fx_setup(state, "/tmp/probe-test-report-XXXXXX");
}

static void save_run(struct fx *fx, const char *region, const char *at,
		     double think, bool finding)
{
	struct run_rec r;
	run_rec_init(&r);
	char id[32];
	snprintf(id, sizeof(id), "p-%u", ++fx->n);
	r.run_id = dup_(id);
	r.scenario = dup_("shop");
	r.region = dup_(region);
	r.probe_id = dup_("p");
	r.started_at = dup_(at);
	r.finished_at = dup_(at);
	r.ok = true;
	r.clock_sync = RUN_CLOCK_SYNCED;
	r.capture = RUN_CAPTURE_ON;
	r.probe_version = dup_("test");
	struct step_rec *s;
	assert_int_equal(run_rec_add_step(&r, &s), 0);
	s->name = dup_("home");
	s->kind = RUN_KIND_HTTP;
	s->target = dup_("https://shop.test/");
	s->ok = true;
	s->started_at = dup_(at);
	struct conn_rec *c;
	assert_int_equal(step_rec_add_conn(s, &c), 0);
	c->key = 1;
	c->family = RUN_FAMILY_IPV4;
	c->src_addr = dup_("10.0.0.2");
	c->src_port = 40000;
	c->dst_addr = dup_("10.0.0.1");
	c->dst_port = 443;
	c->rtt_ms = 20.5;
	struct exchange_rec *x;
	assert_int_equal(step_rec_add_exchange(s, &x), 0);
	full_exchange(x);
	x->conn_key = 1;
	x->think_ms = think;
	s->total_ms = x->total_ms;
	if (finding) {
		struct finding_rec *f;
		assert_int_equal(step_rec_add_finding(s, &f), 0);
		f->code = dup_("RETRANSMISSIONS");
		uint64_t fr[2] = { 12, 14 };
		assert_int_equal(finding_rec_set_packets(f, fr, 2), 0);
		f->detail = dup_("2 <segments> & resent");
	}
	struct errbuf err;
	assert_int_equal(store_run_save(fx->st, &r, &err), 0);
	run_rec_release(&r);
}

/* Render into a string (open_memstream). */
static char *render(const struct report *r, bool html)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	if (html)
		assert_int_equal(report_html(f, r), 0);
	else
		report_json(f, r);
	fclose(f);
	return buf;
}

static void test_report_latest(void **state)
{
	struct fx *fx = *state;
	save_run(fx, "eu", "2026-11-23T10:00:00.000000Z", 100, false);
	save_run(fx, "eu", "2026-11-23T11:00:00.000000Z", 150.25, true);
	save_run(fx, "us", "2026-11-23T09:00:00.000000Z", 90, false);

	struct report r;
	struct errbuf err;
	struct report_opts o = { .now = "2026-11-23T12:00:00.000000Z",
				 .db_path = fx->db };
	assert_int_equal(report_collect(fx->st, &o, &r, &err), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.v[0].name, "shop");
	assert_int_equal(r.v[0].n_runs, 2);
	/* the latest of each region, regions in order */
	assert_string_equal(r.v[0].runs[0].region, "eu");
	assert_string_equal(r.v[0].runs[0].run_id, "p-2");
	assert_string_equal(r.v[0].runs[1].run_id, "p-3");
	char *json = render(&r, false);
	/* the stored figures, as they were saved */
	assert_non_null(strstr(json, "{\"segment\":\"think\",\"figure\":"
				     "\"think_ms\",\"clock\":\"wire\","
				     "\"ms\":150.25,\"start_ms\":83.375}"));
	assert_non_null(strstr(json, "\"code\":\"RETRANSMISSIONS\","
				     "\"packets\":[12,14]"));
	free(json);
	char *html = render(&r, true);
	assert_non_null(strstr(html, "data-segment=\"think\" "
				     "data-figure=\"think_ms\" "
				     "data-clock=\"wire\" data-ms=\"150.25\""));
	/* text is escaped */
	assert_non_null(strstr(html, "2 &lt;segments&gt; &amp; resent"));
	assert_null(strstr(html, "<segments>"));
	/* nothing loaded from elsewhere */
	assert_null(strstr(html, "src="));
	assert_null(strstr(html, "url("));
	assert_null(strstr(html, "@import"));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<link"));
	free(html);
	report_release(&r);

	/* --since leaves the older region out; --region keeps one */
	o.since = "2026-11-23T10:30";
	assert_int_equal(report_collect(fx->st, &o, &r, &err), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].n_runs, 1);
	assert_string_equal(r.v[0].runs[0].run_id, "p-2");
	report_release(&r);
	o.since = NULL;
	o.region = "us";
	assert_int_equal(report_collect(fx->st, &o, &r, &err), 0);
	assert_int_equal(r.v[0].n_runs, 1);
	assert_string_equal(r.v[0].runs[0].run_id, "p-3");
	report_release(&r);
	o.region = NULL;

	/* history: a series slice per hour of the 24 before now */
	o.history = true;
	o.cmp = (struct cmp_opts){ .min_n = 1, .days = 7, .recent_min = 60 };
	assert_int_equal(report_collect(fx->st, &o, &r, &err), 0);
	assert_int_equal(r.bucket_s, 3600);
	assert_int_equal(r.v[0].n_series, 2);
	const struct report_series *eu = &r.v[0].series[0];
	assert_string_equal(eu->region, "eu");
	/* slice 22 (10:00-11:00) holds the 10:00 run, 23 the 11:00 one */
	assert_int_equal(eu->pts[REPORT_THINK][22].n, 1);
	assert_true(eu->pts[REPORT_THINK][22].p50 == 100);
	assert_true(eu->pts[REPORT_THINK][23].p50 == 150.25);
	assert_int_equal(eu->pts[REPORT_THINK][0].n, 0);
	assert_true(isnan(eu->pts[REPORT_THINK][0].p50));
	assert_true(eu->pts[REPORT_RTT][23].p50 == 20.5);
	assert_non_null(r.v[0].cmp);
	report_release(&r);

	/* a malformed since is the caller's error */
	o.since = "yesterday";
	assert_int_equal(report_collect(fx->st, &o, &r, &err), PE_INVAL);
	report_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waterfall_http),
		cmocka_unit_test(test_waterfall_other_steps),
		cmocka_unit_test_setup_teardown(test_report_latest, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
