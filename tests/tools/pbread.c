/*
 * pbread: the floor for bench/analyzer: read a capture file with libpcap
 * and do nothing else (pcap_open_offline, then pcap_next_ex to the end),
 * counting frames and captured bytes, so the analyzer's rate can be put
 * beside the rate at which libpcap alone hands the same frames over.
 *
 *   pbread FILE
 *
 * Prints "packets N bytes B" (B: the frames' captured bytes).  Exit 1
 * when the file cannot be opened or is damaged, 2 usage.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: pbread FILE\n", stderr);
		return 2;
	}
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(argv[1], err);
	if (!p) {
		fprintf(stderr, "pbread: %s\n", err);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t n = 0, bytes = 0;
	int r;
	while ((r = pcap_next_ex(p, &h, &d)) == 1) {
		n++;
		bytes += h->caplen;
	}
	if (r == PCAP_ERROR) {
		fprintf(stderr, "pbread: %s: frame %" PRIu64 ": %s\n", argv[1],
			n + 1, pcap_geterr(p));
		pcap_close(p);
		return 1;
	}
	pcap_close(p);
	printf("packets %" PRIu64 " bytes %" PRIu64 "\n", n, bytes);
	return 0;
}
