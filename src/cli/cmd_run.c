/*
 * cmd_run.c: `probe run`: validate the scenarios, take each one's lock,
 * wait the jitter, execute them on one event loop (steps/step_exec.c),
 * store each run in one transaction as soon as it ends and print it.
 * With packet capture (cli/run_capture.c) each run's packets are
 * analyzed a short grace after it ends, before it is stored; without
 * capture rights runs keep the kernel's TCP_INFO figures (source
 * tcp_info) and record capture 'unavailable'.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/render_run.h"
#include "cli/run_capture.h"
#include "escalate/baseline.h"
#include "escalate/retention.h"
#include "escalate/threshold.h"
#include "scenario/scn_parse.h"
#include "steps/step_exec.h"
#include "store/store.h"
#include "util/lockfile.h"
#include "util/timeutil.h"
#include "util/units.h"
#include "util/xalloc.h"

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
	"(another run of the scenario holds its lock: SPOOL/locks/NAME.lock).\n"
	"Packets are captured (libpcap; needs CAP_NET_RAW or root) and\n"
	"analyzed per run: wire figures replace library ones (source pcap).\n"
	"Without capture rights runs store TCP_INFO figures (source\n"
	"tcp_info) and capture 'unavailable'; `capture required` in a\n"
	"scenario makes that exit 3.\n";

struct run_ctx {
	struct app *app;
	bool json;
	int exit_code;
	struct run_cap *cap;   /* NULL: no capture */
	struct step_loop *loop;
	struct grace *graces;      /* one per item */
	struct step_exec_item *items;
};

/* A finished run waiting for its last packets before analysis. */
struct grace {
	struct step_loop_timer timer;
	struct step_exec_item *item;
	struct run_ctx *rc;
};

static void raise_exit(struct run_ctx *rc, int code)
{
	/* 3 (internal) over 1 (failed) over 4 (skipped) over 0 */
	static const int rank[] = { [EXIT_OK] = 0, [EXIT_LOCKED] = 1,
				    [EXIT_FAIL] = 2, [EXIT_USAGE] = 3,
				    [EXIT_INTERNAL] = 4 };
	if (rank[code] > rank[rc->exit_code])
		rc->exit_code = code;
}

/*
 * The run's escalation pcap: on a breach (keep_pcap on_breach, the
 * default) or always, never with keep_pcap never, and only when its
 * packets were captured.  A pcap that cannot be written (a full disk)
 * does not lose the run: it is stored without one, the failure said on
 * stderr and in the exit code (3).
 */
static void keep_evidence(struct run_ctx *rc, struct step_exec_item *item)
{
	const struct scn_plan *plan = item->plan;
	struct run_rec *run = item->run;
	bool keep = plan->keep_pcap == SCN_KEEP_ALWAYS ||
		    (plan->keep_pcap == SCN_KEEP_ON_BREACH && run->breach);
	struct errbuf err;
	if (keep && rc->cap && run->capture == RUN_CAPTURE_ON &&
	    run_capture_evidence(rc->cap, item, rc->app->cfg.val[CONFIG_SPOOL],
				 (int64_t)rc->app->cfg.retention_days,
				 run->breach ? "breach" : "always", &err) < 0) {
		fprintf(stderr, "probe run: %s: escalation pcap: %s\n",
			plan->name, err.msg);
		raise_exit(rc, EXIT_INTERNAL);
	}
	run_capture_forget(rc->cap, item);
}

/* Store a run (one transaction) and print it. */
static void finish_run(struct run_ctx *rc, struct step_exec_item *item)
{
	struct errbuf err;
	struct config *cfg = &rc->app->cfg;
	if (item->status != 0) {
		fprintf(stderr, "probe run: %s: %s\n", item->plan->name,
			item->err.msg);
		raise_exit(rc, EXIT_INTERNAL);
	}
	/* thresholds against the baselines as they were before this run */
	struct thr_env te = { rc->app->store, (unsigned)cfg->baseline_min_n };
	if (escalate_thresholds(item->plan, item->run, &te, &err) < 0) {
		fprintf(stderr, "probe run: %s: thresholds: %s\n",
			item->plan->name, err.msg);
		raise_exit(rc, EXIT_INTERNAL);
	}
	keep_evidence(rc, item);
	int ret = store_run_save(rc->app->store, item->run, &err);
	if (ret < 0) {
		fprintf(stderr, "probe run: %s: storing the run: %s\n",
			item->plan->name, err.msg);
		raise_exit(rc, EXIT_INTERNAL);
	}
	/* the baselines take this run in (when it did not breach) */
	char now[TIMEUTIL_UTC_LEN];
	struct baseline_opts bo = { (unsigned)cfg->baseline_min_n,
				    (unsigned)cfg->baseline_days };
	if (ret == 0 && timeutil_utc_now(now, sizeof(now)) == 0 &&
	    escalate_baseline_update(rc->app->store, item->run->scenario,
				     item->run->region, &bo, now, &err) < 0) {
		fprintf(stderr, "probe run: %s: baselines: %s\n",
			item->plan->name, err.msg);
		raise_exit(rc, EXIT_INTERNAL);
	}
	if (rc->json)
		render_run_json(stdout, item->run);
	else
		render_run_table(stdout, item->run);
	fflush(stdout);
	if (!item->run->ok || item->run->breach)
		raise_exit(rc, EXIT_FAIL);
}

static void on_grace(struct step_loop *loop, void *ctx)
{
	struct grace *g = ctx;
	struct errbuf err;
	(void)loop;
	if (run_capture_analyze(g->rc->cap, g->item, &err) < 0) {
		fprintf(stderr, "probe run: %s: packet analysis: %s\n",
			g->item->plan->name, err.msg);
		raise_exit(g->rc, EXIT_INTERNAL);
	}
	finish_run(g->rc, g->item);
}

/* A scenario finished: analyze its packets after a grace, or store it. */
static void on_run_done(struct step_exec_item *item, void *vctx)
{
	struct run_ctx *rc = vctx;
	if (!rc->cap || item->plan->capture == SCN_CAPTURE_OFF) {
		finish_run(rc, item);
		return;
	}
	struct grace *g = &rc->graces[item - rc->items];
	g->item = item;
	g->rc = rc;
	step_loop_timer_start(rc->loop, &g->timer,
			      run_capture_grace_ns(item->run), on_grace, g);
}

static int run_identity(struct run_rec *run, const struct scn_plan *plan,
			const struct config *cfg)
{
	char uuid[40];
	if (timeutil_uuid4(uuid, sizeof(uuid)) < 0)
		return PE_IO;
	static const enum run_clock_sync sync[] = {
		[TIMEUTIL_SYNCED] = RUN_CLOCK_SYNCED,
		[TIMEUTIL_UNSYNCED] = RUN_CLOCK_UNSYNCED,
		[TIMEUTIL_UNKNOWN] = RUN_CLOCK_UNKNOWN };
	run->run_id = xasprintf("%s-%s", cfg->val[CONFIG_PROBE_ID], uuid);
	run->scenario = xstrdup(plan->name);
	run->scenario_file = xstrdup(plan->file);
	run->region = xstrdup(cfg->val[CONFIG_REGION]);
	run->probe_id = xstrdup(cfg->val[CONFIG_PROBE_ID]);
	run->probe_version = xstrdup(PROBE_VERSION);
	run->clock_sync = sync[timeutil_clock_sync()];
	/* 'on' once its packets are analyzed (run_capture_analyze) */
	run->capture = plan->capture == SCN_CAPTURE_OFF
			       ? RUN_CAPTURE_OFF
			       : RUN_CAPTURE_UNAVAILABLE;
	if (!run->run_id || !run->scenario || !run->scenario_file ||
	    !run->region || !run->probe_id || !run->probe_version)
		return PE_NOMEM;
	return 0;
}

/* Sleep a uniform random time in [0, ms]: probes started by cron spread. */
static void jitter_sleep(double ms)
{
	uint64_t r = 0;
	if (ms <= 0 || getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return;
	double wait_ms = ms * ((double)(r >> 11) / (double)(1ull << 53));
	struct timespec ts = { (time_t)(wait_ms / 1000),
			       (long)(((uint64_t)(wait_ms * 1e6)) %
				      1000000000u) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Retention at the end of every run (as `probe pcap prune`): a failure is
 * said on stderr but does not change the runs' exit code, which is about
 * the runs.
 */
static void prune_spool(struct app *app)
{
	struct retention_opts o = {
		.retention_days = app->cfg.retention_days,
		.retention_bytes = app->cfg.retention_bytes,
		.runs_retention_days = app->cfg.runs_retention_days,
	};
	struct prune_report rep;
	struct errbuf err;
	char now[TIMEUTIL_UTC_LEN];
	if (timeutil_utc_now(now, sizeof(now)) < 0)
		return;
	if (escalate_prune(app->store, app->cfg.val[CONFIG_SPOOL], &o, now,
			   &rep, &err) < 0) {
		fprintf(stderr, "probe run: retention: %s\n", err.msg);
		return;
	}
	if (rep.refused || rep.failed)
		fprintf(stderr,
			"probe run: retention: %llu pcap(s) refused (outside "
			"the spool) and %llu could not be deleted: see `probe "
			"pcap prune --dry-run`\n",
			(unsigned long long)rep.refused,
			(unsigned long long)rep.failed);
	prune_report_release(&rep);
}

/* --dry-run: where and what the capture would take. */
static void print_capture_plan(const struct scn_plan *plans, size_t n,
			       const char *iface)
{
	bool any = false;
	for (size_t i = 0; i < n; i++)
		any = any || plans[i].capture != SCN_CAPTURE_OFF;
	if (!any) {
		printf("capture    off\n");
		return;
	}
	struct errbuf err;
	char *f = run_capture_filter_text(plans, n, &err);
	printf("capture    on %s; filter at the start: %s\n"
	       "           (each address a step reaches joins the filter "
	       "before its first packet)\n",
	       iface ? iface : "the interfaces the routes use",
	       f ? f : err.msg);
	free(f);
}

/*
 * Open the capture when a scenario wants it.  Without capture rights the
 * runs go on with TCP_INFO figures, unless a scenario says `capture
 * required`: then nothing runs and the exit is 3.
 */
static int open_capture(struct run_ctx *rc, const struct scn_plan *plans,
			size_t n, const char *iface)
{
	struct app *app = rc->app;
	bool any = false, required = false;
	for (size_t i = 0; i < n; i++) {
		any = any || plans[i].capture != SCN_CAPTURE_OFF;
		required = required ||
			   plans[i].capture == SCN_CAPTURE_REQUIRED;
	}
	if (!any)
		return EXIT_OK;
	struct errbuf err;
	const char *user = app->cfg.val[CONFIG_USER];
	rc->cap = run_capture_open(plans, n,
				   iface ? iface
					 : app->cfg.val[CONFIG_INTERFACE],
				   user && user[0] ? user : NULL, &err);
	if (rc->cap)
		return EXIT_OK;
	if (required)
		return cli_fail(app, EXIT_INTERNAL,
				"capture required, but no capture: %s; "
				"nothing was run",
				err.msg);
	fprintf(stderr,
		"probe run: no packet capture (%s): runs store TCP_INFO "
		"figures (source tcp_info)\n",
		err.msg);
	return EXIT_OK;
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
	const char *iface = NULL;
	unsigned long parallel = 1;
	double jitter_ms = 0;
	struct run_ctx rc = { .app = app };
	int c, exit_now = -1, ret = EXIT_OK;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			rc.json = true;
			break;
		case OPT_INTERFACE:
			iface = optarg;
			break;
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
			if ((exit_now = cli_other_opt(app, c, argv)) >= 0)
				return exit_now;
			break;
		}
	}
	if (optind >= argc)
		return cli_usage_error(app, "no scenario file given");

	size_t n = (size_t)(argc - optind), n_ok = 0;
	struct scn_plan *plans = calloc(n, sizeof(*plans));
	struct run_rec *runs = calloc(n, sizeof(*runs));
	struct step_exec_item *items = calloc(n, sizeof(*items));
	int *locks = calloc(n, sizeof(*locks));
	bool *parsed = calloc(n, sizeof(*parsed));
	if (!plans || !runs || !items || !locks || !parsed) {
		ret = cli_fail(app, EXIT_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct scn_diags d = { 0 };
		struct errbuf err;
		locks[i] = -1;
		run_rec_init(&runs[i]);
		int r = scn_parse_file(argv[optind + (int)i], &plans[i], &d,
				       &err);
		if (r == 0 && scn_plan_check_env(&plans[i], cli_env_lookup, NULL,
						 true, &d) > 0) {
			scn_plan_release(&plans[i]);
			r = PE_INVAL;
		}
		scn_diags_print(&d, stderr);
		scn_diags_release(&d);
		if (r == 0)
			parsed[i] = true;
		else if (r == PE_INVAL)
			ret = EXIT_USAGE;
		else {
			fprintf(stderr, "probe run: %s\n", err.msg);
			ret = r == PE_NOMEM ? EXIT_INTERNAL : EXIT_USAGE;
		}
	}
	if (ret != EXIT_OK)
		goto out;
	if (dry_run)
		app->flags &= ~(unsigned)(CMD_NEED_DB | CMD_RECORDS);
	if ((ret = cli_prepare(app)) != EXIT_OK)
		goto out;
	if (dry_run) {
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				putchar('\n');
			scn_plan_print(&plans[i], stdout);
		}
		printf("\nrun as     region %s, probe_id %s, store %s, "
		       "parallel %lu, jitter %gms\n",
		       app->cfg.val[CONFIG_REGION],
		       app->cfg.val[CONFIG_PROBE_ID], app->cfg.val[CONFIG_DB],
		       parallel, jitter_ms);
		print_capture_plan(plans, n, iface ? iface
						   : app->cfg.val[CONFIG_INTERFACE]);
		goto out;
	}
	jitter_sleep(jitter_ms);
	/* after the jitter: no handle sits open while we sleep */
	if ((ret = open_capture(&rc, plans, n, iface)) != EXIT_OK)
		goto out;
	char lockdir[4096];
	snprintf(lockdir, sizeof(lockdir), "%s/locks",
		 app->cfg.val[CONFIG_SPOOL]);
	for (size_t i = 0; i < n; i++) {
		struct errbuf err;
		locks[i] = lockfile_take(lockdir, plans[i].name, &err);
		if (locks[i] == PE_BUSY) {
			fprintf(stderr,
				"probe run: %s: skipped: another run of this "
				"scenario is in progress (%s)\n",
				plans[i].name, err.msg);
			raise_exit(&rc, EXIT_LOCKED);
			continue;
		}
		if (locks[i] < 0) {
			ret = cli_fail(app, EXIT_INTERNAL, "lock: %s", err.msg);
			goto out;
		}
		if (run_identity(&runs[i], &plans[i], &app->cfg) < 0) {
			ret = cli_fail(app, EXIT_INTERNAL, "out of memory");
			goto out;
		}
		items[n_ok].plan = &plans[i];
		items[n_ok].run = &runs[i];
		n_ok++;
	}
	struct step_loop loop;
	step_loop_init(&loop);
	rc.loop = &loop;
	rc.items = items;
	rc.graces = calloc(n_ok + 1, sizeof(*rc.graces));
	if (!rc.graces) {
		step_loop_release(&loop);
		ret = cli_fail(app, EXIT_INTERNAL, "out of memory");
		goto out;
	}
	int r = step_exec_run(&loop, items, n_ok, (unsigned)parallel,
			      run_capture_hooks(rc.cap), on_run_done, &rc);
	step_loop_release(&loop);
	if (r < 0)
		raise_exit(&rc, EXIT_INTERNAL);
	prune_spool(app);
	ret = rc.exit_code;
out:
	run_capture_close(rc.cap);
	free(rc.graces);
	for (size_t i = 0; i < n && plans; i++) {
		if (locks && locks[i] >= 0)
			close(locks[i]);
		if (parsed && parsed[i])
			scn_plan_release(&plans[i]);
		if (runs)
			run_rec_release(&runs[i]);
	}
	free(plans);
	free(runs);
	free(items);
	free(locks);
	free(parsed);
	return ret;
}
