/*
 * dec_icmp.c: ICMP (RFC 792) and ICMPv6 (RFC 4443), the header and, for
 * errors, the quoted IP header (enough to find the flow).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |     Type      |     Code      |          Checksum             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |   unused (or, RFC 1191 frag-needed: | Next-Hop MTU)           |
 *  |   (ICMPv6 packet too big: MTU, 32 bits)                       |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |      Internet Header + leading octets of the original datagram |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Errors quoting a datagram: ICMP 3 (unreachable) and 11 (time exceeded);
 * ICMPv6 1 (unreachable), 2 (packet too big), 3 (time exceeded).  ICMPv4
 * or ICMPv6 is the IP protocol (1 or 58).  A quote counts against
 * DEC_MAX_ENCAP; a cut quoted IP header is DEC_TRUNC at ICMP, a quote
 * without its ports is only has_ports = false.
 */
#include "packet/internal.h"

void dec_icmp_decode(struct cur *c, struct dec_pkt *p, int depth)
{
	struct dec_icmp *ic = &p->icmp;
	bool v6 = p->ip.proto == 58;
	ic->type = cur_u8(c);
	ic->code = cur_u8(c);
	cur_skip(c, 2); /* checksum */
	uint32_t rest = cur_be32(c);
	if (c->st != DEC_OK) {
		dec__check(p, c, DEC_L_ICMP);
		return;
	}
	p->l4 = DEC_L_ICMP;
	p->payload = c->p;
	p->payload_len = (uint32_t)cur_left(c);
	p->payload_claimed = p->payload_claimed >= 8 ? p->payload_claimed - 8 : 0;
	bool quotes;
	if (v6) {
		quotes = ic->type >= 1 && ic->type <= 3;
		if (ic->type == 2)
			ic->mtu = rest;
	} else {
		quotes = ic->type == 3 || ic->type == 11;
		if (ic->type == 3 && ic->code == 4)
			ic->mtu = rest & 0xffff;
	}
	if (!quotes)
		return;
	if (depth >= DEC_MAX_ENCAP) {
		cur_invalid(c);
		dec__check(p, c, DEC_L_ICMP);
		return;
	}
	if (v6)
		dec_ip6_quote(c, &ic->quote);
	else
		dec_ip4_quote(c, &ic->quote);
	if (c->st != DEC_OK) {
		dec__check(p, c, DEC_L_ICMP);
		return;
	}
	ic->has_quote = true;
}
