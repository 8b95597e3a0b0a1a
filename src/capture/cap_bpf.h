/*
 * cap_bpf.h: the capture filter of a run, built from its flows (DESIGN
 * section 8): exactly the packets of the run's own connections and DNS
 * queries, and the ICMP errors about them, so that what a capture holds is
 * the run's business and nobody else's.
 */
#ifndef PROBE_CAPTURE_CAP_BPF_H
#define PROBE_CAPTURE_CAP_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "packet/dec.h"
#include "util/err.h"

/* One remote endpoint the run talks to. */
struct cap_bpf_flow {
	struct dec_addr addr; /* family 4 or 6 */
	uint16_t port;
	uint8_t proto;        /* 6 (TCP) or 17 (UDP); DNS servers get both */
};

#define CAP_BPF_MAX_FLOWS 512 /* beyond: PE_LIMIT (the filter gets slow) */

/*
 * The pcap filter expression for flows[0..n): every packet to or from one
 * of the endpoints on its protocol and port, plus ICMP/ICMPv6 to or from
 * their hosts (errors quoting our packets come from the host or from a
 * router on the way: the latter are matched by ICMP type instead).
 * Duplicates are dropped.  Returns a malloc'ed string, or NULL with err
 * (PE_INVAL for an endpoint without an address family, PE_LIMIT,
 * PE_NOMEM).  n == 0 gives a filter that matches nothing.
 */
char *cap_bpf_build(const struct cap_bpf_flow *flows, size_t n,
		    struct errbuf *err);

/*
 * Check that expr compiles for the link type (without opening any
 * device: pcap_open_dead).  0, or PE_INVAL with pcap's message.
 */
int cap_bpf_check(const char *expr, int linktype, struct errbuf *err)
	PE_WARN_UNUSED;

#endif
