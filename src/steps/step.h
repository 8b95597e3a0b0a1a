/*
 * step.h: executing a plan's steps on the loop, and what the step kinds
 * share.
 *
 * One struct step_env is one execution of one scenario ("a run"): its
 * plan, the run record it fills, its own c-ares channel (the scenario's
 * resolvers), its own curl multi handle and easy handle (so parallel
 * scenarios never share connections or cookies), its extracted variables
 * and the TLS record traces of its connections.  step_exec.c walks the
 * steps in order; each kind (step_dns.c, step_tcp.c, step_tls.c,
 * step_http.c) starts a struct step_job and calls job->done exactly once,
 * never from inside its start function (so the caller's stack unwinds
 * first).
 *
 * A failed probe is data: a kind sets job->rec->ok = false and
 * job->rec->error = "<kind>.<what>" (see STEP_ERR_* below) and still
 * returns 0.  A negative return from a start function means probe itself
 * failed (memory): the run is recorded with error "internal".
 */
#ifndef PROBE_STEPS_STEP_H
#define PROBE_STEPS_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "model/run.h"
#include "scenario/scn_plan.h"
#include "steps/step_loop.h"
#include "util/err.h"
#include "util/timeutil.h"

/*
 * Error classes (steps.error).  Public: alerting rules match them.
 *   dns.nxdomain dns.servfail dns.refused dns.nodata dns.timeout dns.error
 *   dns.rcode (NOERROR where `expect rcode=X` wanted another)
 *   tcp.refused tcp.timeout tcp.unreachable tcp.error
 *   tls.verify tls.hostname tls.pin tls.expiring tls.alert tls.timeout
 *   tls.error
 *   http.status http.body http.header http.extract http.too_large
 *   http.timeout http.error (plus tcp.* and tls.* for its connection)
 *   run.timeout (the scenario's budget ran out)   skipped (skipped=1)
 *   internal (probe itself failed during the step, e.g. out of memory)
 */

struct step_dns;      /* step_dns.c: the scenario's c-ares channel */
struct step_http;     /* step_http.c: its curl multi and easy handle */
struct tls_trace_set; /* tls_trace.c: record order and secrets */

/*
 * A socket the run opened (a DNS query's, a connection's): its 5-tuple,
 * so that the capture can pick exactly the run's packets (DESIGN section
 * 8).  proto is IPPROTO_TCP or IPPROTO_UDP.
 */
struct step_flow {
	uint8_t proto;
	struct sockaddr_storage local, remote;
};

/*
 * What the caller of step_exec_run() hears while runs execute: every
 * remote endpoint right before the first packet goes to it (the capture
 * adds it to its filter then; the call may block briefly).
 */
struct step_hooks {
	void (*endpoint)(void *ctx, uint8_t proto, const struct sockaddr *sa);
	void *ctx;
};

/* A value `extract`ed by an earlier step. */
struct step_var {
	char *name, *value;
};

struct step_env {
	struct step_loop *loop;
	const struct scn_plan *plan;
	struct run_rec *run;          /* steps pre-added, one per plan step */
	struct step_dns *dns;
	struct step_http *http;
	struct tls_trace_set *traces;
	const struct step_hooks *hooks;  /* may be NULL */
	struct step_flow *flows;      /* the run's sockets (with hooks) */
	size_t n_flows, cap_flows;
	struct step_var *vars;
	size_t n_vars, cap_vars;
	/* values seen in flight that step_redact() hides like ${NAME}s:
	 * cookies, credentials (name: the label shown, "cookie:session") */
	struct step_var *secrets;
	size_t n_secrets, cap_secrets;
	uint32_t next_conn_key;       /* conn_rec.key values handed out */
	uint64_t deadline_ns;         /* the scenario's whole budget */
	/* both clocks read at the run's start and end (timeutil.h); rows
	 * are timestamped with the start's offset (step_utc) */
	struct clock_map clock;
};

struct step_job {
	struct step_env *env;
	const struct scn_step *st;
	struct step_rec *rec;         /* valid until job->done returns */
	uint64_t t0_ns;               /* monotonic start */
	void (*done)(struct step_job *job);
	void *priv;                   /* the kind's own state */
};

/* A packet is about to go to sa (proto IPPROTO_*): tell the hooks. */
void step_env_endpoint(struct step_env *env, uint8_t proto,
		       const struct sockaddr *sa);

/* Remember socket fd's 5-tuple (its local address from getsockname;
 * remote: the peer it was connected to) when someone listens (hooks set:
 * a capture runs).  Duplicates are dropped; nothing happens when fd has
 * no local address yet. */
void step_env_flow(struct step_env *env, uint8_t proto, int fd,
		   const struct sockaddr *remote);

/* The next conn_rec.key of this run (never 0). */
uint32_t step_env_conn_key(struct step_env *env);

/*
 * Expand a template with the environment and this run's extracted
 * values.  Returns a malloc'ed string, or NULL with err naming the
 * missing variable (or PE_NOMEM).  Wipe-and-free secrets with
 * step_secret_free().
 */
char *step_expand(struct step_env *env, const struct scn_tmpl *t,
		  struct errbuf *err);
void step_secret_free(char *s);

/* Remember NAME=VALUE for later steps (replacing an earlier value). */
int step_var_set(struct step_env *env, const char *name, const char *value)
	PE_WARN_UNUSED;

/* Milliseconds between two monotonic instants, µs resolution. */
double step_ms(uint64_t from_ns, uint64_t to_ns);

/* UTC text of a monotonic instant for *_at columns.  Caller frees. */
char *step_utc(const struct step_env *env, uint64_t mono_ns);

/*
 * Replace the value of every environment variable the plan reads by
 * ${NAME} (values shorter than STEP_REDACT_MIN are left: replacing a "1"
 * everywhere would garble the text, and such a value is no secret).
 * Returns a malloc'ed string, NULL on PE_NOMEM.
 */
#define STEP_REDACT_MIN 4
char *step_redact(const struct step_env *env, const char *text);

/*
 * A value step_redact() replaces by ${label} from now on in this run: a
 * cookie the server set, a credential a header carried (the scenario's
 * own text, not the environment, may hold it).  Values shorter than
 * STEP_REDACT_MIN are not kept (as above); at most STEP_MAX_SECRETS.
 * PE_NOMEM.
 */
#define STEP_MAX_SECRETS 256
int step_secret_add(struct step_env *env, const char *label,
		    const char *value, size_t len);

/* Free (and wipe) the run's extracted variables and secrets. */
void step_env_release_vars(struct step_env *env);

/*
 * Fail the job's step: ok = false, error class and a detail, which is
 * redacted (step_redact) before it is kept.  The first failure wins.
 */
void step_fail(struct step_job *job, const char *error_class,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fill a connection's addresses and family from a connected socket. */
void step_conn_from_fd(struct conn_rec *c, int fd);

/*
 * The kernel's view of a connected TCP socket (TCP_INFO): rtt_ms (the
 * smoothed RTT), retrans (segments retransmitted so far), mss, wscale
 * (the peer's), sack, and source = tcp_info.  These are the figures a
 * run has without packet capture (DESIGN section 8); the capture's own
 * figures (source = pcap) replace them when there is one.  Silently does
 * nothing when the socket has no TCP_INFO.
 */
void step_tcp_info(struct conn_rec *c, int fd);

/*
 * Deadlines everywhere in steps/ are absolute CLOCK_MONOTONIC instants
 * in ns (step_loop_now_ns() + budget).  A job's deadline is the earlier of
 * its step's timeout and the scenario's.
 */
uint64_t step_job_deadline_ns(const struct step_job *job);

/* ---- name resolution (step_dns.c) ----------------------------------- */

#define STEP_MAX_ADDRS 16

struct step_addrs {
	size_t n;
	struct sockaddr_storage a[STEP_MAX_ADDRS]; /* port already set */
	socklen_t len[STEP_MAX_ADDRS];
};

/*
 * On success error_class and detail are NULL and addrs holds at least one
 * address; on failure error_class ("dns.nxdomain", "dns.timeout", ...)
 * and detail are set and addrs is non-NULL with n == 0.  dns_ms is NAN
 * when no query was made (an IP literal, localhost per RFC 6761).
 */
typedef void (*step_resolve_cb)(void *ctx, const char *error_class,
				const char *detail,
				const struct step_addrs *addrs, double dns_ms);

int step_dns_env_init(struct step_env *env, struct errbuf *err)
	PE_WARN_UNUSED;
void step_dns_env_release(struct step_env *env);

/*
 * The system's resolvers as c-ares reads them (/etc/resolv.conf), for
 * the capture filter of a scenario without `resolver`.  Returns how many
 * were written to out (at most max); 0 when none or on error.
 */
size_t step_dns_system_servers(struct sockaddr_storage *out, size_t max);

/*
 * Resolve host (a name or an IP literal) to addresses of family (AF_INET,
 * AF_INET6 or AF_UNSPEC for both, IPv6 first as getaddrinfo would), each
 * with port set.  cb is called exactly once, never from inside this call
 * (unless step_dns_env_release() drops the query first: then never).
 * Returns 0, PE_NOMEM, or PE_INVAL (no channel, a bad family).
 */
int step_dns_resolve(struct step_env *env, const char *host, int family,
		     uint16_t port, uint64_t deadline_ns, step_resolve_cb cb,
		     void *ctx) PE_WARN_UNUSED;

/* ---- the kinds ---------------------------------------------------------- */

int step_dns_start(struct step_job *job) PE_WARN_UNUSED;
int step_tcp_start(struct step_job *job) PE_WARN_UNUSED;
int step_tls_start(struct step_job *job) PE_WARN_UNUSED;
int step_http_start(struct step_job *job) PE_WARN_UNUSED;

int step_http_env_init(struct step_env *env, struct errbuf *err)
	PE_WARN_UNUSED;
void step_http_env_release(struct step_env *env);
/* Drop the run's cached TLS sessions (step_tls.c). */
void step_tls_env_release(struct step_env *env);

/* ---- TCP connects (step_tcp.c), also used by tls ----------------------- */

struct step_connect;

/* A connect's two addresses, the local one as the kernel bound it. */
struct step_conn_tuple {
	struct sockaddr_storage local, remote;
};

/*
 * fd >= 0: connected (the callee owns it now); fd < 0: error_class
 * ("tcp.refused", "tcp.timeout", "tcp.unreachable", "tcp.error") and
 * detail.  connect_ms from connect(2) to writable.  tuple: the attempt's
 * addresses (valid during the call), NULL when no SYN left (no socket,
 * connect(2) refused at once): a step that fails records its last
 * attempt as its connection with them, so the findings its packets show
 * are the step's (a failed attempt before a success stays the run's).
 */
typedef void (*step_connect_cb)(void *ctx, int fd, const char *error_class,
				const char *detail, double connect_ms,
				const struct step_conn_tuple *tuple);

/* A connection record for a connect attempt that failed: the step's,
 * with a key, its addresses and conn_state new.  PE_NOMEM. */
int step_rec_add_attempt(struct step_job *job,
			 const struct step_conn_tuple *tuple) PE_WARN_UNUSED;

/*
 * Start a non-blocking connect to sa; cb is called exactly once, never
 * from inside this call, unless step_connect_cancel() comes first.
 * *out (optional) is a handle for cancelling.  PE_NOMEM.
 */
int step_connect_start(struct step_env *env, const struct sockaddr *sa,
		       socklen_t len, uint64_t deadline_ns,
		       step_connect_cb cb, void *ctx,
		       struct step_connect **out) PE_WARN_UNUSED;
void step_connect_cancel(struct step_env *env, struct step_connect *c);

#endif
