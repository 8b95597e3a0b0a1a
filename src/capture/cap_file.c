/*
 * cap_file.c: a capture file, frame by frame, through libpcap; and the TLS
 * key log of its pcapng Decryption Secrets Blocks, which libpcap 1.10
 * skips, through a block walk of our own (cap_file.h says why and how).
 *
 * pcapng (draft-ietf-opsawg-pcapng): every block is
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +---------------------------------------------------------------+
 *   |                          Block Type                           |
 *   +---------------------------------------------------------------+
 *   |                      Block Total Length                       |
 *   +---------------------------------------------------------------+
 *   /                          Block Body                           /
 *   +---------------------------------------------------------------+
 *   |                      Block Total Length                       |
 *   +---------------------------------------------------------------+
 *
 * in the byte order of its section, which the Section Header Block says
 * with its Byte-Order Magic 0x1A2B3C4D (the SHB's type, 0x0A0D0D0A, reads
 * the same in both orders).  An IDB's body starts with LinkType (16 bits),
 * Reserved (16), SnapLen (32); a DSB's with Secrets Type (32) and Secrets
 * Length (32), then the secrets, padded to 32 bits, then options.
 *
 * The walk reads through a 64 KiB window (pread, so libpcap's own stream
 * position is not disturbed) and every field through packet/cursor.h.  A
 * block it cannot make sense of ends the walk, not the open: libpcap will
 * say at which frame the file is damaged.
 */
#include "capture/cap_file.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "packet/cursor.h"

#define WALK_WINDOW (64u * 1024)

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define SHB_BOM 0x1A2B3C4Du

struct cap_file {
	pcap_t *p;
	char *path;
	int linktype;
	uint64_t frame;         /* frames returned so far */
	int err_code;           /* sticky damaged-file error */
	struct errbuf err_msg;
	bool eof;
	char *keylog;           /* NUL-terminated, or NULL */
	size_t keylog_len;
	unsigned keylog_dropped;
};

/* The bounded window the block walk reads through. */
struct walk {
	int fd;
	uint64_t size;
	uint64_t win_off;
	size_t win_len;
	uint8_t win[WALK_WINDOW];
};

/* Read up to n bytes at off into dst; the count read (short at EOF). */
static size_t pread_full(int fd, void *dst, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (uint8_t *)dst + got, n - got,
				  (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* n (<= the window) bytes at off, or NULL when the file is shorter. */
static const uint8_t *walk_get(struct walk *w, uint64_t off, size_t n)
{
	if (n > WALK_WINDOW || off > w->size || w->size - off < n)
		return NULL;
	if (off >= w->win_off && off - w->win_off <= w->win_len &&
	    w->win_len - (off - w->win_off) >= n)
		return w->win + (off - w->win_off);
	w->win_off = off;
	w->win_len = pread_full(w->fd, w->win, WALK_WINDOW, off);
	if (w->win_len < n)
		return NULL;
	return w->win;
}

static uint32_t rd32(struct cur *c, bool big)
{
	return big ? cur_be32(c) : cur_le32(c);
}

static uint16_t rd16(struct cur *c, bool big)
{
	return big ? cur_be16(c) : cur_le16(c);
}

/*
 * Append one TLSK block's secrets (slen bytes at off) to the key log, or
 * count it dropped.  0, or PE_NOMEM.
 */
static int keylog_add(struct cap_file *f, struct walk *w, uint64_t off,
		      uint32_t slen)
{
	if (slen == 0)
		return 0;
	/* +1 for a newline we may add, +1 for the NUL */
	if ((size_t)slen + 2 > CAP_FILE_KEYLOG_MAX - f->keylog_len) {
		f->keylog_dropped++;
		return 0;
	}
	char *nb = realloc(f->keylog, f->keylog_len + slen + 2);
	if (!nb)
		return PE_NOMEM;
	f->keylog = nb;
	char *dst = nb + f->keylog_len;
	if (pread_full(w->fd, dst, slen, off) != slen ||
	    memchr(dst, '\0', slen)) {
		f->keylog_dropped++;
		nb[f->keylog_len] = '\0';
		return 0;
	}
	f->keylog_len += slen;
	if (nb[f->keylog_len - 1] != '\n')
		nb[f->keylog_len++] = '\n';
	nb[f->keylog_len] = '\0';
	return 0;
}

/*
 * Walk the pcapng blocks: collect TLSK secrets, and refuse interfaces of
 * differing link types (cap_file.h).  0, PE_INVAL (link types), PE_NOMEM.
 * Damage ends the walk quietly.
 */
static int walk_blocks(struct cap_file *f, int fd, uint64_t size,
		       struct errbuf *err)
{
	struct walk *w = malloc(sizeof(*w));
	if (!w)
		return errbuf_set(err, PE_NOMEM, "%s: out of memory", f->path);
	w->fd = fd;
	w->size = size;
	w->win_off = 0;
	w->win_len = 0;

	int ret = 0;
	int first_link = -1;
	uint32_t section = 0, if_in_section = 0;
	bool big = false, have_shb = false;
	uint64_t off = 0;
	for (;;) {
		const uint8_t *h = walk_get(w, off, 12);
		if (!h)
			break;
		struct cur c = cur_make(h, 12);
		const uint8_t *tb = cur_bytes(&c, 4);
		if (tb && tb[0] == 0x0A && tb[1] == 0x0D && tb[2] == 0x0D &&
		    tb[3] == 0x0A) {
			/* a new section: its byte order from its BOM */
			struct cur bc = cur_make(h + 8, 4);
			uint32_t bom = cur_be32(&bc);
			if (bom == SHB_BOM)
				big = true;
			else if (bom == 0x4D3C2B1Au)
				big = false;
			else
				break;
			if (have_shb)
				section++;
			have_shb = true;
			if_in_section = 0;
		} else if (!have_shb) {
			break;
		}
		c = cur_make(h, 12);
		uint32_t type = rd32(&c, big);
		uint32_t blen = rd32(&c, big);
		if (c.st != DEC_OK || blen < 12 || blen % 4 != 0 ||
		    blen > size - off)
			break;
		const uint8_t *t = walk_get(w, off + blen - 4, 4);
		if (!t)
			break;
		struct cur tc = cur_make(t, 4);
		if (rd32(&tc, big) != blen)
			break;
		uint64_t body = off + 8;
		uint32_t body_len = blen - 12;
		if (type == BT_SHB && body_len < 16)
			break;
		if (type == BT_IDB) {
			const uint8_t *b = body_len >= 8 ? walk_get(w, body, 8)
							 : NULL;
			if (!b)
				break;
			struct cur ic = cur_make(b, 8);
			int lt = rd16(&ic, big);
			if (first_link < 0) {
				first_link = lt;
			} else if (lt != first_link) {
				ret = errbuf_set(err, PE_INVAL,
					"%s: interface %u of section %u has "
					"link type %d, the first one %d: "
					"libpcap 1.10 reads only pcapng files "
					"whose interfaces share one link type "
					"(split it by interface first)",
					f->path, if_in_section, section, lt,
					first_link);
				break;
			}
			if_in_section++;
		} else if (type == CAP_FILE_BT_DSB) {
			const uint8_t *b = body_len >= 8 ? walk_get(w, body, 8)
							 : NULL;
			if (!b)
				break;
			struct cur dc = cur_make(b, 8);
			uint32_t stype = rd32(&dc, big);
			uint32_t slen = rd32(&dc, big);
			if (slen > body_len - 8)
				break;
			if (stype == CAP_FILE_SECRETS_TLS) {
				ret = keylog_add(f, w, body + 8, slen);
				if (ret < 0) {
					errbuf_set(err, ret,
						   "%s: out of memory",
						   f->path);
					break;
				}
			}
		}
		off += blen;
	}
	free(w);
	return ret;
}

struct cap_file *cap_file_open(const char *path, struct errbuf *err)
{
	struct cap_file *f = calloc(1, sizeof(*f));
	char pe[PCAP_ERRBUF_SIZE] = "";
	FILE *fp = NULL;
	int fd = -1;
	if (!f || !(f->path = strdup(path))) {
		errbuf_set(err, PE_NOMEM, "%s: out of memory", path);
		goto fail;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errbuf_set(err, errno == ENOENT ? PE_NOTFOUND : PE_IO,
			   "%s: %s", path, strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		errbuf_set(err, PE_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		errbuf_set(err, PE_IO, "%s: is a directory", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		errbuf_set(err, PE_INVAL, "%s: not a regular file", path);
		goto fail;
	}
	uint8_t magic[4];
	size_t got = pread_full(fd, magic, sizeof(magic), 0);
	if (got < sizeof(magic)) {
		errbuf_set(err, PE_INVAL,
			   "%s: not a capture file (%zu bytes long)", path,
			   got);
		goto fail;
	}
	bool pcapng = magic[0] == 0x0A && magic[1] == 0x0D &&
		      magic[2] == 0x0D && magic[3] == 0x0A;
	fp = fdopen(fd, "rb");
	if (!fp) {
		errbuf_set(err, PE_NOMEM, "%s: %s", path, strerror(errno));
		goto fail;
	}
	fd = -1; /* fp owns it now */
	f->p = pcap_fopen_offline_with_tstamp_precision(
		fp, PCAP_TSTAMP_PRECISION_NANO, pe);
	if (!f->p) {
		if (strstr(pe, "unknown file format"))
			errbuf_set(err, PE_INVAL,
				   "%s: not a pcap or pcapng file (it starts "
				   "%02x %02x %02x %02x)",
				   path, magic[0], magic[1], magic[2],
				   magic[3]);
		else
			errbuf_set(err, PE_INVAL, "%s: %s", path, pe);
		goto fail;
	}
	fp = NULL; /* f->p owns it now */
	f->linktype = pcap_datalink(f->p);
	if (pcapng &&
	    walk_blocks(f, fileno(pcap_file(f->p)), (uint64_t)st.st_size,
			err) < 0)
		goto fail;
	return f;
fail:
	if (fp)
		fclose(fp);
	if (fd >= 0)
		close(fd);
	cap_file_close(f);
	return NULL;
}

int cap_file_linktype(const struct cap_file *f)
{
	return f->linktype;
}

/* The damaged-file error, kept for later calls. */
static int damaged(struct cap_file *f, struct errbuf *err, const char *what)
{
	FILE *fp = pcap_file(f->p);
	long long pos = fp ? (long long)ftello(fp) : -1;
	const char *hint = "";
	if (strstr(what, "different from"))
		hint = " (libpcap 1.10 reads only pcapng files whose "
		       "interfaces share link type and snapshot length)";
	f->err_code = errbuf_set(&f->err_msg, PE_INVAL,
				 "%s: frame %llu unreadable (file damaged "
				 "before offset %lld): %s%s",
				 f->path, (unsigned long long)f->frame + 1,
				 pos, what, hint);
	if (err)
		*err = f->err_msg;
	return f->err_code;
}

int cap_file_next(struct cap_file *f, uint64_t *ts_ns, const uint8_t **data,
		  uint32_t *caplen, uint32_t *len, struct errbuf *err)
{
	if (f->err_code) {
		if (err)
			*err = f->err_msg;
		return f->err_code;
	}
	if (f->eof)
		return 0;
	struct pcap_pkthdr *h;
	const u_char *d;
	int r = pcap_next_ex(f->p, &h, &d);
	if (r == PCAP_ERROR_BREAK) {
		f->eof = true;
		return 0;
	}
	if (r != 1)
		return damaged(f, err, pcap_geterr(f->p));
	if (h->ts.tv_sec < 0 || h->ts.tv_usec < 0 ||
	    h->ts.tv_usec >= 1000000000 ||
	    (uint64_t)h->ts.tv_sec > UINT64_MAX / 1000000000u - 1)
		return damaged(f, err, "timestamp out of range");
	f->frame++;
	*ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u +
		 (uint64_t)h->ts.tv_usec;
	*data = d;
	*caplen = h->caplen;
	*len = h->len > h->caplen ? h->len : h->caplen;
	return 1;
}

const char *cap_file_keylog(const struct cap_file *f)
{
	return f->keylog_len ? f->keylog : NULL;
}

unsigned cap_file_keylog_dropped(const struct cap_file *f)
{
	return f->keylog_dropped;
}

void cap_file_close(struct cap_file *f)
{
	if (!f)
		return;
	if (f->p)
		pcap_close(f->p);
	if (f->keylog)
		explicit_bzero(f->keylog, f->keylog_len);
	free(f->keylog);
	free(f->path);
	free(f);
}
