/*
 * an_dns.c: DNS queries and their answers from packets (DESIGN section 5,
 * "DNS from packets"): query -> response per query id, retries,
 * truncation (TC) and the TCP fallback, the rcode.
 *
 * A query is keyed by (client address and port, server address and port,
 * id, name, type); a repeat of the key before an answer is a retry.  The
 * table is bounded (AN_DNS_MAX; beyond, counted) and searched from the
 * newest entry backwards over at most AN_DNS_WINDOW entries, which bounds
 * the cost per packet on long captures.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/an_internal.h"
#include "packet/dec_dns.h"

#define AN_DNS_MAX 65536
#define AN_DNS_WINDOW 256

static struct an_dns *find(struct an_dns_table *t, const struct dec_addr *cli,
			   uint16_t cport, const struct dec_addr *srv,
			   uint16_t sport, const struct dec_dns *m, bool tcp)
{
	size_t lo = t->n > AN_DNS_WINDOW ? t->n - AN_DNS_WINDOW : 0;
	for (size_t i = t->n; i-- > lo;) {
		struct an_dns *q = &t->v[i];
		if (q->id == m->id && q->cport == cport && q->sport == sport &&
		    q->tcp == tcp && q->qtype == m->qtype &&
		    strcmp(q->qname, m->qname) == 0 && dec_addr_eq(&q->cli, cli) &&
		    dec_addr_eq(&q->srv, srv))
			return q;
	}
	return NULL;
}

void an__dns_packet(struct an_dns_table *t, const struct dec_pkt *p,
		    uint64_t frame, uint64_t ts_ns)
{
	bool tcp = p->l4 == DEC_L_TCP;
	if (!p->payload || p->payload_len == 0)
		return;
	struct dec_dns m;
	if (dec_dns_parse(p->payload, p->payload_len, tcp, &m) != DEC_OK ||
	    !m.has_question || m.opcode != 0)
		return;
	if (!m.qr) {
		struct an_dns *q = find(t, &p->ip.src, p->sport, &p->ip.dst,
					p->dport, &m, tcp);
		if (q && q->answer_frame == 0) {
			if (q->tries < 8)
				q->try_frame[q->tries] = frame;
			q->tries++;
			return;
		}
		if (t->n >= AN_DNS_MAX) {
			t->overflow++;
			return;
		}
		if (t->n == t->cap) {
			size_t ncap = t->cap ? t->cap * 2 : 16;
			struct an_dns *nv = realloc(t->v, ncap * sizeof(*nv));
			if (!nv) {
				t->overflow++;
				return;
			}
			t->v = nv;
			t->cap = ncap;
		}
		q = &t->v[t->n++];
		memset(q, 0, sizeof(*q));
		q->cli = p->ip.src;
		q->srv = p->ip.dst;
		q->cport = p->sport;
		q->sport = p->dport;
		q->tcp = tcp;
		q->id = m.id;
		q->qtype = m.qtype;
		memcpy(q->qname, m.qname, sizeof(q->qname) < sizeof(m.qname)
						  ? sizeof(q->qname)
						  : sizeof(m.qname));
		q->qname[sizeof(q->qname) - 1] = '\0';
		q->query_frame = frame;
		q->try_frame[0] = frame;
		q->query_ts_ns = ts_ns;
		q->tries = 1;
		q->rcode = -1;
		q->ms = NAN;
		return;
	}
	struct an_dns *q = find(t, &p->ip.dst, p->dport, &p->ip.src, p->sport,
				&m, tcp);
	if (!q || q->answer_frame)
		return;
	q->answer_frame = frame;
	q->answer_ts_ns = ts_ns;
	q->rcode = m.rcode;
	q->tc = m.tc;
	q->ms = an__ms(q->query_ts_ns, ts_ns);
}

void an__dns_release(struct an_dns_table *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}
