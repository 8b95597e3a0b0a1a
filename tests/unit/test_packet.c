/*
 * test_packet.c: the packet decoders (src/packet/dec*.c) on crafted
 * frames: good frames with every field checked, truncation at every byte
 * offset, invalid headers at the right layer, QinQ, SLL/SLL2, VXLAN,
 * ICMP errors quoting a flow.
 *
 * Frames are assembled from header pieces by a small builder that fills
 * in the length fields.  With PACKET_CORPUS_DIR set, each frame is also
 * written there as a fuzz seed (first byte: index in fuzz_packet.c's
 * link-type table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packet/dec.h"

struct fb {
	uint8_t b[1024];
	size_t n;
};

static void put(struct fb *f, const void *p, size_t n)
{
	assert_true(f->n + n <= sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

#define PUT(f, ...)                                                      \
	do {                                                             \
		static const uint8_t b_[] = { __VA_ARGS__ };             \
		put((f), b_, sizeof(b_));                                \
	} while (0)

static void be16_at(struct fb *f, size_t off, size_t v)
{
	f->b[off] = (uint8_t)(v >> 8);
	f->b[off + 1] = (uint8_t)v;
}

static void eth(struct fb *f, uint16_t type)
{
	PUT(f, 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01);
	uint8_t t[2] = { (uint8_t)(type >> 8), (uint8_t)type };
	put(f, t, 2);
}

/* IPv4 192.0.2.1 -> 192.0.2.2; returns the header offset for ip4_end. */
static size_t ip4(struct fb *f, uint8_t proto)
{
	size_t off = f->n;
	PUT(f, 0x45, 0x10, 0, 0, 0x12, 0x34, 0x40, 0x00, 64);
	put(f, &proto, 1);
	PUT(f, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2);
	return off;
}

static void ip4_end(struct fb *f, size_t off)
{
	be16_at(f, off + 2, f->n - off);
}

/* IPv6 2001:db8::1 -> 2001:db8::2 */
static size_t ip6(struct fb *f, uint8_t nh)
{
	size_t off = f->n;
	PUT(f, 0x60, 0, 0, 0, 0, 0);
	put(f, &nh, 1);
	PUT(f, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
	return off;
}

static void ip6_end(struct fb *f, size_t off)
{
	be16_at(f, off + 4, f->n - off - 40);
}

/* TCP 50000 -> 80, seq 0x01020304, ack 0x0a0b0c0d, flags, window 64240 */
static void tcp(struct fb *f, uint8_t doff, uint8_t flags)
{
	PUT(f, 0xc3, 0x50, 0x00, 0x50, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d);
	uint8_t d[2] = { (uint8_t)(doff << 4), flags };
	put(f, d, 2);
	PUT(f, 0xfa, 0xf0, 0, 0, 0, 0);
}

static size_t udp(struct fb *f, uint16_t dport)
{
	size_t off = f->n;
	uint8_t h[8] = { 0x30, 0x39, (uint8_t)(dport >> 8), (uint8_t)dport };
	put(f, h, 8);
	return off;
}

static void udp_end(struct fb *f, size_t off)
{
	be16_at(f, off + 4, f->n - off);
}

/* Ethernet / IPv4 / TCP SYN with MSS 1460, SACK_PERM, TS, NOP, WS 7. */
static void frame_syn4(struct fb *f)
{
	eth(f, 0x0800);
	size_t o = ip4(f, 6);
	tcp(f, 10, 0x02);
	PUT(f, 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0, 1, 3,
	    3, 7);
	ip4_end(f, o);
}

/* Ethernet / IPv4 / TCP PSH|ACK "hello" plus 4 bytes of Ethernet padding. */
static void frame_data4(struct fb *f)
{
	eth(f, 0x0800);
	size_t o = ip4(f, 6);
	tcp(f, 5, 0x18);
	PUT(f, 'h', 'e', 'l', 'l', 'o');
	ip4_end(f, o);
	PUT(f, 0, 0, 0, 0);
}

static void check_tcp4_flow(const struct dec_pkt *p)
{
	char a[64], b[64];
	assert_int_equal(p->ip.ver, 4);
	assert_string_equal(dec_addr_str(&p->ip.src, a, sizeof(a)),
			    "192.0.2.1");
	assert_string_equal(dec_addr_str(&p->ip.dst, b, sizeof(b)),
			    "192.0.2.2");
	assert_int_equal(p->ip.proto, 6);
	assert_int_equal(p->l4, DEC_L_TCP);
	assert_int_equal(p->sport, 50000);
	assert_int_equal(p->dport, 80);
	assert_int_equal(p->tcp.seq, 0x01020304);
	assert_int_equal(p->tcp.ack, 0x0a0b0c0d);
	assert_int_equal(p->tcp.win, 64240);
}

static void save_seed(const char *name, int link_idx, const struct fb *f)
{
	const char *dir = getenv("PACKET_CORPUS_DIR");
	if (!dir)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *o = fopen(path, "wb");
	assert_non_null(o);
	uint8_t b = (uint8_t)link_idx;
	fwrite(&b, 1, 1, o);
	fwrite(f->b, 1, f->n, o);
	fclose(o);
}

/* Index in fuzz_packet.c's table. */
enum { SEED_ETH, SEED_RAW, SEED_IPV4, SEED_IPV6, SEED_SLL, SEED_SLL2 };

static void test_packet_tcp4_syn(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	frame_syn4(&f);
	save_seed("eth_ip4_tcp_syn", SEED_ETH, &f);
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.st_layer, DEC_L_NONE);
	assert_int_equal(p.linktype, DEC_LINK_EN10MB);
	check_tcp4_flow(&p);
	assert_int_equal(p.ip.ttl, 64);
	assert_int_equal(p.ip.tos, 0x10);
	assert_int_equal(p.ip.id, 0x1234);
	assert_true(p.ip.df);
	assert_false(p.ip.frag);
	assert_int_equal(p.ip.total_len, 60);
	assert_int_equal(p.tcp.flags, DEC_TH_SYN);
	assert_int_equal(p.tcp.hdr_len, 40);
	assert_int_equal(p.tcp.mss, 1460);
	assert_int_equal(p.tcp.wscale, 7);
	assert_true(p.tcp.sack_perm);
	assert_true(p.tcp.has_ts);
	assert_int_equal(p.tcp.ts_val, 100);
	assert_int_equal(p.tcp.ts_ecr, 0);
	assert_int_equal(p.tcp.n_sack, 0);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.payload_claimed, 0);
	assert_false(p.vxlan);
	assert_int_equal(p.n_vlan, 0);
}

static void test_packet_tcp4_data(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	frame_data4(&f);
	save_seed("eth_ip4_tcp_data", SEED_ETH, &f);
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	check_tcp4_flow(&p);
	assert_int_equal(p.tcp.flags, DEC_TH_PSH | DEC_TH_ACK);
	assert_int_equal(p.tcp.mss, -1);
	assert_int_equal(p.tcp.wscale, -1);
	assert_false(p.tcp.has_ts);
	/* the padding is not payload */
	assert_int_equal(p.payload_len, 5);
	assert_int_equal(p.payload_claimed, 5);
	assert_memory_equal(p.payload, "hello", 5);
	/* cut inside the payload: decoded, payload short of its claim */
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n - 7, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.payload_len, 2);
	assert_int_equal(p.payload_claimed, 5);
}

/* Every cut inside the headers is DEC_TRUNC, never DEC_OK or a crash. */
static void test_packet_truncation(void **state)
{
	(void)state;
	struct fb f = { 0 };
	frame_syn4(&f);
	for (size_t n = 0; n < f.n; n++) {
		struct dec_pkt p;
		/* a copy of exactly n bytes, so ASAN sees any overread */
		uint8_t *b = malloc(n ? n : 1);
		assert_non_null(b);
		memcpy(b, f.b, n);
		dec_packet(DEC_LINK_EN10MB, b, (uint32_t)n, (uint32_t)f.n,
			   &p);
		free(b);
		assert_int_equal(p.st, DEC_TRUNC);
		enum dec_layer want = n < 14 ? DEC_L_LINK :
				      n < 34 ? DEC_L_IP4 : DEC_L_TCP;
		assert_int_equal(p.st_layer, want);
		if (n < 54)
			assert_int_not_equal(p.l4, DEC_L_TCP);
	}
}

static void test_packet_invalid(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		size_t at;      /* byte offset to patch in frame_syn4 */
		uint8_t val;
		enum dec_layer layer;
	} cases[] = {
		{ "ihl 4", 14, 0x44, DEC_L_IP4 },
		{ "version 6 in an IPv4 EtherType", 14, 0x65, DEC_L_IP4 },
		{ "total length below header", 17, 10, DEC_L_IP4 },
		{ "tcp doff 4", 46, 0x40, DEC_L_TCP },
		{ "tcp doff past datagram", 46, 0xf0, DEC_L_TCP },
		{ "option length 0", 55, 0, DEC_L_TCP },
		{ "option length 1", 55, 1, DEC_L_TCP },
		{ "option past the header", 72, 9, DEC_L_TCP },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fb f = { 0 };
		struct dec_pkt p;
		frame_syn4(&f);
		f.b[cases[i].at] = cases[i].val;
		dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n,
			   &p);
		if (p.st != DEC_INVALID || p.st_layer != cases[i].layer)
			fail_msg("%s: %s at %s", cases[i].name,
				 dec_status_name(p.st),
				 dec_layer_name(p.st_layer));
	}
	/* unknown link type */
	struct dec_pkt p;
	uint8_t b[4] = { 0 };
	dec_packet(9999, b, 4, 4, &p);
	assert_int_equal(p.st, DEC_INVALID);
	assert_int_equal(p.st_layer, DEC_L_LINK);
	assert_string_equal(dec_layer_name(DEC_L_LINK), "link");
	assert_string_equal(dec_status_name(DEC_TRUNC), "truncated");
}

static void test_packet_8023_and_arp(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	eth(&f, 0x0026); /* 802.3 length: LLC follows */
	PUT(&f, 0x42, 0x42, 0x03);
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.ip.ver, 0);
	f.n = 0;
	eth(&f, 0x0806);
	PUT(&f, 0, 1, 8, 0, 6, 4, 0, 1);
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.l4, 0);
}

static void frame_tcp6(struct fb *f)
{
	size_t o = ip6(f, 6);
	tcp(f, 8, 0x10);
	PUT(f, 1, 1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0); /* SACK 1 block */
	PUT(f, 'x', 'y');
	ip6_end(f, o);
}

static void test_packet_ip6(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	char a[64];
	eth(&f, 0x86dd);
	frame_tcp6(&f);
	save_seed("eth_ip6_tcp_sack", SEED_ETH, &f);
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.ip.ver, 6);
	assert_string_equal(dec_addr_str(&p.ip.src, a, sizeof(a)),
			    "2001:db8::1");
	assert_string_equal(dec_addr_str(&p.ip.dst, a, sizeof(a)),
			    "2001:db8::2");
	assert_int_equal(p.ip.ttl, 64);
	assert_int_equal(p.ip.total_len, 40 + 32 + 2);
	assert_int_equal(p.l4, DEC_L_TCP);
	assert_int_equal(p.tcp.flags, DEC_TH_ACK);
	assert_int_equal(p.tcp.n_sack, 1);
	assert_int_equal(p.tcp.sack[0][0], 0x1000);
	assert_int_equal(p.tcp.sack[0][1], 0x2000);
	assert_int_equal(p.payload_len, 2);
	assert_int_equal(p.payload_claimed, 2);

	/* raw IP (101, 12, 14) and LINKTYPE_IPV6 */
	f.n = 0;
	frame_tcp6(&f);
	save_seed("raw_ip6_tcp", SEED_RAW, &f);
	static const int links[] = { DEC_LINK_RAW, 12, 14, DEC_LINK_IPV6 };
	for (size_t i = 0; i < 4; i++) {
		dec_packet(links[i], f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
		assert_int_equal(p.st, DEC_OK);
		assert_int_equal(p.ip.ver, 6);
		assert_int_equal(p.tcp.n_sack, 1);
	}
	/* an IPv6 packet on LINKTYPE_IPV4 */
	dec_packet(DEC_LINK_IPV4, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_INVALID);
	assert_int_equal(p.st_layer, DEC_L_IP4);
}

static void test_packet_ip6_ext(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	/* hop-by-hop -> destination options -> UDP */
	size_t o = ip6(&f, 0);
	PUT(&f, 60, 0, 1, 4, 0, 0, 0, 0);
	PUT(&f, 17, 0, 1, 4, 0, 0, 0, 0);
	size_t u = udp(&f, 53);
	PUT(&f, 1, 2, 3);
	udp_end(&f, u);
	ip6_end(&f, o);
	save_seed("ip6_ext_udp", SEED_IPV6, &f);
	dec_packet(DEC_LINK_IPV6, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.ip.proto, 17);
	assert_int_equal(p.l4, DEC_L_UDP);
	assert_int_equal(p.sport, 12345);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.udp_len, 11);
	assert_int_equal(p.payload_len, 3);

	/* a non-first fragment: no transport header */
	f.n = 0;
	o = ip6(&f, 44);
	PUT(&f, 6, 0, 0x05, 0x09, 0xde, 0xad, 0xbe, 0xef); /* off 160, M */
	PUT(&f, 1, 2, 3, 4, 5, 6, 7, 8);
	ip6_end(&f, o);
	dec_packet(DEC_LINK_IPV6, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_true(p.ip.frag);
	assert_int_equal(p.ip.frag_off, 0x0508);
	assert_int_equal(p.ip.id, 0xbeef);
	assert_int_equal(p.ip.proto, 6);
	assert_int_equal(p.l4, 0);

	/* a chain of 9 destination options headers: invalid */
	f.n = 0;
	o = ip6(&f, 60);
	for (int i = 0; i < 9; i++)
		PUT(&f, 60, 0, 1, 4, 0, 0, 0, 0);
	ip6_end(&f, o);
	dec_packet(DEC_LINK_IPV6, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_INVALID);
	assert_int_equal(p.st_layer, DEC_L_IP6);

	/* an extension header longer than the payload length claims */
	f.n = 0;
	o = ip6(&f, 60);
	PUT(&f, 6, 4, 1, 4, 0, 0, 0, 0);
	ip6_end(&f, o);
	PUT(&f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	dec_packet(DEC_LINK_IPV6, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_not_equal(p.st, DEC_OK);
	assert_int_equal(p.st_layer, DEC_L_IP6);
}

static void test_packet_ip4_frag(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	size_t o = ip4(&f, 17);
	f.b[o + 6] = 0x20; /* MF, offset 0x0010 * 8 */
	f.b[o + 7] = 0x10;
	PUT(&f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
	ip4_end(&f, o);
	save_seed("ip4_frag", SEED_IPV4, &f);
	dec_packet(DEC_LINK_IPV4, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_true(p.ip.frag);
	assert_false(p.ip.df);
	assert_int_equal(p.ip.frag_off, 128);
	assert_int_equal(p.l4, 0);
	assert_int_equal(p.payload_len, 10);

	/* options skipped (IHL 6), first fragment decoded */
	f.n = 0;
	o = ip4(&f, 17);
	f.b[o] = 0x46;
	f.b[o + 6] = 0x20;
	f.b[o + 7] = 0;
	PUT(&f, 1, 1, 1, 0);
	size_t u = udp(&f, 53);
	PUT(&f, 'a', 'b');
	ip4_end(&f, o);
	be16_at(&f, u + 4, 3000); /* the whole datagram's length */
	dec_packet(DEC_LINK_RAW, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_true(p.ip.frag);
	assert_int_equal(p.ip.frag_off, 0);
	assert_int_equal(p.l4, DEC_L_UDP);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.udp_len, 3000);
	assert_int_equal(p.payload_len, 2);
	assert_int_equal(p.payload_claimed, 2992);
}

static void udp4(struct fb *f)
{
	size_t o = ip4(f, 17);
	size_t u = udp(f, 53);
	PUT(f, 'a', 'b', 'c', 'd');
	udp_end(f, u);
	ip4_end(f, o);
}

static void check_udp4(const struct dec_pkt *p)
{
	assert_int_equal(p->st, DEC_OK);
	assert_int_equal(p->ip.ver, 4);
	assert_int_equal(p->l4, DEC_L_UDP);
	assert_int_equal(p->sport, 12345);
	assert_int_equal(p->dport, 53);
	assert_int_equal(p->udp_len, 12);
	assert_int_equal(p->payload_len, 4);
	assert_int_equal(p->payload_claimed, 4);
	assert_memory_equal(p->payload, "abcd", 4);
}

static void test_packet_vlan(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	eth(&f, 0x88a8);
	PUT(&f, 0x00, 0x64, 0x81, 0x00, 0x20, 0xc8, 0x08, 0x00);
	udp4(&f);
	save_seed("eth_qinq_udp", SEED_ETH, &f);
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	check_udp4(&p);
	assert_int_equal(p.n_vlan, 2);
	assert_int_equal(p.vlan[0], 100);
	assert_int_equal(p.vlan[1], 200);
	/* cut inside the second tag */
	dec_packet(DEC_LINK_EN10MB, f.b, 19, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_TRUNC);
	assert_int_equal(p.st_layer, DEC_L_VLAN);
	/* a stack of tags past the cap */
	f.n = 0;
	eth(&f, 0x8100);
	for (int i = 0; i < 6; i++)
		PUT(&f, 0x00, 0x01, 0x81, 0x00);
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_INVALID);
	assert_int_equal(p.st_layer, DEC_L_VLAN);
	assert_int_equal(p.n_vlan, DEC_MAX_VLAN);
}

static void test_packet_sll(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	PUT(&f, 0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00);
	udp4(&f);
	save_seed("sll_udp", SEED_SLL, &f);
	dec_packet(DEC_LINK_LINUX_SLL, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	check_udp4(&p);
	dec_packet(DEC_LINK_LINUX_SLL, f.b, 15, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_TRUNC);
	assert_int_equal(p.st_layer, DEC_L_LINK);

	f.n = 0;
	PUT(&f, 0x08, 0x00, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0,
	    0, 0, 0);
	udp4(&f);
	save_seed("sll2_udp", SEED_SLL2, &f);
	dec_packet(DEC_LINK_LINUX_SLL2, f.b, (uint32_t)f.n, (uint32_t)f.n,
		   &p);
	check_udp4(&p);
	dec_packet(DEC_LINK_LINUX_SLL2, f.b, 19, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_TRUNC);
	assert_int_equal(p.st_layer, DEC_L_LINK);

	/* IPv6 in SLL2 */
	f.n = 0;
	PUT(&f, 0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0,
	    0, 0, 0);
	frame_tcp6(&f);
	dec_packet(DEC_LINK_LINUX_SLL2, f.b, (uint32_t)f.n, (uint32_t)f.n,
		   &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.ip.ver, 6);
	assert_int_equal(p.l4, DEC_L_TCP);
}

static void test_packet_udp_invalid(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	udp4(&f);
	f.b[20 + 5] = 7; /* length 7 */
	dec_packet(DEC_LINK_IPV4, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_INVALID);
	assert_int_equal(p.st_layer, DEC_L_UDP);
	f.b[20 + 5] = 13; /* past the datagram */
	dec_packet(DEC_LINK_IPV4, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_INVALID);
	assert_int_equal(p.st_layer, DEC_L_UDP);
}

static void test_packet_vxlan(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	char a[64];
	eth(&f, 0x0800);
	size_t o = ip4(&f, 17);
	f.b[o + 12] = 10; /* outer 10.0.2.1 -> 192.0.2.2 */
	size_t u = udp(&f, 4789);
	PUT(&f, 0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0);
	eth(&f, 0x86dd);
	frame_tcp6(&f);
	udp_end(&f, u);
	ip4_end(&f, o);
	save_seed("vxlan_ip6_tcp", SEED_ETH, &f);
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_true(p.vxlan);
	assert_int_equal(p.vni, 0x123456);
	assert_int_equal(p.ip.ver, 6); /* the inner flow */
	assert_string_equal(dec_addr_str(&p.ip.src, a, sizeof(a)),
			    "2001:db8::1");
	assert_int_equal(p.l4, DEC_L_TCP);
	assert_int_equal(p.sport, 50000);
	assert_int_equal(p.dport, 80);
	assert_int_equal(p.udp_len, 0);
	assert_int_equal(p.tcp.n_sack, 1);
	assert_int_equal(p.payload_len, 2);
	/* every cut: truncated somewhere, never a crash */
	for (size_t n = 0; n < f.n - 2; n++) {
		dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)n, (uint32_t)f.n,
			   &p);
		assert_int_equal(p.st, DEC_TRUNC);
	}
	/* I flag clear: invalid */
	f.b[42] = 0;
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_INVALID);
	assert_int_equal(p.st_layer, DEC_L_VXLAN);
	assert_false(p.vxlan);
	assert_int_equal(p.ip.ver, 4);
	assert_int_equal(p.l4, DEC_L_UDP);
}

static void test_packet_vxlan_nested(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	size_t ipo[8], uo[8];
	eth(&f, 0x0800);
	for (int i = 0; i < 6; i++) {
		ipo[i] = ip4(&f, 17);
		uo[i] = udp(&f, 4789);
		PUT(&f, 0x08, 0, 0, 0, 0, 0, 1, 0);
		eth(&f, 0x0800);
	}
	for (int i = 5; i >= 0; i--) {
		udp_end(&f, uo[i]);
		ip4_end(&f, ipo[i]);
	}
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_not_equal(p.st, DEC_OK);
	assert_int_equal(p.st_layer, DEC_L_VXLAN);
	assert_int_equal(p.st, DEC_INVALID);
}

static void test_packet_icmp(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	char a[64];
	/* frag-needed (3/4), MTU 1400, quoting a TCP segment */
	eth(&f, 0x0800);
	size_t o = ip4(&f, 1);
	f.b[o + 12] = 10;
	PUT(&f, 3, 4, 0, 0, 0, 0, 0x05, 0x78);
	size_t q = ip4(&f, 6);
	tcp(&f, 5, 0x18);
	be16_at(&f, q + 2, 1500);
	f.n = q + 28; /* only 8 bytes of TCP are quoted */
	ip4_end(&f, o);
	save_seed("eth_icmp_fragneeded", SEED_ETH, &f);
	dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_string_equal(dec_addr_str(&p.ip.src, a, sizeof(a)),
			    "10.0.2.1");
	assert_int_equal(p.l4, DEC_L_ICMP);
	assert_int_equal(p.icmp.type, 3);
	assert_int_equal(p.icmp.code, 4);
	assert_int_equal(p.icmp.mtu, 1400);
	assert_true(p.icmp.has_quote);
	assert_int_equal(p.icmp.quote.ip.ver, 4);
	assert_int_equal(p.icmp.quote.ip.proto, 6);
	assert_int_equal(p.icmp.quote.ip.total_len, 1500);
	assert_string_equal(dec_addr_str(&p.icmp.quote.ip.dst, a, sizeof(a)),
			    "192.0.2.2");
	assert_true(p.icmp.quote.has_ports);
	assert_int_equal(p.icmp.quote.sport, 50000);
	assert_int_equal(p.icmp.quote.dport, 80);
	assert_int_equal(p.icmp.quote.tcp_seq, 0x01020304);
	/* the outer flow's fields are untouched by the quote */
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.tcp.mss, -1);
	for (size_t n = 0; n < 14 + 20 + 8 + 20; n++) {
		dec_packet(DEC_LINK_EN10MB, f.b, (uint32_t)n, (uint32_t)f.n,
			   &p);
		assert_int_equal(p.st, DEC_TRUNC);
		assert_false(p.icmp.has_quote);
	}
	/* quoted IP header only: a quote without ports */
	dec_packet(DEC_LINK_EN10MB, f.b, 14 + 20 + 8 + 20, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_true(p.icmp.has_quote);
	assert_false(p.icmp.quote.has_ports);

	/* echo request: no quote */
	f.n = 0;
	o = ip4(&f, 1);
	PUT(&f, 8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g');
	ip4_end(&f, o);
	save_seed("ip4_icmp_echo", SEED_IPV4, &f);
	dec_packet(DEC_LINK_IPV4, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.icmp.type, 8);
	assert_false(p.icmp.has_quote);
	assert_int_equal(p.payload_len, 4);
}

static void test_packet_icmp6(void **state)
{
	(void)state;
	struct fb f = { 0 };
	struct dec_pkt p;
	/* packet too big, MTU 1280, quoting UDP */
	size_t o = ip6(&f, 58);
	PUT(&f, 2, 0, 0, 0, 0, 0, 0x05, 0x00);
	size_t q = ip6(&f, 17);
	size_t u = udp(&f, 443);
	PUT(&f, 1, 2, 3, 4);
	udp_end(&f, u);
	ip6_end(&f, q);
	ip6_end(&f, o);
	save_seed("ip6_icmp6_ptb", SEED_RAW, &f);
	dec_packet(DEC_LINK_RAW, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.ip.ver, 6);
	assert_int_equal(p.l4, DEC_L_ICMP);
	assert_int_equal(p.icmp.type, 2);
	assert_int_equal(p.icmp.mtu, 1280);
	assert_true(p.icmp.has_quote);
	assert_int_equal(p.icmp.quote.ip.ver, 6);
	assert_true(p.icmp.quote.has_ports);
	assert_int_equal(p.icmp.quote.sport, 12345);
	assert_int_equal(p.icmp.quote.dport, 443);
	assert_int_equal(p.icmp.quote.tcp_seq, 0);

	/* time exceeded quoting TCP */
	f.n = 0;
	o = ip6(&f, 58);
	PUT(&f, 3, 0, 0, 0, 0, 0, 0, 0);
	q = ip6(&f, 6);
	tcp(&f, 5, 0x02);
	ip6_end(&f, q);
	ip6_end(&f, o);
	dec_packet(DEC_LINK_IPV6, f.b, (uint32_t)f.n, (uint32_t)f.n, &p);
	assert_int_equal(p.st, DEC_OK);
	assert_int_equal(p.icmp.type, 3);
	assert_int_equal(p.icmp.mtu, 0);
	assert_int_equal(p.icmp.quote.tcp_seq, 0x01020304);
	assert_int_equal(p.icmp.quote.dport, 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packet_tcp4_syn),
		cmocka_unit_test(test_packet_tcp4_data),
		cmocka_unit_test(test_packet_truncation),
		cmocka_unit_test(test_packet_invalid),
		cmocka_unit_test(test_packet_8023_and_arp),
		cmocka_unit_test(test_packet_ip6),
		cmocka_unit_test(test_packet_ip6_ext),
		cmocka_unit_test(test_packet_ip4_frag),
		cmocka_unit_test(test_packet_vlan),
		cmocka_unit_test(test_packet_sll),
		cmocka_unit_test(test_packet_udp_invalid),
		cmocka_unit_test(test_packet_vxlan),
		cmocka_unit_test(test_packet_vxlan_nested),
		cmocka_unit_test(test_packet_icmp),
		cmocka_unit_test(test_packet_icmp6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
