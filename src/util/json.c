/* json.c: see json.h. */
#include "util/json.h"

#include <math.h>
#include <string.h>

void json_init(struct json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

/* Separator before a value (not after a key). */
static void sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma[j->depth])
		fputc(',', j->out);
	j->need_comma[j->depth] = true;
}

static void open_(struct json *j, char c)
{
	sep(j);
	fputc(c, j->out);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(struct json *j, char c)
{
	fputc(c, j->out);
	if (j->depth > 0)
		j->depth--;
}

void json_obj_begin(struct json *j) { open_(j, '{'); }
void json_obj_end(struct json *j) { close_(j, '}'); }
void json_arr_begin(struct json *j) { open_(j, '['); }
void json_arr_end(struct json *j) { close_(j, ']'); }

void json_key(struct json *j, const char *key)
{
	sep(j);
	json_write_string(j->out, key);
	fputc(':', j->out);
	j->after_key = true;
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static int utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	int n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

void json_write_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', out);
	while (*s) {
		/* a run that needs no escaping goes out in one write */
		const unsigned char *run = s;
		while (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
			s++;
		if (s > run)
			fwrite(run, 1, (size_t)(s - run), out);
		if (!*s)
			break;
		unsigned char c = *s;
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			s++;
		} else if (c == '\n') {
			fputs("\\n", out);
			s++;
		} else if (c == '\t') {
			fputs("\\t", out);
			s++;
		} else if (c == '\r') {
			fputs("\\r", out);
			s++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			s++;
		} else {
			int n = utf8_len(s);
			if (n == 0) {
				fputs("\\ufffd", out);
				s++;
			} else {
				fwrite(s, 1, (size_t)n, out);
				s += n;
			}
		}
	}
	fputc('"', out);
}

void json_str(struct json *j, const char *s)
{
	sep(j);
	if (s)
		json_write_string(j->out, s);
	else
		fputs("null", j->out);
}

void json_int(struct json *j, int64_t v)
{
	sep(j);
	fprintf(j->out, "%lld", (long long)v);
}

void json_num(struct json *j, double v)
{
	sep(j);
	if (isfinite(v))
		fprintf(j->out, "%.15g", v);
	else
		fputs("null", j->out);
}

void json_bool(struct json *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->out);
}

void json_raw(struct json *j, const char *text)
{
	sep(j);
	fputs(text, j->out);
}

void json_null(struct json *j)
{
	sep(j);
	fputs("null", j->out);
}
