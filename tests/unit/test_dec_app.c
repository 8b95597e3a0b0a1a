/*
 * test_dec_app.c: the application-layer decoders, DNS (dec_dns.c) and the
 * TLS record stream (dec_tls.c).  DNS messages are crafted here (good
 * ones and malicious ones); the TLS bytes are real (tls_samples.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet/dec_dns.h"
#include "packet/dec_tls.h"

/* ---- vectors ------------------------------------------------------------ */
static const uint8_t dns_query[40] = {
	0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
	0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
};
static const uint8_t dns_a[72] = {
	0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
	0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
	0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00,
	0x00, 0x01, 0x2c, 0x00, 0x04, 0x5d, 0xb8, 0xd8, 0x22, 0xc0, 0x0c, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0x01, 0x02, 0x03,
	0x04, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t dns_aaaa[57] = {
	0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
	0x00, 0x00, 0x1c, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x1c, 0x00, 0x01, 0x00,
	0x00, 0x00, 0x3c, 0x00, 0x10, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
};
static const uint8_t dns_cname[86] = {
	0x0a, 0x0b, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
	0x03, 0x77, 0x77, 0x77, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
	0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00,
	0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x06, 0x03, 0x63, 0x64,
	0x6e, 0xc0, 0x10, 0xc0, 0x2d, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x3c, 0x00, 0x07, 0x04, 0x65, 0x64, 0x67, 0x65, 0xc0, 0x2d, 0xc0, 0x3f,
	0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 0xc6, 0x12,
	0x00, 0x07,
};
static const uint8_t dns_nxdomain[84] = {
	0x55, 0x55, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	0x04, 0x6e, 0x6f, 0x70, 0x65, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
	0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x11,
	0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x26, 0x02, 0x6e,
	0x73, 0xc0, 0x0c, 0x0a, 0x68, 0x6f, 0x73, 0x74, 0x6d, 0x61, 0x73, 0x74,
	0x65, 0x72, 0xc0, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x05,
};
static const uint8_t dns_tc[29] = {
	0x77, 0x77, 0x83, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
	0x00, 0x00, 0x01, 0x00, 0x01,
};
static const uint8_t dns_badvers[40] = {
	0x00, 0x01, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
	0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x01, 0x00,
	0x00, 0x00, 0x00, 0x00,
};
static const uint8_t dns_odd[24] = {
	0x00, 0x02, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x04, 0x61, 0x2e, 0x62, 0x01, 0x01, 0x5c, 0x00, 0x00, 0x10, 0x00, 0x01,
};
static const uint8_t dns_ptr_self[18] = {
	0x00, 0x03, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01,
};
static const uint8_t dns_ptr_fwd[21] = {
	0x00, 0x04, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xc0, 0x12, 0x00, 0x01, 0x00, 0x01, 0x01, 0x61, 0x00,
};
static const uint8_t dns_ptr_loop[45] = {
	0x00, 0x05, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
	0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x2b, 0x00, 0x05, 0x00, 0x01, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x04, 0x01, 0x78, 0xc0, 0x1d,
};
static const uint8_t dns_label64[82] = {
	0x00, 0x06, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x40, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x61, 0x00, 0x00, 0x01, 0x00, 0x01,
};
static const uint8_t dns_label63[81] = {
	0x00, 0x06, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x3f, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
	0x61, 0x61, 0x61, 0x61, 0x00, 0x00, 0x01, 0x00, 0x01,
};
static const uint8_t dns_long[273] = {
	0x00, 0x07, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x3f, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x3f, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x3f, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x3f, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
	0x62, 0x62, 0x62, 0x62, 0x00, 0x00, 0x01, 0x00, 0x01,
};
static const uint8_t dns_a_badlen[44] = {
	0x00, 0x08, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
	0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00,
	0x00, 0x01, 0x2c, 0x00, 0x03, 0x01, 0x02, 0x03,
};
#include "tls_samples.h"

/* ---- DNS ---------------------------------------------------------------- */

static void test_dns_query(void **state)
{
	(void)state;
	struct dec_dns d;
	assert_int_equal(dec_dns_parse(dns_query, sizeof(dns_query), false, &d),
			 DEC_OK);
	assert_int_equal(d.id, 0x1234);
	assert_false(d.qr);
	assert_true(d.rd);
	assert_int_equal(d.qdcount, 1);
	assert_int_equal(d.arcount, 1);
	assert_true(d.has_question);
	assert_string_equal(d.qname, "example.com");
	assert_int_equal(d.qtype, DEC_DNS_T_A);
	assert_int_equal(d.qclass, 1);
	assert_true(d.has_edns);
	assert_int_equal(d.edns_udp_size, 1232);
	assert_int_equal(d.used, sizeof(dns_query));
}

static void test_dns_a_aaaa(void **state)
{
	(void)state;
	struct dec_dns d;
	assert_int_equal(dec_dns_parse(dns_a, sizeof(dns_a), false, &d),
			 DEC_OK);
	assert_true(d.qr);
	assert_true(d.ra);
	assert_int_equal(d.rcode, 0);
	assert_int_equal(d.ancount, 2);
	assert_int_equal(d.n_answers, 2);
	assert_int_equal(d.n_addrs, 2);
	assert_int_equal(d.addrs[0].family, 4);
	const uint8_t a0[4] = { 93, 184, 216, 34 }, a1[4] = { 1, 2, 3, 4 };
	assert_memory_equal(d.addrs[0].a, a0, 4);
	assert_memory_equal(d.addrs[1].a, a1, 4);

	assert_int_equal(dec_dns_parse(dns_aaaa, sizeof(dns_aaaa), false, &d),
			 DEC_OK);
	assert_int_equal(d.id, 0xbeef);
	assert_int_equal(d.qtype, DEC_DNS_T_AAAA);
	assert_int_equal(d.n_addrs, 1);
	assert_int_equal(d.addrs[0].family, 6);
	assert_int_equal(d.addrs[0].a[0], 0x20);
	assert_int_equal(d.addrs[0].a[15], 1);
}

static void test_dns_cname_chain(void **state)
{
	(void)state;
	struct dec_dns d;
	assert_int_equal(dec_dns_parse(dns_cname, sizeof(dns_cname), false,
				       &d), DEC_OK);
	assert_string_equal(d.qname, "www.example.com");
	assert_int_equal(d.n_answers, 3);
	assert_int_equal(d.n_addrs, 1);
	const uint8_t a[4] = { 198, 18, 0, 7 };
	assert_memory_equal(d.addrs[0].a, a, 4);
}

static void test_dns_rcodes_tc(void **state)
{
	(void)state;
	struct dec_dns d;
	assert_int_equal(dec_dns_parse(dns_nxdomain, sizeof(dns_nxdomain),
				       false, &d), DEC_OK);
	assert_int_equal(d.rcode, 3);
	assert_int_equal(d.nscount, 1);
	assert_int_equal(d.n_answers, 0);
	assert_string_equal(d.qname, "nope.example.com");

	assert_int_equal(dec_dns_parse(dns_tc, sizeof(dns_tc), false, &d),
			 DEC_OK);
	assert_true(d.tc);
	assert_int_equal(d.id, 0x7777);

	/* EDNS extended RCODE 1 << 4: BADVERS (16) */
	assert_int_equal(dec_dns_parse(dns_badvers, sizeof(dns_badvers),
				       false, &d), DEC_OK);
	assert_true(d.has_edns);
	assert_int_equal(d.rcode, 16);
}

static void test_dns_presentation(void **state)
{
	(void)state;
	struct dec_dns d;
	assert_int_equal(dec_dns_parse(dns_odd, sizeof(dns_odd), false, &d),
			 DEC_OK);
	assert_string_equal(d.qname, "a\\.b\\001.\\\\");
	assert_int_equal(dec_dns_parse(dns_label63, sizeof(dns_label63), false,
				       &d), DEC_OK);
	assert_int_equal(strlen(d.qname), 63);
	/* a root query */
	uint8_t root[17] = { 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2,
			     0, 1 };
	assert_int_equal(dec_dns_parse(root, sizeof(root), false, &d), DEC_OK);
	assert_string_equal(d.qname, ".");
	assert_int_equal(d.qtype, DEC_DNS_T_NS);
}

static void test_dns_tcp(void **state)
{
	(void)state;
	uint8_t buf[2 * (sizeof(dns_a) + 2)];
	size_t n = sizeof(dns_a);
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, dns_a, n);
	memcpy(buf + 2 + n, buf, n + 2); /* a second message behind it */
	struct dec_dns d;
	assert_int_equal(dec_dns_parse(buf, sizeof(buf), true, &d), DEC_OK);
	assert_int_equal(d.used, n + 2);
	assert_int_equal(d.n_addrs, 2);
	assert_int_equal(dec_dns_parse(buf + d.used, sizeof(buf) - d.used,
				       true, &d), DEC_OK);
	assert_int_equal(d.id, 0x1234);
	/* part of a message: TRUNC, used says how much to wait for */
	assert_int_equal(dec_dns_parse(buf, n, true, &d), DEC_TRUNC);
	assert_int_equal(d.used, n + 2);
	assert_int_equal(dec_dns_parse(buf, 1, true, &d), DEC_TRUNC);
	assert_int_equal(d.used, 0);
	/* a length below a header */
	const uint8_t small[4] = { 0, 2, 0, 0 };
	assert_int_equal(dec_dns_parse(small, sizeof(small), true, &d),
			 DEC_INVALID);
}

/*
 * Answer 1: the root name, an RDATA of `hops - 1` pointers, each to the
 * one before (the first to answer 1's name); answer 2's name points at
 * the last one: `hops` pointers to follow.
 */
static int ptr_chain(unsigned hops, struct dec_dns *d)
{
	static uint8_t m[12 + 11 + 2 * 256 + 2 + 10];
	memset(m, 0, sizeof(m));
	m[7] = 2; /* ancount */
	size_t at = 12;
	m[at] = 0; /* root name */
	m[at + 2] = 99; /* type */
	m[at + 4] = 1;  /* class */
	size_t rdlen = 2 * (size_t)(hops - 1);
	m[at + 9] = (uint8_t)(rdlen >> 8);
	m[at + 10] = (uint8_t)rdlen;
	size_t rd = at + 11, prev = at;
	for (size_t i = 0; i < hops - 1; i++) {
		m[rd + 2 * i] = (uint8_t)(0xc0 | (prev >> 8));
		m[rd + 2 * i + 1] = (uint8_t)prev;
		prev = rd + 2 * i;
	}
	size_t a2 = rd + rdlen;
	m[a2] = (uint8_t)(0xc0 | (prev >> 8));
	m[a2 + 1] = (uint8_t)prev;
	m[a2 + 3] = 99;
	m[a2 + 5] = 1;
	return dec_dns_parse(m, a2 + 12, false, d);
}

static void test_dns_malicious(void **state)
{
	(void)state;
	struct dec_dns d;
	assert_int_equal(dec_dns_parse(dns_ptr_self, sizeof(dns_ptr_self),
				       false, &d), DEC_INVALID);
	assert_int_equal(dec_dns_parse(dns_ptr_fwd, sizeof(dns_ptr_fwd), false,
				       &d), DEC_INVALID);
	assert_int_equal(dec_dns_parse(dns_ptr_loop, sizeof(dns_ptr_loop),
				       false, &d), DEC_INVALID);
	assert_string_equal(d.qname, "example.com"); /* decoded before */
	assert_int_equal(dec_dns_parse(dns_label64, sizeof(dns_label64), false,
				       &d), DEC_INVALID);
	assert_int_equal(dec_dns_parse(dns_long, sizeof(dns_long), false, &d),
			 DEC_INVALID);
	assert_int_equal(dec_dns_parse(dns_a_badlen, sizeof(dns_a_badlen),
				       false, &d), DEC_INVALID);
	/* a long chain of backward pointers stops at the hop cap */
	assert_int_equal(ptr_chain(DEC_DNS_MAX_HOPS, &d), DEC_OK);
	assert_int_equal(d.n_answers, 2);
	assert_int_equal(ptr_chain(DEC_DNS_MAX_HOPS + 1, &d), DEC_INVALID);
	assert_int_equal(ptr_chain(200, &d), DEC_INVALID);
}

static void test_dns_truncated_everywhere(void **state)
{
	(void)state;
	const struct { const uint8_t *m; size_t n; } good[] = {
		{ dns_a, sizeof(dns_a) },
		{ dns_cname, sizeof(dns_cname) },
		{ dns_nxdomain, sizeof(dns_nxdomain) },
		{ dns_aaaa, sizeof(dns_aaaa) },
	};
	for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
		uint8_t tcp[600];
		assert_true(good[g].n + 2 <= sizeof(tcp));
		tcp[0] = (uint8_t)(good[g].n >> 8);
		tcp[1] = (uint8_t)good[g].n;
		memcpy(tcp + 2, good[g].m, good[g].n);
		for (size_t n = 0; n < good[g].n; n++) {
			/* a copy of exactly n bytes, so ASAN sees overreads */
			uint8_t *cp = malloc(n ? n : 1);
			assert_non_null(cp);
			memcpy(cp, good[g].m, n);
			struct dec_dns d;
			assert_int_equal(dec_dns_parse(cp, n, false, &d),
					 DEC_TRUNC);
			free(cp);
		}
		for (size_t n = 0; n < good[g].n + 2; n++) {
			struct dec_dns d;
			assert_int_equal(dec_dns_parse(tcp, n, true, &d),
					 DEC_TRUNC);
		}
	}
}

/* ---- TLS ---------------------------------------------------------------- */

#define MAX_RECS 64

struct got {
	size_t n;
	struct dec_tls_record r[MAX_RECS];
};

static void on_rec(const struct dec_tls_record *r, void *ctx)
{
	struct got *g = ctx;
	assert_true(g->n < MAX_RECS);
	g->r[g->n++] = *r;
}

static struct dec_tls_stream ts;
static struct got got, got2;

static void feed(const uint8_t *b, size_t n, uint64_t frame, struct got *g)
{
	dec_tls_stream_feed(&ts, b, n, frame, frame * 1000, on_rec, g);
}

static void check_ch(const struct dec_tls_record *r)
{
	assert_int_equal(r->type, DEC_TLS_HANDSHAKE);
	assert_int_equal(r->version, 0x0301);
	assert_int_equal(r->length, 259);
	assert_false(r->encrypted);
	assert_int_equal(r->n_hs, 1);
	assert_int_equal(r->hs_types[0], 1);
	assert_true(r->has_ch);
	assert_int_equal(r->hello_st, DEC_OK);
	assert_string_equal(r->ch.sni, "example.test");
	assert_string_equal(r->ch.alpn, "h2");
	assert_int_equal(r->ch.n_versions, 1);
	assert_int_equal(r->ch.versions[0], 0x0304);
	assert_int_equal(r->ch.legacy_version, 0x0303);
	assert_int_equal(r->ch.session_id_len, 32);
	assert_false(r->ch.has_psk);
	assert_false(r->ch.has_early_data);
}

static const uint16_t sh_lens[6] = { 122, 1, 32, 415, 96, 69 };

static void check_sh_flight(const struct got *g)
{
	assert_int_equal(g->n, 6);
	const struct dec_tls_record *r = &g->r[0];
	assert_true(r->has_sh);
	assert_int_equal(r->sh.version, 0x0304);
	assert_int_equal(r->sh.legacy_version, 0x0303);
	assert_int_equal(r->sh.cipher, 0x1302);
	assert_false(r->sh.is_hrr);
	assert_int_equal(r->sh.session_id_len, 32);
	assert_int_equal(g->r[1].type, DEC_TLS_CCS);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(g->r[i].length, sh_lens[i]);
		assert_int_equal(g->r[i].encrypted, i >= 2);
		if (i >= 2)
			assert_int_equal(g->r[i].type, DEC_TLS_APPDATA);
	}
}

static void test_tls13_whole(void **state)
{
	(void)state;
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	feed(tls13_ch, sizeof(tls13_ch), 4, &got);
	assert_int_equal(got.n, 1);
	check_ch(&got.r[0]);
	assert_int_equal(got.r[0].first_frame, 4);
	assert_int_equal(got.r[0].last_frame, 4);
	assert_int_equal(got.r[0].first_ts_ns, 4000);

	/* several records packed in one segment */
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	feed(tls13_sh, sizeof(tls13_sh), 6, &got);
	check_sh_flight(&got);
	assert_int_equal(ts.records, 6);
	assert_int_equal(ts.invalid + ts.truncated + ts.resyncs, 0);
}

static void test_tls13_byte_by_byte(void **state)
{
	(void)state;
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	for (size_t i = 0; i < sizeof(tls13_sh); i++)
		feed(tls13_sh + i, 1, i, &got);
	check_sh_flight(&got);
	size_t off = 0;
	for (size_t i = 0; i < got.n; i++) {
		assert_int_equal(got.r[i].first_frame, off);
		off += 5u + sh_lens[i];
		assert_int_equal(got.r[i].last_frame, off - 1);
		assert_int_equal(got.r[i].last_ts_ns, (off - 1) * 1000);
	}
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	for (size_t i = 0; i < sizeof(tls13_ch); i++)
		feed(tls13_ch + i, 1, 100 + i, &got);
	assert_int_equal(got.n, 1);
	check_ch(&got.r[0]);
	assert_int_equal(got.r[0].first_frame, 100);
	assert_int_equal(got.r[0].last_frame, 100 + sizeof(tls13_ch) - 1);
}

static void test_tls13_random_splits(void **state)
{
	(void)state;
	srand(12345);
	for (int round = 0; round < 200; round++) {
		uint64_t frame_of[sizeof(tls13_sh)];
		dec_tls_stream_init(&ts);
		memset(&got, 0, sizeof(got));
		size_t off = 0;
		uint64_t frame = 1;
		while (off < sizeof(tls13_sh)) {
			size_t n = 1 + (size_t)rand() % 300;
			if (n > sizeof(tls13_sh) - off)
				n = sizeof(tls13_sh) - off;
			for (size_t i = 0; i < n; i++)
				frame_of[off + i] = frame;
			feed(tls13_sh + off, n, frame, &got);
			off += n;
			frame++;
		}
		check_sh_flight(&got);
		off = 0;
		for (size_t i = 0; i < got.n; i++) {
			assert_int_equal(got.r[i].first_frame, frame_of[off]);
			off += 5u + sh_lens[i];
			assert_int_equal(got.r[i].last_frame,
					 frame_of[off - 1]);
		}
	}
}

static void test_tls_spanning_three(void **state)
{
	(void)state;
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	feed(tls13_ch, 3, 10, &got);          /* part of the header */
	feed(tls13_ch + 3, 100, 11, &got);
	assert_int_equal(got.n, 0);
	/* the rest, then an alert packed behind it in the same segment */
	uint8_t seg[sizeof(tls13_ch) + 7];
	memcpy(seg, tls13_ch + 103, sizeof(tls13_ch) - 103);
	memcpy(seg + sizeof(tls13_ch) - 103, "\x15\x03\x03\x00\x02\x02\x28", 7);
	feed(seg, sizeof(tls13_ch) - 103 + 7, 12, &got);
	assert_int_equal(got.n, 2);
	check_ch(&got.r[0]);
	assert_int_equal(got.r[0].first_frame, 10);
	assert_int_equal(got.r[0].last_frame, 12);
	assert_int_equal(got.r[0].first_ts_ns, 10000);
	assert_int_equal(got.r[0].last_ts_ns, 12000);
	/* a plaintext alert: fatal (2) handshake_failure (40) */
	assert_int_equal(got.r[1].type, DEC_TLS_ALERT);
	assert_true(got.r[1].has_alert);
	assert_int_equal(got.r[1].alert_level, 2);
	assert_int_equal(got.r[1].alert_desc, 40);
	assert_int_equal(got.r[1].first_frame, 12);
}

static void test_tls13_hrr(void **state)
{
	(void)state;
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	feed(tls13_hrr, sizeof(tls13_hrr), 6, &got);
	assert_int_equal(got.n, 2);
	assert_true(got.r[0].has_sh);
	assert_true(got.r[0].sh.is_hrr);
	assert_int_equal(got.r[0].sh.version, 0x0304);
	assert_int_equal(got.r[1].type, DEC_TLS_CCS);
	/* the real ServerHello follows the CCS, still in plaintext */
	feed(tls13_sh, sizeof(tls13_sh), 9, &got);
	assert_int_equal(got.n, 8);
	assert_false(got.r[2].encrypted);
	assert_true(got.r[2].has_sh);
	assert_false(got.r[2].sh.is_hrr);
	assert_int_equal(got.r[2].sh.version, 0x0304);
}

static void test_tls12(void **state)
{
	(void)state;
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	feed(tls12_sh, sizeof(tls12_sh), 6, &got);
	assert_int_equal(got.n, 4);
	assert_true(got.r[0].has_sh);
	assert_int_equal(got.r[0].sh.version, 0x0303);
	assert_int_equal(got.r[0].sh.cipher, 0xc02c);
	const uint8_t types[4] = { 2, 11, 12, 14 };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(got.r[i].n_hs, 1);
		assert_int_equal(got.r[i].hs_types[0], types[i]);
	}
	/* after ChangeCipherSpec the Finished is encrypted; so is an alert */
	const uint8_t ccs_fin[] = {
		0x14, 0x03, 0x03, 0x00, 0x01, 0x01,
		0x16, 0x03, 0x03, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x02,
		0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
		0x0d, 0x0e, 0x0f, 0x10, 0x11,
		0x15, 0x03, 0x03, 0x00, 0x1a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
		12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
	};
	feed(ccs_fin, sizeof(ccs_fin), 9, &got);
	assert_int_equal(got.n, 7);
	assert_true(got.r[5].encrypted);
	assert_int_equal(got.r[5].n_hs, 0);
	assert_true(got.r[6].encrypted);
	assert_false(got.r[6].has_alert);
}

static void test_tls_garbage_resync(void **state)
{
	(void)state;
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	const uint8_t junk[] = { 0x99, 0x03, 0x03, 0xff, 0xff, 0x00, 0x41 };
	feed(junk, sizeof(junk), 1, &got);
	feed(tls13_ch, sizeof(tls13_ch), 2, &got);
	assert_int_equal(ts.invalid, 1);
	assert_int_equal(ts.resyncs, 1);
	assert_int_equal(ts.skipped, sizeof(junk));
	assert_int_equal(got.n, 1);
	check_ch(&got.r[0]);
	assert_int_equal(got.r[0].first_frame, 2);

	/* a length field over 2^14 + 2048 is invalid */
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	const uint8_t big[] = { 0x17, 0x03, 0x03, 0x48, 0x01 };
	feed(big, sizeof(big), 1, &got);
	assert_int_equal(ts.invalid, 1);
	feed(tls13_sh, sizeof(tls13_sh), 2, &got);
	check_sh_flight(&got);
	/* the largest valid one is fine */
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	static uint8_t max[5 + DEC_TLS_MAX_LEN];
	memcpy(max, "\x17\x03\x03\x48\x00", 5);
	feed(max, sizeof(max), 1, &got);
	assert_int_equal(got.n, 1);
	assert_int_equal(ts.invalid, 0);
}

static void test_tls_gap(void **state)
{
	(void)state;
	dec_tls_stream_init(&ts);
	memset(&got, 0, sizeof(got));
	feed(tls13_ch, 100, 1, &got);
	dec_tls_stream_gap(&ts);
	/* the rest of the lost record's body arrives, then a new flight */
	feed(tls13_ch + 200, sizeof(tls13_ch) - 200, 3, &got);
	feed(tls13_sh, sizeof(tls13_sh), 4, &got);
	assert_int_equal(ts.truncated, 1);
	assert_int_equal(ts.resyncs, 1);
	assert_int_equal(ts.invalid, 0);
	check_sh_flight(&got);
	assert_int_equal(got.r[0].first_frame, 4);

	/* a partial record at the end of the stream */
	feed(tls13_ch, 10, 5, &got);
	dec_tls_stream_end(&ts);
	assert_int_equal(ts.truncated, 2);
	/* a gap at a record boundary loses nothing */
	dec_tls_stream_init(&ts);
	memset(&got2, 0, sizeof(got2));
	dec_tls_stream_gap(&ts);
	feed(tls13_ch, sizeof(tls13_ch), 1, &got2);
	assert_int_equal(got2.n, 1);
	check_ch(&got2.r[0]);
	assert_int_equal(ts.truncated, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_query),
		cmocka_unit_test(test_dns_a_aaaa),
		cmocka_unit_test(test_dns_cname_chain),
		cmocka_unit_test(test_dns_rcodes_tc),
		cmocka_unit_test(test_dns_presentation),
		cmocka_unit_test(test_dns_tcp),
		cmocka_unit_test(test_dns_malicious),
		cmocka_unit_test(test_dns_truncated_everywhere),
		cmocka_unit_test(test_tls13_whole),
		cmocka_unit_test(test_tls13_byte_by_byte),
		cmocka_unit_test(test_tls13_random_splits),
		cmocka_unit_test(test_tls_spanning_three),
		cmocka_unit_test(test_tls13_hrr),
		cmocka_unit_test(test_tls12),
		cmocka_unit_test(test_tls_garbage_resync),
		cmocka_unit_test(test_tls_gap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
