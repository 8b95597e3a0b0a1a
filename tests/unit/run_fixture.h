/*
 * run_fixture.h: a run with everything (a connection no step owns, two
 * http steps -- the second reuses the first's connection and followed a
 * redirect --, two certificates, findings at every level, a pcap), for
 * the store's tests (test_store.c, test_store_load.c).  Static functions:
 * each test binary gets its own copy.
 */
#ifndef PROBE_TESTS_RUN_FIXTURE_H
#define PROBE_TESTS_RUN_FIXTURE_H

#include <math.h>
#include <stdint.h>

#include "model/run.h"
#include "util/xalloc.h"

static char *sdup(const char *s)
{
	char *d = xstrdup(s);
	assert_non_null(d);
	return d;
}

#define T0 "2026-11-23T13:43:04.123456Z"
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void set_packets(struct finding_rec *f, uint64_t a, uint64_t b)
{
	uint64_t fr[2] = { a, b };
	assert_int_equal(finding_rec_set_packets(f, fr, b ? 2 : 1), 0);
}

/*
 * A run with everything: a connection no step owns, two http steps (the
 * second reuses the first's connection and followed a redirect), two
 * certificates, findings at every level, a pcap.
 */
static void make_run(struct run_rec *r, const char *run_id,
		     const char *scenario, const char *started_at)
{
	struct step_rec *s;
	struct conn_rec *c;
	struct exchange_rec *e;
	struct finding_rec *f;
	struct cert_rec *cert;

	run_rec_init(r);
	r->run_id = sdup(run_id);
	r->scenario = sdup(scenario);
	r->scenario_file = sdup("scenarios/shop.scn");
	r->region = sdup("eu-west-1");
	r->probe_id = sdup("p1");
	r->started_at = sdup(started_at);
	r->finished_at = sdup("2030-01-01T00:00:00.000001Z");
	r->ok = false;
	r->breach = true;
	r->clock_sync = RUN_CLOCK_SYNCED;
	r->capture = RUN_CAPTURE_ON;
	r->capture_drops = 0;
	r->capture_truncated = 2;
	r->probe_version = sdup("0.1.0");

	assert_int_equal(run_rec_add_conn(r, &c), 0);
	c->key = 9;
	c->family = RUN_FAMILY_IPV4;
	c->dst_addr = sdup("10.0.0.2");
	c->dst_port = 53;
	c->source = RUN_SOURCE_PCAP;
	assert_int_equal(run_rec_add_finding(r, &f), 0);
	f->code = sdup("CAPTURE_TRUNCATED");
	f->detail = sdup("2 packets cut by the ring");

	/* step 1: new connection, full chain */
	assert_int_equal(run_rec_add_step(r, &s), 0);
	s->name = sdup("login");
	s->kind = RUN_KIND_HTTP;
	s->target = sdup("https://shop.example.com/login?u=${USER}");
	s->ok = true;
	s->started_at = sdup(started_at);
	s->dns_ms = 1.5;
	s->connect_ms = 10.25;
	s->tls_ms = 30.5;
	s->ttfb_ms = 50.75;
	s->total_ms = 60;
	s->status = 302;
	s->bytes = 0;
	s->tls_version = sdup("TLSv1.3");
	s->tls_cipher = sdup("TLS_AES_128_GCM_SHA256");
	s->alpn = sdup("h2");
	s->tls_resumed = 0;
	s->http_version = sdup("2");
	s->conn_state = RUN_CONN_NEW;
	s->family = RUN_FAMILY_IPV4;
	assert_int_equal(step_rec_add_cert(s, &cert), 0);
	cert->subject = sdup("CN=shop.example.com");
	cert->issuer = sdup("CN=Example CA");
	cert->not_after = sdup("2027-01-01T00:00:00.000000Z");
	cert->days_left = 38;
	cert->verified = 1;
	assert_int_equal(step_rec_add_cert(s, &cert), 0);
	cert->subject = sdup("CN=Example CA");
	cert->issuer = sdup("CN=Example Root");
	cert->not_after = sdup("2030-01-01T00:00:00.000000Z");
	cert->days_left = 1134;
	cert->verified = 1;
	assert_int_equal(step_rec_add_conn(s, &c), 0);
	c->key = 1;
	c->family = RUN_FAMILY_IPV4;
	c->src_addr = sdup("10.0.0.5");
	c->src_port = 40000;
	c->dst_addr = sdup("192.0.2.10");
	c->dst_port = 443;
	c->conn_state = RUN_CONN_NEW;
	c->source = RUN_SOURCE_PCAP;
	c->rtt_ms = 10;
	c->rtt_quality = RUN_QUALITY_MEASURED;
	c->syn_retrans = 0;
	c->tls_server_ms = 2.5;
	c->tls_server_quality = RUN_QUALITY_MEASURED;
	c->hrr = 0;
	c->resumed = 0;
	c->bytes_in = 5000;
	c->bytes_out = 800;
	c->retrans = 1;
	c->dup_acks = 2;
	c->zero_window = 0;
	c->out_of_order = 0;
	c->lost_in = 1;
	c->rst = RUN_RST_SERVER;
	c->rst_at_ms = 70.5;
	c->mss = 1460;
	c->wscale = 7;
	c->sack = 1;
	assert_int_equal(step_rec_add_exchange(s, &e), 0);
	e->conn_key = 1;
	e->method = sdup("POST");
	e->url = sdup("https://shop.example.com/login?u=${USER}");
	e->status = 302;
	e->source = RUN_SOURCE_PCAP;
	e->request_ack_ms = 10.5;
	e->ack_pattern = RUN_ACK_PIGGYBACKED;
	e->ttfb_wire_ms = 40;
	e->ttfb_wire_quality = RUN_QUALITY_MEASURED;
	e->think_ms = 30;
	e->think_quality = RUN_QUALITY_MEASURED;
	e->transfer_ms = 1.25;
	e->goodput_kbps = 800;
	e->server_delayed_ack = 0;
	assert_int_equal(step_rec_add_finding(s, &f), 0);
	f->conn_key = 1;
	f->code = sdup("RETRANSMISSIONS");
	set_packets(f, 7, 9);
	f->detail = sdup("1 retransmission");

	/* step 2: reuses connection 1, one redirect hop, failed */
	assert_int_equal(run_rec_add_step(r, &s), 0);
	s->name = sdup("cart");
	s->kind = RUN_KIND_HTTP;
	s->target = sdup("https://shop.example.com/cart");
	s->ok = false;
	s->error = sdup("http.status");
	s->error_detail = sdup("expected 200, got 500");
	s->started_at = sdup(started_at);
	s->ttfb_ms = 250;
	s->total_ms = 251;
	s->status = 500;
	s->conn_state = RUN_CONN_REUSED;
	s->family = RUN_FAMILY_IPV4;
	assert_int_equal(step_rec_add_exchange(s, &e), 0);
	e->conn_key = 1;
	e->method = sdup("GET");
	e->status = 301;
	assert_int_equal(step_rec_add_exchange(s, &e), 0);
	e->conn_key = 1;
	e->method = sdup("GET");
	e->status = 500;
	e->source = RUN_SOURCE_PCAP;
	e->ttfb_wire_ms = 9;
	e->think_quality = RUN_QUALITY_INCONSISTENT;
	assert_int_equal(step_rec_add_finding(s, &f), 0);
	f->conn_key = 1;
	f->code = sdup("HTTP_STATUS");
	f->packets = sdup("[]");

	r->pcap = calloc(1, sizeof(*r->pcap));
	assert_non_null(r->pcap);
	pcap_rec_init(r->pcap);
	r->pcap->path = sdup("spool/p1.pcapng");
	r->pcap->bytes = 12345;
	r->pcap->sha256 = sdup(SHA);
	r->pcap->created_at = sdup(T0);
	r->pcap->expires_at = sdup("2026-12-23T13:43:04.123456Z");
}

#endif
