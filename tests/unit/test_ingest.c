/*
 * test_ingest.c: ingest_run_json() against render_run_json(): a rich run
 * (DNS answers, certificates, a connection opened by one step and reused
 * by the next with exchanges on both, findings with packets, thresholds,
 * a pcap, capture fields) renders, ingests and renders again to the same
 * bytes, and the ingested record saves (its connection keys hold); then a
 * table of inputs that must be refused, each with its message.
 */
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
#include "collect/ingest.h"
#include "model/run.h"
#include "store/store.h"

static char *xs(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	return d;
}

static void rich_run(struct run_rec *r)
{
	struct step_rec *s;
	struct conn_rec *c;
	struct exchange_rec *e;
	struct finding_rec *f;
	struct cert_rec *k;
	struct thresh_rec *t;
	const uint64_t frames[] = { 3, 4, 9 };

	run_rec_init(r);
	r->seq = 42;
	r->run_id = xs("probe-eu1-6f1c0e2a-0b7d-4c55-9d1e-1a2b3c4d5e6f");
	r->scenario = xs("login");
	r->scenario_file = xs("/etc/probe/login.scn");
	r->region = xs("eu-west");
	r->probe_id = xs("probe-eu1");
	r->probe_version = xs("0.1.0");
	r->started_at = xs("2026-11-23T13:43:04.123456Z");
	r->finished_at = xs("2026-11-23T13:43:05.000001Z");
	r->ok = false;
	r->breach = true;
	r->error = xs("http.status");
	r->clock_sync = RUN_CLOCK_SYNCED;
	r->capture = RUN_CAPTURE_ON;
	r->capture_drops = 0;
	r->capture_truncated = 2;
	r->pcap = calloc(1, sizeof(*r->pcap));
	assert_non_null(r->pcap);
	pcap_rec_init(r->pcap);
	r->pcap->path = xs("pcaps/probe-eu1-6f1c.pcapng");

	assert_int_equal(run_rec_add_thresh(r, &t), 0);
	t->threshold = xs("think_ms > 300 for 3 runs");
	t->metric = xs("think_ms");
	t->step = xs("get \"quoted\" \\ step");
	t->value = 412.625;
	t->limit_value = 300;
	t->met = t->breached = true;
	assert_int_equal(run_rec_add_thresh(r, &t), 0);
	t->threshold = xs("rtt_ms > 2x baseline");
	t->metric = xs("rtt_ms");
	t->baseline_n = 12;
	t->note = xs("baseline not ready (n=12, needs 30)");

	/* 1: dns */
	assert_int_equal(run_rec_add_step(r, &s), 0);
	s->name = xs("resolve");
	s->kind = RUN_KIND_DNS;
	s->target = xs("www.example.com");
	s->ok = true;
	s->started_at = xs("2026-11-23T13:43:04.123500Z");
	s->dns_ms = 1.25;
	s->total_ms = 1.25;
	s->rcode = 0;
	s->family = RUN_FAMILY_IPV4;
	s->answers = xs("[{\"type\":\"A\",\"name\":\"www.example.com\","
			"\"ttl\":300,\"data\":\"192.0.2.7\"},{\"type\":"
			"\"AAAA\",\"name\":\"www.example.com\",\"ttl\":30,"
			"\"data\":\"2001:db8::7\"}]");

	/* 2: https GET, a connection with a redirect then the page */
	assert_int_equal(run_rec_add_step(r, &s), 0);
	s->name = xs("home");
	s->kind = RUN_KIND_HTTP;
	s->target = xs("https://www.example.com/");
	s->ok = true;
	s->started_at = xs("2026-11-23T13:43:04.125000Z");
	s->dns_ms = 0.5;
	s->connect_ms = 10.123456789012;
	s->tls_ms = 25.5;
	s->ttfb_ms = 80;
	s->total_ms = 123.456;
	s->status = 200;
	s->bytes = 5120;
	s->http_version = xs("1.1");
	s->tls_version = xs("TLSv1.3");
	s->tls_cipher = xs("TLS_AES_128_GCM_SHA256");
	s->alpn = xs("http/1.1");
	s->tls_resumed = 0;
	s->conn_state = RUN_CONN_NEW;
	s->family = RUN_FAMILY_IPV4;
	assert_int_equal(step_rec_add_cert(s, &k), 0);
	k->subject = xs("CN=www.example.com");
	k->issuer = xs("CN=Example CA");
	k->not_after = xs("2027-01-01T00:00:00.000000Z");
	k->days_left = 38;
	k->verified = 1;
	assert_int_equal(step_rec_add_cert(s, &k), 0);
	k->subject = xs("CN=Example CA");
	k->issuer = xs("CN=Example Root \xc3\xa9");
	k->verified = 1;
	assert_int_equal(step_rec_add_conn(s, &c), 0);
	c->key = 7;
	c->family = RUN_FAMILY_IPV4;
	c->src_addr = xs("10.0.0.2");
	c->src_port = 40000;
	c->dst_addr = xs("192.0.2.7");
	c->dst_port = 443;
	c->conn_state = RUN_CONN_NEW;
	c->source = RUN_SOURCE_PCAP;
	c->rtt_ms = 9.75;
	c->rtt_quality = RUN_QUALITY_MEASURED;
	c->syn_retrans = 0;
	c->tls_server_ms = 1.5;
	c->hrr = 0;
	c->resumed = 0;
	c->bytes_in = 6000;
	c->bytes_out = 900;
	c->retrans = 1;
	c->dup_acks = 2;
	c->zero_window = 0;
	c->out_of_order = 0;
	c->lost_in = 0;
	c->rst = RUN_RST_SERVER;
	c->rst_at_ms = NAN;
	c->icmp = xs("3/4");
	c->mss = 1460;
	c->wscale = 7;
	c->sack = 1;
	c->connect_ms = 10.123456789012;
	c->tls_ms = 25.5;
	/* a second connection nobody refers to but the step */
	assert_int_equal(step_rec_add_conn(s, &c), 0);
	c->key = 9;
	c->family = RUN_FAMILY_IPV6;
	c->src_addr = xs("2001:db8::2");
	c->dst_addr = xs("2001:db8::7");
	c->dst_port = 443;
	c->conn_state = RUN_CONN_NEW;
	c->source = RUN_SOURCE_LIBRARY;
	c->rst = RUN_RST_CLIENT;
	assert_int_equal(step_rec_add_exchange(s, &e), 0);
	e->conn_key = 7;
	e->method = xs("GET");
	e->url = xs("https://www.example.com/");
	e->status = 301;
	e->source = RUN_SOURCE_PCAP;
	e->ttfb_ms = 40;
	e->total_ms = 41;
	e->request_ack_ms = 9.8;
	e->ack_pattern = RUN_ACK_SEPARATE;
	e->ttfb_wire_ms = 39.5;
	e->ttfb_wire_quality = RUN_QUALITY_MEASURED;
	e->think_ms = 29.75;
	e->think_quality = RUN_QUALITY_INFERRED;
	e->transfer_ms = 0.5;
	e->goodput_kbps = 1234.5;
	e->server_delayed_ack = 0;
	assert_int_equal(step_rec_add_exchange(s, &e), 0);
	e->conn_key = 9;
	e->method = xs("GET");
	e->url = xs("https://www.example.com/home");
	e->status = 200;
	e->source = RUN_SOURCE_LIBRARY;
	assert_int_equal(step_rec_add_exchange(s, &e), 0);
	e->conn_key = 7;
	e->method = xs("GET");
	e->url = xs("https://www.example.com/home?x=1");
	e->status = 200;
	e->source = RUN_SOURCE_PCAP;
	e->think_ms = 1e-6;
	e->ack_pattern = RUN_ACK_PIGGYBACKED;
	assert_int_equal(step_rec_add_finding(s, &f), 0);
	f->code = xs("RETRANSMISSIONS");
	assert_int_equal(finding_rec_set_packets(f, frames, 3), 0);
	f->detail = xs("1 segment sent again\nafter 200 ms");
	f->conn_key = 0;

	/* 3: a POST reusing connection 7 */
	assert_int_equal(run_rec_add_step(r, &s), 0);
	s->name = xs("login");
	s->kind = RUN_KIND_HTTP;
	s->target = xs("https://www.example.com/login");
	s->ok = false;
	s->error = xs("http.status");
	s->error_detail = xs("status 500, expected 200");
	s->status = 500;
	s->conn_state = RUN_CONN_REUSED;
	assert_int_equal(step_rec_add_exchange(s, &e), 0);
	e->conn_key = 7;
	e->method = xs("POST");
	e->url = xs("https://www.example.com/login");
	e->status = 500;
	e->source = RUN_SOURCE_PCAP;
	e->think_ms = 350.25;
	assert_int_equal(step_rec_add_finding(s, &f), 0);
	f->code = xs("SERVER_THINK");

	/* 4: skipped */
	assert_int_equal(run_rec_add_step(r, &s), 0);
	s->name = xs("logout");
	s->kind = RUN_KIND_HTTP;
	s->target = xs("https://www.example.com/logout");
	s->skipped = true;
	s->error = xs("skipped");

	assert_int_equal(run_rec_add_finding(r, &f), 0);
	f->code = xs("CAPTURE_DROPS");
	f->detail = xs("2 truncated");
}

static char *render(const struct run_rec *r, size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);
	assert_non_null(m);
	render_run_json(m, r);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static void test_ingest_round_trip(void **state)
{
	struct run_rec a, b;
	struct errbuf err = { "" };
	size_t la, lb;
	(void)state;

	rich_run(&a);
	char *ja = render(&a, &la);
	run_rec_init(&b);
	int ret = ingest_run_json(ja, la, &b, &err);
	if (ret < 0)
		fail_msg("ingest: %s", err.msg);
	char *jb = render(&b, &lb);
	assert_string_equal(jb, ja);
	assert_int_equal(b.seq, 42);
	/* the reused connection is a reference, not a copy */
	assert_int_equal(b.steps[2].n_conns, 0);
	assert_int_equal(b.steps[2].n_exchanges, 1);
	assert_int_equal(b.steps[2].exchanges[0].conn_key,
			 b.steps[1].conns[0].key);
	assert_int_equal(b.steps[1].exchanges[1].conn_key,
			 b.steps[1].conns[1].key);

	/* and it saves: the keys hold */
	char dir[] = "/tmp/test_ingest.XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p.db", dir);
	struct store *st;
	assert_int_equal(store_open(path, &st, &err), 0);
	pcap_rec_release(b.pcap);
	free(b.pcap);
	b.pcap = NULL;
	b.seq = 0;
	ret = store_run_save(st, &b, &err);
	if (ret < 0)
		fail_msg("save: %s", err.msg);
	assert_true(b.seq > 0);
	store_close(st);
	unlink(path);
	char wal[80];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", path);
	unlink(wal);
	rmdir(dir);

	free(ja);
	free(jb);
	run_rec_release(&a);
	run_rec_release(&b);
}

static const struct {
	const char *json, *msg;
} bad[] = {
	{ "", "not JSON" },
	{ "[1]", "not an object" },
	{ "{\"format_version\":1,\"run_id\":\"x\"} x", "not JSON" },
	{ "{\"run_id\":\"x\"}", "no format_version" },
	{ "{\"format_version\":2,\"run_id\":\"x\"}",
	  "format_version 2: this probe reads version 1 only" },
	{ "{\"format_version\":1}", "no run_id" },
	{ "{\"format_version\":1,\"run_id\":7}", "\"run_id\" is not a string" },
	{ "{\"format_version\":1,\"run_id\":\"x\",\"ok\":1}",
	  "\"ok\" is not true or false" },
	{ "{\"format_version\":1,\"run_id\":\"x\",\"capture\":\"maybe\"}",
	  "unknown value \"maybe\"" },
	{ "{\"format_version\":1,\"run_id\":\"x\",\"steps\":[{\"status\":"
	  "1.5}]}", "step 1: \"status\" is not an integer" },
	{ "{\"format_version\":1,\"run_id\":\"x\",\"findings\":[{\"code\":"
	  "\"X\",\"packets\":[0]}]}", "not a positive integer" },
	{ "{\"format_version\":1,\"run_id\":\"a\\u0000b\"}", "holds a NUL" },
	{ "{\"format_version\":1,\"run_id\":\"\xff\"}", "not JSON" },
	{ "{\"format_version\":1,\"run_id\":\"x\",\"a\":[[[[[[[[[[[[[[[[[[["
	  "[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", "nested deeper" },
};

static void test_ingest_refuses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct run_rec r;
		struct errbuf err = { "" };
		run_rec_init(&r);
		int ret = ingest_run_json(bad[i].json, strlen(bad[i].json), &r,
					  &err);
		if (ret >= 0 || !strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: ret %d, \"%s\", want \"%s\"", i,
				 ret, err.msg, bad[i].msg);
		assert_null(r.run_id);
		assert_int_equal(r.n_steps, 0);
	}
}

static void test_ingest_size_cap(void **state)
{
	struct run_rec r;
	struct errbuf err = { "" };
	(void)state;
	run_rec_init(&r);
	assert_int_equal(ingest_run_json("{}", INGEST_MAX_BYTES + 1u, &r,
					 &err),
			 PE_LIMIT);
	assert_non_null(strstr(err.msg, "over the"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingest_round_trip),
		cmocka_unit_test(test_ingest_refuses),
		cmocka_unit_test(test_ingest_size_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
