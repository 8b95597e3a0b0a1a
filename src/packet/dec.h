/*
 * dec.h: one captured frame decoded into host-order fields, link layer to
 * transport (and the header an ICMP error quotes).
 *
 * dec_packet() walks the link type's decoder (dec.c's table), then VLAN
 * tags, IPv4/IPv6 (and a VXLAN encapsulation: the inner frame is what the
 * flow is about), then TCP, UDP or ICMP.  It never fails: whatever could
 * not be decoded is said by `st` (DEC_TRUNC: the capture ends inside a
 * header; DEC_INVALID: the bytes make no sense) and `st_layer` (which
 * header).  Truncated and invalid frames are counted apart by callers.
 *
 * Nothing in struct dec_pkt points into the frame except `payload`, which
 * is borrowed: it dies with the frame (STYLE.md section 5).
 *
 * Application layers (DNS, the TLS record layer) are decoded from a
 * payload by dec_dns.c and dec_tls.c.
 */
#ifndef PROBE_PACKET_DEC_H
#define PROBE_PACKET_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/cursor.h"

/* Link types we decode (values of pcap's DLT_/LINKTYPE_). */
enum {
	DEC_LINK_EN10MB = 1,     /* Ethernet (also lo) */
	DEC_LINK_RAW = 101,      /* raw IP (TUN devices); DLT_RAW 12 and 14 too */
	DEC_LINK_LINUX_SLL = 113,
	DEC_LINK_LINUX_SLL2 = 276,
	DEC_LINK_IPV4 = 228,
	DEC_LINK_IPV6 = 229,
};

/* Where decoding stopped (for counts and messages). */
enum dec_layer {
	DEC_L_NONE, DEC_L_LINK, DEC_L_VLAN, DEC_L_IP4, DEC_L_IP6, DEC_L_TCP,
	DEC_L_UDP, DEC_L_ICMP, DEC_L_VXLAN, DEC_L_COUNT
};

#define DEC_MAX_VLAN 2      /* 802.1Q tags kept (QinQ) */
#define DEC_MAX_ENCAP 4     /* nesting cap: VLAN, VXLAN, ICMP quotes */
#define DEC_MAX_SACK 4

struct dec_addr {
	uint8_t family;     /* 4 or 6; 0 = none */
	uint8_t a[16];      /* IPv4 in the first 4 bytes */
};

struct dec_ip {
	uint8_t ver;        /* 4 or 6; 0 = no IP header decoded */
	struct dec_addr src, dst;
	uint8_t proto;      /* IPPROTO_* of the transport (after IPv6 ext hdrs) */
	uint8_t ttl;        /* TTL / hop limit */
	uint16_t id;        /* IPv4 id, or the IPv6 fragment header's (low 16) */
	uint32_t total_len; /* claimed datagram length (header + payload) */
	bool frag;          /* a fragment (offset > 0 or more-fragments set) */
	uint32_t frag_off;  /* in bytes */
	bool df;            /* IPv4 don't-fragment */
	uint8_t tos;        /* IPv4 TOS / IPv6 traffic class */
};

enum { DEC_TH_FIN = 0x01, DEC_TH_SYN = 0x02, DEC_TH_RST = 0x04,
       DEC_TH_PSH = 0x08, DEC_TH_ACK = 0x10, DEC_TH_URG = 0x20,
       DEC_TH_ECE = 0x40, DEC_TH_CWR = 0x80 };

struct dec_tcp {
	uint32_t seq, ack;
	uint8_t flags;      /* DEC_TH_* */
	uint16_t win;       /* as sent (not scaled) */
	uint8_t hdr_len;    /* bytes, options included */
	int32_t mss;        /* -1 when absent */
	int16_t wscale;     /* -1 when absent */
	bool sack_perm;
	uint8_t n_sack;
	uint32_t sack[DEC_MAX_SACK][2]; /* left, right edges */
	bool has_ts;
	uint32_t ts_val, ts_ecr;
};

/* The header an ICMP error quotes: enough to find the flow. */
struct dec_quote {
	struct dec_ip ip;
	uint16_t sport, dport;
	uint32_t tcp_seq;   /* when the quoted transport is TCP */
	bool has_ports;
};

struct dec_icmp {
	uint8_t type, code; /* ICMP or ICMPv6 (ip.ver tells) */
	uint32_t mtu;       /* frag-needed / packet-too-big: next-hop MTU */
	bool has_quote;
	struct dec_quote quote;
};

struct dec_pkt {
	int linktype;
	enum dec_status st;      /* DEC_OK when every header decoded */
	enum dec_layer st_layer; /* where st was set */
	uint8_t n_vlan;
	uint16_t vlan[DEC_MAX_VLAN];
	bool vxlan;              /* the fields below are the inner frame's */
	uint32_t vni;
	struct dec_ip ip;
	uint8_t l4;              /* DEC_L_TCP, DEC_L_UDP, DEC_L_ICMP, or 0 */
	uint16_t sport, dport;   /* TCP/UDP */
	struct dec_tcp tcp;
	uint16_t udp_len;
	struct dec_icmp icmp;
	/*
	 * transport payload: borrowed from the frame.  For other IP
	 * protocols and non-first fragments, the IP payload.
	 */
	const uint8_t *payload;
	uint32_t payload_len;     /* captured bytes of it */
	uint32_t payload_claimed; /* as the headers claim (>= payload_len) */
};

/*
 * Decode one frame of link type linktype (caplen bytes captured of a
 * wire length len).  Always fills *out (st says how far it got).
 */
void dec_packet(int linktype, const uint8_t *data, uint32_t caplen,
		uint32_t len, struct dec_pkt *out);

/* Names for counts and messages. */
const char *dec_layer_name(enum dec_layer l);
const char *dec_status_name(enum dec_status s);

/* Same family and address? */
bool dec_addr_eq(const struct dec_addr *x, const struct dec_addr *y);

/*
 * Format an address ("198.18.0.1", "fd00::1") into buf (at least 46
 * bytes).  Returns buf.
 */
const char *dec_addr_str(const struct dec_addr *a, char *buf, size_t len);

#endif
