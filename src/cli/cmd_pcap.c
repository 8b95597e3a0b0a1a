/*
 * cmd_pcap.c: `probe pcap SUBCOMMAND`, a nested table (git
 * builtin/bundle.c).  The local subcommands come with issue 6, fetch with
 * issue 7.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

const char cmd_pcap_usage[] =
	"usage: probe pcap list [--db FILE]\n"
	"       probe pcap show RUN_ID\n"
	"       probe pcap export RUN_ID [OUT]\n"
	"       probe pcap prune [--db FILE] [--spool DIR]\n"
	"       probe pcap fetch --regions FILE REGION RUN_ID [OUT]\n\n"
	"Escalation pcaps: the packets of runs that breached a threshold.\n"
	"  list     kept pcaps with run, size, sha256 and expiry\n"
	"  show     what a run's pcap holds\n"
	"  export   copy a run's pcap out of the spool\n"
	"  prune    apply retention (days and bytes) now\n"
	"  fetch    download a run's pcap from a regional probe\n\n"
	CLI_COMMON_HELP
	"\nNot implemented yet: list/show/export/prune arrive with issue 6,\n"
	"fetch with issue 7.\n";

static const struct {
	const char *name;
	int issue;
	const char *what;
} subcommands[] = {
	{ "list", 6, "listing kept pcaps" },
	{ "show", 6, "showing a kept pcap" },
	{ "export", 6, "exporting a kept pcap" },
	{ "prune", 6, "pcap retention" },
	{ "fetch", 7, "fetching pcaps from regions" },
};

int cmd_pcap(int argc, char **argv, struct app *app)
{
	if (argc < 2)
		return cli_usage_error(app, "missing subcommand: list, show, "
					    "export, prune or fetch");
	if (strcmp(argv[1], "--help") == 0) {
		cli_usage(app);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(*subcommands);
	     i++)
		if (strcmp(subcommands[i].name, argv[1]) == 0)
			return cli_stub(argc - 1, argv + 1, app,
					subcommands[i].issue,
					subcommands[i].what);
	return cli_usage_error(app, "unknown subcommand '%s'", argv[1]);
}
