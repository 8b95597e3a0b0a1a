/* cmd_serve.c: `probe serve` (issue 7: multi-region). */
#include "cli/cli.h"

const char cmd_serve_usage[] =
	"usage: probe serve --listen ADDR:PORT --token-file FILE\n"
	"                   [--tls-cert FILE --tls-key FILE] [--db FILE]\n\n"
	"Serve this probe read-only over HTTP with a bearer token:\n"
	"/metrics (Prometheus), /api/runs?after=SEQ (NDJSON),\n"
	"/api/pcaps/RUN_ID and /healthz.\n\n" CLI_COMMON_HELP
	"\nNot implemented yet: arrives with issue 7.\n";

int cmd_serve(int argc, char **argv, struct app *app)
{
	return cli_stub(argc, argv, app, 7, "the HTTP server");
}
