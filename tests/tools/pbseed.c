/*
 * pbseed: a store of runs from three regions, written through probe's own
 * store_run_save(), for the report tests (tests/integration/0790-*).
 *
 *   pbseed DB [NOW]     NOW: UTC text "2026-11-23T12:00:00.000000Z",
 *                       default the current time
 *
 * Scenario "checkout" in eu-west-1, us-east-1 and ap-south-1 (RTT 10, 40
 * and 120 ms, think 50 ms): a run every 4 hours over the 3 days before
 * NOW minus 2 hours (18 a region: the baseline), then a run every 10
 * minutes in the last 50 minutes (5: the recent window).  In us-east-1 the
 * recent runs' RTT is 60 ms higher (its network: `probe compare` says
 * NETWORK_LOCAL us-east-1 with baseline_min_n <= 18).  The latest
 * ap-south-1 run has findings (RETRANSMISSIONS frames 12 and 14,
 * SLOW_SERVER frames 9 and 15), a breached threshold and a kept pcap row.
 * Each run: a dns step and an https step of one exchange on a new
 * connection with every waterfall figure (total = their sum + 0.25 ms).
 * Prints the number of runs written.  Exit 0, 2 usage, 3 store errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/run.h"
#include "store/store.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

struct region {
	const char *name, *addr;
	double rtt;
};

static const struct region regions[] = {
	{ "eu-west-1", "192.0.2.10", 10 },
	{ "us-east-1", "192.0.2.10", 40 },
	{ "ap-south-1", "192.0.2.10", 120 },
};

static unsigned n_runs;

static char *utc_at(int64_t sec)
{
	char buf[TIMEUTIL_UTC_LEN];
	if (timeutil_utc(sec * 1000000000, buf, sizeof(buf)) < 0)
		return NULL;
	return xstrdup(buf);
}

/* A small deterministic wobble, so percentiles are not all one value. */
static double wob(unsigned i, double amp)
{
	return amp * (double)((i * 7919u) % 11u) / 10.0 - amp / 2;
}

static int seed_run(struct store *st, const struct region *rg, int64_t at,
		    double rtt, bool findings)
{
	struct run_rec r;
	struct step_rec *s;
	struct conn_rec *c;
	struct exchange_rec *x;
	struct finding_rec *f;
	struct thresh_rec *t;
	char id[64];
	unsigned i = ++n_runs;
	int ret = PE_NOMEM;

	run_rec_init(&r);
	snprintf(id, sizeof(id), "seed-%s-%04u", rg->name, i);
	r.run_id = xstrdup(id);
	r.scenario = xstrdup("checkout");
	r.scenario_file = xstrdup("scenarios/checkout.scn");
	r.region = xstrdup(rg->name);
	r.probe_id = xstrdup(rg->name);
	r.started_at = utc_at(at);
	r.finished_at = utc_at(at + 1);
	r.ok = true;
	r.clock_sync = RUN_CLOCK_SYNCED;
	r.capture = RUN_CAPTURE_ON;
	r.capture_drops = 0;
	r.capture_truncated = 0;
	r.probe_version = xstrdup("seed");
	if (run_rec_add_step(&r, &s) < 0)
		goto out;
	s->name = xstrdup("resolve");
	s->kind = RUN_KIND_DNS;
	s->target = xstrdup("shop.example");
	s->ok = true;
	s->started_at = utc_at(at);
	s->dns_ms = s->total_ms = 1.5 + wob(i, 0.4);
	s->rcode = 0;
	s->answers = xstrdup("[\"192.0.2.10\"]");
	if (run_rec_add_step(&r, &s) < 0)
		goto out;
	s->name = xstrdup("checkout");
	s->kind = RUN_KIND_HTTP;
	s->target = xstrdup("https://shop.example/checkout");
	s->ok = true;
	s->started_at = utc_at(at);
	s->status = 200;
	s->bytes = 48213;
	s->http_version = xstrdup("2");
	s->tls_version = xstrdup("TLSv1.3");
	s->conn_state = RUN_CONN_NEW;
	s->family = RUN_FAMILY_IPV4;
	if (step_rec_add_conn(s, &c) < 0)
		goto out;
	c->key = 1;
	c->family = RUN_FAMILY_IPV4;
	c->src_addr = xstrdup("198.51.100.7");
	c->src_port = 40000 + (int64_t)i;
	c->dst_addr = xstrdup(rg->addr);
	c->dst_port = 443;
	c->conn_state = RUN_CONN_NEW;
	c->source = RUN_SOURCE_PCAP;
	c->rtt_ms = rtt;
	c->rtt_quality = RUN_QUALITY_MEASURED;
	c->retrans = findings ? 2 : 0;
	c->connect_ms = rtt + 0.3;
	c->tls_ms = rtt + 1.2;
	if (step_rec_add_exchange(s, &x) < 0)
		goto out;
	x->conn_key = 1;
	x->method = xstrdup("GET");
	x->url = xstrdup("https://shop.example/checkout");
	x->status = 200;
	x->source = RUN_SOURCE_PCAP;
	x->dns_ms = 1.25;
	x->connect_ms = c->connect_ms;
	x->tls_ms = c->tls_ms;
	x->request_sent_ms = 0.125;
	x->rtt_ms = rtt;
	x->think_ms = 50 + wob(i, 6);
	x->think_quality = RUN_QUALITY_MEASURED;
	x->ttfb_wire_ms = x->rtt_ms + x->think_ms;
	x->ttfb_wire_quality = RUN_QUALITY_MEASURED;
	x->transfer_ms = 5.5 + rtt / 10;
	x->goodput_kbps = 48213.0 * 8 / x->transfer_ms;
	x->request_ack_ms = rtt + 0.1;
	x->ack_pattern = RUN_ACK_SEPARATE;
	x->ttfb_ms = x->ttfb_wire_ms + 0.2;
	x->total_ms = x->dns_ms + x->connect_ms + x->tls_ms +
		      x->request_sent_ms + x->rtt_ms + x->think_ms +
		      x->transfer_ms + 0.25;
	s->dns_ms = x->dns_ms;
	s->connect_ms = x->connect_ms;
	s->tls_ms = x->tls_ms;
	s->ttfb_ms = x->ttfb_ms;
	s->total_ms = x->total_ms;
	if (findings) {
		uint64_t fr[2] = { 12, 14 };
		if (step_rec_add_finding(s, &f) < 0 ||
		    finding_rec_set_packets(f, fr, 2) < 0)
			goto out;
		f->conn_key = 1;
		f->code = xstrdup("RETRANSMISSIONS");
		f->detail = xstrdup("2 segments sent again (frames 12, 14): "
				    "loss on the path");
		uint64_t fr2[2] = { 9, 15 };
		if (step_rec_add_finding(s, &f) < 0 ||
		    finding_rec_set_packets(f, fr2, 2) < 0)
			goto out;
		f->conn_key = 1;
		f->code = xstrdup("SLOW_SERVER");
		f->detail = xstrdup("server 50 ms of 170 ms to the first byte");
		r.ok = true;
		r.breach = true;
		if (run_rec_add_thresh(&r, &t) < 0)
			goto out;
		t->threshold = xstrdup("retrans > 0");
		t->metric = xstrdup("retrans");
		t->step = xstrdup("checkout");
		t->value = 2;
		t->limit_value = 0;
		t->met = t->breached = true;
		r.pcap = calloc(1, sizeof(*r.pcap));
		if (!r.pcap)
			goto out;
		pcap_rec_init(r.pcap);
		r.pcap->path = xasprintf("pcaps/%s.pcapng", id);
		r.pcap->bytes = 18432;
		r.pcap->sha256 = xstrdup("0123456789abcdef0123456789abcdef"
					 "0123456789abcdef0123456789abcdef");
		r.pcap->created_at = utc_at(at + 1);
		r.pcap->expires_at = utc_at(at + 14 * 86400);
		r.pcap->reason = xstrdup("breach");
		r.pcap->keylog = 0;
	}
	struct errbuf err;
	ret = store_run_save(st, &r, &err);
	if (ret < 0)
		fprintf(stderr, "pbseed: %s\n", err.msg);
out:
	if (ret == PE_NOMEM)
		fprintf(stderr, "pbseed: out of memory\n");
	run_rec_release(&r);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: pbseed DB [NOW]\n");
		return 2;
	}
	char nowbuf[TIMEUTIL_UTC_LEN];
	const char *now = argc > 2 ? argv[2] : NULL;
	if (!now) {
		if (timeutil_utc_now(nowbuf, sizeof(nowbuf)) < 0)
			return 3;
		now = nowbuf;
	}
	int64_t t_now;
	if (timeutil_utc_parse(now, &t_now) < 0) {
		fprintf(stderr, "pbseed: bad time '%s'\n", now);
		return 2;
	}
	struct store *st;
	struct errbuf err;
	if (store_open(argv[1], &st, &err) < 0) {
		fprintf(stderr, "pbseed: %s\n", err.msg);
		return 3;
	}
	int ret = 0;
	for (size_t k = 0; ret == 0 && k < 3; k++) {
		const struct region *rg = &regions[k];
		int64_t base0 = t_now - 2 * 3600 - 3 * 86400;
		for (int i = 0; ret == 0 && i < 18; i++)
			ret = seed_run(st, rg, base0 + i * 4 * 3600,
				       rg->rtt + wob((unsigned)i, 1), false);
		for (int i = 0; ret == 0 && i < 5; i++) {
			double rtt = rg->rtt + wob((unsigned)i, 1) +
				     (k == 1 ? 60 : 0);
			ret = seed_run(st, rg, t_now - 3000 + i * 600, rtt,
				       k == 2 && i == 4);
		}
	}
	store_close(st);
	if (ret < 0)
		return 3;
	printf("%u\n", n_runs);
	return 0;
}
