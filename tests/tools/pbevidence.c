/*
 * pbevidence: write a capture through src/capture/cap_evidence.c, so
 * tests/integration/0680-evidence-vs-tshark.sh can check the escalation
 * file's redaction against tshark on real traffic (no planted secret
 * left, the same TLS records and DNS queries, comments, and with a key
 * log a file that decrypts by itself).
 *
 *   pbevidence [--keylog FILE] [--comment N:TEXT]... [--dns-port P]...
 *              [--iface NAME] IN SPOOL RUN_ID
 *
 * IN is read whole with cap_file (pcap or pcapng).  Prints "path P
 * sha256 HEX bytes N redacted N layout_lost N" on success; exit 1 with a
 * message otherwise.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/cap_evidence.h"
#include "capture/cap_file.h"
#include "tool_slurp.h"

#define MAX_LIST 64

static void die(const char *what, const struct errbuf *e)
{
	fprintf(stderr, "pbevidence: %s: %s\n", what, e ? e->msg : "");
	exit(1);
}

static const char usage[] =
	"usage: pbevidence [--keylog FILE] [--comment N:TEXT]... "
	"[--dns-port P]... [--iface NAME] IN SPOOL RUN_ID";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keylog", required_argument, NULL, 'k' },
		{ "comment", required_argument, NULL, 'c' },
		{ "dns-port", required_argument, NULL, 'd' },
		{ "iface", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct cap_ev_comment cm[MAX_LIST];
	uint16_t ports[MAX_LIST];
	size_t nc = 0, np = 0;
	const char *keyfile = NULL, *ifname = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *colon;
		switch (opt) {
		case 'k':
			keyfile = optarg;
			break;
		case 'c':
			colon = strchr(optarg, ':');
			if (!colon || nc == MAX_LIST)
				die("--comment N:TEXT", NULL);
			cm[nc].frame = strtoull(optarg, NULL, 10);
			cm[nc++].text = colon + 1;
			break;
		case 'd':
			if (np == MAX_LIST)
				die("--dns-port: too many", NULL);
			ports[np++] = (uint16_t)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			ifname = optarg;
			break;
		default:
			die(usage, NULL);
		}
	}
	if (argc - optind != 3)
		die(usage, NULL);

	struct errbuf e;
	struct cap_file *f = cap_file_open(argv[optind], &e);
	if (!f)
		die("open", &e);
	struct cap_ev_frame *fr = NULL;
	size_t n = 0, cap = 0;
	uint64_t ts;
	const uint8_t *d;
	uint32_t caplen, len;
	int r;
	while ((r = cap_file_next(f, &ts, &d, &caplen, &len, &e)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			fr = realloc(fr, cap * sizeof(*fr));
			if (!fr)
				die("out of memory", NULL);
		}
		uint8_t *copy = malloc(caplen ? caplen : 1);
		if (!copy)
			die("out of memory", NULL);
		memcpy(copy, d, caplen);
		fr[n++] = (struct cap_ev_frame){ .ts_ns = ts, .data = copy,
						 .caplen = caplen, .len = len };
	}
	if (r < 0)
		die("read", &e);
	struct cap_ev_iface ifc = { ifname, cap_file_linktype(f) };
	cap_file_close(f);

	size_t klen = 0;
	char *k = NULL;
	if (keyfile && !(k = slurp(keyfile, &klen)))
		die(keyfile, NULL);
	struct cap_ev_in in = {
		.spool = argv[optind + 1], .run_id = argv[optind + 2],
		.ifaces = &ifc, .n_ifaces = 1, .frames = fr, .n_frames = n,
		.comments = cm, .n_comments = nc, .dns_ports = ports,
		.n_dns_ports = np, .keylog = k, .keylog_len = klen,
	};
	struct cap_ev_out out;
	if (cap_evidence_write(&in, &out, &e) < 0)
		die("write", &e);
	printf("path %s sha256 %s bytes %" PRIu64 " redacted %" PRIu64
	       " layout_lost %" PRIu64 "\n",
	       out.path, out.sha256, out.bytes, out.redacted,
	       out.layout_lost);
	cap_ev_out_release(&out);
	for (size_t i = 0; i < n; i++)
		free((void *)fr[i].data);
	free(fr);
	free(k);
	return 0;
}
