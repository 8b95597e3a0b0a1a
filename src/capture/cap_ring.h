/*
 * cap_ring.h: the capture's memory ring, apart from pcap so that it can be
 * tested with synthetic frames (tests/unit/test_capture.c).  Internal to
 * capture/ and its tests; everyone else goes through capture.h.
 *
 * Structure: frame bytes go into an arena of 1 MiB chunks that are never
 * moved or freed before cap_ring_release() (a frame never spans chunks,
 * so cap_pkt.data is stable); the index of struct cap_pkt is chunked as
 * well (blocks of CAP_RING_BLOCK entries) under a directory allocated once
 * at init, sized for the most entries the budget allows.  Nothing a
 * reader can reach is ever realloc'ed, which is why readers need no lock:
 * the single writer fills an entry, then publishes the new count with a
 * release store; cap_ring_count() is an acquire load.
 *
 * Budget (see capture.h): a frame costs its kept bytes rounded up to 8
 * plus sizeof(struct cap_pkt).  While the whole frame fits under soft
 * it is kept whole; otherwise it is cut to its headers (dec_packet():
 * everything before the TCP/UDP payload; a frame with no TCP/UDP payload
 * found keeps at most CAP_RING_CUT_OTHER bytes, enough for an ICMP error
 * and the header it quotes); if even that would pass 2 x soft, it is lost
 * -- unless it is a TCP SYN, FIN or RST, which a reserve of soft / 8
 * beyond the hard cap still takes: every connection's handshake and end
 * stay in the ring (DESIGN section 8).
 */
#ifndef PROBE_CAPTURE_CAP_RING_H
#define PROBE_CAPTURE_CAP_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "util/err.h"

#define CAP_RING_CHUNK ((size_t)1 << 20)
#define CAP_RING_BLOCK 4096
#define CAP_RING_CUT_OTHER 256

struct cap_ring_chunk;

struct cap_ring {
	size_t soft, hard;             /* budget, bytes */
	size_t reserve;                /* past hard: handshakes only */
	size_t used;                   /* budget spent (writer only) */
	struct cap_ring_chunk *chunks; /* newest first (writer only) */
	struct cap_pkt **dir;          /* n_dir blocks, allocated lazily */
	size_t n_dir;
	_Atomic size_t count;          /* published entries */
	_Atomic uint64_t received, cut, lost;
};

/* soft == 0 gives CAPTURE_RING_DEFAULT.  0 or PE_NOMEM. */
int cap_ring_init(struct cap_ring *r, size_t soft, struct errbuf *err)
	PE_WARN_UNUSED;
/* Free every chunk and block; r can be init'ed again. */
void cap_ring_release(struct cap_ring *r);

/*
 * Append one frame (the writer only: one thread).  data (caplen bytes)
 * is copied.  Counts it as received, and as cut or lost as the budget
 * says.  0, or PE_NOMEM (the frame is counted lost).
 */
int cap_ring_append(struct cap_ring *r, uint64_t ts_ns, const uint8_t *data,
		    uint32_t caplen, uint32_t len, uint16_t iface,
		    int linktype);

/* Any thread, no lock: see the top of this file. */
size_t cap_ring_count(struct cap_ring *r);
const struct cap_pkt *cap_ring_get(struct cap_ring *r, size_t i);

/* Budget a frame of caplen kept bytes costs (for tests and stats). */
size_t cap_ring_cost(uint32_t caplen);

#endif
