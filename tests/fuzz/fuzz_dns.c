/*
 * fuzz_dns.c: libFuzzer target for dec_dns_parse().  Input: the first
 * byte's low bit says over TCP (length prefix), the rest is the message.
 * Any input must give DEC_OK/DEC_TRUNC/DEC_INVALID, never a crash or
 * undefined behaviour; the decoded name must be a NUL-terminated string.
 * Corpus: tests/fuzz/corpus/dns/ (replayed by `make check`).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/dec_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct dec_dns d;
	bool tcp = data[0] & 1;
	int st = dec_dns_parse(data + 1, size - 1, tcp, &d);
	if (st != DEC_OK && st != DEC_TRUNC && st != DEC_INVALID)
		abort();
	if (strlen(d.qname) > DEC_DNS_QNAME_TEXT || d.n_addrs >
	    DEC_DNS_MAX_ADDRS || d.n_answers > d.ancount)
		abort();
	if (st == DEC_OK && tcp && d.used > size - 1)
		abort();
	return 0;
}
