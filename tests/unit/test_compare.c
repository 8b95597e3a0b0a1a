/*
 * test_compare.c: escalate/compare.c's verdicts on a real store seeded
 * with runs of three regions: baseline runs two hours before "now",
 * recent ones in the last hour; each run one http step with a connection
 * (rtt_ms, server address) and an exchange (think_ms).
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

#include "escalate/compare.h"
#include "model/run.h"
#include "store/store.h"

#define NOW "2030-06-01T12:00:00.000000Z"
#define OLD "2030-06-01T10:00:00.000000Z"
#define NEW "2030-06-01T11:30:00.000000Z"

#include "store_fixture.h"

static int fx_setup(void **state)
{
	return store_fx_setup(state, "/tmp/probe-test-cmp-XXXXXX");
}

static char *sdup(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	return d;
}

static void run(struct fx *fx, const char *region, const char *at,
		double rtt, double think, const char *server)
{
	struct run_rec r;
	struct step_rec *s;
	struct conn_rec *c;
	struct exchange_rec *x;
	struct errbuf err;
	char id[32];
	run_rec_init(&r);
	snprintf(id, sizeof(id), "p-%u", ++fx->n);
	r.run_id = sdup(id);
	r.scenario = sdup("shop");
	r.region = sdup(region);
	r.probe_id = sdup("p");
	r.started_at = sdup(at);
	r.probe_version = sdup("0");
	r.clock_sync = RUN_CLOCK_SYNCED;
	r.capture = RUN_CAPTURE_ON;
	r.ok = true;
	assert_int_equal(run_rec_add_step(&r, &s), 0);
	s->name = sdup("home");
	s->kind = RUN_KIND_HTTP;
	s->target = sdup("https://shop/");
	s->ok = true;
	assert_int_equal(step_rec_add_conn(s, &c), 0);
	c->key = 1;
	c->family = RUN_FAMILY_IPV4;
	c->src_addr = sdup("192.0.2.1");
	c->dst_addr = sdup(server);
	c->src_port = 40000;
	c->dst_port = 443;
	c->source = RUN_SOURCE_PCAP;
	c->rtt_ms = rtt;
	c->retrans = 0;
	assert_int_equal(step_rec_add_exchange(s, &x), 0);
	x->conn_key = 1;
	x->source = RUN_SOURCE_PCAP;
	x->think_ms = think;
	x->ttfb_wire_ms = rtt + think;
	assert_int_equal(store_run_save(fx->st, &r, &err), 0);
	run_rec_release(&r);
}

/* Baselines: r1 10 ms, r2 40 ms, r3 120 ms, think 50 everywhere. */
static void baseline(struct fx *fx)
{
	static const char *const reg[3] = { "r1", "r2", "r3" };
	static const double rtt[3] = { 10, 40, 120 };
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 5; k++)
			run(fx, reg[i], OLD, rtt[i] + k * 0.1, 50 + k * 0.2,
			    "198.51.100.1");
}

static unsigned recent_runs; /* 0: the time window */

static enum cmp_verdict verdict(struct fx *fx, char **regions)
{
	struct cmp_opts o = { 5, 7, 60, recent_runs, NOW };
	struct cmp_result res;
	struct errbuf err;
	assert_int_equal(escalate_compare(fx->st, NULL, &o, &res, &err), 0);
	assert_int_equal(res.n, 1);
	enum cmp_verdict v = res.v[0].verdict;
	*regions = res.v[0].regions_text ? sdup(res.v[0].regions_text)
					 : NULL;
	cmp_result_release(&res);
	return v;
}

static void test_none(void **state)
{
	struct fx *fx = *state;
	char *r;
	baseline(fx);
	run(fx, "r1", NEW, 10.2, 50.5, "198.51.100.1");
	run(fx, "r2", NEW, 40.3, 49.0, "198.51.100.1");
	run(fx, "r3", NEW, 121, 52, "198.51.100.1");
	assert_int_equal(verdict(fx, &r), CMP_NONE);
	free(r);
}

static void test_network_local(void **state)
{
	struct fx *fx = *state;
	char *r;
	baseline(fx);
	run(fx, "r1", NEW, 10.2, 50.5, "198.51.100.1");
	run(fx, "r2", NEW, 100, 50, "198.51.100.1");
	run(fx, "r3", NEW, 121, 52, "198.51.100.1");
	assert_int_equal(verdict(fx, &r), CMP_NETWORK_LOCAL);
	assert_string_equal(r, "r2");
	free(r);
}

static void test_application_wide(void **state)
{
	struct fx *fx = *state;
	char *r;
	baseline(fx);
	run(fx, "r1", NEW, 10.2, 250, "198.51.100.1");
	run(fx, "r2", NEW, 40, 260, "198.51.100.1");
	run(fx, "r3", NEW, 120, 240, "198.51.100.1");
	assert_int_equal(verdict(fx, &r), CMP_APPLICATION_WIDE);
	free(r);
}

static void test_server_local(void **state)
{
	struct fx *fx = *state;
	char *r;
	baseline(fx);
	run(fx, "r1", NEW, 10.2, 50, "198.51.100.1");
	run(fx, "r2", NEW, 40, 51, "198.51.100.1");
	run(fx, "r3", NEW, 120, 240, "203.0.113.9"); /* another front end */
	assert_int_equal(verdict(fx, &r), CMP_SERVER_LOCAL);
	assert_string_equal(r, "r3");
	free(r);
}

static void test_mixed(void **state)
{
	struct fx *fx = *state;
	char *r;
	baseline(fx);
	/* think up in one region that reaches the same servers */
	run(fx, "r1", NEW, 10.2, 50, "198.51.100.1");
	run(fx, "r2", NEW, 40, 51, "198.51.100.1");
	run(fx, "r3", NEW, 120, 240, "198.51.100.1");
	assert_int_equal(verdict(fx, &r), CMP_MIXED);
	free(r);
}

/* The same by run count: each region's last run is the recent one, even
 * when all runs are inside the time window. */
static void test_recent_runs(void **state)
{
	struct fx *fx = *state;
	char *r;
	baseline(fx);
	run(fx, "r1", NEW, 10.2, 50.5, "198.51.100.1");
	run(fx, "r2", NEW, 100, 50, "198.51.100.1");
	run(fx, "r3", NEW, 121, 52, "198.51.100.1");
	recent_runs = 1;
	struct cmp_opts o = { 5, 7, 24 * 60, 1, NOW };
	struct cmp_result res;
	struct errbuf err;
	assert_int_equal(escalate_compare(fx->st, "shop", &o, &res, &err), 0);
	assert_int_equal(res.v[0].verdict, CMP_NETWORK_LOCAL);
	assert_string_equal(res.v[0].regions_text, "r2");
	cmp_result_release(&res);
	assert_int_equal(verdict(fx, &r), CMP_NETWORK_LOCAL);
	free(r);
	recent_runs = 0;
}

static void test_not_ready(void **state)
{
	struct fx *fx = *state;
	char *r;
	/* no baseline at all: slow or not, no verdict */
	run(fx, "r1", NEW, 500, 900, "198.51.100.1");
	run(fx, "r2", NEW, 500, 900, "198.51.100.1");
	assert_int_equal(verdict(fx, &r), CMP_NONE);
	free(r);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_none), T(test_network_local), T(test_application_wide),
		T(test_server_local), T(test_mixed), T(test_recent_runs),
		T(test_not_ready),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
