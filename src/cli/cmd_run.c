/*
 * cmd_run.c: `probe run`.  This version parses and validates the
 * scenarios and, with --dry-run, prints their plans; executing them comes
 * with issue 3 (steps) and issue 5 (capture).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>

#include "scenario/scn_parse.h"
#include "util/units.h"

const char cmd_run_usage[] =
	"usage: probe run [--region R] [--db F] [--spool D] [--json]\n"
	"                 [--parallel N] [--jitter T] [--interface IF]\n"
	"                 [--dry-run] SCENARIO...\n\n"
	"Run scenario files: DNS, TCP, TLS and HTTP steps, measured by the\n"
	"libraries and from the run's own packets; results go to the store.\n\n"
	"  --json           one JSON object per run on stdout\n"
	"  --parallel N     run up to N scenarios at once (default 1; steps\n"
	"                   of one scenario always run in order)\n"
	"  --jitter T       wait a uniform random 0..T first (e.g. 30s), so\n"
	"                   probes started by cron do not all fire at once\n"
	"  --interface IF   capture on IF (config 'interface'; default: the\n"
	"                   interfaces the run's routes use)\n"
	"  --dry-run        validate, check that every ${VAR} is set, print\n"
	"                   the plans, and stop (nothing is run or stored)\n\n"
	CLI_COMMON_HELP
	"\nExit: 0 all ok, 1 a step failed or a threshold was breached,\n"
	"2 usage or scenario error, 3 internal/storage error, 4 skipped\n"
	"(another run of the scenario holds its lock).\n"
	"Executing scenarios arrives with issue 3; --dry-run works now.\n";

static const char *env_lookup(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

int cmd_run(int argc, char **argv, struct app *app)
{
	enum { OPT_JSON = OPT_CMD_BASE, OPT_PARALLEL, OPT_JITTER,
	       OPT_INTERFACE, OPT_DRY_RUN };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "jitter", required_argument, NULL, OPT_JITTER },
		{ "interface", required_argument, NULL, OPT_INTERFACE },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ 0 } };
	bool dry_run = false;
	unsigned long parallel = 1;
	double jitter_ms = 0;
	int c, exit_now = -1, ret = EXIT_OK;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
		case OPT_INTERFACE:
			break; /* used once runs execute (issue 3/5) */
		case OPT_PARALLEL:
			if (units_uint(optarg, 1, 1024, &parallel) < 0)
				return cli_usage_error(
					app,
					"--parallel '%s': expected 1 to 1024",
					optarg);
			break;
		case OPT_JITTER:
			if (units_duration_ms(optarg, false, &jitter_ms) < 0 ||
			    jitter_ms > 3600e3)
				return cli_usage_error(
					app,
					"--jitter '%s': expected a duration "
					"up to 1h, e.g. 30s",
					optarg);
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		default:
			if (cli_common_opt(app, c, optarg, &exit_now)) {
				if (exit_now >= 0)
					return exit_now;
				break;
			}
			return cli_usage_error(app, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(app, "no scenario file given");
	/*
	 * A dry run stores nothing.  Until steps execute (issue 3) no run
	 * does: a command that cannot do its work must not create files.
	 */
	app->flags &= ~(unsigned)(CMD_NEED_DB | CMD_RECORDS);
	if ((ret = cli_prepare(app)) != EXIT_OK)
		return ret;

	for (int i = optind; i < argc; i++) {
		struct scn_plan plan;
		struct scn_diags d = { 0 };
		struct errbuf err;
		int r = scn_parse_file(argv[i], &plan, &d, &err);
		if (r == 0 && dry_run &&
		    scn_plan_check_env(&plan, env_lookup, NULL, true, &d) > 0) {
			scn_plan_release(&plan);
			r = PE_INVAL;
		}
		scn_diags_print(&d, stderr);
		scn_diags_release(&d);
		if (r == PE_INVAL) {
			ret = EXIT_USAGE;
		} else if (r < 0) {
			fprintf(stderr, "probe run: %s\n", err.msg);
			ret = r == PE_NOMEM ? EXIT_INTERNAL : EXIT_USAGE;
		}
		if (r < 0)
			continue;
		if (dry_run) {
			if (i > optind)
				putchar('\n');
			scn_plan_print(&plan, stdout);
		}
		scn_plan_release(&plan);
	}
	if (ret != EXIT_OK)
		return ret;
	if (dry_run) {
		printf("\nrun as     region %s, probe_id %s, store %s, "
		       "parallel %lu, jitter %gms\n",
		       app->cfg.val[CONFIG_REGION],
		       app->cfg.val[CONFIG_PROBE_ID], app->cfg.val[CONFIG_DB],
		       parallel, jitter_ms);
		return EXIT_OK;
	}
	return cli_not_yet(app, 3, "executing scenarios (use --dry-run to "
				   "see the plan)");
}
