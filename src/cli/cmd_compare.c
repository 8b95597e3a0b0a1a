/*
 * cmd_compare.c: `probe compare [--json]`: the regions of each scenario
 * side by side against their own baselines, and the verdict of DESIGN
 * section 9 with the figures that led to it (escalate/compare.c).
 */
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "escalate/compare.h"
#include "util/json.h"
#include "util/timeutil.h"
#include "util/units.h"

const char cmd_compare_usage[] =
	"usage: probe compare [--scenario NAME] [--recent T | --recent-runs N]\n"
	"                     [--json] [--db FILE]\n\n"
	"For each scenario, each region's recent figures (runs of the last\n"
	"--recent, default 1h) of rtt_ms, retrans, think_ms and ttfb_wire_ms\n"
	"per step against that region's baseline (the baseline_days before,\n"
	"runs that did not breach; at least baseline_min_n samples), and a\n"
	"verdict:\n"
	"  NETWORK_LOCAL R...  RTT or retransmissions up in those regions,\n"
	"                      think time normal everywhere\n"
	"  APPLICATION_WIDE    think time up in every region\n"
	"  SERVER_LOCAL R...   think time up only in those regions, which\n"
	"                      reach other server addresses (geo-DNS, CDN)\n"
	"  MIXED               something else: read the figures\n"
	"  NONE                nothing up\n"
	"A figure is up when its recent p50 is over 1.5x the baseline p50 and\n"
	"over it by 5 ms (rtt_ms) or 20 ms (think_ms); retrans when its p50\n"
	"is at least 1 and over the baseline's p95.\n\n"
	"  --scenario NAME  only this scenario\n"
	"  --recent T       the recent window (e.g. 30m, 2h)\n"
	"  --recent-runs N  instead: each region's last N runs are recent\n"
	"  --json           one JSON object per scenario\n\n" CLI_COMMON_HELP;

static void num(double v)
{
	if (isnan(v))
		printf(" %9s", "-");
	else
		printf(" %9.3f", v);
}

static void print_text(const struct cmp_scenario *sc)
{
	printf("%s: %s%s%s\n", sc->name, cmp_verdict_name(sc->verdict),
	       sc->regions_text ? " " : "",
	       sc->regions_text ? sc->regions_text : "");
	for (size_t i = 0; i < sc->n_regions; i++) {
		const struct cmp_region *r = &sc->regions[i];
		printf("  region %s:%s%s%s servers", r->name,
		       r->data ? "" : " baseline not ready,",
		       r->net_up ? " NETWORK UP," : "",
		       r->think_up ? " THINK UP," : "");
		for (size_t k = 0; k < r->n_addrs; k++)
			printf(" %s", r->addrs[k]);
		putchar('\n');
	}
	printf("  %-10s %-14s %-13s %9s %9s %5s %9s %9s %6s\n", "REGION",
	       "STEP", "METRIC", "P50", "P95", "N", "BASE P50", "BASE P95",
	       "BASE N");
	for (size_t i = 0; i < sc->n_figs; i++) {
		const struct cmp_fig *f = &sc->figs[i];
		printf("  %-10.10s %-14.14s %-13s", f->region, f->step,
		       f->metric);
		num(f->recent_p50);
		num(f->recent_p95);
		printf(" %5zu", f->recent_n);
		num(f->base_p50);
		num(f->base_p95);
		printf(" %6zu%s\n", f->base_n, f->up ? "  UP" : "");
	}
}

static void print_json(const struct cmp_scenario *sc)
{
	struct json j;
	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "format_version");
	json_int(&j, 1);
	json_key(&j, "scenario");
	json_str(&j, sc->name);
	json_key(&j, "verdict");
	json_str(&j, cmp_verdict_name(sc->verdict));
	json_key(&j, "verdict_regions");
	json_str(&j, sc->regions_text);
	json_key(&j, "regions");
	json_arr_begin(&j);
	for (size_t i = 0; i < sc->n_regions; i++) {
		const struct cmp_region *r = &sc->regions[i];
		json_obj_begin(&j);
		json_key(&j, "region");
		json_str(&j, r->name);
		json_key(&j, "ready");
		json_bool(&j, r->data);
		json_key(&j, "network_up");
		json_bool(&j, r->net_up);
		json_key(&j, "think_up");
		json_bool(&j, r->think_up);
		json_key(&j, "servers");
		json_arr_begin(&j);
		for (size_t k = 0; k < r->n_addrs; k++)
			json_str(&j, r->addrs[k]);
		json_arr_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "figures");
	json_arr_begin(&j);
	for (size_t i = 0; i < sc->n_figs; i++) {
		const struct cmp_fig *f = &sc->figs[i];
		json_obj_begin(&j);
		json_key(&j, "region");
		json_str(&j, f->region);
		json_key(&j, "step");
		json_str(&j, f->step);
		json_key(&j, "metric");
		json_str(&j, f->metric);
		json_key(&j, "recent_p50");
		json_num(&j, f->recent_p50);
		json_key(&j, "recent_p95");
		json_num(&j, f->recent_p95);
		json_key(&j, "recent_n");
		json_int(&j, (int64_t)f->recent_n);
		json_key(&j, "baseline_p50");
		json_num(&j, f->base_p50);
		json_key(&j, "baseline_p95");
		json_num(&j, f->base_p95);
		json_key(&j, "baseline_n");
		json_int(&j, (int64_t)f->base_n);
		json_key(&j, "up");
		json_bool(&j, f->up);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	putchar('\n');
}

int cmd_compare(int argc, char **argv, struct app *app)
{
	enum { OPT_SCENARIO = OPT_CMD_BASE, OPT_RECENT, OPT_RECENT_RUNS,
	       OPT_JSON };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "scenario", required_argument, NULL, OPT_SCENARIO },
		{ "recent", required_argument, NULL, OPT_RECENT },
		{ "recent-runs", required_argument, NULL, OPT_RECENT_RUNS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ 0 } };
	const char *scenario = NULL;
	bool json = false;
	double recent_ms = 3600e3;
	unsigned long recent_runs = 0;
	int c, exit_now, ret;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SCENARIO:
			scenario = optarg;
			break;
		case OPT_RECENT:
			if ((exit_now = cli_recent_opt(app, optarg,
						       &recent_ms)) >= 0)
				return exit_now;
			break;
		case OPT_RECENT_RUNS:
			if (units_uint(optarg, 1, 100000, &recent_runs) < 0)
				return cli_usage_error(
					app, "--recent-runs '%s': expected 1 "
					     "or more",
					optarg);
			break;
		case OPT_JSON:
			json = true;
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
	char now[TIMEUTIL_UTC_LEN];
	if (timeutil_utc_now(now, sizeof(now)) < 0)
		return cli_fail(app, EXIT_INTERNAL, "the clock");
	struct cmp_opts o = {
		.min_n = (unsigned)app->cfg.baseline_min_n,
		.days = (unsigned)app->cfg.baseline_days,
		.recent_min = (unsigned)(recent_ms / 60e3),
		.recent_runs = (unsigned)recent_runs,
		.now = now,
	};
	struct cmp_result res;
	struct errbuf err;
	if (escalate_compare(app->store, scenario, &o, &res, &err) < 0)
		return cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
	for (size_t i = 0; i < res.n; i++) {
		if (json)
			print_json(&res.v[i]);
		else
			print_text(&res.v[i]);
	}
	if (!json && res.n == 0)
		printf("no runs%s\n", scenario ? " of this scenario" : "");
	cmp_result_release(&res);
	return EXIT_OK;
}
