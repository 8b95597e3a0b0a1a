/*
 * dec_vlan.c: IEEE 802.1Q VLAN tags (TPID 0x8100) and 802.1ad service
 * tags (TPID 0x88a8, QinQ).  The TPID was read as the EtherType; the tag
 * control information and the inner EtherType follow:
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  | PCP |D|        VLAN ID        |     EtherType (inner)         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The first DEC_MAX_VLAN VLAN IDs are kept; nesting counts against
 * DEC_MAX_ENCAP (a stack of tags is invalid past it).
 */
#include "packet/internal.h"

void dec_vlan_decode(struct cur *c, uint16_t tpid, struct dec_pkt *p,
		     int depth)
{
	(void)tpid;
	if (depth >= DEC_MAX_ENCAP) {
		cur_invalid(c);
		dec__check(p, c, DEC_L_VLAN);
		return;
	}
	uint16_t tci = cur_be16(c);
	uint16_t type = cur_be16(c);
	dec__check(p, c, DEC_L_VLAN);
	if (c->st != DEC_OK)
		return;
	if (p->n_vlan < DEC_MAX_VLAN)
		p->vlan[p->n_vlan++] = tci & 0x0fff;
	if (type < 0x0600)
		return;
	dec__ethertype(c, type, p, depth + 1);
}
