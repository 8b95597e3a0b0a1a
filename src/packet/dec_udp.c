/*
 * dec_udp.c: UDP, RFC 768.
 *
 *   0      7 8     15 16    23 24    31
 *  +--------+--------+--------+--------+
 *  |     Source      |   Destination   |
 *  |      Port       |      Port       |
 *  +--------+--------+--------+--------+
 *  |                 |                 |
 *  |     Length      |    Checksum     |
 *  +--------+--------+--------+--------+
 *
 * A length below 8, or above what the IP layer claims (unless the IP
 * datagram is a first fragment), is invalid.  The
 * length clamps the payload (cur_sub).  Destination port 4789 is VXLAN
 * (RFC 7348).  On entry p->payload_claimed is the IP payload's claimed
 * length.
 */
#include "packet/internal.h"

#define UDP_PORT_VXLAN 4789

void dec_udp_decode(struct cur *c, struct dec_pkt *p, int depth)
{
	uint32_t claimed = p->payload_claimed;
	p->sport = cur_be16(c);
	p->dport = cur_be16(c);
	uint16_t len = cur_be16(c);
	cur_skip(c, 2); /* checksum */
	if (c->st != DEC_OK) {
		dec__check(p, c, DEC_L_UDP);
		return;
	}
	p->udp_len = len;
	/* a first fragment carries only part of what the length claims */
	if (len < 8 || (len > claimed && !p->ip.frag)) {
		cur_invalid(c);
		dec__check(p, c, DEC_L_UDP);
		return;
	}
	p->l4 = DEC_L_UDP;
	struct cur pl = cur_sub(c, (size_t)len - 8);
	p->payload = pl.p;
	p->payload_len = (uint32_t)cur_left(&pl);
	p->payload_claimed = (uint32_t)len - 8;
	if (p->dport == UDP_PORT_VXLAN)
		dec_vxlan_decode(&pl, p, depth);
}
