/* err.c: PE_* names and errbuf formatting (see err.h). */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
	int code;
	const char *name;
} pe_names[] = {
	{ PE_OK, "PE_OK" },         { PE_NOMEM, "PE_NOMEM" },
	{ PE_IO, "PE_IO" },         { PE_INVAL, "PE_INVAL" },
	{ PE_STORE, "PE_STORE" },   { PE_SCHEMA, "PE_SCHEMA" },
	{ PE_NOTFOUND, "PE_NOTFOUND" }, { PE_BUSY, "PE_BUSY" },
	{ PE_LIMIT, "PE_LIMIT" },       { PE_PERM, "PE_PERM" },
};

const char *pe_name(int code)
{
	for (size_t i = 0; i < sizeof(pe_names) / sizeof(pe_names[0]); i++)
		if (pe_names[i].code == code)
			return pe_names[i].name;
	return "PE_?";
}

int errbuf_set(struct errbuf *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}
