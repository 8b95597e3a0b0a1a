/*
 * an_run.c: one live run's packets into its run record (an_run.h).
 */
#include "analyze/an_run.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* Is (src:sp -> dst:dp, proto) one of the run's sockets, either way? */
static bool is_ours(const struct an_run_in *in, uint8_t proto,
		    const struct dec_addr *src, uint16_t sp,
		    const struct dec_addr *dst, uint16_t dp)
{
	for (size_t i = 0; i < in->n_flows; i++) {
		const struct an_flow *f = &in->flows[i];
		if (f->proto != proto)
			continue;
		if (f->lport == sp && f->rport == dp &&
		    dec_addr_eq(&f->remote, dst) &&
		    (f->any_local || dec_addr_eq(&f->local, src)))
			return true;
		if (f->lport == dp && f->rport == sp &&
		    dec_addr_eq(&f->remote, src) &&
		    (f->any_local || dec_addr_eq(&f->local, dst)))
			return true;
	}
	return false;
}

static bool frame_ours(const struct an_run_in *in, const struct dec_pkt *p)
{
	if (p->l4 == DEC_L_TCP || p->l4 == DEC_L_UDP)
		return is_ours(in, p->l4 == DEC_L_TCP ? 6 : 17, &p->ip.src,
			       p->sport, &p->ip.dst, p->dport);
	if (p->l4 == DEC_L_ICMP && p->icmp.has_quote &&
	    p->icmp.quote.has_ports)
		return is_ours(in, p->icmp.quote.ip.proto,
			       &p->icmp.quote.ip.src, p->icmp.quote.sport,
			       &p->icmp.quote.ip.dst, p->icmp.quote.dport);
	return false;
}

int an_run_finding(struct run_rec *run, struct step_rec *step,
		   uint32_t conn_key, const char *code, const uint64_t *frames,
		   size_t n, const char *detail)
{
	struct finding_rec *f;
	int ret = step ? step_rec_add_finding(step, &f)
		       : run_rec_add_finding(run, &f);
	if (ret < 0)
		return ret;
	f->conn_key = conn_key;
	f->code = xstrdup(code);
	f->detail = detail && detail[0] ? xstrdup(detail) : NULL;
	if (!f->code)
		return PE_NOMEM;
	return finding_rec_set_packets(f, frames, n);
}

/* ---- merging ------------------------------------------------------------- */

struct merge {
	struct run_rec *run;
	const struct clock_map *clock;
	int err;
};

static bool conn_is(const struct conn_rec *c, const struct conn_rec *w)
{
	return c->src_port == w->src_port && c->dst_port == w->dst_port &&
	       c->src_addr && c->dst_addr && w->src_addr && w->dst_addr &&
	       strcmp(c->dst_addr, w->dst_addr) == 0 &&
	       (strcmp(c->src_addr, w->src_addr) == 0 ||
		strcmp(c->src_addr, "0.0.0.0") == 0 ||
		strcmp(c->src_addr, "::") == 0);
}

/* The run's record of a connection, and the step holding it. */
static struct conn_rec *find_conn(struct run_rec *run,
				  const struct conn_rec *w,
				  struct step_rec **step)
{
	for (size_t i = 0; i < run->n_steps; i++)
		for (size_t k = 0; k < run->steps[i].n_conns; k++)
			if (conn_is(&run->steps[i].conns[k], w)) {
				*step = &run->steps[i];
				return &run->steps[i].conns[k];
			}
	*step = NULL;
	for (size_t k = 0; k < run->n_conns; k++)
		if (conn_is(&run->conns[k], w))
			return &run->conns[k];
	return NULL;
}

static int wire_into(struct conn_rec *c, const struct conn_rec *w)
{
	c->source = RUN_SOURCE_PCAP;
	c->rtt_ms = w->rtt_ms;
	c->rtt_quality = w->rtt_quality;
	c->syn_retrans = w->syn_retrans;
	c->tls_server_ms = w->tls_server_ms;
	c->tls_server_quality = w->tls_server_quality;
	if (w->hrr != RUN_NULL_INT)
		c->hrr = w->hrr;
	c->bytes_in = w->bytes_in;
	c->bytes_out = w->bytes_out;
	c->retrans = w->retrans;
	c->dup_acks = w->dup_acks;
	c->zero_window = w->zero_window;
	c->out_of_order = w->out_of_order;
	c->lost_in = w->lost_in;
	c->rst = w->rst;
	c->rst_at_ms = w->rst_at_ms;
	free(c->icmp);
	c->icmp = w->icmp ? xstrdup(w->icmp) : NULL;
	c->mss = w->mss;
	c->wscale = w->wscale;
	c->sack = w->sack;
	return w->icmp && !c->icmp ? PE_NOMEM : 0;
}

static void exchange_into(struct exchange_rec *x, const struct exchange_rec *w)
{
	x->source = RUN_SOURCE_PCAP;
	x->request_ack_ms = w->request_ack_ms;
	x->ack_pattern = w->ack_pattern;
	x->ttfb_wire_ms = w->ttfb_wire_ms;
	x->ttfb_wire_quality = w->ttfb_wire_quality;
	x->rtt_ms = w->rtt_ms;
	x->think_ms = w->think_ms;
	x->think_quality = w->think_quality;
	x->transfer_ms = w->transfer_ms;
	x->goodput_kbps = w->goodput_kbps;
	x->server_delayed_ack = w->server_delayed_ack;
}

/* The i-th exchange the steps recorded on connection key, and its step. */
static struct exchange_rec *nth_exchange(struct run_rec *run, uint32_t key,
					 size_t i, struct step_rec **step)
{
	for (size_t s = 0; key && s < run->n_steps; s++)
		for (size_t k = 0; k < run->steps[s].n_exchanges; k++) {
			struct exchange_rec *x = &run->steps[s].exchanges[k];
			if (x->conn_key != key)
				continue;
			if (i-- == 0) {
				*step = &run->steps[s];
				return x;
			}
		}
	return NULL;
}

/* The library's ready time -> the wire's sent time, on one clock. */
static void request_sent(const struct merge *m, struct exchange_rec *x,
			 const struct an_exchange *e)
{
	uint64_t sent = m->clock && e->sent_ts_ns
				? clock_map_to_mono(m->clock, e->sent_ts_ns)
				: 0;
	if (!sent || !x->ready_mono_ns)
		return;
	double ms = ((double)sent - (double)x->ready_mono_ns) / 1e6;
	if (ms >= AN_SENT_MIN_MS)
		x->request_sent_ms = round(ms * 1000.0) / 1000.0;
}

static void timer_skew(struct merge *m, struct step_rec *st,
		       const struct exchange_rec *x, uint32_t key,
		       const struct an_exchange *e)
{
	if (isnan(x->ttfb_ms) || isnan(x->ttfb_wire_ms))
		return;
	double d = fabs(x->ttfb_ms - x->ttfb_wire_ms);
	double lim = fmax(AN_SKEW_MIN_MS, AN_SKEW_FRAC * x->ttfb_wire_ms);
	if (d <= lim)
		return;
	char detail[160];
	snprintf(detail, sizeof(detail),
		 "curl's TTFB %.3f ms, the wire's %.3f ms (margin %.1f ms): "
		 "the wire figure is kept",
		 x->ttfb_ms, x->ttfb_wire_ms, lim);
	uint64_t fr[2] = { e->req_frame, e->resp_frame };
	int r = an_run_finding(m->run, st, key, "TIMER_SKEW", fr,
			       fr[1] ? 2 : 1, detail);
	if (r < 0 && !m->err)
		m->err = r;
}

static void on_conn(const struct an_conn *c, void *ctx)
{
	struct merge *m = ctx;
	struct run_rec *run = m->run;
	struct step_rec *owner = NULL;
	struct conn_rec *rec = find_conn(run, &c->rec, &owner);
	int r = 0;
	if (!rec) {
		/* a connection no step recorded (e.g. refused before curl
		 * said anything): the run's own */
		r = run_rec_add_conn(run, &rec);
		if (r < 0) {
			m->err = m->err ? m->err : r;
			return;
		}
		rec->family = c->rec.family;
		rec->src_addr = xstrdup(c->rec.src_addr);
		rec->dst_addr = xstrdup(c->rec.dst_addr);
		rec->src_port = c->rec.src_port;
		rec->dst_port = c->rec.dst_port;
	} else if (strcmp(rec->src_addr, c->rec.src_addr) != 0) {
		free(rec->src_addr); /* bound to any: now we know */
		rec->src_addr = xstrdup(c->rec.src_addr);
	}
	if (!rec->src_addr || !rec->dst_addr || wire_into(rec, &c->rec) < 0) {
		m->err = m->err ? m->err : PE_NOMEM;
		return;
	}
	struct step_rec *xstep[AN_MAX_EXCHANGES];
	size_t n_x = c->n_ex < AN_MAX_EXCHANGES ? c->n_ex : AN_MAX_EXCHANGES;
	for (size_t i = 0; i < n_x; i++) {
		struct step_rec *st = NULL;
		struct exchange_rec *x = nth_exchange(run, rec->key, i, &st);
		xstep[i] = st;
		if (!x)
			continue;
		exchange_into(x, &c->ex[i].rec);
		request_sent(m, x, &c->ex[i]);
		timer_skew(m, st, x, rec->key, &c->ex[i]);
	}
	for (size_t i = 0; i < c->n_fi; i++) {
		const struct an_finding *f = &c->fi[i];
		struct step_rec *st = owner;
		if (f->exchange >= 0 && (size_t)f->exchange < n_x &&
		    xstep[f->exchange])
			st = xstep[f->exchange];
		/* a status or body the scenario expected is no finding */
		if (st && st->ok && strncmp(f->code, "HTTP_", 5) == 0)
			continue;
		r = an_run_finding(run, st, rec->key, f->code, f->frames,
				   f->n_frames, f->detail);
		if (r < 0 && !m->err)
			m->err = r;
	}
}

/* The step a DNS finding is about: the dns step of that name, else any
 * step aimed at it. */
static struct step_rec *dns_step(struct run_rec *run, const char *detail)
{
	char name[256];
	const char *colon = strchr(detail, ':');
	size_t n = colon ? (size_t)(colon - detail) : 0;
	if (n == 0 || n >= sizeof(name))
		return NULL;
	memcpy(name, detail, n);
	name[n] = '\0';
	for (size_t i = 0; i < run->n_steps; i++)
		if (run->steps[i].kind == RUN_KIND_DNS && run->steps[i].target &&
		    strcmp(run->steps[i].target, name) == 0)
			return &run->steps[i];
	for (size_t i = 0; i < run->n_steps; i++)
		if (run->steps[i].target && strstr(run->steps[i].target, name))
			return &run->steps[i];
	return NULL;
}

/*
 * HTTP_STATUS and HTTP_BODY_MISMATCH where the steps saw them and the
 * packets could not (an encrypted response): from the step's error class,
 * without frame numbers.
 */
static bool has_finding(const struct step_rec *st, const char *code)
{
	for (size_t i = 0; i < st->n_findings; i++)
		if (st->findings[i].code &&
		    strcmp(st->findings[i].code, code) == 0)
			return true;
	return false;
}

static int step_error_findings(struct run_rec *run, struct errbuf *err)
{
	static const struct { const char *cls, *code; } map[] = {
		{ "http.status", "HTTP_STATUS" },
		{ "http.body", "HTTP_BODY_MISMATCH" },
	};
	for (size_t i = 0; i < run->n_steps; i++) {
		struct step_rec *st = &run->steps[i];
		for (size_t k = 0; st->error && k < 2; k++) {
			if (strcmp(st->error, map[k].cls) != 0 ||
			    has_finding(st, map[k].code))
				continue;
			int r = an_run_finding(run, st, 0, map[k].code, NULL, 0,
					       st->error_detail);
			if (r < 0)
				return errbuf_set(err, r, "out of memory");
		}
	}
	return 0;
}

int an_run_analyze(struct an_run_in *in, struct errbuf *err)
{
	in->picked = NULL;
	in->n_picked = 0;
	size_t cap = 0;
	struct merge m = { .run = in->run, .clock = in->clock };
	struct an_opts o = {
		.on_conn = on_conn, .ctx = &m, .hints = in->hints,
		.n_hints = in->n_hints, .dns_ports = in->dns_ports,
		.n_dns_ports = in->n_dns_ports,
	};
	struct analyzer *a = analyzer_new(&o);
	if (!a)
		return errbuf_set(err, PE_NOMEM, "out of memory");
	int ret = 0;
	struct an_frame fr;
	for (size_t i = 0; i < in->n_frames && in->get(in->ctx, i, &fr); i++) {
		struct dec_pkt p;
		dec_packet(fr.linktype, fr.data, fr.caplen, fr.len, &p);
		if (!frame_ours(in, &p))
			continue;
		if (xgrow(&in->picked, &cap, in->n_picked + 1,
			  sizeof(*in->picked)) < 0 ||
		    analyzer_decoded(a, &p, fr.caplen, fr.len, fr.ts_ns) < 0) {
			ret = errbuf_set(err, PE_NOMEM, "out of memory");
			break;
		}
		in->picked[in->n_picked++] = i;
	}
	if (analyzer_finish(a) < 0 && ret == 0)
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
	enum { MAXF = 64 };
	struct an_finding *df = calloc(MAXF, sizeof(*df));
	size_t nd = df ? analyzer_findings(a, df, MAXF) : 0;
	for (size_t i = 0; i < nd && ret == 0; i++) {
		if (strncmp(df[i].code, "DNS_", 4) != 0)
			continue; /* the capture's own state: the caller's */
		int r = an_run_finding(in->run, dns_step(in->run, df[i].detail),
				       0, df[i].code, df[i].frames,
				       df[i].n_frames, df[i].detail);
		if (r < 0)
			ret = errbuf_set(err, r, "out of memory");
	}
	free(df);
	analyzer_free(a);
	if (ret == 0)
		ret = step_error_findings(in->run, err);
	if (ret == 0 && m.err)
		ret = errbuf_set(err, m.err, "storing the analysis: %s",
				 pe_name(m.err));
	return ret;
}
