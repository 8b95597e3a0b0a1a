/*
 * pbstorebench: how long probe's store takes to write a run, and how the
 * database grows (bench/scale, issue 10).
 *
 *   pbstorebench DB RUN.json N
 *
 * Reads one run as `probe run --json` printed it (collect/ingest.c), then
 * saves it N times into DB through store_run_save() -- one transaction
 * each, as `probe run` does -- each copy with its own run_id and a start
 * one minute after the previous.  Prints, per decade of runs stored
 * (10, 100, 1000...) and at N: the median and p95 ms of a save over that
 * decade and the database's bytes on disk (main file + WAL) per run;
 * then, the store closed (the WAL checkpointed), the final bytes per run.
 * Exit 0, 2 usage, 3 errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "collect/ingest.h"
#include "model/run.h"
#include "store/store.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include "tool_slurp.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static long long file_bytes(const char *path, const char *suffix)
{
	char p[4096];
	struct stat sb;
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &sb) == 0 ? (long long)sb.st_size : 0;
}

static void report(const char *db, double *ms, size_t from, size_t to)
{
	size_t n = to - from;
	double *v = malloc(n * sizeof(*v));
	if (!v)
		return;
	memcpy(v, ms + from, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_d);
	long long bytes = file_bytes(db, "") + file_bytes(db, "-wal");
	printf("| %zu | %.3f | %.3f | %lld | %.0f |\n", to, v[n / 2],
	       v[(size_t)floor(0.95 * (double)(n - 1))], bytes,
	       (double)bytes / (double)to);
	free(v);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: pbstorebench DB RUN.json N\n");
		return 2;
	}
	size_t n = strtoul(argv[3], NULL, 10), len = 0;
	char *text = slurp(argv[2], &len);
	struct run_rec tmpl;
	struct errbuf err;
	if (!text || n == 0)
		return 2;
	run_rec_init(&tmpl);
	if (ingest_run_json(text, len, &tmpl, &err) < 0) {
		fprintf(stderr, "pbstorebench: %s: %s\n", argv[2], err.msg);
		return 3;
	}
	struct store *st;
	if (store_open(argv[1], &st, &err) < 0) {
		fprintf(stderr, "pbstorebench: %s\n", err.msg);
		return 3;
	}
	double *ms = calloc(n, sizeof(*ms));
	if (!ms)
		return 3;
	printf("| runs stored | save ms p50 | save ms p95 | db bytes | bytes/run |\n");
	printf("|---|---|---|---|---|\n");
	size_t next = 10, from = 0;
	int64_t t0 = 1700000000;
	for (size_t i = 0; i < n; i++) {
		struct run_rec r;
		/* a fresh copy each time: ingest the text again */
		run_rec_init(&r);
		if (ingest_run_json(text, len, &r, &err) < 0)
			return 3;
		free(r.run_id);
		r.run_id = xasprintf("bench-%08zu", i);
		char at[TIMEUTIL_UTC_LEN];
		timeutil_utc((t0 + (int64_t)i * 60) * 1000000000, at, sizeof(at));
		free(r.started_at);
		r.started_at = xstrdup(at);
		double a = now_ms();
		if (store_run_save(st, &r, &err) < 0) {
			fprintf(stderr, "pbstorebench: save: %s\n", err.msg);
			return 3;
		}
		ms[i] = now_ms() - a;
		run_rec_release(&r);
		if (i + 1 == next || i + 1 == n) {
			report(argv[1], ms, from, i + 1);
			from = i + 1;
			next *= 10;
		}
	}
	store_close(st); /* checkpoints the WAL into the main file */
	long long bytes = file_bytes(argv[1], "") + file_bytes(argv[1], "-wal");
	printf("\nclosed: %lld bytes for %zu runs, %.0f bytes per run\n", bytes,
	       n, (double)bytes / (double)n);
	run_rec_release(&tmpl);
	free(ms);
	free(text);
	return 0;
}
