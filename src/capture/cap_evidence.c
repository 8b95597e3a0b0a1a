/*
 * cap_evidence.c: the escalation file of a run (cap_evidence.h), in two
 * passes over the run's frames.
 *
 * Pass 1 decodes every frame, groups TCP frames into connections (a
 * hash of the unordered 5-tuple; a SYN with another ISN starts a new
 * connection on the same tuple), notes each direction's ISN or lowest
 * sequence number and collects the payload segments.  The segments are
 * sorted by (connection, direction, stream offset) and each direction is
 * walked once, in sequence order, each stream byte fed once to
 * dec_redact's TLS header walk: retransmitted copies are skipped (they
 * get the offsets, so the treatment, of what they repeat), out-of-order
 * segments fall into place, and a hole ends the walk (everything after
 * it is zeroed: the safe default).  Record header offsets land in one
 * array, ascending per direction.  The client's first stream bytes
 * (dec_app_guess) say whether the connection is TLS.
 *
 * Pass 2 copies each frame, cuts or zeroes it (dec_redact), and writes it
 * through cap_pcapw with its comments.  Only the decisions live here; the
 * bytes are changed in packet/dec_redact.c.
 */
#include "capture/cap_evidence.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/cap_pcapw.h"
#include "packet/dec.h"
#include "packet/dec_http.h"
#include "packet/dec_redact.h"

#define NO_CONN UINT32_MAX

enum ev_kind { EV_CUT, EV_TLS };

struct ev_conn {
	struct dec_addr ep[2]; /* ep[0]: the sender of the first frame */
	uint16_t port[2];
	uint32_t next;         /* hash chain */
	int8_t client;         /* direction of the client, -1 unknown */
	int8_t first_payload;  /* direction of the first payload, -1 none */
	bool syn[2], seen[2];
	uint32_t isn[2], base[2];
	uint8_t kind;
	uint64_t lost_at[2];
	size_t hdr_first[2], hdr_n[2];
};

struct ev_seg {
	uint32_t conn;
	uint8_t dir;
	uint32_t seq;  /* of the first payload byte */
	uint64_t rel;  /* stream offset */
	uint32_t len;  /* captured payload bytes */
	uint32_t poff; /* payload offset in the frame */
	size_t frame;
};

struct ev_fi {
	uint32_t conn;
	uint8_t dir;
};

struct ev {
	const struct cap_ev_in *in;
	struct ev_conn *conns;
	size_t n_conns, cap_conns;
	uint32_t *buckets;
	size_t n_buckets;
	struct ev_seg *segs;
	size_t n_segs, cap_segs;
	struct ev_fi *fi;
	uint64_t *hdrs;
	size_t n_hdrs, cap_hdrs;
	bool hdr_nomem;
};

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *np = realloc(*p, n * size);
	if (!np)
		return false;
	*p = np;
	*cap = n;
	return true;
}

static bool is_dns_port(const struct cap_ev_in *in, uint16_t port)
{
	if (in->n_dns_ports == 0)
		return port == 53;
	for (size_t i = 0; i < in->n_dns_ports; i++)
		if (in->dns_ports[i] == port)
			return true;
	return false;
}

static uint32_t ep_hash(const struct dec_addr *a, uint16_t port)
{
	uint32_t h = 2166136261u ^ a->family;
	for (size_t i = 0; i < sizeof(a->a); i++)
		h = (h ^ a->a[i]) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	h = (h ^ (port >> 8)) * 16777619u;
	return h;
}

static bool ep_eq(const struct dec_addr *a, uint16_t pa,
		  const struct dec_addr *b, uint16_t pb)
{
	return pa == pb && a->family == b->family &&
	       memcmp(a->a, b->a, sizeof(a->a)) == 0;
}

/* The latest connection on p's tuple and p's direction in it, or NO_CONN. */
static uint32_t conn_find(const struct ev *e, const struct dec_pkt *p,
			  uint32_t h, uint8_t *dir)
{
	for (uint32_t c = e->buckets[h & (e->n_buckets - 1)]; c != NO_CONN;
	     c = e->conns[c].next) {
		const struct ev_conn *k = &e->conns[c];
		if (ep_eq(&k->ep[0], k->port[0], &p->ip.src, p->sport) &&
		    ep_eq(&k->ep[1], k->port[1], &p->ip.dst, p->dport)) {
			*dir = 0;
			return c;
		}
		if (ep_eq(&k->ep[1], k->port[1], &p->ip.src, p->sport) &&
		    ep_eq(&k->ep[0], k->port[0], &p->ip.dst, p->dport)) {
			*dir = 1;
			return c;
		}
	}
	return NO_CONN;
}

static uint32_t conn_new(struct ev *e, const struct dec_pkt *p, uint32_t h)
{
	if (e->n_conns >= NO_CONN - 1 ||
	    !grow((void **)&e->conns, &e->cap_conns, e->n_conns + 1,
		  sizeof(*e->conns)))
		return NO_CONN;
	uint32_t c = (uint32_t)e->n_conns++;
	struct ev_conn *k = &e->conns[c];
	memset(k, 0, sizeof(*k));
	k->ep[0] = p->ip.src;
	k->ep[1] = p->ip.dst;
	k->port[0] = p->sport;
	k->port[1] = p->dport;
	k->client = -1;
	k->first_payload = -1;
	k->kind = EV_CUT;
	k->lost_at[0] = k->lost_at[1] = DEC_REDACT_NONE;
	/* newest first: lookups find the latest connection on a tuple */
	k->next = e->buckets[h & (e->n_buckets - 1)];
	e->buckets[h & (e->n_buckets - 1)] = c;
	return c;
}

/* Pass 1 for one decoded TCP frame. */
static int track_tcp(struct ev *e, size_t i, const struct dec_pkt *p,
		     const uint8_t *data, struct errbuf *err)
{
	uint32_t h = ep_hash(&p->ip.src, p->sport) ^
		     ep_hash(&p->ip.dst, p->dport);
	uint8_t dir = 0;
	uint32_t c = conn_find(e, p, h, &dir);
	bool syn = p->tcp.flags & DEC_TH_SYN;
	bool ack = p->tcp.flags & DEC_TH_ACK;
	if (c != NO_CONN && syn && !ack && e->conns[c].syn[dir] &&
	    e->conns[c].isn[dir] != p->tcp.seq)
		c = NO_CONN; /* the tuple reused: a new connection */
	if (c == NO_CONN) {
		c = conn_new(e, p, h);
		dir = 0;
		if (c == NO_CONN)
			return errbuf_set(err, PE_NOMEM,
					  "evidence: out of memory");
	}
	struct ev_conn *k = &e->conns[c];
	e->fi[i].conn = c;
	e->fi[i].dir = dir;
	if (syn) {
		k->syn[dir] = true;
		k->isn[dir] = p->tcp.seq;
		if (!ack)
			k->client = (int8_t)dir;
		else if (k->client < 0)
			k->client = (int8_t)!dir;
	}
	if (p->payload_len == 0)
		return 0;
	uint32_t seq = p->tcp.seq + (syn ? 1u : 0u);
	if (!k->seen[dir] || (int32_t)(seq - k->base[dir]) < 0)
		k->base[dir] = seq;
	k->seen[dir] = true;
	if (k->first_payload < 0)
		k->first_payload = (int8_t)dir;
	if (!grow((void **)&e->segs, &e->cap_segs, e->n_segs + 1,
		  sizeof(*e->segs)))
		return errbuf_set(err, PE_NOMEM, "evidence: out of memory");
	struct ev_seg *s = &e->segs[e->n_segs++];
	s->conn = c;
	s->dir = dir;
	s->seq = seq;
	s->rel = 0;
	s->len = p->payload_len;
	s->poff = (uint32_t)(p->payload - data);
	s->frame = i;
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct ev_seg *x = a, *y = b;
	if (x->conn != y->conn)
		return x->conn < y->conn ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->rel != y->rel)
		return x->rel < y->rel ? -1 : 1;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1; /* longest copy first */
	return x->frame < y->frame ? -1 : x->frame > y->frame;
}

static int on_hdr(uint64_t off, void *ctx)
{
	struct ev *e = ctx;
	if (e->n_hdrs >= CAP_EV_MAX_RECORDS)
		return 1;
	if (!grow((void **)&e->hdrs, &e->cap_hdrs, e->n_hdrs + 1,
		  sizeof(*e->hdrs))) {
		e->hdr_nomem = true;
		return 1;
	}
	e->hdrs[e->n_hdrs++] = off;
	return 0;
}

/* Walk one direction's segments segs[0..n) (sorted) for record headers. */
static void walk_dir(struct ev *e, const struct ev_seg *segs, size_t n)
{
	struct ev_conn *k = &e->conns[segs[0].conn];
	uint8_t dir = segs[0].dir;
	const struct cap_ev_frame *fr = e->in->frames;
	if (k->client == (int8_t)dir && segs[0].rel == 0 &&
	    dec_app_guess(fr[segs[0].frame].data + segs[0].poff,
			  segs[0].len) == DEC_APP_TLS)
		k->kind = EV_TLS;
	struct dec_redact_tls w;
	dec_redact_tls_init(&w);
	k->hdr_first[dir] = e->n_hdrs;
	uint64_t next = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ev_seg *s = &segs[i];
		uint64_t end = s->rel + s->len;
		if (end <= next)
			continue; /* a copy of bytes already walked */
		if (s->rel > next) {
			k->lost_at[dir] = next; /* a hole: bytes not captured */
			break;
		}
		uint64_t skip = next - s->rel;
		if (dec_redact_tls_feed(&w, fr[s->frame].data + s->poff + skip,
					(size_t)(s->len - skip), next, on_hdr,
					e, &k->lost_at[dir]))
			break;
		next = end;
	}
	k->hdr_n[dir] = e->n_hdrs - k->hdr_first[dir];
}

static int pass1(struct ev *e, struct errbuf *err)
{
	const struct cap_ev_in *in = e->in;
	for (size_t i = 0; i < in->n_frames; i++) {
		const struct cap_ev_frame *f = &in->frames[i];
		e->fi[i].conn = NO_CONN;
		if (f->iface >= in->n_ifaces)
			return errbuf_set(err, PE_INVAL,
					  "evidence: frame %zu: interface %u "
					  "of %zu", i + 1, f->iface,
					  in->n_ifaces);
		if (!f->data && f->caplen > 0)
			return errbuf_set(err, PE_INVAL,
					  "evidence: frame %zu: no data",
					  i + 1);
		struct dec_pkt p;
		dec_packet(in->ifaces[f->iface].linktype, f->data, f->caplen,
			   f->len, &p);
		if (p.st != DEC_OK || p.l4 != DEC_L_TCP ||
		    is_dns_port(in, p.sport) || is_dns_port(in, p.dport))
			continue;
		int ret = track_tcp(e, i, &p, f->data, err);
		if (ret < 0)
			return ret;
	}
	for (size_t c = 0; c < e->n_conns; c++) {
		struct ev_conn *k = &e->conns[c];
		for (int d = 0; d < 2; d++)
			if (k->syn[d])
				k->base[d] = k->isn[d] + 1;
		if (k->client < 0)
			k->client = k->first_payload;
	}
	for (size_t i = 0; i < e->n_segs; i++) {
		struct ev_seg *s = &e->segs[i];
		s->rel = (uint32_t)(s->seq - e->conns[s->conn].base[s->dir]);
	}
	if (e->n_segs)
		qsort(e->segs, e->n_segs, sizeof(*e->segs), seg_cmp);
	for (size_t i = 0, j; i < e->n_segs; i = j) {
		for (j = i + 1; j < e->n_segs &&
				e->segs[j].conn == e->segs[i].conn &&
				e->segs[j].dir == e->segs[i].dir;
		     j++)
			;
		walk_dir(e, &e->segs[i], j - i);
		if (e->hdr_nomem)
			return errbuf_set(err, PE_NOMEM,
					  "evidence: out of memory");
	}
	return 0;
}

/* How frame i goes to disk: copy[0..*wcap), bytes redacted returned. */
static uint64_t redact(struct ev *e, size_t i, uint8_t *copy, uint32_t *wcap)
{
	const struct cap_ev_in *in = e->in;
	const struct cap_ev_frame *f = &in->frames[i];
	struct dec_pkt p;
	dec_packet(in->ifaces[f->iface].linktype, f->data, f->caplen, f->len,
		   &p);
	*wcap = f->caplen;
	if (p.st == DEC_OK && (p.l4 == DEC_L_TCP || p.l4 == DEC_L_UDP) &&
	    (is_dns_port(in, p.sport) || is_dns_port(in, p.dport)))
		return 0;
	if (dec_redact_icmp_error(&p)) {
		*wcap = dec_redact_icmp_keep(&p, f->data, f->caplen);
		return f->caplen - *wcap;
	}
	uint32_t c = e->fi[i].conn;
	if (c != NO_CONN && e->conns[c].kind == EV_TLS) {
		if (in->keylog || p.payload_len == 0)
			return 0;
		const struct ev_conn *k = &e->conns[c];
		uint8_t d = e->fi[i].dir;
		bool syn = p.tcp.flags & DEC_TH_SYN;
		uint32_t seq = p.tcp.seq + (syn ? 1u : 0u);
		uint64_t rel = (uint32_t)(seq - k->base[d]);
		uint32_t poff = dec_redact_hdr_len(&p, f->data, f->caplen);
		return dec_redact_tls_zero(copy + poff, p.payload_len, rel,
					   e->hdrs + k->hdr_first[d],
					   k->hdr_n[d], k->lost_at[d]);
	}
	*wcap = dec_redact_hdr_len(&p, f->data, f->caplen);
	return f->caplen - *wcap;
}

static int cmt_cmp(const void *a, const void *b)
{
	const struct cap_ev_comment *const *x = a, *const *y = b;
	if ((*x)->frame != (*y)->frame)
		return (*x)->frame < (*y)->frame ? -1 : 1;
	return *x < *y ? -1 : *x > *y; /* array order within a frame */
}

/* The comments of frame number fno joined with "; " into *buf. */
static int join_comments(const struct cap_ev_comment **cm, size_t n,
			 size_t *j, uint64_t fno, char **buf, size_t *cap,
			 const char **out, struct errbuf *err)
{
	size_t len = 0;
	*out = NULL;
	for (; *j < n && cm[*j]->frame == fno; (*j)++) {
		const char *t = cm[*j]->text ? cm[*j]->text : "";
		size_t tl = strlen(t);
		if (!grow((void **)buf, cap, len + tl + 3, 1))
			return errbuf_set(err, PE_NOMEM,
					  "evidence: out of memory");
		if (len) {
			memcpy(*buf + len, "; ", 2);
			len += 2;
		}
		memcpy(*buf + len, t, tl);
		len += tl;
		(*buf)[len] = '\0';
		*out = *buf;
	}
	return 0;
}

static bool run_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > CAP_EV_RUN_ID_MAX || id[0] == '.' ||
	    strstr(id, ".."))
		return false;
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789._-") == n;
}

/* Create dir 0700 when missing; strict: an existing one must be ours,
 * a real directory, with no group/other access. */
static int ensure_dir(const char *dir, bool strict, struct errbuf *err)
{
	if (mkdir(dir, 0700) == 0) {
		if (chmod(dir, 0700) < 0)
			return errbuf_set(err, PE_IO, "%s: chmod: %s", dir,
					  strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return errbuf_set(err, PE_IO, "%s: mkdir: %s", dir,
				  strerror(errno));
	struct stat st;
	if ((strict ? lstat(dir, &st) : stat(dir, &st)) < 0)
		return errbuf_set(err, PE_IO, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return errbuf_set(err, strict ? PE_PERM : PE_IO,
				  "%s: not a directory", dir);
	if (!strict)
		return 0;
	if (st.st_uid != geteuid())
		return errbuf_set(err, PE_PERM,
				  "%s: owned by uid %u, not by us (uid %u)",
				  dir, (unsigned)st.st_uid,
				  (unsigned)geteuid());
	if (st.st_mode & 077)
		return errbuf_set(err, PE_PERM,
				  "%s: mode %04o gives group/other access "
				  "(capture files can hold TLS secrets; "
				  "chmod 700 it)",
				  dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

static char *path_join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s%s", a, b, c);
	return p;
}

int cap_evidence_write(const struct cap_ev_in *in, struct cap_ev_out *out,
		       struct errbuf *err)
{
	int ret = PE_NOMEM;
	struct ev e = { .in = in };
	struct cap_pcapw *w = NULL;
	const struct cap_ev_comment **cm = NULL;
	char *dir = NULL, *cbuf = NULL;
	size_t ccap = 0;
	uint8_t *copy = NULL;

	memset(out, 0, sizeof(*out));
	if (!in->spool || !in->run_id || !run_id_ok(in->run_id))
		return errbuf_set(err, PE_INVAL,
				  "evidence: run id \"%s\": only "
				  "[A-Za-z0-9._-], no leading '.' or \"..\"",
				  in->run_id ? in->run_id : "(null)");
	if (in->n_ifaces == 0 || (in->n_frames && !in->frames))
		return errbuf_set(err, PE_INVAL,
				  "evidence: no interfaces or no frames");
	for (size_t i = 0; i < in->n_comments; i++)
		if (in->comments[i].frame == 0 ||
		    in->comments[i].frame > in->n_frames)
			return errbuf_set(err, PE_INVAL,
					  "evidence: comment on frame %llu "
					  "of %zu",
					  (unsigned long long)
						  in->comments[i].frame,
					  in->n_frames);

	if (!(dir = path_join(in->spool, "/pcaps", "")) ||
	    !(out->path = path_join(dir, "/", in->run_id)))
		goto nomem;
	char *full = path_join(out->path, ".pcapng", "");
	if (!full)
		goto nomem;
	free(out->path);
	out->path = full;

	e.n_buckets = 64;
	while (e.n_buckets < in->n_frames && e.n_buckets < (1u << 20))
		e.n_buckets *= 2;
	if (!(e.buckets = malloc(e.n_buckets * sizeof(*e.buckets))) ||
	    !(e.fi = calloc(in->n_frames ? in->n_frames : 1, sizeof(*e.fi))))
		goto nomem;
	memset(e.buckets, 0xff, e.n_buckets * sizeof(*e.buckets));
	if ((ret = pass1(&e, err)) < 0)
		goto out;
	if (!in->keylog)
		for (size_t c = 0; c < e.n_conns; c++)
			for (int d = 0; d < 2; d++)
				if (e.conns[c].kind == EV_TLS &&
				    e.conns[c].lost_at[d] != DEC_REDACT_NONE)
					out->layout_lost++;

	if (in->n_comments) {
		if (!(cm = malloc(in->n_comments * sizeof(*cm))))
			goto nomem;
		for (size_t i = 0; i < in->n_comments; i++)
			cm[i] = &in->comments[i];
		qsort(cm, in->n_comments, sizeof(*cm), cmt_cmp);
	}
	uint32_t maxcap = 1;
	for (size_t i = 0; i < in->n_frames; i++)
		if (in->frames[i].caplen > maxcap)
			maxcap = in->frames[i].caplen;
	if (!(copy = malloc(maxcap)))
		goto nomem;

	if ((ret = ensure_dir(in->spool, false, err)) < 0 ||
	    (ret = ensure_dir(dir, true, err)) < 0)
		goto out;
	if (!(w = cap_pcapw_open(out->path, err))) {
		ret = PE_IO;
		goto out;
	}
	for (size_t i = 0; i < in->n_ifaces; i++) {
		ret = cap_pcapw_iface(w, in->ifaces[i].linktype,
				      CAP_PCAPW_MAX_CAPLEN, in->ifaces[i].name,
				      err);
		if (ret < 0)
			goto out;
	}
	if (in->keylog && in->keylog_len &&
	    (ret = cap_pcapw_secrets(w, in->keylog, in->keylog_len, err)) < 0)
		goto out;
	for (size_t i = 0, j = 0; i < in->n_frames; i++) {
		const struct cap_ev_frame *f = &in->frames[i];
		const char *comment;
		uint32_t wcap;
		ret = join_comments(cm, in->n_comments, &j, i + 1, &cbuf, &ccap,
				    &comment, err);
		if (ret < 0)
			goto out;
		if (f->caplen)
			memcpy(copy, f->data, f->caplen);
		out->redacted += redact(&e, i, copy, &wcap);
		ret = cap_pcapw_packet(w, f->iface, f->ts_ns, copy, wcap,
				       f->len, comment, err);
		if (ret < 0)
			goto out;
	}
	uint8_t md[32];
	ret = cap_pcapw_close(w, md, &out->bytes, err);
	w = NULL;
	if (ret < 0)
		goto out;
	for (int i = 0; i < 32; i++)
		snprintf(out->sha256 + 2 * i, 3, "%02x", md[i]);
	ret = 0;
	goto out;
nomem:
	ret = errbuf_set(err, PE_NOMEM, "evidence: out of memory");
out:
	if (w) {
		/* already failing: the close only removes the file */
		struct errbuf ignored;
		if (cap_pcapw_close(w, NULL, NULL, &ignored) < 0)
			w = NULL;
	}
	free(copy);
	free(cbuf);
	free(cm);
	free(dir);
	free(e.conns);
	free(e.buckets);
	free(e.segs);
	free(e.fi);
	free(e.hdrs);
	return ret;
}

void cap_ev_out_release(struct cap_ev_out *out)
{
	if (!out)
		return;
	free(out->path);
	memset(out, 0, sizeof(*out));
}
