/*
 * pbtlsdec: decrypt the TLS records of a capture with src/packet/
 * (dec_packet, dec_tls_stream in whole-record mode, dec_tls_crypt) and an
 * NSS key log, and print one line per record, for
 * tests/integration/0650-tls-decrypt-vs-tshark.sh to compare with
 *
 *   tshark -r F -o tls.keylog_file:K -T fields -e frame.number
 *     -e tls.record.content_type -e http2.type
 *
 * Usage: pbtlsdec KEYLOG FILE.  Output, tab-separated, per record in the
 * order the records complete:
 *
 *   frame dir conn type h2
 *
 * frame: the frame of the record's last byte; dir: c (client to server)
 * or s; conn: the connection's index (0, 1, ... in order of first
 * packet); type: a plaintext record's type, an encrypted record's inner
 * content type (TLS 1.3) or outer type (TLS 1.2), or "?" when it did not
 * decrypt; h2: on an HTTP/2 connection (the client's first application
 * data is the connection preface), the types of the HTTP/2 frames that
 * end in this record, comma-separated, else empty.
 *
 * Simple on purpose: each direction's bytes are taken in TCP sequence
 * order as captured (retransmitted bytes skipped, a hole is a gap);
 * the capture is read twice, the first pass only to learn which
 * connections are HTTP/2 (the server's SETTINGS may precede the client's
 * preface in the capture).  The last line on stderr counts records,
 * encrypted ones and failures; the exit code is 1 when any failed.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "packet/dec.h"
#include "packet/dec_tls.h"
#include "packet/dec_tls_crypt.h"
#include "tool_slurp.h"

#define MAX_CONNS 256
#define PT_CAP (DEC_TLS_MAX_LEN)

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct h2_parse {
	uint32_t skip;      /* preface bytes still to skip */
	uint8_t hdr[9];
	uint8_t hdr_have;
	uint32_t rem;       /* payload bytes of the current frame left */
	uint8_t type;
};

struct dir {
	struct dec_tls_stream ts;
	uint8_t whole[DEC_TLS_HDR + DEC_TLS_MAX_LEN];
	uint32_t next_seq;
	bool have_seq;
	struct dec_tls_decrypt *d;
	bool app_seen;
	struct h2_parse h2;
};

struct conn {
	struct dec_addr ca, sa;
	uint16_t cp, sp;
	uint8_t cr[32];
	bool have_cr;
	struct dir dir[2];
};

struct run {
	int pass;
	struct dec_tls_keylog *kl;
	struct conn *c[MAX_CONNS];
	size_t n;
	bool is_h2[MAX_CONNS];
	uint64_t records, encrypted, failed, no_keys;
	uint8_t pt[PT_CAP];
};

struct rec_ctx {
	struct run *run;
	size_t ci;
	int d;
};

static bool addr_eq(const struct dec_addr *a, const struct dec_addr *b)
{
	return a->family == b->family && memcmp(a->a, b->a, 16) == 0;
}

/* HTTP/2 frames (RFC 9113 4.1) ending in these bytes, into out. */
static void h2_feed(struct h2_parse *h, const uint8_t *p, size_t n,
		    char *out, size_t cap)
{
	size_t k = strlen(out);
	while (n > 0) {
		if (h->skip > 0) {
			size_t m = n < h->skip ? n : h->skip;
			h->skip -= (uint32_t)m;
			p += m;
			n -= m;
			continue;
		}
		if (h->rem > 0) {
			size_t m = n < h->rem ? n : h->rem;
			h->rem -= (uint32_t)m;
			p += m;
			n -= m;
			if (h->rem == 0)
				k += (size_t)snprintf(out + k, cap - k, "%s%u",
						      k ? "," : "", h->type);
			continue;
		}
		h->hdr[h->hdr_have++] = *p++;
		n--;
		if (h->hdr_have < 9)
			continue;
		h->hdr_have = 0;
		h->rem = (uint32_t)h->hdr[0] << 16 | (uint32_t)h->hdr[1] << 8 |
			 h->hdr[2];
		h->type = h->hdr[3];
		if (h->rem == 0)
			k += (size_t)snprintf(out + k, cap - k, "%s%u",
					      k ? "," : "", h->type);
		if (k >= cap)
			k = cap - 1;
	}
}

static void on_record(const struct dec_tls_record *r, void *arg)
{
	struct rec_ctx *x = arg;
	struct run *run = x->run;
	struct conn *c = run->c[x->ci];
	struct dir *dr = &c->dir[x->d];
	char type[8], h2[256] = "";
	snprintf(type, sizeof(type), "%u", r->type);
	if (r->has_ch && x->d == 0) {
		memcpy(c->cr, r->ch.random, 32);
		c->have_cr = true;
	}
	if (r->has_sh && !r->sh.is_hrr && x->d == 1 && c->have_cr) {
		for (int i = 0; i < 2; i++) {
			struct errbuf err = { "" };
			dec_tls_decrypt_free(c->dir[i].d);
			c->dir[i].d = dec_tls_decrypt_new(
				run->kl, c->cr, r->sh.random, r->sh.version,
				r->sh.cipher, i == 1, NULL, &err);
			if (!c->dir[i].d && run->pass == 2)
				fprintf(stderr, "pbtlsdec: conn %zu: %s\n",
					x->ci, err.msg);
		}
	}
	if (r->encrypted) {
		run->encrypted += run->pass == 2;
		size_t pt_len = sizeof(run->pt);
		uint8_t inner = 0;
		int rc = dr->d && r->whole
				 ? dec_tls_decrypt_record(dr->d, r->whole,
							  r->whole_len, &inner,
							  run->pt, &pt_len)
				 : 0;
		if (rc != 1) {
			snprintf(type, sizeof(type), "?");
			run->failed += run->pass == 2;
			run->no_keys += run->pass == 2 && !dr->d;
		} else {
			snprintf(type, sizeof(type), "%u", inner);
			if (inner == DEC_TLS_APPDATA && !dr->app_seen) {
				dr->app_seen = true;
				if (x->d == 0 && pt_len >= 24 &&
				    memcmp(run->pt, h2_preface, 24) == 0) {
					run->is_h2[x->ci] = true;
				}
				dr->h2.skip = x->d == 0 ? 24 : 0;
			}
			if (inner == DEC_TLS_APPDATA && run->is_h2[x->ci])
				h2_feed(&dr->h2, run->pt, pt_len, h2,
					sizeof(h2));
		}
	}
	if (run->pass == 2) {
		run->records++;
		printf("%" PRIu64 "\t%c\t%zu\t%s\t%s\n", r->last_frame,
		       x->d ? 's' : 'c', x->ci, type, h2);
	}
}

static struct conn *conn_get(struct run *run, const struct dec_pkt *p,
			     size_t *ci, int *d)
{
	for (size_t i = 0; i < run->n; i++) {
		struct conn *c = run->c[i];
		if (c->cp == p->sport && c->sp == p->dport &&
		    addr_eq(&c->ca, &p->ip.src) && addr_eq(&c->sa, &p->ip.dst)) {
			*ci = i;
			*d = 0;
			return c;
		}
		if (c->sp == p->sport && c->cp == p->dport &&
		    addr_eq(&c->sa, &p->ip.src) && addr_eq(&c->ca, &p->ip.dst)) {
			*ci = i;
			*d = 1;
			return c;
		}
	}
	/* only a SYN starts a connection: who sent it is the client */
	if (run->n == MAX_CONNS || !(p->tcp.flags & 0x02) ||
	    (p->tcp.flags & 0x10))
		return NULL;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ca = p->ip.src;
	c->sa = p->ip.dst;
	c->cp = p->sport;
	c->sp = p->dport;
	for (int i = 0; i < 2; i++) {
		dec_tls_stream_init(&c->dir[i].ts);
		dec_tls_stream_keep_records(&c->dir[i].ts, c->dir[i].whole,
					    sizeof(c->dir[i].whole));
	}
	*ci = run->n;
	*d = 0;
	run->c[run->n++] = c;
	return c;
}

static void tcp_packet(struct run *run, const struct dec_pkt *p,
		       uint64_t frame, uint64_t ts)
{
	size_t ci;
	int d;
	struct conn *c = conn_get(run, p, &ci, &d);
	if (!c)
		return;
	struct dir *dr = &c->dir[d];
	uint32_t seq = p->tcp.seq;
	if (p->tcp.flags & 0x02) { /* SYN */
		dr->next_seq = seq + 1;
		dr->have_seq = true;
		return;
	}
	uint32_t len = p->payload_len;
	if (len == 0 || p->payload_len != p->payload_claimed)
		return;
	if (!dr->have_seq) {
		dr->next_seq = seq;
		dr->have_seq = true;
	}
	const uint8_t *data = p->payload;
	int32_t off = (int32_t)(dr->next_seq - seq);
	if (off > 0) { /* retransmitted bytes */
		if ((uint32_t)off >= len)
			return;
		data += off;
		len -= (uint32_t)off;
	} else if (off < 0) {
		dec_tls_stream_gap(&dr->ts);
	}
	struct rec_ctx x = { run, ci, d };
	dec_tls_stream_feed(&dr->ts, data, len, frame, ts, on_record, &x);
	dr->next_seq = seq + (uint32_t)(p->payload_len);
}

static int pass(struct run *run, const char *file)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
		file, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!pc) {
		fprintf(stderr, "pbtlsdec: %s\n", eb);
		return 2;
	}
	int link = pcap_datalink(pc);
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t frame = 0;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		struct dec_pkt p;
		frame++;
		dec_packet(link, data, h->caplen, h->len, &p);
		if (p.l4 != DEC_L_TCP || p.st != DEC_OK)
			continue;
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u +
			      (uint64_t)h->ts.tv_usec;
		tcp_packet(run, &p, frame, ts);
	}
	if (rc == -1)
		fprintf(stderr, "pbtlsdec: %s\n", pcap_geterr(pc));
	pcap_close(pc);
	for (size_t i = 0; i < run->n; i++) {
		for (int k = 0; k < 2; k++)
			dec_tls_decrypt_free(run->c[i]->dir[k].d);
		free(run->c[i]);
	}
	run->n = 0;
	return rc == -1 ? 2 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: pbtlsdec KEYLOG FILE\n");
		return 2;
	}
	size_t klen = 0;
	char *text = slurp(argv[1], &klen);
	if (!text) {
		fprintf(stderr, "pbtlsdec: cannot read %s\n", argv[1]);
		return 2;
	}
	struct errbuf err = { "" };
	static struct run run;
	run.kl = dec_tls_keylog_parse(text, klen, &err);
	free(text);
	if (!run.kl) {
		fprintf(stderr, "pbtlsdec: %s\n", err.msg);
		return 2;
	}
	int rc = 0;
	for (run.pass = 1; run.pass <= 2 && rc == 0; run.pass++)
		rc = pass(&run, argv[2]);
	struct dec_tls_keylog_stats st;
	dec_tls_keylog_stats(run.kl, &st);
	dec_tls_keylog_free(run.kl);
	fprintf(stderr,
		"pbtlsdec: records %" PRIu64 " encrypted %" PRIu64
		" failed %" PRIu64 " (no keys %" PRIu64 ") keylog %zu/%zu bad\n",
		run.records, run.encrypted, run.failed, run.no_keys,
		st.entries, st.bad);
	if (rc)
		return rc;
	return run.failed ? 1 : 0;
}
