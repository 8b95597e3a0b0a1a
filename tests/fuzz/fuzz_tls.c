/*
 * fuzz_tls.c: libFuzzer target for the TLS record stream parser.  Input:
 * byte 0 seeds the chunk sizes (a small LCG), byte 1 picks where a gap is
 * declared (0: none), the rest is one direction's stream, fed in chunks of
 * 1..64 bytes with increasing frame numbers.  Checks the counters and the
 * frame attribution of every record.  Corpus: tests/fuzz/corpus/tls/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/dec_tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dec_tls_stream st;

static void on_record(const struct dec_tls_record *r, void *ctx)
{
	uint64_t *frame = ctx;
	if (r->first_frame > r->last_frame || r->last_frame != *frame ||
	    r->type < 20 || r->type > 24 || r->length > DEC_TLS_MAX_LEN ||
	    r->n_hs > DEC_TLS_MAX_HS || strlen(r->ch.sni) > DEC_TLS_NAME_MAX ||
	    strlen(r->ch.alpn) > DEC_TLS_NAME_MAX ||
	    r->ch.n_versions > DEC_TLS_MAX_VERSIONS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint32_t seed = data[0];
	size_t gap_at = data[1];
	data += 2;
	size -= 2;
	dec_tls_stream_init(&st);
	uint64_t frame = 0;
	size_t off = 0;
	while (off < size) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 1 + (seed >> 16) % 64;
		if (n > size - off)
			n = size - off;
		frame++;
		if (gap_at && frame == gap_at)
			dec_tls_stream_gap(&st);
		uint64_t recs = st.records;
		dec_tls_stream_feed(&st, data + off, n, frame, frame * 1000,
				    on_record, &frame);
		if (st.records < recs)
			abort();
		off += n;
	}
	dec_tls_stream_end(&st);
	return 0;
}
