/*
 * dec_sll.c: Linux cooked capture, v1 (LINKTYPE_LINUX_SLL 113) and v2
 * (LINKTYPE_LINUX_SLL2 276); https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html
 * and LINKTYPE_LINUX_SLL2.html.  The protocol type is an EtherType for
 * the link types we see (values below 0x0600 are Linux-specific: stop).
 *
 * SLL (16 bytes):                     SLL2 (20 bytes):
 *  +---------------------------+      +---------------------------+
 *  | Packet type        (2)    |      | Protocol type      (2)    |
 *  | ARPHRD type        (2)    |      | Reserved (MBZ)     (2)    |
 *  | Link-layer addr len(2)    |      | Interface index    (4)    |
 *  | Link-layer address (8)    |      | ARPHRD type        (2)    |
 *  | Protocol type      (2)    |      | Packet type        (1)    |
 *  +---------------------------+      | Link-layer addr len(1)    |
 *                                     | Link-layer address (8)    |
 *                                     +---------------------------+
 */
#include "packet/internal.h"

static void sll_next(struct cur *c, uint16_t proto, struct dec_pkt *p,
		     int depth)
{
	dec__check(p, c, DEC_L_LINK);
	if (c->st != DEC_OK || proto < 0x0600)
		return;
	dec__ethertype(c, proto, p, depth);
}

void dec_sll_decode(struct cur *c, struct dec_pkt *p, int depth)
{
	cur_skip(c, 14); /* packet type, ARPHRD, address length, address */
	uint16_t proto = cur_be16(c);
	sll_next(c, proto, p, depth);
}

void dec_sll2_decode(struct cur *c, struct dec_pkt *p, int depth)
{
	uint16_t proto = cur_be16(c);
	cur_skip(c, 18); /* reserved .. address */
	sll_next(c, proto, p, depth);
}
