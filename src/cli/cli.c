/*
 * cli.c: the command table and dispatcher (after git's git.c commands[]).
 *
 * `probe CMD ARGS` finds CMD in the table and calls it; the command parses
 * its own options (common ones through cli_common_opt) and then asks
 * cli_prepare() for the setup its table flags name: configuration and the
 * store.  Commands return an exit code; nothing below cli/ exits.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef PROBE_GIT_REV /* the fuzz build sets it */
#include "git_rev.h"   /* build/gen: Makefile */
#endif

#include <ares.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pcap/pcap.h>

#include "store/store.h"
#include "util/units.h"

static const struct cmd commands[] = {
	{ "run", cmd_run, CMD_NEED_DB | CMD_CAPTURE | CMD_RECORDS,
	  "run scenarios, record results (--dry-run: print the plan)",
	  cmd_run_usage },
	{ "check", cmd_check, 0, "validate scenario files without running them",
	  cmd_check_usage },
	{ "analyze", cmd_analyze, 0, "analyze a pcap or pcapng file",
	  cmd_analyze_usage },
	{ "report", cmd_report, CMD_NEED_DB, "show the latest runs",
	  cmd_report_usage },
	{ "baseline", cmd_baseline, CMD_NEED_DB,
	  "compute per-region baselines", cmd_baseline_usage },
	{ "compare", cmd_compare, CMD_NEED_DB,
	  "compare regions: network, application or front end",
	  cmd_compare_usage },
	{ "pcap", cmd_pcap, CMD_NEED_DB,
	  "list, show, export, prune and fetch escalation pcaps",
	  cmd_pcap_usage },
	{ "serve", cmd_serve, CMD_NEED_DB,
	  "serve /metrics, runs and pcaps over HTTP", cmd_serve_usage },
	{ "collect", cmd_collect, CMD_NEED_DB,
	  "pull runs from regional probes into one store", cmd_collect_usage },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void main_usage(FILE *out)
{
	fputs("usage: probe [--version] [--help] COMMAND [ARGS]\n\n"
	      "A synthetic client: runs scenario scripts (DNS, TCP, TLS, "
	      "HTTP),\nmeasures them from the packets, keeps evidence when "
	      "a threshold\nis breached.\n\nCommands:\n",
	      out);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name,
			commands[i].summary);
	fputs("\n'probe help COMMAND' or 'probe COMMAND --help' shows a "
	      "command's options.\nExit codes: 0 ok, 1 a step failed or a "
	      "threshold was breached, 2 usage\nor scenario error, 3 "
	      "internal or storage error, 4 skipped (scenario locked).\n"
	      "Scenario language: scenarios/README.md; manual: man probe.\n",
	      out);
}

static void version(void)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	printf("probe %s (git %s)\n", PROBE_VERSION, PROBE_GIT_REV);
	printf("libcurl %s (%s), c-ares %s, %s, %s, SQLite %s\n", cv->version,
	       cv->ssl_version ? cv->ssl_version : "no TLS", ares_version(NULL),
	       OpenSSL_version(OPENSSL_VERSION), pcap_lib_version(),
	       store_sqlite_version());
}

void cli_getopt_reset(void)
{
	optind = 0; /* glibc: 0 also resets its internal state */
	opterr = 0; /* we report unknown options ourselves */
}

void cli_usage(const struct app *app)
{
	const struct cmd *c = find_cmd(app->cmd_name);
	if (c)
		fputs(c->usage, stdout);
}

int cli_usage_error(const struct app *app, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "probe %s: ", app->cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'probe help %s')\n", app->cmd_name);
	return EXIT_USAGE;
}

int cli_fail(const struct app *app, int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "probe %s: ", app->cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_not_yet(const struct app *app, int issue, const char *what)
{
	fprintf(stderr,
		"probe %s: not implemented yet: %s arrives with issue %d.\n",
		app->cmd_name, what, issue);
	return EXIT_USAGE;
}

int cli_stub(int argc, char **argv, struct app *app, int issue,
	     const char *what)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	int c, exit_now = -1;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1)
		if (!cli_common_opt(app, c, optarg, &exit_now))
			return cli_not_yet(app, issue, what);
		else if (exit_now >= 0)
			return exit_now;
	return cli_not_yet(app, issue, what);
}

int cli_other_opt(struct app *app, int opt, char **argv)
{
	int exit_now = -1;
	if (!cli_common_opt(app, opt, optarg, &exit_now))
		return cli_usage_error(app, "unknown option '%s'",
				       argv[optind - 1]);
	return exit_now;
}

int cli_common_opt(struct app *app, int opt, const char *arg, int *exit_now)
{
	switch (opt) {
	case OPT_DB:
		app->opt_db = arg;
		return 1;
	case OPT_SPOOL:
		app->opt_spool = arg;
		return 1;
	case OPT_REGION:
		app->opt_region = arg;
		return 1;
	case OPT_CONFIG:
		app->opt_config = arg;
		return 1;
	case OPT_HELP:
		cli_usage(app);
		*exit_now = EXIT_OK;
		return 1;
	default:
		return 0;
	}
}

const char *cli_env_lookup(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

int cli_prepare(struct app *app)
{
	struct errbuf err;
	bool region_defaulted;
	int ret;
	const struct {
		enum config_key k;
		const char *v;
	} flags[] = { { CONFIG_DB, app->opt_db },
		      { CONFIG_SPOOL, app->opt_spool },
		      { CONFIG_REGION, app->opt_region } };

	if ((ret = config_load_file(&app->cfg, app->opt_config, &err)) < 0 ||
	    (ret = config_load_env(&app->cfg, cli_env_lookup, NULL, &err)) < 0)
		return cli_fail(app, ret == PE_NOMEM ? EXIT_INTERNAL
						     : EXIT_USAGE,
				"%s", err.msg);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (flags[i].v &&
		    (ret = config_set(&app->cfg, flags[i].k, flags[i].v,
				      CONFIG_SRC_FLAG, &err)) < 0)
			return cli_usage_error(app, "--%s: %s",
					       config_key_name(flags[i].k),
					       err.msg);
	if ((ret = config_finish(&app->cfg, &region_defaulted, &err)) < 0)
		return cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
	if (region_defaulted && (app->flags & CMD_RECORDS))
		fprintf(stderr,
			"probe: notice: no region configured, using 'local' "
			"(set --region, PROBE_REGION or 'region' in %s)\n",
			CONFIG_DEFAULT_PATH);
	if (app->flags & CMD_NEED_DB) {
		ret = store_open(app->cfg.val[CONFIG_DB], &app->store, &err);
		if (ret < 0)
			return cli_fail(app, EXIT_INTERNAL, "store %s: %s",
					app->cfg.val[CONFIG_DB], err.msg);
	}
	return EXIT_OK;
}

static void app_release(struct app *app)
{
	if (app->store)
		store_close(app->store);
	config_release(&app->cfg);
}

static int run_cmd(const struct cmd *c, int argc, char **argv)
{
	struct app app = { .cmd_name = c->name, .flags = c->flags };
	int ret = c->fn(argc, argv, &app);
	app_release(&app);
	if (fflush(stdout) != 0 && ret == EXIT_OK) {
		fprintf(stderr, "probe %s: writing output: %s\n", c->name,
			strerror(errno));
		ret = EXIT_INTERNAL;
	}
	return ret;
}

int cli_main(int argc, char **argv)
{
	if (argc < 2) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	const char *a = argv[1];
	if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
		version();
		return EXIT_OK;
	}
	if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
		main_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(a, "help") == 0) {
		if (argc < 3) {
			main_usage(stdout);
			return EXIT_OK;
		}
		const struct cmd *c = find_cmd(argv[2]);
		if (!c) {
			fprintf(stderr,
				"probe help: unknown command '%s' (see 'probe "
				"--help')\n",
				argv[2]);
			return EXIT_USAGE;
		}
		fputs(c->usage, stdout);
		return EXIT_OK;
	}
	const struct cmd *c = find_cmd(a);
	if (!c) {
		fprintf(stderr, "probe: unknown command '%s' (see 'probe "
				"--help')\n",
			a);
		return EXIT_USAGE;
	}
	return run_cmd(c, argc - 1, argv + 1);
}

int cli_recent_opt(const struct app *app, const char *arg, double *ms)
{
	if (units_duration_ms(arg, false, ms) < 0 || *ms < 60e3)
		return cli_usage_error(app, "--recent '%s': expected a "
					    "duration of a minute or more",
				       arg);
	return -1;
}

int cli_since_arg(const char *arg, char *buf, size_t len)
{
	double ms;
	if (units_duration_ms(arg, false, &ms) == 0) {
		time_t t = time(NULL) - (time_t)(ms / 1000);
		struct tm tm;
		if (!gmtime_r(&t, &tm))
			return -1;
		strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
		return 0;
	}
	snprintf(buf, len, "%s", arg);
	return 0;
}
