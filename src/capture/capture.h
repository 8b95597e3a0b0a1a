/*
 * capture.h: the live capture of a `probe run` process (DESIGN section 8).
 *
 * One pcap handle per interface the run's traffic crosses (never "any": it
 * duplicates frames on bridges, bonds and VLANs, which would look like
 * retransmissions), read by one thread into one memory ring that the
 * analyzer reads while the run goes on.  Only capture/ calls libpcap's
 * capture API.
 *
 * Lifecycle: capture_open() (needs capture rights) -> cap_priv_drop() ->
 * capture_start() -> capture_set_filter() / capture_add_iface() as the run
 * learns addresses -> capture_stop() -> read the ring -> capture_free().
 *
 * The ring (cap_ring.c) keeps whole frames up to a soft cap of ring_bytes,
 * then headers only (link + IP + TCP/UDP header, `cut`) up to twice that,
 * then nothing (`lost`).  A cut frame keeps its wire length and every
 * header, so the analyzer still sees sequence numbers, lengths, flags and
 * timestamps: timing figures survive a full ring; only the TLS record
 * contents (and record boundaries inside the missing bytes) are gone.
 * The budget counts each frame's kept bytes (rounded up to 8) plus its
 * index entry (sizeof(struct cap_pkt)), so tiny frames cannot grow the
 * index without bound either.
 *
 * Threads: the capture thread is the ring's only writer.  capture_count()
 * and capture_get() take no lock (see cap_ring.h): entries below a count
 * never move or change, so any thread may read them while the capture
 * runs.  Every other pcap call on a handle (filter, stats, dispatch) is
 * made under that handle's mutex, since pcap_t is not thread-safe.
 *
 * Privileges, measured on this Debian 12 machine (kernel 6.18, libpcap
 * 1.10.3), running as `nobody` with file capabilities on the binary:
 * `setcap cap_net_raw+ep` alone is enough for everything capture does here
 * (AF_PACKET socket, TPACKET_V3 ring, 4 MiB buffer, BPF filters, stats,
 * on lo and eth0, still capturing after cap_priv_drop); CAP_NET_ADMIN is not
 * needed (tests/integration/0620-capture.sh runs with cap_net_raw alone).
 * Without either, pcap_activate fails with "Operation not permitted"
 * (PE_PERM).
 *
 * Timestamps: opening a handle turns on the kernel's receive timestamps
 * (SO_TIMESTAMPNS), so a frame is stamped once where it enters the stack
 * and every capture on the host sees the same stamp, except TCP on lo,
 * whose copies are stamped per capture (cap_thread.c).
 */
#ifndef PROBE_CAPTURE_CAPTURE_H
#define PROBE_CAPTURE_CAPTURE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/dec.h"
#include "util/err.h"

#define CAPTURE_RING_DEFAULT ((size_t)64 << 20) /* soft cap, bytes */
#define CAPTURE_SNAPLEN 262144
/*
 * The kernel ring per handle, and how it is read.  Not immediate mode:
 * libpcap then uses TPACKET_V2, whose slots are sized for the largest
 * frame (64 KiB on an interface with offloads), so 4 MiB is 64 frames,
 * and a bursty bench run (0710: 30 kB answers at 5 ms one-way, the
 * forwarder at SCHED_FIFO on one of two cores) lost 2-6 of ~370 frames
 * whenever the reader thread was off its core for a burst; 32 MiB lost
 * none but made the process 145 MB resident (the ring is allocated and
 * mapped whole, per interface).  TPACKET_V3 (immediate mode off) packs
 * frames into blocks by their real size and hands a block over when it is
 * full or CAPTURE_BLOCK_MS after its first frame: 2 MiB and 4 MiB lost
 * nothing in the same runs, 4 MiB costs ~8 MB resident per interface.
 * The delay does not matter: runs are analyzed after a grace of at least
 * 50 ms, and timestamps are the kernel's either way.
 */
#define CAPTURE_BLOCK_MS 1
#define CAPTURE_BUFFER ((int)4 << 20)
#define CAPTURE_MAX_IFACES 32                   /* beyond: PE_LIMIT */
#define CAPTURE_POLL_MS 100

/* One captured frame, immutable once in the ring. */
struct cap_pkt {
	uint64_t ts_ns;          /* CLOCK_REALTIME ns (pcap nano timestamps) */
	uint32_t caplen, len;    /* bytes kept here / on the wire */
	uint16_t iface;          /* index into capture_iface() */
	int linktype;            /* DLT of that interface (pcap_datalink) */
	const uint8_t *data;     /* caplen bytes; valid until capture_free() */
	bool cut;                /* headers only: ring past its soft cap */
};

struct cap_iface {
	char name[IFNAMSIZ];
	int linktype;
};

struct capture_opts {
	/* explicit interfaces (--interface); n_ifaces == 0: choose (below) */
	const char *const *ifaces;
	size_t n_ifaces;
	/*
	 * Addresses known before the run (resolvers, literal hosts): their
	 * interfaces (cap_iface_for), plus the default route's of each
	 * family that has one, deduplicated, are captured on.
	 */
	const struct dec_addr *dests;
	size_t n_dests;
	size_t ring_bytes;       /* soft cap; 0 = CAPTURE_RING_DEFAULT */
	const char *filter;      /* BPF expression (cap_bpf_build); NULL: all */
};

struct capture;

/*
 * Open one pcap handle per chosen interface: snaplen 262144, 1 ms blocks
 * (not immediate mode), nanosecond timestamps, 4 MiB kernel buffer, the
 * filter, non-blocking.  Nothing is read until capture_start().  Returns NULL
 * with err: PE_PERM when the process lacks capture rights (pcap's message
 * in err), PE_NOTFOUND when no interface could be chosen, PE_INVAL for a
 * filter pcap rejects, PE_LIMIT, PE_NOMEM, PE_IO for other failures.
 */
struct capture *capture_open(const struct capture_opts *o,
			     struct errbuf *err);

/* Start the capture thread.  0, or PE_IO / PE_INVAL (started twice). */
int capture_start(struct capture *c, struct errbuf *err) PE_WARN_UNUSED;

/*
 * Replace the filter on every handle (needs no privilege), e.g. when the
 * run learns a new address.  Thread-safe against the capture thread.
 * Frames already queued in the kernel ring that the new filter rejects
 * are discarded by libpcap, so a new filter should be a superset of the
 * old one.  0, or PE_INVAL with pcap's message (every handle keeps the
 * filter it had if the expression does not compile on the first).
 */
int capture_set_filter(struct capture *c, const char *expr,
		       struct errbuf *err) PE_WARN_UNUSED;

/*
 * Open a handle on one more interface, with the current filter, during
 * the run; 0 without doing anything if it is already open.  Needs capture
 * rights: after cap_priv_drop() this fails with PE_PERM, by design.
 */
int capture_add_iface(struct capture *c, const char *name,
		      struct errbuf *err) PE_WARN_UNUSED;

/*
 * Frames so far, in the order the thread appended them.  capture_count()
 * is a snapshot; capture_get(i) for i below it gives a frame that never
 * moves or changes until capture_free() (NULL for i >= the count).  No
 * lock: safe from any thread while the capture runs.
 */
size_t capture_count(struct capture *c);
const struct cap_pkt *capture_get(struct capture *c, size_t i);

struct capture_stats {
	uint64_t received;  /* frames the thread got from pcap */
	uint64_t dropped;   /* pcap_stats ps_drop + ps_ifdrop, all handles */
	uint64_t cut;       /* frames kept headers-only (soft cap passed) */
	uint64_t lost;      /* frames not kept (hard cap = 2 x soft passed) */
};

/* Counters so far (dropped asks every handle, under its mutex). */
void capture_stats(struct capture *c, struct capture_stats *out);

/*
 * Stop the thread after a last non-blocking read of every handle (what
 * the kernel holds now is kept), and join it.  Idempotent; a capture
 * never started is only marked stopped.
 */
void capture_stop(struct capture *c);

/* Stop, close the handles and free the ring.  NULL is a no-op. */
void capture_free(struct capture *c);

size_t capture_n_ifaces(const struct capture *c);
/* Interface i (i < capture_n_ifaces), valid until capture_free(). */
const struct cap_iface *capture_iface(const struct capture *c, size_t i);

/*
 * The interface a destination is routed through: connect() a UDP socket
 * to it (sends nothing), getsockname(), then the interface owning that
 * local address (getifaddrs); a loopback destination gives the loopback
 * interface ("lo").  0, PE_NOTFOUND (no route, no owner) or PE_IO, PE_INVAL
 * for an address without a family.
 */
int cap_iface_for(const struct dec_addr *dst, char name[IFNAMSIZ],
		  struct errbuf *err) PE_WARN_UNUSED;

/*
 * Give up rights once the handles are open (DESIGN section 8).
 * Call it before starting any thread (capture_start, curl, c-ares):
 * capabilities are per thread, and the raw capset below changes only the
 * calling one (glibc's setuid/setgid do reach every thread).
 *   - euid 0 and user given: initgroups, setgid, setuid to that user
 *     (PE_NOTFOUND for an unknown user, PE_PERM if a step fails), with
 *     PR_SET_KEEPCAPS for the step below;
 *   - then, in every case: every capability set cleared but CAP_NET_RAW,
 *     kept in the permitted and effective sets when it was permitted
 *     (root, or `setcap cap_net_raw+ep` on the binary) so that
 *     capture_add_iface() can still open an interface a step turns out
 *     to need; the ambient set cleared; PR_SET_NO_NEW_PRIVS.  Root
 *     without a user stays uid 0 with CAP_NET_RAW alone: it overrides no
 *     file permission, binds no low port, traces nothing.
 * Open handles keep working, and so does capture_set_filter().
 */
int cap_priv_drop(const char *user, struct errbuf *err) PE_WARN_UNUSED;

/*
 * Wait until every frame the kernel received before this call is in the
 * ring (the reader thread has begun a pass over every handle more than
 * CAPTURE_BLOCK_MS after it), at most timeout_ns: 0, or PE_BUSY (the
 * ring then holds what came so far).  A run's analysis calls it instead
 * of waiting a fixed time for the capture to catch up.
 */
int capture_sync(struct capture *c, uint64_t timeout_ns);

#endif
