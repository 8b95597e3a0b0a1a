/*
 * render_run.c: a run as people read it (a table) and as programs read it
 * (one JSON object, DESIGN section 10).  The JSON keys are the public
 * names: the metric names of section 5 and the store's column names.
 */
#include "cli/render_run.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/json.h"

#define RUN_FORMAT_VERSION 1

/* ---- table ----------------------------------------------------------- */

static void ms_cell(FILE *out, double ms)
{
	if (isnan(ms))
		fprintf(out, " %9s", "-");
	else
		fprintf(out, " %9.2f", ms);
}

static const char *step_result(const struct step_rec *s)
{
	if (s->ok)
		return "ok";
	if (s->skipped)
		return s->error && strcmp(s->error, "skipped") != 0 ? s->error
								     : "skipped";
	return s->error ? s->error : "failed";
}

/* A short line of what the step found, when it did not fail. */
static void step_summary(FILE *out, const struct step_rec *s)
{
	if (!s->ok) {
		fputs(s->error_detail ? s->error_detail : "", out);
		return;
	}
	switch (s->kind) {
	case RUN_KIND_DNS:
		fprintf(out, "rcode %lld", s->rcode == RUN_NULL_INT
						   ? 0LL
						   : (long long)s->rcode);
		if (s->answers && strlen(s->answers) > 2)
			fprintf(out, ", %.60s%s", s->answers,
				strlen(s->answers) > 60 ? "..." : "");
		break;
	case RUN_KIND_TCP:
		for (size_t i = 0; i < s->n_conns; i++)
			fprintf(out, "%s%s -> %s:%lld", i ? ", " : "",
				run_family_names[s->conns[i].family]
					? run_family_names[s->conns[i].family]
					: "?",
				s->conns[i].dst_addr ? s->conns[i].dst_addr
						     : "?",
				(long long)s->conns[i].dst_port);
		break;
	case RUN_KIND_TLS:
		fprintf(out, "%s %s%s%s%s", s->tls_version ? s->tls_version : "",
			s->tls_cipher ? s->tls_cipher : "",
			s->alpn ? " alpn " : "", s->alpn ? s->alpn : "",
			s->tls_resumed == 1 ? " resumed" : "");
		if (s->n_certs)
			fprintf(out, ", leaf expires in %lld days",
				(long long)s->certs[0].days_left);
		break;
	case RUN_KIND_HTTP:
		fprintf(out, "HTTP/%s %lld, %lld bytes",
			s->http_version ? s->http_version : "?",
			(long long)s->status, (long long)s->bytes);
		if (s->n_exchanges > 1)
			fprintf(out, ", %zu hops", s->n_exchanges);
		if (s->conn_state == RUN_CONN_REUSED)
			fputs(", reused connection", out);
		break;
	default:
		break;
	}
}

static void fig(FILE *out, const char *name, double v, bool *first)
{
	if (isnan(v))
		return;
	fprintf(out, "%s%s %.2f ms", *first ? "" : ", ", name, v);
	*first = false;
}

/* Under a step: what its packets said, and its findings. */
static void wire_lines(FILE *out, const struct run_rec *run,
		       const struct step_rec *s)
{
	for (size_t i = 0; i < s->n_exchanges; i++) {
		const struct exchange_rec *x = &s->exchanges[i];
		const struct conn_rec *c = run_rec_conn_by_key(run, x->conn_key);
		if (x->source != RUN_SOURCE_PCAP)
			continue;
		bool first = true;
		fputs("        wire: ", out);
		if (c)
			fig(out, "rtt", c->rtt_ms, &first);
		fig(out, "request_ack", x->request_ack_ms, &first);
		if (x->ack_pattern && !first)
			fprintf(out, " (%s)", run_ack_pattern_names[x->ack_pattern]);
		fig(out, "ttfb", x->ttfb_wire_ms, &first);
		fig(out, "think", x->think_ms, &first);
		if (x->think_quality && !isnan(x->think_ms))
			fprintf(out, " (%s)", run_quality_names[x->think_quality]);
		fig(out, "transfer", x->transfer_ms, &first);
		if (c && c->retrans > 0 && c->retrans != RUN_NULL_INT)
			fprintf(out, ", %lld retransmissions",
				(long long)c->retrans);
		fputc('\n', out);
	}
	if (s->n_exchanges == 0) {
		for (size_t k = 0; k < s->n_conns; k++) {
			const struct conn_rec *c = &s->conns[k];
			if (c->source != RUN_SOURCE_PCAP || isnan(c->rtt_ms))
				continue;
			fprintf(out, "        wire: rtt %.2f ms", c->rtt_ms);
			if (!isnan(c->tls_server_ms))
				fprintf(out, ", tls_server %.2f ms",
					c->tls_server_ms);
			fputc('\n', out);
		}
	}
	for (size_t i = 0; i < s->n_findings; i++)
		fprintf(out, "        %s %s %s\n", s->findings[i].code,
			s->findings[i].packets ? s->findings[i].packets : "",
			s->findings[i].detail ? s->findings[i].detail : "");
}

void render_run_table(FILE *out, const struct run_rec *run)
{
	size_t failed = 0, skipped = 0;
	double total = 0;
	for (size_t i = 0; i < run->n_steps; i++) {
		const struct step_rec *s = &run->steps[i];
		skipped += s->skipped;
		failed += !s->ok && !s->skipped;
		if (!isnan(s->total_ms))
			total += s->total_ms;
	}
	fprintf(out, "%s: %s%s", run->scenario,
		run->ok ? "ok" : run->error ? run->error : "FAILED",
		run->breach ? ", THRESHOLD BREACHED" : "");
	if (failed || skipped)
		fprintf(out, " (%zu failed, %zu skipped of %zu steps)", failed,
			skipped, run->n_steps);
	fprintf(out, "  region %s, run %s, seq %lld, %.1f ms\n", run->region,
		run->run_id, (long long)run->seq, total);
	fprintf(out, "  %-3s %-14s %-4s %-14s %9s %9s %9s %9s %9s  %s\n", "#",
		"STEP", "KIND", "RESULT", "DNS", "CONNECT", "TLS", "TTFB",
		"TOTAL", "DETAIL");
	for (size_t i = 0; i < run->n_steps; i++) {
		const struct step_rec *s = &run->steps[i];
		fprintf(out, "  %-3lld %-14.14s %-4s %-14.14s", (long long)s->idx,
			s->name, run_step_kind_names[s->kind]
					 ? run_step_kind_names[s->kind]
					 : "?",
			step_result(s));
		ms_cell(out, s->dns_ms);
		ms_cell(out, s->connect_ms);
		ms_cell(out, s->tls_ms);
		ms_cell(out, s->ttfb_ms);
		ms_cell(out, s->total_ms);
		fputs("  ", out);
		step_summary(out, s);
		fputc('\n', out);
		wire_lines(out, run, s);
	}
	for (size_t i = 0; i < run->n_thresholds; i++) {
		const struct thresh_rec *t = &run->thresholds[i];
		if (!t->met && !t->note)
			continue; /* held its limit: nothing to say */
		fprintf(out, "  threshold %s: %s", t->threshold,
			t->breached ? "BREACHED"
			: t->met    ? "held (not yet for enough runs)"
				    : "not evaluated");
		if (!isnan(t->value))
			fprintf(out, ", %s%s%s %g vs limit %g",
				t->step ? "step " : "", t->step ? t->step : "",
				t->step ? ":" : "", t->value, t->limit_value);
		if (t->note)
			fprintf(out, " (%s)", t->note);
		fputc('\n', out);
	}
	if (run->pcap && run->pcap->path)
		fprintf(out, "  pcap: %s (%s, %lld bytes)\n", run->pcap->path,
			run->pcap->reason ? run->pcap->reason : "kept",
			(long long)run->pcap->bytes);
	for (size_t i = 0; i < run->n_findings; i++)
		fprintf(out, "  run: %s %s %s\n", run->findings[i].code,
			run->findings[i].packets ? run->findings[i].packets
						 : "",
			run->findings[i].detail ? run->findings[i].detail : "");
}

/* ---- JSON -------------------------------------------------------------- */

static void jnum(struct json *j, const char *k, double v)
{
	json_key(j, k);
	json_num(j, v);
}

static void jint(struct json *j, const char *k, int64_t v)
{
	json_key(j, k);
	if (v == RUN_NULL_INT)
		json_null(j);
	else
		json_int(j, v);
}

static void jstr(struct json *j, const char *k, const char *v)
{
	json_key(j, k);
	json_str(j, v);
}

/* An enum column: its public name, or null. */
static void jenum(struct json *j, const char *k, const char *const *names,
		  unsigned v)
{
	json_key(j, k);
	json_str(j, v ? names[v] : NULL);
}

void render_exchange_json(struct json *j, const struct exchange_rec *e)
{
	json_obj_begin(j);
	jint(j, "idx", e->idx);
	jstr(j, "method", e->method);
	jstr(j, "url", e->url);
	jint(j, "status", e->status);
	jenum(j, "source", run_source_names, e->source);
	jnum(j, "dns_ms", e->dns_ms);
	jnum(j, "connect_ms", e->connect_ms);
	jnum(j, "tls_ms", e->tls_ms);
	jnum(j, "ttfb_ms", e->ttfb_ms);
	jnum(j, "total_ms", e->total_ms);
	jnum(j, "request_ack_ms", e->request_ack_ms);
	jenum(j, "ack_pattern", run_ack_pattern_names, e->ack_pattern);
	jnum(j, "ttfb_wire_ms", e->ttfb_wire_ms);
	jenum(j, "ttfb_wire_quality", run_quality_names, e->ttfb_wire_quality);
	jnum(j, "think_ms", e->think_ms);
	jenum(j, "think_quality", run_quality_names, e->think_quality);
	jnum(j, "transfer_ms", e->transfer_ms);
	jnum(j, "goodput_kbps", e->goodput_kbps);
	jint(j, "server_delayed_ack", e->server_delayed_ack);
	jnum(j, "rtt_ms", e->rtt_ms);
	jnum(j, "request_sent_ms", e->request_sent_ms);
	json_obj_end(j);
}

void render_conn_fields_json(struct json *j, const struct conn_rec *c,
			     bool reused)
{
	jenum(j, "family", run_family_names, c->family);
	jstr(j, "src_addr", c->src_addr);
	jint(j, "src_port", c->src_port);
	jstr(j, "dst_addr", c->dst_addr);
	jint(j, "dst_port", c->dst_port);
	jenum(j, "conn_state", run_conn_state_names,
	      reused ? RUN_CONN_REUSED : c->conn_state);
	jenum(j, "source", run_source_names, c->source);
	jnum(j, "connect_ms", reused ? NAN : c->connect_ms);
	jnum(j, "tls_ms", reused ? NAN : c->tls_ms);
	jnum(j, "rtt_ms", c->rtt_ms);
	jenum(j, "rtt_quality", run_quality_names, c->rtt_quality);
	jint(j, "syn_retrans", c->syn_retrans);
	jnum(j, "tls_server_ms", c->tls_server_ms);
	jint(j, "hrr", c->hrr);
	jint(j, "resumed", c->resumed);
	jint(j, "bytes_in", c->bytes_in);
	jint(j, "bytes_out", c->bytes_out);
	jint(j, "retrans", c->retrans);
	jint(j, "dup_acks", c->dup_acks);
	jint(j, "zero_window", c->zero_window);
	jint(j, "out_of_order", c->out_of_order);
	jint(j, "lost_in", c->lost_in);
	jenum(j, "rst", run_rst_names, c->rst);
	jstr(j, "icmp", c->icmp);
	jint(j, "mss", c->mss);
	jint(j, "wscale", c->wscale);
	jint(j, "sack", c->sack);
}

/* A connection and the exchanges of step s that rode on it. */
static void conn_json(struct json *j, const struct conn_rec *c,
		      const struct step_rec *s, bool reused)
{
	json_obj_begin(j);
	render_conn_fields_json(j, c, reused);
	json_key(j, "exchanges");
	json_arr_begin(j);
	for (size_t i = 0; i < s->n_exchanges; i++)
		if (s->exchanges[i].conn_key == c->key && c->key != 0)
			render_exchange_json(j, &s->exchanges[i]);
	json_arr_end(j);
	json_obj_end(j);
}

static void findings_json(struct json *j, const struct finding_rec *f,
			  size_t n)
{
	json_key(j, "findings");
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++) {
		json_obj_begin(j);
		jstr(j, "code", f[i].code);
		/* packets is already JSON array text */
		json_key(j, "packets");
		json_raw(j, f[i].packets ? f[i].packets : "[]");
		jstr(j, "detail", f[i].detail);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void step_json(struct json *j, const struct run_rec *run,
		      const struct step_rec *s)
{
	json_obj_begin(j);
	jint(j, "idx", s->idx);
	jstr(j, "name", s->name);
	jenum(j, "kind", run_step_kind_names, s->kind);
	jstr(j, "target", s->target);
	json_key(j, "ok"), json_bool(j, s->ok);
	json_key(j, "skipped"), json_bool(j, s->skipped);
	jstr(j, "error", s->error);
	jstr(j, "error_detail", s->error_detail);
	jstr(j, "started_at", s->started_at);
	jnum(j, "dns_ms", s->dns_ms);
	jnum(j, "connect_ms", s->connect_ms);
	jnum(j, "tls_ms", s->tls_ms);
	jnum(j, "ttfb_ms", s->ttfb_ms);
	jnum(j, "total_ms", s->total_ms);
	jint(j, "status", s->status);
	jint(j, "bytes", s->bytes);
	jstr(j, "http_version", s->http_version);
	jstr(j, "tls_version", s->tls_version);
	jstr(j, "tls_cipher", s->tls_cipher);
	jstr(j, "alpn", s->alpn);
	jint(j, "tls_resumed", s->tls_resumed);
	jenum(j, "conn_state", run_conn_state_names, s->conn_state);
	jenum(j, "family", run_family_names, s->family);
	jint(j, "rcode", s->rcode);
	json_key(j, "answers");
	json_raw(j, s->answers ? s->answers : "null");
	json_key(j, "certificates");
	json_arr_begin(j);
	for (size_t i = 0; i < s->n_certs; i++) {
		const struct cert_rec *c = &s->certs[i];
		json_obj_begin(j);
		jint(j, "depth", c->depth);
		jstr(j, "subject", c->subject);
		jstr(j, "issuer", c->issuer);
		jstr(j, "not_after", c->not_after);
		jint(j, "days_left", c->days_left);
		jint(j, "verified", c->verified);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "connections");
	json_arr_begin(j);
	for (size_t i = 0; i < s->n_conns; i++)
		conn_json(j, &s->conns[i], s, false);
	/* connections opened by an earlier step that this one reused */
	for (size_t i = 0; i < s->n_exchanges; i++) {
		uint32_t key = s->exchanges[i].conn_key;
		bool own = key == 0, seen = false;
		for (size_t k = 0; k < s->n_conns && !own; k++)
			own = s->conns[k].key == key;
		for (size_t k = 0; k < i && !own && !seen; k++)
			seen = s->exchanges[k].conn_key == key;
		const struct conn_rec *c = own || seen ? NULL
						       : run_rec_conn_by_key(run, key);
		if (c)
			conn_json(j, c, s, true);
	}
	json_arr_end(j);
	findings_json(j, s->findings, s->n_findings);
	json_obj_end(j);
}

void render_run_json(FILE *out, const struct run_rec *run)
{
	struct json j;
	json_init(&j, out);
	json_obj_begin(&j);
	jint(&j, "format_version", RUN_FORMAT_VERSION);
	jstr(&j, "run_id", run->run_id);
	jint(&j, "seq", run->seq ? run->seq : RUN_NULL_INT);
	jstr(&j, "scenario", run->scenario);
	jstr(&j, "scenario_file", run->scenario_file);
	jstr(&j, "region", run->region);
	jstr(&j, "probe_id", run->probe_id);
	jstr(&j, "probe_version", run->probe_version);
	jstr(&j, "started_at", run->started_at);
	jstr(&j, "finished_at", run->finished_at);
	json_key(&j, "ok"), json_bool(&j, run->ok);
	json_key(&j, "breach"), json_bool(&j, run->breach);
	jstr(&j, "error", run->error);
	jenum(&j, "clock_sync", run_clock_sync_names, run->clock_sync);
	jenum(&j, "capture", run_capture_names, run->capture);
	jint(&j, "capture_drops", run->capture_drops);
	jint(&j, "capture_truncated", run->capture_truncated);
	json_key(&j, "pcap");
	json_str(&j, run->pcap ? run->pcap->path : NULL);
	json_key(&j, "thresholds");
	json_arr_begin(&j);
	for (size_t i = 0; i < run->n_thresholds; i++) {
		const struct thresh_rec *t = &run->thresholds[i];
		json_obj_begin(&j);
		jstr(&j, "threshold", t->threshold);
		jstr(&j, "metric", t->metric);
		jstr(&j, "step", t->step);
		jnum(&j, "value", t->value);
		jnum(&j, "limit", t->limit_value);
		jint(&j, "baseline_n", t->baseline_n);
		json_key(&j, "met"), json_bool(&j, t->met);
		json_key(&j, "breached"), json_bool(&j, t->breached);
		jstr(&j, "note", t->note);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "steps");
	json_arr_begin(&j);
	for (size_t i = 0; i < run->n_steps; i++)
		step_json(&j, run, &run->steps[i]);
	json_arr_end(&j);
	findings_json(&j, run->findings, run->n_findings);
	json_obj_end(&j);
	fputc('\n', out);
}
