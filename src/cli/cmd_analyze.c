/* cmd_analyze.c: `probe analyze` (issue 5: the packet analyzer). */
#include "cli/cli.h"

const char cmd_analyze_usage[] =
	"usage: probe analyze [--json] [--keylog FILE] FILE\n\n"
	"Analyze a pcap or pcapng capture: per-connection RTT, server think\n"
	"time, retransmissions and findings, with the frame numbers that\n"
	"prove them.\n\n"
	"  --json           one JSON object instead of tables\n"
	"  --keylog FILE    TLS key log (SSLKEYLOGFILE format) to classify\n"
	"                   encrypted records exactly\n\n"
	"Not implemented yet: arrives with issue 5.\n";

int cmd_analyze(int argc, char **argv, struct app *app)
{
	return cli_stub(argc, argv, app, 5, "packet analysis");
}
