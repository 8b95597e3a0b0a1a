/*
 * cap_pcapw.c: a pcapng writer (draft-ietf-opsawg-pcapng), by hand
 * because libpcap writes only classic pcap and no Debian library writes
 * pcapng (cap_pcapw.h).  Four block types, all little-endian:
 *
 *   SHB 0x0A0D0D0A  BOM 0x1A2B3C4D, version 1.0, section length -1
 *                   (unknown), shb_userappl (4) "probe"
 *   IDB 0x00000001  LinkType, reserved, SnapLen; if_name (2),
 *                   if_tsresol (9) = 9: timestamps in nanoseconds
 *   DSB 0x0000000A  Secrets Type 'TLSK', Secrets Length, the key log
 *   EPB 0x00000006  Interface ID, Timestamp (high, low), Captured and
 *                   Original Packet Length, the data; opt_comment (1)
 *
 * each framed by its Block Total Length (twice), bodies and options
 * padded to 32 bits, options closed by opt_endofopt.  A block is built
 * in the output buffer when it fits, else written field by field through
 * the same buffer; the sha256 (OpenSSL EVP) is taken over exactly the
 * bytes handed to write(2), so it is the file's.
 */
#include "capture/cap_pcapw.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pcap/dlt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/cap_file.h"

#define PCAPW_BUF (64u * 1024)

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define LINKTYPE_RAW 101

#define OPT_ENDOFOPT 0
#define OPT_COMMENT 1
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_TSRESOL 9

struct cap_pcapw {
	int fd;
	char *path;
	int failed;             /* first error (sticky), 0 when none */
	struct errbuf fail_msg;
	EVP_MD_CTX *md;
	uint64_t bytes;         /* handed to write(2) so far */
	int n_ifaces;
	uint32_t snaplen[CAP_PCAPW_MAX_IFACES];
	size_t used;
	uint8_t buf[PCAPW_BUF];
};

/* Record the first error; return it (or the earlier one). */
static int fail(struct cap_pcapw *w, struct errbuf *err, int code,
		const char *what, int e)
{
	if (!w->failed) {
		w->failed = code;
		errbuf_set(&w->fail_msg, code, "%s: %s: %s", w->path, what,
			   strerror(e));
	}
	if (err)
		*err = w->fail_msg;
	return w->failed;
}

static int flush(struct cap_pcapw *w, struct errbuf *err)
{
	if (w->failed)
		return fail(w, err, w->failed, "", 0);
	if (EVP_DigestUpdate(w->md, w->buf, w->used) != 1)
		return fail(w, err, PE_NOMEM, "sha256", ENOMEM);
	size_t off = 0;
	while (off < w->used) {
		ssize_t r = write(w->fd, w->buf + off, w->used - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail(w, err, PE_IO, "write", errno);
		if (r == 0)
			return fail(w, err, PE_IO, "write", EIO);
		off += (size_t)r;
	}
	w->bytes += w->used;
	w->used = 0;
	return 0;
}

static int put(struct cap_pcapw *w, const void *p, size_t n,
	       struct errbuf *err)
{
	const uint8_t *s = p;
	while (n > 0) {
		if (w->used == PCAPW_BUF) {
			int ret = flush(w, err);
			if (ret < 0)
				return ret;
		}
		size_t k = PCAPW_BUF - w->used;
		if (k > n)
			k = n;
		memcpy(w->buf + w->used, s, k);
		w->used += k;
		s += k;
		n -= k;
	}
	return 0;
}

static int put32(struct cap_pcapw *w, uint32_t v, struct errbuf *err)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };
	return put(w, b, 4, err);
}

static int put16(struct cap_pcapw *w, uint16_t v, struct errbuf *err)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	return put(w, b, 2, err);
}

static size_t pad4(size_t n)
{
	return (4 - n % 4) % 4;
}

/* n bytes and their padding to 32 bits. */
static int put_padded(struct cap_pcapw *w, const void *p, size_t n,
		      struct errbuf *err)
{
	static const uint8_t zero[4];
	int ret = put(w, p, n, err);
	return ret < 0 ? ret : put(w, zero, pad4(n), err);
}

/* An option's size in the file (header, value, padding). */
static size_t opt_size(size_t n)
{
	return 4 + n + pad4(n);
}

static int put_opt(struct cap_pcapw *w, uint16_t code, const void *v,
		   size_t n, struct errbuf *err)
{
	int ret = put16(w, code, err);
	if (ret == 0)
		ret = put16(w, (uint16_t)n, err);
	return ret < 0 ? ret : put_padded(w, v, n, err);
}

static int put_endofopt(struct cap_pcapw *w, struct errbuf *err)
{
	return put32(w, OPT_ENDOFOPT, err);
}

struct cap_pcapw *cap_pcapw_open(const char *path, struct errbuf *err)
{
	struct cap_pcapw *w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path)) || !(w->md = EVP_MD_CTX_new())) {
		errbuf_set(err, PE_NOMEM, "%s: out of memory", path);
		goto fail_free;
	}
	if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
		errbuf_set(err, PE_NOMEM, "%s: sha256 init failed", path);
		goto fail_free;
	}
	w->fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		errbuf_set(err, PE_IO, "%s: %s", path, strerror(errno));
		goto fail_free;
	}
	/* the umask can only narrow 0600, but say it outright */
	if (fchmod(w->fd, 0600) < 0) {
		errbuf_set(err, PE_IO, "%s: fchmod: %s", path,
			   strerror(errno));
		goto fail_unlink;
	}
	static const char appl[] = "probe";
	uint32_t blen = 28 + (uint32_t)opt_size(sizeof(appl) - 1) + 4;
	if (put32(w, BT_SHB, err) || put32(w, blen, err) ||
	    put32(w, 0x1A2B3C4Du, err) || put16(w, 1, err) ||
	    put16(w, 0, err) || put32(w, 0xFFFFFFFFu, err) ||
	    put32(w, 0xFFFFFFFFu, err) ||
	    put_opt(w, OPT_SHB_USERAPPL, appl, sizeof(appl) - 1, err) ||
	    put_endofopt(w, err) || put32(w, blen, err))
		goto fail_unlink; /* cannot fail: the buffer is empty */
	return w;
fail_unlink:
	close(w->fd);
	unlink(path);
fail_free:
	if (w) {
		EVP_MD_CTX_free(w->md);
		free(w->path);
	}
	free(w);
	return NULL;
}

int cap_pcapw_iface(struct cap_pcapw *w, int linktype, uint32_t snaplen,
		    const char *name, struct errbuf *err)
{
	if (w->failed)
		return fail(w, err, w->failed, "", 0);
	if (linktype == DLT_RAW)
		linktype = LINKTYPE_RAW;
	if (linktype < 0 || linktype > 0xFFFF)
		return errbuf_set(err, PE_INVAL, "%s: link type %d", w->path,
				  linktype);
	if (w->n_ifaces >= CAP_PCAPW_MAX_IFACES)
		return errbuf_set(err, PE_LIMIT, "%s: more than %d interfaces",
				  w->path, CAP_PCAPW_MAX_IFACES);
	size_t nlen = name ? strlen(name) : 0;
	if (nlen > 255)
		return errbuf_set(err, PE_INVAL,
				  "%s: interface name too long", w->path);
	static const uint8_t tsresol = 9;
	uint32_t blen = 20 + (nlen ? (uint32_t)opt_size(nlen) : 0) +
			(uint32_t)opt_size(1) + 4;
	int ret = put32(w, BT_IDB, err);
	if (!ret)
		ret = put32(w, blen, err);
	if (!ret)
		ret = put16(w, (uint16_t)linktype, err);
	if (!ret)
		ret = put16(w, 0, err);
	if (!ret)
		ret = put32(w, snaplen, err);
	if (!ret && nlen)
		ret = put_opt(w, OPT_IF_NAME, name, nlen, err);
	if (!ret)
		ret = put_opt(w, OPT_IF_TSRESOL, &tsresol, 1, err);
	if (!ret)
		ret = put_endofopt(w, err);
	if (!ret)
		ret = put32(w, blen, err);
	if (ret < 0)
		return ret;
	w->snaplen[w->n_ifaces] = snaplen;
	return w->n_ifaces++;
}

int cap_pcapw_secrets(struct cap_pcapw *w, const char *keylog, size_t len,
		      struct errbuf *err)
{
	if (w->failed)
		return fail(w, err, w->failed, "", 0);
	if (len == 0)
		return 0;
	if (len > CAP_FILE_KEYLOG_MAX - 2)
		return errbuf_set(err, PE_LIMIT,
				  "%s: key log of %zu bytes (at most %u)",
				  w->path, len, CAP_FILE_KEYLOG_MAX - 2);
	uint32_t blen = 20 + (uint32_t)(len + pad4(len));
	int ret = put32(w, CAP_FILE_BT_DSB, err);
	if (!ret)
		ret = put32(w, blen, err);
	if (!ret)
		ret = put32(w, CAP_FILE_SECRETS_TLS, err);
	if (!ret)
		ret = put32(w, (uint32_t)len, err);
	if (!ret)
		ret = put_padded(w, keylog, len, err);
	if (!ret)
		ret = put32(w, blen, err);
	return ret;
}

int cap_pcapw_packet(struct cap_pcapw *w, int iface, uint64_t ts_ns,
		     const uint8_t *data, uint32_t caplen, uint32_t len,
		     const char *comment, struct errbuf *err)
{
	if (w->failed)
		return fail(w, err, w->failed, "", 0);
	if (iface < 0 || iface >= w->n_ifaces)
		return errbuf_set(err, PE_INVAL, "%s: no interface %d",
				  w->path, iface);
	if (caplen > len || caplen > CAP_PCAPW_MAX_CAPLEN ||
	    (w->snaplen[iface] && caplen > w->snaplen[iface]))
		return errbuf_set(err, PE_INVAL,
				  "%s: captured length %u (packet %u bytes, "
				  "snaplen %u)",
				  w->path, caplen, len, w->snaplen[iface]);
	size_t clen = comment ? strlen(comment) : 0;
	if (clen > 0xFFFF)
		return errbuf_set(err, PE_INVAL, "%s: comment too long",
				  w->path);
	uint32_t blen = 32 + caplen + (uint32_t)pad4(caplen) +
			(comment ? (uint32_t)opt_size(clen) + 4 : 0);
	int ret = put32(w, BT_EPB, err);
	if (!ret)
		ret = put32(w, blen, err);
	if (!ret)
		ret = put32(w, (uint32_t)iface, err);
	if (!ret)
		ret = put32(w, (uint32_t)(ts_ns >> 32), err);
	if (!ret)
		ret = put32(w, (uint32_t)ts_ns, err);
	if (!ret)
		ret = put32(w, caplen, err);
	if (!ret)
		ret = put32(w, len, err);
	if (!ret)
		ret = put_padded(w, data, caplen, err);
	if (!ret && comment)
		ret = put_opt(w, OPT_COMMENT, comment, clen, err);
	if (!ret && comment)
		ret = put_endofopt(w, err);
	if (!ret)
		ret = put32(w, blen, err);
	return ret;
}

int cap_pcapw_close(struct cap_pcapw *w, uint8_t sha256[32], uint64_t *bytes,
		    struct errbuf *err)
{
	int ret = flush(w, err);
	if (ret == 0 && fsync(w->fd) < 0)
		ret = fail(w, err, PE_IO, "fsync", errno);
	if (close(w->fd) < 0 && ret == 0)
		ret = fail(w, err, PE_IO, "close", errno);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	if (ret == 0 && (EVP_DigestFinal_ex(w->md, md, &md_len) != 1 ||
			 md_len != 32))
		ret = fail(w, err, PE_NOMEM, "sha256", ENOMEM);
	if (ret < 0) {
		unlink(w->path);
	} else {
		if (sha256)
			memcpy(sha256, md, 32);
		if (bytes)
			*bytes = w->bytes;
	}
	EVP_MD_CTX_free(w->md);
	free(w->path);
	free(w);
	return ret;
}
