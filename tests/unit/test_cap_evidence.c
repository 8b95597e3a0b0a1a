/*
 * test_cap_evidence.c: a run's escalation file (cap_evidence.c with
 * packet/dec_redact.c) from frames built here (Ethernet, IPv4, TCP or
 * UDP): planted secrets of a cleartext HTTP exchange never reach the
 * file, key log or not; a TLS connection with several records per
 * segment, a record spanning segments, a header split across segments,
 * an out-of-order and a retransmitted segment keeps every record header
 * (read back with cap_file and dec_tls: the same types and lengths) and
 * zero bodies, or with a key log stays byte for byte what it was, with
 * the DSB readable by cap_file_keylog; a hole zeroes the rest; DNS whole;
 * ICMP quotes cut after the quoted headers; comments joined; modes,
 * sha256, refused run ids and directories.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "capture/cap_evidence.h"
#include "capture/cap_file.h"
#include "packet/dec.h"
#include "packet/dec_tls.h"

#define T0 (1700000000ull * 1000000000ull)
#define MAXF 64

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_cap_evidence.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- frames -------------------------------------------------------------- */

struct frames {
	struct cap_ev_frame f[MAXF];
	uint8_t buf[MAXF][2048];
	size_t n;
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

enum { F = 0x01, S = 0x02, P = 0x08, A = 0x10 };

static uint8_t *ip_frame(struct frames *fs, bool c2s, uint8_t proto,
			 size_t l4len)
{
	assert_true(fs->n < MAXF);
	uint8_t *f = fs->buf[fs->n];
	memset(f, 0, 34);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	ip[8] = 64;
	ip[9] = proto;
	uint8_t c[4] = { 10, 0, 0, 1 }, s[4] = { 10, 0, 0, 2 };
	memcpy(ip + 12, c2s ? c : s, 4);
	memcpy(ip + 16, c2s ? s : c, 4);
	uint32_t n = (uint32_t)(34 + l4len);
	fs->f[fs->n] = (struct cap_ev_frame){ .ts_ns = T0 + fs->n * 1000000ull,
					      .data = f, .caplen = n,
					      .len = n };
	fs->n++;
	return ip + 20;
}

/* A TCP segment 10.0.0.1:40000 <-> 10.0.0.2:sport, 20-byte header. */
static void tcp(struct frames *fs, bool c2s, uint16_t sport, uint8_t flags,
		uint32_t seq, const void *data, size_t len)
{
	uint8_t *t = ip_frame(fs, c2s, 6, 20 + len);
	memset(t, 0, 20);
	put16(t, c2s ? 40000 : sport);
	put16(t + 2, c2s ? sport : 40000);
	put32(t + 4, seq);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 65535);
	if (len)
		memcpy(t + 20, data, len);
}

static void udp(struct frames *fs, bool c2s, uint16_t sport,
		const void *data, size_t len)
{
	uint8_t *u = ip_frame(fs, c2s, 17, 8 + len);
	put16(u, c2s ? 40001 : sport);
	put16(u + 2, c2s ? sport : 40001);
	put16(u + 4, (uint16_t)(8 + len));
	put16(u + 6, 0);
	memcpy(u + 8, data, len);
}

static const struct cap_ev_iface eth = { "lo", 1 };

static void in_init(struct cap_ev_in *in, const struct frames *fs,
		    const char *run_id)
{
	memset(in, 0, sizeof(*in));
	in->spool = dir;
	in->run_id = run_id;
	in->ifaces = &eth;
	in->n_ifaces = 1;
	in->frames = fs->f;
	in->n_frames = fs->n;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t *b = malloc(1 << 20);
	assert_non_null(b);
	*len = fread(b, 1, 1 << 20, f);
	fclose(f);
	return b;
}

static bool file_has(const char *path, const char *s)
{
	size_t n;
	uint8_t *b = slurp(path, &n);
	bool found = memmem(b, n, s, strlen(s)) != NULL;
	free(b);
	return found;
}

/* Read a written file back: frames into *out (data copied). */
static void read_back(const char *path, struct frames *out, char **keylog)
{
	struct errbuf e;
	struct cap_file *f = cap_file_open(path, &e);
	assert_non_null(f);
	uint64_t ts;
	const uint8_t *d;
	uint32_t caplen, len;
	int r;
	out->n = 0;
	while ((r = cap_file_next(f, &ts, &d, &caplen, &len, &e)) == 1) {
		assert_true(out->n < MAXF && caplen <= sizeof(out->buf[0]));
		memcpy(out->buf[out->n], d, caplen);
		out->f[out->n] = (struct cap_ev_frame){
			.ts_ns = ts, .data = out->buf[out->n],
			.caplen = caplen, .len = len };
		out->n++;
	}
	assert_int_equal(r, 0);
	if (keylog) {
		const char *k = cap_file_keylog(f);
		*keylog = k ? strdup(k) : NULL;
	}
	cap_file_close(f);
}

/* ---- cleartext HTTP ---------------------------------------------------- */

static const char http_req[] =
	"POST /login HTTP/1.1\r\nHost: x\r\n"
	"Authorization: Bearer SECRET-PLANTED-1\r\n"
	"Content-Length: 25\r\n\r\n";
static const char http_body[] = "password=SECRET-PLANTED-2";
static const char http_resp[] =
	"HTTP/1.1 200 OK\r\nSet-Cookie: s=SECRET-PLANTED-3\r\n\r\n";

static void http_conv(struct frames *fs)
{
	uint32_t c = 1000, s = 5000;
	tcp(fs, true, 80, S, c, NULL, 0);
	tcp(fs, false, 80, S | A, s, NULL, 0);
	tcp(fs, true, 80, A, c + 1, NULL, 0);
	tcp(fs, true, 80, P | A, c + 1, http_req, sizeof(http_req) - 1);
	tcp(fs, true, 80, P | A, c + 1 + (uint32_t)sizeof(http_req) - 1,
	    http_body, sizeof(http_body) - 1);
	/* a retransmission of the request */
	tcp(fs, true, 80, P | A, c + 1, http_req, sizeof(http_req) - 1);
	tcp(fs, false, 80, P | A, s + 1, http_resp, sizeof(http_resp) - 1);
}

static void test_cap_evidence_http_no_secret(void **state)
{
	(void)state;
	static struct frames fs, back;
	fs.n = 0;
	http_conv(&fs);
	static const char *const ids[] = { "http-plain", "http-keylog" };
	for (int k = 0; k < 2; k++) {
		struct cap_ev_in in;
		struct cap_ev_out out;
		struct errbuf e;
		in_init(&in, &fs, ids[k]);
		if (k) {
			in.keylog = "CLIENT_RANDOM 00 11\n";
			in.keylog_len = strlen(in.keylog);
		}
		assert_int_equal(cap_evidence_write(&in, &out, &e), 0);
		assert_false(file_has(out.path, "SECRET-PLANTED"));
		assert_false(file_has(out.path, "Bearer"));
		assert_int_equal(out.redacted,
				 2 * (sizeof(http_req) - 1) +
					 sizeof(http_body) - 1 +
					 sizeof(http_resp) - 1);
		read_back(out.path, &back, NULL);
		assert_int_equal(back.n, fs.n);
		for (size_t i = 0; i < fs.n; i++) {
			/* headers only, the wire length kept */
			assert_int_equal(back.f[i].caplen, 54);
			assert_int_equal(back.f[i].len, fs.f[i].len);
			assert_memory_equal(back.f[i].data, fs.f[i].data, 54);
		}
		cap_ev_out_release(&out);
	}
}

/* ---- TLS ----------------------------------------------------------------- */

/* A record of type and length, body bytes fill (non-zero). */
static size_t record(uint8_t *o, uint8_t type, uint16_t len, uint8_t fill)
{
	o[0] = type;
	o[1] = 3;
	o[2] = 3;
	put16(o + 3, len);
	memset(o + 5, fill, len);
	return 5u + len;
}

#define SEG_B_END 118

struct tls_case {
	struct frames fs;
	uint8_t srv[1024]; /* the server's stream */
	size_t srv_len;
};

/*
 * Client: SYN, ClientHello record (one segment).  Server stream: a
 * handshake record (60), CCS (1), appdata (40), appdata (30), alert (2)
 * cut into segments A = [0, 90) (two records and part of the third),
 * B = [90, 118) (ends 2 bytes into the fourth header, at 116), C = [118,
 * rest); sent as
 * A, C (out of order), B, B again (retransmitted).
 */
static void tls_conv(struct tls_case *tc, bool hole)
{
	struct frames *fs = &tc->fs;
	uint32_t c = 7000, s = 0xfffffff0u; /* the server wraps */
	uint8_t ch[5 + 100];
	size_t chl = record(ch, 22, 100, 0x41);
	ch[5] = 1; /* ClientHello */
	fs->n = 0;
	tcp(fs, true, 443, S, c, NULL, 0);
	tcp(fs, false, 443, S | A, s, NULL, 0);
	tcp(fs, true, 443, A, c + 1, NULL, 0);
	tcp(fs, true, 443, P | A, c + 1, ch, chl);
	size_t n = 0;
	n += record(tc->srv + n, 22, 60, 0x42);
	n += record(tc->srv + n, 20, 1, 0x01);
	n += record(tc->srv + n, 23, 40, 0x43);
	n += record(tc->srv + n, 23, 30, 0x44);
	n += record(tc->srv + n, 21, 2, 0x45);
	tc->srv_len = n;
	size_t a = 90, b = SEG_B_END;
	uint32_t s1 = s + 1;
	tcp(fs, false, 443, P | A, s1, tc->srv, a);
	tcp(fs, false, 443, P | A, s1 + (uint32_t)b, tc->srv + b, n - b);
	if (!hole)
		tcp(fs, false, 443, P | A, s1 + (uint32_t)a, tc->srv + a,
		    b - a);
	tcp(fs, false, 443, P | A, s1 + (uint32_t)a, tc->srv + a, b - a);
	tcp(fs, true, 443, F | A, c + 1 + (uint32_t)chl, NULL, 0);
}

struct rec_list {
	uint8_t type[32];
	uint16_t len[32];
	size_t n;
};

static void on_rec(const struct dec_tls_record *r, void *ctx)
{
	struct rec_list *l = ctx;
	assert_true(l->n < 32);
	l->type[l->n] = r->type;
	l->len[l->n++] = r->length;
}

/*
 * One direction's stream rebuilt from frames by sequence number (the
 * first copy of each byte wins: retransmissions must agree anyway), its
 * records listed by dec_tls, *covered bytes placed.
 */
static void stream_of(const struct frames *fs, bool server, uint8_t *st,
		      size_t cap, size_t *covered, struct rec_list *l)
{
	uint32_t base = 0;
	bool have_base = false;
	memset(st, 0, cap);
	*covered = 0;
	for (size_t i = 0; i < fs->n; i++) {
		struct dec_pkt p;
		dec_packet(1, fs->f[i].data, fs->f[i].caplen, fs->f[i].len,
			   &p);
		if (p.l4 != DEC_L_TCP || (p.sport == 443) != server)
			continue;
		if (p.tcp.flags & DEC_TH_SYN) {
			base = p.tcp.seq + 1;
			have_base = true;
			continue;
		}
		assert_true(have_base);
		uint32_t rel = p.tcp.seq - base;
		if (!p.payload_len)
			continue;
		assert_true(rel + p.payload_len <= cap);
		memcpy(st + rel, p.payload, p.payload_len);
		if (rel + p.payload_len > *covered)
			*covered = rel + p.payload_len;
	}
	struct dec_tls_stream ts;
	dec_tls_stream_init(&ts);
	l->n = 0;
	dec_tls_stream_feed(&ts, st, *covered, 1, 0, on_rec, l);
}

static void test_cap_evidence_tls_headers(void **state)
{
	(void)state;
	static struct tls_case tc;
	static struct frames back;
	tls_conv(&tc, false);
	struct cap_ev_in in;
	struct cap_ev_out out;
	struct errbuf e;
	in_init(&in, &tc.fs, "tls-1");
	assert_int_equal(cap_evidence_write(&in, &out, &e), 0);
	assert_int_equal(out.layout_lost, 0);
	read_back(out.path, &back, NULL);
	assert_int_equal(back.n, tc.fs.n);
	for (int server = 0; server < 2; server++) {
		uint8_t a[1024], b[1024];
		size_t na, nb;
		struct rec_list la, lb;
		stream_of(&tc.fs, server, a, sizeof(a), &na, &la);
		stream_of(&back, server, b, sizeof(b), &nb, &lb);
		assert_int_equal(na, nb);
		assert_int_equal(la.n, server ? 5 : 1);
		assert_int_equal(la.n, lb.n);
		assert_memory_equal(la.type, lb.type, la.n);
		assert_memory_equal(la.len, lb.len, la.n * sizeof(la.len[0]));
		/* headers as they were, every body byte zero */
		size_t off = 0, zero_bodies = 0;
		for (size_t r = 0; r < lb.n; r++) {
			assert_memory_equal(a + off, b + off, 5);
			for (size_t j = 0; j < lb.len[r]; j++)
				zero_bodies += b[off + 5 + j] == 0;
			off += 5u + lb.len[r];
		}
		assert_int_equal(off, nb);
		assert_int_equal(zero_bodies, nb - 5 * lb.n);
	}
	/* caplen unchanged; the retransmission like its original */
	for (size_t i = 0; i < tc.fs.n; i++)
		assert_int_equal(back.f[i].caplen, tc.fs.f[i].caplen);
	assert_memory_equal(back.f[6].data, back.f[7].data, back.f[7].caplen);
	/* the bodies, and the retransmitted copy of [90, 116) again */
	assert_int_equal(out.redacted,
			 100 + 60 + 1 + 40 + 30 + 2 + (116 - 90));
	cap_ev_out_release(&out);

	/* with a key log: every byte as it was, the DSB readable */
	static const char keys[] = "CLIENT_RANDOM 0011 2233\n";
	in_init(&in, &tc.fs, "tls-keylog");
	in.keylog = keys;
	in.keylog_len = sizeof(keys) - 1;
	assert_int_equal(cap_evidence_write(&in, &out, &e), 0);
	assert_int_equal(out.redacted, 0);
	char *kl = NULL;
	read_back(out.path, &back, &kl);
	assert_non_null(kl);
	assert_string_equal(kl, keys);
	free(kl);
	assert_int_equal(back.n, tc.fs.n);
	for (size_t i = 0; i < tc.fs.n; i++) {
		assert_int_equal(back.f[i].caplen, tc.fs.f[i].caplen);
		assert_memory_equal(back.f[i].data, tc.fs.f[i].data,
				    tc.fs.f[i].caplen);
	}
	cap_ev_out_release(&out);
}

/* A hole in the server's stream: everything after it is zeroed. */
static void test_cap_evidence_tls_hole(void **state)
{
	(void)state;
	static struct tls_case tc;
	static struct frames back;
	tls_conv(&tc, true);
	/* drop the retransmission too: [90, 118) never captured */
	memmove(&tc.fs.f[6], &tc.fs.f[7], sizeof(tc.fs.f[0]));
	tc.fs.n--;
	struct cap_ev_in in;
	struct cap_ev_out out;
	struct errbuf e;
	in_init(&in, &tc.fs, "tls-hole");
	assert_int_equal(cap_evidence_write(&in, &out, &e), 0);
	assert_int_equal(out.layout_lost, 1);
	read_back(out.path, &back, NULL);
	/* segment C (frame 6) lies after the hole: all zero */
	struct dec_pkt p;
	dec_packet(1, back.f[5].data, back.f[5].caplen, back.f[5].len, &p);
	assert_int_equal(p.payload_len, tc.srv_len - SEG_B_END);
	for (size_t j = 0; j < p.payload_len; j++)
		assert_int_equal(p.payload[j], 0);
	/* segment A keeps its three headers and the fourth's start */
	dec_packet(1, back.f[4].data, back.f[4].caplen, back.f[4].len, &p);
	assert_memory_equal(p.payload, tc.srv, 5);
	assert_memory_equal(p.payload + 65, tc.srv + 65, 5);
	assert_memory_equal(p.payload + 71, tc.srv + 71, 5);
	cap_ev_out_release(&out);
}

/* ---- DNS, other UDP, comments, the file ---------------------------------- */

static void test_cap_evidence_dns_comments_file(void **state)
{
	(void)state;
	static struct frames fs, back;
	static const uint8_t q[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
				     7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
				     'c', 'o', 'm', 0, 0, 1, 0, 1 };
	fs.n = 0;
	udp(&fs, true, 53, q, sizeof(q));
	udp(&fs, true, 5353, q, sizeof(q));
	udp(&fs, true, 9999, "SECRET-PLANTED-4", 16);
	http_conv(&fs);
	static const struct cap_ev_comment cm[] = {
		{ 5, "RETRANSMISSIONS: 1 retransmitted" },
		{ 1, "DNS_NXDOMAIN: first" },
		{ 5, "SLOW_SERVER: second" },
	};
	static const uint16_t ports[] = { 53, 5353 };
	struct cap_ev_in in;
	struct cap_ev_out out;
	struct errbuf e;
	in_init(&in, &fs, "run-1.a_b");
	in.comments = cm;
	in.n_comments = 3;
	in.dns_ports = ports;
	in.n_dns_ports = 2;
	assert_int_equal(cap_evidence_write(&in, &out, &e), 0);
	char want[256];
	snprintf(want, sizeof(want), "%s/pcaps/run-1.a_b.pcapng", dir);
	assert_string_equal(out.path, want);
	assert_false(file_has(out.path, "SECRET-PLANTED"));
	assert_true(file_has(out.path, "DNS_NXDOMAIN: first"));
	assert_true(file_has(out.path, "RETRANSMISSIONS: 1 retransmitted; "
					"SLOW_SERVER: second"));
	read_back(out.path, &back, NULL);
	assert_int_equal(back.n, fs.n);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(back.f[i].caplen, fs.f[i].caplen);
		assert_memory_equal(back.f[i].data, fs.f[i].data,
				    fs.f[i].caplen);
	}
	assert_int_equal(back.f[2].caplen, 42);
	assert_int_equal(back.f[2].len, fs.f[2].len);

	/* modes, size, sha256 */
	struct stat st;
	assert_int_equal(stat(out.path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal((uint64_t)st.st_size, out.bytes);
	snprintf(want, sizeof(want), "%s/pcaps", dir);
	assert_int_equal(stat(want, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	size_t n;
	uint8_t *b = slurp(out.path, &n);
	assert_int_equal(n, out.bytes);
	unsigned char md[32];
	unsigned mdl;
	assert_int_equal(EVP_Digest(b, n, md, &mdl, EVP_sha256(), NULL), 1);
	free(b);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(out.sha256, hex);

	/* the same run id again: O_EXCL, the path named */
	struct cap_ev_out out2;
	assert_int_equal(cap_evidence_write(&in, &out2, &e), PE_IO);
	assert_non_null(strstr(e.msg, out.path));
	cap_ev_out_release(&out2);
	cap_ev_out_release(&out);
}

/*
 * An ICMP error quoting a cleartext segment whole (as Linux and routers
 * do, up to 576 bytes): the quote is cut after its IP header and 8 bytes
 * of TCP, which still name the flow.  An echo keeps its 8-byte header.
 */
static void test_cap_evidence_icmp(void **state)
{
	(void)state;
	static struct frames fs, back;
	static const char secret[] = "SECRET-PLANTED-5";
	fs.n = 0;
	size_t ql = 20 + 20 + sizeof(secret) - 1;
	uint8_t *ic = ip_frame(&fs, false, 1, 8 + ql);
	memset(ic, 0, 8 + ql);
	ic[0] = 3;
	ic[1] = 4; /* frag needed */
	put16(ic + 6, 1400);
	uint8_t *q = ic + 8;
	q[0] = 0x45;
	put16(q + 2, (uint16_t)ql);
	q[8] = 64;
	q[9] = 6;
	uint8_t c[4] = { 10, 0, 0, 1 }, sv[4] = { 10, 0, 0, 2 };
	memcpy(q + 12, c, 4);
	memcpy(q + 16, sv, 4);
	put16(q + 20, 40000);
	put16(q + 22, 80);
	put32(q + 24, 1234);
	q[32] = 5 << 4;
	memcpy(q + 40, secret, sizeof(secret) - 1);
	uint8_t *echo = ip_frame(&fs, true, 1, 8 + 16);
	memset(echo, 0, 8);
	echo[0] = 8;
	memcpy(echo + 8, secret, 16);
	struct cap_ev_in in;
	struct cap_ev_out out;
	struct errbuf e;
	in_init(&in, &fs, "icmp");
	assert_int_equal(cap_evidence_write(&in, &out, &e), 0);
	assert_false(file_has(out.path, "SECRET-PLANTED"));
	read_back(out.path, &back, NULL);
	assert_int_equal(back.n, 2);
	assert_int_equal(back.f[0].caplen, 34 + 8 + 20 + 8);
	assert_int_equal(back.f[1].caplen, 34 + 8);
	assert_int_equal(out.redacted, 2 * 16 + 12);
	struct dec_pkt p;
	dec_packet(1, back.f[0].data, back.f[0].caplen, back.f[0].len, &p);
	assert_true(p.icmp.has_quote);
	assert_true(p.icmp.quote.has_ports);
	assert_int_equal(p.icmp.quote.dport, 80);
	assert_int_equal(p.icmp.quote.tcp_seq, 1234);
	cap_ev_out_release(&out);
}

static void test_cap_evidence_refused(void **state)
{
	(void)state;
	static struct frames fs;
	fs.n = 0;
	udp(&fs, true, 53, "x", 1);
	static const char *const bad[] = { "a/b", "..", "../x", "", ".hid",
					   "a..b", "a b", "x\n" };
	struct cap_ev_in in;
	struct cap_ev_out out;
	struct errbuf e;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in_init(&in, &fs, bad[i]);
		assert_int_equal(cap_evidence_write(&in, &out, &e), PE_INVAL);
		assert_null(out.path);
	}
	/* a comment on a frame that does not exist */
	struct cap_ev_comment cm = { 2, "x" };
	in_init(&in, &fs, "ok");
	in.comments = &cm;
	in.n_comments = 1;
	assert_int_equal(cap_evidence_write(&in, &out, &e), PE_INVAL);
	cap_ev_out_release(&out);
	/* SPOOL/pcaps open to others: refused, left as it is */
	char sp[128], pc[160];
	snprintf(sp, sizeof(sp), "%s/open", dir);
	snprintf(pc, sizeof(pc), "%s/pcaps", sp);
	assert_int_equal(mkdir(sp, 0755), 0);
	assert_int_equal(mkdir(pc, 0700), 0);
	assert_int_equal(chmod(pc, 0750), 0);
	in_init(&in, &fs, "ok");
	in.spool = sp;
	assert_int_equal(cap_evidence_write(&in, &out, &e), PE_PERM);
	assert_non_null(strstr(e.msg, "group/other"));
	cap_ev_out_release(&out);
	struct stat st;
	assert_int_equal(stat(pc, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(chmod(pc, 0700), 0);
	assert_int_equal(cap_evidence_write(&in, &out, &e), 0);
	cap_ev_out_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_evidence_http_no_secret),
		cmocka_unit_test(test_cap_evidence_tls_headers),
		cmocka_unit_test(test_cap_evidence_tls_hole),
		cmocka_unit_test(test_cap_evidence_dns_comments_file),
		cmocka_unit_test(test_cap_evidence_icmp),
		cmocka_unit_test(test_cap_evidence_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
