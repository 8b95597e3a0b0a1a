/*
 * test_cap_file.c: the pcapng writer (cap_pcapw) and the capture reader
 * (cap_file) against each other and against libpcap: what is written
 * reads back exactly (frames, ns timestamps, lengths, the key log of the
 * DSB), the file is 0600 whatever the umask, the sha256 and size are the
 * file's; classic pcap (written by pcap_dump) and a big-endian pcapng
 * read too; every truncation and every garbled byte of a file gives 0 or
 * an error, never a crash (make check runs this under ASan too); write
 * errors remove the partial file; libpcap's rule on mixed link types and
 * snapshot lengths gives a clear error.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <pcap/pcap.h>

#include "capture/cap_file.h"
#include "capture/cap_pcapw.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_cap_file.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *tpath(const char *name)
{
	static char p[8][128];
	static int i;
	i = (i + 1) % 8;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	uint8_t *b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void spit(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* The frames the round trip writes: odd lengths, comments, 2 interfaces. */
struct frame {
	int iface;
	uint64_t ts;
	uint32_t caplen, len;
	const char *comment;
};

static const struct frame frames[] = {
	{ 0, 1700000000123456789ull, 1, 1, NULL },
	{ 1, 1700000000123456790ull, 2, 2, "c" },
	{ 0, 1700000001000000000ull, 3, 3, "" },
	{ 1, 1700000001000000001ull, 5, 1500, "odd: 13 bytes" },
	{ 0, 4294967296ull * 1000000000ull + 7, 60, 60, NULL },
	{ 0, 1, 1514, 1514, "the evidence" },
	{ 1, 1700000002999999999ull, 67, 9000, NULL },
};
#define N_FRAMES (sizeof(frames) / sizeof(frames[0]))

static const char keylog_text[] =
	"CLIENT_HANDSHAKE_TRAFFIC_SECRET 0102 0a0b\n"
	"SERVER_HANDSHAKE_TRAFFIC_SECRET 0102 0c0d\n"
	"CLIENT_TRAFFIC_SECRET_0 0102 0e"; /* odd, no final newline */

static void payload(uint8_t *b, size_t n, size_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + seed);
}

/* Write the round-trip file at path; its sha256 and size. */
static void write_roundtrip(const char *path, uint8_t md[32],
			    uint64_t *bytes)
{
	struct errbuf e;
	mode_t old = umask(0);
	struct cap_pcapw *w = cap_pcapw_open(path, &e);
	umask(old);
	assert_non_null(w);
	assert_int_equal(cap_pcapw_iface(w, 1, 262144, "lo", &e), 0);
	assert_int_equal(cap_pcapw_secrets(w, keylog_text,
					   strlen(keylog_text), &e),
			 0);
	assert_int_equal(cap_pcapw_iface(w, 1, 262144, "eth0", &e), 1);
	static uint8_t buf[2000];
	for (size_t i = 0; i < N_FRAMES; i++) {
		payload(buf, frames[i].caplen, i);
		assert_int_equal(cap_pcapw_packet(w, frames[i].iface,
						  frames[i].ts, buf,
						  frames[i].caplen,
						  frames[i].len,
						  frames[i].comment, &e),
				 0);
	}
	/* refused without writing anything */
	assert_int_equal(cap_pcapw_packet(w, 2, 0, buf, 1, 1, NULL, &e),
			 PE_INVAL);
	assert_int_equal(cap_pcapw_packet(w, 0, 0, buf, 2, 1, NULL, &e),
			 PE_INVAL);
	assert_int_equal(cap_pcapw_close(w, md, bytes, &e), 0);
}

static void test_cap_file_roundtrip(void **state)
{
	(void)state;
	const char *path = tpath("rt.pcapng");
	uint8_t md[32];
	uint64_t bytes = 0;
	write_roundtrip(path, md, &bytes);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal((uint64_t)st.st_size, bytes);
	size_t n;
	uint8_t *b = slurp(path, &n);
	uint8_t want[32];
	unsigned wl = 0;
	assert_int_equal(EVP_Digest(b, n, want, &wl, EVP_sha256(), NULL), 1);
	assert_memory_equal(md, want, 32);
	assert_int_equal(n % 4, 0);
	free(b);

	struct errbuf e;
	struct cap_file *f = cap_file_open(path, &e);
	assert_non_null(f);
	assert_int_equal(cap_file_linktype(f), 1);
	const char *kl = cap_file_keylog(f);
	assert_non_null(kl);
	char want_kl[256];
	snprintf(want_kl, sizeof(want_kl), "%s\n", keylog_text);
	assert_string_equal(kl, want_kl);
	assert_int_equal(cap_file_keylog_dropped(f), 0);
	static uint8_t buf[2000];
	for (size_t i = 0; i < N_FRAMES; i++) {
		uint64_t ts;
		const uint8_t *d;
		uint32_t caplen, len;
		assert_int_equal(cap_file_next(f, &ts, &d, &caplen, &len, &e),
				 1);
		assert_true(ts == frames[i].ts);
		assert_int_equal(caplen, frames[i].caplen);
		assert_int_equal(len, frames[i].len);
		payload(buf, caplen, i);
		assert_memory_equal(d, buf, caplen);
	}
	uint64_t ts;
	const uint8_t *d;
	uint32_t caplen, len;
	assert_int_equal(cap_file_next(f, &ts, &d, &caplen, &len, &e), 0);
	assert_int_equal(cap_file_next(f, &ts, &d, &caplen, &len, &e), 0);
	cap_file_close(f);

	/* never overwrites */
	assert_null(cap_pcapw_open(path, &e));
	assert_non_null(strstr(e.msg, "File exists"));
}

/* A classic pcap written by libpcap's pcap_dump. */
static void write_classic(const char *path, unsigned prec)
{
	pcap_t *p = pcap_open_dead_with_tstamp_precision(1, 65535, prec);
	assert_non_null(p);
	pcap_dumper_t *dp = pcap_dump_open(p, path);
	assert_non_null(dp);
	uint8_t buf[100];
	for (int i = 0; i < 5; i++) {
		struct pcap_pkthdr h = { 0 };
		h.ts.tv_sec = 1700000000 + i;
		h.ts.tv_usec = prec == PCAP_TSTAMP_PRECISION_NANO
				       ? 123456789 + i
				       : 123456 + i;
		h.caplen = (bpf_u_int32)(41 + i);
		h.len = (bpf_u_int32)(41 + i * 2);
		payload(buf, h.caplen, (size_t)i);
		pcap_dump((u_char *)dp, &h, buf);
	}
	pcap_dump_close(dp);
	pcap_close(p);
}

static void test_cap_file_classic_pcap(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned prec;
		uint64_t frac;
	} cases[] = {
		{ "us.pcap", PCAP_TSTAMP_PRECISION_MICRO, 123456000 },
		{ "ns.pcap", PCAP_TSTAMP_PRECISION_NANO, 123456789 },
	};
	for (size_t c = 0; c < 2; c++) {
		const char *path = tpath(cases[c].name);
		write_classic(path, cases[c].prec);
		struct errbuf e;
		struct cap_file *f = cap_file_open(path, &e);
		assert_non_null(f);
		assert_int_equal(cap_file_linktype(f), 1);
		assert_null(cap_file_keylog(f));
		uint64_t ts;
		const uint8_t *d;
		uint32_t caplen, len;
		uint8_t buf[100];
		for (int i = 0; i < 5; i++) {
			assert_int_equal(cap_file_next(f, &ts, &d, &caplen,
						       &len, &e),
					 1);
			uint64_t step = cases[c].prec ==
						PCAP_TSTAMP_PRECISION_NANO
					? 1
					: 1000;
			assert_true(ts == (1700000000ull + (uint64_t)i) *
						  1000000000ull +
					  cases[c].frac + (uint64_t)i * step);
			assert_int_equal(caplen, 41 + i);
			assert_int_equal(len, 41 + i * 2);
			payload(buf, caplen, (size_t)i);
			assert_memory_equal(d, buf, caplen);
		}
		assert_int_equal(cap_file_next(f, &ts, &d, &caplen, &len, &e),
				 0);
		cap_file_close(f);
	}
}

/* Read everything; frames read must be a prefix of the original's. */
static int read_all(const char *path, size_t *nframes)
{
	struct errbuf e;
	e.msg[0] = '\0';
	*nframes = 0;
	struct cap_file *f = cap_file_open(path, &e);
	if (!f) {
		assert_true(e.msg[0] != '\0');
		return -100;
	}
	const char *kl = cap_file_keylog(f);
	if (kl)
		assert_true(strlen(kl) < CAP_FILE_KEYLOG_MAX);
	uint64_t ts;
	const uint8_t *d;
	uint32_t caplen, len;
	int r;
	while ((r = cap_file_next(f, &ts, &d, &caplen, &len, &e)) == 1) {
		assert_true(caplen <= len);
		if (caplen)
			assert_non_null(d);
		(*nframes)++;
	}
	if (r < 0) {
		assert_int_equal(r, PE_INVAL);
		assert_non_null(strstr(e.msg, "frame "));
		/* sticky */
		struct errbuf e2;
		assert_int_equal(cap_file_next(f, &ts, &d, &caplen, &len, &e2),
				 r);
		assert_string_equal(e.msg, e2.msg);
	}
	cap_file_close(f);
	return r;
}

static void damage_file(const char *src, const char *name)
{
	size_t n, got;
	uint8_t *b = slurp(src, &n);
	const char *path = tpath(name);
	int full = read_all(src, &got);
	assert_int_equal(full, 0);
	size_t all = got;
	/* every truncation: 0 (at a block boundary) or an error, and
	 * fewer frames than the whole file */
	for (size_t cut = 0; cut < n; cut++) {
		spit(path, b, cut);
		int r = read_all(path, &got);
		assert_true(r <= 0);
		assert_true(got < all); /* the last frame is cut at least */
	}
	/* every byte garbled, in two ways */
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) {
			uint8_t old = b[i];
			b[i] = k ? (uint8_t)(old ^ 0xff) : (uint8_t)(old + 1);
			spit(path, b, n);
			(void)read_all(path, &got);
			b[i] = old;
		}
	}
	free(b);
}

static void test_cap_file_damaged_files(void **state)
{
	(void)state;
	uint8_t md[32];
	uint64_t bytes;
	const char *ng = tpath("dmg.pcapng");
	write_roundtrip(ng, md, &bytes);
	damage_file(ng, "dmg-cut.pcapng");
	const char *pc = tpath("dmg.pcap");
	write_classic(pc, PCAP_TSTAMP_PRECISION_MICRO);
	damage_file(pc, "dmg-cut.pcap");

	/* a truncation inside a frame names that frame */
	size_t n, got;
	uint8_t *b = slurp(ng, &n);
	spit(tpath("cut.pcapng"), b, n - 2);
	struct errbuf e;
	struct cap_file *f = cap_file_open(tpath("cut.pcapng"), &e);
	assert_non_null(f);
	uint64_t ts;
	const uint8_t *d;
	uint32_t caplen, len;
	int r;
	got = 0;
	while ((r = cap_file_next(f, &ts, &d, &caplen, &len, &e)) == 1)
		got++;
	assert_int_equal(r, PE_INVAL);
	assert_int_equal(got, N_FRAMES - 1);
	char want[32];
	snprintf(want, sizeof(want), "frame %zu ", N_FRAMES);
	assert_non_null(strstr(e.msg, want));
	assert_non_null(strstr(e.msg, "offset"));
	cap_file_close(f);
	free(b);
}

static void test_cap_file_open_errors(void **state)
{
	(void)state;
	struct errbuf e;
	assert_null(cap_file_open(tpath("missing.pcap"), &e));
	assert_non_null(strstr(e.msg, "No such file"));
	assert_null(cap_file_open(dir, &e));
	assert_non_null(strstr(e.msg, "directory"));
	spit(tpath("empty.pcap"), (const uint8_t *)"", 0);
	assert_null(cap_file_open(tpath("empty.pcap"), &e));
	assert_non_null(strstr(e.msg, "not a capture file"));
	spit(tpath("text.pcap"), (const uint8_t *)"hello, world\n", 13);
	assert_null(cap_file_open(tpath("text.pcap"), &e));
	assert_non_null(strstr(e.msg, "not a pcap or pcapng file"));
	assert_non_null(strstr(e.msg, tpath("text.pcap")));
	if (geteuid() != 0) {
		spit(tpath("noread.pcap"), (const uint8_t *)"abcd", 4);
		assert_int_equal(chmod(tpath("noread.pcap"), 0), 0);
		assert_null(cap_file_open(tpath("noread.pcap"), &e));
		assert_non_null(strstr(e.msg, "Permission denied"));
	}
	assert_null(cap_pcapw_open(tpath("nodir/x.pcapng"), &e));
	assert_non_null(strstr(e.msg, "nodir/x.pcapng"));
}

/* Two interfaces differing in link type or snaplen (libpcap 1.10). */
static void write_mixed(const char *path, int lt2, uint32_t snap2)
{
	struct errbuf e;
	struct cap_pcapw *w = cap_pcapw_open(path, &e);
	assert_non_null(w);
	uint8_t d[60] = { 0 };
	assert_int_equal(cap_pcapw_iface(w, 1, 65535, "lo", &e), 0);
	assert_int_equal(cap_pcapw_packet(w, 0, 1, d, 60, 60, NULL, &e), 0);
	assert_int_equal(cap_pcapw_iface(w, lt2, snap2, "x", &e), 1);
	assert_int_equal(cap_pcapw_packet(w, 1, 2, d, 60, 60, NULL, &e), 0);
	assert_int_equal(cap_pcapw_close(w, NULL, NULL, &e), 0);
}

static void test_cap_file_mixed_interfaces(void **state)
{
	(void)state;
	struct errbuf e;
	write_mixed(tpath("mixlt.pcapng"), 113, 65535);
	assert_null(cap_file_open(tpath("mixlt.pcapng"), &e));
	assert_non_null(strstr(e.msg, "interface 1 of section 0 has link "
				      "type 113, the first one 1"));

	write_mixed(tpath("mixsnap.pcapng"), 1, 1500);
	struct cap_file *f = cap_file_open(tpath("mixsnap.pcapng"), &e);
	assert_non_null(f);
	uint64_t ts;
	const uint8_t *d;
	uint32_t caplen, len;
	assert_int_equal(cap_file_next(f, &ts, &d, &caplen, &len, &e), 1);
	assert_int_equal(cap_file_next(f, &ts, &d, &caplen, &len, &e),
			 PE_INVAL);
	assert_non_null(strstr(e.msg, "frame 2 "));
	assert_non_null(strstr(e.msg, "snapshot length"));
	cap_file_close(f);
}

/* Big-endian pcapng, by hand: SHB, IDB, DSB, EPB (libpcap and our walk). */
static size_t be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	return 4;
}

static void test_cap_file_big_endian(void **state)
{
	(void)state;
	uint8_t b[256];
	size_t o = 0;
	/* SHB */
	o += be32(b + o, 0x0A0D0D0A);
	o += be32(b + o, 28);
	o += be32(b + o, 0x1A2B3C4D);
	o += be32(b + o, 0x00010000);
	o += be32(b + o, 0xFFFFFFFF);
	o += be32(b + o, 0xFFFFFFFF);
	o += be32(b + o, 28);
	/* IDB: Ethernet, snaplen 0, no options (microseconds) */
	o += be32(b + o, 1);
	o += be32(b + o, 20);
	o += be32(b + o, 0x00010000);
	o += be32(b + o, 0);
	o += be32(b + o, 20);
	/* DSB: TLSK, 6 bytes + 2 padding */
	o += be32(b + o, 0x0A);
	o += be32(b + o, 28);
	o += be32(b + o, 0x544c534b);
	o += be32(b + o, 6);
	memcpy(b + o, "A B C\n\0\0", 8);
	o += 8;
	o += be32(b + o, 28);
	/* a DSB of another type: ignored */
	o += be32(b + o, 0x0A);
	o += be32(b + o, 24);
	o += be32(b + o, 0x57474b4c);
	o += be32(b + o, 4);
	memcpy(b + o, "WGKL", 4);
	o += 4;
	o += be32(b + o, 24);
	/* EPB: 3 bytes at 1.5 s */
	o += be32(b + o, 6);
	o += be32(b + o, 36);
	o += be32(b + o, 0);
	o += be32(b + o, 0);
	o += be32(b + o, 1500000);
	o += be32(b + o, 3);
	o += be32(b + o, 3);
	memcpy(b + o, "xyz\0", 4);
	o += 4;
	o += be32(b + o, 36);
	spit(tpath("be.pcapng"), b, o);

	struct errbuf e;
	struct cap_file *f = cap_file_open(tpath("be.pcapng"), &e);
	assert_non_null(f);
	assert_string_equal(cap_file_keylog(f), "A B C\n");
	uint64_t ts;
	const uint8_t *d;
	uint32_t caplen, len;
	assert_int_equal(cap_file_next(f, &ts, &d, &caplen, &len, &e), 1);
	assert_true(ts == 1500000000ull);
	assert_int_equal(caplen, 3);
	assert_memory_equal(d, "xyz", 3);
	assert_int_equal(cap_file_next(f, &ts, &d, &caplen, &len, &e), 0);
	cap_file_close(f);
}

static void test_cap_file_keylog_limits(void **state)
{
	(void)state;
	struct errbuf e;
	struct cap_pcapw *w = cap_pcapw_open(tpath("big.pcapng"), &e);
	assert_non_null(w);
	size_t big = 600 * 1024;
	char *k = malloc(CAP_FILE_KEYLOG_MAX);
	assert_non_null(k);
	memset(k, 'x', CAP_FILE_KEYLOG_MAX);
	assert_int_equal(cap_pcapw_secrets(w, k, CAP_FILE_KEYLOG_MAX, &e),
			 PE_LIMIT);
	assert_int_equal(cap_pcapw_secrets(w, "", 0, &e), 0);
	assert_int_equal(cap_pcapw_secrets(w, k, big, &e), 0);
	assert_int_equal(cap_pcapw_secrets(w, k, big, &e), 0); /* over */
	assert_int_equal(cap_pcapw_secrets(w, "a\0b\n", 4, &e), 0); /* NUL */
	assert_int_equal(cap_pcapw_secrets(w, "last\n", 5, &e), 0);
	assert_int_equal(cap_pcapw_iface(w, 1, 0, NULL, &e), 0);
	assert_int_equal(cap_pcapw_close(w, NULL, NULL, &e), 0);
	struct cap_file *f = cap_file_open(tpath("big.pcapng"), &e);
	assert_non_null(f);
	const char *kl = cap_file_keylog(f);
	assert_non_null(kl);
	assert_int_equal(strlen(kl), big + 1 + 5);
	assert_string_equal(kl + big + 1, "last\n");
	assert_int_equal(cap_file_keylog_dropped(f), 2);
	cap_file_close(f);
	free(k);
}

/* A write error (EFBIG here, ENOSPC alike) sticks and removes the file. */
static void test_cap_file_write_error(void **state)
{
	(void)state;
	struct errbuf e;
	const char *path = tpath("efbig.pcapng");
	struct cap_pcapw *w = cap_pcapw_open(path, &e);
	assert_non_null(w);
	assert_int_equal(cap_pcapw_iface(w, 1, 0, "lo", &e), 0);
	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100000;
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	static uint8_t d[1500];
	int r = 0;
	for (int i = 0; i < 200 && r == 0; i++)
		r = cap_pcapw_packet(w, 0, (uint64_t)i, d, sizeof(d),
				     sizeof(d), NULL, &e);
	assert_int_equal(r, PE_IO);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "write"));
	/* sticky */
	assert_int_equal(cap_pcapw_packet(w, 0, 0, d, 1, 1, NULL, &e), PE_IO);
	assert_int_equal(cap_pcapw_close(w, NULL, NULL, &e), PE_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_file_roundtrip),
		cmocka_unit_test(test_cap_file_classic_pcap),
		cmocka_unit_test(test_cap_file_damaged_files),
		cmocka_unit_test(test_cap_file_open_errors),
		cmocka_unit_test(test_cap_file_mixed_interfaces),
		cmocka_unit_test(test_cap_file_big_endian),
		cmocka_unit_test(test_cap_file_keylog_limits),
		cmocka_unit_test(test_cap_file_write_error),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
