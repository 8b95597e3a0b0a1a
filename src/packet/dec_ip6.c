/*
 * dec_ip6.c: IPv6, RFC 8200 section 3 (header) and 4 (extension headers).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |Version| Traffic Class |           Flow Label                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |         Payload Length        |  Next Header  |   Hop Limit   |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                                                               |
 *  +                     Source Address (128 bits)                 +
 *  |                                                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                                                               |
 *  +                  Destination Address (128 bits)               +
 *  |                                                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Extension headers walked: hop-by-hop (0), routing (43), destination
 * options (60): | Next Header | Hdr Ext Len (8-octet units, not counting
 * the first 8) | ... ; fragment (44, RFC 8200 4.5):
 *  | Next Header |  Reserved  |  Fragment Offset  |Res|M|  Identification (32) |
 * AH (51, RFC 4302): | Next Header | Payload Len (4-octet units, minus 2) | ...
 * At most IP6_MAX_EXT of them (more is invalid).  The payload length
 * clamps the datagram (cur_sub); a fragment at offset > 0 has no
 * transport header.
 */
#include <string.h>

#include "packet/internal.h"

#define IP6_MAX_EXT 8

/* Header and extension headers; *dg is the transport part. */
static enum dec_status ip6_header(struct cur *c, struct dec_ip *ip,
				  struct cur *dg, uint32_t *claimed)
{
	struct cur h = *c;
	uint32_t vtf = cur_be32(&h);
	uint16_t plen = cur_be16(&h);
	uint8_t nh = cur_u8(&h);
	ip->ttl = cur_u8(&h);
	const uint8_t *src = cur_bytes(&h, 16);
	const uint8_t *dst = cur_bytes(&h, 16);
	if (h.st != DEC_OK) {
		*c = h;
		return h.st;
	}
	if ((vtf >> 28) != 6) {
		cur_invalid(c);
		return DEC_INVALID;
	}
	ip->ver = 6;
	ip->tos = (uint8_t)(vtf >> 20);
	ip->src.family = ip->dst.family = 6;
	memcpy(ip->src.a, src, 16);
	memcpy(ip->dst.a, dst, 16);
	ip->total_len = 40u + plen;
	cur_skip(c, 40);
	*dg = cur_sub(c, plen);
	uint32_t left = plen; /* claimed bytes after the headers so far */
	for (int n = 0;; n++) {
		size_t elen;
		uint8_t next;
		if (nh == 0 || nh == 43 || nh == 60) {
			next = cur_u8(dg);
			elen = ((size_t)cur_u8(dg) + 1) * 8;
			cur_skip(dg, elen - 2);
		} else if (nh == 44) {
			next = cur_u8(dg);
			cur_skip(dg, 1);
			uint16_t offlg = cur_be16(dg);
			uint32_t id = cur_be32(dg);
			elen = 8;
			ip->frag_off = offlg & 0xfff8u;
			ip->frag = ip->frag_off != 0 || (offlg & 1) != 0;
			ip->id = (uint16_t)id;
		} else if (nh == 51) {
			next = cur_u8(dg);
			elen = ((size_t)cur_u8(dg) + 2) * 4;
			cur_skip(dg, elen - 2);
		} else {
			break;
		}
		if (dg->st != DEC_OK)
			return dg->st; /* cut (by the capture or the payload length) */
		if (n >= IP6_MAX_EXT) {
			cur_invalid(dg);
			return DEC_INVALID;
		}
		left -= (uint32_t)elen; /* elen <= what dg held <= left */
		nh = next;
		if (ip->frag_off != 0)
			break;
	}
	ip->proto = nh;
	*claimed = left;
	return DEC_OK;
}

void dec_ip6_decode(struct cur *c, struct dec_pkt *p, int depth)
{
	struct cur dg = { c->p, c->p, DEC_OK };
	uint32_t claimed = 0;
	if (ip6_header(c, &p->ip, &dg, &claimed) != DEC_OK) {
		dec__stop(p, c->st != DEC_OK ? c->st : dg.st, DEC_L_IP6);
		if (c->st == DEC_INVALID)
			p->ip.ver = 0;
		return;
	}
	p->payload = dg.p;
	p->payload_len = (uint32_t)cur_left(&dg);
	p->payload_claimed = claimed;
	if (p->ip.frag_off != 0)
		return;
	dec__transport(&dg, p->ip.proto, p, depth);
}

void dec_ip6_quote(struct cur *c, struct dec_quote *q)
{
	struct cur dg = { c->p, c->p, DEC_OK };
	uint32_t claimed = 0;
	memset(q, 0, sizeof(*q));
	if (ip6_header(c, &q->ip, &dg, &claimed) != DEC_OK) {
		if (c->st == DEC_OK)
			*c = dg;
		return;
	}
	dec__quote_ports(&dg, q);
}
