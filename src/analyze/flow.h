/*
 * flow.h: TCP connections reconstructed from decoded frames (the first
 * layer of the analyzer, DESIGN section 5).
 *
 * A flow is one TCP connection, keyed by its 5-tuple in both directions.
 * The client is the side that sent the first SYN (without a SYN, the side
 * that sent the first packet, marked `mid_stream`).  Per connection this
 * layer computes what the handshake tells:
 *   - rtt_ms: the SYN that the SYN/ACK answers -> that SYN/ACK.  When the
 *     SYN was sent more than once and TCP timestamps cannot say which copy
 *     was answered (the SYN/ACK's TSecr equals one SYN's TSval), rtt_ms is
 *     NAN with quality ambiguous (Karn's rule); syn_retrans counts the
 *     extra SYNs either way;
 *   - mss, wscale, sack as each side offered them;
 *   - who reset the connection and when; payload bytes each way;
 *   - per direction, tshark's sequence analysis (analyze/tcp_seq.h):
 *     retransmissions (tshark's tcp.analysis.retransmission: fast and
 *     spurious included, out-of-order not), dup ACKs, zero windows,
 *     out-of-order and lost segments, keep-alives, with the frames of the
 *     first FLOW_MAX_EVENTS retransmissions and zero windows for findings
 *     that cite packets, and the largest original -> retransmission gap.
 *     Counters sit with the side that SENT the segment: s2c.lost_segment
 *     is DESIGN's lost_in (server segments that never reached the
 *     capture and came later), c2s.dup_acks the client's dup ACKs.
 * Frame numbers are 1-based, as the caller counts them (DESIGN section 6).
 *
 * Memory is bounded: at most max_flows connections (the rest are counted
 * in `overflow`); nothing points into packet data.
 */
#ifndef PROBE_ANALYZE_FLOW_H
#define PROBE_ANALYZE_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/tcp_seq.h"
#include "packet/dec.h"
#include "util/err.h"

#define FLOW_MAX_SYNS 8 /* SYN copies remembered per connection */
#define FLOW_MAX_EVENTS 64 /* frames remembered per side and kind */

enum flow_quality { FLOW_Q_NONE, FLOW_Q_MEASURED, FLOW_Q_AMBIGUOUS };
enum flow_rst { FLOW_RST_NONE, FLOW_RST_CLIENT, FLOW_RST_SERVER };

struct flow_side {
	uint64_t packets;
	uint64_t bytes;          /* TCP payload bytes (as claimed by headers) */
	int32_t mss;             /* offered in its SYN; -1 none */
	int16_t wscale;          /* offered in its SYN; -1 none */
	bool sack_perm;
	/* sequence analysis of the segments this side sent */
	uint64_t retrans;        /* retransmission, fast and spurious too */
	uint64_t fast_retrans;
	uint64_t spurious;
	uint64_t dup_acks;
	uint64_t zero_window;
	uint64_t out_of_order;
	uint64_t lost_segment;   /* "previous segment not captured" */
	uint64_t keep_alive;
	/* the first FLOW_MAX_EVENTS frames of each (the counts say how many) */
	uint64_t retrans_frame[FLOW_MAX_EVENTS];
	unsigned n_retrans_frame;
	uint64_t zero_window_frame[FLOW_MAX_EVENTS];
	unsigned n_zero_window_frame;
	/* largest time from an original to its retransmission; NAN none */
	double max_retrans_gap_ms;
	/* segments the sequence analysis could not remember (tcp_seq.h) */
	uint64_t unacked_overflow;
};

struct flow {
	struct dec_addr cli, srv;
	uint16_t cport, sport;
	bool mid_stream;         /* no SYN seen: client/server guessed */
	/* the handshake */
	unsigned n_syn;          /* SYNs sent (1 + retransmissions) */
	uint64_t syn_frame[FLOW_MAX_SYNS];
	uint64_t syn_ts_ns[FLOW_MAX_SYNS];
	uint32_t syn_tsval[FLOW_MAX_SYNS];
	bool syn_has_ts;
	uint64_t synack_frame;   /* first SYN/ACK; 0 none */
	uint64_t synack_ts_ns;
	double rtt_ms;           /* NAN when unknown */
	enum flow_quality rtt_quality;
	unsigned syn_retrans;
	uint64_t answered_syn_frame; /* the SYN the SYN/ACK answers; 0 */
	/* end */
	enum flow_rst rst;
	uint64_t rst_frame, rst_ts_ns;
	uint64_t first_frame, last_frame;
	uint64_t first_ts_ns, last_ts_ns;
	struct flow_side c2s, s2c;
	void *user;              /* the caller's, untouched here */
};

struct flow_table {
	/*
	 * Insertion order.  After flow_table_remove() an entry may be NULL
	 * (a hole) until the table compacts itself, once holes outnumber
	 * the flows: skip NULLs when walking v[0..n).
	 */
	struct flow **v;
	size_t n, cap;
	size_t live, holes;      /* n = live + holes */
	size_t max_flows;
	uint64_t overflow;       /* packets of connections not tracked */
	/* open-addressing index over v, for lookups by 5-tuple */
	uint32_t *idx;
	size_t idx_cap;
};

/* What flow_table_packet() made of one frame. */
struct flow_pkt {
	bool c2s;                /* sent by the client */
	uint32_t payload;        /* TCP payload bytes (tcp.len) */
	struct tcp_seq_res seq;  /* tshark's tcp.analysis.* of the segment */
};

/* Empty table holding at most max_flows connections. */
void flow_table_init(struct flow_table *t, size_t max_flows);
void flow_table_release(struct flow_table *t);

/*
 * Account one decoded frame (frame: its 1-based number; ts_ns: its
 * capture time).  Frames that are not TCP over IP, or not decoded to the
 * TCP header, are ignored (returns NULL).  Returns the connection, or NULL
 * when the table is full (counted).  PE_NOMEM is reported through *err
 * being set non-zero (the frame is then not accounted).  When info is not
 * NULL and a connection is returned, *info says what the segment is.
 */
struct flow *flow_table_packet(struct flow_table *t, const struct dec_pkt *p,
			       uint64_t frame, uint64_t ts_ns,
			       struct flow_pkt *info, int *err);

/*
 * Is the connection over: a RST seen, or a FIN each way with both FINs
 * acknowledged?  A streaming analyzer then reports it and removes it.
 */
bool flow_closed(const struct flow *f);

/*
 * Remove f from t and free it (f is invalid afterwards): O(1) amortized
 * (its slot becomes a tombstone, its v entry a hole; holes are closed in
 * one pass when they outnumber the live flows).  A later segment of the
 * same tuple starts a new (mid-stream) flow.
 */
void flow_table_remove(struct flow_table *t, struct flow *f);

#endif
