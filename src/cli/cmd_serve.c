/*
 * cmd_serve.c: `probe serve`: options, then serve_run() (src/serve/)
 * until SIGTERM or SIGINT.
 */
#include "cli/cli.h"

#include <stdio.h>

#include "serve/serve.h"
#include "store/store.h"

const char cmd_serve_usage[] =
	"usage: probe serve --listen ADDR:PORT --token-file FILE\n"
	"                   [--tls-cert FILE --tls-key FILE] [--db FILE]\n"
	"                   [--spool DIR]\n\n"
	"Serve this probe's store read-only over HTTP until SIGTERM or\n"
	"SIGINT (then exit 0).  Every path but /healthz needs the header\n"
	"'Authorization: Bearer TOKEN' (else 401).\n\n"
	"  /healthz                 'ok', no token needed\n"
	"  /metrics                 Prometheus text format 0.0.4: histograms\n"
	"                           in seconds over the last 24 h of runs;\n"
	"                           probe_success, probe_last_run_timestamp_\n"
	"                           seconds, probe_runs_total,\n"
	"                           probe_breaches_total over all stored runs\n"
	"  /api/runs?after=SEQ[&limit=N]\n"
	"                           runs with seq > SEQ in seq order, NDJSON,\n"
	"                           one `probe run --json` object a line;\n"
	"                           limit 100 by default, 1000 at most; the\n"
	"                           header X-Probe-Next-After is the next SEQ\n"
	"  /api/pcaps/RUN_ID        the run's kept pcap, header\n"
	"                           X-Probe-Sha256; 404 when none or pruned\n\n"
	"  --listen ADDR:PORT       numeric address: 127.0.0.1:9100,\n"
	"                           [::1]:9100, 0.0.0.0:9100\n"
	"  --token-file FILE        the bearer token, its first line; the\n"
	"                           file must not be readable by group or\n"
	"                           others\n"
	"  --tls-cert FILE, --tls-key FILE\n"
	"                           serve HTTPS (PEM files; libmicrohttpd\n"
	"                           with GnuTLS, as Debian builds it)\n\n"
	"Limits: 64 connections, 16 per client address, 10 s idle timeout,\n"
	"64 KiB of request headers per connection; no request bodies; only\n"
	"GET and HEAD (else 405).  One thread answers every request.\n\n"
	"Exit: 0 stopped by a signal; 2 usage, token file readable by\n"
	"others or empty, TLS unavailable; 3 cannot listen, storage.\n\n"
	CLI_COMMON_HELP;

int cmd_serve(int argc, char **argv, struct app *app)
{
	enum { OPT_LISTEN = OPT_CMD_BASE, OPT_TOKEN, OPT_CERT, OPT_KEY };
	static const struct option opts[] = {
		CLI_COMMON_OPTS,
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "token-file", required_argument, NULL, OPT_TOKEN },
		{ "tls-cert", required_argument, NULL, OPT_CERT },
		{ "tls-key", required_argument, NULL, OPT_KEY },
		{ 0 } };
	struct serve_opts o = { 0 };
	struct errbuf err;
	int c, exit_now, ret;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			o.listen = optarg;
			break;
		case OPT_TOKEN:
			o.token_file = optarg;
			break;
		case OPT_CERT:
			o.tls_cert = optarg;
			break;
		case OPT_KEY:
			o.tls_key = optarg;
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
	if (!o.listen || !o.token_file)
		return cli_usage_error(app, "--listen and --token-file are "
				       "required");
	if (!o.tls_cert != !o.tls_key)
		return cli_usage_error(app, "--tls-cert and --tls-key go "
				       "together");
	if (o.tls_cert && !serve_tls_supported())
		return cli_usage_error(app, "--tls-cert: this libmicrohttpd "
				       "was built without TLS support");
	if ((ret = cli_prepare(app)) != EXIT_OK)
		return ret;
	o.spool = app->cfg.val[CONFIG_SPOOL];
	ret = serve_run(app->store, &o, stderr, &err);
	if (ret == PE_INVAL || ret == PE_PERM)
		return cli_fail(app, EXIT_USAGE, "%s", err.msg);
	if (ret < 0)
		return cli_fail(app, EXIT_INTERNAL, "%s", err.msg);
	return EXIT_OK;
}
