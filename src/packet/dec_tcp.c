/*
 * dec_tcp.c: TCP, RFC 9293 section 3.1; options RFC 9293 3.2 (EOL 0, NOP
 * 1, MSS 2), RFC 7323 (window scale 3, timestamps 8), RFC 2018 (SACK
 * permitted 4, SACK 5).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          Source Port          |       Destination Port        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                        Sequence Number                        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Acknowledgment Number                      |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Data |       |C|E|U|A|P|R|S|F|                               |
 *  | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *  |       |       |R|E|G|K|H|T|N|N|                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           Checksum            |         Urgent Pointer        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                           [Options]                           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A data offset below 5, or above what the IP layer claims, is invalid
 * (in a first fragment the header may go on in the next one: truncated);
 * so is an option length below 2 (the loop would not progress) or one
 * running past the header.  On entry p->payload_claimed is the IP
 * payload's claimed length (dec_ip4.c, dec_ip6.c).
 */
#include "packet/internal.h"

static void tcp_option(struct dec_tcp *t, uint8_t kind, size_t olen,
		       struct cur *o)
{
	switch (kind) {
	case 2:
		if (olen == 4)
			t->mss = cur_be16(o);
		break;
	case 3:
		if (olen == 3)
			t->wscale = cur_u8(o);
		break;
	case 4:
		if (olen == 2)
			t->sack_perm = true;
		break;
	case 5:
		if (olen < 2 || (olen - 2) % 8 != 0)
			break;
		for (size_t i = 0; i < (olen - 2) / 8; i++) {
			uint32_t l = cur_be32(o), r = cur_be32(o);
			if (t->n_sack < DEC_MAX_SACK) {
				t->sack[t->n_sack][0] = l;
				t->sack[t->n_sack][1] = r;
				t->n_sack++;
			}
		}
		break;
	case 8:
		if (olen == 10) {
			t->ts_val = cur_be32(o);
			t->ts_ecr = cur_be32(o);
			t->has_ts = true;
		}
		break;
	default:
		break;
	}
}

void dec_tcp_decode(struct cur *c, struct dec_pkt *p)
{
	struct dec_tcp *t = &p->tcp;
	uint32_t claimed = p->payload_claimed;
	p->sport = cur_be16(c);
	p->dport = cur_be16(c);
	t->seq = cur_be32(c);
	t->ack = cur_be32(c);
	uint16_t offfl = cur_be16(c);
	t->win = cur_be16(c);
	cur_skip(c, 4); /* checksum, urgent pointer */
	if (c->st != DEC_OK) {
		dec__check(p, c, DEC_L_TCP);
		return;
	}
	size_t hlen = (size_t)(offfl >> 12) * 4;
	t->flags = (uint8_t)offfl;
	t->hdr_len = (uint8_t)hlen;
	if (hlen > claimed && hlen >= 20 && p->ip.frag) {
		cur_trunc(c); /* the header goes on in the next fragment */
		dec__check(p, c, DEC_L_TCP);
		return;
	}
	if (hlen < 20 || hlen > claimed) {
		cur_invalid(c);
		dec__check(p, c, DEC_L_TCP);
		return;
	}
	p->l4 = DEC_L_TCP;
	size_t olen = hlen - 20;
	int opts_captured = cur_left(c) >= olen;
	struct cur o = cur_sub(c, olen);
	while (cur_left(&o) > 0) {
		uint8_t kind = cur_u8(&o);
		if (kind == 0)
			break;
		if (kind == 1)
			continue;
		uint8_t len = cur_u8(&o);
		if (o.st != DEC_OK)
			break;
		if (len < 2) {
			cur_invalid(&o);
			break;
		}
		if (cur_left(&o) < (size_t)len - 2) {
			if (opts_captured)
				cur_invalid(&o); /* runs past the header */
			else
				cur_trunc(&o);
			break;
		}
		struct cur body = cur_sub(&o, (size_t)len - 2);
		tcp_option(t, kind, len, &body);
	}
	if (o.st == DEC_OK && !opts_captured)
		cur_trunc(&o); /* EOL seen, but the padding was cut */
	if (o.st != DEC_OK) {
		dec__check(p, &o, DEC_L_TCP);
		return;
	}
	p->payload = c->p;
	p->payload_len = (uint32_t)cur_left(c);
	p->payload_claimed = claimed - (uint32_t)hlen;
	if (p->payload_len > p->payload_claimed)
		p->payload_len = p->payload_claimed;
}
