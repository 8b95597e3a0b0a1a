/*
 * waterfall.h: a step's time laid out as segments that do not overlap
 * (`probe report`, terminal and HTML).
 *
 * One waterfall per exchange of an http step (a followed redirect is one
 * more), one per other step.  The segments, in order, each one stored
 * figure and nothing computed from others:
 *   dns           dns_ms           the library (our c-ares lookup)
 *   connect       connect_ms       the library (TCP connect)
 *   tls           tls_ms           the library (the whole handshake)
 *   request_sent  request_sent_ms  TLS done -> the request's last byte on
 *                                  the wire (the two clocks mapped)
 *   network       rtt_ms           the wire: one RTT of the wait for the
 *                                  answer (the exchange's: the RTT its
 *                                  think_ms subtracts)
 *   think         think_ms         the wire: the server's own time
 *   transfer      transfer_ms      the wire: first -> last response byte
 * A segment that does not apply (no TLS on plain HTTP, no connect on a
 * reused connection) is absent; one that applies but is unknown (no
 * capture, think inconsistent) is present with ms NAN, drawn as a gap in
 * the sum.  Laid end to end they cover the exchange's total_ms up to the
 * process's own latencies (DESIGN section 5; measured in BENCHMARKS.md);
 * sum_ms says how much they cover.
 */
#ifndef PROBE_REPORT_WATERFALL_H
#define PROBE_REPORT_WATERFALL_H

#include <stdbool.h>
#include <stddef.h>

#include "model/run.h"

enum wf_seg {
	WF_DNS, WF_CONNECT, WF_TLS, WF_SENT, WF_NETWORK, WF_THINK,
	WF_TRANSFER, WF_COUNT
};

/* A segment's names: JSON/HTML key, what people read, the stored column
 * it draws, and the clock it comes from ("library" or "wire"). */
struct wf_seg_info {
	const char *key, *label, *field, *clock;
};
extern const struct wf_seg_info wf_seg_info[WF_COUNT];

struct waterfall {
	const struct step_rec *step;      /* borrowed */
	const struct exchange_rec *ex;    /* NULL: a step without exchanges */
	bool applies[WF_COUNT];
	double ms[WF_COUNT];              /* NAN: unknown */
	double start_ms[WF_COUNT];        /* known segments before it */
	double total_ms;                  /* the exchange's (or step's) */
	double sum_ms;                    /* of the known segments */
	size_t n_unknown;                 /* applies, but NAN */
};

/*
 * The waterfalls of step: up to max into out; returns how many
 * the step has (more than max: the rest left out).
 */
size_t waterfall_of_step(const struct step_rec *step,
			 struct waterfall *out, size_t max);

/* "12.3 ms" style text of ms (NAN: "?") into buf; buf. */
const char *waterfall_ms_text(double ms, char *buf, size_t len);

#endif
