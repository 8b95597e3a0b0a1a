/*
 * test_cap_bpf.c: the capture filter built from a run's endpoints
 * compiles for Ethernet and raw-IP links, and selects exactly the run's
 * packets: run on crafted frames with libpcap's own filter engine.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "capture/cap_bpf.h"

static struct cap_bpf_flow ep(const char *ip, uint16_t port, uint8_t proto)
{
	struct cap_bpf_flow f = { .port = port, .proto = proto };
	if (inet_pton(AF_INET, ip, f.addr.a) == 1)
		f.addr.family = 4;
	else if (inet_pton(AF_INET6, ip, f.addr.a) == 1)
		f.addr.family = 6;
	return f;
}

/* A raw IPv4 packet: 20-byte header, then an 8+ byte L4 header. */
static size_t ip4(uint8_t *b, const char *src, const char *dst, uint8_t proto,
		  uint16_t sport, uint16_t dport, uint8_t icmp_type)
{
	size_t l4 = proto == 6 ? 20 : 8;
	memset(b, 0, 20 + l4);
	b[0] = 0x45;
	b[2] = 0;
	b[3] = (uint8_t)(20 + l4);
	b[8] = 64;
	b[9] = proto;
	inet_pton(AF_INET, src, b + 12);
	inet_pton(AF_INET, dst, b + 16);
	if (proto == 1) {
		b[20] = icmp_type;
	} else {
		b[20] = (uint8_t)(sport >> 8);
		b[21] = (uint8_t)sport;
		b[22] = (uint8_t)(dport >> 8);
		b[23] = (uint8_t)dport;
		if (proto == 6)
			b[32] = 0x50;
	}
	return 20 + l4;
}

/* A raw IPv6 packet with a TCP header or an ICMPv6 header. */
static size_t ip6(uint8_t *b, const char *src, const char *dst, uint8_t nh,
		  uint16_t sport, uint16_t dport, uint8_t icmp_type)
{
	size_t l4 = nh == 6 ? 20 : 8;
	memset(b, 0, 40 + l4);
	b[0] = 0x60;
	b[5] = (uint8_t)l4;
	b[6] = nh;
	b[7] = 64;
	inet_pton(AF_INET6, src, b + 8);
	inet_pton(AF_INET6, dst, b + 24);
	if (nh == 58) {
		b[40] = icmp_type;
	} else {
		b[40] = (uint8_t)(sport >> 8);
		b[41] = (uint8_t)sport;
		b[42] = (uint8_t)(dport >> 8);
		b[43] = (uint8_t)dport;
		b[52] = 0x50;
	}
	return 40 + l4;
}

static int matches(const char *expr, const uint8_t *pkt, size_t len)
{
	pcap_t *p = pcap_open_dead(DLT_RAW, 65535);
	struct bpf_program prog;
	assert_non_null(p);
	assert_int_equal(pcap_compile(p, &prog, expr, 1,
				      PCAP_NETMASK_UNKNOWN),
			 0);
	struct pcap_pkthdr h = { .caplen = (bpf_u_int32)len,
				 .len = (bpf_u_int32)len };
	int m = pcap_offline_filter(&prog, &h, pkt) != 0;
	pcap_freecode(&prog);
	pcap_close(p);
	return m;
}

static void test_cap_bpf_selects_the_runs_packets(void **state)
{
	(void)state;
	struct cap_bpf_flow flows[] = {
		ep("198.18.0.1", 443, 6), ep("127.0.0.1", 53, 17),
		ep("127.0.0.1", 53, 6), ep("fd00::1", 443, 6),
		ep("198.18.0.1", 443, 6), /* a duplicate */
	};
	struct errbuf err;
	char *f = cap_bpf_build(flows, 5, &err);
	assert_non_null(f);
	/* the duplicate is written once */
	assert_non_null(strstr(f, "(host 198.18.0.1 and tcp port 443) or "
				  "(host 127.0.0.1 and udp port 53) or "
				  "(host 127.0.0.1 and tcp port 53) or "
				  "(host fd00::1 and tcp port 443) or "));
	assert_null(strstr(strstr(f, "fd00::1") , "198.18.0.1 and tcp"));
	assert_int_equal(cap_bpf_check(f, DLT_EN10MB, &err), 0);
	assert_int_equal(cap_bpf_check(f, DLT_RAW, &err), 0);
	assert_int_equal(cap_bpf_check(f, DLT_LINUX_SLL2, &err), 0);

	uint8_t b[128];
	static const struct {
		const char *what;
		int v6;
		const char *src, *dst;
		uint8_t proto;
		uint16_t sport, dport;
		uint8_t icmp;
		int want;
	} cases[] = {
		{ "our TCP out", 0, "198.18.0.2", "198.18.0.1", 6, 40000, 443, 0, 1 },
		{ "our TCP back", 0, "198.18.0.1", "198.18.0.2", 6, 443, 40000, 0, 1 },
		{ "same host, other port", 0, "198.18.0.2", "198.18.0.1", 6, 40000, 80, 0, 0 },
		{ "other host, same port", 0, "198.18.0.2", "198.18.0.9", 6, 40000, 443, 0, 0 },
		{ "DNS query", 0, "127.0.0.1", "127.0.0.1", 17, 5000, 53, 0, 1 },
		{ "UDP elsewhere", 0, "127.0.0.1", "127.0.0.1", 17, 5000, 5353, 0, 0 },
		{ "unreachable from a router", 0, "198.18.0.254", "198.18.0.2", 1, 0, 0, 3, 1 },
		{ "time exceeded", 0, "10.9.9.9", "198.18.0.2", 1, 0, 0, 11, 1 },
		{ "echo from elsewhere", 0, "10.9.9.9", "198.18.0.2", 1, 0, 0, 8, 0 },
		{ "our TCP over IPv6", 1, "fd00::2", "fd00::1", 6, 40000, 443, 0, 1 },
		{ "IPv6 other port", 1, "fd00::2", "fd00::1", 6, 40000, 80, 0, 0 },
		{ "packet too big", 1, "fd00::fe", "fd00::2", 58, 0, 0, 2, 1 },
		{ "IPv6 echo", 1, "fd00::fe", "fd00::2", 58, 0, 0, 128, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = cases[i].v6
				   ? ip6(b, cases[i].src, cases[i].dst,
					 cases[i].proto, cases[i].sport,
					 cases[i].dport, cases[i].icmp)
				   : ip4(b, cases[i].src, cases[i].dst,
					 cases[i].proto, cases[i].sport,
					 cases[i].dport, cases[i].icmp);
		if (matches(f, b, n) != cases[i].want)
			fail_msg("%s: want %d", cases[i].what, cases[i].want);
	}
	free(f);
}

static void test_cap_bpf_edges(void **state)
{
	(void)state;
	struct errbuf err;
	char *f = cap_bpf_build(NULL, 0, &err);
	uint8_t b[64];
	assert_non_null(f);
	assert_int_equal(cap_bpf_check(f, DLT_RAW, &err), 0);
	size_t n = ip4(b, "198.18.0.2", "198.18.0.1", 6, 1, 443, 0);
	assert_int_equal(matches(f, b, n), 0); /* nothing to capture */
	free(f);

	struct cap_bpf_flow bad = { .port = 1, .proto = 6 };
	assert_null(cap_bpf_build(&bad, 1, &err));
	assert_string_equal(err.msg, "endpoint 0: no address family or protocol");

	assert_int_equal(cap_bpf_check("host and and", DLT_RAW, &err),
			 PE_INVAL);
	assert_true(strlen(err.msg) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_bpf_selects_the_runs_packets),
		cmocka_unit_test(test_cap_bpf_edges),
	};
	return cmocka_run_group_tests_name("cap_bpf", tests, NULL, NULL);
}
