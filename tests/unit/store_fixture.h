/*
 * store_fixture.h: the fixture of the unit tests that work on a real store
 * (test_baseline.c, test_compare.c, test_store_load.c): a fresh temporary
 * directory with a store opened in it, removed after the test.  Each test
 * binary defines its fx_setup as store_fx_setup with its own directory
 * template.  Static functions: each test binary gets its own copy.
 */
#ifndef PROBE_TESTS_STORE_FIXTURE_H
#define PROBE_TESTS_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"
#include "util/err.h"

struct fx {
	char dir[64], db[128];
	struct store *st;
	unsigned n; /* runs made so far, for their ids */
};

/* tmpl: mkdtemp's template, "/tmp/probe-test-NAME-XXXXXX". */
static int store_fx_setup(void **state, const char *tmpl)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct errbuf err;
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s", tmpl);
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->db, sizeof(fx->db), "%s/probe.db", fx->dir);
	if (store_open(fx->db, &fx->st, &err) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[256];
	store_close(fx->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

#endif
