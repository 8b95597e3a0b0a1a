/*
 * cursor.h: the one way packet bytes are read (STYLE.md section 6).
 *
 * A cursor is a window [p, end) over captured bytes.  Every read goes
 * through cur_*(): a read past the end returns 0 (or NULL) and sets the
 * sticky DEC_TRUNC, so a decoder can read a whole header and check `st`
 * once, as tcpdump's GET_* macros do but without setjmp.  Lengths are
 * compared, never added to pointers past `end`.  A header's own length
 * field opens a child cursor clamped to what was captured (cur_sub), like
 * tcpdump's nd_push_snaplen.  DEC_INVALID (a length below the minimum, a
 * loop that would not progress) is set by decoders with cur_invalid().
 */
#ifndef PROBE_PACKET_CURSOR_H
#define PROBE_PACKET_CURSOR_H

#include <stddef.h>
#include <stdint.h>

enum dec_status {
	DEC_OK = 0,
	DEC_TRUNC = 1,   /* the capture ends inside this header */
	DEC_INVALID = 2, /* the bytes are there but make no sense */
};

struct cur {
	const uint8_t *p, *end;
	enum dec_status st;
};

static inline struct cur cur_make(const uint8_t *p, size_t len)
{
	struct cur c = { p, p + len, DEC_OK };
	return c;
}

static inline size_t cur_left(const struct cur *c)
{
	return (size_t)(c->end - c->p);
}

static inline int cur_has(const struct cur *c, size_t n)
{
	return c->st == DEC_OK && cur_left(c) >= n;
}

static inline void cur_trunc(struct cur *c)
{
	if (c->st == DEC_OK)
		c->st = DEC_TRUNC;
	c->p = c->end;
}

static inline void cur_invalid(struct cur *c)
{
	c->st = DEC_INVALID;
	c->p = c->end;
}

static inline uint8_t cur_u8(struct cur *c)
{
	if (!cur_has(c, 1)) {
		cur_trunc(c);
		return 0;
	}
	return *c->p++;
}

static inline uint16_t cur_be16(struct cur *c)
{
	if (!cur_has(c, 2)) {
		cur_trunc(c);
		return 0;
	}
	uint16_t v = (uint16_t)((c->p[0] << 8) | c->p[1]);
	c->p += 2;
	return v;
}

static inline uint32_t cur_be32(struct cur *c)
{
	if (!cur_has(c, 4)) {
		cur_trunc(c);
		return 0;
	}
	uint32_t v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) |
		     ((uint32_t)c->p[2] << 8) | c->p[3];
	c->p += 4;
	return v;
}

static inline uint16_t cur_le16(struct cur *c)
{
	if (!cur_has(c, 2)) {
		cur_trunc(c);
		return 0;
	}
	uint16_t v = (uint16_t)(c->p[0] | (c->p[1] << 8));
	c->p += 2;
	return v;
}

static inline uint32_t cur_le32(struct cur *c)
{
	if (!cur_has(c, 4)) {
		cur_trunc(c);
		return 0;
	}
	uint32_t v = (uint32_t)c->p[0] | ((uint32_t)c->p[1] << 8) |
		     ((uint32_t)c->p[2] << 16) | ((uint32_t)c->p[3] << 24);
	c->p += 4;
	return v;
}

/* n bytes in place (borrowed from the capture), or NULL when short. */
static inline const uint8_t *cur_bytes(struct cur *c, size_t n)
{
	if (!cur_has(c, n)) {
		cur_trunc(c);
		return NULL;
	}
	const uint8_t *b = c->p;
	c->p += n;
	return b;
}

static inline void cur_skip(struct cur *c, size_t n)
{
	(void)cur_bytes(c, n);
}

/*
 * A child cursor over the next n bytes as claimed by a length field,
 * clamped to what was captured; the parent moves past them (or to its end).
 * The child starts DEC_OK; reading past its clamped end truncates it.
 */
static inline struct cur cur_sub(struct cur *c, size_t n)
{
	struct cur s = { c->p, c->p, c->st };
	if (c->st != DEC_OK)
		return s;
	size_t have = cur_left(c);
	s.end = c->p + (n < have ? n : have);
	c->p = s.end;
	return s;
}

#endif
