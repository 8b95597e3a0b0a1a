/*
 * dec_redact.h: the byte surgery behind a run's escalation file (DESIGN
 * section 8: what reaches disk is "all headers, DNS whole, TLS record
 * headers, no plaintext HTTP payload").  capture/cap_evidence.c decides
 * what to keep; the bytes are read and changed only here (STYLE.md
 * section 1: only packet/ touches raw bytes).
 *
 * Two pieces:
 *  - a TLS record header walk over one direction's in-order stream
 *    bytes, reporting the stream offset of each record header (5 bytes)
 *    and where the layout is lost (a header that cannot be one);
 *  - zeroing a copied TCP payload except the record headers it holds,
 *    and where to cut a frame so that only its headers remain.
 *
 * The walk keeps no pointers and allocates nothing: its state is a
 * partial header and the bytes of the current record body still to come,
 * so a header spanning segments, several records per segment and a
 * record spanning many segments all come out the same.
 */
#ifndef PROBE_PACKET_DEC_REDACT_H
#define PROBE_PACKET_DEC_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/dec.h"

#define DEC_REDACT_NONE UINT64_MAX /* "no layout loss" */

struct dec_redact_tls {
	uint64_t hdr_off;   /* stream offset of the header being read */
	uint32_t body_left; /* bytes of the current record body to come */
	uint8_t have;       /* header bytes read so far (0..4) */
	uint8_t hdr[5];
	bool lost;          /* sticky: an invalid header was met */
};

/*
 * Called with the stream offset of each complete, plausible record
 * header.  Return 0 to go on, non-zero to stop: the walk then counts the
 * layout as lost at that header (a cap of the caller was reached).
 */
typedef int dec_redact_on_hdr(uint64_t off, void *ctx);

void dec_redact_tls_init(struct dec_redact_tls *w);

/*
 * Feed len in-order bytes of one direction starting at stream offset
 * off (the offset right after the previous feed's bytes).  A header is
 * plausible when its type is 20..24, its version 3.x (x <= 4) and its
 * length at most DEC_TLS_MAX_LEN.  Returns 0, or 1 when the layout is
 * lost: *lost_at is then the offset of the offending header (every byte
 * from there on is to be zeroed), and every later feed returns 1 too
 * without changing *lost_at.
 */
int dec_redact_tls_feed(struct dec_redact_tls *w, const uint8_t *data,
			size_t len, uint64_t off, dec_redact_on_hdr *on_hdr,
			void *ctx, uint64_t *lost_at);

/*
 * Zero payload[0..len), which sits at stream offset off, except the
 * bytes of record headers at hdrs[0..n) (ascending stream offsets, 5
 * bytes each) that lie before lost_at (DEC_REDACT_NONE: no loss).  The
 * number of bytes zeroed.
 */
size_t dec_redact_tls_zero(uint8_t *payload, size_t len, uint64_t off,
			   const uint64_t *hdrs, size_t n, uint64_t lost_at);

/*
 * Where to cut frame (as dec_packet() decoded it into p) so that only its
 * headers stay: the offset of p->payload in frame, or caplen when there is
 * no payload pointer (the frame ended inside a header, or it is not IP).
 */
uint32_t dec_redact_hdr_len(const struct dec_pkt *p, const uint8_t *frame,
			    uint32_t caplen);

/*
 * Is p an ICMP or ICMPv6 error?  ICMP 3, 4, 5, 11, 12; ICMPv6 1..4.
 */
bool dec_redact_icmp_error(const struct dec_pkt *p);

/*
 * How much of an ICMP error frame to keep: up to the end of the quoted
 * IP header plus 8 bytes of the quoted transport header (RFC 792's
 * minimum quote: ports, and a TCP sequence number, all the analyzer
 * reads).  A quote can hold much more: RFC 1812 routers and Linux quote
 * up to 576 bytes, ICMPv6 (RFC 4443 2.4) as much as fits in 1280, so
 * the quoted datagram's payload (cleartext HTTP too) is cut.  An IPv6
 * quote keeps 40 + 8 bytes (extension headers are not walked: their
 * bytes count against the 8).  A quote that is not IP: the ICMP header
 * only.  Never more than caplen.
 */
uint32_t dec_redact_icmp_keep(const struct dec_pkt *p, const uint8_t *frame,
			      uint32_t caplen);

#endif
