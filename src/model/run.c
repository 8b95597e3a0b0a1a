/* run.c: initialisers, release and append helpers for run.h's records. */
#include "model/run.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* The stored values of the enumerated columns (schema/001_initial.sql). */
const char *const run_step_kind_names[RUN_KIND_COUNT] = {
	[RUN_KIND_DNS] = "dns", [RUN_KIND_TCP] = "tcp",
	[RUN_KIND_TLS] = "tls", [RUN_KIND_HTTP] = "http",
};
const char *const run_conn_state_names[RUN_CONN_COUNT] = {
	[RUN_CONN_NEW] = "new", [RUN_CONN_REUSED] = "reused",
	[RUN_CONN_RESUMED] = "resumed",
};
const char *const run_family_names[RUN_FAMILY_COUNT] = {
	[RUN_FAMILY_IPV4] = "ipv4", [RUN_FAMILY_IPV6] = "ipv6",
};
const char *const run_source_names[RUN_SOURCE_COUNT] = {
	[RUN_SOURCE_PCAP] = "pcap", [RUN_SOURCE_TCP_INFO] = "tcp_info",
	[RUN_SOURCE_LIBRARY] = "library",
};
const char *const run_quality_names[RUN_QUALITY_COUNT] = {
	[RUN_QUALITY_MEASURED] = "measured",
	[RUN_QUALITY_INFERRED] = "inferred",
	[RUN_QUALITY_AMBIGUOUS] = "ambiguous",
	[RUN_QUALITY_INCONSISTENT] = "inconsistent",
};
const char *const run_ack_pattern_names[RUN_ACK_COUNT] = {
	[RUN_ACK_PIGGYBACKED] = "piggybacked", [RUN_ACK_SEPARATE] = "separate",
	[RUN_ACK_CONTROL] = "control", [RUN_ACK_UNKNOWN] = "unknown",
};
const char *const run_rst_names[RUN_RST_COUNT] = {
	[RUN_RST_CLIENT] = "client", [RUN_RST_SERVER] = "server",
};
const char *const run_clock_sync_names[RUN_CLOCK_COUNT] = {
	[RUN_CLOCK_SYNCED] = "synced", [RUN_CLOCK_UNSYNCED] = "unsynced",
	[RUN_CLOCK_UNKNOWN] = "unknown",
};
const char *const run_capture_names[RUN_CAPTURE_COUNT] = {
	[RUN_CAPTURE_ON] = "on", [RUN_CAPTURE_OFF] = "off",
	[RUN_CAPTURE_UNAVAILABLE] = "unavailable",
};

/* ---- init --------------------------------------------------------------- */

void cert_rec_init(struct cert_rec *c)
{
	memset(c, 0, sizeof(*c));
	c->depth = c->days_left = c->verified = RUN_NULL_INT;
}

void conn_rec_init(struct conn_rec *c)
{
	memset(c, 0, sizeof(*c));
	c->src_port = c->dst_port = RUN_NULL_INT;
	c->rtt_ms = c->tls_server_ms = c->rst_at_ms = NAN;
	c->connect_ms = c->tls_ms = NAN;
	c->syn_retrans = c->hrr = c->resumed = RUN_NULL_INT;
	c->bytes_in = c->bytes_out = c->retrans = c->dup_acks = RUN_NULL_INT;
	c->zero_window = c->out_of_order = c->lost_in = RUN_NULL_INT;
	c->mss = c->wscale = c->sack = RUN_NULL_INT;
}

void exchange_rec_init(struct exchange_rec *e)
{
	memset(e, 0, sizeof(*e));
	e->idx = e->status = e->server_delayed_ack = RUN_NULL_INT;
	e->dns_ms = e->connect_ms = e->tls_ms = e->ttfb_ms = NAN;
	e->total_ms = e->request_ack_ms = e->ttfb_wire_ms = NAN;
	e->think_ms = e->transfer_ms = e->goodput_kbps = NAN;
	e->rtt_ms = e->request_sent_ms = NAN;
}

void finding_rec_init(struct finding_rec *f)
{
	memset(f, 0, sizeof(*f));
}

void step_rec_init(struct step_rec *s)
{
	memset(s, 0, sizeof(*s));
	s->idx = s->status = s->bytes = RUN_NULL_INT;
	s->tls_resumed = s->rcode = RUN_NULL_INT;
	s->dns_ms = s->connect_ms = s->tls_ms = s->ttfb_ms = NAN;
	s->total_ms = NAN;
}

void pcap_rec_init(struct pcap_rec *p)
{
	memset(p, 0, sizeof(*p));
	p->bytes = RUN_NULL_INT;
}

void thresh_rec_init(struct thresh_rec *t)
{
	memset(t, 0, sizeof(*t));
	t->value = t->limit_value = NAN;
	t->baseline_n = RUN_NULL_INT;
}

void run_rec_init(struct run_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->capture_drops = r->capture_truncated = RUN_NULL_INT;
}

/* ---- release ------------------------------------------------------------ */

void cert_rec_release(struct cert_rec *c)
{
	free(c->subject);
	free(c->issuer);
	free(c->not_after);
	cert_rec_init(c);
}

void conn_rec_release(struct conn_rec *c)
{
	free(c->src_addr);
	free(c->dst_addr);
	free(c->icmp);
	conn_rec_init(c);
}

void exchange_rec_release(struct exchange_rec *e)
{
	free(e->method);
	free(e->url);
	exchange_rec_init(e);
}

void finding_rec_release(struct finding_rec *f)
{
	free(f->code);
	free(f->packets);
	free(f->detail);
	finding_rec_init(f);
}

void step_rec_release(struct step_rec *s)
{
	for (size_t i = 0; i < s->n_certs; i++)
		cert_rec_release(&s->certs[i]);
	for (size_t i = 0; i < s->n_conns; i++)
		conn_rec_release(&s->conns[i]);
	for (size_t i = 0; i < s->n_exchanges; i++)
		exchange_rec_release(&s->exchanges[i]);
	for (size_t i = 0; i < s->n_findings; i++)
		finding_rec_release(&s->findings[i]);
	free(s->certs);
	free(s->conns);
	free(s->exchanges);
	free(s->findings);
	free(s->name);
	free(s->target);
	free(s->error);
	free(s->error_detail);
	free(s->started_at);
	free(s->tls_version);
	free(s->tls_cipher);
	free(s->alpn);
	free(s->http_version);
	free(s->answers);
	step_rec_init(s);
}

void pcap_rec_release(struct pcap_rec *p)
{
	free(p->path);
	free(p->sha256);
	free(p->created_at);
	free(p->expires_at);
	free(p->pruned_at);
	free(p->reason);
	pcap_rec_init(p);
}

void thresh_rec_release(struct thresh_rec *t)
{
	free(t->threshold);
	free(t->metric);
	free(t->step);
	free(t->note);
	thresh_rec_init(t);
}

void run_rec_release(struct run_rec *r)
{
	for (size_t i = 0; i < r->n_steps; i++)
		step_rec_release(&r->steps[i]);
	for (size_t i = 0; i < r->n_conns; i++)
		conn_rec_release(&r->conns[i]);
	for (size_t i = 0; i < r->n_findings; i++)
		finding_rec_release(&r->findings[i]);
	if (r->pcap) {
		pcap_rec_release(r->pcap);
		free(r->pcap);
	}
	for (size_t i = 0; i < r->n_thresholds; i++)
		thresh_rec_release(&r->thresholds[i]);
	free(r->thresholds);
	free(r->steps);
	free(r->conns);
	free(r->findings);
	free(r->run_id);
	free(r->scenario);
	free(r->scenario_file);
	free(r->region);
	free(r->probe_id);
	free(r->started_at);
	free(r->finished_at);
	free(r->probe_version);
	free(r->error);
	run_rec_init(r);
}

/* ---- append ------------------------------------------------------------- */

/*
 * Make room for one more element of size sz in *arr (*n used, *cap
 * allocated), at most max.  Returns a pointer to the new slot (not yet
 * counted in *n) or NULL with *ret set.
 */
static void *slot(void *arr, size_t *n, size_t *cap, size_t sz, size_t max,
		  int *ret)
{
	void **p = arr;
	if (*n >= max) {
		*ret = PE_LIMIT;
		return NULL;
	}
	if (xgrow(arr, cap, *n + 1, sz) < 0) {
		*ret = PE_NOMEM;
		return NULL;
	}
	return (char *)*p + *n * sz;
}

/* One adder per array: the same four lines with different types. */
#define DEFINE_ADD(fn, otype, obj, etype, arr, count, cap, max, init, fix) \
	int fn(otype *obj, etype **out)                                     \
	{                                                                   \
		int ret = 0;                                                \
		etype *e = slot(&obj->arr, &obj->count, &obj->cap,          \
				sizeof(etype), max, &ret);                  \
		if (!e)                                                     \
			return ret;                                         \
		init(e);                                                    \
		obj->count++;                                               \
		fix;                                                        \
		*out = e;                                                   \
		return 0;                                                   \
	}

DEFINE_ADD(run_rec_add_step, struct run_rec, run, struct step_rec, steps,
	   n_steps, cap_steps, RUN_MAX_STEPS, step_rec_init,
	   e->idx = (int64_t)run->n_steps)
DEFINE_ADD(run_rec_add_conn, struct run_rec, run, struct conn_rec, conns,
	   n_conns, cap_conns, RUN_MAX_CONNS, conn_rec_init, (void)0)
DEFINE_ADD(run_rec_add_finding, struct run_rec, run, struct finding_rec,
	   findings, n_findings, cap_findings, RUN_MAX_FINDINGS,
	   finding_rec_init, (void)0)
DEFINE_ADD(run_rec_add_thresh, struct run_rec, run, struct thresh_rec,
	   thresholds, n_thresholds, cap_thresholds, RUN_MAX_THRESHOLDS,
	   thresh_rec_init, (void)0)
DEFINE_ADD(step_rec_add_cert, struct step_rec, step, struct cert_rec, certs,
	   n_certs, cap_certs, RUN_MAX_CERTS, cert_rec_init,
	   e->depth = (int64_t)step->n_certs - 1)
DEFINE_ADD(step_rec_add_conn, struct step_rec, step, struct conn_rec, conns,
	   n_conns, cap_conns, RUN_MAX_CONNS, conn_rec_init, (void)0)
DEFINE_ADD(step_rec_add_exchange, struct step_rec, step, struct exchange_rec,
	   exchanges, n_exchanges, cap_exchanges, RUN_MAX_EXCHANGES,
	   exchange_rec_init, e->idx = (int64_t)step->n_exchanges)
DEFINE_ADD(step_rec_add_finding, struct step_rec, step, struct finding_rec,
	   findings, n_findings, cap_findings, RUN_MAX_FINDINGS,
	   finding_rec_init, (void)0)

int finding_rec_set_packets(struct finding_rec *f, const uint64_t *frames,
			    size_t n)
{
	/* "[" + n * (20 digits + ",") + "]" + NUL */
	char *buf, *p;
	size_t len;

	if (n > RUN_MAX_PACKETS)
		return PE_LIMIT;
	for (size_t i = 0; i < n; i++)
		if (frames[i] == 0)
			return PE_INVAL;
	len = 3 + n * 21;
	buf = malloc(len);
	if (!buf)
		return PE_NOMEM;
	p = buf;
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(p, len - (size_t)(p - buf), "%s%" PRIu64,
				 i ? "," : "", frames[i]);
		p += w; /* cannot truncate: 21 bytes per number budgeted */
	}
	*p++ = ']';
	*p = '\0';
	free(f->packets);
	f->packets = buf;
	return 0;
}

const struct conn_rec *run_rec_conn_by_key(const struct run_rec *run,
					   uint32_t key)
{
	for (size_t i = 0; key && i < run->n_steps; i++)
		for (size_t k = 0; k < run->steps[i].n_conns; k++)
			if (run->steps[i].conns[k].key == key)
				return &run->steps[i].conns[k];
	return NULL;
}
