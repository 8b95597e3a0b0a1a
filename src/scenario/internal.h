/*
 * internal.h: what the scenario module's files share (lexer tokens,
 * diagnostics helpers).  Not for use outside src/scenario/.
 */
#ifndef PROBE_SCENARIO_INTERNAL_H
#define PROBE_SCENARIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "scenario/scn_parse.h"

/* A piece of a word: words are runs of adjacent pieces, as in a shell. */
enum scn_piece_kind {
	SCN_PIECE_BARE,   /* unquoted text */
	SCN_PIECE_QUOTED, /* text from '...' or "..." */
	SCN_PIECE_VAR,    /* ${NAME}, quoted or not */
};

struct scn_piece {
	enum scn_piece_kind kind;
	char *text; /* NUL-terminated; for VAR the name */
	size_t len;
	unsigned line, col;
};

struct scn_word {
	struct scn_piece *p;
	size_t n, cap;
	unsigned line, col;
};

/* One logical line (continuations joined) split into words. */
struct scn_line {
	unsigned line;
	struct scn_word *w;
	size_t n, cap;
};

struct scn_lexer {
	const char *buf, *end, *pos;
	unsigned line;        /* line of pos */
	const char *line_start;
};

void scn__lex_init(struct scn_lexer *lx, const char *buf, size_t len);
/*
 * Read the next logical line into *out (released and refilled).  Returns 1
 * when a line was read (it may have no words), 0 at end of input, or a
 * PE_* code.  Lexical errors are added to d and the rest of that line is
 * dropped (out->n may then be 0).
 */
int scn__lex_line(struct scn_lexer *lx, struct scn_line *out,
		  struct scn_diags *d);
void scn__line_release(struct scn_line *l);

/* Add a diagnostic; returns PE_NOMEM if it could not be recorded. */
int scn__diag(struct scn_diags *d, bool warning, unsigned line, unsigned col,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Names of enums that only the plan printer needs. */
const char *scn__http_name(enum scn_http_ver v);

/*
 * scn_regex.c: the size a POSIX ERE takes once glibc has compiled it, in
 * nodes, estimated (saturating just above SCN_REGEX_MAX_COST); a pattern
 * above the maximum is refused before regcomp() would spend gigabytes.
 */
#define SCN_REGEX_MAX_COST 20000ul
unsigned long scn__regex_cost(const char *re);
const char *scn__dns_tcp_name(enum scn_dns_tcp v);

#endif
