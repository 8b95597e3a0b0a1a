/*
 * test_analyzer.c: the figures and findings of DESIGN sections 5 and 6
 * from packet sequences built here, frame by frame (Ethernet, IPv4, TCP
 * with timestamps, payload), fed to src/analyze/analyzer.c.
 *
 * Client 10.0.0.1:40000, server 10.0.0.2:443 (or :80); times in ms from
 * an arbitrary origin; RTT 20 ms unless said otherwise.  TLS bytes are
 * real ones (tls_samples.h) or records of the right type and length.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/analyzer.h"
#include "tls_samples.h"

#define MS 1000000ull
#define T0 (1700000000ull * 1000000000ull)

/* ---- frames --------------------------------------------------------------- */

struct side {
	uint32_t seq;      /* next sequence number to send */
	uint32_t tsval;
};

struct conv {
	struct analyzer *a;
	struct side c, s;
	uint16_t cport, sport;
	uint8_t cip[4], sip[4];
	uint32_t last_tsval_c, last_tsval_s;
	/* results */
	struct an_conn got[8];
	size_t n_got;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

enum { F = 0x01, S = 0x02, R = 0x04, P = 0x08, A = 0x10 };

/*
 * One segment from the client (c2s) or the server at time ms, with flags
 * and payload; the sender's seq advances; ack is the other side's seq.
 * seq_override: send at this sequence number instead (a retransmission);
 * tsval 0: the sender's next one.
 */
static void seg_full(struct conv *cv, double ms, bool c2s, uint8_t flags,
		     const uint8_t *data, size_t len, const uint32_t *seq_at,
		     uint32_t tsval, uint32_t tsecr_override, uint16_t win)
{
	uint8_t f[2048];
	struct side *me = c2s ? &cv->c : &cv->s;
	struct side *peer = c2s ? &cv->s : &cv->c;
	assert_true(len <= sizeof(f) - 66);
	memset(f, 0, 66);
	/* Ethernet */
	f[12] = 0x08;
	/* IPv4 */
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 32 + len));
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, c2s ? cv->cip : cv->sip, 4);
	memcpy(ip + 16, c2s ? cv->sip : cv->cip, 4);
	/* TCP with NOP NOP TS (32-byte header) */
	uint8_t *t = ip + 20;
	put16(t, c2s ? cv->cport : cv->sport);
	put16(t + 2, c2s ? cv->sport : cv->cport);
	uint32_t seq = seq_at ? *seq_at : me->seq;
	put32(t + 4, seq);
	put32(t + 8, (flags & A) ? peer->seq : 0);
	t[12] = 8 << 4;
	t[13] = flags;
	put16(t + 14, win);
	t[20] = 1;
	t[21] = 1;
	t[22] = 8;
	t[23] = 10;
	uint32_t tv = tsval ? tsval : ++me->tsval;
	put32(t + 24, tv);
	put32(t + 28, tsecr_override ? tsecr_override
				     : (c2s ? cv->last_tsval_s
					    : cv->last_tsval_c));
	if (c2s)
		cv->last_tsval_c = tv;
	else
		cv->last_tsval_s = tv;
	if (len)
		memcpy(t + 32, data, len);
	if (!seq_at)
		me->seq += (uint32_t)len + ((flags & (S | F)) ? 1 : 0);
	uint32_t n = (uint32_t)(66 + len);
	assert_int_equal(analyzer_packet(cv->a, 1, f, n, n,
					 T0 + (uint64_t)(ms * 1e6)),
			 0);
}

static void seg(struct conv *cv, double ms, bool c2s, uint8_t flags,
		const void *data, size_t len)
{
	seg_full(cv, ms, c2s, flags, data, len, NULL, 0, 0, 65535);
}

static void copy_result(const struct an_conn *c, void *ctx)
{
	struct conv *cv = ctx;
	assert_true(cv->n_got < 8);
	struct an_conn *d = &cv->got[cv->n_got++];
	*d = *c;
	/* deep-copy what the tests look at */
	d->ex = calloc(c->n_ex + 1, sizeof(*d->ex));
	if (c->n_ex)
		memcpy(d->ex, c->ex, c->n_ex * sizeof(*d->ex));
	d->fi = calloc(c->n_fi + 1, sizeof(*d->fi));
	if (c->n_fi)
		memcpy(d->fi, c->fi, c->n_fi * sizeof(*d->fi));
	d->rec.src_addr = d->rec.dst_addr = d->rec.icmp = NULL;
	for (size_t i = 0; i < c->n_ex; i++)
		d->ex[i].rec.method = d->ex[i].rec.url = NULL;
}

static void conv_init_opts(struct conv *cv, uint16_t sport,
			   const struct an_tls_hint *hints, size_t n_hints,
			   bool streaming)
{
	memset(cv, 0, sizeof(*cv));
	uint8_t c[4] = { 10, 0, 0, 1 }, s[4] = { 10, 0, 0, 2 };
	memcpy(cv->cip, c, 4);
	memcpy(cv->sip, s, 4);
	cv->cport = 40000;
	cv->sport = sport;
	cv->c.seq = 1000;
	cv->s.seq = 5000;
	cv->c.tsval = 100;
	cv->s.tsval = 900;
	struct an_opts o = { .on_conn = copy_result, .ctx = cv,
			     .hints = hints, .n_hints = n_hints,
			     .streaming = streaming };
	cv->a = analyzer_new(&o);
	assert_non_null(cv->a);
}

static void conv_init(struct conv *cv, uint16_t sport,
		      const struct an_tls_hint *hints, size_t n_hints)
{
	conv_init_opts(cv, sport, hints, n_hints, false);
}

static void conv_finish(struct conv *cv)
{
	assert_int_equal(analyzer_finish(cv->a), 0);
}

static void conv_free(struct conv *cv)
{
	for (size_t i = 0; i < cv->n_got; i++) {
		free(cv->got[i].ex);
		free(cv->got[i].fi);
	}
	analyzer_free(cv->a);
}

/* The handshake: SYN at t, SYN/ACK and ACK at t + rtt. */
static void handshake_at(struct conv *cv, double t, double rtt)
{
	seg(cv, t, true, S, NULL, 0);
	seg(cv, t + rtt, false, S | A, NULL, 0);
	seg(cv, t + rtt, true, A, NULL, 0);
}

static void handshake(struct conv *cv, double rtt)
{
	handshake_at(cv, 0, rtt);
}

static void udp_frame(struct analyzer *a, bool query, const uint8_t *msg,
		      size_t len, double ms);

/* Some other traffic at time ms (time passes for the analyzer). */
static void udp_noise(struct analyzer *a, double ms)
{
	static const uint8_t junk[4] = { 1, 2, 3, 4 };
	udp_frame(a, true, junk, sizeof(junk), ms);
}

static const struct an_finding *finding(const struct an_conn *c,
					const char *code)
{
	for (size_t i = 0; i < c->n_fi; i++)
		if (strcmp(c->fi[i].code, code) == 0)
			return &c->fi[i];
	return NULL;
}

#define assert_ms(got, want) assert_true(fabs((got) - (want)) < 0.0015)

static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* ---- cleartext HTTP/1.1 ---------------------------------------------------- */

/* A slow server ACKs at once and answers 150 ms later. */
static void test_http_separate_ack(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 80, NULL, 0);
	handshake(&cv, 20);
	seg(&cv, 21, true, P | A, req, sizeof(req) - 1);    /* frame 4 */
	seg(&cv, 41, false, A, NULL, 0);                    /* 5 */
	seg(&cv, 191, false, P | A, resp, sizeof(resp) - 1); /* 6 */
	seg(&cv, 191.5, true, A, NULL, 0);
	conv_finish(&cv);
	assert_int_equal(cv.n_got, 1);
	const struct an_conn *c = &cv.got[0];
	assert_ms(c->rec.rtt_ms, 20);
	assert_int_equal(c->rec.rtt_quality, RUN_QUALITY_MEASURED);
	assert_int_equal(c->n_ex, 1);
	const struct exchange_rec *x = &c->ex[0].rec;
	assert_ms(x->request_ack_ms, 20);
	assert_int_equal(x->ack_pattern, RUN_ACK_SEPARATE);
	assert_ms(x->ttfb_wire_ms, 170);
	assert_ms(x->think_ms, 150);
	assert_int_equal(x->think_quality, RUN_QUALITY_MEASURED);
	assert_ms(x->transfer_ms, 0);
	assert_int_equal(x->server_delayed_ack, 0);
	assert_int_equal(c->ex[0].req_frame, 4);
	assert_int_equal(c->ex[0].ack_frame, 5);
	assert_int_equal(c->ex[0].resp_frame, 6);
	const struct an_finding *f = finding(c, "SLOW_SERVER");
	assert_non_null(f);
	assert_int_equal(f->n_frames, 2);
	assert_int_equal(f->frames[0], 4);
	assert_int_equal(f->frames[1], 6);
	assert_null(finding(c, "SLOW_NETWORK"));
	conv_free(&cv);
}

/* A fast server's ACK rides on the response. */
static void test_http_piggybacked(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 80, NULL, 0);
	handshake(&cv, 20);
	seg(&cv, 21, true, P | A, req, sizeof(req) - 1);
	seg(&cv, 43.5, false, P | A, resp, sizeof(resp) - 1);
	seg(&cv, 60, false, P | A, "more", 4);
	conv_finish(&cv);
	const struct exchange_rec *x = &cv.got[0].ex[0].rec;
	assert_int_equal(x->ack_pattern, RUN_ACK_PIGGYBACKED);
	assert_ms(x->request_ack_ms, 22.5);
	assert_ms(x->ttfb_wire_ms, 22.5);
	assert_ms(x->think_ms, 2.5);
	assert_ms(x->transfer_ms, 16.5);
	assert_int_equal(cv.got[0].ex[0].resp_bytes, sizeof(resp) - 1 + 4);
	assert_null(finding(&cv.got[0], "SLOW_SERVER"));
	conv_free(&cv);
}

/* 100 Continue is recorded, not taken for the response. */
static void test_http_interim(void **state)
{
	(void)state;
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct conv cv;
	conv_init(&cv, 80, NULL, 0);
	handshake(&cv, 20);
	seg(&cv, 21, true, P | A, req, sizeof(req) - 1);
	seg(&cv, 41, false, P | A, cont, sizeof(cont) - 1);
	seg(&cv, 121, false, P | A, resp, sizeof(resp) - 1);
	conv_finish(&cv);
	const struct an_exchange *e = &cv.got[0].ex[0];
	assert_true(e->interim);
	assert_int_equal(e->rec.ack_pattern, RUN_ACK_CONTROL);
	assert_ms(e->rec.ttfb_wire_ms, 100);
	assert_ms(e->rec.think_ms, 80);
	conv_free(&cv);
}

/*
 * The request's first transmission is lost; the server acknowledges the
 * retransmission (its TSecr echoes the second copy's TSval): ttfb_wire
 * counts from the copy that arrived.
 */
static void test_http_request_retransmitted(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 80, NULL, 0);
	handshake(&cv, 20);
	uint32_t at = cv.c.seq;
	seg(&cv, 21, true, P | A, req, sizeof(req) - 1);
	seg_full(&cv, 221, true, P | A, (const uint8_t *)req, sizeof(req) - 1,
		 &at, 777, 0, 65535);
	seg_full(&cv, 241, false, P | A, (const uint8_t *)resp,
		 sizeof(resp) - 1, NULL, 0, 777, 65535);
	conv_finish(&cv);
	const struct exchange_rec *x = &cv.got[0].ex[0].rec;
	assert_ms(x->request_ack_ms, 220);
	assert_ms(x->ttfb_wire_ms, 20);
	assert_ms(x->think_ms, 0);
	assert_int_equal(x->ttfb_wire_quality, RUN_QUALITY_MEASURED);
	assert_int_equal(x->server_delayed_ack, 0);
	conv_free(&cv);
}

/*
 * A kept-alive connection: the second exchange's RTT is the smallest
 * bare ACK of client data (the delayed ACK of the second request is not
 * an RTT), and the 40 ms delayed ACK is SERVER_DELAYED_ACK.
 */
static void test_http_keepalive_delayed_ack(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 80, NULL, 0);
	handshake(&cv, 20);
	seg(&cv, 21, true, P | A, req, sizeof(req) - 1);
	seg(&cv, 41.2, false, A, NULL, 0); /* quick ACK: 20.2 */
	seg(&cv, 100, false, P | A, resp, sizeof(resp) - 1);
	seg(&cv, 100.1, true, A, NULL, 0);
	seg(&cv, 200, true, P | A, req, sizeof(req) - 1);   /* frame 8 */
	seg(&cv, 260.2, false, A, NULL, 0); /* delayed: 20.2 + 40 */
	seg(&cv, 300, false, P | A, resp, sizeof(resp) - 1);
	conv_finish(&cv);
	const struct an_conn *c = &cv.got[0];
	assert_int_equal(c->n_ex, 2);
	assert_ms(c->ex[0].rec.rtt_ms, 20);
	assert_ms(c->ex[1].rec.rtt_ms, 20.2);
	const struct exchange_rec *x = &c->ex[1].rec;
	assert_ms(x->request_ack_ms, 60.2);
	assert_int_equal(x->ack_pattern, RUN_ACK_SEPARATE);
	assert_int_equal(x->server_delayed_ack, 1);
	assert_ms(x->think_ms, 79.8);
	const struct an_finding *f = finding(c, "SERVER_DELAYED_ACK");
	assert_non_null(f);
	assert_int_equal(f->exchange, 1);
	assert_int_equal(f->frames[0], 8);
	assert_int_equal(f->frames[1], 9);
	conv_free(&cv);
}

/* Beyond AN_MAX_EXCHANGES on one connection: the first ones are kept, the
 * rest counted, not silently lost. */
static void test_exchanges_beyond_cap(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 80, NULL, 0);
	handshake(&cv, 1);
	const int n = AN_MAX_EXCHANGES + 6;
	for (int i = 0; i < n; i++) {
		double t = 2 + i * 3.0;
		seg(&cv, t, true, P | A, req, sizeof(req) - 1);
		seg(&cv, t + 1, false, P | A, resp, sizeof(resp) - 1);
		seg(&cv, t + 1.1, true, A, NULL, 0);
	}
	conv_finish(&cv);
	assert_int_equal(cv.n_got, 1);
	assert_int_equal(cv.got[0].n_ex, AN_MAX_EXCHANGES);
	struct an_counts k;
	analyzer_counts(cv.a, &k);
	assert_int_equal(k.exchanges_dropped, 6);
	conv_free(&cv);
}

/* A think time below -0.5 ms is NULL and marked inconsistent. */
static void test_http_inconsistent(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 80, NULL, 0);
	handshake(&cv, 20);
	seg(&cv, 21, true, P | A, req, sizeof(req) - 1);
	seg(&cv, 30, false, P | A, resp, sizeof(resp) - 1); /* 9 < RTT */
	conv_finish(&cv);
	const struct exchange_rec *x = &cv.got[0].ex[0].rec;
	assert_ms(x->ttfb_wire_ms, 9);
	assert_true(isnan(x->think_ms));
	assert_int_equal(x->think_quality, RUN_QUALITY_INCONSISTENT);
	conv_free(&cv);
}

/* ---- TLS -------------------------------------------------------------------- */

static size_t record(uint8_t *out, uint8_t type, uint16_t len, uint8_t fill)
{
	out[0] = type;
	out[1] = 3;
	out[2] = 3;
	put16(out + 3, len);
	memset(out + 5, fill, len);
	return 5u + len;
}

/*
 * TLS 1.3 with two session tickets before a 150 ms server's response:
 * the first server record after the request is a ticket, not the
 * response.  Frames: 1-3 handshake, 4 ClientHello, 5 server flight,
 * 6 client CCS+Finished+request, 7 tickets (they ACK the request),
 * 8 response.
 */
static void tls13_conversation(struct conv *cv)
{
	uint8_t buf[1600];
	size_t n;
	handshake(cv, 20);
	seg(cv, 20.1, true, P | A, tls13_ch, sizeof(tls13_ch));
	seg(cv, 40.2, false, P | A, tls13_sh, sizeof(tls13_sh));
	n = record(buf, 20, 1, 1);
	n += record(buf + n, 23, 53, 0xaa);  /* Finished */
	n += record(buf + n, 23, 120, 0xbb); /* the request */
	seg(cv, 40.4, true, P | A, buf, n);
	n = record(buf, 23, 250, 0xcc);
	n += record(buf + n, 23, 250, 0xcd);
	seg(cv, 60.5, false, P | A, buf, n);
	n = record(buf, 23, 300, 0xdd);
	seg(cv, 210.6, false, P | A, buf, n);
	seg(cv, 210.7, true, A, NULL, 0);
}

static void test_tls13_tickets_inferred(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 443, NULL, 0);
	tls13_conversation(&cv);
	conv_finish(&cv);
	const struct an_conn *c = &cv.got[0];
	assert_true(c->tls);
	assert_int_equal(c->tls_version, 0x0304);
	assert_false(c->hinted);
	assert_ms(c->rec.tls_server_ms, 0.1);
	assert_int_equal(c->n_ex, 1);
	const struct an_exchange *e = &c->ex[0];
	assert_int_equal(e->req_frame, 6);
	assert_int_equal(e->ack_frame, 7);
	assert_int_equal(e->resp_frame, 8);
	assert_int_equal(e->rec.ack_pattern, RUN_ACK_CONTROL);
	assert_ms(e->rec.ttfb_wire_ms, 170.2);
	assert_ms(e->rec.think_ms, 150.2);
	assert_int_equal(e->rec.think_quality, RUN_QUALITY_INFERRED);
	conv_free(&cv);
}

/* The same with the run's own record order: measured. */
static void test_tls13_tickets_hinted(void **state)
{
	(void)state;
	/* received: SH, CCS, EE, Cert, CV, Fin, ticket, ticket, response */
	static const uint8_t in_type[] = { 22, 20, 22, 22, 22, 22, 22, 22,
					   23 };
	static const uint8_t in_hs[] = { 2, 0, 8, 11, 15, 20, 4, 4, 0 };
	static const uint8_t out_type[] = { 22, 20, 22, 23 };
	static const uint32_t marks[] = { 9 };
	struct an_tls_hint h = {
		.cport = 40000, .sport = 443, .in_type = in_type,
		.in_hs = in_hs, .n_in = 9, .out_type = out_type, .n_out = 4,
		.resp_mark = marks, .n_marks = 1,
	};
	h.cli.family = h.srv.family = 4;
	memcpy(h.cli.a, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(h.srv.a, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	struct conv cv;
	conv_init(&cv, 443, &h, 1);
	tls13_conversation(&cv);
	conv_finish(&cv);
	const struct an_conn *c = &cv.got[0];
	assert_true(c->hinted);
	const struct an_exchange *e = &c->ex[0];
	assert_int_equal(e->resp_frame, 8);
	assert_ms(e->rec.think_ms, 150.2);
	assert_int_equal(e->rec.think_quality, RUN_QUALITY_MEASURED);
	conv_free(&cv);
}

/*
 * A response mark says the response is the 10th record: the 9th, of
 * type 23 like it (an HTTP/2 SETTINGS frame), is control.
 */
static void test_tls13_mark_skips_control(void **state)
{
	(void)state;
	static const uint8_t in_type[] = { 22, 20, 22, 22, 22, 22, 22, 22,
					   23, 23 };
	static const uint8_t out_type[] = { 22, 20, 22, 23 };
	static const uint32_t marks[] = { 10 };
	uint8_t zero[10] = { 0 };
	struct an_tls_hint h = {
		.cport = 40000, .sport = 443, .in_type = in_type, .in_hs = zero,
		.n_in = 10, .out_type = out_type, .n_out = 4,
		.resp_mark = marks, .n_marks = 1,
	};
	h.cli.family = h.srv.family = 4;
	memcpy(h.cli.a, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(h.srv.a, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	struct conv cv;
	conv_init(&cv, 443, &h, 1);
	tls13_conversation(&cv);
	uint8_t buf[400];
	size_t n = record(buf, 23, 300, 0xee);
	seg(&cv, 260, false, P | A, buf, n); /* frame 10: the response */
	conv_finish(&cv);
	const struct an_exchange *e = &cv.got[0].ex[0];
	assert_int_equal(e->resp_frame, 10);
	assert_ms(e->rec.ttfb_wire_ms, 219.6);
	conv_free(&cv);
}

/* A client close_notify after the response is no request. */
static void test_tls13_close_notify(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 443, NULL, 0);
	tls13_conversation(&cv);
	uint8_t buf[64];
	size_t n = record(buf, 23, 19, 0x11);
	seg(&cv, 300, true, P | A, buf, n);
	seg(&cv, 300, true, F | A, NULL, 0);
	conv_finish(&cv);
	assert_int_equal(cv.got[0].n_ex, 1);
	conv_free(&cv);
}

/* A plaintext alert from the server: TLS_ALERT with its frame. */
static void test_tls_alert(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 443, NULL, 0);
	handshake(&cv, 20);
	seg(&cv, 20.1, true, P | A, tls13_ch, sizeof(tls13_ch));
	static const uint8_t alert[] = { 21, 3, 3, 0, 2, 2, 40 };
	seg(&cv, 40.2, false, P | A, alert, sizeof(alert)); /* frame 5 */
	seg(&cv, 40.3, false, R | A, NULL, 0);
	conv_finish(&cv);
	const struct an_finding *f = finding(&cv.got[0], "TLS_ALERT");
	assert_non_null(f);
	assert_int_equal(f->frames[0], 5);
	assert_non_null(strstr(f->detail, "description 40"));
	conv_free(&cv);
}

/* ---- handshakes, resets ------------------------------------------------------ */

static void test_syn_no_synack(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 443, NULL, 0);
	uint32_t at = cv.c.seq;
	seg(&cv, 0, true, S, NULL, 0);
	seg_full(&cv, 1000, true, S, NULL, 0, &at, 0, 0, 65535);
	seg_full(&cv, 3000, true, S, NULL, 0, &at, 0, 0, 65535);
	conv_finish(&cv);
	const struct an_conn *c = &cv.got[0];
	assert_int_equal(c->rec.syn_retrans, 2);
	assert_true(isnan(c->rec.rtt_ms));
	const struct an_finding *f = finding(c, "SYN_NO_SYNACK");
	assert_non_null(f);
	assert_int_equal(f->n_frames, 3);
	assert_int_equal(f->frames[2], 3);
	conv_free(&cv);
}

static void test_tcp_refused(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 443, NULL, 0);
	seg(&cv, 0, true, S, NULL, 0);
	cv.s.seq = 0;
	seg(&cv, 0.05, false, R | A, NULL, 0);
	conv_finish(&cv);
	const struct an_finding *f = finding(&cv.got[0], "TCP_REFUSED");
	assert_non_null(f);
	assert_int_equal(f->frames[0], 1);
	assert_int_equal(f->frames[1], 2);
	assert_int_equal(cv.got[0].rec.rst, RUN_RST_SERVER);
	conv_free(&cv);
}

static void test_rst_midstream(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 80, NULL, 0);
	handshake(&cv, 20);
	seg(&cv, 21, true, P | A, req, sizeof(req) - 1);
	seg(&cv, 45, false, P | A, "HTTP/1.1 200 OK\r\n", 17);
	seg(&cv, 50, false, R | A, NULL, 0); /* frame 6 */
	conv_finish(&cv);
	const struct an_finding *f = finding(&cv.got[0], "RST_MIDSTREAM");
	assert_non_null(f);
	assert_int_equal(f->frames[0], 6);
	assert_null(finding(&cv.got[0], "RST_AFTER_HANDSHAKE"));
	conv_free(&cv);
}

/*
 * NAGLE_STALL: a small server segment after the request waits for our
 * delayed ACK (40 ms), and the response leaves the server only then.
 */
static void test_nagle_stall(void **state)
{
	(void)state;
	struct conv cv;
	conv_init(&cv, 80, NULL, 0);
	handshake(&cv, 20);
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	seg(&cv, 21, true, P | A, req, sizeof(req) - 1);
	seg(&cv, 41, false, P | A, cont, sizeof(cont) - 1); /* frame 5 */
	seg(&cv, 81, true, A, NULL, 0);          /* 6: our delayed ACK */
	seg(&cv, 101.2, false, P | A, resp, sizeof(resp) - 1); /* 7 */
	conv_finish(&cv);
	const struct an_finding *f = finding(&cv.got[0], "NAGLE_STALL");
	assert_non_null(f);
	assert_int_equal(f->n_frames, 3);
	assert_int_equal(f->frames[0], 5);
	assert_int_equal(f->frames[1], 6);
	assert_int_equal(f->frames[2], 7);
	conv_free(&cv);
}

/*
 * Streaming: a closed connection is handed over a second after its last
 * ACK, before the end of the capture, and a later one on the same ports
 * is a connection of its own; an idle one after two minutes.
 */
static void test_streaming(void **state)
{
	(void)state;
	struct conv cv;
	conv_init_opts(&cv, 80, NULL, 0, true);
	handshake(&cv, 20);
	seg(&cv, 21, true, P | A, req, sizeof(req) - 1);
	seg(&cv, 45, false, P | A, resp, sizeof(resp) - 1);
	seg(&cv, 46, true, F | A, NULL, 0);
	seg(&cv, 66, false, F | A, NULL, 0);
	seg(&cv, 66.1, true, A, NULL, 0);
	assert_int_equal(cv.n_got, 0);   /* kept a second for late ACKs */
	seg(&cv, 500, true, A, NULL, 0); /* a late duplicate ACK: counted */
	assert_int_equal(cv.n_got, 0);
	/* 2 s later the same ports open again */
	cv.c.seq += 100000;
	handshake_at(&cv, 2066, 20);
	assert_int_equal(cv.n_got, 1);
	assert_int_equal(cv.got[0].n_ex, 1);
	assert_int_equal(cv.got[0].last_frame, 9);
	/* the second goes silent: handed over after two minutes */
	seg(&cv, 2066 + 100000, false, A, NULL, 0); /* 100 s: still held */
	assert_int_equal(cv.n_got, 1);
	udp_noise(cv.a, 2066 + 250000);
	assert_int_equal(cv.n_got, 2);
	assert_int_equal(cv.got[1].first_frame, 10);
	conv_finish(&cv);
	assert_int_equal(cv.n_got, 2);
	conv_free(&cv);
}

/* ---- DNS -------------------------------------------------------------------- */

static void udp_frame(struct analyzer *a, bool query, const uint8_t *msg,
		      size_t len, double ms)
{
	uint8_t f[600];
	memset(f, 0, 42);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(28 + len));
	ip[8] = 64;
	ip[9] = 17;
	uint8_t c[4] = { 10, 0, 0, 1 }, s[4] = { 10, 0, 0, 53 };
	memcpy(ip + 12, query ? c : s, 4);
	memcpy(ip + 16, query ? s : c, 4);
	uint8_t *u = ip + 20;
	put16(u, query ? 33333 : 53);
	put16(u + 2, query ? 53 : 33333);
	put16(u + 4, (uint16_t)(8 + len));
	memcpy(u + 8, msg, len);
	uint32_t n = (uint32_t)(42 + len);
	assert_int_equal(analyzer_packet(a, 1, f, n, n,
					 T0 + (uint64_t)(ms * 1e6)),
			 0);
}

static void nop_conn(const struct an_conn *c, void *ctx)
{
	(void)c;
	(void)ctx;
}

static void test_dns(void **state)
{
	(void)state;
	/* id 0x1234 "a.test" A: query, retry, NXDOMAIN; id 0x4321 unanswered */
	uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
			1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };
	uint8_t r[sizeof(q)];
	memcpy(r, q, sizeof(q));
	r[2] = 0x81;
	r[3] = 0x83; /* QR, RD, RA, NXDOMAIN */
	uint8_t q2[sizeof(q)];
	memcpy(q2, q, sizeof(q));
	q2[0] = 0x43;
	q2[1] = 0x21;
	q2[13] = 'b';
	struct an_opts o = { .on_conn = nop_conn };
	struct analyzer *a = analyzer_new(&o);
	udp_frame(a, true, q, sizeof(q), 0);
	udp_frame(a, true, q, sizeof(q), 1000);
	udp_frame(a, false, r, sizeof(r), 1002.5);
	udp_frame(a, true, q2, sizeof(q2), 1100);
	assert_int_equal(analyzer_finish(a), 0);
	size_t n;
	const struct an_dns *d = analyzer_dns(a, &n);
	assert_int_equal(n, 2);
	assert_string_equal(d[0].qname, "a.test");
	assert_int_equal(d[0].tries, 2);
	assert_int_equal(d[0].rcode, 3);
	assert_int_equal(d[0].query_frame, 1);
	assert_int_equal(d[0].answer_frame, 3);
	assert_ms(d[0].ms, 1002.5);
	assert_int_equal(d[1].rcode, -1);
	struct an_finding f[4];
	assert_int_equal(analyzer_findings(a, f, 4), 2);
	assert_string_equal(f[0].code, "DNS_NXDOMAIN");
	assert_int_equal(f[0].frames[1], 3);
	assert_string_equal(f[1].code, "DNS_NO_RESPONSE");
	assert_int_equal(f[1].frames[0], 4);
	analyzer_free(a);
}

/* Garbage never crashes it and is counted. */
static void test_garbage(void **state)
{
	(void)state;
	struct an_opts o = { .on_conn = nop_conn };
	struct analyzer *a = analyzer_new(&o);
	uint8_t junk[64];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	for (uint32_t len = 0; len <= sizeof(junk); len++)
		assert_int_equal(analyzer_packet(a, 1, junk, len, len, T0), 0);
	struct an_counts c;
	analyzer_counts(a, &c);
	assert_int_equal(c.frames, sizeof(junk) + 1);
	assert_int_equal(analyzer_finish(a), 0);
	analyzer_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_separate_ack),
		cmocka_unit_test(test_http_piggybacked),
		cmocka_unit_test(test_http_interim),
		cmocka_unit_test(test_http_request_retransmitted),
		cmocka_unit_test(test_http_keepalive_delayed_ack),
		cmocka_unit_test(test_http_inconsistent),
		cmocka_unit_test(test_exchanges_beyond_cap),
		cmocka_unit_test(test_tls13_tickets_inferred),
		cmocka_unit_test(test_tls13_tickets_hinted),
		cmocka_unit_test(test_tls13_mark_skips_control),
		cmocka_unit_test(test_tls13_close_notify),
		cmocka_unit_test(test_tls_alert),
		cmocka_unit_test(test_syn_no_synack),
		cmocka_unit_test(test_tcp_refused),
		cmocka_unit_test(test_rst_midstream),
		cmocka_unit_test(test_nagle_stall),
		cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
