/*
 * test_step_http.c: the http step against a real server on loopback.
 *
 * The group setup starts a private nginx (nginx-light; `-p TMPDIR`, its
 * own config, pid, logs and temp paths, free ports above 1024, one
 * process) with three servers: plain HTTP with the test locations, HTTPS
 * (HTTP/2, a self-signed certificate for IP 127.0.0.1 only, valid 30
 * days) and a forward proxy for plain HTTP.  Each test parses a small
 * scenario, runs its steps in order on one step_env as the executor does
 * (one curl multi and easy handle for all of them), and checks the
 * records.  The group is skipped when nginx or openssl is missing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/run.h"
#include "scenario/scn_parse.h"
#include "steps/step.h"
#include "steps/tls_trace.h"
#include "util/xalloc.h"


/* ---- the servers ------------------------------------------------------- */

static char tmp[64];
static unsigned p_http, p_https, p_proxy, p_dead, p_mute;
static int mute_fd = -1; /* listens, never accepts: a server that hangs */
static pid_t nginx_pid = -1;
static char pin_ok[80];

static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool port_open(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = fd >= 0 &&
		  connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int sh(const char *cmd)
{
	int r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* Replace {TMP} {PH} {PS} {PP} {DEAD} {MUTE} {PIN} in a template. */
static char *fill(const char *tpl)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	for (const char *p = tpl; *p; p++) {
		char num[16];
		const struct {
			const char *key, *val;
			unsigned port;
		} keys[] = {
			{ "{TMP}", tmp, 0 },	     { "{PIN}", pin_ok, 0 },
			{ "{PH}", NULL, p_http },    { "{PS}", NULL, p_https },
			{ "{PP}", NULL, p_proxy },   { "{DEAD}", NULL, p_dead },
			{ "{MUTE}", NULL, p_mute },
		};
		size_t k, n = sizeof(keys) / sizeof(*keys);
		for (k = 0; *p == '{' && k < n; k++)
			if (strncmp(p, keys[k].key, strlen(keys[k].key)) == 0)
				break;
		if (*p == '{' && k < n) {
			snprintf(num, sizeof(num), "%u", keys[k].port);
			fputs(keys[k].val ? keys[k].val : num, f);
			p += strlen(keys[k].key) - 1;
			continue;
		}
		fputc(*p, f);
	}
	fclose(f);
	return out;
}

static const char nginx_conf[] =
	"daemon off;\n"
	"master_process off;\n"
	"pid {TMP}/nginx.pid;\n"
	"error_log {TMP}/error.log warn;\n"
	"events { worker_connections 64; }\n"
	"http {\n"
	"  access_log off;\n"
	"  client_body_temp_path {TMP}/t_body;\n"
	"  proxy_temp_path {TMP}/t_proxy;\n"
	"  fastcgi_temp_path {TMP}/t_fcgi;\n"
	"  uwsgi_temp_path {TMP}/t_uwsgi;\n"
	"  scgi_temp_path {TMP}/t_scgi;\n"
	"  default_type text/plain;\n"
	"  keepalive_timeout 60s;\n"
	"  server {\n"
	"    listen 127.0.0.1:{PH};\n"
	"    location = /ok { add_header X-Probe probe-yes always;\n"
	"                     return 200 \"hello probe\\n\"; }\n"
	"    location = /err { return 500 \"boom\\n\"; }\n"
	"    location = /login {\n"
	"      add_header Set-Cookie \"sid=abc123; Path=/\";\n"
	"      return 200\n"
	"        \"<input name=\\\"csrf\\\" value=\\\"tok-42\\\">\\n\"; }\n"
	"    location = /whoami {\n"
	"      return 200 \"cookie=[$http_cookie] csrf=[$http_x_csrf]\\n\"; }\n"
	"    location = /r1 { return 302 /r2; }\n"
	"    location = /r2 { return 301 http://127.0.0.1:{PH}/ok; }\n"
	"    location = /p303 { return 303 /echo; }\n"
	"    location = /p307 { return 307 /echo; }\n"
	"    location = /echo {\n"
	"      return 200\n"
	"        \"$request_method len=[$http_content_length]\\n\"; }\n"
	"    location = /secret { return 200 \"got [$http_x_token]\\n\"; }\n"
	"    location = /away { return 302 http://localhost:{PH}/auth; }\n"
	"    location = /auth {\n"
	"      return 200 \"auth=[$http_authorization]\\n\"; }\n"
	"  }\n"
	"  server {\n"
	"    listen 127.0.0.1:{PS} ssl http2;\n"
	"    ssl_certificate {TMP}/cert.pem;\n"
	"    ssl_certificate_key {TMP}/key.pem;\n"
	"    ssl_protocols TLSv1.2 TLSv1.3;\n"
	"    location / { return 200 \"secure\\n\"; }\n"
	"  }\n"
	"  server {\n"
	"    listen 127.0.0.1:{PP};\n"
	"    location / { proxy_pass http://127.0.0.1:{PH};\n"
	"                 add_header X-Via probe-proxy always; }\n"
	"  }\n"
	"}\n";

static int servers_up(void **state)
{
	(void)state;
	if (sh("command -v nginx >/dev/null && command -v openssl "
	       ">/dev/null") != 0)
		return 0; /* the tests skip themselves */
	snprintf(tmp, sizeof(tmp), "/tmp/probe-http-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	p_http = free_port();
	p_https = free_port();
	p_proxy = free_port();
	p_dead = free_port(); /* nothing listens there: refused */
	if (p_http < 1024 || p_https < 1024 || p_proxy < 1024 || p_dead < 1024)
		return -1;
	struct sockaddr_in ma = { .sin_family = AF_INET };
	socklen_t mlen = sizeof(ma);
	ma.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	mute_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (mute_fd < 0 ||
	    bind(mute_fd, (struct sockaddr *)&ma, sizeof(ma)) != 0 ||
	    listen(mute_fd, 8) != 0 ||
	    getsockname(mute_fd, (struct sockaddr *)&ma, &mlen) != 0)
		return -1;
	p_mute = ntohs(ma.sin_port);

	char *cmd = fill(
		"cd {TMP} && openssl req -x509 -newkey ec "
		"-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 "
		"-subj /CN=probe-test -addext subjectAltName=IP:127.0.0.1 "
		"-keyout key.pem -out cert.pem >/dev/null 2>&1 && "
		"openssl x509 -in cert.pem -pubkey -noout | "
		"openssl pkey -pubin -outform der | "
		"openssl dgst -sha256 -binary | openssl base64 -A > pin");
	if (!cmd || sh(cmd) != 0) {
		free(cmd);
		return -1;
	}
	free(cmd);
	char *path = fill("{TMP}/pin");
	FILE *f = fopen(path, "r");
	free(path);
	char b64[60] = "";
	if (!f || !fgets(b64, sizeof(b64), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	snprintf(pin_ok, sizeof(pin_ok), "sha256//%s", b64);

	char *conf = fill(nginx_conf);
	path = fill("{TMP}/nginx.conf");
	f = fopen(path, "w");
	if (!f || !conf || fputs(conf, f) < 0) {
		if (f)
			fclose(f);
		free(conf);
		free(path);
		return -1;
	}
	fclose(f);
	free(conf);

	nginx_pid = fork();
	if (nginx_pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("nginx", "nginx", "-p", tmp, "-c", path, "-e",
		       "stderr", (char *)NULL);
		_exit(127);
	}
	free(path);
	if (nginx_pid < 0)
		return -1;
	for (int i = 0; i < 500; i++) {
		if (port_open(p_http) && port_open(p_https) &&
		    port_open(p_proxy))
			return 0;
		int st;
		if (waitpid(nginx_pid, &st, WNOHANG) == nginx_pid) {
			nginx_pid = -1;
			return -1;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int servers_down(void **state)
{
	(void)state;
	if (mute_fd >= 0) {
		close(mute_fd);
		mute_fd = -1;
	}
	if (nginx_pid > 0) {
		kill(nginx_pid, SIGTERM);
		waitpid(nginx_pid, NULL, 0);
		nginx_pid = -1;
	}
	if (tmp[0]) {
		char *cmd = fill("rm -rf {TMP}");
		if (cmd && strncmp(tmp, "/tmp/probe-http-", 16) == 0)
			(void)sh(cmd);
		free(cmd);
	}
	return 0;
}

/* ---- a scenario on one env, as the executor runs it -------------------- */

struct harness {
	struct step_loop loop;
	struct scn_plan plan;
	struct run_rec run;
	struct step_env env;
	struct tls_trace_set traces;
	struct step_job job;
	bool done, in_start;
	int dones;
	uint64_t t0[16]; /* each step's start */
};

static struct harness T;

static void on_done(struct step_job *job)
{
	(void)job;
	assert_false(T.in_start); /* never from inside step_http_start */
	T.done = true;
	T.dones++;
	step_loop_stop(&T.loop);
}

/* Parse the scenario (placeholders filled) and run every step. */
static void run(const char *text)
{
	if (nginx_pid <= 0)
		skip();
	char *s = fill(text);
	struct scn_diags d;
	assert_non_null(s);
	memset(&T, 0, sizeof(T));
	memset(&d, 0, sizeof(d));
	if (scn_parse_buf("t.scn", s, strlen(s), &T.plan, &d) != 0 ||
	    d.n_errors) {
		scn_diags_print(&d, stderr);
		fail_msg("scenario does not parse: %s", s);
	}
	scn_diags_release(&d);
	free(s);

	step_loop_init(&T.loop);
	run_rec_init(&T.run);
	T.env.loop = &T.loop;
	T.env.plan = &T.plan;
	T.env.run = &T.run;
	T.env.traces = &T.traces;
	T.env.clock.mono0_ns = step_loop_now_ns();
	T.env.clock.off0_ns = (int64_t)time(NULL) * 1000000000 -
			  (int64_t)T.env.clock.mono0_ns;
	T.env.deadline_ns = T.env.clock.mono0_ns + 30ull * 1000000000u;
	struct errbuf err = { "" };
	assert_int_equal(step_dns_env_init(&T.env, &err), 0);
	assert_int_equal(step_http_env_init(&T.env, &err), 0);

	for (size_t i = 0; i < T.plan.n_steps; i++) {
		struct step_rec *r;
		assert_int_equal(run_rec_add_step(&T.run, &r), 0);
	}
	for (size_t i = 0; i < T.plan.n_steps; i++) {
		struct step_rec *r = &T.run.steps[i];
		r->ok = true;
		if (i < 16)
			T.t0[i] = step_loop_now_ns();
		T.job = (struct step_job){ .env = &T.env,
					   .st = &T.plan.steps[i],
					   .rec = r,
					   .t0_ns = step_loop_now_ns(),
					   .done = on_done };
		T.done = false;
		T.in_start = true;
		assert_int_equal(step_http_start(&T.job), 0);
		T.in_start = false;
		assert_false(T.done);
		assert_int_equal(step_loop_run(&T.loop), 0);
		assert_true(T.done);
		if (r->error)
			r->ok = false;
	}
	assert_int_equal(T.dones, (int)T.plan.n_steps);
}

static void finish(void)
{
	step_http_env_release(&T.env);
	assert_null(T.env.http);
	step_dns_env_release(&T.env);
	step_env_release_vars(&T.env);
	tls_trace_set_release(&T.traces);
	run_rec_release(&T.run);
	scn_plan_release(&T.plan);
	/* nothing of ours may stay on the loop */
	assert_int_equal(T.loop.n, 0);
	step_loop_release(&T.loop);
}

static struct step_rec *step(size_t i)
{
	assert_true(i < T.run.n_steps);
	return &T.run.steps[i];
}

static void expect_ok(size_t i)
{
	struct step_rec *r = step(i);
	if (!r->ok)
		fail_msg("step %zu: %s: %s", i + 1, r->error ? r->error : "?",
			 r->error_detail ? r->error_detail : "");
}

static void expect_error(size_t i, const char *cls)
{
	struct step_rec *r = step(i);
	assert_false(r->ok);
	assert_non_null(r->error);
	if (strcmp(r->error, cls) != 0)
		fail_msg("step %zu: expected %s, got %s: %s", i + 1, cls,
			 r->error, r->error_detail ? r->error_detail : "");
}

static void expect_detail_has(size_t i, const char *text)
{
	struct step_rec *r = step(i);
	assert_non_null(r->error_detail);
	if (!strstr(r->error_detail, text))
		fail_msg("step %zu: detail '%s' lacks '%s'", i + 1,
			 r->error_detail, text);
}

static char *url(const char *tpl)
{
	char *u = fill(tpl);
	assert_non_null(u);
	return u;
}

/* ---- tests ------------------------------------------------------------- */

static void test_step_http_get_ok(void **state)
{
	(void)state;
	run("http GET http://127.0.0.1:{PH}/ok expect status=200 "
	    "body*='hello'\n");
	expect_ok(0);
	struct step_rec *r = step(0);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->bytes, 12);
	assert_string_equal(r->http_version, "1.1");
	assert_int_equal(r->conn_state, RUN_CONN_NEW);
	assert_int_equal(r->family, RUN_FAMILY_IPV4);
	assert_true(isnan(r->tls_ms));
	assert_false(isnan(r->connect_ms));
	assert_false(isnan(r->ttfb_ms));
	assert_false(isnan(r->total_ms));
	assert_null(r->tls_version);

	assert_int_equal(r->n_conns, 1);
	struct conn_rec *c = &r->conns[0];
	assert_true(c->key != 0);
	assert_string_equal(c->src_addr, "127.0.0.1");
	assert_string_equal(c->dst_addr, "127.0.0.1");
	assert_true(c->src_port > 1024);
	assert_int_equal(c->dst_port, p_http);
	assert_int_equal(c->conn_state, RUN_CONN_NEW);
	/* the kernel's TCP_INFO figures, until a capture replaces them */
	assert_int_equal(c->source, RUN_SOURCE_TCP_INFO);
	assert_true(c->rtt_ms > 0);
	assert_int_equal(c->retrans, 0);
	assert_int_equal(c->family, RUN_FAMILY_IPV4);
	assert_true(fabs(c->connect_ms - r->connect_ms) < 0.001);
	assert_true(isnan(c->tls_ms));

	assert_int_equal(r->n_exchanges, 1);
	struct exchange_rec *x = &r->exchanges[0];
	char *u = url("http://127.0.0.1:{PH}/ok");
	assert_string_equal(x->url, u);
	free(u);
	assert_string_equal(x->method, "GET");
	assert_int_equal(x->status, 200);
	assert_int_equal(x->conn_key, c->key);
	assert_int_equal(x->source, RUN_SOURCE_LIBRARY);
	assert_true(fabs(x->total_ms - r->total_ms) < 0.001);
	finish();
}

static void test_step_http_status(void **state)
{
	(void)state;
	run("http GET http://127.0.0.1:{PH}/err\n"
	    "http GET http://127.0.0.1:{PH}/err expect status=200,204\n"
	    "http GET http://127.0.0.1:{PH}/err expect status=5xx\n");
	expect_error(0, "http.status");
	expect_detail_has(0, "500");
	expect_error(1, "http.status");
	expect_detail_has(1, "expected status 200,204, got 500");
	expect_ok(2);
	assert_int_equal(step(2)->status, 500);
	finish();
}

static void test_step_http_body(void **state)
{
	(void)state;
	run("http GET http://127.0.0.1:{PH}/ok expect body~'^bye'\n"
	    "http GET http://127.0.0.1:{PH}/ok expect body!~'probe$'\n"
	    "http GET http://127.0.0.1:{PH}/ok expect body*='nothing'\n"
	    "http GET http://127.0.0.1:{PH}/ok expect body~'^hello [a-z]+$' "
	    "body!~'bye'\n");
	expect_error(0, "http.body");
	expect_detail_has(0, "does not match '^bye'");
	expect_detail_has(0, "hello probe."); /* the excerpt, \n as . */
	expect_error(1, "http.body");
	expect_error(2, "http.body");
	expect_detail_has(2, "does not contain 'nothing'");
	expect_ok(3);
	finish();
}

static void test_step_http_header(void **state)
{
	(void)state;
	run("http GET http://127.0.0.1:{PH}/ok expect header:x-probe=probe-yes "
	    "header:Content-Type*=plain header:X-PROBE~'^probe-'\n"
	    "http GET http://127.0.0.1:{PH}/ok expect header:X-Probe=no\n"
	    "http GET http://127.0.0.1:{PH}/ok expect header:X-Missing!~'x'\n"
	    "http GET http://127.0.0.1:{PH}/ok expect header:X-Missing*='x'\n");
	expect_ok(0);
	expect_error(1, "http.header");
	expect_detail_has(1, "got 'probe-yes'");
	expect_ok(2);
	expect_error(3, "http.header");
	expect_detail_has(3, "missing");
	finish();
}

static void test_step_http_extract_and_cookies(void **state)
{
	(void)state;
	run("http GET http://127.0.0.1:{PH}/login "
	    "extract csrf='value=\"([^\"]+)\"'\n"
	    "http GET http://127.0.0.1:{PH}/whoami header=\"X-Csrf: ${csrf}\" "
	    "expect body*='csrf=[tok-42]' body*='cookie=[sid=abc123]'\n"
	    "http GET http://127.0.0.1:{PH}/ok extract nope='(zzz+)'\n");
	expect_ok(0);
	expect_ok(1);
	expect_error(2, "http.extract");
	expect_detail_has(2, "nope");
	assert_int_equal(T.env.n_vars, 1);
	assert_string_equal(T.env.vars[0].name, "csrf");
	assert_string_equal(T.env.vars[0].value, "tok-42");
	finish();
}

static void test_step_http_redirects(void **state)
{
	(void)state;
	run("http GET http://127.0.0.1:{PH}/r1 follow=2 expect status=200 "
	    "body*='hello'\n"
	    "http GET http://127.0.0.1:{PH}/r1 follow=1\n"
	    "http GET http://127.0.0.1:{PH}/r1\n");
	expect_ok(0);
	struct step_rec *r = step(0);
	assert_int_equal(r->n_exchanges, 3);
	static const char *const want[] = { "http://127.0.0.1:{PH}/r1",
					    "http://127.0.0.1:{PH}/r2",
					    "http://127.0.0.1:{PH}/ok" };
	static const int64_t codes[] = { 302, 301, 200 };
	double sum = 0;
	for (size_t i = 0; i < 3; i++) {
		struct exchange_rec *x = &r->exchanges[i];
		char *u = url(want[i]);
		assert_string_equal(x->url, u);
		free(u);
		assert_int_equal(x->status, codes[i]);
		assert_int_equal(x->idx, (int64_t)i + 1);
		assert_false(isnan(x->ttfb_ms));
		assert_false(isnan(x->total_ms));
		assert_true(x->total_ms > 0);
		/* one keep-alive connection for all hops */
		assert_int_equal(x->conn_key, r->conns[0].key);
		sum += x->total_ms;
	}
	assert_false(isnan(r->exchanges[0].connect_ms));
	assert_true(isnan(r->exchanges[1].connect_ms)); /* reused */
	assert_int_equal(r->n_conns, 1);
	assert_true(fabs(r->total_ms - sum) < 1.0);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->bytes, 12);

	/* follow=1: the 301 is final, and a 3xx is no failure */
	expect_ok(1);
	assert_int_equal(step(1)->n_exchanges, 2);
	assert_int_equal(step(1)->status, 301);
	expect_ok(2);
	assert_int_equal(step(2)->n_exchanges, 1);
	assert_int_equal(step(2)->status, 302);
	finish();
}

static void test_step_http_redirect_methods(void **state)
{
	(void)state;
	run("http POST http://127.0.0.1:{PH}/p303 body='a=123' follow=1 "
	    "expect body*='GET len=[]'\n"
	    "http POST http://127.0.0.1:{PH}/p307 body='a=123' follow=1 "
	    "expect body*='POST len=[5]'\n"
	    "http PUT http://127.0.0.1:{PH}/echo body='xy' "
	    "expect body*='PUT len=[2]'\n"
	    "http POST http://127.0.0.1:{PH}/echo expect body*='POST len=[0]'\n"
	    "http DELETE http://127.0.0.1:{PH}/echo expect body*='DELETE'\n"
	    "http HEAD http://127.0.0.1:{PH}/ok expect status=200\n");
	for (size_t i = 0; i < 6; i++)
		expect_ok(i);
	assert_string_equal(step(0)->exchanges[0].method, "POST");
	assert_string_equal(step(0)->exchanges[1].method, "GET");
	assert_string_equal(step(1)->exchanges[1].method, "POST");
	assert_int_equal(step(5)->bytes, 0);
	finish();
}

static void test_step_http_cross_origin_redirect(void **state)
{
	(void)state;
	/* a new host is resolved by the probe; credentials stay behind */
	run("http GET http://127.0.0.1:{PH}/away follow=1 ip=4 "
	    "header='Authorization: Bearer t0ken' expect body*='auth=[]'\n"
	    "http GET http://localhost:{PH}/auth ip=4 "
	    "header='Authorization: Bearer t0ken' "
	    "expect body*='auth=[Bearer t0ken]'\n");
	expect_ok(0);
	struct step_rec *r = step(0);
	assert_int_equal(r->n_exchanges, 2);
	char *u = url("http://localhost:{PH}/auth");
	assert_string_equal(r->exchanges[1].url, u);
	free(u);
	/* another host name: another connection */
	assert_int_equal(r->n_conns, 2);
	assert_int_equal(r->exchanges[1].conn_key, r->conns[1].key);
	expect_ok(1);
	finish();
}

static void test_step_http_too_large(void **state)
{
	(void)state;
	run("http GET http://127.0.0.1:{PH}/ok max_body=10\n"
	    "http GET http://127.0.0.1:{PH}/ok max_body=12\n");
	expect_error(0, "http.too_large");
	expect_detail_has(0, "max_body=10");
	expect_ok(1);
	finish();
}

static void test_step_http_proxy_env_ignored(void **state)
{
	(void)state;
	/* a dead proxy everywhere curl would look */
	static const char *const vars[] = { "http_proxy", "https_proxy",
					    "HTTPS_PROXY", "ALL_PROXY",
					    "all_proxy" };
	for (size_t i = 0; i < 5; i++)
		setenv(vars[i], "http://127.0.0.1:1", 1);
	run("http GET http://127.0.0.1:{PH}/ok\n"
	    "http GET https://127.0.0.1:{PS}/ ca={TMP}/cert.pem\n");
	for (size_t i = 0; i < 5; i++)
		unsetenv(vars[i]);
	expect_ok(0);
	expect_ok(1);
	assert_int_equal(step(0)->conns[0].dst_port, p_http);
	assert_int_equal(step(1)->conns[0].dst_port, p_https);
	finish();
}

static void test_step_http_explicit_proxy(void **state)
{
	(void)state;
	/* the proxy's name is resolved by the probe too */
	run("http GET http://127.0.0.1:{PH}/ok proxy=http://localhost:{PP} "
	    "ip=4 expect header:X-Via=probe-proxy body*='hello'\n");
	expect_ok(0);
	assert_int_equal(step(0)->conns[0].dst_port, p_proxy);
	finish();
}

static void test_step_http_refused(void **state)
{
	(void)state;
	run("http GET http://127.0.0.1:{DEAD}/\n"
	    "http GET http://no-such-host.invalid/ timeout=3s\n");
	expect_error(0, "tcp.refused");
	/* curl knows no local port of a refused connect: no conn_rec */
	assert_int_equal(step(0)->n_conns, 0);
	assert_int_equal(step(0)->family, RUN_FAMILY_IPV4);
	assert_int_equal(step(0)->n_exchanges, 1);
	assert_int_equal(step(0)->exchanges[0].status, RUN_NULL_INT);
	assert_false(step(1)->ok);
	assert_non_null(step(1)->error);
	assert_memory_equal(step(1)->error, "dns.", 4);
	assert_int_equal(step(1)->n_exchanges, 0);
	finish();
}

static void test_step_http_timeout(void **state)
{
	(void)state;
	/* connected (the kernel accepted it), the request sent, no answer */
	run("http GET http://127.0.0.1:{MUTE}/ timeout=300ms\n"
	    "http GET https://127.0.0.1:{MUTE}/ timeout=300ms\n");
	expect_error(0, "http.timeout");
	assert_true(step(0)->total_ms >= 299 && step(0)->total_ms < 2000);
	assert_int_equal(step(0)->n_conns, 1);
	/* https: TCP up, the ServerHello never comes */
	expect_error(1, "tls.timeout");
	assert_int_equal(step(1)->n_conns, 1);
	struct tls_trace *t = NULL;
	for (size_t i = 0; i < T.traces.n; i++)
		if (T.traces.v[i]->conn_key == step(1)->conns[0].key)
			t = T.traces.v[i];
	assert_non_null(t);
	assert_true(t->n >= 1); /* the ClientHello that went unanswered */
	assert_int_equal(t->rec[0].hs_type, 1);
	assert_int_equal(t->dport, p_mute);
	finish();
}

static void test_step_http_reuse(void **state)
{
	(void)state;
	run("http GET http://127.0.0.1:{PH}/ok\n"
	    "http GET http://127.0.0.1:{PH}/ok\n");
	expect_ok(0);
	expect_ok(1);
	assert_int_equal(step(0)->conn_state, RUN_CONN_NEW);
	assert_int_equal(step(0)->n_conns, 1);
	assert_int_equal(step(1)->conn_state, RUN_CONN_REUSED);
	assert_int_equal(step(1)->n_conns, 0);
	assert_int_equal(step(1)->exchanges[0].conn_key,
			 step(0)->conns[0].key);
	assert_true(isnan(step(1)->connect_ms));
	finish();
}

static struct tls_trace *trace_of(uint32_t key)
{
	for (size_t i = 0; i < T.traces.n; i++)
		if (T.traces.v[i]->conn_key == key)
			return T.traces.v[i];
	return NULL;
}

static void test_step_http_tls(void **state)
{
	(void)state;
	run("http GET https://127.0.0.1:{PS}/ ca={TMP}/cert.pem "
	    "expect status=200 body*=secure\n"
	    "http GET https://127.0.0.1:{PS}/ ca={TMP}/cert.pem\n"
	    "http GET https://127.0.0.1:{PS}/ ca={TMP}/cert.pem http=1.1\n"
	    "http GET https://127.0.0.1:{PS}/ ca={TMP}/cert.pem pin={PIN}\n");
	expect_ok(0);
	struct step_rec *r = step(0);
	assert_string_equal(r->http_version, "2");
	assert_string_equal(r->tls_version, "TLSv1.3");
	assert_non_null(r->tls_cipher);
	assert_string_equal(r->alpn, "h2");
	assert_int_equal(r->tls_resumed, 0);
	assert_int_equal(r->conn_state, RUN_CONN_NEW);
	assert_false(isnan(r->tls_ms));
	assert_true(r->n_certs >= 1);
	assert_int_equal(r->certs[0].verified, 1);
	assert_true(r->certs[0].days_left >= 28 && r->certs[0].days_left <= 30);
	assert_int_equal(r->n_conns, 1);

	/* the trace: bound before the ClientHello, tied to the 5-tuple */
	struct conn_rec *c = &r->conns[0];
	assert_false(isnan(c->connect_ms));
	assert_true(fabs(c->tls_ms - r->tls_ms) < 0.001);
	struct tls_trace *t = trace_of(c->key);
	assert_non_null(t);
	assert_string_equal(t->src, c->src_addr);
	assert_int_equal(t->sport, c->src_port);
	assert_int_equal(t->dport, p_https);
	assert_true(t->n >= 4);
	assert_int_equal(t->rec[0].dir, TLS_DIR_OUT);
	assert_int_equal(t->rec[0].outer, 22);
	assert_int_equal(t->rec[0].hs_type, 1); /* ClientHello */
	assert_true(t->keylog_len > 0);

	/* same host, same options: the HTTP/2 connection is reused */
	expect_ok(1);
	assert_int_equal(step(1)->conn_state, RUN_CONN_REUSED);
	assert_int_equal(step(1)->n_conns, 0);
	assert_int_equal(step(1)->exchanges[0].conn_key, c->key);
	assert_string_equal(step(1)->tls_version, "TLSv1.3");
	assert_true(isnan(step(1)->tls_ms));
	/* still recording: records of step 2's exchange */
	size_t later = 0;
	for (size_t i = 0; i < t->n; i++)
		later += t->rec[i].t_ns >= T.t0[1] && t->rec[i].t_ns < T.t0[2];
	assert_true(later >= 2);

	/* http=1.1 cannot use the h2 connection: a new, resumed one */
	expect_ok(2);
	assert_string_equal(step(2)->http_version, "1.1");
	assert_int_equal(step(2)->n_conns, 1);
	assert_int_equal(step(2)->conn_state, RUN_CONN_RESUMED);
	assert_int_equal(step(2)->tls_resumed, 1);
	assert_int_equal(step(2)->conns[0].resumed, 1);
	assert_int_equal(step(2)->conns[0].conn_state, RUN_CONN_RESUMED);
	assert_non_null(trace_of(step(2)->conns[0].key));
	assert_true(step(2)->n_certs >= 1); /* a resumed session has it too */
	assert_false(isnan(step(2)->tls_ms));

	/* pin= is part of curl's TLS config: a connection of its own */
	expect_ok(3);
	assert_int_equal(step(3)->n_conns, 1);
	finish();
}

static void test_step_http_tls_failures(void **state)
{
	(void)state;
	run("http GET https://127.0.0.1:{PS}/\n"
	    "http GET https://localhost:{PS}/ ip=4 ca={TMP}/cert.pem\n"
	    "http GET https://127.0.0.1:{PS}/ ca={TMP}/cert.pem "
	    "pin=sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	    "http GET https://127.0.0.1:{PS}/ ca={TMP}/cert.pem "
	    "min_days_valid=60\n"
	    "http GET https://127.0.0.1:{PS}/ ca={TMP}/cert.pem "
	    "min_days_valid=7\n");
	expect_error(0, "tls.verify");
	/* the failed handshake still has its connection and records */
	assert_int_equal(step(0)->n_conns, 1);
	struct tls_trace *t = trace_of(step(0)->conns[0].key);
	assert_non_null(t);
	assert_true(t->n >= 2);
	assert_true(t->sport > 0);
	expect_error(1, "tls.hostname");
	expect_error(2, "tls.pin");
	expect_error(3, "tls.expiring");
	expect_detail_has(3, "min_days_valid=60");
	expect_ok(4);
	finish();
}

static void test_step_http_secrets_stay_out(void **state)
{
	(void)state;
	setenv("PROBE_T_SECRET", "s3cr3t-value", 1);
	run("http GET http://127.0.0.1:{PH}/secret?k=${PROBE_T_SECRET} "
	    "header='X-Token: ${PROBE_T_SECRET}' "
	    "expect body~'^nope ${PROBE_T_SECRET}'\n");
	unsetenv("PROBE_T_SECRET");
	expect_error(0, "http.body");
	struct step_rec *r = step(0);
	/* the server echoed it: the excerpt is redacted */
	assert_null(strstr(r->error_detail, "s3cr3t"));
	expect_detail_has(0, "got [${PROBE_T_SECRET}]");
	expect_detail_has(0, "'^nope ${PROBE_T_SECRET}'");
	char *u = url("http://127.0.0.1:{PH}/secret?k=${PROBE_T_SECRET}");
	assert_string_equal(r->exchanges[0].url, u);
	free(u);
	finish();
}

static void test_step_http_bad_url(void **state)
{
	(void)state;
	setenv("PROBE_T_URL", "ftp://127.0.0.1/x", 1);
	run("http GET ${PROBE_T_URL}\n");
	unsetenv("PROBE_T_URL");
	expect_error(0, "http.error");
	expect_detail_has(0, "unsupported scheme");
	assert_null(strstr(step(0)->error_detail, "127.0.0.1"));
	finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_http_get_ok),
		cmocka_unit_test(test_step_http_status),
		cmocka_unit_test(test_step_http_body),
		cmocka_unit_test(test_step_http_header),
		cmocka_unit_test(test_step_http_extract_and_cookies),
		cmocka_unit_test(test_step_http_redirects),
		cmocka_unit_test(test_step_http_redirect_methods),
		cmocka_unit_test(test_step_http_cross_origin_redirect),
		cmocka_unit_test(test_step_http_too_large),
		cmocka_unit_test(test_step_http_proxy_env_ignored),
		cmocka_unit_test(test_step_http_explicit_proxy),
		cmocka_unit_test(test_step_http_refused),
		cmocka_unit_test(test_step_http_timeout),
		cmocka_unit_test(test_step_http_reuse),
		cmocka_unit_test(test_step_http_tls),
		cmocka_unit_test(test_step_http_tls_failures),
		cmocka_unit_test(test_step_http_secrets_stay_out),
		cmocka_unit_test(test_step_http_bad_url),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, servers_up, servers_down);
}
