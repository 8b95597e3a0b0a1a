/*
 * cmd_report.c: `probe report`, the latest runs from the store.
 * This version lists runs (table or NDJSON); the per-step waterfall and
 * the HTML report come with issue 8.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "util/json.h"
#include "util/units.h"

const char cmd_report_usage[] =
	"usage: probe report [--json] [--html FILE] [--since T]\n"
	"                    [--scenario NAME] [--limit N] [--db FILE]\n\n"
	"Show the latest runs in the store, newest first.\n\n"
	"  --json           one JSON object per run per line (NDJSON)\n"
	"  --html FILE      a self-contained HTML report (issue 8: not yet)\n"
	"  --since T        runs started at or after T: a UTC time such as\n"
	"                   2026-11-23 or 2026-11-23T13:00, or a duration\n"
	"                   back from now such as 90m, 24h or 7d\n"
	"  --scenario NAME  only this scenario\n"
	"  --limit N        at most N runs (default 20; 0: all)\n\n"
	CLI_COMMON_HELP;

struct report_ctx {
	bool json;
	size_t n;
};

static int print_run(const struct run_summary *r, void *vctx)
{
	struct report_ctx *ctx = vctx;
	if (ctx->json) {
		struct json j;
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "seq"), json_int(&j, r->seq);
		json_key(&j, "run_id"), json_str(&j, r->run_id);
		json_key(&j, "scenario"), json_str(&j, r->scenario);
		json_key(&j, "region"), json_str(&j, r->region);
		json_key(&j, "probe_id"), json_str(&j, r->probe_id);
		json_key(&j, "started_at"), json_str(&j, r->started_at);
		json_key(&j, "finished_at"), json_str(&j, r->finished_at);
		json_key(&j, "ok"), json_bool(&j, r->ok);
		json_key(&j, "breach"), json_bool(&j, r->breach);
		json_key(&j, "error"), json_str(&j, r->error);
		json_key(&j, "steps"), json_int(&j, r->n_steps);
		json_key(&j, "failed_steps"), json_int(&j, r->n_failed);
		json_key(&j, "findings"), json_int(&j, r->n_findings);
		json_obj_end(&j);
		putchar('\n');
	} else {
		if (ctx->n == 0)
			printf("%-6s %-27s %-20s %-12s %-4s %-6s %5s %6s "
			       "%8s\n",
			       "SEQ", "STARTED (UTC)", "SCENARIO", "REGION",
			       "OK", "BREACH", "STEPS", "FAILED", "FINDINGS");
		printf("%-6lld %-27s %-20s %-12s %-4s %-6s %5lld %6lld %8lld\n",
		       (long long)r->seq, r->started_at ? r->started_at : "-",
		       r->scenario ? r->scenario : "-",
		       r->region ? r->region : "-", r->ok ? "yes" : "no",
		       r->breach ? "yes" : "no", (long long)r->n_steps,
		       (long long)r->n_failed, (long long)r->n_findings);
	}
	ctx->n++;
	return 0;
}

int cmd_report(int argc, char **argv, struct app *app)
{
	enum { OPT_JSON = OPT_CMD_BASE, OPT_HTML, OPT_SINCE, OPT_SCENARIO,
	       OPT_LIMIT };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "scenario", required_argument, NULL, OPT_SCENARIO },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ 0 } };
	struct report_ctx ctx = { 0 };
	struct store_run_filter f = { .limit = 20 };
	char since[64];
	unsigned long limit;
	int c, exit_now = -1, ret;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			ctx.json = true;
			break;
		case OPT_HTML:
			return cli_not_yet(app, 8, "the HTML report");
		case OPT_SINCE:
			if (cli_since_arg(optarg, since, sizeof(since)) < 0)
				return cli_usage_error(app, "--since '%s'",
						       optarg);
			f.since = since;
			break;
		case OPT_SCENARIO:
			f.scenario = optarg;
			break;
		case OPT_LIMIT:
			if (units_uint(optarg, 0, 1000000, &limit) < 0)
				return cli_usage_error(
					app, "--limit '%s': expected 0 to "
					     "1000000",
					optarg);
			f.limit = limit;
			break;
		default:
			if ((exit_now = cli_other_opt(app, c, argv)) >= 0)
				return exit_now;
			break;
		}
	}
	if (optind < argc)
		return cli_usage_error(app, "unexpected argument '%s'",
				       argv[optind]);
	if ((ret = cli_prepare(app)) != EXIT_OK)
		return ret;
	struct errbuf err;
	ret = store_runs_list(app->store, &f, print_run, &ctx, &err);
	if (ret == PE_INVAL)
		return cli_usage_error(app, "%s", err.msg);
	if (ret < 0)
		return cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
	if (!ctx.json && ctx.n == 0)
		printf("no runs%s in %s\n", f.since || f.scenario ? " match" : "",
		       app->cfg.val[CONFIG_DB]);
	return EXIT_OK;
}
