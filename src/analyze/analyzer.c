/*
 * analyzer.c: frames in, connections and DNS queries out (analyzer.h).
 *
 * Each frame is decoded once (packet/dec.c); TCP frames go to the flow
 * table (handshake, sequence analysis) and then to their connection's
 * state (an_conn.c); UDP and TCP frames to or from a DNS port to an_dns.c;
 * ICMP errors to the connection whose header they quote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/an_internal.h"

struct analyzer {
	struct an_opts o;
	struct flow_table ft;
	struct an_cstate *live;   /* connections not yet handed over */
	struct an_cstate *closed_head, *closed_tail; /* streaming: to emit */
	struct an_dns_table dns;
	struct an_counts counts;
	uint16_t dns_port_default;
	bool finished;
	uint64_t last_sweep_ns;   /* streaming: idle connections looked for */
	uint64_t cut_frame[AN_MAX_FRAMES]; /* the first frames cut short */
};

struct analyzer *analyzer_new(const struct an_opts *o)
{
	struct analyzer *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->o = *o;
	if (!a->o.max_flows)
		a->o.max_flows = AN_MAX_FLOWS_DEFAULT;
	if (!a->o.n_dns_ports) {
		a->dns_port_default = 53;
		a->o.dns_ports = &a->dns_port_default;
		a->o.n_dns_ports = 1;
	}
	flow_table_init(&a->ft, a->o.max_flows);
	return a;
}

static void unlink_conn(struct analyzer *a, struct an_cstate *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		a->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

void analyzer_free(struct analyzer *a)
{
	if (!a)
		return;
	while (a->live) {
		struct an_cstate *c = a->live;
		unlink_conn(a, c);
		c->f->user = NULL;
		an__conn_free(c);
	}
	flow_table_release(&a->ft);
	an__dns_release(&a->dns);
	free(a);
}

static const struct an_tls_hint *hint_for(const struct analyzer *a,
					  const struct flow *f)
{
	for (size_t i = 0; i < a->o.n_hints; i++) {
		const struct an_tls_hint *h = &a->o.hints[i];
		if (h->cport == f->cport && h->sport == f->sport &&
		    dec_addr_eq(&h->cli, &f->cli) && dec_addr_eq(&h->srv, &f->srv))
			return h;
	}
	return NULL;
}

/* Hand a connection's results over and forget it. */
static int emit(struct analyzer *a, struct an_cstate *c)
{
	struct an_conn out;
	int ret = an__conn_result(c, &out); /* closes the last exchange */
	a->counts.exchanges_dropped += c->ex_overflow;
	if (ret == 0) {
		a->o.on_conn(&out, a->o.ctx);
		an__result_release(&out);
	}
	unlink_conn(a, c);
	c->f->user = NULL;
	an__conn_free(c);
	return ret;
}

static bool dns_port(const struct analyzer *a, uint16_t port)
{
	for (size_t i = 0; i < a->o.n_dns_ports; i++)
		if (a->o.dns_ports[i] == port)
			return true;
	return false;
}

static int tcp_frame(struct analyzer *a, const struct dec_pkt *p,
		     uint64_t frame, uint64_t ts_ns)
{
	int err = 0;
	struct flow_pkt info;
	struct flow *f = flow_table_packet(&a->ft, p, frame, ts_ns, &info,
					   &err);
	if (err)
		return err;
	if (!f) {
		a->counts.flows_overflow++;
		return 0;
	}
	struct an_cstate *c = f->user;
	if (!c) {
		c = an__conn_new(f, hint_for(a, f), a->o.keylog);
		if (!c)
			return PE_NOMEM;
		f->user = c;
		c->next = a->live;
		if (a->live)
			a->live->prev = c;
		a->live = c;
	}
	int ret = an__conn_segment(c, p, &info, frame, ts_ns);
	if (ret == 0 && a->o.streaming && !c->closed && flow_closed(f)) {
		/* kept a while for the last ACKs, then handed over */
		c->closed = true;
		c->closed_ts = ts_ns;
		if (a->closed_tail)
			a->closed_tail->cnext = c;
		else
			a->closed_head = c;
		a->closed_tail = c;
	}
	return ret;
}

/* Streaming: hand over connections closed long enough ago. */
static int emit_closed(struct analyzer *a, uint64_t now_ns, bool all)
{
	int ret = 0;
	while (a->closed_head &&
	       (all || now_ns - a->closed_head->closed_ts >=
			       AN_CLOSED_KEEP_NS)) {
		struct an_cstate *c = a->closed_head;
		a->closed_head = c->cnext;
		if (!a->closed_head)
			a->closed_tail = NULL;
		struct flow *f = c->f;
		int r = emit(a, c);
		flow_table_remove(&a->ft, f);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

static void icmp_frame(struct analyzer *a, const struct dec_pkt *p,
		       uint64_t frame)
{
	const struct dec_quote *q = &p->icmp.quote;
	if (!p->icmp.has_quote || !q->has_ports || q->ip.proto != 6)
		return;
	for (struct an_cstate *c = a->live; c; c = c->next) {
		const struct flow *f = c->f;
		bool out = q->sport == f->cport && q->dport == f->sport &&
			   dec_addr_eq(&q->ip.src, &f->cli) &&
			   dec_addr_eq(&q->ip.dst, &f->srv);
		if (!out)
			continue;
		if (c->n_icmp < AN_MAX_ICMP) {
			c->icmp_frame[c->n_icmp] = frame;
			c->icmp_type[c->n_icmp] = p->icmp.type;
			c->icmp_code[c->n_icmp] = p->icmp.code;
			c->icmp_ver = p->ip.ver;
			if (p->icmp.mtu)
				c->icmp_mtu = p->icmp.mtu;
			c->n_icmp++;
		}
		return;
	}
}

/*
 * Streaming: connections silent for AN_IDLE_NS of capture time are handed
 * over too (a capture cut mid-connection, a peer that vanished), so a
 * long capture holds only the connections still talking.  Looked for once
 * per AN_SWEEP_NS, O(live connections).
 */
static int emit_idle(struct analyzer *a, uint64_t now_ns)
{
	int ret = 0;
	struct an_cstate *c = a->live;
	while (c) {
		struct an_cstate *next = c->next;
		if (!c->closed && c->f->last_ts_ns + AN_IDLE_NS < now_ns) {
			struct flow *f = c->f;
			int r = emit(a, c);
			flow_table_remove(&a->ft, f);
			if (r < 0 && ret == 0)
				ret = r;
		}
		c = next;
	}
	return ret;
}

int analyzer_decoded(struct analyzer *a, const struct dec_pkt *p,
		     uint32_t caplen, uint32_t len, uint64_t ts_ns)
{
	uint64_t frame = ++a->counts.frames;
	if (caplen < len && a->counts.cut++ < AN_MAX_FRAMES)
		a->cut_frame[a->counts.cut - 1] = frame;
	if (p->st == DEC_TRUNC)
		a->counts.truncated++;
	else if (p->st == DEC_INVALID)
		a->counts.invalid++;
	if (a->closed_head && ts_ns > a->closed_head->closed_ts) {
		int r = emit_closed(a, ts_ns, false);
		if (r < 0)
			return r;
	}
	if (a->o.streaming && ts_ns > a->last_sweep_ns + AN_SWEEP_NS) {
		int r = emit_idle(a, ts_ns);
		a->last_sweep_ns = ts_ns;
		if (r < 0)
			return r;
	}
	switch (p->l4) {
	case DEC_L_TCP:
		a->counts.tcp++;
		if (p->ip.frag && p->ip.frag_off)
			return 0;
		if (dns_port(a, p->sport) || dns_port(a, p->dport))
			an__dns_packet(&a->dns, p, frame, ts_ns);
		return tcp_frame(a, p, frame, ts_ns);
	case DEC_L_UDP:
		a->counts.udp++;
		if (dns_port(a, p->sport) || dns_port(a, p->dport))
			an__dns_packet(&a->dns, p, frame, ts_ns);
		return 0;
	case DEC_L_ICMP:
		a->counts.icmp++;
		icmp_frame(a, p, frame);
		return 0;
	default:
		a->counts.other++;
		return 0;
	}
}

int analyzer_packet(struct analyzer *a, int linktype, const uint8_t *data,
		    uint32_t caplen, uint32_t len, uint64_t ts_ns)
{
	struct dec_pkt p;
	dec_packet(linktype, data, caplen, len, &p);
	return analyzer_decoded(a, &p, caplen, len, ts_ns);
}

int analyzer_finish(struct analyzer *a)
{
	int ret = emit_closed(a, 0, true);
	/* in the order connections began: the live list is newest first */
	struct an_cstate *last = a->live;
	while (last && last->next)
		last = last->next;
	while (last) {
		struct an_cstate *prev = last->prev;
		int r = emit(a, last);
		if (r < 0 && ret == 0)
			ret = r;
		last = prev;
	}
	a->finished = true;
	return ret;
}

const struct an_dns *analyzer_dns(const struct analyzer *a, size_t *n)
{
	*n = a->dns.n;
	return a->dns.v;
}

void analyzer_counts(const struct analyzer *a, struct an_counts *out)
{
	*out = a->counts;
}

size_t analyzer_findings(const struct analyzer *a, struct an_finding *out,
			 size_t max)
{
	size_t n = 0;
	if (a->counts.cut && n < max) {
		struct an_finding *f = &out[n++];
		memset(f, 0, sizeof(*f));
		f->exchange = -1;
		f->code = "CAPTURE_TRUNCATED";
		f->n_frames = a->counts.cut < AN_MAX_FRAMES ? a->counts.cut
							    : AN_MAX_FRAMES;
		memcpy(f->frames, a->cut_frame,
		       f->n_frames * sizeof(f->frames[0]));
		snprintf(f->detail, sizeof(f->detail),
			 "%llu frames captured short of their length (a snap "
			 "length): payload-based figures may be missing",
			 (unsigned long long)a->counts.cut);
	}
	for (size_t i = 0; i < a->dns.n && n < max; i++) {
		const struct an_dns *q = &a->dns.v[i];
		struct an_finding *f = &out[n];
		memset(f, 0, sizeof(*f));
		f->exchange = -1;
		if (q->rcode < 0) {
			f->code = "DNS_NO_RESPONSE";
			snprintf(f->detail, sizeof(f->detail),
				 "%.200s: %u queries, no answer", q->qname,
				 q->tries);
			for (unsigned k = 0; k < q->tries && k < 8; k++)
				f->frames[f->n_frames++] = q->try_frame[k];
		} else if (q->tc) {
			f->code = "DNS_TRUNCATED";
			snprintf(f->detail, sizeof(f->detail),
				 "%.200s: answer truncated (TC)", q->qname);
			f->frames[f->n_frames++] = q->answer_frame;
		} else if (q->rcode == 2 || q->rcode == 3) {
			f->code = q->rcode == 2 ? "DNS_SERVFAIL"
						: "DNS_NXDOMAIN";
			snprintf(f->detail, sizeof(f->detail), "%.200s: rcode %d",
				 q->qname, q->rcode);
			f->frames[f->n_frames++] = q->query_frame;
			f->frames[f->n_frames++] = q->answer_frame;
		} else {
			continue;
		}
		n++;
	}
	return n;
}
