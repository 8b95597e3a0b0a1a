/*
 * cap_pcapw.h: writing a pcapng file (a run's kept capture, DESIGN
 * section 8): interfaces with nanosecond timestamps, the run's TLS
 * secrets as a Decryption Secrets Block so Wireshark decrypts the file
 * with nothing else, and packets with optional comments (the evidence
 * of a finding).
 *
 * Hand-written: libpcap 1.10 writes only classic pcap (pcap_dump), and
 * Debian 12 packages no pcapng-writing C library (LightPcapNg and
 * wiretap's writer are not packaged as libraries), so the few blocks we
 * need are built here.  The file is little-endian whatever the host, so
 * the same packets give the same bytes (and sha256) everywhere.
 *
 * The file is created exclusively (O_EXCL: an existing file is never
 * overwritten), mode 0600 whatever the umask (it can hold TLS secrets).
 * Writes are buffered; the first error sticks: every later call returns
 * it, and cap_pcapw_close() then removes the partial file.  Errors name
 * the path (ENOSPC is PE_IO "...: No space left on device").
 *
 * libpcap 1.10 reads back only files whose interfaces all have the same
 * link type and snapshot length (cap_file.h): give every interface the
 * same ones when the file is for `probe analyze`.
 */
#ifndef PROBE_CAPTURE_CAP_PCAPW_H
#define PROBE_CAPTURE_CAP_PCAPW_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CAP_PCAPW_MAX_IFACES 64
#define CAP_PCAPW_MAX_CAPLEN (256u * 1024)

struct cap_pcapw; /* opaque */

/*
 * Create path and write the Section Header Block (shb_userappl "probe").
 * NULL with err: PE_IO (exists, no such directory, permissions, ...),
 * PE_NOMEM.
 */
struct cap_pcapw *cap_pcapw_open(const char *path, struct errbuf *err);

/*
 * Add an Interface Description Block: linktype as pcap_datalink() gives
 * it (DLT_RAW is stored as LINKTYPE_RAW; the other DLT_ values we capture
 * are their LINKTYPE_ values), snaplen (0: unlimited), name (if_name;
 * NULL for none), if_tsresol 9 (nanoseconds).  The interface id (>= 0,
 * counting from 0 in call order), or PE_INVAL, PE_LIMIT
 * (CAP_PCAPW_MAX_IFACES), PE_IO, PE_NOMEM.
 */
int cap_pcapw_iface(struct cap_pcapw *w, int linktype, uint32_t snaplen,
		    const char *name, struct errbuf *err) PE_WARN_UNUSED;

/*
 * Add a Decryption Secrets Block of type TLSK holding keylog[0..len) (NSS
 * key log text).  It must precede the packets it decrypts.  len 0 writes
 * nothing; more than CAP_FILE_KEYLOG_MAX (cap_file.h, what the reader
 * keeps) is PE_LIMIT.  0, or PE_LIMIT, PE_IO.
 */
int cap_pcapw_secrets(struct cap_pcapw *w, const char *keylog, size_t len,
		      struct errbuf *err) PE_WARN_UNUSED;

/*
 * Add an Enhanced Packet Block: caplen bytes of data (a packet of len
 * bytes on the wire) seen at ts_ns (ns since the epoch) on interface
 * iface, with an opt_comment when comment is non-NULL (UTF-8 text, at
 * most 65535 bytes).  PE_INVAL: unknown interface, caplen > len, caplen
 * above the interface's snaplen or CAP_PCAPW_MAX_CAPLEN, comment too
 * long.  Else 0, or PE_IO.
 */
int cap_pcapw_packet(struct cap_pcapw *w, int iface, uint64_t ts_ns,
		     const uint8_t *data, uint32_t caplen, uint32_t len,
		     const char *comment, struct errbuf *err) PE_WARN_UNUSED;

/*
 * Flush, fsync and close; then free w (always, even on error).  On
 * success 0, the sha256 of the file's bytes in sha256[] and its size in
 * *bytes (either may be NULL).  On any error now or earlier (the first
 * one is returned) the partial file is removed.
 */
int cap_pcapw_close(struct cap_pcapw *w, uint8_t sha256[32], uint64_t *bytes,
		    struct errbuf *err) PE_WARN_UNUSED;

#endif
