/*
 * run_capture.c: the packet capture of one `probe run` (run_capture.h).
 */
#include "cli/run_capture.h"

#include <arpa/inet.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/an_run.h"
#include "capture/cap_bpf.h"
#include "capture/cap_evidence.h"
#include "escalate/retention.h"
#include "util/timeutil.h"
#include "capture/capture.h"
#include "steps/tls_trace.h"
#include "util/xalloc.h"

#define RC_MAX_PORTS 16

/* A run's frames (capture indices), from analysis to its evidence. */
struct picked {
	const struct step_exec_item *item;
	size_t *idx;
	size_t n;
	struct picked *next;
};

struct run_cap {
	struct capture *cap;
	struct picked *picked;
	struct step_hooks hooks;
	struct cap_bpf_flow *ep;     /* the filter's endpoints */
	size_t n_ep, cap_ep;
	bool explicit_iface;         /* --interface: no other interface */
	uint16_t dns_ports[RC_MAX_PORTS];
	size_t n_dns_ports;
	bool warned_iface;
};

static bool sa_to_addr(const struct sockaddr *sa, struct dec_addr *a,
		       uint16_t *port)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		a->family = 4;
		memcpy(a->a, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		a->family = 6;
		memcpy(a->a, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
		return true;
	}
	return false;
}

static bool text_to_addr(const char *text, struct dec_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, a->a) == 1) {
		a->family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, text, a->a) == 1) {
		a->family = 6;
		return true;
	}
	return false;
}

static int ep_add(struct cap_bpf_flow **v, size_t *n, size_t *cap,
		  const struct dec_addr *a, uint16_t port, uint8_t proto,
		  bool *added)
{
	*added = false;
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].port == port && (*v)[i].proto == proto &&
		    (*v)[i].addr.family == a->family &&
		    memcmp((*v)[i].addr.a, a->a, 16) == 0)
			return 0;
	if (xgrow(v, cap, *n + 1, sizeof(**v)) < 0)
		return PE_NOMEM;
	(*v)[*n].addr = *a;
	(*v)[*n].port = port;
	(*v)[*n].proto = proto;
	(*n)++;
	*added = true;
	return 0;
}

/* A resolver: UDP and TCP on its port. */
static int ep_add_dns(struct cap_bpf_flow **v, size_t *n, size_t *cap,
		      const struct dec_addr *a, uint16_t port)
{
	bool added;
	int r = ep_add(v, n, cap, a, port, 17, &added);
	return r < 0 ? r : ep_add(v, n, cap, a, port, 6, &added);
}

/* The endpoints known before any step runs: the resolvers. */
static int plan_endpoints(const struct scn_plan *plans, size_t n,
			  struct cap_bpf_flow **v, size_t *nv, size_t *cap)
{
	bool system = false;
	for (size_t i = 0; i < n; i++) {
		const struct scn_plan *p = &plans[i];
		system = system || p->n_resolvers == 0;
		for (size_t k = 0; k < p->n_resolvers; k++) {
			struct dec_addr a;
			if (text_to_addr(p->resolvers[k].addr, &a) &&
			    ep_add_dns(v, nv, cap, &a, p->resolvers[k].port) < 0)
				return PE_NOMEM;
		}
		for (size_t s = 0; s < p->n_steps; s++) {
			const struct scn_opts *o = &p->steps[s].opts;
			struct dec_addr a;
			if ((o->set & SCN_OPT_RESOLVER) &&
			    text_to_addr(o->resolver.addr, &a) &&
			    ep_add_dns(v, nv, cap, &a, o->resolver.port) < 0)
				return PE_NOMEM;
		}
	}
	if (system) {
		struct sockaddr_storage ss[8];
		size_t k = step_dns_system_servers(ss, 8);
		for (size_t i = 0; i < k; i++) {
			struct dec_addr a;
			uint16_t port;
			if (sa_to_addr((struct sockaddr *)&ss[i], &a, &port) &&
			    ep_add_dns(v, nv, cap, &a, port) < 0)
				return PE_NOMEM;
		}
	}
	return 0;
}

char *run_capture_filter_text(const struct scn_plan *plans, size_t n,
			      struct errbuf *err)
{
	struct cap_bpf_flow *v = NULL;
	size_t nv = 0, cap = 0;
	if (plan_endpoints(plans, n, &v, &nv, &cap) < 0) {
		free(v);
		errbuf_set(err, PE_NOMEM, "out of memory");
		return NULL;
	}
	char *f = cap_bpf_build(v, nv, err);
	free(v);
	return f;
}

/* A step is about to reach sa: into the filter (and its interface). */
static void on_endpoint(void *ctx, uint8_t proto, const struct sockaddr *sa)
{
	struct run_cap *rc = ctx;
	struct dec_addr a;
	uint16_t port;
	bool added;
	struct errbuf err;
	if (!sa_to_addr(sa, &a, &port) ||
	    ep_add(&rc->ep, &rc->n_ep, &rc->cap_ep, &a, port, proto,
		   &added) < 0 ||
	    !added)
		return;
	char *f = cap_bpf_build(rc->ep, rc->n_ep, &err);
	if (!f || capture_set_filter(rc->cap, f, &err) < 0)
		fprintf(stderr, "probe run: capture filter: %s\n", err.msg);
	free(f);
	if (rc->explicit_iface)
		return;
	char name[IFNAMSIZ];
	if (cap_iface_for(&a, name, &err) == 0 &&
	    capture_add_iface(rc->cap, name, &err) < 0 && !rc->warned_iface) {
		rc->warned_iface = true;
		fprintf(stderr,
			"probe run: cannot capture on %s as well (%s): "
			"connections through it keep tcp_info figures\n",
			name, err.msg);
	}
}

struct run_cap *run_capture_open(const struct scn_plan *plans, size_t n,
				     const char *iface, const char *user,
				     struct errbuf *err)
{
	struct run_cap *rc = calloc(1, sizeof(*rc));
	if (!rc) {
		errbuf_set(err, PE_NOMEM, "out of memory");
		return NULL;
	}
	rc->hooks.endpoint = on_endpoint;
	rc->hooks.ctx = rc;
	rc->dns_ports[rc->n_dns_ports++] = 53;
	char *filter = NULL;
	struct dec_addr *dests = NULL;
	if (plan_endpoints(plans, n, &rc->ep, &rc->n_ep, &rc->cap_ep) < 0 ||
	    !(dests = calloc(rc->n_ep + 1, sizeof(*dests)))) {
		errbuf_set(err, PE_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < rc->n_ep; i++) {
		dests[i] = rc->ep[i].addr;
		bool seen = false;
		for (size_t k = 0; k < rc->n_dns_ports; k++)
			seen = seen || rc->dns_ports[k] == rc->ep[i].port;
		if (!seen && rc->n_dns_ports < RC_MAX_PORTS)
			rc->dns_ports[rc->n_dns_ports++] = rc->ep[i].port;
	}
	if (!(filter = cap_bpf_build(rc->ep, rc->n_ep, err)))
		goto fail;
	const char *ifs[1] = { iface };
	struct capture_opts o = {
		.ifaces = iface ? ifs : NULL,
		.n_ifaces = iface ? 1 : 0,
		.dests = dests,
		.n_dests = rc->n_ep,
		.filter = filter,
	};
	rc->explicit_iface = iface != NULL;
	if (!(rc->cap = capture_open(&o, err)))
		goto fail;
	if (cap_priv_drop(user, err) < 0 || capture_start(rc->cap, err) < 0)
		goto fail;
	free(filter);
	free(dests);
	return rc;
fail:
	free(filter);
	free(dests);
	run_capture_close(rc);
	return NULL;
}

const struct step_hooks *run_capture_hooks(struct run_cap *rc)
{
	return rc ? &rc->hooks : NULL;
}

uint64_t run_capture_grace_ns(const struct run_rec *run)
{
	double rtt = 0;
	for (size_t i = 0; i < run->n_steps; i++)
		for (size_t k = 0; k < run->steps[i].n_conns; k++) {
			const struct conn_rec *c = &run->steps[i].conns[k];
			double v = !isnan(c->rtt_ms)       ? c->rtt_ms
				   : !isnan(c->connect_ms) ? c->connect_ms
							   : 0;
			rtt = fmax(rtt, v);
		}
	double ms = RUN_CAPTURE_GRACE_MIN_MS + 2 * rtt;
	if (ms > RUN_CAPTURE_GRACE_MAX_MS)
		ms = RUN_CAPTURE_GRACE_MAX_MS;
	return (uint64_t)(ms * 1e6);
}

static bool get_frame(void *ctx, size_t i, struct an_frame *out)
{
	struct capture *c = ctx;
	const struct cap_pkt *p = capture_get(c, i);
	if (!p)
		return false;
	out->ts_ns = p->ts_ns;
	out->data = p->data;
	out->caplen = p->caplen;
	out->len = p->len;
	out->linktype = p->linktype;
	return true;
}

/* The run's TLS traces as the analyzer's hints (arrays malloc'ed). */
static struct an_tls_hint *make_hints(const struct tls_trace_set *set,
				      size_t *n)
{
	*n = 0;
	if (!set || !set->n)
		return NULL;
	struct an_tls_hint *h = calloc(set->n, sizeof(*h));
	if (!h)
		return NULL;
	for (size_t i = 0; i < set->n; i++) {
		const struct tls_trace *t = set->v[i];
		struct an_tls_hint *x = &h[*n];
		if (t->truncated || !t->src[0] || !text_to_addr(t->src, &x->cli) ||
		    !text_to_addr(t->dst, &x->srv))
			continue;
		x->cport = t->sport;
		x->sport = t->dport;
		uint8_t *it = malloc(t->n + 1), *ih = malloc(t->n + 1);
		uint8_t *ot = malloc(t->n + 1);
		uint32_t *mk = malloc((t->n_marks + 1) * sizeof(*mk));
		if (!it || !ih || !ot || !mk) {
			free(it), free(ih), free(ot), free(mk);
			continue;
		}
		for (size_t k = 0; k < t->n; k++) {
			const struct tls_record *r = &t->rec[k];
			uint8_t type = r->inner ? r->inner : r->outer;
			if (r->dir == TLS_DIR_IN) {
				it[x->n_in] = type;
				ih[x->n_in++] = r->hs_type;
			} else {
				ot[x->n_out++] = type;
			}
		}
		if (t->n_marks)
			memcpy(mk, t->marks, t->n_marks * sizeof(*mk));
		x->in_type = it;
		x->in_hs = ih;
		x->out_type = ot;
		x->resp_mark = mk;
		x->n_marks = t->n_marks;
		(*n)++;
	}
	return h;
}

static void free_hints(struct an_tls_hint *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((void *)h[i].in_type);
		free((void *)h[i].in_hs);
		free((void *)h[i].out_type);
		free((void *)h[i].resp_mark);
	}
	free(h);
}

static struct an_flow *make_flows(const struct step_flow *f, size_t n)
{
	struct an_flow *v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		v[i].proto = f[i].proto;
		sa_to_addr((const struct sockaddr *)&f[i].local, &v[i].local,
			   &v[i].lport);
		sa_to_addr((const struct sockaddr *)&f[i].remote, &v[i].remote,
			   &v[i].rport);
		static const uint8_t zero[16];
		v[i].any_local = memcmp(v[i].local.a, zero,
					v[i].local.family == 6 ? 16 : 4) == 0;
	}
	return v;
}

int run_capture_analyze(struct run_cap *rc, struct step_exec_item *item,
			struct errbuf *err)
{
	struct run_rec *run = item->run;
	size_t n_flows, n_hints;
	/* the frames the kernel has taken so far, all in the ring (a late
	 * reader thread costs waiting here, not frames) */
	if (capture_sync(rc->cap, RUN_CAPTURE_SYNC_MAX_MS * 1000000ull) < 0)
		fprintf(stderr,
			"probe run: capture: the reader thread lagged over "
			"%d ms; run %s is analyzed with the frames it has\n",
			RUN_CAPTURE_SYNC_MAX_MS, item->run->run_id);
	const struct step_flow *sf = step_exec_item_flows(item, &n_flows);
	struct an_flow *flows = make_flows(sf, n_flows);
	struct an_tls_hint *hints =
		make_hints(step_exec_item_traces(item), &n_hints);
	if (!flows) {
		free_hints(hints, n_hints);
		return errbuf_set(err, PE_NOMEM, "out of memory");
	}
	struct an_run_in in = {
		.run = run, .flows = flows, .n_flows = n_flows,
		.hints = hints, .n_hints = n_hints,
		.dns_ports = rc->dns_ports, .n_dns_ports = rc->n_dns_ports,
		.clock = step_exec_item_clock(item),
		.n_frames = capture_count(rc->cap), .get = get_frame,
		.ctx = rc->cap,
	};
	int ret = an_run_analyze(&in, err);
	free(flows);
	free_hints(hints, n_hints);
	if (ret < 0) {
		free(in.picked);
		return ret;
	}
	run->capture = RUN_CAPTURE_ON;
	struct capture_stats st;
	capture_stats(rc->cap, &st);
	int64_t cut = 0;
	for (size_t i = 0; i < in.n_picked; i++) {
		const struct cap_pkt *p = capture_get(rc->cap, in.picked[i]);
		cut += p && p->cut;
	}
	run->capture_drops = (int64_t)st.dropped;
	run->capture_truncated = cut + (int64_t)st.lost;
	char detail[200];
	if (st.dropped) {
		snprintf(detail, sizeof(detail),
			 "%llu packets dropped by the kernel or libpcap while "
			 "this process captured: figures may lack evidence",
			 (unsigned long long)st.dropped);
		ret = an_run_finding(run, NULL, 0, "CAPTURE_DROPS", NULL, 0,
				     detail);
	}
	if (ret == 0 && run->capture_truncated) {
		snprintf(detail, sizeof(detail),
			 "%lld of the run's packets kept headers only, %llu "
			 "not kept (the capture ring's cap)",
			 (long long)cut, (unsigned long long)st.lost);
		ret = an_run_finding(run, NULL, 0, "CAPTURE_TRUNCATED", NULL,
				     0, detail);
	}
	/* a step of the wall clock during the run (its two readings) */
	const struct clock_map *cm = step_exec_item_clock(item);
	bool read = cm && cm->mono0_ns && cm->mono1_ns;
	double step_ms =
		read ? fabs((double)(cm->off1_ns - cm->off0_ns)) / 1e6 : 0;
	double allow = read ? 1.0 + 0.0006 *
					    (double)(cm->mono1_ns -
						     cm->mono0_ns) / 1e6
			    : 0;
	if (ret == 0 && read && step_ms > allow) {
		snprintf(detail, sizeof(detail),
			 "the wall clock moved %.3f ms against the monotonic "
			 "clock during the run: wire times are suspect",
			 step_ms);
		ret = an_run_finding(run, NULL, 0, "CLOCK_STEP", NULL, 0,
				     detail);
	}
	struct picked *pk = calloc(1, sizeof(*pk));
	if (pk) {
		pk->item = item;
		pk->idx = in.picked;
		pk->n = in.n_picked;
		pk->next = rc->picked;
		rc->picked = pk;
	} else {
		free(in.picked);
	}
	if (ret < 0)
		return errbuf_set(err, ret, "out of memory");
	return 0;
}

static struct picked **picked_of(struct run_cap *rc,
				 const struct step_exec_item *item)
{
	struct picked **pp = &rc->picked;
	while (*pp && (*pp)->item != item)
		pp = &(*pp)->next;
	return pp;
}

void run_capture_forget(struct run_cap *rc, struct step_exec_item *item)
{
	if (!rc)
		return;
	struct picked **pp = picked_of(rc, item);
	struct picked *pk = *pp;
	if (!pk)
		return;
	*pp = pk->next;
	free(pk->idx);
	free(pk);
}

/* Frame numbers of a finding ("[3,4,9]") as comments "CODE: detail". */
static int finding_comments(const struct finding_rec *f,
			    struct cap_ev_comment **v, size_t *n,
			    size_t *cap, char ***texts, size_t *n_texts,
			    size_t *cap_texts)
{
	if (!f->packets || !f->code)
		return 0;
	char *text = xasprintf("%s: %.300s", f->code,
			       f->detail ? f->detail : "");
	if (!text ||
	    xgrow(texts, cap_texts, *n_texts + 1, sizeof(**texts)) < 0) {
		free(text);
		return PE_NOMEM;
	}
	(*texts)[(*n_texts)++] = text;
	for (const char *p = f->packets; *p;) {
		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		char *end;
		unsigned long long fr = strtoull(p, &end, 10);
		p = end;
		if (xgrow(v, cap, *n + 1, sizeof(**v)) < 0)
			return PE_NOMEM;
		(*v)[(*n)++] = (struct cap_ev_comment){ fr, text };
	}
	return 0;
}

int run_capture_evidence(struct run_cap *rc, struct step_exec_item *item,
			 const char *spool, int64_t retention_days,
			 const char *reason, struct errbuf *err)
{
	struct run_rec *run = item->run;
	struct picked *pk = *picked_of(rc, item);
	if (!pk || pk->n == 0)
		return errbuf_set(err, PE_NOTFOUND, "no packets of this run");
	size_t n_if = capture_n_ifaces(rc->cap);
	struct cap_ev_iface *ifs = calloc(n_if + 1, sizeof(*ifs));
	struct cap_ev_frame *fr = calloc(pk->n, sizeof(*fr));
	struct cap_ev_comment *cm = NULL;
	size_t n_cm = 0, cap_cm = 0, n_texts = 0, cap_texts = 0;
	char **texts = NULL, *keylog = NULL;
	size_t keylog_len = 0;
	int ret = 0;
	if (!ifs || !fr) {
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_if; i++) {
		ifs[i].name = capture_iface(rc->cap, i)->name;
		ifs[i].linktype = capture_iface(rc->cap, i)->linktype;
	}
	for (size_t i = 0; i < pk->n; i++) {
		const struct cap_pkt *p = capture_get(rc->cap, pk->idx[i]);
		fr[i] = (struct cap_ev_frame){ p->ts_ns, p->data, p->caplen,
					       p->len, p->iface };
	}
	for (size_t s = 0; ret == 0 && s < run->n_steps; s++)
		for (size_t k = 0; ret == 0 && k < run->steps[s].n_findings;
		     k++)
			ret = finding_comments(&run->steps[s].findings[k], &cm,
					       &n_cm, &cap_cm, &texts,
					       &n_texts, &cap_texts);
	for (size_t k = 0; ret == 0 && k < run->n_findings; k++)
		ret = finding_comments(&run->findings[k], &cm, &n_cm, &cap_cm,
				       &texts, &n_texts, &cap_texts);
	if (ret < 0) {
		ret = errbuf_set(err, ret, "out of memory");
		goto out;
	}
	if (item->plan->keylog) {
		/* the run's own TLS secrets, only when the scenario asks */
		const struct tls_trace_set *set = step_exec_item_traces(item);
		for (size_t i = 0; set && i < set->n; i++)
			keylog_len += set->v[i]->keylog_len;
		keylog = calloc(1, keylog_len + 1);
		if (!keylog) {
			ret = errbuf_set(err, PE_NOMEM, "out of memory");
			goto out;
		}
		keylog_len = 0;
		for (size_t i = 0; set && i < set->n; i++) {
			memcpy(keylog + keylog_len, set->v[i]->keylog,
			       set->v[i]->keylog_len);
			keylog_len += set->v[i]->keylog_len;
		}
	}
	struct cap_ev_in in = {
		.spool = spool, .run_id = run->run_id, .ifaces = ifs,
		.n_ifaces = n_if, .frames = fr, .n_frames = pk->n,
		.comments = cm, .n_comments = n_cm,
		.dns_ports = rc->dns_ports, .n_dns_ports = rc->n_dns_ports,
		.keylog = item->plan->keylog ? keylog : NULL,
		.keylog_len = keylog_len,
	};
	struct cap_ev_out ev;
	memset(&ev, 0, sizeof(ev));
	if ((ret = cap_evidence_write(&in, &ev, err)) < 0) {
		cap_ev_out_release(&ev); /* also on error (cap_evidence.h) */
		goto out;
	}
	struct pcap_rec *pr = calloc(1, sizeof(*pr));
	char now[TIMEUTIL_UTC_LEN];
	if (!pr || timeutil_utc_now(now, sizeof(now)) < 0) {
		free(pr);
		cap_ev_out_release(&ev);
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
		goto out;
	}
	pcap_rec_init(pr);
	pr->path = xasprintf("pcaps/%s.pcapng", run->run_id);
	pr->bytes = (int64_t)ev.bytes;
	pr->sha256 = xstrdup(ev.sha256);
	pr->created_at = xstrdup(now);
	if (escalate_pcap_expiry(now, retention_days, &pr->expires_at) < 0)
		pr->expires_at = NULL;
	pr->reason = xstrdup(reason);
	pr->keylog = item->plan->keylog ? 1 : 0;
	cap_ev_out_release(&ev);
	if (run->pcap) {
		pcap_rec_release(run->pcap);
		free(run->pcap);
	}
	run->pcap = pr;
	if (!pr->path || !pr->sha256 || !pr->created_at || !pr->reason)
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
out:
	if (keylog) {
		explicit_bzero(keylog, keylog_len);
		free(keylog);
	}
	for (size_t i = 0; i < n_texts; i++)
		free(texts[i]);
	free(texts);
	free(cm);
	free(fr);
	free(ifs);
	return ret;
}

void run_capture_close(struct run_cap *rc)
{
	if (!rc)
		return;
	while (rc->picked) {
		struct picked *pk = rc->picked;
		rc->picked = pk->next;
		free(pk->idx);
		free(pk);
	}
	if (rc->cap) {
		capture_stop(rc->cap);
		capture_free(rc->cap);
	}
	free(rc->ep);
	free(rc);
}
