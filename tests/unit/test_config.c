/*
 * test_config.c: the config file, PROBE_* variables and flags, merged in
 * DESIGN section 10's order, with every value validated where it enters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/probe-cfg.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write text to DIR/name and return the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *lookup_tbl(const char *name, void *ctx)
{
	const char *const *kv = ctx;
	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static void test_config_file_keys(void **state)
{
	(void)state;
	struct config cfg = { 0 };
	struct errbuf err;
	const char *p = write_file("a.conf",
				   "# a comment\n"
				   "\n"
				   "  region =  eu-west-1  # trailing\n"
				   "probe_id=p-1\n"
				   "db = /var/lib/probe/probe.db\n"
				   "spool = /var/lib/probe/spool\n"
				   "retention_days = 7\n"
				   "retention_bytes = 2GiB\n"
				   "runs_retention_days = 0\n"
				   "user = probe\n"
				   "interface = eth0\n");
	assert_int_equal(config_load_file(&cfg, p, &err), 0);
	assert_string_equal(cfg.val[CONFIG_REGION], "eu-west-1");
	assert_int_equal(cfg.src[CONFIG_REGION], CONFIG_SRC_FILE);
	assert_string_equal(cfg.val[CONFIG_PROBE_ID], "p-1");
	assert_string_equal(cfg.val[CONFIG_DB], "/var/lib/probe/probe.db");
	assert_string_equal(cfg.val[CONFIG_INTERFACE], "eth0");
	assert_string_equal(cfg.file, p);
	bool defaulted;
	assert_int_equal(config_finish(&cfg, &defaulted, &err), 0);
	assert_false(defaulted);
	assert_int_equal(cfg.retention_days, 7);
	assert_int_equal(cfg.retention_bytes, 2ull * 1024 * 1024 * 1024);
	assert_int_equal(cfg.runs_retention_days, 0);
	config_release(&cfg);
}

static void test_config_file_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int code;
		const char *msg; /* after "PATH:" */
	} cases[] = {
		{ "colour = blue\n", PE_INVAL, "1: unknown key 'colour'" },
		{ "\n# x\nregion\n", PE_INVAL, "3: expected 'key = value'" },
		{ "region = eu west\n", PE_INVAL,
		  "1: invalid region 'eu west': use 1 to 64 letters, digits, "
		  "'.', '_' and '-'" },
		{ "retention_days = -1\n", PE_INVAL,
		  "1: invalid retention_days '-1': expected a number of days "
		  "(0 keeps forever)" },
		{ "retention_bytes = lots\n", PE_INVAL,
		  "1: invalid retention_bytes 'lots': expected a size such as "
		  "500MB or 2GiB (0: no cap)" },
		{ "db =\n", PE_INVAL, "1: invalid db '': empty value" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg = { 0 };
		struct errbuf err;
		const char *p = write_file("bad.conf", cases[i].text);
		char want[512];
		snprintf(want, sizeof(want), "%s:%s", p, cases[i].msg);
		assert_int_equal(config_load_file(&cfg, p, &err),
				 cases[i].code);
		assert_string_equal(err.msg, want);
		config_release(&cfg);
	}

	/* a line longer than the buffer is refused, not split */
	char big[2100];
	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	struct config cfg = { 0 };
	struct errbuf err;
	const char *p = write_file("long.conf", big);
	assert_int_equal(config_load_file(&cfg, p, &err), PE_INVAL);
	assert_non_null(strstr(err.msg, ":1: line too long"));
	config_release(&cfg);

	/* an explicit file that does not exist is an error */
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/none.conf", dir);
	assert_int_equal(config_load_file(&cfg, missing, &err), PE_IO);
	config_release(&cfg);
}

static void test_config_order(void **state)
{
	(void)state;
	struct config cfg = { 0 };
	struct errbuf err;
	const char *p = write_file("o.conf", "region = file\ndb = file.db\n"
					     "spool = file-spool\n");
	const char *env[] = { "PROBE_REGION", "env", "PROBE_DB", "env.db",
			      NULL };
	assert_int_equal(config_load_file(&cfg, p, &err), 0);
	assert_int_equal(config_load_env(&cfg, lookup_tbl, env, &err), 0);
	assert_int_equal(config_set(&cfg, CONFIG_REGION, "flag",
				    CONFIG_SRC_FLAG, &err),
			 0);
	bool defaulted;
	assert_int_equal(config_finish(&cfg, &defaulted, &err), 0);
	assert_string_equal(cfg.val[CONFIG_REGION], "flag");
	assert_int_equal(cfg.src[CONFIG_REGION], CONFIG_SRC_FLAG);
	assert_string_equal(cfg.val[CONFIG_DB], "env.db");
	assert_int_equal(cfg.src[CONFIG_DB], CONFIG_SRC_ENV);
	assert_string_equal(cfg.val[CONFIG_SPOOL], "file-spool");
	assert_int_equal(cfg.src[CONFIG_SPOOL], CONFIG_SRC_FILE);
	config_release(&cfg);

	/* a bad environment value names its variable */
	const char *badenv[] = { "PROBE_REGION", "a/b", NULL };
	assert_int_equal(config_load_env(&cfg, lookup_tbl, badenv, &err),
			 PE_INVAL);
	assert_string_equal(err.msg,
			    "PROBE_REGION: invalid region 'a/b': use 1 to 64 "
			    "letters, digits, '.', '_' and '-'");
	config_release(&cfg);
}

static void test_config_defaults(void **state)
{
	(void)state;
	struct config cfg = { 0 };
	struct errbuf err;
	bool defaulted;
	assert_int_equal(config_finish(&cfg, &defaulted, &err), 0);
	assert_true(defaulted);
	assert_string_equal(cfg.val[CONFIG_REGION], "local");
	assert_string_equal(cfg.val[CONFIG_DB], "./probe.db");
	assert_string_equal(cfg.val[CONFIG_SPOOL], "./spool");
	assert_int_equal(cfg.src[CONFIG_DB], CONFIG_SRC_DEFAULT);
	assert_int_equal(cfg.retention_days, 30);
	assert_int_equal(cfg.retention_bytes, 0);
	assert_int_equal(cfg.runs_retention_days, 90);
	assert_null(cfg.val[CONFIG_USER]);
	/* the probe id defaults to the host name, made label-safe */
	const char *id = cfg.val[CONFIG_PROBE_ID];
	assert_non_null(id);
	assert_true(strlen(id) >= 1 && strlen(id) <= 64);
	assert_int_equal(strspn(id, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"),
			 strlen(id));
	config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_file_keys),
		cmocka_unit_test(test_config_file_errors),
		cmocka_unit_test(test_config_order),
		cmocka_unit_test(test_config_defaults),
	};
	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
