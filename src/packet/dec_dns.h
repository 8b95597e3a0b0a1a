/*
 * dec_dns.h: one DNS message (RFC 1035 section 4.1, RFC 6891 EDNS(0)) over
 * UDP or over TCP with its 2-byte length prefix (RFC 7766 section 8).
 *
 * dec_dns_parse() decodes the header, the first question (the name in
 * presentation form), walks every answer, authority and additional RR
 * (keeping up to DEC_DNS_MAX_ADDRS A/AAAA addresses from the answer
 * section and the EDNS extended RCODE of an OPT RR) and returns DEC_OK,
 * DEC_TRUNC (the bytes end inside the message) or DEC_INVALID (a bad label
 * length, a compression pointer loop or forward pointer, a name over 255
 * octets, an A/AAAA RDATA of the wrong size, a TCP length below 12).  On
 * DEC_TRUNC/DEC_INVALID *out holds what was decoded before the problem.
 * Nothing in struct dec_dns points into the message.
 */
#ifndef PROBE_PACKET_DEC_DNS_H
#define PROBE_PACKET_DEC_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/cursor.h"
#include "packet/dec.h"

#define DEC_DNS_NAME_MAX 255   /* wire octets of a name (RFC 1035 2.3.4) */
#define DEC_DNS_LABEL_MAX 63
#define DEC_DNS_MAX_HOPS 64    /* compression pointers followed per name */
#define DEC_DNS_QNAME_TEXT 255 /* presentation bytes kept (+ NUL) */
#define DEC_DNS_MAX_ADDRS 8

enum { DEC_DNS_T_A = 1, DEC_DNS_T_NS = 2, DEC_DNS_T_CNAME = 5,
       DEC_DNS_T_AAAA = 28, DEC_DNS_T_OPT = 41 };

struct dec_dns {
	/*
	 * Bytes of the buffer this message occupies: over TCP 2 + the length
	 * prefix (also on DEC_TRUNC once the prefix was read: how much to wait
	 * for; 0 when not even the prefix is there), over UDP the whole len.
	 */
	size_t used;
	uint16_t id;
	bool qr, aa, tc, rd, ra, ad, cd;
	uint8_t opcode;
	uint16_t rcode;         /* 4 bits; 12 bits when has_edns */
	bool has_edns;          /* an OPT RR was seen in the additional section */
	uint16_t edns_udp_size; /* the OPT RR's CLASS field */
	uint16_t qdcount, ancount, nscount, arcount;
	bool has_question;      /* the first question decoded completely */
	/*
	 * The first question's name in presentation form: labels joined by
	 * '.', no trailing dot, the root as "."; '.' and '\\' inside a label
	 * as "\." and "\\", bytes outside 0x21..0x7e as "\DDD" (decimal).
	 * Cut at a whole character when longer than DEC_DNS_QNAME_TEXT.
	 */
	char qname[DEC_DNS_QNAME_TEXT + 1];
	bool qname_cut;
	uint16_t qtype, qclass;
	uint16_t n_answers;     /* answer RRs walked completely */
	uint8_t n_addrs;        /* A/AAAA answers kept in addrs[] */
	struct dec_addr addrs[DEC_DNS_MAX_ADDRS];
};

/*
 * Decode the DNS message at the start of msg[0..len).  over_tcp: the
 * message starts with its 2-byte length; bytes after it (a next message)
 * are left alone and out->used says where they start.
 */
int dec_dns_parse(const uint8_t *msg, size_t len, bool over_tcp,
		  struct dec_dns *out);

#endif
