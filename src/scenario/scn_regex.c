/*
 * scn_regex.c: how big a POSIX ERE becomes once compiled, bounded before
 * glibc's regcomp() sees it.
 *
 * glibc expands a repetition by copying its operand's tree: x{n,m} into
 * m copies, x+ into two; nested, the copies multiply, so a short pattern
 * ("T" followed by fifty "+", or "((a{99}){99}){99}") takes gigabytes and
 * minutes to compile (fuzz_scenario found the first).  A scenario is
 * trusted text, but a typo must give an error, not a dead host.  This
 * walk estimates the compiled size the way glibc expands it -- an atom
 * costs 1, a sequence or an alternation the sum of its parts, x{n,m}
 * cost(x) * max(n, m) (x{n,} one more than n), x+ twice cost(x), x* and
 * x? cost(x) -- and the pattern is refused above SCN_REGEX_MAX_COST.
 * It follows POSIX ERE (regex(7)): escapes, bracket expressions with
 * their [: :], [. .] and [= =] items and a leading ] , groups, |, and
 * the four quantifiers; what it does not recognise counts as an atom,
 * and regcomp() still says whether the pattern is valid at all.
 */
#include "scenario/internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

/* Add with a ceiling: the estimate only needs to know "too big". */
static unsigned long sat_add(unsigned long a, unsigned long b)
{
	return a > SCN_REGEX_MAX_COST || b > SCN_REGEX_MAX_COST
		       ? SCN_REGEX_MAX_COST + 1
		       : a + b;
}

static unsigned long sat_mul(unsigned long a, unsigned long b)
{
	if (a && b > (SCN_REGEX_MAX_COST + 1) / a)
		return SCN_REGEX_MAX_COST + 1;
	return a * b;
}

/* The end of a bracket expression starting at p ('['), or NULL. */
static const char *bracket_end(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++; /* a leading ] is a member */
	while (*p && *p != ']') {
		if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			char kind = p[1];
			const char *q = p + 2;
			while (*q && !(q[0] == kind && q[1] == ']'))
				q++;
			if (!*q)
				return NULL;
			p = q + 2;
			continue;
		}
		p++;
	}
	return *p ? p : NULL;
}

/* {n}, {n,} or {n,m} at p: its multiplier and end, false if not one. */
static bool interval(const char *p, unsigned long *mult, const char **end)
{
	char *e;
	if (*p != '{' || p[1] < '0' || p[1] > '9')
		return false;
	unsigned long n = strtoul(p + 1, &e, 10), m = n;
	if (*e == ',') {
		e++;
		if (*e >= '0' && *e <= '9')
			m = strtoul(e, &e, 10);
		else
			m = n + 1;
	}
	if (*e != '}')
		return false;
	*mult = n > m ? n : m;
	if (*mult == 0)
		*mult = 1;
	*end = e + 1;
	return true;
}

unsigned long scn__regex_cost(const char *re)
{
	/* per open group: the alternatives' cost so far and the current
	 * sequence's; last: the cost of the latest atom or group, which a
	 * quantifier multiplies */
	unsigned long alt[MAX_DEPTH + 1] = { 0 }, seq[MAX_DEPTH + 1] = { 0 };
	unsigned long last = 0;
	int d = 0;
	const char *p = re;
	while (*p) {
		unsigned long mult;
		const char *end;
		switch (*p) {
		case '(':
			if (d == MAX_DEPTH)
				return SCN_REGEX_MAX_COST + 1;
			d++;
			alt[d] = seq[d] = 0;
			last = 0;
			p++;
			continue;
		case ')':
			if (d == 0) { /* a literal ) in an ERE */
				last = 1;
				seq[d] = sat_add(seq[d], 1);
				p++;
				continue;
			}
			last = sat_add(alt[d], seq[d]);
			d--;
			seq[d] = sat_add(seq[d], last);
			p++;
			continue;
		case '|':
			alt[d] = sat_add(alt[d], seq[d]);
			seq[d] = 0;
			last = 0;
			p++;
			continue;
		case '*':
		case '?':
			p++; /* the operand once more at most: cost unchanged */
			continue;
		case '+':
			/* x+ is x x*: the operand twice */
			seq[d] = sat_add(seq[d], last);
			last = sat_mul(last, 2);
			p++;
			continue;
		case '{':
			if (interval(p, &mult, &end)) {
				unsigned long more = sat_mul(last, mult - 1);
				seq[d] = sat_add(seq[d], more);
				last = sat_mul(last, mult);
				p = end;
				continue;
			}
			break;
		case '[':
			if ((end = bracket_end(p))) {
				last = 1;
				seq[d] = sat_add(seq[d], 1);
				p = end + 1;
				continue;
			}
			break;
		case '\\':
			if (p[1])
				p++;
			break;
		default:
			break;
		}
		last = 1;
		seq[d] = sat_add(seq[d], 1);
		p++;
	}
	while (d > 0) { /* unclosed: regcomp refuses it anyway */
		unsigned long g = sat_add(alt[d], seq[d]);
		d--;
		seq[d] = sat_add(seq[d], g);
	}
	return sat_add(alt[0], seq[0]);
}
