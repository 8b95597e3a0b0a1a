/*
 * cmd_pcap.c: `probe pcap SUBCOMMAND`, a nested table (git
 * builtin/bundle.c): list, show, export and prune the escalation pcaps of
 * this probe's spool; fetch one from a regional probe (collect/collect.h).
 *
 * Exit codes, beyond DESIGN section 10's: a RUN_ID that names no run, or
 * a run with nothing to export (no pcap kept, or already pruned), is
 * exit 1: the question was well formed and the answer is "no", as with a
 * failed check.  A file that no longer matches its recorded sha256, a
 * row whose path points outside the spool, and files retention could not
 * delete are exit 3: the evidence or the store needs a human.
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collect/collect.h"
#include "escalate/retention.h"
#include "store/store.h"
#include "util/json.h"
#include "util/units.h"

const char cmd_pcap_usage[] =
	"usage: probe pcap list [--scenario NAME] [--since T] [--all] "
	"[--json]\n"
	"       probe pcap show [--json] RUN_ID\n"
	"       probe pcap export RUN_ID [OUT]\n"
	"       probe pcap prune [--dry-run]\n"
	"       probe pcap fetch --regions FILE REGION RUN_ID [OUT]\n\n"
	"Escalation pcaps: the packets of runs that breached a threshold\n"
	"(or whose scenario says keep_pcap always), kept in SPOOL/pcaps/.\n"
	"  list     kept pcaps, newest run first ('probe pcap list --help')\n"
	"  show     why a run's pcap was kept: thresholds, findings, frames\n"
	"  export   copy a run's pcap out of the spool, sha256 checked\n"
	"  prune    apply retention (days and bytes, old runs) now\n"
	"  fetch    download a run's pcap from a regional probe, sha256\n"
	"           checked ('probe pcap fetch --help')\n\n"
	"Exit: 0 done; 1 no such run, or nothing to export; 2 usage; 3 a\n"
	"file that fails its sha256, a path outside the spool, storage.\n\n"
	CLI_COMMON_HELP;

static const char list_usage[] =
	"usage: probe pcap list [--scenario NAME] [--since T] [--all] "
	"[--json]\n\n"
	"Kept pcaps, newest run first: run, scenario, region, start, size,\n"
	"why it was kept, whether it holds TLS secrets, and its expiry.\n\n"
	"  --scenario NAME  only this scenario\n"
	"  --since T        runs started at or after T: a UTC time such as\n"
	"                   2026-11-23 or 2026-11-23T13:00, or a duration\n"
	"                   back from now such as 90m, 24h or 7d\n"
	"  --all            pruned pcaps too (marked PRUNED)\n"
	"  --json           one JSON object per pcap per line (NDJSON)\n\n"
	CLI_COMMON_HELP;

static const char show_usage[] =
	"usage: probe pcap show [--json] RUN_ID\n\n"
	"Why a run's pcap was kept: the run, the pcap (path, size, sha256,\n"
	"expiry), every threshold evaluated (value against limit, breached\n"
	"or not) and the findings with the frame numbers that prove them\n"
	"(tshark -r FILE -Y frame.number==N).  RUN_ID may also be a seq.\n"
	"Exit 1 when no run has that id.\n\n"
	"  --json           one JSON object\n\n"
	CLI_COMMON_HELP;

static const char export_usage[] =
	"usage: probe pcap export RUN_ID [OUT]\n\n"
	"Copy a run's pcap to OUT (default ./RUN_ID.pcapng; '-': standard\n"
	"output), created new (never overwritten) with mode 0600, after\n"
	"checking the file against the sha256 stored when it was written.\n"
	"Exit 1: no such run, no pcap kept, or already pruned; exit 3: the\n"
	"file fails its sha256 (nothing is written), OUT exists, I/O.\n\n"
	CLI_COMMON_HELP;

static const char prune_usage[] =
	"usage: probe pcap prune [--dry-run]\n\n"
	"Apply retention now: delete pcaps past their expiry (or older than\n"
	"retention_days), then the oldest while the spool's pcaps exceed\n"
	"retention_bytes; their rows stay, marked pruned.  Runs older than\n"
	"runs_retention_days are deleted with their rows.  Nothing outside\n"
	"SPOOL/pcaps/ is ever deleted: a row naming such a path is reported\n"
	"and left alone (exit 3, as is a file that cannot be deleted).\n\n"
	"  --dry-run        say what would go, change nothing\n\n"
	CLI_COMMON_HELP;

/* ---- shared ------------------------------------------------------------- */

static void fmt_bytes(char *buf, size_t len, int64_t b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t u = 0;

	if (b == INT64_MIN) {
		snprintf(buf, len, "?");
		return;
	}
	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(*unit))
		v /= 1024, u++;
	if (u == 0)
		snprintf(buf, len, "%" PRId64 " B", b);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
}

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

/*
 * Parse a subcommand's options: the common ones, --help (its own usage),
 * and those of opts above OPT_CMD_BASE, which go to *seen (one bit each,
 * from OPT_CMD_BASE) and args[] (their argument).  Returns -1 to go on,
 * else an exit code.
 */
static int sub_opts(struct app *app, int argc, char **argv,
		    const struct option *opts, const char *usage,
		    unsigned *seen, const char **args)
{
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c >= OPT_CMD_BASE && c < OPT_CMD_BASE + 16) {
			*seen |= 1u << (c - OPT_CMD_BASE);
			args[c - OPT_CMD_BASE] = optarg;
			continue;
		}
		if (c == OPT_HELP) {
			fputs(usage, stdout);
			return EXIT_OK;
		}
		int exit_now = cli_other_opt(app, c, argv);
		if (exit_now >= 0)
			return exit_now;
	}
	return -1;
}

static void json_pcap_fields(struct json *j, const struct pcap_summary *p)
{
	json_key(j, "path"), json_str(j, p->path);
	json_key(j, "bytes");
	if (p->bytes == INT64_MIN)
		json_null(j);
	else
		json_int(j, p->bytes);
	json_key(j, "sha256"), json_str(j, p->sha256);
	json_key(j, "reason"), json_str(j, p->reason);
	json_key(j, "keylog"), json_bool(j, p->keylog);
	json_key(j, "created_at"), json_str(j, p->created_at);
	json_key(j, "expires_at"), json_str(j, p->expires_at);
	json_key(j, "pruned"), json_bool(j, p->pruned);
	json_key(j, "pruned_at"), json_str(j, p->pruned_at);
}

/* ---- list --------------------------------------------------------------- */

struct list_ctx {
	bool json;
	size_t n, n_keylog;
};

static int list_one(const struct pcap_summary *p, void *vctx)
{
	struct list_ctx *ctx = vctx;
	char size[32];

	if (p->keylog && !p->pruned)
		ctx->n_keylog++;
	if (ctx->json) {
		struct json j;
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "run_id"), json_str(&j, p->run_id);
		json_key(&j, "seq"), json_int(&j, p->run_seq);
		json_key(&j, "scenario"), json_str(&j, p->scenario);
		json_key(&j, "region"), json_str(&j, p->region);
		json_key(&j, "started_at"), json_str(&j, p->started_at);
		json_key(&j, "ok"), json_bool(&j, p->ok);
		json_key(&j, "breach"), json_bool(&j, p->breach);
		json_pcap_fields(&j, p);
		json_obj_end(&j);
		putchar('\n');
		ctx->n++;
		return 0;
	}
	if (ctx->n == 0)
		printf("%-44s %-16s %-10s %-27s %10s %-7s %-11s %s\n",
		       "RUN_ID", "SCENARIO", "REGION", "STARTED (UTC)", "SIZE",
		       "REASON", "KEYLOG", "EXPIRES (UTC)");
	fmt_bytes(size, sizeof(size), p->bytes);
	printf("%-44s %-16s %-10s %-27s %10s %-7s %-11s ", or_dash(p->run_id),
	       or_dash(p->scenario), or_dash(p->region),
	       or_dash(p->started_at), size, or_dash(p->reason),
	       p->keylog ? "TLS SECRETS" : "no");
	if (p->pruned)
		printf("PRUNED %s\n", or_dash(p->pruned_at));
	else
		printf("%s\n", p->expires_at ? p->expires_at : "-");
	ctx->n++;
	return 0;
}

static int pcap_list(int argc, char **argv, struct app *app)
{
	enum { O_SCENARIO = OPT_CMD_BASE, O_SINCE, O_JSON, O_ALL };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "scenario", required_argument, NULL, O_SCENARIO },
		{ "since", required_argument, NULL, O_SINCE },
		{ "json", no_argument, NULL, O_JSON },
		{ "all", no_argument, NULL, O_ALL },
		{ 0 } };
	const char *args[16] = { 0 };
	unsigned seen = 0;
	struct store_pcap_filter f = { 0 };
	struct list_ctx ctx = { 0 };
	struct errbuf err;
	char since[64];
	int ret;

	ret = sub_opts(app, argc, argv, opts, list_usage, &seen, args);
	if (ret >= 0)
		return ret;
	if (optind < argc)
		return cli_usage_error(app, "list: unexpected argument '%s'",
				       argv[optind]);
	if (seen & 1u << (O_SINCE - OPT_CMD_BASE)) {
		if (cli_since_arg(args[O_SINCE - OPT_CMD_BASE], since,
				sizeof(since)) < 0)
			return cli_usage_error(app, "--since '%s'",
					       args[O_SINCE - OPT_CMD_BASE]);
		f.since = since;
	}
	f.scenario = args[O_SCENARIO - OPT_CMD_BASE];
	f.include_pruned = seen & 1u << (O_ALL - OPT_CMD_BASE);
	ctx.json = seen & 1u << (O_JSON - OPT_CMD_BASE);
	if ((ret = cli_prepare(app)) != EXIT_OK)
		return ret;
	ret = store_pcaps_list(app->store, &f, list_one, &ctx, &err);
	if (ret == PE_INVAL)
		return cli_usage_error(app, "%s", err.msg);
	if (ret < 0)
		return cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
	if (!ctx.json && ctx.n == 0)
		printf("no %spcaps%s in %s\n", f.include_pruned ? "" : "kept ",
		       f.since || f.scenario ? " match" : "",
		       app->cfg.val[CONFIG_DB]);
	if (!ctx.json && ctx.n_keylog)
		fprintf(stderr,
			"probe pcap: WARNING: %zu kept pcap%s hold%s TLS "
			"SECRETS (keylog on): whoever has the file can "
			"decrypt that run's HTTPS\n", ctx.n_keylog,
			ctx.n_keylog == 1 ? "" : "s",
			ctx.n_keylog == 1 ? "s" : "");
	return EXIT_OK;
}

/* ---- show --------------------------------------------------------------- */

/* The pcap rows of one run, copied out of the callbacks. */
struct run_pcaps {
	struct pcap_summary run;  /* first row; strings below are copies */
	struct pcap_summary *v;
	size_t n;
	char **owned;
	size_t n_owned;
};

static char *keep(struct run_pcaps *rp, const char *s)
{
	char **o;
	char *c;

	if (!s)
		return NULL;
	o = realloc(rp->owned, (rp->n_owned + 1) * sizeof(*o));
	if (!o)
		return NULL;
	rp->owned = o;
	c = strdup(s);
	if (c)
		rp->owned[rp->n_owned++] = c;
	return c;
}

static int collect_run(const struct pcap_summary *p, void *vctx)
{
	struct run_pcaps *rp = vctx;
	struct pcap_summary c = *p;
	const char **f[] = { &c.run_id, &c.scenario, &c.region,
			     &c.started_at, &c.path, &c.sha256,
			     &c.created_at, &c.expires_at, &c.pruned_at,
			     &c.reason };

	for (size_t i = 0; i < sizeof(f) / sizeof(*f); i++)
		if (*f[i] && !(*f[i] = keep(rp, *f[i])))
			return PE_NOMEM;
	if (rp->n == 0)
		rp->run = c;
	if (c.pcap_id == 0)
		return 0;
	struct pcap_summary *v = realloc(rp->v, (rp->n + 1) * sizeof(*v));
	if (!v)
		return PE_NOMEM;
	rp->v = v;
	rp->v[rp->n++] = c;
	if (rp->n == 1)
		rp->run = c;
	return 0;
}

static void run_pcaps_release(struct run_pcaps *rp)
{
	for (size_t i = 0; i < rp->n_owned; i++)
		free(rp->owned[i]);
	free(rp->owned);
	free(rp->v);
}

/* Get run_id's run and pcaps; an exit code other than EXIT_OK on error. */
static int load_run(struct app *app, const char *run_id,
		    struct run_pcaps *rp)
{
	struct errbuf err;
	int ret = store_pcap_get(app->store, run_id, collect_run, rp, &err);

	if (ret == PE_NOTFOUND)
		return cli_fail(app, EXIT_FAIL, "%s", err.msg);
	if (ret == PE_NOMEM)
		return cli_fail(app, EXIT_INTERNAL, "out of memory");
	if (ret < 0)
		return cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
	return EXIT_OK;
}

static const char *thresh_state(const struct thresh_eval_row *t)
{
	return t->breached ? "BREACHED" : t->met ? "met" : "held";
}

static int show_thresh_text(const struct thresh_eval_row *t, void *vctx)
{
	size_t *n = vctx;
	if ((*n)++ == 0)
		printf("thresholds:\n");
	printf("  %-8s %s", thresh_state(t), or_dash(t->threshold));
	if (t->step)
		printf("  [step %s]", t->step);
	if (isnan(t->value))
		printf(": no figure");
	else
		printf(": %s = %g", or_dash(t->metric), t->value);
	if (!isnan(t->limit_value))
		printf(" vs limit %g", t->limit_value);
	if (t->baseline_n != INT64_MIN)
		printf(" (baseline n=%" PRId64 ")", t->baseline_n);
	if (t->note)
		printf(" (%s)", t->note);
	putchar('\n');
	return 0;
}

static int show_thresh_json(const struct thresh_eval_row *t, void *vctx)
{
	struct json *j = vctx;
	json_obj_begin(j);
	json_key(j, "threshold"), json_str(j, t->threshold);
	json_key(j, "metric"), json_str(j, t->metric);
	json_key(j, "step"), json_str(j, t->step);
	json_key(j, "value"), json_num(j, t->value);
	json_key(j, "limit"), json_num(j, t->limit_value);
	json_key(j, "baseline_n");
	if (t->baseline_n == INT64_MIN)
		json_null(j);
	else
		json_int(j, t->baseline_n);
	json_key(j, "met"), json_bool(j, t->met);
	json_key(j, "breached"), json_bool(j, t->breached);
	json_key(j, "note"), json_str(j, t->note);
	json_obj_end(j);
	return 0;
}

static int show_finding_text(const struct finding_row *f, void *vctx)
{
	size_t *n = vctx;
	if ((*n)++ == 0)
		printf("findings:\n");
	printf("  %-22s %-16s frames %s", or_dash(f->code),
	       f->step ? f->step : "(run)",
	       f->packets && strcmp(f->packets, "[]") != 0 ? f->packets
							   : "none");
	if (f->detail)
		printf("  %s", f->detail);
	putchar('\n');
	return 0;
}

static int show_finding_json(const struct finding_row *f, void *vctx)
{
	struct json *j = vctx;
	json_obj_begin(j);
	json_key(j, "code"), json_str(j, f->code);
	json_key(j, "step"), json_str(j, f->step);
	json_key(j, "packets");
	if (f->packets)
		json_raw(j, f->packets); /* json_valid() by the schema */
	else
		json_null(j);
	json_key(j, "detail"), json_str(j, f->detail);
	json_obj_end(j);
	return 0;
}

static void show_pcap_text(const struct pcap_summary *p)
{
	char size[32];

	fmt_bytes(size, sizeof(size), p->bytes);
	printf("pcap:     %s (%s)\n", or_dash(p->path), size);
	printf("sha256:   %s\n", or_dash(p->sha256));
	printf("kept:     %s\n", p->reason == NULL ? "-" :
	       strcmp(p->reason, "breach") == 0 ?
	       "breach (a threshold fired)" : "always (keep_pcap always)");
	printf("created:  %s\n", or_dash(p->created_at));
	if (p->pruned)
		printf("PRUNED:   %s (file deleted by retention; the row "
		       "stays)\n", or_dash(p->pruned_at));
	else
		printf("expires:  %s\n", p->expires_at ? p->expires_at :
		       "not set (retention_days after created applies)");
	if (p->keylog)
		printf("KEYLOG:   this file holds the run's TLS SECRETS: "
		       "whoever has it can decrypt the run's HTTPS\n");
}

static int pcap_show(int argc, char **argv, struct app *app)
{
	enum { O_JSON = OPT_CMD_BASE };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "json", no_argument, NULL, O_JSON },
		{ 0 } };
	const char *args[16] = { 0 };
	unsigned seen = 0;
	struct run_pcaps rp = { 0 };
	struct errbuf err;
	size_t n = 0;
	bool json;
	int ret;

	ret = sub_opts(app, argc, argv, opts, show_usage, &seen, args);
	if (ret >= 0)
		return ret;
	json = seen & 1u;
	if (optind >= argc)
		return cli_usage_error(app, "show: missing RUN_ID");
	if (optind + 1 < argc)
		return cli_usage_error(app, "show: unexpected argument '%s'",
				       argv[optind + 1]);
	if ((ret = cli_prepare(app)) != EXIT_OK)
		return ret;
	if ((ret = load_run(app, argv[optind], &rp)) != EXIT_OK)
		goto out;

	const struct pcap_summary *r = &rp.run;
	if (json) {
		struct json j;
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "run_id"), json_str(&j, r->run_id);
		json_key(&j, "seq"), json_int(&j, r->run_seq);
		json_key(&j, "scenario"), json_str(&j, r->scenario);
		json_key(&j, "region"), json_str(&j, r->region);
		json_key(&j, "started_at"), json_str(&j, r->started_at);
		json_key(&j, "ok"), json_bool(&j, r->ok);
		json_key(&j, "breach"), json_bool(&j, r->breach);
		json_key(&j, "pcaps"), json_arr_begin(&j);
		for (size_t i = 0; i < rp.n; i++) {
			json_obj_begin(&j);
			json_pcap_fields(&j, &rp.v[i]);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_key(&j, "thresholds"), json_arr_begin(&j);
		ret = store_thresh_evals_list(app->store, r->run_seq,
					      show_thresh_json, &j, &err);
		json_arr_end(&j);
		json_key(&j, "findings"), json_arr_begin(&j);
		if (ret == 0)
			ret = store_findings_list(app->store, r->run_seq,
						  show_finding_json, &j, &err);
		json_arr_end(&j);
		json_obj_end(&j);
		putchar('\n');
	} else {
		printf("run:      %s (seq %" PRId64 ")\n", or_dash(r->run_id),
		       r->run_seq);
		printf("scenario: %s   region: %s\n", or_dash(r->scenario),
		       or_dash(r->region));
		printf("started:  %s\n", or_dash(r->started_at));
		printf("result:   %s, %s\n", r->ok ? "ok" : "FAILED",
		       r->breach ? "threshold BREACHED" : "no breach");
		if (rp.n == 0)
			printf("pcap:     none kept for this run\n");
		for (size_t i = 0; i < rp.n; i++)
			show_pcap_text(&rp.v[i]);
		ret = store_thresh_evals_list(app->store, r->run_seq,
					      show_thresh_text, &n, &err);
		if (ret == 0 && n == 0)
			printf("thresholds: none evaluated\n");
		n = 0;
		if (ret == 0)
			ret = store_findings_list(app->store, r->run_seq,
						  show_finding_text, &n, &err);
		if (ret == 0 && n == 0)
			printf("findings: none\n");
	}
	ret = ret < 0 ? cli_fail(app, EXIT_INTERNAL, "%s", err.msg)
		      : EXIT_OK;
out:
	run_pcaps_release(&rp);
	return ret;
}

/* ---- export ------------------------------------------------------------- */

static int pcap_export(int argc, char **argv, struct app *app)
{
	static const struct option opts[] = { CLI_COMMON_OPTS, { 0 } };
	const char *args[16] = { 0 };
	unsigned seen = 0;
	struct run_pcaps rp = { 0 };
	const struct pcap_summary *p = NULL;
	const char *run_id, *out_path;
	char def_out[512], *full = NULL;
	struct errbuf err;
	int ret;

	ret = sub_opts(app, argc, argv, opts, export_usage, &seen, args);
	if (ret >= 0)
		return ret;
	if (optind >= argc)
		return cli_usage_error(app, "export: missing RUN_ID");
	if (optind + 2 < argc)
		return cli_usage_error(app, "export: unexpected argument "
					    "'%s'", argv[optind + 2]);
	run_id = argv[optind];
	out_path = optind + 1 < argc ? argv[optind + 1] : NULL;
	if ((ret = cli_prepare(app)) != EXIT_OK)
		return ret;
	if ((ret = load_run(app, run_id, &rp)) != EXIT_OK)
		goto out;
	/* The newest row whose file is still kept. */
	for (size_t i = rp.n; i-- > 0 && !p;)
		if (!rp.v[i].pruned)
			p = &rp.v[i];
	if (!p) {
		ret = rp.n == 0 ?
			cli_fail(app, EXIT_FAIL, "run %s kept no pcap",
				 rp.run.run_id) :
			cli_fail(app, EXIT_FAIL, "the pcap of run %s was "
				 "pruned at %s (deleted by retention); only "
				 "its row is left", rp.run.run_id,
				 or_dash(rp.v[rp.n - 1].pruned_at));
		goto out;
	}
	if (!out_path) {
		/* run ids are labels (config.c) plus a uuid; refuse a
		 * stored one that would make the default name a path. */
		if (strchr(p->run_id, '/') || p->run_id[0] == '.') {
			ret = cli_fail(app, EXIT_INTERNAL, "run id '%s' cannot "
				       "name a file; give OUT", p->run_id);
			goto out;
		}
		snprintf(def_out, sizeof(def_out), "./%s.pcapng", p->run_id);
		out_path = def_out;
	}
	ret = escalate_pcap_path(app->cfg.val[CONFIG_SPOOL], p->path, &full,
				 &err);
	if (ret == 0)
		ret = escalate_pcap_export(full, p->sha256, out_path, &err);
	if (ret < 0) {
		ret = cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
		goto out;
	}
	if (p->keylog)
		fprintf(stderr, "probe pcap: WARNING: %s holds the run's TLS "
			"SECRETS: whoever has it can decrypt the run's "
			"HTTPS\n", strcmp(out_path, "-") ? out_path :
			"the output");
	if (strcmp(out_path, "-") != 0)
		printf("exported %s to %s (%" PRId64 " bytes, sha256 %s "
		       "verified)\n", p->run_id, out_path, p->bytes,
		       p->sha256);
	ret = EXIT_OK;
out:
	free(full);
	run_pcaps_release(&rp);
	return ret;
}

/* ---- prune -------------------------------------------------------------- */

static int now_utc(char buf[32])
{
	struct timespec ts;
	struct tm tm;
	char day[24];

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 ||
	    !gmtime_r(&ts.tv_sec, &tm))
		return -1;
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, 32, "%.19s.%06dZ", day, (int)(ts.tv_nsec / 1000));
	return 0;
}

static int pcap_prune(int argc, char **argv, struct app *app)
{
	enum { O_DRY = OPT_CMD_BASE };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "dry-run", no_argument, NULL, O_DRY },
		{ 0 } };
	const char *args[16] = { 0 };
	unsigned seen = 0;
	struct retention_opts o = { 0 };
	struct prune_report r = { 0 };
	struct errbuf err;
	char now[32], freed[32], kept[32], size[32];
	const char *verb;
	int ret;

	ret = sub_opts(app, argc, argv, opts, prune_usage, &seen, args);
	if (ret >= 0)
		return ret;
	if (optind < argc)
		return cli_usage_error(app, "prune: unexpected argument '%s'",
				       argv[optind]);
	if ((ret = cli_prepare(app)) != EXIT_OK)
		return ret;
	if (now_utc(now) < 0)
		return cli_fail(app, EXIT_INTERNAL, "cannot read the clock");
	o.dry_run = seen & 1u;
	o.retention_days = app->cfg.retention_days;
	o.retention_bytes = app->cfg.retention_bytes;
	o.runs_retention_days = app->cfg.runs_retention_days;
	ret = escalate_prune(app->store, app->cfg.val[CONFIG_SPOOL], &o, now,
			     &r, &err);
	if (ret < 0) {
		ret = cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
		goto out;
	}
	verb = o.dry_run ? "would prune" : "pruned";
	for (size_t i = 0; i < r.n_items; i++) {
		const struct prune_item *it = &r.items[i];
		fmt_bytes(size, sizeof(size), (int64_t)it->bytes);
		if (it->why == PRUNE_REFUSED || it->why == PRUNE_FAILED)
			fprintf(stderr, "probe pcap: %s %s (%s): %s\n",
				it->why == PRUNE_REFUSED ? "refused" :
				"could not delete", it->run_id, it->path,
				it->detail ? it->detail : "");
		else
			printf("%s %s %s (%s, %s%s)\n", verb, it->run_id,
			       it->path, size, prune_why_name(it->why),
			       it->missing ? ", file already gone" : "");
	}
	fmt_bytes(freed, sizeof(freed), (int64_t)r.bytes_freed);
	fmt_bytes(kept, sizeof(kept), (int64_t)r.kept_bytes);
	printf("%sfiles deleted: %" PRIu64 " (%s freed), already missing: "
	       "%" PRIu64 ", rows marked pruned: %" PRIu64 ", runs "
	       "deleted: %" PRIu64 ", refused: %" PRIu64 ", failed: %" PRIu64
	       "; kept: %s\n", o.dry_run ? "dry run: " : "",
	       r.files_deleted, freed, r.files_missing, r.rows_marked,
	       r.runs_deleted, r.refused, r.failed, kept);
	ret = r.refused || r.failed ? EXIT_INTERNAL : EXIT_OK;
out:
	prune_report_release(&r);
	return ret;
}

/* ---- the table ---------------------------------------------------------- */

static const char fetch_usage[] =
	"usage: probe pcap fetch --regions FILE REGION RUN_ID [OUT]\n\n"
	"Download a run's pcap from the regional probe REGION of FILE (as\n"
	"`probe collect` reads it: NAME BASE_URL TOKEN_FILE [ca=FILE]) into\n"
	"OUT (default ./RUN_ID.pcapng; never overwritten; mode 0600).  Its\n"
	"sha256 is computed on the way and checked against the region's\n"
	"X-Probe-Sha256: a file that does not match is deleted.\n\n"
	"Exit: 0 fetched and checked; 1 no such run or pcap in REGION;\n"
	"2 usage; 3 token refused, sha256 mismatch, network or file error.\n";

/* Fetch talks to a region only: it needs no store here. */
static int pcap_fetch(int argc, char **argv, struct app *app)
{
	enum { O_REGIONS = OPT_CMD_BASE };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "regions", required_argument, NULL, O_REGIONS },
		{ 0 }
	};
	const char *args[16] = { 0 };
	unsigned seen = 0;
	struct collect_regions regs;
	const struct collect_region *r;
	char def_out[512], hex[65];
	struct errbuf err;
	int ret;

	ret = sub_opts(app, argc, argv, opts, fetch_usage, &seen, args);
	if (ret >= 0)
		return ret;
	if (!args[0])
		return cli_usage_error(app, "fetch: --regions FILE is needed");
	if (argc - optind < 2)
		return cli_usage_error(app, "fetch: want REGION RUN_ID [OUT]");
	if (argc - optind > 3)
		return cli_usage_error(app, "fetch: unexpected argument '%s'",
				       argv[optind + 3]);
	const char *region = argv[optind], *run_id = argv[optind + 1];
	const char *out = argc - optind == 3 ? argv[optind + 2] : NULL;
	if (!out) {
		if (strchr(run_id, '/') || run_id[0] == '.' ||
		    (size_t)snprintf(def_out, sizeof(def_out), "%s.pcapng",
				     run_id) >= sizeof(def_out))
			return cli_usage_error(app, "fetch: %s: not a run id",
					       run_id);
		out = def_out;
	}
	if (collect_regions_load(args[0], &regs, &err) < 0)
		return cli_usage_error(app, "fetch: %s", err.msg);
	if (!(r = collect_regions_find(&regs, region))) {
		ret = cli_usage_error(app, "fetch: no region %s in %s", region,
				      args[0]);
		goto out;
	}
	ret = collect_pcap_fetch(r, run_id, out, hex, &err);
	switch (ret) {
	case 0:
		printf("%s: %s (sha256 %s, checked)\n", run_id, out, hex);
		ret = EXIT_OK;
		break;
	case PE_NOTFOUND:
		ret = cli_fail(app, EXIT_FAIL, "no such run or pcap in %s: %s",
			       region, run_id);
		break;
	case PE_PERM:
		ret = cli_fail(app, EXIT_INTERNAL, "%s: token refused: %s",
			       region, err.msg);
		break;
	default:
		ret = cli_fail(app, EXIT_INTERNAL, "%s: %s", region, err.msg);
		break;
	}
out:
	collect_regions_release(&regs);
	return ret;
}

static const struct {
	const char *name;
	cmd_fn fn;
} subcommands[] = {
	{ "list", pcap_list },
	{ "show", pcap_show },
	{ "export", pcap_export },
	{ "prune", pcap_prune },
	{ "fetch", pcap_fetch },
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
			return subcommands[i].fn(argc - 1, argv + 1, app);
	return cli_usage_error(app, "unknown subcommand '%s'", argv[1]);
}
