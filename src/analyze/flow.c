/*
 * flow.c: TCP connections from decoded frames (flow.h).
 *
 * Connections live in t->v (insertion order); t->idx is an open-addressing
 * (linear probing) hash index over them: each slot holds 1 + an index into
 * v, 0 for an empty slot.  The key is the 5-tuple with its two endpoints
 * put in a canonical order, so both directions hash alike.  A slot is
 * never removed: on port reuse it is pointed at the newest connection.
 *
 * What this layer needs beyond struct flow (the FINs seen and acked, the
 * sequence analysis state) sits in a private wrapper, struct flow_ent,
 * whose first member is the flow.  Removing a flow (flow_table_remove)
 * closes the gap in v and rebuilds the index.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/flow.h"

#define FLOW_IDX_MIN 64

enum { FIN_C = 1 << 0, FIN_S = 1 << 1 };

struct flow_ent {
	struct flow f;         /* first: v holds &ent->f */
	uint8_t fins;          /* FIN_C, FIN_S: sent */
	uint8_t fins_acked;    /* FIN_C, FIN_S: acknowledged by the peer */
	uint32_t fin_end[2];   /* [0] client's, [1] server's: seq after FIN */
	struct tcp_seq seq;    /* dir 0: client -> server */
	size_t pos;            /* its index in t->v */
};

/* An index slot of a removed flow (probing goes on past it). */
#define IDX_TOMB UINT32_MAX

static size_t addr_len(const struct dec_addr *a)
{
	return a->family == 6 ? 16 : 4;
}

/* <0, 0, >0 like memcmp: the canonical order of two endpoints. */
static int ep_cmp(const struct dec_addr *a, uint16_t ap,
		  const struct dec_addr *b, uint16_t bp)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->a, b->a, addr_len(a));
	if (c)
		return c;
	return ap == bp ? 0 : ap < bp ? -1 : 1;
}

static uint32_t fnv_bytes(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t fnv_ep(uint32_t h, const struct dec_addr *a, uint16_t port)
{
	uint8_t b[3] = { a->family, (uint8_t)(port >> 8), (uint8_t)port };
	h = fnv_bytes(h, b, sizeof(b));
	return fnv_bytes(h, a->a, addr_len(a));
}

static uint32_t tuple_hash(const struct dec_addr *a, uint16_t ap,
			   const struct dec_addr *b, uint16_t bp)
{
	uint32_t h = 2166136261u;
	if (ep_cmp(a, ap, b, bp) > 0) {
		h = fnv_ep(h, b, bp);
		return fnv_ep(h, a, ap);
	}
	h = fnv_ep(h, a, ap);
	return fnv_ep(h, b, bp);
}

/* Does f have this tuple, in either direction?  *c2s: a is the client. */
static bool flow_match(const struct flow *f, const struct dec_addr *a,
		       uint16_t ap, const struct dec_addr *b, uint16_t bp,
		       bool *c2s)
{
	if (f->cport == ap && f->sport == bp && dec_addr_eq(&f->cli, a) &&
	    dec_addr_eq(&f->srv, b)) {
		*c2s = true;
		return true;
	}
	if (f->cport == bp && f->sport == ap && dec_addr_eq(&f->cli, b) &&
	    dec_addr_eq(&f->srv, a)) {
		*c2s = false;
		return true;
	}
	return false;
}

void flow_table_init(struct flow_table *t, size_t max_flows)
{
	memset(t, 0, sizeof(*t));
	t->max_flows = max_flows;
}

void flow_table_release(struct flow_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		/* the struct flow_ent (f is its first member) */
		struct flow_ent *e = (struct flow_ent *)t->v[i];
		if (!e)
			continue; /* removed */
		tcp_seq_release(&e->seq);
		free(e);
	}
	free(t->v);
	free(t->idx);
	memset(t, 0, sizeof(*t));
}

/*
 * The slot of the tuple (a, ap, b, bp): the one holding it, or where it
 * would go (the first tombstone on the way, else the empty slot that
 * ends the probe).  idx_cap is a power of two, never full: slots in use,
 * tombstones included, are at most t->n (holes count), under half.
 */
static size_t idx_slot(const struct flow_table *t, const struct dec_addr *a,
		       uint16_t ap, const struct dec_addr *b, uint16_t bp)
{
	size_t mask = t->idx_cap - 1;
	size_t i = tuple_hash(a, ap, b, bp) & mask;
	size_t tomb = SIZE_MAX;
	for (;;) {
		uint32_t e = t->idx[i];
		bool dir;
		if (!e)
			return tomb != SIZE_MAX ? tomb : i;
		if (e == IDX_TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (flow_match(t->v[e - 1], a, ap, b, bp, &dir)) {
			return i;
		}
		i = (i + 1) & mask;
	}
}

/* The flow a slot holds, or NULL (empty, tombstone). */
static struct flow *slot_flow(const struct flow_table *t, size_t s)
{
	uint32_t e = t->idx[s];
	return e && e != IDX_TOMB ? t->v[e - 1] : NULL;
}

/* Rebuild the index with ncap slots; -1 when out of memory. */
static int idx_grow(struct flow_table *t, size_t ncap)
{
	uint32_t *n = calloc(ncap, sizeof(*n));
	if (!n)
		return -1;
	uint32_t *old = t->idx;
	size_t ocap = t->idx_cap;
	t->idx = n;
	t->idx_cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		uint32_t e = old[i];
		if (!e || e == IDX_TOMB)
			continue;
		const struct flow *f = t->v[e - 1];
		n[idx_slot(t, &f->cli, f->cport, &f->srv, f->sport)] = e;
	}
	free(old);
	return 0;
}

static struct flow *flow_new(struct flow_table *t, const struct dec_pkt *p,
			     bool sender_is_client, bool mid_stream, int *err)
{
	/* index entries <= t->n: keep the load at or below one half */
	if ((t->n + 1) * 2 > t->idx_cap) {
		size_t ncap = t->idx_cap ? t->idx_cap * 2 : FLOW_IDX_MIN;
		if (ncap > SIZE_MAX / sizeof(*t->idx) ||
		    idx_grow(t, ncap) < 0) {
			*err = PE_NOMEM;
			return NULL;
		}
	}
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		if (ncap > SIZE_MAX / sizeof(*t->v)) {
			*err = PE_NOMEM;
			return NULL;
		}
		struct flow **nv = realloc(t->v, ncap * sizeof(*nv));
		if (!nv) {
			*err = PE_NOMEM;
			return NULL;
		}
		t->v = nv;
		t->cap = ncap;
	}
	struct flow_ent *e = calloc(1, sizeof(*e));
	if (!e) {
		*err = PE_NOMEM;
		return NULL;
	}
	struct flow *f = &e->f;
	if (sender_is_client) {
		f->cli = p->ip.src;
		f->srv = p->ip.dst;
		f->cport = p->sport;
		f->sport = p->dport;
	} else {
		f->cli = p->ip.dst;
		f->srv = p->ip.src;
		f->cport = p->dport;
		f->sport = p->sport;
	}
	f->mid_stream = mid_stream;
	f->rtt_ms = NAN;
	f->rtt_quality = FLOW_Q_NONE;
	f->c2s.mss = f->s2c.mss = -1;
	f->c2s.wscale = f->s2c.wscale = -1;
	f->c2s.max_retrans_gap_ms = f->s2c.max_retrans_gap_ms = NAN;
	tcp_seq_init(&e->seq);
	e->pos = t->n;
	t->v[t->n++] = f;
	t->live++;
	size_t s = idx_slot(t, &f->cli, f->cport, &f->srv, f->sport);
	t->idx[s] = (uint32_t)t->n;
	return f;
}

static void side_opts(struct flow_side *s, const struct dec_tcp *tcp)
{
	s->mss = tcp->mss;
	s->wscale = tcp->wscale;
	s->sack_perm = tcp->sack_perm;
}

static void on_syn(struct flow *f, const struct dec_pkt *p, uint64_t frame,
		   uint64_t ts_ns)
{
	if (f->n_syn < FLOW_MAX_SYNS) {
		unsigned i = f->n_syn;
		f->syn_frame[i] = frame;
		f->syn_ts_ns[i] = ts_ns;
		f->syn_tsval[i] = p->tcp.has_ts ? p->tcp.ts_val : 0;
		/* true while every SYN remembered carried a timestamp */
		f->syn_has_ts = (i == 0 || f->syn_has_ts) && p->tcp.has_ts;
	}
	if (f->n_syn == 0)
		side_opts(&f->c2s, &p->tcp);
	f->n_syn++;
	f->syn_retrans = f->n_syn - 1;
}

/* Which remembered SYN copy the SYN/ACK answers; -1: cannot tell. */
static int answered_syn(const struct flow *f, const struct dec_pkt *p)
{
	if (f->n_syn == 0)
		return -1;
	if (f->n_syn == 1)
		return 0;
	if (!p->tcp.has_ts || !f->syn_has_ts)
		return -1;
	unsigned n = f->n_syn < FLOW_MAX_SYNS ? f->n_syn : FLOW_MAX_SYNS;
	int hit = -1;
	for (unsigned i = 0; i < n; i++) {
		if (f->syn_tsval[i] != p->tcp.ts_ecr)
			continue;
		if (hit >= 0)
			return -1; /* two copies with the same TSval */
		hit = (int)i;
	}
	/* a SYN beyond those remembered may be the one echoed */
	if (hit >= 0 && f->n_syn > FLOW_MAX_SYNS)
		return -1;
	return hit;
}

static void on_synack(struct flow *f, const struct dec_pkt *p,
		      uint64_t frame, uint64_t ts_ns)
{
	f->synack_frame = frame;
	f->synack_ts_ns = ts_ns;
	side_opts(&f->s2c, &p->tcp);
	if (f->n_syn == 0)
		return; /* joined after the SYN: nothing to measure */
	int i = answered_syn(f, p);
	if (i < 0) {
		f->rtt_ms = NAN;
		f->rtt_quality = FLOW_Q_AMBIGUOUS;
		return;
	}
	f->answered_syn_frame = f->syn_frame[i];
	f->rtt_ms = ((double)ts_ns - (double)f->syn_ts_ns[i]) / 1e6;
	f->rtt_quality = FLOW_Q_MEASURED;
}

static void side_seq(struct flow_side *s, const struct tcp_seq_res *r,
		     uint64_t frame)
{
	if (r->retrans) {
		if (s->n_retrans_frame < FLOW_MAX_EVENTS)
			s->retrans_frame[s->n_retrans_frame++] = frame;
		s->retrans++;
		if (!isnan(r->retrans_gap_ms) &&
		    (isnan(s->max_retrans_gap_ms) ||
		     r->retrans_gap_ms > s->max_retrans_gap_ms))
			s->max_retrans_gap_ms = r->retrans_gap_ms;
	}
	s->fast_retrans += r->fast_retrans;
	s->spurious += r->spurious_retrans;
	s->dup_acks += r->dup_ack;
	s->out_of_order += r->out_of_order;
	s->lost_segment += r->lost_segment;
	s->keep_alive += r->keep_alive;
	if (r->zero_window) {
		if (s->n_zero_window_frame < FLOW_MAX_EVENTS)
			s->zero_window_frame[s->n_zero_window_frame++] = frame;
		s->zero_window++;
	}
}

/* FINs each way, and whether the peer acknowledged them (flow_closed). */
static void track_fins(struct flow_ent *e, const struct dec_pkt *p,
		       uint32_t seglen, bool c2s)
{
	int me = c2s ? 0 : 1, peer = !me;
	uint8_t my_bit = c2s ? FIN_C : FIN_S, peer_bit = c2s ? FIN_S : FIN_C;
	if (p->tcp.flags & DEC_TH_FIN) {
		e->fins |= my_bit;
		e->fin_end[me] = p->tcp.seq + seglen + 1;
	}
	if ((p->tcp.flags & DEC_TH_ACK) && (e->fins & peer_bit) &&
	    (int32_t)(p->tcp.ack - e->fin_end[peer]) >= 0)
		e->fins_acked |= peer_bit;
}

bool flow_closed(const struct flow *f)
{
	const struct flow_ent *e = (const struct flow_ent *)f;
	return f->rst != FLOW_RST_NONE ||
	       (e->fins == (FIN_C | FIN_S) && e->fins_acked == (FIN_C | FIN_S));
}

/* Close the holes in v (insertion order kept) and rebuild the index. */
static void compact(struct flow_table *t)
{
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (!t->v[i])
			continue;
		((struct flow_ent *)t->v[i])->pos = k;
		t->v[k++] = t->v[i];
	}
	t->n = k;
	t->holes = 0;
	memset(t->idx, 0, t->idx_cap * sizeof(*t->idx));
	/* in order, so that on port reuse the newest flow wins the slot */
	for (size_t j = 0; j < t->n; j++) {
		const struct flow *g = t->v[j];
		t->idx[idx_slot(t, &g->cli, g->cport, &g->srv, g->sport)] =
			(uint32_t)(j + 1);
	}
}

void flow_table_remove(struct flow_table *t, struct flow *f)
{
	struct flow_ent *e = (struct flow_ent *)f;
	if (!f || e->pos >= t->n || t->v[e->pos] != f)
		return; /* not ours */
	size_t s = idx_slot(t, &f->cli, f->cport, &f->srv, f->sport);
	if (slot_flow(t, s) == f)
		t->idx[s] = IDX_TOMB; /* else a newer flow of the tuple has it */
	t->v[e->pos] = NULL;
	t->live--;
	t->holes++;
	tcp_seq_release(&e->seq);
	free(e);
	if (t->holes > 64 && t->holes > t->live)
		compact(t);
}

struct flow *flow_table_packet(struct flow_table *t, const struct dec_pkt *p,
			       uint64_t frame, uint64_t ts_ns,
			       struct flow_pkt *info, int *err)
{
	*err = 0;
	if (p->l4 != DEC_L_TCP || (p->ip.ver != 4 && p->ip.ver != 6))
		return NULL;
	uint8_t fl = p->tcp.flags;
	bool syn = (fl & DEC_TH_SYN) && !(fl & DEC_TH_ACK);
	bool synack = (fl & DEC_TH_SYN) && (fl & DEC_TH_ACK);

	struct flow *f = NULL;
	bool c2s = true;
	if (t->idx_cap) {
		size_t s = idx_slot(t, &p->ip.src, p->sport, &p->ip.dst,
				    p->dport);
		if (slot_flow(t, s)) {
			f = slot_flow(t, s);
			flow_match(f, &p->ip.src, p->sport, &p->ip.dst,
				   p->dport, &c2s);
		}
	}
	if (f && syn) {
		const struct flow_ent *e = (const struct flow_ent *)f;
		if (f->rst != FLOW_RST_NONE || e->fins == (FIN_C | FIN_S))
			f = NULL; /* port reuse: a new connection */
	}
	if (!f) {
		/* idx holds 1 + an index into v in 32 bits */
		if (t->live >= t->max_flows || t->n >= UINT32_MAX - 2) {
			t->overflow++;
			return NULL;
		}
		f = flow_new(t, p, !synack, !syn, err);
		if (!f)
			return NULL;
		c2s = !synack;
		f->first_frame = frame;
		f->first_ts_ns = ts_ns;
	}

	struct flow_side *side = c2s ? &f->c2s : &f->s2c;
	uint32_t bytes = p->payload_claimed;
	if (p->st != DEC_OK && p->st_layer == DEC_L_TCP)
		bytes = bytes > p->tcp.hdr_len ? bytes - p->tcp.hdr_len : 0;
	side->packets++;
	side->bytes += bytes;
	f->last_frame = frame;
	f->last_ts_ns = ts_ns;

	if (syn && c2s)
		on_syn(f, p, frame, ts_ns);
	else if (synack && !c2s && f->synack_frame == 0)
		on_synack(f, p, frame, ts_ns);
	if ((fl & DEC_TH_RST) && f->rst == FLOW_RST_NONE) {
		f->rst = c2s ? FLOW_RST_CLIENT : FLOW_RST_SERVER;
		f->rst_frame = frame;
		f->rst_ts_ns = ts_ns;
	}
	struct flow_ent *e = (struct flow_ent *)f;
	track_fins(e, p, bytes, c2s);
	/*
	 * l4 is TCP once the fixed header decoded; bad or cut options do
	 * not stop the analysis (tshark's runs before it reads options).
	 */
	struct tcp_seq_res res;
	tcp_seq_packet(&e->seq, c2s ? 0 : 1, p, bytes, frame, ts_ns, &res);
	side_seq(side, &res, frame);
	side->unacked_overflow = e->seq.dir[c2s ? 0 : 1].overflow;
	if (info) {
		info->c2s = c2s;
		info->payload = bytes;
		info->seq = res;
	}
	return f;
}
