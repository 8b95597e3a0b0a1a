/* cmd_baseline.c: `probe baseline` (issue 6: thresholds and baselines). */
#include "cli/cli.h"

const char cmd_baseline_usage[] =
	"usage: probe baseline [--db FILE] [--region NAME]\n\n"
	"Compute this store's per-region baselines (p50/p90/p95/p99 of each\n"
	"metric per scenario, step, address family and connection state),\n"
	"excluding breaching runs.\n\n" CLI_COMMON_HELP
	"\nNot implemented yet: arrives with issue 6.\n";

int cmd_baseline(int argc, char **argv, struct app *app)
{
	return cli_stub(argc, argv, app, 6, "baselines");
}
