/*
 * an_internal.h: what the analyzer's files share (analyzer.c drives,
 * an_conn.c follows one connection, an_dns.c the DNS queries, an_find.c
 * turns results into findings).
 */
#ifndef PROBE_ANALYZE_AN_INTERNAL_H
#define PROBE_ANALYZE_AN_INTERNAL_H

#include "analyze/analyzer.h"
#include "analyze/flow.h"
#include "packet/dec_tls.h"
#include "packet/dec_tls_crypt.h"

#define AN_MAX_TX 8       /* transmissions of a request's last byte kept */
#define AN_MAX_ICMP 8     /* ICMP errors kept per connection */
#define AN_BIG_SEG 1000   /* MTU_BLACKHOLE: a segment above this is large */
#define AN_RTO_MIN_MS 200.0 /* RTO_SPIKE: Linux's minimum RTO */
#define AN_IDLE_NS (120ull * 1000000000ull) /* streaming: idle -> over */
#define AN_SWEEP_NS 1000000000ull
#define AN_CLOSED_KEEP_NS 1000000000ull /* a closed connection is kept 1 s
					  * (capture time) for its last ACKs */

/* An out-of-order segment held until the gap before it fills. */
struct an_seg {
	struct an_seg *next;
	uint64_t off;
	uint32_t len;
	uint64_t frame, ts_ns;
	uint8_t data[];
};

/* Kinds of server bytes, for the exchange machine. */
enum an_unit {
	AN_U_HANDSHAKE,   /* TLS handshake before the request (or CCS) */
	AN_U_CONTROL,     /* not the response: tickets, HTTP/2 control, 1xx */
	AN_U_RESPONSE,    /* bytes of the final response */
};

/* One direction of a connection's byte stream. */
struct an_dir {
	bool have_base;
	uint32_t base;            /* sequence number of stream offset 0 */
	uint64_t next;            /* stream offset delivered up to */
	struct an_seg *held;      /* sorted by off */
	size_t held_bytes;
	uint64_t gaps;            /* bytes never seen (given up on) */
	struct dec_tls_stream tls;
	uint64_t records;         /* complete TLS records */
	uint64_t rec_end;         /* stream offset after the last record */
};

/* A transmission of a request's last byte. */
struct an_tx {
	uint64_t frame, ts_ns;
	uint32_t tsval;
	bool has_ts;
};

enum an_xstate { AN_X_IDLE, AN_X_REQ, AN_X_WAIT, AN_X_RESP };

/* One exchange being followed. */
struct an_x {
	uint64_t req_first_frame;
	uint64_t req_start;       /* client stream offset of its first byte */
	uint64_t req_end;         /* client stream offset after its last byte */
	/* the latest retransmission of earlier request bytes (a hole the
	 * server waited for before it could answer) */
	uint64_t fill_frame, fill_ts;
	struct an_tx tx[AN_MAX_TX];
	unsigned n_tx;
	uint64_t ack_frame, ack_ts_ns;
	uint32_t ack_tsecr;
	bool ack_has_ts, ack_payload;
	uint64_t resp_frame, resp_ts_ns, last_frame, last_ts_ns;
	uint64_t resp_bytes;
	bool interim;
	bool req_retrans;         /* the last byte was sent more than once */
	bool req_head;            /* cleartext: a HEAD request (no body) */
	int status;               /* cleartext: the final status; -1 */
	int64_t content_length;   /* cleartext: -1 none or chunked */
	uint64_t head_len;        /* cleartext: the head's bytes; 0 unknown */
	/* the last server segment before the response and our ACK of it
	 * (NAGLE_STALL evidence) */
	uint64_t pre_seg_frame, pre_seg_ts, pre_seg_len;
	uint64_t pre_ack_frame, pre_ack_ts;
};

/* Per connection state: struct flow's user pointer. */
struct an_cstate {
	struct flow *f;
	struct an_cstate *prev, *next;  /* the analyzer's live list */
	struct an_cstate *cnext;        /* the closed queue (oldest first) */
	bool closed;
	uint64_t closed_ts;
	const struct an_tls_hint *hint;
	const struct dec_tls_keylog *keylog; /* offline secrets, or NULL */
	/* decryption (keylog): whole records, a decryptor per direction
	 * ([0] c2s, [1] s2c), the hellos' randoms */
	uint8_t *whole[2];
	struct dec_tls_decrypt *dx[2];
	uint8_t cr[32], sr[32];
	bool have_cr, decrypted, h2;
	uint16_t cipher;
	int app;                  /* enum dec_app of the client's first bytes */
	struct an_dir c2s, s2c;
	uint16_t tls_version;
	bool offered_h2;
	bool saw_ch, saw_sh, hrr;
	uint64_t ch_frame, ch_ts, sh_frame, sh_ts;
	bool client_fin_done;     /* TLS 1.3: the client's Finished went */
	uint64_t cfin_ts;
	bool h2_settings;         /* inferred: the server's SETTINGS seen */
	uint64_t burst_len;       /* inferred ticket burst: its record length */
	unsigned burst_n;
	bool tls_alert;
	uint8_t alert_level, alert_desc;
	uint64_t alert_frame;
	bool alert_from_server;
	/* exchanges */
	enum an_xstate xs;
	struct an_x cur;
	struct an_exchange *ex;
	size_t n_ex, cap_ex;
	uint64_t ex_overflow;
	/* timeout retransmissions (RTO_SPIKE evidence), per direction */
	unsigned rto_n[2];
	uint64_t rto_frame[2][AN_MAX_TX];
	double rto_gap_ms[2];     /* the largest gap among them */
	/* min RTT of bare immediate ACKs of client data (reused conns) */
	double ack_rtt_min;
	uint64_t last_c2s_data_ts, last_c2s_data_end;
	/* last server data segment, and our ACK covering it */
	uint64_t s_last_frame, s_last_ts, s_last_len, s_last_end;
	uint64_t c_ack_frame, c_ack_ts;
	/* large segments retransmitted (MTU_BLACKHOLE evidence), per
	 * direction [0] c2s [1] s2c, and the highest ACK each side sent */
	unsigned big_rtx[2];
	uint64_t big_rtx_frame[2][AN_MAX_TX];
	uint64_t big_rtx_end[2];
	uint64_t max_ack[2];      /* [0] ACKs of c2s bytes, [1] of s2c */
	/* ICMP errors about this connection */
	uint64_t icmp_frame[AN_MAX_ICMP];
	uint8_t icmp_type[AN_MAX_ICMP], icmp_code[AN_MAX_ICMP], icmp_ver;
	uint32_t icmp_mtu;
	unsigned n_icmp;
};

/* an_conn.c */
struct an_cstate *an__conn_new(struct flow *f, const struct an_tls_hint *h,
				const struct dec_tls_keylog *kl);
void an__conn_free(struct an_cstate *c);
int an__conn_segment(struct an_cstate *c, const struct dec_pkt *p,
		     const struct flow_pkt *info, uint64_t frame,
		     uint64_t ts_ns);
/* Build the connection's results (exchanges closed); caller frees with
 * an__result_release. */
int an__conn_result(struct an_cstate *c, struct an_conn *out);
void an__result_release(struct an_conn *out);

/* an_find.c: findings of one connection's results */
int an__find_conn(const struct an_cstate *c, struct an_conn *out);
int an__finding_add(struct an_conn *out, const char *code, int exchange,
		    const uint64_t *frames, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* an_dns.c */
struct an_dns_table {
	struct an_dns *v;
	size_t n, cap;
	uint64_t overflow;
};
void an__dns_packet(struct an_dns_table *t, const struct dec_pkt *p,
		    uint64_t frame, uint64_t ts_ns);
void an__dns_release(struct an_dns_table *t);

/* time difference in ms, µs resolution */
double an__ms(uint64_t from_ns, uint64_t to_ns);

#endif
