/*
 * dec.c: dec_packet() and the link-type table; the EtherType and IP
 * protocol dispatchers the decoders share (internal.h); names.
 *
 * Link types are pcap's LINKTYPE_ values (https://www.tcpdump.org/linktypes.html):
 * 1 Ethernet, 101 (and DLT_RAW 12, 14) raw IP whose version nibble picks
 * IPv4 or IPv6, 228 IPv4, 229 IPv6, 113 Linux cooked (SLL), 276 SLL2.
 */
#include <arpa/inet.h>
#include <string.h>

#include "packet/internal.h"

static void dec_raw_decode(struct cur *c, struct dec_pkt *p, int depth)
{
	if (!cur_has(c, 1)) {
		cur_trunc(c);
		dec__check(p, c, DEC_L_IP4);
		return;
	}
	if ((c->p[0] >> 4) == 6)
		dec_ip6_decode(c, p, depth);
	else
		dec_ip4_decode(c, p, depth); /* says invalid if not 4 */
}

static const struct {
	int linktype;
	void (*decode)(struct cur *c, struct dec_pkt *p, int depth);
} link_table[] = {
	{ DEC_LINK_EN10MB, dec_eth_decode },
	{ DEC_LINK_RAW, dec_raw_decode },
	{ 12, dec_raw_decode }, /* DLT_RAW on most BSDs */
	{ 14, dec_raw_decode }, /* DLT_RAW on OpenBSD */
	{ DEC_LINK_IPV4, dec_ip4_decode },
	{ DEC_LINK_IPV6, dec_ip6_decode },
	{ DEC_LINK_LINUX_SLL, dec_sll_decode },
	{ DEC_LINK_LINUX_SLL2, dec_sll2_decode },
};

void dec_packet(int linktype, const uint8_t *data, uint32_t caplen,
		uint32_t len, struct dec_pkt *out)
{
	(void)len; /* claimed lengths come from the headers themselves */
	memset(out, 0, sizeof(*out));
	out->linktype = linktype;
	out->st = DEC_OK;
	out->st_layer = DEC_L_NONE;
	out->tcp.mss = -1;
	out->tcp.wscale = -1;
	static const uint8_t none[1];
	struct cur c = data ? cur_make(data, caplen) : cur_make(none, 0);
	for (size_t i = 0; i < sizeof(link_table) / sizeof(link_table[0]);
	     i++) {
		if (link_table[i].linktype == linktype) {
			link_table[i].decode(&c, out, 0);
			return;
		}
	}
	dec__stop(out, DEC_INVALID, DEC_L_LINK); /* unknown link type */
}

void dec__stop(struct dec_pkt *p, enum dec_status st, enum dec_layer l)
{
	if (st == DEC_OK || p->st != DEC_OK)
		return;
	p->st = st;
	p->st_layer = l;
}

void dec__check(struct dec_pkt *p, const struct cur *c, enum dec_layer l)
{
	if (c->st != DEC_OK)
		dec__stop(p, c->st, l);
}

void dec__ethertype(struct cur *c, uint16_t type, struct dec_pkt *p,
		    int depth)
{
	switch (type) {
	case 0x8100: /* 802.1Q */
	case 0x88a8: /* 802.1ad */
		dec_vlan_decode(c, type, p, depth);
		break;
	case 0x0800:
		dec_ip4_decode(c, p, depth);
		break;
	case 0x86dd:
		dec_ip6_decode(c, p, depth);
		break;
	default: /* ARP, LLDP...: not ours, not an error */
		break;
	}
}

void dec__transport(struct cur *c, uint8_t proto, struct dec_pkt *p,
		    int depth)
{
	switch (proto) {
	case 6:
		dec_tcp_decode(c, p);
		break;
	case 17:
		dec_udp_decode(c, p, depth);
		break;
	case 1:
	case 58:
		dec_icmp_decode(c, p, depth);
		break;
	default:
		break;
	}
}

const char *dec_layer_name(enum dec_layer l)
{
	static const char *const names[DEC_L_COUNT] = {
		[DEC_L_NONE] = "none", [DEC_L_LINK] = "link",
		[DEC_L_VLAN] = "vlan", [DEC_L_IP4] = "ipv4",
		[DEC_L_IP6] = "ipv6",  [DEC_L_TCP] = "tcp",
		[DEC_L_UDP] = "udp",   [DEC_L_ICMP] = "icmp",
		[DEC_L_VXLAN] = "vxlan",
	};
	if ((unsigned)l >= DEC_L_COUNT)
		return "?";
	return names[l];
}

const char *dec_status_name(enum dec_status s)
{
	switch (s) {
	case DEC_OK:
		return "ok";
	case DEC_TRUNC:
		return "truncated";
	case DEC_INVALID:
		return "invalid";
	}
	return "?";
}

const char *dec_addr_str(const struct dec_addr *a, char *buf, size_t len)
{
	if (!buf || len == 0)
		return buf;
	buf[0] = '\0';
	if (a->family == 4)
		(void)inet_ntop(AF_INET, a->a, buf, (socklen_t)len);
	else if (a->family == 6)
		(void)inet_ntop(AF_INET6, a->a, buf, (socklen_t)len);
	return buf;
}

void dec__quote_ports(struct cur *dg, struct dec_quote *q)
{
	if (q->ip.frag_off != 0 || (q->ip.proto != 6 && q->ip.proto != 17))
		return;
	q->sport = cur_be16(dg);
	q->dport = cur_be16(dg);
	if (dg->st != DEC_OK)
		return;
	q->has_ports = true;
	if (q->ip.proto == 6)
		q->tcp_seq = cur_be32(dg);
}

bool dec_addr_eq(const struct dec_addr *x, const struct dec_addr *y)
{
	return x->family == y->family &&
	       memcmp(x->a, y->a, x->family == 6 ? 16 : 4) == 0;
}
