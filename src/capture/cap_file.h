/*
 * cap_file.h: reading a capture file (pcap or pcapng) for `probe analyze`,
 * one frame at a time, so memory does not grow with the file.
 *
 * Frames come from libpcap (pcap_fopen_offline_with_tstamp_precision,
 * nanosecond precision: microsecond files are scaled, nothing is lost).
 * libpcap 1.10 skips pcapng Decryption Secrets Blocks, so the TLS key log
 * a kept capture carries (DESIGN section 8, `keylog on`) is found by a
 * pass of our own over the pcapng block structure at open: a bounded
 * window (pread, 64 KiB) walks the blocks, every block length is checked
 * (a multiple of 4, at least 12, the trailing copy equal) in the byte
 * order of its section, and the secrets kept are capped.  That pass never
 * fails the open on damage: it stops there, and libpcap reports the same
 * damage at the frame where it lies, so the frames before it stay usable.
 *
 * Several interfaces in one pcapng: libpcap 1.10.3 reads a file only when
 * all its Interface Description Blocks have the link type of the first
 * one (and the same snapshot length); at a differing IDB it stops with
 * "an interface has a type N different from the type of the first
 * interface" (or "... snapshot length ...").  cap_file_open() sees a
 * differing link type during its own block walk and refuses the file up
 * front with PE_INVAL naming both interfaces and link types (rather than
 * analyzing the part before the IDB as if it were the whole capture); a
 * differing snapshot length comes back from cap_file_next() as the
 * damaged-file error, explained.  Files from probe itself (cap_pcapw.h)
 * meet both conditions.
 *
 * Only capture/ calls libpcap (STYLE.md section 1).
 */
#ifndef PROBE_CAPTURE_CAP_FILE_H
#define PROBE_CAPTURE_CAP_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Secrets kept from Decryption Secrets Blocks, in total (bytes). */
#define CAP_FILE_KEYLOG_MAX (1u << 20)
/* pcapng block type and secrets type of a TLS key log DSB. */
#define CAP_FILE_BT_DSB 0x0000000Au
#define CAP_FILE_SECRETS_TLS 0x544c534bu /* 'TLSK' */

struct cap_file; /* opaque */

/*
 * Open path (a pcap or a pcapng file) for reading.  NULL with err:
 * PE_NOTFOUND (no such file), PE_IO (unreadable: permissions, a
 * directory, a read error), PE_INVAL (not a capture file, an empty or
 * short one, or a pcapng whose interfaces differ in link type: see
 * above), PE_NOMEM.  Messages start with the path.
 */
struct cap_file *cap_file_open(const char *path, struct errbuf *err);

/*
 * The file's link type, as pcap_datalink() gives it (a DLT_ value: a
 * LINKTYPE_RAW file says DLT_RAW, 12 on Linux; packet/dec.h takes both).
 */
int cap_file_linktype(const struct cap_file *f);

/*
 * The next frame: 1 (one in *ts_ns, *data, *caplen, *len), 0 (the end of
 * the file), or a negative PE_* when the file is damaged (PE_INVAL: the
 * message names the 1-based frame number that could not be read and the
 * file offset near which reading stopped; the frames before it were
 * valid).  After an error every later call returns the same error.
 * *ts_ns is nanoseconds since the epoch; caplen <= len always holds (a
 * file claiming more captured than original bytes gets len = caplen).
 * *data is borrowed: valid until the next call or cap_file_close().
 */
int cap_file_next(struct cap_file *f, uint64_t *ts_ns, const uint8_t **data,
		  uint32_t *caplen, uint32_t *len, struct errbuf *err)
	PE_WARN_UNUSED;

/*
 * The TLS key log (NSS key log format text) from the file's pcapng
 * Decryption Secrets Blocks of type TLSK, in file order, concatenated
 * (a newline is added after a block whose text does not end with one),
 * NUL-terminated.  NULL when there is none (and always for classic pcap).
 * Borrowed: valid until cap_file_close().  At most CAP_FILE_KEYLOG_MAX
 * bytes: a block that would exceed it is left out whole, as is one that
 * holds a NUL byte; cap_file_keylog_dropped() counts them.
 */
const char *cap_file_keylog(const struct cap_file *f);

/* Number of TLSK blocks left out of cap_file_keylog() (cap, NUL bytes). */
unsigned cap_file_keylog_dropped(const struct cap_file *f);

/* Close the file and free everything (NULL is fine). */
void cap_file_close(struct cap_file *f);

#endif
