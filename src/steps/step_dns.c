/*
 * step_dns.c: name resolution for the other steps and the `dns` step,
 * with c-ares 1.18 driven by the run's poll loop (step_loop.h).
 *
 * DESIGN section 3: DNS is the probe's own (the scenario's resolvers, its
 * timing), never libcurl's threaded resolver.  c-ares 1.18 has no event
 * thread and no ares_process_fds(), so each channel tells us which sockets
 * to watch through ARES_OPT_SOCK_STATE_CB, the loop calls ares_process_fd()
 * when one is ready, and one loop timer per channel, re-armed from
 * ares_timeout() after every call into c-ares, lets c-ares retry and time
 * out (ares_process_fd(BAD, BAD)).
 *
 * Channels: one per run (struct step_dns, the scenario's resolvers and its
 * `defaults`), used by step_dns_resolve(); and one per dns step, created
 * and destroyed by the step, because c-ares options (server, tries,
 * timeout, TCP use) are per channel.
 *
 * Choices that differ from c-ares' defaults, and why:
 * - ARES_FLAG_NOCHECKRESP.  By default c-ares takes SERVFAIL, REFUSED and
 *   NOTIMP for a broken server, retries, and (1.18) ends with a status that
 *   no longer says what the server answered.  A probe exists to record that
 *   answer, so every answer ends the query.
 * - No EDNS.  c-ares 1.18 turns EDNS off for the whole channel on the first
 *   SERVFAIL/FORMERR/NOTIMP and re-sends: a second query inside the one we
 *   time.  Large answers come back truncated and are retried over TCP
 *   (dns_tcp=auto), as a plain stub resolver does.
 * - The per-try timeout (ARES_OPT_TIMEOUTMS) is a share of the budget.
 *   c-ares waits timeout << round for each server, round by round, so
 *   `tries` rounds over n servers last n * timeout * (2^tries - 1).  Using
 *   the step's whole timeout as the first try's would leave no room for
 *   any retry; the budget itself is enforced by our own deadline timer.
 * - Explicit resolvers mean exactly those: no hosts file, no search
 *   domains (ARES_OPT_LOOKUPS "b", zero ARES_OPT_DOMAINS), no rotation.
 *   With the system's resolvers c-ares behaves like the system resolver
 *   (/etc/hosts, search list from resolv.conf).
 *
 * Callbacks never run inside c-ares: query callbacks only store their
 * result and arm a 0-delay loop timer, and the user's callback (resolve)
 * or job->done (dns step) run from that timer.  So nothing is ever
 * destroyed from inside ares_process_fd(), and nothing is called back from
 * inside step_dns_resolve() or step_dns_start().
 *
 * The answers of the dns step are read by a small bounds-checked walker
 * over the reply rather than c-ares' ares_parse_*_reply(): in 1.18 those
 * drop owner names and TTLs for everything but A/AAAA and fold CNAME
 * chains into a hostent, and the answers column wants every record's name,
 * TTL and data.  Domain names still go through ares_expand_name() (it
 * checks compression pointers and escapes odd bytes).  When packet/cursor.h
 * exists, struct rd should become a struct cur.
 */
#include "steps/step.h"

#include <arpa/inet.h>
#include <ares.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/json.h"
#include "util/xalloc.h"

#define DNS_MIN_TRY_MS 200u      /* floor of c-ares' first-try timeout */
#define DNS_MAX_TRY_MS 86400000u
#define DNS_MAX_RECORDS 256      /* answer records kept per dns step */
#define DNS_DETAIL_LEN 320
#define DNS_MAX_SERVERS 4        /* scn_plan.resolvers */

/* ---- channels ----------------------------------------------------------- */

struct dns_chan {
	ares_channel ch;
	struct step_loop *loop;
	struct step_env *env;    /* the run: its sockets are recorded */
	struct step_loop_timer timer;
	char server[64]; /* "IP:PORT" when there is exactly one, else "" */
};

struct dns_chan_cfg {
	const struct scn_resolver *servers; /* n == 0: the system's */
	size_t n;
	uint32_t budget_ms;
	unsigned retries;
	enum scn_dns_tcp tcp;
	struct step_env *env;
};

static int lib_init(struct errbuf *err)
{
	static bool ready;
	if (ready)
		return 0;
	int r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS)
		return errbuf_set(err, r == ARES_ENOMEM ? PE_NOMEM : PE_INVAL,
				  "c-ares: %s", ares_strerror(r));
	ready = true;
	return 0;
}

/* After every call into c-ares: when it next wants to be woken. */
static void chan_on_timer(struct step_loop *loop, void *ctx);

static void chan_rearm(struct dns_chan *c)
{
	struct timeval tv;
	if (!ares_timeout(c->ch, NULL, &tv)) {
		step_loop_timer_stop(c->loop, &c->timer);
		return;
	}
	/*
	 * ares_timeout() truncates to milliseconds; one more keeps us from
	 * waking just before the query's timeout and spinning.
	 */
	uint64_t ns = (uint64_t)tv.tv_sec * 1000000000u +
		      (uint64_t)tv.tv_usec * 1000u + 1000000u;
	step_loop_timer_start(c->loop, &c->timer, ns, chan_on_timer, c);
}

static void chan_on_timer(struct step_loop *loop, void *ctx)
{
	struct dns_chan *c = ctx;
	(void)loop;
	ares_process_fd(c->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	chan_rearm(c);
}

static void chan_on_io(struct step_loop *loop, int fd, unsigned events,
		       void *ctx)
{
	struct dns_chan *c = ctx;
	(void)loop;
	ares_socket_t r = (events & (STEP_LOOP_READ | STEP_LOOP_ERROR))
				  ? fd
				  : ARES_SOCKET_BAD;
	ares_socket_t w = (events & STEP_LOOP_WRITE) ? fd : ARES_SOCKET_BAD;
	ares_process_fd(c->ch, r, w);
	chan_rearm(c);
}

/*
 * c-ares opens, changes and closes its sockets (it reports a close before
 * closing).  Should the loop fail to grow, the query is left to time out
 * through chan_rearm(): slower, never stuck.
 */
static void chan_sock_state(void *data, ares_socket_t fd, int readable,
			    int writable)
{
	struct dns_chan *c = data;
	unsigned ev = (readable ? STEP_LOOP_READ : 0) |
		      (writable ? STEP_LOOP_WRITE : 0);
	if (!ev) {
		step_loop_unwatch(c->loop, fd);
		return;
	}
	if (step_loop_watch(c->loop, fd, ev, chan_on_io, c) < 0)
		step_loop_unwatch(c->loop, fd);
}

/*
 * The first try's timeout so that `tries` rounds over n servers fit the
 * budget (see the top of the file), never below DNS_MIN_TRY_MS.
 */
static int chan_try_ms(uint32_t budget_ms, unsigned tries, size_t n)
{
	uint64_t rounds = ((uint64_t)1 << (tries > 20 ? 20 : tries)) - 1;
	uint64_t t = budget_ms / (rounds * (n ? n : 1));
	if (t < DNS_MIN_TRY_MS)
		t = DNS_MIN_TRY_MS;
	if (t > DNS_MAX_TRY_MS)
		t = DNS_MAX_TRY_MS;
	return (int)t;
}

static void server_text(char *buf, size_t len, const struct scn_resolver *r)
{
	if (r->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", r->addr, (unsigned)r->port);
	else
		snprintf(buf, len, "%s:%u", r->addr, (unsigned)r->port);
}

static void chan_close(struct dns_chan *c)
{
	if (!c)
		return;
	/* calls back pending queries (ARES_EDESTRUCTION), unwatches */
	ares_destroy(c->ch);
	step_loop_timer_stop(c->loop, &c->timer);
	free(c);
}

/*
 * c-ares's socket calls, passed through, so that the run knows every DNS
 * socket's 5-tuple (the capture picks the run's packets by it) and tells
 * the capture about the server before the first query goes out.
 * c-ares 1.18 offers no other way to learn a query's source port.
 */
/*
 * Non-blocking, always: c-ares 1.18 sets O_NONBLOCK on the sockets it
 * makes itself but not on those of ares_set_socket_functions(), and it
 * reads a UDP socket until the read would block -- with a blocking socket
 * the next recvfrom after the last answer never returns, and the whole
 * loop (every step, every timeout) stops with it (a truncated answer and
 * its TCP retry did that: tests/integration/0800, row 4).
 */
static ares_socket_t dns_asocket(int domain, int type, int protocol,
				 void *ud)
{
	(void)ud;
	return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}

static int dns_aclose(ares_socket_t fd, void *ud)
{
	(void)ud;
	return close(fd);
}

static int dns_aconnect(ares_socket_t fd, const struct sockaddr *sa,
			ares_socklen_t len, void *ud)
{
	struct dns_chan *c = ud;
	int type = 0;
	socklen_t tl = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		type = SOCK_DGRAM;
	uint8_t proto = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
	if (c->env)
		step_env_endpoint(c->env, proto, sa);
	int r = connect(fd, sa, len);
	int e = errno;
	if (c->env && (r == 0 || e == EINPROGRESS))
		step_env_flow(c->env, proto, fd, sa);
	errno = e;
	return r;
}

static ares_ssize_t dns_arecvfrom(ares_socket_t fd, void *buf, size_t len,
				  int flags, struct sockaddr *from,
				  ares_socklen_t *from_len, void *ud)
{
	(void)ud;
	return recvfrom(fd, buf, len, flags, from, from_len);
}

static ares_ssize_t dns_asendv(ares_socket_t fd, const struct iovec *iov,
			       int n, void *ud)
{
	(void)ud;
	return writev(fd, iov, n);
}

static const struct ares_socket_functions dns_sock_funcs = {
	dns_asocket, dns_aclose, dns_aconnect, dns_arecvfrom, dns_asendv,
};

static int chan_open(struct step_loop *loop, const struct dns_chan_cfg *cfg,
		     struct dns_chan **out, struct errbuf *err)
{
	static char lookups_dns_only[] = "b";
	struct ares_addr_port_node nodes[DNS_MAX_SERVERS];
	struct ares_options o;
	struct dns_chan *c = NULL;
	int ret, r, mask;

	if ((ret = lib_init(err)) < 0)
		return ret;
	if (cfg->n > DNS_MAX_SERVERS)
		return errbuf_set(err, PE_INVAL, "more than %d resolvers",
				  DNS_MAX_SERVERS);
	memset(nodes, 0, sizeof(nodes));
	for (size_t i = 0; i < cfg->n; i++) {
		const struct scn_resolver *s = &cfg->servers[i];
		void *dst = s->family == AF_INET6
				    ? (void *)&nodes[i].addr.addr6
				    : (void *)&nodes[i].addr.addr4;
		nodes[i].family = s->family == AF_INET6 ? AF_INET6 : AF_INET;
		if (inet_pton(nodes[i].family, s->addr, dst) != 1)
			return errbuf_set(err, PE_INVAL,
					  "resolver '%s' is not an IP address",
					  s->addr);
		nodes[i].udp_port = nodes[i].tcp_port = s->port;
		nodes[i].next = i + 1 < cfg->n ? &nodes[i + 1] : NULL;
	}

	if (!(c = calloc(1, sizeof(*c))))
		return errbuf_set(err, PE_NOMEM, "out of memory");
	c->loop = loop;
	if (cfg->n == 1)
		server_text(c->server, sizeof(c->server), &cfg->servers[0]);

	memset(&o, 0, sizeof(o));
	mask = ARES_OPT_FLAGS | ARES_OPT_TRIES | ARES_OPT_TIMEOUTMS |
	       ARES_OPT_SOCK_STATE_CB | ARES_OPT_NOROTATE;
	o.flags = ARES_FLAG_NOCHECKRESP;
	if (cfg->tcp == SCN_DNS_TCP_ALWAYS)
		o.flags |= ARES_FLAG_USEVC;
	else if (cfg->tcp == SCN_DNS_TCP_NEVER)
		o.flags |= ARES_FLAG_IGNTC;
	o.tries = (int)cfg->retries + 1;
	o.timeout = chan_try_ms(cfg->budget_ms, (unsigned)o.tries, cfg->n);
	o.sock_state_cb = chan_sock_state;
	o.sock_state_cb_data = c;
	if (cfg->n) {
		o.lookups = lookups_dns_only;
		o.domains = NULL;
		o.ndomains = 0;
		mask |= ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS;
	}
	r = ares_init_options(&c->ch, &o, mask);
	if (r != ARES_SUCCESS) {
		ret = errbuf_set(err, r == ARES_ENOMEM ? PE_NOMEM : PE_INVAL,
				 "c-ares: %s", ares_strerror(r));
		free(c);
		return ret;
	}
	if (cfg->n &&
	    (r = ares_set_servers_ports(c->ch, nodes)) != ARES_SUCCESS) {
		ret = errbuf_set(err, r == ARES_ENOMEM ? PE_NOMEM : PE_INVAL,
				 "c-ares servers: %s", ares_strerror(r));
		ares_destroy(c->ch);
		free(c);
		return ret;
	}
	c->env = cfg->env;
	ares_set_socket_functions(c->ch, &dns_sock_funcs, c);
	*out = c;
	return 0;
}

/* ---- error classes ------------------------------------------------------ */

/* c-ares statuses that name a DNS outcome; everything else is dns.error. */
static const struct {
	int status;
	const char *cls;
	const char *what;
	int rcode; /* -1: no rcode */
} ares_outcomes[] = {
	{ ARES_ENOTFOUND, "dns.nxdomain", "NXDOMAIN", 3 },
	{ ARES_ENODATA, "dns.nodata", "no records of that type", 0 },
	{ ARES_ESERVFAIL, "dns.servfail", "SERVFAIL", 2 },
	{ ARES_EREFUSED, "dns.refused", "REFUSED", 5 },
	{ ARES_EFORMERR, "dns.error", "FORMERR", 1 },
	{ ARES_ENOTIMP, "dns.error", "NOTIMP", 4 },
	{ ARES_ETIMEOUT, "dns.timeout", "timeout", -1 },
	{ ARES_ENOMEM, "internal", "out of memory", -1 },
};

/* The class of a failed c-ares status; *what gets a readable reason. */
static const char *status_class(int status, const char **what, int *rcode)
{
	for (size_t i = 0; i < sizeof(ares_outcomes) / sizeof(*ares_outcomes);
	     i++)
		if (ares_outcomes[i].status == status) {
			*what = ares_outcomes[i].what;
			if (rcode)
				*rcode = ares_outcomes[i].rcode;
			return ares_outcomes[i].cls;
		}
	*what = ares_strerror(status);
	if (rcode)
		*rcode = -1;
	return "dns.error";
}

/* The class of a non-NOERROR rcode. */
static const char *rcode_class(int rcode)
{
	switch (rcode) {
	case 2:
		return "dns.servfail";
	case 3:
		return "dns.nxdomain";
	case 5:
		return "dns.refused";
	default:
		return "dns.error";
	}
}

static const char *rcode_text(int rcode, char *buf, size_t len)
{
	const char *n = scn_rcode_name(rcode);
	if (n)
		return n;
	snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}

/* ---- the run's resolver ------------------------------------------------- */

struct dns_res;

struct step_dns {
	struct step_loop *loop;
	struct dns_chan *chan;
	struct dns_res *res;  /* resolves not yet freed */
	unsigned n_in_ares;   /* of them, those c-ares still holds */
};

/*
 * One step_dns_resolve().  Freed when it has been delivered and c-ares no
 * longer holds it (a query abandoned at our deadline lives on until c-ares
 * calls back), or by step_dns_env_release().
 */
struct dns_res {
	struct step_dns *dns;         /* NULL once released while delivering */
	struct step_loop *loop;
	struct dns_res *next, **pprev;
	step_resolve_cb cb;
	void *ctx;
	char *host;
	int family;
	uint16_t port;
	uint64_t t0_ns;
	struct step_loop_timer deadline, deliver;
	bool in_ares, decided, delivering, delivered;
	const char *error_class;      /* NULL: addrs */
	char detail[DNS_DETAIL_LEN];
	double dns_ms;
	struct step_addrs addrs;
};

static void res_unlink(struct dns_res *q)
{
	if (!q->pprev)
		return;
	*q->pprev = q->next;
	if (q->next)
		q->next->pprev = q->pprev;
	q->next = NULL;
	q->pprev = NULL;
}

static void res_free(struct dns_res *q)
{
	res_unlink(q);
	step_loop_timer_stop(q->loop, &q->deadline);
	step_loop_timer_stop(q->loop, &q->deliver);
	free(q->host);
	free(q);
}

static void res_try_free(struct dns_res *q)
{
	if (q->delivered && !q->delivering && !q->in_ares)
		res_free(q);
}

static void res_fail(struct dns_res *q, const char *cls, const char *fmt,
		     ...) PE_PRINTF(3, 4);
static void res_fail(struct dns_res *q, const char *cls, const char *fmt,
		     ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q->detail, sizeof(q->detail), fmt, ap);
	va_end(ap);
	q->error_class = cls;
	q->addrs.n = 0;
	q->decided = true;
}

/* Append sa unless it is there already; false when full. */
static bool addrs_add(struct step_addrs *a, const struct sockaddr *sa,
		      socklen_t len, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t want = sa->sa_family == AF_INET6
				 ? sizeof(struct sockaddr_in6)
				 : sizeof(struct sockaddr_in);
	if (len < want || a->n >= STEP_MAX_ADDRS)
		return a->n < STEP_MAX_ADDRS;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, want);
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_port = htons(port);
		for (size_t i = 0; i < a->n; i++) {
			const struct sockaddr_in6 *o =
				(const struct sockaddr_in6 *)&a->a[i];
			if (o->sin6_family == AF_INET6 &&
			    !memcmp(&o->sin6_addr, &s6->sin6_addr, 16) &&
			    o->sin6_scope_id == s6->sin6_scope_id)
				return true;
		}
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_port = htons(port);
		for (size_t i = 0; i < a->n; i++) {
			const struct sockaddr_in *o =
				(const struct sockaddr_in *)&a->a[i];
			if (o->sin_family == AF_INET &&
			    o->sin_addr.s_addr == s4->sin_addr.s_addr)
				return true;
		}
	}
	a->a[a->n] = ss;
	a->len[a->n] = want;
	a->n++;
	return true;
}

static const char *family_text(int family)
{
	return family == AF_INET ? "A" : family == AF_INET6 ? "AAAA"
							     : "A or AAAA";
}

/* Take c-ares' answer: IPv6 first, then IPv4, as getaddrinfo orders. */
static void res_take(struct dns_res *q, int status,
		     const struct ares_addrinfo *ai)
{
	static const int order[] = { AF_INET6, AF_INET };
	const char *what;

	if (status != ARES_SUCCESS) {
		const char *cls = status_class(status, &what, NULL);
		if (status == ARES_ENODATA)
			res_fail(q, cls, "%s: no %s records", q->host,
				 family_text(q->family));
		else
			res_fail(q, cls, "%s: %s", q->host, what);
		return;
	}
	q->addrs.n = 0;
	for (size_t k = 0; k < 2; k++) {
		if (q->family != AF_UNSPEC && q->family != order[k])
			continue;
		for (const struct ares_addrinfo_node *n = ai ? ai->nodes : NULL;
		     n; n = n->ai_next)
			if (n->ai_family == order[k] && n->ai_addr &&
			    !addrs_add(&q->addrs, n->ai_addr, n->ai_addrlen,
				       q->port))
				break;
	}
	if (q->addrs.n == 0) {
		res_fail(q, "dns.nodata", "%s: no %s records", q->host,
			 family_text(q->family));
		return;
	}
	q->error_class = NULL;
	q->detail[0] = '\0';
	q->decided = true;
}

static void res_deliver(struct dns_res *q)
{
	step_loop_timer_stop(q->loop, &q->deliver);
	step_loop_timer_stop(q->loop, &q->deadline);
	q->delivered = true;
	q->delivering = true;
	q->cb(q->ctx, q->error_class, q->error_class ? q->detail : NULL,
	      &q->addrs, q->dns_ms);
	q->delivering = false;
	/* the callback may have released the env: q is ours alone then */
	res_try_free(q);
}

static void res_on_deliver(struct step_loop *loop, void *ctx)
{
	(void)loop;
	res_deliver(ctx);
}

static void res_on_addrinfo(void *arg, int status, int timeouts,
			    struct ares_addrinfo *ai)
{
	struct dns_res *q = arg;
	(void)timeouts;
	q->in_ares = false;
	if (q->dns)
		q->dns->n_in_ares--;
	if (!q->decided && status != ARES_EDESTRUCTION &&
	    status != ARES_ECANCELLED) {
		q->dns_ms = step_ms(q->t0_ns, step_loop_now_ns());
		res_take(q, status, ai);
		step_loop_timer_stop(q->loop, &q->deadline);
		step_loop_timer_start(q->loop, &q->deliver, 0, res_on_deliver,
				      q);
	}
	if (ai)
		ares_freeaddrinfo(ai);
	/* step_dns_env_release() frees what ares_destroy() calls back */
	if (status != ARES_EDESTRUCTION)
		res_try_free(q);
}

static void res_on_deadline(struct step_loop *loop, void *ctx)
{
	struct dns_res *q = ctx;
	(void)loop;
	q->dns_ms = step_ms(q->t0_ns, step_loop_now_ns());
	res_fail(q, "dns.timeout", "%s: no answer within %.0f ms", q->host,
		 q->dns_ms);
	/*
	 * c-ares 1.18 cancels queries only channel-wide.  A scenario resolves
	 * one name at a time, so the channel usually holds only this query
	 * and ares_cancel() ends it cleanly (and closes its sockets).  If
	 * another resolve is in flight, this one is abandoned instead: its
	 * answer is dropped when c-ares gives up or the env is released.
	 */
	if (q->in_ares && q->dns && q->dns->n_in_ares == 1) {
		ares_cancel(q->dns->chan->ch);
		chan_rearm(q->dns->chan);
	}
	res_deliver(q);
}

int step_dns_env_init(struct step_env *env, struct errbuf *err)
{
	const struct scn_plan *p = env->plan;
	const struct scn_opts *d = &p->defaults;
	struct step_dns *dns;
	int ret;

	if (!(dns = calloc(1, sizeof(*dns))))
		return errbuf_set(err, PE_NOMEM, "out of memory");
	dns->loop = env->loop;
	struct dns_chan_cfg cfg = {
		.servers = p->resolvers,
		.n = p->n_resolvers,
		.budget_ms = (d->set & SCN_OPT_TIMEOUT)
				     ? d->timeout_ms
				     : SCN_DEFAULT_STEP_TIMEOUT_MS,
		.retries = (d->set & SCN_OPT_RETRIES)
				   ? d->retries
				   : SCN_DEFAULT_DNS_RETRIES,
		.tcp = (d->set & SCN_OPT_DNS_TCP) ? d->dns_tcp
						  : SCN_DNS_TCP_AUTO,
		.env = env,
	};
	if ((ret = chan_open(env->loop, &cfg, &dns->chan, err)) < 0) {
		free(dns);
		return ret;
	}
	env->dns = dns;
	return 0;
}

void step_dns_env_release(struct step_env *env)
{
	struct step_dns *dns = env->dns;
	if (!dns)
		return;
	/* every query c-ares holds comes back with ARES_EDESTRUCTION */
	chan_close(dns->chan);
	dns->chan = NULL;
	while (dns->res) {
		struct dns_res *q = dns->res;
		if (q->delivering) {
			/* released from its own callback: it frees itself */
			res_unlink(q);
			step_loop_timer_stop(q->loop, &q->deadline);
			q->dns = NULL;
		} else {
			res_free(q); /* never delivered: cancelled silently */
		}
	}
	free(dns);
	env->dns = NULL;
}

/* An IP literal (IPv6 may come in brackets): fill ss, true. */
static bool ip_literal(const char *host, struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return true;
	}
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' &&
	    n - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

/*
 * RFC 6761 6.3: localhost names are the loopback, never asked of a DNS
 * server.  c-ares 1.18 agrees but, with our "b"-only lookups, fails them.
 */
static bool is_localhost(const char *host)
{
	static const char suffix[] = ".localhost";
	size_t n = strlen(host), sn = sizeof(suffix) - 1;
	if (n && host[n - 1] == '.')
		n--;
	return (n == sn - 1 && !strncasecmp(host, suffix + 1, n)) ||
	       (n > sn && !strncasecmp(host + n - sn, suffix, sn));
}

static void loopback(struct step_addrs *a, int family, uint16_t port)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	s6.sin6_addr = in6addr_loopback;
	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (family != AF_INET)
		addrs_add(a, (struct sockaddr *)&s6, sizeof(s6), port);
	if (family != AF_INET6)
		addrs_add(a, (struct sockaddr *)&s4, sizeof(s4), port);
}

int step_dns_resolve(struct step_env *env, const char *host, int family,
		     uint16_t port, uint64_t deadline_ns, step_resolve_cb cb,
		     void *ctx)
{
	struct step_dns *dns = env->dns;
	struct sockaddr_storage lit;
	struct dns_res *q;

	if (!dns || !cb ||
	    (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC))
		return PE_INVAL;
	if (!(q = calloc(1, sizeof(*q))) || !(q->host = xstrdup(host))) {
		free(q);
		return PE_NOMEM;
	}
	q->dns = dns;
	q->loop = dns->loop;
	q->cb = cb;
	q->ctx = ctx;
	q->family = family;
	q->port = port;
	q->next = dns->res;
	if (q->next)
		q->next->pprev = &q->next;
	q->pprev = &dns->res;
	dns->res = q;

	if (ip_literal(host, &lit)) {
		/* no query, no time: dns_ms is NULL */
		q->dns_ms = NAN;
		if (family != AF_UNSPEC && family != lit.ss_family)
			res_fail(q, "dns.nodata", "%s: not an %s address",
				 host, family == AF_INET ? "IPv4" : "IPv6");
		else {
			addrs_add(&q->addrs, (struct sockaddr *)&lit,
				  sizeof(lit), port);
			q->decided = true;
		}
		step_loop_timer_start(q->loop, &q->deliver, 0, res_on_deliver,
				      q);
		return 0;
	}
	if (is_localhost(host)) {
		q->dns_ms = NAN;
		loopback(&q->addrs, family, port);
		q->decided = true;
		step_loop_timer_start(q->loop, &q->deliver, 0, res_on_deliver,
				      q);
		return 0;
	}

	struct ares_addrinfo_hints hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	/* we order ourselves; c-ares' RFC 6724 sort connect()s UDP sockets */
	hints.ai_flags = ARES_AI_NOSORT;
	q->t0_ns = step_loop_now_ns();
	if (deadline_ns)
		step_loop_timer_start(q->loop, &q->deadline,
				      deadline_ns > q->t0_ns
					      ? deadline_ns - q->t0_ns
					      : 0,
				      res_on_deadline, q);
	q->in_ares = true;
	dns->n_in_ares++;
	/* may call back at once (hosts file, errors): res_on_addrinfo defers */
	ares_getaddrinfo(dns->chan->ch, host, NULL, &hints, res_on_addrinfo,
			 q);
	chan_rearm(dns->chan);
	return 0;
}

/* ---- reading answers ---------------------------------------------------- */

/*
 * A bounds-checked reader over part of a DNS message (STYLE section 6): a
 * short read returns 0 and sets the sticky `bad`.  msg/mlen is the whole
 * message, for compressed names.
 */
struct rd {
	const unsigned char *msg;
	int mlen;
	const unsigned char *p, *end;
	bool bad;
};

static unsigned rd_u8(struct rd *c)
{
	if (c->bad || c->end - c->p < 1) {
		c->bad = true;
		return 0;
	}
	return *c->p++;
}

static unsigned rd_u16(struct rd *c)
{
	unsigned hi = rd_u8(c);
	return (hi << 8) | rd_u8(c);
}

static uint32_t rd_u32(struct rd *c)
{
	uint32_t hi = rd_u16(c);
	return (hi << 16) | rd_u16(c);
}

static const unsigned char *rd_bytes(struct rd *c, size_t n)
{
	const unsigned char *p = c->p;
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	return p;
}

/* A domain name, malloc'ed ("." for the root); NULL and bad on error. */
static char *rd_name(struct rd *c)
{
	char *s = NULL, *copy;
	long enclen = 0;
	if (c->bad || c->p >= c->end ||
	    ares_expand_name(c->p, c->msg, c->mlen, &s, &enclen) !=
		    ARES_SUCCESS) {
		c->bad = true;
		return NULL;
	}
	if (enclen <= 0 || enclen > c->end - c->p) {
		ares_free_string(s);
		c->bad = true;
		return NULL;
	}
	c->p += enclen;
	copy = xstrdup(s[0] ? s : ".");
	ares_free_string(s);
	if (!copy)
		c->bad = true;
	return copy;
}

static bool rd_put_name(struct rd *c, FILE *out)
{
	char *s = rd_name(c);
	if (!s)
		return false;
	fputs(s, out);
	free(s);
	return true;
}

/* A <character-string> in presentation format: quoted, escaped. */
static void put_quoted(FILE *out, const unsigned char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(out, "\\%c", s[i]);
		else if (s[i] < 0x20 || s[i] >= 0x7f)
			fprintf(out, "\\%03u", s[i]);
		else
			fputc(s[i], out);
	}
	fputc('"', out);
}

static bool rd_put_string(struct rd *c, FILE *out)
{
	unsigned n = rd_u8(c);
	const unsigned char *s = rd_bytes(c, n);
	if (!s)
		return false;
	put_quoted(out, s, n);
	return true;
}

/* Each decoder reads all of c and writes RDATA's presentation format. */
static bool rdata_a(struct rd *c, FILE *out)
{
	char buf[INET_ADDRSTRLEN];
	const unsigned char *p = rd_bytes(c, 4);
	if (!p || c->p != c->end || !inet_ntop(AF_INET, p, buf, sizeof(buf)))
		return false;
	fputs(buf, out);
	return true;
}

static bool rdata_aaaa(struct rd *c, FILE *out)
{
	char buf[INET6_ADDRSTRLEN];
	const unsigned char *p = rd_bytes(c, 16);
	if (!p || c->p != c->end ||
	    !inet_ntop(AF_INET6, p, buf, sizeof(buf)))
		return false;
	fputs(buf, out);
	return true;
}

static bool rdata_name(struct rd *c, FILE *out) /* NS CNAME PTR DNAME */
{
	return rd_put_name(c, out) && c->p == c->end;
}

static bool rdata_mx(struct rd *c, FILE *out)
{
	fprintf(out, "%u ", rd_u16(c));
	return !c->bad && rd_put_name(c, out) && c->p == c->end;
}

static bool rdata_srv(struct rd *c, FILE *out)
{
	unsigned prio = rd_u16(c), weight = rd_u16(c), port = rd_u16(c);
	fprintf(out, "%u %u %u ", prio, weight, port);
	return !c->bad && rd_put_name(c, out) && c->p == c->end;
}

static bool rdata_soa(struct rd *c, FILE *out)
{
	if (!rd_put_name(c, out))
		return false;
	fputc(' ', out);
	if (!rd_put_name(c, out))
		return false;
	for (int i = 0; i < 5; i++)
		fprintf(out, " %" PRIu32, rd_u32(c));
	return !c->bad && c->p == c->end;
}

static bool rdata_txt(struct rd *c, FILE *out)
{
	if (c->p == c->end)
		return false;
	for (bool first = true; c->p < c->end; first = false) {
		if (!first)
			fputc(' ', out);
		if (!rd_put_string(c, out))
			return false;
	}
	return true;
}

static bool rdata_caa(struct rd *c, FILE *out)
{
	unsigned flags = rd_u8(c), taglen = rd_u8(c);
	const unsigned char *tag = rd_bytes(c, taglen);
	if (!tag || taglen == 0)
		return false;
	fprintf(out, "%u ", flags);
	for (unsigned i = 0; i < taglen; i++)
		if ((tag[i] < '0' || tag[i] > '9') &&
		    (tag[i] < 'a' || tag[i] > 'z') &&
		    (tag[i] < 'A' || tag[i] > 'Z'))
			return false;
	fwrite(tag, 1, taglen, out);
	fputc(' ', out);
	put_quoted(out, c->p, (size_t)(c->end - c->p));
	c->p = c->end;
	return true;
}

/* RFC 3597 for types we do not decode, and for malformed RDATA. */
static void rdata_generic(const unsigned char *p, size_t n, FILE *out)
{
	fprintf(out, "\\# %zu", n);
	if (n)
		fputc(' ', out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
}

static const struct {
	uint16_t type;
	const char *name;
	bool (*decode)(struct rd *c, FILE *out);
} rr_types[] = {
	{ 1, "A", rdata_a },         { 2, "NS", rdata_name },
	{ 5, "CNAME", rdata_name },  { 6, "SOA", rdata_soa },
	{ 12, "PTR", rdata_name },   { 15, "MX", rdata_mx },
	{ 16, "TXT", rdata_txt },    { 28, "AAAA", rdata_aaaa },
	{ 33, "SRV", rdata_srv },    { 39, "DNAME", rdata_name },
	{ 257, "CAA", rdata_caa },
};

static const char *type_text(uint16_t type, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(rr_types) / sizeof(*rr_types); i++)
		if (rr_types[i].type == type)
			return rr_types[i].name;
	snprintf(buf, len, "TYPE%u", (unsigned)type);
	return buf;
}

/* The presentation text of one RR's RDATA; NULL when out of memory. */
static char *rdata_text(uint16_t type, const struct rd *rdata)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	for (size_t i = 0; i < sizeof(rr_types) / sizeof(*rr_types); i++) {
		if (rr_types[i].type != type)
			continue;
		struct rd c = *rdata;
		if (!(out = open_memstream(&buf, &len)))
			return NULL;
		bool ok = rr_types[i].decode(&c, out);
		if (fclose(out) != 0) {
			free(buf);
			return NULL;
		}
		if (ok)
			return buf;
		free(buf);
		buf = NULL;
		break;
	}
	if (!(out = open_memstream(&buf, &len)))
		return NULL;
	rdata_generic(rdata->p, (size_t)(rdata->end - rdata->p), out);
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

struct dns_rr {
	uint16_t type;
	int64_t ttl;
	char *name, *data;
};

/* The answer records of a dns step, in the order of its types. */
struct dns_rrs {
	struct dns_rr *v;
	size_t n, cap;
	size_t omitted; /* beyond DNS_MAX_RECORDS or RUN_MAX_TEXT */
};

static void rrs_release(struct dns_rrs *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].data);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/*
 * Add a record, taking name and data; one already there (the CNAME of both
 * the A and the AAAA answer) is dropped.
 */
static int rrs_add(struct dns_rrs *s, uint16_t type, int64_t ttl, char *name,
		   char *data)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].type == type && !strcmp(s->v[i].name, name) &&
		    !strcmp(s->v[i].data, data))
			goto drop;
	if (s->n >= DNS_MAX_RECORDS) {
		s->omitted++;
		goto drop;
	}
	if (xgrow(&s->v, &s->cap, s->n + 1, sizeof(*s->v)) < 0) {
		free(name);
		free(data);
		return PE_NOMEM;
	}
	s->v[s->n++] = (struct dns_rr){ type, ttl, name, data };
	return 0;
drop:
	free(name);
	free(data);
	return 0;
}

/*
 * Walk the answer section of a reply (RFC 1035 4.1).  A malformed message
 * stops the walk where it breaks; what came before is kept.
 */
static int rrs_parse(struct dns_rrs *s, const unsigned char *msg, int mlen)
{
	struct rd c = { msg, mlen, msg, msg + (mlen > 0 ? mlen : 0), false };
	unsigned qdcount, ancount;

	rd_bytes(&c, 4); /* id, flags */
	qdcount = rd_u16(&c);
	ancount = rd_u16(&c);
	rd_bytes(&c, 4); /* nscount, arcount */
	for (unsigned i = 0; i < qdcount && !c.bad; i++) {
		free(rd_name(&c));
		rd_bytes(&c, 4);
	}
	for (unsigned i = 0; i < ancount && !c.bad; i++) {
		char *name = rd_name(&c);
		uint16_t type = (uint16_t)rd_u16(&c);
		rd_u16(&c); /* class */
		uint32_t ttl = rd_u32(&c);
		unsigned rdlen = rd_u16(&c);
		const unsigned char *p = rd_bytes(&c, rdlen);
		if (!p) {
			free(name);
			break;
		}
		struct rd rdata = { msg, mlen, p, p + rdlen, false };
		char *data = rdata_text(type, &rdata);
		if (!data) {
			free(name);
			return PE_NOMEM;
		}
		/* RFC 2181 8: a TTL with the top bit set means zero */
		int ret = rrs_add(s, type, ttl > INT32_MAX ? 0 : (int64_t)ttl,
				  name, data);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The records as the answers column's JSON array, capped at RUN_MAX_TEXT. */
static char *rrs_json(struct dns_rrs *s)
{
	/* room kept for ,{"omitted":N}] */
	const size_t reserve = 40;
	char *buf = NULL, *rb = NULL;
	size_t len = 0, rl = 0, used = 1;
	char tbuf[16];
	FILE *out = open_memstream(&buf, &len), *rf;
	bool first = true;

	if (!out)
		return NULL;
	fputc('[', out);
	for (size_t i = 0; i < s->n; i++) {
		const struct dns_rr *r = &s->v[i];
		struct json j;
		if (!(rf = open_memstream(&rb, &rl)))
			goto fail;
		json_init(&j, rf);
		json_obj_begin(&j);
		json_key(&j, "type");
		json_str(&j, type_text(r->type, tbuf, sizeof(tbuf)));
		json_key(&j, "name");
		json_str(&j, r->name);
		json_key(&j, "ttl");
		json_int(&j, r->ttl);
		json_key(&j, "data");
		json_str(&j, r->data);
		json_obj_end(&j);
		if (fclose(rf) != 0)
			goto fail;
		if (used + 1 + rl + reserve > RUN_MAX_TEXT) {
			s->omitted++;
		} else {
			if (!first)
				fputc(',', out);
			fwrite(rb, 1, rl, out);
			used += (first ? 0 : 1) + rl;
			first = false;
		}
		free(rb);
		rb = NULL;
	}
	if (s->omitted)
		fprintf(out, "%s{\"omitted\":%zu}", first ? "" : ",",
			s->omitted);
	fputc(']', out);
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
fail:
	free(rb);
	fclose(out);
	free(buf);
	return NULL;
}

/* ---- the dns step ------------------------------------------------------- */

struct dns_job;

/* One record type's query. */
struct dns_q {
	struct dns_job *j;
	uint16_t qtype;
	bool done;           /* c-ares called back */
	int status;
	unsigned char *abuf; /* the reply, when there was one */
	int alen;
	uint64_t at_ns;       /* when c-ares called back */
};

struct dns_job {
	struct step_job *job;
	struct dns_chan *chan;
	char *name;          /* expanded target */
	char *shown;         /* the target as written (${VAR}), for details */
	char *ptr_name;      /* the reverse name, for PTR of an IP literal */
	char server[64];     /* the one server asked, for details; or "" */
	uint64_t t0_ns, t_last_ns, t_end_ns;
	size_t n, pending;
	struct dns_q q[SCN_MAX_QTYPES];
	struct step_loop_timer deadline, finish;
	bool closing;
	const char *early_class; /* failed before any query */
	char early_detail[DNS_DETAIL_LEN];
};

static void job_on_finish(struct step_loop *loop, void *ctx);

static void job_on_answer(void *arg, int status, int timeouts,
			  unsigned char *abuf, int alen)
{
	struct dns_q *q = arg;
	struct dns_job *j = q->j;
	(void)timeouts;
	/* ares_destroy() from job_finish(): j is still alive, just closing */
	if (j->closing || q->done || status == ARES_EDESTRUCTION)
		return;
	q->done = true;
	q->status = status;
	if (abuf && alen > 0) {
		if ((q->abuf = malloc((size_t)alen))) {
			memcpy(q->abuf, abuf, (size_t)alen);
			q->alen = alen;
		} else {
			q->status = ARES_ENOMEM;
		}
	}
	j->t_last_ns = q->at_ns = step_loop_now_ns();
	if (--j->pending == 0) {
		step_loop_timer_stop(j->job->env->loop, &j->deadline);
		step_loop_timer_start(j->job->env->loop, &j->finish, 0,
				      job_on_finish, j);
	}
}

/* The rcode of one type's outcome: from the reply's header, else -1. */
static int q_rcode(const struct dns_q *q)
{
	const char *what;
	int rcode;
	if (q->abuf && q->alen >= 12)
		return q->abuf[3] & 0x0f;
	if (!q->done)
		return -1;
	status_class(q->status, &what, &rcode);
	return q->status == ARES_ENODATA ? -1 : rcode;
}

/* Why one type did not end with the wanted rcode: class and detail. */
static const char *q_failure(const struct dns_job *j, const struct dns_q *q,
			     int rcode, int want, char *detail, size_t len)
{
	const char *type = scn_qtype_name(q->qtype), *what, *cls;
	const char *target = j->shown ? j->shown : "?";
	char tbuf[16], rbuf[16], wbuf[16], srv[80] = "";

	if (!type)
		type = type_text(q->qtype, tbuf, sizeof(tbuf));
	if (j->server[0])
		snprintf(srv, sizeof(srv), " (server %s)", j->server);
	/* our deadline, or c-ares' tries used up: the same to a reader */
	if (rcode < 0 && (!q->done || q->status == ARES_ETIMEOUT)) {
		snprintf(detail, len, "%s %s: no answer within %.0f ms%s",
			 target, type,
			 step_ms(j->t0_ns, q->done ? q->at_ns : j->t_end_ns),
			 srv);
		return "dns.timeout";
	}
	if (rcode < 0) {
		cls = status_class(q->status, &what, NULL);
		snprintf(detail, len, "%s %s: %s%s", target, type, what, srv);
		return cls;
	}
	cls = rcode ? rcode_class(rcode) : "dns.rcode";
	if (want < 0)
		snprintf(detail, len, "%s %s: %s%s", target, type,
			 rcode_text(rcode, rbuf, sizeof(rbuf)), srv);
	else
		snprintf(detail, len, "%s %s: %s, expected %s%s", target,
			 type, rcode_text(rcode, rbuf, sizeof(rbuf)),
			 rcode_text(want, wbuf, sizeof(wbuf)), srv);
	return cls;
}

static const struct scn_expect *rcode_expect(const struct scn_step *st)
{
	for (size_t i = 0; i < st->n_expects; i++)
		if (st->expects[i].what == SCN_EXP_RCODE)
			return &st->expects[i];
	return NULL;
}

/* Fill the step's record from the outcomes. */
static void job_record(struct dns_job *j)
{
	struct step_rec *rec = j->job->rec;
	const struct scn_expect *exp = rcode_expect(j->job->st);
	int want = exp ? exp->rcode : 0;
	const char *fail_class = NULL;
	char detail[DNS_DETAIL_LEN];
	struct dns_rrs rrs = { 0 };
	bool all = true, nomem = false;
	uint64_t t_reply = 0;
	int64_t rcode = RUN_NULL_INT;

	if (j->early_class) {
		step_fail(j->job, j->early_class, "%s", j->early_detail);
		return;
	}
	for (size_t i = 0; i < j->n; i++) {
		const struct dns_q *q = &j->q[i];
		int rc = q_rcode(q);
		all &= q->done;
		if (q->abuf && q->at_ns > t_reply)
			t_reply = q->at_ns;
		if (rc >= 0 && (rcode == RUN_NULL_INT || rcode == 0))
			rcode = rc;
		if (rc != want && !fail_class)
			fail_class = q_failure(j, q, rc, exp ? want : -1,
					       detail, sizeof(detail));
		if (q->abuf && rrs_parse(&rrs, q->abuf, q->alen) < 0)
			nomem = true;
	}
	/* dns_ms: to the last reply; total_ms: to the last outcome */
	rec->dns_ms = t_reply ? step_ms(j->t0_ns, t_reply) : NAN;
	rec->total_ms = step_ms(j->t0_ns, all ? j->t_last_ns : j->t_end_ns);
	rec->rcode = rcode;
	free(rec->answers);
	rec->answers = t_reply ? rrs_json(&rrs) : NULL; /* NULL: no reply */
	rrs_release(&rrs);
	if ((nomem || (t_reply && !rec->answers)) && !fail_class) {
		fail_class = "internal";
		snprintf(detail, sizeof(detail), "%s",
			 "out of memory reading answers");
	}
	if (fail_class) {
		step_fail(j->job, fail_class, "%s", detail);
	} else {
		rec->ok = true;
		free(rec->error);
		free(rec->error_detail);
		rec->error = rec->error_detail = NULL;
	}
}

static void job_free(struct dns_job *j)
{
	struct step_loop *loop = j->job->env->loop;
	j->closing = true;
	step_loop_timer_stop(loop, &j->deadline);
	step_loop_timer_stop(loop, &j->finish);
	chan_close(j->chan); /* its callbacks see j->closing */
	j->chan = NULL;
	for (size_t i = 0; i < j->n; i++)
		free(j->q[i].abuf);
	if (j->name)
		step_secret_free(j->name);
	free(j->shown);
	free(j->ptr_name);
	free(j);
}

/* From a loop timer only: record, free, then job->done. */
static void job_finish(struct dns_job *j)
{
	struct step_job *job = j->job;

	j->t_end_ns = step_loop_now_ns();
	j->closing = true;
	chan_close(j->chan); /* cancels what the deadline cut short */
	j->chan = NULL;
	job_record(j);
	job_free(j);
	job->priv = NULL;
	job->done(job);
}

static void job_on_finish(struct step_loop *loop, void *ctx)
{
	(void)loop;
	job_finish(ctx);
}

static void job_on_deadline(struct step_loop *loop, void *ctx)
{
	(void)loop;
	job_finish(ctx);
}

/* Fail before any query; job->done still comes from the loop. */
static int job_fail_early(struct dns_job *j, const char *cls,
			  const char *fmt, ...) PE_PRINTF(3, 4);
static int job_fail_early(struct dns_job *j, const char *cls,
			  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->early_detail, sizeof(j->early_detail), fmt, ap);
	va_end(ap);
	j->early_class = cls;
	step_loop_timer_start(j->job->env->loop, &j->finish, 0, job_on_finish,
			      j);
	return 0;
}

/* "4.3.2.1.in-addr.arpa" or the ip6.arpa nibbles; NULL if not an IP. */
static char *reverse_name(const char *host)
{
	struct sockaddr_storage ss;
	char buf[80];
	size_t n = 0;
	if (!ip_literal(host, &ss))
		return NULL;
	if (ss.ss_family == AF_INET) {
		const unsigned char *b = (const unsigned char *)&(
			(struct sockaddr_in *)&ss)->sin_addr;
		return xasprintf("%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1],
				 b[0]);
	}
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = (const unsigned char *)&(
		(struct sockaddr_in6 *)&ss)->sin6_addr;
	for (int i = 15; i >= 0; i--) {
		buf[n++] = hex[b[i] & 0x0f];
		buf[n++] = '.';
		buf[n++] = hex[b[i] >> 4];
		buf[n++] = '.';
	}
	memcpy(buf + n, "ip6.arpa", sizeof("ip6.arpa"));
	return xstrdup(buf);
}

int step_dns_start(struct step_job *job)
{
	const struct scn_step *st = job->st;
	const struct scn_plan *plan = job->env->plan;
	struct step_loop *loop = job->env->loop;
	struct dns_job *j;
	struct errbuf err = { "" };
	int ret;

	if (!(j = calloc(1, sizeof(*j))))
		return PE_NOMEM;
	j->job = job;
	job->priv = j;

	/* details show ${VAR}, never an environment value (DESIGN 4) */
	j->shown = scn_tmpl_show(&st->target);
	if (!(j->name = step_expand(job->env, &st->target, &err)))
		return job_fail_early(j, "dns.error", "%s", err.msg);
	if (st->n_qtypes == 0 || st->n_qtypes > SCN_MAX_QTYPES)
		return job_fail_early(j, "dns.error", "no record types");

	uint64_t now = step_loop_now_ns();
	uint64_t deadline = step_job_deadline_ns(job);
	uint64_t left_ms = deadline > now ? (deadline - now) / 1000000u : 0;
	struct dns_chan_cfg cfg = {
		.servers = plan->resolvers,
		.n = plan->n_resolvers,
		.budget_ms = st->opts.timeout_ms,
		.retries = st->opts.retries,
		.tcp = st->opts.dns_tcp,
		.env = job->env,
	};
	if (st->opts.set & SCN_OPT_RESOLVER) {
		cfg.servers = &st->opts.resolver;
		cfg.n = 1;
	}
	if (!cfg.budget_ms || (deadline && left_ms < cfg.budget_ms))
		cfg.budget_ms = (uint32_t)left_ms;
	if ((ret = chan_open(loop, &cfg, &j->chan, &err)) < 0) {
		if (ret == PE_NOMEM) {
			job_free(j);
			job->priv = NULL;
			return ret;
		}
		return job_fail_early(j, "dns.error", "%s", err.msg);
	}

	memcpy(j->server, j->chan->server, sizeof(j->server));

	bool ptr = false;
	j->n = j->pending = st->n_qtypes;
	for (size_t i = 0; i < j->n; i++) {
		j->q[i].j = j;
		j->q[i].qtype = st->qtypes[i];
		ptr |= st->qtypes[i] == SCN_QT_PTR;
	}
	/* PTR of an IP literal asks for its reverse name */
	struct sockaddr_storage lit;
	if (ptr && ip_literal(j->name, &lit) &&
	    !(j->ptr_name = reverse_name(j->name))) {
		job_free(j);
		job->priv = NULL;
		return PE_NOMEM;
	}
	j->t0_ns = step_loop_now_ns();
	if (deadline)
		step_loop_timer_start(loop, &j->deadline,
				      deadline > j->t0_ns ? deadline - j->t0_ns
							  : 0,
				      job_on_deadline, j);
	/* callbacks may come at once (bad name, memory): they only count */
	for (size_t i = 0; i < j->n; i++) {
		const char *qname = j->q[i].qtype == SCN_QT_PTR && j->ptr_name
					    ? j->ptr_name
					    : j->name;
		ares_query(j->chan->ch, qname, 1 /* C_IN */, j->q[i].qtype,
			   job_on_answer, &j->q[i]);
	}
	chan_rearm(j->chan);
	return 0;
}

size_t step_dns_system_servers(struct sockaddr_storage *out, size_t max)
{
	struct errbuf err;
	ares_channel ch;
	struct ares_addr_port_node *list = NULL;
	size_t n = 0;
	if (lib_init(&err) < 0 || ares_init(&ch) != ARES_SUCCESS)
		return 0;
	if (ares_get_servers_ports(ch, &list) == ARES_SUCCESS) {
		for (struct ares_addr_port_node *p = list; p && n < max;
		     p = p->next) {
			memset(&out[n], 0, sizeof(out[n]));
			uint16_t port = (uint16_t)(p->udp_port ? p->udp_port
							       : 53);
			if (p->family == AF_INET) {
				struct sockaddr_in *s4 =
					(struct sockaddr_in *)&out[n];
				s4->sin_family = AF_INET;
				s4->sin_port = htons(port);
				memcpy(&s4->sin_addr, &p->addr.addr4, 4);
				n++;
			} else if (p->family == AF_INET6) {
				struct sockaddr_in6 *s6 =
					(struct sockaddr_in6 *)&out[n];
				s6->sin6_family = AF_INET6;
				s6->sin6_port = htons(port);
				memcpy(&s6->sin6_addr, &p->addr.addr6, 16);
				n++;
			}
		}
		ares_free_data(list);
	}
	ares_destroy(ch);
	return n;
}
