/*
 * cap_evidence.h: a run's escalation file, SPOOL/pcaps/RUN_ID.pcapng
 * (DESIGN sections 6 and 8).  The run's frames stay whole in memory while
 * it is analyzed; what reaches disk is truncated per protocol, because
 * the file outlives the run and can be handed around:
 *
 *  - link, IP, TCP, UDP and ICMP headers are always kept; ICMP errors
 *    keep their quote up to the quoted IP header plus 8 bytes (ports and
 *    TCP sequence number: a quote can carry up to 576 or 1280 bytes of
 *    the offending datagram, its payload included, see
 *    dec_redact_icmp_keep); other ICMP is cut after its 8-byte header;
 *  - UDP or TCP to or from a DNS port: whole;
 *  - TCP, decided per connection (5-tuple, both directions, a new SYN
 *    with another ISN starts a new one) from the client's first payload
 *    bytes (dec_app_guess): TLS keeps every record header (5 bytes) and
 *    zeroes every record body (caplen unchanged, so Wireshark still
 *    parses the record layer); with a key log TLS connections are kept
 *    whole.  Anything else (cleartext HTTP, unknown, a connection whose
 *    start was not captured) is cut right after the TCP header (caplen =
 *    headers, len unchanged), key log or not: no plaintext HTTP payload;
 *  - record headers are found in sequence space per direction (relative
 *    to the SYN's ISN + 1, else the lowest sequence number seen), so
 *    retransmissions get the treatment of the bytes they repeat and
 *    out-of-order segments theirs; where the layout is lost (a gap in
 *    the capture, a header that cannot be one) everything after it in
 *    that direction is zeroed and counted in layout_lost;
 *  - any other UDP payload, other IP protocols, non-first fragments:
 *    cut after the last decoded header.  Frames that end inside their
 *    headers, or are not IP (the run's BPF filter admits only IP), are
 *    kept as they are.
 *
 * Frames are copied, never modified.  Frame numbers (1-based, the order
 * of `frames`) are those of the findings, so comments go on the frame
 * they name.  Memory: a few words per frame, per TCP segment and per TLS
 * record (at most CAP_EV_MAX_RECORDS: past it the layout counts as lost).
 *
 * Directory policy: SPOOL is created 0700 when missing (left as it is
 * otherwise); SPOOL/pcaps is created 0700 when missing, and when it
 * exists it must be a real directory (not a symlink) owned by us with no
 * group or other access, else PE_PERM: the files can hold TLS secrets,
 * and a directory we did not make is not ours to chmod silently.
 */
#ifndef PROBE_CAPTURE_CAP_EVIDENCE_H
#define PROBE_CAPTURE_CAP_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CAP_EV_MAX_RECORDS (4u << 20) /* TLS record headers remembered */
#define CAP_EV_RUN_ID_MAX 200

struct cap_ev_iface {
	const char *name; /* if_name, NULL for none */
	int linktype;     /* pcap_datalink() value */
};

/* The run's frames in its order: frame number = index + 1. */
struct cap_ev_frame {
	uint64_t ts_ns;
	const uint8_t *data; /* borrowed for the call */
	uint32_t caplen, len;
	uint16_t iface;      /* index into ifaces */
};

/* e.g. "RETRANSMISSIONS: 2 retransmitted out ..." on frame 17 */
struct cap_ev_comment {
	uint64_t frame; /* 1-based */
	const char *text;
};

struct cap_ev_in {
	const char *spool;  /* file: SPOOL/pcaps/RUN_ID.pcapng */
	const char *run_id; /* [A-Za-z0-9._-]+, no leading '.', no "..",
			     * at most CAP_EV_RUN_ID_MAX */
	const struct cap_ev_iface *ifaces; /* one IDB each, in order */
	size_t n_ifaces;
	const struct cap_ev_frame *frames;
	size_t n_frames;
	/* several per frame allowed: joined with "; " in array order */
	const struct cap_ev_comment *comments;
	size_t n_comments;
	/* UDP/TCP ports whose payload is DNS, kept whole (none: 53) */
	const uint16_t *dns_ports;
	size_t n_dns_ports;
	/*
	 * NULL: TLS record bodies zeroed.  Else whole TLS records, and this
	 * NSS key log text as a Decryption Secrets Block before the first
	 * packet (none when keylog_len is 0).
	 */
	const char *keylog;
	size_t keylog_len;
};

struct cap_ev_out {
	char *path;          /* SPOOL/pcaps/RUN_ID.pcapng, caller frees */
	uint64_t bytes;      /* file size */
	char sha256[65];     /* of the file's bytes, lower-case hex */
	uint64_t redacted;   /* captured payload bytes zeroed or cut */
	uint64_t layout_lost; /* TLS directions whose record layout was lost */
};

/*
 * Write the file (O_EXCL, mode 0600, fsynced) and fill *out (zeroed
 * first; release it with cap_ev_out_release() even on error).  0, or:
 * PE_INVAL (bad run_id, an interface index or comment frame out of
 * range, a frame cap_pcapw refuses), PE_PERM (SPOOL/pcaps too open, see
 * above), PE_IO (the file exists: the message names the path; any
 * directory or write error; a partial file is removed), PE_LIMIT,
 * PE_NOMEM.
 */
int cap_evidence_write(const struct cap_ev_in *in, struct cap_ev_out *out,
		       struct errbuf *err) PE_WARN_UNUSED;

/* Free what *out holds (path) and zero it. */
void cap_ev_out_release(struct cap_ev_out *out);

#endif
