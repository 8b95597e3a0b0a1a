/*
 * pbdecode: decode every frame of a capture (pcap or pcapng) with
 * dec_packet() and print one tab-separated line per frame with the
 * fields, and in the order, of
 *
 *   tshark -r F -T fields -E separator=/t -e frame.number -e ip.src
 *     -e ip.dst -e ipv6.src -e ipv6.dst -e tcp.srcport -e tcp.dstport
 *     -e tcp.seq_raw -e tcp.ack_raw -e tcp.flags -e tcp.window_size_value
 *     -e tcp.len -e tcp.options.mss_val -e tcp.options.wscale.shift
 *     -e udp.srcport -e udp.dstport -e icmp.type -e icmpv6.type
 *
 * so tests/integration/0600-decode-vs-tshark.sh can diff the two.  As in
 * tshark, a field that occurs twice (the outer and the quoted IP header
 * of an ICMP error) is printed comma-separated.  A frame that did not
 * decode gets "# truncated at tcp" (or invalid) appended in an extra
 * column.  Usage: pbdecode FILE
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "packet/dec.h"

struct line {
	char f[18][128];
};

static void add(struct line *l, int i, const char *v)
{
	size_t n = strlen(l->f[i]);
	snprintf(l->f[i] + n, sizeof(l->f[i]) - n, "%s%s", n ? "," : "", v);
}

static void addu(struct line *l, int i, unsigned long v)
{
	char b[32];
	snprintf(b, sizeof(b), "%lu", v);
	add(l, i, b);
}

static void add_ip(struct line *l, const struct dec_ip *ip)
{
	char s[64], d[64];
	if (ip->ver != 4 && ip->ver != 6)
		return;
	int base = ip->ver == 4 ? 1 : 3;
	add(l, base, dec_addr_str(&ip->src, s, sizeof(s)));
	add(l, base + 1, dec_addr_str(&ip->dst, d, sizeof(d)));
}

static void print_frame(unsigned long no, const struct dec_pkt *p)
{
	struct line l;
	memset(&l, 0, sizeof(l));
	addu(&l, 0, no);
	add_ip(&l, &p->ip);
	if (p->l4 == DEC_L_TCP) {
		char fl[16];
		addu(&l, 5, p->sport);
		addu(&l, 6, p->dport);
		addu(&l, 7, p->tcp.seq);
		addu(&l, 8, p->tcp.ack);
		snprintf(fl, sizeof(fl), "0x%04x", p->tcp.flags);
		add(&l, 9, fl);
		addu(&l, 10, p->tcp.win);
		addu(&l, 11, p->payload_claimed);
		if (p->tcp.mss >= 0)
			addu(&l, 12, (unsigned long)p->tcp.mss);
		if (p->tcp.wscale >= 0)
			addu(&l, 13, (unsigned long)p->tcp.wscale);
	} else if (p->l4 == DEC_L_UDP) {
		addu(&l, 14, p->sport);
		addu(&l, 15, p->dport);
	} else if (p->l4 == DEC_L_ICMP) {
		addu(&l, p->ip.proto == 58 ? 17 : 16, p->icmp.type);
		if (p->icmp.has_quote) {
			const struct dec_quote *q = &p->icmp.quote;
			add_ip(&l, &q->ip);
			if (q->has_ports && q->ip.proto == 17) {
				addu(&l, 14, q->sport);
				addu(&l, 15, q->dport);
			} else if (q->has_ports && q->ip.proto == 6) {
				addu(&l, 5, q->sport);
				addu(&l, 6, q->dport);
				addu(&l, 7, q->tcp_seq);
			}
		}
	}
	for (int i = 0; i < 18; i++)
		printf("%s%s", i ? "\t" : "", l.f[i]);
	if (p->st != DEC_OK)
		printf("\t# %s at %s", dec_status_name(p->st),
		       dec_layer_name(p->st_layer));
	printf("\n");
}

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	if (argc != 2) {
		fprintf(stderr, "usage: pbdecode FILE\n");
		return 2;
	}
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
		argv[1], PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fprintf(stderr, "pbdecode: %s\n", errbuf);
		return 1;
	}
	int link = pcap_datalink(pc);
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned long no = 0;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		struct dec_pkt p;
		dec_packet(link, data, h->caplen, h->len, &p);
		print_frame(++no, &p);
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "pbdecode: %s\n", pcap_geterr(pc));
		pcap_close(pc);
		return 1;
	}
	pcap_close(pc);
	return 0;
}
