/*
 * test_step_dns.c: step_dns.c against a real DNS server.
 *
 * The group starts two unprivileged dnsmasq children on 127.0.0.1 and
 * free high ports, with private configuration only (no resolv.conf, no
 * /etc/hosts):
 *   main      answers *.test from its own records (A, AAAA, CNAME, TXT,
 *             MX, NS, SRV, CAA, SOA, PTR), NXDOMAIN for other *.test
 *             names, REFUSED for any other name (it has no upstream);
 *   upstream  serves fail.test unsigned.  main validates DNSSEC with a
 *             (dummy) trust anchor for fail.test and forwards fail.test
 *             to upstream, so every fail.test answer is BOGUS: SERVFAIL.
 * plus a "silent" server: a bound UDP socket that never answers, and a
 * "crafted" one, served from the test's own loop, that sends malformed
 * answers dnsmasq never would.
 * Readiness is polled with real queries.  Without dnsmasq the tests skip.
 *
 * step_expand, step_fail, step_ms and step_job_deadline_ns are the real
 * ones from step_exec.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>
#include <cmocka.h>

#include "model/run.h"
#include "scenario/scn_plan.h"
#include "steps/step.h"
#include "steps/step_loop.h"
#include "util/xalloc.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MS 1000000ull

/* ---- fixture: the servers ------------------------------------------------ */

struct fx {
	char dir[64];
	pid_t main_pid, up_pid;
	uint16_t port;        /* main dnsmasq */
	int silent_fd;        /* bound, never read */
	uint16_t silent_port;
	int crafted_fd;       /* answers what a test tells it (crafted_reply) */
	uint16_t crafted_port;
};

static const char *dnsmasq_bin(void)
{
	static const char *const cands[] = { "/usr/sbin/dnsmasq",
					     "/sbin/dnsmasq",
					     "/usr/local/sbin/dnsmasq" };
	for (size_t i = 0; i < N_ELEM(cands); i++)
		if (access(cands[i], X_OK) == 0)
			return cands[i];
	return NULL;
}

/* A port free for both UDP and TCP on 127.0.0.1 (0 on failure). */
static uint16_t free_port(void)
{
	for (int tries = 0; tries < 20; tries++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof(sa);
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		int t = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		uint16_t port = 0;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (u >= 0 && t >= 0 &&
		    bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(u, (struct sockaddr *)&sa, &len) == 0 &&
		    bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			port = ntohs(sa.sin_port);
		if (u >= 0)
			close(u);
		if (t >= 0)
			close(t);
		if (port)
			return port;
	}
	return 0;
}

/*
 * Start bin unprivileged: --no-daemon keeps dnsmasq from changing user, so
 * under root the child becomes nobody itself.
 */
static pid_t spawn(const char *bin, const char **argv, const char *log)
{
	const struct passwd *pw = geteuid() == 0 ? getpwnam("nobody") : NULL;
	uid_t uid = pw ? pw->pw_uid : 65534;
	gid_t gid = pw ? pw->pw_gid : 65534;
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if (geteuid() == 0 &&
	    (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0))
		_exit(126);
	/* dies with us, should the test crash before its teardown (set after
	 * setuid(), which clears it) */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* execv() does not write to them; C declares them char * */
	execv(bin, (char *const *)argv);
	_exit(127);
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/* Poll a query until the server answers (true) or dies or 10 s pass. */
static bool dns_ready(uint16_t port, pid_t pid)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	unsigned char *q = NULL, buf[512];
	int qlen = 0, fd = socket(AF_INET, SOCK_DGRAM, 0);
	bool ok = false;
	uint64_t end = step_loop_now_ns() + 10000 * MS;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    ares_create_query("www.test", 1, 1, 0x4242, 1, &q, &qlen, 0) !=
		    ARES_SUCCESS)
		goto out;
	while (!ok && step_loop_now_ns() < end &&
	       waitpid(pid, NULL, WNOHANG) == 0) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (send(fd, q, (size_t)qlen, 0) < 0 ||
		    poll(&p, 1, 100) < 0) {
			/* refused: not listening yet; retry a little later */
			poll(NULL, 0, 10);
			continue;
		}
		ok = (p.revents & POLLIN) &&
		     recv(fd, buf, sizeof(buf), 0) >= 12;
		if (!ok && (p.revents & POLLERR)) {
			recv(fd, buf, sizeof(buf), 0); /* clears the error */
			poll(NULL, 0, 10);
		}
	}
out:
	if (q)
		ares_free_string(q);
	if (fd >= 0)
		close(fd);
	return ok;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void show_log(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "dnsmasq: %s", line);
	fclose(f);
}

/* Names in wire form, in hex, for --dns-rr: ns1.test, hostmaster.test */
#define HEX_NS1 "036e7331047465737400"
#define HEX_HOSTMASTER "0a686f73746d6173746572047465737400"
#define ZERO_DS                                                                \
	"00000000000000000000000000000000"                                     \
	"00000000000000000000000000000000"

static bool start_servers(struct fx *fx, const char *bin)
{
	char hosts[96], log[96], up_log[96], port_arg[32], up_port_arg[32];
	char fwd[64];
	uint16_t up = free_port();
	fx->port = free_port();
	if (!up || !fx->port || up == fx->port)
		return false;
	snprintf(hosts, sizeof(hosts), "%s/hosts", fx->dir);
	snprintf(log, sizeof(log), "%s/main.log", fx->dir);
	snprintf(up_log, sizeof(up_log), "%s/upstream.log", fx->dir);
	snprintf(port_arg, sizeof(port_arg), "--port=%u", fx->port);
	snprintf(up_port_arg, sizeof(up_port_arg), "--port=%u", up);
	snprintf(fwd, sizeof(fwd), "--server=/fail.test/127.0.0.1#%u", up);
	char *hosts_arg = xasprintf("--addn-hosts=%s", hosts);

	const char *common[] = {
		"dnsmasq", "--no-daemon", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--listen-address=127.0.0.1",
		"--bind-interfaces", "--pid-file=", "--log-facility=-",
		"--log-queries",
	};
	const char *up_only[] = { up_port_arg, "--local=/fail.test/" };
	const char *main_only[] = {
		port_arg, "--local-ttl=300", hosts_arg, "--local=/test/",
		"--txt-record=txt.test,v=spf1 -all,two",
		"--mx-host=mx.test,mail.test,10",
		"--cname=alias.test,www.test",
		"--srv-host=_sip._tcp.test,sip.test,5060,1,2",
		"--dns-rr=ns.test,2," HEX_NS1,
		"--dns-rr=caa.test,257,0005697373756563612e74657374",
		/* serial 1, refresh 2, retry 3, expire 4, minimum 5 */
		"--dns-rr=soa.test,6," HEX_NS1 HEX_HOSTMASTER
		"0000000100000002000000030000000400000005",
		fwd, "--dnssec", "--trust-anchor=.,1,8,2," ZERO_DS,
		"--trust-anchor=fail.test,1,8,2," ZERO_DS,
	};
	const char *argv[N_ELEM(common) + N_ELEM(main_only) + 1];
	size_t n = 0;

	for (size_t i = 0; i < N_ELEM(common); i++)
		argv[n++] = common[i];
	for (size_t i = 0; i < N_ELEM(up_only); i++)
		argv[n++] = up_only[i];
	argv[n] = NULL;
	fx->up_pid = spawn(bin, argv, up_log);

	n = N_ELEM(common);
	for (size_t i = 0; i < N_ELEM(main_only); i++)
		argv[n++] = main_only[i];
	argv[n] = NULL;
	fx->main_pid = spawn(bin, argv, log);
	free(hosts_arg);

	if (fx->up_pid > 0 && fx->main_pid > 0 &&
	    dns_ready(fx->port, fx->main_pid))
		return true;
	show_log(log);
	show_log(up_log);
	stop(&fx->main_pid);
	stop(&fx->up_pid);
	return false;
}

/* A UDP socket bound to 127.0.0.1 and a free port. */
static int udp_bound(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int group_setup(void **state)
{
	const char *bin = dnsmasq_bin();
	struct fx *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	fx->silent_fd = fx->crafted_fd = -1;
	*state = fx;
	if (!bin) {
		fprintf(stderr, "test_step_dns: no dnsmasq, skipping\n");
		return 0;
	}
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/probe-test-dns-XXXXXX");
	/* readable by dnsmasq running as nobody */
	if (!mkdtemp(fx->dir) || chmod(fx->dir, 0755) < 0)
		return -1;
	char path[96];
	snprintf(path, sizeof(path), "%s/hosts", fx->dir);
	write_file(path, "127.0.0.10 www.test\n"
			 "::10 www.test\n"
			 "127.0.0.11 v4.test\n");

	/* the silent server: datagrams queue up unread */
	if ((fx->silent_fd = udp_bound(&fx->silent_port)) < 0 ||
	    (fx->crafted_fd = udp_bound(&fx->crafted_port)) < 0)
		return -1;

	for (int attempt = 0; attempt < 5; attempt++)
		if (start_servers(fx, bin))
			return 0;
	return -1;
}

static int group_teardown(void **state)
{
	struct fx *fx = *state;
	char path[128];
	stop(&fx->main_pid);
	stop(&fx->up_pid);
	if (fx->silent_fd >= 0)
		close(fx->silent_fd);
	if (fx->crafted_fd >= 0)
		close(fx->crafted_fd);
	if (fx->dir[0]) {
		static const char *const files[] = { "hosts", "main.log",
						     "upstream.log" };
		for (size_t i = 0; i < N_ELEM(files); i++) {
			snprintf(path, sizeof(path), "%s/%s", fx->dir,
				 files[i]);
			unlink(path);
		}
		rmdir(fx->dir);
	}
	free(fx);
	return 0;
}

/* ---- a run: loop, plan, env ---------------------------------------------- */

struct trun {
	struct step_loop loop;
	struct scn_plan plan;
	struct step_env env;
	struct run_rec run;
};

enum { SRV_DNSMASQ = 1, SRV_SILENT = 2 };

static void resolver_set(struct scn_resolver *r, uint16_t port)
{
	memset(r, 0, sizeof(*r));
	r->family = AF_INET;
	snprintf(r->addr, sizeof(r->addr), "127.0.0.1");
	r->port = port;
}

/*
 * servers: SRV_* in the order asked, e.g. { SRV_SILENT, SRV_DNSMASQ }.
 * budget_ms: the `defaults` timeout for the run's channel (0: default).
 */
static void trun_init(struct trun *t, const struct fx *fx, const int *servers,
		      size_t n, uint32_t budget_ms)
{
	memset(t, 0, sizeof(*t));
	step_loop_init(&t->loop);
	run_rec_init(&t->run);
	for (size_t i = 0; i < n; i++)
		resolver_set(&t->plan.resolvers[i],
			     servers[i] == SRV_SILENT ? fx->silent_port
						      : fx->port);
	t->plan.n_resolvers = n;
	if (budget_ms) {
		t->plan.defaults.set |= SCN_OPT_TIMEOUT;
		t->plan.defaults.timeout_ms = budget_ms;
	}
	t->env.loop = &t->loop;
	t->env.plan = &t->plan;
	t->env.run = &t->run;
	/* the scenario's budget, as step_exec.c sets it */
	t->env.deadline_ns = step_loop_now_ns() + 60000 * MS;
	struct errbuf err = { "" };
	int r = step_dns_env_init(&t->env, &err);
	if (r < 0)
		fail_msg("step_dns_env_init: %s", err.msg);
	assert_non_null(t->env.dns);
}

/* Release everything; the loop must hold nothing of ours any more. */
static void trun_release(struct trun *t)
{
	step_dns_env_release(&t->env);
	assert_null(t->env.dns);
	assert_int_equal(t->loop.n, 0);
	assert_null(t->loop.timers);
	step_loop_release(&t->loop);
	run_rec_release(&t->run);
}

#define SKIP_WITHOUT_SERVERS(fx)                                              \
	do {                                                                  \
		if (!(fx)->main_pid)                                          \
			skip();                                               \
	} while (0)

/* ---- dns steps ---------------------------------------------------------- */

struct tstep {
	struct scn_step st;
	struct scn_seg seg;
	struct scn_expect exp;
};

static void tstep_init(struct tstep *s, const char *target,
		       const uint16_t *types, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->seg.kind = SCN_SEG_LIT;
	s->seg.text = xstrdup(target);
	assert_non_null(s->seg.text);
	s->st.kind = SCN_STEP_DNS;
	s->st.index = 1;
	s->st.target.segs = &s->seg;
	s->st.target.n = 1;
	s->st.opts.timeout_ms = 5000;
	s->st.opts.retries = 2;
	s->st.opts.dns_tcp = SCN_DNS_TCP_AUTO;
	assert_true(n <= SCN_MAX_QTYPES);
	memcpy(s->st.qtypes, types, n * sizeof(*types));
	s->st.n_qtypes = n;
}

static void tstep_expect_rcode(struct tstep *s, int rcode)
{
	s->exp.what = SCN_EXP_RCODE;
	s->exp.op = SCN_EXP_EQ;
	s->exp.rcode = rcode;
	s->st.expects = &s->exp;
	s->st.n_expects = 1;
}

static void tstep_release(struct tstep *s)
{
	free(s->seg.text);
}

struct tjob {
	struct step_job job; /* first: done gets it back */
	int done_calls;
	bool in_start;
};

/* A test server's fd watched on the run's loop, to drop when a step ends. */
static int g_unwatch_fd = -1;

static void tjob_done(struct step_job *job)
{
	struct tjob *tj = (struct tjob *)job;
	assert_false(tj->in_start);
	assert_null(job->priv);
	tj->done_calls++;
	if (g_unwatch_fd >= 0)
		step_loop_unwatch(job->env->loop, g_unwatch_fd);
}

/* Run one dns step to its end; the step's record (valid until release). */
static struct step_rec *run_step(struct trun *t, const struct tstep *s)
{
	struct step_rec *rec;
	struct tjob tj;
	assert_int_equal(run_rec_add_step(&t->run, &rec), 0);
	memset(&tj, 0, sizeof(tj));
	tj.job.env = &t->env;
	tj.job.st = &s->st;
	tj.job.rec = rec;
	tj.job.t0_ns = step_loop_now_ns();
	tj.job.done = tjob_done;
	tj.in_start = true;
	assert_int_equal(step_dns_start(&tj.job), 0);
	tj.in_start = false;
	assert_int_equal(tj.done_calls, 0);
	assert_int_equal(step_loop_run(&t->loop), 0);
	assert_int_equal(tj.done_calls, 1);
	return &t->run.steps[t->run.n_steps - 1];
}

static void test_step_dns_a_aaaa(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_DNSMASQ };
	static const uint16_t types[] = { SCN_QT_A, SCN_QT_AAAA };
	struct trun t;
	struct tstep s;
	trun_init(&t, fx, srv, 1, 0);
	tstep_init(&s, "www.test", types, 2);

	struct step_rec *rec = run_step(&t, &s);
	assert_true(rec->ok);
	assert_null(rec->error);
	assert_int_equal(rec->rcode, 0);
	assert_string_equal(rec->answers,
			    "[{\"type\":\"A\",\"name\":\"www.test\","
			    "\"ttl\":300,"
			    "\"data\":\"127.0.0.10\"},"
			    "{\"type\":\"AAAA\",\"name\":\"www.test\","
			    "\"ttl\":300,\"data\":\"::10\"}]");
	assert_true(isfinite(rec->dns_ms));
	assert_true(rec->dns_ms > 0 && rec->dns_ms < 1000);
	assert_true(rec->total_ms == rec->dns_ms);

	tstep_release(&s);
	trun_release(&t);
}

/* One type each; answers as the JSON the answers column gets. */
static void test_step_dns_record_types(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_DNSMASQ };
	static const struct {
		const char *name;
		uint16_t type;
		const char *json;
	} cases[] = {
		{ "alias.test", SCN_QT_CNAME,
		  "[{\"type\":\"CNAME\",\"name\":\"alias.test\",\"ttl\":300,"
		  "\"data\":\"www.test\"}]" },
		{ "alias.test", SCN_QT_A,
		  "[{\"type\":\"CNAME\",\"name\":\"alias.test\",\"ttl\":300,"
		  "\"data\":\"www.test\"},"
		  "{\"type\":\"A\",\"name\":\"www.test\",\"ttl\":300,"
		  "\"data\":\"127.0.0.10\"}]" },
		{ "txt.test", SCN_QT_TXT,
		  "[{\"type\":\"TXT\",\"name\":\"txt.test\",\"ttl\":300,"
		  "\"data\":\"\\\"v=spf1 -all\\\" \\\"two\\\"\"}]" },
		{ "mx.test", SCN_QT_MX,
		  "[{\"type\":\"MX\",\"name\":\"mx.test\",\"ttl\":300,"
		  "\"data\":\"10 mail.test\"}]" },
		{ "ns.test", SCN_QT_NS,
		  "[{\"type\":\"NS\",\"name\":\"ns.test\",\"ttl\":300,"
		  "\"data\":\"ns1.test\"}]" },
		{ "_sip._tcp.test", SCN_QT_SRV,
		  "[{\"type\":\"SRV\",\"name\":\"_sip._tcp.test\",\"ttl\":300,"
		  "\"data\":\"1 2 5060 sip.test\"}]" },
		{ "caa.test", SCN_QT_CAA,
		  "[{\"type\":\"CAA\",\"name\":\"caa.test\",\"ttl\":300,"
		  "\"data\":\"0 issue \\\"ca.test\\\"\"}]" },
		{ "soa.test", SCN_QT_SOA,
		  "[{\"type\":\"SOA\",\"name\":\"soa.test\",\"ttl\":300,"
		  "\"data\":\"ns1.test hostmaster.test 1 2 3 4 5\"}]" },
		/* an IP literal's PTR asks for its reverse name */
		{ "127.0.0.10", SCN_QT_PTR,
		  "[{\"type\":\"PTR\",\"name\":\"10.0.0.127.in-addr.arpa\","
		  "\"ttl\":300,\"data\":\"www.test\"}]" },
		/* NOERROR without records (NODATA) is a fine answer */
		{ "v4.test", SCN_QT_AAAA, "[]" },
	};
	struct trun t;
	trun_init(&t, fx, srv, 1, 0);
	for (size_t i = 0; i < N_ELEM(cases); i++) {
		struct tstep s;
		tstep_init(&s, cases[i].name, &cases[i].type, 1);
		struct step_rec *rec = run_step(&t, &s);
		if (!rec->ok || !rec->answers ||
		    strcmp(rec->answers, cases[i].json) != 0)
			fail_msg("%s %u: ok=%d error=%s (%s)\n"
				 " got  %s\n want %s",
				 cases[i].name, cases[i].type, rec->ok,
				 rec->error ? rec->error : "-",
				 rec->error_detail ? rec->error_detail : "-",
				 rec->answers ? rec->answers : "(null)",
				 cases[i].json);
		assert_int_equal(rec->rcode, 0);
		tstep_release(&s);
	}
	trun_release(&t);
}

static void test_step_dns_nxdomain(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_DNSMASQ };
	static const uint16_t types[] = { SCN_QT_A, SCN_QT_AAAA };
	struct trun t;
	struct tstep s;
	trun_init(&t, fx, srv, 1, 0);

	tstep_init(&s, "nx.test", types, 2);
	struct step_rec *rec = run_step(&t, &s);
	assert_false(rec->ok);
	assert_string_equal(rec->error, "dns.nxdomain");
	assert_non_null(strstr(rec->error_detail, "nx.test A: NXDOMAIN"));
	assert_int_equal(rec->rcode, 3);
	assert_string_equal(rec->answers, "[]");

	/* expect rcode=NXDOMAIN: that is success */
	tstep_expect_rcode(&s, 3);
	rec = run_step(&t, &s);
	assert_true(rec->ok);
	assert_null(rec->error);
	assert_int_equal(rec->rcode, 3);
	tstep_release(&s);

	/* ... and a name that exists fails it */
	tstep_init(&s, "www.test", types, 1);
	tstep_expect_rcode(&s, 3);
	rec = run_step(&t, &s);
	assert_false(rec->ok);
	assert_string_equal(rec->error, "dns.rcode");
	assert_non_null(
		strstr(rec->error_detail, "NOERROR, expected NXDOMAIN"));
	assert_int_equal(rec->rcode, 0);
	tstep_release(&s);
	trun_release(&t);
}

static void test_step_dns_servfail_refused(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_DNSMASQ };
	static const uint16_t a[] = { SCN_QT_A };
	static const uint16_t a_mx[] = { SCN_QT_A, SCN_QT_MX };
	struct trun t;
	struct tstep s;
	trun_init(&t, fx, srv, 1, 0);

	tstep_init(&s, "x.fail.test", a, 1);
	struct step_rec *rec = run_step(&t, &s);
	assert_false(rec->ok);
	assert_string_equal(rec->error, "dns.servfail");
	assert_non_null(strstr(rec->error_detail, "x.fail.test A: SERVFAIL"));
	assert_int_equal(rec->rcode, 2);
	tstep_release(&s);

	tstep_init(&s, "other.example", a_mx, 2);
	rec = run_step(&t, &s);
	assert_false(rec->ok);
	assert_string_equal(rec->error, "dns.refused");
	assert_int_equal(rec->rcode, 5);
	tstep_release(&s);
	trun_release(&t);
}

/* A server that never answers: dns.timeout when the step's time is up. */
static void test_step_dns_timeout(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_DNSMASQ };
	static const uint16_t types[] = { SCN_QT_A, SCN_QT_AAAA };
	struct trun t;
	struct tstep s;
	trun_init(&t, fx, srv, 1, 0);

	/* the step's own resolver= overrides the scenario's */
	tstep_init(&s, "www.test", types, 2);
	s.st.opts.set |= SCN_OPT_RESOLVER;
	resolver_set(&s.st.opts.resolver, fx->silent_port);
	s.st.opts.timeout_ms = 600;
	s.st.opts.retries = 1;
	uint64_t t0 = step_loop_now_ns();
	struct step_rec *rec = run_step(&t, &s);
	double took = (double)(step_loop_now_ns() - t0) / 1e6;
	assert_false(rec->ok);
	assert_string_equal(rec->error, "dns.timeout");
	assert_true(rec->rcode == RUN_NULL_INT);
	assert_true(isnan(rec->dns_ms)); /* no reply at all */
	assert_null(rec->answers);
	assert_non_null(strstr(rec->error_detail, "www.test A: no answer"));
	assert_true(took >= 590 && took < 600 + 300);
	assert_true(rec->total_ms >= 590 && rec->total_ms < 600 + 300);

	/* the scenario's budget (env->deadline_ns) can end it sooner */
	s.st.opts.timeout_ms = 5000;
	t.env.deadline_ns = step_loop_now_ns() + 300 * MS;
	t0 = step_loop_now_ns();
	rec = run_step(&t, &s);
	took = (double)(step_loop_now_ns() - t0) / 1e6;
	assert_string_equal(rec->error, "dns.timeout");
	assert_true(took >= 290 && took < 300 + 300);
	tstep_release(&s);
	trun_release(&t);
}

/* tcp=always (ARES_FLAG_USEVC) and tcp=never still get their answer. */
static void test_step_dns_tcp(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_DNSMASQ };
	static const uint16_t types[] = { SCN_QT_A, SCN_QT_TXT };
	static const enum scn_dns_tcp modes[] = { SCN_DNS_TCP_ALWAYS,
						  SCN_DNS_TCP_NEVER };
	struct trun t;
	trun_init(&t, fx, srv, 1, 0);
	for (size_t i = 0; i < N_ELEM(modes); i++) {
		struct tstep s;
		tstep_init(&s, "www.test", types, 2);
		s.st.opts.dns_tcp = modes[i];
		struct step_rec *rec = run_step(&t, &s);
		assert_true(rec->ok);
		assert_int_equal(rec->rcode, 0);
		assert_non_null(strstr(rec->answers, "127.0.0.10"));
		tstep_release(&s);
	}
	trun_release(&t);
}

/* A missing ${VAR}: dns.error, still through job->done from the loop. */
static void test_step_dns_expand_error(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_DNSMASQ };
	static const uint16_t types[] = { SCN_QT_A };
	struct trun t;
	struct tstep s;
	trun_init(&t, fx, srv, 1, 0);
	tstep_init(&s, "probe_test_dns_no_such_var", types, 1);
	s.seg.kind = SCN_SEG_EXTRACT;
	struct step_rec *rec = run_step(&t, &s);
	assert_false(rec->ok);
	assert_string_equal(rec->error, "dns.error");
	assert_non_null(
		strstr(rec->error_detail, "probe_test_dns_no_such_var"));
	assert_true(isnan(rec->dns_ms));
	tstep_release(&s);
	trun_release(&t);
}

/*
 * Replies dnsmasq never sends, for the answer walker: the query echoed
 * with QR set, ANCOUNT from the case, then the case's bytes.  Every case
 * asks for "x.test" A: the header and question take 24 bytes, so the
 * first answer starts at 24 (0x18) and its RDATA at 36 (0x24); c00c
 * points at the question's name.
 */
struct crafted {
	const char *what;
	uint16_t ancount;
	const char *rr;
	size_t rrlen;
	const char *json;
};

#define RR(s) s, sizeof(s) - 1
static const struct crafted crafted_cases[] = {
	{ "A with 5 bytes of RDATA", 1,
	  RR("\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x05"
	     "\x01\x02\x03\x04\x05"),
	  "[{\"type\":\"A\",\"name\":\"x.test\",\"ttl\":300,"
	  "\"data\":\"\\\\# 5 0102030405\"}]" },
	{ "CNAME pointing at itself", 1,
	  RR("\xc0\x0c\x00\x05\x00\x01\x00\x00\x01\x2c\x00\x02"
	     "\xc0\x24"),
	  "[{\"type\":\"CNAME\",\"name\":\"x.test\",\"ttl\":300,"
	  "\"data\":\"\\\\# 2 c024\"}]" },
	{ "owner name pointing at itself", 1,
	  RR("\xc0\x18\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04"
	     "\x01\x02\x03\x04"),
	  "[]" },
	{ "ANCOUNT 3, one record; TTL with the top bit set", 3,
	  RR("\xc0\x0c\x00\x01\x00\x01\x80\x00\x00\x00\x00\x04"
	     "\x0a\x00\x00\x01"),
	  "[{\"type\":\"A\",\"name\":\"x.test\",\"ttl\":0,"
	  "\"data\":\"10.0.0.1\"}]" },
	{ "TXT string longer than its RDATA", 1,
	  RR("\xc0\x0c\x00\x10\x00\x01\x00\x00\x01\x2c\x00\x03"
	     "\x05" "ab"),
	  "[{\"type\":\"TXT\",\"name\":\"x.test\",\"ttl\":300,"
	  "\"data\":\"\\\\# 3 056162\"}]" },
	{ "RDLENGTH past the end of the message", 1,
	  RR("\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x64"
	     "\x01\x02\x03\x04"),
	  "[]" },
	{ "a type we do not decode, and odd bytes in a name", 2,
	  RR("\xc0\x0c\x00\x63\x00\x01\x00\x00\x01\x2c\x00\x00"
	     "\x03" "a\"\x01" "\x00" /* name, then type class ttl rdlength */
	     "\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\x7f\x00\x00\x01"),
	  "[{\"type\":\"TYPE99\",\"name\":\"x.test\",\"ttl\":300,"
	  "\"data\":\"\\\\# 0\"},"
	  "{\"type\":\"A\",\"name\":\"a\\\\\\\"\\\\001\",\"ttl\":300,"
	  "\"data\":\"127.0.0.1\"}]" },
};
#undef RR

static void crafted_reply(struct step_loop *loop, int fd, unsigned events,
			  void *ctx)
{
	const struct crafted *c = ctx;
	unsigned char q[512], r[1024];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	(void)loop;
	(void)events;
	ssize_t n =
		recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
	if (n < 12 || (size_t)n + c->rrlen > sizeof(r))
		return;
	memcpy(r, q, (size_t)n);
	r[2] |= 0x80; /* QR */
	r[3] = 0x80;  /* RA, NOERROR */
	r[6] = (unsigned char)(c->ancount >> 8);
	r[7] = (unsigned char)c->ancount;
	memset(r + 8, 0, 4);
	memcpy(r + n, c->rr, c->rrlen);
	sendto(fd, r, (size_t)n + c->rrlen, 0, (struct sockaddr *)&from, fl);
}

static void test_step_dns_malformed_answers(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_DNSMASQ };
	static const uint16_t a[] = { SCN_QT_A };
	struct trun t;
	trun_init(&t, fx, srv, 1, 0);
	for (size_t i = 0; i < N_ELEM(crafted_cases); i++) {
		const struct crafted *c = &crafted_cases[i];
		struct tstep s;
		tstep_init(&s, "x.test", a, 1);
		s.st.opts.set |= SCN_OPT_RESOLVER;
		resolver_set(&s.st.opts.resolver, fx->crafted_port);
		assert_int_equal(step_loop_watch(&t.loop, fx->crafted_fd,
						  STEP_LOOP_READ, crafted_reply,
						  (void *)c),
				 0);
		g_unwatch_fd = fx->crafted_fd;
		struct step_rec *rec = run_step(&t, &s);
		g_unwatch_fd = -1;
		if (!rec->ok || !rec->answers || strcmp(rec->answers, c->json))
			fail_msg("%s: ok=%d %s (%s)\n got  %s\n want %s",
				 c->what, rec->ok,
				 rec->error ? rec->error : "-",
				 rec->error_detail ? rec->error_detail : "-",
				 rec->answers ? rec->answers : "(null)",
				 c->json);
		tstep_release(&s);
	}
	trun_release(&t);
}

/* ---- step_dns_resolve ------------------------------------------------- */

struct tres {
	int calls;
	bool in_call;
	char *error_class, *detail;
	struct step_addrs addrs;
	double dns_ms;
	uint64_t at_ns;
	struct step_env *release_env; /* release the env from the callback */
};

static void tres_cb(void *ctx, const char *error_class, const char *detail,
		    const struct step_addrs *addrs, double dns_ms)
{
	struct tres *r = ctx;
	assert_false(r->in_call);
	r->calls++;
	r->error_class = error_class ? xstrdup(error_class) : NULL;
	r->detail = detail ? xstrdup(detail) : NULL;
	assert_non_null(addrs);
	r->addrs = *addrs;
	r->dns_ms = dns_ms;
	r->at_ns = step_loop_now_ns();
	if (error_class)
		assert_int_equal(addrs->n, 0);
	else
		assert_true(addrs->n > 0);
	if (r->release_env)
		step_dns_env_release(r->release_env);
}

static void tres_release(struct tres *r)
{
	free(r->error_class);
	free(r->detail);
	memset(r, 0, sizeof(*r));
}

static void resolve(struct trun *t, struct tres *r, const char *host,
		    int family, uint16_t port, uint64_t deadline_ns)
{
	r->in_call = true;
	assert_int_equal(step_dns_resolve(&t->env, host, family, port,
					  deadline_ns, tres_cb, r),
			 0);
	r->in_call = false;
	assert_int_equal(r->calls, 0); /* never from inside the call */
}

static void assert_addr(const struct step_addrs *a, size_t i, int family,
			const char *text, uint16_t port)
{
	char buf[INET6_ADDRSTRLEN];
	assert_true(i < a->n);
	assert_int_equal(a->a[i].ss_family, family);
	if (family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&a->a[i];
		assert_int_equal(a->len[i], sizeof(*s));
		assert_int_equal(ntohs(s->sin_port), port);
		inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf));
	} else {
		const struct sockaddr_in6 *s = (const void *)&a->a[i];
		assert_int_equal(a->len[i], sizeof(*s));
		assert_int_equal(ntohs(s->sin6_port), port);
		inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
	}
	assert_string_equal(buf, text);
}

static void test_step_dns_resolve_literal(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_SILENT }; /* never asked */
	struct trun t;
	struct tres r4 = { 0 }, r6 = { 0 }, bad = { 0 };
	trun_init(&t, fx, srv, 1, 0);

	resolve(&t, &r4, "192.0.2.7", AF_UNSPEC, 443, 0);
	resolve(&t, &r6, "[2001:db8::1]", AF_INET6, 80, 0);
	resolve(&t, &bad, "::1", AF_INET, 80, 0);
	/* RFC 6761: localhost is the loopback, asked of nobody */
	struct tres lo = { 0 }, lo4 = { 0 };
	resolve(&t, &lo, "localhost", AF_UNSPEC, 8080, 0);
	resolve(&t, &lo4, "api.LOCALHOST.", AF_INET, 8080, 0);
	assert_int_equal(step_loop_run(&t.loop), 0);
	assert_int_equal(lo.addrs.n, 2);
	assert_addr(&lo.addrs, 0, AF_INET6, "::1", 8080);
	assert_addr(&lo.addrs, 1, AF_INET, "127.0.0.1", 8080);
	assert_true(isnan(lo.dns_ms));
	assert_int_equal(lo4.addrs.n, 1);
	assert_addr(&lo4.addrs, 0, AF_INET, "127.0.0.1", 8080);
	tres_release(&lo);
	tres_release(&lo4);

	assert_int_equal(r4.calls, 1);
	assert_null(r4.error_class);
	assert_int_equal(r4.addrs.n, 1);
	assert_addr(&r4.addrs, 0, AF_INET, "192.0.2.7", 443);
	assert_true(isnan(r4.dns_ms));
	assert_int_equal(r6.calls, 1);
	assert_addr(&r6.addrs, 0, AF_INET6, "2001:db8::1", 80);
	assert_true(isnan(r6.dns_ms));
	assert_int_equal(bad.calls, 1);
	assert_string_equal(bad.error_class, "dns.nodata");

	tres_release(&r4);
	tres_release(&r6);
	tres_release(&bad);
	trun_release(&t);
}

static void test_step_dns_resolve_names(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_DNSMASQ };
	struct trun t;
	struct tres both = { 0 }, v4 = { 0 }, v6 = { 0 }, nodata = { 0 };
	struct tres nx = { 0 }, sf = { 0 }, ref = { 0 };
	trun_init(&t, fx, srv, 1, 0);

	/* all at once, on the one channel of the run */
	resolve(&t, &both, "www.test", AF_UNSPEC, 8443, 0);
	resolve(&t, &v4, "www.test", AF_INET, 80, 0);
	resolve(&t, &v6, "www.test", AF_INET6, 80, 0);
	resolve(&t, &nodata, "v4.test", AF_INET6, 80, 0);
	resolve(&t, &nx, "nx.test", AF_UNSPEC, 80, 0);
	resolve(&t, &sf, "x.fail.test", AF_INET, 80, 0);
	resolve(&t, &ref, "other.example", AF_INET, 80, 0);
	assert_int_equal(step_loop_run(&t.loop), 0);

	/* IPv6 first, then IPv4 */
	assert_int_equal(both.calls, 1);
	assert_null(both.error_class);
	assert_int_equal(both.addrs.n, 2);
	assert_addr(&both.addrs, 0, AF_INET6, "::10", 8443);
	assert_addr(&both.addrs, 1, AF_INET, "127.0.0.10", 8443);
	assert_true(isfinite(both.dns_ms) && both.dns_ms >= 0 &&
		    both.dns_ms < 1000);

	assert_int_equal(v4.addrs.n, 1);
	assert_addr(&v4.addrs, 0, AF_INET, "127.0.0.10", 80);
	assert_int_equal(v6.addrs.n, 1);
	assert_addr(&v6.addrs, 0, AF_INET6, "::10", 80);

	assert_string_equal(nodata.error_class, "dns.nodata");
	assert_string_equal(nx.error_class, "dns.nxdomain");
	assert_non_null(strstr(nx.detail, "nx.test"));
	assert_string_equal(sf.error_class, "dns.servfail");
	assert_string_equal(ref.error_class, "dns.refused");

	struct tres *all[] = { &both, &v4, &v6, &nodata, &nx, &sf, &ref };
	for (size_t i = 0; i < N_ELEM(all); i++) {
		assert_int_equal(all[i]->calls, 1);
		tres_release(all[i]);
	}
	trun_release(&t);
}

/* The first resolver is silent: c-ares moves on to the second. */
static void test_step_dns_resolve_failover(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_SILENT, SRV_DNSMASQ };
	struct trun t;
	struct tres r = { 0 };
	trun_init(&t, fx, srv, 2, 2000);
	resolve(&t, &r, "www.test", AF_INET, 80,
		step_loop_now_ns() + 3000 * MS);
	assert_int_equal(step_loop_run(&t.loop), 0);
	assert_int_equal(r.calls, 1);
	assert_null(r.error_class);
	assert_addr(&r.addrs, 0, AF_INET, "127.0.0.10", 80);
	/* one first-try timeout on the silent one (200 ms floor) */
	assert_true(r.dns_ms >= 190 && r.dns_ms < 1000);
	tres_release(&r);
	trun_release(&t);
}

/*
 * Our deadline ends a resolve.  Alone on the channel, the query is
 * cancelled at once (the loop empties); with two in flight, both are
 * abandoned and freed when c-ares gives up.  ASAN checks the freeing.
 */
static void test_step_dns_resolve_deadline(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_SILENT };
	struct trun t;
	struct tres r = { 0 }, r2 = { 0 };
	trun_init(&t, fx, srv, 1, 1000);

	uint64_t t0 = step_loop_now_ns();
	resolve(&t, &r, "www.test", AF_UNSPEC, 80, t0 + 300 * MS);
	assert_int_equal(step_loop_run(&t.loop), 0);
	double loop_ms = (double)(step_loop_now_ns() - t0) / 1e6;
	double cb_ms = (double)(r.at_ns - t0) / 1e6;
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.error_class, "dns.timeout");
	assert_true(cb_ms >= 295 && cb_ms < 300 + 200);
	assert_true(loop_ms < 300 + 200); /* cancelled, not left running */
	tres_release(&r);

	t0 = step_loop_now_ns();
	resolve(&t, &r, "www.test", AF_INET, 80, t0 + 200 * MS);
	resolve(&t, &r2, "alias.test", AF_INET, 80, t0 + 400 * MS);
	assert_int_equal(step_loop_run(&t.loop), 0);
	assert_string_equal(r.error_class, "dns.timeout");
	assert_string_equal(r2.error_class, "dns.timeout");
	cb_ms = (double)(r.at_ns - t0) / 1e6;
	assert_true(cb_ms >= 195 && cb_ms < 200 + 200);
	cb_ms = (double)(r2.at_ns - t0) / 1e6;
	assert_true(cb_ms >= 395 && cb_ms < 400 + 200);
	tres_release(&r);
	tres_release(&r2);
	trun_release(&t);
}

/* Releasing the env cancels pending resolves without calling them. */
static void test_step_dns_release_pending(void **state)
{
	struct fx *fx = *state;
	SKIP_WITHOUT_SERVERS(fx);
	static const int srv[] = { SRV_SILENT };
	struct trun t;
	struct tres q = { 0 }, lit = { 0 };
	trun_init(&t, fx, srv, 1, 0);
	resolve(&t, &q, "www.test", AF_UNSPEC, 80, 0);
	resolve(&t, &lit, "192.0.2.1", AF_INET, 80, 0);
	trun_release(&t);
	assert_int_equal(q.calls, 0);
	assert_int_equal(lit.calls, 0);

	/* ... also from inside a resolve's own callback */
	struct tres first = { 0 }, other = { 0 };
	trun_init(&t, fx, srv, 1, 0);
	resolve(&t, &other, "www.test", AF_UNSPEC, 80, 0);
	first.release_env = &t.env;
	resolve(&t, &first, "192.0.2.1", AF_INET, 80, 0);
	assert_int_equal(step_loop_run(&t.loop), 0);
	assert_int_equal(first.calls, 1);
	assert_int_equal(other.calls, 0);
	assert_null(t.env.dns);
	tres_release(&first);
	trun_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_dns_a_aaaa),
		cmocka_unit_test(test_step_dns_record_types),
		cmocka_unit_test(test_step_dns_nxdomain),
		cmocka_unit_test(test_step_dns_servfail_refused),
		cmocka_unit_test(test_step_dns_timeout),
		cmocka_unit_test(test_step_dns_tcp),
		cmocka_unit_test(test_step_dns_expand_error),
		cmocka_unit_test(test_step_dns_malformed_answers),
		cmocka_unit_test(test_step_dns_resolve_literal),
		cmocka_unit_test(test_step_dns_resolve_names),
		cmocka_unit_test(test_step_dns_resolve_failover),
		cmocka_unit_test(test_step_dns_resolve_deadline),
		cmocka_unit_test(test_step_dns_release_pending),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
