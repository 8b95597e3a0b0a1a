/*
 * dec_dns.c: DNS messages, RFC 1035 section 4.1 (EDNS: RFC 6891 6.1.3;
 * over TCP: RFC 7766 section 8, a 2-byte length before each message).
 *
 *                                 1  1  1  1  1  1
 *   0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
 * +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 * |                      ID                       |
 * +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 * |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
 * +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 * |                    QDCOUNT                    |
 * |                    ANCOUNT                    |
 * |                    NSCOUNT                    |
 * |                    ARCOUNT                    |
 * +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 * question: QNAME, QTYPE(16), QCLASS(16)
 * RR:       NAME, TYPE(16), CLASS(16), TTL(32), RDLENGTH(16), RDATA
 *
 * Names (RFC 1035 4.1.4): labels of length 0..63 (top bits 00) or a
 * pointer (top bits 11, 14-bit offset).  Pointer rules here: every pointer
 * must point strictly before the previous jump target (before the pointer
 * itself for the first), so the walk always terminates; at most
 * DEC_DNS_MAX_HOPS pointers; the wire length of the expanded name is at
 * most 255 octets.  Top bits 01/10 (RFC 6891 extended label types) are
 * invalid.
 */
#include "packet/dec_dns.h"

#include <string.h>

/* Append one label byte in presentation form to out (see dec_dns.h). */
static void put_char(char *out, size_t cap, size_t *n, bool *cut, uint8_t b,
		     bool in_label)
{
	char tmp[4];
	size_t k;
	if (in_label && (b == '.' || b == '\\')) {
		tmp[0] = '\\';
		tmp[1] = (char)b;
		k = 2;
	} else if (in_label && (b < 0x21 || b > 0x7e)) {
		tmp[0] = '\\';
		tmp[1] = (char)('0' + b / 100);
		tmp[2] = (char)('0' + (b / 10) % 10);
		tmp[3] = (char)('0' + b % 10);
		k = 4;
	} else {
		tmp[0] = (char)b;
		k = 1;
	}
	if (*cut || cap - 1 - *n < k) {
		*cut = true;
		return;
	}
	memcpy(out + *n, tmp, k);
	*n += k;
	out[*n] = '\0';
}

/*
 * Read a (possibly compressed) name at c, which is a cursor inside
 * msg[0..msglen).  c moves past the name as it appears in place (up to
 * and including the first pointer).  When out is not NULL the name is
 * written there in presentation form.  Problems go into c->st.
 */
static void dns_name(struct cur *c, const uint8_t *msg, size_t msglen,
		     char *out, size_t cap, bool *cut)
{
	struct cur w = *c;       /* where labels are read now */
	bool jumped = false;
	size_t limit = (size_t)(c->p - msg); /* pointers must go below this */
	size_t wire = 0;
	unsigned hops = 0;
	size_t n = 0;
	bool dummy_cut = false;
	if (!cut)
		cut = &dummy_cut;
	if (out && cap)
		out[0] = '\0';
	for (;;) {
		size_t here = (size_t)(w.p - msg);
		uint8_t len = cur_u8(&w);
		if (w.st != DEC_OK)
			break;
		if ((len & 0xc0) == 0xc0) {
			uint8_t lo = cur_u8(&w);
			if (w.st != DEC_OK)
				break;
			size_t off = ((size_t)(len & 0x3f) << 8) | lo;
			if (!jumped) {
				c->p = w.p; /* the name in place ends here */
				jumped = true;
			}
			if (off >= limit || off >= here ||
			    ++hops > DEC_DNS_MAX_HOPS) {
				cur_invalid(&w);
				break;
			}
			limit = off;
			w = cur_make(msg, msglen);
			cur_skip(&w, off);
			continue;
		}
		if (len > DEC_DNS_LABEL_MAX) { /* 01 and 10: not supported */
			cur_invalid(&w);
			break;
		}
		if (DEC_DNS_NAME_MAX - wire < (size_t)len + 1u) {
			cur_invalid(&w);
			break;
		}
		wire += (size_t)len + 1u;
		if (len == 0) {
			if (out && n == 0)
				put_char(out, cap, &n, cut, '.', false);
			break;
		}
		const uint8_t *lab = cur_bytes(&w, len);
		if (!lab)
			break;
		if (out) {
			if (n > 0)
				put_char(out, cap, &n, cut, '.', false);
			for (size_t i = 0; i < len; i++)
				put_char(out, cap, &n, cut, lab[i], true);
		}
	}
	if (w.st != DEC_OK) {
		if (w.st == DEC_INVALID)
			cur_invalid(c);
		else
			cur_trunc(c);
	} else if (!jumped) {
		c->p = w.p;
	}
}

/* One resource record; section 0 = answer, 1 = authority, 2 = additional. */
static void dns_rr(struct cur *c, const uint8_t *msg, size_t msglen,
		   int section, struct dec_dns *out)
{
	dns_name(c, msg, msglen, NULL, 0, NULL);
	uint16_t type = cur_be16(c);
	uint16_t klass = cur_be16(c);
	uint32_t ttl = cur_be32(c);
	uint16_t rdlen = cur_be16(c);
	if (c->st != DEC_OK)
		return;
	if (!cur_has(c, rdlen)) {
		cur_trunc(c);
		return;
	}
	struct cur rd = cur_sub(c, rdlen);
	if (section == 0 && (type == DEC_DNS_T_A || type == DEC_DNS_T_AAAA)) {
		size_t want = type == DEC_DNS_T_A ? 4 : 16;
		if (rdlen != want) {
			cur_invalid(c);
			return;
		}
		const uint8_t *a = cur_bytes(&rd, want);
		if (a && out->n_addrs < DEC_DNS_MAX_ADDRS) {
			struct dec_addr *d = &out->addrs[out->n_addrs++];
			memset(d, 0, sizeof(*d));
			d->family = type == DEC_DNS_T_A ? 4 : 6;
			memcpy(d->a, a, want);
		}
	} else if (section == 2 && type == DEC_DNS_T_OPT && !out->has_edns) {
		out->has_edns = true;
		out->edns_udp_size = klass;
		/* TTL: EXTENDED-RCODE(8) VERSION(8) DO(1) Z(15) */
		out->rcode = (uint16_t)(((ttl >> 24) << 4) | (out->rcode & 0xf));
	}
	if (section == 0)
		out->n_answers++;
}

int dec_dns_parse(const uint8_t *msg, size_t len, bool over_tcp,
		  struct dec_dns *out)
{
	memset(out, 0, sizeof(*out));
	struct cur outer = cur_make(msg, len);
	if (over_tcp) {
		uint16_t mlen = cur_be16(&outer);
		if (outer.st != DEC_OK)
			return DEC_TRUNC;
		out->used = 2u + mlen;
		if (mlen < 12)
			return DEC_INVALID;
		if (!cur_has(&outer, mlen))
			return DEC_TRUNC;
	} else {
		out->used = len;
	}
	/* Names are resolved against the message alone (offsets from ID). */
	const uint8_t *m = outer.p;
	size_t mlen = over_tcp ? out->used - 2 : len;
	struct cur c = cur_make(m, mlen);

	out->id = cur_be16(&c);
	uint16_t fl = cur_be16(&c);
	out->qdcount = cur_be16(&c);
	out->ancount = cur_be16(&c);
	out->nscount = cur_be16(&c);
	out->arcount = cur_be16(&c);
	if (c.st != DEC_OK)
		return c.st;
	out->qr = fl >> 15;
	out->opcode = (fl >> 11) & 0xf;
	out->aa = (fl >> 10) & 1;
	out->tc = (fl >> 9) & 1;
	out->rd = (fl >> 8) & 1;
	out->ra = (fl >> 7) & 1;
	out->ad = (fl >> 5) & 1;
	out->cd = (fl >> 4) & 1;
	out->rcode = fl & 0xf;

	/* Each loop below reads at least 5 bytes per turn or stops. */
	for (uint32_t i = 0; i < out->qdcount && c.st == DEC_OK; i++) {
		if (i == 0) {
			dns_name(&c, m, mlen, out->qname, sizeof(out->qname),
				 &out->qname_cut);
			out->qtype = cur_be16(&c);
			out->qclass = cur_be16(&c);
			out->has_question = c.st == DEC_OK;
		} else {
			dns_name(&c, m, mlen, NULL, 0, NULL);
			cur_skip(&c, 4);
		}
	}
	const uint16_t counts[3] = { out->ancount, out->nscount,
				     out->arcount };
	for (int s = 0; s < 3; s++)
		for (uint32_t i = 0; i < counts[s] && c.st == DEC_OK; i++)
			dns_rr(&c, m, mlen, s, out);
	return c.st;
}
