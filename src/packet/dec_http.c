/*
 * dec_http.c: the first bytes of an application stream (dec_http.h).
 */
#include "packet/dec_http.h"

#include "packet/cursor.h"

#include <string.h>
#include <strings.h>

enum dec_app dec_app_guess(const uint8_t *data, size_t len)
{
	struct cur c = cur_make(data, len);
	uint8_t t = cur_u8(&c);
	uint8_t major = cur_u8(&c);
	if (c.st == DEC_OK && t == 22 && major == 3)
		return DEC_APP_TLS;
	c = cur_make(data, len);
	size_t n = 0;
	for (;;) {
		uint8_t b = cur_u8(&c);
		if (c.st != DEC_OK)
			return DEC_APP_UNKNOWN;
		if (b == ' ')
			return n >= 3 ? DEC_APP_HTTP1 : DEC_APP_UNKNOWN;
		if (b < 'A' || b > 'Z' || ++n > 16)
			return DEC_APP_UNKNOWN;
	}
}

int dec_http_status(const uint8_t *data, size_t len)
{
	static const char pfx[] = "HTTP/1.";
	struct cur c = cur_make(data, len);
	for (size_t i = 0; i + 1 < sizeof(pfx); i++)
		if (cur_u8(&c) != (uint8_t)pfx[i])
			return -1;
	(void)cur_u8(&c); /* minor version */
	if (cur_u8(&c) != ' ')
		return -1;
	int code = 0;
	for (int i = 0; i < 3; i++) {
		uint8_t d = cur_u8(&c);
		if (d < '0' || d > '9')
			return -1;
		code = code * 10 + (d - '0');
	}
	return c.st == DEC_OK && code >= 100 ? code : -1;
}

/* Does the header line [p, p + n) have this name (case-insensitive)?
 * *val: where its value starts (spaces skipped). */
static bool header_is(const uint8_t *p, size_t n, const char *name,
		      const uint8_t **val, size_t *vlen)
{
	size_t k = 0;
	while (name[k]) {
		if (k >= n)
			return false;
		uint8_t a = p[k], b = (uint8_t)name[k];
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a - 'A' + 'a');
		if (a != b)
			return false;
		k++;
	}
	if (k >= n || p[k] != ':')
		return false;
	k++;
	while (k < n && (p[k] == ' ' || p[k] == '\t'))
		k++;
	*val = p + k;
	*vlen = n - k;
	return true;
}

void dec_http_head(const uint8_t *data, size_t len, struct dec_http_head *out)
{
	out->status = dec_http_status(data, len);
	out->complete = false;
	out->head_len = 0;
	out->content_length = -1;
	out->chunked = false;
	if (out->status < 0)
		return;
	struct cur c = cur_make(data, len);
	const uint8_t *line = c.p;
	bool first = true;
	while (cur_left(&c) > 0) {
		uint8_t b = cur_u8(&c);
		if (b != '\n')
			continue;
		size_t n = (size_t)(c.p - line) - 1; /* without the LF */
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0 && !first) {
			out->complete = true;
			out->head_len = (size_t)(c.p - data);
			return;
		}
		const uint8_t *v;
		size_t vl;
		if (!first && header_is(line, n, "content-length", &v, &vl)) {
			int64_t x = 0;
			size_t i = 0;
			while (i < vl && v[i] >= '0' && v[i] <= '9' &&
			       x < (INT64_MAX - 9) / 10)
				x = x * 10 + (v[i++] - '0');
			out->content_length = i > 0 ? x : -1;
		} else if (!first &&
			   header_is(line, n, "transfer-encoding", &v, &vl) &&
			   vl >= 7 && strncasecmp((const char *)v + vl - 7,
						  "chunked", 7) == 0) {
			out->chunked = true;
		}
		first = false;
		line = c.p;
	}
}

bool dec_http_is_head_request(const uint8_t *data, size_t len)
{
	struct cur c = cur_make(data, len);
	return cur_u8(&c) == 'H' && cur_u8(&c) == 'E' && cur_u8(&c) == 'A' &&
	       cur_u8(&c) == 'D' && cur_u8(&c) == ' ';
}

unsigned dec_h2_frames(const uint8_t *data, size_t len, bool *preface)
{
	static const char pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct cur c = cur_make(data, len);
	*preface = false;
	if (len >= sizeof(pri) - 1 && memcmp(data, pri, sizeof(pri) - 1) == 0) {
		*preface = true;
		cur_skip(&c, sizeof(pri) - 1);
	}
	unsigned mask = 0;
	while (cur_left(&c) >= 9) {
		uint32_t flen = (uint32_t)cur_u8(&c) << 16;
		flen |= (uint32_t)cur_u8(&c) << 8;
		flen |= cur_u8(&c);
		uint8_t type = cur_u8(&c);
		cur_skip(&c, 5); /* flags, stream id */
		if (type < 16)
			mask |= 1u << type;
		if (flen >= cur_left(&c))
			break;
		cur_skip(&c, flen);
	}
	return mask;
}
