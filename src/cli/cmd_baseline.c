/*
 * cmd_baseline.c: `probe baseline`: recompute the store's per-region
 * baselines (escalate/baseline.c) and print them.  `probe run` keeps them
 * current as runs land; this rebuilds them all (after a change of
 * baseline_days, or on a database filled by `probe collect`).
 */
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "escalate/baseline.h"
#include "util/json.h"
#include "util/timeutil.h"

const char cmd_baseline_usage[] =
	"usage: probe baseline [--scenario NAME] [--metric NAME] [--json]\n"
	"                      [--no-update] [--db FILE]\n\n"
	"Recompute the per-region baselines of the store: p50/p90/p95/p99 and\n"
	"n of every public figure per scenario, step, region, address family\n"
	"and connection state (plus each step's 'any'/'any' row), over the\n"
	"last baseline_days days (config; default 7) of runs that did not\n"
	"breach a threshold; then print them.  Relative thresholds (`2x\n"
	"baseline`, `p95`) need baseline_min_n samples (default 30).\n\n"
	"  --scenario NAME  only this scenario\n"
	"  --metric NAME    print only this figure (e.g. think_ms)\n"
	"  --json           one JSON object per row\n"
	"  --no-update      print what is stored without recomputing\n\n"
	CLI_COMMON_HELP;

struct bl_ctx {
	struct app *app;
	struct baseline_opts o;
	char now[TIMEUTIL_UTC_LEN];
	int rows;
	struct errbuf err;
	const char *metric;
	bool json;
	size_t printed;
};

static int update_one(void *vctx, const char *scenario, const char *region)
{
	struct bl_ctx *c = vctx;
	int n = escalate_baseline_update(c->app->store, scenario, region,
					 &c->o, c->now, &c->err);
	if (n < 0)
		return n;
	c->rows += n;
	return 0;
}

static void num(double v)
{
	if (isnan(v))
		printf(" %10s", "-");
	else
		printf(" %10.3f", v);
}

static int print_one(void *vctx, const struct store_baseline *b)
{
	struct bl_ctx *c = vctx;
	if (c->metric && strcmp(c->metric, b->metric) != 0)
		return 0;
	if (c->json) {
		struct json j;
		json_init(&j, stdout);
		json_obj_begin(&j);
		const char *k[] = { "scenario", "step", "region", "family",
				    "conn_state", "metric" };
		const char *v[] = { b->scenario, b->step, b->region,
				    b->family, b->conn_state, b->metric };
		for (int i = 0; i < 6; i++) {
			json_key(&j, k[i]);
			json_str(&j, v[i]);
		}
		const char *pk[] = { "p50", "p90", "p95", "p99" };
		const double pv[] = { b->p50, b->p90, b->p95, b->p99 };
		for (int i = 0; i < 4; i++) {
			json_key(&j, pk[i]);
			json_num(&j, pv[i]);
		}
		json_key(&j, "n");
		json_int(&j, b->n);
		json_key(&j, "ready");
		json_bool(&j, b->n >= (int64_t)c->o.min_n);
		json_key(&j, "window_start");
		json_str(&j, b->window_start);
		json_key(&j, "window_end");
		json_str(&j, b->window_end);
		json_obj_end(&j);
		putchar('\n');
	} else {
		if (c->printed == 0)
			printf("%-16s %-14s %-10s %-5s %-7s %-15s %10s %10s "
			       "%10s %10s %6s\n",
			       "SCENARIO", "STEP", "REGION", "FAM", "STATE",
			       "METRIC", "P50", "P90", "P95", "P99", "N");
		printf("%-16.16s %-14.14s %-10.10s %-5.5s %-7.7s %-15.15s",
		       b->scenario, b->step, b->region,
		       strcmp(b->family, "any") == 0 ? "any"
						     : b->family + 2, /* v4 */
		       b->conn_state, b->metric);
		num(b->p50);
		num(b->p90);
		num(b->p95);
		num(b->p99);
		printf(" %6lld%s\n", (long long)b->n,
		       b->n < (int64_t)c->o.min_n ? " (not ready)" : "");
	}
	c->printed++;
	return 0;
}

int cmd_baseline(int argc, char **argv, struct app *app)
{
	enum { OPT_SCENARIO = OPT_CMD_BASE, OPT_METRIC, OPT_JSON,
	       OPT_NO_UPDATE };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "scenario", required_argument, NULL, OPT_SCENARIO },
		{ "metric", required_argument, NULL, OPT_METRIC },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "no-update", no_argument, NULL, OPT_NO_UPDATE },
		{ 0 } };
	struct bl_ctx c = { .app = app };
	const char *scenario = NULL;
	bool update = true;
	int opt, exit_now, ret;

	cli_getopt_reset();
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_SCENARIO:
			scenario = optarg;
			break;
		case OPT_METRIC:
			c.metric = optarg;
			break;
		case OPT_JSON:
			c.json = true;
			break;
		case OPT_NO_UPDATE:
			update = false;
			break;
		default:
			if ((exit_now = cli_other_opt(app, opt, argv)) >= 0)
				return exit_now;
			break;
		}
	}
	if (optind < argc)
		return cli_usage_error(app, "unexpected argument '%s'",
				       argv[optind]);
	if ((ret = cli_prepare(app)) != EXIT_OK)
		return ret;
	c.o.min_n = (unsigned)app->cfg.baseline_min_n;
	c.o.days = (unsigned)app->cfg.baseline_days;
	if (timeutil_utc_now(c.now, sizeof(c.now)) < 0)
		return cli_fail(app, EXIT_INTERNAL, "the clock");
	if (update) {
		ret = store_scenario_regions(app->store, scenario, update_one,
					     &c, &c.err);
		if (ret < 0)
			return cli_fail(app, EXIT_INTERNAL, "%s", c.err.msg);
		if (!c.json)
			printf("%d baseline rows recomputed (window %u days, "
			       "ready from n=%u)\n",
			       c.rows, c.o.days, c.o.min_n);
	}
	ret = store_baseline_list(app->store, scenario, print_one, &c,
				  &c.err);
	if (ret < 0)
		return cli_fail(app, EXIT_INTERNAL, "%s", c.err.msg);
	if (!c.json && c.printed == 0)
		printf("no baselines%s\n", scenario ? " for this scenario" : "");
	return EXIT_OK;
}
