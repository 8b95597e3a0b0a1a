/*
 * an_find.c: the findings of DESIGN section 6 that one connection's
 * packets prove, each with the frame numbers that show it.
 *
 * Margins (public: the man page and docs/architecture.md repeat them):
 *   SLOW_SERVER       think_ms >= 50 and think_ms > ttfb_wire_ms - think_ms
 *                     (the server's part exceeds the network's)
 *   SLOW_NETWORK      ttfb_wire_ms >= 100 and the network's part
 *                     (ttfb_wire_ms - think_ms) > think_ms
 *   SERVER_DELAYED_ACK  a bare ACK of the request 30..250 ms after one RTT,
 *                     the request sent once (Linux's delayed ACK is 40 ms)
 *   NAGLE_STALL       a server segment after the request waited >= 20 ms
 *                     for our (delayed) ACK, and the response's first byte
 *                     arrived within RTT + 3 ms of that ACK
 *   RTO_SPIKE         a retransmission that is not a fast one, >= 200 ms
 *                     (Linux's minimum RTO) and >= 3 RTT after the
 *                     original; its frames are those retransmissions
 *   SLOW_SERVER's think_ms excludes a NAGLE_STALL's wait for our ACK
 *   MTU_BLACKHOLE     >= 2 retransmissions of segments over 1000 bytes
 *                     never acknowledged, while smaller ones were
 *   TLS_HANDSHAKE_TIMEOUT  a ClientHello with no ServerHello in 1 s or
 *                     before the connection ended
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/an_internal.h"

int an__finding_add(struct an_conn *out, const char *code, int exchange,
		    const uint64_t *frames, size_t n, const char *fmt, ...)
{
	struct an_finding *nv =
		realloc(out->fi, (out->n_fi + 1) * sizeof(*nv));
	if (!nv)
		return PE_NOMEM;
	out->fi = nv;
	struct an_finding *f = &nv[out->n_fi++];
	memset(f, 0, sizeof(*f));
	f->code = code;
	f->exchange = exchange;
	for (size_t i = 0; i < n && f->n_frames < AN_MAX_FRAMES; i++) {
		if (frames[i] == 0)
			continue;
		bool dup = false;
		for (size_t k = 0; k < f->n_frames; k++)
			dup = dup || f->frames[k] == frames[i];
		if (!dup)
			f->frames[f->n_frames++] = frames[i];
	}
	/* in capture order */
	for (size_t i = 1; i < f->n_frames; i++)
		for (size_t k = i; k > 0 && f->frames[k - 1] > f->frames[k];
		     k--) {
			uint64_t t = f->frames[k];
			f->frames[k] = f->frames[k - 1];
			f->frames[k - 1] = t;
		}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
	return 0;
}

static int find_handshake(const struct an_cstate *c, struct an_conn *out)
{
	const struct flow *f = c->f;
	int ret = 0;
	if (f->n_syn >= 2 && !f->synack_frame && f->rst != FLOW_RST_SERVER) {
		unsigned n = f->n_syn < FLOW_MAX_SYNS ? f->n_syn : FLOW_MAX_SYNS;
		ret = an__finding_add(out, "SYN_NO_SYNACK", -1, f->syn_frame,
				      n, "%u SYNs, no SYN/ACK in %.0f ms",
				      f->n_syn,
				      an__ms(f->syn_ts_ns[0], f->last_ts_ns));
	}
	if (ret == 0 && f->rst == FLOW_RST_SERVER && !f->synack_frame &&
	    f->n_syn) {
		uint64_t fr[2] = { f->syn_frame[0], f->rst_frame };
		ret = an__finding_add(out, "TCP_REFUSED", -1, fr, 2,
				      "RST in answer to the SYN");
	}
	return ret;
}

static int find_reset(const struct an_cstate *c, struct an_conn *out)
{
	const struct flow *f = c->f;
	if (f->rst == FLOW_RST_NONE || !f->synack_frame)
		return 0;
	const char *who = f->rst == FLOW_RST_SERVER ? "server" : "client";
	uint64_t fr[1] = { f->rst_frame };
	if (f->c2s.bytes == 0 && f->s2c.bytes == 0)
		return an__finding_add(out, "RST_AFTER_HANDSHAKE", -1, fr, 1,
				       "%s reset before any data", who);
	/* a client reset after the last response is complete is a close */
	bool open_x = c->xs == AN_X_REQ || c->xs == AN_X_WAIT;
	if (f->rst == FLOW_RST_SERVER || open_x)
		return an__finding_add(out, "RST_MIDSTREAM", -1, fr, 1,
				       "%s reset after %llu bytes in, %llu "
				       "out", who,
				       (unsigned long long)f->s2c.bytes,
				       (unsigned long long)f->c2s.bytes);
	return 0;
}

/* Merge two sides' frame lists (each in capture order). */
static size_t merge_frames(const uint64_t *a, size_t na, const uint64_t *b,
			   size_t nb, uint64_t *out, size_t max)
{
	size_t i = 0, k = 0, n = 0;
	while (n < max && (i < na || k < nb))
		out[n++] = k >= nb || (i < na && a[i] < b[k]) ? a[i++] : b[k++];
	return n;
}

static int find_loss(const struct an_cstate *c, struct an_conn *out)
{
	const struct flow *f = c->f;
	const struct flow_side *o = &f->c2s, *i = &f->s2c;
	uint64_t fr[AN_MAX_FRAMES];
	int ret = 0;
	if (o->retrans + i->retrans > 0) {
		size_t n = merge_frames(o->retrans_frame, o->n_retrans_frame,
					i->retrans_frame, i->n_retrans_frame,
					fr, AN_MAX_FRAMES);
		ret = an__finding_add(out, "RETRANSMISSIONS", -1, fr, n,
				      "%llu retransmitted out (fast %llu, "
				      "spurious %llu), %llu in (fast %llu, "
				      "spurious %llu); %llu lost before the "
				      "capture",
				      (unsigned long long)o->retrans,
				      (unsigned long long)o->fast_retrans,
				      (unsigned long long)o->spurious,
				      (unsigned long long)i->retrans,
				      (unsigned long long)i->fast_retrans,
				      (unsigned long long)i->spurious,
				      (unsigned long long)i->lost_segment);
	}
	double rtt = f->rtt_ms;
	for (int s = 0; ret == 0 && s < 2; s++) {
		double gap = c->rto_gap_ms[s];
		if (!c->rto_n[s] || (!isnan(rtt) && gap < 3 * rtt))
			continue;
		unsigned n = c->rto_n[s] < AN_MAX_TX ? c->rto_n[s] : AN_MAX_TX;
		ret = an__finding_add(out, "RTO_SPIKE", -1, c->rto_frame[s], n,
				      "%u %s segment(s) retransmitted on a "
				      "timeout, up to %.1f ms after the "
				      "original",
				      c->rto_n[s], s ? "server" : "client",
				      gap);
		break;
	}
	if (ret == 0 && o->zero_window + i->zero_window > 0) {
		size_t n = merge_frames(o->zero_window_frame,
					o->n_zero_window_frame,
					i->zero_window_frame,
					i->n_zero_window_frame, fr,
					AN_MAX_FRAMES);
		ret = an__finding_add(out, "ZERO_WINDOW", -1, fr, n,
				      "zero window %llu times from the "
				      "client, %llu from the server",
				      (unsigned long long)o->zero_window,
				      (unsigned long long)i->zero_window);
	}
	/* large segments resent and never acknowledged, while the peer did
	 * acknowledge something: the path drops what is too big */
	for (int s = 0; ret == 0 && s < 2; s++) {
		if (c->big_rtx[s] < 2 || c->max_ack[s] == 0 ||
		    c->max_ack[s] >= c->big_rtx_end[s])
			continue;
		unsigned n = c->big_rtx[s] < AN_MAX_TX ? c->big_rtx[s]
						       : AN_MAX_TX;
		ret = an__finding_add(out, "MTU_BLACKHOLE", -1,
				      c->big_rtx_frame[s], n,
				      "%u retransmissions of %s segments over "
				      "%d bytes never acknowledged, smaller "
				      "ones were",
				      c->big_rtx[s], s ? "server" : "client",
				      AN_BIG_SEG);
	}
	return ret;
}

static int find_icmp(const struct an_cstate *c, struct an_conn *out)
{
	for (unsigned i = 0; i < c->n_icmp; i++) {
		uint8_t t = c->icmp_type[i], k = c->icmp_code[i];
		bool v6 = c->icmp_ver == 6;
		bool frag = v6 ? t == 2 : (t == 3 && k == 4);
		bool unreach = v6 ? t == 1 : t == 3;
		if (!frag && !unreach)
			continue;
		uint64_t fr[1] = { c->icmp_frame[i] };
		int ret = frag
			? an__finding_add(out, "ICMP_FRAG_NEEDED", -1, fr, 1,
					  "ICMP%s %u/%u, next-hop MTU %u",
					  v6 ? "v6" : "", t, k, c->icmp_mtu)
			: an__finding_add(out, "ICMP_UNREACHABLE", -1, fr, 1,
					  "ICMP%s %u/%u", v6 ? "v6" : "", t,
					  k);
		if (ret < 0)
			return ret;
		break; /* one of each connection is enough evidence */
	}
	return 0;
}

static int find_tls(const struct an_cstate *c, struct an_conn *out)
{
	int ret = 0;
	if (c->tls_alert) {
		uint64_t fr[1] = { c->alert_frame };
		if (c->alert_level)
			ret = an__finding_add(out, "TLS_ALERT", -1, fr, 1,
					      "%s sent alert level %u "
					      "description %u",
					      c->alert_from_server ? "server"
								   : "client",
					      c->alert_level, c->alert_desc);
		else
			ret = an__finding_add(out, "TLS_ALERT", -1, fr, 1,
					      "%s sent an encrypted alert",
					      c->alert_from_server ? "server"
								   : "client");
	}
	if (ret == 0 && c->saw_ch && !c->saw_sh && !c->tls_alert &&
	    c->f->rst != FLOW_RST_SERVER) {
		double waited = an__ms(c->ch_ts, c->f->last_ts_ns);
		uint64_t fr[1] = { c->ch_frame };
		if (waited >= 1000.0 || c->f->rst == FLOW_RST_CLIENT)
			ret = an__finding_add(out, "TLS_HANDSHAKE_TIMEOUT", -1,
					      fr, 1,
					      "no ServerHello %.0f ms after "
					      "the ClientHello",
					      waited);
	}
	return ret;
}

/* How long a NAGLE_STALL held the response (0 when there was none). */
static double nagle_wait(const struct an_exchange *e)
{
	if (!e->pre_seg_frame || !e->pre_ack_frame || !e->resp_frame ||
	    isnan(e->rec.rtt_ms))
		return 0;
	double waited = an__ms(e->pre_seg_ts_ns, e->pre_ack_ts_ns);
	double release = an__ms(e->pre_ack_ts_ns, e->resp_ts_ns);
	if (waited < 20.0 || release > e->rec.rtt_ms + 3.0 || release < 0)
		return 0;
	return waited;
}

static int find_exchange(const struct an_cstate *c, struct an_conn *out,
			 size_t i)
{
	const struct an_exchange *e = &out->ex[i];
	const struct exchange_rec *r = &e->rec;
	int ret = 0;
	int xi = (int)i;
	if (!isnan(r->think_ms) && !isnan(r->ttfb_wire_ms)) {
		double net = r->ttfb_wire_ms - r->think_ms;
		uint64_t fr[2] = { e->req_frame, e->resp_frame };
		/* time the answer waited for our delayed ACK (NAGLE_STALL)
		 * is the server's TCP, not its application: not think */
		double own = r->think_ms - nagle_wait(e);
		if (own >= 50.0 && own > net)
			ret = an__finding_add(out, "SLOW_SERVER", xi, fr, 2,
					      "server %.1f ms of %.1f ms to "
					      "the first byte (network %.1f "
					      "ms)",
					      r->think_ms, r->ttfb_wire_ms,
					      net);
		else if (r->ttfb_wire_ms >= 100.0 && net > r->think_ms)
			ret = an__finding_add(out, "SLOW_NETWORK", xi, fr, 2,
					      "network %.1f ms of %.1f ms to "
					      "the first byte (server %.1f "
					      "ms)",
					      net, r->ttfb_wire_ms,
					      r->think_ms);
	}
	if (ret == 0 && r->status >= 400 && r->status != RUN_NULL_INT) {
		uint64_t fr[1] = { e->resp_frame };
		ret = an__finding_add(out, "HTTP_STATUS", xi, fr, 1,
				      "HTTP status %lld",
				      (long long)r->status);
	}
	if (ret == 0 && e->content_length >= 0 && e->body_bytes >= 0 &&
	    e->content_length != e->body_bytes) {
		uint64_t fr[2] = { e->resp_frame, e->last_frame };
		ret = an__finding_add(out, "HTTP_BODY_MISMATCH", xi, fr, 2,
				      "Content-Length %lld, %lld body bytes "
				      "came",
				      (long long)e->content_length,
				      (long long)e->body_bytes);
	}
	if (ret == 0 && r->server_delayed_ack == 1) {
		uint64_t fr[2] = { e->req_frame, e->ack_frame };
		ret = an__finding_add(out, "SERVER_DELAYED_ACK", xi, fr, 2,
				      "the request's ACK came %.1f ms after "
				      "it (RTT %.1f ms)",
				      r->request_ack_ms, e->rec.rtt_ms);
	}
	(void)c;
	return ret;
}

static int find_nagle(const struct an_exchange *e, struct an_conn *out,
		      int xi)
{
	double waited = nagle_wait(e);
	if (waited == 0)
		return 0;
	double release = an__ms(e->pre_ack_ts_ns, e->resp_ts_ns);
	uint64_t fr[3] = { e->pre_seg_frame, e->pre_ack_frame,
			   e->resp_frame };
	return an__finding_add(out, "NAGLE_STALL", xi, fr, 3,
			       "the response waited %.1f ms behind a %llu-"
			       "byte segment for our delayed ACK",
			       waited + release,
			       (unsigned long long)e->pre_seg_len);
}

int an__find_conn(const struct an_cstate *c, struct an_conn *out)
{
	int ret = find_handshake(c, out);
	if (ret == 0)
		ret = find_reset(c, out);
	if (ret == 0)
		ret = find_loss(c, out);
	if (ret == 0)
		ret = find_icmp(c, out);
	if (ret == 0)
		ret = find_tls(c, out);
	for (size_t i = 0; ret == 0 && i < out->n_ex; i++)
		ret = find_exchange(c, out, i);
	for (size_t i = 0; ret == 0 && i < out->n_ex; i++)
		ret = find_nagle(&out->ex[i], out, (int)i);
	return ret;
}
