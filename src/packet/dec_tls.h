/*
 * dec_tls.h: the TLS record layer of one direction of a TCP connection
 * (RFC 8446 section 5.1, RFC 5246 section 6.2), with the plaintext
 * handshake messages that matter for timing: ClientHello, ServerHello
 * (HelloRetryRequest), and plaintext alerts.
 *
 * Records span and pack TCP segments, so the parser is a stream: feed it
 * the in-order bytes of one direction, segment by segment, with the frame
 * number and time of the segment; it calls on_record() once per complete
 * record.  Memory is bounded and caller-owned (struct dec_tls_stream is
 * embeddable, nothing is allocated): a partial record header, and the
 * first DEC_TLS_KEEP bytes of a handshake or alert record's body.
 *
 * Encryption (no keys here): type 23 records are encrypted.  After a
 * ChangeCipherSpec in this direction, handshake and alert records are
 * taken as encrypted (TLS 1.2's Finished) unless they look plaintext:
 * an alert of exactly 2 bytes, or, once TLS 1.3 was offered or selected
 * in this direction, a handshake record holding exactly one ClientHello or
 * ServerHello with legacy_version 0x0303 (TLS 1.3's second ClientHello
 * and real ServerHello after a HelloRetryRequest follow the compatibility
 * ChangeCipherSpec).
 *
 * Resynchronisation (after dec_tls_stream_gap() or an invalid header):
 * the partial record is dropped and the parser hunts, byte by byte, for a
 * plausible header: type 20..24, version 0x0301..0x0304, length
 * 1..2^14+256 (the TLSCiphertext limit of RFC 8446 5.2); the five bytes
 * may span feeds.  After an invalid header the hunt starts at its second
 * byte.  Ciphertext matches this by chance about once in 10^7 positions;
 * a false lock soon meets an invalid header and hunts again.  The first
 * record found is assumed to start a handshake message.  Handshake
 * message boundaries are also lost when a record holds a message header
 * past its first DEC_TLS_KEEP bytes: later handshake records of this
 * direction then say hs_unknown (until a resync).
 */
#ifndef PROBE_PACKET_DEC_TLS_H
#define PROBE_PACKET_DEC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet/cursor.h"

enum { DEC_TLS_CCS = 20, DEC_TLS_ALERT = 21, DEC_TLS_HANDSHAKE = 22,
       DEC_TLS_APPDATA = 23, DEC_TLS_HEARTBEAT = 24 };

#define DEC_TLS_HDR 5
#define DEC_TLS_MAX_LEN (16384 + 2048) /* longer length fields: invalid */
#define DEC_TLS_RESYNC_MAX_LEN (16384 + 256)
#define DEC_TLS_KEEP 2048       /* body bytes kept of handshake records */
#define DEC_TLS_MAX_HS 8        /* handshake types listed per record */
#define DEC_TLS_MAX_VERSIONS 8  /* supported_versions kept */
#define DEC_TLS_NAME_MAX 255    /* SNI / ALPN text kept (+ NUL) */

struct dec_tls_client_hello {
	uint16_t legacy_version;
	uint8_t random[32]; /* keys a key log (dec_tls_crypt.h) */
	uint8_t session_id_len;
	/* host_name of server_name (RFC 6066), "\DDD" for odd bytes */
	char sni[DEC_TLS_NAME_MAX + 1];
	char alpn[DEC_TLS_NAME_MAX + 1]; /* the first protocol offered */
	uint8_t n_versions;              /* supported_versions, in order */
	uint16_t versions[DEC_TLS_MAX_VERSIONS];
	bool has_psk, has_early_data;
};

struct dec_tls_server_hello {
	uint16_t legacy_version;
	uint16_t version;   /* supported_versions' selection, else legacy */
	uint16_t cipher;
	uint8_t random[32];
	uint8_t session_id_len;
	bool is_hrr;        /* random = the RFC 8446 4.1.3 HRR value */
};

struct dec_tls_record {
	uint8_t type;       /* DEC_TLS_CCS .. DEC_TLS_HEARTBEAT */
	uint16_t version;   /* legacy_record_version */
	uint16_t length;
	uint64_t first_frame, last_frame; /* frames of its first/last byte */
	uint64_t first_ts_ns, last_ts_ns;
	bool encrypted;     /* contents not parsed (see above) */
	/* plaintext handshake records */
	uint8_t n_hs;       /* message headers in this record, <= MAX_HS */
	uint8_t hs_types[DEC_TLS_MAX_HS];
	bool hs_more;       /* more headers than listed, or past DEC_TLS_KEEP */
	bool hs_unknown;    /* message boundaries lost (gap): nothing listed */
	bool has_ch, has_sh;
	enum dec_status hello_st; /* parsing the hello: TRUNC = cut at KEEP */
	struct dec_tls_client_hello ch;
	struct dec_tls_server_hello sh;
	/* plaintext alerts */
	bool has_alert;
	uint8_t alert_level, alert_desc;
	/*
	 * With dec_tls_stream_keep_records(): the whole record, header and
	 * body, borrowed until the callback returns (for dec_tls_crypt.h).
	 * NULL when no buffer was given or the record did not fit in it.
	 */
	const uint8_t *whole;
	size_t whole_len;
};

struct dec_tls_stream {
	/* counters */
	uint64_t records;   /* complete records delivered */
	uint64_t invalid;   /* invalid headers (each starts a resync) */
	uint64_t truncated; /* partial records dropped at a gap or the end */
	uint64_t resyncs;   /* hunts started (gap or invalid header) */
	uint64_t skipped;   /* bytes discarded while hunting */
	/* state (private) */
	bool hunting;
	bool after_ccs;
	bool saw_tls13;
	bool hs_lost;
	uint32_t hs_cont;   /* bytes of a handshake message still to come */
	uint8_t hdr_have;
	uint8_t hdr[DEC_TLS_HDR];
	uint64_t hdr_frame[DEC_TLS_HDR], hdr_ts[DEC_TLS_HDR];
	uint32_t body_len, body_have;
	uint8_t body[DEC_TLS_KEEP];
	uint8_t *whole_buf; /* dec_tls_stream_keep_records(), caller-owned */
	size_t whole_cap;
	bool whole_ok;      /* the current record is being kept whole */
	struct dec_tls_record rec;
};

typedef void dec_tls_on_record(const struct dec_tls_record *r, void *ctx);

void dec_tls_stream_init(struct dec_tls_stream *s);

/*
 * Optional: keep every record whole in buf (caller-owned, cap >=
 * DEC_TLS_HDR + DEC_TLS_MAX_LEN to fit any valid record) so on_record()
 * sees r->whole.  Records are only delivered complete: a record cut by a
 * gap is dropped (counted in `truncated`), as without a buffer.  Call
 * after dec_tls_stream_init(); buf must outlive the stream's feeds.
 */
void dec_tls_stream_keep_records(struct dec_tls_stream *s, uint8_t *buf,
				 size_t cap);

/* In-order bytes of this direction from the segment of frame/ts_ns. */
void dec_tls_stream_feed(struct dec_tls_stream *s, const uint8_t *data,
			 size_t len, uint64_t frame, uint64_t ts_ns,
			 dec_tls_on_record *on_record, void *ctx);

/* Bytes were lost before the next feed: drop the partial record, hunt. */
void dec_tls_stream_gap(struct dec_tls_stream *s);

/* The stream ended (FIN/RST/end of capture): count a partial record. */
void dec_tls_stream_end(struct dec_tls_stream *s);

#endif
