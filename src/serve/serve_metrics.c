/*
 * serve_metrics.c: the /metrics body, Prometheus text format 0.0.4.
 *
 * Names follow Prometheus conventions (DESIGN section 10): base units
 * (seconds, converted from the stored milliseconds), counters ending in
 * _total.  Histograms cover the runs started in the last
 * SERVE_METRICS_HOURS hours, so a scrape costs the same on a store with a
 * year of history; the per-group gauges and counters (probe_success,
 * probe_last_run_timestamp_seconds, probe_runs_total,
 * probe_breaches_total) cover every stored run.  Labels: scenario, step,
 * region, probe_id; values escaped as the format wants (\\, \", \n).
 */
#include "serve/serve.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "util/timeutil.h"

/* Seconds: 1 ms to 10 s, a fixed set so series from every probe add. */
static const double buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10,
};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

/* The histograms: store metric (ms) to Prometheus name and help. */
static const struct {
	const char *metric, *name, *help;
} hists[] = {
	{ "rtt_ms", "probe_rtt_seconds",
	  "TCP round trip: SYN to its SYN/ACK (packets)" },
	{ "think_ms", "probe_think_seconds",
	  "server think time: ttfb_wire minus rtt" },
	{ "ttfb_wire_ms", "probe_ttfb_wire_seconds",
	  "request's last byte to the first response byte (packets)" },
	{ "request_ack_ms", "probe_request_ack_seconds",
	  "request's last byte to the server's ACK (packets)" },
	{ "transfer_ms", "probe_transfer_seconds",
	  "first to last response byte on the wire" },
	{ "tls_server_ms", "probe_tls_server_seconds",
	  "ClientHello to ServerHello minus rtt (packets)" },
	{ "dns_ms", "probe_dns_seconds", "name resolution (library)" },
	{ "connect_ms", "probe_connect_seconds", "TCP connect (library)" },
	{ "tls_ms", "probe_tls_seconds", "whole TLS handshake (library)" },
	{ "ttfb_ms", "probe_ttfb_seconds",
	  "request sent to first response byte (library)" },
	{ "total_ms", "probe_step_duration_seconds", "whole step (library)" },
};

/* A label value, escaped. */
static void put_label(FILE *out, const char *k, const char *v, bool first)
{
	fprintf(out, "%s%s=\"", first ? "" : ",", k);
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

struct hist_acc {
	FILE *out;
	const char *name;
	char scenario[256], step[256], region[256], probe_id[256];
	bool have;
	uint64_t counts[N_BUCKETS];
	uint64_t n;
	double sum;
};

static void hist_labels(FILE *out, const struct hist_acc *h)
{
	put_label(out, "scenario", h->scenario, true);
	put_label(out, "step", h->step, false);
	put_label(out, "region", h->region, false);
	put_label(out, "probe_id", h->probe_id, false);
}

static void hist_flush(struct hist_acc *h)
{
	if (!h->have)
		return;
	for (size_t i = 0; i < N_BUCKETS; i++) {
		fprintf(h->out, "%s_bucket{", h->name);
		hist_labels(h->out, h);
		fprintf(h->out, ",le=\"%g\"} %llu\n", buckets[i],
			(unsigned long long)h->counts[i]);
	}
	fprintf(h->out, "%s_bucket{", h->name);
	hist_labels(h->out, h);
	fprintf(h->out, ",le=\"+Inf\"} %llu\n", (unsigned long long)h->n);
	fprintf(h->out, "%s_sum{", h->name);
	hist_labels(h->out, h);
	fprintf(h->out, "} %.9g\n", h->sum);
	fprintf(h->out, "%s_count{", h->name);
	hist_labels(h->out, h);
	fprintf(h->out, "} %llu\n", (unsigned long long)h->n);
	h->have = false;
}

static void set_label(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v);
}

static int hist_sample(void *ctx, const char *scenario, const char *step,
		       const char *region, const char *probe_id, double ms)
{
	struct hist_acc *h = ctx;
	double s = ms / 1000.0;

	if (!isfinite(s))
		return 0;
	if (!h->have || strcmp(h->scenario, scenario) != 0 ||
	    strcmp(h->step, step) != 0 || strcmp(h->region, region) != 0 ||
	    strcmp(h->probe_id, probe_id) != 0) {
		hist_flush(h);
		set_label(h->scenario, sizeof(h->scenario), scenario);
		set_label(h->step, sizeof(h->step), step);
		set_label(h->region, sizeof(h->region), region);
		set_label(h->probe_id, sizeof(h->probe_id), probe_id);
		memset(h->counts, 0, sizeof(h->counts));
		h->n = 0;
		h->sum = 0;
		h->have = true;
	}
	/* Cumulative buckets: a sample counts in every bucket at or above. */
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (s <= buckets[i])
			h->counts[i]++;
	h->n++;
	h->sum += s;
	return 0;
}

/* "2026-11-23T13:43:04.123456Z" as seconds since the epoch, or NAN. */
static double utc_seconds(const char *t)
{
	int y, mo, d, h, mi, s, us;

	if (!t || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &y, &mo, &d, &h,
			 &mi, &s, &us) != 7)
		return NAN;
	/* Days from civil (H. Hinnant): no timegm, no TZ. */
	y -= mo <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + doe - 719468;
	return (double)(days * 86400 + h * 3600 + mi * 60 + s) + us / 1e6;
}

struct group_out {
	FILE *out;
	int pass;
};

static int group_line(void *ctx, const struct store_serve_group *g)
{
	struct group_out *o = ctx;
	static const char *const names[] = {
		"probe_success", "probe_last_run_timestamp_seconds",
		"probe_runs_total", "probe_breaches_total",
	};

	fprintf(o->out, "%s{", names[o->pass]);
	put_label(o->out, "scenario", g->scenario, true);
	put_label(o->out, "region", g->region, false);
	put_label(o->out, "probe_id", g->probe_id, false);
	fputs("} ", o->out);
	switch (o->pass) {
	case 0:
		fprintf(o->out, "%d\n", g->last_ok ? 1 : 0);
		break;
	case 1:
		fprintf(o->out, "%.6f\n", utc_seconds(g->last_started_at));
		break;
	case 2:
		fprintf(o->out, "%lld\n", (long long)g->runs);
		break;
	default:
		fprintf(o->out, "%lld\n", (long long)g->breaches);
		break;
	}
	return 0;
}

int serve_metrics_write(struct store *st, FILE *out, struct errbuf *err)
{
	static const char *const heads[] = {
		"# HELP probe_success 1 when the group's last run had every "
		"step ok\n# TYPE probe_success gauge\n",
		"# HELP probe_last_run_timestamp_seconds start of the group's "
		"last run\n# TYPE probe_last_run_timestamp_seconds gauge\n",
		"# HELP probe_runs_total runs stored\n"
		"# TYPE probe_runs_total counter\n",
		"# HELP probe_breaches_total stored runs that breached a "
		"threshold\n# TYPE probe_breaches_total counter\n",
	};
	char now[64], since[64];
	int ret;

	for (int pass = 0; pass < 4; pass++) {
		struct group_out o = { out, pass };
		fputs(heads[pass], out);
		ret = store_serve_latest(st, group_line, &o, err);
		if (ret < 0)
			return ret;
	}
	if (timeutil_utc_now(now, sizeof(now)) < 0 ||
	    timeutil_utc_minus_days(now, SERVE_METRICS_HOURS / 24, since,
				    sizeof(since)) < 0)
		return errbuf_set(err, PE_IO, "reading the clock");
	for (size_t i = 0; i < sizeof(hists) / sizeof(hists[0]); i++) {
		struct hist_acc h = { .out = out, .name = hists[i].name };
		fprintf(out, "# HELP %s %s, runs of the last %d h\n"
			"# TYPE %s histogram\n", hists[i].name,
			hists[i].help, SERVE_METRICS_HOURS, hists[i].name);
		ret = store_serve_samples(st, hists[i].metric, since,
					  hist_sample, &h, err);
		if (ret < 0)
			return ret;
		hist_flush(&h);
	}
	return 0;
}
