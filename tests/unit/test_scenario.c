/*
 * test_scenario.c: the scenario lexer, parser, templates and plan printer.
 *
 * Valid input is checked field by field; invalid input through the data
 * files tests/data/scn/bad/NAME.scn, each with NAME.err holding the exact
 * diagnostics (file:line:col: message) the parser must give.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scenario/scn_parse.h"

static int parse(const char *text, struct scn_plan *plan,
		 struct scn_diags *d)
{
	memset(d, 0, sizeof(*d));
	return scn_parse_buf("t.scn", text, strlen(text), plan, d);
}

/* Parse text that must be valid; fails the test with the diagnostics. */
static void parse_ok(const char *text, struct scn_plan *plan)
{
	struct scn_diags d;
	int r = parse(text, plan, &d);
	if (r != 0 || d.n_errors) {
		scn_diags_print(&d, stderr);
		fail_msg("expected a valid scenario: %s", text);
	}
	scn_diags_release(&d);
}

/* Parse text that must fail; returns all diagnostics as one string. */
static char *parse_err(const char *text)
{
	struct scn_plan plan;
	struct scn_diags d;
	int r = parse(text, &plan, &d);
	assert_int_equal(r, PE_INVAL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	scn_diags_print(&d, f);
	fclose(f);
	scn_diags_release(&d);
	return buf;
}

static void test_scenario_settings(void **state)
{
	(void)state;
	struct scn_plan p;
	parse_ok("scenario shop\n"
		 "resolver 10.0.0.2:5353 ::1\n"
		 "resolver [2001:db8::1]:53\n"
		 "capture required\n"
		 "timeout 1.5s\n"
		 "keep_pcap always\n"
		 "keylog on\n"
		 "threshold think_ms > 300\n"
		 "threshold rtt_ms >= 2.5x baseline for 3 runs step=a\n"
		 "threshold retrans > 0\n"
		 "threshold ttfb_ms <= 1.5s\n"
		 "dns example.com name=a\n",
		 &p);
	assert_string_equal(p.name, "shop");
	assert_int_equal(p.n_resolvers, 3);
	assert_string_equal(p.resolvers[0].addr, "10.0.0.2");
	assert_int_equal(p.resolvers[0].port, 5353);
	assert_string_equal(p.resolvers[1].addr, "::1");
	assert_int_equal(p.resolvers[1].port, 53);
	assert_string_equal(p.resolvers[2].addr, "2001:db8::1");
	assert_int_equal(p.capture, SCN_CAPTURE_REQUIRED);
	assert_int_equal(p.timeout_ms, 1500);
	assert_int_equal(p.keep_pcap, SCN_KEEP_ALWAYS);
	assert_true(p.keylog);
	assert_int_equal(p.n_thresholds, 4);
	assert_string_equal(p.thresholds[0].metric, "think_ms");
	assert_int_equal(p.thresholds[0].cmp, SCN_CMP_GT);
	assert_true(p.thresholds[0].value == 300);
	assert_true(p.thresholds[1].of_baseline);
	assert_true(p.thresholds[1].value == 2.5);
	assert_int_equal(p.thresholds[1].for_runs, 3);
	assert_string_equal(p.thresholds[1].step, "a");
	assert_int_equal(p.thresholds[1].cmp, SCN_CMP_GE);
	assert_true(p.thresholds[3].value == 1500);
	assert_int_equal(p.thresholds[3].cmp, SCN_CMP_LE);
	scn_plan_release(&p);
}

static void test_scenario_defaults_when_absent(void **state)
{
	(void)state;
	struct scn_plan p;
	parse_ok("tcp a.example:80\n", &p);
	/* no `scenario` line: the file name without .scn */
	assert_string_equal(p.name, "t");
	assert_int_equal(p.n_resolvers, 0);
	assert_int_equal(p.capture, SCN_CAPTURE_ON);
	assert_int_equal(p.keep_pcap, SCN_KEEP_ON_BREACH);
	assert_false(p.keylog);
	assert_int_equal(p.timeout_ms, SCN_DEFAULT_RUN_TIMEOUT_MS);
	assert_int_equal(p.steps[0].opts.timeout_ms,
			 SCN_DEFAULT_STEP_TIMEOUT_MS);
	assert_string_equal(p.steps[0].name, "tcp#1");
	assert_int_equal(p.steps[0].port, 80);
	scn_plan_release(&p);
}

static void test_scenario_steps(void **state)
{
	(void)state;
	struct scn_plan p;
	parse_ok("dns shop.example.com mx txt timeout=2s retries=0 "
		 "tcp=always resolver=[::1]:5353 expect rcode=NXDOMAIN\n"
		 "tcp [2001:db8::1]:443 ip=both\n"
		 "tls shop.example.com sni=www.example.com alpn=h2,http/1.1 "
		 "tls_min=1.2 tls_max=1.3 ca=/etc/ca.pem cert=c.pem key=k.pem "
		 "min_days_valid=14 "
		 "pin=sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
		 "http POST https://shop.example.com/login http=2 follow=3 "
		 "max_body=512KiB proxy=socks5h://p:1080 "
		 "header='Content-Type: text/plain' header=\"X-A: 1\" "
		 "body='a=1&b=2' expect status=200,3xx body~'^ok' "
		 "body!~'error' body*='Cart' header:Content-Type~'json' "
		 "extract tok='t=([a-z]+)'\n",
		 &p);
	assert_int_equal(p.n_steps, 4);
	const struct scn_step *s = &p.steps[0];
	assert_int_equal(s->kind, SCN_STEP_DNS);
	assert_int_equal(s->n_qtypes, 2);
	assert_int_equal(s->qtypes[0], SCN_QT_MX);
	assert_int_equal(s->qtypes[1], SCN_QT_TXT);
	assert_int_equal(s->opts.timeout_ms, 2000);
	assert_int_equal(s->opts.retries, 0);
	assert_int_equal(s->opts.dns_tcp, SCN_DNS_TCP_ALWAYS);
	assert_string_equal(s->opts.resolver.addr, "::1");
	assert_int_equal(s->opts.resolver.port, 5353);
	assert_int_equal(s->n_expects, 1);
	assert_int_equal(s->expects[0].what, SCN_EXP_RCODE);
	assert_int_equal(s->expects[0].rcode, 3);

	s = &p.steps[1];
	assert_int_equal(s->kind, SCN_STEP_TCP);
	assert_string_equal(s->target.segs[0].text, "2001:db8::1");
	assert_int_equal(s->port, 443);
	assert_int_equal(s->opts.ip, SCN_IP_BOTH);

	s = &p.steps[2];
	assert_int_equal(s->port, 443); /* tls default */
	assert_string_equal(s->opts.alpn, "h2,http/1.1");
	assert_int_equal(s->opts.tls_min, 0x0303);
	assert_int_equal(s->opts.tls_max, 0x0304);
	assert_string_equal(s->opts.ca, "/etc/ca.pem");
	assert_int_equal(s->opts.min_days_valid, 14);
	assert_int_equal(s->opts.n_pins, 1);

	s = &p.steps[3];
	assert_string_equal(s->method, "POST");
	assert_int_equal(s->opts.http, SCN_HTTP_2);
	assert_int_equal(s->opts.follow, 3);
	assert_int_equal(s->opts.max_body, 512 * 1024);
	assert_int_equal(s->n_headers, 2);
	assert_string_equal(s->headers[1].segs[0].text, "X-A: 1");
	assert_true(s->has_body);
	assert_string_equal(s->body.segs[0].text, "a=1&b=2");
	assert_int_equal(s->n_expects, 5);
	assert_int_equal(s->expects[0].n_status, 2);
	assert_int_equal(s->expects[0].status_lo[1], 300);
	assert_int_equal(s->expects[0].status_hi[1], 399);
	assert_int_equal(s->expects[1].op, SCN_EXP_MATCH);
	assert_int_equal(s->expects[2].op, SCN_EXP_NOMATCH);
	assert_int_equal(s->expects[3].op, SCN_EXP_CONTAINS);
	assert_string_equal(s->expects[4].header, "Content-Type");
	assert_int_equal(s->n_extracts, 1);
	assert_string_equal(s->extracts[0].name, "tok");
	assert_string_equal(s->extracts[0].regex, "t=([a-z]+)");
	scn_plan_release(&p);
}

static void test_scenario_all_qtypes_kept(void **state)
{
	(void)state;
	struct scn_plan p;
	parse_ok("dns a.example A AAAA CNAME TXT MX NS SOA PTR SRV CAA a\n",
		 &p);
	static const uint16_t want[] = { 1, 28, 5, 16, 15, 2, 6, 12, 33, 257 };
	assert_int_equal(p.steps[0].n_qtypes, 10); /* the second A is one */
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(p.steps[0].qtypes[i], want[i]);
	scn_plan_release(&p);
}

static void test_scenario_defaults_merge(void **state)
{
	(void)state;
	struct scn_plan p;
	parse_ok("defaults timeout=3s http=1.1 ca=x.pem retries=5 "
		 "cert=c key=k\n"
		 "http GET http://a/ timeout=1s\n"
		 "dns a\n"
		 "tcp a:1\n",
		 &p);
	assert_int_equal(p.steps[0].opts.timeout_ms, 1000); /* own wins */
	assert_int_equal(p.steps[0].opts.http, SCN_HTTP_1_1);
	assert_string_equal(p.steps[0].opts.ca, "x.pem");
	assert_string_equal(p.steps[0].opts.cert, "c");
	assert_int_equal(p.steps[1].opts.timeout_ms, 3000);
	assert_int_equal(p.steps[1].opts.retries, 5);
	assert_null(p.steps[1].opts.ca); /* not a dns option */
	assert_int_equal(p.steps[2].opts.timeout_ms, 3000);
	scn_plan_release(&p);
}

static void test_scenario_lexer(void **state)
{
	(void)state;
	struct scn_plan p;
	/* quotes, escapes, $$, adjacency, comments, continuation, CRLF */
	parse_ok("# comment line\r\n"
		 "http POST http://h/#frag   # trailing comment\\\n"
		 "\n",
		 &p);
	const struct scn_step *s = &p.steps[0];
	assert_string_equal(s->target.segs[0].text, "http://h/#frag");
	/* a comment ends the line: the continuation inside it does not count */
	assert_false(s->has_body);
	scn_plan_release(&p);

	parse_ok("http POST http://h/ body=\"say \\\"hi\\\" \\d $$5\"'+x'\"\" "
		 "\\\r\n  header=X-'Y: z'\n",
		 &p);
	s = &p.steps[0];
	assert_string_equal(s->body.segs[0].text, "say \"hi\" \\d $5+x");
	assert_string_equal(s->headers[0].segs[0].text, "X-Y: z");
	scn_plan_release(&p);

	/* an empty quoted body is a body */
	parse_ok("http PUT http://h/ body=''\n", &p);
	assert_true(p.steps[0].has_body);
	assert_int_equal(p.steps[0].body.n, 1);
	assert_string_equal(p.steps[0].body.segs[0].text, "");
	scn_plan_release(&p);
}

static const char *lookup_tbl(const char *name, void *ctx)
{
	const char *const *kv = ctx;
	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static void test_scenario_variables(void **state)
{
	(void)state;
	struct scn_plan p;
	parse_ok("http POST https://h/login body='u=${USER}&p=${PASS}' "
		 "extract tok='t=(.*)'\n"
		 "http GET https://h/${tok}/x header=\"X-T: ${tok}${USER}\"\n",
		 &p);
	assert_int_equal(p.n_env_vars, 2);
	assert_string_equal(p.env_vars[0].name, "USER");
	assert_int_equal(p.env_vars[0].line, 1);
	assert_int_equal(p.env_vars[0].col, 35);
	const struct scn_tmpl *b = &p.steps[0].body;
	assert_int_equal(b->n, 4);
	assert_int_equal(b->segs[1].kind, SCN_SEG_ENV);
	const struct scn_tmpl *u = &p.steps[1].target;
	assert_int_equal(u->segs[1].kind, SCN_SEG_EXTRACT);

	/* shown, never expanded */
	char *shown = scn_tmpl_show(b);
	assert_string_equal(shown, "u=${USER}&p=${PASS}");
	free(shown);

	const char *vals[] = { "USER", "ann", "PASS", "s3cret", "tok", "T1",
			       NULL };
	struct errbuf err;
	char *x = scn_tmpl_expand(b, lookup_tbl, vals, &err);
	assert_string_equal(x, "u=ann&p=s3cret");
	free(x);
	x = scn_tmpl_expand(&p.steps[1].headers[0], lookup_tbl, vals, &err);
	assert_string_equal(x, "X-T: T1ann");
	free(x);

	const char *none[] = { NULL };
	assert_null(scn_tmpl_expand(b, lookup_tbl, none, &err));
	assert_string_equal(err.msg, "${USER} is not set in the environment");

	/* the environment check, as errors and as warnings */
	const char *some[] = { "USER", "ann", NULL };
	struct scn_diags d = { 0 };
	assert_int_equal(scn_plan_check_env(&p, lookup_tbl, some, true, &d),
			 1);
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(d.v[0].msg, "${PASS} is not set in the environment");
	assert_int_equal(d.v[0].col, 45);
	scn_diags_release(&d);
	assert_int_equal(scn_plan_check_env(&p, lookup_tbl, some, false, &d),
			 1);
	assert_int_equal(d.n_warnings, 1);
	assert_int_equal(d.n_errors, 0);
	scn_diags_release(&d);
	scn_plan_release(&p);
}

static void test_scenario_several_errors_one_pass(void **state)
{
	(void)state;
	char *e = parse_err("timeout 10\n"
			    "bogus x\n"
			    "tcp a.example\n"
			    "dns a.example AAA\n");
	assert_string_equal(e,
			    "t.scn:1:9: missing unit in '10': use ms, s or m\n"
			    "t.scn:2:1: unknown directive 'bogus'\n"
			    "t.scn:3:5: expected HOST:PORT\n"
			    "t.scn:4:15: unknown DNS record type 'AAA'\n");
	free(e);
}

static void test_scenario_diag_cap(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	for (int i = 0; i < SCN_MAX_DIAGS + 10; i++)
		fputs("nope\n", f);
	fclose(f);
	struct scn_plan p;
	struct scn_diags d;
	assert_int_equal(parse(text, &p, &d), PE_INVAL);
	assert_int_equal(d.n, SCN_MAX_DIAGS);
	/* 60 unknown directives and "no steps" */
	assert_int_equal(d.n_errors, SCN_MAX_DIAGS + 11);
	assert_int_equal(d.n_dropped, 11);
	scn_diags_release(&d);
	free(text);
}

static void test_scenario_print_plan(void **state)
{
	(void)state;
	struct scn_plan p;
	parse_ok("scenario s\n"
		 "http GET https://h/${X} header='A: ${Y}' body='lit $${x} ${X}' "
		 "expect status=2xx\n",
		 &p);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	scn_plan_print(&p, f);
	fclose(f);
	assert_non_null(strstr(buf, "scenario   s (t.scn)\n"));
	assert_non_null(strstr(buf, "GET https://h/${X}\n"));
	assert_non_null(strstr(buf, "header 'A: ${Y}'\n"));
	assert_non_null(strstr(buf, "expect status=2xx\n"));
	assert_non_null(strstr(buf, "body 'lit $${x} ${X}'\n"));
	assert_non_null(strstr(buf, "env        ${X} ${Y} (read at run time"));
	free(buf);
	scn_plan_release(&p);
}

/* ---- data files ----------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of DIR/NAME ending in suffix; returns the count. */
static size_t list_files(const char *dir, const char *suffix, char ***out)
{
	DIR *d = opendir(dir);
	size_t n = 0, cap = 0;
	char **v = NULL;
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		size_t pl = strlen(dir) + l + 2;
		v[n] = malloc(pl);
		snprintf(v[n], pl, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), name_cmp);
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void test_scenario_bad_files(void **state)
{
	(void)state;
	char **files;
	size_t n = list_files("tests/data/scn/bad", ".scn", &files);
	size_t failed = 0;
	assert_true(n >= 40);
	for (size_t i = 0; i < n; i++) {
		char errpath[512];
		snprintf(errpath, sizeof(errpath), "%.*s.err",
			 (int)(strlen(files[i]) - 4), files[i]);
		char *want = slurp(errpath);
		if (!want) {
			fprintf(stderr, "%s: missing %s\n", files[i], errpath);
			failed++;
			continue;
		}
		struct scn_plan p;
		struct scn_diags d = { 0 };
		struct errbuf err;
		int r = scn_parse_file(files[i], &p, &d, &err);
		char *got = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&got, &len);
		scn_diags_print(&d, m);
		fclose(m);
		if (r != PE_INVAL || strcmp(got, want) != 0) {
			fprintf(stderr, "%s: r=%d\n--- want\n%s--- got\n%s",
				files[i], r, want, got);
			failed++;
		}
		if (r == 0)
			scn_plan_release(&p);
		scn_diags_release(&d);
		free(got);
		free(want);
	}
	free_list(files, n);
	assert_int_equal(failed, 0);
}

static void check_dir_ok(const char *dir, size_t min)
{
	char **files;
	size_t n = list_files(dir, ".scn", &files);
	assert_true(n >= min);
	for (size_t i = 0; i < n; i++) {
		struct scn_plan p;
		struct scn_diags d = { 0 };
		struct errbuf err;
		int r = scn_parse_file(files[i], &p, &d, &err);
		if (r != 0) {
			scn_diags_print(&d, stderr);
			fail_msg("%s should be valid", files[i]);
		}
		assert_int_equal(d.n, 0); /* not even a warning */
		scn_plan_release(&p);
		scn_diags_release(&d);
	}
	free_list(files, n);
}

static void test_scenario_ok_files(void **state)
{
	(void)state;
	check_dir_ok("tests/data/scn/ok", 3);
	check_dir_ok("scenarios", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenario_settings),
		cmocka_unit_test(test_scenario_defaults_when_absent),
		cmocka_unit_test(test_scenario_steps),
		cmocka_unit_test(test_scenario_all_qtypes_kept),
		cmocka_unit_test(test_scenario_defaults_merge),
		cmocka_unit_test(test_scenario_lexer),
		cmocka_unit_test(test_scenario_variables),
		cmocka_unit_test(test_scenario_several_errors_one_pass),
		cmocka_unit_test(test_scenario_diag_cap),
		cmocka_unit_test(test_scenario_print_plan),
		cmocka_unit_test(test_scenario_bad_files),
		cmocka_unit_test(test_scenario_ok_files),
	};
	return cmocka_run_group_tests_name("scenario", tests, NULL, NULL);
}
