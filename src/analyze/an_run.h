/*
 * an_run.h: one live run's packets, analyzed into its run record.
 *
 * The capture of a `probe run` process is shared by all its runs (DESIGN
 * section 8).  an_run_analyze() picks the frames of one run out of it --
 * those of the run's own sockets (their 5-tuples, either direction) and
 * the ICMP errors quoting them -- numbers them from 1 in capture order
 * (the frame numbers of the run's escalation pcap: DESIGN section 6),
 * runs the analyzer over them with the run's TLS record order, and writes
 * what it found into the run record:
 *   - each connection's wire figures replace the library's (source pcap),
 *     matched by 5-tuple; connections no step recorded are added to the
 *     run's own list;
 *   - the i-th exchange the packets show on a connection fills the i-th
 *     exchange the steps recorded on it (in step order), and with the
 *     run's clock map its request_sent_ms: the library's ready time to
 *     the wire's sent time, below AN_SENT_MIN_MS NULL;
 *   - findings go to the step whose exchange or connection they are
 *     about (DNS ones to the dns step that asked for the name), else to
 *     the run;
 *   - TIMER_SKEW where curl's TTFB and the wire's disagree by more than
 *     AN_SKEW_MIN_MS or AN_SKEW_FRAC of the wire figure (the wire wins).
 */
#ifndef PROBE_ANALYZE_AN_RUN_H
#define PROBE_ANALYZE_AN_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/analyzer.h"
#include "model/run.h"
#include "util/err.h"
#include "util/timeutil.h"

#define AN_SKEW_MIN_MS 5.0
#define AN_SKEW_FRAC 0.10
#define AN_SENT_MIN_MS (-0.5)

/* One socket of the run. */
struct an_flow {
	uint8_t proto;            /* 6 TCP, 17 UDP */
	struct dec_addr local, remote;
	bool any_local;           /* local address unknown (bound to any) */
	uint16_t lport, rport;
};

/* One captured frame. */
struct an_frame {
	uint64_t ts_ns;
	const uint8_t *data;
	uint32_t caplen, len;
	int linktype;
};

/* Frame i (0-based) of the capture; false past the end. */
typedef bool an_frame_get(void *ctx, size_t i, struct an_frame *out);

struct an_run_in {
	struct run_rec *run;              /* filled in place */
	const struct an_flow *flows;
	size_t n_flows;
	const struct an_tls_hint *hints;
	size_t n_hints;
	const uint16_t *dns_ports;
	size_t n_dns_ports;
	/* the run's clock readings, to map the wire onto the exchanges'
	 * ready_mono_ns (request_sent_ms); NULL: no mapping */
	const struct clock_map *clock;
	size_t n_frames;                  /* frames [0, n_frames) */
	an_frame_get *get;
	void *ctx;
	/* out: capture indices of the run's frames (malloc'ed; free them) */
	size_t *picked;
	size_t n_picked;
};

int an_run_analyze(struct an_run_in *in, struct errbuf *err) PE_WARN_UNUSED;

/* Add a finding with frame numbers to a step (or the run when step is
 * NULL).  PE_NOMEM/PE_LIMIT. */
int an_run_finding(struct run_rec *run, struct step_rec *step,
		   uint32_t conn_key, const char *code, const uint64_t *frames,
		   size_t n, const char *detail) PE_WARN_UNUSED;

#endif
