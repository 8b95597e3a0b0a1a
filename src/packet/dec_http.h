/*
 * dec_http.h: the little the analyzer needs of cleartext HTTP/1 and of a
 * stream's first bytes: is this a TLS record or an HTTP/1 message, and
 * which status does a response's status line carry (1xx interim
 * responses are not the response: DESIGN section 5).
 */
#ifndef PROBE_PACKET_DEC_HTTP_H
#define PROBE_PACKET_DEC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dec_app { DEC_APP_UNKNOWN, DEC_APP_TLS, DEC_APP_HTTP1 };

/* What a client's first payload bytes start: a TLS handshake record
 * (type 22, version 3.x) or an HTTP/1 request line (an upper-case token
 * and a space). */
enum dec_app dec_app_guess(const uint8_t *data, size_t len);

/* The status code of an HTTP/1 status line at data ("HTTP/1.1 200 ..."),
 * or -1 when the bytes do not start one. */
int dec_http_status(const uint8_t *data, size_t len);

/*
 * HTTP/2 frames (RFC 9113 section 4.1) in decrypted TLS record bytes that
 * start at a frame boundary (a client's first may start with the
 * connection preface: *preface is then set).  Returns a mask of the frame
 * types seen, 1 << type (DEC_H2_*); frames cut at the end count.
 */
enum { DEC_H2_DATA = 0, DEC_H2_HEADERS = 1, DEC_H2_SETTINGS = 4,
       DEC_H2_PING = 6, DEC_H2_GOAWAY = 7, DEC_H2_WINDOW_UPDATE = 8 };
unsigned dec_h2_frames(const uint8_t *data, size_t len, bool *preface);

/* Does an HTTP/1 request line for method HEAD start data? */
bool dec_http_is_head_request(const uint8_t *data, size_t len);

/* An HTTP/1 response head, when it starts data. */
struct dec_http_head {
	int status;             /* -1: not a status line */
	bool complete;          /* the blank line ending the head is in data */
	size_t head_len;        /* bytes of the head, blank line included */
	int64_t content_length; /* -1: none (or chunked, or unreadable) */
	bool chunked;
};

/* Decode the head at data (status line, Content-Length and
 * Transfer-Encoding: chunked, the end of the head).  Never fails. */
void dec_http_head(const uint8_t *data, size_t len,
		   struct dec_http_head *out);

#endif
