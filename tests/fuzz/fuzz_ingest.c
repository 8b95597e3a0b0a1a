/*
 * fuzz_ingest.c: libFuzzer target for src/collect/ingest.c, the parser of
 * the run JSON that `probe collect` takes from other hosts.  Any input
 * must be refused with a message or give a record; a record must render
 * (render_run_json) to JSON that ingests again, never a crash, a leak, an
 * overread or undefined behaviour.  Corpus: tests/fuzz/corpus/ingest/
 * (replayed by `make check`; real `probe run --json` lines and a rich run
 * with certificates, reused connections, findings and thresholds).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/render_run.h"
#include "collect/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run_rec run, again;
	struct errbuf err;
	char *buf = NULL;
	size_t len = 0;

	run_rec_init(&run);
	if (ingest_run_json((const char *)data, size, &run, &err) < 0) {
		if (run.run_id || run.n_steps || run.pcap)
			abort(); /* a refused input leaves the record empty */
		return 0;
	}
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		abort();
	render_run_json(m, &run);
	if (fclose(m) != 0)
		abort();
	run_rec_init(&again);
	if (ingest_run_json(buf, len, &again, &err) < 0) {
		fprintf(stderr, "rendered JSON does not ingest: %s\n%s\n",
			err.msg, buf);
		abort();
	}
	run_rec_release(&again);
	run_rec_release(&run);
	free(buf);
	return 0;
}
