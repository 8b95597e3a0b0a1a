/*
 * tcp_seq.h: TCP sequence analysis of one connection, Wireshark's
 * `tcp.analysis.*` flags (DESIGN section 5, "Per connection again").
 *
 * The reference is Wireshark 4.0's epan/dissectors/packet-tcp.c,
 * tcp_analyze_sequence_number(), with tshark's default preferences
 * (analyze sequence numbers on, fast retransmission supersedes
 * out-of-order, no default window scaling).  The rules, in tshark's words
 * and in the order they are tried for each segment (seq, ack, len, raw
 * window, flags):
 *
 *   zero_window_probe  len == 1, seq == nextseq, the peer's window 0
 *                      (then the window and keep-alive rules are skipped;
 *                      as in 4.0 its byte moves nextseq but not the
 *                      contiguous edge, so the ACK of a probe is "ACKed
 *                      unseen segment", as tshark 4.0 says)
 *   zero_window        window == 0 and none of SYN/FIN/RST
 *   lost_segment       seq beyond nextseq ("previous segment not
 *                      captured"), not on a RST
 *   keep_alive         len 0 or 1 and seq == nextseq - 1, no SYN/FIN/RST
 *   window_update      len 0, window != 0 and changed, seq == nextseq and
 *                      ack == the last ack, no SYN/FIN/RST
 *   window_full        len > 0, the peer's window scale known and the
 *                      segment ends exactly at the peer's ack + window
 *   keep_alive_ack, zero_window_probe_ack: the answer to one (ends the
 *                      search, as in tshark; not reported)
 *   dup_ack            len 0, window != 0 and unchanged, seq == nextseq,
 *                      ack == the last ack, no SYN/FIN/RST; numbered
 *                      from 1 until the ack moves
 *   ack_lost_segment   acks beyond the highest contiguous byte seen the
 *                      other way ("ACKed unseen segment")
 *   then, for a segment carrying data, SYN or FIN that is not a
 *   keep-alive (seq_not_advanced: seq before nextseq, except a >1 byte
 *   segment starting at nextseq - 1):
 *   spurious_retrans   its end is at or before the peer's last ack
 *                      (tried first: an acked segment is spurious even
 *                      within the out-of-order threshold)
 *   fast_retrans       seq_not_advanced, the peer sent >= 2 dup ACKs for
 *                      exactly seq, the last under 20 ms ago
 *   out_of_order       seq_not_advanced, under ooo_thres since nextseq
 *                      last moved, and it does not end at nextseq;
 *                      ooo_thres is the first RTT (the last SYN -> the
 *                      first segment with ACK and without SYN), 3 ms
 *                      until that is known
 *   retrans            any other seq_not_advanced segment
 * `retrans` in struct tcp_seq_res has tshark's tcp.analysis.retransmission
 * meaning: also set for fast and spurious retransmissions (tshark adds that
 * expert item for all three), never for out-of-order.
 *
 * ack_rtt / acks_frame: a segment whose ack equals the end of an unacked
 * segment of the other direction acks it; the oldest such segment is named
 * (tshark walks its newest-first list to the end) and ack_rtt is the time
 * since it.  Acked segments leave the list; partly acked ones shrink.
 *
 * Sequence numbers are compared modulo 2^32 (RFC 1982 style, as tshark's
 * GT_SEQ/LT_SEQ), so a connection may wrap.  As in tshark, nextseq == 0
 * means "unknown": a direction whose next sequence number is exactly 0
 * is treated as not seen yet, exactly as tshark treats it.
 *
 * Memory: each direction keeps at most TCP_SEQ_MAX_UNACKED unacked
 * segments (tshark: 10000), 24 bytes each, allocated on demand (8 first,
 * doubling; 96 KB at most).  A loss 470 KB behind the front of a bulk
 * transfer already holds ~330 segments unacked, hence not 256.  A segment
 * beyond the cap is not remembered and counted in `overflow`: it then
 * gets no acks_frame / ack_rtt and is not found as the original of a
 * retransmission (tshark would, up to 10000): the one place where the
 * results can differ from tshark's.  Every other piece of state is fixed
 * size.
 */
#ifndef PROBE_ANALYZE_TCP_SEQ_H
#define PROBE_ANALYZE_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

#include "packet/dec.h"

#define TCP_SEQ_MAX_UNACKED 4096

/* One unacked segment (seq..nextseq, SYN and FIN counting one). */
struct tcp_seq_seg {
	uint32_t seq, nextseq;
	uint64_t frame;
	uint64_t ts_ns;
};

/* One direction's state.  Valid after tcp_seq_init() of its tcp_seq. */
struct tcp_seq_dir {
	uint32_t nextseq;        /* highest seq + len seen; 0 = unknown */
	uint64_t nextseq_frame;
	uint64_t nextseq_ts_ns;  /* when nextseq last moved */
	uint32_t maxseqtobeacked; /* highest contiguous end seen; 0 unknown */
	uint32_t lastack;        /* this direction's last ack field */
	uint64_t lastack_ts_ns;
	uint32_t window;         /* last raw window; UINT32_MAX before any */
	int8_t win_scale;        /* shift; -1 unknown, -2 not used */
	uint32_t dupacknum;      /* dup ACKs of lastack so far */
	unsigned lastflags;      /* TCP_SEQ_F_* of the last segment */
	struct tcp_seq_seg *segs; /* unacked, oldest first */
	uint32_t n_segs, cap_segs;
	uint64_t overflow;       /* segments not remembered (cap, memory) */
};

/* A connection: the two directions and what tshark keeps per stream. */
struct tcp_seq {
	struct tcp_seq_dir dir[2];
	uint64_t mru_syn_ns;     /* the last SYN (without ACK); 0 none */
	uint64_t first_rtt_ns;   /* the out-of-order threshold; 0 unknown */
};

/* What one segment is, in tshark's words (tcp.analysis.<name>). */
struct tcp_seq_res {
	bool retrans;            /* tcp.analysis.retransmission (see above) */
	bool fast_retrans, spurious_retrans, out_of_order;
	bool lost_segment;       /* previous segment not captured */
	bool ack_lost_segment;   /* ACKed unseen segment */
	bool dup_ack;
	bool zero_window, zero_window_probe, window_update, window_full;
	bool keep_alive;
	uint32_t dup_ack_num;    /* 0 unless dup_ack */
	double ack_rtt_ms;       /* NAN unless acks_frame (and rtt > 0) */
	uint64_t ack_rtt_ns;     /* the same, exact; 0 unless acks_frame */
	uint64_t acks_frame;     /* 0 none */
	/*
	 * For a retransmission (any kind): the oldest unacked frame that
	 * carried any of these bytes and its age (ms); 0 / NAN unknown
	 * (the original was not captured, or has been acked already).
	 */
	uint64_t retrans_of_frame;
	double retrans_gap_ms;
};

/* Empty state (nothing allocated yet). */
void tcp_seq_init(struct tcp_seq *s);
/* Frees the unacked lists; s is then as after tcp_seq_init(). */
void tcp_seq_release(struct tcp_seq *s);

/*
 * Analyze one TCP segment sent in direction dir (0 or 1: the caller's
 * choice, the same for a connection's life).  payload_len: TCP payload
 * bytes as the IP header claims (tshark's tcp.len); frame: 1-based
 * number; ts_ns: capture time.  Segments must come in capture order.
 * Fills *out (cleared first).  Never fails: memory shortage only stops
 * unacked segments from being remembered (counted in overflow).
 */
void tcp_seq_packet(struct tcp_seq *s, int dir, const struct dec_pkt *p,
		    uint32_t payload_len, uint64_t frame, uint64_t ts_ns,
		    struct tcp_seq_res *out);

#endif
