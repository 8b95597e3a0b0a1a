/*
 * dec_eth.c: Ethernet II (IEEE 802.3 clause 3.1.1 framing, RFC 894 for IP).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                 Destination MAC (6 bytes)                     |
 *  +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                               |                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+    Source MAC (6 bytes)       +
 *  |                                                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |     EtherType / Length        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A type field below 0x0600 is an 802.3 length (LLC follows): not ours,
 * decoding stops quietly.
 */
#include "packet/internal.h"

void dec_eth_decode(struct cur *c, struct dec_pkt *p, int depth)
{
	cur_skip(c, 12); /* destination, source */
	uint16_t type = cur_be16(c);
	dec__check(p, c, DEC_L_LINK);
	if (c->st != DEC_OK || type < 0x0600)
		return;
	dec__ethertype(c, type, p, depth);
}
