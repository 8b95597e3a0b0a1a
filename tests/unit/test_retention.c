/*
 * test_retention.c: escalate_prune() on a real store and a real spool:
 * expiry and age, the byte budget oldest first, rows kept and marked,
 * missing files, paths outside the spool refused, row retention of old
 * runs with their cascade, and a second prune changing nothing; plus
 * escalate_pcap_expiry() and escalate_pcap_path().
 *
 * Every test gets its own directory under /tmp, removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "escalate/retention.h"
#include "model/run.h"
#include "store/store.h"

#define SHA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NOW "2030-06-01T12:00:00.000000Z"

struct fx {
	char dir[64], db[128], spool[128], pcaps[160];
	struct store *st;
};

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct errbuf err;

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/probe-test-ret-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/probe.db", fx->dir);
	snprintf(fx->spool, sizeof(fx->spool), "%s/spool", fx->dir);
	snprintf(fx->pcaps, sizeof(fx->pcaps), "%s/pcaps", fx->spool);
	if (mkdir(fx->spool, 0700) < 0 || mkdir(fx->pcaps, 0700) < 0)
		return -1;
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

static char *sdup(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	return d;
}

/* A file of n bytes at SPOOL/rel. */
static void write_file(const struct fx *fx, const char *rel, size_t n)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fx->spool, rel);
	f = fopen(path, "wb");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fputc('x', f);
	assert_int_equal(fclose(f), 0);
}

static bool exists(const struct fx *fx, const char *rel)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fx->spool, rel);
	return access(path, F_OK) == 0;
}

/* A run with a step, a finding, a threshold and (path non-NULL) a pcap
 * row of n bytes; the file is written when file is true. */
static void add_run(struct fx *fx, const char *run_id, const char *started,
		    const char *path, int64_t n, const char *expires,
		    bool file)
{
	struct run_rec r;
	struct step_rec *s;
	struct finding_rec *f;
	struct thresh_rec *t;
	struct errbuf err;

	run_rec_init(&r);
	r.run_id = sdup(run_id);
	r.scenario = sdup("shop");
	r.region = sdup("eu");
	r.probe_id = sdup("p1");
	r.started_at = sdup(started);
	r.breach = true;
	r.clock_sync = RUN_CLOCK_SYNCED;
	r.capture = RUN_CAPTURE_ON;
	r.probe_version = sdup("0.1.0");
	assert_int_equal(run_rec_add_step(&r, &s), 0);
	s->name = sdup("login");
	s->kind = RUN_KIND_HTTP;
	s->target = sdup("http://x/");
	assert_int_equal(step_rec_add_finding(s, &f), 0);
	f->code = sdup("SLOW_SERVER");
	assert_int_equal(run_rec_add_thresh(&r, &t), 0);
	t->threshold = sdup("think_ms > 300");
	t->metric = sdup("think_ms");
	t->met = t->breached = true;
	if (path) {
		r.pcap = calloc(1, sizeof(*r.pcap));
		assert_non_null(r.pcap);
		pcap_rec_init(r.pcap);
		r.pcap->path = sdup(path);
		r.pcap->bytes = n;
		r.pcap->sha256 = sdup(SHA);
		r.pcap->created_at = sdup(started);
		r.pcap->expires_at = expires ? sdup(expires) : NULL;
		r.pcap->reason = sdup("breach");
		if (file && path[0] != '/')
			write_file(fx, path, (size_t)n);
	}
	assert_int_equal(store_run_save(fx->st, &r, &err), 0);
	run_rec_release(&r);
}

static long q(const struct fx *fx, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long v = -1;

	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL),
			 SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void prune(struct fx *fx, const struct retention_opts *o,
		  struct prune_report *r)
{
	struct errbuf err = { "" };
	memset(r, 0, sizeof(*r));
	int ret = escalate_prune(fx->st, fx->spool, o, NOW, r, &err);
	if (ret != 0)
		fail_msg("escalate_prune: %d %s", ret, err.msg);
}

static void test_retention_age(void **state)
{
	struct fx *fx = *state;
	struct retention_opts o = { .retention_days = 30 };
	struct prune_report r;

	/* past its expiry; expiry in the future although old; no expiry
	 * and older than retention_days; no expiry and recent */
	add_run(fx, "r1", "2030-05-01T00:00:00.000000Z", "pcaps/r1.pcapng",
		10, "2030-05-31T00:00:00.000000Z", true);
	add_run(fx, "r2", "2030-01-01T00:00:00.000000Z", "pcaps/r2.pcapng",
		20, "2031-01-01T00:00:00.000000Z", true);
	add_run(fx, "r3", "2030-04-01T00:00:00.000000Z", "pcaps/r3.pcapng",
		30, NULL, true);
	add_run(fx, "r4", "2030-05-30T00:00:00.000000Z", "pcaps/r4.pcapng",
		40, NULL, true);
	prune(fx, &o, &r);
	assert_int_equal(r.files_deleted, 2);
	assert_int_equal(r.bytes_freed, 40);
	assert_int_equal(r.rows_marked, 2);
	assert_int_equal(r.kept_bytes, 60);
	assert_false(exists(fx, "pcaps/r1.pcapng"));
	assert_true(exists(fx, "pcaps/r2.pcapng"));
	assert_false(exists(fx, "pcaps/r3.pcapng"));
	assert_true(exists(fx, "pcaps/r4.pcapng"));
	assert_int_equal(r.n_items, 2);
	assert_int_equal(r.items[0].why, PRUNE_EXPIRED);
	/* rows kept and marked, with the time of the prune */
	assert_int_equal(q(fx, "SELECT count(*) FROM pcaps"), 4);
	assert_int_equal(q(fx, "SELECT count(*) FROM pcaps WHERE pruned = 1"
			   " AND pruned_at = '" NOW "'"), 2);
	prune_report_release(&r);

	/* idempotent */
	prune(fx, &o, &r);
	assert_int_equal(r.files_deleted + r.files_missing + r.rows_marked,
			 0);
	assert_int_equal(r.n_items, 0);
	prune_report_release(&r);
}

static void test_retention_bytes_oldest_first(void **state)
{
	struct fx *fx = *state;
	struct retention_opts o = { .retention_bytes = 100 };
	struct prune_report r;

	add_run(fx, "r2", "2030-05-02T00:00:00.000000Z", "pcaps/r2.pcapng",
		50, NULL, true);
	add_run(fx, "r1", "2030-05-01T00:00:00.000000Z", "pcaps/r1.pcapng",
		50, NULL, true);
	add_run(fx, "r3", "2030-05-03T00:00:00.000000Z", "pcaps/r3.pcapng",
		50, NULL, true);
	o.dry_run = true;
	prune(fx, &o, &r);
	assert_int_equal(r.files_deleted, 1);
	assert_string_equal(r.items[0].run_id, "r1");
	assert_true(exists(fx, "pcaps/r1.pcapng"));
	assert_int_equal(q(fx, "SELECT count(*) FROM pcaps WHERE pruned"), 0);
	prune_report_release(&r);

	o.dry_run = false;
	prune(fx, &o, &r);
	assert_int_equal(r.files_deleted, 1);
	assert_int_equal(r.n_items, 1);
	assert_string_equal(r.items[0].run_id, "r1");
	assert_int_equal(r.items[0].why, PRUNE_BYTES);
	assert_int_equal(r.kept_bytes, 100);
	assert_false(exists(fx, "pcaps/r1.pcapng"));
	assert_true(exists(fx, "pcaps/r2.pcapng"));
	prune_report_release(&r);

	o.retention_bytes = 60; /* one more, the next oldest */
	prune(fx, &o, &r);
	assert_int_equal(r.n_items, 1);
	assert_string_equal(r.items[0].run_id, "r2");
	assert_true(exists(fx, "pcaps/r3.pcapng"));
	prune_report_release(&r);
}

static void test_retention_missing_and_outside(void **state)
{
	struct fx *fx = *state;
	struct retention_opts o = { .retention_days = 1 };
	struct prune_report r;
	char outside[256];
	FILE *f;

	snprintf(outside, sizeof(outside), "%s/victim", fx->dir);
	f = fopen(outside, "w");
	assert_non_null(f);
	fclose(f);
	add_run(fx, "gone", "2030-01-01T00:00:00.000000Z",
		"pcaps/gone.pcapng", 10, NULL, false);
	add_run(fx, "dots", "2030-01-02T00:00:00.000000Z", "pcaps/../../victim",
		10, NULL, false);
	add_run(fx, "abs", "2030-01-03T00:00:00.000000Z", outside, 10, NULL,
		false);
	add_run(fx, "spool", "2030-01-04T00:00:00.000000Z", "probe.db.x", 10,
		NULL, false);
	prune(fx, &o, &r);
	assert_int_equal(r.files_missing, 1);
	assert_int_equal(r.files_deleted, 0);
	assert_int_equal(r.rows_marked, 1);
	assert_int_equal(r.refused, 3);
	assert_int_equal(access(outside, F_OK), 0);
	assert_int_equal(q(fx, "SELECT pruned FROM pcaps p JOIN runs r ON"
			   " r.seq = p.run_seq WHERE run_id = 'gone'"), 1);
	assert_int_equal(q(fx, "SELECT count(*) FROM pcaps WHERE pruned = 0"),
			 3);
	for (size_t i = 0; i < r.n_items; i++)
		if (r.items[i].why == PRUNE_REFUSED)
			assert_non_null(r.items[i].detail);
	prune_report_release(&r);
}

static void test_retention_old_runs_cascade(void **state)
{
	struct fx *fx = *state;
	struct retention_opts o = { .runs_retention_days = 90 };
	struct prune_report r;

	add_run(fx, "old", "2030-01-01T00:00:00.000000Z", "pcaps/old.pcapng",
		10, "2031-01-01T00:00:00.000000Z", true);
	add_run(fx, "oldnopcap", "2030-01-02T00:00:00.000000Z", NULL, 0, NULL,
		false);
	add_run(fx, "oldevil", "2030-01-03T00:00:00.000000Z", "/etc/passwd",
		10, NULL, false);
	add_run(fx, "new", "2030-05-30T00:00:00.000000Z", "pcaps/new.pcapng",
		10, NULL, true);

	o.dry_run = true;
	prune(fx, &o, &r);
	assert_int_equal(r.runs_deleted, 2);
	assert_int_equal(q(fx, "SELECT count(*) FROM runs"), 4);
	prune_report_release(&r);

	o.dry_run = false;
	prune(fx, &o, &r);
	assert_int_equal(r.runs_deleted, 2);
	assert_int_equal(r.files_deleted, 1);
	assert_int_equal(r.refused, 1);
	assert_false(exists(fx, "pcaps/old.pcapng"));
	assert_true(exists(fx, "pcaps/new.pcapng"));
	/* the old runs are gone with every row hanging off them; the run
	 * whose pcap was refused stays (its row still names a file) */
	assert_int_equal(q(fx, "SELECT count(*) FROM runs"), 2);
	assert_int_equal(q(fx, "SELECT count(*) FROM runs WHERE run_id IN"
			   " ('new', 'oldevil')"), 2);
	assert_int_equal(q(fx, "SELECT count(*) FROM steps"), 2);
	assert_int_equal(q(fx, "SELECT count(*) FROM findings"), 2);
	assert_int_equal(q(fx, "SELECT count(*) FROM threshold_evals"), 2);
	assert_int_equal(q(fx, "SELECT count(*) FROM pcaps"), 2);
	prune_report_release(&r);

	prune(fx, &o, &r);
	assert_int_equal(r.runs_deleted + r.files_deleted + r.rows_marked, 0);
	prune_report_release(&r);
}

static void test_retention_expiry(void **state)
{
	char *e = NULL;
	(void)state;

	assert_int_equal(escalate_pcap_expiry("2030-02-27T13:43:04.123456Z",
					      2, &e), 0);
	assert_string_equal(e, "2030-03-01T13:43:04.123456Z");
	free(e);
	assert_int_equal(escalate_pcap_expiry("2030-02-27T13:43:04.123456Z",
					      0, &e), 0);
	assert_null(e);
	assert_int_equal(escalate_pcap_expiry("2030-02-27 13:43", 1, &e),
			 PE_INVAL);
	assert_int_equal(escalate_pcap_expiry("2030-02-27T13:43:04.123456Z",
					      -1, &e), PE_INVAL);
}

static void test_retention_path(void **state)
{
	static const struct {
		const char *row;
		int ret;
	} cases[] = {
		{ "pcaps/a.pcapng", 0 },
		{ "./pcaps/sub/a.pcapng", 0 },
		{ "pcaps/../a", PE_PERM },
		{ "..", PE_PERM },
		{ "a.pcapng", PE_PERM },
		{ "pcaps", PE_PERM },
		{ "pcaps/", PE_PERM },
		{ "/etc/passwd", PE_PERM },
		{ "", PE_PERM },
	};
	struct fx *fx = *state;
	struct errbuf err;
	char *full, abs[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		full = NULL;
		int ret = escalate_pcap_path(fx->spool, cases[i].row, &full,
					     &err);
		if (ret != cases[i].ret)
			fail_msg("'%s': %d, want %d", cases[i].row, ret,
				 cases[i].ret);
		free(full);
	}
	snprintf(abs, sizeof(abs), "%s/pcaps/x.pcapng", fx->spool);
	assert_int_equal(escalate_pcap_path(fx->spool, abs, &full, &err), 0);
	assert_string_equal(full, abs);
	free(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retention_age, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_retention_bytes_oldest_first, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_retention_missing_and_outside, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_retention_old_runs_cascade, fx_setup,
			fx_teardown),
		cmocka_unit_test(test_retention_expiry),
		cmocka_unit_test_setup_teardown(test_retention_path, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
