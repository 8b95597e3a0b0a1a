/*
 * analyzer.h: the packets of a capture turned into the figures of DESIGN
 * section 5 and the findings of section 6.
 *
 * One analyzer reads frames in capture order (analyzer_packet), numbering
 * them itself from 1 (DESIGN section 6: for `probe analyze` the file's
 * frames, for a live run the run's packets in capture order).  It keeps:
 *   - TCP connections (flow.c: handshake, sequence analysis), each with
 *     an in-order reassembly of both directions, the TLS record layer of
 *     each (dec_tls.c) and the request/response exchanges found on it;
 *   - DNS queries and their answers (an_dns.c);
 *   - ICMP errors, tied to the connection or query they quote.
 * With opts.streaming a connection's results are handed to on_conn a
 * second (capture time) after it is over (RST, or FIN both ways and
 * acknowledged: its last ACKs still count), or once it has been silent for
 * two minutes, and then it is freed, so memory stays flat however long
 * the capture is; every other connection, and the DNS results, are handed
 * over by analyzer_finish().
 *
 * TLS records are classified (handshake, control, response) by the best
 * knowledge at hand, said by exchange quality:
 *   - live runs: the record order the run's own OpenSSL callback saw
 *     (struct an_tls_hint): the k-th record the client received is the
 *     k-th server record on the wire (FIELD-NOTES.md), its inner content
 *     type says ticket or data, and the record count at curl's first
 *     header callback of each response says which record carried it
 *     (quality measured);
 *   - otherwise an inference: TLS 1.3 records of the ticket burst that
 *     answers the client's Finished, and short records (HTTP/2 control
 *     frames) before the response are not the response (quality
 *     inferred).  Plaintext HTTP needs no inference.
 *
 * Every time is the capture's (CLOCK_REALTIME ns); figures are ms with µs
 * resolution.  Nothing here allocates per packet except out-of-order
 * segments held for reassembly (bounded per connection: AN_REASM_MAX).
 */
#ifndef PROBE_ANALYZE_ANALYZER_H
#define PROBE_ANALYZE_ANALYZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/run.h"
#include "packet/dec.h"
#include "packet/dec_tls_crypt.h"
#include "util/err.h"

#define AN_MAX_FLOWS_DEFAULT 100000
#define AN_REASM_MAX (256u * 1024) /* out-of-order bytes held per direction */
#define AN_MAX_EXCHANGES 1024      /* per connection; beyond: counted */
#define AN_MAX_FRAMES 64           /* frame numbers kept per finding */

/* What the run itself knows of one TLS connection (live runs). */
struct an_tls_hint {
	struct dec_addr cli, srv;
	uint16_t cport, sport;
	/* records the client received, in order: content type after
	 * decryption (TLS 1.3 inner type), first handshake type (0 none) */
	const uint8_t *in_type, *in_hs;
	size_t n_in;
	/* records the client sent, in order: type after decryption */
	const uint8_t *out_type;
	size_t n_out;
	/* per response (in order): records received when its first header
	 * line reached curl; 0 = unknown */
	const uint32_t *resp_mark;
	size_t n_marks;
};

/* One finding the packets prove. */
struct an_finding {
	const char *code;           /* "RETRANSMISSIONS": static text */
	char detail[256];
	uint64_t frames[AN_MAX_FRAMES];
	size_t n_frames;
	int exchange;               /* 0-based exchange it is about; -1 */
};

/* One exchange with the wire instants behind its figures. */
struct an_exchange {
	struct exchange_rec rec;    /* wire figures; library fields NULL */
	uint64_t req_frame;         /* the request's last byte, first copy */
	uint64_t ack_frame;         /* the segment that acknowledged it */
	uint64_t resp_frame;        /* the response's first byte */
	uint64_t last_frame;        /* its last byte */
	uint64_t req_ts_ns, resp_ts_ns;
	/* where the request counts as sent: the copy of its last byte that
	 * ttfb_wire_ms starts from (without a response: the first copy) */
	uint64_t sent_ts_ns;
	uint64_t resp_bytes;
	bool interim;               /* a 1xx came first (HTTP/1 cleartext) */
	/* cleartext HTTP/1: the body the head announced and what came */
	int64_t content_length;     /* -1: none, chunked or unknown */
	int64_t body_bytes;         /* -1: unknown */
	/* the last server segment before the response (after the request)
	 * and our ACK of it: NAGLE_STALL's evidence; 0 none */
	uint64_t pre_seg_frame, pre_seg_ts_ns, pre_seg_len;
	uint64_t pre_ack_frame, pre_ack_ts_ns;
};

/* A connection's results, handed to on_conn. */
struct an_conn {
	struct conn_rec rec;        /* source pcap; key 0 */
	bool tls;                   /* TLS records were seen */
	uint16_t tls_version;       /* selected (ServerHello), 0 unknown */
	bool hinted;                /* classified with an an_tls_hint */
	uint64_t first_frame, last_frame;
	uint64_t first_ts_ns, last_ts_ns;
	struct an_exchange *ex;
	size_t n_ex;
	struct an_finding *fi;
	size_t n_fi;
};

/* One DNS query (UDP or TCP) and its answer. */
struct an_dns {
	struct dec_addr cli, srv;
	uint16_t cport, sport;
	bool tcp;
	uint16_t id, qtype;
	char qname[256];
	uint64_t query_frame, answer_frame; /* 0: none */
	uint64_t try_frame[8];              /* every try's query (up to 8) */
	uint64_t query_ts_ns, answer_ts_ns;
	unsigned tries;                     /* queries sent (1 + retries) */
	int rcode;                          /* -1 no answer */
	bool tc;
	double ms;                          /* query (first) -> answer; NAN */
};

typedef void an_conn_cb(const struct an_conn *c, void *ctx);

struct an_opts {
	size_t max_flows;           /* 0: AN_MAX_FLOWS_DEFAULT */
	bool streaming;             /* emit and free connections when over */
	an_conn_cb *on_conn;        /* required */
	void *ctx;
	const struct an_tls_hint *hints;
	size_t n_hints;
	/* offline: a TLS key log to decrypt records with (classification
	 * then measured, not inferred); NULL none.  Caller-owned. */
	const struct dec_tls_keylog *keylog;
	/* ports DNS servers listen on (UDP and TCP); none: 53 */
	const uint16_t *dns_ports;
	size_t n_dns_ports;
};

struct analyzer;

struct analyzer *analyzer_new(const struct an_opts *o);
void analyzer_free(struct analyzer *a);

/* One frame (its number is the count of frames given so far). */
int analyzer_packet(struct analyzer *a, int linktype, const uint8_t *data,
		    uint32_t caplen, uint32_t len, uint64_t ts_ns)
	PE_WARN_UNUSED;

/* The same for a frame the caller has decoded already (from data of
 * caplen bytes, still valid during the call): each frame decoded once. */
int analyzer_decoded(struct analyzer *a, const struct dec_pkt *p,
		     uint32_t caplen, uint32_t len, uint64_t ts_ns)
	PE_WARN_UNUSED;

/* The end of the capture: every connection still held goes to on_conn. */
int analyzer_finish(struct analyzer *a) PE_WARN_UNUSED;

/* After finish: the DNS queries, in the order they were first sent. */
const struct an_dns *analyzer_dns(const struct analyzer *a, size_t *n);

/* Counts over the whole capture. */
struct an_counts {
	uint64_t frames, truncated, invalid; /* not decoded to a transport */
	uint64_t tcp, udp, icmp, other;
	uint64_t flows_overflow;             /* frames of untracked flows */
	uint64_t cut;                        /* caplen < len (snap length) */
	uint64_t exchanges_dropped;          /* beyond AN_MAX_EXCHANGES, or
						no memory for them */
};
void analyzer_counts(const struct analyzer *a, struct an_counts *out);

/*
 * After finish: the findings not about one connection: DNS_* per query,
 * and CAPTURE_TRUNCATED when frames were cut short of their wire length
 * (a snap length) -- the evidence itself is incomplete.
 */
size_t analyzer_findings(const struct analyzer *a, struct an_finding *out,
			 size_t max);

#endif
