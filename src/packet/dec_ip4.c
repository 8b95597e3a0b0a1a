/*
 * dec_ip4.c: IPv4, RFC 791 section 3.1.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |Version|  IHL  |Type of Service|          Total Length         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |         Identification        |Flags|      Fragment Offset    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Time to Live |    Protocol   |         Header Checksum       |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                       Source Address                          |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Destination Address                        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Options                    |    Padding    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * IHL below 5 or a total length below the header is invalid.  The total
 * length opens the datagram's cursor (cur_sub: Ethernet padding is not
 * payload, a short capture is).  Only the fragment at offset 0 carries the
 * transport header.
 */
#include <string.h>

#include "packet/internal.h"

/*
 * The header at c into ip; *dg is the datagram's payload (clamped to
 * the total length and to the capture).  The status is c's or dg's.
 */
static enum dec_status ip4_header(struct cur *c, struct dec_ip *ip,
				  struct cur *dg, size_t *hlenp)
{
	struct cur h = *c; /* the fixed header, read before trusting lengths */
	uint8_t vihl = cur_u8(&h);
	ip->tos = cur_u8(&h);
	uint16_t total = cur_be16(&h);
	ip->id = cur_be16(&h);
	uint16_t frag = cur_be16(&h);
	ip->ttl = cur_u8(&h);
	ip->proto = cur_u8(&h);
	cur_skip(&h, 2); /* checksum */
	const uint8_t *src = cur_bytes(&h, 4);
	const uint8_t *dst = cur_bytes(&h, 4);
	if (h.st != DEC_OK) {
		*c = h;
		return h.st;
	}
	size_t hlen = (size_t)(vihl & 0x0f) * 4;
	if ((vihl >> 4) != 4 || hlen < 20 || total < hlen) {
		cur_invalid(c);
		return DEC_INVALID;
	}
	ip->ver = 4;
	ip->src.family = ip->dst.family = 4;
	memcpy(ip->src.a, src, 4);
	memcpy(ip->dst.a, dst, 4);
	ip->total_len = total;
	ip->df = (frag & 0x4000) != 0;
	ip->frag_off = (uint32_t)(frag & 0x1fff) * 8;
	ip->frag = ip->frag_off != 0 || (frag & 0x2000) != 0;
	*hlenp = hlen;
	*dg = cur_sub(c, total);
	cur_skip(dg, hlen); /* fixed header and options */
	return dg->st;
}

void dec_ip4_decode(struct cur *c, struct dec_pkt *p, int depth)
{
	struct cur dg = { c->p, c->p, DEC_OK };
	size_t hlen = 0;
	if (ip4_header(c, &p->ip, &dg, &hlen) != DEC_OK) {
		dec__stop(p, c->st != DEC_OK ? c->st : dg.st, DEC_L_IP4);
		if (c->st == DEC_INVALID)
			p->ip.ver = 0;
		return;
	}
	p->payload = dg.p;
	p->payload_len = (uint32_t)cur_left(&dg);
	p->payload_claimed = p->ip.total_len - (uint32_t)hlen;
	if (p->ip.frag_off != 0)
		return;
	dec__transport(&dg, p->ip.proto, p, depth);
}

void dec_ip4_quote(struct cur *c, struct dec_quote *q)
{
	struct cur dg = { c->p, c->p, DEC_OK };
	size_t hlen = 0;
	memset(q, 0, sizeof(*q));
	if (ip4_header(c, &q->ip, &dg, &hlen) != DEC_OK) {
		if (c->st == DEC_OK)
			*c = dg; /* the quoted header's options were cut */
		return;
	}
	dec__quote_ports(&dg, q);
}
