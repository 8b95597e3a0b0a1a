/*
 * pbpcapng: convert a capture into pcapng through src/capture/cap_pcapw.c,
 * so tests/integration/0640-pcapng-vs-tshark.sh can hold our writer
 * against tshark and capinfos (frames, nanosecond timestamps, lengths,
 * comments, and a TLS session decrypted from the DSB alone).
 *
 *   pbpcapng [-c N:TEXT]... [-k KEYLOG] [-i IFNAME] IN OUT
 *
 * IN is read with cap_file (pcap or pcapng); its snapshot length comes
 * from libpcap.  -c puts comment TEXT on frame N (1-based), -k writes
 * the key log file as a Decryption Secrets Block before the first frame,
 * -i names the interface.  Prints "sha256 HEX bytes N" (cap_pcapw_close's
 * figures) on success; exit 1 with a message otherwise.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/cap_file.h"
#include "capture/cap_pcapw.h"
#include "tool_slurp.h"

#define MAX_COMMENTS 64

static void die(const char *what, const struct errbuf *e)
{
	fprintf(stderr, "pbpcapng: %s: %s\n", what, e ? e->msg : "");
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned long cnum[MAX_COMMENTS];
	const char *ctext[MAX_COMMENTS];
	int nc = 0, opt;
	const char *keyfile = NULL, *ifname = NULL;
	while ((opt = getopt(argc, argv, "c:k:i:")) != -1) {
		char *colon;
		switch (opt) {
		case 'c':
			colon = strchr(optarg, ':');
			if (!colon || nc == MAX_COMMENTS)
				die("-c N:TEXT", NULL);
			cnum[nc] = strtoul(optarg, NULL, 10);
			ctext[nc++] = colon + 1;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'i':
			ifname = optarg;
			break;
		default:
			die("usage: pbpcapng [-c N:TEXT]... [-k KEYLOG] "
			    "[-i IFNAME] IN OUT", NULL);
		}
	}
	if (argc - optind != 2)
		die("usage: pbpcapng [-c N:TEXT]... [-k KEYLOG] [-i IFNAME] "
		    "IN OUT", NULL);
	const char *in = argv[optind], *out = argv[optind + 1];

	/* the snapshot length, which cap_file does not need to say */
	char pe[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(in, pe);
	if (!p) {
		fprintf(stderr, "pbpcapng: %s\n", pe);
		return 1;
	}
	uint32_t snaplen = (uint32_t)pcap_snapshot(p);
	pcap_close(p);

	struct errbuf e;
	struct cap_file *f = cap_file_open(in, &e);
	if (!f)
		die("open", &e);
	struct cap_pcapw *w = cap_pcapw_open(out, &e);
	if (!w)
		die("create", &e);
	int ifc = cap_pcapw_iface(w, cap_file_linktype(f), snaplen, ifname,
				  &e);
	if (ifc < 0)
		die("iface", &e);
	if (keyfile) {
		size_t klen;
		char *k = slurp(keyfile, &klen);
		if (!k)
			die(keyfile, NULL);
		if (cap_pcapw_secrets(w, k, klen, &e) < 0)
			die("secrets", &e);
		free(k);
	}
	uint64_t ts;
	const uint8_t *d;
	uint32_t caplen, len;
	unsigned long n = 0;
	int r;
	while ((r = cap_file_next(f, &ts, &d, &caplen, &len, &e)) == 1) {
		n++;
		const char *c = NULL;
		for (int i = 0; i < nc; i++)
			if (cnum[i] == n)
				c = ctext[i];
		if (cap_pcapw_packet(w, ifc, ts, d, caplen, len, c, &e) < 0)
			die("packet", &e);
	}
	if (r < 0)
		die("read", &e);
	cap_file_close(f);
	uint8_t md[32];
	uint64_t bytes;
	if (cap_pcapw_close(w, md, &bytes, &e) < 0)
		die("close", &e);
	printf("sha256 ");
	for (int i = 0; i < 32; i++)
		printf("%02x", md[i]);
	printf(" bytes %" PRIu64 "\n", bytes);
	return 0;
}
