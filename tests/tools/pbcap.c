/*
 * pbcap: drive src/capture/ around one command, for
 * tests/integration/0620-capture.sh.
 *
 *   pbcap --filter EXPR [--iface IF]... [--ring BYTES] --out FILE
 *         [--filter-later EXPR --after-ms N] [--drop] [--add IF]
 *         -- CMD ARGS...
 *
 * Opens the capture (on the given interfaces, else on those
 * capture_open() chooses for the destination 127.0.0.1), optionally drops
 * privileges (--drop: cap_priv_drop(NULL), then prints the CapEff and
 * CapPrm lines of /proc/self/status), optionally opens one more
 * interface (--add IF: prints "add_iface IF: PE_...[: message]"), starts
 * the capture, runs CMD and waits for it (with --filter-later, switches
 * the filter N ms after CMD started),
 * waits 50 ms, stops, writes the ring to FILE as a pcap file with
 * nanosecond timestamps (libpcap's writer), and prints
 *
 *   received=N dropped=N cut=N lost=N ifaces=lo[,IF...]
 *
 * Exit: 0, 1 when CMD failed, 2 for a usage error, 3 when the capture
 * could not be opened (the message names the permission problem).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "capture/capture.h"

#define PBCAP_MAX_IFACES 8

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void print_caps(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7) ||
		    !strncmp(line, "CapPrm:", 7))
			fputs(line, stdout);
	fclose(f);
	fflush(stdout);
}

static int write_pcap(struct capture *c, const char *path)
{
	const struct cap_iface *i0 = capture_iface(c, 0);
	pcap_t *pd = pcap_open_dead_with_tstamp_precision(
		i0->linktype, CAPTURE_SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
	pcap_dumper_t *d;
	size_t n = capture_count(c), skipped = 0;

	if (!pd || !(d = pcap_dump_open(pd, path))) {
		fprintf(stderr, "pbcap: %s: %s\n", path,
			pd ? pcap_geterr(pd) : "pcap_open_dead failed");
		if (pd)
			pcap_close(pd);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct cap_pkt *p = capture_get(c, i);
		struct pcap_pkthdr h;
		if (p->linktype != i0->linktype) {
			skipped++;
			continue;
		}
		h.ts.tv_sec = (time_t)(p->ts_ns / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(p->ts_ns % 1000000000u);
		h.caplen = p->caplen;
		h.len = p->len;
		pcap_dump((u_char *)d, &h, p->data);
	}
	pcap_dump_close(d);
	pcap_close(pd);
	if (skipped)
		fprintf(stderr, "pbcap: %zu frames of another link type "
			"not written\n", skipped);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filter", required_argument, NULL, 'f' },
		{ "iface", required_argument, NULL, 'i' },
		{ "ring", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "filter-later", required_argument, NULL, 'F' },
		{ "after-ms", required_argument, NULL, 'a' },
		{ "drop", no_argument, NULL, 'd' },
		{ "add", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ifaces[PBCAP_MAX_IFACES];
	struct dec_addr lo = { .family = 4, .a = { 127, 0, 0, 1 } };
	struct capture_opts o = { .dests = &lo, .n_dests = 1,
				  .ifaces = ifaces };
	const char *out = NULL, *later = NULL, *add = NULL;
	long after_ms = 0;
	bool drop = false;
	struct errbuf err = { "" };
	int ch, status, rc = 0;

	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': o.filter = optarg; break;
		case 'i':
			if (o.n_ifaces == PBCAP_MAX_IFACES)
				return 2;
			ifaces[o.n_ifaces++] = optarg;
			break;
		case 'r': o.ring_bytes = strtoull(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		case 'F': later = optarg; break;
		case 'a': after_ms = strtol(optarg, NULL, 10); break;
		case 'd': drop = true; break;
		case 'A': add = optarg; break;
		default: return 2;
		}
	}
	if (!out || optind >= argc) {
		fprintf(stderr, "usage: pbcap --filter EXPR [--iface IF] "
			"[--ring BYTES] --out FILE [--filter-later EXPR "
			"--after-ms N] [--drop] [--add IF] -- CMD ARGS...\n");
		return 2;
	}
	struct capture *c = capture_open(&o, &err);
	if (!c) {
		fprintf(stderr, "pbcap: %s\n", err.msg);
		return 3;
	}
	if (drop) {
		if (cap_priv_drop(NULL, &err) < 0) {
			fprintf(stderr, "pbcap: %s\n", err.msg);
			capture_free(c);
			return 3;
		}
		print_caps();
	}
	if (add) {
		int ret = capture_add_iface(c, add, &err);
		printf("add_iface %s: %s%s%s\n", add, pe_name(ret),
		       ret ? ": " : "", ret ? err.msg : "");
	}
	if (capture_start(c, &err) < 0) {
		fprintf(stderr, "pbcap: %s\n", err.msg);
		capture_free(c);
		return 3;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "pbcap: %s: %s\n", argv[optind],
			strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "pbcap: fork: %s\n", strerror(errno));
		rc = 1;
	}
	if (pid > 0 && later) {
		sleep_ms(after_ms);
		if (capture_set_filter(c, later, &err) < 0) {
			fprintf(stderr, "pbcap: %s\n", err.msg);
			rc = 1;
		} else {
			fprintf(stderr, "pbcap: filter now %s\n", later);
		}
	}
	if (pid > 0) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "pbcap: %s failed\n", argv[optind]);
			rc = 1;
		}
	}
	sleep_ms(50);
	capture_stop(c);
	struct capture_stats st;
	capture_stats(c, &st);
	if (write_pcap(c, out) < 0)
		rc = 1;
	printf("received=%" PRIu64 " dropped=%" PRIu64 " cut=%" PRIu64
	       " lost=%" PRIu64 " ifaces=", st.received, st.dropped, st.cut,
	       st.lost);
	for (size_t i = 0; i < capture_n_ifaces(c); i++)
		printf("%s%s", i ? "," : "", capture_iface(c, i)->name);
	printf("\n");
	capture_free(c);
	return rc;
}
