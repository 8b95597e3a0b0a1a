/*
 * cmd_report.c: `probe report`: the latest run of each scenario and region
 * as waterfalls (terminal, NDJSON) or a self-contained HTML page
 * (report/report.h); `--list` lists runs.
 */
#include "cli/cli.h"

#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report/report.h"
#include "store/store.h"
#include "util/json.h"
#include "util/timeutil.h"
#include "util/units.h"

const char cmd_report_usage[] =
	"usage: probe report [--json | --html FILE] [--since T]\n"
	"                    [--scenario NAME] [--region NAME]\n"
	"                    [--recent T] [--color WHEN] [--db FILE]\n"
	"       probe report --list [--json] [--since T] [--scenario NAME]\n"
	"                    [--limit N] [--db FILE]\n\n"
	"The latest run of each scenario in each region: per step a waterfall\n"
	"of segments laid end to end, each one stored figure -- DNS\n"
	"(dns_ms), connect (connect_ms), TLS (tls_ms), request sent\n"
	"(request_sent_ms: TLS done -> the request's last byte on the wire),\n"
	"network wait (rtt_ms: one round trip), server think (think_ms),\n"
	"transfer (transfer_ms) -- with the request's ACK and its pattern,\n"
	"the split of the first byte into network and server time, the\n"
	"findings with their frame numbers and the escalation pcap.\n\n"
	"  --json           one JSON object per run per line (NDJSON), the\n"
	"                   waterfalls' segments with the figures they draw\n"
	"  --html FILE      a self-contained HTML page (no scripts, nothing\n"
	"                   loaded from elsewhere; FILE '-' is stdout): also\n"
	"                   p50/p95 of think_ms and rtt_ms per region over\n"
	"                   the window, and the `probe compare` verdict\n"
	"  --since T        the window: runs started at or after T (a UTC\n"
	"                   time such as 2026-11-23 or 2026-11-23T13:00, or\n"
	"                   a duration back from now such as 90m, 24h or 7d);\n"
	"                   default: all runs, and the HTML series the last 24h\n"
	"  --scenario NAME  only this scenario\n"
	"  --region NAME    only this region\n"
	"  --recent T       the verdict's recent window (as probe compare;\n"
	"                   default 1h)\n"
	"  --color WHEN     auto (default: on a terminal, unless NO_COLOR is\n"
	"                   set), always or never\n"
	"  --list           list runs instead, newest first (a table, or\n"
	"                   NDJSON with --json)\n"
	"  --limit N        --list: at most N runs (default 20; 0: all)\n\n"
	"Common options:\n"
	"  --db FILE        SQLite store (config 'db', PROBE_DB;\n"
	"                   default ./probe.db)\n"
	"  --spool DIR      where kept pcaps are, for their paths and links\n"
	"                   (config 'spool', PROBE_SPOOL; default ./spool)\n"
	"  --config FILE    config file (PROBE_CONFIG; default\n"
	"                   /etc/probe.conf when it exists)\n"
	"  --help           this text\n";

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

static int list_runs(struct app *app, struct store_run_filter *f, bool json)
{
	struct report_ctx ctx = { .json = json };
	struct errbuf err;
	int ret = store_runs_list(app->store, f, print_run, &ctx, &err);
	if (ret == PE_INVAL)
		return cli_usage_error(app, "%s", err.msg);
	if (ret < 0)
		return cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
	if (!json && ctx.n == 0)
		printf("no runs%s in %s\n",
		       f->since || f->scenario ? " match" : "",
		       app->cfg.val[CONFIG_DB]);
	return EXIT_OK;
}

/* Write the page to path through a temporary file (0600), renamed. */
static int write_html(struct app *app, const char *path,
		      const struct report *r)
{
	if (strcmp(path, "-") == 0) {
		if (report_html(stdout, r) < 0 || fflush(stdout) != 0)
			return cli_fail(app, EXIT_INTERNAL, "writing stdout");
		return EXIT_OK;
	}
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
			     (long)getpid()) >= sizeof(tmp))
		return cli_usage_error(app, "--html: path too long");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return cli_fail(app, EXIT_INTERNAL, "%s: %m", tmp);
	}
	int bad = report_html(f, r) < 0;
	bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		int code = cli_fail(app, EXIT_INTERNAL, "writing %s: %m", path);
		unlink(tmp);
		return code;
	}
	return EXIT_OK;
}

static bool utf8_locale(void)
{
	setlocale(LC_CTYPE, "");
	const char *cs = nl_langinfo(CODESET);
	bool u = cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
	setlocale(LC_CTYPE, "C");
	return u;
}

int cmd_report(int argc, char **argv, struct app *app)
{
	enum { OPT_JSON = OPT_CMD_BASE, OPT_HTML, OPT_SINCE, OPT_SCENARIO,
	       OPT_LIMIT, OPT_LIST, OPT_COLOR, OPT_RECENT };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "scenario", required_argument, NULL, OPT_SCENARIO },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "color", required_argument, NULL, OPT_COLOR },
		{ "recent", required_argument, NULL, OPT_RECENT },
		{ 0 } };
	struct store_run_filter f = { .limit = 20 };
	const char *html = NULL, *region = NULL, *color = "auto";
	bool json = false, list = false;
	double recent_ms = 3600e3;
	char since[64];
	unsigned long limit;
	int c, exit_now = -1, ret;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_HTML:
			html = optarg;
			break;
		case OPT_LIST:
			list = true;
			break;
		case OPT_REGION:
			/* here a filter, not this probe's own region */
			region = optarg;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") && strcmp(optarg, "always") &&
			    strcmp(optarg, "never"))
				return cli_usage_error(
					app, "--color '%s': expected auto, "
					     "always or never",
					optarg);
			color = optarg;
			break;
		case OPT_RECENT:
			if ((exit_now = cli_recent_opt(app, optarg,
						       &recent_ms)) >= 0)
				return exit_now;
			break;
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
	if (html && (json || list))
		return cli_usage_error(app, "--html goes with neither --json "
					    "nor --list");
	if ((ret = cli_prepare(app)) != EXIT_OK)
		return ret;
	if (list)
		return list_runs(app, &f, json);

	char now[TIMEUTIL_UTC_LEN];
	if (timeutil_utc_now(now, sizeof(now)) < 0)
		return cli_fail(app, EXIT_INTERNAL, "the clock");
	struct report_opts o = {
		.since = f.since, .now = now, .scenario = f.scenario,
		.region = region, .history = html != NULL,
		.cmp = { .min_n = (unsigned)app->cfg.baseline_min_n,
			 .days = (unsigned)app->cfg.baseline_days,
			 .recent_min = (unsigned)(recent_ms / 60e3) },
		.db_path = app->cfg.val[CONFIG_DB],
		.spool = app->cfg.val[CONFIG_SPOOL],
	};
	struct report r;
	struct errbuf err;
	ret = report_collect(app->store, &o, &r, &err);
	if (ret == PE_INVAL) {
		report_release(&r);
		return cli_usage_error(app, "%s", err.msg);
	}
	if (ret < 0) {
		report_release(&r);
		return cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
	}
	ret = EXIT_OK;
	if (html) {
		ret = write_html(app, html, &r);
	} else if (json) {
		report_json(stdout, &r);
	} else if (r.n == 0) {
		printf("no runs%s in %s\n",
		       f.since || f.scenario || region ? " match" : "",
		       app->cfg.val[CONFIG_DB]);
	} else {
		const char *nc = getenv("NO_COLOR");
		const char *term = getenv("TERM");
		bool tty = isatty(STDOUT_FILENO) == 1;
		struct report_text_opts to = {
			.color = strcmp(color, "always") == 0 ||
				 (strcmp(color, "auto") == 0 && tty &&
				  !(nc && *nc) &&
				  !(term && strcmp(term, "dumb") == 0)),
			.unicode = utf8_locale(),
			.width = 40,
		};
		report_text(stdout, &r, &to);
	}
	report_release(&r);
	return ret;
}
