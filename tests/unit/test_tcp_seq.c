/*
 * test_tcp_seq.c: tshark's tcp.analysis.* flags (src/analyze/tcp_seq.c).
 *
 * Segments are struct dec_pkt values; direction 0 is the client, 1 the
 * server.  Each test is a small exchange whose expected flags are what
 * tshark 4.0 says of the same exchange (the hand-made captures in
 * tests/data/pcap check the same rules against tshark itself, 0630).
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

#include "analyze/tcp_seq.h"

#define MS 1000000ull /* ns */
#define SYN DEC_TH_SYN
#define ACK DEC_TH_ACK
#define FIN DEC_TH_FIN
#define RST DEC_TH_RST

struct conv {
	struct tcp_seq s;
	uint64_t frame;
	struct tcp_seq_res r;
};

/* One segment: dir 0 client, 1 server; at ts_ms; the result in c->r. */
static const struct tcp_seq_res *seg(struct conv *c, int dir, uint32_t seq,
				     uint32_t ack, uint8_t flags,
				     uint16_t win, uint32_t len, double ts_ms)
{
	struct dec_pkt p;
	memset(&p, 0, sizeof(p));
	p.st = DEC_OK;
	p.ip.ver = 4;
	p.l4 = DEC_L_TCP;
	p.tcp.seq = seq;
	p.tcp.ack = ack;
	p.tcp.flags = flags;
	p.tcp.win = win;
	p.tcp.hdr_len = 20;
	p.tcp.mss = -1;
	p.tcp.wscale = -1;
	p.payload_claimed = len;
	tcp_seq_packet(&c->s, dir, &p, len, ++c->frame,
		       (uint64_t)(ts_ms * 1e6) + 1000 * MS, &c->r);
	return &c->r;
}

static int nflags(const struct tcp_seq_res *r)
{
	return r->retrans + r->fast_retrans + r->spurious_retrans +
	       r->out_of_order + r->lost_segment + r->ack_lost_segment +
	       r->dup_ack + r->zero_window + r->zero_window_probe +
	       r->window_update + r->window_full + r->keep_alive;
}

/* Client ISN 1000, server ISN 5000; SYN at 0, SYN/ACK at 10, ACK at 10.05. */
static void handshake(struct conv *c)
{
	memset(c, 0, sizeof(*c));
	tcp_seq_init(&c->s);
	assert_int_equal(nflags(seg(c, 0, 1000, 0, SYN, 64240, 0, 0)), 0);
	const struct tcp_seq_res *r = seg(c, 1, 5000, 1001, SYN | ACK, 65160,
					  0, 10);
	assert_int_equal(r->acks_frame, 1);
	assert_true(fabs(r->ack_rtt_ms - 10.0) < 1e-9);
	r = seg(c, 0, 1001, 5001, ACK, 502, 0, 10.05);
	assert_int_equal(r->acks_frame, 2);
	assert_int_equal(r->ack_rtt_ns, 50000);
	assert_int_equal(nflags(r), 0);
	/* the first RTT (SYN -> first ACK): the out-of-order threshold */
	assert_int_equal(c->s.first_rtt_ns, 10050000);
}

/* A segment sent again after an RTO: a plain retransmission. */
static void test_tcp_seq_rto_retrans(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	seg(&c, 1, 5001, 1001, ACK, 509, 1448, 20);   /* frame 4 */
	seg(&c, 1, 6449, 1001, ACK, 509, 1448, 20.1); /* frame 5 */
	const struct tcp_seq_res *r = seg(&c, 1, 5001, 1001, ACK, 509, 1448,
					  320);
	assert_true(r->retrans);
	assert_false(r->fast_retrans);
	assert_false(r->spurious_retrans);
	assert_false(r->out_of_order);
	assert_int_equal(nflags(r), 1);
	assert_int_equal(r->retrans_of_frame, 4);
	assert_true(fabs(r->retrans_gap_ms - 300.0) < 1e-9);
	/* the ACK names the original (the oldest ending there), not frame 6 */
	r = seg(&c, 0, 1001, 6449, ACK, 502, 0, 330);
	assert_int_equal(r->acks_frame, 4);
	assert_true(fabs(r->ack_rtt_ms - 310.0) < 1e-9);
	tcp_seq_release(&c.s);
}

/* Dup ACKs numbered 1, 2, 3, then a resend within 20 ms: fast. */
static void test_tcp_seq_fast_retrans(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	seg(&c, 1, 5001, 1001, ACK, 509, 1000, 20);
	seg(&c, 1, 6001, 1001, ACK, 509, 1000, 20.1); /* lost after capture */
	const struct tcp_seq_res *r = seg(&c, 0, 1001, 6001, ACK, 502, 0, 25);
	assert_false(r->dup_ack); /* the ack moved */
	uint32_t s = 7001;
	for (uint32_t i = 1; i <= 3; i++, s += 1000) {
		seg(&c, 1, s, 1001, ACK, 509, 1000, 25 + i);
		r = seg(&c, 0, 1001, 6001, ACK, 502, 0, 25.5 + i);
		assert_true(r->dup_ack);
		assert_int_equal(r->dup_ack_num, i);
		assert_int_equal(nflags(r), 1);
	}
	r = seg(&c, 1, 6001, 1001, ACK, 509, 1000, 30);
	assert_true(r->fast_retrans);
	assert_true(r->retrans); /* tshark's retransmission includes it */
	assert_false(r->out_of_order);
	assert_int_equal(r->retrans_of_frame, 5);
	/* more than 20 ms after the last dup ACK: not fast any more */
	r = seg(&c, 1, 6001, 1001, ACK, 509, 1000, 60);
	assert_true(r->retrans);
	assert_false(r->fast_retrans);
	tcp_seq_release(&c.s);
}

/* Data the peer had acknowledged, sent again: spurious. */
static void test_tcp_seq_spurious(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	seg(&c, 1, 5001, 1001, ACK, 509, 1200, 20);
	seg(&c, 1, 6201, 1001, ACK, 509, 1200, 20.1);
	seg(&c, 0, 1001, 7401, ACK, 502, 0, 30);
	const struct tcp_seq_res *r = seg(&c, 1, 5001, 1001, ACK, 509, 1200,
					  330);
	assert_true(r->spurious_retrans);
	assert_true(r->retrans);
	assert_false(r->fast_retrans);
	assert_int_equal(r->retrans_of_frame, 0); /* acked: forgotten */
	assert_true(isnan(r->retrans_gap_ms));
	tcp_seq_release(&c.s);
}

/*
 * A hole, then the fill within the first RTT of the newest segment:
 * out-of-order (not a retransmission); later than that: retransmission.
 * Without a handshake the threshold is 3 ms.
 */
static void test_tcp_seq_out_of_order(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	seg(&c, 1, 5001, 1001, ACK, 509, 1000, 20);
	const struct tcp_seq_res *r = seg(&c, 1, 7001, 1001, ACK, 509, 1000,
					  20.1);
	assert_true(r->lost_segment);
	r = seg(&c, 1, 6001, 1001, ACK, 509, 1000, 29); /* 8.9 < 10.05 ms */
	assert_true(r->out_of_order);
	assert_false(r->retrans);
	assert_int_equal(nflags(r), 1);
	seg(&c, 1, 8001, 1001, ACK, 509, 1000, 40);
	r = seg(&c, 1, 7001, 1001, ACK, 509, 1000, 50.1); /* 10.1 ms */
	assert_false(r->out_of_order);
	assert_true(r->retrans);
	tcp_seq_release(&c.s);

	/* no handshake seen: 3 ms */
	memset(&c, 0, sizeof(c));
	tcp_seq_init(&c.s);
	seg(&c, 1, 100, 1, ACK, 509, 100, 0);
	seg(&c, 1, 300, 1, ACK, 509, 100, 1);
	r = seg(&c, 1, 200, 1, ACK, 509, 100, 3.9);
	assert_true(r->out_of_order);
	seg(&c, 1, 500, 1, ACK, 509, 100, 5);
	r = seg(&c, 1, 400, 1, ACK, 509, 100, 8);
	assert_true(r->retrans);
	tcp_seq_release(&c.s);
}

/* A segment missing from the capture; its bytes acked: ACKed unseen. */
static void test_tcp_seq_lost_segment(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	seg(&c, 1, 5001, 1001, ACK, 509, 1000, 20);
	const struct tcp_seq_res *r = seg(&c, 1, 7001, 1001, ACK, 509, 1000,
					  20.2);
	assert_true(r->lost_segment);
	assert_int_equal(nflags(r), 1);
	r = seg(&c, 0, 1001, 8001, ACK, 502, 0, 21);
	assert_true(r->ack_lost_segment);
	assert_int_equal(r->acks_frame, 5);
	/* reported once */
	r = seg(&c, 0, 1001, 8001, ACK, 600, 0, 22);
	assert_false(r->ack_lost_segment);
	assert_true(r->window_update);
	/* a RST beyond nextseq is not "previous segment not captured" */
	r = seg(&c, 1, 9001, 0, RST, 0, 0, 30);
	assert_false(r->lost_segment);
	assert_false(r->zero_window);
	tcp_seq_release(&c.s);
}

/* Dup ACK numbers restart when the ack moves or the window changes. */
static void test_tcp_seq_dup_ack_numbers(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	seg(&c, 0, 1001, 5001, ACK, 502, 50, 11);
	seg(&c, 1, 5001, 1051, ACK, 509, 500, 20);
	seg(&c, 0, 1051, 5501, ACK, 502, 0, 21);
	for (uint32_t i = 1; i <= 3; i++)
		assert_int_equal(seg(&c, 0, 1051, 5501, ACK, 502, 0, 21 + i)
					 ->dup_ack_num, i);
	/* a new window: window update, not a dup ACK */
	const struct tcp_seq_res *r = seg(&c, 0, 1051, 5501, ACK, 700, 0, 25);
	assert_true(r->window_update);
	assert_false(r->dup_ack);
	r = seg(&c, 0, 1051, 5501, ACK, 700, 0, 26);
	assert_int_equal(r->dup_ack_num, 4); /* the ack did not move */
	seg(&c, 1, 5501, 1051, ACK, 509, 500, 30);
	seg(&c, 0, 1051, 6001, ACK, 700, 0, 31);
	r = seg(&c, 0, 1051, 6001, ACK, 700, 0, 32);
	assert_true(r->dup_ack);
	assert_int_equal(r->dup_ack_num, 1);
	/* a FIN is never a dup ACK */
	r = seg(&c, 0, 1051, 6001, FIN | ACK, 700, 0, 33);
	assert_false(r->dup_ack);
	tcp_seq_release(&c.s);
}

/* The client's window closes; a 1-byte probe; the window opens again. */
static void test_tcp_seq_zero_window(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	seg(&c, 1, 5001, 1001, ACK, 509, 1000, 20);
	const struct tcp_seq_res *r = seg(&c, 0, 1001, 6001, ACK, 0, 0, 21);
	assert_true(r->zero_window);
	assert_int_equal(nflags(r), 1);
	r = seg(&c, 1, 6001, 1001, ACK, 509, 1, 220);
	assert_true(r->zero_window_probe);
	assert_false(r->retrans);
	assert_int_equal(nflags(r), 1);
	/* the probe's answer: still zero, not a dup ACK */
	r = seg(&c, 0, 1001, 6001, ACK, 0, 0, 221);
	assert_true(r->zero_window);
	assert_false(r->dup_ack);
	/* the window opens and acks the probe (4.0 counts the probe's byte
	 * in nextseq, not as contiguous data: ACKed unseen, as tshark) */
	r = seg(&c, 0, 1001, 6002, ACK, 8000, 0, 300);
	assert_false(r->zero_window);
	assert_true(r->ack_lost_segment);
	r = seg(&c, 0, 1001, 6002, ACK, 16000, 0, 301);
	assert_true(r->window_update);
	/* new data from the probe's byte on: not a retransmission */
	r = seg(&c, 1, 6001, 1001, ACK, 509, 1000, 302);
	assert_false(r->retrans);
	assert_false(r->out_of_order);
	/* a SYN/FIN/RST with window 0 is not a zero window */
	r = seg(&c, 0, 1001, 7001, FIN | ACK, 0, 0, 303);
	assert_false(r->zero_window);
	tcp_seq_release(&c.s);
}

/* Keep-alives: seq = next - 1 with 0 or 1 byte; not retransmissions. */
static void test_tcp_seq_keep_alive(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	seg(&c, 0, 1001, 5001, ACK, 502, 60, 11);
	seg(&c, 1, 5001, 1061, ACK, 509, 300, 20);
	seg(&c, 0, 1061, 5301, ACK, 502, 0, 21);
	const struct tcp_seq_res *r = seg(&c, 0, 1060, 5301, ACK, 502, 0,
					  45021);
	assert_true(r->keep_alive);
	assert_int_equal(nflags(r), 1);
	r = seg(&c, 1, 5301, 1061, ACK, 509, 0, 45031); /* keep-alive ACK */
	assert_int_equal(nflags(r), 0);
	r = seg(&c, 0, 1060, 5301, ACK, 502, 1, 90031); /* with a byte */
	assert_true(r->keep_alive);
	assert_false(r->retrans);
	assert_int_equal(nflags(r), 1);
	tcp_seq_release(&c.s);
}

/* Sequence numbers crossing 2^32: nothing flagged; a retransmission
 * across the wrap found; ack_rtt across it. */
static void test_tcp_seq_wrap(void **state)
{
	(void)state;
	struct conv c;
	memset(&c, 0, sizeof(c));
	tcp_seq_init(&c.s);
	uint32_t isn = 0xfffff000u;
	seg(&c, 0, 100, 0, SYN, 64240, 0, 0);
	seg(&c, 1, isn, 101, SYN | ACK, 65160, 0, 10);
	seg(&c, 0, 101, isn + 1, ACK, 502, 0, 10.05);
	uint32_t s = isn + 1;
	uint64_t first = c.frame + 1;
	for (int i = 0; i < 6; i++, s += 1000) {
		const struct tcp_seq_res *r = seg(&c, 1, s, 101, ACK, 509,
						  1000, 20 + i);
		assert_int_equal(nflags(r), 0);
	}
	/* s wrapped: 0xfffff001 + 6000 */
	assert_true(s < isn);
	const struct tcp_seq_res *r = seg(&c, 0, 101, isn + 1 + 3000, ACK,
					  502, 0, 30);
	assert_int_equal(r->acks_frame, first + 2);
	assert_true(fabs(r->ack_rtt_ms - 8.0) < 1e-9);
	r = seg(&c, 1, isn + 1 + 4000, 101, ACK, 509, 1000, 330);
	assert_true(r->retrans);
	assert_int_equal(r->retrans_of_frame, first + 4);
	/* the part after 0 */
	r = seg(&c, 1, s, 101, ACK, 509, 1000, 331);
	assert_int_equal(nflags(r), 0);
	r = seg(&c, 1, s + 2000, 101, ACK, 509, 1000, 332);
	assert_true(r->lost_segment);
	r = seg(&c, 0, 101, s + 1000, ACK, 502, 0, 340);
	assert_int_equal(r->acks_frame, c.frame - 2);
	tcp_seq_release(&c.s);
}

/* ack_rtt: from the data segment to the ACK ending exactly at it; a
 * partial ACK names nothing; a cumulative ACK names the newest it ends. */
static void test_tcp_seq_ack_rtt(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	seg(&c, 1, 5001, 1001, ACK, 509, 1000, 20);   /* frame 4 */
	seg(&c, 1, 6001, 1001, ACK, 509, 1000, 21);   /* frame 5 */
	const struct tcp_seq_res *r = seg(&c, 0, 1001, 5501, ACK, 502, 0,
					  25.5);
	assert_int_equal(r->acks_frame, 0);
	assert_true(isnan(r->ack_rtt_ms));
	r = seg(&c, 0, 1001, 7001, ACK, 502, 0, 30.25);
	assert_int_equal(r->acks_frame, 5);
	assert_int_equal(r->ack_rtt_ns, 9250000);
	assert_true(fabs(r->ack_rtt_ms - 9.25) < 1e-9);
	assert_int_equal(c.s.dir[1].n_segs, 0);
	tcp_seq_release(&c.s);
}

/* Beyond TCP_SEQ_MAX_UNACKED segments: counted, memory stays bounded. */
static void test_tcp_seq_overflow(void **state)
{
	(void)state;
	struct conv c;
	handshake(&c);
	uint32_t s = 5001;
	for (int i = 0; i < TCP_SEQ_MAX_UNACKED + 10; i++, s += 100)
		seg(&c, 1, s, 1001, ACK, 509, 100, 20 + i * 0.001);
	assert_int_equal(c.s.dir[1].n_segs, TCP_SEQ_MAX_UNACKED);
	assert_int_equal(c.s.dir[1].cap_segs, TCP_SEQ_MAX_UNACKED);
	assert_int_equal(c.s.dir[1].overflow, 10);
	seg(&c, 0, 1001, s, ACK, 502, 0, 100);
	assert_int_equal(c.s.dir[1].n_segs, 0);
	tcp_seq_release(&c.s);
	assert_null(c.s.dir[1].segs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_seq_rto_retrans),
		cmocka_unit_test(test_tcp_seq_fast_retrans),
		cmocka_unit_test(test_tcp_seq_spurious),
		cmocka_unit_test(test_tcp_seq_out_of_order),
		cmocka_unit_test(test_tcp_seq_lost_segment),
		cmocka_unit_test(test_tcp_seq_dup_ack_numbers),
		cmocka_unit_test(test_tcp_seq_zero_window),
		cmocka_unit_test(test_tcp_seq_keep_alive),
		cmocka_unit_test(test_tcp_seq_wrap),
		cmocka_unit_test(test_tcp_seq_ack_rtt),
		cmocka_unit_test(test_tcp_seq_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
