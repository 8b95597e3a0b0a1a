/*
 * internal.h: what the decoders of src/packet/ share.  Not for use
 * outside src/packet/.  Each decoder reads from a cursor positioned at its
 * header and fills the struct dec_pkt; `depth` counts encapsulations
 * (VLAN, VXLAN, ICMP quotes) against DEC_MAX_ENCAP.
 */
#ifndef PROBE_PACKET_INTERNAL_H
#define PROBE_PACKET_INTERNAL_H

#include "packet/dec.h"

/* Record where decoding stopped; the first status set wins. */
void dec__stop(struct dec_pkt *p, enum dec_status st, enum dec_layer l);
/* The cursor's own status (after reads) at layer l, if not OK. */
void dec__check(struct dec_pkt *p, const struct cur *c, enum dec_layer l);

/* Dispatch on an EtherType (VLAN tags, IPv4, IPv6; others: stop). */
void dec__ethertype(struct cur *c, uint16_t type, struct dec_pkt *p,
		    int depth);
/*
 * Dispatch on an IP protocol number (TCP, UDP, ICMP, ICMPv6).  The IP
 * decoders set p->payload, payload_len and payload_claimed to the IP
 * payload first: the transport decoders take their claimed length from
 * payload_claimed and narrow the three to their own payload.
 */
void dec__transport(struct cur *c, uint8_t proto, struct dec_pkt *p,
		    int depth);

void dec_eth_decode(struct cur *c, struct dec_pkt *p, int depth);
void dec_sll_decode(struct cur *c, struct dec_pkt *p, int depth);
void dec_sll2_decode(struct cur *c, struct dec_pkt *p, int depth);
void dec_vlan_decode(struct cur *c, uint16_t tpid, struct dec_pkt *p,
		     int depth);
void dec_ip4_decode(struct cur *c, struct dec_pkt *p, int depth);
void dec_ip6_decode(struct cur *c, struct dec_pkt *p, int depth);
void dec_tcp_decode(struct cur *c, struct dec_pkt *p);
void dec_udp_decode(struct cur *c, struct dec_pkt *p, int depth);
void dec_icmp_decode(struct cur *c, struct dec_pkt *p, int depth);
void dec_vxlan_decode(struct cur *c, struct dec_pkt *p, int depth);

/*
 * Decode the IP header (and the first 8 bytes of transport) an ICMP error
 * quotes into q; never touches the outer packet's fields.
 */
void dec_ip4_quote(struct cur *c, struct dec_quote *q);
/* After a quoted IP header: the ports (and TCP seq) of a first fragment. */
void dec__quote_ports(struct cur *dg, struct dec_quote *q);
void dec_ip6_quote(struct cur *c, struct dec_quote *q);

#endif
