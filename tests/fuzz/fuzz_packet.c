/*
 * fuzz_packet.c: libFuzzer target for the packet decoders.  The first
 * input byte picks the link type (index into links[], modulo), the rest
 * is the frame.  Any frame must decode to some status without a crash,
 * an overread or undefined behaviour, and the result must be coherent:
 * the payload lies inside the frame, no longer than claimed.  Corpus:
 * tests/fuzz/corpus/packet/ (replayed by `make check`; the seeds are
 * tests/unit/test_packet.c's frames, PACKET_CORPUS_DIR).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packet/dec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {
	DEC_LINK_EN10MB, DEC_LINK_RAW,        DEC_LINK_IPV4, DEC_LINK_IPV6,
	DEC_LINK_LINUX_SLL, DEC_LINK_LINUX_SLL2, 12, 14,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int link = links[data[0] % (sizeof(links) / sizeof(links[0]))];
	size_t n = size - 1;
	/* an exact-size copy, so any overread is seen by ASAN */
	uint8_t *frame = malloc(n ? n : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 1, n);
	struct dec_pkt p;
	dec_packet(link, frame, (uint32_t)n, (uint32_t)n, &p);
	if ((p.st == DEC_OK) != (p.st_layer == DEC_L_NONE))
		abort();
	if (p.payload) {
		if (p.payload < frame || p.payload > frame + n ||
		    p.payload_len > (size_t)(frame + n - p.payload) ||
		    p.payload_len > p.payload_claimed)
			abort();
	} else if (p.payload_len != 0) {
		abort();
	}
	if (p.n_vlan > DEC_MAX_VLAN || p.tcp.n_sack > DEC_MAX_SACK)
		abort();
	char a[64], b[64];
	(void)dec_addr_str(&p.ip.src, a, sizeof(a));
	(void)dec_addr_str(&p.icmp.quote.ip.dst, b, sizeof(b));
	if (strlen(dec_layer_name(p.st_layer)) == 0 ||
	    strlen(dec_status_name(p.st)) == 0)
		abort();
	free(frame);
	return 0;
}
