/*
 * cmd_check.c: `probe check FILE...` validates scenarios without running
 * them.  It does not read the environment: scenarios are checked in CI
 * where the secrets they name are absent (`probe run --dry-run` does check
 * that every ${VAR} is set).
 */
#include "cli/cli.h"

#include <stdio.h>

#include "scenario/scn_parse.h"

const char cmd_check_usage[] =
	"usage: probe check [--quiet] SCENARIO...\n\n"
	"Validate scenario files: syntax, values, units, ranges and\n"
	"references to extracted variables.  Every error is printed as\n"
	"FILE:LINE:COL: message; exit 2 when any file has one.\n"
	"The environment is not consulted (see probe run --dry-run).\n\n"
	"  --quiet          print nothing for files without errors\n"
	"  --help           this text\n";

int cmd_check(int argc, char **argv, struct app *app)
{
	enum { OPT_QUIET = OPT_CMD_BASE };
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 } };
	bool quiet = false;
	int c, ret = EXIT_OK;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+q", opts, NULL)) != -1) {
		if (c == OPT_QUIET || c == 'q')
			quiet = true;
		else if (c == OPT_HELP) {
			cli_usage(app);
			return EXIT_OK;
		} else
			return cli_usage_error(app, "unknown option '%s'",
					       argv[optind - 1]);
	}
	if (optind >= argc)
		return cli_usage_error(app, "no scenario file given");
	for (int i = optind; i < argc; i++) {
		struct scn_plan plan;
		struct scn_diags d = { 0 };
		struct errbuf err;
		int r = scn_parse_file(argv[i], &plan, &d, &err);
		scn_diags_print(&d, stderr);
		if (r == 0) {
			if (!quiet)
				printf("%s: ok (scenario %s, %zu step%s)\n",
				       argv[i], plan.name, plan.n_steps,
				       plan.n_steps == 1 ? "" : "s");
			scn_plan_release(&plan);
		} else if (r == PE_INVAL) {
			ret = EXIT_USAGE;
		} else {
			fprintf(stderr, "probe check: %s\n", err.msg);
			if (ret == EXIT_OK)
				ret = r == PE_NOMEM ? EXIT_INTERNAL
						    : EXIT_USAGE;
		}
		scn_diags_release(&d);
	}
	return ret;
}
