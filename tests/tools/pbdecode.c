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
 *
 * pbdecode --flows FILE feeds every frame to src/analyze/flow.c instead
 * (frame numbers from 1, capture timestamps in ns) and prints one line per
 * connection, in the order they began:
 *
 *   client_ip client_port server_ip server_port n_syn syn_retrans
 *     rtt_ms(%.3f, or - when unknown) rst(none|client|server)
 *     c2s_bytes s2c_bytes
 *
 * for tests/integration/0610-flows-vs-tshark.sh.
 *
 * pbdecode --tcp FILE feeds the frames to flow.c the same way and prints
 * one tab-separated line per TCP frame with src/analyze/tcp_seq.c's
 * verdict, the fields and their order being those of
 *
 *   tshark -r F -Y 'tcp && !icmp && !icmpv6' -T fields -E separator=/t
 *     -e frame.number -e tcp.analysis.retransmission
 *     -e tcp.analysis.fast_retransmission
 *     -e tcp.analysis.spurious_retransmission -e tcp.analysis.out_of_order
 *     -e tcp.analysis.lost_segment -e tcp.analysis.ack_lost_segment
 *     -e tcp.analysis.duplicate_ack -e tcp.analysis.duplicate_ack_num
 *     -e tcp.analysis.zero_window -e tcp.analysis.zero_window_probe
 *     -e tcp.analysis.window_update -e tcp.analysis.window_full
 *     -e tcp.analysis.keep_alive -e tcp.analysis.ack_rtt
 *     -e tcp.analysis.acks_frame
 *
 * a flag printed as 1 when set and empty otherwise, ack_rtt in seconds
 * (%.9f), for tests/integration/0630-tcp-analysis-vs-tshark.sh.  Frames of
 * connections the table could not hold print the frame number only.
 * Counts per side go to stderr: "tcp: c2s retrans=N ... overflow=N"
 * (overflow: segments tcp_seq.c could not remember, TCP_SEQ_MAX_UNACKED).
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include <math.h>

#include "analyze/flow.h"
#include "packet/dec.h"

#define PBDECODE_MAX_FLOWS 100000

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

static void print_flows(const struct flow_table *t)
{
	static const char *const rst[] = { "none", "client", "server" };
	for (size_t i = 0; i < t->n; i++) {
		const struct flow *f = t->v[i];
		if (!f)
			continue; /* removed (never, here) */
		char c[64], sv[64], rtt[32];
		if (isnan(f->rtt_ms))
			snprintf(rtt, sizeof(rtt), "-");
		else
			snprintf(rtt, sizeof(rtt), "%.3f", f->rtt_ms);
		printf("%s %u %s %u %u %u %s %s %" PRIu64 " %" PRIu64 "\n",
		       dec_addr_str(&f->cli, c, sizeof(c)), f->cport,
		       dec_addr_str(&f->srv, sv, sizeof(sv)), f->sport,
		       f->n_syn, f->syn_retrans, rtt, rst[f->rst],
		       f->c2s.bytes, f->s2c.bytes);
	}
	if (t->overflow)
		fprintf(stderr, "pbdecode: %" PRIu64 " packets of untracked"
			" connections\n", t->overflow);
}

static void print_tcp(uint64_t no, const struct flow *f,
		      const struct flow_pkt *in)
{
	if (!f) {
		printf("%" PRIu64 "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", no);
		return;
	}
	const struct tcp_seq_res *r = &in->seq;
	const bool fl[] = { r->retrans, r->fast_retrans, r->spurious_retrans,
			    r->out_of_order, r->lost_segment,
			    r->ack_lost_segment, r->dup_ack };
	const bool fl2[] = { r->zero_window, r->zero_window_probe,
			     r->window_update, r->window_full, r->keep_alive };
	printf("%" PRIu64, no);
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
		printf("\t%s", fl[i] ? "1" : "");
	if (r->dup_ack)
		printf("\t%" PRIu32, r->dup_ack_num);
	else
		printf("\t");
	for (size_t i = 0; i < sizeof(fl2) / sizeof(fl2[0]); i++)
		printf("\t%s", fl2[i] ? "1" : "");
	if (r->ack_rtt_ns)
		printf("\t%" PRIu64 ".%09" PRIu64, r->ack_rtt_ns / 1000000000u,
		       r->ack_rtt_ns % 1000000000u);
	else
		printf("\t");
	if (r->acks_frame)
		printf("\t%" PRIu64 "\n", r->acks_frame);
	else
		printf("\t\n");
}

static void tcp_counts(const struct flow_table *t)
{
	uint64_t v[2][10];
	memset(v, 0, sizeof(v));
	for (size_t i = 0; i < t->n; i++) {
		if (!t->v[i])
			continue;
		const struct flow_side *sd[2] = { &t->v[i]->c2s,
						  &t->v[i]->s2c };
		for (int d = 0; d < 2; d++) {
			v[d][0] += sd[d]->retrans;
			v[d][1] += sd[d]->fast_retrans;
			v[d][2] += sd[d]->spurious;
			v[d][3] += sd[d]->dup_acks;
			v[d][4] += sd[d]->zero_window;
			v[d][5] += sd[d]->out_of_order;
			v[d][6] += sd[d]->lost_segment;
			v[d][7] += sd[d]->keep_alive;
			v[d][8] += sd[d]->unacked_overflow;
		}
	}
	for (int d = 0; d < 2; d++)
		fprintf(stderr, "tcp: %s retrans=%" PRIu64 " fast=%" PRIu64
			" spurious=%" PRIu64 " dup_acks=%" PRIu64
			" zero_window=%" PRIu64 " out_of_order=%" PRIu64
			" lost_segment=%" PRIu64 " keep_alive=%" PRIu64
			" overflow=%" PRIu64 "\n",
			d ? "s2c" : "c2s", v[d][0], v[d][1], v[d][2], v[d][3],
			v[d][4], v[d][5], v[d][6], v[d][7], v[d][8]);
}

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	int flows = argc == 3 && strcmp(argv[1], "--flows") == 0;
	int tcp = argc == 3 && strcmp(argv[1], "--tcp") == 0;
	if (argc != 2 + flows + tcp) {
		fprintf(stderr, "usage: pbdecode [--flows|--tcp] FILE\n");
		return 2;
	}
	flows |= tcp;
	const char *file = argv[1 + flows];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
		file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fprintf(stderr, "pbdecode: %s\n", errbuf);
		return 1;
	}
	int link = pcap_datalink(pc);
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned long no = 0;
	int rc, nomem = 0;
	struct flow_table ft;
	flow_table_init(&ft, PBDECODE_MAX_FLOWS);
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		struct dec_pkt p;
		dec_packet(link, data, h->caplen, h->len, &p);
		if (!flows) {
			print_frame(++no, &p);
			continue;
		}
		/* tv_usec holds nanoseconds at PCAP_TSTAMP_PRECISION_NANO */
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u +
			      (uint64_t)h->ts.tv_usec;
		struct flow_pkt info;
		const struct flow *f = flow_table_packet(&ft, &p, ++no, ts,
							 &info, &nomem);
		if (tcp && !nomem && p.l4 == DEC_L_TCP &&
		    (p.ip.ver == 4 || p.ip.ver == 6))
			print_tcp(no, f, &info);
		if (nomem) {
			fprintf(stderr, "pbdecode: out of memory\n");
			break;
		}
	}
	if (rc == PCAP_ERROR || nomem) {
		if (rc == PCAP_ERROR)
			fprintf(stderr, "pbdecode: %s\n", pcap_geterr(pc));
		flow_table_release(&ft);
		pcap_close(pc);
		return 1;
	}
	if (tcp)
		tcp_counts(&ft);
	else if (flows)
		print_flows(&ft);
	flow_table_release(&ft);
	pcap_close(pc);
	return 0;
}
