/*
 * an_conn.c: one TCP connection, byte by byte: in-order reassembly of both
 * directions, the TLS record layer on top, and the request/response
 * exchanges of DESIGN section 5 (request_ack_ms, ack_pattern,
 * ttfb_wire_ms, think_ms, transfer_ms).
 *
 * Streams are tracked by offset (0 = the byte after the SYN): a segment's
 * new bytes are delivered in order; a segment from beyond a hole is held
 * (a copy, AN_REASM_MAX bytes per direction) until the hole fills, which
 * is how a lost segment's later retransmission still lands in the right
 * place; past the bound the hole is given up on (the TLS parser then
 * resynchronises).  Headers-only frames (a capture ring past its cap)
 * deliver their offsets without bytes.
 *
 * Exchanges: client application bytes (TLS application-data records, or
 * cleartext payload) open a request while no server bytes have come since
 * it started; the first server bytes classified AN_U_RESPONSE start its
 * response; the next client application bytes after that close it.
 * Server bytes in between that are not the response (tickets, HTTP/2
 * control frames, a 100 Continue) make the ack pattern `control` when
 * they carried the request's ACK.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/an_internal.h"
#include "packet/dec_http.h"
#include "packet/dec_tls_crypt.h"

/* ms between two capture instants (signed), µs resolution */
double an__ms(uint64_t from_ns, uint64_t to_ns)
{
	double d = ((double)to_ns - (double)from_ns) / 1e6;
	return round(d * 1000.0) / 1000.0;
}

/* Stream offset of a sequence number, the nearest to what we know. */
static uint64_t unwrap(const struct an_dir *d, uint32_t seq)
{
	uint32_t ref = d->base + (uint32_t)d->next;
	int32_t delta = (int32_t)(seq - ref);
	if (delta < 0 && (uint64_t)(-(int64_t)delta) > d->next)
		return 0;
	return (uint64_t)((int64_t)d->next + delta);
}

struct an_cstate *an__conn_new(struct flow *f, const struct an_tls_hint *h,
				const struct dec_tls_keylog *kl)
{
	struct an_cstate *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->f = f;
	c->hint = h;
	c->keylog = h ? NULL : kl; /* the run's own order beats decryption */
	c->ack_rtt_min = NAN;
	dec_tls_stream_init(&c->c2s.tls);
	dec_tls_stream_init(&c->s2c.tls);
	return c;
}

static void dir_release(struct an_dir *d)
{
	while (d->held) {
		struct an_seg *s = d->held;
		d->held = s->next;
		free(s);
	}
	d->held_bytes = 0;
}

void an__conn_free(struct an_cstate *c)
{
	if (!c)
		return;
	dir_release(&c->c2s);
	dir_release(&c->s2c);
	for (int i = 0; i < 2; i++) {
		dec_tls_decrypt_free(c->dx[i]);
		free(c->whole[i]);
	}
	for (size_t i = 0; i < c->n_ex; i++)
		exchange_rec_release(&c->ex[i].rec);
	free(c->ex);
	free(c);
}

/* ---- exchanges ----------------------------------------------------- */

/*
 * The RTT behind an exchange's think time (DESIGN section 5): the
 * handshake's for the first exchange; on a reused connection the
 * smallest bare ACK of fresh client data, unless that is a delayed ACK
 * (AN_DELACK_MIN_MS more than the handshake's RTT: then the handshake's).
 * Without a handshake in the capture, the smallest bare ACK as it is.
 */
#define AN_DELACK_MIN_MS 20.0
static double exchange_rtt(const struct an_cstate *c)
{
	double hs = c->f->rtt_ms, ack = c->ack_rtt_min;
	if (c->n_ex == 0 && !isnan(hs))
		return hs;
	if (!isnan(ack) && (isnan(hs) || ack <= hs + AN_DELACK_MIN_MS))
		return ack;
	return !isnan(hs) ? hs : ack;
}

/* Which transmission of the request's last byte the server answered. */
static const struct an_tx *answered_tx(const struct an_x *x, double rtt,
				       bool *measured)
{
	*measured = true;
	if (x->n_tx <= 1)
		return &x->tx[0];
	if (x->ack_frame && x->ack_has_ts) {
		for (unsigned i = x->n_tx; i-- > 0;)
			if (x->tx[i].has_ts && x->tx[i].tsval == x->ack_tsecr)
				return &x->tx[i];
	}
	/* no timestamps: the last copy that could have been answered */
	*measured = false;
	const struct an_tx *best = &x->tx[0];
	for (unsigned i = 1; i < x->n_tx; i++) {
		double lim = isnan(rtt) ? 0 : rtt / 2;
		if (!x->ack_frame ||
		    an__ms(x->tx[i].ts_ns, x->ack_ts_ns) >= lim)
			best = &x->tx[i];
	}
	return best;
}

static void close_exchange(struct an_cstate *c)
{
	struct an_x *x = &c->cur;
	enum an_xstate was = c->xs;
	c->xs = AN_X_IDLE;
	if (was == AN_X_IDLE || x->req_end == 0 || x->n_tx == 0)
		return;
	if (c->n_ex >= AN_MAX_EXCHANGES) {
		c->ex_overflow++;
		return;
	}
	if (c->n_ex == c->cap_ex) {
		size_t ncap = c->cap_ex ? c->cap_ex * 2 : 4;
		struct an_exchange *n = realloc(c->ex, ncap * sizeof(*n));
		if (!n) {
			c->ex_overflow++; /* reported in an_counts */
			return;
		}
		c->ex = n;
		c->cap_ex = ncap;
	}
	double rtt = exchange_rtt(c);
	struct an_exchange *e = &c->ex[c->n_ex];
	memset(e, 0, sizeof(*e));
	exchange_rec_init(&e->rec);
	struct exchange_rec *r = &e->rec;
	r->idx = (int64_t)c->n_ex + 1;
	r->source = RUN_SOURCE_PCAP;
	e->req_frame = x->tx[0].frame;
	e->req_ts_ns = x->tx[0].ts_ns;
	e->sent_ts_ns = x->tx[0].ts_ns;
	e->ack_frame = x->ack_frame;
	e->resp_frame = x->resp_frame;
	e->last_frame = x->last_frame;
	e->resp_ts_ns = x->resp_ts_ns;
	e->resp_bytes = x->resp_bytes;
	e->interim = x->interim;
	e->content_length = x->content_length;
	e->body_bytes = x->head_len && x->resp_bytes >= x->head_len
				? (int64_t)(x->resp_bytes - x->head_len)
				: -1;
	if (x->status > 0)
		r->status = x->status;
	if (x->req_head)
		e->content_length = -1; /* a HEAD response has no body */
	r->rtt_ms = rtt;
	e->pre_seg_frame = x->pre_seg_frame;
	e->pre_seg_ts_ns = x->pre_seg_ts;
	e->pre_seg_len = x->pre_seg_len;
	e->pre_ack_frame = x->pre_ack_frame;
	e->pre_ack_ts_ns = x->pre_ack_ts;
	if (x->ack_frame) {
		r->request_ack_ms = an__ms(x->tx[0].ts_ns, x->ack_ts_ns);
		if (x->resp_frame && x->ack_frame == x->resp_frame)
			r->ack_pattern = RUN_ACK_PIGGYBACKED;
		else if (x->ack_payload)
			r->ack_pattern = RUN_ACK_CONTROL;
		else
			r->ack_pattern = RUN_ACK_SEPARATE;
		double extra = r->request_ack_ms - rtt;
		r->server_delayed_ack =
			r->ack_pattern == RUN_ACK_SEPARATE && !x->req_retrans &&
			!isnan(rtt) && extra >= 30.0 && extra <= 250.0;
	} else {
		r->ack_pattern = RUN_ACK_UNKNOWN;
	}
	if (x->resp_frame) {
		bool measured;
		const struct an_tx *t = answered_tx(x, rtt, &measured);
		bool exact = measured && (!c->c2s.tls.records || c->hint ||
					  c->decrypted);
		/* the server could answer only once every request byte was
		 * in: a retransmission of earlier bytes after the last
		 * byte's copy starts the clock then */
		uint64_t from = t->ts_ns;
		if (x->fill_frame && x->fill_ts > from &&
		    (!x->ack_frame || x->fill_ts <= x->ack_ts_ns))
			from = x->fill_ts;
		r->ttfb_wire_ms = an__ms(from, x->resp_ts_ns);
		e->sent_ts_ns = from;
		r->ttfb_wire_quality = exact ? RUN_QUALITY_MEASURED
					     : RUN_QUALITY_INFERRED;
		if (!isnan(rtt)) {
			double th = r->ttfb_wire_ms - rtt;
			if (th < -0.5) {
				r->think_quality = RUN_QUALITY_INCONSISTENT;
			} else {
				r->think_ms = round(th * 1000.0) / 1000.0;
				r->think_quality = r->ttfb_wire_quality;
			}
		}
		r->transfer_ms = an__ms(x->resp_ts_ns, x->last_ts_ns);
		if (r->transfer_ms > 0)
			r->goodput_kbps = round((double)x->resp_bytes * 8.0 /
						r->transfer_ms * 10.0) / 10.0;
	}
	c->n_ex++;
}

static void client_app(struct an_cstate *c, uint64_t start, uint64_t end,
		       uint64_t frame, uint64_t ts_ns, bool has_ts,
		       uint32_t tsval)
{
	if (c->xs == AN_X_IDLE || c->xs == AN_X_RESP) {
		close_exchange(c);
		memset(&c->cur, 0, sizeof(c->cur));
		c->cur.req_first_frame = frame;
		c->cur.req_start = start;
		c->cur.status = -1;
		c->cur.content_length = -1;
		c->xs = AN_X_REQ;
	}
	if (c->xs != AN_X_REQ && c->xs != AN_X_WAIT)
		return;
	/* more of the request after server bytes that were not the
	 * response (an HTTP/2 HEADERS after the server's SETTINGS, a body
	 * after 100 Continue): the request ends later */
	c->xs = AN_X_REQ;
	struct an_x *x = &c->cur;
	x->req_end = end;
	x->tx[0] = (struct an_tx){ frame, ts_ns, tsval, has_ts };
	x->n_tx = 1;
	x->req_retrans = false;
	x->ack_frame = 0; /* the request grew: an earlier ACK was partial */
}

static void server_bytes(struct an_cstate *c, enum an_unit u, uint64_t ff,
			 uint64_t fts, uint64_t lf, uint64_t lts,
			 uint64_t bytes)
{
	struct an_x *x = &c->cur;
	switch (c->xs) {
	case AN_X_REQ:
	case AN_X_WAIT:
		if (u != AN_U_RESPONSE) {
			c->xs = AN_X_WAIT;
			return;
		}
		x->resp_frame = ff;
		x->resp_ts_ns = fts;
		x->last_frame = lf;
		x->last_ts_ns = lts;
		x->resp_bytes = bytes;
		if (c->s_last_frame && c->s_last_frame > x->tx[0].frame &&
		    c->s_last_frame < ff) {
			x->pre_seg_frame = c->s_last_frame;
			x->pre_seg_ts = c->s_last_ts;
			x->pre_seg_len = c->s_last_len;
			x->pre_ack_frame = c->c_ack_frame;
			x->pre_ack_ts = c->c_ack_ts;
		}
		c->xs = AN_X_RESP;
		return;
	case AN_X_RESP:
		if (u == AN_U_RESPONSE) {
			x->last_frame = lf;
			x->last_ts_ns = lts;
			x->resp_bytes += bytes;
		}
		return;
	case AN_X_IDLE:
		return;
	}
}

/* ---- TLS records --------------------------------------------------------- */

struct rec_ctx {
	struct an_cstate *c;
	bool c2s;
	bool has_ts;
	uint32_t tsval;
};

/* Does r arrive within the server's answer to the client's Finished
 * (one RTT, plus a quarter of it or 2 ms)? */
static bool in_fin_window(const struct an_cstate *c,
			  const struct dec_tls_record *r)
{
	double rtt = c->f->rtt_ms;
	double win = isnan(rtt) ? 5.0 : rtt + (rtt / 4 > 2.0 ? rtt / 4 : 2.0);
	return c->client_fin_done && an__ms(c->cfin_ts, r->first_ts_ns) <= win;
}

/* The inferred ticket burst (no hint): see analyzer.h. */
static bool looks_ticket(struct an_cstate *c, const struct dec_tls_record *r)
{
	if (!c->client_fin_done || c->n_ex > 0 || c->burst_n >= 4)
		return false;
	if (!in_fin_window(c, r))
		return false;
	if (r->length < 100 || r->length > 700)
		return false;
	if (c->burst_n && r->length != c->burst_len)
		return false;
	c->burst_n++;
	c->burst_len = r->length;
	return true;
}

static enum an_unit server_record_unit(struct an_cstate *c,
				       const struct dec_tls_record *r,
				       uint64_t k)
{
	const struct an_tls_hint *h = c->hint;
	bool in_x = c->xs != AN_X_IDLE;
	if (h && k < h->n_in) {
		switch (h->in_type[k]) {
		case 23: {
			/* exchange j's response: the record received last when
			 * its first header line reached curl */
			size_t j = c->n_ex; /* the open exchange's index */
			if (c->xs == AN_X_RESP)
				return AN_U_RESPONSE;
			if (j < h->n_marks && h->resp_mark[j] > 0 &&
			    k + 1 < h->resp_mark[j])
				return AN_U_CONTROL;
			return AN_U_RESPONSE;
		}
		case 21:
			if (!c->tls_alert) {
				c->tls_alert = true;
				c->alert_from_server = true;
				c->alert_frame = r->first_frame;
				c->alert_level = 0; /* encrypted: unknown */
			}
			return AN_U_CONTROL;
		default:
			return in_x ? AN_U_CONTROL : AN_U_HANDSHAKE;
		}
	}
	if (r->type == DEC_TLS_APPDATA ||
	    (r->encrypted && r->type == DEC_TLS_HANDSHAKE)) {
		if (c->tls_version == 0x0304 && !c->client_fin_done)
			return AN_U_HANDSHAKE; /* the server's encrypted flight */
		if (r->type == DEC_TLS_HANDSHAKE)
			return AN_U_HANDSHAKE; /* TLS 1.2 Finished */
		if (c->xs == AN_X_RESP)
			return AN_U_RESPONSE;
		if (c->tls_version == 0x0304 && looks_ticket(c, r))
			return AN_U_CONTROL;
		/* an HTTP/2 server's SETTINGS comes first, unasked, with the
		 * answer to our Finished; a response that early would mean a
		 * server with no think time at all */
		if (c->offered_h2 && !c->h2_settings && in_fin_window(c, r)) {
			c->h2_settings = true;
			return AN_U_CONTROL;
		}
		if (c->offered_h2 && r->length <= 64)
			return AN_U_CONTROL; /* SETTINGS, WINDOW_UPDATE, PING */
		return AN_U_RESPONSE;
	}
	return in_x ? AN_U_CONTROL : AN_U_HANDSHAKE;
}

/*
 * Is the client's k-th record (application data on the wire) part of a
 * request?  With the run's record order: when its inner type is 23.
 * (HTTP/2 control frames are application data to OpenSSL too: see
 * AN_H2_MIN_REQ.)  Otherwise TLS 1.3 records shorter than
 * AN_TLS13_MIN_REQ are an alert (close_notify: 2 bytes + type + 16-byte
 * tag = 19) or an HTTP/2 control frame, never a request (the smallest
 * HEADERS frame makes 9 + 1 + 17).
 */
#define AN_TLS13_MIN_REQ 27
/* HTTP/2 control frames the client sends (SETTINGS ACK, WINDOW_UPDATE,
 * PING, RST_STREAM) make records under 40 bytes; a HEADERS frame with a
 * request's pseudo-headers does not */
#define AN_H2_MIN_REQ 40
static bool client_request_record(const struct an_cstate *c,
				  const struct dec_tls_record *r, uint64_t k)
{
	const struct an_tls_hint *h = c->hint;
	if (c->offered_h2 && r->length < AN_H2_MIN_REQ)
		return false;
	if (h && k < h->n_out)
		return h->out_type[k] == 23;
	return c->tls_version != 0x0304 || r->length >= AN_TLS13_MIN_REQ;
}

/*
 * Decrypt a record with the key log: 1 and *inner (and the HTTP/2 frame
 * types in it, *h2mask) when it authenticates; 0 when there is no
 * decryptor or it failed (then it is dropped: the sequence is lost).
 */
static int decrypt(struct an_cstate *c, bool c2s,
		   const struct dec_tls_record *r, uint8_t *inner,
		   unsigned *h2mask, uint8_t *alert)
{
	struct dec_tls_decrypt **dx = &c->dx[c2s ? 0 : 1];
	if (!*dx || !r->encrypted || r->type == DEC_TLS_CCS || !r->whole)
		return 0;
	static uint8_t pt[DEC_TLS_MAX_LEN];
	size_t n = sizeof(pt);
	if (dec_tls_decrypt_record(*dx, r->whole, r->whole_len, inner, pt,
				   &n) != 1) {
		dec_tls_decrypt_free(*dx);
		*dx = NULL;
		return 0;
	}
	bool preface = false;
	*h2mask = *inner == DEC_TLS_APPDATA ? dec_h2_frames(pt, n, &preface)
					    : 0;
	if (preface)
		c->h2 = true;
	alert[0] = n > 0 ? pt[0] : 0;
	alert[1] = n > 1 ? pt[1] : 0;
	c->decrypted = true;
	return 1;
}

/* The hellos are in: set up decryption of both directions. */
static void decrypt_setup(struct an_cstate *c)
{
	if (!c->keylog || !c->have_cr || !c->whole[0])
		return;
	enum dec_tls_why why;
	struct errbuf err;
	for (int i = 0; i < 2; i++)
		c->dx[i] = dec_tls_decrypt_new(c->keylog, c->cr, c->sr,
					       c->tls_version, c->cipher,
					       i == 1, &why, &err);
}

/* A decrypted record's class (see server_record_unit for the rest). */
static enum an_unit decrypted_unit(struct an_cstate *c, uint8_t inner,
				   unsigned h2, const uint8_t *alert,
				   const struct dec_tls_record *r)
{
	switch (inner) {
	case DEC_TLS_APPDATA:
		if (!c->h2 || (h2 & (1u << DEC_H2_HEADERS)))
			return AN_U_RESPONSE;
		if (c->xs == AN_X_RESP && (h2 & (1u << DEC_H2_DATA)))
			return AN_U_RESPONSE;
		return AN_U_CONTROL;
	case DEC_TLS_ALERT:
		if (!c->tls_alert) {
			c->tls_alert = true;
			c->alert_from_server = true;
			c->alert_frame = r->first_frame;
			c->alert_level = alert[0];
			c->alert_desc = alert[1];
		}
		return AN_U_CONTROL;
	default:
		return c->client_fin_done ? AN_U_CONTROL : AN_U_HANDSHAKE;
	}
}

static void on_record(const struct dec_tls_record *r, void *vctx)
{
	struct rec_ctx *rc = vctx;
	struct an_cstate *c = rc->c;
	struct an_dir *d = rc->c2s ? &c->c2s : &c->s2c;
	uint64_t k = d->records++;
	d->rec_end += DEC_TLS_HDR + (uint64_t)r->length;
	uint8_t inner = 0, alert[2] = { 0, 0 };
	unsigned h2 = 0;
	bool dec = decrypt(c, rc->c2s, r, &inner, &h2, alert) == 1;
	if (r->has_alert && !c->tls_alert) {
		c->tls_alert = true;
		c->alert_from_server = !rc->c2s;
		c->alert_frame = r->first_frame;
		c->alert_level = r->alert_level;
		c->alert_desc = r->alert_desc;
	}
	if (rc->c2s) {
		if (r->has_ch) {
			c->saw_ch = true;
			c->ch_frame = r->last_frame;
			c->ch_ts = r->last_ts_ns;
			c->offered_h2 = strcmp(r->ch.alpn, "h2") == 0;
			memcpy(c->cr, r->ch.random, sizeof(c->cr));
			c->have_cr = true;
			return;
		}
		if (dec) {
			if (inner == DEC_TLS_HANDSHAKE && !c->client_fin_done) {
				c->client_fin_done = true; /* its Finished */
				c->cfin_ts = r->last_ts_ns;
			}
			if (inner == DEC_TLS_ALERT && !c->tls_alert) {
				c->tls_alert = true;
				c->alert_from_server = false;
				c->alert_frame = r->first_frame;
				c->alert_level = alert[0];
				c->alert_desc = alert[1];
			}
			bool request = inner == DEC_TLS_APPDATA &&
				       (!c->h2 || (h2 & (1u << DEC_H2_HEADERS)));
			if (request) {
				uint64_t end = d->gaps || d->tls.resyncs
						       ? d->next
						       : d->rec_end;
				client_app(c, end - DEC_TLS_HDR - r->length,
					   end, r->last_frame, r->last_ts_ns,
					   rc->has_ts, rc->tsval);
			}
			return;
		}
		if (r->type == DEC_TLS_APPDATA && c->tls_version == 0x0304 &&
		    !c->client_fin_done) {
			c->client_fin_done = true; /* its encrypted Finished */
			c->cfin_ts = r->last_ts_ns;
			return;
		}
		if (r->type == DEC_TLS_HANDSHAKE && r->encrypted &&
		    !c->client_fin_done) {
			c->client_fin_done = true; /* TLS 1.2 Finished */
			c->cfin_ts = r->last_ts_ns;
			return;
		}
		if (r->type == DEC_TLS_APPDATA && !client_request_record(c, r, k))
			return;
		if (r->type == DEC_TLS_APPDATA) {
			/* where the record ends: by record lengths while the
			 * stream has had no hole, else the segment's end */
			uint64_t end = d->gaps || d->tls.resyncs ? d->next
								 : d->rec_end;
			client_app(c, end - DEC_TLS_HDR - r->length, end,
				   r->last_frame, r->last_ts_ns, rc->has_ts,
				   rc->tsval);
		}
		return;
	}
	if (r->has_sh) {
		if (r->sh.is_hrr) {
			c->hrr = true;
		} else if (!c->saw_sh) {
			c->saw_sh = true;
			c->sh_frame = r->first_frame;
			c->sh_ts = r->first_ts_ns;
			c->tls_version = r->sh.version;
			c->cipher = r->sh.cipher;
			memcpy(c->sr, r->sh.random, sizeof(c->sr));
			decrypt_setup(c);
		}
	}
	enum an_unit u = dec ? decrypted_unit(c, inner, h2, alert, r)
			     : server_record_unit(c, r, k);
	server_bytes(c, u, r->first_frame, r->first_ts_ns, r->last_frame,
		     r->last_ts_ns, DEC_TLS_HDR + (uint64_t)r->length);
}

/* ---- delivery ------------------------------------------------------------ */

static void deliver(struct an_cstate *c, bool c2s, const uint8_t *data,
		    uint32_t len, uint64_t off, uint64_t frame, uint64_t ts,
		    bool has_ts, uint32_t tsval)
{
	struct an_dir *d = c2s ? &c->c2s : &c->s2c;
	if (c->app == DEC_APP_UNKNOWN && c2s && off == 0 && data) {
		c->app = dec_app_guess(data, len);
		if (c->app == DEC_APP_TLS && c->keylog) {
			/* whole records, to decrypt them */
			for (int i = 0; i < 2; i++) {
				c->whole[i] = malloc(DEC_TLS_HDR +
						     DEC_TLS_MAX_LEN);
				if (c->whole[i])
					dec_tls_stream_keep_records(
						i ? &c->s2c.tls : &c->c2s.tls,
						c->whole[i],
						DEC_TLS_HDR + DEC_TLS_MAX_LEN);
			}
		}
	}
	if (c->app == DEC_APP_TLS) {
		struct rec_ctx rc = { c, c2s, has_ts, tsval };
		if (!data)
			dec_tls_stream_gap(&d->tls);
		else
			dec_tls_stream_feed(&d->tls, data, len, frame, ts,
					    on_record, &rc);
		return;
	}
	if (c2s) {
		bool fresh = c->xs == AN_X_IDLE || c->xs == AN_X_RESP;
		client_app(c, off, off + len, frame, ts, has_ts, tsval);
		if (fresh && data)
			c->cur.req_head = dec_http_is_head_request(data, len);
		return;
	}
	enum an_unit u = AN_U_RESPONSE;
	if (data && c->xs != AN_X_RESP) {
		struct dec_http_head h;
		dec_http_head(data, len, &h);
		if (h.status >= 100 && h.status < 200) {
			u = AN_U_CONTROL;
			c->cur.interim = true;
		} else if (h.status >= 200) {
			c->cur.status = h.status;
			c->cur.content_length =
				h.chunked ? -1 : h.content_length;
			c->cur.head_len = h.complete ? h.head_len : 0;
		}
	}
	server_bytes(c, u, frame, ts, frame, ts, len);
}

static void drain_held(struct an_cstate *c, bool c2s)
{
	struct an_dir *d = c2s ? &c->c2s : &c->s2c;
	while (d->held && d->held->off <= d->next) {
		struct an_seg *s = d->held;
		d->held = s->next;
		d->held_bytes -= s->len;
		if (s->off + s->len > d->next) {
			uint64_t skip = d->next - s->off;
			d->next = s->off + s->len;
			deliver(c, c2s, s->data + skip, (uint32_t)(s->len - skip),
				s->off + skip, s->frame, s->ts_ns, false, 0);
		}
		free(s);
	}
}

/* Hold a segment from beyond a hole; false when over the bound. */
static bool hold(struct an_dir *d, const uint8_t *data, uint32_t len,
		 uint64_t off, uint64_t frame, uint64_t ts)
{
	if (d->held_bytes + len > AN_REASM_MAX)
		return false;
	struct an_seg *s = malloc(sizeof(*s) + len);
	if (!s)
		return false;
	s->off = off;
	s->len = len;
	s->frame = frame;
	s->ts_ns = ts;
	memcpy(s->data, data, len);
	struct an_seg **pp = &d->held;
	while (*pp && (*pp)->off <= off)
		pp = &(*pp)->next;
	s->next = *pp;
	*pp = s;
	d->held_bytes += len;
	return true;
}

/* Give up on the hole before the first held segment (or before off). */
static void skip_hole(struct an_cstate *c, bool c2s, uint64_t to)
{
	struct an_dir *d = c2s ? &c->c2s : &c->s2c;
	if (d->held && d->held->off < to)
		to = d->held->off;
	if (to <= d->next)
		return;
	d->gaps += to - d->next;
	d->next = to;
	if (c->app == DEC_APP_TLS)
		dec_tls_stream_gap(&d->tls);
}

static void payload(struct an_cstate *c, const struct dec_pkt *p, bool c2s,
		    uint32_t claimed, uint64_t frame, uint64_t ts)
{
	struct an_dir *d = c2s ? &c->c2s : &c->s2c;
	uint64_t off = unwrap(d, p->tcp.seq);
	uint64_t end = off + claimed;
	bool whole = p->payload && p->payload_len >= claimed;
	bool has_ts = p->tcp.has_ts;
	uint32_t tsval = p->tcp.ts_val;

	/* a retransmission of earlier request bytes (not the last one's) */
	if (c2s && c->xs != AN_X_IDLE && c->cur.req_end && end <= d->next &&
	    off >= c->cur.req_start && end < c->cur.req_end &&
	    !c->cur.ack_frame) {
		c->cur.fill_frame = frame;
		c->cur.fill_ts = ts;
	}
	/* a further transmission of the request's last byte */
	if (c2s && c->xs != AN_X_IDLE && c->cur.req_end &&
	    off < c->cur.req_end && c->cur.req_end <= end &&
	    c->cur.req_end <= d->next && c->cur.n_tx < AN_MAX_TX &&
	    !(c->cur.ack_frame && c->xs == AN_X_RESP)) {
		c->cur.tx[c->cur.n_tx++] =
			(struct an_tx){ frame, ts, tsval, has_ts };
		c->cur.req_retrans = true;
	}
	if (end <= d->next)
		return; /* nothing new */
	if (off > d->next) {
		if (whole && hold(d, p->payload, claimed, off, frame, ts))
			return;
		skip_hole(c, c2s, off);
	}
	uint64_t skip = d->next > off ? d->next - off : 0;
	d->next = end;
	deliver(c, c2s, whole ? p->payload + skip : NULL,
		(uint32_t)(claimed - skip), off + skip, frame, ts, has_ts,
		tsval);
	drain_held(c, c2s);
}

int an__conn_segment(struct an_cstate *c, const struct dec_pkt *p,
		     const struct flow_pkt *info, uint64_t frame, uint64_t ts)
{
	bool c2s = info->c2s;
	struct an_dir *d = c2s ? &c->c2s : &c->s2c;
	struct an_dir *o = c2s ? &c->s2c : &c->c2s;
	const struct dec_tcp *t = &p->tcp;
	uint32_t claimed = p->payload_claimed;
	if (p->st != DEC_OK && p->st_layer == DEC_L_TCP)
		claimed = claimed > t->hdr_len ? claimed - t->hdr_len : 0;
	if (t->flags & DEC_TH_SYN) {
		d->have_base = true;
		d->base = t->seq + 1;
		d->next = 0;
		return 0;
	}
	if (!d->have_base && claimed) {
		d->have_base = true;
		d->base = t->seq;
	}
	bool ack = (t->flags & DEC_TH_ACK) && o->have_base;
	uint64_t ack_off = ack ? unwrap(o, t->ack) : 0;
	int side = c2s ? 0 : 1;
	if (ack && ack_off > c->max_ack[!side])
		c->max_ack[!side] = ack_off;
	if (info->seq.retrans && !info->seq.fast_retrans &&
	    !isnan(info->seq.retrans_gap_ms) &&
	    info->seq.retrans_gap_ms >= AN_RTO_MIN_MS) {
		/* a timeout's retransmission: RTO_SPIKE evidence (the 3 RTT
		 * margin is applied when the RTT is known, in an_find.c) */
		if (c->rto_n[side] < AN_MAX_TX)
			c->rto_frame[side][c->rto_n[side]] = frame;
		c->rto_n[side]++;
		if (info->seq.retrans_gap_ms > c->rto_gap_ms[side])
			c->rto_gap_ms[side] = info->seq.retrans_gap_ms;
	}
	if (info->seq.retrans && claimed > AN_BIG_SEG && d->have_base) {
		if (c->big_rtx[side] < AN_MAX_TX)
			c->big_rtx_frame[side][c->big_rtx[side]] = frame;
		c->big_rtx[side]++;
		uint64_t end = unwrap(d, t->seq) + claimed;
		if (end > c->big_rtx_end[side])
			c->big_rtx_end[side] = end;
	}

	if (!c2s && ack) {
		struct an_x *x = &c->cur;
		if (c->xs != AN_X_IDLE && x->req_end && !x->ack_frame &&
		    ack_off >= x->req_end) {
			x->ack_frame = frame;
			x->ack_ts_ns = ts;
			x->ack_has_ts = t->has_ts;
			x->ack_tsecr = t->ts_ecr;
			x->ack_payload = claimed > 0;
		}
		/* a bare ACK of fresh client data: an RTT sample */
		if (claimed == 0 && c->last_c2s_data_end &&
		    ack_off >= c->last_c2s_data_end) {
			double s = an__ms(c->last_c2s_data_ts, ts);
			if (isnan(c->ack_rtt_min) || s < c->ack_rtt_min)
				c->ack_rtt_min = s;
			c->last_c2s_data_end = 0;
		}
	}
	if (c2s && ack && c->s_last_end && !c->c_ack_frame &&
	    ack_off >= c->s_last_end) {
		c->c_ack_frame = frame;
		c->c_ack_ts = ts;
	}
	if (claimed == 0 || !d->have_base)
		return 0;
	if (c2s) {
		uint64_t off = unwrap(d, t->seq);
		if (off + claimed > d->next) {
			c->last_c2s_data_end = off + claimed;
			c->last_c2s_data_ts = ts;
		} else {
			c->last_c2s_data_end = 0; /* a retransmission: Karn */
		}
	}
	payload(c, p, c2s, claimed, frame, ts);
	if (!c2s) {
		c->s_last_frame = frame;
		c->s_last_ts = ts;
		c->s_last_len = claimed;
		c->s_last_end = unwrap(d, t->seq) + claimed;
		c->c_ack_frame = 0;
	}
	return 0;
}

/* ---- results ------------------------------------------------------- */

static char *addr_text(const struct dec_addr *a)
{
	char buf[64];
	return strdup(dec_addr_str(a, buf, sizeof(buf)));
}

int an__conn_result(struct an_cstate *c, struct an_conn *out)
{
	memset(out, 0, sizeof(*out));
	close_exchange(c);
	const struct flow *f = c->f;
	struct conn_rec *r = &out->rec;
	conn_rec_init(r);
	r->family = f->cli.family == 6 ? RUN_FAMILY_IPV6 : RUN_FAMILY_IPV4;
	r->src_addr = addr_text(&f->cli);
	r->dst_addr = addr_text(&f->srv);
	if (!r->src_addr || !r->dst_addr) {
		conn_rec_release(r);
		return PE_NOMEM;
	}
	r->src_port = f->cport;
	r->dst_port = f->sport;
	r->source = RUN_SOURCE_PCAP;
	r->syn_retrans = f->n_syn ? (int64_t)f->syn_retrans : RUN_NULL_INT;
	if (f->rtt_quality == FLOW_Q_MEASURED) {
		r->rtt_ms = round(f->rtt_ms * 1000.0) / 1000.0;
		r->rtt_quality = RUN_QUALITY_MEASURED;
	} else if (f->rtt_quality == FLOW_Q_AMBIGUOUS) {
		r->rtt_quality = RUN_QUALITY_AMBIGUOUS;
	} else if (!isnan(c->ack_rtt_min)) {
		r->rtt_ms = c->ack_rtt_min;
		r->rtt_quality = RUN_QUALITY_MEASURED;
	}
	if (c->saw_ch && c->saw_sh && !isnan(r->rtt_ms)) {
		double v = an__ms(c->ch_ts, c->sh_ts) - r->rtt_ms;
		if (v < -0.5) {
			r->tls_server_quality = RUN_QUALITY_INCONSISTENT;
		} else {
			r->tls_server_ms = round(v * 1000.0) / 1000.0;
			r->tls_server_quality = RUN_QUALITY_MEASURED;
		}
	}
	if (c->saw_sh)
		r->hrr = c->hrr;
	r->bytes_out = (int64_t)f->c2s.bytes;
	r->bytes_in = (int64_t)f->s2c.bytes;
	r->retrans = (int64_t)(f->c2s.retrans + f->s2c.retrans);
	r->dup_acks = (int64_t)(f->c2s.dup_acks + f->s2c.dup_acks);
	r->zero_window = (int64_t)(f->c2s.zero_window + f->s2c.zero_window);
	r->out_of_order =
		(int64_t)(f->c2s.out_of_order + f->s2c.out_of_order);
	r->lost_in = (int64_t)f->s2c.lost_segment;
	r->rst = f->rst == FLOW_RST_CLIENT   ? RUN_RST_CLIENT
		 : f->rst == FLOW_RST_SERVER ? RUN_RST_SERVER
					     : RUN_RST_NULL;
	if (f->rst != FLOW_RST_NONE)
		r->rst_at_ms = an__ms(f->first_ts_ns, f->rst_ts_ns);
	if (c->n_icmp) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%u/%u", c->icmp_type[0],
			 c->icmp_code[0]);
		r->icmp = strdup(buf);
	}
	if (f->s2c.mss >= 0)
		r->mss = f->s2c.mss;
	if (f->s2c.wscale >= 0)
		r->wscale = f->s2c.wscale;
	if (f->synack_frame)
		r->sack = f->c2s.sack_perm && f->s2c.sack_perm;
	out->tls = c->c2s.tls.records > 0;
	out->tls_version = c->tls_version;
	out->hinted = c->hint != NULL;
	out->first_frame = f->first_frame;
	out->last_frame = f->last_frame;
	out->first_ts_ns = f->first_ts_ns;
	out->last_ts_ns = f->last_ts_ns;
	/* the exchanges move to the result */
	out->ex = c->ex;
	out->n_ex = c->n_ex;
	c->ex = NULL;
	c->n_ex = c->cap_ex = 0;
	int ret = an__find_conn(c, out);
	if (ret < 0)
		an__result_release(out);
	return ret;
}

void an__result_release(struct an_conn *out)
{
	conn_rec_release(&out->rec);
	for (size_t i = 0; i < out->n_ex; i++)
		exchange_rec_release(&out->ex[i].rec);
	free(out->ex);
	free(out->fi);
	memset(out, 0, sizeof(*out));
}
