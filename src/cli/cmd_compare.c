/* cmd_compare.c: `probe compare` (issue 7: multi-region). */
#include "cli/cli.h"

const char cmd_compare_usage[] =
	"usage: probe compare [--json] [--db FILE]\n\n"
	"Put the regions' baselines side by side and give a verdict per\n"
	"scenario: NETWORK_LOCAL <regions>, APPLICATION_WIDE,\n"
	"SERVER_LOCAL <regions>, MIXED or NONE.\n\n"
	"  --json           one JSON object per scenario\n\n" CLI_COMMON_HELP
	"\nNot implemented yet: arrives with issue 7.\n";

int cmd_compare(int argc, char **argv, struct app *app)
{
	return cli_stub(argc, argv, app, 7, "region comparison");
}
