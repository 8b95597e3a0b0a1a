/*
 * tcp_seq.c: TCP sequence analysis, tshark's tcp.analysis.* (tcp_seq.h).
 *
 * The order of the tests and the state they read follow Wireshark 4.0's
 * tcp_analyze_sequence_number() closely on purpose: each flag is defined
 * by what tshark says (DESIGN section 5 counts retransmissions with
 * tshark's semantics), so the quirks are kept too, and commented where
 * they surprise (nextseq 0 meaning unknown, the oldest of several segments
 * ending at the same ack being the one acked, the raw window compared for
 * dup ACKs).  Where a rule's state lives:
 *   fwd = s->dir[dir] (the sender of this segment), rev = the other side.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/tcp_seq.h"

#define TCP_SEQ_SEGS_MIN 8
#define FASTRT_WINDOW_NS 20000000ull /* fast retrans: 20 ms after dup ACK */
#define OOO_DEFAULT_NS 3000000ull    /* before the first RTT is known */

/* Flags remembered of the last segment (tshark's lastsegmentflags). */
enum { F_KEEP_ALIVE = 1 << 0, F_ZWP = 1 << 1 };

/* Modulo 2^32 comparisons (tshark's GT_SEQ, LT_SEQ, LE_SEQ). */
static bool seq_gt(uint32_t x, uint32_t y)
{
	return (int32_t)(y - x) < 0;
}

static bool seq_lt(uint32_t x, uint32_t y)
{
	return (int32_t)(x - y) < 0;
}

static bool seq_le(uint32_t x, uint32_t y)
{
	return (int32_t)(x - y) <= 0;
}

static void dir_init(struct tcp_seq_dir *d)
{
	memset(d, 0, sizeof(*d));
	d->window = UINT32_MAX;
	d->win_scale = -1;
}

void tcp_seq_init(struct tcp_seq *s)
{
	memset(s, 0, sizeof(*s));
	dir_init(&s->dir[0]);
	dir_init(&s->dir[1]);
}

void tcp_seq_release(struct tcp_seq *s)
{
	free(s->dir[0].segs);
	free(s->dir[1].segs);
	tcp_seq_init(s);
}

static void seg_add(struct tcp_seq_dir *d, uint32_t seq, uint32_t nextseq,
		    uint64_t frame, uint64_t ts_ns)
{
	if (d->n_segs == d->cap_segs) {
		uint32_t ncap = d->cap_segs ? d->cap_segs * 2 : TCP_SEQ_SEGS_MIN;
		if (ncap > TCP_SEQ_MAX_UNACKED)
			ncap = TCP_SEQ_MAX_UNACKED;
		struct tcp_seq_seg *n = NULL;
		if (ncap > d->cap_segs)
			n = realloc(d->segs, ncap * sizeof(*n));
		if (!n) {
			d->overflow++;
			return;
		}
		d->segs = n;
		d->cap_segs = ncap;
	}
	struct tcp_seq_seg *g = &d->segs[d->n_segs++];
	g->seq = seq;
	g->nextseq = nextseq;
	g->frame = frame;
	g->ts_ns = ts_ns;
}

/*
 * The oldest remembered segment carrying any byte of [seq, end): the
 * original a retransmission repeats.
 */
static const struct tcp_seq_seg *seg_original(const struct tcp_seq_dir *d,
					      uint32_t seq, uint32_t end)
{
	for (uint32_t i = 0; i < d->n_segs; i++) {
		const struct tcp_seq_seg *g = &d->segs[i];
		if (seq_lt(seq, g->nextseq) && seq_lt(g->seq, end))
			return g;
		if (seq == end && g->seq == seq) /* a bare SYN/FIN again */
			return g;
	}
	return NULL;
}

/*
 * The other direction's segments this ack covers leave the list.  tshark
 * walks newest to oldest and the last exact match wins: the oldest
 * segment ending at ack is the one named (an original before its
 * retransmission).
 */
static void ack_segments(struct tcp_seq_dir *rev, uint32_t ack,
			 uint64_t ts_ns, struct tcp_seq_res *out)
{
	uint32_t keep = 0;
	struct tcp_seq_seg hit = { 0, 0, 0, 0 }; /* a copy: slots move */
	for (uint32_t i = 0; i < rev->n_segs; i++) {
		struct tcp_seq_seg *g = &rev->segs[i];
		if (ack == g->nextseq) {
			if (!hit.frame)
				hit = *g; /* the oldest: scanned first here */
			continue;
		}
		if (seq_gt(ack, g->seq) && seq_le(ack, g->nextseq)) {
			g->seq = ack; /* partly acked */
		} else if (!seq_gt(g->nextseq, ack)) {
			continue; /* old: acked */
		}
		rev->segs[keep++] = *g;
	}
	if (hit.frame) {
		out->acks_frame = hit.frame;
		uint64_t d = ts_ns - hit.ts_ns;
		/* tshark shows ack_rtt only when it is not zero */
		if (d) {
			out->ack_rtt_ns = d;
			out->ack_rtt_ms = (double)d / 1e6;
		}
	}
	rev->n_segs = keep;
}

static void verify_window_scaling(struct tcp_seq_dir *fwd,
				  struct tcp_seq_dir *rev, bool is_synack)
{
	if (fwd->win_scale == -1) {
		fwd->win_scale = -2;
		rev->win_scale = -2;
	} else if (is_synack && rev->win_scale == -2) {
		fwd->win_scale = -2;
	}
}

/* The retransmission / fast / spurious / out-of-order decision. */
static void retrans_kind(struct tcp_seq *s, struct tcp_seq_dir *fwd,
			 struct tcp_seq_dir *rev, uint32_t seq,
			 uint32_t seglen, uint8_t flags, uint64_t ts_ns,
			 struct tcp_seq_res *out)
{
	bool synfin = flags & (DEC_TH_SYN | DEC_TH_FIN);
	bool not_adv = fwd->nextseq && seq_lt(seq, fwd->nextseq);

	if (out->keep_alive)
		return;
	/* more than one byte from nextseq - 1: new data after a probe */
	if (seglen > 1 && fwd->nextseq - 1 == seq)
		not_adv = false;
	if (seglen > 0 && rev->lastack && seq_le(seq + seglen, rev->lastack)) {
		out->spurious_retrans = true;
		return;
	}
	/* fast retransmission supersedes out-of-order (tshark's default) */
	uint64_t t = ts_ns - rev->lastack_ts_ns;
	if (not_adv && rev->dupacknum >= 2 && rev->lastack == seq &&
	    t < FASTRT_WINDOW_NS) {
		out->fast_retrans = true;
		return;
	}
	t = ts_ns - fwd->nextseq_ts_ns;
	uint64_t thres = s->first_rtt_ns ? s->first_rtt_ns : OOO_DEFAULT_NS;
	if (not_adv && t < thres &&
	    fwd->nextseq != seq + seglen + (synfin ? 1u : 0u)) {
		out->out_of_order = true;
		return;
	}
	if (not_adv)
		out->retrans = true;
}

void tcp_seq_packet(struct tcp_seq *s, int dir, const struct dec_pkt *p,
		    uint32_t seglen, uint64_t frame, uint64_t ts_ns,
		    struct tcp_seq_res *out)
{
	struct tcp_seq_dir *fwd = &s->dir[dir ? 1 : 0];
	struct tcp_seq_dir *rev = &s->dir[dir ? 0 : 1];
	uint32_t seq = p->tcp.seq, ack = p->tcp.ack;
	uint32_t window = p->tcp.win;
	uint8_t flags = p->tcp.flags;
	bool sfr = flags & (DEC_TH_SYN | DEC_TH_FIN | DEC_TH_RST);

	memset(out, 0, sizeof(*out));
	out->ack_rtt_ms = NAN;
	out->retrans_gap_ms = NAN;

	if (seglen == 1 && seq == fwd->nextseq && rev->window == 0) {
		out->zero_window_probe = true;
		goto finished_fwd;
	}
	if (window == 0 && !sfr)
		out->zero_window = true;
	if (fwd->nextseq && seq_gt(seq, fwd->nextseq) &&
	    !(flags & DEC_TH_RST))
		out->lost_segment = true;
	/* with nextseq unknown (0) this compares against 0xffffffff */
	if (seglen <= 1 && seq == fwd->nextseq - 1 && !sfr)
		out->keep_alive = true;
	if (seglen == 0 && window && window != fwd->window &&
	    seq == fwd->nextseq && ack == fwd->lastack && !sfr)
		out->window_update = true;
	if (seglen > 0 && rev->win_scale != -1 && !sfr) {
		int sh = rev->win_scale == -2 ? 0 : rev->win_scale;
		if (seq + seglen == rev->lastack + (rev->window << sh))
			out->window_full = true;
	}
	/* keep-alive ACK, zero window probe ACK: neither is a dup ACK */
	if (seglen == 0 && window && window == fwd->window &&
	    seq == fwd->nextseq && ack == fwd->lastack &&
	    (rev->lastflags & F_KEEP_ALIVE) && !sfr)
		goto finished_fwd;
	if (seglen == 0 && window == 0 && window == fwd->window &&
	    seq == fwd->nextseq && ack == fwd->lastack &&
	    (rev->lastflags & F_ZWP) && !sfr)
		goto finished_fwd;
	if (seglen == 0 && window && window == fwd->window &&
	    seq == fwd->nextseq && ack == fwd->lastack && !sfr) {
		fwd->dupacknum++;
		out->dup_ack = true;
		out->dup_ack_num = (uint32_t)fwd->dupacknum;
	}

finished_fwd:
	if (ack != fwd->lastack)
		fwd->dupacknum = 0;

	/*
	 * ACKed unseen segment.  Reported once: the contiguous edge jumps to
	 * nextseq (4.0's rule; later versions keep it and count instead).
	 */
	if (rev->maxseqtobeacked && seq_gt(ack, rev->maxseqtobeacked) &&
	    (flags & DEC_TH_ACK)) {
		out->ack_lost_segment = true;
		rev->maxseqtobeacked = rev->nextseq;
	}

	if (seglen > 0 || (flags & (DEC_TH_SYN | DEC_TH_FIN)))
		retrans_kind(s, fwd, rev, seq, seglen, flags, ts_ns, out);
	if (out->fast_retrans || out->spurious_retrans)
		out->retrans = true;
	if (out->retrans) {
		uint32_t end = seq + seglen;
		const struct tcp_seq_seg *o = seg_original(fwd, seq, end);
		if (o) {
			out->retrans_of_frame = o->frame;
			out->retrans_gap_ms = (double)(ts_ns - o->ts_ns) / 1e6;
		}
	}

	uint32_t nextseq = seq + seglen;
	if (flags & (DEC_TH_SYN | DEC_TH_FIN))
		nextseq++;
	if (seglen || (flags & (DEC_TH_SYN | DEC_TH_FIN)))
		seg_add(fwd, seq, nextseq, frame, ts_ns);
	/*
	 * tshark counts the SYN/FIN byte only while its list (10000) has
	 * room; ours is smaller, so count it always: the same below 10000.
	 */
	/*
	 * In 4.0 a zero window probe moves nextseq (later versions do not):
	 * hence the "more than one byte from nextseq - 1" rule above.  It
	 * does not move the contiguous edge below.
	 */
	if (seq_gt(nextseq, fwd->nextseq) || !fwd->nextseq) {
		fwd->nextseq = nextseq;
		fwd->nextseq_frame = frame;
		fwd->nextseq_ts_ns = ts_ns;
	}
	if (seq == fwd->maxseqtobeacked || !fwd->maxseqtobeacked) {
		if (!out->zero_window_probe)
			fwd->maxseqtobeacked = fwd->nextseq;
	}
	fwd->window = window;
	fwd->lastack = ack;
	fwd->lastack_ts_ns = ts_ns;
	fwd->lastflags = (out->keep_alive ? F_KEEP_ALIVE : 0) |
			 (out->zero_window_probe ? F_ZWP : 0);

	ack_segments(rev, ack, ts_ns, out);

	/* after the analysis, as in tshark's dissect_tcp() */
	if (p->tcp.wscale >= 0)
		fwd->win_scale = (int8_t)(p->tcp.wscale > 14 ? 14
							      : p->tcp.wscale);
	if (flags & DEC_TH_SYN)
		verify_window_scaling(fwd, rev, flags & DEC_TH_ACK);
	if ((flags & DEC_TH_SYN) && !(flags & DEC_TH_ACK))
		s->mru_syn_ns = ts_ns;
	if ((flags & (DEC_TH_SYN | DEC_TH_ACK)) == DEC_TH_ACK &&
	    s->mru_syn_ns && !s->first_rtt_ns)
		s->first_rtt_ns = ts_ns - s->mru_syn_ns;
}
