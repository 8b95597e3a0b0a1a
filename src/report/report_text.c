/*
 * report_text.c: `probe report` in the terminal, and as NDJSON.
 *
 * A waterfall's bar is `width` columns for the exchange's total_ms; each
 * segment starts where the known ones before it end and takes its own
 * share, at least one column when it is not zero (a thin mark), so a
 * 0.05 ms segment beside a 150 ms one is still seen to exist.
 */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/run.h"
#include "report/waterfall.h"
#include "util/json.h"

#define WF_MAX 64  /* waterfalls drawn per step (redirect hops) */

/* ANSI colours of the segments (SGR), one per enum wf_seg. */
static const char *const seg_sgr[WF_COUNT] = {
	[WF_DNS] = "34",      [WF_CONNECT] = "32", [WF_TLS] = "35",
	[WF_SENT] = "36",     [WF_NETWORK] = "33", [WF_THINK] = "31",
	[WF_TRANSFER] = "94",
};

struct tx {
	FILE *out;
	const struct report_text_opts *o;
};

static void sgr(const struct tx *t, const char *code)
{
	if (t->o->color)
		fprintf(t->out, "\033[%sm", code);
}

static void bar(const struct tx *t, const struct waterfall *w, int k)
{
	unsigned width = t->o->width;
	double total = w->total_ms > 0 ? w->total_ms : w->sum_ms;
	unsigned from = 0, len = 0;
	if (!isnan(w->ms[k]) && total > 0) {
		double a = w->start_ms[k] / total * width;
		double b = (w->start_ms[k] + w->ms[k]) / total * width;
		from = (unsigned)fmin(width, round(a));
		unsigned to = (unsigned)fmin(width, round(b));
		len = to > from ? to - from : 0;
		if (len == 0 && w->ms[k] > 0) {
			len = 1;
			from = from >= width ? width - 1 : from;
		}
	}
	for (unsigned i = 0; i < from; i++)
		fputc(' ', t->out);
	sgr(t, seg_sgr[k]);
	bool thin = len == 1 && w->ms[k] / total * width < 0.5;
	for (unsigned i = 0; i < len; i++)
		fputs(t->o->unicode ? (thin ? "\u258f" : "\u2588")
				    : (thin ? "|" : "#"),
		      t->out);
	sgr(t, "0");
	for (unsigned i = from + len; i < width; i++)
		fputc(' ', t->out);
}

static const char *ack_words(enum run_ack_pattern p)
{
	switch (p) {
	case RUN_ACK_PIGGYBACKED:
		return "piggybacked on the first response bytes";
	case RUN_ACK_SEPARATE:
		return "a bare ACK, the answer later";
	case RUN_ACK_CONTROL:
		return "on a segment of other bytes (TLS tickets, HTTP/2 "
		       "control)";
	case RUN_ACK_UNKNOWN:
		return "not seen";
	default:
		return NULL;
	}
}

static void waterfall_text(const struct tx *t, const struct waterfall *w)
{
	char b1[32], b2[32];
	for (int k = 0; k < WF_COUNT; k++) {
		if (!w->applies[k])
			continue;
		fprintf(t->out, "      %-13s ", wf_seg_info[k].label);
		bar(t, w, k);
		fprintf(t->out, " %10s\n",
			waterfall_ms_text(w->ms[k], b1, sizeof(b1)));
	}
	const struct exchange_rec *x = w->ex;
	if (x && !isnan(x->request_ack_ms)) {
		const char *words = ack_words(x->ack_pattern);
		fprintf(t->out, "      request ACK %s after its last byte%s%s%s\n",
			waterfall_ms_text(x->request_ack_ms, b1, sizeof(b1)),
			words ? ": " : "", words ? words : "",
			x->server_delayed_ack == 1 ? " (the server delayed it)"
						   : "");
	}
	if (!isnan(w->ms[WF_NETWORK]) && !isnan(w->ms[WF_THINK]))
		fprintf(t->out, "      first byte: %s network, %s server\n",
			waterfall_ms_text(w->ms[WF_NETWORK], b1, sizeof(b1)),
			waterfall_ms_text(w->ms[WF_THINK], b2, sizeof(b2)));
	else if (x && x->think_quality == RUN_QUALITY_INCONSISTENT)
		fprintf(t->out, "      think time inconsistent (the answer came "
				"sooner than one RTT): not split\n");
	if (w->n_unknown || fabs(w->total_ms - w->sum_ms) >= 0.005)
		fprintf(t->out, "      segments cover %s of %s%s\n",
			waterfall_ms_text(w->sum_ms, b1, sizeof(b1)),
			waterfall_ms_text(w->total_ms, b2, sizeof(b2)),
			w->n_unknown ? " (? = unknown: no capture, or not "
				       "measurable)"
				     : "");
}

static void step_text(const struct tx *t, const struct step_rec *s)
{
	char b[32];
	fprintf(t->out, "    ");
	sgr(t, "1");
	fprintf(t->out, "step %lld %s", (long long)s->idx,
		s->name ? s->name : "-");
	sgr(t, "0");
	fprintf(t->out, "  %s %s", run_step_kind_names[s->kind],
		s->target ? s->target : "");
	if (s->status != RUN_NULL_INT)
		fprintf(t->out, "  %lld", (long long)s->status);
	if (s->skipped) {
		fprintf(t->out, "  skipped\n");
		return;
	}
	fprintf(t->out, "  total %s",
		waterfall_ms_text(s->total_ms, b, sizeof(b)));
	if (!s->ok) {
		fputs("  ", t->out);
		sgr(t, "1;31");
		fprintf(t->out, "FAILED %s", s->error ? s->error : "");
		sgr(t, "0");
		if (s->error_detail)
			fprintf(t->out, ": %s", s->error_detail);
	}
	fputc('\n', t->out);
	struct waterfall w[WF_MAX];
	size_t n = waterfall_of_step(s, w, WF_MAX);
	for (size_t i = 0; i < n && i < WF_MAX; i++) {
		const struct exchange_rec *x = w[i].ex;
		if (n > 1)
			fprintf(t->out, "      hop %zu: %s %s\n", i + 1,
				x && x->method ? x->method : "",
				x && x->url ? x->url : "");
		waterfall_text(t, &w[i]);
	}
	if (n > WF_MAX)
		fprintf(t->out, "      (%zu more exchanges not shown)\n",
			n - WF_MAX);
}

/* "[3,4,9]" as "frames 3, 4, 9". */
static void frames_text(FILE *out, const char *packets)
{
	if (!packets || strcmp(packets, "[]") == 0)
		return;
	fputs(" (frames ", out);
	bool first = true;
	for (const char *p = packets; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);
			fprintf(out, "%s%llu", first ? "" : ", ", v);
			first = false;
			p = end - 1;
		}
	}
	fputc(')', out);
}

static void finding_text(const struct tx *t, const struct step_rec *s,
			 const struct finding_rec *f)
{
	fputs("      ", t->out);
	sgr(t, "1");
	fputs(f->code, t->out);
	sgr(t, "0");
	if (s)
		fprintf(t->out, " in step %s", s->name ? s->name : "-");
	frames_text(t->out, f->packets);
	if (f->detail)
		fprintf(t->out, ": %s", f->detail);
	fputc('\n', t->out);
}

static void run_text(const struct tx *t, const struct report *r,
		     const struct run_rec *run)
{
	fprintf(t->out, "  ");
	sgr(t, "1");
	fprintf(t->out, "region %s", run->region ? run->region : "-");
	sgr(t, "0");
	fprintf(t->out, "  run %s  started %s  ", run->run_id,
		run->started_at ? run->started_at : "-");
	sgr(t, run->ok ? "32" : "1;31");
	fputs(run->ok ? "ok" : "FAILED", t->out);
	sgr(t, "0");
	fprintf(t->out, ", %s\n", run->breach ? "threshold breached"
					      : "no threshold breached");
	for (size_t i = 0; i < run->n_thresholds; i++) {
		const struct thresh_rec *h = &run->thresholds[i];
		if (h->breached)
			fprintf(t->out, "    breached: %s (%s %g)\n",
				h->threshold, h->step ? h->step : "run",
				h->value);
	}
	for (size_t i = 0; i < run->n_steps; i++)
		step_text(t, &run->steps[i]);
	size_t nf = run->n_findings;
	for (size_t i = 0; i < run->n_steps; i++)
		nf += run->steps[i].n_findings;
	if (nf) {
		fprintf(t->out, "    findings\n");
		for (size_t i = 0; i < run->n_steps; i++)
			for (size_t k = 0; k < run->steps[i].n_findings; k++)
				finding_text(t, &run->steps[i],
					     &run->steps[i].findings[k]);
		for (size_t k = 0; k < run->n_findings; k++)
			finding_text(t, NULL, &run->findings[k]);
	}
	const struct pcap_rec *p = run->pcap;
	if (p && !p->pruned)
		fprintf(t->out, "    escalation pcap: %s%s%s (%lld bytes, %s, "
				"kept until %s)\n",
			r->o.spool ? r->o.spool : "", r->o.spool ? "/" : "",
			p->path, (long long)p->bytes,
			p->reason ? p->reason : "-",
			p->expires_at ? p->expires_at : "the byte budget says");
	else if (p)
		fprintf(t->out, "    escalation pcap: pruned %s\n",
			p->pruned_at ? p->pruned_at : "");
	fputc('\n', t->out);
}

void report_text(FILE *out, const struct report *r,
		 const struct report_text_opts *o)
{
	struct tx t = { out, o };
	for (size_t i = 0; i < r->n; i++) {
		const struct report_scenario *sc = &r->v[i];
		sgr(&t, "1");
		fprintf(out, "scenario %s", sc->name);
		sgr(&t, "0");
		fprintf(out, "  latest run of %zu region%s\n", sc->n_runs,
			sc->n_runs == 1 ? "" : "s");
		for (size_t k = 0; k < sc->n_runs; k++)
			run_text(&t, r, &sc->runs[k]);
	}
	if (r->n_runs_left_out)
		fprintf(out, "(%zu more scenario/region pairs not shown: "
			     "narrow with --scenario or --region)\n",
			r->n_runs_left_out);
}

/* ---- JSON ---------------------------------------------------------------- */

static void jnum(struct json *j, const char *k, double v)
{
	json_key(j, k);
	json_num(j, v);
}

static void jstr(struct json *j, const char *k, const char *v)
{
	json_key(j, k);
	json_str(j, v);
}

static void waterfall_json(struct json *j, const struct waterfall *w)
{
	const struct exchange_rec *x = w->ex;
	json_obj_begin(j);
	json_key(j, "exchange");
	if (x)
		json_int(j, x->idx);
	else
		json_null(j);
	jstr(j, "method", x ? x->method : NULL);
	jstr(j, "url", x ? x->url : NULL);
	jnum(j, "total_ms", w->total_ms);
	jnum(j, "sum_ms", w->sum_ms);
	json_key(j, "segments");
	json_arr_begin(j);
	for (int k = 0; k < WF_COUNT; k++) {
		if (!w->applies[k])
			continue;
		json_obj_begin(j);
		jstr(j, "segment", wf_seg_info[k].key);
		jstr(j, "figure", wf_seg_info[k].field);
		jstr(j, "clock", wf_seg_info[k].clock);
		jnum(j, "ms", w->ms[k]);
		jnum(j, "start_ms", w->start_ms[k]);
		json_obj_end(j);
	}
	json_arr_end(j);
	jnum(j, "request_ack_ms", x ? x->request_ack_ms : NAN);
	jstr(j, "ack_pattern",
	     x && x->ack_pattern ? run_ack_pattern_names[x->ack_pattern]
				 : NULL);
	jnum(j, "network_ms", w->ms[WF_NETWORK]);
	jnum(j, "server_ms", w->ms[WF_THINK]);
	json_obj_end(j);
}

static void finding_json(struct json *j, const struct step_rec *s,
			 const struct finding_rec *f)
{
	json_obj_begin(j);
	jstr(j, "step", s ? s->name : NULL);
	jstr(j, "code", f->code);
	json_key(j, "packets");
	json_raw(j, f->packets ? f->packets : "[]");
	jstr(j, "detail", f->detail);
	json_obj_end(j);
}

static void run_json(FILE *out, const struct run_rec *run)
{
	struct json j;
	json_init(&j, out);
	json_obj_begin(&j);
	json_key(&j, "seq"), json_int(&j, run->seq);
	jstr(&j, "run_id", run->run_id);
	jstr(&j, "scenario", run->scenario);
	jstr(&j, "region", run->region);
	jstr(&j, "probe_id", run->probe_id);
	jstr(&j, "started_at", run->started_at);
	jstr(&j, "finished_at", run->finished_at);
	json_key(&j, "ok"), json_bool(&j, run->ok);
	json_key(&j, "breach"), json_bool(&j, run->breach);
	jstr(&j, "error", run->error);
	json_key(&j, "steps");
	json_arr_begin(&j);
	for (size_t i = 0; i < run->n_steps; i++) {
		const struct step_rec *s = &run->steps[i];
		json_obj_begin(&j);
		json_key(&j, "idx"), json_int(&j, s->idx);
		jstr(&j, "name", s->name);
		jstr(&j, "kind", run_step_kind_names[s->kind]);
		jstr(&j, "target", s->target);
		json_key(&j, "ok"), json_bool(&j, s->ok);
		json_key(&j, "skipped"), json_bool(&j, s->skipped);
		jstr(&j, "error", s->error);
		jnum(&j, "total_ms", s->total_ms);
		json_key(&j, "waterfalls");
		json_arr_begin(&j);
		struct waterfall w[WF_MAX];
		size_t n = waterfall_of_step(s, w, WF_MAX);
		for (size_t k = 0; k < n && k < WF_MAX; k++)
			waterfall_json(&j, &w[k]);
		json_arr_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "findings");
	json_arr_begin(&j);
	for (size_t i = 0; i < run->n_steps; i++)
		for (size_t k = 0; k < run->steps[i].n_findings; k++)
			finding_json(&j, &run->steps[i],
				     &run->steps[i].findings[k]);
	for (size_t k = 0; k < run->n_findings; k++)
		finding_json(&j, NULL, &run->findings[k]);
	json_arr_end(&j);
	json_key(&j, "breached");
	json_arr_begin(&j);
	for (size_t i = 0; i < run->n_thresholds; i++)
		if (run->thresholds[i].breached)
			json_str(&j, run->thresholds[i].threshold);
	json_arr_end(&j);
	json_key(&j, "pcap");
	if (run->pcap) {
		json_obj_begin(&j);
		jstr(&j, "path", run->pcap->path);
		json_key(&j, "bytes"), json_int(&j, run->pcap->bytes);
		jstr(&j, "sha256", run->pcap->sha256);
		jstr(&j, "expires_at", run->pcap->expires_at);
		json_key(&j, "pruned"), json_bool(&j, run->pcap->pruned);
		json_obj_end(&j);
	} else {
		json_null(&j);
	}
	json_obj_end(&j);
	fputc('\n', out);
}

void report_json(FILE *out, const struct report *r)
{
	for (size_t i = 0; i < r->n; i++)
		for (size_t k = 0; k < r->v[i].n_runs; k++)
			run_json(out, &r->v[i].runs[k]);
}
