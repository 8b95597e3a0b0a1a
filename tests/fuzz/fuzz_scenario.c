/*
 * fuzz_scenario.c: libFuzzer target for the scenario lexer and parser.
 * Any input must give either a plan or diagnostics, never a crash, a leak
 * or undefined behaviour; a plan must also print.  Corpus:
 * tests/fuzz/corpus/scenario/ (replayed by `make check`).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scenario/scn_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *no_env(const char *name, void *ctx)
{
	(void)name;
	(void)ctx;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scn_plan plan;
	struct scn_diags d = { 0 };
	if (scn_parse_buf("fuzz.scn", (const char *)data, size, &plan, &d) ==
	    0) {
		FILE *null = fopen("/dev/null", "w");
		if (null) {
			scn_plan_print(&plan, null);
			fclose(null);
		}
		(void)scn_plan_check_env(&plan, no_env, NULL, true, &d);
		scn_plan_release(&plan);
	}
	scn_diags_release(&d);
	return 0;
}
