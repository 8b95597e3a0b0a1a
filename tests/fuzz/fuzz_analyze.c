/*
 * fuzz_analyze.c: libFuzzer target for src/analyze/ (the analyzer behind
 * `probe analyze` and every run's findings).  The first input byte picks
 * the mode:
 *   even: the rest is a whole capture file, written to a memfd and opened
 *         by its /proc/self/fd path with cap_file (as fuzz_cap_file.c), and
 *         every frame goes through analyzer_packet;
 *   odd:  the rest is a sequence of raw frames, each behind a 4-byte
 *         header: link type (index into links[], modulo), the time step
 *         (low 7 bits, in 10 ms; top bit: the frame was cut by a snap
 *         length, len = caplen + 64), caplen (16 bits, big endian; clamped
 *         to what is left).  Each frame is an exact-size copy, so ASAN sees
 *         any overread.
 * The analyzer is keylog-free and streaming (connections handed over and
 * freed as they close), then analyzer_finish, analyzer_dns and
 * analyzer_findings.  Besides no crash, overread, leak or undefined
 * behaviour, the results must be coherent: every finding has a code, at
 * most AN_MAX_FRAMES frame numbers, ascending, each within 1..frames seen;
 * every connection's frames lie within the capture.
 * Corpus: tests/fuzz/corpus/analyze/ (replayed by `make check`): the small
 * tests/data/pcap captures as mode 0 inputs, and their frames as mode 1
 * inputs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "analyze/analyzer.h"
#include "capture/cap_file.h"

#define MAX_FRAMES 100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = { 1, 101, 113, 276 };

struct ctx {
	uint64_t frames;       /* frames given to the analyzer so far */
	uint64_t conns;
};

static void check_finding(const struct an_finding *f, uint64_t frames)
{
	if (!f->code || !f->code[0] || f->n_frames > AN_MAX_FRAMES ||
	    strnlen(f->detail, sizeof(f->detail)) == sizeof(f->detail))
		abort();
	for (size_t i = 0; i < f->n_frames; i++) {
		if (f->frames[i] == 0 || f->frames[i] > frames)
			abort();
		if (i && f->frames[i - 1] >= f->frames[i])
			abort();
	}
}

static void on_conn(const struct an_conn *c, void *vctx)
{
	struct ctx *x = vctx;
	x->conns++;
	if (c->first_frame == 0 || c->first_frame > c->last_frame ||
	    c->last_frame > x->frames)
		abort();
	if (!c->rec.src_addr || !c->rec.dst_addr)
		abort();
	for (size_t i = 0; i < c->n_ex; i++) {
		const struct an_exchange *e = &c->ex[i];
		if (e->req_frame > x->frames || e->resp_frame > x->frames ||
		    e->last_frame > x->frames)
			abort();
	}
	for (size_t i = 0; i < c->n_fi; i++)
		check_finding(&c->fi[i], x->frames);
}

static void finish(struct analyzer *a, struct ctx *x)
{
	if (analyzer_finish(a) < 0)
		abort(); /* only out of memory */
	size_t n;
	const struct an_dns *q = analyzer_dns(a, &n);
	for (size_t i = 0; i < n; i++) {
		if (q[i].query_frame == 0 || q[i].query_frame > x->frames ||
		    q[i].answer_frame > x->frames ||
		    strnlen(q[i].qname, sizeof(q[i].qname)) ==
			    sizeof(q[i].qname))
			abort();
	}
	static struct an_finding f[256];
	size_t nf = analyzer_findings(a, f, 256);
	for (size_t i = 0; i < nf; i++)
		check_finding(&f[i], x->frames);
	struct an_counts k;
	analyzer_counts(a, &k);
	if (k.frames != x->frames || k.cut > k.frames)
		abort();
}

static int frame(struct analyzer *a, struct ctx *x, int link,
		 const uint8_t *d, uint32_t caplen, uint32_t len, uint64_t ts)
{
	x->frames++;
	if (analyzer_packet(a, link, d, caplen, len, ts) < 0)
		abort(); /* only out of memory */
	return 0;
}

static void run_file(struct analyzer *a, struct ctx *x, const uint8_t *data,
		     size_t size)
{
	int fd = memfd_create("fuzz_analyze", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t r = write(fd, data + off, size - off);
		if (r <= 0)
			abort();
		off += (size_t)r;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct errbuf e;
	struct cap_file *f = cap_file_open(path, &e);
	if (f) {
		uint64_t ts;
		const uint8_t *d;
		uint32_t caplen, len;
		while (x->frames < MAX_FRAMES &&
		       cap_file_next(f, &ts, &d, &caplen, &len, &e) == 1)
			frame(a, x, cap_file_linktype(f), d, caplen, len, ts);
		cap_file_close(f);
	}
	close(fd);
}

static void run_frames(struct analyzer *a, struct ctx *x, const uint8_t *data,
		       size_t size)
{
	uint64_t ts = 1700000000ull * 1000000000ull;
	while (size >= 4 && x->frames < MAX_FRAMES) {
		int link = links[data[0] % (sizeof(links) / sizeof(links[0]))];
		ts += (uint64_t)(data[1] & 0x7f) * 10000000ull;
		bool cut = data[1] & 0x80;
		size_t n = (size_t)data[2] << 8 | data[3];
		data += 4;
		size -= 4;
		if (n > size)
			n = size;
		uint8_t *copy = malloc(n ? n : 1);
		if (!copy)
			abort();
		memcpy(copy, data, n);
		frame(a, x, link, copy, (uint32_t)n,
		      (uint32_t)n + (cut ? 64 : 0), ts);
		free(copy);
		data += n;
		size -= n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct ctx x = { 0, 0 };
	struct an_opts o = { .streaming = true, .on_conn = on_conn, .ctx = &x };
	struct analyzer *a = analyzer_new(&o);
	if (!a)
		abort();
	if (data[0] % 2 == 0)
		run_file(a, &x, data + 1, size - 1);
	else
		run_frames(a, &x, data + 1, size - 1);
	finish(a, &x);
	analyzer_free(a);
	return 0;
}
