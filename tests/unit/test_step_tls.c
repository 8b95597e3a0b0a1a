/*
 * test_step_tls.c: the tls step, its record trace and the shared TLS
 * helpers, against real TLS servers: `openssl s_server` children on
 * 127.0.0.1, with a CA, server, expired, wrong-name, unknown-CA and client
 * certificates made with OpenSSL's API in a temporary directory (the API
 * rather than the CLI so not-before/not-after can be set to the second).
 * Needs the `openssl` program (Debian package openssl, in DEB_TEST).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
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

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "model/run.h"
#include "scenario/scn_parse.h"
#include "scenario/scn_plan.h"
#include "steps/step.h"
#include "steps/step_loop.h"
#include "steps/tls_trace.h"
#include "steps/tls_util.h"
#include "util/xalloc.h"

/* Interim: step_tls.c exports it; it moves to step.h. */
void step_tls_env_release(struct step_env *env);

#define DAY 86400L

/* ==== certificates ====================================================== */

static char tmpdir[64];
static long next_serial = 1;

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/*
 * A certificate for key, valid from now + nb to now + na seconds, signed
 * by (issuer, ikey) or self-signed when issuer is NULL.
 */
static X509 *make_cert(const char *cn, const char *san, bool ca,
		       X509 *issuer, EVP_PKEY *ikey, EVP_PKEY *key, long nb,
		       long na)
{
	X509 *x = X509_new();
	X509_NAME *n;
	X509V3_CTX v3;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x),
					  next_serial++ + (long)time(NULL)),
			 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), nb));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), na));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
				   (const unsigned char *)"probe tests", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	assert_int_equal(
		X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
					       : n),
		1);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &v3, NID_basic_constraints,
		ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, &v3, NID_key_usage,
		ca ? "critical,keyCertSign,cRLSign"
		   : "critical,digitalSignature");
	if (!ca)
		add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth");
	if (san)
		add_ext(x, &v3, NID_subject_alt_name, san);
	assert_true(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
	return x;
}

static void write_pem(const char *name, X509 *x, X509 *x2, EVP_PKEY *k)
{
	char p[128];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "w");
	assert_non_null(f);
	if (x)
		assert_int_equal(PEM_write_X509(f, x), 1);
	if (x2)
		assert_int_equal(PEM_write_X509(f, x2), 1);
	if (k)
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0,
						      NULL, NULL),
				 1);
	assert_int_equal(fclose(f), 0);
}

static void make_certs(void)
{
	EVP_PKEY *ca_k = EVP_EC_gen("P-256"), *ca2_k = EVP_EC_gen("P-256");
	EVP_PKEY *cca_k = EVP_EC_gen("P-256"), *srv_k = EVP_EC_gen("P-256");
	EVP_PKEY *cli_k = EVP_EC_gen("P-256");
	const char *lh = "DNS:localhost,IP:127.0.0.1";
	X509 *ca, *ca2, *cca, *srv, *other, *expired, *unknown, *cli;

	assert_non_null(ca_k);
	assert_non_null(ca2_k);
	assert_non_null(cca_k);
	assert_non_null(srv_k);
	assert_non_null(cli_k);
	ca = make_cert("Probe Test CA", NULL, true, NULL, NULL, ca_k, -DAY,
		       3650 * DAY);
	ca2 = make_cert("Unknown CA", NULL, true, NULL, NULL, ca2_k, -DAY,
			3650 * DAY);
	cca = make_cert("Client CA", NULL, true, NULL, NULL, cca_k, -DAY,
			3650 * DAY);
	/* 100 days and an hour: days_left is 100 however slow the test */
	srv = make_cert("localhost", lh, false, ca, ca_k, srv_k, -DAY,
			100 * DAY + 3600);
	other = make_cert("other.example", "DNS:other.example", false, ca,
			  ca_k, srv_k, -DAY, 100 * DAY + 3600);
	/* expired a day and an hour ago: days_left is -2 */
	expired = make_cert("localhost", lh, false, ca, ca_k, srv_k,
			    -30 * DAY, -DAY - 3600);
	unknown = make_cert("localhost", lh, false, ca2, ca2_k, srv_k, -DAY,
			    100 * DAY + 3600);
	cli = make_cert("probe client", NULL, false, cca, cca_k, cli_k, -DAY,
			100 * DAY);

	write_pem("ca.pem", ca, NULL, NULL);
	write_pem("ca2.pem", ca2, NULL, NULL);
	write_pem("cca.pem", cca, NULL, NULL);
	write_pem("srv.key", NULL, NULL, srv_k);
	write_pem("srv.pem", srv, NULL, NULL);
	write_pem("other.pem", other, NULL, NULL);
	write_pem("expired.pem", expired, NULL, NULL);
	write_pem("unknown.pem", unknown, NULL, NULL);
	write_pem("client.pem", cli, NULL, NULL);
	write_pem("client.key", NULL, NULL, cli_k);

	X509 *all[] = { ca, ca2, cca, srv, other, expired, unknown, cli };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		X509_free(all[i]);
	EVP_PKEY *keys[] = { ca_k, ca2_k, cca_k, srv_k, cli_k };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
}

/* ==== s_server children ================================================= */

enum srv_id {
	SRV_13, SRV_12, SRV_OTHER, SRV_EXPIRED, SRV_UNKNOWN, SRV_CLIENT13,
	SRV_CLIENT12, SRV_NOTICKET, SRV_COUNT
};

static const struct srv_def {
	const char *name, *cert, *chain, *extra;
} srv_defs[SRV_COUNT] = {
	[SRV_13] = { "s13", "srv.pem", "ca.pem", "-tls1_3" },
	[SRV_12] = { "s12", "srv.pem", "ca.pem", "-tls1_2" },
	[SRV_OTHER] = { "other", "other.pem", "ca.pem", NULL },
	[SRV_EXPIRED] = { "expired", "expired.pem", "ca.pem", NULL },
	[SRV_UNKNOWN] = { "unknown", "unknown.pem", "ca2.pem", NULL },
	[SRV_CLIENT13] = { "client13", "srv.pem", "ca.pem", "-tls1_3" },
	[SRV_CLIENT12] = { "client12", "srv.pem", "ca.pem", "-tls1_2" },
	[SRV_NOTICKET] = { "noticket", "srv.pem", "ca.pem", "-tls1_3" },
};

static pid_t srv_pid[SRV_COUNT];
static uint16_t srv_port[SRV_COUNT];
static uint16_t closed_port;  /* nothing listens there */
static char leaf_pin[128];    /* srv.pem's pin, computed by the CLI */

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static bool accepts(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void start_server(enum srv_id id)
{
	const struct srv_def *d = &srv_defs[id];
	char acc[32], cert[128], key[128], chain[128], cca[128], log[128];
	const char *argv[32];
	size_t n = 0;
	uint16_t port = free_port();
	pid_t pid;

	snprintf(acc, sizeof(acc), "127.0.0.1:%u", port);
	path_of(cert, sizeof(cert), d->cert);
	path_of(key, sizeof(key), "srv.key");
	path_of(chain, sizeof(chain), d->chain);
	path_of(cca, sizeof(cca), "cca.pem");
	snprintf(log, sizeof(log), "%s/%s.log", tmpdir, d->name);
	argv[n++] = "openssl";
	argv[n++] = "s_server";
	argv[n++] = "-accept";
	argv[n++] = acc;
	argv[n++] = "-cert";
	argv[n++] = cert;
	argv[n++] = "-key";
	argv[n++] = key;
	argv[n++] = "-cert_chain";
	argv[n++] = chain;
	argv[n++] = "-alpn";
	argv[n++] = "h2,http/1.1";
	argv[n++] = "-www";
	if (d->extra)
		argv[n++] = d->extra;
	if (id == SRV_CLIENT13 || id == SRV_CLIENT12) {
		argv[n++] = "-Verify";
		argv[n++] = "1";
		argv[n++] = "-CAfile";
		argv[n++] = cca;
	}
	if (id == SRV_NOTICKET) {
		argv[n++] = "-num_tickets";
		argv[n++] = "0";
	}
	argv[n] = NULL;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		/* never outlive the test, even when it crashes */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(out, 2) < 0)
			_exit(127);
		execvp("openssl", (char *const *)argv);
		_exit(127);
	}
	srv_pid[id] = pid;
	srv_port[id] = port;
	/* ready when it accepts; give up after 10 s or when it died */
	for (int i = 0; i < 2000; i++) {
		struct timespec ts = { 0, 5 * 1000000 };
		int st;
		if (accepts(port))
			return;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			srv_pid[id] = 0;
			fail_msg("s_server %s exited; see %s", d->name, log);
		}
		nanosleep(&ts, NULL);
	}
	fail_msg("s_server %s does not accept on %u", d->name, port);
}

static void compute_pin(void)
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "openssl x509 -in %s/srv.pem -pubkey -noout | "
		 "openssl pkey -pubin -outform der | "
		 "openssl dgst -sha256 -binary | openssl base64 -A",
		 tmpdir);
	p = popen(cmd, "r");
	assert_non_null(p);
	memcpy(leaf_pin, "sha256//", 8);
	assert_non_null(fgets(leaf_pin + 8, (int)sizeof(leaf_pin) - 8, p));
	assert_int_equal(pclose(p), 0);
	leaf_pin[strcspn(leaf_pin, "\r\n")] = '\0';
	assert_int_equal(strlen(leaf_pin), 8 + 44);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/probe-tls-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	make_certs();
	compute_pin();
	for (int i = 0; i < SRV_COUNT; i++)
		start_server((enum srv_id)i);
	closed_port = free_port();
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	for (int i = 0; i < SRV_COUNT; i++) {
		if (srv_pid[i] <= 0)
			continue;
		kill(srv_pid[i], SIGTERM);
		waitpid(srv_pid[i], NULL, 0);
		srv_pid[i] = 0;
	}
	if (tmpdir[0] && !getenv("PROBE_KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

/* ==== running steps ====================================================== */

struct tenv {
	struct step_loop loop;
	struct scn_plan plan;
	struct run_rec run;
	struct tls_trace_set traces;
	struct step_env env;
};

static int n_done;

static void on_done(struct step_job *job)
{
	(void)job;
	n_done++;
}

/* Parse "scenario t" + the given step lines (printf format). */
static void tenv_init(struct tenv *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tenv_init(struct tenv *t, const char *fmt, ...)
{
	struct scn_diags d;
	struct errbuf err;
	char body[2048], text[2200];
	va_list ap;

	memset(t, 0, sizeof(*t));
	memset(&d, 0, sizeof(d));
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "scenario t\ncapture off\n%s\n", body);
	if (scn_parse_buf("t.scn", text, strlen(text), &t->plan, &d) != 0) {
		scn_diags_print(&d, stderr);
		scn_diags_release(&d);
		fail_msg("scenario does not parse:\n%s", text);
	}
	scn_diags_release(&d);
	step_loop_init(&t->loop);
	run_rec_init(&t->run);
	for (size_t i = 0; i < t->plan.n_steps; i++) {
		struct step_rec *s;
		assert_int_equal(run_rec_add_step(&t->run, &s), 0);
		s->kind = RUN_KIND_TLS;
	}
	t->env.loop = &t->loop;
	t->env.plan = &t->plan;
	t->env.run = &t->run;
	t->env.traces = &t->traces;
	t->env.deadline_ns = step_loop_now_ns() + 30000000000u;
	t->env.clock.mono0_ns = step_loop_now_ns();
	t->env.clock.off0_ns = (int64_t)time(NULL) * 1000000000 -
			  (int64_t)t->env.clock.mono0_ns;
	assert_int_equal(step_dns_env_init(&t->env, &err), 0);
}

static void tenv_release(struct tenv *t)
{
	step_tls_env_release(&t->env);
	step_dns_env_release(&t->env);
	tls_trace_set_release(&t->traces);
	run_rec_release(&t->run);
	scn_plan_release(&t->plan);
	step_loop_release(&t->loop);
}

/* Run step i to its end; returns its record. */
static struct step_rec *run_step(struct tenv *t, size_t i)
{
	struct step_job job = {
		.env = &t->env,
		.st = &t->plan.steps[i],
		.rec = &t->run.steps[i],
		.t0_ns = step_loop_now_ns(),
		.done = on_done,
	};

	n_done = 0;
	assert_int_equal(step_tls_start(&job), 0);
	assert_int_equal(n_done, 0); /* never from inside start */
	assert_int_equal(step_loop_run(&t->loop), 0);
	assert_int_equal(n_done, 1);
	/* nothing left behind on the loop */
	assert_int_equal(t->loop.n, 0);
	assert_null(t->loop.timers);
	return &t->run.steps[i];
}

static void expect_fail(const struct step_rec *r, const char *cls,
			const char *detail_part)
{
	if (r->ok || !r->error || strcmp(r->error, cls) != 0)
		fail_msg("want %s, got ok=%d %s: %s", cls, r->ok,
			 r->error ? r->error : "(none)",
			 r->error_detail ? r->error_detail : "");
	if (detail_part &&
	    (!r->error_detail || !strstr(r->error_detail, detail_part)))
		fail_msg("%s detail '%s' lacks '%s'", cls,
			 r->error_detail ? r->error_detail : "(null)",
			 detail_part);
}

static void expect_ok(const struct step_rec *r)
{
	if (!r->ok)
		fail_msg("step failed: %s: %s", r->error ? r->error : "?",
			 r->error_detail ? r->error_detail : "");
}

/* The two-certificate chain s_server sends: leaf, then our CA. */
static void expect_chain(const struct step_rec *r, const char *leaf_cn,
			 int64_t days, int64_t verified)
{
	char want[128];

	assert_int_equal(r->n_certs, 2);
	snprintf(want, sizeof(want), "CN=%s,O=probe tests", leaf_cn);
	assert_string_equal(r->certs[0].subject, want);
	assert_int_equal(r->certs[0].depth, 0);
	assert_int_equal(r->certs[1].depth, 1);
	assert_string_equal(r->certs[0].issuer, r->certs[1].subject);
	assert_int_equal(r->certs[0].days_left, days);
	assert_int_equal(r->certs[0].verified, verified);
	assert_int_equal(r->certs[1].verified, verified);
	/* "2027-03-03T14:12:44.000000Z" */
	assert_non_null(r->certs[0].not_after);
	assert_int_equal(strlen(r->certs[0].not_after), 27);
	assert_int_equal(r->certs[0].not_after[10], 'T');
	assert_string_equal(r->certs[0].not_after + 19, ".000000Z");
}

/* ==== tests ============================================================== */

static void test_step_tls_13_handshake(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t, "tls localhost:%u ca=%s/ca.pem alpn=h2,http/1.1",
		  srv_port[SRV_13], tmpdir);
	r = run_step(&t, 0);
	expect_ok(r);
	assert_string_equal(r->tls_version, "TLSv1.3");
	assert_non_null(r->tls_cipher);
	assert_string_equal(r->tls_cipher, "TLS_AES_256_GCM_SHA384");
	assert_string_equal(r->alpn, "h2");
	assert_int_equal(r->tls_resumed, 0);
	assert_int_equal(r->conn_state, RUN_CONN_NEW);
	assert_int_equal(r->family, RUN_FAMILY_IPV4);
	/* localhost is answered without a query (RFC 6761): no dns_ms */
	assert_true(isnan(r->dns_ms));
	assert_false(isnan(r->connect_ms));
	assert_false(isnan(r->tls_ms));
	assert_true(r->tls_ms > 0);
	assert_true(r->total_ms >= r->tls_ms + r->connect_ms);
	assert_int_equal(r->n_conns, 1);
	assert_int_not_equal(r->conns[0].key, 0);
	assert_string_equal(r->conns[0].dst_addr, "127.0.0.1");
	assert_int_equal(r->conns[0].dst_port, srv_port[SRV_13]);
	assert_int_equal(r->conns[0].source, RUN_SOURCE_TCP_INFO);
	assert_true(r->conns[0].rtt_ms > 0);
	assert_int_equal(r->conns[0].conn_state, RUN_CONN_NEW);
	expect_chain(r, "localhost", 100, 1);
	assert_string_equal(r->certs[1].subject,
			    "CN=Probe Test CA,O=probe tests");
	tenv_release(&t);
}

static void test_step_tls_12_handshake(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t, "tls localhost:%u ca=%s/ca.pem alpn=http/1.1",
		  srv_port[SRV_12], tmpdir);
	r = run_step(&t, 0);
	expect_ok(r);
	assert_string_equal(r->tls_version, "TLSv1.2");
	assert_string_equal(r->tls_cipher, "ECDHE-ECDSA-AES256-GCM-SHA384");
	assert_string_equal(r->alpn, "http/1.1");
	expect_chain(r, "localhost", 100, 1);
	tenv_release(&t);
}

/* An IP literal: no SNI, the certificate's IP address is checked. */
static void test_step_tls_ip_literal(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t, "tls 127.0.0.1:%u ca=%s/ca.pem", srv_port[SRV_13],
		  tmpdir);
	r = run_step(&t, 0);
	expect_ok(r);
	assert_true(isnan(r->dns_ms)); /* no query for a literal */
	assert_null(r->alpn);
	tenv_release(&t);
}

/* sni= names the server, and the certificate is checked against it. */
static void test_step_tls_sni(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t,
		  "tls 127.0.0.1:%u ca=%s/ca.pem sni=other.example\n"
		  "tls localhost:%u ca=%s/ca.pem sni=other.example",
		  srv_port[SRV_OTHER], tmpdir, srv_port[SRV_13], tmpdir);
	r = run_step(&t, 0);
	expect_ok(r);
	r = run_step(&t, 1);
	expect_fail(r, "tls.hostname", "other.example");
	tenv_release(&t);
}

/* A name from the environment may be a secret: details show ${NAME}. */
static void test_step_tls_sni_from_env(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	assert_int_equal(setenv("PROBE_TEST_SNI", "other.example", 1), 0);
	tenv_init(&t, "tls localhost:%u ca=%s/ca.pem sni=${PROBE_TEST_SNI}",
		  srv_port[SRV_13], tmpdir);
	r = run_step(&t, 0);
	expect_fail(r, "tls.hostname", "${PROBE_TEST_SNI}");
	assert_null(strstr(r->error_detail, "other.example"));
	tenv_release(&t);
	unsetenv("PROBE_TEST_SNI");
}

static void test_step_tls_wrong_hostname(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t, "tls localhost:%u ca=%s/ca.pem", srv_port[SRV_OTHER],
		  tmpdir);
	r = run_step(&t, 0);
	expect_fail(r, "tls.hostname", "localhost");
	/* the chain itself verified, and it is recorded */
	expect_chain(r, "other.example", 100, 1);
	assert_string_equal(r->tls_version, "TLSv1.3");
	tenv_release(&t);
}

static void test_step_tls_expired(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t, "tls localhost:%u ca=%s/ca.pem", srv_port[SRV_EXPIRED],
		  tmpdir);
	r = run_step(&t, 0);
	expect_fail(r, "tls.verify", "certificate has expired");
	expect_chain(r, "localhost", -2, 0);
	tenv_release(&t);
}

static void test_step_tls_unknown_ca(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	/* ours is not the CA; and the system store does not know it */
	tenv_init(&t,
		  "tls localhost:%u ca=%s/ca.pem\n"
		  "tls localhost:%u ca=system",
		  srv_port[SRV_UNKNOWN], tmpdir, srv_port[SRV_13]);
	r = run_step(&t, 0);
	expect_fail(r, "tls.verify",
		    "self-signed certificate in certificate chain");
	assert_int_equal(r->n_certs, 2);
	assert_int_equal(r->certs[0].verified, 0);
	r = run_step(&t, 1);
	expect_fail(r, "tls.verify", "certificate");
	tenv_release(&t);
}

/*
 * A server that requires a client certificate.  What OpenSSL 3.0 gives
 * without one: TLS 1.3 completes the client's handshake and the server's
 * alert comes after it (caught by the post-handshake read); TLS 1.2 fails
 * inside the handshake.  Both are tls.alert.
 */
static void test_step_tls_client_cert(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t,
		  "tls localhost:%u ca=%s/ca.pem\n"
		  "tls localhost:%u ca=%s/ca.pem\n"
		  "tls localhost:%u ca=%s/ca.pem cert=%s/client.pem "
		  "key=%s/client.key\n"
		  "tls localhost:%u ca=%s/ca.pem cert=%s/client.pem "
		  "key=%s/client.key",
		  srv_port[SRV_CLIENT13], tmpdir, srv_port[SRV_CLIENT12],
		  tmpdir, srv_port[SRV_CLIENT13], tmpdir, tmpdir, tmpdir,
		  srv_port[SRV_CLIENT12], tmpdir, tmpdir, tmpdir);
	r = run_step(&t, 0);
	print_message("client cert required, TLS 1.3, none sent: %s: %s\n",
		      r->error ? r->error : "ok",
		      r->error_detail ? r->error_detail : "");
	expect_fail(r, "tls.alert",
		    "received fatal alert: certificate required (116)");
	r = run_step(&t, 1);
	print_message("client cert required, TLS 1.2, none sent: %s: %s\n",
		      r->error ? r->error : "ok",
		      r->error_detail ? r->error_detail : "");
	expect_fail(r, "tls.alert",
		    "received fatal alert: handshake failure (40)");
	expect_ok(run_step(&t, 2));
	expect_ok(run_step(&t, 3));
	tenv_release(&t);
}

static void test_step_tls_pins(void **state)
{
	struct tenv t;
	struct step_rec *r;
	const char *other =
		"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

	(void)state;
	tenv_init(&t,
		  "tls localhost:%u ca=%s/ca.pem pin=%s\n"
		  "tls localhost:%u ca=%s/ca.pem pin=%s pin=%s\n"
		  "tls localhost:%u ca=%s/ca.pem pin=%s",
		  srv_port[SRV_13], tmpdir, leaf_pin, srv_port[SRV_13],
		  tmpdir, other, leaf_pin, srv_port[SRV_13], tmpdir, other);
	expect_ok(run_step(&t, 0));
	expect_ok(run_step(&t, 1));
	r = run_step(&t, 2);
	/* the detail names the key's real pin */
	expect_fail(r, "tls.pin", leaf_pin);
	assert_int_equal(r->n_certs, 2);
	tenv_release(&t);
}

static void test_step_tls_min_days_valid(void **state)
{
	struct tenv t;

	(void)state;
	tenv_init(&t,
		  "tls localhost:%u ca=%s/ca.pem min_days_valid=100\n"
		  "tls localhost:%u ca=%s/ca.pem min_days_valid=101\n"
		  "tls localhost:%u ca=%s/ca.pem min_days_valid=0",
		  srv_port[SRV_13], tmpdir, srv_port[SRV_13], tmpdir,
		  srv_port[SRV_13], tmpdir);
	expect_ok(run_step(&t, 0));
	expect_fail(run_step(&t, 1), "tls.expiring", "expires in 100 days");
	expect_ok(run_step(&t, 2));
	tenv_release(&t);
}

static void test_step_tls_version_mismatch(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t,
		  "tls localhost:%u ca=%s/ca.pem tls_max=1.2\n"
		  "tls localhost:%u ca=%s/ca.pem tls_min=1.3",
		  srv_port[SRV_13], tmpdir, srv_port[SRV_12], tmpdir);
	r = run_step(&t, 0);
	print_message("tls_max=1.2 against TLS 1.3 only: %s: %s\n",
		      r->error ? r->error : "ok",
		      r->error_detail ? r->error_detail : "");
	expect_fail(r, "tls.alert", "protocol version (70)");
	assert_int_equal(r->n_certs, 0);
	assert_true(isnan(r->tls_ms));
	assert_int_equal(r->n_conns, 1); /* the connection is still known */
	r = run_step(&t, 1);
	print_message("tls_min=1.3 against TLS 1.2 only: %s: %s\n",
		      r->error ? r->error : "ok",
		      r->error_detail ? r->error_detail : "");
	expect_fail(r, "tls.alert", "protocol version (70)");
	tenv_release(&t);
}

/* A server that accepts TCP and never answers the ClientHello. */
static void test_step_tls_timeout(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct tenv t;
	struct step_rec *r;

	(void)state;
	assert_true(lfd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 8), 0); /* the kernel completes it */
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	tenv_init(&t, "tls 127.0.0.1:%u ca=%s/ca.pem timeout=300ms",
		  ntohs(a.sin_port), tmpdir);
	r = run_step(&t, 0);
	expect_fail(r, "tls.timeout", NULL);
	assert_false(isnan(r->connect_ms));
	assert_true(isnan(r->tls_ms));
	assert_true(r->total_ms >= 290 && r->total_ms < 2000);
	assert_int_equal(r->n_conns, 1);
	tenv_release(&t);
	close(lfd);
}

/*
 * A TLS 1.3 server that sends no tickets: the step waits its short grace
 * for one, succeeds, and has nothing to resume with.
 */
static void test_step_tls_no_tickets(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t,
		  "tls localhost:%u ca=%s/ca.pem\n"
		  "tls localhost:%u ca=%s/ca.pem",
		  srv_port[SRV_NOTICKET], tmpdir, srv_port[SRV_NOTICKET],
		  tmpdir);
	r = run_step(&t, 0);
	expect_ok(r);
	assert_string_equal(r->tls_version, "TLSv1.3");
	/* total_ms ends with the handshake, not with the wait */
	assert_true(r->total_ms < r->tls_ms + r->connect_ms + 50);
	r = run_step(&t, 1);
	expect_ok(r);
	assert_int_equal(r->tls_resumed, 0);
	tenv_release(&t);
}

static void test_step_tls_connect_fails(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t, "tls 127.0.0.1:%u ca=%s/ca.pem", closed_port, tmpdir);
	r = run_step(&t, 0);
	expect_fail(r, "tcp.refused", NULL);
	/* the refused attempt is the step's connection (its RST a finding
	 * of the step's once the packets are analyzed) */
	assert_int_equal(r->n_conns, 1);
	assert_string_equal(r->conns[0].dst_addr, "127.0.0.1");
	assert_int_equal(r->conns[0].dst_port, closed_port);
	assert_true(r->conns[0].src_port > 0);
	assert_int_not_equal(r->conns[0].key, 0);
	assert_int_equal(t.traces.n, 0);
	tenv_release(&t);
}

/* Setting problems are the step's failures, reported from the loop. */
static void test_step_tls_bad_settings(void **state)
{
	struct tenv t;

	(void)state;
	tenv_init(&t,
		  "tls localhost:%u ca=%s/nonexistent.pem\n"
		  "tls localhost:%u ca=%s/ca.pem cert=%s/client.pem "
		  "key=%s/srv.key\n"
		  "tls ${PROBE_TEST_UNSET_VAR}:%u",
		  srv_port[SRV_13], tmpdir, srv_port[SRV_13], tmpdir, tmpdir,
		  tmpdir, srv_port[SRV_13]);
	expect_fail(run_step(&t, 0), "tls.error", "cannot load CA file");
	expect_fail(run_step(&t, 1), "tls.error", "key");
	expect_fail(run_step(&t, 2), "tls.error", "PROBE_TEST_UNSET_VAR");
	tenv_release(&t);
}

static void test_step_tls_resumption(void **state)
{
	struct tenv t;
	struct step_rec *r;

	(void)state;
	tenv_init(&t,
		  "tls localhost:%u ca=%s/ca.pem\n"
		  "tls localhost:%u ca=%s/ca.pem\n"
		  "tls localhost:%u ca=%s/ca.pem\n"
		  "tls localhost:%u ca=%s/ca.pem\n"
		  "tls localhost:%u ca=%s/ca.pem sni=localhost\n"
		  "tls 127.0.0.1:%u ca=%s/ca.pem",
		  srv_port[SRV_13], tmpdir, srv_port[SRV_13], tmpdir,
		  srv_port[SRV_12], tmpdir, srv_port[SRV_12], tmpdir,
		  srv_port[SRV_13], tmpdir, srv_port[SRV_13], tmpdir);
	r = run_step(&t, 0);
	expect_ok(r);
	assert_int_equal(r->tls_resumed, 0);
	r = run_step(&t, 1);
	expect_ok(r);
	assert_int_equal(r->tls_resumed, 1);
	assert_int_equal(r->conn_state, RUN_CONN_RESUMED);
	assert_int_equal(r->conns[0].conn_state, RUN_CONN_RESUMED);
	assert_int_equal(r->conns[0].resumed, 1);
	/* the chain comes from the session */
	expect_chain(r, "localhost", 100, 1);
	r = run_step(&t, 2);
	expect_ok(r);
	assert_int_equal(r->tls_resumed, 0);
	r = run_step(&t, 3);
	expect_ok(r);
	assert_int_equal(r->tls_resumed, 1);
	assert_string_equal(r->tls_version, "TLSv1.2");
	/* same host, port and CA; sni=localhost is the same name too */
	r = run_step(&t, 4);
	expect_ok(r);
	assert_int_equal(r->tls_resumed, 1);
	/* another host (the same server): a session of its own */
	r = run_step(&t, 5);
	expect_ok(r);
	assert_int_equal(r->tls_resumed, 0);
	/* every connection has its own key */
	assert_int_not_equal(t.run.steps[0].conns[0].key,
			     t.run.steps[1].conns[0].key);
	tenv_release(&t);
}

static const char *const keylog_13[] = {
	"CLIENT_HANDSHAKE_TRAFFIC_SECRET ", "SERVER_HANDSHAKE_TRAFFIC_SECRET ",
	"CLIENT_TRAFFIC_SECRET_0 ", "SERVER_TRAFFIC_SECRET_0 ",
	"EXPORTER_SECRET ",
};

static void test_step_tls_trace_13(void **state)
{
	struct tenv t;
	struct step_rec *r;
	struct tls_trace *tr;
	size_t i, hs_in = 0;
	static const uint8_t want_in[] = { 8, 11, 15, 20 };

	(void)state;
	tenv_init(&t, "tls localhost:%u ca=%s/ca.pem", srv_port[SRV_13],
		  tmpdir);
	r = run_step(&t, 0);
	expect_ok(r);
	assert_int_equal(t.traces.n, 1);
	tr = t.traces.v[0];
	assert_int_equal(tr->conn_key, r->conns[0].key);
	assert_string_equal(tr->src, "127.0.0.1");
	assert_string_equal(tr->dst, "127.0.0.1");
	assert_int_equal(tr->sport, r->conns[0].src_port);
	assert_int_equal(tr->dport, srv_port[SRV_13]);
	assert_false(tr->truncated);
	for (i = 0; i < tr->n; i++)
		print_message("  %s outer %u inner %u hs %u len %u\n",
			      tr->rec[i].dir == TLS_DIR_OUT ? "out" : "in ",
			      tr->rec[i].outer, tr->rec[i].inner,
			      tr->rec[i].hs_type, tr->rec[i].len);
	/* ClientHello, then the ServerHello in the clear */
	assert_true(tr->n >= 8);
	assert_int_equal(tr->rec[0].dir, TLS_DIR_OUT);
	assert_int_equal(tr->rec[0].outer, 22);
	assert_int_equal(tr->rec[0].hs_type, 1);
	assert_int_equal(tr->rec[0].inner, 0);
	assert_int_equal(tr->rec[1].dir, TLS_DIR_IN);
	assert_int_equal(tr->rec[1].outer, 22);
	assert_int_equal(tr->rec[1].hs_type, 2);
	/* the encrypted flight: EE, Certificate, CertVerify, Finished */
	for (i = 2; i < tr->n && hs_in < sizeof(want_in); i++) {
		const struct tls_record *x = &tr->rec[i];
		if (x->dir != TLS_DIR_IN || x->outer != 23)
			continue;
		assert_int_equal(x->inner, 22);
		assert_int_equal(x->hs_type, want_in[hs_in]);
		hs_in++;
	}
	assert_int_equal(hs_in, sizeof(want_in));
	/* the client's Finished, encrypted */
	bool fin = false, ticket = false;
	for (i = 0; i < tr->n; i++) {
		const struct tls_record *x = &tr->rec[i];
		if (x->dir == TLS_DIR_OUT && x->outer == 23 && x->inner == 22 &&
		    x->hs_type == 20)
			fin = true;
		/* read after the handshake: NewSessionTicket */
		if (fin && x->dir == TLS_DIR_IN && x->inner == 22 &&
		    x->hs_type == 4)
			ticket = true;
		if (i)
			assert_true(x->t_ns >= tr->rec[i - 1].t_ns);
	}
	assert_true(fin);
	assert_true(ticket);
	/* the close_notify we sent last */
	assert_int_equal(tr->rec[tr->n - 1].dir, TLS_DIR_OUT);
	assert_int_equal(tr->rec[tr->n - 1].inner, 21);
	assert_int_equal(tr->alert_out, 0);
	assert_int_equal(tr->alert_out_level, 1);
	assert_int_equal(tr->alert_in, -1);
	/* secrets: whole lines, each label once */
	assert_non_null(tr->keylog);
	assert_int_equal(strlen(tr->keylog), tr->keylog_len);
	assert_int_equal(tr->keylog[tr->keylog_len - 1], '\n');
	for (i = 0; i < sizeof(keylog_13) / sizeof(keylog_13[0]); i++)
		if (!strstr(tr->keylog, keylog_13[i]))
			fail_msg("keylog lacks %s:\n%s", keylog_13[i],
				 tr->keylog);
	tenv_release(&t);
}

static void test_step_tls_trace_12(void **state)
{
	struct tenv t;
	struct step_rec *r;
	struct tls_trace *tr;

	(void)state;
	tenv_init(&t,
		  "tls localhost:%u ca=%s/ca.pem\n"
		  "tls localhost:%u ca=%s/ca.pem tls_max=1.2",
		  srv_port[SRV_12], tmpdir, srv_port[SRV_13], tmpdir);
	r = run_step(&t, 0);
	expect_ok(r);
	assert_int_equal(t.traces.n, 1);
	tr = t.traces.v[0];
	assert_true(tr->n >= 4);
	for (size_t i = 0; i < tr->n; i++)
		assert_int_equal(tr->rec[i].inner, 0); /* none in 1.2 */
	assert_int_equal(tr->rec[0].hs_type, 1);
	assert_int_equal(tr->rec[1].dir, TLS_DIR_IN);
	assert_int_equal(tr->rec[1].hs_type, 2);
	assert_non_null(strstr(tr->keylog, "CLIENT_RANDOM "));
	/* a failed handshake: the alert the server sent is traced */
	r = run_step(&t, 1);
	expect_fail(r, "tls.alert", NULL);
	assert_int_equal(t.traces.n, 2);
	tr = t.traces.v[1];
	assert_int_equal(tr->alert_in, 70);
	assert_int_equal(tr->alert_in_level, 2);
	assert_int_equal(tr->conn_key, r->conns[0].key);
	tenv_release(&t);
}

/* The keylog cap: whole lines only, never half a secret. */
static void test_step_tls_trace_keylog_cap(void **state)
{
	struct tls_trace_set set = { 0 };
	struct tls_trace *tr = tls_trace_new(&set);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	void (*cb)(const SSL *, const char *);
	char line[100];

	(void)state;
	assert_non_null(tr);
	assert_non_null(ctx);
	assert_int_equal(tr->alert_in, -1);
	assert_int_equal(tr->alert_out, -1);
	tls_trace_attach(ctx);
	cb = SSL_CTX_get_keylog_callback(ctx);
	assert_non_null(cb);
	ssl = SSL_new(ctx);
	assert_non_null(ssl);
	cb(ssl, "UNBOUND x y"); /* no trace bound: ignored */
	tls_trace_bind(ssl, tr);
	assert_ptr_equal(tls_trace_of(ssl), tr);
	memset(line, 'k', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	for (int i = 0; i < 100; i++)
		cb(ssl, line);
	/* 40 lines of 100 bytes fit in 4096; the 41st does not */
	assert_int_equal(tr->keylog_len, 40 * 100);
	assert_int_equal(strlen(tr->keylog), tr->keylog_len);
	cb(ssl, "short"); /* but a shorter one still does */
	assert_int_equal(tr->keylog_len, 40 * 100 + 6);
	tls_trace_bind(ssl, NULL);
	assert_null(tls_trace_of(ssl));
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	tls_trace_set_release(&set);
	assert_int_equal(set.n, 0);
}

static void test_step_tls_alpn_wire(void **state)
{
	static const struct {
		const char *in;
		const char *out;
		size_t len;
	} cases[] = {
		{ "h2", "\x02h2", 3 },
		{ "h2,http/1.1", "\x02h2\x08http/1.1", 12 },
		{ "a,b,c", "\x01" "a\x01" "b\x01" "c", 6 },
		{ "", NULL, 0 },
		{ ",", NULL, 0 },
		{ "h2,", NULL, 0 },
		{ ",h2", NULL, 0 },
		{ "h2,,http/1.1", NULL, 0 },
	};
	char big[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 0;
		char *w = tls_util_alpn_wire(cases[i].in, &len);
		if (!cases[i].out) {
			if (w)
				fail_msg("'%s' should be refused", cases[i].in);
			continue;
		}
		assert_non_null(w);
		assert_int_equal(len, cases[i].len);
		assert_memory_equal(w, cases[i].out, len);
		free(w);
	}
	assert_null(tls_util_alpn_wire(NULL, NULL));
	memset(big, 'x', 255);
	big[255] = '\0';
	size_t len = 0;
	char *w = tls_util_alpn_wire(big, &len);
	assert_non_null(w);
	assert_int_equal(len, 256);
	free(w);
	big[255] = 'x';
	big[256] = '\0';
	assert_null(tls_util_alpn_wire(big, &len));
}

static void test_step_tls_days_left(void **state)
{
	static const struct {
		long offset;
		int64_t days;
	} cases[] = {
		{ 10 * DAY + 60, 10 }, { 10 * DAY - 60, 9 }, { 3600, 0 },
		{ -3600, -1 },         { -DAY - 60, -2 },   { -DAY + 60, -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x = X509_new();
		int64_t d = 12345;
		assert_non_null(x);
		assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x),
						cases[i].offset));
		assert_int_equal(tls_util_cert_days_left(x, &d), 0);
		if (d != cases[i].days)
			fail_msg("offset %ld: got %lld want %lld",
				 cases[i].offset, (long long)d,
				 (long long)cases[i].days);
		X509_free(x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_tls_alpn_wire),
		cmocka_unit_test(test_step_tls_days_left),
		cmocka_unit_test(test_step_tls_trace_keylog_cap),
		cmocka_unit_test(test_step_tls_13_handshake),
		cmocka_unit_test(test_step_tls_12_handshake),
		cmocka_unit_test(test_step_tls_ip_literal),
		cmocka_unit_test(test_step_tls_sni),
		cmocka_unit_test(test_step_tls_sni_from_env),
		cmocka_unit_test(test_step_tls_wrong_hostname),
		cmocka_unit_test(test_step_tls_expired),
		cmocka_unit_test(test_step_tls_unknown_ca),
		cmocka_unit_test(test_step_tls_client_cert),
		cmocka_unit_test(test_step_tls_pins),
		cmocka_unit_test(test_step_tls_min_days_valid),
		cmocka_unit_test(test_step_tls_version_mismatch),
		cmocka_unit_test(test_step_tls_timeout),
		cmocka_unit_test(test_step_tls_no_tickets),
		cmocka_unit_test(test_step_tls_connect_fails),
		cmocka_unit_test(test_step_tls_bad_settings),
		cmocka_unit_test(test_step_tls_resumption),
		cmocka_unit_test(test_step_tls_trace_13),
		cmocka_unit_test(test_step_tls_trace_12),
	};

	/* a failed assertion must not leave servers behind: see PDEATHSIG */
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
