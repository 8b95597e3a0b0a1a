/* cmd_collect.c: `probe collect` (issue 7: multi-region). */
#include "cli/cli.h"

const char cmd_collect_usage[] =
	"usage: probe collect [--db FILE] REGIONS.conf\n\n"
	"Pull runs from every regional probe listed in REGIONS.conf (one\n"
	"region a line: name, base URL, token file) into this store,\n"
	"incrementally and idempotently.\n\n" CLI_COMMON_HELP
	"\nNot implemented yet: arrives with issue 7.\n";

int cmd_collect(int argc, char **argv, struct app *app)
{
	return cli_stub(argc, argv, app, 7, "collection from regions");
}
