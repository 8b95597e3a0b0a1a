/*
 * json.h: a small streaming JSON writer for --json output.
 *
 * Written by hand because probe only ever *emits* JSON, in a fixed shape,
 * and needs exactly two guarantees a writer gives: strings are escaped
 * (control characters as \u00XX, invalid UTF-8 as U+FFFD, so any input
 * gives valid JSON) and commas are placed right.  Doubles that are NaN
 * (our NULL) are written as null.
 */
#ifndef PROBE_UTIL_JSON_H
#define PROBE_UTIL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *out;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
	bool after_key;
};

void json_init(struct json *j, FILE *out);
void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
/* An object key; the next value call writes its value. */
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s); /* NULL: null */
void json_int(struct json *j, int64_t v);
void json_num(struct json *j, double v);      /* NaN: null */
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* A value that is already JSON text (trusted: written by probe). */
void json_raw(struct json *j, const char *text);

/* Write s as a JSON string literal (quotes included) to out. */
void json_write_string(FILE *out, const char *s);

#endif
