/*
 * pbgen: a synthetic capture of many concurrent TCP connections, for
 * bench/analyzer (issue 10: the analyzer's throughput against tshark and
 * libpcap, and how its time and memory grow with packets and flows).
 *
 *   pbgen --packets N --flows F [--seed S] OUT.pcap
 *
 * Writes N frames (pcap, nanosecond timestamps, Ethernet) seen from the
 * clients' side: F TCP connections at every moment, interleaved in time.
 * Each connection: an optional DNS lookup over UDP first (A or AAAA,
 * sometimes retried once), a handshake with MSS, SACK-permitted,
 * timestamps and window scale (sometimes a SYN sent again); then, on
 * port 443 (most connections), a TLS 1.3-looking exchange of record
 * headers (ClientHello, ServerHello + ChangeCipherSpec + the encrypted
 * flight, the client's CCS + Finished, a burst of two session tickets),
 * or cleartext HTTP/1.1 on port 80; then request/response exchanges
 * (keep-alive: 1 + geometric, mean 4), each response sent in flights
 * that grow like slow start; closed by FIN both ways, or a RST.
 * Faults, per connection's own random stream:
 *   - a server segment lost before the capture point (5% of flights'
 *     segments, one hole per flight): the client's duplicate ACKs with a
 *     SACK block, then the retransmission (fast: after 3 duplicates,
 *     else a tail-loss probe two RTTs on);
 *   - a request's last segment sent again after an RTO (1%);
 *   - a server segment sent twice (0.4% of flights): a spurious
 *     retransmission and a duplicate ACK;
 *   - a SYN sent again after 1 s (0.5%).
 * When a connection closes, a new one starts (new client port) so the
 * concurrency stays F.  Sequence and acknowledgment numbers, TSval/TSecr
 * and IP/TCP/UDP checksums are consistent, so the file reads as real
 * connections to probe analyze and to tshark alike.
 *
 * Deterministic: the same S, F and N give the same bytes; and the file of
 * N frames is the first N frames of any larger N's (N only stops the
 * writing), so a smaller file is a prefix of a larger one.
 *
 * Prints "packets N bytes B connections C span_s T" on success (B: the
 * file's size; C: connections begun).  Exit 1 on a write error, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull /* ns */
#define US 1000ull

#define N_CLIENTS 64
#define N_SERVERS 50
#define MAX_SEG 1448        /* IPv4 MSS 1460 less the timestamp option */
#define TLS_MAX_PLAIN 16384
#define TLS_OVERHEAD 17     /* inner type + AEAD tag */
#define CWND_INIT 10
#define CWND_MAX 64
#define T0_SEC 1767225600ull /* 2026-01-01T00:00:00Z */

/* ---- random numbers (splitmix64: one stream per connection) ---------- */

struct rng {
	uint64_t s;
};

static uint64_t rnext(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in [0, n) */
static uint32_t rbelow(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rnext(r) >> 32) * (uint64_t)n) >> 32);
}

static double runif(struct rng *r)
{
	return (double)(rnext(r) >> 11) * 0x1.0p-53;
}

static bool rchance(struct rng *r, double p)
{
	return runif(r) < p;
}

/* log-normal with this median, clamped */
static double rlognorm(struct rng *r, double median, double sigma, double lo,
		       double hi)
{
	double u1 = runif(r), u2 = runif(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
	double v = median * exp(sigma * z);
	return v < lo ? lo : v > hi ? hi : v;
}

/* ---- byte streams: what each direction of a connection carries ------- */

/*
 * A direction's bytes are described, not stored: units laid end to end
 * (literal bytes, a TLS record header followed by filler, or filler),
 * from which a segment's payload is copied when it is written.  Units
 * wholly before the next byte to send are dropped when a batch begins.
 */
enum { U_BLOB, U_REC, U_FILL };

struct unit {
	uint64_t off;
	uint32_t len;      /* the unit's bytes (a record: header included) */
	uint32_t blob;     /* U_BLOB: offset in the blob buffer */
	uint8_t kind, rtype;
};

struct stream {
	struct unit *u;
	size_t n, cap;
	uint8_t *blob;
	size_t blen, bcap;
	uint64_t end;      /* offset after the last unit */
};

#define NOISE_LEN (1u << 16)
static uint8_t noise[NOISE_LEN + MAX_SEG];

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fputs("pbgen: out of memory\n", stderr);
		exit(1);
	}
	return q;
}

static struct unit *unit_add(struct stream *s, uint8_t kind, uint32_t len)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->u = xrealloc(s->u, s->cap * sizeof(*s->u));
	}
	struct unit *u = &s->u[s->n++];
	memset(u, 0, sizeof(*u));
	u->off = s->end;
	u->len = len;
	u->kind = kind;
	s->end += len;
	return u;
}

static void put_blob(struct stream *s, const uint8_t *b, size_t n)
{
	if (s->blen + n > s->bcap) {
		s->bcap = (s->blen + n) * 2;
		s->blob = xrealloc(s->blob, s->bcap);
	}
	struct unit *u = unit_add(s, U_BLOB, (uint32_t)n);
	u->blob = (uint32_t)s->blen;
	memcpy(s->blob + s->blen, b, n);
	s->blen += n;
}

/* A TLS record of this type and body length (filler body). */
static void put_record(struct stream *s, uint8_t type, uint32_t body)
{
	struct unit *u = unit_add(s, U_REC, 5 + body);
	u->rtype = type;
}

static void put_fill(struct stream *s, uint32_t n)
{
	unit_add(s, U_FILL, n);
}

/* Drop units that end at or before off. */
static void stream_prune(struct stream *s, uint64_t off)
{
	size_t k = 0;
	while (k < s->n && s->u[k].off + s->u[k].len <= off)
		k++;
	if (k == s->n) {
		s->n = 0;
		s->blen = 0;
		return;
	}
	if (k) {
		memmove(s->u, s->u + k, (s->n - k) * sizeof(*s->u));
		s->n -= k;
	}
}

/* Copy the stream's bytes [off, off + n) to out. */
static void stream_copy(const struct stream *s, uint64_t off, uint32_t n,
			uint8_t *out)
{
	size_t i = 0;
	while (i < s->n && s->u[i].off + s->u[i].len <= off)
		i++;
	while (n > 0 && i < s->n) {
		const struct unit *u = &s->u[i];
		uint32_t in = (uint32_t)(off - u->off);
		uint32_t k = u->len - in < n ? u->len - in : n;
		switch (u->kind) {
		case U_BLOB:
			memcpy(out, s->blob + u->blob + in, k);
			break;
		case U_REC:
			for (uint32_t j = 0; j < k; j++) {
				uint32_t at = in + j;
				uint32_t body = u->len - 5;
				uint8_t b;
				switch (at) {
				case 0: b = u->rtype; break;
				case 1: b = 3; break;
				case 2: b = 3; break;
				case 3: b = (uint8_t)(body >> 8); break;
				case 4: b = (uint8_t)body; break;
				default:
					memcpy(out + j,
					       noise + ((off + j) &
							(NOISE_LEN - 1)),
					       k - j);
					j = k;
					continue;
				}
				out[j] = b;
			}
			break;
		default:
			memcpy(out, noise + (off & (NOISE_LEN - 1)), k);
			break;
		}
		out += k;
		off += k;
		n -= k;
		i++;
	}
	if (n) /* never: every byte sent was described */
		memset(out, 0, n);
}

/* ---- connections -------------------------------------------------------- */

enum pkind { K_TCP, K_DNS_Q, K_DNS_A };
enum popt { O_NONE, O_SYN, O_TS, O_SACK };
enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08,
       TH_ACK = 0x10 };

/* One frame to write, in the connection's queue. */
struct pkt {
	uint64_t t;
	uint64_t off;          /* payload: its stream offset */
	uint32_t seq, ack, tsval, tsecr;
	uint32_t len;
	uint32_t sack_l, sack_r;
	uint8_t dir;           /* 0 client -> server, 1 server -> client */
	uint8_t kind, flags, opt;
};

enum state { S_DNS, S_SYN, S_TLS, S_REQ, S_RESP, S_CLOSE, S_DONE };

struct conn {
	struct rng r;
	uint64_t serial;
	enum state st;
	bool v6, tls;
	unsigned cli, srv;
	uint16_t cport, sport;
	uint64_t rtt, gap, ackd;   /* ns: RTT, segment spacing, ACK delay */
	uint32_t mss;
	uint32_t isn[2], tsbase[2];
	uint64_t snd[2];           /* next new byte of each direction */
	uint64_t rcvd[2];          /* of direction d, what its peer has */
	bool fin_sent[2], fin_rcvd[2];
	uint32_t ecr[2];           /* the TSval each side echoes */
	uint16_t ipid[2];
	uint16_t win[2];
	struct stream s[2];
	/* the program */
	uint64_t t;                /* the next batch starts no earlier */
	uint64_t t_fin;            /* TLS: the client's Finished */
	uint64_t fin_off;          /* TLS: client stream after Finished */
	unsigned ex_left, n_ex;
	uint64_t resp_end;         /* server stream end of this response */
	uint64_t t_flight;         /* the current flight's first segment */
	uint32_t cwnd;
	/* DNS */
	uint16_t dns_id, dns_port, qtype;
	/* frames to write, oldest first */
	struct pkt *q;
	size_t qh, qn, qcap;
};

struct gen {
	struct conn *c;
	unsigned n_conn;
	unsigned *heap;            /* connection slots by next frame time */
	uint64_t seed;
	uint64_t serial;           /* connections begun */
	uint16_t next_port[N_CLIENTS];
};

static uint32_t tsval_at(const struct conn *c, int dir, uint64_t t)
{
	/* the server stamps a frame half an RTT before the client sees it */
	uint64_t at = dir ? t - c->rtt / 2 : t;
	return c->tsbase[dir] + (uint32_t)(at / MS);
}

static uint32_t seq_of(const struct conn *c, int dir, uint64_t off)
{
	return c->isn[dir] + 1 + (uint32_t)off;
}

static struct pkt *q_add(struct conn *c, uint64_t t, int dir, uint8_t flags)
{
	if (c->qn == c->qcap) {
		c->qcap = c->qcap ? c->qcap * 2 : 64;
		c->q = xrealloc(c->q, c->qcap * sizeof(*c->q));
	}
	struct pkt *p = &c->q[c->qn++];
	memset(p, 0, sizeof(*p));
	int o = !dir;
	p->t = t;
	p->dir = (uint8_t)dir;
	p->kind = K_TCP;
	p->flags = flags;
	p->opt = O_TS;
	p->seq = seq_of(c, dir, c->snd[dir]) + (c->fin_sent[dir] ? 1 : 0);
	if (flags & TH_ACK)
		p->ack = seq_of(c, o, c->rcvd[o]) + (c->fin_rcvd[o] ? 1 : 0);
	p->off = c->snd[dir];
	p->tsval = tsval_at(c, dir, t);
	p->tsecr = c->ecr[dir];
	if (dir == 1)
		c->ecr[0] = p->tsval; /* the client has seen it */
	return p;
}

/* A data segment of len new bytes from dir; the stream moves on. */
static struct pkt *q_data(struct conn *c, uint64_t t, int dir, uint32_t len,
			  bool push)
{
	struct pkt *p = q_add(c, t, dir, TH_ACK | (push ? TH_PSH : 0));
	p->len = len;
	c->snd[dir] += len;
	return p;
}

/* The server has received the client's bytes up to now (and the TSval
 * of the segment sent at t). */
static void srv_got(struct conn *c, uint64_t t)
{
	c->rcvd[0] = c->snd[0];
	c->fin_rcvd[0] = c->fin_sent[0];
	c->ecr[1] = tsval_at(c, 0, t);
}

/* Send all of dir's described bytes not sent yet, as MSS segments paced
 * gap apart from t; the peer ACKs every second one (the client after
 * ackd; the server's ACKs are not modelled here: the caller's).  Returns
 * the time after the last frame. */
static uint64_t send_burst(struct conn *c, uint64_t t, int dir)
{
	unsigned k = 0;
	while (c->snd[dir] < c->s[dir].end) {
		uint64_t left = c->s[dir].end - c->snd[dir];
		uint32_t n = left < c->mss ? (uint32_t)left : c->mss;
		q_data(c, t, dir, n, left <= c->mss);
		if (dir == 1) {
			c->rcvd[1] = c->snd[1];
			if (++k % 2 == 0 || c->snd[1] == c->s[1].end)
				q_add(c, t + c->ackd, 0, TH_ACK);
		}
		t += c->gap;
	}
	return t;
}

/* ---- the program of one connection, a batch at a time ---------------- */

static void put_u16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put_u24(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 16);
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)v;
}

static size_t ext(uint8_t *b, uint16_t type, const uint8_t *data, size_t n)
{
	put_u16(b, type);
	put_u16(b + 2, (uint16_t)n);
	memcpy(b + 4, data, n);
	return 4 + n;
}

static void rand_bytes(struct rng *r, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnext(r);
}

/* A ClientHello record as a TLS 1.3 client sends it (517 bytes). */
static void client_hello(struct conn *c)
{
	uint8_t b[600], x[400];
	size_t n = 9; /* record header (5) + handshake header (4) */
	put_u16(b + n, 0x0303);
	n += 2;
	rand_bytes(&c->r, b + n, 32); /* random */
	n += 32;
	b[n++] = 32;
	rand_bytes(&c->r, b + n, 32); /* legacy session id */
	n += 32;
	static const uint8_t suites[] = { 0, 8, 0x13, 0x02, 0x13, 0x03,
					  0x13, 0x01, 0x00, 0xff };
	memcpy(b + n, suites, sizeof(suites));
	n += sizeof(suites);
	b[n++] = 1; /* compression: null */
	b[n++] = 0;
	size_t elen_at = n;
	n += 2;
	char name[64];
	int nl = snprintf(name, sizeof(name), "s%u.bench.example", c->srv);
	put_u16(x, (uint16_t)(nl + 3));
	x[2] = 0;
	put_u16(x + 3, (uint16_t)nl);
	memcpy(x + 5, name, (size_t)nl);
	n += ext(b + n, 0, x, (size_t)nl + 5); /* server_name */
	static const uint8_t groups[] = { 0, 4, 0, 0x1d, 0, 0x17 };
	n += ext(b + n, 10, groups, sizeof(groups));
	static const uint8_t sigalgs[] = { 0, 6, 4, 3, 8, 4, 4, 1 };
	n += ext(b + n, 13, sigalgs, sizeof(sigalgs));
	static const uint8_t alpn[] = { 0, 9, 8, 'h', 't', 't', 'p',
					'/', '1', '.', '1' };
	n += ext(b + n, 16, alpn, sizeof(alpn));
	static const uint8_t vers[] = { 4, 3, 4, 3, 3 };
	n += ext(b + n, 43, vers, sizeof(vers));
	static const uint8_t pskm[] = { 1, 1 };
	n += ext(b + n, 45, pskm, sizeof(pskm));
	put_u16(x, 36);
	put_u16(x + 2, 0x1d);
	put_u16(x + 4, 32);
	rand_bytes(&c->r, x + 6, 32);
	n += ext(b + n, 51, x, 38); /* key_share: x25519 */
	size_t pad = 517 - n - 4;  /* padding (RFC 7685) to 517 bytes */
	memset(x, 0, sizeof(x));
	n += ext(b + n, 21, x, pad);
	put_u16(b + elen_at, (uint16_t)(n - elen_at - 2));
	b[0] = 22;
	put_u16(b + 1, 0x0301);
	put_u16(b + 3, (uint16_t)(n - 5));
	b[5] = 1;
	put_u24(b + 6, (uint32_t)(n - 9));
	put_blob(&c->s[0], b, n);
}

/* ServerHello (TLS 1.3, TLS_AES_128_GCM_SHA256), then the CCS record. */
static void server_hello(struct conn *c)
{
	uint8_t b[160];
	size_t n = 9;
	put_u16(b + n, 0x0303);
	n += 2;
	rand_bytes(&c->r, b + n, 32);
	n += 32;
	b[n++] = 32;
	rand_bytes(&c->r, b + n, 32);
	n += 32;
	put_u16(b + n, 0x1301);
	n += 2;
	b[n++] = 0;
	put_u16(b + n, 46);
	n += 2;
	static const uint8_t ver[] = { 0, 43, 0, 2, 3, 4 };
	memcpy(b + n, ver, sizeof(ver));
	n += sizeof(ver);
	uint8_t ks[36];
	put_u16(ks, 0x1d);
	put_u16(ks + 2, 32);
	rand_bytes(&c->r, ks + 4, 32);
	n += ext(b + n, 51, ks, sizeof(ks));
	b[0] = 22;
	put_u16(b + 1, 0x0303);
	put_u16(b + 3, (uint16_t)(n - 5));
	b[5] = 2;
	put_u24(b + 6, (uint32_t)(n - 9));
	static const uint8_t ccs[] = { 20, 3, 3, 0, 1, 1 };
	memcpy(b + n, ccs, sizeof(ccs));
	n += sizeof(ccs);
	put_blob(&c->s[1], b, n);
}

static const char *const paths[] = {
	"/", "/api/v1/items", "/api/v1/cart", "/static/app.js",
	"/static/style.css", "/img/logo.png", "/search?q=probe",
	"/api/v2/orders", "/healthz", "/download/report.pdf",
};

/* Describe one request in the client stream. */
static void put_request(struct conn *c)
{
	bool post = rchance(&c->r, 0.1);
	uint32_t body = post ? 200 + rbelow(&c->r, 8000) : 0;
	if (c->tls) {
		/* HTTP/1.1 head in one record, a body in more */
		put_record(&c->s[0], 23, 120 + rbelow(&c->r, 700) +
						 TLS_OVERHEAD);
		while (body) {
			uint32_t k = body < TLS_MAX_PLAIN ? body : TLS_MAX_PLAIN;
			put_record(&c->s[0], 23, k + TLS_OVERHEAD);
			body -= k;
		}
		return;
	}
	char h[512];
	int n = snprintf(h, sizeof(h),
			 "%s %s/%u HTTP/1.1\r\nHost: s%u.bench.example\r\n"
			 "User-Agent: pbgen/1\r\nAccept: */*\r\n",
			 post ? "POST" : "GET",
			 paths[rbelow(&c->r, sizeof(paths) / sizeof(paths[0]))],
			 rbelow(&c->r, 100000), c->srv);
	if (post)
		n += snprintf(h + n, sizeof(h) - (size_t)n,
			      "Content-Type: application/json\r\n"
			      "Content-Length: %u\r\n",
			      body);
	n += snprintf(h + n, sizeof(h) - (size_t)n, "\r\n");
	put_blob(&c->s[0], (const uint8_t *)h, (size_t)n);
	if (body)
		put_fill(&c->s[0], body);
}

/* Describe one response in the server stream. */
static void put_response(struct conn *c)
{
	uint32_t body = (uint32_t)rlognorm(&c->r, 4000, 1.3, 0, 1 << 20);
	bool nm = rchance(&c->r, 0.05); /* 304 Not Modified */
	if (nm)
		body = 0;
	if (c->tls) {
		put_record(&c->s[1], 23, 180 + rbelow(&c->r, 200) +
						 TLS_OVERHEAD);
		while (body) {
			uint32_t k = body < TLS_MAX_PLAIN ? body : TLS_MAX_PLAIN;
			put_record(&c->s[1], 23, k + TLS_OVERHEAD);
			body -= k;
		}
		return;
	}
	char h[512];
	int n;
	if (nm)
		n = snprintf(h, sizeof(h),
			     "HTTP/1.1 304 Not Modified\r\nServer: nginx\r\n"
			     "ETag: \"%08x\"\r\n\r\n",
			     (unsigned)rnext(&c->r));
	else
		n = snprintf(h, sizeof(h),
			     "HTTP/1.1 200 OK\r\nServer: nginx\r\n"
			     "Content-Type: application/octet-stream\r\n"
			     "Content-Length: %u\r\n"
			     "Connection: keep-alive\r\n\r\n",
			     body);
	put_blob(&c->s[1], (const uint8_t *)h, (size_t)n);
	if (body)
		put_fill(&c->s[1], body);
}

static void conn_begin(struct gen *g, struct conn *c, uint64_t t)
{
	struct pkt *q = c->q;
	size_t qcap = c->qcap;
	struct stream s0 = c->s[0], s1 = c->s[1];
	memset(c, 0, sizeof(*c));
	c->q = q;
	c->qcap = qcap;
	c->s[0] = s0;
	c->s[1] = s1;
	c->s[0].n = c->s[0].blen = 0;
	c->s[1].n = c->s[1].blen = 0;
	c->s[0].end = c->s[1].end = 0;
	c->serial = g->serial++;
	c->r.s = g->seed * 0x2545f4914f6cdd1dull + c->serial;
	(void)rnext(&c->r);
	struct rng *r = &c->r;
	c->v6 = rchance(r, 0.2);
	c->tls = rchance(r, 0.85);
	c->cli = rbelow(r, N_CLIENTS);
	c->srv = rbelow(r, N_SERVERS);
	/* ports go round per client: a 5-tuple comes back only after
	 * ~28000 connections of that client */
	c->cport = g->next_port[c->cli];
	g->next_port[c->cli] = c->cport == 60999 ? 32768 : c->cport + 1;
	c->sport = c->tls ? 443 : 80;
	double u = runif(r);
	double rtt_ms = u < 0.4	  ? 1 + 4 * runif(r)
			: u < 0.8 ? 10 + 30 * runif(r)
				  : 60 + 140 * runif(r);
	c->rtt = (uint64_t)(rtt_ms * MS);
	static const unsigned mbps[] = { 20, 50, 100, 200, 500 };
	c->mss = c->v6 ? MAX_SEG - 20 : MAX_SEG;
	c->gap = (uint64_t)c->mss * 8 * 1000 / mbps[rbelow(r, 5)]; /* ns */
	c->ackd = c->gap / 2 < 20 * US ? c->gap / 2 : 20 * US;
	c->isn[0] = (uint32_t)rnext(r);
	c->isn[1] = (uint32_t)rnext(r);
	c->tsbase[0] = (uint32_t)rnext(r);
	c->tsbase[1] = (uint32_t)rnext(r);
	c->ipid[0] = (uint16_t)rnext(r);
	c->ipid[1] = (uint16_t)rnext(r);
	c->win[0] = 1024;  /* scaled by 2^7: 128 KiB */
	c->win[1] = 256;   /* scaled by 2^9 */
	c->ex_left = 1;
	while (c->ex_left < 100 && rchance(r, 0.75))
		c->ex_left++;
	c->t = t;
	c->st = rchance(r, 0.3) ? S_DNS : S_SYN;
}

static void b_dns(struct conn *c)
{
	uint64_t t = c->t;
	c->dns_id = (uint16_t)rnext(&c->r);
	c->dns_port = (uint16_t)(1024 + rbelow(&c->r, 60000));
	c->qtype = c->v6 ? 28 : 1;
	struct pkt *p = q_add(c, t, 0, 0);
	p->kind = K_DNS_Q;
	if (rchance(&c->r, 0.02)) { /* unanswered, asked again */
		t += 1000 * MS;
		p = q_add(c, t, 0, 0);
		p->kind = K_DNS_Q;
	}
	t += (uint64_t)(rlognorm(&c->r, 2, 1.2, 0.1, 300) * MS);
	p = q_add(c, t, 1, 0);
	p->kind = K_DNS_A;
	c->t = t + 50 * US;
	c->st = S_SYN;
}

static void syn_opts(struct pkt *p)
{
	p->opt = O_SYN;
}

static void b_syn(struct conn *c)
{
	uint64_t t = c->t;
	c->ecr[0] = 0; /* a SYN echoes nothing */
	struct pkt *p = q_add(c, t, 0, TH_SYN);
	p->seq = c->isn[0];
	syn_opts(p);
	if (rchance(&c->r, 0.005)) {
		t += 1000 * MS;
		p = q_add(c, t, 0, TH_SYN);
		p->seq = c->isn[0];
		syn_opts(p);
	}
	c->ecr[1] = p->tsval; /* the copy answered */
	t += c->rtt;
	c->fin_rcvd[0] = false;
	p = q_add(c, t, 1, TH_SYN | TH_ACK);
	p->seq = c->isn[1];
	p->ack = c->isn[0] + 1;
	syn_opts(p);
	t += c->ackd;
	q_add(c, t, 0, TH_ACK);
	c->t = t + 30 * US;
	c->st = c->tls ? S_TLS : S_REQ;
}

static void b_tls(struct conn *c)
{
	uint64_t t = c->t;
	client_hello(c);
	t = send_burst(c, t, 0);
	t += c->rtt - c->gap;
	srv_got(c, t - c->rtt);
	/* the server's key exchange and signature take it a while */
	t += (uint64_t)(rlognorm(&c->r, 0.4, 0.8, 0.05, 20) * MS);
	/* the server's flight: ServerHello + CCS, then the encrypted
	 * extensions, certificate, verify, Finished as one record */
	server_hello(c);
	put_record(&c->s[1], 23, 1800 + rbelow(&c->r, 2800));
	t = send_burst(c, t, 1);
	/* the client's CCS + Finished */
	t += 200 * US + rbelow(&c->r, 800) * US;
	static const uint8_t ccs[] = { 20, 3, 3, 0, 1, 1 };
	put_blob(&c->s[0], ccs, sizeof(ccs));
	put_record(&c->s[0], 23, 53);
	q_data(c, t, 0, (uint32_t)(c->s[0].end - c->snd[0]), true);
	c->t_fin = t;
	c->fin_off = c->snd[0];
	c->t = t + 30 * US + rbelow(&c->r, 100) * US;
	c->st = S_REQ;
}

/* The response's next flight (S_RESP). */
static void b_flight(struct conn *c)
{
	uint64_t t = c->t;
	c->t_flight = t;
	uint32_t segs = 0, dups = 0;
	bool lost = false, have_hole = false;
	uint64_t hole_off = 0, hole_t = 0, dup3_t = 0;
	uint32_t hole_len = 0;
	int dup_seg = rchance(&c->r, 0.004) ? (int)rbelow(&c->r, c->cwnd) : -1;
	uint64_t dup_off = 0;
	uint32_t dup_len = 0;
	while (segs < c->cwnd && c->snd[1] < c->resp_end) {
		uint64_t left = c->resp_end - c->snd[1];
		uint32_t n = left < c->mss ? (uint32_t)left : c->mss;
		bool push = left <= c->mss;
		if (!have_hole && rchance(&c->r, 0.05)) {
			/* lost before the capture point: never seen here */
			have_hole = lost = true;
			hole_off = c->snd[1];
			hole_len = n;
			hole_t = t;
			c->snd[1] += n;
		} else {
			struct pkt *p = q_data(c, t, 1, n, push);
			if ((int)segs == dup_seg) {
				dup_off = p->off;
				dup_len = n;
			}
			if (!have_hole) {
				c->rcvd[1] = c->snd[1];
				if (segs % 2 == 1 || c->snd[1] == c->resp_end)
					q_add(c, t + c->ackd, 0, TH_ACK);
			} else {
				/* a duplicate ACK with the SACK block */
				p = q_add(c, t + c->ackd, 0, TH_ACK);
				p->opt = O_SACK;
				p->sack_l = seq_of(c, 1, hole_off + hole_len);
				p->sack_r = seq_of(c, 1, c->snd[1]);
				if (++dups == 3)
					dup3_t = t + c->ackd;
			}
		}
		segs++;
		t += c->gap;
	}
	uint64_t t_end = t;
	if (lost) {
		uint64_t tr = dups >= 3 ? dup3_t + c->rtt
					: hole_t + 2 * c->rtt + 10 * MS;
		if (tr < t)
			tr = t;
		struct pkt *p = q_add(c, tr, 1, TH_ACK | TH_PSH);
		p->seq = seq_of(c, 1, hole_off);
		p->off = hole_off;
		p->len = hole_len;
		c->rcvd[1] = c->snd[1];
		q_add(c, tr + c->ackd, 0, TH_ACK);
		t_end = tr + c->gap;
		c->cwnd = c->cwnd / 2 > 2 ? c->cwnd / 2 : 2;
	} else if (c->cwnd < CWND_MAX) {
		c->cwnd *= 2;
	}
	if (dup_len) {
		/* sent twice: acked already, a spurious retransmission */
		uint64_t td = t_end + c->rtt / 2;
		struct pkt *p = q_add(c, td, 1, TH_ACK);
		p->seq = seq_of(c, 1, dup_off);
		p->off = dup_off;
		p->len = dup_len;
		p = q_add(c, td + c->ackd, 0, TH_ACK);
		p->opt = O_SACK; /* D-SACK */
		p->sack_l = seq_of(c, 1, dup_off);
		p->sack_r = seq_of(c, 1, dup_off + dup_len);
		t_end = td + c->gap;
	}
	if (c->snd[1] < c->resp_end) {
		/* the next flight leaves when this one's first ACKs arrive */
		uint64_t next = c->t_flight + 2 * c->gap + c->rtt;
		c->t = next > t_end ? next : t_end;
		return;
	}
	/* response done: the next request after the client's pause, or
	 * the close */
	c->n_ex++;
	c->t = t_end + (uint64_t)(rlognorm(&c->r, 5, 1.5, 0.05, 3000) * MS);
	c->st = --c->ex_left ? S_REQ : S_CLOSE;
}

static void b_req(struct conn *c)
{
	uint64_t t = c->t;
	put_request(c);
	t = send_burst(c, t, 0);
	uint64_t t_last = t - c->gap; /* the request's last segment */
	struct pkt last = c->q[c->qn - 1];
	if (c->tls && c->n_ex == 0) {
		/* two session tickets one RTT after the client's Finished (or
		 * after the request, when that is longer), acknowledging the
		 * Finished only */
		uint64_t tt = c->t_fin + c->rtt;
		if (tt < t)
			tt = t;
		uint64_t keep = c->snd[0];
		c->snd[0] = c->fin_off;
		srv_got(c, c->t_fin);
		c->snd[0] = keep;
		uint32_t tl = 200 + rbelow(&c->r, 100);
		put_record(&c->s[1], 23, tl);
		put_record(&c->s[1], 23, tl);
		q_data(c, tt, 1, 2 * (5 + tl), true);
		c->rcvd[1] = c->snd[1];
		q_add(c, tt + c->ackd, 0, TH_ACK);
	}
	if (rchance(&c->r, 0.01)) {
		/* the last segment lost after the capture point: an RTO */
		t_last += 200 * MS + c->rtt;
		struct pkt *p = q_add(c, t_last, 0, last.flags);
		p->seq = last.seq;
		p->off = last.off;
		p->len = last.len;
	}
	uint64_t think = (uint64_t)(rlognorm(&c->r, 3, 1.5, 0.02, 2000) * MS);
	uint64_t tr = t_last + c->rtt; /* the server's answer can arrive */
	srv_got(c, t_last);
	if (think > 2 * MS)
		q_add(c, tr, 1, TH_ACK); /* a separate ACK of the request */
	put_response(c);
	c->resp_end = c->s[1].end;
	c->cwnd = c->n_ex == 0 ? CWND_INIT : c->cwnd;
	c->t = tr + think;
	c->st = S_RESP;
}

static void b_close(struct conn *c)
{
	uint64_t t = c->t;
	if (c->tls) {
		/* close_notify: encrypted, so application data outside */
		put_record(&c->s[0], 23, 19);
		q_data(c, t, 0, 24, true);
		t += 10 * US;
	}
	double u = runif(&c->r);
	if (u < 0.05) {
		/* the client aborts */
		q_add(c, t, 0, TH_RST | TH_ACK);
	} else if (u < 0.07) {
		/* the server resets once it sees the close */
		srv_got(c, t);
		q_add(c, t + c->rtt, 1, TH_RST | TH_ACK);
		t += c->rtt;
	} else {
		q_add(c, t, 0, TH_FIN | TH_ACK);
		c->fin_sent[0] = true;
		t += c->rtt;
		srv_got(c, t - c->rtt);
		q_add(c, t, 1, TH_FIN | TH_ACK);
		c->fin_sent[1] = c->fin_rcvd[1] = true;
		t += c->ackd;
		q_add(c, t, 0, TH_ACK);
	}
	c->t = t + c->rtt; /* the last frame is at most this late */
	c->st = S_DONE;
}

/* Queue the connection's next batch of frames (a new connection after
 * the last). */
static void conn_step(struct gen *g, struct conn *c)
{
	c->qh = c->qn = 0;
	for (;;) {
		stream_prune(&c->s[0], c->snd[0]);
		stream_prune(&c->s[1], c->snd[1]);
		switch (c->st) {
		case S_DNS: b_dns(c); break;
		case S_SYN: b_syn(c); break;
		case S_TLS: b_tls(c); break;
		case S_REQ: b_req(c); break;
		case S_RESP: b_flight(c); break;
		case S_CLOSE: b_close(c); break;
		case S_DONE: {
			conn_begin(g, c, c->t + rbelow(&c->r, 5000) * US);
			break;
		}
		}
		if (c->qn)
			return;
	}
}

/* ---- frames ------------------------------------------------------------- */

static uint64_t csum_add(uint64_t s, const uint8_t *p, size_t n)
{
	while (n >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		s += w;
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		s += w;
		p += 2;
		n -= 2;
	}
	if (n) {
		uint8_t last[2] = { p[0], 0 };
		uint16_t w;
		memcpy(&w, last, 2);
		s += w;
	}
	return s;
}

/* the one's complement sum, folded, in network order */
static uint16_t csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	uint16_t v = (uint16_t)~s;
	uint8_t b[2];
	memcpy(b, &v, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void addr_of(const struct conn *c, int who, bool v6, uint8_t *a)
{
	memset(a, 0, 16);
	if (who == 2) { /* the resolver */
		a[0] = 10, a[3] = 53;
		return;
	}
	unsigned i = who ? c->srv : c->cli;
	if (!v6) {
		if (who) {
			a[0] = 192, a[2] = 2;
			if (i >= 25)
				a[0] = 203, a[1] = 0, a[2] = 113;
			a[3] = (uint8_t)(1 + i);
			if (i < 25)
				a[1] = 0;
		} else {
			a[0] = 10, a[1] = 1, a[3] = (uint8_t)(1 + i);
		}
		return;
	}
	if (who) {
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
	} else {
		a[0] = 0xfd, a[7] = 1;
	}
	a[15] = (uint8_t)(1 + i);
}

static size_t dns_msg(const struct conn *c, bool answer, uint8_t *b)
{
	put_u16(b, c->dns_id);
	put_u16(b + 2, answer ? 0x8180 : 0x0100);
	put_u16(b + 4, 1);
	put_u16(b + 6, answer ? 1 : 0);
	put_u16(b + 8, 0);
	put_u16(b + 10, 0);
	size_t n = 12;
	char l0[16];
	int k = snprintf(l0, sizeof(l0), "s%u", c->srv);
	b[n++] = (uint8_t)k;
	memcpy(b + n, l0, (size_t)k);
	n += (size_t)k;
	b[n++] = 5;
	memcpy(b + n, "bench", 5);
	n += 5;
	b[n++] = 7;
	memcpy(b + n, "example", 7);
	n += 7;
	b[n++] = 0;
	put_u16(b + n, c->qtype);
	put_u16(b + n + 2, 1);
	n += 4;
	if (!answer)
		return n;
	put_u16(b + n, 0xc00c);
	put_u16(b + n + 2, c->qtype);
	put_u16(b + n + 4, 1);
	b[n + 6] = 0, b[n + 7] = 0, b[n + 8] = 1, b[n + 9] = 0x2c; /* 300 */
	n += 10;
	uint8_t a[16];
	addr_of(c, 1, c->qtype == 28, a);
	size_t al = c->qtype == 28 ? 16 : 4;
	put_u16(b + n, (uint16_t)al);
	memcpy(b + n + 2, a, al);
	return n + 2 + al;
}

static size_t tcp_opts(const struct pkt *p, uint16_t mss, uint8_t *o)
{
	size_t n = 0;
	switch (p->opt) {
	case O_SYN:
		o[n++] = 2, o[n++] = 4;       /* MSS */
		put_u16(o + n, mss);
		n += 2;
		o[n++] = 4, o[n++] = 2;       /* SACK permitted */
		break;
	case O_SACK:
	case O_TS:
		o[n++] = 1, o[n++] = 1;
		break;
	default:
		return 0;
	}
	o[n++] = 8, o[n++] = 10;              /* timestamps */
	uint32_t v[2] = { p->tsval, p->tsecr };
	for (int i = 0; i < 2; i++) {
		o[n++] = (uint8_t)(v[i] >> 24);
		o[n++] = (uint8_t)(v[i] >> 16);
		o[n++] = (uint8_t)(v[i] >> 8);
		o[n++] = (uint8_t)v[i];
	}
	if (p->opt == O_SYN) {
		o[n++] = 1;
		o[n++] = 3, o[n++] = 3, o[n++] = p->dir ? 9 : 7; /* wscale */
	} else if (p->opt == O_SACK) {
		o[n++] = 1, o[n++] = 1, o[n++] = 5, o[n++] = 10;
		uint32_t s[2] = { p->sack_l, p->sack_r };
		for (int i = 0; i < 2; i++) {
			o[n++] = (uint8_t)(s[i] >> 24);
			o[n++] = (uint8_t)(s[i] >> 16);
			o[n++] = (uint8_t)(s[i] >> 8);
			o[n++] = (uint8_t)s[i];
		}
	}
	return n;
}

/* The frame's bytes into b; its length. */
static size_t frame(struct conn *c, const struct pkt *p, uint8_t *b)
{
	static const uint8_t mac_cli[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t mac_gw[6] = { 0x02, 0, 0, 0, 0, 0xfe };
	bool dns = p->kind != K_TCP;
	bool v6 = c->v6 && !dns;
	int d = p->dir;
	memcpy(b, d ? mac_cli : mac_gw, 6);
	memcpy(b + 6, d ? mac_gw : mac_cli, 6);
	put_u16(b + 12, v6 ? 0x86dd : 0x0800);
	uint8_t *ip = b + 14;
	size_t iph = v6 ? 40 : 20;
	uint8_t *l4 = ip + iph;
	uint8_t src[16], dst[16];
	addr_of(c, d ? (dns ? 2 : 1) : 0, v6, src);
	addr_of(c, d ? 0 : (dns ? 2 : 1), v6, dst);
	size_t l4len;
	uint8_t proto;
	if (dns) {
		proto = 17;
		size_t m = dns_msg(c, p->kind == K_DNS_A, l4 + 8);
		l4len = 8 + m;
		put_u16(l4, d ? 53 : c->dns_port);
		put_u16(l4 + 2, d ? c->dns_port : 53);
		put_u16(l4 + 4, (uint16_t)l4len);
		put_u16(l4 + 6, 0);
	} else {
		proto = 6;
		uint8_t opts[40];
		size_t ol = tcp_opts(p, (uint16_t)(c->mss + 12), opts);
		size_t th = 20 + ol;
		put_u16(l4, d ? c->sport : c->cport);
		put_u16(l4 + 2, d ? c->cport : c->sport);
		uint32_t w[2] = { p->seq, p->ack };
		for (int i = 0; i < 2; i++) {
			l4[4 + 4 * i] = (uint8_t)(w[i] >> 24);
			l4[5 + 4 * i] = (uint8_t)(w[i] >> 16);
			l4[6 + 4 * i] = (uint8_t)(w[i] >> 8);
			l4[7 + 4 * i] = (uint8_t)w[i];
		}
		l4[12] = (uint8_t)((th / 4) << 4);
		l4[13] = p->flags;
		put_u16(l4 + 14, p->opt == O_SYN ? (d ? 65160 : 64240)
						 : c->win[d]);
		put_u16(l4 + 16, 0);
		put_u16(l4 + 18, 0);
		memcpy(l4 + 20, opts, ol);
		if (p->len)
			stream_copy(&c->s[d], p->off, p->len, l4 + th);
		l4len = th + p->len;
	}
	/* pseudo-header, then the segment */
	uint64_t s = 0;
	size_t al = v6 ? 16 : 4;
	s = csum_add(s, src, al);
	s = csum_add(s, dst, al);
	uint8_t ph[4] = { 0, proto, (uint8_t)(l4len >> 8), (uint8_t)l4len };
	if (v6) {
		uint8_t ph6[8] = { 0, 0, (uint8_t)(l4len >> 8), (uint8_t)l4len,
				   0, 0, 0, proto };
		s = csum_add(s, ph6, 8);
	} else {
		s = csum_add(s, ph, 4);
	}
	s = csum_add(s, l4, l4len);
	uint16_t ck = csum_fold(s);
	if (proto == 17 && ck == 0)
		ck = 0xffff;
	put_u16(l4 + (proto == 6 ? 16 : 6), ck);
	if (v6) {
		ip[0] = 0x60, ip[1] = 0, ip[2] = 0, ip[3] = 0;
		put_u16(ip + 4, (uint16_t)l4len);
		ip[6] = proto;
		ip[7] = d ? 52 : 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
	} else {
		ip[0] = 0x45, ip[1] = 0;
		put_u16(ip + 2, (uint16_t)(20 + l4len));
		put_u16(ip + 4, dns ? (uint16_t)c->dns_id : c->ipid[d]++);
		put_u16(ip + 6, 0x4000); /* DF */
		ip[8] = d ? 52 : 64;
		ip[9] = proto;
		put_u16(ip + 10, 0);
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		put_u16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	}
	return 14 + iph + l4len;
}

/* ---- the schedule: connections in a heap by their next frame's time -- */

static bool earlier(const struct gen *g, unsigned a, unsigned b)
{
	const struct conn *x = &g->c[a], *y = &g->c[b];
	uint64_t tx = x->q[x->qh].t, ty = y->q[y->qh].t;
	return tx < ty || (tx == ty && a < b);
}

static void sift_down(struct gen *g, unsigned i)
{
	unsigned n = g->n_conn;
	for (;;) {
		unsigned l = 2 * i + 1, m = i;
		if (l < n && earlier(g, g->heap[l], g->heap[m]))
			m = l;
		if (l + 1 < n && earlier(g, g->heap[l + 1], g->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		unsigned tmp = g->heap[i];
		g->heap[i] = g->heap[m];
		g->heap[m] = tmp;
		i = m;
	}
}

/* ---- output ------------------------------------------------------------- */

struct out {
	FILE *f;
	const char *path;
	uint8_t *buf;
	size_t n, cap;
	uint64_t bytes;
};

static void out_flush(struct out *o)
{
	if (o->n && fwrite(o->buf, 1, o->n, o->f) != o->n) {
		fprintf(stderr, "pbgen: %s: %s\n", o->path, strerror(errno));
		exit(1);
	}
	o->bytes += o->n;
	o->n = 0;
}

static void put_le32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static void usage(void)
{
	fputs("usage: pbgen --packets N --flows F [--seed S] OUT.pcap\n",
	      stderr);
	exit(2);
}

static uint64_t num_arg(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "packets", required_argument, NULL, 'n' },
		{ "flows", required_argument, NULL, 'f' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t n_pkts = 0, n_flows = 0, seed = 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': n_pkts = num_arg(optarg); break;
		case 'f': n_flows = num_arg(optarg); break;
		case 's': seed = num_arg(optarg); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || !n_pkts || !n_flows || n_flows > 1000000)
		usage();
	struct out o = { .path = argv[optind], .cap = 4u << 20 };
	o.f = fopen(o.path, "wb");
	if (!o.f) {
		fprintf(stderr, "pbgen: %s: %s\n", o.path, strerror(errno));
		return 1;
	}
	o.buf = xrealloc(NULL, o.cap);

	struct rng nr = { seed ^ 0x6e6f697365ull };
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)rnext(&nr);
	memcpy(noise + NOISE_LEN, noise, MAX_SEG); /* copies may run over */

	struct gen g = { .n_conn = (unsigned)n_flows, .seed = seed };
	for (unsigned i = 0; i < N_CLIENTS; i++)
		g.next_port[i] = (uint16_t)(32768 + (seed * 7919 + i * 131) %
							  20000);
	g.c = calloc(g.n_conn, sizeof(*g.c));
	g.heap = calloc(g.n_conn, sizeof(*g.heap));
	if (!g.c || !g.heap) {
		fputs("pbgen: out of memory\n", stderr);
		return 1;
	}
	/* the first connections begin over the first half second (after
	 * 10 s of clock, so no time - RTT goes below 0) */
	for (unsigned i = 0; i < g.n_conn; i++) {
		conn_begin(&g, &g.c[i], 0);
		g.c[i].t = 10000 * MS + rbelow(&g.c[i].r, 500000) * US;
		conn_step(&g, &g.c[i]);
		g.heap[i] = i;
	}
	for (unsigned i = g.n_conn / 2 + 1; i-- > 0;)
		sift_down(&g, i);

	/* pcap header: nanosecond magic, 2.4, snaplen, Ethernet */
	uint8_t *h = o.buf;
	put_le32(h, 0xa1b23c4d);
	h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;
	put_le32(h + 8, 0);
	put_le32(h + 12, 0);
	put_le32(h + 16, 262144);
	put_le32(h + 20, 1);
	o.n = 24;
	uint64_t first_t = 0, last_t = 0;
	for (uint64_t k = 0; k < n_pkts; k++) {
		unsigned slot = g.heap[0];
		struct conn *c = &g.c[slot];
		const struct pkt *p = &c->q[c->qh];
		if (o.cap - o.n < 16 + 65536)
			out_flush(&o);
		uint8_t *rec = o.buf + o.n;
		size_t len = frame(c, p, rec + 16);
		uint64_t t = T0_SEC * 1000000000ull + p->t;
		if (k == 0)
			first_t = t;
		if (t < last_t) { /* the schedule's invariant, broken */
			fprintf(stderr, "pbgen: BUG: frame %" PRIu64
				" goes back in time\n", k + 1);
			return 1;
		}
		last_t = t;
		put_le32(rec, (uint32_t)(t / 1000000000ull));
		put_le32(rec + 4, (uint32_t)(t % 1000000000ull));
		put_le32(rec + 8, (uint32_t)len);
		put_le32(rec + 12, (uint32_t)len);
		o.n += 16 + len;
		if (++c->qh == c->qn)
			conn_step(&g, c);
		sift_down(&g, 0);
	}
	out_flush(&o);
	if (fclose(o.f) != 0) {
		fprintf(stderr, "pbgen: %s: %s\n", o.path, strerror(errno));
		return 1;
	}
	printf("packets %" PRIu64 " bytes %" PRIu64 " connections %" PRIu64
	       " span_s %.3f\n",
	       n_pkts, o.bytes, g.serial, (double)(last_t - first_t) / 1e9);
	for (unsigned i = 0; i < g.n_conn; i++) {
		free(g.c[i].q);
		free(g.c[i].s[0].u);
		free(g.c[i].s[0].blob);
		free(g.c[i].s[1].u);
		free(g.c[i].s[1].blob);
	}
	free(g.c);
	free(g.heap);
	free(o.buf);
	return 0;
}
