/*
 * cap_bpf.c: see cap_bpf.h.  Written as pcap filter text rather than BPF
 * instructions: libpcap's compiler is the well-kept part, the text is what
 * `probe run --dry-run` can show an operator, and `tcpdump` accepts the
 * same string for a manual look.
 *
 * ICMP: an error about our packet may come from a router, whose address we
 * do not know, so the filter also takes the ICMP error types themselves
 * (destination unreachable, time exceeded, and ICMPv6 destination
 * unreachable, packet too big, time exceeded); the analyzer matches their
 * quoted headers to our flows and ignores the rest.
 */
#include "capture/cap_bpf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "util/xalloc.h"

static const char icmp_errors[] =
	"(icmp and (icmp[icmptype] == icmp-unreach or "
	"icmp[icmptype] == icmp-timxceed)) or "
	"(icmp6 and (ip6[40] == 1 or ip6[40] == 2 or ip6[40] == 3))";

static bool same(const struct cap_bpf_flow *a, const struct cap_bpf_flow *b)
{
	return a->proto == b->proto && a->port == b->port &&
	       a->addr.family == b->addr.family &&
	       memcmp(a->addr.a, b->addr.a, 16) == 0;
}

char *cap_bpf_build(const struct cap_bpf_flow *flows, size_t n,
		    struct errbuf *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (n > CAP_BPF_MAX_FLOWS) {
		errbuf_set(err, PE_LIMIT, "%zu endpoints: at most %d", n,
			   CAP_BPF_MAX_FLOWS);
		return NULL;
	}
	if (!(f = open_memstream(&buf, &len))) {
		errbuf_set(err, PE_NOMEM, "out of memory");
		return NULL;
	}
	size_t written = 0;
	for (size_t i = 0; i < n; i++) {
		const struct cap_bpf_flow *fl = &flows[i];
		char a[64];
		if ((fl->addr.family != 4 && fl->addr.family != 6) ||
		    (fl->proto != 6 && fl->proto != 17)) {
			fclose(f);
			free(buf);
			errbuf_set(err, PE_INVAL, "endpoint %zu: no address "
						  "family or protocol",
				   i);
			return NULL;
		}
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = same(&flows[k], fl);
		if (dup)
			continue;
		dec_addr_str(&fl->addr, a, sizeof(a));
		fprintf(f, "%s(host %s and %s port %u)", written ? " or " : "",
			a, fl->proto == 6 ? "tcp" : "udp", fl->port);
		written++;
	}
	if (written)
		fprintf(f, " or %s", icmp_errors);
	else
		/* nothing to talk to: a filter that matches no packet */
		fputs("less 0", f);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		errbuf_set(err, PE_NOMEM, "out of memory");
		return NULL;
	}
	return buf;
}

int cap_bpf_check(const char *expr, int linktype, struct errbuf *err)
{
	pcap_t *p = pcap_open_dead(linktype, 262144);
	struct bpf_program prog;
	if (!p)
		return errbuf_set(err, PE_NOMEM, "pcap_open_dead failed");
	int ret = 0;
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0)
		ret = errbuf_set(err, PE_INVAL, "%s", pcap_geterr(p));
	else
		pcap_freecode(&prog);
	pcap_close(p);
	return ret;
}
