/*
 * test_flow.c: TCP connections from decoded frames (src/analyze/flow.c).
 *
 * Frames are struct dec_pkt values built directly: no bytes needed.
 * Client 10.0.0.1:40000, server 10.0.0.2:80 unless said otherwise.
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

#include "analyze/flow.h"

#define MS 1000000ull /* ns */

static struct dec_addr ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct dec_addr x;
	memset(&x, 0, sizeof(x));
	x.family = 4;
	x.a[0] = a;
	x.a[1] = b;
	x.a[2] = c;
	x.a[3] = d;
	return x;
}

static struct dec_pkt pkt(struct dec_addr src, uint16_t sport,
			  struct dec_addr dst, uint16_t dport, uint8_t flags,
			  uint32_t len)
{
	struct dec_pkt p;
	memset(&p, 0, sizeof(p));
	p.linktype = DEC_LINK_EN10MB;
	p.st = DEC_OK;
	p.ip.ver = 4;
	p.ip.src = src;
	p.ip.dst = dst;
	p.ip.proto = 6;
	p.l4 = DEC_L_TCP;
	p.sport = sport;
	p.dport = dport;
	p.tcp.flags = flags;
	p.tcp.hdr_len = 20;
	p.tcp.mss = -1;
	p.tcp.wscale = -1;
	p.payload_claimed = len;
	return p;
}

#define C ip4(10, 0, 0, 1)
#define S ip4(10, 0, 0, 2)
#define SYN DEC_TH_SYN
#define SA (DEC_TH_SYN | DEC_TH_ACK)
#define ACK DEC_TH_ACK

static struct dec_pkt c2s(uint8_t flags, uint32_t len)
{
	return pkt(C, 40000, S, 80, flags, len);
}

static struct dec_pkt s2c(uint8_t flags, uint32_t len)
{
	return pkt(S, 80, C, 40000, flags, len);
}

static struct flow *feed(struct flow_table *t, const struct dec_pkt *p,
			 uint64_t frame, uint64_t ts_ns)
{
	int err = 0;
	struct flow *f = flow_table_packet(t, p, frame, ts_ns, NULL, &err);
	assert_int_equal(err, 0);
	return f;
}

static void clean_handshake(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 16);
	struct dec_pkt p = c2s(SYN, 0);
	p.tcp.mss = 1460;
	p.tcp.wscale = 7;
	p.tcp.sack_perm = true;
	struct flow *f = feed(&t, &p, 1, 1000 * MS);
	assert_non_null(f);
	p = s2c(SA, 0);
	p.tcp.mss = 1400;
	p.tcp.wscale = 9;
	assert_ptr_equal(feed(&t, &p, 2, 1000 * MS + 12345678), f);
	p = c2s(ACK, 0);
	assert_ptr_equal(feed(&t, &p, 3, 1013 * MS), f);
	p = c2s(ACK | DEC_TH_PSH, 100);
	feed(&t, &p, 4, 1014 * MS);
	p = s2c(ACK, 1500);
	feed(&t, &p, 5, 1030 * MS);
	p = c2s(0, 0);
	p.l4 = DEC_L_UDP; /* not TCP: ignored */
	assert_null(feed(&t, &p, 6, 1031 * MS));
	assert_int_equal(t.n, 1);
	assert_false(f->mid_stream);
	assert_int_equal(f->cport, 40000);
	assert_int_equal(f->sport, 80);
	assert_int_equal(f->cli.a[3], 1);
	assert_int_equal(f->n_syn, 1);
	assert_int_equal(f->syn_retrans, 0);
	assert_int_equal(f->synack_frame, 2);
	assert_int_equal(f->answered_syn_frame, 1);
	assert_int_equal(f->rtt_quality, FLOW_Q_MEASURED);
	assert_true(fabs(f->rtt_ms - 12.345678) < 1e-9);
	assert_int_equal(f->c2s.packets, 3);
	assert_int_equal(f->c2s.bytes, 100);
	assert_int_equal(f->s2c.packets, 2);
	assert_int_equal(f->s2c.bytes, 1500);
	assert_int_equal(f->c2s.mss, 1460);
	assert_int_equal(f->c2s.wscale, 7);
	assert_true(f->c2s.sack_perm);
	assert_int_equal(f->s2c.mss, 1400);
	assert_int_equal(f->s2c.wscale, 9);
	assert_false(f->s2c.sack_perm);
	assert_int_equal(f->first_frame, 1);
	assert_int_equal(f->last_frame, 5);
	assert_int_equal(f->first_ts_ns, 1000 * MS);
	assert_int_equal(f->last_ts_ns, 1030 * MS);
	assert_int_equal(f->rst, FLOW_RST_NONE);
	flow_table_release(&t);
}

/* SYN sent twice, no timestamps: Karn's rule, no RTT. */
static void syn_retrans_ambiguous(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 16);
	struct dec_pkt p = c2s(SYN, 0);
	struct flow *f = feed(&t, &p, 1, 0);
	assert_ptr_equal(feed(&t, &p, 2, 1000 * MS), f);
	p = s2c(SA, 0);
	feed(&t, &p, 3, 1010 * MS);
	assert_int_equal(t.n, 1);
	assert_int_equal(f->n_syn, 2);
	assert_int_equal(f->syn_retrans, 1);
	assert_int_equal(f->syn_frame[0], 1);
	assert_int_equal(f->syn_frame[1], 2);
	assert_int_equal(f->synack_frame, 3);
	assert_true(isnan(f->rtt_ms));
	assert_int_equal(f->rtt_quality, FLOW_Q_AMBIGUOUS);
	assert_int_equal(f->answered_syn_frame, 0);
	flow_table_release(&t);
}

/* SYN sent twice with timestamps: the SYN/ACK's TSecr names the copy. */
static void syn_retrans_timestamps(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 16);
	struct dec_pkt p = c2s(SYN, 0);
	p.tcp.has_ts = true;
	p.tcp.ts_val = 5000;
	struct flow *f = feed(&t, &p, 1, 0);
	p.tcp.ts_val = 6000;
	feed(&t, &p, 2, 1000 * MS);
	p = s2c(SA, 0);
	p.tcp.has_ts = true;
	p.tcp.ts_val = 77;
	p.tcp.ts_ecr = 6000;
	feed(&t, &p, 3, 1020 * MS);
	assert_int_equal(f->n_syn, 2);
	assert_int_equal(f->syn_retrans, 1);
	assert_true(f->syn_has_ts);
	assert_int_equal(f->syn_tsval[1], 6000);
	assert_int_equal(f->rtt_quality, FLOW_Q_MEASURED);
	assert_int_equal(f->answered_syn_frame, 2);
	assert_true(fabs(f->rtt_ms - 20.0) < 1e-9);

	/* TSecr matching no copy: ambiguous */
	p = pkt(C, 40001, S, 80, SYN, 0);
	p.tcp.has_ts = true;
	p.tcp.ts_val = 1;
	struct flow *g = feed(&t, &p, 4, 2000 * MS);
	p.tcp.ts_val = 2;
	feed(&t, &p, 5, 3000 * MS);
	p = pkt(S, 80, C, 40001, SA, 0);
	p.tcp.has_ts = true;
	p.tcp.ts_ecr = 3;
	feed(&t, &p, 6, 3010 * MS);
	assert_ptr_not_equal(f, g);
	assert_true(isnan(g->rtt_ms));
	assert_int_equal(g->rtt_quality, FLOW_Q_AMBIGUOUS);
	flow_table_release(&t);
}

/* A closed port: the server answers the SYN with RST/ACK. */
static void rst_by_server(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 16);
	struct dec_pkt p = c2s(SYN, 0);
	struct flow *f = feed(&t, &p, 7, 100 * MS);
	p = s2c(DEC_TH_RST | ACK, 0);
	assert_ptr_equal(feed(&t, &p, 8, 101 * MS), f);
	assert_int_equal(f->rst, FLOW_RST_SERVER);
	assert_int_equal(f->rst_frame, 8);
	assert_int_equal(f->rst_ts_ns, 101 * MS);
	assert_int_equal(f->synack_frame, 0);
	assert_true(isnan(f->rtt_ms));
	assert_int_equal(f->rtt_quality, FLOW_Q_NONE);
	/* a later RST does not replace the first */
	p = c2s(DEC_TH_RST, 0);
	feed(&t, &p, 9, 102 * MS);
	assert_int_equal(f->rst, FLOW_RST_SERVER);
	assert_int_equal(f->rst_frame, 8);
	flow_table_release(&t);
}

/* No SYN seen: the first sender is the client, or a SYN/ACK's receiver. */
static void mid_stream(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 16);
	struct dec_pkt p = s2c(ACK, 500);
	struct flow *f = feed(&t, &p, 1, 0);
	assert_true(f->mid_stream);
	assert_int_equal(f->cport, 80);
	assert_int_equal(f->sport, 40000);
	assert_int_equal(f->c2s.bytes, 500);
	p = c2s(ACK, 0);
	assert_ptr_equal(feed(&t, &p, 2, 1), f);
	assert_int_equal(f->s2c.packets, 1);
	assert_int_equal(f->n_syn, 0);
	assert_true(isnan(f->rtt_ms));

	/* first packet a SYN/ACK: its receiver is the client */
	p = pkt(S, 443, C, 50000, SA, 0);
	p.tcp.mss = 1200;
	struct flow *g = feed(&t, &p, 3, 2);
	assert_true(g->mid_stream);
	assert_int_equal(g->cport, 50000);
	assert_int_equal(g->sport, 443);
	assert_int_equal(g->cli.a[3], 1);
	assert_int_equal(g->s2c.packets, 1);
	assert_int_equal(g->s2c.mss, 1200);
	assert_int_equal(g->synack_frame, 3);
	assert_true(isnan(g->rtt_ms));
	assert_int_equal(g->rtt_quality, FLOW_Q_NONE);
	assert_int_equal(t.n, 2);
	flow_table_release(&t);
}

/* The same tuple again after a close (FIN both ways, or RST). */
static void port_reuse(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 16);
	struct dec_pkt p = c2s(SYN, 0);
	struct flow *f = feed(&t, &p, 1, 0);
	p = s2c(SA, 0);
	feed(&t, &p, 2, 1 * MS);
	p = c2s(DEC_TH_FIN | ACK, 0);
	feed(&t, &p, 3, 2 * MS);
	/* one FIN only: a SYN now is a retransmission on the same flow */
	p = c2s(SYN, 0);
	assert_ptr_equal(feed(&t, &p, 4, 3 * MS), f);
	assert_int_equal(f->n_syn, 2);
	p = s2c(DEC_TH_FIN | ACK, 0);
	feed(&t, &p, 5, 4 * MS);
	p = c2s(SYN, 0);
	struct flow *g = feed(&t, &p, 6, 10 * MS);
	assert_ptr_not_equal(f, g);
	assert_int_equal(t.n, 2);
	assert_ptr_equal(t.v[0], f);
	assert_ptr_equal(t.v[1], g);
	assert_int_equal(g->n_syn, 1);
	assert_false(g->mid_stream);
	p = s2c(SA, 0);
	assert_ptr_equal(feed(&t, &p, 7, 13 * MS), g);
	assert_true(fabs(g->rtt_ms - 3.0) < 1e-9);
	assert_int_equal(f->last_frame, 5);

	/* after a RST, the old server now opens towards the old client */
	p = c2s(DEC_TH_RST, 0);
	feed(&t, &p, 8, 14 * MS);
	p = s2c(SYN, 0);
	struct flow *h = feed(&t, &p, 9, 15 * MS);
	assert_ptr_not_equal(h, g);
	assert_int_equal(h->cport, 80);
	assert_int_equal(h->sport, 40000);
	p = c2s(ACK, 10);
	assert_ptr_equal(feed(&t, &p, 10, 16 * MS), h);
	assert_int_equal(h->s2c.bytes, 10);
	assert_int_equal(t.n, 3);
	flow_table_release(&t);
}

static void overflow(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 2);
	for (uint16_t i = 0; i < 5; i++) {
		struct dec_pkt p = pkt(C, (uint16_t)(1000 + i), S, 80, SYN, 0);
		struct flow *f = feed(&t, &p, i + 1u, i);
		if (i < 2)
			assert_non_null(f);
		else
			assert_null(f);
	}
	/* tracked flows still take packets */
	struct dec_pkt p = pkt(S, 80, C, 1001, SA, 0);
	assert_ptr_equal(feed(&t, &p, 6, 6), t.v[1]);
	p = pkt(S, 80, C, 1003, SA, 0);
	assert_null(feed(&t, &p, 7, 7));
	assert_int_equal(t.n, 2);
	assert_int_equal(t.overflow, 4);
	flow_table_release(&t);
}

/* 10000 connections, v4 and v6: the index grows and every lookup holds. */
static void many_flows(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct flow_table t;
	flow_table_init(&t, N);
	struct dec_addr s6;
	memset(&s6, 0, sizeof(s6));
	s6.family = 6;
	s6.a[0] = 0xfd;
	s6.a[15] = 2;
	for (unsigned i = 0; i < N; i++) {
		struct dec_addr c = ip4(10, 1, (uint8_t)(i >> 8), (uint8_t)i);
		struct dec_pkt p;
		if (i % 2) {
			struct dec_addr c6 = s6;
			c6.a[14] = (uint8_t)(i >> 8);
			c6.a[15] = (uint8_t)i;
			c6.a[13] = 1;
			p = pkt(c6, (uint16_t)(30000 + i % 7), s6, 443, SYN, 0);
			p.ip.ver = 6;
		} else {
			p = pkt(c, (uint16_t)(30000 + i % 7), S, 80, SYN, 0);
		}
		struct flow *f = feed(&t, &p, i + 1u, (uint64_t)i * MS);
		assert_non_null(f);
		assert_ptr_equal(t.v[i], f);
	}
	assert_int_equal(t.n, N);
	assert_true(t.idx_cap >= 2 * N);
	for (unsigned i = 0; i < N; i++) {
		const struct flow *f = t.v[i];
		struct dec_pkt p = pkt(f->srv, f->sport, f->cli, f->cport, SA,
				       i);
		p.ip.ver = f->cli.family;
		assert_ptr_equal(feed(&t, &p, N + i + 1u,
				      (uint64_t)i * MS + 5 * MS), f);
		assert_int_equal(f->s2c.bytes, i);
		assert_true(fabs(f->rtt_ms - 5.0) < 1e-6);
	}
	assert_int_equal(t.n, N);
	assert_int_equal(t.overflow, 0);
	flow_table_release(&t);
}

static struct dec_pkt sq(struct dec_pkt p, uint32_t seq, uint32_t ack,
			 uint16_t win)
{
	p.tcp.seq = seq;
	p.tcp.ack = ack;
	p.tcp.win = win;
	return p;
}

/* Sequence analysis per side: counters, event frames, the info out param. */
static void seq_counters(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 16);
	struct flow_pkt in;
	int err = 0;
	struct dec_pkt p = sq(c2s(SYN, 0), 1000, 0, 64240);
	struct flow *f = flow_table_packet(&t, &p, 1, 1000 * MS, &in, &err);
	assert_true(in.c2s);
	p = sq(s2c(SA, 0), 5000, 1001, 65160);
	flow_table_packet(&t, &p, 2, 1010 * MS, &in, &err);
	assert_false(in.c2s);
	assert_int_equal(in.seq.acks_frame, 1);
	p = sq(c2s(ACK, 0), 1001, 5001, 502);
	feed(&t, &p, 3, 1011 * MS);
	p = sq(s2c(ACK, 1000), 5001, 1001, 509);
	flow_table_packet(&t, &p, 4, 1020 * MS, &in, &err);
	assert_int_equal(in.payload, 1000);
	/* RTO retransmission 300 ms later, then a zero window */
	p = sq(s2c(ACK, 1000), 5001, 1001, 509);
	flow_table_packet(&t, &p, 5, 1320 * MS, &in, &err);
	assert_true(in.seq.retrans);
	assert_int_equal(in.seq.retrans_of_frame, 4);
	p = sq(c2s(ACK, 0), 1001, 6001, 0);
	flow_table_packet(&t, &p, 6, 1321 * MS, &in, &err);
	assert_true(in.seq.zero_window);
	assert_int_equal(in.seq.acks_frame, 4);
	p = sq(c2s(ACK, 0), 1001, 6001, 0);
	feed(&t, &p, 7, 1322 * MS);
	assert_int_equal(err, 0);
	assert_int_equal(f->s2c.retrans, 1);
	assert_int_equal(f->s2c.n_retrans_frame, 1);
	assert_int_equal(f->s2c.retrans_frame[0], 5);
	assert_true(fabs(f->s2c.max_retrans_gap_ms - 300.0) < 1e-9);
	assert_int_equal(f->c2s.retrans, 0);
	assert_true(isnan(f->c2s.max_retrans_gap_ms));
	assert_int_equal(f->c2s.zero_window, 2);
	assert_int_equal(f->c2s.n_zero_window_frame, 2);
	assert_int_equal(f->c2s.zero_window_frame[1], 7);
	assert_int_equal(f->c2s.dup_acks, 0);
	assert_int_equal(f->s2c.lost_segment, 0);
	/* a segment after a hole the capture missed: lost_in */
	p = sq(s2c(ACK, 1000), 8001, 1001, 509);
	feed(&t, &p, 8, 1330 * MS);
	assert_int_equal(f->s2c.lost_segment, 1);
	flow_table_release(&t);
}

/* More retransmissions than FLOW_MAX_EVENTS: frames capped, counts not. */
static void seq_event_cap(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 4);
	struct dec_pkt p = sq(s2c(ACK, 100), 5001, 1001, 509);
	struct flow *f = feed(&t, &p, 1, 1000 * MS);
	for (unsigned i = 0; i < FLOW_MAX_EVENTS + 6; i++)
		feed(&t, &p, 2 + i, (1300 + 300 * (uint64_t)i) * MS);
	assert_int_equal(f->c2s.retrans, FLOW_MAX_EVENTS + 6);
	assert_int_equal(f->c2s.n_retrans_frame, FLOW_MAX_EVENTS);
	assert_int_equal(f->c2s.retrans_frame[FLOW_MAX_EVENTS - 1],
			 FLOW_MAX_EVENTS + 1);
	flow_table_release(&t);
}

/* flow_closed: RST, or FINs both ways with both acked. */
static void closed(void **state)
{
	(void)state;
	struct flow_table t;
	flow_table_init(&t, 16);
	struct dec_pkt p = sq(c2s(SYN, 0), 1000, 0, 1);
	struct flow *f = feed(&t, &p, 1, 0);
	p = sq(s2c(SA, 0), 5000, 1001, 1);
	feed(&t, &p, 2, 1);
	p = sq(c2s(DEC_TH_FIN | ACK, 10), 1001, 5001, 1);
	feed(&t, &p, 3, 2);
	assert_false(flow_closed(f));
	p = sq(s2c(DEC_TH_FIN | ACK, 0), 5001, 1012, 1);
	feed(&t, &p, 4, 3); /* acks 1001 + 10 + FIN: the client's FIN acked */
	assert_false(flow_closed(f));
	p = sq(c2s(ACK, 0), 1012, 5001, 1);
	feed(&t, &p, 5, 4); /* not yet the server's FIN */
	assert_false(flow_closed(f));
	p = sq(c2s(ACK, 0), 1012, 5002, 1);
	feed(&t, &p, 6, 5);
	assert_true(flow_closed(f));

	p = pkt(C, 40001, S, 80, SYN, 0);
	struct flow *g = feed(&t, &p, 7, 6);
	assert_false(flow_closed(g));
	p = pkt(S, 80, C, 40001, DEC_TH_RST | ACK, 0);
	feed(&t, &p, 8, 7);
	assert_true(flow_closed(g));
	flow_table_release(&t);
}

/* flow_table_remove: order kept, the index still finds every flow. */
static void remove_flows(void **state)
{
	(void)state;
	enum { N = 300 };
	struct flow_table t;
	flow_table_init(&t, N);
	struct flow *v[N];
	for (unsigned i = 0; i < N; i++) {
		struct dec_pkt p = pkt(C, (uint16_t)(1000 + i), S, 80, SYN, 0);
		v[i] = feed(&t, &p, i + 1u, i);
	}
	/* remove every third, the first and the last */
	for (unsigned i = 0; i < N; i += 3)
		flow_table_remove(&t, v[i]);
	flow_table_remove(&t, v[N - 1]);
	/* the live flows, in insertion order, skipping holes */
	size_t k = 0, j = 0;
	for (unsigned i = 0; i < N; i++) {
		if (i % 3 == 0 || i == N - 1)
			continue;
		while (j < t.n && !t.v[j])
			j++;
		assert_true(j < t.n);
		assert_ptr_equal(t.v[j], v[i]);
		j++;
		k++;
		struct dec_pkt p = pkt(S, 80, C, (uint16_t)(1000 + i), SA, 0);
		assert_ptr_equal(feed(&t, &p, N + i, N + i), v[i]);
	}
	assert_int_equal(t.live, k);
	assert_int_equal(t.n, t.live + t.holes);
	/* a removed tuple starts a new, mid-stream flow at the end */
	struct dec_pkt p = pkt(C, 1000, S, 80, ACK, 5);
	struct flow *n = feed(&t, &p, 2 * N, 2 * N);
	assert_true(n->mid_stream);
	assert_ptr_equal(t.v[t.n - 1], n);
	/* removing all empties the table (compacting on the way); it fills
	 * again */
	while (t.live) {
		size_t h = t.n / 2;
		while (!t.v[h])
			h = (h + 1) % t.n;
		flow_table_remove(&t, t.v[h]);
		assert_true(t.holes <= 64 || t.holes <= t.live);
	}
	p = pkt(C, 1001, S, 80, SYN, 0);
	assert_non_null(feed(&t, &p, 3 * N, 3 * N));
	assert_int_equal(t.live, 1);
	flow_table_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_handshake),
		cmocka_unit_test(syn_retrans_ambiguous),
		cmocka_unit_test(syn_retrans_timestamps),
		cmocka_unit_test(rst_by_server),
		cmocka_unit_test(mid_stream),
		cmocka_unit_test(port_reuse),
		cmocka_unit_test(overflow),
		cmocka_unit_test(many_flows),
		cmocka_unit_test(seq_counters),
		cmocka_unit_test(seq_event_cap),
		cmocka_unit_test(closed),
		cmocka_unit_test(remove_flows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
