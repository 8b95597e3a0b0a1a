/*
 * dec_vxlan.c: VXLAN, RFC 7348 section 5 (UDP destination port 4789).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |R|R|R|R|I|R|R|R|            Reserved                           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                VXLAN Network Identifier (VNI) |   Reserved    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The I flag must be set (else invalid).  The inner Ethernet frame is
 * decoded into the same struct dec_pkt: the IP and transport fields are
 * reset, since the flow is the inner one; vxlan and vni say so.  Nesting
 * counts against DEC_MAX_ENCAP.
 */
#include <string.h>

#include "packet/internal.h"

void dec_vxlan_decode(struct cur *c, struct dec_pkt *p, int depth)
{
	if (depth >= DEC_MAX_ENCAP) {
		cur_invalid(c);
		dec__check(p, c, DEC_L_VXLAN);
		return;
	}
	uint8_t flags = cur_u8(c);
	cur_skip(c, 3);
	uint32_t vni = cur_be32(c) >> 8;
	if (c->st == DEC_OK && !(flags & 0x08))
		cur_invalid(c);
	if (c->st != DEC_OK) {
		dec__check(p, c, DEC_L_VXLAN);
		return;
	}
	p->vxlan = true;
	p->vni = vni;
	memset(&p->ip, 0, sizeof(p->ip));
	p->l4 = 0;
	p->sport = p->dport = 0;
	memset(&p->tcp, 0, sizeof(p->tcp));
	p->tcp.mss = -1;
	p->tcp.wscale = -1;
	p->udp_len = 0;
	memset(&p->icmp, 0, sizeof(p->icmp));
	p->payload = NULL;
	p->payload_len = p->payload_claimed = 0;
	dec_eth_decode(c, p, depth + 1);
}
