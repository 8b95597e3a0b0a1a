/*
 * cmd_collect.c: `probe collect REGIONS.conf` (DESIGN section 9): pull
 * every region's new runs into this store, then say per region what came
 * (runs added, runs already there, the cursor).  A region that fails is
 * reported and skipped; the others still land.
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "collect/collect.h"

const char cmd_collect_usage[] =
	"usage: probe collect [--db FILE] REGIONS.conf\n\n"
	"Pull runs from every regional probe (`probe serve`) listed in\n"
	"REGIONS.conf into this store, incrementally and idempotently: each\n"
	"region's cursor (the last regional seq taken in) is kept in the\n"
	"store, and a run whose run_id is already stored is skipped.\n\n"
	"REGIONS.conf, one region a line (# comments):\n"
	"  NAME BASE_URL TOKEN_FILE [ca=FILE]\n"
	"  eu-west https://probe-eu.example.net:8443 /etc/probe/eu.token\n"
	"BASE_URL is https:// (verified; ca=FILE names the CA to trust) or\n"
	"http:// to a loopback address.  TOKEN_FILE holds the bearer token\n"
	"and must not be readable by group or others.\n\n"
	"Exit: 0 every region collected; 1 some region failed (named on\n"
	"stderr; the others are stored); 2 usage; 3 storage error.\n\n"
	CLI_COMMON_HELP;

int cmd_collect(int argc, char **argv, struct app *app)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	struct collect_regions regs;
	struct errbuf err;
	size_t failed = 0;
	bool store_err = false, *bad = NULL;
	int opt, ret;

	cli_getopt_reset();
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		int exit_now = cli_other_opt(app, opt, argv);
		if (exit_now >= 0)
			return exit_now;
	}
	if (optind >= argc)
		return cli_usage_error(app, "missing REGIONS.conf");
	if (optind + 1 < argc)
		return cli_usage_error(app, "unexpected argument '%s'",
				       argv[optind + 1]);
	if (collect_regions_load(argv[optind], &regs, &err) < 0)
		return cli_usage_error(app, "%s", err.msg);
	if ((ret = cli_prepare(app)) != EXIT_OK) {
		collect_regions_release(&regs);
		return ret;
	}
	if (!(bad = calloc(regs.n, sizeof(*bad)))) {
		collect_regions_release(&regs);
		return cli_fail(app, EXIT_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < regs.n; i++) {
		const struct collect_region *r = &regs.v[i];
		struct collect_stats s;
		ret = collect_region(app->store, r, &s, &err);
		printf("%s: %" PRId64 " added, %" PRId64 " already present, "
		       "cursor %" PRId64 "%s\n", r->name, s.added, s.present,
		       s.cursor, ret < 0 ? " (FAILED)" : "");
		if (ret < 0) {
			failed++;
			bad[i] = true;
			store_err |= ret == PE_STORE || ret == PE_BUSY ||
				     ret == PE_NOMEM || ret == PE_SCHEMA;
			cli_fail(app, EXIT_FAIL, "region %s: %s", r->name,
				 err.msg);
		}
	}
	fflush(stdout);
	if (failed) {
		fprintf(stderr, "probe collect: %zu of %zu regions failed:",
			failed, regs.n);
		/* named again, together, for the log's last line */
		for (size_t i = 0; i < regs.n; i++)
			if (bad[i])
				fprintf(stderr, " %s", regs.v[i].name);
		fputc('\n', stderr);
	}
	free(bad);
	collect_regions_release(&regs);
	return store_err ? EXIT_INTERNAL : failed ? EXIT_FAIL : EXIT_OK;
}
