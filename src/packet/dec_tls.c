/*
 * dec_tls.c: TLS records, RFC 8446 section 5.1 (and RFC 5246 6.2), with
 * the handshake layer of RFC 8446 section 4 (ClientHello 4.1.2,
 * ServerHello and HelloRetryRequest 4.1.3, extensions 4.2) and alerts (6).
 *
 *   record:     0        1        2        3        4
 *            +--------+--------+--------+--------+--------+---...
 *            |  type  | legacy_version  |     length      | fragment
 *            +--------+--------+--------+--------+--------+---...
 *   handshake:  msg_type(8) length(24) body
 *   ClientHello: legacy_version(16) random(256 bits) session_id<0..32>
 *                cipher_suites<2..2^16-2> compression<1..2^8-1>
 *                extensions<8..2^16-1>
 *   ServerHello: legacy_version(16) random(256 bits) session_id<0..32>
 *                cipher_suite(16) compression(8) extensions<6..2^16-1>
 *   extension:   type(16) length(16) data
 *   alert:       level(8) description(8)
 *
 * Stream handling and its heuristics are described in dec_tls.h.  Bytes
 * are buffered (header, first DEC_TLS_KEEP body bytes) and every field is
 * then read through a cursor over that buffer.
 */
#include "packet/dec_tls.h"

#include <string.h>

#define MAX_EXTENSIONS 128 /* extensions looked at per hello */
#define MAX_HS_WALK 64     /* handshake headers looked at per record */

/* SHA-256("HelloRetryRequest"), RFC 8446 4.1.3 */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

void dec_tls_stream_init(struct dec_tls_stream *s)
{
	memset(s, 0, sizeof(*s));
}

/* Copy n bytes as text, "\DDD" for bytes outside 0x21..0x7e. */
static void put_text(char *out, size_t cap, const uint8_t *b, size_t n)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char tmp[4];
		size_t w = 1;
		if (b[i] < 0x21 || b[i] > 0x7e || b[i] == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)('0' + b[i] / 100);
			tmp[2] = (char)('0' + (b[i] / 10) % 10);
			tmp[3] = (char)('0' + b[i] % 10);
			w = 4;
		} else {
			tmp[0] = (char)b[i];
		}
		if (cap - 1 - k < w)
			break;
		memcpy(out + k, tmp, w);
		k += w;
		out[k] = '\0';
	}
}

/* Opens a child cursor from a length prefix of lsize (1 or 2) bytes. */
static struct cur vec(struct cur *c, int lsize)
{
	size_t n = lsize == 1 ? cur_u8(c) : cur_be16(c);
	if (c->st == DEC_OK && !cur_has(c, n))
		cur_trunc(c);
	return cur_sub(c, n);
}

static void ext_sni(struct cur *e, struct dec_tls_client_hello *ch)
{
	struct cur l = vec(e, 2);
	while (l.st == DEC_OK && cur_left(&l) > 0) {
		uint8_t t = cur_u8(&l);
		struct cur name = vec(&l, 2);
		if (l.st != DEC_OK)
			break;
		if (t == 0 && ch->sni[0] == '\0') {
			size_t n = cur_left(&name);
			const uint8_t *b = cur_bytes(&name, n);
			if (b)
				put_text(ch->sni, sizeof(ch->sni), b, n);
		}
	}
	if (l.st != DEC_OK)
		cur_invalid(e);
}

static void ext_alpn(struct cur *e, char *out, size_t cap)
{
	struct cur l = vec(e, 2);
	struct cur p = vec(&l, 1);
	if (l.st != DEC_OK || cur_left(&p) == 0) {
		cur_invalid(e);
		return;
	}
	size_t n = cur_left(&p);
	const uint8_t *b = cur_bytes(&p, n);
	if (b)
		put_text(out, cap, b, n);
}

/*
 * Walk an extensions block.  Extensions are within a fully present
 * message, so a short extension is invalid, not truncated.
 */
static void hello_exts(struct cur *c, struct dec_tls_client_hello *ch,
		       struct dec_tls_server_hello *sh, bool *tls13)
{
	if (c->st != DEC_OK || cur_left(c) == 0)
		return; /* extensions are optional before TLS 1.3 */
	struct cur all = vec(c, 2);
	for (int i = 0; i < MAX_EXTENSIONS && all.st == DEC_OK &&
			cur_left(&all) > 0; i++) {
		uint16_t type = cur_be16(&all);
		struct cur e = vec(&all, 2);
		if (all.st != DEC_OK)
			break;
		switch (type) {
		case 0:
			if (ch)
				ext_sni(&e, ch);
			break;
		case 16:
			if (ch)
				ext_alpn(&e, ch->alpn, sizeof(ch->alpn));
			break;
		case 41:
			if (ch)
				ch->has_psk = true;
			break;
		case 42:
			if (ch)
				ch->has_early_data = true;
			break;
		case 43:
			if (ch) {
				struct cur v = vec(&e, 1);
				while (v.st == DEC_OK && cur_left(&v) >= 2) {
					uint16_t ver = cur_be16(&v);
					if (ver == 0x0304)
						*tls13 = true;
					if (ch->n_versions <
					    DEC_TLS_MAX_VERSIONS)
						ch->versions[ch->n_versions++] =
							ver;
				}
				if (v.st != DEC_OK || cur_left(&v) != 0)
					cur_invalid(&e);
			} else {
				sh->version = cur_be16(&e);
				if (sh->version == 0x0304)
					*tls13 = true;
			}
			break;
		default:
			break;
		}
		if (e.st != DEC_OK)
			cur_invalid(&all);
	}
	if (all.st != DEC_OK)
		cur_invalid(c);
}

static void client_hello(struct cur *c, struct dec_tls_client_hello *ch,
			 bool *tls13)
{
	ch->legacy_version = cur_be16(c);
	const uint8_t *rnd = cur_bytes(c, 32);
	if (rnd)
		memcpy(ch->random, rnd, 32);
	ch->session_id_len = cur_u8(c);
	if (c->st == DEC_OK && ch->session_id_len > 32) {
		cur_invalid(c);
		return;
	}
	cur_skip(c, ch->session_id_len);
	(void)vec(c, 2); /* cipher_suites */
	(void)vec(c, 1); /* legacy_compression_methods */
	hello_exts(c, ch, NULL, tls13);
}

static void server_hello(struct cur *c, struct dec_tls_server_hello *sh,
			 bool *tls13)
{
	sh->legacy_version = cur_be16(c);
	const uint8_t *rnd = cur_bytes(c, 32);
	if (rnd)
		memcpy(sh->random, rnd, 32);
	sh->is_hrr = rnd && memcmp(rnd, hrr_random, 32) == 0;
	if (sh->is_hrr)
		*tls13 = true;
	sh->session_id_len = cur_u8(c);
	if (c->st == DEC_OK && sh->session_id_len > 32) {
		cur_invalid(c);
		return;
	}
	cur_skip(c, sh->session_id_len);
	sh->cipher = cur_be16(c);
	(void)cur_u8(c); /* legacy_compression_method */
	hello_exts(c, NULL, sh, tls13);
	if (sh->version == 0)
		sh->version = sh->legacy_version;
}

/*
 * After a ChangeCipherSpec: does the record hold exactly one ClientHello
 * or ServerHello with legacy_version 0x0303 (TLS 1.3's hellos after an
 * HRR), rather than an encrypted TLS 1.2 Finished?
 */
static bool plaintext_hello(const struct dec_tls_stream *s)
{
	if (!s->saw_tls13 || s->body_len > DEC_TLS_KEEP)
		return false;
	struct cur c = cur_make(s->body, s->body_len);
	uint8_t t = cur_u8(&c);
	uint32_t hi = cur_u8(&c);
	uint32_t n = (hi << 16) | cur_be16(&c);
	uint16_t v = cur_be16(&c);
	return c.st == DEC_OK && (t == 1 || t == 2) && v == 0x0303 &&
	       n == s->body_len - 4;
}

static void handshake(struct dec_tls_stream *s, struct dec_tls_record *r)
{
	if (s->hs_lost) {
		r->hs_unknown = true;
		return;
	}
	uint32_t len = s->body_len;
	if (s->hs_cont >= len) { /* all of it continues an earlier message */
		s->hs_cont -= len;
		return;
	}
	size_t kept = len < DEC_TLS_KEEP ? len : DEC_TLS_KEEP;
	struct cur c = cur_make(s->body, kept);
	uint32_t pos = s->hs_cont; /* offset in the record */
	s->hs_cont = 0;
	cur_skip(&c, pos);
	for (int i = 0; pos < len; i++) {
		if (i == MAX_HS_WALK || !cur_has(&c, 4)) {
			/* past what we kept: boundaries are lost */
			r->hs_more = true;
			s->hs_lost = true;
			return;
		}
		uint8_t t = cur_u8(&c);
		uint32_t hi = cur_u8(&c);
		uint32_t n = (hi << 16) | cur_be16(&c);
		pos += 4;
		if (r->n_hs < DEC_TLS_MAX_HS)
			r->hs_types[r->n_hs++] = t;
		else
			r->hs_more = true;
		struct cur m = cur_sub(&c, n);
		if (len - pos < n) { /* continues in the next record(s) */
			s->hs_cont = n - (len - pos);
			pos = len;
		} else {
			pos += n;
		}
		bool whole = cur_left(&m) == n;
		if (t == 1 && !r->has_ch && !r->has_sh) {
			r->has_ch = true;
			client_hello(&m, &r->ch, &s->saw_tls13);
			r->hello_st = whole || m.st == DEC_INVALID ? m.st
								   : DEC_TRUNC;
		} else if (t == 2 && !r->has_ch && !r->has_sh) {
			r->has_sh = true;
			server_hello(&m, &r->sh, &s->saw_tls13);
			r->hello_st = whole || m.st == DEC_INVALID ? m.st
								   : DEC_TRUNC;
		}
	}
}

static void deliver(struct dec_tls_stream *s, uint64_t frame, uint64_t ts,
		    dec_tls_on_record *cb, void *ctx)
{
	struct dec_tls_record *r = &s->rec;
	r->last_frame = frame;
	r->last_ts_ns = ts;
	switch (r->type) {
	case DEC_TLS_APPDATA:
		r->encrypted = true;
		break;
	case DEC_TLS_ALERT:
		if (s->after_ccs && r->length != 2) {
			r->encrypted = true;
		} else {
			struct cur c = cur_make(s->body, s->body_len < 2
								 ? s->body_len
								 : 2);
			r->alert_level = cur_u8(&c);
			r->alert_desc = cur_u8(&c);
			r->has_alert = c.st == DEC_OK;
		}
		break;
	case DEC_TLS_HANDSHAKE:
		if (s->after_ccs && !plaintext_hello(s))
			r->encrypted = true;
		else
			handshake(s, r);
		break;
	default:
		break;
	}
	if (s->whole_ok) {
		r->whole = s->whole_buf;
		r->whole_len = DEC_TLS_HDR + (size_t)r->length;
	}
	s->records++;
	if (cb)
		cb(r, ctx);
	r->whole = NULL;
	r->whole_len = 0;
	s->whole_ok = false;
	if (r->type == DEC_TLS_CCS)
		s->after_ccs = true;
	s->hdr_have = 0;
}

static bool plausible_prefix(const uint8_t *h, size_t n)
{
	if (n >= 1 && (h[0] < 20 || h[0] > 24))
		return false;
	if (n >= 2 && h[1] != 3)
		return false;
	if (n >= 3 && (h[2] < 1 || h[2] > 4))
		return false;
	if (n >= 5) {
		uint32_t l = (uint32_t)h[3] << 8 | h[4];
		if (l < 1 || l > DEC_TLS_RESYNC_MAX_LEN)
			return false;
	}
	return true;
}

/* Drop the window's first byte (hunting). */
static void shift1(struct dec_tls_stream *s)
{
	memmove(s->hdr, s->hdr + 1, DEC_TLS_HDR - 1);
	memmove(s->hdr_frame, s->hdr_frame + 1,
		sizeof(s->hdr_frame[0]) * (DEC_TLS_HDR - 1));
	memmove(s->hdr_ts, s->hdr_ts + 1,
		sizeof(s->hdr_ts[0]) * (DEC_TLS_HDR - 1));
	s->hdr_have--;
	s->skipped++;
}

static void start_hunt(struct dec_tls_stream *s)
{
	s->hunting = true;
	s->resyncs++;
	s->hs_cont = 0;
	s->hs_lost = true;
}

/* A complete header is in s->hdr: accept it or start hunting. */
static void header_done(struct dec_tls_stream *s)
{
	struct cur c = cur_make(s->hdr, DEC_TLS_HDR);
	struct dec_tls_record *r = &s->rec;
	memset(r, 0, sizeof(*r));
	r->type = cur_u8(&c);
	r->version = cur_be16(&c);
	r->length = cur_be16(&c);
	r->first_frame = s->hdr_frame[0];
	r->first_ts_ns = s->hdr_ts[0];
	if (r->type < 20 || r->type > 24 || (r->version >> 8) != 3 ||
	    r->length > DEC_TLS_MAX_LEN) {
		s->invalid++;
		start_hunt(s);
		shift1(s); /* hunt from the header's second byte */
		while (s->hdr_have > 0 &&
		       !plausible_prefix(s->hdr, s->hdr_have))
			shift1(s);
		return;
	}
	s->body_len = r->length;
	s->body_have = 0;
	s->whole_ok = s->whole_buf &&
		      s->whole_cap >= DEC_TLS_HDR + (size_t)r->length;
	if (s->whole_ok)
		memcpy(s->whole_buf, s->hdr, DEC_TLS_HDR);
}

void dec_tls_stream_feed(struct dec_tls_stream *s, const uint8_t *data,
			 size_t len, uint64_t frame, uint64_t ts_ns,
			 dec_tls_on_record *on_record, void *ctx)
{
	struct cur in = cur_make(data, len);
	while (cur_left(&in) > 0) {
		if (s->hdr_have < DEC_TLS_HDR) {
			uint8_t b = cur_u8(&in);
			s->hdr[s->hdr_have] = b;
			s->hdr_frame[s->hdr_have] = frame;
			s->hdr_ts[s->hdr_have] = ts_ns;
			s->hdr_have++;
			if (s->hunting) {
				while (s->hdr_have > 0 &&
				       !plausible_prefix(s->hdr, s->hdr_have))
					shift1(s);
				if (s->hdr_have < DEC_TLS_HDR)
					continue;
				s->hunting = false;
				s->hs_lost = false; /* a message starts */
			} else if (s->hdr_have < DEC_TLS_HDR) {
				continue;
			}
			header_done(s);
			if (!s->hunting && s->body_len == 0)
				deliver(s, frame, ts_ns, on_record, ctx);
			continue;
		}
		/* body bytes */
		size_t want = s->body_len - s->body_have;
		size_t n = cur_left(&in) < want ? cur_left(&in) : want;
		const uint8_t *b = cur_bytes(&in, n);
		if (!b)
			break;
		/* only handshake and alert bodies are ever read (deliver);
		 * application data, most of the bytes, is not copied */
		if (s->body_have < DEC_TLS_KEEP &&
		    (s->rec.type == DEC_TLS_HANDSHAKE ||
		     s->rec.type == DEC_TLS_ALERT)) {
			size_t room = DEC_TLS_KEEP - s->body_have;
			memcpy(s->body + s->body_have, b, n < room ? n : room);
		}
		if (s->whole_ok)
			memcpy(s->whole_buf + DEC_TLS_HDR + s->body_have, b, n);
		s->body_have += (uint32_t)n;
		if (s->body_have == s->body_len)
			deliver(s, frame, ts_ns, on_record, ctx);
	}
}

void dec_tls_stream_keep_records(struct dec_tls_stream *s, uint8_t *buf,
				 size_t cap)
{
	s->whole_buf = buf;
	s->whole_cap = buf ? cap : 0;
	s->whole_ok = false;
}

void dec_tls_stream_end(struct dec_tls_stream *s)
{
	s->whole_ok = false;
	if (s->hdr_have > 0 && !s->hunting)
		s->truncated++;
	s->hdr_have = 0;
	s->body_have = 0;
	s->body_len = 0;
}

void dec_tls_stream_gap(struct dec_tls_stream *s)
{
	dec_tls_stream_end(s); /* the record cut by the gap is lost */
	start_hunt(s);
}
