/*
 * fuzz_cap_file.c: libFuzzer target for src/capture/cap_file.c.  The
 * input is a whole capture file: written to a memfd and opened by its
 * /proc/self/fd path, so the real open path runs (libpcap's pcap and
 * pcapng readers, and our own pcapng block walk for Decryption Secrets
 * Blocks).  Any input must open or fail with a message, then give frames
 * and end with 0 or an error, never a crash, an overread or undefined
 * behaviour; frames must be coherent (caplen <= len) and the key log a
 * NUL-terminated string under the cap.  Corpus: tests/fuzz/corpus/cap_file/
 * (replayed by `make check`; tiny pcap and pcapng files, one with a DSB).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/cap_file.h"

#define MAX_FRAMES 100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_cap_file", MFD_CLOEXEC);
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
	e.msg[0] = '\0';
	struct cap_file *f = cap_file_open(path, &e);
	if (!f) {
		if (e.msg[0] == '\0')
			abort();
		close(fd);
		return 0;
	}
	const char *kl = cap_file_keylog(f);
	if (kl && (strlen(kl) == 0 || strlen(kl) >= CAP_FILE_KEYLOG_MAX))
		abort();
	uint64_t ts;
	const uint8_t *d;
	uint32_t caplen, len;
	int r, n = 0;
	volatile uint8_t sink = 0;
	while (n < MAX_FRAMES &&
	       (r = cap_file_next(f, &ts, &d, &caplen, &len, &e)) == 1) {
		if (caplen > len)
			abort();
		/* touch every byte, so an overread is seen by ASAN */
		for (uint32_t i = 0; i < caplen; i++)
			sink ^= d[i];
		n++;
	}
	(void)sink;
	cap_file_close(f);
	close(fd);
	return 0;
}
