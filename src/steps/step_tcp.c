/*
 * step_tcp.c: non-blocking TCP connects on the loop (also used by the tls
 * step) and the `tcp` step.
 *
 * ip=both resolves and connects each address family separately and
 * records both connections, so a broken IPv6 path is seen even when IPv4
 * works (what Happy Eyeballs would hide from a user until it is slow).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "steps/step.h"
#include "util/xalloc.h"

struct step_connect {
	struct step_env *env;
	int fd;
	uint64_t t0_ns;
	step_connect_cb cb;
	void *ctx;
	struct step_loop_timer timer;  /* deadline, or immediate delivery */
	const char *error_class;       /* set when the result is known */
	char detail[128];
	bool done;
	struct step_conn_tuple tuple;
	bool have_tuple;             /* a SYN left: tuple is set */
};

static const char *errno_class(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return "tcp.refused";
	case ETIMEDOUT:
		return "tcp.timeout";
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return "tcp.unreachable";
	default:
		return "tcp.error";
	}
}

/* Deliver the result once and free the handle. */
static void connect_finish(struct step_connect *c, int fd,
			   const char *error_class)
{
	uint64_t now = step_loop_now_ns();
	step_connect_cb cb = c->cb;
	void *ctx = c->ctx;
	char detail[128];
	memcpy(detail, c->detail, sizeof(detail));
	step_loop_unwatch(c->env->loop, c->fd);
	step_loop_timer_stop(c->env->loop, &c->timer);
	if (fd < 0 && c->fd >= 0)
		close(c->fd);
	double ms = step_ms(c->t0_ns, now);
	struct step_conn_tuple tuple = c->tuple;
	bool have = c->have_tuple;
	free(c);
	cb(ctx, fd, error_class, fd < 0 ? detail : NULL, ms,
	   have ? &tuple : NULL);
}

static void on_writable(struct step_loop *loop, int fd, unsigned ev,
			void *ctx)
{
	struct step_connect *c = ctx;
	int err = 0;
	socklen_t len = sizeof(err);
	(void)loop;
	(void)ev;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		connect_finish(c, fd, NULL);
		return;
	}
	snprintf(c->detail, sizeof(c->detail), "connect: %s", strerror(err));
	connect_finish(c, -1, errno_class(err));
}

static void on_timer(struct step_loop *loop, void *ctx)
{
	struct step_connect *c = ctx;
	(void)loop;
	if (c->error_class) { /* an immediate failure, delivered late */
		connect_finish(c, -1, c->error_class);
		return;
	}
	if (c->done) { /* an immediate success */
		connect_finish(c, c->fd, NULL);
		return;
	}
	snprintf(c->detail, sizeof(c->detail),
		 "connect: no answer before the deadline");
	connect_finish(c, -1, "tcp.timeout");
}

/* connect(), telling the run's hooks first and recording the socket's
 * 5-tuple after (errno is connect's). */
static int connect_now(struct step_connect *c, const struct sockaddr *sa,
		       socklen_t len)
{
	step_env_endpoint(c->env, IPPROTO_TCP, sa);
	int r = connect(c->fd, sa, len);
	int e = errno;
	if (r == 0 || e == EINPROGRESS) {
		step_env_flow(c->env, IPPROTO_TCP, c->fd, sa);
		socklen_t ll = sizeof(c->tuple.local);
		if (getsockname(c->fd, (struct sockaddr *)&c->tuple.local,
				&ll) == 0 &&
		    len <= sizeof(c->tuple.remote)) {
			memcpy(&c->tuple.remote, sa, len);
			c->have_tuple = true;
		}
	}
	errno = e;
	return r;
}

int step_connect_start(struct step_env *env, const struct sockaddr *sa,
		       socklen_t len, uint64_t deadline_ns,
		       step_connect_cb cb, void *ctx,
		       struct step_connect **out)
{
	struct step_connect *c = calloc(1, sizeof(*c));
	if (!c)
		return PE_NOMEM;
	c->env = env;
	c->cb = cb;
	c->ctx = ctx;
	c->t0_ns = step_loop_now_ns();
	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (c->fd < 0) {
		snprintf(c->detail, sizeof(c->detail), "socket: %s",
			 strerror(errno));
		c->error_class = errno_class(errno);
	} else if (connect_now(c, sa, len) == 0) {
		c->done = true;
	} else if (errno != EINPROGRESS) {
		snprintf(c->detail, sizeof(c->detail), "connect: %s",
			 strerror(errno));
		c->error_class = errno_class(errno);
	} else if (step_loop_watch(env->loop, c->fd, STEP_LOOP_WRITE,
				   on_writable, c) < 0) {
		close(c->fd);
		free(c);
		return PE_NOMEM;
	}
	uint64_t now = step_loop_now_ns();
	uint64_t delay = (c->error_class || c->done || deadline_ns <= now)
				 ? 0
				 : deadline_ns - now;
	step_loop_timer_start(env->loop, &c->timer, delay, on_timer, c);
	if (out)
		*out = c;
	return 0;
}

void step_connect_cancel(struct step_env *env, struct step_connect *c)
{
	if (!c)
		return;
	step_loop_unwatch(env->loop, c->fd);
	step_loop_timer_stop(env->loop, &c->timer);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

void step_tcp_info(struct conn_rec *c, int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_total_retrans) +
			  sizeof(ti.tcpi_total_retrans))
		return;
	c->source = RUN_SOURCE_TCP_INFO;
	/* tcpi_rtt is µs; 0 before the first sample */
	if (ti.tcpi_rtt > 0) {
		c->rtt_ms = ti.tcpi_rtt / 1000.0;
		c->rtt_quality = RUN_QUALITY_MEASURED;
	}
	c->retrans = ti.tcpi_total_retrans;
	c->mss = ti.tcpi_snd_mss;
	c->sack = (ti.tcpi_options & TCPI_OPT_SACK) ? 1 : 0;
	if (ti.tcpi_options & TCPI_OPT_WSCALE)
		c->wscale = ti.tcpi_snd_wscale;
}

/* ---- the tcp step ------------------------------------------------------ */

/* One family's attempt: resolve, then connect to each address in turn. */
struct tcp_try {
	struct tcp_job *tj;
	int family;
	struct step_addrs addrs;
	size_t next;
	const char *error_class;
	char detail[160];
	double dns_ms, connect_ms;
	bool ok, finished;
	struct step_conn_tuple last;  /* the last failed attempt's */
	bool have_last;
};

struct tcp_job {
	struct step_job *job;
	char *host;
	struct tcp_try tries[2];
	size_t n_tries, pending;
	struct step_loop_timer done_timer;
};

static void tcp_try_next(struct tcp_try *t);

static void tcp_job_finish(struct step_loop *loop, void *ctx)
{
	struct tcp_job *tj = ctx;
	struct step_job *job = tj->job;
	struct step_rec *r = job->rec;
	(void)loop;
	/* the step's own figures are those of the first family tried */
	r->dns_ms = tj->tries[0].dns_ms;
	r->connect_ms = tj->tries[0].connect_ms;
	r->conn_state = RUN_CONN_NEW;
	for (size_t i = 0; i < tj->n_tries; i++) {
		struct tcp_try *t = &tj->tries[i];
		if (!t->ok) {
			/* the last attempt is the failed try's connection:
			 * what its packets show (TCP_REFUSED, SYN_NO_SYNACK)
			 * is the step's too */
			if (step_rec_add_attempt(job, t->have_last ? &t->last
								   : NULL) < 0)
				step_fail(job, "internal", "out of memory");
			const char *fam = tj->n_tries > 1
						  ? (t->family == AF_INET6
							     ? "ipv6: "
							     : "ipv4: ")
						  : "";
			step_fail(job, t->error_class, "%s%s", fam, t->detail);
		}
	}
	free(tj->host);
	free(tj);
	job->done(job);
}

static void tcp_try_end(struct tcp_try *t)
{
	struct tcp_job *tj = t->tj;
	t->finished = true;
	if (--tj->pending == 0)
		step_loop_timer_start(tj->job->env->loop, &tj->done_timer, 0,
				      tcp_job_finish, tj);
}

static void on_connected(void *ctx, int fd, const char *error_class,
			 const char *detail, double connect_ms,
			 const struct step_conn_tuple *tuple)
{
	struct tcp_try *t = ctx;
	struct step_job *job = t->tj->job;
	if (fd < 0) {
		t->have_last = tuple != NULL;
		if (tuple)
			t->last = *tuple;
		t->error_class = error_class;
		snprintf(t->detail, sizeof(t->detail), "%s", detail);
		t->connect_ms = connect_ms;
		tcp_try_next(t);
		return;
	}
	struct conn_rec *c;
	if (step_rec_add_conn(job->rec, &c) == 0) {
		c->key = step_env_conn_key(job->env);
		step_conn_from_fd(c, fd);
		c->conn_state = RUN_CONN_NEW;
		c->source = RUN_SOURCE_LIBRARY;
		c->connect_ms = connect_ms;
		step_tcp_info(c, fd);
		/* right after the handshake, every retransmission was a SYN */
		c->syn_retrans = c->retrans;
		if (isnan(job->rec->connect_ms) || t == &t->tj->tries[0])
			job->rec->family = c->family;
	}
	close(fd);
	t->ok = true;
	t->error_class = NULL;
	t->connect_ms = connect_ms;
	tcp_try_end(t);
}

static void tcp_try_next(struct tcp_try *t)
{
	struct step_job *job = t->tj->job;
	if (t->next >= t->addrs.n || step_loop_now_ns() >=
					     step_job_deadline_ns(job)) {
		if (!t->error_class) {
			t->error_class = "tcp.timeout";
			snprintf(t->detail, sizeof(t->detail),
				 "no address connected before the deadline");
		}
		tcp_try_end(t);
		return;
	}
	size_t i = t->next++;
	if (step_connect_start(job->env, (struct sockaddr *)&t->addrs.a[i],
			       t->addrs.len[i], step_job_deadline_ns(job),
			       on_connected, t, NULL) < 0) {
		t->error_class = "tcp.error";
		snprintf(t->detail, sizeof(t->detail), "out of memory");
		tcp_try_end(t);
	}
}

static void on_resolved(void *ctx, const char *error_class,
			const char *detail, const struct step_addrs *addrs,
			double dns_ms)
{
	struct tcp_try *t = ctx;
	t->dns_ms = dns_ms;
	if (error_class) {
		t->error_class = error_class;
		snprintf(t->detail, sizeof(t->detail), "%s", detail);
		tcp_try_end(t);
		return;
	}
	t->addrs = *addrs;
	tcp_try_next(t);
}

int step_tcp_start(struct step_job *job)
{
	const struct scn_step *st = job->st;
	struct errbuf err;
	struct tcp_job *tj = calloc(1, sizeof(*tj));
	if (!tj)
		return PE_NOMEM;
	tj->job = job;
	tj->host = step_expand(job->env, &st->target, &err);
	if (!tj->host) {
		free(tj);
		return PE_NOMEM; /* the executor checked the variables */
	}
	static const int fams[][2] = { [SCN_IP_ANY] = { AF_UNSPEC, 0 },
				       [SCN_IP_4] = { AF_INET, 0 },
				       [SCN_IP_6] = { AF_INET6, 0 },
				       [SCN_IP_BOTH] = { AF_INET, AF_INET6 } };
	tj->n_tries = st->opts.ip == SCN_IP_BOTH ? 2 : 1;
	tj->pending = tj->n_tries;
	for (size_t i = 0; i < tj->n_tries; i++) {
		struct tcp_try *t = &tj->tries[i];
		t->tj = tj;
		t->family = fams[st->opts.ip][i];
		t->dns_ms = NAN;
		t->connect_ms = NAN;
	}
	/* both families at once: neither waits for the other's timeout */
	for (size_t i = 0; i < tj->n_tries; i++)
		if (step_dns_resolve(job->env, tj->host, tj->tries[i].family,
				     st->port, step_job_deadline_ns(job),
				     on_resolved, &tj->tries[i]) < 0) {
			/* already-started resolutions still call back */
			tj->tries[i].error_class = "tcp.error";
			snprintf(tj->tries[i].detail,
				 sizeof(tj->tries[i].detail), "out of memory");
			tcp_try_end(&tj->tries[i]);
		}
	return 0;
}
