/*
 * scn_lex.c: split a scenario file into logical lines of words.
 *
 * The language is line-oriented (scenarios/README.md, "Grammar"):
 *   - words are separated by blanks; a word is a run of pieces: bare text,
 *     '...' (no escapes), "..." (\" and \\ are escapes, any other backslash
 *     stays, so regexes read naturally) and ${NAME} (also inside quotes);
 *     $$ is a literal $, a $ before anything else is itself;
 *   - # at the start of a word starts a comment;
 *   - a backslash right before the end of a line joins the next line.
 * Hand-written because the grammar is tiny and its error messages must
 * name exact columns; a generator would add a build dependency and hide
 * both.
 */
#include "scenario/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* A token longer than this is refused: no sane scenario needs it. */
#define SCN_MAX_TOKEN (256u * 1024)

int scn__diag(struct scn_diags *d, bool warning, unsigned line, unsigned col,
	      const char *fmt, ...)
{
	if (warning)
		d->n_warnings++;
	else
		d->n_errors++;
	if (d->n >= SCN_MAX_DIAGS) {
		d->n_dropped++;
		return 0;
	}
	if (xgrow(&d->v, &d->cap, d->n + 1, sizeof(*d->v)) < 0)
		return PE_NOMEM;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char *msg = xstrdup(buf);
	if (!msg)
		return PE_NOMEM;
	d->v[d->n++] = (struct scn_diag){ line, col, warning, msg };
	return 0;
}

void scn__lex_init(struct scn_lexer *lx, const char *buf, size_t len)
{
	lx->buf = buf;
	lx->pos = buf;
	lx->end = buf + len;
	lx->line = 1;
	lx->line_start = buf;
}

static void word_release(struct scn_word *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->p[i].text);
	free(w->p);
	memset(w, 0, sizeof(*w));
}

void scn__line_release(struct scn_line *l)
{
	for (size_t i = 0; i < l->n; i++)
		word_release(&l->w[i]);
	free(l->w);
	memset(l, 0, sizeof(*l));
}

/* Growable text of the piece being read. */
struct tok {
	char *s;
	size_t len, cap;
};

static int tok_put(struct tok *t, char c)
{
	if (t->len + 1 >= SCN_MAX_TOKEN)
		return PE_LIMIT;
	if (xgrow(&t->s, &t->cap, t->len + 2, 1) < 0)
		return PE_NOMEM;
	t->s[t->len++] = c;
	t->s[t->len] = '\0';
	return 0;
}

/* Move the text of t into a new piece of w (t is reset). */
static int word_add(struct scn_word *w, enum scn_piece_kind kind,
		    struct tok *t, unsigned line, unsigned col)
{
	if (xgrow(&w->p, &w->cap, w->n + 1, sizeof(*w->p)) < 0)
		return PE_NOMEM;
	char *text = t->s ? t->s : xstrdup("");
	if (!text)
		return PE_NOMEM;
	w->p[w->n++] = (struct scn_piece){ kind, text, t->len, line, col };
	memset(t, 0, sizeof(*t));
	return 0;
}

static unsigned col_of(const struct scn_lexer *lx, const char *p)
{
	return (unsigned)(p - lx->line_start) + 1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool at_eol(const struct scn_lexer *lx, const char *p)
{
	return p >= lx->end || *p == '\n';
}

/* A backslash that joins the next line: "\\\n" or "\\\r\n". */
static size_t continuation_len(const struct scn_lexer *lx, const char *p)
{
	if (p < lx->end && *p == '\\') {
		if (p + 1 < lx->end && p[1] == '\n')
			return 2;
		if (p + 2 < lx->end && p[1] == '\r' && p[2] == '\n')
			return 3;
	}
	return 0;
}

static void newline(struct scn_lexer *lx, const char *after_nl)
{
	lx->line++;
	lx->line_start = after_nl;
}

static bool is_var_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_var_char(char c)
{
	return is_var_start(c) || (c >= '0' && c <= '9');
}

/*
 * At lx->pos == "${": read the variable into a VAR piece.  Returns 0,
 * 1 on a lexical error (diagnosed), or a PE_* code.
 */
static int lex_var(struct scn_lexer *lx, struct scn_word *w,
		   struct scn_diags *d)
{
	const char *start = lx->pos;
	const char *p = start + 2;
	struct tok t = { 0 };
	int ret;
	while (p < lx->end && is_var_char(*p)) {
		if ((ret = tok_put(&t, *p)) < 0)
			goto fail;
		p++;
	}
	if (p < lx->end && *p == '}' && t.len > 0 && is_var_start(t.s[0])) {
		lx->pos = p + 1;
		return word_add(w, SCN_PIECE_VAR, &t, lx->line,
				col_of(lx, start));
	}
	free(t.s);
	if (p >= lx->end || *p == '\n' || (*p != '}' && !is_var_char(*p) &&
					   (is_blank(*p) || *p == '\'' ||
					    *p == '"')))
		ret = scn__diag(d, false, lx->line, col_of(lx, start),
				"unterminated variable: expected '}'");
	else
		ret = scn__diag(d, false, lx->line, col_of(lx, start),
				"invalid variable name: use ${NAME} with "
				"letters, digits and '_', not starting with "
				"a digit");
	return ret < 0 ? ret : 1;
fail:
	free(t.s);
	return ret;
}

/* Skip to the end of the physical line (not past the newline). */
static void skip_line(struct scn_lexer *lx)
{
	while (lx->pos < lx->end && *lx->pos != '\n')
		lx->pos++;
}

/*
 * After a lexical error: skip the rest of the logical line, continuation
 * lines included, so they are not read as directives of their own.
 */
static void skip_logical_line(struct scn_lexer *lx)
{
	while (lx->pos < lx->end && *lx->pos != '\n') {
		size_t cl = continuation_len(lx, lx->pos);
		if (cl) {
			lx->pos += cl;
			newline(lx, lx->pos);
			continue;
		}
		lx->pos++;
	}
}

/*
 * Read one word starting at lx->pos (not blank, not '#').  Returns 0,
 * 1 when the word had a lexical error (diagnosed; the rest of the line
 * is skipped), or a PE_* code.
 */
static int lex_word(struct scn_lexer *lx, struct scn_word *w,
		    struct scn_diags *d)
{
	struct tok t = { 0 };
	unsigned tcol = 0;
	enum scn_piece_kind tkind = SCN_PIECE_BARE;
	int ret = 0;

	w->line = lx->line;
	w->col = col_of(lx, lx->pos);
	while (!at_eol(lx, lx->pos) && !is_blank(*lx->pos) &&
	       !continuation_len(lx, lx->pos)) {
		const char *p = lx->pos;
		char c = *p;
		if (c == '\0') {
			ret = scn__diag(d, false, lx->line, col_of(lx, p),
					"NUL byte in scenario file");
			ret = ret < 0 ? ret : 1;
			goto out;
		}
		if (c == '\'' || c == '"') {
			/* flush bare text, then read the quoted part */
			if (t.s && (ret = word_add(w, tkind, &t, lx->line, tcol)) < 0)
				goto out;
			const char *q = p + 1;
			unsigned qcol = col_of(lx, p);
			bool dq = c == '"';
			tcol = col_of(lx, q);
			bool any = false;
			for (;;) {
				if (q >= lx->end || *q == '\n') {
					ret = scn__diag(d, false, lx->line, qcol,
							"unterminated %s "
							"quote",
							dq ? "double"
							   : "single");
					ret = ret < 0 ? ret : 1;
					goto out;
				}
				if (*q == c)
					break;
				if (*q == '\0') {
					ret = scn__diag(d, false, lx->line,
							col_of(lx, q),
							"NUL byte in scenario "
							"file");
					ret = ret < 0 ? ret : 1;
					goto out;
				}
				if (*q == '$' && q + 1 < lx->end &&
				    q[1] == '{') {
					if (t.s && (ret = word_add(
							    w, SCN_PIECE_QUOTED,
							    &t, lx->line, tcol)) < 0)
						goto out;
					lx->pos = q;
					if ((ret = lex_var(lx, w, d)) != 0)
						goto out;
					any = true;
					q = lx->pos;
					tcol = col_of(lx, q);
					continue;
				}
				char ch = *q;
				size_t adv = 1;
				if (ch == '$' && q + 1 < lx->end && q[1] == '$')
					adv = 2;
				else if (dq && ch == '\\' && q + 1 < lx->end &&
					 (q[1] == '"' || q[1] == '\\')) {
					ch = q[1];
					adv = 2;
				}
				if ((ret = tok_put(&t, ch)) < 0)
					goto out;
				q += adv;
			}
			/* '' is a real (empty) piece unless ${} filled it */
			if (t.s || !any)
				if ((ret = word_add(w, SCN_PIECE_QUOTED, &t,
						    lx->line, tcol)) < 0)
					goto out;
			lx->pos = q + 1;
			tkind = SCN_PIECE_BARE;
			tcol = 0;
			continue;
		}
		if (c == '$' && p + 1 < lx->end && p[1] == '{') {
			if (t.s && (ret = word_add(w, tkind, &t, lx->line, tcol)) < 0)
				goto out;
			if ((ret = lex_var(lx, w, d)) != 0)
				goto out;
			continue;
		}
		size_t adv = (c == '$' && p + 1 < lx->end && p[1] == '$') ? 2
									  : 1;
		if (!t.s) {
			tcol = col_of(lx, p);
			tkind = SCN_PIECE_BARE;
		}
		if ((ret = tok_put(&t, c)) < 0)
			goto out;
		lx->pos = p + adv;
	}
	if (t.s)
		ret = word_add(w, tkind, &t, lx->line, tcol);
out:
	free(t.s);
	if (ret == 1)
		skip_logical_line(lx);
	if (ret == PE_LIMIT) {
		ret = scn__diag(d, false, w->line, w->col,
				"word longer than %u bytes", SCN_MAX_TOKEN);
		skip_logical_line(lx);
		ret = ret < 0 ? ret : 1;
	}
	return ret;
}

int scn__lex_line(struct scn_lexer *lx, struct scn_line *out,
		  struct scn_diags *d)
{
	scn__line_release(out);
	if (lx->pos >= lx->end)
		return 0;
	out->line = lx->line;
	bool bad = false;
	for (;;) {
		while (lx->pos < lx->end && is_blank(*lx->pos))
			lx->pos++;
		size_t cl = continuation_len(lx, lx->pos);
		if (cl) {
			lx->pos += cl;
			newline(lx, lx->pos);
			continue;
		}
		if (at_eol(lx, lx->pos))
			break;
		if (*lx->pos == '#') {
			skip_line(lx);
			break;
		}
		if (xgrow(&out->w, &out->cap, out->n + 1, sizeof(*out->w)) < 0)
			return PE_NOMEM;
		struct scn_word *w = &out->w[out->n];
		memset(w, 0, sizeof(*w));
		out->n++;
		int ret = lex_word(lx, w, d);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			bad = true;
			break;
		}
	}
	if (lx->pos < lx->end && *lx->pos == '\n') {
		lx->pos++;
		newline(lx, lx->pos);
	}
	if (bad) /* the line's words are unreliable: drop them */
		for (size_t i = 0; i < out->n; i++)
			word_release(&out->w[i]);
	if (bad)
		out->n = 0;
	return 1;
}
