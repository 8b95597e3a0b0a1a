/*
 * cap_ring.c: see cap_ring.h.  Why chunks rather than one realloc'ed
 * buffer: the analyzer holds pointers into frames (cap_pkt.data) and into
 * the index (capture_get) while the capture thread appends, and a realloc
 * would pull both from under it.  Why no lock on the read side: the
 * capture thread must never wait on the analyzer (a stalled reader would
 * become kernel drops), and with nothing ever moving, a release/acquire
 * pair on the count is all the ordering readers need.
 */
#include "capture/cap_ring.h"

#include <stdlib.h>
#include <string.h>

#include "packet/dec.h"

struct cap_ring_chunk {
	struct cap_ring_chunk *next;
	size_t size, used;
	uint8_t data[];
};

size_t cap_ring_cost(uint32_t caplen)
{
	return (((size_t)caplen + 7) & ~(size_t)7) + sizeof(struct cap_pkt);
}

int cap_ring_init(struct cap_ring *r, size_t soft, struct errbuf *err)
{
	memset(r, 0, sizeof(*r));
	if (!soft)
		soft = CAPTURE_RING_DEFAULT;
	if (soft > SIZE_MAX / 4)
		return errbuf_set(err, PE_INVAL, "ring of %zu bytes", soft);
	r->soft = soft;
	r->hard = 2 * soft;
	r->reserve = soft / 8;
	/* every entry costs at least sizeof(struct cap_pkt) */
	size_t max_entries = (r->hard + r->reserve) / sizeof(struct cap_pkt) + 1;
	r->n_dir = max_entries / CAP_RING_BLOCK + 1;
	r->dir = calloc(r->n_dir, sizeof(*r->dir));
	if (!r->dir)
		return errbuf_set(err, PE_NOMEM, "out of memory");
	atomic_init(&r->count, 0);
	atomic_init(&r->received, 0);
	atomic_init(&r->cut, 0);
	atomic_init(&r->lost, 0);
	return 0;
}

void cap_ring_release(struct cap_ring *r)
{
	struct cap_ring_chunk *ch = r->chunks, *next;
	for (; ch; ch = next) {
		next = ch->next;
		free(ch);
	}
	if (r->dir)
		for (size_t i = 0; i < r->n_dir; i++)
			free(r->dir[i]);
	free(r->dir);
	memset(r, 0, sizeof(*r));
}

/* Room for n bytes, 8-aligned, in the newest chunk or a new one. */
static uint8_t *arena_take(struct cap_ring *r, size_t n)
{
	struct cap_ring_chunk *ch = r->chunks;
	n = (n + 7) & ~(size_t)7;
	if (!ch || ch->size - ch->used < n) {
		size_t size = n > CAP_RING_CHUNK ? n : CAP_RING_CHUNK;
		ch = malloc(sizeof(*ch) + size);
		if (!ch)
			return NULL;
		ch->size = size;
		ch->used = 0;
		ch->next = r->chunks;
		r->chunks = ch;
	}
	uint8_t *p = ch->data + ch->used;
	ch->used += n;
	return p;
}

/* Bytes of a frame before its transport payload (cap_ring.h); *hs: a
 * TCP segment that opens or closes its connection (SYN, FIN, RST). */
static uint32_t headers_len(const uint8_t *data, uint32_t caplen,
			    uint32_t len, int linktype, bool *hs)
{
	struct dec_pkt d;
	dec_packet(linktype, data, caplen, len, &d);
	*hs = d.l4 == DEC_L_TCP &&
	      (d.tcp.flags & (DEC_TH_SYN | DEC_TH_FIN | DEC_TH_RST));
	if ((d.l4 == DEC_L_TCP || d.l4 == DEC_L_UDP) && d.payload &&
	    d.payload >= data && d.payload <= data + caplen)
		return (uint32_t)(d.payload - data);
	return caplen < CAP_RING_CUT_OTHER ? caplen : CAP_RING_CUT_OTHER;
}

int cap_ring_append(struct cap_ring *r, uint64_t ts_ns, const uint8_t *data,
		    uint32_t caplen, uint32_t len, uint16_t iface,
		    int linktype)
{
	size_t n = atomic_load_explicit(&r->count, memory_order_relaxed);
	bool cut = false;

	atomic_fetch_add_explicit(&r->received, 1, memory_order_relaxed);
	if (r->used + cap_ring_cost(caplen) > r->soft) {
		bool hs;
		uint32_t h = headers_len(data, caplen, len, linktype, &hs);
		cut = h < caplen;
		caplen = h;
		/* past the hard cap, handshakes (and closes) still go in,
		 * from a reserve: each connection's start and end stay */
		size_t cost = r->used + cap_ring_cost(caplen);
		if (cost > r->hard && (!hs || cost > r->hard + r->reserve))
			goto lost;
	}
	if (n / CAP_RING_BLOCK >= r->n_dir)
		goto lost; /* cannot happen: the budget bounds the count */
	struct cap_pkt **blk = &r->dir[n / CAP_RING_BLOCK];
	if (!*blk && !(*blk = calloc(CAP_RING_BLOCK, sizeof(**blk))))
		goto nomem;
	uint8_t *copy = caplen ? arena_take(r, caplen) : NULL;
	if (caplen && !copy)
		goto nomem;
	if (caplen)
		memcpy(copy, data, caplen);
	struct cap_pkt *p = &(*blk)[n % CAP_RING_BLOCK];
	p->ts_ns = ts_ns;
	p->caplen = caplen;
	p->len = len;
	p->iface = iface;
	p->linktype = linktype;
	p->data = copy;
	p->cut = cut;
	r->used += cap_ring_cost(caplen);
	if (cut)
		atomic_fetch_add_explicit(&r->cut, 1, memory_order_relaxed);
	atomic_store_explicit(&r->count, n + 1, memory_order_release);
	return 0;
nomem:
	atomic_fetch_add_explicit(&r->lost, 1, memory_order_relaxed);
	return PE_NOMEM;
lost:
	atomic_fetch_add_explicit(&r->lost, 1, memory_order_relaxed);
	return 0;
}

size_t cap_ring_count(struct cap_ring *r)
{
	return atomic_load_explicit(&r->count, memory_order_acquire);
}

const struct cap_pkt *cap_ring_get(struct cap_ring *r, size_t i)
{
	if (i >= cap_ring_count(r))
		return NULL;
	return &r->dir[i / CAP_RING_BLOCK][i % CAP_RING_BLOCK];
}
