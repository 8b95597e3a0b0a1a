/*
 * dec_redact.c: TLS record header walk and payload zeroing for the
 * escalation file (dec_redact.h).
 *
 * TLS record header (RFC 8446 section 5.1, RFC 5246 section 6.2):
 *
 *   +--------+--------+--------+--------+--------+-----------------
 *   |  type  | version (3, x)  |     length      | fragment ...
 *   +--------+--------+--------+--------+--------+-----------------
 *
 * The walk alternates between collecting the five header bytes and
 * skipping `length` body bytes; it never needs the body itself, which is
 * why it can run over segments in sequence order with retransmitted
 * copies left out (cap_evidence.c feeds each stream byte once).
 */
#include "packet/dec_redact.h"

#include <string.h>

#include "packet/cursor.h"
#include "packet/dec_tls.h"

void dec_redact_tls_init(struct dec_redact_tls *w)
{
	memset(w, 0, sizeof(*w));
}

static bool hdr_plausible(const uint8_t h[5], uint32_t *len)
{
	struct cur c = cur_make(h, 5);
	uint8_t type = cur_u8(&c);
	uint8_t major = cur_u8(&c);
	uint8_t minor = cur_u8(&c);
	uint16_t l = cur_be16(&c);
	if (c.st != DEC_OK || type < DEC_TLS_CCS || type > DEC_TLS_HEARTBEAT ||
	    major != 3 || minor > 4 || l > DEC_TLS_MAX_LEN)
		return false;
	*len = l;
	return true;
}

int dec_redact_tls_feed(struct dec_redact_tls *w, const uint8_t *data,
			size_t len, uint64_t off, dec_redact_on_hdr *on_hdr,
			void *ctx, uint64_t *lost_at)
{
	struct cur c = cur_make(data, len);
	if (w->lost)
		return 1;
	while (cur_left(&c) > 0) {
		if (w->body_left > 0) {
			size_t n = cur_left(&c);
			if (n > w->body_left)
				n = w->body_left;
			cur_skip(&c, n);
			off += n;
			w->body_left -= (uint32_t)n;
			continue;
		}
		if (w->have == 0)
			w->hdr_off = off;
		w->hdr[w->have++] = cur_u8(&c);
		off++;
		if (w->have < DEC_TLS_HDR)
			continue;
		w->have = 0;
		uint32_t blen;
		if (!hdr_plausible(w->hdr, &blen) ||
		    (on_hdr && on_hdr(w->hdr_off, ctx) != 0)) {
			w->lost = true;
			*lost_at = w->hdr_off;
			return 1;
		}
		w->body_left = blen;
	}
	return 0;
}

size_t dec_redact_tls_zero(uint8_t *payload, size_t len, uint64_t off,
			   const uint64_t *hdrs, size_t n, uint64_t lost_at)
{
	uint64_t end = off + len;
	/* the first header that can overlap [off, end): h + 5 > off */
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (hdrs[mid] + DEC_TLS_HDR <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t zeroed = 0;
	uint64_t pos = off; /* bytes before pos are done */
	for (size_t i = lo; i < n && hdrs[i] < end && hdrs[i] < lost_at;
	     i++) {
		uint64_t hs = hdrs[i] > pos ? hdrs[i] : pos;
		uint64_t he = hdrs[i] + DEC_TLS_HDR;
		if (he > end)
			he = end;
		if (he > lost_at)
			he = lost_at;
		if (hs > pos) {
			memset(payload + (pos - off), 0, (size_t)(hs - pos));
			zeroed += (size_t)(hs - pos);
		}
		if (he > pos)
			pos = he;
	}
	if (end > pos) {
		memset(payload + (pos - off), 0, (size_t)(end - pos));
		zeroed += (size_t)(end - pos);
	}
	return zeroed;
}

uint32_t dec_redact_hdr_len(const struct dec_pkt *p, const uint8_t *frame,
			    uint32_t caplen)
{
	if (!p->payload || p->payload < frame || p->payload > frame + caplen)
		return caplen;
	return (uint32_t)(p->payload - frame);
}

bool dec_redact_icmp_error(const struct dec_pkt *p)
{
	if (p->l4 != DEC_L_ICMP)
		return false;
	uint8_t t = p->icmp.type;
	if (p->ip.proto == 58)
		return t >= 1 && t <= 4;
	return t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
}

uint32_t dec_redact_icmp_keep(const struct dec_pkt *p, const uint8_t *frame,
			      uint32_t caplen)
{
	uint32_t hdr = dec_redact_hdr_len(p, frame, caplen);
	if (hdr >= caplen)
		return caplen;
	struct cur c = cur_make(frame + hdr, caplen - hdr);
	uint8_t vihl = cur_u8(&c);
	uint32_t quote;
	if (c.st != DEC_OK)
		return hdr;
	if ((vihl >> 4) == 4 && (vihl & 0x0f) >= 5)
		quote = (uint32_t)(vihl & 0x0f) * 4 + 8;
	else if ((vihl >> 4) == 6)
		quote = 40 + 8;
	else
		return hdr;
	return caplen - hdr > quote ? hdr + quote : caplen;
}
